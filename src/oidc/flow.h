/*
 * oidc flows: the browser side (authorization endpoint, sign-in pages,
 * sessions, logout) and the grants that hang off it (authorization codes,
 * refresh tokens, device codes, pushed requests).  This header is where
 * the pieces meet; each function says which file owns it.
 */
#ifndef ZT_OIDC_FLOW_H
#define ZT_OIDC_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "authn/authn.h"
#include "oidc/oidc.h"

/* ---- sessions of the sign-in pages (login.c) ----------------------- */

/*
 * The signed-in session of a browser request to `iss`, read from the
 * Cookie header `cookie` (may be NULL): the "__Host-" cookie when the
 * request came over TLS (`tls`), the plain one otherwise.  ZT_ENOTFOUND
 * when there is none, or it is not current, or it belongs to another
 * tenant or account system.
 */
int zt_oidc_session(zt_session *out, zt_db *db, const zt_session_config *cfg,
    const zt_issuer *iss, const char *cookie, bool tls);

/*
 * Appends to `out` the URL of the issuer's sign-in page that sends the
 * browser on to `return_to` once a person has signed in.  `return_to`
 * must be a path under the issuer's own path ("/t/<t>/<s>/device?..."):
 * the page refuses any other, so it cannot become an open redirect.
 */
int zt_oidc_login_url(zt_buf *out, const zt_issuer *iss,
    const char *return_to);

/* ---- refresh tokens (refresh.c) ------------------------------------- */

/* "ztrt_" and 256 random bits in base64url. */
#define ZT_REFRESH_LEN	(5 + 43)

typedef struct zt_refresh_spec {
	const char *client_id;
	const char *identity_id;	/* the subject */
	const char *session_id;		/* the sign-in session, or NULL */
	const char *scope;
	json_t *resource;		/* RFC 8707 audiences (borrowed) */
	const char *jkt;		/* DPoP-bound: its thumbprint */
	int64_t auth_time;		/* seconds */
	const char *family;		/* NULL: start a new family */
} zt_refresh_spec;

/*
 * Issues a refresh token in `family` (a new one when s->family is NULL;
 * `family_out` gets its id) inside the caller's open transaction.  Only
 * its hash is kept.
 */
int zt_refresh_issue(char token[ZT_REFRESH_LEN + 1],
    char family_out[ZT_ID_LEN + 1], zt_db *db, const zt_issuer *iss,
    const zt_refresh_spec *s, int64_t now);

/*
 * Revokes every refresh token of `family` and every access token issued
 * from it (their jti go to the revoked list until they expire).
 */
int zt_refresh_revoke_family(zt_db *db, const char *tenant,
    const char *family, int64_t now);

/*
 * Notes that the access token `jti` (expiring at `exp`) was issued from
 * `family`, so that revoking the family revokes it too.
 */
int zt_refresh_note_access(zt_db *db, const char *tenant, const char *family,
    const char *jti, int64_t exp);

/* ---- the grants' tables and the refresh grant (refresh.c) ------------ */

/* Refresh token families, device codes, pushed requests and dynamic
 * registration settings: a migration set of their own. */
extern const zt_migration_set zt_oauth_grant_migrations;

/* A family lives 30 days by default (refresh_token_lifetime); each of its
 * tokens dies after this long unused (refresh_token_idle_lifetime). */
#define ZT_REFRESH_IDLE_S_DEFAULT	(14 * 86400)

/* What a presented refresh token stands for (zt_refresh_redeem). */
typedef struct zt_refresh_grant {
	char hash[2 * 32 + 1];		/* of the presented token */
	char family[ZT_ID_LEN + 1];
	char identity_id[ZT_ID_LEN + 1];
	char session_id[64];		/* "" when none */
	char jkt[ZT_JOSE_THUMBPRINT_LEN + 1];	/* "" when not bound */
	char *scope;			/* owned */
	json_t *resource;		/* owned; NULL when none */
	int64_t auth_time;
} zt_refresh_grant;

/*
 * Checks the refresh token `token` presented by `client_id` (with the
 * DPoP key `jkt`, or NULL): issued by `iss` to that client, unspent, its
 * family neither revoked nor past its lifetime, the token not idle too
 * long, the DPoP key the family's, the sign-in session (if any) not
 * revoked, the subject still active.  A spent token is reuse: the family
 * and its access tokens are revoked (audited) before the answer.  Every
 * failure is invalid_grant.  Free *out with zt_refresh_grant_free.
 */
