/*
 * authz_seed: zt_policy_decide on the peers' workload, as bench/authz/
 * dump.js writes it (policies.cedar, entities.json, requests.jsonl and
 * the peers' reference decisions in expected.jsonl).  Times the parse of
 * the policy set and the load of the entities, then decides every request
 * ROUNDS times on one thread (contexts parsed beforehand, as the peers'
 * figures are taken) and prints one markdown row: decisions per second,
 * p50 and p99 of one decision, and the disagreements with the reference.
 * Asserts nothing.
 *
 *   bench_authz_seed DIR [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/base.h"
#include "policy/policy.h"

struct req {
	char *ptype, *pid, *atype, *aid, *rtype, *rid;
	zt_policy_context *ctx;
	bool allow;		/* the reference decision */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "bench_authz_seed: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void
uid_of(json_t *o, char **type, char **id)
{
	*type = strdup(json_string_value(json_object_get(o, "type")));
	*id = strdup(json_string_value(json_object_get(o, "id")));
}

/* Reads the requests and the reference decisions, line by line. */
static size_t
load_requests(struct req **out, const char *dir)
{
	size_t qlen, elen, n = 0, cap = 0;
	char *q = slurp(dir, "requests.jsonl", &qlen), *qs, *line;
	char *e = slurp(dir, "expected.jsonl", &elen), *es, *eline;
	struct req *v = NULL;
	char *ctx;
	json_t *j;

	for (line = strtok_r(q, "\n", &qs), eline = strtok_r(e, "\n", &es);
	    line != NULL && eline != NULL;
	    line = strtok_r(NULL, "\n", &qs), eline = strtok_r(NULL, "\n",
	    &es)) {
		if (n == cap && (v = realloc(v, (cap = cap ? 2 * cap : 1024) *
		    sizeof(*v))) == NULL)
			exit(1);
		if ((j = json_loads(line, 0, NULL)) == NULL)
			exit(1);
		uid_of(json_object_get(j, "principal"), &v[n].ptype,
		    &v[n].pid);
		uid_of(json_object_get(j, "action"), &v[n].atype, &v[n].aid);
		uid_of(json_object_get(j, "resource"), &v[n].rtype,
		    &v[n].rid);
		ctx = json_dumps(json_object_get(j, "context"), JSON_COMPACT);
		if (ctx == NULL || zt_policy_context_from_json(&v[n].ctx, ctx,
		    strlen(ctx)) < 0) {
			fprintf(stderr, "context: %s\n", zt_error_msg());
			exit(1);
		}
		free(ctx);
		json_decref(j);
		v[n].allow = strstr(eline, "\"allow\"") != NULL;
		n++;
	}
	free(q);
	free(e);
	*out = v;
	return n;
}

int
main(int argc, char **argv)
{
	zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;
	const char *dir = argc > 1 ? argv[1] : ".";
	int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
	zt_policy_error perr;
	zt_policy_set *ps;
	zt_entities *es;
	struct req *rq;
	size_t plen, elen, n, i, mism = 0, k = 0;
	int64_t t0, t_parse, t_ents, best = INT64_MAX, *lat;
	char *ptext, *etext;
	int r;

	ptext = slurp(dir, "policies.cedar", &plen);
	etext = slurp(dir, "entities.json", &elen);
	t0 = now_ns();
	if (zt_policy_set_parse(&ps, ptext, plen, &perr) < 0) {
		fprintf(stderr, "policies: %s\n", zt_error_msg());
		return 1;
	}
	t_parse = now_ns() - t0;
	t0 = now_ns();
	if (zt_entities_from_json(&es, etext, elen) < 0) {
		fprintf(stderr, "entities: %s\n", zt_error_msg());
		return 1;
	}
	t_ents = now_ns() - t0;
	n = load_requests(&rq, dir);
	if (n == 0 || rounds < 1 ||
	    (lat = malloc(n * (size_t)rounds * sizeof(*lat))) == NULL)
		return 1;

	/* A warm-up round that also checks every decision. */
	for (i = 0; i < n; i++) {
		zt_policy_request q = {
			{ rq[i].ptype, strlen(rq[i].ptype), rq[i].pid,
			  strlen(rq[i].pid) },
			{ rq[i].atype, strlen(rq[i].atype), rq[i].aid,
			  strlen(rq[i].aid) },
			{ rq[i].rtype, strlen(rq[i].rtype), rq[i].rid,
			  strlen(rq[i].rid) },
			rq[i].ctx,
		};

		if (zt_policy_decide(&ans, ps, es, &q) < 0)
			return 1;
		mism += (ans.decision == ZT_POLICY_ALLOW) != rq[i].allow;
	}
	/* Throughput: whole rounds, untimed per call; latency: per call. */
	for (r = 0; r < rounds; r++) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			zt_policy_request q = {
				ZT_POLICY_UID(rq[i].ptype, rq[i].pid),
				ZT_POLICY_UID(rq[i].atype, rq[i].aid),
				ZT_POLICY_UID(rq[i].rtype, rq[i].rid),
				rq[i].ctx,
			};

			(void)zt_policy_decide(&ans, ps, es, &q);
		}
		if (now_ns() - t0 < best)
			best = now_ns() - t0;
		for (i = 0; i < n; i++) {
			zt_policy_request q = {
				ZT_POLICY_UID(rq[i].ptype, rq[i].pid),
				ZT_POLICY_UID(rq[i].atype, rq[i].aid),
				ZT_POLICY_UID(rq[i].rtype, rq[i].rid),
				rq[i].ctx,
			};
			int64_t s = now_ns();

			(void)zt_policy_decide(&ans, ps, es, &q);
			lat[k++] = now_ns() - s;
		}
	}
	qsort(lat, k, sizeof(*lat), cmp64);
	printf("| %zu | %zu | %zu | %.1f | %.1f | %.0f | %.2f | %.2f | %zu |\n",
	    zt_policy_set_count(ps), zt_entities_count(es), n,
	    t_parse / 1e6, t_ents / 1e6, n / (best / 1e9),
	    lat[k / 2] / 1e3, lat[k * 99 / 100] / 1e3, mism);
	zt_policy_answer_free(&ans);
	zt_entities_free(es);
	zt_policy_set_free(ps);
	return 0;
}
