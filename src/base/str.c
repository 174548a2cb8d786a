/*
 * String helpers for untrusted input: whole-string number parsing with
 * bounds (never atoi), durations and sizes as operators write them, UTF-8
 * validation, and a sanitiser for quoting input in messages and logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int
zt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return zt_error_set(ZT_EINVAL, "not a number");
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return zt_error_set(ZT_EINVAL, "not a number");
	if (v < min || v > max)
		return zt_error_set(ZT_EINVAL, "number out of range");
	*out = v;
	return ZT_OK;
}

/* Splits "<digits><unit>" and returns the number; `unit` points past it. */
static int
split_number(const char *s, int64_t *n, const char **unit)
{
	int64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return zt_error_set(ZT_EINVAL, "not a number");
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return zt_error_set(ZT_EINVAL, "number out of range");
		v = v * 10 + (*p - '0');
	}
	*n = v;
	*unit = p;
	return ZT_OK;
}

int
zt_parse_duration(const char *s, int64_t *seconds)
{
	static const struct { const char *unit; int64_t mult; } units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
		{ "d", 86400 },
	};
	const char *unit;
	int64_t n;
	size_t i;
	int err;

	if ((err = split_number(s, &n, &unit)) < 0)
		return err;
	for (i = 0; i < ZT_ARRAY_LEN(units); i++) {
		if (strcmp(unit, units[i].unit) != 0)
			continue;
		if (n > INT64_MAX / units[i].mult)
			return zt_error_set(ZT_EINVAL, "duration too long");
		*seconds = n * units[i].mult;
		return ZT_OK;
	}
	return zt_error_set(ZT_EINVAL, "unknown duration unit");
}

int
zt_parse_size(const char *s, size_t *bytes)
{
	static const struct { const char *unit; int64_t mult; } units[] = {
		{ "", 1 }, { "B", 1 }, { "KiB", 1024 }, { "MiB", 1 << 20 },
		{ "GiB", 1 << 30 }, { "k", 1024 }, { "K", 1024 },
		{ "M", 1 << 20 }, { "G", 1 << 30 },
	};
	const char *unit;
	int64_t n;
	size_t i;
	int err;

	if ((err = split_number(s, &n, &unit)) < 0)
		return err;
	for (i = 0; i < ZT_ARRAY_LEN(units); i++) {
		if (strcmp(unit, units[i].unit) != 0)
			continue;
		if (n > INT64_MAX / units[i].mult)
			return zt_error_set(ZT_EINVAL, "size too large");
		*bytes = (size_t)(n * units[i].mult);
		return ZT_OK;
	}
	return zt_error_set(ZT_EINVAL, "unknown size unit");
}

bool
zt_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

void
zt_str_sanitize(char *out, const char *in, size_t inlen, size_t max)
{
	size_t i, n = inlen < max ? inlen : max;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (inlen > max) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF, and no NUL byte, which C strings could not carry anyway. */
bool
zt_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + n;
	uint32_t cp;
	int more;

	while (p < end) {
		unsigned char c = *p++;

		if (c == 0)
			return false;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07;
		} else
			return false;
		if (end - p < more)
			return false;
		while (more--) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*p++ & 0x3f);
		}
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
		    (c == 0xe0 && cp < 0x800) || (c == 0xf0 && cp < 0x10000))
			return false;
	}
	return true;
}
