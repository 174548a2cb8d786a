/*
 * Tests of request conversion against a schema (policy/convert.c and the
 * schema-aware entity loader): strings become Longs, Booleans, ipaddrs
 * and datetimes where the schema says so, and everything that does not
 * fit is refused, so that a forbid can never be skipped for a type error
 * the request caused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "policy/policy.h"

static const char schema_json[] =
    "{\"\": {"
    " \"entityTypes\": {"
    "  \"User\": {\"memberOfTypes\": [\"Role\"], \"shape\": {\"type\": "
    "   \"Record\", \"attributes\": {"
    "    \"level\": {\"type\": \"Long\"},"
    "    \"mail\": {\"type\": \"String\", \"required\": false},"
    "    \"boss\": {\"type\": \"Entity\", \"name\": \"User\", "
    "     \"required\": false}}}},"
    "  \"Role\": {}, \"Resource\": {}},"
    " \"actions\": {"
    "  \"getArticle\": {\"appliesTo\": {\"principalTypes\": [\"User\"],"
    "   \"resourceTypes\": [\"Resource\"], \"context\": {\"type\": "
    "   \"Record\", \"attributes\": {"
    "    \"remoteIP\": {\"type\": \"Extension\", \"name\": \"ipaddr\"},"
    "    \"trustScore\": {\"type\": \"Long\"},"
    "    \"mfa\": {\"type\": \"Boolean\", \"required\": false},"
    "    \"at\": {\"type\": \"Extension\", \"name\": \"datetime\", "
    "     \"required\": false},"
    "    \"ttl\": {\"type\": \"Extension\", \"name\": \"duration\", "
    "     \"required\": false},"
    "    \"rate\": {\"type\": \"Extension\", \"name\": \"decimal\", "
    "     \"required\": false},"
    "    \"groups\": {\"type\": \"Set\", \"element\": {\"type\": "
    "     \"String\"}, \"required\": false},"
    "    \"owner\": {\"type\": \"Entity\", \"name\": \"User\", "
    "     \"required\": false},"
    "    \"geo\": {\"type\": \"Record\", \"required\": false, "
    "     \"attributes\": {\"lat\": {\"type\": \"Long\"}}}}}}}}}}";

static const char policy[] =
    "forbid (principal, action, resource) when {"
    "  context.trustScore < 50 };\n"
    "permit (principal, action == Action::\"getArticle\", resource) when {"
    "  context.remoteIP.isInRange(ip(\"192.168.0.0/16\")) };\n";

static zt_policy_schema *schema;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;

static int
setup(void **state)
{
	(void)state;
	return zt_policy_schema_from_json(&schema, schema_json,
	    strlen(schema_json)) == ZT_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	zt_policy_schema_free(schema);
	zt_policy_answer_free(&ans);
	return 0;
}

static int
ctx_rc(const char *json)
{
	zt_policy_uid act = ZT_POLICY_UID("Action", "getArticle");
	zt_policy_context *ctx;
	int rc;

	rc = zt_policy_context_from_json_schema(&ctx, schema, &act, json,
	    strlen(json));
	if (rc == ZT_OK)
		zt_policy_context_free(ctx);
	else
		assert_null(ctx);
	return rc;
}

static void
refused(const char *json, const char *why)
{
	if (ctx_rc(json) != ZT_EINVAL)
		fail_msg("accepted: %s", json);
	if (strstr(zt_error_msg(), why) == NULL)
		fail_msg("%s\n  message \"%s\" lacks \"%s\"", json,
		    zt_error_msg(), why);
}

#define BASE "\"remoteIP\": \"192.168.0.5\", \"trustScore\": "

/* The issue's own example: string values become the declared types, and
 * the decision is then made on real numbers and addresses. */
