/*
 * Tests of the certificate center against a real database: SQLite in a
 * temporary file by default, or the PostgreSQL named by ZTIAM_TEST_DB.
 *
 * Issued certificates are read back with OpenSSL and every X509-SVID rule
 * is checked on them.  Every refusal is checked three ways: its code, the
 * gate not being asked when the refusal comes before it, and nothing in
 * the inventory afterwards, with a "cert.refuse" audit record instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/base.h"
#include "ca/ca.h"
#include "store/store.h"
#include "testdb.h"

#define TD "test.example"
#define SVID_ID "spiffe://test.example/acme/service/api"

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_ca_migrations,
};

struct gate {
	int calls;
	bool allow;
	int64_t max_ttl;
	const char *reason;
};

struct fx {
	zt_db *db;
	zt_actor actor;
	EVP_PKEY *root_key, *int_key;
	X509 *root, *inter;
	STACK_OF(X509) *chain;
	zt_ca *ca;
	struct gate gate;
};

static void
test_gate(void *arg, const zt_ca_request *req, zt_ca_decision *out)
{
	struct gate *g = arg;

	(void)req;
	g->calls++;
	out->allow = g->allow;
	out->max_ttl = g->max_ttl;
	if (g->reason)
		snprintf(out->reason, sizeof(out->reason), "%s", g->reason);
}

static int
make_ca(struct fx *f, int64_t int_ttl)
{
	zt_ca_config cfg = { 0 };

	cfg.trust_domain = TD;
	cfg.crl_url = "http://127.0.0.1:8080/v1/ca/crl";
	cfg.ocsp_url = "http://127.0.0.1:8080/v1/ca/ocsp";
	cfg.gate = test_gate;
	cfg.gate_arg = &f->gate;
	X509_free(f->inter);
	zt_ca_free(f->ca);
	f->inter = NULL;
	f->ca = NULL;
	if (zt_ca_intermediate_create(&f->inter, f->root, f->root_key,
	    f->int_key, TD, int_ttl, false) < 0)
		return -1;
	return zt_ca_new(&f->ca, &cfg, f->inter, f->int_key, f->chain);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	zt_log_setup(ZT_LOG_ERROR, ZT_LOG_JSON, 2);
	if (f == NULL || (f->db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL) {
		fprintf(stderr, "migrate: %s\n", zt_error_msg());
		return -1;
	}
	f->actor = (zt_actor){ "token:test", NULL, "req-1" };
	f->gate.allow = true;
	if (zt_ca_key_generate(&f->root_key, ZT_CA_KEY_P256) < 0 ||
	    zt_ca_key_generate(&f->int_key, ZT_CA_KEY_P256) < 0 ||
	    zt_ca_root_create(&f->root, f->root_key, TD, 86400 * 365) < 0)
		return -1;
	f->chain = sk_X509_new_null();
	X509_up_ref(f->root);
	sk_X509_push(f->chain, f->root);
	if (make_ca(f, 86400 * 30) < 0) {
		fprintf(stderr, "ca: %s\n", zt_error_msg());
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	zt_ca_free(f->ca);
	X509_free(f->inter);
	X509_free(f->root);
	sk_X509_pop_free(f->chain, X509_free);
	EVP_PKEY_free(f->root_key);
	EVP_PKEY_free(f->int_key);
	testdb_close(f->db);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static int64_t
count(zt_db *db, const char *sql)
{
	zt_stmt *st;
	int64_t n;

	assert_int_equal(zt_db_prepare(&st, db, sql), ZT_OK);
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	n = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return n;
}

static zt_ca_request
svid_req(struct fx *f)
{
	zt_ca_request r = { 0 };

	r.caller = &f->actor;
	r.via = "token";
	r.tenant = "acme";
	r.identity_id = "id-api";
	r.profile = ZT_CA_SVID;
	r.spiffe_id = SVID_ID;
	return r;
}

struct csr_opts {
	const char *uri;	/* a URI SAN */
	const char *dns;
	bool ca_true;
	bool cert_sign;
	bool break_sig;
};

/* A DER CSR for `key` with what `o` asks for; free() it. */
static uint8_t *
make_csr(EVP_PKEY *key, const struct csr_opts *o, size_t *len)
{
	X509_REQ *r = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	uint8_t *der = NULL, *copy;
	char v[300];
	int n;

	X509_REQ_set_pubkey(r, key);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN",
	    MBSTRING_UTF8, (const unsigned char *)"ignored", -1, -1, 0);
	if (o && o->uri) {
		snprintf(v, sizeof(v), "URI:%s", o->uri);
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, v));
	}
	if (o && o->dns) {
		snprintf(v, sizeof(v), "DNS:%s", o->dns);
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, v));
	}
	if (o && o->ca_true)
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_basic_constraints, "critical,CA:TRUE"));
	if (o && o->cert_sign)
		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_key_usage, "critical,digitalSignature,keyCertSign"));
	if (sk_X509_EXTENSION_num(exts) > 0)
		X509_REQ_add_extensions(r, exts);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	assert_true(X509_REQ_sign(r, key, EVP_PKEY_get_id(key) ==
	    EVP_PKEY_ED25519 ? NULL : EVP_sha256()) > 0);
	n = i2d_X509_REQ(r, &der);
	X509_REQ_free(r);
	assert_true(n > 0);
	copy = malloc((size_t)n);
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	if (o && o->break_sig)
		copy[n - 3] ^= 0x55;	/* inside the signature */
	*len = (size_t)n;
	return copy;
}

static X509 *
parse_cert(const zt_ca_issued *c)
{
	const uint8_t *p = c->der;
	X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

	assert_non_null(x);
	return x;
}

