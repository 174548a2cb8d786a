/*
 * store.c: applications, their policy stores and revisions, in the
 * database.
 *
 * authz_apps      one row per application; appid unique system-wide.
 * authz_stores    the head of each store: its current revision.  Store
 *                 "*" is the tenant-wide one; any other is an appid.
 * authz_revisions every revision, whole: policies (text as sent, its
 *                 format), the schema (app stores), who and when.
 * authz_state     one counter, raised by every change in the change's
 *                 transaction; zt_authz_refresh polls it.
 * authz_roles     an application's roles and their permissions
 *                 (roles.c); the Cedar text compiled from them is a
 *                 column of each revision, role_policies.
 * authz_role_grants  who holds a role: identities and groups.
 *
 * A change locks its store's head row (UPDATE ... revision + 1) before it
 * reads anything, so two changes of one store serialise and the second
 * validates against the first one's result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "authz/authz_int.h"
#include "base/base.h"

#define SCHEMA_V1(KT)							\
	"CREATE TABLE authz_apps ("					\
	" tenant " KT " NOT NULL REFERENCES tenants (id),"		\
	" appid " KT " NOT NULL,"					\
	" name TEXT NOT NULL,"						\
	" namespace TEXT NOT NULL,"					\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, appid));"				\
	"CREATE UNIQUE INDEX authz_apps_appid ON authz_apps (appid);"	\
	"CREATE TABLE authz_stores ("					\
	" tenant " KT " NOT NULL REFERENCES tenants (id),"		\
	" store " KT " NOT NULL,"					\
	" revision BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, store));"				\
	"CREATE TABLE authz_revisions ("				\
	" tenant " KT " NOT NULL,"					\
	" store " KT " NOT NULL,"					\
	" revision BIGINT NOT NULL,"					\
	" change TEXT NOT NULL,"					\
	" format TEXT NOT NULL,"					\
	" policies TEXT NOT NULL,"					\
	" schema_json TEXT,"						\
	" created_by TEXT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, store, revision),"			\
	" FOREIGN KEY (tenant, store)"					\
	"  REFERENCES authz_stores (tenant, store));"			\
	"CREATE TABLE authz_state (id INTEGER PRIMARY KEY,"		\
	" seq BIGINT NOT NULL);"					\
	"INSERT INTO authz_state (id, seq) VALUES (1, 0);"

/* Roles per application and their grants; the role policies of each
 * revision.  A grant names an identity or a group (kind) by id. */
#define SCHEMA_V2(KT)							\
	"CREATE TABLE authz_roles ("					\
	" tenant " KT " NOT NULL,"					\
	" appid " KT " NOT NULL,"					\
	" role " KT " NOT NULL,"					\
	" description TEXT NOT NULL,"					\
	" permissions TEXT NOT NULL,"					\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, appid, role),"				\
	" FOREIGN KEY (tenant, appid)"					\
	"  REFERENCES authz_apps (tenant, appid));"			\
	"CREATE TABLE authz_role_grants ("				\
	" tenant " KT " NOT NULL,"					\
	" id " KT " NOT NULL,"						\
	" appid " KT " NOT NULL,"					\
	" role " KT " NOT NULL,"					\
	" kind TEXT NOT NULL,"						\
	" subject " KT " NOT NULL,"					\
	" created_by TEXT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, id),"					\
	" UNIQUE (tenant, appid, role, kind, subject),"			\
	" FOREIGN KEY (tenant, appid, role)"				\
	"  REFERENCES authz_roles (tenant, appid, role));"		\
	"CREATE INDEX authz_role_grants_subject"			\
	" ON authz_role_grants (tenant, kind, subject);"		\
	"ALTER TABLE authz_revisions ADD COLUMN role_policies TEXT;"

static const zt_migration authz_steps[] = {
	{ 1, "applications and policy stores", SCHEMA_V1("TEXT"),
	  SCHEMA_V1("TEXT COLLATE \"C\"") },
	{ 2, "roles and role grants", SCHEMA_V2("TEXT"),
	  SCHEMA_V2("TEXT COLLATE \"C\"") },
};

const zt_migration_set zt_authz_migrations = {
	"authz", authz_steps, ZT_ARRAY_LEN(authz_steps),
};

