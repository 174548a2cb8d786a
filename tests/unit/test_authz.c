/*
 * Tests of the authorization service's library (authz/) without a
 * database: the mapping of a seed-format request to Cedar entities and
 * its conversion against the schema (decide.c), the request reader, the
 * activation of new revisions while reader threads decide (activate.c;
 * run this under the ASan build to catch a snapshot freed too early),
 * the decision log's masking and sampling (dlog.c), and roles: their
 * permissions compiled to Cedar (roles.c), the Role parents a decision
 * gives the principal and the actions enumeration (decide.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <cmocka.h>

#include "authz/authz.h"
#include "base/base.h"

/* USER_ATTRS: more attributes of User after "level", each with a comma
 * before it. */
#define SCHEMA(USER_ATTRS) \
    "{\"NS\": {" \
    " \"entityTypes\": {" \
    "  \"User\": {\"memberOfTypes\": [\"Group\", \"OrgUnit\"], \"shape\": {" \
    "   \"type\": \"Record\", \"attributes\": {" \
    "    \"level\": {\"type\": \"Long\", \"required\": false}" \
    USER_ATTRS "}}}," \
    "  \"Group\": {}, \"OrgUnit\": {}, \"Application\": {}," \
    "  \"Resource\": {\"memberOfTypes\": [\"Resource\", \"Application\"]}}," \
    " \"actions\": {" \
    "  \"read\": {}," \
    "  \"getArticleID\": {\"memberOf\": [{\"id\": \"read\"}]," \
    "   \"appliesTo\": {\"principalTypes\": [\"User\"]," \
    "   \"resourceTypes\": [\"Resource\"], \"context\": {\"type\": " \
    "   \"Record\", \"attributes\": {" \
    "    \"remoteIP\": {\"type\": \"Extension\", \"name\": \"ipaddr\"}," \
    "    \"trustScore\": {\"type\": \"Long\"}}}}}}}}"

static const char schema_json[] = SCHEMA("");

static const char app_policies[] =
    "@id(\"p1\") permit(principal in NS::Group::\"editors\","
    " action in NS::Action::\"read\","
    " resource in NS::Resource::\"resources:articles\")"
    " when { context.trustScore >= 50 && principal has level &&"
    "  principal.level > 2 };"
    "@id(\"p2\") permit(principal in NS::OrgUnit::\"u1\", action,"
    " resource in NS::Application::\"eihxiidhh23s\")"
    " when { context.remoteIP.isLoopback() };";

static const char tenant_policies[] =
    "@id(\"t1\") forbid(principal, action, resource) when"
    " { context.remoteIP.isInRange(ip(\"10.0.0.0/8\")) };";

static zt_authz *
registry(void)
{
	zt_authz *az;
	zt_authz_source app = { "acme", "eihxiidhh23s", "NS", 1,
	    ZT_AUTHZ_CEDAR, app_policies, schema_json, NULL };

	assert_int_equal(zt_authz_new(&az), ZT_OK);
	assert_int_equal(zt_authz_install(az, &app), ZT_OK);
	return az;
}

static void
jack(zt_authz_subject *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", "id-jack");
	snprintf(s->name, sizeof(s->name), "%s", "jack");
	s->version = 7;
	snprintf(s->state, sizeof(s->state), "active");
	s->attributes = json_pack("{s:s, s:s}", "level", "3", "undeclared",
	    "dropped");
	s->groups = json_pack("[s]", "editors");
	s->units = json_pack("[s]", "u1");
}

