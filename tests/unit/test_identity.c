/*
 * Tests of the identity module against a real database: SQLite in a
 * temporary file by default, or the PostgreSQL named by ZTIAM_TEST_DB.
 *
 * Every rejected call is checked twice: for its code and message, and for
 * having written nothing (row counts of every identity table and of the
 * audit log are compared before and after).  The group closure is checked
 * against a breadth-first walk of the stored edges after every change of a
 * random DAG.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "base/base.h"
#include "identity/identity.h"
#include "store/store.h"
#include "testdb.h"

#define ID_SIZE (ZT_ID_LEN + 1)

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_identity_migrations,
};

/* The tables whose row counts show that a refused call wrote nothing. */
static const char *const tables[] = {
	"accounts", "identity_attrs", "group_members", "group_closure",
	"identity_groups", "identities", "account_systems", "org_units",
	"tenants", "audit_log",
};

struct fx {
	zt_db *db;
	zt_actor actor;
	zt_identity_config cfg;
	zt_id_ctx cx;		/* system scope */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	zt_log_setup(ZT_LOG_WARN, ZT_LOG_JSON, 2);
	if (f == NULL || (f->db = testdb_open(sets, ZT_ARRAY_LEN(sets))) == NULL) {
		fprintf(stderr, "migrate: %s\n", zt_error_msg());
		return -1;
	}
	f->actor = (zt_actor){ "token:test", NULL, "req-1" };
	f->cfg = (zt_identity_config){ "test.example" };
	f->cx = (zt_id_ctx){ f->db, &f->cfg, &f->actor, { NULL, NULL } };
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	testdb_close(f->db);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static int64_t
count(zt_db *db, const char *sql)
{
	zt_stmt *st;
	int64_t n;

	assert_int_equal(zt_db_prepare(&st, db, sql), ZT_OK);
	assert_int_equal(zt_stmt_step(st), ZT_ROW);
	n = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return n;
}

struct counts {
	int64_t n[ZT_ARRAY_LEN(tables)];
};

static void
snap(zt_db *db, struct counts *c)
{
	char sql[128];
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(tables); i++) {
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s",
		    tables[i]);
		c->n[i] = count(db, sql);
	}
}

static void
assert_unchanged(zt_db *db, const struct counts *before)
{
	struct counts now;
	size_t i;

	snap(db, &now);
	for (i = 0; i < ZT_ARRAY_LEN(tables); i++)
		if (now.n[i] != before->n[i])
			fail_msg("%s: %lld rows, was %lld", tables[i],
			    (long long)now.n[i], (long long)before->n[i]);
	assert_false(zt_db_in_tx(db));
}

static int64_t
audits(zt_db *db)
{
	return count(db, "SELECT COUNT(*) FROM audit_log");
}

/* Asserts the code and that the message holds `part`. */
#define assert_err(call, code, part) do {				\
	int rc_ = (call);						\
	if (rc_ != (code))						\
		fail_msg("%s: got %d (%s), want %d", #call, rc_,	\
		    zt_error_msg(), (code));				\
	if (strstr(zt_error_msg(), (part)) == NULL)			\
		fail_msg("%s: message \"%s\" lacks \"%s\"", #call,	\
		    zt_error_msg(), (part));				\
} while (0)

#define assert_ok(call) do {						\
	int rc_ = (call);						\
	if (rc_ != ZT_OK)						\
		fail_msg("%s: %d (%s)", #call, rc_, zt_error_msg());	\
} while (0)

static const char *
str(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static int64_t
ver(json_t *doc)
{
	return json_integer_value(json_object_get(doc, "version"));
}

static zt_id_ctx
scoped(struct fx *f, const char *tenant, const char *unit)
{
	zt_id_ctx c = f->cx;

	c.scope.tenant = tenant;
	c.scope.unit = unit;
	return c;
}

static void
mk_tenant(struct fx *f, const char *id)
{
	json_t *doc;

	assert_ok(zt_tenant_create(&doc, &f->cx, id, "Test tenant"));
	json_decref(doc);
}

static void
keep_id(char out[ID_SIZE], json_t *doc)
{
	snprintf(out, ID_SIZE, "%s", str(doc, "id"));
	json_decref(doc);
}

static void
mk_system(struct fx *f, char out[ID_SIZE], const char *tenant,
    const char *name)
{
	json_t *doc;

	assert_ok(zt_acctsys_create(&doc, &f->cx, tenant, &(zt_acctsys_spec){
	    .name = name, .kind = "workforce" }));
	keep_id(out, doc);
}

static void
mk_unit(struct fx *f, char out[ID_SIZE], const char *tenant,
    const char *parent, const char *name)
{
	json_t *doc;

	assert_ok(zt_unit_create(&doc, &f->cx, tenant, parent, name));
	keep_id(out, doc);
}

static void
mk_ident(struct fx *f, char out[ID_SIZE], const char *tenant,
    const char *kind, const char *name, const char *unit)
{
	json_t *doc;

	assert_ok(zt_identity_create(&doc, &f->cx, tenant,
	    &(zt_identity_spec){ .kind = kind, .name = name, .unit = unit }));
	keep_id(out, doc);
}

static void
mk_group(struct fx *f, char out[ID_SIZE], const char *tenant,
    const char *name, const char *unit)
{
	json_t *doc;

	assert_ok(zt_group_create(&doc, &f->cx, tenant, &(zt_group_spec){
	    .name = name, .unit = unit }));
	keep_id(out, doc);
}

/* Whether the effective groups of an identity include `gid`. */
static bool
in_group(struct fx *f, const char *tenant, const char *ident,
    const char *gid)
{
	json_t *list, *g;
	bool found = false;
	size_t i;

	assert_ok(zt_identity_groups(&list, &f->cx, tenant, ident));
	json_array_foreach(list, i, g)
		if (strcmp(str(g, "id"), gid) == 0)
			found = true;
	json_decref(list);
	return found;
}

/* ---- tenants ------------------------------------------------------------- */

static void
test_identity_tenant__create_get_list(void **state)
{
	struct fx *f = *state;
	zt_id_ctx acme = scoped(f, "acme", NULL);
	json_t *doc, *list;

	assert_ok(zt_tenant_create(&doc, &f->cx, "acme", "Acme Corp"));
	assert_string_equal(str(doc, "id"), "acme");
	assert_int_equal(ver(doc), 1);
	assert_non_null(str(doc, "created_at"));
	json_decref(doc);
	mk_tenant(f, "globex");
	assert_int_equal(audits(f->db), 2);

	assert_ok(zt_tenant_list(&list, &f->cx));
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_ok(zt_tenant_list(&list, &acme));
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_ok(zt_tenant_get(&doc, &acme, "acme"));
	json_decref(doc);
	assert_err(zt_tenant_get(&doc, &acme, "globex"), ZT_ENOTFOUND,
	    "no tenant \"globex\"");
	assert_err(zt_tenant_get(&doc, &f->cx, "nope"), ZT_ENOTFOUND,
	    "no tenant \"nope\"");
}

static void
test_identity_tenant__bad_input_writes_nothing(void **state)
{
	struct fx *f = *state;
	zt_id_ctx acme = scoped(f, "acme", NULL);
	struct counts c;
	json_t *doc;

	mk_tenant(f, "acme");
	snap(f->db, &c);
	assert_err(zt_tenant_create(&doc, &f->cx, "Acme", "x"), ZT_EINVAL,
	    "field \"id\"");
	assert_err(zt_tenant_create(&doc, &f->cx, "-acme", "x"), ZT_EINVAL,
	    "field \"id\"");
	assert_err(zt_tenant_create(&doc, &f->cx, "a_b", "x"), ZT_EINVAL,
	    "field \"id\"");
	assert_err(zt_tenant_create(&doc, &f->cx, "0123456789012345678901234"
	    "567890123456789012345678901234567890123", "x"), ZT_EINVAL,
	    "field \"id\"");
	assert_err(zt_tenant_create(&doc, &f->cx, "new", ""), ZT_EINVAL,
	    "field \"display_name\"");
	assert_err(zt_tenant_create(&doc, &f->cx, "new", "a\nb"), ZT_EINVAL,
	    "field \"display_name\"");
	assert_err(zt_tenant_create(&doc, &f->cx, "acme", "again"),
	    ZT_EEXISTS, "tenant \"acme\" exists");
	assert_err(zt_tenant_create(&doc, &acme, "other", "x"),
	    ZT_EFORBIDDEN, "system administrator");
	assert_unchanged(f->db, &c);
}

static void
test_identity_tenant__update_version(void **state)
{
	struct fx *f = *state;
	struct counts c;
	json_t *doc;

	mk_tenant(f, "acme");
	assert_ok(zt_tenant_update(&doc, &f->cx, "acme", "Acme 2", 1));
	assert_int_equal(ver(doc), 2);
	assert_string_equal(str(doc, "display_name"), "Acme 2");
	json_decref(doc);
	snap(f->db, &c);
	assert_err(zt_tenant_update(&doc, &f->cx, "acme", "Acme 3", 1),
	    ZT_ESTALE, "version 2, not 1");
	assert_unchanged(f->db, &c);
	assert_ok(zt_tenant_update(&doc, &f->cx, "acme", "Acme 3", 0));
	assert_int_equal(ver(doc), 3);
	json_decref(doc);
}

/* ---- account systems ----------------------------------------------------- */

static void
test_identity_acctsys__create_and_policy(void **state)
{
	struct fx *f = *state;
	json_t *doc, *pol, *list;
	struct counts c;
	char id[ID_SIZE];

	mk_tenant(f, "acme");
	pol = json_pack("{s:i, s:i}", "min_length", 16, "history", 5);
	assert_ok(zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "staff", .kind = "workforce", .password_policy = pol,
	    .mfa_required = true }));
	json_decref(pol);
	pol = json_object_get(doc, "password_policy");
	assert_int_equal(json_integer_value(json_object_get(pol,
	    "min_length")), 16);
	assert_int_equal(json_integer_value(json_object_get(pol, "history")),
	    5);
	/* Defaults are filled in. */
	assert_non_null(json_object_get(pol, "max_length"));
	assert_true(json_is_true(json_object_get(doc, "mfa_required")));
	keep_id(id, doc);

	snap(f->db, &c);
	assert_err(zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "x", .kind = "employees" }), ZT_EINVAL,
	    "workforce, partner, customer, service");
	assert_err(zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "Bad Name", .kind = "partner" }), ZT_EINVAL,
	    "field \"name\"");
	assert_err(zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "staff", .kind = "partner" }), ZT_EEXISTS,
	    "account system \"staff\" exists");
	assert_err(zt_acctsys_create(&doc, &f->cx, "nope", &(zt_acctsys_spec){
	    .name = "p", .kind = "partner" }), ZT_ENOTFOUND,
	    "no tenant \"nope\"");
	pol = json_pack("{s:i}", "colour", 3);
	assert_err(zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "p", .kind = "partner", .password_policy = pol }),
	    ZT_EINVAL, "unknown field \"colour\"");
	json_decref(pol);
	pol = json_pack("{s:i}", "min_length", 0);
	assert_err(zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "p", .kind = "partner", .password_policy = pol }),
	    ZT_EINVAL, "\"min_length\" must be");
	json_decref(pol);
	pol = json_pack("{s:s}", "history", "five");
	assert_err(zt_acctsys_create(&doc, &f->cx, "acme", &(zt_acctsys_spec){
	    .name = "p", .kind = "partner", .password_policy = pol }),
	    ZT_EINVAL, "history");
	json_decref(pol);
	assert_err(zt_acctsys_update(&doc, &f->cx, "acme", id,
	    &(zt_acctsys_spec){ .name = "staff", .kind = "workforce" }, 7),
	    ZT_ESTALE, "version");
	assert_err(zt_acctsys_update(&doc, &f->cx, "acme", id,
	    &(zt_acctsys_spec){ .name = "renamed", .kind = "workforce" }, 1),
	    ZT_EINVAL, "cannot change");
	assert_unchanged(f->db, &c);

	assert_ok(zt_acctsys_update(&doc, &f->cx, "acme", id,
	    &(zt_acctsys_spec){ .name = "staff", .kind = "workforce" }, 1));
	assert_true(json_is_false(json_object_get(doc, "mfa_required")));
	assert_int_equal(ver(doc), 2);
	json_decref(doc);
	assert_ok(zt_acctsys_list(&list, &f->cx, "acme"));
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

