/*
 * test_store.c: the store module against a real database.
 *
 * The same cases run on both drivers.  The database comes from the
 * environment: ZTIAM_TEST_DB unset, empty or "sqlite:" means a new SQLite
 * file in a temporary directory made here and removed at the end; any
 * other value is used as it is (with-postgres.sh sets a postgres:// URL).
 * Every case first drops the tables the suite uses, so a database may be
 * shared between runs.  A few cases check what only one driver does (the
 * PostgreSQL text of a migration, a connection killed by the server); they
 * ask zt_db_driver() rather than being compiled apart.
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

#include "base/base.h"
#include "store/store.h"

/* A password the connection tests put in URLs; no message may show it. */
#define SECRET "Sup3rS3cretPw"

static char url[4096];		/* the database every case opens */
static char tmpdir[256];	/* made here for SQLite, or empty */

/* ---- helpers ---------------------------------------------------------- */

/* Asserts ZT_OK, printing the store's message when it is not. */
#define must(expr) do {							\
	int must_rc_ = (expr);						\
	if (must_rc_ != ZT_OK)						\
		print_error("%s: %d %s\n", #expr, must_rc_,		\
		    zt_error_msg());					\
	assert_int_equal(must_rc_, ZT_OK);				\
} while (0)

static const char *const tables[] = {
	"store_t", "mig_a", "mig_b", "mig_c", "mig_d", "mig_lite", "mig_pg",
	"mig_f1", "mig_f2", "schema_migrations",
};

static bool
is_pg(const zt_db *db)
{
	return zt_db_driver(db) == ZT_DB_POSTGRES;
}

static zt_db *
open_db(void)
{
	zt_db *db = NULL;

	must(zt_db_open(&db, url));
	assert_non_null(db);
	return db;
}

static void
drop_tables(zt_db *db)
{
	char sql[128];
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(tables); i++) {
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s",
		    tables[i]);
		must(zt_db_exec(db, sql));
	}
}

static void
create_table(zt_db *db)
{
	must(zt_db_exec(db, is_pg(db) ?
	    "CREATE TABLE store_t (k TEXT PRIMARY KEY, t TEXT, i BIGINT, "
	    "b BYTEA)" :
	    "CREATE TABLE store_t (k TEXT PRIMARY KEY, t TEXT, i BIGINT, "
	    "b BLOB)"));
}

static int
insert(zt_db *db, const char *k, int64_t i)
{
	zt_stmt *st;
	int rc;

	must(zt_db_prepare(&st, db,
	    "INSERT INTO store_t (k, i) VALUES ($1, $2)"));
	must(zt_stmt_bind_text(st, 1, k));
	must(zt_stmt_bind_int(st, 2, i));
	rc = zt_stmt_step(st);
	zt_stmt_reset(st);
	return rc;
}

static int64_t
count_rows(zt_db *db)
{
	zt_stmt *st;
	int64_t n;

	must(zt_db_prepare(&st, db, "SELECT COUNT(*) FROM store_t"));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	n = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return n;
}

static bool
has_key(zt_db *db, const char *k)
{
	zt_stmt *st;
	int rc;

	must(zt_db_prepare(&st, db, "SELECT k FROM store_t WHERE k = $1"));
	must(zt_stmt_bind_text(st, 1, k));
	rc = zt_stmt_step(st);
	assert_true(rc == ZT_ROW || rc == ZT_DONE);
	zt_stmt_reset(st);
	return rc == ZT_ROW;
}

/* True when `name` can be read: the table exists. */
static bool
table_usable(zt_db *db, const char *name)
{
	char sql[128];
	zt_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", name);
	if (zt_db_prepare(&st, db, sql) != ZT_OK)
		return false;
	rc = zt_stmt_step(st);
	zt_stmt_reset(st);
	return rc == ZT_ROW;
}

static int64_t
migration_rows(zt_db *db, const char *module)
{
	zt_stmt *st;
	int64_t n;

	must(zt_db_prepare(&st, db,
	    "SELECT COUNT(*) FROM schema_migrations WHERE module = $1"));
	must(zt_stmt_bind_text(st, 1, module));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	n = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return n;
}

static int
setup(void **state)
{
	zt_db *db = open_db();

	drop_tables(db);
	create_table(db);
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	zt_db *db = *state;

	assert_false(zt_db_in_tx(db));
	zt_db_close(db);
	return 0;
}