/* Decides `req_json` for jack; returns the answer (caller decrefs). */
static json_t *
decide(zt_authz *az, const char *req_json, bool explain)
{
	zt_authz_view v = ZT_AUTHZ_VIEW_INIT;
	zt_authz_subject sub;
	zt_authz_request r;
	json_t *doc, *out = NULL;

	jack(&sub);
	assert_int_equal(zt_json_parse(&doc, req_json, strlen(req_json), 32),
	    ZT_OK);
	assert_int_equal(zt_authz_request_read(&r, doc), ZT_OK);
	if (strcmp(r.user, "suspended") == 0)
		snprintf(sub.state, sizeof(sub.state), "suspended");
	assert_int_equal(zt_authz_decide(&out, zt_authz_view_get(az, &v), &r,
	    strcmp(r.user, "nobody") == 0 ? NULL : &sub, explain), ZT_OK);
	zt_authz_view_release(&v);
	zt_authz_subject_clear(&sub);
	json_decref(doc);
	return out;
}

#define SEED(ip, score) \
	"{\"appid\":\"eihxiidhh23s\",\"user\":\"jack\"," \
	"\"action\":\"getArticleID\",\"resource\":\"resources:articles:zto\"," \
	"\"context\":{\"remoteIP\":\"" ip "\",\"trustScore\":" score "}}"

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void
assert_decision(json_t *a, const char *decision, const char *reason)
{
	assert_non_null(a);
	assert_string_equal(str(a, "decision"), decision);
	if (reason == NULL)
		assert_true(json_is_null(json_object_get(a, "reason")));
	else
		assert_string_equal(str(a, "reason"), reason);
	json_decref(a);
}

/*
 * A subject keeps the principal entity it was last decided with, for the
 * compiled store it was built for: after a new revision declares one more
 * User attribute, the same subject is decided with that attribute.
 */
static void
test_authz_map__subject_entity_follows_the_store(void **state)
{
	static const char schema2[] = SCHEMA(", \"undeclared\": {"
	    "\"type\": \"String\", \"required\": false}");
	static const char policies2[] =
	    "@id(\"p3\") permit(principal,"
	    " action == NS::Action::\"getArticleID\", resource)"
	    " when { principal has undeclared &&"
	    "  principal.undeclared == \"dropped\" };";
	zt_authz_source rev2 = { "acme", "eihxiidhh23s", "NS", 2,
	    ZT_AUTHZ_CEDAR, policies2, schema2, NULL };
	const char *req_json = SEED("192.168.0.5", "\"10\"");
	zt_authz *az = registry();
	zt_authz_view v = ZT_AUTHZ_VIEW_INIT;
	zt_authz_subject sub;
	zt_authz_request r;
	json_t *doc, *a;

	(void)state;
	jack(&sub);
	assert_int_equal(zt_json_parse(&doc, req_json, strlen(req_json), 32),
	    ZT_OK);
	assert_int_equal(zt_authz_request_read(&r, doc), ZT_OK);
	assert_int_equal(zt_authz_decide(&a, zt_authz_view_get(az, &v), &r,
	    &sub, false), ZT_OK);
	assert_decision(a, "deny", NULL);
	assert_non_null(sub.entity);
	zt_authz_view_release(&v);

	assert_int_equal(zt_authz_install(az, &rev2), ZT_OK);
	assert_int_equal(zt_authz_decide(&a, zt_authz_view_get(az, &v), &r,
	    &sub, false), ZT_OK);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    a, "determining"), 0)), "app:p3");
	assert_decision(a, "allow", NULL);
	zt_authz_view_release(&v);
	zt_authz_subject_clear(&sub);
	json_decref(doc);
	zt_authz_free(az);
}

static void
test_authz_map__seed_request(void **state)
{
	zt_authz *az = registry();
	json_t *a = decide(az, SEED("192.168.0.5", "\"90\""), false);

	(void)state;
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    a, "determining"), 0)), "app:p1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    a, "revisions"), "app")), 1);
	assert_decision(a, "allow", NULL);
	assert_decision(decide(az, SEED("192.168.0.5", "40"), false), "deny",
	    NULL);
	zt_authz_free(az);
}

