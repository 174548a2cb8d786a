/*
 * parse_json.c: Cedar's JSON policy format, read into the same policies
 * and expression trees as the text syntax.
 *
 * A policy is {"effect": "permit"|"forbid", "principal": S,
 * "action": S, "resource": S, "conditions": [{"kind": "when"|"unless",
 * "body": E}], "annotations": {"key": "value"}} where a scope S is
 * {"op": "All"}, {"op": "==" | "in", "entity": U} (or "slot":
 * "?principal" / "?resource"), {"op": "is", "entity_type": T, "in":
 * {"entity": U}} with "in" optional, and for the action {"op": "in",
 * "entities": [U, ...]}.  An expression E is an object with one key:
 *
 *   {"Value": V}                  a literal, in the entities-JSON form
 *   {"Var": "principal"|...}
 *   {"!" | "neg" | "isEmpty": {"arg": E}}
 *   {"==" | "!=" | "<" | ... | "&&" | "||" | "in" | "+" | "-" | "*" |
 *    "contains" | "containsAll" | "containsAny": {"left": E, "right": E}}
 *   {"." | "has": {"left": E, "attr": "name"}}
 *   {"is": {"left": E, "entity_type": T, "in": E}}    ("in" optional)
 *   {"like": {"left": E, "pattern": ["Wildcard" | {"Literal": "s"}]}}
 *   {"if-then-else": {"if": E, "then": E, "else": E}}
 *   {"Set": [E, ...]}   {"Record": {"key": E, ...}}
 *   {"<function or method>": [E, ...]}   receiver first for a method
 *
 * A policy set is {"staticPolicies": {id: policy}, "templates": {id:
 * policy}, "templateLinks": [{"templateId": T, "newId": L, "values":
 * {"?principal": U, "?resource": U}}]}; every part is optional.  Unknown
 * keys are refused, as Cedar refuses them.  Tags (getTag, hasTag) and
 * partial-evaluation unknowns are not supported.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parse.h"

/* The JSON nesting allowed: two levels per expression level (the
 * operator's object, then its operand object), plus the policy around
 * it; the expression height is checked on its own. */
#define JP_MAX_JSON_DEPTH (2 * ZP_MAX_DEPTH + 16)

typedef struct jctx {
	zt_policy_set *ps;
	zp_arena *a;
	const char *pid;	/* the policy being read, for messages */
} jctx;

static int
jerr(const jctx *c, const char *fmt, ...) __attribute__((format(printf,
    2, 3)));

static int
jerr(const jctx *c, const char *fmt, ...)
{
	char msg[160], id[68];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->pid == NULL)
		return zt_error_set(ZT_EINVAL, "%s", msg);
	zt_str_sanitize(id, c->pid, strlen(c->pid), 64);
	return zt_error_set(ZT_EINVAL, "policy `%s`: %s", id, msg);
}

