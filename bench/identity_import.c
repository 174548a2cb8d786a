/*
 * identity_import: how fast zt_identity_import loads identities with an
 * account each.  Builds N lines of NDJSON (a person with three
 * attributes, a unit, and one account), imports them into a fresh
 * database in one call, and prints the rate, the time, and the process's
 * memory afterwards.  Asserts nothing.
 *
 *   bench_identity_import [-n LINES] [-k PATH]
 *
 *   -n LINES   lines to import (default 1,000,000)
 *   -k PATH    keep the SQLite database at PATH (made anew), for
 *              bench_identity_queries -r or `ztiam serve --data DIR`
 *              when PATH is DIR/ztiam.db
 *
 * The database is the PostgreSQL of ZTIAM_TEST_DB when that is set to a
 * postgres:// URL (a scratch database: the identity tables in it are
 * dropped first), else SQLite.  BENCH_SQL, when set, is run on the
 * connection before anything else, to try settings such as
 * "PRAGMA cache_size=-262144".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static int
prepare_db(const zt_id_ctx *cx, char unit[ZT_ID_LEN + 1])
{
	json_t *doc;
	int err;

	if ((err = zt_tenant_create(&doc, cx, "bench", "Bench")) < 0)
		return err;
	json_decref(doc);
	if ((err = zt_acctsys_create(&doc, cx, "bench", &(zt_acctsys_spec){
	    .name = "staff", .kind = "workforce" })) < 0)
		return err;
	json_decref(doc);
	if ((err = zt_unit_create(&doc, cx, "bench", NULL, "Everyone")) < 0)
		return err;
	snprintf(unit, ZT_ID_LEN + 1, "%s",
	    json_string_value(json_object_get(doc, "id")));
	json_decref(doc);
	return ZT_OK;
}

static int
make_input(zt_buf *b, long n, const char *unit)
{
	long i;
	int err;

	for (i = 0; i < n; i++)
		if ((err = bench_person_line(b, i, unit, true)) < 0)
			return err;
	return ZT_OK;
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: bench_identity_import [-n LINES] "
	    "[-k PATH]\n");
	exit(2);
}

static void
report(const bench_db *bd, const zt_import_stats *st, int64_t ns,
    size_t input, const char *load0)
{
	char a[32], b[32], c[32], load1[64];
	long rss = bench_status_kib("VmRSS"), hwm = bench_status_kib("VmHWM");

	bench_load(load1);
	printf("| measure | result |\n|---|---|\n");
	printf("| database | %s |\n", zt_db_driver_name(bd->db));
	printf("| lines | %s (%s ok, %s failed) |\n",
	    bench_num(a, (int64_t)st->lines), bench_num(b, (int64_t)st->ok),
	    bench_num(c, (int64_t)st->failed));
	printf("| time | %.1f s |\n", (double)ns / 1e9);
	printf("| rate | %s lines/s |\n", bench_num(a, (int64_t)((double)
	    st->lines * 1e9 / (double)(ns > 0 ? ns : 1))));
	printf("| RSS after the import, input freed | %.1f MiB |\n",
	    (double)rss / 1024);
	printf("| peak RSS, with the %.0f MiB input | %.1f MiB |\n",
	    (double)input / 1048576, (double)hwm / 1024);
	printf("| load average before / after | %s / %s |\n", load0, load1);
}

int
main(int argc, char **argv)
{
	char unit[ZT_ID_LEN + 1], load0[64];
	const char *keep = NULL;
	long n = 1000000;
	zt_actor actor = { "system", NULL, NULL };
	zt_buf in = ZT_BUF_INIT((size_t)1 << 34);
	zt_import_stats st;
	size_t input;
	zt_id_ctx cx;
	bench_db bd;
	int64_t t0, t1;
	int c, err;

	while ((c = getopt(argc, argv, "n:k:")) != -1) {
		if (c == 'n')
			n = strtol(optarg, NULL, 10);
		else if (c == 'k')
			keep = optarg;
		else
			usage();
	}
	if (n < 1 || optind != argc)
		usage();
	zt_log_setup(ZT_LOG_WARN, ZT_LOG_LOGFMT, 2);
	if ((err = bench_db_open(&bd, keep)) < 0) {
		fprintf(stderr, "open: %s\n", zt_error_msg());
		return 1;
	}
	cx = (zt_id_ctx){ bd.db, NULL, &actor, { NULL, NULL } };
	if ((err = prepare_db(&cx, unit)) < 0 ||
	    (err = make_input(&in, n, unit)) < 0) {
		fprintf(stderr, "setup: %s\n", zt_error_msg());
		return 1;
	}

	bench_load(load0);
	t0 = bench_ns();
	err = zt_identity_import(&st, &cx, "bench", in.data, in.len, NULL,
	    NULL);
	t1 = bench_ns();
	if (err < 0)
		fprintf(stderr, "import: %s\n", zt_error_msg());
	input = in.len;
	zt_buf_free(&in);
	report(&bd, &st, t1 - t0, input, load0);
	bench_db_close(&bd);
	return err < 0;
}
