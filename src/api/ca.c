/*
 * The certificate center served: the trust domain's CA loaded (or made on
 * its first use) with its keys sealed by the keys module, the issuance
 * gate with the server's rules, and the routes that issue, renew, revoke
 * and list certificates and publish the bundle, CRLs and OCSP answers.
 *
 * The CA is a root and an online intermediate that signs.  Both keys live
 * in signing_keys, sealed under the master key: scope "ca:<td>/root" and
 * "ca:<td>/intermediate", each row's public document holding the
 * certificate in PEM.  A retired intermediate stays loaded so that OCSP
 * and its CRL keep answering for what it signed.  docs/ca.md has the
 * operations; docs/api.md the routes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "api/api_int.h"
#include "base/base.h"

/* Root and intermediate lifetimes made at first use. */
#define ROOT_TTL_S (10LL * 365 * 86400)
#define INTERMEDIATE_TTL_S (365LL * 86400)
/* A CRL is valid an hour and made again after half of that, or at once
 * when the revocation epoch moved. */
#define CRL_VALIDITY_S 3600
/* Each worker reads the revocation epoch at most this often; a
 * revocation made on this node is seen at once (local_epoch). */
#define EPOCH_POLL_MS 1000
/* Intermediates loaded: the active one, a prepared and retired ones;
 * roots likewise. */
#define CA_MAX 8
#define BUNDLE_REFRESH_S 300
/* Each worker reads the CA generation at most this often, so a rotation
 * or an import made by another node is loaded within about a second. */
#define GENERATION_POLL_MS 1000
/* JWT-SVIDs live 5 minutes by default and an hour at most (ca/jwt.c);
 * a retired JWT-SVID key stays in the bundle that long. */
#define JWT_MAX_TTL_S 3600

struct crl_cache {
	uint8_t *der;
	size_t len;
	int64_t epoch;		/* the revocation epoch it reflects */
	int64_t made;		/* ms */
};

struct ca_entry {
	zt_ca *ca;
	char state[16];		/* "active", "prepared", "retired" */
	struct crl_cache crl;
};

/* One of our roots: the active one, a prepared one (published, signing
 * nothing yet) and retired ones (published while a certificate below
 * them is valid). */
struct root_entry {
	X509 *cert;
	char kid[ZT_CA_KEY_ID_MAX + 1];
	char state[16];
	int64_t keep_until;	/* retired: the last expiry below it, ms */
};

struct api_ca_state {
	pthread_mutex_t lock;	/* the CRL caches and the bundle */
	struct ca_entry cas[CA_MAX];
	size_t ncas;
	zt_ca *active;
	X509 *root;		/* the active root */
	struct root_entry roots[CA_MAX];
	size_t nroots;
	/* The served JWKS and the keys it was made from: made again, with
	 * the next spiffe_sequence, when the keys to publish change. */
	json_t *bundle;
	json_t *bundle_keys;
	int64_t generation;	/* the CA generation this state was read at */
	_Atomic int64_t local_epoch;
	const zt_app *app;
	/* Roots published in the bundle: ours, and an upstream CA's when an
	 * intermediate it signed is active or prepared. */
	zt_ca_anchor anchors[CA_MAX + 1];
	size_t nanchors;
	/* The state this one replaced (after a rotation or an import), kept
	 * until the server stops: a worker may still be using it. */
	struct api_ca_state *prev;
};

/* This worker's view of the revocation epoch. */
static _Thread_local int64_t tl_epoch = -1, tl_epoch_at, tl_local = -1;
/* When this worker last read the CA generation. */
static _Thread_local int64_t tl_gen_at;

/* The intermediate key held in a PKCS#11 token (--ca-key-uri), loaded at
 * start; NULL when the CA keys are all sealed in the database. */
static EVP_PKEY *token_key;
static char token_kid[ZT_CA_KEY_ID_MAX + 1];

/* What the gate needs beyond zt_ca_request: set around each issuance on
 * the issuing thread (the gate runs synchronously inside zt_ca_issue). */
struct gate_ctx {
	zt_req *req;
	const api_ca_caller *who;
};
static _Thread_local const struct gate_ctx *tl_gate;

static const zt_actor system_actor = { "system", NULL, NULL };

static int ca_first_use(zt_app *app, zt_db *db);
static int state_reload(zt_app *app, zt_db *db, bool bump, int64_t gen);

/* Loads the CA again when another node changed it: the generation is
 * read at most once per GENERATION_POLL_MS on each worker. */
static void
generation_check(zt_app *app, zt_db *db, struct api_ca_state *st)
{
	int64_t now = zt_now_ms(), gen;

	if (now - tl_gen_at < GENERATION_POLL_MS)
		return;
	tl_gen_at = now;
	if (zt_ca_generation(db, app->identity.trust_domain, &gen) < 0) {
		log_warn("cannot read the CA generation", ZS("error",
		    zt_error_msg()));
		return;
	}
	if (gen != st->generation && state_reload(app, db, false, gen) < 0)
		log_error("cannot load the changed CA", ZS("error",
		    zt_error_msg()));
}

/* The current state; a rotation replaces it while workers read it.  A
 * server that has no CA yet makes it here, at its first use. */
static struct api_ca_state *
state_of(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	struct api_ca_state *st = __atomic_load_n(&app->ca, __ATOMIC_ACQUIRE);

	if (st == NULL && ca_first_use(app, api_db(req)) == ZT_OK)
		st = __atomic_load_n(&app->ca, __ATOMIC_ACQUIRE);
	else if (st != NULL) {
		generation_check(app, api_db(req), st);
		st = __atomic_load_n(&app->ca, __ATOMIC_ACQUIRE);
	}
	return st;
}

zt_ca *
api_ca(zt_req *req)
{
	struct api_ca_state *st = state_of(req);

	return st ? st->active : NULL;
}

/* ---- loading and making the CA ------------------------------------------- */

static void
scope_name(char *out, size_t n, const char *td, const char *role)
{
	snprintf(out, n, "ca:%s/%s", td, role);
}

static EVP_PKEY *
key_from_pkcs8(const zt_buf *der)
{
	const unsigned char *p = (const unsigned char *)der->data;
	PKCS8_PRIV_KEY_INFO *p8;
	EVP_PKEY *k = NULL;

	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der->len)) != NULL)
		k = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return k;
}

