/*
 * Tests of the OAuth provider's pieces that need no server: form bodies,
 * the single-use table, DPoP proofs made here with generated keys, and
 * the token endpoint, introspection and revocation called directly
 * against SQLite in a temporary file (client authentication decisions,
 * token claims, errors, and that a refused request writes nothing).
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
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "base/base.h"
#include "oidc/oidc.h"
#include "store/store.h"
#include "testdb.h"

#define HTU "https://id.example/t/acme/staff/token"

/* ---- form bodies --------------------------------------------------------- */

static void
test_oidc_form__decodes(void **state)
{
	static const char body[] = "grant_type=client_credentials&&scope="
	    "read+write&resource=https%3A%2F%2Fa.example%2F&empty=";
	zt_form f;

	(void)state;
	assert_int_equal(zt_form_parse(&f, body, strlen(body)), ZT_OK);
	assert_int_equal(f.n, 4);
	assert_string_equal(zt_form_get(&f, "grant_type"),
	    "client_credentials");
	assert_string_equal(zt_form_get(&f, "scope"), "read write");
	assert_string_equal(zt_form_get(&f, "resource"), "https://a.example/");
	assert_null(zt_form_get(&f, "empty"));
	assert_null(zt_form_get(&f, "absent"));
	assert_null(zt_form_repeated(&f, (const char *const[]){ NULL }));
	zt_form_free(&f);
}

static void
test_oidc_form__refuses(void **state)
{
	static const char *const bad[] = {
		"a", "=x", "a=%", "a=%4", "a=%zz", "a=%00", "a=%0a", "a=%ff",
		"a\x01=b",
	};
	zt_form f;
	size_t i;

	(void)state;
	for (i = 0; i < ZT_ARRAY_LEN(bad); i++)
		assert_int_not_equal(zt_form_parse(&f, bad[i],
		    strlen(bad[i])), ZT_OK);
}

static void
test_oidc_form__repeated_and_limits(void **state)
{
	static const char *const multi[] = { "resource", NULL };
	static const char body[] = "resource=a:b&resource=c:d&scope=x&scope=y";
	zt_buf big = ZT_BUF_INIT(1 << 20);
	zt_form f;
	int i;

	(void)state;
	assert_int_equal(zt_form_parse(&f, body, strlen(body)), ZT_OK);
	assert_int_equal(zt_form_count(&f, "resource"), 2);
	assert_string_equal(zt_form_repeated(&f, multi), "scope");
	zt_form_free(&f);
	for (i = 0; i <= ZT_FORM_PARAMS_MAX; i++)
		zt_buf_addf(&big, "p%d=v&", i);
	assert_int_equal(zt_form_parse(&f, big.data, big.len), ZT_ETOOBIG);
	zt_buf_free(&big);
}

/* ---- the single-use table ------------------------------------------------ */

static void
test_oidc_replay__once(void **state)
{
	(void)state;
	assert_int_equal(zt_replay_seen(NULL, "t1", "jti-1", 2000, 1000), ZT_OK);
	assert_int_equal(zt_replay_seen(NULL, "t1", "jti-1", 2000, 1500),
	    ZT_EEXISTS);
	assert_int_equal(zt_replay_seen(NULL, "t2", "jti-1", 2000, 1500), ZT_OK);
	/* Once expired, the value is forgotten (its token is dead). */
	assert_int_equal(zt_replay_seen(NULL, "t1", "jti-1", 4000, 2500), ZT_OK);
}

/* ---- DPoP proofs ------------------------------------------------------- */

/* A compact JWS of `header` and `payload` signed ES256 with `key`, made
 * here so that the header can carry a jwk (jose/ signs its own headers
 * only). */
static char *
es256_jws(zt_jose_key *key, json_t *header, json_t *payload)
{
	char *h = json_dumps(header, JSON_COMPACT);
	char *p = json_dumps(payload, JSON_COMPACT);
	uint8_t der[128], raw[64];
	const uint8_t *dp = der;
	zt_buf out = ZT_BUF_INIT(ZT_JWS_MAX);
	char enc[ZT_JWS_MAX];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *sig;
	size_t n = sizeof(der);

	zt_b64url_encode(enc, h, strlen(h));
	zt_buf_adds(&out, enc);
	zt_buf_addc(&out, '.');
	zt_b64url_encode(enc, p, strlen(p));
	zt_buf_adds(&out, enc);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
	    zt_jose_key_pkey(key)), 1);
	assert_int_equal(EVP_DigestSign(md, der, &n, (uint8_t *)out.data,
	    out.len), 1);
	sig = d2i_ECDSA_SIG(NULL, &dp, (long)n);
	assert_non_null(sig);
	BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
	zt_b64url_encode(enc, raw, sizeof(raw));
	zt_buf_addc(&out, '.');
	zt_buf_adds(&out, enc);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	free(h);
	free(p);
	return zt_buf_detach(&out);
}

