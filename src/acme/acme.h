/*
 * acme: the protocol engine of ztiam's ACME server (RFC 8555), which
 * hands TLS server certificates to certbot, lego and every other ACME
 * client.  It knows nothing of HTTP: api/acme.c feeds it request bodies
 * and renders what it returns.
 *
 * What lives here: the JWS envelope every ACME POST carries (flattened
 * JSON serialisation over jose's compact verifier), single-use nonces,
 * accounts, orders, authorizations and challenges in the database with
 * their state machine, the identifier and CSR checks, and the two
 * validation methods the server performs (http-01 over libcurl,
 * tls-alpn-01 per RFC 8737 over OpenSSL).  Signing is not here: the
 * server issues through the certificate center's gate (ca/ca.h).
 *
 * Every table is keyed by tenant first; each ACME directory belongs to
 * one tenant (docs/acme.md).  Functions return the ZT_* codes of base
 * with a message, and where the failure has an ACME problem type they
 * set *prob as well.
 */
#ifndef ZT_ACME_H
#define ZT_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jose/jose.h"
#include "store/store.h"

/* ---- limits ------------------------------------------------------------- */

/* A request body: a finalize with an 8192-bit RSA CSR is under 6 KiB;
 * jose refuses a compact JWS over ZT_JWS_MAX anyway. */
#define ZT_ACME_BODY_MAX	(ZT_JWS_MAX + 1024)
/* Identifiers in one order; the CA puts at most ZT_CA_NAMES_MAX names in
 * a certificate, so more could never be finalized. */
#define ZT_ACME_IDENTIFIERS_MAX	32
/* Contact URIs on one account, and the length of each. */
#define ZT_ACME_CONTACTS_MAX	4
#define ZT_ACME_CONTACT_LEN	256
/* Ids of accounts, orders, authorizations, challenges: 16 random bytes
 * in base64url (22 characters); nonces and tokens the same, 32 bytes of
 * token as RFC 8555 8.3 asks at least 128 bits. */
#define ZT_ACME_ID_LEN		22
#define ZT_ACME_NONCE_LEN	22
#define ZT_ACME_TOKEN_LEN	43
/* Lifetimes: a nonce lives an hour, an order (and its authorizations)
 * a day, as they do at most public CAs. */
#define ZT_ACME_NONCE_TTL_MS	(3600LL * 1000)
#define ZT_ACME_ORDER_TTL_MS	(86400LL * 1000)
/* A validation is tried at most this often, ZT_ACME_RETRY_MS apart, when
 * the target cannot be reached; a wrong answer fails at once. */
#define ZT_ACME_ATTEMPTS	3
#define ZT_ACME_RETRY_MS	2000
/* A validation connection's bounds: connect, and the whole exchange. */
#define ZT_ACME_CONNECT_TIMEOUT_MS	3000
#define ZT_ACME_TIMEOUT_MS		5000
/* The http-01 body read: a key authorization is 43 + 1 + 43 bytes. */
#define ZT_ACME_HTTP01_BODY_MAX	1024

/* JWS algorithms accepted on requests (RFC 8555 6.2: at least ES256,
 * and EdDSA recommended).  PS256 stays out, since no client uses it. */
#define ZT_ACME_ALGS (ZT_JOSE_ES256 | ZT_JOSE_RS256 | ZT_JOSE_EDDSA)

/* ---- problems (RFC 8555 6.7) -------------------------------------------- */

enum zt_acme_prob {
	ZT_ACME_MALFORMED,
	ZT_ACME_BAD_NONCE,
	ZT_ACME_BAD_SIGNATURE_ALGORITHM,
	ZT_ACME_UNAUTHORIZED,
	ZT_ACME_ACCOUNT_DOES_NOT_EXIST,
	ZT_ACME_REJECTED_IDENTIFIER,
	ZT_ACME_UNSUPPORTED_IDENTIFIER,
	ZT_ACME_BAD_CSR,
	ZT_ACME_ORDER_NOT_READY,
	ZT_ACME_INCORRECT_RESPONSE,
	ZT_ACME_CONNECTION,
	ZT_ACME_TLS,
	ZT_ACME_ALREADY_REVOKED,
	ZT_ACME_BAD_REVOCATION_REASON,
	ZT_ACME_BAD_PUBLIC_KEY,
	ZT_ACME_INVALID_CONTACT,
	ZT_ACME_UNSUPPORTED_CONTACT,
	ZT_ACME_EXTERNAL_ACCOUNT_REQUIRED,
	ZT_ACME_SERVER_INTERNAL,
};

/* "urn:ietf:params:acme:error:malformed" and so on. */
const char *zt_acme_prob_type(enum zt_acme_prob p);
/* The HTTP status that goes with the type (400, 401, 403, 500). */
int zt_acme_prob_status(enum zt_acme_prob p);
/* A problem document {type, detail, status}; new reference. */
json_t *zt_acme_prob_doc(enum zt_acme_prob p, const char *detail);

/* ---- the JWS envelope (RFC 8555 6.2) ------------------------------------ */

