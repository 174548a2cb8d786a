/*
 * Tests of audit/ and authn/ against a real database: SQLite in a temporary
 * file by default, or the PostgreSQL named by ZTIAM_TEST_DB (meson runs
 * both).  Covers the hash chain and each way of breaking it, and the API
 * token rules: hashing, expiry, revocation, tenant scope, bootstrap once.
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
#include "store/store.h"
#include "testdb.h"

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_authn_migrations,
};

static int
setup(void **state)
{
	zt_db *db;

	if ((db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL)
		return -1;
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	testdb_close(*state);
	return 0;
}

static void
append_n(zt_db *db, int n)
{
	zt_actor actor = { "token:test", NULL, "req-1" };
	char target[32];
	json_t *after;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(target, sizeof(target), "thing:%d", i);
		after = json_pack("{s:i, s:s}", "n", i, "name", "x");
		assert_int_equal(zt_db_begin(db), ZT_OK);
		assert_int_equal(zt_audit_append(db, &actor, &(zt_audit_entry){
		    .action = "thing.create", .tenant = i % 2 ? "acme" : NULL,
		    .target = target, .after = after }), ZT_OK);
		assert_int_equal(zt_db_commit(db), ZT_OK);
		json_decref(after);
	}
}

static void
expect_broken_at(zt_db *db, int64_t seq)
{
	zt_audit_report rep;

	assert_int_equal(zt_audit_verify(db, &rep), ZT_ECONFLICT);
	assert_int_equal(rep.first_bad, seq);
	assert_true(rep.reason[0] != '\0');
}

static void
test_audit_chain__intact(void **state)
{
	zt_audit_report rep;

	append_n(*state, 5);
	assert_int_equal(zt_audit_verify(*state, &rep), ZT_OK);
	assert_int_equal(rep.records, 5);
	assert_int_equal(rep.first_bad, 0);
}

static void
test_audit_chain__append_needs_tx(void **state)
{
	assert_int_equal(zt_audit_append(*state, NULL, &(zt_audit_entry){
	    .action = "x", .target = "y" }), ZT_ERR);
}

static void
test_audit_chain__rolled_back_append_leaves_no_trace(void **state)
{
	zt_db *db = *state;
	zt_audit_report rep;

	append_n(db, 2);
	assert_int_equal(zt_db_begin(db), ZT_OK);
	assert_int_equal(zt_audit_append(db, NULL, &(zt_audit_entry){
	    .action = "x", .target = "y" }), ZT_OK);
	assert_int_equal(zt_db_rollback(db), ZT_OK);
	append_n(db, 1);
	assert_int_equal(zt_audit_verify(db, &rep), ZT_OK);
	assert_int_equal(rep.records, 3);
}

static void
test_audit_chain__edit_detected(void **state)
{
	append_n(*state, 5);
	assert_int_equal(zt_db_exec(*state, "UPDATE audit_log SET summary ="
	    " '{\"after\":{\"n\":99}}' WHERE seq = 3"), ZT_OK);
	expect_broken_at(*state, 3);
}

static void
test_audit_chain__delete_detected(void **state)
{
	append_n(*state, 5);
	assert_int_equal(zt_db_exec(*state,
	    "DELETE FROM audit_log WHERE seq = 2"), ZT_OK);
	expect_broken_at(*state, 2);
}

static void
test_audit_chain__renumbered_delete_detected(void **state)
{
	/* Delete record 2 and shift the rest down to hide the gap. */
	append_n(*state, 4);
	assert_int_equal(zt_db_exec(*state,
	    "DELETE FROM audit_log WHERE seq = 2;"
	    "UPDATE audit_log SET seq = 2 WHERE seq = 3;"
	    "UPDATE audit_log SET seq = 3 WHERE seq = 4;"), ZT_OK);
	expect_broken_at(*state, 2);
}

static void
test_audit_chain__reorder_detected(void **state)
{
	append_n(*state, 4);
	assert_int_equal(zt_db_exec(*state,
	    "UPDATE audit_log SET seq = 100 WHERE seq = 2;"
	    "UPDATE audit_log SET seq = 2 WHERE seq = 3;"
	    "UPDATE audit_log SET seq = 3 WHERE seq = 100;"), ZT_OK);
	expect_broken_at(*state, 2);
}

