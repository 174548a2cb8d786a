/*
 * session.c: server-side login sessions, their cookie, and CSRF tokens.
 *
 * The cookie carries 256 random bits; the row keeps their SHA-256, so a
 * copy of the database opens no session.  Each session has a second,
 * public id (12 random bytes) for listing and revoking: the cookie value
 * itself is never shown again.  A session ends when it has been idle for
 * the configured idle time or reached its absolute lifetime, or when it is
 * revoked (its row is deleted; the audit trail keeps the record).
 *
 * last_seen moves at most once per TOUCH_MS, so pages that load many
 * resources cost one write a minute, and the idle timeout is exact to that
 * minute.
 *
 * CSRF: every session has its own 256-bit key; a form token is the
 * HMAC-SHA256 of the session's id and the form's name under that key.  A
 * token from another session, another form or with a changed byte fails,
 * and the comparison is in constant time.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "authn/authn_int.h"

#define TOUCH_MS (60 * 1000)
#define UA_MAX 256
#define ADDR_MAX 64

static int64_t
cfg_idle_ms(const zt_session_config *cfg)
{
	return (cfg && cfg->idle_s > 0 ? cfg->idle_s :
	    ZT_SESSION_IDLE_S_DEFAULT) * 1000;
}

static int64_t
cfg_life_ms(const zt_session_config *cfg)
{
	return (cfg && cfg->lifetime_s > 0 ? cfg->lifetime_s :
	    ZT_SESSION_LIFETIME_S_DEFAULT) * 1000;
}

static bool
token_ok(const char *t)
{
	size_t i;

	if (t == NULL || strlen(t) != ZT_SESSION_TOKEN_LEN)
		return false;
	for (i = 0; i < ZT_SESSION_TOKEN_LEN; i++)
		if (!((t[i] >= 'A' && t[i] <= 'Z') ||
		    (t[i] >= 'a' && t[i] <= 'z') ||
		    (t[i] >= '0' && t[i] <= '9') || t[i] == '-' ||
		    t[i] == '_'))
			return false;
	return true;
}

static void
time_str(char out[32], int64_t ms)
{
	zt_time_format(out, ms);
}

#define SESSION_COLS "id, tenant, identity_id, account_id, acr, amr," \
	" created_at, last_seen, expires_at, csrf_key, client_addr, user_agent"

static void
row_session(zt_session *s, zt_stmt *st)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", zt_stmt_text(st, 0));
	snprintf(s->tenant, sizeof(s->tenant), "%s", zt_stmt_text(st, 1));
	snprintf(s->identity_id, sizeof(s->identity_id), "%s",
	    zt_stmt_text(st, 2));
	snprintf(s->account_id, sizeof(s->account_id), "%s",
	    zt_stmt_text(st, 3));
	snprintf(s->acr, sizeof(s->acr), "%s", zt_stmt_text(st, 4));
	snprintf(s->amr, sizeof(s->amr), "%s", zt_stmt_text(st, 5));
	s->created_at = zt_stmt_int(st, 6);
	s->last_seen = zt_stmt_int(st, 7);
	s->expires_at = zt_stmt_int(st, 8);
	if (zt_hex_decode(s->csrf_key, sizeof(s->csrf_key),
	    zt_stmt_text(st, 9)) < 0)
		memset(s->csrf_key, 0, sizeof(s->csrf_key));
}

static json_t *
row_json(zt_stmt *st)
{
	char c[32], l[32], e[32];
	json_t *amr = json_array();
	const char *p = zt_stmt_text(st, 5), *sp;

	/* "pwd otp" -> ["pwd", "otp"] */
	while (p && *p) {
		sp = strchr(p, ' ');
		json_array_append_new(amr, json_stringn(p, sp ? (size_t)(sp -
		    p) : strlen(p)));
		p = sp ? sp + 1 : NULL;
	}
	time_str(c, zt_stmt_int(st, 6));
	time_str(l, zt_stmt_int(st, 7));
	time_str(e, zt_stmt_int(st, 8));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s,"
	    " s:s, s:s}",
	    "id", zt_stmt_text(st, 0), "tenant", zt_stmt_text(st, 1),
	    "identity_id", zt_stmt_text(st, 2),
	    "account_id", zt_stmt_text(st, 3), "acr", zt_stmt_text(st, 4),
	    "amr", amr, "created_at", c, "last_seen", l, "expires_at", e,
	    "client_addr", zt_stmt_text(st, 10),
	    "user_agent", zt_stmt_text(st, 11));
}

