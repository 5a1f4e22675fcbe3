/*
 * parts.h -- the values of a key range of an ls_state handle, copied out
 * as parts for a kind's load hook (the window's windows, the session
 * stage's sessions: one key per part, all keys of one length).
 */
#ifndef LS_ACTORS_PARTS_H
#define LS_ACTORS_PARTS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/store.h"

typedef struct ls_parts {
	uint8_t **p;  /* malloc'd copies of the values, in key order */
	size_t *len;
	size_t n, cap;
	size_t keylen; /* the length of every key of the range */
	int rv;
} ls_parts;

/* Copy the values of the keys in [from, to) of st into *ps (zeroed by the
 * caller, then ls_parts_fini).  0; LS_ECORRUPT when a key of the range is
 * not keylen bytes long; LS_ENOMEM; errors of ls_state_scan. */
int ls_parts_scan(ls_state *st, const void *from, size_t fl, const void *to,
    size_t tl, size_t keylen, ls_parts *ps);

/* Free the copies. */
void ls_parts_fini(ls_parts *ps);

#endif /* LS_ACTORS_PARTS_H */
