/*
 * refresh.c: refresh tokens (RFC 6749 section 6), kept as the OAuth 2.0
 * Security BCP (RFC 9700 4.14) wants them, and the tables of the grants
 * that hang off the authorization endpoint.
 *
 * A refresh token is "ztrt_" and 256 random bits; a row keeps its
 * SHA-256 only.  Tokens live in families: the first token of a sign-in
 * starts one, and each refresh spends the token presented and issues its
 * successor in the same family.  A family fixes what all its tokens stand
 * for (client, subject, scope, resources, DPoP key, sign-in session) and
 * an absolute end; each token also dies when unused for the idle time.
 * A spent token presented again means that two parties hold the family's
 * tokens, one of them not the client: the whole family is revoked, and
 * with it every access token issued from it (their jti go to
 * oauth_revoked until they expire).
 *
 * Times in these tables are seconds, but for oauth_revoked.revoked_at
 * which introspect.c keeps in milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/flow.h"

#define REFRESH_PREFIX	"ztrt_"
#define REFRESH_BYTES	32
#define HASH_HEX	(2 * ZT_SHA256_LEN + 1)
#define FAMILY_BYTES	12

#define SCHEMA_V1(KT)							\
	"CREATE TABLE oauth_refresh_families ("				\
	" tenant " KT " NOT NULL,"					\
	" id " KT " NOT NULL,"						\
	" system_id " KT " NOT NULL,"					\
	" client_id " KT " NOT NULL,"					\
	" identity_id " KT " NOT NULL,"					\
	" session_id TEXT,"						\
	" scope TEXT NOT NULL,"						\
	" resource TEXT,"						\
	" jkt TEXT,"							\
	" auth_time BIGINT NOT NULL,"					\
	" idle_s BIGINT NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" expires_at BIGINT NOT NULL,"					\
	" revoked_at BIGINT,"						\
	" PRIMARY KEY (tenant, id));"					\
	"CREATE INDEX oauth_refresh_families_expiry"			\
	" ON oauth_refresh_families (tenant, expires_at);"		\
	"CREATE TABLE oauth_refresh_tokens ("				\
	" hash " KT " NOT NULL PRIMARY KEY,"				\
	" tenant " KT " NOT NULL,"					\
	" family_id " KT " NOT NULL,"					\
	" issued_at BIGINT NOT NULL,"					\
	" spent_at BIGINT);"						\
	"CREATE INDEX oauth_refresh_tokens_family"			\
	" ON oauth_refresh_tokens (tenant, family_id);"		\
	"CREATE TABLE oauth_family_access ("				\
	" tenant " KT " NOT NULL,"					\
	" jti " KT " NOT NULL,"						\
	" family_id " KT " NOT NULL,"					\
	" expires_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, jti));"					\
	"CREATE INDEX oauth_family_access_family"			\
	" ON oauth_family_access (tenant, family_id);"			\
	"CREATE TABLE oauth_par ("					\
	" tenant " KT " NOT NULL,"					\
	" id " KT " NOT NULL,"						\
	" system_id " KT " NOT NULL,"					\
	" client_id " KT " NOT NULL,"					\
	" params TEXT NOT NULL,"					\
	" expires_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, id));"					\
	"CREATE TABLE oauth_device ("					\
	" tenant " KT " NOT NULL,"					\
	" hash " KT " NOT NULL,"					\
	" user_code " KT " NOT NULL,"					\
	" system_id " KT " NOT NULL,"					\
	" client_id " KT " NOT NULL,"					\
	" scope TEXT NOT NULL,"						\
	" resource TEXT,"						\
	" state TEXT NOT NULL,"						\
	" identity_id TEXT,"						\
	" session_id TEXT,"						\
	" auth_time BIGINT NOT NULL,"					\
	" interval_s BIGINT NOT NULL,"					\
	" last_poll BIGINT NOT NULL,"					\
	" expires_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, hash),"					\
	" UNIQUE (tenant, user_code));"					\
	"CREATE TABLE oauth_registration ("				\
	" tenant " KT " NOT NULL,"					\
	" system_id " KT " NOT NULL,"					\
	" enabled BIGINT NOT NULL,"					\
	" token_hash TEXT,"						\
	" version BIGINT NOT NULL,"					\
	" updated_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, system_id),"				\
	" FOREIGN KEY (tenant, system_id)"				\
	"  REFERENCES account_systems (tenant, id) ON DELETE CASCADE);"

static const zt_migration grant_steps[] = {
	{ 1, "refresh tokens, device codes, pushed requests, registration",
	  SCHEMA_V1("TEXT"), SCHEMA_V1("TEXT COLLATE \"C\"") },
};

const zt_migration_set zt_oauth_grant_migrations = {
	"oauth_grants", grant_steps, ZT_ARRAY_LEN(grant_steps),
};

/* ---- helpers ------------------------------------------------------------ */

