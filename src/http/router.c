/*
 * The router: maps a method and a decoded path to a route index.
 *
 * Patterns are split at '/' into segments, each a literal ("tokens") or a
 * parameter ("{id}"), and stored in a trie with one node per segment.  A
 * node has its literal children, at most one parameter child, and the
 * routes that end there, each with the methods it answers.  Matching walks
 * the path's segments depth first, trying the literal child before the
 * parameter child, so "/v1/users/me" beats "/v1/users/{id}"; if the literal
 * branch dead-ends, the walk backs up and tries the parameter.  The first
 * node reached at the end of the path that has a route for the method wins.
 * If nodes were reached but none has the method, the union of their
 * methods is the Allow header of a 405.
 *
 * Rules worth knowing: the root "/" has no segments; empty segments never
 * match, so "/v1/x/" does not match "/v1/x" (no trailing-slash
 * redirects: an API client should use the exact path); a parameter never
 * matches an empty segment; the path is decoded before matching, so an
 * encoded slash (%2F) separates segments like a plain one.
 *
 * A match allocates nothing but the copies of parameter values.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* A pattern has at most this many segments: no ztiam route is more than
 * six deep, and the depth bounds the backtracking of a match. */
#define ROUTER_MAX_DEPTH	16
/* The parameters of one pattern: the size of zt_route_match.params. */
#define ROUTER_MAX_PARAMS \
	((int)ZT_ARRAY_LEN(((zt_route_match *)0)->params))
/* A parameter name: an identifier of up to 32 bytes. */
#define ROUTER_NAME_MAX		32
/* A whole pattern; far longer than any real one. */
#define ROUTER_PATTERN_MAX	1024

struct rentry {
	unsigned methods;
	int route;
	int nparams;
	char *names[ZT_ARRAY_LEN(((zt_route_match *)0)->params)];
};

struct rnode {
	char *seg;			/* literal; NULL on the param node */
	size_t seglen;
	struct rnode **lits;		/* literal children */
	size_t nlits;
	struct rnode *param;		/* the parameter child */
	struct rentry *entries;		/* routes ending here */
	size_t nentries;
	unsigned methods;		/* union of the entries' methods */
};

struct zt_router {
	struct rnode root;
};

/* One segment of a pattern or a path: a slice of the original string. */
struct seg {
	const char *p;
	size_t len;
};

/* The state of one match: the path's segments and what the walk found. */
struct walk {
	unsigned method;
	struct seg segs[ROUTER_MAX_DEPTH];
	int nsegs;
	int pseg[ROUTER_MAX_DEPTH];	/* segment of each param so far */
	const struct rentry *found;
	int found_pseg[ROUTER_MAX_DEPTH];
	unsigned allowed;
};

static void
node_free(struct rnode *n)
{
	size_t i;
	int j;

	for (i = 0; i < n->nlits; i++) {
		node_free(n->lits[i]);
		free(n->lits[i]);
	}
	free(n->lits);
	if (n->param != NULL) {
		node_free(n->param);
		free(n->param);
	}
	for (i = 0; i < n->nentries; i++)
		for (j = 0; j < n->entries[i].nparams; j++)
			free(n->entries[i].names[j]);
	free(n->entries);
	free(n->seg);
}

int
zt_router_new(zt_router **out)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

void
zt_router_free(zt_router *r)
{
	if (r == NULL)
		return;
	node_free(&r->root);
	free(r);
}

/* ---- adding ------------------------------------------------------------ */

static bool
is_param(const struct seg *s)
{
	return s->len >= 2 && s->p[0] == '{' && s->p[s->len - 1] == '}';
}

