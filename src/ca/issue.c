/*
 * issue.c: checking requests and CSRs, the gate, and signing leaves.
 *
 * The order is fixed, cheapest refusal first: the request's own shape
 * against its profile, then the CSR (size, syntax, signature, key, asked-for
 * extensions), then the gate.  Only after the gate said yes is a key
 * generated or the CA key used.  A CSR contributes its public key and
 * nothing else: subject and extensions come from the approved request.
 * Names the CSR asks for must each be among the approved ones, so a
 * request that wants more than it is given fails loudly instead of
 * silently getting less.
 *
 * Profiles (docs/ca.md):
 *   svid        one critical URI SAN (the SPIFFE ID, in this CA's trust
 *               domain, with a path), empty subject, serverAuth+clientAuth
 *   tls-server  DNS and IP SANs, CN = the first name, serverAuth
 *   tls-client  CN = the person or device, optional SPIFFE ID and e-mail,
 *               clientAuth
 * All leaves: CA:FALSE critical, keyUsage digitalSignature (plus
 * keyEncipherment for RSA) critical, SKI, AKI, the CRL distribution point
 * and OCSP AIA when configured, 128-bit random serial, notBefore backdated
 * a little, notAfter capped by the CA's.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/ca_int.h"
#include "identity/identity.h"

struct profile {
	const char *name;
	int64_t ttl;		/* default, seconds */
	int64_t max_ttl;
};

static const struct profile profiles[] = {
	[ZT_CA_SVID] = { "svid", 3600, 86400 },
	[ZT_CA_TLS_SERVER] = { "tls-server", 86400, 397 * 86400 },
	[ZT_CA_TLS_CLIENT] = { "tls-client", 86400, 90 * 86400 },
};

const char *
zt_ca_profile_name(enum zt_ca_profile p)
{
	return (unsigned)p < ZT_ARRAY_LEN(profiles) ? profiles[p].name : "?";
}

int
zt_ca_profile_parse(const char *s, enum zt_ca_profile *out)
{
	size_t i;

	for (i = 0; s != NULL && i < ZT_ARRAY_LEN(profiles); i++)
		if (strcmp(s, profiles[i].name) == 0) {
			*out = (enum zt_ca_profile)i;
			return ZT_OK;
		}
	return zt_error_set(ZT_EINVAL, "profile must be svid, tls-server or "
	    "tls-client");
}

static char *make_chain_pem(const zt_ca *ca);

/* ---- leaf extensions made once per CA -------------------------------------- */

