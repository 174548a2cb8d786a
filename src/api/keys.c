/*
 * /v1/keys: the server's signing keys, for system administrators only.
 * A list shows each key's kid, algorithm, state, times and public JWK;
 * a rotation runs one step of the two-step rotation (keys.h).  No
 * response carries private material: the domain never returns it.
 */
#include <string.h>

#include "api/api_int.h"
#include "base/base.h"

/* Signing keys serve every tenant, so only a system token sees them; to
 * anyone else the keys do not exist. */
static bool
keys_admin(zt_req *req)
{
	if (api_principal(req)->system)
		return true;
	zt_reply_problem(req, 403, "forbidden", "signing keys are managed by "
	    "system administrators only");
	return false;
}

static void
keys_list(zt_req *req)
{
	json_t *list = NULL;
	int err;

	if (!keys_admin(req))
		return;
	err = zt_keys_list(api_db(req), zt_req_query(req, "scope"), &list);
	api_reply_result(req, err, 200, err ? NULL :
	    json_pack("{s:o}", "items", list));
}

static void
keys_rotate(zt_req *req)
{
	const char *scope = NULL, *alg = "ES256";
	int64_t lifetime = 0;
	zt_keys_policy pol = { 0 };
	zt_actor actor = api_actor(req);
	zt_app *app = zt_req_app(req);
	json_t *body, *doc = NULL;
	int err;

	if (!keys_admin(req))
		return;
	body = api_body(req, (zt_json_field[]){
	    { "scope", ZT_J_STRING, true, &scope, NULL },
	    { "alg", ZT_J_STRING, false, &alg, NULL },
	    { "max_token_lifetime", ZT_J_INT, false, &lifetime, NULL },
	}, 3);
	if (body == NULL)
		return;
	pol.max_token_lifetime_s = lifetime;
	err = zt_jose_alg_parse(alg, &pol.alg);
	if (err == ZT_OK && app->master_key == NULL)
		err = zt_error_set(ZT_EUNAVAIL, "this server has no master "
		    "key");
	if (err == ZT_OK)
		err = zt_keys_rotate(api_db(req), app->master_key, &actor,
		    scope, &pol, &doc);
	json_decref(body);
	api_reply_result(req, err, 200, doc);
}

int
api_keys_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
		{ ZT_GET, "/v1/keys", keys_list, "keys.list" },
		{ ZT_POST, "/v1/keys/rotate", keys_rotate, "keys.rotate" },
	};

	return api_add_routes(srv, routes, ZT_ARRAY_LEN(routes));
}
