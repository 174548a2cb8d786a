/*
 * hier.c: keys, the CA hierarchy of a trust domain, and the signing CA.
 *
 * A trust domain gets a self-signed root and an intermediate that does the
 * daily signing; the root's key can then stay offline (or in a token).  Or
 * an upstream CA signs the intermediate: zt_ca_intermediate_csr makes the
 * request and zt_ca_import_chain checks and takes the answer.
 *
 * Both CA certificates carry the trust domain's own SPIFFE ID,
 * "spiffe://<td>", as their URI SAN: the X509-SVID specification says a
 * signing certificate SHOULD be an SVID whose ID has no path (section
 * 3.2).  URI name constraints are optional there (section 4.2) because
 * many verifiers reject them, so the intermediate carries them only on
 * request.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "ca/ca_int.h"

/* Certificates a chain may hold when imported: root, a few levels of
 * intermediates. */
#define CHAIN_MAX 8
#define CHAIN_PEM_MAX 65536

int
ca_ssl_error(int code, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[160];

	if (e == 0) {
		return zt_error_set(code, "%s", what);
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return zt_error_set(code, "%s: %s", what, buf);
}

int
zt_ca_key_type_parse(const char *s, enum zt_ca_key_type *out)
{
	static const struct { const char *name; enum zt_ca_key_type t; } k[] = {
		{ "p256", ZT_CA_KEY_P256 }, { "p384", ZT_CA_KEY_P384 },
		{ "rsa2048", ZT_CA_KEY_RSA2048 },
		{ "rsa3072", ZT_CA_KEY_RSA3072 },
		{ "rsa4096", ZT_CA_KEY_RSA4096 },
		{ "ed25519", ZT_CA_KEY_ED25519 },
	};
	size_t i;

	for (i = 0; s != NULL && i < ZT_ARRAY_LEN(k); i++)
		if (strcmp(s, k[i].name) == 0) {
			*out = k[i].t;
			return ZT_OK;
		}
	return zt_error_set(ZT_EINVAL, "key type must be one of p256, p384, "
	    "rsa2048, rsa3072, rsa4096, ed25519");
}

int
zt_ca_key_generate(EVP_PKEY **out, enum zt_ca_key_type type)
{
	EVP_PKEY *k = NULL;

	switch (type) {
	case ZT_CA_KEY_P256:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case ZT_CA_KEY_P384:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	case ZT_CA_KEY_RSA2048:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case ZT_CA_KEY_RSA3072:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case ZT_CA_KEY_RSA4096:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
		break;
	case ZT_CA_KEY_ED25519:
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		return zt_error_set(ZT_EINVAL, "unknown key type");
	}
	if (k == NULL)
		return ca_ssl_error(ZT_ERR, "key generation failed");
	*out = k;
	return ZT_OK;
}

const EVP_MD *
ca_md_for(EVP_PKEY *key)
{
	if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519)
		return NULL;
	if (EVP_PKEY_get_id(key) == EVP_PKEY_EC && EVP_PKEY_get_bits(key) > 256)
		return EVP_sha384();
	return EVP_sha256();
}

int
ca_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return ca_ssl_error(ZT_ERR, "certificate extension");
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? ZT_OK : ca_ssl_error(ZT_ERR, "certificate extension");
}

int
ca_serial_hex(const ASN1_INTEGER *ai, char hex[ZT_CA_SERIAL_HEX])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *h;
	size_t i, n;

	if (bn == NULL || BN_is_negative(bn) || BN_num_bytes(bn) > 20) {
		BN_free(bn);
		return zt_error_set(ZT_EINVAL, "serial out of range");
	}
	h = BN_bn2hex(bn);
	BN_free(bn);
	if (h == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	/* BN_bn2hex pads to whole bytes: drop one leading zero nibble. */
	n = strlen(h);
	i = (n > 1 && h[0] == '0') ? 1 : 0;
	snprintf(hex, ZT_CA_SERIAL_HEX, "%s", h + i);
	for (i = 0; hex[i]; i++)
		if (hex[i] >= 'A' && hex[i] <= 'F')
			hex[i] = (char)(hex[i] - 'A' + 'a');
	OPENSSL_free(h);
	return ZT_OK;
}

