/*
 * bench.h: what the identity benchmarks share.  A scratch database (a
 * temporary SQLite file, a kept one, or the PostgreSQL of ZTIAM_TEST_DB),
 * a clock and percentiles, the process's memory and the machine's load,
 * and multi-row INSERTs that set up data far faster than the API would
 * (setup is not what these programs measure).
 *
 * Benchmarks print figures and assert nothing; they exit non-zero only
 * when they could not run.
 */
#ifndef ZT_BENCH_H
#define ZT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "base/base.h"
#include "identity/identity.h"
#include "store/store.h"

/* A database to measure on.  SQLite files made here are removed by
 * bench_db_close; a kept file is not. */
typedef struct bench_db {
	zt_db *db;
	char url[4096];
	bool remove;			/* a temporary SQLite file */
} bench_db;

/*
 * Opens the database: ZTIAM_TEST_DB when it names a PostgreSQL server (a
 * scratch database: identity and audit tables are dropped), else the
 * SQLite file `keep` when given (made anew), else a temporary file.
 * BENCH_SQL, when set, runs on the connection first (to try settings).
 */
int bench_db_open(bench_db *b, const char *keep);
void bench_db_close(bench_db *b);
/* Drops the identity and audit tables and migrates them afresh. */
int bench_db_reset(zt_db *db);

/* Monotonic nanoseconds. */
int64_t bench_ns(void);
/* The p-th percentile (0 to 100) of n samples; sorts them. */
int64_t bench_pct(int64_t *v, size_t n, double p);
/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1. */
long bench_status_kib(const char *field);
/* The 1, 5 and 15 minute load averages, as /proc/loadavg has them. */
void bench_load(char out[64]);
/* A fixed-seed xorshift generator: the same data every run. */
uint64_t bench_rand(void);
/* Prints n with thousands separators ("1,000,000") into out. */
const char *bench_num(char out[32], int64_t n);

/*
 * Rows for one table, sent `per` at a time as one INSERT of that many
 * VALUES tuples.  Values are strings; columns whose bit is set in `ints`
 * are bound as integers.  Run inside the caller's transaction.
 */
typedef struct bench_rows {
	zt_db *db;
	const char *into;		/* "table (col, ...)" */
	int ncols;
	unsigned ints;			/* bit i: column i is a number */
	int per;
	int n;				/* rows held */
	char **vals;			/* per * ncols copies */
} bench_rows;

int bench_rows_init(bench_rows *r, zt_db *db, const char *into, int ncols,
    unsigned ints, int per);
/* Adds one row of ncols values; flushes when `per` are held. */
int bench_rows_add(bench_rows *r, const char *const *vals);
/* Inserts the rows held. */
int bench_rows_flush(bench_rows *r);
void bench_rows_free(bench_rows *r);

/* One line of NDJSON for the import: a person with the attributes the
 * benchmarks filter on (dept d0 to d49, level 0 to 6, a set of two tags),
 * in `unit` when not NULL, with an account in system "staff" when
 * `account` is set. */
int bench_person_line(zt_buf *b, long i, const char *unit, bool account);

#endif
