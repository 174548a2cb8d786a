/*
 * common.c: what every file of the identity module leans on.
 *
 * The caller's scope is resolved once per call (scope_enter): the tenant
 * named must exist and lie in the scope, and a subtree scope becomes a
 * range of unit paths [lo, hi), so "is this object mine" is a string
 * comparison in C for single objects and a range condition in SQL for
 * lists.  Anything out of scope is reported as not found.
 *
 * The rest are the small rules shared by all files: transactions that
 * keep the first error message when they roll back, audit targets, input
 * validation with messages that name the field, and opaque page cursors.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity_int.h"

/* A cursor holds a tag, a sort key and an id: a name, a time or a path
 * is far shorter than this. */
#define CURSOR_RAW_MAX 512

/* ---- validation ---------------------------------------------------------- */

void
quote(char out[QUOTE_MAX + 4], const char *s)
{
	zt_str_sanitize(out, s ? s : "", s ? strlen(s) : 0, QUOTE_MAX);
}

static bool
lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9][a-z0-9-]{0,max-1} */
bool
slug_ok(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || !lower_alnum(s[0]))
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (i >= max || !(lower_alnum(s[i]) || s[i] == '-'))
			return false;
	return true;
}

/* [a-z0-9][a-z0-9._-]*: one SPIFFE path segment that is never "." or
 * "..", in lower case so that names cannot differ by case alone. */
bool
name_ok(const char *s)
{
	size_t i;

	if (s == NULL || !lower_alnum(s[0]))
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (i >= ZT_NAME_MAX || !(lower_alnum(s[i]) || s[i] == '-' ||
		    s[i] == '.' || s[i] == '_'))
			return false;
	return true;
}

/* 1 to max bytes of UTF-8 without control characters. */
bool
text_ok(const char *s, size_t max)
{
	size_t n, i;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return zt_utf8_valid(s, n);
}

/* Ids are what new_id() makes: ZT_ID_LEN characters of base64url. */
bool
id_ok(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < ZT_ID_LEN; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return s[ZT_ID_LEN] == '\0';
}

int
check_name(const char *field, const char *s)
{
	if (s == NULL || *s == '\0')
		return zt_error_set(ZT_EINVAL, "field \"%s\": required", field);
	if (!name_ok(s))
		return zt_error_set(ZT_EINVAL, "field \"%s\": must be 1 to %d "
		    "of a-z, 0-9, '.', '-', '_', starting with a letter or "
		    "digit", field, ZT_NAME_MAX);
	return ZT_OK;
}

int
check_text(const char *field, const char *s, size_t max)
{
	if (s == NULL || *s == '\0')
		return zt_error_set(ZT_EINVAL, "field \"%s\": required", field);
	if (!text_ok(s, max))
		return zt_error_set(ZT_EINVAL, "field \"%s\": must be 1 to %zu "
		    "bytes of UTF-8 without control characters", field, max);
	return ZT_OK;
}

/* Finds `v` in the NULL-terminated `allowed`; the message lists them. */
int
check_enum(int *idx, const char *field, const char *v,
    const char *const *allowed)
{
	char list[256] = "";
	size_t len = 0;
	int i;

	for (i = 0; allowed[i] != NULL; i++) {
		if (v != NULL && strcmp(v, allowed[i]) == 0) {
			if (idx != NULL)
				*idx = i;
			return ZT_OK;
		}
		if (len < sizeof(list))
			len += snprintf(list + len, sizeof(list) - len, "%s%s",
			    i ? ", " : "", allowed[i]);
	}
	return zt_error_set(ZT_EINVAL, "field \"%s\": must be one of %s",
	    field, list);
}

int
not_found(const char *what, const char *id)
{
	char q[QUOTE_MAX + 4];

	quote(q, id);
	return zt_error_set(ZT_ENOTFOUND, "no %s \"%s\"", what, q);
}

int
check_version(const char *what, int64_t have, int64_t want)
{
	if (want != 0 && want != have)
		return zt_error_set(ZT_ESTALE, "%s is at version %lld, not "
		    "%lld", what, (long long)have, (long long)want);
	return ZT_OK;
}

/* The first string after every string that starts with `lo`: its last
 * byte plus one.  `lo` is ASCII below 0x7f (paths, names). */
void
prefix_hi(char *hi, size_t size, const char *lo)
{
	size_t n;

	snprintf(hi, size, "%s", lo);
	if ((n = strlen(hi)) > 0)
		hi[n - 1]++;
}

/* The base64url characters in byte order: a value written with them
 * compares as its digits do. */
static const char id_digits[] =
    "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/* Writes the low 6 * n bits of v as n digits, most significant first. */
