/*
 * Tests of Cedar expression semantics (policy/eval.c, value.c, extn.c):
 * each operator's result, and the evaluation errors Cedar raises, checked
 * by wrapping an expression in `permit (principal, action, resource) when
 * { ... };` and deciding one fixed request against a small entity store.
 * An expression is then true (allow), false (deny, no error) or an error
 * (deny with the policy listed among the errors).
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
    "  \"attrs\": {\"age\": 30, \"name\": \"Alice\", \"tags\": [\"a\", \"b\"],"
    "    \"addr\": {\"city\": \"Paris\"},"
    "    \"ip\": {\"__extn\": {\"fn\": \"ip\", \"arg\": \"10.1.2.3\"}},"
    "    \"score\": {\"__extn\": {\"fn\": \"decimal\", \"arg\": \"1.5\"}},"
    "    \"boss\": {\"__entity\": {\"type\": \"User\", \"id\": \"bob\"}},"
    "    \"ghost\": {\"__entity\": {\"type\": \"User\", \"id\": \"nobody\"}}},"
    "  \"parents\": [{\"type\": \"Group\", \"id\": \"eng\"}]},"
    " {\"uid\": {\"type\": \"User\", \"id\": \"bob\"},"
    "  \"attrs\": {\"age\": 50},"
    "  \"parents\": [{\"type\": \"Group\", \"id\": \"admins\"}]},"
    " {\"uid\": {\"type\": \"Group\", \"id\": \"eng\"}, \"attrs\": {},"
    "  \"parents\": [{\"type\": \"Group\", \"id\": \"all\"}]},"
    " {\"uid\": {\"type\": \"Group\", \"id\": \"all\"}, \"attrs\": {},"
    "  \"parents\": [{\"type\": \"Org\", \"id\": \"acme\"}]},"
    " {\"uid\": {\"type\": \"Action\", \"id\": \"read\"}, \"attrs\": {},"
    "  \"parents\": [{\"type\": \"Action\", \"id\": \"any\"}]},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"d1\"},"
    "  \"attrs\": {\"public\": false,"
    "    \"owner\": {\"__entity\": {\"type\": \"User\", \"id\": \"alice\"}}},"
    "  \"parents\": [{\"type\": \"Folder\", \"id\": \"f1\"}]}]";

static const char context_json[] =
    "{\"n\": 5, \"s\": \"hello\", \"big\": 9223372036854775807,"
    " \"flag\": true, \"rec\": {\"a\": 1},"
    " \"ip6\": {\"__extn\": {\"fn\": \"ip\", \"arg\": \"2001:db8::1\"}}}";

static zt_entities *es;
static zt_policy_context *ctx;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;

static int
setup(void **state)
{
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
	zt_entities_free(es);
	zt_policy_context_free(ctx);
	zt_policy_answer_free(&ans);
	return 0;
}

/* Decides `permit ... when { expr };` and says what the condition did;
 * the error message, if any, is left in ans.errors[0]. */
static int
run(const char *cond_kw, const char *expr)
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
	    "permit (principal, action, resource) %s { %s };", cond_kw, expr);
	if (zt_policy_set_parse(&ps, text, strlen(text), &perr) != ZT_OK)
		fail_msg("\"%s\" does not parse: %d:%d %s", expr, perr.line,
		    perr.column, perr.message);
	assert_int_equal(zt_policy_decide(&ans, ps, es, &req), ZT_OK);
	if (ans.nerrors > 0) {
		assert_int_equal(ans.decision, ZT_POLICY_DENY);
		assert_int_equal(ans.ndetermining, 0);
		rc = E;
	} else {
		rc = ans.decision == ZT_POLICY_ALLOW ? T : F;
	}
	zt_policy_set_free(ps);
	return rc;
}

static void
check(const char *expr, int want)
{
	static const char *names[] = { "false", "true", "an error" };
	int got = run("when", expr);

	if (got != want)
		fail_msg("`%s` gave %s, want %s%s%s", expr, names[got],
		    names[want], got == E ? ": " : "",
		    got == E ? ans.errors[0].message : "");
}

