/*
 * node.c -- a cluster node: coordinator, HTTP API, heartbeats, failure
 * detection and placement (see node.h).
 *
 * Leader duties run on the ticker thread and in HTTP handlers; both read
 * the map through ls_coord_map_snapshot() (a private copy) and change it
 * only by proposing commands, so the Raft log stays the one source of
 * truth and a new leader simply continues from the replicated map.  The
 * failure detector's clocks are leader-local: a new leader gives every
 * node a fresh grace period of dead_ms before judging it.
 */
#include "node.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/acks.h"
#include "cluster/coord.h"
#include "cluster/dataplane.h"
#include "cluster/detector.h"
#include "cluster/http.h"
#include "cluster/join.h"
#include "cluster/jsonbuf.h"
#include "cluster/map.h"
#include "cluster/ring.h"
#include "cluster/transport.h"
#include "runtime/actor.h"
#include "runtime/err.h"
#include "runtime/fs.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "schemas/codec.h"
#include "topology/plan.h"
#include "topology/topology.h"

#define MAX_ADDR 256

/* A node that asked to join (its hello reached this node), to be passed to
 * the leader by the ticker. */
typedef struct joinrec {
	ls_join_req r;
	int64_t last_ns; /* last time it was passed on */
	int pending;
} joinrec;

#define MAX_JOINS 64

#define MAX_ACKS 200000 /* the leader's bound on tracked acks */

/* A checkpoint acknowledgement a follower keeps for its next heartbeat. */
typedef struct pending_ack {
	char *topo;  /* one allocation: topology, NUL, partition, NUL */
	char *part;
	uint64_t epoch, ckpt;
	int final;
} pending_ack;

/* Follower: the bound on acks waiting for a heartbeat (more are dropped:
 * that checkpoint will not complete, a later one will), and the share of
 * them one heartbeat carries, in estimated bytes, so that a heartbeat stays
 * well below the leader's request body limit (LS_HTTP_MAX_BODY_DEFAULT). */
#define MAX_PENDING_ACKS 200000
#define HB_ACK_BYTES     (512u << 10)

struct ls_node {
	char name[LS_MAP_MAX_NAME + 1];
	char url[MAX_ADDR];
	char http_addr[MAX_ADDR];
	char raft_addr[MAX_ADDR];
	char data_dir[1024];
	uint64_t raft_id;
	uint64_t inc; /* this process: random, new at every start */
	int voter;
	int64_t heartbeat_ns, suspect_ns, dead_ns;
	uint32_t replicas;
	uint8_t hello[LS_JOIN_MAX]; /* join request in our hellos */
	size_t hello_len;

	ls_coord *coord;
	ls_http *http;
	ls_metrics *metrics;
	_Atomic int64_t *m_leader, *m_epoch, *m_alive, *m_hb_sent,
	    *m_hb_failed, *m_proposals;

	pthread_t ticker;
	int ticker_started;
	_Atomic int stop;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	ls_detector *det;     /* leader: when each node was last heard */
	int was_leader;
	int64_t leader_since_ns;
	uint64_t placed_epoch;
	uint64_t last_leader; /* the leader as last seen as a follower */
	int urgent;           /* acks to pass on: tick again soon */
	joinrec joins[MAX_JOINS];
	size_t njoins;
	/* Graceful leave (POST /v1/leave): the node asks to be marked LEFT,
	 * waits until its partitions run elsewhere and have a checkpoint
	 * there, then reports left (ls_node_left). */
	int leaving;
	int64_t leave_start_ns;
	int64_t members_checked_ns; /* leader: last raft membership check */
	_Atomic int left;

	ls_dataplane *dp;
	uint64_t dp_epoch;   /* map epoch last given to the data plane */
	/* A new incarnation (this process) must not join runs its previous
	 * incarnation took part in: it first has itself marked dead (every
	 * run gets a new epoch), and feeds its data plane only maps from
	 * after that (announce_epoch). */
	int announced;
	uint64_t announce_epoch;
	pending_ack *acks_out; /* follower: acks for the next heartbeat */
	size_t nacks_out, capacks_out;
	ls_acks *acks;       /* leader: acknowledgements collected */
};

/* ---- small helpers ---- */

static int
copy_str(char *dst, size_t cap, const char *src)
{
	if (src == NULL || strlen(src) >= cap)
		return LS_ERANGE;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int
ls_node_raft_address(const char *url, char *buf, size_t cap)
{
	const char *hp = url;
	if (strncmp(url, "tcp://", 6) == 0)
		hp = url + 6;
	else if (strstr(url, "://") != NULL)
		return LS_ENOTSUP;
	const char *colon = strrchr(hp, ':');
	if (colon == NULL || colon == hp)
		return LS_EINVAL;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port + 100 > 65535)
		return LS_ERANGE;
	int n = snprintf(buf, cap, "%.*s:%ld", (int)(colon - hp), hp,
	    port + 100);
	return n > 0 && (size_t)n < cap ? 0 : LS_ERANGE;
}

uint64_t
ls_node_raft_id(const char *raft_address)
{
	uint64_t h = ls_hash64(raft_address, strlen(raft_address), 0x6c73);
	return h != 0 ? h : 1;
}

/* ---- proposals ---- */

typedef struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int status;
} waiter;

static void
on_done(void *arg, int status)
{
	waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->status = status;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Propose cmd (freed here) and wait for it to apply; LS_ESTATE when this
 * node is not the leader. */
static int
propose_sync(ls_node *n, uint8_t *cmd, size_t len)
{
	waiter w;
	int rv;

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.done = 0;
	w.status = 0;
	rv = ls_coord_propose(n->coord, cmd, len, on_done, &w, NULL, 0);
	free(cmd);
	if (rv == 0) {
		struct timespec ts;
		ls_abstime_after(10000, &ts);
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			if (pthread_cond_timedwait(&w.cv, &w.mu, &ts) != 0)
				break;
		rv = w.done ? w.status : LS_ETIMEDOUT;
		pthread_mutex_unlock(&w.mu);
		/* On timeout the callback may still come: wait for it, the
		 * waiter lives on this stack. */
		if (rv == LS_ETIMEDOUT) {
			pthread_mutex_lock(&w.mu);
			while (!w.done)
				pthread_cond_wait(&w.cv, &w.mu);
			pthread_mutex_unlock(&w.mu);
		}
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	ls_metric_add(n->m_proposals, 1);
	return rv;
}

static int
propose_node(ls_node *n, const ls_map_node *mn)
{
	uint8_t *cmd;
	size_t len;
	int rv = ls_map_cmd_add_node(mn, &cmd, &len);
	return rv != 0 ? rv : propose_sync(n, cmd, len);
}

static int
propose_state(ls_node *n, uint64_t id, int state)
{
	uint8_t *cmd;
	size_t len;
	int rv = ls_map_cmd_set_node_state(id, state, &cmd, &len);
	return rv != 0 ? rv : propose_sync(n, cmd, len);
}

/* ---- placement (leader) ---- */

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

/* Place one topology over the live nodes of map and propose the result if
 * it differs from the map's current assignments. */
static int
place_topology(ls_node *n, const ls_map *map, const char *name,
    const char *yaml)
{
	char **parts;
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
	uint32_t replicas = n->replicas < live ? n->replicas : (uint32_t)live;
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
	if (changed) {
		uint8_t *cmd;
		size_t len;
		rv = ls_map_cmd_assign(name, LS_MAP_ASSIGN_REPLACE, as, np, &cmd,
		    &len);
		if (rv == 0)
			rv = propose_sync(n, cmd, len);
		if (rv == 0)
			ls_log(LS_LOG_INFO, "node",
			    "placed topology=%s partitions=%zu nodes=%zu "
			    "replicas=%u",
			    name, np, live, pl.replicas);
	}
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

static void
place_all(ls_node *n, const ls_map *map)
{
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, i, &name, &yaml) == 0)
			place_topology(n, map, name, yaml);
	}
}

/* ---- checkpoint acknowledgements ---- */

/* The acknowledgements live in cluster/acks.h, under n->lock.  A full
 * table or no memory drops the ack: that checkpoint will not complete, a
 * later one will. */
static void
ack_add_locked(ls_node *n, const char *topo, uint64_t epoch, uint64_t ckpt,
    int final, const char *part, uint64_t node)
{
	(void)ls_acks_add(n->acks, topo, epoch, part, node, ckpt, final);
}

