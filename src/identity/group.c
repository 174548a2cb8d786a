/*
 * group.c: role and org groups, membership, and the closure table.
 *
 * group_members holds the edges a caller made: a role group contains an
 * identity or another group.  group_closure holds the reflexive row of
 * every group and one row per (ancestor, descendant) pair joined by a
 * chain of group edges, with the shortest chain's length as depth.  Both
 * change in the same transaction, under the tenant lock, so readers see
 * them agree.
 *
 * Adding the edge P > C adds every pair (a, d) with a above-or-at P and d
 * at-or-below C, keeping the smaller depth where one exists.
 *
 * Removing P > C can break only pairs (a, d) with a above-or-at P and d
 * at-or-below C, so those are deleted and rebuilt from what remains.  In a
 * DAG, a surviving chain from a to d, cut after its last node x still
 * above P, is: a row (a, x) that was not deleted (x is not below C, or
 * the graph had a cycle), an edge x > y, and a row (y, d) that was not
 * deleted (y is not above P).  So one INSERT ... SELECT over
 * closure-edge-closure rebuilds every surviving pair, and the minimum over
 * it is the new shortest depth.  Groups that sit in several parents keep
 * the pairs they still reach through the others.
 *
 * Org groups have no stored members (their unit's identities are), may be
 * nested into role groups, and hold no groups themselves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity_int.h"

/* Role group descriptions: a sentence or two for people. */
#define DESCRIPTION_MAX 1000

#define GROUP_COLS "g.id, g.tenant, g.kind, g.name, g.unit_id," \
	" g.description, g.version, g.created_at, g.updated_at, u.path"
#define GROUP_FROM " FROM identity_groups g LEFT JOIN org_units u" \
	" ON u.tenant = g.tenant AND u.id = g.unit_id"

static const char closure_add_sql[] =
    "INSERT INTO group_closure (tenant, ancestor, descendant, depth)"
    " SELECT a.tenant, a.ancestor, d.descendant,"
    " MIN(a.depth + d.depth + 1)"
    " FROM group_closure a JOIN group_closure d ON d.tenant = a.tenant"
    " AND d.ancestor = $3"
    " WHERE a.tenant = $1 AND a.descendant = $2"
    " GROUP BY a.tenant, a.ancestor, d.descendant"
    " ON CONFLICT (tenant, ancestor, descendant) DO UPDATE SET depth ="
    " CASE WHEN excluded.depth < group_closure.depth"
    " THEN excluded.depth ELSE group_closure.depth END";

static const char closure_cut_sql[] =
    "DELETE FROM group_closure WHERE tenant = $1"
    " AND ancestor IN (SELECT ancestor FROM group_closure"
    " WHERE tenant = $1 AND descendant = $2)"
    " AND descendant IN (SELECT descendant FROM group_closure"
    " WHERE tenant = $1 AND ancestor = $3)";

static const char closure_rebuild_sql[] =
    "INSERT INTO group_closure (tenant, ancestor, descendant, depth)"
    " SELECT a.tenant, a.ancestor, d.descendant,"
    " MIN(a.depth + d.depth + 1)"
    " FROM group_closure a"
    " JOIN group_members e ON e.tenant = a.tenant"
    " AND e.group_id = a.descendant AND e.member_type = 'group'"
    " JOIN group_closure d ON d.tenant = e.tenant"
    " AND d.ancestor = e.member_id"
    " WHERE a.tenant = $1"
    " AND a.ancestor IN (SELECT ancestor FROM group_closure"
    " WHERE tenant = $1 AND descendant = $2)"
    " AND d.descendant IN (SELECT descendant FROM group_closure"
    " WHERE tenant = $1 AND ancestor = $3)"
    " GROUP BY a.tenant, a.ancestor, d.descendant";

/* ---- rows and documents -------------------------------------------------- */

static json_t *
group_json(zt_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:I, s:o, s:o}",
	    "id", zt_stmt_text(st, 0), "tenant", zt_stmt_text(st, 1),
	    "kind", zt_stmt_text(st, 2), "name", zt_stmt_text(st, 3),
	    "unit_id", zt_stmt_text(st, 4),
	    "description", zt_stmt_text(st, 5),
	    "version", (json_int_t)zt_stmt_int(st, 6),
	    "created_at", zt_time_json(zt_stmt_int(st, 7)),
	    "updated_at", zt_time_json(zt_stmt_int(st, 8)));
}

