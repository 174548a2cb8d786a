/*
 * The ACME server (RFC 8555): one directory per tenant at
 * /acme/{tenant}/directory, through which certbot, lego and other ACME
 * clients obtain TLS server certificates from the server's CA.  The
 * protocol engine is src/acme; this file checks each request's JWS
 * envelope, renders the resources and runs the validator thread.
 *
 * Every response carries a fresh Replay-Nonce.  Every POST is checked in
 * this order: content type, JWS syntax and algorithm, "url" equal to the
 * URL requested, the key ("jwk", or "kid" naming a valid account of the
 * tenant), the signature, and last the nonce, which is used up.  A
 * request refused on the way changes nothing else.
 *
 * Validations run on one validator thread with its own database
 * connection, never on a worker's loop: a challenge POST marks the
 * challenge "processing" and wakes the thread, which claims due
 * challenges from the database (so a cluster of nodes shares the work),
 * tries each with bounded timeouts and records the result.  Issuance
 * goes through api_ca_issue as an ACME caller, whose gate allows exactly
 * the names the order validated.  docs/acme.md has the rest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "acme/acme.h"
#include "api/api_int.h"
#include "base/base.h"

/* Lifetime of an ACME certificate: what ACME clients expect (they renew
 * a month before expiry); --ca-max-ttl lowers it through the gate. */
#define ACME_CERT_TTL_S (90LL * 86400)
/* Challenges the validator takes in one round, and how long it sleeps
 * when nothing wakes it. */
#define VALIDATOR_BATCH 8
#define VALIDATOR_IDLE_MS 1000
/* The longest Host header used to build URLs. */
#define HOST_MAX 255
/* Orders listed on an account's orders URL. */
#define ORDERS_LIST_MAX 100

static const zt_actor acme_actor = { "acme", NULL, NULL };

/* What one ACME request carries through its handler. */
struct acme_cx {
	zt_req *req;
	const char *tenant;
	char base[HOST_MAX + 96];	/* scheme://host/acme/<tenant> */
	char url[HOST_MAX + 512];	/* the URL requested */
	zt_acme_jws jws;
	json_t *account;		/* kid requests: the account */
	const char *acct_id;		/* borrowed from account */
	zt_jose_key *key;		/* the key that signed */
};

/* ---- replies ------------------------------------------------------------ */

static void
reply_prob(struct acme_cx *cx, enum zt_acme_prob p, int status,
    const char *detail)
{
	json_t *doc = zt_acme_prob_doc(p, detail);
	char *text;

	if (status)
		json_object_set_new(doc, "status", json_integer(status));
	else
		status = zt_acme_prob_status(p);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL) {
		zt_reply_problem(cx->req, 500, "internal", "out of memory");
		return;
	}
	zt_reply(cx->req, status, "application/problem+json", text,
	    strlen(text));
	free(text);
}

/* Replies with the problem of the thread's error message. */
static void
reply_err(struct acme_cx *cx, enum zt_acme_prob p)
{
	reply_prob(cx, p, 0, zt_error_msg());
}

static void
reply_doc(struct acme_cx *cx, int status, json_t *doc, const char *location)
{
	if (location)
		zt_reply_header(cx->req, "Location", location);
	zt_reply_json(cx->req, status, doc);
}

static void
reply_internal(struct acme_cx *cx, int err)
{
	if (err == ZT_EUNAVAIL || err == ZT_EBUSY) {
		zt_reply_header(cx->req, "Retry-After", "1");
		reply_prob(cx, ZT_ACME_SERVER_INTERNAL, 503, zt_error_msg());
		return;
	}
	log_warn("ACME request failed", ZS("error", zt_error_msg()));
	reply_prob(cx, ZT_ACME_SERVER_INTERNAL, 500, "internal error");
}

/* ---- the request's setting ---------------------------------------------- */

