/*
 * device.c: the device authorization grant (RFC 8628).
 *
 * A device without a browser (a TV, a CLI on a server) asks for a device
 * code and a user code; the person signs in on another device, types the
 * user code at <issuer>/device and approves; meanwhile the device polls
 * the token endpoint with its device code.
 *
 * The device code is a bearer secret of 256 bits, kept as its SHA-256.
 * The user code is short enough to type, so it is the thing an attacker
 * guesses: 8 letters of 20 give 2^34.6 codes against at most a few
 * thousand live ones, each alive ZT_DEVICE_LIFETIME_S, and the page
 * throttles wrong guesses (api/oauth_grants.c).  The alphabet has no
 * vowels, so no code spells a word, and no letters that look like
 * digits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/flow.h"

#define DEVICE_PREFIX	"ztdc_"
#define DEVICE_BYTES	32
#define DEVICE_LEN	(5 + 43)
#define HASH_HEX	(2 * ZT_SHA256_LEN + 1)

static const char alphabet[] = "BCDFGHJKLMNPQRSTVWXZ";

int
zt_user_code_normalise(char out[ZT_USER_CODE_LEN + 1], const char *in)
{
	size_t n = 0;
	char ch;

	out[0] = '\0';
	for (; *in != '\0'; in++) {
		ch = *in;
		if (ch == '-' || ch == ' ')
			continue;
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (n == ZT_USER_CODE_LEN || ch == '\0' ||
		    strchr(alphabet, ch) == NULL)
			return zt_error_set(ZT_EINVAL, "a user code is %d "
			    "letters", ZT_USER_CODE_LEN);
		out[n++] = ch;
	}
	if (n != ZT_USER_CODE_LEN) {
		out[0] = '\0';
		return zt_error_set(ZT_EINVAL, "a user code is %d letters",
		    ZT_USER_CODE_LEN);
	}
	out[n] = '\0';
	return ZT_OK;
}

/* A random user code: rejection sampling keeps the letters uniform. */
static int
user_code_new(char out[ZT_USER_CODE_LEN + 1])
{
	const unsigned na = sizeof(alphabet) - 1;
	const unsigned limit = 256 - 256 % na;
	uint8_t buf[32];
	size_t n = 0, i;
	int err;

	while (n < ZT_USER_CODE_LEN) {
		if ((err = zt_random(buf, sizeof(buf))) < 0)
			return err;
		for (i = 0; i < sizeof(buf) && n < ZT_USER_CODE_LEN; i++)
			if (buf[i] < limit)
				out[n++] = alphabet[buf[i] % na];
	}
	out[n] = '\0';
	return ZT_OK;
}

static bool
device_hash(char hash[HASH_HEX], const char *code)
{
	uint8_t h[ZT_SHA256_LEN];
	size_t n = strlen(code);

	if (n != DEVICE_LEN || strncmp(code, DEVICE_PREFIX,
	    sizeof(DEVICE_PREFIX) - 1) != 0)
		return false;
	zt_sha256(h, code, n);
	zt_hex_encode(hash, h, sizeof(h));
	return true;
}

static const char *const multi_params[] = { "resource", NULL };

static int
device_insert(zt_db *db, const zt_issuer *iss, const char *hash,
    const char *code, const char *client_id, const char *scope,
    const char *res, int64_t now)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO oauth_device (tenant,"
	    " hash, user_code, system_id, client_id, scope, resource, state,"
	    " auth_time, interval_s, last_poll, expires_at) VALUES ($1, $2,"
	    " $3, $4, $5, $6, $7, 'pending', 0, $8, 0, $9)")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, hash);
	zt_stmt_bind_text(st, 3, code);
	zt_stmt_bind_text(st, 4, iss->system_id);
	zt_stmt_bind_text(st, 5, client_id);
	zt_stmt_bind_text(st, 6, scope);
	if (res != NULL)
		zt_stmt_bind_text(st, 7, res);
	else
		zt_stmt_bind_null(st, 7);
	zt_stmt_bind_int(st, 8, ZT_DEVICE_INTERVAL_S);
	zt_stmt_bind_int(st, 9, now + ZT_DEVICE_LIFETIME_S);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	return err == ZT_DONE ? ZT_OK : err < 0 ? err :
	    zt_error_set(ZT_ERR, "a write returned rows");
}

