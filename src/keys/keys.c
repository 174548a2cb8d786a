/*
 * Signing keys in the database: creation, the two-step rotation, lists,
 * JWKS documents, and the per-thread cache of ready signers.
 *
 * Key generation (an RSA key takes a good fraction of a second) happens
 * before the write transaction opens, so no lock is held while it runs;
 * the transaction re-reads the scope and uses the new key only if it is
 * still wanted.  Two servers racing to create a scope's first key are
 * kept apart by unique indexes: one active and one prepared key per
 * scope.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "keys/keys.h"

static const zt_migration keys_steps[] = {
	{ 1, "signing keys",
	  "CREATE TABLE signing_keys ("
	  " scope TEXT NOT NULL,"
	  " kid TEXT NOT NULL,"
	  " alg TEXT NOT NULL,"
	  " state TEXT NOT NULL,"
	  " public_jwk TEXT NOT NULL,"
	  " private_sealed TEXT NOT NULL,"
	  " master_key_id TEXT NOT NULL,"
	  " created_at BIGINT NOT NULL,"
	  " activated_at BIGINT NOT NULL,"
	  " retired_at BIGINT NOT NULL,"
	  " publish_until BIGINT NOT NULL,"
	  " PRIMARY KEY (scope, kid));"
	  "CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (scope)"
	  " WHERE state = 'active';"
	  "CREATE UNIQUE INDEX signing_keys_one_prepared ON signing_keys"
	  " (scope) WHERE state = 'prepared';",
	  NULL },
};

const zt_migration_set zt_keys_migrations = {
	"keys", keys_steps, ZT_ARRAY_LEN(keys_steps),
};

#define KEY_COLUMNS "scope, kid, alg, state, created_at, activated_at," \
	" retired_at, publish_until, public_jwk"

static const zt_actor system_actor = { "system", NULL, NULL };

int
zt_keys_scope_check(const char *scope)
{
	size_t n = scope ? strlen(scope) : 0, i;
	const char *colon = scope ? strchr(scope, ':') : NULL;

	if (n < 3 || n > ZT_KEYS_SCOPE_MAX || colon == NULL ||
	    colon == scope || colon[1] == '\0')
		goto bad;
	for (i = 0; i < n; i++) {
		char c = scope[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._~:/@-", c)))
			goto bad;
	}
	return ZT_OK;
bad:
	return zt_error_set(ZT_EINVAL, "a key scope is \"kind:name\", 3 to "
	    "255 of A-Z a-z 0-9 . _ ~ : / @ -");
}

static int64_t
publish_ms(const zt_keys_policy *pol)
{
	int64_t s = pol->max_token_lifetime_s > 0 ?
	    pol->max_token_lifetime_s : ZT_KEYS_DEFAULT_PUBLISH_S;

	return s * 1000;
}

/* ---- reading a scope ---------------------------------------------------- */

struct scope_state {
	bool active, prepared;
	char active_kid[ZT_JOSE_KID_MAX + 1];
	char prepared_kid[ZT_JOSE_KID_MAX + 1];
	int64_t prepared_at;
};

static int
scope_read(zt_db *db, const char *scope, struct scope_state *st)
{
	zt_stmt *q;
	int err;

	memset(st, 0, sizeof(*st));
	if ((err = zt_db_prepare(&q, db, "SELECT kid, state, created_at FROM"
	    " signing_keys WHERE scope = $1 AND state IN ('active',"
	    " 'prepared')")) < 0)
		return err;
	zt_stmt_bind_text(q, 1, scope);
	while ((err = zt_stmt_step(q)) == ZT_ROW) {
		const char *kid = zt_stmt_text(q, 0);

		if (strcmp(zt_stmt_text(q, 1), "active") == 0) {
			st->active = true;
			snprintf(st->active_kid, sizeof(st->active_kid), "%s",
			    kid);
		} else {
			st->prepared = true;
			snprintf(st->prepared_kid, sizeof(st->prepared_kid),
			    "%s", kid);
			st->prepared_at = zt_stmt_int(q, 2);
		}
	}
	zt_stmt_reset(q);
	return err < 0 ? err : ZT_OK;
}

