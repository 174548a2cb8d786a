/*
 * oidc: the OAuth 2.0 / OpenID Connect provider.
 *
 * So far: the registry of clients.  A client belongs to one issuer, that
 * is one account system of one tenant, and is described by the client
 * metadata of RFC 7591 section 2 (with the OpenID Connect Dynamic Client
 * Registration names where OAuth has none).  The registry checks the
 * metadata as a whole when a client is made or changed: redirect URIs
 * that a browser may be sent to (RFC 8252 for native apps, RFC 9700 for
 * the rest), grant and response types that agree, an authentication
 * method that fits the grants.
 *
 * A confidential client gets a secret of 256 random bits, returned once
 * (when made, and when rotated); the registry keeps its SHA-256 only,
 * which suffices for a value of that entropy (no password hashing
 * needed), and compares in constant time.
 *
 * The calls follow the identity module's rules (see identity.h): a
 * zt_id_ctx gives the connection, the audit actor and the caller's scope;
 * a client outside the caller's tenant is ZT_ENOTFOUND; a unit
 * administrator may not manage clients (ZT_EFORBIDDEN); each change is
 * one transaction with its audit record; updates take the version read.
 * No secret or secret hash is ever in a document or an audit record.
 */
#ifndef ZT_OIDC_H
#define ZT_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "identity/identity.h"

extern const zt_migration_set zt_oidc_migrations;

/* Client ids: 22 base64url characters (128 random bits). */
#define ZT_CLIENT_ID_LEN	22
/* Secrets: "ztcs_" and 43 base64url characters (256 random bits). */
#define ZT_CLIENT_SECRET_LEN	48
/* Limits on metadata a client may register. */
#define ZT_CLIENT_URIS_MAX	32
#define ZT_CLIENT_URI_MAX	2048
#define ZT_CLIENT_NAME_MAX	200
#define ZT_CLIENT_SCOPE_MAX	1024
#define ZT_CLIENT_JWKS_MAX	(16 * 1024)

/*
 * Checks client metadata and fills in defaults: `in` is the JSON object a
 * caller sent, *out the normal form the registry keeps (fields it does not
 * know are refused).  Exposed for the fuzz harness and for dynamic
 * registration.  ZT_EINVAL names the field at fault.
 */
int zt_client_metadata(json_t **out, json_t *in);

/*
 * Registers a client of `tenant` whose metadata `meta` names its account
 * system ("account_system": the system's name).  The document in *out
 * carries "client_id" and, for a confidential client, "client_secret"
 * (the only time it is shown).
 */
int zt_client_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    json_t *meta);
int zt_client_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *client_id);
/* Every client of the tenant, by client_id (a tenant has tens, not
 * thousands). */
int zt_client_list(json_t **out, const zt_id_ctx *cx, const char *tenant);
/* Replaces the metadata; the account system and the authentication
 * method's kind (with or without a secret) stay. */
int zt_client_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *client_id, json_t *meta, int64_t version);
/* A new secret; the old one stops working at once. */
int zt_client_rotate_secret(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *client_id, int64_t version);
int zt_client_delete(const zt_id_ctx *cx, const char *tenant,
    const char *client_id, int64_t version);

/*
 * True when `secret` is the current secret of the client; false for an
 * unknown client, a client without a secret, or a wrong secret, after the
 * same work in each case.  Reads only.
 */
bool zt_client_secret_ok(zt_db *db, const char *tenant,
    const char *client_id, const char *secret);

#endif
