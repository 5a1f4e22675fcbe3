/*
 * ring.c -- consistent hashing with bounded loads: the placement of
 * partitions on nodes (see ring.h and docs/cluster.md, "Placement").
 *
 * The ring is a sorted array of virtual nodes (64-bit position, node index,
 * vnode number).  A partition starts at the first vnode at or after its own
 * position and walks clockwise; it takes the first node that is not full
 * (Mirrokni, Thorup, Zadimoghaddam: "Consistent Hashing with Bounded
 * Loads").  Partitions are processed in a canonical order (by position,
 * then name) so the result does not depend on the caller's order.
 */
#include "cluster/ring.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/hash.h"

/* Seeds of the two hash families: vnode positions and partition keys. */
#define VNODE_SEED 0x6c6f6773u /* vnode k of a node hashes with seed+k */
#define KEY_SEED   0x9e3779b97f4a7c15ull
/* Most partitions one placement accepts (indices are 32-bit). */
#define MAX_PARTITIONS (1u << 24)
#define NONE           UINT32_MAX

typedef struct vnode {
	uint64_t pos;
	uint32_t node; /* index into the sorted ids[] */
	uint32_t k;    /* vnode number of that node */
} vnode;

struct ls_ring {
	size_t n, cap;     /* nodes, allocated slots */
	char **ids;        /* sorted by strcmp */
	uint32_t *weights; /* parallel to ids */
	vnode *v;          /* ring, sorted by (pos, node, k) */
	size_t nv;
	int dirty; /* v[] must be rebuilt before use */
};

/* A partition name with its index, for sorting without globals. */
typedef struct named {
	uint64_t key; /* ring position (0 when sorting by name only) */
	const char *name;
	uint32_t idx;
} named;

/* Scratch of one placement run. */
typedef struct run {
	const ls_ring *ring;
	ls_placement *out;
	size_t n;
	uint32_t sb;       /* standbys per partition (replicas - 1) */
	uint32_t *order;   /* partitions in canonical order */
	named *sorted;     /* scratch for computing order */
	uint64_t *key;     /* position of each partition */
	size_t *start;     /* first vnode index of each partition */
	uint8_t *excluded; /* per node, for the partition being placed */
} run;

/* ---- the ring ---- */

int
ls_ring_new(ls_ring **out)
{
	ls_ring *r;

	if (out == NULL)
		return LS_EINVAL;
	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return LS_ENOMEM;
	*out = r;
	return LS_OK;
}

void
ls_ring_free(ls_ring *ring)
{
	if (ring == NULL)
		return;
	for (size_t i = 0; i < ring->n; i++)
		free(ring->ids[i]);
	free(ring->ids);
	free(ring->weights);
	free(ring->v);
	free(ring);
}

/* Index of id in the sorted ids[], or where it would be inserted with
 * *found = 0. */
static size_t
node_search(const ls_ring *r, const char *id, int *found)
{
	size_t lo = 0, hi = r->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->ids[mid], id);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
id_ok(const char *id)
{
	size_t len;

	if (id == NULL)
		return 0;
	len = strnlen(id, LS_RING_MAX_ID + 1);
	return len >= 1 && len <= LS_RING_MAX_ID;
}

int
ls_ring_add_node(ls_ring *ring, const char *id, uint32_t weight)
{
	size_t at;
	int found;
	char *copy;

	if (ring == NULL || !id_ok(id) || weight < 1 ||
	    weight > LS_RING_MAX_WEIGHT)
		return LS_EINVAL;
	at = node_search(ring, id, &found);
	if (found)
		return LS_EEXIST;
	if (ring->n >= LS_RING_MAX_NODES)
		return LS_ERANGE;
	if (ring->n == ring->cap) {
		size_t nc = ring->cap ? ring->cap * 2 : 8;
		char **ids = realloc(ring->ids, nc * sizeof(*ids));
		if (ids == NULL)
			return LS_ENOMEM;
		ring->ids = ids;
		uint32_t *w = realloc(ring->weights, nc * sizeof(*w));
		if (w == NULL)
			return LS_ENOMEM;
		ring->weights = w;
		ring->cap = nc;
	}
	copy = strdup(id);
	if (copy == NULL)
		return LS_ENOMEM;
	memmove(&ring->ids[at + 1], &ring->ids[at],
	        (ring->n - at) * sizeof(*ring->ids));
	memmove(&ring->weights[at + 1], &ring->weights[at],
	        (ring->n - at) * sizeof(*ring->weights));
	ring->ids[at] = copy;
	ring->weights[at] = weight;
	ring->n++;
	ring->dirty = 1;
	return LS_OK;
}

