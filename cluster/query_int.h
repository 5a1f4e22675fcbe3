/*
 * query_int.h -- what the query routes of cluster/query.c lend to routes
 * built on them (cluster/search.c): finding a queryable stage in the
 * deployed topologies, asking one partition's owner (retries on a new
 * owner, 503 while it restores) and the cap on public queries in flight.
 * HTTP server threads only, like the routes themselves.
 */
#ifndef LS_CLUSTER_QUERY_INT_H
#define LS_CLUSTER_QUERY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/map.h"
#include "cluster/query.h"
#include "runtime/record.h"
#include "topology/topology.h"

struct ls_node;

/* A stage a request names: its topology (parsed, owned) and node. */
typedef struct ls_query_target {
	ls_topology *t;
	const ls_topo_node *node;
	char topology[LS_MAP_MAX_NAME + 1];
} ls_query_target;

/* Find stage, of kind `kind` with a query hook, in the topologies of map
 * (only p->topology when given).  0, or an HTTP status (400, 404) with the
 * reason in err.  Then ls__query_target_fini. */
int ls__query_find_target(const ls_map *map, const char *stage,
    const char *kind, const ls_query_params *p, ls_query_target *out,
    char *err, size_t errlen);
void ls__query_target_fini(ls_query_target *tg);

/* Ask partition part of tg, through its owner's internal endpoint (this
 * node's own partitions directly), with p (q= as the kind's query text)
 * until deadline_ns: 0 and the rows in *out (the caller unrefs), or an
 * HTTP status (502, 503, 500) with the reason in err. */
int ls__query_ask(struct ls_node *n, const ls_query_target *tg,
    uint32_t part, const ls_query_params *p, int64_t deadline_ns,
    ls_records **out, char *err, size_t errlen);

/* Take one of the node's places for public queries in flight: 1, or 0
 * when all are taken (answer 503).  ls__query_leave gives it back. */
int ls__query_enter(void);
void ls__query_leave(void);

/* Register GET /v1/search/ (cluster/search.c). */
int ls__search_routes(struct ls_node *n);

#endif /* LS_CLUSTER_QUERY_INT_H */
