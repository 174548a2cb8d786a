/*
 * ca_int.h: what the files of the ca module share behind ca.h.
 */
#ifndef ZT_CA_INT_H
#define ZT_CA_INT_H

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "base/base.h"
#include "ca/ca.h"

#define SPIFFE_TD_MAX 255

struct zt_ca {
	char trust_domain[SPIFFE_TD_MAX + 1];
	char key_id[ZT_CA_KEY_ID_MAX + 1];
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;		/* above cert, root last; may be empty */
	char *crl_url;
	char *ocsp_url;
	int64_t svid_ttl;
	int64_t backdate;
	int64_t not_after;		/* cert's notAfter, ms */
	zt_ca_gate_fn gate;
	void *gate_arg;
	const EVP_MD *md;		/* NULL for Ed25519 */
	/* OCSP CertID hashes of this issuer (name, key) by SHA-1, SHA-256. */
	uint8_t name_sha1[20], key_sha1[20];
	uint8_t name_sha256[32], key_sha256[32];
	/* DER pieces the CRL writer reuses. */
	uint8_t *subject_der;
	int subject_len;
	uint8_t ski[64];
	int ski_len;
	/* Leaf extensions that never change, made once by zt_ca_new. */
	X509_EXTENSION *x_bc;		/* CA:FALSE, critical */
	X509_EXTENSION *x_ku_sig;	/* digitalSignature, critical */
	X509_EXTENSION *x_ku_rsa;	/* + keyEncipherment */
	X509_EXTENSION *x_eku_both;	/* serverAuth, clientAuth */
	X509_EXTENSION *x_eku_server;
	X509_EXTENSION *x_eku_client;
	X509_EXTENSION *x_aki;
	X509_EXTENSION *x_cdp;		/* NULL without a CRL URL */
	X509_EXTENSION *x_aia;		/* NULL without an OCSP URL */
	char *chain_pem;		/* what every holder presents */
};

/* hier.c */
/* The digest to sign with for `key`: SHA-384 for P-384, NULL for
 * Ed25519, SHA-256 otherwise. */
const EVP_MD *ca_md_for(EVP_PKEY *key);
/* Adds one extension by its config-style value; 0 or ZT_ERR. */
int ca_add_ext(X509 *x, X509 *issuer, int nid, const char *value);
/* 16 random bytes as a positive serial, with its canonical hex. */
int ca_serial_new(ASN1_INTEGER **out, char hex[ZT_CA_SERIAL_HEX]);
/* Canonical hex (lowercase, no leading zeros) of an ASN1_INTEGER. */
int ca_serial_hex(const ASN1_INTEGER *ai, char hex[ZT_CA_SERIAL_HEX]);
/* Sets the validity from ms times. */
int ca_set_validity(X509 *x, int64_t nb_ms, int64_t na_ms);
int64_t ca_asn1_time_ms(const ASN1_TIME *t);
/* An OpenSSL error on the queue as a zt error with `what` in front. */
int ca_ssl_error(int code, const char *what);

/* csr.c: a checked PKCS#10 request. */
typedef struct ca_csr {
	EVP_PKEY *pub;
	STACK_OF(X509_EXTENSION) *exts;	/* requested; NULL when none */
	X509_ALGOR *key_alg;		/* the SubjectPublicKeyInfo's */
	const uint8_t *key_bits;	/* its key bytes, inside der */
	size_t key_len;
	uint8_t *der;
	size_t der_len;
} ca_csr;

/* Parses and checks (size, syntax, key, signature, no CA:true, no
 * keyCertSign/cRLSign); ca_csr_free after success only. */
int ca_csr_parse(ca_csr *c, const uint8_t *csr, size_t len);
void ca_csr_free(ca_csr *c);
/* Gives `x` the request's SubjectPublicKeyInfo, copied as it is. */
int ca_set_spki(X509 *x, const ca_csr *c);

/* issue.c */
int ca_leaf_exts_init(zt_ca *ca);
/* The request's shape against its profile. */
int ca_check_request(const zt_ca *ca, const zt_ca_request *req);
void ca_leaf_exts_free(zt_ca *ca);

/* store.c */
int ca_store_cert(zt_db *db, const zt_ca *ca, const zt_ca_request *req,
    const zt_ca_issued *c);
int ca_audit_refusal(zt_db *db, const zt_ca_request *req, const char *why);
/* Parses canonical serial hex into up to 20 big-endian bytes. */
int ca_serial_bytes(uint8_t out[20], size_t *n, const char *hex);

#endif