static bool
host_ok(const char *h)
{
	size_t n = strlen(h);

	return n > 0 && n <= HOST_MAX && strspn(h, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

/*
 * Every ACME handler starts here: the tenant must exist, the URLs are
 * built from the Host the client used (or --public-url), and the reply
 * gets its Replay-Nonce and index link whatever happens next.
 */
static bool
acme_begin(struct acme_cx *cx, zt_req *req)
{
	zt_app *app = zt_req_app(req);
	const char *host = zt_req_header(req, "Host");
	char nonce[ZT_ACME_NONCE_LEN + 1], link[sizeof(cx->base) + 32];
	zt_id_ctx idc;
	json_t *t = NULL;
	int err;

	memset(cx, 0, sizeof(*cx));
	cx->req = req;
	cx->tenant = zt_req_param(req, "tenant");
	zt_reply_header(req, "Cache-Control", "no-store");
	if ((err = zt_acme_nonce_new(api_db(req), nonce)) < 0) {
		reply_internal(cx, err);
		return false;
	}
	zt_reply_header(req, "Replay-Nonce", nonce);
	if (host && host_ok(host))
		snprintf(cx->base, sizeof(cx->base), "%s://%s/acme/%s",
		    zt_req_is_tls(req) ? "https" : "http", host, cx->tenant);
	else
		snprintf(cx->base, sizeof(cx->base), "%s/acme/%s",
		    app->public_url ? app->public_url : "", cx->tenant);
	snprintf(cx->url, sizeof(cx->url), "%.*s%s",
	    (int)(strlen(cx->base) - strlen(cx->tenant) - 6), cx->base,
	    zt_req_path(req));
	snprintf(link, sizeof(link), "<%s/directory>;rel=\"index\"",
	    cx->base);
	zt_reply_header(req, "Link", link);

	idc = (zt_id_ctx){ .db = api_db(req), .cfg = &app->identity,
	    .actor = &acme_actor, .scope = { .tenant = cx->tenant } };
	if ((err = zt_tenant_get(&t, &idc, cx->tenant)) < 0) {
		if (err == ZT_ENOTFOUND || err == ZT_EINVAL ||
		    err == ZT_EFORBIDDEN)
			reply_prob(cx, ZT_ACME_MALFORMED, 404, "no ACME "
			    "directory here");
		else
			reply_internal(cx, err);
		return false;
	}
	json_decref(t);
	return true;
}

static void
acme_end(struct acme_cx *cx)
{
	zt_acme_jws_free(&cx->jws);
	json_decref(cx->account);
	zt_jose_key_free(cx->key);
}

enum key_mode { KEY_JWK, KEY_KID, KEY_EITHER };

/* The account a "kid" names: "<base>/acct/<id>" of a valid account. */
static bool
kid_account(struct acme_cx *cx)
{
	size_t n = strlen(cx->base);
	const char *kid = cx->jws.kid, *id, *status;
	int err;

	if (strncmp(kid, cx->base, n) != 0 ||
	    strncmp(kid + n, "/acct/", 6) != 0) {
		reply_prob(cx, ZT_ACME_ACCOUNT_DOES_NOT_EXIST, 0, "the kid is "
		    "not an account URL of this directory");
		return false;
	}
	id = kid + n + 6;
	if ((err = zt_acme_account_get(&cx->account, api_db(cx->req),
	    cx->tenant, id)) < 0) {
		if (err == ZT_ENOTFOUND)
			reply_prob(cx, ZT_ACME_ACCOUNT_DOES_NOT_EXIST, 0,
			    "no such account");
		else
			reply_internal(cx, err);
		return false;
	}
	cx->acct_id = json_string_value(json_object_get(cx->account, "id"));
	status = json_string_value(json_object_get(cx->account, "status"));
	if (strcmp(status, "valid") != 0) {
		reply_prob(cx, ZT_ACME_UNAUTHORIZED, 0, "the account is "
		    "deactivated");
		return false;
	}
	if (zt_acme_account_key(&cx->key, cx->account) < 0) {
		reply_internal(cx, ZT_ERR);
		return false;
	}
	return true;
}

/* Checks a POST's envelope; replies and returns false when it fails. */
static bool
acme_post(struct acme_cx *cx, enum key_mode mode)
{
	const char *ct = zt_req_header(cx->req, "Content-Type");
	enum zt_acme_prob prob = ZT_ACME_MALFORMED;
	const char *body;
	size_t len;
	int err;

	if (ct == NULL || strncmp(ct, "application/jose+json", 21) != 0 ||
	    (ct[21] != '\0' && ct[21] != ';' && ct[21] != ' ')) {
		reply_prob(cx, ZT_ACME_MALFORMED, 415, "the content type must "
		    "be application/jose+json");
		return false;
	}
	body = zt_req_body(cx->req, &len);
	if (zt_acme_jws_parse(&cx->jws, body, len, false, &prob) < 0) {
		reply_err(cx, prob);
		return false;
	}
	if (strcmp(cx->jws.url, cx->url) != 0) {
		reply_prob(cx, ZT_ACME_UNAUTHORIZED, 0, "the JWS url is not "
		    "the URL requested");
		return false;
	}
	if (cx->jws.kid && mode == KEY_JWK) {
		reply_prob(cx, ZT_ACME_MALFORMED, 0, "this request is signed "
		    "with a jwk, not a kid");
		return false;
	}
	if (cx->jws.jwk && mode == KEY_KID) {
		reply_prob(cx, ZT_ACME_MALFORMED, 0, "this request is signed "
		    "with an account's kid, not a jwk");
		return false;
	}
	if (cx->jws.kid) {
		if (!kid_account(cx))
			return false;
	} else if (zt_jose_key_from_jwk(&cx->key, cx->jws.jwk) < 0) {
		reply_err(cx, ZT_ACME_BAD_PUBLIC_KEY);
		return false;
	}
	if (zt_acme_jws_verify(&cx->jws, cx->key) < 0) {
		reply_prob(cx, ZT_ACME_MALFORMED, 0, "the JWS signature does "
		    "not verify");
		return false;
	}
	if ((err = zt_acme_nonce_use(api_db(cx->req), cx->jws.nonce)) < 0) {
		if (err == ZT_ENOTFOUND)
			reply_err(cx, ZT_ACME_BAD_NONCE);
		else
			reply_internal(cx, err);
		return false;
	}
	return true;
}

/* POST-as-GET: the payload must be empty (RFC 8555 6.3). */
static bool
acme_post_as_get(struct acme_cx *cx)
{
	if (cx->jws.jws.payload_len != 0) {
		reply_prob(cx, ZT_ACME_MALFORMED, 0, "this resource is read "
		    "with POST-as-GET: an empty payload");
		return false;
	}
	return true;
}

/* The resource `doc` (with an "account" member) belongs to the caller. */
static bool
owned(struct acme_cx *cx, json_t *doc)
{
	if (strcmp(json_string_value(json_object_get(doc, "account")),
	    cx->acct_id) != 0) {
		reply_prob(cx, ZT_ACME_UNAUTHORIZED, 0, "the resource belongs "
		    "to another account");
		return false;
	}
	return true;
}

static void
time_member(json_t *doc, const char *name, json_t *ms)
{
	char t[32];

	if (json_is_integer(ms)) {
		zt_time_format(t, (int64_t)json_integer_value(ms));
		json_object_set_new(doc, name, json_string(t));
	}
}

/* ---- rendering ---------------------------------------------------------- */

static json_t *
render_account(struct acme_cx *cx, json_t *acct)
{
	char orders[sizeof(cx->base) + 64];

	snprintf(orders, sizeof(orders), "%s/acct/%s/orders", cx->base,
	    json_string_value(json_object_get(acct, "id")));
	return json_pack("{s:O,s:O,s:s}", "status", json_object_get(acct,
	    "status"), "contact", json_object_get(acct, "contact"),
	    "orders", orders);
}

static json_t *
render_order(struct acme_cx *cx, json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *status = json_string_value(json_object_get(o, "status"));
	json_t *doc, *authzs = json_array(), *v;
	char url[sizeof(cx->base) + 64];
	size_t i;

	json_array_foreach(json_object_get(o, "authorizations"), i, v) {
		snprintf(url, sizeof(url), "%s/authz/%s", cx->base,
		    json_string_value(v));
		json_array_append_new(authzs, json_string(url));
	}
	snprintf(url, sizeof(url), "%s/order/%s/finalize", cx->base, id);
	doc = json_pack("{s:s,s:O,s:o,s:s}", "status", status,
	    "identifiers", json_object_get(o, "identifiers"),
	    "authorizations", authzs, "finalize", url);
	if (doc == NULL)
		return NULL;
	time_member(doc, "expires", json_object_get(o, "expires"));
	if (json_object_get(o, "error"))
		json_object_set(doc, "error", json_object_get(o, "error"));
	if (strcmp(status, "valid") == 0) {
		snprintf(url, sizeof(url), "%s/cert/%s", cx->base, id);
		json_object_set_new(doc, "certificate", json_string(url));
	}
	return doc;
}

static json_t *
render_chall(struct acme_cx *cx, json_t *c)
{
	char url[sizeof(cx->base) + 64];
	json_t *doc;

	snprintf(url, sizeof(url), "%s/chall/%s", cx->base,
	    json_string_value(json_object_get(c, "id")));
	doc = json_pack("{s:O,s:s,s:O,s:O}", "type", json_object_get(c,
	    "type"), "url", url, "token", json_object_get(c, "token"),
	    "status", json_object_get(c, "status"));
	if (doc == NULL)
		return NULL;
	time_member(doc, "validated", json_object_get(c, "validated"));
	if (json_object_get(c, "error"))
		json_object_set(doc, "error", json_object_get(c, "error"));
	return doc;
}

static json_t *
render_authz(struct acme_cx *cx, json_t *a)
{
	json_t *doc, *challs = json_array(), *v;
	size_t i;

	json_array_foreach(json_object_get(a, "challenges"), i, v)
		json_array_append_new(challs, render_chall(cx, v));
	doc = json_pack("{s:O,s:O,s:o}", "identifier", json_object_get(a,
	    "identifier"), "status", json_object_get(a, "status"),
	    "challenges", challs);
	if (doc)
		time_member(doc, "expires", json_object_get(a, "expires"));
	return doc;
}

/* ---- directory and nonces ----------------------------------------------- */

static void
acme_directory(zt_req *req)
{
	struct acme_cx cx;
	char u[5][sizeof(cx.base) + 32];

	if (!acme_begin(&cx, req))
		return;
	snprintf(u[0], sizeof(u[0]), "%s/new-nonce", cx.base);
	snprintf(u[1], sizeof(u[1]), "%s/new-account", cx.base);
	snprintf(u[2], sizeof(u[2]), "%s/new-order", cx.base);
	snprintf(u[3], sizeof(u[3]), "%s/revoke-cert", cx.base);
	snprintf(u[4], sizeof(u[4]), "%s/key-change", cx.base);
	zt_reply_json(req, 200, json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:b}}",
	    "newNonce", u[0], "newAccount", u[1], "newOrder", u[2],
	    "revokeCert", u[3], "keyChange", u[4], "meta",
	    "externalAccountRequired", 0));
	acme_end(&cx);
}

