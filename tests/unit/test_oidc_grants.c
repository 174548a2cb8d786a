/*
 * Tests of the grants' logic without a server: user code normalisation,
 * and refresh token families against SQLite in a temporary file
 * (rotation, reuse revoking the family and its access tokens, idle and
 * absolute expiry, client and DPoP binding, a revoked sign-in session,
 * revocation), plus pushed requests taken once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "base/base.h"
#include "oidc/flow.h"
#include "store/store.h"
#include "testdb.h"

/* ---- user codes ------------------------------------------------------------ */

static void
test_oidc_grants__user_code_normalise(void **state)
{
	static const char *const good[] = {
		"BCDF-GHJK", "bcdf-ghjk", "BcDfGhJk", " bcdf ghjk ",
		"B-C-D-F-G-H-J-K",
	};
	static const char *const bad[] = {
		"", "BCDF-GHJ", "BCDF-GHJKL", "AEIO-UAEI", "BCDF-GHJ1",
		"BCDF_GHJK", "BCDF-GHJ\xc3\xa9", "BCDF\tGHJK",
	};
	char out[ZT_USER_CODE_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < ZT_ARRAY_LEN(good); i++) {
		assert_int_equal(zt_user_code_normalise(out, good[i]), ZT_OK);
		assert_string_equal(out, "BCDFGHJK");
	}
	for (i = 0; i < ZT_ARRAY_LEN(bad); i++)
		assert_int_equal(zt_user_code_normalise(out, bad[i]),
		    ZT_EINVAL);
}

/* ---- against a database ------------------------------------------------------ */

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_authn_migrations, &zt_identity_migrations,
	&zt_keys_migrations, &zt_oidc_migrations, &zt_oauth_migrations,
	&zt_oauth_grant_migrations,
};

struct fx {
	zt_db *db;
	zt_actor actor;
	zt_identity_config cfg;
	zt_id_ctx cx;
	zt_issuer iss;
	char client[64], other[64], web[64], person[64];
};

