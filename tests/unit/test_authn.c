/*
 * Tests of authn's credentials and sessions against a real database:
 * SQLite in a temporary file by default, or the PostgreSQL named by
 * ZTIAM_TEST_DB.  Time is the module's injectable clock, so back-off,
 * TOTP steps and session lifetimes are stepped, never slept.
 *
 * Account systems here use a cheap Argon2 cost (256 KiB, 1 pass) so the
 * suite stays fast; one test hashes with the default cost.
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
#include "authn/authn.h"
#include "base/base.h"
#include "identity/identity.h"
#include "store/store.h"
#include "testdb.h"

static int64_t fake_now;

static int64_t
test_clock(void)
{
	return fake_now;
}

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_authn_migrations, &zt_identity_migrations,
};

struct fx {
	zt_db *db;
	zt_actor actor;
	zt_identity_config cfg;
	zt_id_ctx cx;
	char sys[ZT_ID_LEN + 1];
	char ident[ZT_ID_LEN + 1];
	char acct[ZT_ID_LEN + 1];
};

static void
keep(char *dst, json_t *doc)
{
	snprintf(dst, ZT_ID_LEN + 1, "%s",
	    json_string_value(json_object_get(doc, "id")));
	json_decref(doc);
}

/* A tenant "acme", a system "staff" with `policy`, and alice, active. */
static void
make_people(struct fx *f, json_t *policy)
{
	json_t *doc;

	assert_int_equal(zt_tenant_create(&doc, &f->cx, "acme", "Acme"),
	    ZT_OK);
	json_decref(doc);
	assert_int_equal(zt_acctsys_create(&doc, &f->cx, "acme",
	    &(zt_acctsys_spec){ .name = "staff", .kind = "workforce",
	    .password_policy = policy }), ZT_OK);
	keep(f->sys, doc);
	assert_int_equal(zt_identity_create(&doc, &f->cx, "acme",
	    &(zt_identity_spec){ .kind = "person", .name = "alice",
	    .state = "active" }), ZT_OK);
	keep(f->ident, doc);
	assert_int_equal(zt_account_create(&doc, &f->cx, "acme",
	    &(zt_account_spec){ .identity = f->ident, .system = f->sys,
	    .login_name = "Alice@Example.com" }), ZT_OK);
	keep(f->acct, doc);
}