static void
acme_new_nonce(zt_req *req)
{
	struct acme_cx cx;

	if (!acme_begin(&cx, req))
		return;
	/* RFC 8555 7.2: 200 to HEAD, 204 to GET. */
	zt_reply_empty(req, zt_req_method(req) == ZT_HEAD ? 200 : 204);
	acme_end(&cx);
}

/* ---- accounts ----------------------------------------------------------- */

static void
acme_new_account(zt_req *req)
{
	enum zt_acme_prob prob = ZT_ACME_MALFORMED;
	char loc[sizeof(((struct acme_cx *)0)->base) + 64];
	json_t *pl, *acct = NULL, *contact = NULL;
	bool only = false, tos = false;
	struct acme_cx cx;
	int err;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_JWK))
		goto out;
	pl = cx.jws.payload;
	if (pl == NULL || (json_object_get(pl, "onlyReturnExisting") &&
	    !json_is_boolean(json_object_get(pl, "onlyReturnExisting"))) ||
	    (json_object_get(pl, "termsOfServiceAgreed") &&
	    !json_is_boolean(json_object_get(pl, "termsOfServiceAgreed")))) {
		reply_prob(&cx, ZT_ACME_MALFORMED, 0, "newAccount takes an "
		    "object with boolean onlyReturnExisting and "
		    "termsOfServiceAgreed");
		goto out;
	}
	only = json_is_true(json_object_get(pl, "onlyReturnExisting"));
	tos = json_is_true(json_object_get(pl, "termsOfServiceAgreed"));
	(void)tos;	/* no terms of service are published */
	contact = json_object_get(pl, "contact");
	if (json_object_get(pl, "externalAccountBinding")) {
		reply_prob(&cx, ZT_ACME_MALFORMED, 0, "external account "
		    "binding is not supported");
		goto out;
	}
	if (only) {
		char tp[ZT_JOSE_THUMBPRINT_LEN + 1];

		if (zt_jose_thumbprint(tp, cx.key) < 0 ||
		    zt_acme_account_by_key(&acct, api_db(req), cx.tenant,
		    tp) < 0) {
			reply_prob(&cx, ZT_ACME_ACCOUNT_DOES_NOT_EXIST, 0,
			    "no account has this key");
			goto out;
		}
		err = ZT_EEXISTS;
	} else {
		err = zt_acme_account_new(&acct, api_db(req), cx.tenant,
		    cx.jws.jwk, contact, &prob);
	}
	if (err < 0 && err != ZT_EEXISTS) {
		if (err == ZT_EINVAL)
			reply_err(&cx, prob);
		else
			reply_internal(&cx, err);
		goto out;
	}
	snprintf(loc, sizeof(loc), "%s/acct/%s", cx.base,
	    json_string_value(json_object_get(acct, "id")));
	if (err == 0)
		log_info("ACME account created", ZS("tenant", cx.tenant),
		    ZS("account", json_string_value(json_object_get(acct,
		    "id"))));
	reply_doc(&cx, err == ZT_EEXISTS ? 200 : 201, render_account(&cx,
	    acct), loc);
