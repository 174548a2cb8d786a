/*
 * parse.c: Cedar policy sets, policy by policy.
 *
 *   PolicySet  = { Policy }
 *   Policy     = { Annotation } ("permit" | "forbid")
 *                "(" Principal "," Action "," Resource ")"
 *                { ("when" | "unless") "{" Expr "}" } ";"
 *   Annotation = "@" Ident [ "(" String ")" ]
 *   Principal  = "principal" [ "==" Target | "in" Target
 *                | "is" Path [ "in" Target ] ]      (Resource alike)
 *   Target     = Entity | "?principal"               ("?resource")
 *   Action     = "action" [ "==" Entity | "in" Entity
 *                | "in" "[" [ Entity { "," Entity } ] "]" ]
 *   Entity     = Path "::" String
 *
 * As in Cedar, an action scope names only entities of type Action (or
 * a namespace's ::Action), a scope names literal entities only, and the
 * reserved words (true, false, if, then, else, in, is, like, has and
 * __cedar) may not be identifiers, attribute names or record keys.
 * Annotation keys may be any identifier and may not repeat.  Faults are
 * reported by line and column, the first one only.
 *
 * A policy whose principal or resource scope holds a slot (?principal,
 * ?resource) is a template: it goes to the set's templates, not its
 * policies, and takes part in decisions only through links.  Templates
 * and policies share one space of ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parse.h"

/* ---- shared helpers ------------------------------------------------- */

int
zp_perr(zp_parser *p, const zp_token *t, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return ZT_EINVAL;
	p->failed = true;
	p->err->line = t->line;
	p->err->column = t->col;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	return ZT_EINVAL;
}

int
zp_next(zp_parser *p)
{
	if (zp_lex(&p->lx, &p->tok) == ZT_OK)
		return ZT_OK;
	return zp_perr(p, &p->tok, "%s", p->lx.err);
}

static const char *
tok_desc(const zp_token *t)
{
	switch (t->kind) {
	case T_EOF:	return "end of input";
	case T_IDENT:	return "identifier";
	case T_INT:	return "integer";
	case T_STR:	return "string";
	default:	return NULL;
	}
}

int
zp_expect(zp_parser *p, uint8_t kind, const char *what)
{
	const char *d;

	if (p->tok.kind == kind)
		return zp_next(p);
	if ((d = tok_desc(&p->tok)) != NULL && p->tok.kind != T_IDENT)
		return zp_perr(p, &p->tok, "expected %s, found %s", what, d);
	return zp_perr(p, &p->tok, "expected %s, found `%.*s`", what,
	    (int)(p->tok.n > 32 ? 32 : p->tok.n), p->tok.p);
}

bool
zp_is_kw(const zp_token *t, const char *kw)
{
	size_t n = strlen(kw);

	return t->kind == T_IDENT && t->n == n && memcmp(t->p, kw, n) == 0;
}

bool
zp_reserved(const zp_token *t)
{
	static const char *words[] = { "true", "false", "if", "then", "else",
	    "in", "is", "like", "has", "__cedar" };
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(words); i++)
		if (zp_is_kw(t, words[i]))
			return true;
	return false;
}

int
zp_ident(zp_parser *p, zp_str *out, const char *what)
{
	if (p->tok.kind != T_IDENT)
		return zp_expect(p, T_IDENT, what);
	if (zp_reserved(&p->tok))
		return zp_perr(p, &p->tok, "`%.*s` is reserved and cannot be "
		    "used as %s", (int)p->tok.n, p->tok.p, what);
	out->p = p->tok.p;
	out->n = p->tok.n;
	return zp_next(p);
}

int
zp_path_copy(zp_parser *p, zp_str *out, const char *s, const char *end)
{
	char *buf = zp_alloc(p->a, (size_t)(end - s) + 1);
	uint32_t n = 0;

	if (buf == NULL)
		return ZT_ENOMEM;
	while (s < end) {
		if (s[0] == '/' && s + 1 < end && s[1] == '/') {
			while (s < end && *s != '\n')
				s++;
		} else if (*s == ' ' || *s == '\t' || *s == '\r' ||
		    *s == '\n') {
			s++;
		} else {
			buf[n++] = *s++;
		}
	}
	buf[n] = '\0';
	out->p = buf;
	out->n = n;
	return ZT_OK;
}

