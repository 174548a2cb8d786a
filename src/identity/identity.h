/*
 * identity: who exists.  Tenants, account systems, identities with their
 * SPIFFE IDs, attributes and lifecycle, accounts (login names), groups with
 * nesting, and organization units, together with the queries the rest of
 * the server asks of them.
 *
 * Every function takes a zt_id_ctx: the connection, the configuration, the
 * audit actor and the caller's scope (the whole system, one tenant, or one
 * organization unit's subtree in a tenant).  An object outside the scope,
 * or in another tenant, answers ZT_ENOTFOUND exactly as an absent one does.
 * A change runs in one transaction of its own, appends one audit record per
 * changed entity in it (the bulk import: one per batch), and leaves nothing
 * behind when it fails.  A caller must not hold a transaction open on the
 * connection.
 *
 * Results are jansson objects owned by the caller (json_decref them).
 * Objects carry an integer "version"; an update takes the version the
 * caller last saw (0: do not check) and answers ZT_ESTALE when the
 * object has changed since.  Times are RFC 3339 strings.
 *
 * Groups.  A group is a "role" group, made by an administrator, or an "org"
 * group, which every organization unit owns under the unit's own id.  Role
 * groups hold identities and other groups; nesting is kept acyclic, and a
 * closure table holds every (ancestor, descendant) pair so an identity's
 * effective groups are one indexed query.  An org group has no stored
 * members: it holds the identities of its unit and of all units below it.
 * An org group may itself be nested into role groups.
 *
 * Delegated scope.  A subtree-scoped caller sees identities whose unit lies
 * in the subtree, their accounts, the units of the subtree, and the groups
 * owned by a unit of the subtree: org groups by their own unit, role groups
 * by their optional owner unit (role groups without an owner are
 * tenant-wide and visible to tenant and system callers only).  Account
 * systems are visible to a subtree-scoped caller but only tenant and system
 * callers change them (ZT_EFORBIDDEN); only a system caller creates
 * tenants.
 */
#ifndef ZT_IDENTITY_H
#define ZT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "store/store.h"

/* ---- limits -------------------------------------------------------------- */

/* Tenant ids are one SPIFFE path segment and a DNS label's length. */
#define ZT_TENANT_ID_MAX	63
/* Object ids are 16 base64url characters: the creation time in
 * milliseconds, so that new rows cluster in the indexes, then 48 random
 * bits (see new_id in common.c). */
#define ZT_ID_LEN		16
/* Identity, account system and group names: long enough for host names
 * and service names, short enough that a SPIFFE ID stays far below the
 * spec's 2048 bytes. */
#define ZT_NAME_MAX		128
/* Org charts are a handful of levels deep; 32 bounds a unit path at
 * 32 * 17 + 1 bytes, well inside any index entry limit. */
#define ZT_UNIT_DEPTH_MAX	32
/* Role-group nesting depth: bounds the closure rows one change writes and
 * the work of the cycle report. */
#define ZT_GROUP_NEST_MAX	16
/* A page of any list: bounds the memory and time one request takes. */
#define ZT_PAGE_MAX		1000
#define ZT_PAGE_DEFAULT		100

/* ---- SPIFFE IDs ---------------------------------------------------------- */

/* Limits of the SPIFFE ID specification. */
#define ZT_SPIFFE_ID_MAX	2048
#define ZT_SPIFFE_TD_MAX	255
#define ZT_SPIFFE_TD_DEFAULT	"ztiam.local"

typedef struct zt_spiffe_id {
	char trust_domain[ZT_SPIFFE_TD_MAX + 1];
	char path[ZT_SPIFFE_ID_MAX + 1];	/* "" or "/seg/..." */
	size_t nsegs;				/* path segments */
} zt_spiffe_id;

/*
 * Parses `n` bytes of untrusted text as a SPIFFE ID: "spiffe://" in lower
 * case, a trust domain of 1 to 255 bytes of [a-z0-9._-] (so no port and
 * no user info), then zero or more "/segment" with segments of
 * [a-zA-Z0-9._-], neither "." nor "..", and no trailing slash; 2048 bytes
 * in all.  ZT_EINVAL with a message naming the first fault.  `out` may be
 * NULL to validate only.
 */
