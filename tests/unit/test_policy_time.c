/*
 * Tests of Cedar's datetime and duration extension types (policy/extn.c,
 * eval.c): the literal forms each constructor accepts and refuses, the
 * methods, comparisons and equality, overflow, and the __extn JSON form
 * in contexts and entities.  Like test_policy_eval.c, each expression is
 * wrapped in `permit (principal, action, resource) when { ... };` and
 * decided against one request: true (allow), false, or an error.
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

enum { F = 0, T = 1, E = 2 };

static const char entities_json[] =
    "[{\"uid\": {\"type\": \"User\", \"id\": \"alice\"},"
    "  \"attrs\": {\"hired\": {\"__extn\": {\"fn\": \"datetime\","
    "    \"arg\": \"2020-03-01\"}}}, \"parents\": []}]";

static const char context_json[] =
    "{\"now\": {\"__extn\": {\"fn\": \"datetime\","
    "   \"arg\": \"2024-10-15T11:35:00Z\"}},"
    " \"ttl\": {\"__extn\": {\"fn\": \"duration\", \"arg\": \"-1h30m\"}},"
    " \"s\": \"2024-10-15\", \"bad\": \"yesterday\"}";

static zt_entities *es;
static zt_policy_context *ctx;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;

static int
setup(void **state)
{
	(void)state;
	if (zt_entities_from_json(&es, entities_json,
	    strlen(entities_json)) != ZT_OK ||
	    zt_policy_context_from_json(&ctx, context_json,
	    strlen(context_json)) != ZT_OK) {
		fprintf(stderr, "setup: %s\n", zt_error_msg());
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	zt_entities_free(es);
	zt_policy_context_free(ctx);
	zt_policy_answer_free(&ans);
	return 0;
}

static int
run(const char *expr)
{
	zt_policy_request req = {
		ZT_POLICY_UID("User", "alice"),
		ZT_POLICY_UID("Action", "read"),
		ZT_POLICY_UID("Doc", "d1"), NULL,
	};
	zt_policy_error perr;
	zt_policy_set *ps;
	char text[1024];
	int rc;

	req.context = ctx;
	snprintf(text, sizeof(text),
	    "permit (principal, action, resource) when { %s };", expr);
	if (zt_policy_set_parse(&ps, text, strlen(text), &perr) != ZT_OK)
		fail_msg("\"%s\" does not parse: %d:%d %s", expr, perr.line,
		    perr.column, perr.message);
	assert_int_equal(zt_policy_decide(&ans, ps, es, &req), ZT_OK);
	if (ans.nerrors > 0)
		rc = E;
	else
		rc = ans.decision == ZT_POLICY_ALLOW ? T : F;
	zt_policy_set_free(ps);
	return rc;
}

static void
check(const char *expr, int want)
{
	static const char *names[] = { "false", "true", "an error" };
	int got = run(expr);

	if (got != want)
		fail_msg("`%s` gave %s, want %s%s%s", expr, names[got],
		    names[want], got == E ? ": " : "",
		    got == E ? ans.errors[0].message : "");
}

static void
check_err(const char *expr, const char *why)
{
	check(expr, E);
	if (strstr(ans.errors[0].message, why) == NULL)
		fail_msg("`%s`: message \"%s\" lacks \"%s\"", expr,
		    ans.errors[0].message, why);
}

/* datetime(s) is valid (true) or refused at evaluation (error). */
static void
dt_ok(const char *lit, bool valid)
{
	char expr[160];

	snprintf(expr, sizeof(expr), "datetime(\"%s\") == datetime(\"%s\")",
	    lit, lit);
	if (valid)
		check(expr, T);
	else
		check_err(expr, "not a valid datetime");
}

static void
dur_ok(const char *lit, bool valid)
{
	char expr[160];

	snprintf(expr, sizeof(expr), "duration(\"%s\") == duration(\"%s\")",
	    lit, lit);
	if (valid)
		check(expr, T);
	else
		check_err(expr, "not a valid duration");
}