/* Stores a new request; a user code that is taken is drawn again. */
static int
device_store(char dc[DEVICE_LEN + 1], char code[ZT_USER_CODE_LEN + 1],
    zt_db *db, const zt_issuer *iss, const char *client_id,
    const char *scope, const char *res, int64_t now)
{
	char hash[HASH_HEX];
	zt_stmt *st;
	int tries, err;

	memcpy(dc, DEVICE_PREFIX, sizeof(DEVICE_PREFIX) - 1);
	if ((err = zt_random_id(dc + sizeof(DEVICE_PREFIX) - 1,
	    DEVICE_LEN + 2 - sizeof(DEVICE_PREFIX), DEVICE_BYTES)) < 0)
		return err;
	device_hash(hash, dc);
	for (tries = 0; tries < 4; tries++) {
		if ((err = user_code_new(code)) < 0 ||
		    (err = zt_db_begin(db)) < 0)
			return err;
		if ((err = zt_db_prepare(&st, db, "DELETE FROM oauth_device"
		    " WHERE tenant = $1 AND expires_at < $2")) == ZT_OK) {
			zt_stmt_bind_text(st, 1, iss->tenant);
			zt_stmt_bind_int(st, 2, now);
			err = zt_stmt_step(st);
			zt_stmt_reset(st);
			err = err == ZT_DONE ? ZT_OK : err;
		}
		if (err == ZT_OK)
			err = device_insert(db, iss, hash, code, client_id,
			    scope, res, now);
		if ((err = zt_db_end(db, err)) != ZT_EEXISTS)
			return err;
	}
	return zt_error_set(ZT_EBUSY, "no free user code");
}

int
zt_device_authorize(json_t **out, const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e)
{
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	char dc[DEVICE_LEN + 1], code[ZT_USER_CODE_LEN + 1];
	char shown[ZT_USER_CODE_LEN + 2];
	char uri[ZT_ISSUER_URL_MAX + 16], full[ZT_ISSUER_URL_MAX + 40];
	const char *want = zt_form_get(f, "scope"), *registered, *rep;
	json_t *res = NULL;
	char *res_text = NULL;
	zt_oauth_client c;
	int err;

	*out = NULL;
	if ((rep = zt_form_repeated(f, multi_params)) != NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "parameter "
		    "\"%.40s\" is given more than once", rep);
	if ((err = zt_oauth_client_auth(&c, r, f, e)) < 0)
		return err;
	registered = json_string_value(json_object_get(c.meta, "scope"));
	if (!zt_json_set_has(json_object_get(c.meta, "grant_types"),
	    "urn:ietf:params:oauth:grant-type:device_code")) {
		err = zt_oauth_fail(e, 400, "unauthorized_client", "the client "
		    "is not registered for the device grant");
		goto out;
	}
	if (want != NULL && (strlen(want) > ZT_CLIENT_SCOPE_MAX ||
	    !zt_scope_within(want, registered))) {
		err = zt_oauth_fail(e, 400, "invalid_scope", "the client may "
		    "ask for these scopes only: %.150s", registered);
		goto out;
	}
	if ((err = zt_oauth_audience_read(&res, f, false, e)) < 0)
		goto out;
	if (res != NULL && (res_text = json_dumps(res, JSON_COMPACT |
	    JSON_ENCODE_ANY)) == NULL) {
		err = zt_oauth_fail(e, 500, "server_error", "out of memory");
		goto out;
	}
	if (device_store(dc, code, r->db, r->iss, c.id, want ? want :
	    registered, res_text, now) < 0) {
		err = zt_oauth_fail(e, 503, "temporarily_unavailable", "the "
		    "request could not be kept; retry");
		goto out;
	}
	snprintf(shown, sizeof(shown), "%.4s-%.4s", code, code + 4);
	snprintf(uri, sizeof(uri), "%s/device", r->iss->url);
	snprintf(full, sizeof(full), "%s?user_code=%s", uri, shown);
	*out = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}",
	    "device_code", dc, "user_code", shown, "verification_uri", uri,
	    "verification_uri_complete", full,
	    "expires_in", ZT_DEVICE_LIFETIME_S,
	    "interval", ZT_DEVICE_INTERVAL_S);
	zt_wipe(dc, sizeof(dc));
	if (*out == NULL)
		err = zt_oauth_fail(e, 500, "server_error", "out of memory");
out:
	free(res_text);
	json_decref(res);
	zt_oauth_client_free(&c);
	return err;
}

/* ---- polling ------------------------------------------------------------ */

