/*
 * eval.c: Cedar expressions evaluated against one request.
 *
 * Each operator checks the types of its operands and raises a Cedar
 * evaluation error on a mismatch; so do a missing attribute, an
 * attribute read from an entity the store does not hold, integer
 * overflow (of longs, datetimes and durations) and an invalid argument
 * to ip(), decimal(), datetime() or duration().  The error's message
 * goes to ev->err and the policy that raised it is skipped.  The
 * operators that are not errors: `==` and `!=` on any two values, `has`
 * on an entity the store lacks (false), and `in` on such an entity
 * (true only for the entity itself).  && and || evaluate their right
 * side only when it can change the answer, and both sides must be bools.
 *
 * Nothing here allocates except a set or record literal with
 * non-constant members, which goes to the decision's scratch arena.
 * Recursion depth is bounded by the tree height limit of the parser.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy_int.h"

static int
eval_err(zp_eval *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
eval_err(zp_eval *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ev->err, sizeof(ev->err), fmt, ap);
	va_end(ap);
	return ZT_EINVAL;
}

/* Prints a uid for a message, made safe and short: ids come from
 * requests. */
static const char *
uid_str(char out[96], const zp_uid *u)
{
	char t[44], id[44];

	zt_str_sanitize(t, u->type.p, u->type.n, 40);
	zt_str_sanitize(id, u->id.p, u->id.n, 40);
	snprintf(out, 96, "%s::\"%s\"", t, id);
	return out;
}

static const char *
name_str(char out[52], zp_str s)
{
	zt_str_sanitize(out, s.p, s.n, 48);
	return out;
}

static int
type_err(zp_eval *ev, const char *op, const char *want, const zp_value *v)
{
	return eval_err(ev, "type error: %s expects %s, got %s", op, want,
	    zp_kind_name(v->kind));
}

/* Evaluates e and requires a value of `kind`. */
static int
eval_kind(zp_value *v, zp_eval *ev, const zp_expr *e, uint8_t kind,
    const char *op)
{
	int rc;

	if ((rc = zp_eval_expr(v, ev, e)) != ZT_OK)
		return rc;
	if (v->kind != kind)
		return type_err(ev, op, zp_kind_name(kind), v);
	return ZT_OK;
}

static void
set_bool(zp_value *v, bool b)
{
	v->kind = ZV_BOOL;
	v->u.b = b;
}

/* The store's entity for a uid, using the request's lookups when the
 * uid is one of the request's own. */
static const zp_entity *
entity_of(const zp_eval *ev, const zp_uid *u)
{
	if (u == &ev->p)
		return ev->pe;
	if (u == &ev->a)
		return ev->ae;
	if (u == &ev->r)
		return ev->re;
	return ev->es != NULL ? zp_entity_find(ev->es, u) : NULL;
}

/* ---- logic ---------------------------------------------------------- */

static int
eval_logic(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	bool is_and = e->op == ZE_AND;
	const char *op = is_and ? "&&" : "||";
	uint32_t i;
	int rc;

	for (i = 0; i < e->nkids; i++) {
		if ((rc = eval_kind(out, ev, e->kids[i], ZV_BOOL, op)) != 0)
			return rc;
		if (out->u.b != is_and)
			return ZT_OK;
	}
	return ZT_OK;
}

static int
eval_if(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	int rc;

	if ((rc = eval_kind(out, ev, e->a, ZV_BOOL, "if")) != ZT_OK)
		return rc;
	return zp_eval_expr(out, ev, out->u.b ? e->b : e->c);
}

/* ---- arithmetic and comparison -------------------------------------- */