static void
test_audit_chain__truncation_detected(void **state)
{
	append_n(*state, 4);
	assert_int_equal(zt_db_exec(*state,
	    "DELETE FROM audit_log WHERE seq = 4"), ZT_OK);
	expect_broken_at(*state, 4);
}

static void
test_audit_chain__list_by_tenant(void **state)
{
	json_t *items;
	int64_t next;

	append_n(*state, 6);
	assert_int_equal(zt_audit_list(*state, "acme", NULL, 0, 100, &items,
	    &next), ZT_OK);
	assert_int_equal(json_array_size(items), 3);
	assert_int_equal(next, 6);
	json_decref(items);
	assert_int_equal(zt_audit_list(*state, NULL, NULL, 2, 2, &items,
	    &next), ZT_OK);
	assert_int_equal(json_array_size(items), 2);
	assert_int_equal(next, 4);
	json_decref(items);
	assert_int_equal(zt_audit_list(*state, "acme", "token:other", 0, 100,
	    &items, &next), ZT_OK);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
	assert_int_equal(zt_audit_list(*state, "acme", "token:test", 0, 100,
	    &items, &next), ZT_OK);
	assert_int_equal(json_array_size(items), 3);
	json_decref(items);
}

static void
test_authn_token__create_verify_revoke(void **state)
{
	char secret[ZT_TOKEN_LEN + 1];
	zt_actor actor = { "system", NULL, NULL };
	zt_principal root, p;
	json_t *info;
	const char *id;

	zt_principal_system(&root);
	assert_int_equal(zt_token_create(*state, &actor, &root,
	    &(zt_token_spec){ .name = "ci", .tenant = "acme" }, secret, &info),
	    ZT_OK);
	assert_int_equal(strlen(secret), ZT_TOKEN_LEN);
	assert_null(json_object_get(info, "token"));
	id = json_string_value(json_object_get(info, "id"));

	assert_int_equal(zt_token_verify(*state, secret, &p), ZT_OK);
	assert_false(p.system);
	assert_string_equal(p.tenant, "acme");
	assert_string_equal(p.token_id, id);

	/* One character off, wrong prefix, junk: all the same answer. */
	secret[10] ^= 1;
	assert_int_equal(zt_token_verify(*state, secret, &p), ZT_ENOTFOUND);
	secret[10] ^= 1;
	assert_int_equal(zt_token_verify(*state, "ztiam_short", &p),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_token_verify(*state, "' OR 1=1 --", &p),
	    ZT_ENOTFOUND);

	assert_int_equal(zt_token_revoke(*state, &actor, &root, id), ZT_OK);
	assert_int_equal(zt_token_verify(*state, secret, &p), ZT_ENOTFOUND);
	json_decref(info);
}

static void
test_authn_token__stored_only_as_hash(void **state)
{
	char secret[ZT_TOKEN_LEN + 1];
	zt_principal root;
	zt_stmt *st;
	json_t *info;

	zt_principal_system(&root);
	assert_int_equal(zt_token_create(*state, NULL, &root,
	    &(zt_token_spec){ .name = "x" }, secret, &info), ZT_OK);
	assert_int_equal(zt_db_prepare(&st, *state,
	    "SELECT hash FROM api_tokens"), ZT_OK);
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	assert_null(strstr(zt_stmt_text(st, 0), secret + 6));
	assert_int_equal(strlen(zt_stmt_text(st, 0)), 64);
	zt_stmt_reset(st);
	json_decref(info);
}

static void
test_authn_token__expiry(void **state)
{
	char secret[ZT_TOKEN_LEN + 1];
	zt_principal root, p;
	json_t *info;

	zt_principal_system(&root);
	assert_int_equal(zt_token_create(*state, NULL, &root,
	    &(zt_token_spec){ .name = "short", .ttl_s = 60 }, secret, &info),
	    ZT_OK);
	assert_int_equal(zt_token_verify(*state, secret, &p), ZT_OK);
	assert_true(p.system);
	assert_int_equal(zt_db_exec(*state, "UPDATE api_tokens SET"
	    " expires_at = 1"), ZT_OK);
	assert_int_equal(zt_token_verify(*state, secret, &p), ZT_ENOTFOUND);
	json_decref(info);
}