static json_t *
cheap_policy(int min_len, int history)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "min_length",
	    min_len, "history", history, "argon2_memory_kib", 256,
	    "argon2_iterations", 1, "argon2_parallelism", 1,
	    "lockout_threshold", 10);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	json_t *pol;

	zt_log_setup(ZT_LOG_ERROR, ZT_LOG_JSON, 2);
	if (f == NULL || (f->db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL) {
		fprintf(stderr, "migrate: %s\n", zt_error_msg());
		return -1;
	}
	f->actor = (zt_actor){ "token:test", NULL, "req-1" };
	f->cfg = (zt_identity_config){ "test.example" };
	f->cx = (zt_id_ctx){ f->db, &f->cfg, &f->actor, { NULL, NULL } };
	pol = cheap_policy(8, 2);
	make_people(f, pol);
	json_decref(pol);
	fake_now = 1700000000000LL;
	zt_authn_set_clock(test_clock);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	zt_authn_set_clock(NULL);
	testdb_close(f->db);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static void
text_of(struct fx *f, const char *sql, char *out, size_t n)
{
	zt_stmt *st;

	assert_int_equal(zt_db_prepare(&st, f->db, sql), ZT_OK);
	out[0] = '\0';
	if (zt_stmt_step(st) == ZT_ROW && zt_stmt_text(st, 0))
		snprintf(out, n, "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
}

/* True when no audit record mentions `needle`. */
static bool
audit_clean(struct fx *f, const char *needle)
{
	zt_stmt *st;
	bool clean = true;
	int i;

	assert_int_equal(zt_db_prepare(&st, f->db, "SELECT * FROM audit_log"),
	    ZT_OK);
	while (zt_stmt_step(st) == ZT_ROW)
		for (i = 0; i < zt_stmt_columns(st); i++)
			if (zt_stmt_text(st, i) &&
			    strstr(zt_stmt_text(st, i), needle))
				clean = false;
	zt_stmt_reset(st);
	return clean;
}

static int
set_pw(struct fx *f, const char *pw)
{
	return zt_password_set(&f->cx, "acme", f->acct, pw, strlen(pw));
}

static int
login(struct fx *f, zt_throttle *th, const char *name, const char *pw,
    int64_t *wait)
{
	zt_login who;

	return zt_login_password(&who, &f->cx, th, "acme", "staff", name, pw,
	    strlen(pw), "192.0.2.1", wait);
}

#define assert_msg(want) assert_non_null(strstr(zt_error_msg(), (want)))

/* ---- passwords ----------------------------------------------------------- */

static void
test_authn_password__hash_verify_rehash(void **state)
{
	zt_argon2_params cheap = { 256, 1, 1 }, other = { 512, 1, 1 }, got;
	zt_argon2_params def = { ZT_ARGON2_M_DEFAULT, ZT_ARGON2_T_DEFAULT,
	    ZT_ARGON2_P_DEFAULT };
	char phc[ZT_PHC_MAX], phc2[ZT_PHC_MAX];
	bool stale;

	(void)state;
	assert_int_equal(zt_password_hash(phc, &def, "correct horse", 13),
	    ZT_OK);
	assert_true(zt_str_has_prefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$"));
	assert_int_equal(zt_password_check(phc, "correct horse", 13, &def,
	    &stale), ZT_OK);
	assert_false(stale);

	assert_int_equal(zt_password_hash(phc, &cheap, "pw", 2), ZT_OK);
	assert_int_equal(zt_password_hash(phc2, &cheap, "pw", 2), ZT_OK);
	assert_string_not_equal(phc, phc2);	/* fresh salt each time */
	assert_int_equal(zt_phc_params(phc, &got), ZT_OK);
	assert_int_equal(got.m_kib, 256);
	assert_int_equal(zt_password_check(phc, "pw", 2, &cheap, &stale),
	    ZT_OK);
	assert_false(stale);
	assert_int_equal(zt_password_check(phc, "pw", 2, &other, &stale),
	    ZT_OK);
	assert_true(stale);
	assert_int_equal(zt_password_check(phc, "pW", 2, &cheap, &stale),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_password_check("$argon2i$v=19$m=8,t=1,p=1$x$y",
	    "pw", 2, NULL, NULL), ZT_EINVAL);
	assert_int_equal(zt_phc_params("$argon2id$v=19$m=99999999999,t=1,"
	    "p=1$a$b", &got), ZT_EINVAL);
}

static void
test_authn_password__policy_rules(void **state)
{
	zt_pw_policy pol;
	char big[300];

	(void)state;
	zt_pw_policy_from_json(&pol, NULL);
	assert_int_equal(pol.min_chars, 12);
	assert_int_equal(pol.argon2.m_kib, ZT_ARGON2_M_DEFAULT);
	pol.min_chars = 4;
	pol.max_chars = 6;
	/* Code points, not bytes: six two-byte letters pass. */
	assert_int_equal(zt_pw_policy_check(&pol, "\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9", 12), ZT_OK);
	assert_int_equal(zt_pw_policy_check(&pol, "abc", 3), ZT_EINVAL);
	assert_msg("\"min_length\"");
	assert_int_equal(zt_pw_policy_check(&pol, "abcdefg", 7), ZT_EINVAL);
	assert_msg("\"max_length\"");
	assert_int_equal(zt_pw_policy_check(&pol, "a\xff" "bcd", 5),
	    ZT_EINVAL);
	assert_msg("\"utf8\"");
	assert_int_equal(zt_pw_policy_check(&pol, "Dragon", 6), ZT_EINVAL);
	assert_msg("\"common\"");
	pol.max_chars = 1000;
	memset(big, 'x', sizeof(big));
	assert_int_equal(zt_pw_policy_check(&pol, big, 257), ZT_EINVAL);
	assert_msg("\"max_bytes\"");
	assert_true(zt_password_is_common("PASSWORD", 8));
	assert_true(zt_password_is_common("qwerty", 6));
	assert_false(zt_password_is_common("tr0ub4dor&3-staple", 18));
}

static void
test_authn_password__set_history_audit(void **state)
{
	struct fx *f = *state;
	char hash[ZT_PHC_MAX];

	/* Policy: at least 8 characters, the last 2 passwords barred. */
	assert_int_equal(set_pw(f, "short"), ZT_EINVAL);
	assert_msg("\"min_length\"");
	assert_int_equal(set_pw(f, "password1"), ZT_EINVAL);
	assert_msg("\"common\"");
	assert_int_equal(set_pw(f, "first-secret-A"), ZT_OK);
	assert_int_equal(set_pw(f, "first-secret-A"), ZT_EINVAL);
	assert_msg("\"history\"");
	assert_int_equal(set_pw(f, "second-secret-B"), ZT_OK);
	assert_int_equal(set_pw(f, "first-secret-A"), ZT_EINVAL);
	assert_int_equal(set_pw(f, "third-secret-C"), ZT_OK);
	/* A is now three changes back: allowed again. */
	assert_int_equal(set_pw(f, "first-secret-A"), ZT_OK);

	text_of(f, "SELECT hash FROM account_passwords", hash, sizeof(hash));
	assert_true(zt_str_has_prefix(hash, "$argon2id$v=19$m=256,t=1,p=1$"));
	assert_true(audit_clean(f, "secret-"));
	assert_true(audit_clean(f, "$argon2id"));
	assert_int_equal(zt_password_set(&f->cx, "acme", "AAAAAAAAAAAAAAAA",
	    "whatever-long", 13), ZT_ENOTFOUND);
	assert_int_equal(zt_password_delete(&f->cx, "acme", f->acct), ZT_OK);
	assert_int_equal(zt_password_delete(&f->cx, "acme", f->acct),
	    ZT_ENOTFOUND);
}

static void
test_authn_login__password_generic_failures_and_rehash(void **state)
{
	struct fx *f = *state;
	char hash[ZT_PHC_MAX], first[ZT_PHC_MAX];
	json_t *doc, *pol;
	int64_t wait;
	zt_login who;

	assert_int_equal(set_pw(f, "a-good-long-one"), ZT_OK);
	assert_int_equal(zt_login_password(&who, &f->cx, NULL, "acme",
	    "staff", "alice@example.com", "a-good-long-one", 15, "192.0.2.1",
	    &wait), ZT_OK);
	assert_string_equal(who.account_id, f->acct);
	assert_string_equal(who.identity_id, f->ident);
	assert_false(who.totp_active);

	/* Unknown name, wrong password, unknown system or tenant: one
	 * answer. */
	assert_int_equal(login(f, NULL, "alice@example.com", "wrong", &wait),
	    ZT_ENOTFOUND);
	assert_string_equal(zt_error_msg(), "invalid credentials");
	assert_int_equal(login(f, NULL, "bob", "a-good-long-one", &wait),
	    ZT_ENOTFOUND);
	assert_string_equal(zt_error_msg(), "invalid credentials");
	assert_int_equal(zt_login_password(&who, &f->cx, NULL, "nope",
	    "staff", "alice@example.com", "a-good-long-one", 15, "x", &wait),
	    ZT_ENOTFOUND);
	assert_string_equal(zt_error_msg(), "invalid credentials");

	/* A disabled account fails like a wrong password. */
	assert_int_equal(zt_account_set_state(&doc, &f->cx, "acme", f->acct,
	    "disabled", 0), ZT_OK);
	json_decref(doc);
	assert_int_equal(login(f, NULL, "alice@example.com",
	    "a-good-long-one", &wait), ZT_ENOTFOUND);
	assert_string_equal(zt_error_msg(), "invalid credentials");
	assert_int_equal(zt_account_set_state(&doc, &f->cx, "acme", f->acct,
	    "active", 0), ZT_OK);
	json_decref(doc);

	/* Raising the cost rehashes at the next good login. */
	text_of(f, "SELECT hash FROM account_passwords", first, sizeof(first));
	pol = json_pack("{s:i, s:i, s:i, s:i}", "min_length", 8,
	    "argon2_memory_kib", 512, "argon2_iterations", 1,
	    "argon2_parallelism", 1);
	assert_int_equal(zt_acctsys_update(&doc, &f->cx, "acme", f->sys,
	    &(zt_acctsys_spec){ .name = "staff", .kind = "workforce",
	    .password_policy = pol }, 0), ZT_OK);
	json_decref(doc);
	json_decref(pol);
	assert_int_equal(login(f, NULL, "alice@example.com", "wrong", &wait),
	    ZT_ENOTFOUND);
	text_of(f, "SELECT hash FROM account_passwords", hash, sizeof(hash));
	assert_string_equal(hash, first);	/* not on a failure */
	assert_int_equal(login(f, NULL, "ALICE@example.com",
	    "a-good-long-one", &wait), ZT_OK);
	text_of(f, "SELECT hash FROM account_passwords", hash, sizeof(hash));
	assert_true(zt_str_has_prefix(hash, "$argon2id$v=19$m=512,t=1,p=1$"));
	assert_int_equal(login(f, NULL, "alice@example.com",
	    "a-good-long-one", &wait), ZT_OK);
	text_of(f, "SELECT action FROM audit_log WHERE action ="
	    " 'password.rehash'", hash, sizeof(hash));
	assert_string_equal(hash, "password.rehash");
	assert_true(audit_clean(f, "a-good-long-one"));
}

static void
test_authn_login__throttled_alike_for_known_and_unknown(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "alice@example.com", "nobody-here" };
	zt_throttle *th;
	int64_t wait;
	size_t n;
	int i;

	assert_int_equal(set_pw(f, "a-good-long-one"), ZT_OK);
	for (n = 0; n < 2; n++) {
		assert_int_equal(zt_throttle_new(&th, 1024), ZT_OK);
		for (i = 0; i < ZT_THROTTLE_FREE; i++)
			assert_int_equal(login(f, th, names[n], "wrong",
			    &wait), ZT_ENOTFOUND);
		/* Sixth try: wait a second, even with the right password. */
		assert_int_equal(login(f, th, names[n], "a-good-long-one",
		    &wait), ZT_EBUSY);
		assert_int_equal(wait, 1);
		assert_string_equal(zt_error_msg(),
		    "too many attempts, retry after 1 s");
		fake_now += 1000;
		assert_int_equal(login(f, th, names[n], "wrong", &wait),
		    ZT_ENOTFOUND);
		assert_int_equal(login(f, th, names[n], "wrong", &wait),
		    ZT_EBUSY);
		assert_int_equal(wait, 2);
		fake_now += 2000;
		zt_throttle_free(th);
		/* A new table, and on PostgreSQL no shared counts either. */
		assert_int_equal(zt_db_exec(f->db, "DELETE FROM "
		    "login_throttle"), ZT_OK);
	}

	/* A success clears the name's count. */
	assert_int_equal(zt_throttle_new(&th, 1024), ZT_OK);
	for (i = 0; i < ZT_THROTTLE_FREE - 1; i++)
		assert_int_equal(login(f, th, names[0], "wrong", &wait),
		    ZT_ENOTFOUND);
	assert_int_equal(login(f, th, names[0], "a-good-long-one", &wait),
	    ZT_OK);
	for (i = 0; i < ZT_THROTTLE_FREE; i++)
		assert_int_equal(login(f, th, names[0], "wrong", &wait),
		    ZT_ENOTFOUND);
	zt_throttle_free(th);
}

static void
test_authn_throttle__backoff_lock_and_bounded_table(void **state)
{
	int64_t t = 1000000, want = 1;
	zt_throttle *th;
	char key[32];
	int i;

	(void)state;
	assert_int_equal(zt_throttle_new(&th, 64), ZT_OK);
	for (i = 0; i < 5; i++) {
		assert_int_equal(zt_throttle_wait(th, NULL, "k", 5, 0, t), 0);
		zt_throttle_fail(th, NULL, "k", t);
	}
	/* Doubling from 1 s, capped at 15 minutes. */
	for (i = 0; i < 14; i++) {
		assert_int_equal(zt_throttle_wait(th, NULL, "k", 5, 0, t), want);
		t += want * 1000;
		assert_int_equal(zt_throttle_wait(th, NULL, "k", 5, 0, t), 0);
		zt_throttle_fail(th, NULL, "k", t);
		want = want * 2 > ZT_THROTTLE_MAX_S ? ZT_THROTTLE_MAX_S :
		    want * 2;
	}
	assert_int_equal(zt_throttle_wait(th, NULL, "k", 5, 0, t),
	    ZT_THROTTLE_MAX_S);

	/* A lockout threshold locks for the full 15 minutes at once. */
	for (i = 0; i < 3; i++)
		zt_throttle_fail(th, NULL, "j", t);
	assert_int_equal(zt_throttle_wait(th, NULL, "j", 5, 3, t),
	    ZT_THROTTLE_MAX_S);
	assert_int_equal(zt_throttle_wait(th, NULL, "j", 5, 3, t + 899000), 1);
	assert_int_equal(zt_throttle_wait(th, NULL, "j", 5, 3, t + 900000), 0);
	zt_throttle_reset(th, NULL, "k");
	assert_int_equal(zt_throttle_wait(th, NULL, "k", 5, 0, t), 0);

	/* The table never grows past its slots. */
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "flood-%d", i);
		zt_throttle_fail(th, NULL, key, t + i);
	}
	assert_true(zt_throttle_count(th) <= 64);
	zt_throttle_free(th);
}

