/*
 * Tests of keys/ against a real database: SQLite in a temporary file by
 * default, or the PostgreSQL named by ZTIAM_TEST_DB (meson runs both).
 * Covers the master key file rules, sealing (round trip, wrong master
 * key, tampering, a sealed key moved to another row), and the rotation
 * timeline with its JWKS contents, signer cache and audit records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "base/base.h"
#include "jose/jose.h"
#include "keys/keys.h"
#include "store/store.h"
#include "testdb.h"

static zt_master_key mk1, mk2;

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_keys_migrations,
};

static const zt_actor actor = { "token:test", NULL, "req-1" };

static int
setup(void **state)
{
	zt_db *db;

	if ((db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL)
		return -1;
	zt_random(mk1.key, sizeof(mk1.key));
	zt_random(mk2.key, sizeof(mk2.key));
	/* Fingerprints come from the text form. */
	{
		char t[64];

		zt_b64url_encode(t, mk1.key, 32);
		zt_master_key_from_text(&mk1, t);
		zt_b64url_encode(t, mk2.key, 32);
		zt_master_key_from_text(&mk2, t);
	}
	zt_keys_changed();
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	zt_keys_thread_done();
	testdb_close(*state);
	return 0;
}

static void
test_keys_master__file_rules(void **state)
{
	char dir[] = "/tmp/ztiam-mk-XXXXXX", path[128];
	zt_master_key a, b;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/master.key", dir);
	assert_int_equal(zt_master_key_load(&a, path), ZT_ENOTFOUND);
	assert_int_equal(zt_master_key_create(&a, path), ZT_OK);
	assert_int_equal(zt_master_key_create(&b, path), ZT_EEXISTS);
	assert_int_equal(zt_master_key_load(&b, path), ZT_OK);
	assert_memory_equal(a.key, b.key, ZT_MASTER_KEY_LEN);
	assert_string_equal(a.id, b.id);

	chmod(path, 0640);
	assert_int_equal(zt_master_key_load(&b, path), ZT_EFORBIDDEN);
	assert_non_null(strstr(zt_error_msg(), "chmod 600"));
	chmod(path, 0604);
	assert_int_equal(zt_master_key_load(&b, path), ZT_EFORBIDDEN);
	chmod(path, 0600);
	assert_int_equal(zt_master_key_load(&b, path), ZT_OK);

	assert_int_equal(zt_master_key_from_text(&b, "short"), ZT_EINVAL);
	assert_int_equal(zt_master_key_from_text(&b,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!"), ZT_EINVAL);
	unlink(path);
	rmdir(dir);
	(void)state;
}

static void
test_keys_seal__round_trip_and_refusals(void **state)
{
	zt_buf sealed = ZT_BUF_INIT(8192), plain = ZT_BUF_INIT(8192);
	const char *secret = "a private key, in DER";
	char *p;

	assert_int_equal(zt_keys_seal(&sealed, &mk1, "oidc:acme/main", "kid1",
	    secret, strlen(secret)), ZT_OK);
	assert_null(strstr(sealed.data, "private"));
	assert_int_equal(zt_keys_open(&plain, &mk1, mk1.id, "oidc:acme/main",
	    "kid1", sealed.data), ZT_OK);
	assert_int_equal(plain.len, strlen(secret));
	assert_memory_equal(plain.data, secret, plain.len);
	zt_buf_reset(&plain);

	/* The wrong master key: said plainly, with both fingerprints. */
	assert_int_equal(zt_keys_open(&plain, &mk2, mk1.id, "oidc:acme/main",
	    "kid1", sealed.data), ZT_EFORBIDDEN);
	assert_non_null(strstr(zt_error_msg(), "another master key"));
	assert_non_null(strstr(zt_error_msg(), mk2.id));
	/* Without the stored fingerprint, GCM still refuses. */
	assert_int_equal(zt_keys_open(&plain, &mk2, NULL, "oidc:acme/main",
	    "kid1", sealed.data), ZT_EFORBIDDEN);
	/* Moved to another kid or scope: the additional data differs. */
	assert_int_equal(zt_keys_open(&plain, &mk1, mk1.id, "oidc:acme/main",
	    "kid2", sealed.data), ZT_EFORBIDDEN);
	assert_int_equal(zt_keys_open(&plain, &mk1, mk1.id, "oidc:acme/other",
	    "kid1", sealed.data), ZT_EFORBIDDEN);
	/* One changed character of ciphertext. */
	p = sealed.data + sealed.len / 2;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(zt_keys_open(&plain, &mk1, mk1.id, "oidc:acme/main",
	    "kid1", sealed.data), ZT_EFORBIDDEN);
	assert_non_null(strstr(zt_error_msg(), "altered"));
	assert_int_equal(plain.len, 0);
	zt_buf_free(&sealed);
	zt_buf_free(&plain);
	(void)state;
}

static json_t *
jwks(zt_db *db, const char *scope)
{
	json_t *doc;

	assert_int_equal(zt_keys_jwks(db, scope, &doc), ZT_OK);
	return doc;
}

static size_t
jwks_count(zt_db *db, const char *scope)
{
	json_t *doc = jwks(db, scope);
	size_t n = json_array_size(json_object_get(doc, "keys"));

	json_decref(doc);
	return n;
}

static bool
jwks_has(zt_db *db, const char *scope, const char *kid)
{
	json_t *doc = jwks(db, scope), *k;
	bool found = false;
	size_t i;

	json_array_foreach(json_object_get(doc, "keys"), i, k)
		if (strcmp(json_string_value(json_object_get(k, "kid")),
		    kid) == 0)
			found = true;
	json_decref(doc);
	return found;
}

/* The state of `kid` as zt_keys_list reports it. */
static const char *
state_of(zt_db *db, const char *scope, const char *kid)
{
	static char state[16];
	json_t *list, *k;
	size_t i;

	assert_int_equal(zt_keys_list(db, scope, &list), ZT_OK);
	state[0] = '\0';
	json_array_foreach(list, i, k)
		if (strcmp(json_string_value(json_object_get(k, "kid")),
		    kid) == 0)
			snprintf(state, sizeof(state), "%s", json_string_value(
			    json_object_get(k, "state")));
	json_decref(list);
	return state;
}

/* Signs with the scope's signer; verifies with the JWKS entry. */
static void
sign_and_check(zt_db *db, const char *scope, const zt_keys_policy *pol,
    char kid_out[ZT_JOSE_KID_MAX + 1])
{
	zt_buf tok = ZT_BUF_INIT(ZT_JWS_MAX);
	zt_jose_signer *s;
	json_t *doc, *k;
	zt_jose_key *pub = NULL;
	zt_jws jws;
	size_t i;

	assert_int_equal(zt_keys_signer(&s, db, &mk1, scope, pol), ZT_OK);
	assert_int_equal(zt_jose_sign(&tok, s, "at+jwt", "{\"a\":1}", 7),
	    ZT_OK);
	assert_int_equal(zt_jws_parse(&jws, tok.data, tok.len), ZT_OK);
	doc = jwks(db, scope);
	json_array_foreach(json_object_get(doc, "keys"), i, k)
		if (strcmp(json_string_value(json_object_get(k, "kid")),
		    jws.kid) == 0)
			assert_int_equal(zt_jose_key_from_jwk(&pub, k), ZT_OK);
	assert_non_null(pub);
	assert_int_equal(zt_jws_verify(&jws, pub, ZT_JOSE_ALG_ALL), ZT_OK);
	snprintf(kid_out, ZT_JOSE_KID_MAX + 1, "%s", jws.kid);
	zt_jose_key_free(pub);
	json_decref(doc);
	zt_jws_free(&jws);
	zt_buf_free(&tok);
}

static void
test_keys_rotate__timeline(void **state)
{
	zt_db *db = *state;
	const char *scope = "oidc:acme/main";
	zt_keys_policy pol = { .alg = ZT_JOSE_ES256,
	    .max_token_lifetime_s = 3600 };
	char k1[ZT_JOSE_KID_MAX + 1], k2[ZT_JOSE_KID_MAX + 1], k3[ZT_JOSE_KID_MAX + 1];
	char signed_with[ZT_JOSE_KID_MAX + 1];
	json_t *r, *list;

	/* First use: one active key, made on demand. */
	sign_and_check(db, scope, &pol, k1);
	assert_string_equal(state_of(db, scope, k1), "active");
	assert_int_equal(jwks_count(db, scope), 1);

	/* Step one: a prepared key, published but not signing. */
	assert_int_equal(zt_keys_rotate(db, &mk1, &actor, scope, &pol, &r),
	    ZT_OK);
	assert_string_equal(json_string_value(json_object_get(r, "step")),
	    "prepared");
	snprintf(k2, sizeof(k2), "%s", json_string_value(json_object_get(json_object_get(r, "key"),
	    "kid")));
	json_decref(r);
	assert_string_equal(state_of(db, scope, k2), "prepared");
	assert_int_equal(jwks_count(db, scope), 2);
	assert_true(jwks_has(db, scope, k2));
	sign_and_check(db, scope, &pol, signed_with);
	assert_string_equal(signed_with, k1);

	/* Step two: it signs; the old key is retired, still published. */
	assert_int_equal(zt_keys_rotate(db, &mk1, &actor, scope, &pol, &r),
	    ZT_OK);
	assert_string_equal(json_string_value(json_object_get(r, "step")),
	    "activated");
	json_decref(r);
	assert_string_equal(state_of(db, scope, k1), "retired");
	assert_string_equal(state_of(db, scope, k2), "active");
	assert_true(jwks_has(db, scope, k1));
	sign_and_check(db, scope, &pol, signed_with);
	assert_string_equal(signed_with, k2);

	/* Another rotation with another algorithm. */
	pol.alg = ZT_JOSE_EDDSA;
	assert_int_equal(zt_keys_rotate(db, &mk1, &actor, scope, &pol, &r),
	    ZT_OK);
	snprintf(k3, sizeof(k3), "%s", json_string_value(json_object_get(json_object_get(r, "key"),
	    "kid")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    r, "key"), "alg")), "EdDSA");
	json_decref(r);
	assert_int_equal(jwks_count(db, scope), 3);

	/* Past publish_until, a retired key leaves the JWKS. */
	assert_int_equal(zt_db_exec(db, "UPDATE signing_keys SET"
	    " publish_until = 1 WHERE state = 'retired'"), ZT_OK);
	assert_false(jwks_has(db, scope, k1));
	assert_int_equal(jwks_count(db, scope), 2);

	/* Lists carry no private material; other scopes are apart. */
	assert_int_equal(zt_keys_list(db, NULL, &list), ZT_OK);
	assert_int_equal(json_array_size(list), 3);
	{
		char *text = json_dumps(list, 0);

		assert_null(strstr(text, "sealed"));
		assert_null(strstr(text, "\"d\""));
		free(text);
	}
	json_decref(list);
	assert_int_equal(jwks_count(db, "oidc:acme/other"), 0);
	(void)k3;
}

