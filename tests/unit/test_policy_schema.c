/*
 * Tests of Cedar's JSON schema format (policy/schema.c) and of policy
 * validation against it (validate.c): what a schema may say and what it
 * may not, then each kind of validation error with its policy id,
 * position and message, and valid policies that must pass.
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
    "{\"App\": {"
    " \"commonTypes\": {\"Ctx\": {\"type\": \"Record\", \"attributes\": {"
    "   \"remoteIP\": {\"type\": \"Extension\", \"name\": \"ipaddr\"},"
    "   \"trustScore\": {\"type\": \"Long\"},"
    "   \"now\": {\"type\": \"Extension\", \"name\": \"datetime\"},"
    "   \"note\": {\"type\": \"String\", \"required\": false}}}},"
    " \"entityTypes\": {"
    "  \"User\": {\"memberOfTypes\": [\"Group\"], \"shape\": {\"type\": "
    "   \"Record\", \"attributes\": {"
    "    \"age\": {\"type\": \"Long\"},"
    "    \"dept\": {\"type\": \"String\", \"required\": false},"
    "    \"tags\": {\"type\": \"Set\", \"element\": {\"type\": \"String\"}},"
    "    \"boss\": {\"type\": \"Entity\", \"name\": \"User\"},"
    "    \"addr\": {\"type\": \"Record\", \"required\": false, "
    "     \"attributes\": {\"city\": {\"type\": \"String\"},"
    "      \"zip\": {\"type\": \"String\", \"required\": false}}}}}},"
    "  \"Group\": {},"
    "  \"Doc\": {\"memberOfTypes\": [\"Folder\"], \"shape\": {\"type\": "
    "   \"Record\", \"attributes\": {\"owner\": {\"type\": \"Entity\", "
    "   \"name\": \"User\"}, \"public\": {\"type\": \"Boolean\"}}}},"
    "  \"Folder\": {}},"
    " \"actions\": {"
    "  \"read\": {},"
    "  \"view\": {\"memberOf\": [{\"id\": \"read\"}], \"appliesTo\": {"
    "   \"principalTypes\": [\"User\"], \"resourceTypes\": [\"Doc\"],"
    "   \"context\": {\"type\": \"Ctx\"}}},"
    "  \"manage\": {\"appliesTo\": {\"principalTypes\": [\"User\"],"
    "   \"resourceTypes\": [\"Folder\"]}}}}}";

static zt_policy_schema *schema;

static int
setup(void **state)
{
	(void)state;
	if (zt_policy_schema_from_json(&schema, schema_json,
	    strlen(schema_json)) != ZT_OK) {
		fprintf(stderr, "setup: %s\n", zt_error_msg());
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	zt_policy_schema_free(schema);
	return 0;
}

static void
test_policy_schema__parse(void **state)
{
	(void)state;
	assert_int_equal(zt_policy_schema_entity_type_count(schema), 4);
	assert_int_equal(zt_policy_schema_action_count(schema), 3);
}

static void
bad_schema(const char *json, const char *why)
{
	zt_policy_schema *s;

	if (zt_policy_schema_from_json(&s, json, strlen(json)) != ZT_EINVAL)
		fail_msg("accepted: %s", json);
	assert_null(s);
	if (strstr(zt_error_msg(), why) == NULL)
		fail_msg("%s\n  message \"%s\" lacks \"%s\"", json,
		    zt_error_msg(), why);
}

static void
test_policy_schema__bad_schemas(void **state)
{
	(void)state;
	bad_schema("[]", "object of namespaces");
	bad_schema("{\"\": {\"entityTypes\": {\"A\": {\"memberOfTypes\": "
	    "[\"B\"]}}}}", "unknown entity type `B`");
	bad_schema("{\"\": {\"entityTypes\": {\"A\": {\"shape\": {\"type\": "
	    "\"Long\"}}}}}", "must be a record");
	bad_schema("{\"\": {\"entityTypes\": {\"A\": {\"shape\": {\"type\": "
	    "\"Record\", \"attributes\": {\"x\": {\"type\": \"Nope\"}}}}}}}",
	    "unknown type `Nope`");
	bad_schema("{\"\": {\"commonTypes\": {\"A\": {\"type\": \"B\"}, "
	    "\"B\": {\"type\": \"A\"}}}}", "refers to itself");
	bad_schema("{\"\": {\"entityTypes\": {\"A\": {\"tags\": {\"type\": "
	    "\"String\"}}}}}", "not supported");
	bad_schema("{\"\": {\"actions\": {\"a\": {\"memberOf\": [{\"id\": "
	    "\"b\"}]}, \"b\": {\"memberOf\": [{\"id\": \"a\"}]}}}}", "cycle");
	bad_schema("{\"\": {\"actions\": {\"a\": {\"memberOf\": [{\"id\": "
	    "\"zz\"}]}}}}", "undeclared action");
	bad_schema("{\"\": {\"actions\": {\"a\": {\"appliesTo\": "
	    "{\"principalTypes\": [\"U\"]}}}}}", "unknown entity type `U`");
	bad_schema("{\"\": {\"entityTypes\": {\"A\": {\"shape\": {\"type\": "
	    "\"Record\", \"attributes\": {\"x\": {\"type\": \"Extension\", "
	    "\"name\": \"float\"}}}}}}}", "unknown extension type");
	bad_schema("{\"\": {\"stuff\": {}}}", "unknown key");
	bad_schema("{\"\": {\"entityTypes\": {\"A\": {}, \"A\": {}}}}",
	    "duplicate");
}

/* Validates `text`: NULL `why` means it must pass; else it must fail
 * with a first error whose message holds `why` at (line, col) when
 * line > 0. */