int zt_spiffe_id_parse(zt_spiffe_id *out, const char *s, size_t n);
/* The same for a NUL-terminated string. */
int zt_spiffe_id_validate(const char *s);
/* Checks one trust domain on its own (the configuration value). */
int zt_spiffe_td_validate(const char *td);

/* ---- context ------------------------------------------------------------- */

typedef struct zt_identity_config {
	const char *trust_domain;	/* NULL: ZT_SPIFFE_TD_DEFAULT */
} zt_identity_config;

#define ZT_IDENTITY_CONFIG_INIT { ZT_SPIFFE_TD_DEFAULT }

/* Checks a configuration before the server starts with it. */
int zt_identity_config_check(const zt_identity_config *cfg);

/* Who may see what: NULL tenant = the whole system; a tenant and NULL
 * unit = that tenant; both = that unit's subtree in that tenant. */
typedef struct zt_scope {
	const char *tenant;
	const char *unit;
} zt_scope;

typedef struct zt_id_ctx {
	zt_db *db;
	const zt_identity_config *cfg;	/* NULL: defaults */
	const zt_actor *actor;		/* recorded in the audit trail */
	zt_scope scope;
} zt_id_ctx;

extern const zt_migration_set zt_identity_migrations;

/*
 * Counts the identity-space transactions this process has committed.  A
 * cache of identity data read while the count was N is current for as
 * long as it stays N (read the count before the data); changes made by
 * another process on the same database are not counted.
 */
uint64_t zt_identity_generation(void);

/*
 * Another module's references to an identity or a group (`kind`
 * "identity" or "group"), removed inside the transaction that deletes
 * it, after the identity module's own rows: a grant to a person who no
 * longer exists goes with the person.  An error rolls the deletion back.
 * Register before the first deletion (at start-up, before the workers
 * run); at most ZT_IDENTITY_HOOKS_MAX.
 */
#define ZT_IDENTITY_HOOKS_MAX 4
typedef int (*zt_identity_unlink_fn)(const zt_id_ctx *cx,
    const char *tenant, const char *kind, const char *id);
int zt_identity_on_delete(zt_identity_unlink_fn fn);

/* ---- tenants ------------------------------------------------------------- */

/* `id` is a slug, [a-z0-9][a-z0-9-]{0,62}.  System scope only. */
int zt_tenant_create(json_t **out, const zt_id_ctx *cx, const char *id,
    const char *display_name);
int zt_tenant_get(json_t **out, const zt_id_ctx *cx, const char *id);
/* The tenants the caller sees, by id. */
int zt_tenant_list(json_t **out, const zt_id_ctx *cx);
int zt_tenant_update(json_t **out, const zt_id_ctx *cx, const char *id,
    const char *display_name, int64_t version);
/* Deletes an empty tenant (no identities, units, groups or account
 * systems left: ZT_ECONFLICT).  System scope only. */
int zt_tenant_delete(const zt_id_ctx *cx, const char *id, int64_t version);

/* ---- account systems ----------------------------------------------------- */

typedef struct zt_acctsys_spec {
	const char *name;	/* slug, unique in the tenant */
	const char *kind;	/* workforce, partner, customer, service */
	json_t *password_policy;/* NULL: defaults; see tenant.c */
	bool mfa_required;
} zt_acctsys_spec;

int zt_acctsys_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_acctsys_spec *spec);
int zt_acctsys_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id);
/* By its name in the tenant: one indexed read. */
int zt_acctsys_get_by_name(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *name);
int zt_acctsys_list(json_t **out, const zt_id_ctx *cx, const char *tenant);
/* Replaces policy and mfa_required; name and kind stay. */
int zt_acctsys_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const zt_acctsys_spec *spec, int64_t version);
/* Deletes an account system that holds no accounts (else ZT_ECONFLICT). */
int zt_acctsys_delete(const zt_id_ctx *cx, const char *tenant,
    const char *id, int64_t version);

/* ---- identities ---------------------------------------------------------- */

