/*
 * validate.c: policies type-checked against a schema, in the manner of
 * Cedar's strict validation mode.
 *
 * Each policy, template and link is checked once for every request
 * environment its scope allows (a template's slot may be any entity):
 * every schema action the action scope can match, with every principal
 * and resource type that action applies to and the principal and
 * resource scopes can match.  A policy no environment fits has an
 * impossible scope.  In each environment every condition must be a
 * boolean, and every expression must be well typed:
 *
 *  - entity literals name declared entity types, or declared actions;
 *  - attributes exist on the entity type or record; an optional one is
 *    read only under a `has` test of the same path (`principal has a &&
 *    principal.a > 1`; && carries the knowledge rightwards, as does the
 *    condition of an if into its then-branch);
 *  - operators get their operand types: && || ! if on booleans, < <= >
 *    >= on two longs, datetimes or durations, + - * and unary - on longs,
 *    like on strings, in on an entity and an entity or set of entities,
 *    the set methods on sets, the extension methods on their types;
 *  - == and != compare values of one type (two different entity types
 *    are simply never equal); sets hold one element type and may not be
 *    empty literals; both branches of an if have one type;
 *  - ip(), decimal(), datetime() and duration() take valid string
 *    literals.
 *
 * As in Cedar, a test that the schema proves always false (`principal
 * in Doc::"x"` for a principal type that can never be in a Doc, `has` of
 * an undeclared attribute of a closed record, `is` of another type)
 * types as false, and the right side of a false && (a true ||) and the
 * branch an if cannot take are not checked.  Each error carries the
 * policy id, the line and column of the expression (of the policy for a
 * scope error; 0 for JSON policies) and a message; an error found in
 * several environments is listed once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"

enum { L_ANY = 0, L_TRUE, L_FALSE };

/* A type while checking: t NULL after an error already reported. */
typedef struct vty {
	const zs_type *t;
	uint8_t lit;		/* for booleans: known true or false */
} vty;

/* What `has` tests have proven: path strings ("principal.a") each with
 * the attribute proven present. */
#define VCAP_MAX 32

typedef struct vcaps {
	char path[VCAP_MAX][64];
	uint32_t n;
} vcaps;

typedef struct venv {
	const zt_policy_schema *s;
	zp_arena *a;			/* types built while checking */
	zp_str ptype, rtype;
	const zs_action *act;
	const zp_policy *pol;
	zt_policy_validation *out;
	int rc;			/* ZT_ENOMEM once out of memory */
} venv;

static const zs_type t_bool = { ZV_BOOL, { NULL, 0 }, NULL, NULL, 0,
    false };
static const zs_type t_long = { ZV_LONG, { NULL, 0 }, NULL, NULL, 0,
    false };
static const zs_type t_string = { ZV_STRING, { NULL, 0 }, NULL, NULL, 0,
    false };

/* ---- errors --------------------------------------------------------- */

static void
add_error(venv *v, int line, int col, const char *msg)
{
	zt_policy_validation *o = v->out;
	zt_policy_verror *e, *ne;
	size_t i, ncap;

	if (line == 0 && col == 0) {
		line = v->pol->line;
		col = v->pol->col;
	}
	for (i = 0; i < o->nerrors; i++) {
		e = &o->errors[i];
		if (e->line == line && e->column == col &&
		    e->policy_id == v->pol->id && strcmp(e->message, msg) == 0)
			return;
	}
	if (o->nerrors == o->cap) {
		ncap = o->cap == 0 ? 8 : o->cap * 2;
		if ((ne = realloc(o->errors, ncap * sizeof(*ne))) == NULL) {
			v->rc = ZT_ENOMEM;
			return;
		}
		o->errors = ne;
		o->cap = ncap;
	}
	e = &o->errors[o->nerrors++];
	e->policy_id = v->pol->id;
	e->line = line;
	e->column = col;
	snprintf(e->message, sizeof(e->message), "%s", msg);
}

