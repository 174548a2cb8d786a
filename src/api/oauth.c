/*
 * The OAuth 2.0 / OpenID Connect endpoints of each issuer,
 * <public-url>/t/{tenant}/{system}: discovery, RFC 8414 metadata, JWKS,
 * token, introspection and revocation.
 *
 * These routes are public: clients authenticate themselves at the token,
 * introspection and revocation endpoints (oidc/clientauth.c), never with
 * a ztiam API token.  Bodies are application/x-www-form-urlencoded; a
 * JSON body is refused with invalid_request.  Errors at those endpoints
 * are RFC 6749 5.2 JSON ({"error", "error_description"}), never problem
 * documents, and no answer there may be cached.  An unknown issuer is a
 * 404 problem document, as any unknown path is.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "base/base.h"
#include "oidc/oidc.h"
#include "oidc/flow.h"

/* Discovery documents change only with a release; keys rotate with a
 * propagation delay of minutes, so a minute's caching of the JWKS is
 * safe and saves relying parties most of their fetches. */
#define META_CACHE "public, max-age=300"
#define JWKS_CACHE "public, max-age=60"

/* The public base URL without a trailing slash. */
static void
base_url(char *out, size_t size, zt_req *req)
{
	zt_app *app = zt_req_app(req);
	const char *u = app->public_url ? app->public_url : "http://localhost";
	size_t n = strlen(u);

	while (n > 0 && u[n - 1] == '/')
		n--;
	snprintf(out, size, "%.*s", (int)n, u);
}

bool
api_issuer_of(zt_issuer *iss, zt_req *req)
{
	char base[ZT_PUBLIC_URL_MAX + 1];
	int err;

	base_url(base, sizeof(base), req);
	err = zt_issuer_find(iss, api_db(req), base,
	    zt_req_param(req, "tenant"), zt_req_param(req, "system"));
	if (err == ZT_ENOTFOUND)
		zt_reply_problem(req, 404, "not_found", "no such issuer");
	else if (err < 0)
		zt_reply_error(req, err);
	return err == ZT_OK;
}

/* `text` is the issuer cache's serialized document (borrowed). */
static void
reply_text(zt_req *req, const char *cache, int err, const char *text,
    size_t len)
{
	if (err < 0) {
		zt_reply_error(req, err);
		return;
	}
	zt_reply_header(req, "Cache-Control", cache);
	zt_reply(req, 200, "application/json", text, len);
}

static void
discovery(zt_req *req, bool openid)
{
	const char *text = NULL;
	zt_issuer iss;
	size_t len = 0;
	int err;

	if (!api_issuer_of(&iss, req))
		return;
	/* Where dynamic registration is on, the document names its
	 * endpoint (api/oauth_grants.c); that one is not cached. */
	if (zt_dcr_enabled(api_db(req), &iss)) {
		json_t *doc = NULL;
		char url[ZT_ISSUER_URL_MAX + 16];

		if ((err = zt_issuer_metadata(&doc, &iss, openid)) < 0) {
			zt_reply_error(req, err);
			return;
		}
		snprintf(url, sizeof(url), "%s/register", iss.url);
		json_object_set_new(doc, "registration_endpoint",
		    json_string(url));
		zt_reply_header(req, "Cache-Control", META_CACHE);
		zt_reply_json(req, 200, doc);
		return;
	}
	err = zt_issuer_metadata_text(&text, &len, &iss, openid);
	reply_text(req, META_CACHE, err, text, len);
}

static void
openid_configuration(zt_req *req)
{
	discovery(req, true);
}

static void
oauth_metadata(zt_req *req)
{
	discovery(req, false);
}

static void
jwks(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	const char *text = NULL;
	zt_issuer iss;
	size_t len = 0;
	int err;

	if (!api_issuer_of(&iss, req))
		return;
	err = zt_issuer_jwks_text(&text, &len, api_db(req), app->master_key,
	    &iss);
	reply_text(req, JWKS_CACHE, err, text, len);
}

/* ---- the POST endpoints ------------------------------------------------ */

void
api_no_store(zt_req *req)
{
	zt_reply_header(req, "Cache-Control", "no-store");
	zt_reply_header(req, "Pragma", "no-cache");
}