/* The chain verifies with the root as the only trust anchor. */
static void
assert_verifies(struct fx *f, X509 *leaf, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();

	X509_STORE_add_cert(store, f->root);
	sk_X509_push(untrusted, f->inter);
	X509_STORE_CTX_init(ctx, store, leaf, untrusted);
	X509_STORE_CTX_set_purpose(ctx, purpose);
	if (X509_verify_cert(ctx) != 1)
		fail_msg("verify: %s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

static int64_t
certs(struct fx *f)
{
	return count(f->db, "SELECT COUNT(*) FROM ca_certs");
}

static int64_t
audits(struct fx *f, const char *action)
{
	zt_stmt *st;
	int64_t n;

	assert_int_equal(zt_db_prepare(&st, f->db, "SELECT COUNT(*) FROM"
	    " audit_log WHERE action = $1"), ZT_OK);
	zt_stmt_bind_text(st, 1, action);
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	n = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return n;
}

/* ---- X.509-SVID rules ------------------------------------------------------ */

static void
check_svid(struct fx *f, X509 *x, const zt_ca_issued *c, bool rsa)
{
	GENERAL_NAMES *gens;
	BASIC_CONSTRAINTS *bc;
	const ASN1_INTEGER *sn;
	BIGNUM *bn;
	int crit, i, idx;
	uint32_t ku, xku;
	int64_t now = zt_now_ms();
	AUTHORITY_KEYID *akid;
	STACK_OF(DIST_POINT) *cdp;
	STACK_OF(OPENSSL_STRING) *ocsp;

	/* Exactly one URI SAN, the SPIFFE ID; no other names; critical
	 * since the subject is empty (RFC 5280 4.2.1.6). */
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 0)->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(
	    sk_GENERAL_NAME_value(gens, 0)->d.uniformResourceIdentifier),
	    SVID_ID);
	assert_int_equal(crit, 1);
	GENERAL_NAMES_free(gens);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);

	/* Leaf: CA false, critical. */
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);

	/* keyUsage critical: digitalSignature (+keyEncipherment for RSA),
	 * never keyCertSign or cRLSign. */
	idx = X509_get_ext_by_NID(x, NID_key_usage, -1);
	assert_true(idx >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(x, idx)), 1);
	ku = X509_get_key_usage(x);
	assert_true(ku & KU_DIGITAL_SIGNATURE);
	assert_false(ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
	assert_int_equal(!!(ku & KU_KEY_ENCIPHERMENT), rsa);

	/* serverAuth and clientAuth. */
	xku = X509_get_extended_key_usage(x);
	assert_true(xku & XKU_SSL_SERVER);
	assert_true(xku & XKU_SSL_CLIENT);

	/* Serial: positive, at least 120 random bits, matches the hex. */
	sn = X509_get0_serialNumber(x);
	bn = ASN1_INTEGER_to_BN(sn, NULL);
	assert_false(BN_is_negative(bn));
	assert_true(BN_num_bits(bn) >= 120 && BN_num_bits(bn) <= 128);
	BN_free(bn);
	assert_int_equal(strlen(c->serial) >= 30, 1);

	/* Backdated notBefore; an hour by default. */
	assert_true(c->not_before < now - 10000);
	assert_true(c->not_before > now - 120000);
	assert_true(c->not_after > now + 3600000 - 5000);
	assert_true(c->not_after <= now + 3600000 + 1000);

	/* SKI, and an AKI equal to the CA's SKI. */
	assert_non_null(X509_get0_subject_key_id(x));
	akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
	assert_non_null(akid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid,
	    X509_get0_subject_key_id(f->inter)), 0);
	AUTHORITY_KEYID_free(akid);

	/* CRL distribution point and OCSP responder. */
	cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(cdp);
	DIST_POINT *dp = sk_DIST_POINT_value(cdp, 0);
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname,
	    0);
	assert_string_equal((const char *)ASN1_STRING_get0_data(
	    gn->d.uniformResourceIdentifier), "http://127.0.0.1:8080/v1/ca/crl");
	CRL_DIST_POINTS_free(cdp);
	ocsp = X509_get1_ocsp(x);
	assert_int_equal(sk_OPENSSL_STRING_num(ocsp), 1);
	assert_string_equal(sk_OPENSSL_STRING_value(ocsp, 0),
	    "http://127.0.0.1:8080/v1/ca/ocsp");
	X509_email_free(ocsp);
	for (i = 0; i < X509_get_ext_count(x); i++)
		assert_int_not_equal(OBJ_obj2nid(X509_EXTENSION_get_object(
		    X509_get_ext(x, i))), NID_name_constraints);
	assert_verifies(f, x, X509_PURPOSE_SSL_CLIENT);
	assert_verifies(f, x, X509_PURPOSE_SSL_SERVER);
}

static void
test_ca_issue__svid_from_p256_csr(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	zt_ca_issued c;
	EVP_PKEY *k;
	uint8_t *csr;
	size_t n;
	X509 *x;

	assert_int_equal(zt_ca_key_generate(&k, ZT_CA_KEY_P256), ZT_OK);
	csr = make_csr(k, NULL, &n);
	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, csr, n), ZT_OK);
	assert_int_equal(f->gate.calls, 1);
	x = parse_cert(&c);
	check_svid(f, x, &c, false);
	{
		/* The PEM is the same certificate as the DER. */
		BIO *b = BIO_new_mem_buf(c.pem, -1);
		X509 *y = PEM_read_bio_X509(b, NULL, NULL, NULL);

		assert_non_null(y);
		assert_int_equal(X509_cmp(x, y), 0);
		X509_free(y);
		BIO_free(b);
	}
	assert_null(c.key_pem);
	assert_non_null(strstr(c.chain_pem, "BEGIN CERTIFICATE"));
	assert_int_equal(certs(f), 1);
	assert_int_equal(audits(f, "cert.issue"), 1);
	X509_free(x);
	zt_ca_issued_free(&c);
	free(csr);
	EVP_PKEY_free(k);
}

static void
test_ca_issue__svid_rsa_and_matching_san(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	struct csr_opts o = { .uri = SVID_ID };
	zt_ca_issued c;
	EVP_PKEY *k;
	uint8_t *csr;
	size_t n;
	X509 *x;

	assert_int_equal(zt_ca_key_generate(&k, ZT_CA_KEY_RSA2048), ZT_OK);
	csr = make_csr(k, &o, &n);
	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, csr, n), ZT_OK);
	x = parse_cert(&c);
	check_svid(f, x, &c, true);
	X509_free(x);
	zt_ca_issued_free(&c);
	free(csr);
	EVP_PKEY_free(k);
}

