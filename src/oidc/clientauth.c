/*
 * clientauth.c: client authentication at the token, introspection and
 * revocation endpoints.
 *
 * A request carries exactly one of: an Authorization: Basic header (RFC
 * 6749 2.3.1: client_id and secret, each form-urlencoded, joined by ":"
 * and base64-encoded), client_id and client_secret in the body, or a
 * client_assertion JWT (RFC 7523 section 3, private_key_jwt).  The method
 * used must be the one the client registered; a client that registered
 * "none" is identified by client_id alone.  Every failure to
 * authenticate is invalid_client with the same description, so a caller
 * learns nothing about which client ids exist.
 *
 * Assertions: signed with a key of the client's registered jwks (by kid,
 * or every key that fits the algorithm); iss = sub = client_id; aud the
 * token endpoint's URL or the issuer's; exp required and at most
 * ASSERTION_LIFE_MAX ahead; jti required and accepted once (remembered
 * until exp, per process: see zt_replay_seen).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "oidc/oidc.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
/* An assertion is made for one request; five minutes covers clock skew
 * and a slow network, and bounds the replay table's memory. */
#define ASSERTION_LIFE_MAX 300
#define CLOCK_LEEWAY_S 30
/* A Basic credential: an id and a secret of tens of bytes, encoded. */
#define BASIC_MAX 1024
#define HASH_HEX (2 * ZT_SHA256_LEN + 1)

static int
no_client(zt_oauth_error *e)
{
	return zt_oauth_fail(e, 401, "invalid_client", "client "
	    "authentication failed");
}

static bool
client_id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n <= ZT_CLIENT_ID_LEN + 8;
}

/*
 * Each thread remembers the clients it read in the last CLIENT_TTL_MS (a
 * busy client then costs no SELECT and no JSON parse per request), as the
 * API token cache does (api.c): a rotated secret or a deleted client is
 * seen within that second.  Direct-mapped by a hash of issuer and id.
 */
#define CLIENT_SLOTS 64
#define CLIENT_TTL_MS 1000

struct client_slot {
	char iss[ZT_ISSUER_URL_MAX + 1];
	char id[ZT_CLIENT_ID_LEN + 1];
	char hash[HASH_HEX];
	json_t *meta;
	int64_t at;
};

static _Thread_local struct client_slot *clients;

void
zt_oauth_clients_thread_done(void)
{
	int i;

	if (clients == NULL)
		return;
	for (i = 0; i < CLIENT_SLOTS; i++)
		json_decref(clients[i].meta);
	zt_wipe(clients, CLIENT_SLOTS * sizeof(*clients));
	free(clients);
	clients = NULL;
}

static struct client_slot *
client_slot(const zt_oauth_req *r, const char *id)
{
	uint8_t h[ZT_SHA256_LEN];
	char key[ZT_ISSUER_URL_MAX + ZT_CLIENT_ID_LEN + 8];
	int n;

	if (clients == NULL &&
	    (clients = calloc(CLIENT_SLOTS, sizeof(*clients))) == NULL)
		return NULL;
	n = snprintf(key, sizeof(key), "%s %s", r->iss->url, id);
	zt_sha256(h, key, n > 0 ? (size_t)n : 0);
	return &clients[h[0] % CLIENT_SLOTS];
}

static int client_read(zt_oauth_client *c, char hash[HASH_HEX],
    const zt_oauth_req *r, const char *id);

/*
 * Reads the client `id` of the issuer: its metadata into c->meta and its
 * secret hash into `hash` ("" for none).  ZT_ENOTFOUND when it is not a
 * client of this issuer.
 */
static int
client_load(zt_oauth_client *c, char hash[HASH_HEX], const zt_oauth_req *r,
    const char *id)
{
	struct client_slot *s = client_slot(r, id);
	int64_t now = zt_now_ms();
	int err;

	if (s != NULL && s->meta != NULL && now - s->at < CLIENT_TTL_MS &&
	    strcmp(s->id, id) == 0 && strcmp(s->iss, r->iss->url) == 0) {
		snprintf(c->id, sizeof(c->id), "%s", id);
		memcpy(hash, s->hash, HASH_HEX);
		c->meta = json_incref(s->meta);
		c->method = json_string_value(json_object_get(c->meta,
		    "token_endpoint_auth_method"));
		return ZT_OK;
	}
	if ((err = client_read(c, hash, r, id)) < 0 || s == NULL ||
	    strlen(id) > ZT_CLIENT_ID_LEN)
		return err;
	json_decref(s->meta);
	snprintf(s->iss, sizeof(s->iss), "%s", r->iss->url);
	snprintf(s->id, sizeof(s->id), "%s", id);
	memcpy(s->hash, hash, HASH_HEX);
	s->meta = json_incref(c->meta);
	s->at = now;
	return ZT_OK;
}