/* Does object j have only keys among the n in `keys`? */
static bool
keys_ok(json_t *j, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(j, k, v) {
		for (i = 0; i < n; i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (i == n)
			return false;
	}
	return true;
}

static int
jstr(zp_str *out, const jctx *c, json_t *j, const char *what)
{
	size_t n = json_string_length(j);

	if (!json_is_string(j))
		return jerr(c, "%s must be a string", what);
	if (n > ZP_MAX_INPUT)
		return zt_error_set(ZT_ETOOBIG, "%s is too long", what);
	if ((out->p = zp_memdup(c->a, json_string_value(j), n)) == NULL)
		return ZT_ENOMEM;
	out->n = (uint32_t)n;
	return ZT_OK;
}

static int
juid(const zp_uid **out, const jctx *c, json_t *j, const char *what)
{
	char msg[160];
	int rc;

	if ((rc = zp_uid_from_json(out, c->a, j)) == ZT_EINVAL) {
		snprintf(msg, sizeof(msg), "%s", zt_error_msg());
		return jerr(c, "%s: %s", what, msg);
	}
	return rc;
}

/* ---- expressions ---------------------------------------------------- */

static int jexpr(zp_expr **out, const jctx *c, json_t *j);

static zp_expr *
node(const jctx *c, uint8_t op)
{
	zp_expr *e = zp_alloc(c->a, sizeof(*e));

	if (e != NULL) {
		memset(e, 0, sizeof(*e));
		e->op = op;
		e->height = 1;
	}
	return e;
}

static int
seal(const jctx *c, zp_expr *e)
{
	uint16_t h = 0;
	uint32_t i;

	if (e->a != NULL && e->a->height > h)
		h = e->a->height;
	if (e->b != NULL && e->b->height > h)
		h = e->b->height;
	if (e->c != NULL && e->c->height > h)
		h = e->c->height;
	for (i = 0; i < e->nkids; i++)
		if (e->kids[i]->height > h)
			h = e->kids[i]->height;
	if (h >= ZP_MAX_DEPTH)
		return jerr(c, "expression nested deeper than %d",
		    ZP_MAX_DEPTH);
	e->height = (uint16_t)(h + 1);
	return ZT_OK;
}

/* The operand object of an operator: an object with exactly `keys`
 * (the last `nopt` of them optional). */
static int
operand(const jctx *c, json_t *v, const char *op, const char *const *keys,
    size_t n, size_t nopt)
{
	size_t i;

	if (!json_is_object(v) || !keys_ok(v, keys, n))
		return jerr(c, "`%s` takes an object with keys %s%s%s", op,
		    keys[0], n > 1 ? ", " : "", n > 1 ? keys[1] : "");
	for (i = 0; i + nopt < n; i++)
		if (json_object_get(v, keys[i]) == NULL)
			return jerr(c, "`%s` needs \"%s\"", op, keys[i]);
	return ZT_OK;
}

static const struct binop {
	const char *name;
	uint8_t op;
	uint8_t fn;		/* for ZE_CALL */
} binops[] = {
	{ "==", ZE_EQ, 0 }, { "!=", ZE_NE, 0 }, { "<", ZE_LT, 0 },
	{ "<=", ZE_LE, 0 }, { ">", ZE_GT, 0 }, { ">=", ZE_GE, 0 },
	{ "in", ZE_IN, 0 }, { "+", ZE_ADD, 0 }, { "-", ZE_SUB, 0 },
	{ "*", ZE_MUL, 0 }, { "&&", ZE_AND, 0 }, { "||", ZE_OR, 0 },
	{ "contains", ZE_CALL, ZF_CONTAINS },
	{ "containsAll", ZE_CALL, ZF_CONTAINS_ALL },
	{ "containsAny", ZE_CALL, ZF_CONTAINS_ANY },
};

static int
kids2(const jctx *c, zp_expr *e, zp_expr *x, zp_expr *y)
{
	if ((e->kids = zp_alloc(c->a, sizeof(*e->kids) * 2)) == NULL)
		return ZT_ENOMEM;
	e->kids[0] = x;
	e->kids[1] = y;
	e->nkids = 2;
	return ZT_OK;
}

static int
jbinary(zp_expr **out, const jctx *c, const struct binop *b, json_t *v)
{
	static const char *const keys[] = { "left", "right" };
	zp_expr *e, *l, *r;
	int rc;

	if ((rc = operand(c, v, b->name, keys, 2, 0)) != ZT_OK ||
	    (rc = jexpr(&l, c, json_object_get(v, "left"))) != ZT_OK ||
	    (rc = jexpr(&r, c, json_object_get(v, "right"))) != ZT_OK)
		return rc;
	if ((e = node(c, b->op)) == NULL)
		return ZT_ENOMEM;
	e->fn = b->fn;
	if (b->op == ZE_AND || b->op == ZE_OR || b->op == ZE_CALL) {
		if ((rc = kids2(c, e, l, r)) != ZT_OK)
			return rc;
	} else {
		e->a = l;
		e->b = r;
	}
	*out = e;
	return seal(c, e);
}

/* "!", "neg" and "isEmpty": {"arg": E}. */
static int
junary(zp_expr **out, const jctx *c, const char *k, json_t *v)
{
	static const char *const keys[] = { "arg" };
	zp_expr *e, *x;
	int rc;

	if ((rc = operand(c, v, k, keys, 1, 0)) != ZT_OK ||
	    (rc = jexpr(&x, c, json_object_get(v, "arg"))) != ZT_OK)
		return rc;
	if (strcmp(k, "isEmpty") == 0) {
		if ((e = node(c, ZE_CALL)) == NULL ||
		    (e->kids = zp_alloc(c->a, sizeof(*e->kids))) == NULL)
			return ZT_ENOMEM;
		e->fn = ZF_IS_EMPTY;
		e->kids[0] = x;
		e->nkids = 1;
	} else {
		if ((e = node(c, k[0] == '!' ? ZE_NOT : ZE_NEG)) == NULL)
			return ZT_ENOMEM;
		e->a = x;
	}
	*out = e;
	return seal(c, e);
}

/* "." and "has": {"left": E, "attr": "name"}. */
static int
jattr(zp_expr **out, const jctx *c, const char *k, json_t *v)
{
	static const char *const keys[] = { "left", "attr" };
	zp_expr *e, *x;
	zp_str name;
	int rc;

	if ((rc = operand(c, v, k, keys, 2, 0)) != ZT_OK ||
	    (rc = jexpr(&x, c, json_object_get(v, "left"))) != ZT_OK ||
	    (rc = jstr(&name, c, json_object_get(v, "attr"),
	    "an attribute name")) != ZT_OK)
		return rc;
	if ((e = node(c, k[0] == '.' ? ZE_GET : ZE_HAS)) == NULL)
		return ZT_ENOMEM;
	e->a = x;
	e->name = name;
	*out = e;
	return seal(c, e);
}

static int
jis(zp_expr **out, const jctx *c, json_t *v)
{
	static const char *const keys[] = { "left", "entity_type", "in" };
	json_t *in = json_object_get(v, "in");
	zp_expr *e;
	int rc;

	if ((rc = operand(c, v, "is", keys, 3, 1)) != ZT_OK)
		return rc;
	if ((e = node(c, ZE_IS)) == NULL)
		return ZT_ENOMEM;
	if ((rc = jexpr(&e->a, c, json_object_get(v, "left"))) != ZT_OK ||
	    (in != NULL && (rc = jexpr(&e->b, c, in)) != ZT_OK) ||
	    (rc = jstr(&e->name, c, json_object_get(v, "entity_type"),
	    "entity_type")) != ZT_OK)
		return rc;
	if (!zp_type_name_valid(e->name.p, e->name.n))
		return jerr(c, "`is` needs a valid entity type name");
	*out = e;
	return seal(c, e);
}

/* A pattern: ["Wildcard" | {"Literal": "s"}, ...]. */
static int
jpattern(const zp_pattern **out, const jctx *c, json_t *v)
{
	size_t n = json_array_size(v), i;
	zp_pattern *pat;
	json_t *el, *lit;
	int rc;

	if (!json_is_array(v))
		return jerr(c, "a `like` pattern is an array");
	pat = zp_alloc(c->a, sizeof(*pat) + sizeof(zp_patel) * (n + 1));
	if (pat == NULL)
		return ZT_ENOMEM;
	pat->n = (uint32_t)n;
	json_array_foreach(v, i, el) {
		memset(&pat->el[i], 0, sizeof(pat->el[i]));
		if (json_is_string(el) &&
		    strcmp(json_string_value(el), "Wildcard") == 0) {
			pat->el[i].star = true;
			continue;
		}
		lit = json_object_get(el, "Literal");
		if (lit == NULL || json_object_size(el) != 1)
			return jerr(c, "a pattern element is \"Wildcard\" or "
			    "{\"Literal\": ...}");
		if ((rc = jstr(&pat->el[i].lit, c, lit, "a pattern literal"))
		    != ZT_OK)
			return rc;
	}
	*out = pat;
	return ZT_OK;
}

static int
jlike(zp_expr **out, const jctx *c, json_t *v)
{
	static const char *const keys[] = { "left", "pattern" };
	zp_expr *e;
	int rc;

	if ((rc = operand(c, v, "like", keys, 2, 0)) != ZT_OK)
		return rc;
	if ((e = node(c, ZE_LIKE)) == NULL)
		return ZT_ENOMEM;
	if ((rc = jexpr(&e->a, c, json_object_get(v, "left"))) != ZT_OK ||
	    (rc = jpattern(&e->pat, c, json_object_get(v, "pattern"))) != 0)
		return rc;
	*out = e;
	return seal(c, e);
}

static int
jif(zp_expr **out, const jctx *c, json_t *v)
{
	static const char *const keys[] = { "if", "then", "else" };
	zp_expr *e;
	int rc;

	if ((rc = operand(c, v, "if-then-else", keys, 3, 0)) != ZT_OK)
		return rc;
	if ((e = node(c, ZE_IF)) == NULL)
		return ZT_ENOMEM;
	if ((rc = jexpr(&e->a, c, json_object_get(v, "if"))) != ZT_OK ||
	    (rc = jexpr(&e->b, c, json_object_get(v, "then"))) != ZT_OK ||
	    (rc = jexpr(&e->c, c, json_object_get(v, "else"))) != ZT_OK)
		return rc;
	*out = e;
	return seal(c, e);
}

/* Set literals and calls: a node with the array's members as kids. */
static int
jlist(zp_expr **out, const jctx *c, uint8_t op, uint8_t fn, json_t *v)
{
	size_t n = json_array_size(v), i;
	json_t *el;
	zp_expr *e;
	int rc;

	if ((e = node(c, op)) == NULL)
		return ZT_ENOMEM;
	e->fn = fn;
	e->nkids = (uint32_t)n;
	if (n > 0 && (e->kids = zp_alloc(c->a, sizeof(*e->kids) * n)) == NULL)
		return ZT_ENOMEM;
	json_array_foreach(v, i, el)
		if ((rc = jexpr(&e->kids[i], c, el)) != ZT_OK)
			return rc;
	*out = e;
	return seal(c, e);
}

static int
jrecord(zp_expr **out, const jctx *c, json_t *v)
{
	size_t n = json_object_size(v), i = 0, j;
	const char *k;
	json_t *el;
	zp_expr *e, *x;
	zp_str key;
	int rc;

	if (!json_is_object(v))
		return jerr(c, "\"Record\" takes an object");
	if ((e = node(c, ZE_RECORD)) == NULL)
		return ZT_ENOMEM;
	e->kids = zp_alloc(c->a, sizeof(*e->kids) * (n + 1));
	e->keys = zp_alloc(c->a, sizeof(*e->keys) * (n + 1));
	if (e->kids == NULL || e->keys == NULL)
		return ZT_ENOMEM;

	/* Insert each field in key order; jansson refused duplicates. */
	json_object_foreach(v, k, el) {
		if ((key.p = zp_memdup(c->a, k, strlen(k))) == NULL)
			return ZT_ENOMEM;
		key.n = (uint32_t)strlen(k);
		if ((rc = jexpr(&x, c, el)) != ZT_OK)
			return rc;
		for (j = i; j > 0 && zp_str_cmp(e->keys[j - 1], key) > 0; j--) {
			e->keys[j] = e->keys[j - 1];
			e->kids[j] = e->kids[j - 1];
		}
		e->keys[j] = key;
		e->kids[j] = x;
		i++;
	}
	e->nkids = (uint32_t)n;
	*out = e;
	return seal(c, e);
}

static int
jvar(zp_expr **out, const jctx *c, json_t *v)
{
	static const char *vars[] = { "principal", "action", "resource",
	    "context" };
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(vars); i++)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), vars[i]) == 0) {
			if ((*out = node(c, ZE_VAR)) == NULL)
				return ZT_ENOMEM;
			(*out)->var = (uint8_t)i;
			return ZT_OK;
		}
	return jerr(c, "\"Var\" is principal, action, resource or context");
}

