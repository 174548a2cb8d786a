/*
 * oidc: the OAuth 2.0 / OpenID Connect provider.
 *
 * So far: the registry of clients.  A client belongs to one issuer, that
 * is one account system of one tenant, and is described by the client
 * metadata of RFC 7591 section 2 (with the OpenID Connect Dynamic Client
 * Registration names where OAuth has none).  The registry checks the
 * metadata as a whole when a client is made or changed: redirect URIs
 * that a browser may be sent to (RFC 8252 for native apps, RFC 9700 for
 * the rest), grant and response types that agree, an authentication
 * method that fits the grants.
 *
 * A confidential client gets a secret of 256 random bits, returned once
 * (when made, and when rotated); the registry keeps its SHA-256 only,
 * which suffices for a value of that entropy (no password hashing
 * needed), and compares in constant time.
 *
 * The calls follow the identity module's rules (see identity.h): a
 * zt_id_ctx gives the connection, the audit actor and the caller's scope;
 * a client outside the caller's tenant is ZT_ENOTFOUND; a unit
 * administrator may not manage clients (ZT_EFORBIDDEN); each change is
 * one transaction with its audit record; updates take the version read.
 * No secret or secret hash is ever in a document or an audit record.
 */
#ifndef ZT_OIDC_H
#define ZT_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/base.h"
#include "identity/identity.h"
#include "keys/keys.h"

extern const zt_migration_set zt_oidc_migrations;

/* Client ids: 22 base64url characters (128 random bits). */
#define ZT_CLIENT_ID_LEN	22
/* Secrets: "ztcs_" and 43 base64url characters (256 random bits). */
#define ZT_CLIENT_SECRET_LEN	48
/* Limits on metadata a client may register. */
#define ZT_CLIENT_URIS_MAX	32
#define ZT_CLIENT_URI_MAX	2048
#define ZT_CLIENT_NAME_MAX	200
#define ZT_CLIENT_SCOPE_MAX	1024
#define ZT_CLIENT_JWKS_MAX	(16 * 1024)

/*
 * Checks client metadata and fills in defaults: `in` is the JSON object a
 * caller sent, *out the normal form the registry keeps (fields it does not
 * know are refused).  Exposed for the fuzz harness and for dynamic
 * registration.  ZT_EINVAL names the field at fault.
 */
int zt_client_metadata(json_t **out, json_t *in);

/*
 * Registers a client of `tenant` whose metadata `meta` names its account
 * system ("account_system": the system's name).  The document in *out
 * carries "client_id" and, for a confidential client, "client_secret"
 * (the only time it is shown).
 */
int zt_client_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    json_t *meta);
int zt_client_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *client_id);
/* Every client of the tenant, by client_id (a tenant has tens, not
 * thousands). */
int zt_client_list(json_t **out, const zt_id_ctx *cx, const char *tenant);
/* Replaces the metadata; the account system and the authentication
 * method's kind (with or without a secret) stay. */
int zt_client_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *client_id, json_t *meta, int64_t version);
/* A new secret; the old one stops working at once. */
int zt_client_rotate_secret(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *client_id, int64_t version);
int zt_client_delete(const zt_id_ctx *cx, const char *tenant,
    const char *client_id, int64_t version);

/*
 * True when `secret` is the current secret of the client; false for an
 * unknown client, a client without a secret, or a wrong secret, after the
 * same work in each case.  Reads only.
 */
bool zt_client_secret_ok(zt_db *db, const char *tenant,
    const char *client_id, const char *secret);

/* ==== the provider ======================================================
 *
 * One issuer per account system: <base>/t/<tenant>/<account-system>.
 * Its endpoints so far: discovery and RFC 8414 metadata, the JWKS, the
 * token endpoint (client_credentials, token exchange), introspection and
 * revocation (issuer.c, token.c, introspect.c).  Requests are parsed from
 * application/x-www-form-urlencoded bodies (form.c); clients authenticate
 * with a secret (Basic or in the body) or a private_key_jwt assertion
 * (clientauth.c); DPoP proofs bind access tokens to a key (dpop.c).
 * These calls know nothing of HTTP: the route file (api/oauth.c) hands
 * them the request's header values and body and renders what they give
 * back.  Failures carry the OAuth error of the RFCs in a zt_oauth_error.
 */

extern const zt_migration_set zt_oauth_migrations;

/* An issuer URL: the public base URL (at most 512 bytes) plus the path. */
#define ZT_ISSUER_URL_MAX	(512 + 4 + ZT_TENANT_ID_MAX + ZT_NAME_MAX)
#define ZT_PUBLIC_URL_MAX	512