static void
test_ca_issue__generated_key(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	zt_ca_issued c;
	EVP_PKEY *k;
	BIO *b;
	X509 *x;

	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, NULL, 0), ZT_OK);
	assert_non_null(c.key_pem);
	assert_non_null(strstr(c.key_pem, "BEGIN PRIVATE KEY"));
	b = BIO_new_mem_buf(c.key_pem, -1);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(k);
	x = parse_cert(&c);
	assert_int_equal(X509_check_private_key(x, k), 1);
	check_svid(f, x, &c, false);
	X509_free(x);
	EVP_PKEY_free(k);
	zt_ca_issued_free(&c);
}

static void
test_ca_issue__ttl_caps(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	zt_ca_issued c;
	int64_t ca_end;

	/* The gate lowers the TTL. */
	f->gate.max_ttl = 600;
	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, NULL, 0), ZT_OK);
	assert_true(c.not_after <= zt_now_ms() + 600000 + 1000);
	zt_ca_issued_free(&c);
	f->gate.max_ttl = 0;

	/* The CA's own notAfter caps every leaf. */
	assert_int_equal(make_ca(f, 1200), ZT_OK);
	r.ttl = 3600;
	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, NULL, 0), ZT_OK);
	ca_end = (int64_t)ASN1_TIME_cmp_time_t(X509_get0_notAfter(f->inter),
	    (time_t)(c.not_after / 1000));
	assert_true(ca_end >= 0);
	assert_true(c.not_after <= zt_now_ms() + 1200000 + 1000);
	zt_ca_issued_free(&c);

	/* Past the profile's maximum is refused. */
	r.ttl = 86400 * 2;
	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, NULL, 0),
	    ZT_EINVAL);
}

/* ---- refusals ---------------------------------------------------------------- */

/* Runs one refused issuance and checks that nothing was signed or
 * stored, that the refusal was audited, and whether the gate ran. */
static void
assert_refused(struct fx *f, const zt_ca_request *r, const uint8_t *csr,
    size_t n, int code, const char *msg, bool gate_ran)
{
	int64_t before = certs(f), refusals = audits(f, "cert.refuse");
	int calls = f->gate.calls;
	zt_ca_issued c;

	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, r, csr, n), code);
	if (msg && strstr(zt_error_msg(), msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", zt_error_msg(), msg);
	assert_null(c.der);
	assert_null(c.key_pem);
	assert_int_equal(certs(f), before);
	assert_int_equal(audits(f, "cert.refuse"), refusals + 1);
	assert_int_equal(f->gate.calls, calls + (gate_ran ? 1 : 0));
}

static void
test_ca_refuse__csr_faults(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	struct csr_opts bad_sig = { .break_sig = true };
	struct csr_opts ca_true = { .ca_true = true };
	struct csr_opts cert_sign = { .cert_sign = true };
	struct csr_opts other_uri = { .uri = "spiffe://test.example/other" };
	struct csr_opts dns = { .dns = "api.example.com" };
	EVP_PKEY *k, *weak, *k1, *ed;
	uint8_t *csr, big[ZT_CA_CSR_MAX + 1];
	size_t n;

	assert_int_equal(zt_ca_key_generate(&k, ZT_CA_KEY_P256), ZT_OK);

	csr = make_csr(k, &bad_sig, &n);
	assert_refused(f, &r, csr, n, ZT_EINVAL, "signature", false);
	free(csr);
	csr = make_csr(k, &ca_true, &n);
	assert_refused(f, &r, csr, n, ZT_EINVAL, "CA:true", false);
	free(csr);
	csr = make_csr(k, &cert_sign, &n);
	assert_refused(f, &r, csr, n, ZT_EINVAL, "keyCertSign", false);
	free(csr);
	csr = make_csr(k, &other_uri, &n);
	assert_refused(f, &r, csr, n, ZT_EINVAL, "URI", false);
	free(csr);
	csr = make_csr(k, &dns, &n);
	assert_refused(f, &r, csr, n, ZT_EINVAL, "DNS", false);

	/* Malformed DER: cut short, trailing bytes, junk; malformed PEM. */
	assert_refused(f, &r, csr, n - 10, ZT_EINVAL, "PKCS#10", false);
	{
		uint8_t *more = malloc(n + 1);

		memcpy(more, csr, n);
		more[n] = 0;
		assert_refused(f, &r, more, n + 1, ZT_EINVAL, "PKCS#10",
		    false);
		free(more);
	}
	free(csr);
	assert_refused(f, &r, (const uint8_t *)"\x30\x03\x02\x01", 4,
	    ZT_EINVAL, "PKCS#10", false);
	assert_refused(f, &r, (const uint8_t *)"-----BEGIN CERTIFICATE "
	    "REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", 70,
	    ZT_EINVAL, "PKCS#10", false);
	assert_refused(f, &r, (const uint8_t *)"", 0, ZT_EINVAL, "empty",
	    false);
	memset(big, 'A', sizeof(big));
	assert_refused(f, &r, big, sizeof(big), ZT_ETOOBIG, "longer", false);

	/* Weak RSA, an unsupported curve, Ed25519 accepted. */
	weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	csr = make_csr(weak, NULL, &n);
	assert_refused(f, &r, csr, n, ZT_EINVAL, "too weak", false);
	free(csr);
	k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	csr = make_csr(k1, NULL, &n);
	assert_refused(f, &r, csr, n, ZT_EINVAL, "curve", false);
	free(csr);
	assert_int_equal(zt_ca_key_generate(&ed, ZT_CA_KEY_ED25519), ZT_OK);
	csr = make_csr(ed, NULL, &n);
	{
		zt_ca_issued c;

		assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, csr, n),
		    ZT_OK);
		zt_ca_issued_free(&c);
	}
	free(csr);
	EVP_PKEY_free(weak);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(k);
}

static void
test_ca_refuse__request_faults(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	const char *dns[] = { "api.example.com" };

	r.spiffe_id = "spiffe://other.example/acme/service/api";
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "trust domain", false);
	r.spiffe_id = "spiffe://test.example";
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "path", false);
	r.spiffe_id = "spiffe://test.example/a/../b";
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "SPIFFE", false);
	r.spiffe_id = NULL;
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "required", false);
	r = svid_req(f);
	r.dns = dns;
	r.ndns = 1;
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "only its SPIFFE ID",
	    false);
	r = svid_req(f);
	r.ttl = -1;
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "ttl", false);
}

