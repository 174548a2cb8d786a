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
} zt_app;

struct api_token_cache;

/* What one worker thread owns. */
typedef struct zt_worker {
	zt_db *db;
	zt_principal principal;	/* the caller of the current request */
	struct api_token_cache *tokens;	/* recently verified tokens */
} zt_worker;

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