/* Two processes' tables over one database: on PostgreSQL a failure seen
 * by one slows the other; SQLite, one node, keeps counts in memory. */
static void
test_authn_throttle__shared_on_postgres(void **state)
{
	struct fx *f = *state;
	bool pg = zt_db_driver(f->db) == ZT_DB_POSTGRES;
	int64_t t = 5000000;
	zt_throttle *a, *b;
	int i;

	assert_int_equal(zt_throttle_new(&a, 64), ZT_OK);
	assert_int_equal(zt_throttle_new(&b, 64), ZT_OK);
	for (i = 0; i < 7; i++)
		zt_throttle_fail(a, f->db, "n:acme\nstaff\npat", t);
	assert_int_equal(zt_throttle_wait(a, f->db, "n:acme\nstaff\npat", 5,
	    0, t), 4);
	assert_int_equal(zt_throttle_wait(b, f->db, "n:acme\nstaff\npat", 5,
	    0, t), pg ? 4 : 0);
	/* A success on the other node clears the shared count. */
	zt_throttle_reset(b, f->db, "n:acme\nstaff\npat");
	zt_throttle_free(a);
	assert_int_equal(zt_throttle_new(&a, 64), ZT_OK);
	assert_int_equal(zt_throttle_wait(a, f->db, "n:acme\nstaff\npat", 5,
	    0, t), 0);
	zt_throttle_free(a);
	zt_throttle_free(b);
}

