/*
 * schema.c: Cedar's JSON schema format.
 *
 *   { "NS": { "entityTypes": { "User": { "memberOfTypes": ["Group"],
 *                                        "shape": TYPE } },
 *             "actions": { "view": { "memberOf": [{"id": "read"}],
 *                                    "appliesTo": {
 *                                      "principalTypes": ["User"],
 *                                      "resourceTypes": ["Doc"],
 *                                      "context": TYPE } } },
 *             "commonTypes": { "Ctx": TYPE } } }
 *
 * TYPE is {"type": "Long" | "String" | "Boolean"}, {"type": "Set",
 * "element": TYPE}, {"type": "Record", "attributes": {name: TYPE with an
 * optional "required": false}, "additionalAttributes": bool}, {"type":
 * "Entity", "name": N}, {"type": "Extension", "name": "ipaddr" |
 * "decimal" | "datetime" | "duration"}, {"type": "EntityOrCommon",
 * "name": N} or {"type": N} for a common type.  "" is the empty
 * namespace.  An unqualified name is looked up in the declaring
 * namespace first, then in the empty one.  Actions have the type
 * NS::Action; a memberOf entry may name another namespace's action with
 * "type".  Common types are resolved once, refusing cycles; the action
 * hierarchy may not have cycles either.  Entity tags and enumerated
 * entity types are refused as not supported; "annotations" are ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"

/* Common types nest within common types; this bounds the resolver's
 * recursion the same way ZP_MAX_DEPTH bounds the parser's. */
#define ZS_MAX_DEPTH ZP_MAX_DEPTH

typedef struct ctype {
	zp_str name;		/* qualified */
	json_t *j;
	const char *ns;
	const zs_type *t;	/* once resolved */
	bool busy;		/* being resolved: a cycle if met again */
} ctype;

typedef struct sctx {
	zt_policy_schema *s;
	zp_arena *a;
	ctype *ct;
	size_t nct;
	char where[96];		/* what is being read, for messages */
} sctx;

static int
serr(const sctx *c, const char *fmt, ...) __attribute__((format(printf,
    2, 3)));

static int
serr(const sctx *c, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return zt_error_set(ZT_EINVAL, "schema%s%s: %s", c->where[0] ? " " :
	    "", c->where, msg);
}

static void
set_where(sctx *c, const char *what, const char *ns, const char *name)
{
	char a[40], b[40];

	zt_str_sanitize(a, ns, strlen(ns), 36);
	zt_str_sanitize(b, name, strlen(name), 36);
	snprintf(c->where, sizeof(c->where), "%s %s%s%s", what, a,
	    a[0] ? "::" : "", b);
}

/* ---- lookups -------------------------------------------------------- */

bool
zs_str_in(const zp_str *list, uint32_t n, zp_str t)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (zp_str_eq(list[i], t))
			return true;
	return false;
}

const zs_etype *
zs_etype_find(const zt_policy_schema *s, zp_str name)
{
	size_t i;

	for (i = 0; i < s->netypes; i++)
		if (zp_str_eq(s->etypes[i].name, name))
			return &s->etypes[i];
	return NULL;
}

const zs_action *
zs_action_find(const zt_policy_schema *s, const zp_uid *uid)
{
	size_t i;

	for (i = 0; i < s->nactions; i++)
		if (zp_uid_eq(&s->actions[i].uid, uid))
			return &s->actions[i];
	return NULL;
}

const zs_attr *
zs_attr_find(const zs_type *rec, zp_str name)
{
	uint32_t i;

	for (i = 0; i < rec->nattrs; i++)
		if (zp_str_eq(rec->attrs[i].name, name))
			return &rec->attrs[i];
	return NULL;
}

bool
zs_type_in(const zt_policy_schema *s, zp_str t, zp_str anc)
{
	const zs_etype *e;

	if (zp_str_eq(t, anc))
		return true;
	return (e = zs_etype_find(s, t)) != NULL &&
	    zs_str_in(e->anc, e->nanc, anc);
}

/* ---- names ---------------------------------------------------------- */

static int
qualify(zp_str *out, zp_arena *a, const char *ns, const char *name)
{
	size_t nl = strlen(ns), ml = strlen(name);
	char *p;

	if ((p = zp_alloc(a, nl + ml + 3)) == NULL)
		return ZT_ENOMEM;
	if (nl > 0) {
		memcpy(p, ns, nl);
		memcpy(p + nl, "::", 2);
		nl += 2;
	}
	memcpy(p + nl, name, ml + 1);
	out->p = p;
	out->n = (uint32_t)(nl + ml);
	return ZT_OK;
}

