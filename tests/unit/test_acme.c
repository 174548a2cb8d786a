/*
 * Unit tests of acme/: the JWS envelope (what parses, which problem type
 * each refusal carries, signatures), single-use nonces, and the state
 * machine of accounts, orders, authorizations and challenges on a
 * database: a SQLite temporary file by default, or the PostgreSQL named
 * by ZTIAM_TEST_DB.  Identifier canonicalisation and the CSR name match
 * are checked on CSRs built here with OpenSSL.
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
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/acme.h"
#include "base/base.h"
#include "testdb.h"

#define URL "http://127.0.0.1:8080/acme/t/new-order"
#define TENANT "t"

struct fx {
	zt_db *db;
	zt_jose_key *key;	/* Ed25519: its signatures are raw bytes */
	json_t *jwk;
};

static const zt_migration_set *const sets[] = { &zt_acme_migrations };

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	zt_log_setup(ZT_LOG_ERROR, ZT_LOG_JSON, 2);
	if (f == NULL || (f->db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL ||
	    zt_jose_key_generate(&f->key, ZT_JOSE_EDDSA) < 0 ||
	    zt_jose_key_jwk(&f->jwk, f->key, NULL, 0, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	testdb_close(f->db);
	zt_jose_key_free(f->key);
	json_decref(f->jwk);
	free(f);
	return 0;
}

/* ---- building requests -------------------------------------------------- */

static char *
b64u(const void *p, size_t n)
{
	char *out = malloc(zt_b64url_len(n) + 1);

	assert_non_null(out);
	zt_b64url_encode(out, p, n);
	return out;
}

/* A flattened JWS of `payload` (NULL: empty) under `header`, signed
 * with the fixture's Ed25519 key. */
static char *
envelope(struct fx *f, json_t *header, const char *payload)
{
	char *h = json_dumps(header, JSON_COMPACT), *h64, *p64, *s64, *out;
	uint8_t sig[64];
	size_t siglen = sizeof(sig);
	zt_buf in = ZT_BUF_INIT(1 << 16);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	json_t *doc;

	h64 = b64u(h, strlen(h));
	p64 = b64u(payload ? payload : "", payload ? strlen(payload) : 0);
	assert_int_equal(zt_buf_addf(&in, "%s.%s", h64, p64), 0);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL,
	    zt_jose_key_pkey(f->key)), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen,
	    (const uint8_t *)in.data, in.len), 1);
	s64 = b64u(sig, siglen);
	doc = json_pack("{s:s,s:s,s:s}", "protected", h64, "payload", p64,
	    "signature", s64);
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	json_decref(header);
	EVP_MD_CTX_free(ctx);
	zt_buf_free(&in);
	free(h);
	free(h64);
	free(p64);
	free(s64);
	return out;
}

static int
parse(const char *body, bool inner, enum zt_acme_prob *prob,
    zt_acme_jws *out)
{
	zt_acme_jws tmp;
	int err = zt_acme_jws_parse(out ? out : &tmp, body, strlen(body),
	    inner, prob);

	if (err == 0 && out == NULL)
		zt_acme_jws_free(&tmp);
	return err;
}

/* ---- the envelope ------------------------------------------------------- */