static vty
verr(venv *v, const zp_expr *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static vty
verr(venv *v, const zp_expr *e, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	vty none = { NULL, L_ANY };

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_error(v, e != NULL ? e->line : 0, e != NULL ? e->col : 0, msg);
	return none;
}

/* A type's name for a message. */
static const char *
tname(char out[72], const zs_type *t)
{
	char n[56];

	if (t->kind == ZV_ENTITY) {
		zt_str_sanitize(n, t->entity.p, t->entity.n, 48);
		snprintf(out, 72, "entity %s", n);
	} else if (t->kind == ZV_SET && t->elem != NULL) {
		snprintf(out, 72, "set of %s", zp_kind_name(t->elem->kind));
	} else {
		snprintf(out, 72, "%s", zp_kind_name(t->kind));
	}
	return out;
}

static vty
ty(const zs_type *t, uint8_t lit)
{
	vty r = { t, lit };

	return r;
}

/* ---- types ---------------------------------------------------------- */

static zs_type *
new_type(venv *v, uint8_t kind)
{
	zs_type *t = zp_alloc(v->a, sizeof(*t));

	if (t == NULL) {
		v->rc = ZT_ENOMEM;
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	return t;
}

static const zs_type *
entity_type(venv *v, zp_str name)
{
	zs_type *t = new_type(v, ZV_ENTITY);

	if (t != NULL)
		t->entity = name;
	return t;
}

/* The least upper bound of two types in strict mode: they must be the
 * same type; records need the same attributes. */
static bool
same_type(const zs_type *a, const zs_type *b)
{
	uint32_t i;

	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case ZV_ENTITY:
		return zp_str_eq(a->entity, b->entity);
	case ZV_SET:
		return a->elem == NULL || b->elem == NULL ||
		    same_type(a->elem, b->elem);
	case ZV_RECORD:
		if (a->nattrs != b->nattrs)
			return false;
		for (i = 0; i < a->nattrs; i++)
			if (!zp_str_eq(a->attrs[i].name, b->attrs[i].name) ||
			    a->attrs[i].required != b->attrs[i].required ||
			    !same_type(a->attrs[i].type, b->attrs[i].type))
				return false;
		return true;
	default:
		return true;
	}
}

/* The type of a constant value (a folded literal). */
static const zs_type *
value_type(venv *v, const zp_expr *e, const zp_value *val)
{
	zs_type *t;
	uint32_t i;

	switch (val->kind) {
	case ZV_BOOL:	return &t_bool;
	case ZV_LONG:	return &t_long;
	case ZV_STRING:	return &t_string;
	case ZV_ENTITY:
		if (zs_action_find(v->s, val->u.e) == NULL &&
		    zs_etype_find(v->s, val->u.e->type) == NULL) {
			char n[56];

			zt_str_sanitize(n, val->u.e->type.p,
			    val->u.e->type.n, 48);
			verr(v, e, "unknown entity type or action `%s`", n);
			return NULL;
		}
		return entity_type(v, val->u.e->type);
	case ZV_SET:
		if (val->u.set->n == 0) {
			verr(v, e, "empty set literals are not allowed: their "
			    "element type is unknown");
			return NULL;
		}
		if ((t = new_type(v, ZV_SET)) == NULL ||
		    (t->elem = value_type(v, e, &val->u.set->v[0])) == NULL)
			return NULL;
		for (i = 1; i < val->u.set->n; i++) {
			const zs_type *et = value_type(v, e,
			    &val->u.set->v[i]);

			if (et == NULL)
				return NULL;
			if (!same_type(t->elem, et)) {
				verr(v, e, "set members have different types");
				return NULL;
			}
		}
		return t;
	case ZV_RECORD:
		if ((t = new_type(v, ZV_RECORD)) == NULL ||
		    (t->attrs = zp_alloc(v->a, sizeof(*t->attrs) *
		    (val->u.rec->n + 1))) == NULL) {
			v->rc = ZT_ENOMEM;
			return NULL;
		}
		for (i = 0; i < val->u.rec->n; i++) {
			t->attrs[i].name = val->u.rec->f[i].key;
			t->attrs[i].required = true;
			if ((t->attrs[i].type = value_type(v, e,
			    &val->u.rec->f[i].v)) == NULL)
				return NULL;
		}
		t->nattrs = val->u.rec->n;
		return t;
	default:
		return new_type(v, val->kind);
	}
}

/* ---- capabilities --------------------------------------------------- */

/* Writes the access path of e ("principal.a.b") into buf; false if e is
 * not a variable followed by attribute reads, or the path is long. */
static bool
path_of(char *buf, size_t len, const zp_expr *e)
{
	static const char *vars[] = { "principal", "action", "resource",
	    "context" };
	size_t n;

	if (e->op == ZE_VAR) {
		snprintf(buf, len, "%s", vars[e->var]);
		return true;
	}
	if (e->op != ZE_GET || !path_of(buf, len, e->a))
		return false;
	n = strlen(buf);
	if (n + 1 + e->name.n + 1 > len || memchr(e->name.p, '.',
	    e->name.n) != NULL)
		return false;
	buf[n] = '.';
	memcpy(buf + n + 1, e->name.p, e->name.n);
	buf[n + 1 + e->name.n] = '\0';
	return true;
}

/* Is `base`.name proven present? */
static bool
cap_has(const vcaps *c, const zp_expr *base, zp_str name)
{
	char p[64];
	zp_expr get;
	uint32_t i;

	memset(&get, 0, sizeof(get));
	get.op = ZE_GET;
	get.a = (zp_expr *)(uintptr_t)base;
	get.name = name;
	if (!path_of(p, sizeof(p), &get))
		return false;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->path[i], p) == 0)
			return true;
	return false;
}

