/*
 * ocsp.c: the OCSP responder (RFC 6960), as a function from the bytes of
 * an OCSPRequest to the bytes of an OCSPResponse.  The HTTP layer hands in
 * a POST body, or the GET path segment through zt_ca_ocsp_decode_get.
 *
 * The request is untrusted and read by OpenSSL's DER decoder under our own
 * limits first: at most ZT_CA_OCSP_REQ_MAX bytes, exactly one DER value,
 * 1 to ZT_CA_OCSP_IDS_MAX CertIDs.  Anything else gets a malformedRequest
 * response (not an error: the client gets an answer it understands).  A
 * request whose CertIDs all name other issuers gets unauthorized, the
 * answer RFC 5019 gives for an issuer a responder does not serve; mixed
 * with ours, a foreign CertID is "unknown".  A serial of ours that the
 * status source does not know is "unknown" as well.
 *
 * CertIDs hashed with SHA-1 (what most clients send) and SHA-256 are
 * recognised; their issuer hashes are computed once in zt_ca_new.
 * Request signatures are not required and not checked.  The nonce
 * extension is copied into the response when present.  When the status
 * source fails, the answer is tryLater (database busy or unreachable) or
 * internalError.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "ca/ca_int.h"

static int
response_bytes(uint8_t **out, size_t *outlen, OCSP_RESPONSE *resp)
{
	uint8_t *der = NULL;
	int n;

	if (resp == NULL || (n = i2d_OCSP_RESPONSE(resp, &der)) <= 0) {
		OCSP_RESPONSE_free(resp);
		return ca_ssl_error(ZT_ENOMEM, "encoding the OCSP response");
	}
	OCSP_RESPONSE_free(resp);
	if ((*out = malloc((size_t)n)) == NULL) {
		OPENSSL_free(der);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	memcpy(*out, der, (size_t)n);
	*outlen = (size_t)n;
	OPENSSL_free(der);
	return ZT_OK;
}

static int
error_response(uint8_t **out, size_t *outlen, int status)
{
	ERR_clear_error();
	return response_bytes(out, outlen, OCSP_response_create(status, NULL));
}

/* True when `cid` names the responder's issuer by a hash we know. */
static bool
issuer_matches(const zt_ca *ca, OCSP_CERTID *cid, ASN1_INTEGER **serial)
{
	ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
	ASN1_OBJECT *md = NULL;
	const uint8_t *name, *key;
	size_t n;

	if (!OCSP_id_get0_info(&nh, &md, &kh, serial, cid) || nh == NULL ||
	    kh == NULL || *serial == NULL)
		return false;
	switch (OBJ_obj2nid(md)) {
	case NID_sha1:
		name = ca->name_sha1, key = ca->key_sha1, n = 20;
		break;
	case NID_sha256:
		name = ca->name_sha256, key = ca->key_sha256, n = 32;
		break;
	default:
		return false;
	}
	return nh->length == (int)n && kh->length == (int)n &&
	    memcmp(nh->data, name, n) == 0 && memcmp(kh->data, key, n) == 0;
}

