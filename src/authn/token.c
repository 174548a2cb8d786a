/*
 * Bearer API tokens: creation, verification, listing, revocation, and the
 * bootstrap of the first administrator.
 *
 * Verification runs on every authenticated request, so it is one indexed
 * lookup by hash on the worker's own connection with a cached statement.
 * The token's format is checked before any hashing or database work, so
 * junk in an Authorization header costs almost nothing.
 */
#include <stdio.h>
#include <string.h>

#include "authn/authn.h"
#include "base/base.h"

#define HASH_HEX (2 * ZT_SHA256_LEN + 1)

static const zt_migration authn_steps[] = {
	{ 1, "api tokens",
	  "CREATE TABLE api_tokens ("
	  " id TEXT PRIMARY KEY,"
	  " hash TEXT NOT NULL UNIQUE,"
	  " name TEXT NOT NULL,"
	  " tenant TEXT,"
	  " created_at BIGINT NOT NULL,"
	  " created_by TEXT NOT NULL,"
	  " expires_at BIGINT NOT NULL,"
	  " revoked_at BIGINT NOT NULL);"
	  "CREATE INDEX api_tokens_tenant ON api_tokens (tenant, id);"
	  "CREATE TABLE system_state ("
	  " key TEXT PRIMARY KEY,"
	  " value TEXT NOT NULL);",
	  NULL },
	{ 2, "token unit scope",
	  "ALTER TABLE api_tokens ADD COLUMN unit TEXT;", NULL },
	/* Credentials and sessions of people (password.c, totp.c,
	 * session.c).  No foreign keys into identity's tables: authn's
	 * migrations run first, and deleting an account must not wait on
	 * its credentials. */
	{ 3, "passwords, totp, recovery codes, sessions",
	  "CREATE TABLE account_passwords ("
	  " tenant TEXT NOT NULL,"
	  " account_id TEXT NOT NULL,"
	  " hash TEXT NOT NULL,"
	  " history TEXT NOT NULL,"
	  " changed_at BIGINT NOT NULL,"
	  " PRIMARY KEY (tenant, account_id));"
	  "CREATE TABLE account_totp ("
	  " tenant TEXT NOT NULL,"
	  " account_id TEXT NOT NULL,"
	  " secret TEXT NOT NULL,"
	  " active INTEGER NOT NULL,"
	  " last_step BIGINT NOT NULL,"
	  " created_at BIGINT NOT NULL,"
	  " PRIMARY KEY (tenant, account_id));"
	  "CREATE TABLE account_recovery_codes ("
	  " tenant TEXT NOT NULL,"
	  " account_id TEXT NOT NULL,"
	  " code_hash TEXT NOT NULL,"
	  " used_at BIGINT NOT NULL,"
	  " PRIMARY KEY (tenant, account_id, code_hash));"
	  "CREATE TABLE sessions ("
	  " tenant TEXT NOT NULL,"
	  " id TEXT NOT NULL,"
	  " token_hash TEXT NOT NULL UNIQUE,"
	  " identity_id TEXT NOT NULL,"
	  " account_id TEXT NOT NULL,"
	  " acr TEXT NOT NULL,"
	  " amr TEXT NOT NULL,"
	  " csrf_key TEXT NOT NULL,"
	  " created_at BIGINT NOT NULL,"
	  " last_seen BIGINT NOT NULL,"
	  " expires_at BIGINT NOT NULL,"
	  " idle_s BIGINT NOT NULL,"
	  " client_addr TEXT NOT NULL,"
	  " user_agent TEXT NOT NULL,"
	  " PRIMARY KEY (tenant, id));"
	  "CREATE INDEX sessions_identity"
	  " ON sessions (tenant, identity_id, created_at);",
	  NULL },
	/* Login failure counts shared by the nodes of one PostgreSQL
	 * database (throttle.c); keys are digests, never login names. */
	{ 4, "shared login throttle",
	  "CREATE TABLE login_throttle ("
	  " key TEXT PRIMARY KEY,"
	  " fails INTEGER NOT NULL,"
	  " last_fail BIGINT NOT NULL);"
	  "CREATE INDEX login_throttle_age ON login_throttle (last_fail);",
	  NULL },
};