static X509 *
cert_from_doc(json_t *doc)
{
	const char *pem = json_string_value(json_object_get(doc, "cert"));
	X509 *x = NULL;
	BIO *b;

	if (pem == NULL || (b = BIO_new_mem_buf(pem, -1)) == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/*
 * Seals `key` and stores it with `cert` as the `state` key of `scope`.
 * A key held in a PKCS#11 token (`uri` set) cannot be read out: its row
 * keeps the URI in the public document, the public key in place of the
 * sealed private one, and "x509-ca-pkcs11" as its label.
 */
static int
ca_key_store(zt_db *db, const zt_master_key *mk, const char *scope,
    const char *kid, const char *state, EVP_PKEY *key, X509 *cert,
    const char *csr, const char *uri)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	char *pem = NULL, *doc = NULL;
	json_t *j;
	int len = 0, err = ZT_ERR;

	if (uri)
		len = i2d_PUBKEY(key, &der);
	else if ((p8 = EVP_PKEY2PKCS8(key)) != NULL)
		len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	if (len <= 0 || (cert && (pem = zt_ca_x509_pem(cert)) == NULL)) {
		err = zt_error_set(ZT_ERR, "cannot encode the CA key");
		goto out;
	}
	/* A key waiting for an upstream CA keeps its CSR instead. */
	j = cert ? json_pack("{s:s, s:s*}", "cert", pem, "key_uri", uri) :
	    json_pack("{s:s}", "csr", csr);
	doc = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (doc == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	err = zt_keys_store_sealed(db, mk, &system_actor, scope, kid,
	    uri ? "x509-ca-pkcs11" : "x509-ca", state, doc, der,
	    (size_t)len);
out:
	if (der) {
		zt_wipe(der, (size_t)len);
		OPENSSL_free(der);
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	free(pem);
	free(doc);
	return err;
}

/* A CA key's id: "ca-" and the first 16 bytes of the SHA-256 of its
 * SubjectPublicKeyInfo, in hex (a key pending an upstream signature has
 * no certificate yet, so the id comes from the key alone). */
static int
key_kid(char kid[ZT_CA_KEY_ID_MAX + 1], EVP_PKEY *key)
{
	uint8_t hash[ZT_SHA256_LEN];
	unsigned char *der = NULL;
	int len;

	if ((len = i2d_PUBKEY(key, &der)) <= 0)
		return zt_error_set(ZT_ERR, "cannot encode the CA key");
	zt_sha256(hash, der, (size_t)len);
	OPENSSL_free(der);
	memcpy(kid, "ca-", 3);
	zt_hex_encode(kid + 3, hash, 16);
	return ZT_OK;
}

/* The first use: a root and an intermediate, stored active; the
 * intermediate's key is the token's with --ca-key-uri.  A second node
 * racing this one loses on the unique index and loads the winner's. */
static int
ca_create(zt_db *db, const zt_app *app, const char *td)
{
	const zt_master_key *mk = app->master_key;
	char scope[ZT_KEYS_SCOPE_MAX + 1], kid[ZT_CA_KEY_ID_MAX + 1];
	EVP_PKEY *rk = NULL, *ik = NULL;
	X509 *root = NULL, *inter = NULL;
	int err;

	if (token_key && EVP_PKEY_up_ref(token_key))
		ik = token_key;
	if ((err = zt_ca_key_generate(&rk, ZT_CA_KEY_P256)) < 0 ||
	    (ik == NULL && (err = zt_ca_key_generate(&ik,
	    ZT_CA_KEY_P256)) < 0) ||
	    (err = zt_ca_root_create(&root, rk, td, ROOT_TTL_S)) < 0 ||
	    (err = zt_ca_intermediate_create(&inter, root, rk, ik, td,
	    INTERMEDIATE_TTL_S, false)) < 0)
		goto out;
	scope_name(scope, sizeof(scope), td, "root");
	if ((err = key_kid(kid, rk)) < 0 ||
	    (err = ca_key_store(db, mk, scope, kid, "active", rk, root,
	    NULL, NULL)) < 0)
		goto out;
	scope_name(scope, sizeof(scope), td, "intermediate");
	if ((err = key_kid(kid, ik)) < 0 ||
	    (err = ca_key_store(db, mk, scope, kid, "active", ik, inter,
	    NULL, ik == token_key ? app->ca_key_uri : NULL)) < 0)
		goto out;
	log_info("CA created", ZS("trust_domain", td), ZS("key_id", kid));
out:
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	X509_free(root);
	X509_free(inter);
	return err;
}

static void gate(void *arg, const zt_ca_request *r, zt_ca_decision *out);

/* Every certificate of a PEM text, in order; NULL when there is none. */
static STACK_OF(X509) *
chain_from_pem(const char *pem)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x;

	while (sk && b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		if (!sk_X509_push(sk, x))
			X509_free(x);
	ERR_clear_error();
	BIO_free(b);
	if (sk && sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		sk = NULL;
	}
	return sk;
}

static void
url_join(char **out, const char *base, const char *path, const char *kid)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if (asprintf(out, "%.*s%s%s", (int)n, base, path, kid) < 0)
		*out = NULL;
}

/* Whether the certificate of a key row's document is for the key this
 * server opened in its token.  Rows are matched by key, not kid: after
 * a root rotation the same token key has a certificate per root. */
static bool
token_holds(json_t *doc)
{
	X509 *x = cert_from_doc(doc);
	bool yes = token_key && x && EVP_PKEY_eq(X509_get0_pubkey(x),
	    token_key) == 1;

	X509_free(x);
	return yes;
}

/* The root of ours that issued `cert`; the active one when none did. */
static X509 *
issuing_root(const struct api_ca_state *st, X509 *cert)
{
	size_t i;

	for (i = 0; i < st->nroots; i++)
		if (X509_check_issued(st->roots[i].cert, cert) == X509_V_OK)
			return st->roots[i].cert;
	return st->root;
}

/* Makes the zt_ca of one intermediate row of zt_keys_list. */
static int
ca_entry_load(struct api_ca_state *st, zt_db *db, const zt_master_key *mk,
    const char *scope, json_t *row)
{
	const char *kid = json_string_value(json_object_get(row, "kid"));
	const char *state = json_string_value(json_object_get(row, "state"));
	const zt_app *app = st->app;
	zt_buf der = ZT_BUF_INIT(16384);
	STACK_OF(X509) *chain = NULL;
	char *crl_url = NULL, *ocsp_url = NULL;
	struct ca_entry *e;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int err;

	json_t *doc = json_object_get(row, "public_jwk");
	const char *up = json_string_value(json_object_get(doc, "chain"));
	int64_t last = 0;

	/* A key still waiting for its upstream certificate does not sign. */
	if (st->ncas == CA_MAX || kid == NULL || state == NULL ||
	    json_object_get(doc, "cert") == NULL)
		return ZT_OK;
	/* A retired intermediate is needed until its last certificate
	 * expires: OCSP and its CRL answer for what it signed. */
	if (strcmp(state, "retired") == 0 && ((err =
	    zt_ca_issuer_last_expiry(db, kid, &last)) < 0 ||
	    last <= zt_now_ms()))
		return err < 0 ? err : ZT_OK;
	e = &st->cas[st->ncas];
	if (json_object_get(doc, "key_uri") != NULL) {
		/* In a token: usable only through the key this server
		 * opened (--ca-key-uri), and only if it is that key. */
		if (!token_holds(doc)) {
			if (strcmp(state, "retired") == 0) {
				log_warn("a retired CA key is in a PKCS#11 "
				    "token this server did not open",
				    ZS("key_id", kid));
				return ZT_OK;
			}
			return zt_error_set(ZT_EUNAVAIL, "CA key %s is held "
			    "in a PKCS#11 token: start the server with "
			    "--ca-key-uri naming it", kid);
		}
		if (EVP_PKEY_up_ref(token_key))
			key = token_key;
	} else {
		if ((err = zt_keys_load_sealed(&der, db, mk, scope, kid)) < 0)
			goto out;
		key = key_from_pkcs8(&der);
	}
	cert = cert_from_doc(doc);
	chain = up ? chain_from_pem(up) : sk_X509_new_null();
	if (key == NULL || cert == NULL || chain == NULL) {
		err = zt_error_set(ZT_ERR, "CA key %s does not load", kid);
		goto out;
	}
	/* Our own intermediate: the chain ends at the root that signed it
	 * (after a root rotation, not always the active one). */
	if (up == NULL) {
		X509 *r = issuing_root(st, cert);

		if (!sk_X509_push(chain, r) || !X509_up_ref(r)) {
			err = zt_error_set(ZT_ENOMEM, "out of memory");
			goto out;
		}
	}
	/* An upstream root is published while its intermediate signs or
	 * is about to, and once retired until what it signed expires. */
	if (up && st->nanchors <= CA_MAX) {
		X509 *r = sk_X509_value(chain, sk_X509_num(chain) - 1);

		X509_up_ref(r);
		st->anchors[st->nanchors++] = (zt_ca_anchor){ r,
		    strcmp(state, "active") == 0 ? ZT_CA_ACTIVE :
		    strcmp(state, "prepared") == 0 ? ZT_CA_PREPARED :
		    ZT_CA_RETIRED, last };
	}
	if (app->public_url) {
		url_join(&crl_url, app->public_url, "/ca/crl/", kid);
		url_join(&ocsp_url, app->public_url, "/ca/ocsp", "");
	}
	err = zt_ca_new(&e->ca, &(zt_ca_config){
	    .trust_domain = app->identity.trust_domain,
	    .key_id = kid,
	    .crl_url = crl_url,
	    .ocsp_url = ocsp_url,
	    .gate = gate,
	    .gate_arg = st,
	}, cert, key, chain);
	if (err == ZT_OK) {
		snprintf(e->state, sizeof(e->state), "%s", state);
		if (strcmp(state, "active") == 0)
			st->active = e->ca;
		st->ncas++;
	}
out:
	free(crl_url);
	free(ocsp_url);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	X509_free(cert);
	if (der.data)
		zt_wipe(der.data, der.len);
	zt_buf_free(&der);
	return err;
}

/*
 * The last expiry below a retired root: the latest notAfter of the
 * certificates signed by the intermediates it issued (ms, 0: none).
 * Those intermediates stay loaded, and the root published, until then.
 */
static int
root_last_expiry(zt_db *db, X509 *root, json_t *ints, int64_t *last)
{
	json_t *row;
	size_t i;
	int err = ZT_OK;

	*last = 0;
	json_array_foreach(ints, i, row) {
		X509 *x = cert_from_doc(json_object_get(row, "public_jwk"));
		int64_t t = 0;

		if (x && X509_check_issued(root, x) == X509_V_OK)
			err = zt_ca_issuer_last_expiry(db, json_string_value(
			    json_object_get(row, "kid")), &t);
		X509_free(x);
		if (err < 0)
			return err;
		if (t > *last)
			*last = t;
	}
	return ZT_OK;
}

/* Our roots: the active one, a prepared one, and the retired ones, each
 * published in the bundle while it covers a valid certificate. */
static int
roots_load(struct api_ca_state *st, zt_db *db, json_t *roots, json_t *ints)
{
	int64_t now = zt_now_ms();
	json_t *row;
	size_t i;
	int err;

	json_array_foreach(roots, i, row) {
		const char *state = json_string_value(json_object_get(row,
		    "state"));
		struct root_entry *r = &st->roots[st->nroots];
		zt_ca_anchor a = { NULL, ZT_CA_ACTIVE, 0 };

		if (st->nroots == CA_MAX || state == NULL)
			break;
		if ((r->cert = cert_from_doc(json_object_get(row,
		    "public_jwk"))) == NULL)
			continue;
		snprintf(r->kid, sizeof(r->kid), "%s", json_string_value(
		    json_object_get(row, "kid")));
		snprintf(r->state, sizeof(r->state), "%s", state);
		st->nroots++;
		if (strcmp(state, "active") == 0) {
			st->root = r->cert;
			X509_up_ref(st->root);
		} else if (strcmp(state, "prepared") == 0) {
			a.state = ZT_CA_PREPARED;
		} else {
			if ((err = root_last_expiry(db, r->cert, ints,
			    &r->keep_until)) < 0)
				return err;
			if (r->keep_until <= now)
				continue;
			a = (zt_ca_anchor){ NULL, ZT_CA_RETIRED,
			    r->keep_until };
		}
		a.cert = r->cert;
		X509_up_ref(a.cert);
		st->anchors[st->nanchors++] = a;
	}
	return ZT_OK;
}

static int
ca_load(struct api_ca_state *st, zt_db *db, const zt_master_key *mk,
    const char *td)
{
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	json_t *roots = NULL, *ints = NULL, *row;
	size_t i;
	int err;

	scope_name(scope, sizeof(scope), td, "root");
	if ((err = zt_keys_list(db, scope, &roots)) < 0)
		goto out;
	scope_name(scope, sizeof(scope), td, "intermediate");
	if ((err = zt_keys_list(db, scope, &ints)) < 0 ||
	    (err = roots_load(st, db, roots, ints)) < 0)
		goto out;
	if (st->root == NULL) {
		err = zt_error_set(ZT_ENOTFOUND, "no CA root for %s", td);
		goto out;
	}
	json_array_foreach(ints, i, row)
		if ((err = ca_entry_load(st, db, mk, scope, row)) < 0)
			goto out;
	if (st->active == NULL)
		err = zt_error_set(ZT_ENOTFOUND, "no active CA for %s", td);
out:
	json_decref(roots);
	json_decref(ints);
	return err;
}

/* The JWT-SVID keys' scope and what the keys module needs to know. */
static void
jwt_scope(char *out, size_t n, const char *td)
{
	snprintf(out, n, "jwt-svid:%s", td);
}

static const zt_keys_policy jwt_policy = {
	.alg = ZT_JOSE_ES256,
	.max_token_lifetime_s = JWT_MAX_TTL_S,
};

/*
 * The keys the bundle publishes now: one "x509-svid" key per root that
 * is published (prepared, active, retired while it covers a certificate)
 * and one "jwt-svid" key, with its kid, per JWT-SVID key of the keys
 * module's scope "jwt-svid:<td>" (prepared, active, retired until every
 * token it signed expired).  The first JWT-SVID key is made here, so it
 * is in the bundle before it signs anything.
 */
static int
bundle_keys(json_t **out, struct api_ca_state *st, zt_db *db)
{
	const zt_app *app = st->app;
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	json_t *doc = NULL, *jwks = NULL, *keys, *k;
	size_t i;
	int err;

	jwt_scope(scope, sizeof(scope), app->identity.trust_domain);
	if ((err = zt_ca_bundle_json(&doc, st->anchors, st->nanchors, 0, 0,
	    zt_now_ms())) < 0 ||
	    (err = zt_keys_ensure(db, app->master_key, &system_actor, scope,
	    &jwt_policy)) < 0 ||
	    (err = zt_keys_jwks(db, scope, &jwks)) < 0)
		goto out;
	keys = json_object_get(doc, "keys");
	json_array_foreach(json_object_get(jwks, "keys"), i, k) {
		json_object_set_new(k, "use", json_string("jwt-svid"));
		json_array_append(keys, k);
	}
	*out = json_incref(keys);
out:
	json_decref(doc);
	json_decref(jwks);
	return err;
}

/* The bundle as served, into *out (a new reference): made again, with
 * the next spiffe_sequence, when the keys to publish changed. */
static int
bundle_current(json_t **out, struct api_ca_state *st, zt_db *db)
{
	json_t *keys = NULL;
	int64_t seq;
	int err;

	if ((err = bundle_keys(&keys, st, db)) < 0)
		return err;
	pthread_mutex_lock(&st->lock);
	if (st->bundle == NULL || !json_equal(keys, st->bundle_keys)) {
		if ((err = zt_ca_bundle_sequence_next(db,
		    st->app->identity.trust_domain, &seq)) == ZT_OK) {
			json_decref(st->bundle);
			json_decref(st->bundle_keys);
			st->bundle_keys = json_incref(keys);
			st->bundle = json_pack("{s:O, s:I, s:I}", "keys", keys,
			    "spiffe_sequence", (json_int_t)seq,
			    "spiffe_refresh_hint",
			    (json_int_t)BUNDLE_REFRESH_S);
		}
	}
	if (err == ZT_OK && st->bundle == NULL)
		err = zt_error_set(ZT_ENOMEM, "out of memory");
	*out = err == ZT_OK ? json_incref(st->bundle) : NULL;
	pthread_mutex_unlock(&st->lock);
	json_decref(keys);
	return err;
}

static void
state_free(struct api_ca_state *st)
{
	size_t i;

	if (st == NULL)
		return;
	state_free(st->prev);
	for (i = 0; i < st->ncas; i++) {
		zt_ca_free(st->cas[i].ca);
		free(st->cas[i].crl.der);
	}
	for (i = 0; i < st->nanchors; i++)
		X509_free(st->anchors[i].cert);
	for (i = 0; i < st->nroots; i++)
		X509_free(st->roots[i].cert);
	X509_free(st->root);
	json_decref(st->bundle);
	json_decref(st->bundle_keys);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* A new state loaded from `db`: the CA, its retired predecessors and the
 * anchors of the bundle.  ZT_ENOTFOUND when the trust domain has no CA
 * yet.  The generation is read first, so a change made while this loads
 * is loaded again at the next check. */
static int
state_build(struct api_ca_state **out, const zt_app *app, zt_db *db)
{
	const char *td = app->identity.trust_domain;
	struct api_ca_state *st;
	int err;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	pthread_mutex_init(&st->lock, NULL);
	st->app = app;
	if ((err = zt_ca_generation(db, td, &st->generation)) < 0 ||
	    (err = ca_load(st, db, app->master_key, td)) < 0) {
		state_free(st);
		return err;
	}
	*out = st;
	return ZT_OK;
}

/*
 * Every root of `st` (prepared, active, retired) becomes a trust anchor
 * of the mutual TLS listener, so that a workload whose SVID chains to a
 * root published since the start can renew without a restart.  A root
 * retired and dropped stays trusted by the listener until the next start;
 * the renewal itself still checks the certificate against the inventory.
 */
static void
trust_roots(zt_app *app, const struct api_ca_state *st)
{
	size_t i;

	for (i = 0; i < st->nroots; i++)
		if (zt_http_trust_add(app->http, st->roots[i].cert) < 0)
			log_warn("cannot trust a CA root for client "
			    "certificates", ZS("key_id", st->roots[i].kid),
			    ZS("error", zt_error_msg()));
}

/*
 * Loads the CA again: after a change made here (`bump`: the generation
 * is incremented first, so other nodes load it too), or when another
 * node moved the generation to `gen`.  The old state lives on (st->prev)
 * until the server stops, since workers may be using it.
 */
static int
state_reload(zt_app *app, zt_db *db, bool bump, int64_t gen)
{
	static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
	struct api_ca_state *st, *cur;
	int err = ZT_OK;

	pthread_mutex_lock(&reload_lock);
	cur = __atomic_load_n(&app->ca, __ATOMIC_ACQUIRE);
	if (!bump && cur != NULL && cur->generation == gen)
		goto out;	/* another worker loaded it already */
	if (bump && (err = zt_ca_generation_bump(db,
	    app->identity.trust_domain)) < 0)
		goto out;
	if ((err = state_build(&st, app, db)) == ZT_OK) {
		st->prev = cur;
		if (cur != NULL) {
			/* The same keys keep the same sequence number. */
			pthread_mutex_lock(&cur->lock);
			st->bundle = json_incref(cur->bundle);
			st->bundle_keys = json_incref(cur->bundle_keys);
			pthread_mutex_unlock(&cur->lock);
		}
		__atomic_store_n(&app->ca, st, __ATOMIC_RELEASE);
		trust_roots(app, st);
		log_info("CA loaded", ZS("trust_domain",
		    app->identity.trust_domain), ZS("key_id",
		    zt_ca_key_id(st->active)), ZI("generation",
		    st->generation));
	}
out:
	pthread_mutex_unlock(&reload_lock);
	return err;
}

/*
 * The CA is made at its first use (an issuance, `ztiam ca show`, a fetch
 * of the bundle, a CRL or an OCSP answer), not at the first start, so a
 * server that never issues holds no CA keys and its audit trail shows
 * none.  A second node doing the same at the same moment loses on the
 * keys' unique index and loads the winner's CA.
 */
static int
ca_first_use(zt_app *app, zt_db *db)
{
	static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
	const char *td = app->identity.trust_domain;
	struct api_ca_state *st = NULL;
	int err = ZT_OK;

	pthread_mutex_lock(&create_lock);
	if (__atomic_load_n(&app->ca, __ATOMIC_ACQUIRE) != NULL)
		goto out;
	err = state_build(&st, app, db);
	if (err == ZT_ENOTFOUND) {
		if ((err = ca_create(db, app, td)) == ZT_OK ||
		    err == ZT_EEXISTS)
			err = state_build(&st, app, db);
	}
	if (err == ZT_OK) {
		__atomic_store_n(&app->ca, st, __ATOMIC_RELEASE);
		trust_roots(app, st);
		log_info("CA loaded", ZS("trust_domain", td),
		    ZS("key_id", zt_ca_key_id(st->active)));
	} else
		log_error("cannot load or create the CA", ZS("error",
		    zt_error_msg()));
out:
	pthread_mutex_unlock(&create_lock);
	return err;
}

/*
 * --ca-key-uri: opens the intermediate key in its PKCS#11 token.  With a
 * CA in the database whose intermediates do not include that key, it is
 * stored as the prepared intermediate, signed by the active root, and
 * `ztiam ca rotate` activates it.
 */
static int token_open(zt_app *app, zt_db *db);

/* At start: loads the CA when the database has one (a key that does not
 * open, for instance under the wrong master key, stops the start). */
int
zt_api_ca_start(zt_app *app)
{
	struct api_ca_state *st = NULL;
	zt_db *db;
	int err;

	if ((err = zt_db_open(&db, app->db_url)) < 0)
		return err;
	/* A token that does not open stops the start, whatever the
	 * reason: the CA must not be made without its key. */
	if (app->ca_key_uri && (err = token_open(app, db)) < 0) {
		zt_db_close(db);
		return err;
	}
	err = state_build(&st, app, db);
	zt_db_close(db);
	if (err == ZT_ENOTFOUND) {
		log_info("no CA yet: it is made at its first use",
		    ZS("trust_domain", app->identity.trust_domain));
		return ZT_OK;
	}
	if (err < 0)
		return err;
	app->ca = st;
	log_info("CA loaded", ZS("trust_domain", app->identity.trust_domain),
	    ZS("key_id", zt_ca_key_id(st->active)));
	return ZT_OK;
}

void
zt_api_ca_trust(zt_app *app)
{
	if (app->ca != NULL)
		trust_roots(app, app->ca);
}

void
zt_api_ca_stop(zt_app *app)
{
	if (app->ca)
		state_free(app->ca);
	app->ca = NULL;
	EVP_PKEY_free(token_key);
	token_key = NULL;
}

/* ---- the gate --------------------------------------------------------------- */

static bool
json_has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static bool
names_allowed(const char *const *names, size_t n, json_t *allowed,
    const char *attr, zt_ca_decision *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!json_has_string(allowed, names[i])) {
			snprintf(out->reason, sizeof(out->reason), "the "
			    "identity's attribute %s does not allow %.80s",
			    attr, names[i]);
			return false;
		}
	return true;
}

static bool
acme_allowed(const api_ca_caller *who, const zt_ca_request *r,
    zt_ca_decision *out)
{
	size_t i, j;

	if (r->profile != ZT_CA_TLS_SERVER) {
		snprintf(out->reason, sizeof(out->reason), "ACME issues TLS "
		    "server certificates only");
		return false;
	}
	for (i = 0; i < r->ndns + r->nips; i++) {
		const char *name = i < r->ndns ? r->dns[i] :
		    r->ips[i - r->ndns];

		for (j = 0; j < who->nvalidated; j++)
			if (strcmp(who->validated[j], name) == 0)
				break;
		if (j == who->nvalidated) {
			snprintf(out->reason, sizeof(out->reason), "%.80s was "
			    "not validated by this order", name);
			return false;
		}
	}
	return true;
}

/*
 * The server's rules.  The identity must exist in the request's tenant
 * and be active, and the request's SPIFFE ID be its own; then by caller:
 * a token of the tenant (or system; a unit token only for identities of
 * its subtree), the holder of the identity's current SVID (svid profile
 * only), or an ACME account for the names it validated.  TLS server
 * names must be listed in the identity's attributes dns_names and
 * ip_addresses (not for ACME, whose challenges proved them).
 */
static void
gate(void *arg, const zt_ca_request *r, zt_ca_decision *out)
{
	struct api_ca_state *st = arg;
	const struct gate_ctx *g = tl_gate;
	zt_actor actor = system_actor;
	json_t *ident = NULL, *attrs;
	zt_id_ctx cx;
	const char *state, *sid;
	int err;

	if (g == NULL) {
		snprintf(out->reason, sizeof(out->reason), "no caller");
		return;
	}
	out->max_ttl = st->app->ca_max_ttl;
	if (g->who->via == API_CA_ACME && r->identity_id == NULL) {
		out->allow = acme_allowed(g->who, r, out);
		return;
	}
	if (r->identity_id == NULL) {
		snprintf(out->reason, sizeof(out->reason), "an identity is "
		    "required");
		return;
	}

	/* The identity, seen by the caller's scope when it has a token. */
	cx = (zt_id_ctx){ .db = api_db(g->req), .cfg = &st->app->identity,
	    .actor = &actor, .scope = { .tenant = r->tenant } };
	if (g->who->via == API_CA_TOKEN) {
		const zt_principal *p = api_principal(g->req);

		if (!p->system && strcmp(p->tenant, r->tenant) != 0) {
			snprintf(out->reason, sizeof(out->reason), "the token "
			    "is not of tenant %.60s", r->tenant);
			return;
		}
		cx.scope.unit = p->unit[0] ? p->unit : NULL;
	}
	err = zt_identity_get(&ident, &cx, r->tenant, r->identity_id);
	if (err < 0) {
		snprintf(out->reason, sizeof(out->reason), "identity %.60s is "
		    "not found%s", r->identity_id, cx.scope.unit ?
		    " in the token's unit subtree" : "");
		return;
	}
	state = json_string_value(json_object_get(ident, "state"));
	sid = json_string_value(json_object_get(ident, "spiffe_id"));
	attrs = json_object_get(ident, "attributes");
	if (state == NULL || strcmp(state, "active") != 0) {
		snprintf(out->reason, sizeof(out->reason), "identity %.60s is "
		    "%s", r->identity_id, state ? state : "not active");
		goto out;
	}
	if (r->spiffe_id && (sid == NULL || strcmp(sid, r->spiffe_id) != 0)) {
		snprintf(out->reason, sizeof(out->reason), "the SPIFFE ID is "
		    "not the identity's");
		goto out;
	}
	switch (g->who->via) {
	case API_CA_TOKEN:
		break;
	case API_CA_SVID:
		if (r->profile != ZT_CA_SVID || sid == NULL ||
		    strcmp(sid, g->who->spiffe_id) != 0) {
			snprintf(out->reason, sizeof(out->reason), "an SVID "
			    "holder renews its own SVID only");
			goto out;
		}
		break;
	case API_CA_ACME:
		out->allow = acme_allowed(g->who, r, out);
		goto out;
	}
	if (r->profile == ZT_CA_TLS_SERVER && (!names_allowed(r->dns,
	    r->ndns, json_object_get(attrs, "dns_names"), "dns_names", out) ||
	    !names_allowed(r->ips, r->nips, json_object_get(attrs,
	    "ip_addresses"), "ip_addresses", out)))
		goto out;
	out->allow = true;
out:
	json_decref(ident);
}

/* The audit actor of a CA request: the token's, "svid:<SPIFFE ID>" or
 * the ACME account.  `buf` holds the name. */
static zt_actor
caller_actor(zt_req *req, const api_ca_caller *who, const char *tenant,
    char *buf, size_t n)
{
	if (who->via == API_CA_SVID) {
		snprintf(buf, n, "svid:%s", who->spiffe_id);
		return (zt_actor){ buf, tenant, zt_req_id(req) };
	}
	if (who->via == API_CA_ACME)
		return (zt_actor){ who->acme_account, tenant, zt_req_id(req) };
	return api_actor(req);
}

static const char *const via_names[] = { "token", "svid", "acme" };

int
api_ca_issue(zt_ca_issued *out, zt_req *req, const api_ca_caller *who,
    zt_ca_request *r, const uint8_t *csr, size_t len)
{
	struct gate_ctx g = { req, who };
	zt_ca *ca = api_ca(req);
	char buf[300];
	zt_actor actor;
	int err;

	if (ca == NULL)
		return zt_error_set(ZT_EUNAVAIL, "this server has no CA");
	actor = caller_actor(req, who, r->tenant, buf, sizeof(buf));
	r->caller = &actor;
	r->via = via_names[who->via];
	tl_gate = &g;
	err = zt_ca_issue(out, ca, api_db(req), r, csr, len);
	tl_gate = NULL;
	r->caller = NULL;
	return err;
}

/* A JWT-SVID for `r` (profile svid) with the audiences `aud`, signed by
 * the active key of the scope "jwt-svid:<td>", after the same gate as an
 * X.509-SVID.  Audited like zt_ca_jwt_svid; free() *token. */
static int
api_ca_jwt(char **token, zt_req *req, const api_ca_caller *who,
    zt_ca_request *r, const char *const *aud, size_t naud)
{
	zt_app *app = zt_req_app(req);
	struct gate_ctx g = { req, who };
	char scope[ZT_KEYS_SCOPE_MAX + 1], buf[300];
	zt_jose_signer *signer;
	zt_ca *ca = api_ca(req);
	zt_actor actor;
	int err;

	*token = NULL;
	if (ca == NULL)
		return zt_error_set(ZT_EUNAVAIL, "this server has no CA");
	jwt_scope(scope, sizeof(scope), app->identity.trust_domain);
	if ((err = zt_keys_signer(&signer, api_db(req), app->master_key,
	    scope, &jwt_policy)) < 0)
		return err;
	actor = caller_actor(req, who, r->tenant, buf, sizeof(buf));
	r->caller = &actor;
	r->via = via_names[who->via];
	tl_gate = &g;
	err = zt_ca_jwt_svid(token, ca, api_db(req), r, signer, aud, naud);
	tl_gate = NULL;
	r->caller = NULL;
	return err;
}

/* ---- issuing ---------------------------------------------------------------- */

/* Appends a cert.refuse record for a refusal made before the library
 * saw the request, by `who` (the identity does not resolve for this
 * caller, or its SVID is not current). */
static void
audit_refusal_by(zt_req *req, const api_ca_caller *who, const char *tenant,
    const char *what, const char *reason)
{
	char buf[300], target[300];
	zt_actor actor = caller_actor(req, who, tenant, buf, sizeof(buf));
	zt_db *db = api_db(req);
	json_t *after = json_pack("{s:s, s:s}", "reason", reason, "via",
	    via_names[who->via]);

	snprintf(target, sizeof(target), "identity:%s", what ? what : "");
	if (zt_db_begin(db) == ZT_OK) {
		if (zt_audit_append(db, &actor, &(zt_audit_entry){
		    .action = "cert.refuse", .tenant = tenant,
		    .target = target, .after = after }) == ZT_OK)
			zt_db_commit(db);
		else
			zt_db_rollback(db);
	}
	json_decref(after);
}

static void
audit_refusal(zt_req *req, const char *tenant, const char *what,
    const char *reason)
{
	static const api_ca_caller token = { .via = API_CA_TOKEN };

	audit_refusal_by(req, &token, tenant, what, reason);
}

/* Copies a JSON array of strings into names[]; false when it is not one
 * or holds more than ZT_CA_NAMES_MAX. */
static bool
string_list(json_t *arr, const char **names, size_t *n)
{
	size_t i;
	json_t *v;

	*n = 0;
	if (arr == NULL)
		return true;
	if (!json_is_array(arr) || json_array_size(arr) > ZT_CA_NAMES_MAX)
		return false;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return false;
		names[(*n)++] = json_string_value(v);
	}
	return true;
}

static json_t *
issued_json(const zt_ca_issued *c, const zt_ca_request *r)
{
	char nb[32], na[32];

	zt_time_format(nb, c->not_before);
	zt_time_format(na, c->not_after);
	return json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s, s:s, s:s, s:s?}",
	    "serial", c->serial,
	    "identity_id", r->identity_id,
	    "spiffe_id", r->spiffe_id,
	    "profile", zt_ca_profile_name(r->profile),
	    "not_before", nb,
	    "not_after", na,
	    "certificate", c->pem,
	    "chain", c->chain_pem,
	    "private_key", c->key_pem);
}

