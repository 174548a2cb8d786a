/*
 * keys: the server's signing keys, kept in the database and encrypted at
 * rest under a master key.
 *
 * Keys belong to a scope, a label chosen by the module that signs:
 * "oidc:<tenant>/<account-system>" for an OpenID provider,
 * "jwt-svid:<trust-domain>" for JWT-SVIDs.  In a scope, at most one key
 * is active (it signs), at most one is prepared (published, not yet
 * signing, so that relying parties fetch it before it is used), and any
 * number are retired (no longer signing, still published until every
 * token they signed has expired: publish_until).
 *
 * A rotation is two steps.  The first makes a prepared key; the second,
 * called by hand or due once the propagation delay has passed, activates
 * it and retires the previous active key.  A scope's very first key is
 * active at once: nobody can hold an older key of it.  Every step appends
 * an audit record in its own transaction; the record names the key by
 * kid, never its material.
 *
 * The private key is stored as PKCS#8 DER sealed with AES-256-GCM under
 * the master key (a random 96-bit nonce per key; additional data = scope
 * and kid, so a sealed key moved to another row does not open).  Each row
 * names the master key it was sealed under by a short fingerprint, so a
 * server given the wrong master key says so instead of "tampered".
 *
 * Signing looks a scope's signer up in a per-thread cache.  Any rotation
 * made by this process bumps an epoch that empties every thread's cache;
 * a rotation made by another server sharing the database is seen after at
 * most ZT_KEYS_CACHE_TTL_MS.
 */
#ifndef ZT_KEYS_H
#define ZT_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "jose/jose.h"
#include "store/store.h"

#define ZT_MASTER_KEY_LEN 32
/* A scope: "kind:rest", 3 to 255 bytes of [A-Za-z0-9._~:/@-]. */
#define ZT_KEYS_SCOPE_MAX 255
#define ZT_KEYS_CACHE_TTL_MS 10000
/* How long a retired key stays published when the caller names no
 * token lifetime: a day covers every token ztiam issues today. */
#define ZT_KEYS_DEFAULT_PUBLISH_S 86400

typedef struct zt_master_key {
	uint8_t key[ZT_MASTER_KEY_LEN];
	char id[17];	/* hex fingerprint, stored beside each sealed key */
} zt_master_key;

extern const zt_migration_set zt_keys_migrations;

/* ---- the master key ---------------------------------------------------- */

/* From the 43-character base64url text of 32 bytes. */
int zt_master_key_from_text(zt_master_key *mk, const char *text);
/* From a file holding that text.  Refuses a file that group or others may
 * read or write (ZT_EFORBIDDEN), or that is not a regular file. */
int zt_master_key_load(zt_master_key *mk, const char *path);
/* Makes a new random key and writes it to `path` (mode 0600, created
 * exclusively: ZT_EEXISTS when the file exists). */
int zt_master_key_create(zt_master_key *mk, const char *path);
void zt_master_key_wipe(zt_master_key *mk);

/* Seals / opens a private key (exposed for tests).  `out` gets
 * base64url(version || nonce || ciphertext || tag). */
int zt_keys_seal(zt_buf *out, const zt_master_key *mk, const char *scope,
    const char *kid, const void *plain, size_t n);
/* ZT_EFORBIDDEN when the sealed key does not open: wrong master key
 * (named by `mk_id`, the fingerprint stored with the key) or tampering. */
int zt_keys_open(zt_buf *out, const zt_master_key *mk, const char *mk_id,
    const char *scope, const char *kid, const char *sealed);

/* ---- keys in a scope ----------------------------------------------------- */

/* What the signing module says about its scope. */
typedef struct zt_keys_policy {
	zt_jose_alg alg;		/* of the first key, and of rotations */
	int64_t propagation_s;		/* prepared -> active after this;
					 * 0: only by zt_keys_rotate() */
	int64_t max_token_lifetime_s;	/* retired keys stay published this
					 * long; 0: ZT_KEYS_DEFAULT_PUBLISH_S */
} zt_keys_policy;

/* Checks a scope's syntax (ZT_EINVAL). */
int zt_keys_scope_check(const char *scope);

/* Makes sure `scope` has an active key, creating one of pol->alg the
 * first time; also activates a prepared key whose delay has passed. */
