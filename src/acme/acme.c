/*
 * The stateless parts of the ACME engine: problem types, the JWS envelope
 * of every request, identifiers, key authorizations and the CSR's names.
 * Everything here reads untrusted input and is reached by the fuzz
 * harness tests/fuzz/fuzz_acme.c.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/acme.h"

/* ---- problems ----------------------------------------------------------- */

static const struct {
	const char *name;
	int status;
} probs[] = {
	[ZT_ACME_MALFORMED] = { "malformed", 400 },
	[ZT_ACME_BAD_NONCE] = { "badNonce", 400 },
	[ZT_ACME_BAD_SIGNATURE_ALGORITHM] = { "badSignatureAlgorithm", 400 },
	[ZT_ACME_UNAUTHORIZED] = { "unauthorized", 403 },
	[ZT_ACME_ACCOUNT_DOES_NOT_EXIST] = { "accountDoesNotExist", 400 },
	[ZT_ACME_REJECTED_IDENTIFIER] = { "rejectedIdentifier", 400 },
	[ZT_ACME_UNSUPPORTED_IDENTIFIER] = { "unsupportedIdentifier", 400 },
	[ZT_ACME_BAD_CSR] = { "badCSR", 400 },
	[ZT_ACME_ORDER_NOT_READY] = { "orderNotReady", 403 },
	[ZT_ACME_INCORRECT_RESPONSE] = { "incorrectResponse", 403 },
	[ZT_ACME_CONNECTION] = { "connection", 400 },
	[ZT_ACME_TLS] = { "tls", 400 },
	[ZT_ACME_ALREADY_REVOKED] = { "alreadyRevoked", 400 },
	[ZT_ACME_BAD_REVOCATION_REASON] = { "badRevocationReason", 400 },
	[ZT_ACME_BAD_PUBLIC_KEY] = { "badPublicKey", 400 },
	[ZT_ACME_INVALID_CONTACT] = { "invalidContact", 400 },
	[ZT_ACME_UNSUPPORTED_CONTACT] = { "unsupportedContact", 400 },
	[ZT_ACME_EXTERNAL_ACCOUNT_REQUIRED] =
	    { "externalAccountRequired", 403 },
	[ZT_ACME_SERVER_INTERNAL] = { "serverInternal", 500 },
};

const char *
zt_acme_prob_type(enum zt_acme_prob p)
{
	static _Thread_local char buf[80];

	if ((size_t)p >= ZT_ARRAY_LEN(probs))
		p = ZT_ACME_SERVER_INTERNAL;
	snprintf(buf, sizeof(buf), "urn:ietf:params:acme:error:%s",
	    probs[p].name);
	return buf;
}

int
zt_acme_prob_status(enum zt_acme_prob p)
{
	if ((size_t)p >= ZT_ARRAY_LEN(probs))
		return 500;
	return probs[p].status;
}

json_t *
zt_acme_prob_doc(enum zt_acme_prob p, const char *detail)
{
	return json_pack("{s:s,s:s,s:i}", "type", zt_acme_prob_type(p),
	    "detail", detail ? detail : "", "status", zt_acme_prob_status(p));
}

static int
fail(enum zt_acme_prob *prob, enum zt_acme_prob p, int err)
{
	if (prob)
		*prob = p;
	return err;
}

/* ---- the JWS envelope --------------------------------------------------- */

void
zt_acme_jws_free(zt_acme_jws *r)
{
	zt_jws_free(&r->jws);
	json_decref(r->payload);
	memset(r, 0, sizeof(*r));
}

/* The algorithm a protected header names, read before jose judges the
 * header, so that an algorithm we do not take is badSignatureAlgorithm
 * rather than malformed. */
static bool
alg_unsupported(const char *protected_b64)
{
	size_t n = strlen(protected_b64);
	json_t *h = NULL;
	const char *alg;
	zt_jose_alg a;
	char *buf;
	long len;
	bool bad = false;

	if (n > zt_b64url_len(ZT_JWS_HEADER_MAX) ||
	    (buf = malloc(n * 3 / 4 + 2)) == NULL)
		return false;
	len = zt_b64url_decode(buf, protected_b64, n);
	if (len > 0 && zt_json_parse(&h, buf, (size_t)len, 5) == 0 &&
	    (alg = json_string_value(json_object_get(h, "alg"))) != NULL)
		bad = zt_jose_alg_parse(alg, &a) < 0 ||
		    !(ZT_ACME_ALGS & (unsigned)a);
	json_decref(h);
	free(buf);
	return bad;
}