static void
validate(const char *text, const char *why, int line, int col)
{
	zt_policy_validation val = ZT_POLICY_VALIDATION_INIT;
	zt_policy_error err;
	zt_policy_set *ps;
	int rc;

	if (zt_policy_set_parse(&ps, text, strlen(text), &err) != ZT_OK)
		fail_msg("does not parse: %s: %s", text, err.message);
	rc = zt_policy_validate(&val, ps, schema);
	if (why == NULL) {
		if (rc != ZT_OK)
			fail_msg("%s\n  refused: %d:%d %s", text,
			    val.errors[0].line, val.errors[0].column,
			    val.errors[0].message);
	} else {
		if (rc != ZT_EINVAL)
			fail_msg("accepted: %s", text);
		assert_true(val.nerrors > 0);
		assert_non_null(val.errors[0].policy_id);
		if (strstr(val.errors[0].message, why) == NULL)
			fail_msg("%s\n  message \"%s\" lacks \"%s\"", text,
			    val.errors[0].message, why);
		if (line > 0 && (val.errors[0].line != line ||
		    val.errors[0].column != col))
			fail_msg("%s\n  error at %d:%d, want %d:%d", text,
			    val.errors[0].line, val.errors[0].column, line,
			    col);
	}
	zt_policy_validation_free(&val);
	zt_policy_set_free(ps);
}

#define VIEW "permit (principal, action == App::Action::\"view\", " \
	"resource) when { "

static void
test_policy_schema__valid(void **state)
{
	(void)state;
	validate("permit (principal, action, resource);", NULL, 0, 0);
	validate(VIEW "principal.age >= 18 && resource.public };", NULL, 0, 0);
	validate(VIEW "principal has dept && principal.dept == \"eng\" };",
	    NULL, 0, 0);
	validate(VIEW "principal has addr && principal.addr has zip && "
	    "principal.addr.zip like \"75*\" };", NULL, 0, 0);
	validate(VIEW "if context has note then context.note != \"\" else "
	    "true };", NULL, 0, 0);
	validate(VIEW "context.remoteIP.isInRange(ip(\"10.0.0.0/8\")) && "
	    "context.trustScore > 50 };", NULL, 0, 0);
	validate(VIEW "context.now > datetime(\"2024-01-01\") };", NULL, 0, 0);
	validate(VIEW "principal.tags.contains(\"x\") && "
	    "resource.owner == principal && principal.boss.age > 1 };", NULL,
	    0, 0);
	validate(VIEW "principal in App::Group::\"g\" };", NULL, 0, 0);
	validate("permit (principal in App::Group::\"g\", action in "
	    "App::Action::\"read\", resource in App::Folder::\"f\");", NULL,
	    0, 0);
	validate("permit (principal is App::User, action, resource is "
	    "App::Folder);", NULL, 0, 0);
	/* A false && hides the unchecked right side, as in Cedar. */
	validate(VIEW "principal is App::Group && principal.nope };", NULL,
	    0, 0);
	validate(VIEW "resource == App::Folder::\"f\" };", NULL, 0, 0);
}

