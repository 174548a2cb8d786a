/*
 * Tests of the OAuth client registry: the metadata rules without a
 * database, then the registry against SQLite in a temporary file or the
 * PostgreSQL named by ZTIAM_TEST_DB.  Every refused change is checked for
 * having written nothing (client rows and audit records).
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

#include "audit/audit.h"
#include "base/base.h"
#include "oidc/oidc.h"
#include "store/store.h"
#include "testdb.h"

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_identity_migrations, &zt_oidc_migrations,
};

struct fx {
	zt_db *db;
	zt_actor actor;
	zt_identity_config cfg;
	zt_id_ctx cx;		/* system scope */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	json_t *doc;

	zt_log_setup(ZT_LOG_WARN, ZT_LOG_JSON, 2);
	if (f == NULL || (f->db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL) {
		fprintf(stderr, "migrate: %s\n", zt_error_msg());
		return -1;
	}
	f->actor = (zt_actor){ "token:test", NULL, "req-1" };
	f->cfg = (zt_identity_config){ "test.example" };
	f->cx = (zt_id_ctx){ f->db, &f->cfg, &f->actor, { NULL, NULL } };
	if (zt_tenant_create(&doc, &f->cx, "acme", "Acme") < 0)
		return -1;
	json_decref(doc);
	if (zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "staff", .kind = "workforce" }) < 0)
		return -1;
	json_decref(doc);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

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

static int64_t
writes(zt_db *db)
{
	return count(db, "SELECT COUNT(*) FROM oauth_clients") * 1000000 +
	    count(db, "SELECT COUNT(*) FROM audit_log");
}

#define assert_err(call, code, part) do {				\
	int rc_ = (call);						\
	if (rc_ != (code) || strstr(zt_error_msg(), (part)) == NULL)	\
		fail_msg("got %d \"%s\", want %d with \"%s\"", rc_,	\
		    zt_error_msg(), (code), (part));			\
} while (0)

static const char *
str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	assert_non_null(s);
	return s;
}

/* Metadata from JSON text, checked. */
static int
meta(json_t **out, const char *text)
{
	json_t *in = json_loads(text, 0, NULL);
	int err;

	assert_non_null(in);
	err = zt_client_metadata(out, in);
	json_decref(in);
	return err;
}

/* ---- metadata ------------------------------------------------------------ */

static void
test_oidc_meta__defaults(void **state)
{
	json_t *m;

	(void)state;
	assert_int_equal(meta(&m, "{\"redirect_uris\":"
	    "[\"https://app.example/cb\"]}"), ZT_OK);
	assert_string_equal(str(m, "token_endpoint_auth_method"),
	    "client_secret_basic");
	assert_string_equal(str(m, "id_token_signed_response_alg"), "ES256");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(m, "grant_types"), 0)), "authorization_code");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(m, "response_types"), 0)), "code");
	assert_int_equal(json_integer_value(json_object_get(m,
	    "access_token_lifetime")), 600);
	assert_true(json_is_false(json_object_get(m,
	    "dpop_bound_access_tokens")));
	json_decref(m);

	/* A service: no redirect, no response type. */
	assert_int_equal(meta(&m, "{\"grant_types\":"
	    "[\"client_credentials\"]}"), ZT_OK);
	assert_int_equal(json_array_size(json_object_get(m,
	    "response_types")), 0);
	json_decref(m);
}

static void
test_oidc_meta__redirect_uris(void **state)
{
	static const char *const good[] = {
		"https://app.example/cb",
		"https://app.example:8443/cb?x=1",
		"http://127.0.0.1:5000/cb",
		"http://[::1]/cb",
		"com.example.app:/oauth2redirect",
		"com.example.app://cb",
	};
	static const struct { const char *uri, *why; } bad[] = {
		{ "/cb", "absolute" },
		{ "app.example/cb", "absolute" },
		{ "https://app.example/cb#frag", "fragments" },
		{ "https://*.example/cb", "wildcards" },
		{ "https://app.example/c b", "spaces" },
		{ "http://app.example/cb", "loopback" },
		{ "http://localhost/cb", "loopback" },
		{ "javascript:alert(1)", "reverse domain" },
		{ "data:text/html,x", "reverse domain" },
		{ "file:///etc/passwd", "reverse domain" },
		{ "https:///cb", "host" },
		{ "https://app.example/\xc3\xa9", "percent-encoded" },
		{ "com.example.app:", "absolute" },
		{ "", "1 to 2048" },
	};
	char text[256];
	json_t *m;
	size_t i;

	(void)state;
	for (i = 0; i < ZT_ARRAY_LEN(good); i++) {
		snprintf(text, sizeof(text), "{\"redirect_uris\":[\"%s\"]}",
		    good[i]);
		if (meta(&m, text) != ZT_OK)
			fail_msg("%s: %s", good[i], zt_error_msg());
		json_decref(m);
	}
	for (i = 0; i < ZT_ARRAY_LEN(bad); i++) {
		json_t *in = json_pack("{s:[s]}", "redirect_uris", bad[i].uri);

		assert_err(zt_client_metadata(&m, in), ZT_EINVAL, bad[i].why);
		assert_null(m);
		json_decref(in);
	}
	assert_err(meta(&m, "{\"redirect_uris\":[\"https://a.example/\","
	    "\"https://a.example/\"]}"), ZT_EINVAL, "twice");
	assert_err(meta(&m, "{\"redirect_uris\":[1]}"), ZT_EINVAL,
	    "array of strings");
	assert_err(meta(&m, "{\"redirect_uris\":\"https://a.example/\"}"),
	    ZT_EINVAL, "redirect_uris");
	assert_err(meta(&m, "{\"post_logout_redirect_uris\":"
	    "[\"http://evil.example/\"],\"redirect_uris\":"
	    "[\"https://a.example/\"]}"), ZT_EINVAL,
	    "post_logout_redirect_uris");
}

