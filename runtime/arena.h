/*
 * arena.h -- bump allocator for per-batch scratch memory.
 *
 * An arena hands out memory from large chunks and frees it all at once with
 * ls_arena_reset() or ls_arena_fini(); individual allocations are never
 * freed.  Used so that the hot path does no malloc per event.  An arena is
 * not thread-safe: one owner at a time.
 */
#ifndef LS_ARENA_H
#define LS_ARENA_H

#include <stddef.h>

typedef struct ls_arena_chunk ls_arena_chunk;

typedef struct ls_arena {
	ls_arena_chunk *head; /* current chunk; older ones follow */
	size_t chunk_size;    /* default size of a new chunk */
	size_t used;          /* bytes handed out since the last reset */
} ls_arena;

/* Initialise an empty arena whose chunks are chunk_size bytes (0 = 64 KiB).
 * Allocates nothing until the first ls_arena_alloc(). */
void ls_arena_init(ls_arena *a, size_t chunk_size);

/* n bytes aligned to 8, or NULL when out of memory.  Valid until the next
 * reset or fini. */
void *ls_arena_alloc(ls_arena *a, size_t n);

/* Copy n bytes into the arena and NUL-terminate; NULL on out of memory. */
char *ls_arena_strndup(ls_arena *a, const char *p, size_t n);

/* Forget every allocation; keeps the newest chunk for reuse. */
void ls_arena_reset(ls_arena *a);

/* Free all memory. The arena may be initialised again afterwards. */
void ls_arena_fini(ls_arena *a);

#endif /* LS_ARENA_H */
