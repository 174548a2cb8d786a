/*
 * crl.c: the in-memory revoked set and CRLs (RFC 5280 section 5).
 *
 * The CRL's DER is written here directly instead of through OpenSSL's
 * X509_CRL.  X509_CRL holds each entry as a handful of separately
 * allocated objects (X509_REVOKED, ASN1_INTEGER, ASN1_TIME, an extension
 * stack with an ASN1_ENUMERATED inside an OCTET STRING) and encodes it by
 * walking ASN.1 templates twice (length, then bytes); for a million
 * entries that is tens of millions of allocations.  A CRL is a simple,
 * fixed shape: every entry here is at most 52 bytes, so the whole list
 * is sized in one pass, allocated once and written in a second pass,
 * and only the TBSCertList is handed to EVP_DigestSign.  bench/ca_bench.c
 * measures both ways.
 *
 *   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm,
 *                                  signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version INTEGER (1 = v2), signature,
 *       issuer Name, thisUpdate Time, nextUpdate Time,
 *       revokedCertificates SEQUENCE OF SEQUENCE { userCertificate
 *           INTEGER, revocationDate Time, crlEntryExtensions (reasonCode)
 *           OPTIONAL } OPTIONAL (absent when empty),
 *       crlExtensions [0] EXPLICIT Extensions (AKI, cRLNumber) }
 *
 * Times are UTCTime through 2049 and GeneralizedTime after (5.1.2.4).
 * The reason code is left out for "unspecified", as 5.3.1 asks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "ca/ca_int.h"

struct rev_entry {
	uint8_t sn[20];		/* big-endian, right-aligned */
	uint8_t len;		/* bytes that matter (1 to 20) */
	uint8_t reason;
	int64_t at;		/* ms */
};

struct zt_ca_revset {
	struct rev_entry *v;
	size_t n, cap;
	bool sorted;
	int64_t epoch;
};

zt_ca_revset *
zt_ca_revset_new(void)
{
	zt_ca_revset *rs = calloc(1, sizeof(*rs));

	if (rs != NULL)
		rs->sorted = true;
	return rs;
}

void
zt_ca_revset_free(zt_ca_revset *rs)
{
	if (rs == NULL)
		return;
	free(rs->v);
	free(rs);
}

size_t
zt_ca_revset_count(const zt_ca_revset *rs)
{
	return rs ? rs->n : 0;
}

int
zt_ca_revset_add(zt_ca_revset *rs, const char *serial, int64_t revoked_at,
    int reason)
{
	struct rev_entry *e;
	size_t n;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 1024;
		struct rev_entry *v = realloc(rs->v, cap * sizeof(*v));

		if (v == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
		rs->v = v;
		rs->cap = cap;
	}
	e = &rs->v[rs->n];
	if (ca_serial_bytes(e->sn, &n, serial) < 0)
		return zt_error_set(ZT_EINVAL, "bad serial in revoked set");
	e->len = (uint8_t)n;
	e->reason = (uint8_t)reason;
	e->at = revoked_at;
	rs->n++;
	rs->sorted = false;
	return ZT_OK;
}

static int
entry_cmp(const void *a, const void *b)
{
	return memcmp(((const struct rev_entry *)a)->sn,
	    ((const struct rev_entry *)b)->sn, 20);
}

bool
zt_ca_revset_find(zt_ca_revset *rs, const char *serial, int64_t *revoked_at,
    int *reason)
{
	struct rev_entry key, *e;
	size_t n;

	if (rs == NULL || ca_serial_bytes(key.sn, &n, serial) < 0)
		return false;
	if (!rs->sorted) {
		qsort(rs->v, rs->n, sizeof(*rs->v), entry_cmp);
		rs->sorted = true;
	}
	if ((e = bsearch(&key, rs->v, rs->n, sizeof(*rs->v), entry_cmp)) ==
	    NULL)
		return false;
	if (revoked_at)
		*revoked_at = e->at;
	if (reason)
		*reason = e->reason;
	return true;
}

