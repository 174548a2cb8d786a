/*
 * Tests of jose/: JWS round trips for every algorithm, tampering, the
 * algorithm-confusion and "none" attacks, key-type mismatches, malformed
 * tokens and JWKs, PKCS#8, RFC 7638 thumbprints (the RFC's own example),
 * the RFC 7515 A.3 ES256 example, and JWT claim checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/hmac.h>

#include "base/base.h"
#include "jose/jose.h"

/* The RSA modulus of the RFC 7638 section 3.1 example key. */
#define RFC7638_N "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4" \
	"cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn6" \
	"4tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qvzq" \
	"Y368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08q" \
	"NLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1j" \
	"F44-csFCur-kEgU8awapJzKnqDKgw"

static const zt_jose_alg all_algs[] = {
	ZT_JOSE_ES256, ZT_JOSE_RS256, ZT_JOSE_PS256, ZT_JOSE_EDDSA,
};

/* A fresh key of `alg` and its public half through a JWK. */
static void
keypair(zt_jose_alg alg, zt_jose_key **priv, zt_jose_key **pub)
{
	json_t *jwk;

	assert_int_equal(zt_jose_key_generate(priv, alg), ZT_OK);
	assert_int_equal(zt_jose_key_jwk(&jwk, *priv, "k1", alg, "sig"),
	    ZT_OK);
	assert_null(json_object_get(jwk, "d"));
	assert_int_equal(zt_jose_key_from_jwk(pub, jwk), ZT_OK);
	assert_false(zt_jose_key_is_private(*pub));
	json_decref(jwk);
}

static char *
sign_claims(zt_jose_key *priv, zt_jose_alg alg, const char *typ,
    json_t *claims)
{
	zt_buf out = ZT_BUF_INIT(ZT_JWS_MAX);
	zt_jose_signer *s;

	assert_int_equal(zt_jose_signer_new(&s, priv, alg, "k1"), ZT_OK);
	assert_int_equal(zt_jose_sign_json(&out, s, typ, claims), ZT_OK);
	zt_jose_signer_free(s);
	return zt_buf_detach(&out);
}

static int
verify_text(const char *token, const zt_jose_key *key, unsigned allowed)
{
	zt_jws jws;
	int err;

	if ((err = zt_jws_parse(&jws, token, strlen(token))) < 0)
		return err;
	err = zt_jws_verify(&jws, key, allowed);
	zt_jws_free(&jws);
	return err;
}

static void
test_jose_jws__sign_verify_each(void **state)
{
	json_t *claims = json_pack("{s:s, s:i}", "sub", "alice", "n", 7), *got;
	zt_jose_key *priv, *pub;
	zt_jws jws;
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(all_algs); i++) {
		zt_jose_alg alg = all_algs[i];
		char *tok;

		keypair(alg, &priv, &pub);
		tok = sign_claims(priv, alg, "at+jwt", claims);
		assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), ZT_OK);
		assert_int_equal(jws.alg, alg);
		assert_string_equal(jws.kid, "k1");
		assert_string_equal(jws.typ, "at+jwt");
		assert_int_equal(zt_jws_verify(&jws, pub, ZT_JOSE_ALG_ALL),
		    ZT_OK);
		/* The private key verifies too (it holds the public half). */
		assert_int_equal(zt_jws_verify(&jws, priv, alg), ZT_OK);
		assert_int_equal(zt_jwt_check(&jws, &(zt_jwt_expect){ 0 },
		    &got), ZT_OK);
		assert_true(json_equal(got, claims));
		json_decref(got);
		if (alg == ZT_JOSE_ES256)	/* raw r||s: 64 bytes */
			assert_int_equal(strlen(strrchr(tok, '.') + 1), 86);
		zt_jws_free(&jws);
		free(tok);
		zt_jose_key_free(priv);
		zt_jose_key_free(pub);
	}
	json_decref(claims);
	(void)state;
}

