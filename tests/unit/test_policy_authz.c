/*
 * Tests of authorization (policy/authorize.c, entities.c): how satisfied,
 * unsatisfied and errored permits and forbids combine into a decision,
 * which policies an answer names, entity hierarchies several levels deep,
 * the entities JSON (and what it refuses, cycles first), and that the
 * policy index finds exactly the policies a full scan would.
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
#include "policy/policy_int.h"

static const char entities_json[] =
    "[{\"uid\": {\"type\": \"User\", \"id\": \"jack\"}, \"attrs\": {},"
    "  \"parents\": [{\"type\": \"Group\", \"id\": \"staff\"},"
    "               {\"type\": \"Role\", \"id\": \"viewer\"}]},"
    " {\"uid\": {\"type\": \"User\", \"id\": \"jill\"}, \"attrs\": {},"
    "  \"parents\": [{\"type\": \"Role\", \"id\": \"admin\"}]},"
    " {\"uid\": {\"type\": \"Group\", \"id\": \"staff\"}, \"attrs\": {},"
    "  \"parents\": [{\"type\": \"Group\", \"id\": \"everyone\"}]},"
    " {\"uid\": {\"type\": \"Group\", \"id\": \"everyone\"},"
    "  \"parents\": [{\"type\": \"Org\", \"id\": \"acme\"}]},"
    " {\"uid\": {\"type\": \"Role\", \"id\": \"admin\"},"
    "  \"parents\": [{\"type\": \"Role\", \"id\": \"editor\"}]},"
    " {\"uid\": {\"type\": \"Role\", \"id\": \"editor\"},"
    "  \"parents\": [{\"type\": \"Role\", \"id\": \"viewer\"}]},"
    " {\"uid\": {\"type\": \"Action\", \"id\": \"view\"},"
    "  \"parents\": [{\"type\": \"Action\", \"id\": \"read\"}]},"
    " {\"uid\": {\"type\": \"Action\", \"id\": \"read\"},"
    "  \"parents\": [{\"type\": \"Action\", \"id\": \"write\"}]},"
    " {\"uid\": {\"type\": \"Action\", \"id\": \"edit\"},"
    "  \"parents\": [{\"type\": \"Action\", \"id\": \"write\"}]},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"a:b:c\"},"
    "  \"attrs\": {\"owner\": {\"__entity\": {\"type\": \"User\","
    "    \"id\": \"jill\"}}, \"level\": 3},"
    "  \"parents\": [{\"type\": \"Doc\", \"id\": \"a:b\"}]},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"a:b\"},"
    "  \"parents\": [{\"type\": \"Doc\", \"id\": \"a\"}]},"
    " {\"uid\": {\"type\": \"Doc\", \"id\": \"a\"},"
    "  \"parents\": [{\"type\": \"App\", \"id\": \"app1\"}]}]";

static zt_entities *es;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;
/* The first errored policy's id, copied: ids are borrowed from the set,
 * which decide() frees. */
static char err0[64];

