/*
 * /v1/tokens: create (the secret is in the 201 response and nowhere else),
 * list, read and revoke API tokens.  A tenant token sees only its tenant's
 * tokens; anything else is 404, never 403, so it cannot probe.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "base/base.h"

/* A token's tenant must exist and be the caller's to see; a delegated
 * token's unit must lie within the caller's own scope.  Outside it, either
 * does not exist. */
static int
tenant_in_scope(zt_req *req, const char *tenant, const char *unit)
{
	zt_actor actor;
	zt_id_ctx cx;
	json_t *doc;
	int err;

	api_idctx(req, &cx, &actor);
	if (unit)
		err = zt_unit_get(&doc, &cx, tenant, unit);
	else
		err = zt_tenant_get(&doc, &cx, tenant);
	if (err == ZT_OK)
		json_decref(doc);
	return err;
}

static void
token_create(zt_req *req)
{
	char secret[ZT_TOKEN_LEN + 1], location[64];
	zt_token_spec spec = { 0 };
	zt_actor actor = api_actor(req);
	json_t *body, *info = NULL;
	int err;

	if ((body = zt_req_json(req)) == NULL)
		return;
	err = zt_json_decode(body, (zt_json_field[]){
	    { "name", ZT_J_STRING, true, &spec.name, NULL },
	    { "tenant", ZT_J_STRING, false, &spec.tenant, NULL },
	    { "unit_id", ZT_J_STRING, false, &spec.unit, NULL },
	    { "expires_in", ZT_J_INT, false, &spec.ttl_s, NULL },
	}, 4);
	if (err == ZT_OK)
		err = zt_token_spec_check(api_principal(req), &spec);
	if (err == ZT_OK && spec.tenant)
		err = tenant_in_scope(req, spec.tenant, spec.unit);
	if (err == ZT_OK)
		err = zt_token_create(api_db(req), &actor, api_principal(req),
		    &spec, secret, &info);
	json_decref(body);
	if (err < 0) {
		zt_reply_error(req, err);
		return;
	}
	json_object_set_new(info, "token", json_string(secret));
	zt_wipe(secret, sizeof(secret));
	snprintf(location, sizeof(location), "/v1/tokens/%s",
	    json_string_value(json_object_get(info, "id")));
	zt_reply_header(req, "Location", location);
	zt_reply_json(req, 201, info);
}

static void
token_list(zt_req *req)
{
	json_t *list;
	int err;

	if ((err = zt_token_list(api_db(req), api_principal(req), &list)) < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 200, json_pack("{s:o}", "items", list));
}

static void
token_get(zt_req *req)
{
	json_t *doc;
	int err;

	err = zt_token_get(api_db(req), api_principal(req),
	    zt_req_param(req, "id"), &doc);
	if (err < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 200, doc);
}

static void
token_revoke(zt_req *req)
{
	zt_actor actor = api_actor(req);
	int err;

	err = zt_token_revoke(api_db(req), &actor, api_principal(req),
	    zt_req_param(req, "id"));
	if (err == ZT_OK)
		zt_api_tokens_changed();
	if (err < 0)
		zt_reply_error(req, err);
	else
		zt_reply_empty(req, 204);
}

int
api_token_routes(zt_http *srv)
{
	int err;

	if ((err = zt_http_route(srv, ZT_POST, "/v1/tokens", token_create,
	    "tokens.create", 0)) < 0 ||
	    (err = zt_http_route(srv, ZT_GET, "/v1/tokens", token_list,
	    "tokens.list", 0)) < 0 ||
	    (err = zt_http_route(srv, ZT_GET, "/v1/tokens/{id}", token_get,
	    "tokens.get", 0)) < 0 ||
	    (err = zt_http_route(srv, ZT_DELETE, "/v1/tokens/{id}",
	    token_revoke, "tokens.revoke", 0)) < 0)
		return err;
	return ZT_OK;
}
