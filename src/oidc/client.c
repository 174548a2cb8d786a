/*
 * client.c: the registry of OAuth clients.
 *
 * A row keeps the client's metadata in normal form (meta.c) as JSON, the
 * account system by id (a foreign key, so the system cannot go while it
 * has clients) and the SHA-256 of the secret.  Documents name the system
 * by name, as callers do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"

#define SECRET_PREFIX "ztcs_"
#define HASH_HEX (2 * ZT_SHA256_LEN + 1)
#define SECRET_BYTES 32
#define CLIENT_ID_BYTES 16

#define SCHEMA_V1(KT)							\
	"CREATE TABLE oauth_clients ("					\
	" tenant " KT " NOT NULL,"					\
	" id " KT " NOT NULL,"						\
	" system_id " KT " NOT NULL,"					\
	" secret_hash TEXT,"						\
	" metadata TEXT NOT NULL,"					\
	" version BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, id),"					\
	" FOREIGN KEY (tenant, system_id)"				\
	"  REFERENCES account_systems (tenant, id));"			\
	"CREATE INDEX oauth_clients_system"				\
	" ON oauth_clients (tenant, system_id, id);"

static const zt_migration oidc_steps[] = {
	{ 1, "oauth clients", SCHEMA_V1("TEXT"),
	  SCHEMA_V1("TEXT COLLATE \"C\"") },
};

const zt_migration_set zt_oidc_migrations = {
	"oidc", oidc_steps, ZT_ARRAY_LEN(oidc_steps),
};

/* ---- scope ------------------------------------------------------------- */

/* Clients belong to tenant administrators: a unit token may not manage
 * them, a token of another tenant does not see them. */
static int
client_scope(const zt_id_ctx *cx, const char *tenant)
{
	json_t *t = NULL;
	int err;

	if (cx->scope.tenant != NULL && strcmp(cx->scope.tenant, tenant) != 0)
		return zt_error_set(ZT_ENOTFOUND, "no tenant \"%.64s\"",
		    tenant);
	if (cx->scope.unit != NULL)
		return zt_error_set(ZT_EFORBIDDEN, "a unit administrator "
		    "cannot manage OAuth clients");
	if ((err = zt_tenant_get(&t, cx, tenant)) < 0)
		return err;
	json_decref(t);
	return ZT_OK;
}

/* The id of the system named `key` in the tenant (by_name), or the name
 * of the system whose id is `key`. */
static int
system_lookup(char *out, size_t size, const zt_id_ctx *cx,
    const char *tenant, const char *key, bool by_name)
{
	json_t *s;
	int err;

	err = by_name ? zt_acctsys_get_by_name(&s, cx, tenant, key) :
	    zt_acctsys_get(&s, cx, tenant, key);
	if (err == ZT_ENOTFOUND)
		return zt_error_set(by_name ? ZT_EINVAL : ZT_ERR, "field "
		    "\"account_system\": no account system \"%.64s\" in the "
		    "tenant", key);
	if (err < 0)
		return err;
	snprintf(out, size, "%s", json_string_value(json_object_get(s,
	    by_name ? "id" : "name")));
	json_decref(s);
	return ZT_OK;
}

/* ---- rows and documents -------------------------------------------------- */

#define CLIENT_COLS "id, system_id, metadata, version, created_at," \
	" updated_at, secret_hash IS NOT NULL"


/* The document of the row `st` is on. */
static int
client_doc(json_t **out, const zt_id_ctx *cx, const char *tenant,
    zt_stmt *st)
{
	char system[ZT_NAME_MAX + 1];
	json_t *doc;
	int err;

	if ((err = system_lookup(system, sizeof(system), cx, tenant,
	    zt_stmt_text(st, 1), false)) < 0)
		return err;
	if ((doc = json_loads(zt_stmt_text(st, 2), 0, NULL)) == NULL)
		return zt_error_set(ZT_ERR, "a client's stored metadata does "
		    "not parse");
	json_object_set_new(doc, "client_id", json_string(zt_stmt_text(st,
	    0)));
	json_object_set_new(doc, "tenant", json_string(tenant));
	json_object_set_new(doc, "account_system", json_string(system));
	json_object_set_new(doc, "version", json_integer(zt_stmt_int(st, 3)));
	json_object_set_new(doc, "created_at", zt_time_json(zt_stmt_int(st, 4)));
	json_object_set_new(doc, "updated_at", zt_time_json(zt_stmt_int(st, 5)));
	*out = doc;
	return ZT_OK;
}

