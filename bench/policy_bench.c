/*
 * policy_bench: how fast zt_policy_decide decides, on a workload shaped
 * like the peer harness in peers/authz: 6 apps x 4 roles x 4 collections
 * = 96 RBAC+ABAC permits (role scope, action group, resource subtree, a
 * minimum trust score and a CIDR) plus 4 forbids, 100 policies in all;
 * 1,000 users with roles per app; roles, action groups and resources in
 * hierarchies.  Requests are generated from a fixed seed.  Prints the
 * throughput and the p50/p99 latency of one decision (contexts parsed
 * beforehand), then the throughput with the context JSON parsed per
 * request.  Asserts nothing.
 *
 *   policy_bench [REQUESTS [ROUNDS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "policy/policy.h"

#define APPS 6
#define USERS 1000

static const char *roles[] = { "viewer", "editor", "admin", "auditor" };
static const char *groups[] = { "read", "write", "admin", "read" };
static const char *cols[] = { "articles", "billing", "users", "reports" };
static const char *acts[] = { "getArticle", "listArticles", "putArticle",
    "deleteArticle", "exportReport" };
static const char *act_group[] = { "read", "read", "write", "admin",
    "read" };

static uint64_t seed = 0x2545f4914f6cdd1dULL;

static uint32_t
rnd(uint32_t n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed % n);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define PERMIT "permit (principal in Role::\"app%d/%s\", " \
	"action in Action::\"%s\", " \
	"resource in Resource::\"app%d|resources:%s\") when { " \
	"context.trustScore >= %d && " \
	"context.remoteIP.isInRange(ip(\"10.%d.0.0/16\")) };\n"

static void
add_policies(zt_buf *b)
{
	int a, r, c;

	for (a = 0; a < APPS; a++)
		for (r = 0; r < 4; r++)
			for (c = 0; c < 4; c++)
				zt_buf_addf(b, PERMIT, a, roles[r], groups[r],
				    a, cols[c], 40 + (int)rnd(41),
				    (a * 4 + c) % 8);
	zt_buf_adds(b, "forbid (principal, action, resource) when "
	    "{ context.trustScore < 30 };\n"
	    "forbid (principal, action, resource) when "
	    "{ context.remoteIP.isInRange(ip(\"10.7.66.0/24\")) };\n"
	    "forbid (principal in Role::\"app2/suspended\", action, "
	    "resource);\n"
	    "forbid (principal, action, resource in "
	    "Resource::\"app0|resources:billing\") unless "
	    "{ context.remoteIP.isInRange(ip(\"10.0.0.0/8\")) };\n");
}

static void
add_entity(zt_buf *b, const char *type, const char *id, const char *ptype,
    const char *pid)
{
	zt_buf_addf(b, "%s{\"uid\": {\"type\": \"%s\", \"id\": \"%s\"}, "
	    "\"attrs\": {}, \"parents\": [", b->len > 1 ? ",\n" : "", type, id);
	if (ptype != NULL)
		zt_buf_addf(b, "{\"type\": \"%s\", \"id\": \"%s\"}", ptype,
		    pid);
	zt_buf_adds(b, "]}");
}

static void
add_entities(zt_buf *b)
{
	char id[96], pid[96];
	int a, c, u, k, i;

	zt_buf_adds(b, "[");
	for (a = 0; a < APPS; a++) {
		snprintf(id, sizeof(id), "app%d/admin", a);
		snprintf(pid, sizeof(pid), "app%d/editor", a);
		add_entity(b, "Role", id, "Role", pid);
		snprintf(id, sizeof(id), "app%d/editor", a);
		snprintf(pid, sizeof(pid), "app%d/viewer", a);
		add_entity(b, "Role", id, "Role", pid);
		snprintf(id, sizeof(id), "app%d|resources", a);
		snprintf(pid, sizeof(pid), "app%d", a);
		add_entity(b, "Resource", id, "App", pid);
		for (c = 0; c < 4; c++) {
			snprintf(id, sizeof(id), "app%d|resources:%s", a,
			    cols[c]);
			snprintf(pid, sizeof(pid), "app%d|resources", a);
			add_entity(b, "Resource", id, "Resource", pid);
			for (k = 0; k < 20; k++) {
				snprintf(id, sizeof(id), "app%d|resources:%s:"
				    "o%d", a, cols[c], k);
				snprintf(pid, sizeof(pid), "app%d|resources:%s",
				    a, cols[c]);
				add_entity(b, "Resource", id, "Resource", pid);
			}
		}
	}
	add_entity(b, "Action", "read", "Action", "write");
	add_entity(b, "Action", "write", "Action", "admin");
	for (i = 0; i < (int)ZT_ARRAY_LEN(acts); i++)
		add_entity(b, "Action", acts[i], "Action", act_group[i]);
	for (u = 0; u < USERS; u++) {
		zt_buf_addf(b, ",\n{\"uid\": {\"type\": \"User\", \"id\": "
		    "\"u%d\"}, \"attrs\": {\"dept\": \"d%d\"}, \"parents\": [",
		    u, u % 7);
		for (k = 0; k < 1 + u % 3; k++)
			zt_buf_addf(b, "%s{\"type\": \"Role\", \"id\": "
			    "\"app%u/%s\"}", k > 0 ? ", " : "", rnd(APPS),
			    roles[rnd(4)]);
		zt_buf_adds(b, "]}");
	}
	zt_buf_adds(b, "]");
}

typedef struct req {
	char user[16], action[32], resource[64], context[128];
	zt_policy_context *ctx;
} req;

static void
make_requests(req *r, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		snprintf(r[i].user, sizeof(r[i].user), "u%u", rnd(USERS));
		snprintf(r[i].action, sizeof(r[i].action), "%s",
		    acts[rnd(ZT_ARRAY_LEN(acts))]);
		snprintf(r[i].resource, sizeof(r[i].resource),
		    "app%u|resources:%s:o%u", rnd(APPS), cols[rnd(4)],
		    rnd(20));
		snprintf(r[i].context, sizeof(r[i].context),
		    "{\"remoteIP\": {\"__extn\": {\"fn\": \"ip\", \"arg\": "
		    "\"10.%u.%u.5\"}}, \"trustScore\": %u}", rnd(8), rnd(80),
		    rnd(101));
		if (zt_policy_context_from_json(&r[i].ctx, r[i].context,
		    strlen(r[i].context)) != ZT_OK) {
			fprintf(stderr, "context: %s\n", zt_error_msg());
			exit(1);
		}
	}
}

static zt_policy_request
to_request(const req *r, const zt_policy_context *ctx)
{
	zt_policy_request q = {
		ZT_POLICY_UID("User", r->user),
		ZT_POLICY_UID("Action", r->action),
		ZT_POLICY_UID("Resource", r->resource), ctx,
	};

	return q;
}

static int
cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a > b) - (a < b);
}

/* Decides every request `rounds` times; prints throughput, and the
 * latency percentiles of the last round. */