static int
jvalue(zp_expr **out, const jctx *c, json_t *v)
{
	char msg[160];
	zp_expr *e;
	int rc;

	if ((e = node(c, ZE_LIT)) == NULL)
		return ZT_ENOMEM;
	if ((rc = zp_value_from_json(&e->lit, c->a, v, 1)) != ZT_OK) {
		if (rc != ZT_EINVAL)
			return rc;
		snprintf(msg, sizeof(msg), "%s", zt_error_msg());
		return jerr(c, "bad \"Value\": %s", msg);
	}
	*out = e;
	return ZT_OK;
}

static int
jcall(zp_expr **out, const jctx *c, const char *k, json_t *v)
{
	uint8_t fn, nargs;
	char name[52];

	zt_str_sanitize(name, k, strlen(k), 48);
	if (zp_fn_find(k, strlen(k), &fn, &nargs) != ZT_OK)
		return jerr(c, "unknown expression or function `%s`", name);
	if (!json_is_array(v))
		return jerr(c, "`%s` takes an array of arguments", name);
	if (json_array_size(v) != nargs)
		return jerr(c, "`%s` takes %u argument%s, receiver included",
		    name, nargs, nargs == 1 ? "" : "s");
	return jlist(out, c, ZE_CALL, fn, v);
}

