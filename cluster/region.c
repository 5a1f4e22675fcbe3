/*
 * region.c -- partition incarnations from the map (see region.h).
 */
#include "cluster/region.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/hash.h"
#include "topology/topology.h"

int
ls_region_inc(const ls_map *map, const char *name, const ls_plan *plan,
    uint64_t *inc)
{
	const ls_topology *t = ls_plan_topology(plan);
	size_t na = ls_plan_actor_count(plan), nn = ls_topology_count(t);
	uint64_t *node = calloc(nn ? nn : 1, sizeof(*node));
	if (node == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < na; i++) {
		const ls_plan_actor *pa = ls_plan_actor_at(plan, i);
		ls_map_assignment a;
		if (ls_map_assignment_find(map, name, pa->name, &a) != 0) {
			free(node);
			return LS_ENOENT;
		}
		/* a standby change does not restart the partition */
		inc[i] = a.owner_epoch;
		if (a.owner_epoch > node[pa->node])
			node[pa->node] = a.owner_epoch;
	}
	/* every partition of a node receives from every partition of its
	 * inputs: push the largest epoch down the graph (a DAG: at most nn
	 * rounds) */
	for (size_t round = 0; round < nn; round++) {
		int moved = 0;
		for (uint32_t v = 0; v < nn; v++) {
			const ls_plan_edge *in;
			size_t ni = ls_plan_inputs(plan, v, &in);
			for (size_t e = 0; e < ni; e++) {
				if (node[in[e].from] > node[v]) {
					node[v] = node[in[e].from];
					moved = 1;
				}
			}
		}
		if (!moved)
			break;
	}
	for (size_t i = 0; i < na; i++) {
		const ls_plan_actor *pa = ls_plan_actor_at(plan, i);
		const ls_plan_edge *in;
		size_t ni = ls_plan_inputs(plan, pa->node, &in);
		for (size_t e = 0; e < ni; e++)
			if (node[in[e].from] > inc[i])
				inc[i] = node[in[e].from];
	}
	free(node);
	return 0;
}

/* ---- the leader's cache ---- */

typedef struct ctopo {
	char name[LS_MAP_MAX_NAME + 1];
	uint64_t yaml_hash;
	ls_topology *topo;
	ls_plan *plan;
	uint64_t *inc;
	uint64_t min;
	int valid;
	int regional;
	int seen; /* in the last map */
} ctopo;

struct ls_region_cache {
	ctopo *t;
	size_t n;
};

int
ls_region_cache_new(ls_region_cache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : LS_ENOMEM;
}

static void
ctopo_fini(ctopo *t)
{
	ls_plan_free(t->plan);
	ls_topology_free(t->topo);
	free(t->inc);
	memset(t, 0, sizeof(*t));
}

void
ls_region_cache_free(ls_region_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		ctopo_fini(&c->t[i]);
	free(c->t);
	free(c);
}

static ctopo *
cfind(const ls_region_cache *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->t[i].name, name) == 0)
			return &c->t[i];
	return NULL;
}

void
ls_region_cache_update(ls_region_cache *c, const ls_map *map)
{
	for (size_t i = 0; i < c->n; i++)
		c->t[i].seen = 0;
	for (size_t k = 0; k < ls_map_topology_count(map); k++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, k, &name, &yaml) != 0 ||
		    strlen(name) > LS_MAP_MAX_NAME)
			continue;
		ctopo *t = cfind(c, name);
		if (t == NULL) {
			ctopo *nt = realloc(c->t, (c->n + 1) * sizeof(*nt));
			if (nt == NULL)
				continue;
			c->t = nt;
			t = &c->t[c->n++];
			memset(t, 0, sizeof(*t));
			memcpy(t->name, name, strlen(name) + 1);
		}
		t->seen = 1;
		uint64_t h = ls_hash64(yaml, strlen(yaml), 0);
		if (t->plan == NULL || t->yaml_hash != h) {
			ctopo_fini(t);
			memcpy(t->name, name, strlen(name) + 1);
			t->seen = 1;
			t->yaml_hash = h;
			if (ls_topology_parse(name, yaml, strlen(yaml), &t->topo,
			        NULL) != 0 ||
			    ls_plan_build(t->topo, &t->plan, NULL) != 0)
				continue;
			size_t na = ls_plan_actor_count(t->plan);
			t->inc = calloc(na ? na : 1, sizeof(*t->inc));
			t->regional = ls_topology_setting_bool(t->topo,
			    "regional_restore", 1);
		}
		t->valid = t->inc != NULL &&
		    ls_region_inc(map, name, t->plan, t->inc) == 0;
		t->min = 0;
		for (size_t i = 0; t->valid && i < ls_plan_actor_count(t->plan);
		     i++)
			if (t->min == 0 || t->inc[i] < t->min)
				t->min = t->inc[i];
	}
	for (size_t i = 0; i < c->n;) {
		if (c->t[i].seen) {
			i++;
			continue;
		}
		ctopo_fini(&c->t[i]);
		c->t[i] = c->t[--c->n];
	}
}

uint64_t
ls_region_cache_inc(const ls_region_cache *c, const char *topo,
    const char *part)
{
	const ctopo *t = cfind(c, topo);
	if (t == NULL || !t->valid)
		return 0;
	for (size_t i = 0; i < ls_plan_actor_count(t->plan); i++)
		if (strcmp(ls_plan_actor_at(t->plan, i)->name, part) == 0)
			return t->inc[i];
	return 0;
}

uint64_t
ls_region_cache_min(const ls_region_cache *c, const char *topo)
{
	const ctopo *t = cfind(c, topo);
	return t != NULL && t->valid ? t->min : 0;
}

int
ls_region_cache_regional(const ls_region_cache *c, const char *topo)
{
	const ctopo *t = cfind(c, topo);
	return t != NULL && t->valid && t->regional;
}