static void
test_keys_rotate__propagation_delay(void **state)
{
	zt_db *db = *state;
	const char *scope = "jwt-svid:example.org";
	zt_keys_policy pol = { .alg = ZT_JOSE_ES256, .propagation_s = 60 };
	char k1[ZT_JOSE_KID_MAX + 1], k2[ZT_JOSE_KID_MAX + 1];
	char signed_with[ZT_JOSE_KID_MAX + 1];
	json_t *r;

	sign_and_check(db, scope, &pol, k1);
	assert_int_equal(zt_keys_rotate(db, &mk1, &actor, scope, &pol, &r),
	    ZT_OK);
	snprintf(k2, sizeof(k2), "%s", json_string_value(json_object_get(json_object_get(r, "key"),
	    "kid")));
	json_decref(r);
	/* Not due yet. */
	assert_int_equal(zt_keys_ensure(db, &mk1, NULL, scope, &pol), ZT_OK);
	assert_string_equal(state_of(db, scope, k2), "prepared");
	/* Pretend the delay has passed. */
	assert_int_equal(zt_db_exec(db, "UPDATE signing_keys SET created_at ="
	    " created_at - 61000 WHERE state = 'prepared'"), ZT_OK);
	zt_keys_changed();
	sign_and_check(db, scope, &pol, signed_with);
	assert_string_equal(signed_with, k2);
	assert_string_equal(state_of(db, scope, k1), "retired");
}