static int
conf_ext(X509_EXTENSION **out, zt_ca *ca, int nid, const char *value)
{
	X509V3_CTX ctx;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, NULL, 0);
	if ((*out = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return ca_ssl_error(ZT_ERR, "leaf extension");
	return ZT_OK;
}

int
ca_leaf_exts_init(zt_ca *ca)
{
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	char v[1100];
	int err;

	if (akid == NULL || (akid->keyid = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(akid->keyid, ca->ski, ca->ski_len) ||
	    (ca->x_aki = X509V3_EXT_i2d(NID_authority_key_identifier, 0,
	    akid)) == NULL) {
		AUTHORITY_KEYID_free(akid);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	AUTHORITY_KEYID_free(akid);
	if ((err = conf_ext(&ca->x_bc, ca, NID_basic_constraints,
	    "critical,CA:FALSE")) < 0 ||
	    (err = conf_ext(&ca->x_ku_sig, ca, NID_key_usage,
	    "critical,digitalSignature")) < 0 ||
	    (err = conf_ext(&ca->x_ku_rsa, ca, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment")) < 0 ||
	    (err = conf_ext(&ca->x_eku_both, ca, NID_ext_key_usage,
	    "serverAuth,clientAuth")) < 0 ||
	    (err = conf_ext(&ca->x_eku_server, ca, NID_ext_key_usage,
	    "serverAuth")) < 0 ||
	    (err = conf_ext(&ca->x_eku_client, ca, NID_ext_key_usage,
	    "clientAuth")) < 0)
		return err;
	if ((ca->chain_pem = make_chain_pem(ca)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	/* The URLs were checked by zt_ca_new: http(s), no commas or
	 * spaces, so they cannot add a second value here. */
	if (ca->crl_url) {
		snprintf(v, sizeof(v), "URI:%s", ca->crl_url);
		if ((err = conf_ext(&ca->x_cdp, ca, NID_crl_distribution_points,
		    v)) < 0)
			return err;
	}
	if (ca->ocsp_url) {
		snprintf(v, sizeof(v), "OCSP;URI:%s", ca->ocsp_url);
		if ((err = conf_ext(&ca->x_aia, ca, NID_info_access, v)) < 0)
			return err;
	}
	return ZT_OK;
}

void
ca_leaf_exts_free(zt_ca *ca)
{
	X509_EXTENSION_free(ca->x_bc);
	X509_EXTENSION_free(ca->x_ku_sig);
	X509_EXTENSION_free(ca->x_ku_rsa);
	X509_EXTENSION_free(ca->x_eku_both);
	X509_EXTENSION_free(ca->x_eku_server);
	X509_EXTENSION_free(ca->x_eku_client);
	X509_EXTENSION_free(ca->x_aki);
	X509_EXTENSION_free(ca->x_cdp);
	X509_EXTENSION_free(ca->x_aia);
	free(ca->chain_pem);
}

/* ---- names ------------------------------------------------------------------------ */

/* A host name of LDH labels, 1-63 bytes each, 253 in all, lower case
 * (the caller folds), optionally "*." in front. */
static bool
dns_valid(const char *s)
{
	size_t n = strnlen(s, 254), lab = 0, i;

	if (n == 0 || n > 253)
		return false;
	if (s[0] == '*' && s[1] == '.')
		s += 2, n -= 2;
	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-') || (c == '-' && lab == 0) || ++lab > 63)
			return false;
	}
	return lab > 0 && s[n - 1] != '-';
}

/* The 4 or 16 bytes of an IP literal, or 0. */
static int
ip_bytes(uint8_t out[16], const char *s)
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) == 1)
		return 16;
	return 0;
}

static bool
email_valid(const char *s)
{
	size_t n = strnlen(s, 255), i, at = 0, ats = 0;

	if (n == 0 || n > 254)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == ',' || c == '<' ||
		    c == '>' || c == '"' || c == '\\')
			return false;
		if (c == '@')
			at = i, ats++;
	}
	return ats == 1 && at > 0 && at + 1 < n && dns_valid(s + at + 1);
}

static bool
cn_valid(const char *s)
{
	size_t n = strnlen(s, 65), i;

	if (n == 0 || n > 64 || !zt_utf8_valid(s, n))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int
check_svid_id(const zt_ca *ca, const char *id)
{
	zt_spiffe_id sid;

	if (id == NULL)
		return zt_error_set(ZT_EINVAL, "a SPIFFE ID is required");
	if (zt_spiffe_id_validate(id) < 0 ||
	    zt_spiffe_id_parse(&sid, id, strlen(id)) < 0)
		return ZT_EINVAL;
	if (strcmp(sid.trust_domain, ca->trust_domain) != 0)
		return zt_error_set(ZT_EINVAL, "SPIFFE ID is outside the trust "
		    "domain %s", ca->trust_domain);
	if (sid.nsegs == 0)
		return zt_error_set(ZT_EINVAL, "a leaf SPIFFE ID needs a path "
		    "(X509-SVID 3.1)");
	return ZT_OK;
}

static int
check_server_names(const zt_ca_request *req)
{
	uint8_t ip[16];
	size_t i;

	if (req->ndns + req->nips == 0)
		return zt_error_set(ZT_EINVAL, "a TLS server certificate needs "
		    "a DNS name or an IP address");
	if (req->ndns + req->nips > ZT_CA_NAMES_MAX)
		return zt_error_set(ZT_EINVAL, "more than %d names",
		    ZT_CA_NAMES_MAX);
	for (i = 0; i < req->ndns; i++)
		if (req->dns[i] == NULL || !dns_valid(req->dns[i]))
			return zt_error_set(ZT_EINVAL, "DNS name %zu is not a "
			    "lower-case host name", i + 1);
	for (i = 0; i < req->nips; i++)
		if (req->ips[i] == NULL || ip_bytes(ip, req->ips[i]) == 0)
			return zt_error_set(ZT_EINVAL, "IP address %zu is not "
			    "an IPv4 or IPv6 literal", i + 1);
	return ZT_OK;
}

/* The request's shape against its profile, before anything is parsed. */
int
ca_check_request(const zt_ca *ca, const zt_ca_request *req)
{
	const struct profile *p;
	int err;

	if ((unsigned)req->profile >= ZT_ARRAY_LEN(profiles))
		return zt_error_set(ZT_EINVAL, "unknown profile");
	p = &profiles[req->profile];
	if (req->tenant == NULL || req->tenant[0] == '\0')
		return zt_error_set(ZT_EINVAL, "tenant is required");
	if (req->ttl < 0 || req->ttl > p->max_ttl)
		return zt_error_set(ZT_EINVAL, "ttl must be 1 to %lld seconds "
		    "for %s", (long long)p->max_ttl, p->name);
	if (req->profile != ZT_CA_TLS_SERVER && req->identity_id == NULL)
		return zt_error_set(ZT_EINVAL, "identity is required");
	switch (req->profile) {
	case ZT_CA_SVID:
		if (req->ndns || req->nips || req->email || req->common_name)
			return zt_error_set(ZT_EINVAL, "an X.509-SVID carries "
			    "only its SPIFFE ID");
		return check_svid_id(ca, req->spiffe_id);
	case ZT_CA_TLS_SERVER:
		if (req->spiffe_id || req->email || req->common_name)
			return zt_error_set(ZT_EINVAL, "a TLS server "
			    "certificate carries DNS and IP names only");
		return check_server_names(req);
	case ZT_CA_TLS_CLIENT:
		if (req->ndns || req->nips)
			return zt_error_set(ZT_EINVAL, "a client certificate "
			    "carries no DNS or IP names");
		if (req->common_name == NULL || !cn_valid(req->common_name))
			return zt_error_set(ZT_EINVAL, "a client certificate "
			    "needs a common name of 1 to 64 printable bytes");
		if (req->email && !email_valid(req->email))
			return zt_error_set(ZT_EINVAL, "e-mail address is not "
			    "valid");
		if (req->spiffe_id && (err = check_svid_id(ca,
		    req->spiffe_id)) < 0)
			return err;
		return ZT_OK;
	}
	return ZT_OK;
}

/* ---- CSRs ---------------------------------------------------------------------------- */

static bool
name_in(const char *const *list, size_t n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
			return true;
	return false;
}

static bool
ip_in(const zt_ca_request *req, const ASN1_OCTET_STRING *o)
{
	uint8_t b[16];
	size_t i;
	int n;

	for (i = 0; i < req->nips; i++)
		if ((n = ip_bytes(b, req->ips[i])) == o->length &&
		    memcmp(b, o->data, (size_t)n) == 0)
			return true;
	return false;
}

/* Each SAN of the CSR must be one the request (and so the gate) has. */
static int
check_csr_names(STACK_OF(X509_EXTENSION) *exts, const zt_ca_request *req)
{
	GENERAL_NAMES *gens;
	int i, err = ZT_OK;

	gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	ERR_clear_error();
	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !err; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_IA5STRING *s = g->d.ia5;
		const char *one;

		switch (g->type) {
		case GEN_URI:
			one = req->spiffe_id;
			break;
		case GEN_EMAIL:
			one = req->email;
			break;
		case GEN_DNS:
			if (!name_in(req->dns, req->ndns, (const char *)s->data,
			    (size_t)s->length))
				err = zt_error_set(ZT_EINVAL, "CSR asks for a "
				    "DNS name the request does not hold");
			continue;
		case GEN_IPADD:
			if (!ip_in(req, g->d.ip))
				err = zt_error_set(ZT_EINVAL, "CSR asks for an "
				    "IP address the request does not hold");
			continue;
		default:
			err = zt_error_set(ZT_EINVAL, "CSR asks for a kind of "
			    "name this profile does not issue");
			continue;
		}
		if (one == NULL || !name_in(&one, 1, (const char *)s->data,
		    (size_t)s->length))
			err = zt_error_set(ZT_EINVAL, "CSR asks for a %s the "
			    "request does not hold", g->type == GEN_URI ?
			    "URI" : "e-mail address");
	}
	GENERAL_NAMES_free(gens);
	return err;
}

/* ---- building the leaf --------------------------------------------------------------- */

static int
gen_push(GENERAL_NAMES *gens, int type, const char *s)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *v = ASN1_IA5STRING_new();

	if (g == NULL || v == NULL || !ASN1_STRING_set(v, s, -1)) {
		GENERAL_NAME_free(g);
		ASN1_IA5STRING_free(v);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	GENERAL_NAME_set0_value(g, type, v);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	return ZT_OK;
}

static int
gen_push_ip(GENERAL_NAMES *gens, const char *s)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
	uint8_t b[16];
	int n = ip_bytes(b, s);

	if (g == NULL || v == NULL || !ASN1_OCTET_STRING_set(v, b, n)) {
		GENERAL_NAME_free(g);
		ASN1_OCTET_STRING_free(v);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	GENERAL_NAME_set0_value(g, GEN_IPADD, v);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	return ZT_OK;
}

/* SAN built from checked values, never from a config string, so no
 * name can smuggle in a second one.  Critical when the subject is
 * empty (RFC 5280 4.2.1.6). */
static int
add_san(X509 *x, const zt_ca_request *req, bool critical)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	size_t i;
	int err = ZT_OK;

	if (gens == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if (req->spiffe_id)
		err = gen_push(gens, GEN_URI, req->spiffe_id);
	for (i = 0; !err && req->profile == ZT_CA_TLS_SERVER && i < req->ndns;
	    i++)
		err = gen_push(gens, GEN_DNS, req->dns[i]);
	for (i = 0; !err && req->profile == ZT_CA_TLS_SERVER && i < req->nips;
	    i++)
		err = gen_push_ip(gens, req->ips[i]);
	if (!err && req->email)
		err = gen_push(gens, GEN_EMAIL, req->email);
	if (!err && sk_GENERAL_NAME_num(gens) > 0 &&
	    !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical,
	    X509V3_ADD_DEFAULT))
		err = ca_ssl_error(ZT_ERR, "subjectAltName");
	GENERAL_NAMES_free(gens);
	return err;
}