/* The prepared key is due to become active. */
static bool
prepared_due(const struct scope_state *st, const zt_keys_policy *pol,
    int64_t now)
{
	return st->prepared && (!st->active || (pol->propagation_s > 0 &&
	    st->prepared_at + pol->propagation_s * 1000 <= now));
}

static json_t *
key_row_json(zt_stmt *q)
{
	char t[4][32];
	int64_t v[4];
	json_t *jwk;
	int i;

	for (i = 0; i < 4; i++) {
		v[i] = zt_stmt_int(q, 4 + i);
		zt_time_format(t[i], v[i]);
	}
	if (zt_json_parse(&jwk, zt_stmt_text(q, 8),
	    strlen(zt_stmt_text(q, 8)), 4) < 0)
		jwk = json_null();
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o}",
	    "scope", zt_stmt_text(q, 0),
	    "kid", zt_stmt_text(q, 1),
	    "alg", zt_stmt_text(q, 2),
	    "state", zt_stmt_text(q, 3),
	    "created_at", t[0],
	    "activated_at", v[1] ? t[1] : NULL,
	    "retired_at", v[2] ? t[2] : NULL,
	    "publish_until", v[3] ? t[3] : NULL,
	    "public_jwk", jwk);
}

static int
key_fetch(zt_db *db, const char *scope, const char *kid, json_t **out)
{
	zt_stmt *q;
	int err;

	if ((err = zt_db_prepare(&q, db, "SELECT " KEY_COLUMNS " FROM"
	    " signing_keys WHERE scope = $1 AND kid = $2")) < 0)
		return err;
	zt_stmt_bind_text(q, 1, scope);
	zt_stmt_bind_text(q, 2, kid);
	if ((err = zt_stmt_step(q)) == ZT_ROW)
		*out = key_row_json(q);
	zt_stmt_reset(q);
	if (err == ZT_DONE)
		return zt_error_set(ZT_ENOTFOUND, "no key %s in %s", kid, scope);
	return err < 0 ? err : ZT_OK;
}

/* ---- making and changing keys ------------------------------------------- */

/* A key made outside the transaction, ready to insert. */
struct new_key {
	zt_jose_alg alg;
	char kid[ZT_JOSE_THUMBPRINT_LEN + 1];
	char *jwk;		/* public JWK text */
	zt_buf sealed;		/* base64url text, not secret */
};

static void
new_key_free(struct new_key *nk)
{
	free(nk->jwk);
	zt_buf_free(&nk->sealed);
	memset(nk, 0, sizeof(*nk));
}