int
zt_ca_revset_load(zt_ca_revset **out, zt_db *db, const char *key_id)
{
	zt_ca_revset *rs = zt_ca_revset_new();
	zt_stmt *st;
	int err;

	if (rs == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	/* The epoch first: a revocation committed while the rows are read
	 * moves it past what is recorded here, so the next refresh loads
	 * again rather than miss it. */
	if ((err = zt_ca_epoch(db, &rs->epoch)) < 0 ||
	    (err = zt_db_prepare(&st, db, "SELECT serial, revoked_at, reason"
	    " FROM ca_certs WHERE issuer_key_id = $1 AND revoked_at > 0"
	    " AND not_after > $2")) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, key_id);
	zt_stmt_bind_int(st, 2, zt_now_ms());
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		if ((err = zt_ca_revset_add(rs, zt_stmt_text(st, 0),
		    zt_stmt_int(st, 1), (int)zt_stmt_int(st, 2))) < 0)
			break;
	zt_stmt_reset(st);
	if (err < 0)
		goto fail;
	*out = rs;
	return ZT_OK;
fail:
	zt_ca_revset_free(rs);
	return err;
}

int
zt_ca_revset_refresh(zt_ca_revset **rs, zt_db *db, const char *key_id)
{
	zt_ca_revset *fresh;
	int64_t epoch;
	int err;

	if (*rs != NULL) {
		if ((err = zt_ca_epoch(db, &epoch)) < 0)
			return err;
		if (epoch == (*rs)->epoch)
			return ZT_OK;
	}
	if ((err = zt_ca_revset_load(&fresh, db, key_id)) < 0)
		return err;
	zt_ca_revset_free(*rs);
	*rs = fresh;
	return ZT_OK;
}

/* ---- DER writing ------------------------------------------------------------------ */

static size_t
len_size(size_t n)
{
	if (n < 0x80)
		return 1;
	if (n < 0x100)
		return 2;
	if (n < 0x10000)
		return 3;
	if (n < 0x1000000)
		return 4;
	return 5;
}

static uint8_t *
put_hdr(uint8_t *p, uint8_t tag, size_t n)
{
	size_t k = len_size(n), i;

	*p++ = tag;
	if (k == 1) {
		*p++ = (uint8_t)n;
		return p;
	}
	*p++ = (uint8_t)(0x80 | (k - 1));
	for (i = k - 1; i > 0; i--)
		*p++ = (uint8_t)(n >> (8 * (i - 1)));
	return p;
}

static size_t
tlv_size(size_t n)
{
	return 1 + len_size(n) + n;
}

/* UTCTime before 2050, GeneralizedTime after; 15 or 17 bytes. */
static uint8_t *
put_time(uint8_t *p, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[20];
	int n;

	gmtime_r(&t, &tm);
	if (tm.tm_year + 1900 < 2050)
		n = snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ",
		    tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
	else
		n = snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
	p = put_hdr(p, n == 13 ? 0x17 : 0x18, (size_t)n);
	memcpy(p, s, (size_t)n);
	return p + n;
}

static size_t
time_size(int64_t ms)
{
	/* 2050-01-01T00:00:00Z */
	return ms < 2524608000000LL ? 15 : 17;
}

/* An INTEGER from big-endian bytes without leading zeros. */
static size_t
int_content(const uint8_t *b, size_t n)
{
	return n + ((b[0] & 0x80) ? 1 : 0);
}

static uint8_t *
put_int(uint8_t *p, const uint8_t *b, size_t n)
{
	p = put_hdr(p, 0x02, int_content(b, n));
	if (b[0] & 0x80)
		*p++ = 0;
	memcpy(p, b, n);
	return p + n;
}

static const uint8_t *
entry_bytes(const struct rev_entry *e, size_t *n)
{
	*n = e->len;
	return e->sn + 20 - e->len;
}

/* reasonCode extension: SEQ { SEQ { OID 2.5.29.21, OCTET { ENUM r } } } */
static const uint8_t reason_ext[] = {
	0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15,
	0x04, 0x03, 0x0a, 0x01, /* the reason */
};

static size_t
entry_content(const struct rev_entry *e)
{
	size_t n;
	const uint8_t *b = entry_bytes(e, &n);

	return tlv_size(int_content(b, n)) + time_size(e->at) +
	    (e->reason ? sizeof(reason_ext) + 1 : 0);
}

static uint8_t *
put_entry(uint8_t *p, const struct rev_entry *e)
{
	size_t n;
	const uint8_t *b = entry_bytes(e, &n);

	p = put_hdr(p, 0x30, entry_content(e));
	p = put_int(p, b, n);
	p = put_time(p, e->at);
	if (e->reason) {
		memcpy(p, reason_ext, sizeof(reason_ext));
		p += sizeof(reason_ext);
		*p++ = e->reason;
	}
	return p;
}

/* The signatureAlgorithm of `key`. */
static int
sig_alg(const zt_ca *ca, const uint8_t **der, size_t *n)
{
	static const uint8_t ecdsa256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
	static const uint8_t ecdsa384[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
	static const uint8_t rsa256[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86,
	    0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 };
	static const uint8_t ed25519[] = { 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65,
	    0x70 };

	switch (EVP_PKEY_get_id(ca->key)) {
	case EVP_PKEY_EC:
		*der = ca->md == EVP_sha384() ? ecdsa384 : ecdsa256;
		*n = sizeof(ecdsa256);
		return ZT_OK;
	case EVP_PKEY_RSA:
		*der = rsa256;
		*n = sizeof(rsa256);
		return ZT_OK;
	case EVP_PKEY_ED25519:
		*der = ed25519;
		*n = sizeof(ed25519);
		return ZT_OK;
	}
	return zt_error_set(ZT_EINVAL, "CA key type cannot sign a CRL here");
}

/* [0] { SEQ { AKI ext, cRLNumber ext } } into `p` (NULL: size only). */
static size_t
crl_exts(uint8_t *p, const zt_ca *ca, int64_t number)
{
	static const uint8_t aki_oid[] = { 0x06, 0x03, 0x55, 0x1d, 0x23 };
	static const uint8_t num_oid[] = { 0x06, 0x03, 0x55, 0x1d, 0x14 };
	uint8_t nb[9];
	size_t nlen = 0, i, kid = (size_t)ca->ski_len;
	size_t aki_in, aki_ext, num_in, num_ext, seq, all;
	uint8_t *q = p;

	/* cRLNumber as a minimal positive INTEGER. */
	for (i = 0; i < 8; i++) {
		uint8_t b = (uint8_t)((uint64_t)number >> (56 - 8 * i));

		if (b != 0 || nlen > 0 || i == 7)
			nb[nlen++] = b;
	}
	aki_in = tlv_size(tlv_size(kid));	/* SEQ { [0] keyid } */
	aki_ext = tlv_size(sizeof(aki_oid) + tlv_size(aki_in));
	num_in = tlv_size(int_content(nb, nlen));
	num_ext = tlv_size(sizeof(num_oid) + tlv_size(num_in));
	seq = tlv_size(aki_ext + num_ext);
	all = tlv_size(seq);
	if (p == NULL)
		return all;
	q = put_hdr(q, 0xa0, seq);
	q = put_hdr(q, 0x30, aki_ext + num_ext);
	q = put_hdr(q, 0x30, sizeof(aki_oid) + tlv_size(aki_in));
	memcpy(q, aki_oid, sizeof(aki_oid));
	q += sizeof(aki_oid);
	q = put_hdr(q, 0x04, aki_in);
	q = put_hdr(q, 0x30, tlv_size(kid));
	q = put_hdr(q, 0x80, kid);
	memcpy(q, ca->ski, kid);
	q += kid;
	q = put_hdr(q, 0x30, sizeof(num_oid) + tlv_size(num_in));
	memcpy(q, num_oid, sizeof(num_oid));
	q += sizeof(num_oid);
	q = put_hdr(q, 0x04, num_in);
	put_int(q, nb, nlen);
	return all;
}

int
zt_ca_crl_build(uint8_t **der, size_t *len, const zt_ca *ca,
    zt_ca_revset *rs, int64_t number, int64_t now, int64_t validity_s)
{
	static const uint8_t version[] = { 0x02, 0x01, 0x01 };
	const uint8_t *alg = NULL;
	size_t alg_len = 0, list = 0, tbs_in, tbs, sig_max, total, i, siglen;
	size_t nrev = rs ? rs->n : 0, out_in, hdr;
	int64_t next = now + validity_s * 1000;
	EVP_MD_CTX *mctx = NULL;
	uint8_t *buf, *p, *t, *sig = NULL;
	int err;

	if (number < 1 || validity_s < 1)
		return zt_error_set(ZT_EINVAL, "CRL number and validity must "
		    "be positive");
	if ((err = sig_alg(ca, &alg, &alg_len)) < 0)
		return err;

	/* Pass one: sizes. */
	for (i = 0; i < nrev; i++)
		list += tlv_size(entry_content(&rs->v[i]));
	tbs_in = sizeof(version) + alg_len + (size_t)ca->subject_len +
	    time_size(now) + time_size(next) +
	    (nrev ? tlv_size(list) : 0) + crl_exts(NULL, ca, number);
	tbs = tlv_size(tbs_in);
	sig_max = (size_t)EVP_PKEY_get_size(ca->key);
	/* Room for the outer header (at most 5 + 1 bytes) in front. */
	total = 6 + tbs + alg_len + tlv_size(sig_max + 1);
	if ((buf = malloc(total)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");

	/* Pass two: the TBSCertList at offset 6. */
	t = p = buf + 6;
	p = put_hdr(p, 0x30, tbs_in);
	memcpy(p, version, sizeof(version));
	p += sizeof(version);
	memcpy(p, alg, alg_len);
	p += alg_len;
	memcpy(p, ca->subject_der, (size_t)ca->subject_len);
	p += ca->subject_len;
	p = put_time(p, now);
	p = put_time(p, next);
	if (nrev) {
		p = put_hdr(p, 0x30, list);
		for (i = 0; i < nrev; i++)
			p = put_entry(p, &rs->v[i]);
	}
	p += crl_exts(p, ca, number);
	if ((size_t)(p - t) != tbs) {
		free(buf);
		return zt_error_set(ZT_ERR, "CRL size mismatch");
	}

	/* Sign it, then put the outer SEQUENCE together. */
	siglen = sig_max;
	if ((sig = malloc(sig_max)) == NULL ||
	    (mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, ca->md, NULL, ca->key) != 1 ||
	    EVP_DigestSign(mctx, sig, &siglen, t, tbs) != 1) {
		err = ca_ssl_error(ZT_ERR, "signing the CRL");
		goto fail;
	}
	out_in = tbs + alg_len + tlv_size(siglen + 1);
	hdr = 1 + len_size(out_in);
	put_hdr(buf + 6 - hdr, 0x30, out_in);
	p = t + tbs;
	memcpy(p, alg, alg_len);
	p += alg_len;
	p = put_hdr(p, 0x03, siglen + 1);
	*p++ = 0;	/* no unused bits */
	memcpy(p, sig, siglen);
	p += siglen;
	memmove(buf, buf + 6 - hdr, (size_t)(p - (buf + 6 - hdr)));
	*len = (size_t)(p - (buf + 6 - hdr));
	*der = buf;
	free(sig);
	EVP_MD_CTX_free(mctx);
	return ZT_OK;
fail:
	free(sig);
	free(buf);
	EVP_MD_CTX_free(mctx);
	return err;
}

int
zt_ca_crl_generate(uint8_t **der, size_t *len, const zt_ca *ca, zt_db *db,
    int64_t validity_s)
{
	zt_ca_revset *rs = NULL;
	int64_t number;
	int err;

	if ((err = zt_ca_revset_load(&rs, db, ca->key_id)) < 0)
		return err;
	if ((err = zt_ca_crl_number_next(db, ca->key_id, &number)) == ZT_OK)
		err = zt_ca_crl_build(der, len, ca, rs, number, zt_now_ms(),
		    validity_s);
	zt_ca_revset_free(rs);
	return err;
}
