/*
 * authz: the authorization service around the policy engine.
 *
 * Applications.  Each tenant registers the applications that ask it for
 * decisions; an application is named by an appid ([a-z0-9_-]{1,64}) that
 * is unique across the whole system, because a decision request names
 * only the appid.  Each application has one policy store holding a Cedar
 * policy set and a Cedar JSON schema; each tenant has one more store, the
 * tenant-wide one ("*"), whose policies apply to every application of the
 * tenant.
 *
 * Revisions.  Every change of a store is a new revision, numbered from 1
 * per store and kept whole (the policies, their format, the schema, who
 * and when), so that a revision can be read back and a decision names the
 * revisions it used.  An application's revision holds its policies and
 * its schema together, so that every revision is a consistent pair.  A
 * change is validated before it is stored: the application's policies
 * and the tenant-wide ones against the application's schema (strict
 * Cedar validation), the tenant-wide ones against every application's
 * schema.  A refused change stores nothing.
 *
 * Activation.  zt_authz holds the compiled form of every store in an
 * immutable, reference-counted snapshot.  A change compiles the changed
 * store, makes a new snapshot that shares the unchanged ones and swaps it
 * in; readers keep their snapshot until they see the generation change,
 * so a decision never waits for a compile (docs/architecture.md).
 *
 * Decisions.  A request in the applications' own format ({"appid",
 * "user", "action", "resource", "context"}) is mapped to Cedar entities
 * (docs/policy.md, "The decision service"), converted against the
 * application's schema (a request that does not fit is denied with
 * request_error, unevaluated), and decided against the application's
 * set, the set compiled from its roles and the tenant's set together: a
 * satisfied forbid in any denies.
 *
 * The calls that change stores follow identity.h's rules (zt_id_ctx,
 * scope, one transaction with its audit record, ZT_ENOTFOUND outside the
 * caller's tenant, ZT_EFORBIDDEN for unit administrators).
 */
#ifndef ZT_AUTHZ_H
#define ZT_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "identity/identity.h"
#include "policy/policy.h"

extern const zt_migration_set zt_authz_migrations;

/* appids: one URL path segment, short enough for log lines and keys. */
#define ZT_APPID_MAX		64
/* The store key of a tenant's tenant-wide store. */
#define ZT_AUTHZ_TENANT_STORE	"*"
/* Cedar namespaces of the entity types an application's requests use. */
#define ZT_AUTHZ_NS_MAX		128
/* A batch of decisions in one call. */
#define ZT_AUTHZ_BATCH_MAX	100

/* Checks an appid: 1-64 bytes of [a-z0-9_-]. */
bool zt_appid_valid(const char *appid);

/* ---- applications ------------------------------------------------------ */

/* An application document: appid, tenant, name, namespace, revision (of
 * its store, 0 before the first change), version, created_at,
 * updated_at.  `ns` is the Cedar namespace of its entity types ("" or
 * NULL: none). */
int zt_authz_app_create(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *name, const char *ns);
int zt_authz_app_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid);
int zt_authz_app_list(json_t **out, const zt_id_ctx *cx, const char *tenant);
/* Deletes the application with its store and every revision. */
int zt_authz_app_delete(const zt_id_ctx *cx, const char *tenant,
    const char *appid, int64_t version);

/* ---- stores and revisions ---------------------------------------------- */

/* ZT_AUTHZ_ROLES: the policies compiled from the application's roles,
 * written by the role calls only (zt_authz_store_put refuses it). */
enum zt_authz_part { ZT_AUTHZ_POLICIES, ZT_AUTHZ_SCHEMA, ZT_AUTHZ_ROLES };
enum zt_authz_format { ZT_AUTHZ_CEDAR, ZT_AUTHZ_JSON };

/*
 * Stores a new revision of a store: `appid` NULL means the tenant-wide
 * store (policies only).  `if_revision` is the revision the caller last
 * saw (0: do not check; ZT_ESTALE when it is not the current one).  A
 * policy set or schema that does not parse or validate is ZT_EINVAL
 * with every error in *errors ([{policy, line, column, message, app}],
 * owned by the caller; may be NULL on other failures); nothing is
 * stored.  Policies need the application's schema first (ZT_ECONFLICT).
 * *out is the new revision's document (as zt_authz_store_get).
 */