static void
test_ca_refuse__gate(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	EVP_PKEY *k;
	uint8_t *csr;
	size_t n;

	f->gate.allow = false;
	f->gate.reason = "caller may not hold this SPIFFE ID";
	assert_int_equal(zt_ca_key_generate(&k, ZT_CA_KEY_P256), ZT_OK);
	csr = make_csr(k, NULL, &n);
	assert_refused(f, &r, csr, n, ZT_EFORBIDDEN, "may not hold", true);
	assert_refused(f, &r, NULL, 0, ZT_EFORBIDDEN, "may not hold", true);
	assert_int_equal(certs(f), 0);
	free(csr);
	EVP_PKEY_free(k);
}

/* ---- other profiles ---------------------------------------------------------- */

static void
test_ca_issue__tls_server_and_client(void **state)
{
	struct fx *f = *state;
	const char *dns[] = { "api.example.com", "*.svc.example.com" };
	const char *ips[] = { "127.0.0.1", "::1" };
	const char *bad[] = { "-bad.example.com" };
	zt_ca_request r = { 0 };
	GENERAL_NAMES *gens;
	zt_ca_issued c;
	X509 *x;

	r.caller = &f->actor;
	r.tenant = "acme";
	r.profile = ZT_CA_TLS_SERVER;
	r.dns = dns;
	r.ndns = 2;
	r.ips = ips;
	r.nips = 2;
	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, NULL, 0), ZT_OK);
	x = parse_cert(&c);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	GENERAL_NAMES_free(gens);
	assert_int_equal(X509_check_host(x, "api.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_verifies(f, x, X509_PURPOSE_SSL_SERVER);
	X509_free(x);
	zt_ca_issued_free(&c);

	r.dns = bad;
	r.ndns = 1;
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "host name", false);
	r.ndns = 0;
	r.nips = 0;
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "needs a DNS", false);

	memset(&r, 0, sizeof(r));
	r.caller = &f->actor;
	r.tenant = "acme";
	r.identity_id = "id-alice";
	r.profile = ZT_CA_TLS_CLIENT;
	r.common_name = "Alice Example";
	r.email = "alice@example.com";
	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, NULL, 0), ZT_OK);
	x = parse_cert(&c);
	assert_int_equal(X509_check_email(x, "alice@example.com", 0, 0), 1);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_verifies(f, x, X509_PURPOSE_SSL_CLIENT);
	X509_free(x);
	zt_ca_issued_free(&c);
	r.email = "not an address";
	assert_refused(f, &r, NULL, 0, ZT_EINVAL, "e-mail", false);
}

/* ---- inventory and revocation -------------------------------------------------- */

static void
issue_n(struct fx *f, const char *identity, int n, char serials[][ZT_CA_SERIAL_HEX])
{
	zt_ca_request r = svid_req(f);
	zt_ca_issued c;
	int i;

	r.identity_id = identity;
	for (i = 0; i < n; i++) {
		assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, NULL, 0),
		    ZT_OK);
		if (serials)
			memcpy(serials[i], c.serial, ZT_CA_SERIAL_HEX);
		zt_ca_issued_free(&c);
	}
}

static void
test_ca_revoke__serial_identity_issuer(void **state)
{
	struct fx *f = *state;
	char s[3][ZT_CA_SERIAL_HEX];
	int64_t n, e0, e1;
	json_t *list;

	issue_n(f, "id-a", 3, s);
	issue_n(f, "id-b", 2, NULL);
	assert_int_equal(zt_ca_list_identity(&list, f->db, "acme", "id-a", 10),
	    ZT_OK);
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);

	assert_int_equal(zt_ca_epoch(f->db, &e0), ZT_OK);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, "acme", s[0],
	    ZT_CA_KEY_COMPROMISE), ZT_OK);
	assert_int_equal(zt_ca_epoch(f->db, &e1), ZT_OK);
	assert_int_equal(e1, e0 + 1);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, "acme", s[0],
	    ZT_CA_KEY_COMPROMISE), ZT_ECONFLICT);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, "other", s[1],
	    0), ZT_ENOTFOUND);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, NULL, "abcd",
	    0), ZT_ENOTFOUND);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, NULL, "xyz",
	    0), ZT_EINVAL);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, NULL, s[1],
	    8), ZT_EINVAL);

	assert_int_equal(zt_ca_revoke_identity(f->db, &f->actor, "acme",
	    "id-a", ZT_CA_SUPERSEDED, &n), ZT_OK);
	assert_int_equal(n, 2);
	assert_int_equal(zt_ca_list_revoked(&list, f->db, "acme", 10), ZT_OK);
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);
	assert_int_equal(zt_ca_list_revoked(&list, f->db, "other", 10), ZT_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	assert_int_equal(zt_ca_revoke_issuer(f->db, &f->actor,
	    zt_ca_key_id(f->ca), ZT_CA_CA_COMPROMISE, &n), ZT_OK);
	assert_int_equal(n, 2);
	assert_int_equal(audits(f, "cert.revoke"), 3);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM ca_certs WHERE"
	    " revoked_at = 0"), 0);
}

static void
test_ca_list__expiring(void **state)
{
	struct fx *f = *state;
	json_t *list;

	issue_n(f, "id-a", 2, NULL);
	assert_int_equal(zt_ca_list_expiring(&list, f->db, "acme", 600, 10),
	    ZT_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(zt_ca_list_expiring(&list, f->db, "acme", 7200, 10),
	    ZT_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 0), "profile")), "svid");
	json_decref(list);
	assert_int_equal(zt_ca_list_expiring(&list, f->db, "acme", 7200, 0),
	    ZT_EINVAL);
}

/* ---- CRL --------------------------------------------------------------------------- */

static X509_CRL *
crl_parse(const uint8_t *der, size_t n)
{
	const uint8_t *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)n);

	assert_non_null(crl);
	assert_ptr_equal(p, der + n);
	return crl;
}

