/*
 * sqlite.c: the SQLite driver of the store module.
 *
 * One zt_db is one sqlite3 connection opened without SQLite's own mutexes
 * (SQLITE_OPEN_NOMUTEX): each worker thread has its own connection, so the
 * locking would be pure cost.  Every connection sets, before first use:
 *
 *   journal_mode=WAL   readers never block the writer nor the writer them,
 *                      which is what lets each thread hold a connection;
 *   synchronous=FULL   the WAL is synced at every commit.  With NORMAL a
 *                      commit survives a crash of the process (the bytes
 *                      are in the OS page cache) but not a power cut or
 *                      kernel panic, which can take the last transactions.
 *                      An IAM server must not forget a revocation or a
 *                      rotated key it has acknowledged, so we pay one
 *                      fsync per commit;
 *   busy_timeout       how long a writer waits for another (BUSY_WAIT_MS);
 *   foreign_keys=ON    SQLite leaves them off unless asked;
 *   temp_store=MEMORY  statement journals and savepoint journals (the undo
 *                      copies of the pages one statement or savepoint
 *                      changes) stay in memory instead of spilling to
 *                      temporary files past 64 KiB: a bulk import spent
 *                      three times the system time in those files.  They
 *                      last one statement or transaction.  A sort that
 *                      outgrew the cache would stay in memory too; our
 *                      queries sort a page or one identity's groups.
 *
 * Callers write PostgreSQL placeholders ($1); store_rewrite_params() turns
 * them into SQLite's ?1 before the text is compiled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/base.h"
#include "store/store_int.h"

/* How long a writer waits for the write lock before ZT_EBUSY: longer than
 * any transaction we run, short enough to answer an HTTP request. */
#define BUSY_WAIT_MS 5000

/* Room for an SQLite error message quoted in ours; longer ones are cut. */
#define ERRMSG_MAX 200

/* Bytes of a database path quoted in an error: the file name and enough
 * of the directories to find it, within a one-line message. */
#define PATH_QUOTE_MAX 120

struct lite_db {
	zt_db base;		/* first: a lite_db is a zt_db */
	sqlite3 *conn;
};

struct lite_stmt {
	zt_stmt base;		/* first: a lite_stmt is a zt_stmt */
	sqlite3_stmt *stmt;
	int64_t changes;	/* rows changed by the last run to ZT_DONE */
};

static const struct store_ops lite_ops;

static sqlite3 *
conn_of(const zt_db *db)
{
	return ((const struct lite_db *)db)->conn;
}

static struct lite_stmt *
stmt_of(zt_stmt *st)
{
	return (struct lite_stmt *)st;
}

/* ---- errors ----------------------------------------------------------- */

static int
map_code(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return ZT_EEXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return ZT_ECONFLICT;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ZT_EBUSY;
	case SQLITE_NOMEM:
		return ZT_ENOMEM;
	case SQLITE_RANGE:
		return ZT_EINVAL;
	case SQLITE_CANTOPEN:
	case SQLITE_NOTADB:
		return ZT_EUNAVAIL;
	}
	return ZT_ERR;
}

/* Sets the thread's error from the connection's last error.  SQLite's
 * messages name tables and columns, never values. */
static int
conn_error(sqlite3 *conn)
{
	char msg[ERRMSG_MAX + 4];
	const char *m = sqlite3_errmsg(conn);

	zt_str_sanitize(msg, m, strlen(m), ERRMSG_MAX);
	return zt_error_set(map_code(sqlite3_extended_errcode(conn)),
	    "sqlite: %s", msg);
}

/* ---- placeholder rewrite --------------------------------------------- */

/* Bytes that may continue an identifier in either dialect. */
static bool
ident_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '$' ||
	    (unsigned char)c >= 0x80;
}

/* Returns the byte after a quoted run that starts at p; a doubled quote
 * inside is an escaped quote.  An unterminated run ends at the NUL. */
static char *
skip_quoted(char *p)
{
	char q = *p++;

	for (; *p != '\0'; p++) {
		if (*p != q)
			continue;
		if (p[1] != q)
			return p + 1;
		p++;
	}
	return p;
}