int zt_authz_store_put(json_t **out, json_t **errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, enum zt_authz_part part,
    enum zt_authz_format fmt, const char *body, size_t len,
    int64_t if_revision);
/* A revision ({revision, format, policies, schema, created_at,
 * created_by}); `revision` 0 is the current one.  ZT_ENOTFOUND before
 * the first change. */
int zt_authz_store_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid, int64_t revision);
/* Every revision of a store, newest first, without their texts. */
int zt_authz_store_revisions(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *appid);

/* Checks a policy text against a schema text offline, as a PUT would:
 * ZT_OK, or ZT_EINVAL with *errors as above. */
int zt_authz_validate(json_t **errors, enum zt_authz_format fmt,
    const char *policies, size_t plen, const char *schema, size_t slen);

/* ---- roles --------------------------------------------------------------
 *
 * Roles per application (roles.c).  A role's permissions are a JSON
 * array of {"actions": [names of actions or action groups],
 * "resource": "a:b:c" | "resource_prefix": "a:b" (optional, not both),
 * "when": "<Cedar condition>" (optional)}; each becomes the policy
 * `role:<role>:<n>` (n from 0) of the application's role policies,
 * validated against its schema and activated as a new revision of its
 * store.  Roles need the schema to declare Role with User in it
 * (ZT_ECONFLICT naming what to declare).  A grant gives a role to an
 * identity or a group; the decision service makes Role::"<appid>/<role>"
 * a parent of every principal holding it, directly or through groups.
 * Validation faults come back as for zt_authz_store_put (ZT_EINVAL with
 * *errors); every change is one transaction with its audit record
 * (role.create, role.update, role.delete, role.grant, role.revoke).
 */

#define ZT_ROLE_NAME_MAX	64
/* Permissions of one role: each is one policy. */
#define ZT_ROLE_PERMS_MAX	64

/* Checks a role name: 1-64 bytes of [A-Za-z0-9_.-]. */
bool zt_role_name_valid(const char *role);
/*
 * The Cedar text of one role's permissions (malloc'd, "" for none).
 * ZT_EINVAL naming the permission at fault, also for a condition that
 * would make more than the one policy.  The parser fuzz_authz_role runs.
 */
int zt_authz_role_policies(char **out, const char *ns, const char *appid,
    const char *role, json_t *permissions);
/* A role document: appid, role, description, permissions, version,
 * created_at, updated_at; after a change also revision (of the store). */
int zt_authz_role_create(json_t **out, json_t **errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *role,
    const char *description, json_t *permissions);
/* NULL description or permissions: keep.  `version` 0: no check. */
int zt_authz_role_update(json_t **out, json_t **errors, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *role,
    const char *description, json_t *permissions, int64_t version);
int zt_authz_role_get(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role);
int zt_authz_role_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid);
/* Deletes the role with its grants and its policies. */
int zt_authz_role_delete(const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role, int64_t version);
/* `kind` "identity" or "group", `subject` its id in the tenant.  A grant
 * document: id, appid, role, identity|group, created_by, created_at. */
int zt_authz_role_grant(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role, const char *kind,
    const char *subject);
int zt_authz_role_grants(json_t **out, const zt_id_ctx *cx,
    const char *tenant, const char *appid, const char *role);
int zt_authz_role_revoke(const zt_id_ctx *cx, const char *tenant,
    const char *appid, const char *role, const char *grant);
/* Revokes every grant to an identity or a group ("identity"|"group")
 * that is being deleted: a zt_identity_unlink_fn, registered by the
 * server with zt_identity_on_delete. */
int zt_authz_unlink_subject(const zt_id_ctx *cx, const char *tenant,
    const char *kind, const char *id);

/* ---- activation -------------------------------------------------------- */

