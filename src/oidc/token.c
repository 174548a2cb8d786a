/*
 * token.c: access tokens and the token endpoint.
 *
 * Access tokens are JWTs as RFC 9068 has them: header typ "at+jwt", claims
 * iss, sub, aud, exp, iat, nbf, jti, client_id and scope, plus cnf.jkt
 * when DPoP binds the token (RFC 9449 6.1) and act after a token exchange
 * (RFC 8693 4.1).  They are signed with the issuer's active key of the
 * client's chosen algorithm (keys/, scope per zt_issuer_key_scope).
 *
 * zt_oauth_mint_access() signs and nothing else; zt_oauth_issue_access()
 * also writes the "oauth.token" audit record and commits it, and is what
 * every grant calls before a token leaves the server.  The authorization
 * code, refresh and device grants will call it too.
 *
 * Verifying our own tokens (introspection, token exchange) needs the
 * public keys of the issuer: each thread keeps the few it met, by kid,
 * for VKEY_TTL_MS.  A kid is the key's RFC 7638 thumbprint, so a kid seen
 * once names the same key for ever; the TTL only bounds how long a key
 * that left the JWKS (all of whose tokens have expired) stays usable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"
#include "oidc/flow.h"

#define GT_CLIENT	"client_credentials"
#define GT_EXCHANGE	"urn:ietf:params:oauth:grant-type:token-exchange"
#define TT_ACCESS	"urn:ietf:params:oauth:token-type:access_token"
#define GT_REFRESH	"refresh_token"
#define GT_DEVICE	"urn:ietf:params:oauth:grant-type:device_code"
#define GT_CODE		"authorization_code"
/* ID tokens are read at sign-in and then thrown away: a few minutes. */
#define ID_TOKEN_LIFETIME_S	300
#define JTI_BYTES	16
#define VKEY_SLOTS	16
#define VKEY_TTL_MS	60000

/* ---- minting --------------------------------------------------------- */

static int
claims_build(json_t **out, const zt_issuer *iss, const zt_access_spec *s,
    int64_t now)
{
	char jti[2 * JTI_BYTES + 2];
	const char *k;
	json_t *c, *v;
	int err;

	if ((err = zt_random_id(jti, sizeof(jti), JTI_BYTES)) < 0)
		return err;
	c = json_pack("{s:s, s:s, s:O, s:I, s:I, s:I, s:s, s:s}",
	    "iss", iss->url, "sub", s->sub, "aud", s->aud,
	    "exp", (json_int_t)(now + s->lifetime_s), "iat", (json_int_t)now,
	    "nbf", (json_int_t)now, "jti", jti, "client_id", s->client_id);
	if (c == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if (s->scope != NULL && s->scope[0] != '\0')
		json_object_set_new(c, "scope", json_string(s->scope));
	if (s->jkt != NULL)
		json_object_set_new(c, "cnf", json_pack("{s:s}", "jkt",
		    s->jkt));
	if (s->act != NULL)
		json_object_set(c, "act", s->act);
	/* Extra claims never replace the ones above. */
	if (s->extra != NULL)
		json_object_foreach(s->extra, k, v)
			if (json_object_get(c, k) == NULL)
				json_object_set(c, k, v);
	*out = c;
	return ZT_OK;
}

int
zt_oauth_mint_access(zt_buf *token, json_t **claims, zt_db *db,
    const zt_master_key *mk, const zt_issuer *iss, zt_jose_alg alg,
    const zt_access_spec *s)
{
	zt_keys_policy pol = { .alg = alg };
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	zt_jose_signer *signer;
	json_t *c = NULL;
	int err;

	if (claims != NULL)
		*claims = NULL;
	zt_issuer_key_scope(scope, iss, alg);
	if ((err = zt_keys_signer(&signer, db, mk, scope, &pol)) < 0 ||
	    (err = claims_build(&c, iss, s, zt_now_ms() / 1000)) < 0 ||
	    (err = zt_jose_sign_json(token, signer, "at+jwt", c)) < 0) {
		json_decref(c);
		return err;
	}
	if (claims != NULL)
		*claims = c;
	else
		json_decref(c);
	return ZT_OK;
}

/* The audit record of the token with claims `c`, into `a`. */
static int
audit_record(zt_oauth_audit *a, const zt_oauth_req *r,
    const zt_access_spec *s, json_t *c)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->actor, sizeof(a->actor), "client:%s", s->client_id);
	snprintf(a->tenant, sizeof(a->tenant), "%s", r->iss->tenant);
	snprintf(a->request_id, sizeof(a->request_id), "%s",
	    r->request_id ? r->request_id : "");
	a->record = json_pack("{s:s, s:s, s:s, s:s?, s:O, s:O, s:O, s:b}",
	    "issuer", r->iss->url, "client_id", s->client_id,
	    "grant", s->grant ? s->grant : "", "scope", s->scope,
	    "aud", json_object_get(c, "aud"), "jti", json_object_get(c, "jti"),
	    "exp", json_object_get(c, "exp"), "dpop", s->jkt != NULL);
	if (a->record == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	json_object_set(a->record, "sub", json_object_get(c, "sub"));
	return ZT_OK;
}