/* A group is in a subtree scope when its unit (own or owner) is. */
static int
group_fetch(json_t **out, zt_db *db, const struct scope *sc, const char *id)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if (!id_ok(id))
		return not_found("group", id);
	if ((err = zt_db_prepare(&st, db, "SELECT " GROUP_COLS GROUP_FROM
	    " WHERE g.tenant = $1 AND g.id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sc->tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (scope_has_path(sc, zt_stmt_text(st, 9)))
			*out = group_json(st);
		else
			err = ZT_DONE;
	}
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("group", id);
	return err < 0 ? err : ZT_OK;
}

static bool
is_org(json_t *doc)
{
	return strcmp(json_string_value(json_object_get(doc, "kind")),
	    "org") == 0;
}

static const char *
doc_name(json_t *doc)
{
	return json_string_value(json_object_get(doc, "name"));
}

static int
group_insert(zt_db *db, const char *tenant, const char *id,
    const char *kind, const char *name, const char *unit, const char *desc)
{
	int64_t now = zt_now_ms();
	char q[QUOTE_MAX + 4];
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO identity_groups"
	    " (tenant, id, kind, name, unit_id, description, version,"
	    " created_at, updated_at)"
	    " VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_text(st, 3, kind);
	zt_stmt_bind_text(st, 4, name);
	zt_stmt_bind_text(st, 5, unit);
	zt_stmt_bind_text(st, 6, desc);
	zt_stmt_bind_int(st, 7, now);
	if ((err = zt_stmt_run(st)) == ZT_EEXISTS) {
		quote(q, name);
		return zt_error_set(ZT_EEXISTS, "role group \"%s\" exists", q);
	}
	if (err < 0)
		return err;

	/* Every group is its own ancestor at depth 0. */
	if ((err = zt_db_prepare(&st, db, "INSERT INTO group_closure (tenant,"
	    " ancestor, descendant, depth) VALUES ($1, $2, $2, 0)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	return zt_stmt_run(st);
}

/* A scope for the module's own follow-up changes: the whole tenant. */
static struct scope
tenant_scope(const char *tenant)
{
	struct scope sc;

	memset(&sc, 0, sizeof(sc));
	sc.tenant = tenant;
	return sc;
}

int
group_create_org(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *unit, const char *name)
{
	struct scope sc = tenant_scope(tenant);
	int err;

	*out = NULL;
	if ((err = group_insert(cx->db, tenant, unit, "org", name, unit,
	    "")) < 0 || (err = group_fetch(out, cx->db, &sc, unit)) < 0)
		return err;
	return id_audit(cx, "group.create", tenant, "group", unit, NULL,
	    *out);
}

int
group_rename_org(const zt_id_ctx *cx, const char *tenant, const char *id,
    const char *name)
{
	struct scope sc = tenant_scope(tenant);
	json_t *before = NULL, *after = NULL;
	zt_stmt *st;
	int err;

	if ((err = group_fetch(&before, cx->db, &sc, id)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "UPDATE identity_groups"
	    " SET name = $1, version = version + 1, updated_at = $2"
	    " WHERE tenant = $3 AND id = $4")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, name);
	zt_stmt_bind_int(st, 2, zt_now_ms());
	zt_stmt_bind_text(st, 3, tenant);
	zt_stmt_bind_text(st, 4, id);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = group_fetch(&after, cx->db, &sc, id)) < 0)
		goto out;
	err = id_audit(cx, "group.update", tenant, "group", id, before, after);
out:
	json_decref(before);
	json_decref(after);
	return err;
}

/* Deletes a group that is in no group and holds nothing (the caller has
 * checked), with its reflexive closure row, and audits it. */
int
group_delete_row(const zt_id_ctx *cx, const char *tenant, const char *id,
    json_t *before)
{
	struct scope sc = tenant_scope(tenant);
	json_t *own = NULL;
	zt_stmt *st;
	int err;

	if (before == NULL && (err = group_fetch(&own, cx->db, &sc, id)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, cx->db, "DELETE FROM group_closure"
	    " WHERE tenant = $1 AND (ancestor = $2 OR descendant = $2)")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "DELETE FROM identity_groups"
	    " WHERE tenant = $1 AND id = $2")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = unlink_refs(cx, tenant, "group", id)) < 0)
		goto out;
	err = id_audit(cx, "group.delete", tenant, "group", id,
	    before ? before : own, NULL);
out:
	json_decref(own);
	return err;
}