static int
new_key_make(struct new_key *nk, const zt_master_key *mk, const char *scope,
    zt_jose_alg alg)
{
	zt_buf der = ZT_BUF_INIT(16384);
	zt_jose_key *key = NULL;
	json_t *jwk = NULL;
	int err;

	memset(nk, 0, sizeof(*nk));
	nk->alg = alg;
	nk->sealed = (zt_buf)ZT_BUF_INIT(32768);
	/* The kid is the RFC 7638 thumbprint: unique per key, and anyone
	 * holding the public key can compute it. */
	if ((err = zt_jose_key_generate(&key, alg)) < 0 ||
	    (err = zt_jose_thumbprint(nk->kid, key)) < 0 ||
	    (err = zt_jose_key_jwk(&jwk, key, nk->kid, alg, "sig")) < 0 ||
	    (err = zt_jose_key_to_pkcs8(key, &der)) < 0 ||
	    (err = zt_keys_seal(&nk->sealed, mk, scope, nk->kid, der.data,
	    der.len)) < 0)
		goto out;
	if ((nk->jwk = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		err = zt_error_set(ZT_ENOMEM, "out of memory");
out:
	zt_buf_free(&der);
	json_decref(jwk);
	zt_jose_key_free(key);
	if (err < 0)
		new_key_free(nk);
	return err;
}

static int
new_key_insert(zt_db *db, const zt_master_key *mk, const char *scope,
    const struct new_key *nk, bool active, int64_t now)
{
	zt_stmt *q;
	int err;

	if ((err = zt_db_prepare(&q, db, "INSERT INTO signing_keys (scope,"
	    " kid, alg, state, public_jwk, private_sealed, master_key_id,"
	    " created_at, activated_at, retired_at, publish_until) VALUES"
	    " ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0)")) < 0)
		return err;
	zt_stmt_bind_text(q, 1, scope);
	zt_stmt_bind_text(q, 2, nk->kid);
	zt_stmt_bind_text(q, 3, zt_jose_alg_name(nk->alg));
	zt_stmt_bind_text(q, 4, active ? "active" : "prepared");
	zt_stmt_bind_text(q, 5, nk->jwk);
	zt_stmt_bind_text(q, 6, nk->sealed.data);
	zt_stmt_bind_text(q, 7, mk->id);
	zt_stmt_bind_int(q, 8, now);
	zt_stmt_bind_int(q, 9, active ? now : 0);
	err = zt_stmt_step(q);
	zt_stmt_reset(q);
	return err < 0 ? err : ZT_OK;
}

/* Retires the active key (published until now + publish) and activates
 * the prepared one. */
static int
activate_prepared(zt_db *db, const char *scope, const char *kid,
    int64_t now, int64_t publish)
{
	zt_stmt *q;
	int err;

	if ((err = zt_db_prepare(&q, db, "UPDATE signing_keys SET state ="
	    " 'retired', retired_at = $2, publish_until = $3 WHERE scope = $1"
	    " AND state = 'active'")) < 0)
		return err;
	zt_stmt_bind_text(q, 1, scope);
	zt_stmt_bind_int(q, 2, now);
	zt_stmt_bind_int(q, 3, now + publish);
	err = zt_stmt_step(q);
	zt_stmt_reset(q);
	if (err < 0)
		return err;
	if ((err = zt_db_prepare(&q, db, "UPDATE signing_keys SET state ="
	    " 'active', activated_at = $2 WHERE scope = $1 AND kid = $3 AND"
	    " state = 'prepared'")) < 0)
		return err;
	zt_stmt_bind_text(q, 1, scope);
	zt_stmt_bind_int(q, 2, now);
	zt_stmt_bind_text(q, 3, kid);
	err = zt_stmt_step(q);
	zt_stmt_reset(q);
	return err < 0 ? err : ZT_OK;
}

static int
audit_key(zt_db *db, const zt_actor *actor, const char *action,
    const char *scope, const char *kid, const char *retired)
{
	char target[ZT_KEYS_SCOPE_MAX + ZT_JOSE_KID_MAX + 8];
	json_t *after = NULL;
	int err;

	/* Names and states only: never key material, public or private. */
	if ((err = key_fetch(db, scope, kid, &after)) < 0)
		return err;
	json_object_del(after, "public_jwk");
	if (retired)
		json_object_set_new(after, "retired_kid", json_string(retired));
	snprintf(target, sizeof(target), "key:%s/%s", scope, kid);
	err = zt_audit_append(db, actor, &(zt_audit_entry){
	    .action = action, .target = target, .after = after });
	json_decref(after);
	return err;
}

/*
 * One write transaction on a scope: `rotate` asks for a rotation step,
 * otherwise only what ensure needs (a first key, a due activation).
 * `nk` is a key made beforehand, used if wanted.  *step says what
 * happened ("", "created", "prepared", "activated"), *kid which key.
 */
static int
scope_change(zt_db *db, const zt_master_key *mk, const zt_actor *actor,
    const char *scope, const zt_keys_policy *pol, bool rotate,
    const struct new_key *nk, const char **step, char *kid)
{
	struct scope_state st;
	int64_t now = zt_now_ms();
	int err;

	*step = "";
	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = scope_read(db, scope, &st)) < 0)
		goto fail;
	if (st.prepared && (rotate || prepared_due(&st, pol, now))) {
		if ((err = activate_prepared(db, scope, st.prepared_kid, now,
		    publish_ms(pol))) < 0 ||
		    (err = audit_key(db, actor, "key.activate", scope,
		    st.prepared_kid, st.active ? st.active_kid : NULL)) < 0)
			goto fail;
		*step = "activated";
		snprintf(kid, ZT_JOSE_KID_MAX + 1, "%s", st.prepared_kid);
	} else if (!st.active && !st.prepared && nk->jwk) {
		if ((err = new_key_insert(db, mk, scope, nk, true, now)) < 0 ||
		    (err = audit_key(db, actor, "key.create", scope, nk->kid,
		    NULL)) < 0)
			goto fail;
		*step = "created";
		snprintf(kid, ZT_JOSE_KID_MAX + 1, "%s", nk->kid);
	} else if (rotate && !st.prepared && nk->jwk) {
		if ((err = new_key_insert(db, mk, scope, nk, false, now)) < 0 ||
		    (err = audit_key(db, actor, "key.prepare", scope, nk->kid,
		    NULL)) < 0)
			goto fail;
		*step = "prepared";
		snprintf(kid, ZT_JOSE_KID_MAX + 1, "%s", nk->kid);
	}
	if (**step == '\0') {
		zt_db_rollback(db);
		return ZT_OK;
	}
	if ((err = zt_db_commit(db)) < 0)
		goto fail;
	zt_keys_changed();
	return ZT_OK;
fail:
	zt_db_rollback(db);
	return err;
}