static int
exec1(zt_db *db, const char *sql, const char *tenant, const char *hash,
    int64_t a, int64_t b, int64_t *changes)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, hash);
	zt_stmt_bind_int(st, 3, a);
	zt_stmt_bind_int(st, 4, b);
	err = zt_stmt_step(st);
	if (changes != NULL)
		*changes = zt_stmt_changes(st);
	zt_stmt_reset(st);
	return err == ZT_DONE ? ZT_OK : err < 0 ? err :
	    zt_error_set(ZT_ERR, "a write returned rows");
}

int
zt_device_redeem(zt_refresh_grant *out, zt_db *db, const zt_issuer *iss,
    const char *client_id, const char *device_code, int64_t now,
    zt_oauth_error *e)
{
	char hash[HASH_HEX], state[16];
	int64_t ms = zt_now_ms(), interval, last, expires, n = 0;
	const char *res;
	zt_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	if (!device_hash(hash, device_code))
		return zt_oauth_fail(e, 400, "invalid_grant", "the device "
		    "code is not valid");
	if ((err = zt_db_prepare(&st, db, "SELECT system_id, client_id, state,"
	    " identity_id, session_id, scope, resource, auth_time,"
	    " interval_s, last_poll, expires_at FROM oauth_device"
	    " WHERE tenant = $1 AND hash = $2")) < 0)
		return zt_oauth_fail(e, 500, "server_error", "the device code "
		    "could not be read");
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, hash);
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? zt_oauth_fail(e, 500, "server_error", "the "
		    "device code could not be read") : zt_oauth_fail(e, 400,
		    "invalid_grant", "the device code is not valid");
	}
	if (strcmp(zt_stmt_text(st, 0), iss->system_id) != 0 ||
	    strcmp(zt_stmt_text(st, 1), client_id) != 0) {
		zt_stmt_reset(st);
		return zt_oauth_fail(e, 400, "invalid_grant", "the device "
		    "code is not valid");
	}
	snprintf(state, sizeof(state), "%s", zt_stmt_text(st, 2));
	if (strcmp(state, "approved") == 0) {
		snprintf(out->identity_id, sizeof(out->identity_id), "%s",
		    zt_stmt_text(st, 3));
		snprintf(out->session_id, sizeof(out->session_id), "%s",
		    zt_stmt_is_null(st, 4) ? "" : zt_stmt_text(st, 4));
		out->scope = strdup(zt_stmt_text(st, 5));
		res = zt_stmt_is_null(st, 6) ? NULL : zt_stmt_text(st, 6);
		out->resource = res ? json_loads(res, JSON_DECODE_ANY, NULL) :
		    NULL;
		out->auth_time = zt_stmt_int(st, 7);
	}
	interval = zt_stmt_int(st, 8);
	last = zt_stmt_int(st, 9);
	expires = zt_stmt_int(st, 10);
	zt_stmt_reset(st);

	if (now >= expires) {
		err = zt_oauth_fail(e, 400, "expired_token", "the device code "
		    "has expired; start again");
		goto fail;
	}
	if (strcmp(state, "used") == 0) {
		err = zt_oauth_fail(e, 400, "invalid_grant", "the device code "
		    "was used");
		goto fail;
	}
	if (strcmp(state, "denied") == 0) {
		(void)exec1(db, "DELETE FROM oauth_device WHERE tenant = $1"
		    " AND hash = $2 AND $3 = $4", iss->tenant, hash, 0, 0,
		    NULL);
		err = zt_oauth_fail(e, 400, "access_denied", "the person "
		    "denied the request");
		goto fail;
	}
	if (strcmp(state, "pending") == 0) {
		/* RFC 8628 3.5: polling faster than the interval is slow_down,
		 * and the interval grows by 5 s for every later request. */
		if (last != 0 && ms - last < interval * 1000) {
			(void)exec1(db, "UPDATE oauth_device SET interval_s ="
			    " $3, last_poll = $4 WHERE tenant = $1 AND"
			    " hash = $2", iss->tenant, hash, interval + 5, ms,
			    NULL);
			err = zt_oauth_fail(e, 400, "slow_down", "poll every "
			    "%lld seconds", (long long)interval + 5);
			goto fail;
		}
		(void)exec1(db, "UPDATE oauth_device SET last_poll = $4"
		    " WHERE tenant = $1 AND hash = $2 AND $3 = 0", iss->tenant,
		    hash, 0, ms, NULL);
		err = zt_oauth_fail(e, 400, "authorization_pending", "the "
		    "person has not approved the request yet");
		goto fail;
	}
	if (out->scope == NULL) {
		err = zt_oauth_fail(e, 500, "server_error", "out of memory");
		goto fail;
	}
	/* Once: of two polls racing here, one wins. */
	if ((err = exec1(db, "UPDATE oauth_device SET state = 'used',"
	    " last_poll = $3 WHERE tenant = $1 AND hash = $2 AND"
	    " state = 'approved' AND $4 = 0", iss->tenant, hash, ms, 0,
	    &n)) < 0) {
		err = zt_oauth_fail(e, 500, "server_error", "the device code "
		    "could not be used");
		goto fail;
	}
	if (n != 1) {
		err = zt_oauth_fail(e, 400, "invalid_grant", "the device code "
		    "was used");
		goto fail;
	}
	return ZT_OK;