/* ---- identities ---------------------------------------------------------- */

static void
test_identity_ident__create_and_spiffe(void **state)
{
	struct fx *f = *state;
	json_t *doc, *got;
	char id[ID_SIZE];
	int64_t before;

	mk_tenant(f, "acme");
	before = audits(f->db);
	assert_ok(zt_identity_create(&doc, &f->cx, "acme", &(zt_identity_spec){
	    .kind = "service", .name = "billing-api.v2" }));
	assert_string_equal(str(doc, "spiffe_id"),
	    "spiffe://test.example/acme/service/billing-api.v2");
	assert_string_equal(str(doc, "state"), "staged");
	assert_int_equal(ver(doc), 1);
	assert_int_equal(audits(f->db), before + 1);
	assert_int_equal(zt_spiffe_id_validate(str(doc, "spiffe_id")), ZT_OK);
	keep_id(id, doc);

	assert_ok(zt_identity_get_by_spiffe(&got, &f->cx,
	    "spiffe://test.example/acme/service/billing-api.v2"));
	assert_string_equal(str(got, "id"), id);
	json_decref(got);
	assert_ok(zt_identity_get(&got, &f->cx, "acme", id));
	json_decref(got);

	/* Another trust domain, another kind, another shape: not ours. */
	assert_err(zt_identity_get_by_spiffe(&got, &f->cx,
	    "spiffe://other.example/acme/service/billing-api.v2"),
	    ZT_ENOTFOUND, "no identity");
	assert_err(zt_identity_get_by_spiffe(&got, &f->cx,
	    "spiffe://test.example/acme/device/billing-api.v2"),
	    ZT_ENOTFOUND, "no identity");
	assert_err(zt_identity_get_by_spiffe(&got, &f->cx,
	    "spiffe://test.example/acme/service"), ZT_ENOTFOUND,
	    "no identity");
	assert_err(zt_identity_get_by_spiffe(&got, &f->cx,
	    "spiffe://test.example/acme/service/x/"), ZT_EINVAL,
	    "trailing");
	assert_err(zt_identity_get_by_spiffe(&got, &f->cx,
	    "spiffe://test.example/nope/service/billing-api.v2"),
	    ZT_ENOTFOUND, "no identity");
	assert_err(zt_identity_get(&got, &f->cx, "acme", "AAAAAAAAAAAAAAAA"),
	    ZT_ENOTFOUND, "no identity");
	assert_err(zt_identity_get(&got, &f->cx, "acme", "short"),
	    ZT_ENOTFOUND, "no identity");
}

static void
test_identity_ident__bad_input_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct counts c;
	json_t *doc;
	char id[ID_SIZE];

	mk_tenant(f, "acme");
	mk_ident(f, id, "acme", "person", "alice", NULL);
	snap(f->db, &c);
#define CREATE(k, n, s) zt_identity_create(&doc, &f->cx, "acme",	\
	    &(zt_identity_spec){ .kind = (k), .name = (n), .state = (s) })
	assert_err(CREATE("robot", "r2", NULL), ZT_EINVAL,
	    "person, device, service, application, api");
	assert_err(CREATE(NULL, "r2", NULL), ZT_EINVAL, "field \"kind\"");
	assert_err(CREATE("device", "a/b", NULL), ZT_EINVAL, "field \"name\"");
	assert_err(CREATE("device", ".", NULL), ZT_EINVAL, "field \"name\"");
	assert_err(CREATE("device", "..", NULL), ZT_EINVAL, "field \"name\"");
	assert_err(CREATE("device", "Laptop", NULL), ZT_EINVAL,
	    "field \"name\"");
	assert_err(CREATE("device", "", NULL), ZT_EINVAL, "required");
	assert_err(CREATE("device", "caf\xc3\xa9", NULL), ZT_EINVAL,
	    "field \"name\"");
	assert_err(CREATE("device", "x", "deprovisioned"), ZT_EINVAL,
	    "staged, active");
	assert_err(CREATE("person", "alice", NULL), ZT_EEXISTS,
	    "a person named \"alice\" exists");
	assert_err(zt_identity_create(&doc, &f->cx, "nope",
	    &(zt_identity_spec){ .kind = "api", .name = "x" }), ZT_ENOTFOUND,
	    "no tenant \"nope\"");
	assert_err(zt_identity_create(&doc, &f->cx, "acme",
	    &(zt_identity_spec){ .kind = "api", .name = "x",
	    .unit = "AAAAAAAAAAAAAAAA" }), ZT_ENOTFOUND, "no unit");
#undef CREATE
	assert_unchanged(f->db, &c);

	/* The same name under another kind is another identity. */
	assert_ok(zt_identity_create(&doc, &f->cx, "acme",
	    &(zt_identity_spec){ .kind = "device", .name = "alice" }));
	json_decref(doc);
}

static void
test_identity_ident__lifecycle(void **state)
{
	struct fx *f = *state;
	struct counts c;
	json_t *doc;
	char id[ID_SIZE];
	int64_t a;

	mk_tenant(f, "acme");
	mk_ident(f, id, "acme", "person", "bob", NULL);
	snap(f->db, &c);
	assert_err(zt_identity_set_state(&doc, &f->cx, "acme", id,
	    "suspended", 0), ZT_ECONFLICT, "from staged to suspended");
	assert_err(zt_identity_set_state(&doc, &f->cx, "acme", id,
	    "retired", 0), ZT_EINVAL, "staged, active, suspended, "
	    "deprovisioned");
	assert_err(zt_identity_set_state(&doc, &f->cx, "acme", id,
	    "active", 5), ZT_ESTALE, "version 1, not 5");
	assert_unchanged(f->db, &c);

	a = audits(f->db);
	assert_ok(zt_identity_set_state(&doc, &f->cx, "acme", id, "active",
	    1));
	assert_string_equal(str(doc, "state"), "active");
	assert_int_equal(ver(doc), 2);
	json_decref(doc);
	assert_ok(zt_identity_set_state(&doc, &f->cx, "acme", id,
	    "suspended", 2));
	json_decref(doc);
	assert_ok(zt_identity_set_state(&doc, &f->cx, "acme", id, "active",
	    0));
	json_decref(doc);
	assert_int_equal(audits(f->db), a + 3);

	/* Asking for the state it has changes nothing. */
	assert_ok(zt_identity_set_state(&doc, &f->cx, "acme", id, "active",
	    0));
	assert_int_equal(ver(doc), 4);
	json_decref(doc);
	assert_int_equal(audits(f->db), a + 3);

	assert_ok(zt_identity_set_state(&doc, &f->cx, "acme", id,
	    "deprovisioned", 0));
	json_decref(doc);
	snap(f->db, &c);
	assert_err(zt_identity_set_state(&doc, &f->cx, "acme", id, "active",
	    0), ZT_ECONFLICT, "from deprovisioned to active");
	assert_err(zt_identity_set_state(&doc, &f->cx, "acme", id, "staged",
	    0), ZT_ECONFLICT, "from deprovisioned");
	assert_unchanged(f->db, &c);

	/* Staged may go straight to deprovisioned. */
	mk_ident(f, id, "acme", "person", "carol", NULL);
	assert_ok(zt_identity_set_state(&doc, &f->cx, "acme", id,
	    "deprovisioned", 0));
	json_decref(doc);
}

static void
test_identity_attrs__normalised_and_indexed(void **state)
{
	struct fx *f = *state;
	json_t *doc, *attrs, *a;

	mk_tenant(f, "acme");
	attrs = json_pack("{s:s, s:f, s:b, s:[s, s, s], s:I}",
	    "department", "sales", "level", 3.0, "contractor", 0,
	    "clearance", "secret", "public", "secret", "badge", (json_int_t)42);
	assert_ok(zt_identity_create(&doc, &f->cx, "acme", &(zt_identity_spec){
	    .kind = "person", .name = "dana", .attributes = attrs }));
	json_decref(attrs);
	a = json_object_get(doc, "attributes");
	assert_true(json_is_integer(json_object_get(a, "level")));
	assert_int_equal(json_array_size(json_object_get(a, "clearance")), 2);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(a, "clearance"), 0)), "public");
	json_decref(doc);
	/* One row per scalar and per set member. */
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM identity_attrs"),
	    6);
}