const zt_migration_set zt_authn_migrations = {
	"authn", authn_steps, ZT_ARRAY_LEN(authn_steps),
};

/* Only the token's own alphabet and exact length, before anything else. */
static bool
token_well_formed(const char *t)
{
	size_t plen = sizeof(ZT_TOKEN_PREFIX) - 1, i;

	if (strlen(t) != ZT_TOKEN_LEN || strncmp(t, ZT_TOKEN_PREFIX, plen))
		return false;
	for (i = plen; i < ZT_TOKEN_LEN; i++) {
		char c = t[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static void
token_hash(char out[HASH_HEX], const char *token)
{
	uint8_t digest[ZT_SHA256_LEN];

	zt_sha256(digest, token, strlen(token));
	zt_hex_encode(out, digest, sizeof(digest));
}

void
zt_principal_system(zt_principal *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->actor, sizeof(out->actor), "system");
	out->system = true;
}

/* The identity module's tenant id rule: a lowercase slug that can be one
 * SPIFFE path segment and one DNS label. */
static bool
tenant_valid(const char *t)
{
	size_t n = strlen(t), i;

	if (n == 0 || n > ZT_TENANT_MAX || t[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') ||
		    (t[i] >= '0' && t[i] <= '9') || t[i] == '-'))
			return false;
	return true;
}

static json_t *
token_row_json(zt_stmt *st)
{
	char created[32], expires[32], revoked[32];
	int64_t exp = zt_stmt_int(st, 4), rev = zt_stmt_int(st, 5);

	zt_time_format(created, zt_stmt_int(st, 3));
	zt_time_format(expires, exp);
	zt_time_format(revoked, rev);
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:s?, s:s?}",
	    "id", zt_stmt_text(st, 0),
	    "name", zt_stmt_text(st, 1),
	    "tenant", zt_stmt_text(st, 2),
	    "unit_id", zt_stmt_text(st, 7),
	    "created_at", created,
	    "created_by", zt_stmt_text(st, 6),
	    "expires_at", exp ? expires : NULL,
	    "revoked_at", rev ? revoked : NULL);
}

#define TOKEN_COLUMNS \
	"id, name, tenant, created_at, expires_at, revoked_at, created_by, unit"

/* A system principal sees every token, a tenant principal its tenant's,
 * a unit principal itself and the tokens it made. */
static bool
token_visible(const zt_principal *who, const char *tenant, const char *id,
    const char *created_by)
{
	if (who->system)
		return true;
	if (tenant == NULL || strcmp(tenant, who->tenant) != 0)
		return false;
	if (who->unit[0] == '\0')
		return true;
	return strcmp(id, who->token_id) == 0 ||
	    (created_by && strcmp(created_by, who->actor) == 0);
}

/* Reads one token row by id, within `who`'s scope. */
static int
token_fetch(zt_db *db, const zt_principal *who, const char *id, json_t **out)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT " TOKEN_COLUMNS
	    " FROM api_tokens WHERE id = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		const char *tenant = zt_stmt_text(st, 2);

		/* Outside the caller's scope looks exactly like absent. */
		if (!token_visible(who, tenant, zt_stmt_text(st, 0),
		    zt_stmt_text(st, 6)))
			err = ZT_DONE;
		else
			*out = token_row_json(st);
	}
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return zt_error_set(ZT_ENOTFOUND, "no such token");
	return err < 0 ? err : ZT_OK;
}

