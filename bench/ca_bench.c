/*
 * ca_bench: the certificate center's hot paths.  Prints one markdown
 * table row per figure; asserts nothing.
 *
 *   - raw ECDSA P-256 signatures per second (EVP_DigestSign, SHA-256),
 *     the ceiling any issuance rate is compared with;
 *   - X.509-SVID issuance from P-256 CSRs per second (zt_ca_sign: parse
 *     the CSR, verify its signature, check key and extensions, the gate,
 *     build and sign the certificate, encode DER and PEM), on 1 and 2
 *     threads, and with the inventory and audit write on SQLite
 *     (zt_ca_issue, one fsync per certificate);
 *   - OCSP responses per second (a request with a nonce, an indexed
 *     lookup in an SQLite inventory of 10,000 certificates, a signed
 *     response), on 1 and 2 threads with a connection each;
 *   - CRL generation for 100,000 and 1,000,000 revoked serials, the
 *     direct DER writer of crl.c next to OpenSSL's X509_CRL API.
 *
 *   ca_bench [SECONDS [issue|ocsp|crl]]  (seconds per throughput figure,
 *                                         default 3; one part only)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "base/base.h"
#include "ca/ca.h"

#define TD "bench.example"
#define NCSR 256

static double seconds = 3;
static zt_ca *ca;
static X509 *inter;
static uint8_t *csrs[NCSR];
static size_t csr_len[NCSR];
static char db_path[64];

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_ca_migrations,
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
allow(void *arg, const zt_ca_request *req, zt_ca_decision *out)
{
	(void)arg;
	(void)req;
	out->allow = true;
}

static void die(const char *what) __attribute__((noreturn));

static void
die(const char *what)
{
	fprintf(stderr, "ca_bench: %s: %s\n", what, zt_error_msg());
	exit(1);
}

static void
setup_ca(void)
{
	zt_ca_config cfg = { .trust_domain = TD, .gate = allow,
	    .crl_url = "http://127.0.0.1/crl",
	    .ocsp_url = "http://127.0.0.1/ocsp" };
	EVP_PKEY *rk, *ik;
	X509 *root;
	STACK_OF(X509) *chain = sk_X509_new_null();

	if (zt_ca_key_generate(&rk, ZT_CA_KEY_P256) < 0 ||
	    zt_ca_key_generate(&ik, ZT_CA_KEY_P256) < 0 ||
	    zt_ca_root_create(&root, rk, TD, 86400 * 365) < 0 ||
	    zt_ca_intermediate_create(&inter, root, rk, ik, TD, 86400 * 30,
	    false) < 0)
		die("CA");
	sk_X509_push(chain, root);
	if (zt_ca_new(&ca, &cfg, inter, ik, chain) < 0)
		die("CA");
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
}

static void
make_csrs(void)
{
	int i, n;

	for (i = 0; i < NCSR; i++) {
		EVP_PKEY *k;
		X509_REQ *r = X509_REQ_new();
		uint8_t *der = NULL;

		if (zt_ca_key_generate(&k, ZT_CA_KEY_P256) < 0)
			die("key");
		X509_REQ_set_pubkey(r, k);
		X509_REQ_sign(r, k, EVP_sha256());
		n = i2d_X509_REQ(r, &der);
		csrs[i] = malloc((size_t)n);
		memcpy(csrs[i], der, (size_t)n);
		csr_len[i] = (size_t)n;
		OPENSSL_free(der);
		X509_REQ_free(r);
		EVP_PKEY_free(k);
	}
}

static zt_ca_request
svid_req(void)
{
	static const zt_actor actor = { "token:bench", NULL, NULL };
	zt_ca_request r = { 0 };

	r.caller = &actor;
	r.tenant = "acme";
	r.identity_id = "id-bench";
	r.profile = ZT_CA_SVID;
	r.spiffe_id = "spiffe://" TD "/acme/service/bench";
	return r;
}

static void
row(const char *what, const char *result, const char *target)
{
	printf("| %s | %s | %s |\n", what, result, target);
}

/* ---- raw signing ---------------------------------------------------------- */

