/*
 * A growable byte buffer that carries its own size limit, so every place
 * that accumulates untrusted bytes states how many it will take.  A failed
 * append leaves the buffer as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static int
buf_grow(zt_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return zt_error_set(ZT_ETOOBIG, "buffer limit of %zu bytes",
		    b->max);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return ZT_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	b->data = p;
	b->cap = cap;
	return ZT_OK;
}

int
zt_buf_add(zt_buf *b, const void *p, size_t n)
{
	int err;

	if ((err = buf_grow(b, n)) < 0)
		return err;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return ZT_OK;
}

int
zt_buf_adds(zt_buf *b, const char *s)
{
	return zt_buf_add(b, s, strlen(s));
}

int
zt_buf_addc(zt_buf *b, char c)
{
	return zt_buf_add(b, &c, 1);
}

int
zt_buf_addf(zt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return zt_error_set(ZT_ERR, "format error");
	if ((err = buf_grow(b, (size_t)n)) < 0)
		return err;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return ZT_OK;
}

void
zt_buf_reset(zt_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
zt_buf_free(zt_buf *b)
{
	if (b->data) {
		zt_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
zt_buf_detach(zt_buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
