/*
 * audit: the tamper-evident trail of every change.
 *
 * Each mutation appends a record in the same transaction as the change it
 * describes: who (actor), in which tenant, what (action, target), under
 * which request id, when, and a summary of the state before and after.
 * Records are numbered without gaps and each stores the SHA-256 of its
 * predecessor, so editing, deleting or reordering any record breaks the
 * chain at that record; zt_audit_verify() finds the first break.  A head row
 * holds the number and hash of the newest record, so cutting records off
 * the end is caught too.
 */
#ifndef ZT_AUDIT_H
#define ZT_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* Who is acting: filled by the API layer from the authenticated token, or
 * by the server itself ("system") for bootstrap and maintenance. */
typedef struct zt_actor {
	const char *id;		/* "token:<id>" or "system" */
	const char *tenant;	/* actor's tenant scope; NULL = whole system */
	const char *request_id;	/* NULL outside a request */
} zt_actor;

typedef struct zt_audit_entry {
	const char *action;	/* "token.create" */
	const char *tenant;	/* tenant the change belongs to, or NULL */
	const char *target;	/* "token:abc" */
	json_t *before;		/* borrowed; NULL when created */
	json_t *after;		/* borrowed; NULL when deleted */
} zt_audit_entry;

extern const zt_migration_set zt_audit_migrations;

/* Appends one record.  Must run inside the caller's write transaction. */
int zt_audit_append(zt_db *db, const zt_actor *actor,
    const zt_audit_entry *e);
/* Appends n records in order, actors[i] doing entries[i], with one
 * claim of n numbers and one write of the head (a group commit's
 * records).  Must run inside the caller's write transaction. */
int zt_audit_append_n(zt_db *db, const zt_actor *const *actors,
    const zt_audit_entry *const *entries, size_t n);
/* Appends one record of a change to the object `type`:`id` ("client:abc"), or to
 * `type` alone when `id` is NULL, inside the caller's transaction. */
int zt_audit_change(zt_db *db, const zt_actor *actor, const char *action,
    const char *tenant, const char *type, const char *id, json_t *before,
    json_t *after);

typedef struct zt_audit_report {
	int64_t records;	/* records checked */
	int64_t first_bad;	/* seq of the first bad record, 0 if none */
	char reason[200];	/* what is wrong with it */
} zt_audit_report;

/* Walks the whole chain.  ZT_OK when intact; ZT_ECONFLICT when broken,
 * with the first bad record named in `out`. */
int zt_audit_verify(zt_db *db, zt_audit_report *out);

/* Lists records after `after_seq`, oldest first, at most `limit`; only the
 * given tenant's when `tenant` is non-NULL, and only those made by `actor`
 * when it is non-NULL.  Sets *next to the last seq returned (the cursor
 * for the next page). */
int zt_audit_list(zt_db *db, const char *tenant, const char *actor,
    int64_t after_seq, int limit, json_t **out, int64_t *next);

#endif