static int
jexpr(zp_expr **out, const jctx *c, json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	void *it;

	if (!json_is_object(j) || json_object_size(j) != 1)
		return jerr(c, "an expression is an object with one key");
	it = json_object_iter(j);
	k = json_object_iter_key(it);
	v = json_object_iter_value(it);
	if (strcmp(k, "Value") == 0)
		return jvalue(out, c, v);
	if (strcmp(k, "Var") == 0)
		return jvar(out, c, v);
	if (strcmp(k, "Slot") == 0)
		return jerr(c, "a slot is allowed only in the principal and "
		    "resource scopes");
	for (i = 0; i < ZT_ARRAY_LEN(binops); i++)
		if (strcmp(k, binops[i].name) == 0)
			return jbinary(out, c, &binops[i], v);
	if (strcmp(k, "!") == 0 || strcmp(k, "neg") == 0 ||
	    strcmp(k, "isEmpty") == 0)
		return junary(out, c, k, v);
	if (strcmp(k, ".") == 0 || strcmp(k, "has") == 0)
		return jattr(out, c, k, v);
	if (strcmp(k, "is") == 0)
		return jis(out, c, v);
	if (strcmp(k, "like") == 0)
		return jlike(out, c, v);
	if (strcmp(k, "if-then-else") == 0)
		return jif(out, c, v);
	if (strcmp(k, "Set") == 0) {
		if (!json_is_array(v))
			return jerr(c, "\"Set\" takes an array");
		return jlist(out, c, ZE_SET, 0, v);
	}
	if (strcmp(k, "Record") == 0)
		return jrecord(out, c, v);
	if (strcmp(k, "getTag") == 0 || strcmp(k, "hasTag") == 0 ||
	    strcmp(k, "Unknown") == 0)
		return jerr(c, "`%s` is not supported", k);
	return jcall(out, c, k, v);
}

