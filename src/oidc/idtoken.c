/*
 * idtoken.c: ID tokens (OpenID Connect Core 2 and 3.1.3.6) and the
 * claims about a person that the userinfo endpoint and the ID token
 * carry.
 *
 * An ID token is a JWT signed with the issuer's key of the client's
 * id_token_signed_response_alg (ES256 unless it chose RS256 or EdDSA),
 * typ "JWT", with iss, sub (the identity's id), aud (the client), exp,
 * iat, auth_time, nonce when the request had one, sid (the sign-in
 * session), acr and amr, and at_hash: the left half of the hash of the
 * access token issued with it, by the hash of the signing algorithm
 * (SHA-256 for ES256 and RS256, SHA-512 for EdDSA over Ed25519).
 *
 * Claims by scope: openid gives tenant and account_system; profile gives
 * name (the attribute "display_name", else the identity's name),
 * preferred_username (the account's login name), org_unit, spiffe_id
 * and updated_at; email gives the attributes "email" and
 * "email_verified"; groups gives the names of every group the identity
 * is in, through nesting and org units too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "oidc/flow.h"

/* Whether the space-separated `scope` (or NULL) has `tok`. */
static bool
scope_has(const char *scope, const char *tok)
{
	return scope != NULL && zt_scope_within(tok, scope);
}