static void
test_policy_time__datetime_literals(void **state)
{
	(void)state;
	dt_ok("2024-10-15", true);
	dt_ok("2024-10-15T11:35:00Z", true);
	dt_ok("2024-10-15T11:35:00.123Z", true);
	dt_ok("2024-10-15T11:35:00+0200", true);
	dt_ok("2024-10-15T11:35:00.001-2359", true);
	dt_ok("2024-02-29", true);
	dt_ok("0000-01-01", true);
	dt_ok("9999-12-31T23:59:59.999Z", true);
	dt_ok("2023-02-29", false);
	dt_ok("1900-02-29", false);
	dt_ok("2024-13-01", false);
	dt_ok("2024-00-10", false);
	dt_ok("2024-04-31", false);
	dt_ok("2024-1-01", false);
	dt_ok("24-10-15", false);
	dt_ok("12024-10-15", false);
	dt_ok("2024-10-15T", false);
	dt_ok("2024-10-15T11:35:00", false);
	dt_ok("2024-10-15T11:35Z", false);
	dt_ok("2024-10-15T24:00:00Z", false);
	dt_ok("2024-10-15T23:60:00Z", false);
	dt_ok("2024-10-15T23:59:60Z", false);
	dt_ok("2024-10-15T11:35:00.12Z", false);
	dt_ok("2024-10-15T11:35:00.1234Z", false);
	dt_ok("2024-10-15T11:35:00+02:00", false);
	dt_ok("2024-10-15T11:35:00+2400", false);
	dt_ok("2024-10-15T11:35:00+0060", false);
	dt_ok("2024-10-15T11:35:00z", false);
	dt_ok("2024-10-15 11:35:00Z", false);
	dt_ok("2024-10-15Z", false);
	dt_ok("", false);
	check_err("datetime(context.bad) == context.now",
	    "not a valid datetime");
	check_err("datetime(1) == context.now", "type error");
}

static void
test_policy_time__datetime_values(void **state)
{
	(void)state;
	/* Offsets are normalized to UTC. */
	check("datetime(\"2024-10-15T11:35:00Z\") == "
	    "datetime(\"2024-10-15T13:35:00+0200\")", T);
	check("datetime(\"2024-10-15T11:35:00Z\") == "
	    "datetime(\"2024-10-14T23:05:00-1230\")", T);
	check("datetime(\"2024-10-15\") == datetime(\"2024-10-15T00:00:00Z\")",
	    T);
	check("datetime(\"2024-10-15T00:00:00.000Z\") == "
	    "datetime(\"2024-10-15T00:00:00.001Z\")", F);
	/* Against the epoch: 20,011 days; 0001-01-01 is 719,162 before. */
	check("datetime(\"2024-10-15\").durationSince(datetime(\"1970-01-01\"))"
	    ".toDays() == 20011", T);
	check("datetime(\"0001-01-01\").durationSince(datetime(\"1970-01-01\"))"
	    ".toDays() == -719162", T);
	check("datetime(\"1970-01-01T00:00:01.500Z\").durationSince("
	    "datetime(\"1970-01-01\")).toMilliseconds() == 1500", T);
	check("datetime(context.s) == context.now.toDate()", T);
	check("principal.hired < context.now", T);
}

static void
test_policy_time__datetime_methods(void **state)
{
	(void)state;
	check("context.now.toDate() == datetime(\"2024-10-15\")", T);
	check("context.now.toTime() == duration(\"11h35m\")", T);
	check("datetime(\"2024-10-15T11:35:00.123Z\").toTime() == "
	    "duration(\"11h35m123ms\")", T);
	/* Before the epoch, toDate rounds down to the day's start. */
	check("datetime(\"1969-12-31T23:00:00Z\").toDate() == "
	    "datetime(\"1969-12-31\")", T);
	check("datetime(\"1969-12-31T23:00:00Z\").toTime() == "
	    "duration(\"23h\")", T);
	check("datetime(\"1969-12-31\").toTime() == duration(\"0ms\")", T);
	check("context.now.offset(duration(\"-1d\")) == "
	    "datetime(\"2024-10-14T11:35:00Z\")", T);
	check("context.now.offset(context.ttl) == "
	    "datetime(\"2024-10-15T10:05:00Z\")", T);
	check("context.now.durationSince(principal.hired) > duration(\"365d\")",
	    T);
	check("principal.hired.durationSince(context.now) < duration(\"0ms\")",
	    T);
	check_err("datetime(\"9999-12-31\").offset("
	    "duration(\"106751991167d\")) == context.now", "overflow");
	check_err("context.now.offset(1) == context.now", "type error");
	check_err("context.now.toDays() == 1", "type error");
	check_err("context.ttl.toDate() == context.now", "type error");
}

