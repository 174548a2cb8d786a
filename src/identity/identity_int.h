/*
 * identity_int.h: what the files of the identity module share; not part of
 * its interface.
 *
 * Layout: common.c (scope, transactions, audit, validation, cursors),
 * schema.c (migrations), spiffe.c, attrs.c, tenant.c (tenants and account
 * systems), ident.c (identities and queries), account.c, group.c (groups
 * and the closure table), unit.c (organization units), import.c.
 */
#ifndef ZT_IDENTITY_INT_H
#define ZT_IDENTITY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "identity/identity.h"

/* An object id (ZT_ID_LEN characters): the time, then random bits; see
 * new_id() in common.c. */
#define ID_TIME_DIGITS 8
#define ID_RANDOM_BYTES 6

/* "/<id>/<id>/.../": one '/' then an id and a '/' per level. */
#define PATH_MAX_LEN (ZT_UNIT_DEPTH_MAX * (ZT_ID_LEN + 1) + 1)

/* Longest quote of caller input inside an error message. */
#define QUOTE_MAX 64

/* Room for "type:" plus an id in an audit target. */
#define TARGET_MAX 64

/* The caller's scope, resolved against the database for one call. */
struct scope {
	const char *tenant;		/* the tenant the call is about */
	bool subtree;			/* limited to the unit below */
	char unit[ZT_ID_LEN + 1];
	char lo[PATH_MAX_LEN + 1];	/* unit paths in scope are in */
	char hi[PATH_MAX_LEN + 1];	/* [lo, hi) */
};

/* common.c */
int scope_enter(struct scope *sc, const zt_id_ctx *cx, const char *tenant);
bool scope_has_path(const struct scope *sc, const char *path);
int scope_need_tenant_admin(const struct scope *sc);
int tenant_lock(zt_db *db, const char *tenant);
int tx_begin(const zt_id_ctx *cx);
int tx_end(const zt_id_ctx *cx, int err);
/* Runs the zt_identity_on_delete hooks for an object being deleted. */
int unlink_refs(const zt_id_ctx *cx, const char *tenant, const char *kind,
    const char *id);
int id_audit(const zt_id_ctx *cx, const char *action, const char *tenant,
    const char *type, const char *id, json_t *before, json_t *after);
const char *trust_domain(const zt_id_ctx *cx);

bool slug_ok(const char *s, size_t max);
bool name_ok(const char *s);
bool text_ok(const char *s, size_t max);
bool id_ok(const char *s);
int check_name(const char *field, const char *s);
int check_text(const char *field, const char *s, size_t max);
int check_enum(int *idx, const char *field, const char *v,
    const char *const *allowed);
int not_found(const char *what, const char *id);
int check_version(const char *what, int64_t have, int64_t want);
void quote(char out[QUOTE_MAX + 4], const char *s);
void prefix_hi(char *hi, size_t size, const char *lo);
int new_id(char out[ZT_ID_LEN + 1]);
/* An id from a time and ID_RANDOM_BYTES random bytes (the import draws
 * the bytes of a whole batch at once). */
void id_make(char out[ZT_ID_LEN + 1], int64_t ms,
    const uint8_t rnd[ID_RANDOM_BYTES]);
int page_limit(int *out, int limit);

int cursor_encode(json_t **out, char tag, const char *a, const char *b);
int cursor_decode(const char *cur, char tag, char *a, size_t alen, char *b,
    size_t blen);

/* attrs.c */
#define ATTRS_SIZE_MAX (16 * 1024)
int attrs_normalize(json_t **out, json_t *in);
int attrs_value_key(char **out, json_t *v, const char *field,
    const char *key);
int attrs_write(zt_db *db, const char *tenant, const char *id,
    const char *name, json_t *attrs);
int attrs_clear(zt_db *db, const char *tenant, const char *id);

/* ident.c */
extern const char *const identity_kinds[];
extern const char *const identity_states[];
int identity_check(const struct scope *sc, const zt_identity_spec *spec);
int identity_insert(json_t **out, const zt_id_ctx *cx,
    const struct scope *sc, const zt_identity_spec *spec);
int identity_fetch(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    const char *id);

/* account.c */
/* Login names: e-mail addresses run to 254 bytes. */
#define LOGIN_MAX 256
void login_fold(char out[LOGIN_MAX + 1], const char *login);
int account_check(const zt_account_spec *spec);
int account_insert(json_t **out, const zt_id_ctx *cx, const struct scope *sc,
    const zt_account_spec *spec, json_t *identity, bool system_known);
int acctsys_exists(zt_db *db, const char *tenant, const char *id);

/* tenant.c */
int acctsys_find_by_name(char id[ZT_ID_LEN + 1], zt_db *db,
    const char *tenant, const char *name);

/* unit.c */
int unit_path(char path[PATH_MAX_LEN + 1], zt_db *db, const struct scope *sc,
    const char *id);

/* group.c */
int group_create_org(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *unit, const char *name);
int group_delete_row(const zt_id_ctx *cx, const char *tenant,
    const char *id, json_t *before);
int group_rename_org(const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *name);

#endif