bool
zt_appid_valid(const char *appid)
{
	size_t i, n = appid != NULL ? strlen(appid) : 0;

	if (n == 0 || n > ZT_APPID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((appid[i] >= 'a' && appid[i] <= 'z') ||
		    (appid[i] >= '0' && appid[i] <= '9') ||
		    appid[i] == '_' || appid[i] == '-'))
			return false;
	return true;
}

/* ---- scope and small helpers ------------------------------------------- */

/* Policy stores belong to tenant administrators, as OAuth clients do. */
int
az_scope(const zt_id_ctx *cx, const char *tenant)
{
	json_t *t = NULL;
	int err;

	if (cx->scope.tenant != NULL && strcmp(cx->scope.tenant, tenant) != 0)
		return zt_error_set(ZT_ENOTFOUND, "no tenant \"%.64s\"",
		    tenant);
	if (cx->scope.unit != NULL)
		return zt_error_set(ZT_EFORBIDDEN, "a unit administrator "
		    "cannot manage applications or policies");
	if ((err = zt_tenant_get(&t, cx, tenant)) < 0)
		return err;
	json_decref(t);
	return ZT_OK;
}
int
az_bump_seq(zt_db *db)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "UPDATE authz_state SET seq ="
	    " seq + 1 WHERE id = 1")) < 0)
		return err;
	return zt_stmt_run(st);
}

/* ---- applications ------------------------------------------------------ */

#define APP_COLS "a.appid, a.name, a.namespace, a.version, a.created_at," \
	" a.updated_at, COALESCE(s.revision, 0)"
#define APP_FROM " FROM authz_apps a LEFT JOIN authz_stores s" \
	" ON s.tenant = a.tenant AND s.store = a.appid"

static json_t *
app_doc(const char *tenant, zt_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o}",
	    "appid", zt_stmt_text(st, 0), "tenant", tenant,
	    "name", zt_stmt_text(st, 1), "namespace", zt_stmt_text(st, 2),
	    "revision", (json_int_t)zt_stmt_int(st, 6),
	    "version", (json_int_t)zt_stmt_int(st, 3),
	    "created_at", zt_time_json(zt_stmt_int(st, 4)),
	    "updated_at", zt_time_json(zt_stmt_int(st, 5)));
}

int
az_app_fetch(json_t **out, zt_db *db, const char *tenant, const char *appid)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_db_prepare(&st, db, "SELECT " APP_COLS APP_FROM
	    " WHERE a.tenant = $1 AND a.appid = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		err = (*out = app_doc(tenant, st)) != NULL ? ZT_OK : ZT_ENOMEM;
	else if (err == ZT_DONE)
		err = zt_error_set(ZT_ENOTFOUND, "no application \"%.64s\"",
		    appid);
	zt_stmt_reset(st);
	return err;
}

static bool
ns_valid(const char *ns)
{
	zt_policy_schema *s = NULL;
	char json[ZT_AUTHZ_NS_MAX + 64];
	bool ok;

	if (ns[0] == '\0')
		return true;
	if (strlen(ns) > ZT_AUTHZ_NS_MAX || strchr(ns, '"') != NULL ||
	    strchr(ns, '\\') != NULL)
		return false;
	/* A namespace is whatever the schema reader takes as one. */
	snprintf(json, sizeof(json), "{\"%s\": {\"entityTypes\": {},"
	    " \"actions\": {}}}", ns);
	ok = zt_policy_schema_from_json(&s, json, strlen(json)) == ZT_OK;
	zt_policy_schema_free(s);
	return ok;
}