static bool
name_valid(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > ROUTER_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = p[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* A literal holds no braces, no '%' (patterns are written decoded), no
 * '?' or '#', and no control bytes. */
static bool
literal_valid(const struct seg *s)
{
	size_t i;

	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (c < 0x20 || c == 0x7f || strchr("{}%?#", c) != NULL)
			return false;
	}
	return true;
}

/* Splits `pattern` into segments and checks each; returns the count or
 * ZT_EINVAL. */
static int
pattern_split(struct seg *segs, const char *pattern)
{
	const char *p, *slash;
	int n = 0;

	if (pattern == NULL || pattern[0] != '/')
		return zt_error_set(ZT_EINVAL, "a pattern starts with '/'");
	if (strlen(pattern) > ROUTER_PATTERN_MAX)
		return zt_error_set(ZT_EINVAL, "pattern longer than %d bytes",
		    ROUTER_PATTERN_MAX);
	if (strcmp(pattern, "/") == 0)
		return 0;
	for (p = pattern + 1;; p = slash + 1) {
		if (n == ROUTER_MAX_DEPTH)
			return zt_error_set(ZT_EINVAL, "pattern deeper than %d "
			    "segments", ROUTER_MAX_DEPTH);
		slash = strchr(p, '/');
		segs[n].p = p;
		segs[n].len = slash ? (size_t)(slash - p) : strlen(p);
		if (segs[n].len == 0)
			return zt_error_set(ZT_EINVAL, "empty segment in "
			    "pattern %s", pattern);
		if (is_param(&segs[n]) ? !name_valid(segs[n].p + 1,
		    segs[n].len - 2) : !literal_valid(&segs[n]))
			return zt_error_set(ZT_EINVAL, "bad segment in pattern "
			    "%s", pattern);
		n++;
		if (slash == NULL)
			return n;
	}
}

/* Fills `e` with the parameter names of `segs`: at most
 * ROUTER_MAX_PARAMS, each name once. */
static int
entry_names(struct rentry *e, const struct seg *segs, int nsegs)
{
	int i, j;

	for (i = 0; i < nsegs; i++) {
		if (!is_param(&segs[i]))
			continue;
		if (e->nparams == ROUTER_MAX_PARAMS)
			return zt_error_set(ZT_EINVAL, "more than %d "
			    "parameters in a pattern", ROUTER_MAX_PARAMS);
		e->names[e->nparams] = strndup(segs[i].p + 1, segs[i].len - 2);
		if (e->names[e->nparams] == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
		e->nparams++;
		for (j = 0; j < e->nparams - 1; j++)
			if (strcmp(e->names[j], e->names[e->nparams - 1]) == 0)
				return zt_error_set(ZT_EINVAL, "parameter {%s} "
				    "twice in a pattern", e->names[j]);
	}
	return ZT_OK;
}

static struct rnode *
node_lit(const struct rnode *n, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < n->nlits; i++)
		if (n->lits[i]->seglen == len &&
		    memcmp(n->lits[i]->seg, p, len) == 0)
			return n->lits[i];
	return NULL;
}

/* The child of `n` for pattern segment `s`, created if missing. */
static struct rnode *
node_child(struct rnode *n, const struct seg *s)
{
	struct rnode *c, **lits;

	if (is_param(s)) {
		if (n->param == NULL)
			n->param = calloc(1, sizeof(*n->param));
		return n->param;
	}
	if ((c = node_lit(n, s->p, s->len)) != NULL)
		return c;
	lits = realloc(n->lits, (n->nlits + 1) * sizeof(*lits));
	if (lits == NULL)
		return NULL;
	n->lits = lits;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->seg = strndup(s->p, s->len)) == NULL) {
		free(c);
		return NULL;
	}
	c->seglen = s->len;
	n->lits[n->nlits++] = c;
	return c;
}

