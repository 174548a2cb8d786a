/*
 * roles.c: roles per application, their permissions and their grants.
 *
 * A role belongs to one application and carries a list of permissions;
 * each permission is compiled to one Cedar policy,
 *
 *   @id("role:<role>:<n>")
 *   permit (principal in NS::Role::"<appid>/<role>",
 *           action in [NS::Action::"<a>", ...],
 *           resource in NS::Resource::"<prefix>")   (or ==, or any)
 *   when { <condition> };
 *
 * and the policies of all the application's roles, in role order, are
 * one Cedar text kept beside the author's policies in each revision of
 * the application's store (role_policies).  So a role change is a store
 * change: validated against the schema with everything else, stored as
 * a new revision and activated the same way; a refused one stores
 * nothing.
 *
 * A grant gives a role to an identity or to a group (by id); a group
 * grant reaches every identity in the group, directly or through
 * nesting, because the decision service matches grants against the
 * identity's effective groups (az_subject_roles).  Grants change no
 * revision, but raise the change counter so that every worker drops the
 * users it cached and sees the grant on its next decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"
#include "base/base.h"

/* A permission's condition is a Cedar expression, not a policy set. */
#define WHEN_MAX	4096
#define ACTIONS_MAX	64
/* The longest text one permission can make: every action name and the
 * resource escaped (each byte at most doubled), the condition, and the
 * words around them. */
#define PERM_TEXT_MAX	(ACTIONS_MAX * (2 * ZT_AUTHZ_FIELD_MAX + 64) + \
	2 * ZT_AUTHZ_FIELD_MAX + WHEN_MAX + 2 * ZT_AUTHZ_NS_MAX + 1024)

bool
zt_role_name_valid(const char *role)
{
	size_t i, n = role != NULL ? strlen(role) : 0;

	if (n == 0 || n > ZT_ROLE_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((role[i] >= 'a' && role[i] <= 'z') ||
		    (role[i] >= 'A' && role[i] <= 'Z') ||
		    (role[i] >= '0' && role[i] <= '9') ||
		    role[i] == '_' || role[i] == '-' || role[i] == '.'))
			return false;
	return true;
}

/* ---- permissions to Cedar ------------------------------------------------ */

/* A name inside a Cedar string literal: no control bytes, '"' and '\'
 * escaped. */
static int
add_literal(zt_buf *b, const char *what, size_t k, const char *s)
{
	const unsigned char *p;
	int err = ZT_OK;

	if (s[0] == '\0' || strlen(s) > ZT_AUTHZ_FIELD_MAX)
		return zt_error_set(ZT_EINVAL, "permissions[%zu]: %s: 1 to %d "
		    "bytes", k, what, ZT_AUTHZ_FIELD_MAX);
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return zt_error_set(ZT_EINVAL, "permissions[%zu]: %s: "
			    "holds a control character", k, what);
	for (p = (const unsigned char *)s; *p != '\0' && err == ZT_OK; p++) {
		if (*p == '"' || *p == '\\')
			err = zt_buf_addc(b, '\\');
		if (err == ZT_OK)
			err = zt_buf_addc(b, (char)*p);
	}
	return err;
}

static void
add_type(zt_buf *b, const char *ns, const char *type)
{
	if (ns[0] != '\0')
		zt_buf_addf(b, "%s::", ns);
	zt_buf_addf(b, "%s::\"", type);
}

/* A resource path as the decision service splits it: non-empty
 * segments, at most ZT_AUTHZ_RESOURCE_DEPTH. */
static int
check_path(size_t k, const char *what, const char *r)
{
	size_t n = strlen(r), i, depth = 1;

	if (n == 0 || r[0] == ':' || r[n - 1] == ':' || strstr(r, "::"))
		return zt_error_set(ZT_EINVAL, "permissions[%zu]: %s: empty "
		    "path segment", k, what);
	for (i = 0; i < n; i++)
		if (r[i] == ':' && ++depth > ZT_AUTHZ_RESOURCE_DEPTH)
			return zt_error_set(ZT_EINVAL, "permissions[%zu]: %s: "
			    "over %d segments", k, what,
			    ZT_AUTHZ_RESOURCE_DEPTH);
	return ZT_OK;
}

