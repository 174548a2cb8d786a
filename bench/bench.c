/*
 * bench.c: the helpers of bench.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* The tables the identity and audit migrations make, children first. */
static const char *const tables[] = {
	"accounts", "identity_attrs", "group_members", "group_closure",
	"identity_groups", "identities", "account_systems", "org_units",
	"tenants", "audit_log", "audit_head", "schema_migrations",
};

/* A statement of a multi-row INSERT binds at most this many values:
 * under SQLite's limit of 32766. */
#define ROWS_PARAMS_MAX 30000

int
bench_db_reset(zt_db *db)
{
	static const zt_migration_set *const sets[] = {
		&zt_audit_migrations, &zt_identity_migrations,
	};
	char sql[96];
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(tables); i++) {
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s",
		    tables[i]);
		(void)zt_db_exec(db, sql);
	}
	return zt_store_migrate(db, sets, ZT_ARRAY_LEN(sets));
}

static int
temp_file(char *out, size_t size)
{
	int fd;

	snprintf(out, size, "/tmp/ztiam-bench-XXXXXX");
	if ((fd = mkstemp(out)) < 0)
		return zt_error_set(ZT_ERR, "cannot make a temporary file");
	close(fd);
	return ZT_OK;
}

int
bench_db_open(bench_db *b, const char *keep)
{
	const char *env = getenv("ZTIAM_TEST_DB"), *sql = getenv("BENCH_SQL");
	int err;

	memset(b, 0, sizeof(*b));
	if (env != NULL && (zt_str_has_prefix(env, "postgres://") ||
	    zt_str_has_prefix(env, "postgresql://")))
		snprintf(b->url, sizeof(b->url), "%s", env);
	else if (keep != NULL) {
		snprintf(b->url, sizeof(b->url), "%s", keep);
		unlink(keep);
	} else if ((err = temp_file(b->url, sizeof(b->url))) < 0)
		return err;
	else
		b->remove = true;
	if ((err = zt_db_open(&b->db, b->url)) < 0)
		return err;
	if (sql != NULL && (err = zt_db_exec(b->db, sql)) < 0)
		return err;
	return bench_db_reset(b->db);
}

void
bench_db_close(bench_db *b)
{
	char side[4200];

	zt_db_close(b->db);
	b->db = NULL;
	if (!b->remove)
		return;
	unlink(b->url);
	snprintf(side, sizeof(side), "%s-wal", b->url);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", b->url);
	unlink(side);
}

int64_t
bench_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p % of the samples at
 * or below it. */
int64_t
bench_pct(int64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[(rank > n ? n : rank) - 1];
}

long
bench_status_kib(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long kib = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			kib = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

void
bench_load(char out[64])
{
	char buf[128] = "";
	FILE *f;
	int i, spaces = 0;

	if ((f = fopen("/proc/loadavg", "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == ' ' && ++spaces == 3) {
			buf[i] = '\0';
			break;
		}
	snprintf(out, 64, "%s", buf[0] ? buf : "unknown");
}

uint64_t
bench_rand(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

const char *
bench_num(char out[32], int64_t n)
{
	char digits[24];
	int len, i, o = 0;

	len = snprintf(digits, sizeof(digits), "%lld",
	    (long long)(n < 0 ? -n : n));
	if (n < 0)
		out[o++] = '-';
	for (i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}

/* ---- multi-row inserts --------------------------------------------------- */

int
bench_rows_init(bench_rows *r, zt_db *db, const char *into, int ncols,
    unsigned ints, int per)
{
	memset(r, 0, sizeof(*r));
	if (per * ncols > ROWS_PARAMS_MAX)
		per = ROWS_PARAMS_MAX / ncols;
	r->db = db;
	r->into = into;
	r->ncols = ncols;
	r->ints = ints;
	r->per = per;
	if ((r->vals = calloc((size_t)per * (size_t)ncols,
	    sizeof(*r->vals))) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

static int
rows_sql(zt_buf *sql, const bench_rows *r)
{
	int i, j, p = 1;

	zt_buf_addf(sql, "INSERT INTO %s VALUES ", r->into);
	for (i = 0; i < r->n; i++) {
		zt_buf_adds(sql, i ? ", (" : "(");
		for (j = 0; j < r->ncols; j++)
			zt_buf_addf(sql, "%s$%d", j ? ", " : "", p++);
		zt_buf_addc(sql, ')');
	}
	return sql->data ? ZT_OK : zt_error_set(ZT_ENOMEM, "out of memory");
}

int
bench_rows_flush(bench_rows *r)
{
	zt_buf sql = ZT_BUF_INIT((size_t)1 << 24);
	int64_t v;
	zt_stmt *st;
	int i, err;

	if (r->n == 0)
		return ZT_OK;
	if ((err = rows_sql(&sql, r)) < 0 ||
	    (err = zt_db_prepare(&st, r->db, sql.data)) < 0)
		goto out;
	for (i = 0; i < r->n * r->ncols; i++) {
		if (r->ints & 1u << (i % r->ncols)) {
			v = strtoll(r->vals[i], NULL, 10);
			zt_stmt_bind_int(st, i + 1, v);
		} else if (r->vals[i] == NULL)
			zt_stmt_bind_null(st, i + 1);
		else
			zt_stmt_bind_text(st, i + 1, r->vals[i]);
	}
	if ((err = zt_stmt_step(st)) > 0)
		err = ZT_OK;
	zt_stmt_reset(st);
out:
	for (i = 0; i < r->n * r->ncols; i++) {
		free(r->vals[i]);
		r->vals[i] = NULL;
	}
	r->n = 0;
	zt_buf_free(&sql);
	return err;
}

int
bench_rows_add(bench_rows *r, const char *const *vals)
{
	int j;

	for (j = 0; j < r->ncols; j++)
		if (vals[j] != NULL &&
		    (r->vals[r->n * r->ncols + j] = strdup(vals[j])) == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
	if (++r->n == r->per)
		return bench_rows_flush(r);
	return ZT_OK;
}

void
bench_rows_free(bench_rows *r)
{
	int i;

	for (i = 0; i < r->n * r->ncols; i++)
		free(r->vals[i]);
	free(r->vals);
	memset(r, 0, sizeof(*r));
}

int
bench_person_line(zt_buf *b, long i, const char *unit, bool account)
{
	zt_buf_addf(b, "{\"kind\":\"person\",\"name\":\"user-%07ld\","
	    "\"state\":\"active\",", i);
	if (unit != NULL)
		zt_buf_addf(b, "\"unit_id\":\"%s\",", unit);
	zt_buf_addf(b, "\"attributes\":{\"dept\":\"d%ld\",\"level\":%ld,"
	    "\"tags\":[\"a\",\"b\"]}", i % 50, i % 7);
	if (account)
		zt_buf_addf(b, ",\"accounts\":[{\"system\":\"staff\","
		    "\"login_name\":\"User%07ld@example.com\"}]", i);
	return zt_buf_adds(b, "}\n");
}