static void
test_jose_jws__tampering_detected(void **state)
{
	json_t *claims = json_pack("{s:s}", "sub", "alice");
	zt_jose_key *priv, *pub;
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(all_algs); i++) {
		char *tok, *p, orig;

		keypair(all_algs[i], &priv, &pub);
		tok = sign_claims(priv, all_algs[i], NULL, claims);
		/* A changed payload character. */
		p = strchr(tok, '.') + 3;
		orig = *p;
		*p = orig == 'A' ? 'B' : 'A';
		assert_int_not_equal(verify_text(tok, pub, ZT_JOSE_ALG_ALL),
		    ZT_OK);
		*p = orig;
		assert_int_equal(verify_text(tok, pub, ZT_JOSE_ALG_ALL), ZT_OK);
		/* A changed signature character. */
		p = strrchr(tok, '.') + 5;
		*p = *p == 'A' ? 'B' : 'A';
		assert_int_equal(verify_text(tok, pub, ZT_JOSE_ALG_ALL),
		    ZT_EFORBIDDEN);
		free(tok);
		zt_jose_key_free(priv);
		zt_jose_key_free(pub);
	}
	json_decref(claims);
	(void)state;
}

static char *
b64(const char *s)
{
	char *out = malloc(zt_b64url_len(strlen(s)) + 1);

	zt_b64url_encode(out, s, strlen(s));
	return out;
}

/* header.payload.sig from plain header and payload text and a raw sig. */
static char *
forge(const char *header, const char *payload, const void *sig,
    size_t siglen)
{
	char *h = b64(header), *p = b64(payload), *out;
	char s[1024] = "";
	size_t n;

	if (siglen)
		zt_b64url_encode(s, sig, siglen);
	n = strlen(h) + strlen(p) + strlen(s) + 3;
	out = malloc(n);
	snprintf(out, n, "%s.%s.%s", h, p, s);
	free(h);
	free(p);
	return out;
}

static void
test_jose_jws__alg_confusion_hs256_with_public_key(void **state)
{
	zt_jose_key *priv, *pub;
	json_t *jwk;
	char *secret, *tok, *input;
	uint8_t mac[32];
	unsigned int maclen;

	keypair(ZT_JOSE_RS256, &priv, &pub);
	zt_jose_key_jwk(&jwk, pub, NULL, 0, NULL);
	secret = json_dumps(jwk, JSON_COMPACT);
	/* The classic attack: HMAC the token with the public key as the
	 * secret and hope the verifier treats it as one. */
	tok = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"admin\"}", NULL, 0);
	input = strdup(tok);
	*strrchr(input, '.') = '\0';
	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)input, strlen(input), mac, &maclen);
	free(tok);
	tok = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"admin\"}", mac, maclen);
	assert_int_equal(verify_text(tok, pub, ZT_JOSE_ALG_ALL),
	    ZT_EFORBIDDEN);
	assert_int_equal(verify_text(tok, priv, ~0u), ZT_EFORBIDDEN);
	free(tok);
	free(input);
	free(secret);
	json_decref(jwk);
	zt_jose_key_free(priv);
	zt_jose_key_free(pub);
	(void)state;
}

static void
test_jose_jws__alg_must_match_key_type(void **state)
{
	json_t *claims = json_pack("{s:s}", "sub", "x");
	zt_jose_key *rsa, *rsa_pub, *ec, *ec_pub, *ed, *ed_pub;
	char *tok, *swapped, *dot, *hdr;

	keypair(ZT_JOSE_RS256, &rsa, &rsa_pub);
	keypair(ZT_JOSE_ES256, &ec, &ec_pub);
	keypair(ZT_JOSE_EDDSA, &ed, &ed_pub);

	/* An RS256 token against EC and Ed25519 keys. */
	tok = sign_claims(rsa, ZT_JOSE_RS256, NULL, claims);
	assert_int_equal(verify_text(tok, ec_pub, ZT_JOSE_ALG_ALL),
	    ZT_EFORBIDDEN);
	assert_int_equal(verify_text(tok, ed_pub, ZT_JOSE_ALG_ALL),
	    ZT_EFORBIDDEN);
	/* RS256 relabelled PS256: same key type, different algorithm. */
	dot = strchr(tok, '.');
	hdr = b64("{\"alg\":\"PS256\",\"kid\":\"k1\"}");
	swapped = malloc(strlen(hdr) + strlen(dot) + 1);
	snprintf(swapped, strlen(hdr) + strlen(dot) + 1, "%s%s", hdr, dot);
	assert_int_equal(verify_text(swapped, rsa_pub, ZT_JOSE_ALG_ALL),
	    ZT_EFORBIDDEN);
	free(swapped);
	free(hdr);
	/* Not on the allow-list. */
	assert_int_equal(verify_text(tok, rsa_pub, ZT_JOSE_ES256),
	    ZT_EFORBIDDEN);
	assert_int_equal(verify_text(tok, rsa_pub, ZT_JOSE_RS256), ZT_OK);
	free(tok);

	/* A signer refuses a key of the wrong type. */
	{
		zt_jose_signer *s;

		assert_int_equal(zt_jose_signer_new(&s, ec, ZT_JOSE_RS256,
		    NULL), ZT_EINVAL);
		assert_int_equal(zt_jose_signer_new(&s, ec_pub, ZT_JOSE_ES256,
		    NULL), ZT_EINVAL);
	}
	json_decref(claims);
	zt_jose_key_free(rsa);
	zt_jose_key_free(rsa_pub);
	zt_jose_key_free(ec);
	zt_jose_key_free(ec_pub);
	zt_jose_key_free(ed);
	zt_jose_key_free(ed_pub);
	(void)state;
}

