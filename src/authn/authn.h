/*
 * authn: proving who a caller is.  Bearer API tokens for the REST API;
 * passwords, TOTP, recovery codes, throttling, sessions and CSRF tokens for
 * people who log in (docs/authn.md).
 *
 * A token is "ztiam_" followed by 256 random bits in base64url.  It is shown
 * once, at creation; the database keeps only its SHA-256 (the token's own
 * entropy makes a slow hash pointless), so a copy of the database grants
 * nothing.  Each token has a scope: the whole system (administrators), one
 * tenant, or one organization unit's subtree in a tenant (delegated
 * administration).  Tokens expire and can be revoked; both take effect on the
 * next request.
 */
#ifndef ZT_AUTHN_H
#define ZT_AUTHN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "identity/identity.h"
#include "store/store.h"

#define ZT_TOKEN_PREFIX "ztiam_"
/* Prefix, 43 base64url characters for 32 bytes, NUL. */
#define ZT_TOKEN_LEN (sizeof(ZT_TOKEN_PREFIX) - 1 + 43)
#define ZT_TOKEN_ID_LEN 16	/* 12 random bytes in base64url */
#define ZT_TENANT_MAX 63	/* as identity's ZT_TENANT_ID_MAX */
#define ZT_UNIT_ID_MAX 32	/* org unit ids are 16 characters today */

/* The authenticated caller of a request. */
typedef struct zt_principal {
	char token_id[ZT_TOKEN_ID_LEN + 1];
	char actor[ZT_TOKEN_ID_LEN + 8];	/* "token:<id>" for audit */
	char tenant[ZT_TENANT_MAX + 1];		/* empty for system scope */
	char unit[ZT_UNIT_ID_MAX + 1];		/* org unit subtree, or empty */
	bool system;				/* may act on every tenant */
	int64_t expires_at;			/* ms, 0 = never */
} zt_principal;

typedef struct zt_token_spec {
	const char *name;	/* a label for people: "ci-deploy" */
	const char *tenant;	/* NULL: system scope */
	const char *unit;	/* NULL, or an org unit: delegated admin of
				 * that subtree (the caller checks that the
				 * unit exists and is within its own scope) */
	int64_t ttl_s;		/* 0: never expires */
} zt_token_spec;

extern const zt_migration_set zt_authn_migrations;

/*
 * Creates a token.  `secret` receives the token text, to be shown once and
 * then wiped by the caller; `*info` the stored description (no secret).
 * Audited.  Only a system principal creates system-scope tokens; a tenant
 * principal creates tokens of its own tenant only.
 */
int zt_token_create(zt_db *db, const zt_actor *actor,
    const zt_principal *who, const zt_token_spec *spec,
    char secret[ZT_TOKEN_LEN + 1], json_t **info);

/* Checks a spec's syntax and `who`'s right to it, before any lookup. */
int zt_token_spec_check(const zt_principal *who, const zt_token_spec *spec);

/* Checks a presented token.  ZT_ENOTFOUND for a token that is malformed,
 * unknown, expired or revoked, with no hint which. */
int zt_token_verify(zt_db *db, const char *token, zt_principal *out);

/* Lists the tokens `who` may see (its tenant's, or all for system). */
int zt_token_list(zt_db *db, const zt_principal *who, json_t **out);
int zt_token_get(zt_db *db, const zt_principal *who, const char *id,
    json_t **out);
/* Revokes a token; audited.  ZT_ENOTFOUND outside `who`'s scope. */
int zt_token_revoke(zt_db *db, const zt_actor *actor,
    const zt_principal *who, const char *id);

/* Revokes every live token of a tenant (after the tenant is deleted);
 * audited as one record.  System principals only. */
int zt_token_revoke_tenant(zt_db *db, const zt_actor *actor,
    const char *tenant, int64_t *count);

/* The principal the server acts as for its own changes. */
void zt_principal_system(zt_principal *out);

/*
 * On the first start (no token exists yet), creates the system
 * administrator's token and returns it in `secret`; *created says whether
 * it did.  Runs in one transaction, so two nodes starting together create
 * one administrator between them.
 */
int zt_bootstrap(zt_db *db, char secret[ZT_TOKEN_LEN + 1], bool *created);

