/*
 * convert.c: request data converted to the schema's types, failing
 * closed.
 *
 * Applications send attribute values as JSON, often as strings ("90",
 * "192.168.0.5").  Cedar would carry a string where a policy expects a
 * number into a type error, skip the policy and so let a permit win over
 * an errored forbid.  Here every value is converted to the type the
 * schema declares, or refused, before any policy sees it:
 *
 *   Long       a JSON integer, or a string of an exact decimal integer
 *              ("-?(0|[1-9][0-9]*)", within 64 bits);
 *   Boolean    a JSON boolean, or the string "true" or "false";
 *   String     a JSON string only;
 *   Entity     {"type", "id"} or {"__entity": ...} of the declared type,
 *              or a plain string taken as the id of that type;
 *   ipaddr, decimal, datetime, duration
 *              a string in the extension's literal form, or the
 *              {"__extn": {"fn", "arg"}} form of the same extension;
 *   Set        a JSON array, each member converted;
 *   Record     a JSON object: every required attribute present, no
 *              attribute the type does not declare (unless it is open),
 *              each converted.
 *
 * A refusal is ZT_EINVAL with a message naming the attribute's path and
 * the type wanted, never the value (it may be a secret); callers answer
 * it with a deny carrying `request_error`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"

static int convert(zp_value *out, zp_arena *a, json_t *j,
    const zs_type *t, char *path, size_t plen, int depth);

static const char *
want_name(const zs_type *t)
{
	switch (t->kind) {
	case ZV_BOOL:		return "a Boolean";
	case ZV_LONG:		return "a Long";
	case ZV_STRING:		return "a String";
	case ZV_ENTITY:		return "an entity";
	case ZV_SET:		return "a Set";
	case ZV_RECORD:		return "a Record";
	case ZV_IP:		return "an ipaddr";
	case ZV_DECIMAL:	return "a decimal";
	case ZV_DATETIME:	return "a datetime";
	default:		return "a duration";
	}
}

static int
refuse(const char *path, const zs_type *t)
{
	return zt_error_set(ZT_EINVAL, "%s: not %s", path, want_name(t));
}

/* Appends ".key" to the path for the duration of one conversion. */
static size_t
path_push(char *path, size_t plen, const char *key)
{
	size_t n = strlen(path);
	char k[44];

	zt_str_sanitize(k, key, strlen(key), 40);
	snprintf(path + n, plen - n, ".%s", k);
	return n;
}

static int
long_from_string(int64_t *out, const char *s, size_t n)
{
	size_t i = 0;
	int64_t v = 0;
	bool neg = false;

	if (n > 0 && s[0] == '-') {
		neg = true;
		i++;
	}
	if (i == n || (s[i] == '0' && n - i > 1))
		return ZT_EINVAL;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_sub_overflow(v, s[i] - '0', &v))
			return ZT_EINVAL;
	}
	if (!neg && v == INT64_MIN)
		return ZT_EINVAL;
	*out = neg ? v : -v;
	return ZT_OK;
}

/* An extension value from a string or from its __extn form. */
static int
convert_extn(zp_value *out, json_t *j, const zs_type *t, const char *path)
{
	static const char *fns[] = { [ZV_IP] = "ip", [ZV_DECIMAL] = "decimal",
	    [ZV_DATETIME] = "datetime", [ZV_DURATION] = "duration" };
	json_t *x = json_object_get(j, "__extn"), *fn, *arg;
	const char *s;
	size_t n;
	int rc;

	if (x != NULL) {
		fn = json_object_get(x, "fn");
		arg = json_object_get(x, "arg");
		if (json_object_size(j) != 1 || !json_is_string(fn) ||
		    strcmp(json_string_value(fn), fns[t->kind]) != 0)
			return refuse(path, t);
		j = arg;
	}
	if (!json_is_string(j))
		return refuse(path, t);
	s = json_string_value(j);
	n = json_string_length(j);
	memset(out, 0, sizeof(*out));
	out->kind = t->kind;
	switch (t->kind) {
	case ZV_IP:
		rc = zp_ip_parse(&out->u.ip, s, n);
		break;
	case ZV_DECIMAL:
		rc = zp_decimal_parse(&out->u.l, s, n);
		break;
	case ZV_DATETIME:
		rc = zp_datetime_parse(&out->u.l, s, n);
		break;
	default:
		rc = zp_duration_parse(&out->u.l, s, n);
		break;
	}
	return rc == ZT_OK ? ZT_OK : refuse(path, t);
}