typedef struct zt_authz zt_authz;
typedef struct zt_authz_snap zt_authz_snap;

int zt_authz_new(zt_authz **out);
/* Frees the registry; every reader must have released its view. */
void zt_authz_free(zt_authz *az);

/*
 * Brings the registry up to date with the database: reads the change
 * counter, and when it moved, compiles the stores whose revision changed
 * and publishes a new snapshot.  Called after every change made here and
 * every ZT_AUTHZ_POLL_MS by the poller, so a change made by another
 * node sharing the database is active here within that time.  Serialised
 * internally; never blocks readers.
 */
#define ZT_AUTHZ_POLL_MS 250
int zt_authz_refresh(zt_authz *az, zt_db *db);
/* Starts (and stops) a thread that refreshes on its own connection. */
int zt_authz_poller_start(zt_authz *az, const char *db_url);
void zt_authz_poller_stop(zt_authz *az);
/* How many snapshots were published (for tests and metrics). */
uint64_t zt_authz_generation(const zt_authz *az);

/*
 * Publishes one store compiled from source, as a refresh does for each
 * changed store.  `appid` NULL: the tenant-wide store of `tenant`.
 * Revision -1 with `policies` and `schema` NULL removes the store (and,
 * for an app, the app).  Exposed for tests and benchmarks.
 */
typedef struct zt_authz_source {
	const char *tenant;
	const char *appid;
	const char *ns;
	int64_t revision;
	enum zt_authz_format format;
	const char *policies;
	const char *schema;
	const char *roles;	/* Cedar text of the app's roles, or NULL */
} zt_authz_source;

int zt_authz_install(zt_authz *az, const zt_authz_source *src);

/*
 * A reader's hold on the current snapshot: one per thread, started with
 * ZT_AUTHZ_VIEW_INIT.  zt_authz_view_get returns the snapshot to decide
 * with; it changes only when a new one was published, and then costs a
 * short lock (once per change, not per call).
 */
typedef struct zt_authz_view {
	zt_authz_snap *snap;
	uint64_t gen;
} zt_authz_view;

#define ZT_AUTHZ_VIEW_INIT { NULL, 0 }

const zt_authz_snap *zt_authz_view_get(zt_authz *az, zt_authz_view *v);
void zt_authz_view_release(zt_authz_view *v);

/* The tenant of an application in a snapshot, or NULL when unknown. */
const char *zt_authz_app_tenant(const zt_authz_snap *s, const char *appid);

/* ---- decisions --------------------------------------------------------- */

/* A decision request, borrowing the strings of the JSON it came from. */
typedef struct zt_authz_request {
	const char *appid;
	const char *user;
	const char *action;
	const char *resource;
	json_t *context;	/* an object, or NULL */
} zt_authz_request;

/* Limits on the request's strings: names, not documents. */
#define ZT_AUTHZ_FIELD_MAX	1024
/* Resource paths split on ':' into at most this many levels. */
#define ZT_AUTHZ_RESOURCE_DEPTH	16

/*
 * Reads one decision request from a JSON object: the four strings are
 * required, "context" is an optional object; no other member.  ZT_EINVAL
 * naming the field at fault.
 */
int zt_authz_request_read(zt_authz_request *out, json_t *doc);
/* The same without the field `omit` ("user" or "action"), which is then
 * refused when present and left NULL: the enumeration questions. */
int zt_authz_request_read_without(zt_authz_request *out, json_t *doc,
    const char *omit);

/* The principal's identity data, as zt_authz_subject_load reads it. */
typedef struct zt_authz_subject {
	char id[ZT_ID_LEN + 1];		/* identity id */
	char name[ZT_NAME_MAX + 1];	/* identity name: the principal id */
	int64_t version;		/* of the identity */
	char state[16];			/* only "active" may be allowed */
	json_t *attributes;		/* object */
	json_t *groups;			/* role group names */
	json_t *units;			/* org unit ids, own unit first */
	json_t *roles;			/* "<appid>/<role>" granted to it
					 * or to one of its groups */
	/* The principal entity a decision last built from it, for the
	 * compiled store numbered entity_for (decide.c): a subject decided
	 * again against the same store reuses it. */
	json_t *entity;
	uint64_t entity_for;
} zt_authz_subject;