static int
header_check(zt_acme_jws *r, bool inner, enum zt_acme_prob *prob)
{
	json_t *h = r->jws.header, *kid = json_object_get(h, "kid");

	if (!(ZT_ACME_ALGS & (unsigned)r->jws.alg))
		return fail(prob, ZT_ACME_BAD_SIGNATURE_ALGORITHM,
		    zt_error_set(ZT_EINVAL, "the JWS algorithm %s is not "
		    "accepted", zt_jose_alg_name(r->jws.alg)));
	r->url = json_string_value(json_object_get(h, "url"));
	r->nonce = json_string_value(json_object_get(h, "nonce"));
	r->jwk = json_object_get(h, "jwk");
	r->kid = kid ? json_string_value(kid) : NULL;
	if (r->url == NULL || r->url[0] == '\0')
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "the JWS header has no \"url\""));
	if (!inner && (r->nonce == NULL || r->nonce[0] == '\0'))
		return fail(prob, ZT_ACME_BAD_NONCE, zt_error_set(ZT_EINVAL,
		    "the JWS header has no \"nonce\""));
	if ((r->jwk != NULL) == (kid != NULL))
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "the JWS header needs exactly one of \"jwk\" and "
		    "\"kid\""));
	if (kid && r->kid == NULL)
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "the JWS \"kid\" is not a string"));
	if (r->jwk && !json_is_object(r->jwk))
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "the JWS \"jwk\" is not an object"));
	return ZT_OK;
}

int
zt_acme_jws_parse_json(zt_acme_jws *out, json_t *obj, bool inner,
    enum zt_acme_prob *prob)
{
	const char *p, *pl, *sig;
	zt_buf tok = ZT_BUF_INIT(ZT_JWS_MAX + 8);
	int err;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj) || json_object_size(obj) != 3 ||
	    (p = json_string_value(json_object_get(obj, "protected"))) ==
	    NULL ||
	    (pl = json_string_value(json_object_get(obj, "payload"))) ==
	    NULL ||
	    (sig = json_string_value(json_object_get(obj, "signature"))) ==
	    NULL)
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "the request is not a flattened JWS of exactly "
		    "\"protected\", \"payload\" and \"signature\""));

	/* jose verifies compact JWS: the flattened form is the same three
	 * parts, so join them and let it do the work. */
	if (zt_buf_addf(&tok, "%s.%s.%s", p, pl, sig) < 0) {
		zt_buf_free(&tok);
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_ETOOBIG,
		    "the JWS is longer than %d bytes", ZT_JWS_MAX));
	}
	err = zt_jws_parse(&out->jws, tok.data, tok.len);
	zt_buf_free(&tok);
	if (err < 0) {
		if (alg_unsupported(p))
			return fail(prob, ZT_ACME_BAD_SIGNATURE_ALGORITHM,
			    zt_error_set(ZT_EINVAL, "the JWS algorithm is "
			    "not accepted"));
		return fail(prob, ZT_ACME_MALFORMED, err);
	}
	if ((err = header_check(out, inner, prob)) < 0)
		goto bad;
	if (out->jws.payload_len > 0 &&
	    (zt_json_parse(&out->payload, out->jws.payload,
	    out->jws.payload_len, 8) < 0 || !json_is_object(out->payload))) {
		err = fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "the JWS payload is not a JSON object"));
		goto bad;
	}
	return ZT_OK;
bad:
	zt_acme_jws_free(out);
	return err;
}

int
zt_acme_jws_parse(zt_acme_jws *out, const char *body, size_t len,
    bool inner, enum zt_acme_prob *prob)
{
	json_t *obj;
	int err;

	memset(out, 0, sizeof(*out));
	if (len > ZT_ACME_BODY_MAX)
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_ETOOBIG,
		    "the request is longer than %d bytes", ZT_ACME_BODY_MAX));
	if (zt_json_parse(&obj, body, len, 8) < 0)
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "the request is not JSON"));
	err = zt_acme_jws_parse_json(out, obj, inner, prob);
	json_decref(obj);
	return err;
}

