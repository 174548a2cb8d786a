/*
 * libFuzzer harness for jose/: the compact JWS parser, verification and
 * JWT claim checks (tokens come from any client: access tokens, DPoP
 * proofs, client assertions), and public JWK import (client keys for
 * private_key_jwt and DPoP).  The first byte picks the entry point.
 *
 * Beyond not crashing: a parsed token names one of the four supported
 * algorithms, and verifying it against a key of a type its algorithm does
 * not fit, or with that algorithm off the allow-list, never succeeds.  An
 * imported JWK exports to a JWK that imports again to the same
 * thumbprint, with no private member in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "jose/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zt_jose_key *keys[3];

static void
make_keys(void)
{
	if (keys[0])
		return;
	if (zt_jose_key_generate(&keys[0], ZT_JOSE_ES256) < 0 ||
	    zt_jose_key_generate(&keys[1], ZT_JOSE_RS256) < 0 ||
	    zt_jose_key_generate(&keys[2], ZT_JOSE_EDDSA) < 0)
		abort();
}

static void
fuzz_jws(const char *p, size_t n)
{
	zt_jwt_expect e = { .iss = "i", .aud = "a", .typ = "at+jwt",
	    .now = 1700000000, .leeway_s = 60 };
	json_t *claims = NULL;
	zt_jws jws;
	size_t i;

	if (zt_jws_parse(&jws, p, n) < 0)
		return;
	if (zt_jose_alg_name(jws.alg) == NULL || jws.header == NULL ||
	    jws.payload == NULL)
		abort();
	for (i = 0; i < 3; i++) {
		int rc = zt_jws_verify(&jws, keys[i], ZT_JOSE_ALG_ALL);

		if (rc == ZT_OK && !zt_jose_key_fits(keys[i], jws.alg))
			abort();
		if (zt_jws_verify(&jws, keys[i], ZT_JOSE_ALG_ALL &
		    ~(unsigned)jws.alg) == ZT_OK)
			abort();
	}
	if (zt_jwt_check(&jws, &e, &claims) == ZT_OK) {
		if (!json_is_object(claims))
			abort();
		json_decref(claims);
	}
	zt_jws_free(&jws);
}

static void
fuzz_jwk(const char *p, size_t n)
{
	char a[ZT_JOSE_THUMBPRINT_LEN + 1], b[ZT_JOSE_THUMBPRINT_LEN + 1];
	zt_jose_key *key, *again;
	json_t *jwk;

	if (zt_jose_key_from_jwk_text(&key, p, n) < 0)
		return;
	if (zt_jose_key_is_private(key) ||
	    zt_jose_thumbprint(a, key) < 0 ||
	    zt_jose_key_jwk(&jwk, key, "k", 0, "sig") < 0)
		abort();
	if (json_object_get(jwk, "d") || zt_jose_key_from_jwk(&again, jwk) < 0 ||
	    zt_jose_thumbprint(b, again) < 0 || strcmp(a, b) != 0)
		abort();
	json_decref(jwk);
	zt_jose_key_free(again);
	zt_jose_key_free(key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	make_keys();
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_jwk((const char *)data + 1, size - 1);
	else
		fuzz_jws((const char *)data + 1, size - 1);
	return 0;
}