static void
test_authn_token__tenant_scope(void **state)
{
	char secret[ZT_TOKEN_LEN + 1];
	zt_principal root, acme, other;
	json_t *info, *list, *doc;
	const char *id;

	zt_principal_system(&root);
	memset(&acme, 0, sizeof(acme));
	snprintf(acme.tenant, sizeof(acme.tenant), "acme");
	memset(&other, 0, sizeof(other));
	snprintf(other.tenant, sizeof(other.tenant), "other");

	/* A tenant may not mint system tokens; other tenants do not exist
	 * for it. */
	assert_int_equal(zt_token_create(*state, NULL, &acme,
	    &(zt_token_spec){ .name = "x" }, secret, &info), ZT_EFORBIDDEN);
	assert_int_equal(zt_token_create(*state, NULL, &acme,
	    &(zt_token_spec){ .name = "x", .tenant = "other" }, secret,
	    &info), ZT_ENOTFOUND);
	assert_int_equal(zt_token_create(*state, NULL, &acme,
	    &(zt_token_spec){ .name = "x", .tenant = "acme" }, secret, &info),
	    ZT_OK);
	id = json_string_value(json_object_get(info, "id"));

	/* Another tenant sees nothing: not found, not forbidden. */
	assert_int_equal(zt_token_get(*state, &other, id, &doc), ZT_ENOTFOUND);
	assert_int_equal(zt_token_revoke(*state, NULL, &other, id),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_token_list(*state, &other, &list), ZT_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(zt_token_list(*state, &root, &list), ZT_OK);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(zt_token_get(*state, &acme, id, &doc), ZT_OK);
	json_decref(doc);
	json_decref(info);
}

static void
test_authn_token__bad_specs(void **state)
{
	char secret[ZT_TOKEN_LEN + 1];
	zt_principal root;
	json_t *info;

	zt_principal_system(&root);
	assert_int_equal(zt_token_create(*state, NULL, &root,
	    &(zt_token_spec){ .name = "" }, secret, &info), ZT_EINVAL);
	assert_int_equal(zt_token_create(*state, NULL, &root,
	    &(zt_token_spec){ .name = "x", .tenant = "Bad Tenant" }, secret,
	    &info), ZT_EINVAL);
	assert_int_equal(zt_token_create(*state, NULL, &root,
	    &(zt_token_spec){ .name = "x", .ttl_s = -1 }, secret, &info),
	    ZT_EINVAL);
}

static void
test_authn_bootstrap__once(void **state)
{
	char secret[ZT_TOKEN_LEN + 1], again[ZT_TOKEN_LEN + 1];
	zt_audit_report rep;
	zt_principal p;
	bool created;

	assert_int_equal(zt_bootstrap(*state, secret, &created), ZT_OK);
	assert_true(created);
	assert_int_equal(zt_token_verify(*state, secret, &p), ZT_OK);
	assert_true(p.system);
	assert_int_equal(zt_bootstrap(*state, again, &created), ZT_OK);
	assert_false(created);
	assert_int_equal(zt_audit_verify(*state, &rep), ZT_OK);
	assert_int_equal(rep.records, 1);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_audit_chain__intact),
		T(test_audit_chain__append_needs_tx),
		T(test_audit_chain__rolled_back_append_leaves_no_trace),
		T(test_audit_chain__edit_detected),
		T(test_audit_chain__delete_detected),
		T(test_audit_chain__renumbered_delete_detected),
		T(test_audit_chain__reorder_detected),
		T(test_audit_chain__truncation_detected),
		T(test_audit_chain__list_by_tenant),
		T(test_authn_token__create_verify_revoke),
		T(test_authn_token__stored_only_as_hash),
		T(test_authn_token__expiry),
		T(test_authn_token__tenant_scope),
		T(test_authn_token__bad_specs),
		T(test_authn_bootstrap__once),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
