/*
 * migrate.c: schema migrations for every module, on either driver.
 *
 * Each module lists its schema changes as steps numbered 1, 2, 3 ...
 * zt_store_migrate() applies the steps a database lacks, in order, inside
 * one transaction, and records each one in schema_migrations; when a step
 * fails nothing at all is applied, so a database is never left between two
 * versions.  Servers that start together are serialised before anything is
 * read: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by
 * the write lock that BEGIN IMMEDIATE takes.
 *
 * Only the steps of the sets given are considered.  Rows for versions past
 * the end of a set (a newer server ran here before) are left alone.
 *
 * This file uses the public interface only, like any other module would.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "store/store.h"

/* Key of the advisory lock all ztiam processes take to migrate: an
 * arbitrary constant, the ASCII bytes of "ztiam-mg". */
#define MIGRATE_LOCK_KEY INT64_C(0x7a7469616d2d6d67)

/* A migration's error message: the step plus the driver's message. */
#define MSG_MAX 512

static const char create_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " module TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL,"
    " PRIMARY KEY (module, version))";

static const char applied_sql[] =
    "SELECT 1 FROM schema_migrations WHERE module = $1 AND version = $2";

static const char record_sql[] =
    "INSERT INTO schema_migrations (module, version, name, applied_at) "
    "VALUES ($1, $2, $3, $4)";

static const char count_sql[] =
    "SELECT COUNT(*) FROM schema_migrations "
    "WHERE module = $1 AND version BETWEEN 1 AND $2";

/* ---- checking the sets ------------------------------------------------ */

/* Versions must be exactly 1..count in order: a gap or a swap is a typo in
 * the code, and applying around it would give databases different
 * histories. */
static int
check_set(const zt_migration_set *set)
{
	size_t i;

	if (set->module == NULL || set->module[0] == '\0')
		return zt_error_set(ZT_EINVAL, "migration set without a "
		    "module name");
	if (set->count > 0 && set->steps == NULL)
		return zt_error_set(ZT_EINVAL, "migration %s: no steps",
		    set->module);
	for (i = 0; i < set->count; i++) {
		const zt_migration *m = &set->steps[i];

		if (m->version < 0 || (size_t)m->version != i + 1)
			return zt_error_set(ZT_EINVAL, "migration %s: step "
			    "%zu has version %d; versions must be 1..%zu in "
			    "order", set->module, i + 1, m->version,
			    set->count);
		if (m->name == NULL || m->sql == NULL)
			return zt_error_set(ZT_EINVAL, "migration %s/%d: "
			    "missing name or SQL", set->module, m->version);
	}
	return ZT_OK;
}

static int
check_sets(const zt_migration_set *const *sets, size_t n)
{
	size_t i, j;
	int rc;

	for (i = 0; i < n; i++) {
		if (sets[i] == NULL)
			return zt_error_set(ZT_EINVAL, "migration set %zu is "
			    "NULL", i);
		if ((rc = check_set(sets[i])) != ZT_OK)
			return rc;
		for (j = 0; j < i; j++) {
			if (strcmp(sets[i]->module, sets[j]->module) == 0)
				return zt_error_set(ZT_EINVAL, "migration %s: "
				    "module listed twice", sets[i]->module);
		}
	}
	return ZT_OK;
}

/* ---- applying --------------------------------------------------------- */

static int
lock_and_create(zt_db *db)
{
	char sql[64];
	int rc;

	if (zt_db_driver(db) == ZT_DB_POSTGRES) {
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%"
		    PRId64 ")", MIGRATE_LOCK_KEY);
		if ((rc = zt_db_exec(db, sql)) != ZT_OK)
			return rc;
	}
	return zt_db_exec(db, create_sql);
}

static int
is_applied(bool *out, zt_db *db, const char *module, int version)
{
	zt_stmt *st;
	int rc;

	*out = false;
	if ((rc = zt_db_prepare(&st, db, applied_sql)) != ZT_OK ||
	    (rc = zt_stmt_bind_text(st, 1, module)) != ZT_OK ||
	    (rc = zt_stmt_bind_int(st, 2, version)) != ZT_OK)
		return rc;
	if ((rc = zt_stmt_step(st)) < 0)
		return rc;
	*out = rc == ZT_ROW;
	zt_stmt_reset(st);
	return ZT_OK;
}

static int
record(zt_db *db, const char *module, const zt_migration *m)
{
	zt_stmt *st;
	int rc;

	if ((rc = zt_db_prepare(&st, db, record_sql)) != ZT_OK ||
	    (rc = zt_stmt_bind_text(st, 1, module)) != ZT_OK ||
	    (rc = zt_stmt_bind_int(st, 2, m->version)) != ZT_OK ||
	    (rc = zt_stmt_bind_text(st, 3, m->name)) != ZT_OK ||
	    (rc = zt_stmt_bind_int(st, 4, zt_now_ms())) != ZT_OK)
		return rc;
	rc = zt_stmt_step(st);
	zt_stmt_reset(st);
	return rc < 0 ? rc : ZT_OK;
}