/* The hex SHA-256 of a token that has our refresh token's exact shape;
 * false for anything else (which then costs no database read). */
static bool
token_hash(char hash[HASH_HEX], const char *token)
{
	uint8_t h[ZT_SHA256_LEN];
	size_t i, n = strlen(token);

	if (n != ZT_REFRESH_LEN || strncmp(token, REFRESH_PREFIX,
	    sizeof(REFRESH_PREFIX) - 1) != 0)
		return false;
	for (i = sizeof(REFRESH_PREFIX) - 1; i < n; i++)
		if (!((token[i] >= 'a' && token[i] <= 'z') ||
		    (token[i] >= 'A' && token[i] <= 'Z') ||
		    (token[i] >= '0' && token[i] <= '9') || token[i] == '-' ||
		    token[i] == '_'))
			return false;
	zt_sha256(h, token, n);
	zt_hex_encode(hash, h, sizeof(h));
	return true;
}

static int
token_new(char token[ZT_REFRESH_LEN + 1], char hash[HASH_HEX])
{
	int err;

	memcpy(token, REFRESH_PREFIX, sizeof(REFRESH_PREFIX) - 1);
	if ((err = zt_random_id(token + sizeof(REFRESH_PREFIX) - 1,
	    ZT_REFRESH_LEN + 2 - sizeof(REFRESH_PREFIX), REFRESH_BYTES)) < 0)
		return err;
	return token_hash(hash, token) ? ZT_OK :
	    zt_error_set(ZT_ERR, "a new refresh token is malformed");
}

/* The registered lifetimes of a client: absolute and idle. */
static int
client_lifetimes(int64_t *life, int64_t *idle, zt_db *db,
    const char *tenant, const char *client_id)
{
	json_t *meta, *v;
	zt_stmt *st;
	int err;

	*life = 30 * 86400;
	*idle = ZT_REFRESH_IDLE_S_DEFAULT;
	if ((err = zt_db_prepare(&st, db, "SELECT metadata FROM oauth_clients"
	    " WHERE tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, client_id);
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? err : zt_error_set(ZT_ENOTFOUND, "no client "
		    "\"%.64s\"", client_id);
	}
	meta = json_loads(zt_stmt_text(st, 0), 0, NULL);
	zt_stmt_reset(st);
	if (meta == NULL)
		return zt_error_set(ZT_ERR, "a client's stored metadata does "
		    "not parse");
	if (json_is_integer(v = json_object_get(meta,
	    "refresh_token_lifetime")))
		*life = json_integer_value(v);
	if (json_is_integer(v = json_object_get(meta,
	    "refresh_token_idle_lifetime")))
		*idle = json_integer_value(v);
	json_decref(meta);
	if (*idle > *life)
		*idle = *life;
	return ZT_OK;
}

static int
token_insert(zt_db *db, const char *tenant, const char *family,
    const char *hash, int64_t now)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO oauth_refresh_tokens"
	    " (hash, tenant, family_id, issued_at) VALUES ($1, $2, $3, $4)"))
	    < 0)
		return err;
	zt_stmt_bind_text(st, 1, hash);
	zt_stmt_bind_text(st, 2, tenant);
	zt_stmt_bind_text(st, 3, family);
	zt_stmt_bind_int(st, 4, now);
	return zt_stmt_run(st);
}