static void
cap_add(vcaps *c, const zp_expr *has)
{
	zp_expr get = *has;

	get.op = ZE_GET;
	if (c->n < VCAP_MAX && path_of(c->path[c->n], sizeof(c->path[0]),
	    &get))
		c->n++;
}

/* ---- expressions ---------------------------------------------------- */

static vty check(venv *v, const zp_expr *e, const vcaps *caps,
    vcaps *out);

/* Checks e and requires kind; t NULL on error. */
static vty
expect(venv *v, const zp_expr *e, const vcaps *caps, vcaps *out,
    uint8_t kind, const char *op)
{
	char tn[72];
	vty r = check(v, e, caps, out);

	if (r.t == NULL || r.t->kind == kind)
		return r;
	return verr(v, e, "type error: %s expects %s, got %s", op,
	    zp_kind_name(kind), tname(tn, r.t));
}

static vty
check_logic(venv *v, const zp_expr *e, const vcaps *caps, vcaps *out)
{
	bool is_and = e->op == ZE_AND;
	vcaps acc = *caps, sub;
	uint8_t res = is_and ? L_TRUE : L_FALSE;
	bool err = false;
	uint32_t i;
	vty r;

	for (i = 0; i < e->nkids; i++) {
		sub.n = 0;
		r = expect(v, e->kids[i], &acc, &sub, ZV_BOOL,
		    is_and ? "&&" : "||");
		if (r.t == NULL) {
			err = true;
			continue;
		}
		if (r.lit == (is_and ? L_FALSE : L_TRUE))
			return err ? ty(NULL, 0) : ty(&t_bool, r.lit);
		if (r.lit == L_ANY)
			res = L_ANY;
		if (is_and) {
			for (uint32_t k = 0; k < sub.n && acc.n < VCAP_MAX;
			    k++)
				memcpy(acc.path[acc.n++], sub.path[k],
				    sizeof(acc.path[0]));
		}
	}
	if (is_and && out != NULL)
		*out = acc;
	return err ? ty(NULL, 0) : ty(&t_bool, res);
}

static vty
check_if(venv *v, const zp_expr *e, const vcaps *caps)
{
	vcaps c2 = *caps;
	char a[72], b[72];
	vty c, x, y;

	c = expect(v, e->a, caps, &c2, ZV_BOOL, "if");
	if (c.t == NULL)
		return c;
	if (c.lit == L_TRUE)
		return check(v, e->b, &c2, NULL);
	if (c.lit == L_FALSE)
		return check(v, e->c, caps, NULL);
	x = check(v, e->b, &c2, NULL);
	y = check(v, e->c, caps, NULL);
	if (x.t == NULL || y.t == NULL)
		return ty(NULL, 0);
	if (!same_type(x.t, y.t))
		return verr(v, e, "the branches of if have different types, "
		    "%s and %s", tname(a, x.t), tname(b, y.t));
	return ty(x.t, x.lit == y.lit ? x.lit : L_ANY);
}

