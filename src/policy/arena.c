/*
 * arena.c: the bump allocator behind policy sets, entity stores, contexts
 * and per-decision scratch space.
 *
 * Each object that owns many small nodes (an AST, a record, a string)
 * allocates them here and frees them all at once.  Chunks grow from 4 KiB
 * up to 1 MiB; a request larger than a chunk gets a chunk of its own.
 * Reset keeps only the newest chunk, so a decision's scratch arena settles
 * at the size its workload needs and then allocates nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

#define CHUNK_MIN 4096
#define CHUNK_MAX (1u << 20)

struct zp_chunk {
	zp_chunk *next;
	size_t size;		/* usable bytes after the header */
	max_align_t data[];
};

static size_t
align_up(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static int
arena_grow(zp_arena *a, size_t need)
{
	size_t size = a->head != NULL ? a->head->size * 2 : CHUNK_MIN;
	zp_chunk *c;

	if (size > CHUNK_MAX)
		size = CHUNK_MAX;
	if (size < need)
		size = need;
	if (size > SIZE_MAX - sizeof(*c))
		return ZT_ENOMEM;
	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return ZT_ENOMEM;
	c->size = size;
	c->next = a->head;
	a->head = c;
	a->p = (char *)c->data;
	a->end = a->p + size;
	return ZT_OK;
}

void *
zp_alloc(zp_arena *a, size_t n)
{
	void *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	n = align_up(n == 0 ? 1 : n);
	if (a->head == NULL || (size_t)(a->end - a->p) < n)
		if (arena_grow(a, n) != ZT_OK)
			return NULL;
	p = a->p;
	a->p += n;
	return p;
}

void *
zp_memdup(zp_arena *a, const void *src, size_t n)
{
	char *p;

	if ((p = zp_alloc(a, n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, src, n);
	p[n] = '\0';
	return p;
}

void
zp_arena_reset(zp_arena *a)
{
	zp_chunk *c, *next;

	if (a->head == NULL)
		return;
	for (c = a->head->next; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head->next = NULL;
	a->p = (char *)a->head->data;
	a->end = a->p + a->head->size;
}

void
zp_arena_free(zp_arena *a)
{
	zp_chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->p = a->end = NULL;
}