typedef struct zt_acme_jws {
	zt_jws jws;		/* header, payload bytes, signature */
	const char *nonce;	/* borrowed from jws.header */
	const char *url;	/* borrowed from jws.header */
	const char *kid;	/* the account URL, or NULL */
	json_t *jwk;		/* borrowed from jws.header, or NULL */
	json_t *payload;	/* the payload object; NULL when empty */
} zt_acme_jws;

/*
 * Takes apart a request body: a JSON object of exactly "protected",
 * "payload" and "signature" (strings; RFC 8555 6.2 forbids the
 * unprotected header and the general serialisation), a protected header
 * with an accepted "alg", a "url", exactly one of "jwk" and "kid", and
 * a "nonce" unless `inner` (the inner JWS of a key change carries none).
 * The payload is empty (POST-as-GET) or a JSON object.  Verifies
 * nothing.  On failure *prob is malformed, or badSignatureAlgorithm for
 * an algorithm outside ZT_ACME_ALGS.  Free with zt_acme_jws_free.
 */
int zt_acme_jws_parse(zt_acme_jws *out, const char *body, size_t len,
    bool inner, enum zt_acme_prob *prob);
/* The same, from a JSON object (the inner JWS of a key change). */
int zt_acme_jws_parse_json(zt_acme_jws *out, json_t *obj, bool inner,
    enum zt_acme_prob *prob);
/* Checks the signature with `key` (alg allowed and fitting the key). */
int zt_acme_jws_verify(const zt_acme_jws *r, const zt_jose_key *key);
void zt_acme_jws_free(zt_acme_jws *r);

/* ---- nonces ------------------------------------------------------------- */

extern const zt_migration_set zt_acme_migrations;

/* A new nonce, stored until used or ZT_ACME_NONCE_TTL_MS passed. */
int zt_acme_nonce_new(zt_db *db, char out[ZT_ACME_NONCE_LEN + 1]);
/* Uses up a nonce: ZT_ENOTFOUND (badNonce) when it is unknown, used or
 * expired.  Single use holds across nodes sharing the database. */
int zt_acme_nonce_use(zt_db *db, const char *nonce);

/* ---- accounts ----------------------------------------------------------- */

/*
 * Account documents: {"id", "status" ("valid", "deactivated"),
 * "contact" [...], "jwk" {...}, "thumbprint", "created_at"}.
 *
 * zt_acme_account_new checks the contacts (mailto: URIs only, without
 * "hfields", at most ZT_ACME_CONTACTS_MAX) and stores the key by its RFC
 * 7638 thumbprint; ZT_EEXISTS with the existing account in *out when the
 * key already has one.
 */
int zt_acme_account_new(json_t **out, zt_db *db, const char *tenant,
    json_t *jwk, json_t *contact, enum zt_acme_prob *prob);
int zt_acme_account_by_key(json_t **out, zt_db *db, const char *tenant,
    const char *thumbprint);
int zt_acme_account_get(json_t **out, zt_db *db, const char *tenant,
    const char *id);
/* Replaces the contacts (when `contact` is non-NULL) and/or deactivates
 * the account; a deactivated account cannot come back (RFC 8555 7.3.6). */
int zt_acme_account_update(json_t **out, zt_db *db, const char *tenant,
    const char *id, json_t *contact, bool deactivate,
    enum zt_acme_prob *prob);
/* Rolls the account over to `jwk` (RFC 8555 7.3.5); ZT_EEXISTS when
 * another account of the tenant holds that key (its id in *other). */
int zt_acme_account_rekey(zt_db *db, const char *tenant, const char *id,
    json_t *jwk, char other[ZT_ACME_ID_LEN + 1]);
/* The ids of the account's orders, newest first, at most `limit`. */
int zt_acme_account_orders(json_t **out, zt_db *db, const char *tenant,
    const char *id, int limit);
/* Parses an account's stored JWK. */
int zt_acme_account_key(zt_jose_key **out, json_t *account);

/* ---- orders, authorizations, challenges --------------------------------- */

/*
 * Checks one identifier {"type": "dns"|"ip", "value": ...} and writes its
 * canonical value (lowercase DNS name; an IP address as inet_ntop gives
 * it) into `out`.  Wildcards are refused (they need dns-01, which this
 * server does not offer): rejectedIdentifier; other types:
 * unsupportedIdentifier.
 */
int zt_acme_identifier_check(json_t *ident, char *out, size_t outlen,
    bool *is_ip, enum zt_acme_prob *prob);

/*
 * A new order of `account` for `identifiers` (1 to
 * ZT_ACME_IDENTIFIERS_MAX, duplicates merged), with one pending
 * authorization per identifier and, for each, an http-01 and (for DNS
 * names) a tls-alpn-01 challenge sharing one token.  One transaction.
 */
int zt_acme_order_new(json_t **out, zt_db *db, const char *tenant,
    const char *account, json_t *identifiers, enum zt_acme_prob *prob);