static int
add_ski(X509 *x, EVP_PKEY *pub)
{
	const ASN1_BIT_STRING *pk = X509_get0_pubkey_bitstr(x);
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
	uint8_t h[20];
	unsigned int n;
	int ok;

	(void)pub;
	ok = o != NULL && pk != NULL &&
	    EVP_Digest(pk->data, (size_t)pk->length, h, &n, EVP_sha1(), NULL) &&
	    ASN1_OCTET_STRING_set(o, h, (int)n) &&
	    X509_add1_ext_i2d(x, NID_subject_key_identifier, o, 0,
	    X509V3_ADD_DEFAULT);
	ASN1_OCTET_STRING_free(o);
	return ok ? ZT_OK : ca_ssl_error(ZT_ERR, "subjectKeyIdentifier");
}

static int
set_subject(X509 *x, const zt_ca_request *req, bool *empty)
{
	X509_NAME *n = X509_get_subject_name(x);
	const char *cn = NULL;

	*empty = false;
	if (req->profile == ZT_CA_TLS_CLIENT)
		cn = req->common_name;
	else if (req->profile == ZT_CA_TLS_SERVER)
		cn = req->ndns ? req->dns[0] : req->ips[0];
	if (cn == NULL) {
		*empty = true;	/* SVIDs: the URI SAN is the name */
		return ZT_OK;
	}
	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		return ca_ssl_error(ZT_EINVAL, "subject");
	return ZT_OK;
}