static int
make_client(char *out, size_t size, struct fx *f, json_t *meta)
{
	json_t *doc;

	if (zt_client_create(&doc, &f->cx, "acme", meta) < 0)
		return -1;
	snprintf(out, size, "%s", json_string_value(json_object_get(doc,
	    "client_id")));
	json_decref(doc);
	json_decref(meta);
	return 0;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	json_t *doc;

	zt_log_setup(ZT_LOG_ERROR, ZT_LOG_JSON, 2);
	if (f == NULL ||
	    (f->db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL)
		return -1;
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
	if (zt_identity_create(&doc, &f->cx, "acme", &(zt_identity_spec){
	    .kind = "person", .name = "pat", .state = "active" }) < 0)
		return -1;
	snprintf(f->person, sizeof(f->person), "%s", json_string_value(
	    json_object_get(doc, "id")));
	json_decref(doc);
	if (make_client(f->client, sizeof(f->client), f, json_pack(
	    "{s:s, s:[s,s], s:s, s:I}", "account_system", "staff",
	    "grant_types", "urn:ietf:params:oauth:grant-type:device_code",
	    "refresh_token", "scope", "read write",
	    "refresh_token_idle_lifetime", (json_int_t)3600)) < 0 ||
	    make_client(f->other, sizeof(f->other), f, json_pack(
	    "{s:s, s:[s,s], s:s}", "account_system", "staff",
	    "grant_types", "urn:ietf:params:oauth:grant-type:device_code",
	    "refresh_token", "scope", "read")) < 0 ||
	    make_client(f->web, sizeof(f->web), f, json_pack(
	    "{s:s, s:[s], s:[s], s:s}", "account_system", "staff",
	    "grant_types", "authorization_code", "redirect_uris",
	    "https://app.example/cb", "scope", "openid read")) < 0)
		return -1;
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
	testdb_close(f->db);
	free(f);
	return 0;
}

#define NOW 1800000000

static void
start(struct fx *f, char rt[ZT_REFRESH_LEN + 1], char fam[ZT_ID_LEN + 1],
    const char *jkt, const char *session, const char *jti)
{
	assert_int_equal(zt_refresh_start(rt, fam, f->db, &f->iss,
	    &(zt_refresh_spec){ .client_id = f->client,
	    .identity_id = f->person, .session_id = session,
	    .scope = "read write", .jkt = jkt, .auth_time = NOW },
	    jti, NOW + 600, NOW), ZT_OK);
	assert_true(strncmp(rt, "ztrt_", 5) == 0);
	assert_int_equal(strlen(rt), ZT_REFRESH_LEN);
}

static bool
is_revoked(struct fx *f, const char *jti)
{
	zt_stmt *st;
	int err;

	assert_int_equal(zt_db_prepare(&st, f->db, "SELECT 1 FROM"
	    " oauth_revoked WHERE tenant = 'acme' AND jti = $1"), ZT_OK);
	zt_stmt_bind_text(st, 1, jti);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	return err == ZT_ROW;
}

static int
redeem(struct fx *f, const char *client, const char *rt, const char *jkt,
    int64_t now, zt_refresh_grant *g, zt_oauth_error *e)
{
	return zt_refresh_redeem(g, f->db, &f->iss, client, rt, jkt, now, e);
}

static void
test_oidc_grants__rotation_and_reuse(void **state)
{
	struct fx *f = *state;
	char rt[ZT_REFRESH_LEN + 1], rt2[ZT_REFRESH_LEN + 1];
	char fam[ZT_ID_LEN + 1];
	zt_oauth_error e = { 0 };
	zt_refresh_grant g;

	start(f, rt, fam, NULL, NULL, "jti-1");
	assert_int_equal(redeem(f, f->client, rt, NULL, NOW + 10, &g, &e),
	    ZT_OK);
	assert_string_equal(g.identity_id, f->person);
	assert_string_equal(g.scope, "read write");
	assert_string_equal(g.family, fam);
	assert_int_equal(zt_refresh_rotate(rt2, f->db, &f->iss, &g, f->client,
	    "jti-2", NOW + 610, NOW + 10), ZT_OK);
	assert_string_not_equal(rt, rt2);
	/* The same redeemed token cannot rotate twice. */
	assert_int_equal(zt_refresh_rotate(rt2 + 0, f->db, &f->iss, &g,
	    f->client, "jti-x", NOW + 610, NOW + 10), ZT_ECONFLICT);
	zt_refresh_grant_free(&g);
	assert_true(is_revoked(f, "jti-1"));
	assert_true(is_revoked(f, "jti-2"));
}

static void
test_oidc_grants__reuse_revokes_family(void **state)
{
	struct fx *f = *state;
	char rt[ZT_REFRESH_LEN + 1], rt2[ZT_REFRESH_LEN + 1];
	char fam[ZT_ID_LEN + 1];
	zt_oauth_error e = { 0 };
	zt_refresh_grant g;

	start(f, rt, fam, NULL, NULL, "jti-a");
	assert_int_equal(redeem(f, f->client, rt, NULL, NOW, &g, &e), ZT_OK);
	assert_int_equal(zt_refresh_rotate(rt2, f->db, &f->iss, &g, f->client,
	    "jti-b", NOW + 600, NOW), ZT_OK);
	zt_refresh_grant_free(&g);
	assert_false(is_revoked(f, "jti-a"));
	/* The spent one again. */
	assert_int_equal(redeem(f, f->client, rt, NULL, NOW, &g, &e),
	    ZT_EINVAL);
	assert_string_equal(e.error, "invalid_grant");
	assert_true(is_revoked(f, "jti-a"));
	assert_true(is_revoked(f, "jti-b"));
	/* And the family's newest is dead too. */
	assert_int_equal(redeem(f, f->client, rt2, NULL, NOW, &g, &e),
	    ZT_EINVAL);
	assert_string_equal(e.error, "invalid_grant");
}

static void
test_oidc_grants__expiry_and_binding(void **state)
{
	struct fx *f = *state;
	char rt[ZT_REFRESH_LEN + 1], fam[ZT_ID_LEN + 1];
	zt_oauth_error e = { 0 };
	zt_refresh_grant g;
	json_t *intro;

	start(f, rt, fam, "thumbprint-of-key-1", NULL, "jti-e");
	/* Idle for an hour (the client's refresh_token_idle_lifetime). */
	assert_int_equal(redeem(f, f->client, rt, "thumbprint-of-key-1",
	    NOW + 3600, &g, &e), ZT_EINVAL);
	assert_string_equal(e.error, "invalid_grant");
	/* Another client, no proof, another key. */
	assert_int_equal(redeem(f, f->other, rt, "thumbprint-of-key-1", NOW,
	    &g, &e), ZT_EINVAL);
	assert_int_equal(redeem(f, f->client, rt, NULL, NOW, &g, &e),
	    ZT_EINVAL);
	assert_int_equal(redeem(f, f->client, rt, "thumbprint-of-key-2", NOW,
	    &g, &e), ZT_EINVAL);
	/* None of that spent it. */
	assert_int_equal(redeem(f, f->client, rt, "thumbprint-of-key-1",
	    NOW + 60, &g, &e), ZT_OK);
	zt_refresh_grant_free(&g);
	assert_int_equal(zt_refresh_introspect(&intro, f->db, &f->iss, rt,
	    NOW), ZT_OK);
	assert_non_null(intro);
	assert_true(json_is_true(json_object_get(intro, "active")));
	assert_string_equal(json_string_value(json_object_get(intro,
	    "token_type")), "refresh_token");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    intro, "cnf"), "jkt")), "thumbprint-of-key-1");
	json_decref(intro);
	/* Malformed tokens are nothing, without a read. */
	assert_int_equal(redeem(f, f->client, "ztrt_short", NULL, NOW, &g,
	    &e), ZT_EINVAL);
	assert_int_equal(zt_refresh_introspect(&intro, f->db, &f->iss,
	    "ztrt_x", NOW), ZT_OK);
	assert_null(intro);
}