void
zt_oauth_audit_clear(zt_oauth_audit *a)
{
	json_decref(a->record);
	a->record = NULL;
}

/* The records go in as one run of the chain (zt_audit_append_n), in
 * chunks of AUDIT_RUN. */
#define AUDIT_RUN 128

int
zt_oauth_audit_commit(zt_db *db, zt_oauth_audit *const *a, size_t n)
{
	zt_actor actor[AUDIT_RUN];
	zt_audit_entry entry[AUDIT_RUN];
	const zt_actor *ap[AUDIT_RUN];
	const zt_audit_entry *ep[AUDIT_RUN];
	size_t i, k;
	int err;

	if ((err = zt_db_begin(db)) < 0)
		return err;
	for (i = 0; i < n && err == ZT_OK; i += k) {
		for (k = 0; k < AUDIT_RUN && i + k < n; k++) {
			actor[k] = (zt_actor){ a[i + k]->actor,
			    a[i + k]->tenant, a[i + k]->request_id[0] ?
			    a[i + k]->request_id : NULL };
			entry[k] = (zt_audit_entry){ .action = "oauth.token",
			    .tenant = a[i + k]->tenant,
			    .target = a[i + k]->actor,
			    .after = a[i + k]->record };
			ap[k] = &actor[k];
			ep[k] = &entry[k];
		}
		err = zt_audit_append_n(db, ap, ep, k);
	}
	if (err == ZT_OK)
		err = zt_db_commit(db);
	if (err < 0)
		(void)zt_db_rollback(db);
	return err;
}

static int
audit_token(const zt_oauth_req *r, const zt_access_spec *s, json_t *c)
{
	zt_oauth_audit a, *ap = &a;
	int err;

	if (r->defer_audit != NULL)
		return audit_record(r->defer_audit, r, s, c);
	if ((err = audit_record(&a, r, s, c)) < 0)
		return err;
	err = zt_oauth_audit_commit(r->db, &ap, 1);
	zt_oauth_audit_clear(&a);
	return err;
}

int
zt_oauth_issue_access(zt_buf *token, json_t **claims, const zt_oauth_req *r,
    zt_jose_alg alg, const zt_access_spec *s)
{
	json_t *c = NULL;
	int err;

	if ((err = zt_oauth_mint_access(token, &c, r->db, r->mk, r->iss, alg,
	    s)) < 0)
		return err;
	if ((err = audit_token(r, s, c)) < 0) {
		zt_buf_free(token);
		json_decref(c);
		return err;
	}
	if (claims != NULL)
		*claims = c;
	else
		json_decref(c);
	return ZT_OK;
}

/* ---- verifying our own tokens ------------------------------------------ */

struct vkey {
	char iss[ZT_ISSUER_URL_MAX + 1];
	char kid[ZT_JOSE_KID_MAX + 1];
	zt_jose_key *key;
	unsigned alg;
	int64_t at;
};

static _Thread_local struct vkey vkeys[VKEY_SLOTS];

/*
 * Tokens this thread verified lately: a resource server introspects the
 * same token again and again, and an ECDSA verification costs more than
 * the rest of an introspection together.  A slot holds SHA-256 of the
 * issuer's URL and the token's bytes, and a copy of the claims those
 * bytes carry.  A hit skips the signature, typ and iss checks and the
 * claims' parse (the same bytes pass them the same way); the dates are
 * checked again and the revocation table read on every call.  An entry
 * lives VKEY_TTL_MS, the time a key that left the JWKS stays usable in
 * the key cache anyway.  Direct-mapped, so a collision only evicts.
 */
#define VSIG_SLOTS 256

struct vsig {
	uint8_t h[ZT_SHA256_LEN];
	int64_t at;
	json_t *claims;
};

static _Thread_local struct vsig *vsigs;

void
zt_oauth_thread_done(void)
{
	int i;

	for (i = 0; i < VKEY_SLOTS; i++) {
		zt_jose_key_free(vkeys[i].key);
		memset(&vkeys[i], 0, sizeof(vkeys[i]));
	}
	if (vsigs != NULL)
		for (i = 0; i < VSIG_SLOTS; i++)
			json_decref(vsigs[i].claims);
	free(vsigs);
	vsigs = NULL;
	zt_issuer_thread_done();
	zt_oauth_clients_thread_done();
}