static void
test_identity_attrs__rejected_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct counts c;
	json_t *doc, *attrs;
	char key[16], *big;
	char id[ID_SIZE];
	int i;

	mk_tenant(f, "acme");
	mk_ident(f, id, "acme", "person", "erin", NULL);
	snap(f->db, &c);
#define REJECT(json, code, part) do {					\
	attrs = json_loads((json), 0, NULL);				\
	assert_non_null(attrs);						\
	assert_err(zt_identity_create(&doc, &f->cx, "acme",		\
	    &(zt_identity_spec){ .kind = "person", .name = "x",		\
	    .attributes = attrs }), (code), (part));			\
	assert_err(zt_identity_set_attributes(&doc, &f->cx, "acme", id,	\
	    attrs, 0), (code), (part));					\
	json_decref(attrs);						\
} while (0)
	REJECT("{\"a\": {\"b\": 1}}", ZT_EINVAL, "nested objects");
	REJECT("{\"a\": null}", ZT_EINVAL, "null is not allowed");
	REJECT("{\"a\": [\"x\", 1]}", ZT_EINVAL, "strings only");
	REJECT("{\"a\": [1, 2]}", ZT_EINVAL, "strings only");
	REJECT("{\"a\": [[\"x\"]]}", ZT_EINVAL, "strings only");
	REJECT("{\"bad key\": 1}", ZT_EINVAL, "keys are");
	REJECT("{\"\": 1}", ZT_EINVAL, "keys are");
	REJECT("[1]", ZT_EINVAL, "must be an object");
#undef REJECT

	/* 65 keys. */
	attrs = json_object();
	for (i = 0; i < 65; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		json_object_set_new(attrs, key, json_integer(i));
	}
	assert_err(zt_identity_set_attributes(&doc, &f->cx, "acme", id, attrs,
	    0), ZT_ETOOBIG, "more than 64 keys");
	json_decref(attrs);

	/* 17 values of 1000 bytes: more than 16 KiB in all. */
	big = malloc(1001);
	memset(big, 'x', 1000);
	big[1000] = '\0';
	attrs = json_object();
	for (i = 0; i < 17; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		json_object_set_new(attrs, key, json_string(big));
	}
	assert_err(zt_identity_set_attributes(&doc, &f->cx, "acme", id, attrs,
	    0), ZT_ETOOBIG, "16384");
	json_decref(attrs);

	/* One string of 1025 bytes. */
	big = realloc(big, 1026);
	memset(big, 'y', 1025);
	big[1025] = '\0';
	attrs = json_pack("{s:s}", "note", big);
	assert_err(zt_identity_set_attributes(&doc, &f->cx, "acme", id, attrs,
	    0), ZT_EINVAL, "1024 bytes");
	json_decref(attrs);
	free(big);
	assert_unchanged(f->db, &c);

	/* Replacing the attributes replaces their index rows. */
	attrs = json_pack("{s:[s, s]}", "tags", "a", "b");
	assert_ok(zt_identity_set_attributes(&doc, &f->cx, "acme", id, attrs,
	    1));
	json_decref(attrs);
	assert_int_equal(ver(doc), 2);
	json_decref(doc);
	attrs = json_pack("{s:s}", "tags", "c");
	assert_ok(zt_identity_set_attributes(&doc, &f->cx, "acme", id, attrs,
	    2));
	json_decref(attrs);
	json_decref(doc);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM identity_attrs"),
	    1);
}

/* One update changes attributes, unit and state together, or nothing. */
static void
test_identity_ident__update_several_at_once(void **state)
{
	struct fx *f = *state;
	char id[ID_SIZE], unit[ID_SIZE];
	zt_identity_patch p = { 0 };
	json_t *doc, *attrs;
	int64_t a;

	mk_tenant(f, "acme");
	mk_unit(f, unit, "acme", NULL, "Acme");
	mk_ident(f, id, "acme", "person", "erin", NULL);
	a = audits(f->db);

	/* The last step fails (staged cannot be suspended): the attributes
	 * and the move of the steps before it are rolled back too. */
	attrs = json_pack("{s:s}", "dept", "ops");
	p = (zt_identity_patch){ .attributes = attrs, .set_unit = true,
	    .unit = unit, .state = "suspended" };
	assert_err(zt_identity_update(&doc, &f->cx, "acme", id, &p, 1),
	    ZT_ECONFLICT, "from staged to suspended");
	assert_int_equal(audits(f->db), a);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM identity_attrs"),
	    0);
	assert_ok(zt_identity_get(&doc, &f->cx, "acme", id));
	assert_int_equal(ver(doc), 1);
	assert_true(json_is_null(json_object_get(doc, "unit_id")));
	json_decref(doc);

	/* A stale version changes nothing either. */
	p.state = "active";
	assert_err(zt_identity_update(&doc, &f->cx, "acme", id, &p, 2),
	    ZT_ESTALE, "version 1, not 2");
	assert_int_equal(audits(f->db), a);

	/* All three, one audit record each, one version step each. */
	assert_ok(zt_identity_update(&doc, &f->cx, "acme", id, &p, 1));
	assert_string_equal(str(doc, "state"), "active");
	assert_string_equal(str(doc, "unit_id"), unit);
	assert_string_equal(str(json_object_get(doc, "attributes"), "dept"),
	    "ops");
	assert_int_equal(ver(doc), 4);
	json_decref(doc);
	assert_int_equal(audits(f->db), a + 3);
	json_decref(attrs);

	/* What is already so is skipped; back to no unit. */
	p = (zt_identity_patch){ .set_unit = true, .unit = NULL,
	    .state = "active" };
	assert_ok(zt_identity_update(&doc, &f->cx, "acme", id, &p, 4));
	assert_int_equal(ver(doc), 5);
	assert_true(json_is_null(json_object_get(doc, "unit_id")));
	json_decref(doc);
	assert_int_equal(audits(f->db), a + 4);
}

/* Counts the items of every page of a list, starting over `q`. */
static size_t
list_all(struct fx *f, zt_identity_query q)
{
	json_t *page;
	char cur[1024] = "";
	size_t n = 0;

	q.cursor = NULL;
	for (;;) {
		assert_ok(zt_identity_list(&page, &f->cx, "acme", &q));
		n += json_array_size(json_object_get(page, "items"));
		if (json_is_null(json_object_get(page, "next_cursor"))) {
			json_decref(page);
			return n;
		}
		snprintf(cur, sizeof(cur), "%s", str(page, "next_cursor"));
		q.cursor = cur;
		json_decref(page);
	}
}

static void
test_identity_ident__list_filters(void **state)
{
	struct fx *f = *state;
	zt_identity_query q = { 0 };
	json_t *doc, *attrs, *page;
	char name[32];
	int i;

	mk_tenant(f, "acme");
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "%s-%02d", i % 2 ? "dev" : "web",
		    i);
		attrs = json_pack("{s:s, s:i, s:[s]}", "dept",
		    i % 3 ? "eng" : "sales", "floor", i % 4,
		    "tags", i < 5 ? "vip" : "std");
		assert_ok(zt_identity_create(&doc, &f->cx, "acme",
		    &(zt_identity_spec){ .kind = i % 2 ? "device" : "person",
		    .name = name, .state = i < 10 ? "active" : NULL,
		    .attributes = attrs }));
		json_decref(attrs);
		json_decref(doc);
	}
	q.limit = 7;
	assert_int_equal(list_all(f, q), 30);
	q.kind = "device";
	assert_int_equal(list_all(f, q), 15);
	q.kind = NULL;
	q.state = "active";
	assert_int_equal(list_all(f, q), 10);
	q.state = NULL;
	q.name_prefix = "web-1";
	assert_int_equal(list_all(f, q), 5);	/* 10 12 14 16 18 */
	q.name_prefix = NULL;

	q.nattrs = 1;
	q.attrs[0].key = "dept";
	q.attrs[0].value = json_string("sales");
	assert_int_equal(list_all(f, q), 10);
	q.nattrs = 2;
	q.attrs[1].key = "floor";
	q.attrs[1].value = json_real(0.0);	/* same as the integer 0 */
	assert_int_equal(list_all(f, q), 3);	/* 0, 12, 24 */
	json_decref(q.attrs[0].value);
	json_decref(q.attrs[1].value);
	/* With the other filters; the first attribute filter drives the
	 * walk in name order, the rest test each row it finds. */
	q.nattrs = 1;
	q.attrs[0].value = json_string("sales");
	q.name_prefix = "web-1";
	assert_int_equal(list_all(f, q), 2);	/* 12 18 */
	q.name_prefix = NULL;
	q.kind = "device";
	assert_int_equal(list_all(f, q), 5);	/* 3 9 15 21 27 */
	q.kind = NULL;
	q.state = "active";
	assert_int_equal(list_all(f, q), 4);	/* 0 3 6 9 */
	q.state = NULL;
	q.limit = 3;
	assert_ok(zt_identity_list(&page, &f->cx, "acme", &q));
	assert_string_equal(str(json_array_get(json_object_get(page,
	    "items"), 0), "name"), "dev-03");
	assert_string_equal(str(json_array_get(json_object_get(page,
	    "items"), 2), "name"), "dev-15");
	json_decref(page);
	q.limit = 7;
	json_decref(q.attrs[0].value);
	q.attrs[0].key = "tags";		/* set membership */
	q.attrs[0].value = json_string("vip");
	assert_int_equal(list_all(f, q), 5);
	q.sort = ZT_SORT_CREATED;
	assert_int_equal(list_all(f, q), 5);
	json_decref(q.attrs[0].value);
	q.nattrs = 0;
	assert_int_equal(list_all(f, q), 30);

	/* A string "3" is not the number 3. */
	q.nattrs = 1;
	q.attrs[0].key = "floor";
	q.attrs[0].value = json_string("3");
	assert_int_equal(list_all(f, q), 0);
	json_decref(q.attrs[0].value);
	q.attrs[0].value = json_object();
	assert_err(zt_identity_list(&page, &f->cx, "acme", &q), ZT_EINVAL,
	    "nested objects");
	json_decref(q.attrs[0].value);
	q.nattrs = 0;

	q.limit = 1001;
	assert_err(zt_identity_list(&page, &f->cx, "acme", &q), ZT_EINVAL,
	    "\"limit\"");
	q.limit = 10;
	q.kind = "robot";
	assert_err(zt_identity_list(&page, &f->cx, "acme", &q), ZT_EINVAL,
	    "field \"kind\"");
	q.kind = NULL;
	q.cursor = "not-a-cursor";
	assert_err(zt_identity_list(&page, &f->cx, "acme", &q), ZT_EINVAL,
	    "field \"cursor\"");
}

