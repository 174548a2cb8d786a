/*
 * tenant.c: tenants and account systems.
 *
 * A tenant is an isolated namespace named by a slug, which is also its
 * SPIFFE path segment, so a tenant id never changes.  Only a system-scope
 * caller creates tenants; a tenant-scope caller sees its own.
 *
 * An account system is a tenant's login namespace (its workforce, its
 * partners, its customers, its service accounts) with a password policy
 * and an MFA rule.  The policy is a JSON object of known fields, checked
 * and stored with every default filled in, so readers never guess.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity_int.h"

/* Tenant and account-system display names: a line of a table in a UI. */
#define DISPLAY_NAME_MAX 200

/* Password policy bounds.  Beyond 1024 characters a password is a file;
 * 64 remembered hashes bound the history kept per account; ten years is
 * the longest expiry that still means "expires". */
#define PW_LENGTH_MAX 1024
#define PW_HISTORY_MAX 64
#define PW_AGE_DAYS_MAX 3650
#define PW_LOCKOUT_MAX 1000
/* Argon2id cost bounds (authn hashes with them): 1 GiB and 16 passes
 * already take seconds per login; 64 KiB is the least that is still a
 * memory-hard hash, and low costs keep tests fast. */
#define PW_ARGON2_M_MIN 64
#define PW_ARGON2_M_MAX (1024 * 1024)
#define PW_ARGON2_T_MAX 16
#define PW_ARGON2_P_MAX 16

static const char *const acctsys_kinds[] = {
	"workforce", "partner", "customer", "service", NULL,
};

/* ---- tenants ------------------------------------------------------------- */

#define TENANT_COLS "id, display_name, version, created_at, updated_at"

static json_t *
tenant_json(zt_stmt *st)
{
	return json_pack("{s:s, s:s, s:I, s:o, s:o}",
	    "id", zt_stmt_text(st, 0),
	    "display_name", zt_stmt_text(st, 1),
	    "version", (json_int_t)zt_stmt_int(st, 2),
	    "created_at", zt_time_json(zt_stmt_int(st, 3)),
	    "updated_at", zt_time_json(zt_stmt_int(st, 4)));
}

static int
tenant_fetch(json_t **out, zt_db *db, const char *id)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_db_prepare(&st, db, "SELECT " TENANT_COLS
	    " FROM tenants WHERE id = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*out = tenant_json(st);
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("tenant", id);
	return err < 0 ? err : ZT_OK;
}

static int
tenant_insert(const zt_id_ctx *cx, const char *id, const char *display)
{
	int64_t now = zt_now_ms();
	char q[QUOTE_MAX + 4];
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, cx->db, "INSERT INTO tenants (id,"
	    " display_name, version, created_at, updated_at)"
	    " VALUES ($1, $2, 1, $3, $3)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, id);
	zt_stmt_bind_text(st, 2, display);
	zt_stmt_bind_int(st, 3, now);
	if ((err = zt_stmt_run(st)) == ZT_EEXISTS) {
		quote(q, id);
		return zt_error_set(ZT_EEXISTS, "tenant \"%s\" exists", q);
	}
	return err;
}

int
zt_tenant_create(json_t **out, const zt_id_ctx *cx, const char *id,
    const char *display_name)
{
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if (cx->scope.tenant != NULL)
		return zt_error_set(ZT_EFORBIDDEN, "only a system "
		    "administrator creates tenants");
	if (!slug_ok(id, ZT_TENANT_ID_MAX))
		return zt_error_set(ZT_EINVAL, "field \"id\": must be 1 to %d "
		    "of a-z, 0-9 and '-', starting with a letter or digit",
		    ZT_TENANT_ID_MAX);
	if ((err = check_text("display_name", display_name,
	    DISPLAY_NAME_MAX)) < 0)
		return err;
	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = tenant_insert(cx, id, display_name)) == ZT_OK &&
	    (err = tenant_fetch(&doc, cx->db, id)) == ZT_OK)
		err = id_audit(cx, "tenant.create", id, "tenant", id, NULL,
		    doc);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

int
zt_tenant_get(json_t **out, const zt_id_ctx *cx, const char *id)
{
	struct scope sc;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, id)) < 0)
		return err;
	return tenant_fetch(out, cx->db, id);
}

