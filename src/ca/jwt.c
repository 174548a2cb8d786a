/*
 * jwt.c: JWT-SVIDs (SPIFFE JWT-SVID specification) signed through the
 * jose module, and their keys in the trust bundle.
 *
 * A JWT-SVID carries "sub" (the SPIFFE ID), "aud" (one or more audiences,
 * required), "exp" (required) and "iat"; its header names the algorithm
 * and the key ("kid", required by the bundle rules so that a validator
 * can pick the key), with "typ": "JWT".  The specification allows the RS,
 * ES and PS families only, so an EdDSA signer is refused.  A JWT-SVID is
 * a bearer token, so lifetimes are short: 5 minutes by default, an hour
 * at most.  The same gate decides as for X.509-SVIDs, and issuance and
 * refusal are audited ("jwt_svid.issue", "cert.refuse").
 */
#include <stdio.h>
#include <string.h>

#include "ca/ca_int.h"

#define JWT_TTL_DEFAULT 300
#define JWT_TTL_MAX 3600
/* Audiences are names of services; 8 of 256 bytes bound the token. */
#define JWT_AUD_MAX 8
#define JWT_AUD_LEN 256

static int
check_aud(const char *const *aud, size_t naud)
{
	size_t i, j, n;

	if (naud == 0)
		return zt_error_set(ZT_EINVAL, "a JWT-SVID needs an audience");
	if (naud > JWT_AUD_MAX)
		return zt_error_set(ZT_EINVAL, "more than %d audiences",
		    JWT_AUD_MAX);
	for (i = 0; i < naud; i++) {
		n = aud[i] ? strnlen(aud[i], JWT_AUD_LEN + 1) : 0;
		if (n == 0 || n > JWT_AUD_LEN)
			return zt_error_set(ZT_EINVAL, "audience %zu: 1 to %d "
			    "bytes", i + 1, JWT_AUD_LEN);
		for (j = 0; j < n; j++)
			if ((unsigned char)aud[i][j] < 0x21 ||
			    (unsigned char)aud[i][j] > 0x7e)
				return zt_error_set(ZT_EINVAL, "audience %zu: "
				    "printable ASCII only", i + 1);
	}
	return ZT_OK;
}

static int
jwt_audit(zt_db *db, const zt_ca_request *req, const char *kid,
    int64_t exp)
{
	char target[300];
	zt_audit_entry e;
	json_t *after;
	int err;

	snprintf(target, sizeof(target), "identity:%s", req->identity_id);
	after = json_pack("{s:s, s:s?, s:I, s:s?}", "spiffe_id",
	    req->spiffe_id, "kid", kid, "exp", (json_int_t)exp, "via",
	    req->via);
	e = (zt_audit_entry){ "jwt_svid.issue", req->tenant, target, NULL,
	    after };
	if ((err = zt_db_begin(db)) == ZT_OK) {
		if ((err = zt_audit_append(db, req->caller, &e)) < 0 ||
		    (err = zt_db_commit(db)) < 0)
			zt_db_rollback(db);
	}
	json_decref(after);
	return err;
}

static int
jwt_admit(zt_ca *ca, const zt_ca_request *req, zt_jose_signer *signer,
    const char *const *aud, size_t naud, int64_t *ttl)
{
	zt_ca_decision d = { false, 0, "refused by the issuance gate" };
	zt_ca_request svid = *req;
	int err;

	if (req->profile != ZT_CA_SVID)
		return zt_error_set(ZT_EINVAL, "a JWT-SVID uses the svid "
		    "profile");
	if (signer == NULL || zt_jose_signer_kid(signer) == NULL ||
	    zt_jose_signer_alg(signer) == ZT_JOSE_EDDSA)
		return zt_error_set(ZT_EINVAL, "JWT-SVID signer must have a "
		    "kid and an RS, ES or PS algorithm");
	if (req->ttl < 0 || req->ttl > JWT_TTL_MAX)
		return zt_error_set(ZT_EINVAL, "ttl must be 1 to %d seconds "
		    "for a JWT-SVID", JWT_TTL_MAX);
	svid.ttl = 0;	/* the X.509 profile's cap is not this one's */
	if ((err = ca_check_request(ca, &svid)) < 0 ||
	    (err = check_aud(aud, naud)) < 0)
		return err;
	if (ca->gate == NULL)
		return zt_error_set(ZT_EFORBIDDEN, "no issuance gate is "
		    "configured");
	ca->gate(ca->gate_arg, req, &d);
	if (!d.allow) {
		d.reason[sizeof(d.reason) - 1] = '\0';
		return zt_error_set(ZT_EFORBIDDEN, "%s", d.reason[0] ?
		    d.reason : "refused by the issuance gate");
	}
	*ttl = req->ttl > 0 ? req->ttl : JWT_TTL_DEFAULT;
	if (d.max_ttl > 0 && *ttl > d.max_ttl)
		*ttl = d.max_ttl;
	return ZT_OK;
}

int
zt_ca_jwt_svid(char **token, zt_ca *ca, zt_db *db, const zt_ca_request *req,
    zt_jose_signer *signer, const char *const *aud, size_t naud)
{
	zt_buf b = ZT_BUF_INIT(ZT_JWS_MAX);
	int64_t now = zt_now_ms() / 1000, ttl = 0;
	json_t *claims, *a;
	char why[256];
	size_t i;
	int err;

	*token = NULL;
	if ((err = jwt_admit(ca, req, signer, aud, naud, &ttl)) < 0) {
		snprintf(why, sizeof(why), "%s", zt_error_msg());
		if (db != NULL)
			(void)ca_audit_refusal(db, req, why);
		return zt_error_set(err, "%s", why);
	}
	a = naud == 1 ? json_string(aud[0]) : json_array();
	for (i = 0; naud > 1 && i < naud; i++)
		json_array_append_new(a, json_string(aud[i]));
	claims = json_pack("{s:s, s:o, s:I, s:I}", "sub", req->spiffe_id,
	    "aud", a, "exp", (json_int_t)(now + ttl), "iat", (json_int_t)now);
	if (claims == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	err = zt_jose_sign_json(&b, signer, "JWT", claims);
	json_decref(claims);
	if (err == ZT_OK && db != NULL)
		err = jwt_audit(db, req, zt_jose_signer_kid(signer),
		    (now + ttl) * 1000);
	if (err < 0) {
		zt_buf_free(&b);
		return err;
	}
	*token = zt_buf_detach(&b);
	return ZT_OK;
}

int
zt_ca_bundle_add_jwt(json_t *bundle, const zt_jose_key *key,
    const char *kid, zt_jose_alg alg)
{
	if (kid == NULL || kid[0] == '\0')
		return zt_error_set(ZT_EINVAL, "a jwt-svid bundle key needs a "
		    "kid");
	return zt_jose_jwks_add(bundle, key, kid, alg, "jwt-svid");
}
