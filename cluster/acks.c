/*
 * acks.c -- the leader's table of checkpoint acknowledgements (acks.h).
 *
 * Three levels, each owning the next:
 *
 *   topo    one per topology name (a short list: a cluster runs few
 *           topologies); gc asks the caller about each once
 *   group   (topo, epoch, partition, node), in a chained hash table; it
 *           keeps the lowest final checkpoint acknowledged (0: none), so
 *           "ended at or before ckpt" is one comparison
 *   ent     (group, checkpoint id, final), in a second chained hash table
 *
 * A group lives while it has entries, a topo while it has groups.  Both
 * tables double when they hold more than one item per bucket.
 */
#include "cluster/acks.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/hash.h"

typedef struct topo {
	struct topo *next;
	char *name;
	size_t ngroups;
	/* set by gc for its pass */
	int gone;
	uint64_t epoch, done;
} topo;

typedef struct group {
	struct group *next;
	uint64_t hash;
	topo *t;
	char *part;
	uint64_t epoch, node;
	uint64_t min_final; /* lowest final checkpoint, 0 = none */
	size_t nents;
} group;

typedef struct ent {
	struct ent *next;
	group *g;
	uint64_t ckpt;
	int final;
} ent;

struct ls_acks {
	size_t max;
	size_t nents, ngroups;
	topo *topos;
	group **gb; /* group buckets, gcap of them (a power of two) */
	size_t gcap;
	ent **eb;   /* entry buckets, ecap of them (a power of two) */
	size_t ecap;
};

#define MIN_BUCKETS 64

int
ls_acks_new(size_t max, ls_acks **out)
{
	ls_acks *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return LS_ENOMEM;
	a->max = max;
	a->gcap = a->ecap = MIN_BUCKETS;
	a->gb = calloc(a->gcap, sizeof(*a->gb));
	a->eb = calloc(a->ecap, sizeof(*a->eb));
	if (a->gb == NULL || a->eb == NULL) {
		ls_acks_free(a);
		return LS_ENOMEM;
	}
	*out = a;
	return 0;
}

void
ls_acks_free(ls_acks *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; a->eb != NULL && i < a->ecap; i++)
		for (ent *e = a->eb[i], *nx; e != NULL; e = nx) {
			nx = e->next;
			free(e);
		}
	for (size_t i = 0; a->gb != NULL && i < a->gcap; i++)
		for (group *g = a->gb[i], *nx; g != NULL; g = nx) {
			nx = g->next;
			free(g->part);
			free(g);
		}
	for (topo *t = a->topos, *nx; t != NULL; t = nx) {
		nx = t->next;
		free(t->name);
		free(t);
	}
	free(a->gb);
	free(a->eb);
	free(a);
}

size_t
ls_acks_count(const ls_acks *a)
{
	return a->nents;
}

/* ---- hashing ---- */

static uint64_t
group_hash(const topo *t, uint64_t epoch, const char *part, uint64_t node)
{
	uint64_t k[3] = { (uint64_t)(uintptr_t)t, epoch, node };
	return ls_hash64(part, strlen(part), ls_hash64(k, sizeof(k), 0x61636b73));
}

static uint64_t
ent_hash(const group *g, uint64_t ckpt)
{
	uint64_t k[2] = { (uint64_t)(uintptr_t)g, ckpt };
	return ls_hash64(k, sizeof(k), 0x61636b65);
}

