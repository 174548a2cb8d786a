/*
 * csr.c: reading PKCS#10 requests (RFC 2986) from untrusted callers.
 *
 *   CertificationRequest ::= SEQUENCE {
 *       certificationRequestInfo SEQUENCE {
 *           version INTEGER (0), subject Name,
 *           subjectPKInfo SEQUENCE { algorithm AlgorithmIdentifier,
 *                                    subjectPublicKey BIT STRING },
 *           attributes [0] IMPLICIT SET OF Attribute },
 *       signatureAlgorithm AlgorithmIdentifier,
 *       signature BIT STRING }
 *
 * The outer layers are walked here, DER only (definite, minimal lengths,
 * nothing after the end), instead of through d2i_X509_REQ: OpenSSL 3.0
 * turns every SubjectPublicKeyInfo it decodes into an EVP_PKEY through its
 * generic decoder machinery, and does the reverse in X509_set_pubkey; the
 * two cost over half a millisecond per request here, several times the
 * ECDSA signature itself (docs/benchmarks.md).  EC and Ed25519 keys are
 * imported from their raw public bytes instead, and the certificate gets
 * the request's SubjectPublicKeyInfo copied as it is.  RSA keys, rarer,
 * still go through d2i_PUBKEY.  The pieces that need real ASN.1 (the
 * AlgorithmIdentifiers, the requested extensions) are handed to
 * OpenSSL's decoders, which are cheap for them.
 *
 * The subject is read past and ignored: the certificate's subject comes
 * from the approved request.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca_int.h"

/* 1.2.840.113549.1.9.14, extensionRequest (PKCS#9) */
static const uint8_t ext_req_oid[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e,
};

/* One TLV at *p: its tag and content; *p moves past it.  Definite,
 * minimal lengths of at most 4 bytes; low tag numbers only. */
static int
tlv(const uint8_t **p, const uint8_t *end, uint8_t want,
    const uint8_t **val, size_t *len)
{
	const uint8_t *q = *p;
	size_t n, k;

	if (end - q < 2 || *q != want)
		return -1;
	q++;
	n = *q++;
	if (n & 0x80) {
		k = n & 0x7f;
		if (k == 0 || k > 4 || (size_t)(end - q) < k || *q == 0)
			return -1;
		for (n = 0; k > 0; k--)
			n = (n << 8) | *q++;
		if (n < 0x80)
			return -1;
	}
	if ((size_t)(end - q) < n)
		return -1;
	*val = q;
	*len = n;
	*p = q + n;
	return 0;
}

static int
bad(void)
{
	return zt_error_set(ZT_EINVAL, "CSR is not a PKCS#10 request in DER "
	    "or PEM");
}

