/*
 * store.c: the driver-independent half of the store module.
 *
 * zt_db_open() picks a driver from the URL; every other public function
 * checks its arguments here, then calls the driver through its store_ops
 * table.  This file also owns the per-connection statement cache (SQL text
 * to prepared statement), the rules that make the two drivers behave alike
 * around transactions (commit outside one is an error, rollback outside one
 * is a no-op, savepoints only inside one), and the process-wide counters
 * behind zt_store_stats_get().
 *
 * Failures are logged at debug level only, with at most SQL_EXCERPT_MAX
 * bytes of the SQL text and never a bound value: values may be secrets.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

/* Enough SQL to recognise the statement in a debug log without copying a
 * whole migration into it. */
#define SQL_EXCERPT_MAX 120

/*
 * Distinct statements cached on one connection.  SQL text comes from the
 * code, so a real server needs a few hundred at most; reaching this means
 * a caller builds SQL from data, which would grow the cache (and, on
 * PostgreSQL, the server's memory) without end.
 */
#define STMT_CACHE_MAX 4096

/* Initial cache slots; doubled whenever the table is three quarters full. */
#define STMT_CACHE_MIN 32

/* PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); a longer
 * savepoint name would silently alias a shorter one. */
#define SAVEPOINT_NAME_MAX 63

static struct {
	atomic_uint_fast64_t open;
	atomic_uint_fast64_t busy;
	atomic_uint_fast64_t queries;
	atomic_uint_fast64_t errors;
} stats;

/* ---- helpers ---------------------------------------------------------- */

static void
log_failure(const zt_db *db, const char *sql, int rc)
{
	char excerpt[SQL_EXCERPT_MAX + 4];

	if (!zt_log_enabled(ZT_LOG_DEBUG))
		return;
	zt_str_sanitize(excerpt, sql, strlen(sql), SQL_EXCERPT_MAX);
	log_debug("store: statement failed", ZS("driver", db->ops->name),
	    ZS("sql", excerpt), ZI("code", rc), ZS("error", zt_error_msg()));
}

static void
count_failure(const zt_db *db, const char *sql, int rc)
{
	atomic_fetch_add_explicit(&stats.errors, 1, memory_order_relaxed);
	log_failure(db, sql, rc);
}

/*
 * Brings the busy counter in line with the connection: busy while it holds
 * a transaction or a statement with rows still to read.
 */
static void
busy_sync(zt_db *db)
{
	bool now = db->running > 0 || db->ops->in_tx(db);

	if (now == db->busy)
		return;
	db->busy = now;
	if (now)
		atomic_fetch_add_explicit(&stats.busy, 1, memory_order_relaxed);
	else
		atomic_fetch_sub_explicit(&stats.busy, 1, memory_order_relaxed);
}

static void
set_running(zt_stmt *st, bool running)
{
	if (st->running == running)
		return;
	st->running = running;
	st->db->running += running ? 1 : -1;
}

/* ---- statement cache -------------------------------------------------- */

/* FNV-1a: fast, and good enough for a few hundred SQL strings written by
 * us (the keys are not attacker-chosen). */