/* The public key `kid` of the issuer, from the cache or its JWKS. */
static int
vkey_find(const zt_jose_key **key, unsigned *alg, zt_db *db,
    const zt_issuer *iss, const char *kid)
{
	static const zt_jose_alg algs[] = {
		ZT_JOSE_ES256, ZT_JOSE_RS256, ZT_JOSE_EDDSA,
	};
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	int64_t now = zt_now_ms();
	struct vkey *v, *victim = &vkeys[0];
	json_t *jwks, *k;
	zt_jose_alg a;
	size_t i, j;
	int err;

	for (i = 0; i < VKEY_SLOTS; i++) {
		v = &vkeys[i];
		if (v->key != NULL && now - v->at < VKEY_TTL_MS &&
		    strcmp(v->kid, kid) == 0 && strcmp(v->iss, iss->url) == 0) {
			*key = v->key;
			*alg = v->alg;
			return ZT_OK;
		}
		if (v->at < victim->at)
			victim = v;
	}
	for (i = 0; i < ZT_ARRAY_LEN(algs); i++) {
		zt_issuer_key_scope(scope, iss, algs[i]);
		if ((err = zt_keys_jwks(db, scope, &jwks)) < 0)
			return err;
		json_array_foreach(json_object_get(jwks, "keys"), j, k) {
			if (strcmp(json_string_value(json_object_get(k, "kid")),
			    kid) != 0 || zt_jose_alg_parse(json_string_value(
			    json_object_get(k, "alg")), &a) < 0)
				continue;
			zt_jose_key_free(victim->key);
			memset(victim, 0, sizeof(*victim));
			if ((err = zt_jose_key_from_jwk(&victim->key, k)) < 0) {
				json_decref(jwks);
				return err;
			}
			snprintf(victim->iss, sizeof(victim->iss), "%s",
			    iss->url);
			snprintf(victim->kid, sizeof(victim->kid), "%s", kid);
			victim->alg = a;
			victim->at = now;
			json_decref(jwks);
			*key = victim->key;
			*alg = a;
			return ZT_OK;
		}
		json_decref(jwks);
	}
	return zt_error_set(ZT_EFORBIDDEN, "the token's key is not one of "
	    "this issuer's");
}

static void
vsig_hash(uint8_t h[ZT_SHA256_LEN], const zt_issuer *iss, const char *token)
{
	size_t nu = strlen(iss->url), nt = strlen(token);
	char stack[2048];
	zt_buf b = ZT_BUF_INIT(ZT_ISSUER_URL_MAX + ZT_JWS_MAX + 2);

	/* One piece, as zt_sha256 takes it: on the stack for the usual
	 * token, else in a buffer.  A failure to allocate gives a hash no
	 * slot holds. */
	memset(h, 0, ZT_SHA256_LEN);
	if (nu + nt + 1 <= sizeof(stack)) {
		memcpy(stack, iss->url, nu);
		stack[nu] = '\0';
		memcpy(stack + nu + 1, token, nt);
		zt_sha256(h, stack, nu + nt + 1);
		return;
	}
	if (zt_buf_add(&b, iss->url, nu + 1) == ZT_OK &&
	    zt_buf_add(&b, token, nt) == ZT_OK)
		zt_sha256(h, b.data, b.len);
	zt_buf_free(&b);
}

static struct vsig *
vsig_slot(const uint8_t h[ZT_SHA256_LEN])
{
	if (vsigs == NULL && (vsigs = calloc(VSIG_SLOTS,
	    sizeof(*vsigs))) == NULL)
		return NULL;
	return &vsigs[((unsigned)h[0] | (unsigned)h[1] << 8) % VSIG_SLOTS];
}

static int
revoked(zt_db *db, const zt_issuer *iss, const char *jti)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT 1 FROM oauth_revoked"
	    " WHERE tenant = $1 AND jti = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, jti);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err == ZT_ROW)
		return zt_error_set(ZT_EFORBIDDEN, "the token was revoked");
	return err == ZT_DONE ? ZT_OK : err;
}