/*
 * Looks `user` up in `tenant`: an identity of that name (a person first,
 * then any kind), else an account with that login name in one of the
 * tenant's account systems (in the systems' name order); fills in its
 * attributes and effective groups.  ZT_ENOTFOUND when there is none.
 */
int zt_authz_subject_load(zt_authz_subject *out, zt_db *db,
    const zt_identity_config *cfg, const char *tenant, const char *user);
/* The same for an identity document already in hand (an item of
 * zt_identity_list): its groups and role grants are read. */
int zt_authz_subject_from(zt_authz_subject *out, zt_db *db,
    const zt_identity_config *cfg, const char *tenant, json_t *identity);
void zt_authz_subject_clear(zt_authz_subject *s);

/*
 * Decides one request against snapshot `s` for `sub` (NULL: the user is
 * unknown).  *out is the answer document: {decision, reason, message,
 * determining, errors, revisions}; `explain` adds "policies", one trace
 * per policy of both stores.  Reasons when denied without evaluation:
 * unknown_app, unknown_user, inactive_user (an identity that is not
 * active: staged, suspended, deprovisioned), unknown_action,
 * no_policies, request_error.  Returns ZT_OK or ZT_ENOMEM.
 */
int zt_authz_decide(json_t **out, const zt_authz_snap *s,
    const zt_authz_request *req, zt_authz_subject *sub, bool explain);

/*
 * "What may this principal do here?": decides `req` (its action
 * ignored) once for each action the application's schema declares in
 * its own Action type, groups included.  *out is {actions: [{action,
 * determining}] of those allowed, in schema order, revisions}; when a
 * reason denies every action alike (unknown_user, inactive_user,
 * no_policies, unknown_app) it adds reason and message.  Costs one
 * decision per declared action.
 */
int zt_authz_actions(json_t **out, const zt_authz_snap *s,
    const zt_authz_request *req, zt_authz_subject *sub);

/* ---- the decision log -------------------------------------------------- */

typedef struct zt_dlog zt_dlog;

typedef struct zt_dlog_config {
	const char *path;	/* NDJSON file, appended */
	double sample;		/* 0..1: the share of decisions logged */
	const char *mask;	/* comma-separated field names removed */
	size_t queue_max;	/* records waiting; 0: ZT_DLOG_QUEUE_DEFAULT */
} zt_dlog_config;

/* Enough for a few seconds of peak decisions while the disk stalls. */
#define ZT_DLOG_QUEUE_DEFAULT 65536
#define ZT_DLOG_MASK_MAX 32

int zt_dlog_open(zt_dlog **out, const zt_dlog_config *cfg);
/* Writes what is queued and stops the writer thread. */
void zt_dlog_close(zt_dlog *dl);
/*
 * Asks the writer to open the file again by its name before its next
 * write: after logrotate (or an operator) moved it away, new lines go to
 * a new file and none is lost.  Safe from any thread; NULL is a no-op.
 */
void zt_dlog_reopen(zt_dlog *dl);
/*
 * Offers one decision: `record` (taken, whatever happens) is dropped
 * when not sampled, else its masked fields are removed (under
 * "request") and it is serialised before this returns, so it may share
 * unmasked values with the caller's documents.  The line is queued for
 * the writer thread, or dropped and counted when the queue is full.
 * Never waits for I/O.
 */
void zt_dlog_submit(zt_dlog *dl, json_t *record);

typedef struct zt_dlog_stats {
	uint64_t queued;
	uint64_t written;
	uint64_t dropped;	/* the queue was full */
	uint64_t failed;	/* write errors */
} zt_dlog_stats;

void zt_dlog_stats_get(const zt_dlog *dl, zt_dlog_stats *out);
/* Waits until everything queued so far is written (tests). */
void zt_dlog_flush(zt_dlog *dl);

#endif