static int
token_insert(zt_db *db, const zt_actor *actor, const zt_token_spec *spec,
    char secret[ZT_TOKEN_LEN + 1], char id[ZT_TOKEN_ID_LEN + 1])
{
	uint8_t raw[32];
	char hash[HASH_HEX];
	int64_t now = zt_now_ms();
	zt_stmt *st;
	int err;

	if ((err = zt_random(raw, sizeof(raw))) < 0)
		return err;
	memcpy(secret, ZT_TOKEN_PREFIX, sizeof(ZT_TOKEN_PREFIX) - 1);
	zt_b64url_encode(secret + sizeof(ZT_TOKEN_PREFIX) - 1, raw,
	    sizeof(raw));
	zt_wipe(raw, sizeof(raw));
	token_hash(hash, secret);
	if ((err = zt_random_id(id, ZT_TOKEN_ID_LEN + 1, 12)) < 0)
		return err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO api_tokens (id, hash,"
	    " name, tenant, created_at, created_by, expires_at, revoked_at,"
	    " unit) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, id);
	zt_stmt_bind_text(st, 2, hash);
	zt_stmt_bind_text(st, 3, spec->name);
	if (spec->tenant)
		zt_stmt_bind_text(st, 4, spec->tenant);
	else
		zt_stmt_bind_null(st, 4);
	zt_stmt_bind_int(st, 5, now);
	zt_stmt_bind_text(st, 6, actor && actor->id ? actor->id : "system");
	zt_stmt_bind_int(st, 7, spec->ttl_s ? now + spec->ttl_s * 1000 : 0);
	if (spec->unit)
		zt_stmt_bind_text(st, 8, spec->unit);
	else
		zt_stmt_bind_null(st, 8);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

/* Characters, not bytes, in a valid UTF-8 string. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int
zt_token_spec_check(const zt_principal *who, const zt_token_spec *spec)
{
	size_t n = spec->name ? strlen(spec->name) : 0;

	if (n == 0 || !zt_utf8_valid(spec->name, n) ||
	    utf8_chars(spec->name) > 128)
		return zt_error_set(ZT_EINVAL, "name must be 1 to 128 "
		    "characters");
	if (spec->tenant && !tenant_valid(spec->tenant))
		return zt_error_set(ZT_EINVAL, "tenant must be 1 to 63 of "
		    "a-z, 0-9 and '-', not starting with '-'");
	/* 10 years is far past any sane token life and far from overflow. */
	if (spec->ttl_s < 0 || spec->ttl_s > 10LL * 366 * 86400)
		return zt_error_set(ZT_EINVAL, "expires_in must be between 0 "
		    "and 10 years");
	if (spec->unit && (spec->tenant == NULL || strlen(spec->unit) == 0 ||
	    strlen(spec->unit) > ZT_UNIT_ID_MAX))
		return zt_error_set(ZT_EINVAL, "a unit-scoped token needs a "
		    "tenant and a unit id");
	if (!who->system && spec->tenant == NULL)
		return zt_error_set(ZT_EFORBIDDEN, "a tenant token may only "
		    "create tokens of its own tenant");
	/* Another tenant does not exist for this caller. */
	if (!who->system && strcmp(spec->tenant, who->tenant) != 0)
		return zt_error_set(ZT_ENOTFOUND, "no tenant \"%s\"",
		    spec->tenant);
	if (who->unit[0] && spec->unit == NULL)
		return zt_error_set(ZT_EFORBIDDEN, "a unit administrator may "
		    "only create tokens scoped to a unit");
	return ZT_OK;
}

int
zt_token_create(zt_db *db, const zt_actor *actor, const zt_principal *who,
    const zt_token_spec *spec, char secret[ZT_TOKEN_LEN + 1], json_t **info)
{
	char id[ZT_TOKEN_ID_LEN + 1], target[ZT_TOKEN_ID_LEN + 8];
	json_t *doc = NULL;
	int err;

	if ((err = zt_token_spec_check(who, spec)) < 0)
		return err;
	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = token_insert(db, actor, spec, secret, id)) < 0)
		goto fail;
	if ((err = token_fetch(db, who, id, &doc)) < 0)
		goto fail;
	snprintf(target, sizeof(target), "token:%s", id);
	err = zt_audit_append(db, actor, &(zt_audit_entry){
	    .action = "token.create", .tenant = spec->tenant,
	    .target = target, .after = doc });
	if (err < 0)
		goto fail;
	if ((err = zt_db_commit(db)) < 0)
		goto fail;
	*info = doc;
	return ZT_OK;