/* ---- scopes and policies -------------------------------------------- */

static bool
is_action_type(zp_str t)
{
	return (t.n == 6 && memcmp(t.p, "Action", 6) == 0) ||
	    (t.n > 8 && memcmp(t.p + t.n - 8, "::Action", 8) == 0);
}

/* {"entity": U} or {"slot": "?var"} inside a scope object `j`. */
static int
jtarget(zp_scope *sc, const jctx *c, json_t *j, const char *var)
{
	json_t *ent = json_object_get(j, "entity");
	json_t *slot = json_object_get(j, "slot");
	char want[16];

	if ((ent == NULL) == (slot == NULL))
		return jerr(c, "the %s scope needs \"entity\" or \"slot\"",
		    var);
	if (ent != NULL)
		return juid(&sc->uid, c, ent, var);
	snprintf(want, sizeof(want), "?%s", var);
	if (strcmp(var, "action") == 0 || !json_is_string(slot) ||
	    strcmp(json_string_value(slot), want) != 0)
		return jerr(c, "the %s scope takes only the slot `?%s`", var,
		    var);
	sc->slot = true;
	return ZT_OK;
}

static int
jaction_list(zp_scope *sc, const jctx *c, json_t *list)
{
	const zp_uid **v;
	json_t *el;
	size_t i, n = json_array_size(list);
	int rc;

	if (!json_is_array(list))
		return jerr(c, "\"entities\" must be an array");
	if ((v = zp_alloc(c->a, sizeof(*v) * (n + 1))) == NULL)
		return ZT_ENOMEM;
	json_array_foreach(list, i, el)
		if ((rc = juid(&v[i], c, el, "action")) != ZT_OK)
			return rc;
	sc->kind = ZS_IN_LIST;
	sc->list = v;
	sc->nlist = (uint32_t)n;
	return ZT_OK;
}