static vty
check_eq(venv *v, const zp_expr *e, const vcaps *caps)
{
	char a[72], b[72];
	vty x = check(v, e->a, caps, NULL), y = check(v, e->b, caps, NULL);

	if (x.t == NULL || y.t == NULL)
		return ty(NULL, 0);
	if (x.t->kind == ZV_ENTITY && y.t->kind == ZV_ENTITY &&
	    !zp_str_eq(x.t->entity, y.t->entity))
		return ty(&t_bool, e->op == ZE_EQ ? L_FALSE : L_TRUE);
	if (!same_type(x.t, y.t))
		return verr(v, e, "type error: cannot compare %s with %s",
		    tname(a, x.t), tname(b, y.t));
	return ty(&t_bool, L_ANY);
}

static vty
check_compare(venv *v, const zp_expr *e, const vcaps *caps)
{
	char a[72], b[72];
	vty x = check(v, e->a, caps, NULL), y = check(v, e->b, caps, NULL);

	if (x.t == NULL || y.t == NULL)
		return ty(NULL, 0);
	if ((x.t->kind != ZV_LONG && x.t->kind != ZV_DATETIME &&
	    x.t->kind != ZV_DURATION) || x.t->kind != y.t->kind)
		return verr(v, e, "type error: cannot order %s and %s",
		    tname(a, x.t), tname(b, y.t));
	return ty(&t_bool, L_ANY);
}

/* Could an entity of type `t` be in the entity (or set member) type
 * `rt`?  Actions go by the schema's action hierarchy. */
static bool
may_be_in(venv *v, const zp_expr *lhs, zp_str t, const zp_expr *rhs,
    zp_str rt)
{
	const zs_action *ac;
	uint32_t i;

	(void)rhs;
	if (lhs->op == ZE_VAR && lhs->var == ZP_ACTION &&
	    rhs->op == ZE_LIT && rhs->lit.kind == ZV_ENTITY) {
		ac = v->act;
		if (zp_uid_eq(&ac->uid, rhs->lit.u.e))
			return true;
		for (i = 0; i < ac->nanc; i++)
			if (zp_uid_eq(ac->anc[i], rhs->lit.u.e))
				return true;
		return false;
	}
	return zs_type_in(v->s, t, rt);
}

static vty
check_in(venv *v, const zp_expr *e, const zp_expr *lhs, const zp_expr *rhs,
    const vcaps *caps)
{
	char tn[72];
	vty x, y;

	x = expect(v, lhs, caps, NULL, ZV_ENTITY, "in");
	y = check(v, rhs, caps, NULL);
	if (x.t == NULL || y.t == NULL)
		return ty(NULL, 0);
	if (y.t->kind == ZV_ENTITY)
		return ty(&t_bool, may_be_in(v, lhs, x.t->entity, rhs,
		    y.t->entity) ? L_ANY : L_FALSE);
	if (y.t->kind == ZV_SET && y.t->elem != NULL &&
	    y.t->elem->kind == ZV_ENTITY)
		return ty(&t_bool, zs_type_in(v->s, x.t->entity,
		    y.t->elem->entity) || (lhs->op == ZE_VAR &&
		    lhs->var == ZP_ACTION) ? L_ANY : L_FALSE);
	return verr(v, e, "type error: `in` expects an entity or a set of "
	    "entities on its right, got %s", tname(tn, y.t));
}

/* The record type of an entity or record operand of has / `.`. */
static const zs_type *
attr_host(venv *v, const zp_expr *e, const zs_type *t, const char *op)
{
	const zs_etype *et;
	char tn[72];

	if (t->kind == ZV_RECORD)
		return t;
	if (t->kind == ZV_ENTITY) {
		if ((et = zs_etype_find(v->s, t->entity)) != NULL)
			return et->shape;
		/* Actions have no attributes in the schema. */
		return NULL;
	}
	verr(v, e, "type error: %s expects an entity or a record, got %s",
	    op, tname(tn, t));
	return NULL;
}

