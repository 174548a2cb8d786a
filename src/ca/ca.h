/*
 * ca: the certificate center.  A CA hierarchy per SPIFFE trust domain, the
 * issuance gate every request passes before a key signs, X.509-SVIDs and
 * TLS server and client certificates, the inventory of what was issued,
 * revocation, CRLs (RFC 5280), an OCSP responder (RFC 6960) and the SPIFFE
 * trust bundle.
 *
 * The module never stores or loads a private key: signing keys come in as
 * EVP_PKEY handles, so they may live encrypted in the database, in a
 * PKCS#11 token or in a test's memory.  A zt_ca is one signing CA (an
 * intermediate, usually) with its chain and its configuration; it is
 * immutable after zt_ca_new and may be shared by every worker thread.
 *
 * Every issuance goes through zt_ca_issue: the request is checked against
 * its profile, the CSR (if any) is parsed and checked, then the gate the
 * server installed decides; only then is a key generated or the
 * certificate signed.  Each refusal is a ZT_EINVAL / ZT_EFORBIDDEN /
 * ZT_ETOOBIG with a reason and an audit record "cert.refuse"; each
 * issuance stores the certificate and its audit record "cert.issue" in
 * one transaction.  See docs/ca.md.
 *
 * Times are milliseconds since the epoch, as elsewhere in ztiam, except
 * lifetimes (TTLs), which are seconds.
 */
#ifndef ZT_CA_H
#define ZT_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "jose/jose.h"
#include "store/store.h"

/* ---- limits --------------------------------------------------------------- */

/* A PKCS#10 request with a 8192-bit RSA key and a few names is under
 * 3 KiB in PEM; 16 KiB leaves room and bounds what a parser sees. */
#define ZT_CA_CSR_MAX		16384
/* An OCSP request for a handful of certificates is a few hundred bytes;
 * RFC 5019 clients ask for one. */
#define ZT_CA_OCSP_REQ_MAX	4096
/* Single requests in one OCSP request: each costs a lookup. */
#define ZT_CA_OCSP_IDS_MAX	8
/* DNS and IP names in one TLS server certificate. */
#define ZT_CA_NAMES_MAX		32
/* Serials are 16 random bytes; as lowercase hex without leading zeros. */
#define ZT_CA_SERIAL_HEX	41
#define ZT_CA_KEY_ID_MAX	64

/* ---- keys ----------------------------------------------------------------- */

enum zt_ca_key_type {
	ZT_CA_KEY_P256,		/* the default */
	ZT_CA_KEY_P384,
	ZT_CA_KEY_RSA2048,
	ZT_CA_KEY_RSA3072,
	ZT_CA_KEY_RSA4096,
	ZT_CA_KEY_ED25519,
};

/* Generates a key pair; the caller frees it with EVP_PKEY_free. */
int zt_ca_key_generate(EVP_PKEY **out, enum zt_ca_key_type type);
/* Parses "p256", "p384", "rsa2048", "rsa3072", "rsa4096", "ed25519". */
int zt_ca_key_type_parse(const char *s, enum zt_ca_key_type *out);

/* ---- the hierarchy --------------------------------------------------------- */

/*
 * A self-signed root for `trust_domain`: CA:true (critical), keyCertSign
 * and cRLSign (critical), SKI, and the trust domain's SPIFFE ID
 * "spiffe://<td>" as its URI SAN.  `ttl` in seconds.
 */
int zt_ca_root_create(X509 **out, EVP_PKEY *key, const char *trust_domain,
    int64_t ttl);

/*
 * An intermediate for `pub`'s key signed by `issuer`/`issuer_key`:
 * CA:true pathlen:0 (critical), keyCertSign and cRLSign (critical), SKI,
 * AKI, the trust domain's SPIFFE ID as URI SAN, and, when
 * `name_constraints` is set, a permitted URI subtree of the trust domain
 * (the X509-SVID spec makes that optional: section 4.2).  Its notAfter
 * never passes the issuer's.
 */