/* An error whose message holds `why`. */
static void
check_err(const char *expr, const char *why)
{
	check(expr, E);
	if (strstr(ans.errors[0].message, why) == NULL)
		fail_msg("`%s`: message \"%s\" lacks \"%s\"", expr,
		    ans.errors[0].message, why);
}

static void
test_policy_eval__arithmetic(void **state)
{
	check("1 + 2 == 3", T);
	check("2 * 3 - 1 == 5", T);
	check("1 - 2 - 3 == -4", T);
	check("-9223372036854775808 == -9223372036854775807 - 1", T);
	check("principal.age * 2 == 60", T);
	check("- -1 == 1", T);
	check_err("context.big + 1 == 0", "overflow");
	check_err("-9223372036854775807 - 2 == 0", "overflow");
	check_err("9223372036854775807 * 2 > 0", "overflow");
	check_err("-(-9223372036854775808) == 0", "overflow");
	check_err("\"a\" + 1 == 2", "type error");
	check_err("1 * true == 1", "type error");
}

static void
test_policy_eval__comparison(void **state)
{
	check("1 < 2", T);
	check("2 <= 2", T);
	check("3 > 4", F);
	check("context.n >= 5", T);
	check_err("\"a\" < \"b\"", "type error");
	check_err("decimal(\"1.0\") < decimal(\"2.0\")", "type error");
}

static void
test_policy_eval__equality(void **state)
{
	check("1 == \"1\"", F);
	check("1 != \"1\"", T);
	check("[1, 2] == [2, 1, 1]", T);
	check("[1, 2] == [1]", F);
	check("{a: 1, b: 2} == {b: 2, a: 1}", T);
	check("{a: 1} == {a: 1, b: 2}", F);
	check("User::\"alice\" == principal", T);
	check("principal != User::\"bob\"", T);
	check("principal == Admin::\"alice\"", F);
	check("ip(\"10.0.0.1\") == ip(\"10.0.0.1/32\")", T);
	check("ip(\"10.0.0.1/24\") == ip(\"10.0.0.0/24\")", F);
	check("decimal(\"1.50\") == decimal(\"1.5\")", T);
	check("principal.missing == 1", E);
}

static void
test_policy_eval__logic(void **state)
{
	check("true && false", F);
	check("true && true && context.flag", T);
	check("false && (1 + \"a\" == 1)", F);
	check("true || (1 + \"a\" == 1)", T);
	check("false || false || true", T);
	check("!true", F);
	check("!!true", T);
	check("if principal.age > 18 then true else 1", T);
	check("if false then 1 else false", F);
	check("(if true then 1 else 2) == 1", T);
	check_err("1 && true", "type error");
	check_err("true && 1", "type error");
	check_err("false || 1", "type error");
	check_err("!1", "type error");
	check_err("if 1 then true else false", "type error");
	check_err("1", "type error");
	assert_int_equal(run("unless", "false"), T);
	assert_int_equal(run("unless", "principal.age > 18"), F);
	assert_int_equal(run("unless", "\"x\""), E);
}

static void
test_policy_eval__in(void **state)
{
	check("principal in Group::\"eng\"", T);
	check("principal in Group::\"all\"", T);
	check("principal in Org::\"acme\"", T);
	check("principal in Group::\"admins\"", F);
	check("principal in principal", T);
	check("User::\"nobody\" in User::\"nobody\"", T);
	check("User::\"nobody\" in Group::\"eng\"", F);
	check("Group::\"eng\" in Org::\"acme\"", T);
	check("principal.boss in Group::\"admins\"", T);
	check("principal in [Group::\"x\", Org::\"acme\"]", T);
	check("principal in []", F);
	check("action in Action::\"any\"", T);
	check("resource in Folder::\"f1\"", T);
	check_err("principal in [Group::\"eng\", 1]", "type error");
	check_err("1 in Group::\"eng\"", "type error");
	check_err("principal in \"x\"", "type error");
}