out:
	json_decref(acct);
	acme_end(&cx);
}

static void
acme_account(zt_req *req)
{
	enum zt_acme_prob prob = ZT_ACME_MALFORMED;
	json_t *pl, *acct = NULL, *status;
	struct acme_cx cx;
	bool deactivate = false;
	int err;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_KID))
		goto out;
	if (strcmp(zt_req_param(req, "id"), cx.acct_id) != 0) {
		reply_prob(&cx, ZT_ACME_UNAUTHORIZED, 0, "the kid is not this "
		    "account");
		goto out;
	}
	pl = cx.jws.payload;
	if (pl == NULL) {
		reply_doc(&cx, 200, render_account(&cx, cx.account), NULL);
		goto out;
	}
	if ((status = json_object_get(pl, "status")) != NULL) {
		if (!json_is_string(status) || strcmp(json_string_value(
		    status), "deactivated") != 0) {
			reply_prob(&cx, ZT_ACME_MALFORMED, 0, "an account's "
			    "status can only become \"deactivated\"");
			goto out;
		}
		deactivate = true;
	}
	if ((err = zt_acme_account_update(&acct, api_db(req), cx.tenant,
	    cx.acct_id, json_object_get(pl, "contact"), deactivate,
	    &prob)) < 0) {
		if (err == ZT_EINVAL)
			reply_err(&cx, prob);
		else
			reply_internal(&cx, err);
		goto out;
	}
	reply_doc(&cx, 200, render_account(&cx, acct), NULL);
out:
	json_decref(acct);
	acme_end(&cx);
}

static void
acme_account_orders(zt_req *req)
{
	json_t *ids = NULL, *urls, *v;
	char url[sizeof(((struct acme_cx *)0)->base) + 64];
	struct acme_cx cx;
	size_t i;
	int err;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_KID) || !acme_post_as_get(&cx))
		goto out;
	if (strcmp(zt_req_param(req, "id"), cx.acct_id) != 0) {
		reply_prob(&cx, ZT_ACME_UNAUTHORIZED, 0, "the kid is not this "
		    "account");
		goto out;
	}
	if ((err = zt_acme_account_orders(&ids, api_db(req), cx.tenant,
	    cx.acct_id, ORDERS_LIST_MAX)) < 0) {
		reply_internal(&cx, err);
		goto out;
	}
	urls = json_array();
	json_array_foreach(ids, i, v) {
		snprintf(url, sizeof(url), "%s/order/%s", cx.base,
		    json_string_value(v));
		json_array_append_new(urls, json_string(url));
	}
	reply_doc(&cx, 200, json_pack("{s:o}", "orders", urls), NULL);
out:
	json_decref(ids);
	acme_end(&cx);
}

/*
 * Key roll-over (RFC 8555 7.3.5): the outer JWS is the account's; its
 * payload is an inner JWS signed by the new key, naming the account and
 * the old key.
 */
static void
acme_key_change(zt_req *req)
{
	enum zt_acme_prob prob = ZT_ACME_MALFORMED;
	char tp[ZT_JOSE_THUMBPRINT_LEN + 1], other[ZT_ACME_ID_LEN + 1];
	char loc[sizeof(((struct acme_cx *)0)->base) + 64];
	zt_jose_key *newkey = NULL, *oldkey = NULL;
	const char *acct_url;
	zt_acme_jws inner;
	struct acme_cx cx;
	int err;

	memset(&inner, 0, sizeof(inner));
	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_KID))
		goto out;
	if (cx.jws.payload == NULL ||
	    zt_acme_jws_parse_json(&inner, cx.jws.payload, true, &prob) < 0) {
		reply_prob(&cx, prob, 0, "the keyChange payload is not a JWS");
		goto out;
	}
	if (inner.jwk == NULL || inner.nonce != NULL ||
	    strcmp(inner.url, cx.jws.url) != 0) {
		reply_prob(&cx, ZT_ACME_MALFORMED, 0, "the inner JWS needs a "
		    "jwk, the outer url and no nonce");
		goto out;
	}
	if (zt_jose_key_from_jwk(&newkey, inner.jwk) < 0) {
		reply_err(&cx, ZT_ACME_BAD_PUBLIC_KEY);
		goto out;
	}
	if (zt_acme_jws_verify(&inner, newkey) < 0) {
		reply_prob(&cx, ZT_ACME_MALFORMED, 0, "the inner JWS signature "
		    "does not verify");
		goto out;
	}
	acct_url = inner.payload ? json_string_value(json_object_get(
	    inner.payload, "account")) : NULL;
	if (acct_url == NULL || strcmp(acct_url, cx.jws.kid) != 0 ||
	    zt_jose_key_from_jwk(&oldkey, json_object_get(inner.payload,
	    "oldKey")) < 0 || zt_jose_thumbprint(tp, oldkey) < 0 ||
	    strcmp(tp, json_string_value(json_object_get(cx.account,
	    "thumbprint"))) != 0) {
		reply_prob(&cx, ZT_ACME_UNAUTHORIZED, 0, "the inner JWS must "
		    "name this account and its current key");
		goto out;
	}
	err = zt_acme_account_rekey(api_db(req), cx.tenant, cx.acct_id,
	    inner.jwk, other);
	if (err == ZT_EEXISTS) {
		snprintf(loc, sizeof(loc), "%s/acct/%s", cx.base, other);
		zt_reply_header(req, "Location", loc);
		reply_prob(&cx, ZT_ACME_MALFORMED, 409, "the new key already "
		    "has an account");
		goto out;
	}
	if (err < 0) {
		reply_internal(&cx, err);
		goto out;
	}
	log_info("ACME account key changed", ZS("tenant", cx.tenant),
	    ZS("account", cx.acct_id));
	reply_doc(&cx, 200, render_account(&cx, cx.account), NULL);