int zt_ca_intermediate_create(X509 **out, X509 *issuer, EVP_PKEY *issuer_key,
    EVP_PKEY *pub, const char *trust_domain, int64_t ttl,
    bool name_constraints);

/* A PKCS#10 request for an intermediate that an upstream CA will sign:
 * the subject and the CA extensions above, signed by `key`. */
int zt_ca_intermediate_csr(X509_REQ **out, EVP_PKEY *key,
    const char *trust_domain);

/*
 * Imports what the upstream CA returned: PEM certificates, the signed
 * intermediate first, then its chain up to and including a self-signed
 * root.  Checks that the first certificate holds `key`'s public key, is a
 * CA allowed to sign certificates, is valid now, and that the chain
 * verifies up to the root.  *cert and *chain (intermediates above *cert,
 * then the root) belong to the caller.
 */
int zt_ca_import_chain(X509 **cert, STACK_OF(X509) **chain,
    const char *pem, size_t len, EVP_PKEY *key);

/* ---- the signing CA and the gate ------------------------------------------- */

enum zt_ca_profile {
	ZT_CA_SVID,		/* X.509-SVID: one URI SAN, the SPIFFE ID */
	ZT_CA_TLS_SERVER,	/* DNS and IP SANs, serverAuth */
	ZT_CA_TLS_CLIENT,	/* a person or device: CN, clientAuth */
};

const char *zt_ca_profile_name(enum zt_ca_profile p);
int zt_ca_profile_parse(const char *s, enum zt_ca_profile *out);

/* What someone asks to have signed.  Names are the gate's to approve; a
 * CSR's own names must be among them (docs/ca.md). */
typedef struct zt_ca_request {
	const zt_actor *caller;		/* who asks; the audit actor too */
	const char *via;		/* "token", "svid", "oidc", "acme" */
	const char *tenant;		/* the identity's tenant */
	const char *identity_id;	/* the identity the cert is for */
	enum zt_ca_profile profile;
	const char *spiffe_id;		/* SVID: required; client: optional */
	const char *const *dns;		/* TLS server: DNS names */
	size_t ndns;
	const char *const *ips;		/* TLS server: IPv4/IPv6 literals */
	size_t nips;
	const char *common_name;	/* client: the person's or device's */
	const char *email;		/* client: optional rfc822Name */
	int64_t ttl;			/* seconds; 0: the profile default */
	enum zt_ca_key_type key_type;	/* for a key generated here */
} zt_ca_request;

/* The gate's answer.  `max_ttl` (seconds, 0: no cap) lowers the TTL. */
typedef struct zt_ca_decision {
	bool allow;
	int64_t max_ttl;
	char reason[160];		/* why not; audited, shown to the caller */
} zt_ca_decision;

/*
 * The issuance gate: decides whether req->caller may obtain a certificate
 * with req's names for req's identity.  Called once per request, after
 * the request and its CSR passed every syntactic check and before any key
 * is generated or used.  It must fill `out`; `out` starts as a refusal.
 * Worker threads share a zt_ca, so the gate may run on several threads
 * at once.
 */
typedef void (*zt_ca_gate_fn)(void *arg, const zt_ca_request *req,
    zt_ca_decision *out);

typedef struct zt_ca_config {
	const char *trust_domain;
	const char *key_id;	/* the signing key's id; NULL: derived */
	const char *crl_url;	/* CRL distribution point; NULL: none */
	const char *ocsp_url;	/* AIA OCSP responder; NULL: none */
	int64_t svid_ttl;	/* default X.509-SVID lifetime; 0: 3600 s */
	int64_t backdate;	/* notBefore this far back; 0: 30 s */
	zt_ca_gate_fn gate;	/* NULL: every request is refused */
	void *gate_arg;
} zt_ca_config;

typedef struct zt_ca zt_ca;

/*
 * A signing CA: `cert` (a CA certificate for `key`), `chain` (the
 * certificates above it, ending with the root; may be NULL for a root
 * that signs itself).  Takes its own references; the caller keeps its.
 */