int
zt_authz_app_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *name, const char *ns)
{
	int64_t now = zt_now_ms();
	zt_stmt *st;
	int err;

	*out = NULL;
	if (!zt_appid_valid(appid))
		return zt_error_set(ZT_EINVAL, "field \"appid\": 1 to %d of "
		    "[a-z0-9_-]", ZT_APPID_MAX);
	if (ns == NULL)
		ns = "";
	if (!ns_valid(ns))
		return zt_error_set(ZT_EINVAL, "field \"namespace\": not a "
		    "Cedar namespace");
	if (name == NULL)
		name = appid;
	if (strlen(name) > ZT_NAME_MAX || !zt_utf8_valid(name, strlen(name)))
		return zt_error_set(ZT_EINVAL, "field \"name\": up to %d "
		    "bytes of UTF-8", ZT_NAME_MAX);
	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	if ((err = az_scope(cx, tenant)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "INSERT INTO authz_apps"
	    " (tenant, appid, name, namespace, version, created_at,"
	    " updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5)")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	zt_stmt_bind_text(st, 3, name);
	zt_stmt_bind_text(st, 4, ns);
	zt_stmt_bind_int(st, 5, now);
	if ((err = zt_stmt_run(st)) == ZT_EEXISTS)
		err = zt_error_set(ZT_EEXISTS, "the appid \"%s\" is taken",
		    appid);
	if (err < 0 || (err = az_app_fetch(out, cx->db, tenant, appid)) < 0 ||
	    (err = az_bump_seq(cx->db)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "app.create", tenant, "app",
	    appid, NULL, *out);
out:
	if ((err = zt_db_end(cx->db, err)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

int
zt_authz_app_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid)
{
	int err;

	*out = NULL;
	if ((err = az_scope(cx, tenant)) < 0)
		return err;
	return az_app_fetch(out, cx->db, tenant, appid);
}

int
zt_authz_app_list(json_t **out, const zt_id_ctx *cx, const char *tenant)
{
	json_t *items;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = az_scope(cx, tenant)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "SELECT " APP_COLS APP_FROM
	    " WHERE a.tenant = $1 ORDER BY a.appid")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	items = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(items, app_doc(tenant, st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(items);
		return err;
	}
	*out = items;
	return ZT_OK;
}

static int
delete_rows(zt_db *db, const char *sql, const char *tenant,
    const char *appid)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	return zt_stmt_run(st);
}

int
zt_authz_app_delete(const zt_id_ctx *cx, const char *tenant,
    const char *appid, int64_t version)
{
	json_t *before = NULL;
	int err;

	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	if ((err = az_scope(cx, tenant)) < 0 ||
	    (err = az_app_fetch(&before, cx->db, tenant, appid)) < 0)
		goto out;
	if (version != 0 && json_integer_value(json_object_get(before,
	    "version")) != version) {
		err = zt_error_set(ZT_ESTALE, "the application has changed "
		    "since version %lld", (long long)version);
		goto out;
	}
	if ((err = delete_rows(cx->db, "DELETE FROM authz_role_grants WHERE"
	    " tenant = $1 AND appid = $2", tenant, appid)) < 0 ||
	    (err = delete_rows(cx->db, "DELETE FROM authz_roles WHERE"
	    " tenant = $1 AND appid = $2", tenant, appid)) < 0 ||
	    (err = delete_rows(cx->db, "DELETE FROM authz_revisions WHERE"
	    " tenant = $1 AND store = $2", tenant, appid)) < 0 ||
	    (err = delete_rows(cx->db, "DELETE FROM authz_stores WHERE"
	    " tenant = $1 AND store = $2", tenant, appid)) < 0 ||
	    (err = delete_rows(cx->db, "DELETE FROM authz_apps WHERE"
	    " tenant = $1 AND appid = $2", tenant, appid)) < 0 ||
	    (err = az_bump_seq(cx->db)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "app.delete", tenant, "app",
	    appid, before, NULL);
out:
	json_decref(before);
	return zt_db_end(cx->db, err);
}

/* ---- revisions ----------------------------------------------------------- */

#define REV_COLS "revision, change, format, policies, schema_json," \
	" created_by, created_at, role_policies"

static json_t *
rev_doc(const char *tenant, const char *store, zt_stmt *st, bool texts)
{
	json_t *d = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o}",
	    "tenant", tenant, "revision", (json_int_t)zt_stmt_int(st, 0),
	    "change", zt_stmt_text(st, 1), "format", zt_stmt_text(st, 2),
	    "created_by", zt_stmt_text(st, 5),
	    "created_at", zt_time_json(zt_stmt_int(st, 6)));

	if (d == NULL)
		return NULL;
	json_object_set_new(d, "store", strcmp(store, ZT_AUTHZ_TENANT_STORE)
	    == 0 ? json_string("tenant") : json_string("app"));
	if (strcmp(store, ZT_AUTHZ_TENANT_STORE) != 0)
		json_object_set_new(d, "appid", json_string(store));
	/* The version is the revision, so api_reply_doc's ETag is it. */
	json_object_set_new(d, "version", json_integer(zt_stmt_int(st, 0)));
	if (!texts)
		return d;
	json_object_set_new(d, "policies", json_string(zt_stmt_text(st, 3)));
	if (!zt_stmt_is_null(st, 4))
		json_object_set_new(d, "schema", json_loads(zt_stmt_text(st,
		    4), 0, NULL));
	if (!zt_stmt_is_null(st, 7))
		json_object_set_new(d, "role_policies",
		    json_string(zt_stmt_text(st, 7)));
	return d;
}

/* The head revision of a store, 0 when it has none. */
static int
head_revision(int64_t *rev, zt_db *db, const char *tenant, const char *store)
{
	zt_stmt *st;
	int err;

	*rev = 0;
	if ((err = zt_db_prepare(&st, db, "SELECT revision FROM authz_stores"
	    " WHERE tenant = $1 AND store = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, store);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*rev = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

static int
rev_fetch(json_t **out, zt_db *db, const char *tenant, const char *store,
    int64_t revision)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if (revision == 0 && (err = head_revision(&revision, db, tenant,
	    store)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, db, "SELECT " REV_COLS " FROM"
	    " authz_revisions WHERE tenant = $1 AND store = $2 AND"
	    " revision = $3")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, store);
	zt_stmt_bind_int(st, 3, revision);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		err = (*out = rev_doc(tenant, store, st, true)) != NULL ?
		    ZT_OK : ZT_ENOMEM;
	else if (err == ZT_DONE && revision == 0)
		err = zt_error_set(ZT_ENOTFOUND, "the policy store is empty");
	else if (err == ZT_DONE)
		err = zt_error_set(ZT_ENOTFOUND, "no revision %lld of this "
		    "policy store", (long long)revision);
	zt_stmt_reset(st);
	return err;
}

/* Checks the store's parent (the app) exists and is the caller's. */
static int
store_key(const char **store, const zt_id_ctx *cx, const char *tenant,
    const char *appid)
{
	json_t *app = NULL;
	int err;

	if ((err = az_scope(cx, tenant)) < 0)
		return err;
	if (appid == NULL) {
		*store = ZT_AUTHZ_TENANT_STORE;
		return ZT_OK;
	}
	if ((err = az_app_fetch(&app, cx->db, tenant, appid)) < 0)
		return err;
	json_decref(app);
	*store = appid;
	return ZT_OK;
}

int
zt_authz_store_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid, int64_t revision)
{
	const char *store;
	int err;

	*out = NULL;
	if ((err = store_key(&store, cx, tenant, appid)) < 0)
		return err;
	return rev_fetch(out, cx->db, tenant, store, revision);
}

int
zt_authz_store_revisions(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *appid)
{
	const char *store;
	json_t *items;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = store_key(&store, cx, tenant, appid)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "SELECT " REV_COLS " FROM"
	    " authz_revisions WHERE tenant = $1 AND store = $2"
	    " ORDER BY revision DESC")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, store);
	items = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(items, rev_doc(tenant, store, st, false));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(items);
		return err;
	}
	*out = items;
	return ZT_OK;
}

/* ---- a change -------------------------------------------------------------- */

/* Checks tenant-wide policies against the schema of every application
 * of the tenant. */
static int
check_tenant_policies(json_t *errors, zt_db *db, const char *tenant,
    const char *format, const char *policies)
{
	const char *schema, *appid;
	json_t *apps = json_array(), *a;
	zt_stmt *st;
	size_t i;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT r.store, r.schema_json"
	    " FROM authz_stores s JOIN authz_revisions r ON r.tenant ="
	    " s.tenant AND r.store = s.store AND r.revision = s.revision"
	    " WHERE s.tenant = $1 AND s.store <> '*' AND r.schema_json IS"
	    " NOT NULL ORDER BY s.store")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(apps, json_pack("[s,s]",
		    zt_stmt_text(st, 0), zt_stmt_text(st, 1)));
	zt_stmt_reset(st);
	if (err < 0)
		goto out;
	err = ZT_OK;
	json_array_foreach(apps, i, a) {
		appid = json_string_value(json_array_get(a, 0));
		schema = json_string_value(json_array_get(a, 1));
		az_check_texts(errors, "tenant", appid, format, policies,
		    schema);
	}
out:
	json_decref(apps);
	return err;
}

