/*
 * ident.c: identities: creation, lookups, attributes, lifecycle, moves
 * between units, the paged list, and effective groups.
 *
 * An identity's SPIFFE ID is not stored: it is
 * spiffe://<trust domain>/<tenant>/<kind>/<name>, made when a document is
 * rendered, so a change of trust domain in the configuration takes effect
 * everywhere at once.  A lookup by SPIFFE ID parses it and reads the
 * (tenant, kind, name) index.  Names never change for the same reason.
 *
 * Lifecycle: staged -> active, active <-> suspended, and any state ->
 * deprovisioned, which is final.  Setting the state an identity already
 * has changes nothing and writes no audit record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity_int.h"

#define XSTR(x) STR(x)
#define STR(x) #x

const char *const identity_kinds[] = {
	"person", "device", "service", "application", "api", NULL,
};

const char *const identity_states[] = {
	"staged", "active", "suspended", "deprovisioned", NULL,
};

enum { ST_STAGED, ST_ACTIVE, ST_SUSPENDED, ST_DEPROVISIONED };

/* Allowed moves, by state index: a bit per target state. */
static const unsigned transitions[] = {
	[ST_STAGED] = 1u << ST_ACTIVE | 1u << ST_DEPROVISIONED,
	[ST_ACTIVE] = 1u << ST_SUSPENDED | 1u << ST_DEPROVISIONED,
	[ST_SUSPENDED] = 1u << ST_ACTIVE | 1u << ST_DEPROVISIONED,
	[ST_DEPROVISIONED] = 0,
};

#define IDENT_COLS "i.id, i.tenant, i.kind, i.name, i.state, i.unit_id," \
	" i.attributes, i.version, i.created_at, i.updated_at, u.path"
#define IDENT_FROM " FROM identities i LEFT JOIN org_units u" \
	" ON u.tenant = i.tenant AND u.id = i.unit_id"

/* ---- documents ----------------------------------------------------------- */

/* One identity as the API shows it; `attrs` is taken over. */
struct ident_row {
	const char *id, *tenant, *kind, *name, *state, *unit;
	json_t *attrs;
	int64_t version, created, updated;
};

static json_t *
ident_json(const zt_id_ctx *cx, const struct ident_row *r)
{
	char spiffe[ZT_SPIFFE_ID_MAX + 1];

	snprintf(spiffe, sizeof(spiffe), "spiffe://%s/%s/%s/%s",
	    trust_domain(cx), r->tenant, r->kind, r->name);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:o, s:I, "
	    "s:o, s:o}",
	    "id", r->id, "tenant", r->tenant, "kind", r->kind,
	    "name", r->name, "spiffe_id", spiffe, "state", r->state,
	    "unit_id", r->unit,
	    "attributes", r->attrs ? r->attrs : json_object(),
	    "version", (json_int_t)r->version,
	    "created_at", zt_time_json(r->created),
	    "updated_at", zt_time_json(r->updated));
}

static json_t *
ident_row_json(const zt_id_ctx *cx, zt_stmt *st)
{
	struct ident_row r = {
		.id = zt_stmt_text(st, 0), .tenant = zt_stmt_text(st, 1),
		.kind = zt_stmt_text(st, 2), .name = zt_stmt_text(st, 3),
		.state = zt_stmt_text(st, 4), .unit = zt_stmt_text(st, 5),
		.attrs = json_loads(zt_stmt_text(st, 6), 0, NULL),
		.version = zt_stmt_int(st, 7), .created = zt_stmt_int(st, 8),
		.updated = zt_stmt_int(st, 9),
	};

	return ident_json(cx, &r);
}

/* Reads the one row `st` selects (IDENT_COLS), if it is in scope. */
static int
ident_read(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    zt_stmt *st, const char *what, const char *key)
{
	int err;

	*out = NULL;
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (scope_has_path(sc, zt_stmt_text(st, 10)))
			*out = ident_row_json(cx, st);
		else
			err = ZT_DONE;
	}
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found(what, key);
	return err < 0 ? err : ZT_OK;
}

