/*
 * entities.c: the entity store and request contexts, loaded from Cedar's
 * JSON forms.
 *
 * A store holds each entity's attributes (a record) and parents, and the
 * full set of its ancestors, worked out once at load: parents are
 * resolved in an order where every entity comes after all of its parents
 * that the store holds (Kahn's algorithm), so one pass can take each
 * entity's ancestors as its parents plus their ancestors, and an entity
 * left unordered at the end proves a cycle, which is refused.  A parent
 * the store does not hold still counts as an ancestor.  Ancestors are
 * sorted by hash so `in` is a binary search.
 *
 * Attribute values: booleans, integers (no fractions), strings, arrays
 * (sets), objects (records), {"__entity": {"type", "id"}} and
 * {"__extn": {"fn": F, "arg": "..."}} with F one of ip, decimal, datetime
 * and duration.  null and numbers with a fraction are refused, as Cedar
 * refuses them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"

/* ---- lookups -------------------------------------------------------- */

const zp_entity *
zp_entity_find(const zt_entities *es, const zp_uid *uid)
{
	size_t i;
	uint32_t k;

	if (es == NULL || es->table == NULL)
		return NULL;
	for (i = uid->hash & es->mask; (k = es->table[i]) != 0;
	    i = (i + 1) & es->mask)
		if (zp_uid_eq(&es->ents[k - 1].uid, uid))
			return &es->ents[k - 1];
	return NULL;
}

bool
zp_entity_in(const zt_entities *es, const zp_entity *ea, const zp_uid *a,
    const zp_uid *b)
{
	uint32_t lo = 0, hi, mid;

	(void)es;
	if (zp_uid_eq(a, b))
		return true;
	if (ea == NULL)
		return false;
	hi = ea->nanc;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ea->anc[mid]->hash < b->hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ea->nanc && ea->anc[lo]->hash == b->hash; lo++)
		if (zp_uid_eq(ea->anc[lo], b))
			return true;
	return false;
}

size_t
zt_entities_count(const zt_entities *es)
{
	return es != NULL ? es->n : 0;
}

/* ---- JSON values ---------------------------------------------------- */

static int
json_str(zp_str *out, zp_arena *a, json_t *j, const char *what)
{
	size_t n = json_string_length(j);

	if (!json_is_string(j))
		return zt_error_set(ZT_EINVAL, "%s must be a string", what);
	if (n > ZP_MAX_INPUT)
		return zt_error_set(ZT_ETOOBIG, "%s is too long", what);
	if ((out->p = zp_memdup(a, json_string_value(j), n)) == NULL)
		return ZT_ENOMEM;
	out->n = (uint32_t)n;
	return ZT_OK;
}

int
zp_uid_from_json(const zp_uid **out, zp_arena *a, json_t *j)
{
	json_t *t, *id, *inner;
	zp_uid *u;
	int rc;

	if ((inner = json_object_get(j, "__entity")) != NULL &&
	    json_object_size(j) == 1)
		j = inner;
	t = json_object_get(j, "type");
	id = json_object_get(j, "id");
	if (!json_is_object(j) || json_object_size(j) != 2 || t == NULL ||
	    id == NULL)
		return zt_error_set(ZT_EINVAL, "an entity reference is "
		    "{\"type\": ..., \"id\": ...}");
	if ((u = zp_alloc(a, sizeof(*u))) == NULL)
		return ZT_ENOMEM;
	if ((rc = json_str(&u->type, a, t, "entity type")) != ZT_OK ||
	    (rc = json_str(&u->id, a, id, "entity id")) != ZT_OK)
		return rc;
	if (!zp_type_name_valid(u->type.p, u->type.n))
		return zt_error_set(ZT_EINVAL, "invalid entity type name");
	u->hash = zp_uid_hash(u->type, u->id);
	*out = u;
	return ZT_OK;
}

