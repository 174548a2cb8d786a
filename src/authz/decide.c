/*
 * decide.c: a decision request in the applications' format, mapped to
 * Cedar entities and decided against an application's store and its
 * tenant's store.
 *
 * The mapping (docs/policy.md, "The decision service"), with NS the
 * application's namespace ("NS::" before each type, or nothing):
 *
 *   user      -> NS::User::"<identity name>", parents: NS::Group::"<role
 *                group name>" for each effective role group,
 *                NS::OrgUnit::"<unit id>" for each unit on its path and
 *                NS::Role::"<appid>/<role>" for each role of this app
 *                granted to it or its groups, when the schema lets User
 *                be in that type; attributes: the identity's attributes
 *                the User shape declares.
 *   action    -> NS::Action::"<action>", parents: every action group the
 *                schema puts it in.
 *   resource  -> "a:b:c" is NS::Resource::"a:b:c" in NS::Resource::"a:b"
 *                in NS::Resource::"a" in NS::Application::"<appid>" (each
 *                edge only when the schema allows it).
 *   context   -> converted to the action's context type.
 *
 * Everything is then converted against the schema, so a request that
 * does not fit is refused before any policy sees it.  It is decided
 * against three sets: the app's own policies, the policies compiled from
 * its roles, and the tenant's; a satisfied forbid in any denies.  Entities and
 * context reach the library as jansson values, without a detour through
 * text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/snap.h"
#include "base/base.h"

/* ---- the request --------------------------------------------------------- */

