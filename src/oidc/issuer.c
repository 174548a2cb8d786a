/*
 * issuer.c: the issuers (one per account system), their metadata and
 * JWKS, the OAuth error helper and the table of single-use values.
 *
 * The metadata lists what the provider does: the authorization, token,
 * userinfo, logout, introspection, revocation, PAR and device endpoints
 * and the JWKS.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"

/* The key algorithms a client may choose (id_token_signed_response_alg). */
static const zt_jose_alg issuer_algs[] = {
	ZT_JOSE_ES256, ZT_JOSE_RS256, ZT_JOSE_EDDSA,
};

int
zt_oauth_fail(zt_oauth_error *e, int status, const char *error,
    const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->error = error;
	e->challenge = status == 401;
	va_start(ap, fmt);
	vsnprintf(e->description, sizeof(e->description), fmt, ap);
	va_end(ap);
	return status >= 500 ? ZT_ERR : ZT_EINVAL;
}

/* A tenant id or system name as identity allows them: [a-z0-9._-]. */
static bool
slug_ok(const char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (n == max || !((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '-' ||
		    s[n] == '_' || s[n] == '.'))
			return false;
	return n > 0;
}

/*
 * Each thread keeps the issuers it met in the last ISSUER_TTL_MS, with
 * their JWKS: discovery and JWKS requests then cost no database read.  A
 * new or rotated key shows in the JWKS within that time (relying parties
 * cache it for a minute anyway); an account system cannot go while it has
 * clients, so a stale issuer entry can only answer metadata.
 */
#define ISSUER_SLOTS 8
#define ISSUER_TTL_MS 1000

/*
 * Each slot also keeps its documents serialized (RFC 8414 metadata,
 * discovery, JWKS), so that a discovery or JWKS GET copies bytes instead
 * of building and dumping a JSON tree: those GETs are the most frequent
 * requests a provider sees.  The metadata text lives as long as the slot;
 * the JWKS text as long as the JWKS, and a rotation on this node (the
 * keys module's epoch moves) drops it at once.
 */
enum { TEXT_OAUTH, TEXT_OPENID, TEXT_JWKS, TEXT_KINDS };

struct issuer_slot {
	zt_issuer iss;
	int64_t at;
	json_t *jwks;
	int64_t jwks_at;
	uint64_t jwks_epoch;
	char *text[TEXT_KINDS];
	size_t text_len[TEXT_KINDS];
};

/* A thread's last text made without a slot to keep it in. */
static _Thread_local char *loose_text;

static void
slot_clear(struct issuer_slot *s)
{
	int k;

	json_decref(s->jwks);
	for (k = 0; k < TEXT_KINDS; k++)
		free(s->text[k]);
	memset(s, 0, sizeof(*s));
}

static _Thread_local struct issuer_slot issuers[ISSUER_SLOTS];

void
zt_issuer_thread_done(void)
{
	int i;

	for (i = 0; i < ISSUER_SLOTS; i++)
		slot_clear(&issuers[i]);
	free(loose_text);
	loose_text = NULL;
}

static struct issuer_slot *
issuer_cached(const char *url, int64_t now)
{
	int i;

	for (i = 0; i < ISSUER_SLOTS; i++)
		if (issuers[i].at != 0 && now - issuers[i].at < ISSUER_TTL_MS &&
		    strcmp(issuers[i].iss.url, url) == 0)
			return &issuers[i];
	return NULL;
}

static void
issuer_remember(const zt_issuer *iss, int64_t now)
{
	struct issuer_slot *victim = &issuers[0];
	int i;

	for (i = 0; i < ISSUER_SLOTS; i++) {
		if (strcmp(issuers[i].iss.url, iss->url) == 0) {
			victim = &issuers[i];
			break;
		}
		if (issuers[i].at < victim->at)
			victim = &issuers[i];
	}
	slot_clear(victim);
	victim->iss = *iss;
	victim->at = now;
}

static int issuer_lookup(zt_issuer *out, zt_db *db, const char *base,
    const char *tenant, const char *system);

int
zt_issuer_find(zt_issuer *out, zt_db *db, const char *base,
    const char *tenant, const char *system)
{
	char url[ZT_ISSUER_URL_MAX + 1];
	int64_t now = zt_now_ms();
	struct issuer_slot *s;
	int n, err;

	if (!slug_ok(tenant, ZT_TENANT_ID_MAX) ||
	    !slug_ok(system, ZT_NAME_MAX))
		return zt_error_set(ZT_ENOTFOUND, "no such issuer");
	n = snprintf(url, sizeof(url), "%s/t/%s/%s", base, tenant, system);
	if (n > 0 && (size_t)n < sizeof(url) &&
	    (s = issuer_cached(url, now)) != NULL) {
		*out = s->iss;
		return ZT_OK;
	}
	if ((err = issuer_lookup(out, db, base, tenant, system)) == ZT_OK)
		issuer_remember(out, now);
	return err;
}

static int
issuer_lookup(zt_issuer *out, zt_db *db, const char *base,
    const char *tenant, const char *system)
{
	zt_stmt *st;
	int err, n;

	memset(out, 0, sizeof(*out));
	if (!slug_ok(tenant, ZT_TENANT_ID_MAX) ||
	    !slug_ok(system, ZT_NAME_MAX))
		return zt_error_set(ZT_ENOTFOUND, "no such issuer");
	if (strlen(base) > ZT_PUBLIC_URL_MAX)
		return zt_error_set(ZT_EINVAL, "the public URL is over %d "
		    "bytes", ZT_PUBLIC_URL_MAX);
	if ((err = zt_db_prepare(&st, db, "SELECT id FROM account_systems"
	    " WHERE tenant = $1 AND name = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, system);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		snprintf(out->system_id, sizeof(out->system_id), "%s",
		    zt_stmt_text(st, 0));
		err = ZT_OK;
	} else if (err == ZT_DONE) {
		err = zt_error_set(ZT_ENOTFOUND, "no such issuer");
	}
	zt_stmt_reset(st);
	if (err < 0)
		return err;
	snprintf(out->tenant, sizeof(out->tenant), "%s", tenant);
	snprintf(out->system, sizeof(out->system), "%s", system);
	n = snprintf(out->url, sizeof(out->url), "%s/t/%s/%s", base, tenant,
	    system);
	return n > 0 && (size_t)n < sizeof(out->url) ? ZT_OK :
	    zt_error_set(ZT_EINVAL, "issuer URL too long");
}

void
zt_issuer_key_scope(char out[ZT_KEYS_SCOPE_MAX + 1], const zt_issuer *iss,
    zt_jose_alg alg)
{
	if (alg == ZT_JOSE_ES256)
		snprintf(out, ZT_KEYS_SCOPE_MAX + 1, "oidc:%s/%s",
		    iss->tenant, iss->system);
	else
		snprintf(out, ZT_KEYS_SCOPE_MAX + 1, "oidc:%s/%s@%s",
		    iss->tenant, iss->system, zt_jose_alg_name(alg));
}

static json_t *
endpoint(const zt_issuer *iss, const char *name)
{
	char url[ZT_ISSUER_URL_MAX + 32];

	snprintf(url, sizeof(url), "%s/%s", iss->url, name);
	return json_string(url);
}

int
zt_issuer_metadata(json_t **out, const zt_issuer *iss, bool openid)
{
	json_t *doc, *auth;

	auth = json_pack("[s,s,s]", "client_secret_basic",
	    "client_secret_post", "private_key_jwt");
	doc = json_pack("{s:s, s:o, s:o, s:o, s:o,"
	    " s:[s,s], s:O, s:[s,s,s,s], s:O, s:[s,s,s,s], s:O,"
	    " s:[s,s,s,s], s:[s,s,s,s]}",
	    "issuer", iss->url,
	    "token_endpoint", endpoint(iss, "token"),
	    "jwks_uri", endpoint(iss, "jwks"),
	    "introspection_endpoint", endpoint(iss, "introspect"),
	    "revocation_endpoint", endpoint(iss, "revoke"),
	    "grant_types_supported", "client_credentials",
	    "urn:ietf:params:oauth:grant-type:token-exchange",
	    "token_endpoint_auth_methods_supported", auth,
	    "token_endpoint_auth_signing_alg_values_supported",
	    "ES256", "RS256", "PS256", "EdDSA",
	    "introspection_endpoint_auth_methods_supported", auth,
	    "introspection_endpoint_auth_signing_alg_values_supported",
	    "ES256", "RS256", "PS256", "EdDSA",
	    "revocation_endpoint_auth_methods_supported", auth,
	    "revocation_endpoint_auth_signing_alg_values_supported",
	    "ES256", "RS256", "PS256", "EdDSA",
	    "dpop_signing_alg_values_supported",
	    "ES256", "RS256", "PS256", "EdDSA");
	json_decref(auth);
	if (doc == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	/* The grants of refresh.c, device.c and par.c.  (registration_endpoint
	 * depends on a setting: api/oauth.c adds it.) */
	json_array_append_new(json_object_get(doc, "grant_types_supported"),
	    json_string("refresh_token"));
	json_array_append_new(json_object_get(doc, "grant_types_supported"),
	    json_string("urn:ietf:params:oauth:grant-type:device_code"));
	json_object_set_new(doc, "device_authorization_endpoint",
	    endpoint(iss, "device_authorization"));
	json_object_set_new(doc, "pushed_authorization_request_endpoint",
	    endpoint(iss, "par"));
	/* The browser side (authorize.c, idtoken.c, api/oidc_pages.c). */
	json_array_append_new(json_object_get(doc, "grant_types_supported"),
	    json_string("authorization_code"));
	json_object_set_new(doc, "authorization_endpoint",
	    endpoint(iss, "authorize"));
	json_object_set_new(doc, "userinfo_endpoint", endpoint(iss,
	    "userinfo"));
	json_object_set_new(doc, "end_session_endpoint", endpoint(iss,
	    "logout"));
	json_object_set_new(doc, "response_types_supported",
	    json_pack("[s]", "code"));
	json_object_set_new(doc, "response_modes_supported",
	    json_pack("[s]", "query"));
	json_object_set_new(doc, "code_challenge_methods_supported",
	    json_pack("[s]", "S256"));
	json_object_set_new(doc, "authorization_response_iss_parameter_"
	    "supported", json_true());
	json_object_set_new(doc, "id_token_signing_alg_values_supported",
	    json_pack("[s,s,s]", "ES256", "RS256", "EdDSA"));
	json_object_set_new(doc, "scopes_supported", json_pack("[s,s,s,s]",
	    "openid", "profile", "email", "groups"));
	json_object_set_new(doc, "claims_supported", json_pack("[s,s,s,s,s,"
	    "s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]", "iss", "sub", "aud", "exp",
	    "iat", "auth_time", "nonce", "at_hash", "sid", "acr", "amr",
	    "name", "preferred_username", "email", "email_verified",
	    "groups", "tenant", "account_system", "org_unit", "spiffe_id"));
	json_object_set_new(doc, "prompt_values_supported",
	    json_pack("[s,s,s,s]", "none", "login", "consent",
	    "select_account"));
	/* PKCE: every public client must use it. */
	json_object_set_new(doc, "token_endpoint_auth_methods_supported",
	    json_pack("[s,s,s,s]", "client_secret_basic",
	    "client_secret_post", "private_key_jwt", "none"));
	/* OpenID discovery names the subject identifier types; every
	 * subject is the same to all clients ("public"). */
	if (openid)
		json_object_set_new(doc, "subject_types_supported",
		    json_pack("[s]", "public"));
	*out = doc;
	return ZT_OK;
}

int
zt_issuer_jwks(json_t **out, zt_db *db, const zt_master_key *mk,
    const zt_issuer *iss)
{
	static const zt_actor actor = { "system", NULL, NULL };
	zt_keys_policy pol = { .alg = ZT_JOSE_ES256 };
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	json_t *doc = NULL, *part, *k;
	int64_t now = zt_now_ms();
	uint64_t epoch = zt_keys_epoch();
	struct issuer_slot *cached;
	size_t i, j;
	int err;

	*out = NULL;
	if ((cached = issuer_cached(iss->url, now)) != NULL &&
	    cached->jwks != NULL && now - cached->jwks_at < ISSUER_TTL_MS &&
	    cached->jwks_epoch == epoch) {
		*out = json_incref(cached->jwks);
		return ZT_OK;
	}
	zt_issuer_key_scope(scope, iss, ZT_JOSE_ES256);
	if ((err = zt_keys_ensure(db, mk, &actor, scope, &pol)) < 0)
		return err;
	for (i = 0; i < ZT_ARRAY_LEN(issuer_algs); i++) {
		zt_issuer_key_scope(scope, iss, issuer_algs[i]);
		if ((err = zt_keys_jwks(db, scope, &part)) < 0) {
			json_decref(doc);
			return err;
		}
		if (doc == NULL) {
			doc = part;
			continue;
		}
		json_array_foreach(json_object_get(part, "keys"), j, k)
			json_array_append(json_object_get(doc, "keys"), k);
		json_decref(part);
	}
	if (cached != NULL) {
		json_decref(cached->jwks);
		cached->jwks = json_incref(doc);
		cached->jwks_at = now;
		cached->jwks_epoch = epoch;
		free(cached->text[TEXT_JWKS]);
		cached->text[TEXT_JWKS] = NULL;
	}
	*out = doc;
	return ZT_OK;
}

/* Keeps the compact text of `doc` (taken) in slot `s` (or, with none, in
 * the thread's loose text) and points *text at it. */
static int
text_keep(const char **text, size_t *len, struct issuer_slot *s, int kind,
    json_t *doc)
{
	char *t;

	t = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (t == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if (s != NULL) {
		free(s->text[kind]);
		s->text[kind] = t;
		s->text_len[kind] = strlen(t);
	} else {
		free(loose_text);
		loose_text = t;
	}
	*text = t;
	*len = strlen(t);
	return ZT_OK;
}

int
zt_issuer_metadata_text(const char **text, size_t *len,
    const zt_issuer *iss, bool openid)
{
	int kind = openid ? TEXT_OPENID : TEXT_OAUTH;
	struct issuer_slot *s = issuer_cached(iss->url, zt_now_ms());
	json_t *doc;
	int err;

	if (s != NULL && s->text[kind] != NULL) {
		*text = s->text[kind];
		*len = s->text_len[kind];
		return ZT_OK;
	}
	if ((err = zt_issuer_metadata(&doc, iss, openid)) < 0)
		return err;
	return text_keep(text, len, s, kind, doc);
}

int
zt_issuer_jwks_text(const char **text, size_t *len, zt_db *db,
    const zt_master_key *mk, const zt_issuer *iss)
{
	int64_t now = zt_now_ms();
	struct issuer_slot *s = issuer_cached(iss->url, now);
	json_t *doc;
	int err;

	if (s != NULL && s->text[TEXT_JWKS] != NULL && s->jwks != NULL &&
	    now - s->jwks_at < ISSUER_TTL_MS &&
	    s->jwks_epoch == zt_keys_epoch()) {
		*text = s->text[TEXT_JWKS];
		*len = s->text_len[TEXT_JWKS];
		return ZT_OK;
	}
	if ((err = zt_issuer_jwks(&doc, db, mk, iss)) < 0)
		return err;
	/* zt_issuer_jwks may have refreshed the slot; find it again. */
	return text_keep(text, len, issuer_cached(iss->url, now), TEXT_JWKS,
	    doc);
}

/* ---- single-use values -------------------------------------------------- */

/*
 * An open-addressed table of SHA-256 prefixes with their expiry.  A value
 * is placed within PROBE_MAX slots of its hash, in an empty or expired
 * slot; a lookup walks the same slots.  So a slot is never emptied, only
 * reused, and no chain breaks.  2^18 slots of 24 bytes (6 MiB) hold the
 * proofs of about 2,000 requests a second over the DPoP window; past
 * that the table answers ZT_EUNAVAIL and the request is refused.
 */
#define REPLAY_SLOTS	(1u << 18)
#define PROBE_MAX	64

struct replay_slot {
	uint8_t h[16];
	int64_t exp;
};

static struct replay_slot *replay;
static pthread_mutex_t replay_mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * Nodes sharing a PostgreSQL database share the values too: a value new
 * to this node is also inserted into oauth_replay, keyed by the hex of
 * the same hash, and a conflict there means another node took it first.
 * Every SWEEP_EVERY insertions of a process, the expired rows go.
 */
#define SWEEP_EVERY	1024

static _Atomic uint32_t replay_inserts;

static int
replay_shared(zt_db *db, const uint8_t h[ZT_SHA256_LEN], int64_t exp,
    int64_t now)
{
	char hex[2 * ZT_SHA256_LEN + 1];
	zt_stmt *st;
	int err;

	zt_hex_encode(hex, h, ZT_SHA256_LEN);
	if ((err = zt_db_prepare(&st, db, "INSERT INTO oauth_replay (hash,"
	    " expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, hex);
	zt_stmt_bind_int(st, 2, exp);
	if ((err = zt_stmt_run(st)) < 0)
		return err;
	if (zt_stmt_changes(st) == 0)
		return zt_error_set(ZT_EEXISTS, "used before");
	if (atomic_fetch_add(&replay_inserts, 1) % SWEEP_EVERY ==
	    SWEEP_EVERY - 1 && zt_db_prepare(&st, db, "DELETE FROM"
	    " oauth_replay WHERE expires_at < $1") == ZT_OK) {
		zt_stmt_bind_int(st, 1, now);
		(void)zt_stmt_run(st);	/* the next sweep retries */
	}
	return ZT_OK;
}

int
zt_replay_seen(zt_db *db, const char *ns, const char *key, int64_t exp,
    int64_t now)
{
	uint8_t h[ZT_SHA256_LEN];
	struct replay_slot *free_slot = NULL, *s;
	zt_buf b = ZT_BUF_INIT(4096);
	uint32_t i, at;
	int err = ZT_OK;

	if (zt_buf_adds(&b, ns) < 0 || zt_buf_addc(&b, '\0') < 0 ||
	    zt_buf_adds(&b, key) < 0) {
		zt_buf_free(&b);
		return zt_error_set(ZT_ETOOBIG, "a single-use value is too "
		    "long");
	}
	zt_sha256(h, b.data, b.len);
	zt_buf_free(&b);
	at = ((uint32_t)h[16] | (uint32_t)h[17] << 8 | (uint32_t)h[18] << 16)
	    % REPLAY_SLOTS;

	pthread_mutex_lock(&replay_mu);
	if (replay == NULL &&
	    (replay = calloc(REPLAY_SLOTS, sizeof(*replay))) == NULL) {
		pthread_mutex_unlock(&replay_mu);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	for (i = 0; i < PROBE_MAX; i++) {
		s = &replay[(at + i) % REPLAY_SLOTS];
		if (s->exp == 0) {
			if (free_slot == NULL)
				free_slot = s;
			break;
		}
		if (s->exp < now) {
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (memcmp(s->h, h, sizeof(s->h)) == 0) {
			err = zt_error_set(ZT_EEXISTS, "used before");
			break;
		}
	}
	if (err == ZT_OK && free_slot == NULL)
		err = zt_error_set(ZT_EUNAVAIL, "too many single-use values "
		    "in flight");
	if (err == ZT_OK) {
		memcpy(free_slot->h, h, sizeof(free_slot->h));
		free_slot->exp = exp > now ? exp : now + 1;
	}
	pthread_mutex_unlock(&replay_mu);
	if (err == ZT_OK && db != NULL && zt_db_driver(db) == ZT_DB_POSTGRES)
		err = replay_shared(db, h, exp > now ? exp : now + 1, now);
	return err;
}