static int
eval_arith(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	static const char *ops[] = { "+", "-", "*" };
	const char *op = ops[e->op - ZE_ADD];
	zp_value a, b;
	bool over;
	int rc;

	if ((rc = eval_kind(&a, ev, e->a, ZV_LONG, op)) != ZT_OK ||
	    (rc = eval_kind(&b, ev, e->b, ZV_LONG, op)) != ZT_OK)
		return rc;
	out->kind = ZV_LONG;
	if (e->op == ZE_ADD)
		over = __builtin_add_overflow(a.u.l, b.u.l, &out->u.l);
	else if (e->op == ZE_SUB)
		over = __builtin_sub_overflow(a.u.l, b.u.l, &out->u.l);
	else
		over = __builtin_mul_overflow(a.u.l, b.u.l, &out->u.l);
	if (over)
		return eval_err(ev, "integer overflow: %lld %s %lld",
		    (long long)a.u.l, op, (long long)b.u.l);
	return ZT_OK;
}

/* `<` and friends compare two longs, two datetimes or two durations. */
static int
eval_compare(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	static const char *ops[] = { "<", "<=", ">", ">=" };
	const char *op = ops[e->op - ZE_LT];
	zp_value a, b;
	int rc;

	if ((rc = zp_eval_expr(&a, ev, e->a)) != ZT_OK)
		return rc;
	if (a.kind != ZV_LONG && a.kind != ZV_DATETIME &&
	    a.kind != ZV_DURATION)
		return type_err(ev, op, "long, datetime or duration", &a);
	if ((rc = eval_kind(&b, ev, e->b, a.kind, op)) != ZT_OK)
		return rc;
	switch (e->op) {
	case ZE_LT:	set_bool(out, a.u.l < b.u.l); break;
	case ZE_LE:	set_bool(out, a.u.l <= b.u.l); break;
	case ZE_GT:	set_bool(out, a.u.l > b.u.l); break;
	default:	set_bool(out, a.u.l >= b.u.l); break;
	}
	return ZT_OK;
}

static int
eval_eq(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	zp_value a, b;
	int rc;

	if ((rc = zp_eval_expr(&a, ev, e->a)) != ZT_OK ||
	    (rc = zp_eval_expr(&b, ev, e->b)) != ZT_OK)
		return rc;
	set_bool(out, zp_value_eq(&a, &b) == (e->op == ZE_EQ));
	return ZT_OK;
}

static int
eval_neg(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	int rc;

	if ((rc = eval_kind(out, ev, e->a, ZV_LONG, "-")) != ZT_OK)
		return rc;
	if (out->u.l == INT64_MIN)
		return eval_err(ev, "integer overflow: -(%lld)",
		    (long long)out->u.l);
	out->u.l = -out->u.l;
	return ZT_OK;
}

/* ---- entities and records ------------------------------------------- */

/* `lhs in rhs` once lhs is known to be an entity. */
static int
in_value(bool *res, zp_eval *ev, const zp_uid *a, const zp_value *rhs)
{
	const zp_entity *ea = entity_of(ev, a);
	uint32_t i;

	if (rhs->kind == ZV_ENTITY) {
		*res = zp_entity_in(ev->es, ea, a, rhs->u.e);
		return ZT_OK;
	}
	if (rhs->kind != ZV_SET)
		return type_err(ev, "in", "an entity or a set", rhs);
	for (i = 0; i < rhs->u.set->n; i++)
		if (rhs->u.set->v[i].kind != ZV_ENTITY)
			return type_err(ev, "in", "a set of entities",
			    &rhs->u.set->v[i]);
	*res = false;
	for (i = 0; i < rhs->u.set->n && !*res; i++)
		*res = zp_entity_in(ev->es, ea, a, rhs->u.set->v[i].u.e);
	return ZT_OK;
}

static int
eval_in(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	zp_value a, b;
	bool res;
	int rc;

	if ((rc = eval_kind(&a, ev, e->a, ZV_ENTITY, "in")) != ZT_OK ||
	    (rc = zp_eval_expr(&b, ev, e->b)) != ZT_OK ||
	    (rc = in_value(&res, ev, a.u.e, &b)) != ZT_OK)
		return rc;
	set_bool(out, res);
	return ZT_OK;
}