static void
test_ca_crl__entries_and_numbers(void **state)
{
	struct fx *f = *state;
	char s[3][ZT_CA_SERIAL_HEX];
	uint8_t *der;
	size_t n;
	X509_CRL *crl;
	X509_REVOKED *rev;
	ASN1_INTEGER *num, *sn;
	ASN1_ENUMERATED *reason;
	BIGNUM *bn = NULL;

	issue_n(f, "id-a", 3, s);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, "acme", s[1],
	    ZT_CA_KEY_COMPROMISE), ZT_OK);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, "acme", s[2],
	    ZT_CA_UNSPECIFIED), ZT_OK);
	assert_int_equal(zt_ca_crl_generate(&der, &n, f->ca, f->db, 3600),
	    ZT_OK);
	crl = crl_parse(der, n);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(f->inter)), 1);
	assert_int_equal(X509_CRL_get_version(crl), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(f->inter)), 0);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_int_equal(ASN1_INTEGER_get(num), 1);
	ASN1_INTEGER_free(num);
	assert_non_null(X509_CRL_get0_nextUpdate(crl));

	/* The key-compromised one carries its reason; "unspecified" none. */
	BN_hex2bn(&bn, s[1]);
	sn = BN_to_ASN1_INTEGER(bn, NULL);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, sn), 1);
	reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
	assert_non_null(reason);
	assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
	ASN1_ENUMERATED_free(reason);
	ASN1_INTEGER_free(sn);
	BN_hex2bn(&bn, s[2]);
	sn = BN_to_ASN1_INTEGER(bn, NULL);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, sn), 1);
	assert_null(X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL));
	ASN1_INTEGER_free(sn);
	BN_hex2bn(&bn, s[0]);
	sn = BN_to_ASN1_INTEGER(bn, NULL);
	assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, sn), 0);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_CRL_free(crl);
	free(der);

	/* The number grows; an empty set makes a valid CRL without a list. */
	assert_int_equal(zt_ca_crl_generate(&der, &n, f->ca, f->db, 3600),
	    ZT_OK);
	crl = crl_parse(der, n);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_int_equal(ASN1_INTEGER_get(num), 2);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	free(der);
	{
		zt_ca_revset *rs = zt_ca_revset_new();

		assert_int_equal(zt_ca_crl_build(&der, &n, f->ca, rs, 300,
		    zt_now_ms(), 60), ZT_OK);
		crl = crl_parse(der, n);
		assert_int_equal(X509_CRL_verify(crl,
		    X509_get0_pubkey(f->inter)), 1);
		assert_null(X509_CRL_get_REVOKED(crl));
		X509_CRL_free(crl);
		free(der);
		zt_ca_revset_free(rs);
	}
}

static void
test_ca_crl__revset_refresh(void **state)
{
	struct fx *f = *state;
	char s[2][ZT_CA_SERIAL_HEX];
	zt_ca_revset *rs = NULL, *before;
	int64_t at;
	int reason;

	issue_n(f, "id-a", 2, s);
	assert_int_equal(zt_ca_revset_refresh(&rs, f->db, zt_ca_key_id(f->ca)),
	    ZT_OK);
	assert_int_equal(zt_ca_revset_count(rs), 0);
	before = rs;
	assert_int_equal(zt_ca_revset_refresh(&rs, f->db, zt_ca_key_id(f->ca)),
	    ZT_OK);
	assert_ptr_equal(rs, before);	/* no epoch change, no reload */
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, "acme", s[0],
	    ZT_CA_SUPERSEDED), ZT_OK);
	assert_int_equal(zt_ca_revset_refresh(&rs, f->db, zt_ca_key_id(f->ca)),
	    ZT_OK);
	assert_int_equal(zt_ca_revset_count(rs), 1);
	assert_true(zt_ca_revset_find(rs, s[0], &at, &reason));
	assert_int_equal(reason, ZT_CA_SUPERSEDED);
	assert_false(zt_ca_revset_find(rs, s[1], NULL, NULL));
	zt_ca_revset_free(rs);
}

/* ---- OCSP ----------------------------------------------------------------------------- */

/* A DER OCSP request for `leaf` (with a nonce when asked). */
static uint8_t *
ocsp_req(X509 *leaf, X509 *issuer, bool nonce, size_t *len)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, leaf, issuer);
	uint8_t *der = NULL, *copy;
	int n;

	OCSP_request_add0_id(req, id);
	if (nonce)
		OCSP_request_add1_nonce(req, NULL, 16);
	n = i2d_OCSP_REQUEST(req, &der);
	OCSP_REQUEST_free(req);
	copy = malloc((size_t)n);
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return copy;
}

/* Answers `req` and returns the single status; checks the signature. */
static int
ocsp_status(struct fx *f, const zt_ca_ocsp *rsp, const uint8_t *req,
    size_t n, int *reason)
{
	const uint8_t *p = req;
	OCSP_REQUEST *oreq = d2i_OCSP_REQUEST(NULL, &p, (long)n);
	uint8_t *out;
	size_t outlen;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_SINGLERESP *single;
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	ASN1_GENERALIZEDTIME *thisu, *nextu, *revt;
	int status;

	assert_int_equal(zt_ca_ocsp_respond(&out, &outlen, rsp, req, n),
	    ZT_OK);
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)outlen);
	assert_non_null(resp);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	X509_STORE_add_cert(store, f->root);
	sk_X509_push(certs, f->inter);
	assert_int_equal(OCSP_basic_verify(bs, certs, store, 0), 1);
	assert_int_equal(OCSP_check_nonce(oreq, bs) >= 1 ||
	    OCSP_check_nonce(oreq, bs) == -1, 1);
	single = OCSP_resp_get0(bs, 0);
	status = OCSP_single_get0_status(single, reason, &revt, &thisu,
	    &nextu);
	assert_non_null(thisu);
	assert_non_null(nextu);
	assert_int_equal(OCSP_check_validity(thisu, nextu, 300, -1), 1);
	sk_X509_free(certs);
	X509_STORE_free(store);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(oreq);
	free(out);
	return status;
}

static int
ocsp_error(const zt_ca_ocsp *rsp, const uint8_t *req, size_t n)
{
	uint8_t *out;
	size_t outlen;
	const uint8_t *p;
	OCSP_RESPONSE *resp;
	int st;

	assert_int_equal(zt_ca_ocsp_respond(&out, &outlen, rsp, req, n),
	    ZT_OK);
	p = out;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)outlen);
	assert_non_null(resp);
	st = OCSP_response_status(resp);
	OCSP_RESPONSE_free(resp);
	free(out);
	return st;
}

static int
status_busy(void *arg, const char *key_id, const char *serial,
    enum zt_ca_status *status, int64_t *at, int *reason)
{
	(void)arg;
	(void)key_id;
	(void)serial;
	(void)status;
	(void)at;
	(void)reason;
	return zt_error_set(ZT_EBUSY, "database is locked");
}

