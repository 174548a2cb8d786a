/*
 * unit.c: organization units, a tree per tenant.
 *
 * Each unit stores its materialized path, "/<root id>/.../<own id>/", and
 * its parent.  A subtree is then the range of paths [path, path + 1) on
 * the (tenant, path) index, which answers "is this unit under that one"
 * by comparison and lets a whole subtree move with one UPDATE that swaps
 * the path prefix of the subtree's units.  Identities and groups point at
 * their unit by id, so a move touches no identity row: what an identity's
 * org groups are follows from its unit's path when asked (ident.c).
 *
 * Ids are all ZT_ID_LEN long, so a path's depth is its length over
 * ZT_ID_LEN + 1, and the segment of each level sits at a fixed offset.
 *
 * Changes to the tree take the tenant lock (tenant_lock) so that two
 * concurrent moves cannot each pass the "not into its own subtree" check
 * and together make a loop.
 */
#include <stdio.h>
#include <string.h>

#include "identity/identity_int.h"

/* Unit names are labels for people ("Sales EMEA"). */
#define UNIT_NAME_MAX 200

#define UNIT_COLS "id, tenant, parent_id, name, path, version, created_at," \
	" updated_at"

static size_t
path_depth(size_t len)
{
	return (len - 1) / (ZT_ID_LEN + 1);
}

/* out = ppath + id + "/", when it fits a path of ZT_UNIT_DEPTH_MAX. */
static int
path_join(char out[PATH_MAX_LEN + 1], const char *ppath, const char *id)
{
	size_t pn = strlen(ppath), in = strlen(id);

	if (pn + in + 1 > PATH_MAX_LEN)
		return zt_error_set(ZT_EINVAL, "field \"parent_id\": units "
		    "nest at most %d deep", ZT_UNIT_DEPTH_MAX);
	memcpy(out, ppath, pn);
	memcpy(out + pn, id, in);
	out[pn + in] = '/';
	out[pn + in + 1] = '\0';
	return ZT_OK;
}

static json_t *
unit_json(zt_stmt *st)
{
	return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:I, s:o, s:o}",
	    "id", zt_stmt_text(st, 0), "tenant", zt_stmt_text(st, 1),
	    "parent_id", zt_stmt_text(st, 2), "name", zt_stmt_text(st, 3),
	    "path", zt_stmt_text(st, 4),
	    "version", (json_int_t)zt_stmt_int(st, 5),
	    "created_at", zt_time_json(zt_stmt_int(st, 6)),
	    "updated_at", zt_time_json(zt_stmt_int(st, 7)));
}

