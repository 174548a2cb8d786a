/*
 * authorize.c: policy sets compiled and indexed, and decisions.
 *
 * The index.  Each policy is filed under one key taken from its scope,
 * the most selective one it has, in this order: principal == E, resource
 * == E, principal in E (or is T in E), resource in E (or is T in E),
 * action == A, action in A, action in [A1, ...] (filed under each Ai).
 * A policy with none of these (principal, action and resource all
 * unconstrained or only `is T`) goes on the `any` list.  Keys are
 * (slot, entity) pairs in one hash table; each entry keeps the policies
 * filed by `==` apart from those filed by `in`.
 *
 * A decision gathers candidates: for the request's principal, the `==`
 * and `in` lists under (principal slot, principal), then the `in` lists
 * under each of the principal's ancestors; the same for action and
 * resource; then the `any` list.  Every policy whose scope can match is
 * among them, since matching `== E` needs the request entity to be E and
 * matching `in E` needs E to be the entity or one of its ancestors; the
 * full scope is still tested on each candidate.  Candidates are marked
 * in a bitmap and visited in policy order, so a policy filed under two
 * action keys is evaluated once, and answers list policies in set order.
 * A policy whose scope does not match cannot raise an error (Cedar tests
 * the scope first and conditions short-circuit), so skipping it changes
 * neither the decision nor the diagnostics.  The cost of a decision
 * grows with the request's ancestors and the candidates, not with the
 * size of the set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

/* Per-answer scratch, kept between decisions. */
struct zp_scratch {
	zp_arena arena;		/* sets, records built by evaluation */
	uint64_t *bits;		/* candidate bitmap */
	size_t nbits;		/* words */
	uint32_t *sat;		/* satisfied policies, in order */
	size_t nsat, capsat;
};

/* ---- the index ------------------------------------------------------ */

static uint64_t
ix_hash(uint8_t slot, const zp_uid *u)
{
	return u->hash ^ ((uint64_t)(slot + 1) * 0x9e3779b97f4a7c15ULL);
}

/* The entry for (slot, u); with `create`, an empty slot is claimed. */
static zp_ixent *
ix_find(const zt_policy_set *ps, uint8_t slot, const zp_uid *u, bool create)
{
	size_t i;
	zp_ixent *e;

	if (ps->ix == NULL)
		return NULL;
	for (i = ix_hash(slot, u) & ps->ixmask;; i = (i + 1) & ps->ixmask) {
		e = &ps->ix[i];
		if (e->key == NULL) {
			if (!create)
				return NULL;
			e->key = u;
			e->slot = slot;
			return e;
		}
		if (e->slot == slot && zp_uid_eq(e->key, u))
			return e;
	}
}

/* Which key a policy is filed under; false for the `any` list.  For an
 * action list, `keys`/`nkeys` give every entity. */
static bool
choose_key(const zp_policy *p, uint8_t *slot, bool *eq,
    const zp_uid *const **keys, uint32_t *nkeys)
{
	static const struct { uint8_t slot; uint8_t kind; } order[] = {
		{ ZP_SLOT_P, ZS_EQ }, { ZP_SLOT_R, ZS_EQ },
		{ ZP_SLOT_P, ZS_IN }, { ZP_SLOT_R, ZS_IN },
		{ ZP_SLOT_A, ZS_EQ }, { ZP_SLOT_A, ZS_IN },
		{ ZP_SLOT_A, ZS_IN_LIST },
	};
	const zp_scope *sc;
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(order); i++) {
		sc = order[i].slot == ZP_SLOT_P ? &p->principal :
		    order[i].slot == ZP_SLOT_R ? &p->resource : &p->action;
		if (sc->kind != order[i].kind && !(order[i].kind == ZS_IN &&
		    sc->kind == ZS_IS_IN))
			continue;
		*slot = order[i].slot;
		*eq = sc->kind == ZS_EQ;
		if (sc->kind == ZS_IN_LIST) {
			*keys = sc->list;
			*nkeys = sc->nlist;
		} else {
			*keys = &sc->uid;
			*nkeys = 1;
		}
		return true;
	}
	return false;
}