int
zt_acme_jws_verify(const zt_acme_jws *r, const zt_jose_key *key)
{
	return zt_jws_verify(&r->jws, key, ZT_ACME_ALGS);
}

int
zt_acme_keyauth(char *out, size_t outlen, const char *token,
    const zt_jose_key *key)
{
	char tp[ZT_JOSE_THUMBPRINT_LEN + 1];
	int err;

	if ((err = zt_jose_thumbprint(tp, key)) < 0)
		return err;
	if ((size_t)snprintf(out, outlen, "%s.%s", token, tp) >= outlen)
		return zt_error_set(ZT_ETOOBIG, "key authorization too long");
	return ZT_OK;
}

/* ---- identifiers -------------------------------------------------------- */

/* A DNS name as RFC 1123 hosts have it: labels of letters, digits and
 * inner hyphens, 1 to 63 bytes each, at least two labels, 253 in all,
 * not all-numeric at the end (that would be an IP address). */
static bool
dns_name_ok(const char *s)
{
	size_t n = strlen(s), label = 0, labels = 1, i;
	bool digits_only = true;

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			labels++;
			digits_only = true;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (!(c >= '0' && c <= '9'))
			digits_only = false;
		if (++label > 63)
			return false;
	}
	return labels >= 2 && s[n - 1] != '-' && !digits_only;
}

int
zt_acme_identifier_check(json_t *ident, char *out, size_t outlen,
    bool *is_ip, enum zt_acme_prob *prob)
{
	const char *type, *value;
	unsigned char addr[16];
	size_t i, n;

	if (!json_is_object(ident) || json_object_size(ident) != 2 ||
	    (type = json_string_value(json_object_get(ident, "type"))) ==
	    NULL ||
	    (value = json_string_value(json_object_get(ident, "value"))) ==
	    NULL)
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "an identifier is {\"type\", \"value\"}"));
	n = strlen(value);
	if (n == 0 || n >= outlen || n > 253)
		return fail(prob, ZT_ACME_REJECTED_IDENTIFIER,
		    zt_error_set(ZT_EINVAL, "an identifier is empty or too "
		    "long"));
	if (strcmp(type, "ip") == 0) {
		int af = strchr(value, ':') ? AF_INET6 : AF_INET;

		if (inet_pton(af, value, addr) != 1 ||
		    inet_ntop(af, addr, out, (socklen_t)outlen) == NULL)
			return fail(prob, ZT_ACME_MALFORMED,
			    zt_error_set(ZT_EINVAL, "an ip identifier is not "
			    "an IP address"));
		*is_ip = true;
		return ZT_OK;
	}
	if (strcmp(type, "dns") != 0)
		return fail(prob, ZT_ACME_UNSUPPORTED_IDENTIFIER,
		    zt_error_set(ZT_EINVAL, "identifier types are dns and ip"));
	for (i = 0; i <= n; i++)
		out[i] = (value[i] >= 'A' && value[i] <= 'Z') ?
		    (char)(value[i] - 'A' + 'a') : value[i];
	if (out[0] == '*')
		return fail(prob, ZT_ACME_REJECTED_IDENTIFIER,
		    zt_error_set(ZT_EINVAL, "wildcard names need dns-01, "
		    "which this server does not offer"));
	if (!dns_name_ok(out))
		return fail(prob, ZT_ACME_REJECTED_IDENTIFIER,
		    zt_error_set(ZT_EINVAL, "an identifier is not a DNS "
		    "host name"));
	*is_ip = false;
	return ZT_OK;
}

/* ---- CSR names ---------------------------------------------------------- */

static bool
ident_has(json_t *identifiers, const char *type, const char *value)
{
	json_t *v;
	size_t i;

	json_array_foreach(identifiers, i, v)
		if (strcmp(json_string_value(json_object_get(v, "type")),
		    type) == 0 && strcmp(json_string_value(json_object_get(v,
		    "value")), value) == 0)
			return true;
	return false;
}