/* ==== people: passwords, one-time codes, throttling, sessions ========== */

/*
 * The functions below take an identity context (identity.h): its
 * connection, audit actor and scope.  An account outside the scope is
 * ZT_ENOTFOUND, as identity's own calls answer.  A change runs in one
 * transaction with its audit record; no password, secret, code or hash
 * ever reaches an audit record, an error message or a log line.
 */

/* The clock of everything below (ms since the epoch).  Tests replace it;
 * NULL restores the wall clock.  Not for use while serving. */
void zt_authn_set_clock(int64_t (*now_ms)(void));

/* ---- passwords (password.c) --------------------------------------------- */

/* Bytes, not characters: bounds the Argon2 input whatever the policy says,
 * so a megabyte "password" costs nothing to refuse. */
#define ZT_PASSWORD_MAX_BYTES	256

/* OWASP's minimum Argon2id configuration: 19 MiB, 2 passes, 1 lane. */
#define ZT_ARGON2_M_DEFAULT	19456
#define ZT_ARGON2_T_DEFAULT	2
#define ZT_ARGON2_P_DEFAULT	1

typedef struct zt_argon2_params {
	uint32_t m_kib;		/* memory, KiB */
	uint32_t t;		/* passes */
	uint32_t p;		/* lanes */
} zt_argon2_params;

/* Room for "$argon2id$v=19$m=4294967295,t=..,p=..$" + salt + hash. */
#define ZT_PHC_MAX 160

/* Hashes `pw` with a fresh 16-byte salt into a PHC string. */
int zt_password_hash(char out[ZT_PHC_MAX], const zt_argon2_params *prm,
    const char *pw, size_t len);
/* ZT_OK when `pw` matches `phc` (libargon2 compares the digests in
 * constant time), ZT_ENOTFOUND when it does not, ZT_EINVAL when `phc` is
 * not an Argon2id PHC string.  *stale (may be NULL) says whether `phc`
 * was made with other parameters than `want` (may be NULL). */
int zt_password_check(const char *phc, const char *pw, size_t len,
    const zt_argon2_params *want, bool *stale);
/* Reads m, t and p out of a PHC string. */
int zt_phc_params(const char *phc, zt_argon2_params *out);

/* What authn reads of an account system's password policy. */
typedef struct zt_pw_policy {
	int64_t min_chars;	/* Unicode code points */
	int64_t max_chars;
	int64_t history;	/* earlier passwords that may not return */
	int64_t lockout;	/* failures before a temporary lock; 0 never */
	zt_argon2_params argon2;
} zt_pw_policy;

/* Reads a policy document (identity's normalised JSON); absent fields
 * take their defaults. */
void zt_pw_policy_from_json(zt_pw_policy *out, json_t *doc);
/* Checks length and the common-password list; ZT_EINVAL naming the rule
 * ("min_length", "max_length", "max_bytes", "common", "utf8"). */
int zt_pw_policy_check(const zt_pw_policy *pol, const char *pw, size_t len);
/* True when `pw` is on the list of common passwords (ASCII letters
 * compared without case). */
bool zt_password_is_common(const char *pw, size_t len);

/* Sets an account's password after the policy and history checks;
 * audited as "password.set" without the password. */
int zt_password_set(const zt_id_ctx *cx, const char *tenant,
    const char *account, const char *pw, size_t len);
/* Removes it (the account can no longer log in with a password). */
int zt_password_delete(const zt_id_ctx *cx, const char *tenant,
    const char *account);

/* ---- throttling (throttle.c) --------------------------------------------- */

/*
 * Failures are counted per (tenant, account system, login name) and per
 * client address in memory, in one bounded table per process.  The first
 * ZT_THROTTLE_FREE failures of a name cost nothing; each one after makes
 * the next attempt wait twice as long, from 1 s up to ZT_THROTTLE_MAX_S;
 * reaching the account system's lockout threshold locks the name for
 * ZT_THROTTLE_MAX_S.  An address gets ZT_THROTTLE_ADDR_FREE free failures
 * (many people share one NAT) before the same doubling.  Known and unknown
 * names are counted alike.
 *
 * The table is per process; with `db` on PostgreSQL the counts are also
 * kept in the table login_throttle, which every node sharing the database
 * reads, so an attacker who reaches N nodes gets no more attempts than
 * with one.  `db` may be NULL (this process only); SQLite is one node.
 * Limit: when the in-memory table is full the least recently touched
 * entry is forgotten, so on a single SQLite node a flood of distinct
 * names can age out a victim's count (docs/authn.md).
 */