/* Tenant check shared by the tenant routes: a token of another tenant
 * sees nothing there.  Replies 404 and returns false. */
static bool
tenant_visible(zt_req *req, const char *tenant)
{
	const zt_principal *p = api_principal(req);

	if (p->system || strcmp(p->tenant, tenant) == 0)
		return true;
	zt_reply_problem(req, 404, "not_found", "tenant %s is not found",
	    tenant);
	return false;
}

static void
cert_issue(zt_req *req)
{
	const char *tenant = zt_req_param(req, "tenant");
	const char *identity_id = NULL, *spiffe_id = NULL, *profile = "svid";
	const char *csr = NULL, *key_type = "p256", *cn = NULL, *email = NULL;
	const char *dns[ZT_CA_NAMES_MAX], *ips[ZT_CA_NAMES_MAX];
	json_t *body, *jdns = NULL, *jips = NULL, *ident = NULL;
	api_ca_caller who = { .via = API_CA_TOKEN };
	zt_ca_request r = { 0 };
	zt_ca_issued out = { 0 };
	bool generate = false;
	int64_t ttl = 0;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!tenant_visible(req, tenant)) {
		/* Recorded in the caller's own tenant: the other tenant's
		 * trail is not the caller's to write in. */
		audit_refusal(req, api_principal(req)->tenant, NULL, "the "
		    "tenant is not in the caller's scope");
		return;
	}
	body = api_body(req, (zt_json_field[]){
	    { "identity_id", ZT_J_STRING, false, &identity_id, NULL },
	    { "spiffe_id", ZT_J_STRING, false, &spiffe_id, NULL },
	    { "profile", ZT_J_STRING, false, &profile, NULL },
	    { "csr", ZT_J_STRING, false, &csr, NULL },
	    { "generate_key", ZT_J_BOOL, false, &generate, NULL },
	    { "key_type", ZT_J_STRING, false, &key_type, NULL },
	    { "ttl", ZT_J_INT, false, &ttl, NULL },
	    { "dns_names", ZT_J_ARRAY, false, &jdns, NULL },
	    { "ip_addresses", ZT_J_ARRAY, false, &jips, NULL },
	    { "common_name", ZT_J_STRING, false, &cn, NULL },
	    { "email", ZT_J_STRING, false, &email, NULL },
	}, 11);
	if (body == NULL)
		return;
	if ((identity_id == NULL) == (spiffe_id == NULL) ||
	    (csr == NULL) == !generate) {
		zt_reply_problem(req, 400, "invalid_request", "give "
		    "identity_id or spiffe_id, and csr or generate_key: true");
		goto out;
	}
	if (zt_ca_profile_parse(profile, &r.profile) < 0 ||
	    zt_ca_key_type_parse(key_type, &r.key_type) < 0 ||
	    !string_list(jdns, dns, &r.ndns) ||
	    !string_list(jips, ips, &r.nips) || ttl < 0) {
		zt_reply_problem(req, 400, "invalid_request", "bad profile, "
		    "key_type, ttl, dns_names or ip_addresses (at most %d)",
		    ZT_CA_NAMES_MAX);
		goto out;
	}

	/* The identity as this caller sees it; the gate checks it again. */
	api_idctx(req, &cx, &actor);
	if (identity_id)
		err = zt_identity_get(&ident, &cx, tenant, identity_id);
	else
		err = zt_identity_get_by_spiffe(&ident, &cx, spiffe_id);
	if (err == ZT_OK && strcmp(json_string_value(json_object_get(ident,
	    "tenant")), tenant) != 0)
		err = zt_error_set(ZT_ENOTFOUND, "not found");
	if (err == ZT_ENOTFOUND) {
		audit_refusal(req, tenant, identity_id ? identity_id :
		    spiffe_id, "the identity is not found in the caller's "
		    "scope");
		zt_reply_problem(req, 404, "not_found", "identity %s is not "
		    "found", identity_id ? identity_id : spiffe_id);
		goto out;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		goto out;
	}
	r.tenant = tenant;
	r.identity_id = json_string_value(json_object_get(ident, "id"));
	if (r.profile != ZT_CA_TLS_SERVER)
		r.spiffe_id = json_string_value(json_object_get(ident,
		    "spiffe_id"));
	r.dns = dns;
	r.ips = ips;
	r.ttl = ttl;
	r.common_name = r.profile == ZT_CA_TLS_CLIENT && cn == NULL ?
	    json_string_value(json_object_get(ident, "name")) : cn;
	r.email = email;
	err = api_ca_issue(&out, req, &who, &r, (const uint8_t *)csr,
	    csr ? strlen(csr) : 0);
	if (err < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 201, issued_json(&out, &r));
	zt_ca_issued_free(&out);