/* Returns the end of a "--" comment: its newline, or the NUL. */
static char *
skip_line_comment(char *p)
{
	return p + strcspn(p, "\n");
}

/* Returns the byte after a block comment (not nested, as in SQLite). */
static char *
skip_block_comment(char *p)
{
	for (p += 2; *p != '\0'; p++) {
		if (p[0] == '*' && p[1] == '/')
			return p + 2;
	}
	return p;
}

/*
 * Rewrites $N into ?N in place; both have the same length, so no copy is
 * needed.  String literals ('...'), quoted identifiers ("..." and `...`)
 * and comments are left alone, as is a '$' inside an identifier (a$1 is a
 * name in both dialects).  ?N keeps the number, so $2 may come before $1
 * and a parameter may appear twice, as in PostgreSQL.
 */
void
store_rewrite_params(char *sql)
{
	char *p = sql;

	while (*p != '\0') {
		switch (*p) {
		case '\'':
		case '"':
		case '`':
			p = skip_quoted(p);
			break;
		case '-':
			p = p[1] == '-' ? skip_line_comment(p) : p + 1;
			break;
		case '/':
			p = p[1] == '*' ? skip_block_comment(p) : p + 1;
			break;
		case '$':
			if (p[1] >= '0' && p[1] <= '9' &&
			    (p == sql || !ident_byte(p[-1])))
				*p = '?';
			p++;
			break;
		default:
			p++;
		}
	}
}

/* ---- connection ------------------------------------------------------- */

/* Turns on WAL and checks that it took: SQLite answers with the mode in
 * force, "memory" for an in-memory database. */
static int
set_wal(sqlite3 *conn)
{
	sqlite3_stmt *stmt = NULL;
	const char *mode;
	int rc;

	if (sqlite3_prepare_v2(conn, "PRAGMA journal_mode=WAL", -1, &stmt,
	    NULL) != SQLITE_OK)
		return conn_error(conn);
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		rc = conn_error(conn);
		goto out;
	}
	mode = (const char *)sqlite3_column_text(stmt, 0);
	if (mode == NULL || (strcmp(mode, "wal") != 0 &&
	    strcmp(mode, "memory") != 0)) {
		rc = zt_error_set(ZT_EUNAVAIL, "sqlite: cannot use WAL "
		    "journal mode");
		goto out;
	}
	rc = ZT_OK;
out:
	sqlite3_finalize(stmt);
	return rc;
}

static int
configure(sqlite3 *conn)
{
	int rc;

	sqlite3_extended_result_codes(conn, 1);
	if (sqlite3_busy_timeout(conn, BUSY_WAIT_MS) != SQLITE_OK)
		return conn_error(conn);
	if ((rc = set_wal(conn)) != ZT_OK)
		return rc;
	if (sqlite3_exec(conn, "PRAGMA synchronous=FULL; "
	    "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY", NULL, NULL,
	    NULL) != SQLITE_OK)
		return conn_error(conn);
	return ZT_OK;
}

/* Restates the error of a failed open as ZT_EUNAVAIL, naming the file. */
static int
open_error(const char *path)
{
	char cause[ERRMSG_MAX + 16], name[PATH_QUOTE_MAX + 4];
	const char *msg = zt_error_msg();

	if (zt_str_has_prefix(msg, "sqlite: "))
		msg += strlen("sqlite: ");
	snprintf(cause, sizeof(cause), "%s", msg);
	zt_str_sanitize(name, path, strlen(path), PATH_QUOTE_MAX);
	return zt_error_set(ZT_EUNAVAIL, "sqlite: cannot open %s: %s", name,
	    cause);
}

