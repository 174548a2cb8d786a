/*
 * attrs.c: identity attributes.
 *
 * Attributes are a flat JSON object whose values are typed: a string, a
 * number, a boolean, or a set of strings written as an array.  Nested
 * objects, nulls and arrays of anything but strings are refused, so every
 * value can be compared by a policy condition and indexed.  A stored set
 * is sorted with duplicates removed, and a number without a fraction is
 * stored as an integer, so equal values have one spelling.
 *
 * Besides the JSON kept on the identity row, each scalar value and each
 * member of a set is written to identity_attrs as (key, JSON text of the
 * value) with the identity's name, indexed by (tenant, key, value, name),
 * which answers "identities with department = \"sales\"", a page at a
 * time in name order, from the index.
 */
#include <stdlib.h>
#include <string.h>

#include "identity/identity_int.h"

/* Keys per identity: policies name a handful; 64 keeps the rows written
 * per identity and the cost of evaluating conditions small. */
#define ATTRS_KEYS_MAX 64
/* Key length: a label, not data. */
#define ATTR_KEY_MAX 64
/* One string value: PostgreSQL refuses index entries above ~2.7 KB, and
 * each value is an index entry in identity_attrs. */
#define ATTR_VALUE_MAX 1024
/* ATTRS_SIZE_MAX (16 KiB of compact JSON, in identity_int.h) keeps an
 * identity row within a few database pages and an audit record small. */

/* Integers beyond 2^53 do not survive a trip through a double. */
#define EXACT_INT_MAX 9007199254740992.0

static bool
key_ok(const char *k)
{
	size_t i, n = strlen(k);

	if (n == 0 || n > ATTR_KEY_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.' || c == ':'))
			return false;
	}
	return true;
}

static bool
str_value_ok(json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), i;

	if (n > ATTR_VALUE_MAX || memchr(s, '\0', n) != NULL)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int
bad_value(const char *field, const char *key, const char *why)
{
	char q[QUOTE_MAX + 4];

	quote(q, key);
	return zt_error_set(ZT_EINVAL, "field \"%s\": attribute \"%s\": %s",
	    field, q, why);
}

static int
cmp_strings(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	    json_string_value(*(json_t *const *)b));
}

/* A sorted copy of an array of strings without duplicates. */
static int
norm_set(json_t **out, json_t *arr, const char *key)
{
	size_t n = json_array_size(arr), i;
	json_t **items, *set;

	if (n == 0) {
		*out = json_array();
		return ZT_OK;
	}
	if ((items = calloc(n, sizeof(*items))) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		items[i] = json_array_get(arr, i);
		if (!json_is_string(items[i])) {
			free(items);
			return bad_value("attributes", key, "a set must hold "
			    "strings only");
		}
		if (!str_value_ok(items[i])) {
			free(items);
			return bad_value("attributes", key, "set members "
			    "must be at most 1024 bytes without control "
			    "characters");
		}
	}
	qsort(items, n, sizeof(*items), cmp_strings);
	set = json_array();
	for (i = 0; i < n; i++)
		if (i == 0 || cmp_strings(&items[i - 1], &items[i]) != 0)
			json_array_append(set, items[i]);
	free(items);
	*out = set;
	return ZT_OK;
}

/* One scalar in its single spelling; `field` names it in messages. */
static int
norm_scalar(json_t **out, json_t *v, const char *field, const char *key)
{
	double d;

	if (json_is_string(v)) {
		if (!str_value_ok(v))
			return bad_value(field, key, "strings must be at most "
			    "1024 bytes without control characters");
		*out = json_incref(v);
	} else if (json_is_integer(v) || json_is_boolean(v)) {
		*out = json_incref(v);
	} else if (json_is_real(v)) {
		d = json_real_value(v);
		if (d >= -EXACT_INT_MAX && d <= EXACT_INT_MAX &&
		    d == (double)(json_int_t)d)
			*out = json_integer((json_int_t)d);
		else
			*out = json_incref(v);
	} else if (json_is_null(v)) {
		return bad_value(field, key, "null is not allowed");
	} else if (json_is_object(v)) {
		return bad_value(field, key, "nested objects are not "
		    "allowed");
	} else {
		return bad_value(field, key, "must be a string, number, "
		    "boolean or array of strings");
	}
	return ZT_OK;
}