out:
	json_decref(ident);
	json_decref(body);
}

/* The SPIFFE ID in a certificate's URI SAN, or NULL. */
static const char *
cert_spiffe_id(X509 *x, char *buf, size_t n)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL);
	const char *res = NULL;
	int i;

	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *d;
		int len;

		if (g->type != GEN_URI)
			continue;
		d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (len > 0 && (size_t)len < n && memchr(d, 0, len) == NULL) {
			memcpy(buf, d, (size_t)len);
			buf[len] = '\0';
			res = buf;
		}
		break;
	}
	GENERAL_NAMES_free(gens);
	return res;
}

/* The peer's certificate must be one this CA issued and has not revoked:
 * the TLS layer verified the chain to the bundle, this checks the
 * inventory (a revocation takes effect on the next handshake's use). */
static int
peer_current(zt_req *req, X509 *peer)
{
	struct api_ca_state *st = state_of(req);
	char serial[ZT_CA_SERIAL_HEX + 2];
	enum zt_ca_status status = ZT_CA_UNKNOWN;
	const ASN1_INTEGER *ai = X509_get0_serialNumber(peer);
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int64_t at;
	size_t i;
	int reason, err = ZT_OK;

	BN_free(bn);
	if (hex == NULL || strlen(hex) >= sizeof(serial))
		goto out;
	for (i = 0; hex[i]; i++)
		serial[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ?
		    hex[i] + 32 : hex[i]);
	serial[i] = '\0';
	/* BN_bn2hex pads to whole bytes; the inventory has no leading 0. */
	memmove(serial, serial + (serial[0] == '0' && serial[1]), i + 1 -
	    (serial[0] == '0' && serial[1]));
	for (i = 0; i < st->ncas && status == ZT_CA_UNKNOWN; i++)
		if ((err = zt_ca_status_db(api_db(req),
		    zt_ca_key_id(st->cas[i].ca), serial, &status, &at,
		    &reason)) < 0)
			goto out;
out:
	OPENSSL_free(hex);
	if (err < 0)
		return err;
	return status == ZT_CA_GOOD ? ZT_OK : zt_error_set(ZT_EFORBIDDEN,
	    "the client certificate is not a current SVID of this CA");
}

