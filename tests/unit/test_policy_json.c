/*
 * Tests of Cedar's JSON policy format (policy/parse_json.c): each
 * expression form gives the same result as its text form, scopes and
 * annotations, policy sets with templates and links, and the refusals.
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
    "    \"ip\": {\"__extn\": {\"fn\": \"ip\", \"arg\": \"10.1.2.3\"}}},"
    "  \"parents\": [{\"type\": \"Group\", \"id\": \"eng\"}]},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"d1\"}, \"attrs\": {},"
    "  \"parents\": [{\"type\": \"Folder\", \"id\": \"f1\"}]},"
    " {\"uid\": {\"type\": \"Action\", \"id\": \"read\"},"
    "  \"parents\": [{\"type\": \"Action\", \"id\": \"all\"}]}]";

static zt_entities *es;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;

static int
setup(void **state)
{
	(void)state;
	return zt_entities_from_json(&es, entities_json,
	    strlen(entities_json)) == ZT_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	zt_entities_free(es);
	zt_policy_answer_free(&ans);
	return 0;
}

static int
decide(const zt_policy_set *ps, const char *user)
{
	zt_policy_request req = {
		ZT_POLICY_UID("User", user), ZT_POLICY_UID("Action", "read"),
		ZT_POLICY_UID("Doc", "d1"), NULL,
	};

	assert_int_equal(zt_policy_decide(&ans, ps, es, &req), ZT_OK);
	if (ans.nerrors > 0)
		return E;
	return ans.decision == ZT_POLICY_ALLOW ? T : F;
}

static const char A[] = "{\"op\": \"All\"}";

/* `cond` in text and `body` in JSON both give `want`. */
static void
same(const char *cond, const char *body, int want)
{
	char text[1024], json[2048];
	zt_policy_error err;
	zt_policy_set *ps;
	int got;

	snprintf(text, sizeof(text),
	    "permit (principal, action, resource) when { %s };", cond);
	snprintf(json, sizeof(json), "{\"effect\": \"permit\", "
	    "\"principal\": %s, \"action\": %s, \"resource\": %s, "
	    "\"conditions\": [{\"kind\": \"when\", \"body\": %s}]}",
	    A, A, A, body);
	if (zt_policy_set_parse(&ps, text, strlen(text), &err) != ZT_OK)
		fail_msg("text `%s`: %s", cond, err.message);
	got = decide(ps, "alice");
	zt_policy_set_free(ps);
	if (got != want)
		fail_msg("text `%s` gave %d, want %d", cond, got, want);
	if (zt_policy_set_parse_json(&ps, json, strlen(json), &err) != ZT_OK)
		fail_msg("JSON for `%s`: %s", cond, err.message);
	got = decide(ps, "alice");
	zt_policy_set_free(ps);
	if (got != want)
		fail_msg("JSON for `%s` gave %d, want %d", cond, got, want);
}

#define V(x) "{\"Value\": " x "}"
#define VAR(x) "{\"Var\": \"" x "\"}"
#define BIN(op, l, r) "{\"" op "\": {\"left\": " l ", \"right\": " r "}}"
#define ATTR(l, a) "{\".\": {\"left\": " l ", \"attr\": \"" a "\"}}"
#define PRINC VAR("principal")