static int
setup(void **state)
{
	if (zt_entities_from_json(&es, entities_json,
	    strlen(entities_json)) != ZT_OK) {
		fprintf(stderr, "setup: %s\n", zt_error_msg());
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	zt_entities_free(es);
	zt_policy_answer_free(&ans);
	return 0;
}

static zt_policy_set *
parse(const char *text)
{
	zt_policy_error err;
	zt_policy_set *ps;

	if (zt_policy_set_parse(&ps, text, strlen(text), &err) != ZT_OK)
		fail_msg("%d:%d %s", err.line, err.column, err.message);
	return ps;
}

/* Decides and checks the decision and the determining ids, given as one
 * comma-separated string ("" for none). */
static void
decide(const char *text, const char *p, const char *a, const char *r,
    const char *context, int want, const char *ids)
{
	zt_policy_context *ctx = NULL;
	zt_policy_request req = {
		ZT_POLICY_UID("User", p), ZT_POLICY_UID("Action", a),
		ZT_POLICY_UID("Doc", r), NULL,
	};
	zt_policy_set *ps = parse(text);
	char got[512] = "";
	size_t i;

	if (context != NULL)
		assert_int_equal(zt_policy_context_from_json(&ctx, context,
		    strlen(context)), ZT_OK);
	req.context = ctx;
	assert_int_equal(zt_policy_decide(&ans, ps, es, &req), ZT_OK);
	for (i = 0; i < ans.ndetermining; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
		    i > 0 ? "," : "", ans.determining[i]);
	if ((int)ans.decision != want || strcmp(got, ids) != 0)
		fail_msg("%s for %s/%s/%s: got %s [%s], want %s [%s]", text,
		    p, a, r, ans.decision ? "allow" : "deny", got,
		    want ? "allow" : "deny", ids);
	snprintf(err0, sizeof(err0), "%s", ans.nerrors > 0 ?
	    ans.errors[0].policy_id : "");
	zt_policy_set_free(ps);
	zt_policy_context_free(ctx);
}

#define ALLOW ZT_POLICY_ALLOW
#define DENY ZT_POLICY_DENY

static void
test_policy_authz__combining(void **state)
{
	const char *both =
	    "@id(\"p\") permit (principal, action, resource);\n"
	    "@id(\"f\") forbid (principal == User::\"jill\", action, "
	    "resource);\n"
	    "@id(\"p2\") permit (principal in Role::\"viewer\", action, "
	    "resource);";

	decide("", "jack", "view", "a", NULL, DENY, "");
	decide("permit (principal, action, resource);", "jack", "view", "a",
	    NULL, ALLOW, "policy0");
	decide("forbid (principal, action, resource);", "jack", "view", "a",
	    NULL, DENY, "policy0");
	decide(both, "jack", "view", "a", NULL, ALLOW, "p,p2");
	decide(both, "jill", "view", "a", NULL, DENY, "f");
	decide(both, "nobody", "view", "a", NULL, ALLOW, "p");
	decide("permit (principal, action, resource) when { false };",
	    "jack", "view", "a", NULL, DENY, "");
	assert_int_equal(ans.nerrors, 0);
}

/*
 * Cedar skips a policy that errors, a forbid included: with the trust
 * score sent as a string, the low-trust forbid errors and the permit
 * allows.  This is the documented fail-open case that schema validation
 * will close; the errored forbid is listed so it can be alerted on.
 */
static void
test_policy_authz__errored_forbid_is_skipped(void **state)
{
	const char *text =
	    "@id(\"allow-all\") permit (principal, action, resource);\n"
	    "@id(\"low-trust\") forbid (principal, action, resource)\n"
	    "  when { context.trustScore < 30 };";

	decide(text, "jack", "view", "a", "{\"trustScore\": 10}", DENY,
	    "low-trust");
	assert_int_equal(ans.nerrors, 0);
	decide(text, "jack", "view", "a", "{\"trustScore\": \"10\"}", ALLOW,
	    "allow-all");
	assert_int_equal(ans.nerrors, 1);
	assert_string_equal(err0, "low-trust");
	assert_non_null(strstr(ans.errors[0].message, "type error"));
	decide(text, "jack", "view", "a", NULL, ALLOW, "allow-all");
	assert_int_equal(ans.nerrors, 1);
	assert_non_null(strstr(ans.errors[0].message, "trustScore"));
}

static void
test_policy_authz__errored_permit_denies(void **state)
{
	decide("@id(\"a\") permit (principal, action, resource) when "
	    "{ principal.missing };\n"
	    "@id(\"b\") permit (principal, action, resource) when "
	    "{ resource.level + 1 == 4 };", "jack", "view", "a:b:c", NULL,
	    ALLOW, "b");
	assert_int_equal(ans.nerrors, 1);
	assert_string_equal(err0, "a");
	decide("permit (principal, action, resource) when { 1 + \"\" };",
	    "jack", "view", "a", NULL, DENY, "");
	assert_int_equal(ans.nerrors, 1);
}

static void
test_policy_authz__hierarchy(void **state)
{
	const char *text =
	    "@id(\"org\") permit (principal in Org::\"acme\", "
	    "action in Action::\"write\", resource in App::\"app1\");";

	/* User -> Group -> Group -> Org; view -> read -> write;
	 * Doc a:b:c -> a:b -> a -> App. */
	decide(text, "jack", "view", "a:b:c", NULL, ALLOW, "org");
	decide(text, "jack", "edit", "a", NULL, ALLOW, "org");
	decide(text, "jill", "view", "a:b:c", NULL, DENY, "");
	decide(text, "jack", "delete", "a:b:c", NULL, DENY, "");
	decide(text, "jack", "view", "zzz", NULL, DENY, "");
	/* Roles inherit: admin -> editor -> viewer. */
	decide("permit (principal in Role::\"viewer\", action, resource);",
	    "jill", "view", "a", NULL, ALLOW, "policy0");
	decide("permit (principal in Role::\"admin\", action, resource);",
	    "jack", "view", "a", NULL, DENY, "");
	decide("permit (principal, action in [Action::\"edit\", "
	    "Action::\"read\"], resource is Doc in Doc::\"a:b\");",
	    "jack", "view", "a:b:c", NULL, ALLOW, "policy0");
	decide("permit (principal is User in Group::\"everyone\", action, "
	    "resource) when { resource.owner in Role::\"viewer\" };",
	    "jack", "view", "a:b:c", NULL, ALLOW, "policy0");
	decide("permit (principal is Group, action, resource);",
	    "jack", "view", "a", NULL, DENY, "");
	/* A parent the store does not hold still counts. */
	decide("permit (principal, action, resource in Doc::\"a\");",
	    "jack", "view", "a:b", NULL, ALLOW, "policy0");
}

static void
test_policy_authz__request_uids(void **state)
{
	zt_policy_set *ps = parse("permit (principal == User::\"jack\", "
	    "action, resource);");
	zt_policy_request req = {
		{ "User", 4, "jack\0x", 6 }, ZT_POLICY_UID("Action", "a"),
		ZT_POLICY_UID("Doc", "d"), NULL,
	};

	/* An id with a NUL in it is not the id before the NUL. */
	assert_int_equal(zt_policy_decide(&ans, ps, NULL, &req), ZT_OK);
	assert_int_equal(ans.decision, DENY);
	req.principal.id_len = 4;
	assert_int_equal(zt_policy_decide(&ans, ps, NULL, &req), ZT_OK);
	assert_int_equal(ans.decision, ALLOW);
	req.principal.type = NULL;
	assert_int_equal(zt_policy_decide(&ans, ps, NULL, &req), ZT_EINVAL);
	assert_int_equal(ans.decision, DENY);
	zt_policy_set_free(ps);
}

/* Loading fails with ZT_EINVAL and a message holding `why`. */
static void
bad_entities(const char *json, const char *why)
{
	zt_entities *e = NULL;

	assert_int_equal(zt_entities_from_json(&e, json, strlen(json)),
	    ZT_EINVAL);
	assert_null(e);
	if (strstr(zt_error_msg(), why) == NULL)
		fail_msg("%s: message \"%s\" lacks \"%s\"", json,
		    zt_error_msg(), why);
}

#define U(t, i) "{\"type\": \"" t "\", \"id\": \"" i "\"}"

static void
test_policy_authz__entities_json(void **state)
{
	zt_entities *e;
	const char *ok = "[{\"uid\": {\"__entity\": " U("A::B", "x") "},"
	    " \"attrs\": {\"s\": [1, [2], {\"r\": true}]},"
	    " \"parents\": [], \"tags\": {}}]";

	assert_int_equal(zt_entities_from_json(&e, ok, strlen(ok)), ZT_OK);
	assert_int_equal(zt_entities_count(e), 1);
	zt_entities_free(e);

	bad_entities("[{\"uid\": " U("A", "a") ", \"parents\": [" U("A", "a")
	    "]}]", "cycle");
	bad_entities("[{\"uid\": " U("A", "a") ", \"parents\": [" U("A", "b")
	    "]}, {\"uid\": " U("A", "b") ", \"parents\": [" U("A", "c")
	    "]}, {\"uid\": " U("A", "c") ", \"parents\": [" U("A", "a")
	    "]}]", "cycle");
	bad_entities("[{\"uid\": " U("A", "a") "}, {\"uid\": " U("A", "a")
	    "}]", "twice");
	bad_entities("{}", "array");
	bad_entities("[{\"attrs\": {}}]", "entity 0");
	bad_entities("[{\"uid\": " U("A", "a") ", \"extra\": 1}]", "uid");
	bad_entities("[{\"uid\": " U("A", "a") ", \"attrs\": {\"x\": null}}]",
	    "null");
	bad_entities("[{\"uid\": " U("A", "a") ", \"attrs\": {\"x\": 1.5}}]",
	    "fractional");
	bad_entities("[{\"uid\": " U("A", "a") ", \"attrs\": {\"x\": "
	    "{\"__extn\": {\"fn\": \"ip\", \"arg\": \"1.2.3\"}}}}]",
	    "invalid ip");
	bad_entities("[{\"uid\": " U("A", "a") ", \"attrs\": {\"x\": "
	    "{\"__extn\": {\"fn\": \"nope\", \"arg\": \"1\"}}}}]",
	    "unknown extension");
	bad_entities("[{\"uid\": " U("A", "a") ", \"attrs\": {\"x\": "
	    "{\"__entity\": {\"type\": \"A\"}}}}]", "entity reference");
	bad_entities("[{\"uid\": " U("no spaces", "a") "}]", "type name");
	bad_entities("[{\"uid\": " U("A::", "a") "}]", "type name");
	bad_entities("[{\"uid\": " U("A", "a") ", \"parents\": {}}]",
	    "parents must be an array");
}

static void
test_policy_authz__context_json(void **state)
{
	zt_policy_context *ctx = NULL;

	assert_int_equal(zt_policy_context_from_json(&ctx, "[]", 2),
	    ZT_EINVAL);
	assert_null(ctx);
	assert_int_equal(zt_policy_context_from_json(&ctx, "{\"a\": null}",
	    11), ZT_EINVAL);
	assert_int_equal(zt_policy_context_from_json(&ctx,
	    "{\"a\": 1, \"a\": 2}", 16), ZT_EINVAL);
	assert_int_equal(zt_policy_context_from_json(&ctx, "{}", 2), ZT_OK);
	zt_policy_context_free(ctx);
}

/* ---- the index against a full scan ---------------------------------- */

/* What a full scan decides: every policy evaluated, no index. */
static void
full_scan(const zt_policy_set *ps, const zt_policy_request *req,
    int *decision, size_t *ndet, size_t *nerr)
{
	bool forbid = false;
	size_t i, nperm = 0, nforb = 0;
	zp_arena scratch = { 0 };
	zp_eval ev;
	int rc;

	memset(&ev, 0, sizeof(ev));
	ev.es = es;
	ev.p = (zp_uid){ { req->principal.type, 4 },
	    { req->principal.id, (uint32_t)req->principal.id_len }, 0 };
	ev.a = (zp_uid){ { req->action.type, 6 },
	    { req->action.id, (uint32_t)req->action.id_len }, 0 };
	ev.r = (zp_uid){ { req->resource.type, 3 },
	    { req->resource.id, (uint32_t)req->resource.id_len }, 0 };
	ev.p.hash = zp_uid_hash(ev.p.type, ev.p.id);
	ev.a.hash = zp_uid_hash(ev.a.type, ev.a.id);
	ev.r.hash = zp_uid_hash(ev.r.type, ev.r.id);
	ev.pe = zp_entity_find(es, &ev.p);
	ev.ae = zp_entity_find(es, &ev.a);
	ev.re = zp_entity_find(es, &ev.r);
	ev.context = &zp_empty_rec;
	ev.scratch = &scratch;
	*nerr = 0;
	for (i = 0; i < ps->npol; i++) {
		rc = zp_policy_eval(&ev, &ps->pol[i]);
		if (rc == 1 && ps->pol[i].forbid)
			nforb++;
		else if (rc == 1)
			nperm++;
		else if (rc != 0)
			(*nerr)++;
	}
	forbid = nforb > 0;
	*decision = forbid ? DENY : nperm > 0 ? ALLOW : DENY;
	*ndet = forbid ? nforb : nperm;
	zp_arena_free(&scratch);
}

static void
test_policy_authz__index_matches_full_scan(void **state)
{
	static const char *pr[] = { "principal", "principal == User::\"jack\"",
	    "principal in Role::\"viewer\"", "principal in Group::\"staff\"",
	    "principal is User", "principal is User in Org::\"acme\"",
	    "principal in Role::\"admin\"", "principal == User::\"jill\"" };
	static const char *ac[] = { "action", "action == Action::\"view\"",
	    "action in Action::\"write\"",
	    ("action in [Action::\"edit\", Action::\"read\"]"),
	    "action in []", "action == Action::\"edit\"" };
	static const char *rs[] = { "resource", "resource == Doc::\"a\"",
	    "resource in Doc::\"a:b\"", "resource in App::\"app1\"",
	    "resource is Doc", "resource is Doc in Doc::\"a\"" };
	static const char *users[] = { "jack", "jill", "ghost" };
	static const char *acts[] = { "view", "edit", "read", "write", "x" };
	static const char *docs[] = { "a", "a:b", "a:b:c", "zzz" };
	zt_buf b = ZT_BUF_INIT(1 << 20);
	zt_policy_set *ps;
	size_t i, j, k, n = 0, ndet, nerr;
	int decision;

	/* Every combination of scopes, forbids one in seven, a few that
	 * error. */
	for (i = 0; i < ZT_ARRAY_LEN(pr); i++)
		for (j = 0; j < ZT_ARRAY_LEN(ac); j++)
			for (k = 0; k < ZT_ARRAY_LEN(rs); k++, n++)
				assert_int_equal(zt_buf_addf(&b,
				    "%s (%s, %s, %s)%s;\n",
				    n % 7 == 3 ? "forbid" : "permit", pr[i],
				    ac[j], rs[k], n % 11 == 5 ?
				    " when { principal.nope }" : ""), ZT_OK);
	ps = parse(b.data);
	zt_buf_free(&b);
	for (i = 0; i < ZT_ARRAY_LEN(users); i++)
		for (j = 0; j < ZT_ARRAY_LEN(acts); j++)
			for (k = 0; k < ZT_ARRAY_LEN(docs); k++) {
				zt_policy_request req = {
					ZT_POLICY_UID("User", users[i]),
					ZT_POLICY_UID("Action", acts[j]),
					ZT_POLICY_UID("Doc", docs[k]), NULL,
				};
				assert_int_equal(zt_policy_decide(&ans, ps, es,
				    &req), ZT_OK);
				full_scan(ps, &req, &decision, &ndet, &nerr);
				assert_int_equal(ans.decision, decision);
				assert_int_equal(ans.ndetermining, ndet);
				assert_int_equal(ans.nerrors, nerr);
			}
	zt_policy_set_free(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_authz__combining),
		cmocka_unit_test(test_policy_authz__errored_forbid_is_skipped),
		cmocka_unit_test(test_policy_authz__errored_permit_denies),
		cmocka_unit_test(test_policy_authz__hierarchy),
		cmocka_unit_test(test_policy_authz__request_uids),
		cmocka_unit_test(test_policy_authz__entities_json),
		cmocka_unit_test(test_policy_authz__context_json),
		cmocka_unit_test(test_policy_authz__index_matches_full_scan),
	};

	return cmocka_run_group_tests_name("policy_authz", tests, setup,
	    teardown);
}