int
ls_ring_remove_node(ls_ring *ring, const char *id)
{
	size_t at;
	int found;

	if (ring == NULL || id == NULL)
		return LS_EINVAL;
	at = node_search(ring, id, &found);
	if (!found)
		return LS_ENOENT;
	free(ring->ids[at]);
	memmove(&ring->ids[at], &ring->ids[at + 1],
	        (ring->n - at - 1) * sizeof(*ring->ids));
	memmove(&ring->weights[at], &ring->weights[at + 1],
	        (ring->n - at - 1) * sizeof(*ring->weights));
	ring->n--;
	ring->dirty = 1;
	return LS_OK;
}

size_t
ls_ring_node_count(const ls_ring *ring)
{
	return ring ? ring->n : 0;
}

const char *
ls_ring_node_id(const ls_ring *ring, size_t i, uint32_t *weight)
{
	if (ring == NULL || i >= ring->n)
		return NULL;
	if (weight)
		*weight = ring->weights[i];
	return ring->ids[i];
}

uint64_t
ls_ring_key_hash(const char *partition)
{
	return ls_hash64(partition, strlen(partition), KEY_SEED);
}

static int
vnode_cmp(const void *a, const void *b)
{
	const vnode *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	/* Node indices follow id order, so ties break by id: canonical. */
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return (x->k > y->k) - (x->k < y->k);
}

/* Rebuild the sorted vnode array after nodes changed. */
static int
ring_build(ls_ring *r)
{
	size_t total = 0, j = 0;
	vnode *v;

	if (!r->dirty && (r->v != NULL || r->n == 0))
		return LS_OK;
	for (size_t i = 0; i < r->n; i++)
		total += (size_t)r->weights[i] * LS_RING_VNODES;
	v = malloc((total ? total : 1) * sizeof(*v));
	if (v == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		size_t len = strlen(r->ids[i]);
		uint32_t nk = r->weights[i] * LS_RING_VNODES;
		for (uint32_t k = 0; k < nk; k++) {
			v[j].pos =
			    ls_hash64(r->ids[i], len, (uint64_t)VNODE_SEED + k);
			v[j].node = (uint32_t)i;
			v[j].k = k;
			j++;
		}
	}
	qsort(v, total, sizeof(*v), vnode_cmp);
	free(r->v);
	r->v = v;
	r->nv = total;
	r->dirty = 0;
	return LS_OK;
}

/* First vnode index whose position is >= pos (wrapping to 0). */
static size_t
ring_start(const ls_ring *r, uint64_t pos)
{
	size_t lo = 0, hi = r->nv;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == r->nv ? 0 : lo;
}

/*
 * Walk clockwise from vnode `from` and return the first node that is not
 * excluded and, when cap is non-NULL, has count < cap; NONE after a full
 * lap without one.
 */
static uint32_t
walk(const run *w, size_t from, const uint32_t *count, const uint32_t *cap)
{
	const ls_ring *r = w->ring;

	for (size_t s = 0; s < r->nv; s++) {
		size_t i = from + s;
		if (i >= r->nv)
			i -= r->nv;
		uint32_t node = r->v[i].node;
		if (w->excluded[node])
			continue;
		if (cap != NULL && count[node] >= cap[node])
			continue;
		return node;
	}
	return NONE;
}

/* ---- placements ---- */

void
ls_placement_fini(ls_placement *p)
{
	if (p == NULL)
		return;
	if (p->partitions) {
		for (size_t i = 0; i < p->n_partitions; i++)
			free(p->partitions[i]);
	}
	if (p->node_ids) {
		for (size_t i = 0; i < p->n_nodes; i++)
			free(p->node_ids[i]);
	}
	free(p->partitions);
	free(p->node_ids);
	free(p->weights);
	free(p->owner);
	free(p->standby);
	free(p->owned);
	free(p->held);
	free(p->owner_cap);
	free(p->standby_cap);
	memset(p, 0, sizeof(*p));
}