/* Pages walked while rows are inserted between them see every row that
 * was there at the start exactly once, in order. */
static void
test_identity_ident__pagination_stable_under_inserts(void **state)
{
	struct fx *f = *state;
	zt_identity_query q = { .limit = 10 };
	char seen[256][ID_SIZE], name[96], cur[1024], id[ID_SIZE], prev[64];
	json_t *page, *it;
	int nseen = 0, i, j, page_no = 0, found;
	size_t k;
	int sort;

	mk_tenant(f, "acme");
	for (sort = 0; sort < 2; sort++) {
		q.sort = sort ? ZT_SORT_CREATED : ZT_SORT_NAME;
		q.cursor = NULL;
		nseen = 0;
		prev[0] = '\0';
		if (sort == 0)
			for (i = 0; i < 45; i++) {
				snprintf(name, sizeof(name), "n%03d", i * 2);
				mk_ident(f, id, "acme", "api", name, NULL);
			}
		for (;;) {
			assert_ok(zt_identity_list(&page, &f->cx, "acme", &q));
			json_array_foreach(json_object_get(page, "items"), k,
			    it) {
				assert_true(nseen < 256);
				snprintf(seen[nseen++], ID_SIZE, "%s",
				    str(it, "id"));
				if (sort == 0) {
					assert_true(strcmp(prev, str(it,
					    "name")) < 0);
					snprintf(prev, sizeof(prev), "%s",
					    str(it, "name"));
				}
			}
			/* Rows before and after the cut, between pages. */
			snprintf(name, sizeof(name), "n%03d-s%d",
			    page_no * 20 + 1, sort);
			mk_ident(f, id, "acme", "api", name, NULL);
			snprintf(name, sizeof(name), "a%03d-s%d", page_no++,
			    sort);
			mk_ident(f, id, "acme", "api", name, NULL);
			if (json_is_null(json_object_get(page,
			    "next_cursor"))) {
				json_decref(page);
				break;
			}
			snprintf(cur, sizeof(cur), "%s",
			    str(page, "next_cursor"));
			q.cursor = cur;
			json_decref(page);
		}
		/* No row twice. */
		for (i = 0; i < nseen; i++)
			for (j = i + 1; j < nseen; j++)
				assert_string_not_equal(seen[i], seen[j]);
		/* Every one of the first 45 rows seen. */
		found = 0;
		for (i = 0; i < 45; i++) {
			snprintf(name, sizeof(name), "spiffe://test.example/"
			    "acme/api/n%03d", i * 2);
			assert_ok(zt_identity_get_by_spiffe(&it, &f->cx,
			    name));
			for (j = 0; j < nseen; j++)
				if (strcmp(seen[j], str(it, "id")) == 0)
					found++;
			json_decref(it);
		}
		assert_int_equal(found, 45);
	}
}

/* ---- accounts ------------------------------------------------------------ */

static void
test_identity_account__login_rules(void **state)
{
	struct fx *f = *state;
	char sys[ID_SIZE], sys2[ID_SIZE], alice[ID_SIZE], bob[ID_SIZE];
	char acc[ID_SIZE];
	struct counts c;
	json_t *doc, *list;

	mk_tenant(f, "acme");
	mk_tenant(f, "globex");
	mk_system(f, sys, "acme", "staff");
	mk_system(f, sys2, "acme", "partners");
	mk_ident(f, alice, "acme", "person", "alice", NULL);
	mk_ident(f, bob, "acme", "person", "bob", NULL);

	assert_ok(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = alice, .system = sys,
	    .login_name = "Alice@Example.com" }));
	assert_string_equal(str(doc, "login_name"), "Alice@Example.com");
	assert_string_equal(str(doc, "state"), "active");
	keep_id(acc, doc);
	/* One person, accounts in two systems, same login in each. */
	assert_ok(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = alice, .system = sys2,
	    .login_name = "alice@example.com" }));
	json_decref(doc);
	assert_ok(zt_account_list(&list, &f->cx, "acme", alice));
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);

	assert_ok(zt_identity_get_by_login(&doc, &f->cx, "acme", sys,
	    "ALICE@example.COM"));
	assert_string_equal(str(doc, "id"), alice);
	json_decref(doc);
	assert_err(zt_identity_get_by_login(&doc, &f->cx, "acme", sys,
	    "bob@example.com"), ZT_ENOTFOUND, "no account");

	snap(f->db, &c);
	assert_err(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = bob, .system = sys,
	    .login_name = "alice@EXAMPLE.com" }), ZT_EEXISTS, "is taken");
	assert_err(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = bob, .system = "AAAAAAAAAAAAAAAA",
	    .login_name = "bob" }), ZT_ENOTFOUND, "no account system");
	assert_err(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = "AAAAAAAAAAAAAAAA", .system = sys,
	    .login_name = "bob" }), ZT_ENOTFOUND, "no identity");
	assert_err(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = bob, .system = sys, .login_name = "" }), ZT_EINVAL,
	    "field \"login_name\"");
	assert_err(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = bob, .system = sys, .login_name = " bob" }),
	    ZT_EINVAL, "space");
	assert_err(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = bob, .system = sys, .login_name = "bob",
	    .state = "locked" }), ZT_EINVAL, "active, disabled");
	/* Another tenant's system and identity do not exist here. */
	assert_err(zt_account_create(&doc, &f->cx, "globex",
	    &(zt_account_spec){ .identity = bob, .system = sys,
	    .login_name = "bob" }), ZT_ENOTFOUND, "no identity");
	assert_err(zt_account_get(&doc, &f->cx, "globex", acc), ZT_ENOTFOUND,
	    "no account");
	assert_err(zt_account_set_state(&doc, &f->cx, "acme", acc,
	    "disabled", 9), ZT_ESTALE, "version");
	assert_err(zt_account_delete(&f->cx, "acme", acc, 9), ZT_ESTALE,
	    "version");
	assert_unchanged(f->db, &c);

	assert_ok(zt_account_set_state(&doc, &f->cx, "acme", acc, "disabled",
	    1));
	assert_string_equal(str(doc, "state"), "disabled");
	json_decref(doc);
	assert_ok(zt_account_delete(&f->cx, "acme", acc, 2));
	assert_err(zt_account_get(&doc, &f->cx, "acme", acc), ZT_ENOTFOUND,
	    "no account");
	/* The login is free again. */
	assert_ok(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = bob, .system = sys,
	    .login_name = "alice@example.com" }));
	json_decref(doc);

	/* No new accounts for a deprovisioned identity. */
	assert_ok(zt_identity_set_state(&doc, &f->cx, "acme", bob,
	    "deprovisioned", 0));
	json_decref(doc);
	snap(f->db, &c);
	assert_err(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = bob, .system = sys2, .login_name = "bob" }),
	    ZT_ECONFLICT, "deprovisioned");
	assert_unchanged(f->db, &c);
}

/* ---- groups -------------------------------------------------------------- */

static void
add_g(struct fx *f, const char *parent, const char *child)
{
	assert_ok(zt_group_member_add(&f->cx, "acme", parent, ZT_MEMBER_GROUP,
	    child));
}

static void
test_identity_group__cycles_rejected(void **state)
{
	struct fx *f = *state;
	char a[ID_SIZE], b[ID_SIZE], c[ID_SIZE], p[ID_SIZE];
	struct counts cnt;
	json_t *doc;

	mk_tenant(f, "acme");
	mk_group(f, a, "acme", "alpha", NULL);
	mk_group(f, b, "acme", "beta", NULL);
	mk_group(f, c, "acme", "gamma", NULL);
	mk_ident(f, p, "acme", "person", "pat", NULL);
	add_g(f, a, b);
	add_g(f, b, c);
	snap(f->db, &cnt);
	assert_err(zt_group_member_add(&f->cx, "acme", c, ZT_MEMBER_GROUP, a),
	    ZT_ECONFLICT, "cycle: gamma > alpha > beta > gamma");
	assert_err(zt_group_member_add(&f->cx, "acme", a, ZT_MEMBER_GROUP, a),
	    ZT_ECONFLICT, "cycle: alpha > alpha");
	assert_err(zt_group_member_add(&f->cx, "acme", a, ZT_MEMBER_GROUP, b),
	    ZT_EEXISTS, "already a member");
	assert_err(zt_group_member_add(&f->cx, "acme", a, ZT_MEMBER_GROUP,
	    "AAAAAAAAAAAAAAAA"), ZT_ENOTFOUND, "no group");
	assert_err(zt_group_member_add(&f->cx, "acme", "AAAAAAAAAAAAAAAA",
	    ZT_MEMBER_IDENTITY, p), ZT_ENOTFOUND, "no group");
	assert_err(zt_group_member_remove(&f->cx, "acme", a,
	    ZT_MEMBER_IDENTITY, p), ZT_ENOTFOUND, "not a member");
	assert_err(zt_group_create(&doc, &f->cx, "acme", &(zt_group_spec){
	    .name = "alpha" }), ZT_EEXISTS, "role group \"alpha\" exists");
	assert_err(zt_group_create(&doc, &f->cx, "acme", &(zt_group_spec){
	    .name = "Bad Name" }), ZT_EINVAL, "field \"name\"");
	assert_err(zt_group_delete(&f->cx, "acme", b, 0), ZT_ECONFLICT,
	    "has members");
	assert_err(zt_group_delete(&f->cx, "acme", c, 0), ZT_ECONFLICT,
	    "member of another group");
	assert_unchanged(f->db, &cnt);
}

/* The reachability (and shortest depth) of every pair from the edges
 * alone, by breadth-first search, compared with group_closure. */
#define NG 12