int
identity_fetch(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    const char *id)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if (!id_ok(id))
		return not_found("identity", id);
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " IDENT_COLS IDENT_FROM
	    " WHERE i.tenant = $1 AND i.id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sc->tenant);
	zt_stmt_bind_text(st, 2, id);
	return ident_read(out, cx, sc, st, "identity", id);
}

/* ---- create -------------------------------------------------------------- */

/* The checks of a new identity that need no database; shared with the
 * import, which runs them before its transaction. */
int
identity_check(const struct scope *sc, const zt_identity_spec *spec)
{
	static const char *const initial[] = { "staged", "active", NULL };
	int err;

	if ((err = check_enum(NULL, "kind", spec->kind, identity_kinds)) < 0 ||
	    (err = check_name("name", spec->name)) < 0)
		return err;
	if (spec->state != NULL &&
	    (err = check_enum(NULL, "state", spec->state, initial)) < 0)
		return err;
	if (spec->unit == NULL && sc->subtree)
		return zt_error_set(ZT_EINVAL, "field \"unit_id\": required "
		    "for a unit administrator");
	return ZT_OK;
}

static int
ident_row_insert(zt_db *db, const struct ident_row *r, const char *attrs)
{
	char q[QUOTE_MAX + 4];
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO identities (tenant, id,"
	    " kind, name, state, unit_id, attributes, version, created_at,"
	    " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, r->tenant);
	zt_stmt_bind_text(st, 2, r->id);
	zt_stmt_bind_text(st, 3, r->kind);
	zt_stmt_bind_text(st, 4, r->name);
	zt_stmt_bind_text(st, 5, r->state);
	zt_stmt_bind_text(st, 6, r->unit);
	zt_stmt_bind_text(st, 7, attrs);
	zt_stmt_bind_int(st, 8, r->created);
	if ((err = zt_stmt_run(st)) == ZT_EEXISTS) {
		quote(q, r->name);
		return zt_error_set(ZT_EEXISTS, "a %s named \"%s\" exists",
		    r->kind, q);
	}
	return err;
}

/*
 * Inserts an identity, its attribute rows and its audit record inside the
 * caller's transaction; *out gets its document.  Shared with the import.
 */
int
identity_insert(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    const zt_identity_spec *spec)
{
	char id[ZT_ID_LEN + 1], path[PATH_MAX_LEN + 1], *text = NULL;
	struct ident_row r = { 0 };
	json_t *attrs = NULL;
	int err;

	*out = NULL;
	if ((err = identity_check(sc, spec)) < 0 ||
	    (err = attrs_normalize(&attrs, spec->attributes)) < 0)
		return err;
	if (spec->unit != NULL && (err = unit_path(path, cx->db, sc,
	    spec->unit)) < 0)
		goto out;
	if ((err = new_id(id)) < 0)
		goto out;
	if ((text = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	r = (struct ident_row){ .id = id, .tenant = sc->tenant,
	    .kind = spec->kind, .name = spec->name,
	    .state = spec->state ? spec->state : "staged",
	    .unit = spec->unit, .version = 1, .created = zt_now_ms() };
	r.updated = r.created;
	if ((err = ident_row_insert(cx->db, &r, text)) < 0 ||
	    (err = attrs_write(cx->db, sc->tenant, id, spec->name, attrs)) < 0)
		goto out;
	r.attrs = attrs;
	attrs = NULL;
	*out = ident_json(cx, &r);
	if ((err = id_audit(cx, "identity.create", sc->tenant, "identity",
	    id, NULL, *out)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
out:
	json_decref(attrs);
	free(text);
	return err;
}

int
zt_identity_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_identity_spec *spec)
{
	struct scope sc;
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = scope_enter(&sc, cx, tenant)) == ZT_OK)
		err = identity_insert(&doc, cx, &sc, spec);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

/* ---- lookups ------------------------------------------------------------- */

int
zt_identity_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id)
{
	struct scope sc;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	return identity_fetch(out, cx, &sc, id);
}

/* Splits "/tenant/kind/name" of an ID of ours into `parts`. */
static bool
spiffe_split(char parts[3][ZT_SPIFFE_ID_MAX + 1], const zt_spiffe_id *sid)
{
	const char *p = sid->path;
	size_t i, n;

	if (sid->nsegs != 3)
		return false;
	for (i = 0; i < 3; i++) {
		p++;
		n = strcspn(p, "/");
		memcpy(parts[i], p, n);
		parts[i][n] = '\0';
		p += n;
	}
	return slug_ok(parts[0], ZT_TENANT_ID_MAX) &&
	    check_enum(NULL, "kind", parts[1], identity_kinds) == ZT_OK &&
	    name_ok(parts[2]);
}

int
zt_identity_get_by_spiffe(json_t **out, const zt_id_ctx *cx,
    const char *spiffe_id)
{
	char parts[3][ZT_SPIFFE_ID_MAX + 1];
	zt_spiffe_id sid;
	struct scope sc;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_spiffe_id_validate(spiffe_id)) < 0)
		return err;
	zt_spiffe_id_parse(&sid, spiffe_id, strlen(spiffe_id));
	if (strcmp(sid.trust_domain, trust_domain(cx)) != 0 ||
	    !spiffe_split(parts, &sid))
		return not_found("identity", spiffe_id);
	if ((err = scope_enter(&sc, cx, parts[0])) < 0)
		return err == ZT_ENOTFOUND ? not_found("identity", spiffe_id) :
		    err;
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " IDENT_COLS IDENT_FROM
	    " WHERE i.tenant = $1 AND i.kind = $2 AND i.name = $3")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, parts[0]);
	zt_stmt_bind_text(st, 2, parts[1]);
	zt_stmt_bind_text(st, 3, parts[2]);
	return ident_read(out, cx, &sc, st, "identity", spiffe_id);
}