/* The identity's account in the issuer's account system, or NULL. */
static const char *
acct_of(char out[ZT_ID_LEN + 1], zt_db *db, const zt_issuer *iss,
    const char *identity)
{
	zt_stmt *st;
	int err;

	out[0] = '\0';
	if (identity == NULL || zt_db_prepare(&st, db, "SELECT id FROM"
	    " accounts WHERE tenant = $1 AND identity_id = $2 AND"
	    " system_id = $3") < 0)
		return NULL;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, identity);
	zt_stmt_bind_text(st, 3, iss->system_id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		snprintf(out, ZT_ID_LEN + 1, "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	return out[0] ? out : NULL;
}

static int
claims_profile(json_t *into, const zt_id_ctx *cx, const zt_issuer *iss,
    json_t *ident, const char *account_id)
{
	json_t *attrs = json_object_get(ident, "attributes"), *acct = NULL;
	json_t *name = json_object_get(attrs, "display_name");
	char acct_id[ZT_ID_LEN + 1];
	int64_t ms;

	if (!json_is_string(name))
		name = json_object_get(ident, "name");
	json_object_set(into, "name", name);
	if (account_id == NULL)
		account_id = acct_of(acct_id, cx->db, iss, json_string_value(
		    json_object_get(ident, "id")));
	if (account_id != NULL && zt_account_get(&acct, cx, iss->tenant,
	    account_id) == ZT_OK)
		json_object_set(into, "preferred_username",
		    json_object_get(acct, "login_name"));
	json_decref(acct);
	if (json_is_string(json_object_get(ident, "unit_id")))
		json_object_set(into, "org_unit", json_object_get(ident,
		    "unit_id"));
	if (json_is_string(json_object_get(ident, "spiffe_id")))
		json_object_set(into, "spiffe_id", json_object_get(ident,
		    "spiffe_id"));
	if (zt_time_parse(json_string_value(json_object_get(ident,
	    "updated_at")), &ms) == ZT_OK)
		json_object_set_new(into, "updated_at",
		    json_integer(ms / 1000));
	return ZT_OK;
}

static int
claims_groups(json_t *into, const zt_id_ctx *cx, const zt_issuer *iss,
    const char *sub)
{
	json_t *groups = NULL, *names = json_array(), *g;
	size_t i;
	int err;

	if (names == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if ((err = zt_identity_groups(&groups, cx, iss->tenant, sub)) < 0) {
		json_decref(names);
		return err;
	}
	json_array_foreach(groups, i, g)
		json_array_append(names, json_object_get(g, "name"));
	json_decref(groups);
	json_object_set_new(into, "groups", names);
	return ZT_OK;
}

int
zt_oidc_claims(json_t *into, zt_db *db, const zt_identity_config *idcfg,
    const zt_issuer *iss, const char *sub, const char *account_id,
    const char *scope)
{
	zt_actor actor = { "oidc", iss->tenant, NULL };
	zt_id_ctx cx = { .db = db, .cfg = idcfg, .actor = &actor,
	    .scope = { .tenant = iss->tenant } };
	json_t *ident = NULL, *attrs, *v;
	int err;

	if (!scope_has(scope, "openid"))
		return ZT_OK;
	json_object_set_new(into, "tenant", json_string(iss->tenant));
	json_object_set_new(into, "account_system", json_string(iss->system));
	if (!scope_has(scope, "profile") && !scope_has(scope, "email") &&
	    !scope_has(scope, "groups"))
		return ZT_OK;
	if ((err = zt_identity_get(&ident, &cx, iss->tenant, sub)) < 0)
		return err;
	attrs = json_object_get(ident, "attributes");
	if (scope_has(scope, "profile"))
		err = claims_profile(into, &cx, iss, ident, account_id);
	if (err == ZT_OK && scope_has(scope, "email") &&
	    json_is_string(v = json_object_get(attrs, "email"))) {
		json_object_set(into, "email", v);
		json_object_set_new(into, "email_verified", json_boolean(
		    json_is_true(json_object_get(attrs, "email_verified"))));
	}
	if (err == ZT_OK && scope_has(scope, "groups"))
		err = claims_groups(into, &cx, iss, sub);
	json_decref(ident);
	return err;
}

/* at_hash (OIDC Core 3.1.3.6): base64url of the left half of the hash
 * of the access token's ASCII bytes. */
static int
at_hash(char *out, size_t size, zt_jose_alg alg, const char *token)
{
	const EVP_MD *md = alg == ZT_JOSE_EDDSA ? EVP_sha512() :
	    EVP_sha256();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(token, strlen(token), h, &n, md, NULL) != 1 ||
	    zt_b64url_len(n / 2) + 1 > size)
		return zt_error_set(ZT_ERR, "at_hash: digest failed");
	zt_b64url_encode(out, h, n / 2);
	return ZT_OK;
}

/* amr as the array OIDC wants, from authn's space-separated list. */
static json_t *
amr_array(const char *amr)
{
	json_t *a = json_array();
	const char *p = amr;
	size_t n;

	while (a != NULL && p != NULL && *p != '\0') {
		n = strcspn(p, " ");
		if (n > 0)
			json_array_append_new(a, json_stringn(p, n));
		p += n;
		while (*p == ' ')
			p++;
	}
	return a;
}

int
zt_id_token(zt_buf *out, zt_db *db, const zt_master_key *mk,
    const zt_identity_config *idcfg, const zt_issuer *iss, zt_jose_alg alg,
    const zt_id_token_spec *s)
{
	zt_keys_policy pol = { .alg = alg };
	char scope[ZT_KEYS_SCOPE_MAX + 1], ah[128];
	int64_t now = zt_now_ms() / 1000;
	zt_jose_signer *signer;
	json_t *c;
	int err;

	c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "iss", iss->url,
	    "sub", s->sub, "aud", s->client_id,
	    "exp", (json_int_t)(now + s->lifetime_s), "iat", (json_int_t)now,
	    "auth_time", (json_int_t)s->auth_time);
	if (c == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if (s->nonce != NULL && s->nonce[0] != '\0')
		json_object_set_new(c, "nonce", json_string(s->nonce));
	if (s->sid != NULL && s->sid[0] != '\0')
		json_object_set_new(c, "sid", json_string(s->sid));
	if (s->acr != NULL && s->acr[0] != '\0')
		json_object_set_new(c, "acr", json_string(s->acr));
	if (s->amr != NULL && s->amr[0] != '\0')
		json_object_set_new(c, "amr", amr_array(s->amr));
	if (s->access_token != NULL) {
		if ((err = at_hash(ah, sizeof(ah), alg, s->access_token)) < 0)
			goto out;
		json_object_set_new(c, "at_hash", json_string(ah));
	}
	if ((err = zt_oidc_claims(c, db, idcfg, iss, s->sub, s->account_id,
	    s->scope)) < 0)
		goto out;
	zt_issuer_key_scope(scope, iss, alg);
	if ((err = zt_keys_signer(&signer, db, mk, scope, &pol)) == ZT_OK)
		err = zt_jose_sign_json(out, signer, "JWT", c);
out:
	json_decref(c);
	return err;
}