out:
	zt_acme_jws_free(&inner);
	zt_jose_key_free(newkey);
	zt_jose_key_free(oldkey);
	acme_end(&cx);
}

/* ---- orders ------------------------------------------------------------- */

static void
acme_new_order(zt_req *req)
{
	enum zt_acme_prob prob = ZT_ACME_MALFORMED;
	char loc[sizeof(((struct acme_cx *)0)->base) + 64];
	json_t *pl, *order = NULL;
	struct acme_cx cx;
	int err;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_KID))
		goto out;
	pl = cx.jws.payload;
	if (pl == NULL || json_object_get(pl, "identifiers") == NULL) {
		reply_prob(&cx, ZT_ACME_MALFORMED, 0, "newOrder needs "
		    "identifiers");
		goto out;
	}
	if (json_object_get(pl, "notBefore") ||
	    json_object_get(pl, "notAfter")) {
		reply_prob(&cx, ZT_ACME_MALFORMED, 0, "notBefore and notAfter "
		    "are not supported");
		goto out;
	}
	if ((err = zt_acme_order_new(&order, api_db(req), cx.tenant,
	    cx.acct_id, json_object_get(pl, "identifiers"), &prob)) < 0) {
		if (err == ZT_EINVAL)
			reply_err(&cx, prob);
		else
			reply_internal(&cx, err);
		goto out;
	}
	snprintf(loc, sizeof(loc), "%s/order/%s", cx.base,
	    json_string_value(json_object_get(order, "id")));
	reply_doc(&cx, 201, render_order(&cx, order), loc);
out:
	json_decref(order);
	acme_end(&cx);
}