static int
convert_entity(zp_value *out, zp_arena *a, json_t *j, const zs_type *t,
    const char *path)
{
	zp_uid *u;
	int rc;

	out->kind = ZV_ENTITY;
	if (json_is_string(j)) {
		if ((u = zp_alloc(a, sizeof(*u))) == NULL)
			return ZT_ENOMEM;
		u->type = t->entity;
		u->id.n = (uint32_t)json_string_length(j);
		if ((u->id.p = zp_memdup(a, json_string_value(j), u->id.n)) ==
		    NULL)
			return ZT_ENOMEM;
		u->hash = zp_uid_hash(u->type, u->id);
		out->u.e = u;
		return ZT_OK;
	}
	if ((rc = zp_uid_from_json(&out->u.e, a, j)) != ZT_OK)
		return rc == ZT_ENOMEM ? rc : refuse(path, t);
	if (!zp_str_eq(out->u.e->type, t->entity))
		return zt_error_set(ZT_EINVAL, "%s: not an entity of the "
		    "declared type", path);
	return ZT_OK;
}

static int
convert_set(zp_value *out, zp_arena *a, json_t *j, const zs_type *t,
    char *path, size_t plen, int depth)
{
	size_t n = json_array_size(j), i;
	zp_set *s;
	int rc;

	if (!json_is_array(j))
		return refuse(path, t);
	if ((s = zp_alloc(a, sizeof(*s) + sizeof(zp_value) * n)) == NULL)
		return ZT_ENOMEM;
	s->n = (uint32_t)n;
	for (i = 0; i < n; i++)
		if ((rc = convert(&s->v[i], a, json_array_get(j, i), t->elem,
		    path, plen, depth + 1)) != ZT_OK)
			return rc;
	out->kind = ZV_SET;
	out->u.set = s;
	return ZT_OK;
}

int
zp_record_convert(const zp_rec **out, zp_arena *a, json_t *j,
    const zs_type *t, char *path, size_t plen, int depth)
{
	size_t n = json_object_size(j), i = 0, mark;
	const zs_attr *at;
	const char *key;
	zp_rec *r;
	json_t *v;
	zp_str k;
	uint32_t f;
	int rc;

	if (!json_is_object(j))
		return refuse(path, t);
	for (f = 0; f < t->nattrs; f++)
		if (t->attrs[f].required && json_object_getn(j,
		    t->attrs[f].name.p, t->attrs[f].name.n) == NULL) {
			mark = path_push(path, plen, t->attrs[f].name.p);
			rc = zt_error_set(ZT_EINVAL, "%s: required attribute "
			    "missing", path);
			path[mark] = '\0';
			return rc;
		}
	if ((r = zp_alloc(a, sizeof(*r) + sizeof(zp_field) * n)) == NULL)
		return ZT_ENOMEM;
	json_object_foreach(j, key, v) {
		k.p = key;
		k.n = (uint32_t)strlen(key);
		mark = path_push(path, plen, key);
		if ((at = zs_attr_find(t, k)) == NULL) {
			if (!t->open)
				return zt_error_set(ZT_EINVAL, "%s: attribute "
				    "not declared in the schema", path);
			rc = zp_value_from_json(&r->f[i].v, a, v, depth + 1);
		} else {
			rc = convert(&r->f[i].v, a, v, at->type, path, plen,
			    depth + 1);
		}
		if (rc != ZT_OK)
			return rc;
		path[mark] = '\0';
		if ((r->f[i].key.p = zp_memdup(a, key, k.n)) == NULL)
			return ZT_ENOMEM;
		r->f[i].key.n = k.n;
		i++;
	}
	r->n = (uint32_t)i;
	(void)zp_fields_sort(r->f, r->n);
	*out = r;
	return ZT_OK;
}

