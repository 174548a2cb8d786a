/*
 * /v1/tenants/{tenant}/clients: the OAuth clients of a tenant's issuers,
 * managed by its administrators.  The body is the client's metadata (RFC
 * 7591 names); PUT replaces it whole, as RFC 7592 does.  A secret is in
 * the answer to the create and to POST .../secret, and nowhere else.
 */
#include "api/api_int.h"
#include "base/base.h"
#include "oidc/oidc.h"

static void
client_create(zt_req *req)
{
	json_t *body, *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if ((body = zt_req_json(req)) == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_client_create(&doc, &cx, zt_req_param(req, "tenant"), body);
	json_decref(body);
	api_reply_result(req, err, 201, doc);
}

static int
list_fn(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *unused)
{
	(void)unused;
	return zt_client_list(out, cx, tenant);
}

static void
client_list(zt_req *req)
{
	api_get_items(req, list_fn, NULL);
}

static void
client_get(zt_req *req)
{
	api_get(req, zt_client_get, "client_id");
}

static void
client_put(zt_req *req)
{
	json_t *body, *doc = NULL;
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version) || (body = zt_req_json(req)) == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_client_update(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "client_id"), body, version);
	json_decref(body);
	api_reply_result(req, err, 200, doc);
}

static void
client_secret(zt_req *req)
{
	json_t *doc = NULL;
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	api_idctx(req, &cx, &actor);
	err = zt_client_rotate_secret(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "client_id"), version);
	api_reply_result(req, err, 200, doc);
}

static void
client_delete(zt_req *req)
{
	api_delete(req, zt_client_delete, "client_id");
}

int
api_client_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
#define T "/v1/tenants/{tenant}"
		{ ZT_POST, T "/clients", client_create, "clients.create" },
		{ ZT_GET, T "/clients", client_list, "clients.list" },
		{ ZT_GET, T "/clients/{client_id}", client_get, "clients.get" },
		{ ZT_PUT, T "/clients/{client_id}", client_put,
		  "clients.update" },
		{ ZT_DELETE, T "/clients/{client_id}", client_delete,
		  "clients.delete" },
		{ ZT_POST, T "/clients/{client_id}/secret", client_secret,
		  "clients.secret" },
#undef T
	};

	return api_add_routes(srv, routes, ZT_ARRAY_LEN(routes));
}