/* Reads the order of the path for its owner; replies on failure. */
static json_t *
load_order(struct acme_cx *cx)
{
	json_t *o = NULL;
	int err;

	if ((err = zt_acme_order_get(&o, api_db(cx->req), cx->tenant,
	    zt_req_param(cx->req, "id"))) < 0) {
		if (err == ZT_ENOTFOUND)
			reply_prob(cx, ZT_ACME_MALFORMED, 404, "no such order");
		else
			reply_internal(cx, err);
		return NULL;
	}
	if (!owned(cx, o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void
acme_order(zt_req *req)
{
	struct acme_cx cx;
	json_t *o;

	if (!acme_begin(&cx, req))
		return;
	if (acme_post(&cx, KEY_KID) && acme_post_as_get(&cx) &&
	    (o = load_order(&cx)) != NULL) {
		reply_doc(&cx, 200, render_order(&cx, o), NULL);
		json_decref(o);
	}
	acme_end(&cx);
}

/* The order's names split into DNS names and IP addresses (borrowed). */
static void
order_names(json_t *o, const char **dns, size_t *ndns, const char **ips,
    size_t *nips)
{
	json_t *v;
	size_t i;

	*ndns = *nips = 0;
	json_array_foreach(json_object_get(o, "identifiers"), i, v) {
		const char *val = json_string_value(json_object_get(v,
		    "value"));

		if (strcmp(json_string_value(json_object_get(v, "type")),
		    "ip") == 0)
			ips[(*nips)++] = val;
		else
			dns[(*ndns)++] = val;
	}
}

/* Issues the certificate of a ready order from `der`; replies. */
static void
issue(struct acme_cx *cx, json_t *o, const uint8_t *der, size_t len)
{
	const char *dns[ZT_ACME_IDENTIFIERS_MAX], *ips[ZT_ACME_IDENTIFIERS_MAX];
	const char *names[2 * ZT_ACME_IDENTIFIERS_MAX];
	const char *id = json_string_value(json_object_get(o, "id"));
	char acct_url[sizeof(cx->base) + 64], loc[sizeof(cx->base) + 64];
	zt_ca_issued out = { .der = NULL };
	size_t ndns, nips, i;
	zt_buf chain = ZT_BUF_INIT(1 << 20);
	json_t *again = NULL;
	api_ca_caller who;
	zt_ca_request r;
	int err;

	order_names(o, dns, &ndns, ips, &nips);
	for (i = 0; i < ndns; i++)
		names[i] = dns[i];
	for (i = 0; i < nips; i++)
		names[ndns + i] = ips[i];
	snprintf(acct_url, sizeof(acct_url), "%s/acct/%s", cx->base,
	    cx->acct_id);
	who = (api_ca_caller){ .via = API_CA_ACME, .acme_account = acct_url,
	    .validated = names, .nvalidated = ndns + nips };
	r = (zt_ca_request){ .tenant = cx->tenant, .profile = ZT_CA_TLS_SERVER,
	    .dns = dns, .ndns = ndns, .ips = ips, .nips = nips,
	    .ttl = ACME_CERT_TTL_S };
	err = api_ca_issue(&out, cx->req, &who, &r, der, len);
	if (err < 0) {
		/* Refused: the order is ready again for a better CSR.  The
		 * reply says why, so keep the message over the abort. */
		char why[200];

		snprintf(why, sizeof(why), "%s", zt_error_msg());
		if (zt_acme_order_abort(api_db(cx->req), cx->tenant, id) < 0)
			log_warn("ACME order left processing", ZS("order", id),
			    ZS("error", zt_error_msg()));
		if (err == ZT_EINVAL || err == ZT_ETOOBIG)
			reply_prob(cx, ZT_ACME_BAD_CSR, 0, why);
		else if (err == ZT_EFORBIDDEN)
			reply_prob(cx, ZT_ACME_UNAUTHORIZED, 0, why);
		else {
			zt_error_set(err, "%s", why);
			reply_internal(cx, err);
		}
		return;
	}
	if ((err = zt_buf_adds(&chain, out.pem)) < 0 ||
	    (out.chain_pem && (err = zt_buf_adds(&chain, out.chain_pem)) < 0) ||
	    (err = zt_acme_order_set_cert(api_db(cx->req), cx->tenant, id,
	    out.serial, chain.data)) < 0 ||
	    (err = zt_acme_order_get(&again, api_db(cx->req), cx->tenant,
	    id)) < 0) {
		reply_internal(cx, err);
		goto out;
	}
	log_info("ACME certificate issued", ZS("tenant", cx->tenant),
	    ZS("order", id), ZS("serial", out.serial));
	snprintf(loc, sizeof(loc), "%s/order/%s", cx->base, id);
	reply_doc(cx, 200, render_order(cx, again), loc);
out:
	json_decref(again);
	zt_buf_free(&chain);
	zt_ca_issued_free(&out);
}

static void
acme_finalize(zt_req *req)
{
	enum zt_acme_prob prob = ZT_ACME_MALFORMED;
	struct acme_cx cx;
	const char *csr;
	uint8_t *der = NULL;
	json_t *o = NULL;
	long len;
	int err;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_KID) || (o = load_order(&cx)) == NULL)
		goto out;
	if (strcmp(json_string_value(json_object_get(o, "status")),
	    "ready") != 0) {
		reply_prob(&cx, ZT_ACME_ORDER_NOT_READY, 0, "the order is not "
		    "ready");
		goto out;
	}
	csr = cx.jws.payload ? json_string_value(json_object_get(
	    cx.jws.payload, "csr")) : NULL;
	if (csr == NULL || strlen(csr) > 2 * ZT_ACME_BODY_MAX) {
		reply_prob(&cx, ZT_ACME_MALFORMED, 0, "finalize needs a csr");
		goto out;
	}
	if ((der = malloc(strlen(csr) * 3 / 4 + 2)) == NULL) {
		reply_internal(&cx, ZT_ENOMEM);
		goto out;
	}
	if ((len = zt_b64url_decode(der, csr, strlen(csr))) <= 0) {
		reply_prob(&cx, ZT_ACME_BAD_CSR, 0, "the csr is not "
		    "base64url DER");
		goto out;
	}
	if (zt_acme_csr_match(der, (size_t)len, json_object_get(o,
	    "identifiers"), &prob) < 0) {
		reply_err(&cx, prob);
		goto out;
	}

	/* Only one finalize of an order issues: the others find it
	 * processing. */
	if ((err = zt_acme_order_begin(api_db(req), cx.tenant,
	    zt_req_param(req, "id"))) < 0) {
		if (err == ZT_ECONFLICT)
			reply_prob(&cx, ZT_ACME_ORDER_NOT_READY, 0, "the order "
			    "is not ready");
		else
			reply_internal(&cx, err);
		goto out;
	}
	issue(&cx, o, der, (size_t)len);
out:
	free(der);
	json_decref(o);
	acme_end(&cx);
}

static void
acme_cert(zt_req *req)
{
	struct acme_cx cx;
	char *pem = NULL;
	json_t *o;
	int err;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_KID) || !acme_post_as_get(&cx) ||
	    (o = load_order(&cx)) == NULL)
		goto out;
	json_decref(o);
	if ((err = zt_acme_order_cert(&pem, api_db(req), cx.tenant,
	    zt_req_param(req, "id"))) < 0) {
		if (err == ZT_ENOTFOUND)
			reply_prob(&cx, ZT_ACME_MALFORMED, 404, "no such "
			    "certificate");
		else
			reply_internal(&cx, err);
		goto out;
	}
	zt_reply(req, 200, "application/pem-certificate-chain", pem,
	    strlen(pem));
out:
	free(pem);
	acme_end(&cx);
}

/* ---- authorizations and challenges -------------------------------------- */

static void
acme_authz(zt_req *req)
{
	struct acme_cx cx;
	json_t *a = NULL;
	int err;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_KID) || !acme_post_as_get(&cx))
		goto out;
	if ((err = zt_acme_authz_get(&a, api_db(req), cx.tenant,
	    zt_req_param(req, "id"))) < 0) {
		if (err == ZT_ENOTFOUND)
			reply_prob(&cx, ZT_ACME_MALFORMED, 404, "no such "
			    "authorization");
		else
			reply_internal(&cx, err);
		goto out;
	}
	if (owned(&cx, a))
		reply_doc(&cx, 200, render_authz(&cx, a), NULL);
