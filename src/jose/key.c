/*
 * Keys: generation, PKCS#8 for storage, public JWKs in and out, and RFC
 * 7638 thumbprints.
 *
 * Only three key types exist here: EC on P-256, RSA of 2048 to 8192 bits,
 * and Ed25519.  Anything else is refused where it enters (generation,
 * PKCS#8, JWK), so the rest of the module may assume it.  An imported
 * public JWK is checked as a point on the curve or a sane modulus before
 * it is used, and a JWK with private members is refused outright: a
 * client that sends its private key has leaked it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "base/base.h"
#include "jose/jose_int.h"

/* Largest decoded JWK member: an 8192-bit modulus. */
#define MEMBER_MAX (JOSE_RSA_MAX_BITS / 8 + 1)

void
jose_ossl_clear(void)
{
	ERR_clear_error();
}

const char *
zt_jose_alg_name(zt_jose_alg alg)
{
	switch (alg) {
	case ZT_JOSE_ES256: return "ES256";
	case ZT_JOSE_RS256: return "RS256";
	case ZT_JOSE_PS256: return "PS256";
	case ZT_JOSE_EDDSA: return "EdDSA";
	}
	return NULL;
}

int
zt_jose_alg_parse(const char *name, zt_jose_alg *out)
{
	static const zt_jose_alg all[] = {
		ZT_JOSE_ES256, ZT_JOSE_RS256, ZT_JOSE_PS256, ZT_JOSE_EDDSA,
	};
	size_t i;

	for (i = 0; name && i < ZT_ARRAY_LEN(all); i++)
		if (strcmp(name, zt_jose_alg_name(all[i])) == 0) {
			*out = all[i];
			return ZT_OK;
		}
	return zt_error_set(ZT_EINVAL, "unsupported algorithm (ES256, RS256, "
	    "PS256 and EdDSA are)");
}

/* Wraps `pkey` (taking it) after checking it is one of ours. */
static int
key_wrap(zt_jose_key **out, EVP_PKEY *pkey, bool private)
{
	char group[32];
	zt_jose_key *k;
	enum jose_kty kty;
	int bits;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(pkey,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) ||
		    strcmp(group, "prime256v1") != 0)
			goto bad;
		kty = KTY_EC;
		break;
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < JOSE_RSA_MIN_BITS || bits > JOSE_RSA_MAX_BITS)
			goto bad;
		kty = KTY_RSA;
		break;
	case EVP_PKEY_ED25519:
		kty = KTY_OKP;
		break;
	default:
		goto bad;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	k->pkey = pkey;
	k->kty = kty;
	k->private = private;
	atomic_init(&k->refs, 1);
	*out = k;
	return ZT_OK;
bad:
	EVP_PKEY_free(pkey);
	jose_ossl_clear();
	return zt_error_set(ZT_EINVAL, "unsupported key type (EC P-256, RSA "
	    "2048 to 8192 bits and Ed25519 are)");
}

int
zt_jose_key_generate(zt_jose_key **out, zt_jose_alg alg)
{
	EVP_PKEY *pkey = NULL;

	switch (alg) {
	case ZT_JOSE_ES256:
		pkey = EVP_EC_gen("P-256");
		break;
	case ZT_JOSE_RS256:
	case ZT_JOSE_PS256:
		pkey = EVP_RSA_gen(2048);
		break;
	case ZT_JOSE_EDDSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	}
	if (pkey == NULL) {
		jose_ossl_clear();
		return zt_error_set(ZT_ERR, "key generation failed");
	}
	return key_wrap(out, pkey, true);
}

int
zt_jose_key_from_pkcs8(zt_jose_key **out, const void *der, size_t n)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8;
	EVP_PKEY *pkey;

	if (n == 0 || n > 16384)
		return zt_error_set(ZT_EINVAL, "not a PKCS#8 private key");
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)n);
	if (p8 == NULL || p != (const unsigned char *)der + n) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		jose_ossl_clear();
		return zt_error_set(ZT_EINVAL, "not a PKCS#8 private key");
	}
	pkey = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (pkey == NULL) {
		jose_ossl_clear();
		return zt_error_set(ZT_EINVAL, "not a PKCS#8 private key");
	}
	return key_wrap(out, pkey, true);
}