static int
string_field(const char **out, json_t *doc, const char *name)
{
	json_t *v = json_object_get(doc, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return zt_error_set(ZT_EINVAL, "field \"%s\": a non-empty "
		    "string is required", name);
	if (json_string_length(v) > ZT_AUTHZ_FIELD_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return zt_error_set(ZT_EINVAL, "field \"%s\": over %d bytes "
		    "or holds a NUL", name, ZT_AUTHZ_FIELD_MAX);
	*out = json_string_value(v);
	return ZT_OK;
}

static bool
omitted(const char *omit, const char *field)
{
	return omit != NULL && strcmp(omit, field) == 0;
}

int
zt_authz_request_read(zt_authz_request *out, json_t *doc)
{
	return zt_authz_request_read_without(out, doc, NULL);
}

int
zt_authz_request_read_without(zt_authz_request *out, json_t *doc,
    const char *omit)
{
	static const char *const known[] = { "appid", "user", "action",
	    "resource", "context" };
	const char *key;
	json_t *v;
	size_t i;
	int err;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(doc))
		return zt_error_set(ZT_EINVAL, "a decision request is a JSON "
		    "object");
	json_object_foreach(doc, key, v) {
		for (i = 0; i < ZT_ARRAY_LEN(known); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == ZT_ARRAY_LEN(known) || (omit != NULL &&
		    strcmp(key, omit) == 0))
			return zt_error_set(ZT_EINVAL, "field \"%.64s\": not "
			    "a field of a decision request", key);
	}
	if ((err = string_field(&out->appid, doc, "appid")) < 0 ||
	    (!omitted(omit, "user") &&
	    (err = string_field(&out->user, doc, "user")) < 0) ||
	    (!omitted(omit, "action") &&
	    (err = string_field(&out->action, doc, "action")) < 0) ||
	    (err = string_field(&out->resource, doc, "resource")) < 0)
		return err;
	v = json_object_get(doc, "context");
	if (v != NULL && !json_is_null(v) && !json_is_object(v))
		return zt_error_set(ZT_EINVAL, "field \"context\": an object "
		    "is required");
	out->context = json_is_object(v) ? v : NULL;
	return ZT_OK;
}

/* ---- the subject ------------------------------------------------------------ */

void
zt_authz_subject_clear(zt_authz_subject *s)
{
	json_decref(s->attributes);
	json_decref(s->groups);
	json_decref(s->units);
	json_decref(s->roles);
	json_decref(s->entity);
	memset(s, 0, sizeof(*s));
}

/* An identity named exactly `user`, a person preferred. */
static int
find_by_name(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *user)
{
	zt_identity_query q = { .name_prefix = user, .limit = 10 };
	json_t *page = NULL, *it, *best = NULL;
	size_t i;
	int err;

	*out = NULL;
	if ((err = zt_identity_list(&page, cx, tenant, &q)) < 0)
		return err == ZT_EINVAL ? ZT_ENOTFOUND : err;
	json_array_foreach(json_object_get(page, "items"), i, it) {
		if (strcmp(json_string_value(json_object_get(it, "name")),
		    user) != 0)
			continue;
		if (best == NULL || strcmp(json_string_value(json_object_get(
		    it, "kind")), "person") == 0)
			best = it;
	}
	if (best != NULL)
		*out = json_incref(best);
	json_decref(page);
	return best != NULL ? ZT_OK : ZT_ENOTFOUND;
}

static int
find_by_login(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *user)
{
	json_t *systems = NULL, *s;
	size_t i;
	int err = ZT_ENOTFOUND;

	*out = NULL;
	if (zt_acctsys_list(&systems, cx, tenant) < 0)
		return ZT_ENOTFOUND;
	json_array_foreach(systems, i, s) {
		err = zt_identity_get_by_login(out, cx, tenant,
		    json_string_value(json_object_get(s, "id")), user);
		if (err != ZT_ENOTFOUND && err != ZT_EINVAL)
			break;
		err = ZT_ENOTFOUND;
	}
	json_decref(systems);
	return err;
}

int
zt_authz_subject_load(zt_authz_subject *out, zt_db *db,
    const zt_identity_config *cfg, const char *tenant, const char *user)
{
	zt_actor actor = { "system", NULL, NULL };
	zt_id_ctx cx = { db, cfg, &actor, { tenant, NULL } };
	json_t *ident = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	/* The user, its groups and its grants as of one moment. */
	if ((err = zt_db_begin_read(db)) < 0)
		return err;
	if ((err = find_by_name(&ident, &cx, tenant, user)) == ZT_ENOTFOUND)
		err = find_by_login(&ident, &cx, tenant, user);
	if (err == ZT_ENOTFOUND)
		err = zt_error_set(err, "no user \"%.64s\" in the tenant",
		    user);
	else if (err == ZT_OK)
		err = zt_authz_subject_from(out, db, cfg, tenant, ident);
	json_decref(ident);
	return zt_db_end(db, err);
}

int
zt_authz_subject_from(zt_authz_subject *out, zt_db *db,
    const zt_identity_config *cfg, const char *tenant, json_t *ident)
{
	zt_actor actor = { "system", NULL, NULL };
	zt_id_ctx cx = { db, cfg, &actor, { tenant, NULL } };
	json_t *groups = NULL, *ids = NULL, *g;
	const char *kind, *name;
	size_t i;
	int err;

	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", json_string_value(
	    json_object_get(ident, "id")));
	snprintf(out->name, sizeof(out->name), "%s", json_string_value(
	    json_object_get(ident, "name")));
	out->version = json_integer_value(json_object_get(ident, "version"));
	snprintf(out->state, sizeof(out->state), "%s", json_string_value(
	    json_object_get(ident, "state")) ? json_string_value(
	    json_object_get(ident, "state")) : "");
	out->attributes = json_incref(json_object_get(ident, "attributes"));
	if (out->attributes == NULL)
		out->attributes = json_object();
	out->groups = json_array();
	out->units = json_array();
	out->roles = json_array();
	ids = json_array();
	if ((err = zt_identity_groups(&groups, &cx, tenant, out->id)) < 0)
		goto out;
	json_array_foreach(groups, i, g) {
		if (json_is_string(json_object_get(g, "id")))
			json_array_append(ids, json_object_get(g, "id"));
		kind = json_string_value(json_object_get(g, "kind"));
		name = json_string_value(json_object_get(g, kind != NULL &&
		    strcmp(kind, "org") == 0 ? "id" : "name"));
		if (kind == NULL || name == NULL)
			continue;
		json_array_append_new(strcmp(kind, "org") == 0 ? out->units :
		    out->groups, json_string(name));
	}
	err = az_subject_roles(out->roles, db, tenant, out->id, ids);
out:
	json_decref(ids);
	json_decref(groups);
	if (err < 0)
		zt_authz_subject_clear(out);
	return err;
}

/* ---- entities ------------------------------------------------------------------ */