/*
 * Order documents: {"id", "account", "status" ("pending", "ready",
 * "processing", "valid", "invalid"), "expires" (ms),
 * "identifiers" [...], "authorizations" [ids], "error" {...}?,
 * "serial"?}.  A pending or ready order past its expiry reads as
 * "invalid".
 */
int zt_acme_order_get(json_t **out, zt_db *db, const char *tenant,
    const char *id);
/* The order whose certificate has `serial`, ZT_ENOTFOUND if none. */
int zt_acme_order_by_serial(json_t **out, zt_db *db, const char *tenant,
    const char *serial);
/*
 * Finalizing: zt_acme_order_begin moves a ready order to "processing"
 * (ZT_ECONFLICT when it is not ready, so two finalize requests never
 * both issue); then either zt_acme_order_set_cert stores the issued
 * chain and makes it valid, or zt_acme_order_abort makes it ready again
 * (the issuance was refused).
 */
int zt_acme_order_begin(zt_db *db, const char *tenant, const char *id);
int zt_acme_order_abort(zt_db *db, const char *tenant, const char *id);
int zt_acme_order_set_cert(zt_db *db, const char *tenant, const char *id,
    const char *serial, const char *chain_pem);
/* Marks a ready order invalid with a problem (a refused issuance). */
int zt_acme_order_fail(zt_db *db, const char *tenant, const char *id,
    json_t *problem);
/* The PEM chain of a valid order (free() it). */
int zt_acme_order_cert(char **pem, zt_db *db, const char *tenant,
    const char *id);

/*
 * Authorization documents: {"id", "order", "account", "identifier"
 * {type, value}, "status", "expires", "challenges" [challenge
 * documents]}.  Challenge documents: {"id", "authz", "account", "type",
 * "token", "status", "validated"? (ms), "error"?}.
 */
int zt_acme_authz_get(json_t **out, zt_db *db, const char *tenant,
    const char *id);
int zt_acme_chall_get(json_t **out, zt_db *db, const char *tenant,
    const char *id);

/* The client says it is ready: a pending challenge of a pending
 * authorization becomes "processing" and due for validation now.  A
 * challenge already past pending is left as it is (RFC 8555 7.5.1 lets
 * a client repeat the request). */
int zt_acme_chall_start(zt_db *db, const char *tenant, const char *id);

/* A challenge the validator should try now. */
typedef struct zt_acme_job {
	char tenant[80];
	char id[ZT_ACME_ID_LEN + 1];
	char type[16];			/* "http-01", "tls-alpn-01" */
	char value[256];		/* the identifier */
	bool is_ip;
	char keyauth[ZT_ACME_TOKEN_LEN + 1 + ZT_JOSE_THUMBPRINT_LEN + 1];
	char token[ZT_ACME_TOKEN_LEN + 1];
	int attempts;			/* made before this one */
} zt_acme_job;

/* Claims up to `max` due challenges (so another node or thread leaves
 * them alone for a while) and fills `jobs`; *n is how many. */
int zt_acme_jobs_claim(zt_db *db, zt_acme_job *jobs, size_t max, size_t *n);

/*
 * Records a validation attempt: success makes the challenge and its
 * authorization valid (and the order ready when every authorization
 * is); a failure with `retry` and attempts left makes it due again
 * ZT_ACME_RETRY_MS later; any other failure makes the challenge, its
 * authorization and its order invalid with the problem.
 */
int zt_acme_job_done(zt_db *db, const zt_acme_job *job, bool ok,
    bool retry, enum zt_acme_prob prob, const char *detail);

/* The key authorization of RFC 8555 8.1: token "." thumbprint. */
int zt_acme_keyauth(char *out, size_t outlen, const char *token,
    const zt_jose_key *key);

/* ---- CSR names ---------------------------------------------------------- */

/*
 * Checks that the DER CSR names exactly the order's identifiers: its
 * DNS and IP SANs (and its CN, if any, which must be one of them) as a
 * set equal the identifiers.  badCSR otherwise.  The CA library checks
 * the rest of the CSR (signature, key, extensions) when it issues.
 */
int zt_acme_csr_match(const uint8_t *der, size_t len, json_t *identifiers,
    enum zt_acme_prob *prob);

/* ---- validation (validate.c) -------------------------------------------- */

typedef struct zt_acme_validation {
	int http01_port;	/* 80 */
	int tlsalpn01_port;	/* 443 */
	/* Test only: connect to this address whatever the name resolves to
	 * (docs/acme.md); NULL resolves names normally. */
	const char *resolve;
} zt_acme_validation;

/*
 * Performs one validation attempt of `job`: 0 when the answer is right;
 * otherwise ZT_EFORBIDDEN with *prob incorrectResponse (a wrong answer:
 * final), or ZT_EUNAVAIL with *prob connection or tls (worth a retry).
 * Blocks for at most ZT_ACME_TIMEOUT_MS plus the connect timeout.
 */
int zt_acme_validate(const zt_acme_validation *v, const zt_acme_job *job,
    enum zt_acme_prob *prob);

#endif