/*
 * POST /v1/certificates/renew: the holder of a current X.509-SVID (over
 * mutual TLS) gets a new one for the same SPIFFE ID, from a CSR.  Allowed
 * at any time while the presented SVID is valid and not revoked; the new
 * one overlaps the old.
 */
static void
cert_renew(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	X509 *peer = zt_req_peer_cert(req);
	char sidbuf[2048];
	const char *sid, *csr = NULL;
	api_ca_caller who = { .via = API_CA_SVID };
	zt_ca_request r = { .profile = ZT_CA_SVID };
	zt_ca_issued out = { 0 };
	zt_actor actor = system_actor;
	json_t *body, *ident = NULL;
	int64_t ttl = 0;
	zt_id_ctx cx;
	int err;

	if (peer == NULL || (sid = cert_spiffe_id(peer, sidbuf,
	    sizeof(sidbuf))) == NULL) {
		zt_reply_problem(req, 401, "unauthorized", "renewal needs a "
		    "current X.509-SVID as the TLS client certificate");
		return;
	}
	if (api_ca(req) == NULL) {
		zt_reply_error(req, zt_error_set(ZT_EUNAVAIL, "no CA"));
		return;
	}
	if ((err = peer_current(req, peer)) < 0) {
		zt_reply_error(req, err);
		return;
	}
	body = api_body(req, (zt_json_field[]){
	    { "csr", ZT_J_STRING, true, &csr, NULL },
	    { "ttl", ZT_J_INT, false, &ttl, NULL },
	}, 2);
	if (body == NULL)
		return;
	cx = (zt_id_ctx){ .db = api_db(req), .cfg = &app->identity,
	    .actor = &actor };
	if ((err = zt_identity_get_by_spiffe(&ident, &cx, sid)) < 0) {
		zt_reply_problem(req, 403, "forbidden", "the SVID's identity "
		    "is gone");
		goto out;
	}
	who.spiffe_id = sid;
	r.tenant = json_string_value(json_object_get(ident, "tenant"));
	r.identity_id = json_string_value(json_object_get(ident, "id"));
	r.spiffe_id = sid;
	r.ttl = ttl;
	err = api_ca_issue(&out, req, &who, &r, (const uint8_t *)csr,
	    strlen(csr));
	if (err < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 201, issued_json(&out, &r));
	zt_ca_issued_free(&out);
out:
	json_decref(ident);
	json_decref(body);
}

/*
 * POST /v1/tenants/{tenant}/identities/{id}/jwt-svids: a JWT-SVID for the
 * identity's SPIFFE ID, {"audience": [...], "ttl": s}.  The caller is an
 * API token with the identity in its scope or, when the request carries
 * no token, the workload itself presenting its current X.509-SVID over
 * mutual TLS (the gate then allows its own SPIFFE ID only).  The route is
 * public for the second case and authenticates a token itself.
 */
static void
jwt_issue(zt_req *req)
{
	const char *tenant = zt_req_param(req, "tenant");
	const char *id = zt_req_param(req, "id");
	const char *aud[ZT_CA_NAMES_MAX];
	X509 *peer = zt_req_peer_cert(req);
	api_ca_caller who = { .via = API_CA_TOKEN };
	zt_ca_request r = { .profile = ZT_CA_SVID };
	json_t *body = NULL, *jaud = NULL, *ident = NULL;
	char sidbuf[2048], why[160], *token = NULL;
	size_t naud = 0;
	int64_t ttl = 0;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (zt_req_header(req, "Authorization") == NULL && peer != NULL) {
		/* The workload: its SVID must be current, and the gate
		 * holds it to its own SPIFFE ID. */
		if ((who.spiffe_id = cert_spiffe_id(peer, sidbuf,
		    sizeof(sidbuf))) == NULL) {
			zt_reply_problem(req, 401, "unauthorized", "the client "
			    "certificate is not an X.509-SVID");
			return;
		}
		if (api_ca(req) == NULL) {
			zt_reply_error(req, zt_error_set(ZT_EUNAVAIL, "no CA"));
			return;
		}
		who.via = API_CA_SVID;
		if ((err = peer_current(req, peer)) < 0) {
			snprintf(why, sizeof(why), "%s", zt_error_msg());
			audit_refusal_by(req, &who, tenant, id, why);
			zt_reply_error(req, zt_error_set(err, "%s", why));
			return;
		}
	} else if (!zt_api_auth(req)) {
		return;
	} else if (!tenant_visible(req, tenant)) {
		audit_refusal(req, api_principal(req)->tenant, NULL, "the "
		    "tenant is not in the caller's scope");
		return;
	}
	if ((body = api_body(req, (zt_json_field[]){
	    { "audience", ZT_J_ARRAY, false, &jaud, NULL },
	    { "ttl", ZT_J_INT, false, &ttl, NULL },
	}, 2)) == NULL)
		return;
	if (!string_list(jaud, aud, &naud)) {
		zt_reply_problem(req, 400, "invalid_request", "audience is an "
		    "array of 1 to 8 strings");
		goto out;
	}

	/* A token sees the identity through its scope; the workload's
	 * request is judged by the gate alone. */
	r.tenant = tenant;
	r.identity_id = id;
	r.ttl = ttl;
	if (who.via == API_CA_SVID) {
		r.spiffe_id = who.spiffe_id;
	} else {
		api_idctx(req, &cx, &actor);
		if ((err = zt_identity_get(&ident, &cx, tenant, id)) ==
		    ZT_ENOTFOUND) {
			audit_refusal(req, tenant, id, "the identity is not "
			    "found in the caller's scope");
			zt_reply_problem(req, 404, "not_found", "identity %s "
			    "is not found", id);
			goto out;
		}
		if (err < 0) {
			zt_reply_error(req, err);
			goto out;
		}
		r.spiffe_id = json_string_value(json_object_get(ident,
		    "spiffe_id"));
	}
	if ((err = api_ca_jwt(&token, req, &who, &r, aud, naud)) < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 201, json_pack("{s:s, s:s, s:O}",
		    "token", token, "spiffe_id", r.spiffe_id, "audience",
		    jaud));
	if (token) {
		zt_wipe(token, strlen(token));
		free(token);
	}
out:
	json_decref(ident);
	json_decref(body);
}

/* ---- revocation and inventory ------------------------------------------------ */

static void
revoked_here(zt_req *req)
{
	struct api_ca_state *st = state_of(req);

	if (st)
		atomic_fetch_add(&st->local_epoch, 1);
}

static bool
body_reason(zt_req *req, json_t **body, int *reason)
{
	const char *name = "unspecified";
	size_t n = 0;

	/* The body is optional: no body is reason "unspecified". */
	*body = NULL;
	*reason = ZT_CA_UNSPECIFIED;
	if (zt_req_body(req, &n) == NULL || n == 0)
		return true;
	if ((*body = api_body(req, (zt_json_field[]){
	    { "reason", ZT_J_STRING, false, &name, NULL },
	}, 1)) == NULL)
		return false;
	if (zt_ca_reason_parse(name, reason) < 0) {
		zt_reply_problem(req, 400, "invalid_request", "%s",
		    zt_error_msg());
		json_decref(*body);
		*body = NULL;
		return false;
	}
	return true;
}

