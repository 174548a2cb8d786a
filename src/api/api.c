/*
 * The glue between the HTTP server and the domain: per-worker state (one
 * database connection each), bearer authentication of every non-public
 * route, and the route table.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "audit/audit.h"
#include "acme/acme.h"
#include "authz/authz.h"
#include "base/base.h"
#include "oidc/oidc.h"
#include "oidc/flow.h"

const zt_migration_set *const zt_api_migrations[] = {
	&zt_audit_migrations,
	&zt_authn_migrations,
	&zt_identity_migrations,
	&zt_keys_migrations,
	&zt_oidc_migrations,
	&zt_oauth_migrations,
	&zt_oauth_grant_migrations,
	&zt_oauth_code_migrations,
	&zt_ca_migrations,
	&zt_acme_migrations,
	&zt_authz_migrations,
};
const size_t zt_api_nmigrations = ZT_ARRAY_LEN(zt_api_migrations);

/*
 * Each worker remembers the tokens it verified for TOKEN_CACHE_TTL_MS, so a
 * busy client costs one SHA-256 and no database read per request.  A
 * revocation on this node bumps token_epoch and every worker drops its
 * entries at once; a revocation made on another node of a PostgreSQL
 * cluster takes effect here within the TTL.  Expiry is checked on every
 * hit.  The table is direct-mapped by hash: a collision just evicts.
 */
#define TOKEN_CACHE_SLOTS 512
#define TOKEN_CACHE_TTL_MS 1000

struct token_slot {
	uint8_t hash[ZT_SHA256_LEN];
	zt_principal principal;
	int64_t verified_at;
	uint64_t epoch;
	bool used;
};

struct api_token_cache {
	struct token_slot slot[TOKEN_CACHE_SLOTS];
};

static _Atomic uint64_t token_epoch = 1;

void
zt_api_tokens_changed(void)
{
	atomic_fetch_add(&token_epoch, 1);
}

static int
token_verify_cached(zt_worker *w, const char *token, zt_principal *out)
{
	uint8_t hash[ZT_SHA256_LEN];
	uint64_t epoch = atomic_load(&token_epoch);
	int64_t now = zt_now_ms();
	struct token_slot *s;
	int err;

	zt_sha256(hash, token, strlen(token));
	s = &w->tokens->slot[(hash[0] | hash[1] << 8) % TOKEN_CACHE_SLOTS];
	if (s->used && s->epoch == epoch && now - s->verified_at <
	    TOKEN_CACHE_TTL_MS && zt_ct_equal(s->hash, hash, sizeof(hash)) &&
	    (s->principal.expires_at == 0 || s->principal.expires_at > now)) {
		*out = s->principal;
		return ZT_OK;
	}
	if ((err = zt_token_verify(w->db, token, out)) < 0)
		return err;
	memcpy(s->hash, hash, sizeof(hash));
	s->principal = *out;
	s->verified_at = now;
	s->epoch = epoch;
	s->used = true;
	return ZT_OK;
}

void *
zt_api_worker_init(void *app_arg, int index)
{
	zt_app *app = app_arg;
	zt_worker *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->tokens = calloc(1, sizeof(*w->tokens))) == NULL) {
		free(w);
		return NULL;
	}
	if (zt_db_open(&w->db, app->db_url) < 0) {
		log_error("worker cannot open the database", ZI("worker", index),
		    ZS("error", zt_error_msg()));
		free(w->tokens);
		free(w);
		return NULL;
	}
	return w;
}

void
zt_api_worker_fini(void *app, void *worker)
{
	zt_worker *w = worker;

	if (w == NULL)
		return;
	api_authz_worker_free(w);
	zt_db_close(w->db);
	zt_keys_thread_done();
	zt_oauth_thread_done();
	api_oauth_worker_done();
	zt_wipe(w->tokens, sizeof(*w->tokens));
	free(w->tokens);
	free(w);
}

static void
reply_unauthorized(zt_req *req, const char *why)
{
	zt_reply_header(req, "WWW-Authenticate",
	    "Bearer realm=\"ztiam\", error=\"invalid_token\"");
	zt_reply_problem(req, 401, "unauthorized", "%s", why);
}

/* Checks "Authorization: Bearer <token>".  The token never reaches a log
 * line or an error message, whatever its shape. */
bool
zt_api_auth(zt_req *req)
{
	zt_worker *w = zt_req_worker(req);
	const char *h = zt_req_header(req, "Authorization");
	int err;

	memset(&w->principal, 0, sizeof(w->principal));
	if (h == NULL) {
		reply_unauthorized(req, "an Authorization: Bearer token is "
		    "required");
		return false;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		reply_unauthorized(req, "only Bearer tokens are accepted");
		return false;
	}
	for (h += 7; *h == ' '; h++)
		;
	err = token_verify_cached(w, h, &w->principal);
	if (err == ZT_ENOTFOUND) {
		reply_unauthorized(req, "the token is invalid, expired or "
		    "revoked");
		return false;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		return false;
	}
	return true;
}