static void
id_digits_put(char *out, uint64_t v, int n)
{
	while (n-- > 0) {
		out[n] = id_digits[v & 63];
		v >>= 6;
	}
}

/*
 * An id is ID_TIME_DIGITS digits of the time in milliseconds (48 bits,
 * enough until the year 10889) then ID_RANDOM_BYTES random bytes, all in
 * base64url characters.  The time comes first and its digits sort as
 * bytes do, so ids made later compare greater: a row keyed on a new id
 * goes to the right-hand end of its primary key and of every index that
 * ends in an id, instead of to a random page of it.  With random ids an
 * import into a tenant of a million identities wrote and re-read index
 * pages all over the file and ran five times slower (docs/benchmarks.md).
 * 48 random bits per millisecond keep ids unguessable; two ids of one
 * millisecond collide with a chance of one in 2^48, and the primary key
 * would refuse the second.
 */
void
id_make(char out[ZT_ID_LEN + 1], int64_t ms,
    const uint8_t rnd[ID_RANDOM_BYTES])
{
	uint64_t r = 0;
	size_t i;

	for (i = 0; i < ID_RANDOM_BYTES; i++)
		r = r << 8 | rnd[i];
	id_digits_put(out, (uint64_t)ms, ID_TIME_DIGITS);
	id_digits_put(out + ID_TIME_DIGITS, r, ZT_ID_LEN - ID_TIME_DIGITS);
	out[ZT_ID_LEN] = '\0';
}

int
new_id(char out[ZT_ID_LEN + 1])
{
	uint8_t rnd[ID_RANDOM_BYTES];
	int err;

	if ((err = zt_random(rnd, sizeof(rnd))) < 0)
		return err;
	id_make(out, zt_now_ms(), rnd);
	return ZT_OK;
}



int
page_limit(int *out, int limit)
{
	if (limit == 0)
		limit = ZT_PAGE_DEFAULT;
	if (limit < 1 || limit > ZT_PAGE_MAX)
		return zt_error_set(ZT_EINVAL, "field \"limit\": must be 1 to "
		    "%d", ZT_PAGE_MAX);
	*out = limit;
	return ZT_OK;
}

/* ---- scope --------------------------------------------------------------- */

const char *
trust_domain(const zt_id_ctx *cx)
{
	if (cx->cfg == NULL || cx->cfg->trust_domain == NULL)
		return ZT_SPIFFE_TD_DEFAULT;
	return cx->cfg->trust_domain;
}

static int
tenant_exists(zt_db *db, const char *tenant)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db,
	    "SELECT 1 FROM tenants WHERE id = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("tenant", tenant);
	return err < 0 ? err : ZT_OK;
}

