/*
 * Request counters and latency histograms for /metrics, in the Prometheus
 * text format.
 *
 * Each worker has its own block of counters, one set per route plus one
 * for requests that matched no route, and only that worker writes it, so
 * the hot path takes no lock and shares no cache line with another
 * thread.  Counters are C11 atomics with relaxed order: a reader on
 * another thread sees whole values, possibly a request behind.  Because
 * each counter has a single writer, an increment is a relaxed load and
 * store rather than a locked read-modify-write.
 *
 * Statuses are counted in fixed slots: the codes an API commonly sends,
 * then one slot per class ("4xx") for the rest, so an unusual 5xx still
 * shows under a status=~"5.." alert.  The histogram stores per-bucket
 * counts; zt_http_metrics adds them up into Prometheus's cumulative form,
 * and the _count is that sum, so it always agrees with the buckets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* Upper bounds of the latency buckets in microseconds; the last is +Inf. */
static const int64_t bucket_us[HTTP_NBUCKETS - 1] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000,
};
static const char *const bucket_le[HTTP_NBUCKETS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25", "0.5", "1", "2.5", "5", "+Inf",
};

/* Status codes with a slot of their own; the five class slots follow. */
static const int status_codes[HTTP_NSTATUS - 5] = {
	200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 406, 409,
	410, 412, 413, 415, 417, 422, 429, 431, 500, 501, 502, 503, 504,
};
static const char *const class_names[5] = {
	"1xx", "2xx", "3xx", "4xx", "5xx",
};

static int
status_slot(int status)
{
	int i, n = (int)ZT_ARRAY_LEN(status_codes);

	for (i = 0; i < n; i++)
		if (status_codes[i] == status)
			return i;
	if (status < 100 || status > 599)
		status = 500;
	return n + status / 100 - 1;
}

static int
bucket_slot(int64_t us)
{
	int i;

	for (i = 0; i < HTTP_NBUCKETS - 1; i++)
		if (us <= bucket_us[i])
			return i;
	return HTTP_NBUCKETS - 1;
}

/* Single-writer increment: see the top of the file. */
static void
ctr_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

static uint64_t
ctr_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