static void
test_policy_eval__has_and_attrs(void **state)
{
	check("principal has age", T);
	check("principal has missing", F);
	check("principal has \"name\"", T);
	check("User::\"nobody\" has age", F);
	check("context has n", T);
	check("context.rec has a", T);
	check("principal has addr.city", T);
	check("principal has addr.country", F);
	check("principal has missing.city", F);
	check("principal.age == 30", T);
	check("principal[\"name\"] == \"Alice\"", T);
	check("context.rec.a == 1", T);
	check("principal.addr.city == \"Paris\"", T);
	check("principal.boss.age == 50", T);
	check("resource.owner == principal", T);
	check("{\"a b\": 1}[\"a b\"] == 1", T);
	check_err("1 has a", "type error");
	check_err("principal.missing == 1", "does not have the attribute");
	check_err("context.rec.b == 1", "does not have the attribute");
	check_err("User::\"nobody\".age == 1", "does not exist");
	check_err("principal.ghost.age == 1", "does not exist");
	check_err("context.n.x == 1", "type error");
}

static void
test_policy_eval__like(void **state)
{
	check("\"hello\" like \"h*o\"", T);
	check("\"hello\" like \"h*x\"", F);
	check("\"hello\" like \"hello\"", T);
	check("\"hello\" like \"hell\"", F);
	check("\"\" like \"*\"", T);
	check("\"\" like \"\"", T);
	check("\"abc\" like \"*b*\"", T);
	check("\"aaa\" like \"a*a*a*a\"", F);
	check("\"abcabc\" like \"*bc\"", T);
	check("\"a*b\" like \"a\\*b\"", T);
	check("\"axb\" like \"a\\*b\"", F);
	check("\"*\" like \"\\*\"", T);
	check("\"x\" like \"\\*\"", F);
	check("\"caf\\u{e9}!\" like \"caf*!\"", T);
	check("principal.name like \"A*\"", T);
	check_err("1 like \"*\"", "type error");
}

static void
test_policy_eval__is(void **state)
{
	check("principal is User", T);
	check("principal is Group", F);
	check("App::Role::\"x\" is App::Role", T);
	check("App::Role::\"x\" is Role", F);
	check("principal is User in Group::\"eng\"", T);
	check("principal is User in Group::\"admins\"", F);
	check("principal is Group in 1", F);
	check("principal is User in [Org::\"acme\"]", T);
	check_err("1 is User", "type error");
	check_err("principal is User in 1", "type error");
}

static void
test_policy_eval__sets(void **state)
{
	check("[1, 2, 3].contains(2)", T);
	check("[1, 2, 3].contains(\"2\")", F);
	check("[1, 2].containsAll([1])", T);
	check("[1, 2].containsAll([1, 3])", F);
	check("[1, 2].containsAll([])", T);
	check("[1, 2].containsAny([3, 2])", T);
	check("[1, 2].containsAny([])", F);
	check("[].isEmpty()", T);
	check("[1].isEmpty()", F);
	check("[[1, 2]].contains([2, 1])", T);
	check("principal.tags.contains(\"a\")", T);
	check("[principal.age, 1].contains(30)", T);
	check("{a: principal.age, b: [context.n]}.b.contains(5)", T);
	check_err("1.contains(1)", "type error");
	check_err("[1].containsAll(1)", "type error");
	check_err("context.s.isEmpty()", "type error");
}

