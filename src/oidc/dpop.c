/*
 * dpop.c: DPoP proofs (RFC 9449) at the token endpoint.
 *
 * A proof is a JWS with typ dpop+jwt, signed with an asymmetric
 * algorithm (jose/ knows no other) by the private half of the public JWK
 * in its own header.  Its claims name the request (htm, htu), when it was
 * made (iat) and a unique id (jti).  The checks follow section 4.3 in
 * order.  No server nonces yet: the iat window and the jti table bound
 * replay instead; the table is per process (zt_replay_seen).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "oidc/oidc.h"

#define CLOCK_LEEWAY_S 5
#define JTI_MAX 256

static int
bad_proof(zt_oauth_error *e, const char *why)
{
	return zt_oauth_fail(e, 400, "invalid_dpop_proof", "%s", why);
}

/* htu compared without its query and fragment (section 4.3, item 9). */
static bool
htu_matches(const char *claim, const char *want)
{
	size_t n = strcspn(claim, "?#");

	return strlen(want) == n && strncmp(claim, want, n) == 0;
}

static int
proof_claims(json_t *c, zt_db *db, const char *htm, const char *htu,
    int64_t now, zt_oauth_error *e)
{
	const char *m = json_string_value(json_object_get(c, "htm"));
	const char *u = json_string_value(json_object_get(c, "htu"));
	const char *jti = json_string_value(json_object_get(c, "jti"));
	int64_t iat = json_integer_value(json_object_get(c, "iat"));
	char ns[ZT_ISSUER_URL_MAX + 16];
	int err;

	if (m == NULL || strcmp(m, htm) != 0)
		return bad_proof(e, "the DPoP proof is for another HTTP method "
		    "(htm)");
	if (u == NULL || !htu_matches(u, htu))
		return bad_proof(e, "the DPoP proof is for another URL (htu)");
	if (jti == NULL || jti[0] == '\0' || strlen(jti) > JTI_MAX)
		return bad_proof(e, "the DPoP proof has no usable jti");
	snprintf(ns, sizeof(ns), "dpop %s", htu);
	err = zt_replay_seen(db, ns, jti, iat + ZT_DPOP_WINDOW_S +
	    CLOCK_LEEWAY_S, now);
	if (err == ZT_EEXISTS)
		return bad_proof(e, "the DPoP proof was used before");
	if (err < 0)
		return zt_oauth_fail(e, 503, "temporarily_unavailable",
		    "cannot record the DPoP proof; retry");
	return ZT_OK;
}

int
zt_dpop_check(char jkt[ZT_JOSE_THUMBPRINT_LEN + 1], zt_db *db,
    const char *proof, const char *htm, const char *htu, int64_t now,
    zt_oauth_error *e)
{
	zt_jwt_expect x = {
		.typ = "dpop+jwt", .now = now, .leeway_s = CLOCK_LEEWAY_S,
		.require_iat = true, .max_age_s = ZT_DPOP_WINDOW_S,
	};
	zt_jose_key *key = NULL;
	json_t *c = NULL, *jwk;
	zt_jws jws;
	int err;

	if (now == 0)
		now = zt_now_ms() / 1000;
	x.now = now;
	if (zt_jws_parse(&jws, proof, strlen(proof)) < 0)
		return bad_proof(e, "the DPoP proof is not a JWS this server "
		    "accepts");
	if (strcasecmp(jws.typ, "dpop+jwt") != 0) {
		err = bad_proof(e, "the DPoP proof's typ is not dpop+jwt");
		goto out;
	}
	jwk = json_object_get(jws.header, "jwk");
	if (!json_is_object(jwk) || zt_jose_key_from_jwk(&key, jwk) < 0) {
		err = bad_proof(e, "the DPoP proof's jwk is not a public key "
		    "this server accepts");
		goto out;
	}
	if (zt_jws_verify(&jws, key, ZT_JOSE_ALG_ALL) < 0) {
		err = bad_proof(e, "the DPoP proof's signature does not "
		    "verify with its jwk");
		goto out;
	}
	if (zt_jwt_check(&jws, &x, &c) < 0) {
		err = bad_proof(e, zt_error_msg());
		goto out;
	}
	if ((err = proof_claims(c, db, htm, htu, now, e)) < 0)
		goto out;
	if (zt_jose_thumbprint(jkt, key) < 0)
		err = zt_oauth_fail(e, 500, "server_error", "cannot compute "
		    "the key thumbprint");
out:
	json_decref(c);
	zt_jose_key_free(key);
	zt_jws_free(&jws);
	return err;
}
