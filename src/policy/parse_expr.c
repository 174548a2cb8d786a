/*
 * parse_expr.c: Cedar expressions, by recursive descent.
 *
 *   Expr     = Or | "if" Expr "then" Expr "else" Expr
 *   Or       = And { "||" And }
 *   And      = Relation { "&&" Relation }
 *   Relation = Add [ RelOp Add ] | Add "has" Attr { "." Ident }
 *            | Add "like" String | Add "is" Path [ "in" Add ]
 *   RelOp    = "<" | "<=" | ">=" | ">" | "!=" | "==" | "in"
 *   Add      = Mult { ("+" | "-") Mult }
 *   Mult     = Unary { "*" Unary }
 *   Unary    = up to four of "!" and "-", then Member
 *   Member   = Primary { "." Ident [ "(" Args ")" ] | "[" String "]" }
 *   Primary  = Int | String | "true" | "false" | Var | Path "::" String
 *            | Ident "(" Args ")" | "(" Expr ")" | "[" Args "]"
 *            | "{" [ Key ":" Expr { "," Key ":" Expr } ] "}"
 *
 * Relations do not chain ("a < b < c" is refused), as in Cedar.  Constant
 * parts are folded while parsing: entity, set and record literals whose
 * members are constants, and ip, decimal, datetime and duration of a
 * valid literal, become values, so a decision evaluates them for free.  An
 * invalid literal argument is left for evaluation to report, because in
 * Cedar it is an evaluation error, not a parse error.  Every node records
 * its height and a tree taller than ZP_MAX_DEPTH is refused, which bounds
 * both this parser's recursion and the evaluator's.
 */
#include <string.h>

#include "policy/parse.h"

static int parse_add(zp_expr **out, zp_parser *p);

static const struct fn_def {
	const char *name;
	uint8_t fn;
	uint8_t nargs;		/* the receiver counts for a method */
	bool method;
} fns[] = {
	{ "ip", ZF_IP, 1, false },
	{ "decimal", ZF_DECIMAL, 1, false },
	{ "contains", ZF_CONTAINS, 2, true },
	{ "containsAll", ZF_CONTAINS_ALL, 2, true },
	{ "containsAny", ZF_CONTAINS_ANY, 2, true },
	{ "isEmpty", ZF_IS_EMPTY, 1, true },
	{ "isInRange", ZF_IS_IN_RANGE, 2, true },
	{ "isIpv4", ZF_IS_IPV4, 1, true },
	{ "isIpv6", ZF_IS_IPV6, 1, true },
	{ "isLoopback", ZF_IS_LOOPBACK, 1, true },
	{ "isMulticast", ZF_IS_MULTICAST, 1, true },
	{ "lessThan", ZF_LT, 2, true },
	{ "lessThanOrEqual", ZF_LE, 2, true },
	{ "greaterThan", ZF_GT, 2, true },
	{ "greaterThanOrEqual", ZF_GE, 2, true },
	{ "datetime", ZF_DATETIME, 1, false },
	{ "duration", ZF_DURATION, 1, false },
	{ "offset", ZF_OFFSET, 2, true },
	{ "durationSince", ZF_DURATION_SINCE, 2, true },
	{ "toDate", ZF_TO_DATE, 1, true },
	{ "toTime", ZF_TO_TIME, 1, true },
	{ "toDays", ZF_TO_DAYS, 1, true },
	{ "toHours", ZF_TO_HOURS, 1, true },
	{ "toMinutes", ZF_TO_MINUTES, 1, true },
	{ "toSeconds", ZF_TO_SECONDS, 1, true },
	{ "toMilliseconds", ZF_TO_MILLISECONDS, 1, true },
};

static const struct fn_def *
fn_find(const zp_token *t, bool method)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(fns); i++)
		if (fns[i].method == method && zp_is_kw(t, fns[i].name))
			return &fns[i];
	return NULL;
}

int
zp_fn_find(const char *name, size_t n, uint8_t *fn, uint8_t *nargs)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(fns); i++)
		if (strlen(fns[i].name) == n &&
		    memcmp(fns[i].name, name, n) == 0) {
			*fn = fns[i].fn;
			*nargs = fns[i].nargs;
			return ZT_OK;
		}
	return ZT_ENOTFOUND;
}