static void
test_acme_jws__valid_jwk_and_kid(void **state)
{
	struct fx *f = *state;
	enum zt_acme_prob prob;
	zt_jose_key *other;
	zt_acme_jws r;
	char *body;

	body = envelope(f, json_pack("{s:s,s:O,s:s,s:s}", "alg", "EdDSA",
	    "jwk", f->jwk, "nonce", "n1", "url", URL), "{\"a\":1}");
	assert_int_equal(parse(body, false, &prob, &r), 0);
	assert_string_equal(r.url, URL);
	assert_string_equal(r.nonce, "n1");
	assert_null(r.kid);
	assert_non_null(r.jwk);
	assert_int_equal(json_integer_value(json_object_get(r.payload, "a")),
	    1);
	assert_int_equal(zt_acme_jws_verify(&r, f->key), 0);
	assert_int_equal(zt_jose_key_generate(&other, ZT_JOSE_EDDSA), 0);
	assert_int_not_equal(zt_acme_jws_verify(&r, other), 0);
	zt_jose_key_free(other);
	zt_acme_jws_free(&r);
	free(body);

	/* POST-as-GET with a kid: no payload object. */
	body = envelope(f, json_pack("{s:s,s:s,s:s,s:s}", "alg", "EdDSA",
	    "kid", "http://x/acme/t/acct/1", "nonce", "n", "url", URL), NULL);
	assert_int_equal(parse(body, false, &prob, &r), 0);
	assert_null(r.payload);
	assert_string_equal(r.kid, "http://x/acme/t/acct/1");
	zt_acme_jws_free(&r);
	free(body);
}

static void
test_acme_jws__refusals(void **state)
{
	struct fx *f = *state;
	enum zt_acme_prob prob;
	char *body;

	/* No nonce: badNonce; but an inner (key change) JWS needs none. */
	body = envelope(f, json_pack("{s:s,s:O,s:s}", "alg", "EdDSA", "jwk",
	    f->jwk, "url", URL), "{}");
	assert_int_equal(parse(body, false, &prob, NULL), ZT_EINVAL);
	assert_int_equal(prob, ZT_ACME_BAD_NONCE);
	assert_int_equal(parse(body, true, &prob, NULL), 0);
	free(body);

	/* Both jwk and kid; neither; no url. */
	body = envelope(f, json_pack("{s:s,s:O,s:s,s:s,s:s}", "alg", "EdDSA",
	    "jwk", f->jwk, "kid", "k", "nonce", "n", "url", URL), "{}");
	assert_int_equal(parse(body, false, &prob, NULL), ZT_EINVAL);
	assert_int_equal(prob, ZT_ACME_MALFORMED);
	free(body);
	body = envelope(f, json_pack("{s:s,s:s,s:s}", "alg", "EdDSA",
	    "nonce", "n", "url", URL), "{}");
	assert_int_equal(parse(body, false, &prob, NULL), ZT_EINVAL);
	assert_int_equal(prob, ZT_ACME_MALFORMED);
	free(body);
	body = envelope(f, json_pack("{s:s,s:s,s:s}", "alg", "EdDSA",
	    "nonce", "n", "kid", "k"), "{}");
	assert_int_equal(parse(body, false, &prob, NULL), ZT_EINVAL);
	assert_int_equal(prob, ZT_ACME_MALFORMED);
	free(body);

	/* Algorithms outside the ACME list: badSignatureAlgorithm. */
	body = envelope(f, json_pack("{s:s,s:s,s:s,s:s}", "alg", "HS256",
	    "kid", "k", "nonce", "n", "url", URL), "{}");
	assert_int_not_equal(parse(body, false, &prob, NULL), 0);
	assert_int_equal(prob, ZT_ACME_BAD_SIGNATURE_ALGORITHM);
	free(body);
	body = envelope(f, json_pack("{s:s,s:s,s:s,s:s}", "alg", "PS256",
	    "kid", "k", "nonce", "n", "url", URL), "{}");
	assert_int_not_equal(parse(body, false, &prob, NULL), 0);
	assert_int_equal(prob, ZT_ACME_BAD_SIGNATURE_ALGORITHM);
	free(body);

	/* A payload that is not an object. */
	body = envelope(f, json_pack("{s:s,s:s,s:s,s:s}", "alg", "EdDSA",
	    "kid", "k", "nonce", "n", "url", URL), "[1]");
	assert_int_equal(parse(body, false, &prob, NULL), ZT_EINVAL);
	assert_int_equal(prob, ZT_ACME_MALFORMED);
	free(body);

	/* Not the flattened form: extra members, compact, not JSON. */
	assert_int_not_equal(parse("{\"protected\":\"e30\",\"payload\":\"\","
	    "\"signature\":\"AA\",\"header\":{}}", false, &prob, NULL), 0);
	assert_int_equal(prob, ZT_ACME_MALFORMED);
	assert_int_not_equal(parse("\"e30.e30.AA\"", false, &prob, NULL), 0);
	assert_int_equal(prob, ZT_ACME_MALFORMED);
	assert_int_not_equal(parse("{", false, &prob, NULL), 0);
	assert_int_equal(prob, ZT_ACME_MALFORMED);
}