static int
scope_unit(struct scope *sc, zt_db *db, const char *unit)
{
	zt_stmt *st;
	int err;

	if (!id_ok(unit))
		return not_found("unit", unit);
	if ((err = zt_db_prepare(&st, db, "SELECT path FROM org_units"
	    " WHERE tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sc->tenant);
	zt_stmt_bind_text(st, 2, unit);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		snprintf(sc->lo, sizeof(sc->lo), "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		return not_found("unit", unit);
	if (err < 0)
		return err;
	snprintf(sc->unit, sizeof(sc->unit), "%s", unit);
	prefix_hi(sc->hi, sizeof(sc->hi), sc->lo);
	sc->subtree = true;
	return ZT_OK;
}

/*
 * Checks that `tenant` exists and lies in the caller's scope, and resolves
 * a subtree scope to its path range.  A tenant outside the scope is
 * reported exactly like one that does not exist.
 */
int
scope_enter(struct scope *sc, const zt_id_ctx *cx, const char *tenant)
{
	int err;

	memset(sc, 0, sizeof(*sc));
	if (!slug_ok(tenant, ZT_TENANT_ID_MAX))
		return not_found("tenant", tenant);
	if (cx->scope.tenant != NULL && strcmp(cx->scope.tenant, tenant) != 0)
		return not_found("tenant", tenant);
	sc->tenant = tenant;
	if ((err = tenant_exists(cx->db, tenant)) < 0)
		return err;
	if (cx->scope.unit != NULL) {
		if (cx->scope.tenant == NULL)
			return zt_error_set(ZT_EINVAL, "scope: a unit scope "
			    "needs a tenant");
		return scope_unit(sc, cx->db, cx->scope.unit);
	}
	return ZT_OK;
}

/* Whether an object under the unit at `path` (NULL: no unit) is in scope. */
bool
scope_has_path(const struct scope *sc, const char *path)
{
	if (!sc->subtree)
		return true;
	return path != NULL && zt_str_has_prefix(path, sc->lo);
}

int
scope_need_tenant_admin(const struct scope *sc)
{
	if (sc->subtree)
		return zt_error_set(ZT_EFORBIDDEN, "a unit administrator may "
		    "not change tenant-wide settings");
	return ZT_OK;
}

/*
 * Serialises changes to a tenant's unit tree and group nesting: both check
 * a shape (no cycle, not into its own subtree) and then change it, which
 * two concurrent transactions on PostgreSQL could each pass.  The no-op
 * UPDATE takes the tenant row's lock; SQLite's writer lock does the rest.
 */
int
tenant_lock(zt_db *db, const char *tenant)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "UPDATE tenants SET version ="
	    " version WHERE id = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	return zt_stmt_run(st);
}

/* ---- transactions and audit ---------------------------------------------- */

int
tx_begin(const zt_id_ctx *cx)
{
	return zt_db_begin(cx->db);
}

static _Atomic uint64_t generation;

uint64_t
zt_identity_generation(void)
{
	return atomic_load(&generation);
}

/* Moves the generation after the commit, never before it: a reader that
 * sees the new count then also sees the committed data. */
int
tx_end(const zt_id_ctx *cx, int err)
{
	if ((err = zt_db_end(cx->db, err)) == ZT_OK)
		atomic_fetch_add(&generation, 1);
	return err;
}

static zt_identity_unlink_fn unlink_hooks[ZT_IDENTITY_HOOKS_MAX];
static size_t n_unlink_hooks;

int
zt_identity_on_delete(zt_identity_unlink_fn fn)
{
	size_t i;

	for (i = 0; i < n_unlink_hooks; i++)
		if (unlink_hooks[i] == fn)
			return ZT_OK;
	if (n_unlink_hooks == ZT_IDENTITY_HOOKS_MAX)
		return zt_error_set(ZT_ETOOBIG, "too many deletion hooks");
	unlink_hooks[n_unlink_hooks++] = fn;
	return ZT_OK;
}

int
unlink_refs(const zt_id_ctx *cx, const char *tenant, const char *kind,
    const char *id)
{
	size_t i;
	int err;

	for (i = 0; i < n_unlink_hooks; i++)
		if ((err = unlink_hooks[i](cx, tenant, kind, id)) < 0)
			return err;
	return ZT_OK;
}

int
id_audit(const zt_id_ctx *cx, const char *action, const char *tenant,
    const char *type, const char *id, json_t *before, json_t *after)
{
	return zt_audit_change(cx->db, cx->actor, action, tenant, type, id,
	    before, after);
}

/* ---- cursors ------------------------------------------------------------- */

/*
 * A cursor is base64url of "<tag>\x1f<key>\x1f<id>": the tag says which
 * list and order it belongs to, so a cursor of one list is refused by
 * another instead of being misread.  Sets *out to a JSON string.
 */
int
cursor_encode(json_t **out, char tag, const char *a, const char *b)
{
	char raw[CURSOR_RAW_MAX], enc[CURSOR_RAW_MAX * 4 / 3 + 4];
	int n;

	n = snprintf(raw, sizeof(raw), "%c\x1f%s\x1f%s", tag, a, b);
	if (n < 0 || (size_t)n >= sizeof(raw))
		return zt_error_set(ZT_ERR, "cursor too long");
	zt_b64url_encode(enc, raw, (size_t)n);
	*out = json_string(enc);
	return ZT_OK;
}

int
cursor_decode(const char *cur, char tag, char *a, size_t alen, char *b,
    size_t blen)
{
	char raw[CURSOR_RAW_MAX + 4], *sep1, *sep2;
	size_t n = strlen(cur);
	long len;

	if (n > CURSOR_RAW_MAX * 4 / 3 ||
	    (len = zt_b64url_decode(raw, cur, n)) < 3)
		goto bad;
	raw[len] = '\0';
	if (raw[0] != tag || raw[1] != '\x1f' ||
	    memchr(raw, '\0', (size_t)len) != NULL)
		goto bad;
	sep1 = raw + 1;
	if ((sep2 = strchr(sep1 + 1, '\x1f')) == NULL)
		goto bad;
	*sep2 = '\0';
	if (strlen(sep1 + 1) >= alen || strlen(sep2 + 1) >= blen)
		goto bad;
	snprintf(a, alen, "%s", sep1 + 1);
	snprintf(b, blen, "%s", sep2 + 1);
	return ZT_OK;
bad:
	return zt_error_set(ZT_EINVAL, "field \"cursor\": not a cursor this "
	    "list gave out");
}