/* Resolves an entity type name as declared in namespace ns. */
static int
entity_name(zp_str *out, sctx *c, const char *ns, json_t *j)
{
	const char *name = json_string_value(j);
	zp_str q;
	int rc;

	if (name == NULL || !zp_type_name_valid(name, strlen(name)))
		return serr(c, "an entity type name must be a string such as "
		    "\"App::User\"");
	if (strstr(name, "::") == NULL && ns[0] != '\0') {
		if ((rc = qualify(&q, c->a, ns, name)) != ZT_OK)
			return rc;
		if (zs_etype_find(c->s, q) != NULL) {
			*out = q;
			return ZT_OK;
		}
	}
	if ((rc = qualify(&q, c->a, "", name)) != ZT_OK)
		return rc;
	if (zs_etype_find(c->s, q) == NULL)
		return serr(c, "unknown entity type `%.64s`", name);
	*out = q;
	return ZT_OK;
}

static ctype *
ctype_find(sctx *c, const char *ns, const char *name)
{
	char buf[512];
	size_t i;

	if (strstr(name, "::") == NULL && ns[0] != '\0') {
		snprintf(buf, sizeof(buf), "%s::%s", ns, name);
		for (i = 0; i < c->nct; i++)
			if (strlen(buf) == c->ct[i].name.n &&
			    memcmp(buf, c->ct[i].name.p, c->ct[i].name.n) == 0)
				return &c->ct[i];
	}
	for (i = 0; i < c->nct; i++)
		if (strlen(name) == c->ct[i].name.n &&
		    memcmp(name, c->ct[i].name.p, c->ct[i].name.n) == 0)
			return &c->ct[i];
	return NULL;
}

/* ---- types ---------------------------------------------------------- */

static int jtype(const zs_type **out, sctx *c, const char *ns, json_t *j,
    int depth);

static zs_type *
new_type(sctx *c, uint8_t kind)
{
	zs_type *t = zp_alloc(c->a, sizeof(*t));

	if (t != NULL) {
		memset(t, 0, sizeof(*t));
		t->kind = kind;
	}
	return t;
}

static int
resolve_common(const zs_type **out, sctx *c, ctype *ct, int depth)
{
	int rc;

	if (ct->t != NULL) {
		*out = ct->t;
		return ZT_OK;
	}
	if (ct->busy)
		return serr(c, "common type `%.64s` refers to itself",
		    ct->name.p);
	ct->busy = true;
	rc = jtype(&ct->t, c, ct->ns, ct->j, depth + 1);
	ct->busy = false;
	*out = ct->t;
	return rc;
}

static int
builtin(const zs_type **out, sctx *c, const char *name)
{
	static const struct { const char *name; uint8_t kind; } b[] = {
		{ "Long", ZV_LONG }, { "String", ZV_STRING },
		{ "Boolean", ZV_BOOL }, { "Bool", ZV_BOOL },
		{ "ipaddr", ZV_IP }, { "decimal", ZV_DECIMAL },
		{ "datetime", ZV_DATETIME }, { "duration", ZV_DURATION },
	};
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(b); i++)
		if (strcmp(name, b[i].name) == 0) {
			if ((*out = new_type(c, b[i].kind)) == NULL)
				return ZT_ENOMEM;
			return ZT_OK;
		}
	return ZT_ENOTFOUND;
}

static int
jrecord(const zs_type **out, sctx *c, const char *ns, json_t *j, int depth)
{
	json_t *attrs = json_object_get(j, "attributes"), *v, *req;
	json_t *add = json_object_get(j, "additionalAttributes");
	size_t n = json_object_size(attrs), i = 0, k;
	const char *key;
	zs_type *t;
	zs_attr at;
	int rc;

	if (attrs != NULL && !json_is_object(attrs))
		return serr(c, "\"attributes\" must be an object");
	if (add != NULL && !json_is_boolean(add))
		return serr(c, "\"additionalAttributes\" must be a boolean");
	if ((t = new_type(c, ZV_RECORD)) == NULL ||
	    (t->attrs = zp_alloc(c->a, sizeof(*t->attrs) * (n + 1))) == NULL)
		return ZT_ENOMEM;
	t->open = json_is_true(add);
	json_object_foreach(attrs, key, v) {
		req = json_object_get(v, "required");
		if (req != NULL && !json_is_boolean(req))
			return serr(c, "\"required\" must be a boolean");
		at.required = req == NULL || json_is_true(req);
		if ((rc = jtype(&at.type, c, ns, v, depth + 1)) != ZT_OK)
			return rc;
		at.name.n = (uint32_t)strlen(key);
		if ((at.name.p = zp_memdup(c->a, key, at.name.n)) == NULL)
			return ZT_ENOMEM;
		/* Insertion in name order. */
		for (k = i; k > 0 && zp_str_cmp(t->attrs[k - 1].name,
		    at.name) > 0; k--)
			t->attrs[k] = t->attrs[k - 1];
		t->attrs[k] = at;
		i++;
	}
	t->nattrs = (uint32_t)i;
	*out = t;
	return ZT_OK;
}