int
ca_serial_new(ASN1_INTEGER **out, char hex[ZT_CA_SERIAL_HEX])
{
	uint8_t raw[16];
	BIGNUM *bn;

	/* 128 random bits; an all-zero first byte would shorten the serial
	 * but not weaken it.  A zero serial is not allowed (RFC 5280
	 * 4.1.2.2), so retry on the one-in-2^128 draw. */
	do {
		if (zt_random(raw, sizeof(raw)) < 0)
			return ZT_ERR;
	} while ((bn = BN_bin2bn(raw, sizeof(raw), NULL)) != NULL &&
	    BN_is_zero(bn) && (BN_free(bn), 1));
	if (bn == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	*out = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (*out == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ca_serial_hex(*out, hex);
}

int
ca_set_validity(X509 *x, int64_t nb_ms, int64_t na_ms)
{
	if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(nb_ms / 1000)) ==
	    NULL || ASN1_TIME_set(X509_getm_notAfter(x),
	    (time_t)(na_ms / 1000)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

int64_t
ca_asn1_time_ms(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

/* Subject "O=ztiam, CN=<td> <what>". */
static int
ca_subject(X509_NAME **out, const char *td, const char *what)
{
	X509_NAME *n = X509_NAME_new();
	char cn[SPIFFE_TD_MAX + 32];

	snprintf(cn, sizeof(cn), "%.*s %s", 40, td, what);
	if (n == NULL || !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	    (const unsigned char *)"ztiam", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	*out = n;
	return ZT_OK;
}

static int
td_check(const char *td)
{
	size_t i, n;

	if (td == NULL || (n = strnlen(td, SPIFFE_TD_MAX + 1)) == 0 ||
	    n > SPIFFE_TD_MAX)
		return zt_error_set(ZT_EINVAL, "trust domain: empty or longer "
		    "than %d bytes", SPIFFE_TD_MAX);
	for (i = 0; i < n; i++) {
		char c = td[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_'))
			return zt_error_set(ZT_EINVAL, "trust domain: byte %zu "
			    "is outside [a-z0-9._-]", i);
	}
	return ZT_OK;
}

/* The extensions both CA certificates carry, after SKI. */
static int
ca_exts(X509 *x, X509 *issuer, const char *td, bool leaf_ca, bool nc)
{
	char v[SPIFFE_TD_MAX + 64];
	int err;

	if ((err = ca_add_ext(x, issuer, NID_basic_constraints, leaf_ca ?
	    "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE")) < 0 ||
	    (err = ca_add_ext(x, issuer, NID_key_usage,
	    "critical,keyCertSign,cRLSign")) < 0 ||
	    (err = ca_add_ext(x, issuer, NID_subject_key_identifier,
	    "hash")) < 0)
		return err;
	if (issuer != x && (err = ca_add_ext(x, issuer,
	    NID_authority_key_identifier, "keyid:always")) < 0)
		return err;
	snprintf(v, sizeof(v), "URI:spiffe://%s", td);
	if ((err = ca_add_ext(x, issuer, NID_subject_alt_name, v)) < 0)
		return err;
	if (nc) {
		/* OpenSSL matches a URI constraint against the URI's host,
		 * which for a SPIFFE ID is the trust domain. */
		snprintf(v, sizeof(v), "critical,permitted;URI:%s", td);
		if ((err = ca_add_ext(x, issuer, NID_name_constraints, v)) < 0)
			return err;
	}
	return ZT_OK;
}

static int
ca_sign_x509(X509 *x, EVP_PKEY *key)
{
	if (X509_sign(x, key, ca_md_for(key)) <= 0)
		return ca_ssl_error(ZT_ERR, "signing failed");
	return ZT_OK;
}

int
zt_ca_root_create(X509 **out, EVP_PKEY *key, const char *trust_domain,
    int64_t ttl)
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	ASN1_INTEGER *sn = NULL;
	char hex[ZT_CA_SERIAL_HEX];
	int64_t now = zt_now_ms();
	int err;

	if ((err = td_check(trust_domain)) < 0)
		return err;
	if (ttl <= 0 || ttl > 50LL * 365 * 86400)
		return zt_error_set(ZT_EINVAL, "root lifetime out of range");
	if ((x = X509_new()) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = ca_serial_new(&sn, hex)) < 0 ||
	    (err = ca_subject(&name, trust_domain, "root CA")) < 0)
		goto out;
	X509_set_version(x, X509_VERSION_3);
	X509_set_serialNumber(x, sn);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	if ((err = ca_set_validity(x, now - 60000, now + ttl * 1000)) < 0 ||
	    (err = ca_exts(x, x, trust_domain, false, false)) < 0 ||
	    (err = ca_sign_x509(x, key)) < 0)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	X509_NAME_free(name);
	ASN1_INTEGER_free(sn);
	return err;
}

int
zt_ca_intermediate_create(X509 **out, X509 *issuer, EVP_PKEY *issuer_key,
    EVP_PKEY *pub, const char *trust_domain, int64_t ttl,
    bool name_constraints)
{
	X509 *x = NULL;
	X509_NAME *name = NULL;
	ASN1_INTEGER *sn = NULL;
	char hex[ZT_CA_SERIAL_HEX];
	int64_t now = zt_now_ms(), na;
	int err;

	if ((err = td_check(trust_domain)) < 0)
		return err;
	if (ttl <= 0 || ttl > 20LL * 365 * 86400)
		return zt_error_set(ZT_EINVAL, "intermediate lifetime out of "
		    "range");
	if (X509_check_private_key(issuer, issuer_key) != 1) {
		ERR_clear_error();
		return zt_error_set(ZT_EINVAL, "issuer key does not match the "
		    "issuer certificate");
	}
	na = now + ttl * 1000;
	if (na > ca_asn1_time_ms(X509_get0_notAfter(issuer)))
		na = ca_asn1_time_ms(X509_get0_notAfter(issuer));
	if ((x = X509_new()) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = ca_serial_new(&sn, hex)) < 0 ||
	    (err = ca_subject(&name, trust_domain, "intermediate CA")) < 0)
		goto out;
	X509_set_version(x, X509_VERSION_3);
	X509_set_serialNumber(x, sn);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, X509_get_subject_name(issuer));
	X509_set_pubkey(x, pub);
	if ((err = ca_set_validity(x, now - 60000, na)) < 0 ||
	    (err = ca_exts(x, issuer, trust_domain, true,
	    name_constraints)) < 0 ||
	    (err = ca_sign_x509(x, issuer_key)) < 0)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	X509_NAME_free(name);
	ASN1_INTEGER_free(sn);
	return err;
}

/* Adds one requested extension to a CSR's list. */
static int
req_ext(STACK_OF(X509_EXTENSION) *sk, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);

	if (e == NULL)
		return ca_ssl_error(ZT_ERR, "request extension");
	if (!sk_X509_EXTENSION_push(sk, e)) {
		X509_EXTENSION_free(e);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	return ZT_OK;
}

int
zt_ca_intermediate_csr(X509_REQ **out, EVP_PKEY *key,
    const char *trust_domain)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_REQ *r = NULL;
	X509_NAME *name = NULL;
	char san[SPIFFE_TD_MAX + 16];
	int err;

	if ((err = td_check(trust_domain)) < 0)
		return err;
	if ((r = X509_REQ_new()) == NULL ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = ca_subject(&name, trust_domain, "intermediate CA")) < 0)
		goto out;
	snprintf(san, sizeof(san), "URI:spiffe://%s", trust_domain);
	X509_REQ_set_version(r, X509_REQ_VERSION_1);
	X509_REQ_set_subject_name(r, name);
	X509_REQ_set_pubkey(r, key);
	if ((err = req_ext(exts, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0")) < 0 ||
	    (err = req_ext(exts, NID_key_usage,
	    "critical,keyCertSign,cRLSign")) < 0 ||
	    (err = req_ext(exts, NID_subject_alt_name, san)) < 0)
		goto out;
	if (!X509_REQ_add_extensions(r, exts) ||
	    X509_REQ_sign(r, key, ca_md_for(key)) <= 0) {
		err = ca_ssl_error(ZT_ERR, "signing the request");
		goto out;
	}
	*out = r;
	r = NULL;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(name);
	X509_REQ_free(r);
	return err;
}

/* Verifies `leaf` up to the self-signed last certificate of `certs`. */
static int
chain_verify(X509 *leaf, STACK_OF(X509) *certs)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *root = sk_X509_value(certs, sk_X509_num(certs) - 1);
	int err = ZT_OK;

	if (store == NULL || ctx == NULL || !X509_STORE_add_cert(store, root) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, certs)) {
		err = ca_ssl_error(ZT_ENOMEM, "verify setup");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1)
		err = zt_error_set(ZT_EINVAL, "chain does not verify: %s",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return err;
}

int
zt_ca_import_chain(X509 **cert, STACK_OF(X509) **chain, const char *pem,
    size_t len, EVP_PKEY *key)
{
	STACK_OF(X509) *all = NULL;
	BIO *b = NULL;
	X509 *x, *last;
	int err = ZT_OK;

	if (len > CHAIN_PEM_MAX)
		return zt_error_set(ZT_ETOOBIG, "chain longer than %d bytes",
		    CHAIN_PEM_MAX);
	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (all = sk_X509_new_null()) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_num(all) >= CHAIN_MAX || !sk_X509_push(all, x)) {
			X509_free(x);
			err = zt_error_set(ZT_EINVAL, "chain holds more than "
			    "%d certificates", CHAIN_MAX);
			goto out;
		}
	}
	ERR_clear_error();
	if (sk_X509_num(all) < 2) {
		err = zt_error_set(ZT_EINVAL, "expected the certificate and "
		    "its chain up to a root, as PEM");
		goto out;
	}
	x = sk_X509_value(all, 0);
	last = sk_X509_value(all, sk_X509_num(all) - 1);
	if (X509_check_private_key(x, key) != 1) {
		ERR_clear_error();
		err = zt_error_set(ZT_EINVAL, "the certificate is not for "
		    "this CA's key");
		goto out;
	}
	if (X509_check_ca(x) == 0 ||
	    !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
		err = zt_error_set(ZT_EINVAL, "the certificate is not a CA "
		    "allowed to sign certificates");
		goto out;
	}
	if (X509_check_issued(last, last) != X509_V_OK) {
		err = zt_error_set(ZT_EINVAL, "the chain does not end with a "
		    "self-signed root");
		goto out;
	}
	if ((err = chain_verify(x, all)) < 0)
		goto out;
	(void)sk_X509_shift(all);
	*cert = x;
	*chain = all;
	all = NULL;
