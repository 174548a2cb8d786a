/*
 * policy_int.h: the policy module's private types, shared by its files.
 *
 * Memory: a policy set, an entity store and a context each own one arena
 * (a list of chunks freed together), so their many small nodes and
 * strings need no individual frees.  A decision has its own scratch arena,
 * kept in the answer and reset between decisions, for the few values it
 * must build (a set or record literal whose members are not constants).
 *
 * Values are small structs passed by value; strings, sets, records and
 * entity references point into an arena that outlives the decision.
 */
#ifndef ZT_POLICY_INT_H
#define ZT_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "policy/policy.h"

/* Nesting limit for expressions and JSON values: parser and evaluator
 * recurse once per level, so this bounds their stack use (a few hundred
 * bytes a level, well under 100 KiB) on any thread. */
#define ZP_MAX_DEPTH 128

/* Cedar allows at most four unary operators in a row ("!!!!x"). */
#define ZP_MAX_UNARY 4

/* Policy texts and JSON documents over this are refused before parsing:
 * offsets and lengths are kept in 32 bits, and a set this large is an
 * operator mistake rather than a workload. */
#define ZP_MAX_INPUT (16u << 20)

/* ---- arenas --------------------------------------------------------- */

typedef struct zp_chunk zp_chunk;

typedef struct zp_arena {
	zp_chunk *head;		/* newest chunk first */
	char *p;		/* next free byte in head */
	char *end;
} zp_arena;

void *zp_alloc(zp_arena *a, size_t n);
void *zp_memdup(zp_arena *a, const void *p, size_t n);
/* Keeps the first chunk allocated, drops the rest. */
void zp_arena_reset(zp_arena *a);
void zp_arena_free(zp_arena *a);

/* ---- strings, uids, values ----------------------------------------- */

typedef struct zp_str {
	const char *p;
	uint32_t n;
} zp_str;

typedef struct zp_uid {
	zp_str type;		/* "User", "App::Role" */
	zp_str id;
	uint64_t hash;		/* of type and id, see zp_uid_hash */
} zp_uid;

enum zp_kind {
	ZV_BOOL = 1, ZV_LONG, ZV_STRING, ZV_ENTITY, ZV_SET, ZV_RECORD,
	ZV_IP, ZV_DECIMAL, ZV_DATETIME, ZV_DURATION,
};

typedef struct zp_ip {
	uint8_t addr[16];	/* v4 in the first four bytes */
	uint8_t prefix;		/* 0-32 or 0-128 */
	bool v6;
} zp_ip;

typedef struct zp_set zp_set;
typedef struct zp_rec zp_rec;

typedef struct zp_value {
	uint8_t kind;		/* enum zp_kind; 0 before assignment */
	union {
		bool b;
		int64_t l;	/* Long; decimal scaled by 10^4; datetime
				 * in ms since the epoch; duration in ms */
		zp_str s;
		const zp_uid *e;
		const zp_set *set;
		const zp_rec *rec;
		zp_ip ip;
	} u;
} zp_value;

/* Members in no particular order, duplicates allowed: equality and
 * membership are defined so that neither matters. */
struct zp_set {
	uint32_t n;
	zp_value v[];
};

typedef struct zp_field {
	zp_str key;
	zp_value v;
} zp_field;

/* Fields sorted by key (zp_str_cmp), no duplicates. */
struct zp_rec {
	uint32_t n;
	zp_field f[];
};

extern const zp_rec zp_empty_rec;

uint64_t zp_uid_hash(zp_str type, zp_str id);
bool zp_uid_eq(const zp_uid *a, const zp_uid *b);
int zp_str_cmp(zp_str a, zp_str b);
bool zp_str_eq(zp_str a, zp_str b);
bool zp_value_eq(const zp_value *a, const zp_value *b);
bool zp_set_contains(const zp_set *s, const zp_value *v);
const zp_value *zp_rec_get(const zp_rec *r, zp_str key);
/* Sorts fields by key; false if two keys are equal. */
bool zp_fields_sort(zp_field *f, uint32_t n);
const char *zp_kind_name(uint8_t kind);
bool zp_ident_valid(const char *s, size_t n);
bool zp_type_name_valid(const char *s, size_t n);

/* ---- extension types (extn.c) -------------------------------------- */

