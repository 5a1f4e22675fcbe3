/*
 * pipeline.h -- run a planned topology on one node's actor runtime.
 *
 * ls_pipeline_start spawns one actor per plan actor ("stage/partition"),
 * wires every actor to the actors of its consumers, and starts the
 * sources.  Data moves as batches of events (a pointer hand-off); each
 * event is routed to a partition of the next stage by the hash of that
 * stage's key fields.  When a source ends (finite input, a count limit, or
 * ls_pipeline_drain), an end-of-stream marker follows its data through the
 * graph: a stage that has seen it from every upstream actor flushes (a
 * window closes its open windows) and passes it on; ls_pipeline_wait
 * returns once every sink has seen it.
 *
 * Backpressure: a stage whose consumer's mailbox is full keeps the refused
 * output, pauses its own input (ls_ctx_pause) and resumes when told the
 * consumer has room, so a slow sink slows the sources instead of growing
 * memory.
 */
#ifndef LS_ACTORS_PIPELINE_H
#define LS_ACTORS_PIPELINE_H

#include <stdint.h>
#include <stdio.h>

#include "runtime/actor.h"
#include "runtime/metrics.h"
#include "topology/kind.h"
#include "topology/plan.h"

typedef struct ls_pipeline ls_pipeline;

typedef struct ls_pipeline_opts {
	FILE *out;         /* where stdout sinks write; NULL = stdout */
	ls_metrics *metrics; /* optional: per-stage counters are registered
	                        here (borrowed, must outlive the pipeline) */
	int64_t tick_ms;   /* window idle / flush check period; 0 = 200 */

	/* Cluster placement (all NULL: every actor runs here).  local says
	 * whether plan actor i runs on this runtime; for the others,
	 * spawn_remote gives a ref that reaches the real actor (in the
	 * cluster a remote ref, runtime/remote.h).
	 * Only local sources are started and only local sinks are waited
	 * for. */
	int (*local)(void *arg, size_t actor);
	int (*spawn_remote)(void *arg, ls_runtime *rt, size_t actor,
	    ls_ref *out);

	/* Checkpoints (docs/failure-semantics.md): with checkpoint_ms > 0
	 * sources put a barrier into their streams every checkpoint_ms, ids
	 * ckpt_base + 1, + 2, ...; every local actor hands its state for
	 * each barrier to ckpt_save (blob malloc'd, the hook takes it; final:
	 * the actor has seen the end of all input).  At start each local
	 * actor asks ckpt_load for the state to resume from (0 and a
	 * malloc'd blob, or LS_ENOENT).  Sinks write results only for
	 * checkpoints that ls_pipeline_commit reported complete.
	 * first_checkpoint_ms (0 = checkpoint_ms) brings the first barrier
	 * forward: a run that just started or was restored then has a
	 * completed checkpoint soon, whatever the period. */
	int64_t checkpoint_ms;
	int64_t first_checkpoint_ms;
	uint64_t ckpt_base;
	void (*ckpt_save)(void *arg, size_t actor, uint64_t ckpt, int final,
	    uint8_t *blob, size_t len);
	int (*ckpt_load)(void *arg, size_t actor, uint8_t **blob, size_t *len);
	void *arg; /* for local, spawn_remote, ckpt_save, ckpt_load */

	/* Keyed state (docs/state.md, "Stages on keyed state"): with a store
	 * and checkpoints on, kinds with sync / load hooks keep their state
	 * in ls_state handles of store (borrowed), named
	 * "<ckpt_ns>/<stage>/<partition>"; their checkpoint blobs are
	 * changelogs chained through the blobs stored in store under
	 * topology ckpt_ns (the hooks above must store them there), so the
	 * owner of the hooks deletes blobs only below
	 * ls_pipeline_state_floor. */
	struct ls_store *store;
	const char *ckpt_ns;

	/* With checkpoints, 1: a jsonl sink appends committed output to its
	 * one file PATH and a restore truncates PATH to the length its
	 * checkpoint recorded (one node whose sinks never move: `logstream
	 * run --data-dir`); 0: one part file per checkpoint in PATH.d/. */
	int jsonl_append;
	/* Regional restore (ls_pipeline_rewind): > 0 keeps every actor's
	 * output since the last completed checkpoint in a replay log; when
	 * the logs of the pipeline hold this many events, sources hold new
	 * input until a completed checkpoint frees room.  0: no log (a
	 * rewind is refused). */
	size_t replay_log_events;
	/* The epoch the pipeline's actors start in (ls_stage_cfg.view), and
	 * their incarnation until a rewind restarts them. */
	uint64_t view;
	/* 1: every local actor starts as restarted by a regional restore
	 * from ckpt_base (a node that takes over partitions of a running
	 * topology): replay marks first, channels dropped until theirs, and
	 * sources send the barriers up to catch_up at once. */
	int restarted;
	uint64_t catch_up;
	/* `http` sources copy every record of their ingest log to the
	 * partition's replicas before they acknowledge it (actors/ingest.h;
	 * borrowed, must outlive the pipeline).  NULL: no replicas. */
	const struct ls_ingest_repl *ingest_repl;
} ls_pipeline_opts;

/* Counters of one topology node (summed over its partitions). */
typedef struct ls_pipeline_node_stats {
	const char *name;   /* borrowed from the topology */
	const char *kind;
	int64_t in;         /* events received (sources: produced) */
	int64_t out;        /* events passed on */
	int64_t dead;       /* events sent to the dead-letter output or, with
	                       none configured, counted here and logged */
	int64_t late;       /* late events (window stages) */
	int64_t results;    /* results emitted (kinds with a result schema)
	                       or written (sinks) */
	int emits_results;  /* the node's kind has a result schema */
} ls_pipeline_node_stats;