static int
check_actions(const zp_scope *sc, const jctx *c)
{
	uint32_t i;

	if (sc->uid != NULL && !is_action_type(sc->uid->type))
		return jerr(c, "the action scope needs Action entities");
	for (i = 0; i < sc->nlist; i++)
		if (!is_action_type(sc->list[i]->type))
			return jerr(c, "the action scope needs Action "
			    "entities");
	return ZT_OK;
}

static int
jscope(zp_scope *sc, const jctx *c, json_t *j, const char *var)
{
	static const char *const keys[] = { "op", "entity", "slot",
	    "entities", "entity_type", "in" };
	bool action = strcmp(var, "action") == 0;
	json_t *opj = json_object_get(j, "op"), *in;
	const char *op;
	int rc;

	memset(sc, 0, sizeof(*sc));
	if (!json_is_object(j) || !json_is_string(opj) ||
	    !keys_ok(j, keys, ZT_ARRAY_LEN(keys)))
		return jerr(c, "the %s scope is an object with an \"op\"", var);
	op = json_string_value(opj);
	if (strcmp(op, "All") == 0) {
		sc->kind = ZS_ANY;
		return json_object_size(j) == 1 ? ZT_OK :
		    jerr(c, "\"All\" takes no operands");
	}
	if (strcmp(op, "==") == 0 || strcmp(op, "in") == 0) {
		sc->kind = op[0] == '=' ? ZS_EQ : ZS_IN;
		if (action && sc->kind == ZS_IN &&
		    json_object_get(j, "entities") != NULL)
			rc = jaction_list(sc, c, json_object_get(j,
			    "entities"));
		else
			rc = jtarget(sc, c, j, var);
		if (rc == ZT_OK && json_object_size(j) != 2)
			rc = jerr(c, "unexpected keys in the %s scope", var);
		if (rc == ZT_OK && action)
			rc = check_actions(sc, c);
		return rc;
	}
	if (strcmp(op, "is") != 0 || action)
		return jerr(c, "unknown %s scope operator", var);
	sc->kind = ZS_IS;
	if ((rc = jstr(&sc->type, c, json_object_get(j, "entity_type"),
	    "entity_type")) != ZT_OK)
		return rc;
	if (!zp_type_name_valid(sc->type.p, sc->type.n))
		return jerr(c, "`is` needs a valid entity type name");
	if ((in = json_object_get(j, "in")) == NULL)
		return json_object_size(j) == 2 ? ZT_OK :
		    jerr(c, "unexpected keys in the %s scope", var);
	sc->kind = ZS_IS_IN;
	if (!json_is_object(in) || json_object_size(in) != 1 ||
	    json_object_size(j) != 3)
		return jerr(c, "\"in\" of `is` takes an object with "
		    "\"entity\" or \"slot\"");
	return jtarget(sc, c, in, var);
}