static void
cert_revoke(zt_req *req)
{
	const char *tenant = zt_req_param(req, "tenant");
	zt_actor actor = api_actor(req);
	json_t *body;
	int reason, err;

	if (!tenant_visible(req, tenant))
		return;
	if (api_principal(req)->unit[0]) {
		zt_reply_problem(req, 403, "forbidden", "a unit token revokes "
		    "by identity, not by serial");
		return;
	}
	if (!body_reason(req, &body, &reason))
		return;
	err = zt_ca_revoke_serial(api_db(req), &actor, tenant,
	    zt_req_param(req, "serial"), reason);
	if (err == ZT_OK)
		revoked_here(req);
	api_reply_result(req, err, 200, err ? NULL : json_pack("{s:s, s:s}",
	    "serial", zt_req_param(req, "serial"), "reason",
	    zt_ca_reason_name(reason)));
	json_decref(body);
}

static void
identity_revoke(zt_req *req)
{
	const char *tenant = zt_req_param(req, "tenant");
	const char *id = zt_req_param(req, "id");
	json_t *body = NULL, *ident = NULL;
	int64_t count = 0;
	zt_actor actor;
	zt_id_ctx cx;
	int reason, err;

	if (!tenant_visible(req, tenant))
		return;
	api_idctx(req, &cx, &actor);
	if ((err = zt_identity_get(&ident, &cx, tenant, id)) < 0) {
		zt_reply_error(req, err);
		return;
	}
	json_decref(ident);
	if (!body_reason(req, &body, &reason))
		return;
	err = zt_ca_revoke_identity(api_db(req), &actor, tenant, id, reason,
	    &count);
	if (err == ZT_OK && count > 0)
		revoked_here(req);
	api_reply_result(req, err, 200, err ? NULL : json_pack("{s:s, s:I}",
	    "identity_id", id, "revoked", (json_int_t)count));
	json_decref(body);
}

static void
cert_list(zt_req *req)
{
	const char *tenant = zt_req_param(req, "tenant");
	const char *identity_id = zt_req_query(req, "identity_id");
	const char *within = zt_req_query(req, "expiring_within");
	const char *revoked = zt_req_query(req, "revoked");
	json_t *list = NULL, *ident = NULL;
	int64_t secs = 10LL * 365 * 86400;	/* the library's widest window */
	const char *cursor;
	zt_actor actor;
	zt_id_ctx cx;
	int limit, err;

	if (!tenant_visible(req, tenant) || !api_page(req, &cursor, &limit))
		return;
	if (limit == 0)
		limit = 100;
	if (within && zt_parse_duration(within, &secs) < 0) {
		zt_reply_problem(req, 400, "invalid_parameter",
		    "expiring_within is a duration such as 3600 or 1h");
		return;
	}
	api_idctx(req, &cx, &actor);
	if (identity_id) {
		if ((err = zt_identity_get(&ident, &cx, tenant,
		    identity_id)) < 0) {
			zt_reply_error(req, err);
			return;
		}
		json_decref(ident);
		err = zt_ca_list_identity(&list, api_db(req), tenant,
		    identity_id, limit);
	} else if (cx.scope.unit) {
		zt_reply_problem(req, 403, "forbidden", "a unit token lists "
		    "the certificates of one identity (identity_id=)");
		return;
	} else if (revoked && strcmp(revoked, "true") == 0) {
		err = zt_ca_list_revoked(&list, api_db(req), tenant, limit);
	} else {
		err = zt_ca_list_expiring(&list, api_db(req), tenant, secs,
		    limit);
	}
	api_reply_result(req, err, 200, err ? NULL :
	    json_pack("{s:o}", "items", list));
}