/* Spawn and start the plan's actors on rt.  plan (and its topology) are
 * borrowed and must outlive the pipeline.  On failure returns an error,
 * writes a reason into err, and leaves no actor running. */
int ls_pipeline_start(ls_runtime *rt, const ls_plan *plan,
    const ls_pipeline_opts *opts, ls_pipeline **out, char *err,
    size_t errlen);

/* Checkpoint ckpt completed everywhere: local sinks write the results
 * they hold for checkpoints <= ckpt.  Any thread. */
void ls_pipeline_commit(ls_pipeline *p, uint64_t ckpt);

/* The oldest checkpoint a local partition on keyed state still builds
 * on (its folded base): blobs of ids <= floor are of no use to a restore
 * here, later ones may be.  UINT64_MAX with no such partition.  Any
 * thread. */
uint64_t ls_pipeline_state_floor(ls_pipeline *p);

/* Regional restore (docs/failure-semantics.md, "Regional restore"): every
 * plan actor i whose incarnation inc[i] is above its current one starts
 * again from checkpoint ckpt, here or elsewhere (opts->local decides, and
 * opts->ckpt_load gives the state as at a start); the others keep running
 * and replay to the restarted ones, from their logs, what they sent after
 * ckpt's barrier.  Restarted actors start in epoch `view`.  The caller
 * must restart, across the cluster, the downstream closure of every
 * restarted actor and nothing upstream of one that is not in that closure
 * (a plan actor downstream of a restarted one must be restarted too).
 * Restarted sources send at once the barriers after ckpt up to the highest
 * a local source sent or hint, whichever is higher (their checkpoints do
 * not trail the others').  Stops the old incarnations first (waits up to
 * 10 s), then calls stopped(arg) (may be NULL) before any new one starts:
 * the caller's placement tables may change there.  Not concurrent
 * with itself or ls_pipeline_commit.  LS_ENOTSUP without a replay log;
 * on other errors the pipeline cannot go on (free it). */
int ls_pipeline_rewind(ls_pipeline *p, const uint64_t *inc, uint64_t view,
    uint64_t ckpt, uint64_t hint, void (*stopped)(void *), void *arg,
    char *err, size_t errlen);

/* Plan actor i (local, on keyed state) gained a standby, which has no copy
 * of its state: its next checkpoint ships the whole state, as after a
 * restore (once no earlier checkpoint of it waits to be folded; a later
 * one then).  Any thread. */
void ls_pipeline_reship(ls_pipeline *p, size_t actor);

/* ---- interactive queries (docs/queries.md) ----
 * A query goes to one local partition as a message and is answered on the
 * actor's thread between two of its messages, by the kind's query hook
 * (topology/kind.h), so the state needs no lock.  The answer is the rows
 * the hook appended, ordered (ls_records_order), cut at the query's limit
 * and encoded as a RecordBatch ("LSRB", schemas/codec.h) that owns all its
 * bytes.  The request is reference counted: the caller's reference and the
 * message's; whichever is dropped last frees it, so a caller that gives up
 * (a timeout) never frees memory the actor still writes. */
typedef struct ls_pipeline_query_req ls_pipeline_query_req;

/* Send q (copied) to plan actor `actor`.  On success *out is the caller's
 * reference (ls_pipeline_query_wait, then _release).  LS_ENOENT: no such
 * actor or it does not run here; LS_ENOTSUP: its kind has no query hook;
 * LS_EAGAIN: its mailbox is full (try again); LS_EINVAL: bad arguments;
 * LS_ENOMEM.  Any thread. */
int ls_pipeline_query_start(ls_pipeline *p, size_t actor,
    const ls_kind_query *q, ls_pipeline_query_req **out);

/* Wait up to timeout_ms (< 0: forever) for the answer: 0 and the encoded
 * rows in *buf (malloc'd, caller frees) and *len; LS_ETIMEDOUT; LS_EAGAIN
 * when the actor stopped before it answered; or the hook's error.  The
 * pipeline may have been freed meanwhile.  Any thread; once per query. */
int ls_pipeline_query_wait(ls_pipeline_query_req *w, int64_t timeout_ms,
    uint8_t **buf, size_t *len);

/* Drop the caller's reference (NULL is fine). */
void ls_pipeline_query_release(ls_pipeline_query_req *w);

/* Start, wait and release in one call (a local caller that does not hold
 * a lock the pipeline's owner needs). */
int ls_pipeline_query(ls_pipeline *p, size_t actor, const ls_kind_query *q,
    int64_t timeout_ms, uint8_t **buf, size_t *len);

/* Plan actor i's ref on this runtime (the actor, or its proxy). */
ls_ref ls_pipeline_ref(const ls_pipeline *p, size_t i);

/* Ask every source to end its stream now (graceful: in-flight data is
 * processed and windows flush).  Any thread; idempotent. */
void ls_pipeline_drain(ls_pipeline *p);

/* Wait until every sink has seen the end of every stream (0) or timeout_ms
 * passes (LS_ETIMEDOUT); timeout_ms < 0 waits forever. */
int ls_pipeline_wait(ls_pipeline *p, int64_t timeout_ms);

/* 1 once ls_pipeline_wait would return 0. */
int ls_pipeline_done(ls_pipeline *p);

/* Fill up to cap entries (one per topology node, in topology order);
 * returns the number of nodes. */
size_t ls_pipeline_stats(ls_pipeline *p, ls_pipeline_node_stats *st,
    size_t cap);

/* Free the pipeline.  Call after ls_runtime_destroy (actors borrow its
 * configuration until they stop). */
void ls_pipeline_free(ls_pipeline *p);

#endif /* LS_ACTORS_PIPELINE_H */