static void
test_policy_convert__decides_on_converted(void **state)
{
	zt_policy_uid act = ZT_POLICY_UID("Action", "getArticle");
	zt_policy_request req = {
		ZT_POLICY_UID("User", "jack"), act,
		ZT_POLICY_UID("Resource", "resources:articles:zto"), NULL,
	};
	static const char *ctxs[] = {
		"{" BASE "\"90\"}", "{" BASE "\"10\"}", "{" BASE "90}",
	};
	static const int want[] = { ZT_POLICY_ALLOW, ZT_POLICY_DENY,
	    ZT_POLICY_ALLOW };
	zt_policy_context *ctx;
	zt_policy_set *ps;
	size_t i;

	(void)state;
	assert_int_equal(zt_policy_set_parse(&ps, policy, strlen(policy),
	    NULL), ZT_OK);
	assert_int_equal(zt_policy_request_check(schema, &req), ZT_OK);
	for (i = 0; i < 3; i++) {
		assert_int_equal(zt_policy_context_from_json_schema(&ctx,
		    schema, &act, ctxs[i], strlen(ctxs[i])), ZT_OK);
		req.context = ctx;
		assert_int_equal(zt_policy_decide(&ans, ps, NULL, &req),
		    ZT_OK);
		assert_int_equal(ans.nerrors, 0);
		assert_int_equal(ans.decision, want[i]);
		zt_policy_context_free(ctx);
	}
	zt_policy_set_free(ps);
}

static void
test_policy_convert__accepted(void **state)
{
	(void)state;
	assert_int_equal(ctx_rc("{" BASE "\"-5\"}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "\"0\"}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "\"9223372036854775807\"}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "\"-9223372036854775808\"}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "1, \"mfa\": \"true\"}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "1, \"mfa\": false}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "1, \"at\": "
	    "\"2024-10-15T11:35:00+0200\", \"ttl\": \"1h30m\", "
	    "\"rate\": \"0.25\"}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "1, \"at\": {\"__extn\": {\"fn\": "
	    "\"datetime\", \"arg\": \"2024-10-15\"}}}"), ZT_OK);
	assert_int_equal(ctx_rc("{\"remoteIP\": {\"__extn\": {\"fn\": \"ip\", "
	    "\"arg\": \"::1\"}}, \"trustScore\": 1}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "1, \"groups\": [\"a\", \"b\"], "
	    "\"owner\": \"jack\", \"geo\": {\"lat\": \"48\"}}"), ZT_OK);
	assert_int_equal(ctx_rc("{" BASE "1, \"owner\": {\"type\": \"User\", "
	    "\"id\": \"jack\"}}"), ZT_OK);
}

static void
test_policy_convert__refused(void **state)
{
	zt_policy_uid nope = ZT_POLICY_UID("Action", "nope");
	zt_policy_context *ctx;

	(void)state;
	refused("{\"remoteIP\": \"192.168.0.5\"}",
	    "context.trustScore: required attribute missing");
	refused("{" BASE "\"90.5\"}", "context.trustScore: not a Long");
	refused("{" BASE "\" 90\"}", "not a Long");
	refused("{" BASE "\"+90\"}", "not a Long");
	refused("{" BASE "\"090\"}", "not a Long");
	refused("{" BASE "\"\"}", "not a Long");
	refused("{" BASE "\"9223372036854775808\"}", "not a Long");
	refused("{" BASE "true}", "not a Long");
	refused("{" BASE "1.5}", "not a Long");
	refused("{\"remoteIP\": \"192.168.0.500\", \"trustScore\": 1}",
	    "context.remoteIP: not an ipaddr");
	refused("{\"remoteIP\": 3232235525, \"trustScore\": 1}",
	    "not an ipaddr");
	refused("{\"remoteIP\": {\"__extn\": {\"fn\": \"decimal\", \"arg\": "
	    "\"1.0\"}}, \"trustScore\": 1}", "not an ipaddr");
	refused("{" BASE "1, \"mfa\": \"yes\"}", "context.mfa: not a Boolean");
	refused("{" BASE "1, \"mfa\": 1}", "not a Boolean");
	refused("{" BASE "1, \"at\": \"yesterday\"}", "not a datetime");
	refused("{" BASE "1, \"ttl\": \"90\"}", "not a duration");
	refused("{" BASE "1, \"rate\": \"1\"}", "not a decimal");
	refused("{" BASE "1, \"extra\": 1}",
	    "context.extra: attribute not declared");
	refused("{" BASE "1, \"groups\": \"a\"}", "not a Set");
	refused("{" BASE "1, \"groups\": [\"a\", 1]}",
	    "context.groups: not a String");
	refused("{" BASE "1, \"owner\": {\"type\": \"Role\", \"id\": \"x\"}}",
	    "declared type");
	refused("{" BASE "1, \"geo\": {}}", "context.geo.lat: required");
	refused("{" BASE "1, \"geo\": {\"lat\": \"x\"}}",
	    "context.geo.lat: not a Long");
	refused("[]", "not a Record");
	assert_int_equal(zt_policy_context_from_json_schema(&ctx, schema,
	    &nope, "{}", 2), ZT_EINVAL);
}

