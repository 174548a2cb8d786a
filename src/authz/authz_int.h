/* Shared by the files of authz/; not part of the module's interface. */
#ifndef ZT_AUTHZ_INT_H
#define ZT_AUTHZ_INT_H

#include "authz/authz.h"

/* The texts a revision is made of. */
typedef struct az_texts {
	const char *format;		/* "cedar" or "json" */
	const char *policies;
	const char *schema;		/* NULL: none (the tenant store) */
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
/* Compiles texts; `s` may be NULL when t->schema is. */
int az_compile(zt_policy_set **ps, zt_policy_schema **s, const az_texts *t);

#endif