int
zp_entity_tail(zp_parser *p, const zp_uid **out, zp_str first)
{
	const char *end = first.p + first.n;
	char msg[64];
	zp_uid *uid;
	zp_str part;
	int rc;

	if ((uid = zp_alloc(p->a, sizeof(*uid))) == NULL)
		return ZT_ENOMEM;
	for (;;) {
		if ((rc = zp_expect(p, T_DCOLON, "`::`")) != ZT_OK)
			return rc;
		if (p->tok.kind == T_STR)
			break;
		if ((rc = zp_ident(p, &part, "a type name")) != ZT_OK)
			return rc;
		end = part.p + part.n;
	}
	if ((rc = zp_path_copy(p, &uid->type, first.p, end)) != ZT_OK)
		return rc;
	rc = zp_unescape(&uid->id, p->a, p->tok.p, p->tok.n, msg, sizeof(msg));
	if (rc != ZT_OK)
		return rc == ZT_EINVAL ? zp_perr(p, &p->tok, "%s", msg) : rc;
	uid->hash = zp_uid_hash(uid->type, uid->id);
	*out = uid;
	return zp_next(p);
}

/* ---- scopes --------------------------------------------------------- */

static int
parse_entity(zp_parser *p, const zp_uid **out)
{
	zp_token at = p->tok;
	zp_str first;
	int rc;

	if (at.kind == T_QUESTION)
		return zp_perr(p, &at, "a slot is allowed only in the "
		    "principal and resource scopes");
	if ((rc = zp_ident(p, &first, "an entity")) != ZT_OK)
		return rc;
	if (p->tok.kind != T_DCOLON)
		return zp_perr(p, &p->tok, "expected an entity such as "
		    "Type::\"id\"");
	return zp_entity_tail(p, out, first);
}

/* Action scopes name Action entities: type Action or NS::Action. */
static int
check_action(zp_parser *p, const zp_uid *u, const zp_token *at)
{
	zp_str t = u->type;

	if ((t.n == 6 && memcmp(t.p, "Action", 6) == 0) ||
	    (t.n > 8 && memcmp(t.p + t.n - 8, "::Action", 8) == 0))
		return ZT_OK;
	return zp_perr(p, at, "the action scope needs an Action entity, "
	    "not type `%.*s`", (int)t.n, t.p);
}

static int
parse_action_list(zp_parser *p, zp_scope *sc)
{
	const zp_uid **list = NULL, **nl;
	uint32_t cap = 0;
	zp_token at;
	int rc;

	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	sc->kind = ZS_IN_LIST;
	while (p->tok.kind != T_RBRACK) {
		if (sc->nlist > 0 && (rc = zp_expect(p, T_COMMA,
		    "`,` or `]`")) != ZT_OK)
			return rc;
		/* A trailing comma, as Cedar allows. */
		if (sc->nlist > 0 && p->tok.kind == T_RBRACK)
			break;
		if (sc->nlist == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			if ((nl = zp_alloc(p->a, sizeof(*nl) * cap)) == NULL)
				return ZT_ENOMEM;
			if (sc->nlist > 0)
				memcpy(nl, list, sizeof(*nl) * sc->nlist);
			list = nl;
		}
		at = p->tok;
		if ((rc = parse_entity(p, &list[sc->nlist])) != ZT_OK ||
		    (rc = check_action(p, list[sc->nlist], &at)) != ZT_OK)
			return rc;
		sc->nlist++;
	}
	sc->list = list;
	return zp_next(p);
}

/* An entity, or the slot of scope `var`: "?principal" or "?resource",
 * written as one word. */
static int
parse_target(zp_parser *p, zp_scope *sc, const char *var)
{
	zp_token q = p->tok;
	int rc;

	if (q.kind != T_QUESTION)
		return parse_entity(p, &sc->uid);
	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	if (p->tok.kind != T_IDENT || p->tok.p != q.p + 1 ||
	    !zp_is_kw(&p->tok, var))
		return zp_perr(p, &q, "the %s scope takes only the slot "
		    "`?%s`", var, var);
	sc->slot = true;
	return zp_next(p);
}

/* `is Path [in Target]` after "is". */
static int
parse_scope_is(zp_parser *p, zp_scope *sc, const char *var)
{
	int rc;

	if ((rc = zp_parse_path(p, &sc->type)) != ZT_OK)
		return rc;
	sc->kind = ZS_IS;
	if (!zp_is_kw(&p->tok, "in"))
		return ZT_OK;
	sc->kind = ZS_IS_IN;
	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	return parse_target(p, sc, var);
}

static int
parse_scope(zp_parser *p, zp_scope *sc, const char *var, bool action)
{
	zp_token at;
	int rc;

	memset(sc, 0, sizeof(*sc));
	if (!zp_is_kw(&p->tok, var))
		return zp_perr(p, &p->tok, "expected `%s`", var);
	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	at = p->tok;
	if (at.kind == T_EQ || zp_is_kw(&at, "in")) {
		sc->kind = at.kind == T_EQ ? ZS_EQ : ZS_IN;
		if ((rc = zp_next(p)) != ZT_OK)
			return rc;
		if (p->tok.kind == T_LBRACK) {
			if (!action || sc->kind != ZS_IN)
				return zp_perr(p, &p->tok, "a list of "
				    "entities is allowed only in `action in`");
			return parse_action_list(p, sc);
		}
		at = p->tok;
		if (!action)
			return parse_target(p, sc, var);
		if ((rc = parse_entity(p, &sc->uid)) != ZT_OK)
			return rc;
		return check_action(p, sc->uid, &at);
	}
	if (zp_is_kw(&at, "is")) {
		if (action)
			return zp_perr(p, &at, "`is` is not allowed in the "
			    "action scope");
		if ((rc = zp_next(p)) != ZT_OK)
			return rc;
		return parse_scope_is(p, sc, var);
	}
	sc->kind = ZS_ANY;
	return ZT_OK;
}