int zt_refresh_redeem(zt_refresh_grant *out, zt_db *db,
    const zt_issuer *iss, const char *client_id, const char *token,
    const char *jkt, int64_t now, zt_oauth_error *e);
void zt_refresh_grant_free(zt_refresh_grant *g);

/*
 * Rotation: spends the redeemed token, issues its successor into `token`
 * and notes the access token `jti` (expiring at `exp`) in the family, in
 * one transaction with an "oauth.refresh" audit record.  When another
 * request spent the token first, that is reuse too: the family is revoked
 * and the answer is ZT_ECONFLICT.
 */
int zt_refresh_rotate(char token[ZT_REFRESH_LEN + 1], zt_db *db,
    const zt_issuer *iss, const zt_refresh_grant *g, const char *client_id,
    const char *jti, int64_t exp, int64_t now);

/*
 * A new family for a grant that signed a person in (device code,
 * authorization code): zt_refresh_issue and zt_refresh_note_access in one
 * transaction with an "oauth.refresh" audit record.
 */
int zt_refresh_start(char token[ZT_REFRESH_LEN + 1],
    char family_out[ZT_ID_LEN + 1], zt_db *db, const zt_issuer *iss,
    const zt_refresh_spec *s, const char *jti, int64_t exp, int64_t now);

/*
 * The refresh token `token`, for introspection: *out is its RFC 7662
 * answer when it is a current refresh token of `iss`, else NULL.
 */
int zt_refresh_introspect(json_t **out, zt_db *db, const zt_issuer *iss,
    const char *token, int64_t now);
/*
 * Revocation (RFC 7009) of a refresh token of `client_id`: its whole
 * family goes, audited.  ZT_ENOTFOUND when it is not one (nothing done).
 */
int zt_refresh_revoke_token(zt_db *db, const zt_issuer *iss,
    const char *client_id, const char *token, const char *request_id,
    int64_t now);

/* ---- pushed authorization requests (par.c) --------------------------- */

/*
 * Takes, once, the pushed request `request_uri` of `client_id` at `iss`:
 * `params` gets its parameters (free with zt_form_free).  ZT_ENOTFOUND
 * when it is unknown, used, expired or another client's.
 */
int zt_par_take(zt_form *params, zt_db *db, const zt_issuer *iss,
    const char *client_id, const char *request_uri, int64_t now);

/*
 * True when the client (metadata `meta`, normal form) registered
 * require_pushed_authorization_requests: the authorization endpoint must
 * then refuse a request that does not come through a request_uri of
 * zt_par_take (RFC 9126 6).
 */
bool zt_par_required(json_t *meta);

/* Pushed requests live this long (RFC 9126 2.2 says briefly). */
#define ZT_PAR_LIFETIME_S	60
#define ZT_PAR_URI_PREFIX	"urn:ietf:params:oauth:request_uri:"

/*
 * The pushed authorization request endpoint (RFC 9126 2): authenticates
 * the client as the token endpoint does, checks what can be checked
 * without a browser (client_id, response_type code, a registered
 * redirect_uri, no request_uri inside), keeps the parameters for
 * ZT_PAR_LIFETIME_S and answers {request_uri, expires_in} (HTTP 201).
 */
int zt_par_push(json_t **out, const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e);

/* ---- the device authorization grant (device.c) ----------------------- */

/* User codes: 8 letters of a 20-letter alphabet without vowels (no words,
 * no 0/O or 1/I mix-ups), about 34.6 bits; shown as XXXX-XXXX. */
#define ZT_USER_CODE_LEN	8
#define ZT_DEVICE_LIFETIME_S	600
#define ZT_DEVICE_INTERVAL_S	5

/*
 * The normal form of a user code a person typed: case folded, dashes and
 * spaces dropped; ZT_EINVAL unless that leaves ZT_USER_CODE_LEN letters
 * of the alphabet.
 */
int zt_user_code_normalise(char out[ZT_USER_CODE_LEN + 1], const char *in);

/*
 * The device authorization endpoint (RFC 8628 3.1-3.2): client
 * authentication as at the token endpoint (public clients too), a client
 * registered for the device grant, a scope within its registered one.
 */