static int
policy_check(const char *scope, const zt_keys_policy *pol)
{
	int err;

	if ((err = zt_keys_scope_check(scope)) < 0)
		return err;
	if (zt_jose_alg_name(pol->alg) == NULL)
		return zt_error_set(ZT_EINVAL, "unsupported algorithm (ES256, "
		    "RS256, PS256 and EdDSA are)");
	if (pol->propagation_s < 0 || pol->max_token_lifetime_s < 0 ||
	    pol->propagation_s > 366LL * 86400 ||
	    pol->max_token_lifetime_s > 10LL * 366 * 86400)
		return zt_error_set(ZT_EINVAL, "propagation delay or token "
		    "lifetime out of range");
	return ZT_OK;
}

int
zt_keys_ensure(zt_db *db, const zt_master_key *mk, const zt_actor *actor,
    const char *scope, const zt_keys_policy *pol)
{
	struct scope_state st;
	struct new_key nk = { 0 };
	char kid[ZT_JOSE_KID_MAX + 1];
	const char *step;
	int err;

	if ((err = policy_check(scope, pol)) < 0)
		return err;
	if ((err = scope_read(db, scope, &st)) < 0)
		return err;
	if (st.active && !prepared_due(&st, pol, zt_now_ms()))
		return ZT_OK;
	if (!st.active && !st.prepared &&
	    (err = new_key_make(&nk, mk, scope, pol->alg)) < 0)
		return err;
	err = scope_change(db, mk, actor ? actor : &system_actor, scope, pol,
	    false, &nk, &step, kid);
	new_key_free(&nk);
	/* Another server made the first key between our read and write. */
	if (err == ZT_EEXISTS)
		err = ZT_OK;
	return err;
}

