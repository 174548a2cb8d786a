/*
 * form.c: application/x-www-form-urlencoded request bodies, the only body
 * the token, introspection and revocation endpoints take (RFC 6749 3.2,
 * RFC 7662 2.1, RFC 7009 2.1).
 *
 * Grammar (the WHATWG URL standard's, made strict): pairs separated by
 * "&"; a pair is name "=" value (a pair without "=" is refused, an empty
 * pair between two "&" is skipped); "+" decodes to a space; "%" must be
 * followed by two hex digits.  Decoded names and values must be UTF-8
 * without control characters, so nothing that reaches a log or a SQL
 * parameter carries a NUL or a line break.  Everything decodes into one
 * buffer no longer than the body.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes in[0..n) to *out, NUL-terminated; advances *out past the NUL. */
static int
decode(char **out, const char *in, size_t n)
{
	char *start = *out, *o = *out;
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (in[i] == '+') {
			*o++ = ' ';
		} else if (in[i] == '%') {
			if (i + 2 >= n || (hi = hexval(in[i + 1])) < 0 ||
			    (lo = hexval(in[i + 2])) < 0)
				return zt_error_set(ZT_EINVAL, "a %% escape "
				    "needs two hex digits");
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = in[i];
		}
	}
	*o = '\0';
	if (!zt_utf8_valid(start, (size_t)(o - start)))
		return zt_error_set(ZT_EINVAL, "a parameter is not UTF-8");
	for (char *p = start; p < o; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return zt_error_set(ZT_EINVAL, "a parameter holds a "
			    "control character");
	*out = o + 1;
	return ZT_OK;
}

int
zt_form_parse(zt_form *out, const char *body, size_t len)
{
	const char *p = body, *end = body + len, *amp, *eq;
	char *o;
	int err;

	memset(out, 0, sizeof(*out));
	if (len > ZT_FORM_BODY_MAX)
		return zt_error_set(ZT_ETOOBIG, "the form is over 64 KiB");
	/* Decoding never lengthens; one NUL per name and per value. */
	out->cap = len + 2 * ZT_FORM_PARAMS_MAX + 2;
	if ((out->buf = malloc(out->cap)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	o = out->buf;
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p) {
			p++;
			continue;
		}
		if (out->n == ZT_FORM_PARAMS_MAX) {
			err = zt_error_set(ZT_ETOOBIG, "more than %d form "
			    "parameters", ZT_FORM_PARAMS_MAX);
			goto fail;
		}
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL || eq == p) {
			err = zt_error_set(ZT_EINVAL, "a form parameter is "
			    "name=value with a name");
			goto fail;
		}
		out->p[out->n].name = o;
		if ((err = decode(&o, p, (size_t)(eq - p))) < 0)
			goto fail;
		out->p[out->n].value = o;
		if ((err = decode(&o, eq + 1, (size_t)(amp - eq - 1))) < 0)
			goto fail;
		out->n++;
		p = amp + 1;
	}
	return ZT_OK;
fail:
	zt_form_free(out);
	return err;
}

const char *
zt_form_get(const zt_form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->p[i].name, name) == 0)
			return f->p[i].value[0] != '\0' ? f->p[i].value : NULL;
	return NULL;
}

size_t
zt_form_count(const zt_form *f, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->p[i].name, name) == 0 && f->p[i].value[0] != '\0')
			n++;
	return n;
}

const char *
zt_form_repeated(const zt_form *f, const char *const *multi)
{
	const char *const *m;
	size_t i, j;

	for (i = 0; i < f->n; i++) {
		for (m = multi; *m != NULL; m++)
			if (strcmp(*m, f->p[i].name) == 0)
				break;
		if (*m != NULL)
			continue;
		for (j = i + 1; j < f->n; j++)
			if (strcmp(f->p[i].name, f->p[j].name) == 0)
				return f->p[i].name;
	}
	return NULL;
}

void
zt_form_free(zt_form *f)
{
	if (f->buf != NULL) {
		/* It held a client secret, perhaps. */
		zt_wipe(f->buf, f->cap);
		free(f->buf);
	}
	memset(f, 0, sizeof(*f));
}

int
zt_form_decode(char *out, size_t size, const char *in, size_t n)
{
	char *o = out;

	if (n + 1 > size)
		return zt_error_set(ZT_ETOOBIG, "a form value is too long");
	return decode(&o, in, n);
}

int
zt_form_encode(zt_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int err = ZT_OK;

	for (; *s != '\0' && err == ZT_OK; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~')
			err = zt_buf_addc(b, (char)ch);
		else if ((err = zt_buf_addc(b, '%')) == ZT_OK &&
		    (err = zt_buf_addc(b, hex[ch >> 4])) == ZT_OK)
			err = zt_buf_addc(b, hex[ch & 15]);
	}
	return err;
}