int zp_ip_parse(zp_ip *out, const char *s, size_t n);
bool zp_ip_in_range(const zp_ip *a, const zp_ip *range);
bool zp_ip_is_loopback(const zp_ip *a);
bool zp_ip_is_multicast(const zp_ip *a);
int zp_decimal_parse(int64_t *out, const char *s, size_t n);
int zp_datetime_parse(int64_t *out, const char *s, size_t n);
int zp_duration_parse(int64_t *out, const char *s, size_t n);
/* datetime.toDate() and .toTime(): the day's start and the time into the
 * day, both rounding toward minus infinity; toDate fails (ZT_EINVAL) only
 * below the earliest representable day. */
int zp_datetime_to_date(int64_t *out, int64_t t);
int64_t zp_datetime_to_time(int64_t t);

/* ---- like patterns (value.c) --------------------------------------- */

/* A pattern is a sequence of literal runs and wildcards. */
typedef struct zp_patel {
	bool star;
	zp_str lit;		/* when !star */
} zp_patel;

typedef struct zp_pattern {
	uint32_t n;
	zp_patel el[];
} zp_pattern;

bool zp_like(zp_str s, const zp_pattern *pat);

/* ---- expressions --------------------------------------------------- */

enum zp_op {
	ZE_LIT, ZE_VAR, ZE_AND, ZE_OR, ZE_NOT, ZE_NEG, ZE_IF,
	ZE_EQ, ZE_NE, ZE_LT, ZE_LE, ZE_GT, ZE_GE, ZE_IN,
	ZE_ADD, ZE_SUB, ZE_MUL,
	ZE_HAS, ZE_GET, ZE_LIKE, ZE_IS, ZE_SET, ZE_RECORD, ZE_CALL,
};

enum zp_var { ZP_PRINCIPAL, ZP_ACTION, ZP_RESOURCE, ZP_CONTEXT };

enum zp_fn {
	ZF_IP, ZF_DECIMAL,			/* functions */
	ZF_CONTAINS, ZF_CONTAINS_ALL, ZF_CONTAINS_ANY, ZF_IS_EMPTY,
	ZF_IS_IN_RANGE, ZF_IS_IPV4, ZF_IS_IPV6, ZF_IS_LOOPBACK,
	ZF_IS_MULTICAST,
	ZF_LT, ZF_LE, ZF_GT, ZF_GE,		/* decimal methods */
	ZF_DATETIME, ZF_DURATION,		/* functions */
	ZF_OFFSET, ZF_DURATION_SINCE, ZF_TO_DATE, ZF_TO_TIME,
	ZF_TO_DAYS, ZF_TO_HOURS, ZF_TO_MINUTES, ZF_TO_SECONDS,
	ZF_TO_MILLISECONDS,
};

typedef struct zp_expr zp_expr;

/*
 * One node.  Operands are `a`, `b`, `c` (if/then/else, binary operators,
 * `is` with an optional `in` operand in `b`), or `kids` for && and ||
 * chains (kept flat so a long chain costs no stack), set and record
 * literals (record keys in `keys`, sorted) and calls (receiver first).
 */
struct zp_expr {
	uint8_t op;		/* enum zp_op */
	uint8_t var;		/* enum zp_var, for ZE_VAR */
	uint8_t fn;		/* enum zp_fn, for ZE_CALL */
	uint16_t height;	/* longest path to a leaf, <= ZP_MAX_DEPTH */
	int line, col;		/* its operator in the text, for the
				 * validator's messages; 0 from JSON */
	zp_value lit;		/* ZE_LIT */
	zp_str name;		/* attribute (HAS, GET), type (IS) */
	const zp_pattern *pat;	/* ZE_LIKE */
	zp_expr *a, *b, *c;
	zp_expr **kids;
	zp_str *keys;
	uint32_t nkids;
};

/* ---- policies ------------------------------------------------------ */

enum zp_scope_kind {
	ZS_ANY, ZS_EQ, ZS_IN, ZS_IS, ZS_IS_IN, ZS_IN_LIST,
};

typedef struct zp_scope {
	uint8_t kind;		/* enum zp_scope_kind */
	bool slot;		/* a template's ?principal or ?resource
				 * stands for uid (NULL until linked) */
	zp_str type;		/* ZS_IS, ZS_IS_IN */
	const zp_uid *uid;	/* ZS_EQ, ZS_IN, ZS_IS_IN */
	const zp_uid **list;	/* ZS_IN_LIST (action only) */
	uint32_t nlist;
} zp_scope;