int
zt_keys_rotate(zt_db *db, const zt_master_key *mk, const zt_actor *actor,
    const char *scope, const zt_keys_policy *pol, json_t **out)
{
	struct scope_state st;
	struct new_key nk = { 0 };
	char kid[ZT_JOSE_KID_MAX + 1];
	const char *step;
	json_t *doc;
	int err;

	if ((err = policy_check(scope, pol)) < 0)
		return err;
	if ((err = scope_read(db, scope, &st)) < 0)
		return err;
	if (!st.prepared && (err = new_key_make(&nk, mk, scope, pol->alg)) < 0)
		return err;
	err = scope_change(db, mk, actor ? actor : &system_actor, scope, pol,
	    true, &nk, &step, kid);
	new_key_free(&nk);
	if (err == ZT_EEXISTS)
		return zt_error_set(ZT_ECONFLICT, "another rotation of %s ran "
		    "at the same time; try again", scope);
	if (err < 0)
		return err;
	if (*step == '\0')
		return zt_error_set(ZT_ECONFLICT, "another rotation of %s ran "
		    "at the same time; try again", scope);
	if (out) {
		if ((err = key_fetch(db, scope, kid, &doc)) < 0)
			return err;
		*out = json_pack("{s:s, s:o}", "step", step, "key", doc);
	}
	return ZT_OK;
}