/* Drops the tenant's families that ended a day ago or more, with their
 * tokens and access token notes (whose access tokens have expired). */
static int
families_sweep(zt_db *db, const char *tenant, int64_t now)
{
	static const char *const sql[] = {
		"DELETE FROM oauth_refresh_tokens WHERE tenant = $1 AND"
		" family_id IN (SELECT id FROM oauth_refresh_families"
		" WHERE tenant = $1 AND expires_at < $2)",
		"DELETE FROM oauth_family_access WHERE tenant = $1 AND"
		" expires_at < $2",
		"DELETE FROM oauth_refresh_families WHERE tenant = $1 AND"
		" expires_at < $2",
	};
	zt_stmt *st;
	size_t i;
	int err;

	for (i = 0; i < ZT_ARRAY_LEN(sql); i++) {
		if ((err = zt_db_prepare(&st, db, sql[i])) < 0)
			return err;
		zt_stmt_bind_text(st, 1, tenant);
		zt_stmt_bind_int(st, 2, now - 86400);
		if ((err = zt_stmt_run(st)) < 0)
			return err;
	}
	return ZT_OK;
}

/* ---- issuing ------------------------------------------------------------ */

int
zt_refresh_issue(char token[ZT_REFRESH_LEN + 1],
    char family_out[ZT_ID_LEN + 1], zt_db *db, const zt_issuer *iss,
    const zt_refresh_spec *s, int64_t now)
{
	char hash[HASH_HEX], family[ZT_ID_LEN + 2];
	int64_t life, idle;
	char *res = NULL;
	zt_stmt *st;
	int err;

	if (s->family != NULL) {
		snprintf(family, sizeof(family), "%s", s->family);
	} else {
		if ((err = client_lifetimes(&life, &idle, db, iss->tenant,
		    s->client_id)) < 0 ||
		    (err = families_sweep(db, iss->tenant, now)) < 0 ||
		    (err = zt_random_id(family, sizeof(family),
		    FAMILY_BYTES)) < 0)
			return err;
		if (s->resource != NULL && (res = json_dumps(s->resource,
		    JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
		err = zt_db_prepare(&st, db, "INSERT INTO"
		    " oauth_refresh_families (tenant, id, system_id, client_id,"
		    " identity_id, session_id, scope, resource, jkt, auth_time,"
		    " idle_s, created_at, expires_at) VALUES ($1, $2, $3, $4,"
		    " $5, $6, $7, $8, $9, $10, $11, $12, $13)");
		if (err < 0) {
			free(res);
			return err;
		}
		zt_stmt_bind_text(st, 1, iss->tenant);
		zt_stmt_bind_text(st, 2, family);
		zt_stmt_bind_text(st, 3, iss->system_id);
		zt_stmt_bind_text(st, 4, s->client_id);
		zt_stmt_bind_text(st, 5, s->identity_id);
		if (s->session_id != NULL)
			zt_stmt_bind_text(st, 6, s->session_id);
		else
			zt_stmt_bind_null(st, 6);
		zt_stmt_bind_text(st, 7, s->scope ? s->scope : "");
		if (res != NULL)
			zt_stmt_bind_text(st, 8, res);
		else
			zt_stmt_bind_null(st, 8);
		if (s->jkt != NULL)
			zt_stmt_bind_text(st, 9, s->jkt);
		else
			zt_stmt_bind_null(st, 9);
		zt_stmt_bind_int(st, 10, s->auth_time);
		zt_stmt_bind_int(st, 11, idle);
		zt_stmt_bind_int(st, 12, now);
		zt_stmt_bind_int(st, 13, now + life);
		err = zt_stmt_run(st);
		free(res);
		if (err < 0)
			return err;
	}
	if ((err = token_new(token, hash)) < 0 ||
	    (err = token_insert(db, iss->tenant, family, hash, now)) < 0) {
		zt_wipe(token, ZT_REFRESH_LEN + 1);
		return err;
	}
	family[ZT_ID_LEN] = '\0';
	memcpy(family_out, family, ZT_ID_LEN + 1);
	return ZT_OK;
}

int
zt_refresh_note_access(zt_db *db, const char *tenant, const char *family,
    const char *jti, int64_t exp)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO oauth_family_access"
	    " (tenant, jti, family_id, expires_at) VALUES ($1, $2, $3, $4)"))
	    < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, jti);
	zt_stmt_bind_text(st, 3, family);
	zt_stmt_bind_int(st, 4, exp);
	return zt_stmt_run(st);
}