bool
api_query_int(zt_req *req, const char *name, int64_t min, int64_t max,
    int64_t *out)
{
	const char *v = zt_req_query(req, name);

	if (v == NULL)
		return true;
	if (zt_parse_i64(v, min, max, out) < 0) {
		zt_reply_problem(req, 400, "invalid_parameter", "query parameter "
		    "\"%s\" must be an integer from %lld to %lld", name,
		    (long long)min, (long long)max);
		return false;
	}
	return true;
}

void
api_idctx(zt_req *req, zt_id_ctx *cx, zt_actor *actor)
{
	const zt_principal *p = api_principal(req);
	zt_app *app = zt_req_app(req);

	*actor = api_actor(req);
	*cx = (zt_id_ctx){
		.db = api_db(req),
		.cfg = &app->identity,
		.actor = actor,
		.scope = {
			.tenant = p->system ? NULL : p->tenant,
			.unit = p->unit[0] ? p->unit : NULL,
		},
	};
}

bool
api_if_match(zt_req *req, int64_t *version)
{
	const char *h = zt_req_header(req, "If-Match");
	char digits[24];
	size_t n;

	*version = 0;
	if (h == NULL || strcmp(h, "*") == 0)
		return true;
	n = strlen(h);
	if (n >= 3 && n < sizeof(digits) && h[0] == '"' && h[n - 1] == '"') {
		memcpy(digits, h + 1, n - 2);
		digits[n - 2] = '\0';
		if (zt_parse_i64(digits, 1, INT64_MAX, version) == ZT_OK)
			return true;
	}
	zt_reply_problem(req, 400, "invalid_precondition", "If-Match must be "
	    "an ETag this server sent, such as \"3\"");
	return false;
}

void
api_reply_doc(zt_req *req, int status, json_t *doc)
{
	json_t *v = json_object_get(doc, "version");
	char etag[32];

	if (json_is_integer(v)) {
		snprintf(etag, sizeof(etag), "\"%lld\"",
		    (long long)json_integer_value(v));
		zt_reply_header(req, "ETag", etag);
	}
	zt_reply_json(req, status, doc);
}

void
api_reply_result(zt_req *req, int err, int status, json_t *doc)
{
	if (err == ZT_ESTALE)
		zt_reply_problem(req, 412, "precondition_failed", "%s",
		    zt_error_msg());
	else if (err < 0)
		zt_reply_error(req, err);
	else if (doc == NULL)
		zt_reply_empty(req, status);
	else
		api_reply_doc(req, status, doc);
}

void
api_get(zt_req *req, api_get_fn fn, const char *param)
{
	json_t *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = fn(&doc, &cx, zt_req_param(req, "tenant"),
	    param ? zt_req_param(req, param) : NULL);
	api_reply_result(req, err, 200, doc);
}

void
api_get_items(zt_req *req, api_get_fn fn, const char *param)
{
	json_t *list = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = fn(&list, &cx, zt_req_param(req, "tenant"),
	    param ? zt_req_param(req, param) : NULL);
	api_reply_result(req, err, 200, err ? NULL :
	    json_pack("{s:o}", "items", list));
}

void
api_delete(zt_req *req, api_delete_fn fn, const char *param)
{
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	api_idctx(req, &cx, &actor);
	err = fn(&cx, zt_req_param(req, "tenant"), zt_req_param(req, param),
	    version);
	api_reply_result(req, err, 204, NULL);
}

bool
api_page(zt_req *req, const char **cursor, int *limit)
{
	int64_t n = 0;

	*cursor = zt_req_query(req, "cursor");
	if (!api_query_int(req, "limit", 1, ZT_PAGE_MAX, &n))
		return false;
	*limit = (int)n;
	return true;
}

json_t *
api_body(zt_req *req, const zt_json_field *fields, size_t n)
{
	json_t *body;

	if ((body = zt_req_json(req)) == NULL)
		return NULL;
	if (zt_json_decode(body, fields, n) < 0) {
		zt_reply_problem(req, 400, "invalid_request", "%s",
		    zt_error_msg());
		json_decref(body);
		return NULL;
	}
	return body;
}

int
api_add_routes(zt_http *srv, const struct api_route *r, size_t n)
{
	size_t i;
	int err;

	for (i = 0; i < n; i++)
		if ((err = zt_http_route(srv, r[i].methods, r[i].pattern,
		    r[i].fn, r[i].name, 0)) < 0)
			return err;
	return ZT_OK;
}

int
zt_api_routes(zt_http *srv)
{
	int err;

	if ((err = api_ops_routes(srv)) < 0 ||
	    (err = api_keys_routes(srv)) < 0 ||
	    (err = api_token_routes(srv)) < 0 ||
	    (err = api_audit_routes(srv)) < 0 ||
	    (err = api_tenant_routes(srv)) < 0 ||
	    (err = api_identity_routes(srv)) < 0 ||
	    (err = api_group_routes(srv)) < 0 ||
	    (err = api_authn_routes(srv)) < 0 ||
	    (err = api_client_routes(srv)) < 0 ||
	    (err = api_oauth_routes(srv)) < 0 ||
	    (err = api_oauth_grant_routes(srv)) < 0 ||
	    (err = api_oidc_page_routes(srv)) < 0 ||
	    (err = api_ca_routes(srv)) < 0 ||
	    (err = api_acme_routes(srv)) < 0 ||
	    (err = api_authz_routes(srv)) < 0)
		return err;
	return ZT_OK;
}