static void
test_oidc_meta__grants_and_methods_agree(void **state)
{
	json_t *m;

	(void)state;
	assert_err(meta(&m, "{}"), ZT_EINVAL, "redirect_uris\": required");
	assert_err(meta(&m, "{\"grant_types\":[]}"), ZT_EINVAL,
	    "at least one");
	assert_err(meta(&m, "{\"grant_types\":[\"password\"]}"), ZT_EINVAL,
	    "\"password\" is not a grant type");
	assert_err(meta(&m, "{\"grant_types\":[\"implicit\"]}"), ZT_EINVAL,
	    "not a grant type");
	assert_err(meta(&m, "{\"grant_types\":[\"client_credentials\"],"
	    "\"response_types\":[\"code\"]}"), ZT_EINVAL, "response_types");
	assert_err(meta(&m, "{\"redirect_uris\":[\"https://a.example/\"],"
	    "\"response_types\":[\"token\"]}"), ZT_EINVAL, "only \"code\"");
	assert_err(meta(&m, "{\"grant_types\":[\"refresh_token\","
	    "\"client_credentials\"]}"), ZT_EINVAL, "refresh_token needs");
	assert_err(meta(&m, "{\"grant_types\":[\"client_credentials\"],"
	    "\"token_endpoint_auth_method\":\"none\"}"), ZT_EINVAL,
	    "public client");
	assert_err(meta(&m, "{\"grant_types\":[\"client_credentials\"],"
	    "\"token_endpoint_auth_method\":\"private_key_jwt\"}"), ZT_EINVAL,
	    "field \"jwks\"");
	assert_err(meta(&m, "{\"grant_types\":[\"client_credentials\"],"
	    "\"jwks\":{\"keys\":[{\"kty\":\"EC\"}]}}"), ZT_EINVAL,
	    "only with it");
	assert_err(meta(&m, "{\"grant_types\":[\"client_credentials\"],"
	    "\"token_endpoint_auth_method\":\"private_key_jwt\","
	    "\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"d\":\"x\"}]}}"), ZT_EINVAL,
	    "private key material");
	assert_err(meta(&m, "{\"grant_types\":[\"client_credentials\"],"
	    "\"token_endpoint_auth_method\":\"tls_client_auth\"}"), ZT_EINVAL,
	    "token_endpoint_auth_method");
	assert_int_equal(meta(&m, "{\"grant_types\":[\"client_credentials\"],"
	    "\"token_endpoint_auth_method\":\"private_key_jwt\","
	    "\"jwks\":{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"}]}}"),
	    ZT_OK);
	json_decref(m);
	assert_int_equal(meta(&m, "{\"grant_types\":["
	    "\"urn:ietf:params:oauth:grant-type:device_code\","
	    "\"refresh_token\"],\"token_endpoint_auth_method\":\"none\"}"),
	    ZT_OK);
	json_decref(m);
}