static uint64_t
sql_hash(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static zt_stmt *
cache_find(const struct store_cache *c, const char *sql, uint64_t h)
{
	size_t i;
	zt_stmt *st;

	if (c->cap == 0)
		return NULL;
	for (i = h & (c->cap - 1); (st = c->slots[i]) != NULL;
	    i = (i + 1) & (c->cap - 1)) {
		if (st->hash == h && strcmp(st->sql, sql) == 0)
			return st;
	}
	return NULL;
}

static void
cache_put(zt_stmt **slots, size_t cap, zt_stmt *st)
{
	size_t i = st->hash & (cap - 1);

	while (slots[i] != NULL)
		i = (i + 1) & (cap - 1);
	slots[i] = st;
}

static int
cache_grow(struct store_cache *c)
{
	size_t cap = c->cap ? c->cap * 2 : STMT_CACHE_MIN;
	zt_stmt **slots;
	size_t i;

	if ((slots = calloc(cap, sizeof(*slots))) == NULL)
		return zt_error_set(ZT_ENOMEM, "store: out of memory");
	for (i = 0; i < c->cap; i++) {
		if (c->slots[i] != NULL)
			cache_put(slots, cap, c->slots[i]);
	}
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return ZT_OK;
}

static int
cache_add(struct store_cache *c, zt_stmt *st)
{
	int rc;

	if (c->count >= STMT_CACHE_MAX)
		return zt_error_set(ZT_ERR, "store: more than %d distinct "
		    "statements on one connection", STMT_CACHE_MAX);
	if ((c->count + 1) * 4 > c->cap * 3 && (rc = cache_grow(c)) != ZT_OK)
		return rc;
	cache_put(c->slots, c->cap, st);
	c->count++;
	return ZT_OK;
}

static void
stmt_free(zt_stmt *st)
{
	free(st->sql);
	st->sql = NULL;
	st->db->ops->finalize(st);
}

static void
cache_free(struct store_cache *c)
{
	size_t i;

	for (i = 0; i < c->cap; i++) {
		if (c->slots[i] != NULL)
			stmt_free(c->slots[i]);
	}
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

/* ---- connections ------------------------------------------------------ */

/*
 * Returns the file path of an SQLite URL, or NULL for a URL with some
 * other scheme.  "sqlite://" is accepted too, so "sqlite:///var/z.db" is
 * the absolute path /var/z.db.
 */
static const char *
sqlite_path(const char *url)
{
	if (zt_str_has_prefix(url, "sqlite://"))
		return url + strlen("sqlite://");
	if (zt_str_has_prefix(url, "sqlite:"))
		return url + strlen("sqlite:");
	if (strstr(url, "://") != NULL)
		return NULL;
	return url;
}

int
zt_db_open(zt_db **out, const char *url)
{
	const char *path;
	zt_db *db = NULL;
	int rc;

	*out = NULL;
	if (url == NULL || *url == '\0')
		return zt_error_set(ZT_EINVAL, "store: empty database URL");

	if (zt_str_has_prefix(url, "postgres://") ||
	    zt_str_has_prefix(url, "postgresql://"))
		rc = store_pg_open(&db, url);
	else if ((path = sqlite_path(url)) == NULL)
		return zt_error_set(ZT_EINVAL, "store: unsupported database "
		    "URL scheme (use postgres:// or sqlite:)");
	else if (*path == '\0')
		return zt_error_set(ZT_EINVAL, "store: empty SQLite path");
	else
		rc = store_sqlite_open(&db, path);
	if (rc != ZT_OK)
		return rc;

	atomic_fetch_add_explicit(&stats.open, 1, memory_order_relaxed);
	log_debug("store: connection opened", ZS("driver", db->ops->name));
	*out = db;
	return ZT_OK;
}

/* Closing rolls back an open transaction (both servers do so when the
 * connection ends). */
void
zt_db_close(zt_db *db)
{
	if (db == NULL)
		return;
	cache_free(&db->cache);
	if (db->busy)
		atomic_fetch_sub_explicit(&stats.busy, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&stats.open, 1, memory_order_relaxed);
	db->ops->close(db);
}

enum zt_db_driver
zt_db_driver(const zt_db *db)
{
	return db->ops->driver;
}

const char *
zt_db_driver_name(const zt_db *db)
{
	return db->ops->name;
}

bool
zt_db_ping(zt_db *db)
{
	bool ok = db->ops->ping(db);

	busy_sync(db);
	return ok;
}

int
zt_db_exec(zt_db *db, const char *sql)
{
	int rc;

	atomic_fetch_add_explicit(&stats.queries, 1, memory_order_relaxed);
	if ((rc = db->ops->exec(db, sql)) != ZT_OK)
		count_failure(db, sql, rc);
	busy_sync(db);
	return rc;
}

/* ---- transactions ----------------------------------------------------- */

bool
zt_db_in_tx(const zt_db *db)
{
	return db->ops->in_tx(db);
}

static int
begin(zt_db *db, const char *sql)
{
	if (zt_db_in_tx(db))
		return zt_error_set(ZT_EINVAL, "store: a transaction is "
		    "already open");
	return zt_db_exec(db, sql);
}

int
zt_db_begin(zt_db *db)
{
	return begin(db, db->ops->begin_sql);
}

int
zt_db_begin_read(zt_db *db)
{
	return begin(db, db->ops->begin_read_sql);
}

/*
 * On PostgreSQL a failed statement leaves the transaction able only to roll
 * back, and COMMIT would then roll back quietly; report that as an error
 * so a caller that missed the first failure cannot believe it committed.
 */
int
zt_db_commit(zt_db *db)
{
	if (!zt_db_in_tx(db))
		return zt_error_set(ZT_EINVAL, "store: commit without an "
		    "open transaction");
	if (db->ops->tx_failed(db)) {
		(void)zt_db_exec(db, "ROLLBACK");
		return zt_error_set(ZT_ERR, "store: transaction failed "
		    "earlier and was rolled back");
	}
	return zt_db_exec(db, "COMMIT");
}

/* Rolling back without a transaction succeeds, so cleanup code may call
 * this whatever state the failure left. */
int
zt_db_rollback(zt_db *db)
{
	if (!zt_db_in_tx(db))
		return ZT_OK;
	return zt_db_exec(db, "ROLLBACK");
}

int
zt_db_end(zt_db *db, int err)
{
	char msg[256];

	if (err == ZT_OK && (err = zt_db_commit(db)) == ZT_OK)
		return ZT_OK;
	snprintf(msg, sizeof(msg), "%s", zt_error_msg());
	(void)zt_db_rollback(db);
	return zt_error_set(err, "%s", msg);
}

static bool
savepoint_name_ok(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' ||
	    strlen(name) > SAVEPOINT_NAME_MAX)
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_';

		if (!alpha && (i == 0 || c < '0' || c > '9'))
			return false;
	}
	return true;
}