int
zt_router_add(zt_router *r, unsigned methods, const char *pattern,
    int route)
{
	struct seg segs[ROUTER_MAX_DEPTH];
	struct rentry e = { .methods = methods, .route = route }, *entries;
	struct rnode *n = &r->root;
	int nsegs, i, err;

	if (methods == 0 || (methods & ~(unsigned)HTTP_METHODS) != 0 ||
	    route < 0)
		return zt_error_set(ZT_EINVAL, "bad methods or route index");
	if ((nsegs = pattern_split(segs, pattern)) < 0)
		return nsegs;
	if ((err = entry_names(&e, segs, nsegs)) < 0)
		goto fail;

	for (i = 0; i < nsegs; i++)
		if ((n = node_child(n, &segs[i])) == NULL) {
			err = zt_error_set(ZT_ENOMEM, "out of memory");
			goto fail;
		}
	if ((n->methods & methods) != 0) {
		err = zt_error_set(ZT_EEXISTS, "pattern %s already has a route "
		    "for one of these methods", pattern);
		goto fail;
	}
	entries = realloc(n->entries, (n->nentries + 1) * sizeof(*entries));
	if (entries == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto fail;
	}
	n->entries = entries;
	n->entries[n->nentries++] = e;
	n->methods |= methods;
	return ZT_OK;

fail:
	for (i = 0; i < e.nparams; i++)
		free(e.names[i]);
	return err;
}

/* ---- matching ---------------------------------------------------------- */

/* Splits a decoded path; false when it cannot match any pattern (no
 * leading slash, or deeper than any pattern may be). */
static bool
path_split(struct walk *st, const char *path)
{
	const char *p = path + 1, *slash;

	st->nsegs = 0;
	if (path[0] != '/')
		return false;
	if (path[1] == '\0')
		return true;
	for (;;) {
		if (st->nsegs == ROUTER_MAX_DEPTH)
			return false;
		slash = strchr(p, '/');
		st->segs[st->nsegs].p = p;
		st->segs[st->nsegs].len = slash ? (size_t)(slash - p) :
		    strlen(p);
		st->nsegs++;
		if (slash == NULL)
			return true;
		p = slash + 1;
	}
}

static const struct rentry *
node_entry(const struct rnode *n, unsigned method)
{
	size_t i;

	for (i = 0; i < n->nentries; i++)
		if (n->entries[i].methods & method)
			return &n->entries[i];
	return NULL;
}

/* Walks from `n`, which matched segments [0, depth); `np` parameters so
 * far.  Returns true once a route for the method is found. */
static bool
walk(struct walk *st, const struct rnode *n, int depth, int np)
{
	const struct seg *s;
	const struct rnode *c;

	if (depth == st->nsegs) {
		st->allowed |= n->methods;
		if ((st->found = node_entry(n, st->method)) == NULL)
			return false;
		memcpy(st->found_pseg, st->pseg, (size_t)np * sizeof(int));
		return true;
	}
	s = &st->segs[depth];
	if (s->len == 0)
		return false;
	if ((c = node_lit(n, s->p, s->len)) != NULL &&
	    walk(st, c, depth + 1, np))
		return true;
	if (n->param != NULL) {
		st->pseg[np] = depth;
		return walk(st, n->param, depth + 1, np + 1);
	}
	return false;
}

int
zt_router_match(const zt_router *r, unsigned method, const char *path,
    zt_route_match *m)
{
	struct walk st;
	const struct seg *s;
	int i;

	m->route = -1;
	m->allowed = 0;
	m->nparams = 0;
	st.method = method;
	st.found = NULL;
	st.allowed = 0;
	if (!path_split(&st, path))
		return ZT_ENOTFOUND;
	if (!walk(&st, &r->root, 0, 0)) {
		m->allowed = st.allowed;
		return st.allowed ? ZT_ECONFLICT : ZT_ENOTFOUND;
	}

	for (i = 0; i < st.found->nparams; i++) {
		s = &st.segs[st.found_pseg[i]];
		m->params[i].name = st.found->names[i];
		if ((m->params[i].value = strndup(s->p, s->len)) == NULL) {
			zt_route_match_clear(m);
			return zt_error_set(ZT_ENOMEM, "out of memory");
		}
		m->nparams = i + 1;
	}
	m->route = st.found->route;
	m->allowed = st.allowed;
	return ZT_OK;
}

void
zt_route_match_clear(zt_route_match *m)
{
	int i;

	for (i = 0; i < m->nparams; i++) {
		free(m->params[i].value);
		m->params[i].value = NULL;
	}
	m->nparams = 0;
	m->route = -1;
}