static void
assert_closure(struct fx *f, char g[NG][ID_SIZE])
{
	int edge[NG][NG] = { { 0 } }, dist[NG], queue[NG], i, j, s, h, t;
	zt_stmt *st;
	int64_t rows = 0;

	assert_int_equal(zt_db_prepare(&st, f->db, "SELECT group_id, member_id"
	    " FROM group_members WHERE tenant = 'acme'"
	    " AND member_type = 'group'"), ZT_OK);
	while (zt_stmt_step(st) == ZT_ROW) {
		for (i = 0; strcmp(g[i], zt_stmt_text(st, 0)); i++)
			;
		for (j = 0; strcmp(g[j], zt_stmt_text(st, 1)); j++)
			;
		edge[i][j] = 1;
	}
	zt_stmt_reset(st);
	for (s = 0; s < NG; s++) {
		for (i = 0; i < NG; i++)
			dist[i] = -1;
		dist[s] = 0;
		queue[0] = s;
		for (h = 0, t = 1; h < t; h++)
			for (j = 0; j < NG; j++)
				if (edge[queue[h]][j] && dist[j] < 0) {
					dist[j] = dist[queue[h]] + 1;
					queue[t++] = j;
				}
		for (j = 0; j < NG; j++) {
			assert_int_equal(zt_db_prepare(&st, f->db,
			    "SELECT depth FROM group_closure"
			    " WHERE tenant = 'acme' AND ancestor = $1"
			    " AND descendant = $2"), ZT_OK);
			zt_stmt_bind_text(st, 1, g[s]);
			zt_stmt_bind_text(st, 2, g[j]);
			if (zt_stmt_step(st) == ZT_ROW) {
				if (dist[j] != zt_stmt_int(st, 0))
					fail_msg("pair %d>%d: closure depth "
					    "%lld, walk %d", s, j, (long long)
					    zt_stmt_int(st, 0), dist[j]);
				rows++;
			} else if (dist[j] >= 0) {
				fail_msg("pair %d>%d missing", s, j);
			}
			zt_stmt_reset(st);
		}
	}
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM group_closure"),
	    rows);
}

static void
test_identity_group__closure_dag_removal(void **state)
{
	struct fx *f = *state;
	char g[NG][ID_SIZE], name[16], p[ID_SIZE];
	int i, a, b, step, rc;

	mk_tenant(f, "acme");
	for (i = 0; i < NG; i++) {
		snprintf(name, sizeof(name), "g%02d", i);
		mk_group(f, g[i], "acme", name, NULL);
	}
	mk_ident(f, p, "acme", "person", "pat", NULL);
	assert_ok(zt_group_member_add(&f->cx, "acme", g[3], ZT_MEMBER_IDENTITY,
	    p));

	/* A diamond: 0 > 1 > 3, 0 > 2 > 3; cutting 1 > 3 keeps 0 > 3. */
	add_g(f, g[0], g[1]);
	add_g(f, g[0], g[2]);
	add_g(f, g[1], g[3]);
	add_g(f, g[2], g[3]);
	assert_closure(f, g);
	assert_ok(zt_group_member_remove(&f->cx, "acme", g[1],
	    ZT_MEMBER_GROUP, g[3]));
	assert_closure(f, g);
	assert_true(in_group(f, "acme", p, g[0]));
	assert_true(in_group(f, "acme", p, g[2]));
	assert_false(in_group(f, "acme", p, g[1]));
	/* A shortcut 0 > 3 then its removal: depth goes 2, 1, 2. */
	add_g(f, g[0], g[3]);
	assert_closure(f, g);
	assert_ok(zt_group_member_remove(&f->cx, "acme", g[0],
	    ZT_MEMBER_GROUP, g[3]));
	assert_closure(f, g);
	assert_ok(zt_group_member_remove(&f->cx, "acme", g[2],
	    ZT_MEMBER_GROUP, g[3]));
	assert_closure(f, g);
	assert_false(in_group(f, "acme", p, g[0]));

	/* Random adds and removes on a DAG (edges only from lower to higher
	 * index, so no cycle is ever asked for). */
	srand(7);
	for (step = 0; step < 120; step++) {
		a = rand() % NG;
		b = rand() % NG;
		if (a == b)
			continue;
		if (a > b) {
			i = a;
			a = b;
			b = i;
		}
		rc = zt_group_member_add(&f->cx, "acme", g[a],
		    ZT_MEMBER_GROUP, g[b]);
		if (rc == ZT_EEXISTS)
			rc = zt_group_member_remove(&f->cx, "acme", g[a],
			    ZT_MEMBER_GROUP, g[b]);
		if (rc != ZT_OK && rc != ZT_EINVAL)	/* EINVAL: depth */
			fail_msg("step %d: %s", step, zt_error_msg());
		assert_closure(f, g);
	}
	/* And a cycle, asked for in reverse, is refused. */
	if (zt_group_member_add(&f->cx, "acme", g[4], ZT_MEMBER_GROUP,
	    g[5]) != ZT_EEXISTS)
		assert_closure(f, g);
	assert_err(zt_group_member_add(&f->cx, "acme", g[5], ZT_MEMBER_GROUP,
	    g[4]), ZT_ECONFLICT, "cycle");
}

/* ---- units --------------------------------------------------------------- */

static void
test_identity_unit__tree_and_effective_groups(void **state)
{
	struct fx *f = *state;
	char top[ID_SIZE], eng[ID_SIZE], web[ID_SIZE], sales[ID_SIZE];
	char alice[ID_SIZE], role[ID_SIZE], all[ID_SIZE];
	json_t *doc, *list;

	mk_tenant(f, "acme");
	mk_unit(f, top, "acme", NULL, "Acme");
	mk_unit(f, eng, "acme", top, "Engineering");
	mk_unit(f, web, "acme", eng, "Web");
	mk_unit(f, sales, "acme", top, "Sales");
	assert_ok(zt_unit_get(&doc, &f->cx, "acme", web));
	assert_int_equal(strlen(str(doc, "path")), 1 + 3 * (ZT_ID_LEN + 1));
	assert_string_equal(str(doc, "parent_id"), eng);
	json_decref(doc);
	/* Each unit owns an org group with its id. */
	assert_ok(zt_group_get(&doc, &f->cx, "acme", eng));
	assert_string_equal(str(doc, "kind"), "org");
	assert_string_equal(str(doc, "name"), "Engineering");
	json_decref(doc);
	assert_ok(zt_unit_list(&list, &f->cx, "acme", top));
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);

	mk_ident(f, alice, "acme", "person", "alice", web);
	mk_group(f, role, "acme", "web-devs", NULL);
	mk_group(f, all, "acme", "everyone", NULL);
	/* The Engineering org group sits in a role group. */
	add_g(f, all, eng);
	assert_ok(zt_group_member_add(&f->cx, "acme", role,
	    ZT_MEMBER_IDENTITY, alice));
	assert_ok(zt_identity_groups(&list, &f->cx, "acme", alice));
	/* web, eng, top (org) + web-devs (direct) + everyone (via eng). */
	assert_int_equal(json_array_size(list), 5);
	json_decref(list);
	assert_false(in_group(f, "acme", alice, sales));

	/* Moving her to Sales changes her org groups at once. */
	assert_ok(zt_identity_move(&doc, &f->cx, "acme", alice, sales, 1));
	assert_int_equal(ver(doc), 2);
	json_decref(doc);
	assert_true(in_group(f, "acme", alice, sales));
	assert_true(in_group(f, "acme", alice, top));
	assert_false(in_group(f, "acme", alice, eng));
	assert_false(in_group(f, "acme", alice, all));
	assert_true(in_group(f, "acme", alice, role));

	/* Org groups take no stored members. */
	assert_err(zt_group_member_add(&f->cx, "acme", eng,
	    ZT_MEMBER_IDENTITY, alice), ZT_EINVAL, "org group");

	/* Rename carries to the org group. */
	assert_ok(zt_unit_rename(&doc, &f->cx, "acme", sales, "Sales EMEA",
	    1));
	json_decref(doc);
	assert_ok(zt_group_get(&doc, &f->cx, "acme", sales));
	assert_string_equal(str(doc, "name"), "Sales EMEA");
	json_decref(doc);
}

static void
test_identity_unit__move_rules(void **state)
{
	struct fx *f = *state;
	char a[ID_SIZE], b[ID_SIZE], c[ID_SIZE], d[ID_SIZE];
	struct counts cnt;
	json_t *doc;

	mk_tenant(f, "acme");
	mk_unit(f, a, "acme", NULL, "A");
	mk_unit(f, b, "acme", a, "B");
	mk_unit(f, c, "acme", b, "C");
	mk_unit(f, d, "acme", NULL, "D");
	snap(f->db, &cnt);
	assert_err(zt_unit_move(&doc, &f->cx, "acme", a, c, 0), ZT_ECONFLICT,
	    "own subtree");
	assert_err(zt_unit_move(&doc, &f->cx, "acme", a, a, 0), ZT_ECONFLICT,
	    "own subtree");
	assert_err(zt_unit_move(&doc, &f->cx, "acme", b, d, 5), ZT_ESTALE,
	    "version");
	assert_err(zt_unit_move(&doc, &f->cx, "acme", b, "AAAAAAAAAAAAAAAA",
	    0), ZT_ENOTFOUND, "no unit");
	assert_err(zt_unit_create(&doc, &f->cx, "acme", NULL, ""), ZT_EINVAL,
	    "field \"name\"");
	assert_unchanged(f->db, &cnt);

	/* B (with C) under D; then B to the top. */
	assert_ok(zt_unit_move(&doc, &f->cx, "acme", b, d, 1));
	assert_string_equal(str(doc, "parent_id"), d);
	json_decref(doc);
	assert_ok(zt_unit_get(&doc, &f->cx, "acme", c));
	assert_true(strncmp(str(doc, "path") + 1, d, ZT_ID_LEN) == 0);
	json_decref(doc);
	assert_ok(zt_unit_move(&doc, &f->cx, "acme", b, NULL, 0));
	assert_true(json_is_null(json_object_get(doc, "parent_id")));
	json_decref(doc);
	assert_ok(zt_unit_get(&doc, &f->cx, "acme", c));
	assert_int_equal(strlen(str(doc, "path")), 1 + 2 * (ZT_ID_LEN + 1));
	json_decref(doc);
}

