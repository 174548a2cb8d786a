/*
 * value.c: Cedar values compared, looked up and matched.
 *
 * Equality follows Cedar: values of different types are simply unequal
 * (never an error); sets are equal when each holds every member of the
 * other, so order and duplicates do not matter; records are equal when
 * they have the same keys with equal values; entities by type and id;
 * ipaddr values by family, address bytes and prefix length; decimals,
 * datetimes and durations by value.  `like` matches a string against literal runs and `*` wildcards.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

const zp_rec zp_empty_rec = { 0 };

/* FNV-1a over type, a separator no type name holds, then id, finished
 * with a 64-bit mixer so the low bits used by the tables are spread.
 * XXX: unkeyed; an entity store loaded from hostile data could pick ids
 * that collide.  The stores come from the identity database today. */
uint64_t
zp_uid_hash(zp_str type, zp_str id)
{
	uint64_t h = 1469598103934665603ULL;
	uint32_t i;

	for (i = 0; i < type.n; i++)
		h = (h ^ (unsigned char)type.p[i]) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (i = 0; i < id.n; i++)
		h = (h ^ (unsigned char)id.p[i]) * 1099511628211ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

bool
zp_str_eq(zp_str a, zp_str b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

int
zp_str_cmp(zp_str a, zp_str b)
{
	uint32_t n = a.n < b.n ? a.n : b.n;
	int c = n > 0 ? memcmp(a.p, b.p, n) : 0;

	if (c != 0)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

bool
zp_uid_eq(const zp_uid *a, const zp_uid *b)
{
	if (a == b)
		return true;
	return a->hash == b->hash && zp_str_eq(a->id, b->id) &&
	    zp_str_eq(a->type, b->type);
}

bool
zp_set_contains(const zp_set *s, const zp_value *v)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (zp_value_eq(&s->v[i], v))
			return true;
	return false;
}

/* Every member of a is in b. */
static bool
set_subset(const zp_set *a, const zp_set *b)
{
	uint32_t i;

	for (i = 0; i < a->n; i++)
		if (!zp_set_contains(b, &a->v[i]))
			return false;
	return true;
}

static bool
rec_eq(const zp_rec *a, const zp_rec *b)
{
	uint32_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (!zp_str_eq(a->f[i].key, b->f[i].key) ||
		    !zp_value_eq(&a->f[i].v, &b->f[i].v))
			return false;
	return true;
}

static bool
ip_eq(const zp_ip *a, const zp_ip *b)
{
	return a->v6 == b->v6 && a->prefix == b->prefix &&
	    memcmp(a->addr, b->addr, a->v6 ? 16 : 4) == 0;
}

bool
zp_value_eq(const zp_value *a, const zp_value *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case ZV_BOOL:
		return a->u.b == b->u.b;
	case ZV_LONG:
	case ZV_DECIMAL:
	case ZV_DATETIME:
	case ZV_DURATION:
		return a->u.l == b->u.l;
	case ZV_STRING:
		return zp_str_eq(a->u.s, b->u.s);
	case ZV_ENTITY:
		return zp_uid_eq(a->u.e, b->u.e);
	case ZV_SET:
		return set_subset(a->u.set, b->u.set) &&
		    set_subset(b->u.set, a->u.set);
	case ZV_RECORD:
		return rec_eq(a->u.rec, b->u.rec);
	case ZV_IP:
		return ip_eq(&a->u.ip, &b->u.ip);
	default:
		return false;
	}
}

const zp_value *
zp_rec_get(const zp_rec *r, zp_str key)
{
	uint32_t lo = 0, hi = r->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = zp_str_cmp(r->f[mid].key, key);
		if (c == 0)
			return &r->f[mid].v;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
field_cmp(const void *x, const void *y)
{
	return zp_str_cmp(((const zp_field *)x)->key,
	    ((const zp_field *)y)->key);
}

bool
zp_fields_sort(zp_field *f, uint32_t n)
{
	uint32_t i;

	if (n > 1)
		qsort(f, n, sizeof(*f), field_cmp);
	for (i = 1; i < n; i++)
		if (zp_str_eq(f[i - 1].key, f[i].key))
			return false;
	return true;
}

const char *
zp_kind_name(uint8_t kind)
{
	switch (kind) {
	case ZV_BOOL:		return "bool";
	case ZV_LONG:		return "long";
	case ZV_STRING:		return "string";
	case ZV_ENTITY:		return "entity";
	case ZV_SET:		return "set";
	case ZV_RECORD:		return "record";
	case ZV_IP:		return "ipaddr";
	case ZV_DECIMAL:	return "decimal";
	case ZV_DATETIME:	return "datetime";
	case ZV_DURATION:	return "duration";
	default:		return "nothing";
	}
}

static bool
ident_start(unsigned char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
ident_byte(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

bool
zp_ident_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !ident_start((unsigned char)s[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!ident_byte((unsigned char)s[i]))
			return false;
	return true;
}

/* One part of a type name: an identifier other than a reserved word,
 * which Cedar refuses in a type name even where it comes from JSON. */
static bool
type_part_valid(const char *s, size_t n)
{
	static const char *reserved[] = { "true", "false", "if", "then",
	    "else", "in", "is", "like", "has", "__cedar" };
	size_t i;

	if (!zp_ident_valid(s, n))
		return false;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == n && memcmp(s, reserved[i], n) == 0)
			return false;
	return true;
}

/* A type name is identifiers joined by "::", as in "App::Role". */
bool
zp_type_name_valid(const char *s, size_t n)
{
	size_t start = 0, i;

	for (i = 0; i + 1 < n; i++) {
		if (s[i] != ':' || s[i + 1] != ':')
			continue;
		if (!type_part_valid(s + start, i - start))
			return false;
		start = i + 2;
		i++;
	}
	return type_part_valid(s + start, n - start);
}

/* Does `s` start with `lit` at offset `at`? */
static bool
lit_at(zp_str s, uint32_t at, zp_str lit)
{
	return lit.n <= s.n - at && memcmp(s.p + at, lit.p, lit.n) == 0;
}

/*
 * Glob match with backtracking to the last wildcard only: when a literal
 * run fails to match, the most recent `*` takes one more byte and the
 * match resumes after it.  Each wildcard restart moves forward, so the
 * work is bounded by pattern length times string length, never
 * exponential.  Matching is on bytes; Cedar's strings are UTF-8 and a
 * literal run is whole code points, so byte and code point matching agree.
 */
bool
zp_like(zp_str s, const zp_pattern *pat)
{
	uint32_t si = 0, pi = 0, star_pi = UINT32_MAX, star_si = 0;

	while (si < s.n || pi < pat->n) {
		if (pi < pat->n && pat->el[pi].star) {
			star_pi = pi++;
			star_si = si;
			continue;
		}
		if (pi < pat->n && si < s.n && lit_at(s, si, pat->el[pi].lit)) {
			si += pat->el[pi].lit.n;
			pi++;
			continue;
		}
		if (star_pi == UINT32_MAX || star_si >= s.n)
			return false;
		pi = star_pi + 1;
		si = ++star_si;
	}
	return true;
}