int
zt_tenant_list(json_t **out, const zt_id_ctx *cx)
{
	json_t *list;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " TENANT_COLS
	    " FROM tenants WHERE CAST($1 AS TEXT) IS NULL OR id = $1"
	    " ORDER BY id")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, cx->scope.tenant);
	list = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(list, tenant_json(st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

static int
tenant_change(json_t **out, const zt_id_ctx *cx, const char *id,
    const char *display_name, int64_t version)
{
	json_t *before = NULL;
	zt_stmt *st;
	int64_t have;
	int err;

	if ((err = tenant_fetch(&before, cx->db, id)) < 0)
		return err;
	have = json_integer_value(json_object_get(before, "version"));
	if ((err = check_version("tenant", have, version)) < 0)
		goto out;
	if ((err = zt_db_prepare(&st, cx->db, "UPDATE tenants SET"
	    " display_name = $1, version = version + 1, updated_at = $2"
	    " WHERE id = $3 AND version = $4")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, display_name);
	zt_stmt_bind_int(st, 2, zt_now_ms());
	zt_stmt_bind_text(st, 3, id);
	zt_stmt_bind_int(st, 4, have);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = tenant_fetch(out, cx->db, id)) < 0)
		goto out;
	err = id_audit(cx, "tenant.update", id, "tenant", id, before, *out);
out:
	json_decref(before);
	return err;
}

int
zt_tenant_update(json_t **out, const zt_id_ctx *cx, const char *id,
    const char *display_name, int64_t version)
{
	struct scope sc;
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = check_text("display_name", display_name,
	    DISPLAY_NAME_MAX)) < 0)
		return err;
	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = scope_enter(&sc, cx, id)) == ZT_OK &&
	    (err = scope_need_tenant_admin(&sc)) == ZT_OK)
		err = tenant_change(&doc, cx, id, display_name, version);
	if ((err = tx_end(cx, err)) < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

/* ---- password policy ----------------------------------------------------- */

static int
pw_range(const char *name, int64_t v, int64_t lo, int64_t hi)
{
	if (v < lo || v > hi)
		return zt_error_set(ZT_EINVAL, "field \"password_policy\": "
		    "\"%s\" must be %lld to %lld", name, (long long)lo,
		    (long long)hi);
	return ZT_OK;
}

/* Checks a policy and sets *out to it with every default filled in. */
static int
policy_normalize(json_t **out, json_t *in)
{
	int64_t min_len = 12, max_len = PW_LENGTH_MAX, history = 0;
	int64_t max_age = 0, lockout = 10;
	int64_t a2_m = 19456, a2_t = 2, a2_p = 1;	/* OWASP's minimum */
	zt_json_field f[] = {
		{ "min_length", ZT_J_INT, false, &min_len, NULL },
		{ "max_length", ZT_J_INT, false, &max_len, NULL },
		{ "history", ZT_J_INT, false, &history, NULL },
		{ "max_age_days", ZT_J_INT, false, &max_age, NULL },
		{ "lockout_threshold", ZT_J_INT, false, &lockout, NULL },
		{ "argon2_memory_kib", ZT_J_INT, false, &a2_m, NULL },
		{ "argon2_iterations", ZT_J_INT, false, &a2_t, NULL },
		{ "argon2_parallelism", ZT_J_INT, false, &a2_p, NULL },
	};
	char msg[256];
	int err;

	if (in != NULL && (err = zt_json_decode(in, f, ZT_ARRAY_LEN(f))) < 0) {
		snprintf(msg, sizeof(msg), "%s", zt_error_msg());
		return zt_error_set(err, "field \"password_policy\": %s", msg);
	}
	if ((err = pw_range("min_length", min_len, 1, PW_LENGTH_MAX)) < 0 ||
	    (err = pw_range("max_length", max_len, min_len,
	    PW_LENGTH_MAX)) < 0 ||
	    (err = pw_range("history", history, 0, PW_HISTORY_MAX)) < 0 ||
	    (err = pw_range("max_age_days", max_age, 0,
	    PW_AGE_DAYS_MAX)) < 0 ||
	    (err = pw_range("lockout_threshold", lockout, 0,
	    PW_LOCKOUT_MAX)) < 0 ||
	    (err = pw_range("argon2_parallelism", a2_p, 1,
	    PW_ARGON2_P_MAX)) < 0 ||
	    (err = pw_range("argon2_memory_kib", a2_m,
	    a2_p * 8 > PW_ARGON2_M_MIN ? a2_p * 8 : PW_ARGON2_M_MIN,
	    PW_ARGON2_M_MAX)) < 0 ||
	    (err = pw_range("argon2_iterations", a2_t, 1,
	    PW_ARGON2_T_MAX)) < 0)
		return err;
	*out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "min_length", (json_int_t)min_len,
	    "max_length", (json_int_t)max_len,
	    "history", (json_int_t)history,
	    "max_age_days", (json_int_t)max_age,
	    "lockout_threshold", (json_int_t)lockout,
	    "argon2_memory_kib", (json_int_t)a2_m,
	    "argon2_iterations", (json_int_t)a2_t,
	    "argon2_parallelism", (json_int_t)a2_p);
	return ZT_OK;
}