static void
test_policy_convert__request_check(void **state)
{
	zt_policy_request req = {
		ZT_POLICY_UID("User", "jack"),
		ZT_POLICY_UID("Action", "getArticle"),
		ZT_POLICY_UID("Resource", "r"), NULL,
	};

	(void)state;
	assert_int_equal(zt_policy_request_check(schema, &req), ZT_OK);
	req.principal = ZT_POLICY_UID("Role", "x");
	assert_int_equal(zt_policy_request_check(schema, &req), ZT_EINVAL);
	req.principal = ZT_POLICY_UID("User", "jack");
	req.resource = ZT_POLICY_UID("User", "x");
	assert_int_equal(zt_policy_request_check(schema, &req), ZT_EINVAL);
	req.resource = ZT_POLICY_UID("Resource", "r");
	req.action = ZT_POLICY_UID("Action", "deleteAll");
	assert_int_equal(zt_policy_request_check(schema, &req), ZT_EINVAL);
}

static void
test_policy_convert__entities(void **state)
{
	static const char good[] =
	    "[{\"uid\": {\"type\": \"User\", \"id\": \"jack\"},"
	    "  \"attrs\": {\"level\": \"3\", \"boss\": \"ann\"},"
	    "  \"parents\": [{\"type\": \"Role\", \"id\": \"app/viewer\"}]},"
	    " {\"uid\": {\"type\": \"Action\", \"id\": \"getArticle\"}},"
	    " {\"uid\": {\"type\": \"Role\", \"id\": \"app/viewer\"}}]";
	static const char *bad[] = {
	    "[{\"uid\": {\"type\": \"Ghost\", \"id\": \"x\"}}]",
	    "[{\"uid\": {\"type\": \"User\", \"id\": \"x\"}}]",
	    "[{\"uid\": {\"type\": \"User\", \"id\": \"x\"}, \"attrs\": "
	    "  {\"level\": \"high\"}}]",
	    "[{\"uid\": {\"type\": \"User\", \"id\": \"x\"}, \"attrs\": "
	    "  {\"level\": 1, \"shoe\": 42}}]",
	    "[{\"uid\": {\"type\": \"User\", \"id\": \"x\"}, \"attrs\": "
	    "  {\"level\": 1}, \"parents\": [{\"type\": \"Resource\", "
	    "  \"id\": \"r\"}]}]",
	};
	zt_policy_request req = {
		ZT_POLICY_UID("User", "jack"),
		ZT_POLICY_UID("Action", "getArticle"),
		ZT_POLICY_UID("Resource", "r"), NULL,
	};
	static const char pol[] = "permit (principal in Role::\"app/viewer\","
	    " action, resource) when { principal.level == 3 && "
	    "principal.boss == User::\"ann\" };";
	zt_entities *es;
	zt_policy_set *ps;
	size_t i;

	(void)state;
	assert_int_equal(zt_entities_from_json_schema(&es, schema, good,
	    strlen(good)), ZT_OK);
	assert_int_equal(zt_policy_set_parse(&ps, pol, strlen(pol), NULL),
	    ZT_OK);
	assert_int_equal(zt_policy_decide(&ans, ps, es, &req), ZT_OK);
	assert_int_equal(ans.decision, ZT_POLICY_ALLOW);
	zt_policy_set_free(ps);
	zt_entities_free(es);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (zt_entities_from_json_schema(&es, schema, bad[i],
		    strlen(bad[i])) != ZT_EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_null(es);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_convert__decides_on_converted),
		cmocka_unit_test(test_policy_convert__accepted),
		cmocka_unit_test(test_policy_convert__refused),
		cmocka_unit_test(test_policy_convert__request_check),
		cmocka_unit_test(test_policy_convert__entities),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
