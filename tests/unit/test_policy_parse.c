/*
 * Tests of the Cedar policy parser (policy/lex.c, parse.c, parse_expr.c):
 * texts it accepts, with the ids it gives, and texts it refuses, each
 * with the line, column and message of the fault.
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

#define SCOPE "permit (principal, action, resource) "

/* Parses `text`, expecting `n` policies; returns the set. */
static zt_policy_set *
assert_good(const char *text, size_t n)
{
	zt_policy_error err;
	zt_policy_set *ps;

	if (zt_policy_set_parse(&ps, text, strlen(text), &err) != ZT_OK)
		fail_msg("refused at %d:%d (%s): %s", err.line, err.column,
		    err.message, text);
	assert_int_equal(zt_policy_set_count(ps), n);
	return ps;
}

static void
good(const char *text, size_t n)
{
	zt_policy_set_free(assert_good(text, n));
}

/* Refused at line:col with a message holding `why`. */
static void
bad(const char *text, int line, int col, const char *why)
{
	zt_policy_error err;
	zt_policy_set *ps = NULL;

	if (zt_policy_set_parse(&ps, text, strlen(text), &err) != ZT_EINVAL)
		fail_msg("accepted: %s", text);
	assert_null(ps);
	if (err.line != line || err.column != col ||
	    strstr(err.message, why) == NULL)
		fail_msg("%s\n  got %d:%d \"%s\", want %d:%d \"%s\"", text,
		    err.line, err.column, err.message, line, col, why);
	if (strstr(zt_error_msg(), why) == NULL)
		fail_msg("thread message \"%s\" lacks \"%s\"", zt_error_msg(),
		    why);
}

static void
test_policy_parse__empty(void **state)
{
	good("", 0);
	good("  // only a comment\n\n", 0);
}

static void
test_policy_parse__scopes(void **state)
{
	good("permit (principal == User::\"a\", action, resource);", 1);
	good("forbid (principal in Group::\"g\", action, resource);", 1);
	good("permit (principal is User, action, resource);", 1);
	good("permit (principal is NS::User in Group::\"g\", action, "
	    "resource);", 1);
	good("permit (principal, action == Action::\"read\", resource);", 1);
	good("permit (principal, action in Action::\"r\", resource);", 1);
	good("permit (principal, action in [Action::\"a\", "
	    "NS::Action::\"b\"], resource);", 1);
	good("permit (principal, action in [], resource);", 1);
	good("permit (principal, action, resource == Doc::\"d\");", 1);
	good("permit (principal, action, resource in Folder::\"f\");", 1);
	good("permit (principal, action, resource is Doc);", 1);
	good("permit (principal,action,resource is A :: B in A :: F::\"x\");",
	    1);
}

static void
test_policy_parse__ids(void **state)
{
	zt_policy_set *ps;

	ps = assert_good("@id(\"first\") permit (principal, action, resource);"
	    "\nforbid (principal, action, resource);\n"
	    "@note(\"n\") @id(\"third\") @flag\n"
	    "permit (principal, action, resource);", 3);
	assert_string_equal(zt_policy_set_id(ps, 0), "first");
	assert_string_equal(zt_policy_set_id(ps, 1), "policy1");
	assert_string_equal(zt_policy_set_id(ps, 2), "third");
	assert_null(zt_policy_set_id(ps, 3));
	zt_policy_set_free(ps);
}

static void
test_policy_parse__expressions(void **state)
{
	good(SCOPE "when { true } unless { false } when { 1 < 2 };", 1);
	good(SCOPE "when { -9223372036854775808 < 0 };", 1);
	good(SCOPE "when { if context.a then 1 else 2 } ;", 1);
	good(SCOPE "when { (if true then 1 else 2) + 1 == 2 };", 1);
	good(SCOPE "when { principal.a.b[\"c d\"].e.contains(1) };", 1);
	good(SCOPE "when { context has a.b.c && context has \"x y\" };", 1);
	good(SCOPE "when { {a: 1, \"b\": [1, {c: 2}]} == {} };", 1);
	good(SCOPE "when { A::B::\"id\" == A :: B :: \"id\" };", 1);
	good(SCOPE "when { principal is A::B in [X::\"y\"] };", 1);
	good(SCOPE "when { \"a\" like \"*\\*\\u{41}\" };", 1);
	good(SCOPE "when { !-!-1 };", 1);
	good(SCOPE "when { context.principal == context.permit };", 1);
	good(SCOPE "when { ip(\"x\").isIpv4() || decimal(\"y\").lessThan("
	    "decimal(\"1.0\")) };", 1);
}