/* ---- role groups --------------------------------------------------------- */

static int
group_check(const struct scope *sc, const zt_group_spec *spec)
{
	int err;

	if ((err = check_name("name", spec->name)) < 0)
		return err;
	if (spec->description != NULL && spec->description[0] != '\0' &&
	    (err = check_text("description", spec->description,
	    DESCRIPTION_MAX)) < 0)
		return err;
	if (spec->unit == NULL && sc->subtree)
		return zt_error_set(ZT_EINVAL, "field \"unit_id\": required "
		    "for a unit administrator");
	return ZT_OK;
}

static int
group_create_tx(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_group_spec *spec)
{
	char id[ZT_ID_LEN + 1], path[PATH_MAX_LEN + 1];
	struct scope sc;
	int err;

	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = group_check(&sc, spec)) < 0)
		return err;
	if (spec->unit != NULL &&
	    (err = unit_path(path, cx->db, &sc, spec->unit)) < 0)
		return err;
	if ((err = new_id(id)) < 0 ||
	    (err = group_insert(cx->db, tenant, id, "role", spec->name,
	    spec->unit, spec->description ? spec->description : "")) < 0 ||
	    (err = group_fetch(out, cx->db, &sc, id)) < 0)
		return err;
	return id_audit(cx, "group.create", tenant, "group", id, NULL, *out);
}

int
zt_group_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_group_spec *spec)
{
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = tx_begin(cx)) < 0)
		return err;
	err = group_create_tx(&doc, cx, tenant, spec);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

static int
group_update_tx(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *name, const char *description,
    int64_t version)
{
	json_t *before = NULL;
	struct scope sc;
	zt_stmt *st;
	int err;

	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = group_fetch(&before, cx->db, &sc, id)) < 0)
		return err;
	if (is_org(before)) {
		err = zt_error_set(ZT_EINVAL, "an org group takes its unit's "
		    "name; rename the unit");
		goto out;
	}
	if ((err = check_version("group", json_integer_value(
	    json_object_get(before, "version")), version)) < 0 ||
	    (name && (err = check_name("name", name)) < 0) ||
	    (description && description[0] != '\0' &&
	    (err = check_text("description", description,
	    DESCRIPTION_MAX)) < 0))
		goto out;
	if ((err = zt_db_prepare(&st, cx->db, "UPDATE identity_groups SET"
	    " name = $1, description = $2, version = version + 1,"
	    " updated_at = $3 WHERE tenant = $4 AND id = $5")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, name ? name : doc_name(before));
	zt_stmt_bind_text(st, 2, description ? description :
	    json_string_value(json_object_get(before, "description")));
	zt_stmt_bind_int(st, 3, zt_now_ms());
	zt_stmt_bind_text(st, 4, tenant);
	zt_stmt_bind_text(st, 5, id);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = group_fetch(out, cx->db, &sc, id)) < 0)
		goto out;
	err = id_audit(cx, "group.update", tenant, "group", id, before, *out);
out:
	json_decref(before);
	return err;
}

int
zt_group_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *name, const char *description,
    int64_t version)
{
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = tx_begin(cx)) < 0)
		return err;
	err = group_update_tx(&doc, cx, tenant, id, name, description,
	    version);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

int
zt_group_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id)
{
	struct scope sc;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	return group_fetch(out, cx->db, &sc, id);
}

/* Pages by (name, id); a subtree scope reads only groups whose unit is in
 * the subtree's path range. */