/* Adds the SingleResponse for one CertID; *ours counts our issuer's. */
static int
add_single(OCSP_BASICRESP *bs, const zt_ca_ocsp *rsp, OCSP_CERTID *cid,
    ASN1_TIME *now, ASN1_TIME *next, int *ours)
{
	enum zt_ca_status status = ZT_CA_UNKNOWN;
	char serial[ZT_CA_SERIAL_HEX];
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *rt = NULL;
	int64_t at = 0;
	int reason = 0, err, st, rc;

	if (issuer_matches(rsp->ca, cid, &sn)) {
		(*ours)++;
		/* A serial too long for us was not issued by us. */
		if (ca_serial_hex(sn, serial) == ZT_OK &&
		    (err = rsp->status(rsp->status_arg, rsp->ca->key_id,
		    serial, &status, &at, &reason)) < 0)
			return err;
	}
	switch (status) {
	case ZT_CA_GOOD:
		st = V_OCSP_CERTSTATUS_GOOD;
		break;
	case ZT_CA_REVOKED:
		st = V_OCSP_CERTSTATUS_REVOKED;
		if ((rt = ASN1_GENERALIZEDTIME_set(NULL,
		    (time_t)(at / 1000))) == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
		break;
	default:
		st = V_OCSP_CERTSTATUS_UNKNOWN;
		break;
	}
	rc = OCSP_basic_add1_status(bs, cid, st,
	    st == V_OCSP_CERTSTATUS_REVOKED && reason != 0 ? reason :
	    OCSP_REVOKED_STATUS_NOSTATUS, rt, now, next) != NULL;
	ASN1_TIME_free(rt);
	return rc ? ZT_OK : ca_ssl_error(ZT_ENOMEM, "OCSP single response");
}

int
zt_ca_ocsp_respond(uint8_t **out, size_t *outlen, const zt_ca_ocsp *rsp,
    const uint8_t *req, size_t reqlen)
{
	const uint8_t *p = req;
	OCSP_REQUEST *r = NULL;
	OCSP_BASICRESP *bs = NULL;
	ASN1_TIME *now = NULL, *next = NULL;
	int64_t t = zt_now_ms() / 1000, validity;
	X509 *signer = rsp->signer ? rsp->signer : rsp->ca->cert;
	EVP_PKEY *key = rsp->signer ? rsp->signer_key : rsp->ca->key;
	unsigned long flags = OCSP_RESPID_KEY;
	int i, n, ours = 0, err;

	if (req == NULL || reqlen == 0 || reqlen > ZT_CA_OCSP_REQ_MAX ||
	    (r = d2i_OCSP_REQUEST(NULL, &p, (long)reqlen)) == NULL ||
	    p != req + reqlen) {
		OCSP_REQUEST_free(r);
		return error_response(out, outlen,
		    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	}
	n = OCSP_request_onereq_count(r);
	if (n < 1 || n > ZT_CA_OCSP_IDS_MAX) {
		OCSP_REQUEST_free(r);
		return error_response(out, outlen,
		    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	}
	validity = rsp->validity_s > 0 ? rsp->validity_s : 3600;
	if ((bs = OCSP_BASICRESP_new()) == NULL ||
	    (now = ASN1_GENERALIZEDTIME_set(NULL, (time_t)t)) == NULL ||
	    (next = ASN1_GENERALIZEDTIME_set(NULL,
	    (time_t)(t + validity))) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		OCSP_CERTID *cid = OCSP_onereq_get0_id(
		    OCSP_request_onereq_get0(r, i));

		if ((err = add_single(bs, rsp, cid, now, next, &ours)) < 0) {
			/* The status source failed: the client should try
			 * again (database busy or away) or learn that we
			 * could not answer, rather than get no response. */
			log_warn("ocsp: status lookup failed",
			    ZS("error", zt_error_msg()));
			err = error_response(out, outlen, err == ZT_EBUSY ||
			    err == ZT_EUNAVAIL ? OCSP_RESPONSE_STATUS_TRYLATER :
			    OCSP_RESPONSE_STATUS_INTERNALERROR);
			goto out;
		}
	}
	if (ours == 0) {
		err = error_response(out, outlen,
		    OCSP_RESPONSE_STATUS_UNAUTHORIZED);
		goto out;
	}
	if (OCSP_copy_nonce(bs, r) <= 0) {
		err = ca_ssl_error(ZT_ERR, "OCSP nonce");
		goto out;
	}
	/* The CA's own signature needs no certificate; a delegated
	 * responder's certificate goes along. */
	if (!OCSP_basic_sign(bs, signer, key, rsp->signer ? ca_md_for(key) :
	    rsp->ca->md, NULL, flags | (rsp->signer ? 0 : OCSP_NOCERTS))) {
		err = ca_ssl_error(ZT_ERR, "signing the OCSP response");
		goto out;
	}
	err = response_bytes(out, outlen, OCSP_response_create(
	    OCSP_RESPONSE_STATUS_SUCCESSFUL, bs));
out:
	ERR_clear_error();
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(r);
	return err;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
zt_ca_ocsp_decode_get(uint8_t **der, size_t *len, const char *path)
{
	size_t n = path ? strnlen(path, 4 * ZT_CA_OCSP_REQ_MAX + 1) : 0;
	size_t i, o = 0;
	char *b64 = NULL;
	uint8_t *buf = NULL;
	EVP_ENCODE_CTX *ctx = NULL;
	int k, tail, err = ZT_OK;

	if (n == 0 || n > 4 * ZT_CA_OCSP_REQ_MAX)
		return zt_error_set(ZT_EINVAL, "OCSP GET request is empty or "
		    "too long");
	if ((b64 = malloc(n + 1)) == NULL || (buf = malloc(n)) == NULL ||
	    (ctx = EVP_ENCODE_CTX_new()) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	/* Undo percent-encoding; only the base64 alphabet may remain. */
	for (i = 0; i < n; i++) {
		char c = path[i];

		if (c == '%') {
			if (i + 2 >= n || hexval(path[i + 1]) < 0 ||
			    hexval(path[i + 2]) < 0) {
				err = zt_error_set(ZT_EINVAL, "bad percent-"
				    "encoding in the OCSP request");
				goto out;
			}
			c = (char)(hexval(path[i + 1]) * 16 +
			    hexval(path[i + 2]));
			i += 2;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		    c == '=')) {
			err = zt_error_set(ZT_EINVAL, "OCSP request is not "
			    "base64");
			goto out;
		}
		b64[o++] = c;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, buf, &k, (const unsigned char *)b64,
	    (int)o) < 0 || EVP_DecodeFinal(ctx, buf + k, &tail) != 1 ||
	    k + tail == 0) {
		err = zt_error_set(ZT_EINVAL, "OCSP request is not base64");
		goto out;
	}
	*der = buf;
	*len = (size_t)(k + tail);
	buf = NULL;
out:
	EVP_ENCODE_CTX_free(ctx);
	free(b64);
	free(buf);
	return err;
}

int
zt_ca_ocsp_signer_create(X509 **out, const zt_ca *ca, EVP_PKEY *pub,
    int64_t ttl)
{
	X509 *x = X509_new();
	ASN1_INTEGER *sn = NULL;
	char hex[ZT_CA_SERIAL_HEX], cn[SPIFFE_TD_MAX + 32];
	int64_t now = zt_now_ms(), na = now + ttl * 1000;
	int err;

	if (x == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if (ttl <= 0 || na > ca->not_after)
		na = ca->not_after;
	snprintf(cn, sizeof(cn), "%.40s OCSP responder", ca->trust_domain);
	if ((err = ca_serial_new(&sn, hex)) < 0)
		goto out;
	X509_set_version(x, X509_VERSION_3);
	X509_set_serialNumber(x, sn);
	X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_pubkey(x, pub);
	if ((err = ca_set_validity(x, now - ca->backdate * 1000, na)) < 0 ||
	    (err = ca_add_ext(x, ca->cert, NID_basic_constraints,
	    "critical,CA:FALSE")) < 0 ||
	    (err = ca_add_ext(x, ca->cert, NID_key_usage,
	    "critical,digitalSignature")) < 0 ||
	    (err = ca_add_ext(x, ca->cert, NID_ext_key_usage,
	    "OCSPSigning")) < 0 ||
	    (err = ca_add_ext(x, ca->cert, NID_id_pkix_OCSP_noCheck,
	    "ignored")) < 0 ||
	    (err = ca_add_ext(x, ca->cert, NID_subject_key_identifier,
	    "hash")) < 0 ||
	    (err = ca_add_ext(x, ca->cert, NID_authority_key_identifier,
	    "keyid:always")) < 0)
		goto out;
	if (X509_sign(x, ca->key, ca->md) <= 0) {
		err = ca_ssl_error(ZT_ERR, "signing failed");
		goto out;
	}
	*out = x;
	x = NULL;
out:
	ASN1_INTEGER_free(sn);
	X509_free(x);
	return err;
}