typedef struct zt_issuer {
	char tenant[ZT_TENANT_ID_MAX + 1];
	char system[ZT_NAME_MAX + 1];
	char system_id[ZT_ID_LEN + 1];
	char url[ZT_ISSUER_URL_MAX + 1];	/* no trailing slash */
} zt_issuer;

/*
 * Finds the issuer of account system `system` of `tenant` and names it
 * under `base` (the public URL, without a trailing slash).  ZT_ENOTFOUND
 * when there is no such system (or the names are not well formed).
 */
int zt_issuer_find(zt_issuer *out, zt_db *db, const char *base,
    const char *tenant, const char *system);
/* The key scope of the issuer's keys of `alg` ("oidc:<t>/<s>" for ES256,
 * "oidc:<t>/<s>@RS256" and "...@EdDSA" for the others). */
void zt_issuer_key_scope(char out[ZT_KEYS_SCOPE_MAX + 1],
    const zt_issuer *iss, zt_jose_alg alg);
/* The discovery document (openid = true) or RFC 8414 metadata. */
int zt_issuer_metadata(json_t **out, const zt_issuer *iss, bool openid);
/* The issuer's JWKS: the keys of every algorithm's scope, an ES256 key
 * made on first use. */
int zt_issuer_jwks(json_t **out, zt_db *db, const zt_master_key *mk,
    const zt_issuer *iss);
/* The same two documents as compact JSON text from this thread's cache
 * of issuers.  *text is borrowed: it stays valid until this thread's next
 * call of a zt_issuer_* function. */
int zt_issuer_metadata_text(const char **text, size_t *len,
    const zt_issuer *iss, bool openid);
int zt_issuer_jwks_text(const char **text, size_t *len, zt_db *db,
    const zt_master_key *mk, const zt_issuer *iss);
/* Frees this thread's cache of issuers (zt_oauth_thread_done calls it). */
void zt_issuer_thread_done(void);

/* ---- form bodies (form.c) ---------------------------------------------- */

/* A token request has a dozen parameters; 64 leaves room for repeated
 * resource and audience values, and bounds the work of a bad body. */
#define ZT_FORM_PARAMS_MAX	64
#define ZT_FORM_BODY_MAX	(64 * 1024)

typedef struct zt_form {
	size_t n;
	struct { char *name, *value; } p[ZT_FORM_PARAMS_MAX];
	char *buf;	/* holds every decoded name and value (owned) */
	size_t cap;
} zt_form;

/*
 * Parses an application/x-www-form-urlencoded body: "&"-separated
 * name=value pairs, "+" for space, %XX escapes; names and values must
 * decode to UTF-8 without control characters.  ZT_EINVAL for anything
 * malformed, ZT_ETOOBIG past the limits.  Free with zt_form_free().
 */
int zt_form_parse(zt_form *out, const char *body, size_t len);
/* The value of `name`, or NULL when absent; an empty value counts as
 * absent (RFC 6749 3.1: "parameters sent without a value MUST be treated
 * as if they were omitted"). */
const char *zt_form_get(const zt_form *f, const char *name);
size_t zt_form_count(const zt_form *f, const char *name);
/* The name of a parameter given twice that may not be (RFC 6749 3.2:
 * every parameter but those in `multi`, a NULL-terminated list), or
 * NULL. */
const char *zt_form_repeated(const zt_form *f, const char *const *multi);
void zt_form_free(zt_form *f);
/* Decodes one form-encoded value of `n` bytes into `out` (`size` bytes,
 * at least n + 1), by the rules above. */
int zt_form_decode(char *out, size_t size, const char *in, size_t n);
/* Appends `s` percent-encoded but for the unreserved characters of
 * RFC 3986 (a form value or a URI query value alike). */
int zt_form_encode(zt_buf *out, const char *s);

/* ---- errors, clients, requests ----------------------------------------- */

typedef struct zt_oauth_error {
	int status;		/* 400, 401, 500, 503 */
	const char *error;	/* "invalid_client", ... */
	char description[200];	/* for error_description; no secrets */
	bool challenge;		/* 401: send WWW-Authenticate: Basic */
} zt_oauth_error;