static void
test_oidc_grants__session_and_revocation(void **state)
{
	struct fx *f = *state;
	char rt[ZT_REFRESH_LEN + 1], fam[ZT_ID_LEN + 1];
	zt_oauth_error e = { 0 };
	zt_refresh_grant g;
	json_t *intro;

	/* A session that is not there (revoked) ends the family. */
	start(f, rt, fam, NULL, "gone-session-id", "jti-s");
	assert_int_equal(redeem(f, f->client, rt, NULL, NOW, &g, &e),
	    ZT_EINVAL);
	assert_string_equal(e.error, "invalid_grant");

	start(f, rt, fam, NULL, NULL, "jti-r");
	/* Only its own client revokes it. */
	assert_int_equal(zt_refresh_revoke_token(f->db, &f->iss, f->other, rt,
	    NULL, NOW), ZT_ENOTFOUND);
	assert_false(is_revoked(f, "jti-r"));
	assert_int_equal(zt_refresh_revoke_token(f->db, &f->iss, f->client,
	    rt, NULL, NOW), ZT_OK);
	assert_true(is_revoked(f, "jti-r"));
	assert_int_equal(redeem(f, f->client, rt, NULL, NOW, &g, &e),
	    ZT_EINVAL);
	assert_int_equal(zt_refresh_introspect(&intro, f->db, &f->iss, rt,
	    NOW), ZT_OK);
	assert_null(intro);
}

static void
test_oidc_grants__par_taken_once(void **state)
{
	struct fx *f = *state;
	json_t *meta;
	zt_stmt *st;
	zt_form p;
	char uri[128];

	assert_int_equal(zt_db_prepare(&st, f->db, "INSERT INTO oauth_par"
	    " (tenant, id, system_id, client_id, params, expires_at) VALUES"
	    " ('acme', 'abc', $1, $2, $3, $4)"), ZT_OK);
	zt_stmt_bind_text(st, 1, f->iss.system_id);
	zt_stmt_bind_text(st, 2, f->web);
	zt_stmt_bind_text(st, 3, "[[\"response_type\",\"code\"],"
	    "[\"scope\",\"openid read\"],[\"state\",\"a&b=c%\"]]");
	zt_stmt_bind_int(st, 4, NOW + 60);
	assert_int_equal(zt_stmt_step(st), ZT_DONE);
	zt_stmt_reset(st);
	snprintf(uri, sizeof(uri), "%sabc", ZT_PAR_URI_PREFIX);
	/* Another client, or too late: nothing, and it stays. */
	assert_int_equal(zt_par_take(&p, f->db, &f->iss, f->client, uri,
	    NOW), ZT_ENOTFOUND);
	assert_int_equal(zt_par_take(&p, f->db, &f->iss, f->web, uri,
	    NOW + 60), ZT_ENOTFOUND);
	assert_int_equal(zt_par_take(&p, f->db, &f->iss, f->web, uri, NOW),
	    ZT_OK);
	assert_string_equal(zt_form_get(&p, "scope"), "openid read");
	assert_string_equal(zt_form_get(&p, "state"), "a&b=c%");
	zt_form_free(&p);
	assert_int_equal(zt_par_take(&p, f->db, &f->iss, f->web, uri, NOW),
	    ZT_ENOTFOUND);
	meta = json_pack("{s:b}", "require_pushed_authorization_requests",
	    true);
	assert_true(zt_par_required(meta));
	json_decref(meta);
}