typedef struct zt_identity_spec {
	const char *kind;	/* person, device, service, application, api */
	const char *name;	/* [a-z0-9][a-z0-9._-]*, unique per kind */
	const char *state;	/* NULL: "staged" */
	const char *unit;	/* NULL: no unit (required in subtree scope) */
	json_t *attributes;	/* NULL: {}; see attrs.c for the rules */
} zt_identity_spec;

/* An identity document has: id, tenant, kind, name, spiffe_id, state,
 * unit_id, attributes, version, created_at, updated_at. */
int zt_identity_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_identity_spec *spec);
int zt_identity_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id);
/* The tenant comes from the ID; another trust domain is ZT_ENOTFOUND. */
int zt_identity_get_by_spiffe(json_t **out, const zt_id_ctx *cx,
    const char *spiffe_id);
/* Login names compare case-insensitively (ASCII) within the system. */
int zt_identity_get_by_login(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *system_id, const char *login_name);
/* Replaces the attributes. */
int zt_identity_set_attributes(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *id, json_t *attributes, int64_t version);
/* staged -> active, active <-> suspended, any -> deprovisioned (final). */
int zt_identity_set_state(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *id, const char *state, int64_t version);
/*
 * Several of the changes above in one transaction: each one present is
 * made and audited as its own call would (its own action and version
 * step), and all commit together or none does.  `version` is the one the
 * caller read; the result carries the last.
 */
typedef struct zt_identity_patch {
	json_t *attributes;		/* NULL: unchanged */
	bool set_unit;			/* false: unit unchanged */
	const char *unit;		/* with set_unit; NULL: no unit */
	const char *state;		/* NULL: unchanged */
} zt_identity_patch;

int zt_identity_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const zt_identity_patch *p, int64_t version);
/* Deletes the identity with its accounts, attributes and group
 * memberships; the audit record keeps what was removed. */
int zt_identity_delete(const zt_id_ctx *cx, const char *tenant,
    const char *id, int64_t version);
/* Moves the identity to another unit (NULL: none); its effective org
 * groups follow in the same transaction. */
int zt_identity_move(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *unit, int64_t version);

enum zt_identity_sort { ZT_SORT_NAME, ZT_SORT_CREATED };

/* Attribute filters a list may combine: each is a subquery, and a few
 * keep the number of distinct statements (and plans) per connection
 * small. */
#define ZT_QUERY_ATTRS_MAX 4

typedef struct zt_identity_query {
	const char *kind;		/* NULL: any */
	const char *state;		/* NULL: any */
	const char *name_prefix;	/* NULL: any */
	struct {
		const char *key;
		json_t *value;		/* a string, number or boolean; a
					 * set attribute matches when it
					 * holds the value */
	} attrs[ZT_QUERY_ATTRS_MAX];
	size_t nattrs;
	enum zt_identity_sort sort;
	const char *cursor;		/* NULL: first page */
	int limit;			/* 0: ZT_PAGE_DEFAULT */
} zt_identity_query;

/*
 * One page: {"items": [...], "next_cursor": "..." | null}.  Pages are cut
 * on (sort key, id), so rows inserted between two calls never repeat or
 * hide rows that were there before.  The cursor is opaque.
 */
int zt_identity_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_identity_query *q);

/* Every group the identity is in: direct, through nesting, and the org
 * groups of its unit and the units above; [{id, kind, name, unit_id,
 * depth}] by name, depth 0 = direct. */
int zt_identity_groups(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id);

/*
 * Bulk import of NDJSON, one identity per line:
 *   {"kind":..., "name":..., "state":..., "unit_id":..., "attributes":{},
 *    "accounts":[{"system":NAME or "system_id":ID, "login_name":...,
 *                 "state":...}]}
 * Lines go in batches of up to ZT_IMPORT_BATCH, one transaction each.
 * Each line is applied whole or not at all, and a bad line does not stop
 * the others: the outcome is that of one create after another.  Unlike
 * the single creates, a batch appends one audit record for all it made
 * (action "identity.import", target "tenant:<t>", after: {"identities":
 * [ids], "accounts": [ids]}), in its own transaction.  `cb` hears of
 * every line after its batch commits: rc ZT_OK with the new identity id,
 * or the error code and message.  Blank lines are skipped.  Returns ZT_OK
 * unless the import as a whole could not run (then lines not yet reported
 * were not applied).
 */