/* Checks the shape of one permission object. */
static int
perm_read(size_t k, json_t *p, json_t **actions, const char **res,
    const char **prefix, const char **when)
{
	const zt_json_field f[] = {
		{ "actions", ZT_J_ARRAY, true, actions, NULL },
		{ "resource", ZT_J_STRING, false, res, NULL },
		{ "resource_prefix", ZT_J_STRING, false, prefix, NULL },
		{ "when", ZT_J_STRING, false, when, NULL },
	};
	size_t n;
	int err;

	*actions = NULL;
	*res = *prefix = *when = NULL;
	if (!json_is_object(p))
		return zt_error_set(ZT_EINVAL, "permissions[%zu]: an object "
		    "is required", k);
	if ((err = zt_json_decode(p, f, ZT_ARRAY_LEN(f))) < 0)
		return zt_error_set(err, "permissions[%zu]: %s", k,
		    zt_error_msg());
	n = json_array_size(*actions);
	if (n == 0 || n > ACTIONS_MAX)
		return zt_error_set(ZT_EINVAL, "permissions[%zu].actions: 1 "
		    "to %d action or action group names", k, ACTIONS_MAX);
	if (*res != NULL && *prefix != NULL)
		return zt_error_set(ZT_EINVAL, "permissions[%zu]: give "
		    "\"resource\" or \"resource_prefix\", not both", k);
	if ((*res != NULL && (err = check_path(k, "resource", *res)) < 0) ||
	    (*prefix != NULL && (err = check_path(k, "resource_prefix",
	    *prefix)) < 0))
		return err;
	if (*when != NULL && (strlen(*when) == 0 || strlen(*when) > WHEN_MAX))
		return zt_error_set(ZT_EINVAL, "permissions[%zu].when: 1 to %d "
		    "bytes of a Cedar condition", k, WHEN_MAX);
	return ZT_OK;
}

/* One permission's policy into `b`. */
static int
perm_text(zt_buf *b, const char *ns, const char *appid, const char *role,
    size_t k, json_t *p)
{
	const char *res, *prefix, *when;
	json_t *actions, *a;
	size_t i;
	int err;

	if ((err = perm_read(k, p, &actions, &res, &prefix, &when)) < 0)
		return err;
	zt_buf_addf(b, "@id(\"role:%s:%zu\")\npermit (\n  principal in ",
	    role, k);
	add_type(b, ns, "Role");
	zt_buf_addf(b, "%s/%s\",\n  action in [", appid, role);
	json_array_foreach(actions, i, a) {
		if (!json_is_string(a))
			return zt_error_set(ZT_EINVAL, "permissions[%zu]."
			    "actions[%zu]: a string is required", k, i);
		if (i > 0)
			zt_buf_adds(b, ", ");
		add_type(b, ns, "Action");
		if ((err = add_literal(b, "actions", k,
		    json_string_value(a))) < 0)
			return err;
		zt_buf_addc(b, '"');
	}
	zt_buf_adds(b, "],\n  resource");
	if (res != NULL || prefix != NULL) {
		zt_buf_adds(b, res != NULL ? " == " : " in ");
		add_type(b, ns, "Resource");
		if ((err = add_literal(b, "resource", k, res != NULL ? res :
		    prefix)) < 0)
			return err;
		zt_buf_addc(b, '"');
	}
	zt_buf_adds(b, "\n)");
	if (when != NULL)
		zt_buf_addf(b, "\nwhen { %s\n}", when);
	return zt_buf_adds(b, ";\n");
}

/*
 * The condition is spliced into Cedar text, so the result must still be
 * exactly the one policy we wrote: a condition that closes the policy
 * and opens another, or makes it a template, is refused here.
 */
static int
perm_check(const char *text, size_t k)
{
	zt_policy_set *ps = NULL;
	zt_policy_error perr;
	int err;

	if ((err = zt_policy_set_parse(&ps, text, strlen(text), &perr)) < 0)
		return err == ZT_EINVAL ? zt_error_set(ZT_EINVAL,
		    "permissions[%zu]: the condition does not parse: %s", k,
		    perr.message) : err;
	if (zt_policy_set_count(ps) != 1 ||
	    zt_policy_set_template_count(ps) != 0)
		err = zt_error_set(ZT_EINVAL, "permissions[%zu].when: must be "
		    "one condition, not policies or template slots", k);
	zt_policy_set_free(ps);
	return err;
}