int
zt_oauth_verify_access(json_t **claims, zt_db *db, const zt_issuer *iss,
    const char *token, int64_t now)
{
	zt_jwt_expect x = {
		.iss = iss->url, .typ = "at+jwt", .now = now,
		.require_exp = true,
	};
	const zt_jose_key *key = NULL;
	uint8_t h[ZT_SHA256_LEN];
	int64_t ms = zt_now_ms();
	const char *jti;
	struct vsig *vs;
	json_t *c = NULL;
	unsigned alg = 0;
	zt_jws jws;
	int err;

	*claims = NULL;
	vsig_hash(h, iss, token);
	vs = vsig_slot(h);
	if (vs != NULL && vs->claims != NULL && ms - vs->at < VKEY_TTL_MS &&
	    memcmp(vs->h, h, sizeof(h)) == 0) {
		/* These very bytes passed every check below: only the dates
		 * can have changed since. */
		if ((err = zt_jwt_check_times(vs->claims, &x)) < 0)
			return err;
		if ((c = json_deep_copy(vs->claims)) == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
	} else {
		if (zt_jws_parse(&jws, token, strlen(token)) < 0)
			return zt_error_set(ZT_EFORBIDDEN, "not a token of ours");
		if (jws.kid[0] == '\0')
			err = zt_error_set(ZT_EFORBIDDEN, "the token names no "
			    "key");
		else if ((err = vkey_find(&key, &alg, db, iss, jws.kid)) ==
		    ZT_OK && (err = zt_jws_verify(&jws, key, alg)) == ZT_OK)
			err = zt_jwt_check(&jws, &x, &c);
		zt_jws_free(&jws);
		if (err < 0) {
			json_decref(c);
			return err;
		}
	}
	jti = json_string_value(json_object_get(c, "jti"));
	if (jti == NULL || !json_is_string(json_object_get(c, "client_id")) ||
	    !json_is_string(json_object_get(c, "sub"))) {
		json_decref(c);
		return zt_error_set(ZT_EFORBIDDEN, "the token lacks claims an "
		    "access token of ours has");
	}
	/* Remembered before the revocation check, which runs every time. */
	if (vs != NULL && (vs->claims == NULL || memcmp(vs->h, h,
	    sizeof(h)) != 0 || ms - vs->at >= VKEY_TTL_MS)) {
		json_decref(vs->claims);
		memcpy(vs->h, h, sizeof(h));
		vs->claims = json_deep_copy(c);
		vs->at = ms;
	}
	if ((err = revoked(db, iss, jti)) < 0) {
		json_decref(c);
		return err;
	}
	*claims = c;
	return ZT_OK;
}

int
zt_id_token_hint(json_t **claims, zt_db *db, const zt_issuer *iss,
    const char *token)
{
	/* A hint may have expired (OpenID Connect RP-Initiated Logout 2):
	 * the dates are read with a year of leeway. */
	zt_jwt_expect x = { .iss = iss->url, .leeway_s = 366 * 86400 };
	const zt_jose_key *key = NULL;
	unsigned alg = 0;
	zt_jws jws;
	int err;

	*claims = NULL;
	if (strlen(token) > ZT_JWS_MAX ||
	    zt_jws_parse(&jws, token, strlen(token)) < 0)
		return zt_error_set(ZT_EFORBIDDEN, "not an ID token of ours");
	if (jws.kid[0] == '\0' || strcmp(jws.typ, "at+jwt") == 0)
		err = zt_error_set(ZT_EFORBIDDEN, "not an ID token of ours");
	else if ((err = vkey_find(&key, &alg, db, iss, jws.kid)) == ZT_OK &&
	    (err = zt_jws_verify(&jws, key, alg)) == ZT_OK)
		err = zt_jwt_check(&jws, &x, claims);
	zt_jws_free(&jws);
	if (err == ZT_OK && !json_is_string(json_object_get(*claims, "sub"))) {
		json_decref(*claims);
		*claims = NULL;
		err = zt_error_set(ZT_EFORBIDDEN, "an ID token has a sub");
	}
	return err < 0 ? zt_error_set(ZT_EFORBIDDEN, "not an ID token of "
	    "ours") : ZT_OK;
}

/* ---- scopes and audiences ---------------------------------------------- */

static zt_jose_alg
client_alg(json_t *meta)
{
	zt_jose_alg a;

	if (zt_jose_alg_parse(json_string_value(json_object_get(meta,
	    "id_token_signed_response_alg")), &a) < 0)
		a = ZT_JOSE_ES256;
	return a;
}

/* ---- the grants ------------------------------------------------------- */

/* What a grant decided, for issue_reply(). */
struct grant_out {
	zt_access_spec spec;
	json_t *aud;		/* owned */
	json_t *act;		/* owned */
	char *scope;		/* owned */
	char *sub;		/* owned */
	bool exchange;
	/* A person's grant (refresh, device): what it stands for. */
	zt_refresh_grant rt;
	const char *user;	/* GT_REFRESH, GT_DEVICE, GT_CODE or NULL */
	/* The authorization code grant: what the code stood for. */
	zt_code_grant code;
	bool is_code;
};

static void
grant_out_free(struct grant_out *g)
{
	json_decref(g->aud);
	json_decref(g->act);
	free(g->scope);
	free(g->sub);
	zt_refresh_grant_free(&g->rt);
	zt_code_grant_free(&g->code);
}

static int
grant_client_credentials(struct grant_out *g, const zt_oauth_client *c,
    const zt_form *f, zt_oauth_error *e)
{
	const char *registered = json_string_value(json_object_get(c->meta,
	    "scope"));
	const char *want = zt_form_get(f, "scope");
	int err;

	if (want != NULL && !zt_scope_syntax_ok(want))
		return zt_oauth_fail(e, 400, "invalid_scope", "scope is "
		    "space-separated scope tokens");
	if (want != NULL && !zt_scope_within(want, registered))
		return zt_oauth_fail(e, 400, "invalid_scope", "the client may "
		    "ask for these scopes only: %.150s", registered);
	if ((err = zt_oauth_audience_read(&g->aud, f, false, e)) < 0)
		return err;
	g->scope = strdup(want ? want : registered);
	g->sub = strdup(c->id);
	if (g->scope == NULL || g->sub == NULL)
		return zt_oauth_fail(e, 500, "server_error", "out of memory");
	g->spec.sub = g->sub;
	g->spec.grant = GT_CLIENT;
	return ZT_OK;
}

/* The new token's actor: this client, acting on behalf of any actor the
 * subject token already names (RFC 8693 4.1 nests them). */
static json_t *
actor_claim(const char *client_id, json_t *subject)
{
	json_t *act = json_pack("{s:s}", "sub", client_id);
	json_t *prior = json_object_get(subject, "act");

	if (act != NULL && json_is_object(prior))
		json_object_set(act, "act", prior);
	return act;
}

static bool
aud_names(json_t *aud, const char *s)
{
	json_t *v;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), s) == 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/*
 * Token exchange (RFC 8693) of an access token this issuer issued.  The
 * subject token must have been issued to this client or name it in its
 * audience (it was given to this service); the new token keeps its
 * subject, names this client as actor, asks for no scope beyond the
 * subject token's, and lives no longer than it.
 */