static int
jconditions(zp_policy *pol, const jctx *c, json_t *j)
{
	static const char *const keys[] = { "kind", "body" };
	size_t n = json_array_size(j), i;
	json_t *el, *kind;
	int rc;

	if (j == NULL)
		return ZT_OK;
	if (!json_is_array(j))
		return jerr(c, "\"conditions\" must be an array");
	if ((pol->conds = zp_alloc(c->a, sizeof(*pol->conds) * (n + 1))) ==
	    NULL)
		return ZT_ENOMEM;
	json_array_foreach(j, i, el) {
		kind = json_object_get(el, "kind");
		if (!json_is_object(el) || json_object_size(el) != 2 ||
		    !keys_ok(el, keys, 2) || !json_is_string(kind) ||
		    (strcmp(json_string_value(kind), "when") != 0 &&
		    strcmp(json_string_value(kind), "unless") != 0))
			return jerr(c, "a condition is {\"kind\": \"when\" or "
			    "\"unless\", \"body\": ...}");
		pol->conds[i].unless = json_string_value(kind)[0] == 'u';
		if ((rc = jexpr(&pol->conds[i].e, c, json_object_get(el,
		    "body"))) != ZT_OK)
			return rc;
	}
	pol->nconds = (uint32_t)n;
	return ZT_OK;
}

static int
jannotations(zp_policy *pol, const jctx *c, json_t *j)
{
	size_t n = json_object_size(j), i = 0;
	const char *k;
	json_t *v;
	int rc;

	if (j == NULL)
		return ZT_OK;
	if (!json_is_object(j))
		return jerr(c, "\"annotations\" must be an object");
	if ((pol->annots = zp_alloc(c->a, sizeof(*pol->annots) * (n + 1))) ==
	    NULL)
		return ZT_ENOMEM;
	json_object_foreach(j, k, v) {
		if (!zp_ident_valid(k, strlen(k)))
			return jerr(c, "an annotation key must be an "
			    "identifier");
		pol->annots[i].key.p = zp_memdup(c->a, k, strlen(k));
		pol->annots[i].key.n = (uint32_t)strlen(k);
		if (pol->annots[i].key.p == NULL)
			return ZT_ENOMEM;
		pol->annots[i].value.p = "";
		pol->annots[i].value.n = 0;
		if (!json_is_null(v) && (rc = jstr(&pol->annots[i].value, c, v,
		    "an annotation value")) != ZT_OK)
			return rc;
		i++;
	}
	pol->nannots = (uint32_t)n;
	return ZT_OK;
}

static int
jpolicy(zp_policy *pol, jctx *c, json_t *j, const char *id)
{
	static const char *const keys[] = { "effect", "principal", "action",
	    "resource", "conditions", "annotations" };
	json_t *eff = json_object_get(j, "effect");
	int rc;

	memset(pol, 0, sizeof(*pol));
	c->pid = id;
	if ((pol->id = zp_memdup(c->a, id, strlen(id))) == NULL)
		return ZT_ENOMEM;
	if (!json_is_object(j) || !keys_ok(j, keys, ZT_ARRAY_LEN(keys)))
		return jerr(c, "a policy is an object with effect, principal, "
		    "action, resource, conditions and annotations");
	if (!json_is_string(eff) || (strcmp(json_string_value(eff),
	    "permit") != 0 && strcmp(json_string_value(eff), "forbid") != 0))
		return jerr(c, "\"effect\" is \"permit\" or \"forbid\"");
	pol->forbid = json_string_value(eff)[0] == 'f';
	if ((rc = jscope(&pol->principal, c, json_object_get(j, "principal"),
	    "principal")) != ZT_OK ||
	    (rc = jscope(&pol->action, c, json_object_get(j, "action"),
	    "action")) != ZT_OK ||
	    (rc = jscope(&pol->resource, c, json_object_get(j, "resource"),
	    "resource")) != ZT_OK ||
	    (rc = jconditions(pol, c, json_object_get(j, "conditions"))) != 0)
		return rc;
	return jannotations(pol, c, json_object_get(j, "annotations"));
}

/* ---- policy sets ---------------------------------------------------- */

static int
add_policies(jctx *c, json_t *obj, bool templates)
{
	const char *id;
	zp_policy pol;
	json_t *j;
	int rc;

	if (obj == NULL)
		return ZT_OK;
	if (!json_is_object(obj))
		return jerr(c, "\"%s\" must be an object keyed by policy id",
		    templates ? "templates" : "staticPolicies");
	json_object_foreach(obj, id, j) {
		if (id[0] == '\0')
			return jerr(c, "a policy id may not be empty");
		if ((rc = jpolicy(&pol, c, j, id)) != ZT_OK)
			return rc;
		if (templates && !pol.principal.slot && !pol.resource.slot)
			return jerr(c, "a template needs a slot");
		if (!templates && (pol.principal.slot || pol.resource.slot))
			return jerr(c, "a static policy may not hold a slot");
		if ((rc = zp_policy_add(c->ps, &pol)) != ZT_OK)
			return rc;
	}
	c->pid = NULL;
	return ZT_OK;
}

