/*
 * policy: the Cedar policy language, parsed, indexed and evaluated in C.
 *
 * A policy set is parsed once from Cedar's text syntax into an immutable,
 * indexed form that many threads may read at once.  An entity store (the
 * principals, actions and resources with their attributes and parents) is
 * loaded from Cedar's entities JSON, with every entity's ancestors worked
 * out up front so a hierarchy test is a lookup.  A request names the
 * principal, action and resource and carries a context record; a decision
 * applies Cedar's rules: any satisfied forbid denies, otherwise any
 * satisfied permit allows, otherwise the answer is deny.  A policy whose
 * condition raises an error (wrong type, missing attribute, overflow,
 * bad extension argument) is skipped and reported, exactly as Cedar does,
 * which means an errored forbid does not deny: callers that want to fail
 * closed must validate requests before deciding (a later schema layer).
 *
 * Ownership: every object handed back through an `out` parameter belongs
 * to the caller and is freed with its own _free function.  Strings in an
 * answer are borrowed from the policy set and live as long as it does.
 *
 * Not here yet: templates, schema validation, the Cedar JSON policy
 * format, datetime and duration, entity tags.
 */
#ifndef ZT_POLICY_H
#define ZT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct zt_policy_set zt_policy_set;
typedef struct zt_entities zt_entities;
typedef struct zt_policy_context zt_policy_context;
struct zp_scratch;

/* ---- policy sets --------------------------------------------------- */

/* Where and why a policy text was refused; line and column count from 1,
 * the column in bytes. */
typedef struct zt_policy_error {
	int line;
	int column;
	char message[192];
} zt_policy_error;

/*
 * Parses a whole policy set (zero or more policies) from Cedar text.  Each
 * policy's id is its @id("...") annotation, or "policyN" for the N-th
 * policy (from 0) when it has none; two policies may not share an id.
 * Returns ZT_EINVAL with `err` (may be NULL) and the thread's error
 * message naming the line and column of the first fault, ZT_ETOOBIG for a
 * text over 16 MiB, or ZT_ENOMEM.
 */
int zt_policy_set_parse(zt_policy_set **out, const char *text, size_t len,
    zt_policy_error *err);
void zt_policy_set_free(zt_policy_set *ps);
size_t zt_policy_set_count(const zt_policy_set *ps);
/* The id of the i-th policy, or NULL past the end. */
const char *zt_policy_set_id(const zt_policy_set *ps, size_t i);

/* ---- entities and requests ----------------------------------------- */

/* An entity reference: type ("User", "App::Role") and id, each with a
 * length because Cedar ids may hold any bytes, NUL included. */
typedef struct zt_policy_uid {
	const char *type;
	size_t type_len;
	const char *id;
	size_t id_len;
} zt_policy_uid;

#define ZT_POLICY_UID(t, i) \
	((zt_policy_uid){ (t), strlen(t), (i), strlen(i) })

/*
 * Loads entities from Cedar's entities JSON: an array of
 * {"uid": {"type": T, "id": I}, "attrs": {...}, "parents": [uid, ...]}.
 * Attribute values are JSON booleans, integers, strings, arrays (sets) and
 * objects (records), with {"__entity": uid} for an entity reference and
 * {"__extn": {"fn": "ip"|"decimal", "arg": S}} for an extension value.
 * Duplicate uids, cycles in the parent graph and malformed values are
 * ZT_EINVAL with a message.
 */
int zt_entities_from_json(zt_entities **out, const char *json, size_t len);
void zt_entities_free(zt_entities *es);
size_t zt_entities_count(const zt_entities *es);

/* Parses a request's context: a JSON object whose values follow the
 * attribute rules above. */
int zt_policy_context_from_json(zt_policy_context **out, const char *json,
    size_t len);
void zt_policy_context_free(zt_policy_context *ctx);

typedef struct zt_policy_request {
	zt_policy_uid principal;
	zt_policy_uid action;
	zt_policy_uid resource;
	const zt_policy_context *context;	/* NULL: the empty record */
} zt_policy_request;

/* ---- decisions ------------------------------------------------------ */

enum zt_policy_decision { ZT_POLICY_DENY = 0, ZT_POLICY_ALLOW = 1 };

/* One policy that raised an error while being evaluated. */
typedef struct zt_policy_diag {
	const char *policy_id;		/* borrowed from the policy set */
	char message[160];
} zt_policy_diag;

/*
 * The outcome of a decision, reused from one decision to the next: keep
 * one per thread, start it with ZT_POLICY_ANSWER_INIT and free it with
 * zt_policy_answer_free.  Once its arrays and scratch space have grown to
 * fit the workload, a decision allocates nothing.
 */
typedef struct zt_policy_answer {
	enum zt_policy_decision decision;
	/* The satisfied forbids when denied by a forbid, the satisfied
	 * permits when allowed, none for the default deny; in policy set
	 * order. */
	const char **determining;
	size_t ndetermining;
	zt_policy_diag *errors;		/* policies skipped: errors */
	size_t nerrors;
	size_t cap_determining;		/* private from here on */
	size_t cap_errors;
	struct zp_scratch *scratch;
} zt_policy_answer;

#define ZT_POLICY_ANSWER_INIT { ZT_POLICY_DENY, NULL, 0, NULL, 0, 0, 0, NULL }

void zt_policy_answer_free(zt_policy_answer *ans);

/*
 * Decides one request.  `es` may be NULL (no entities: no attributes and no
 * ancestors).  The set and store are only read, so threads may share them.
 * Returns ZT_OK with the decision in `ans`, or ZT_ENOMEM (the answer then
 * says deny); errors inside policies are not failures of the call, they
 * are listed in ans->errors.
 */
int zt_policy_decide(zt_policy_answer *ans, const zt_policy_set *ps,
    const zt_entities *es, const zt_policy_request *req);

#endif
