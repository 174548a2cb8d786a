/*
 * libFuzzer harness for acme/: the JWS envelope of every ACME request
 * (a flattened JWS in a JSON body, from any client on the network), the
 * identifier check of newOrder and the CSR name match of finalize.  The
 * first byte picks the entry point.
 *
 * Beyond not crashing: an envelope that parses has a url, exactly one of
 * jwk and kid, an algorithm on the ACME allow-list, and a payload that is
 * absent or a JSON object; it never verifies under a key it was not
 * signed with.  An identifier that passes comes back canonical: checking
 * the canonical value again gives the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"
#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zt_jose_key *key;

static void
fuzz_envelope(const char *p, size_t n, bool inner)
{
	enum zt_acme_prob prob;
	zt_acme_jws r;

	if (zt_acme_jws_parse(&r, p, n, inner, &prob) < 0) {
		if (prob != ZT_ACME_MALFORMED && prob != ZT_ACME_BAD_NONCE &&
		    prob != ZT_ACME_BAD_SIGNATURE_ALGORITHM)
			abort();
		return;
	}
	if (r.url == NULL || (r.jwk == NULL) == (r.kid == NULL) ||
	    !(ZT_ACME_ALGS & (unsigned)r.jws.alg) ||
	    (r.payload != NULL && !json_is_object(r.payload)) ||
	    (!inner && r.nonce == NULL))
		abort();
	if (!key && zt_jose_key_generate(&key, ZT_JOSE_ES256) < 0)
		abort();
	/* A random key never verifies what the input signed. */
	if (zt_acme_jws_verify(&r, key) == 0)
		abort();
	zt_acme_jws_free(&r);
}

static void
fuzz_identifier(const char *p, size_t n)
{
	enum zt_acme_prob prob;
	char out[256], again[256];
	json_t *v, *w;
	bool ip, ip2;

	if (zt_json_parse(&v, p, n, 4) < 0)
		return;
	if (zt_acme_identifier_check(v, out, sizeof(out), &ip, &prob) == 0) {
		w = json_pack("{s:s,s:s}", "type", ip ? "ip" : "dns", "value",
		    out);
		if (w == NULL || zt_acme_identifier_check(w, again,
		    sizeof(again), &ip2, &prob) < 0 || ip != ip2 ||
		    strcmp(out, again) != 0)
			abort();
		json_decref(w);
	}
	json_decref(v);
}

static void
fuzz_csr(const uint8_t *p, size_t n)
{
	enum zt_acme_prob prob;
	json_t *ids = json_pack("[{s:s,s:s},{s:s,s:s}]", "type", "dns",
	    "value", "a.example", "type", "ip", "value", "127.0.0.1");

	if (zt_acme_csr_match(p, n, ids, &prob) < 0 &&
	    prob != ZT_ACME_BAD_CSR)
		abort();
	json_decref(ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_envelope((const char *)data + 1, size - 1, false);
		break;
	case 1:
		fuzz_envelope((const char *)data + 1, size - 1, true);
		break;
	case 2:
		fuzz_identifier((const char *)data + 1, size - 1);
		break;
	default:
		fuzz_csr(data + 1, size - 1);
		break;
	}
	zt_error_clear();
	return 0;
}