static int64_t
asn1_ms(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

/* GET /v1/ca: the chain, key ids and states (system administrators). */
static void
ca_show(zt_req *req)
{
	struct api_ca_state *st = state_of(req);
	zt_app *app = zt_req_app(req);
	json_t *doc, *cas, *roots;
	char *bundle = NULL;
	size_t i;

	if (!api_principal(req)->system) {
		zt_reply_problem(req, 403, "forbidden", "the CA is managed by "
		    "system administrators only");
		return;
	}
	if (st == NULL) {
		zt_reply_error(req, zt_error_set(ZT_EUNAVAIL, "no CA"));
		return;
	}
	cas = json_array();
	for (i = 0; i < st->ncas; i++) {
		X509 *x = zt_ca_cert(st->cas[i].ca);
		char na[32];
		char *pem = zt_ca_x509_pem(x);

		zt_time_format(na, asn1_ms(X509_get0_notAfter(x)));
		json_array_append_new(cas, json_pack("{s:s, s:s, s:s, s:s?}",
		    "key_id", zt_ca_key_id(st->cas[i].ca),
		    "state", st->cas[i].state, "not_after", na,
		    "certificate", pem));
		free(pem);
	}
	roots = json_array();
	for (i = 0; i < st->nroots; i++) {
		char na[32], ku[32] = "";

		zt_time_format(na, asn1_ms(X509_get0_notAfter(
		    st->roots[i].cert)));
		if (st->roots[i].keep_until > 0)
			zt_time_format(ku, st->roots[i].keep_until);
		json_array_append_new(roots, json_pack("{s:s, s:s, s:s, s:s?}",
		    "key_id", st->roots[i].kid, "state", st->roots[i].state,
		    "not_after", na, "published_until", ku[0] ? ku : NULL));
	}
	if (zt_ca_bundle_pem(&bundle, st->anchors, st->nanchors,
	    zt_now_ms()) < 0) {
		json_decref(cas);
		json_decref(roots);
		zt_reply_error(req, zt_error_code());
		return;
	}
	doc = json_pack("{s:s, s:s, s:o, s:o, s:s}",
	    "trust_domain", app->identity.trust_domain,
	    "active_key_id", zt_ca_key_id(st->active),
	    "intermediates", cas,
	    "roots", roots,
	    "bundle_pem", bundle);
	free(bundle);
	zt_reply_json(req, 200, doc);
}

/* ---- CA operations (system administrators) ----------------------------------- */

static bool
ca_admin(zt_req *req)
{
	if (!api_principal(req)->system) {
		zt_reply_problem(req, 403, "forbidden", "the CA is managed by "
		    "system administrators only");
		return false;
	}
	if (state_of(req) == NULL) {
		zt_reply_error(req, zt_error_set(ZT_EUNAVAIL, "no CA"));
		return false;
	}
	return true;
}

/* The intermediates' rows; *prepared the prepared one or NULL. */
static int
intermediates(json_t **list, json_t **prepared, zt_db *db, const char *td)
{
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	json_t *row;
	size_t i;
	int err;

	*prepared = NULL;
	scope_name(scope, sizeof(scope), td, "intermediate");
	if ((err = zt_keys_list(db, scope, list)) < 0)
		return err;
	json_array_foreach(*list, i, row)
		if (strcmp(json_string_value(json_object_get(row, "state")),
		    "prepared") == 0)
			*prepared = row;
	return ZT_OK;
}

/* Appends "-" and 4 bytes of the SHA-256 of `root`'s DER to `kid`. */
static int
kid_with_root(char kid[ZT_CA_KEY_ID_MAX + 1], X509 *root)
{
	uint8_t hash[ZT_SHA256_LEN];
	unsigned char *der = NULL;
	size_t n = strlen(kid);
	int len;

	if ((len = i2d_X509(root, &der)) <= 0 || n + 10 > ZT_CA_KEY_ID_MAX)
		return zt_error_set(ZT_ERR, "cannot name the CA key");
	zt_sha256(hash, der, (size_t)len);
	OPENSSL_free(der);
	kid[n] = '-';
	zt_hex_encode(kid + n + 1, hash, 4);
	return ZT_OK;
}

/* The root of `state` ("active", "prepared"): its certificate and its
 * key, opened from the database. */
static int
root_open(X509 **cert, EVP_PKEY **key, zt_db *db, const zt_app *app,
    const char *td, const char *state)
{
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	zt_buf der = ZT_BUF_INIT(16384);
	json_t *roots = NULL, *row, *r;
	size_t i;
	int err;

	*cert = NULL;
	*key = NULL;
	scope_name(scope, sizeof(scope), td, "root");
	if ((err = zt_keys_list(db, scope, &roots)) < 0)
		return err;
	row = NULL;
	json_array_foreach(roots, i, r)
		if (strcmp(json_string_value(json_object_get(r, "state")),
		    state) == 0)
			row = r;
	if (row == NULL || (*cert = cert_from_doc(json_object_get(row,
	    "public_jwk"))) == NULL) {
		err = zt_error_set(ZT_ENOTFOUND, "no %s CA root", state);
		goto out;
	}
	if ((err = zt_keys_load_sealed(&der, db, app->master_key, scope,
	    json_string_value(json_object_get(row, "kid")))) < 0)
		goto out;
	if ((*key = key_from_pkcs8(&der)) == NULL)
		err = zt_error_set(ZT_ERR, "the root key does not load");
out:
	if (err < 0) {
		X509_free(*cert);
		*cert = NULL;
	}
	if (der.data)
		zt_wipe(der.data, der.len);
	zt_buf_free(&der);
	json_decref(roots);
	return err;
}

/* A new intermediate signed by the root of `root_state`, stored
 * prepared.  Its key is `ik` when given (a token's, named by `uri`),
 * else made here. */
static int
prepare_intermediate(zt_db *db, const zt_app *app, const char *td,
    const char *root_state, EVP_PKEY *ik, const char *uri,
    char kid[ZT_CA_KEY_ID_MAX + 1])
{
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	EVP_PKEY *rk = NULL;
	X509 *root = NULL, *inter = NULL;
	int err;

	if (ik == NULL)
		uri = NULL;
	else if (!EVP_PKEY_up_ref(ik))
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if ((err = root_open(&root, &rk, db, app, td, root_state)) < 0)
		goto out;
	scope_name(scope, sizeof(scope), td, "intermediate");
	if ((ik == NULL && (err = zt_ca_key_generate(&ik,
	    ZT_CA_KEY_P256)) < 0) ||
	    (err = zt_ca_intermediate_create(&inter, root, rk, ik, td,
	    INTERMEDIATE_TTL_S, false)) < 0 ||
	    (err = key_kid(kid, ik)) < 0)
		goto out;
	/* A token's key gets a certificate per root: its kid names the
	 * root too, so the rows stay apart. */
	if (uri && (err = kid_with_root(kid, root)) < 0)
		goto out;
	err = ca_key_store(db, app->master_key, scope, kid, "prepared", ik,
	    inter, NULL, uri);
out:
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	X509_free(root);
	X509_free(inter);
	return err;
}

/* Activates the prepared key of `role` ("root", "intermediate") and
 * retires the active one. */
static int
activate(zt_db *db, const zt_app *app, const zt_actor *actor,
    const char *td, const char *role)
{
	zt_keys_policy pol = { .alg = ZT_JOSE_ES256,
	    .max_token_lifetime_s = INTERMEDIATE_TTL_S };
	char scope[ZT_KEYS_SCOPE_MAX + 1];

	scope_name(scope, sizeof(scope), td, role);
	return zt_keys_rotate(db, app->master_key, actor, scope, &pol, NULL);
}

/* The row of `list` in `state` whose certificate `root` issued. */
static json_t *
row_under(json_t *list, const char *state, X509 *root)
{
	json_t *row, *found = NULL;
	size_t i;

	json_array_foreach(list, i, row) {
		X509 *x;

		if (strcmp(json_string_value(json_object_get(row, "state")),
		    state) != 0)
			continue;
		x = cert_from_doc(json_object_get(row, "public_jwk"));
		if (x && X509_check_issued(root, x) == X509_V_OK)
			found = row;
		X509_free(x);
	}
	return found;
}

/*
 * One step of a root rotation.  Without a prepared root: makes one,
 * self-signed, stored prepared: published in the bundle (JWKS and PEM)
 * but signing nothing, so relying parties have it before anything below
 * it is used.  With one: a new intermediate signed by it is made and
 * activated, then the new root; the old root is retired and stays in
 * the bundle until the last certificate below it expires, its
 * intermediate loaded (retired) for OCSP, CRLs and renewals.  The second
 * step is three transactions; run again after a failure, it goes on from
 * where it stopped (an intermediate under the new root already prepared
 * or active is used, not made again).
 */
static int
rotate_root(zt_req *req, const char **step, char kid[ZT_CA_KEY_ID_MAX + 1])
{
	zt_app *app = zt_req_app(req);
	const char *td = app->identity.trust_domain;
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	zt_actor actor = api_actor(req);
	json_t *list = NULL, *prepared, *row;
	EVP_PKEY *rk = NULL;
	X509 *root = NULL, *x = NULL;
	int err;

	if ((err = intermediates(&list, &prepared, api_db(req), td)) < 0)
		goto out;
	err = root_open(&x, &rk, api_db(req), app, td, "prepared");
	if (err == ZT_ENOTFOUND) {
		EVP_PKEY_free(rk);
		rk = NULL;
		if (prepared) {
			err = zt_error_set(ZT_ECONFLICT, "an intermediate is "
			    "prepared; finish that rotation first (ztiam ca "
			    "rotate)");
			goto out;
		}
		*step = "root prepared";
		scope_name(scope, sizeof(scope), td, "root");
		if ((err = zt_ca_key_generate(&rk, ZT_CA_KEY_P256)) < 0 ||
		    (err = zt_ca_root_create(&root, rk, td, ROOT_TTL_S)) < 0 ||
		    (err = key_kid(kid, rk)) < 0)
			goto out;
		err = ca_key_store(api_db(req), app->master_key, scope, kid,
		    "prepared", rk, root, NULL, NULL);
		goto out;
	}
	if (err < 0)
		goto out;
	*step = "root activated";
	if (prepared && prepared != row_under(list, "prepared", x)) {
		err = zt_error_set(ZT_ECONFLICT, "an intermediate is prepared; "
		    "finish that rotation first (ztiam ca rotate)");
		goto out;
	}
	if ((row = prepared ? prepared : row_under(list, "active", x))) {
		/* Resuming: the intermediate under the new root exists. */
		snprintf(kid, ZT_CA_KEY_ID_MAX + 1, "%s", json_string_value(
		    json_object_get(row, "kid")));
	} else if ((err = prepare_intermediate(api_db(req), app, td,
	    "prepared", token_key, app->ca_key_uri, kid)) < 0) {
		/* The token's key, when the server signs with one, goes on
		 * signing under the new root. */
		goto out;
	}
	if ((row == NULL || prepared) && (err = activate(api_db(req), app,
	    &actor, td, "intermediate")) < 0)
		goto out;
	err = activate(api_db(req), app, &actor, td, "root");
out:
	json_decref(list);
	EVP_PKEY_free(rk);
	X509_free(root);
	X509_free(x);
	return err;
}

/*
 * POST /v1/ca/rotate: one step of an intermediate rotation, or of a root
 * rotation with {"root": true}.  Without a prepared intermediate, makes
 * one (signed by the root; not signing yet, its CRL already served);
 * with one, activates it and retires the active one, which stays loaded
 * until its last certificate expires.  Relying parties trust the root,
 * so the bundle does not change, except when an upstream-signed
 * intermediate brings its own root: that root is in the bundle from the
 * import on (prepared), before the intermediate signs.
 */
static void
ca_rotate(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	const char *td = app->identity.trust_domain;
	char kid[ZT_CA_KEY_ID_MAX + 1] = "";
	zt_actor actor = api_actor(req);
	json_t *list = NULL, *prepared, *body = NULL;
	const char *step = "";
	bool root = false;
	size_t n = 0;
	int err;

	if (!ca_admin(req))
		return;
	if (zt_req_body(req, &n) != NULL && n > 0 && (body = api_body(req,
	    (zt_json_field[]){
	    { "root", ZT_J_BOOL, false, &root, NULL },
	}, 1)) == NULL)
		return;
	if (root) {
		err = rotate_root(req, &step, kid);
		goto reload;
	}
	if ((err = intermediates(&list, &prepared, api_db(req), td)) < 0)
		goto out;
	if (prepared && json_object_get(json_object_get(prepared,
	    "public_jwk"), "cert") == NULL) {
		err = zt_error_set(ZT_ECONFLICT, "the prepared intermediate "
		    "waits for its upstream certificate (ztiam ca import)");
		goto out;
	}
	if (prepared) {
		snprintf(kid, sizeof(kid), "%s", json_string_value(
		    json_object_get(prepared, "kid")));
		err = activate(api_db(req), app, &actor, td, "intermediate");
		step = "activated";
	} else if (token_key != NULL) {
		/* A new sealed key would take signing out of the token. */
		err = zt_error_set(ZT_ECONFLICT, "the intermediate key is in a "
		    "PKCS#11 token: make a new key there and restart with "
		    "its --ca-key-uri; it joins as the prepared intermediate");
	} else {
		err = prepare_intermediate(api_db(req), app, td, "active",
		    NULL, NULL, kid);
		step = "prepared";
	}
reload:
	if (err == ZT_OK)
		err = state_reload(app, api_db(req), true, 0);
	if (err == ZT_OK)
		log_info("CA rotation", ZS("step", step), ZS("key_id", kid));
out:
	json_decref(list);
	json_decref(body);
	api_reply_result(req, err, 200, err ? NULL : json_pack("{s:s, s:s}",
	    "step", step, "key_id", kid));
}

/*
 * --ca-key-uri: the intermediate key in a PKCS#11 token, opened once at
 * start.  A CA that does not know the key yet gets it as its prepared
 * intermediate, signed by the active root (`ztiam ca rotate` activates
 * it); a database without a CA makes it the first intermediate.
 */
static int
token_open(zt_app *app, zt_db *db)
{
	const char *td = app->identity.trust_domain;
	char kid[ZT_CA_KEY_ID_MAX + 1];
	json_t *list = NULL, *prepared, *row;
	bool known = false;
	size_t i;
	int err;

	if ((err = zt_keys_pkcs11_load(&token_key, app->ca_pkcs11_module,
	    app->ca_key_uri, app->ca_key_pin)) < 0 ||
	    (err = key_kid(token_kid, token_key)) < 0)
		return err;
	log_info("CA key opened in its PKCS#11 token", ZS("uri",
	    app->ca_key_uri), ZS("key_id", token_kid));
	if ((err = intermediates(&list, &prepared, db, td)) < 0)
		goto out;
	json_array_foreach(list, i, row)
		known |= token_holds(json_object_get(row, "public_jwk"));
	if (known || json_array_size(list) == 0)
		goto out;
	if (prepared) {
		err = zt_error_set(ZT_ECONFLICT, "the CA has a prepared "
		    "intermediate: activate it (ztiam ca rotate) before "
		    "starting with a new --ca-key-uri");
		goto out;
	}
	if ((err = prepare_intermediate(db, app, td, "active", token_key,
	    app->ca_key_uri, kid)) == ZT_OK &&
	    (err = zt_ca_generation_bump(db, td)) == ZT_OK)
		log_info("the token's key is the prepared intermediate: "
		    "ztiam ca rotate activates it", ZS("key_id", kid));
out:
	json_decref(list);
	return err;
}

/* POST /v1/ca/csr: a new intermediate key, kept prepared, and the
 * PKCS#10 request an upstream CA is to sign. */
static void
ca_csr(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	const char *td = app->identity.trust_domain;
	const char *type = "p256";
	char kid[ZT_CA_KEY_ID_MAX + 1] = "", scope[ZT_KEYS_SCOPE_MAX + 1];
	enum zt_ca_key_type kt;
	json_t *body, *list = NULL, *prepared;
	X509_REQ *csr = NULL;
	EVP_PKEY *key = NULL;
	BIO *b = NULL;
	char *pem = NULL;
	long n;
	int err;

	if (!ca_admin(req))
		return;
	if ((body = api_body(req, (zt_json_field[]){
	    { "key_type", ZT_J_STRING, false, &type, NULL },
	}, 1)) == NULL)
		return;
	if ((err = zt_ca_key_type_parse(type, &kt)) < 0 ||
	    (err = intermediates(&list, &prepared, api_db(req), td)) < 0)
		goto out;
	if (prepared) {
		err = zt_error_set(ZT_ECONFLICT, "an intermediate is prepared "
		    "already; activate it first (ztiam ca rotate)");
		goto out;
	}
	if ((err = zt_ca_key_generate(&key, kt)) < 0 ||
	    (err = zt_ca_intermediate_csr(&csr, key, td)) < 0 ||
	    (err = key_kid(kid, key)) < 0)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_X509_REQ(b, csr) || (n = BIO_pending(b)) <= 0 ||
	    (pem = calloc(1, (size_t)n + 1)) == NULL ||
	    BIO_read(b, pem, (int)n) != n) {
		err = zt_error_set(ZT_ENOMEM, "cannot encode the CSR");
		goto out;
	}
	scope_name(scope, sizeof(scope), td, "intermediate");
	err = ca_key_store(api_db(req), app->master_key, scope, kid,
	    "prepared", key, NULL, pem, NULL);
out:
	api_reply_result(req, err, 201, err ? NULL : json_pack("{s:s, s:s}",
	    "key_id", kid, "csr", pem));
	BIO_free(b);
	free(pem);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	json_decref(list);
	json_decref(body);
}