void
api_oauth_error(zt_req *req, const zt_oauth_error *e, const char *realm)
{
	char challenge[ZT_ISSUER_URL_MAX + 32];

	api_no_store(req);
	if (e->challenge) {
		snprintf(challenge, sizeof(challenge), "Basic realm=\"%s\"",
		    realm);
		zt_reply_header(req, "WWW-Authenticate", challenge);
	} else if (e->status == 401) {
		zt_reply_header(req, "WWW-Authenticate", "Bearer");
	}
	zt_reply_json(req, e->status, json_pack("{s:s, s:s}", "error",
	    e->error, "error_description", e->description));
}

bool
api_form_content_type(const char *ct)
{
	static const char want[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(want) - 1;

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/*
 * Group commit of issued tokens' audit records.  Every token is audited
 * durably before its answer; one transaction (and, on SQLite, one sync)
 * per token caps issuance at the disk's sync rate.  So the token handler
 * mints, queues the answer with its audit record on this worker, and
 * defers the request (zt_req_defer); once the loop has dispatched every
 * request of the current burst, batch_flush appends all the queued
 * records in one transaction, commits, and only then answers each
 * request, or answers all of them server_error when the commit failed
 * (no token leaves unaudited).  BATCH_MAX bounds a batch: a full queue
 * is flushed at once.
 */
#define BATCH_MAX 128

struct pending {
	zt_req *req;		/* deferred */
	json_t *doc;		/* the answer, with the token */
	zt_oauth_audit audit;
	char realm[ZT_ISSUER_URL_MAX + 1];
};

struct batch {
	zt_later later;
	zt_db *db;
	size_t n;
	struct pending item[BATCH_MAX];
};

static _Thread_local struct batch *batch;


static void
batch_flush(void *arg)
{
	struct batch *b = arg;
	zt_oauth_audit *ptr[BATCH_MAX];
	zt_oauth_error e = { 0 };
	size_t i, n = b->n;
	int err;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		ptr[i] = &b->item[i].audit;
	if ((err = zt_oauth_audit_commit(b->db, ptr, n)) < 0) {
		log_error("issued tokens could not be audited; none is "
		    "handed out", ZI("tokens", (long long)n),
		    ZS("error", zt_error_msg()));
		zt_oauth_fail(&e, 500, "server_error", "the token could not "
		    "be issued");
	}
	b->n = 0;
	for (i = 0; i < n; i++) {
		struct pending *p = &b->item[i];

		zt_log_set_request_id(zt_req_id(p->req));
		if (err < 0) {
			json_decref(p->doc);
			api_oauth_error(p->req, &e, p->realm);
		} else {
			api_no_store(p->req);
			zt_reply_json(p->req, 200, p->doc);
		}
		zt_oauth_audit_clear(&p->audit);
		zt_log_set_request_id(NULL);
	}
}

/*
 * Queues the answer `doc` of `req` until its audit record `a` is
 * committed.  Returns false (having taken nothing) when the request
 * cannot be deferred: the caller commits and answers at once.
 */
static bool
batch_add(zt_req *req, json_t *doc, zt_oauth_audit *a, const char *realm)
{
	struct pending *p;
	zt_req *d;

	if (batch == NULL && (batch = calloc(1, sizeof(*batch))) == NULL)
		return false;
	if (batch->n == BATCH_MAX)
		batch_flush(batch);
	if ((d = zt_req_defer(req)) == NULL)
		return false;
	batch->db = api_db(d);
	batch->later.fn = batch_flush;
	batch->later.arg = batch;
	p = &batch->item[batch->n++];
	p->req = d;
	p->doc = doc;
	p->audit = *a;
	snprintf(p->realm, sizeof(p->realm), "%s", realm);
	zt_http_later(d, &batch->later);
	return true;
}

/* Answers with `doc` once its audit record `a` is committed: in a group
 * commit when the request can be deferred, else alone, now. */
static void
reply_issued(zt_req *req, json_t *doc, zt_oauth_audit *a, const char *realm)
{
	zt_oauth_audit *ap = a;
	zt_oauth_error e = { 0 };

	if (batch_add(req, doc, a, realm))
		return;
	if (zt_oauth_audit_commit(api_db(req), &ap, 1) < 0) {
		json_decref(doc);
		zt_oauth_audit_clear(a);
		zt_oauth_fail(&e, 500, "server_error", "the token could not "
		    "be issued");
		api_oauth_error(req, &e, realm);
		return;
	}
	zt_oauth_audit_clear(a);
	api_no_store(req);
	zt_reply_json(req, 200, doc);
}

void
api_oauth_worker_done(void)
{
	free(batch);
	batch = NULL;
}

bool
api_oauth_form(zt_form *f, zt_req *req, const zt_issuer *iss)
{
	zt_oauth_error e = { 0 };
	const char *body;
	size_t len;

	if (!api_form_content_type(zt_req_header(req, "Content-Type"))) {
		zt_oauth_fail(&e, 400, "invalid_request", "the body must be "
		    "application/x-www-form-urlencoded");
		api_oauth_error(req, &e, iss->url);
		return false;
	}
	body = zt_req_body(req, &len);
	if (zt_form_parse(f, body, len) < 0) {
		zt_oauth_fail(&e, 400, "invalid_request", "%s",
		    zt_error_msg());
		api_oauth_error(req, &e, iss->url);
		return false;
	}
	return true;
}

void
api_oauth_post(zt_req *req, const char *name, api_oauth_fn fn, bool issues,
    int status)
{
	char url[ZT_ISSUER_URL_MAX + 32];
	zt_app *app = zt_req_app(req);
	zt_oauth_error e = { 0 };
	zt_oauth_audit audit = { .record = NULL };
	json_t *doc = NULL;
	zt_issuer iss;
	zt_form f;

	if (!api_issuer_of(&iss, req) || !api_oauth_form(&f, req, &iss))
		return;
	snprintf(url, sizeof(url), "%s/%s", iss.url, name);
	zt_oauth_req r = {
		.db = api_db(req), .mk = app->master_key, .iss = &iss,
		.endpoint = url, .method = "POST",
		.authorization = zt_req_header(req, "Authorization"),
		.dpop = zt_req_header(req, "DPoP"),
		.request_id = zt_req_id(req),
		.defer_audit = issues ? &audit : NULL,
		.idcfg = &app->identity,
	};
	if (fn(&doc, &r, &f, &e) < 0) {
		if (e.status >= 500)
			log_warn("oauth endpoint failed", ZS("endpoint", name),
			    ZS("error", e.error), ZS("why", zt_error_msg()));
		zt_oauth_audit_clear(&audit);
		api_oauth_error(req, &e, iss.url);
	} else if (audit.record != NULL) {
		reply_issued(req, doc, &audit, iss.url);
	} else {
		api_no_store(req);
		if (doc != NULL)
			zt_reply_json(req, status, doc);
		else
			zt_reply(req, status, NULL, NULL, 0);
	}
	zt_form_free(&f);
}

static void
token(zt_req *req)
{
	api_oauth_post(req, "token", zt_oauth_token, true, 200);
}

static void
introspect(zt_req *req)
{
	api_oauth_post(req, "introspect", zt_oauth_introspect, false, 200);
}

static int
revoke_fn(json_t **out, const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e)
{
	*out = NULL;
	return zt_oauth_revoke(r, f, e);
}

static void
revoke(zt_req *req)
{
	api_oauth_post(req, "revoke", revoke_fn, false, 200);
}

int
api_oauth_routes(zt_http *srv)
{
	static const struct {
		unsigned methods;
		const char *pattern;
		zt_handler fn;
		const char *name;
	} routes[] = {
#define I "/t/{tenant}/{system}"
		{ ZT_GET, I "/.well-known/openid-configuration",
		  openid_configuration, "oauth.discovery" },
		{ ZT_GET, "/.well-known/oauth-authorization-server" I,
		  oauth_metadata, "oauth.metadata" },
		{ ZT_GET, I "/jwks", jwks, "oauth.jwks" },
		{ ZT_POST, I "/token", token, "oauth.token" },
		{ ZT_POST, I "/introspect", introspect, "oauth.introspect" },
		{ ZT_POST, I "/revoke", revoke, "oauth.revoke" },
#undef I
	};
	size_t i;
	int err;

	for (i = 0; i < ZT_ARRAY_LEN(routes); i++)
		if ((err = zt_http_route(srv, routes[i].methods,
		    routes[i].pattern, routes[i].fn, routes[i].name,
		    ZT_ROUTE_PUBLIC)) < 0)
			return err;
	return ZT_OK;
}
