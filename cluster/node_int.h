/*
 * node_int.h -- what the files of a cluster node share (node.c,
 * checkpoints.c, members.c, api.c):
 * the ls_node struct and the node's internal calls.  Not for use outside
 * cluster/; the public API is node.h.
 *
 * Threads: n->lock guards the fields below it in struct ls_node; the
 * calls say which they need.
 */
#ifndef LS_CLUSTER_NODE_INT_H
#define LS_CLUSTER_NODE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cluster/acks.h"
#include "cluster/auth.h"
#include "cluster/coord.h"
#include "cluster/dataplane.h"
#include "cluster/detector.h"
#include "cluster/http.h"
#include "cluster/join.h"
#include "cluster/map.h"
#include "cluster/node.h"
#include "runtime/err.h"
#include "runtime/metrics.h"

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
	char tls_ca[1024], tls_cert[1024], tls_key[1024];
	ls_tls_files tls; /* all NULL when TLS is off */
	ls_auth *auth;    /* --token-file; NULL = the API is open */
	size_t hello_len;

	ls_coord *coord;
	ls_http *http;
	ls_metrics *metrics;
	_Atomic int64_t *m_leader, *m_epoch, *m_alive, *m_hb_sent,
	    *m_hb_failed, *m_proposals, *m_failures, *m_raft_refused;

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
	struct ls_region_cache *incs; /* leader: partition incarnations */
	uint64_t wait_ck;      /* ticker: checkpoint completion stuck at */
	int64_t wait_since_ns; /* ... since */
	/* leaving: per topology, the checkpoint completed when this node
	 * first held nothing of it (one after that proves the handoff) */
	struct leave_ck {
		char name[LS_MAP_MAX_NAME + 1];
		uint64_t ck;
	} *leave_ck;
	size_t nleave_ck;
};

/* Copy the C string src into dst (cap bytes); LS_ERANGE when it does not
 * fit or is NULL (dst unchanged). */
static inline int
ls__copy_str(char *dst, size_t cap, const char *src)
{
	if (src == NULL || strlen(src) >= cap)
		return LS_ERANGE;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* ---- node.c ---- */

/* Leader, n->lock held: record an acknowledgement of partition part of
 * topo by node, sent in incarnation epoch (cluster/region.h); one of
 * another incarnation than the partition's current one is dropped. */
void ls__node_ack_add(ls_node *n, const char *topo, uint64_t epoch,
    const char *part, uint64_t node, uint64_t ckpt, int final);

/* Propose the map command cmd (taken: freed here, whatever the outcome)
 * and wait for it to apply, up to 10 s.  0, LS_ESTATE when this node is
 * not the leader, LS_ETIMEDOUT, or the coordinator's error.  Without
 * n->lock. */
int ls__node_propose(ls_node *n, uint8_t *cmd, size_t len);

/* Propose ADD_NODE mn (borrowed) / SET_NODE_STATE id state, as
 * ls__node_propose. */
int ls__node_propose_node(ls_node *n, const ls_map_node *mn);
int ls__node_propose_state(ls_node *n, uint64_t id, int state);

/* Leader: place topology name (yaml) over the live nodes of map
 * (cluster/place.h) and propose the result when it differs from the map.
 * Without n->lock. */
int ls__node_place(ls_node *n, const ls_map *map, const char *name,
    const char *yaml);

/* The leader's HTTP address from the map into buf (cap bytes); -1 when no
 * leader is known.  Without n->lock. */
int ls__node_leader_http(ls_node *n, char *buf, size_t cap);

/* Leader: admit a joining node (a Raft standby, then a non-voter in the
 * map).  0, or the coordinator's or proposal's error.  Without n->lock. */
int ls__node_join_local(ls_node *n, const ls_join_req *jr);

/* ---- checkpoints.c ---- */

/* Data plane callback (ls_dataplane_config.ack): this node holds the state
 * of partition part of topo for checkpoint ckpt; kept for the next
 * heartbeat, or recorded at once on the leader.  Takes n->lock. */
void ls__node_on_ack(void *arg, const char *topo, uint64_t epoch,
    uint64_t ckpt, int final, const char *part);

/* Room for need acks in n->acks_out (n->lock held); -1 when over
 * MAX_PENDING_ACKS or out of memory. */
int ls__node_acks_reserve(ls_node *n, size_t need);

/* Leader, ticker, without n->lock: record the checkpoints of map that are
 * complete and forget acks that can no longer matter. */
void ls__node_complete_checkpoints(ls_node *n, const ls_map *map);

/* ---- members.c ---- */

/* Transport callback (ls_dataplane_config.unknown): a hello from node
 * from, unknown here, carrying its join request in info. */
void ls__node_on_unknown(void *arg, uint64_t from, const uint8_t *info,
    size_t len);

/* Ticker: pass pending join requests on to the leader, or admit them on
 * the leader (leader != 0).  Without n->lock. */
void ls__node_joins_tick(ls_node *n, int leader);

/* Leader, ticker: make every non-voter of map a Raft standby (repairs an
 * admission whose membership change failed); one change per call. */
void ls__node_check_members(ls_node *n, const ls_map *map);

/* Ticker: a leaving node reports left (ls_node_left) once its state lives
 * on elsewhere, or after a minute without a confirmed handoff. */
void ls__node_leave_tick(ls_node *n);

/* ---- api.c ---- */

/* Route the HTTP API (/v1/status, /v1/topologies, /v1/leave and the
 * internal heartbeat, join and checkpoint calls) of n->http to n's
 * handlers.  0 or the error of ls_http_route. */
int ls__api_routes(ls_node *n);

/* ---- dashboard.c ---- */

/* Route GET /dashboard (the page) and GET / (a redirect to it). */
int ls__dashboard_routes(ls_node *n);

#endif /* LS_CLUSTER_NODE_INT_H */