/* PEM "CERTIFICATE REQUEST" (or the older "NEW ...") to DER. */
static int
pem_to_der(uint8_t **der, size_t *len, const uint8_t *pem, size_t n)
{
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	int ok;

	if (b == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	ok = PEM_read_bio(b, &name, &header, &data, &dlen) == 1 &&
	    (strcmp(name, "CERTIFICATE REQUEST") == 0 ||
	    strcmp(name, "NEW CERTIFICATE REQUEST") == 0) && dlen > 0;
	BIO_free(b);
	OPENSSL_free(name);
	OPENSSL_free(header);
	ERR_clear_error();
	if (!ok) {
		OPENSSL_free(data);
		return bad();
	}
	*der = malloc((size_t)dlen);
	if (*der != NULL)
		memcpy(*der, data, (size_t)dlen);
	OPENSSL_free(data);
	if (*der == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	*len = (size_t)dlen;
	return ZT_OK;
}

/*
 * EC keys are made from a public-only template of their curve, copied and
 * given the request's point: building the curve's group anew for every
 * key (what EVP_PKEY_fromdata does) costs four times as much.  Setting
 * the point checks that it lies on the curve.
 */
static EVP_PKEY *ec_tmpl[2];		/* P-256, P-384 */
static pthread_once_t ec_once = PTHREAD_ONCE_INIT;

static void
ec_templates(void)
{
	static const char *const groups[2] = { "P-256", "P-384" };
	uint8_t pt[97];
	size_t n, i;

	for (i = 0; i < 2; i++) {
		EVP_PKEY *pair = EVP_PKEY_Q_keygen(NULL, NULL, "EC", groups[i]);
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC",
		    NULL);
		OSSL_PARAM p[3];

		if (pair != NULL && ctx != NULL &&
		    EVP_PKEY_get_octet_string_param(pair,
		    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n) == 1) {
			p[0] = OSSL_PARAM_construct_utf8_string(
			    OSSL_PKEY_PARAM_GROUP_NAME,
			    (char *)(uintptr_t)groups[i], 0);
			p[1] = OSSL_PARAM_construct_octet_string(
			    OSSL_PKEY_PARAM_PUB_KEY, pt, n);
			p[2] = OSSL_PARAM_construct_end();
			if (EVP_PKEY_fromdata_init(ctx) != 1 ||
			    EVP_PKEY_fromdata(ctx, &ec_tmpl[i],
			    EVP_PKEY_PUBLIC_KEY, p) != 1)
				ec_tmpl[i] = NULL;
		}
		EVP_PKEY_CTX_free(ctx);
		EVP_PKEY_free(pair);
	}
	ERR_clear_error();
}

static EVP_PKEY *
ec_key(int p384, const uint8_t *pt, size_t n)
{
	EVP_PKEY *k;

	pthread_once(&ec_once, ec_templates);
	if (ec_tmpl[p384] == NULL || (k = EVP_PKEY_dup(ec_tmpl[p384])) == NULL)
		return NULL;
	if (EVP_PKEY_set1_encoded_public_key(k, pt, n) != 1) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* The public key of the SPKI: EC P-256/P-384 and Ed25519 from their raw
 * bytes, RSA through OpenSSL's decoder, anything else refused. */
static int
spki_key(ca_csr *c, const uint8_t *spki, size_t spki_len)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, nid, cnid;

	X509_ALGOR_get0(&obj, &ptype, &pval, c->key_alg);
	nid = OBJ_obj2nid(obj);
	if (nid == NID_X9_62_id_ecPublicKey) {
		cnid = ptype == V_ASN1_OBJECT ? OBJ_obj2nid(pval) : NID_undef;
		if (cnid != NID_X9_62_prime256v1 && cnid != NID_secp384r1)
			return zt_error_set(ZT_EINVAL, "EC curve is not P-256 "
			    "or P-384");
		c->pub = ec_key(cnid == NID_secp384r1, c->key_bits,
		    c->key_len);
	} else if (nid == NID_ED25519) {
		if (ptype != V_ASN1_UNDEF || c->key_len != 32)
			return zt_error_set(ZT_EINVAL, "Ed25519 key is "
			    "malformed");
		c->pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    c->key_bits, 32);
	} else if (nid == NID_rsaEncryption) {
		c->pub = d2i_PUBKEY(NULL, &spki, (long)spki_len);
	} else {
		return zt_error_set(ZT_EINVAL, "unsupported key type (RSA, EC "
		    "P-256/P-384 or Ed25519)");
	}
	ERR_clear_error();
	if (c->pub == NULL)
		return zt_error_set(ZT_EINVAL, "CSR public key is malformed");
	return ZT_OK;
}

/* RSA 2048-8192 bits; the others were checked by spki_key. */
static int
check_key(EVP_PKEY *k)
{
	int bits = EVP_PKEY_get_bits(k);

	if (EVP_PKEY_get_id(k) != EVP_PKEY_RSA)
		return ZT_OK;
	if (bits < 2048)
		return zt_error_set(ZT_EINVAL, "RSA key of %d bits is too "
		    "weak (2048 at least)", bits);
	if (bits > 8192)
		return zt_error_set(ZT_EINVAL, "RSA key of %d bits is too "
		    "large (8192 at most)", bits);
	return ZT_OK;
}

/* The signature over the request info, with an algorithm that fits the
 * key and a SHA-2 digest (or none, for Ed25519). */