static int
norm_one(json_t *dst, const char *key, json_t *v)
{
	json_t *nv;
	int err;

	if (!key_ok(key))
		return bad_value("attributes", key, "keys are 1 to 64 of "
		    "a-z, A-Z, 0-9, '_', '-', '.', ':'");
	if (json_is_array(v))
		err = norm_set(&nv, v, key);
	else
		err = norm_scalar(&nv, v, "attributes", key);
	if (err < 0)
		return err;
	json_object_set_new(dst, key, nv);
	return ZT_OK;
}

static int
check_size(json_t *attrs)
{
	size_t n = json_dumpb(attrs, NULL, 0, JSON_COMPACT);

	if (n > ATTRS_SIZE_MAX)
		return zt_error_set(ZT_ETOOBIG, "field \"attributes\": %zu "
		    "bytes of JSON, more than the %d allowed", n,
		    ATTRS_SIZE_MAX);
	return ZT_OK;
}

/* Checks `in` (NULL: no attributes) and sets *out to its normal form. */
int
attrs_normalize(json_t **out, json_t *in)
{
	const char *key;
	json_t *v, *dst;
	int err;

	*out = NULL;
	if (in == NULL) {
		*out = json_object();
		return ZT_OK;
	}
	if (!json_is_object(in))
		return zt_error_set(ZT_EINVAL, "field \"attributes\": must be "
		    "an object");
	if (json_object_size(in) > ATTRS_KEYS_MAX)
		return zt_error_set(ZT_ETOOBIG, "field \"attributes\": more "
		    "than %d keys", ATTRS_KEYS_MAX);
	dst = json_object();
	json_object_foreach(in, key, v) {
		if ((err = norm_one(dst, key, v)) < 0)
			goto fail;
	}
	if ((err = check_size(dst)) < 0)
		goto fail;
	*out = dst;
	return ZT_OK;
fail:
	json_decref(dst);
	return err;
}

/* The indexed spelling of one scalar: its compact JSON text.  *out is
 * malloc'd.  Used for stored values and for query filters alike. */
int
attrs_value_key(char **out, json_t *v, const char *field,
    const char *key)
{
	json_t *nv;
	int err;

	*out = NULL;
	if ((err = norm_scalar(&nv, v, field, key)) < 0)
		return err;
	*out = json_dumps(nv, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(nv);
	if (*out == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

/* The identity a row belongs to: tenant, id and name. */
struct attr_owner {
	const char *tenant, *id, *name;
};

static int
attr_row(zt_stmt *st, const struct attr_owner *o, const char *key, json_t *v)
{
	char *text;
	int err;

	if ((text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	zt_stmt_bind_text(st, 1, o->tenant);
	zt_stmt_bind_text(st, 2, o->id);
	zt_stmt_bind_text(st, 3, o->name);
	zt_stmt_bind_text(st, 4, key);
	zt_stmt_bind_text(st, 5, text);
	err = zt_stmt_run(st);
	free(text);
	return err;
}

/* Writes the index rows of normalised `attrs` for one identity.  A row
 * carries the identity's name (names never change), so that a list
 * filtered by an attribute reads its page in name order from the index. */
int
attrs_write(zt_db *db, const char *tenant, const char *id, const char *name,
    json_t *attrs)
{
	struct attr_owner o = { tenant, id, name };
	const char *key;
	json_t *v, *m;
	zt_stmt *st;
	size_t i;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO identity_attrs"
	    " (tenant, identity_id, name, key, value_text)"
	    " VALUES ($1, $2, $3, $4, $5)")) < 0)
		return err;
	json_object_foreach(attrs, key, v) {
		if (!json_is_array(v)) {
			if ((err = attr_row(st, &o, key, v)) < 0)
				return err;
			continue;
		}
		json_array_foreach(v, i, m)
			if ((err = attr_row(st, &o, key, m)) < 0)
				return err;
	}
	return ZT_OK;
}

int
attrs_clear(zt_db *db, const char *tenant, const char *id)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "DELETE FROM identity_attrs"
	    " WHERE tenant = $1 AND identity_id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	return zt_stmt_run(st);
}