/* ---- TOTP ---------------------------------------------------------------- */

static void
test_authn_totp__rfc6238_sha1_vectors(void **state)
{
	static const struct { int64_t t; const char *code; } v[] = {
		{ 59, "94287082" }, { 1111111109, "07081804" },
		{ 1111111111, "14050471" }, { 1234567890, "89005924" },
		{ 2000000000, "69279037" }, { 20000000000LL, "65353130" },
	};
	char code[9];
	size_t i;

	(void)state;
	for (i = 0; i < ZT_ARRAY_LEN(v); i++) {
		assert_int_equal(zt_totp_code(code, sizeof(code),
		    "12345678901234567890", 20, v[i].t, 8), ZT_OK);
		assert_string_equal(code, v[i].code);
	}
}

static void
test_authn_totp__uri_and_qr(void **state)
{
	char *uri, *svg;

	(void)state;
	assert_int_equal(zt_totp_uri(&uri, "Acme Corp", "alice@example.com",
	    "12345678901234567890", 20), ZT_OK);
	assert_string_equal(uri, "otpauth://totp/Acme%20Corp:alice%40"
	    "example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme"
	    "%20Corp&algorithm=SHA1&digits=6&period=30");
	assert_int_equal(zt_qr_svg(&svg, uri), ZT_OK);
	assert_true(zt_str_has_prefix(svg, "<svg "));
	/* The top left finder pattern, after the quiet zone. */
	assert_non_null(strstr(svg, "M4 4h7v1h-7z"));
	free(uri);
	free(svg);
}

