/*
 * bundle.c: the SPIFFE trust bundle of a trust domain.
 *
 * The JWKS form follows the SPIFFE Trust Domain and Bundle specification
 * and X509-SVID section 6.1: one JWK per CA certificate with "use":
 * "x509-svid", no "kid", the key's public parameters, and "x5c" holding
 * exactly that one certificate (standard base64 of the DER); at the top,
 * "spiffe_sequence" (grows with every change) and "spiffe_refresh_hint"
 * (seconds a consumer may wait before fetching again).
 *
 * Rotation without a gap: an anchor is published while PREPARED, before
 * anything it signs is handed out, so every relying party has it by the
 * time it signs; a RETIRED anchor stays until keep_until, the notAfter of
 * the last certificate below it.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>

#include "ca/ca_int.h"

static json_t *
b64url_bn(EVP_PKEY *k, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	uint8_t buf[1024];
	char out[1400];
	int n;

	if (!EVP_PKEY_get_bn_param(k, param, &bn))
		return NULL;
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	if (n <= 0 || n > (int)sizeof(buf))
		return NULL;
	zt_b64url_encode(out, buf, (size_t)n);
	return json_string(out);
}

/* The public JWK members of `k` into `jwk`. */
static int
jwk_public(json_t *jwk, EVP_PKEY *k)
{
	uint8_t raw[64];
	char out[100];
	size_t n = sizeof(raw);
	int bits = EVP_PKEY_get_bits(k), sz;

	switch (EVP_PKEY_get_id(k)) {
	case EVP_PKEY_EC:
		sz = (bits + 7) / 8;
		json_object_set_new(jwk, "kty", json_string("EC"));
		json_object_set_new(jwk, "crv", json_string(bits > 256 ?
		    "P-384" : "P-256"));
		json_object_set_new(jwk, "x", b64url_bn(k,
		    OSSL_PKEY_PARAM_EC_PUB_X, sz));
		json_object_set_new(jwk, "y", b64url_bn(k,
		    OSSL_PKEY_PARAM_EC_PUB_Y, sz));
		break;
	case EVP_PKEY_RSA:
		json_object_set_new(jwk, "kty", json_string("RSA"));
		json_object_set_new(jwk, "n", b64url_bn(k,
		    OSSL_PKEY_PARAM_RSA_N, 0));
		json_object_set_new(jwk, "e", b64url_bn(k,
		    OSSL_PKEY_PARAM_RSA_E, 0));
		break;
	case EVP_PKEY_ED25519:
		if (!EVP_PKEY_get_raw_public_key(k, raw, &n))
			return ca_ssl_error(ZT_ERR, "Ed25519 public key");
		zt_b64url_encode(out, raw, n);
		json_object_set_new(jwk, "kty", json_string("OKP"));
		json_object_set_new(jwk, "crv", json_string("Ed25519"));
		json_object_set_new(jwk, "x", json_string(out));
		break;
	default:
		return zt_error_set(ZT_EINVAL, "key type has no JWK form here");
	}
	ERR_clear_error();
	return ZT_OK;
}

static bool
published(const zt_ca_anchor *a, int64_t now)
{
	return a->cert != NULL && (a->state != ZT_CA_RETIRED ||
	    a->keep_until > now);
}

static json_t *
anchor_jwk(const zt_ca_anchor *a)
{
	uint8_t *der = NULL;
	char *b64;
	json_t *jwk;
	int n;

	if ((n = i2d_X509(a->cert, &der)) <= 0)
		return NULL;
	b64 = malloc(4 * ((size_t)n / 3 + 1) + 1);
	if (b64 == NULL) {
		OPENSSL_free(der);
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)b64, der, n);
	OPENSSL_free(der);
	jwk = json_object();
	json_object_set_new(jwk, "use", json_string("x509-svid"));
	if (jwk_public(jwk, X509_get0_pubkey(a->cert)) < 0) {
		json_decref(jwk);
		free(b64);
		return NULL;
	}
	json_object_set_new(jwk, "x5c", json_pack("[s]", b64));
	free(b64);
	return jwk;
}

int
zt_ca_bundle_json(json_t **out, const zt_ca_anchor *a, size_t n,
    int64_t sequence, int64_t refresh_hint, int64_t now)
{
	json_t *keys = json_array(), *jwk;
	size_t i;

	if (keys == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (!published(&a[i], now))
			continue;
		if ((jwk = anchor_jwk(&a[i])) == NULL) {
			json_decref(keys);
			return zt_error_code() < 0 ? zt_error_code() :
			    zt_error_set(ZT_ENOMEM, "out of memory");
		}
		json_array_append_new(keys, jwk);
	}
	*out = json_pack("{s:o, s:I, s:I}", "keys", keys,
	    "spiffe_sequence", (json_int_t)sequence,
	    "spiffe_refresh_hint", (json_int_t)refresh_hint);
	return *out ? ZT_OK : zt_error_set(ZT_ENOMEM, "out of memory");
}

int
zt_ca_bundle_pem(char **out, const zt_ca_anchor *a, size_t n, int64_t now)
{
	zt_buf b = ZT_BUF_INIT(1 << 22);
	char *p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!published(&a[i], now))
			continue;
		if ((p = zt_ca_x509_pem(a[i].cert)) == NULL ||
		    zt_buf_adds(&b, p) < 0) {
			free(p);
			zt_buf_free(&b);
			return zt_error_set(ZT_ENOMEM, "out of memory");
		}
		free(p);
	}
	if (b.data == NULL && zt_buf_adds(&b, "") < 0)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	*out = zt_buf_detach(&b);
	return ZT_OK;
}