static int
client_read(zt_oauth_client *c, char hash[HASH_HEX], const zt_oauth_req *r,
    const char *id)
{
	const char *text, *h;
	zt_stmt *st;
	int err;

	hash[0] = '\0';
	if ((err = zt_db_prepare(&st, r->db, "SELECT secret_hash, metadata"
	    " FROM oauth_clients WHERE tenant = $1 AND id = $2 AND"
	    " system_id = $3")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, r->iss->tenant);
	zt_stmt_bind_text(st, 2, id);
	zt_stmt_bind_text(st, 3, r->iss->system_id);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		if ((h = zt_stmt_text(st, 0)) != NULL &&
		    strlen(h) == HASH_HEX - 1)
			memcpy(hash, h, HASH_HEX);
		text = zt_stmt_text(st, 1);
		err = (c->meta = json_loads(text, 0, NULL)) != NULL ? ZT_OK :
		    zt_error_set(ZT_ERR, "a client's stored metadata does "
		    "not parse");
		snprintf(c->id, sizeof(c->id), "%s", id);
	} else if (err == ZT_DONE) {
		err = zt_error_set(ZT_ENOTFOUND, "no such client");
	}
	zt_stmt_reset(st);
	if (err == ZT_OK)
		c->method = json_string_value(json_object_get(c->meta,
		    "token_endpoint_auth_method"));
	return err;
}

/* Compares a presented secret with the stored hash in constant time,
 * doing the same work when there is no hash. */
static bool
secret_matches(const char hash[HASH_HEX], const char *secret)
{
	char want[HASH_HEX], have[HASH_HEX];
	uint8_t h[ZT_SHA256_LEN];

	memset(have, '0', sizeof(have) - 1);
	have[sizeof(have) - 1] = '\0';
	if (hash[0] != '\0')
		memcpy(have, hash, sizeof(have));
	zt_sha256(h, secret, strlen(secret));
	zt_hex_encode(want, h, sizeof(h));
	return zt_ct_equal(want, have, sizeof(want)) && hash[0] != '\0';
}

/* Splits "Basic base64(urlenc(id) ":" urlenc(secret))". */
static int
basic_parse(char *id, size_t idsz, char *secret, size_t secsz,
    const char *h)
{
	unsigned char raw[BASIC_MAX];
	char *colon;
	size_t n;
	int len;

	for (h += 6; *h == ' '; h++)
		;
	n = strlen(h);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= sizeof(raw))
		return ZT_EINVAL;
	if ((len = EVP_DecodeBlock(raw, (const unsigned char *)h,
	    (int)n)) < 0)
		return ZT_EINVAL;
	/* EVP_DecodeBlock counts padding as zero bytes. */
	if (n >= 1 && h[n - 1] == '=')
		len--;
	if (n >= 2 && h[n - 2] == '=')
		len--;
	raw[len] = '\0';
	if (memchr(raw, '\0', (size_t)len) != NULL ||
	    (colon = strchr((char *)raw, ':')) == NULL) {
		zt_wipe(raw, sizeof(raw));
		return ZT_EINVAL;
	}
	if (zt_form_decode(id, idsz, (char *)raw,
	    (size_t)(colon - (char *)raw)) < 0 ||
	    zt_form_decode(secret, secsz, colon + 1,
	    strlen(colon + 1)) < 0) {
		zt_wipe(raw, sizeof(raw));
		return ZT_EINVAL;
	}
	zt_wipe(raw, sizeof(raw));
	return ZT_OK;
}

/* A secret method: the client must exist, hold a secret that matches, and
 * have registered `method`. */
