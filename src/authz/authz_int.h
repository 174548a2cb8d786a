/* Shared by the files of authz/; not part of the module's interface. */
#ifndef ZT_AUTHZ_INT_H
#define ZT_AUTHZ_INT_H

#include "authz/authz.h"

/* The texts a revision is made of. */
typedef struct az_texts {
	const char *format;		/* "cedar" or "json" */
	const char *policies;
	const char *schema;		/* NULL: none (the tenant store) */
	const char *roles;		/* Cedar text compiled from the
					 * app's roles; NULL: none */
} az_texts;

/* Points `t` at the texts of revision document `doc` (NULL: an empty
 * store); *hold keeps them alive and is json_decref'd by the caller. */
int az_texts_of(az_texts *t, json_t **hold, json_t *doc);
/* Parses (and with a schema, validates) a policy set, appending every
 * fault to `errors` as {store, app, policy, line, column, message}. */
void az_check_texts(json_t *errors, const char *store, const char *app,
    const char *format, const char *policies, const char *schema);
/* A schema text in normal form (compact JSON), or a fault appended to
 * `errors` and *out NULL.  ZT_ENOMEM only. */
int az_schema_normal(char **out, const char *body, json_t *errors);
/* Compiles texts; `s` may be NULL when t->schema is; *roles is NULL
 * when t->roles is NULL or empty. */
int az_compile(zt_policy_set **ps, zt_policy_set **roles,
    zt_policy_schema **s, const az_texts *t);

/* ---- shared by store.c and roles.c ---- */

/* The caller may manage `tenant`'s applications (tenant administrator). */
int az_scope(const zt_id_ctx *cx, const char *tenant);
/* The application document of (tenant, appid), ZT_ENOTFOUND naming it. */
int az_app_fetch(json_t **out, zt_db *db, const char *tenant,
    const char *appid);
/* Raises the change counter: activation and subject caches follow. */
int az_bump_seq(zt_db *db);
/*
 * In the caller's transaction: stores a new revision of `appid`'s store
 * whose role policies are `roles` (NULL or "": none), its policies and
 * schema unchanged, after validating them against the schema (faults in
 * `errors`, ZT_EINVAL).  *rev is the new revision.
 */
int az_put_roles(int64_t *rev, json_t *errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *roles);
/* Appends to `roles` "<appid>/<role>" for every role granted to the
 * identity directly or to one of `group_ids` (its effective groups). */
int az_subject_roles(json_t *roles, zt_db *db, const char *tenant,
    const char *identity, json_t *group_ids);

#endif