/* A device request in `state`, its code's hash given by the code. */
static void
device_row(struct fx *f, const char *code, const char *user_code,
    const char *state)
{
	uint8_t h[ZT_SHA256_LEN];
	char hex[2 * ZT_SHA256_LEN + 1];
	zt_stmt *st;

	zt_sha256(h, code, strlen(code));
	zt_hex_encode(hex, h, sizeof(h));
	assert_int_equal(zt_db_prepare(&st, f->db, "INSERT INTO oauth_device"
	    " (tenant, hash, user_code, system_id, client_id, scope, state,"
	    " identity_id, auth_time, interval_s, last_poll, expires_at)"
	    " VALUES ('acme', $1, $2, $3, $4, 'read', $5, $6, 0, 5, 0, $7)"),
	    ZT_OK);
	zt_stmt_bind_text(st, 1, hex);
	zt_stmt_bind_text(st, 2, user_code);
	zt_stmt_bind_text(st, 3, f->iss.system_id);
	zt_stmt_bind_text(st, 4, f->client);
	zt_stmt_bind_text(st, 5, state);
	zt_stmt_bind_text(st, 6, f->person);
	zt_stmt_bind_int(st, 7, NOW + 600);
	assert_int_equal(zt_stmt_step(st), ZT_DONE);
	zt_stmt_reset(st);
}

static void
test_oidc_grants__device_states(void **state)
{
	struct fx *f = *state;
	const char *approved = "ztdc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	const char *pending = "ztdc_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
	const char *denied = "ztdc_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
	zt_oauth_error e = { 0 };
	zt_device_info info;
	zt_refresh_grant g;

	device_row(f, approved, "BCDFGHJK", "approved");
	device_row(f, pending, "BCDFGHJL", "pending");
	device_row(f, denied, "BCDFGHJM", "denied");
	/* Another client's code, an expired one. */
	assert_int_equal(zt_device_redeem(&g, f->db, &f->iss, f->other,
	    approved, NOW, &e), ZT_EINVAL);
	assert_string_equal(e.error, "invalid_grant");
	assert_int_equal(zt_device_redeem(&g, f->db, &f->iss, f->client,
	    approved, NOW + 600, &e), ZT_EINVAL);
	assert_string_equal(e.error, "expired_token");
	assert_int_equal(zt_device_redeem(&g, f->db, &f->iss, f->client,
	    approved, NOW, &e), ZT_OK);
	assert_string_equal(g.identity_id, f->person);
	assert_string_equal(g.scope, "read");
	zt_refresh_grant_free(&g);
	/* Once. */
	assert_int_equal(zt_device_redeem(&g, f->db, &f->iss, f->client,
	    approved, NOW, &e), ZT_EINVAL);
	assert_string_equal(e.error, "invalid_grant");
	assert_int_equal(zt_device_redeem(&g, f->db, &f->iss, f->client,
	    pending, NOW, &e), ZT_EINVAL);
	assert_string_equal(e.error, "authorization_pending");
	assert_int_equal(zt_device_redeem(&g, f->db, &f->iss, f->client,
	    pending, NOW, &e), ZT_EINVAL);
	assert_string_equal(e.error, "slow_down");
	assert_int_equal(zt_device_redeem(&g, f->db, &f->iss, f->client,
	    denied, NOW, &e), ZT_EINVAL);
	assert_string_equal(e.error, "access_denied");
	/* The page sees only the pending one. */
	assert_int_equal(zt_device_lookup(&info, f->db, &f->iss, "BCDFGHJL",
	    NOW), ZT_OK);
	assert_string_equal(info.client_id, f->client);
	assert_int_equal(zt_device_lookup(&info, f->db, &f->iss, "BCDFGHJK",
	    NOW), ZT_ENOTFOUND);
	assert_int_equal(zt_device_lookup(&info, f->db, &f->iss, "BCDFGHJL",
	    NOW + 600), ZT_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oidc_grants__user_code_normalise),
		cmocka_unit_test_setup_teardown(
		    test_oidc_grants__rotation_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_oidc_grants__reuse_revokes_family, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_oidc_grants__expiry_and_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_oidc_grants__session_and_revocation, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_oidc_grants__par_taken_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_oidc_grants__device_states, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