static double
raw_sign_rate(void)
{
	EVP_PKEY *k;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t msg[64] = { 1 }, sig[80];
	size_t sl;
	int64_t t0 = now_ns(), end = t0 + (int64_t)(seconds * 1e9), t;
	long n = 0;

	zt_ca_key_generate(&k, ZT_CA_KEY_P256);
	do {
		sl = sizeof(sig);
		EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k);
		EVP_DigestSign(m, sig, &sl, msg, sizeof(msg));
		n++;
	} while ((n & 63) || (t = now_ns()) < end);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(k);
	return n / ((t - t0) / 1e9);
}

/* ---- issuance ---------------------------------------------------------------- */

struct worker {
	long n;
	int64_t ns;
	zt_db *db;
	char url[128];
};

static void *
sign_worker(void *arg)
{
	struct worker *w = arg;
	zt_ca_request r = svid_req();
	int64_t t0 = now_ns(), end = t0 + (int64_t)(seconds * 1e9), t;
	zt_ca_issued c;
	long i = 0;

	do {
		if (zt_ca_sign(&c, ca, &r, csrs[i % NCSR],
		    csr_len[i % NCSR]) < 0)
			die("sign");
		zt_ca_issued_free(&c);
		i++;
	} while ((i & 15) || (t = now_ns()) < end);
	w->n = i;
	w->ns = t - t0;
	return NULL;
}

static double
run_threads(void *(*fn)(void *), struct worker *w, int nthreads)
{
	pthread_t th[8];
	double rate = 0;
	int i;

	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, fn, &w[i]);
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		rate += w[i].n / (w[i].ns / 1e9);
	}
	return rate;
}

static double
issue_rate_stored(zt_db *db)
{
	zt_ca_request r = svid_req();
	int64_t t0 = now_ns(), end = t0 + (int64_t)(seconds * 1e9), t;
	zt_ca_issued c;
	long i = 0;

	do {
		if (zt_ca_issue(&c, ca, db, &r, csrs[i % NCSR],
		    csr_len[i % NCSR]) < 0)
			die("issue");
		zt_ca_issued_free(&c);
		i++;
	} while ((t = now_ns()) < end);
	return i / ((t - t0) / 1e9);
}

/* ---- OCSP -------------------------------------------------------------------- */

static uint8_t *ocsp_reqs[64];
static size_t ocsp_req_len[64];

static void
make_ocsp_reqs(zt_db *db)
{
	zt_ca_request r = svid_req();
	zt_ca_issued c;
	int i, n;

	/* 10,000 certificates in the inventory, 64 of them asked about. */
	for (i = 0; i < 10000; i++) {
		if (zt_ca_sign(&c, ca, &r, csrs[i % NCSR], csr_len[i % NCSR]) <
		    0)
			die("sign");
		if (i % 500 == 0)
			zt_db_begin(db);
		{
			zt_stmt *st;

			zt_db_prepare(&st, db, "INSERT INTO ca_certs (serial,"
			    " tenant, identity_id, spiffe_id, profile,"
			    " not_before, not_after, issuer_key_id, revoked_at,"
			    " reason, created_at, der) VALUES ($1, 'acme',"
			    " 'id', NULL, 'svid', $2, $3, $4, $5, 1, 0, $6)");
			zt_stmt_bind_text(st, 1, c.serial);
			zt_stmt_bind_int(st, 2, c.not_before);
			zt_stmt_bind_int(st, 3, c.not_after);
			zt_stmt_bind_text(st, 4, zt_ca_key_id(ca));
			zt_stmt_bind_int(st, 5, i % 10 == 0 ? c.not_before : 0);
			zt_stmt_bind_blob(st, 6, c.der, c.der_len);
			if (zt_stmt_step(st) < 0)
				die("insert");
			zt_stmt_reset(st);
		}
		if (i % 500 == 499)
			zt_db_commit(db);
		if (i < 64) {
			const uint8_t *p = c.der;
			X509 *x = d2i_X509(NULL, &p, (long)c.der_len);
			OCSP_REQUEST *req = OCSP_REQUEST_new();
			uint8_t *der = NULL;

			OCSP_request_add0_id(req, OCSP_cert_to_id(NULL, x,
			    inter));
			OCSP_request_add1_nonce(req, NULL, 16);
			n = i2d_OCSP_REQUEST(req, &der);
			ocsp_reqs[i] = malloc((size_t)n);
			memcpy(ocsp_reqs[i], der, (size_t)n);
			ocsp_req_len[i] = (size_t)n;
			OPENSSL_free(der);
			OCSP_REQUEST_free(req);
			X509_free(x);
		}
		zt_ca_issued_free(&c);
	}
}