int zt_device_authorize(json_t **out, const zt_oauth_req *r,
    const zt_form *f, zt_oauth_error *e);

/*
 * The device grant at the token endpoint (RFC 8628 3.4-3.5): the device
 * code of `client_id`, once approved, fills `out` (subject, scope,
 * resources, session) and is used up.  Before that: authorization_pending,
 * slow_down (polled faster than the interval, which then grows by 5 s),
 * access_denied, expired_token.
 */
int zt_device_redeem(zt_refresh_grant *out, zt_db *db,
    const zt_issuer *iss, const char *client_id, const char *device_code,
    int64_t now, zt_oauth_error *e);

/* A pending device request, for the verification page. */
typedef struct zt_device_info {
	char user_code[ZT_USER_CODE_LEN + 1];	/* normal form */
	char client_id[ZT_CLIENT_ID_LEN + 1];
	char client_name[ZT_CLIENT_NAME_MAX + 1];
	char scope[ZT_CLIENT_SCOPE_MAX + 1];
} zt_device_info;

/* The pending request of the user code `code` (normal form) at `iss`;
 * ZT_ENOTFOUND when there is none (unknown, expired, decided). */
int zt_device_lookup(zt_device_info *out, zt_db *db, const zt_issuer *iss,
    const char *code, int64_t now);

/*
 * The person of session `s` approves (or denies) the pending request of
 * `code`; audited as "oauth.device".  ZT_ENOTFOUND when it is no longer
 * pending.
 */
int zt_device_decide(zt_db *db, const zt_issuer *iss, const char *code,
    bool approve, const zt_session *s, const char *request_id,
    int64_t now);

/* ---- dynamic client registration (dcr.c) ------------------------------ */

/*
 * Whether `iss` accepts dynamic registration (RFC 7591), from a per
 * account system setting.  Reads the database (each thread keeps the
 * answer for a second).
 */
bool zt_dcr_enabled(zt_db *db, const zt_issuer *iss);

/*
 * POST <issuer>/register: `body` is the client metadata (JSON),
 * `authorization` the request's Authorization header (an initial access
 * token as a Bearer token, when the setting wants one).  *status is 201
 * on success, else the HTTP status of the error in `e`
 * (invalid_client_metadata, invalid_redirect_uri, invalid_token).
 */
int zt_dcr_register(json_t **out, zt_db *db, const zt_issuer *iss,
    const char *authorization, const char *body, size_t len,
    const char *request_id, zt_oauth_error *e);

/*
 * The registration setting of account system `system_id` of `tenant`, for
 * administrators: {"enabled", "initial_access_token_required", "version"}.
 * zt_dcr_setting_put replaces it (`version` as identity calls take it);
 * with `new_token`, a new initial access token is made and returned once
 * as "initial_access_token".  Audited as "oauth.registration".
 */
int zt_dcr_setting_get(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *system_id);
int zt_dcr_setting_put(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *system_id, bool enabled,
    bool require_token, int64_t version);

/* ---- the sign-in pages' helpers (login.c) ---------------------------- */

/*
 * A session that passed the password step but still owes a second factor
 * is created with this acr: zt_oidc_session never returns it, only
 * zt_oidc_session_pending does (for the second-factor page).
 */
#define ZT_ACR_PENDING	"pending"
#define ZT_LOGIN_COOKIE	"ztiam_login"

/* The pending (password done, second factor owed) session of `cookie`;
 * ZT_ENOTFOUND when there is none. */
int zt_oidc_session_pending(zt_session *out, zt_db *db,
    const zt_session_config *cfg, const zt_issuer *iss, const char *cookie,
    bool tls);

/* True when `return_to` is a path under the issuer's own path, with no
 * byte that could make a browser read it as another origin. */
bool zt_oidc_return_ok(const zt_issuer *iss, const char *return_to);

/*
 * The value of cookie `name` in the Cookie header `cookie` into `out`
 * (`size` bytes); under TLS the name carries the "__Host-" prefix.
 * NULL when absent or too long.
 */
const char *zt_oidc_cookie_value(char *out, size_t size, const char *cookie,
    const char *name, bool tls);

