/*
 * place.c -- placement of deployed topologies over the cluster map's live
 * nodes (see place.h): the plan's actors hashed onto the ring, from the
 * map's current assignments when there are some.
 */
#include "cluster/place.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ring.h"
#include "runtime/err.h"
#include "topology/plan.h"
#include "topology/topology.h"

/* The map's current placement of topology `name` as an ls_placement, for
 * ls_ring_rebalance() (partition names qualified "name/stage/partition").
 * LS_ENOENT when the map has none (a new deploy). */
static int
map_placement(const ls_map *map, const char *name, ls_placement *pv)
{
	size_t na = ls_map_assignment_count(map), cnt = 0;
	uint32_t rep = LS_MAP_MAX_STANDBYS + 1;
	ls_map_assignment a;

	memset(pv, 0, sizeof(*pv));
	for (size_t k = 0; k < na; k++)
		if (ls_map_assignment_at(map, k, &a) == 0 &&
		    strcmp(a.topology, name) == 0) {
			cnt++;
			if (a.n_standbys + 1 < rep)
				rep = a.n_standbys + 1;
		}
	if (cnt == 0)
		return LS_ENOENT;
	uint32_t sb = rep - 1;
	size_t maxn = cnt * rep;
	uint64_t *ids = calloc(maxn, sizeof(*ids));
	pv->partitions = calloc(cnt, sizeof(char *));
	pv->owner = calloc(cnt, sizeof(uint32_t));
	pv->standby = calloc(cnt * sb + 1, sizeof(uint32_t));
	pv->node_ids = calloc(maxn, sizeof(char *));
	pv->weights = calloc(maxn, sizeof(uint32_t));
	int rv = LS_ENOMEM;
	if (ids == NULL || pv->partitions == NULL || pv->owner == NULL ||
	    pv->standby == NULL || pv->node_ids == NULL || pv->weights == NULL)
		goto fail;
	size_t nids = 0, i = 0;
	for (size_t k = 0; k < na; k++) {
		if (ls_map_assignment_at(map, k, &a) != 0 ||
		    strcmp(a.topology, name) != 0)
			continue;
		uint64_t want[LS_MAP_MAX_STANDBYS + 1];
		want[0] = a.owner;
		for (uint32_t s = 0; s < sb; s++)
			want[s + 1] = a.standbys[s];
		for (uint32_t s = 0; s < rep; s++) {
			size_t j = 0;
			while (j < nids && ids[j] != want[s])
				j++;
			if (j == nids) {
				ls_map_node mn;
				rv = LS_ENOENT;
				if (ls_map_node_find(map, want[s], &mn) != 0)
					goto fail;
				rv = LS_ENOMEM;
				if ((pv->node_ids[j] = strdup(mn.name)) == NULL)
					goto fail;
				pv->weights[j] = 1;
				ids[nids++] = want[s];
				pv->n_nodes = nids;
			}
			if (s == 0)
				pv->owner[i] = (uint32_t)j;
			else
				pv->standby[i * sb + s - 1] = (uint32_t)j;
		}
		size_t l = strlen(name) + strlen(a.partition) + 2;
		if ((pv->partitions[i] = malloc(l)) == NULL)
			goto fail;
		snprintf(pv->partitions[i], l, "%s/%s", name, a.partition);
		pv->n_partitions = ++i;
	}
	pv->replicas = rep;
	free(ids);
	return 0;
fail:
	free(ids);
	ls_placement_fini(pv);
	return rv;
}

/* The plan actors of a deployed topology, as "stage/partition" names. */
static int
topology_partitions(const char *name, const char *yaml, char ***out,
    size_t *nout)
{
	ls_topology *t = NULL;
	ls_plan *p = NULL;
	int rv = ls_topology_parse(name, yaml, strlen(yaml), &t, NULL);
	if (rv == 0)
		rv = ls_plan_build(t, &p, NULL);
	if (rv != 0) {
		ls_topology_free(t);
		return rv;
	}
	size_t na = ls_plan_actor_count(p);
	char **v = calloc(na ? na : 1, sizeof(*v));
	rv = v != NULL ? 0 : LS_ENOMEM;
	for (size_t i = 0; rv == 0 && i < na; i++) {
		v[i] = strdup(ls_plan_actor_at(p, i)->name);
		if (v[i] == NULL)
			rv = LS_ENOMEM;
	}
	ls_plan_free(p);
	ls_topology_free(t);
	if (rv != 0) {
		for (size_t i = 0; v != NULL && i < na; i++)
			free(v[i]);
		free(v);
		return rv;
	}
	*out = v;
	*nout = na;
	return 0;
}