/* The resource chain reaches the application; the unit is a parent. */
static void
test_authz_map__resource_chain_and_units(void **state)
{
	zt_authz *az = registry();
	json_t *a;

	(void)state;
	a = decide(az, "{\"appid\":\"eihxiidhh23s\",\"user\":\"jack\","
	    "\"action\":\"getArticleID\",\"resource\":\"x:y\",\"context\":"
	    "{\"remoteIP\":\"127.0.0.1\",\"trustScore\":1}}", false);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    a, "determining"), 0)), "app:p2");
	assert_decision(a, "allow", NULL);
	/* Quotes, backslashes and control bytes survive the entity text. */
	a = decide(az, "{\"appid\":\"eihxiidhh23s\",\"user\":\"jack\","
	    "\"action\":\"getArticleID\",\"resource\":\"q\\\"b\\\\c\\n:"
	    "\\u0001\",\"context\":{\"remoteIP\":\"::1\",\"trustScore\":1}}",
	    false);
	assert_decision(a, "allow", NULL);
	assert_decision(decide(az, "{\"appid\":\"eihxiidhh23s\",\"user\":"
	    "\"jack\",\"action\":\"getArticleID\",\"resource\":\"x::y\","
	    "\"context\":{\"remoteIP\":\"127.0.0.1\",\"trustScore\":1}}",
	    false), "deny", "request_error");
	zt_authz_free(az);
}

static void
test_authz_map__request_errors(void **state)
{
	zt_authz *az = registry();
	json_t *a;

	(void)state;
	a = decide(az, SEED("192.168.0.5", "\"ninety\""), false);
	assert_non_null(strstr(str(a, "message"), "trustScore"));
	assert_null(strstr(str(a, "message"), "ninety"));
	assert_decision(a, "deny", "request_error");
	assert_decision(decide(az, SEED("999.1.1.1", "90"), false), "deny",
	    "request_error");
	assert_decision(decide(az, "{\"appid\":\"eihxiidhh23s\",\"user\":"
	    "\"jack\",\"action\":\"getArticleID\",\"resource\":\"r\"}",
	    false), "deny", "request_error");
	zt_authz_free(az);
}

static void
test_authz_map__unknowns(void **state)
{
	zt_authz *az = registry();

	(void)state;
	assert_decision(decide(az, "{\"appid\":\"nope\",\"user\":\"jack\","
	    "\"action\":\"a\",\"resource\":\"r\"}", false), "deny",
	    "unknown_app");
	assert_decision(decide(az, "{\"appid\":\"eihxiidhh23s\",\"user\":"
	    "\"nobody\",\"action\":\"a\",\"resource\":\"r\"}", false), "deny",
	    "unknown_user");
	assert_decision(decide(az, "{\"appid\":\"eihxiidhh23s\",\"user\":"
	    "\"jack\",\"action\":\"zap\",\"resource\":\"r\"}", false), "deny",
	    "unknown_action");
	assert_decision(decide(az, "{\"appid\":\"eihxiidhh23s\",\"user\":"
	    "\"suspended\",\"action\":\"getArticleID\",\"resource\":"
	    "\"r\"}", false), "deny", "inactive_user");
	zt_authz_free(az);
}

static void
test_authz_map__tenant_forbid_wins(void **state)
{
	zt_authz *az = registry();
	zt_authz_source ten = { "acme", NULL, "", 4, ZT_AUTHZ_CEDAR,
	    tenant_policies, NULL, NULL };
	json_t *a, *p;

	(void)state;
	assert_int_equal(zt_authz_install(az, &ten), ZT_OK);
	a = decide(az, SEED("10.1.2.3", "90"), true);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    a, "determining"), 0)), "tenant:t1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    a, "revisions"), "tenant")), 4);
	p = json_object_get(a, "policies");
	assert_int_equal(json_array_size(p), 3);
	assert_decision(a, "deny", NULL);
	assert_decision(decide(az, SEED("192.168.0.5", "90"), false),
	    "allow", NULL);
	zt_authz_free(az);
}