static void
test_policy_eval__ipaddr(void **state)
{
	check("ip(\"10.1.2.3\").isInRange(ip(\"10.0.0.0/8\"))", T);
	check("principal.ip.isInRange(ip(\"10.1.0.0/16\"))", T);
	check("ip(\"10.1.2.3\").isInRange(ip(\"11.0.0.0/8\"))", F);
	check("ip(\"10.0.0.0/8\").isInRange(ip(\"10.0.0.0/16\"))", F);
	check("ip(\"10.0.0.0/16\").isInRange(ip(\"10.0.0.0/8\"))", T);
	check("ip(\"10.0.0.1\").isInRange(ip(\"10.0.0.1\"))", T);
	check("ip(\"1.2.3.4\").isInRange(ip(\"0.0.0.0/0\"))", T);
	check("ip(\"1.2.3.4\").isInRange(ip(\"::/0\"))", F);
	check("context.ip6.isInRange(ip(\"2001:db8::/32\"))", T);
	check("context.ip6.isInRange(ip(\"2001:db9::/32\"))", F);
	check("ip(\"::1\").isLoopback()", T);
	check("ip(\"127.0.0.2\").isLoopback()", T);
	check("ip(\"128.0.0.1\").isLoopback()", F);
	check("ip(\"224.1.1.1\").isMulticast()", T);
	check("ip(\"223.1.1.1\").isMulticast()", F);
	check("ip(\"ff02::1\").isMulticast()", T);
	check("ip(\"::1\").isIpv6()", T);
	check("ip(\"::1\").isIpv4()", F);
	check("ip(\"1.2.3.4\").isIpv4()", T);
	check("ip(\"1:2:3:4:5:6:7:8\").isIpv6()", T);
	check("ip(\"1::\").isIpv6()", T);
	check("ip(\"::\").isIpv6()", T);
	check("ip(\"::1/128\").isLoopback()", T);
	check_err("ip(\"1.2.3\").isIpv4()", "not a valid IP");
	check_err("ip(\"01.2.3.4\").isIpv4()", "not a valid IP");
	check_err("ip(\"256.2.3.4\").isIpv4()", "not a valid IP");
	check_err("ip(\"1.2.3.4/33\").isIpv4()", "not a valid IP");
	check_err("ip(\"1.2.3.4/08\").isIpv4()", "not a valid IP");
	check_err("ip(\"1.2.3.4/\").isIpv4()", "not a valid IP");
	check_err("ip(\"::1::\").isIpv6()", "not a valid IP");
	check_err("ip(\"1:2:3:4:5:6:7:8:9\").isIpv6()", "not a valid IP");
	check_err("ip(\"1:2:3:4:5:6:7::8\").isIpv6()", "not a valid IP");
	check_err("ip(\"12345::\").isIpv6()", "not a valid IP");
	check_err("ip(\"::1/129\").isIpv6()", "not a valid IP");
	check_err("ip(\"fe80::1%eth0\").isIpv6()", "not a valid IP");
	check_err("ip(\"\").isIpv6()", "not a valid IP");
	check_err("ip(1).isIpv4()", "type error");
	check_err("ip(\"1.2.3.4\").isInRange(1)", "type error");
	check_err("context.s.isIpv4()", "type error");
}

static void
test_policy_eval__decimal(void **state)
{
	check("decimal(\"1.5\").lessThan(decimal(\"1.51\"))", T);
	check("decimal(\"-1.0\").lessThanOrEqual(decimal(\"-1.0\"))", T);
	check("decimal(\"2.0\").greaterThan(decimal(\"1.9999\"))", T);
	check("decimal(\"2.0\").greaterThanOrEqual(decimal(\"2.0000\"))", T);
	check("decimal(\"-0.5\").lessThan(decimal(\"0.0\"))", T);
	check("principal.score.greaterThan(decimal(\"1.4999\"))", T);
	check("decimal(\"922337203685477.5807\") == "
	    "decimal(\"922337203685477.5807\")", T);
	check("decimal(\"-922337203685477.5808\").lessThan("
	    "decimal(\"0.0\"))", T);
	check_err("decimal(\"1\") == decimal(\"1.0\")", "not a valid decimal");
	check_err("decimal(\"1.23456\") == decimal(\"1.0\")",
	    "not a valid decimal");
	check_err("decimal(\"1.\") == decimal(\"1.0\")", "not a valid decimal");
	check_err("decimal(\".5\") == decimal(\"1.0\")", "not a valid decimal");
	check_err("decimal(\"+1.0\") == decimal(\"1.0\")",
	    "not a valid decimal");
	check_err("decimal(\"922337203685477.5808\") == decimal(\"1.0\")",
	    "not a valid decimal");
	check_err("decimal(\"1.0\").lessThan(1)", "type error");
	check_err("decimal(1)", "type error");
}