/* Room for need pending acks in n->acks_out (n->lock held); -1 when
 * over the bound or out of memory. */
static int
acks_out_reserve(ls_node *n, size_t need)
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
static void
on_ack(void *arg, const char *topo, uint64_t epoch, uint64_t ckpt, int final,
    const char *part)
{
	ls_node *n = arg;
	pthread_mutex_lock(&n->lock);
	if (n->was_leader) {
		ack_add_locked(n, topo, epoch, ckpt, final, part, n->raft_id);
	} else if (acks_out_reserve(n, n->nacks_out + 1) == 0) {
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

/* Has node acknowledged partition for ckpt (or ended at or before it)? */
static int
acked(const ls_node *n, const char *topo, uint64_t epoch, const char *part,
    uint64_t node, uint64_t ckpt, int *final)
{
	return ls_acks_held(n->acks, topo, epoch, part, node, ckpt, final);
}

/* Is checkpoint k of topo complete: every partition's state held by its
 * owner and by each of its live standbys? *all_final: every partition had
 * ended. */
static int
ckpt_complete(const ls_node *n, const ls_map *map, const char *topo,
    uint64_t epoch, uint64_t k, int *all_final)
{
	int any = 0;
	*all_final = 1;
	for (size_t i = 0; i < ls_map_assignment_count(map); i++) {
		ls_map_assignment a;
		if (ls_map_assignment_at(map, i, &a) != 0 ||
		    strcmp(a.topology, topo) != 0)
			continue;
		any = 1;
		int fin = 0;
		if (!acked(n, topo, epoch, a.partition, a.owner, k, &fin))
			return 0;
		if (!fin)
			*all_final = 0;
		for (unsigned s = 0; s < a.n_standbys; s++) {
			ls_map_node sn;
			if (ls_map_node_find(map, a.standbys[s], &sn) != 0 ||
			    sn.state != LS_NODE_ALIVE)
				continue;
			if (!acked(n, topo, epoch, a.partition, a.standbys[s], k,
			        NULL))
				return 0;
		}
	}
	return any;
}

/* ls_acks_gc() asks: topo's run epoch and last completed checkpoint in
 * the map, non-zero when it is no longer deployed. */
static int
ack_run(void *arg, const char *topo, uint64_t *epoch, uint64_t *done)
{
	const ls_map *map = arg;
	if (ls_map_topology_checkpoint(map, topo, done, NULL) != 0)
		return -1;
	*epoch = ls_map_run_epoch(map, topo);
	return 0;
}

/* Leader: record completed checkpoints in the map, forget old acks. */
static void
complete_checkpoints(ls_node *n, const ls_map *map)
{
	for (size_t t = 0; t < ls_map_topology_count(map); t++) {
		const char *name;
		if (ls_map_topology_at(map, t, &name, NULL) != 0)
			continue;
		uint64_t epoch = ls_map_run_epoch(map, name), done = 0;
		ls_map_topology_checkpoint(map, name, &done, NULL);
		uint64_t best = 0, *ids = NULL;
		int best_final = 0;
		size_t nids = 0;
		pthread_mutex_lock(&n->lock);
		/* the highest acknowledged checkpoint of the run that is
		 * complete */
		ls_acks_ckpts(n->acks, name, epoch, done, &ids, &nids);
		for (size_t i = 0; i < nids && best == 0; i++) {
			int fin;
			if ((ids[i] >> 32) == epoch &&
			    ckpt_complete(n, map, name, epoch, ids[i], &fin)) {
				best = ids[i];
				best_final = fin;
			}
		}
		pthread_mutex_unlock(&n->lock);
		free(ids);
		if (best == 0)
			continue;
		uint8_t *cmd;
		size_t len;
		if (ls_map_cmd_checkpoint(name, best, best_final, &cmd, &len) ==
		    0 && propose_sync(n, cmd, len) == 0)
			ls_log(best_final ? LS_LOG_INFO : LS_LOG_DEBUG, "node",
			    "checkpoint complete topology=%s ckpt=%llu final=%d",
			    name, (unsigned long long)best, best_final);
	}
	/* forget acks that can no longer matter (final ones stay while their
	 * run lasts: they count for every later checkpoint) */
	pthread_mutex_lock(&n->lock);
	ls_acks_gc(n->acks, ack_run, (void *)map);
	pthread_mutex_unlock(&n->lock);
}

/* Content type of the binary (FlatBuffers) bodies of the internal API. */
#define WIRE_TYPE "application/octet-stream"

/* A heartbeat's sender fields within the map's limits? */
static int
hb_ok(const ls_heartbeat_wire *hb)
{
	return hb->id != 0 && hb->name.len > 0 &&
	    hb->name.len <= LS_MAP_MAX_NAME && hb->url.len <= LS_MAP_MAX_URL &&
	    hb->http.len <= LS_MAP_MAX_URL;
}

/* A follower's heartbeat being decoded (schemas/cluster.fbs). */
typedef struct hb_acks {
	ls_node *n;
	const ls_heartbeat_wire *hb; /* filled before the first ack */
	int any;
} hb_acks;

/* Heartbeat decoder callback: one ack of a follower.  The decoder checked
 * that the strings are C strings; checkpoint 0 means nothing.  Acks of a
 * heartbeat whose sender fields are bad are not taken (LS_EINVAL stops the
 * decoder). */
static int
hb_ack(void *arg, const ls_ckpt_ack_wire *a)
{
	hb_acks *h = arg;
	if (!hb_ok(h->hb))
		return LS_EINVAL;
	if (a->ckpt == 0)
		return 0;
	pthread_mutex_lock(&h->n->lock);
	ack_add_locked(h->n, a->topology.ptr, a->epoch, a->ckpt, a->final,
	    a->partition.ptr, h->hb->id);
	pthread_mutex_unlock(&h->n->lock);
	h->any = 1;
	return 0;
}

/* ---- failure detector (leader) ---- */

static void check_members(ls_node *n, const ls_map *map);

static void
self_entry(ls_node *n, ls_map_node *mn)
{
	mn->id = n->raft_id;
	mn->name = n->name;
	mn->url = n->url;
	mn->http = n->http_addr;
	mn->voter = n->voter != 0;
	mn->state = LS_NODE_ALIVE;
}

static void
leader_tick(ls_node *n)
{
	ls_map *map;
	int64_t now = ls_clock_ns();

	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return;
	pthread_mutex_lock(&n->lock);
	if (!n->was_leader) {
		/* new leadership: everyone gets a fresh grace period, the
		 * previous leader (silent long enough for an election) a short
		 * one, so that its partitions fail over about as fast as any
		 * other node's */
		ls_detector_lead(n->det, now, n->last_leader);
		n->was_leader = 1;
		n->leader_since_ns = now;
		n->placed_epoch = 0;
	}
	pthread_mutex_unlock(&n->lock);

	ls_map_node self;
	if (ls_map_node_find(map, n->raft_id, &self) != 0) {
		ls_map_node mn;
		self_entry(n, &mn);
		if (propose_node(n, &mn) == 0 && !n->announced) {
			n->announce_epoch = ls_coord_epoch(n->coord);
			n->announced = 1;
		}
	} else if (!n->announced) {
		/* restarted: fence the runs of the previous incarnation */
		if (self.state == LS_NODE_DEAD ||
		    propose_state(n, n->raft_id, LS_NODE_DEAD) == 0) {
			n->announce_epoch = ls_coord_epoch(n->coord);
			n->announced = 1;
		}
	} else if (n->leaving) {
		if (self.state != LS_NODE_LEFT) {
			ls_log(LS_LOG_INFO, "node", "node leaving node=%s",
			    n->name);
			propose_state(n, n->raft_id, LS_NODE_LEFT);
		}
	} else if (self.state != LS_NODE_ALIVE) {
		propose_state(n, n->raft_id, LS_NODE_ALIVE);
	}
	for (size_t i = 0; i < ls_map_node_count(map); i++) {
		ls_map_node mn;
		if (ls_map_node_at(map, i, &mn) != 0)
			continue;
		int64_t silent;
		pthread_mutex_lock(&n->lock);
		int verdict = ls_detector_judge(n->det, mn.id, mn.state, now,
		    &silent);
		pthread_mutex_unlock(&n->lock);
		if (verdict == LS_NODE_DEAD)
			ls_log(LS_LOG_WARN, "node",
			    "node failed node=%s silent_ms=%lld", mn.name,
			    (long long)(silent / 1000000));
		if (verdict != 0)
			propose_state(n, mn.id, verdict);
	}
	ls_map_free(map);

	/* placement follows every map change */
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return;
	if (ls_map_epoch(map) != n->placed_epoch) {
		place_all(n, map);
		ls_map_free(map);
		if (ls_coord_map_snapshot(n->coord, &map) != 0)
			return;
		n->placed_epoch = ls_map_epoch(map);
	}
	complete_checkpoints(n, map);
	if (now - n->members_checked_ns > 1000000000) {
		n->members_checked_ns = now;
		check_members(n, map);
	}
	ls_map_free(map);
}

/* The leader's HTTP address from the map, or -1. */
static int
leader_http(ls_node *n, char *buf, size_t cap)
{
	uint64_t lid;
	char addr[MAX_ADDR];
	ls_map *map;
	ls_map_node mn;
	int rv = -1;

	if (ls_coord_leader(n->coord, &lid, addr, sizeof(addr)) != 0 ||
	    lid == 0)
		return -1;
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return -1;
	if (ls_map_node_find(map, lid, &mn) == 0 && mn.http != NULL &&
	    copy_str(buf, cap, mn.http) == 0)
		rv = 0;
	ls_map_free(map);
	return rv;
}

static void
follower_tick(ls_node *n)
{
	char lh[MAX_ADDR];
	pthread_mutex_lock(&n->lock);
	n->was_leader = 0;
	pthread_mutex_unlock(&n->lock);
	uint64_t lid = 0;
	if (ls_coord_leader(n->coord, &lid, NULL, 0) == 0 && lid != 0)
		n->last_leader = lid;
	if (leader_http(n, lh, sizeof(lh)) != 0)
		return;
	int restarted = !n->announced;
	/* The oldest pending acks, as many as one heartbeat carries; the rest
	 * wait for the next tick. */
	pthread_mutex_lock(&n->lock);
	size_t na = 0, bytes = 0;
	while (na < n->nacks_out && bytes < HB_ACK_BYTES) {
		bytes += strlen(n->acks_out[na].topo) +
		    strlen(n->acks_out[na].part) + 64;
		na++;
	}
	pending_ack *taken = na > 0 ? malloc(na * sizeof(*taken)) : NULL;
	ls_ckpt_ack_wire *wacks = na > 0 ? malloc(na * sizeof(*wacks)) : NULL;
	if (na > 0 && (taken == NULL || wacks == NULL))
		na = 0; /* out of memory: a heartbeat without acks */
	if (na > 0) {
		memcpy(taken, n->acks_out, na * sizeof(*taken));
		n->nacks_out -= na;
		memmove(n->acks_out, n->acks_out + na,
		    n->nacks_out * sizeof(*taken));
		if (n->nacks_out > 0)
			n->urgent = 1;
	}
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < na; i++)
		wacks[i] = (ls_ckpt_ack_wire){
			ls_str_make(taken[i].topo, (uint32_t)strlen(taken[i].topo)),
			ls_str_make(taken[i].part, (uint32_t)strlen(taken[i].part)),
			taken[i].epoch, taken[i].ckpt, (uint8_t)taken[i].final };
	ls_heartbeat_wire hb = {
		.id = n->raft_id,
		.inc = n->inc,
		.name = ls_str_make(n->name, (uint32_t)strlen(n->name)),
		.url = ls_str_make(n->url, (uint32_t)strlen(n->url)),
		.http = ls_str_make(n->http_addr, (uint32_t)strlen(n->http_addr)),
		.voter = n->voter != 0,
		.restarted = restarted != 0,
		.leaving = n->leaving != 0,
		.acks = wacks,
		.nacks = na,
	};
	ls_buf body = { NULL, 0 };
	int status = 0;
	char *resp = NULL;
	size_t rlen = 0;
	int rv = ls_codec_heartbeat_encode(&hb, &body);
	free(wacks);
	if (rv == 0)
		rv = ls_http_request(lh, "POST", "/v1/internal/heartbeat",
		    body.data, body.len, &status, &resp, &rlen, 1000);
	else
		ls_log(LS_LOG_WARN, "node", "cannot encode heartbeat: %s",
		    ls_strerror(rv));
	ls_buf_free(&body);
	if ((rv != 0 || status != 200) && na > 0) {
		/* not delivered: the acks go with the next heartbeat (to
		 * this leader or the next), before the newer ones */
		pthread_mutex_lock(&n->lock);
		if (acks_out_reserve(n, n->nacks_out + na) == 0) {
			memmove(n->acks_out + na, n->acks_out,
			    n->nacks_out * sizeof(*taken));
			memcpy(n->acks_out, taken, na * sizeof(*taken));
			n->nacks_out += na;
			na = 0;
		}
		pthread_mutex_unlock(&n->lock);
	}
	for (size_t i = 0; i < na; i++)
		free(taken[i].topo);
	free(taken);
	if (rv == 0 && status == 200 && restarted) {
		uint64_t epoch;
		if (ls_codec_map_epoch_decode(resp, rlen, &epoch) == 0) {
			n->announce_epoch = epoch;
			n->announced = 1;
		} else {
			ls_log(LS_LOG_WARN, "node",
			    "unparsable answer to a heartbeat dropped "
			    "bytes=%zu", rlen);
		}
	}
	free(resp);
	ls_metric_add(rv == 0 && status == 200 ? n->m_hb_sent : n->m_hb_failed,
	    1);
}

/* ---- joining and leaving ---- */

static void count_parts(const ls_map *map, uint64_t id, size_t *owned,
    size_t *standby);

/* The slot for node id in the join table (n->lock held); a new one, or the
 * oldest idle one when full, or NULL. */
static joinrec *
join_slot(ls_node *n, uint64_t id)
{
	joinrec *old = NULL;
	for (size_t i = 0; i < n->njoins; i++) {
		if (n->joins[i].r.id == id)
			return &n->joins[i];
		if (!n->joins[i].pending &&
		    (old == NULL || n->joins[i].last_ns < old->last_ns))
			old = &n->joins[i];
	}
	if (n->njoins < MAX_JOINS)
		old = &n->joins[n->njoins++];
	if (old != NULL) {
		memset(old, 0, sizeof(*old));
		old->r.id = id;
	}
	return old;
}

#define JOIN_RETRY_NS 250000000 /* pass a join on at most this often */

/* Transport: a hello from a node this node does not know.  Joining nodes
 * say who they are in it; they are passed to the leader by the ticker. */
static void
on_unknown(void *arg, uint64_t from, const uint8_t *info, size_t len)
{
	ls_node *n = arg;
	ls_join_req jr;
	if (len == 0)
		return; /* not a joining node */
	if (ls_join_parse(info, len, &jr) != 0 || jr.id != from) {
		/* every frame of that node brings it again: once a second */
		static _Atomic int64_t last_ns;
		int64_t now = ls_clock_ns(), prev = atomic_load(&last_ns);
		if (now - prev >= 1000000000 &&
		    atomic_compare_exchange_strong(&last_ns, &prev, now))
			ls_log(LS_LOG_WARN, "node",
			    "unparsable join request dropped from=%llu bytes=%zu",
			    (unsigned long long)from, len);
		return;
	}
	pthread_mutex_lock(&n->lock);
	joinrec *slot = join_slot(n, jr.id);
	if (slot != NULL && !slot->pending) {
		slot->r = jr;
		slot->pending = 1;
		n->urgent = 1;
		pthread_cond_broadcast(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
}

/* Coordinator: the map changed; the data plane should hear soon. */
static void
on_map_change(void *arg, uint64_t epoch)
{
	ls_node *n = arg;
	(void)epoch;
	pthread_mutex_lock(&n->lock);
	n->urgent = 1;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

/* Leader: admit a joining node -- first as a Raft standby (it receives the
 * map), then into the map as a non-voter, which places partitions on it. */
static int
join_local(ls_node *n, const ls_join_req *jr)
{
	ls_map *map;
	ls_map_node mn;
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return LS_EAGAIN;
	int known = ls_map_node_find(map, jr->id, &mn) == 0;
	int voter = known && mn.voter;
	ls_map_free(map);
	if (voter)
		return 0; /* voters are members from their bootstrap */
	int rv = ls_coord_add_member(n->coord, jr->id, jr->raft, 0, NULL, NULL,
	    NULL, 0);
	if (rv != 0 && rv != LS_EEXIST)
		return rv;
	int64_t now = ls_clock_ns();
	pthread_mutex_lock(&n->lock);
	ls_detector_admitted(n->det, jr->id, jr->inc, now);
	joinrec *slot = join_slot(n, jr->id);
	if (slot != NULL && !slot->pending)
		slot->r = *jr;
	pthread_mutex_unlock(&n->lock);
	if (known)
		return 0;
	ls_map_node add = { jr->id, jr->name, jr->url, jr->http, false,
		LS_NODE_ALIVE };
	ls_log(LS_LOG_INFO, "node", "node joined node=%s url=%s voter=no",
	    jr->name, jr->url);
	return propose_node(n, &add);
}

/* Ticker: pass pending join requests to the leader (or admit them). */
static void
joins_tick(ls_node *n, int leader)
{
	ls_join_req todo[MAX_JOINS];
	size_t nt = 0;
	int64_t now = ls_clock_ns();

	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->njoins; i++) {
		joinrec *jr = &n->joins[i];
		if (jr->pending && now - jr->last_ns >= JOIN_RETRY_NS) {
			todo[nt++] = jr->r;
			jr->pending = 0;
			jr->last_ns = now;
		}
	}
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < nt; i++) {
		if (leader) {
			int rv = join_local(n, &todo[i]);
			if (rv != 0 && rv != LS_EBUSY)
				ls_log(LS_LOG_WARN, "node",
				    "cannot admit node=%s: %s", todo[i].name,
				    ls_strerror(rv));
			continue;
		}
		char lh[MAX_ADDR];
		uint8_t body[LS_JOIN_MAX];
		int len = ls_join_encode(&todo[i], body, sizeof(body));
		if (len < 0 || leader_http(n, lh, sizeof(lh)) != 0)
			continue;
		int status = 0;
		char *resp = NULL;
		size_t rlen = 0;
		ls_http_request(lh, "POST", "/v1/internal/join", body,
		    (size_t)len, &status, &resp, &rlen, 1000);
		free(resp);
	}
}

/* Leader: every non-voter of the map must be a Raft standby (an admission
 * whose membership change failed is repaired here). */
static void
check_members(ls_node *n, const ls_map *map)
{
	ls_coord_member mem[256];
	size_t nm = ls_coord_members(n->coord, mem, 256);
	if (nm == 0 || nm > 256)
		return;
	for (size_t i = 0; i < ls_map_node_count(map); i++) {
		ls_map_node mn;
		if (ls_map_node_at(map, i, &mn) != 0 || mn.voter)
			continue;
		size_t k = 0;
		while (k < nm && mem[k].id != mn.id)
			k++;
		if (k < nm && mem[k].role == LS_COORD_STANDBY)
			continue;
		char raft[MAX_ADDR] = "";
		pthread_mutex_lock(&n->lock);
		for (size_t j = 0; j < n->njoins; j++)
			if (n->joins[j].r.id == mn.id)
				copy_str(raft, sizeof(raft), n->joins[j].r.raft);
		pthread_mutex_unlock(&n->lock);
		if (raft[0] == '\0' &&
		    ls_node_raft_address(mn.url, raft, sizeof(raft)) != 0)
			continue;
		if (ls_node_raft_id(raft) != mn.id)
			continue;
		int rv = ls_coord_add_member(n->coord, mn.id, raft, 0, NULL,
		    NULL, NULL, 0);
		if (rv == 0)
			ls_log(LS_LOG_INFO, "node",
			    "adding node=%s to the coordinator as standby",
			    mn.name);
		return; /* one change at a time */
	}
}

#define LEAVE_TIMEOUT_NS (60 * 1000000000LL)

/* Ticker: a leaving node is done once the map has it LEFT, it holds no
 * partition or standby, and every topology has completed a checkpoint of
 * the run without it (or finished) -- its state lives on elsewhere. */
static void
leave_tick(ls_node *n)
{
	if (!n->leaving || atomic_load(&n->left))
		return;
	ls_map *map;
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return;
	ls_map_node self;
	size_t owned = 0, standby = 0;
	int done = ls_map_node_find(map, n->raft_id, &self) == 0 &&
	    self.state == LS_NODE_LEFT;
	if (done) {
		count_parts(map, n->raft_id, &owned, &standby);
		done = owned == 0 && standby == 0;
	}
	for (size_t i = 0; done && i < ls_map_topology_count(map); i++) {
		const char *name;
		uint64_t ck = 0;
		int fin = 0;
		if (ls_map_topology_at(map, i, &name, NULL) != 0)
			continue;
		ls_map_topology_checkpoint(map, name, &ck, &fin);
		uint64_t re = ls_map_run_epoch(map, name);
		if (!fin && re != 0 && (ck >> 32) != re)
			done = 0;
	}
	ls_map_free(map);
	int64_t waited = ls_clock_ns() - n->leave_start_ns;
	if (done) {
		ls_log(LS_LOG_INFO, "node",
		    "left the cluster node=%s handoff_ms=%lld", n->name,
		    (long long)(waited / 1000000));
		atomic_store(&n->left, 1);
	} else if (waited > LEAVE_TIMEOUT_NS) {
		ls_log(LS_LOG_WARN, "node",
		    "leaving without a confirmed handoff node=%s waited_ms=%lld",
		    n->name, (long long)(waited / 1000000));
		atomic_store(&n->left, 1);
	}
}

int
ls_node_left(ls_node *n)
{
	return atomic_load(&n->left);
}

static void *
ticker_main(void *arg)
{
	ls_node *n = arg;
	while (!atomic_load(&n->stop)) {
		int leader = ls_coord_is_leader(n->coord);
		ls_metric_set(n->m_leader, leader);
		ls_metric_set(n->m_epoch, (int64_t)ls_coord_epoch(n->coord));
		uint64_t me = ls_coord_epoch(n->coord);
		if (n->dp != NULL && me != n->dp_epoch && n->announced &&
		    me >= n->announce_epoch) {
			ls_map *map;
			if (ls_coord_map_snapshot(n->coord, &map) == 0) {
				ls_dataplane_update(n->dp, map);
				n->dp_epoch = ls_map_epoch(map);
				ls_map_free(map);
			}
		}
		if (leader)
			leader_tick(n);
		else
			follower_tick(n);
		joins_tick(n, leader);
		leave_tick(n);
		struct timespec ts;
		ls_abstime_after(n->heartbeat_ns / 1000000, &ts);
		pthread_mutex_lock(&n->lock);
		while (!atomic_load(&n->stop) && !n->urgent)
			if (pthread_cond_timedwait(&n->cond, &n->lock, &ts) != 0)
				break;
		int urgent = n->urgent;
		n->urgent = 0;
		pthread_mutex_unlock(&n->lock);
		if (urgent) {
			/* let a burst of acks or map changes gather */
			struct timespec d = { 0, 5000000 };
			nanosleep(&d, NULL);
		}
	}
	return NULL;
}

/* ---- HTTP handlers ---- */

/* Answer with b's content (freed here) as type, or 500 when building it
 * ran out of memory. */
static int
reply_buf(ls_http_resp *resp, int status, const char *type, ls_jsonbuf *b)
{
	if (b->oom) {
		ls_jsonbuf_fini(b);
		return ls_http_resp_error(resp, 500, "out of memory");
	}
	ls_http_resp_status(resp, status);
	int rv = ls_http_resp_body(resp, type, b->p, b->len);
	ls_jsonbuf_fini(b);
	return rv;
}

static int
reply_json(ls_http_resp *resp, int status, ls_jsonbuf *b)
{
	return reply_buf(resp, status, "application/json", b);
}

/* Partitions owned and standby copies held by node id. */
static void
count_parts(const ls_map *map, uint64_t id, size_t *owned, size_t *standby)
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

/* The human-readable status (logstream status without --json). */
static void
status_text(ls_node *n, const ls_map *map, const char *leader, ls_jsonbuf *b)
{
	ls_jsonbuf_printf(b, "node %s  leader %s  epoch %llu\n\n", n->name,
	    leader[0] ? leader : "(none)",
	    (unsigned long long)ls_map_epoch(map));
	ls_jsonbuf_printf(b, "%-12s %-8s %-6s %10s %9s  %-22s %s\n", "NODE", "STATE",
	    "VOTER", "PARTITIONS", "STANDBYS", "HTTP", "URL");
	for (size_t i = 0; i < ls_map_node_count(map); i++) {
		ls_map_node mn;
		size_t owned, standby;
		if (ls_map_node_at(map, i, &mn) != 0)
			continue;
		count_parts(map, mn.id, &owned, &standby);
		ls_jsonbuf_printf(b, "%-12s %-8s %-6s %10zu %9zu  %-22s %s%s\n", mn.name,
		    ls_map_node_state_name(mn.state), mn.voter ? "yes" : "no",
		    owned, standby, mn.http, mn.url,
		    strcmp(mn.name, leader) == 0 ? "  (leader)" : "");
	}
	ls_jsonbuf_printf(b, "\ntopologies:");
	if (ls_map_topology_count(map) == 0)
		ls_jsonbuf_printf(b, " none");
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, i, &name, &yaml) == 0)
			ls_jsonbuf_printf(b, " %s", name);
	}
	ls_jsonbuf_printf(b, "\n");
}