#define ZT_THROTTLE_FREE	5
#define ZT_THROTTLE_ADDR_FREE	20
#define ZT_THROTTLE_MAX_S	900
#define ZT_THROTTLE_SLOTS_DEFAULT 65536

typedef struct zt_throttle zt_throttle;

int zt_throttle_new(zt_throttle **out, size_t slots);
void zt_throttle_free(zt_throttle *t);
/* 0 when `key` may try now, else the seconds to wait.  `lockout` is the
 * account system's threshold (0: none); `free_fails` the free failures. */
int64_t zt_throttle_wait(zt_throttle *t, zt_db *db, const char *key,
    int free_fails, int64_t lockout, int64_t now_ms);
void zt_throttle_fail(zt_throttle *t, zt_db *db, const char *key,
    int64_t now_ms);
void zt_throttle_reset(zt_throttle *t, zt_db *db, const char *key);
/* Entries in use (tests, metrics). */
size_t zt_throttle_count(zt_throttle *t);

/* ---- login (login.c) ----------------------------------------------------- */

typedef struct zt_login {
	char identity_id[ZT_ID_LEN + 1];
	char account_id[ZT_ID_LEN + 1];
	char system_id[ZT_ID_LEN + 1];
	bool mfa_required;	/* the account system wants a 2nd factor */
	bool totp_active;	/* the account has a confirmed TOTP */
} zt_login;

/*
 * Checks a login name and password in an account system (by name).
 * ZT_OK fills `out`.  Any failure (unknown tenant, system or name, no
 * password set, wrong password, disabled account, identity not active) is
 * ZT_ENOTFOUND "invalid credentials" after the same Argon2 work; a
 * throttled name or address is ZT_EBUSY "too many attempts, retry after N
 * s" with *retry_after_s = N, whether the name exists or not.  A match
 * whose hash used other parameters than the system's current ones is
 * rehashed in place.  `th` may be NULL (no throttling).
 */
int zt_login_password(zt_login *out, const zt_id_ctx *cx, zt_throttle *th,
    const char *tenant, const char *system_name, const char *login_name,
    const char *pw, size_t len, const char *client_addr,
    int64_t *retry_after_s);

/*
 * The second step: a TOTP code or a recovery code (one of the two, the
 * other NULL) for the account a password step found.  Throttled per
 * account like the password step (5 free failures, then doubling, locked
 * at the account system's threshold).  ZT_ENOTFOUND "invalid code" or
 * ZT_EBUSY "too many attempts, retry after N s".
 */
int zt_login_second_factor(const zt_id_ctx *cx, zt_throttle *th,
    const char *tenant, const char *account, const char *totp_code,
    const char *recovery_code, int64_t *retry_after_s);

/* ---- TOTP and recovery codes (totp.c) ------------------------------------ */

#define ZT_TOTP_STEP_S		30
#define ZT_TOTP_DIGITS		6
#define ZT_TOTP_SECRET_BYTES	20	/* 160 bits (RFC 4226) */
#define ZT_RECOVERY_CODES	10

/* The RFC 6238 code of `secret` at `t` (seconds), SHA-1, `digits` 6-8. */
int zt_totp_code(char *out, size_t outlen, const void *secret, size_t n,
    int64_t t, unsigned digits);

/*
 * Starts (or restarts) enrollment: a new secret, pending until confirmed.
 * `*out` gets {"secret": base32, "uri": "otpauth://...", "qr_svg": "..."};
 * the secret is shown this once.  `issuer` labels the authenticator entry
 * (NULL: the tenant id).  Audited without the secret.
 */
int zt_totp_enroll(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *account, const char *issuer);
/* Activates a pending enrollment with a first valid code. */
int zt_totp_confirm(const zt_id_ctx *cx, const char *tenant,
    const char *account, const char *code);