static int
grant_exchange(struct grant_out *g, const zt_oauth_client *c,
    const zt_oauth_req *r, const zt_form *f, const char *jkt,
    zt_oauth_error *e)
{
	const char *st = zt_form_get(f, "subject_token");
	const char *stt = zt_form_get(f, "subject_token_type");
	const char *rtt = zt_form_get(f, "requested_token_type");
	const char *want = zt_form_get(f, "scope"), *have, *bound;
	int64_t now = r->now ? r->now : zt_now_ms() / 1000, left;
	json_t *s = NULL;
	int err;

	if (st == NULL || stt == NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "subject_token "
		    "and subject_token_type are required");
	if (strcmp(stt, TT_ACCESS) != 0)
		return zt_oauth_fail(e, 400, "invalid_request", "only access "
		    "tokens of this issuer can be exchanged");
	if (rtt != NULL && strcmp(rtt, TT_ACCESS) != 0)
		return zt_oauth_fail(e, 400, "invalid_request", "only access "
		    "tokens can be requested");
	if (zt_form_get(f, "actor_token") != NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "actor_token is "
		    "not supported; the authenticated client is the actor");
	if (strlen(st) > ZT_JWS_MAX ||
	    zt_oauth_verify_access(&s, r->db, r->iss, st, now) < 0)
		return zt_oauth_fail(e, 400, "invalid_request", "the "
		    "subject_token is not a current access token of this "
		    "issuer");
	if (strcmp(json_string_value(json_object_get(s, "client_id")),
	    c->id) != 0 && !aud_names(json_object_get(s, "aud"), c->id)) {
		err = zt_oauth_fail(e, 400, "invalid_request", "the "
		    "subject_token was neither issued to this client nor "
		    "meant for it");
		goto out;
	}
	/* A DPoP-bound subject token is only exchanged with a proof of its
	 * key: holding the token alone proves nothing. */
	bound = json_string_value(json_object_get(json_object_get(s, "cnf"),
	    "jkt"));
	if (bound != NULL && (jkt == NULL || strcmp(bound, jkt) != 0)) {
		err = zt_oauth_fail(e, 400, "invalid_request", "the "
		    "subject_token is DPoP-bound: send a DPoP proof of its "
		    "key");
		goto out;
	}
	have = json_string_value(json_object_get(s, "scope"));
	if (want != NULL && (!zt_scope_syntax_ok(want) || have == NULL ||
	    !zt_scope_within(want, have))) {
		err = zt_oauth_fail(e, 400, "invalid_scope", "the scope may "
		    "only narrow the subject token's");
		goto out;
	}
	if ((err = zt_oauth_audience_read(&g->aud, f, true, e)) < 0)
		goto out;
	if (g->aud == NULL)
		g->aud = json_incref(json_object_get(s, "aud"));
	g->scope = (want || have) ? strdup(want ? want : have) : NULL;
	g->sub = strdup(json_string_value(json_object_get(s, "sub")));
	g->act = actor_claim(c->id, s);
	if (g->sub == NULL || g->act == NULL || ((want || have) &&
	    g->scope == NULL)) {
		err = zt_oauth_fail(e, 500, "server_error", "out of memory");
		goto out;
	}
	left = json_integer_value(json_object_get(s, "exp")) - now;
	if (left < g->spec.lifetime_s)
		g->spec.lifetime_s = left;
	g->spec.sub = g->sub;
	g->spec.act = g->act;
	g->spec.grant = GT_EXCHANGE;
	g->exchange = true;
out:
	json_decref(s);
	return err;
}