int
metrics_worker_init(struct zt_worker *w, int nroutes)
{
	w->stats.routes = calloc((size_t)nroutes + 1,
	    sizeof(*w->stats.routes));
	if (w->stats.routes == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

void
metrics_worker_fini(struct zt_worker *w)
{
	free(w->stats.routes);
	w->stats.routes = NULL;
}

/* Counts one request; `route` -1 is "unmatched". */
void
metrics_record(struct zt_worker *w, int route, int status, int64_t us)
{
	struct route_stats *rs;

	if (route < 0)
		route = w->srv->nroutes;
	rs = &w->stats.routes[route];
	if (us < 0)
		us = 0;
	ctr_add(&rs->status[status_slot(status)], 1);
	ctr_add(&rs->bucket[bucket_slot(us)], 1);
	ctr_add(&rs->sum_us, (uint64_t)us);
}

void
metrics_conns(struct zt_worker *w, int delta)
{
	atomic_store_explicit(&w->stats.conns, atomic_load_explicit(
	    &w->stats.conns, memory_order_relaxed) + delta,
	    memory_order_relaxed);
}

/* ---- exposition -------------------------------------------------------- */

/* A label value with '\', '"' and newlines escaped, cut at 128 bytes
 * (route names are short; this only bounds a mistake). */
static void
label_value(char out[260], const char *s)
{
	size_t o = 0;

	for (; *s && o < 128; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else
			out[o++] = *s;
	}
	out[o] = '\0';
}

/* Sums route `r` over the workers into `sum`. */
static void
route_total(zt_http *srv, int r, struct route_stats *sum)
{
	struct route_stats *rs;
	int i, k;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < srv->nworkers; i++) {
		if (srv->workers[i].stats.routes == NULL)
			continue;
		rs = &srv->workers[i].stats.routes[r];
		for (k = 0; k < HTTP_NSTATUS; k++)
			ctr_add(&sum->status[k], ctr_get(&rs->status[k]));
		for (k = 0; k < HTTP_NBUCKETS; k++)
			ctr_add(&sum->bucket[k], ctr_get(&rs->bucket[k]));
		ctr_add(&sum->sum_us, ctr_get(&rs->sum_us));
	}
}

static const char *
route_label(zt_http *srv, int r, char out[260])
{
	label_value(out, r < srv->nroutes ? srv->routes[r].name :
	    "unmatched");
	return out;
}

static void
write_requests(zt_http *srv, zt_buf *out, struct route_stats *tot)
{
	char label[260], code[8];
	uint64_t n;
	int r, k, ncodes = (int)ZT_ARRAY_LEN(status_codes);

	zt_buf_adds(out,
	    "# HELP ztiam_http_requests_total HTTP requests answered, by "
	    "route and status.\n"
	    "# TYPE ztiam_http_requests_total counter\n");
	for (r = 0; r <= srv->nroutes; r++) {
		route_label(srv, r, label);
		for (k = 0; k < HTTP_NSTATUS; k++) {
			if ((n = ctr_get(&tot[r].status[k])) == 0)
				continue;
			if (k < ncodes)
				snprintf(code, sizeof(code), "%d",
				    status_codes[k]);
			else
				snprintf(code, sizeof(code), "%s",
				    class_names[k - ncodes]);
			zt_buf_addf(out, "ztiam_http_requests_total"
			    "{route=\"%s\",status=\"%s\"} %llu\n", label,
			    code, (unsigned long long)n);
		}
	}
}

static void
write_durations(zt_http *srv, zt_buf *out, struct route_stats *tot)
{
	char label[260];
	uint64_t cum;
	int r, k;

	zt_buf_adds(out,
	    "# HELP ztiam_http_request_duration_seconds Time from a request's "
	    "dispatch to its reply, by route.\n"
	    "# TYPE ztiam_http_request_duration_seconds histogram\n");
	for (r = 0; r <= srv->nroutes; r++) {
		route_label(srv, r, label);
		cum = 0;
		for (k = 0; k < HTTP_NBUCKETS; k++) {
			cum += ctr_get(&tot[r].bucket[k]);
			zt_buf_addf(out, "ztiam_http_request_duration_seconds_"
			    "bucket{route=\"%s\",le=\"%s\"} %llu\n", label,
			    bucket_le[k], (unsigned long long)cum);
		}
		zt_buf_addf(out, "ztiam_http_request_duration_seconds_sum"
		    "{route=\"%s\"} %.6f\n", label,
		    (double)ctr_get(&tot[r].sum_us) / 1e6);
		zt_buf_addf(out, "ztiam_http_request_duration_seconds_count"
		    "{route=\"%s\"} %llu\n", label, (unsigned long long)cum);
	}
}

static void
write_connections(zt_http *srv, zt_buf *out)
{
	int64_t conns = 0;
	uint64_t hits = 0;
	int i;

	for (i = 0; i < srv->nworkers; i++) {
		conns += atomic_load_explicit(&srv->workers[i].stats.conns,
		    memory_order_relaxed);
		hits += ctr_get(&srv->workers[i].stats.cap_hits);
	}
	zt_buf_addf(out,
	    "# HELP ztiam_http_connections Open client connections.\n"
	    "# TYPE ztiam_http_connections gauge\n"
	    "ztiam_http_connections %lld\n"
	    "# HELP ztiam_http_connection_limit_hits_total Times a worker "
	    "stopped accepting at its connection cap.\n"
	    "# TYPE ztiam_http_connection_limit_hits_total counter\n"
	    "ztiam_http_connection_limit_hits_total %llu\n",
	    (long long)conns, (unsigned long long)hits);
}

void
zt_http_metrics(zt_http *srv, zt_buf *out)
{
	struct route_stats *tot;
	int r;

	tot = calloc((size_t)srv->nroutes + 1, sizeof(*tot));
	if (tot == NULL) {
		log_error("metrics: out of memory");
		return;
	}
	for (r = 0; r <= srv->nroutes; r++)
		route_total(srv, r, &tot[r]);
	write_requests(srv, out, tot);
	write_durations(srv, out, tot);
	write_connections(srv, out);
	free(tot);
}