static int
check_sig(const ca_csr *c, const uint8_t *alg, size_t alg_len,
    const uint8_t *info, size_t info_len, const uint8_t *sig, size_t sig_len)
{
	const uint8_t *p = alg;
	X509_ALGOR *a = d2i_X509_ALGOR(NULL, &p, (long)alg_len);
	const ASN1_OBJECT *obj;
	const EVP_MD *md = NULL;
	EVP_MD_CTX *m = NULL;
	int mdnid = NID_undef, pknid = NID_undef, ok;

	if (a == NULL || p != alg + alg_len) {
		X509_ALGOR_free(a);
		return bad();
	}
	X509_ALGOR_get0(&obj, NULL, NULL, a);
	ok = OBJ_find_sigid_algs(OBJ_obj2nid(obj), &mdnid, &pknid);
	X509_ALGOR_free(a);
	if (!ok || pknid != EVP_PKEY_get_base_id(c->pub))
		return zt_error_set(ZT_EINVAL, "CSR signature algorithm is "
		    "not supported for its key");
	/* Not EVP_get_digestbynid: in OpenSSL 3.0 it walks every name of
	 * every digest on each call. */
	if (mdnid == NID_sha256)
		md = EVP_sha256();
	else if (mdnid == NID_sha384)
		md = EVP_sha384();
	else if (mdnid == NID_sha512)
		md = EVP_sha512();
	else if (!(mdnid == NID_undef && pknid == NID_ED25519))
		return zt_error_set(ZT_EINVAL, "CSR signature digest is not "
		    "SHA-256, SHA-384 or SHA-512");
	ok = (m = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(m, NULL, md, NULL, c->pub) == 1 &&
	    EVP_DigestVerify(m, sig, sig_len, info, info_len) == 1;
	EVP_MD_CTX_free(m);
	ERR_clear_error();
	return ok ? ZT_OK : zt_error_set(ZT_EINVAL, "CSR signature does not "
	    "verify");
}

/* The extensionRequest attribute, if any, from the [0] content. */
static int
read_attrs(ca_csr *c, const uint8_t *p, const uint8_t *end)
{
	const uint8_t *a, *ae, *oid, *set, *v;
	size_t alen, olen, slen, vlen;

	while (p < end) {
		if (tlv(&p, end, 0x30, &a, &alen) < 0)
			return bad();
		ae = a + alen;
		if (tlv(&a, ae, 0x06, &oid, &olen) < 0 ||
		    tlv(&a, ae, 0x31, &set, &slen) < 0 || a != ae)
			return bad();
		if (olen != sizeof(ext_req_oid) ||
		    memcmp(oid, ext_req_oid, olen) != 0)
			continue;	/* challengePassword and the like */
		if (c->exts != NULL)
			return zt_error_set(ZT_EINVAL, "CSR repeats its "
			    "extension request");
		v = set;
		if (tlv(&set, set + slen, 0x30, &a, &vlen) < 0 ||
		    set != v + slen)
			return bad();
		c->exts = d2i_X509_EXTENSIONS(NULL, &v, (long)slen);
		if (c->exts == NULL || v != set) {
			ERR_clear_error();
			return bad();
		}
	}
	return ZT_OK;
}

/* No CA:true, no certificate or CRL signing. */
static int
check_req_exts(STACK_OF(X509_EXTENSION) *exts)
{
	BASIC_CONSTRAINTS *bc;
	ASN1_BIT_STRING *ku;
	int crit, ca;

	bc = X509V3_get_d2i(exts, NID_basic_constraints, &crit, NULL);
	if (bc == NULL && crit == -2)
		return zt_error_set(ZT_EINVAL, "CSR repeats basicConstraints");
	ca = bc && bc->ca;
	BASIC_CONSTRAINTS_free(bc);
	if (ca)
		return zt_error_set(ZT_EINVAL, "CSR asks for CA:true");
	ku = X509V3_get_d2i(exts, NID_key_usage, &crit, NULL);
	if (ku && (ASN1_BIT_STRING_get_bit(ku, 5) ||
	    ASN1_BIT_STRING_get_bit(ku, 6))) {
		ASN1_BIT_STRING_free(ku);
		return zt_error_set(ZT_EINVAL, "CSR asks for keyCertSign or "
		    "cRLSign");
	}
	ASN1_BIT_STRING_free(ku);
	if (ku == NULL && crit == -2)
		return zt_error_set(ZT_EINVAL, "CSR repeats keyUsage");
	ERR_clear_error();
	return ZT_OK;
}

/* Walks the DER request; see the grammar at the top. */
static int
walk(ca_csr *c, const uint8_t *der, size_t len)
{
	const uint8_t *p = der, *end = der + len, *v, *q, *qe, *info, *alg;
	const uint8_t *sig, *r, *re, *s, *spki, *ka, *x;
	size_t n, info_len, alg_len, sig_len, spki_len, ka_len, k;
	int err;

	if (tlv(&p, end, 0x30, &v, &n) < 0 || p != end)
		return bad();
	q = v, qe = v + n;
	info = q;
	if (tlv(&q, qe, 0x30, &r, &n) < 0)
		return bad();
	info_len = (size_t)(q - info);
	re = r + n;
	alg = q;
	if (tlv(&q, qe, 0x30, &x, &n) < 0)
		return bad();
	alg_len = (size_t)(q - alg);
	if (tlv(&q, qe, 0x03, &sig, &sig_len) < 0 || q != qe ||
	    sig_len < 2 || sig[0] != 0)
		return bad();

	/* certificationRequestInfo */
	if (tlv(&r, re, 0x02, &x, &n) < 0 || n != 1 || x[0] != 0 ||
	    tlv(&r, re, 0x30, &x, &n) < 0)
		return bad();
	spki = r;
	if (tlv(&r, re, 0x30, &s, &n) < 0)
		return bad();
	spki_len = (size_t)(r - spki);
	ka = s;
	if (tlv(&s, spki + spki_len, 0x30, &x, &k) < 0)
		return bad();
	ka_len = (size_t)(s - ka);
	if (tlv(&s, spki + spki_len, 0x03, &x, &k) < 0 || s != r || k < 2 ||
	    x[0] != 0)
		return bad();
	c->key_bits = x + 1;
	c->key_len = k - 1;
	if ((c->key_alg = d2i_X509_ALGOR(NULL, &ka, (long)ka_len)) == NULL) {
		ERR_clear_error();
		return bad();
	}
	if (r < re) {
		if (tlv(&r, re, 0xa0, &x, &n) < 0 || r != re)
			return bad();
		if ((err = read_attrs(c, x, x + n)) < 0)
			return err;
	}
	if ((err = spki_key(c, spki, spki_len)) < 0 ||
	    (err = check_key(c->pub)) < 0 ||
	    (err = check_sig(c, alg, alg_len, info, info_len, sig + 1,
	    sig_len - 1)) < 0)
		return err;
	return check_req_exts(c->exts);
}

int
ca_csr_parse(ca_csr *c, const uint8_t *csr, size_t len)
{
	size_t i = 0;
	int err;

	memset(c, 0, sizeof(*c));
	if (csr == NULL || len == 0)
		return zt_error_set(ZT_EINVAL, "CSR is empty");
	if (len > ZT_CA_CSR_MAX)
		return zt_error_set(ZT_ETOOBIG, "CSR longer than %d bytes",
		    ZT_CA_CSR_MAX);
	while (i < len && (csr[i] == ' ' || csr[i] == '\n' || csr[i] == '\r' ||
	    csr[i] == '\t'))
		i++;
	if (len - i >= 11 && memcmp(csr + i, "-----BEGIN ", 11) == 0) {
		if ((err = pem_to_der(&c->der, &c->der_len, csr, len)) < 0)
			return err;
	} else {
		if ((c->der = malloc(len)) == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
		memcpy(c->der, csr, len);
		c->der_len = len;
	}
	if ((err = walk(c, c->der, c->der_len)) < 0)
		ca_csr_free(c);
	return err;
}

void
ca_csr_free(ca_csr *c)
{
	EVP_PKEY_free(c->pub);
	sk_X509_EXTENSION_pop_free(c->exts, X509_EXTENSION_free);
	X509_ALGOR_free(c->key_alg);
	free(c->der);
	memset(c, 0, sizeof(*c));
}

int
ca_set_spki(X509 *x, const ca_csr *c)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	ASN1_OBJECT *aobj = NULL, *param = NULL;
	uint8_t *bits;
	int ptype;

	X509_ALGOR_get0(&obj, &ptype, &pval, c->key_alg);
	/* Parameters other than a curve OID, NULL or none: the slow way. */
	if (ptype != V_ASN1_OBJECT && ptype != V_ASN1_NULL &&
	    ptype != V_ASN1_UNDEF)
		return X509_set_pubkey(x, c->pub) ? ZT_OK :
		    ca_ssl_error(ZT_ERR, "public key");
	if ((aobj = OBJ_dup(obj)) == NULL ||
	    (ptype == V_ASN1_OBJECT && (param = OBJ_dup(pval)) == NULL) ||
	    (bits = OPENSSL_memdup(c->key_bits, c->key_len)) == NULL) {
		ASN1_OBJECT_free(aobj);
		ASN1_OBJECT_free(param);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), aobj, ptype,
	    param, bits, (int)c->key_len)) {
		ASN1_OBJECT_free(aobj);
		ASN1_OBJECT_free(param);
		OPENSSL_free(bits);
		return ca_ssl_error(ZT_ERR, "public key");
	}
	return ZT_OK;
}

int
zt_ca_csr_check(EVP_PKEY **pub, const uint8_t *csr, size_t len)
{
	ca_csr c;
	int err;

	if ((err = ca_csr_parse(&c, csr, len)) < 0)
		return err;
	if (pub) {
		*pub = c.pub;
		c.pub = NULL;
	}
	ca_csr_free(&c);
	return ZT_OK;
}