static void
test_ca_ocsp__good_revoked_unknown(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	zt_ca_ocsp rsp = { f->ca, NULL, NULL, zt_ca_status_db, f->db, 600 };
	zt_ca_issued c;
	uint8_t *req, *dec;
	size_t n, dn;
	int reason = -1;
	X509 *x, *other;
	EVP_PKEY *ok;

	assert_int_equal(zt_ca_issue(&c, f->ca, f->db, &r, NULL, 0), ZT_OK);
	x = parse_cert(&c);
	req = ocsp_req(x, f->inter, true, &n);
	assert_int_equal(ocsp_status(f, &rsp, req, n, &reason),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, "acme",
	    c.serial, ZT_CA_KEY_COMPROMISE), ZT_OK);
	assert_int_equal(ocsp_status(f, &rsp, req, n, &reason),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, ZT_CA_KEY_COMPROMISE);
	free(req);

	/* A serial never issued under this CA. */
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	req = ocsp_req(x, f->inter, false, &n);
	assert_int_equal(ocsp_status(f, &rsp, req, n, &reason),
	    V_OCSP_CERTSTATUS_UNKNOWN);

	/* GET: base64 with percent-encoding. */
	{
		char b64[1024], enc[3072];
		size_t i, o = 0;

		EVP_EncodeBlock((unsigned char *)b64, req, (int)n);
		for (i = 0; b64[i]; i++) {
			if (b64[i] == '+' || b64[i] == '/' || b64[i] == '=')
				o += (size_t)snprintf(enc + o,
				    sizeof(enc) - o, "%%%02X", b64[i]);
			else
				enc[o++] = b64[i];
		}
		enc[o] = '\0';
		assert_int_equal(zt_ca_ocsp_decode_get(&dec, &dn, enc), ZT_OK);
		assert_int_equal(dn, n);
		assert_memory_equal(dec, req, n);
		free(dec);
		assert_int_equal(zt_ca_ocsp_decode_get(&dec, &dn, "%zz"),
		    ZT_EINVAL);
		assert_int_equal(zt_ca_ocsp_decode_get(&dec, &dn, "a b"),
		    ZT_EINVAL);
	}
	free(req);

	/* A request for another issuer only: unauthorized.  Junk:
	 * malformedRequest. */
	req = ocsp_req(x, f->root, false, &n);
	assert_int_equal(ocsp_error(&rsp, req, n),
	    OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	assert_int_equal(ocsp_error(&rsp, req, n - 1),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	assert_int_equal(ocsp_error(&rsp, (const uint8_t *)"\x30\x00", 2),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	assert_int_equal(ocsp_error(&rsp, NULL, 0),
	    OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	free(req);

	/* The status source failing: tryLater, not silence. */
	req = ocsp_req(x, f->inter, false, &n);
	rsp.status = status_busy;
	assert_int_equal(ocsp_error(&rsp, req, n),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	rsp.status = zt_ca_status_db;
	free(req);

	/* A delegated responder with id-kp-OCSPSigning. */
	assert_int_equal(zt_ca_key_generate(&ok, ZT_CA_KEY_P256), ZT_OK);
	assert_int_equal(zt_ca_ocsp_signer_create(&other, f->ca, ok, 3600),
	    ZT_OK);
	assert_true(X509_get_extended_key_usage(other) & XKU_OCSP_SIGN);
	rsp.signer = other;
	rsp.signer_key = ok;
	X509_free(x);
	x = parse_cert(&c);
	req = ocsp_req(x, f->inter, true, &n);
	assert_int_equal(ocsp_status(f, &rsp, req, n, &reason),
	    V_OCSP_CERTSTATUS_REVOKED);
	free(req);
	X509_free(other);
	EVP_PKEY_free(ok);
	X509_free(x);
	zt_ca_issued_free(&c);
}

/* ---- bundle, upstream CA ---------------------------------------------------------------- */

/* The CA generation: 0 before any change, one more per bump, per trust
 * domain. */
static void
test_ca_bundle__generation(void **state)
{
	struct fx *f = *state;
	int64_t g0, g1, other;

	assert_int_equal(zt_ca_generation(f->db, TD, &g0), ZT_OK);
	assert_int_equal(g0, 0);
	assert_int_equal(zt_ca_generation_bump(f->db, TD), ZT_OK);
	assert_int_equal(zt_ca_generation_bump(f->db, TD), ZT_OK);
	assert_int_equal(zt_ca_generation(f->db, TD, &g1), ZT_OK);
	assert_int_equal(g1, 2);
	assert_int_equal(zt_ca_generation(f->db, "other.example", &other),
	    ZT_OK);
	assert_int_equal(other, 0);
}

static void
test_ca_bundle__jwks_and_rotation(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *k2;
	X509 *root2;
	zt_ca_anchor a[2];
	json_t *b, *key;
	int64_t now = zt_now_ms(), seq1, seq2;
	char *pem;

	assert_int_equal(zt_ca_key_generate(&k2, ZT_CA_KEY_RSA2048), ZT_OK);
	assert_int_equal(zt_ca_root_create(&root2, k2, TD, 86400), ZT_OK);
	a[0] = (zt_ca_anchor){ f->root, ZT_CA_ACTIVE, 0 };
	a[1] = (zt_ca_anchor){ root2, ZT_CA_PREPARED, 0 };
	assert_int_equal(zt_ca_bundle_sequence_next(f->db, TD, &seq1), ZT_OK);
	assert_int_equal(zt_ca_bundle_sequence_next(f->db, TD, &seq2), ZT_OK);
	assert_int_equal(seq2, seq1 + 1);
	assert_int_equal(zt_ca_bundle_json(&b, a, 2, seq2, 300, now), ZT_OK);
	assert_int_equal(json_integer_value(json_object_get(b,
	    "spiffe_sequence")), seq2);
	assert_int_equal(json_integer_value(json_object_get(b,
	    "spiffe_refresh_hint")), 300);
	assert_int_equal(json_array_size(json_object_get(b, "keys")), 2);
	key = json_array_get(json_object_get(b, "keys"), 0);
	assert_string_equal(json_string_value(json_object_get(key, "use")),
	    "x509-svid");
	assert_string_equal(json_string_value(json_object_get(key, "kty")),
	    "EC");
	assert_null(json_object_get(key, "kid"));
	assert_int_equal(json_array_size(json_object_get(key, "x5c")), 1);
	assert_int_equal(strlen(json_string_value(json_object_get(key, "x"))),
	    43);
	key = json_array_get(json_object_get(b, "keys"), 1);
	assert_string_equal(json_string_value(json_object_get(key, "kty")),
	    "RSA");
	json_decref(b);

	/* Retired: kept until its last certificate expires. */
	a[0].state = ZT_CA_RETIRED;
	a[0].keep_until = now + 1000;
	assert_int_equal(zt_ca_bundle_json(&b, a, 2, 3, 300, now), ZT_OK);
	assert_int_equal(json_array_size(json_object_get(b, "keys")), 2);
	json_decref(b);
	assert_int_equal(zt_ca_bundle_json(&b, a, 2, 3, 300, now + 2000),
	    ZT_OK);
	assert_int_equal(json_array_size(json_object_get(b, "keys")), 1);
	json_decref(b);
	assert_int_equal(zt_ca_bundle_pem(&pem, a, 2, now), ZT_OK);
	assert_non_null(strstr(strstr(pem, "BEGIN CERTIFICATE") + 1,
	    "BEGIN CERTIFICATE"));
	free(pem);
	X509_free(root2);
	EVP_PKEY_free(k2);
}

static void
test_ca_hier__upstream_import(void **state)
{
	struct fx *f = *state;
	X509_REQ *csr;
	EVP_PKEY *k, *wrong;
	X509 *signed_int, *cert;
	STACK_OF(X509) *chain;
	char *p1, *p2, buf[8192];

	assert_int_equal(zt_ca_key_generate(&k, ZT_CA_KEY_P384), ZT_OK);
	assert_int_equal(zt_ca_intermediate_csr(&csr, k, TD), ZT_OK);
	assert_int_equal(X509_REQ_verify(csr, k), 1);
	/* The "upstream" is our own root here. */
	assert_int_equal(zt_ca_intermediate_create(&signed_int, f->root,
	    f->root_key, X509_REQ_get0_pubkey(csr), TD, 86400, true), ZT_OK);
	p1 = zt_ca_x509_pem(signed_int);
	p2 = zt_ca_x509_pem(f->root);
	snprintf(buf, sizeof(buf), "%s%s", p1, p2);
	assert_int_equal(zt_ca_import_chain(&cert, &chain, buf, strlen(buf),
	    k), ZT_OK);
	assert_int_equal(sk_X509_num(chain), 1);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);

	/* Another key, no root, junk. */
	assert_int_equal(zt_ca_key_generate(&wrong, ZT_CA_KEY_P256), ZT_OK);
	assert_int_equal(zt_ca_import_chain(&cert, &chain, buf, strlen(buf),
	    wrong), ZT_EINVAL);
	assert_int_equal(zt_ca_import_chain(&cert, &chain, p1, strlen(p1), k),
	    ZT_EINVAL);
	assert_int_equal(zt_ca_import_chain(&cert, &chain, "junk", 4, k),
	    ZT_EINVAL);
	/* The intermediate with name constraints still issues SVIDs. */
	{
		zt_ca_config cfg = { .trust_domain = TD, .gate = test_gate,
		    .gate_arg = &f->gate };
		zt_ca *ca2;
		zt_ca_request r = svid_req(f);
		zt_ca_issued c;

		assert_int_equal(zt_ca_new(&ca2, &cfg, signed_int, k,
		    f->chain), ZT_OK);
		assert_int_equal(zt_ca_issue(&c, ca2, f->db, &r, NULL, 0),
		    ZT_OK);
		assert_null(c.key_pem == NULL ? NULL : NULL);
		zt_ca_issued_free(&c);
		zt_ca_free(ca2);
		/* A CA for another key is refused. */
		assert_int_equal(zt_ca_new(&ca2, &cfg, signed_int, wrong,
		    f->chain), ZT_EINVAL);
	}
	free(p1);
	free(p2);
	X509_free(signed_int);
	X509_REQ_free(csr);
	EVP_PKEY_free(k);
	EVP_PKEY_free(wrong);
}

/* ---- JWT-SVIDs ------------------------------------------------------------------------------ */

static void
test_ca_jwt__svid(void **state)
{
	struct fx *f = *state;
	zt_ca_request r = svid_req(f);
	const char *aud[] = { "spiffe://test.example/acme/service/db" };
	const char *two[] = { "a", "b" };
	zt_jose_key *key, *ed;
	zt_jose_signer *s, *eds;
	zt_jwt_expect e = { 0 };
	json_t *claims, *b;
	zt_jws jws;
	char *tok;

	assert_int_equal(zt_jose_key_generate(&key, ZT_JOSE_ES256), ZT_OK);
	assert_int_equal(zt_jose_signer_new(&s, key, ZT_JOSE_ES256, "k1"),
	    ZT_OK);
	assert_int_equal(zt_ca_jwt_svid(&tok, f->ca, f->db, &r, s, aud, 1),
	    ZT_OK);
	assert_int_equal(zt_jws_parse(&jws, tok, strlen(tok)), ZT_OK);
	assert_int_equal(zt_jws_verify(&jws, key, ZT_JOSE_ES256), ZT_OK);
	assert_string_equal(jws.kid, "k1");
	e.aud = aud[0];
	e.require_exp = true;
	assert_int_equal(zt_jwt_check(&jws, &e, &claims), ZT_OK);
	assert_string_equal(json_string_value(json_object_get(claims, "sub")),
	    SVID_ID);
	assert_true(json_integer_value(json_object_get(claims, "exp")) <=
	    zt_now_ms() / 1000 + 300);
	json_decref(claims);
	zt_jws_free(&jws);
	free(tok);
	assert_int_equal(audits(f, "jwt_svid.issue"), 1);

	/* Two audiences become an array. */
	assert_int_equal(zt_ca_jwt_svid(&tok, f->ca, f->db, &r, s, two, 2),
	    ZT_OK);
	free(tok);

	/* Refusals: no audience, too long a TTL, EdDSA, the gate. */
	assert_int_equal(zt_ca_jwt_svid(&tok, f->ca, f->db, &r, s, aud, 0),
	    ZT_EINVAL);
	assert_null(tok);
	r.ttl = 7200;
	assert_int_equal(zt_ca_jwt_svid(&tok, f->ca, f->db, &r, s, aud, 1),
	    ZT_EINVAL);
	r.ttl = 0;
	assert_int_equal(zt_jose_key_generate(&ed, ZT_JOSE_EDDSA), ZT_OK);
	assert_int_equal(zt_jose_signer_new(&eds, ed, ZT_JOSE_EDDSA, "k2"),
	    ZT_OK);
	assert_int_equal(zt_ca_jwt_svid(&tok, f->ca, f->db, &r, eds, aud, 1),
	    ZT_EINVAL);
	f->gate.allow = false;
	assert_int_equal(zt_ca_jwt_svid(&tok, f->ca, f->db, &r, s, aud, 1),
	    ZT_EFORBIDDEN);
	assert_int_equal(audits(f, "cert.refuse"), 4);
	assert_int_equal(audits(f, "jwt_svid.issue"), 2);

	/* The bundle carries the key with use jwt-svid and its kid. */
	assert_int_equal(zt_ca_bundle_json(&b, NULL, 0, 1, 300, zt_now_ms()),
	    ZT_OK);
	assert_int_equal(zt_ca_bundle_add_jwt(b, key, "k1", ZT_JOSE_ES256),
	    ZT_OK);
	assert_int_equal(zt_ca_bundle_add_jwt(b, key, NULL, ZT_JOSE_ES256),
	    ZT_EINVAL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(b, "keys"), 0), "use")), "jwt-svid");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(b, "keys"), 0), "kid")), "k1");
	json_decref(b);
	zt_jose_signer_free(eds);
	zt_jose_key_free(ed);
	zt_jose_signer_free(s);
	zt_jose_key_free(key);
}