int
zt_group_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *cursor, int limit)
{
	/* Org groups carry their unit's name, which may be longer than a
	 * role group's; the cursor holds either. */
	char name[ZT_NAME_MAX + 256] = "", id[ZT_ID_LEN + 2] = "";
	json_t *items, *next = NULL, *last;
	struct scope sc;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = page_limit(&limit, limit)) < 0 ||
	    (err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	if (cursor != NULL && (err = cursor_decode(cursor, 'g', name,
	    sizeof(name), id, sizeof(id))) < 0)
		return err;
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " GROUP_COLS GROUP_FROM
	    " WHERE g.tenant = $1 AND (g.name, g.id) > ($2, $3)"
	    " AND (CAST($4 AS TEXT) IS NULL OR (u.path >= $4 AND u.path < $5))"
	    " ORDER BY g.name, g.id LIMIT $6")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, name);
	zt_stmt_bind_text(st, 3, id);
	zt_stmt_bind_text(st, 4, sc.subtree ? sc.lo : NULL);
	zt_stmt_bind_text(st, 5, sc.subtree ? sc.hi : NULL);
	zt_stmt_bind_int(st, 6, limit + 1);
	items = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW &&
	    json_array_size(items) < (size_t)limit)
		json_array_append_new(items, group_json(st));
	zt_stmt_reset(st);
	if (err == ZT_ROW && (last = json_array_get(items, limit - 1)) &&
	    (err = cursor_encode(&next, 'g', doc_name(last),
	    json_string_value(json_object_get(last, "id")))) == ZT_OK)
		err = ZT_DONE;
	if (err < 0) {
		json_decref(items);
		return err;
	}
	*out = json_pack("{s:o, s:o}", "items", items,
	    "next_cursor", next ? next : json_null());
	return ZT_OK;
}

/* Fails with ZT_ECONFLICT naming `why` when `sql` ($1, $2) has a row. */
static int
refuse_if(zt_db *db, const char *sql, const char *tenant, const char *id,
    const char *why)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err == ZT_ROW)
		return zt_error_set(ZT_ECONFLICT, "%s", why);
	return err < 0 ? err : ZT_OK;
}

/* A role group may go when it holds nothing and sits in no group. */
static int
group_deletable(zt_db *db, const char *tenant, json_t *group,
    int64_t version)
{
	const char *id = json_string_value(json_object_get(group, "id"));
	int err;

	if (is_org(group))
		return zt_error_set(ZT_EINVAL, "an org group is deleted with "
		    "its unit");
	if ((err = check_version("group", json_integer_value(
	    json_object_get(group, "version")), version)) < 0 ||
	    (err = refuse_if(db, "SELECT 1 FROM group_members"
	    " WHERE tenant = $1 AND group_id = $2 LIMIT 1", tenant, id,
	    "group has members")) < 0)
		return err;
	return refuse_if(db, "SELECT 1 FROM group_members"
	    " WHERE tenant = $1 AND member_type = 'group' AND member_id = $2"
	    " LIMIT 1", tenant, id, "group is a member of another group");
}

static int
group_delete_tx(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version)
{
	json_t *before = NULL;
	struct scope sc;
	int err;

	if ((err = scope_enter(&sc, cx, tenant)) == ZT_OK &&
	    (err = tenant_lock(cx->db, tenant)) == ZT_OK &&
	    (err = group_fetch(&before, cx->db, &sc, id)) == ZT_OK &&
	    (err = group_deletable(cx->db, tenant, before, version)) == ZT_OK)
		err = group_delete_row(cx, tenant, id, before);
	json_decref(before);
	return err;
}

int
zt_group_delete(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version)
{
	int err;

	if ((err = tx_begin(cx)) < 0)
		return err;
	return tx_end(cx, group_delete_tx(cx, tenant, id, version));
}

/* ---- membership ---------------------------------------------------------- */

static const char *
type_name(enum zt_member_type t)
{
	return t == ZT_MEMBER_GROUP ? "group" : "identity";
}

