/*
 * place.h -- the leader's placement of deployed topologies over the live
 * nodes of the cluster map (docs/cluster.md, "Placement").
 *
 * A topology's actors ("stage/partition", hashed as
 * "topology/stage/partition") go to the ALIVE and SUSPECT nodes, voters
 * and non-voters alike: the first placement with ls_ring_place, later ones
 * with ls_ring_rebalance from the map's current assignments, so little
 * moves.  The result is an ASSIGN command for the map when it differs from
 * the map's assignments; an unchanged assignment keeps its epoch.
 *
 * Pure functions of the map passed in: node.c proposes the commands.
 * Threads: any; nothing is shared.
 */
#ifndef LS_CLUSTER_PLACE_H
#define LS_CLUSTER_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/map.h"

/* What a placement covered, for the log. */
typedef struct ls_place_info {
	size_t partitions; /* the topology's actors */
	size_t nodes;      /* live nodes placed over */
	uint32_t replicas; /* owner + standbys per partition */
} ls_place_info;

/* Place topology name (its YAML text yaml) over the live nodes of map with
 * at most replicas_max copies of each partition (fewer when fewer nodes
 * live).  Sets *cmd to a new ASSIGN command (ls_map_cmd_assign, caller
 * frees) of *cmdlen bytes when the placement differs from the map's, else
 * to NULL; *info says what was placed.  Borrows map, name and yaml.  0,
 * LS_ESTATE when no node is live, LS_ENOMEM, or the topology's parse or
 * plan error. */
int ls_place_topology(const ls_map *map, const char *name, const char *yaml,
    uint32_t replicas_max, uint8_t **cmd, size_t *cmdlen, ls_place_info *info);

/* The number of partitions node id owns and of standby copies it holds,
 * over every topology of map. */
void ls_place_count(const ls_map *map, uint64_t id, size_t *owned,
    size_t *standby);

#endif /* LS_CLUSTER_PLACE_H */