/* The code of the account's stored secret at `t_ms`. */
static void
code_at(struct fx *f, int64_t t_ms, char out[7])
{
	char hex[64];
	uint8_t secret[20];

	text_of(f, "SELECT secret FROM account_totp", hex, sizeof(hex));
	assert_int_equal(zt_hex_decode(secret, sizeof(secret), hex), ZT_OK);
	assert_int_equal(zt_totp_code(out, 7, secret, sizeof(secret),
	    t_ms / 1000, 6), ZT_OK);
}

static void
test_authn_totp__enroll_confirm_window_reuse(void **state)
{
	struct fx *f = *state;
	char code[7], hex[64];
	json_t *doc;
	zt_login who;
	int64_t wait;

	assert_int_equal(zt_totp_enroll(&doc, &f->cx, "acme", f->acct, NULL),
	    ZT_OK);
	assert_int_equal(strlen(json_string_value(json_object_get(doc,
	    "secret"))), 32);
	assert_true(zt_str_has_prefix(json_string_value(json_object_get(doc,
	    "uri")), "otpauth://totp/acme:Alice%40Example.com?secret="));
	text_of(f, "SELECT secret FROM account_totp", hex, sizeof(hex));
	assert_true(audit_clean(f, hex));
	assert_true(audit_clean(f, json_string_value(json_object_get(doc,
	    "secret"))));
	json_decref(doc);

	/* Pending: not usable for login until confirmed. */
	code_at(f, fake_now, code);
	assert_int_equal(zt_totp_verify(&f->cx, "acme", f->acct, code),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_totp_confirm(&f->cx, "acme", f->acct, "000000"),
	    ZT_EINVAL);
	assert_int_equal(zt_totp_confirm(&f->cx, "acme", f->acct, code),
	    ZT_OK);
	assert_int_equal(zt_totp_confirm(&f->cx, "acme", f->acct, code),
	    ZT_ECONFLICT);
	assert_int_equal(zt_totp_enroll(&doc, &f->cx, "acme", f->acct, NULL),
	    ZT_ECONFLICT);

	/* The confirming code cannot pass again, even in its own step. */
	assert_int_equal(zt_totp_verify(&f->cx, "acme", f->acct, code),
	    ZT_ENOTFOUND);
	/* One step ahead is accepted (clock drift), two are not. */
	code_at(f, fake_now + 60000, code);
	assert_int_equal(zt_totp_verify(&f->cx, "acme", f->acct, code),
	    ZT_ENOTFOUND);
	code_at(f, fake_now + 30000, code);
	assert_int_equal(zt_totp_verify(&f->cx, "acme", f->acct, code),
	    ZT_OK);
	/* A later code may not move back in time either. */
	fake_now += 30000;
	code_at(f, fake_now - 30000, code);
	assert_int_equal(zt_totp_verify(&f->cx, "acme", f->acct, code),
	    ZT_ENOTFOUND);
	fake_now += 30000;
	code_at(f, fake_now - 30000, code);
	assert_int_equal(zt_totp_verify(&f->cx, "acme", f->acct, code),
	    ZT_ENOTFOUND);	/* that step was spent above */
	code_at(f, fake_now, code);
	assert_int_equal(zt_totp_verify(&f->cx, "acme", f->acct, "12345"),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_totp_verify(&f->cx, "acme", f->acct, code),
	    ZT_OK);

	assert_int_equal(set_pw(f, "a-good-long-one"), ZT_OK);
	assert_int_equal(zt_login_password(&who, &f->cx, NULL, "acme",
	    "staff", "alice@example.com", "a-good-long-one", 15, "x",
	    &wait), ZT_OK);
	assert_true(who.totp_active);
	assert_int_equal(zt_totp_delete(&f->cx, "acme", f->acct), ZT_OK);
	assert_int_equal(zt_totp_delete(&f->cx, "acme", f->acct),
	    ZT_ENOTFOUND);
}