static int
one_int(int64_t *out, zt_db *db, const char *sql, const char *tenant,
    const char *id)
{
	zt_stmt *st;
	int err;

	*out = 0;
	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*out = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

/* The name of a group, for messages. */
static void
group_name(char out[ZT_NAME_MAX + 1], zt_db *db, const char *tenant,
    const char *id)
{
	zt_stmt *st;

	snprintf(out, ZT_NAME_MAX + 1, "%s", id);
	if (zt_db_prepare(&st, db, "SELECT name FROM identity_groups"
	    " WHERE tenant = $1 AND id = $2") < 0)
		return;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	if (zt_stmt_step(st) == ZT_ROW)
		snprintf(out, ZT_NAME_MAX + 1, "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
}

/* The next group on a shortest chain from `cur` down to `to`. */
static int
chain_step(char next[ZT_ID_LEN + 1], zt_db *db, const char *tenant,
    const char *cur, const char *to)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT m.member_id"
	    " FROM group_members m JOIN group_closure c"
	    " ON c.tenant = m.tenant AND c.ancestor = m.member_id"
	    " AND c.descendant = $3 WHERE m.tenant = $1 AND m.group_id = $2"
	    " AND m.member_type = 'group' ORDER BY c.depth, m.member_id"
	    " LIMIT 1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, cur);
	zt_stmt_bind_text(st, 3, to);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		snprintf(next, ZT_ID_LEN + 1, "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return zt_error_set(ZT_ERR, "group closure out of step");
	return err < 0 ? err : ZT_OK;
}

/*
 * Adding `child` to `parent` where `child` already contains `parent`:
 * reports the loop it would close, "parent > child > ... > parent".
 */
static int
cycle_error(zt_db *db, const char *tenant, const char *parent,
    const char *child)
{
	char msg[1024], name[ZT_NAME_MAX + 1], cur[ZT_ID_LEN + 1];
	size_t len = 0;
	int i, err;

	group_name(name, db, tenant, parent);
	len += snprintf(msg + len, sizeof(msg) - len, "%s", name);
	snprintf(cur, sizeof(cur), "%s", child);
	for (i = 0; i <= ZT_GROUP_NEST_MAX + 1; i++) {
		group_name(name, db, tenant, cur);
		if (len < sizeof(msg))
			len += snprintf(msg + len, sizeof(msg) - len, " > %s",
			    name);
		if (strcmp(cur, parent) == 0)
			break;
		if ((err = chain_step(cur, db, tenant, cur, parent)) < 0)
			return err;
	}
	return zt_error_set(ZT_ECONFLICT, "adding this group would make a "
	    "cycle: %s", msg);
}

/* Refuses an edge parent > child that would close a loop or nest deeper
 * than ZT_GROUP_NEST_MAX. */
static int
nest_check(zt_db *db, const char *tenant, const char *parent,
    const char *child)
{
	int64_t above, below;
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT 1 FROM group_closure"
	    " WHERE tenant = $1 AND ancestor = $2 AND descendant = $3")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, child);
	zt_stmt_bind_text(st, 3, parent);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err == ZT_ROW)
		return cycle_error(db, tenant, parent, child);
	if (err < 0 ||
	    (err = one_int(&above, db, "SELECT MAX(depth) FROM group_closure"
	    " WHERE tenant = $1 AND descendant = $2", tenant, parent)) < 0 ||
	    (err = one_int(&below, db, "SELECT MAX(depth) FROM group_closure"
	    " WHERE tenant = $1 AND ancestor = $2", tenant, child)) < 0)
		return err;
	if (above + below + 1 > ZT_GROUP_NEST_MAX)
		return zt_error_set(ZT_EINVAL, "groups nest at most %d deep",
		    ZT_GROUP_NEST_MAX);
	return ZT_OK;
}

static int
closure_run(zt_db *db, const char *sql, const char *tenant,
    const char *parent, const char *child)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, parent);
	zt_stmt_bind_text(st, 3, child);
	return zt_stmt_run(st);
}

/* Inserts or deletes one edge; `*changed` says whether a row moved. */
static int
edge_write(bool *changed, zt_db *db, bool add, const char *tenant,
    const char *group, enum zt_member_type type, const char *member)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, add ? "INSERT INTO group_members"
	    " (tenant, group_id, member_type, member_id, created_at)"
	    " VALUES ($1, $2, $3, $4, $5)" : "DELETE FROM group_members"
	    " WHERE tenant = $1 AND group_id = $2 AND member_type = $3"
	    " AND member_id = $4")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, group);
	zt_stmt_bind_text(st, 3, type_name(type));
	zt_stmt_bind_text(st, 4, member);
	if (add)
		zt_stmt_bind_int(st, 5, zt_now_ms());
	err = zt_stmt_step(st);
	*changed = err >= 0 && zt_stmt_changes(st) == 1;
	zt_stmt_reset(st);
	if (err == ZT_EEXISTS)
		return zt_error_set(ZT_EEXISTS, "%s \"%s\" is already a member "
		    "of the group", type_name(type), member);
	return err < 0 ? err : ZT_OK;
}