/* ---- account systems ----------------------------------------------------- */

#define ACCTSYS_COLS "id, tenant, name, kind, password_policy, " \
	"mfa_required, version, created_at, updated_at"

static json_t *
acctsys_json(zt_stmt *st)
{
	json_t *policy = json_loads(zt_stmt_text(st, 4), 0, NULL);

	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:I, s:o, s:o}",
	    "id", zt_stmt_text(st, 0),
	    "tenant", zt_stmt_text(st, 1),
	    "name", zt_stmt_text(st, 2),
	    "kind", zt_stmt_text(st, 3),
	    "password_policy", policy ? policy : json_object(),
	    "mfa_required", (int)zt_stmt_int(st, 5),
	    "version", (json_int_t)zt_stmt_int(st, 6),
	    "created_at", zt_time_json(zt_stmt_int(st, 7)),
	    "updated_at", zt_time_json(zt_stmt_int(st, 8)));
}

static int
acctsys_fetch(json_t **out, zt_db *db, const char *tenant, const char *id)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if (!id_ok(id))
		return not_found("account system", id);
	if ((err = zt_db_prepare(&st, db, "SELECT " ACCTSYS_COLS
	    " FROM account_systems WHERE tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*out = acctsys_json(st);
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("account system", id);
	return err < 0 ? err : ZT_OK;
}

int
acctsys_find_by_name(char id[ZT_ID_LEN + 1], zt_db *db, const char *tenant,
    const char *name)
{
	zt_stmt *st;
	int err;

	if (!slug_ok(name, ZT_NAME_MAX))
		return not_found("account system", name);
	if ((err = zt_db_prepare(&st, db, "SELECT id FROM account_systems"
	    " WHERE tenant = $1 AND name = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, name);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		snprintf(id, ZT_ID_LEN + 1, "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("account system", name);
	return err < 0 ? err : ZT_OK;
}

static int
acctsys_insert(const char *id, const zt_id_ctx *cx, const char *tenant,
    const zt_acctsys_spec *spec, const char *policy)
{
	int64_t now = zt_now_ms();
	char q[QUOTE_MAX + 4];
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, cx->db, "INSERT INTO account_systems"
	    " (tenant, id, name, kind, password_policy, mfa_required,"
	    " version, created_at, updated_at)"
	    " VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_text(st, 3, spec->name);
	zt_stmt_bind_text(st, 4, spec->kind);
	zt_stmt_bind_text(st, 5, policy);
	zt_stmt_bind_int(st, 6, spec->mfa_required);
	zt_stmt_bind_int(st, 7, now);
	if ((err = zt_stmt_run(st)) == ZT_EEXISTS) {
		quote(q, spec->name);
		return zt_error_set(ZT_EEXISTS, "account system \"%s\" "
		    "exists", q);
	}
	return err;
}

/* Checks a spec; *policy gets the normalised policy as JSON text. */
static int
acctsys_check(char **policy, const zt_acctsys_spec *spec)
{
	json_t *p;
	int err;

	*policy = NULL;
	if (spec->name == NULL || !slug_ok(spec->name, ZT_NAME_MAX))
		return zt_error_set(ZT_EINVAL, "field \"name\": must be 1 to "
		    "%d of a-z, 0-9 and '-', starting with a letter or digit",
		    ZT_NAME_MAX);
	if ((err = check_enum(NULL, "kind", spec->kind, acctsys_kinds)) < 0)
		return err;
	if ((err = policy_normalize(&p, spec->password_policy)) < 0)
		return err;
	*policy = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(p);
	return *policy ? ZT_OK : zt_error_set(ZT_ENOMEM, "out of memory");
}

int
zt_acctsys_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_acctsys_spec *spec)
{
	char id[ZT_ID_LEN + 1], *policy = NULL;
	struct scope sc;
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = acctsys_check(&policy, spec)) < 0 ||
	    (err = new_id(id)) < 0 || (err = tx_begin(cx)) < 0)
		goto out;
	if ((err = scope_enter(&sc, cx, tenant)) == ZT_OK &&
	    (err = scope_need_tenant_admin(&sc)) == ZT_OK &&
	    (err = acctsys_insert(id, cx, tenant, spec, policy)) == ZT_OK &&
	    (err = acctsys_fetch(&doc, cx->db, tenant, id)) == ZT_OK)
		err = id_audit(cx, "acctsys.create", tenant, "acctsys", id,
		    NULL, doc);
	if ((err = tx_end(cx, err)) == ZT_OK) {
		*out = doc;
		doc = NULL;
	}
out:
	json_decref(doc);
	free(policy);
	return err;
}

int
zt_acctsys_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id)
{
	struct scope sc;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	return acctsys_fetch(out, cx->db, tenant, id);
}

int
zt_acctsys_get_by_name(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *name)
{
	char id[ZT_ID_LEN + 1];
	struct scope sc;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = acctsys_find_by_name(id, cx->db, tenant, name)) < 0)
		return err;
	return acctsys_fetch(out, cx->db, tenant, id);
}

