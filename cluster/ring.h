/*
 * ring.h -- placement of topology partitions on cluster nodes by consistent
 * hashing with bounded loads.
 *
 * A ring holds the cluster's nodes (string ids with integer weights); each
 * node puts weight * LS_RING_VNODES virtual nodes on a 64-bit XXH3 ring.
 * ls_ring_place() maps a list of partition names ("stage/partition") to an
 * owner and up to R-1 standbys on distinct nodes, never giving a node more
 * owned partitions than ceil(1.25 * its weighted share).  ls_ring_rebalance()
 * does the same starting from an earlier placement and moves as little as
 * possible.  The module is pure: no I/O, no threads, no clock; the same
 * inputs give the same placement on every node, whatever the order in which
 * nodes were added.  docs/cluster.md ("Placement") describes the algorithm.
 * A ring is not thread-safe: one owner at a time.
 */
#ifndef LS_RING_H
#define LS_RING_H

#include <stddef.h>
#include <stdint.h>

/* Virtual nodes per unit of weight (the ring has weight * this per node). */
#define LS_RING_VNODES 128
/* Largest accepted node weight. */
#define LS_RING_MAX_WEIGHT 64
/* Longest accepted node id, in bytes (without the NUL). */
#define LS_RING_MAX_ID 255
/* Most nodes a ring accepts. */
#define LS_RING_MAX_NODES 4096
/* The load bound: a node owns at most ceil(LS_RING_LOAD_FACTOR * share). */
#define LS_RING_LOAD_FACTOR 1.25

typedef struct ls_ring ls_ring;

/*
 * The result of a placement; filled by ls_ring_place()/ls_ring_rebalance(),
 * owned by the caller, released with ls_placement_fini().  All fields are
 * read-only for the caller.  Node indices refer to node_ids[], which lists
 * the ring's nodes at placement time sorted by id (strcmp), so a placement
 * is self-contained and stays valid after the ring changes.
 */
typedef struct ls_placement {
	size_t n_partitions; /* partitions placed */
	size_t n_nodes;      /* nodes in node_ids[] */
	uint32_t replicas;   /* copies per partition: min(requested, n_nodes) */
	char **partitions;   /* copies of the partition names, input order */
	char **node_ids;     /* copies of the node ids, sorted */
	uint32_t *weights;   /* n_nodes weights */
	uint32_t *owner;     /* n_partitions owner indices */
	uint32_t *standby;   /* n_partitions * (replicas - 1) node indices;
	                        partition i's standbys start at
	                        i * (replicas - 1), in preference order */
	uint32_t *owned;     /* per node: partitions it owns */
	uint32_t *held;      /* per node: standby copies it holds */
	uint32_t *owner_cap; /* per node: the owner bound it respects */
	uint32_t *standby_cap; /* per node: the standby bound (best effort) */
} ls_placement;

/* Movement between two placements, matched by partition name. */
typedef struct ls_placement_diff {
	size_t common;         /* partitions present in both */
	size_t owners_moved;   /* common partitions whose owner id changed */
	size_t standbys_moved; /* standby slots in `to` whose node id was not a
	                          standby of that partition in `from` */
	size_t added;          /* partitions only in `to` */
	size_t removed;        /* partitions only in `from` */
} ls_placement_diff;

/* Load statistics of one placement. */
typedef struct ls_placement_load {
	uint32_t max_owned; /* most partitions owned by one node */
	uint32_t min_owned; /* fewest partitions owned by one node */
	double avg_owned;   /* n_partitions / n_nodes */
	double max_ratio;   /* max over nodes of owned / weighted share
	                       (<= 1.25 plus rounding, 1.0 = perfect) */
	uint32_t max_held;  /* most standby copies held by one node */
	double avg_held;    /* standby copies / n_nodes */
	int within_bound;   /* 1 iff every node owns <= its owner_cap */
} ls_placement_load;

/* A new empty ring in *out (caller owns it; free with ls_ring_free).
 * LS_EINVAL if out is NULL, LS_ENOMEM. */
int ls_ring_new(ls_ring **out);

/* Free a ring and everything it owns; NULL is a no-op. */
void ls_ring_free(ls_ring *ring);

/* Add node `id` (copied; 1..LS_RING_MAX_ID bytes) with weight
 * 1..LS_RING_MAX_WEIGHT.  LS_EINVAL, LS_EEXIST (id present), LS_ERANGE
 * (LS_RING_MAX_NODES reached), LS_ENOMEM; the ring is unchanged on error. */
int ls_ring_add_node(ls_ring *ring, const char *id, uint32_t weight);

/* Remove node `id` (borrowed).  LS_EINVAL, LS_ENOENT if absent. */
int ls_ring_remove_node(ls_ring *ring, const char *id);

/* Number of nodes in the ring. */
size_t ls_ring_node_count(const ls_ring *ring);

/* The i-th node id in sorted order (borrowed, valid until the node is
 * removed) and its weight in *weight if non-NULL; NULL if i is out of range. */
const char *ls_ring_node_id(const ls_ring *ring, size_t i, uint32_t *weight);

/* The ring's position of a partition name (borrowed): the XXH3 hash that
 * ls_ring_place() uses.  Pure, any thread. */
uint64_t ls_ring_key_hash(const char *partition);

/*
 * Place n distinct partitions (names borrowed, 1..LS_RING_MAX_ID bytes) with
 * `replicas` copies each (owner + replicas-1 standbys on distinct nodes;
 * capped by the node count) into *out, which the caller then owns.
 * Deterministic in (nodes, weights, partition set, replicas): neither node
 * insertion order nor the order of partitions[] change any assignment.
 * LS_EINVAL (bad args, replicas == 0, duplicate names), LS_ENOENT (empty
 * ring), LS_ERANGE (more than 2^24 partitions), LS_ENOMEM; *out is zeroed
 * on error.
 */
int ls_ring_place(ls_ring *ring, const char *const *partitions, size_t n,
                  uint32_t replicas, ls_placement *out);

/*
 * Like ls_ring_place(), but start from `prev` (borrowed; any earlier
 * placement, partitions matched by name) and move little: a partition keeps
 * its owner while that node is in the ring and under its bound; partitions
 * of departed nodes go first to a surviving standby; nodes absent from prev
 * (or whose weight grew) take the partitions a fresh placement gives them.
 * Removing nodes moves only their partitions (owners and standby copies).  The
 * owner bound holds as in ls_ring_place().  Same errors.
 */
int ls_ring_rebalance(ls_ring *ring, const ls_placement *prev,
                      const char *const *partitions, size_t n,
                      uint32_t replicas, ls_placement *out);

/* Release what a placement owns and zero it; a zeroed one is a no-op. */
void ls_placement_fini(ls_placement *p);

/* Index of the partition named `name` in p (borrowed), or -1. O(n). */
long ls_placement_find(const ls_placement *p, const char *name);

/* The node id owning partition i, or NULL if i is out of range. */
const char *ls_placement_owner_id(const ls_placement *p, size_t i);

/* Compare two placements (borrowed) by partition name and node id into
 * *out.  LS_EINVAL on NULL arguments, LS_ENOMEM. */
int ls_placement_diff_of(const ls_placement *from, const ls_placement *to,
                         ls_placement_diff *out);

/* Load statistics of p (borrowed) into *out; zeros for an empty placement. */
void ls_placement_load_of(const ls_placement *p, ls_placement_load *out);

#endif /* LS_RING_H */