/* Puts the failing step in front of the driver's message. */
static int
step_error(int rc, const char *module, const zt_migration *m)
{
	char cause[MSG_MAX];

	snprintf(cause, sizeof(cause), "%s", zt_error_msg());
	return zt_error_set(rc, "migration %s/%d (%s) failed: %s", module,
	    m->version, m->name, cause);
}

static int
apply_step(zt_db *db, const char *module, const zt_migration *m)
{
	const char *sql = m->sql;
	int rc;

	if (zt_db_driver(db) == ZT_DB_POSTGRES && m->sql_pg != NULL)
		sql = m->sql_pg;
	log_info("store: applying migration", ZS("module", module),
	    ZI("version", m->version), ZS("name", m->name));
	if ((rc = zt_db_exec(db, sql)) != ZT_OK ||
	    (rc = record(db, module, m)) != ZT_OK)
		return step_error(rc, module, m);
	return ZT_OK;
}

static int
apply_set(zt_db *db, const zt_migration_set *set, int *applied)
{
	size_t i;
	bool done;
	int rc;

	for (i = 0; i < set->count; i++) {
		const zt_migration *m = &set->steps[i];

		if ((rc = is_applied(&done, db, set->module, m->version)) !=
		    ZT_OK)
			return step_error(rc, set->module, m);
		if (done)
			continue;
		if ((rc = apply_step(db, set->module, m)) != ZT_OK)
			return rc;
		(*applied)++;
	}
	return ZT_OK;
}

int
zt_store_migrate(zt_db *db, const zt_migration_set *const *sets, size_t n)
{
	char msg[MSG_MAX];
	int applied = 0;
	size_t i;
	int rc;

	if ((rc = check_sets(sets, n)) != ZT_OK)
		return rc;
	if (zt_db_in_tx(db))
		return zt_error_set(ZT_EINVAL, "migrations need their own "
		    "transaction; one is open");

	if ((rc = zt_db_begin(db)) != ZT_OK)
		return rc;
	if ((rc = lock_and_create(db)) != ZT_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((rc = apply_set(db, sets[i], &applied)) != ZT_OK)
			goto fail;
	}
	if ((rc = zt_db_commit(db)) != ZT_OK)
		goto fail;
	if (applied > 0)
		log_info("store: migrations committed", ZI("steps", applied));
	return ZT_OK;

fail:
	/* The rollback may set a message of its own; keep the cause. */
	snprintf(msg, sizeof(msg), "%s", zt_error_msg());
	(void)zt_db_rollback(db);
	return zt_error_set(rc, "%s", msg);
}

/* ---- checking --------------------------------------------------------- */

/* Asks the catalog rather than the table, so that a database never
 * migrated answers false without a failed statement (which on PostgreSQL
 * would spoil a transaction the caller holds). */
static bool
table_exists(zt_db *db)
{
	const char *sql = zt_db_driver(db) == ZT_DB_POSTGRES ?
	    "SELECT 1 WHERE to_regclass('schema_migrations') IS NOT NULL" :
	    "SELECT 1 FROM sqlite_master WHERE type = 'table' "
	    "AND name = 'schema_migrations'";
	zt_stmt *st;
	int rc;

	if (zt_db_prepare(&st, db, sql) != ZT_OK)
		return false;
	rc = zt_stmt_step(st);
	zt_stmt_reset(st);
	return rc == ZT_ROW;
}

static bool
set_complete(zt_db *db, const zt_migration_set *set)
{
	zt_stmt *st;
	bool ok;

	if (zt_db_prepare(&st, db, count_sql) != ZT_OK ||
	    zt_stmt_bind_text(st, 1, set->module) != ZT_OK ||
	    zt_stmt_bind_int(st, 2, (int64_t)set->count) != ZT_OK)
		return false;
	ok = zt_stmt_step(st) == ZT_ROW &&
	    zt_stmt_int(st, 0) == (int64_t)set->count;
	zt_stmt_reset(st);
	return ok;
}

/* Sets without steps are complete even where nothing was ever migrated. */
bool
zt_store_migrated(zt_db *db, const zt_migration_set *const *sets, size_t n)
{
	bool have_table = false;
	size_t i;

	if (check_sets(sets, n) != ZT_OK)
		return false;
	for (i = 0; i < n; i++) {
		if (sets[i]->count == 0)
			continue;
		if (!have_table && !(have_table = table_exists(db)))
			return false;
		if (!set_complete(db, sets[i]))
			return false;
	}
	return true;
}