int
zt_identity_get_by_login(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *system_id, const char *login_name)
{
	char key[LOGIN_MAX + 1];
	struct scope sc;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	if (!id_ok(system_id))
		return not_found("account system", system_id);
	if (!text_ok(login_name, LOGIN_MAX))
		return not_found("account", login_name);
	login_fold(key, login_name);
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " IDENT_COLS
	    " FROM accounts a JOIN identities i ON i.tenant = a.tenant"
	    " AND i.id = a.identity_id LEFT JOIN org_units u"
	    " ON u.tenant = i.tenant AND u.id = i.unit_id"
	    " WHERE a.tenant = $1 AND a.system_id = $2"
	    " AND a.login_key = $3")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, system_id);
	zt_stmt_bind_text(st, 3, key);
	return ident_read(out, cx, &sc, st, "account", login_name);
}

/* ---- changes ------------------------------------------------------------- */

/* What one change of an identity row sets, besides version and time. */
struct ident_change {
	const char *action;	/* audit action */
	const char *column;	/* "state", "unit_id" or "attributes" */
	const char *value;	/* NULL allowed for unit_id */
	json_t *attrs;		/* for "attributes": rows to write */
};

static int
ident_update_row(zt_db *db, const char *tenant, const char *id,
    const struct ident_change *c, int64_t have)
{
	char sql[256];
	zt_stmt *st;
	int err;

	/* The column comes from the code, never from input. */
	snprintf(sql, sizeof(sql), "UPDATE identities SET %s = $1,"
	    " version = version + 1, updated_at = $2 WHERE tenant = $3"
	    " AND id = $4 AND version = $5", c->column);
	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, c->value);
	zt_stmt_bind_int(st, 2, zt_now_ms());
	zt_stmt_bind_text(st, 3, tenant);
	zt_stmt_bind_text(st, 4, id);
	zt_stmt_bind_int(st, 5, have);
	if ((err = zt_stmt_step(st)) >= 0 && zt_stmt_changes(st) != 1)
		err = zt_error_set(ZT_ESTALE, "identity changed "
		    "concurrently; read it again");
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

/* Applies `c` to an identity `before` (already read, in scope) and audits
 * it; *out gets the new document. */
