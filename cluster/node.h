/*
 * node.h -- one cluster node process: coordinator membership, the HTTP
 * API, failure detection and placement.
 *
 * A node runs
 *   - a Raft coordinator (cluster/coord.h).  Voters (3 or 5) are this node
 *     and its --join seeds, bootstrapped together (every voter is started
 *     with the other voters as seeds).  A node without --voter joins a
 *     running cluster: its transport hellos to its seeds carry a join
 *     request, a seed passes it to the leader (POST /v1/internal/join),
 *     and the leader adds it as a Raft standby (it receives the map,
 *     never votes) and to the map as a non-voter, which places partitions
 *     on it;
 *   - the HTTP API (cluster/http.h): GET /v1/status, POST /v1/topologies,
 *     DELETE /v1/topologies/NAME, GET /metrics, GET /healthz, and the
 *     internal POST /v1/internal/heartbeat;
 *   - a ticker thread: followers send heartbeats to the leader; the leader
 *     registers nodes in the map, runs the failure detector (alive ->
 *     suspect -> dead) and keeps the placement of every deployed topology
 *     (consistent hashing with bounded load, cluster/ring.h) in the map.
 *
 * Addresses: the transport URL (--listen) is tcp://HOST:PORT; the Raft
 * address is HOST:(PORT + 100) unless given (--raft-listen); a node's Raft
 * id is the XXH3 hash of its Raft address, so every voter derives the same
 * initial configuration from the same seed list.  A seed entry is a URL,
 * or URL?raft=HOST:PORT for a member whose Raft address is not the default
 * (cluster/join.h); the node's own entry and repeated entries are skipped,
 * so every node may be given the same list.
 *
 * A node's identity (name and addresses) is written to DATA_DIR/node.conf
 * on first start; a restart from the same directory must use the same
 * name, and the Raft state (log, term, snapshots) in DATA_DIR/raft lets
 * it rejoin and catch up.
 */
#ifndef LS_CLUSTER_NODE_H
#define LS_CLUSTER_NODE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ls_node ls_node;

typedef struct ls_node_config {
	const char *name;      /* --id: placement name, e.g. "n1" */
	const char *listen;    /* transport URL, tcp://HOST:PORT */
	const char *http;      /* HTTP listen address HOST:PORT */
	const char *raft;      /* --raft-listen HOST:PORT; NULL = derived */
	const char *data_dir;
	/* --join entries: URL or URL?raft=HOST:PORT of the voters (voters)
	 * or of any members (joining nodes); this node's own entry and
	 * repeats are skipped */
	const char *const *join;
	size_t njoin;
	int voter;
	int64_t heartbeat_ms;  /* 0 = 150 */
	int64_t suspect_ms;    /* 0 = 500: silent this long -> suspect */
	int64_t dead_ms;       /* 0 = 1000: silent this long -> dead */
	uint32_t replicas;     /* copies per partition; 0 = 2 */
	unsigned workers;      /* actor threads per topology; 0 = per core */
	size_t cache_bytes;    /* state store block cache; 0 = 64 MiB */
	size_t replication_chunk; /* 0 = 8 MiB (cluster/dataplane.h) */
	/* --tls-ca, --tls-cert, --tls-key: all three or none.  With them
	 * the transport is mutual TLS (--listen and every --join entry are
	 * tls+tcp://) and the HTTP API is HTTPS (docs/security.md). */
	const char *tls_ca, *tls_cert, *tls_key;
	/* --token-file: bearer tokens of the HTTP API (cluster/auth.h);
	 * NULL = the API is open.  Every node of a cluster gets the same
	 * file: nodes send its internal token with their own requests. */
	const char *token_file;
} ls_node_config;

/* Start a node (strings are copied).  On failure returns an error and, when
 * err is not NULL, a reason in err that names the option at fault:
 * LS_EINVAL for bad options (checked before anything is written to
 * data_dir), other codes when an address or the data dir cannot be used. */
int ls_node_start(const ls_node_config *cfg, ls_node **out, char *err,
    size_t errlen);

/* Stop the node: stop heartbeats, the HTTP API and the coordinator.  Its
 * peers then see it as failed (its partitions fail over); for a graceful
 * leave, POST /v1/leave first and wait for ls_node_left(). */
void ls_node_stop(ls_node *n);

/* 1 once a leave asked through POST /v1/leave is complete: the map has the
 * node LEFT and its partitions run elsewhere with a checkpoint there (or
 * the 60 s leave timeout passed).  The process should then stop the node
 * and exit.  Any thread. */
int ls_node_left(ls_node *n);

/* The Raft address a transport URL implies (HOST:PORT+100), into buf. */
int ls_node_raft_address(const char *listen_url, char *buf, size_t cap);

/* The Raft id of a Raft address. */
uint64_t ls_node_raft_id(const char *raft_address);

#endif /* LS_CLUSTER_NODE_H */