static int
unit_fetch(json_t **out, zt_db *db, const struct scope *sc, const char *id)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if (!id_ok(id))
		return not_found("unit", id);
	if ((err = zt_db_prepare(&st, db, "SELECT " UNIT_COLS
	    " FROM org_units WHERE tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sc->tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (scope_has_path(sc, zt_stmt_text(st, 4)))
			*out = unit_json(st);
		else
			err = ZT_DONE;
	}
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("unit", id);
	return err < 0 ? err : ZT_OK;
}

/* The path of a unit in scope (a lighter unit_fetch, for the checks of
 * other files). */
int
unit_path(char path[PATH_MAX_LEN + 1], zt_db *db, const struct scope *sc,
    const char *id)
{
	zt_stmt *st;
	int err;

	if (!id_ok(id))
		return not_found("unit", id);
	if ((err = zt_db_prepare(&st, db, "SELECT path FROM org_units"
	    " WHERE tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sc->tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (scope_has_path(sc, zt_stmt_text(st, 0)))
			snprintf(path, PATH_MAX_LEN + 1, "%s",
			    zt_stmt_text(st, 0));
		else
			err = ZT_DONE;
	}
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("unit", id);
	return err < 0 ? err : ZT_OK;
}

static const char *
doc_str(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static int64_t
doc_version(json_t *doc)
{
	return json_integer_value(json_object_get(doc, "version"));
}

/* ---- create -------------------------------------------------------------- */

static int
unit_insert(const zt_id_ctx *cx, const struct scope *sc, const char *id,
    const char *parent, const char *path, const char *name)
{
	int64_t now = zt_now_ms();
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, cx->db, "INSERT INTO org_units (tenant,"
	    " id, parent_id, name, path, version, created_at, updated_at)"
	    " VALUES ($1, $2, $3, $4, $5, 1, $6, $6)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sc->tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_text(st, 3, parent);
	zt_stmt_bind_text(st, 4, name);
	zt_stmt_bind_text(st, 5, path);
	zt_stmt_bind_int(st, 6, now);
	return zt_stmt_run(st);
}

/* Checks the parent and makes the new unit's path. */
static int
unit_place(char path[PATH_MAX_LEN + 1], const zt_id_ctx *cx,
    const struct scope *sc, const char *parent, const char *id)
{
	char ppath[PATH_MAX_LEN + 1] = "/";
	int err;

	if (parent == NULL && sc->subtree)
		return zt_error_set(ZT_EINVAL, "field \"parent_id\": required "
		    "for a unit administrator");
	if (parent != NULL && (err = unit_path(ppath, cx->db, sc, parent)) < 0)
		return err;
	return path_join(path, ppath, id);
}

static int
unit_create_tx(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *parent, const char *name)
{
	char id[ZT_ID_LEN + 1], path[PATH_MAX_LEN + 1];
	json_t *group = NULL;
	struct scope sc;
	int err;

	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = tenant_lock(cx->db, tenant)) < 0 ||
	    (err = new_id(id)) < 0 ||
	    (err = unit_place(path, cx, &sc, parent, id)) < 0 ||
	    (err = unit_insert(cx, &sc, id, parent, path, name)) < 0 ||
	    (err = unit_fetch(out, cx->db, &sc, id)) < 0 ||
	    (err = id_audit(cx, "org.create", tenant, "unit", id, NULL,
	    *out)) < 0)
		return err;
	err = group_create_org(&group, cx, tenant, id, name);
	json_decref(group);
	return err;
}

int
zt_unit_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *parent, const char *name)
{
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = check_text("name", name, UNIT_NAME_MAX)) < 0 ||
	    (err = tx_begin(cx)) < 0)
		return err;
	err = unit_create_tx(&doc, cx, tenant, parent, name);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

/* ---- reads --------------------------------------------------------------- */

int
zt_unit_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id)
{
	struct scope sc;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	return unit_fetch(out, cx->db, &sc, id);
}

int
zt_unit_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *parent)
{
	json_t *list, *doc;
	struct scope sc;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	/* A unit administrator's top unit is the root of their scope. */
	if (parent == NULL && sc.subtree) {
		if ((err = unit_fetch(&doc, cx->db, &sc, sc.unit)) < 0)
			return err;
		*out = json_pack("[o]", doc);
		return ZT_OK;
	}
	if (parent != NULL && (err = unit_fetch(&doc, cx->db, &sc,
	    parent)) < 0)
		return err;
	if (parent != NULL)
		json_decref(doc);
	if ((err = zt_db_prepare(&st, cx->db, parent ? "SELECT " UNIT_COLS
	    " FROM org_units WHERE tenant = $1 AND parent_id = $2"
	    " ORDER BY name, id" : "SELECT " UNIT_COLS " FROM org_units"
	    " WHERE tenant = $1 AND parent_id IS NULL ORDER BY name, id")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	if (parent != NULL)
		zt_stmt_bind_text(st, 2, parent);
	list = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(list, unit_json(st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

/* ---- changes ------------------------------------------------------------- */

/* Opens a change of one unit: scope, tree lock, read, version check.  The
 * top unit of a unit administrator's scope stays where it is. */
static int
unit_begin(json_t **before, struct scope *sc, const zt_id_ctx *cx,
    const char *tenant, const char *id, int64_t version, bool structural)
{
	int err;

	if ((err = scope_enter(sc, cx, tenant)) < 0 ||
	    (err = tenant_lock(cx->db, tenant)) < 0 ||
	    (err = unit_fetch(before, cx->db, sc, id)) < 0 ||
	    (err = check_version("unit", doc_version(*before), version)) < 0)
		return err;
	if (structural && sc->subtree && strcmp(sc->unit, id) == 0)
		return zt_error_set(ZT_EFORBIDDEN, "a unit administrator "
		    "cannot move or delete the top unit of their scope");
	return ZT_OK;
}

static int
unit_rename_tx(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *name, int64_t version)
{
	json_t *before = NULL;
	struct scope sc;
	zt_stmt *st;
	int err;

	if ((err = unit_begin(&before, &sc, cx, tenant, id, version,
	    false)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "UPDATE org_units SET name = $1,"
	    " version = version + 1, updated_at = $2 WHERE tenant = $3"
	    " AND id = $4")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, name);
	zt_stmt_bind_int(st, 2, zt_now_ms());
	zt_stmt_bind_text(st, 3, tenant);
	zt_stmt_bind_text(st, 4, id);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = unit_fetch(out, cx->db, &sc, id)) < 0 ||
	    (err = id_audit(cx, "org.rename", tenant, "unit", id, before,
	    *out)) < 0)
		goto out;
	err = group_rename_org(cx, tenant, id, name);
out:
	json_decref(before);
	return err;
}

int
zt_unit_rename(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *name, int64_t version)
{
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = check_text("name", name, UNIT_NAME_MAX)) < 0 ||
	    (err = tx_begin(cx)) < 0)
		return err;
	err = unit_rename_tx(&doc, cx, tenant, id, name, version);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

/* The length of the longest path in the subtree [lo, hi). */
static int
subtree_longest(size_t *out, zt_db *db, const char *tenant, const char *lo,
    const char *hi)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT MAX(length(path))"
	    " FROM org_units WHERE tenant = $1 AND path >= $2"
	    " AND path < $3")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, lo);
	zt_stmt_bind_text(st, 3, hi);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*out = (size_t)zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