static int
ident_apply(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    const char *id, json_t *before, const struct ident_change *c)
{
	int64_t have = json_integer_value(json_object_get(before, "version"));
	int err;

	if ((err = ident_update_row(cx->db, sc->tenant, id, c, have)) < 0)
		return err;
	if (c->attrs != NULL &&
	    ((err = attrs_clear(cx->db, sc->tenant, id)) < 0 ||
	    (err = attrs_write(cx->db, sc->tenant, id, json_string_value(
	    json_object_get(before, "name")), c->attrs)) < 0))
		return err;
	if ((err = identity_fetch(out, cx, sc, id)) < 0)
		return err;
	return id_audit(cx, c->action, sc->tenant, "identity", id, before,
	    *out);
}

/*
 * The frame of every identity change: transaction, scope, read, version
 * check, then for each step `prep` decides the change from the current
 * document (it may set *skip when there is nothing to do), and the change
 * is applied and audited; the next step starts from its result.  All
 * steps commit together or not at all.
 */
typedef int (*ident_prep_fn)(struct ident_change *c, bool *skip,
    const zt_id_ctx *cx, const struct scope *sc, json_t *before,
    const void *arg);

struct ident_step {
	ident_prep_fn prep;
	const void *arg;
};

static int
ident_step(json_t **doc, const zt_id_ctx *cx, const struct scope *sc,
    const char *id, const struct ident_step *step)
{
	struct ident_change c = { 0 };
	json_t *after = NULL;
	bool skip = false;
	int err;

	if ((err = step->prep(&c, &skip, cx, sc, *doc, step->arg)) == ZT_OK &&
	    !skip && (err = ident_apply(&after, cx, sc, id, *doc, &c)) == ZT_OK) {
		json_decref(*doc);
		*doc = after;
	}
	json_decref(c.attrs);
	return err;
}

static int
ident_change(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, int64_t version, const struct ident_step *steps,
    size_t nsteps)
{
	json_t *doc = NULL;
	struct scope sc;
	size_t i;
	int err;

	*out = NULL;
	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = identity_fetch(&doc, cx, &sc, id)) < 0 ||
	    (err = check_version("identity", json_integer_value(
	    json_object_get(doc, "version")), version)) < 0)
		goto out;
	for (i = 0; i < nsteps && err == ZT_OK; i++)
		err = ident_step(&doc, cx, &sc, id, &steps[i]);
out:
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

static int
prep_state(struct ident_change *c, bool *skip, const zt_id_ctx *cx,
    const struct scope *sc, json_t *before, const void *arg)
{
	const char *to = arg, *from;
	int ifrom, ito, err;

	if ((err = check_enum(&ito, "state", to, identity_states)) < 0)
		return err;
	from = json_string_value(json_object_get(before, "state"));
	if (check_enum(&ifrom, "state", from, identity_states) < 0)
		return zt_error_set(ZT_ERR, "identity has an unknown state");
	if (ifrom == ito) {
		*skip = true;
		return ZT_OK;
	}
	if (!(transitions[ifrom] & 1u << ito))
		return zt_error_set(ZT_ECONFLICT, "field \"state\": an "
		    "identity cannot go from %s to %s", from, to);
	*c = (struct ident_change){ "identity.state", "state", to, NULL };
	return ZT_OK;
}

int
zt_identity_set_state(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *id, const char *state, int64_t version)
{
	return ident_change(out, cx, tenant, id, version,
	    &(struct ident_step){ prep_state, state }, 1);
}

static int
prep_move(struct ident_change *c, bool *skip, const zt_id_ctx *cx,
    const struct scope *sc, json_t *before, const void *arg)
{
	const char *to = arg, *from;
	char path[PATH_MAX_LEN + 1];
	int err;

	if (to == NULL && sc->subtree)
		return zt_error_set(ZT_EINVAL, "field \"unit_id\": required "
		    "for a unit administrator");
	if (to != NULL && (err = unit_path(path, cx->db, sc, to)) < 0)
		return err;
	from = json_string_value(json_object_get(before, "unit_id"));
	if ((from == NULL && to == NULL) ||
	    (from != NULL && to != NULL && strcmp(from, to) == 0)) {
		*skip = true;
		return ZT_OK;
	}
	*c = (struct ident_change){ "identity.move", "unit_id", to, NULL };
	return ZT_OK;
}