/* ---- policies ------------------------------------------------------- */

static int
parse_annotation(zp_parser *p, zp_policy *pol, uint32_t *cap)
{
	zp_token key;
	zp_annot *na, *an;
	char msg[64];
	uint32_t i;
	int rc;

	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	key = p->tok;
	if ((rc = zp_expect(p, T_IDENT, "an annotation name")) != ZT_OK)
		return rc;
	for (i = 0; i < pol->nannots; i++)
		if (pol->annots[i].key.n == key.n &&
		    memcmp(pol->annots[i].key.p, key.p, key.n) == 0)
			return zp_perr(p, &key, "duplicate annotation `@%.*s`",
			    (int)key.n, key.p);
	if (pol->nannots == *cap) {
		*cap = *cap == 0 ? 2 : *cap * 2;
		if ((na = zp_alloc(p->a, sizeof(*na) * *cap)) == NULL)
			return ZT_ENOMEM;
		if (pol->nannots > 0)
			memcpy(na, pol->annots, sizeof(*na) * pol->nannots);
		pol->annots = na;
	}
	an = &pol->annots[pol->nannots++];
	an->key.p = key.p;
	an->key.n = key.n;
	an->value.p = "";
	an->value.n = 0;
	if (p->tok.kind != T_LPAREN)
		return ZT_OK;
	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	if (p->tok.kind != T_STR)
		return zp_expect(p, T_STR, "a string");
	rc = zp_unescape(&an->value, p->a, p->tok.p, p->tok.n, msg,
	    sizeof(msg));
	if (rc != ZT_OK)
		return rc == ZT_EINVAL ? zp_perr(p, &p->tok, "%s", msg) : rc;
	if ((rc = zp_next(p)) != ZT_OK)
		return rc;
	return zp_expect(p, T_RPAREN, "`)`");
}

static int
parse_conditions(zp_parser *p, zp_policy *pol)
{
	zp_cond *nc;
	uint32_t cap = 0;
	bool unless;
	int rc;

	while (zp_is_kw(&p->tok, "when") || zp_is_kw(&p->tok, "unless")) {
		unless = zp_is_kw(&p->tok, "unless");
		if (pol->nconds == cap) {
			cap = cap == 0 ? 2 : cap * 2;
			if ((nc = zp_alloc(p->a, sizeof(*nc) * cap)) == NULL)
				return ZT_ENOMEM;
			if (pol->nconds > 0)
				memcpy(nc, pol->conds,
				    sizeof(*nc) * pol->nconds);
			pol->conds = nc;
		}
		pol->conds[pol->nconds].unless = unless;
		if ((rc = zp_next(p)) != ZT_OK ||
		    (rc = zp_expect(p, T_LBRACE, "`{`")) != ZT_OK ||
		    (rc = zp_parse_expr(&pol->conds[pol->nconds].e, p)) != 0 ||
		    (rc = zp_expect(p, T_RBRACE, "`}`")) != ZT_OK)
			return rc;
		pol->nconds++;
	}
	return ZT_OK;
}

static int
parse_policy(zp_parser *p, zp_policy *pol)
{
	uint32_t cap = 0;
	int rc;

	memset(pol, 0, sizeof(*pol));
	pol->line = p->tok.line;
	pol->col = p->tok.col;
	while (p->tok.kind == T_AT)
		if ((rc = parse_annotation(p, pol, &cap)) != ZT_OK)
			return rc;
	if (zp_is_kw(&p->tok, "forbid"))
		pol->forbid = true;
	else if (!zp_is_kw(&p->tok, "permit"))
		return zp_perr(p, &p->tok, "expected `permit` or `forbid`");
	if ((rc = zp_next(p)) != ZT_OK ||
	    (rc = zp_expect(p, T_LPAREN, "`(`")) != ZT_OK ||
	    (rc = parse_scope(p, &pol->principal, "principal", false)) != 0 ||
	    (rc = zp_expect(p, T_COMMA, "`,`")) != ZT_OK ||
	    (rc = parse_scope(p, &pol->action, "action", true)) != 0 ||
	    (rc = zp_expect(p, T_COMMA, "`,`")) != ZT_OK ||
	    (rc = parse_scope(p, &pol->resource, "resource", false)) != 0 ||
	    /* Cedar allows a comma after the last scope. */
	    (p->tok.kind == T_COMMA && (rc = zp_next(p)) != ZT_OK) ||
	    (rc = zp_expect(p, T_RPAREN, "`)`")) != ZT_OK ||
	    (rc = parse_conditions(p, pol)) != ZT_OK)
		return rc;
	return zp_expect(p, T_SEMI, "`;`");
}