static void
test_policy_json__expressions(void **state)
{
	(void)state;
	same("true", V("true"), T);
	same("1 + 2 == 3", BIN("==", BIN("+", V("1"), V("2")), V("3")), T);
	same("2 * 3 - 7 < 0", BIN("<", BIN("-", BIN("*", V("2"), V("3")),
	    V("7")), V("0")), T);
	same("principal.age >= 30", BIN(">=", ATTR(PRINC, "age"), V("30")),
	    T);
	same("principal.name != \"Bob\"", BIN("!=", ATTR(PRINC, "name"),
	    V("\"Bob\"")), T);
	same("!(1 == 1)", "{\"!\": {\"arg\": " BIN("==", V("1"), V("1"))
	    "}}", F);
	same("-(principal.age) == -30", BIN("==", "{\"neg\": {\"arg\": "
	    ATTR(PRINC, "age") "}}", V("-30")), T);
	same("false && (1 + \"a\" == 1)", BIN("&&", V("false"),
	    BIN("==", BIN("+", V("1"), V("\"a\"")), V("1"))), F);
	same("true || 1", BIN("||", V("true"), V("1")), T);
	same("false || 1", BIN("||", V("false"), V("1")), E);
	same("principal in Group::\"eng\"", BIN("in", PRINC,
	    V("{\"__entity\": {\"type\": \"Group\", \"id\": \"eng\"}}")), T);
	same("principal has age", "{\"has\": {\"left\": " PRINC
	    ", \"attr\": \"age\"}}", T);
	same("principal has nope", "{\"has\": {\"left\": " PRINC
	    ", \"attr\": \"nope\"}}", F);
	same("principal.nope == 1", BIN("==", ATTR(PRINC, "nope"), V("1")),
	    E);
	same("principal is User", "{\"is\": {\"left\": " PRINC
	    ", \"entity_type\": \"User\"}}", T);
	same("principal is User in Group::\"x\"", "{\"is\": {\"left\": " PRINC
	    ", \"entity_type\": \"User\", \"in\": " V("{\"__entity\": "
	    "{\"type\": \"Group\", \"id\": \"x\"}}") "}}", F);
	same("principal.name like \"Al*e\"", "{\"like\": {\"left\": "
	    ATTR(PRINC, "name") ", \"pattern\": [{\"Literal\": \"Al\"}, "
	    "\"Wildcard\", {\"Literal\": \"e\"}]}}", T);
	same("principal.name like \"*x*\"", "{\"like\": {\"left\": "
	    ATTR(PRINC, "name") ", \"pattern\": [\"Wildcard\", "
	    "{\"Literal\": \"x\"}, \"Wildcard\"]}}", F);
	same("if principal.age > 18 then true else false",
	    "{\"if-then-else\": {\"if\": " BIN(">", ATTR(PRINC, "age"),
	    V("18")) ", \"then\": " V("true") ", \"else\": " V("false") "}}",
	    T);
	same("[1, principal.age].contains(30)", BIN("contains",
	    "{\"Set\": [" V("1") ", " ATTR(PRINC, "age") "]}", V("30")), T);
	same("principal.tags.containsAll([\"a\"])", BIN("containsAll",
	    ATTR(PRINC, "tags"), V("[\"a\"]")), T);
	same("principal.tags.containsAny([\"z\"])", BIN("containsAny",
	    ATTR(PRINC, "tags"), V("[\"z\"]")), F);
	same("principal.tags.isEmpty()", "{\"isEmpty\": {\"arg\": "
	    ATTR(PRINC, "tags") "}}", F);
	same("{b: principal.age, a: 1}.b == 30", BIN("==",
	    ATTR("{\"Record\": {\"b\": " ATTR(PRINC, "age") ", \"a\": "
	    V("1") "}}", "b"), V("30")), T);
	same("{z: 1, a: 2, m: principal.age}.a == 2", BIN("==",
	    ATTR("{\"Record\": {\"z\": " V("1") ", \"a\": " V("2") ", \"m\": "
	    ATTR(PRINC, "age") "}}", "a"), V("2")), T);
	same("principal.ip.isInRange(ip(\"10.0.0.0/8\"))",
	    "{\"isInRange\": [" ATTR(PRINC, "ip") ", {\"ip\": ["
	    V("\"10.0.0.0/8\"") "]}]}", T);
	same("decimal(\"1.5\").lessThan(decimal(\"2.0\"))",
	    "{\"lessThan\": [{\"decimal\": [" V("\"1.5\"") "]}, "
	    "{\"decimal\": [" V("\"2.0\"") "]}]}", T);
	same("datetime(\"2024-01-01\").offset(duration(\"1d\")) == "
	    "datetime(\"2024-01-02\")", BIN("==", "{\"offset\": "
	    "[{\"datetime\": [" V("\"2024-01-01\"") "]}, {\"duration\": ["
	    V("\"1d\"") "]}]}", "{\"datetime\": [" V("\"2024-01-02\"") "]}"),
	    T);
	same("context == {}", BIN("==", VAR("context"), V("{}")), T);
	same("action in Action::\"all\"", BIN("in", VAR("action"),
	    V("{\"__entity\": {\"type\": \"Action\", \"id\": \"all\"}}")), T);
	same("resource in Folder::\"f1\"", BIN("in", VAR("resource"),
	    V("{\"__entity\": {\"type\": \"Folder\", \"id\": \"f1\"}}")), T);
}

static int
json_result(const char *json, const char *user)
{
	zt_policy_error err;
	zt_policy_set *ps;
	int got;

	if (zt_policy_set_parse_json(&ps, json, strlen(json), &err) != ZT_OK)
		fail_msg("JSON refused: %s", err.message);
	got = decide(ps, user);
	zt_policy_set_free(ps);
	return got;
}