static int
jtype(const zs_type **out, sctx *c, const char *ns, json_t *j, int depth)
{
	json_t *tj = json_object_get(j, "type"), *name;
	const char *ty, *nm;
	zs_type *t;
	ctype *ct;
	int rc;

	if (depth > ZS_MAX_DEPTH)
		return serr(c, "types nested deeper than %d", ZS_MAX_DEPTH);
	if (!json_is_object(j) || !json_is_string(tj))
		return serr(c, "a type is an object with a \"type\"");
	ty = json_string_value(tj);
	name = json_object_get(j, "name");
	nm = json_string_value(name);
	if (strcmp(ty, "Long") == 0 || strcmp(ty, "String") == 0 ||
	    strcmp(ty, "Boolean") == 0)
		return builtin(out, c, ty);
	if (strcmp(ty, "Set") == 0) {
		if ((t = new_type(c, ZV_SET)) == NULL)
			return ZT_ENOMEM;
		*out = t;
		return jtype(&t->elem, c, ns, json_object_get(j, "element"),
		    depth + 1);
	}
	if (strcmp(ty, "Record") == 0)
		return jrecord(out, c, ns, j, depth);
	if (strcmp(ty, "Entity") == 0) {
		if ((t = new_type(c, ZV_ENTITY)) == NULL)
			return ZT_ENOMEM;
		*out = t;
		return entity_name(&t->entity, c, ns, name);
	}
	if (strcmp(ty, "Extension") == 0) {
		if (nm == NULL || strcmp(nm, "Long") == 0 ||
		    strcmp(nm, "String") == 0 || strcmp(nm, "Boolean") == 0 ||
		    strcmp(nm, "Bool") == 0 ||
		    (rc = builtin(out, c, nm)) == ZT_ENOTFOUND)
			return serr(c, "unknown extension type");
		return rc;
	}
	if (strcmp(ty, "EntityOrCommon") == 0) {
		if (nm == NULL)
			return serr(c, "\"EntityOrCommon\" needs a \"name\"");
		if ((ct = ctype_find(c, ns, nm)) != NULL)
			return resolve_common(out, c, ct, depth);
		if ((rc = builtin(out, c, nm)) != ZT_ENOTFOUND)
			return rc;
		if ((t = new_type(c, ZV_ENTITY)) == NULL)
			return ZT_ENOMEM;
		*out = t;
		return entity_name(&t->entity, c, ns, name);
	}
	if ((ct = ctype_find(c, ns, ty)) == NULL)
		return serr(c, "unknown type `%.64s`", ty);
	return resolve_common(out, c, ct, depth);
}

/* ---- the three sections --------------------------------------------- */