static void
test_identity_unit__delete_only_when_empty(void **state)
{
	struct fx *f = *state;
	char a[ID_SIZE], b[ID_SIZE], p[ID_SIZE], r[ID_SIZE], o[ID_SIZE];
	struct counts cnt;
	json_t *doc;
	int64_t n;

	mk_tenant(f, "acme");
	mk_unit(f, a, "acme", NULL, "A");
	mk_unit(f, b, "acme", a, "B");
	mk_ident(f, p, "acme", "person", "pat", b);
	mk_group(f, r, "acme", "owners", NULL);
	mk_group(f, o, "acme", "b-role", b);
	add_g(f, r, b);
	snap(f->db, &cnt);
	assert_err(zt_unit_delete(&f->cx, "acme", a, 0), ZT_ECONFLICT,
	    "sub-unit \"B\"");
	assert_err(zt_unit_delete(&f->cx, "acme", b, 0), ZT_ECONFLICT,
	    "member \"pat\"");
	assert_ok(zt_identity_move(&doc, &f->cx, "acme", p, a, 0));
	json_decref(doc);
	snap(f->db, &cnt);
	assert_err(zt_unit_delete(&f->cx, "acme", b, 0), ZT_ECONFLICT,
	    "owns role group \"b-role\"");
	assert_ok(zt_group_delete(&f->cx, "acme", o, 1));
	snap(f->db, &cnt);
	assert_err(zt_unit_delete(&f->cx, "acme", b, 0), ZT_ECONFLICT,
	    "member of group \"owners\"");
	assert_err(zt_group_delete(&f->cx, "acme", b, 0), ZT_EINVAL,
	    "with its unit");
	assert_unchanged(f->db, &cnt);

	assert_ok(zt_group_member_remove(&f->cx, "acme", r, ZT_MEMBER_GROUP,
	    b));
	n = audits(f->db);
	assert_ok(zt_unit_delete(&f->cx, "acme", b, 1));
	assert_int_equal(audits(f->db), n + 2);	/* unit and org group */
	assert_err(zt_group_get(&doc, &f->cx, "acme", b), ZT_ENOTFOUND,
	    "no group");
	assert_err(zt_unit_get(&doc, &f->cx, "acme", b), ZT_ENOTFOUND,
	    "no unit");
}

/* A unit of 2,000 people moves with its subtree: no identity row is
 * written, one audit record is, and their org groups follow. */
static void
test_identity_unit__move_subtree_of_2000(void **state)
{
	struct fx *f = *state;
	char old[ID_SIZE], neu[ID_SIZE], big[ID_SIZE], sub[ID_SIZE];
	char first[ID_SIZE], last[ID_SIZE], name[32], cur[512];
	zt_import_stats stats;
	zt_buf nd = ZT_BUF_INIT(1 << 20);
	json_t *doc, *page;
	int64_t n, seen = 0;
	int i;

	mk_tenant(f, "acme");
	mk_unit(f, old, "acme", NULL, "Old parent");
	mk_unit(f, neu, "acme", NULL, "New parent");
	mk_unit(f, big, "acme", old, "Big");
	mk_unit(f, sub, "acme", big, "Sub");
	for (i = 0; i < 2000; i++)
		zt_buf_addf(&nd, "{\"kind\":\"person\",\"name\":\"p%04d\","
		    "\"unit_id\":\"%s\"}\n", i, i % 10 ? big : sub);
	assert_ok(zt_identity_import(&stats, &f->cx, "acme", nd.data, nd.len,
	    NULL, NULL));
	zt_buf_free(&nd);
	assert_int_equal(stats.ok, 2000);
	mk_ident(f, first, "acme", "person", "first", sub);
	mk_ident(f, last, "acme", "person", "last", big);
	assert_true(in_group(f, "acme", first, old));

	n = audits(f->db);
	assert_ok(zt_unit_move(&doc, &f->cx, "acme", big, neu, 0));
	json_decref(doc);
	assert_int_equal(audits(f->db), n + 1);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM identities"
	    " WHERE version <> 1"), 0);

	assert_true(in_group(f, "acme", first, neu));
	assert_true(in_group(f, "acme", first, big));
	assert_true(in_group(f, "acme", first, sub));
	assert_false(in_group(f, "acme", first, old));
	assert_true(in_group(f, "acme", last, neu));
	assert_false(in_group(f, "acme", last, sub));

	/* The new parent's org group now holds all 2,002, page by page. */
	cur[0] = '\0';
	for (;;) {
		assert_ok(zt_group_members(&page, &f->cx, "acme", neu, true,
		    cur[0] ? cur : NULL, 500));
		seen += (int64_t)json_array_size(json_object_get(page,
		    "items"));
		if (json_is_null(json_object_get(page, "next_cursor"))) {
			json_decref(page);
			break;
		}
		snprintf(cur, sizeof(cur), "%s", str(page, "next_cursor"));
		json_decref(page);
	}
	assert_int_equal(seen, 2002);
	assert_ok(zt_group_members(&page, &f->cx, "acme", old, true, NULL,
	    10));
	assert_int_equal(json_array_size(json_object_get(page, "items")), 0);
	json_decref(page);
	snprintf(name, sizeof(name), "%s", "direct");
	assert_ok(zt_group_members(&page, &f->cx, "acme", sub, false, NULL,
	    1000));
	assert_int_equal(json_array_size(json_object_get(page, "items")),
	    201);
	json_decref(page);
}

static void
test_identity_group__members_pages(void **state)
{
	struct fx *f = *state;
	char top[ID_SIZE], mid[ID_SIZE], u[ID_SIZE], id[ID_SIZE];
	char name[16], cur[512] = "";
	json_t *page, *it;
	int i, total = 0, direct = 0;
	size_t k;

	mk_tenant(f, "acme");
	mk_group(f, top, "acme", "top", NULL);
	mk_group(f, mid, "acme", "mid", NULL);
	mk_unit(f, u, "acme", NULL, "U");
	add_g(f, top, mid);
	add_g(f, top, u);
	for (i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "m%02d", i);
		mk_ident(f, id, "acme", "service", name, i % 2 ? u : NULL);
		/* Some are in both mid and, by their unit, in u. */
		if (i % 3 == 0)
			assert_ok(zt_group_member_add(&f->cx, "acme", mid,
			    ZT_MEMBER_IDENTITY, id));
	}
	/* Direct members of top: the two groups. */
	assert_ok(zt_group_members(&page, &f->cx, "acme", top, false, NULL,
	    10));
	json_array_foreach(json_object_get(page, "items"), k, it)
		if (strcmp(str(it, "type"), "group") == 0)
			direct++;
	assert_int_equal(direct, 2);
	json_decref(page);

	/* Effective: odd ones (unit) plus multiples of 3, each once. */
	for (;;) {
		assert_ok(zt_group_members(&page, &f->cx, "acme", top, true,
		    cur[0] ? cur : NULL, 4));
		total += (int)json_array_size(json_object_get(page, "items"));
		if (json_is_null(json_object_get(page, "next_cursor"))) {
			json_decref(page);
			break;
		}
		snprintf(cur, sizeof(cur), "%s", str(page, "next_cursor"));
		json_decref(page);
	}
	assert_int_equal(total, 12 + 5);	/* 12 odd; 0 6 12 18 24 even */
	assert_err(zt_group_members(&page, &f->cx, "acme", top, true,
	    "bogus", 4), ZT_EINVAL, "field \"cursor\"");
}

/* ---- delegated scope ----------------------------------------------------- */

static void
test_identity_scope__subtree(void **state)
{
	struct fx *f = *state;
	char top[ID_SIZE], eng[ID_SIZE], web[ID_SIZE], ops[ID_SIZE];
	char in[ID_SIZE], deep[ID_SIZE], out[ID_SIZE], floating[ID_SIZE];
	char wide[ID_SIZE], owned[ID_SIZE], sys[ID_SIZE], acc[ID_SIZE];
	zt_identity_query q = { 0 };
	zt_id_ctx admin;
	struct counts c;
	json_t *doc, *page;

	mk_tenant(f, "acme");
	mk_tenant(f, "globex");
	mk_system(f, sys, "acme", "staff");
	mk_unit(f, top, "acme", NULL, "Acme");
	mk_unit(f, eng, "acme", top, "Eng");
	mk_unit(f, web, "acme", eng, "Web");
	mk_unit(f, ops, "acme", top, "Ops");
	mk_ident(f, in, "acme", "person", "in", eng);
	mk_ident(f, deep, "acme", "person", "deep", web);
	mk_ident(f, out, "acme", "person", "out", ops);
	mk_ident(f, floating, "acme", "person", "floating", NULL);
	mk_group(f, wide, "acme", "wide", NULL);
	mk_group(f, owned, "acme", "owned", eng);
	assert_ok(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = out, .system = sys, .login_name = "out" }));
	keep_id(acc, doc);
	admin = scoped(f, "acme", eng);

	/* Sees the subtree. */
	assert_ok(zt_identity_get(&doc, &admin, "acme", in));
	json_decref(doc);
	assert_ok(zt_identity_get(&doc, &admin, "acme", deep));
	json_decref(doc);
	assert_ok(zt_group_get(&doc, &admin, "acme", owned));
	json_decref(doc);
	assert_ok(zt_group_get(&doc, &admin, "acme", web));
	json_decref(doc);
	assert_ok(zt_acctsys_get(&doc, &admin, "acme", sys));
	json_decref(doc);
	q.limit = 100;
	assert_ok(zt_identity_list(&page, &admin, "acme", &q));
	assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
	json_decref(page);
	assert_ok(zt_group_list(&page, &admin, "acme", NULL, 100));
	assert_int_equal(json_array_size(json_object_get(page, "items")), 3);
	json_decref(page);
	assert_ok(zt_unit_list(&page, &admin, "acme", NULL));
	assert_int_equal(json_array_size(page), 1);
	json_decref(page);

	/* Nothing else exists for it. */
	snap(f->db, &c);
	assert_err(zt_identity_get(&doc, &admin, "acme", out), ZT_ENOTFOUND,
	    "no identity");
	assert_err(zt_identity_get(&doc, &admin, "acme", floating),
	    ZT_ENOTFOUND, "no identity");
	assert_err(zt_identity_get_by_spiffe(&doc, &admin,
	    "spiffe://test.example/acme/person/out"), ZT_ENOTFOUND,
	    "no identity");
	assert_err(zt_account_get(&doc, &admin, "acme", acc), ZT_ENOTFOUND,
	    "no account");
	assert_err(zt_identity_get_by_login(&doc, &admin, "acme", sys, "out"),
	    ZT_ENOTFOUND, "no account");
	assert_err(zt_group_get(&doc, &admin, "acme", wide), ZT_ENOTFOUND,
	    "no group");
	assert_err(zt_unit_get(&doc, &admin, "acme", ops), ZT_ENOTFOUND,
	    "no unit");
	assert_err(zt_unit_get(&doc, &admin, "acme", top), ZT_ENOTFOUND,
	    "no unit");
	assert_err(zt_tenant_get(&doc, &admin, "globex"), ZT_ENOTFOUND,
	    "no tenant");
	assert_err(zt_identity_set_state(&doc, &admin, "acme", out, "active",
	    0), ZT_ENOTFOUND, "no identity");
	assert_err(zt_identity_move(&doc, &admin, "acme", in, ops, 0),
	    ZT_ENOTFOUND, "no unit");
	assert_err(zt_identity_move(&doc, &admin, "acme", in, NULL, 0),
	    ZT_EINVAL, "required");
	assert_err(zt_identity_create(&doc, &admin, "acme",
	    &(zt_identity_spec){ .kind = "api", .name = "x" }), ZT_EINVAL,
	    "field \"unit_id\": required");
	assert_err(zt_group_create(&doc, &admin, "acme", &(zt_group_spec){
	    .name = "x" }), ZT_EINVAL, "field \"unit_id\": required");
	assert_err(zt_group_member_add(&admin, "acme", owned,
	    ZT_MEMBER_IDENTITY, out), ZT_ENOTFOUND, "no identity");
	assert_err(zt_unit_move(&doc, &admin, "acme", eng, ops, 0),
	    ZT_EFORBIDDEN, "top unit");
	assert_err(zt_unit_move(&doc, &admin, "acme", web, ops, 0),
	    ZT_ENOTFOUND, "no unit");
	assert_err(zt_unit_delete(&admin, "acme", eng, 0), ZT_EFORBIDDEN,
	    "top unit");
	assert_err(zt_acctsys_update(&doc, &admin, "acme", sys,
	    &(zt_acctsys_spec){ .name = "staff", .kind = "workforce" }, 0),
	    ZT_EFORBIDDEN, "tenant-wide");
	assert_err(zt_tenant_update(&doc, &admin, "acme", "x", 0),
	    ZT_EFORBIDDEN, "tenant-wide");
	assert_unchanged(f->db, &c);

	/* It may change what it sees. */
	assert_ok(zt_identity_create(&doc, &admin, "acme", &(zt_identity_spec){
	    .kind = "api", .name = "x", .unit = web }));
	json_decref(doc);
	assert_ok(zt_group_member_add(&admin, "acme", owned,
	    ZT_MEMBER_IDENTITY, deep));
	assert_ok(zt_identity_move(&doc, &admin, "acme", deep, eng, 0));
	json_decref(doc);

	/* A tenant administrator of another tenant sees none of it. */
	admin = scoped(f, "globex", NULL);
	assert_err(zt_identity_get(&doc, &admin, "acme", in), ZT_ENOTFOUND,
	    "no tenant \"acme\"");
}

