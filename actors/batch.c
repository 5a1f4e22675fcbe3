/*
 * batch.c -- reference-counted event batches (see batch.h).
 *
 * One allocation per batch: the struct, then items[cap], then store[cap]
 * when the batch owns its events.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

ls_batch *
ls_batch_new(uint32_t cap, int with_store, ls_batch *parent)
{
	size_t sz = sizeof(ls_batch) + (size_t)cap * sizeof(ls_event *);
	size_t store_off = (sz + 15) & ~(size_t)15;
	if (with_store)
		sz = store_off + (size_t)cap * sizeof(ls_event);
	ls_batch *b = malloc(sz);
	if (b == NULL)
		return NULL;
	atomic_init(&b->refs, 1);
	b->n = 0;
	b->cap = cap;
	b->nstore = 0;
	b->items = (const ls_event **)(b + 1);
	b->store = with_store ? (ls_event *)((char *)b + store_off) : NULL;
	ls_arena_init(&b->arena, 16 * 1024);
	b->parent = parent;
	b->source = parent != NULL ? parent->source : NULL;
	if (parent != NULL)
		ls_batch_ref(parent);
	return b;
}

ls_event *
ls_batch_add(ls_batch *b)
{
	if (b->store == NULL || b->nstore >= b->cap || b->n >= b->cap)
		return NULL;
	ls_event *ev = &b->store[b->nstore++];
	ls_event_clear(ev);
	b->items[b->n++] = ev;
	return ev;
}

void
ls_batch_unadd(ls_batch *b)
{
	if (b->nstore > 0 && b->n > 0 &&
	    b->items[b->n - 1] == &b->store[b->nstore - 1]) {
		b->nstore--;
		b->n--;
	}
}

int
ls_batch_push(ls_batch *b, const ls_event *ev)
{
	if (b->n >= b->cap)
		return LS_ERANGE;
	b->items[b->n++] = ev;
	return 0;
}

void
ls_batch_ref(ls_batch *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void
ls_batch_unref(ls_batch *b)
{
	while (b != NULL) {
		if (atomic_fetch_sub_explicit(&b->refs, 1,
		        memory_order_acq_rel) != 1)
			return;
		ls_batch *parent = b->parent;
		ls_arena_fini(&b->arena);
		free(b);
		b = parent;
	}
}

void
ls_batch_dtor(void *b)
{
	ls_batch_unref(b);
}