/* POST /v1/ca/import: the certificate the upstream CA signed for the
 * prepared key, with its chain up to the upstream root. */
static void
ca_import(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	const char *td = app->identity.trust_domain;
	const char *chain_pem = NULL, *kid = NULL;
	char scope[ZT_KEYS_SCOPE_MAX + 1];
	zt_actor actor = api_actor(req);
	zt_buf der = ZT_BUF_INIT(16384);
	json_t *body, *list = NULL, *prepared, *doc = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *text = NULL, *cpem = NULL, *up = NULL;
	int i, err;

	if (!ca_admin(req))
		return;
	if ((body = api_body(req, (zt_json_field[]){
	    { "chain", ZT_J_STRING, true, &chain_pem, NULL },
	}, 1)) == NULL)
		return;
	scope_name(scope, sizeof(scope), td, "intermediate");
	if ((err = intermediates(&list, &prepared, api_db(req), td)) < 0)
		goto out;
	if (prepared == NULL || json_object_get(json_object_get(prepared,
	    "public_jwk"), "csr") == NULL) {
		err = zt_error_set(ZT_ECONFLICT, "no intermediate waits for an "
		    "upstream certificate (ztiam ca csr first)");
		goto out;
	}
	kid = json_string_value(json_object_get(prepared, "kid"));
	if ((err = zt_keys_load_sealed(&der, api_db(req), app->master_key,
	    scope, kid)) < 0)
		goto out;
	if ((key = key_from_pkcs8(&der)) == NULL) {
		err = zt_error_set(ZT_ERR, "the prepared key does not load");
		goto out;
	}
	if ((err = zt_ca_import_chain(&cert, &chain, chain_pem,
	    strlen(chain_pem), key)) < 0)
		goto out;

	/* The document keeps the certificate and the chain above it. */
	cpem = zt_ca_x509_pem(cert);
	for (i = 0; i < sk_X509_num(chain); i++) {
		char *one = zt_ca_x509_pem(sk_X509_value(chain, i));
		char *joined = NULL;

		if (one == NULL || asprintf(&joined, "%s%s", up ? up : "",
		    one) < 0)
			joined = NULL;
		free(one);
		free(up);
		if ((up = joined) == NULL)
			break;
	}
	doc = json_pack("{s:s?, s:s?}", "cert", cpem, "chain", up);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (cpem == NULL || up == NULL || text == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = zt_keys_set_public(api_db(req), &actor, scope, kid,
	    text)) == ZT_OK)
		err = state_reload(app, api_db(req), true, 0);
out:
	api_reply_result(req, err, 200, err ? NULL : json_pack("{s:s, s:s}",
	    "key_id", kid, "state", "prepared"));
	if (der.data)
		zt_wipe(der.data, der.len);
	zt_buf_free(&der);
	free(text);
	free(cpem);
	free(up);
	json_decref(doc);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	json_decref(list);
	json_decref(body);
}

/* ---- public: bundle, CRL, OCSP ----------------------------------------------- */

static struct api_ca_state *
public_state(zt_req *req)
{
	struct api_ca_state *st = state_of(req);

	if (st == NULL)
		zt_reply_error(req, zt_error_set(ZT_EUNAVAIL, "no CA"));
	return st;
}

static void
bundle_json(zt_req *req)
{
	struct api_ca_state *st = public_state(req);
	json_t *doc;
	int err;

	if (st == NULL)
		return;
	if ((err = bundle_current(&doc, st, api_db(req))) < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 200, doc);
}

static void
bundle_pem(zt_req *req)
{
	struct api_ca_state *st = public_state(req);
	char *pem = NULL;

	if (st == NULL)
		return;
	if (zt_ca_bundle_pem(&pem, st->anchors, st->nanchors,
	    zt_now_ms()) < 0) {
		zt_reply_error(req, zt_error_code());
		return;
	}
	zt_reply(req, 200, "application/x-pem-file", pem, strlen(pem));
	free(pem);
}

/* The revocation epoch as this worker knows it: read from the database
 * at most once per EPOCH_POLL_MS, and at once after a revocation made by
 * this process. */
static int
epoch_now(struct api_ca_state *st, zt_db *db, int64_t *epoch)
{
	int64_t now = zt_now_ms(), local = atomic_load(&st->local_epoch);
	int err;

	if (tl_epoch < 0 || local != tl_local ||
	    now - tl_epoch_at >= EPOCH_POLL_MS) {
		if ((err = zt_ca_epoch(db, &tl_epoch)) < 0)
			return err;
		tl_epoch_at = now;
		tl_local = local;
	}
	*epoch = tl_epoch;
	return ZT_OK;
}

/* Serves the CRL of `e`, an entry of `st` (whose lock guards its cache:
 * the state the entry came from, even if a reload replaced it since). */
static void
crl_serve(zt_req *req, struct api_ca_state *st, struct ca_entry *e)
{
	int64_t epoch, now = zt_now_ms();
	uint8_t *der = NULL;
	size_t len = 0;
	int err;

	if ((err = epoch_now(st, api_db(req), &epoch)) < 0) {
		zt_reply_error(req, err);
		return;
	}
	pthread_mutex_lock(&st->lock);
	if (e->crl.der == NULL || e->crl.epoch < epoch ||
	    now - e->crl.made >= CRL_VALIDITY_S * 1000 / 2) {
		err = zt_ca_crl_generate(&der, &len, e->ca, api_db(req),
		    CRL_VALIDITY_S);
		if (err == ZT_OK) {
			free(e->crl.der);
			e->crl = (struct crl_cache){ der, len, epoch, now };
		}
	}
	if (err == ZT_OK)
		zt_reply(req, 200, "application/pkix-crl",
		    (const char *)e->crl.der, e->crl.len);
	pthread_mutex_unlock(&st->lock);
	if (err < 0)
		zt_reply_error(req, err);
}

static void
crl_active(zt_req *req)
{
	struct api_ca_state *st = public_state(req);
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->ncas; i++)
		if (st->cas[i].ca == st->active)
			crl_serve(req, st, &st->cas[i]);
}

static void
crl_by_key(zt_req *req)
{
	struct api_ca_state *st = public_state(req);
	const char *kid = zt_req_param(req, "key_id");
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->ncas; i++)
		if (strcmp(zt_ca_key_id(st->cas[i].ca), kid) == 0) {
			crl_serve(req, st, &st->cas[i]);
			return;
		}
	zt_reply_problem(req, 404, "not_found", "no CA key %s", kid);
}

/* Answers with the active CA; when the request names another issuer of
 * ours (a retired intermediate), with that one. */
static void
ocsp_answer(zt_req *req, const uint8_t *der, size_t len)
{
	struct api_ca_state *st = public_state(req);
	zt_ca_ocsp rsp = { .status = zt_ca_status_db,
	    .status_arg = api_db(req) };
	uint8_t *out = NULL;
	size_t outlen = 0, i;
	int err = ZT_OK;

	if (st == NULL)
		return;
	for (i = 0; i <= st->ncas; i++) {
		OCSP_RESPONSE *resp;
		const unsigned char *p;
		int status;

		/* The active CA first, then the others. */
		rsp.ca = i == 0 ? st->active : st->cas[i - 1].ca;
		if (i > 0 && rsp.ca == st->active)
			continue;
		free(out);
		out = NULL;
		if ((err = zt_ca_ocsp_respond(&out, &outlen, &rsp, der,
		    len)) < 0 || st->ncas == 1)
			break;
		p = out;
		resp = d2i_OCSP_RESPONSE(NULL, &p, (long)outlen);
		status = resp ? OCSP_response_status(resp) : -1;
		OCSP_RESPONSE_free(resp);
		if (status != OCSP_RESPONSE_STATUS_UNAUTHORIZED)
			break;
	}
	if (err < 0)
		zt_reply_error(req, err);
	else
		zt_reply(req, 200, "application/ocsp-response",
		    (const char *)out, outlen);
	free(out);
}

static void
ocsp_post(zt_req *req)
{
	size_t len = 0;
	const char *body = zt_req_body(req, &len);

	ocsp_answer(req, (const uint8_t *)body, body ? len : 0);
}

static void
ocsp_get(zt_req *req)
{
	uint8_t *der = NULL;
	size_t len = 0;

	if (zt_ca_ocsp_decode_get(&der, &len, zt_req_param(req, "req")) < 0) {
		/* Still an OCSP answer: malformedRequest. */
		ocsp_answer(req, (const uint8_t *)"", 0);
		return;
	}
	ocsp_answer(req, der, len);
	free(der);
}

int
api_ca_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
		{ ZT_GET, "/v1/ca", ca_show, "ca.show" },
		{ ZT_POST, "/v1/ca/rotate", ca_rotate, "ca.rotate" },
		{ ZT_POST, "/v1/ca/csr", ca_csr, "ca.csr" },
		{ ZT_POST, "/v1/ca/import", ca_import, "ca.import" },
		{ ZT_POST, "/v1/tenants/{tenant}/certificates", cert_issue,
		  "cert.issue" },
		{ ZT_GET, "/v1/tenants/{tenant}/certificates", cert_list,
		  "cert.list" },
		{ ZT_POST, "/v1/tenants/{tenant}/certificates/{serial}/revoke",
		  cert_revoke, "cert.revoke" },
		{ ZT_POST, "/v1/tenants/{tenant}/identities/{id}/certificates/"
		  "revoke", identity_revoke, "cert.revoke_identity" },
	};
	static const struct api_route public[] = {
		{ ZT_POST, "/v1/certificates/renew", cert_renew, "cert.renew" },
		{ ZT_POST, "/v1/tenants/{tenant}/identities/{id}/jwt-svids",
		  jwt_issue, "jwt_svid.issue" },
		{ ZT_GET, "/ca/bundle", bundle_json, "ca.bundle" },
		{ ZT_GET, "/ca/bundle.pem", bundle_pem, "ca.bundle_pem" },
		{ ZT_GET, "/ca/crl", crl_active, "ca.crl" },
		{ ZT_GET, "/ca/crl/{key_id}", crl_by_key, "ca.crl_key" },
		{ ZT_POST, "/ca/ocsp", ocsp_post, "ca.ocsp" },
		{ ZT_GET, "/ca/ocsp/{req}", ocsp_get, "ca.ocsp_get" },
	};
	size_t i;
	int err;

	if ((err = api_add_routes(srv, routes, ZT_ARRAY_LEN(routes))) < 0)
		return err;
	for (i = 0; i < ZT_ARRAY_LEN(public); i++)
		if ((err = zt_http_route(srv, public[i].methods,
		    public[i].pattern, public[i].fn, public[i].name,
		    ZT_ROUTE_PUBLIC)) < 0)
			return err;
	return ZT_OK;
}