static int
extn_from_json(zp_value *out, zp_arena *a, json_t *x)
{
	json_t *fn = json_object_get(x, "fn"), *arg = json_object_get(x, "arg");
	const char *f;
	zp_str s;
	int rc;

	if (!json_is_object(x) || json_object_size(x) != 2 ||
	    !json_is_string(fn) || !json_is_string(arg))
		return zt_error_set(ZT_EINVAL, "__extn is {\"fn\": ..., "
		    "\"arg\": ...}");
	if ((rc = json_str(&s, a, arg, "__extn arg")) != ZT_OK)
		return rc;
	f = json_string_value(fn);
	memset(out, 0, sizeof(*out));
	if (strcmp(f, "ip") == 0) {
		out->kind = ZV_IP;
		rc = zp_ip_parse(&out->u.ip, s.p, s.n);
	} else if (strcmp(f, "decimal") == 0) {
		out->kind = ZV_DECIMAL;
		rc = zp_decimal_parse(&out->u.l, s.p, s.n);
	} else if (strcmp(f, "datetime") == 0) {
		out->kind = ZV_DATETIME;
		rc = zp_datetime_parse(&out->u.l, s.p, s.n);
	} else if (strcmp(f, "duration") == 0) {
		out->kind = ZV_DURATION;
		rc = zp_duration_parse(&out->u.l, s.p, s.n);
	} else {
		return zt_error_set(ZT_EINVAL, "unknown extension function");
	}
	if (rc != ZT_OK)
		return zt_error_set(ZT_EINVAL, "invalid %s value", f);
	return ZT_OK;
}

static int
set_from_json(zp_value *out, zp_arena *a, json_t *j, int depth)
{
	size_t n = json_array_size(j), i;
	zp_set *s;
	int rc;

	if ((s = zp_alloc(a, sizeof(*s) + sizeof(zp_value) * n)) == NULL)
		return ZT_ENOMEM;
	s->n = (uint32_t)n;
	for (i = 0; i < n; i++)
		if ((rc = zp_value_from_json(&s->v[i], a,
		    json_array_get(j, i), depth + 1)) != ZT_OK)
			return rc;
	out->kind = ZV_SET;
	out->u.set = s;
	return ZT_OK;
}

static int
rec_from_json(const zp_rec **out, zp_arena *a, json_t *j, int depth)
{
	size_t n = json_object_size(j), i = 0;
	const char *key;
	json_t *v;
	zp_rec *r;
	int rc;

	if ((r = zp_alloc(a, sizeof(*r) + sizeof(zp_field) * n)) == NULL)
		return ZT_ENOMEM;
	json_object_foreach(j, key, v) {
		r->f[i].key.p = zp_memdup(a, key, strlen(key));
		r->f[i].key.n = (uint32_t)strlen(key);
		if (r->f[i].key.p == NULL)
			return ZT_ENOMEM;
		if ((rc = zp_value_from_json(&r->f[i].v, a, v, depth + 1)) != 0)
			return rc;
		i++;
	}
	r->n = (uint32_t)i;
	/* jansson refused duplicate keys already. */
	(void)zp_fields_sort(r->f, r->n);
	*out = r;
	return ZT_OK;
}

int
zp_value_from_json(zp_value *out, zp_arena *a, json_t *j, int depth)
{
	json_t *x;

	memset(out, 0, sizeof(*out));
	if (depth > ZP_MAX_DEPTH)
		return zt_error_set(ZT_EINVAL, "value nested deeper than %d",
		    ZP_MAX_DEPTH);
	switch (json_typeof(j)) {
	case JSON_TRUE:
	case JSON_FALSE:
		out->kind = ZV_BOOL;
		out->u.b = json_is_true(j);
		return ZT_OK;
	case JSON_INTEGER:
		out->kind = ZV_LONG;
		out->u.l = (int64_t)json_integer_value(j);
		return ZT_OK;
	case JSON_STRING:
		out->kind = ZV_STRING;
		return json_str(&out->u.s, a, j, "a string value");
	case JSON_ARRAY:
		return set_from_json(out, a, j, depth);
	case JSON_OBJECT:
		if (json_object_get(j, "__entity") != NULL) {
			out->kind = ZV_ENTITY;
			return zp_uid_from_json(&out->u.e, a, j);
		}
		if ((x = json_object_get(j, "__extn")) != NULL) {
			if (json_object_size(j) != 1)
				return zt_error_set(ZT_EINVAL, "__extn "
				    "must be the only key");
			return extn_from_json(out, a, x);
		}
		out->kind = ZV_RECORD;
		return rec_from_json(&out->u.rec, a, j, depth);
	default:
		return zt_error_set(ZT_EINVAL, "null and fractional numbers "
		    "are not Cedar values");
	}
}