/* Sets `e` and returns ZT_EINVAL (ZT_ERR for status 500 and up). */
int zt_oauth_fail(zt_oauth_error *e, int status, const char *error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- scopes and resources (scope.c) ---------------------------------- */

/* RFC 8707 allows several resources; a token for more than a few
 * services is a token for too many. */
#define ZT_OAUTH_RESOURCES_MAX	8

/* RFC 6749 3.3: space-separated tokens of printable ASCII but '"' and
 * '\\', single spaces, at most ZT_CLIENT_SCOPE_MAX bytes. */
bool zt_scope_syntax_ok(const char *s);
/* Whether every scope token of `want` is one of `have`'s. */
bool zt_scope_within(const char *want, const char *have);
/* RFC 8707 2: an absolute URI without a fragment. */
bool zt_resource_ok(const char *s);
/*
 * The audience a request asks for: every `resource` parameter (absolute
 * URIs) and, when `audience_ok`, every `audience` (RFC 8693: any
 * string), at most ZT_OAUTH_RESOURCES_MAX.  *out is NULL when none was
 * asked for, a string for one, an array for several; invalid_target
 * otherwise.
 */
int zt_oauth_audience_read(json_t **out, const zt_form *f, bool audience_ok,
    zt_oauth_error *e);

/* A token's audit record waiting for a group commit (see
 * zt_oauth_req.defer_audit). */
typedef struct zt_oauth_audit {
	char actor[ZT_CLIENT_ID_LEN + 16];
	char tenant[ZT_TENANT_ID_MAX + 1];
	char request_id[80];
	json_t *record;		/* owned; NULL when there is none */
} zt_oauth_audit;

/* Appends the records of `n` issued tokens in one transaction and
 * commits: after ZT_OK every one of those tokens may be handed out. */
int zt_oauth_audit_commit(zt_db *db, zt_oauth_audit *const *a, size_t n);
void zt_oauth_audit_clear(zt_oauth_audit *a);

/* What a handler knows of one request to an issuer's endpoint. */
typedef struct zt_oauth_req {
	zt_db *db;
	const zt_master_key *mk;
	const zt_issuer *iss;
	const char *endpoint;	/* this endpoint's URL: assertion aud, htu */
	const char *method;	/* "POST" */
	const char *authorization;	/* the header, or NULL */
	const char *dpop;	/* the DPoP header, or NULL */
	const char *request_id;
	int64_t now;		/* seconds since the epoch; 0: now */
	/* Non-NULL: an issued token's audit record is left here, not
	 * written, and the caller must commit it (zt_oauth_audit_commit)
	 * before the token leaves the server. */
	zt_oauth_audit *defer_audit;
	/* The server's identity settings (trust domain of SPIFFE IDs in
	 * claims); NULL: defaults. */
	const zt_identity_config *idcfg;
} zt_oauth_req;

/* An authenticated client. */
typedef struct zt_oauth_client {
	char id[ZT_CLIENT_ID_LEN + 1];
	const char *method;	/* how it authenticated (its registered one) */
	json_t *meta;		/* its metadata, normal form (owned) */
} zt_oauth_client;

/*
 * Authenticates the client of a request to the token, introspection or
 * revocation endpoint: exactly one of Basic (RFC 6749 2.3.1, id and
 * secret form-urlencoded inside), client_id + client_secret in the body,
 * or client_assertion (RFC 7523, private_key_jwt); the method used must
 * be the client's registered one, and the client must belong to the
 * issuer.  invalid_client (401) for every failure to authenticate,
 * invalid_request for a request that mixes methods.
 */
int zt_oauth_client_auth(zt_oauth_client *out, const zt_oauth_req *r,
    const zt_form *f, zt_oauth_error *e);
void zt_oauth_client_free(zt_oauth_client *c);
/* The client `id` of the issuer, unauthenticated (the authorization
 * endpoint names a client it cannot authenticate).  ZT_ENOTFOUND when it
 * is no client of this issuer. */
int zt_oauth_client_get(zt_oauth_client *out, const zt_oauth_req *r,
    const char *id);
/* Frees this thread's cache of clients (zt_oauth_thread_done calls it). */
void zt_oauth_clients_thread_done(void);

/* ---- single-use values ----------------------------------------------- */

/*
 * A bounded table of values seen (assertion and DPoP proof jti), each
 * kept until its expiry.  zt_replay_seen() records `key` under `ns` until
 * `exp` (seconds) and returns ZT_OK the first time, ZT_EEXISTS after, and
 * ZT_EUNAVAIL when the table is too full to record it (refuse: a value
 * that cannot be remembered cannot be accepted once).  Each process keeps
 * its own table in memory; when `db` is PostgreSQL, which several nodes
 * may share, the value is also recorded in its table oauth_replay, so
 * that a value used on one node is refused on every other.  `db` may be
 * NULL (this process only).
 */
int zt_replay_seen(zt_db *db, const char *ns, const char *key, int64_t exp,
    int64_t now);

/* ---- DPoP (dpop.c) ----------------------------------------------------- */

/* A DPoP proof is fresh for this long around its iat. */
#define ZT_DPOP_WINDOW_S	60

/*
 * Checks the DPoP proof `proof` (RFC 9449 4.3) for a request of `htm` to
 * `htu`: typ dpop+jwt, an asymmetric alg (ES256, RS256, PS256, EdDSA), a
 * public jwk in the header that verifies the signature, htm and htu equal,
 * iat within ZT_DPOP_WINDOW_S of now, a jti not seen before (by any node
 * sharing `db`: zt_replay_seen).  On success
 * `jkt` gets the key's RFC 7638 thumbprint.  invalid_dpop_proof (400).
 */
int zt_dpop_check(char jkt[ZT_JOSE_THUMBPRINT_LEN + 1], zt_db *db,
    const char *proof, const char *htm, const char *htu, int64_t now,
    zt_oauth_error *e);

/* ---- access tokens (token.c) ------------------------------------------ */

/* What an access token says (RFC 9068). */
typedef struct zt_access_spec {
	const char *sub;
	const char *client_id;
	const char *scope;	/* space-separated; NULL or "": no claim */
	json_t *aud;		/* string or array (borrowed) */
	int64_t lifetime_s;
	const char *jkt;	/* DPoP key thumbprint: cnf.jkt; or NULL */
	json_t *act;		/* RFC 8693 actor (borrowed), or NULL */
	json_t *extra;		/* further claims (borrowed), or NULL */
	const char *grant;	/* for the audit record */
} zt_access_spec;

/*
 * Mints an access token of `iss` (typ at+jwt, signed with the issuer's
 * active key of `alg`) into `token`; *claims (may be NULL) gets its
 * claims.  Signs only: see zt_oauth_issue_access().
 */
int zt_oauth_mint_access(zt_buf *token, json_t **claims, zt_db *db,
    const zt_master_key *mk, const zt_issuer *iss, zt_jose_alg alg,
    const zt_access_spec *s);
/*
 * Mints and audits ("oauth.token": client, grant, scope, audience, jti;
 * never the token) in one committed transaction: the caller may hand the
 * token out once this returns ZT_OK.  With r->defer_audit, the record is
 * left there for a group commit instead.
 */
int zt_oauth_issue_access(zt_buf *token, json_t **claims,
    const zt_oauth_req *r, zt_jose_alg alg, const zt_access_spec *s);

/*
 * Checks that `token` is a current access token of `iss`: signed by one
 * of its published keys, typ at+jwt, its iss, not expired, not revoked.
 * ZT_EFORBIDDEN (with a reason) otherwise.  *claims gets the claims.
 */
int zt_oauth_verify_access(json_t **claims, zt_db *db, const zt_issuer *iss,
    const char *token, int64_t now);
/* Frees this thread's caches of issuers and their public keys (at thread
 * exit). */
void zt_oauth_thread_done(void);

/* The token endpoint: authenticates the client, runs the grant, issues.
 * *out is the response body (RFC 6749 5.1). */
int zt_oauth_token(json_t **out, const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e);
/* Introspection (RFC 7662): *out is {"active": false} for anything that
 * is not a current token of this issuer. */
int zt_oauth_introspect(json_t **out, const zt_oauth_req *r,
    const zt_form *f, zt_oauth_error *e);
/* Revocation (RFC 7009): ZT_OK for unknown and invalid tokens too. */
int zt_oauth_revoke(const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e);

/* ---- pages (page.c) ------------------------------------------------------ */

/*
 * The sign-in, second-factor, consent, device-code and error pages: one
 * card with a heading, a line of explanation, an error in plain words,
 * a list, and a form.  Every string is escaped.  Serve each page with
 * zt_page_csp as its Content-Security-Policy and zt_page_css at
 * /assets/ztiam.css.
 */
typedef struct zt_page_input {
	const char *name, *label;
	const char *type;		/* NULL: "text" */
	const char *autocomplete;	/* "username", "current-password", */
	const char *inputmode;		/* "one-time-code"...; "numeric" */
	const char *value;		/* prefilled, or NULL */
	bool required;
} zt_page_input;

typedef struct zt_page_button {
	const char *label;
	const char *name, *value;	/* NULL name: no value sent */
	bool secondary;
} zt_page_button;

typedef struct zt_page_hidden {
	const char *name, *value;
} zt_page_hidden;

typedef struct zt_page {
	const char *title;
	const char *heading;		/* NULL: the title */
	const char *lead, *error, *image_data_uri;	/* each may be NULL */
	const char *const *items;	/* a bulleted list (scopes, say) */
	size_t nitems;
	const char *action;		/* NULL: no form */
	const zt_page_hidden *hidden;
	size_t nhidden;
	const zt_page_input *inputs;	/* the first gets the focus */
	size_t ninputs;
	const zt_page_button *buttons;
	size_t nbuttons;
} zt_page;

extern const char zt_page_csp[];
extern const char zt_page_css[];

/* Appends `s` escaped for HTML text and double-quoted attribute values. */
int zt_html_escape(zt_buf *out, const char *s);
/* Appends the whole page; ZT_ETOOBIG past the buffer's limit. */
int zt_page_render(zt_buf *out, const zt_page *p);

#endif