static int
auth_secret(zt_oauth_client *out, const zt_oauth_req *r, const char *id,
    const char *secret, const char *method, zt_oauth_error *e)
{
	char hash[HASH_HEX];
	bool ok;
	int err;

	if (!client_id_ok(id))
		return no_client(e);
	err = client_load(out, hash, r, id);
	if (err < 0 && err != ZT_ENOTFOUND)
		return zt_oauth_fail(e, 500, "server_error", "the client "
		    "registry cannot be read");
	ok = secret_matches(hash, secret);
	if (err < 0 || !ok)
		return no_client(e);
	if (strcmp(out->method, method) != 0)
		return zt_oauth_fail(e, 401, "invalid_client", "the client is "
		    "registered for %s", out->method);
	return ZT_OK;
}

static bool
aud_has(json_t *aud, const char *a, const char *b)
{
	json_t *v;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), a) == 0 ||
		    strcmp(json_string_value(aud), b) == 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && (strcmp(json_string_value(v), a) == 0 ||
		    strcmp(json_string_value(v), b) == 0))
			return true;
	return false;
}

/* Verifies `jws` with a key of the client's registered set. */
static bool
assertion_signed(const zt_jws *jws, json_t *jwks)
{
	zt_jose_key *key;
	json_t *k, *kid;
	size_t i;
	bool ok = false;

	json_array_foreach(json_object_get(jwks, "keys"), i, k) {
		kid = json_object_get(k, "kid");
		if (jws->kid[0] != '\0' && json_is_string(kid) &&
		    strcmp(json_string_value(kid), jws->kid) != 0)
			continue;
		if (zt_jose_key_from_jwk(&key, k) < 0)
			continue;
		ok = zt_jws_verify(jws, key, ZT_JOSE_ALG_ALL) == ZT_OK;
		zt_jose_key_free(key);
		if (ok)
			break;
	}
	return ok;
}

static int
assertion_claims(json_t *c, const zt_oauth_req *r, const char *id,
    int64_t now, zt_oauth_error *e)
{
	const char *jti = json_string_value(json_object_get(c, "jti"));
	int64_t exp = json_integer_value(json_object_get(c, "exp"));
	char ns[ZT_ISSUER_URL_MAX + 64];
	int err;

	if (!aud_has(json_object_get(c, "aud"), r->endpoint, r->iss->url))
		return zt_oauth_fail(e, 401, "invalid_client", "the client "
		    "assertion is not for this server (aud)");
	if (exp > now + ASSERTION_LIFE_MAX + CLOCK_LEEWAY_S)
		return zt_oauth_fail(e, 401, "invalid_client", "the client "
		    "assertion lives too long (exp at most %d s ahead)",
		    ASSERTION_LIFE_MAX);
	if (jti == NULL || strlen(jti) > 256)
		return zt_oauth_fail(e, 401, "invalid_client", "the client "
		    "assertion has no jti");
	snprintf(ns, sizeof(ns), "assertion %s %s", r->iss->url, id);
	if ((err = zt_replay_seen(r->db, ns, jti, exp + CLOCK_LEEWAY_S,
	    now)) ==
	    ZT_EEXISTS)
		return zt_oauth_fail(e, 401, "invalid_client", "the client "
		    "assertion was used before");
	if (err < 0)
		return zt_oauth_fail(e, 503, "temporarily_unavailable",
		    "cannot record the assertion; retry");
	return ZT_OK;
}