static void
test_authz_request__read(void **state)
{
	static const char *const bad[] = {
		"[]", "{}", "{\"appid\":\"a\",\"user\":\"u\",\"action\":\"x\"}",
		"{\"appid\":\"a\",\"user\":\"u\",\"action\":\"x\","
		"\"resource\":\"r\",\"extra\":1}",
		"{\"appid\":1,\"user\":\"u\",\"action\":\"x\",\"resource\":\"r\"}",
		"{\"appid\":\"a\",\"user\":\"\",\"action\":\"x\","
		"\"resource\":\"r\"}",
		"{\"appid\":\"a\",\"user\":\"u\",\"action\":\"x\","
		"\"resource\":\"r\",\"context\":[]}",
	};
	zt_authz_request r;
	json_t *doc;
	size_t i;

	(void)state;
	for (i = 0; i < ZT_ARRAY_LEN(bad); i++) {
		assert_int_equal(zt_json_parse(&doc, bad[i], strlen(bad[i]),
		    8), ZT_OK);
		assert_int_equal(zt_authz_request_read(&r, doc), ZT_EINVAL);
		json_decref(doc);
	}
	assert_true(zt_appid_valid("eihxiidhh23s"));
	assert_false(zt_appid_valid("Upper"));
	assert_false(zt_appid_valid(""));
	assert_false(zt_appid_valid("a*b"));
}

/* ---- activation under concurrent readers ------------------------------ */

/* Odd revisions permit, even ones forbid: a reader checks that every
 * answer agrees with the revision it names, which it cannot if it ever
 * sees half a publication or a freed set. */
#define PUBLISH_ROUNDS 300
#define READERS 3

static const char odd_policies[] =
    "@id(\"odd\") permit(principal, action, resource);";
static const char even_policies[] =
    "@id(\"even\") forbid(principal, action, resource);"
    "@id(\"odd\") permit(principal, action, resource);";

struct reader_arg {
	zt_authz *az;
	atomic_bool *stop;
	long decisions;
	long bad;
	_Atomic int64_t max_rev;	/* read by the publisher meanwhile */
};

static void *
reader_main(void *p)
{
	struct reader_arg *ra = p;
	zt_authz_view v = ZT_AUTHZ_VIEW_INIT;
	static const char req[] = "{\"appid\":\"eihxiidhh23s\",\"user\":"
	    "\"jack\",\"action\":\"getArticleID\",\"resource\":\"a:b\","
	    "\"context\":{\"remoteIP\":\"1.2.3.4\",\"trustScore\":5}}";
	zt_authz_subject sub;
	zt_authz_request r;
	json_t *doc, *out;
	int64_t rev;
	bool allow;

	jack(&sub);
	zt_json_parse(&doc, req, strlen(req), 8);
	zt_authz_request_read(&r, doc);
	while (!atomic_load(ra->stop)) {
		if (zt_authz_decide(&out, zt_authz_view_get(ra->az, &v), &r,
		    &sub, false) != ZT_OK) {
			ra->bad++;
			continue;
		}
		rev = json_integer_value(json_object_get(json_object_get(out,
		    "revisions"), "app"));
		allow = strcmp(str(out, "decision"), "allow") == 0;
		if (allow != (rev % 2 == 1))
			ra->bad++;
		if (rev > ra->max_rev)
			ra->max_rev = rev;
		ra->decisions++;
		json_decref(out);
	}
	zt_authz_view_release(&v);
	json_decref(doc);
	zt_authz_subject_clear(&sub);
	return NULL;
}