int
zt_authz_role_policies(char **out, const char *ns, const char *appid,
    const char *role, json_t *permissions)
{
	zt_buf all = ZT_BUF_INIT(ZT_ROLE_PERMS_MAX * PERM_TEXT_MAX);
	zt_buf one = ZT_BUF_INIT(PERM_TEXT_MAX);
	json_t *p;
	size_t k;
	int err = ZT_OK;

	*out = NULL;
	if (!zt_role_name_valid(role))
		return zt_error_set(ZT_EINVAL, "a role name is 1 to %d of "
		    "[A-Za-z0-9_.-]", ZT_ROLE_NAME_MAX);
	if (!json_is_array(permissions) ||
	    json_array_size(permissions) > ZT_ROLE_PERMS_MAX)
		return zt_error_set(ZT_EINVAL, "field \"permissions\": an "
		    "array of at most %d permissions", ZT_ROLE_PERMS_MAX);
	if (zt_buf_adds(&all, "") < 0)
		return ZT_ENOMEM;
	json_array_foreach(permissions, k, p) {
		zt_buf_reset(&one);
		if ((err = perm_text(&one, ns, appid, role, k, p)) < 0 ||
		    (err = perm_check(one.data, k)) < 0 ||
		    (err = zt_buf_add(&all, one.data, one.len)) < 0)
			break;
	}
	zt_buf_free(&one);
	if (err < 0) {
		zt_buf_free(&all);
		return err;
	}
	*out = zt_buf_detach(&all);
	return ZT_OK;
}

/* ---- the database ------------------------------------------------------------ */

/* "<appid>/<role>": the Role entity's id, and the audit record's. */
#define ROLE_KEY_MAX (ZT_APPID_MAX + ZT_ROLE_NAME_MAX + 2)

static const char *
role_key(char out[ROLE_KEY_MAX], const char *appid, const char *role)
{
	snprintf(out, ROLE_KEY_MAX, "%s/%s", appid, role);
	return out;
}

#define ROLE_COLS "role, description, permissions, version, created_at," \
	" updated_at"

static json_t *
role_doc(const char *appid, zt_stmt *st)
{
	json_t *perms = json_loads(zt_stmt_text(st, 2), 0, NULL);

	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:o, s:o}",
	    "appid", appid, "role", zt_stmt_text(st, 0),
	    "description", zt_stmt_text(st, 1),
	    "permissions", perms != NULL ? perms : json_array(),
	    "version", (json_int_t)zt_stmt_int(st, 3),
	    "created_at", zt_time_json(zt_stmt_int(st, 4)),
	    "updated_at", zt_time_json(zt_stmt_int(st, 5)));
}

static int
role_fetch(json_t **out, zt_db *db, const char *tenant, const char *appid,
    const char *role)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_db_prepare(&st, db, "SELECT " ROLE_COLS " FROM"
	    " authz_roles WHERE tenant = $1 AND appid = $2 AND role = $3")) <
	    0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	zt_stmt_bind_text(st, 3, role);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		err = (*out = role_doc(appid, st)) != NULL ? ZT_OK : ZT_ENOMEM;
	else if (err == ZT_DONE)
		err = zt_error_set(ZT_ENOTFOUND, "no role \"%.64s\" in the "
		    "application", role);
	zt_stmt_reset(st);
	return err;
}

/* The caller's tenant, the application, and its namespace into ns. */
static int
app_check(char ns[ZT_AUTHZ_NS_MAX + 1], const zt_id_ctx *cx,
    const char *tenant, const char *appid)
{
	json_t *app = NULL;
	int err;

	if ((err = az_scope(cx, tenant)) < 0 ||
	    (err = az_app_fetch(&app, cx->db, tenant, appid)) < 0)
		return err;
	snprintf(ns, ZT_AUTHZ_NS_MAX + 1, "%s", json_string_value(
	    json_object_get(app, "namespace")));
	json_decref(app);
	return ZT_OK;
}