/* Reads the group (a role group, in scope) and the member (in scope). */
static int
member_prepare(json_t **group, json_t **member, const zt_id_ctx *cx,
    const struct scope *sc, const char *gid, enum zt_member_type type,
    const char *mid)
{
	int err;

	if ((err = group_fetch(group, cx->db, sc, gid)) < 0)
		return err;
	if (is_org(*group))
		return zt_error_set(ZT_EINVAL, "the members of an org group "
		    "are the identities of its unit");
	if (type == ZT_MEMBER_IDENTITY)
		return identity_fetch(member, cx, sc, mid);
	if (type != ZT_MEMBER_GROUP)
		return zt_error_set(ZT_EINVAL, "field \"type\": must be one of "
		    "identity, group");
	return group_fetch(member, cx->db, sc, mid);
}

static int
member_change_tx(const zt_id_ctx *cx, bool add, const char *tenant,
    const char *gid, enum zt_member_type type, const char *mid)
{
	json_t *group = NULL, *member = NULL, *change = NULL;
	struct scope sc;
	bool changed;
	int err;

	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = tenant_lock(cx->db, tenant)) < 0 ||
	    (err = member_prepare(&group, &member, cx, &sc, gid, type,
	    mid)) < 0)
		goto out;
	if (add && type == ZT_MEMBER_GROUP &&
	    (err = nest_check(cx->db, tenant, gid, mid)) < 0)
		goto out;
	if ((err = edge_write(&changed, cx->db, add, tenant, gid, type,
	    mid)) < 0)
		goto out;
	if (!changed) {
		err = zt_error_set(ZT_ENOTFOUND, "%s \"%s\" is not a member "
		    "of the group", type_name(type), mid);
		goto out;
	}
	if (type == ZT_MEMBER_GROUP && ((err = closure_run(cx->db, add ?
	    closure_add_sql : closure_cut_sql, tenant, gid, mid)) < 0 ||
	    (!add && (err = closure_run(cx->db, closure_rebuild_sql, tenant,
	    gid, mid)) < 0)))
		goto out;
	change = json_pack("{s:s, s:s, s:s}", "member_type", type_name(type),
	    "member_id", mid, "member_name", doc_name(member));
	err = id_audit(cx, add ? "group.member.add" : "group.member.remove",
	    tenant, "group", gid, add ? NULL : change, add ? change : NULL);
out:
	json_decref(group);
	json_decref(member);
	json_decref(change);
	return err;
}

int
zt_group_member_add(const zt_id_ctx *cx, const char *tenant,
    const char *group, enum zt_member_type type, const char *member)
{
	int err;

	if ((err = tx_begin(cx)) < 0)
		return err;
	return tx_end(cx, member_change_tx(cx, true, tenant, group, type,
	    member));
}

int
zt_group_member_remove(const zt_id_ctx *cx, const char *tenant,
    const char *group, enum zt_member_type type, const char *member)
{
	int err;

	if ((err = tx_begin(cx)) < 0)
		return err;
	return tx_end(cx, member_change_tx(cx, false, tenant, group, type,
	    member));
}

/* ---- member lists -------------------------------------------------------- */

static const char direct_role_sql[] =
    "SELECT m.member_type, m.member_id, COALESCE(i.name, g.name),"
    " COALESCE(i.kind, g.kind), COALESCE(iu.path, gu.path)"
    " FROM group_members m"
    " LEFT JOIN identities i ON m.member_type = 'identity'"
    " AND i.tenant = m.tenant AND i.id = m.member_id"
    " LEFT JOIN org_units iu ON iu.tenant = i.tenant AND iu.id = i.unit_id"
    " LEFT JOIN identity_groups g ON m.member_type = 'group'"
    " AND g.tenant = m.tenant AND g.id = m.member_id"
    " LEFT JOIN org_units gu ON gu.tenant = g.tenant AND gu.id = g.unit_id"
    " WHERE m.tenant = $1 AND m.group_id = $2"
    " AND (m.member_type, m.member_id) > ($3, $4)"
    " ORDER BY m.member_type, m.member_id LIMIT $5";