/* Canonical order: by ring position, then name. */
static int
named_cmp(const void *a, const void *b)
{
	const named *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sorted index of names[0..n) (key 0) in a new array, or NULL (ENOMEM). */
static named *
by_name(char *const *names, size_t n)
{
	named *v = malloc((n ? n : 1) * sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		v[i].key = 0;
		v[i].name = names[i];
		v[i].idx = (uint32_t)i;
	}
	qsort(v, n, sizeof(*v), named_cmp);
	return v;
}

/* Index of name in a by_name() array of n entries, or NONE. */
static uint32_t
find_name(const named *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v[mid].name, name);
		if (c == 0)
			return v[mid].idx;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

/* ceil(LS_RING_LOAD_FACTOR * items * w / total_w) in integers (5/4). */
static uint32_t
bound(uint64_t items, uint32_t w, uint64_t total_w)
{
	uint64_t num = 5 * items * w, den = 4 * total_w;

	return (uint32_t)((num + den - 1) / den);
}

/* Allocate and fill everything in out except the assignments. */
static int
placement_alloc(const ls_ring *r, const char *const *names, size_t n,
                uint32_t replicas, ls_placement *out)
{
	size_t nn = r->n, sb = replicas - 1;
	uint64_t total_w = 0;

	out->n_partitions = n;
	out->n_nodes = nn;
	out->replicas = replicas;
	out->partitions = calloc(n ? n : 1, sizeof(char *));
	out->node_ids = calloc(nn, sizeof(char *));
	out->weights = calloc(nn, sizeof(uint32_t));
	out->owner = calloc(n ? n : 1, sizeof(uint32_t));
	out->standby = calloc(n * sb > 0 ? n * sb : 1, sizeof(uint32_t));
	out->owned = calloc(nn, sizeof(uint32_t));
	out->held = calloc(nn, sizeof(uint32_t));
	out->owner_cap = calloc(nn, sizeof(uint32_t));
	out->standby_cap = calloc(nn, sizeof(uint32_t));
	if (!out->partitions || !out->node_ids || !out->weights ||
	    !out->owner || !out->standby || !out->owned || !out->held ||
	    !out->owner_cap || !out->standby_cap)
		return LS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out->partitions[i] = strdup(names[i]);
		if (out->partitions[i] == NULL)
			return LS_ENOMEM;
	}
	for (size_t i = 0; i < nn; i++) {
		out->node_ids[i] = strdup(r->ids[i]);
		if (out->node_ids[i] == NULL)
			return LS_ENOMEM;
		out->weights[i] = r->weights[i];
		total_w += r->weights[i];
	}
	for (size_t i = 0; i < nn; i++) {
		out->owner_cap[i] = bound(n, r->weights[i], total_w);
		out->standby_cap[i] =
		    bound((uint64_t)n * sb, r->weights[i], total_w);
	}
	return LS_OK;
}

/* Give partition p the owner o. */
static void
set_owner(run *w, uint32_t p, uint32_t o)
{
	w->out->owner[p] = o;
	w->out->owned[o]++;
}

/*
 * Fill partition p's standby slots from `have` onwards: clockwise from its
 * position, distinct nodes under their standby bound; if the distinctness
 * constraint leaves no such node, the first distinct node regardless of
 * the bound.  excluded[] holds the owner and the standbys chosen so far
 * and is cleared on return.
 */
static void
fill_standbys(run *w, uint32_t p, uint32_t have)
{
	ls_placement *o = w->out;
	uint32_t *slot = &o->standby[(size_t)p * w->sb];

	for (uint32_t s = have; s < w->sb; s++) {
		uint32_t node = walk(w, w->start[p], o->held, o->standby_cap);
		if (node == NONE)
			node = walk(w, w->start[p], NULL, NULL);
		/* replicas <= n_nodes, so a distinct node always exists. */
		slot[s] = node;
		o->held[node]++;
		w->excluded[node] = 1;
	}
	w->excluded[o->owner[p]] = 0;
	for (uint32_t s = 0; s < w->sb; s++)
		w->excluded[slot[s]] = 0;
}

/* The fresh bounded-load placement into w->out. */
static void
place_fresh(run *w)
{
	for (size_t j = 0; j < w->n; j++) {
		uint32_t p = w->order[j];
		/* The owner caps sum to >= 1.25 n, so one is never full. */
		uint32_t o =
		    walk(w, w->start[p], w->out->owned, w->out->owner_cap);
		set_owner(w, p, o);
		w->excluded[o] = 1;
		fill_standbys(w, p, 0);
	}
}