/* The value of key in an undecoded query string, into out. */
static int
query_get(const char *q, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = q; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&');
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = len - kl - 1;
			if (vl >= cap)
				return -1;
			memcpy(out, p + kl + 1, vl);
			out[vl] = '\0';
			return 0;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return -1;
}

static int
h_status(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	ls_map *map;
	uint64_t lid = 0;
	char laddr[MAX_ADDR] = "";
	ls_jsonbuf b = { 0 };
	(void)req;

	ls_coord_leader(n->coord, &lid, laddr, sizeof(laddr));
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return ls_http_resp_error(resp, 503, "map not available");
	ls_map_node lnode;
	const char *lname = ls_map_node_find(map, lid, &lnode) == 0
	    ? lnode.name : "";
	char fmt[16];
	if (req->query != NULL &&
	    query_get(req->query, "format", fmt, sizeof(fmt)) == 0 &&
	    strcmp(fmt, "text") == 0) {
		status_text(n, map, lname, &b);
		ls_map_free(map);
		return reply_buf(resp, 200, "text/plain", &b);
	}
	ls_jsonbuf_printf(&b, "{\"node\":");
	ls_jsonbuf_str(&b, n->name);
	ls_jsonbuf_printf(&b, ",\"id\":\"%llu\",\"is_leader\":%s,\"leader\":",
	    (unsigned long long)n->raft_id,
	    ls_coord_is_leader(n->coord) ? "true" : "false");
	ls_jsonbuf_str(&b, lname);
	ls_jsonbuf_printf(&b, ",\"leader_id\":\"%llu\",\"leader_raft\":",
	    (unsigned long long)lid);
	ls_jsonbuf_str(&b, laddr);
	pthread_mutex_lock(&n->lock);
	int leaving = n->leaving;
	pthread_mutex_unlock(&n->lock);
	ls_jsonbuf_printf(&b, ",\"voter\":%s,\"leaving\":%s,\"left\":%s",
	    n->voter ? "true" : "false", leaving ? "true" : "false",
	    atomic_load(&n->left) ? "true" : "false");
	ls_jsonbuf_printf(&b, ",\"epoch\":%llu,\"nodes\":[",
	    (unsigned long long)ls_map_epoch(map));
	size_t nn = ls_map_node_count(map);
	size_t na = ls_map_assignment_count(map);
	for (size_t i = 0; i < nn; i++) {
		ls_map_node mn;
		if (ls_map_node_at(map, i, &mn) != 0)
			continue;
		size_t owned, standby;
		count_parts(map, mn.id, &owned, &standby);
		ls_jsonbuf_printf(&b, "%s{\"name\":", i ? "," : "");
		ls_jsonbuf_str(&b, mn.name);
		ls_jsonbuf_printf(&b, ",\"id\":\"%llu\",\"url\":",
		    (unsigned long long)mn.id);
		ls_jsonbuf_str(&b, mn.url);
		ls_jsonbuf_printf(&b, ",\"http\":");
		ls_jsonbuf_str(&b, mn.http);
		ls_jsonbuf_printf(&b,
		    ",\"voter\":%s,\"state\":\"%s\",\"partitions\":%zu,"
		    "\"standbys\":%zu}",
		    mn.voter ? "true" : "false",
		    ls_map_node_state_name(mn.state), owned, standby);
	}
	ls_jsonbuf_printf(&b, "],\"topologies\":[");
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, i, &name, &yaml) == 0) {
			ls_jsonbuf_printf(&b, "%s", i ? "," : "");
			ls_jsonbuf_str(&b, name);
		}
	}
	ls_jsonbuf_printf(&b, "],\"runs\":[");
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name;
		uint64_t ck = 0;
		int fin = 0;
		if (ls_map_topology_at(map, i, &name, NULL) != 0)
			continue;
		ls_map_topology_checkpoint(map, name, &ck, &fin);
		ls_jsonbuf_printf(&b, "%s{\"topology\":", i ? "," : "");
		ls_jsonbuf_str(&b, name);
		ls_jsonbuf_printf(&b,
		    ",\"run_epoch\":%llu,\"checkpoint\":%llu,"
		    "\"finished\":%s}",
		    (unsigned long long)ls_map_run_epoch(map, name),
		    (unsigned long long)ck, fin ? "true" : "false");
	}
	ls_jsonbuf_printf(&b, "],\"local_runs\":[");
	ls_dataplane_run_info ri[64];
	size_t nr = n->dp != NULL ? ls_dataplane_runs(n->dp, ri, 64) : 0;
	for (size_t i = 0; i < nr && i < 64; i++) {
		ls_jsonbuf_printf(&b, "%s{\"topology\":", i ? "," : "");
		ls_jsonbuf_str(&b, ri[i].topology);
		ls_jsonbuf_printf(&b,
		    ",\"run_epoch\":%llu,\"restored_from\":%llu,"
		    "\"started_ms\":%lld,\"local_actors\":%u,"
		    "\"finished\":%s}",
		    (unsigned long long)ri[i].run_epoch,
		    (unsigned long long)ri[i].restored_from,
		    (long long)ri[i].started_ms, ri[i].local_actors,
		    ri[i].finished ? "true" : "false");
	}
	ls_jsonbuf_printf(&b, "],\"assignments\":[");
	for (size_t k = 0; k < na; k++) {
		ls_map_assignment a;
		ls_map_node on;
		if (ls_map_assignment_at(map, k, &a) != 0)
			continue;
		ls_jsonbuf_printf(&b, "%s{\"topology\":", k ? "," : "");
		ls_jsonbuf_str(&b, a.topology);
		ls_jsonbuf_printf(&b, ",\"partition\":");
		ls_jsonbuf_str(&b, a.partition);
		ls_jsonbuf_printf(&b, ",\"owner\":");
		ls_jsonbuf_str(&b, ls_map_node_find(map, a.owner, &on) == 0
		        ? on.name : "");
		ls_jsonbuf_printf(&b, ",\"epoch\":%llu,\"standbys\":[",
		    (unsigned long long)a.epoch);
		for (unsigned s = 0; s < a.n_standbys; s++) {
			ls_jsonbuf_printf(&b, "%s", s ? "," : "");
			ls_jsonbuf_str(&b, ls_map_node_find(map, a.standbys[s],
			                    &on) == 0
			        ? on.name : "");
		}
		ls_jsonbuf_printf(&b, "]}");
	}
	ls_jsonbuf_printf(&b, "]}\n");
	ls_map_free(map);
	return reply_json(resp, 200, &b);
}

