/*
 * dataplane.h -- running the deployed topologies' partitions on the nodes
 * that own them.
 *
 * Every node runs one data plane.  It follows the cluster map: for each
 * deployed topology it keeps a run -- an actor runtime holding the plan's
 * actors this node owns; an actor owned elsewhere is a remote ref
 * (runtime/remote.h) whose sends the run encodes and queues on
 * cluster/transport, with the runtime's pause / LS_MSG_WRITABLE
 * backpressure across nodes.  A run belongs to a run
 * epoch, the largest assignment epoch of its topology: any placement change
 * gives a new run epoch, and then every node stops its run and starts the
 * new one from the topology's last completed checkpoint (map CHECKPOINT).
 * Envelopes carry the run epoch; older ones are refused (fencing), newer
 * ones wait until this node has caught up.
 *
 * Checkpoints: each local actor's state for checkpoint k is written to the
 * node's RocksDB store (runtime/store.h), sent to the partition's standbys,
 * and acknowledged through the ack callback (owners and standbys alike);
 * the leader turns a full set of acknowledgements into a CHECKPOINT
 * command.  Checkpoint ids are (run epoch << 32) + n, so ids never repeat
 * across runs.  A partition that has ended saves a *final* state, which
 * stands for every later checkpoint of its run epoch: a restore from K uses
 * the partition's state of K or, when it had ended before K, its final
 * one (kept by the store's garbage collection).  A new or restored run
 * takes its first checkpoint at once (50 ms), not after a full
 * checkpoint_interval.  See docs/cluster.md and docs/failure-semantics.md.
 */
#ifndef LS_CLUSTER_DATAPLANE_H
#define LS_CLUSTER_DATAPLANE_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/map.h"
#include "cluster/tls.h"
#include "runtime/metrics.h"

typedef struct ls_dataplane ls_dataplane;

/* A partition's state for checkpoint ckpt is stored on this node (as its
 * owner or as a standby).  Runs on a data-plane thread; must not block. */
typedef void (*ls_dataplane_ack_fn)(void *arg, const char *topology,
    uint64_t run_epoch, uint64_t ckpt, int final, const char *partition);

typedef struct ls_dataplane_config {
	uint64_t node_id;       /* this node's id in the map */
	const char *listen_url; /* transport URL */
	const ls_tls_files *tls; /* mutual TLS when all set; may be NULL */
	const char *data_dir;   /* state lives in DATA_DIR/state */
	unsigned workers;       /* actor threads per run; 0 = per core */
	size_t cache_bytes;     /* RocksDB block cache; 0 = 64 MiB */
	ls_dataplane_ack_fn ack;
	void *arg;
	ls_metrics *metrics;    /* borrowed; may be NULL */
	/* Joining (cluster/transport.h): hello_info goes with hellos to nodes
	 * that do not know this one yet; unknown is called (with arg) when a
	 * node that is not in the map says hello.  Both optional. */
	const void *hello_info;
	size_t hello_len;
	void (*unknown)(void *arg, uint64_t node, const uint8_t *info,
	    size_t len);
	/* Checkpoint states larger than this go to standbys in slices of
	 * it (a frame is at most 16 MiB); 0 = LS_DATAPLANE_REPL_CHUNK, at
	 * most LS_DATAPLANE_REPL_CHUNK_MAX. */
	size_t replication_chunk;
} ls_dataplane_config;

#define LS_DATAPLANE_REPL_CHUNK     ((size_t)8 << 20)
#define LS_DATAPLANE_REPL_CHUNK_MAX ((size_t)15 << 20)

/* Start (transport listening, store open, the run thread).  Strings are
 * copied.  On failure an error and a reason in err. */
int ls_dataplane_start(const ls_dataplane_config *cfg, ls_dataplane **out,
    char *err, size_t errlen);

/* Dial node `node` at transport URL url before the map names it (a join
 * seed), so that it gets this node's hellos.  LS_EEXIST if already known. */
int ls_dataplane_seed(ls_dataplane *dp, uint64_t node, const char *url);

/* Stop every run, the transport and the store; free dp (NULL is fine). */
void ls_dataplane_stop(ls_dataplane *dp);

/* A new map (borrowed; copied): runs are started, restarted or stopped to
 * match it on the run thread.  Any thread; cheap. */
void ls_dataplane_update(ls_dataplane *dp, const ls_map *map);

/* A partition's state as of checkpoint ckpt (malloc'd, caller frees) for
 * the HTTP fetch of other nodes: the blob of ckpt, or the partition's final
 * blob from earlier in ckpt's run epoch; LS_ENOENT when this node holds
 * neither.  Any thread. */
int ls_dataplane_ckpt_get(ls_dataplane *dp, const char *topology,
    uint64_t ckpt, const char *partition, void **blob, size_t *len);

/* Interactive query (docs/queries.md) of partition `partition` of stage
 * `stage` of topology's run on this node: the query goes to the partition's
 * actor and is answered there (ls_pipeline_query_start).  0 and the
 * answer, a RecordBatch (malloc'd, caller frees); LS_ENOENT: this node runs
 * no such topology, stage or partition; LS_ESTALE: the partition is owned
 * by another node in this node's run; LS_EBUSY: the run is starting,
 * restoring or stopping; LS_EAGAIN: the partition stopped before it
 * answered; LS_ENOTSUP: its
 * kind is not queryable; LS_ETIMEDOUT after timeout_ms (a full mailbox is
 * tried again until then).  Blocks; any thread except a data-plane one.
 * Holds no lock while it waits. */
struct ls_kind_query;
int ls_dataplane_query(ls_dataplane *dp, const char *topology,
    const char *stage, uint32_t partition, const struct ls_kind_query *q,
    int64_t timeout_ms, uint8_t **buf, size_t *len);

/* The ingest logs of `http` sources (cluster/ingest_repl.h): take an
 * owner's push (the body of POST /v1/internal/ingest; 0 once stored,
 * LS_ESTALE fenced, LS_ECORRUPT, LS_EIO, with a reason in why), and give
 * the records this node holds of a partition (GET /v1/internal/ingest; an
 * IngestLog, malloc'd) to the incarnation inc that takes it over (0: not
 * said), which is noted first.  Any thread; blocking. */
int ls_dataplane_ingest_take(ls_dataplane *dp, const void *body, size_t len,
    char *why, size_t whylen);
int ls_dataplane_ingest_serve(ls_dataplane *dp, const char *topology,
    const char *partition, uint64_t inc, uint8_t **buf, size_t *len);

/* One run as seen by this node. */
typedef struct ls_dataplane_run_info {
	char topology[LS_MAP_MAX_NAME + 1];
	uint64_t run_epoch;
	uint64_t restored_from; /* checkpoint it started from, 0 = none */
	uint64_t checkpoint_epoch; /* run epoch in which it last committed a
	                              checkpoint (0: none since it started or
	                              was restored) */
	int64_t started_ms;     /* wall clock */
	uint32_t local_actors;
	int finished;           /* every local sink committed its final output */
} ls_dataplane_run_info;

/* Up to cap runs into out; returns how many there are. */
size_t ls_dataplane_runs(ls_dataplane *dp, ls_dataplane_run_info *out,
    size_t cap);

#endif /* LS_CLUSTER_DATAPLANE_H */
