/*
 * JWS compact serialisation (RFC 7515): signing with a prepared signer,
 * strict parsing, verification against one key and an allow-list of
 * algorithms, and the JWT claim checks of RFC 7519.
 *
 * Signing is the hot path (every token the OpenID provider issues).  A
 * signer keeps an OpenSSL signing context initialised with its key once
 * and hands it our own SHA-256 of the input, which skips the provider and
 * key look-ups that a fresh initialisation repeats; it also reuses the
 * encoded header while the "typ" stays the same.  EdDSA hashes inside
 * the signature, so it initialises a one-shot context per token.  ECDSA signatures come out of OpenSSL as DER and
 * go into the token as the fixed 64-byte r||s that RFC 7518 3.4 asks for
 * (and back to DER for verifying).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "base/base.h"
#include "jose/jose_int.h"

#define ES256_SIG_LEN 64

struct zt_jose_signer {
	zt_jose_key *key;
	zt_jose_alg alg;
	char *kid;
	EVP_PKEY_CTX *pctx;	/* ES/RS/PS: initialised once, signs digests */
	EVP_MD_CTX *work;	/* EdDSA: one-shot, initialised per use */
	char typ[ZT_JOSE_TYP_MAX + 1];	/* typ of the cached header */
	bool have_header;
	zt_buf header;		/* base64url of the header for `typ` */
};

static const EVP_MD *
alg_md(zt_jose_alg alg)
{
	return alg == ZT_JOSE_EDDSA ? NULL : EVP_sha256();
}

/* Initialises `ctx` for signing or verifying with `alg`. */
static bool
ctx_init(EVP_MD_CTX *ctx, zt_jose_alg alg, EVP_PKEY *pkey, bool sign)
{
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	ok = sign ? EVP_DigestSignInit(ctx, &pctx, alg_md(alg), NULL, pkey) :
	    EVP_DigestVerifyInit(ctx, &pctx, alg_md(alg), NULL, pkey);
	if (ok <= 0)
		return false;
	if (alg == ZT_JOSE_PS256)
		/* RFC 7518 3.5: MGF1 with SHA-256, salt as long as the
		 * hash. */
		return EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING) > 0 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST) > 0 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0;
	if (alg == ZT_JOSE_RS256)
		return EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PADDING) > 0;
	return true;
}

/* A signing context for a SHA-256 digest, padding set for RSA. */
static bool
pctx_init(zt_jose_signer *s, EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

	s->pctx = c;
	if (c == NULL || EVP_PKEY_sign_init(c) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) <= 0)
		return false;
	if (s->alg == ZT_JOSE_RS256)
		return EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0;
	if (s->alg == ZT_JOSE_PS256)
		return EVP_PKEY_CTX_set_rsa_padding(c,
		    RSA_PKCS1_PSS_PADDING) > 0 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(c,
		    RSA_PSS_SALTLEN_DIGEST) > 0 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0;
	return true;
}

int
zt_jose_signer_new(zt_jose_signer **out, zt_jose_key *key, zt_jose_alg alg,
    const char *kid)
{
	zt_jose_signer *s;

	if (!key->private || !zt_jose_key_fits(key, alg))
		return zt_error_set(ZT_EINVAL, "a signer needs a private key "
		    "of the algorithm's type");
	if (kid && (strlen(kid) == 0 || strlen(kid) > ZT_JOSE_KID_MAX))
		return zt_error_set(ZT_EINVAL, "kid must be 1 to %d bytes",
		    ZT_JOSE_KID_MAX);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	s->key = jose_key_ref(key);
	s->alg = alg;
	s->header = (zt_buf)ZT_BUF_INIT(ZT_JWS_HEADER_MAX * 2);
	s->kid = kid ? strdup(kid) : NULL;
	s->work = EVP_MD_CTX_new();
	if ((kid && s->kid == NULL) || s->work == NULL ||
	    (alg != ZT_JOSE_EDDSA && !pctx_init(s, key->pkey))) {
		zt_jose_signer_free(s);
		jose_ossl_clear();
		return zt_error_set(ZT_ERR, "cannot prepare the signer");
	}
	*out = s;
	return ZT_OK;
}