/* "NS::T" or "T". */
static void
qual(char *out, size_t size, const char *ns, const char *type)
{
	if (ns[0] != '\0')
		snprintf(out, size, "%s::%s", ns, type);
	else
		snprintf(out, size, "%s", type);
}

#define TYPE_MAX (ZT_AUTHZ_NS_MAX + 16)

typedef struct az_types {
	char user[TYPE_MAX], group[TYPE_MAX], unit[TYPE_MAX], role[TYPE_MAX];
	char action[TYPE_MAX], resource[TYPE_MAX], app[TYPE_MAX];
} az_types;

static void
types_of(az_types *t, const char *ns)
{
	qual(t->user, TYPE_MAX, ns, "User");
	qual(t->group, TYPE_MAX, ns, "Group");
	qual(t->unit, TYPE_MAX, ns, "OrgUnit");
	qual(t->role, TYPE_MAX, ns, "Role");
	qual(t->action, TYPE_MAX, ns, "Action");
	qual(t->resource, TYPE_MAX, ns, "Resource");
	qual(t->app, TYPE_MAX, ns, "Application");
}

/*
 * Entities are built as jansson values in Cedar's entities JSON shape and
 * handed to the library as they are (zt_entities_from_jansson_schema):
 * no text in between.
 */
static json_t *
uid_json(const char *type, const char *id, size_t n)
{
	return json_pack("{s:s, s:s%}", "type", type, "id", id, n);
}

static json_t *
principal_entity(const az_types *t, const zt_policy_schema *s,
    const char *appid, const zt_authz_subject *sub)
{
	json_t *attrs = json_object(), *parents = json_array(), *v;
	size_t i, n = strlen(appid);
	const char *key;

	json_object_foreach(sub->attributes, key, v)
		if (zt_policy_schema_has_attr(s, t->user, key))
			json_object_set(attrs, key, v);
	if (zt_policy_schema_member_of(s, t->user, t->group))
		json_array_foreach(sub->groups, i, v)
			json_array_append_new(parents, uid_json(t->group,
			    json_string_value(v), json_string_length(v)));
	if (zt_policy_schema_member_of(s, t->user, t->unit))
		json_array_foreach(sub->units, i, v)
			json_array_append_new(parents, uid_json(t->unit,
			    json_string_value(v), json_string_length(v)));
	/* Roles are "<appid>/<role>": only this application's count. */
	if (zt_policy_schema_member_of(s, t->user, t->role))
		json_array_foreach(sub->roles, i, v) {
			key = json_string_value(v);
			if (strncmp(key, appid, n) == 0 && key[n] == '/')
				json_array_append_new(parents, uid_json(
				    t->role, key, json_string_length(v)));
		}
	return json_pack("{s:o, s:o, s:o}", "uid", uid_json(t->user,
	    sub->name, strlen(sub->name)), "attrs", attrs, "parents", parents);
}

/* The principal entity for `app`, built once per subject and compiled
 * store (the library only reads it): a new reference. */
static json_t *
principal_of(const az_types *t, const az_store *app, zt_authz_subject *sub)
{
	if (sub->entity == NULL || sub->entity_for != app->serial) {
		json_decref(sub->entity);
		sub->entity = principal_entity(t, app->schema, app->appid,
		    sub);
		sub->entity_for = app->serial;
	}
	return json_incref(sub->entity);
}

static int
action_entity(json_t **out, const az_types *t, const zt_policy_schema *s,
    const char *action)
{
	zt_policy_uid a = ZT_POLICY_UID(t->action, action), g[64];
	json_t *parents;
	size_t n, i;
	int err;

	*out = NULL;
	if ((err = zt_policy_schema_action_groups(s, &a, g, 64, &n)) < 0)
		return err;
	if (n > 64)
		return zt_error_set(ZT_EINVAL, "the action is in over 64 "
		    "groups");
	parents = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(parents, json_pack("{s:s%, s:s%}",
		    "type", g[i].type, g[i].type_len, "id", g[i].id,
		    g[i].id_len));
	*out = json_pack("{s:o, s:{}, s:o}", "uid", uid_json(t->action,
	    action, strlen(action)), "attrs", "parents", parents);
	return *out != NULL ? ZT_OK : ZT_ENOMEM;
}