static const char direct_org_sql[] =
    "SELECT 'identity', i.id, i.name, i.kind, u.path"
    " FROM identities i JOIN org_units u"
    " ON u.tenant = i.tenant AND u.id = i.unit_id"
    " WHERE i.tenant = $1 AND i.unit_id = $2 AND i.id > $3"
    " ORDER BY i.id LIMIT $4";

/* A page of direct members.  Rows out of the caller's scope are left out
 * of the page, which may then be short; the cursor still moves past them. */
static int
members_direct(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    json_t *group, const char *type, const char *after, int limit)
{
	const char *gid = json_string_value(json_object_get(group, "id"));
	char last_t[16] = "", last_id[ZT_ID_LEN + 1] = "";
	json_t *items = json_array(), *next = NULL;
	bool org = is_org(group);
	int err, n = 0, i = 1;
	zt_stmt *st;

	if ((err = zt_db_prepare(&st, cx->db, org ? direct_org_sql :
	    direct_role_sql)) < 0)
		goto fail;
	zt_stmt_bind_text(st, i++, sc->tenant);
	zt_stmt_bind_text(st, i++, gid);
	if (!org)
		zt_stmt_bind_text(st, i++, type);
	zt_stmt_bind_text(st, i++, after);
	zt_stmt_bind_int(st, i, limit + 1);
	while ((err = zt_stmt_step(st)) == ZT_ROW && n++ < limit) {
		snprintf(last_t, sizeof(last_t), "%s", zt_stmt_text(st, 0));
		snprintf(last_id, sizeof(last_id), "%s", zt_stmt_text(st, 1));
		if (!scope_has_path(sc, zt_stmt_text(st, 4)))
			continue;
		json_array_append_new(items, json_pack("{s:s, s:s, s:s?, "
		    "s:s?}", "type", last_t, "id", last_id,
		    "name", zt_stmt_text(st, 2), "kind", zt_stmt_text(st, 3)));
	}
	zt_stmt_reset(st);
	if (err == ZT_ROW)
		err = cursor_encode(&next, 'd', last_t, last_id);
	if (err < 0)
		goto fail;
	*out = json_pack("{s:o, s:o}", "items", items,
	    "next_cursor", next ? next : json_null());
	return ZT_OK;
fail:
	json_decref(items);
	return err;
}

/* Identity ids gathered from the sources of an effective member page. */
struct idlist {
	char (*v)[ZT_ID_LEN + 1];
	size_t n, cap;
};

static int
idlist_add(struct idlist *l, const char *id)
{
	char (*v)[ZT_ID_LEN + 1];
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 64;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n++], ZT_ID_LEN + 1, "%s", id);
	return ZT_OK;
}

static int
idcmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Appends the first `n` ids of `st` (bound: $1 tenant, $2 key, $3 after,
 * $4 limit). */
static int
gather(struct idlist *l, zt_stmt *st, const char *tenant, const char *key,
    const char *after, int n)
{
	int err;

	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, key);
	zt_stmt_bind_text(st, 3, after);
	zt_stmt_bind_int(st, 4, n);
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		if ((err = idlist_add(l, zt_stmt_text(st, 0))) < 0)
			break;
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

/* The identities of every unit in the subtree of the org group's unit
 * at `path`: the first `n` past `after` of each unit. */
