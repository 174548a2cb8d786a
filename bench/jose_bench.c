/*
 * jose_bench: JWS signatures per second with a prepared zt_jose_signer,
 * the way the OpenID provider will sign access tokens: one signer, the
 * same "typ", claims of a realistic size (about 300 bytes), a fresh
 * compact JWS each time.  Then verifications per second of such a token
 * with a parsed public key.  One thread; compare with
 * `openssl speed -seconds 3 ecdsap256`, which signs a bare digest with
 * no hashing, encoding or JSON around it.  Asserts nothing.
 *
 *   jose_bench [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "jose/jose.h"

static const char claims[] =
    "{\"iss\":\"https://id.example.com/t/acme/main\","
    "\"sub\":\"3kq9Zr0c1Qe2-identity-abcdef\","
    "\"aud\":\"https://api.example.com\",\"client_id\":\"cli-7f3a9\","
    "\"scope\":\"openid profile email orders:read\","
    "\"iat\":1796000000,\"nbf\":1796000000,\"exp\":1796000900,"
    "\"jti\":\"Zx8vQ2m9R1kB7cN4pL0aT6\","
    "\"cnf\":{\"jkt\":\"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs\"}}";

static double
run_sign(zt_jose_signer *s, double seconds, zt_buf *last)
{
	int64_t t0 = zt_mono_us(), end = t0 + (int64_t)(seconds * 1e6), now;
	long n = 0;

	do {
		int i;

		for (i = 0; i < 100; i++) {
			zt_buf_reset(last);
			if (zt_jose_sign(last, s, "at+jwt", claims,
			    sizeof(claims) - 1) < 0) {
				fprintf(stderr, "sign: %s\n", zt_error_msg());
				exit(1);
			}
		}
		n += 100;
		now = zt_mono_us();
	} while (now < end);
	return n / ((now - t0) / 1e6);
}

static double
run_verify(const char *tok, const zt_jose_key *pub, double seconds)
{
	int64_t t0 = zt_mono_us(), end = t0 + (int64_t)(seconds * 1e6), now;
	long n = 0;
	zt_jws jws;

	do {
		if (zt_jws_parse(&jws, tok, strlen(tok)) < 0 ||
		    zt_jws_verify(&jws, pub, ZT_JOSE_ALG_ALL) < 0) {
			fprintf(stderr, "verify: %s\n", zt_error_msg());
			exit(1);
		}
		zt_jws_free(&jws);
		n++;
		now = zt_mono_us();
	} while (now < end);
	return n / ((now - t0) / 1e6);
}

int
main(int argc, char **argv)
{
	static const zt_jose_alg algs[] = {
		ZT_JOSE_ES256, ZT_JOSE_EDDSA, ZT_JOSE_RS256, ZT_JOSE_PS256,
	};
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	size_t i;

	if (seconds <= 0)
		seconds = 3.0;
	printf("| algorithm | signs/s (1 thread) | verifies/s (1 thread) | "
	    "token bytes |\n|---|---|---|---|\n");
	for (i = 0; i < ZT_ARRAY_LEN(algs); i++) {
		zt_buf tok = ZT_BUF_INIT(ZT_JWS_MAX);
		zt_jose_key *key, *pub;
		zt_jose_signer *s;
		json_t *jwk;
		double sps, vps;

		if (zt_jose_key_generate(&key, algs[i]) < 0 ||
		    zt_jose_signer_new(&s, key, algs[i], "bench") < 0 ||
		    zt_jose_key_jwk(&jwk, key, NULL, 0, NULL) < 0 ||
		    zt_jose_key_from_jwk(&pub, jwk) < 0) {
			fprintf(stderr, "setup: %s\n", zt_error_msg());
			return 1;
		}
		sps = run_sign(s, seconds, &tok);
		vps = run_verify(tok.data, pub, seconds);
		printf("| %s | %.0f | %.0f | %zu |\n",
		    zt_jose_alg_name(algs[i]), sps, vps, tok.len);
		fflush(stdout);
		json_decref(jwk);
		zt_buf_free(&tok);
		zt_jose_signer_free(s);
		zt_jose_key_free(key);
		zt_jose_key_free(pub);
	}
	return 0;
}
