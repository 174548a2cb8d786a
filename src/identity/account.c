/*
 * account.c: accounts, the login names of an identity in an account
 * system.
 *
 * A login name is unique within its (tenant, account system) without
 * regard to case: the row keeps the name as given and a folded key under
 * a unique index.  Folding is ASCII only; other characters compare byte
 * for byte (docs/architecture.md, "Known shortcomings").
 * An account is in a caller's scope when its identity is.
 */
#include <stdio.h>
#include <string.h>

#include "identity/identity_int.h"

static const char *const account_states[] = { "active", "disabled", NULL };

#define ACCOUNT_COLS "a.id, a.tenant, a.identity_id, a.system_id," \
	" a.login_name, a.state, a.version, a.created_at, a.updated_at, u.path"
#define ACCOUNT_FROM " FROM accounts a JOIN identities i" \
	" ON i.tenant = a.tenant AND i.id = a.identity_id" \
	" LEFT JOIN org_units u ON u.tenant = i.tenant AND u.id = i.unit_id"

void
login_fold(char out[LOGIN_MAX + 1], const char *login)
{
	size_t i;

	for (i = 0; i < LOGIN_MAX && login[i] != '\0'; i++)
		out[i] = login[i] >= 'A' && login[i] <= 'Z' ?
		    login[i] - 'A' + 'a' : login[i];
	out[i] = '\0';
}

static json_t *
account_json(zt_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o}",
	    "id", zt_stmt_text(st, 0), "tenant", zt_stmt_text(st, 1),
	    "identity_id", zt_stmt_text(st, 2),
	    "system_id", zt_stmt_text(st, 3),
	    "login_name", zt_stmt_text(st, 4), "state", zt_stmt_text(st, 5),
	    "version", (json_int_t)zt_stmt_int(st, 6),
	    "created_at", zt_time_json(zt_stmt_int(st, 7)),
	    "updated_at", zt_time_json(zt_stmt_int(st, 8)));
}