/* `e is T` and `e is T in x`, which is `e is T && e in x`. */
static int
eval_is(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	zp_value a, b;
	bool res;
	int rc;

	if ((rc = eval_kind(&a, ev, e->a, ZV_ENTITY, "is")) != ZT_OK)
		return rc;
	set_bool(out, zp_str_eq(a.u.e->type, e->name));
	if (!out->u.b || e->b == NULL)
		return ZT_OK;
	if ((rc = zp_eval_expr(&b, ev, e->b)) != ZT_OK ||
	    (rc = in_value(&res, ev, a.u.e, &b)) != ZT_OK)
		return rc;
	out->u.b = res;
	return ZT_OK;
}

static int
eval_has(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	const zp_entity *ent;
	zp_value a;
	int rc;

	if ((rc = zp_eval_expr(&a, ev, e->a)) != ZT_OK)
		return rc;
	if (a.kind == ZV_RECORD) {
		set_bool(out, zp_rec_get(a.u.rec, e->name) != NULL);
	} else if (a.kind == ZV_ENTITY) {
		ent = entity_of(ev, a.u.e);
		set_bool(out, ent != NULL &&
		    zp_rec_get(ent->attrs, e->name) != NULL);
	} else {
		return type_err(ev, "has", "an entity or a record", &a);
	}
	return ZT_OK;
}

static int
eval_get(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	const zp_entity *ent;
	const zp_value *v;
	char ub[96], nb[52];
	zp_value a;
	int rc;

	if ((rc = zp_eval_expr(&a, ev, e->a)) != ZT_OK)
		return rc;
	if (a.kind == ZV_RECORD) {
		if ((v = zp_rec_get(a.u.rec, e->name)) == NULL)
			return eval_err(ev, "record does not have the "
			    "attribute `%s`", name_str(nb, e->name));
	} else if (a.kind == ZV_ENTITY) {
		if ((ent = entity_of(ev, a.u.e)) == NULL)
			return eval_err(ev, "entity %s does not exist",
			    uid_str(ub, a.u.e));
		if ((v = zp_rec_get(ent->attrs, e->name)) == NULL)
			return eval_err(ev, "%s does not have the attribute "
			    "`%s`", uid_str(ub, a.u.e), name_str(nb, e->name));
	} else {
		return type_err(ev, "attribute access", "an entity or a "
		    "record", &a);
	}
	*out = *v;
	return ZT_OK;
}

static int
eval_like(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	zp_value a;
	int rc;

	if ((rc = eval_kind(&a, ev, e->a, ZV_STRING, "like")) != ZT_OK)
		return rc;
	set_bool(out, zp_like(a.u.s, e->pat));
	return ZT_OK;
}

/* ---- literals with evaluated members -------------------------------- */

static int
eval_set(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	zp_set *s;
	uint32_t i;
	int rc;

	s = zp_alloc(ev->scratch, sizeof(*s) + sizeof(zp_value) * e->nkids);
	if (s == NULL)
		return ZT_ENOMEM;
	s->n = e->nkids;
	for (i = 0; i < e->nkids; i++)
		if ((rc = zp_eval_expr(&s->v[i], ev, e->kids[i])) != ZT_OK)
			return rc;
	out->kind = ZV_SET;
	out->u.set = s;
	return ZT_OK;
}

static int
eval_record(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	zp_rec *r;
	uint32_t i;
	int rc;

	r = zp_alloc(ev->scratch, sizeof(*r) + sizeof(zp_field) * e->nkids);
	if (r == NULL)
		return ZT_ENOMEM;
	r->n = e->nkids;
	for (i = 0; i < e->nkids; i++) {
		r->f[i].key = e->keys[i];
		if ((rc = zp_eval_expr(&r->f[i].v, ev, e->kids[i])) != ZT_OK)
			return rc;
	}
	out->kind = ZV_RECORD;
	out->u.rec = r;
	return ZT_OK;
}

/* ---- calls ---------------------------------------------------------- */