static void
test_policy_parse__structure_errors(void **state)
{
	bad("permit (principal, action, resource)", 1, 37, "expected `;`");
	bad("allow (principal, action, resource);", 1, 1,
	    "expected `permit` or `forbid`");
	bad("permit (action, principal, resource);", 1, 9,
	    "expected `principal`");
	/* Cedar allows "resource,)" (test_policy_eval__diff_regressions). */
	bad("permit (principal, action, resource,,);", 1, 37, "expected `)`");
	bad("permit (principal, action, resource) when { true }\n"
	    "permit (principal, action, resource);", 2, 1, "expected `;`");
	bad("permit (principal, action, resource) when { };", 1, 45,
	    "expected an expression");
	bad("permit (principal, action, resource) when true;", 1, 43,
	    "expected `{`");
	bad("@id(\"a\") @id(\"b\") permit (principal, action, resource);",
	    1, 11, "duplicate annotation");
	bad("@id(\"a\") permit (principal, action, resource);\n"
	    "@id(\"a\") permit (principal, action, resource);", 2, 1,
	    "duplicate policy id");
	bad("@id(\"policy1\") permit (principal, action, resource);\n"
	    "permit (principal, action, resource);", 2, 1,
	    "duplicate policy id");
	bad("@id(1) permit (principal, action, resource);", 1, 5,
	    "expected a string");
	bad("permit (principal, action, resource);\xff", 1, 1, "UTF-8");
}

static void
test_policy_parse__scope_errors(void **state)
{
	bad("permit (principal == User, action, resource);", 1, 26,
	    "expected an entity");
	bad("permit (principal in [User::\"a\"], action, resource);", 1, 22,
	    "only in `action in`");
	bad("permit (principal, action == [Action::\"a\"], resource);", 1,
	    30, "only in `action in`");
	bad("permit (principal, action == User::\"x\", resource);", 1, 30,
	    "needs an Action entity");
	bad("permit (principal, action in [Action::\"a\", Role::\"b\"], "
	    "resource);", 1, 44, "needs an Action entity");
	bad("permit (principal, action is Action, resource);", 1, 27,
	    "not allowed in the action scope");
	bad("permit (principal == ?resource, action, resource);", 1, 22,
	    "takes only the slot `?principal`");
	bad("permit (principal, action == ?principal, resource);", 1, 30,
	    "slot is allowed only");
	bad("permit (principal, action, resource == Doc::\"a\" + 1);", 1,
	    49, "expected `)`");
	bad("permit (principal, action, resource is if);", 1, 40,
	    "reserved");
}

static void
test_policy_parse__expression_errors(void **state)
{
	bad(SCOPE "when { 1 < 2 < 3 };", 1, 51, "expected `}`");
	bad(SCOPE "when { !!!!!true };", 1, 49, "more than 4 unary");
	bad(SCOPE "when { 9223372036854775808 == 1 };", 1, 45,
	    "out of range");
	bad(SCOPE "when { 99999999999999999999 == 1 };", 1, 45,
	    "out of range");
	bad(SCOPE "when { principal.if };", 1, 55, "reserved");
	bad(SCOPE "when { context has then };", 1, 57, "reserved");
	bad(SCOPE "when { {in: 1} };", 1, 46, "reserved");
	bad(SCOPE "when { {a: 1, a: 2} == {} };", 1, 45, "duplicate key");
	bad(SCOPE "when { foo(1) };", 1, 45, "unknown function `foo`");
	bad(SCOPE "when { [].bogus() };", 1, 48, "unknown method `bogus`");
	bad(SCOPE "when { ip(\"1\", \"2\") };", 1, 45, "`ip` takes 1");
	bad(SCOPE "when { [].contains() };", 1, 48, "takes 1");
	bad(SCOPE "when { [].isEmpty(1) };", 1, 48, "takes 0");
	bad(SCOPE "when { x == 1 };", 1, 45, "unknown variable `x`");
	bad(SCOPE "when { \"\\q\" == \"\" };", 1, 45, "invalid escape");
	bad(SCOPE "when { \"\\*\" == \"\" };", 1, 45, "invalid escape");
	bad(SCOPE "when { \"\\x80\" == \"\" };", 1, 45, "invalid escape");
	bad(SCOPE "when { \"\\u{d800}\" == \"\" };", 1, 45, "invalid escape");
	bad(SCOPE "when { \"abc };", 1, 45, "unterminated string");
	bad(SCOPE "when { 1 # 2 };", 1, 47, "unexpected '#'");
	bad(SCOPE "when { 1 = 2 };", 1, 47, "unexpected '='");
	bad(SCOPE "when { 1 + if true then 1 else 2 == 2 };", 1, 49,
	    "must be parenthesized");
	bad(SCOPE "when { \"a\" like 1 };", 1, 54, "string pattern");
	/* Cedar allows "[1, 2,]" (test_policy_eval__diff_regressions). */
	bad(SCOPE "when { [1, 2,,] };", 1, 51, "expected an expression");
	bad(SCOPE "when { principal.a[1] };", 1, 57, "expected a string");
	bad(SCOPE "when { ?principal };", 1, 45, "slot is allowed only");
	bad("permit (\n  principal,\n  action,\n  resource\n) when {\n"
	    "  context.x <\n};", 7, 1, "expected an expression");
}