/* True when every audience of `want` (a string or an array) is in
 * `have`. */
static bool
aud_subset(json_t *want, json_t *have)
{
	json_t *v;
	size_t i;

	if (json_is_string(want))
		return have != NULL && aud_names(have, json_string_value(want));
	json_array_foreach(want, i, v)
		if (!json_is_string(v) || have == NULL ||
		    !aud_names(have, json_string_value(v)))
			return false;
	return true;
}

/*
 * What a person granted (a redeemed refresh token or device code, in
 * g->rt) becomes an access token: its subject, the scope asked for if it
 * narrows the granted one (RFC 6749 6: never wider), and the resources
 * asked for if they are among the granted ones (RFC 8707 2.2), else all
 * of those.
 */
static int
grant_user(struct grant_out *g, const zt_form *f, const char *grant,
    zt_oauth_error *e)
{
	const char *want = zt_form_get(f, "scope");
	int err;

	if (want != NULL && (!zt_scope_syntax_ok(want) ||
	    !zt_scope_within(want, g->rt.scope)))
		return zt_oauth_fail(e, 400, "invalid_scope", "the scope may "
		    "only narrow the one granted");
	if ((err = zt_oauth_audience_read(&g->aud, f, false, e)) < 0)
		return err;
	if (g->aud != NULL && !aud_subset(g->aud, g->rt.resource))
		return zt_oauth_fail(e, 400, "invalid_target", "a resource "
		    "that was not granted");
	if (g->aud == NULL && g->rt.resource != NULL)
		g->aud = json_incref(g->rt.resource);
	g->scope = strdup(want ? want : g->rt.scope);
	g->sub = strdup(g->rt.identity_id);
	if (g->scope == NULL || g->sub == NULL)
		return zt_oauth_fail(e, 500, "server_error", "out of memory");
	g->spec.sub = g->sub;
	g->spec.grant = grant;
	g->user = grant;
	return ZT_OK;
}

static int
grant_refresh(struct grant_out *g, const zt_oauth_client *c,
    const zt_oauth_req *r, const zt_form *f, const char *jkt,
    zt_oauth_error *e)
{
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	const char *rt = zt_form_get(f, "refresh_token");
	int err;

	if (rt == NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "refresh_token "
		    "is required");
	if ((err = zt_refresh_redeem(&g->rt, r->db, r->iss, c->id, rt, jkt,
	    now, e)) < 0)
		return err;
	return grant_user(g, f, GT_REFRESH, e);
}

static int
grant_device(struct grant_out *g, const zt_oauth_client *c,
    const zt_oauth_req *r, const zt_form *f, zt_oauth_error *e)
{
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	const char *dc = zt_form_get(f, "device_code");
	int err;

	if (dc == NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "device_code "
		    "is required");
	if ((err = zt_device_redeem(&g->rt, r->db, r->iss, c->id, dc, now,
	    e)) < 0)
		return err;
	return grant_user(g, f, GT_DEVICE, e);
}

/*
 * The authorization code grant (RFC 6749 4.1.3): the code of this client,
 * its redirect_uri and PKCE verifier.  What it stands for moves into
 * g->rt, as for the other grants of a person.
 */
static int
grant_code(struct grant_out *g, const zt_oauth_client *c,
    const zt_oauth_req *r, const zt_form *f, zt_oauth_error *e)
{
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	const char *code = zt_form_get(f, "code");
	const char *ru = zt_form_get(f, "redirect_uri");
	int err;

	if (code == NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "code is "
		    "required");
	if (ru == NULL && json_array_size(json_object_get(c->meta,
	    "redirect_uris")) != 1)
		return zt_oauth_fail(e, 400, "invalid_request", "redirect_uri "
		    "is required");
	if ((err = zt_code_redeem(&g->code, r->db, r->iss, c->id, code, ru,
	    zt_form_get(f, "code_verifier"), now, e)) < 0)
		return err;
	g->is_code = true;
	g->rt = g->code.rt;
	memset(&g->code.rt, 0, sizeof(g->code.rt));
	return grant_user(g, f, GT_CODE, e);
}