/*
 * Roles need a place in the schema: an entity type Role (in the app's
 * namespace) that User may be in.  Without it a grant could never reach
 * a decision, so creating a role is refused with what to declare.
 */
static int
schema_check(const zt_id_ctx *cx, const char *tenant, const char *appid,
    const char *ns)
{
	char user[ZT_AUTHZ_NS_MAX + 8], role[ZT_AUTHZ_NS_MAX + 8];
	zt_policy_schema *s = NULL;
	json_t *doc = NULL;
	char *text = NULL;
	bool ok;
	int err;

	if ((err = zt_authz_store_get(&doc, cx, tenant, appid, 0)) < 0 &&
	    err != ZT_ENOTFOUND)
		return err;
	if (json_object_get(doc, "schema") == NULL) {
		json_decref(doc);
		return zt_error_set(ZT_ECONFLICT, "the application has no "
		    "schema yet: PUT its schema first");
	}
	text = json_dumps(json_object_get(doc, "schema"), JSON_COMPACT);
	json_decref(doc);
	if (text == NULL)
		return ZT_ENOMEM;
	err = zt_policy_schema_from_json(&s, text, strlen(text));
	free(text);
	if (err < 0)
		return err;
	snprintf(user, sizeof(user), "%s%sUser", ns, ns[0] ? "::" : "");
	snprintf(role, sizeof(role), "%s%sRole", ns, ns[0] ? "::" : "");
	ok = zt_policy_schema_has_type(s, role) &&
	    zt_policy_schema_member_of(s, user, role);
	zt_policy_schema_free(s);
	if (!ok)
		return zt_error_set(ZT_ECONFLICT, "the application's schema "
		    "must declare the entity type %s and list it in the "
		    "memberOfTypes of %s before roles can be used", role,
		    user);
	return ZT_OK;
}

/* Recompiles every role of the app and stores the result as a new
 * revision of its store (validated; faults in `errors`). */