int
zt_acctsys_list(json_t **out, const zt_id_ctx *cx, const char *tenant)
{
	struct scope sc;
	json_t *list;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " ACCTSYS_COLS
	    " FROM account_systems WHERE tenant = $1 ORDER BY name")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	list = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(list, acctsys_json(st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

static int
acctsys_change(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const zt_acctsys_spec *spec, const char *policy,
    int64_t version)
{
	json_t *before = NULL;
	zt_stmt *st;
	int64_t have;
	int err;

	if ((err = acctsys_fetch(&before, cx->db, tenant, id)) < 0)
		return err;
	have = json_integer_value(json_object_get(before, "version"));
	if ((err = check_version("account system", have, version)) < 0)
		goto out;
	if (strcmp(spec->name, json_string_value(json_object_get(before,
	    "name"))) != 0 || strcmp(spec->kind,
	    json_string_value(json_object_get(before, "kind"))) != 0) {
		err = zt_error_set(ZT_EINVAL, "fields \"name\" and \"kind\" "
		    "of an account system cannot change");
		goto out;
	}
	if ((err = zt_db_prepare(&st, cx->db, "UPDATE account_systems SET"
	    " password_policy = $1, mfa_required = $2, version = version + 1,"
	    " updated_at = $3 WHERE tenant = $4 AND id = $5 AND version = $6"))
	    < 0)
		goto out;
	zt_stmt_bind_text(st, 1, policy);
	zt_stmt_bind_int(st, 2, spec->mfa_required);
	zt_stmt_bind_int(st, 3, zt_now_ms());
	zt_stmt_bind_text(st, 4, tenant);
	zt_stmt_bind_text(st, 5, id);
	zt_stmt_bind_int(st, 6, have);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = acctsys_fetch(out, cx->db, tenant, id)) < 0)
		goto out;
	err = id_audit(cx, "acctsys.update", tenant, "acctsys", id, before,
	    *out);
out:
	json_decref(before);
	return err;
}

int
zt_acctsys_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const zt_acctsys_spec *spec, int64_t version)
{
	char *policy = NULL;
	struct scope sc;
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = acctsys_check(&policy, spec)) < 0 ||
	    (err = tx_begin(cx)) < 0)
		goto out;
	if ((err = scope_enter(&sc, cx, tenant)) == ZT_OK &&
	    (err = scope_need_tenant_admin(&sc)) == ZT_OK)
		err = acctsys_change(&doc, cx, tenant, id, spec, policy,
		    version);
	if ((err = tx_end(cx, err)) == ZT_OK) {
		*out = doc;
		doc = NULL;
	}
out:
	json_decref(doc);
	free(policy);
	return err;
}

/* ---- deletion ------------------------------------------------------------- */

/* ZT_ECONFLICT naming `what` when `sql` ($1 tenant, $2 id) finds a row. */
static int
refuse_if_used(zt_db *db, const char *sql, const char *tenant,
    const char *id, const char *what)
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
		return zt_error_set(ZT_ECONFLICT, "%s", what);
	return err < 0 ? err : ZT_OK;
}