/* Files policy i: with `counting`, only counts list sizes. */
static void
ix_file(zt_policy_set *ps, uint32_t i, bool counting)
{
	const zp_uid *const *keys;
	uint32_t nkeys, k;
	uint8_t slot;
	zp_ixent *e;
	bool eq;

	if (!choose_key(&ps->pol[i], &slot, &eq, &keys, &nkeys)) {
		if (!counting)
			ps->any[ps->nany] = i;
		ps->nany++;
		return;
	}
	for (k = 0; k < nkeys; k++) {
		e = ix_find(ps, slot, keys[k], true);
		if (eq) {
			if (!counting)
				e->eq[e->neq] = i;
			e->neq++;
		} else {
			if (!counting)
				e->in[e->nin] = i;
			e->nin++;
		}
	}
}

int
zp_index_build(zt_policy_set *ps)
{
	zp_arena *a = &ps->ixarena;
	size_t nkeys = 1, cap = 16, i;
	zp_ixent *e;

	zp_arena_reset(a);
	ps->ix = NULL;
	ps->any = NULL;
	ps->nany = 0;
	for (i = 0; i < ps->npol; i++)
		nkeys += ps->pol[i].action.nlist + 1;
	while (cap < nkeys * 2)
		cap *= 2;
	if ((ps->ix = zp_alloc(a, sizeof(*ps->ix) * cap)) == NULL)
		return ZT_ENOMEM;
	memset(ps->ix, 0, sizeof(*ps->ix) * cap);
	ps->ixmask = cap - 1;

	/* Count, size each list, reset the counts, then fill. */
	for (i = 0; i < ps->npol; i++)
		ix_file(ps, (uint32_t)i, true);
	for (i = 0; i < cap; i++) {
		e = &ps->ix[i];
		if (e->key == NULL)
			continue;
		e->eq = zp_alloc(a, sizeof(uint32_t) * e->neq);
		e->in = zp_alloc(a, sizeof(uint32_t) * e->nin);
		if (e->eq == NULL || e->in == NULL)
			return ZT_ENOMEM;
		e->neq = e->nin = 0;
	}
	ps->any = zp_alloc(a, sizeof(uint32_t) * ps->nany);
	if (ps->any == NULL)
		return ZT_ENOMEM;
	ps->nany = 0;
	for (i = 0; i < ps->npol; i++)
		ix_file(ps, (uint32_t)i, false);
	return ZT_OK;
}

/* ---- policy sets ---------------------------------------------------- */

int
zt_policy_set_parse(zt_policy_set **out, const char *text, size_t len,
    zt_policy_error *err)
{
	zt_policy_error local;
	zt_policy_set *ps;
	int rc;

	*out = NULL;
	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (len > ZP_MAX_INPUT)
		return zt_error_set(ZT_ETOOBIG, "policy text over %u bytes",
		    ZP_MAX_INPUT);
	if (len > 0 && !zt_utf8_valid(text, len)) {
		err->line = err->column = 1;
		snprintf(err->message, sizeof(err->message), "policy text is "
		    "not UTF-8 or holds a NUL byte");
		return zt_error_set(ZT_EINVAL, "%s", err->message);
	}
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return ZT_ENOMEM;
	rc = zp_parse(ps, text, len, err);
	if (rc == ZT_OK)
		rc = zp_index_build(ps);
	if (rc != ZT_OK) {
		zt_policy_set_free(ps);
		if (rc == ZT_EINVAL)
			return zt_error_set(rc, "line %d, column %d: %s",
			    err->line, err->column, err->message);
		return zt_error_set(rc, "out of memory parsing policies");
	}
	*out = ps;
	return ZT_OK;
}

