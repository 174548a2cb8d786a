/*
 * authn: proving who a caller is.  For now: bearer API tokens.
 *
 * A token is "ztiam_" followed by 256 random bits in base64url.  It is shown
 * once, at creation; the database keeps only its SHA-256 (the token's own
 * entropy makes a slow hash pointless), so a copy of the database grants
 * nothing.  Each token has a scope: the whole system (administrators), one
 * tenant, or one organization unit's subtree in a tenant (delegated
 * administration).  Tokens expire and can be revoked; both take effect on the
 * next request.
 */
#ifndef ZT_AUTHN_H
#define ZT_AUTHN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "store/store.h"

#define ZT_TOKEN_PREFIX "ztiam_"
/* Prefix, 43 base64url characters for 32 bytes, NUL. */
#define ZT_TOKEN_LEN (sizeof(ZT_TOKEN_PREFIX) - 1 + 43)
#define ZT_TOKEN_ID_LEN 16	/* 12 random bytes in base64url */
#define ZT_TENANT_MAX 63	/* as identity's ZT_TENANT_ID_MAX */
#define ZT_UNIT_ID_MAX 32	/* org unit ids are 16 characters today */

/* The authenticated caller of a request. */
typedef struct zt_principal {
	char token_id[ZT_TOKEN_ID_LEN + 1];
	char actor[ZT_TOKEN_ID_LEN + 8];	/* "token:<id>" for audit */
	char tenant[ZT_TENANT_MAX + 1];		/* empty for system scope */
	char unit[ZT_UNIT_ID_MAX + 1];		/* org unit subtree, or empty */
	bool system;				/* may act on every tenant */
	int64_t expires_at;			/* ms, 0 = never */
} zt_principal;

typedef struct zt_token_spec {
	const char *name;	/* a label for people: "ci-deploy" */
	const char *tenant;	/* NULL: system scope */
	const char *unit;	/* NULL, or an org unit: delegated admin of
				 * that subtree (the caller checks that the
				 * unit exists and is within its own scope) */
	int64_t ttl_s;		/* 0: never expires */
} zt_token_spec;

extern const zt_migration_set zt_authn_migrations;

/*
 * Creates a token.  `secret` receives the token text, to be shown once and
 * then wiped by the caller; `*info` the stored description (no secret).
 * Audited.  Only a system principal creates system-scope tokens; a tenant
 * principal creates tokens of its own tenant only.
 */
int zt_token_create(zt_db *db, const zt_actor *actor,
    const zt_principal *who, const zt_token_spec *spec,
    char secret[ZT_TOKEN_LEN + 1], json_t **info);

/* Checks a spec's syntax and `who`'s right to it, before any lookup. */
int zt_token_spec_check(const zt_principal *who, const zt_token_spec *spec);

/* Checks a presented token.  ZT_ENOTFOUND for a token that is malformed,
 * unknown, expired or revoked, with no hint which. */
int zt_token_verify(zt_db *db, const char *token, zt_principal *out);

/* Lists the tokens `who` may see (its tenant's, or all for system). */
int zt_token_list(zt_db *db, const zt_principal *who, json_t **out);
int zt_token_get(zt_db *db, const zt_principal *who, const char *id,
    json_t **out);
/* Revokes a token; audited.  ZT_ENOTFOUND outside `who`'s scope. */
int zt_token_revoke(zt_db *db, const zt_actor *actor,
    const zt_principal *who, const char *id);

/* Revokes every live token of a tenant (after the tenant is deleted);
 * audited as one record.  System principals only. */
int zt_token_revoke_tenant(zt_db *db, const zt_actor *actor,
    const char *tenant, int64_t *count);

/* The principal the server acts as for its own changes. */
void zt_principal_system(zt_principal *out);

/*
 * On the first start (no token exists yet), creates the system
 * administrator's token and returns it in `secret`; *created says whether
 * it did.  Runs in one transaction, so two nodes starting together create
 * one administrator between them.
 */
int zt_bootstrap(zt_db *db, char secret[ZT_TOKEN_LEN + 1], bool *created);

#endif