static void
test_acme_jws__problem_types(void **state)
{
	(void)state;
	assert_string_equal(zt_acme_prob_type(ZT_ACME_BAD_NONCE),
	    "urn:ietf:params:acme:error:badNonce");
	assert_string_equal(zt_acme_prob_type(ZT_ACME_ORDER_NOT_READY),
	    "urn:ietf:params:acme:error:orderNotReady");
	assert_int_equal(zt_acme_prob_status(ZT_ACME_UNAUTHORIZED), 403);
	assert_int_equal(zt_acme_prob_status(ZT_ACME_MALFORMED), 400);
	assert_int_equal(zt_acme_prob_status(ZT_ACME_SERVER_INTERNAL), 500);
}

/* ---- nonces ------------------------------------------------------------- */

static void
test_acme_nonce__single_use(void **state)
{
	struct fx *f = *state;
	char a[ZT_ACME_NONCE_LEN + 1], b[ZT_ACME_NONCE_LEN + 1];

	assert_int_equal(zt_acme_nonce_new(f->db, a), 0);
	assert_int_equal(zt_acme_nonce_new(f->db, b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), ZT_ACME_NONCE_LEN);
	assert_int_equal(zt_acme_nonce_use(f->db, a), 0);
	assert_int_equal(zt_acme_nonce_use(f->db, a), ZT_ENOTFOUND);
	assert_int_equal(zt_acme_nonce_use(f->db, "AAAAAAAAAAAAAAAAAAAAAA"),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_acme_nonce_use(f->db, "short"), ZT_ENOTFOUND);
	assert_int_equal(zt_acme_nonce_use(f->db, b), 0);
}

/* ---- accounts ----------------------------------------------------------- */

static json_t *
new_account(struct fx *f, zt_jose_key **key)
{
	enum zt_acme_prob prob;
	json_t *jwk, *acct;

	assert_int_equal(zt_jose_key_generate(key, ZT_JOSE_ES256), 0);
	assert_int_equal(zt_jose_key_jwk(&jwk, *key, NULL, 0, NULL), 0);
	assert_int_equal(zt_acme_account_new(&acct, f->db, TENANT, jwk,
	    NULL, &prob), 0);
	json_decref(jwk);
	return acct;
}