/*
 * Rewrites the path prefix `lo` to `to` on every unit of the subtree in
 * one statement, and sets the moved unit's parent and version.  Paths are
 * made of fixed-length ids, so no new path can equal an old one midway.
 */
static int
subtree_rewrite(zt_db *db, const char *tenant, const char *id,
    const char *parent, const char *lo, const char *hi, const char *to)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "UPDATE org_units SET"
	    " path = CAST($1 AS TEXT) || substr(path, $2),"
	    " parent_id = CASE WHEN id = $3 THEN $4 ELSE parent_id END,"
	    " version = CASE WHEN id = $3 THEN version + 1 ELSE version END,"
	    " updated_at = CASE WHEN id = $3 THEN $5 ELSE updated_at END"
	    " WHERE tenant = $6 AND path >= $7 AND path < $8")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, to);
	zt_stmt_bind_int(st, 2, (int64_t)strlen(lo) + 1);
	zt_stmt_bind_text(st, 3, id);
	zt_stmt_bind_text(st, 4, parent);
	zt_stmt_bind_int(st, 5, zt_now_ms());
	zt_stmt_bind_text(st, 6, tenant);
	zt_stmt_bind_text(st, 7, lo);
	zt_stmt_bind_text(st, 8, hi);
	return zt_stmt_run(st);
}

/* Checks a move of the unit at `lo` under the unit at `ppath` ("/" for the
 * top) and makes the unit's new path in `to`. */
static int
move_check(char to[PATH_MAX_LEN + 1], const zt_id_ctx *cx,
    const char *tenant, const char *id, const char *ppath, const char *lo,
    const char *hi)
{
	size_t longest = 0;
	int err;

	if (zt_str_has_prefix(ppath, lo))
		return zt_error_set(ZT_ECONFLICT, "field \"parent_id\": a unit "
		    "cannot move into its own subtree");
	if ((err = subtree_longest(&longest, cx->db, tenant, lo, hi)) < 0 ||
	    (err = path_join(to, ppath, id)) < 0)
		return err;
	if (path_depth(longest - strlen(lo) + strlen(to)) > ZT_UNIT_DEPTH_MAX)
		return zt_error_set(ZT_EINVAL, "field \"parent_id\": units "
		    "would nest more than %d deep", ZT_UNIT_DEPTH_MAX);
	return ZT_OK;
}