static int
revoke_family_stmts(zt_db *db, const char *tenant, const char *family,
    int64_t now)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "UPDATE oauth_refresh_families"
	    " SET revoked_at = $3 WHERE tenant = $1 AND id = $2"
	    " AND revoked_at IS NULL")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, family);
	zt_stmt_bind_int(st, 3, now);
	if ((err = zt_stmt_run(st)) < 0)
		return err;
	/* The WHERE clause also keeps SQLite from reading ON CONFLICT as
	 * part of a join. */
	if ((err = zt_db_prepare(&st, db, "INSERT INTO oauth_revoked"
	    " (tenant, jti, expires_at, revoked_at) SELECT tenant, jti,"
	    " expires_at, $3 FROM oauth_family_access WHERE tenant = $1"
	    " AND family_id = $2 AND expires_at >= $4"
	    " ON CONFLICT DO NOTHING")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, family);
	zt_stmt_bind_int(st, 3, now * 1000);
	zt_stmt_bind_int(st, 4, now);
	return zt_stmt_run(st);
}

int
zt_refresh_revoke_family(zt_db *db, const char *tenant, const char *family,
    int64_t now)
{
	int err;

	if (zt_db_in_tx(db))
		return revoke_family_stmts(db, tenant, family, now);
	if ((err = zt_db_begin(db)) < 0)
		return err;
	err = revoke_family_stmts(db, tenant, family, now);
	return zt_db_end(db, err);
}

/* An "oauth.refresh" audit record: what happened to which family. */
static int
audit_family(zt_db *db, const zt_issuer *iss, const char *client_id,
    const char *event, const char *family, const char *sub,
    const char *request_id)
{
	char actor_id[ZT_CLIENT_ID_LEN + 16];
	zt_actor actor = { actor_id, iss->tenant, request_id };
	json_t *rec;
	int err;

	snprintf(actor_id, sizeof(actor_id), "client:%s", client_id);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "issuer", iss->url,
	    "client_id", client_id, "event", event, "family", family,
	    "sub", sub);
	if (rec == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	err = zt_audit_append(db, &actor, &(zt_audit_entry){
	    .action = "oauth.refresh", .tenant = iss->tenant,
	    .target = actor_id, .after = rec });
	json_decref(rec);
	return err;
}

int
zt_refresh_start(char token[ZT_REFRESH_LEN + 1],
    char family_out[ZT_ID_LEN + 1], zt_db *db, const zt_issuer *iss,
    const zt_refresh_spec *s, const char *jti, int64_t exp, int64_t now)
{
	int err;

	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_refresh_issue(token, family_out, db, iss, s, now)) ==
	    ZT_OK && (err = zt_refresh_note_access(db, iss->tenant,
	    family_out, jti, exp)) == ZT_OK)
		err = audit_family(db, iss, s->client_id, "issue", family_out,
		    s->identity_id, NULL);
	if ((err = zt_db_end(db, err)) < 0)
		zt_wipe(token, ZT_REFRESH_LEN + 1);
	return err;
}

/* ---- redeeming ---------------------------------------------------------- */

void
zt_refresh_grant_free(zt_refresh_grant *g)
{
	free(g->scope);
	json_decref(g->resource);
	g->scope = NULL;
	g->resource = NULL;
}