void
zt_jose_signer_free(zt_jose_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_CTX_free(s->pctx);
	EVP_MD_CTX_free(s->work);
	zt_jose_key_free(s->key);
	zt_buf_free(&s->header);
	free(s->kid);
	free(s);
}

const char *
zt_jose_signer_kid(const zt_jose_signer *s)
{
	return s->kid;
}

zt_jose_alg
zt_jose_signer_alg(const zt_jose_signer *s)
{
	return s->alg;
}

/* Appends the base64url of p; small inputs encode on the stack. */
static int
b64_append(zt_buf *out, const void *p, size_t n)
{
	char small[2048], *tmp = small;
	size_t need = zt_b64url_len(n);
	int err;

	if (need + 1 > sizeof(small) && (tmp = malloc(need + 1)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	zt_b64url_encode(tmp, p, n);
	err = zt_buf_add(out, tmp, need);
	if (tmp != small)
		free(tmp);
	return err;
}

/* Encodes the header for `typ` unless the cached one is for it. */
static int
signer_header(zt_jose_signer *s, const char *typ)
{
	json_t *h;
	char *text;
	int err;

	if (s->have_header && strcmp(s->typ, typ ? typ : "") == 0)
		return ZT_OK;
	if (typ && strlen(typ) > ZT_JOSE_TYP_MAX)
		return zt_error_set(ZT_EINVAL, "typ is longer than %d bytes",
		    ZT_JOSE_TYP_MAX);
	h = json_pack("{s:s}", "alg", zt_jose_alg_name(s->alg));
	if (s->kid)
		json_object_set_new(h, "kid", json_string(s->kid));
	if (typ)
		json_object_set_new(h, "typ", json_string(typ));
	text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(h);
	if (text == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	zt_buf_reset(&s->header);
	err = b64_append(&s->header, text, strlen(text));
	free(text);
	if (err < 0) {
		s->have_header = false;
		return err;
	}
	snprintf(s->typ, sizeof(s->typ), "%s", typ ? typ : "");
	s->have_header = true;
	return ZT_OK;
}

/* DER ECDSA signature to r||s, 32 bytes each. */
static bool
ecdsa_der_to_raw(uint8_t raw[ES256_SIG_LEN], const uint8_t *der, size_t n)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
	bool ok;

	if (sig == NULL)
		return false;
	ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	return ok;
}

/* r||s to DER; `der` needs 72 bytes.  Returns the length or 0. */
static size_t
ecdsa_raw_to_der(uint8_t *der, const uint8_t raw[ES256_SIG_LEN])
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32,
	    NULL);
	unsigned char *p = der;
	int n = 0;

	if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
		r = s = NULL;	/* owned by sig now */
		n = i2d_ECDSA_SIG(sig, &p);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return n > 0 ? (size_t)n : 0;
}

int
zt_jose_sign(zt_buf *out, zt_jose_signer *s, const char *typ,
    const void *payload, size_t len)
{
	uint8_t sig[JOSE_RSA_MAX_BITS / 8], raw[ES256_SIG_LEN];
	uint8_t digest[ZT_SHA256_LEN];
	size_t start = out->len, siglen = sizeof(sig);
	bool ok;
	int err;

	if ((err = signer_header(s, typ)) < 0)
		return err;
	if ((err = zt_buf_add(out, s->header.data, s->header.len)) < 0 ||
	    (err = zt_buf_addc(out, '.')) < 0 ||
	    (err = b64_append(out, payload, len)) < 0)
		goto fail;

	/* EdDSA hashes inside the signature and is one-shot; the others
	 * sign our SHA-256 of the input with the prepared context. */
	if (s->alg == ZT_JOSE_EDDSA)
		ok = EVP_MD_CTX_reset(s->work) &&
		    ctx_init(s->work, s->alg, s->key->pkey, true) &&
		    EVP_DigestSign(s->work, sig, &siglen, (const unsigned
		    char *)out->data + start, out->len - start) > 0;
	else {
		zt_sha256(digest, out->data + start, out->len - start);
		ok = EVP_PKEY_sign(s->pctx, sig, &siglen, digest,
		    sizeof(digest)) > 0;
	}
	if (ok && s->alg == ZT_JOSE_ES256) {
		ok = ecdsa_der_to_raw(raw, sig, siglen);
		memcpy(sig, raw, sizeof(raw));
		siglen = sizeof(raw);
	}
	if (!ok) {
		jose_ossl_clear();
		err = zt_error_set(ZT_ERR, "signing failed");
		goto fail;
	}
	if ((err = zt_buf_addc(out, '.')) < 0 ||
	    (err = b64_append(out, sig, siglen)) < 0)
		goto fail;
	return ZT_OK;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return err;
}