int
zt_identity_move(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *unit, int64_t version)
{
	return ident_change(out, cx, tenant, id, version,
	    &(struct ident_step){ prep_move, unit }, 1);
}

/* Holds the attribute text while the change runs. */
struct attrs_arg {
	json_t *in;
	char *text;
};

static int
prep_attrs(struct ident_change *c, bool *skip, const zt_id_ctx *cx,
    const struct scope *sc, json_t *before, const void *arg)
{
	struct attrs_arg *a = (struct attrs_arg *)(uintptr_t)arg;
	json_t *norm;
	int err;

	if ((err = attrs_normalize(&norm, a->in)) < 0)
		return err;
	if ((a->text = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL) {
		json_decref(norm);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	*c = (struct ident_change){ "identity.update", "attributes", a->text,
	    norm };
	return ZT_OK;
}

int
zt_identity_set_attributes(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *id, json_t *attributes, int64_t version)
{
	struct attrs_arg a = { attributes, NULL };
	int err;

	err = ident_change(out, cx, tenant, id, version,
	    &(struct ident_step){ prep_attrs, &a }, 1);
	free(a.text);
	return err;
}

/* The steps run in a fixed order: attributes, unit, state, so that an
 * identity suspended or deprovisioned by the request is already where
 * the request put it. */
int
zt_identity_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const zt_identity_patch *p, int64_t version)
{
	struct attrs_arg a = { p->attributes, NULL };
	struct ident_step steps[3];
	size_t n = 0;
	int err;

	if (p->attributes != NULL)
		steps[n++] = (struct ident_step){ prep_attrs, &a };
	if (p->set_unit)
		steps[n++] = (struct ident_step){ prep_move, p->unit };
	if (p->state != NULL)
		steps[n++] = (struct ident_step){ prep_state, p->state };
	err = ident_change(out, cx, tenant, id, version, steps, n);
	free(a.text);
	return err;
}

/* ---- effective groups ---------------------------------------------------- */

/*
 * Direct groups are the identity's group_members rows plus the org groups
 * of its unit and every unit above, which are the segments of the unit's
 * path (an org group has its unit's id).  The seg CTE counts the path's
 * segments; the closure table then adds every group above each.  The
 * shape (scalar subquery, IN list) keeps every step an index lookup
 * whatever the planner knows of the tables.
 */
static const char groups_sql[] =
    "WITH RECURSIVE seg(k) AS ("
    " SELECT 0 UNION ALL SELECT k + 1 FROM seg"
    " WHERE k < " XSTR(ZT_UNIT_DEPTH_MAX) " - 1),"
    " me(path) AS (SELECT path FROM org_units WHERE tenant = $1"
    " AND id = (SELECT unit_id FROM identities WHERE tenant = $1"
    " AND id = $2)),"
    " direct(gid) AS ("
    " SELECT group_id FROM group_members WHERE tenant = $1"
    " AND member_type = 'identity' AND member_id = $2"
    " UNION ALL"
    " SELECT substr(me.path, 2 + seg.k * (" XSTR(ZT_ID_LEN) " + 1), "
    XSTR(ZT_ID_LEN) ") FROM me JOIN seg"
    " ON 2 + seg.k * (" XSTR(ZT_ID_LEN) " + 1) < length(me.path))"
    " SELECT g.id, g.kind, g.name, g.unit_id, MIN(c.depth)"
    " FROM group_closure c JOIN identity_groups g"
    " ON g.tenant = c.tenant AND g.id = c.ancestor"
    " WHERE c.tenant = $1 AND c.descendant IN (SELECT gid FROM direct)"
    " GROUP BY g.id, g.kind, g.name, g.unit_id"
    " ORDER BY g.name, g.id";

int
zt_identity_groups(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id)
{
	json_t *doc = NULL, *list;
	struct scope sc;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = identity_fetch(&doc, cx, &sc, id)) < 0)
		return err;
	json_decref(doc);
	if ((err = zt_db_prepare(&st, cx->db, groups_sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	list = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s?, "
		    "s:I}", "id", zt_stmt_text(st, 0),
		    "kind", zt_stmt_text(st, 1), "name", zt_stmt_text(st, 2),
		    "unit_id", zt_stmt_text(st, 3),
		    "depth", (json_int_t)zt_stmt_int(st, 4)));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

/* ---- the list ------------------------------------------------------------ */

/* SQL built from fixed fragments (never from input) with its parameters;
 * the fragments present pick one of a bounded set of statements.  At
 * most 18 parameters: tenant, kind, state, two for the prefix, two per
 * attribute filter, two for the scope, two for the cursor, the limit. */
#define QB_PARAMS 24

struct qb {
	zt_buf sql;
	int n;
	struct {
		const char *s;
		int64_t i;
		bool is_int;
	} p[QB_PARAMS];
	char *owned[ZT_QUERY_ATTRS_MAX];	/* attribute value texts */
};

static int
qp_text(struct qb *q, const char *s)
{
	q->p[q->n].s = s;
	q->p[q->n].is_int = false;
	return ++q->n;
}

static int
qp_int(struct qb *q, int64_t v)
{
	q->p[q->n].i = v;
	q->p[q->n].is_int = true;
	return ++q->n;
}

/* Cursor parts: the sort key and the id of the last row of a page. */
struct page_pos {
	char key[ZT_NAME_MAX + 32];
	char id[ZT_ID_LEN + 2];
	char prefix_hi[ZT_NAME_MAX + 2];	/* end of the name range */
	int64_t created;
};

/*
 * Which rows a list walks.  A list in name order with an attribute filter
 * walks the holders of the first filter's value in the index of
 * identity_attrs, which keeps each identity's name, so a page costs its
 * own rows whatever the tenant's size, and a value no one holds costs one
 * probe.  (CROSS JOIN tells SQLite to keep that table outermost; to
 * PostgreSQL it is an inner join like any other.)  Every other list walks
 * the identities in the order asked.
 */
struct walk {
	const char *name, *id;		/* the sort columns */
	bool by_attr;
};

static void
list_from(struct qb *q, struct walk *w, const zt_identity_query *qr)
{
	w->by_attr = qr->nattrs > 0 && qr->sort == ZT_SORT_NAME;
	w->name = w->by_attr ? "a.name" : "i.name";
	w->id = w->by_attr ? "a.identity_id" : "i.id";
	zt_buf_adds(&q->sql, "SELECT " IDENT_COLS);
	if (w->by_attr)
		zt_buf_adds(&q->sql, " FROM identity_attrs a CROSS JOIN"
		    " identities i LEFT JOIN org_units u"
		    " ON u.tenant = i.tenant AND u.id = i.unit_id");
	else
		zt_buf_adds(&q->sql, IDENT_FROM);
}

static int
list_filters(struct qb *q, const struct walk *w, const struct scope *sc,
    const zt_identity_query *qr, struct page_pos *pp)
{
	size_t i;
	int a, b, err;

	zt_buf_addf(&q->sql, " WHERE i.tenant = $%d", qp_text(q, sc->tenant));
	if (qr->kind != NULL)
		zt_buf_addf(&q->sql, " AND i.kind = $%d", qp_text(q, qr->kind));
	if (qr->state != NULL)
		zt_buf_addf(&q->sql, " AND i.state = $%d",
		    qp_text(q, qr->state));
	if (qr->name_prefix != NULL && qr->name_prefix[0] != '\0') {
		prefix_hi(pp->prefix_hi, sizeof(pp->prefix_hi),
		    qr->name_prefix);
		a = qp_text(q, qr->name_prefix);
		b = qp_text(q, pp->prefix_hi);
		zt_buf_addf(&q->sql, " AND %s >= $%d AND %s < $%d",
		    w->name, a, w->name, b);
	}
	for (i = 0; i < qr->nattrs; i++) {
		if ((err = attrs_value_key(&q->owned[i], qr->attrs[i].value,
		    "attrs", qr->attrs[i].key)) < 0)
			return err;
		a = qp_text(q, qr->attrs[i].key);
		b = qp_text(q, q->owned[i]);
		if (i == 0 && w->by_attr)
			zt_buf_addf(&q->sql, " AND a.tenant = $1"
			    " AND a.key = $%d AND a.value_text = $%d"
			    " AND i.id = a.identity_id", a, b);
		else
			zt_buf_addf(&q->sql, " AND i.id IN (SELECT identity_id"
			    " FROM identity_attrs WHERE tenant = $1"
			    " AND key = $%d AND value_text = $%d)", a, b);
	}
	if (sc->subtree) {
		a = qp_text(q, sc->lo);
		b = qp_text(q, sc->hi);
		zt_buf_addf(&q->sql, " AND u.path >= $%d AND u.path < $%d",
		    a, b);
	}
	return ZT_OK;
}

static int
list_check(const zt_identity_query *q)
{
	size_t i;
	int err;

	if (q->kind != NULL &&
	    (err = check_enum(NULL, "kind", q->kind, identity_kinds)) < 0)
		return err;
	if (q->state != NULL &&
	    (err = check_enum(NULL, "state", q->state, identity_states)) < 0)
		return err;
	if (q->name_prefix != NULL && q->name_prefix[0] != '\0' &&
	    !name_ok(q->name_prefix))
		return zt_error_set(ZT_EINVAL, "field \"name_prefix\": not "
		    "the start of a valid name");
	if (q->nattrs > ZT_QUERY_ATTRS_MAX)
		return zt_error_set(ZT_EINVAL, "field \"attrs\": at most %d "
		    "attribute filters", ZT_QUERY_ATTRS_MAX);
	for (i = 0; i < q->nattrs; i++)
		if (q->attrs[i].key == NULL || q->attrs[i].value == NULL)
			return zt_error_set(ZT_EINVAL, "field \"attrs\": a "
			    "filter needs a key and a value");
	if (q->sort != ZT_SORT_NAME && q->sort != ZT_SORT_CREATED)
		return zt_error_set(ZT_EINVAL, "field \"sort\": must be one "
		    "of name, created_at");
	return ZT_OK;
}

static int
list_cursor(struct qb *q, const struct walk *w, const zt_identity_query *qr,
    struct page_pos *pp)
{
	char tag = qr->sort == ZT_SORT_NAME ? 'n' : 'c';
	int a, b, err;

	if (qr->cursor == NULL)
		return ZT_OK;
	if ((err = cursor_decode(qr->cursor, tag, pp->key, sizeof(pp->key),
	    pp->id, sizeof(pp->id))) < 0)
		return err;
	if (qr->sort == ZT_SORT_NAME) {
		a = qp_text(q, pp->key);
		b = qp_text(q, pp->id);
		zt_buf_addf(&q->sql, " AND (%s, %s) > ($%d, $%d)",
		    w->name, w->id, a, b);
		return ZT_OK;
	}
	if (zt_parse_i64(pp->key, 0, INT64_MAX, &pp->created) < 0)
		return zt_error_set(ZT_EINVAL, "field \"cursor\": not a "
		    "cursor this list gave out");
	a = qp_int(q, pp->created);
	b = qp_text(q, pp->id);
	zt_buf_addf(&q->sql, " AND (i.created_at, i.id) > ($%d, $%d)", a, b);
	return ZT_OK;
}

static int
list_bind(zt_stmt *st, const struct qb *q)
{
	int i, err = ZT_OK;

	for (i = 0; i < q->n && err == ZT_OK; i++)
		err = q->p[i].is_int ? zt_stmt_bind_int(st, i + 1, q->p[i].i) :
		    zt_stmt_bind_text(st, i + 1, q->p[i].s);
	return err;
}

/* Runs the built query; a row past `limit` only tells that there is a
 * next page, whose cursor is made from the last row kept. */
static int
list_run(json_t **out, const zt_id_ctx *cx, const struct qb *q, int limit,
    char tag)
{
	char key[ZT_NAME_MAX + 32] = "", id[ZT_ID_LEN + 1] = "";
	json_t *items = json_array(), *next = NULL;
	bool more = false;
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, cx->db, q->sql.data)) < 0 ||
	    (err = list_bind(st, q)) < 0)
		goto fail;
	while ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (json_array_size(items) == (size_t)limit) {
			more = true;
			break;
		}
		json_array_append_new(items, ident_row_json(cx, st));
		snprintf(id, sizeof(id), "%s", zt_stmt_text(st, 0));
		if (tag == 'n')
			snprintf(key, sizeof(key), "%s", zt_stmt_text(st, 3));
		else
			snprintf(key, sizeof(key), "%lld",
			    (long long)zt_stmt_int(st, 8));
	}
	zt_stmt_reset(st);
	if (err < 0 || (more && (err = cursor_encode(&next, tag, key,
	    id)) < 0))
		goto fail;
	*out = json_pack("{s:o, s:o}", "items", items,
	    "next_cursor", next ? next : json_null());
	return ZT_OK;
