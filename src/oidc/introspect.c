/*
 * introspect.c: token introspection (RFC 7662) and revocation (RFC 7009),
 * and the table of revoked access tokens.
 *
 * Access tokens are JWTs that resource servers may check on their own, so
 * revoking one cannot recall it from them; what revocation does is make
 * this server's introspection (and token exchange) answer inactive at
 * once.  The revoked token's jti is kept until the token's exp, after
 * which the token is dead anyway; old rows are dropped as new ones come.
 * The table is in the database, so every node sees a revocation at once.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"
#include "oidc/flow.h"

#define SCHEMA_V1(KT)							\
	"CREATE TABLE oauth_revoked ("					\
	" tenant " KT " NOT NULL,"					\
	" jti " KT " NOT NULL,"						\
	" expires_at BIGINT NOT NULL,"					\
	" revoked_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, jti));"					\
	"CREATE INDEX oauth_revoked_expiry"				\
	" ON oauth_revoked (tenant, expires_at);"

/* Single-use values (DPoP proof and client assertion jti) shared by the
 * nodes of one database (zt_replay_seen in issuer.c). */
#define SCHEMA_V2(KT)							\
	"CREATE TABLE oauth_replay ("					\
	" hash " KT " PRIMARY KEY,"					\
	" expires_at BIGINT NOT NULL);"					\
	"CREATE INDEX oauth_replay_expiry ON oauth_replay (expires_at);"

static const zt_migration oauth_steps[] = {
	{ 1, "revoked access tokens", SCHEMA_V1("TEXT"),
	  SCHEMA_V1("TEXT COLLATE \"C\"") },
	{ 2, "single-use values of all nodes", SCHEMA_V2("TEXT"),
	  SCHEMA_V2("TEXT COLLATE \"C\"") },
};

const zt_migration_set zt_oauth_migrations = {
	"oauth", oauth_steps, ZT_ARRAY_LEN(oauth_steps),
};

static const char *const no_multi[] = { NULL };

static int
token_param(const char **token, const zt_form *f, zt_oauth_error *e)
{
	const char *rep;

	if ((rep = zt_form_repeated(f, no_multi)) != NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "parameter "
		    "\"%.40s\" is given more than once", rep);
	if ((*token = zt_form_get(f, "token")) == NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "token is "
		    "required");
	return ZT_OK;
}

int
zt_oauth_introspect(json_t **out, const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e)
{
	static const char *const copy[] = {
		"scope", "client_id", "sub", "aud", "iss", "exp", "iat",
		"nbf", "jti", "act", "cnf",
	};
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	zt_oauth_client c;
	const char *token;
	json_t *claims, *doc;
	size_t i;
	int err;

	*out = NULL;
	if ((err = token_param(&token, f, e)) < 0 ||
	    (err = zt_oauth_client_auth(&c, r, f, e)) < 0)
		return err;
	/* A public client proves nothing about itself: it may not read
	 * what a token says. */
	if (strcmp(c.method, "none") == 0) {
		zt_oauth_client_free(&c);
		return zt_oauth_fail(e, 401, "invalid_client", "a public "
		    "client cannot introspect tokens");
	}
	zt_oauth_client_free(&c);
	/* Refresh tokens are opaque: refresh.c knows them. */
	if (strncmp(token, "ztrt_", 5) == 0) {
		if (zt_refresh_introspect(out, r->db, r->iss, token, now) < 0)
			return zt_oauth_fail(e, 503, "temporarily_unavailable",
			    "retry");
		if (*out == NULL && (*out = json_pack("{s:b}", "active",
		    false)) == NULL)
			return zt_oauth_fail(e, 500, "server_error", "out of "
			    "memory");
		return ZT_OK;
	}
	if (strlen(token) > ZT_JWS_MAX ||
	    zt_oauth_verify_access(&claims, r->db, r->iss, token, now) < 0) {
		if ((*out = json_pack("{s:b}", "active", false)) == NULL)
			return zt_oauth_fail(e, 500, "server_error", "out of "
			    "memory");
		return ZT_OK;
	}
	doc = json_pack("{s:b, s:s}", "active", true, "token_type",
	    json_object_get(claims, "cnf") ? "DPoP" : "Bearer");
	if (doc == NULL) {
		json_decref(claims);
		return zt_oauth_fail(e, 500, "server_error", "out of memory");
	}
	for (i = 0; i < ZT_ARRAY_LEN(copy); i++)
		if (json_object_get(claims, copy[i]) != NULL)
			json_object_set(doc, copy[i],
			    json_object_get(claims, copy[i]));
	json_decref(claims);
	*out = doc;
	return ZT_OK;
}