fail:
	zt_refresh_grant_free(out);
	return err;
}

/* ---- the verification page's side ------------------------------------- */

int
zt_device_lookup(zt_device_info *out, zt_db *db, const zt_issuer *iss,
    const char *code, int64_t now)
{
	json_t *meta;
	zt_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = zt_db_prepare(&st, db, "SELECT d.client_id, d.scope,"
	    " c.metadata FROM oauth_device d JOIN oauth_clients c"
	    " ON c.tenant = d.tenant AND c.id = d.client_id"
	    " WHERE d.tenant = $1 AND d.user_code = $2 AND d.system_id = $3"
	    " AND d.state = 'pending' AND d.expires_at > $4")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, code);
	zt_stmt_bind_text(st, 3, iss->system_id);
	zt_stmt_bind_int(st, 4, now);
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? err : zt_error_set(ZT_ENOTFOUND, "no pending "
		    "request has this code");
	}
	snprintf(out->user_code, sizeof(out->user_code), "%s", code);
	snprintf(out->client_id, sizeof(out->client_id), "%s",
	    zt_stmt_text(st, 0));
	snprintf(out->scope, sizeof(out->scope), "%s", zt_stmt_text(st, 1));
	meta = json_loads(zt_stmt_text(st, 2), 0, NULL);
	snprintf(out->client_name, sizeof(out->client_name), "%s",
	    json_string_value(json_object_get(meta, "client_name")) ?
	    json_string_value(json_object_get(meta, "client_name")) : "");
	json_decref(meta);
	zt_stmt_reset(st);
	return ZT_OK;
}

int
zt_device_decide(zt_db *db, const zt_issuer *iss, const char *code,
    bool approve, const zt_session *s, const char *request_id,
    int64_t now)
{
	char actor_id[ZT_ID_LEN + 16];
	zt_actor actor = { actor_id, iss->tenant, request_id };
	zt_device_info info;
	json_t *rec;
	zt_stmt *st;
	int64_t n;
	int err;

	snprintf(actor_id, sizeof(actor_id), "identity:%s", s->identity_id);
	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_device_lookup(&info, db, iss, code, now)) < 0)
		goto end;
	if ((err = zt_db_prepare(&st, db, "UPDATE oauth_device SET state = $4,"
	    " identity_id = $5, session_id = $6, auth_time = $7"
	    " WHERE tenant = $1 AND user_code = $2 AND system_id = $3"
	    " AND state = 'pending'")) < 0)
		goto end;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, code);
	zt_stmt_bind_text(st, 3, iss->system_id);
	zt_stmt_bind_text(st, 4, approve ? "approved" : "denied");
	zt_stmt_bind_text(st, 5, s->identity_id);
	zt_stmt_bind_text(st, 6, s->id);
	zt_stmt_bind_int(st, 7, s->created_at / 1000);
	err = zt_stmt_step(st);
	n = zt_stmt_changes(st);
	zt_stmt_reset(st);
	if (err != ZT_DONE) {
		err = err < 0 ? err : zt_error_set(ZT_ERR, "a write returned "
		    "rows");
		goto end;
	}
	if (n != 1) {
		err = zt_error_set(ZT_ENOTFOUND, "no pending request has this "
		    "code");
		goto end;
	}
	rec = json_pack("{s:s, s:s, s:s, s:s}", "issuer", iss->url,
	    "client_id", info.client_id, "decision",
	    approve ? "approved" : "denied", "scope", info.scope);
	err = zt_audit_append(db, &actor, &(zt_audit_entry){
	    .action = "oauth.device", .tenant = iss->tenant,
	    .target = actor_id, .after = rec });
	json_decref(rec);
end:
	return zt_db_end(db, err);
}