int
zt_keys_list(zt_db *db, const char *scope, json_t **out)
{
	zt_stmt *q;
	json_t *list;
	int err;

	if (scope && (err = zt_keys_scope_check(scope)) < 0)
		return err;
	if (scope) {
		err = zt_db_prepare(&q, db, "SELECT " KEY_COLUMNS " FROM"
		    " signing_keys WHERE scope = $1 ORDER BY created_at DESC,"
		    " kid");
		if (err == ZT_OK)
			zt_stmt_bind_text(q, 1, scope);
	} else
		err = zt_db_prepare(&q, db, "SELECT " KEY_COLUMNS " FROM"
		    " signing_keys ORDER BY scope, created_at DESC, kid");
	if (err < 0)
		return err;
	list = json_array();
	while ((err = zt_stmt_step(q)) == ZT_ROW)
		json_array_append_new(list, key_row_json(q));
	zt_stmt_reset(q);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

int
zt_keys_jwks(zt_db *db, const char *scope, json_t **out)
{
	json_t *doc, *keys, *jwk;
	zt_stmt *q;
	int err;

	if ((err = zt_keys_scope_check(scope)) < 0)
		return err;
	if ((err = zt_db_prepare(&q, db, "SELECT public_jwk FROM signing_keys"
	    " WHERE scope = $1 AND (state IN ('active', 'prepared') OR"
	    " (state = 'retired' AND publish_until > $2))"
	    " ORDER BY created_at DESC, kid")) < 0)
		return err;
	zt_stmt_bind_text(q, 1, scope);
	zt_stmt_bind_int(q, 2, zt_now_ms());
	doc = json_pack("{s:[]}", "keys");
	keys = json_object_get(doc, "keys");
	while ((err = zt_stmt_step(q)) == ZT_ROW) {
		const char *t = zt_stmt_text(q, 0);

		if (zt_json_parse(&jwk, t, strlen(t), 4) == ZT_OK)
			json_array_append_new(keys, jwk);
	}
	zt_stmt_reset(q);
	if (err < 0) {
		json_decref(doc);
		return err;
	}
	*out = doc;
	return ZT_OK;
}

/* ---- the per-thread signer cache ---------------------------------------- */

/* A thread signs for a handful of scopes (its tenants' providers); 16
 * slots cover that, and a miss only costs one load. */
#define CACHE_SLOTS 16

struct cache_slot {
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	zt_jose_signer *signer;
	uint64_t epoch;
	int64_t loaded_at;
	int64_t due_at;		/* reload then: a prepared key activates */
};

static _Atomic uint64_t keys_epoch = 1;
static _Thread_local struct cache_slot *cache;

void
zt_keys_changed(void)
{
	atomic_fetch_add(&keys_epoch, 1);
}

uint64_t
zt_keys_epoch(void)
{
	return atomic_load(&keys_epoch);
}

void
zt_keys_thread_done(void)
{
	int i;

	if (cache == NULL)
		return;
	for (i = 0; i < CACHE_SLOTS; i++)
		zt_jose_signer_free(cache[i].signer);
	free(cache);
	cache = NULL;
}

/* Opens the active key of `scope` into a new signer. */
static int
signer_load(zt_jose_signer **out, zt_db *db, const zt_master_key *mk,
    const char *scope)
{
	zt_buf der = ZT_BUF_INIT(16384);
	zt_jose_key *key = NULL;
	zt_jose_alg alg;
	zt_stmt *q;
	int err;

	if ((err = zt_db_prepare(&q, db, "SELECT kid, alg, private_sealed,"
	    " master_key_id FROM signing_keys WHERE scope = $1 AND"
	    " state = 'active'")) < 0)
		return err;
	zt_stmt_bind_text(q, 1, scope);
	if ((err = zt_stmt_step(q)) != ZT_ROW) {
		zt_stmt_reset(q);
		return err < 0 ? err : zt_error_set(ZT_ENOTFOUND, "%s has no "
		    "active key", scope);
	}
	if ((err = zt_jose_alg_parse(zt_stmt_text(q, 1), &alg)) == ZT_OK &&
	    (err = zt_keys_open(&der, mk, zt_stmt_text(q, 3), scope,
	    zt_stmt_text(q, 0), zt_stmt_text(q, 2))) == ZT_OK &&
	    (err = zt_jose_key_from_pkcs8(&key, der.data, der.len)) == ZT_OK)
		err = zt_jose_signer_new(out, key, alg, zt_stmt_text(q, 0));
	zt_stmt_reset(q);
	zt_jose_key_free(key);
	zt_buf_free(&der);
	return err;
}

static struct cache_slot *
cache_slot_for(const char *scope)
{
	struct cache_slot *victim;
	int i;

	if (cache == NULL && (cache = calloc(CACHE_SLOTS,
	    sizeof(*cache))) == NULL)
		return NULL;
	victim = &cache[0];
	for (i = 0; i < CACHE_SLOTS; i++) {
		if (strcmp(cache[i].scope, scope) == 0)
			return &cache[i];
		if (cache[i].loaded_at < victim->loaded_at)
			victim = &cache[i];
	}
	return victim;
}

int
zt_keys_signer(zt_jose_signer **out, zt_db *db, const zt_master_key *mk,
    const char *scope, const zt_keys_policy *pol)
{
	uint64_t epoch = atomic_load(&keys_epoch);
	int64_t now = zt_now_ms();
	struct scope_state st;
	struct cache_slot *s;
	zt_jose_signer *signer;
	int err;

	if (strlen(scope) > ZT_KEYS_SCOPE_MAX)
		return zt_keys_scope_check(scope);
	if ((s = cache_slot_for(scope)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if (s->signer && s->epoch == epoch && now - s->loaded_at <
	    ZT_KEYS_CACHE_TTL_MS && now < s->due_at &&
	    strcmp(s->scope, scope) == 0) {
		*out = s->signer;
		return ZT_OK;
	}

	if ((err = zt_keys_ensure(db, mk, &system_actor, scope, pol)) < 0 ||
	    (err = scope_read(db, scope, &st)) < 0 ||
	    (err = signer_load(&signer, db, mk, scope)) < 0)
		return err;
	zt_jose_signer_free(s->signer);
	snprintf(s->scope, sizeof(s->scope), "%s", scope);
	s->signer = signer;
	s->epoch = epoch;
	s->loaded_at = now;
	s->due_at = st.prepared && pol->propagation_s > 0 ?
	    st.prepared_at + pol->propagation_s * 1000 : INT64_MAX;
	*out = signer;
	return ZT_OK;
}

/* ---- sealed keys made by their module ------------------------------------ */

int
zt_keys_store_sealed(zt_db *db, const zt_master_key *mk,
    const zt_actor *actor, const char *scope, const char *kid,
    const char *label, const char *state, const char *public_doc,
    const void *pkcs8, size_t n)
{
	zt_buf sealed = ZT_BUF_INIT(32768);
	int64_t now = zt_now_ms();
	bool active = strcmp(state, "active") == 0;
	zt_stmt *q;
	int err;

	if ((err = zt_keys_scope_check(scope)) < 0)
		return err;
	if (!active && strcmp(state, "prepared") != 0)
		return zt_error_set(ZT_EINVAL, "a stored key is active or "
		    "prepared, not %s", state);
	if (kid[0] == '\0' || strlen(kid) > ZT_JOSE_KID_MAX)
		return zt_error_set(ZT_EINVAL, "a key id is 1 to %d bytes",
		    ZT_JOSE_KID_MAX);
	if ((err = zt_keys_seal(&sealed, mk, scope, kid, pkcs8, n)) < 0)
		return err;
	if ((err = zt_db_begin(db)) < 0)
		goto out;
	if ((err = zt_db_prepare(&q, db, "INSERT INTO signing_keys (scope,"
	    " kid, alg, state, public_jwk, private_sealed, master_key_id,"
	    " created_at, activated_at, retired_at, publish_until) VALUES"
	    " ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0)")) < 0)
		goto fail;
	zt_stmt_bind_text(q, 1, scope);
	zt_stmt_bind_text(q, 2, kid);
	zt_stmt_bind_text(q, 3, label);
	zt_stmt_bind_text(q, 4, state);
	zt_stmt_bind_text(q, 5, public_doc);
	zt_stmt_bind_text(q, 6, sealed.data);
	zt_stmt_bind_text(q, 7, mk->id);
	zt_stmt_bind_int(q, 8, now);
	zt_stmt_bind_int(q, 9, active ? now : 0);
	err = zt_stmt_step(q);
	zt_stmt_reset(q);
	if (err < 0 || (err = audit_key(db, actor, active ? "key.create" :
	    "key.prepare", scope, kid, NULL)) < 0)
		goto fail;
	err = zt_db_commit(db);
	goto out;
fail:
	zt_db_rollback(db);
out:
	zt_buf_free(&sealed);
	return err;
}

int
zt_keys_load_sealed(zt_buf *pkcs8, zt_db *db, const zt_master_key *mk,
    const char *scope, const char *kid)
{
	zt_stmt *q;
	int err;

	if ((err = zt_db_prepare(&q, db, "SELECT private_sealed,"
	    " master_key_id FROM signing_keys WHERE scope = $1 AND"
	    " kid = $2")) < 0)
		return err;
	zt_stmt_bind_text(q, 1, scope);
	zt_stmt_bind_text(q, 2, kid);
	if ((err = zt_stmt_step(q)) != ZT_ROW)
		err = err < 0 ? err : zt_error_set(ZT_ENOTFOUND, "%s has no "
		    "key %s", scope, kid);
	else
		err = zt_keys_open(pkcs8, mk, zt_stmt_text(q, 1), scope, kid,
		    zt_stmt_text(q, 0));
	zt_stmt_reset(q);
	return err;
}

int
zt_keys_set_public(zt_db *db, const zt_actor *actor, const char *scope,
    const char *kid, const char *public_doc)
{
	zt_stmt *q;
	int err;

	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_db_prepare(&q, db, "UPDATE signing_keys SET"
	    " public_jwk = $1 WHERE scope = $2 AND kid = $3")) < 0)
		goto fail;
	zt_stmt_bind_text(q, 1, public_doc);
	zt_stmt_bind_text(q, 2, scope);
	zt_stmt_bind_text(q, 3, kid);
	err = zt_stmt_step(q);
	if (err >= 0 && zt_stmt_changes(q) == 0)
		err = zt_error_set(ZT_ENOTFOUND, "%s has no key %s", scope,
		    kid);
	zt_stmt_reset(q);
	if (err < 0 || (err = audit_key(db, actor, "key.update", scope, kid,
	    NULL)) < 0)
		goto fail;
	return zt_db_commit(db);
fail:
	zt_db_rollback(db);
	return err;
}