static void
time_decisions(const zt_policy_set *ps, const zt_entities *es, req *r,
    int n, int rounds)
{
	zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;
	zt_policy_request q;
	int64_t *lat, t0, t;
	long allow = 0;
	int i, k;

	if ((lat = calloc((size_t)n, sizeof(*lat))) == NULL)
		exit(1);
	for (k = 0; k < rounds; k++) {
		allow = 0;
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			q = to_request(&r[i], r[i].ctx);
			(void)zt_policy_decide(&ans, ps, es, &q);
			allow += ans.decision == ZT_POLICY_ALLOW;
		}
		t = now_ns() - t0;
		printf("round %d: %d decisions in %.1f ms, %.0f decisions/s, "
		    "%ld allowed\n", k + 1, n, t / 1e6, n / (t / 1e9), allow);
	}
	for (i = 0; i < n; i++) {
		q = to_request(&r[i], r[i].ctx);
		t0 = now_ns();
		(void)zt_policy_decide(&ans, ps, es, &q);
		lat[i] = now_ns() - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
	printf("latency per decision: p50 %.2f us, p99 %.2f us, "
	    "max %.2f us\n", lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3,
	    lat[n - 1] / 1e3);
	free(lat);
	zt_policy_answer_free(&ans);
}

/* The same with the context parsed from JSON for every request, as a
 * server receiving it would. */
static void
time_with_context(const zt_policy_set *ps, const zt_entities *es, req *r,
    int n)
{
	zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;
	zt_policy_context *ctx;
	zt_policy_request q;
	int64_t t0 = now_ns(), t;
	int i;

	for (i = 0; i < n; i++) {
		if (zt_policy_context_from_json(&ctx, r[i].context,
		    strlen(r[i].context)) != ZT_OK)
			exit(1);
		q = to_request(&r[i], ctx);
		(void)zt_policy_decide(&ans, ps, es, &q);
		zt_policy_context_free(ctx);
	}
	t = now_ns() - t0;
	printf("with context JSON parsed per request: %.0f decisions/s\n",
	    n / (t / 1e9));
	zt_policy_answer_free(&ans);
}

int
main(int argc, char **argv)
{
	zt_buf pol = ZT_BUF_INIT(16 << 20), ent = ZT_BUF_INIT(64 << 20);
	zt_policy_error err;
	zt_policy_set *ps;
	zt_entities *es;
	int64_t n = 10000, rounds = 3, t0;
	req *r;
	int i;

	if ((argc > 1 && zt_parse_i64(argv[1], 1, 10000000, &n) != ZT_OK) ||
	    (argc > 2 && zt_parse_i64(argv[2], 1, 100, &rounds) != ZT_OK)) {
		fprintf(stderr, "usage: policy_bench [REQUESTS [ROUNDS]]\n");
		return 2;
	}
	add_policies(&pol);
	add_entities(&ent);
	t0 = now_ns();
	if (zt_policy_set_parse(&ps, pol.data, pol.len, &err) != ZT_OK) {
		fprintf(stderr, "policies: %d:%d %s\n", err.line, err.column,
		    err.message);
		return 1;
	}
	printf("parsed and indexed %zu policies in %.2f ms\n",
	    zt_policy_set_count(ps), (now_ns() - t0) / 1e6);
	t0 = now_ns();
	if (zt_entities_from_json(&es, ent.data, ent.len) != ZT_OK) {
		fprintf(stderr, "entities: %s\n", zt_error_msg());
		return 1;
	}
	printf("loaded %zu entities in %.2f ms\n", zt_entities_count(es),
	    (now_ns() - t0) / 1e6);
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return 1;
	make_requests(r, (int)n);
	time_decisions(ps, es, r, (int)n, (int)rounds);
	time_with_context(ps, es, r, (int)n);

	for (i = 0; i < n; i++)
		zt_policy_context_free(r[i].ctx);
	free(r);
	zt_entities_free(es);
	zt_policy_set_free(ps);
	zt_buf_free(&pol);
	zt_buf_free(&ent);
	return 0;
}