/* The caller makes the parent directory; SQLite creates the file. */
int
store_sqlite_open(zt_db **out, const char *path)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX;
	struct lite_db *db = NULL;
	sqlite3 *conn = NULL;
	int rc;

	*out = NULL;
	if (sqlite3_open_v2(path, &conn, flags, NULL) != SQLITE_OK) {
		rc = conn == NULL ?
		    zt_error_set(ZT_ENOMEM, "sqlite: out of memory") :
		    conn_error(conn);
		goto fail;
	}
	if ((rc = configure(conn)) != ZT_OK)
		goto fail;
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		rc = zt_error_set(ZT_ENOMEM, "sqlite: out of memory");
		goto fail;
	}
	db->base.ops = &lite_ops;
	db->conn = conn;
	*out = &db->base;
	return ZT_OK;

fail:
	/* A file that cannot be opened or set up is a database we cannot
	 * use: unavailable, unless memory ran out. */
	if (rc != ZT_ENOMEM)
		rc = open_error(path);
	sqlite3_close(conn);
	return rc;
}

static void
lite_close(zt_db *db)
{
	sqlite3_close(conn_of(db));
	free(db);
}

static bool
lite_ping(zt_db *db)
{
	return sqlite3_exec(conn_of(db), "SELECT 1", NULL, NULL, NULL) ==
	    SQLITE_OK;
}

static int
lite_exec(zt_db *db, const char *sql)
{
	if (sqlite3_exec(conn_of(db), sql, NULL, NULL, NULL) != SQLITE_OK)
		return conn_error(conn_of(db));
	return ZT_OK;
}

static bool
lite_in_tx(const zt_db *db)
{
	return !sqlite3_get_autocommit(conn_of(db));
}

/* SQLite keeps a transaction usable after a failed statement (or ends it
 * by itself, which lite_in_tx sees). */
static bool
lite_tx_failed(const zt_db *db)
{
	(void)db;
	return false;
}

/* ---- statements ------------------------------------------------------- */

static bool
only_space(const char *s)
{
	return s[strspn(s, " \t\r\n;")] == '\0';
}

/* Compiles one statement.  Text after it is refused rather than ignored:
 * zt_db_exec() is the way to run several. */
static int
compile(sqlite3_stmt **out, sqlite3 *conn, char *sql)
{
	const char *tail = NULL;

	*out = NULL;
	store_rewrite_params(sql);
	if (sqlite3_prepare_v3(conn, sql, -1, SQLITE_PREPARE_PERSISTENT, out,
	    &tail) != SQLITE_OK)
		return conn_error(conn);
	if (*out == NULL)
		return zt_error_set(ZT_EINVAL, "sqlite: no statement in SQL");
	if (tail != NULL && !only_space(tail)) {
		sqlite3_finalize(*out);
		*out = NULL;
		return zt_error_set(ZT_EINVAL, "sqlite: more than one "
		    "statement in SQL to prepare");
	}
	return ZT_OK;
}

static int
lite_prepare(zt_stmt **out, zt_db *db, const char *sql)
{
	struct lite_stmt *st;
	char *copy;
	int rc;

	*out = NULL;
	if ((copy = strdup(sql)) == NULL)
		return zt_error_set(ZT_ENOMEM, "sqlite: out of memory");
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rc = zt_error_set(ZT_ENOMEM, "sqlite: out of memory");
		goto out;
	}
	if ((rc = compile(&st->stmt, conn_of(db), copy)) != ZT_OK) {
		free(st);
		goto out;
	}
	*out = &st->base;
out:
	free(copy);
	return rc;
}

static void
lite_finalize(zt_stmt *st)
{
	sqlite3_finalize(stmt_of(st)->stmt);
	free(st);
}

static int
bind_result(zt_stmt *st, int rc)
{
	if (rc == SQLITE_OK)
		return ZT_OK;
	if (rc == SQLITE_RANGE)
		return zt_error_set(ZT_EINVAL, "sqlite: parameter index out "
		    "of range");
	return conn_error(conn_of(st->db));
}