/* ---- connections ------------------------------------------------------ */

static const char *
pragma(char *out, size_t n, zt_db *db, const char *sql)
{
	zt_stmt *st;

	must(zt_db_prepare(&st, db, sql));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	snprintf(out, n, "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	return out;
}

static void
test_store__open_close(void **state)
{
	zt_db *db = *state, *db2;
	char buf[32];

	if (is_pg(db)) {
		assert_string_equal(zt_db_driver_name(db), "postgres");
	} else {
		assert_string_equal(zt_db_driver_name(db), "sqlite");
		/* the durability and locking settings of sqlite.c */
		assert_string_equal(pragma(buf, sizeof(buf), db,
		    "PRAGMA journal_mode"), "wal");
		assert_string_equal(pragma(buf, sizeof(buf), db,
		    "PRAGMA synchronous"), "2");
		assert_string_equal(pragma(buf, sizeof(buf), db,
		    "PRAGMA foreign_keys"), "1");
		assert_string_equal(pragma(buf, sizeof(buf), db,
		    "PRAGMA busy_timeout"), "5000");
	}
	db2 = open_db();
	assert_int_equal(zt_db_driver(db2), zt_db_driver(db));
	zt_db_close(db2);
	zt_db_close(NULL);
}

static void
test_store__exec(void **state)
{
	zt_db *db = *state;

	must(zt_db_exec(db, "INSERT INTO store_t (k, i) VALUES ('a', 1); "
	    "INSERT INTO store_t (k, i) VALUES ('b', 2)"));
	assert_int_equal(count_rows(db), 2);
	assert_int_equal(zt_db_exec(db, "INSERT INTO nosuch VALUES (1)"),
	    ZT_ERR);
	assert_true(strlen(zt_error_msg()) > 0);
	assert_int_equal(zt_db_exec(db, "SELEC 1"), ZT_ERR);
}

/* ---- statements ------------------------------------------------------- */

static void
test_store__placeholders(void **state)
{
	zt_db *db = *state;
	zt_stmt *st;

	/* '$1' in literals, a quoted name and comments stays as written;
	 * numbers may repeat and come in any order. */
	must(zt_db_prepare(&st, db,
	    "SELECT '$1', $2 AS \"a$1\", 'it''s $2', $1 /* $3 */ -- $4\n"
	    ", $2 || '$1'"));
	must(zt_stmt_bind_text(st, 1, "one"));
	must(zt_stmt_bind_text(st, 2, "two"));
	assert_int_equal(zt_stmt_columns(st), 5);
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	assert_string_equal(zt_stmt_text(st, 0), "$1");
	assert_string_equal(zt_stmt_text(st, 1), "two");
	assert_string_equal(zt_stmt_text(st, 2), "it's $2");
	assert_string_equal(zt_stmt_text(st, 3), "one");
	assert_string_equal(zt_stmt_text(st, 4), "two$1");
	assert_int_equal(zt_stmt_step(st), ZT_DONE);

	/* an index outside the statement's parameters */
	assert_int_equal(zt_stmt_bind_text(st, 3, "x"), ZT_EINVAL);
	assert_int_equal(zt_stmt_bind_int(st, 0, 1), ZT_EINVAL);
	zt_stmt_reset(st);

	/* one statement per prepare; zt_db_exec runs several */
	assert_true(zt_db_prepare(&st, db, "SELECT 1; SELECT 2") < 0);
}

static void
test_store__bind_types(void **state)
{
	static const char meta[] = "x'; DROP TABLE store_t; -- \"$1\" \\ %s";
	static const char utf8[] = "z\xc3\xa9ro \xe2\x9c\x93 "
	    "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91";
	zt_db *db = *state;
	unsigned char blob[256 + 5] = { 0, 0, 'a', 'b', 0 };
	const char *sql = "INSERT INTO store_t (k, t, i, b) "
	    "VALUES ($1, $2, $3, $4)";
	const void *p;
	zt_stmt *st;
	size_t n, i;

	for (i = 0; i < 256; i++)
		blob[5 + i] = (unsigned char)i;

	must(zt_db_prepare(&st, db, sql));
	must(zt_stmt_bind_text(st, 1, "full"));
	must(zt_stmt_bind_text(st, 2, meta));
	must(zt_stmt_bind_int(st, 3, INT64_MIN));
	must(zt_stmt_bind_blob(st, 4, blob, sizeof(blob)));
	assert_int_equal(zt_stmt_step(st), ZT_DONE);
	assert_int_equal(zt_stmt_changes(st), 1);

	must(zt_db_prepare(&st, db, sql));
	must(zt_stmt_bind_text(st, 1, utf8));
	must(zt_stmt_bind_text(st, 2, utf8));
	must(zt_stmt_bind_int(st, 3, INT64_MAX));
	must(zt_stmt_bind_blob(st, 4, NULL, 0));
	assert_int_equal(zt_stmt_step(st), ZT_DONE);

	must(zt_db_prepare(&st, db, sql));
	must(zt_stmt_bind_text(st, 1, "nulls"));
	must(zt_stmt_bind_null(st, 2));
	must(zt_stmt_bind_text(st, 3, NULL));
	must(zt_stmt_bind_null(st, 4));
	assert_int_equal(zt_stmt_step(st), ZT_DONE);

	must(zt_db_prepare(&st, db,
	    "SELECT k, t, i, b FROM store_t WHERE k = $1"));
	must(zt_stmt_bind_text(st, 1, "full"));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	assert_string_equal(zt_stmt_text(st, 1), meta);
	assert_true(zt_stmt_int(st, 2) == INT64_MIN);
	p = zt_stmt_blob(st, 3, &n);
	assert_int_equal(n, sizeof(blob));
	assert_memory_equal(p, blob, sizeof(blob));
	/* a second read of the same column gives the same bytes */
	assert_ptr_equal(zt_stmt_blob(st, 3, &n), p);
	assert_int_equal(zt_stmt_step(st), ZT_DONE);
	assert_true(table_usable(db, "store_t"));

	must(zt_stmt_bind_text(st, 1, utf8));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	assert_string_equal(zt_stmt_text(st, 0), utf8);
	assert_string_equal(zt_stmt_text(st, 1), utf8);
	assert_true(zt_stmt_int(st, 2) == INT64_MAX);
	assert_false(zt_stmt_is_null(st, 3));
	assert_non_null(zt_stmt_blob(st, 3, &n));
	assert_int_equal(n, 0);
	zt_stmt_reset(st);

	must(zt_stmt_bind_text(st, 1, "nulls"));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	for (i = 1; i <= 3; i++)
		assert_true(zt_stmt_is_null(st, (int)i));
	assert_null(zt_stmt_text(st, 1));
	assert_int_equal(zt_stmt_int(st, 2), 0);
	assert_null(zt_stmt_blob(st, 3, &n));
	assert_int_equal(n, 0);
	/* outside the row: NULL, not a crash */
	assert_null(zt_stmt_text(st, 4));
	assert_null(zt_stmt_text(st, -1));
	zt_stmt_reset(st);
	assert_null(zt_stmt_text(st, 0));
}

static void
test_store__rows(void **state)
{
	zt_db *db = *state;
	zt_stmt *st;
	int64_t i;

	for (i = 1; i <= 5; i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%d", (int)i);
		must(insert(db, k, i));
	}
	must(zt_db_prepare(&st, db,
	    "SELECT k, i FROM store_t WHERE i >= $1 ORDER BY i"));
	assert_int_equal(zt_stmt_columns(st), 2);
	must(zt_stmt_bind_int(st, 1, 2));
	for (i = 2; i <= 5; i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%d", (int)i);
		assert_int_equal(zt_stmt_step(st), ZT_ROW);
		assert_string_equal(zt_stmt_text(st, 0), k);
		assert_int_equal(zt_stmt_int(st, 1), i);
		/* a bound statement with rows pending takes no new value */
		assert_int_equal(zt_stmt_bind_int(st, 1, 9), ZT_EINVAL);
	}
	assert_int_equal(zt_stmt_step(st), ZT_DONE);

	/* ZT_DONE put the cursor back: the next step runs it again, with
	 * the same binding */
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	assert_int_equal(zt_stmt_int(st, 1), 2);
	zt_stmt_reset(st);
}

static void
test_store__changes(void **state)
{
	zt_db *db = *state;
	zt_stmt *st;

	must(insert(db, "a", 1));
	must(insert(db, "b", 2));
	must(insert(db, "c", 3));

	must(zt_db_prepare(&st, db, "UPDATE store_t SET t = 'x' "
	    "WHERE i >= $1"));
	must(zt_stmt_bind_int(st, 1, 2));
	assert_int_equal(zt_stmt_step(st), ZT_DONE);
	assert_int_equal(zt_stmt_changes(st), 2);

	must(zt_db_prepare(&st, db, "SELECT k FROM store_t"));
	while (zt_stmt_step(st) == ZT_ROW)
		;
	assert_int_equal(zt_stmt_changes(st), 0);

	must(zt_db_prepare(&st, db, "DELETE FROM store_t"));
	assert_int_equal(zt_stmt_step(st), ZT_DONE);
	assert_int_equal(zt_stmt_changes(st), 3);
}

static void
test_store__cache(void **state)
{
	const char *sql = "SELECT k FROM store_t WHERE k = $1";
	zt_db *db = *state;
	zt_stmt *a, *b;
	char other[64];

	must(insert(db, "a", 1));
	must(zt_db_prepare(&a, db, sql));
	must(zt_stmt_bind_text(a, 1, "a"));
	assert_int_equal(zt_stmt_step(a), ZT_ROW);

	/* the same statement, reset and without its binding */
	must(zt_db_prepare(&b, db, sql));
	assert_ptr_equal(a, b);
	assert_null(zt_stmt_text(b, 0));
	assert_int_equal(zt_stmt_step(b), ZT_DONE);

	/* equal text in another buffer finds it too; other text does not */
	snprintf(other, sizeof(other), "%s", sql);
	must(zt_db_prepare(&b, db, other));
	assert_ptr_equal(a, b);
	must(zt_db_prepare(&b, db, "SELECT t FROM store_t WHERE k = $1"));
	assert_ptr_not_equal(a, b);
}

static void
test_store__unique(void **state)
{
	zt_db *db = *state;

	must(insert(db, "key-" SECRET, 1));
	assert_int_equal(insert(db, "key-" SECRET, 2), ZT_EEXISTS);
	/* the message names the constraint, never the value */
	assert_null(strstr(zt_error_msg(), SECRET));
	assert_int_equal(count_rows(db), 1);
	/* the statement is usable again after the failure */
	must(insert(db, "other", 3));
}

/* ---- transactions ----------------------------------------------------- */

static void
test_store__transactions(void **state)
{
	zt_db *db = *state;

	assert_false(zt_db_in_tx(db));
	assert_int_equal(zt_db_commit(db), ZT_EINVAL);
	must(zt_db_rollback(db));

	must(zt_db_begin(db));
	assert_true(zt_db_in_tx(db));
	assert_int_equal(zt_db_begin(db), ZT_EINVAL);
	must(insert(db, "gone", 1));
	must(zt_db_rollback(db));
	assert_false(zt_db_in_tx(db));
	assert_false(has_key(db, "gone"));

	must(zt_db_begin(db));
	must(insert(db, "kept", 1));
	must(zt_db_commit(db));
	assert_false(zt_db_in_tx(db));
	assert_true(has_key(db, "kept"));
}

static void
test_store__savepoints(void **state)
{
	zt_db *db = *state;

	assert_int_equal(zt_db_savepoint(db, "sp"), ZT_EINVAL);
	must(zt_db_begin(db));
	assert_int_equal(zt_db_savepoint(db, "sp; DROP TABLE x"), ZT_EINVAL);
	assert_int_equal(zt_db_savepoint(db, "1sp"), ZT_EINVAL);
	assert_int_equal(zt_db_savepoint(db, ""), ZT_EINVAL);

	must(insert(db, "a", 1));
	must(zt_db_savepoint(db, "sp1"));
	must(insert(db, "b", 2));
	must(zt_db_rollback_to(db, "sp1"));
	must(insert(db, "c", 3));
	must(zt_db_release(db, "sp1"));

	/* a failure inside a savepoint is undone by rolling back to it
	 * (on PostgreSQL, the only way to keep the transaction) */
	must(zt_db_savepoint(db, "sp_2"));
	assert_int_equal(insert(db, "a", 4), ZT_EEXISTS);
	must(zt_db_rollback_to(db, "sp_2"));
	must(insert(db, "d", 5));
	must(zt_db_commit(db));

	assert_true(has_key(db, "a"));
	assert_false(has_key(db, "b"));
	assert_true(has_key(db, "c"));
	assert_true(has_key(db, "d"));
	assert_int_equal(count_rows(db), 3);
}

/* PostgreSQL cannot commit after a failed statement; COMMIT would roll
 * back quietly, so the store reports it.  SQLite keeps the transaction. */
static void
test_store__commit_after_failure(void **state)
{
	zt_db *db = *state;

	must(zt_db_begin(db));
	must(insert(db, "a", 1));
	assert_int_equal(insert(db, "a", 2), ZT_EEXISTS);
	if (is_pg(db)) {
		assert_int_equal(zt_db_commit(db), ZT_ERR);
		assert_false(zt_db_in_tx(db));
		assert_false(has_key(db, "a"));
	} else {
		must(zt_db_commit(db));
		assert_true(has_key(db, "a"));
	}
}

static void
test_store__second_connection(void **state)
{
	zt_db *db = *state, *db2 = open_db();

	must(zt_db_begin(db));
	must(insert(db, "a", 1));
	assert_true(has_key(db, "a"));
	/* uncommitted: the other connection reads around it (WAL) */
	assert_false(has_key(db2, "a"));
	assert_int_equal(count_rows(db2), 0);
	must(zt_db_commit(db));
	assert_true(has_key(db2, "a"));
	zt_db_close(db2);
}

/* A read transaction keeps one snapshot while another connection
 * commits, and does not stop it from committing. */
static void
test_store__read_snapshot(void **state)
{
	zt_db *db = *state, *db2 = open_db();

	must(insert(db, "a", 1));
	must(zt_db_begin_read(db));
	assert_true(zt_db_in_tx(db));
	assert_int_equal(zt_db_begin_read(db), ZT_EINVAL);
	assert_int_equal(zt_db_begin(db), ZT_EINVAL);
	assert_int_equal(count_rows(db), 1);
	must(insert(db2, "b", 2));
	assert_int_equal(count_rows(db), 1);
	assert_false(has_key(db, "b"));
	must(zt_db_end(db, ZT_OK));
	assert_false(zt_db_in_tx(db));
	assert_int_equal(count_rows(db), 2);
	zt_db_close(db2);
}

/* A second writer waits, then gives up with ZT_EBUSY.  SQLite waits for
 * the write lock at BEGIN IMMEDIATE (its full busy timeout); PostgreSQL
 * waits for the row, as long as lock_timeout. */
static void
test_store__busy(void **state)
{
	zt_db *db = *state, *db2 = open_db();
	int rc;

	must(zt_db_begin(db));
	must(insert(db, "a", 1));
	if (is_pg(db2)) {
		must(zt_db_exec(db2, "SET lock_timeout = '200ms'"));
		must(zt_db_begin(db2));
		rc = insert(db2, "a", 2);
	} else {
		rc = zt_db_begin(db2);
	}
	assert_int_equal(rc, ZT_EBUSY);
	must(zt_db_rollback(db2));
	must(zt_db_rollback(db));
	zt_db_close(db2);
}

/* ---- migrations ------------------------------------------------------- */

static const zt_migration steps_a[] = {
	{ 1, "create", "CREATE TABLE mig_a (id INTEGER PRIMARY KEY, v TEXT)",
	    NULL },
	{ 2, "seed", "INSERT INTO mig_a (id, v) VALUES (1, 'one'); "
	    "INSERT INTO mig_a (id, v) VALUES (2, 'two')", NULL },
	{ 3, "more", "CREATE TABLE mig_b (x INTEGER)", NULL },
};

static int64_t
mig_a_rows(zt_db *db)
{
	zt_stmt *st;
	int64_t n;

	must(zt_db_prepare(&st, db, "SELECT COUNT(*) FROM mig_a"));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	n = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return n;
}

static int
migrate1(zt_db *db, const zt_migration_set *set)
{
	return zt_store_migrate(db, &set, 1);
}

static bool
migrated1(zt_db *db, const zt_migration_set *set)
{
	return zt_store_migrated(db, &set, 1);
}

static const zt_migration_set testa2 = { "testa", steps_a, 2 };
static const zt_migration_set testa3 = { "testa", steps_a, 3 };

static void
test_store__migrate(void **state)
{
	static const zt_migration_set empty = { "nothing", NULL, 0 };
	zt_db *db = *state;

	assert_true(migrated1(db, &empty));
	assert_true(zt_store_migrated(db, NULL, 0));
	assert_false(migrated1(db, &testa2));
	must(migrate1(db, &testa2));
	assert_false(zt_db_in_tx(db));
	assert_true(migrated1(db, &testa2));
	assert_false(migrated1(db, &testa3));
	assert_int_equal(mig_a_rows(db), 2);
	assert_int_equal(migration_rows(db, "testa"), 2);

	/* a second run changes nothing (the seed would fail on its keys) */
	must(migrate1(db, &testa2));
	assert_int_equal(mig_a_rows(db), 2);
	assert_int_equal(migration_rows(db, "testa"), 2);

	/* a longer set applies only what is new */
	assert_false(table_usable(db, "mig_b"));
	must(migrate1(db, &testa3));
	assert_true(table_usable(db, "mig_b"));
	assert_true(migrated1(db, &testa3));
	assert_int_equal(migration_rows(db, "testa"), 3);
	assert_int_equal(mig_a_rows(db), 2);

	/* inside a caller's transaction, refused */
	must(zt_db_begin(db));
	assert_int_equal(migrate1(db, &testa3), ZT_EINVAL);
	must(zt_db_rollback(db));
}

/* One failing step undoes every step of every set in the same call: no
 * table, no record, not even schema_migrations itself. */
static void
test_store__migrate_failure(void **state)
{
	static const zt_migration bad[] = {
		{ 1, "f1", "CREATE TABLE mig_f1 (x INTEGER)", NULL },
		{ 2, "f2", "CREATE TABLE mig_f2 (x INTEGER)", NULL },
		{ 3, "broken", "CREATE TABLE mig_f1 (x INTEGER)", NULL },
	};
	static const zt_migration_set failing = { "failing", bad, 3 };
	const zt_migration_set *const sets[] = { &testa3, &failing };
	zt_db *db = *state;
	int rc;

	rc = zt_store_migrate(db, sets, 2);
	assert_true(rc < 0);
	assert_non_null(strstr(zt_error_msg(), "failing/3"));
	assert_false(zt_db_in_tx(db));
	assert_false(table_usable(db, "mig_f1"));
	assert_false(table_usable(db, "mig_f2"));
	assert_false(table_usable(db, "mig_a"));
	assert_false(table_usable(db, "schema_migrations"));
	assert_false(migrated1(db, &testa3));

	/* with the table present, still no record of the failed set */
	must(migrate1(db, &testa3));
	assert_true(zt_store_migrate(db, sets, 2) < 0);
	assert_int_equal(migration_rows(db, "failing"), 0);
	assert_int_equal(migration_rows(db, "testa"), 3);
	assert_false(table_usable(db, "mig_f1"));
}

static void
test_store__migrate_versions(void **state)
{
	static const zt_migration gap[] = {
		{ 1, "one", "CREATE TABLE mig_c (x INTEGER)", NULL },
		{ 3, "three", "CREATE TABLE mig_d (x INTEGER)", NULL },
	};
	static const zt_migration swapped[] = {
		{ 2, "two", "CREATE TABLE mig_d (x INTEGER)", NULL },
		{ 1, "one", "CREATE TABLE mig_c (x INTEGER)", NULL },
	};
	static const zt_migration_set gap_set = { "gap", gap, 2 };
	static const zt_migration_set swapped_set = { "swapped", swapped, 2 };
	const zt_migration_set *const twice[] = { &testa2, &testa3 };
	const zt_migration_set *const mixed[] = { &testa2, &swapped_set };
	const zt_migration_set *const holes[] = { &testa2, NULL };
	zt_db *db = *state;

	assert_int_equal(migrate1(db, &gap_set), ZT_EINVAL);
	assert_int_equal(migrate1(db, &swapped_set), ZT_EINVAL);
	assert_int_equal(zt_store_migrate(db, twice, 2), ZT_EINVAL);
	assert_int_equal(zt_store_migrate(db, holes, 2), ZT_EINVAL);
	/* a bad set spoils the good one with it */
	assert_int_equal(zt_store_migrate(db, mixed, 2), ZT_EINVAL);
	assert_false(migrated1(db, &gap_set));
	assert_false(table_usable(db, "mig_a"));
	assert_false(table_usable(db, "mig_c"));
	assert_false(table_usable(db, "schema_migrations"));
}

static void
test_store__migrate_sql_pg(void **state)
{
	/* AUTOINCREMENT is SQLite only, BIGSERIAL PostgreSQL only */
	static const zt_migration steps[] = {
		{ 1, "serial",
		    "CREATE TABLE mig_d (id INTEGER PRIMARY KEY AUTOINCREMENT, "
		    "v TEXT)",
		    "CREATE TABLE mig_d (id BIGSERIAL PRIMARY KEY, v TEXT)" },
		{ 2, "which", "CREATE TABLE mig_lite (x INTEGER)",
		    "CREATE TABLE mig_pg (x INTEGER)" },
	};
	static const zt_migration_set set = { "dialect", steps, 2 };
	zt_db *db = *state;
	zt_stmt *st;

	must(migrate1(db, &set));
	assert_true(table_usable(db, "mig_pg") == is_pg(db));
	assert_true(table_usable(db, "mig_lite") == !is_pg(db));

	must(zt_db_prepare(&st, db,
	    "INSERT INTO mig_d (v) VALUES ($1) RETURNING id"));
	must(zt_stmt_bind_text(st, 1, "v"));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	assert_int_equal(zt_stmt_int(st, 0), 1);
	assert_int_equal(zt_stmt_step(st), ZT_DONE);
}

/* ---- health, failures, statistics -------------------------------------- */

/* Has the server end this connection, as a restart or an administrator
 * would, and waits until it has. */
static void
kill_backend(zt_db *db)
{
	zt_db *killer = open_db();
	zt_stmt *st;
	int64_t pid;

	must(zt_db_prepare(&st, db, "SELECT pg_backend_pid()"));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	pid = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	must(zt_db_prepare(&st, killer,
	    "SELECT pg_terminate_backend($1::int, 5000)"));
	must(zt_stmt_bind_int(st, 1, pid));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	assert_int_equal(zt_stmt_int(st, 0), 1);
	zt_stmt_reset(st);
	zt_db_close(killer);
}

static void
test_store__ping(void **state)
{
	zt_db *db = *state;

	assert_true(zt_db_ping(db));
	if (!is_pg(db))
		return;

	/* a lost connection comes back, with its cached statements */
	must(insert(db, "a", 1));
	kill_backend(db);
	assert_true(zt_db_ping(db));
	assert_true(has_key(db, "a"));

	/* lost outside a transaction: the next statement reconnects */
	kill_backend(db);
	assert_int_equal(insert(db, "b", 2), ZT_EUNAVAIL);
	must(insert(db, "b", 2));

	/* lost inside one: nothing runs until the caller rolls back */
	must(zt_db_begin(db));
	must(insert(db, "c", 3));
	kill_backend(db);
	assert_int_equal(insert(db, "d", 4), ZT_EUNAVAIL);
	assert_true(zt_db_in_tx(db));
	assert_int_equal(insert(db, "d", 4), ZT_EUNAVAIL);
	assert_false(zt_db_ping(db));
	assert_int_equal(zt_db_commit(db), ZT_ERR);
	assert_false(zt_db_in_tx(db));
	must(insert(db, "d", 4));
	assert_false(has_key(db, "c"));
	assert_true(zt_db_ping(db));
}

static void
expect_open_fails(const char *u, int code)
{
	zt_db *db = (zt_db *)&db;

	assert_int_equal(zt_db_open(&db, u), code);
	assert_null(db);
	assert_null(strstr(zt_error_msg(), SECRET));
}

static void
test_store__bad_url(void **state)
{
	char path[] = "/tmp/ztiam-store-junk-XXXXXX", u[64];
	int fd;

	(void)state;
	/* nothing listens on port 1 */
	expect_open_fails("postgres://ztuser:" SECRET "@127.0.0.1:1/db",
	    ZT_EUNAVAIL);
	assert_non_null(strstr(zt_error_msg(), "cannot connect"));
	expect_open_fails("postgresql://ztuser@127.0.0.1:1/db?password="
	    SECRET "&sslmode=disable", ZT_EUNAVAIL);
	/* malformed: libpq would quote the pieces */
	expect_open_fails("postgres://ztuser:" SECRET "@127.0.0.1:port/db",
	    ZT_EUNAVAIL);
	expect_open_fails("postgres://ztuser:" SECRET "%zz@127.0.0.1/db",
	    ZT_EUNAVAIL);
	expect_open_fails("postgres://ztuser:pre@" SECRET "@127.0.0.1:1/db",
	    ZT_EUNAVAIL);

	expect_open_fails("", ZT_EINVAL);
	expect_open_fails("sqlite:", ZT_EINVAL);
	expect_open_fails("mysql://ztuser:" SECRET "@host/db", ZT_EINVAL);
	expect_open_fails("sqlite:/nonexistent-ztiam-dir/x/store.db",
	    ZT_EUNAVAIL);

	/* a file that is not a database */
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "not a database, just some bytes here; "
	    "long enough to fill a header.....................", 88), 88);
	close(fd);
	snprintf(u, sizeof(u), "sqlite:%s", path);
	expect_open_fails(u, ZT_EUNAVAIL);
	unlink(path);
}