/* The resource and the chain above it, appended to `ents`. */
static int
resource_entities(json_t *ents, const az_types *t, const zt_policy_schema *s,
    const char *appid, const char *res)
{
	bool nest = zt_policy_schema_member_of(s, t->resource, t->resource);
	bool top = zt_policy_schema_member_of(s, t->resource, t->app);
	size_t n = strlen(res), end = n, depth = 0, i;
	json_t *parents;

	if (res[0] == ':' || res[n - 1] == ':' || strstr(res, "::") != NULL)
		return zt_error_set(ZT_EINVAL, "field \"resource\": empty "
		    "path segment");
	for (i = 0; i < n; i++)
		if (res[i] == ':' && ++depth >= ZT_AUTHZ_RESOURCE_DEPTH)
			return zt_error_set(ZT_EINVAL, "field \"resource\": "
			    "over %d segments", ZT_AUTHZ_RESOURCE_DEPTH);
	for (;;) {
		parents = json_array();
		for (i = end; i > 0 && res[i - 1] != ':'; i--)
			;
		if (i > 0 && nest)
			json_array_append_new(parents, uid_json(t->resource,
			    res, i - 1));
		else if (i == 0 && top)
			json_array_append_new(parents, uid_json(t->app, appid,
			    strlen(appid)));
		json_array_append_new(ents, json_pack("{s:o, s:{}, s:o}",
		    "uid", uid_json(t->resource, res, end), "attrs",
		    "parents", parents));
		if (i == 0 || !nest)
			return ZT_OK;
		end = i - 1;
	}
}

/* What a decision is made of once the request is mapped. */
typedef struct az_mapped {
	az_types types;
	zt_entities *es;
	zt_policy_context *ctx;
	zt_policy_request req;
} az_mapped;

static void
mapped_free(az_mapped *m)
{
	zt_entities_free(m->es);
	zt_policy_context_free(m->ctx);
}

static int
map_request(az_mapped *m, const az_store *app, const zt_authz_request *r,
    zt_authz_subject *sub)
{
	const zt_policy_schema *s = app->schema;
	json_t *ents = json_array(), *a = NULL, *empty = NULL;
	int err;

	memset(m, 0, sizeof(*m));
	types_of(&m->types, app->ns);
	if ((err = action_entity(&a, &m->types, s, r->action)) < 0)
		goto out;
	json_array_append_new(ents, a);
	json_array_append_new(ents, principal_of(&m->types, app, sub));
	if ((err = resource_entities(ents, &m->types, s, app->appid,
	    r->resource)) < 0 ||
	    (err = zt_entities_from_jansson_schema(&m->es, s, ents)) < 0)
		goto out;
	m->req.principal = ZT_POLICY_UID(m->types.user, sub->name);
	m->req.action = ZT_POLICY_UID(m->types.action, r->action);
	m->req.resource = ZT_POLICY_UID(m->types.resource, r->resource);
	if (r->context == NULL && (empty = json_object()) == NULL) {
		err = ZT_ENOMEM;
		goto out;
	}
	if ((err = zt_policy_request_check(s, &m->req)) < 0 ||
	    (err = zt_policy_context_from_jansson_schema(&m->ctx, s,
	    &m->req.action, r->context != NULL ? r->context : empty)) < 0)
		goto out;
	m->req.context = m->ctx;
out:
	json_decref(empty);
	json_decref(ents);
	return err;
}

/* ---- deciding ---------------------------------------------------------------- */

static json_t *
deny(const char *reason, const char *msg)
{
	return json_pack("{s:s, s:s, s:s, s:[], s:[]}", "decision", "deny",
	    "reason", reason, "message", msg, "determining", "errors");
}

static json_t *
qualified(const char *store, const char *id)
{
	char buf[320];

	snprintf(buf, sizeof(buf), "%s:%s", store, id);
	return json_string(buf);
}

static const char *const outcome_name[] = { NULL, "true", "false", "error" };

