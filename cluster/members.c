/*
 * members.c -- joining and leaving: hellos of unknown nodes become join
 * requests passed to the leader, the leader admits them (a Raft standby,
 * then a non-voter of the map) and keeps the Raft membership in step with
 * the map, and a leaving node waits until its partitions run elsewhere
 * with a checkpoint there (docs/cluster.md, "Joining and leaving").
 *
 * Threads: the transport's hello callback and the ticker; shared fields
 * under n->lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/node_int.h"
#include "cluster/place.h"
#include "runtime/log.h"
#include "runtime/actor.h"


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
void
ls__node_on_unknown(void *arg, uint64_t from, const uint8_t *info, size_t len)
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
/* Leader: admit a joining node -- first as a Raft standby (it receives the
 * map), then into the map as a non-voter, which places partitions on it. */
int
ls__node_join_local(ls_node *n, const ls_join_req *jr)
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
	return ls__node_propose_node(n, &add);
}

/* Ticker: pass pending join requests to the leader (or admit them). */
void
ls__node_joins_tick(ls_node *n, int leader)
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
			int rv = ls__node_join_local(n, &todo[i]);
			if (rv != 0 && rv != LS_EBUSY)
				ls_log(LS_LOG_WARN, "node",
				    "cannot admit node=%s: %s", todo[i].name,
				    ls_strerror(rv));
			continue;
		}
		char lh[MAX_ADDR];
		uint8_t body[LS_JOIN_MAX];
		int len = ls_join_encode(&todo[i], body, sizeof(body));
		if (len < 0 || ls__node_leader_http(n, lh, sizeof(lh)) != 0)
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
void
ls__node_check_members(ls_node *n, const ls_map *map)
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
				ls__copy_str(raft, sizeof(raft), n->joins[j].r.raft);
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
void
ls__node_leave_tick(ls_node *n)
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
		ls_place_count(map, n->raft_id, &owned, &standby);
		done = owned == 0 && standby == 0;
	}
	for (size_t i = 0; done && i < ls_map_topology_count(map); i++) {
		const char *name;
		uint64_t ck = 0;
		int fin = 0;
		if (ls_map_topology_at(map, i, &name, NULL) != 0)
			continue;
		ls_map_topology_checkpoint(map, name, &ck, &fin);
		if (fin || ls_map_run_epoch(map, name) == 0)
			continue;
		/* a checkpoint completed after this node held nothing of the
		 * topology any more */
		struct leave_ck *lc = NULL;
		for (size_t k = 0; k < n->nleave_ck; k++)
			if (strcmp(n->leave_ck[k].name, name) == 0)
				lc = &n->leave_ck[k];
		if (lc == NULL) {
			struct leave_ck *nl = realloc(n->leave_ck,
			    (n->nleave_ck + 1) * sizeof(*nl));
			if (nl != NULL) {
				n->leave_ck = nl;
				lc = &nl[n->nleave_ck++];
				snprintf(lc->name, sizeof(lc->name), "%s", name);
				lc->ck = ck;
			}
			done = 0;
		} else if (ck <= lc->ck) {
			done = 0;
		}
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