int zt_totp_delete(const zt_id_ctx *cx, const char *tenant,
    const char *account);
/* Checks a code against the account's active TOTP, one step either side;
 * a code (time step) that passed once never passes again.  ZT_ENOTFOUND
 * "invalid code" for any failure. */
int zt_totp_verify(const zt_id_ctx *cx, const char *tenant,
    const char *account, const char *code);

/* Replaces the account's recovery codes with ZT_RECOVERY_CODES new ones,
 * returned once in `*out` (an array of "xxxxx-xxxxx"). */
int zt_recovery_generate(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *account);
/* Spends one code; ZT_ENOTFOUND "invalid code" when unknown or spent. */
int zt_recovery_use(const zt_id_ctx *cx, const char *tenant,
    const char *account, const char *code);

/* The otpauth:// URI of a secret (exposed for tests and fuzzing). */
int zt_totp_uri(char **out, const char *issuer, const char *label,
    const void *secret, size_t n);
/* An SVG QR code of `text` (malloc'd). */
int zt_qr_svg(char **out, const char *text);

/* ---- sessions and CSRF (session.c) --------------------------------------- */

#define ZT_SESSION_IDLE_S_DEFAULT	(30 * 60)
#define ZT_SESSION_LIFETIME_S_DEFAULT	(12 * 3600)
/* 256 random bits in base64url. */
#define ZT_SESSION_TOKEN_LEN	43
#define ZT_SESSION_ID_LEN	16
#define ZT_SESSION_COOKIE	"ztiam_session"

typedef struct zt_session_config {
	int64_t idle_s;		/* 0: ZT_SESSION_IDLE_S_DEFAULT */
	int64_t lifetime_s;	/* 0: ZT_SESSION_LIFETIME_S_DEFAULT */
} zt_session_config;

typedef struct zt_session_spec {
	const char *identity;
	const char *account;
	const char *acr;	/* NULL: "pwd" or "mfa" from amr */
	const char *amr;	/* space-separated: "pwd otp" */
	const char *client_addr;
	const char *user_agent;
} zt_session_spec;

typedef struct zt_session {
	char id[ZT_SESSION_ID_LEN + 1];	/* public id, not the cookie */
	char tenant[ZT_TENANT_ID_MAX + 1];
	char identity_id[ZT_ID_LEN + 1];
	char account_id[ZT_ID_LEN + 1];
	char acr[16];
	char amr[64];
	int64_t created_at, last_seen, expires_at;	/* ms */
	uint8_t csrf_key[32];
} zt_session;

/* Creates a session; `token` gets the cookie value (shown once, only its
 * SHA-256 is kept).  Audited. */
int zt_session_create(zt_session *out, const zt_id_ctx *cx,
    const zt_session_config *cfg, const char *tenant,
    const zt_session_spec *spec, char token[ZT_SESSION_TOKEN_LEN + 1]);
/* Finds the live session of a cookie value in `tenant` and notes the use
 * (last_seen moves at most once a minute, so a busy page costs no write
 * per request).  ZT_ENOTFOUND when unknown, revoked, idle too long or
 * past its lifetime. */
int zt_session_lookup(zt_session *out, zt_db *db,
    const zt_session_config *cfg, const char *tenant, const char *token);
/* The live sessions of an identity, newest first. */
int zt_session_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *identity);
int zt_session_revoke(const zt_id_ctx *cx, const char *tenant,
    const char *id);
int zt_session_revoke_identity(const zt_id_ctx *cx, const char *tenant,
    const char *identity, int64_t *count);

/* A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, and under TLS
 * Secure with the "__Host-" name prefix.  `max_age_s` < 0 omits Max-Age;
 * 0 with an empty value deletes the cookie. */
int zt_session_cookie(char *out, size_t outlen, const char *value,
    int64_t max_age_s, bool tls);

/* A form token bound to the session: base64url of HMAC-SHA256 under the
 * session's own key over its id and `form` (a form name, or ""). */
#define ZT_CSRF_LEN 43
void zt_csrf_token(char out[ZT_CSRF_LEN + 1], const zt_session *s,
    const char *form);
bool zt_csrf_verify(const zt_session *s, const char *form,
    const char *token);

#endif
