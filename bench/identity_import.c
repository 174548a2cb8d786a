/*
 * identity_import: how fast zt_identity_import loads identities with an
 * account each.  Builds N lines of NDJSON (a person with three attributes,
 * a unit, and one account), imports them into a fresh database, and
 * prints the rate.  Asserts nothing.
 *
 *   identity_import [N [DATABASE-URL]]
 *
 * N defaults to 100000; the database to a new SQLite file under /tmp
 * (removed afterwards).  A postgres:// URL must name a scratch database:
 * the identity tables in it are dropped first.  BENCH_SQL, when set, is
 * run on the connection before anything else, to try settings such as
 * "PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "base/base.h"
#include "identity/identity.h"
#include "store/store.h"

static const char *const tables[] = {
	"accounts", "identity_attrs", "group_members", "group_closure",
	"identity_groups", "identities", "account_systems", "org_units",
	"tenants", "audit_log", "audit_head", "schema_migrations",
};

static int
prepare_db(zt_db *db, const zt_id_ctx *cx, char unit[ZT_ID_LEN + 1])
{
	static const zt_migration_set *const sets[] = {
		&zt_audit_migrations, &zt_identity_migrations,
	};
	char sql[96];
	json_t *doc;
	size_t i;
	int err;

	for (i = 0; i < ZT_ARRAY_LEN(tables); i++) {
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s",
		    tables[i]);
		zt_db_exec(db, sql);
	}
	if ((err = zt_store_migrate(db, sets, ZT_ARRAY_LEN(sets))) < 0 ||
	    (err = zt_tenant_create(&doc, cx, "bench", "Bench")) < 0)
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
		if ((err = zt_buf_addf(b, "{\"kind\":\"person\","
		    "\"name\":\"user-%07ld\",\"state\":\"active\","
		    "\"unit_id\":\"%s\",\"attributes\":{\"dept\":\"d%ld\","
		    "\"level\":%ld,\"tags\":[\"a\",\"b\"]},\"accounts\":["
		    "{\"system\":\"staff\",\"login_name\":\"User%07ld@example"
		    ".com\"}]}\n", i, unit, i % 50, i % 7, i)) < 0)
			return err;
	return ZT_OK;
}

int
main(int argc, char **argv)
{
	char path[64] = "", wal[72], unit[ZT_ID_LEN + 1];
	const char *url;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
	zt_actor actor = { "system", NULL, NULL };
	zt_buf in = ZT_BUF_INIT((size_t)1 << 34);
	zt_import_stats st;
	zt_id_ctx cx;
	zt_db *db;
	int64_t t0, t1;
	int fd, err;

	zt_log_setup(ZT_LOG_WARN, ZT_LOG_LOGFMT, 2);
	if (argc > 2) {
		url = argv[2];
	} else {
		snprintf(path, sizeof(path), "/tmp/ztiam-bench-XXXXXX");
		if ((fd = mkstemp(path)) < 0)
			return 1;
		close(fd);
		url = path;
	}
	if (n < 1 || zt_db_open(&db, url) < 0) {
		fprintf(stderr, "open: %s\n", zt_error_msg());
		return 1;
	}
	cx = (zt_id_ctx){ db, NULL, &actor, { NULL, NULL } };
	if (getenv("BENCH_SQL") != NULL &&
	    zt_db_exec(db, getenv("BENCH_SQL")) < 0) {
		fprintf(stderr, "BENCH_SQL: %s\n", zt_error_msg());
		return 1;
	}
	if ((err = prepare_db(db, &cx, unit)) < 0 ||
	    (err = make_input(&in, n, unit)) < 0) {
		fprintf(stderr, "setup: %s\n", zt_error_msg());
		return 1;
	}

	t0 = zt_mono_us();
	err = zt_identity_import(&st, &cx, "bench", in.data, in.len, NULL,
	    NULL);
	t1 = zt_mono_us();
	if (err < 0)
		fprintf(stderr, "import: %s\n", zt_error_msg());
	printf("%s: %zu lines, %zu ok, %zu failed in %.2f s: %.0f lines/s\n",
	    zt_db_driver_name(db), st.lines, st.ok, st.failed,
	    (double)(t1 - t0) / 1e6, (double)st.lines * 1e6 /
	    (double)(t1 - t0));
	zt_buf_free(&in);
	zt_db_close(db);
	if (path[0]) {
		unlink(path);
		snprintf(wal, sizeof(wal), "%s-wal", path);
		unlink(wal);
	}
	return err < 0;
}