static void
test_acme_account__keys_and_contacts(void **state)
{
	struct fx *f = *state;
	enum zt_acme_prob prob;
	char tp[ZT_JOSE_THUMBPRINT_LEN + 1], other[ZT_ACME_ID_LEN + 1];
	json_t *acct, *again, *c;
	zt_jose_key *key, *k2;
	const char *id;

	acct = new_account(f, &key);
	id = json_string_value(json_object_get(acct, "id"));
	assert_string_equal(json_string_value(json_object_get(acct,
	    "status")), "valid");
	assert_int_equal(zt_jose_thumbprint(tp, key), 0);
	assert_int_equal(zt_acme_account_by_key(&again, f->db, TENANT, tp), 0);
	assert_string_equal(json_string_value(json_object_get(again, "id")),
	    id);
	json_decref(again);
	assert_int_equal(zt_acme_account_by_key(&again, f->db, "other", tp),
	    ZT_ENOTFOUND);

	/* The same key again: the existing account. */
	assert_int_equal(zt_acme_account_new(&again, f->db, TENANT, f->jwk,
	    NULL, &prob), 0);
	json_decref(again);
	assert_int_equal(zt_acme_account_new(&again, f->db, TENANT, f->jwk,
	    NULL, &prob), ZT_EEXISTS);
	json_decref(again);

	/* Contacts: mailto only, plain addresses. */
	c = json_pack("[s]", "tel:+15551234");
	assert_int_equal(zt_acme_account_update(&again, f->db, TENANT, id, c,
	    false, &prob), ZT_EINVAL);
	assert_int_equal(prob, ZT_ACME_UNSUPPORTED_CONTACT);
	json_decref(c);
	c = json_pack("[s]", "mailto:a@b.example?subject=x");
	assert_int_equal(zt_acme_account_update(&again, f->db, TENANT, id, c,
	    false, &prob), ZT_EINVAL);
	assert_int_equal(prob, ZT_ACME_INVALID_CONTACT);
	json_decref(c);
	c = json_pack("[s]", "mailto:ops@b.example");
	assert_int_equal(zt_acme_account_update(&again, f->db, TENANT, id, c,
	    false, &prob), 0);
	assert_true(json_equal(json_object_get(again, "contact"), c));
	json_decref(again);
	json_decref(c);

	/* Roll-over: to a fresh key works; to a key in use does not. */
	assert_int_equal(zt_jose_key_generate(&k2, ZT_JOSE_ES256), 0);
	assert_int_equal(zt_jose_key_jwk(&c, k2, NULL, 0, NULL), 0);
	assert_int_equal(zt_acme_account_rekey(f->db, TENANT, id, c, other),
	    0);
	assert_int_equal(zt_acme_account_rekey(f->db, TENANT, id, f->jwk,
	    other), ZT_EEXISTS);
	assert_int_equal(strlen(other), ZT_ACME_ID_LEN);
	json_decref(c);

	/* Deactivation is final. */
	assert_int_equal(zt_acme_account_update(&again, f->db, TENANT, id,
	    NULL, true, &prob), 0);
	assert_string_equal(json_string_value(json_object_get(again,
	    "status")), "deactivated");
	json_decref(again);
	zt_jose_key_free(key);
	zt_jose_key_free(k2);
	json_decref(acct);
}

/* ---- identifiers -------------------------------------------------------- */

static int
ident(const char *type, const char *value, char *out, enum zt_acme_prob *p)
{
	json_t *v = json_pack("{s:s,s:s}", "type", type, "value", value);
	bool ip;
	int err = zt_acme_identifier_check(v, out, 256, &ip, p);

	json_decref(v);
	return err;
}

static void
test_acme_identifier__canonical_and_refused(void **state)
{
	enum zt_acme_prob p;
	char out[256];

	(void)state;
	assert_int_equal(ident("dns", "WWW.Example.COM", out, &p), 0);
	assert_string_equal(out, "www.example.com");
	assert_int_equal(ident("ip", "::FFFF:127.0.0.1", out, &p), 0);
	assert_string_equal(out, "::ffff:127.0.0.1");
	assert_int_equal(ident("ip", "10.0.0.1", out, &p), 0);

	assert_int_equal(ident("dns", "*.example.com", out, &p), ZT_EINVAL);
	assert_int_equal(p, ZT_ACME_REJECTED_IDENTIFIER);
	assert_int_equal(ident("dns", "localhost", out, &p), ZT_EINVAL);
	assert_int_equal(p, ZT_ACME_REJECTED_IDENTIFIER);
	assert_int_equal(ident("dns", "a..b", out, &p), ZT_EINVAL);
	assert_int_equal(ident("dns", "-a.b", out, &p), ZT_EINVAL);
	assert_int_equal(ident("dns", "a_b.c", out, &p), ZT_EINVAL);
	assert_int_equal(ident("dns", "1.2.3.4", out, &p), ZT_EINVAL);
	assert_int_equal(ident("dns", "", out, &p), ZT_EINVAL);
	assert_int_equal(ident("ip", "1.2.3", out, &p), ZT_EINVAL);
	assert_int_equal(p, ZT_ACME_MALFORMED);
	assert_int_equal(ident("email", "a@b.c", out, &p), ZT_EINVAL);
	assert_int_equal(p, ZT_ACME_UNSUPPORTED_IDENTIFIER);
}