out:
	sk_X509_pop_free(all, X509_free);
	BIO_free(b);
	return err;
}

/* ---- the signing CA ---------------------------------------------------------- */

static int
ca_hashes(zt_ca *ca)
{
	const ASN1_BIT_STRING *pk = X509_get0_pubkey_bitstr(ca->cert);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca->cert);
	uint8_t *p = NULL;
	unsigned int n;
	int len;

	if ((len = i2d_X509_NAME(X509_get_subject_name(ca->cert), &p)) <= 0)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	ca->subject_der = p;
	ca->subject_len = len;
	if (!EVP_Digest(p, (size_t)len, ca->name_sha1, &n, EVP_sha1(), NULL) ||
	    !EVP_Digest(p, (size_t)len, ca->name_sha256, &n, EVP_sha256(),
	    NULL) || pk == NULL ||
	    !EVP_Digest(pk->data, (size_t)pk->length, ca->key_sha1, &n,
	    EVP_sha1(), NULL) ||
	    !EVP_Digest(pk->data, (size_t)pk->length, ca->key_sha256, &n,
	    EVP_sha256(), NULL))
		return ca_ssl_error(ZT_ERR, "hashing the CA");
	/* The AKI of what this CA signs is its SKI, or the SHA-1 of its key
	 * when it has none (RFC 5280 4.2.1.2 method 1). */
	if (ski != NULL && ski->length > 0 &&
	    ski->length <= (int)sizeof(ca->ski)) {
		memcpy(ca->ski, ski->data, (size_t)ski->length);
		ca->ski_len = ski->length;
	} else {
		memcpy(ca->ski, ca->key_sha1, 20);
		ca->ski_len = 20;
	}
	return ZT_OK;
}