/* The family and token row of `hash` in the tenant. */
#define LOOKUP_SQL							\
	"SELECT f.id, f.system_id, f.client_id, f.identity_id,"		\
	" f.session_id, f.scope, f.resource, f.jkt, f.auth_time,"	\
	" f.idle_s, f.expires_at, f.revoked_at, t.issued_at, t.spent_at" \
	" FROM oauth_refresh_tokens t JOIN oauth_refresh_families f"	\
	" ON f.tenant = t.tenant AND f.id = t.family_id"		\
	" WHERE t.tenant = $1 AND t.hash = $2"

enum redeem_state { R_OK, R_UNKNOWN, R_DEAD, R_REUSED };

struct row {
	char system_id[ZT_ID_LEN + 1], client_id[ZT_CLIENT_ID_LEN + 1];
	int64_t idle_s, expires_at, issued_at;
	bool revoked, spent;
};

static int
lookup(zt_refresh_grant *g, struct row *r, zt_db *db, const char *tenant,
    const char *hash)
{
	const char *res;
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, LOOKUP_SQL)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, hash);
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? err : zt_error_set(ZT_ENOTFOUND, "unknown "
		    "refresh token");
	}
	snprintf(g->hash, sizeof(g->hash), "%s", hash);
	snprintf(g->family, sizeof(g->family), "%s", zt_stmt_text(st, 0));
	snprintf(r->system_id, sizeof(r->system_id), "%s",
	    zt_stmt_text(st, 1));
	snprintf(r->client_id, sizeof(r->client_id), "%s",
	    zt_stmt_text(st, 2));
	snprintf(g->identity_id, sizeof(g->identity_id), "%s",
	    zt_stmt_text(st, 3));
	snprintf(g->session_id, sizeof(g->session_id), "%s",
	    zt_stmt_is_null(st, 4) ? "" : zt_stmt_text(st, 4));
	g->scope = strdup(zt_stmt_text(st, 5));
	res = zt_stmt_is_null(st, 6) ? NULL : zt_stmt_text(st, 6);
	g->resource = res ? json_loads(res, JSON_DECODE_ANY, NULL) : NULL;
	snprintf(g->jkt, sizeof(g->jkt), "%s",
	    zt_stmt_is_null(st, 7) ? "" : zt_stmt_text(st, 7));
	g->auth_time = zt_stmt_int(st, 8);
	r->idle_s = zt_stmt_int(st, 9);
	r->expires_at = zt_stmt_int(st, 10);
	r->revoked = !zt_stmt_is_null(st, 11);
	r->issued_at = zt_stmt_int(st, 12);
	r->spent = !zt_stmt_is_null(st, 13);
	zt_stmt_reset(st);
	if (g->scope == NULL || (res != NULL && g->resource == NULL))
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

/* True when the row `sql` selects (tenant $1, id $2) exists. */
static int
exists(bool *yes, zt_db *db, const char *sql, const char *tenant,
    const char *id)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err < 0)
		return err;
	*yes = err == ZT_ROW;
	return ZT_OK;
}

/*
 * Whether the family may still be used: the sign-in session it came from
 * is there (a revoked session's row is deleted; an expired one stays, so
 * a family outlives the session's own idle time, as offline access
 * wants) and the subject is an active identity.
 */
static int
family_alive(bool *alive, zt_db *db, const char *tenant,
    const zt_refresh_grant *g)
{
	int err;

	*alive = true;
	if (g->session_id[0] != '\0' && (err = exists(alive, db, "SELECT 1"
	    " FROM sessions WHERE tenant = $1 AND id = $2", tenant,
	    g->session_id)) < 0)
		return err;
	if (*alive && (err = exists(alive, db, "SELECT 1 FROM identities"
	    " WHERE tenant = $1 AND id = $2 AND state = 'active'", tenant,
	    g->identity_id)) < 0)
		return err;
	return ZT_OK;
}