void
zt_policy_set_free(zt_policy_set *ps)
{
	if (ps == NULL)
		return;
	zp_arena_free(&ps->ixarena);
	zp_arena_free(&ps->arena);
	free(ps);
}

size_t
zt_policy_set_count(const zt_policy_set *ps)
{
	return ps != NULL ? ps->npol : 0;
}

const char *
zt_policy_set_id(const zt_policy_set *ps, size_t i)
{
	return ps != NULL && i < ps->npol ? ps->pol[i].id : NULL;
}

/* ---- answers -------------------------------------------------------- */

/* Grows *p to hold `need` elements of `size` bytes. */
static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap == 0 ? 8 : *cap;
	void *np;

	if (need <= *cap)
		return ZT_OK;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(*p, ncap * size)) == NULL)
		return ZT_ENOMEM;
	*p = np;
	*cap = ncap;
	return ZT_OK;
}

void
zt_policy_answer_free(zt_policy_answer *ans)
{
	if (ans == NULL)
		return;
	free(ans->determining);
	free(ans->errors);
	if (ans->scratch != NULL) {
		zp_arena_free(&ans->scratch->arena);
		free(ans->scratch->bits);
		free(ans->scratch->sat);
		free(ans->scratch);
	}
	memset(ans, 0, sizeof(*ans));
}

static int
add_error(zt_policy_answer *ans, const zp_policy *p, const char *msg)
{
	zt_policy_diag *d;
	void *v = ans->errors;
	int rc;

	if ((rc = grow(&v, &ans->cap_errors, ans->nerrors + 1,
	    sizeof(*ans->errors))) != ZT_OK)
		return rc;
	ans->errors = v;
	d = &ans->errors[ans->nerrors++];
	d->policy_id = p->id;
	snprintf(d->message, sizeof(d->message), "%s", msg);
	return ZT_OK;
}

static int
add_sat(struct zp_scratch *s, uint32_t i)
{
	void *v = s->sat;
	int rc;

	if ((rc = grow(&v, &s->capsat, s->nsat + 1, sizeof(*s->sat))) != 0)
		return rc;
	s->sat = v;
	s->sat[s->nsat++] = i;
	return ZT_OK;
}

/* Decides from the satisfied policies: forbids win, then permits. */
static int
conclude(zt_policy_answer *ans, const zt_policy_set *ps)
{
	struct zp_scratch *s = ans->scratch;
	bool forbid = false;
	void *v = ans->determining;
	size_t i;
	int rc;

	for (i = 0; i < s->nsat && !forbid; i++)
		forbid = ps->pol[s->sat[i]].forbid;
	if ((rc = grow(&v, &ans->cap_determining, s->nsat,
	    sizeof(*ans->determining))) != ZT_OK)
		return rc;
	ans->determining = v;
	for (i = 0; i < s->nsat; i++)
		if (ps->pol[s->sat[i]].forbid == forbid)
			ans->determining[ans->ndetermining++] =
			    ps->pol[s->sat[i]].id;
	ans->decision = !forbid && s->nsat > 0 ? ZT_POLICY_ALLOW :
	    ZT_POLICY_DENY;
	return ZT_OK;
}

/* ---- decisions ------------------------------------------------------ */

static void
mark(uint64_t *bits, const uint32_t *v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		bits[v[i] / 64] |= 1ULL << (v[i] % 64);
}

/* Marks the candidates filed under one slot for request entity u. */
static void
mark_slot(uint64_t *bits, const zt_policy_set *ps, uint8_t slot,
    const zp_uid *u, const zp_entity *ent)
{
	const zp_ixent *e;
	uint32_t i;

	if ((e = ix_find(ps, slot, u, false)) != NULL) {
		mark(bits, e->eq, e->neq);
		mark(bits, e->in, e->nin);
	}
	for (i = 0; ent != NULL && i < ent->nanc; i++)
		if ((e = ix_find(ps, slot, ent->anc[i], false)) != NULL)
			mark(bits, e->in, e->nin);
}