/* ---- ids ------------------------------------------------------------ */

/* The id is the @id annotation, else "policyN". */
static int
assign_id(zp_parser *p, zp_policy *pol, size_t index)
{
	char buf[32];
	uint32_t i;

	for (i = 0; i < pol->nannots; i++)
		if (pol->annots[i].key.n == 2 &&
		    memcmp(pol->annots[i].key.p, "id", 2) == 0) {
			pol->id = zp_memdup(p->a, pol->annots[i].value.p,
			    pol->annots[i].value.n);
			return pol->id != NULL ? ZT_OK : ZT_ENOMEM;
		}
	snprintf(buf, sizeof(buf), "policy%zu", index);
	pol->id = zp_memdup(p->a, buf, strlen(buf));
	return pol->id != NULL ? ZT_OK : ZT_ENOMEM;
}

static int
id_cmp(const void *x, const void *y)
{
	const zp_policy *a = *(const zp_policy *const *)x;
	const zp_policy *b = *(const zp_policy *const *)y;
	int c = strcmp(a->id, b->id);

	return c != 0 ? c : (a->line > b->line) - (a->line < b->line);
}

static int
check_ids(zp_parser *p, zp_policy *pol, size_t n)
{
	const zp_policy **v;
	zp_token at;
	size_t i;
	int rc = ZT_OK;

	if (n < 2)
		return ZT_OK;
	if ((v = malloc(sizeof(*v) * n)) == NULL)
		return ZT_ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = &pol[i];
	qsort(v, n, sizeof(*v), id_cmp);
	for (i = 1; i < n && rc == ZT_OK; i++)
		if (strcmp(v[i - 1]->id, v[i]->id) == 0) {
			memset(&at, 0, sizeof(at));
			at.line = v[i]->line;
			at.col = 1;
			rc = zp_perr(p, &at, "duplicate policy id `%.64s`",
			    v[i]->id);
		}
	free(v);
	return rc;
}

/* Moves the policies that hold a slot to the templates, keeping order. */
static int
split_templates(zt_policy_set *ps)
{
	size_t i, n = 0, nt = 0;

	for (i = 0; i < ps->npol; i++)
		nt += ps->pol[i].principal.slot || ps->pol[i].resource.slot;
	if (nt == 0)
		return ZT_OK;
	ps->tmpl = zp_alloc(&ps->arena, sizeof(*ps->tmpl) * nt);
	if (ps->tmpl == NULL)
		return ZT_ENOMEM;
	ps->captmpl = nt;
	for (i = 0; i < ps->npol; i++) {
		if (ps->pol[i].principal.slot || ps->pol[i].resource.slot)
			ps->tmpl[ps->ntmpl++] = ps->pol[i];
		else
			ps->pol[n++] = ps->pol[i];
	}
	ps->npol = n;
	return ZT_OK;
}

int
zp_parse(zt_policy_set *ps, const char *text, size_t len,
    zt_policy_error *err)
{
	zp_parser p;
	zp_policy *np;
	size_t cap = 0, i;
	int rc;

	memset(&p, 0, sizeof(p));
	p.a = &ps->arena;
	p.err = err;

	/* Names (attributes, annotation keys) stay slices of the text, so
	 * the set keeps its own copy and the caller may free theirs. */
	if ((text = zp_memdup(p.a, text, len)) == NULL)
		return ZT_ENOMEM;
	zp_lex_init(&p.lx, text, len);
	if ((rc = zp_next(&p)) != ZT_OK)
		return rc;
	while (p.tok.kind != T_EOF) {
		if (ps->npol == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((np = zp_alloc(p.a, sizeof(*np) * cap)) == NULL)
				return ZT_ENOMEM;
			if (ps->npol > 0)
				memcpy(np, ps->pol, sizeof(*np) * ps->npol);
			ps->pol = np;
			ps->cappol = cap;
		}
		if ((rc = parse_policy(&p, &ps->pol[ps->npol])) != ZT_OK)
			return p.failed && rc != ZT_ENOMEM ? ZT_EINVAL : rc;
		ps->npol++;
	}
	for (i = 0; i < ps->npol; i++)
		if ((rc = assign_id(&p, &ps->pol[i], i)) != ZT_OK)
			return rc;
	if ((rc = check_ids(&p, ps->pol, ps->npol)) != ZT_OK)
		return rc;
	return split_templates(ps);
}