static int
convert(zp_value *out, zp_arena *a, json_t *j, const zs_type *t,
    char *path, size_t plen, int depth)
{
	const char *s;
	int64_t l;

	memset(out, 0, sizeof(*out));
	if (depth > ZP_MAX_DEPTH)
		return zt_error_set(ZT_EINVAL, "%s: nested deeper than %d",
		    path, ZP_MAX_DEPTH);
	switch (t->kind) {
	case ZV_BOOL:
		out->kind = ZV_BOOL;
		if (json_is_boolean(j)) {
			out->u.b = json_is_true(j);
			return ZT_OK;
		}
		s = json_string_value(j);
		if (s != NULL && (strcmp(s, "true") == 0 ||
		    strcmp(s, "false") == 0) &&
		    json_string_length(j) == strlen(s)) {
			out->u.b = s[0] == 't';
			return ZT_OK;
		}
		return refuse(path, t);
	case ZV_LONG:
		out->kind = ZV_LONG;
		if (json_is_integer(j)) {
			out->u.l = (int64_t)json_integer_value(j);
			return ZT_OK;
		}
		if (json_is_string(j) && long_from_string(&l,
		    json_string_value(j), json_string_length(j)) == ZT_OK) {
			out->u.l = l;
			return ZT_OK;
		}
		return refuse(path, t);
	case ZV_STRING:
		if (!json_is_string(j))
			return refuse(path, t);
		out->kind = ZV_STRING;
		out->u.s.n = (uint32_t)json_string_length(j);
		out->u.s.p = zp_memdup(a, json_string_value(j), out->u.s.n);
		return out->u.s.p != NULL ? ZT_OK : ZT_ENOMEM;
	case ZV_ENTITY:
		return convert_entity(out, a, j, t, path);
	case ZV_SET:
		return convert_set(out, a, j, t, path, plen, depth);
	case ZV_RECORD:
		out->kind = ZV_RECORD;
		return zp_record_convert(&out->u.rec, a, j, t, path, plen,
		    depth);
	default:
		return convert_extn(out, j, t, path);
	}
}

int
zt_policy_context_from_json_schema(zt_policy_context **out,
    const zt_policy_schema *s, const zt_policy_uid *action,
    const char *json, size_t len)
{
	const zs_action *ac;
	zt_policy_context *ctx;
	json_t *obj = NULL;
	char path[256] = "context";
	zp_uid u;
	int rc;

	*out = NULL;
	if (len > ZP_MAX_INPUT)
		return zt_error_set(ZT_ETOOBIG, "context JSON over %u bytes",
		    ZP_MAX_INPUT);
	u.type.p = action->type;
	u.type.n = (uint32_t)action->type_len;
	u.id.p = action->id;
	u.id.n = (uint32_t)action->id_len;
	u.hash = zp_uid_hash(u.type, u.id);
	if (action->type_len > ZP_MAX_INPUT || action->id_len > ZP_MAX_INPUT ||
	    (ac = zs_action_find(s, &u)) == NULL)
		return zt_error_set(ZT_EINVAL, "the action is not in the "
		    "schema");
	if ((rc = zt_json_parse(&obj, json, len, ZP_MAX_DEPTH)) != ZT_OK)
		return rc;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		rc = ZT_ENOMEM;
		goto cleanup;
	}
	rc = zp_record_convert(&ctx->rec, &ctx->arena, obj, ac->context, path,
	    sizeof(path), 1);
	if (rc != ZT_OK) {
		zt_policy_context_free(ctx);
		goto cleanup;
	}
	*out = ctx;

cleanup:
	json_decref(obj);
	return rc;
}

/* Does the schema let this action apply to these principal and resource
 * types? */
int
zt_policy_request_check(const zt_policy_schema *s,
    const zt_policy_request *req)
{
	const zs_action *ac;
	zp_str pt, rt;
	zp_uid u;

	u.type.p = req->action.type;
	u.type.n = (uint32_t)req->action.type_len;
	u.id.p = req->action.id;
	u.id.n = (uint32_t)req->action.id_len;
	u.hash = zp_uid_hash(u.type, u.id);
	if (req->action.type_len > ZP_MAX_INPUT ||
	    req->action.id_len > ZP_MAX_INPUT ||
	    (ac = zs_action_find(s, &u)) == NULL)
		return zt_error_set(ZT_EINVAL, "the action is not in the "
		    "schema");
	pt.p = req->principal.type;
	pt.n = (uint32_t)req->principal.type_len;
	rt.p = req->resource.type;
	rt.n = (uint32_t)req->resource.type_len;
	if (req->principal.type_len > ZP_MAX_INPUT ||
	    !zs_str_in(ac->ptypes, ac->nptypes, pt))
		return zt_error_set(ZT_EINVAL, "the action does not apply to "
		    "this principal type");
	if (req->resource.type_len > ZP_MAX_INPUT ||
	    !zs_str_in(ac->rtypes, ac->nrtypes, rt))
		return zt_error_set(ZT_EINVAL, "the action does not apply to "
		    "this resource type");
	return ZT_OK;
}
