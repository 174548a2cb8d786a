/*
 * Strict JSON decoding for request bodies: jansson parses (it checks UTF-8
 * and we ask it to refuse duplicate keys), then a depth walk bounds
 * nesting, and zt_json_decode maps an object onto C values from a field
 * table, refusing unknown fields and wrong types so a typo in a request is
 * an error rather than a silently ignored setting.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"

static int
json_depth_ok(json_t *v, int depth, int max)
{
	const char *key;
	json_t *child;
	size_t i;

	if (depth > max)
		return 0;
	if (json_is_object(v)) {
		json_object_foreach(v, key, child)
			if (!json_depth_ok(child, depth + 1, max))
				return 0;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
			if (!json_depth_ok(child, depth + 1, max))
				return 0;
	}
	return 1;
}

int
zt_json_parse(json_t **out, const char *buf, size_t len, int max_depth)
{
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	if (len == 0)
		return zt_error_set(ZT_EINVAL, "empty body");
	/* jansson's own depth cap is 2048; ours is far lower, checked after
	 * the parse, which is bounded by the body size limit. */
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &jerr);
	if (v == NULL)
		return zt_error_set(ZT_EINVAL, "line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	if (!json_depth_ok(v, 1, max_depth)) {
		json_decref(v);
		return zt_error_set(ZT_EINVAL, "nesting deeper than %d",
		    max_depth);
	}
	*out = v;
	return ZT_OK;
}

static const char *
json_type_name(enum zt_json_type t)
{
	switch (t) {
	case ZT_J_STRING:	return "a string";
	case ZT_J_INT:		return "an integer";
	case ZT_J_BOOL:		return "a boolean";
	case ZT_J_OBJECT:	return "an object";
	case ZT_J_ARRAY:	return "an array";
	default:		return "a value";
	}
}

static int
json_store(const zt_json_field *f, json_t *v)
{
	switch (f->type) {
	case ZT_J_STRING:
		if (!json_is_string(v))
			break;
		*(const char **)f->out = json_string_value(v);
		return ZT_OK;
	case ZT_J_INT:
		if (!json_is_integer(v))
			break;
		*(int64_t *)f->out = json_integer_value(v);
		return ZT_OK;
	case ZT_J_BOOL:
		if (!json_is_boolean(v))
			break;
		*(bool *)f->out = json_is_true(v);
		return ZT_OK;
	case ZT_J_OBJECT:
		if (!json_is_object(v))
			break;
		*(json_t **)f->out = v;
		return ZT_OK;
	case ZT_J_ARRAY:
		if (!json_is_array(v))
			break;
		*(json_t **)f->out = v;
		return ZT_OK;
	case ZT_J_ANY:
		*(json_t **)f->out = v;
		return ZT_OK;
	}
	return zt_error_set(ZT_EINVAL, "field \"%s\" must be %s", f->name,
	    json_type_name(f->type));
}

int
zt_json_decode(json_t *obj, const zt_json_field *fields, size_t n)
{
	char safe[68];
	const char *key;
	json_t *v;
	size_t i;
	int err;

	if (!json_is_object(obj))
		return zt_error_set(ZT_EINVAL, "expected a JSON object");
	json_object_foreach(obj, key, v) {
		for (i = 0; i < n; i++)
			if (strcmp(fields[i].name, key) == 0)
				break;
		if (i == n) {
			zt_str_sanitize(safe, key, strlen(key), 64);
			return zt_error_set(ZT_EINVAL, "unknown field \"%s\"",
			    safe);
		}
	}
	for (i = 0; i < n; i++) {
		v = json_object_get(obj, fields[i].name);
		if (fields[i].present)
			*fields[i].present = v != NULL;
		if (v == NULL) {
			if (fields[i].required)
				return zt_error_set(ZT_EINVAL,
				    "field \"%s\" is required", fields[i].name);
			continue;
		}
		if ((err = json_store(&fields[i], v)) < 0)
			return err;
	}
	return ZT_OK;
}

bool
zt_json_set_has(json_t *set, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(set, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}