/* Runs `verb name`.  Savepoints live inside a transaction only: SQLite
 * would otherwise open one of its own, PostgreSQL would refuse. */
static int
savepoint_cmd(zt_db *db, const char *verb, const char *name)
{
	char sql[64 + SAVEPOINT_NAME_MAX];

	if (!savepoint_name_ok(name))
		return zt_error_set(ZT_EINVAL, "store: bad savepoint name");
	if (!zt_db_in_tx(db))
		return zt_error_set(ZT_EINVAL, "store: %s outside a "
		    "transaction", verb);
	snprintf(sql, sizeof(sql), "%s %s", verb, name);
	return zt_db_exec(db, sql);
}

int
zt_db_savepoint(zt_db *db, const char *name)
{
	return savepoint_cmd(db, "SAVEPOINT", name);
}

int
zt_db_release(zt_db *db, const char *name)
{
	return savepoint_cmd(db, "RELEASE SAVEPOINT", name);
}

int
zt_db_rollback_to(zt_db *db, const char *name)
{
	return savepoint_cmd(db, "ROLLBACK TO SAVEPOINT", name);
}

/* ---- statements ------------------------------------------------------- */

/* A failed prepare counts as an error but not as a query: nothing ran. */
int
zt_db_prepare(zt_stmt **out, zt_db *db, const char *sql)
{
	uint64_t h = sql_hash(sql);
	zt_stmt *st;
	int rc;

	*out = NULL;
	if ((st = cache_find(&db->cache, sql, h)) != NULL) {
		zt_stmt_reset(st);
		*out = st;
		return ZT_OK;
	}

	if ((rc = db->ops->prepare(&st, db, sql)) != ZT_OK) {
		count_failure(db, sql, rc);
		busy_sync(db);
		return rc;
	}
	st->db = db;
	st->hash = h;
	if ((st->sql = strdup(sql)) == NULL) {
		rc = zt_error_set(ZT_ENOMEM, "store: out of memory");
		goto fail;
	}
	if ((rc = cache_add(&db->cache, st)) != ZT_OK)
		goto fail;
	*out = st;
	return ZT_OK;

fail:
	stmt_free(st);
	return rc;
}

/* SQLite refuses to rebind a statement in the middle of its rows; hold
 * PostgreSQL to the same rule. */
