/*
 * acks.h -- the leader's table of checkpoint acknowledgements: which node
 * holds the state of which partition for which checkpoint of which run.
 *
 * A checkpoint of a topology is complete once the owner and every live
 * standby of each of its partitions has acknowledged it (cluster/node.c).
 * An acknowledgement is the key (topology, run epoch, partition, node,
 * checkpoint id) and a final flag: a final one says the partition has
 * ended with that checkpoint, so it counts for every later checkpoint of
 * the same run too.
 *
 * The table hashes every key, so adding and looking up is O(1) however
 * many acknowledgements wait (a leader keeps up to a bound, 200,000 in
 * node.c).  Repeated acknowledgements of one key are kept once.
 *
 * Threads: not synchronised; the caller serialises every call (node.c
 * holds its lock).
 */
#ifndef LS_CLUSTER_ACKS_H
#define LS_CLUSTER_ACKS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ls_acks ls_acks;

/* A new empty table that holds at most max acknowledgements (0: no
 * bound); *out is owned by the caller (ls_acks_free).  LS_ENOMEM. */
int ls_acks_new(size_t max, ls_acks **out);

/* Free the table and everything in it (NULL is fine). */
void ls_acks_free(ls_acks *a);

/* Record that node holds partition part of topology topo for checkpoint
 * ckpt of run epoch (final != 0: the partition ended with it).  Strings
 * are borrowed (copied).  A key already present stays once (a final flag
 * sticks).  0, LS_EINVAL for NULL strings, LS_EAGAIN when the table is at
 * its bound (nothing recorded: that checkpoint cannot complete, a later
 * one will), LS_ENOMEM. */
int ls_acks_add(ls_acks *a, const char *topo, uint64_t epoch,
    const char *part, uint64_t node, uint64_t ckpt, int final);

/* 1 when node has acknowledged part for ckpt of (topo, epoch), or a final
 * checkpoint at or before ckpt (the partition had ended); else 0.  When 1
 * and final is not NULL, *final says whether the partition had ended by
 * ckpt. */
int ls_acks_held(const ls_acks *a, const char *topo, uint64_t epoch,
    const char *part, uint64_t node, uint64_t ckpt, int *final);

/* The distinct checkpoint ids above `above` acknowledged for topo under an
 * epoch >= epoch by any node for any partition, highest first, into a new array
 * *out (caller frees; NULL when there are none) of *n ids.  0 or
 * LS_ENOMEM. */
int ls_acks_ckpts(const ls_acks *a, const char *topo, uint64_t epoch,
    uint64_t above, uint64_t **out, size_t *n);

/* What the caller knows of topology topo: returns 0 and sets the oldest
 * epoch whose acknowledgements still count (its run epoch, or the oldest
 * incarnation of its partitions) and its last completed checkpoint (0:
 * none) in *epoch and *done, or non-zero when the topology is gone. */
typedef int (*ls_acks_run_fn)(void *arg, const char *topo, uint64_t *epoch,
    uint64_t *done);

/* Forget what can no longer matter: every acknowledgement of a gone
 * topology or of an epoch older than *epoch of ls_acks_run_fn, and those of the
 * current run below its last completed checkpoint, except final ones
 * (they count for every later checkpoint of the run).  fn is called
 * once per topology in the table. */
void ls_acks_gc(ls_acks *a, ls_acks_run_fn fn, void *arg);

/* Forget every acknowledgement of topology topo. */
void ls_acks_drop_topology(ls_acks *a, const char *topo);

/* Number of acknowledgements held. */
size_t ls_acks_count(const ls_acks *a);

#endif /* LS_CLUSTER_ACKS_H */