static topo *
topo_find(const ls_acks *a, const char *name)
{
	for (topo *t = a->topos; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static group *
group_find(const ls_acks *a, const topo *t, uint64_t epoch, const char *part,
    uint64_t node, uint64_t h)
{
	for (group *g = a->gb[h & (a->gcap - 1)]; g != NULL; g = g->next)
		if (g->hash == h && g->t == t && g->epoch == epoch &&
		    g->node == node && strcmp(g->part, part) == 0)
			return g;
	return NULL;
}

static ent *
ent_find(const ls_acks *a, const group *g, uint64_t ckpt)
{
	for (ent *e = a->eb[ent_hash(g, ckpt) & (a->ecap - 1)]; e != NULL;
	     e = e->next)
		if (e->g == g && e->ckpt == ckpt)
			return e;
	return NULL;
}

/* Double the group table when it holds more groups than buckets (a
 * failed allocation keeps the table as it is: only slower). */
static void
group_grow(ls_acks *a)
{
	if (a->ngroups < a->gcap)
		return;
	size_t nc = a->gcap * 2;
	group **nb = calloc(nc, sizeof(*nb));
	if (nb == NULL)
		return;
	for (size_t i = 0; i < a->gcap; i++)
		for (group *g = a->gb[i], *nx; g != NULL; g = nx) {
			nx = g->next;
			g->next = nb[g->hash & (nc - 1)];
			nb[g->hash & (nc - 1)] = g;
		}
	free(a->gb);
	a->gb = nb;
	a->gcap = nc;
}

static void
ent_grow(ls_acks *a)
{
	if (a->nents < a->ecap)
		return;
	size_t nc = a->ecap * 2;
	ent **nb = calloc(nc, sizeof(*nb));
	if (nb == NULL)
		return;
	for (size_t i = 0; i < a->ecap; i++)
		for (ent *e = a->eb[i], *nx; e != NULL; e = nx) {
			nx = e->next;
			size_t b = ent_hash(e->g, e->ckpt) & (nc - 1);
			e->next = nb[b];
			nb[b] = e;
		}
	free(a->eb);
	a->eb = nb;
	a->ecap = nc;
}

/* ---- removal ---- */

static void
topo_unref(ls_acks *a, topo *t)
{
	if (--t->ngroups > 0)
		return;
	for (topo **pp = &a->topos; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	free(t->name);
	free(t);
}

static void
group_unref(ls_acks *a, group *g)
{
	if (--g->nents > 0)
		return;
	for (group **pp = &a->gb[g->hash & (a->gcap - 1)]; *pp != NULL;
	     pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	a->ngroups--;
	topo *t = g->t;
	free(g->part);
	free(g);
	topo_unref(a, t);
}

/* Remove every entry for which drop(e, arg) is non-zero. */
static void
ent_sweep(ls_acks *a, int (*drop)(const ent *e, void *arg), void *arg)
{
	for (size_t i = 0; i < a->ecap; i++) {
		ent **pp = &a->eb[i];
		while (*pp != NULL) {
			ent *e = *pp;
			if (!drop(e, arg)) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			a->nents--;
			group *g = e->g;
			free(e);
			group_unref(a, g);
		}
	}
}

/* ---- API ---- */

int
ls_acks_add(ls_acks *a, const char *topo_name, uint64_t epoch,
    const char *part, uint64_t node, uint64_t ckpt, int final)
{
	if (a == NULL || topo_name == NULL || part == NULL)
		return LS_EINVAL;
	topo *t = topo_find(a, topo_name);
	group *g = NULL;
	uint64_t h = 0;
	if (t != NULL) {
		h = group_hash(t, epoch, part, node);
		g = group_find(a, t, epoch, part, node, h);
	}
	if (g != NULL) {
		ent *e = ent_find(a, g, ckpt);
		if (e != NULL) {
			if (final && !e->final) {
				e->final = 1;
				if (g->min_final == 0 || ckpt < g->min_final)
					g->min_final = ckpt;
			}
			return 0;
		}
	}
	if (a->max != 0 && a->nents >= a->max)
		return LS_EAGAIN;
	ent *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return LS_ENOMEM;
	int new_topo = 0;
	if (t == NULL) {
		t = calloc(1, sizeof(*t));
		if (t == NULL || (t->name = strdup(topo_name)) == NULL) {
			free(t);
			free(e);
			return LS_ENOMEM;
		}
		t->next = a->topos;
		a->topos = t;
		new_topo = 1;
		h = group_hash(t, epoch, part, node);
	}
	if (g == NULL) {
		g = calloc(1, sizeof(*g));
		if (g == NULL || (g->part = strdup(part)) == NULL) {
			free(g);
			free(e);
			if (new_topo) {
				t->ngroups = 1;
				topo_unref(a, t);
			}
			return LS_ENOMEM;
		}
		g->hash = h;
		g->t = t;
		g->epoch = epoch;
		g->node = node;
		t->ngroups++;
		a->ngroups++;
		group_grow(a);
		size_t b = h & (a->gcap - 1);
		g->next = a->gb[b];
		a->gb[b] = g;
	}
	e->g = g;
	e->ckpt = ckpt;
	e->final = final != 0;
	if (e->final && (g->min_final == 0 || ckpt < g->min_final))
		g->min_final = ckpt;
	g->nents++;
	a->nents++;
	ent_grow(a);
	size_t b = ent_hash(g, ckpt) & (a->ecap - 1);
	e->next = a->eb[b];
	a->eb[b] = e;
	return 0;
}

int
ls_acks_held(const ls_acks *a, const char *topo_name, uint64_t epoch,
    const char *part, uint64_t node, uint64_t ckpt, int *final)
{
	const topo *t = topo_find(a, topo_name);
	if (t == NULL)
		return 0;
	const group *g = group_find(a, t, epoch, part, node,
	    group_hash(t, epoch, part, node));
	if (g == NULL)
		return 0;
	int ended = g->min_final != 0 && g->min_final <= ckpt;
	if (!ended && ent_find(a, g, ckpt) == NULL)
		return 0;
	if (final != NULL)
		*final = ended;
	return 1;
}

static int
cmp_desc(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? 1 : a > b ? -1 : 0;
}

int
ls_acks_ckpts(const ls_acks *a, const char *topo_name, uint64_t epoch,
    uint64_t above, uint64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	const topo *t = topo_find(a, topo_name);
	if (t == NULL)
		return 0;
	uint64_t *ids = NULL;
	size_t nids = 0, cap = 0;
	for (size_t i = 0; i < a->ecap; i++)
		for (const ent *e = a->eb[i]; e != NULL; e = e->next) {
			if (e->g->t != t || e->g->epoch < epoch ||
			    e->ckpt <= above)
				continue;
			if (nids == cap) {
				size_t nc = cap ? cap * 2 : 16;
				uint64_t *ni = realloc(ids, nc * sizeof(*ni));
				if (ni == NULL) {
					free(ids);
					return LS_ENOMEM;
				}
				ids = ni;
				cap = nc;
			}
			ids[nids++] = e->ckpt;
		}
	if (nids == 0) {
		free(ids);
		return 0;
	}
	qsort(ids, nids, sizeof(*ids), cmp_desc);
	size_t k = 1;
	for (size_t i = 1; i < nids; i++)
		if (ids[i] != ids[k - 1])
			ids[k++] = ids[i];
	*out = ids;
	*n = k;
	return 0;
}

static int
gc_drop(const ent *e, void *arg)
{
	(void)arg;
	const topo *t = e->g->t;
	return t->gone || e->g->epoch < t->epoch ||
	    (!e->final && e->ckpt < t->done);
}

void
ls_acks_gc(ls_acks *a, ls_acks_run_fn fn, void *arg)
{
	for (topo *t = a->topos; t != NULL; t = t->next) {
		t->epoch = t->done = 0;
		t->gone = fn(arg, t->name, &t->epoch, &t->done) != 0;
	}
	ent_sweep(a, gc_drop, NULL);
}

void
ls_acks_drop_topology(ls_acks *a, const char *topo_name)
{
	if (topo_find(a, topo_name) == NULL)
		return;
	/* a gc pass that finds only this topology gone */
	for (topo *t = a->topos; t != NULL; t = t->next) {
		t->epoch = t->done = 0;
		t->gone = strcmp(t->name, topo_name) == 0;
	}
	ent_sweep(a, gc_drop, NULL);
}