static void
test_authz_activate__readers_during_publish(void **state)
{
	struct reader_arg ra[READERS];
	pthread_t th[READERS];
	atomic_bool stop = false;
	zt_authz *az;
	zt_authz_source src = { "acme", "eihxiidhh23s", "NS", 1,
	    ZT_AUTHZ_CEDAR, odd_policies, schema_json, NULL };
	uint64_t gen0;
	int i, k;

	(void)state;
	assert_int_equal(zt_authz_new(&az), ZT_OK);
	assert_int_equal(zt_authz_install(az, &src), ZT_OK);
	gen0 = zt_authz_generation(az);
	for (i = 0; i < READERS; i++) {
		ra[i] = (struct reader_arg){ az, &stop, 0, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, reader_main,
		    &ra[i]), 0);
	}
	for (k = 2; k <= PUBLISH_ROUNDS; k++) {
		src.revision = k;
		src.policies = k % 2 ? odd_policies : even_policies;
		assert_int_equal(zt_authz_install(az, &src), ZT_OK);
		if (k % 50 == 0)
			usleep(1000);
	}
	/* Every reader goes on until it has decided with the last
	 * revision, however the threads happen to be scheduled. */
	for (i = 0; i < READERS; i++)
		while (atomic_load(&ra[i].max_rev) < PUBLISH_ROUNDS)
			usleep(1000);
	atomic_store(&stop, true);
	for (i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ra[i].bad, 0);
		assert_true(ra[i].decisions > 0);
		assert_int_equal(ra[i].max_rev, PUBLISH_ROUNDS);
	}
	assert_int_equal(zt_authz_generation(az) - gen0, PUBLISH_ROUNDS - 1);

	/* Removing the app leaves it unknown. */
	src.revision = -1;
	src.policies = src.schema = NULL;
	assert_int_equal(zt_authz_install(az, &src), ZT_OK);
	assert_decision(decide(az, SEED("1.2.3.4", "1"), false), "deny",
	    "unknown_app");
	zt_authz_free(az);
}

/* ---- the decision log ----------------------------------------------------- */

/* ---- roles ---------------------------------------------------------------- */

static const char role_schema[] =
    "{\"NS\": {"
    " \"entityTypes\": {"
    "  \"User\": {\"memberOfTypes\": [\"Role\"]}, \"Role\": {},"
    "  \"Resource\": {\"memberOfTypes\": [\"Resource\"]}},"
    " \"actions\": {"
    "  \"read\": {},"
    "  \"get\": {\"memberOf\": [{\"id\": \"read\"}], \"appliesTo\": {"
    "   \"principalTypes\": [\"User\"], \"resourceTypes\": [\"Resource\"],"
    "   \"context\": {\"type\": \"Record\", \"attributes\": {}}}},"
    "  \"put\": {\"appliesTo\": {"
    "   \"principalTypes\": [\"User\"], \"resourceTypes\": [\"Resource\"],"
    "   \"context\": {\"type\": \"Record\", \"attributes\": {}}}}}}}";

static char *
role_text(const char *perms_json, int want)
{
	json_t *perms = json_loads(perms_json, 0, NULL);
	char *text = NULL;

	assert_non_null(perms);
	assert_int_equal(zt_authz_role_policies(&text, "NS", "app1", "reader",
	    perms), want);
	json_decref(perms);
	return text;
}

static void
test_authz_roles__compile(void **state)
{
	char *t;

	(void)state;
	t = role_text("[{\"actions\": [\"read\", \"we\\\"ird\"],"
	    " \"resource_prefix\": \"docs:a\", \"when\": \"true\"},"
	    " {\"actions\": [\"put\"], \"resource\": \"docs:a:b\"},"
	    " {\"actions\": [\"get\"]}]", ZT_OK);
	assert_non_null(strstr(t, "@id(\"role:reader:0\")"));
	assert_non_null(strstr(t, "principal in NS::Role::\"app1/reader\""));
	assert_non_null(strstr(t, "action in [NS::Action::\"read\", "
	    "NS::Action::\"we\\\"ird\"]"));
	assert_non_null(strstr(t, "resource in NS::Resource::\"docs:a\""));
	assert_non_null(strstr(t, "resource == NS::Resource::\"docs:a:b\""));
	assert_non_null(strstr(t, "@id(\"role:reader:2\")"));
	free(t);
	t = role_text("[]", ZT_OK);
	assert_string_equal(t != NULL ? t : "", "");
	free(t);
}