static void *
ocsp_worker(void *arg)
{
	struct worker *w = arg;
	zt_ca_ocsp rsp = { ca, NULL, NULL, zt_ca_status_db, NULL, 600 };
	int64_t t0, end, t;
	uint8_t *out;
	size_t outlen;
	long i = 0;

	zt_db *db;

	if (zt_db_open(&db, w->url) < 0)
		die("db");
	rsp.status_arg = db;
	t0 = now_ns();
	end = t0 + (int64_t)(seconds * 1e9);
	do {
		if (zt_ca_ocsp_respond(&out, &outlen, &rsp, ocsp_reqs[i % 64],
		    ocsp_req_len[i % 64]) < 0)
			die("ocsp");
		free(out);
		i++;
	} while ((i & 15) || (t = now_ns()) < end);
	w->n = i;
	w->ns = t - t0;
	zt_db_close(db);
	return NULL;
}

/* ---- CRL ----------------------------------------------------------------------- */

static zt_ca_revset *
random_set(long n)
{
	zt_ca_revset *rs = zt_ca_revset_new();
	uint8_t raw[16];
	char hex[33];
	int64_t at = zt_now_ms() - 86400000;
	long i;

	for (i = 0; i < n; i++) {
		zt_random(raw, sizeof(raw));
		raw[0] |= 0x10;	/* 32 hex digits, no leading zero */
		zt_hex_encode(hex, raw, sizeof(raw));
		if (zt_ca_revset_add(rs, hex, at + i, i % 5 ? 1 : 0) < 0)
			die("revset");
	}
	return rs;
}

/* The same CRL through OpenSSL's X509_CRL objects, for comparison. */
static double
crl_openssl_api(long n, size_t *len, EVP_PKEY *key)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *tm = ASN1_TIME_new();
	uint8_t raw[16], *der = NULL;
	int64_t t0 = now_ns();
	long i;

	X509_CRL_set_version(crl, X509_CRL_VERSION_2);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(inter));
	ASN1_TIME_set(tm, time(NULL));
	X509_CRL_set1_lastUpdate(crl, tm);
	ASN1_TIME_set(tm, time(NULL) + 3600);
	X509_CRL_set1_nextUpdate(crl, tm);
	for (i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
		BIGNUM *bn;
		ASN1_INTEGER *sn;

		zt_random(raw, sizeof(raw));
		bn = BN_bin2bn(raw, sizeof(raw), NULL);
		sn = BN_to_ASN1_INTEGER(bn, NULL);
		X509_REVOKED_set_serialNumber(r, sn);
		ASN1_TIME_set(tm, time(NULL) - 86400);
		X509_REVOKED_set_revocationDate(r, tm);
		if (i % 5) {
			ASN1_ENUMERATED_set(e, 1);
			X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, e, 0, 0);
		}
		X509_CRL_add0_revoked(crl, r);
		ASN1_ENUMERATED_free(e);
		ASN1_INTEGER_free(sn);
		BN_free(bn);
	}
	X509_CRL_sign(crl, key, EVP_sha256());
	*len = (size_t)i2d_X509_CRL(crl, &der);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	ASN1_TIME_free(tm);
	return (now_ns() - t0) / 1e9;
}