/* ---- the state machine -------------------------------------------------- */

static json_t *
make_order(struct fx *f, const char *account, json_t *idents)
{
	enum zt_acme_prob prob;
	json_t *o;

	assert_int_equal(zt_acme_order_new(&o, f->db, TENANT, account,
	    idents, &prob), 0);
	json_decref(idents);
	return o;
}

static const char *
authz_chall(struct fx *f, const char *authz_id, const char *type,
    json_t **keep)
{
	json_t *a, *c;
	size_t i;

	assert_int_equal(zt_acme_authz_get(&a, f->db, TENANT, authz_id), 0);
	*keep = a;
	json_array_foreach(json_object_get(a, "challenges"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")),
		    type) == 0)
			return json_string_value(json_object_get(c, "id"));
	fail_msg("no %s challenge", type);
	return NULL;
}

static const char *
status_of(json_t *doc)
{
	return json_string_value(json_object_get(doc, "status"));
}

static void
test_acme_order__validated_ready_valid(void **state)
{
	struct fx *f = *state;
	zt_acme_job jobs[4];
	json_t *acct, *o, *a1, *a2, *doc;
	const char *c1, *c2, *acct_id;
	zt_jose_key *key;
	char ka[200], *pem;
	size_t n;

	acct = new_account(f, &key);
	acct_id = json_string_value(json_object_get(acct, "id"));
	o = make_order(f, acct_id, json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]",
	    "type", "dns", "value", "A.example.com", "type", "dns", "value",
	    "a.example.com", "type", "ip", "value", "127.0.0.1"));
	assert_string_equal(status_of(o), "pending");
	/* Duplicates merged after canonicalisation. */
	assert_int_equal(json_array_size(json_object_get(o, "identifiers")), 2);
	assert_int_equal(json_array_size(json_object_get(o,
	    "authorizations")), 2);
	c1 = authz_chall(f, json_string_value(json_array_get(json_object_get(
	    o, "authorizations"), 0)), "tls-alpn-01", &a1);
	c2 = authz_chall(f, json_string_value(json_array_get(json_object_get(
	    o, "authorizations"), 1)), "http-01", &a2);
	/* An IP identifier gets http-01 only. */
	assert_int_equal(json_array_size(json_object_get(a2, "challenges")),
	    1);

	/* Nothing is due before the client says so. */
	assert_int_equal(zt_acme_jobs_claim(f->db, jobs, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(zt_acme_chall_start(f->db, TENANT, c1), 0);
	assert_int_equal(zt_acme_chall_start(f->db, TENANT, c2), 0);
	assert_int_equal(zt_acme_chall_get(&doc, f->db, TENANT, c1), 0);
	assert_string_equal(status_of(doc), "processing");
	json_decref(doc);
	assert_int_equal(zt_acme_jobs_claim(f->db, jobs, 4, &n), 0);
	assert_int_equal(n, 2);
	/* Claimed: a second validator gets nothing. */
	{
		zt_acme_job more[4];
		size_t m;

		assert_int_equal(zt_acme_jobs_claim(f->db, more, 4, &m), 0);
		assert_int_equal(m, 0);
	}
	assert_int_equal(zt_acme_keyauth(ka, sizeof(ka), jobs[0].token, key),
	    0);
	assert_string_equal(jobs[0].keyauth, ka);

	/* Finalizing a pending order is refused by the store too. */
	assert_int_equal(zt_acme_order_set_cert(f->db, TENANT,
	    json_string_value(json_object_get(o, "id")), "ab", "PEM"),
	    ZT_ECONFLICT);

	assert_int_equal(zt_acme_job_done(f->db, &jobs[0], true, false, 0,
	    NULL), 0);
	json_decref(o);
	assert_int_equal(zt_acme_order_get(&o, f->db, TENANT,
	    json_string_value(json_object_get(a1, "order"))), 0);
	assert_string_equal(status_of(o), "pending");
	json_decref(o);
	assert_int_equal(zt_acme_job_done(f->db, &jobs[1], true, false, 0,
	    NULL), 0);
	assert_int_equal(zt_acme_order_get(&o, f->db, TENANT,
	    json_string_value(json_object_get(a1, "order"))), 0);
	assert_string_equal(status_of(o), "ready");

	/* Finalizing: one taker; a refusal makes it ready again. */
	assert_int_equal(zt_acme_order_begin(f->db, TENANT,
	    json_string_value(json_object_get(o, "id"))), 0);
	assert_int_equal(zt_acme_order_begin(f->db, TENANT,
	    json_string_value(json_object_get(o, "id"))), ZT_ECONFLICT);
	assert_int_equal(zt_acme_order_abort(f->db, TENANT,
	    json_string_value(json_object_get(o, "id"))), 0);
	assert_int_equal(zt_acme_order_set_cert(f->db, TENANT,
	    json_string_value(json_object_get(o, "id")), "ab12", "PEM"),
	    ZT_ECONFLICT);
	assert_int_equal(zt_acme_order_begin(f->db, TENANT,
	    json_string_value(json_object_get(o, "id"))), 0);
	assert_int_equal(zt_acme_order_set_cert(f->db, TENANT,
	    json_string_value(json_object_get(o, "id")), "ab12", "PEM"), 0);
	assert_int_equal(zt_acme_order_cert(&pem, f->db, TENANT,
	    json_string_value(json_object_get(o, "id"))), 0);
	assert_string_equal(pem, "PEM");
	free(pem);
	json_decref(o);
	assert_int_equal(zt_acme_order_by_serial(&o, f->db, TENANT, "ab12"),
	    0);
	assert_string_equal(status_of(o), "valid");
	json_decref(o);
	assert_int_equal(zt_acme_account_orders(&o, f->db, TENANT, acct_id,
	    10), 0);
	assert_int_equal(json_array_size(o), 1);
	json_decref(o);

	json_decref(a1);
	json_decref(a2);
	json_decref(acct);
	zt_jose_key_free(key);
}

static void
test_acme_order__failure_retries_then_invalid(void **state)
{
	struct fx *f = *state;
	zt_acme_job job;
	json_t *acct, *o, *a, *doc;
	const char *c;
	zt_jose_key *key;
	size_t n;
	int i;

	acct = new_account(f, &key);
	o = make_order(f, json_string_value(json_object_get(acct, "id")),
	    json_pack("[{s:s,s:s}]", "type", "dns", "value", "b.example"));
	c = authz_chall(f, json_string_value(json_array_get(json_object_get(
	    o, "authorizations"), 0)), "http-01", &a);
	assert_int_equal(zt_acme_chall_start(f->db, TENANT, c), 0);

	/* A challenge already started keeps the others of its authz
	 * from starting. */
	assert_int_equal(zt_acme_chall_start(f->db, TENANT, authz_chall(f,
	    json_string_value(json_object_get(a, "id")), "tls-alpn-01",
	    &doc)), 0);
	json_decref(doc);

	/* Connection failures are retried, ZT_ACME_ATTEMPTS in all. */
	for (i = 0; i < ZT_ACME_ATTEMPTS - 1; i++) {
		assert_int_equal(zt_acme_jobs_claim(f->db, &job, 1, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(zt_acme_job_done(f->db, &job, false, true,
		    ZT_ACME_CONNECTION, "refused"), 0);
		assert_int_equal(zt_acme_chall_get(&doc, f->db, TENANT, c), 0);
		assert_string_equal(status_of(doc), "processing");
		json_decref(doc);
		/* Not due again until the retry delay passed. */
		assert_int_equal(zt_acme_jobs_claim(f->db, &job, 1, &n), 0);
		assert_int_equal(n, 0);
		usleep((ZT_ACME_RETRY_MS + 100) * 1000);
	}
	assert_int_equal(zt_acme_jobs_claim(f->db, &job, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(job.attempts, ZT_ACME_ATTEMPTS - 1);
	assert_int_equal(zt_acme_job_done(f->db, &job, false, true,
	    ZT_ACME_CONNECTION, "refused"), 0);

	assert_int_equal(zt_acme_chall_get(&doc, f->db, TENANT, c), 0);
	assert_string_equal(status_of(doc), "invalid");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    doc, "error"), "type")), "urn:ietf:params:acme:error:connection");
	json_decref(doc);
	assert_int_equal(zt_acme_authz_get(&doc, f->db, TENANT,
	    json_string_value(json_object_get(a, "id"))), 0);
	assert_string_equal(status_of(doc), "invalid");
	json_decref(doc);
	json_decref(o);
	assert_int_equal(zt_acme_order_get(&o, f->db, TENANT,
	    json_string_value(json_object_get(a, "order"))), 0);
	assert_string_equal(status_of(o), "invalid");
	assert_non_null(json_object_get(o, "error"));

	json_decref(o);
	json_decref(a);
	json_decref(acct);
	zt_jose_key_free(key);
}

/* ---- CSR names ---------------------------------------------------------- */

/* A DER CSR naming `sans` ("DNS:a,IP:1.2.3.4") with `cn` (or none). */
static uint8_t *
make_csr(const char *sans, const char *cn, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext;
	uint8_t *der = NULL;
	int n;

	assert_non_null(key);
	if (cn)
		X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
		    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);
	assert_non_null(ext);
	sk_X509_EXTENSION_push(exts, ext);
	X509_REQ_add_extensions(req, exts);
	X509_REQ_set_pubkey(req, key);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	n = i2d_X509_REQ(req, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return der;
}

static int
match(const char *sans, const char *cn, json_t *ids, enum zt_acme_prob *p)
{
	size_t len;
	uint8_t *der = make_csr(sans, cn, &len);
	int err = zt_acme_csr_match(der, len, ids, p);

	OPENSSL_free(der);
	return err;
}

static void
test_acme_csr__names_equal_the_order(void **state)
{
	json_t *ids = json_pack("[{s:s,s:s},{s:s,s:s}]", "type", "dns",
	    "value", "a.example", "type", "ip", "value", "127.0.0.1");
	enum zt_acme_prob p;
	uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

	(void)state;
	assert_int_equal(match("DNS:a.example,IP:127.0.0.1", NULL, ids, &p), 0);
	assert_int_equal(match("DNS:A.Example,IP:127.0.0.1", "a.example", ids,
	    &p), 0);
	assert_int_equal(match("DNS:a.example", NULL, ids, &p), ZT_EINVAL);
	assert_int_equal(p, ZT_ACME_BAD_CSR);
	assert_int_equal(match("DNS:a.example,IP:127.0.0.1,DNS:b.example",
	    NULL, ids, &p), ZT_EINVAL);
	assert_int_equal(match("DNS:a.example,IP:127.0.0.1", "b.example", ids,
	    &p), ZT_EINVAL);
	assert_int_equal(match("DNS:a.example,IP:127.0.0.1,URI:spiffe://x/y",
	    NULL, ids, &p), ZT_EINVAL);
	assert_int_equal(zt_acme_csr_match(junk, sizeof(junk), ids, &p),
	    ZT_EINVAL);
	assert_int_equal(p, ZT_ACME_BAD_CSR);
	json_decref(ids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_acme_jws__valid_jwk_and_kid),
		T(test_acme_jws__refusals),
		T(test_acme_jws__problem_types),
		T(test_acme_nonce__single_use),
		T(test_acme_account__keys_and_contacts),
		T(test_acme_identifier__canonical_and_refused),
		T(test_acme_order__validated_ready_valid),
		T(test_acme_order__failure_retries_then_invalid),
		T(test_acme_csr__names_equal_the_order),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