static int serial;

/* A proof of `key` for POST HTU at `iat`; `typ` and `jwk` may differ. */
static char *
proof(zt_jose_key *key, const char *typ, const char *htm, const char *htu,
    int64_t iat, json_t *jwk)
{
	json_t *h, *p;
	char jti[32];
	char *s;

	if (jwk == NULL)
		assert_int_equal(zt_jose_key_jwk(&jwk, key, NULL, 0, NULL),
		    ZT_OK);
	snprintf(jti, sizeof(jti), "jti-%d", ++serial);
	h = json_pack("{s:s, s:s, s:o}", "typ", typ, "alg", "ES256", "jwk",
	    jwk);
	p = json_pack("{s:s, s:s, s:s, s:I}", "jti", jti, "htm", htm, "htu",
	    htu, "iat", (json_int_t)iat);
	s = es256_jws(key, h, p);
	json_decref(h);
	json_decref(p);
	return s;
}

static void
expect_proof(const char *jws, int64_t now, bool ok)
{
	char jkt[ZT_JOSE_THUMBPRINT_LEN + 1];
	zt_oauth_error e = { 0 };
	int err = zt_dpop_check(jkt, NULL, jws, "POST", HTU, now, &e);

	if (ok) {
		assert_int_equal(err, ZT_OK);
	} else {
		assert_int_not_equal(err, ZT_OK);
		assert_string_equal(e.error, "invalid_dpop_proof");
		assert_int_equal(e.status, 400);
	}
}

static void
test_oidc_dpop__proofs(void **state)
{
	char jkt[ZT_JOSE_THUMBPRINT_LEN + 1], want[ZT_JOSE_THUMBPRINT_LEN + 1];
	int64_t now = zt_now_ms() / 1000;
	zt_jose_key *key, *other;
	zt_oauth_error e;
	json_t *jwk;
	char *p;

	(void)state;
	assert_int_equal(zt_jose_key_generate(&key, ZT_JOSE_ES256), ZT_OK);
	assert_int_equal(zt_jose_key_generate(&other, ZT_JOSE_ES256), ZT_OK);

	/* A good proof binds to the key's thumbprint, once. */
	p = proof(key, "dpop+jwt", "POST", HTU, now, NULL);
	assert_int_equal(zt_dpop_check(jkt, NULL, p, "POST", HTU, now, &e),
	    ZT_OK);
	assert_int_equal(zt_jose_thumbprint(want, key), ZT_OK);
	assert_string_equal(jkt, want);
	expect_proof(p, now, false);
	free(p);

	/* htu compares without a query. */
	p = proof(key, "dpop+jwt", "POST", HTU "?x=1", now, NULL);
	expect_proof(p, now, true);
	free(p);

	/* Each of these is refused. */
	p = proof(key, "JWT", "POST", HTU, now, NULL);
	expect_proof(p, now, false);
	free(p);
	p = proof(key, "dpop+jwt", "GET", HTU, now, NULL);
	expect_proof(p, now, false);
	free(p);
	p = proof(key, "dpop+jwt", "POST", HTU "x", now, NULL);
	expect_proof(p, now, false);
	free(p);
	p = proof(key, "dpop+jwt", "POST", HTU, now - 600, NULL);
	expect_proof(p, now, false);
	free(p);
	p = proof(key, "dpop+jwt", "POST", HTU, now + 600, NULL);
	expect_proof(p, now, false);
	free(p);
	/* Signed by another key than the header's. */
	assert_int_equal(zt_jose_key_jwk(&jwk, other, NULL, 0, NULL), ZT_OK);
	p = proof(key, "dpop+jwt", "POST", HTU, now, jwk);
	expect_proof(p, now, false);
	free(p);
	/* A header jwk with private material. */
	assert_int_equal(zt_jose_key_jwk(&jwk, key, NULL, 0, NULL), ZT_OK);
	json_object_set_new(jwk, "d", json_string("AAAA"));
	p = proof(key, "dpop+jwt", "POST", HTU, now, jwk);
	expect_proof(p, now, false);
	free(p);
	expect_proof("not.a.proof", now, false);

	zt_jose_key_free(key);
	zt_jose_key_free(other);
}

/* ---- the endpoints against a database ----------------------------------- */

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_identity_migrations, &zt_keys_migrations,
	&zt_oidc_migrations, &zt_oauth_migrations,
};