static void
test_keys_signer__wrong_master_key(void **state)
{
	zt_db *db = *state;
	zt_keys_policy pol = { .alg = ZT_JOSE_RS256 };
	zt_jose_signer *s;

	assert_int_equal(zt_keys_ensure(db, &mk1, &actor, "oidc:t/x", &pol),
	    ZT_OK);
	zt_keys_changed();
	assert_int_equal(zt_keys_signer(&s, db, &mk2, "oidc:t/x", &pol),
	    ZT_EFORBIDDEN);
	assert_non_null(strstr(zt_error_msg(), "another master key"));
	assert_int_equal(zt_keys_signer(&s, db, &mk1, "oidc:t/x", &pol),
	    ZT_OK);
	assert_int_equal(zt_jose_signer_alg(s), ZT_JOSE_RS256);
}

static void
test_keys_audit__every_step_recorded_without_material(void **state)
{
	zt_db *db = *state;
	zt_keys_policy pol = { .alg = ZT_JOSE_ES256 };
	json_t *items, *it;
	int64_t next;
	size_t i;
	char actions[128] = "";

	assert_int_equal(zt_keys_ensure(db, &mk1, &actor, "oidc:a/b", &pol),
	    ZT_OK);
	assert_int_equal(zt_keys_rotate(db, &mk1, &actor, "oidc:a/b", &pol,
	    NULL), ZT_OK);
	assert_int_equal(zt_keys_rotate(db, &mk1, &actor, "oidc:a/b", &pol,
	    NULL), ZT_OK);
	assert_int_equal(zt_audit_list(db, NULL, NULL, 0, 100, &items, &next),
	    ZT_OK);
	json_array_foreach(items, i, it) {
		char *text = json_dumps(it, 0);
		size_t used = strlen(actions);

		snprintf(actions + used, sizeof(actions) - used, "%s ",
		    json_string_value(json_object_get(it, "action")));
		assert_null(strstr(text, "sealed"));
		assert_null(strstr(text, "public_jwk"));
		free(text);
	}
	assert_string_equal(actions, "key.create key.prepare key.activate ");
	json_decref(items);
}