static int
req_uid(zp_uid *out, const zt_policy_uid *in)
{
	if (in->type == NULL || in->id == NULL ||
	    in->type_len > ZP_MAX_INPUT || in->id_len > ZP_MAX_INPUT)
		return zt_error_set(ZT_EINVAL, "request entity is missing or "
		    "too long");
	out->type.p = in->type;
	out->type.n = (uint32_t)in->type_len;
	out->id.p = in->id;
	out->id.n = (uint32_t)in->id_len;
	out->hash = zp_uid_hash(out->type, out->id);
	return ZT_OK;
}

static int
prepare(zt_policy_answer *ans, zp_eval *ev, const zt_policy_set *ps,
    const zt_entities *es, const zt_policy_request *req)
{
	struct zp_scratch *s;
	size_t words = (ps->npol + 63) / 64;
	void *v;
	int rc;

	ans->decision = ZT_POLICY_DENY;
	ans->ndetermining = ans->nerrors = 0;
	if (ans->scratch == NULL &&
	    (ans->scratch = calloc(1, sizeof(*ans->scratch))) == NULL)
		return ZT_ENOMEM;
	s = ans->scratch;
	s->nsat = 0;
	zp_arena_reset(&s->arena);
	v = s->bits;
	if ((rc = grow(&v, &s->nbits, words, sizeof(*s->bits))) != ZT_OK)
		return rc;
	s->bits = v;
	if (words > 0)
		memset(s->bits, 0, words * sizeof(*s->bits));

	memset(ev, 0, sizeof(*ev));
	if ((rc = req_uid(&ev->p, &req->principal)) != ZT_OK ||
	    (rc = req_uid(&ev->a, &req->action)) != ZT_OK ||
	    (rc = req_uid(&ev->r, &req->resource)) != ZT_OK)
		return rc;
	ev->es = es;
	ev->pe = zp_entity_find(es, &ev->p);
	ev->ae = zp_entity_find(es, &ev->a);
	ev->re = zp_entity_find(es, &ev->r);
	ev->context = req->context != NULL ? req->context->rec :
	    &zp_empty_rec;
	ev->scratch = &s->arena;
	return ZT_OK;
}

/* Evaluates one candidate and records what it did. */
static int
visit(zt_policy_answer *ans, zp_eval *ev, const zp_policy *p, uint32_t i)
{
	int rc = zp_policy_eval(ev, p);

	if (rc == 1)
		return add_sat(ans->scratch, i);
	if (rc == ZT_EINVAL)
		return add_error(ans, p, ev->err);
	return rc;
}

int
zt_policy_decide(zt_policy_answer *ans, const zt_policy_set *ps,
    const zt_entities *es, const zt_policy_request *req)
{
	uint64_t *bits, w;
	zp_eval ev;
	size_t k, words = (ps->npol + 63) / 64;
	uint32_t i;
	int rc;

	if ((rc = prepare(ans, &ev, ps, es, req)) != ZT_OK)
		goto fail;
	bits = ans->scratch->bits;
	mark_slot(bits, ps, ZP_SLOT_P, &ev.p, ev.pe);
	mark_slot(bits, ps, ZP_SLOT_A, &ev.a, ev.ae);
	mark_slot(bits, ps, ZP_SLOT_R, &ev.r, ev.re);
	mark(bits, ps->any, (uint32_t)ps->nany);

	for (k = 0; k < words; k++)
		for (w = bits[k]; w != 0; w &= w - 1) {
			i = (uint32_t)(k * 64 + (size_t)__builtin_ctzll(w));
			if ((rc = visit(ans, &ev, &ps->pol[i], i)) != ZT_OK)
				goto fail;
		}
	if ((rc = conclude(ans, ps)) != ZT_OK)
		goto fail;
	return ZT_OK;

fail:
	/* Fail closed: whatever was gathered, the answer is deny. */
	ans->decision = ZT_POLICY_DENY;
	ans->ndetermining = 0;
	return rc;
}