static void
free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
ls_place_topology(const ls_map *map, const char *name, const char *yaml,
    uint32_t replicas_max, uint8_t **cmd, size_t *cmdlen, ls_place_info *info)
{
	char **parts;

	*cmd = NULL;
	*cmdlen = 0;
	memset(info, 0, sizeof(*info));
	size_t np;
	int rv = topology_partitions(name, yaml, &parts, &np);
	if (rv != 0)
		return rv;

	ls_ring *ring;
	if ((rv = ls_ring_new(&ring)) != 0) {
		free_names(parts, np);
		return rv;
	}
	size_t nn = ls_map_node_count(map);
	uint64_t *ids = calloc(nn ? nn : 1, sizeof(*ids));
	char **names = calloc(nn ? nn : 1, sizeof(*names));
	size_t live = 0;
	for (size_t i = 0; ids != NULL && names != NULL && i < nn; i++) {
		ls_map_node mn;
		if (ls_map_node_at(map, i, &mn) != 0)
			continue;
		if (mn.state != LS_NODE_ALIVE && mn.state != LS_NODE_SUSPECT)
			continue;
		if (ls_ring_add_node(ring, mn.name, 1) != 0)
			continue;
		ids[live] = mn.id;
		names[live] = strdup(mn.name);
		live++;
	}
	ls_placement pl;
	memset(&pl, 0, sizeof(pl));
	ls_map_assignment *as = NULL;
	if (live == 0 || ids == NULL || names == NULL) {
		rv = live == 0 ? LS_ESTATE : LS_ENOMEM;
		goto out;
	}
	uint32_t replicas = replicas_max < live ? replicas_max : (uint32_t)live;
	/* hash partitions by topology-qualified names */
	char **qual = calloc(np ? np : 1, sizeof(*qual));
	if (qual == NULL) {
		rv = LS_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < np; i++) {
		size_t l = strlen(name) + strlen(parts[i]) + 2;
		if ((qual[i] = malloc(l)) != NULL)
			snprintf(qual[i], l, "%s/%s", name, parts[i]);
		else
			rv = LS_ENOMEM;
	}
	if (rv == 0) {
		/* move little: from the current placement when there is one
		 * (a join takes close to 1/N, a leave or failure moves only
		 * the departed node's partitions) */
		ls_placement prev;
		if (map_placement(map, name, &prev) == 0) {
			rv = ls_ring_rebalance(ring, &prev,
			    (const char *const *)qual, np, replicas, &pl);
			ls_placement_fini(&prev);
		} else {
			rv = ls_ring_place(ring, (const char *const *)qual, np,
			    replicas, &pl);
		}
	}
	free_names(qual, np);
	if (rv != 0)
		goto out;

	as = calloc(np ? np : 1, sizeof(*as));
	if (as == NULL) {
		rv = LS_ENOMEM;
		goto out;
	}
	int changed = 0;
	uint64_t epoch = ls_map_epoch(map) + 1;
	for (size_t i = 0; i < np; i++) {
		as[i].topology = name;
		as[i].partition = parts[i];
		as[i].epoch = epoch;
		const char *owner = pl.node_ids[pl.owner[i]];
		for (size_t k = 0; k < live; k++)
			if (strcmp(names[k], owner) == 0)
				as[i].owner = ids[k];
		as[i].n_standbys = pl.replicas - 1;
		for (uint32_t s = 0; s + 1 < pl.replicas; s++) {
			const char *sb = pl.node_ids[pl.standby[i * (pl.replicas - 1) + s]];
			for (size_t k = 0; k < live; k++)
				if (strcmp(names[k], sb) == 0)
					as[i].standbys[s] = ids[k];
		}
		ls_map_assignment cur;
		if (ls_map_assignment_find(map, name, parts[i], &cur) != 0 ||
		    cur.owner != as[i].owner ||
		    cur.n_standbys != as[i].n_standbys ||
		    memcmp(cur.standbys, as[i].standbys,
		        as[i].n_standbys * sizeof(uint64_t)) != 0) {
			changed = 1;
		} else {
			as[i].epoch = cur.epoch; /* unchanged: keep its epoch */
		}
	}
	info->partitions = np;
	info->nodes = live;
	info->replicas = pl.replicas;
	if (changed)
		rv = ls_map_cmd_assign(name, LS_MAP_ASSIGN_REPLACE, as, np, cmd,
		    cmdlen);
out:
	free(as);
	ls_placement_fini(&pl);
	for (size_t k = 0; k < live; k++)
		free(names[k]);
	free(names);
	free(ids);
	ls_ring_free(ring);
	free_names(parts, np);
	return rv;
}

void
ls_place_count(const ls_map *map, uint64_t id, size_t *owned, size_t *standby)
{
	size_t na = ls_map_assignment_count(map);
	*owned = *standby = 0;
	for (size_t k = 0; k < na; k++) {
		ls_map_assignment a;
		if (ls_map_assignment_at(map, k, &a) != 0)
			continue;
		if (a.owner == id)
			(*owned)++;
		for (unsigned s = 0; s < a.n_standbys; s++)
			if (a.standbys[s] == id)
				(*standby)++;
	}
}