static void
crl_rows(long n, EVP_PKEY *key)
{
	zt_ca_revset *rs = random_set(n);
	char what[128], res[128];
	uint8_t *der;
	size_t len;
	int64_t t0 = now_ns();
	double s;

	if (zt_ca_crl_build(&der, &len, ca, rs, 1, zt_now_ms(), 3600) < 0)
		die("crl");
	s = (now_ns() - t0) / 1e9;
	snprintf(what, sizeof(what), "CRL of %ld revoked serials, direct DER "
	    "(crl.c)", n);
	snprintf(res, sizeof(res), "%.3f s, %.1f MiB", s, len / 1048576.0);
	row(what, res, n >= 1000000 ? "< 5 s" : "");
	free(der);
	zt_ca_revset_free(rs);

	s = crl_openssl_api(n, &len, key);
	snprintf(what, sizeof(what), "CRL of %ld revoked serials, X509_CRL "
	    "API (comparison)", n);
	snprintf(res, sizeof(res), "%.3f s, %.1f MiB", s, len / 1048576.0);
	row(what, res, "");
}

int
main(int argc, char **argv)
{
	struct worker w[2];
	char res[128], url[128];
	EVP_PKEY *crlkey;
	double raw, r1, r2;
	const char *only;
	zt_db *db;
	int fd;

	if (argc > 1)
		seconds = strtod(argv[1], NULL);
	if (seconds <= 0)
		seconds = 3;
	only = argc > 2 ? argv[2] : "";
	zt_log_setup(ZT_LOG_ERROR, ZT_LOG_JSON, 2);
	setup_ca();
	make_csrs();
	snprintf(db_path, sizeof(db_path), "/tmp/ztiam-ca-bench-XXXXXX");
	if ((fd = mkstemp(db_path)) < 0)
		die("tmp");
	close(fd);
	snprintf(url, sizeof(url), "sqlite:%s", db_path);
	if (zt_db_open(&db, url) < 0 ||
	    zt_store_migrate(db, sets, ZT_ARRAY_LEN(sets)) < 0)
		die("db");

	printf("| measure | result | target |\n|---|---|---|\n");
	if (*only && strcmp(only, "issue") != 0)
		goto ocsp;
	raw = raw_sign_rate();
	snprintf(res, sizeof(res), "%.0f /s", raw);
	row("raw ECDSA P-256 sign (EVP_DigestSign), 1 thread", res, "");

	memset(w, 0, sizeof(w));
	r1 = run_threads(sign_worker, w, 1);
	snprintf(res, sizeof(res), "%.0f /s (%.2f x raw)", r1, r1 / raw);
	row("X.509-SVID from P-256 CSR (zt_ca_sign), 1 thread", res,
	    ">= 0.5 x raw");
	memset(w, 0, sizeof(w));
	r2 = run_threads(sign_worker, w, 2);
	snprintf(res, sizeof(res), "%.0f /s (%.2f x raw 1-thread)", r2,
	    r2 / raw);
	row("X.509-SVID from P-256 CSR (zt_ca_sign), 2 threads", res,
	    ">= 0.5 x raw");
	r1 = issue_rate_stored(db);
	snprintf(res, sizeof(res), "%.0f /s", r1);
	row("X.509-SVID issued and stored with audit (SQLite, fsync each)",
	    res, "");
ocsp:
	if (*only && strcmp(only, "ocsp") != 0)
		goto crl;

	make_ocsp_reqs(db);
	memset(w, 0, sizeof(w));
	snprintf(w[0].url, sizeof(w[0].url), "%s", url);
	snprintf(w[1].url, sizeof(w[1].url), "%s", url);
	r1 = run_threads(ocsp_worker, w, 1);
	snprintf(res, sizeof(res), "%.0f /s", r1);
	row("OCSP responses (nonce, SQLite lookup, signed), 1 thread", res,
	    ">= 20,000 /s");
	r2 = run_threads(ocsp_worker, w, 2);
	snprintf(res, sizeof(res), "%.0f /s", r2);
	row("OCSP responses (nonce, SQLite lookup, signed), 2 threads", res,
	    ">= 20,000 /s");

crl:
	if (*only && strcmp(only, "crl") != 0)
		goto out;
	zt_ca_key_generate(&crlkey, ZT_CA_KEY_P256);
	crl_rows(100000, crlkey);
	crl_rows(1000000, crlkey);
	EVP_PKEY_free(crlkey);
out:
	zt_db_close(db);
	unlink(db_path);
	zt_ca_free(ca);
	X509_free(inter);
	return 0;
}