static int
exec2(zt_db *db, const char *sql, const char *a, const char *b)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, a);
	if (b)
		zt_stmt_bind_text(st, 2, b);
	return zt_stmt_run(st);
}

static int
acctsys_delete_tx(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version)
{
	json_t *before = NULL;
	struct scope sc;
	int err;

	if ((err = scope_enter(&sc, cx, tenant)) < 0 ||
	    (err = scope_need_tenant_admin(&sc)) < 0 ||
	    (err = acctsys_fetch(&before, cx->db, tenant, id)) < 0)
		return err;
	if ((err = check_version("account system", json_integer_value(
	    json_object_get(before, "version")), version)) < 0 ||
	    (err = refuse_if_used(cx->db, "SELECT 1 FROM accounts WHERE"
	    " tenant = $1 AND system_id = $2 LIMIT 1", tenant, id,
	    "account system still holds accounts")) < 0)
		goto out;
	/* Rows of other modules (OAuth clients) refer to it by foreign
	 * key, which the store reports as a conflict. */
	if ((err = exec2(cx->db, "DELETE FROM account_systems WHERE"
	    " tenant = $1 AND id = $2", tenant, id)) < 0) {
		if (err == ZT_ECONFLICT)
			err = zt_error_set(err, "account system is still in "
			    "use by OAuth clients");
		goto out;
	}
	err = id_audit(cx, "acctsys.delete", tenant, "acctsys", id, before,
	    NULL);
out:
	json_decref(before);
	return err;
}

int
zt_acctsys_delete(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version)
{
	int err;

	if ((err = tx_begin(cx)) < 0)
		return err;
	return tx_end(cx, acctsys_delete_tx(cx, tenant, id, version));
}

/* A tenant goes only when nothing is left in it: deleting a company's
 * whole directory by one call is too easy a mistake to allow. */
static int
tenant_delete_tx(const zt_id_ctx *cx, const char *id, int64_t version)
{
	static const struct { const char *sql, *what; } uses[] = {
		{ "SELECT 1 FROM identities WHERE tenant = $1 LIMIT 1",
		  "tenant still has identities" },
		{ "SELECT 1 FROM org_units WHERE tenant = $1 LIMIT 1",
		  "tenant still has organization units" },
		{ "SELECT 1 FROM identity_groups WHERE tenant = $1 LIMIT 1",
		  "tenant still has groups" },
		{ "SELECT 1 FROM account_systems WHERE tenant = $1 LIMIT 1",
		  "tenant still has account systems" },
	};
	json_t *before = NULL;
	zt_stmt *st;
	size_t i;
	int err;

	if ((err = tenant_fetch(&before, cx->db, id)) < 0)
		return err;
	if ((err = check_version("tenant", json_integer_value(
	    json_object_get(before, "version")), version)) < 0)
		goto out;
	for (i = 0; i < ZT_ARRAY_LEN(uses); i++) {
		if ((err = zt_db_prepare(&st, cx->db, uses[i].sql)) < 0)
			goto out;
		zt_stmt_bind_text(st, 1, id);
		err = zt_stmt_step(st);
		zt_stmt_reset(st);
		if (err == ZT_ROW)
			err = zt_error_set(ZT_ECONFLICT, "%s", uses[i].what);
		if (err < 0)
			goto out;
	}
	if ((err = exec2(cx->db, "DELETE FROM tenants WHERE id = $1", id,
	    NULL)) == ZT_OK)
		err = id_audit(cx, "tenant.delete", id, "tenant", id, before,
		    NULL);
out:
	json_decref(before);
	return err;
}

int
zt_tenant_delete(const zt_id_ctx *cx, const char *id, int64_t version)
{
	int err;

	/* Another tenant does not exist for a tenant token. */
	if (!slug_ok(id, ZT_TENANT_ID_MAX) ||
	    (cx->scope.tenant != NULL && strcmp(cx->scope.tenant, id) != 0))
		return not_found("tenant", id);
	if (cx->scope.tenant != NULL)
		return zt_error_set(ZT_EFORBIDDEN, "only a system "
		    "administrator deletes tenants");
	if ((err = tx_begin(cx)) < 0)
		return err;
	return tx_end(cx, tenant_delete_tx(cx, id, version));
}