static int
client_fetch(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *client_id)
{
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " CLIENT_COLS
	    " FROM oauth_clients WHERE tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, client_id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		err = client_doc(out, cx, tenant, st);
	else if (err == ZT_DONE)
		err = zt_error_set(ZT_ENOTFOUND, "no client \"%.64s\"",
		    client_id);
	zt_stmt_reset(st);
	return err;
}

/* A new secret in `secret` and its hash in `hash`. */
static int
secret_new(char secret[ZT_CLIENT_SECRET_LEN + 1], char hash[HASH_HEX])
{
	uint8_t h[ZT_SHA256_LEN];
	int err;

	memcpy(secret, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1);
	if ((err = zt_random_id(secret + sizeof(SECRET_PREFIX) - 1,
	    ZT_CLIENT_SECRET_LEN + 2 - sizeof(SECRET_PREFIX),
	    SECRET_BYTES)) < 0)
		return err;
	zt_sha256(h, secret, strlen(secret));
	zt_hex_encode(hash, h, sizeof(h));
	return ZT_OK;
}



static bool
is_public(json_t *meta)
{
	return strcmp(json_string_value(json_object_get(meta,
	    "token_endpoint_auth_method")), "none") == 0;
}

/* Without the fields a row keeps in columns or makes up. */
static char *
meta_text(json_t *meta)
{
	json_t *m = json_copy(meta);
	char *text;

	if (m == NULL)
		return NULL;
	json_object_del(m, "account_system");
	text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	return text;
}

/* ---- the calls --------------------------------------------------------- */

static int
create_tx(json_t **out, char secret[ZT_CLIENT_SECRET_LEN + 1],
    const zt_id_ctx *cx, const char *tenant, json_t *meta)
{
	char id[ZT_CLIENT_ID_LEN + 2], system[ZT_NAME_MAX + 1];
	char hash[HASH_HEX];
	const char *sys_name;
	int64_t now = zt_now_ms();
	char *text = NULL;
	zt_stmt *st;
	int err;

	if ((sys_name = json_string_value(json_object_get(meta,
	    "account_system"))) == NULL)
		return zt_error_set(ZT_EINVAL, "field \"account_system\": "
		    "required");
	if ((err = system_lookup(system, sizeof(system), cx, tenant,
	    sys_name, true)) < 0 ||
	    (err = zt_random_id(id, sizeof(id), CLIENT_ID_BYTES)) < 0 ||
	    (!is_public(meta) && (err = secret_new(secret, hash)) < 0))
		return err;
	if ((text = meta_text(meta)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if ((err = zt_db_prepare(&st, cx->db, "INSERT INTO oauth_clients"
	    " (tenant, id, system_id, secret_hash, metadata, version,"
	    " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6,"
	    " $6)")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_text(st, 3, system);
	if (is_public(meta))
		zt_stmt_bind_null(st, 4);
	else
		zt_stmt_bind_text(st, 4, hash);
	zt_stmt_bind_text(st, 5, text);
	zt_stmt_bind_int(st, 6, now);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = client_fetch(out, cx, tenant, id)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "client.create", tenant,
	    "client", id, NULL, *out);
out:
	free(text);
	return err;
}

int
zt_client_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    json_t *meta)
{
	char secret[ZT_CLIENT_SECRET_LEN + 1] = "";
	json_t *norm = NULL, *doc = NULL;
	int err;

	*out = NULL;
	if ((err = zt_client_metadata(&norm, meta)) < 0)
		return err;
	if ((err = zt_db_begin(cx->db)) < 0)
		goto out;
	if ((err = client_scope(cx, tenant)) == ZT_OK)
		err = create_tx(&doc, secret, cx, tenant, norm);
	if ((err = zt_db_end(cx->db, err)) < 0)
		goto out;
	if (secret[0] != '\0')
		json_object_set_new(doc, "client_secret", json_string(secret));
	*out = doc;
	doc = NULL;
out:
	zt_wipe(secret, sizeof(secret));
	json_decref(doc);
	json_decref(norm);
	return err;
}

int
zt_client_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *client_id)
{
	int err;

	*out = NULL;
	if ((err = client_scope(cx, tenant)) < 0)
		return err;
	return client_fetch(out, cx, tenant, client_id);
}

int
zt_client_list(json_t **out, const zt_id_ctx *cx, const char *tenant)
{
	json_t *items, *doc;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = client_scope(cx, tenant)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " CLIENT_COLS
	    " FROM oauth_clients WHERE tenant = $1 ORDER BY id")) < 0)
		return err;
	if ((items = json_array()) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	zt_stmt_bind_text(st, 1, tenant);
	while ((err = zt_stmt_step(st)) == ZT_ROW) {
		if ((err = client_doc(&doc, cx, tenant, st)) < 0)
			break;
		json_array_append_new(items, doc);
	}
	zt_stmt_reset(st);
	if (err != ZT_DONE) {
		json_decref(items);
		return err;
	}
	*out = items;
	return ZT_OK;
}