static void
test_authn_recovery__each_code_once(void **state)
{
	struct fx *f = *state;
	char first[16], upper[16], stored[80];
	json_t *codes, *again;
	zt_throttle *th;
	int64_t wait;
	size_t i;

	assert_int_equal(zt_recovery_generate(&codes, &f->cx, "acme",
	    f->acct), ZT_OK);
	assert_int_equal(json_array_size(codes), ZT_RECOVERY_CODES);
	snprintf(first, sizeof(first), "%s",
	    json_string_value(json_array_get(codes, 0)));
	assert_int_equal(strlen(first), 11);
	assert_int_equal(first[5], '-');
	for (i = 0; i < json_array_size(codes); i++)
		assert_true(audit_clean(f, json_string_value(json_array_get(
		    codes, i))));
	text_of(f, "SELECT code_hash FROM account_recovery_codes", stored,
	    sizeof(stored));
	assert_int_equal(strlen(stored), 64);

	assert_int_equal(zt_recovery_use(&f->cx, "acme", f->acct, first),
	    ZT_OK);
	assert_int_equal(zt_recovery_use(&f->cx, "acme", f->acct, first),
	    ZT_ENOTFOUND);
	/* Typed in capitals without the dash, the second one works. */
	for (i = 0; i < 11; i++) {
		char c = json_string_value(json_array_get(codes, 1))[i];

		upper[i] = c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
	}
	upper[11] = '\0';
	memmove(upper + 5, upper + 6, 6);
	assert_int_equal(zt_recovery_use(&f->cx, "acme", f->acct, upper),
	    ZT_OK);
	assert_int_equal(zt_recovery_use(&f->cx, "acme", f->acct, "junk"),
	    ZT_ENOTFOUND);

	/* New codes replace the old ones. */
	assert_int_equal(zt_recovery_generate(&again, &f->cx, "acme",
	    f->acct), ZT_OK);
	assert_int_equal(zt_recovery_use(&f->cx, "acme", f->acct,
	    json_string_value(json_array_get(codes, 2))), ZT_ENOTFOUND);

	/* Through the second-factor step, throttled after 5 misses. */
	assert_int_equal(zt_throttle_new(&th, 64), ZT_OK);
	for (i = 0; i < ZT_THROTTLE_FREE; i++)
		assert_int_equal(zt_login_second_factor(&f->cx, th, "acme",
		    f->acct, NULL, "aaaaa-aaaaa", &wait), ZT_ENOTFOUND);
	assert_int_equal(zt_login_second_factor(&f->cx, th, "acme", f->acct,
	    NULL, json_string_value(json_array_get(again, 0)), &wait),
	    ZT_EBUSY);
	fake_now += wait * 1000;
	assert_int_equal(zt_login_second_factor(&f->cx, th, "acme", f->acct,
	    NULL, json_string_value(json_array_get(again, 0)), &wait), ZT_OK);
	zt_throttle_free(th);
	json_decref(codes);
	json_decref(again);
}