typedef struct zp_cond {
	bool unless;
	zp_expr *e;
} zp_cond;

typedef struct zp_annot {
	zp_str key;
	zp_str value;
} zp_annot;

typedef struct zp_policy {
	const char *id;		/* NUL-terminated, in the set's arena */
	const char *tmpl;	/* a link's template id, else NULL */
	bool forbid;
	zp_scope principal, action, resource;
	zp_cond *conds;
	uint32_t nconds;
	zp_annot *annots;
	uint32_t nannots;
	int line;		/* of the policy's first token; 0 when
				 * parsed from JSON */
	int col;
} zp_policy;

/* The index (authorize.c): entries keyed by (slot, uid). */
enum zp_slot { ZP_SLOT_P, ZP_SLOT_A, ZP_SLOT_R };

typedef struct zp_ixent {
	const zp_uid *key;
	uint8_t slot;
	uint32_t *eq;		/* policies whose slot is `== key` */
	uint32_t neq;
	uint32_t *in;		/* `in key`, `is T in key`, `in [key]` */
	uint32_t nin;
} zp_ixent;

struct zt_policy_set {
	zp_arena arena;
	zp_policy *pol;		/* static policies and links, in order */
	size_t npol, cappol;
	zp_policy *tmpl;	/* templates (policies with a slot) */
	size_t ntmpl, captmpl;
	zp_arena ixarena;	/* the index, rebuilt after each link */
	zp_ixent *ix;		/* open addressing, ixmask + 1 slots */
	size_t ixmask;
	uint32_t *any;		/* policies no index key selects */
	size_t nany;
};

/* Parser (parse.c) fills pol/npol and tmpl/ntmpl; authorize.c builds
 * the index, dropping any earlier one. */
int zp_parse(zt_policy_set *ps, const char *text, size_t len,
    zt_policy_error *err);
int zp_index_build(zt_policy_set *ps);

/* Templates (template.c).  zp_policy_add appends a policy or template
 * (copied) to the set, refusing an id already in use; zp_link makes a
 * link without re-indexing.  Both set the thread's error message. */
int zp_policy_add(zt_policy_set *ps, const zp_policy *p);
bool zp_id_taken(const zt_policy_set *ps, const char *id);
int zp_link(zt_policy_set *ps, const char *tmpl_id, const char *link_id,
    const zp_uid *principal, const zp_uid *resource);

/* ---- entities ------------------------------------------------------ */

typedef struct zp_entity {
	zp_uid uid;
	const zp_rec *attrs;
	const zp_uid **parents;
	uint32_t nparents;
	const zp_uid **anc;	/* all ancestors, sorted by hash */
	uint32_t nanc;
} zp_entity;

struct zt_entities {
	zp_arena arena;
	zp_entity *ents;
	size_t n;
	uint32_t *table;	/* index + 1 into ents, 0 = empty */
	size_t mask;
};

struct zt_policy_context {
	zp_arena arena;
	const zp_rec *rec;
};

const zp_entity *zp_entity_find(const zt_entities *es, const zp_uid *uid);
/* `a in b`: equal, or b among a's ancestors. */
bool zp_entity_in(const zt_entities *es, const zp_entity *ea,
    const zp_uid *a, const zp_uid *b);
/* Converts a JSON attribute value (entities and context rules). */
int zp_value_from_json(zp_value *out, zp_arena *a, json_t *j, int depth);
int zp_uid_from_json(const zp_uid **out, zp_arena *a, json_t *j);

/* ---- evaluation (eval.c) ------------------------------------------- */

typedef struct zp_eval {
	const zt_entities *es;
	zp_uid p, a, r;			/* the request */
	const zp_entity *pe, *ae, *re;	/* their entities, or NULL */
	const zp_rec *context;
	zp_arena *scratch;
	char err[160];			/* message of the last error */
} zp_eval;

/* Evaluates one expression; ZT_OK with *out, or ZT_EINVAL with ev->err
 * (a Cedar evaluation error), or ZT_ENOMEM. */
int zp_eval_expr(zp_value *out, zp_eval *ev, const zp_expr *e);
/* The scope test, which cannot fail. */
bool zp_scope_match(const zp_eval *ev, const zp_policy *p);
/* 1 satisfied, 0 not, <0 error (message in ev->err). */
int zp_policy_eval(zp_eval *ev, const zp_policy *p);

#endif