/* ---- the store ------------------------------------------------------ */

/* With a schema: the entity's type is declared (or it is a declared
 * action), its attributes are converted to its shape (convert.c) and its
 * parents have types its memberOfTypes allow. */
static int
check_typed(zp_entity *e, zp_arena *a, json_t *attrs,
    const zt_policy_schema *s)
{
	const zs_etype *et = zs_etype_find(s, e->uid.type);
	char path[256], t[52];
	json_t *empty;
	uint32_t i;
	int rc;

	zt_str_sanitize(t, e->uid.type.p, e->uid.type.n, 48);
	if (et == NULL)
		return zs_action_find(s, &e->uid) != NULL ? ZT_OK :
		    zt_error_set(ZT_EINVAL, "entity type `%s` is not in the "
		    "schema", t);
	for (i = 0; i < e->nparents; i++)
		if (!zs_str_in(et->parents, et->nparents,
		    e->parents[i]->type))
			return zt_error_set(ZT_EINVAL, "a `%s` may not be a "
			    "member of that parent's type", t);
	snprintf(path, sizeof(path), "%s attrs", t);
	if (attrs != NULL)
		return zp_record_convert(&e->attrs, a, attrs, et->shape, path,
		    sizeof(path), 1);
	if ((empty = json_object()) == NULL)
		return ZT_ENOMEM;
	rc = zp_record_convert(&e->attrs, a, empty, et->shape, path,
	    sizeof(path), 1);
	json_decref(empty);
	return rc;
}

static int
load_entity(zp_entity *e, zp_arena *a, json_t *j, const zt_policy_schema *s)
{
	json_t *uid = json_object_get(j, "uid");
	json_t *attrs = json_object_get(j, "attrs");
	json_t *parents = json_object_get(j, "parents");
	const zp_uid *u;
	size_t i, known = (uid != NULL) + (attrs != NULL) + (parents != NULL)
	    + (json_object_get(j, "tags") != NULL);
	int rc;

	if (!json_is_object(j) || uid == NULL ||
	    known != json_object_size(j))
		return zt_error_set(ZT_EINVAL, "an entity is {\"uid\", "
		    "\"attrs\", \"parents\"}");
	/* XXX: "tags" are accepted and ignored until getTag/hasTag are. */
	if ((rc = zp_uid_from_json(&u, a, uid)) != ZT_OK)
		return rc;
	e->uid = *u;
	e->attrs = &zp_empty_rec;
	if (attrs != NULL && !json_is_object(attrs))
		return zt_error_set(ZT_EINVAL, "attrs must be an object");
	if (attrs != NULL && s == NULL) {
		if (!json_is_object(attrs))
			return zt_error_set(ZT_EINVAL, "attrs must be an "
			    "object");
		if ((rc = rec_from_json(&e->attrs, a, attrs, 1)) != ZT_OK)
			return rc;
	}
	if (parents != NULL && !json_is_array(parents))
		return zt_error_set(ZT_EINVAL, "parents must be an array");
	e->nparents = (uint32_t)json_array_size(parents);
	e->parents = zp_alloc(a, sizeof(*e->parents) * (e->nparents + 1));
	if (e->parents == NULL)
		return ZT_ENOMEM;
	for (i = 0; i < e->nparents; i++)
		if ((rc = zp_uid_from_json(&e->parents[i], a,
		    json_array_get(parents, i))) != ZT_OK)
			return rc;
	return s != NULL ? check_typed(e, a, attrs, s) : ZT_OK;
}

static int
build_table(zt_entities *es)
{
	size_t cap = 16, i, k;

	while (cap < es->n * 2)
		cap *= 2;
	if ((es->table = calloc(cap, sizeof(*es->table))) == NULL)
		return ZT_ENOMEM;
	es->mask = cap - 1;
	for (i = 0; i < es->n; i++) {
		for (k = es->ents[i].uid.hash & es->mask; es->table[k] != 0;
		    k = (k + 1) & es->mask)
			if (zp_uid_eq(&es->ents[es->table[k] - 1].uid,
			    &es->ents[i].uid))
				return zt_error_set(ZT_EINVAL, "entity listed "
				    "twice (entity %zu)", i);
		es->table[k] = (uint32_t)(i + 1);
	}
	return ZT_OK;
}