static int
account_fetch(json_t **out, zt_db *db, const struct scope *sc,
    const char *id)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if (!id_ok(id))
		return not_found("account", id);
	if ((err = zt_db_prepare(&st, db, "SELECT " ACCOUNT_COLS ACCOUNT_FROM
	    " WHERE a.tenant = $1 AND a.id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sc->tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (scope_has_path(sc, zt_stmt_text(st, 9)))
			*out = account_json(st);
		else
			err = ZT_DONE;
	}
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("account", id);
	return err < 0 ? err : ZT_OK;
}

/* The checks of a new account that need no database (also the import's). */
int
account_check(const zt_account_spec *spec)
{
	const char *l = spec->login_name;
	int err;

	if ((err = check_text("login_name", l, LOGIN_MAX)) < 0)
		return err;
	if (l[0] == ' ' || l[strlen(l) - 1] == ' ')
		return zt_error_set(ZT_EINVAL, "field \"login_name\": may not "
		    "start or end with a space");
	if (spec->state != NULL && (err = check_enum(NULL, "state",
	    spec->state, account_states)) < 0)
		return err;
	return ZT_OK;
}

int
acctsys_exists(zt_db *db, const char *tenant, const char *id)
{
	zt_stmt *st;
	int err;

	if (!id_ok(id))
		return not_found("account system", id);
	if ((err = zt_db_prepare(&st, db, "SELECT 1 FROM account_systems"
	    " WHERE tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("account system", id);
	return err < 0 ? err : ZT_OK;
}

static int
account_row_insert(zt_db *db, const char *tenant, const char *id,
    const zt_account_spec *spec, int64_t now)
{
	char key[LOGIN_MAX + 1], q[QUOTE_MAX + 4];
	zt_stmt *st;
	int err;

	login_fold(key, spec->login_name);
	if ((err = zt_db_prepare(&st, db, "INSERT INTO accounts (tenant, id,"
	    " identity_id, system_id, login_name, login_key, state, version,"
	    " created_at, updated_at)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_text(st, 3, spec->identity);
	zt_stmt_bind_text(st, 4, spec->system);
	zt_stmt_bind_text(st, 5, spec->login_name);
	zt_stmt_bind_text(st, 6, key);
	zt_stmt_bind_text(st, 7, spec->state ? spec->state : "active");
	zt_stmt_bind_int(st, 8, now);
	if ((err = zt_stmt_run(st)) == ZT_EEXISTS) {
		quote(q, spec->login_name);
		return zt_error_set(ZT_EEXISTS, "field \"login_name\": \"%s\" "
		    "is taken in this account system", q);
	}
	return err;
}

/*
 * Inserts an account and its audit record in the caller's transaction.
 * `identity` is the owner's document when the caller has it (the import
 * has just made it), else NULL and it is read here, in scope; likewise
 * `system_known` says the caller has seen the account system exist.
 */
int
account_insert(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    const zt_account_spec *spec, json_t *identity, bool system_known)
{
	char id[ZT_ID_LEN + 1];
	json_t *owner = NULL;
	int64_t now = zt_now_ms();
	int err;

	*out = NULL;
	if ((err = account_check(spec)) < 0)
		return err;
	if (identity == NULL && (err = identity_fetch(&owner, cx, sc,
	    spec->identity)) < 0)
		return err;
	if (strcmp(json_string_value(json_object_get(identity ? identity :
	    owner, "state")), "deprovisioned") == 0) {
		err = zt_error_set(ZT_ECONFLICT, "identity is deprovisioned");
		goto out;
	}
	if ((!system_known && (err = acctsys_exists(cx->db, sc->tenant,
	    spec->system)) < 0) || (err = new_id(id)) < 0 ||
	    (err = account_row_insert(cx->db, sc->tenant, id, spec, now)) < 0)
		goto out;
	*out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o}",
	    "id", id, "tenant", sc->tenant, "identity_id", spec->identity,
	    "system_id", spec->system, "login_name", spec->login_name,
	    "state", spec->state ? spec->state : "active", "version",
	    (json_int_t)1, "created_at", zt_time_json(now),
	    "updated_at", zt_time_json(now));
	if ((err = id_audit(cx, "account.create", sc->tenant, "account", id,
	    NULL, *out)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
out:
	json_decref(owner);
	return err;
}

int
zt_account_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_account_spec *spec)
{
	struct scope sc;
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = scope_enter(&sc, cx, tenant)) == ZT_OK)
		err = account_insert(&doc, cx, &sc, spec, NULL, false);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

int
zt_account_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id)
{
	struct scope sc;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	return account_fetch(out, cx->db, &sc, id);
}

int
zt_account_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *identity)
{
	json_t *owner = NULL, *list;
	struct scope sc;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = identity_fetch(&owner, cx, &sc, identity)) < 0)
		return err;
	json_decref(owner);
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " ACCOUNT_COLS
	    ACCOUNT_FROM " WHERE a.tenant = $1 AND a.identity_id = $2"
	    " ORDER BY a.id")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, identity);
	list = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(list, account_json(st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

/* Runs `sql` ($1 tenant, $2 id, $3 read version[, $4 state, $5 time]) on
 * one account, and fails with ZT_ECONFLICT unless it touched the row. */
static int
account_write(zt_db *db, const char *sql, const char *tenant,
    const char *id, int64_t have, const char *state)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_int(st, 3, have);
	if (state != NULL) {
		zt_stmt_bind_text(st, 4, state);
		zt_stmt_bind_int(st, 5, zt_now_ms());
	}
	if ((err = zt_stmt_step(st)) >= 0 && zt_stmt_changes(st) != 1)
		err = zt_error_set(ZT_ESTALE, "account changed "
		    "concurrently; read it again");
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

/* Reads the account in scope and checks the caller's version. */
static int
account_begin(json_t **before, int64_t *have, const zt_id_ctx *cx,
    struct scope *sc, const char *tenant, const char *id, int64_t version)
{
	int err;

	if ((err = scope_enter(sc, cx, tenant)) < 0 ||
	    (err = account_fetch(before, cx->db, sc, id)) < 0)
		return err;
	*have = json_integer_value(json_object_get(*before, "version"));
	return check_version("account", *have, version);
}

int
zt_account_set_state(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *id, const char *state, int64_t version)
{
	json_t *before = NULL, *doc = NULL;
	struct scope sc;
	int64_t have;
	int err;

	*out = NULL;
	if ((err = check_enum(NULL, "state", state, account_states)) < 0 ||
	    (err = tx_begin(cx)) < 0)
		return err;
	if ((err = account_begin(&before, &have, cx, &sc, tenant, id,
	    version)) == ZT_OK &&
	    (err = account_write(cx->db, "UPDATE accounts SET state = $4,"
	    " version = version + 1, updated_at = $5 WHERE tenant = $1"
	    " AND id = $2 AND version = $3", tenant, id, have, state)) ==
	    ZT_OK &&
	    (err = account_fetch(&doc, cx->db, &sc, id)) == ZT_OK)
		err = id_audit(cx, "account.state", tenant, "account", id,
		    before, doc);
	json_decref(before);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

int
zt_account_delete(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version)
{
	json_t *before = NULL;
	struct scope sc;
	int64_t have;
	int err;

	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = account_begin(&before, &have, cx, &sc, tenant, id,
	    version)) == ZT_OK &&
	    (err = account_write(cx->db, "DELETE FROM accounts WHERE"
	    " tenant = $1 AND id = $2 AND version = $3", tenant, id, have,
	    NULL)) == ZT_OK)
		err = id_audit(cx, "account.delete", tenant, "account", id,
		    before, NULL);
	json_decref(before);
	return tx_end(cx, err);
}