static int
bind_check(zt_stmt *st, int idx)
{
	if (st->running)
		return zt_error_set(ZT_EINVAL, "store: bind on a running "
		    "statement (reset it first)");
	if (idx < 1)
		return zt_error_set(ZT_EINVAL, "store: parameter index %d "
		    "(they start at 1)", idx);
	return ZT_OK;
}

int
zt_stmt_bind_text(zt_stmt *st, int idx, const char *s)
{
	int rc;

	if ((rc = bind_check(st, idx)) != ZT_OK)
		return rc;
	if (s == NULL)
		return st->db->ops->bind_null(st, idx);
	return st->db->ops->bind_text(st, idx, s);
}

int
zt_stmt_bind_int(zt_stmt *st, int idx, int64_t v)
{
	int rc;

	if ((rc = bind_check(st, idx)) != ZT_OK)
		return rc;
	return st->db->ops->bind_int(st, idx, v);
}

int
zt_stmt_bind_blob(zt_stmt *st, int idx, const void *p, size_t n)
{
	int rc;

	if ((rc = bind_check(st, idx)) != ZT_OK)
		return rc;
	if (p == NULL && n > 0)
		return zt_error_set(ZT_EINVAL, "store: NULL blob of %zu "
		    "bytes", n);
	return st->db->ops->bind_blob(st, idx, p, n);
}

int
zt_stmt_bind_null(zt_stmt *st, int idx)
{
	int rc;

	if ((rc = bind_check(st, idx)) != ZT_OK)
		return rc;
	return st->db->ops->bind_null(st, idx);
}

int
zt_stmt_step(zt_stmt *st)
{
	zt_db *db = st->db;
	int rc;

	if (!st->running)
		atomic_fetch_add_explicit(&stats.queries, 1,
		    memory_order_relaxed);
	rc = db->ops->step(st);
	set_running(st, rc == ZT_ROW);
	if (rc < 0)
		count_failure(db, st->sql, rc);
	busy_sync(db);
	return rc;
}

int
zt_stmt_columns(zt_stmt *st)
{
	return st->db->ops->columns(st);
}

static bool
col_ok(zt_stmt *st, int col)
{
	return st->running && col >= 0 && col < zt_stmt_columns(st);
}

bool
zt_stmt_is_null(zt_stmt *st, int col)
{
	return !col_ok(st, col) || st->db->ops->is_null(st, col);
}

const char *
zt_stmt_text(zt_stmt *st, int col)
{
	if (zt_stmt_is_null(st, col))
		return NULL;
	return st->db->ops->text(st, col);
}

int64_t
zt_stmt_int(zt_stmt *st, int col)
{
	if (zt_stmt_is_null(st, col))
		return 0;
	return st->db->ops->int64(st, col);
}

/* An empty blob comes back as a valid pointer with *len 0, NULL only for
 * SQL NULL (or a missing row or column). */
const void *
zt_stmt_blob(zt_stmt *st, int col, size_t *len)
{
	*len = 0;
	if (zt_stmt_is_null(st, col))
		return NULL;
	return st->db->ops->blob(st, col, len);
}

int64_t
zt_stmt_changes(zt_stmt *st)
{
	return st->db->ops->changes(st);
}

int
zt_stmt_run(zt_stmt *st)
{
	int err = zt_stmt_step(st);

	zt_stmt_reset(st);
	return err == ZT_DONE ? ZT_OK : err < 0 ? err :
	    zt_error_set(ZT_ERR, "a write returned rows");
}

void
zt_stmt_reset(zt_stmt *st)
{
	st->db->ops->reset(st);
	set_running(st, false);
	busy_sync(st->db);
}

/* ---- statistics ------------------------------------------------------- */

void
zt_store_stats_get(zt_store_stats *out)
{
	out->open = atomic_load_explicit(&stats.open, memory_order_relaxed);
	out->busy = atomic_load_explicit(&stats.busy, memory_order_relaxed);
	out->queries = atomic_load_explicit(&stats.queries,
	    memory_order_relaxed);
	out->errors = atomic_load_explicit(&stats.errors,
	    memory_order_relaxed);
}