static int
anc_cmp(const void *x, const void *y)
{
	const zp_uid *a = *(const zp_uid *const *)x;
	const zp_uid *b = *(const zp_uid *const *)y;
	int c;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	if ((c = zp_str_cmp(a->type, b->type)) != 0)
		return c;
	return zp_str_cmp(a->id, b->id);
}

/* Ancestors of e: its parents and, for those in the store, theirs, which
 * the caller has already computed. */
static int
compute_anc(zt_entities *es, zp_entity *e)
{
	const zp_entity *pe;
	const zp_uid **v;
	size_t n = 0, cap = e->nparents, i, j;

	for (i = 0; i < e->nparents; i++)
		if ((pe = zp_entity_find(es, e->parents[i])) != NULL)
			cap += pe->nanc;
	if ((v = zp_alloc(&es->arena, sizeof(*v) * (cap + 1))) == NULL)
		return ZT_ENOMEM;
	for (i = 0; i < e->nparents; i++) {
		v[n++] = e->parents[i];
		if ((pe = zp_entity_find(es, e->parents[i])) == NULL)
			continue;
		for (j = 0; j < pe->nanc; j++)
			v[n++] = pe->anc[j];
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), anc_cmp);
	for (i = j = 0; i < n; i++)
		if (j == 0 || anc_cmp(&v[j - 1], &v[i]) != 0)
			v[j++] = v[i];
	e->anc = v;
	e->nanc = (uint32_t)j;
	return ZT_OK;
}

/*
 * Kahn's algorithm over the edges child -> parent (parents in the store
 * only): `pending[i]` counts i's parents not yet done; `kids` lists, per
 * entity, the children that name it (CSR arrays `kstart`/`kids`).
 */
static int
closure(zt_entities *es)
{
	size_t n = es->n, i, j, head = 0, tail = 0, edges = 0;
	size_t *pending, *kstart, *kids, *queue, *fill;
	const zp_entity *pe;
	int rc = ZT_OK;

	pending = calloc(n + 1, sizeof(size_t));
	kstart = calloc(n + 2, sizeof(size_t));
	queue = calloc(n + 1, sizeof(size_t));
	fill = calloc(n + 1, sizeof(size_t));
	kids = NULL;
	if (pending == NULL || kstart == NULL || queue == NULL ||
	    fill == NULL) {
		rc = ZT_ENOMEM;
		goto cleanup;
	}

	/* Count edges per parent, then lay them out. */
	for (i = 0; i < n; i++)
		for (j = 0; j < es->ents[i].nparents; j++)
			if ((pe = zp_entity_find(es,
			    es->ents[i].parents[j])) != NULL) {
				kstart[pe - es->ents + 1]++;
				pending[i]++;
				edges++;
			}
	for (i = 1; i <= n; i++)
		kstart[i] += kstart[i - 1];
	if ((kids = calloc(edges + 1, sizeof(size_t))) == NULL) {
		rc = ZT_ENOMEM;
		goto cleanup;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < es->ents[i].nparents; j++)
			if ((pe = zp_entity_find(es,
			    es->ents[i].parents[j])) != NULL) {
				size_t p = (size_t)(pe - es->ents);
				kids[kstart[p] + fill[p]++] = i;
			}

	/* Roots first; an entity is ready when all its parents are done. */
	for (i = 0; i < n; i++)
		if (pending[i] == 0)
			queue[tail++] = i;
	while (head < tail && rc == ZT_OK) {
		i = queue[head++];
		rc = compute_anc(es, &es->ents[i]);
		for (j = kstart[i]; j < kstart[i + 1]; j++)
			if (--pending[kids[j]] == 0)
				queue[tail++] = kids[j];
	}
	if (rc == ZT_OK && tail != n)
		rc = zt_error_set(ZT_EINVAL, "the entity hierarchy has a "
		    "cycle");

cleanup:
	free(pending);
	free(kstart);
	free(kids);
	free(queue);
	free(fill);
	return rc;
}