static int
add_leaf_exts(X509 *x, zt_ca *ca, const zt_ca_request *req, EVP_PKEY *pub,
    bool empty_subject)
{
	X509_EXTENSION *ku = EVP_PKEY_get_id(pub) == EVP_PKEY_RSA ?
	    ca->x_ku_rsa : ca->x_ku_sig;
	X509_EXTENSION *eku = req->profile == ZT_CA_SVID ? ca->x_eku_both :
	    req->profile == ZT_CA_TLS_SERVER ? ca->x_eku_server :
	    ca->x_eku_client;
	int err;

	if (!X509_add_ext(x, ca->x_bc, -1) || !X509_add_ext(x, ku, -1) ||
	    !X509_add_ext(x, eku, -1))
		return ca_ssl_error(ZT_ERR, "leaf extensions");
	if ((err = add_ski(x, pub)) < 0)
		return err;
	if (!X509_add_ext(x, ca->x_aki, -1))
		return ca_ssl_error(ZT_ERR, "leaf extensions");
	if ((err = add_san(x, req, empty_subject)) < 0)
		return err;
	if ((ca->x_cdp && !X509_add_ext(x, ca->x_cdp, -1)) ||
	    (ca->x_aia && !X509_add_ext(x, ca->x_aia, -1)))
		return ca_ssl_error(ZT_ERR, "leaf extensions");
	return ZT_OK;
}