/*
 * A Set-Cookie value for cookie `name` as zt_session_cookie makes the
 * session's (HttpOnly, SameSite=Lax, Path=/, Secure and "__Host-" under
 * TLS).  `max_age_s` < 0 omits Max-Age.
 */
int zt_oidc_set_cookie(char *out, size_t size, const char *name,
    const char *value, int64_t max_age_s, bool tls);

/*
 * The sign-in form's CSRF token before any session exists: bound to the
 * random value of the ZT_LOGIN_COOKIE cookie (a double-submit token that
 * only a page of this origin can produce).
 */
void zt_login_csrf(char out[ZT_CSRF_LEN + 1], const char *cookie_value);
bool zt_login_csrf_ok(const char *cookie_value, const char *token);

/* ---- the authorization endpoint (authorize.c) ------------------------- */

/* Authorization codes and remembered consents: a migration set. */
extern const zt_migration_set zt_oauth_code_migrations;

/* A code lives a minute (RFC 6749 4.1.2 says at most ten). */
#define ZT_CODE_LIFETIME_S	60
/* A request parked while a person signs in or decides. */
#define ZT_PARK_LIFETIME_S	900
/* "ztac_" and 256 random bits in base64url. */
#define ZT_CODE_LEN		(5 + 43)

/* A checked authorization request (RFC 6749 4.1.1, OIDC Core 3.1.2.1). */
typedef struct zt_authreq {
	zt_oauth_client client;	/* not authenticated: metadata only */
	zt_form params;		/* owns every string below */
	const char *redirect_uri, *state, *nonce, *scope;
	const char *challenge;	/* PKCE S256 code_challenge, or NULL */
	const char *prompt;	/* "none", "login", "consent" or NULL */
	int64_t max_age;	/* -1: none */
	int64_t auth_after;	/* a sign-in at or after this (seconds) */
	bool via_par;		/* came through a pushed request */
	bool first_party;	/* the client asks no consent */
	json_t *resource;	/* RFC 8707 resources, or NULL (owned) */
} zt_authreq;

/*
 * Checks an authorization request with parameters `in` (the query or the
 * form body; taken, and freed here whatever happens).  A request_uri
 * (pushed or parked) replaces the parameters by the ones kept.  When the
 * client or the redirect URI is wrong, *redirectable is false: the error
 * must be shown on a page, never sent to the redirect URI.  Otherwise `e`
 * carries the RFC 6749 4.1.2.1 error for the redirect URI (a->state and
 * a->redirect_uri are set).  Free *a with zt_authreq_free.
 */
int zt_authreq_check(zt_authreq *a, zt_db *db, const zt_issuer *iss,
    zt_form *in, int64_t now, bool *redirectable, zt_oauth_error *e);
void zt_authreq_free(zt_authreq *a);

/*
 * Parks the checked request `a` for ZT_PARK_LIFETIME_S: `uri` gets a
 * request_uri that zt_authreq_check takes once.  `auth_after` > 0 asks the
 * resumed request for a sign-in no older than that.
 */
int zt_authreq_park(char *uri, size_t size, zt_db *db, const zt_issuer *iss,
    const zt_authreq *a, int64_t auth_after, int64_t now);

/*
 * The query that resumes the checked request `a` after a first sign-in
 * (no session existed, so the sign-in that follows is fresh): its own
 * parameters with redirect_uri made explicit, without "prompt=login" and
 * max_age, which that sign-in meets.  Appended to `out`, which a caller
 * bounds.  Only for requests that did not come through a request_uri:
 * those are parked (zt_authreq_park).
 */
int zt_authreq_query(zt_buf *out, const zt_authreq *a);

/* Whether the person `identity` granted client `client_id` every scope of
 * `scope` before; zt_consent_grant remembers that they did (audited). */
int zt_consent_covers(bool *yes, zt_db *db, const zt_issuer *iss,
    const char *identity, const char *client_id, const char *scope);
int zt_consent_grant(zt_db *db, const zt_issuer *iss, const zt_session *s,
    const char *client_id, const char *scope, const char *request_id,
    int64_t now);
/*
 * The consents identity `identity` of `tenant` gave, for administrators:
 * [{"client_id", "account_system_id", "scope", "granted_at"}], by client.
 * ZT_ENOTFOUND when the identity is not in the caller's scope.
 */