/* ---- sessions ------------------------------------------------------------ */

static void
mk_session(struct fx *f, zt_session *s, char tok[ZT_SESSION_TOKEN_LEN + 1])
{
	assert_int_equal(zt_session_create(s, &f->cx, NULL, "acme",
	    &(zt_session_spec){ .account = f->acct, .amr = "pwd otp",
	    .client_addr = "192.0.2.7", .user_agent = "test\x01" "agent" },
	    tok),
	    ZT_OK);
}

static void
test_authn_session__idle_and_absolute_expiry(void **state)
{
	struct fx *f = *state;
	char tok[ZT_SESSION_TOKEN_LEN + 1], tok2[ZT_SESSION_TOKEN_LEN + 1];
	char stored[80];
	zt_session s, got;
	int i;

	mk_session(f, &s, tok);
	assert_string_equal(s.acr, "mfa");
	assert_int_equal(strlen(tok), ZT_SESSION_TOKEN_LEN);
	text_of(f, "SELECT token_hash FROM sessions", stored, sizeof(stored));
	assert_string_not_equal(stored, tok);
	assert_true(audit_clean(f, tok));

	/* Used every 29 minutes, it lives on; unused for 30, it ends. */
	for (i = 0; i < 3; i++) {
		fake_now += 29 * 60 * 1000;
		assert_int_equal(zt_session_lookup(&got, f->db, NULL, "acme",
		    tok), ZT_OK);
		assert_string_equal(got.id, s.id);
		assert_string_equal(got.identity_id, f->ident);
	}
	assert_int_equal(zt_session_lookup(&got, f->db, NULL, "otherco",
	    tok), ZT_ENOTFOUND);
	fake_now += 30 * 60 * 1000;
	assert_int_equal(zt_session_lookup(&got, f->db, NULL, "acme", tok),
	    ZT_ENOTFOUND);

	/* However busy, a session ends 12 hours after the login. */
	mk_session(f, &s, tok2);
	for (i = 0; i < 12 * 3 - 1; i++) {
		fake_now += 20 * 60 * 1000;
		assert_int_equal(zt_session_lookup(&got, f->db, NULL, "acme",
		    tok2), ZT_OK);
	}
	fake_now += 20 * 60 * 1000;
	assert_int_equal(zt_session_lookup(&got, f->db, NULL, "acme", tok2),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_session_lookup(&got, f->db, NULL, "acme",
	    "not-a-token"), ZT_ENOTFOUND);

	/* A shorter configured idle time applies. */
	mk_session(f, &s, tok);
	fake_now += 6 * 60 * 1000;
	assert_int_equal(zt_session_lookup(&got, f->db,
	    &(zt_session_config){ .idle_s = 300 }, "acme", tok),
	    ZT_ENOTFOUND);
}

