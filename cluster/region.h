/*
 * region.h -- which partitions of a topology a placement change restarts
 * (docs/failure-semantics.md, "Regional restore").
 *
 * Every assignment of the cluster map carries the epoch of its last
 * change.  A partition's incarnation is the largest of those epochs over
 * the partition itself and every partition upstream of it: a partition
 * restarts when its own placement changes and when anything it receives
 * from, directly or not, restarted (a restarted sender replays from its
 * checkpoint, so its consumers must go back there too).  The data plane
 * restarts the partitions whose incarnation grew; the leader counts an
 * acknowledgement only when it was sent in the partition's current
 * incarnation.  Nodes and leader compute it from the same map, so they
 * agree without a word on the wire.
 */
#ifndef LS_CLUSTER_REGION_H
#define LS_CLUSTER_REGION_H

#include <stdint.h>

#include "cluster/map.h"
#include "topology/plan.h"

/* The incarnation of every plan actor of topology `name` (planned as
 * plan) in map, into inc[ls_plan_actor_count(plan)].  0, or LS_ENOENT when
 * a partition has no assignment yet. */
int ls_region_inc(const ls_map *map, const char *name, const ls_plan *plan,
    uint64_t *inc);

/* The incarnations of every partition of every topology of a map, kept
 * up to date by the leader (the plans are rebuilt only when a topology's
 * text changes).  Not synchronised. */
typedef struct ls_region_cache ls_region_cache;

int ls_region_cache_new(ls_region_cache **out);
void ls_region_cache_free(ls_region_cache *c);

/* Recompute from map: every deployed topology with all its partitions
 * placed gets its incarnations; others are forgotten. */
void ls_region_cache_update(ls_region_cache *c, const ls_map *map);

/* Partition part of topology topo: its incarnation, 0 when unknown. */
uint64_t ls_region_cache_inc(const ls_region_cache *c, const char *topo,
    const char *part);

/* 1 when topo restores regionally (its regional_restore setting). */
int ls_region_cache_regional(const ls_region_cache *c, const char *topo);

/* The smallest incarnation of topo's partitions (acknowledgements of
 * older epochs are of no use), 0 when unknown. */
uint64_t ls_region_cache_min(const ls_region_cache *c, const char *topo);

#endif /* LS_CLUSTER_REGION_H */