struct fx {
	zt_db *db;
	zt_actor actor;
	zt_identity_config cfg;
	zt_id_ctx cx;
	zt_master_key mk;
	zt_issuer iss;
	char id[64], secret[64];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	json_t *doc, *meta;

	zt_log_setup(ZT_LOG_ERROR, ZT_LOG_JSON, 2);
	if (f == NULL || (f->db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL)
		return -1;
	f->actor = (zt_actor){ "token:test", NULL, "req-1" };
	f->cfg = (zt_identity_config){ "test.example" };
	f->cx = (zt_id_ctx){ f->db, &f->cfg, &f->actor, { NULL, NULL } };
	if (zt_master_key_from_text(&f->mk,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") < 0 ||
	    zt_tenant_create(&doc, &f->cx, "acme", "Acme") < 0)
		return -1;
	json_decref(doc);
	if (zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "staff", .kind = "workforce" }) < 0)
		return -1;
	json_decref(doc);
	meta = json_pack("{s:s, s:[s], s:s}", "account_system", "staff",
	    "grant_types", "client_credentials", "scope", "read write");
	if (zt_client_create(&doc, &f->cx, "acme", meta) < 0)
		return -1;
	snprintf(f->id, sizeof(f->id), "%s", json_string_value(
	    json_object_get(doc, "client_id")));
	snprintf(f->secret, sizeof(f->secret), "%s", json_string_value(
	    json_object_get(doc, "client_secret")));
	json_decref(doc);
	json_decref(meta);
	if (zt_issuer_find(&f->iss, f->db, "https://id.example", "acme",
	    "staff") < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	zt_oauth_thread_done();
	zt_keys_thread_done();
	testdb_close(f->db);
	free(f);
	return 0;
}

static int64_t
audit_count(zt_db *db)
{
	zt_stmt *st;
	int64_t n;

	assert_int_equal(zt_db_prepare(&st, db, "SELECT COUNT(*) FROM"
	    " audit_log WHERE action LIKE 'oauth.%'"), ZT_OK);
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	n = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return n;
}

/* Calls the token endpoint with `body` and Basic `id`:`secret` (no
 * header when id is NULL). */
static int
call(json_t **out, zt_oauth_error *e, struct fx *f,
    int (*fn)(json_t **, const zt_oauth_req *, const zt_form *,
    zt_oauth_error *), const char *body, const char *id, const char *secret)
{
	char raw[256], hdr[400];
	zt_form form;
	int err, n;

	zt_oauth_req r = {
		.db = f->db, .mk = &f->mk, .iss = &f->iss,
		.endpoint = HTU, .method = "POST", .request_id = "r1",
	};
	if (id != NULL) {
		n = snprintf(raw, sizeof(raw), "%s:%s", id, secret);
		memcpy(hdr, "Basic ", 6);
		EVP_EncodeBlock((uint8_t *)hdr + 6, (uint8_t *)raw, n);
		r.authorization = hdr;
	}
	memset(e, 0, sizeof(*e));
	assert_int_equal(zt_form_parse(&form, body, strlen(body)), ZT_OK);
	err = fn(out, &r, &form, e);
	zt_form_free(&form);
	return err;
}

static int
revoke_fn(json_t **out, const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e)
{
	*out = NULL;
	return zt_oauth_revoke(r, f, e);
}

static void
test_oidc_token__client_credentials(void **state)
{
	struct fx *f = *state;
	json_t *out = NULL, *claims = NULL;
	char body[ZT_JWS_MAX + 64];
	const char *at;
	zt_oauth_error e;
	int64_t before = audit_count(f->db);

	assert_int_equal(call(&out, &e, f, zt_oauth_token, "grant_type="
	    "client_credentials&scope=read&resource=https%3A%2F%2Fapi.example",
	    f->id, f->secret), ZT_OK);
	assert_string_equal(json_string_value(json_object_get(out,
	    "token_type")), "Bearer");
	assert_int_equal(json_integer_value(json_object_get(out,
	    "expires_in")), 600);
	at = json_string_value(json_object_get(out, "access_token"));
	assert_int_equal(zt_oauth_verify_access(&claims, f->db, &f->iss, at,
	    0), ZT_OK);
	assert_string_equal(json_string_value(json_object_get(claims, "iss")),
	    "https://id.example/t/acme/staff");
	assert_string_equal(json_string_value(json_object_get(claims, "sub")),
	    f->id);
	assert_string_equal(json_string_value(json_object_get(claims,
	    "client_id")), f->id);
	assert_string_equal(json_string_value(json_object_get(claims, "aud")),
	    "https://api.example");
	assert_string_equal(json_string_value(json_object_get(claims,
	    "scope")), "read");
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")) -
	    json_integer_value(json_object_get(claims, "iat")), 600);
	assert_int_equal(audit_count(f->db), before + 1);
	json_decref(claims);
	/* Verified once, the token is remembered; its dates are still
	 * checked on every call. */
	assert_int_equal(zt_oauth_verify_access(&claims, f->db, &f->iss, at,
	    zt_now_ms() / 1000 + 601), ZT_EFORBIDDEN);
	assert_null(claims);

