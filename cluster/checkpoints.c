/*
 * checkpoints.c -- checkpoint acknowledgements of a cluster node: a
 * follower keeps the acks of its data plane for its next heartbeat; the
 * leader collects every node's acks (cluster/acks.h) and records a
 * checkpoint in the map once the owner and every live standby of each
 * partition hold its state (docs/failure-semantics.md).
 *
 * Threads: the data plane's ack callback runs on its threads, the rest on
 * the ticker thread; all of it under n->lock where node_int.h says so.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/node_int.h"
#include "cluster/region.h"
#include "runtime/log.h"
#include "runtime/actor.h"


/* The leader's acknowledgements live in n->acks (cluster/acks.h), under
 * n->lock.  A full table or no memory drops an ack: that checkpoint will
 * not complete, a later one will. */

/* Room for need pending acks in n->acks_out (n->lock held); -1 when
 * over the bound or out of memory. */
int
ls__node_acks_reserve(ls_node *n, size_t need)
{
	if (need > MAX_PENDING_ACKS)
		return -1;
	if (need <= n->capacks_out)
		return 0;
	size_t nc = n->capacks_out ? n->capacks_out * 2 : 64;
	while (nc < need)
		nc *= 2;
	pending_ack *nb = realloc(n->acks_out, nc * sizeof(*nb));
	if (nb == NULL)
		return -1;
	n->acks_out = nb;
	n->capacks_out = nc;
	return 0;
}

