/*
 * batch.h -- a reference-counted batch of events, the unit that travels
 * between stage actors on one node (a local send is a pointer hand-off).
 *
 * A batch either owns its events (store, filled with ls_batch_add) or is a
 * view of events owned by a parent batch (ls_batch_push), e.g. the slice of
 * a parsed batch routed to one partition.  Strings inside events live in the
 * batch's arena or in an ancestor's; a batch holds a reference on its
 * parent, so everything an event points at stays alive as long as any batch
 * that lists it.  Reference counting is atomic: several consumers may hold
 * the same batch.  Events are read-only once the batch is sent.
 */
#ifndef LS_ACTORS_BATCH_H
#define LS_ACTORS_BATCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "runtime/arena.h"
#include "runtime/event.h"

typedef struct ls_batch ls_batch;
struct ls_batch {
	_Atomic uint32_t refs;
	uint32_t n;          /* events listed in items[] */
	uint32_t cap;        /* capacity of items[] (and store[] if any) */
	uint32_t nstore;     /* events used in store[] */
	const ls_event **items;
	ls_event *store;     /* NULL for a view */
	ls_arena arena;      /* strings owned by this batch */
	ls_batch *parent;    /* a reference held, or NULL */
	const char *source;  /* source node name (topology-owned), for
	                        dead-letter records */
};

/* A new batch with room for cap events (refs = 1); with_store: it owns
 * event storage (ls_batch_add), else it is a view (ls_batch_push).  parent
 * (may be NULL) gets a new reference.  NULL when out of memory. */
ls_batch *ls_batch_new(uint32_t cap, int with_store, ls_batch *parent);

/* The next owned event slot (cleared), listed in items[]; NULL when full. */
ls_event *ls_batch_add(ls_batch *b);

/* Drop the last ls_batch_add()ed event (e.g. it failed to parse). */
void ls_batch_unadd(ls_batch *b);

/* List an event owned elsewhere (it must outlive b: own it via parent).
 * Returns 0 or LS_ERANGE when full. */
int ls_batch_push(ls_batch *b, const ls_event *ev);

/* New reference; any thread. */
void ls_batch_ref(ls_batch *b);

/* Drop a reference; the last one frees the batch and unrefs its parent. */
void ls_batch_unref(ls_batch *b);

/* ls_batch_unref as a message payload destructor (ls_msg.dtor). */
void ls_batch_dtor(void *b);

#endif /* LS_ACTORS_BATCH_H */