int zt_ca_new(zt_ca **out, const zt_ca_config *cfg, X509 *cert,
    EVP_PKEY *key, STACK_OF(X509) *chain);
void zt_ca_free(zt_ca *ca);
X509 *zt_ca_cert(const zt_ca *ca);			/* borrowed */
const char *zt_ca_key_id(const zt_ca *ca);
const char *zt_ca_trust_domain(const zt_ca *ca);

/* ---- issuance ---------------------------------------------------------------- */

typedef struct zt_ca_issued {
	char serial[ZT_CA_SERIAL_HEX];
	int64_t not_before;		/* ms */
	int64_t not_after;		/* ms */
	uint8_t *der;
	size_t der_len;
	char *pem;			/* the certificate */
	char *chain_pem;		/* the CA's certificate and those above
					 * it except the root */
	char *key_pem;			/* PKCS#8, when the key was made here */
} zt_ca_issued;

/* Frees the strings; the private key is wiped first. */
void zt_ca_issued_free(zt_ca_issued *c);

/*
 * Checks a PKCS#10 request (DER or PEM) on its own: size, syntax, its
 * signature, its key (RSA 2048 to 8192 bits, EC P-256 or P-384, Ed25519),
 * no CA:true, no keyCertSign/cRLSign.  Hands back the public key when
 * `pub` is not NULL.  ZT_EINVAL / ZT_ETOOBIG with the reason.
 */
int zt_ca_csr_check(EVP_PKEY **pub, const uint8_t *csr, size_t len);

/*
 * Issues one certificate: from `csr` (DER or PEM, `len` bytes) or, when
 * `csr` is NULL, for a key generated here of req->key_type.  Stores it
 * with an audit record "cert.issue" in one transaction on `db`.  Any
 * refusal is audited as "cert.refuse" and nothing is signed or stored.
 * The caller must not hold a transaction open on `db`.
 */
int zt_ca_issue(zt_ca_issued *out, zt_ca *ca, zt_db *db,
    const zt_ca_request *req, const uint8_t *csr, size_t len);

/* The same, without the inventory or the audit trail: for the benchmark
 * and for callers that store elsewhere.  The gate still decides. */
int zt_ca_sign(zt_ca_issued *out, zt_ca *ca, const zt_ca_request *req,
    const uint8_t *csr, size_t len);

/* ---- inventory and revocation ----------------------------------------------- */

extern const zt_migration_set zt_ca_migrations;

/* RFC 5280 CRLReason codes accepted (7 is unused there). */
enum zt_ca_reason {
	ZT_CA_UNSPECIFIED = 0,
	ZT_CA_KEY_COMPROMISE = 1,
	ZT_CA_CA_COMPROMISE = 2,
	ZT_CA_AFFILIATION_CHANGED = 3,
	ZT_CA_SUPERSEDED = 4,
	ZT_CA_CESSATION = 5,
	ZT_CA_CERTIFICATE_HOLD = 6,
	ZT_CA_PRIVILEGE_WITHDRAWN = 9,
};

int zt_ca_reason_parse(const char *s, int *reason);
const char *zt_ca_reason_name(int reason);

/* A tenant of NULL means any tenant (system scope).  Each revocation runs
 * in its own transaction with one audit record and bumps the revocation
 * epoch; *count (may be NULL) is the number of certificates revoked.
 * Revoking a revoked certificate is ZT_ECONFLICT; an unknown serial (or
 * another tenant's) is ZT_ENOTFOUND. */
int zt_ca_revoke_serial(zt_db *db, const zt_actor *actor, const char *tenant,
    const char *serial, int reason);
int zt_ca_revoke_identity(zt_db *db, const zt_actor *actor,
    const char *tenant, const char *identity_id, int reason,
    int64_t *count);
int zt_ca_revoke_issuer(zt_db *db, const zt_actor *actor,
    const char *issuer_key_id, int reason, int64_t *count);

/* Lists as JSON arrays of certificate documents (serial, tenant,
 * identity_id, spiffe_id, profile, not_before, not_after, issuer_key_id,
 * revoked_at, reason), at most `limit` (1..1000). */