/* Index of prev's node `i` in the ring, or NONE. */
static uint32_t
map_node(const ls_ring *r, const ls_placement *prev, uint32_t i)
{
	int found;
	size_t at;

	if (i >= prev->n_nodes)
		return NONE;
	at = node_search(r, prev->node_ids[i], &found);
	return found ? (uint32_t)at : NONE;
}

/*
 * Placement that starts from prev.  fresh is the fresh placement of the same
 * inputs; it tells which partitions nodes new since prev should take.
 */
static int
place_from(run *w, const ls_placement *prev, const ls_placement *fresh)
{
	ls_placement *o = w->out;
	size_t nn = w->ring->n;
	uint32_t *map = NULL, *pidx = NULL;
	named *byname = NULL;
	uint8_t *is_new = NULL, *done = NULL;
	uint32_t psb = prev->replicas ? prev->replicas - 1 : 0;
	int rc = LS_ENOMEM;

	map = malloc((prev->n_nodes ? prev->n_nodes : 1) * sizeof(*map));
	pidx = malloc((w->n ? w->n : 1) * sizeof(*pidx));
	byname = by_name(prev->partitions, prev->n_partitions);
	is_new = malloc(nn ? nn : 1);
	done = calloc(w->n ? w->n : 1, 1);
	if (!map || !pidx || !byname || !is_new || !done)
		goto out;
	memset(is_new, 1, nn);
	for (uint32_t i = 0; i < prev->n_nodes; i++) {
		map[i] = map_node(w->ring, prev, i);
		/* A node whose weight grew counts as new: it takes on. */
		if (map[i] != NONE &&
		    w->ring->weights[map[i]] <= prev->weights[i])
			is_new[map[i]] = 0;
	}
	/* Match partitions with prev by name. */
	for (size_t p = 0; p < w->n; p++)
		pidx[p] =
		    find_name(byname, prev->n_partitions, o->partitions[p]);

	/* Pass 1: new nodes take their fresh partitions, others stay put. */
	for (size_t j = 0; j < w->n; j++) {
		uint32_t p = w->order[j], want = NONE;
		if (is_new[fresh->owner[p]])
			want = fresh->owner[p];
		else if (pidx[p] != NONE)
			want = map[prev->owner[pidx[p]]];
		if (want != NONE && o->owned[want] < o->owner_cap[want]) {
			set_owner(w, p, want);
			done[p] = 1;
		}
	}
	/* Pass 2: the rest go to a surviving standby, else clockwise. */
	for (size_t j = 0; j < w->n; j++) {
		uint32_t p = w->order[j], got = NONE;
		if (done[p])
			continue;
		if (pidx[p] != NONE) {
			const uint32_t *ps =
			    &prev->standby[(size_t)pidx[p] * psb];
			for (uint32_t s = 0; s < psb && got == NONE; s++) {
				uint32_t c = map[ps[s]];
				if (c != NONE && o->owned[c] < o->owner_cap[c])
					got = c;
			}
		}
		if (got == NONE)
			got = walk(w, w->start[p], o->owned, o->owner_cap);
		set_owner(w, p, got);
	}
	/*
	 * Standbys, in two passes like the owners so that a filled slot never
	 * takes the room of a copy that could have stayed: first fresh ones
	 * on new nodes and surviving old ones, then the empty slots.
	 */
	for (size_t j = 0; j < w->n; j++) {
		uint32_t p = w->order[j], have = 0;
		uint32_t *slot = &o->standby[(size_t)p * w->sb];
		w->excluded[o->owner[p]] = 1;
		for (uint32_t s = 0; s < w->sb; s++) {
			uint32_t c = fresh->standby[(size_t)p * w->sb + s];
			if (have < w->sb && is_new[c] && !w->excluded[c] &&
			    o->held[c] < o->standby_cap[c]) {
				slot[have++] = c;
				o->held[c]++;
				w->excluded[c] = 1;
			}
		}
		if (pidx[p] != NONE) {
			const uint32_t *ps =
			    &prev->standby[(size_t)pidx[p] * psb];
			for (uint32_t s = 0; s < psb && have < w->sb; s++) {
				uint32_t c = map[ps[s]];
				if (c != NONE && !w->excluded[c] &&
				    o->held[c] < o->standby_cap[c]) {
					slot[have++] = c;
					o->held[c]++;
					w->excluded[c] = 1;
				}
			}
		}
		w->excluded[o->owner[p]] = 0;
		for (uint32_t s = 0; s < w->sb; s++) {
			if (s < have)
				w->excluded[slot[s]] = 0;
			else
				slot[s] = NONE;
		}
	}
	for (size_t j = 0; j < w->n; j++) {
		uint32_t p = w->order[j], have = 0;
		uint32_t *slot = &o->standby[(size_t)p * w->sb];
		w->excluded[o->owner[p]] = 1;
		while (have < w->sb && slot[have] != NONE)
			w->excluded[slot[have++]] = 1;
		fill_standbys(w, p, have);
	}
	rc = LS_OK;
out:
	free(map);
	free(pidx);
	free(byname);
	free(is_new);
	free(done);
	return rc;
}