static void
test_authz_roles__refused(void **state)
{
	static const char *const bad[] = {
		"[{\"actions\": []}]",
		"[{\"actions\": [\"read\"], \"resource\": \"a\","
		" \"resource_prefix\": \"a\"}]",
		"[{\"actions\": [\"read\"], \"resource\": \"a::b\"}]",
		"[{\"actions\": [\"read\"], \"resource\": \":a\"}]",
		"[{\"actions\": [\"re\\nad\"]}]",
		"[{\"actions\": [1]}]",
		"[{\"actions\": [\"read\"], \"other\": 1}]",
		"[{\"actions\": [\"read\"], \"when\": \"\"}]",
		/* closes the policy and opens a second one */
		"[{\"actions\": [\"read\"], \"when\": \"true }; permit("
		"principal, action, resource) when { true\"}]",
		/* a template slot */
		"[{\"actions\": [\"read\"], \"when\": \"true }; permit("
		"principal == ?principal, action, resource) when { true\"}]",
		"[{\"actions\": [\"read\"], \"when\": \"(((\"}]",
		"[\"read\"]",
	};
	json_t *perms;
	char *t = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < ZT_ARRAY_LEN(bad); i++) {
		perms = json_loads(bad[i], 0, NULL);
		assert_non_null(perms);
		assert_int_equal(zt_authz_role_policies(&t, "", "a", "r",
		    perms), ZT_EINVAL);
		assert_null(t);
		json_decref(perms);
	}
	perms = json_array();
	assert_int_equal(zt_authz_role_policies(&t, "", "a", "no/slash",
	    perms), ZT_EINVAL);
	json_decref(perms);
	assert_true(zt_role_name_valid("team.lead-2_x"));
	assert_false(zt_role_name_valid(""));
	assert_false(zt_role_name_valid("a b"));
}

/* A registry whose app "app1" has only role policies (reader may get
 * and read under docs:a). */
static zt_authz *
role_registry(void)
{
	char *roles = role_text("[{\"actions\": [\"read\"],"
	    " \"resource_prefix\": \"docs:a\"}]", ZT_OK);
	zt_authz_source app = { "acme", "app1", "NS", 1, ZT_AUTHZ_CEDAR, "",
	    role_schema, roles };
	zt_authz *az;

	assert_int_equal(zt_authz_new(&az), ZT_OK);
	assert_int_equal(zt_authz_install(az, &app), ZT_OK);
	free(roles);
	return az;
}

static json_t *
role_decide(zt_authz *az, json_t *roles, const char *action,
    const char *resource)
{
	zt_authz_view v = ZT_AUTHZ_VIEW_INIT;
	zt_authz_request r = { "app1", "ann", action, resource, NULL };
	zt_authz_subject sub;
	json_t *out = NULL;

	memset(&sub, 0, sizeof(sub));
	snprintf(sub.id, sizeof(sub.id), "id-ann");
	snprintf(sub.name, sizeof(sub.name), "ann");
	snprintf(sub.state, sizeof(sub.state), "active");
	sub.attributes = json_object();
	sub.groups = json_array();
	sub.units = json_array();
	sub.roles = roles;
	if (action != NULL)
		assert_int_equal(zt_authz_decide(&out, zt_authz_view_get(az,
		    &v), &r, &sub, false), ZT_OK);
	else
		assert_int_equal(zt_authz_actions(&out, zt_authz_view_get(az,
		    &v), &r, &sub), ZT_OK);
	zt_authz_view_release(&v);
	zt_authz_subject_clear(&sub);
	return out;
}