fail:
	zt_db_rollback(db);
	json_decref(doc);
	zt_wipe(secret, ZT_TOKEN_LEN + 1);
	return err;
}

int
zt_token_verify(zt_db *db, const char *token, zt_principal *out)
{
	char hash[HASH_HEX];
	const char *stored, *tenant, *id;
	int64_t expires, revoked;
	zt_stmt *st;
	int err;

	if (token == NULL || !token_well_formed(token))
		return zt_error_set(ZT_ENOTFOUND, "invalid token");
	token_hash(hash, token);
	if ((err = zt_db_prepare(&st, db, "SELECT id, hash, tenant,"
	    " expires_at, revoked_at, unit FROM api_tokens WHERE hash = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, hash);
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? err : zt_error_set(ZT_ENOTFOUND,
		    "invalid token");
	}
	id = zt_stmt_text(st, 0);
	stored = zt_stmt_text(st, 1);
	tenant = zt_stmt_text(st, 2);
	expires = zt_stmt_int(st, 3);
	revoked = zt_stmt_int(st, 4);
	err = ZT_OK;
	if (stored == NULL || strlen(stored) != HASH_HEX - 1 ||
	    !zt_ct_equal(stored, hash, HASH_HEX - 1) || revoked != 0 ||
	    (expires != 0 && expires <= zt_now_ms()))
		err = zt_error_set(ZT_ENOTFOUND, "invalid token");
	else {
		memset(out, 0, sizeof(*out));
		snprintf(out->token_id, sizeof(out->token_id), "%s", id);
		snprintf(out->actor, sizeof(out->actor), "token:%s", id);
		snprintf(out->tenant, sizeof(out->tenant), "%s",
		    tenant ? tenant : "");
		snprintf(out->unit, sizeof(out->unit), "%s",
		    zt_stmt_text(st, 5) ? zt_stmt_text(st, 5) : "");
		out->system = tenant == NULL;
		out->expires_at = expires;
	}
	zt_stmt_reset(st);
	return err;
}

int
zt_token_list(zt_db *db, const zt_principal *who, json_t **out)
{
	zt_stmt *st;
	json_t *list;
	int err;

	if (who->system)
		err = zt_db_prepare(&st, db, "SELECT " TOKEN_COLUMNS
		    " FROM api_tokens ORDER BY created_at, id");
	else {
		err = zt_db_prepare(&st, db, "SELECT " TOKEN_COLUMNS
		    " FROM api_tokens WHERE tenant = $1"
		    " ORDER BY created_at, id");
		if (err == ZT_OK)
			zt_stmt_bind_text(st, 1, who->tenant);
	}
	if (err < 0)
		return err;
	list = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		if (token_visible(who, zt_stmt_text(st, 2), zt_stmt_text(st, 0),
		    zt_stmt_text(st, 6)))
			json_array_append_new(list, token_row_json(st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

int
zt_token_get(zt_db *db, const zt_principal *who, const char *id,
    json_t **out)
{
	return token_fetch(db, who, id, out);
}

int
zt_token_revoke(zt_db *db, const zt_actor *actor, const zt_principal *who,
    const char *id)
{
	char target[ZT_TOKEN_ID_LEN + 8];
	json_t *before = NULL, *after = NULL;
	zt_stmt *st;
	int err;

	if (strlen(id) > ZT_TOKEN_ID_LEN)
		return zt_error_set(ZT_ENOTFOUND, "no such token");
	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = token_fetch(db, who, id, &before)) < 0)
		goto fail;
	if ((err = zt_db_prepare(&st, db, "UPDATE api_tokens SET revoked_at"
	    " = $1 WHERE id = $2 AND revoked_at = 0")) < 0)
		goto fail;
	zt_stmt_bind_int(st, 1, zt_now_ms());
	zt_stmt_bind_text(st, 2, id);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err < 0)
		goto fail;
	if ((err = token_fetch(db, who, id, &after)) < 0)
		goto fail;
	snprintf(target, sizeof(target), "token:%s", id);
	err = zt_audit_append(db, actor, &(zt_audit_entry){
	    .action = "token.revoke",
	    .tenant = json_string_value(json_object_get(before, "tenant")),
	    .target = target, .before = before, .after = after });
	if (err < 0)
		goto fail;
	err = zt_db_commit(db);
	if (err < 0)
		goto fail;
	json_decref(before);
	json_decref(after);
	return ZT_OK;
fail:
	zt_db_rollback(db);
	json_decref(before);
	json_decref(after);
	return err;
}

int
zt_token_revoke_tenant(zt_db *db, const zt_actor *actor, const char *tenant,
    int64_t *count)
{
	char target[ZT_TENANT_MAX + 8];
	json_t *after;
	zt_stmt *st;
	int err;

	*count = 0;
	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, db, "UPDATE api_tokens SET revoked_at"
	    " = $1 WHERE tenant = $2 AND revoked_at = 0")) < 0)
		goto fail;
	zt_stmt_bind_int(st, 1, zt_now_ms());
	zt_stmt_bind_text(st, 2, tenant);
	if ((err = zt_stmt_step(st)) < 0) {
		zt_stmt_reset(st);
		goto fail;
	}
	*count = zt_stmt_changes(st);
	zt_stmt_reset(st);
	snprintf(target, sizeof(target), "tenant:%s", tenant);
	after = json_pack("{s:I}", "revoked", (json_int_t)*count);
	err = zt_audit_append(db, actor, &(zt_audit_entry){
	    .action = "token.revoke_tenant", .tenant = tenant,
	    .target = target, .after = after });
	json_decref(after);
	if (err < 0 || (err = zt_db_commit(db)) < 0)
		goto fail;
	return ZT_OK;