/* ---- create -------------------------------------------------------------- */

static bool
amr_ok(const char *amr)
{
	const char *p;

	if (amr == NULL || *amr == '\0' || strlen(amr) >= 64)
		return false;
	for (p = amr; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == ' '))
			return false;
	return true;
}

static int
session_insert(zt_db *db, const zt_session *s, const char *hash,
    const char *csrf_hex, int64_t idle_s, const char *addr, const char *ua)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO sessions (tenant, id,"
	    " token_hash, identity_id, account_id, acr, amr, csrf_key,"
	    " created_at, last_seen, expires_at, idle_s, client_addr,"
	    " user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
	    " $11, $12, $13, $14)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, s->tenant);
	zt_stmt_bind_text(st, 2, s->id);
	zt_stmt_bind_text(st, 3, hash);
	zt_stmt_bind_text(st, 4, s->identity_id);
	zt_stmt_bind_text(st, 5, s->account_id);
	zt_stmt_bind_text(st, 6, s->acr);
	zt_stmt_bind_text(st, 7, s->amr);
	zt_stmt_bind_text(st, 8, csrf_hex);
	zt_stmt_bind_int(st, 9, s->created_at);
	zt_stmt_bind_int(st, 10, s->last_seen);
	zt_stmt_bind_int(st, 11, s->expires_at);
	zt_stmt_bind_int(st, 12, idle_s);
	zt_stmt_bind_text(st, 13, addr);
	zt_stmt_bind_text(st, 14, ua);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

int
zt_session_create(zt_session *out, const zt_id_ctx *cx,
    const zt_session_config *cfg, const char *tenant,
    const zt_session_spec *spec, char token[ZT_SESSION_TOKEN_LEN + 1])
{
	uint8_t raw[32];
	char hash[AUTHN_HASH_HEX], csrf[2 * 32 + 1], addr[ADDR_MAX + 4];
	char ua[UA_MAX + 4], exp[32];
	struct authn_account a;
	zt_session s;
	json_t *doc;
	int err;

	if (!amr_ok(spec->amr))
		return zt_error_set(ZT_EINVAL, "amr must be methods such as "
		    "\"pwd otp\"");
	if ((err = authn_account_get(&a, cx, tenant, spec->account)) < 0)
		return err;
	if (spec->identity && strcmp(spec->identity, a.identity_id) != 0)
		return zt_error_set(ZT_EINVAL, "the account belongs to "
		    "another identity");

	memset(&s, 0, sizeof(s));
	snprintf(s.tenant, sizeof(s.tenant), "%s", tenant);
	snprintf(s.identity_id, sizeof(s.identity_id), "%s", a.identity_id);
	snprintf(s.account_id, sizeof(s.account_id), "%s", a.id);
	snprintf(s.amr, sizeof(s.amr), "%s", spec->amr);
	snprintf(s.acr, sizeof(s.acr), "%s", spec->acr ? spec->acr :
	    strchr(spec->amr, ' ') ? "mfa" : "pwd");
	s.created_at = s.last_seen = authn_now_ms();
	s.expires_at = s.created_at + cfg_life_ms(cfg);
	if ((err = zt_random_id(s.id, sizeof(s.id), 12)) < 0 ||
	    (err = zt_random(s.csrf_key, sizeof(s.csrf_key))) < 0 ||
	    (err = zt_random(raw, sizeof(raw))) < 0)
		return err;
	zt_b64url_encode(token, raw, sizeof(raw));
	zt_wipe(raw, sizeof(raw));
	authn_sha256_hex(hash, token, ZT_SESSION_TOKEN_LEN);
	zt_hex_encode(csrf, s.csrf_key, sizeof(s.csrf_key));
	zt_str_sanitize(addr, spec->client_addr ? spec->client_addr : "",
	    spec->client_addr ? strlen(spec->client_addr) : 0, ADDR_MAX);
	zt_str_sanitize(ua, spec->user_agent ? spec->user_agent : "",
	    spec->user_agent ? strlen(spec->user_agent) : 0, UA_MAX);

	if ((err = zt_db_begin(cx->db)) < 0)
		goto out;
	time_str(exp, s.expires_at);
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", s.id,
	    "identity_id", s.identity_id, "account_id", s.account_id,
	    "amr", s.amr, "expires_at", exp);
	if ((err = session_insert(cx->db, &s, hash, csrf,
	    cfg_idle_ms(cfg) / 1000, addr, ua)) < 0 ||
	    (err = authn_audit(cx, "session.create", tenant, "session", s.id,
	    doc)) < 0 || (err = zt_db_commit(cx->db)) < 0)
		zt_db_rollback(cx->db);
	json_decref(doc);
out:
	zt_wipe(csrf, sizeof(csrf));
	if (err < 0) {
		zt_wipe(token, ZT_SESSION_TOKEN_LEN + 1);
		zt_wipe(&s, sizeof(s));
		return err;
	}
	*out = s;
	zt_wipe(&s, sizeof(s));
	return ZT_OK;
}

