/*
 * arena.c -- bump allocator (see arena.h).
 */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ls_arena_chunk {
	ls_arena_chunk *next;
	size_t size; /* usable bytes in data[] */
	size_t off;  /* next free byte */
	_Alignas(16) unsigned char data[];
};

void
ls_arena_init(ls_arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size != 0 ? chunk_size : 64 * 1024;
	a->used = 0;
}

void *
ls_arena_alloc(ls_arena *a, size_t n)
{
	ls_arena_chunk *c = a->head;
	size_t need = (n + 7) & ~(size_t)7;

	if (need < n)
		return NULL;
	if (c == NULL || c->size - c->off < need) {
		size_t sz = need > a->chunk_size ? need : a->chunk_size;
		if (sz > SIZE_MAX - sizeof(*c))
			return NULL;
		c = malloc(sizeof(*c) + sz);
		if (c == NULL)
			return NULL;
		c->size = sz;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->off;
	c->off += need;
	a->used += need;
	return p;
}

char *
ls_arena_strndup(ls_arena *a, const char *p, size_t n)
{
	char *s = ls_arena_alloc(a, n + 1);
	if (s == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

void
ls_arena_reset(ls_arena *a)
{
	ls_arena_chunk *c = a->head;

	if (c == NULL)
		return;
	ls_arena_chunk *rest = c->next;
	while (rest != NULL) {
		ls_arena_chunk *n = rest->next;
		free(rest);
		rest = n;
	}
	c->next = NULL;
	c->off = 0;
	a->used = 0;
}

void
ls_arena_fini(ls_arena *a)
{
	ls_arena_chunk *c = a->head;
	while (c != NULL) {
		ls_arena_chunk *n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
	a->used = 0;
}
