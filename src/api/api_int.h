/* Shared by the handler files of api/; not part of the module's interface. */
#ifndef ZT_API_INT_H
#define ZT_API_INT_H

#include "api/api.h"
#include "ca/ca.h"
#include "oidc/oidc.h"

/* The worker's database and the authenticated principal of `req`. */
static inline zt_db *
api_db(zt_req *req)
{
	return ((zt_worker *)zt_req_worker(req))->db;
}

static inline const zt_principal *
api_principal(zt_req *req)
{
	return &((zt_worker *)zt_req_worker(req))->principal;
}

/* The audit actor for a change made by `req`. */
static inline zt_actor
api_actor(zt_req *req)
{
	const zt_principal *p = api_principal(req);

	return (zt_actor){ p->actor, p->system ? NULL : p->tenant,
	    zt_req_id(req) };
}

/* Reads an optional integer query parameter in [min, max]; replies 400 and
 * returns false when it is malformed. */
bool api_query_int(zt_req *req, const char *name, int64_t min, int64_t max,
    int64_t *out);

/*
 * Fills an identity context for `req`: the worker's connection, the
 * server's identity configuration, the audit actor (kept in *actor, which
 * must outlive *cx) and the caller's scope from its token.
 */
void api_idctx(zt_req *req, zt_id_ctx *cx, zt_actor *actor);
/* Reads If-Match: absent or "*" gives 0 (no check), "\"N\"" gives N.
 * Replies 400 and returns false when it is anything else. */
bool api_if_match(zt_req *req, int64_t *version);
/* Replies with a document, its "version" as a strong ETag. */
void api_reply_doc(zt_req *req, int status, json_t *doc);
/* Replies with `doc` or the error `err` (ZT_ESTALE answers 412 when the
 * caller sent If-Match). */
void api_reply_result(zt_req *req, int err, int status, json_t *doc);
/* Reads ?cursor= and ?limit= (1 to 1000). */
bool api_page(zt_req *req, const char **cursor, int *limit);
/* Decodes the request body by `fields`; on failure replies and returns
 * NULL, else returns the body (the caller decrefs it). */
json_t *api_body(zt_req *req, const zt_json_field *fields, size_t n);

/*
 * The shapes most identity handlers share: read one object of the tenant
 * by the path parameter `param`, list the children of one, or delete one
 * (with If-Match).  Each replies itself.
 */
typedef int (*api_get_fn)(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *id);
typedef int (*api_delete_fn)(const zt_id_ctx *cx, const char *tenant,
    const char *id, int64_t version);
void api_get(zt_req *req, api_get_fn fn, const char *param);
/* Like api_get, but the result is an array, sent as {"items": [...]}. */
void api_get_items(zt_req *req, api_get_fn fn, const char *param);
void api_delete(zt_req *req, api_delete_fn fn, const char *param);

/* ---- the certificate center (api/ca.c) ---------------------------------
 *
 * Every certificate the server signs, whatever protocol asked, goes through
 * api_ca_issue: it states who the caller is, then zt_ca_issue runs the
 * request checks and the server's gate, which judges by that caller.
 * These declarations are stable; the ACME server (api/acme.c) uses them.
 */

/* The server's signing CA (shared, immutable), or NULL when the server
 * has none; then answer 503. */
zt_ca *api_ca(zt_req *req);

/* How the caller proved who it is. */
enum api_ca_via {
	API_CA_TOKEN,	/* a ztiam API token: api_principal(req) */
	API_CA_SVID,	/* a current X.509-SVID over mutual TLS */
	API_CA_ACME,	/* an ACME account that validated the names */
};

typedef struct api_ca_caller {
	enum api_ca_via via;
	/* API_CA_SVID: the SPIFFE ID of the client certificate. */
	const char *spiffe_id;
	/* API_CA_ACME: the account URL or id (the audit actor), and the DNS
	 * names and IP literals whose challenges the account passed; the
	 * gate allows a tls-server certificate for exactly those. */
	const char *acme_account;
	const char *const *validated;
	size_t nvalidated;
} api_ca_caller;

/*
 * Issues one certificate for `r` (tenant, identity, profile, names, TTL;
 * r->caller and r->via are filled here) from `csr` (PEM or DER, `len`
 * bytes) or, with csr NULL, a key generated here.  The gate applies the
 * rules of `who`.  Stores and audits like zt_ca_issue; returns its error
 * (ZT_EINVAL, ZT_ETOOBIG, ZT_EFORBIDDEN with the reason, ZT_EUNAVAIL when
 * the server has no CA).  Does not reply.
 */
int api_ca_issue(zt_ca_issued *out, zt_req *req, const api_ca_caller *who,
    zt_ca_request *r, const uint8_t *csr, size_t len);

/* A row of a handler file's route table. */
struct api_route {
	unsigned methods;
	const char *pattern;
	zt_handler fn;
	const char *name;
};

int api_add_routes(zt_http *srv, const struct api_route *r, size_t n);

int api_ops_routes(zt_http *srv);
int api_identity_routes(zt_http *srv);
int api_group_routes(zt_http *srv);
int api_tenant_routes(zt_http *srv);
int api_token_routes(zt_http *srv);
int api_audit_routes(zt_http *srv);
int api_authn_routes(zt_http *srv);
int api_keys_routes(zt_http *srv);
int api_client_routes(zt_http *srv);
int api_oauth_routes(zt_http *srv);
/*
 * oauth.c: what every endpoint of an issuer (/t/{tenant}/{system}/...)
 * shares.  api_issuer_of finds the issuer of the path, replying 404 (or
 * 500) when there is none.  api_oauth_error replies an RFC 6749 5.2
 * error, no-store, with the WWW-Authenticate challenge of a 401.
 * api_oauth_form reads an application/x-www-form-urlencoded body, or
 * replies invalid_request.  api_oauth_post is a whole client POST: the
 * issuer, the form, `fn`, then its document with `status` (200 with no
 * body when it gives none), or its error; with `issues`, the token's
 * audit record is group-committed before the answer leaves.
 */
typedef int (*api_oauth_fn)(json_t **out, const zt_oauth_req *r,
    const zt_form *f, zt_oauth_error *e);
bool api_issuer_of(zt_issuer *iss, zt_req *req);
void api_no_store(zt_req *req);
void api_oauth_error(zt_req *req, const zt_oauth_error *e,
    const char *realm);
bool api_form_content_type(const char *ct);
bool api_oauth_form(zt_form *f, zt_req *req, const zt_issuer *iss);
void api_oauth_post(zt_req *req, const char *name, api_oauth_fn fn,
    bool issues, int status);
/* oauth_grants.c: PAR, device authorization and page, registration */
int api_oauth_grant_routes(zt_http *srv);
/* Replies a page of the provider (zt_page_render) with its security
 * headers: CSP, no framing, no referrer, no caching. */
void api_page_reply(zt_req *req, int status, const zt_page *p);
/* oidc_pages.c: sign-in, authorization, consent, userinfo, logout */
int api_oidc_page_routes(zt_http *srv);
/* Frees this worker thread's queue of token answers (api/oauth.c). */
void api_oauth_worker_done(void);
/* authz.c: applications, policy stores, decisions */
int api_authz_routes(zt_http *srv);
void api_authz_metrics(zt_app *app, zt_buf *out);
void api_authz_worker_free(zt_worker *w);
int api_ca_routes(zt_http *srv);
int api_acme_routes(zt_http *srv);

#endif