static void
test_policy_eval__strings(void **state)
{
	check("\"a\\nb\" == \"a\\u{a}b\"", T);
	check("\"\\x41\" == \"A\"", T);
	check("\"\\\"\" == \"\\u{22}\"", T);
	check("\"\\'\" == \"'\"", T);
	check("\"\\u{1F600}\" like \"*\"", T);
	check("\"a\\0b\" == \"a\\0b\"", T);
	check("\"a\\0b\" == \"a\"", F);
}

static bool
loads(const char *json)
{
	zt_entities *store;

	if (zt_entities_from_json(&store, json, strlen(json)) != ZT_OK)
		return false;
	zt_entities_free(store);
	return true;
}

static bool
parses(const char *text)
{
	zt_policy_set *ps;

	if (zt_policy_set_parse(&ps, text, strlen(text), NULL) != ZT_OK)
		return false;
	zt_policy_set_free(ps);
	return true;
}

/*
 * Regressions found by the differential suite (tests/policy-diff), one
 * block per mismatch with Cedar 4.5 (cedar-wasm 4.13.0).
 */
static void
test_policy_eval__diff_regressions(void **state)
{
	/* Cedar refuses an IPv4 address embedded in IPv6. */
	check_err("ip(\"::ffff:1.2.3.4\") == ip(\"1.2.3.4\")",
	    "not a valid IP");
	check_err("ip(\"::ffff:1.2.3.4\").isIpv6()", "not a valid IP");
	check_err("ip(\"1:2:3:4:5:6:1.2.3.4\").isIpv6()", "not a valid IP");
	check("ip(\"::ffff:102:304\").isIpv6()", T);

	/* In a pattern only `\*` is a literal star; a star written with
	 * another escape is a wildcard. */
	check("\"axb\" like \"a\\u{2a}b\"", T);
	check("\"axb\" like \"a\\x2ab\"", T);
	check("\"axb\" like \"a\\*b\"", F);
	check("\"a*b\" like \"a\\*b\"", T);

	/* Cedar allows a trailing comma in set and record literals and in
	 * argument lists, not a lone one. */
	check("[1, 2,] == [2, 1]", T);
	check("{a: 1,} == {a: 1}", T);
	check("[principal.age,].contains(30,)", T);
	check("ip(\"10.0.0.1\",).isIpv4()", T);
	assert_false(parses("permit (principal, action, resource) when "
	    "{ [,] == [] };"));
	assert_false(parses("permit (principal, action, resource) when "
	    "{ {a: 1,,} == {} };"));

	/* ... and after the last scope and the last action of a list. */
	assert_true(parses("permit (principal, action in [Action::\"a\",], "
	    "resource,);"));
	assert_false(parses("permit (principal, action in [,], resource);"));

	/* Cedar refuses a reserved word as a part of an entity type name in
	 * entities JSON too. */
	assert_false(loads("[{\"uid\": {\"type\": \"if\", \"id\": \"a\"}}]"));
	assert_false(loads("[{\"uid\": {\"type\": \"A::in\", \"id\": \"a\"}}]"));
	assert_false(loads("[{\"uid\": {\"type\": \"__cedar::A\", "
	    "\"id\": \"a\"}}]"));
	assert_true(loads("[{\"uid\": {\"type\": \"A::principal\", "
	    "\"id\": \"a\"}}]"));
	assert_true(loads("[{\"uid\": {\"type\": \"__x\", \"id\": \"a\"}}]"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_eval__arithmetic),
		cmocka_unit_test(test_policy_eval__comparison),
		cmocka_unit_test(test_policy_eval__equality),
		cmocka_unit_test(test_policy_eval__logic),
		cmocka_unit_test(test_policy_eval__in),
		cmocka_unit_test(test_policy_eval__has_and_attrs),
		cmocka_unit_test(test_policy_eval__like),
		cmocka_unit_test(test_policy_eval__is),
		cmocka_unit_test(test_policy_eval__sets),
		cmocka_unit_test(test_policy_eval__ipaddr),
		cmocka_unit_test(test_policy_eval__decimal),
		cmocka_unit_test(test_policy_eval__strings),
		cmocka_unit_test(test_policy_eval__diff_regressions),
	};

	return cmocka_run_group_tests_name("policy_eval", tests, setup,
	    teardown);
}