static int
ca_key_id(char out[ZT_CA_KEY_ID_MAX + 1], EVP_PKEY *key)
{
	uint8_t *der = NULL, h[ZT_SHA256_LEN];
	int n = i2d_PUBKEY(key, &der);

	if (n <= 0)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	zt_sha256(h, der, (size_t)n);
	OPENSSL_free(der);
	memcpy(out, "ca-", 3);
	zt_hex_encode(out + 3, h, 16);
	return ZT_OK;
}

static char *
dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Only URLs a certificate can carry without quoting surprises. */
static int
url_check(const char *what, const char *u)
{
	size_t i;

	if (u == NULL)
		return ZT_OK;
	if (!zt_str_has_prefix(u, "http://") && !zt_str_has_prefix(u, "https://"))
		return zt_error_set(ZT_EINVAL, "%s must be an http(s) URL",
		    what);
	for (i = 0; u[i]; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f ||
		    u[i] == ',' || i > 1000)
			return zt_error_set(ZT_EINVAL, "%s holds a character "
			    "not allowed here, or is too long", what);
	return ZT_OK;
}

int
zt_ca_new(zt_ca **out, const zt_ca_config *cfg, X509 *cert, EVP_PKEY *key,
    STACK_OF(X509) *chain)
{
	zt_ca *ca;
	int err;

	if (cfg == NULL || cert == NULL || key == NULL)
		return zt_error_set(ZT_EINVAL, "CA: certificate and key needed");
	if ((err = td_check(cfg->trust_domain)) < 0 ||
	    (err = url_check("CRL URL", cfg->crl_url)) < 0 ||
	    (err = url_check("OCSP URL", cfg->ocsp_url)) < 0)
		return err;
	if (cfg->key_id && (strlen(cfg->key_id) == 0 ||
	    strlen(cfg->key_id) > ZT_CA_KEY_ID_MAX))
		return zt_error_set(ZT_EINVAL, "CA key id: 1 to %d bytes",
		    ZT_CA_KEY_ID_MAX);
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		return zt_error_set(ZT_EINVAL, "CA key does not match its "
		    "certificate");
	}
	if (X509_check_ca(cert) == 0 ||
	    !(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN))
		return zt_error_set(ZT_EINVAL, "CA certificate may not sign "
		    "certificates");
	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	snprintf(ca->trust_domain, sizeof(ca->trust_domain), "%s",
	    cfg->trust_domain);
	if (cfg->key_id)
		snprintf(ca->key_id, sizeof(ca->key_id), "%s", cfg->key_id);
	else if ((err = ca_key_id(ca->key_id, key)) < 0)
		goto fail;
	X509_up_ref(cert);
	ca->cert = cert;
	EVP_PKEY_up_ref(key);
	ca->key = key;
	ca->chain = chain ? X509_chain_up_ref(chain) : sk_X509_new_null();
	ca->crl_url = dup_opt(cfg->crl_url);
	ca->ocsp_url = dup_opt(cfg->ocsp_url);
	ca->svid_ttl = cfg->svid_ttl > 0 ? cfg->svid_ttl : 3600;
	ca->backdate = cfg->backdate > 0 ? cfg->backdate : 30;
	ca->gate = cfg->gate;
	ca->gate_arg = cfg->gate_arg;
	ca->md = ca_md_for(key);
	ca->not_after = ca_asn1_time_ms(X509_get0_notAfter(cert));
	if (ca->chain == NULL || (cfg->crl_url && !ca->crl_url) ||
	    (cfg->ocsp_url && !ca->ocsp_url)) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto fail;
	}
	if ((err = ca_hashes(ca)) < 0 || (err = ca_leaf_exts_init(ca)) < 0)
		goto fail;
	*out = ca;
	return ZT_OK;
fail:
	zt_ca_free(ca);
	return err;
}

void
zt_ca_free(zt_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	sk_X509_pop_free(ca->chain, X509_free);
	free(ca->crl_url);
	free(ca->ocsp_url);
	OPENSSL_free(ca->subject_der);
	ca_leaf_exts_free(ca);
	free(ca);
}

X509 *
zt_ca_cert(const zt_ca *ca)
{
	return ca->cert;
}

const char *
zt_ca_key_id(const zt_ca *ca)
{
	return ca->key_id;
}

const char *
zt_ca_trust_domain(const zt_ca *ca)
{
	return ca->trust_domain;
}

/* ---- PEM ------------------------------------------------------------------------ */

static char *
bio_take(BIO *b)
{
	char *data, *s = NULL;
	long n = BIO_get_mem_data(b, &data);

	if (n >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	if (n > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(b);
	return s;
}

char *
zt_ca_x509_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b == NULL || !PEM_write_bio_X509(b, x)) {
		BIO_free(b);
		return NULL;
	}
	return bio_take(b);
}

char *
zt_ca_key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (b == NULL || !PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0,
	    NULL, NULL)) {
		BIO_free(b);
		return NULL;
	}
	return bio_take(b);
}