static int
regenerate(int64_t *rev, json_t *errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *ns)
{
	zt_buf all = ZT_BUF_INIT(SIZE_MAX);
	json_t *rows = json_array(), *r, *perms;
	zt_stmt *st;
	char *text;
	size_t i;
	int err;

	if ((err = zt_db_prepare(&st, cx->db, "SELECT role, permissions FROM"
	    " authz_roles WHERE tenant = $1 AND appid = $2 ORDER BY role")) <
	    0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(rows, json_pack("[s,s]",
		    zt_stmt_text(st, 0), zt_stmt_text(st, 1)));
	zt_stmt_reset(st);
	if (err < 0 || (err = zt_buf_adds(&all, "")) < 0)
		goto out;
	json_array_foreach(rows, i, r) {
		perms = json_loads(json_string_value(json_array_get(r, 1)), 0,
		    NULL);
		err = zt_authz_role_policies(&text, ns, appid,
		    json_string_value(json_array_get(r, 0)), perms);
		json_decref(perms);
		if (err < 0)
			goto out;
		err = text != NULL ? zt_buf_adds(&all, text) : ZT_OK;
		free(text);
		if (err < 0)
			goto out;
	}
	err = az_put_roles(rev, errors, cx, tenant, appid, all.data);
out:
	zt_buf_free(&all);
	json_decref(rows);
	return err;
}

/* Fills *out with the role's document and the store revision (0: no
 * new revision was made). */
static int
role_result(json_t **out, zt_db *db, const char *tenant, const char *appid,
    const char *role, int64_t rev)
{
	int err;

	if ((err = role_fetch(out, db, tenant, appid, role)) < 0)
		return err;
	if (rev > 0)
		json_object_set_new(*out, "revision", json_integer(rev));
	return ZT_OK;
}

static int
finish(json_t **out, json_t **errors, json_t *errs, const zt_id_ctx *cx,
    int err)
{
	if ((err = zt_db_end(cx->db, err)) < 0 && out != NULL) {
		json_decref(*out);
		*out = NULL;
	}
	if (err == ZT_EINVAL && errors != NULL && json_array_size(errs) > 0)
		*errors = json_incref(errs);
	json_decref(errs);
	return err;
}

int
zt_authz_role_create(json_t **out, json_t **errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *role,
    const char *description, json_t *permissions)
{
	json_t *errs = json_array(), *empty = NULL;
	char ns[ZT_AUTHZ_NS_MAX + 1], *text = NULL, *ptext = NULL;
	char key[ROLE_KEY_MAX];
	int64_t now = zt_now_ms(), rev;
	zt_stmt *st;
	int err;

	*out = NULL;
	if (errors != NULL)
		*errors = NULL;
	if (errs == NULL)
		return ZT_ENOMEM;
	if (permissions == NULL)
		permissions = empty = json_array();
	if (description == NULL)
		description = "";
	if (strlen(description) > 1024 || !zt_utf8_valid(description,
	    strlen(description))) {
		json_decref(empty);
		json_decref(errs);
		return zt_error_set(ZT_EINVAL, "field \"description\": up to "
		    "1024 bytes of UTF-8");
	}
	/* The shape first: a role that cannot compile is no conflict. */
	if ((err = zt_authz_role_policies(&text, "", "x", role,
	    permissions)) < 0 || (ptext = json_dumps(permissions,
	    JSON_COMPACT)) == NULL) {
		free(text);
		json_decref(empty);
		json_decref(errs);
		return err < 0 ? err : ZT_ENOMEM;
	}
	free(text);
	if ((err = zt_db_begin(cx->db)) < 0)
		goto early;
	if ((err = app_check(ns, cx, tenant, appid)) < 0 ||
	    (err = schema_check(cx, tenant, appid, ns)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "INSERT INTO authz_roles"
	    " (tenant, appid, role, description, permissions, version,"
	    " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6,"
	    " $6)")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	zt_stmt_bind_text(st, 3, role);
	zt_stmt_bind_text(st, 4, description);
	zt_stmt_bind_text(st, 5, ptext);
	zt_stmt_bind_int(st, 6, now);
	if ((err = zt_stmt_run(st)) == ZT_EEXISTS)
		err = zt_error_set(ZT_EEXISTS, "the application has a role "
		    "\"%s\" already", role);
	if (err < 0 ||
	    (err = regenerate(&rev, errs, cx, tenant, appid, ns)) < 0 ||
	    (err = role_result(out, cx->db, tenant, appid, role, rev)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "role.create", tenant,
	    "role", role_key(key, appid, role), NULL, *out);
out:
	free(ptext);
	json_decref(empty);
	return finish(out, errors, errs, cx, err);
early:
	free(ptext);
	json_decref(empty);
	json_decref(errs);
	return err;
}

int
zt_authz_role_update(json_t **out, json_t **errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *role,
    const char *description, json_t *permissions, int64_t version)
{
	json_t *errs = json_array(), *before = NULL;
	char ns[ZT_AUTHZ_NS_MAX + 1], *text = NULL, *ptext = NULL;
	char key[ROLE_KEY_MAX];
	int64_t rev = 0;
	zt_stmt *st;
	int err;

	*out = NULL;
	if (errors != NULL)
		*errors = NULL;
	if (errs == NULL)
		return ZT_ENOMEM;
	if (description != NULL && (strlen(description) > 1024 ||
	    !zt_utf8_valid(description, strlen(description)))) {
		json_decref(errs);
		return zt_error_set(ZT_EINVAL, "field \"description\": up to "
		    "1024 bytes of UTF-8");
	}
	if (permissions != NULL && ((err = zt_authz_role_policies(&text, "",
	    "x", role, permissions)) < 0 || (ptext = json_dumps(permissions,
	    JSON_COMPACT)) == NULL)) {
		free(text);
		json_decref(errs);
		return err < 0 ? err : ZT_ENOMEM;
	}
	free(text);
	if ((err = zt_db_begin(cx->db)) < 0) {
		free(ptext);
		json_decref(errs);
		return err;
	}
	if ((err = app_check(ns, cx, tenant, appid)) < 0 ||
	    (err = role_fetch(&before, cx->db, tenant, appid, role)) < 0)
		goto out;
	if (version != 0 && json_integer_value(json_object_get(before,
	    "version")) != version) {
		err = zt_error_set(ZT_ESTALE, "the role has changed since "
		    "version %lld", (long long)version);
		goto out;
	}
	if ((err = zt_db_prepare(&st, cx->db, "UPDATE authz_roles SET"
	    " description = COALESCE($4, description), permissions ="
	    " COALESCE($5, permissions), version = version + 1, updated_at"
	    " = $6 WHERE tenant = $1 AND appid = $2 AND role = $3")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	zt_stmt_bind_text(st, 3, role);
	if (description != NULL)
		zt_stmt_bind_text(st, 4, description);
	else
		zt_stmt_bind_null(st, 4);
	if (ptext != NULL)
		zt_stmt_bind_text(st, 5, ptext);
	else
		zt_stmt_bind_null(st, 5);
	zt_stmt_bind_int(st, 6, zt_now_ms());
	/* Only new permissions make a new revision of the store. */
	if ((err = zt_stmt_run(st)) < 0 || (ptext != NULL &&
	    (err = regenerate(&rev, errs, cx, tenant, appid, ns)) < 0) ||
	    (err = role_result(out, cx->db, tenant, appid, role, rev)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "role.update", tenant,
	    "role", role_key(key, appid, role), before, *out);
out:
	free(ptext);
	json_decref(before);
	return finish(out, errors, errs, cx, err);
}

int
zt_authz_role_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role)
{
	char ns[ZT_AUTHZ_NS_MAX + 1];
	int err;

	*out = NULL;
	if ((err = app_check(ns, cx, tenant, appid)) < 0)
		return err;
	return role_fetch(out, cx->db, tenant, appid, role);
}

int
zt_authz_role_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid)
{
	char ns[ZT_AUTHZ_NS_MAX + 1];
	json_t *items;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = app_check(ns, cx, tenant, appid)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "SELECT " ROLE_COLS " FROM"
	    " authz_roles WHERE tenant = $1 AND appid = $2 ORDER BY role")) <
	    0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	items = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(items, role_doc(appid, st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(items);
		return err;
	}
	*out = items;
	return ZT_OK;
}

static int
run3(zt_db *db, const char *sql, const char *a, const char *b,
    const char *c)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, a);
	zt_stmt_bind_text(st, 2, b);
	zt_stmt_bind_text(st, 3, c);
	return zt_stmt_run(st);
}

int
zt_authz_role_delete(const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role, int64_t version)
{
	char ns[ZT_AUTHZ_NS_MAX + 1], key[ROLE_KEY_MAX];
	json_t *before = NULL, *errs = json_array(), *grants = NULL;
	int64_t rev;
	int err;

	if (errs == NULL)
		return ZT_ENOMEM;
	if ((err = zt_db_begin(cx->db)) < 0) {
		json_decref(errs);
		return err;
	}
	if ((err = app_check(ns, cx, tenant, appid)) < 0 ||
	    (err = role_fetch(&before, cx->db, tenant, appid, role)) < 0)
		goto out;
	if (version != 0 && json_integer_value(json_object_get(before,
	    "version")) != version) {
		err = zt_error_set(ZT_ESTALE, "the role has changed since "
		    "version %lld", (long long)version);
		goto out;
	}
	/* The grants that go with the role are in its audit record. */
	if ((err = zt_authz_role_grants(&grants, cx, tenant, appid,
	    role)) < 0)
		goto out;
	json_object_set_new(before, "grants", grants);
	if ((err = run3(cx->db, "DELETE FROM authz_role_grants WHERE tenant"
	    " = $1 AND appid = $2 AND role = $3", tenant, appid, role)) < 0 ||
	    (err = run3(cx->db, "DELETE FROM authz_roles WHERE tenant = $1"
	    " AND appid = $2 AND role = $3", tenant, appid, role)) < 0 ||
	    (err = regenerate(&rev, errs, cx, tenant, appid, ns)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "role.delete", tenant,
	    "role", role_key(key, appid, role), before, NULL);
out:
	json_decref(before);
	json_decref(errs);
	return zt_db_end(cx->db, err);
}

/* ---- grants ---------------------------------------------------------------- */

#define GRANT_COLS "id, role, kind, subject, created_by, created_at"

/* The grant whose GRANT_COLS start at column `c` of `st`. */
static json_t *
grant_doc_at(const char *appid, zt_stmt *st, int c)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}",
	    "id", zt_stmt_text(st, c), "appid", appid,
	    "role", zt_stmt_text(st, c + 1), zt_stmt_text(st, c + 2),
	    zt_stmt_text(st, c + 3), "created_by", zt_stmt_text(st, c + 4),
	    "created_at", zt_time_json(zt_stmt_int(st, c + 5)));
}