/* Collects the CSR's DNS and IP SANs into `names` as identifiers. */
static int
csr_sans(X509_REQ *req, json_t *names)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens = NULL;
	char ip[64];
	int i, err = ZT_OK;

	if (exts)
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;
		int len;

		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			if (len <= 0 || len > 253 ||
			    memchr(d, 0, (size_t)len) != NULL) {
				err = ZT_EINVAL;
				break;
			}
			json_array_append_new(names, json_pack("{s:s,s:s%}",
			    "type", "dns", "value", d, (size_t)len));
		} else if (g->type == GEN_IPADD) {
			len = ASN1_STRING_length(g->d.iPAddress);
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			if ((len != 4 && len != 16) || inet_ntop(len == 4 ?
			    AF_INET : AF_INET6, d, ip, sizeof(ip)) == NULL) {
				err = ZT_EINVAL;
				break;
			}
			json_array_append_new(names, json_pack("{s:s,s:s}",
			    "type", "ip", "value", ip));
		} else {
			err = ZT_EINVAL;
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return err;
}

/* The CSR's CN, if any, must name one of the identifiers. */
static bool
csr_cn_ok(X509_REQ *req, json_t *identifiers)
{
	X509_NAME *subj = X509_REQ_get_subject_name(req);
	int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	unsigned char *cn = NULL;
	char lower[256];
	bool ok;
	int len;

	if (idx < 0)
		return true;
	len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(subj, idx)));
	if (len <= 0 || (size_t)len >= sizeof(lower)) {
		OPENSSL_free(cn);
		return false;
	}
	for (idx = 0; idx <= len; idx++)
		lower[idx] = (cn[idx] >= 'A' && cn[idx] <= 'Z') ?
		    (char)(cn[idx] - 'A' + 'a') : (char)cn[idx];
	lower[len] = '\0';
	OPENSSL_free(cn);
	ok = ident_has(identifiers, "dns", lower) ||
	    ident_has(identifiers, "ip", lower);
	return ok;
}

int
zt_acme_csr_match(const uint8_t *der, size_t len, json_t *identifiers,
    enum zt_acme_prob *prob)
{
	const unsigned char *p = der;
	X509_REQ *req = NULL;
	json_t *names = NULL, *v;
	size_t i, j;
	int err = ZT_OK;

	if (len == 0 || len > 16384 ||
	    (req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		X509_REQ_free(req);
		return fail(prob, ZT_ACME_BAD_CSR, zt_error_set(ZT_EINVAL,
		    "the CSR is not one DER PKCS#10 request"));
	}
	names = json_array();
	if (csr_sans(req, names) < 0) {
		err = fail(prob, ZT_ACME_BAD_CSR, zt_error_set(ZT_EINVAL,
		    "the CSR asks for a name that is not a DNS name or IP "
		    "address"));
		goto out;
	}
	/* Lowercase the CSR's DNS names: names compare without case. */
	json_array_foreach(names, i, v) {
		char buf[256];
		const char *s = json_string_value(json_object_get(v, "value"));

		for (j = 0; s[j] && j < sizeof(buf) - 1; j++)
			buf[j] = (s[j] >= 'A' && s[j] <= 'Z') ?
			    (char)(s[j] - 'A' + 'a') : s[j];
		buf[j] = '\0';
		json_object_set_new(v, "value", json_string(buf));
		if (!ident_has(identifiers, json_string_value(
		    json_object_get(v, "type")), buf)) {
			err = fail(prob, ZT_ACME_BAD_CSR, zt_error_set(
			    ZT_EINVAL, "the CSR names something the order "
			    "does not"));
			goto out;
		}
	}
	json_array_foreach(identifiers, i, v)
		if (!ident_has(names, json_string_value(json_object_get(v,
		    "type")), json_string_value(json_object_get(v, "value")))) {
			err = fail(prob, ZT_ACME_BAD_CSR, zt_error_set(
			    ZT_EINVAL, "the CSR does not name every "
			    "identifier of the order"));
			goto out;
		}
	if (!csr_cn_ok(req, identifiers))
		err = fail(prob, ZT_ACME_BAD_CSR, zt_error_set(ZT_EINVAL,
		    "the CSR's common name is not one of the order's "
		    "identifiers"));
out:
	json_decref(names);
	X509_REQ_free(req);
	return err;
}