/* Data plane callback: this node holds a partition's checkpoint state. */
void
ls__node_on_ack(void *arg, const char *topo, uint64_t epoch, uint64_t ckpt, int final,
    const char *part)
{
	ls_node *n = arg;
	pthread_mutex_lock(&n->lock);
	if (n->was_leader) {
		ls__node_ack_add(n, topo, epoch, part, n->raft_id, ckpt, final);
	} else if (ls__node_acks_reserve(n, n->nacks_out + 1) == 0) {
		size_t tl = strlen(topo), pl = strlen(part);
		char *str = malloc(tl + pl + 2);
		if (str != NULL) {
			memcpy(str, topo, tl + 1);
			memcpy(str + tl + 1, part, pl + 1);
			n->acks_out[n->nacks_out++] = (pending_ack){ str,
				str + tl + 1, epoch, ckpt, final != 0 };
		}
	}
	/* pass it on soon: a checkpoint completes only with every ack */
	n->urgent = 1;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

void
ls__node_ack_add(ls_node *n, const char *topo, uint64_t epoch,
    const char *part, uint64_t node, uint64_t ckpt, int final)
{
	/* regional restore: only in the partition's current incarnation;
	 * else (or not computed yet) kept under its run epoch */
	uint64_t inc = ls_region_cache_regional(n->incs, topo)
	    ? ls_region_cache_inc(n->incs, topo, part) : 0;
	if (inc != 0 && epoch != inc)
		return;
	(void)ls_acks_add(n->acks, topo, epoch, part, node, ckpt, final);
}

/* Has node acknowledged partition for ckpt (or ended at or before it) in
 * the partition's current incarnation? */
static int
acked(const ls_node *n, const char *topo, uint64_t run_epoch,
    const char *part, uint64_t node, uint64_t ckpt, int *final)
{
	uint64_t key = ls_region_cache_regional(n->incs, topo)
	    ? ls_region_cache_inc(n->incs, topo, part) : run_epoch;
	return key != 0 &&
	    ls_acks_held(n->acks, topo, key, part, node, ckpt, final);
}

/* Is checkpoint k of topo complete: every partition's state held by its
 * owner and by each of its live standbys? *all_final: every partition had
 * ended. */
static int
ckpt_complete(const ls_node *n, const ls_map *map, const char *topo,
    uint64_t k, int *all_final, const char **miss, uint64_t *miss_node)
{
	int any = 0;
	uint64_t re = ls_map_run_epoch(map, topo);
	*all_final = 1;
	for (size_t i = 0; i < ls_map_assignment_count(map); i++) {
		ls_map_assignment a;
		if (ls_map_assignment_at(map, i, &a) != 0 ||
		    strcmp(a.topology, topo) != 0)
			continue;
		any = 1;
		int fin = 0;
		if (!acked(n, topo, re, a.partition, a.owner, k, &fin)) {
			*miss = a.partition;
			*miss_node = a.owner;
			return 0;
		}
		if (!fin)
			*all_final = 0;
		for (unsigned s = 0; s < a.n_standbys; s++) {
			ls_map_node sn;
			if (ls_map_node_find(map, a.standbys[s], &sn) != 0 ||
			    sn.state != LS_NODE_ALIVE)
				continue;
			if (!acked(n, topo, re, a.partition, a.standbys[s], k,
			        NULL)) {
				*miss = a.partition;
				*miss_node = a.standbys[s];
				return 0;
			}
		}
	}
	return any;
}

typedef struct ack_gc {
	const ls_node *n;
	const ls_map *map;
} ack_gc;

/* ls_acks_gc() asks: topo's oldest current incarnation and last completed
 * checkpoint in the map, non-zero when it is no longer deployed. */
static int
ack_run(void *arg, const char *topo, uint64_t *epoch, uint64_t *done)
{
	const ack_gc *g = arg;
	if (ls_map_topology_checkpoint(g->map, topo, done, NULL) != 0)
		return -1;
	*epoch = ls_region_cache_regional(g->n->incs, topo)
	    ? ls_region_cache_min(g->n->incs, topo)
	    : ls_map_run_epoch(g->map, topo);
	return 0;
}

/* Leader: record completed checkpoints in the map, forget old acks. */
void
ls__node_complete_checkpoints(ls_node *n, const ls_map *map)
{
	pthread_mutex_lock(&n->lock);
	ls_region_cache_update(n->incs, map);
	pthread_mutex_unlock(&n->lock);
	for (size_t t = 0; t < ls_map_topology_count(map); t++) {
		const char *name;
		if (ls_map_topology_at(map, t, &name, NULL) != 0)
			continue;
		uint64_t epoch = ls_map_run_epoch(map, name), done = 0;
		ls_map_topology_checkpoint(map, name, &done, NULL);
		/* checkpoint ids of the lineage of the last completed one (a
		 * regional restore keeps it), or of the run before any */
		int regional = ls_region_cache_regional(n->incs, name);
		uint64_t lineage = regional && done != 0 ? done >> 32 : epoch;
		uint64_t best = 0, *ids = NULL;
		int best_final = 0;
		size_t nids = 0;
		pthread_mutex_lock(&n->lock);
		/* the highest acknowledged checkpoint that is complete */
		ls_acks_ckpts(n->acks, name,
		    regional ? ls_region_cache_min(n->incs, name) : epoch, done,
		    &ids, &nids);
		const char *miss = NULL;
		uint64_t miss_node = 0, miss_id = 0;
		for (size_t i = 0; i < nids && best == 0; i++) {
			int fin;
			const char *m = NULL;
			uint64_t mn = 0;
			if ((ids[i] >> 32) != lineage)
				continue;
			if (ckpt_complete(n, map, name, ids[i], &fin, &m, &mn)) {
				best = ids[i];
				best_final = fin;
			} else if (miss == NULL) {
				miss = m;
				miss_node = mn;
				miss_id = ids[i];
			}
		}
		/* stuck (no checkpoint for 5 s): say what the newest one waits
		 * for, every 5 s */
		uint64_t inc = miss == NULL ? 0
		    : regional ? ls_region_cache_inc(n->incs, name, miss)
		               : epoch;
		pthread_mutex_unlock(&n->lock);
		free(ids);
		int64_t now = ls_clock_ns();
		if (best != 0 || done != n->wait_ck || n->wait_since_ns == 0) {
			n->wait_ck = done;
			n->wait_since_ns = now;
		} else if (miss != NULL &&
		    now - n->wait_since_ns > INT64_C(5000000000)) {
			n->wait_since_ns = now;
			ls_log(LS_LOG_INFO, "node",
			    "checkpoint waiting for an acknowledgement "
			    "topology=%s ckpt=%llu partition=%s node=%llu "
			    "incarnation=%llu",
			    name, (unsigned long long)miss_id, miss,
			    (unsigned long long)miss_node,
			    (unsigned long long)inc);
		}
		if (best == 0)
			continue;
		uint8_t *cmd;
		size_t len;
		if (ls_map_cmd_checkpoint(name, best, best_final, &cmd, &len) ==
		    0 && ls__node_propose(n, cmd, len) == 0)
			ls_log(best_final ? LS_LOG_INFO : LS_LOG_DEBUG, "node",
			    "checkpoint complete topology=%s ckpt=%llu final=%d",
			    name, (unsigned long long)best, best_final);
	}
	/* forget acks that can no longer matter (final ones stay while their
	 * run lasts: they count for every later checkpoint) */
	pthread_mutex_lock(&n->lock);
	ack_gc g = { n, map };
	ls_acks_gc(n->acks, ack_run, &g);
	pthread_mutex_unlock(&n->lock);
}