static int
add_link(jctx *c, json_t *l)
{
	static const char *const keys[] = { "templateId", "newId", "values" };
	static const char *const vkeys[] = { "?principal", "?resource" };
	json_t *t = json_object_get(l, "templateId");
	json_t *id = json_object_get(l, "newId");
	json_t *vals = json_object_get(l, "values"), *pv, *rv;
	const zp_uid *p = NULL, *r = NULL;
	int rc;

	c->pid = NULL;
	if (!json_is_object(l) || !keys_ok(l, keys, 3) ||
	    !json_is_string(t) || !json_is_string(id) ||
	    json_string_value(id)[0] == '\0' || !json_is_object(vals) ||
	    !keys_ok(vals, vkeys, 2))
		return jerr(c, "a template link is {\"templateId\", \"newId\", "
		    "\"values\": {\"?principal\", \"?resource\"}}");
	c->pid = json_string_value(id);
	pv = json_object_get(vals, "?principal");
	rv = json_object_get(vals, "?resource");
	if ((pv != NULL && (rc = juid(&p, c, pv, "?principal")) != ZT_OK) ||
	    (rv != NULL && (rc = juid(&r, c, rv, "?resource")) != ZT_OK))
		return rc;
	return zp_link(c->ps, json_string_value(t), json_string_value(id), p,
	    r);
}

static int
load_set(jctx *c, json_t *root)
{
	static const char *const keys[] = { "staticPolicies", "templates",
	    "templateLinks" };
	json_t *links, *l;
	zp_policy pol;
	size_t i;
	int rc;

	if (!json_is_object(root))
		return jerr(c, "a JSON policy set is an object");

	/* A single policy on its own. */
	if (json_object_get(root, "effect") != NULL) {
		if ((rc = jpolicy(&pol, c, root, "policy0")) != ZT_OK)
			return rc;
		return zp_policy_add(c->ps, &pol);
	}
	if (!keys_ok(root, keys, 3))
		return jerr(c, "a JSON policy set has only staticPolicies, "
		    "templates and templateLinks");
	if ((rc = add_policies(c, json_object_get(root, "staticPolicies"),
	    false)) != ZT_OK ||
	    (rc = add_policies(c, json_object_get(root, "templates"), true))
	    != ZT_OK)
		return rc;
	links = json_object_get(root, "templateLinks");
	if (links != NULL && !json_is_array(links))
		return jerr(c, "\"templateLinks\" must be an array");
	json_array_foreach(links, i, l)
		if ((rc = add_link(c, l)) != ZT_OK)
			return rc;
	return ZT_OK;
}

int
zt_policy_set_parse_json(zt_policy_set **out, const char *json, size_t len,
    zt_policy_error *err)
{
	zt_policy_error local;
	zt_policy_set *ps;
	json_t *root = NULL;
	jctx c;
	int rc;

	*out = NULL;
	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (len > ZP_MAX_INPUT)
		return zt_error_set(ZT_ETOOBIG, "policy JSON over %u bytes",
		    ZP_MAX_INPUT);
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return ZT_ENOMEM;
	memset(&c, 0, sizeof(c));
	c.ps = ps;
	c.a = &ps->arena;
	rc = zt_json_parse(&root, json, len, JP_MAX_JSON_DEPTH);
	if (rc == ZT_OK)
		rc = load_set(&c, root);
	if (rc == ZT_OK)
		rc = zp_index_build(ps);
	json_decref(root);
	if (rc != ZT_OK) {
		snprintf(err->message, sizeof(err->message), "%s",
		    rc == ZT_ENOMEM ? "out of memory" : zt_error_msg());
		zt_policy_set_free(ps);
		return rc;
	}
	*out = ps;
	return ZT_OK;
}