static int
load_all(zt_entities *es, json_t *arr, const zt_policy_schema *s)
{
	char msg[200];
	size_t i;
	int rc;

	if (!json_is_array(arr))
		return zt_error_set(ZT_EINVAL, "entities must be a JSON array");
	es->n = json_array_size(arr);
	if (es->n >= UINT32_MAX)
		return zt_error_set(ZT_ETOOBIG, "too many entities");
	es->ents = zp_alloc(&es->arena, sizeof(*es->ents) * (es->n + 1));
	if (es->ents == NULL)
		return ZT_ENOMEM;
	memset(es->ents, 0, sizeof(*es->ents) * (es->n + 1));
	for (i = 0; i < es->n; i++)
		if ((rc = load_entity(&es->ents[i], &es->arena,
		    json_array_get(arr, i), s)) != ZT_OK) {
			/* The message is this thread's buffer: copy it
			 * before writing a new one over it. */
			snprintf(msg, sizeof(msg), "%s", zt_error_msg());
			return zt_error_set(rc, "entity %zu: %s", i, msg);
		}
	if ((rc = build_table(es)) != ZT_OK)
		return rc;
	return closure(es);
}

static int
entities_load(zt_entities **out, const char *json, size_t len,
    const zt_policy_schema *s)
{
	zt_entities *es;
	json_t *arr = NULL;
	int rc;

	*out = NULL;
	if (len > ZP_MAX_INPUT)
		return zt_error_set(ZT_ETOOBIG, "entities JSON over %u bytes",
		    ZP_MAX_INPUT);
	if ((rc = zt_json_parse(&arr, json, len, ZP_MAX_DEPTH)) != ZT_OK)
		return rc;
	if ((es = calloc(1, sizeof(*es))) == NULL) {
		rc = ZT_ENOMEM;
		goto cleanup;
	}
	if ((rc = load_all(es, arr, s)) != ZT_OK) {
		zt_entities_free(es);
		goto cleanup;
	}
	*out = es;

cleanup:
	json_decref(arr);
	return rc;
}

int
zt_entities_from_json(zt_entities **out, const char *json, size_t len)
{
	return entities_load(out, json, len, NULL);
}

int
zt_entities_from_json_schema(zt_entities **out, const zt_policy_schema *s,
    const char *json, size_t len)
{
	return entities_load(out, json, len, s);
}

int
zt_entities_from_jansson_schema(zt_entities **out,
    const zt_policy_schema *s, struct json_t *arr)
{
	zt_entities *es;
	int rc;

	*out = NULL;
	if ((es = calloc(1, sizeof(*es))) == NULL)
		return ZT_ENOMEM;
	if ((rc = load_all(es, arr, s)) != ZT_OK) {
		zt_entities_free(es);
		return rc;
	}
	*out = es;
	return ZT_OK;
}

void
zt_entities_free(zt_entities *es)
{
	if (es == NULL)
		return;
	free(es->table);
	zp_arena_free(&es->arena);
	free(es);
}

/* ---- contexts ------------------------------------------------------- */

int
zt_policy_context_from_json(zt_policy_context **out, const char *json,
    size_t len)
{
	zt_policy_context *ctx;
	json_t *obj = NULL;
	int rc;

	*out = NULL;
	if (len > ZP_MAX_INPUT)
		return zt_error_set(ZT_ETOOBIG, "context JSON over %u bytes",
		    ZP_MAX_INPUT);
	if ((rc = zt_json_parse(&obj, json, len, ZP_MAX_DEPTH)) != ZT_OK)
		return rc;
	if (!json_is_object(obj)) {
		rc = zt_error_set(ZT_EINVAL, "the context must be a JSON "
		    "object");
		goto cleanup;
	}
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		rc = ZT_ENOMEM;
		goto cleanup;
	}
	if ((rc = rec_from_json(&ctx->rec, &ctx->arena, obj, 1)) != ZT_OK) {
		zt_policy_context_free(ctx);
		goto cleanup;
	}
	*out = ctx;

cleanup:
	json_decref(obj);
	return rc;
}

void
zt_policy_context_free(zt_policy_context *ctx)
{
	if (ctx == NULL)
		return;
	zp_arena_free(&ctx->arena);
	free(ctx);
}