static int
call_ctor(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	static const struct { const char *name, *what; uint8_t kind; } c[] = {
		[ZF_IP] = { "ip", "IP address or range", ZV_IP },
		[ZF_DECIMAL] = { "decimal", "decimal", ZV_DECIMAL },
		[ZF_DATETIME] = { "datetime", "datetime", ZV_DATETIME },
		[ZF_DURATION] = { "duration", "duration", ZV_DURATION },
	};
	char sb[52], fb[16];
	zp_value s;
	int rc;

	snprintf(fb, sizeof(fb), "%s()", c[e->fn].name);
	if ((rc = eval_kind(&s, ev, e->kids[0], ZV_STRING, fb)) != ZT_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	out->kind = c[e->fn].kind;
	switch (e->fn) {
	case ZF_IP:
		rc = zp_ip_parse(&out->u.ip, s.u.s.p, s.u.s.n);
		break;
	case ZF_DECIMAL:
		rc = zp_decimal_parse(&out->u.l, s.u.s.p, s.u.s.n);
		break;
	case ZF_DATETIME:
		rc = zp_datetime_parse(&out->u.l, s.u.s.p, s.u.s.n);
		break;
	default:
		rc = zp_duration_parse(&out->u.l, s.u.s.p, s.u.s.n);
		break;
	}
	if (rc != ZT_OK)
		return eval_err(ev, "%s(\"%s\"): not a valid %s",
		    c[e->fn].name, name_str(sb, s.u.s), c[e->fn].what);
	return ZT_OK;
}

static int
call_set(zp_value *out, zp_eval *ev, const zp_expr *e, const char *name)
{
	zp_value s, x;
	uint32_t i;
	bool all = e->fn == ZF_CONTAINS_ALL;
	int rc;

	if ((rc = eval_kind(&s, ev, e->kids[0], ZV_SET, name)) != ZT_OK)
		return rc;
	if (e->fn == ZF_IS_EMPTY) {
		set_bool(out, s.u.set->n == 0);
		return ZT_OK;
	}
	if (e->fn == ZF_CONTAINS) {
		if ((rc = zp_eval_expr(&x, ev, e->kids[1])) != ZT_OK)
			return rc;
		set_bool(out, zp_set_contains(s.u.set, &x));
		return ZT_OK;
	}
	if ((rc = eval_kind(&x, ev, e->kids[1], ZV_SET, name)) != ZT_OK)
		return rc;
	set_bool(out, all);
	for (i = 0; i < x.u.set->n; i++)
		if (zp_set_contains(s.u.set, &x.u.set->v[i]) != all) {
			out->u.b = !all;
			break;
		}
	return ZT_OK;
}

static int
call_ip(zp_value *out, zp_eval *ev, const zp_expr *e, const char *name)
{
	zp_value a, b;
	int rc;

	if ((rc = eval_kind(&a, ev, e->kids[0], ZV_IP, name)) != ZT_OK)
		return rc;
	switch (e->fn) {
	case ZF_IS_IPV4:	set_bool(out, !a.u.ip.v6); return ZT_OK;
	case ZF_IS_IPV6:	set_bool(out, a.u.ip.v6); return ZT_OK;
	case ZF_IS_LOOPBACK:
		set_bool(out, zp_ip_is_loopback(&a.u.ip));
		return ZT_OK;
	case ZF_IS_MULTICAST:
		set_bool(out, zp_ip_is_multicast(&a.u.ip));
		return ZT_OK;
	default:
		break;
	}
	if ((rc = eval_kind(&b, ev, e->kids[1], ZV_IP, name)) != ZT_OK)
		return rc;
	set_bool(out, zp_ip_in_range(&a.u.ip, &b.u.ip));
	return ZT_OK;
}

static int
call_decimal(zp_value *out, zp_eval *ev, const zp_expr *e, const char *name)
{
	zp_value a, b;
	int rc;

	if ((rc = eval_kind(&a, ev, e->kids[0], ZV_DECIMAL, name)) != 0 ||
	    (rc = eval_kind(&b, ev, e->kids[1], ZV_DECIMAL, name)) != 0)
		return rc;
	switch (e->fn) {
	case ZF_LT:	set_bool(out, a.u.l < b.u.l); break;
	case ZF_LE:	set_bool(out, a.u.l <= b.u.l); break;
	case ZF_GT:	set_bool(out, a.u.l > b.u.l); break;
	default:	set_bool(out, a.u.l >= b.u.l); break;
	}
	return ZT_OK;
}

/* The datetime and duration methods. */
static int
call_time(zp_value *out, zp_eval *ev, const zp_expr *e, const char *name)
{
	static const int64_t per[] = { 86400000, 3600000, 60000, 1000, 1 };
	bool on_dt = e->fn <= ZF_TO_TIME;
	zp_value a, b;
	int rc;

	if ((rc = eval_kind(&a, ev, e->kids[0], on_dt ? ZV_DATETIME :
	    ZV_DURATION, name)) != ZT_OK)
		return rc;
	out->kind = ZV_LONG;
	switch (e->fn) {
	case ZF_OFFSET:
	case ZF_DURATION_SINCE:
		if ((rc = eval_kind(&b, ev, e->kids[1], e->fn == ZF_OFFSET ?
		    ZV_DURATION : ZV_DATETIME, name)) != ZT_OK)
			return rc;
		out->kind = e->fn == ZF_OFFSET ? ZV_DATETIME : ZV_DURATION;
		if (e->fn == ZF_OFFSET ?
		    __builtin_add_overflow(a.u.l, b.u.l, &out->u.l) :
		    __builtin_sub_overflow(a.u.l, b.u.l, &out->u.l))
			return eval_err(ev, "overflow in %s", name);
		return ZT_OK;
	case ZF_TO_DATE:
		out->kind = ZV_DATETIME;
		if (zp_datetime_to_date(&out->u.l, a.u.l) != ZT_OK)
			return eval_err(ev, "overflow in %s", name);
		return ZT_OK;
	case ZF_TO_TIME:
		out->kind = ZV_DURATION;
		out->u.l = zp_datetime_to_time(a.u.l);
		return ZT_OK;
	default:
		/* Division truncates toward zero, as Cedar's does. */
		out->u.l = a.u.l / per[e->fn - ZF_TO_DAYS];
		return ZT_OK;
	}
}

static int
eval_call(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	static const char *names[] = {
		"ip()", "decimal()", "contains()", "containsAll()",
		"containsAny()", "isEmpty()", "isInRange()", "isIpv4()",
		"isIpv6()", "isLoopback()", "isMulticast()", "lessThan()",
		"lessThanOrEqual()", "greaterThan()", "greaterThanOrEqual()",
		"datetime()", "duration()", "offset()", "durationSince()",
		"toDate()", "toTime()", "toDays()", "toHours()",
		"toMinutes()", "toSeconds()", "toMilliseconds()",
	};
	const char *name = names[e->fn];

	switch (e->fn) {
	case ZF_IP:
	case ZF_DECIMAL:
	case ZF_DATETIME:
	case ZF_DURATION:
		return call_ctor(out, ev, e);
	case ZF_CONTAINS:
	case ZF_CONTAINS_ALL:
	case ZF_CONTAINS_ANY:
	case ZF_IS_EMPTY:
		return call_set(out, ev, e, name);
	case ZF_LT:
	case ZF_LE:
	case ZF_GT:
	case ZF_GE:
		return call_decimal(out, ev, e, name);
	case ZF_OFFSET:
	case ZF_DURATION_SINCE:
	case ZF_TO_DATE:
	case ZF_TO_TIME:
	case ZF_TO_DAYS:
	case ZF_TO_HOURS:
	case ZF_TO_MINUTES:
	case ZF_TO_SECONDS:
	case ZF_TO_MILLISECONDS:
		return call_time(out, ev, e, name);
	default:
		return call_ip(out, ev, e, name);
	}
}

/* ---- dispatch ------------------------------------------------------- */

static void
eval_var(zp_value *out, const zp_eval *ev, uint8_t var)
{
	switch (var) {
	case ZP_PRINCIPAL:
		out->kind = ZV_ENTITY;
		out->u.e = &ev->p;
		break;
	case ZP_ACTION:
		out->kind = ZV_ENTITY;
		out->u.e = &ev->a;
		break;
	case ZP_RESOURCE:
		out->kind = ZV_ENTITY;
		out->u.e = &ev->r;
		break;
	default:
		out->kind = ZV_RECORD;
		out->u.rec = ev->context;
		break;
	}
}

int
zp_eval_expr(zp_value *out, zp_eval *ev, const zp_expr *e)
{
	int rc;

	switch (e->op) {
	case ZE_LIT:
		*out = e->lit;
		return ZT_OK;
	case ZE_VAR:
		eval_var(out, ev, e->var);
		return ZT_OK;
	case ZE_AND:
	case ZE_OR:
		return eval_logic(out, ev, e);
	case ZE_NOT:
		if ((rc = eval_kind(out, ev, e->a, ZV_BOOL, "!")) != ZT_OK)
			return rc;
		out->u.b = !out->u.b;
		return ZT_OK;
	case ZE_NEG:		return eval_neg(out, ev, e);
	case ZE_IF:		return eval_if(out, ev, e);
	case ZE_EQ:
	case ZE_NE:		return eval_eq(out, ev, e);
	case ZE_LT:
	case ZE_LE:
	case ZE_GT:
	case ZE_GE:		return eval_compare(out, ev, e);
	case ZE_IN:		return eval_in(out, ev, e);
	case ZE_ADD:
	case ZE_SUB:
	case ZE_MUL:		return eval_arith(out, ev, e);
	case ZE_HAS:		return eval_has(out, ev, e);
	case ZE_GET:		return eval_get(out, ev, e);
	case ZE_LIKE:		return eval_like(out, ev, e);
	case ZE_IS:		return eval_is(out, ev, e);
	case ZE_SET:		return eval_set(out, ev, e);
	case ZE_RECORD:		return eval_record(out, ev, e);
	case ZE_CALL:		return eval_call(out, ev, e);
	default:
		return eval_err(ev, "internal error: unknown node %d", e->op);
	}
}

/* ---- policies ------------------------------------------------------- */

static bool
scope_ok(const zp_eval *ev, const zp_scope *sc, const zp_uid *u,
    const zp_entity *ent)
{
	uint32_t i;

	switch (sc->kind) {
	case ZS_ANY:
		return true;
	case ZS_EQ:
		return zp_uid_eq(u, sc->uid);
	case ZS_IN:
		return zp_entity_in(ev->es, ent, u, sc->uid);
	case ZS_IS:
		return zp_str_eq(u->type, sc->type);
	case ZS_IS_IN:
		return zp_str_eq(u->type, sc->type) &&
		    zp_entity_in(ev->es, ent, u, sc->uid);
	case ZS_IN_LIST:
		for (i = 0; i < sc->nlist; i++)
			if (zp_entity_in(ev->es, ent, u, sc->list[i]))
				return true;
		return false;
	default:
		return false;
	}
}

bool
zp_scope_match(const zp_eval *ev, const zp_policy *p)
{
	return scope_ok(ev, &p->principal, &ev->p, ev->pe) &&
	    scope_ok(ev, &p->action, &ev->a, ev->ae) &&
	    scope_ok(ev, &p->resource, &ev->r, ev->re);
}

int
zp_policy_eval(zp_eval *ev, const zp_policy *p)
{
	zp_value v;
	uint32_t i;
	int rc;

	if (!zp_scope_match(ev, p))
		return 0;
	for (i = 0; i < p->nconds; i++) {
		if ((rc = zp_eval_expr(&v, ev, p->conds[i].e)) != ZT_OK)
			return rc;
		if (v.kind != ZV_BOOL)
			return type_err(ev, p->conds[i].unless ? "unless" :
			    "when", "bool", &v);
		if (v.u.b == p->conds[i].unless)
			return 0;
	}
	return 1;
}
