/*
 * store_int.h: what store.c shares with the two drivers.
 *
 * store.c keeps everything that is the same for SQLite and PostgreSQL: the
 * URL dispatch, the statement cache, the transaction rules, the argument
 * checks, the statistics and the debug log of failures.  A driver supplies
 * a table of functions (struct store_ops) and embeds struct zt_db and
 * struct zt_stmt as the first member of its own connection and statement
 * structs, so a pointer to the driver's struct is a pointer to the common
 * one and back.
 *
 * Driver functions set the thread's error message (zt_error_set) on every
 * failure.  The message never holds a bound value or a password: messages
 * reach logs and, through callers, HTTP responses.
 */
#ifndef ZT_STORE_INT_H
#define ZT_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_ops {
	enum zt_db_driver driver;
	const char *name;		/* "sqlite" or "postgres" */
	const char *begin_sql;		/* how a write transaction starts */
	const char *begin_read_sql;	/* and a read-only one on one
					 * snapshot */

	void (*close)(zt_db *db);
	bool (*ping)(zt_db *db);
	int (*exec)(zt_db *db, const char *sql);
	bool (*in_tx)(const zt_db *db);
	/* True when the open transaction can only be rolled back. */
	bool (*tx_failed)(const zt_db *db);

	/* Allocates the driver's statement; store.c fills the common part. */
	int (*prepare)(zt_stmt **out, zt_db *db, const char *sql);
	void (*finalize)(zt_stmt *st);

	/* Index checked >= 1 by store.c; the driver checks the upper end. */
	int (*bind_text)(zt_stmt *st, int idx, const char *s);
	int (*bind_int)(zt_stmt *st, int idx, int64_t v);
	int (*bind_blob)(zt_stmt *st, int idx, const void *p, size_t n);
	int (*bind_null)(zt_stmt *st, int idx);

	/* ZT_ROW, ZT_DONE (the cursor is then back at the start) or < 0. */
	int (*step)(zt_stmt *st);

	/* Column readers are only called on a current row with a column
	 * index store.c has checked against columns(). */
	int (*columns)(zt_stmt *st);
	bool (*is_null)(zt_stmt *st, int col);
	const char *(*text)(zt_stmt *st, int col);
	int64_t (*int64)(zt_stmt *st, int col);
	const void *(*blob)(zt_stmt *st, int col, size_t *len);

	int64_t (*changes)(zt_stmt *st);
	/* Drops the result and the bindings. */
	void (*reset)(zt_stmt *st);
};

/* Statements of one connection by SQL text: open addressing with linear
 * probing over a power-of-two table; entries are never removed before the
 * connection closes. */
struct store_cache {
	zt_stmt **slots;	/* NULL marks an empty slot */
	size_t cap;		/* 0 or a power of two */
	size_t count;
};

struct zt_db {
	const struct store_ops *ops;
	struct store_cache cache;
	int running;		/* statements that have a current row */
	bool busy;		/* counted in the busy statistic now */
};

struct zt_stmt {
	zt_db *db;
	char *sql;		/* the caller's text, as given: the cache key */
	uint64_t hash;		/* of sql */
	bool running;		/* the last step gave a row: not done, reset */
};

/* sqlite.c */
int store_sqlite_open(zt_db **out, const char *path);
/* Turns $N placeholders into ?N in place, outside literals and comments. */
void store_rewrite_params(char *sql);

/* pg.c */
int store_pg_open(zt_db **out, const char *url);

#endif