/* Records the revocation of `claims` and audits it, in one transaction. */
static int
revoke_tx(const zt_oauth_req *r, const zt_oauth_client *c, json_t *claims)
{
	const char *jti = json_string_value(json_object_get(claims, "jti"));
	char actor_id[ZT_CLIENT_ID_LEN + 16];
	zt_actor actor = { actor_id, r->iss->tenant, r->request_id };
	int64_t now = zt_now_ms();
	json_t *rec;
	zt_stmt *st;
	int err;

	snprintf(actor_id, sizeof(actor_id), "client:%s", c->id);
	if ((err = zt_db_begin(r->db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, r->db, "DELETE FROM oauth_revoked"
	    " WHERE tenant = $1 AND expires_at < $2")) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, r->iss->tenant);
	zt_stmt_bind_int(st, 2, now / 1000);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = zt_db_prepare(&st, r->db, "INSERT INTO oauth_revoked"
	    " (tenant, jti, expires_at, revoked_at) VALUES ($1, $2, $3, $4)"
	    " ON CONFLICT DO NOTHING")) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, r->iss->tenant);
	zt_stmt_bind_text(st, 2, jti);
	zt_stmt_bind_int(st, 3, json_integer_value(json_object_get(claims,
	    "exp")));
	zt_stmt_bind_int(st, 4, now);
	if ((err = zt_stmt_run(st)) < 0)
		goto fail;
	rec = json_pack("{s:s, s:s, s:O}", "issuer", r->iss->url,
	    "client_id", c->id, "jti", json_object_get(claims, "jti"));
	err = zt_audit_append(r->db, &actor, &(zt_audit_entry){
	    .action = "oauth.revoke", .tenant = r->iss->tenant,
	    .target = actor_id, .after = rec });
	json_decref(rec);
	if (err < 0 || (err = zt_db_commit(r->db)) < 0)
		goto fail;
	return ZT_OK;
fail:
	(void)zt_db_rollback(r->db);
	return err;
}

/*
 * A token that is not a current access token of this issuer, or that was
 * issued to another client, is left alone and the answer is still 200:
 * RFC 7009 2.2 treats an invalid token as nothing to do, and answering
 * alike for another client's token tells the caller nothing about it.
 */
int
zt_oauth_revoke(const zt_oauth_req *r, const zt_form *f, zt_oauth_error *e)
{
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	zt_oauth_client c;
	const char *token;
	json_t *claims;
	int err;

	if ((err = token_param(&token, f, e)) < 0 ||
	    (err = zt_oauth_client_auth(&c, r, f, e)) < 0)
		return err;
	/* A refresh token takes its whole family with it (RFC 7009 2.1
	 * allows that, and a family is one grant). */
	if (strncmp(token, "ztrt_", 5) == 0) {
		if ((err = zt_refresh_revoke_token(r->db, r->iss, c.id, token,
		    r->request_id, now)) < 0 && err != ZT_ENOTFOUND)
			err = zt_oauth_fail(e, 503, "temporarily_unavailable",
			    "the revocation could not be recorded; retry");
		else
			err = ZT_OK;
	} else if (strlen(token) <= ZT_JWS_MAX &&
	    zt_oauth_verify_access(&claims, r->db, r->iss, token, now) == ZT_OK) {
		if (strcmp(json_string_value(json_object_get(claims,
		    "client_id")), c.id) == 0 &&
		    revoke_tx(r, &c, claims) < 0)
			err = zt_oauth_fail(e, 503, "temporarily_unavailable",
			    "the revocation could not be recorded; retry");
		json_decref(claims);
	}
	zt_oauth_client_free(&c);
	return err;
}