static int
insert_revision(zt_db *db, const zt_id_ctx *cx, const char *tenant,
    const char *store, int64_t rev, const char *change, const az_texts *t)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO authz_revisions"
	    " (tenant, store, revision, change, format, policies,"
	    " schema_json, created_by, created_at, role_policies) VALUES"
	    " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, store);
	zt_stmt_bind_int(st, 3, rev);
	zt_stmt_bind_text(st, 4, change);
	zt_stmt_bind_text(st, 5, t->format);
	zt_stmt_bind_text(st, 6, t->policies);
	if (t->schema != NULL)
		zt_stmt_bind_text(st, 7, t->schema);
	else
		zt_stmt_bind_null(st, 7);
	zt_stmt_bind_text(st, 8, cx->actor != NULL && cx->actor->id != NULL ?
	    cx->actor->id : "system");
	zt_stmt_bind_int(st, 9, zt_now_ms());
	if (t->roles != NULL && t->roles[0] != '\0')
		zt_stmt_bind_text(st, 10, t->roles);
	else
		zt_stmt_bind_null(st, 10);
	return zt_stmt_run(st);
}

/* Takes the head row's lock and the next revision number. */
static int
next_revision(int64_t *rev, zt_db *db, const char *tenant, const char *store)
{
	zt_stmt *st;
	int64_t changed;
	int err;

	if ((err = zt_db_prepare(&st, db, "UPDATE authz_stores SET revision"
	    " = revision + 1 WHERE tenant = $1 AND store = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, store);
	err = zt_stmt_step(st);
	changed = zt_stmt_changes(st);
	zt_stmt_reset(st);
	if (err < 0)
		return err;
	if (changed == 0) {
		if ((err = zt_db_prepare(&st, db, "INSERT INTO authz_stores"
		    " (tenant, store, revision) VALUES ($1, $2, 1)")) < 0)
			return err;
		zt_stmt_bind_text(st, 1, tenant);
		zt_stmt_bind_text(st, 2, store);
		if ((err = zt_stmt_run(st)) < 0)
			return err;
	}
	return head_revision(rev, db, tenant, store);
}

static const char *
fmt_name(enum zt_authz_format f)
{
	return f == ZT_AUTHZ_JSON ? "json" : "cedar";
}

static int
put_tx(json_t **out, json_t *errors, const zt_id_ctx *cx, const char *tenant,
    const char *appid, enum zt_authz_part part, enum zt_authz_format fmt,
    const char *body, int64_t if_revision)
{
	const char *store;
	json_t *hold = NULL, *tenant_hold = NULL, *before = NULL;
	az_texts cur, next, tcur;
	char *schema_text = NULL;
	int64_t rev;
	int err;

	if ((err = store_key(&store, cx, tenant, appid)) < 0 ||
	    (err = next_revision(&rev, cx->db, tenant, store)) < 0)
		return err;
	if (if_revision != 0 && if_revision != rev - 1) {
		err = zt_error_set(ZT_ESTALE, "the policy store is at "
		    "revision %lld, not %lld", (long long)(rev - 1),
		    (long long)if_revision);
		goto out;
	}
	if ((err = rev_fetch(&before, cx->db, tenant, store, rev - 1)) < 0 &&
	    err != ZT_ENOTFOUND)
		goto out;
	if ((err = az_texts_of(&cur, &hold, before)) < 0)
		goto out;
	next = cur;

	if (part == ZT_AUTHZ_SCHEMA) {
		/* Normal form: the schema as parsed JSON, compact. */
		if ((err = az_schema_normal(&schema_text, body, errors)) < 0)
			goto out;
		next.schema = schema_text;
	} else if (part == ZT_AUTHZ_ROLES) {
		next.roles = body;
		if (cur.schema == NULL) {
			err = zt_error_set(ZT_ECONFLICT, "the application has "
			    "no schema yet: PUT its schema first");
			goto out;
		}
	} else {
		next.format = fmt_name(fmt);
		next.policies = body;
		if (appid != NULL && cur.schema == NULL) {
			err = zt_error_set(ZT_ECONFLICT, "the application has "
			    "no schema yet: PUT its schema first");
			goto out;
		}
	}

	/* The new texts must hold together, and with the other store. */
	if (appid != NULL) {
		json_t *tdoc = NULL;

		az_check_texts(errors, "app", NULL, next.format,
		    next.policies, next.schema);
		/* Role policies are checked with every schema change too,
		 * so a schema never drops what a role relies on. */
		if (next.roles != NULL && next.roles[0] != '\0')
			az_check_texts(errors, "roles", NULL, "cedar",
			    next.roles, next.schema);
		if ((err = rev_fetch(&tdoc, cx->db, tenant,
		    ZT_AUTHZ_TENANT_STORE, 0)) == ZT_OK) {
			err = az_texts_of(&tcur, &tenant_hold, tdoc);
			json_decref(tdoc);
			if (err < 0)
				goto out;
			az_check_texts(errors, "tenant", appid, tcur.format,
			    tcur.policies, next.schema);
		} else if (err != ZT_ENOTFOUND)
			goto out;
	} else {
		az_check_texts(errors, "tenant", NULL, next.format,
		    next.policies, NULL);
		if (json_array_size(errors) == 0 &&
		    (err = check_tenant_policies(errors, cx->db, tenant,
		    next.format, next.policies)) < 0)
			goto out;
	}
	if (json_array_size(errors) > 0) {
		json_t *first = json_array_get(errors, 0);

		err = zt_error_set(ZT_EINVAL, "the %s does not validate: %s",
		    part == ZT_AUTHZ_SCHEMA ? "schema" : part ==
		    ZT_AUTHZ_ROLES ? "role's permissions" : "policy set",
		    json_string_value(json_object_get(first, "message")));
		goto out;
	}

	if ((err = insert_revision(cx->db, cx, tenant, store, rev,
	    part == ZT_AUTHZ_SCHEMA ? "schema" : part == ZT_AUTHZ_ROLES ?
	    "roles" : "policies", &next)) < 0 ||
	    (err = az_bump_seq(cx->db)) < 0 ||
	    (err = rev_fetch(out, cx->db, tenant, store, rev)) < 0)
		goto out;
	/* A role change is audited by the role call that made it. */
	if (part != ZT_AUTHZ_ROLES)
		err = zt_audit_change(cx->db, cx->actor, part == ZT_AUTHZ_SCHEMA ?
	    "policy.schema.put" : "policy.put", tenant, "policy-store", store,
	    before, *out);
out:
	free(schema_text);
	json_decref(hold);
	json_decref(tenant_hold);
	json_decref(before);
	return err;
}

int
zt_authz_store_put(json_t **out, json_t **errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, enum zt_authz_part part,
    enum zt_authz_format fmt, const char *body, size_t len,
    int64_t if_revision)
{
	json_t *errs = json_array();
	int err;

	*out = NULL;
	if (errors != NULL)
		*errors = NULL;
	if (errs == NULL)
		return ZT_ENOMEM;
	if (appid == NULL && part == ZT_AUTHZ_SCHEMA) {
		json_decref(errs);
		return zt_error_set(ZT_EINVAL, "the tenant-wide store has no "
		    "schema of its own");
	}
	if (part == ZT_AUTHZ_ROLES) {
		json_decref(errs);
		return zt_error_set(ZT_EINVAL, "role policies are written by "
		    "the role calls only");
	}
	if (memchr(body, '\0', len) != NULL || !zt_utf8_valid(body, len)) {
		json_decref(errs);
		return zt_error_set(ZT_EINVAL, "the body is not UTF-8 text");
	}
	if ((err = zt_db_begin(cx->db)) < 0) {
		json_decref(errs);
		return err;
	}
	err = put_tx(out, errs, cx, tenant, appid, part, fmt, body,
	    if_revision);
	if ((err = zt_db_end(cx->db, err)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	if (err == ZT_EINVAL && errors != NULL && json_array_size(errs) > 0)
		*errors = json_incref(errs);
	json_decref(errs);
	return err;
}

int
az_put_roles(int64_t *rev, json_t *errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *roles)
{
	json_t *doc = NULL;
	int err;

	*rev = 0;
	err = put_tx(&doc, errors, cx, tenant, appid, ZT_AUTHZ_ROLES,
	    ZT_AUTHZ_CEDAR, roles != NULL ? roles : "", 0);
	if (err == ZT_OK)
		*rev = json_integer_value(json_object_get(doc, "revision"));
	json_decref(doc);
	return err;
}