	/* Introspection sees it; after revocation it does not. */
	snprintf(body, sizeof(body), "token=%s", at);
	json_decref(out);
	out = NULL;
	assert_int_equal(call(&out, &e, f, revoke_fn, body, f->id, f->secret),
	    ZT_OK);
	assert_int_equal(call(&out, &e, f, zt_oauth_introspect, body, f->id,
	    f->secret), ZT_OK);
	assert_true(json_is_false(json_object_get(out, "active")));
	json_decref(out);
}

static void
test_oidc_token__refusals(void **state)
{
	static const struct {
		const char *body, *secret;
		bool basic;
		int status;
		const char *error;
	} cases[] = {
		{ "grant_type=client_credentials", "ztcs_wrong", true, 401,
		  "invalid_client" },
		{ "grant_type=client_credentials", NULL, false, 401,
		  "invalid_client" },
		{ "grant_type=client_credentials&client_secret=x", NULL, true,
		  400, "invalid_request" },
		{ "scope=read", NULL, true, 400, "invalid_request" },
		{ "grant_type=password", NULL, true, 400,
		  "unsupported_grant_type" },
		{ "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3A"
		  "token-exchange", NULL, true, 400, "unauthorized_client" },
		{ "grant_type=client_credentials&scope=admin", NULL, true, 400,
		  "invalid_scope" },
		{ "grant_type=client_credentials&resource=x", NULL, true, 400,
		  "invalid_target" },
		{ "grant_type=client_credentials&resource=https://a/%23f",
		  NULL, true, 400, "invalid_target" },
		{ "grant_type=client_credentials&scope=a&scope=b", NULL, true,
		  400, "invalid_request" },
	};
	struct fx *f = *state;
	int64_t before = audit_count(f->db);
	json_t *out = NULL;
	zt_oauth_error e;
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(cases); i++) {
		int err = call(&out, &e, f, zt_oauth_token, cases[i].body,
		    cases[i].basic ? f->id : NULL,
		    cases[i].secret ? cases[i].secret : f->secret);

		assert_int_not_equal(err, ZT_OK);
		assert_null(out);
		assert_int_equal(e.status, cases[i].status);
		assert_string_equal(e.error, cases[i].error);
		assert_int_equal(e.challenge, cases[i].status == 401);
	}
	/* Secret in the body for a client registered for Basic. */
	{
		char body[200];

		snprintf(body, sizeof(body), "grant_type=client_credentials&"
		    "client_id=%s&client_secret=%s", f->id, f->secret);
		assert_int_not_equal(call(&out, &e, f, zt_oauth_token, body,
		    NULL, NULL), ZT_OK);
		assert_string_equal(e.error, "invalid_client");
	}
	assert_int_equal(audit_count(f->db), before);
}

static void
test_oidc_token__foreign_tokens_inactive(void **state)
{
	struct fx *f = *state;
	zt_issuer other = f->iss;
	json_t *out = NULL, *claims = NULL;
	zt_oauth_error e;
	const char *at;

	assert_int_equal(call(&out, &e, f, zt_oauth_token,
	    "grant_type=client_credentials", f->id, f->secret), ZT_OK);
	at = json_string_value(json_object_get(out, "access_token"));
	/* The same keys under another issuer URL: iss differs. */
	snprintf(other.url, sizeof(other.url), "https://evil.example/t/acme/"
	    "staff");
	assert_int_equal(zt_oauth_verify_access(&claims, f->db, &other, at,
	    0), ZT_EFORBIDDEN);
	/* Expired: checked an hour later. */
	assert_int_equal(zt_oauth_verify_access(&claims, f->db, &f->iss, at,
	    zt_now_ms() / 1000 + 3600), ZT_EFORBIDDEN);
	json_decref(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oidc_form__decodes),
		cmocka_unit_test(test_oidc_form__refuses),
		cmocka_unit_test(test_oidc_form__repeated_and_limits),
		cmocka_unit_test(test_oidc_replay__once),
		cmocka_unit_test(test_oidc_dpop__proofs),
		cmocka_unit_test_setup_teardown(
		    test_oidc_token__client_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oidc_token__refusals,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_oidc_token__foreign_tokens_inactive, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