static void
test_store__stats(void **state)
{
	zt_db *db = *state, *db2;
	zt_store_stats s0, s;

	zt_store_stats_get(&s0);
	assert_true(s0.open >= 1);

	db2 = open_db();
	zt_store_stats_get(&s);
	assert_int_equal(s.open, s0.open + 1);
	zt_db_close(db2);
	zt_store_stats_get(&s);
	assert_int_equal(s.open, s0.open);

	must(insert(db, "a", 1));
	zt_store_stats_get(&s);
	assert_int_equal(s.queries, s0.queries + 1);
	assert_int_equal(s.errors, s0.errors);

	assert_int_equal(insert(db, "a", 1), ZT_EEXISTS);
	zt_store_stats_get(&s);
	assert_int_equal(s.queries, s0.queries + 2);
	assert_int_equal(s.errors, s0.errors + 1);

	/* busy inside a transaction, and while rows are pending */
	assert_int_equal(s.busy, s0.busy);
	must(zt_db_begin(db));
	zt_store_stats_get(&s);
	assert_int_equal(s.busy, s0.busy + 1);
	must(zt_db_rollback(db));
	zt_store_stats_get(&s);
	assert_int_equal(s.busy, s0.busy);
}

static void
test_store__busy_while_reading(void **state)
{
	zt_db *db = *state;
	zt_store_stats s0, s;
	zt_stmt *st;

	must(insert(db, "a", 1));
	must(insert(db, "b", 2));
	zt_store_stats_get(&s0);
	must(zt_db_prepare(&st, db, "SELECT k FROM store_t"));
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	zt_store_stats_get(&s);
	assert_int_equal(s.busy, s0.busy + 1);
	zt_stmt_reset(st);
	zt_store_stats_get(&s);
	assert_int_equal(s.busy, s0.busy);
}

