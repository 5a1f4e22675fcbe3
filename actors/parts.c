/*
 * parts.c -- values of a state key range as parts (actors/parts.h).
 */
#include "actors/parts.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

static int
add(ls_parts *ps, const void *v, size_t vl)
{
	if (ps->n == ps->cap) {
		size_t nc = ps->cap ? ps->cap * 2 : 16;
		uint8_t **np = realloc(ps->p, nc * sizeof(*np));
		if (np == NULL)
			return LS_ENOMEM;
		ps->p = np;
		size_t *nl = realloc(ps->len, nc * sizeof(*nl));
		if (nl == NULL)
			return LS_ENOMEM;
		ps->len = nl;
		ps->cap = nc;
	}
	if ((ps->p[ps->n] = malloc(vl > 0 ? vl : 1)) == NULL)
		return LS_ENOMEM;
	if (vl > 0)
		memcpy(ps->p[ps->n], v, vl);
	ps->len[ps->n++] = vl;
	return 0;
}

static int
collect(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	ls_parts *ps = arg;
	(void)k;
	ps->rv = kl != ps->keylen ? LS_ECORRUPT : add(ps, v, vl);
	return ps->rv != 0;
}

int
ls_parts_scan(ls_state *st, const void *from, size_t fl, const void *to,
    size_t tl, size_t keylen, ls_parts *ps)
{
	ps->keylen = keylen;
	int rc = ls_state_scan(st, from, fl, to, tl, collect, ps);
	return rc == 0 || ps->rv != 0 ? ps->rv : rc;
}

void
ls_parts_fini(ls_parts *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->p[i]);
	free(ps->p);
	free(ps->len);
	memset(ps, 0, sizeof(*ps));
}