static void
test_jose_jws__none_refused(void **state)
{
	zt_jose_key *priv, *pub;
	char *tok;
	zt_jws jws;

	keypair(ZT_JOSE_ES256, &priv, &pub);
	tok = forge("{\"alg\":\"none\"}", "{\"sub\":\"admin\"}", NULL, 0);
	assert_int_not_equal(verify_text(tok, pub, ZT_JOSE_ALG_ALL), ZT_OK);
	free(tok);
	tok = forge("{\"alg\":\"none\"}", "{\"sub\":\"admin\"}", "x", 1);
	assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), ZT_EFORBIDDEN);
	free(tok);
	tok = forge("{\"alg\":\"NONE\"}", "{}", "x", 1);
	assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), ZT_EFORBIDDEN);
	free(tok);
	zt_jose_key_free(priv);
	zt_jose_key_free(pub);
	(void)state;
}

static void
test_jose_jws__wrong_key(void **state)
{
	json_t *claims = json_pack("{}");
	zt_jose_key *a, *a_pub, *b, *b_pub;
	char *tok;

	keypair(ZT_JOSE_ES256, &a, &a_pub);
	keypair(ZT_JOSE_ES256, &b, &b_pub);
	tok = sign_claims(a, ZT_JOSE_ES256, NULL, claims);
	assert_int_equal(verify_text(tok, b_pub, ZT_JOSE_ALG_ALL),
	    ZT_EFORBIDDEN);
	free(tok);
	json_decref(claims);
	zt_jose_key_free(a);
	zt_jose_key_free(a_pub);
	zt_jose_key_free(b);
	zt_jose_key_free(b_pub);
	(void)state;
}

static void
expect_parse(const char *tok, int code)
{
	zt_jws jws;

	assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), code);
	assert_true(zt_error_msg()[0] != '\0');
}

static void
test_jose_jws__malformed(void **state)
{
	char *t, *big;

	expect_parse("", ZT_EINVAL);
	expect_parse("abc", ZT_EINVAL);
	expect_parse("a.b", ZT_EINVAL);
	expect_parse("a.b.c.d", ZT_EINVAL);
	expect_parse(".eyJ9.c2ln", ZT_EINVAL);
	expect_parse("eyJhbGciOiJFUzI1NiJ9.e30.", ZT_EINVAL);
	expect_parse("e!J9.e30.c2ln", ZT_EINVAL);
	expect_parse("eyJhbGciOiJFUzI1NiJ9.e30.c2l=", ZT_EINVAL);

	t = forge("[1]", "{}", "s", 1);
	expect_parse(t, ZT_EINVAL);
	free(t);
	t = forge("{\"alg\":\"ES256\"", "{}", "s", 1);
	expect_parse(t, ZT_EINVAL);
	free(t);
	t = forge("{\"alg\":\"ES256\",\"alg\":\"ES256\"}", "{}", "s", 1);
	expect_parse(t, ZT_EINVAL);
	free(t);
	t = forge("{\"typ\":\"JWT\"}", "{}", "s", 1);
	expect_parse(t, ZT_EINVAL);
	free(t);
	t = forge("{\"alg\":7}", "{}", "s", 1);
	expect_parse(t, ZT_EINVAL);
	free(t);
	t = forge("{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", "{}",
	    "s", 1);
	expect_parse(t, ZT_EFORBIDDEN);
	free(t);
	t = forge("{\"alg\":\"ES256\",\"b64\":false}", "{}", "s", 1);
	expect_parse(t, ZT_EFORBIDDEN);
	free(t);
	t = forge("{\"alg\":\"ES256\",\"kid\":5}", "{}", "s", 1);
	expect_parse(t, ZT_EINVAL);
	free(t);
	t = forge("{\"alg\":\"HS256\"}", "{}", "s", 1);
	expect_parse(t, ZT_EFORBIDDEN);
	free(t);

	big = malloc(ZT_JWS_MAX + 2);
	memset(big, 'A', ZT_JWS_MAX + 1);
	big[10] = '.';
	big[20] = '.';
	big[ZT_JWS_MAX + 1] = '\0';
	expect_parse(big, ZT_ETOOBIG);
	free(big);
	(void)state;
}