static int
auth_assertion(zt_oauth_client *out, const zt_oauth_req *r,
    const zt_form *f, int64_t now, zt_oauth_error *e)
{
	const char *a = zt_form_get(f, "client_assertion");
	const char *type = zt_form_get(f, "client_assertion_type");
	const char *form_id = zt_form_get(f, "client_id");
	const char *iss, *sub;
	char hash[HASH_HEX];
	zt_jwt_expect x = {
		.now = now, .leeway_s = CLOCK_LEEWAY_S, .require_exp = true,
	};
	json_t *c = NULL;
	zt_jws jws;
	int err;

	if (type == NULL || strcmp(type, ASSERTION_TYPE) != 0)
		return zt_oauth_fail(e, 400, "invalid_request",
		    "client_assertion_type must be " ASSERTION_TYPE);
	if (zt_jws_parse(&jws, a, strlen(a)) < 0)
		return zt_oauth_fail(e, 401, "invalid_client", "the client "
		    "assertion is not a JWS this server accepts");
	if (zt_jwt_check(&jws, &x, &c) < 0) {
		err = zt_oauth_fail(e, 401, "invalid_client", "the client "
		    "assertion: %s", zt_error_msg());
		goto out;
	}
	iss = json_string_value(json_object_get(c, "iss"));
	sub = json_string_value(json_object_get(c, "sub"));
	if (iss == NULL || sub == NULL || strcmp(iss, sub) != 0 ||
	    !client_id_ok(sub) ||
	    (form_id != NULL && strcmp(form_id, sub) != 0)) {
		err = zt_oauth_fail(e, 401, "invalid_client", "the client "
		    "assertion's iss and sub must both be the client_id");
		goto out;
	}
	if ((err = client_load(out, hash, r, sub)) < 0) {
		err = err == ZT_ENOTFOUND ? no_client(e) : zt_oauth_fail(e,
		    500, "server_error", "the client registry cannot be read");
		goto out;
	}
	if (strcmp(out->method, "private_key_jwt") != 0) {
		/* Said before any signature is checked: no more than for an
		 * unknown client. */
		err = no_client(e);
		goto out;
	}
	if (!assertion_signed(&jws, json_object_get(out->meta, "jwks"))) {
		err = zt_oauth_fail(e, 401, "invalid_client", "the client "
		    "assertion's signature does not verify with a registered "
		    "key");
		goto out;
	}
	err = assertion_claims(c, r, sub, now, e);
out:
	json_decref(c);
	zt_jws_free(&jws);
	return err;
}

int
zt_oauth_client_auth(zt_oauth_client *out, const zt_oauth_req *r,
    const zt_form *f, zt_oauth_error *e)
{
	const char *h = r->authorization;
	const char *form_id = zt_form_get(f, "client_id");
	const char *secret = zt_form_get(f, "client_secret");
	bool basic = h != NULL && strncasecmp(h, "Basic ", 6) == 0;
	bool jwt = zt_form_get(f, "client_assertion") != NULL;
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	char id[BASIC_MAX], sec[BASIC_MAX];
	char hash[HASH_HEX];
	int err;

	memset(out, 0, sizeof(*out));
	if (basic + jwt + (secret != NULL) > 1)
		return zt_oauth_fail(e, 400, "invalid_request", "use one "
		    "client authentication method, not several");
	if (h != NULL && !basic)
		return zt_oauth_fail(e, 401, "invalid_client", "only Basic "
		    "client authentication goes in the Authorization header");
	if (jwt)
		err = auth_assertion(out, r, f, now, e);
	else if (secret != NULL)
		err = auth_secret(out, r, form_id ? form_id : "", secret,
		    "client_secret_post", e);
	else if (basic) {
		if (basic_parse(id, sizeof(id), sec, sizeof(sec), h) < 0)
			err = zt_oauth_fail(e, 401, "invalid_client", "the "
			    "Basic credentials are malformed");
		else if (form_id != NULL && strcmp(form_id, id) != 0)
			err = zt_oauth_fail(e, 400, "invalid_request",
			    "client_id differs from the authenticated one");
		else
			err = auth_secret(out, r, id, sec,
			    "client_secret_basic", e);
		zt_wipe(sec, sizeof(sec));
	} else if (form_id != NULL && client_id_ok(form_id) &&
	    (err = client_load(out, hash, r, form_id)) == ZT_OK &&
	    strcmp(out->method, "none") == 0) {
		err = ZT_OK;
	} else {
		err = no_client(e);
	}
	if (err < 0)
		zt_oauth_client_free(out);
	return err;
}

int
zt_oauth_client_get(zt_oauth_client *out, const zt_oauth_req *r,
    const char *id)
{
	char hash[HASH_HEX];

	memset(out, 0, sizeof(*out));
	if (!client_id_ok(id))
		return zt_error_set(ZT_ENOTFOUND, "no such client");
	return client_load(out, hash, r, id);
}

void
zt_oauth_client_free(zt_oauth_client *c)
{
	json_decref(c->meta);
	memset(c, 0, sizeof(*c));
}
