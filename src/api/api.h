/*
 * api: the HTTP handlers of `ztiam serve`.  Each handler parses its
 * request, calls one domain function with the worker's database connection
 * and the authenticated principal, and renders JSON.  No SQL and no crypto
 * here.
 */
#ifndef ZT_API_H
#define ZT_API_H

#include <stdbool.h>
#include <stdint.h>

#include "authn/authn.h"
#include "http/http.h"
#include "identity/identity.h"
#include "keys/keys.h"
#include "store/store.h"

/* What the whole server shares, read-only once serving. */
typedef struct zt_app {
	const char *db_url;
	const char *version;
	zt_identity_config identity;	/* trust domain */
	zt_session_config sessions;	/* idle and absolute lifetimes */
	zt_throttle *throttle;		/* login failures (authn.h) */
	zt_http *http;
	int64_t started_ms;
	const zt_master_key *master_key;	/* seals signing keys */
	struct api_ca_state *ca;	/* the certificate center (api/ca.c) */
	const char *public_url;		/* base of CRL and OCSP URLs, or NULL */
	int64_t ca_max_ttl;		/* cap on issued lifetimes; 0: profile's */
	/* The intermediate's key in a PKCS#11 token (docs/ca.md): its
	 * RFC 7512 URI, the module's path and the PIN; all NULL when the
	 * CA keys are sealed in the database. */
	const char *ca_key_uri;
	const char *ca_pkcs11_module;
	const char *ca_key_pin;
	/* ACME validation (api/acme.c): the ports http-01 and tls-alpn-01
	 * connect to (80, 443), and a test-only address every name
	 * resolves to (NULL: normal resolution; docs/acme.md). */
	int acme_http01_port;
	int acme_tlsalpn01_port;
	const char *acme_resolve;
	struct zt_authz *authz;		/* compiled policy stores (authz.h) */
	struct zt_dlog *dlog;		/* decision log, or NULL */
} zt_app;

struct api_token_cache;
struct api_authz_worker;
struct zt_authz;
struct zt_dlog;
struct api_ca_state;

/* What one worker thread owns. */
typedef struct zt_worker {
	zt_db *db;
	zt_principal principal;	/* the caller of the current request */
	struct api_token_cache *tokens;	/* recently verified tokens */
	struct api_authz_worker *authz;	/* policy view, user cache */
} zt_worker;

/*
 * The server's CA (api/ca.c): loads the trust domain's root and
 * intermediate (keys sealed by the keys module) into app->ca when the
 * database has them; otherwise they are made at their first use.  Called
 * once by `ztiam serve` after the migrations, before the workers start.
 */
int zt_api_ca_start(zt_app *app);
/* Makes the CA's roots trust anchors of app->http's mutual TLS (once it
 * exists; later loads of the CA do so themselves). */
void zt_api_ca_trust(zt_app *app);
void zt_api_ca_stop(zt_app *app);

/* Makes every worker forget the tokens it verified (after a revocation). */
void zt_api_tokens_changed(void);

/* Every module's migrations, in dependency order. */
extern const zt_migration_set *const zt_api_migrations[];
extern const size_t zt_api_nmigrations;

void *zt_api_worker_init(void *app, int index);
void zt_api_worker_fini(void *app, void *worker);
bool zt_api_auth(zt_req *req);
int zt_api_routes(zt_http *srv);

#endif