static void
test_authn_session__list_and_revoke(void **state)
{
	struct fx *f = *state;
	char t1[ZT_SESSION_TOKEN_LEN + 1], t2[ZT_SESSION_TOKEN_LEN + 1];
	char t3[ZT_SESSION_TOKEN_LEN + 1];
	zt_session s1, s2, s3, got;
	json_t *list;
	char *dump;
	int64_t n;

	mk_session(f, &s1, t1);
	fake_now += 1000;
	mk_session(f, &s2, t2);
	fake_now += 1000;
	mk_session(f, &s3, t3);
	assert_int_equal(zt_session_list(&list, &f->cx, "acme", f->ident),
	    ZT_OK);
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 0), "id")), s3.id);	/* newest first */
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 0), "user_agent")), "test?agent");
	dump = json_dumps(list, 0);
	assert_null(strstr(dump, t1));
	free(dump);
	json_decref(list);

	assert_int_equal(zt_session_revoke(&f->cx, "acme", s1.id), ZT_OK);
	assert_int_equal(zt_session_revoke(&f->cx, "acme", s1.id),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_session_lookup(&got, f->db, NULL, "acme", t1),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_session_lookup(&got, f->db, NULL, "acme", t2),
	    ZT_OK);
	assert_int_equal(zt_session_revoke_identity(&f->cx, "acme", f->ident,
	    &n), ZT_OK);
	assert_int_equal(n, 2);
	assert_int_equal(zt_session_lookup(&got, f->db, NULL, "acme", t3),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_session_list(&list, &f->cx, "acme", f->ident),
	    ZT_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(zt_session_list(&list, &f->cx, "acme",
	    "AAAAAAAAAAAAAAAA"), ZT_ENOTFOUND);
}

static void
test_authn_session__csrf_and_cookie(void **state)
{
	struct fx *f = *state;
	char t1[ZT_SESSION_TOKEN_LEN + 1], t2[ZT_SESSION_TOKEN_LEN + 1];
	char tok[ZT_CSRF_LEN + 1], forged[ZT_CSRF_LEN + 1], cookie[256];
	zt_session s1, s2;

	mk_session(f, &s1, t1);
	mk_session(f, &s2, t2);
	zt_csrf_token(tok, &s1, "login");
	assert_true(zt_csrf_verify(&s1, "login", tok));
	assert_false(zt_csrf_verify(&s2, "login", tok));
	assert_false(zt_csrf_verify(&s1, "consent", tok));
	memcpy(forged, tok, sizeof(tok));
	forged[3] = forged[3] == 'A' ? 'B' : 'A';
	assert_false(zt_csrf_verify(&s1, "login", forged));
	assert_false(zt_csrf_verify(&s1, "login", ""));
	assert_false(zt_csrf_verify(&s1, "login", NULL));

	assert_int_equal(zt_session_cookie(cookie, sizeof(cookie), "abc", -1,
	    false), ZT_OK);
	assert_string_equal(cookie, "ztiam_session=abc; Path=/; HttpOnly; "
	    "SameSite=Lax");
	assert_int_equal(zt_session_cookie(cookie, sizeof(cookie), "abc", 60,
	    true), ZT_OK);
	assert_string_equal(cookie, "__Host-ztiam_session=abc; Path=/; "
	    "HttpOnly; SameSite=Lax; Secure; Max-Age=60");
	assert_int_equal(zt_session_cookie(cookie, 10, "abc", -1, true),
	    ZT_ETOOBIG);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_authn_password__hash_verify_rehash),
		T(test_authn_password__policy_rules),
		T(test_authn_password__set_history_audit),
		T(test_authn_login__password_generic_failures_and_rehash),
		T(test_authn_login__throttled_alike_for_known_and_unknown),
		T(test_authn_throttle__backoff_lock_and_bounded_table),
		T(test_authn_throttle__shared_on_postgres),
		T(test_authn_totp__rfc6238_sha1_vectors),
		T(test_authn_totp__uri_and_qr),
		T(test_authn_totp__enroll_confirm_window_reuse),
		T(test_authn_recovery__each_code_once),
		T(test_authn_session__idle_and_absolute_expiry),
		T(test_authn_session__list_and_revoke),
		T(test_authn_session__csrf_and_cookie),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
