/*
 * explain.c: the hooks the decision service needs beyond deciding.
 *
 * zt_policy_explain evaluates every policy of a set against one request
 * and reports, per policy, whether its scope matched and what its
 * conditions came to.  It walks the whole set rather than the index's
 * candidates, because a person asking "why" wants to see the policies
 * that did not apply as well; it is not on the hot path.
 *
 * The schema queries let a caller that builds entities for a request
 * (the authz module) give them only the parents and attributes the
 * schema declares, so that a schema without groups, say, is not handed
 * a group it would refuse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"

static void
set_uid(zp_uid *out, const zt_policy_uid *in)
{
	out->type.p = in->type;
	out->type.n = (uint32_t)in->type_len;
	out->id.p = in->id;
	out->id.n = (uint32_t)in->id_len;
	out->hash = zp_uid_hash(out->type, out->id);
}

static bool
uid_ok(const zt_policy_uid *u)
{
	return u->type != NULL && u->id != NULL &&
	    u->type_len <= ZP_MAX_INPUT && u->id_len <= ZP_MAX_INPUT;
}

/* One policy's trace: the scope, then each condition in order. */
static int
trace_one(zt_policy_trace *t, zp_eval *ev, const zp_policy *p)
{
	zp_value v;
	uint32_t i;
	int rc;

	memset(t, 0, sizeof(*t));
	t->policy_id = p->id;
	t->forbid = p->forbid;
	t->scope_matched = zp_scope_match(ev, p);
	if (!t->scope_matched) {
		t->outcome = ZT_POLICY_SCOPE_MISS;
		return ZT_OK;
	}
	t->outcome = ZT_POLICY_COND_TRUE;
	for (i = 0; i < p->nconds; i++) {
		rc = zp_eval_expr(&v, ev, p->conds[i].e);
		if (rc == ZT_EINVAL || (rc == ZT_OK && v.kind != ZV_BOOL)) {
			t->outcome = ZT_POLICY_COND_ERROR;
			snprintf(t->message, sizeof(t->message), "%s",
			    rc == ZT_OK ? "condition is not a boolean" :
			    ev->err);
			return ZT_OK;
		}
		if (rc != ZT_OK)
			return rc;
		if (v.u.b == p->conds[i].unless) {
			t->outcome = ZT_POLICY_COND_FALSE;
			return ZT_OK;
		}
	}
	return ZT_OK;
}

int
zt_policy_explain(zt_policy_trace **out, size_t *n, const zt_policy_set *ps,
    const zt_entities *es, const zt_policy_request *req)
{
	zt_policy_trace *t;
	zp_arena scratch = { NULL, NULL, NULL };
	zp_eval ev;
	size_t i;
	int rc = ZT_OK;

	*out = NULL;
	*n = 0;
	if (!uid_ok(&req->principal) || !uid_ok(&req->action) ||
	    !uid_ok(&req->resource))
		return zt_error_set(ZT_EINVAL, "request entity is missing or "
		    "too long");
	if ((t = calloc(ps->npol + 1, sizeof(*t))) == NULL)
		return ZT_ENOMEM;
	memset(&ev, 0, sizeof(ev));
	set_uid(&ev.p, &req->principal);
	set_uid(&ev.a, &req->action);
	set_uid(&ev.r, &req->resource);
	ev.es = es;
	ev.pe = zp_entity_find(es, &ev.p);
	ev.ae = zp_entity_find(es, &ev.a);
	ev.re = zp_entity_find(es, &ev.r);
	ev.context = req->context != NULL ? req->context->rec : &zp_empty_rec;
	ev.scratch = &scratch;
	for (i = 0; i < ps->npol && rc == ZT_OK; i++) {
		rc = trace_one(&t[i], &ev, &ps->pol[i]);
		zp_arena_reset(&scratch);
	}
	zp_arena_free(&scratch);
	if (rc != ZT_OK) {
		free(t);
		return rc;
	}
	*out = t;
	*n = ps->npol;
	return ZT_OK;
}

/* ---- requests already parsed -------------------------------------- */

int
zt_policy_context_from_jansson_schema(zt_policy_context **out,
    const zt_policy_schema *s, const zt_policy_uid *action, json_t *obj)
{
	const zs_action *ac;
	zt_policy_context *ctx;
	char path[256] = "context";
	zp_uid u;
	int rc;

	*out = NULL;
	if (!uid_ok(action))
		return zt_error_set(ZT_EINVAL, "the action is too long");
	set_uid(&u, action);
	if ((ac = zs_action_find(s, &u)) == NULL)
		return zt_error_set(ZT_EINVAL, "the action is not in the "
		    "schema");
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return ZT_ENOMEM;
	rc = zp_record_convert(&ctx->rec, &ctx->arena, obj, ac->context, path,
	    sizeof(path), 1);
	if (rc != ZT_OK) {
		zt_policy_context_free(ctx);
		return rc;
	}
	*out = ctx;
	return ZT_OK;
}

/* ---- schema queries ------------------------------------------------- */

static zp_str
mkstr(const char *s)
{
	return (zp_str){ s, (uint32_t)strnlen(s, ZP_MAX_INPUT) };
}

bool
zt_policy_schema_has_type(const zt_policy_schema *s, const char *type)
{
	return zs_etype_find(s, mkstr(type)) != NULL;
}

bool
zt_policy_schema_member_of(const zt_policy_schema *s, const char *type,
    const char *parent)
{
	const zs_etype *t = zs_etype_find(s, mkstr(type));

	return t != NULL && zs_str_in(t->parents, t->nparents, mkstr(parent));
}

bool
zt_policy_schema_has_attr(const zt_policy_schema *s, const char *type,
    const char *attr)
{
	const zs_etype *t = zs_etype_find(s, mkstr(type));

	return t != NULL && t->shape != NULL &&
	    zs_attr_find(t->shape, mkstr(attr)) != NULL;
}

int
zt_policy_schema_action_groups(const zt_policy_schema *s,
    const zt_policy_uid *action, zt_policy_uid *out, size_t max, size_t *n)
{
	const zs_action *ac;
	zp_uid u;
	size_t i;

	*n = 0;
	if (!uid_ok(action))
		return zt_error_set(ZT_EINVAL, "the action is too long");
	set_uid(&u, action);
	if ((ac = zs_action_find(s, &u)) == NULL)
		return zt_error_set(ZT_ENOTFOUND, "the action is not in the "
		    "schema");
	for (i = 0; i < ac->nanc && i < max; i++) {
		out[i].type = ac->anc[i]->type.p;
		out[i].type_len = ac->anc[i]->type.n;
		out[i].id = ac->anc[i]->id.p;
		out[i].id_len = ac->anc[i]->id.n;
	}
	*n = ac->nanc;
	return ZT_OK;
}

bool
zt_policy_schema_action_at(const zt_policy_schema *s, size_t i,
    zt_policy_uid *out)
{
	if (s == NULL || i >= s->nactions)
		return false;
	out->type = s->actions[i].uid.type.p;
	out->type_len = s->actions[i].uid.type.n;
	out->id = s->actions[i].uid.id.p;
	out->id_len = s->actions[i].uid.id.n;
	return true;
}