int zt_keys_ensure(zt_db *db, const zt_master_key *mk,
    const zt_actor *actor, const char *scope, const zt_keys_policy *pol);

/*
 * One rotation step.  With a prepared key: activates it and retires the
 * active one (*out->"step" = "activated").  Without: makes a prepared key
 * of pol->alg ("prepared"), or an active one when the scope has none
 * ("created").  *out (may be NULL) gets {"step", "key": description}.
 */
int zt_keys_rotate(zt_db *db, const zt_master_key *mk, const zt_actor *actor,
    const char *scope, const zt_keys_policy *pol, json_t **out);

/* Descriptions of the keys of `scope` (NULL: every scope), newest first:
 * {"scope","kid","alg","state","created_at","activated_at","retired_at",
 * "publish_until","public_jwk"}.  No private material. */
int zt_keys_list(zt_db *db, const char *scope, json_t **out);

/* The JWKS of `scope`: prepared, active, and retired keys until their
 * publish_until.  Each JWK has kid, alg and "use": "sig". */
int zt_keys_jwks(zt_db *db, const char *scope, json_t **out);

/*
 * The signer of the scope's active key, from this thread's cache (loading
 * it, and zt_keys_ensure() first when the scope has no key).  Borrowed:
 * valid on this thread until its next zt_keys_signer() call or
 * zt_keys_thread_done().  Its kid is zt_jose_signer_kid().
 */
int zt_keys_signer(zt_jose_signer **out, zt_db *db, const zt_master_key *mk,
    const char *scope, const zt_keys_policy *pol);
/* ---- keys a module makes itself --------------------------------------- */

/*
 * The CA (api/ca.c) makes its own keys, of types JOSE does not name, and
 * keeps a certificate beside each; it stores them here so they are sealed
 * like every other signing key.  Stores `pkcs8` (DER) sealed under `mk`
 * as `kid` of `scope` in `state` ("active" or "prepared"), with `label`
 * in the alg column and `public_doc` (a JSON object's text, listed by
 * zt_keys_list as "public_jwk") beside it, and appends "key.create" or
 * "key.prepare" in the same transaction.  ZT_EEXISTS when the scope has a
 * key in that state already, or that kid.  Rotation (zt_keys_rotate with
 * a prepared key) activates such a key like any other.
 */
int zt_keys_store_sealed(zt_db *db, const zt_master_key *mk,
    const zt_actor *actor, const char *scope, const char *kid,
    const char *label, const char *state, const char *public_doc,
    const void *pkcs8, size_t n);
/* Replaces the public document of `kid` (a CA's certificate, once an
 * upstream CA signed it); audited as "key.update".  ZT_ENOTFOUND. */
int zt_keys_set_public(zt_db *db, const zt_actor *actor, const char *scope,
    const char *kid, const char *public_doc);
/* Opens the key `kid` of `scope` into `pkcs8` (DER; the caller wipes and
 * frees it).  ZT_ENOTFOUND, or ZT_EFORBIDDEN when it does not open. */
int zt_keys_load_sealed(zt_buf *pkcs8, zt_db *db, const zt_master_key *mk,
    const char *scope, const char *kid);

/* Frees this thread's cache (call at thread exit). */
void zt_keys_thread_done(void);
/* Makes every thread reload its signers (called by rotations). */
void zt_keys_changed(void);
/* The epoch zt_keys_changed moves: a cache of something derived from
 * keys (a serialized JWKS) that saw another value is stale. */
uint64_t zt_keys_epoch(void);

/* ---- keys in a PKCS#11 token (pkcs11.c) ---------------------------------- */

/*
 * Loads the private key at `uri` (RFC 7512, e.g.
 * "pkcs11:token=ca;object=intermediate;type=private") through the PKCS#11
 * module at `module` (e.g. /usr/lib/softhsm/libsofthsm2.so), logging in
 * with `pin` (NULL: no login).  The EVP_PKEY signs inside the token; its
 * private half cannot be read out.  One module per process.  ZT_EUNAVAIL
 * when the engine or module is missing, ZT_ENOTFOUND for no such key or a
 * wrong PIN.  A PIN inside the URI is refused (URIs reach logs).
 */
int zt_keys_pkcs11_load(EVP_PKEY **out, const char *module, const char *uri,
    const char *pin);

#endif
