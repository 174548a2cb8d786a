/*
 * template.c: policy templates and their links.
 *
 * A template is a policy whose principal or resource scope names a slot,
 * ?principal or ?resource, instead of an entity.  A link names a
 * template, gives the link its own policy id and supplies one entity for
 * each slot the template has, no more and no fewer; the result is an
 * ordinary policy (a copy of the template's scopes with the slots filled
 * in, sharing its conditions) that is indexed like a static one, so a
 * decision costs the same whether its policies came from links or not.
 * Answers name a link by its own id.  Templates, static policies and
 * links share one space of ids.
 *
 * Linking and unlinking change the set: they are for a set still being
 * built, before it is shared with the threads that decide on it.  Each
 * public call rebuilds the index (cost grows with the set); a removed
 * link's memory stays in the set's arena until the set is freed.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

bool
zp_id_taken(const zt_policy_set *ps, const char *id)
{
	size_t i;

	/* XXX: linear; linking n policies one by one costs n^2 / 2 string
	 * compares, about 50 ms for 10,000 links. */
	for (i = 0; i < ps->npol; i++)
		if (strcmp(ps->pol[i].id, id) == 0)
			return true;
	for (i = 0; i < ps->ntmpl; i++)
		if (strcmp(ps->tmpl[i].id, id) == 0)
			return true;
	return false;
}

/* Appends *p to the array v (capacity *cap, count *n), growing it in the
 * arena. */
static int
push_policy(zp_arena *a, zp_policy **v, size_t *n, size_t *cap,
    const zp_policy *p)
{
	zp_policy *nv;
	size_t ncap;

	if (*n == *cap) {
		ncap = *cap == 0 ? 16 : *cap * 2;
		if ((nv = zp_alloc(a, sizeof(*nv) * ncap)) == NULL)
			return ZT_ENOMEM;
		if (*n > 0)
			memcpy(nv, *v, sizeof(*nv) * *n);
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = *p;
	return ZT_OK;
}

int
zp_policy_add(zt_policy_set *ps, const zp_policy *p)
{
	if (zp_id_taken(ps, p->id))
		return zt_error_set(ZT_EINVAL, "duplicate policy id `%.64s`",
		    p->id);
	if (p->principal.slot || p->resource.slot)
		return push_policy(&ps->arena, &ps->tmpl, &ps->ntmpl,
		    &ps->captmpl, p);
	return push_policy(&ps->arena, &ps->pol, &ps->npol, &ps->cappol, p);
}

static const zp_policy *
find_template(const zt_policy_set *ps, const char *id)
{
	size_t i;

	for (i = 0; i < ps->ntmpl; i++)
		if (strcmp(ps->tmpl[i].id, id) == 0)
			return &ps->tmpl[i];
	return NULL;
}

/* Fills a scope's slot with `u`, checking that a value is given exactly
 * when the scope has a slot. */
static int
fill_slot(zp_scope *sc, const zp_uid *u, const char *slot,
    const char *tmpl_id)
{
	if (sc->slot && u == NULL)
		return zt_error_set(ZT_EINVAL, "template `%.64s` needs a "
		    "value for %s", tmpl_id, slot);
	if (!sc->slot && u != NULL)
		return zt_error_set(ZT_EINVAL, "template `%.64s` has no %s "
		    "slot", tmpl_id, slot);
	if (sc->slot) {
		sc->uid = u;
		sc->slot = false;
	}
	return ZT_OK;
}

int
zp_link(zt_policy_set *ps, const char *tmpl_id, const char *link_id,
    const zp_uid *principal, const zp_uid *resource)
{
	const zp_policy *t = find_template(ps, tmpl_id);
	zp_policy p;
	int rc;

	if (t == NULL)
		return zt_error_set(ZT_EINVAL, "no template with id `%.64s`",
		    tmpl_id);
	p = *t;
	if ((rc = fill_slot(&p.principal, principal, "?principal",
	    tmpl_id)) != ZT_OK ||
	    (rc = fill_slot(&p.resource, resource, "?resource", tmpl_id)) !=
	    ZT_OK)
		return rc;
	p.id = zp_memdup(&ps->arena, link_id, strlen(link_id));
	p.tmpl = t->id;
	if (p.id == NULL)
		return ZT_ENOMEM;
	return zp_policy_add(ps, &p);
}

/* A request-style uid copied into the set's arena. */
static int
copy_uid(const zp_uid **out, zp_arena *a, const zt_policy_uid *in)
{
	zp_uid *u;

	*out = NULL;
	if (in == NULL)
		return ZT_OK;
	if (in->type == NULL || in->id == NULL || in->id_len > ZP_MAX_INPUT ||
	    !zp_type_name_valid(in->type, in->type_len))
		return zt_error_set(ZT_EINVAL, "a slot value needs a valid "
		    "entity type and an id");
	if ((u = zp_alloc(a, sizeof(*u))) == NULL ||
	    (u->type.p = zp_memdup(a, in->type, in->type_len)) == NULL ||
	    (u->id.p = zp_memdup(a, in->id, in->id_len)) == NULL)
		return ZT_ENOMEM;
	u->type.n = (uint32_t)in->type_len;
	u->id.n = (uint32_t)in->id_len;
	u->hash = zp_uid_hash(u->type, u->id);
	*out = u;
	return ZT_OK;
}

int
zt_policy_set_link(zt_policy_set *ps, const char *template_id,
    const char *link_id, const zt_policy_uid *principal,
    const zt_policy_uid *resource)
{
	const zp_uid *p, *r;
	int rc;

	if (link_id == NULL || link_id[0] == '\0' ||
	    strlen(link_id) > ZP_MAX_INPUT)
		return zt_error_set(ZT_EINVAL, "a link needs a policy id");
	if ((rc = copy_uid(&p, &ps->arena, principal)) != ZT_OK ||
	    (rc = copy_uid(&r, &ps->arena, resource)) != ZT_OK ||
	    (rc = zp_link(ps, template_id, link_id, p, r)) != ZT_OK)
		return rc;
	return zp_index_build(ps);
}

int
zt_policy_set_unlink(zt_policy_set *ps, const char *link_id)
{
	size_t i;

	for (i = 0; i < ps->npol; i++)
		if (strcmp(ps->pol[i].id, link_id) == 0)
			break;
	if (i == ps->npol)
		return zt_error_set(ZT_ENOTFOUND, "no policy with id `%.64s`",
		    link_id);
	if (ps->pol[i].tmpl == NULL)
		return zt_error_set(ZT_EINVAL, "`%.64s` is a static policy, "
		    "not a link", link_id);
	memmove(&ps->pol[i], &ps->pol[i + 1],
	    sizeof(*ps->pol) * (ps->npol - i - 1));
	ps->npol--;
	return zp_index_build(ps);
}

size_t
zt_policy_set_template_count(const zt_policy_set *ps)
{
	return ps != NULL ? ps->ntmpl : 0;
}

const char *
zt_policy_set_template_id(const zt_policy_set *ps, size_t i)
{
	return ps != NULL && i < ps->ntmpl ? ps->tmpl[i].id : NULL;
}

const char *
zt_policy_set_template_of(const zt_policy_set *ps, size_t i)
{
	return ps != NULL && i < ps->npol ? ps->pol[i].tmpl : NULL;
}