/* ---- import -------------------------------------------------------------- */

struct seen {
	int n;
	size_t line[8];
	int rc[8];
	char text[8][256];
};

static void
collect(void *arg, size_t line, int rc, const char *text)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->line[s->n] = line;
		s->rc[s->n] = rc;
		snprintf(s->text[s->n], sizeof(s->text[0]), "%s", text);
	}
	s->n++;
}

/* The newest audit record, after `seq`, is the one record of an import
 * batch, naming `nident` identities (among them a and b) and as many
 * accounts. */
static void
assert_import_audit(struct fx *f, int64_t seq, size_t nident,
    const char *a, const char *b)
{
	json_t *list, *rec, *after, *ids;
	int64_t next;
	size_t i, seen = 0;

	assert_ok(zt_audit_list(f->db, "acme", NULL, seq, 10, &list, &next));
	assert_int_equal(json_array_size(list), 1);
	rec = json_array_get(list, 0);
	assert_string_equal(str(rec, "action"), "identity.import");
	assert_string_equal(str(rec, "target"), "tenant:acme");
	after = json_object_get(json_object_get(rec, "summary"), "after");
	ids = json_object_get(after, "identities");
	assert_int_equal(json_array_size(ids), nident);
	assert_int_equal(json_array_size(json_object_get(after, "accounts")),
	    nident);
	for (i = 0; i < nident; i++)
		if (strcmp(json_string_value(json_array_get(ids, i)), a) == 0 ||
		    strcmp(json_string_value(json_array_get(ids, i)), b) == 0)
			seen++;
	assert_int_equal(seen, 2);
	json_decref(list);
}

static void
test_identity_import__broken_lines_roll_back_alone(void **state)
{
	struct fx *f = *state;
	char sys[ID_SIZE], unit[ID_SIZE];
	zt_import_stats st;
	struct seen s = { 0 };
	zt_buf nd = ZT_BUF_INIT(1 << 16);
	zt_identity_query q = { 0 };
	json_t *doc;
	int64_t a0, i0, c0;

	mk_tenant(f, "acme");
	mk_system(f, sys, "acme", "staff");
	mk_unit(f, unit, "acme", NULL, "Acme");
	a0 = audits(f->db);
	c0 = count(f->db, "SELECT COUNT(*) FROM accounts");
	i0 = count(f->db, "SELECT COUNT(*) FROM identities");
	zt_buf_addf(&nd, "{\"kind\":\"person\",\"name\":\"ann\","
	    "\"unit_id\":\"%s\",\"attributes\":{\"dept\":\"ops\"},"
	    "\"accounts\":[{\"system\":\"staff\",\"login_name\":\"Ann\"}]}\n",
	    unit);
	/* Identity fine, second account's login taken by the first: the
	 * whole line goes, identity and attributes too. */
	zt_buf_addf(&nd, "{\"kind\":\"person\",\"name\":\"ben\","
	    "\"attributes\":{\"dept\":\"ops\"},\"accounts\":["
	    "{\"system_id\":\"%s\",\"login_name\":\"ben\"},"
	    "{\"system\":\"staff\",\"login_name\":\"ANN\"}]}\n", sys);
	zt_buf_adds(&nd, "\n   \n");
	zt_buf_adds(&nd, "{\"kind\":\"robot\",\"name\":\"r\"}\n");
	zt_buf_adds(&nd, "{not json\n");
	zt_buf_adds(&nd, "{\"kind\":\"device\",\"name\":\"d1\","
	    "\"colour\":1}\n");
	zt_buf_addf(&nd, "{\"kind\":\"service\",\"name\":\"cal\","
	    "\"state\":\"active\",\"attributes\":{\"site\":\"lab\","
	    "\"tags\":[\"y\",\"x\",\"y\"]},\"accounts\":[{\"system\":"
	    "\"staff\",\"login_name\":\"svc-cal\"}]}");	/* no final \n */
	assert_ok(zt_identity_import(&st, &f->cx, "acme", nd.data, nd.len,
	    collect, &s));
	zt_buf_free(&nd);

	assert_int_equal(st.lines, 6);
	assert_int_equal(st.ok, 2);
	assert_int_equal(st.failed, 4);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.line[0], 1);
	assert_int_equal(s.rc[0], ZT_OK);
	assert_int_equal(strlen(s.text[0]), ZT_ID_LEN);
	assert_int_equal(s.line[1], 2);
	assert_int_equal(s.rc[1], ZT_EEXISTS);
	assert_non_null(strstr(s.text[1], "accounts[1]"));
	assert_int_equal(s.line[2], 5);
	assert_int_equal(s.rc[2], ZT_EINVAL);
	assert_non_null(strstr(s.text[2], "field \"kind\""));
	assert_int_equal(s.line[3], 6);
	assert_int_equal(s.rc[3], ZT_EINVAL);
	assert_int_equal(s.line[4], 7);
	assert_non_null(strstr(s.text[4], "unknown field \"colour\""));
	assert_int_equal(s.line[5], 8);
	assert_int_equal(s.rc[5], ZT_OK);

	/* Two identities, two accounts, four attribute rows (a set of two
	 * members after duplicates go), and one audit record for the batch
	 * naming what it made. */
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM identities"),
	    i0 + 2);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM accounts"),
	    c0 + 2);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM identity_attrs"),
	    4);
	assert_int_equal(audits(f->db), a0 + 1);
	assert_import_audit(f, a0, 2, s.text[0], s.text[5]);
	assert_err(zt_identity_get_by_spiffe(&doc, &f->cx,
	    "spiffe://test.example/acme/person/ben"), ZT_ENOTFOUND,
	    "no identity");
	assert_ok(zt_identity_get_by_login(&doc, &f->cx, "acme", sys, "ann"));
	assert_string_equal(str(doc, "id"), s.text[0]);
	json_decref(doc);

	/* Imported attributes are found by the filtered list. */
	q.nattrs = 1;
	q.attrs[0].key = "tags";
	q.attrs[0].value = json_string("x");
	assert_ok(zt_identity_list(&doc, &f->cx, "acme", &q));
	json_decref(q.attrs[0].value);
	assert_int_equal(json_array_size(json_object_get(doc, "items")), 1);
	assert_string_equal(str(json_array_get(json_object_get(doc, "items"),
	    0), "name"), "cal");
	json_decref(doc);

	/* An unknown tenant: nothing runs. */
	assert_err(zt_identity_import(&st, &f->cx, "nope", "{}\n", 3, collect,
	    &s), ZT_ENOTFOUND, "no tenant");
}

/* Within one batch, a line that fails on a login an earlier line took
 * leaves its name to a later line, as one create after another would. */
static void
test_identity_import__line_that_loses_a_login_keeps_no_name(void **state)
{
	struct fx *f = *state;
	char sys[ID_SIZE];
	zt_import_stats st;
	struct seen s = { 0 };
	const char *nd =
	    "{\"kind\":\"person\",\"name\":\"x\",\"accounts\":"
	    "[{\"system\":\"staff\",\"login_name\":\"l\"}]}\n"
	    "{\"kind\":\"person\",\"name\":\"n\",\"accounts\":"
	    "[{\"system\":\"staff\",\"login_name\":\"m\"},"
	    "{\"system\":\"staff\",\"login_name\":\"L\"}]}\n"
	    "{\"kind\":\"person\",\"name\":\"n\",\"accounts\":"
	    "[{\"system\":\"staff\",\"login_name\":\"m\"}]}\n";

	mk_tenant(f, "acme");
	mk_system(f, sys, "acme", "staff");
	assert_ok(zt_identity_import(&st, &f->cx, "acme", nd, strlen(nd),
	    collect, &s));
	assert_int_equal(st.ok, 2);
	assert_int_equal(s.rc[0], ZT_OK);
	assert_int_equal(s.rc[1], ZT_EEXISTS);
	assert_non_null(strstr(s.text[1], "accounts[1]"));
	assert_int_equal(s.rc[2], ZT_OK);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM accounts"), 2);
}