int
zt_jose_key_to_pkcs8(const zt_jose_key *key, zt_buf *out)
{
	PKCS8_PRIV_KEY_INFO *p8;
	unsigned char *der = NULL;
	int n, err;

	if (!key->private)
		return zt_error_set(ZT_EINVAL, "a public key has no PKCS#8 "
		    "form");
	if ((p8 = EVP_PKEY2PKCS8(key->pkey)) == NULL) {
		jose_ossl_clear();
		return zt_error_set(ZT_ERR, "cannot encode the private key");
	}
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0) {
		jose_ossl_clear();
		return zt_error_set(ZT_ERR, "cannot encode the private key");
	}
	err = zt_buf_add(out, der, (size_t)n);
	OPENSSL_clear_free(der, (size_t)n);
	return err;
}

zt_jose_key *
jose_key_ref(zt_jose_key *key)
{
	atomic_fetch_add(&key->refs, 1);
	return key;
}

void
zt_jose_key_free(zt_jose_key *key)
{
	if (key == NULL || atomic_fetch_sub(&key->refs, 1) != 1)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

bool
zt_jose_key_is_private(const zt_jose_key *key)
{
	return key->private;
}

bool
zt_jose_key_fits(const zt_jose_key *key, zt_jose_alg alg)
{
	switch (alg) {
	case ZT_JOSE_ES256:
		return key->kty == KTY_EC;
	case ZT_JOSE_RS256:
	case ZT_JOSE_PS256:
		return key->kty == KTY_RSA;
	case ZT_JOSE_EDDSA:
		return key->kty == KTY_OKP;
	}
	return false;
}

struct evp_pkey_st *
zt_jose_key_pkey(const zt_jose_key *key)
{
	return key->pkey;
}

/* ---- public JWK members ----------------------------------------------- */

static int
set_b64(json_t *obj, const char *name, const uint8_t *p, size_t n)
{
	char *s;

	if ((s = malloc(zt_b64url_len(n) + 1)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	zt_b64url_encode(s, p, n);
	json_object_set_new(obj, name, json_string(s));
	free(s);
	return ZT_OK;
}

/* A BIGNUM parameter as big-endian bytes: padded to `pad` bytes, or
 * minimal when pad is 0. */
static int
set_bn(json_t *obj, const char *name, EVP_PKEY *pkey, const char *param,
    size_t pad)
{
	uint8_t buf[MEMBER_MAX];
	BIGNUM *bn = NULL;
	int n, err;

	if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) {
		jose_ossl_clear();
		return zt_error_set(ZT_ERR, "cannot read the public key");
	}
	n = pad ? BN_bn2binpad(bn, buf, (int)pad) :
	    (BN_num_bytes(bn) <= (int)sizeof(buf) ? BN_bn2bin(bn, buf) : -1);
	BN_free(bn);
	if (n <= 0)
		return zt_error_set(ZT_ERR, "cannot read the public key");
	err = set_b64(obj, name, buf, (size_t)n);
	return err;
}

/* The members RFC 7638 hashes, and nothing else. */
static int
key_required_members(json_t **out, const zt_jose_key *key)
{
	uint8_t raw[32];
	size_t n = sizeof(raw);
	json_t *o = json_object();
	int err = ZT_OK;

	switch (key->kty) {
	case KTY_EC:
		json_object_set_new(o, "kty", json_string("EC"));
		json_object_set_new(o, "crv", json_string("P-256"));
		if ((err = set_bn(o, "x", key->pkey, OSSL_PKEY_PARAM_EC_PUB_X,
		    32)) == ZT_OK)
			err = set_bn(o, "y", key->pkey,
			    OSSL_PKEY_PARAM_EC_PUB_Y, 32);
		break;
	case KTY_RSA:
		json_object_set_new(o, "kty", json_string("RSA"));
		if ((err = set_bn(o, "n", key->pkey, OSSL_PKEY_PARAM_RSA_N,
		    0)) == ZT_OK)
			err = set_bn(o, "e", key->pkey, OSSL_PKEY_PARAM_RSA_E,
			    0);
		break;
	case KTY_OKP:
		json_object_set_new(o, "kty", json_string("OKP"));
		json_object_set_new(o, "crv", json_string("Ed25519"));
		if (!EVP_PKEY_get_raw_public_key(key->pkey, raw, &n) ||
		    n != 32) {
			jose_ossl_clear();
			err = zt_error_set(ZT_ERR, "cannot read the public "
			    "key");
		} else
			err = set_b64(o, "x", raw, n);
		break;
	}
	if (err < 0) {
		json_decref(o);
		return err;
	}
	*out = o;
	return ZT_OK;
}

int
zt_jose_key_jwk(json_t **out, const zt_jose_key *key, const char *kid,
    zt_jose_alg alg, const char *use)
{
	json_t *o;
	int err;

	if ((err = key_required_members(&o, key)) < 0)
		return err;
	if (kid)
		json_object_set_new(o, "kid", json_string(kid));
	if (alg && zt_jose_alg_name(alg))
		json_object_set_new(o, "alg", json_string(
		    zt_jose_alg_name(alg)));
	if (use)
		json_object_set_new(o, "use", json_string(use));
	*out = o;
	return ZT_OK;
}

int
zt_jose_thumbprint(char out[ZT_JOSE_THUMBPRINT_LEN + 1],
    const zt_jose_key *key)
{
	uint8_t digest[ZT_SHA256_LEN];
	json_t *o;
	char *text;
	int err;

	if ((err = key_required_members(&o, key)) < 0)
		return err;
	/* RFC 7638 3.3: members in lexical order, no whitespace. */
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (text == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	zt_sha256(digest, text, strlen(text));
	free(text);
	zt_b64url_encode(out, digest, sizeof(digest));
	return ZT_OK;
}

int
zt_jose_jwks_add(json_t *jwks, const zt_jose_key *key, const char *kid,
    zt_jose_alg alg, const char *use)
{
	json_t *keys = json_object_get(jwks, "keys"), *jwk;
	int err;

	if (!json_is_array(keys))
		return zt_error_set(ZT_EINVAL, "not a JWKS document");
	if ((err = zt_jose_key_jwk(&jwk, key, kid, alg, use)) < 0)
		return err;
	json_array_append_new(keys, jwk);
	return ZT_OK;
}

/* ---- public JWK import ------------------------------------------------- */

/* Decodes member `name` of `jwk` into buf; exact length `want` unless 0,
 * then 1..MEMBER_MAX bytes. */
static int
get_b64(const json_t *jwk, const char *name, uint8_t *buf, size_t want,
    size_t *got)
{
	const char *s = json_string_value(json_object_get(jwk, name));
	size_t n;
	long len;

	if (s == NULL)
		return zt_error_set(ZT_EINVAL, "JWK member \"%s\" is missing "
		    "or not a string", name);
	n = strlen(s);
	if (n == 0 || n > zt_b64url_len(MEMBER_MAX))
		return zt_error_set(ZT_EINVAL, "JWK member \"%s\" has a bad "
		    "length", name);
	len = zt_b64url_decode(buf, s, n);
	if (len <= 0 || (want && (size_t)len != want))
		return zt_error_set(ZT_EINVAL, "JWK member \"%s\" is not "
		    "base64url of the right length", name);
	*got = (size_t)len;
	return ZT_OK;
}

static int
pkey_from_params(EVP_PKEY **out, const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY_CTX *check = NULL;
	EVP_PKEY *pkey = NULL;
	int ok;

	ok = params && ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0;
	/* EC: the point must lie on the curve.  Not for RSA: OpenSSL's RSA
	 * public check runs a randomised primality test (the same modulus
	 * may pass once and fail the next time) that costs most of a second
	 * at 8192 bits; a bogus modulus only makes signatures fail, which
	 * the size and parity checks before this already bound. */
	if (ok && strcmp(type, "EC") == 0) {
		check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		ok = check && EVP_PKEY_public_check(check) > 0;
	}
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	if (!ok) {
		EVP_PKEY_free(pkey);
		jose_ossl_clear();
		return zt_error_set(ZT_EINVAL, "the JWK is not a valid public "
		    "key");
	}
	*out = pkey;
	return ZT_OK;
}

static int
jwk_ec(EVP_PKEY **out, const json_t *jwk)
{
	uint8_t point[65], x[MEMBER_MAX], y[MEMBER_MAX];
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	OSSL_PARAM_BLD *bld;
	size_t n;
	int err;

	if (crv == NULL || strcmp(crv, "P-256") != 0)
		return zt_error_set(ZT_EINVAL, "only EC keys on P-256 are "
		    "accepted");
	if ((err = get_b64(jwk, "x", x, 32, &n)) < 0 ||
	    (err = get_b64(jwk, "y", y, 32, &n)) < 0)
		return err;
	point[0] = 0x04;	/* uncompressed */
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
	    sizeof(point));
	err = pkey_from_params(out, "EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return err;
}

static int
jwk_rsa(EVP_PKEY **out, const json_t *jwk)
{
	uint8_t nb[MEMBER_MAX], eb[MEMBER_MAX];
	size_t nlen, elen, i;
	uint64_t ev;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int err;

	if ((err = get_b64(jwk, "n", nb, 0, &nlen)) < 0 ||
	    (err = get_b64(jwk, "e", eb, 0, &elen)) < 0)
		return err;
	/* An exponent wider than 32 bits, even, or 1 is no real key (with
	 * e = 1 anyone could forge a signature).  Leading zero bytes do not
	 * count. */
	for (i = 0, ev = 0; i < elen; i++) {
		if (ev >> 24)
			break;
		ev = ev << 8 | eb[i];
	}
	if (i < elen || ev < 3 || !(ev & 1))
		return zt_error_set(ZT_EINVAL, "the JWK's RSA exponent is not "
		    "acceptable");
	n = BN_bin2bn(nb, (int)nlen, NULL);
	e = BN_bin2bn(eb, (int)elen, NULL);
	if (n == NULL || e == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if (BN_num_bits(n) < JOSE_RSA_MIN_BITS ||
	    BN_num_bits(n) > JOSE_RSA_MAX_BITS || !BN_is_odd(n)) {
		err = zt_error_set(ZT_EINVAL, "the JWK's RSA modulus must be "
		    "2048 to 8192 bits");
		goto out;
	}
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
	err = pkey_from_params(out, "RSA", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return err;
}

static int
jwk_okp(EVP_PKEY **out, const json_t *jwk)
{
	const char *crv = json_string_value(json_object_get(jwk, "crv"));
	uint8_t x[MEMBER_MAX];
	size_t n;
	int err;

	if (crv == NULL || strcmp(crv, "Ed25519") != 0)
		return zt_error_set(ZT_EINVAL, "only OKP keys on Ed25519 are "
		    "accepted");
	if ((err = get_b64(jwk, "x", x, 32, &n)) < 0)
		return err;
	*out = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, 32);
	if (*out == NULL) {
		jose_ossl_clear();
		return zt_error_set(ZT_EINVAL, "the JWK is not a valid public "
		    "key");
	}
	return ZT_OK;
}

int
zt_jose_key_from_jwk(zt_jose_key **out, json_t *jwk)
{
	const char *kty;
	EVP_PKEY *pkey = NULL;
	int err;

	if (!json_is_object(jwk))
		return zt_error_set(ZT_EINVAL, "a JWK must be a JSON object");
	kty = json_string_value(json_object_get(jwk, "kty"));
	if (kty == NULL)
		return zt_error_set(ZT_EINVAL, "the JWK has no \"kty\"");
	/* Private members: RSA d, p, q, dp, dq, qi; EC and OKP d; a
	 * symmetric key's k. */
	if (json_object_get(jwk, "d") || json_object_get(jwk, "p") ||
	    json_object_get(jwk, "k"))
		return zt_error_set(ZT_EINVAL, "a JWK with private key "
		    "material is not accepted");
	if (strcmp(kty, "EC") == 0)
		err = jwk_ec(&pkey, jwk);
	else if (strcmp(kty, "RSA") == 0)
		err = jwk_rsa(&pkey, jwk);
	else if (strcmp(kty, "OKP") == 0)
		err = jwk_okp(&pkey, jwk);
	else
		err = zt_error_set(ZT_EINVAL, "unsupported JWK kty (EC, RSA "
		    "and OKP are)");
	if (err < 0)
		return err;
	return key_wrap(out, pkey, false);
}

int
zt_jose_key_from_jwk_text(zt_jose_key **out, const char *text, size_t len)
{
	json_t *jwk;
	int err;

	if (len > ZT_JWS_HEADER_MAX)
		return zt_error_set(ZT_ETOOBIG, "the JWK is larger than %d "
		    "bytes", ZT_JWS_HEADER_MAX);
	if ((err = zt_json_parse(&jwk, text, len, 4)) < 0)
		return err;
	err = zt_jose_key_from_jwk(out, jwk);
	json_decref(jwk);
	return err;
}