/* ---- main ------------------------------------------------------------- */

/* Picks the database URL; for SQLite, makes the directory its file lives
 * in. */
static int
choose_url(void)
{
	const char *env = getenv("ZTIAM_TEST_DB");
	const char *tmp = getenv("TMPDIR");

	if (env != NULL && env[0] != '\0' && strcmp(env, "sqlite:") != 0) {
		snprintf(url, sizeof(url), "%s", env);
		return 0;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/ztiam-store-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(url, sizeof(url), "sqlite:%s/store.db", tmpdir);
	return 0;
}

static void
remove_tmpdir(void)
{
	static const char *const files[] = {
		"store.db", "store.db-wal", "store.db-shm", "store.db-journal",
	};
	char path[512];
	size_t i;

	if (tmpdir[0] == '\0')
		return;
	for (i = 0; i < ZT_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	if (rmdir(tmpdir) != 0)
		perror("rmdir");
}

#define CASE(name) \
	cmocka_unit_test_setup_teardown(test_store__##name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(open_close),
		CASE(exec),
		CASE(placeholders),
		CASE(bind_types),
		CASE(rows),
		CASE(changes),
		CASE(cache),
		CASE(unique),
		CASE(transactions),
		CASE(savepoints),
		CASE(commit_after_failure),
		CASE(second_connection),
		CASE(read_snapshot),
		CASE(busy),
		CASE(migrate),
		CASE(migrate_failure),
		CASE(migrate_versions),
		CASE(migrate_sql_pg),
		CASE(ping),
		CASE(bad_url),
		CASE(stats),
		CASE(busy_while_reading),
	};
	int failed;

	if (choose_url() != 0)
		return 1;
	failed = cmocka_run_group_tests_name("store", tests, NULL, NULL);
	remove_tmpdir();
	return failed;
}