static int
prev_ok(const ls_placement *prev)
{
	size_t psb;

	if (prev->n_partitions > MAX_PARTITIONS || prev->replicas == 0 ||
	    prev->n_nodes > LS_RING_MAX_NODES || prev->replicas > prev->n_nodes)
		return 0;
	if (prev->n_partitions &&
	    (prev->partitions == NULL || prev->owner == NULL))
		return 0;
	if (prev->n_nodes && (prev->node_ids == NULL || prev->weights == NULL))
		return 0;
	psb = prev->replicas - 1;
	if (prev->n_partitions && psb && prev->standby == NULL)
		return 0;
	for (size_t i = 0; i < prev->n_partitions; i++) {
		if (prev->partitions[i] == NULL ||
		    prev->owner[i] >= prev->n_nodes)
			return 0;
		for (size_t s = 0; s < psb; s++) {
			if (prev->standby[i * psb + s] >= prev->n_nodes)
				return 0;
		}
	}
	for (size_t i = 0; i < prev->n_nodes; i++) {
		if (prev->node_ids[i] == NULL)
			return 0;
	}
	return 1;
}

static int
place(ls_ring *ring, const ls_placement *prev, const char *const *names,
      size_t n, uint32_t replicas, ls_placement *out)
{
	run w;
	ls_placement fresh;
	int rc;

	if (out == NULL)
		return LS_EINVAL;
	memset(out, 0, sizeof(*out));
	memset(&fresh, 0, sizeof(fresh));
	memset(&w, 0, sizeof(w));
	if (ring == NULL || replicas == 0 || (n > 0 && names == NULL))
		return LS_EINVAL;
	if (prev != NULL && !prev_ok(prev))
		return LS_EINVAL;
	if (n > MAX_PARTITIONS)
		return LS_ERANGE;
	for (size_t i = 0; i < n; i++) {
		if (!id_ok(names[i]))
			return LS_EINVAL;
	}
	if (ring->n == 0)
		return LS_ENOENT;
	if (replicas > ring->n)
		replicas = (uint32_t)ring->n;
	rc = ring_build(ring);
	if (rc != LS_OK)
		return rc;

	w.ring = ring;
	w.n = n;
	w.sb = replicas - 1;
	w.order = malloc((n ? n : 1) * sizeof(*w.order));
	w.key = malloc((n ? n : 1) * sizeof(*w.key));
	w.start = malloc((n ? n : 1) * sizeof(*w.start));
	w.sorted = malloc((n ? n : 1) * sizeof(*w.sorted));
	w.excluded = calloc(ring->n, 1);
	rc = LS_ENOMEM;
	if (!w.order || !w.key || !w.start || !w.sorted || !w.excluded)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		w.order[i] = (uint32_t)i;
		w.key[i] = ls_ring_key_hash(names[i]);
		w.start[i] = ring_start(ring, w.key[i]);
	}
	for (size_t i = 0; i < n; i++) {
		w.sorted[i].key = w.key[i];
		w.sorted[i].name = names[i];
		w.sorted[i].idx = (uint32_t)i;
	}
	qsort(w.sorted, n, sizeof(*w.sorted), named_cmp);
	rc = LS_EINVAL;
	for (size_t j = 0; j < n; j++) {
		if (j > 0 && named_cmp(&w.sorted[j], &w.sorted[j - 1]) == 0)
			goto fail; /* duplicate name */
		w.order[j] = w.sorted[j].idx;
	}

	if (prev == NULL) {
		rc = placement_alloc(ring, names, n, replicas, out);
		if (rc != LS_OK)
			goto fail;
		w.out = out;
		place_fresh(&w);
	} else {
		rc = placement_alloc(ring, names, n, replicas, &fresh);
		if (rc != LS_OK)
			goto fail;
		w.out = &fresh;
		place_fresh(&w);
		rc = placement_alloc(ring, names, n, replicas, out);
		if (rc != LS_OK)
			goto fail;
		w.out = out;
		rc = place_from(&w, prev, &fresh);
		if (rc != LS_OK)
			goto fail;
	}
	rc = LS_OK;
	goto done;