static int
lite_bind_text(zt_stmt *st, int idx, const char *s)
{
	return bind_result(st, sqlite3_bind_text64(stmt_of(st)->stmt, idx,
	    s, strlen(s), SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int
lite_bind_int(zt_stmt *st, int idx, int64_t v)
{
	return bind_result(st, sqlite3_bind_int64(stmt_of(st)->stmt, idx,
	    (sqlite3_int64)v));
}

/* sqlite3_bind_blob() of a NULL pointer binds SQL NULL, so an empty blob
 * goes in as a zero-length zeroblob instead. */
static int
lite_bind_blob(zt_stmt *st, int idx, const void *p, size_t n)
{
	sqlite3_stmt *stmt = stmt_of(st)->stmt;

	if (n == 0)
		return bind_result(st, sqlite3_bind_zeroblob(stmt, idx, 0));
	return bind_result(st, sqlite3_bind_blob64(stmt, idx, p, n,
	    SQLITE_TRANSIENT));
}

static int
lite_bind_null(zt_stmt *st, int idx)
{
	return bind_result(st, sqlite3_bind_null(stmt_of(st)->stmt, idx));
}

static int64_t
changes_now(sqlite3 *conn)
{
#if SQLITE_VERSION_NUMBER >= 3037000
	return sqlite3_changes64(conn);
#else
	return sqlite3_changes(conn);
#endif
}

/* At ZT_DONE or on an error the statement is reset (bindings kept), so the
 * next step runs it again and it holds no read snapshot meanwhile. */
static int
lite_step(zt_stmt *base)
{
	struct lite_stmt *st = stmt_of(base);
	sqlite3 *conn = conn_of(base->db);
	int rc;

	rc = sqlite3_step(st->stmt);
	if (rc == SQLITE_ROW)
		return ZT_ROW;
	if (rc == SQLITE_DONE) {
		st->changes = sqlite3_stmt_readonly(st->stmt) ? 0 :
		    changes_now(conn);
		sqlite3_reset(st->stmt);
		return ZT_DONE;
	}
	rc = conn_error(conn);
	sqlite3_reset(st->stmt);
	return rc;
}

static int
lite_columns(zt_stmt *st)
{
	return sqlite3_column_count(stmt_of(st)->stmt);
}

static bool
lite_is_null(zt_stmt *st, int col)
{
	return sqlite3_column_type(stmt_of(st)->stmt, col) == SQLITE_NULL;
}

static const char *
lite_text(zt_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(stmt_of(st)->stmt, col);
}

static int64_t
lite_int64(zt_stmt *st, int col)
{
	return sqlite3_column_int64(stmt_of(st)->stmt, col);
}

static const void *
lite_blob(zt_stmt *st, int col, size_t *len)
{
	sqlite3_stmt *stmt = stmt_of(st)->stmt;
	const void *p = sqlite3_column_blob(stmt, col);

	/* Length after the pointer: reading it first could convert the
	 * value twice (SQLite's documented order). */
	*len = (size_t)sqlite3_column_bytes(stmt, col);
	return p != NULL ? p : "";
}

static int64_t
lite_changes(zt_stmt *st)
{
	return stmt_of(st)->changes;
}

static void
lite_reset(zt_stmt *st)
{
	sqlite3_reset(stmt_of(st)->stmt);
	sqlite3_clear_bindings(stmt_of(st)->stmt);
}

static const struct store_ops lite_ops = {
	.driver = ZT_DB_SQLITE,
	.name = "sqlite",
	/* IMMEDIATE takes the write lock at once: two transactions that
	 * both read then write cannot deadlock on the upgrade. */
	.begin_sql = "BEGIN IMMEDIATE",
	/* DEFERRED: a read lock from the first SELECT to the end, which
	 * in WAL mode keeps one snapshot and blocks no writer. */
	.begin_read_sql = "BEGIN",
	.close = lite_close,
	.ping = lite_ping,
	.exec = lite_exec,
	.in_tx = lite_in_tx,
	.tx_failed = lite_tx_failed,
	.prepare = lite_prepare,
	.finalize = lite_finalize,
	.bind_text = lite_bind_text,
	.bind_int = lite_bind_int,
	.bind_blob = lite_bind_blob,
	.bind_null = lite_bind_null,
	.step = lite_step,
	.columns = lite_columns,
	.is_null = lite_is_null,
	.text = lite_text,
	.int64 = lite_int64,
	.blob = lite_blob,
	.changes = lite_changes,
	.reset = lite_reset,
};