/* ---- lookup -------------------------------------------------------------- */

int
zt_session_lookup(zt_session *out, zt_db *db, const zt_session_config *cfg,
    const char *tenant, const char *token)
{
	char hash[AUTHN_HASH_HEX];
	int64_t now = authn_now_ms();
	zt_stmt *st;
	bool live = false;
	int err;

	memset(out, 0, sizeof(*out));
	if (!token_ok(token))
		return zt_error_set(ZT_ENOTFOUND, "no session");
	authn_sha256_hex(hash, token, ZT_SESSION_TOKEN_LEN);
	if ((err = zt_db_prepare(&st, db, "SELECT " SESSION_COLS
	    " FROM sessions WHERE token_hash = $1 AND tenant = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, hash);
	zt_stmt_bind_text(st, 2, tenant);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		row_session(out, st);
		live = now < out->expires_at &&
		    now - out->last_seen < cfg_idle_ms(cfg);
	}
	zt_stmt_reset(st);
	if (err < 0)
		return err;
	if (!live) {
		zt_wipe(out, sizeof(*out));
		return zt_error_set(ZT_ENOTFOUND, "no session");
	}
	if (now - out->last_seen < TOUCH_MS)
		return ZT_OK;

	/* Noted outside any transaction: a lost touch costs a minute. */
	if ((err = zt_db_prepare(&st, db, "UPDATE sessions SET last_seen = $1"
	    " WHERE tenant = $2 AND id = $3")) < 0)
		return err;
	zt_stmt_bind_int(st, 1, now);
	zt_stmt_bind_text(st, 2, tenant);
	zt_stmt_bind_text(st, 3, out->id);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	out->last_seen = now;
	return err < 0 ? err : ZT_OK;
}

/* ---- list and revoke ----------------------------------------------------- */

int
zt_session_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *identity)
{
	int64_t now = authn_now_ms();
	json_t *ident = NULL, *list;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_identity_get(&ident, cx, tenant, identity)) < 0)
		return err;
	json_decref(ident);
	if ((err = zt_db_prepare(&st, cx->db, "SELECT " SESSION_COLS
	    " FROM sessions WHERE tenant = $1 AND identity_id = $2"
	    " AND expires_at > $3 AND last_seen + idle_s * 1000 > $3"
	    " ORDER BY created_at DESC, id")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, identity);
	zt_stmt_bind_int(st, 3, now);
	list = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(list, row_json(st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

/* Deletes by `sql` ($1 tenant, $2 id) with an audit record. */
static int
session_delete(const zt_id_ctx *cx, const char *tenant, const char *sql,
    const char *id, const char *action, const char *kind, json_t *doc,
    int64_t *count)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, cx->db, sql)) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	err = zt_stmt_step(st);
	*count = err >= 0 ? zt_stmt_changes(st) : 0;
	zt_stmt_reset(st);
	if (err < 0)
		goto fail;
	json_object_set_new(doc, "revoked", json_integer(*count));
	if ((err = authn_audit(cx, action, tenant, kind, id, doc)) < 0 ||
	    (err = zt_db_commit(cx->db)) < 0)
		goto fail;
	return ZT_OK;
fail:
	zt_db_rollback(cx->db);
	return err;
}