/* Relay a request to the leader and its answer back. */
static int
forward(ls_node *n, const ls_http_req *req, ls_http_resp *resp)
{
	char lh[MAX_ADDR];
	if (leader_http(n, lh, sizeof(lh)) != 0)
		return ls_http_resp_error(resp, 503,
		    "no leader known yet; retry shortly");
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	int rv = ls_http_request(lh, req->method, req->path, req->body,
	    req->body_len, &status, &body, &len, 15000);
	if (rv != 0) {
		free(body);
		return ls_http_resp_error(resp, 502, "leader unreachable");
	}
	ls_http_resp_status(resp, status);
	rv = ls_http_resp_body(resp, "application/json", body, len);
	free(body);
	return rv;
}

static int
h_deploy(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	ls_diag d;
	ls_topology *t = NULL;
	ls_plan *p = NULL;
	ls_jsonbuf b = { 0 };

	if (!ls_coord_is_leader(n->coord))
		return forward(n, req, resp);
	char *yaml = malloc(req->body_len + 1);
	if (yaml == NULL)
		return ls_http_resp_error(resp, 500, "out of memory");
	memcpy(yaml, req->body, req->body_len);
	yaml[req->body_len] = '\0';
	ls_diag_init(&d);
	int rv = ls_topology_parse("request", yaml, req->body_len, &t, &d);
	if (rv == 0)
		rv = ls_plan_build(t, &p, &d);
	if (rv != 0) {
		ls_jsonbuf_printf(&b, "{\"error\":\"invalid topology\",\"problems\":[");
		for (size_t i = 0; i < d.n; i++) {
			ls_jsonbuf_printf(&b, "%s", i ? "," : "");
			ls_jsonbuf_str(&b, d.msgs[i]);
		}
		ls_jsonbuf_printf(&b, "]}\n");
		ls_diag_free(&d);
		ls_topology_free(t);
		free(yaml);
		return reply_json(resp, 400, &b);
	}
	ls_diag_free(&d);
	char name[LS_MAP_MAX_NAME + 1];
	copy_str(name, sizeof(name), ls_topology_name(t));
	size_t nactors = ls_plan_actor_count(p);
	ls_plan_free(p);
	ls_topology_free(t);

	uint8_t *cmd;
	size_t len;
	rv = ls_map_cmd_deploy(name, yaml, &cmd, &len);
	if (rv == 0)
		rv = propose_sync(n, cmd, len);
	if (rv == 0) {
		ls_map *map;
		if ((rv = ls_coord_map_snapshot(n->coord, &map)) == 0) {
			rv = place_topology(n, map, name, yaml);
			ls_map_free(map);
		}
	}
	free(yaml);
	if (rv != 0)
		return ls_http_resp_error(resp, rv == LS_ESTATE ? 503 : 500,
		    ls_strerror(rv));
	ls_jsonbuf_printf(&b, "{\"deployed\":");
	ls_jsonbuf_str(&b, name);
	ls_jsonbuf_printf(&b, ",\"partitions\":%zu,\"epoch\":%llu}\n", nactors,
	    (unsigned long long)ls_coord_epoch(n->coord));
	return reply_json(resp, 200, &b);
}