static void
test_authz_roles__parents_decide(void **state)
{
	zt_authz *az = role_registry();
	json_t *a;

	(void)state;
	a = role_decide(az, json_pack("[s]", "app1/reader"), "get",
	    "docs:a:1");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(a, "determining"), 0)), "roles:role:reader:0");
	assert_decision(a, "allow", NULL);
	/* Another app's role of the same name, none, another resource. */
	assert_decision(role_decide(az, json_pack("[s]", "app2/reader"),
	    "get", "docs:a:1"), "deny", NULL);
	assert_decision(role_decide(az, json_array(), "get", "docs:a:1"),
	    "deny", NULL);
	assert_decision(role_decide(az, json_pack("[s]", "app1/reader"),
	    "get", "docs:b"), "deny", NULL);
	assert_decision(role_decide(az, json_pack("[s]", "app1/reader"),
	    "put", "docs:a:1"), "deny", NULL);
	zt_authz_free(az);
}

static void
test_authz_roles__actions(void **state)
{
	zt_authz *az = role_registry();
	json_t *a, *list;

	(void)state;
	a = role_decide(az, json_pack("[s]", "app1/reader"), NULL, "docs:a:1");
	list = json_object_get(a, "actions");
	/* "read" is a group without appliesTo; "put" is not granted. */
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(str(json_array_get(list, 0), "action"), "get");
	assert_null(json_object_get(a, "reason"));
	json_decref(a);
	a = role_decide(az, json_array(), NULL, "docs:a:1");
	assert_int_equal(json_array_size(json_object_get(a, "actions")), 0);
	json_decref(a);
	zt_authz_free(az);
}

static void
test_authz_dlog__masks_and_samples(void **state)
{
	char path[] = "/tmp/ztiam-dlog-XXXXXX", line[512];
	zt_dlog_config cfg = { path, 1.0, "remoteIP,secret", 4 };
	zt_dlog_stats st;
	zt_dlog *dl;
	FILE *f;
	int fd, i;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	assert_int_equal(zt_dlog_open(&dl, &cfg), ZT_OK);
	zt_dlog_submit(dl, json_pack("{s:s, s:{s:{s:s, s:i, s:{s:s}}}}",
	    "decision", "allow", "request", "context", "remoteIP", "10.0.0.1",
	    "trustScore", 5, "deep", "secret", "x"));
	zt_dlog_flush(dl);
	zt_dlog_close(dl);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_null(strstr(line, "remoteIP"));
	assert_null(strstr(line, "secret"));
	assert_non_null(strstr(line, "\"trustScore\":5"));

	/* Sample 0 logs nothing; a bad rate is refused. */
	cfg.sample = 0.0;
	assert_int_equal(zt_dlog_open(&dl, &cfg), ZT_OK);
	for (i = 0; i < 10; i++)
		zt_dlog_submit(dl, json_pack("{s:i}", "n", i));
	zt_dlog_flush(dl);
	zt_dlog_stats_get(dl, &st);
	assert_int_equal(st.written, 0);
	zt_dlog_close(dl);
	cfg.sample = 1.5;
	assert_int_equal(zt_dlog_open(&dl, &cfg), ZT_EINVAL);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authz_map__seed_request),
		cmocka_unit_test(
		    test_authz_map__subject_entity_follows_the_store),
		cmocka_unit_test(test_authz_map__resource_chain_and_units),
		cmocka_unit_test(test_authz_map__request_errors),
		cmocka_unit_test(test_authz_map__unknowns),
		cmocka_unit_test(test_authz_map__tenant_forbid_wins),
		cmocka_unit_test(test_authz_request__read),
		cmocka_unit_test(test_authz_activate__readers_during_publish),
		cmocka_unit_test(test_authz_dlog__masks_and_samples),
		cmocka_unit_test(test_authz_roles__compile),
		cmocka_unit_test(test_authz_roles__refused),
		cmocka_unit_test(test_authz_roles__parents_decide),
		cmocka_unit_test(test_authz_roles__actions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