static int
collect_names(sctx *c, json_t *root)
{
	const char *ns, *name;
	json_t *nsj, *v, *ets, *cts;
	size_t ne = 0, nc = 0;
	int rc;

	json_object_foreach(root, ns, nsj) {
		if (!json_is_object(nsj) || (ns[0] != '\0' &&
		    !zp_type_name_valid(ns, strlen(ns))))
			return serr(c, "a namespace is a valid name with an "
			    "object");
		ne += json_object_size(json_object_get(nsj, "entityTypes"));
		nc += json_object_size(json_object_get(nsj, "commonTypes"));
	}
	c->s->etypes = zp_alloc(c->a, sizeof(*c->s->etypes) * (ne + 1));
	c->ct = zp_alloc(c->a, sizeof(*c->ct) * (nc + 1));
	if (c->s->etypes == NULL || c->ct == NULL)
		return ZT_ENOMEM;
	json_object_foreach(root, ns, nsj) {
		ets = json_object_get(nsj, "entityTypes");
		cts = json_object_get(nsj, "commonTypes");
		if ((ets != NULL && !json_is_object(ets)) ||
		    (cts != NULL && !json_is_object(cts)))
			return serr(c, "entityTypes and commonTypes are "
			    "objects");
		json_object_foreach(ets, name, v) {
			zs_etype *e = &c->s->etypes[c->s->netypes];

			memset(e, 0, sizeof(*e));
			if (!zp_ident_valid(name, strlen(name)))
				return serr(c, "bad entity type name");
			if ((rc = qualify(&e->name, c->a, ns, name)) != ZT_OK)
				return rc;
			if (zs_etype_find(c->s, e->name) != NULL)
				return serr(c, "entity type `%.64s` declared "
				    "twice", e->name.p);
			c->s->netypes++;
		}
		json_object_foreach(cts, name, v) {
			ctype *t = &c->ct[c->nct];

			memset(t, 0, sizeof(*t));
			if (!zp_ident_valid(name, strlen(name)) ||
			    builtin(&t->t, c, name) != ZT_ENOTFOUND)
				return serr(c, "bad common type name `%.64s`",
				    name);
			t->t = NULL;
			if ((rc = qualify(&t->name, c->a, ns, name)) != ZT_OK)
				return rc;
			t->j = v;
			t->ns = ns;
			c->nct++;
		}
	}
	return ZT_OK;
}

static int
read_etype(sctx *c, zs_etype *e, const char *ns, json_t *j)
{
	static const char *ok[] = { "memberOfTypes", "shape", "annotations" };
	json_t *mot = json_object_get(j, "memberOfTypes");
	json_t *shape = json_object_get(j, "shape"), *v;
	const char *k;
	size_t i;
	int rc;

	json_object_foreach(j, k, v) {
		for (i = 0; i < ZT_ARRAY_LEN(ok); i++)
			if (strcmp(k, ok[i]) == 0)
				break;
		if (i == ZT_ARRAY_LEN(ok))
			return serr(c, "`%.32s` is not supported", k);
	}
	if (mot != NULL && !json_is_array(mot))
		return serr(c, "\"memberOfTypes\" must be an array");
	e->nparents = (uint32_t)json_array_size(mot);
	if ((e->parents = zp_alloc(c->a, sizeof(*e->parents) *
	    (e->nparents + 1))) == NULL)
		return ZT_ENOMEM;
	json_array_foreach(mot, i, v)
		if ((rc = entity_name(&e->parents[i], c, ns, v)) != ZT_OK)
			return rc;
	if (shape == NULL) {
		zs_type *t = new_type(c, ZV_RECORD);

		if (t == NULL)
			return ZT_ENOMEM;
		e->shape = t;
		return ZT_OK;
	}
	if ((rc = jtype(&e->shape, c, ns, shape, 0)) != ZT_OK)
		return rc;
	if (e->shape->kind != ZV_RECORD)
		return serr(c, "an entity's shape must be a record");
	return ZT_OK;
}

static int
action_uid(const zp_uid **out, sctx *c, const char *ns, json_t *ref)
{
	json_t *id = json_object_get(ref, "id"), *ty = json_object_get(ref,
	    "type");
	zp_uid *u;
	int rc;

	if (!json_is_string(id) || (ty != NULL && !json_is_string(ty)))
		return serr(c, "an action reference is {\"id\": ..., "
		    "\"type\": ...}");
	if ((u = zp_alloc(c->a, sizeof(*u))) == NULL)
		return ZT_ENOMEM;
	if (ty != NULL) {
		u->type.n = (uint32_t)json_string_length(ty);
		u->type.p = zp_memdup(c->a, json_string_value(ty), u->type.n);
		if (u->type.p == NULL)
			return ZT_ENOMEM;
	} else if ((rc = qualify(&u->type, c->a, ns, "Action")) != ZT_OK) {
		return rc;
	}
	u->id.n = (uint32_t)json_string_length(id);
	if ((u->id.p = zp_memdup(c->a, json_string_value(id), u->id.n)) ==
	    NULL)
		return ZT_ENOMEM;
	u->hash = zp_uid_hash(u->type, u->id);
	*out = u;
	return ZT_OK;
}