/* RFC 7638 section 3.1: the example RSA key and its thumbprint. */
static void
test_jose_jwk__rfc7638_thumbprint(void **state)
{
	const char *jwk = "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9"
	    "nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJ"
	    "ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5"
	    "w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZ"
	    "Hzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd"
	    "2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\","
	    "\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
	char tp[ZT_JOSE_THUMBPRINT_LEN + 1];
	zt_jose_key *key;

	assert_int_equal(zt_jose_key_from_jwk_text(&key, jwk, strlen(jwk)),
	    ZT_OK);
	assert_int_equal(zt_jose_thumbprint(tp, key), ZT_OK);
	assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	zt_jose_key_free(key);
	(void)state;
}

/* RFC 7515 appendix A.3: the ES256 example JWS and its key. */
static void
test_jose_jws__rfc7515_a3_es256(void **state)
{
	const char *jwk = "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
	const char *tok = "eyJhbGciOiJFUzI1NiJ9"
	    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGF"
	    "tcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlS"
	    "ApmWQxfKTUJqPP3-Kg6NU1Q";
	zt_jose_key *key;
	json_t *claims;
	zt_jws jws;

	assert_int_equal(zt_jose_key_from_jwk_text(&key, jwk, strlen(jwk)),
	    ZT_OK);
	assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), ZT_OK);
	assert_int_equal(zt_jws_verify(&jws, key, ZT_JOSE_ES256), ZT_OK);
	/* Its exp is in 2011: valid then, expired now. */
	assert_int_equal(zt_jwt_check(&jws, &(zt_jwt_expect){
	    .now = 1300819000, .iss = "joe" }, &claims), ZT_OK);
	json_decref(claims);
	assert_int_equal(zt_jwt_check(&jws, &(zt_jwt_expect){ .iss = "joe" },
	    NULL), ZT_EFORBIDDEN);
	zt_jws_free(&jws);
	zt_jose_key_free(key);
	(void)state;
}

static void
expect_jwk_refused(const char *text)
{
	zt_jose_key *key = NULL;

	assert_int_not_equal(zt_jose_key_from_jwk_text(&key, text,
	    strlen(text)), ZT_OK);
	assert_null(key);
}

static void
test_jose_jwk__import_refusals(void **state)
{
	/* Private members. */
	expect_jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
	    "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}");
	/* A point not on the curve (y changed). */
	expect_jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}");
	/* Other curves, types, short members, junk. */
	expect_jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-384\","
	    "\"x\":\"AA\",\"y\":\"AA\"}");
	expect_jwk_refused("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}");
	expect_jwk_refused("{\"kty\":\"OKP\",\"crv\":\"X25519\","
	    "\"x\":\"AAAA\"}");
	expect_jwk_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"AAAA\"}");
	expect_jwk_refused("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}");
	/* e = 1 makes every signature forgeable, zero-padded or not (found
	 * by fuzz_jose). */
	{
		static const char *const es[] = { "AQ", "AAAB", "AAAAAAAB",
		    "AgAA", "AQAAAAAB" };
		char jwk[600];
		size_t i;

		for (i = 0; i < ZT_ARRAY_LEN(es); i++) {
			snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\","
			    "\"n\":\"%s\",\"e\":\"%s\"}", RFC7638_N, es[i]);
			expect_jwk_refused(jwk);
		}
		snprintf(jwk, sizeof(jwk), "{\"kty\":\"RSA\",\"n\":\"%s\","
		    "\"e\":\"AAEAAQ\"}", RFC7638_N);
		{
			zt_jose_key *k;

			assert_int_equal(zt_jose_key_from_jwk_text(&k, jwk,
			    strlen(jwk)), ZT_OK);
			zt_jose_key_free(k);
		}
	}
	expect_jwk_refused("{\"n\":\"AQAB\",\"e\":\"AQAB\"}");
	expect_jwk_refused("[]");
	expect_jwk_refused("{\"kty\":\"EC\",\"kty\":\"EC\"}");
	(void)state;
}