static void
test_policy_schema__errors(void **state)
{
	(void)state;
	validate("permit (principal == App::Nobody::\"x\", action, resource);",
	    "unknown entity type `App::Nobody`", 1, 1);
	validate("permit (principal, action == App::Action::\"fly\", "
	    "resource);", "unknown action `fly`", 1, 1);
	validate("permit (principal, action == App::Action::\"view\",\n"
	    "  resource is App::Folder);", "impossible scope", 1, 1);
	validate("permit (principal is App::Group, action, resource);",
	    "impossible scope", 0, 0);
	validate(VIEW "principal.nope == 1 };", "attribute `nope` not found "
	    "on entity App::User", 1, 77);
	validate(VIEW "principal.dept == \"eng\" };", "optional", 1, 77);
	validate(VIEW "principal has addr && principal.addr.zip == \"1\" };",
	    "`zip`", 0, 0);
	validate(VIEW "context.note == \"x\" };", "optional", 0, 0);
	validate(VIEW "\"a\" < 1 };", "cannot order string and long", 1, 72);
	validate(VIEW "principal.age == \"30\" };", "cannot compare", 0, 0);
	validate(VIEW "principal.age + true > 1 };", "expects long", 0, 0);
	validate(VIEW "principal.age };", "when expects bool", 0, 0);
	validate(VIEW "principal in 1 };", "`in` expects an entity", 0, 0);
	validate(VIEW "[1, \"a\"].contains(1) };", "different types", 0, 0);
	validate(VIEW "[].isEmpty() };", "empty set", 0, 0);
	validate(VIEW "principal.tags.contains(1) };", "cannot hold", 0, 0);
	validate(VIEW "(if true then 1 else \"a\") == 1 };", NULL, 0, 0);
	validate(VIEW "(if resource.public then 1 else \"a\") == 1 };",
	    "different types", 0, 0);
	validate(VIEW "ip(\"999.1.1.1\").isIpv4() };", "invalid extension", 0,
	    0);
	validate(VIEW "decimal(principal.dept).lessThan(decimal(\"1.0\")) };",
	    "string literal", 0, 0);
	validate(VIEW "context.trustScore.isIpv4() };", "expects ipaddr", 0,
	    0);
	validate(VIEW "App::Nobody::\"x\" == principal };",
	    "unknown entity type or action", 0, 0);
	validate(VIEW "principal is App::Nope };", "unknown entity type", 0,
	    0);
	validate(VIEW "principal.tags like \"a\" };", "expects string", 0, 0);
	/* Templates are checked with their slots open; links too. */
	validate("permit (principal == ?principal, action == "
	    "App::Action::\"view\", resource) when { principal.age > 1 };",
	    NULL, 0, 0);
	validate("permit (principal in ?principal, action == "
	    "App::Action::\"view\", resource) when { principal.x };",
	    "not found", 0, 0);
	validate("permit (principal, action == App::Action::\"view\", "
	    "resource is App::Folder in ?resource);", "impossible scope", 0,
	    0);
	/* A set of policies: each error names its policy. */
	validate("@id(\"ok\") permit (principal, action, resource);\n"
	    "@id(\"bad\") " VIEW "principal.x };", "not found", 2, 88);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_schema__parse),
		cmocka_unit_test(test_policy_schema__bad_schemas),
		cmocka_unit_test(test_policy_schema__valid),
		cmocka_unit_test(test_policy_schema__errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