int zt_ca_list_identity(json_t **out, zt_db *db, const char *tenant,
    const char *identity_id, int limit);
int zt_ca_list_expiring(json_t **out, zt_db *db, const char *tenant,
    int64_t within_s, int limit);
int zt_ca_list_revoked(json_t **out, zt_db *db, const char *tenant,
    int limit);
/* The stored DER of one certificate; free() it. */
int zt_ca_get_der(uint8_t **der, size_t *len, zt_db *db, const char *tenant,
    const char *serial);

/* The revocation epoch: a counter every revocation increments. */
int zt_ca_epoch(zt_db *db, int64_t *epoch);
/* The latest notAfter of the certificates `key_id` signed, 0 if none. */
int zt_ca_issuer_last_expiry(zt_db *db, const char *key_id, int64_t *ms);

/*
 * The revoked, unexpired certificates of one issuer, in memory, sorted
 * by serial.  zt_ca_revset_refresh reloads it only when the epoch moved,
 * so it is cheap to call before every use.
 */
typedef struct zt_ca_revset zt_ca_revset;

int zt_ca_revset_load(zt_ca_revset **out, zt_db *db, const char *key_id);
int zt_ca_revset_refresh(zt_ca_revset **rs, zt_db *db, const char *key_id);
void zt_ca_revset_free(zt_ca_revset *rs);
size_t zt_ca_revset_count(const zt_ca_revset *rs);
/* Adds one entry (for tests and benchmarks); sorts lazily. */
int zt_ca_revset_add(zt_ca_revset *rs, const char *serial,
    int64_t revoked_at, int reason);
zt_ca_revset *zt_ca_revset_new(void);
/* True when `serial` is in the set; its time and reason come back. */
bool zt_ca_revset_find(zt_ca_revset *rs, const char *serial,
    int64_t *revoked_at, int *reason);

/* ---- CRL and OCSP -------------------------------------------------------------- */

/*
 * A DER CRL (v2) signed by `ca`: every entry of `rs` with its reason code,
 * thisUpdate `now`, nextUpdate `now + validity_s`, AKI and crlNumber
 * `number`.  The encoding is written directly rather than through
 * X509_CRL (docs/architecture.md says why).  free() *der.
 */
int zt_ca_crl_build(uint8_t **der, size_t *len, const zt_ca *ca,
    zt_ca_revset *rs, int64_t number, int64_t now, int64_t validity_s);
/* The next crlNumber for `key_id`, from the database (1, 2, ...). */
int zt_ca_crl_number_next(zt_db *db, const char *key_id, int64_t *number);
/* Loads the revoked set, takes the next number and builds the CRL. */
int zt_ca_crl_generate(uint8_t **der, size_t *len, const zt_ca *ca,
    zt_db *db, int64_t validity_s);

enum zt_ca_status { ZT_CA_GOOD, ZT_CA_REVOKED, ZT_CA_UNKNOWN };

/* Answers for one serial that `issuer_key_id` issued.  0 or an error. */
typedef int (*zt_ca_status_fn)(void *arg, const char *issuer_key_id,
    const char *serial, enum zt_ca_status *status, int64_t *revoked_at,
    int *reason);

/* The inventory as a status source: `arg` is the zt_db (this thread's).
 * One indexed lookup; a serial this issuer never issued is unknown. */
int zt_ca_status_db(void *arg, const char *issuer_key_id, const char *serial,
    enum zt_ca_status *status, int64_t *revoked_at, int *reason);

typedef struct zt_ca_ocsp {
	const zt_ca *ca;		/* the issuer answered for */
	X509 *signer;			/* NULL: the CA signs; else a delegated
					 * responder with id-kp-OCSPSigning */
	EVP_PKEY *signer_key;
	zt_ca_status_fn status;
	void *status_arg;
	int64_t validity_s;		/* nextUpdate - thisUpdate; 0: 3600 */
} zt_ca_ocsp;