static int
h_undeploy(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	const char *name = req->path + strlen("/v1/topologies/");
	if (!ls_coord_is_leader(n->coord))
		return forward(n, req, resp);
	if (*name == '\0' || strlen(name) > LS_MAP_MAX_NAME)
		return ls_http_resp_error(resp, 400, "missing topology name");
	ls_map *map;
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return ls_http_resp_error(resp, 503, "map not available");
	const char *yaml;
	int found = ls_map_topology_find(map, name, &yaml) == 0;
	ls_map_free(map);
	if (!found)
		return ls_http_resp_error(resp, 404, "no such topology");
	uint8_t *cmd;
	size_t len;
	int rv = ls_map_cmd_undeploy(name, &cmd, &len);
	if (rv == 0)
		rv = propose_sync(n, cmd, len);
	if (rv != 0)
		return ls_http_resp_error(resp, 500, ls_strerror(rv));
	ls_jsonbuf b = { 0 };
	ls_jsonbuf_printf(&b, "{\"undeployed\":");
	ls_jsonbuf_str(&b, name);
	ls_jsonbuf_printf(&b, ",\"epoch\":%llu}\n",
	    (unsigned long long)ls_coord_epoch(n->coord));
	return reply_json(resp, 200, &b);
}

/* 200 with the map epoch (a MapEpoch, schemas/cluster.fbs), the answer
 * to a heartbeat or a join. */