/* Revokes the family after reuse and audits it, in one transaction. */
static int
reuse_revoke(zt_db *db, const zt_issuer *iss, const char *client_id,
    const zt_refresh_grant *g, int64_t now)
{
	int err;

	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = revoke_family_stmts(db, iss->tenant, g->family, now)) ==
	    ZT_OK)
		err = audit_family(db, iss, client_id, "reuse", g->family,
		    g->identity_id, NULL);
	return zt_db_end(db, err);
}

int
zt_refresh_redeem(zt_refresh_grant *out, zt_db *db, const zt_issuer *iss,
    const char *client_id, const char *token, const char *jkt, int64_t now,
    zt_oauth_error *e)
{
	char hash[HASH_HEX];
	struct row r;
	bool alive;
	int err;

	memset(out, 0, sizeof(*out));
	if (!token_hash(hash, token))
		return zt_oauth_fail(e, 400, "invalid_grant", "the refresh "
		    "token is not valid");
	err = lookup(out, &r, db, iss->tenant, hash);
	if (err == ZT_ENOTFOUND || (err == ZT_OK &&
	    (strcmp(r.system_id, iss->system_id) != 0 ||
	    strcmp(r.client_id, client_id) != 0))) {
		/* Another client's token proves the token leaked; but telling
		 * that apart would let a client probe for others' tokens, and
		 * revoking on its word would let it kill them. */
		err = zt_oauth_fail(e, 400, "invalid_grant", "the refresh "
		    "token is not valid");
		goto fail;
	}
	if (err < 0) {
		err = zt_oauth_fail(e, 500, "server_error", "the refresh "
		    "token could not be read");
		goto fail;
	}
	if (r.revoked) {
		err = zt_oauth_fail(e, 400, "invalid_grant", "the refresh "
		    "token was revoked");
		goto fail;
	}
	if (r.spent) {
		log_warn("refresh token reused; its family is revoked",
		    ZS("client_id", client_id), ZS("family", out->family));
		if (reuse_revoke(db, iss, client_id, out, now) < 0)
			err = zt_oauth_fail(e, 503, "temporarily_unavailable",
			    "retry");
		else
			err = zt_oauth_fail(e, 400, "invalid_grant", "the "
			    "refresh token was used before: every token of "
			    "its grant is revoked");
		goto fail;
	}
	if (now >= r.expires_at || now >= r.issued_at + r.idle_s) {
		err = zt_oauth_fail(e, 400, "invalid_grant", "the refresh "
		    "token has expired");
		goto fail;
	}
	/* RFC 9449 5: a token bound to a key is only good with a proof of
	 * that key. */
	if (out->jkt[0] != '\0' && (jkt == NULL ||
	    strcmp(jkt, out->jkt) != 0)) {
		err = zt_oauth_fail(e, 400, "invalid_grant", "the refresh "
		    "token is DPoP-bound: send a DPoP proof of its key");
		goto fail;
	}
	if ((err = family_alive(&alive, db, iss->tenant, out)) < 0) {
		err = zt_oauth_fail(e, 500, "server_error", "the refresh "
		    "token could not be read");
		goto fail;
	}
	if (!alive) {
		err = zt_oauth_fail(e, 400, "invalid_grant", "the sign-in "
		    "this refresh token came from has ended");
		goto fail;
	}
	return ZT_OK;
fail:
	zt_refresh_grant_free(out);
	return err;
}