static void
test_policy_json__scopes(void **state)
{
	static const char eq[] = "{\"effect\": \"permit\", \"principal\": "
	    "{\"op\": \"==\", \"entity\": {\"type\": \"User\", \"id\": "
	    "\"alice\"}}, \"action\": {\"op\": \"in\", \"entities\": "
	    "[{\"type\": \"Action\", \"id\": \"x\"}, {\"__entity\": "
	    "{\"type\": \"Action\", \"id\": \"all\"}}]}, \"resource\": "
	    "{\"op\": \"is\", \"entity_type\": \"Doc\", \"in\": {\"entity\": "
	    "{\"type\": \"Folder\", \"id\": \"f1\"}}}, \"conditions\": [], "
	    "\"annotations\": {\"id\": \"ignored\", \"note\": null}}";
	static const char in[] = "{\"effect\": \"forbid\", \"principal\": "
	    "{\"op\": \"in\", \"entity\": {\"type\": \"Group\", \"id\": "
	    "\"eng\"}}, \"action\": {\"op\": \"==\", \"entity\": {\"type\": "
	    "\"Action\", \"id\": \"read\"}}, \"resource\": {\"op\": \"is\", "
	    "\"entity_type\": \"Doc\"}, \"conditions\": [{\"kind\": "
	    "\"unless\", \"body\": {\"Value\": false}}]}";

	(void)state;
	assert_int_equal(json_result(eq, "alice"), T);
	assert_int_equal(json_result(eq, "bob"), F);
	/* A satisfied forbid: the deny names no permit. */
	assert_int_equal(json_result(in, "alice"), F);
	assert_int_equal(ans.ndetermining, 1);
}

static void
test_policy_json__policy_set(void **state)
{
	static const char set[] =
	    "{\"staticPolicies\": {\"s1\": {\"effect\": \"permit\", "
	    "  \"principal\": {\"op\": \"==\", \"entity\": {\"type\": "
	    "  \"User\", \"id\": \"root\"}}, \"action\": {\"op\": \"All\"}, "
	    "  \"resource\": {\"op\": \"All\"}, \"conditions\": []}},"
	    " \"templates\": {\"t1\": {\"effect\": \"permit\", "
	    "  \"principal\": {\"op\": \"in\", \"slot\": \"?principal\"}, "
	    "  \"action\": {\"op\": \"All\"}, \"resource\": {\"op\": \"is\", "
	    "  \"entity_type\": \"Doc\", \"in\": {\"slot\": \"?resource\"}}, "
	    "  \"conditions\": []}},"
	    " \"templateLinks\": [{\"templateId\": \"t1\", \"newId\": "
	    "  \"eng-f1\", \"values\": {\"?principal\": {\"type\": "
	    "  \"Group\", \"id\": \"eng\"}, \"?resource\": {\"__entity\": "
	    "  {\"type\": \"Folder\", \"id\": \"f1\"}}}}]}";
	zt_policy_set *ps;

	(void)state;
	assert_int_equal(zt_policy_set_parse_json(&ps, set, strlen(set),
	    NULL), ZT_OK);
	assert_int_equal(zt_policy_set_count(ps), 2);
	assert_string_equal(zt_policy_set_id(ps, 0), "s1");
	assert_string_equal(zt_policy_set_id(ps, 1), "eng-f1");
	assert_string_equal(zt_policy_set_template_of(ps, 1), "t1");
	assert_int_equal(zt_policy_set_template_count(ps), 1);
	assert_int_equal(decide(ps, "alice"), T);
	assert_string_equal(ans.determining[0], "eng-f1");
	zt_policy_set_free(ps);
	assert_int_equal(zt_policy_set_parse_json(&ps, "{}", 2, NULL), ZT_OK);
	assert_int_equal(zt_policy_set_count(ps), 0);
	zt_policy_set_free(ps);
}

static void
bad(const char *json, const char *why)
{
	zt_policy_error err;
	zt_policy_set *ps;

	if (zt_policy_set_parse_json(&ps, json, strlen(json), &err) !=
	    ZT_EINVAL)
		fail_msg("accepted: %s", json);
	assert_null(ps);
	if (strstr(err.message, why) == NULL)
		fail_msg("%s\n  message \"%s\" lacks \"%s\"", json,
		    err.message, why);
}

#define POL(p, a, r, c) "{\"effect\": \"permit\", \"principal\": " p \
	", \"action\": " a ", \"resource\": " r ", \"conditions\": " c "}"
#define ALL "{\"op\": \"All\"}"
#define WHEN(b) "[{\"kind\": \"when\", \"body\": " b "}]"

