/*
 * bench_authz_decide: the decision service's in-process cost, without
 * HTTP or a database: zt_authz_decide on a seed-format request, mapped to
 * entities and converted against the schema, then decided against an
 * application store of 100 policies and a tenant-wide forbid, for 1,000
 * users in 20 groups (the data set of bench/authz_http.sh).  Prints
 * decisions per second on one thread and the p50 and p99 of a decision;
 * asserts nothing.
 *
 *   bench_authz_decide [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "base/base.h"

#define USERS 1000

static const char schema[] =
    "{\"\": {\"entityTypes\": {\"User\": {\"memberOfTypes\": [\"Group\"],"
    " \"shape\": {\"type\": \"Record\", \"attributes\": {\"level\": "
    "{\"type\": \"Long\"}, \"department\": {\"type\": \"String\"}}}},"
    " \"Group\": {}, \"Application\": {}, \"Resource\": {\"memberOfTypes\":"
    " [\"Resource\", \"Application\"]}}, \"actions\": {\"read\": {},"
    " \"getArticleID\": {\"memberOf\": [{\"id\": \"read\"}], \"appliesTo\":"
    " {\"principalTypes\": [\"User\"], \"resourceTypes\": [\"Resource\"],"
    " \"context\": {\"type\": \"Record\", \"attributes\": {\"remoteIP\":"
    " {\"type\": \"Extension\", \"name\": \"ipaddr\"}, \"trustScore\":"
    " {\"type\": \"Long\"}}}}}}}}";

static char *
policies(void)
{
	zt_buf b = ZT_BUF_INIT(1 << 20);
	int k;

	for (k = 0; k < 50; k++)
		zt_buf_addf(&b, "@id(\"folder%d\") permit(principal in "
		    "Group::\"g%02d\", action in Action::\"read\", resource in "
		    "Resource::\"resources:articles:a%d\");\n", k, k % 20, k);
	for (k = 0; k < 40; k++)
		zt_buf_addf(&b, "@id(\"attr%d\") permit(principal, action == "
		    "Action::\"getArticleID\", resource in Resource::\""
		    "resources:articles:a%d\") when { principal.level >= %d && "
		    "context.trustScore > %d && principal.department == "
		    "\"d%d\" };\n", k, k, k % 7, 50 + k % 30, k % 5);
	for (k = 0; k < 10; k++)
		zt_buf_addf(&b, "@id(\"deny%d\") forbid(principal, action, "
		    "resource in Resource::\"resources:articles:a%d\") when { "
		    "context.trustScore < %d };\n", k, k * 5, 45 + k);
	return zt_buf_detach(&b);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static zt_authz_subject subs[USERS];
	static json_t *reqs[256];
	zt_authz_source app = { "bench", "eihxiidhh23s", "", 1,
	    ZT_AUTHZ_CEDAR, NULL, schema, NULL };
	zt_authz_source ten = { "bench", NULL, "", 1, ZT_AUTHZ_CEDAR,
	    "forbid(principal, action, resource) when { context.remoteIP."
	    "isInRange(ip(\"10.0.0.0/8\")) };", NULL, NULL };
	zt_authz_view v = ZT_AUTHZ_VIEW_INIT;
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
	int64_t *lat, t0, t1, end;
	size_t n = 0, cap = 1 << 22, allow = 0, i;
	zt_authz_request r;
	json_t *out;
	zt_authz *az;
	char text[512], *ptext = policies();

	app.policies = ptext;
	if (zt_authz_new(&az) != ZT_OK || zt_authz_install(az, &app) !=
	    ZT_OK || zt_authz_install(az, &ten) != ZT_OK) {
		fprintf(stderr, "bench_authz_decide: %s\n", zt_error_msg());
		return 1;
	}
	for (i = 0; i < USERS; i++) {
		snprintf(subs[i].id, sizeof(subs[i].id), "id%zu", i);
		snprintf(subs[i].name, sizeof(subs[i].name), "user%04zu", i);
		snprintf(subs[i].state, sizeof(subs[i].state), "active");
		subs[i].attributes = json_pack("{s:s, s:s}", "level",
		    (char[2]){ (char)('0' + i % 7), 0 }, "department",
		    (char[3]){ 'd', (char)('0' + i % 5), 0 });
		subs[i].groups = json_array();
		snprintf(text, sizeof(text), "g%02zu", i % 20);
		json_array_append_new(subs[i].groups, json_string(text));
		subs[i].units = json_array();
	}
	for (i = 0; i < 256; i++) {
		snprintf(text, sizeof(text), "{\"appid\":\"eihxiidhh23s\","
		    "\"user\":\"x\",\"action\":\"getArticleID\",\"resource\":"
		    "\"resources:articles:a%zu\",\"context\":{\"remoteIP\":"
		    "\"192.168.%zu.5\",\"trustScore\":\"%zu\"}}", i % 50, i % 4,
		    40 + i % 60);
		reqs[i] = json_loads(text, 0, NULL);
	}
	lat = malloc(cap * sizeof(*lat));
	t0 = zt_mono_us();
	end = t0 + (int64_t)(secs * 1e6);
	for (t1 = t0; t1 < end && n < cap; n++) {
		int64_t a = zt_mono_us();

		zt_authz_request_read(&r, reqs[n % 256]);
		if (zt_authz_decide(&out, zt_authz_view_get(az, &v), &r,
		    &subs[n % USERS], false) != ZT_OK)
			return 1;
		allow += strcmp(json_string_value(json_object_get(out,
		    "decision")), "allow") == 0;
		json_decref(out);
		t1 = zt_mono_us();
		lat[n] = t1 - a;
	}
	qsort(lat, n, sizeof(*lat), cmp64);
	printf("| zt_authz_decide, 100 policies + 1 tenant-wide, 1,000 users "
	    "| %.0f decisions/s on 1 thread | p50 %lld us, p99 %lld us | "
	    "%.0f %% allowed |\n", (double)n * 1e6 / (double)(t1 - t0),
	    (long long)lat[n / 2], (long long)lat[n * 99 / 100],
	    100.0 * (double)allow / (double)n);
	free(lat);
	zt_authz_view_release(&v);
	zt_authz_free(az);
	free(ptext);
	for (i = 0; i < USERS; i++)
		zt_authz_subject_clear(&subs[i]);
	for (i = 0; i < 256; i++)
		json_decref(reqs[i]);
	return 0;
}