int
zt_refresh_rotate(char token[ZT_REFRESH_LEN + 1], zt_db *db,
    const zt_issuer *iss, const zt_refresh_grant *g, const char *client_id,
    const char *jti, int64_t exp, int64_t now)
{
	char hash[HASH_HEX];
	zt_stmt *st;
	int64_t n;
	int err;

	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, db, "UPDATE oauth_refresh_tokens SET"
	    " spent_at = $3 WHERE tenant = $1 AND hash = $2 AND spent_at IS"
	    " NULL")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, g->hash);
	zt_stmt_bind_int(st, 3, now);
	err = zt_stmt_step(st);
	n = zt_stmt_changes(st);
	zt_stmt_reset(st);
	if (err < 0)
		goto out;
	if (n != 1) {
		/* Spent by a request that ran alongside this one. */
		if ((err = revoke_family_stmts(db, iss->tenant, g->family,
		    now)) == ZT_OK &&
		    (err = audit_family(db, iss, client_id, "reuse",
		    g->family, g->identity_id, NULL)) == ZT_OK &&
		    (err = zt_db_commit(db)) == ZT_OK)
			return zt_error_set(ZT_ECONFLICT, "the refresh token "
			    "was used before");
		goto out;
	}
	if ((err = token_new(token, hash)) < 0 ||
	    (err = token_insert(db, iss->tenant, g->family, hash, now)) < 0 ||
	    (err = zt_refresh_note_access(db, iss->tenant, g->family, jti,
	    exp)) < 0 ||
	    (err = audit_family(db, iss, client_id, "rotate", g->family,
	    g->identity_id, NULL)) < 0)
		goto out;
	err = zt_db_commit(db);
out:
	if (err < 0) {
		(void)zt_db_rollback(db);
		zt_wipe(token, ZT_REFRESH_LEN + 1);
	}
	return err;
}

/* ---- introspection and revocation --------------------------------------- */

int
zt_refresh_introspect(json_t **out, zt_db *db, const zt_issuer *iss,
    const char *token, int64_t now)
{
	zt_refresh_grant g = { .scope = NULL };
	char hash[HASH_HEX];
	struct row r;
	bool alive = false;
	int err;

	*out = NULL;
	if (!token_hash(hash, token))
		return ZT_OK;
	if ((err = lookup(&g, &r, db, iss->tenant, hash)) == ZT_ENOTFOUND)
		return ZT_OK;
	if (err < 0)
		goto out;
	if (strcmp(r.system_id, iss->system_id) != 0 || r.revoked ||
	    r.spent || now >= r.expires_at || now >= r.issued_at + r.idle_s)
		goto out;
	if ((err = family_alive(&alive, db, iss->tenant, &g)) < 0 || !alive)
		goto out;
	*out = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
	    "active", true, "token_type", "refresh_token",
	    "client_id", r.client_id, "sub", g.identity_id, "iss", iss->url,
	    "iat", (json_int_t)r.issued_at,
	    "exp", (json_int_t)(r.issued_at + r.idle_s < r.expires_at ?
	    r.issued_at + r.idle_s : r.expires_at), "scope", g.scope);
	if (*out == NULL)
		err = zt_error_set(ZT_ENOMEM, "out of memory");
	else if (g.resource != NULL)
		json_object_set(*out, "aud", g.resource);
	if (*out != NULL && g.jkt[0] != '\0')
		json_object_set_new(*out, "cnf", json_pack("{s:s}", "jkt",
		    g.jkt));
out:
	zt_refresh_grant_free(&g);
	return err;
}

int
zt_refresh_revoke_token(zt_db *db, const zt_issuer *iss,
    const char *client_id, const char *token, const char *request_id,
    int64_t now)
{
	zt_refresh_grant g = { .scope = NULL };
	char hash[HASH_HEX];
	struct row r;
	int err;

	if (!token_hash(hash, token))
		return zt_error_set(ZT_ENOTFOUND, "not a refresh token");
	if ((err = lookup(&g, &r, db, iss->tenant, hash)) < 0)
		goto out;
	/* RFC 7009 2.1: only the client the token was issued to. */
	if (strcmp(r.system_id, iss->system_id) != 0 ||
	    strcmp(r.client_id, client_id) != 0) {
		err = zt_error_set(ZT_ENOTFOUND, "not a refresh token");
		goto out;
	}
	if (r.revoked)
		goto out;
	if ((err = zt_db_begin(db)) < 0)
		goto out;
	if ((err = revoke_family_stmts(db, iss->tenant, g.family, now)) ==
	    ZT_OK)
		err = audit_family(db, iss, client_id, "revoke", g.family,
		    g.identity_id, request_id);
	err = zt_db_end(db, err);
out:
	zt_refresh_grant_free(&g);
	return err;
}