fail:
	zt_db_rollback(db);
	return err;
}

int
zt_bootstrap(zt_db *db, char secret[ZT_TOKEN_LEN + 1], bool *created)
{
	char id[ZT_TOKEN_ID_LEN + 1], target[ZT_TOKEN_ID_LEN + 8];
	zt_actor system = { "system", NULL, NULL };
	zt_principal root;
	json_t *doc = NULL;
	zt_stmt *st;
	int err;

	*created = false;
	zt_principal_system(&root);
	if ((err = zt_db_begin(db)) < 0)
		return err;

	/* The marker row makes the first start happen once, cluster-wide. */
	if ((err = zt_db_prepare(&st, db, "INSERT INTO system_state (key,"
	    " value) VALUES ('bootstrapped', $1)")) < 0)
		goto fail;
	zt_stmt_bind_int(st, 1, zt_now_ms());
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err == ZT_EEXISTS) {
		zt_db_rollback(db);
		return ZT_OK;
	}
	if (err < 0)
		goto fail;

	if ((err = token_insert(db, &system, &(zt_token_spec){
	    .name = "bootstrap administrator" }, secret, id)) < 0)
		goto fail;
	if ((err = token_fetch(db, &root, id, &doc)) < 0)
		goto fail;
	snprintf(target, sizeof(target), "token:%s", id);
	if ((err = zt_audit_append(db, &system, &(zt_audit_entry){
	    .action = "system.bootstrap", .target = target,
	    .after = doc })) < 0)
		goto fail;
	if ((err = zt_db_commit(db)) < 0)
		goto fail;
	json_decref(doc);
	*created = true;
	return ZT_OK;
fail:
	zt_db_rollback(db);
	json_decref(doc);
	zt_wipe(secret, ZT_TOKEN_LEN + 1);
	return err;
}