static int
reply_epoch(ls_node *n, ls_http_resp *resp)
{
	ls_buf b = { NULL, 0 };
	int rv = ls_codec_map_epoch_encode(ls_coord_epoch(n->coord), &b);
	if (rv != 0)
		return ls_http_resp_error(resp, 500, ls_strerror(rv));
	ls_http_resp_status(resp, 200);
	rv = ls_http_resp_body(resp, WIRE_TYPE, b.data, b.len);
	ls_buf_free(&b);
	return rv;
}

/* Body: a Heartbeat (schemas/cluster.fbs) with the sender's identity and
 * addresses, its flags and the checkpoint acks it collected.  An
 * unparsable one is logged and refused (400); nothing of it is used. */
static int
h_heartbeat(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;

	if (!ls_coord_is_leader(n->coord))
		return ls_http_resp_error(resp, 409, "not the leader");
	/* the decoder wants 8-byte aligned input: a copy in malloc'd memory */
	uint8_t *buf = malloc(req->body_len > 0 ? req->body_len : 1);
	if (buf == NULL)
		return ls_http_resp_error(resp, 503, "out of memory");
	if (req->body_len > 0)
		memcpy(buf, req->body, req->body_len);
	ls_heartbeat_wire hb;
	hb_acks ha = { n, &hb, 0 };
	int rv = ls_codec_heartbeat_decode(buf, req->body_len, &hb, hb_ack,
	    &ha);
	if (rv == 0 && !hb_ok(&hb))
		rv = LS_EINVAL;
	if (rv != 0) {
		free(buf);
		ls_log(LS_LOG_WARN, "node",
		    "bad heartbeat dropped bytes=%zu: %s", req->body_len,
		    ls_strerror(rv));
		return ls_http_resp_error(resp, 400, "bad heartbeat");
	}
	uint64_t id = hb.id, inc = hb.inc;
	char name[LS_MAP_MAX_NAME + 1], url[LS_MAP_MAX_URL + 1],
	    http[LS_MAP_MAX_URL + 1];
	snprintf(name, sizeof(name), "%s", hb.name.ptr);
	snprintf(url, sizeof(url), "%s", hb.url.ptr);
	snprintf(http, sizeof(http), "%s", hb.http.ptr);
	int restarted = hb.restarted, leaving = hb.leaving, voter = hb.voter;
	int acks = ha.any;
	free(buf);

	int64_t now = ls_clock_ns();
	pthread_mutex_lock(&n->lock);
	uint64_t prev_inc = ls_detector_heard(n->det, id, inc, now);
	if (acks) {
		n->urgent = 1;
		pthread_cond_broadcast(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);

	ls_map *map;
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return ls_http_resp_error(resp, 503, "map not available");
	ls_map_node mn;
	int known = ls_map_node_find(map, id, &mn) == 0;
	int state = known ? mn.state : 0;
	ls_map_free(map);
	rv = 0;
	int verdict = ls_detector_verdict(known, state, leaving, restarted, inc,
	    prev_inc);
	if (verdict == LS_NODE_LEFT) {
		ls_log(LS_LOG_INFO, "node", "node leaving node=%s", name);
		rv = propose_state(n, id, LS_NODE_LEFT);
	} else if (verdict == LS_NODE_DEAD) {
		/* a new process under a known name, back before it was found
		 * dead: its old runs are gone, so every run must restart */
		ls_log(LS_LOG_WARN, "node",
		    "node restarted, fencing its previous incarnation node=%s",
		    name);
		rv = propose_state(n, id, LS_NODE_DEAD);
	} else if (verdict == LS_NODE_ALIVE && !known) {
		ls_map_node add = { id, name, url, http, voter != 0,
			LS_NODE_ALIVE };
		ls_log(LS_LOG_INFO, "node", "node joined node=%s", name);
		rv = propose_node(n, &add);
	} else if (verdict == LS_NODE_ALIVE) {
		ls_log(LS_LOG_INFO, "node", "node alive again node=%s", name);
		rv = propose_state(n, id, LS_NODE_ALIVE);
	}
	if (rv != 0)
		return ls_http_resp_error(resp, 503, ls_strerror(rv));
	return reply_epoch(n, resp);
}

/* POST /v1/internal/join: a join request (cluster/join.h) passed on by the
 * node that got the joining node's hello. */
static int
h_join(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	ls_join_req jr;
	if (!ls_coord_is_leader(n->coord))
		return ls_http_resp_error(resp, 409, "not the leader");
	if (ls_join_parse(req->body, req->body_len, &jr) != 0) {
		ls_log(LS_LOG_WARN, "node", "bad join request dropped bytes=%zu",
		    req->body_len);
		return ls_http_resp_error(resp, 400, "bad join request");
	}
	int rv = join_local(n, &jr);
	if (rv != 0)
		return ls_http_resp_error(resp, 503, ls_strerror(rv));
	return reply_epoch(n, resp);
}

/* POST /v1/leave: leave the cluster gracefully.  The node's partitions move
 * to the others; once they have a checkpoint there, the node reports left
 * and its process exits. */
static int
h_leave(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	(void)req;
	pthread_mutex_lock(&n->lock);
	if (!n->leaving) {
		n->leaving = 1;
		n->leave_start_ns = ls_clock_ns();
		ls_log(LS_LOG_INFO, "node", "leave requested node=%s", n->name);
	}
	n->urgent = 1;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	ls_jsonbuf b = { 0 };
	ls_jsonbuf_printf(&b, "{\"node\":");
	ls_jsonbuf_str(&b, n->name);
	ls_jsonbuf_printf(&b, ",\"leaving\":true}\n");
	return reply_json(resp, 202, &b);
}

/* GET /v1/internal/ckpt?topology=T&ckpt=N&partition=P: a stored
 * checkpoint state, for a node that takes the partition over. */
static int
h_ckpt(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	char topo[LS_MAP_MAX_NAME + 1], part[LS_MAP_MAX_NAME + 1], ck[32];
	if (req->query == NULL || query_get(req->query, "topology", topo,
	        sizeof(topo)) != 0 ||
	    query_get(req->query, "partition", part, sizeof(part)) != 0 ||
	    query_get(req->query, "ckpt", ck, sizeof(ck)) != 0)
		return ls_http_resp_error(resp, 400,
		    "want topology, ckpt and partition");
	char *end;
	uint64_t id = strtoull(ck, &end, 10);
	if (*end != '\0' || id == 0)
		return ls_http_resp_error(resp, 400, "bad ckpt");
	void *blob;
	size_t len;
	if (ls_dataplane_ckpt_get(n->dp, topo, id, part, &blob, &len) != 0)
		return ls_http_resp_error(resp, 404, "no such checkpoint here");
	ls_http_resp_status(resp, 200);
	int rv = ls_http_resp_body(resp, "application/octet-stream", blob, len);
	free(blob);
	return rv;
}

/* ---- start / stop ---- */

/* DATA_DIR/node.conf keeps the node's identity across restarts. */
static int
check_identity(ls_node *n, int *fresh, char *err, size_t errlen)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/node.conf", n->data_dir);
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		char line[600], name[600] = "", raft[600] = "";
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (strncmp(line, "name=", 5) == 0)
				snprintf(name, sizeof(name), "%s", line + 5);
			else if (strncmp(line, "raft=", 5) == 0)
				snprintf(raft, sizeof(raft), "%s", line + 5);
		}
		fclose(f);
		*fresh = 0;
		if (strcmp(name, n->name) != 0 || strcmp(raft, n->raft_addr) != 0) {
			snprintf(err, errlen,
			    "%s belongs to node '%s' (raft %s), not '%s' (raft "
			    "%s)",
			    n->data_dir, name, raft, n->name, n->raft_addr);
			return LS_EINVAL;
		}
		return 0;
	}
	*fresh = 1;
	f = fopen(path, "w");
	if (f == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		return LS_EIO;
	}
	fprintf(f, "name=%s\nraft=%s\nurl=%s\nhttp=%s\n", n->name,
	    n->raft_addr, n->url, n->http_addr);
	fclose(f);
	return 0;
}