/* The chain a holder presents: the CA and those above it, not the root. */
static char *
make_chain_pem(const zt_ca *ca)
{
	zt_buf b = ZT_BUF_INIT(1 << 20);
	int i, n = sk_X509_num(ca->chain);
	char *p;

	if ((p = zt_ca_x509_pem(ca->cert)) == NULL)
		return NULL;
	zt_buf_adds(&b, p);
	free(p);
	for (i = 0; i < n - 1; i++) {
		if ((p = zt_ca_x509_pem(sk_X509_value(ca->chain, i))) == NULL)
			break;
		zt_buf_adds(&b, p);
		free(p);
	}
	/* A chain without a separate root above: the last one is not self-
	 * signed and belongs in the chain. */
	if (n > 0) {
		X509 *last = sk_X509_value(ca->chain, n - 1);

		if (X509_check_issued(last, last) != X509_V_OK &&
		    (p = zt_ca_x509_pem(last)) != NULL) {
			zt_buf_adds(&b, p);
			free(p);
		}
	}
	return zt_buf_detach(&b);
}

/* PEM from the DER already made: PEM_write_bio_X509 would encode the
 * whole certificate again. */
static char *
der_to_pem(const uint8_t *der, size_t n)
{
	static const char head[] = "-----BEGIN CERTIFICATE-----\n";
	static const char tail[] = "-----END CERTIFICATE-----\n";
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	/* base64 of n bytes in 64-character lines, a newline each */
	size_t cap = sizeof(head) + sizeof(tail) + (n + 2) / 3 * 4 +
	    n / 48 + 8;
	char *pem = malloc(cap), *p;
	int k, t;

	if (ctx == NULL || pem == NULL || n > INT_MAX / 2) {
		EVP_ENCODE_CTX_free(ctx);
		free(pem);
		return NULL;
	}
	memcpy(pem, head, sizeof(head) - 1);
	p = pem + sizeof(head) - 1;
	EVP_EncodeInit(ctx);
	if (EVP_EncodeUpdate(ctx, (unsigned char *)p, &k, der, (int)n) != 1) {
		EVP_ENCODE_CTX_free(ctx);
		free(pem);
		return NULL;
	}
	EVP_EncodeFinal(ctx, (unsigned char *)p + k, &t);
	EVP_ENCODE_CTX_free(ctx);
	p += k + t;
	memcpy(p, tail, sizeof(tail));
	return pem;
}