static json_t *
grant_doc(const char *appid, zt_stmt *st)
{
	return grant_doc_at(appid, st, 0);
}

static int
grant_fetch(json_t **out, zt_db *db, const char *tenant, const char *appid,
    const char *role, const char *id)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_db_prepare(&st, db, "SELECT " GRANT_COLS " FROM"
	    " authz_role_grants WHERE tenant = $1 AND id = $2 AND appid = $3"
	    " AND role = $4")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_text(st, 3, appid);
	zt_stmt_bind_text(st, 4, role);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		err = (*out = grant_doc(appid, st)) != NULL ? ZT_OK :
		    ZT_ENOMEM;
	else if (err == ZT_DONE)
		err = zt_error_set(ZT_ENOTFOUND, "no grant \"%.64s\" of this "
		    "role", id);
	zt_stmt_reset(st);
	return err;
}

/* The grantee exists in the tenant and the caller may see it. */
static int
grantee_check(const zt_id_ctx *cx, const char *tenant, const char *kind,
    const char *subject)
{
	json_t *doc = NULL;
	int err;

	if (strcmp(kind, "identity") == 0)
		err = zt_identity_get(&doc, cx, tenant, subject);
	else
		err = zt_group_get(&doc, cx, tenant, subject);
	json_decref(doc);
	if (err == ZT_ENOTFOUND || err == ZT_EINVAL)
		return zt_error_set(ZT_ENOTFOUND, "no %s \"%.64s\" in the "
		    "tenant", kind, subject);
	return err;
}