static int
explain_into(json_t *list, const char *store, const zt_policy_set *ps,
    const az_mapped *m)
{
	zt_policy_trace *t = NULL;
	size_t n = 0, i;
	json_t *e;
	int err;

	if ((err = zt_policy_explain(&t, &n, ps, m->es, &m->req)) < 0)
		return err;
	for (i = 0; i < n; i++) {
		e = json_pack("{s:o, s:s, s:b}", "policy", qualified(store,
		    t[i].policy_id), "effect", t[i].forbid ? "forbid" :
		    "permit", "scope_matched", t[i].scope_matched);
		json_object_set_new(e, "condition", t[i].scope_matched ?
		    json_string(outcome_name[t[i].outcome]) : json_null());
		if (t[i].outcome == ZT_POLICY_COND_ERROR)
			json_object_set_new(e, "error",
			    json_string(t[i].message));
		json_array_append_new(list, e);
	}
	free(t);
	return ZT_OK;
}

/* Decides against one store, adding to the lists; *forbid and *permit
 * say what was satisfied. */
static int
decide_store(json_t *forbids, json_t *permits, json_t *errors,
    const char *store, const zt_policy_set *ps, const az_mapped *m)
{
	zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;
	json_t *to;
	size_t i;
	int err;

	if ((err = zt_policy_decide(&ans, ps, m->es, &m->req)) < 0)
		goto out;
	to = ans.decision == ZT_POLICY_ALLOW ? permits : forbids;
	for (i = 0; i < ans.ndetermining; i++)
		json_array_append_new(to, qualified(store,
		    ans.determining[i]));
	for (i = 0; i < ans.nerrors; i++)
		json_array_append_new(errors, json_pack("{s:o, s:s}",
		    "policy", qualified(store, ans.errors[i].policy_id),
		    "message", ans.errors[i].message));
out:
	zt_policy_answer_free(&ans);
	return err;
}

static json_t *
revisions(const az_store *app, const az_store *ten,
    const zt_authz_subject *sub)
{
	return json_pack("{s:I, s:I, s:{s:s, s:I}}", "app",
	    (json_int_t)app->revision, "tenant", (json_int_t)(ten != NULL ?
	    ten->revision : 0), "identity", "id", sub->id, "version",
	    (json_int_t)sub->version);
}

static int
decide_mapped(json_t **out, const az_store *app, const az_store *ten,
    const az_mapped *m, const zt_authz_subject *sub, bool explain)
{
	json_t *forbids = json_array(), *permits = json_array();
	json_t *errors = json_array(), *doc, *list = NULL;
	bool has_ten = ten != NULL && ten->ps != NULL;
	int err;

	if ((err = decide_store(forbids, permits, errors, "app", app->ps,
	    m)) < 0 || (app->roles != NULL && (err = decide_store(forbids,
	    permits, errors, "roles", app->roles, m)) < 0) || (has_ten &&
	    (err = decide_store(forbids, permits, errors, "tenant", ten->ps,
	    m)) < 0))
		goto fail;
	if (explain) {
		list = json_array();
		if ((err = explain_into(list, "app", app->ps, m)) < 0 ||
		    (app->roles != NULL && (err = explain_into(list, "roles",
		    app->roles, m)) < 0) ||
		    (has_ten && (err = explain_into(list, "tenant", ten->ps,
		    m)) < 0))
			goto fail;
	}
	doc = json_pack("{s:s, s:n, s:O, s:O, s:o}", "decision",
	    json_array_size(forbids) == 0 && json_array_size(permits) > 0 ?
	    "allow" : "deny", "reason", "determining",
	    json_array_size(forbids) > 0 ? forbids : permits, "errors", errors,
	    "revisions", revisions(app, ten, sub));
	if (doc != NULL && list != NULL)
		json_object_set_new(doc, "policies", list);
	else
		json_decref(list);
	json_decref(forbids);
	json_decref(permits);
	json_decref(errors);
	*out = doc;
	return doc != NULL ? ZT_OK : ZT_ENOMEM;
fail:
	json_decref(list);
	json_decref(forbids);
	json_decref(permits);
	json_decref(errors);
	return err;
}