static int
unit_move_tx(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *parent, int64_t version)
{
	char ppath[PATH_MAX_LEN + 1] = "/", lo[PATH_MAX_LEN + 1];
	char hi[PATH_MAX_LEN + 1], to[PATH_MAX_LEN + 1];
	const char *old;
	json_t *before = NULL;
	struct scope sc;
	int err;

	if ((err = unit_begin(&before, &sc, cx, tenant, id, version,
	    true)) < 0)
		goto out;
	if (parent == NULL && sc.subtree) {
		err = zt_error_set(ZT_EINVAL, "field \"parent_id\": required "
		    "for a unit administrator");
		goto out;
	}
	if (parent != NULL && (err = unit_path(ppath, cx->db, &sc,
	    parent)) < 0)
		goto out;
	old = doc_str(before, "parent_id");
	if ((old == NULL && parent == NULL) ||
	    (old != NULL && parent != NULL && strcmp(old, parent) == 0)) {
		*out = json_incref(before);	/* already there */
		goto out;
	}
	snprintf(lo, sizeof(lo), "%s", doc_str(before, "path"));
	prefix_hi(hi, sizeof(hi), lo);
	if ((err = move_check(to, cx, tenant, id, ppath, lo, hi)) < 0 ||
	    (err = subtree_rewrite(cx->db, tenant, id, parent, lo, hi,
	    to)) < 0 ||
	    (err = unit_fetch(out, cx->db, &sc, id)) < 0)
		goto out;
	err = id_audit(cx, "org.move", tenant, "unit", id, before, *out);
out:
	json_decref(before);
	return err;
}

int
zt_unit_move(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *parent, int64_t version)
{
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = tx_begin(cx)) < 0)
		return err;
	err = unit_move_tx(&doc, cx, tenant, id, parent, version);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

/* ---- delete -------------------------------------------------------------- */

/* Fails with ZT_ECONFLICT and `why` when `sql` ($1 tenant, $2 unit)
 * returns a row; the row's first column, if any, is quoted in `why`. */
static int
refuse_if(zt_db *db, const char *sql, const char *tenant, const char *id,
    const char *why)
{
	char q[QUOTE_MAX + 4];
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		quote(q, zt_stmt_text(st, 0));
		err = zt_error_set(ZT_ECONFLICT, "unit is not empty: %s%s%s%s",
		    why, q[0] ? " \"" : "", q, q[0] ? "\"" : "");
	}
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

static int
unit_empty(zt_db *db, const char *tenant, const char *id)
{
	int err;

	if ((err = refuse_if(db, "SELECT name FROM org_units WHERE"
	    " tenant = $1 AND parent_id = $2 LIMIT 1", tenant, id,
	    "it has sub-unit")) < 0 ||
	    (err = refuse_if(db, "SELECT name FROM identities WHERE"
	    " tenant = $1 AND unit_id = $2 LIMIT 1", tenant, id,
	    "it has member")) < 0 ||
	    (err = refuse_if(db, "SELECT name FROM identity_groups WHERE"
	    " tenant = $1 AND unit_id = $2 AND kind = 'role' LIMIT 1",
	    tenant, id, "it owns role group")) < 0)
		return err;
	return refuse_if(db, "SELECT g.name FROM group_members m"
	    " JOIN identity_groups g ON g.tenant = m.tenant"
	    " AND g.id = m.group_id WHERE m.tenant = $1"
	    " AND m.member_type = 'group' AND m.member_id = $2 LIMIT 1",
	    tenant, id, "its org group is a member of group");
}

static int
unit_delete_tx(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version)
{
	json_t *before = NULL;
	struct scope sc;
	zt_stmt *st;
	int err;

	if ((err = unit_begin(&before, &sc, cx, tenant, id, version,
	    true)) < 0 ||
	    (err = unit_empty(cx->db, tenant, id)) < 0 ||
	    (err = group_delete_row(cx, tenant, id, NULL)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "DELETE FROM org_units"
	    " WHERE tenant = $1 AND id = $2")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_run(st)) < 0)
		goto out;
	err = id_audit(cx, "org.delete", tenant, "unit", id, before, NULL);
out:
	json_decref(before);
	return err;
}

int
zt_unit_delete(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version)
{
	int err;

	if ((err = tx_begin(cx)) < 0)
		return err;
	return tx_end(cx, unit_delete_tx(cx, tenant, id, version));
}
