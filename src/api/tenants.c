/*
 * /v1/tenants and /v1/tenants/{tenant}/account-systems: the isolated spaces
 * and the login namespaces inside them.  Only a system token creates
 * tenants; a tenant token sees its own tenant alone, and another tenant is
 * 404 to it.
 */
#include <string.h>

#include "api/api_int.h"
#include "base/base.h"

static void
tenant_create(zt_req *req)
{
	const char *id = NULL, *display = NULL;
	json_t *body, *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "id", ZT_J_STRING, true, &id, NULL },
	    { "display_name", ZT_J_STRING, false, &display, NULL },
	}, 2);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_tenant_create(&doc, &cx, id, display ? display : id);
	json_decref(body);
	api_reply_result(req, err, 201, doc);
}

static void
tenant_list(zt_req *req)
{
	json_t *list = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_tenant_list(&list, &cx);
	api_reply_result(req, err, 200, err ? NULL :
	    json_pack("{s:o}", "items", list));
}

static void
tenant_get(zt_req *req)
{
	json_t *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_tenant_get(&doc, &cx, zt_req_param(req, "tenant"));
	api_reply_result(req, err, 200, doc);
}

static void
tenant_update(zt_req *req)
{
	const char *display = NULL;
	json_t *body, *doc = NULL;
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	body = api_body(req, (zt_json_field[]){
	    { "display_name", ZT_J_STRING, true, &display, NULL },
	}, 1);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_tenant_update(&doc, &cx, zt_req_param(req, "tenant"),
	    display, version);
	json_decref(body);
	api_reply_result(req, err, 200, doc);
}

/* Deleting a tenant revokes its tokens, so a tenant made again under the
 * same id does not let the old tokens back in.  The two are separate
 * transactions: if the revocation fails, the tokens stay valid but see
 * nothing (the tenant is gone), and the error says so. */
static void
tenant_delete(zt_req *req)
{
	const char *tenant = zt_req_param(req, "tenant");
	int64_t version, n;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	api_idctx(req, &cx, &actor);
	if ((err = zt_tenant_delete(&cx, tenant, version)) == ZT_OK) {
		err = zt_token_revoke_tenant(api_db(req), &actor, tenant, &n);
		zt_api_tokens_changed();
	}
	api_reply_result(req, err, 204, NULL);
}

static void
acctsys_delete(zt_req *req)
{
	api_delete(req, zt_acctsys_delete, "system");
}

/* ---- account systems ------------------------------------------------------ */

static void
acctsys_create(zt_req *req)
{
	zt_acctsys_spec spec = { 0 };
	json_t *body, *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "name", ZT_J_STRING, true, &spec.name, NULL },
	    { "kind", ZT_J_STRING, true, &spec.kind, NULL },
	    { "password_policy", ZT_J_OBJECT, false, &spec.password_policy,
	      NULL },
	    { "mfa_required", ZT_J_BOOL, false, &spec.mfa_required, NULL },
	}, 4);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_acctsys_create(&doc, &cx, zt_req_param(req, "tenant"), &spec);
	json_decref(body);
	api_reply_result(req, err, 201, doc);
}

static void
acctsys_list(zt_req *req)
{
	json_t *list = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_acctsys_list(&list, &cx, zt_req_param(req, "tenant"));
	api_reply_result(req, err, 200, err ? NULL :
	    json_pack("{s:o}", "items", list));
}

static void
acctsys_get(zt_req *req)
{
	api_get(req, zt_acctsys_get, "system");
}

/*
 * PATCH: fields left out keep their values.  The domain call replaces the
 * whole settings, so the current document fills the gaps, and its version
 * guards the read-modify-write when the client sent no If-Match.
 */
static void
acctsys_update(zt_req *req)
{
	const char *tenant = zt_req_param(req, "tenant");
	const char *id = zt_req_param(req, "system");
	bool has_policy, has_mfa;
	zt_acctsys_spec spec = { 0 };
	json_t *body, *cur = NULL, *doc = NULL;
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	body = api_body(req, (zt_json_field[]){
	    { "password_policy", ZT_J_OBJECT, false, &spec.password_policy,
	      &has_policy },
	    { "mfa_required", ZT_J_BOOL, false, &spec.mfa_required, &has_mfa },
	}, 2);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	if ((err = zt_acctsys_get(&cur, &cx, tenant, id)) == ZT_OK) {
		spec.name = json_string_value(json_object_get(cur, "name"));
		spec.kind = json_string_value(json_object_get(cur, "kind"));
		if (!has_policy)
			spec.password_policy = json_object_get(cur,
			    "password_policy");
		if (!has_mfa)
			spec.mfa_required = json_is_true(json_object_get(cur,
			    "mfa_required"));
		if (version == 0)
			version = json_integer_value(json_object_get(cur,
			    "version"));
		err = zt_acctsys_update(&doc, &cx, tenant, id, &spec, version);
	}
	json_decref(cur);
	json_decref(body);
	api_reply_result(req, err, 200, doc);
}

/* The identity that holds `login` in an account system. */
static void
acctsys_login(zt_req *req)
{
	json_t *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_identity_get_by_login(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "system"), zt_req_param(req, "login"));
	api_reply_result(req, err, 200, doc);
}

int
api_tenant_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
		{ ZT_POST, "/v1/tenants", tenant_create, "tenants.create" },
		{ ZT_GET, "/v1/tenants", tenant_list, "tenants.list" },
		{ ZT_GET, "/v1/tenants/{tenant}", tenant_get, "tenants.get" },
		{ ZT_PATCH, "/v1/tenants/{tenant}", tenant_update,
		  "tenants.update" },
		{ ZT_DELETE, "/v1/tenants/{tenant}", tenant_delete,
		  "tenants.delete" },
		{ ZT_POST, "/v1/tenants/{tenant}/account-systems",
		  acctsys_create, "acctsys.create" },
		{ ZT_GET, "/v1/tenants/{tenant}/account-systems",
		  acctsys_list, "acctsys.list" },
		{ ZT_GET, "/v1/tenants/{tenant}/account-systems/{system}",
		  acctsys_get, "acctsys.get" },
		{ ZT_PATCH, "/v1/tenants/{tenant}/account-systems/{system}",
		  acctsys_update, "acctsys.update" },
		{ ZT_DELETE, "/v1/tenants/{tenant}/account-systems/{system}",
		  acctsys_delete, "acctsys.delete" },
		{ ZT_GET, "/v1/tenants/{tenant}/account-systems/{system}"
		  "/logins/{login}", acctsys_login, "identities.by_login" },
	};

	return api_add_routes(srv, routes, ZT_ARRAY_LEN(routes));
}