static void
test_oidc_meta__fields(void **state)
{
	json_t *m;

	(void)state;
#define CC "{\"grant_types\":[\"client_credentials\"],"
	assert_err(meta(&m, CC "\"colour\":1}"), ZT_EINVAL,
	    "unknown field \"colour\"");
	assert_err(meta(&m, CC "\"scope\":\" openid\"}"), ZT_EINVAL,
	    "single spaces");
	assert_err(meta(&m, CC "\"scope\":\"a  b\"}"), ZT_EINVAL,
	    "single spaces");
	assert_err(meta(&m, CC "\"scope\":\"a\\\"b\"}"), ZT_EINVAL, "scope");
	assert_err(meta(&m, CC "\"client_name\":\"a\\nb\"}"), ZT_EINVAL,
	    "control");
	assert_err(meta(&m, CC "\"id_token_signed_response_alg\":\"none\"}"),
	    ZT_EINVAL, "ES256, RS256, EdDSA");
	assert_err(meta(&m, CC "\"id_token_signed_response_alg\":\"HS256\"}"),
	    ZT_EINVAL, "ES256");
	assert_err(meta(&m, CC "\"access_token_lifetime\":59}"), ZT_EINVAL,
	    "60 to 86400");
	assert_err(meta(&m, CC "\"access_token_lifetime\":\"600\"}"),
	    ZT_EINVAL, "access_token_lifetime");
	assert_err(meta(&m, CC "\"refresh_token_lifetime\":100}"), ZT_EINVAL,
	    "refresh_token_lifetime");
	assert_int_equal(meta(&m, CC "\"scope\":\"read:articles write\","
	    "\"client_name\":\"Caf\xc3\xa9\",\"dpop_bound_access_tokens\":true,"
	    "\"access_token_lifetime\":60}"), ZT_OK);
	assert_true(json_is_true(json_object_get(m,
	    "dpop_bound_access_tokens")));
	json_decref(m);
#undef CC
}

/* ---- the registry -------------------------------------------------------- */

static json_t *
make(struct fx *f, const char *text)
{
	json_t *in = json_loads(text, 0, NULL), *doc = NULL;

	assert_non_null(in);
	if (zt_client_create(&doc, &f->cx, "acme", in) < 0)
		fail_msg("create: %s", zt_error_msg());
	json_decref(in);
	return doc;
}

static void
test_oidc_client__lifecycle(void **state)
{
	struct fx *f = *state;
	char id[64], secret[64], old[64];
	json_t *doc, *in, *list;
	int64_t w;

	doc = make(f, "{\"account_system\":\"staff\",\"client_name\":\"App\","
	    "\"grant_types\":[\"client_credentials\"]}");
	snprintf(id, sizeof(id), "%s", str(doc, "client_id"));
	snprintf(secret, sizeof(secret), "%s", str(doc, "client_secret"));
	assert_int_equal(strlen(id), ZT_CLIENT_ID_LEN);
	assert_int_equal(strlen(secret), ZT_CLIENT_SECRET_LEN);
	assert_string_equal(str(doc, "account_system"), "staff");
	assert_string_equal(str(doc, "tenant"), "acme");
	json_decref(doc);

	/* The secret works, is shown once, and is nowhere in the audit. */
	assert_true(zt_client_secret_ok(f->db, "acme", id, secret));
	assert_false(zt_client_secret_ok(f->db, "acme", id, "ztcs_wrong"));
	assert_false(zt_client_secret_ok(f->db, "other", id, secret));
	assert_false(zt_client_secret_ok(f->db, "acme", "nope", secret));
	assert_int_equal(zt_client_get(&doc, &f->cx, "acme", id), ZT_OK);
	assert_null(json_object_get(doc, "client_secret"));
	json_decref(doc);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM audit_log WHERE"
	    " action = 'client.create'"), 1);
	{
		char sql[256];

		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM audit_log"
		    " WHERE summary LIKE '%%%s%%'", secret + 5);
		assert_int_equal(count(f->db, sql), 0);
	}

	/* Rotation: the old secret stops working. */
	snprintf(old, sizeof(old), "%s", secret);
	assert_int_equal(zt_client_rotate_secret(&doc, &f->cx, "acme", id, 1),
	    ZT_OK);
	snprintf(secret, sizeof(secret), "%s", str(doc, "client_secret"));
	assert_int_equal(json_integer_value(json_object_get(doc, "version")),
	    2);
	json_decref(doc);
	assert_true(zt_client_secret_ok(f->db, "acme", id, secret));
	assert_false(zt_client_secret_ok(f->db, "acme", id, old));

	/* Update: stale version, another system, public <-> confidential. */
	w = writes(f->db);
	in = json_pack("{s:[s], s:s}", "grant_types", "client_credentials",
	    "client_name", "Renamed");
	assert_err(zt_client_update(&doc, &f->cx, "acme", id, in, 1),
	    ZT_ESTALE, "version 2, not 1");
	json_object_set_new(in, "account_system", json_string("other"));
	assert_err(zt_client_update(&doc, &f->cx, "acme", id, in, 2),
	    ZT_EINVAL, "stays in its account system");
	json_object_del(in, "account_system");
	assert_int_equal(writes(f->db), w);
	assert_int_equal(zt_client_update(&doc, &f->cx, "acme", id, in, 2),
	    ZT_OK);
	assert_string_equal(str(doc, "client_name"), "Renamed");
	json_decref(doc);
	json_decref(in);
	assert_true(zt_client_secret_ok(f->db, "acme", id, secret));

	assert_int_equal(zt_client_list(&list, &f->cx, "acme"), ZT_OK);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);

	/* The account system cannot go while the client is there. */
	assert_int_equal(zt_acctsys_list(&list, &f->cx, "acme"), ZT_OK);
	w = writes(f->db);
	assert_err(zt_acctsys_delete(&f->cx, "acme", str(json_array_get(list,
	    0), "id"), 0), ZT_ECONFLICT, "in use by OAuth clients");
	assert_int_equal(writes(f->db), w);
	json_decref(list);

	assert_err(zt_client_delete(&f->cx, "acme", id, 9), ZT_ESTALE,
	    "not 9");
	assert_int_equal(zt_client_delete(&f->cx, "acme", id, 0), ZT_OK);
	assert_err(zt_client_get(&doc, &f->cx, "acme", id), ZT_ENOTFOUND,
	    "no client");
	assert_false(zt_client_secret_ok(f->db, "acme", id, secret));
}