static int
check_version(json_t *before, int64_t want)
{
	int64_t have = json_integer_value(json_object_get(before, "version"));

	if (want != 0 && want != have)
		return zt_error_set(ZT_ESTALE, "client is at version %lld, "
		    "not %lld", (long long)have, (long long)want);
	return ZT_OK;
}

/* Reads the client for a change: scope, existence, version. */
static int
change_begin(json_t **before, const zt_id_ctx *cx, const char *tenant,
    const char *client_id, int64_t version)
{
	int err;

	if ((err = client_scope(cx, tenant)) < 0 ||
	    (err = client_fetch(before, cx, tenant, client_id)) < 0)
		return err;
	return check_version(*before, version);
}

static int
update_tx(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *client_id, json_t *meta, int64_t version)
{
	json_t *before = NULL;
	const char *sys;
	char *text = NULL;
	zt_stmt *st;
	int err;

	if ((err = change_begin(&before, cx, tenant, client_id, version)) < 0)
		goto out;
	sys = json_string_value(json_object_get(meta, "account_system"));
	if (sys != NULL && strcmp(sys, json_string_value(json_object_get(
	    before, "account_system"))) != 0) {
		err = zt_error_set(ZT_EINVAL, "field \"account_system\": a "
		    "client stays in its account system");
		goto out;
	}
	if (is_public(meta) != is_public(before)) {
		err = zt_error_set(ZT_EINVAL, "field "
		    "\"token_endpoint_auth_method\": a client cannot change "
		    "between public (\"none\") and confidential; register "
		    "a new one");
		goto out;
	}
	if ((text = meta_text(meta)) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = zt_db_prepare(&st, cx->db, "UPDATE oauth_clients SET"
	    " metadata = $1, version = version + 1, updated_at = $2"
	    " WHERE tenant = $3 AND id = $4")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, text);
	zt_stmt_bind_int(st, 2, zt_now_ms());
	zt_stmt_bind_text(st, 3, tenant);
	zt_stmt_bind_text(st, 4, client_id);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = client_fetch(out, cx, tenant, client_id)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "client.update", tenant,
	    "client", client_id, before, *out);
out:
	free(text);
	json_decref(before);
	return err;
}

int
zt_client_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *client_id, json_t *meta, int64_t version)
{
	json_t *norm = NULL, *doc = NULL;
	int err;

	*out = NULL;
	if ((err = zt_client_metadata(&norm, meta)) < 0)
		return err;
	if ((err = zt_db_begin(cx->db)) == ZT_OK &&
	    (err = zt_db_end(cx->db, update_tx(&doc, cx, tenant, client_id,
	    norm, version))) == ZT_OK)
		*out = doc;
	else
		json_decref(doc);
	json_decref(norm);
	return err;
}