out:
	json_decref(a);
	acme_end(&cx);
}

static void validator_kick(zt_app *app);

static void
acme_chall(zt_req *req)
{
	char up[sizeof(((struct acme_cx *)0)->base) + 64];
	struct acme_cx cx;
	json_t *c = NULL;
	int err;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_KID))
		goto out;
	if ((err = zt_acme_chall_get(&c, api_db(req), cx.tenant,
	    zt_req_param(req, "id"))) < 0) {
		if (err == ZT_ENOTFOUND)
			reply_prob(&cx, ZT_ACME_MALFORMED, 404, "no such "
			    "challenge");
		else
			reply_internal(&cx, err);
		goto out;
	}
	if (!owned(&cx, c))
		goto out;

	/* An empty object says "go ahead"; an empty payload only reads. */
	if (cx.jws.payload) {
		if (json_object_size(cx.jws.payload) != 0) {
			reply_prob(&cx, ZT_ACME_MALFORMED, 0, "a challenge "
			    "response is an empty object");
			goto out;
		}
		json_decref(c);
		c = NULL;
		if ((err = zt_acme_chall_start(api_db(req), cx.tenant,
		    zt_req_param(req, "id"))) < 0 ||
		    (err = zt_acme_chall_get(&c, api_db(req), cx.tenant,
		    zt_req_param(req, "id"))) < 0) {
			reply_internal(&cx, err);
			goto out;
		}
		validator_kick(zt_req_app(req));
	}
	snprintf(up, sizeof(up), "<%s/authz/%s>;rel=\"up\"", cx.base,
	    json_string_value(json_object_get(c, "authz")));
	zt_reply_header(req, "Link", up);
	reply_doc(&cx, 200, render_chall(&cx, c), NULL);
out:
	json_decref(c);
	acme_end(&cx);
}

/* ---- revocation --------------------------------------------------------- */

/* The serial as the inventory writes it: lowercase hex, no leading
 * zeros. */
static bool
serial_hex(X509 *x, char out[ZT_CA_SERIAL_HEX])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL, *p;
	bool ok = false;

	if (hex && strlen(hex) < ZT_CA_SERIAL_HEX) {
		for (p = hex; *p == '0' && p[1]; p++)
			;
		snprintf(out, ZT_CA_SERIAL_HEX, "%s", p);
		for (p = out; *p; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
		ok = true;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return ok;
}

static bool
reason_ok(json_t *r, int *reason)
{
	json_int_t v;

	if (r == NULL) {
		*reason = 0;
		return true;
	}
	if (!json_is_integer(r))
		return false;
	v = json_integer_value(r);
	/* RFC 5280 codes a subscriber may give: not cACompromise (2), not
	 * certificateHold (6, no un-revoking here), not the unused 7. */
	if (v < 0 || v > 9 || v == 2 || v == 6 || v == 7 || v == 8)
		return false;
	*reason = (int)v;
	return true;
}

static void
acme_revoke(zt_req *req)
{
	char serial[ZT_CA_SERIAL_HEX], acct_url[sizeof(
	    ((struct acme_cx *)0)->base) + 64];
	const unsigned char *p;
	const char *b64;
	struct acme_cx cx;
	uint8_t *der = NULL;
	json_t *o = NULL;
	X509 *x = NULL;
	zt_actor actor;
	int reason, err;
	long len;

	if (!acme_begin(&cx, req))
		return;
	if (!acme_post(&cx, KEY_EITHER))
		goto out;
	b64 = cx.jws.payload ? json_string_value(json_object_get(
	    cx.jws.payload, "certificate")) : NULL;
	if (b64 == NULL || strlen(b64) > 2 * ZT_ACME_BODY_MAX ||
	    (der = malloc(strlen(b64) * 3 / 4 + 2)) == NULL ||
	    (len = zt_b64url_decode(der, b64, strlen(b64))) <= 0 ||
	    (p = der, x = d2i_X509(NULL, &p, len)) == NULL ||
	    p != der + len || !serial_hex(x, serial)) {
		reply_prob(&cx, ZT_ACME_MALFORMED, 0, "revokeCert needs a "
		    "base64url DER certificate");
		goto out;
	}
	if (!reason_ok(json_object_get(cx.jws.payload, "reason"), &reason)) {
		reply_prob(&cx, ZT_ACME_BAD_REVOCATION_REASON, 0, "the reason "
		    "is not one a subscriber may give");
		goto out;
	}

	/* Who may: the account that ordered it, or the certificate's key. */
	if (cx.jws.kid) {
		if (zt_acme_order_by_serial(&o, api_db(req), cx.tenant,
		    serial) < 0 || strcmp(json_string_value(json_object_get(o,
		    "account")), cx.acct_id) != 0) {
			reply_prob(&cx, ZT_ACME_UNAUTHORIZED, 0, "this account "
			    "did not order the certificate");
			goto out;
		}
		snprintf(acct_url, sizeof(acct_url), "%s", cx.jws.kid);
	} else {
		if (EVP_PKEY_eq(X509_get0_pubkey(x),
		    zt_jose_key_pkey(cx.key)) != 1) {
			reply_prob(&cx, ZT_ACME_UNAUTHORIZED, 0, "the JWS key "
			    "is not the certificate's");
			goto out;
		}
		snprintf(acct_url, sizeof(acct_url), "acme-certificate-key");
	}
	actor = (zt_actor){ acct_url, cx.tenant, zt_req_id(req) };
	err = zt_ca_revoke_serial(api_db(req), &actor, cx.tenant, serial,
	    reason);
	if (err == ZT_ECONFLICT)
		reply_prob(&cx, ZT_ACME_ALREADY_REVOKED, 0, "the certificate "
		    "is already revoked");
	else if (err == ZT_ENOTFOUND)
		reply_prob(&cx, ZT_ACME_UNAUTHORIZED, 0, "the certificate was "
		    "not issued under this directory's tenant");
	else if (err < 0)
		reply_internal(&cx, err);
	else
		zt_reply_empty(req, 200);
out:
	X509_free(x);
	free(der);
	json_decref(o);
	acme_end(&cx);
}

/* ---- the validator thread ----------------------------------------------- */

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool kicked;
	bool running;
	zt_acme_validation cfg;
	const char *db_url;
} validator = { .once = PTHREAD_ONCE_INIT,
    .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void
validator_round(zt_db *db)
{
	zt_acme_job jobs[VALIDATOR_BATCH];
	enum zt_acme_prob prob;
	size_t n, i;
	int err;

	if (zt_acme_jobs_claim(db, jobs, VALIDATOR_BATCH, &n) < 0) {
		log_warn("ACME validator cannot read challenges",
		    ZS("error", zt_error_msg()));
		return;
	}
	for (i = 0; i < n; i++) {
		prob = ZT_ACME_SERVER_INTERNAL;
		err = zt_acme_validate(&validator.cfg, &jobs[i], &prob);
		log_info("ACME validation", ZS("tenant", jobs[i].tenant),
		    ZS("challenge", jobs[i].id), ZS("type", jobs[i].type),
		    ZS("identifier", jobs[i].value), ZB("ok", err == 0),
		    ZS("detail", err < 0 ? zt_error_msg() : ""),
		    ZI("attempt", jobs[i].attempts + 1));
		if (zt_acme_job_done(db, &jobs[i], err == 0,
		    err == ZT_EUNAVAIL, prob, err < 0 ? zt_error_msg() :
		    NULL) < 0)
			log_warn("ACME validator cannot record a result",
			    ZS("error", zt_error_msg()));
	}
}

static void *
validator_main(void *arg)
{
	zt_db *db = NULL;
	struct timespec ts;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&validator.lock);
		if (!validator.kicked) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += VALIDATOR_IDLE_MS / 1000;
			pthread_cond_timedwait(&validator.wake,
			    &validator.lock, &ts);
		}
		validator.kicked = false;
		pthread_mutex_unlock(&validator.lock);
		if (db == NULL && zt_db_open(&db, validator.db_url) < 0) {
			log_warn("ACME validator cannot open the database",
			    ZS("error", zt_error_msg()));
			db = NULL;
			continue;
		}
		validator_round(db);
	}
	return NULL;
}

