/*
 * jose: JSON Web Signatures, JSON Web Keys and JWT claim checks over
 * OpenSSL 3, for the OpenID Connect provider (ID and access tokens, JWKS,
 * DPoP, private_key_jwt) and the certificate center (JWT-SVIDs).
 *
 * Four algorithms: ES256 (P-256, signature as raw r||s per RFC 7518 3.4),
 * RS256, PS256 (RSA of 2048 to 8192 bits) and EdDSA (Ed25519, RFC 8037).
 * `none` and the HMAC algorithms are not supported at all, so a token
 * naming them never verifies, and a key is only ever used with the
 * algorithm family of its own type: an "HS256" token made with a public
 * key as the secret, or an "RS256" token checked against an EC key, fails.
 *
 * Keys are parsed once into a zt_jose_key; a zt_jose_signer keeps the key
 * ready to sign, so the hot path parses nothing.
 *
 * Return codes: ZT_EINVAL for input that is malformed (bad base64url, bad
 * JSON, an unknown algorithm, a key that is not a key), ZT_EFORBIDDEN for
 * input that is well formed but rejected (signature does not verify,
 * algorithm not allowed or not matching the key, token expired, wrong
 * audience), ZT_ETOOBIG past a size limit.  zt_error_msg() says which;
 * messages never quote a token or key.
 */
#ifndef ZT_JOSE_H
#define ZT_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/base.h"

/* Algorithms, as bits so that a verifier's allow-list is one mask. */
typedef enum zt_jose_alg {
	ZT_JOSE_ES256 = 1 << 0,
	ZT_JOSE_RS256 = 1 << 1,
	ZT_JOSE_PS256 = 1 << 2,
	ZT_JOSE_EDDSA = 1 << 3,
} zt_jose_alg;

#define ZT_JOSE_ALG_ALL \
	(ZT_JOSE_ES256 | ZT_JOSE_RS256 | ZT_JOSE_PS256 | ZT_JOSE_EDDSA)

/* Limits on what is accepted from outside.  A compact JWS beyond 16 KiB
 * is no token we issue or expect; a header beyond 4 KiB cannot be ours
 * either (the largest legitimate one carries an 8192-bit RSA JWK, under
 * 1.5 KiB).  A kid is an opaque label; 128 bytes is plenty. */
#define ZT_JWS_MAX 16384
#define ZT_JWS_HEADER_MAX 4096
#define ZT_JOSE_KID_MAX 128
#define ZT_JOSE_TYP_MAX 64
/* RFC 7638 SHA-256 thumbprint in base64url: 43 characters. */
#define ZT_JOSE_THUMBPRINT_LEN 43

/* "ES256", "RS256", "PS256", "EdDSA"; NULL for anything else. */
const char *zt_jose_alg_name(zt_jose_alg alg);
/* The inverse; ZT_EINVAL for any other name ("none", "HS256", ...). */
int zt_jose_alg_parse(const char *name, zt_jose_alg *out);

/* ---- keys -------------------------------------------------------------- */

/* A parsed key, private or public-only.  Reference-counted: signers hold
 * a reference, so freeing a key a signer still uses is safe. */
typedef struct zt_jose_key zt_jose_key;

/* A new random key for `alg` (RSA: 2048 bits). */
int zt_jose_key_generate(zt_jose_key **out, zt_jose_alg alg);
/* Reads / writes a private key as PKCS#8 DER.  The output buffer holds
 * secret material: zt_buf_free() wipes it. */
int zt_jose_key_from_pkcs8(zt_jose_key **out, const void *der, size_t n);
int zt_jose_key_to_pkcs8(const zt_jose_key *key, zt_buf *out);
/* Reads a public JWK (kty EC/P-256, RSA, OKP/Ed25519).  A JWK carrying
 * private members ("d") is refused, as is an unknown kty or curve. */
int zt_jose_key_from_jwk(zt_jose_key **out, json_t *jwk);
/* The same from JSON text, at most ZT_JWS_HEADER_MAX bytes. */
int zt_jose_key_from_jwk_text(zt_jose_key **out, const char *text,
    size_t len);
void zt_jose_key_free(zt_jose_key *key);
bool zt_jose_key_is_private(const zt_jose_key *key);
/* True when `alg` may be used with this key's type. */
bool zt_jose_key_fits(const zt_jose_key *key, zt_jose_alg alg);
/* The OpenSSL key (borrowed), for callers that sign other things with
 * it, such as certificates. */
struct evp_pkey_st *zt_jose_key_pkey(const zt_jose_key *key);