/*
 * A line that collides with a row made before the import fails only when
 * its batch is written, so the batch runs again line by line: the others
 * still go in, and a login the failed line wanted is free for a later
 * line, as with one create after another.
 */
static void
test_identity_import__existing_clash_retries_by_line(void **state)
{
	struct fx *f = *state;
	char sys[ID_SIZE], old[ID_SIZE];
	zt_import_stats st;
	struct seen s = { 0 };
	zt_buf nd = ZT_BUF_INIT(1 << 16);
	json_t *doc;
	int64_t a0;

	mk_tenant(f, "acme");
	mk_system(f, sys, "acme", "staff");
	mk_ident(f, old, "acme", "person", "dora", NULL);
	a0 = audits(f->db);
	zt_buf_adds(&nd, "{\"kind\":\"person\",\"name\":\"eve\","
	    "\"accounts\":[{\"system\":\"staff\",\"login_name\":\"e\"}]}\n");
	/* Taken by the identity made above; wants login "x". */
	zt_buf_adds(&nd, "{\"kind\":\"person\",\"name\":\"dora\","
	    "\"accounts\":[{\"system\":\"staff\",\"login_name\":\"x\"}]}\n");
	/* Wants "x" too: free, since the line before failed. */
	zt_buf_adds(&nd, "{\"kind\":\"person\",\"name\":\"fred\","
	    "\"accounts\":[{\"system\":\"staff\",\"login_name\":\"X\"}]}\n");
	/* Wants "e", which the first line took. */
	zt_buf_adds(&nd, "{\"kind\":\"device\",\"name\":\"gus\","
	    "\"accounts\":[{\"system\":\"staff\",\"login_name\":\"E\"}]}\n");
	assert_ok(zt_identity_import(&st, &f->cx, "acme", nd.data, nd.len,
	    collect, &s));
	zt_buf_free(&nd);

	assert_int_equal(st.ok, 2);
	assert_int_equal(st.failed, 2);
	assert_int_equal(s.rc[0], ZT_OK);
	assert_int_equal(s.rc[1], ZT_EEXISTS);
	assert_string_equal(s.text[1], "a person named \"dora\" exists");
	assert_int_equal(s.rc[2], ZT_OK);
	assert_int_equal(s.rc[3], ZT_EEXISTS);
	assert_string_equal(s.text[3], "accounts[0]: field \"login_name\": "
	    "\"E\" is taken in this account system");
	assert_ok(zt_identity_get_by_login(&doc, &f->cx, "acme", sys, "x"));
	assert_string_equal(str(doc, "id"), s.text[2]);
	json_decref(doc);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM identities"), 3);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM accounts"), 2);
	assert_import_audit(f, a0, 2, s.text[0], s.text[2]);
}

static void
test_identity_audit__chain_intact(void **state)
{
	struct fx *f = *state;
	zt_audit_report rep;
	char u[ID_SIZE], p[ID_SIZE], g[ID_SIZE];

	mk_tenant(f, "acme");
	mk_unit(f, u, "acme", NULL, "U");
	mk_ident(f, p, "acme", "person", "pat", u);
	mk_group(f, g, "acme", "grp", u);
	assert_ok(zt_group_member_add(&f->cx, "acme", g, ZT_MEMBER_IDENTITY,
	    p));
	assert_ok(zt_audit_verify(f->db, &rep));
	/* tenant, unit + org group, identity, group, member add */
	assert_int_equal(rep.records, 6);
}

/* ---- deletion ------------------------------------------------------------ */

static void
test_identity_delete__identity_with_accounts_and_memberships(void **state)
{
	struct fx *f = *state;
	char sys[ID_SIZE], id[ID_SIZE], grp[ID_SIZE];
	struct counts before;
	json_t *doc;
	int64_t n;

	mk_tenant(f, "acme");
	mk_system(f, sys, "acme", "staff");
	mk_ident(f, id, "acme", "person", "gone", NULL);
	mk_group(f, grp, "acme", "team", NULL);
	assert_ok(zt_group_member_add(&f->cx, "acme", grp, ZT_MEMBER_IDENTITY,
	    id));
	assert_ok(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = id, .system = sys, .login_name = "gone" }));
	json_decref(doc);

	/* A stale version and another tenant's view change nothing. */
	snap(f->db, &before);
	assert_err(zt_identity_delete(&f->cx, "acme", id, 7), ZT_ESTALE,
	    "version");
	zt_id_ctx other = scoped(f, "other", NULL);
	assert_err(zt_identity_delete(&other, "acme", id, 0), ZT_ENOTFOUND,
	    "tenant");
	assert_unchanged(f->db, &before);

	n = audits(f->db);
	assert_ok(zt_identity_delete(&f->cx, "acme", id, 1));
	assert_int_equal(audits(f->db), n + 1);
	assert_err(zt_identity_get(&doc, &f->cx, "acme", id), ZT_ENOTFOUND,
	    "identity");
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM accounts"), 0);
	assert_int_equal(count(f->db, "SELECT COUNT(*) FROM group_members"),
	    0);
	/* The name is free again. */
	mk_ident(f, id, "acme", "person", "gone", NULL);
}

static void
test_identity_delete__acctsys_and_tenant_only_when_empty(void **state)
{
	struct fx *f = *state;
	char sys[ID_SIZE], id[ID_SIZE], acc[ID_SIZE];
	struct counts before;
	json_t *doc;

	mk_tenant(f, "acme");
	mk_system(f, sys, "acme", "staff");
	mk_ident(f, id, "acme", "person", "p", NULL);
	assert_ok(zt_account_create(&doc, &f->cx, "acme", &(zt_account_spec){
	    .identity = id, .system = sys, .login_name = "p" }));
	keep_id(acc, doc);

	snap(f->db, &before);
	assert_err(zt_acctsys_delete(&f->cx, "acme", sys, 0), ZT_ECONFLICT,
	    "holds accounts");
	assert_err(zt_tenant_delete(&f->cx, "acme", 0), ZT_ECONFLICT,
	    "identities");
	zt_id_ctx tenant = scoped(f, "acme", NULL);
	assert_err(zt_tenant_delete(&tenant, "acme", 0), ZT_EFORBIDDEN,
	    "system");
	assert_unchanged(f->db, &before);

	assert_ok(zt_account_delete(&f->cx, "acme", acc, 0));
	assert_ok(zt_acctsys_delete(&f->cx, "acme", sys, 0));
	{
		json_t *page;
		size_t i;
		json_t *it;

		assert_ok(zt_identity_list(&page, &f->cx, "acme",
		    &(zt_identity_query){ 0 }));
		json_array_foreach(json_object_get(page, "items"), i, it)
			assert_ok(zt_identity_delete(&f->cx, "acme",
			    str(it, "id"), 0));
		json_decref(page);
	}
	assert_ok(zt_tenant_delete(&f->cx, "acme", 0));
	assert_err(zt_tenant_get(&doc, &f->cx, "acme"), ZT_ENOTFOUND,
	    "tenant");
}

static void
test_identity_group__update_role_group(void **state)
{
	struct fx *f = *state;
	char a[ID_SIZE], b[ID_SIZE], u[ID_SIZE];
	struct counts before;
	json_t *doc;

	mk_tenant(f, "acme");
	mk_group(f, a, "acme", "ops", NULL);
	mk_group(f, b, "acme", "dev", NULL);
	mk_unit(f, u, "acme", NULL, "eng");

	snap(f->db, &before);
	assert_err(zt_group_update(&doc, &f->cx, "acme", a, "dev", NULL, 0),
	    ZT_EEXISTS, "");
	assert_err(zt_group_update(&doc, &f->cx, "acme", a, "Bad Name", NULL,
	    0), ZT_EINVAL, "name");
	assert_err(zt_group_update(&doc, &f->cx, "acme", a, "x", NULL, 9),
	    ZT_ESTALE, "version");
	assert_err(zt_group_update(&doc, &f->cx, "acme", u, "x", NULL, 0),
	    ZT_EINVAL, "unit");
	assert_unchanged(f->db, &before);

	assert_ok(zt_group_update(&doc, &f->cx, "acme", a, "operations",
	    "on call", 1));
	assert_string_equal(str(doc, "name"), "operations");
	assert_string_equal(str(doc, "description"), "on call");
	assert_int_equal(ver(doc), 2);
	json_decref(doc);
	assert_ok(zt_group_update(&doc, &f->cx, "acme", a, NULL, "", 0));
	assert_string_equal(str(doc, "name"), "operations");
	assert_string_equal(str(doc, "description"), "");
	json_decref(doc);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity_tenant__create_get_list),
		T(test_identity_group__update_role_group),
		T(test_identity_delete__identity_with_accounts_and_memberships),
		T(test_identity_delete__acctsys_and_tenant_only_when_empty),
		T(test_identity_tenant__bad_input_writes_nothing),
		T(test_identity_tenant__update_version),
		T(test_identity_acctsys__create_and_policy),
		T(test_identity_ident__create_and_spiffe),
		T(test_identity_ident__bad_input_writes_nothing),
		T(test_identity_ident__lifecycle),
		T(test_identity_ident__update_several_at_once),
		T(test_identity_attrs__normalised_and_indexed),
		T(test_identity_attrs__rejected_writes_nothing),
		T(test_identity_ident__list_filters),
		T(test_identity_ident__pagination_stable_under_inserts),
		T(test_identity_account__login_rules),
		T(test_identity_group__cycles_rejected),
		T(test_identity_group__closure_dag_removal),
		T(test_identity_group__members_pages),
		T(test_identity_unit__tree_and_effective_groups),
		T(test_identity_unit__move_rules),
		T(test_identity_unit__delete_only_when_empty),
		T(test_identity_unit__move_subtree_of_2000),
		T(test_identity_scope__subtree),
		T(test_identity_import__broken_lines_roll_back_alone),
		T(test_identity_import__existing_clash_retries_by_line),
		T(test_identity_import__line_that_loses_a_login_keeps_no_name),
		T(test_identity_audit__chain_intact),
	};

	return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