int
zt_authz_decide(json_t **out, const zt_authz_snap *s,
    const zt_authz_request *req, zt_authz_subject *sub, bool explain)
{
	const az_store *app = az_snap_find(s, NULL, req->appid), *ten;
	zt_policy_uid a;
	az_types t;
	az_mapped m;
	size_t n;
	char msg[256];
	int err;

	*out = NULL;
	if (app == NULL)
		*out = deny("unknown_app", "no application has this appid");
	else if (sub == NULL)
		*out = deny("unknown_user", "no such user in the "
		    "application's tenant");
	else if (strcmp(sub->state, "active") != 0)
		*out = deny("inactive_user", "the user's identity is not "
		    "active");
	else if (app->ps == NULL || app->schema == NULL)
		*out = deny("no_policies", "the application has no policies "
		    "yet");
	if (*out != NULL)
		return ZT_OK;

	types_of(&t, app->ns);
	a = ZT_POLICY_UID(t.action, req->action);
	if (zt_policy_schema_action_groups(app->schema, &a, NULL, 0, &n) ==
	    ZT_ENOTFOUND) {
		*out = deny("unknown_action", "the application's schema has "
		    "no such action");
		return ZT_OK;
	}
	ten = az_snap_find(s, app->tenant, NULL);
	if ((err = map_request(&m, app, req, sub)) == ZT_EINVAL) {
		snprintf(msg, sizeof(msg), "%s", zt_error_msg());
		mapped_free(&m);
		*out = deny("request_error", msg);
		json_object_set_new(*out, "revisions", revisions(app, ten,
		    sub));
		return ZT_OK;
	}
	if (err == ZT_OK)
		err = decide_mapped(out, app, ten, &m, sub, explain);
	mapped_free(&m);
	return err;
}

/* ---- enumeration ------------------------------------------------------------- */

/* Reasons that deny every action alike: no need to ask for each. */
static bool
denies_all(json_t *answer)
{
	static const char *const all[] = { "unknown_app", "unknown_user",
	    "inactive_user", "no_policies" };
	const char *r = json_string_value(json_object_get(answer, "reason"));
	size_t i;

	for (i = 0; r != NULL && i < ZT_ARRAY_LEN(all); i++)
		if (strcmp(r, all[i]) == 0)
			return true;
	return false;
}

int
zt_authz_actions(json_t **out, const zt_authz_snap *s,
    const zt_authz_request *req, zt_authz_subject *sub)
{
	const az_store *app = az_snap_find(s, NULL, req->appid);
	json_t *list = json_array(), *ans = NULL, *revs = NULL;
	char name[ZT_AUTHZ_FIELD_MAX + 1];
	zt_authz_request r = *req;
	zt_policy_uid a;
	az_types t;
	size_t i;
	int err = ZT_OK;

	*out = NULL;
	if (list == NULL)
		return ZT_ENOMEM;
	types_of(&t, app != NULL ? app->ns : "");
	for (i = 0; app != NULL && app->schema != NULL &&
	    zt_policy_schema_action_at(app->schema, i, &a); i++) {
		/* Only the application's own Action type maps to a name. */
		if (a.type_len != strlen(t.action) || memcmp(a.type, t.action,
		    a.type_len) != 0 || a.id_len > ZT_AUTHZ_FIELD_MAX ||
		    memchr(a.id, '\0', a.id_len) != NULL)
			continue;
		memcpy(name, a.id, a.id_len);
		name[a.id_len] = '\0';
		r.action = name;
		if ((err = zt_authz_decide(&ans, s, &r, sub, false)) < 0)
			goto fail;
		if (revs == NULL)
			revs = json_incref(json_object_get(ans, "revisions"));
		if (strcmp(json_string_value(json_object_get(ans,
		    "decision")), "allow") == 0)
			json_array_append_new(list, json_pack("{s:s, s:O}",
			    "action", name, "determining", json_object_get(
			    ans, "determining")));
		else if (denies_all(ans))
			break;
		json_decref(ans);
		ans = NULL;
	}
	if (ans == NULL) {
		/* No action asked (none in the schema) or a plain end. */
		r.action = "";
		if ((err = zt_authz_decide(&ans, s, &r, sub, false)) < 0)
			goto fail;
	}
	*out = json_pack("{s:o, s:o*}", "actions", list, "revisions", revs);
	list = NULL;
	if (*out != NULL && denies_all(ans)) {
		json_object_set(*out, "reason", json_object_get(ans,
		    "reason"));
		json_object_set(*out, "message", json_object_get(ans,
		    "message"));
	}
	json_decref(ans);
	return *out != NULL ? ZT_OK : ZT_ENOMEM;
fail:
	json_decref(ans);
	json_decref(revs);
	json_decref(list);
	return err;
}