static void
test_jose_key__pkcs8_round_trip(void **state)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(all_algs); i++) {
		char a[ZT_JOSE_THUMBPRINT_LEN + 1], b[ZT_JOSE_THUMBPRINT_LEN + 1];
		zt_buf der = ZT_BUF_INIT(16384);
		zt_jose_key *k, *k2;

		assert_int_equal(zt_jose_key_generate(&k, all_algs[i]), ZT_OK);
		assert_int_equal(zt_jose_key_to_pkcs8(k, &der), ZT_OK);
		assert_int_equal(zt_jose_key_from_pkcs8(&k2, der.data,
		    der.len), ZT_OK);
		assert_true(zt_jose_key_is_private(k2));
		zt_jose_thumbprint(a, k);
		zt_jose_thumbprint(b, k2);
		assert_string_equal(a, b);
		assert_int_equal(strlen(a), ZT_JOSE_THUMBPRINT_LEN);
		/* Junk and truncation. */
		assert_int_equal(zt_jose_key_from_pkcs8(&k2, der.data,
		    der.len - 1), ZT_EINVAL);
		assert_int_equal(zt_jose_key_from_pkcs8(&k2, "junk", 4),
		    ZT_EINVAL);
		zt_buf_free(&der);
		zt_jose_key_free(k);
		zt_jose_key_free(k2);
	}
	(void)state;
}

static void
test_jose_jwk__export_and_jwks(void **state)
{
	json_t *jwks = json_pack("{s:[]}", "keys"), *k0;
	zt_jose_key *ec, *ed;

	assert_int_equal(zt_jose_key_generate(&ec, ZT_JOSE_ES256), ZT_OK);
	assert_int_equal(zt_jose_key_generate(&ed, ZT_JOSE_EDDSA), ZT_OK);
	assert_int_equal(zt_jose_jwks_add(jwks, ec, "a", ZT_JOSE_ES256, "sig"),
	    ZT_OK);
	assert_int_equal(zt_jose_jwks_add(jwks, ed, "b", ZT_JOSE_EDDSA, "sig"),
	    ZT_OK);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 2);
	k0 = json_array_get(json_object_get(jwks, "keys"), 0);
	assert_string_equal(json_string_value(json_object_get(k0, "kty")),
	    "EC");
	assert_string_equal(json_string_value(json_object_get(k0, "crv")),
	    "P-256");
	assert_int_equal(strlen(json_string_value(json_object_get(k0, "x"))),
	    43);
	assert_string_equal(json_string_value(json_object_get(k0, "alg")),
	    "ES256");
	assert_null(json_object_get(k0, "d"));
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(json_object_get(jwks, "keys"), 1), "crv")),
	    "Ed25519");
	json_decref(jwks);
	zt_jose_key_free(ec);
	zt_jose_key_free(ed);
	(void)state;
}

static void
test_jose_jwt__claims(void **state)
{
	zt_jose_key *priv, *pub;
	json_t *claims;
	char *tok;
	zt_jws jws;
	int64_t now = 2000000000;

	keypair(ZT_JOSE_ES256, &priv, &pub);
	claims = json_pack("{s:s, s:[s,s], s:I, s:I, s:I}", "iss", "https://i",
	    "aud", "a1", "a2", "exp", (json_int_t)(now + 60), "nbf",
	    (json_int_t)(now - 10), "iat", (json_int_t)(now - 10));
	tok = sign_claims(priv, ZT_JOSE_ES256, "dpop+jwt", claims);
	assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), ZT_OK);