/*
 * Answers one DER OCSPRequest with a DER OCSPResponse (free() it):
 * successful with one signed SingleResponse per request entry (good,
 * revoked or unknown; the nonce echoed), or malformedRequest for input
 * that does not parse or breaks a limit, unauthorized when no entry
 * names this responder's issuer, tryLater or internalError when the
 * status source fails.  Returns an error only when no response could be
 * made (out of memory, the signer failed).
 */
int zt_ca_ocsp_respond(uint8_t **out, size_t *outlen, const zt_ca_ocsp *rsp,
    const uint8_t *req, size_t reqlen);
/* Decodes the base64 (percent-encoded) request of a GET path segment. */
int zt_ca_ocsp_decode_get(uint8_t **der, size_t *len, const char *path);

/* A delegated OCSP responder certificate for `pub`, signed by `ca`:
 * id-kp-OCSPSigning, digitalSignature, id-pkix-ocsp-nocheck. */
int zt_ca_ocsp_signer_create(X509 **out, const zt_ca *ca, EVP_PKEY *pub,
    int64_t ttl);

/* ---- the trust bundle ------------------------------------------------------------ */

enum zt_ca_anchor_state {
	ZT_CA_PREPARED,		/* published, not signing yet */
	ZT_CA_ACTIVE,		/* signing */
	ZT_CA_RETIRED,		/* published until keep_until */
};

typedef struct zt_ca_anchor {
	X509 *cert;			/* a root (trust anchor) */
	enum zt_ca_anchor_state state;
	int64_t keep_until;		/* retired: last expiry it covers, ms */
} zt_ca_anchor;

/*
 * The SPIFFE bundle of a trust domain as JWKS: one "x509-svid" key with
 * x5c per published anchor (prepared, active, and retired ones whose
 * keep_until is still ahead of `now`), "spiffe_sequence" and
 * "spiffe_refresh_hint" (seconds).  The same set as PEM.
 */
int zt_ca_bundle_json(json_t **out, const zt_ca_anchor *a, size_t n,
    int64_t sequence, int64_t refresh_hint, int64_t now);
int zt_ca_bundle_pem(char **out, const zt_ca_anchor *a, size_t n,
    int64_t now);
/* The next bundle sequence number, from the database. */
int zt_ca_bundle_sequence_next(zt_db *db, const char *trust_domain,
    int64_t *seq);

/*
 * The CA generation of a trust domain: a counter that every change of
 * its roots or intermediates (a rotation step, an import) increments, so
 * that servers sharing the database see the change by reading one row.
 * zt_ca_generation reads it (0 before the first change);
 * zt_ca_generation_bump increments it in a transaction of its own.
 */
int zt_ca_generation(zt_db *db, const char *trust_domain, int64_t *gen);
int zt_ca_generation_bump(zt_db *db, const char *trust_domain);

/* ---- JWT-SVIDs --------------------------------------------------------------------- */

/*
 * A JWT-SVID for req->spiffe_id (profile svid) with the audiences `aud`
 * (1 to 8, required), "exp" now + req->ttl (0: 5 minutes; 1 hour at
 * most), "iat", signed by `signer` (which needs a kid and an RS, ES or PS
 * algorithm).  The gate decides first; issuance and refusal are audited
 * on `db` (may be NULL).  free() *token.
 */
int zt_ca_jwt_svid(char **token, zt_ca *ca, zt_db *db,
    const zt_ca_request *req, zt_jose_signer *signer,
    const char *const *aud, size_t naud);
/* Adds a JWT-SVID key to a bundle from zt_ca_bundle_json: "use":
 * "jwt-svid" and its kid (required there). */
int zt_ca_bundle_add_jwt(json_t *bundle, const zt_jose_key *key,
    const char *kid, zt_jose_alg alg);

/* ---- PEM/DER helpers --------------------------------------------------------------- */

/* PEM of a certificate; free() it. */
char *zt_ca_x509_pem(X509 *x);
/* A key as unencrypted PKCS#8 PEM; zt_wipe then free() it. */
char *zt_ca_key_pem(EVP_PKEY *key);

#endif