int
zt_authz_role_grant(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role, const char *kind,
    const char *subject)
{
	char ns[ZT_AUTHZ_NS_MAX + 1], id[24];
	json_t *r = NULL;
	zt_stmt *st;
	int err;

	*out = NULL;
	if (kind == NULL || (strcmp(kind, "identity") != 0 &&
	    strcmp(kind, "group") != 0) || subject == NULL ||
	    subject[0] == '\0' || strlen(subject) > ZT_ID_LEN * 2)
		return zt_error_set(ZT_EINVAL, "a grant is {\"identity\": id} "
		    "or {\"group\": id}");
	if ((err = zt_random_id(id, sizeof(id), 12)) < 0 ||
	    (err = zt_db_begin(cx->db)) < 0)
		return err;
	if ((err = app_check(ns, cx, tenant, appid)) < 0 ||
	    (err = role_fetch(&r, cx->db, tenant, appid, role)) < 0 ||
	    (err = grantee_check(cx, tenant, kind, subject)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "INSERT INTO authz_role_grants"
	    " (tenant, id, appid, role, kind, subject, created_by,"
	    " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_text(st, 3, appid);
	zt_stmt_bind_text(st, 4, role);
	zt_stmt_bind_text(st, 5, kind);
	zt_stmt_bind_text(st, 6, subject);
	zt_stmt_bind_text(st, 7, cx->actor != NULL && cx->actor->id != NULL ?
	    cx->actor->id : "system");
	zt_stmt_bind_int(st, 8, zt_now_ms());
	if ((err = zt_stmt_run(st)) == ZT_EEXISTS)
		err = zt_error_set(ZT_EEXISTS, "the %s holds the role "
		    "already", kind);
	if (err < 0 || (err = az_bump_seq(cx->db)) < 0 ||
	    (err = grant_fetch(out, cx->db, tenant, appid, role, id)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "role.grant", tenant,
	    "role-grant", id, NULL, *out);
out:
	json_decref(r);
	if ((err = zt_db_end(cx->db, err)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

int
zt_authz_role_grants(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role)
{
	char ns[ZT_AUTHZ_NS_MAX + 1];
	json_t *items, *r = NULL;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = app_check(ns, cx, tenant, appid)) < 0 ||
	    (err = role_fetch(&r, cx->db, tenant, appid, role)) < 0)
		return err;
	json_decref(r);
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " GRANT_COLS " FROM"
	    " authz_role_grants WHERE tenant = $1 AND appid = $2 AND role ="
	    " $3 ORDER BY kind, subject")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, appid);
	zt_stmt_bind_text(st, 3, role);
	items = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(items, grant_doc(appid, st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(items);
		return err;
	}
	*out = items;
	return ZT_OK;
}

int
zt_authz_role_revoke(const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role, const char *grant)
{
	char ns[ZT_AUTHZ_NS_MAX + 1];
	json_t *before = NULL;
	zt_stmt *st;
	int err;

	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	if ((err = app_check(ns, cx, tenant, appid)) < 0 ||
	    (err = grant_fetch(&before, cx->db, tenant, appid, role,
	    grant)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "DELETE FROM authz_role_grants"
	    " WHERE tenant = $1 AND id = $2")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, grant);
	if ((err = zt_stmt_run(st)) < 0 || (err = az_bump_seq(cx->db)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "role.revoke", tenant,
	    "role-grant", grant, before, NULL);
out:
	json_decref(before);
	return zt_db_end(cx->db, err);
}

/* The grants held by an identity or a group being deleted go with it,
 * each audited as a revocation by whoever deletes the holder. */
int
zt_authz_unlink_subject(const zt_id_ctx *cx, const char *tenant,
    const char *kind, const char *id)
{
	json_t *gone, *g;
	zt_stmt *st;
	size_t i;
	int err;

	if ((err = zt_db_prepare(&st, cx->db, "SELECT appid, " GRANT_COLS
	    " FROM authz_role_grants WHERE tenant = $1 AND kind = $2 AND"
	    " subject = $3 ORDER BY appid, role")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, kind);
	zt_stmt_bind_text(st, 3, id);
	gone = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(gone, grant_doc_at(zt_stmt_text(st, 0),
		    st, 1));
	zt_stmt_reset(st);
	if (err < 0 || json_array_size(gone) == 0)
		goto out;
	if ((err = zt_db_prepare(&st, cx->db, "DELETE FROM authz_role_grants"
	    " WHERE tenant = $1 AND kind = $2 AND subject = $3")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, kind);
	zt_stmt_bind_text(st, 3, id);
	if ((err = zt_stmt_run(st)) < 0 || (err = az_bump_seq(cx->db)) < 0)
		goto out;
	json_array_foreach(gone, i, g)
		if ((err = zt_audit_change(cx->db, cx->actor, "role.revoke",
		    tenant, "role-grant", json_string_value(json_object_get(g,
		    "id")), g, NULL)) < 0)
			break;
out:
	json_decref(gone);
	return err < 0 ? err : ZT_OK;
}

/* ---- the decision service's side ---------------------------------------------- */

static bool
in_list(json_t *ids, const char *id)
{
	json_t *v;
	size_t i;

	json_array_foreach(ids, i, v)
		if (strcmp(json_string_value(v), id) == 0)
			return true;
	return false;
}

int
az_subject_roles(json_t *roles, zt_db *db, const char *tenant,
    const char *identity, json_t *group_ids)
{
	char key[ROLE_KEY_MAX];
	const char *kind, *subject;
	zt_stmt *st;
	int err;

	/* Group grants are few per tenant; matching them here costs one
	 * query however deep the identity's groups nest. */
	if ((err = zt_db_prepare(&st, db, "SELECT DISTINCT appid, role, kind,"
	    " subject FROM authz_role_grants WHERE tenant = $1 AND"
	    " ((kind = 'identity' AND subject = $2) OR kind = 'group')"
	    " ORDER BY appid, role")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, identity);
	while ((err = zt_stmt_step(st)) == ZT_ROW) {
		kind = zt_stmt_text(st, 2);
		subject = zt_stmt_text(st, 3);
		if (strcmp(kind, "group") == 0 && !in_list(group_ids, subject))
			continue;
		role_key(key, zt_stmt_text(st, 0), zt_stmt_text(st, 1));
		if (!in_list(roles, key))
			json_array_append_new(roles, json_string(key));
	}
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}