fail:
	json_decref(items);
	return err;
}

int
zt_identity_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_identity_query *qr)
{
	struct qb q = { .sql = ZT_BUF_INIT(8192) };
	char tag = qr->sort == ZT_SORT_NAME ? 'n' : 'c';
	struct page_pos pp;
	struct scope sc;
	struct walk w;
	int limit, err;
	size_t i;

	*out = NULL;
	memset(&pp, 0, sizeof(pp));
	if ((err = list_check(qr)) < 0 ||
	    (err = page_limit(&limit, qr->limit)) < 0 ||
	    (err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	list_from(&q, &w, qr);
	if ((err = list_filters(&q, &w, &sc, qr, &pp)) < 0 ||
	    (err = list_cursor(&q, &w, qr, &pp)) < 0)
		goto out;
	if (tag == 'n')
		err = zt_buf_addf(&q.sql, " ORDER BY %s, %s LIMIT $%d",
		    w.name, w.id, qp_int(&q, limit + 1));
	else
		err = zt_buf_addf(&q.sql, " ORDER BY i.created_at, i.id"
		    " LIMIT $%d", qp_int(&q, limit + 1));
	if (err < 0)
		goto out;
	err = list_run(out, cx, &q, limit, tag);
out:
	for (i = 0; i < ZT_QUERY_ATTRS_MAX; i++)
		free(q.owned[i]);
	zt_buf_free(&q.sql);
	return err;
}

/* ---- deletion ------------------------------------------------------------- */

/* Removes every row that names the identity, children first (the foreign
 * keys point at the identity). */
static int
ident_delete_rows(zt_db *db, const char *tenant, const char *id)
{
	static const char *const sql[] = {
		"DELETE FROM accounts WHERE tenant = $1 AND identity_id = $2",
		"DELETE FROM group_members WHERE tenant = $1"
		" AND member_type = 'identity' AND member_id = $2",
		"DELETE FROM identity_attrs WHERE tenant = $1"
		" AND identity_id = $2",
		"DELETE FROM identities WHERE tenant = $1 AND id = $2",
	};
	zt_stmt *st;
	size_t i;
	int err;

	for (i = 0; i < ZT_ARRAY_LEN(sql); i++) {
		if ((err = zt_db_prepare(&st, db, sql[i])) < 0)
			return err;
		zt_stmt_bind_text(st, 1, tenant);
		zt_stmt_bind_text(st, 2, id);
		if ((err = zt_stmt_run(st)) < 0)
			return err;
	}
	return ZT_OK;
}

int
zt_identity_delete(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version)
{
	json_t *before = NULL, *accounts = NULL;
	struct scope sc;
	int err;

	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = identity_fetch(&before, cx, &sc, id)) < 0 ||
	    (err = check_version("identity", json_integer_value(
	    json_object_get(before, "version")), version)) < 0)
		goto out;

	/* The audit record keeps what went: the identity and its accounts. */
	if ((err = zt_account_list(&accounts, cx, tenant, id)) < 0)
		goto out;
	json_object_set_new(before, "accounts", accounts);
	if ((err = ident_delete_rows(cx->db, tenant, id)) == ZT_OK &&
	    (err = unlink_refs(cx, tenant, "identity", id)) == ZT_OK)
		err = id_audit(cx, "identity.delete", tenant, "identity", id,
		    before, NULL);
out:
	json_decref(before);
	return tx_end(cx, err);
}
