/*
 * plan.h -- the physical plan of a validated topology: one actor per
 * partition of every node (named "node/partition"), and the edges between
 * nodes along which events flow.
 *
 * Node indices are those of the topology (topological order).  The actors
 * of node v are consecutive: ls_plan_first_actor(p, v) + 0 .. partitions-1.
 * An event bound for node `to` goes to the partition ls_plan_route(to, ev),
 * the same on every process.  A plan borrows its topology, which must
 * outlive it; once built it is read-only and may be shared by threads.
 */
#ifndef LS_PLAN_H
#define LS_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime/event.h"
#include "topology/topology.h"

/* Room for "name/partition" with the longest node name. */
#define LS_PLAN_NAME_MAX 64
/* Most actors one plan may hold. */
#define LS_PLAN_MAX_ACTORS (1u << 20)

typedef struct ls_plan ls_plan;

/* One physical actor: partition `partition` of topology node `node`. */
typedef struct ls_plan_actor {
	char name[LS_PLAN_NAME_MAX]; /* "node/partition", e.g. "parse/1" */
	uint32_t node;
	uint32_t partition;
} ls_plan_actor;

/* Events flow from node `from` to node `to` (node indices).  dead_letter is
 * 1 for the edge from a stage to its dead_letter sink (it carries rejected
 * input only), else 0. */
typedef struct ls_plan_edge {
	uint32_t from, to;
	int dead_letter;
} ls_plan_edge;

/* Build the plan of t (borrowed; must outlive the plan).  Returns 0 and a
 * new plan in *out (free with ls_plan_free), or LS_ERANGE with a message
 * in diag (may be NULL) when it would exceed LS_PLAN_MAX_ACTORS, LS_ENOMEM,
 * LS_EINVAL for NULL arguments. */
int ls_plan_build(const ls_topology *t, ls_plan **out, ls_diag *diag);

/* Free a plan (not its topology); NULL is fine. */
void ls_plan_free(ls_plan *p);

/* The topology the plan was built from (borrowed). */
const ls_topology *ls_plan_topology(const ls_plan *p);

/* Number of actors, and actor i (0 <= i < count; borrowed).  Actors are
 * ordered by node (topological order), then partition. */
size_t ls_plan_actor_count(const ls_plan *p);
const ls_plan_actor *ls_plan_actor_at(const ls_plan *p, size_t i);

/* Index of the first actor of node `node`; its partition k is that + k. */
size_t ls_plan_first_actor(const ls_plan *p, uint32_t node);

/* Number of edges, and edge i (borrowed); ordered by (from, to). */
size_t ls_plan_edge_count(const ls_plan *p);
const ls_plan_edge *ls_plan_edge_at(const ls_plan *p, size_t i);

/* The edges leaving node (its consumers, dead-letter edge included): sets
 * *edges to a borrowed array and returns its length (may be 0). */
size_t ls_plan_outputs(const ls_plan *p, uint32_t node,
    const ls_plan_edge **edges);

/* The edges entering node (its producers), ordered by from. */
size_t ls_plan_inputs(const ls_plan *p, uint32_t node,
    const ls_plan_edge **edges);

/* Partition of node `to` that receives ev: 0 when `to` has one partition;
 * else XXH3 over the values of its key fields (ls_event_field; an absent
 * field counts as empty), each field's hash seeding the next, mod
 * partitions.  A keyless node with several partitions (a stateless stage)
 * is spread by ev->offset instead.  Pure; any thread; stable everywhere. */
uint32_t ls_plan_route(const ls_topo_node *to, const ls_event *ev);

/* The partition of `to` that holds the key with these values (those of its
 * key fields, in order; n == to->nkey): the one ls_plan_route gives an
 * event with these field values.  For interactive queries by key.  Pure;
 * any thread. */
uint32_t ls_plan_route_key(const ls_topo_node *to, const ls_str *values,
    size_t n);

/* Write a human-readable description of the plan (nodes, parameters with
 * defaults, routing, actors) to out: the output of `validate --plan`. */
void ls_plan_describe(const ls_plan *p, FILE *out);

/* Write "topology 'NAME': 1 source, 3 stages, 2 sinks, 9 actors" into buf.
 * Returns 0, or LS_ERANGE when buf was too small (output truncated). */
int ls_plan_summary(const ls_plan *p, char *buf, size_t len);

#endif /* LS_PLAN_H */