int
zt_session_revoke(const zt_id_ctx *cx, const char *tenant, const char *id)
{
	char ident[ZT_ID_LEN + 1] = "";
	json_t *doc = NULL;
	zt_stmt *st;
	int64_t n;
	int err;

	if (strlen(id) > ZT_SESSION_ID_LEN)
		return zt_error_set(ZT_ENOTFOUND, "no such session");
	if ((err = zt_db_prepare(&st, cx->db, "SELECT identity_id FROM"
	    " sessions WHERE tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		snprintf(ident, sizeof(ident), "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	if (err < 0)
		return err;

	/* A session of an identity outside the caller's scope is as absent
	 * as one that never was. */
	if (ident[0] == '\0' || zt_identity_get(&doc, cx, tenant, ident) < 0)
		return zt_error_set(ZT_ENOTFOUND, "no such session");
	json_decref(doc);
	doc = json_pack("{s:s}", "identity_id", ident);
	err = session_delete(cx, tenant, "DELETE FROM sessions WHERE"
	    " tenant = $1 AND id = $2", id, "session.revoke", "session", doc,
	    &n);
	json_decref(doc);
	if (err == ZT_OK && n == 0)
		return zt_error_set(ZT_ENOTFOUND, "no such session");
	return err;
}

int
zt_session_revoke_identity(const zt_id_ctx *cx, const char *tenant,
    const char *identity, int64_t *count)
{
	json_t *doc = NULL;
	int err;

	*count = 0;
	if ((err = zt_identity_get(&doc, cx, tenant, identity)) < 0)
		return err;
	json_decref(doc);
	doc = json_object();
	err = session_delete(cx, tenant, "DELETE FROM sessions WHERE"
	    " tenant = $1 AND identity_id = $2", identity,
	    "session.revoke_identity", "identity", doc, count);
	json_decref(doc);
	return err;
}

/* ---- cookie and CSRF ----------------------------------------------------- */

int
zt_session_cookie(char *out, size_t outlen, const char *value,
    int64_t max_age_s, bool tls)
{
	char age[40] = "";
	int n;

	if (max_age_s >= 0)
		snprintf(age, sizeof(age), "; Max-Age=%lld",
		    (long long)max_age_s);
	n = snprintf(out, outlen, "%s%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s",
	    tls ? "__Host-" : "", ZT_SESSION_COOKIE, value,
	    tls ? "; Secure" : "", age);
	if (n < 0 || (size_t)n >= outlen)
		return zt_error_set(ZT_ETOOBIG, "cookie does not fit");
	return ZT_OK;
}

void
zt_csrf_token(char out[ZT_CSRF_LEN + 1], const zt_session *s,
    const char *form)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	zt_buf msg = ZT_BUF_INIT(1024);

	zt_buf_addf(&msg, "%s\n%s", s->id, form ? form : "");
	HMAC(EVP_sha256(), s->csrf_key, sizeof(s->csrf_key),
	    (const unsigned char *)(msg.data ? msg.data : ""), msg.len, mac,
	    &len);
	zt_buf_free(&msg);
	zt_b64url_encode(out, mac, 32);
	zt_wipe(mac, sizeof(mac));
}

bool
zt_csrf_verify(const zt_session *s, const char *form, const char *token)
{
	char want[ZT_CSRF_LEN + 1];
	bool ok;

	if (token == NULL || strlen(token) != ZT_CSRF_LEN)
		return false;
	zt_csrf_token(want, s, form);
	ok = zt_ct_equal(want, token, ZT_CSRF_LEN);
	zt_wipe(want, sizeof(want));
	return ok;
}