/* Parse the --join entries into *out (caller frees): this node's own
 * entry and repeated entries are skipped, so every node may be given the
 * same seed list.  An entry that names this node's URL with another Raft
 * address (or the reverse), or two entries that disagree on a member's
 * addresses, are refused with a reason in err. */
static int
seeds_parse(ls_node *n, const ls_node_config *cfg, ls_join_seed **out,
    size_t *nout, char *err, size_t errlen)
{
	ls_join_seed *s = calloc(cfg->njoin + 1, sizeof(*s));
	size_t ns = 0;
	*out = NULL;
	*nout = 0;
	if (s == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < cfg->njoin; i++) {
		ls_join_seed e;
		if (ls_join_seed_parse(cfg->join[i], &e, err, errlen) != 0) {
			free(s);
			return LS_EINVAL;
		}
		int same_url = strcmp(e.url, n->url) == 0;
		int same_raft = strcmp(e.raft, n->raft_addr) == 0;
		if (same_url != same_raft) {
			snprintf(err, errlen,
			    "--join entry '%s' (Raft address %s) shares an "
			    "address with this node (--listen %s, Raft address "
			    "%s, --raft-listen): its own entry must name both "
			    "(URL?raft=HOST:PORT), another node's neither",
			    cfg->join[i], e.raft, n->url, n->raft_addr);
			free(s);
			return LS_EINVAL;
		}
		if (same_url)
			continue; /* this node itself */
		size_t k = 0;
		while (k < ns && strcmp(s[k].url, e.url) != 0 &&
		    strcmp(s[k].raft, e.raft) != 0)
			k++;
		if (k < ns && (strcmp(s[k].url, e.url) != 0 ||
		                  strcmp(s[k].raft, e.raft) != 0)) {
			snprintf(err, errlen,
			    "--join entries disagree: %s (Raft %s) and %s "
			    "(Raft %s) share an address",
			    s[k].url, s[k].raft, e.url, e.raft);
			free(s);
			return LS_EINVAL;
		}
		if (k == ns)
			s[ns++] = e; /* else a repeated entry */
	}
	*out = s;
	*nout = ns;
	return 0;
}

