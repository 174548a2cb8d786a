/*
 * The glue between the HTTP server and the domain: per-worker state (one
 * database connection each), bearer authentication of every non-public
 * route, and the route table.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "audit/audit.h"
#include "base/base.h"

const zt_migration_set *const zt_api_migrations[] = {
	&zt_audit_migrations,
	&zt_authn_migrations,
};
const size_t zt_api_nmigrations = ZT_ARRAY_LEN(zt_api_migrations);

void *
zt_api_worker_init(void *app_arg, int index)
{
	zt_app *app = app_arg;
	zt_worker *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if (zt_db_open(&w->db, app->db_url) < 0) {
		log_error("worker cannot open the database", ZI("worker", index),
		    ZS("error", zt_error_msg()));
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
	zt_db_close(w->db);
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
	err = zt_token_verify(w->db, h, &w->principal);
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

int
zt_api_routes(zt_http *srv)
{
	int err;

	if ((err = api_ops_routes(srv)) < 0 ||
	    (err = api_token_routes(srv)) < 0 ||
	    (err = api_audit_routes(srv)) < 0)
		return err;
	return ZT_OK;
}