/* ---- nodes -------------------------------------------------------- */

static zp_expr *
new_node(zp_parser *p, uint8_t op)
{
	zp_expr *e = zp_alloc(p->a, sizeof(*e));

	if (e == NULL) {
		p->failed = true;
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->op = op;
	e->height = 1;
	e->line = p->tok.line;
	e->col = p->tok.col;
	return e;
}

static uint16_t
h_of(const zp_expr *e)
{
	return e != NULL ? e->height : 0;
}

/* Sets e's height from its operands; refuses a tree too tall. */
static int
seal(zp_parser *p, zp_expr *e, const zp_token *at)
{
	uint16_t h = h_of(e->a);
	uint32_t i;

	if (h_of(e->b) > h)
		h = h_of(e->b);
	if (h_of(e->c) > h)
		h = h_of(e->c);
	for (i = 0; i < e->nkids; i++)
		if (h_of(e->kids[i]) > h)
			h = h_of(e->kids[i]);
	if (h >= ZP_MAX_DEPTH)
		return zp_perr(p, at, "expression nested deeper than %d",
		    ZP_MAX_DEPTH);
	e->height = (uint16_t)(h + 1);
	e->line = at->line;
	e->col = at->col;
	return ZT_OK;
}

static int
binary(zp_expr **out, zp_parser *p, uint8_t op, zp_expr *a, zp_expr *b,
    const zp_token *at)
{
	zp_expr *e = new_node(p, op);

	if (e == NULL)
		return ZT_ENOMEM;
	e->a = a;
	e->b = b;
	*out = e;
	return seal(p, e, at);
}

static int
literal(zp_expr **out, zp_parser *p, zp_value v)
{
	zp_expr *e = new_node(p, ZE_LIT);

	if (e == NULL)
		return ZT_ENOMEM;
	e->lit = v;
	*out = e;
	return ZT_OK;
}

/* ---- lists -------------------------------------------------------- */

/* A growable array of node pointers, copied into the arena when done. */
typedef struct nodelist {
	zp_expr *inl[16];
	zp_expr **v;
	uint32_t n, cap;
} nodelist;

static int
list_push(zp_parser *p, nodelist *l, zp_expr *e)
{
	zp_expr **nv;

	if (l->v == NULL) {
		l->v = l->inl;
		l->cap = ZT_ARRAY_LEN(l->inl);
	}
	if (l->n == l->cap) {
		if ((nv = zp_alloc(p->a, sizeof(*nv) * l->cap * 2)) == NULL)
			return ZT_ENOMEM;
		memcpy(nv, l->v, sizeof(*nv) * l->n);
		l->v = nv;
		l->cap *= 2;
	}
	l->v[l->n++] = e;
	return ZT_OK;
}

static zp_expr **
list_done(zp_parser *p, nodelist *l)
{
	if (l->n == 0)
		return NULL;
	return zp_memdup(p->a, l->v, sizeof(*l->v) * l->n);
}

/* Reads `Expr { "," Expr } [","]` up to `close`, which it consumes: Cedar
 * allows a trailing comma in set literals and argument lists. */
static int
parse_args(nodelist *l, zp_parser *p, uint8_t close, const char *what)
{
	zp_expr *e;
	int rc;

	if (p->tok.kind == close)
		return zp_next(p);
	for (;;) {
		if ((rc = zp_parse_expr(&e, p)) != ZT_OK ||
		    (rc = list_push(p, l, e)) != ZT_OK)
			return rc;
		if (p->tok.kind != T_COMMA)
			break;
		if ((rc = zp_next(p)) != ZT_OK)
			return rc;
		if (p->tok.kind == close)
			break;
	}
	return zp_expect(p, close, what);
}

/* ---- calls -------------------------------------------------------- */

/* Folds ip("..."), decimal("..."), datetime("...") and duration("...")
 * of a valid literal. */
static void
fold_call(zp_expr *e)
{
	const zp_value *arg;
	zp_value v;
	int rc;

	if (e->fn != ZF_IP && e->fn != ZF_DECIMAL && e->fn != ZF_DATETIME &&
	    e->fn != ZF_DURATION)
		return;
	arg = &e->kids[0]->lit;
	if (e->kids[0]->op != ZE_LIT || arg->kind != ZV_STRING)
		return;
	memset(&v, 0, sizeof(v));
	switch (e->fn) {
	case ZF_IP:
		v.kind = ZV_IP;
		rc = zp_ip_parse(&v.u.ip, arg->u.s.p, arg->u.s.n);
		break;
	case ZF_DECIMAL:
		v.kind = ZV_DECIMAL;
		rc = zp_decimal_parse(&v.u.l, arg->u.s.p, arg->u.s.n);
		break;
	case ZF_DATETIME:
		v.kind = ZV_DATETIME;
		rc = zp_datetime_parse(&v.u.l, arg->u.s.p, arg->u.s.n);
		break;
	default:
		v.kind = ZV_DURATION;
		rc = zp_duration_parse(&v.u.l, arg->u.s.p, arg->u.s.n);
		break;
	}
	if (rc != ZT_OK)
		return;
	e->op = ZE_LIT;
	e->lit = v;
	e->kids = NULL;
	e->nkids = 0;
	e->height = 1;
}

/* After the name; the current token is "(".  `recv` is the receiver of
 * a method, NULL for a function. */
static int
parse_call(zp_expr **out, zp_parser *p, const zp_token *name, zp_expr *recv)
{
	const struct fn_def *f = fn_find(name, recv != NULL);
	nodelist l = { .n = 0 };
	zp_expr *e;
	int rc;

	if (f == NULL)
		return zp_perr(p, name, "unknown %s `%.*s`",
		    recv != NULL ? "method" : "function", (int)name->n,
		    name->p);
	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	if (recv != NULL && (rc = list_push(p, &l, recv)) != ZT_OK)
		return rc;
	if ((rc = parse_args(&l, p, T_RPAREN, "`)`")) != ZT_OK)
		return rc;
	if (l.n != f->nargs)
		return zp_perr(p, name, "`%s` takes %d argument%s", f->name,
		    f->nargs - (f->method ? 1 : 0),
		    f->nargs - (f->method ? 1 : 0) == 1 ? "" : "s");
	if ((e = new_node(p, ZE_CALL)) == NULL)
		return ZT_ENOMEM;
	e->fn = f->fn;
	e->nkids = l.n;
	if ((e->kids = list_done(p, &l)) == NULL)
		return ZT_ENOMEM;
	*out = e;
	if ((rc = seal(p, e, name)) != ZT_OK)
		return rc;
	fold_call(e);
	return ZT_OK;
}

/* ---- primaries ---------------------------------------------------- */

/* A set literal; constant when every member is. */
static int
parse_set(zp_expr **out, zp_parser *p, const zp_token *at)
{
	nodelist l = { .n = 0 };
	zp_set *set;
	zp_expr *e;
	uint32_t i;
	int rc;

	if ((rc = parse_args(&l, p, T_RBRACK, "`]`")) != ZT_OK)
		return rc;
	if ((e = new_node(p, ZE_SET)) == NULL)
		return ZT_ENOMEM;
	e->nkids = l.n;
	e->kids = list_done(p, &l);
	*out = e;
	if ((rc = seal(p, e, at)) != ZT_OK)
		return rc;
	for (i = 0; i < l.n; i++)
		if (e->kids[i]->op != ZE_LIT)
			return ZT_OK;
	set = zp_alloc(p->a, sizeof(*set) + sizeof(zp_value) * l.n);
	if (set == NULL)
		return ZT_ENOMEM;
	set->n = l.n;
	for (i = 0; i < l.n; i++)
		set->v[i] = e->kids[i]->lit;
	e->op = ZE_LIT;
	e->lit.kind = ZV_SET;
	e->lit.u.set = set;
	e->height = 1;
	return ZT_OK;
}

static int
parse_key(zp_parser *p, zp_str *key)
{
	char msg[64];
	int rc;

	if (p->tok.kind == T_STR) {
		rc = zp_unescape(key, p->a, p->tok.p, p->tok.n, msg,
		    sizeof(msg));
		if (rc != ZT_OK)
			return rc == ZT_EINVAL ? zp_perr(p, &p->tok, "%s", msg)
			    : rc;
		return zp_next(p);
	}
	return zp_ident(p, key, "a record key");
}

/* Builds the record value of a literal whose fields are all constants. */
static int
fold_record(zp_parser *p, zp_expr *e)
{
	zp_rec *rec;
	uint32_t i;

	for (i = 0; i < e->nkids; i++)
		if (e->kids[i]->op != ZE_LIT)
			return ZT_OK;
	rec = zp_alloc(p->a, sizeof(*rec) + sizeof(zp_field) * e->nkids);
	if (rec == NULL)
		return ZT_ENOMEM;
	rec->n = e->nkids;
	for (i = 0; i < e->nkids; i++) {
		rec->f[i].key = e->keys[i];
		rec->f[i].v = e->kids[i]->lit;
	}
	e->op = ZE_LIT;
	e->lit.kind = ZV_RECORD;
	e->lit.u.rec = rec;
	e->height = 1;
	return ZT_OK;
}

/* Record fields while parsing, grown in the arena. */
typedef struct kvlist {
	zp_str *keys;
	zp_expr **vals;
	uint32_t n, cap;
} kvlist;

static int
kv_push(zp_parser *p, kvlist *l, zp_str key, zp_expr *e)
{
	zp_str *nk;
	zp_expr **nv;
	uint32_t cap = l->cap == 0 ? 8 : l->cap * 2;

	if (l->n == l->cap) {
		nk = zp_alloc(p->a, sizeof(*nk) * cap);
		nv = zp_alloc(p->a, sizeof(*nv) * cap);
		if (nk == NULL || nv == NULL)
			return ZT_ENOMEM;
		if (l->n > 0) {
			memcpy(nk, l->keys, sizeof(*nk) * l->n);
			memcpy(nv, l->vals, sizeof(*nv) * l->n);
		}
		l->keys = nk;
		l->vals = nv;
		l->cap = cap;
	}
	l->keys[l->n] = key;
	l->vals[l->n++] = e;
	return ZT_OK;
}

/* Sorts the fields by key (insertion sort: literals are short) and
 * refuses a key given twice. */
static int
kv_sort(zp_parser *p, kvlist *l, const zp_token *at)
{
	uint32_t i, j;
	zp_str k;
	zp_expr *v;
	int c;

	for (i = 1; i < l->n; i++) {
		k = l->keys[i];
		v = l->vals[i];
		for (j = i; j > 0 && (c = zp_str_cmp(l->keys[j - 1], k)) >= 0;
		    j--) {
			if (c == 0)
				return zp_perr(p, at, "duplicate key `%.*s` "
				    "in record literal", (int)k.n, k.p);
			l->keys[j] = l->keys[j - 1];
			l->vals[j] = l->vals[j - 1];
		}
		l->keys[j] = k;
		l->vals[j] = v;
	}
	return ZT_OK;
}

/*
 * A record literal.  Fields are sorted by key here, once, so evaluation
 * builds records already in lookup order; the order of evaluation is
 * then by key rather than as written, which only changes which of two
 * errors is reported.
 */
static int
parse_record(zp_expr **out, zp_parser *p, const zp_token *at)
{
	kvlist l = { .n = 0 };
	zp_expr *e, *v;
	zp_str key;
	int rc;

	while (p->tok.kind != T_RBRACE) {
		if (l.n > 0 && (rc = zp_expect(p, T_COMMA, "`,` or `}`")) != 0)
			return rc;
		/* A trailing comma, as Cedar allows. */
		if (l.n > 0 && p->tok.kind == T_RBRACE)
			break;
		if ((rc = parse_key(p, &key)) != ZT_OK ||
		    (rc = zp_expect(p, T_COLON, "`:`")) != ZT_OK ||
		    (rc = zp_parse_expr(&v, p)) != ZT_OK ||
		    (rc = kv_push(p, &l, key, v)) != ZT_OK)
			return rc;
	}
	if ((rc = zp_next(p)) != ZT_OK || (rc = kv_sort(p, &l, at)) != ZT_OK)
		return rc;
	if ((e = new_node(p, ZE_RECORD)) == NULL)
		return ZT_ENOMEM;
	e->nkids = l.n;
	e->kids = l.vals;
	e->keys = l.keys;
	*out = e;
	if ((rc = seal(p, e, at)) != ZT_OK)
		return rc;
	return fold_record(p, e);
}

static int
parse_var_or_name(zp_expr **out, zp_parser *p)
{
	static const char *vars[] = { "principal", "action", "resource",
	    "context" };
	zp_token name = p->tok;
	zp_value v;
	zp_str first;
	size_t i;
	int rc;

	if (zp_is_kw(&name, "if"))
		return zp_perr(p, &name, "`if` must be parenthesized here");
	if ((rc = zp_ident(p, &first, "an expression")) != ZT_OK)
		return rc;
	if (p->tok.kind == T_LPAREN)
		return parse_call(out, p, &name, NULL);
	if (p->tok.kind == T_DCOLON) {
		memset(&v, 0, sizeof(v));
		v.kind = ZV_ENTITY;
		if ((rc = zp_entity_tail(p, &v.u.e, first)) != ZT_OK)
			return rc;
		return literal(out, p, v);
	}
	for (i = 0; i < ZT_ARRAY_LEN(vars); i++)
		if (zp_is_kw(&name, vars[i])) {
			if ((*out = new_node(p, ZE_VAR)) == NULL)
				return ZT_ENOMEM;
			(*out)->var = (uint8_t)i;
			return ZT_OK;
		}
	return zp_perr(p, &name, "unknown variable `%.*s`", (int)name.n,
	    name.p);
}

static int
parse_primary(zp_expr **out, zp_parser *p)
{
	zp_token t = p->tok;
	zp_value v;
	char msg[64];
	int rc;

	memset(&v, 0, sizeof(v));
	switch (t.kind) {
	case T_INT:
		if (t.ival > INT64_MAX)
			return zp_perr(p, &t, "integer literal out of range");
		v.kind = ZV_LONG;
		v.u.l = (int64_t)t.ival;
		break;
	case T_STR:
		v.kind = ZV_STRING;
		rc = zp_unescape(&v.u.s, p->a, t.p, t.n, msg, sizeof(msg));
		if (rc != ZT_OK)
			return rc == ZT_EINVAL ? zp_perr(p, &t, "%s", msg) : rc;
		break;
	case T_LPAREN:
		if ((rc = zp_next(p)) != ZT_OK ||
		    (rc = zp_parse_expr(out, p)) != ZT_OK)
			return rc;
		return zp_expect(p, T_RPAREN, "`)`");
	case T_LBRACK:
		if ((rc = zp_next(p)) != ZT_OK)
			return rc;
		return parse_set(out, p, &t);
	case T_LBRACE:
		if ((rc = zp_next(p)) != ZT_OK)
			return rc;
		return parse_record(out, p, &t);
	case T_IDENT:
		if (zp_is_kw(&t, "true") || zp_is_kw(&t, "false")) {
			v.kind = ZV_BOOL;
			v.u.b = zp_is_kw(&t, "true");
			break;
		}
		return parse_var_or_name(out, p);
	case T_QUESTION:
		return zp_perr(p, &t, "a slot is allowed only in the "
		    "principal and resource scopes");
	default:
		return zp_perr(p, &t, "expected an expression");
	}
	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	return literal(out, p, v);
}

/* ---- member access, unary ----------------------------------------- */

static int
parse_access(zp_expr **e, zp_parser *p)
{
	zp_token at = p->tok, name;
	zp_expr *get;
	char msg[64];
	int rc;

	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	if ((get = new_node(p, ZE_GET)) == NULL)
		return ZT_ENOMEM;
	if (at.kind == T_DOT) {
		name = p->tok;
		if ((rc = zp_ident(p, &get->name, "an attribute")) != ZT_OK)
			return rc;
		if (p->tok.kind == T_LPAREN)
			return parse_call(e, p, &name, *e);
	} else {
		if (p->tok.kind != T_STR)
			return zp_perr(p, &p->tok, "expected a string");
		rc = zp_unescape(&get->name, p->a, p->tok.p, p->tok.n, msg,
		    sizeof(msg));
		if (rc != ZT_OK)
			return rc == ZT_EINVAL ? zp_perr(p, &p->tok, "%s", msg)
			    : rc;
		if ((rc = zp_next(p)) != ZT_OK ||
		    (rc = zp_expect(p, T_RBRACK, "`]`")) != ZT_OK)
			return rc;
	}
	get->a = *e;
	*e = get;
	return seal(p, get, &at);
}

static int
parse_member(zp_expr **out, zp_parser *p)
{
	int rc;

	if ((rc = parse_primary(out, p)) != ZT_OK)
		return rc;
	while (p->tok.kind == T_DOT || p->tok.kind == T_LBRACK)
		if ((rc = parse_access(out, p)) != ZT_OK)
			return rc;
	return ZT_OK;
}

/* "-" directly before an integer literal makes a negative literal, which
 * is how -9223372036854775808 is written. */
static int
parse_neg_literal(zp_expr **out, zp_parser *p)
{
	zp_value v;
	int rc;

	memset(&v, 0, sizeof(v));
	v.kind = ZV_LONG;
	v.u.l = p->tok.ival == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
	    -(int64_t)p->tok.ival;
	if ((rc = zp_next(p)) != ZT_OK || (rc = literal(out, p, v)) != ZT_OK)
		return rc;
	while (p->tok.kind == T_DOT || p->tok.kind == T_LBRACK)
		if ((rc = parse_access(out, p)) != ZT_OK)
			return rc;
	return ZT_OK;
}

static int
parse_unary(zp_expr **out, zp_parser *p)
{
	zp_token ops[ZP_MAX_UNARY + 1];
	int nops = 0, rc;
	zp_expr *e;

	while (p->tok.kind == T_NOT || p->tok.kind == T_MINUS) {
		if (nops == ZP_MAX_UNARY)
			return zp_perr(p, &p->tok, "more than %d unary "
			    "operators in a row", ZP_MAX_UNARY);
		ops[nops++] = p->tok;
		if ((rc = zp_next(p)) != ZT_OK)
			return rc;
	}
	if (nops > 0 && ops[nops - 1].kind == T_MINUS &&
	    p->tok.kind == T_INT) {
		nops--;
		rc = parse_neg_literal(out, p);
	} else {
		rc = parse_member(out, p);
	}
	while (rc == ZT_OK && nops-- > 0) {
		if ((e = new_node(p, ops[nops].kind == T_NOT ? ZE_NOT :
		    ZE_NEG)) == NULL)
			return ZT_ENOMEM;
		e->a = *out;
		*out = e;
		rc = seal(p, e, &ops[nops]);
	}
	return rc;
}

/* ---- arithmetic --------------------------------------------------- */

static int
parse_mult(zp_expr **out, zp_parser *p)
{
	zp_token at;
	zp_expr *rhs;
	int rc;

	if ((rc = parse_unary(out, p)) != ZT_OK)
		return rc;
	while (p->tok.kind == T_STAR) {
		at = p->tok;
		if ((rc = zp_next(p)) != ZT_OK ||
		    (rc = parse_unary(&rhs, p)) != ZT_OK ||
		    (rc = binary(out, p, ZE_MUL, *out, rhs, &at)) != ZT_OK)
			return rc;
	}
	return ZT_OK;
}

static int
parse_add(zp_expr **out, zp_parser *p)
{
	zp_token at;
	zp_expr *rhs;
	int rc;

	if ((rc = parse_mult(out, p)) != ZT_OK)
		return rc;
	while (p->tok.kind == T_PLUS || p->tok.kind == T_MINUS) {
		at = p->tok;
		if ((rc = zp_next(p)) != ZT_OK ||
		    (rc = parse_mult(&rhs, p)) != ZT_OK ||
		    (rc = binary(out, p, at.kind == T_PLUS ? ZE_ADD : ZE_SUB,
		    *out, rhs, &at)) != ZT_OK)
			return rc;
	}
	return ZT_OK;
}

/* ---- relations ---------------------------------------------------- */

/* `e has a.b.c` is `e has a && e.a has b && e.a.b has c`. */
static int
parse_has(zp_expr **out, zp_parser *p, zp_expr *lhs, const zp_token *at)
{
	nodelist l = { .n = 0 };
	zp_expr *has, *and, *base = lhs;
	zp_str name;
	char msg[64];
	int rc;

	for (;;) {
		if (l.n > 0) {
			rc = binary(&base, p, ZE_GET, base, NULL, at);
			if (rc != ZT_OK)
				return rc;
			base->name = name;
		}
		if (l.n == 0 && p->tok.kind == T_STR) {
			rc = zp_unescape(&name, p->a, p->tok.p, p->tok.n, msg,
			    sizeof(msg));
			if (rc != ZT_OK)
				return rc == ZT_EINVAL ?
				    zp_perr(p, &p->tok, "%s", msg) : rc;
			rc = zp_next(p);
		} else {
			rc = zp_ident(p, &name, "an attribute");
		}
		if (rc != ZT_OK ||
		    (rc = binary(&has, p, ZE_HAS, base, NULL, at)) != ZT_OK ||
		    (rc = list_push(p, &l, has)) != ZT_OK)
			return rc;
		has->name = name;
		if (p->tok.kind != T_DOT)
			break;
		if ((rc = zp_next(p)) != ZT_OK)
			return rc;
	}
	if (l.n == 1) {
		*out = has;
		return ZT_OK;
	}
	if ((and = new_node(p, ZE_AND)) == NULL)
		return ZT_ENOMEM;
	and->nkids = l.n;
	and->kids = list_done(p, &l);
	*out = and;
	return seal(p, and, at);
}

static int
parse_like(zp_expr **out, zp_parser *p, zp_expr *lhs, const zp_token *at)
{
	char msg[64];
	int rc;

	if (p->tok.kind != T_STR)
		return zp_perr(p, &p->tok, "`like` needs a string pattern");
	if ((rc = binary(out, p, ZE_LIKE, lhs, NULL, at)) != ZT_OK)
		return rc;
	rc = zp_pattern_compile(&(*out)->pat, p->a, p->tok.p, p->tok.n, msg,
	    sizeof(msg));
	if (rc != ZT_OK)
		return rc == ZT_EINVAL ? zp_perr(p, &p->tok, "%s", msg) : rc;
	return zp_next(p);
}

int
zp_parse_path(zp_parser *p, zp_str *out)
{
	zp_token first = p->tok;
	const char *end;
	zp_str part;
	int rc;

	if ((rc = zp_ident(p, &part, "a type name")) != ZT_OK)
		return rc;
	end = part.p + part.n;
	while (p->tok.kind == T_DCOLON) {
		if ((rc = zp_next(p)) != ZT_OK ||
		    (rc = zp_ident(p, &part, "a type name")) != ZT_OK)
			return rc;
		end = part.p + part.n;
	}
	/* The source may hold spaces or comments around "::"; keep only
	 * the identifiers and the colons. */
	return zp_path_copy(p, out, first.p, end);
}

static int
parse_is(zp_expr **out, zp_parser *p, zp_expr *lhs, const zp_token *at)
{
	zp_expr *in = NULL;
	zp_str type;
	int rc;

	if ((rc = zp_parse_path(p, &type)) != ZT_OK)
		return rc;
	if (zp_is_kw(&p->tok, "in") && ((rc = zp_next(p)) != ZT_OK ||
	    (rc = parse_add(&in, p)) != ZT_OK))
		return rc;
	if ((rc = binary(out, p, ZE_IS, lhs, in, at)) != ZT_OK)
		return rc;
	(*out)->name = type;
	return ZT_OK;
}

static int
relop(const zp_token *t)
{
	switch (t->kind) {
	case T_EQ:	return ZE_EQ;
	case T_NE:	return ZE_NE;
	case T_LT:	return ZE_LT;
	case T_LE:	return ZE_LE;
	case T_GT:	return ZE_GT;
	case T_GE:	return ZE_GE;
	default:	return zp_is_kw(t, "in") ? ZE_IN : -1;
	}
}

static int
parse_relation(zp_expr **out, zp_parser *p)
{
	zp_token at;
	zp_expr *rhs;
	int rc, op;

	if ((rc = parse_add(out, p)) != ZT_OK)
		return rc;
	at = p->tok;
	op = relop(&at);
	if (op < 0 && !zp_is_kw(&at, "has") && !zp_is_kw(&at, "like") &&
	    !zp_is_kw(&at, "is"))
		return ZT_OK;
	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	if (op >= 0) {
		if ((rc = parse_add(&rhs, p)) != ZT_OK)
			return rc;
		return binary(out, p, (uint8_t)op, *out, rhs, &at);
	}
	if (zp_is_kw(&at, "has"))
		return parse_has(out, p, *out, &at);
	if (zp_is_kw(&at, "like"))
		return parse_like(out, p, *out, &at);
	return parse_is(out, p, *out, &at);
}

/* ---- logic -------------------------------------------------------- */

typedef int (*sub_fn)(zp_expr **, zp_parser *);

/* A flat chain `x op y op z` of && or ||. */
static int
parse_chain(zp_expr **out, zp_parser *p, uint8_t tok, uint8_t op,
    sub_fn sub)
{
	nodelist l = { .n = 0 };
	zp_token at = p->tok;
	zp_expr *e;
	int rc;

	if ((rc = sub(&e, p)) != ZT_OK)
		return rc;
	if (p->tok.kind != tok) {
		*out = e;
		return ZT_OK;
	}
	if ((rc = list_push(p, &l, e)) != ZT_OK)
		return rc;
	while (p->tok.kind == tok)
		if ((rc = zp_next(p)) != ZT_OK || (rc = sub(&e, p)) != ZT_OK ||
		    (rc = list_push(p, &l, e)) != ZT_OK)
			return rc;
	if ((e = new_node(p, op)) == NULL)
		return ZT_ENOMEM;
	e->nkids = l.n;
	if ((e->kids = list_done(p, &l)) == NULL)
		return ZT_ENOMEM;
	*out = e;
	return seal(p, e, &at);
}

static int
parse_and(zp_expr **out, zp_parser *p)
{
	return parse_chain(out, p, T_AND, ZE_AND, parse_relation);
}

static int
parse_or(zp_expr **out, zp_parser *p)
{
	return parse_chain(out, p, T_OR, ZE_OR, parse_and);
}

static int
parse_if(zp_expr **out, zp_parser *p)
{
	zp_token at = p->tok;
	zp_expr *e;
	int rc;

	if ((e = new_node(p, ZE_IF)) == NULL)
		return ZT_ENOMEM;
	if ((rc = zp_next(p)) != ZT_OK ||
	    (rc = zp_parse_expr(&e->a, p)) != ZT_OK)
		return rc;
	if (!zp_is_kw(&p->tok, "then"))
		return zp_perr(p, &p->tok, "expected `then`");
	if ((rc = zp_next(p)) != ZT_OK ||
	    (rc = zp_parse_expr(&e->b, p)) != ZT_OK)
		return rc;
	if (!zp_is_kw(&p->tok, "else"))
		return zp_perr(p, &p->tok, "expected `else`");
	if ((rc = zp_next(p)) != ZT_OK ||
	    (rc = zp_parse_expr(&e->c, p)) != ZT_OK)
		return rc;
	*out = e;
	return seal(p, e, &at);
}

/*
 * Recursion comes back here for every nested parenthesis, set, record,
 * call and `if`, so the depth check sits here too: the height check in
 * seal() runs only after a subtree is built, too late to stop a long run
 * of "(((((" from exhausting the stack.
 */
int
zp_parse_expr(zp_expr **out, zp_parser *p)
{
	int rc;

	if (p->depth >= ZP_MAX_DEPTH)
		return zp_perr(p, &p->tok, "expression nested deeper than %d",
		    ZP_MAX_DEPTH);
	p->depth++;
	if (zp_is_kw(&p->tok, "if"))
		rc = parse_if(out, p);
	else
		rc = parse_or(out, p);
	p->depth--;
	return rc;
}