static int
type_list(zp_str **out, uint32_t *n, sctx *c, const char *ns, json_t *j)
{
	json_t *v;
	size_t i;
	int rc;

	if (j != NULL && !json_is_array(j))
		return serr(c, "principalTypes and resourceTypes are arrays");
	*n = (uint32_t)json_array_size(j);
	if ((*out = zp_alloc(c->a, sizeof(**out) * (*n + 1))) == NULL)
		return ZT_ENOMEM;
	json_array_foreach(j, i, v)
		if ((rc = entity_name(&(*out)[i], c, ns, v)) != ZT_OK)
			return rc;
	return ZT_OK;
}

static int
read_action(sctx *c, zs_action *ac, const char *ns, const char *name,
    json_t *j)
{
	json_t *mo = json_object_get(j, "memberOf");
	json_t *at = json_object_get(j, "appliesTo"), *v, *ctx;
	zs_type *empty;
	size_t i;
	int rc;

	memset(ac, 0, sizeof(*ac));
	if (!json_is_object(j) || json_object_get(j, "attributes") != NULL)
		return serr(c, "an action is an object (action attributes "
		    "are not supported)");
	if ((rc = qualify(&ac->uid.type, c->a, ns, "Action")) != ZT_OK)
		return rc;
	ac->uid.id.n = (uint32_t)strlen(name);
	if ((ac->uid.id.p = zp_memdup(c->a, name, ac->uid.id.n)) == NULL)
		return ZT_ENOMEM;
	ac->uid.hash = zp_uid_hash(ac->uid.type, ac->uid.id);
	if (mo != NULL && !json_is_array(mo))
		return serr(c, "\"memberOf\" must be an array");
	ac->nparents = (uint32_t)json_array_size(mo);
	if ((ac->parents = zp_alloc(c->a, sizeof(*ac->parents) *
	    (ac->nparents + 1))) == NULL)
		return ZT_ENOMEM;
	json_array_foreach(mo, i, v)
		if ((rc = action_uid(&ac->parents[i], c, ns, v)) != ZT_OK)
			return rc;
	if ((empty = new_type(c, ZV_RECORD)) == NULL)
		return ZT_ENOMEM;
	ac->context = empty;
	if (at == NULL || json_is_null(at))
		return ZT_OK;
	if (!json_is_object(at))
		return serr(c, "\"appliesTo\" must be an object");
	if ((rc = type_list(&ac->ptypes, &ac->nptypes, c, ns,
	    json_object_get(at, "principalTypes"))) != ZT_OK ||
	    (rc = type_list(&ac->rtypes, &ac->nrtypes, c, ns,
	    json_object_get(at, "resourceTypes"))) != ZT_OK)
		return rc;
	if ((ctx = json_object_get(at, "context")) == NULL)
		return ZT_OK;
	if ((rc = jtype(&ac->context, c, ns, ctx, 0)) != ZT_OK)
		return rc;
	if (ac->context->kind != ZV_RECORD)
		return serr(c, "an action's context must be a record");
	return ZT_OK;
}

static int
read_all(sctx *c, json_t *root)
{
	const char *ns, *name;
	json_t *nsj, *v, *acts;
	size_t na = 0, ie = 0;
	int rc;

	json_object_foreach(root, ns, nsj) {
		json_object_foreach(nsj, name, v)
			if (strcmp(name, "entityTypes") != 0 &&
			    strcmp(name, "actions") != 0 &&
			    strcmp(name, "commonTypes") != 0 &&
			    strcmp(name, "annotations") != 0)
				return serr(c, "unknown key `%.32s` in a "
				    "namespace", name);
		acts = json_object_get(nsj, "actions");
		if (acts != NULL && !json_is_object(acts))
			return serr(c, "\"actions\" must be an object");
		na += json_object_size(acts);
	}
	c->s->actions = zp_alloc(c->a, sizeof(*c->s->actions) * (na + 1));
	if (c->s->actions == NULL)
		return ZT_ENOMEM;
	json_object_foreach(root, ns, nsj) {
		json_object_foreach(json_object_get(nsj, "entityTypes"), name,
		    v) {
			set_where(c, "entity type", ns, name);
			if ((rc = read_etype(c, &c->s->etypes[ie++], ns, v))
			    != ZT_OK)
				return rc;
		}
		json_object_foreach(json_object_get(nsj, "actions"), name, v) {
			set_where(c, "action", ns, name);
			if ((rc = read_action(c, &c->s->actions[c->s->nactions],
			    ns, name, v)) != ZT_OK)
				return rc;
			c->s->nactions++;
		}
		json_object_foreach(json_object_get(nsj, "commonTypes"), name,
		    v) {
			const zs_type *t;

			set_where(c, "common type", ns, name);
			if ((rc = resolve_common(&t, c, ctype_find(c, ns,
			    name), 0)) != ZT_OK)
				return rc;
		}
	}
	c->where[0] = '\0';
	return ZT_OK;
}

