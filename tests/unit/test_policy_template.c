/*
 * Tests of policy templates and links (policy/template.c, parse.c): slots
 * in the principal and resource scopes, links that fill them, decisions
 * through links named by their link ids, and the errors for a missing or
 * extra slot value, an unknown template and a taken id.
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

static const char entities_json[] =
    "[{\"uid\": {\"type\": \"User\", \"id\": \"alice\"},"
    "  \"parents\": [{\"type\": \"Group\", \"id\": \"eng\"}]},"
    " {\"uid\": {\"type\": \"User\", \"id\": \"bob\"}, \"parents\": []},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"d1\"},"
    "  \"parents\": [{\"type\": \"Folder\", \"id\": \"f1\"}]},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"d2\"}, \"parents\": []}]";

static const char policies[] =
    "@id(\"static\")\n"
    "permit (principal == User::\"root\", action, resource);\n"
    "@id(\"viewer\")\n"
    "permit (principal == ?principal, action == Action::\"view\",\n"
    "    resource in ?resource);\n"
    "@id(\"group-edit\")\n"
    "permit (principal in ?principal, action == Action::\"edit\",\n"
    "    resource is Doc);\n"
    "@id(\"no-folder\")\n"
    "forbid (principal, action, resource is Doc in ?resource)\n"
    "    when { context has block };\n";

static zt_entities *es;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;

static int
setup(void **state)
{
	(void)state;
	if (zt_entities_from_json(&es, entities_json,
	    strlen(entities_json)) != ZT_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	zt_entities_free(es);
	zt_policy_answer_free(&ans);
	return 0;
}

static zt_policy_set *
load(void)
{
	zt_policy_error err;
	zt_policy_set *ps;

	if (zt_policy_set_parse(&ps, policies, strlen(policies), &err) !=
	    ZT_OK)
		fail_msg("parse: %d:%d %s", err.line, err.column, err.message);
	return ps;
}

/* Decides (user, action, doc); returns the decision and leaves the
 * determining ids in ans. */
static int
decide(const zt_policy_set *ps, const char *user, const char *action,
    const char *doc)
{
	zt_policy_request req = {
		ZT_POLICY_UID("User", user), ZT_POLICY_UID("Action", action),
		ZT_POLICY_UID("Doc", doc), NULL,
	};

	assert_int_equal(zt_policy_decide(&ans, ps, es, &req), ZT_OK);
	return ans.decision;
}

static void
test_policy_template__parse(void **state)
{
	zt_policy_set *ps = load();

	(void)state;
	assert_int_equal(zt_policy_set_count(ps), 1);
	assert_string_equal(zt_policy_set_id(ps, 0), "static");
	assert_null(zt_policy_set_template_of(ps, 0));
	assert_int_equal(zt_policy_set_template_count(ps), 3);
	assert_string_equal(zt_policy_set_template_id(ps, 0), "viewer");
	assert_string_equal(zt_policy_set_template_id(ps, 2), "no-folder");
	assert_null(zt_policy_set_template_id(ps, 3));
	/* An unlinked template decides nothing. */
	assert_int_equal(decide(ps, "alice", "view", "d1"), ZT_POLICY_DENY);
	zt_policy_set_free(ps);
}

static void
test_policy_template__link_and_decide(void **state)
{
	zt_policy_uid alice = ZT_POLICY_UID("User", "alice");
	zt_policy_uid eng = ZT_POLICY_UID("Group", "eng");
	zt_policy_uid f1 = ZT_POLICY_UID("Folder", "f1");
	zt_policy_set *ps = load();

	(void)state;
	assert_int_equal(zt_policy_set_link(ps, "viewer", "alice-f1", &alice,
	    &f1), ZT_OK);
	assert_int_equal(zt_policy_set_count(ps), 2);
	assert_string_equal(zt_policy_set_id(ps, 1), "alice-f1");
	assert_string_equal(zt_policy_set_template_of(ps, 1), "viewer");

	assert_int_equal(decide(ps, "alice", "view", "d1"), ZT_POLICY_ALLOW);
	assert_int_equal(ans.ndetermining, 1);
	assert_string_equal(ans.determining[0], "alice-f1");
	assert_int_equal(decide(ps, "bob", "view", "d1"), ZT_POLICY_DENY);
	assert_int_equal(decide(ps, "alice", "view", "d2"), ZT_POLICY_DENY);
	assert_int_equal(decide(ps, "alice", "edit", "d1"), ZT_POLICY_DENY);

	/* `principal in ?principal` through the group. */
	assert_int_equal(zt_policy_set_link(ps, "group-edit", "eng-edit", &eng,
	    NULL), ZT_OK);
	assert_int_equal(decide(ps, "alice", "edit", "d2"), ZT_POLICY_ALLOW);
	assert_string_equal(ans.determining[0], "eng-edit");
	assert_int_equal(decide(ps, "bob", "edit", "d2"), ZT_POLICY_DENY);

	/* Unlinking takes the grant away again. */
	assert_int_equal(zt_policy_set_unlink(ps, "alice-f1"), ZT_OK);
	assert_int_equal(zt_policy_set_count(ps), 2);
	assert_int_equal(decide(ps, "alice", "view", "d1"), ZT_POLICY_DENY);
	assert_int_equal(decide(ps, "alice", "edit", "d2"), ZT_POLICY_ALLOW);
	zt_policy_set_free(ps);
}