static void
test_policy_time__duration_literals(void **state)
{
	(void)state;
	dur_ok("1d2h3m4s5ms", true);
	dur_ok("-10h", true);
	dur_ok("5d3ms", true);
	dur_ok("3h5m", true);
	dur_ok("0ms", true);
	dur_ok("1m1ms", true);
	dur_ok("007s", true);
	dur_ok("9223372036854775807ms", true);
	dur_ok("", false);
	dur_ok("-", false);
	dur_ok("1", false);
	dur_ok("d", false);
	dur_ok("1x", false);
	dur_ok("1h1d", false);
	dur_ok("1d1d", false);
	dur_ok("1ms2s", false);
	dur_ok("1ms1ms", false);
	dur_ok("+1d", false);
	dur_ok("1d-2h", false);
	dur_ok("1 d", false);
	dur_ok("1D", false);
	dur_ok("9223372036854775808ms", false);
	dur_ok("106751991168d", false);
	dur_ok("99999999999999999999d", false);
}

static void
test_policy_time__duration_methods(void **state)
{
	(void)state;
	check("duration(\"1d\") == duration(\"24h\")", T);
	check("duration(\"1d2h3m4s5ms\").toMilliseconds() == 93784005", T);
	check("duration(\"1d2h3m4s5ms\").toSeconds() == 93784", T);
	check("duration(\"1d2h3m4s5ms\").toMinutes() == 1563", T);
	check("duration(\"1d2h3m4s5ms\").toHours() == 26", T);
	check("duration(\"1d2h3m4s5ms\").toDays() == 1", T);
	/* Division truncates toward zero. */
	check("context.ttl.toHours() == -1", T);
	check("context.ttl.toMinutes() == -90", T);
	check("duration(\"-1ms\").toSeconds() == 0", T);
}

static void
test_policy_time__comparisons(void **state)
{
	(void)state;
	check("duration(\"1d\") > duration(\"23h\")", T);
	check("duration(\"1d\") >= duration(\"24h\")", T);
	check("duration(\"-1d\") < duration(\"1ms\")", T);
	check("duration(\"1d\") <= duration(\"1h\")", F);
	check("datetime(\"2024-01-01\") < "
	    "datetime(\"2024-01-01T00:00:00.001Z\")", T);
	check("context.now >= datetime(\"2024-10-15T12:35:00+0100\")", T);
	check("context.now > datetime(\"2024-10-15T12:35:00+0100\")", F);
	check("datetime(\"2024-01-01\") == duration(\"1d\")", F);
	check("duration(\"1ms\") == 1", F);
	check_err("context.now < duration(\"1d\")", "type error");
	check_err("duration(\"1d\") < 86400000", "type error");
	check_err("1 < duration(\"1d\")", "type error");
	check_err("\"a\" < context.now", "type error");
	check_err("decimal(\"1.0\") < decimal(\"2.0\")", "type error");
}

static void
test_policy_time__json(void **state)
{
	static const char *bad[] = {
		"{\"t\": {\"__extn\": {\"fn\": \"datetime\", \"arg\": \"x\"}}}",
		"{\"t\": {\"__extn\": {\"fn\": \"duration\", \"arg\": \"y\"}}}",
		"{\"t\": {\"__extn\": {\"fn\": \"datetime\", \"arg\": 1}}}",
	};
	zt_policy_context *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(zt_policy_context_from_json(&c, bad[i],
		    strlen(bad[i])), ZT_EINVAL);
		assert_null(c);
	}
	check("context.ttl == duration(\"-90m\")", T);
	check("principal.hired == datetime(\"2020-03-01\")", T);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_time__datetime_literals),
		cmocka_unit_test(test_policy_time__datetime_values),
		cmocka_unit_test(test_policy_time__datetime_methods),
		cmocka_unit_test(test_policy_time__duration_literals),
		cmocka_unit_test(test_policy_time__duration_methods),
		cmocka_unit_test(test_policy_time__comparisons),
		cmocka_unit_test(test_policy_time__json),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