fail:
	ls_placement_fini(out);
done:
	ls_placement_fini(&fresh);
	free(w.order);
	free(w.key);
	free(w.start);
	free(w.sorted);
	free(w.excluded);
	return rc;
}

int
ls_ring_place(ls_ring *ring, const char *const *partitions, size_t n,
              uint32_t replicas, ls_placement *out)
{
	return place(ring, NULL, partitions, n, replicas, out);
}

int
ls_ring_rebalance(ls_ring *ring, const ls_placement *prev,
                  const char *const *partitions, size_t n, uint32_t replicas,
                  ls_placement *out)
{
	if (prev == NULL) {
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return LS_EINVAL;
	}
	return place(ring, prev, partitions, n, replicas, out);
}

long
ls_placement_find(const ls_placement *p, const char *name)
{
	if (p == NULL || name == NULL)
		return -1;
	for (size_t i = 0; i < p->n_partitions; i++) {
		if (strcmp(p->partitions[i], name) == 0)
			return (long)i;
	}
	return -1;
}

const char *
ls_placement_owner_id(const ls_placement *p, size_t i)
{
	if (p == NULL || i >= p->n_partitions)
		return NULL;
	return p->node_ids[p->owner[i]];
}

int
ls_placement_diff_of(const ls_placement *from, const ls_placement *to,
                     ls_placement_diff *out)
{
	named *byname;
	size_t fsb, tsb;

	if (from == NULL || to == NULL || out == NULL)
		return LS_EINVAL;
	memset(out, 0, sizeof(*out));
	byname = by_name(from->partitions, from->n_partitions);
	if (byname == NULL)
		return LS_ENOMEM;
	fsb = from->replicas ? from->replicas - 1 : 0;
	tsb = to->replicas ? to->replicas - 1 : 0;
	for (size_t p = 0; p < to->n_partitions; p++) {
		uint32_t f =
		    find_name(byname, from->n_partitions, to->partitions[p]);
		if (f == NONE) {
			out->added++;
			continue;
		}
		out->common++;
		if (strcmp(from->node_ids[from->owner[f]],
		           to->node_ids[to->owner[p]]) != 0)
			out->owners_moved++;
		for (size_t s = 0; s < tsb; s++) {
			const char *id = to->node_ids[to->standby[p * tsb + s]];
			int was = 0;
			for (size_t t = 0; t < fsb && !was; t++) {
				uint32_t fi =
				    from->standby[(size_t)f * fsb + t];
				was = strcmp(from->node_ids[fi], id) == 0;
			}
			if (!was)
				out->standbys_moved++;
		}
	}
	out->removed = from->n_partitions - out->common;
	free(byname);
	return LS_OK;
}

void
ls_placement_load_of(const ls_placement *p, ls_placement_load *out)
{
	uint64_t total_w = 0, held = 0;

	memset(out, 0, sizeof(*out));
	if (p == NULL || p->n_nodes == 0)
		return;
	out->within_bound = 1;
	out->min_owned = UINT32_MAX;
	for (size_t i = 0; i < p->n_nodes; i++)
		total_w += p->weights[i];
	for (size_t i = 0; i < p->n_nodes; i++) {
		uint32_t o = p->owned[i];
		if (o > out->max_owned)
			out->max_owned = o;
		if (o < out->min_owned)
			out->min_owned = o;
		if (p->held[i] > out->max_held)
			out->max_held = p->held[i];
		held += p->held[i];
		if (o > p->owner_cap[i])
			out->within_bound = 0;
		if (p->n_partitions > 0) {
			double share = (double)p->n_partitions * p->weights[i] /
			               (double)total_w;
			double ratio = o / share;
			if (ratio > out->max_ratio)
				out->max_ratio = ratio;
		}
	}
	out->avg_owned = (double)p->n_partitions / (double)p->n_nodes;
	out->avg_held = (double)held / (double)p->n_nodes;
}