static int
rotate_tx(json_t **out, char secret[ZT_CLIENT_SECRET_LEN + 1],
    const zt_id_ctx *cx, const char *tenant, const char *client_id,
    int64_t version)
{
	char hash[HASH_HEX];
	json_t *before = NULL;
	zt_stmt *st;
	int err;

	if ((err = change_begin(&before, cx, tenant, client_id, version)) < 0)
		goto out;
	if (is_public(before)) {
		err = zt_error_set(ZT_ECONFLICT, "a public client has no "
		    "secret");
		goto out;
	}
	if ((err = secret_new(secret, hash)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "UPDATE oauth_clients SET"
	    " secret_hash = $1, version = version + 1, updated_at = $2"
	    " WHERE tenant = $3 AND id = $4")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, hash);
	zt_stmt_bind_int(st, 2, zt_now_ms());
	zt_stmt_bind_text(st, 3, tenant);
	zt_stmt_bind_text(st, 4, client_id);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = client_fetch(out, cx, tenant, client_id)) < 0)
		goto out;
	err = zt_audit_change(cx->db, cx->actor, "client.secret", tenant,
	    "client", client_id, before, *out);
out:
	json_decref(before);
	return err;
}

int
zt_client_rotate_secret(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *client_id, int64_t version)
{
	char secret[ZT_CLIENT_SECRET_LEN + 1] = "";
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = zt_db_begin(cx->db)) == ZT_OK &&
	    (err = zt_db_end(cx->db, rotate_tx(&doc, secret, cx, tenant,
	    client_id, version))) == ZT_OK) {
		json_object_set_new(doc, "client_secret", json_string(secret));
		*out = doc;
	} else {
		json_decref(doc);
	}
	zt_wipe(secret, sizeof(secret));
	return err;
}

static int
delete_tx(const zt_id_ctx *cx, const char *tenant, const char *client_id,
    int64_t version)
{
	json_t *before = NULL;
	zt_stmt *st;
	int err;

	if ((err = change_begin(&before, cx, tenant, client_id, version)) < 0 ||
	    (err = zt_db_prepare(&st, cx->db, "DELETE FROM oauth_clients"
	    " WHERE tenant = $1 AND id = $2")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, client_id);
	if ((err = zt_stmt_run(st)) == ZT_OK)
		err = zt_audit_change(cx->db, cx->actor, "client.delete",
		    tenant, "client", client_id, before, NULL);
out:
	json_decref(before);
	return err;
}

int
zt_client_delete(const zt_id_ctx *cx, const char *tenant,
    const char *client_id, int64_t version)
{
	int err;

	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	return zt_db_end(cx->db, delete_tx(cx, tenant, client_id, version));
}

bool
zt_client_secret_ok(zt_db *db, const char *tenant, const char *client_id,
    const char *secret)
{
	char want[HASH_HEX], have[HASH_HEX];
	uint8_t h[ZT_SHA256_LEN];
	const char *stored;
	bool found = false;
	zt_stmt *st;

	memset(have, '0', sizeof(have) - 1);
	have[sizeof(have) - 1] = '\0';
	if (zt_db_prepare(&st, db, "SELECT secret_hash FROM oauth_clients"
	    " WHERE tenant = $1 AND id = $2") == ZT_OK) {
		zt_stmt_bind_text(st, 1, tenant);
		zt_stmt_bind_text(st, 2, client_id);
		if (zt_stmt_step(st) == ZT_ROW &&
		    (stored = zt_stmt_text(st, 0)) != NULL &&
		    strlen(stored) == sizeof(have) - 1) {
			memcpy(have, stored, sizeof(have));
			found = true;
		}
		zt_stmt_reset(st);
	}
	zt_sha256(h, secret, strlen(secret));
	zt_hex_encode(want, h, sizeof(h));
	return zt_ct_equal(want, have, sizeof(want)) && found;
}