int
zt_jose_sign_json(zt_buf *out, zt_jose_signer *s, const char *typ,
    json_t *claims)
{
	char *text;
	int err;

	if (!json_is_object(claims))
		return zt_error_set(ZT_EINVAL, "claims must be a JSON object");
	if ((text = json_dumps(claims, JSON_COMPACT)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	err = zt_jose_sign(out, s, typ, text, strlen(text));
	free(text);
	return err;
}

/* ---- parsing and verifying -------------------------------------------- */

/* Decodes one base64url part into a new NUL-terminated buffer. */
static int
part_decode(char **out, size_t *outlen, const char *p, size_t n,
    const char *what)
{
	char *buf;
	long len;

	if ((buf = malloc(n * 3 / 4 + 2)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	len = zt_b64url_decode(buf, p, n);
	if (len < 0 || (len == 0 && n != 0)) {
		free(buf);
		return zt_error_set(ZT_EINVAL, "the JWS %s is not base64url",
		    what);
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = (size_t)len;
	return ZT_OK;
}

static int
header_string(const json_t *h, const char *name, char *out, size_t max)
{
	const json_t *v = json_object_get(h, name);
	const char *s;

	out[0] = '\0';
	if (v == NULL)
		return ZT_OK;
	s = json_string_value(v);
	if (s == NULL || strlen(s) == 0 || strlen(s) > max)
		return zt_error_set(ZT_EINVAL, "JWS header \"%s\" must be a "
		    "string of 1 to %zu bytes", name, max);
	memcpy(out, s, strlen(s) + 1);
	return ZT_OK;
}

static int
header_check(zt_jws *out)
{
	const char *alg;
	int err;

	if (!json_is_object(out->header))
		return zt_error_set(ZT_EINVAL, "the JWS header is not a JSON "
		    "object");
	alg = json_string_value(json_object_get(out->header, "alg"));
	if (alg == NULL)
		return zt_error_set(ZT_EINVAL, "the JWS header has no \"alg\"");
	if (zt_jose_alg_parse(alg, &out->alg) < 0)
		return zt_error_set(ZT_EFORBIDDEN, "the JWS algorithm is not "
		    "accepted");
	/* We implement no extension, so any critical one is unknown to us
	 * (RFC 7515 4.1.11); "b64": false (RFC 7797) changes what is
	 * signed and is refused with it. */
	if (json_object_get(out->header, "crit"))
		return zt_error_set(ZT_EFORBIDDEN, "JWS \"crit\" extensions "
		    "are not supported");
	if (json_object_get(out->header, "b64"))
		return zt_error_set(ZT_EFORBIDDEN, "JWS \"b64\" is not "
		    "supported");
	if ((err = header_string(out->header, "kid", out->kid,
	    ZT_JOSE_KID_MAX)) < 0 ||
	    (err = header_string(out->header, "typ", out->typ,
	    ZT_JOSE_TYP_MAX)) < 0)
		return err;
	return ZT_OK;
}

int
zt_jws_parse(zt_jws *out, const char *token, size_t len)
{
	const char *d1, *d2, *end = token + len;
	char *hdr = NULL, *sig = NULL;
	size_t hlen, slen;
	int err;

	memset(out, 0, sizeof(*out));
	if (len > ZT_JWS_MAX)
		return zt_error_set(ZT_ETOOBIG, "the JWS is longer than %d "
		    "bytes", ZT_JWS_MAX);
	d1 = memchr(token, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
	if (d1 == NULL || d2 == NULL ||
	    memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
		return zt_error_set(ZT_EINVAL, "a compact JWS has three parts");
	if (d1 == token || d2 + 1 == end)
		return zt_error_set(ZT_EINVAL, "the JWS header or signature "
		    "is empty");
	if ((size_t)(d1 - token) > zt_b64url_len(ZT_JWS_HEADER_MAX))
		return zt_error_set(ZT_ETOOBIG, "the JWS header is longer "
		    "than %d bytes", ZT_JWS_HEADER_MAX);

	if ((err = part_decode(&hdr, &hlen, token, (size_t)(d1 - token),
	    "header")) < 0)
		goto fail;
	if ((err = zt_json_parse(&out->header, hdr, hlen, 5)) < 0) {
		err = zt_error_set(ZT_EINVAL, "the JWS header is not valid "
		    "JSON");
		goto fail;
	}
	if ((err = header_check(out)) < 0)
		goto fail;
	if ((err = part_decode(&out->payload, &out->payload_len, d1 + 1,
	    (size_t)(d2 - d1 - 1), "payload")) < 0)
		goto fail;
	if ((err = part_decode(&sig, &slen, d2 + 1, (size_t)(end - d2 - 1),
	    "signature")) < 0)
		goto fail;
	out->sig = (uint8_t *)sig;
	out->sig_len = slen;
	out->input_len = (size_t)(d2 - token);
	if ((out->input = malloc(out->input_len + 1)) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(out->input, token, out->input_len);
	out->input[out->input_len] = '\0';
	free(hdr);
	return ZT_OK;
fail:
	free(hdr);
	zt_jws_free(out);
	return err;
}

void
zt_jws_free(zt_jws *jws)
{
	json_decref(jws->header);
	free(jws->payload);
	free(jws->input);
	free(jws->sig);
	memset(jws, 0, sizeof(*jws));
}

int
zt_jws_verify(const zt_jws *jws, const zt_jose_key *key, unsigned allowed)
{
	uint8_t der[80];
	const uint8_t *sig = jws->sig;
	size_t siglen = jws->sig_len;
	EVP_MD_CTX *ctx;
	int rc;

	if (jws->input == NULL || jws->sig == NULL)
		return zt_error_set(ZT_EINVAL, "not a parsed JWS");
	if (!(allowed & (unsigned)jws->alg))
		return zt_error_set(ZT_EFORBIDDEN, "the JWS algorithm %s is "
		    "not allowed here", zt_jose_alg_name(jws->alg));
	if (!zt_jose_key_fits(key, jws->alg))
		return zt_error_set(ZT_EFORBIDDEN, "the JWS algorithm %s does "
		    "not match the key's type", zt_jose_alg_name(jws->alg));

	if (jws->alg == ZT_JOSE_ES256) {
		if (siglen != ES256_SIG_LEN ||
		    (siglen = ecdsa_raw_to_der(der, sig)) == 0)
			return zt_error_set(ZT_EFORBIDDEN, "the JWS signature "
			    "does not verify");
		sig = der;
	} else if (jws->alg == ZT_JOSE_EDDSA ? siglen != 64 :
	    siglen != (size_t)EVP_PKEY_get_size(key->pkey))
		return zt_error_set(ZT_EFORBIDDEN, "the JWS signature does "
		    "not verify");

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	rc = ctx_init(ctx, jws->alg, key->pkey, false) ? EVP_DigestVerify(ctx,
	    sig, siglen, (const unsigned char *)jws->input, jws->input_len) :
	    -1;
	EVP_MD_CTX_free(ctx);
	jose_ossl_clear();
	if (rc != 1)
		return zt_error_set(ZT_EFORBIDDEN, "the JWS signature does "
		    "not verify");
	return ZT_OK;
}

/* ---- JWT claims -------------------------------------------------------- */

/* A media type without its optional "application/" prefix (RFC 7515
 * 4.1.9). */
static const char *
media_short(const char *t)
{
	return strncasecmp(t, "application/", 12) == 0 ? t + 12 : t;
}

static int
numeric_date(const json_t *claims, const char *name, bool required,
    int64_t *out, bool *present)
{
	const json_t *v = json_object_get(claims, name);

	*present = v != NULL;
	if (v == NULL)
		return required ? zt_error_set(ZT_EFORBIDDEN, "the JWT has no "
		    "\"%s\" claim", name) : ZT_OK;
	if (!json_is_integer(v))
		return zt_error_set(ZT_EINVAL, "the JWT \"%s\" claim is not an "
		    "integer NumericDate", name);
	*out = json_integer_value(v);
	return ZT_OK;
}

static bool
aud_matches(const json_t *aud, const char *want)
{
	size_t i;
	json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return false;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return true;
	return false;
}

static int
check_times(const json_t *c, const zt_jwt_expect *e)
{
	int64_t now = e->now ? e->now : zt_now_ms() / 1000, exp, nbf, iat;
	int64_t lee = e->leeway_s;
	bool has_exp, has_nbf, has_iat;
	int err;

	if ((err = numeric_date(c, "exp", e->require_exp, &exp,
	    &has_exp)) < 0 ||
	    (err = numeric_date(c, "nbf", false, &nbf, &has_nbf)) < 0 ||
	    (err = numeric_date(c, "iat", e->require_iat || e->max_age_s,
	    &iat, &has_iat)) < 0)
		return err;
	/* Compared by subtraction of small, bounded values: dates beyond
	 * year 9999 are refused first so nothing overflows. */
	if ((has_exp && (exp < 0 || exp > 253402300799)) ||
	    (has_nbf && (nbf < 0 || nbf > 253402300799)) ||
	    (has_iat && (iat < 0 || iat > 253402300799)))
		return zt_error_set(ZT_EINVAL, "a JWT date is out of range");
	if (has_exp && now >= exp + lee)
		return zt_error_set(ZT_EFORBIDDEN, "the JWT has expired");
	if (has_nbf && nbf > now + lee)
		return zt_error_set(ZT_EFORBIDDEN, "the JWT is not valid yet");
	if (has_iat && iat > now + lee)
		return zt_error_set(ZT_EFORBIDDEN, "the JWT was issued in the "
		    "future");
	if (has_iat && e->max_age_s && now - iat > e->max_age_s + lee)
		return zt_error_set(ZT_EFORBIDDEN, "the JWT is too old");
	return ZT_OK;
}

int
zt_jwt_check_times(const json_t *claims, const zt_jwt_expect *e)
{
	return check_times(claims, e);
}

int
zt_jwt_check(const zt_jws *jws, const zt_jwt_expect *e, json_t **claims)
{
	const char *iss;
	json_t *c;
	int err;

	if (e->typ && (jws->typ[0] == '\0' || strcasecmp(media_short(jws->typ),
	    media_short(e->typ)) != 0))
		return zt_error_set(ZT_EFORBIDDEN, "the JWT typ is not %s",
		    e->typ);
	if (zt_json_parse(&c, jws->payload, jws->payload_len, 16) < 0 ||
	    !json_is_object(c)) {
		json_decref(c);
		return zt_error_set(ZT_EINVAL, "the JWT claims are not a JSON "
		    "object");
	}
	if ((err = check_times(c, e)) < 0)
		goto fail;
	iss = json_string_value(json_object_get(c, "iss"));
	if (e->iss && (iss == NULL || strcmp(iss, e->iss) != 0)) {
		err = zt_error_set(ZT_EFORBIDDEN, "the JWT issuer is not the "
		    "expected one");
		goto fail;
	}
	if (e->aud && !aud_matches(json_object_get(c, "aud"), e->aud)) {
		err = zt_error_set(ZT_EFORBIDDEN, "the JWT is not for this "
		    "audience");
		goto fail;
	}
	if (claims)
		*claims = c;
	else
		json_decref(c);
	return ZT_OK;
fail:
	json_decref(c);
	return err;
}