/* RSA, Ed25519 and P-384 hierarchies sign leaves, CRLs and OCSP answers
 * that verify (crl.c writes each signature algorithm itself). */
static void
test_ca_hier__rsa_and_ed25519(void **state)
{
	struct fx *f = *state;
	static const enum zt_ca_key_type types[] = { ZT_CA_KEY_RSA2048,
	    ZT_CA_KEY_ED25519, ZT_CA_KEY_P384 };
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(types); i++) {
		zt_ca_config cfg = { .trust_domain = TD, .gate = test_gate,
		    .gate_arg = &f->gate };
		zt_ca_ocsp rsp = { NULL, NULL, NULL, zt_ca_status_db, f->db,
		    0 };
		EVP_PKEY *rk, *ik;
		X509 *root, *inter, *x;
		zt_ca *ca;
		zt_ca_request r = svid_req(f);
		zt_ca_issued c;
		X509_CRL *crl;
		uint8_t *der, *req, *out;
		size_t n, rn, on;
		const uint8_t *p;
		OCSP_RESPONSE *resp;
		OCSP_BASICRESP *bs;

		assert_int_equal(zt_ca_key_generate(&rk, types[i]), ZT_OK);
		assert_int_equal(zt_ca_key_generate(&ik, types[i]), ZT_OK);
		assert_int_equal(zt_ca_root_create(&root, rk, TD, 86400),
		    ZT_OK);
		assert_int_equal(zt_ca_intermediate_create(&inter, root, rk, ik,
		    TD, 3600, false), ZT_OK);
		assert_int_equal(X509_verify(inter, rk), 1);
		assert_int_equal(zt_ca_new(&ca, &cfg, inter, ik, NULL), ZT_OK);
		assert_int_equal(zt_ca_issue(&c, ca, f->db, &r, NULL, 0),
		    ZT_OK);
		x = parse_cert(&c);
		assert_int_equal(X509_verify(x, ik), 1);
		assert_int_equal(zt_ca_revoke_serial(f->db, &f->actor, "acme",
		    c.serial, ZT_CA_SUPERSEDED), ZT_OK);

		assert_int_equal(zt_ca_crl_generate(&der, &n, ca, f->db, 60),
		    ZT_OK);
		crl = crl_parse(der, n);
		assert_int_equal(X509_CRL_verify(crl, ik), 1);
		assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)),
		    1);
		X509_CRL_free(crl);
		free(der);

		rsp.ca = ca;
		req = ocsp_req(x, inter, true, &rn);
		assert_int_equal(zt_ca_ocsp_respond(&out, &on, &rsp, req, rn),
		    ZT_OK);
		p = out;
		resp = d2i_OCSP_RESPONSE(NULL, &p, (long)on);
		assert_int_equal(OCSP_response_status(resp),
		    OCSP_RESPONSE_STATUS_SUCCESSFUL);
		bs = OCSP_response_get1_basic(resp);
		{
			STACK_OF(X509) *sk = sk_X509_new_null();
			X509_STORE *st = X509_STORE_new();

			sk_X509_push(sk, inter);
			X509_STORE_add_cert(st, root);
			assert_int_equal(OCSP_basic_verify(bs, sk, st, 0), 1);
			sk_X509_free(sk);
			X509_STORE_free(st);
		}
		OCSP_BASICRESP_free(bs);
		OCSP_RESPONSE_free(resp);
		free(out);
		free(req);
		X509_free(x);
		zt_ca_issued_free(&c);
		zt_ca_free(ca);
		X509_free(inter);
		X509_free(root);
		EVP_PKEY_free(rk);
		EVP_PKEY_free(ik);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_ca_issue__svid_from_p256_csr),
		T(test_ca_issue__svid_rsa_and_matching_san),
		T(test_ca_issue__generated_key),
		T(test_ca_issue__ttl_caps),
		T(test_ca_refuse__csr_faults),
		T(test_ca_refuse__request_faults),
		T(test_ca_refuse__gate),
		T(test_ca_issue__tls_server_and_client),
		T(test_ca_revoke__serial_identity_issuer),
		T(test_ca_list__expiring),
		T(test_ca_crl__entries_and_numbers),
		T(test_ca_crl__revset_refresh),
		T(test_ca_ocsp__good_revoked_unknown),
		T(test_ca_bundle__jwks_and_rotation),
		T(test_ca_bundle__generation),
		T(test_ca_hier__upstream_import),
		T(test_ca_jwt__svid),
		T(test_ca_hier__rsa_and_ed25519),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