/* ---- hierarchies ---------------------------------------------------- */

/* Every entity type reachable through memberOfTypes (cycles allowed). */
static int
etype_closure(sctx *c, zs_etype *e)
{
	size_t cap = c->s->netypes + 1, n = 0, i;
	const zs_etype *p;
	uint32_t k;

	if ((e->anc = zp_alloc(c->a, sizeof(*e->anc) * cap)) == NULL)
		return ZT_ENOMEM;
	for (k = 0; k < e->nparents; k++)
		if (!zs_str_in(e->anc, (uint32_t)n, e->parents[k]))
			e->anc[n++] = e->parents[k];
	for (i = 0; i < n; i++) {
		if ((p = zs_etype_find(c->s, e->anc[i])) == NULL)
			continue;
		for (k = 0; k < p->nparents; k++)
			if (!zs_str_in(e->anc, (uint32_t)n, p->parents[k]))
				e->anc[n++] = p->parents[k];
	}
	e->nanc = (uint32_t)n;
	return ZT_OK;
}

static bool
uid_in(const zp_uid *const *v, size_t n, const zp_uid *u)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (zp_uid_eq(v[i], u))
			return true;
	return false;
}

static int
action_closure(sctx *c, zs_action *ac)
{
	size_t cap = c->s->nactions + 1, n = 0, i;
	const zs_action *p;
	uint32_t k;

	if ((ac->anc = zp_alloc(c->a, sizeof(*ac->anc) * cap)) == NULL)
		return ZT_ENOMEM;
	for (k = 0; k < ac->nparents; k++) {
		if (zs_action_find(c->s, ac->parents[k]) == NULL)
			return serr(c, "action `%.64s` is a member of an "
			    "undeclared action", ac->uid.id.p);
		if (!uid_in(ac->anc, n, ac->parents[k]))
			ac->anc[n++] = ac->parents[k];
	}
	for (i = 0; i < n; i++) {
		p = zs_action_find(c->s, ac->anc[i]);
		for (k = 0; k < p->nparents; k++)
			if (!uid_in(ac->anc, n, p->parents[k]))
				ac->anc[n++] = p->parents[k];
	}
	if (uid_in(ac->anc, n, &ac->uid))
		return serr(c, "the action hierarchy has a cycle through "
		    "`%.64s`", ac->uid.id.p);
	ac->nanc = (uint32_t)n;
	return ZT_OK;
}

/* ---- entry points --------------------------------------------------- */

int
zt_policy_schema_from_json(zt_policy_schema **out, const char *json,
    size_t len)
{
	zt_policy_schema *s;
	json_t *root = NULL;
	sctx c;
	size_t i;
	int rc;

	*out = NULL;
	if (len > ZP_MAX_INPUT)
		return zt_error_set(ZT_ETOOBIG, "schema over %u bytes",
		    ZP_MAX_INPUT);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ZT_ENOMEM;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.a = &s->arena;
	rc = zt_json_parse(&root, json, len, 4 * ZS_MAX_DEPTH);
	if (rc == ZT_OK && !json_is_object(root))
		rc = serr(&c, "a schema is an object of namespaces");
	if (rc == ZT_OK)
		rc = collect_names(&c, root);
	if (rc == ZT_OK)
		rc = read_all(&c, root);
	for (i = 0; rc == ZT_OK && i < s->netypes; i++)
		rc = etype_closure(&c, &s->etypes[i]);
	for (i = 0; rc == ZT_OK && i < s->nactions; i++)
		rc = action_closure(&c, &s->actions[i]);
	json_decref(root);
	if (rc != ZT_OK) {
		zt_policy_schema_free(s);
		return rc;
	}
	*out = s;
	return ZT_OK;
}

void
zt_policy_schema_free(zt_policy_schema *s)
{
	if (s == NULL)
		return;
	zp_arena_free(&s->arena);
	free(s);
}

size_t
zt_policy_schema_action_count(const zt_policy_schema *s)
{
	return s != NULL ? s->nactions : 0;
}

size_t
zt_policy_schema_entity_type_count(const zt_policy_schema *s)
{
	return s != NULL ? s->netypes : 0;
}