static void
test_oidc_client__public_has_no_secret(void **state)
{
	struct fx *f = *state;
	json_t *doc, *in;
	char id[64];
	int64_t w;

	doc = make(f, "{\"account_system\":\"staff\","
	    "\"redirect_uris\":[\"http://127.0.0.1:8080/cb\"],"
	    "\"token_endpoint_auth_method\":\"none\"}");
	assert_null(json_object_get(doc, "client_secret"));
	snprintf(id, sizeof(id), "%s", str(doc, "client_id"));
	json_decref(doc);
	assert_false(zt_client_secret_ok(f->db, "acme", id, ""));
	w = writes(f->db);
	assert_err(zt_client_rotate_secret(&doc, &f->cx, "acme", id, 0),
	    ZT_ECONFLICT, "no secret");
	in = json_pack("{s:[s]}", "redirect_uris", "http://127.0.0.1/cb");
	assert_err(zt_client_update(&doc, &f->cx, "acme", id, in, 0),
	    ZT_EINVAL, "between public");
	json_decref(in);
	assert_int_equal(writes(f->db), w);
}

static void
test_oidc_client__scope_and_bad_input(void **state)
{
	struct fx *f = *state;
	zt_id_ctx other = f->cx, unit = f->cx;
	json_t *doc, *in;
	char id[64];
	int64_t w;

	doc = make(f, "{\"account_system\":\"staff\","
	    "\"grant_types\":[\"client_credentials\"]}");
	snprintf(id, sizeof(id), "%s", str(doc, "client_id"));
	json_decref(doc);
	w = writes(f->db);

	/* Another tenant's token: 404, never 403; a unit token: 403. */
	other.scope.tenant = "globex";
	assert_err(zt_client_get(&doc, &other, "acme", id), ZT_ENOTFOUND,
	    "no tenant");
	assert_err(zt_client_delete(&other, "acme", id, 0), ZT_ENOTFOUND,
	    "no tenant");
	unit.scope = (zt_scope){ "acme", "AAAAAAAAAAAAAAAA" };
	assert_err(zt_client_get(&doc, &unit, "acme", id), ZT_EFORBIDDEN,
	    "unit administrator");
	assert_err(zt_client_get(&doc, &f->cx, "nope", id), ZT_ENOTFOUND,
	    "tenant");

	in = json_pack("{s:[s]}", "grant_types", "client_credentials");
	assert_err(zt_client_create(&doc, &f->cx, "acme", in), ZT_EINVAL,
	    "\"account_system\": required");
	json_object_set_new(in, "account_system", json_string("ghost"));
	assert_err(zt_client_create(&doc, &f->cx, "acme", in), ZT_EINVAL,
	    "no account system \"ghost\"");
	json_object_set_new(in, "account_system", json_string(
	    "x'); DROP TABLE oauth_clients; --"));
	assert_err(zt_client_create(&doc, &f->cx, "acme", in), ZT_EINVAL,
	    "no account system");
	json_decref(in);
	assert_int_equal(writes(f->db), w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oidc_meta__defaults),
		cmocka_unit_test(test_oidc_meta__redirect_uris),
		cmocka_unit_test(test_oidc_meta__grants_and_methods_agree),
		cmocka_unit_test(test_oidc_meta__fields),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_oidc_client__lifecycle),
		T(test_oidc_client__public_has_no_secret),
		T(test_oidc_client__scope_and_bad_input),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
