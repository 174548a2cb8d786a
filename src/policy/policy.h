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
 * closed convert requests against a schema before deciding (below).
 *
 * Ownership: every object handed back through an `out` parameter belongs
 * to the caller and is freed with its own _free function.  Strings in an
 * answer are borrowed from the policy set and live as long as it does.
 *
 * Policies come as Cedar text or Cedar's JSON policy format, with the
 * extension types ipaddr, decimal, datetime and duration, and templates
 * whose links are indexed like static policies.  A schema in Cedar's
 * JSON schema format validates a policy set (strict mode: refuse the set
 * on any error) and converts request data to its declared types, so that
 * ztiam can refuse a request that does not fit instead of letting Cedar
 * skip an errored forbid.  docs/policy.md describes the language subset,
 * the conversion rules and the limits.
 *
 * Not here yet: entity tags (getTag, hasTag), enumerated entity types,
 * the human-readable schema syntax, partial evaluation.
 */
#ifndef ZT_POLICY_H
#define ZT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct zt_policy_set zt_policy_set;
typedef struct zt_entities zt_entities;
typedef struct zt_policy_context zt_policy_context;
typedef struct zt_policy_schema zt_policy_schema;
struct zp_scratch;

/* ---- entity references ------------------------------------------- */

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
/*
 * Parses a policy set in Cedar's JSON policy format: {"staticPolicies":
 * {id: policy}, "templates": {id: policy}, "templateLinks": [{"templateId",
 * "newId", "values": {"?principal": uid, "?resource": uid}}]}, or one
 * policy object on its own (id "policy0").  The policies become the same
 * as their text form would.  JSON carries no positions for its parts, so
 * `err` has line and column 0 and a message naming the policy id; the
 * same message is the thread's error.  ZT_EINVAL, ZT_ETOOBIG (over 16
 * MiB) or ZT_ENOMEM.
 */
int zt_policy_set_parse_json(zt_policy_set **out, const char *json,
    size_t len, zt_policy_error *err);
void zt_policy_set_free(zt_policy_set *ps);
size_t zt_policy_set_count(const zt_policy_set *ps);
/* The id of the i-th policy, or NULL past the end.  Policies are the
 * static ones and the links, not the templates. */
const char *zt_policy_set_id(const zt_policy_set *ps, size_t i);

/* ---- templates ------------------------------------------------------ */

/*
 * A policy whose principal or resource scope names a slot instead of an
 * entity (`principal == ?principal`, `principal in ?principal`,
 * `principal is T in ?principal`, the same for ?resource) is a template.
 * Templates are parsed with the set and listed apart from its policies;
 * they decide nothing until linked.  A link gives a template's slots
 * their entities under a new policy id; the linked policy is indexed and
 * decided like a static one, and answers name it by its link id.
 */
size_t zt_policy_set_template_count(const zt_policy_set *ps);
const char *zt_policy_set_template_id(const zt_policy_set *ps, size_t i);
/* The template the i-th policy was linked from, NULL for a static one. */
const char *zt_policy_set_template_of(const zt_policy_set *ps, size_t i);

/*
 * Links template `template_id` as policy `link_id`, which must be a new
 * id.  `principal` and `resource` fill the slots: each must be given
 * (non-NULL) exactly when the template has that slot, else ZT_EINVAL
 * with a message naming the missing or extra slot; ZT_EINVAL also for
 * an unknown template or a taken id.  The entities are copied.
 *
 * Linking and unlinking modify the set: do them before the set is shared
 * with threads that decide on it.  Each call re-indexes the whole set;
 * to load many links at once use zt_policy_set_parse_json.  After
 * ZT_ENOMEM the set must be freed.
 */
int zt_policy_set_link(zt_policy_set *ps, const char *template_id,
    const char *link_id, const zt_policy_uid *principal,
    const zt_policy_uid *resource);
/* Removes a link; ZT_ENOTFOUND for an unknown id, ZT_EINVAL for the id
 * of a static policy. */
int zt_policy_set_unlink(zt_policy_set *ps, const char *link_id);

/* ---- schemas -------------------------------------------------------- */

/*
 * Reads a schema in Cedar's JSON schema format: namespaces holding
 * entityTypes (memberOfTypes, a shape record whose attributes may say
 * "required": false), actions (memberOf, appliesTo with principalTypes,
 * resourceTypes and a context record) and commonTypes; the types Long,
 * String, Boolean, Set, Record, Entity and the extensions ipaddr,
 * decimal, datetime and duration.  ZT_EINVAL with a message naming the
 * entity type, action or common type at fault (unknown names, cycles in
 * common types or actions, entity tags and enums, which are not
 * supported), ZT_ETOOBIG over 16 MiB, or ZT_ENOMEM.
 */
int zt_policy_schema_from_json(zt_policy_schema **out, const char *json,
    size_t len);
void zt_policy_schema_free(zt_policy_schema *s);
size_t zt_policy_schema_action_count(const zt_policy_schema *s);
size_t zt_policy_schema_entity_type_count(const zt_policy_schema *s);

/* One validation error: the policy (borrowed from the set), where in its
 * text (0, 0 for a JSON policy without positions) and what. */
typedef struct zt_policy_verror {
	const char *policy_id;
	int line;
	int column;
	char message[160];
} zt_policy_verror;

/* The errors of one validation; start with ZT_POLICY_VALIDATION_INIT,
 * free with zt_policy_validation_free. */