static zt_app *validator_app;

static void
validator_start(void)
{
	zt_app *app = validator_app;
	pthread_t t;

	validator.cfg = (zt_acme_validation){
	    .http01_port = app->acme_http01_port ? app->acme_http01_port : 80,
	    .tlsalpn01_port = app->acme_tlsalpn01_port ?
	    app->acme_tlsalpn01_port : 443,
	    .resolve = app->acme_resolve };
	validator.db_url = app->db_url;
	if (pthread_create(&t, NULL, validator_main, NULL) != 0) {
		log_error("cannot start the ACME validator");
		return;
	}
	pthread_detach(t);
	validator.running = true;
	if (app->acme_resolve)
		log_warn("ACME validation resolves every name to a test "
		    "address", ZS("address", app->acme_resolve));
}

/* Starts the validator on first use and wakes it. */
static void
validator_kick(zt_app *app)
{
	validator_app = app;
	pthread_once(&validator.once, validator_start);
	pthread_mutex_lock(&validator.lock);
	validator.kicked = true;
	pthread_cond_signal(&validator.wake);
	pthread_mutex_unlock(&validator.lock);
}

/* ---- routes ------------------------------------------------------------- */

#define A "/acme/{tenant}"

int
api_acme_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
		{ ZT_GET, A "/directory", acme_directory, "acme.directory" },
		{ ZT_GET | ZT_HEAD, A "/new-nonce", acme_new_nonce,
		  "acme.new_nonce" },
		{ ZT_POST, A "/new-account", acme_new_account,
		  "acme.new_account" },
		{ ZT_POST, A "/acct/{id}", acme_account, "acme.account" },
		{ ZT_POST, A "/acct/{id}/orders", acme_account_orders,
		  "acme.account_orders" },
		{ ZT_POST, A "/key-change", acme_key_change,
		  "acme.key_change" },
		{ ZT_POST, A "/new-order", acme_new_order, "acme.new_order" },
		{ ZT_POST, A "/order/{id}", acme_order, "acme.order" },
		{ ZT_POST, A "/order/{id}/finalize", acme_finalize,
		  "acme.finalize" },
		{ ZT_POST, A "/authz/{id}", acme_authz, "acme.authz" },
		{ ZT_POST, A "/chall/{id}", acme_chall, "acme.chall" },
		{ ZT_POST, A "/cert/{id}", acme_cert, "acme.cert" },
		{ ZT_POST, A "/revoke-cert", acme_revoke, "acme.revoke" },
	};
	size_t i;
	int err;

	/* ACME authenticates by JWS, not by ztiam tokens. */
	for (i = 0; i < ZT_ARRAY_LEN(routes); i++)
		if ((err = zt_http_route(srv, routes[i].methods,
		    routes[i].pattern, routes[i].fn, routes[i].name,
		    ZT_ROUTE_PUBLIC)) < 0)
			return err;
	return ZT_OK;
}
