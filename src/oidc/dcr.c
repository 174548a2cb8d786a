/*
 * dcr.c: dynamic client registration (RFC 7591) and its setting.
 *
 * Registration is off unless a tenant administrator turns it on for an
 * account system (one issuer), optionally behind an initial access
 * token (RFC 7591 3): a bearer secret the administrator hands to the
 * developers who may register, kept as its SHA-256 and shown once.  A
 * registered client goes through the registry like any other: the same
 * metadata checks (zt_client_metadata), the same row, an audit record
 * whose actor is "dcr:<issuer path>".  No client configuration endpoint
 * (RFC 7592): clients registered this way are managed through the admin
 * API.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "oidc/flow.h"

#define IAT_PREFIX	"ztia_"
#define IAT_BYTES	32
#define IAT_LEN		(5 + 43)
#define HASH_HEX	(2 * ZT_SHA256_LEN + 1)
#define BODY_MAX	(64 * 1024)

struct setting {
	bool found, enabled;
	char hash[HASH_HEX];	/* "" when no token is wanted */
	int64_t version;
};

static int
setting_read(struct setting *s, zt_db *db, const char *tenant,
    const char *system_id)
{
	zt_stmt *st;
	int err;

	memset(s, 0, sizeof(*s));
	if ((err = zt_db_prepare(&st, db, "SELECT enabled, token_hash,"
	    " version FROM oauth_registration WHERE tenant = $1 AND"
	    " system_id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, system_id);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		s->found = true;
		s->enabled = zt_stmt_int(st, 0) != 0;
		if (!zt_stmt_is_null(st, 1))
			snprintf(s->hash, sizeof(s->hash), "%s",
			    zt_stmt_text(st, 1));
		s->version = zt_stmt_int(st, 2);
		err = ZT_OK;
	} else if (err == ZT_DONE) {
		err = ZT_OK;
	}
	zt_stmt_reset(st);
	return err;
}

/*
 * Discovery asks for the setting on every request, so each thread keeps
 * the answers it read for ENABLED_TTL_MS.  A change on this node moves
 * the epoch and every thread reads again at once; a change made on
 * another node shows here within the TTL.
 */
#define ENABLED_SLOTS	8
#define ENABLED_TTL_MS	1000

static _Atomic uint64_t setting_epoch;

struct enabled_slot {
	char tenant[ZT_TENANT_ID_MAX + 1];
	char system_id[ZT_ID_LEN + 1];
	bool enabled;
	uint64_t epoch;
	int64_t at;
};

static _Thread_local struct enabled_slot enabled_cache[ENABLED_SLOTS];

bool
zt_dcr_enabled(zt_db *db, const zt_issuer *iss)
{
	uint64_t epoch = atomic_load(&setting_epoch);
	struct enabled_slot *v = &enabled_cache[0];
	int64_t now = zt_now_ms();
	struct setting s;
	size_t i;

	for (i = 0; i < ENABLED_SLOTS; i++) {
		struct enabled_slot *c = &enabled_cache[i];

		if (c->at != 0 && c->epoch == epoch &&
		    now - c->at < ENABLED_TTL_MS &&
		    strcmp(c->tenant, iss->tenant) == 0 &&
		    strcmp(c->system_id, iss->system_id) == 0)
			return c->enabled;
		if (c->at < v->at)
			v = c;
	}
	if (setting_read(&s, db, iss->tenant, iss->system_id) < 0)
		return false;
	snprintf(v->tenant, sizeof(v->tenant), "%s", iss->tenant);
	snprintf(v->system_id, sizeof(v->system_id), "%s", iss->system_id);
	v->enabled = s.enabled;
	v->epoch = epoch;
	v->at = now;
	return s.enabled;
}

/* Whether the Authorization header carries the initial access token. */
static bool
token_ok(const char *authorization, const char *want_hash)
{
	uint8_t h[ZT_SHA256_LEN];
	char hex[HASH_HEX];
	const char *t;

	if (authorization == NULL || strncasecmp(authorization, "Bearer ",
	    7) != 0)
		return false;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	if (strlen(t) != IAT_LEN)
		return false;
	zt_sha256(h, t, strlen(t));
	zt_hex_encode(hex, h, sizeof(h));
	return zt_ct_equal(hex, want_hash, HASH_HEX - 1);
}

/* RFC 7591 3.2.1: the client's metadata, its id, its secret (with
 * client_secret_expires_at, 0: never) and when it was issued. */
static json_t *
registration_doc(json_t *created, int64_t now)
{
	static const char *const drop[] = {
		"tenant", "account_system", "version", "created_at",
		"updated_at",
	};
	json_t *doc = json_deep_copy(created);
	size_t i;

	if (doc == NULL)
		return NULL;
	for (i = 0; i < ZT_ARRAY_LEN(drop); i++)
		json_object_del(doc, drop[i]);
	json_object_set_new(doc, "client_id_issued_at", json_integer(now));
	if (json_object_get(doc, "client_secret") != NULL)
		json_object_set_new(doc, "client_secret_expires_at",
		    json_integer(0));
	return doc;
}

int
zt_dcr_register(json_t **out, zt_db *db, const zt_issuer *iss,
    const char *authorization, const char *body, size_t len,
    const char *request_id, zt_oauth_error *e)
{
	char actor_id[ZT_ISSUER_URL_MAX + 8];
	zt_actor actor = { actor_id, iss->tenant, request_id };
	zt_id_ctx cx = { db, NULL, &actor, { iss->tenant, NULL } };
	json_t *in = NULL, *created = NULL;
	struct setting s;
	const char *msg;
	int err;

	*out = NULL;
	if (setting_read(&s, db, iss->tenant, iss->system_id) < 0)
		return zt_oauth_fail(e, 503, "temporarily_unavailable",
		    "retry");
	if (!s.enabled)
		return zt_oauth_fail(e, 403, "access_denied", "this issuer "
		    "does not accept dynamic registration");
	if (s.hash[0] != '\0' && !token_ok(authorization, s.hash)) {
		err = zt_oauth_fail(e, 401, "invalid_token", "an initial "
		    "access token is required");
		e->challenge = false;
		return err;
	}
	if (len > BODY_MAX || zt_json_parse(&in, body, len, 8) < 0 ||
	    !json_is_object(in)) {
		json_decref(in);
		return zt_oauth_fail(e, 400, "invalid_client_metadata", "the "
		    "body is a JSON object of client metadata");
	}
	/* The issuer decides the account system, not the caller. */
	if (json_object_get(in, "account_system") != NULL) {
		json_decref(in);
		return zt_oauth_fail(e, 400, "invalid_client_metadata",
		    "account_system is the issuer's own");
	}
	/* Only an administrator may spare a client the consent page. */
	if (json_object_get(in, "first_party") != NULL) {
		json_decref(in);
		return zt_oauth_fail(e, 400, "invalid_client_metadata",
		    "first_party is for administrators to set");
	}
	json_object_set_new(in, "account_system", json_string(iss->system));
	snprintf(actor_id, sizeof(actor_id), "dcr:%s/%s", iss->tenant,
	    iss->system);
	err = zt_client_create(&created, &cx, iss->tenant, in);
	json_decref(in);
	if (err == ZT_EINVAL || err == ZT_ETOOBIG) {
		msg = zt_error_msg();
		return zt_oauth_fail(e, 400, strstr(msg, "\"redirect_uris\"") ?
		    "invalid_redirect_uri" : "invalid_client_metadata", "%s",
		    msg);
	}
	if (err < 0)
		return zt_oauth_fail(e, 503, "temporarily_unavailable", "the "
		    "client could not be registered; retry");
	*out = registration_doc(created, zt_now_ms() / 1000);
	json_decref(created);
	if (*out == NULL)
		return zt_oauth_fail(e, 500, "server_error", "out of memory");
	return ZT_OK;
}

/* ---- the setting ---------------------------------------------------------- */

static int
setting_scope(const zt_id_ctx *cx, const char *tenant, const char *system_id)
{
	json_t *sys = NULL;
	int err;

	if (cx->scope.tenant != NULL && strcmp(cx->scope.tenant, tenant) != 0)
		return zt_error_set(ZT_ENOTFOUND, "no tenant \"%.64s\"",
		    tenant);
	if (cx->scope.unit != NULL)
		return zt_error_set(ZT_EFORBIDDEN, "a unit administrator "
		    "cannot change client registration");
	if ((err = zt_acctsys_get(&sys, cx, tenant, system_id)) < 0)
		return err;
	json_decref(sys);
	return ZT_OK;
}

static json_t *
setting_doc(const struct setting *s, const char *system_id)
{
	return json_pack("{s:s, s:b, s:b, s:I}", "account_system_id",
	    system_id, "enabled", s->enabled,
	    "initial_access_token_required", s->hash[0] != '\0',
	    "version", (json_int_t)s->version);
}

int
zt_dcr_setting_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *system_id)
{
	struct setting s;
	int err;

	*out = NULL;
	if ((err = setting_scope(cx, tenant, system_id)) < 0 ||
	    (err = setting_read(&s, cx->db, tenant, system_id)) < 0)
		return err;
	if ((*out = setting_doc(&s, system_id)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

static int
setting_tx(json_t **out, char token[IAT_LEN + 1], const zt_id_ctx *cx,
    const char *tenant, const char *system_id, bool enabled,
    bool require_token, int64_t version)
{
	struct setting before, after;
	uint8_t h[ZT_SHA256_LEN];
	char target[ZT_ID_LEN + 16];
	json_t *b = NULL, *a = NULL;
	zt_stmt *st;
	int err;

	if ((err = setting_scope(cx, tenant, system_id)) < 0 ||
	    (err = setting_read(&before, cx->db, tenant, system_id)) < 0)
		return err;
	if (version != 0 && version != before.version)
		return zt_error_set(ZT_ESTALE, "the setting has changed "
		    "(version %lld)", (long long)before.version);
	after = before;
	after.found = true;
	after.enabled = enabled;
	after.version = before.version + 1;
	after.hash[0] = '\0';
	if (require_token) {
		memcpy(token, IAT_PREFIX, sizeof(IAT_PREFIX) - 1);
		if ((err = zt_random_id(token + sizeof(IAT_PREFIX) - 1,
		    IAT_LEN + 2 - sizeof(IAT_PREFIX), IAT_BYTES)) < 0)
			return err;
		zt_sha256(h, token, strlen(token));
		zt_hex_encode(after.hash, h, sizeof(h));
	}
	if ((err = zt_db_prepare(&st, cx->db, before.found ?
	    "UPDATE oauth_registration SET enabled = $3, token_hash = $4,"
	    " version = $5, updated_at = $6 WHERE tenant = $1 AND"
	    " system_id = $2" :
	    "INSERT INTO oauth_registration (tenant, system_id, enabled,"
	    " token_hash, version, updated_at) VALUES ($1, $2, $3, $4, $5,"
	    " $6)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, system_id);
	zt_stmt_bind_int(st, 3, enabled);
	if (after.hash[0] != '\0')
		zt_stmt_bind_text(st, 4, after.hash);
	else
		zt_stmt_bind_null(st, 4);
	zt_stmt_bind_int(st, 5, after.version);
	zt_stmt_bind_int(st, 6, zt_now_ms());
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err != ZT_DONE)
		return err < 0 ? err : zt_error_set(ZT_ERR, "a write returned "
		    "rows");
	b = before.found ? setting_doc(&before, system_id) : NULL;
	a = setting_doc(&after, system_id);
	snprintf(target, sizeof(target), "acctsys:%s", system_id);
	err = zt_audit_append(cx->db, cx->actor, &(zt_audit_entry){
	    .action = "oauth.registration", .tenant = tenant,
	    .target = target, .before = b, .after = a });
	json_decref(b);
	if (err < 0) {
		json_decref(a);
		return err;
	}
	*out = a;
	return ZT_OK;
}

int
zt_dcr_setting_put(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *system_id, bool enabled, bool require_token,
    int64_t version)
{
	char token[IAT_LEN + 1] = "";
	json_t *doc = NULL;
	int err;

	*out = NULL;
	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	err = setting_tx(&doc, token, cx, tenant, system_id, enabled,
	    require_token, version);
	if ((err = zt_db_end(cx->db, err)) < 0) {
		json_decref(doc);
		zt_wipe(token, sizeof(token));
		return err;
	}
	atomic_fetch_add(&setting_epoch, 1);
	if (token[0] != '\0')
		json_object_set_new(doc, "initial_access_token",
		    json_string(token));
	zt_wipe(token, sizeof(token));
	*out = doc;
	return ZT_OK;
}