static vty
check_has(venv *v, const zp_expr *e, const vcaps *caps, vcaps *out)
{
	const zs_type *rec;
	const zs_attr *at;
	vty x = check(v, e->a, caps, NULL);

	if (x.t == NULL)
		return x;
	rec = attr_host(v, e, x.t, "has");
	if (rec == NULL)
		return x.t->kind == ZV_ENTITY ? ty(&t_bool, L_FALSE) :
		    ty(NULL, 0);
	if ((at = zs_attr_find(rec, e->name)) == NULL)
		return ty(&t_bool, rec->open ? L_ANY : L_FALSE);
	if (at->required)
		return ty(&t_bool, L_TRUE);
	if (out != NULL)
		cap_add(out, e);
	return ty(&t_bool, cap_has(caps, e->a, e->name) ? L_TRUE : L_ANY);
}

static vty
check_get(venv *v, const zp_expr *e, const vcaps *caps)
{
	const zs_type *rec;
	const zs_attr *at;
	char nb[52], tn[72];
	vty x = check(v, e->a, caps, NULL);

	if (x.t == NULL)
		return x;
	if ((rec = attr_host(v, e, x.t, "attribute access")) == NULL) {
		if (x.t->kind != ZV_ENTITY)
			return ty(NULL, 0);
		return verr(v, e, "%s has no attributes",
		    tname(tn, x.t));
	}
	zt_str_sanitize(nb, e->name.p, e->name.n, 48);
	if ((at = zs_attr_find(rec, e->name)) == NULL)
		return verr(v, e, "attribute `%s` not found on %s", nb,
		    tname(tn, x.t));
	if (!at->required && !cap_has(caps, e->a, e->name))
		return verr(v, e, "attribute `%s` of %s is optional: test it "
		    "with `has` first", nb, tname(tn, x.t));
	return ty(at->type, L_ANY);
}

static vty
check_is(venv *v, const zp_expr *e, const vcaps *caps)
{
	vty x = expect(v, e->a, caps, NULL, ZV_ENTITY, "is"), y;

	if (x.t == NULL)
		return x;
	if (zs_etype_find(v->s, e->name) == NULL)
		return verr(v, e, "unknown entity type `%.*s`",
		    (int)(e->name.n > 48 ? 48 : e->name.n), e->name.p);
	if (!zp_str_eq(x.t->entity, e->name))
		return ty(&t_bool, L_FALSE);
	if (e->b == NULL)
		return ty(&t_bool, L_TRUE);
	y = check_in(v, e, e->a, e->b, caps);
	return y;
}

static vty
check_set(venv *v, const zp_expr *e, const vcaps *caps)
{
	zs_type *t;
	uint32_t i;
	vty x;

	if (e->nkids == 0)
		return verr(v, e, "empty set literals are not allowed: their "
		    "element type is unknown");
	if ((t = new_type(v, ZV_SET)) == NULL)
		return ty(NULL, 0);
	for (i = 0; i < e->nkids; i++) {
		x = check(v, e->kids[i], caps, NULL);
		if (x.t == NULL)
			return x;
		if (t->elem == NULL)
			t->elem = x.t;
		else if (!same_type(t->elem, x.t))
			return verr(v, e->kids[i], "set members have "
			    "different types");
	}
	return ty(t, L_ANY);
}

static vty
check_record(venv *v, const zp_expr *e, const vcaps *caps)
{
	zs_type *t;
	uint32_t i;
	vty x;

	if ((t = new_type(v, ZV_RECORD)) == NULL ||
	    (t->attrs = zp_alloc(v->a, sizeof(*t->attrs) * (e->nkids + 1)))
	    == NULL) {
		v->rc = ZT_ENOMEM;
		return ty(NULL, 0);
	}
	for (i = 0; i < e->nkids; i++) {
		if ((x = check(v, e->kids[i], caps, NULL)).t == NULL)
			return x;
		t->attrs[i].name = e->keys[i];
		t->attrs[i].type = x.t;
		t->attrs[i].required = true;
	}
	t->nattrs = e->nkids;
	return ty(t, L_ANY);
}