static void
test_keys_scope__syntax(void **state)
{
	json_t *out;
	zt_keys_policy pol = { .alg = ZT_JOSE_ES256 };

	assert_int_equal(zt_keys_scope_check("oidc:acme/main"), ZT_OK);
	assert_int_equal(zt_keys_scope_check("jwt-svid:example.org"), ZT_OK);
	assert_int_equal(zt_keys_scope_check("nocolon"), ZT_EINVAL);
	assert_int_equal(zt_keys_scope_check(":x"), ZT_EINVAL);
	assert_int_equal(zt_keys_scope_check("a:"), ZT_EINVAL);
	assert_int_equal(zt_keys_scope_check("a:b c"), ZT_EINVAL);
	assert_int_equal(zt_keys_scope_check("a:b'--"), ZT_EINVAL);
	assert_int_equal(zt_keys_list(*state, "bad scope", &out), ZT_EINVAL);
	pol.alg = 0;
	assert_int_equal(zt_keys_rotate(*state, &mk1, &actor, "a:b", &pol,
	    NULL), ZT_EINVAL);
}

/* A key made by its module (the CA's, of any type) round-trips sealed,
 * is listed with its public document, and opens with its master key only. */
static void
test_keys_sealed__store_and_load(void **state)
{
	static const char der[] = "not really PKCS#8, just bytes";
	zt_buf out = ZT_BUF_INIT(4096);
	json_t *items;

	assert_int_equal(zt_keys_store_sealed(*state, &mk1, &actor,
	    "ca:example.org/root", "ca-1", "x509-ca", "active",
	    "{\"cert\":\"PEM\"}", der, sizeof(der)), ZT_OK);
	assert_int_equal(zt_keys_store_sealed(*state, &mk1, &actor,
	    "ca:example.org/root", "ca-2", "x509-ca", "active", "{}", der,
	    sizeof(der)), ZT_EEXISTS);
	assert_int_equal(zt_keys_store_sealed(*state, &mk1, &actor,
	    "ca:example.org/root", "ca-3", "x509-ca", "retired", "{}", der,
	    sizeof(der)), ZT_EINVAL);
	assert_int_equal(zt_keys_load_sealed(&out, *state, &mk1,
	    "ca:example.org/root", "ca-1"), ZT_OK);
	assert_int_equal(out.len, sizeof(der));
	assert_memory_equal(out.data, der, sizeof(der));
	zt_buf_free(&out);
	assert_int_equal(zt_keys_load_sealed(&out, *state, &mk2,
	    "ca:example.org/root", "ca-1"), ZT_EFORBIDDEN);
	zt_buf_free(&out);
	assert_int_equal(zt_keys_load_sealed(&out, *state, &mk1,
	    "ca:example.org/root", "ca-9"), ZT_ENOTFOUND);
	zt_buf_free(&out);
	assert_int_equal(zt_keys_set_public(*state, &actor,
	    "ca:example.org/root", "ca-9", "{}"), ZT_ENOTFOUND);
	assert_int_equal(zt_keys_set_public(*state, &actor,
	    "ca:example.org/root", "ca-1", "{\"cert\":\"PEM\"}"), ZT_OK);
	assert_int_equal(zt_keys_list(*state, "ca:example.org/root", &items),
	    ZT_OK);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_array_get(items, 0), "public_jwk"), "cert")), "PEM");
	json_decref(items);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_master__file_rules),
		cmocka_unit_test_setup_teardown(
		    test_keys_seal__round_trip_and_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_rotate__timeline,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_keys_rotate__propagation_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_keys_signer__wrong_master_key, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_keys_audit__every_step_recorded_without_material,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_scope__syntax, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keys_sealed__store_and_load,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