typedef struct zt_policy_validation {
	zt_policy_verror *errors;
	size_t nerrors;
	size_t cap;		/* private */
} zt_policy_validation;

#define ZT_POLICY_VALIDATION_INIT { NULL, 0, 0 }

/*
 * Type-checks every policy, template and link of the set against the
 * schema (a template's slot standing for any entity), as Cedar's strict
 * validator does: unknown entity types, actions and attributes, optional
 * attributes read without a `has` test, operand type mismatches, set and
 * if-branch types that differ, invalid extension literals, and scopes no
 * schema action can match.  ZT_OK when the set is valid; ZT_EINVAL when
 * it is not, with every error in `out` and the first as the thread's
 * message: such a set must be refused as a whole.  ZT_ENOMEM.
 */
int zt_policy_validate(zt_policy_validation *out, const zt_policy_set *ps,
    const zt_policy_schema *s);
void zt_policy_validation_free(zt_policy_validation *out);

/* ---- entities and requests ----------------------------------------- */

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

/* ---- requests converted against a schema (fail closed) ------------- */

/*
 * The schema-aware forms of the loaders above.  Every value is converted
 * to the type the schema declares, or refused: a Long from a JSON integer
 * or a string holding exactly a decimal integer in range ("90"), a
 * Boolean from a boolean or "true"/"false", an ipaddr, decimal, datetime
 * or duration from its string form (or its __extn form), an entity from
 * {"type", "id"} of the declared type or a plain id string; records must
 * hold every required attribute and no undeclared one.  A refusal is
 * ZT_EINVAL with a message naming the attribute's path and the type
 * wanted (never the value): the caller denies the request with a
 * request_error and does not evaluate it.
 *
 * zt_policy_context_from_json_schema converts a context to the context
 * type of `action`, which must be a schema action.
 * zt_entities_from_json_schema also refuses entity types the schema does
 * not declare (declared actions pass as they are) and parents of a type
 * the entity's memberOfTypes does not list.
 * zt_policy_request_check refuses an action the schema lacks and
 * principal or resource types the action does not apply to.
 */
int zt_policy_context_from_json_schema(zt_policy_context **out,
    const zt_policy_schema *s, const zt_policy_uid *action,
    const char *json, size_t len);
int zt_entities_from_json_schema(zt_entities **out,
    const zt_policy_schema *s, const char *json, size_t len);
int zt_policy_request_check(const zt_policy_schema *s,
    const zt_policy_request *req);

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

/* ---- explanations and schema queries (explain.c) ------------------- */

/* What one policy came to for a request. */
enum zt_policy_outcome {
	ZT_POLICY_SCOPE_MISS = 0,	/* the scope did not match */
	ZT_POLICY_COND_TRUE,		/* satisfied (no conditions, or all held) */
	ZT_POLICY_COND_FALSE,		/* a when was false or an unless true */
	ZT_POLICY_COND_ERROR,		/* a condition raised an error */
};

typedef struct zt_policy_trace {
	const char *policy_id;		/* borrowed from the set */
	bool forbid;
	bool scope_matched;
	enum zt_policy_outcome outcome;
	char message[160];		/* ZT_POLICY_COND_ERROR: why */
} zt_policy_trace;

/*
 * Evaluates every policy of the set (not only the index's candidates)
 * against one request, in set order, into a new array of
 * zt_policy_set_count() traces that the caller frees with free().  For
 * "why was this decided": it allocates, so keep it off the hot path.
 * ZT_EINVAL for a malformed request entity, ZT_ENOMEM.
 */
int zt_policy_explain(zt_policy_trace **out, size_t *n,
    const zt_policy_set *ps, const zt_entities *es,
    const zt_policy_request *req);

/*
 * zt_entities_from_json_schema and zt_policy_context_from_json_schema for
 * a caller that already holds the document as jansson values (borrowed,
 * not changed): the decision service builds entities and has the
 * request's context parsed, and skips a round trip through text.  The
 * same rules and errors; nesting is bounded by ZP_MAX_DEPTH as for text.
 */
struct json_t;
int zt_entities_from_jansson_schema(zt_entities **out,
    const zt_policy_schema *s, struct json_t *arr);
int zt_policy_context_from_jansson_schema(zt_policy_context **out,
    const zt_policy_schema *s, const zt_policy_uid *action,
    struct json_t *obj);

/* Does the schema declare entity type `type` (qualified, "NS::User")? */
bool zt_policy_schema_has_type(const zt_policy_schema *s, const char *type);
/* Does `type` list `parent` among its memberOfTypes? */
bool zt_policy_schema_member_of(const zt_policy_schema *s, const char *type,
    const char *parent);
/* Does the shape of `type` declare attribute `attr`? */
bool zt_policy_schema_has_attr(const zt_policy_schema *s, const char *type,
    const char *attr);
/*
 * Every action group `action` is in, transitively: up to `max` into
 * `out` (borrowing the schema's strings), the full count in *n.
 * ZT_ENOTFOUND when the schema does not declare the action.
 */
int zt_policy_schema_action_groups(const zt_policy_schema *s,
    const zt_policy_uid *action, zt_policy_uid *out, size_t max, size_t *n);
/*
 * The i-th action the schema declares (groups included; in the schema's
 * own order, i < zt_policy_schema_action_count), its strings borrowed
 * from the schema.  False past the end.
 */
bool zt_policy_schema_action_at(const zt_policy_schema *s, size_t i,
    zt_policy_uid *out);

#endif