/*
 * The ID token of the authorization code grant, beside the access token
 * `at` (OIDC Core 3.1.3.3), when the scope has openid.  The device grant
 * gives one too, from what its approval recorded (no nonce, acr or amr:
 * the device request carries none, and the approval does not keep the
 * session's).
 */
static int
code_id_token(json_t *out, struct grant_out *g, const zt_oauth_client *c,
    const zt_oauth_req *r, const char *at, zt_oauth_error *e)
{
	zt_buf idt = ZT_BUF_INIT(ZT_JWS_MAX);
	int err;

	if (!zt_scope_within("openid", g->rt.scope))
		return ZT_OK;
	err = zt_id_token(&idt, r->db, r->mk, r->idcfg, r->iss,
	    client_alg(c->meta), &(zt_id_token_spec){
	    .sub = g->rt.identity_id, .client_id = c->id,
	    .account_id = g->code.account_id[0] ? g->code.account_id : NULL,
	    .scope = g->rt.scope,
	    .nonce = g->code.nonce, .sid = g->rt.session_id,
	    .acr = g->code.acr, .amr = g->code.amr, .access_token = at,
	    .auth_time = g->rt.auth_time,
	    .lifetime_s = ID_TOKEN_LIFETIME_S });
	if (err < 0) {
		zt_buf_free(&idt);
		return zt_oauth_fail(e, 500, "server_error", "the ID token "
		    "could not be issued");
	}
	json_object_set_new(out, "id_token", json_string(idt.data));
	zt_buf_free(&idt);
	return ZT_OK;
}

/*
 * The refresh token of a person's grant, once its access token (with
 * claims `claims`) is minted: the refresh grant rotates the one presented;
 * the device grant starts a family when the client may refresh.
 */
static int
user_refresh(json_t *out, struct grant_out *g, const zt_oauth_client *c,
    const zt_oauth_req *r, json_t *claims, const char *jkt,
    zt_oauth_error *e)
{
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	const char *jti = json_string_value(json_object_get(claims, "jti"));
	int64_t exp = json_integer_value(json_object_get(claims, "exp"));
	char rt[ZT_REFRESH_LEN + 1], family[ZT_ID_LEN + 1];
	int err;

	if (strcmp(g->user, GT_REFRESH) == 0) {
		err = zt_refresh_rotate(rt, r->db, r->iss, &g->rt, c->id, jti,
		    exp, now);
		if (err == ZT_ECONFLICT)
			return zt_oauth_fail(e, 400, "invalid_grant", "the "
			    "refresh token was used before: every token of "
			    "its grant is revoked");
	} else {
		if (!zt_json_set_has(json_object_get(c->meta, "grant_types"),
		    GT_REFRESH)) {
			/* A code's access token still joins the code's own
			 * family, so that a replay of the code revokes it. */
			if (g->is_code && zt_refresh_note_access(r->db,
			    r->iss->tenant, g->code.family, jti, exp) < 0)
				return zt_oauth_fail(e, 500, "server_error",
				    "the token could not be recorded");
			return ZT_OK;
		}
		err = zt_refresh_start(rt, family, r->db, r->iss,
		    &(zt_refresh_spec){ .client_id = c->id,
		    .identity_id = g->rt.identity_id,
		    .session_id = g->rt.session_id[0] ? g->rt.session_id :
		    NULL, .scope = g->rt.scope, .resource = g->rt.resource,
		    .jkt = jkt, .auth_time = g->rt.auth_time }, jti, exp, now);
		if (err == ZT_OK && g->is_code)
			err = zt_code_note_family(r->db, r->iss->tenant,
			    g->code.hash, family);
	}
	if (err < 0)
		return zt_oauth_fail(e, 500, "server_error", "the refresh "
		    "token could not be issued");
	json_object_set_new(out, "refresh_token", json_string(rt));
	zt_wipe(rt, sizeof(rt));
	return ZT_OK;
}

/* DPoP: a valid proof binds the token; a client registered with
 * dpop_bound_access_tokens must send one. */
static int
dpop_read(char jkt[ZT_JOSE_THUMBPRINT_LEN + 1], bool *bound,
    const zt_oauth_client *c, const zt_oauth_req *r, zt_oauth_error *e)
{
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	int err;

	*bound = false;
	if (r->dpop == NULL) {
		if (json_is_true(json_object_get(c->meta,
		    "dpop_bound_access_tokens")))
			return zt_oauth_fail(e, 400, "invalid_request", "this "
			    "client's tokens are DPoP-bound: send a DPoP "
			    "proof");
		return ZT_OK;
	}
	if ((err = zt_dpop_check(jkt, r->db, r->dpop, r->method, r->endpoint,
	    now, e)) < 0)
		return err;
	*bound = true;
	return ZT_OK;
}

static const char *const multi_params[] = { "resource", "audience", NULL };