int
ls_node_start(const ls_node_config *cfg, ls_node **out, char *err,
    size_t errlen)
{
	char dummy[256];
	ls_join_seed *seeds = NULL;
	size_t nseeds = 0;
	ls_node *n;
	int rv;

	if (err == NULL) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (cfg->name == NULL || cfg->listen == NULL || cfg->http == NULL ||
	    cfg->data_dir == NULL) {
		snprintf(err, errlen, "--id, --listen, --http and --data-dir "
		                      "are required");
		return LS_EINVAL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return LS_ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if ((rv = ls_acks_new(MAX_ACKS, &n->acks)) != 0)
		goto fail;
	rv = LS_ERANGE;
	if (copy_str(n->name, sizeof(n->name), cfg->name) != 0 ||
	    copy_str(n->url, sizeof(n->url), cfg->listen) != 0 ||
	    copy_str(n->http_addr, sizeof(n->http_addr), cfg->http) != 0 ||
	    copy_str(n->data_dir, sizeof(n->data_dir), cfg->data_dir) != 0) {
		snprintf(err, errlen, "an argument is too long");
		goto fail;
	}
	if (cfg->raft != NULL) {
		if (ls_join_raft_check(cfg->raft) != 0) {
			snprintf(err, errlen, "bad --raft-listen '%s' (want "
			                      "HOST:PORT, port 1-65535)",
			    cfg->raft);
			rv = LS_EINVAL;
			goto fail;
		}
		rv = copy_str(n->raft_addr, sizeof(n->raft_addr), cfg->raft);
	}
	if ((rv = ls_transport_url_check(cfg->listen)) != 0) {
		snprintf(err, errlen, "bad --listen URL '%s' (%s)", cfg->listen,
		    rv == LS_ENOTSUP ? "tls+tcp:// is not supported yet"
		                     : "want tcp://HOST:PORT");
		rv = LS_EINVAL;
		goto fail;
	}
	if (cfg->raft == NULL &&
	    ls_node_raft_address(cfg->listen, n->raft_addr,
	        sizeof(n->raft_addr)) != 0) {
		snprintf(err, errlen, "--listen '%s' implies no Raft address "
		                      "(port + 100 of a tcp:// URL); give "
		                      "--raft-listen HOST:PORT",
		    cfg->listen);
		rv = LS_EINVAL;
		goto fail;
	}
	n->raft_id = ls_node_raft_id(n->raft_addr);
	n->voter = cfg->voter != 0;
	/* the seeds, without this node and repeated entries */
	if ((rv = seeds_parse(n, cfg, &seeds, &nseeds, err, errlen)) != 0)
		goto fail;
	n->inc = ls_hash64(&n->raft_id, sizeof(n->raft_id),
	    (uint64_t)ls_clock_ns() ^ ((uint64_t)getpid() << 32));
	if (n->inc == 0)
		n->inc = 1;
	n->heartbeat_ns = (cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 150) *
	    1000000;
	n->suspect_ns = (cfg->suspect_ms > 0 ? cfg->suspect_ms : 500) * 1000000;
	n->dead_ns = (cfg->dead_ms > 0 ? cfg->dead_ms : 1000) * 1000000;
	n->replicas = cfg->replicas > 0 ? cfg->replicas : 2;
	if ((rv = ls_detector_new(n->raft_id, n->heartbeat_ns, n->suspect_ns,
	         n->dead_ns, &n->det)) != 0)
		goto fail;

	if (ls_mkdir_p(n->data_dir) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", n->data_dir,
		    strerror(errno));
		rv = LS_EIO;
		goto fail;
	}
	int fresh = 0;
	if ((rv = check_identity(n, &fresh, err, errlen)) != 0)
		goto fail;
	if (!n->voter && fresh && nseeds == 0) {
		snprintf(err, errlen,
		    "a node without --voter joins a running cluster: give "
		    "--join with the --listen URL of at least one other "
		    "member");
		rv = LS_EINVAL;
		goto fail;
	}

	/* voters: this node and its seeds; a joining node starts with none
	 * and waits until the leader adds it */
	size_t nv = n->voter ? nseeds + 1 : 0;
	ls_coord_peer *voters = calloc(nseeds + 1, sizeof(*voters));
	if (voters == NULL) {
		rv = LS_ENOMEM;
		goto fail;
	}
	voters[0].id = n->raft_id;
	voters[0].address = n->raft_addr;
	for (size_t i = 0; i < nseeds; i++) {
		voters[i + 1].id = seeds[i].id;
		voters[i + 1].address = seeds[i].raft;
	}
	char raft_dir[1100];
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", n->data_dir);
	ls_coord_config cc;
	memset(&cc, 0, sizeof(cc));
	cc.id = n->raft_id;
	cc.data_dir = raft_dir;
	cc.address = n->raft_addr;
	cc.voters = nv > 0 ? voters : NULL;
	cc.n_voters = nv;
	cc.on_map_change = on_map_change;
	cc.cb_arg = n;
	cc.election_timeout_ms = 500;
	cc.heartbeat_timeout_ms = 100;
	char cerr[400] = "";
	cc.err = cerr;
	cc.errlen = sizeof(cerr);
	rv = ls_coord_start(&cc, &n->coord);
	free(voters);
	if (rv != 0) {
		snprintf(err, errlen, "cannot start the coordinator on Raft "
		                      "address %s (--raft-listen%s): %s",
		    n->raft_addr, cfg->raft != NULL ? "" : ", default: --listen "
		                                             "port + 100",
		    cerr[0] ? cerr : ls_strerror(rv));
		goto fail;
	}

	if ((rv = ls_metrics_new(&n->metrics)) != 0)
		goto fail;
	char labels[400];
	snprintf(labels, sizeof(labels), "node=\"%s\"", n->name);
	n->m_leader = ls_metrics_gauge(n->metrics, "logstream_node_is_leader",
	    "1 while this node is the coordinator leader.", labels);
	n->m_epoch = ls_metrics_gauge(n->metrics, "logstream_cluster_map_epoch",
	    "Epoch of the replicated cluster map.", labels);
	n->m_hb_sent = ls_metrics_counter(n->metrics,
	    "logstream_node_heartbeats_sent_total",
	    "Heartbeats acknowledged by the leader.", labels);
	n->m_hb_failed = ls_metrics_counter(n->metrics,
	    "logstream_node_heartbeats_failed_total",
	    "Heartbeats that got no answer.", labels);
	n->m_proposals = ls_metrics_counter(n->metrics,
	    "logstream_node_proposals_total",
	    "Cluster map commands proposed by this node.", labels);
	(void)n->m_alive;

	ls_dataplane_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.node_id = n->raft_id;
	dc.listen_url = n->url;
	dc.data_dir = n->data_dir;
	dc.workers = cfg->workers;
	dc.cache_bytes = cfg->cache_bytes;
	dc.ack = on_ack;
	dc.arg = n;
	dc.metrics = n->metrics;
	dc.unknown = on_unknown;
	if (!n->voter) {
		ls_join_req me;
		memset(&me, 0, sizeof(me));
		me.id = n->raft_id;
		me.inc = n->inc;
		copy_str(me.name, sizeof(me.name), n->name);
		copy_str(me.url, sizeof(me.url), n->url);
		copy_str(me.http, sizeof(me.http), n->http_addr);
		copy_str(me.raft, sizeof(me.raft), n->raft_addr);
		int hl = ls_join_encode(&me, n->hello, sizeof(n->hello));
		if (hl < 0) {
			snprintf(err, errlen, "node name or addresses too long");
			rv = LS_ERANGE;
			goto fail;
		}
		n->hello_len = (size_t)hl;
		dc.hello_info = n->hello;
		dc.hello_len = n->hello_len;
	}
	if ((rv = ls_dataplane_start(&dc, &n->dp, err, errlen)) != 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "--listen: %s",
		    why[0] ? why : ls_strerror(rv));
		goto fail;
	}
	/* A joining node says hello to its seeds (whose ids follow from
	 * their Raft addresses); a seed passes the request on to the
	 * leader. */
	for (size_t i = 0; !n->voter && i < nseeds; i++) {
		rv = ls_dataplane_seed(n->dp, seeds[i].id, seeds[i].url);
		if (rv != 0 && rv != LS_EEXIST) {
			snprintf(err, errlen, "--join entry '%s': %s",
			    seeds[i].url, ls_strerror(rv));
			goto fail;
		}
	}
	rv = 0;

	ls_http_opts ho = { n->metrics, 0 };
	if ((rv = ls_http_start(n->http_addr, &ho, &n->http)) != 0) {
		snprintf(err, errlen, "--http: cannot serve HTTP on %s: %s",
		    n->http_addr,
		    rv == LS_EEXIST ? "the address is in use" : ls_strerror(rv));
		goto fail;
	}
	if ((rv = ls_http_route(n->http, "GET", "/v1/status", h_status, n)) !=
	        0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/topologies", h_deploy,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "DELETE", "/v1/topologies/",
	         h_undeploy, n)) != 0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/internal/heartbeat",
	         h_heartbeat, n)) != 0 ||
	    (rv = ls_http_route(n->http, "GET", "/v1/internal/ckpt", h_ckpt,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/internal/join", h_join,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/leave", h_leave, n)) != 0)
		goto fail;
	if (pthread_create(&n->ticker, NULL, ticker_main, n) != 0) {
		rv = LS_ENOMEM;
		goto fail;
	}
	n->ticker_started = 1;
	ls_log(LS_LOG_INFO, "node",
	    "node started node=%s listen=%s http=%s raft=%s voter=%s seeds=%zu",
	    n->name, n->url, n->http_addr, n->raft_addr,
	    n->voter ? "yes" : "no", nseeds);
	free(seeds);
	*out = n;
	return 0;
fail:
	free(seeds);
	ls_node_stop(n);
	return rv;
}

void
ls_node_stop(ls_node *n)
{
	if (n == NULL)
		return;
	atomic_store(&n->stop, 1);
	pthread_mutex_lock(&n->lock);
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	if (n->ticker_started)
		pthread_join(n->ticker, NULL);
	if (n->http != NULL)
		ls_http_stop(n->http);
	ls_dataplane_stop(n->dp);
	if (n->coord != NULL)
		ls_coord_stop(n->coord);
	ls_acks_free(n->acks);
	for (size_t i = 0; i < n->nacks_out; i++)
		free(n->acks_out[i].topo);
	free(n->acks_out);
	ls_metrics_free(n->metrics);
	ls_detector_free(n->det);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