static vty
check_call(venv *v, const zp_expr *e, const vcaps *caps)
{
	static const struct { uint8_t recv, arg, res; } sig[] = {
		[ZF_IS_IN_RANGE] = { ZV_IP, ZV_IP, ZV_BOOL },
		[ZF_IS_IPV4] = { ZV_IP, 0, ZV_BOOL },
		[ZF_IS_IPV6] = { ZV_IP, 0, ZV_BOOL },
		[ZF_IS_LOOPBACK] = { ZV_IP, 0, ZV_BOOL },
		[ZF_IS_MULTICAST] = { ZV_IP, 0, ZV_BOOL },
		[ZF_LT] = { ZV_DECIMAL, ZV_DECIMAL, ZV_BOOL },
		[ZF_LE] = { ZV_DECIMAL, ZV_DECIMAL, ZV_BOOL },
		[ZF_GT] = { ZV_DECIMAL, ZV_DECIMAL, ZV_BOOL },
		[ZF_GE] = { ZV_DECIMAL, ZV_DECIMAL, ZV_BOOL },
		[ZF_OFFSET] = { ZV_DATETIME, ZV_DURATION, ZV_DATETIME },
		[ZF_DURATION_SINCE] = { ZV_DATETIME, ZV_DATETIME,
		    ZV_DURATION },
		[ZF_TO_DATE] = { ZV_DATETIME, 0, ZV_DATETIME },
		[ZF_TO_TIME] = { ZV_DATETIME, 0, ZV_DURATION },
		[ZF_TO_DAYS] = { ZV_DURATION, 0, ZV_LONG },
		[ZF_TO_HOURS] = { ZV_DURATION, 0, ZV_LONG },
		[ZF_TO_MINUTES] = { ZV_DURATION, 0, ZV_LONG },
		[ZF_TO_SECONDS] = { ZV_DURATION, 0, ZV_LONG },
		[ZF_TO_MILLISECONDS] = { ZV_DURATION, 0, ZV_LONG },
	};
	char a[72], b[72];
	vty x, y;

	switch (e->fn) {
	case ZF_IP:
	case ZF_DECIMAL:
	case ZF_DATETIME:
	case ZF_DURATION:
		/* A valid literal argument was folded by the parser. */
		if (e->kids[0]->op == ZE_LIT &&
		    e->kids[0]->lit.kind == ZV_STRING)
			return verr(v, e, "invalid extension literal");
		return verr(v, e, "an extension constructor takes a string "
		    "literal");
	case ZF_CONTAINS:
	case ZF_CONTAINS_ALL:
	case ZF_CONTAINS_ANY:
	case ZF_IS_EMPTY:
		x = expect(v, e->kids[0], caps, NULL, ZV_SET, "a set method");
		if (x.t == NULL || e->fn == ZF_IS_EMPTY)
			return x.t == NULL ? x : ty(&t_bool, L_ANY);
		y = check(v, e->kids[1], caps, NULL);
		if (y.t == NULL)
			return y;
		if (e->fn == ZF_CONTAINS ? !same_type(x.t->elem, y.t) :
		    !same_type(x.t, y.t))
			return verr(v, e, "type error: %s cannot hold %s",
			    tname(a, x.t), tname(b, y.t));
		return ty(&t_bool, L_ANY);
	default:
		break;
	}
	x = expect(v, e->kids[0], caps, NULL, sig[e->fn].recv, "method");
	if (x.t == NULL)
		return x;
	if (sig[e->fn].arg != 0 && expect(v, e->kids[1], caps, NULL,
	    sig[e->fn].arg, "method argument").t == NULL)
		return ty(NULL, 0);
	switch (sig[e->fn].res) {
	case ZV_BOOL:	return ty(&t_bool, L_ANY);
	case ZV_LONG:	return ty(&t_long, L_ANY);
	default:	return ty(new_type(v, sig[e->fn].res), L_ANY);
	}
}

static vty
check_var(venv *v, const zp_expr *e)
{
	switch (e->var) {
	case ZP_PRINCIPAL:	return ty(entity_type(v, v->ptype), L_ANY);
	case ZP_RESOURCE:	return ty(entity_type(v, v->rtype), L_ANY);
	case ZP_ACTION:
		return ty(entity_type(v, v->act->uid.type), L_ANY);
	default:		return ty(v->act->context, L_ANY);
	}
}