/* The public JWK of `key`: kty, crv, x, y / n, e; plus kid, alg and use
 * when non-NULL/non-zero.  Never private members.  New reference. */
int zt_jose_key_jwk(json_t **out, const zt_jose_key *key, const char *kid,
    zt_jose_alg alg, const char *use);
/* RFC 7638 thumbprint (SHA-256, base64url) of the public key. */
int zt_jose_thumbprint(char out[ZT_JOSE_THUMBPRINT_LEN + 1],
    const zt_jose_key *key);

/* Appends the public JWK of `key` to a JWKS document {"keys": [...]}
 * (made with json_pack("{s:[]}", "keys")). */
int zt_jose_jwks_add(json_t *jwks, const zt_jose_key *key, const char *kid,
    zt_jose_alg alg, const char *use);

/* ---- signing ----------------------------------------------------------- */

/*
 * A signer: a private key, an algorithm and a kid, made ready once.  One
 * signer is used by one thread at a time (it keeps a prepared context);
 * make one per thread for parallel signing.
 */
typedef struct zt_jose_signer zt_jose_signer;

/* `kid` may be NULL (no kid header).  Takes its own reference to key. */
int zt_jose_signer_new(zt_jose_signer **out, zt_jose_key *key,
    zt_jose_alg alg, const char *kid);
void zt_jose_signer_free(zt_jose_signer *s);
const char *zt_jose_signer_kid(const zt_jose_signer *s);	/* or NULL */
zt_jose_alg zt_jose_signer_alg(const zt_jose_signer *s);

/* Appends a compact JWS of `payload` to `out`, with the header
 * {"alg","kid","typ"} (typ left out when NULL). */
int zt_jose_sign(zt_buf *out, zt_jose_signer *s, const char *typ,
    const void *payload, size_t len);
/* The same for a JSON claims object, serialised compactly. */
int zt_jose_sign_json(zt_buf *out, zt_jose_signer *s, const char *typ,
    json_t *claims);

/* ---- verifying --------------------------------------------------------- */

/* A compact JWS taken apart, not yet trusted. */
typedef struct zt_jws {
	zt_jose_alg alg;
	char kid[ZT_JOSE_KID_MAX + 1];	/* "" when absent */
	char typ[ZT_JOSE_TYP_MAX + 1];	/* "" when absent */
	json_t *header;		/* the whole header (owned); e.g. its "jwk" */
	char *payload;		/* decoded, NUL-terminated (owned) */
	size_t payload_len;
	/* private to jose.c */
	char *input;		/* "header.payload", the signed bytes */
	size_t input_len;
	uint8_t *sig;
	size_t sig_len;
} zt_jws;

/*
 * Splits and decodes a compact JWS: three base64url parts, a header that
 * is a JSON object without duplicate members, a supported "alg", no
 * "crit" (we understand no extension), no "b64"; "kid" and "typ" strings
 * within their limits.  Verifies nothing.  Free with zt_jws_free().
 */
int zt_jws_parse(zt_jws *out, const char *token, size_t len);
/* Checks the signature with `key`; `allowed` is a mask of algorithms.
 * The token's alg must be allowed and fit the key's type. */
int zt_jws_verify(const zt_jws *jws, const zt_jose_key *key,
    unsigned allowed);
void zt_jws_free(zt_jws *jws);

/* ---- JWT claims -------------------------------------------------------- */

typedef struct zt_jwt_expect {
	const char *iss;	/* required and equal, when non-NULL */
	const char *aud;	/* must be "aud" or in it, when non-NULL */
	const char *typ;	/* header typ, compared without case and with
				 * an optional "application/" prefix */
	int64_t now;		/* seconds since the epoch; 0 = now */
	int64_t leeway_s;	/* clock skew allowed on exp, nbf, iat */
	bool require_exp;
	bool require_iat;
	int64_t max_age_s;	/* iat no older than this (DPoP); 0 = any */
} zt_jwt_expect;

/*
 * Parses the payload as a JSON object of claims and checks them: exp
 * (now < exp + leeway), nbf (nbf <= now + leeway), iat (not in the
 * future beyond leeway; within max_age_s), iss, aud, typ.  Numeric dates
 * must be integers.  On success *claims (if non-NULL) gets the object.
 */
int zt_jwt_check(const zt_jws *jws, const zt_jwt_expect *e,
    json_t **claims);
/* The date checks of zt_jwt_check alone (exp, nbf, iat, max_age_s), for
 * claims that passed zt_jwt_check before and are checked again later. */
int zt_jwt_check_times(const json_t *claims, const zt_jwt_expect *e);

#endif
