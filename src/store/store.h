/*
 * store: one database interface over two drivers.
 *
 * SQLite is the embedded default (one file in WAL mode, one connection per
 * worker thread); PostgreSQL through libpq is the scale-out choice.  Callers
 * write SQL once, with PostgreSQL-style numbered parameters ($1, $2, ...),
 * and the SQLite driver rewrites them.  Where the dialects differ (column
 * types, upserts on old versions) a migration may carry a second text for
 * PostgreSQL.
 *
 * A zt_db is one connection and is used by one thread at a time.  Statements
 * prepared on it belong to it; zt_db_prepare() caches them by SQL text, so
 * hot paths prepare once per connection.
 *
 * Tenant scoping lives in the modules' own queries above this layer: every
 * table that holds tenant data has a tenant column in its key, and every
 * query on it binds the caller's tenant.
 */
#ifndef ZT_STORE_H
#define ZT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zt_db zt_db;
typedef struct zt_stmt zt_stmt;

enum zt_db_driver { ZT_DB_SQLITE, ZT_DB_POSTGRES };

/* zt_stmt_step() results besides errors (< 0). */
enum { ZT_DONE = 0, ZT_ROW = 1 };

/*
 * Opens a connection.  `url` is `postgres://...` or `postgresql://...` for
 * PostgreSQL (any libpq connection URI), `sqlite:PATH` or a plain file path
 * for SQLite.  ZT_EUNAVAIL when the server cannot be reached.
 */
int zt_db_open(zt_db **out, const char *url);
void zt_db_close(zt_db *db);
enum zt_db_driver zt_db_driver(const zt_db *db);
const char *zt_db_driver_name(const zt_db *db);
/* True when the connection answers a trivial query. */
bool zt_db_ping(zt_db *db);

/* Runs SQL without parameters or results; may hold several statements. */
int zt_db_exec(zt_db *db, const char *sql);

/*
 * Transactions.  zt_db_begin() starts a write transaction (SQLite: BEGIN
 * IMMEDIATE, so two writers never deadlock on a lock upgrade).  Savepoints
 * nest inside; names are identifiers chosen by the code, never input.
 */
int zt_db_begin(zt_db *db);
/* A read-only transaction: every statement until zt_db_end reads one
 * snapshot of the database (SQLite: a deferred transaction; PostgreSQL:
 * REPEATABLE READ, READ ONLY), and a series of reads pays for one
 * snapshot instead of one each. */
int zt_db_begin_read(zt_db *db);
int zt_db_commit(zt_db *db);
int zt_db_rollback(zt_db *db);
int zt_db_savepoint(zt_db *db, const char *name);
int zt_db_release(zt_db *db, const char *name);
int zt_db_rollback_to(zt_db *db, const char *name);
bool zt_db_in_tx(const zt_db *db);
/* Ends a transaction by the outcome of the work done in it: commits when
 * `err` is ZT_OK, else rolls back.  Returns the final outcome, keeping
 * the message of the error that caused the rollback. */
int zt_db_end(zt_db *db, int err);

/*
 * Returns a prepared statement for `sql`, reset and with no bindings.  It is
 * cached on the connection (keyed by the SQL text) and owned by it: do not
 * free it, call zt_stmt_reset() when done with it (zt_stmt_step() to
 * ZT_DONE resets the cursor as well).
 */
int zt_db_prepare(zt_stmt **out, zt_db *db, const char *sql);

/* Bindings are 1-based, as in the SQL ($1 is index 1).  Text and blobs are
 * copied. */
int zt_stmt_bind_text(zt_stmt *st, int idx, const char *s);
int zt_stmt_bind_int(zt_stmt *st, int idx, int64_t v);
int zt_stmt_bind_blob(zt_stmt *st, int idx, const void *p, size_t n);
int zt_stmt_bind_null(zt_stmt *st, int idx);

/* Runs the statement on the first call and moves to the next row on each
 * call after: ZT_ROW, ZT_DONE, or an error (ZT_EEXISTS on a unique
 * violation, ZT_ECONFLICT on a foreign key one, ZT_EBUSY on lock timeout,
 * ZT_ERR otherwise). */
int zt_stmt_step(zt_stmt *st);

/* Column values of the current row; columns are 0-based.  Pointers stay
 * valid until the next step or reset. */
int zt_stmt_columns(zt_stmt *st);
bool zt_stmt_is_null(zt_stmt *st, int col);
const char *zt_stmt_text(zt_stmt *st, int col);	/* NULL when NULL */
int64_t zt_stmt_int(zt_stmt *st, int col);
const void *zt_stmt_blob(zt_stmt *st, int col, size_t *len);

/* Runs a statement that returns no rows (an INSERT, UPDATE or DELETE)
 * and resets it: ZT_OK, or the error of zt_stmt_step(); a row back is
 * ZT_ERR, since the statement is then not the write it was meant to be. */
int zt_stmt_run(zt_stmt *st);

/* Rows changed by the last INSERT, UPDATE or DELETE. */
int64_t zt_stmt_changes(zt_stmt *st);

/* Clears the result and bindings so the statement can run again. */
void zt_stmt_reset(zt_stmt *st);

/* ---- migrations ------------------------------------------------------- */

typedef struct zt_migration {
	int version;		/* 1, 2, 3 ... within its module */
	const char *name;
	const char *sql;	/* for both drivers, or for SQLite only */
	const char *sql_pg;	/* PostgreSQL text when it differs, or NULL */
} zt_migration;

typedef struct zt_migration_set {
	const char *module;	/* "audit", "authn", ... */
	const zt_migration *steps;
	size_t count;
} zt_migration_set;

/*
 * Applies every step not yet applied, in one transaction, recording each in
 * the schema_migrations table.  Safe to run from several processes at once
 * (PostgreSQL takes an advisory lock; SQLite's write lock serialises).
 * `sets` is an array of n pointers, one per module, in dependency order:
 * each module exports its set as an object of its own.
 */
int zt_store_migrate(zt_db *db, const zt_migration_set *const *sets,
    size_t n);
/* True when every step of every set is applied (for /readyz). */
bool zt_store_migrated(zt_db *db, const zt_migration_set *const *sets,
    size_t n);

/* ---- statistics (for /metrics) ----------------------------------------- */

typedef struct zt_store_stats {
	uint64_t open;		/* connections open now */
	uint64_t busy;		/* connections in a statement or transaction */
	uint64_t queries;	/* statements run since start */
	uint64_t errors;	/* statements that failed */
} zt_store_stats;

void zt_store_stats_get(zt_store_stats *out);

#endif