int
zt_oauth_token(json_t **out, const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e)
{
	const char *grant = zt_form_get(f, "grant_type"), *rep;
	char jkt[ZT_JOSE_THUMBPRINT_LEN + 1];
	struct grant_out g = { .spec = { 0 } };
	zt_buf token = ZT_BUF_INIT(ZT_JWS_MAX);
	json_t *claims = NULL, *extra = NULL;
	zt_oauth_client c;
	bool bound;
	int err;

	*out = NULL;
	if ((rep = zt_form_repeated(f, multi_params)) != NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "parameter "
		    "\"%.40s\" is given more than once", rep);
	if (grant == NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "grant_type "
		    "is required");
	if ((err = zt_oauth_client_auth(&c, r, f, e)) < 0)
		return err;
	if (strcmp(grant, GT_CLIENT) != 0 && strcmp(grant, GT_EXCHANGE) != 0 &&
	    strcmp(grant, GT_REFRESH) != 0 && strcmp(grant, GT_DEVICE) != 0 &&
	    strcmp(grant, GT_CODE) != 0) {
		err = zt_oauth_fail(e, 400, "unsupported_grant_type", "this "
		    "grant type is not supported here");
		goto out;
	}
	if (!zt_json_set_has(json_object_get(c.meta, "grant_types"),
	    grant)) {
		err = zt_oauth_fail(e, 400, "unauthorized_client", "the client "
		    "is not registered for this grant type");
		goto out;
	}
	if ((err = dpop_read(jkt, &bound, &c, r, e)) < 0)
		goto out;
	g.spec.lifetime_s = json_integer_value(json_object_get(c.meta,
	    "access_token_lifetime"));
	if (strcmp(grant, GT_CLIENT) == 0)
		err = grant_client_credentials(&g, &c, f, e);
	else if (strcmp(grant, GT_REFRESH) == 0)
		err = grant_refresh(&g, &c, r, f, bound ? jkt : NULL, e);
	else if (strcmp(grant, GT_DEVICE) == 0)
		err = grant_device(&g, &c, r, f, e);
	else if (strcmp(grant, GT_CODE) == 0)
		err = grant_code(&g, &c, r, f, e);
	else
		err = grant_exchange(&g, &c, r, f, bound ? jkt : NULL, e);
	if (err < 0)
		goto out;
	if (g.aud == NULL && (g.aud = json_string(r->iss->url)) == NULL) {
		err = zt_oauth_fail(e, 500, "server_error", "out of memory");
		goto out;
	}
	g.spec.client_id = c.id;
	g.spec.scope = g.scope;
	g.spec.aud = g.aud;
	g.spec.jkt = bound ? jkt : NULL;
	/* A person's token says who, as far as its scope opens the
	 * identity model: tenant, account system, groups, org unit,
	 * SPIFFE ID, ... (the claims of the ID token, zt_oidc_claims). */
	if (g.user != NULL && ((extra = json_object()) == NULL ||
	    zt_oidc_claims(extra, r->db, r->idcfg, r->iss,
	    g.rt.identity_id, g.is_code && g.code.account_id[0] ?
	    g.code.account_id : NULL, g.scope) < 0)) {
		err = zt_oauth_fail(e, 500, "server_error", "the identity's "
		    "claims could not be read");
		goto out;
	}
	g.spec.extra = extra;
	if (zt_oauth_issue_access(&token, &claims, r, client_alg(c.meta),
	    &g.spec) < 0) {
		err = zt_oauth_fail(e, 500, "server_error", "the token could "
		    "not be issued");
		goto out;
	}
	*out = json_pack("{s:s, s:s, s:I}", "access_token", token.data,
	    "token_type", bound ? "DPoP" : "Bearer",
	    "expires_in", (json_int_t)g.spec.lifetime_s);
	if (*out == NULL) {
		err = zt_oauth_fail(e, 500, "server_error", "out of memory");
		goto out;
	}
	if (g.scope != NULL)
		json_object_set_new(*out, "scope", json_string(g.scope));
	if (g.exchange)
		json_object_set_new(*out, "issued_token_type",
		    json_string(TT_ACCESS));
	if (g.user != NULL && (err = user_refresh(*out, &g, &c, r, claims,
	    bound ? jkt : NULL, e)) < 0) {
		json_decref(*out);
		*out = NULL;
		goto out;
	}
	if ((g.is_code || (g.user != NULL && strcmp(g.user, GT_DEVICE) ==
	    0)) && (err = code_id_token(*out, &g, &c, r, token.data, e)) < 0) {
		json_decref(*out);
		*out = NULL;
		goto out;
	}
out:
	json_decref(claims);
	json_decref(extra);
	zt_buf_free(&token);
	grant_out_free(&g);
	zt_oauth_client_free(&c);
	return err;
}