/* Lines per transaction.  At a million lines on SQLite, 500 and 1,000
 * were as fast as each other and faster than 5,000, whose working set
 * outgrew the caches (docs/benchmarks.md).  1,000 holds SQLite's one
 * write lock for about 0.05 s, which other writers wait out well inside
 * the store's busy timeout, and keeps a batch's audit record near 40 KB. */
#define ZT_IMPORT_BATCH 1000
/* One line of NDJSON: an identity, its attributes and a few accounts. */
#define ZT_IMPORT_LINE_MAX (64 * 1024)

typedef void (*zt_import_cb)(void *arg, size_t line, int rc,
    const char *id_or_msg);

typedef struct zt_import_stats {
	size_t lines;		/* non-blank lines seen */
	size_t ok;
	size_t failed;
} zt_import_stats;

int zt_identity_import(zt_import_stats *out, const zt_id_ctx *cx,
    const char *tenant, const char *data, size_t len, zt_import_cb cb,
    void *arg);

/* ---- accounts ------------------------------------------------------------ */

typedef struct zt_account_spec {
	const char *identity;	/* identity id */
	const char *system;	/* account system id */
	const char *login_name;	/* 1-256 bytes of UTF-8, no controls */
	const char *state;	/* NULL: "active"; or "disabled" */
} zt_account_spec;

int zt_account_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_account_spec *spec);
int zt_account_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id);
/* The accounts of one identity. */
int zt_account_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *identity);
int zt_account_set_state(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *id, const char *state, int64_t version);
int zt_account_delete(const zt_id_ctx *cx, const char *tenant,
    const char *id, int64_t version);

/* ---- groups -------------------------------------------------------------- */

typedef struct zt_group_spec {
	const char *name;	/* unique among the tenant's role groups */
	const char *unit;	/* owner unit, or NULL: tenant-wide */
	const char *description;/* NULL: "" */
} zt_group_spec;

/* Creates a role group (org groups come with their units). */
int zt_group_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const zt_group_spec *spec);
int zt_group_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id);
/* A page of the groups the caller sees, by name; same shape as
 * zt_identity_list. */
int zt_group_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *cursor, int limit);
/* Renames a role group or changes its description (NULL: keep). */
int zt_group_update(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *name, const char *description,
    int64_t version);
/* Deletes an empty role group that is in no other group. */
int zt_group_delete(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version);

enum zt_member_type { ZT_MEMBER_IDENTITY, ZT_MEMBER_GROUP };

/* Adds an identity or a group to a role group.  ZT_EEXISTS when already
 * there, ZT_ECONFLICT (naming the cycle) when the group would contain
 * itself. */
int zt_group_member_add(const zt_id_ctx *cx, const char *tenant,
    const char *group, enum zt_member_type type, const char *member);
int zt_group_member_remove(const zt_id_ctx *cx, const char *tenant,
    const char *group, enum zt_member_type type, const char *member);

/*
 * A page of members.  Direct: [{type, id, name, kind}] of the group's own
 * members (for an org group, the identities of its unit).  Effective:
 * the identities in the group by any path, by id, each page costing the
 * same whatever its position.
 */
int zt_group_members(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *group, bool effective, const char *cursor, int limit);

/* ---- organization units -------------------------------------------------- */

/* A unit document: id, tenant, parent_id, name, path, version,
 * created_at, updated_at.  The unit's org group has the unit's id. */
int zt_unit_create(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *parent, const char *name);
int zt_unit_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id);
/* The children of `parent` (NULL: the top units the caller sees). */
int zt_unit_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *parent);
int zt_unit_rename(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *name, int64_t version);
/* Moves a unit and everything below it under `parent` (NULL: to the top)
 * with one UPDATE of the subtree's unit paths. */
int zt_unit_move(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *id, const char *parent, int64_t version);
/* Deletes a unit with no sub-units, identities or owned role groups, whose
 * org group is in no other group. */
int zt_unit_delete(const zt_id_ctx *cx, const char *tenant, const char *id,
    int64_t version);

#endif