static void
test_policy_template__link_errors(void **state)
{
	zt_policy_uid alice = ZT_POLICY_UID("User", "alice");
	zt_policy_uid f1 = ZT_POLICY_UID("Folder", "f1");
	zt_policy_uid bad = ZT_POLICY_UID("9x", "a");
	zt_policy_set *ps = load();

	(void)state;
	assert_int_equal(zt_policy_set_link(ps, "viewer", "l1", &alice, NULL),
	    ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "needs a value for ?resource"));
	assert_int_equal(zt_policy_set_link(ps, "viewer", "l1", NULL, &f1),
	    ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "?principal"));
	assert_int_equal(zt_policy_set_link(ps, "group-edit", "l1", &alice,
	    &f1), ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "has no ?resource slot"));
	assert_int_equal(zt_policy_set_link(ps, "nope", "l1", &alice, &f1),
	    ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "no template"));
	assert_int_equal(zt_policy_set_link(ps, "static", "l1", &alice, &f1),
	    ZT_EINVAL);
	assert_int_equal(zt_policy_set_link(ps, "viewer", "l1", &bad, &f1),
	    ZT_EINVAL);
	assert_int_equal(zt_policy_set_link(ps, "viewer", "", &alice, &f1),
	    ZT_EINVAL);

	/* Ids are shared by policies, templates and links. */
	assert_int_equal(zt_policy_set_link(ps, "viewer", "static", &alice,
	    &f1), ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "duplicate policy id"));
	assert_int_equal(zt_policy_set_link(ps, "viewer", "group-edit",
	    &alice, &f1), ZT_EINVAL);
	assert_int_equal(zt_policy_set_link(ps, "viewer", "l1", &alice, &f1),
	    ZT_OK);
	assert_int_equal(zt_policy_set_link(ps, "viewer", "l1", &alice, &f1),
	    ZT_EINVAL);
	assert_int_equal(zt_policy_set_count(ps), 2);

	assert_int_equal(zt_policy_set_unlink(ps, "static"), ZT_EINVAL);
	assert_int_equal(zt_policy_set_unlink(ps, "nope"), ZT_ENOTFOUND);
	zt_policy_set_free(ps);
}

static void
test_policy_template__forbid_link(void **state)
{
	zt_policy_uid f1 = ZT_POLICY_UID("Folder", "f1");
	zt_policy_uid alice = ZT_POLICY_UID("User", "alice");
	zt_policy_request req = {
		ZT_POLICY_UID("User", "alice"), ZT_POLICY_UID("Action", "view"),
		ZT_POLICY_UID("Doc", "d1"), NULL,
	};
	zt_policy_context *ctx;
	zt_policy_set *ps = load();

	(void)state;
	assert_int_equal(zt_policy_context_from_json(&ctx,
	    "{\"block\": true}", 15), ZT_OK);
	req.context = ctx;
	assert_int_equal(zt_policy_set_link(ps, "viewer", "v", &alice, &f1),
	    ZT_OK);
	assert_int_equal(zt_policy_set_link(ps, "no-folder", "block-f1", NULL,
	    &f1), ZT_OK);
	assert_int_equal(zt_policy_decide(&ans, ps, es, &req), ZT_OK);
	assert_int_equal(ans.decision, ZT_POLICY_DENY);
	assert_int_equal(ans.ndetermining, 1);
	assert_string_equal(ans.determining[0], "block-f1");
	zt_policy_context_free(ctx);
	zt_policy_set_free(ps);
}

/* Many links: each user gets exactly its own grant through the index. */
static void
test_policy_template__many_links(void **state)
{
	zt_policy_uid u, f1 = ZT_POLICY_UID("Folder", "f1");
	zt_policy_set *ps = load();
	char id[32], name[32];
	int i;

	(void)state;
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		snprintf(id, sizeof(id), "link%d", i);
		u = ZT_POLICY_UID("User", name);
		assert_int_equal(zt_policy_set_link(ps, "viewer", id, &u, &f1),
		    ZT_OK);
	}
	assert_int_equal(zt_policy_set_count(ps), 301);
	for (i = 0; i < 300; i += 37) {
		snprintf(name, sizeof(name), "u%d", i);
		snprintf(id, sizeof(id), "link%d", i);
		assert_int_equal(decide(ps, name, "view", "d1"),
		    ZT_POLICY_ALLOW);
		assert_int_equal(ans.ndetermining, 1);
		assert_string_equal(ans.determining[0], id);
	}
	assert_int_equal(decide(ps, "u300", "view", "d1"), ZT_POLICY_DENY);
	zt_policy_set_free(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_template__parse),
		cmocka_unit_test(test_policy_template__link_and_decide),
		cmocka_unit_test(test_policy_template__link_errors),
		cmocka_unit_test(test_policy_template__forbid_link),
		cmocka_unit_test(test_policy_template__many_links),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