static int
gather_org(struct idlist *l, zt_db *db, const char *tenant,
    const char *path, const char *after, int n)
{
	char hi[PATH_MAX_LEN + 1];
	struct idlist units = { 0 };
	zt_stmt *st;
	size_t i;
	int err;

	prefix_hi(hi, sizeof(hi), path);
	if ((err = zt_db_prepare(&st, db, "SELECT id FROM org_units"
	    " WHERE tenant = $1 AND path >= $2 AND path < $3")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, path);
	zt_stmt_bind_text(st, 3, hi);
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		if ((err = idlist_add(&units, zt_stmt_text(st, 0))) < 0)
			break;
	zt_stmt_reset(st);
	if (err >= 0 && (err = zt_db_prepare(&st, db, "SELECT id FROM"
	    " identities WHERE tenant = $1 AND unit_id = $2 AND id > $3"
	    " ORDER BY id LIMIT $4")) == ZT_OK)
		for (i = 0; i < units.n && err == ZT_OK; i++)
			err = gather(l, st, tenant, units.v[i], after, n);
	free(units.v);
	return err < 0 ? err : ZT_OK;
}

/*
 * Gathers, from every group at or below `gid`, its first n identities
 * with an id past `after`: the group's own identity members, and for an
 * org group those of its units.  The page is the first n of the union, so
 * its cost depends on the number of groups and units involved, not on
 * how far into the list it is.
 */
static int
gather_all(struct idlist *l, zt_db *db, const char *tenant, const char *gid,
    const char *after, int n)
{
	struct idlist role = { 0 }, org = { 0 };
	zt_stmt *st;
	size_t i;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT c.descendant, g.kind"
	    " FROM group_closure c JOIN identity_groups g"
	    " ON g.tenant = c.tenant AND g.id = c.descendant"
	    " WHERE c.tenant = $1 AND c.ancestor = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, gid);
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		if ((err = idlist_add(strcmp(zt_stmt_text(st, 1), "org") == 0 ?
		    &org : &role, zt_stmt_text(st, 0))) < 0)
			break;
	zt_stmt_reset(st);
	if (err >= 0 && (err = zt_db_prepare(&st, db, "SELECT member_id"
	    " FROM group_members WHERE tenant = $1 AND group_id = $2"
	    " AND member_type = 'identity' AND member_id > $3"
	    " ORDER BY member_id LIMIT $4")) == ZT_OK)
		for (i = 0; i < role.n && err == ZT_OK; i++)
			err = gather(l, st, tenant, role.v[i], after, n);
	for (i = 0; i < org.n && err >= 0; i++) {
		char path[PATH_MAX_LEN + 1];
		struct scope sc = { .tenant = tenant };

		/* An org group's id is its unit's id. */
		if ((err = unit_path(path, db, &sc, org.v[i])) == ZT_OK)
			err = gather_org(l, db, tenant, path, after, n);
	}
	free(role.v);
	free(org.v);
	return err < 0 ? err : ZT_OK;
}

static int
member_item(json_t *items, zt_db *db, const struct scope *sc,
    const char *id)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT i.name, i.kind, u.path"
	    " FROM identities i LEFT JOIN org_units u ON u.tenant = i.tenant"
	    " AND u.id = i.unit_id WHERE i.tenant = $1 AND i.id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sc->tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW &&
	    scope_has_path(sc, zt_stmt_text(st, 2)))
		json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s}",
		    "type", "identity", "id", id, "name", zt_stmt_text(st, 0),
		    "kind", zt_stmt_text(st, 1)));
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

static int
members_effective(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    const char *gid, const char *after, int limit)
{
	struct idlist l = { 0 };
	json_t *items = json_array(), *next = NULL;
	size_t i, kept = 0;
	int err;

	if ((err = gather_all(&l, cx->db, sc->tenant, gid, after,
	    limit + 1)) < 0)
		goto out;
	if (l.n > 0)
		qsort(l.v, l.n, sizeof(*l.v), idcmp);
	for (i = 0; i < l.n && err == ZT_OK; i++) {
		if (i > 0 && strcmp(l.v[i - 1], l.v[i]) == 0)
			continue;
		if (kept++ == (size_t)limit) {
			err = cursor_encode(&next, 'e', "", l.v[i - 1]);
			break;
		}
		err = member_item(items, cx->db, sc, l.v[i]);
	}
	if (err == ZT_OK)
		*out = json_pack("{s:O, s:o}", "items", items,
		    "next_cursor", next ? next : json_null());
out:
	json_decref(items);
	free(l.v);
	return err;
}

int
zt_group_members(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *group, bool effective, const char *cursor, int limit)
{
	char type[16] = "", after[ZT_ID_LEN + 2] = "";
	json_t *doc = NULL;
	struct scope sc;
	int err;

	*out = NULL;
	if ((err = page_limit(&limit, limit)) < 0 ||
	    (err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = group_fetch(&doc, cx->db, &sc, group)) < 0)
		return err;
	if (cursor != NULL && (err = cursor_decode(cursor, effective ? 'e' :
	    'd', type, sizeof(type), after, sizeof(after))) < 0)
		goto out;
	if (effective)
		err = members_effective(out, cx, &sc, group, after, limit);
	else
		err = members_direct(out, cx, &sc, doc, type, after, limit);
out:
	json_decref(doc);
	return err;
}