/* Checks e; `out`, when not NULL, receives the attributes e proves
 * present when it is true. */
static vty
check(venv *v, const zp_expr *e, const vcaps *caps, vcaps *out)
{
	vty x;

	if (v->rc != ZT_OK)
		return ty(NULL, 0);
	switch (e->op) {
	case ZE_LIT:
		x = ty(value_type(v, e, &e->lit), L_ANY);
		if (x.t != NULL && e->lit.kind == ZV_BOOL)
			x.lit = e->lit.u.b ? L_TRUE : L_FALSE;
		return x;
	case ZE_VAR:
		return check_var(v, e);
	case ZE_AND:
	case ZE_OR:
		return check_logic(v, e, caps, out);
	case ZE_NOT:
		x = expect(v, e->a, caps, NULL, ZV_BOOL, "!");
		if (x.t != NULL && x.lit != L_ANY)
			x.lit = x.lit == L_TRUE ? L_FALSE : L_TRUE;
		return x;
	case ZE_NEG:
		return expect(v, e->a, caps, NULL, ZV_LONG, "-");
	case ZE_IF:
		return check_if(v, e, caps);
	case ZE_EQ:
	case ZE_NE:
		return check_eq(v, e, caps);
	case ZE_LT:
	case ZE_LE:
	case ZE_GT:
	case ZE_GE:
		return check_compare(v, e, caps);
	case ZE_IN:
		return check_in(v, e, e->a, e->b, caps);
	case ZE_ADD:
	case ZE_SUB:
	case ZE_MUL:
		if (expect(v, e->a, caps, NULL, ZV_LONG, "arithmetic").t ==
		    NULL || expect(v, e->b, caps, NULL, ZV_LONG,
		    "arithmetic").t == NULL)
			return ty(NULL, 0);
		return ty(&t_long, L_ANY);
	case ZE_HAS:
		return check_has(v, e, caps, out);
	case ZE_GET:
		return check_get(v, e, caps);
	case ZE_LIKE:
		x = expect(v, e->a, caps, NULL, ZV_STRING, "like");
		return x.t == NULL ? x : ty(&t_bool, L_ANY);
	case ZE_IS:
		return check_is(v, e, caps);
	case ZE_SET:
		return check_set(v, e, caps);
	case ZE_RECORD:
		return check_record(v, e, caps);
	case ZE_CALL:
		return check_call(v, e, caps);
	default:
		return verr(v, e, "internal error: unknown node");
	}
}

/* ---- scopes and environments ---------------------------------------- */

static bool
scope_fits(const zt_policy_schema *s, const zp_scope *sc, zp_str t)
{
	/* An unfilled slot may be any entity, so fits any type. */
	if (sc->slot)
		return sc->kind != ZS_IS_IN || zp_str_eq(sc->type, t);
	switch (sc->kind) {
	case ZS_ANY:	return true;
	case ZS_EQ:	return zp_str_eq(sc->uid->type, t);
	case ZS_IN:	return zs_type_in(s, t, sc->uid->type);
	case ZS_IS:	return zp_str_eq(sc->type, t);
	case ZS_IS_IN:
		return zp_str_eq(sc->type, t) &&
		    zs_type_in(s, t, sc->uid->type);
	default:	return false;
	}
}

static bool
action_fits(const zs_action *ac, const zp_scope *sc)
{
	uint32_t i, k;

	switch (sc->kind) {
	case ZS_ANY:
		return true;
	case ZS_EQ:
		return zp_uid_eq(&ac->uid, sc->uid);
	case ZS_IN:
		if (zp_uid_eq(&ac->uid, sc->uid))
			return true;
		for (i = 0; i < ac->nanc; i++)
			if (zp_uid_eq(ac->anc[i], sc->uid))
				return true;
		return false;
	case ZS_IN_LIST:
		for (k = 0; k < sc->nlist; k++) {
			if (zp_uid_eq(&ac->uid, sc->list[k]))
				return true;
			for (i = 0; i < ac->nanc; i++)
				if (zp_uid_eq(ac->anc[i], sc->list[k]))
					return true;
		}
		return false;
	default:
		return false;
	}
}