#define CHECK(code, ...) assert_int_equal(zt_jwt_check(&jws, \
	&(zt_jwt_expect){ __VA_ARGS__ }, NULL), code)
	CHECK(ZT_OK, .now = now, .iss = "https://i", .aud = "a2",
	    .typ = "dpop+jwt", .require_exp = true, .require_iat = true);
	CHECK(ZT_OK, .now = now, .typ = "application/DPoP+JWT");
	CHECK(ZT_EFORBIDDEN, .now = now, .typ = "at+jwt");
	CHECK(ZT_EFORBIDDEN, .now = now, .iss = "https://other");
	CHECK(ZT_EFORBIDDEN, .now = now, .aud = "a3");
	CHECK(ZT_EFORBIDDEN, .now = now + 60);
	CHECK(ZT_OK, .now = now + 60, .leeway_s = 5);
	CHECK(ZT_EFORBIDDEN, .now = now - 30);
	CHECK(ZT_OK, .now = now - 30, .leeway_s = 30);
	CHECK(ZT_EFORBIDDEN, .now = now, .max_age_s = 5);
	CHECK(ZT_OK, .now = now, .max_age_s = 10);
	zt_jws_free(&jws);
	free(tok);
	json_decref(claims);

	/* Missing required claims; a non-integer date. */
	claims = json_pack("{s:s, s:f}", "aud", "a1", "exp", 1.5);
	tok = sign_claims(priv, ZT_JOSE_ES256, NULL, claims);
	assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), ZT_OK);
	CHECK(ZT_EINVAL, .now = now);
	CHECK(ZT_EFORBIDDEN, .now = now, .typ = "at+jwt");
	zt_jws_free(&jws);
	free(tok);
	json_decref(claims);
	claims = json_pack("{s:s}", "aud", "a1");
	tok = sign_claims(priv, ZT_JOSE_ES256, NULL, claims);
	assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), ZT_OK);
	CHECK(ZT_OK, .now = now, .aud = "a1");
	CHECK(ZT_EFORBIDDEN, .now = now, .require_exp = true);
	CHECK(ZT_EFORBIDDEN, .now = now, .require_iat = true);
#undef CHECK
	zt_jws_free(&jws);
	free(tok);
	json_decref(claims);
	zt_jose_key_free(priv);
	zt_jose_key_free(pub);
	(void)state;
}

static void
test_jose_sign__header_cache_follows_typ(void **state)
{
	zt_buf out = ZT_BUF_INIT(ZT_JWS_MAX);
	zt_jose_signer *s;
	zt_jose_key *k;
	zt_jws jws;

	assert_int_equal(zt_jose_key_generate(&k, ZT_JOSE_ES256), ZT_OK);
	assert_int_equal(zt_jose_signer_new(&s, k, ZT_JOSE_ES256, "kid-1"),
	    ZT_OK);
	zt_jose_key_free(k);	/* the signer keeps its own reference */
	assert_int_equal(zt_jose_sign(&out, s, "at+jwt", "{}", 2), ZT_OK);
	assert_int_equal(zt_jws_parse(&jws, out.data, out.len), ZT_OK);
	assert_string_equal(jws.typ, "at+jwt");
	zt_jws_free(&jws);
	zt_buf_reset(&out);
	assert_int_equal(zt_jose_sign(&out, s, NULL, "{}", 2), ZT_OK);
	assert_int_equal(zt_jws_parse(&jws, out.data, out.len), ZT_OK);
	assert_string_equal(jws.typ, "");
	assert_string_equal(jws.kid, "kid-1");
	zt_jws_free(&jws);
	zt_buf_free(&out);
	zt_jose_signer_free(s);
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jose_jws__sign_verify_each),
		cmocka_unit_test(test_jose_jws__tampering_detected),
		cmocka_unit_test(test_jose_jws__alg_confusion_hs256_with_public_key),
		cmocka_unit_test(test_jose_jws__alg_must_match_key_type),
		cmocka_unit_test(test_jose_jws__none_refused),
		cmocka_unit_test(test_jose_jws__wrong_key),
		cmocka_unit_test(test_jose_jws__malformed),
		cmocka_unit_test(test_jose_jws__rfc7515_a3_es256),
		cmocka_unit_test(test_jose_jwk__rfc7638_thumbprint),
		cmocka_unit_test(test_jose_jwk__import_refusals),
		cmocka_unit_test(test_jose_jwk__export_and_jwks),
		cmocka_unit_test(test_jose_key__pkcs8_round_trip),
		cmocka_unit_test(test_jose_jwt__claims),
		cmocka_unit_test(test_jose_sign__header_cache_follows_typ),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