static int
sign_leaf(zt_ca_issued *out, zt_ca *ca, const zt_ca_request *req,
    EVP_PKEY *pub, const ca_csr *csr, int64_t ttl)
{
	X509 *x = X509_new();
	ASN1_INTEGER *sn = NULL;
	int64_t now = zt_now_ms(), nb, na;
	uint8_t *der = NULL;
	bool empty;
	int err, n;

	if (x == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	nb = now - ca->backdate * 1000;
	na = now + ttl * 1000;
	if (na > ca->not_after)
		na = ca->not_after;
	if (na <= now) {
		err = zt_error_set(ZT_EINVAL, "the signing CA has expired");
		goto out;
	}
	if ((err = ca_serial_new(&sn, out->serial)) < 0)
		goto out;
	X509_set_version(x, X509_VERSION_3);
	X509_set_serialNumber(x, sn);
	X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
	if (csr != NULL)
		err = ca_set_spki(x, csr);
	else if (!X509_set_pubkey(x, pub))
		err = ca_ssl_error(ZT_ERR, "public key");
	if (err < 0)
		goto out;
	if ((err = ca_set_validity(x, nb, na)) < 0 ||
	    (err = set_subject(x, req, &empty)) < 0 ||
	    (err = add_leaf_exts(x, ca, req, pub, empty)) < 0)
		goto out;
	if (X509_sign(x, ca->key, ca->md) <= 0) {
		err = ca_ssl_error(ZT_ERR, "signing failed");
		goto out;
	}
	if ((n = i2d_X509(x, &der)) <= 0 ||
	    (out->pem = der_to_pem(der, (size_t)n)) == NULL ||
	    (out->chain_pem = strdup(ca->chain_pem)) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	out->der = malloc((size_t)n);
	if (out->der == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(out->der, der, (size_t)n);
	out->der_len = (size_t)n;
	/* What the certificate says, to the second. */
	out->not_before = ca_asn1_time_ms(X509_get0_notBefore(x));
	out->not_after = ca_asn1_time_ms(X509_get0_notAfter(x));
out:
	OPENSSL_free(der);
	ASN1_INTEGER_free(sn);
	X509_free(x);
	return err;
}

void
zt_ca_issued_free(zt_ca_issued *c)
{
	if (c == NULL)
		return;
	free(c->der);
	free(c->pem);
	free(c->chain_pem);
	if (c->key_pem) {
		zt_wipe(c->key_pem, strlen(c->key_pem));
		free(c->key_pem);
	}
	memset(c, 0, sizeof(*c));
}

/* Everything before and including the gate; on ZT_OK *ttl is the
 * lifetime and, when a CSR was given, *csr holds it checked. */
static int
admit(zt_ca *ca, const zt_ca_request *req, const uint8_t *der, size_t len,
    ca_csr *csr, int64_t *ttl)
{
	zt_ca_decision d = { false, 0, "refused by the issuance gate" };
	int err;

	if ((err = ca_check_request(ca, req)) < 0)
		return err;
	if (der != NULL) {
		if ((err = ca_csr_parse(csr, der, len)) < 0)
			return err;
		if ((err = check_csr_names(csr->exts, req)) < 0)
			goto fail;
	}
	if (ca->gate == NULL) {
		err = zt_error_set(ZT_EFORBIDDEN, "no issuance gate is "
		    "configured");
		goto fail;
	}
	ca->gate(ca->gate_arg, req, &d);
	if (!d.allow) {
		d.reason[sizeof(d.reason) - 1] = '\0';
		err = zt_error_set(ZT_EFORBIDDEN, "%s", d.reason[0] ? d.reason :
		    "refused by the issuance gate");
		goto fail;
	}
	*ttl = req->ttl > 0 ? req->ttl : req->profile == ZT_CA_SVID ?
	    ca->svid_ttl : profiles[req->profile].ttl;
	if (d.max_ttl > 0 && *ttl > d.max_ttl)
		*ttl = d.max_ttl;
	return ZT_OK;
fail:
	if (der != NULL)
		ca_csr_free(csr);
	return err;
}

int
zt_ca_sign(zt_ca_issued *out, zt_ca *ca, const zt_ca_request *req,
    const uint8_t *der, size_t len)
{
	EVP_PKEY *pub = NULL;
	ca_csr csr;
	int64_t ttl = 0;
	int err;

	memset(out, 0, sizeof(*out));
	memset(&csr, 0, sizeof(csr));
	if ((err = admit(ca, req, der, len, &csr, &ttl)) < 0)
		return err;
	if (der == NULL) {
		if ((err = zt_ca_key_generate(&pub, req->key_type)) < 0)
			return err;
		if ((out->key_pem = zt_ca_key_pem(pub)) == NULL) {
			EVP_PKEY_free(pub);
			return zt_error_set(ZT_ENOMEM, "out of memory");
		}
		err = sign_leaf(out, ca, req, pub, NULL, ttl);
		EVP_PKEY_free(pub);
	} else {
		err = sign_leaf(out, ca, req, csr.pub, &csr, ttl);
		ca_csr_free(&csr);
	}
	if (err < 0)
		zt_ca_issued_free(out);
	return err;
}

int
zt_ca_issue(zt_ca_issued *out, zt_ca *ca, zt_db *db, const zt_ca_request *req,
    const uint8_t *csr, size_t len)
{
	char why[256];
	int err;

	if ((err = zt_ca_sign(out, ca, req, csr, len)) < 0) {
		/* Refusals are audited; the message is the caller's answer,
		 * so keep it across the audit write. */
		if (err == ZT_EINVAL || err == ZT_EFORBIDDEN ||
		    err == ZT_ETOOBIG) {
			snprintf(why, sizeof(why), "%s", zt_error_msg());
			(void)ca_audit_refusal(db, req, why);
			zt_error_set(err, "%s", why);
		}
		return err;
	}
	if ((err = ca_store_cert(db, ca, req, out)) < 0)
		zt_ca_issued_free(out);
	return err;
}