/* The scope names only declared types and actions. */
static void
check_scope_names(venv *v, const zp_policy *p)
{
	const zp_scope *sc[] = { &p->principal, &p->resource };
	char n[56];
	uint32_t i;

	for (i = 0; i < 2; i++) {
		if (sc[i]->uid != NULL &&
		    zs_etype_find(v->s, sc[i]->uid->type) == NULL) {
			zt_str_sanitize(n, sc[i]->uid->type.p,
			    sc[i]->uid->type.n, 48);
			verr(v, NULL, "unknown entity type `%s` in the %s "
			    "scope", n, i == 0 ? "principal" : "resource");
		}
		if ((sc[i]->kind == ZS_IS || sc[i]->kind == ZS_IS_IN) &&
		    zs_etype_find(v->s, sc[i]->type) == NULL) {
			zt_str_sanitize(n, sc[i]->type.p, sc[i]->type.n, 48);
			verr(v, NULL, "unknown entity type `%s` in the %s "
			    "scope", n, i == 0 ? "principal" : "resource");
		}
	}
	if (p->action.uid != NULL &&
	    zs_action_find(v->s, p->action.uid) == NULL) {
		zt_str_sanitize(n, p->action.uid->id.p, p->action.uid->id.n,
		    48);
		verr(v, NULL, "unknown action `%s`", n);
	}
	for (i = 0; i < p->action.nlist; i++)
		if (zs_action_find(v->s, p->action.list[i]) == NULL) {
			zt_str_sanitize(n, p->action.list[i]->id.p,
			    p->action.list[i]->id.n, 48);
			verr(v, NULL, "unknown action `%s`", n);
		}
}

static void
check_policy(venv *v, const zp_policy *p)
{
	const zs_action *ac;
	size_t nerr = v->out->nerrors, envs = 0, i;
	uint32_t pi, ri, c;
	vcaps none;
	vty r;

	v->pol = p;
	none.n = 0;
	check_scope_names(v, p);
	if (v->out->nerrors > nerr)
		return;
	for (i = 0; i < v->s->nactions; i++) {
		ac = &v->s->actions[i];
		if (!action_fits(ac, &p->action))
			continue;
		for (pi = 0; pi < ac->nptypes; pi++) {
			if (!scope_fits(v->s, &p->principal, ac->ptypes[pi]))
				continue;
			for (ri = 0; ri < ac->nrtypes; ri++) {
				if (!scope_fits(v->s, &p->resource,
				    ac->rtypes[ri]))
					continue;
				envs++;
				v->act = ac;
				v->ptype = ac->ptypes[pi];
				v->rtype = ac->rtypes[ri];
				for (c = 0; c < p->nconds; c++) {
					r = expect(v, p->conds[c].e, &none,
					    NULL, ZV_BOOL, p->conds[c].unless ?
					    "unless" : "when");
					(void)r;
				}
				zp_arena_reset(v->a);
			}
		}
	}
	if (envs == 0)
		verr(v, NULL, "impossible scope: no action in the schema "
		    "applies to this principal, action and resource");
}

int
zt_policy_validate(zt_policy_validation *out, const zt_policy_set *ps,
    const zt_policy_schema *s)
{
	zp_arena scratch;
	venv v;
	size_t i;

	memset(&scratch, 0, sizeof(scratch));
	memset(&v, 0, sizeof(v));
	out->nerrors = 0;
	v.s = s;
	v.a = &scratch;
	v.out = out;
	for (i = 0; i < ps->ntmpl && v.rc == ZT_OK; i++)
		check_policy(&v, &ps->tmpl[i]);
	for (i = 0; i < ps->npol && v.rc == ZT_OK; i++)
		check_policy(&v, &ps->pol[i]);
	zp_arena_free(&scratch);
	if (v.rc != ZT_OK)
		return v.rc;
	if (out->nerrors > 0)
		return zt_error_set(ZT_EINVAL, "policy `%.64s`, line %d, "
		    "column %d: %s", out->errors[0].policy_id,
		    out->errors[0].line, out->errors[0].column,
		    out->errors[0].message);
	return ZT_OK;
}

void
zt_policy_validation_free(zt_policy_validation *out)
{
	if (out == NULL)
		return;
	free(out->errors);
	memset(out, 0, sizeof(*out));
}