/* Deep nesting is refused before it can exhaust the stack; long flat
 * chains of && and || are not nesting. */
static void
test_policy_parse__depth(void **state)
{
	zt_buf b = ZT_BUF_INIT(1 << 20);
	int i;

	assert_int_equal(zt_buf_adds(&b, SCOPE "when { "), ZT_OK);
	for (i = 0; i < 5000; i++)
		assert_int_equal(zt_buf_adds(&b, "("), ZT_OK);
	bad(b.data, 1, 45 + 128, "nested deeper");
	zt_buf_reset(&b);

	assert_int_equal(zt_buf_adds(&b, SCOPE "when { 1"), ZT_OK);
	for (i = 0; i < 300; i++)
		assert_int_equal(zt_buf_adds(&b, " + 1"), ZT_OK);
	assert_int_equal(zt_buf_adds(&b, " > 0 };"), ZT_OK);
	bad(b.data, 1, 45 + 2 + 127 * 4, "nested deeper");
	zt_buf_reset(&b);

	assert_int_equal(zt_buf_adds(&b, SCOPE "when { context"), ZT_OK);
	for (i = 0; i < 300; i++)
		assert_int_equal(zt_buf_adds(&b, ".a"), ZT_OK);
	assert_int_equal(zt_buf_adds(&b, " };"), ZT_OK);
	bad(b.data, 1, 45 + 7 + 127 * 2, "nested deeper");
	zt_buf_reset(&b);

	assert_int_equal(zt_buf_adds(&b, SCOPE "when { false"), ZT_OK);
	for (i = 0; i < 5000; i++)
		assert_int_equal(zt_buf_adds(&b, " || false && true"), ZT_OK);
	assert_int_equal(zt_buf_adds(&b, " };"), ZT_OK);
	good(b.data, 1);
	zt_buf_free(&b);
}

static void
test_policy_parse__limits(void **state)
{
	zt_policy_set *ps = NULL;

	assert_int_equal(zt_policy_set_parse(&ps, "", (size_t)17 << 20,
	    NULL), ZT_ETOOBIG);
	assert_null(ps);
	/* A NULL error struct is allowed. */
	assert_int_equal(zt_policy_set_parse(&ps, "permit", 6, NULL),
	    ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "line 1, column 7"));
}

/* The set keeps what it needs of the text: names read from it (here an
 * attribute and an annotation key) survive the caller's buffer. */
static void
test_policy_parse__owns_text(void **state)
{
	static const char src[] = "@note(\"n\") permit (principal, action, "
	    "resource) when { context.flag && context has other };";
	zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;
	zt_policy_context *ctx;
	zt_policy_request req = {
		ZT_POLICY_UID("U", "u"), ZT_POLICY_UID("Action", "a"),
		ZT_POLICY_UID("R", "r"), NULL,
	};
	static const char cj[] = "{\"flag\": true, \"other\": 1}";
	zt_policy_set *ps;
	char *text = strdup(src);

	assert_non_null(text);
	assert_int_equal(zt_policy_set_parse(&ps, text, strlen(text), NULL),
	    ZT_OK);
	memset(text, 'x', strlen(text));
	free(text);
	assert_int_equal(zt_policy_context_from_json(&ctx, cj, strlen(cj)),
	    ZT_OK);
	req.context = ctx;
	assert_int_equal(zt_policy_decide(&ans, ps, NULL, &req), ZT_OK);
	assert_int_equal(ans.decision, ZT_POLICY_ALLOW);
	zt_policy_context_free(ctx);
	zt_policy_answer_free(&ans);
	zt_policy_set_free(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_parse__empty),
		cmocka_unit_test(test_policy_parse__scopes),
		cmocka_unit_test(test_policy_parse__ids),
		cmocka_unit_test(test_policy_parse__expressions),
		cmocka_unit_test(test_policy_parse__structure_errors),
		cmocka_unit_test(test_policy_parse__scope_errors),
		cmocka_unit_test(test_policy_parse__expression_errors),
		cmocka_unit_test(test_policy_parse__depth),
		cmocka_unit_test(test_policy_parse__limits),
		cmocka_unit_test(test_policy_parse__owns_text),
	};

	return cmocka_run_group_tests_name("policy_parse", tests, NULL, NULL);
}
