/*
 * Operational endpoints: liveness (/healthz: the process answers),
 * readiness (/readyz: the database answers and every migration is
 * applied), Prometheus metrics and the version.  They need no token so
 * that probes and scrapers work; they reveal no tenant data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "base/base.h"

static void
healthz(zt_req *req)
{
	zt_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void
readyz(zt_req *req)
{
	zt_db *db = api_db(req);

	if (!zt_db_ping(db)) {
		zt_reply_problem(req, 503, "database_unreachable",
		    "the database does not answer");
		return;
	}
	if (!zt_store_migrated(db, zt_api_migrations, zt_api_nmigrations)) {
		zt_reply_problem(req, 503, "migrations_pending",
		    "database migrations are not all applied");
		return;
	}
	zt_reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

/* Resident set size from /proc, for the process_resident_memory_bytes
 * gauge that Prometheus users expect. */
static long
resident_bytes(void)
{
	char line[128], *p, *end;
	long rss;
	FILE *f;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return 0;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* "size resident shared ...", in pages */
	if (p == NULL || (p = strchr(line, ' ')) == NULL)
		return 0;
	rss = strtol(p + 1, &end, 10);
	return end == p + 1 ? 0 : rss * sysconf(_SC_PAGESIZE);
}

static void
metrics(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	zt_buf out = ZT_BUF_INIT(4 << 20);
	zt_store_stats st;

	zt_http_metrics(app->http, &out);
	api_authz_metrics(app, &out);
	zt_store_stats_get(&st);
	zt_buf_addf(&out,
	    "# HELP ztiam_db_connections Database connections open.\n"
	    "# TYPE ztiam_db_connections gauge\n"
	    "ztiam_db_connections %llu\n"
	    "# HELP ztiam_db_connections_busy Connections inside a statement "
	    "or transaction.\n"
	    "# TYPE ztiam_db_connections_busy gauge\n"
	    "ztiam_db_connections_busy %llu\n"
	    "# HELP ztiam_db_queries_total Statements run.\n"
	    "# TYPE ztiam_db_queries_total counter\n"
	    "ztiam_db_queries_total %llu\n"
	    "# HELP ztiam_db_errors_total Statements that failed.\n"
	    "# TYPE ztiam_db_errors_total counter\n"
	    "ztiam_db_errors_total %llu\n"
	    "# HELP process_resident_memory_bytes Resident memory.\n"
	    "# TYPE process_resident_memory_bytes gauge\n"
	    "process_resident_memory_bytes %ld\n"
	    "# HELP process_start_time_seconds Start time, Unix seconds.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %lld\n",
	    (unsigned long long)st.open, (unsigned long long)st.busy,
	    (unsigned long long)st.queries, (unsigned long long)st.errors,
	    resident_bytes(), (long long)(app->started_ms / 1000));
	zt_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
	    out.data, out.len);
	zt_buf_free(&out);
}

static void
version(zt_req *req)
{
	zt_app *app = zt_req_app(req);

	zt_reply_json(req, 200, json_pack("{s:s}", "version", app->version));
}

/* The caller as the server sees it: a small authenticated resource, and
 * what the HTTP benchmark fetches. */
static void
whoami(zt_req *req)
{
	const zt_principal *p = api_principal(req);

	zt_reply_json(req, 200, json_pack("{s:s, s:s?, s:s}",
	    "token_id", p->token_id,
	    "tenant", p->system ? NULL : p->tenant,
	    "scope", p->system ? "system" : "tenant"));
}

int
api_ops_routes(zt_http *srv)
{
	int err;

	if ((err = zt_http_route(srv, ZT_GET, "/healthz", healthz, "healthz",
	    ZT_ROUTE_PUBLIC | ZT_ROUTE_NOLOG)) < 0 ||
	    (err = zt_http_route(srv, ZT_GET, "/readyz", readyz, "readyz",
	    ZT_ROUTE_PUBLIC | ZT_ROUTE_NOLOG)) < 0 ||
	    (err = zt_http_route(srv, ZT_GET, "/metrics", metrics, "metrics",
	    ZT_ROUTE_PUBLIC | ZT_ROUTE_NOLOG)) < 0 ||
	    (err = zt_http_route(srv, ZT_GET, "/version", version, "version",
	    ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(srv, ZT_GET, "/v1/whoami", whoami, "whoami",
	    0)) < 0)
		return err;
	return ZT_OK;
}