int zt_consent_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *identity);
/*
 * Withdraws the consent of `identity` for `client_id`, and with it every
 * refresh token family the client holds for that identity (their access
 * tokens are revoked too; *families says how many), in one transaction
 * with an "oauth.consent.revoke" audit record.  The next authorization
 * request asks again.  ZT_ENOTFOUND when there is no such consent.
 */
int zt_consent_revoke(const zt_id_ctx *cx, const char *tenant,
    const char *identity, const char *client_id, int64_t *families);

/*
 * Issues a code for the request `a` and the session `s`: its hash is kept
 * for ZT_CODE_LIFETIME_S with everything the token endpoint will check
 * and put in the tokens.
 */
int zt_code_issue(char code[ZT_CODE_LEN + 1], zt_db *db,
    const zt_issuer *iss, const zt_authreq *a, const zt_session *s,
    int64_t now);

/*
 * Appends to `out` the redirect URI of `a` with the response parameters:
 * code (or error and error_description), state, and iss (RFC 9207).
 */
int zt_authreq_response(zt_buf *out, const zt_issuer *iss,
    const char *redirect_uri, const char *state, const char *code,
    const zt_oauth_error *e);

/* What a redeemed code stands for. */
typedef struct zt_code_grant {
	zt_refresh_grant rt;		/* subject, scope, resources, ... */
	char hash[2 * 32 + 1];
	char account_id[ZT_ID_LEN + 1];
	char family[ZT_ID_LEN + 1];	/* its access tokens' family */
	char nonce[256];		/* "" when none */
	char acr[16];
	char amr[64];
} zt_code_grant;

/*
 * Redeems `code` for `client_id` (RFC 6749 4.1.3, RFC 7636 4.6): its
 * redirect_uri must equal the authorization request's, `verifier` must
 * match the PKCE challenge (and be absent when there was none).  A code
 * used before is refused, and the tokens issued from it are revoked.
 * Every failure is invalid_grant.  Free with zt_code_grant_free.
 */
int zt_code_redeem(zt_code_grant *out, zt_db *db, const zt_issuer *iss,
    const char *client_id, const char *code, const char *redirect_uri,
    const char *verifier, int64_t now, zt_oauth_error *e);
void zt_code_grant_free(zt_code_grant *g);
/* Records that the code's grant started refresh family `family`, so a
 * replay of the code revokes it too. */
int zt_code_note_family(zt_db *db, const char *tenant, const char *hash,
    const char *family);

/* ---- ID tokens and claims (idtoken.c) ---------------------------------- */

typedef struct zt_id_token_spec {
	const char *sub;
	const char *client_id;
	const char *account_id;	/* for preferred_username, or NULL */
	const char *scope;
	const char *nonce;	/* NULL or "": none */
	const char *sid;	/* the sign-in session, or NULL */
	const char *acr, *amr;	/* amr: space-separated */
	const char *access_token;	/* for at_hash, or NULL */
	int64_t auth_time;	/* seconds */
	int64_t lifetime_s;
} zt_id_token_spec;

/*
 * The claims of identity `sub` that `scope` (space-separated) opens, into
 * `into`: openid gives tenant and account_system; profile name,
 * preferred_username, org_unit, spiffe_id, updated_at; email email and
 * email_verified (from the attributes "email", "email_verified"); groups
 * the names of every group the identity is in.  `idcfg` may be NULL.
 */
int zt_oidc_claims(json_t *into, zt_db *db, const zt_identity_config *idcfg,
    const zt_issuer *iss, const char *sub, const char *account_id,
    const char *scope);

/*
 * Mints an ID token (OpenID Connect Core 2) of `iss` signed with the
 * issuer's key of `alg` into `out`.
 */
int zt_id_token(zt_buf *out, zt_db *db, const zt_master_key *mk,
    const zt_identity_config *idcfg, const zt_issuer *iss, zt_jose_alg alg,
    const zt_id_token_spec *s);

/*
 * Checks that `token` was signed by one of the issuer's keys and names
 * the issuer (an ID token hint: it may have expired).  *claims gets the
 * claims.  ZT_EFORBIDDEN otherwise.
 */
int zt_id_token_hint(json_t **claims, zt_db *db, const zt_issuer *iss,
    const char *token);

#endif