static void
test_policy_json__errors(void **state)
{
	(void)state;
	bad("[", "line 1");
	bad("[]", "is an object");
	bad("{\"effect\": \"allow\"}", "\"effect\"");
	bad("{\"staticPolicies\": {}, \"extra\": 1}", "only staticPolicies");
	bad(POL("{\"op\": \"==\"}", ALL, ALL, "[]"), "\"entity\" or \"slot\"");
	bad(POL("{\"op\": \"like\"}", ALL, ALL, "[]"), "unknown principal");
	bad(POL("{\"op\": \"==\", \"entity\": {\"type\": \"User\"}}", ALL, ALL,
	    "[]"), "principal");
	bad(POL(ALL, "{\"op\": \"==\", \"entity\": {\"type\": \"User\", "
	    "\"id\": \"x\"}}", ALL, "[]"), "Action entities");
	bad(POL(ALL, "{\"op\": \"is\", \"entity_type\": \"Action\"}", ALL,
	    "[]"), "unknown action");
	bad(POL("{\"op\": \"==\", \"slot\": \"?resource\"}", ALL, ALL, "[]"),
	    "takes only the slot `?principal`");
	bad(POL(ALL, ALL, ALL, WHEN("{\"Value\": null}")), "bad \"Value\"");
	bad(POL(ALL, ALL, ALL, WHEN("{\"Var\": \"me\"}")), "\"Var\"");
	bad(POL(ALL, ALL, ALL, WHEN("{\"Slot\": \"?principal\"}")),
	    "slot is allowed only");
	bad(POL(ALL, ALL, ALL, WHEN("{\"frob\": []}")), "unknown expression");
	bad(POL(ALL, ALL, ALL, WHEN("{\"ip\": []}")), "takes 1 argument");
	bad(POL(ALL, ALL, ALL, WHEN("{\"==\": {\"left\": {\"Value\": 1}}}")),
	    "needs \"right\"");
	bad(POL(ALL, ALL, ALL, WHEN("{\"Value\": 1, \"Var\": \"context\"}")),
	    "one key");
	bad(POL(ALL, ALL, ALL, WHEN("{\"getTag\": {\"left\": {\"Value\": 1},"
	    " \"right\": {\"Value\": 1}}}")), "not supported");
	bad(POL(ALL, ALL, ALL, "[{\"kind\": \"if\", \"body\": {\"Value\": "
	    "true}}]"), "a condition is");
	bad("{\"staticPolicies\": {\"p\": " POL("{\"op\": \"==\", \"slot\": "
	    "\"?principal\"}", ALL, ALL, "[]") "}}", "may not hold a slot");
	bad("{\"templates\": {\"t\": " POL(ALL, ALL, ALL, "[]") "}}",
	    "needs a slot");
	bad("{\"staticPolicies\": {\"p\": " POL(ALL, ALL, ALL, "[]") "},"
	    " \"templates\": {\"p\": " POL("{\"op\": \"==\", \"slot\": "
	    "\"?principal\"}", ALL, ALL, "[]") "}}", "duplicate policy id");
	bad("{\"templates\": {\"t\": " POL("{\"op\": \"==\", \"slot\": "
	    "\"?principal\"}", ALL, ALL, "[]") "}, \"templateLinks\": "
	    "[{\"templateId\": \"t\", \"newId\": \"l\", \"values\": {}}]}",
	    "needs a value for ?principal");
	bad("{\"templates\": {\"t\": " POL("{\"op\": \"==\", \"slot\": "
	    "\"?principal\"}", ALL, ALL, "[]") "}, \"templateLinks\": "
	    "[{\"templateId\": \"t\", \"newId\": \"l\", \"values\": "
	    "{\"?principal\": {\"type\": \"U\", \"id\": \"a\"}, \"?resource\":"
	    " {\"type\": \"U\", \"id\": \"a\"}}}]}", "has no ?resource slot");
	bad("{\"templateLinks\": [{\"templateId\": \"t\", \"newId\": \"l\", "
	    "\"values\": {}}]}", "no template");
}

static void
test_policy_json__depth(void **state)
{
	const size_t cap = 64 * 1024;
	char *json = malloc(cap);
	size_t n = 0;
	int i;

	(void)state;
	assert_non_null(json);
	n += (size_t)snprintf(json + n, cap - n, "%s", "{\"effect\": \"permit\", "
	    "\"principal\": " ALL ", \"action\": " ALL ", \"resource\": " ALL
	    ", \"conditions\": [{\"kind\": \"when\", \"body\": ");
	for (i = 0; i < 200; i++)
		n += (size_t)snprintf(json + n, cap - n, "{\"!\": {\"arg\": ");
	n += (size_t)snprintf(json + n, cap - n, "{\"Value\": true}");
	for (i = 0; i < 200; i++)
		n += (size_t)snprintf(json + n, cap - n, "}}");
	n += (size_t)snprintf(json + n, cap - n, "}]}");
	bad(json, "deeper");
	free(json);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_json__expressions),
		cmocka_unit_test(test_policy_json__scopes),
		cmocka_unit_test(test_policy_json__policy_set),
		cmocka_unit_test(test_policy_json__errors),
		cmocka_unit_test(test_policy_json__depth),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
