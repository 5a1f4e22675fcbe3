/*
 * stage.h -- what the stage actors of a pipeline share (actors/ only).
 *
 * Every actor of a pipeline gets an ls_stage_cfg (owned by the pipeline) as
 * its spawn argument, and keeps an ls_outq for outputs its consumers have
 * refused.  Message types on the wire between stage actors:
 *
 *   LS_MSG_BATCH   ptr = ls_batch* (dtor ls_batch_dtor)
 *   LS_MSG_EOS     end of stream from one upstream actor (no payload)
 *   LS_MSG_RESULTS ptr = ls_records* (typed result rows, refcounted,
 *                  runtime/record.h)
 *   LS_MSG_DEAD    ptr = NUL-terminated JSON record (dtor free)
 *   LS_MSG_PUMP    a source's "produce more" reminder to itself
 *   LS_MSG_DRAIN   end the stream now (sources)
 *   LS_MSG_BARRIER checkpoint barrier, inline uint64 checkpoint id
 *   LS_MSG_COMMIT  checkpoint id completed cluster-wide (sinks), inline
 *                  uint64
 *   LS_MSG_MARK    replay mark, inline uint64 checkpoint id: the first
 *                  message of a channel into a partition restarted by
 *                  ls_pipeline_rewind (what follows starts after that
 *                  checkpoint)
 *   LS_MSG_REWIND  from the pipeline to a running actor: consumers of it
 *                  were restarted, replay its output to them (no payload)
 *   LS_MSG_QUERY   ptr = an interactive query (ls_pipeline_query_start,
 *                  one reference; dtor drops it): answered by the kind's
 *                  query hook between two messages (ls_stage_receive)
 *
 * With checkpoints on (ls_pipeline_opts.checkpoint_ms > 0) an EOS carries
 * an inline uint64 too: the id of the final checkpoint, taken once a stage
 * has seen the end of every input (see actors/checkpoint.c and
 * docs/failure-semantics.md).
 */
#ifndef LS_ACTORS_STAGE_H
#define LS_ACTORS_STAGE_H

#include <stdatomic.h>

#include "actors/batch.h"
#include "actors/pipeline.h"
#include "runtime/actor.h"
#include "runtime/arena.h"
#include "runtime/record.h"
#include "topology/kind.h"
#include "topology/plan.h"

enum {
	LS_MSG_BATCH = LS_MSG_USER + 1,
	LS_MSG_EOS,
	LS_MSG_RESULTS,
	LS_MSG_DEAD,
	LS_MSG_PUMP,
	LS_MSG_DRAIN,
	LS_MSG_BARRIER,
	LS_MSG_COMMIT,
	LS_MSG_MARK,
	LS_MSG_REWIND,
	LS_MSG_QUERY
};

#define LS_BATCH_EVENTS 512 /* events per batch a source emits */

typedef struct ls_stage_ctr {
	_Atomic int64_t *in, *out, *dead, *late, *results;
} ls_stage_ctr;

/* One consumer node of an actor: its partitions' refs. */
typedef struct ls_stage_out {
	const ls_topo_node *node;
	uint32_t nparts;
	uint32_t first; /* plan index of partition 0 */
	uint32_t rr; /* round-robin cursor for unkeyed consumers */
} ls_stage_out;

typedef struct ls_stage_cfg {
	ls_pipeline *pl;
	const ls_topology *topo;
	const ls_topo_node *node;
	uint32_t node_index;
	uint32_t partition;
	ls_stage_out *outs;  /* data consumers */
	uint32_t nouts;
	ls_stage_out *dlq;   /* dead-letter sink or NULL */
	uint32_t n_upstream; /* end-of-stream markers to expect */
	ls_stage_ctr ctr;
	FILE *out;           /* stdout sinks */
	int64_t tick_ms;
	uint32_t actor_index; /* index in the plan: stable across nodes */
	int64_t checkpoint_ms; /* sources: barrier period; 0 = no checkpoints */
	int64_t first_checkpoint_ms; /* sources: the first barrier after start */
	uint64_t ckpt_base;  /* sources: first barrier id is ckpt_base + 1 */
	int jsonl_append;    /* sinks: ls_pipeline_opts.jsonl_append */
	const ls_kind *kind; /* the node's kind table */
	const ls_rec_schema *results; /* kinds with a result schema: the
	                                 node's, owned by the pipeline */
	struct ls_store *store; /* keyed state: the node's store, or NULL */
	const char *ckpt_ns;  /* topology name of its checkpoint blobs */
	/* Regional restore (ls_pipeline_rewind): the epoch this incarnation
	 * of the actor started in (consumers restarted later get a replay of
	 * its output), and whether it was restarted -- then its first output
	 * to every consumer is a replay mark, ckpt_base is the checkpoint it
	 * restarted from, and its gate drops what a channel delivers before
	 * that channel's mark. */
	uint64_t view;
	int restarted;
	uint64_t catch_up; /* restarted sources: barriers up to this id go
	                      out at once */
	const struct ls_ingest_repl *ingest_repl; /* ls_pipeline_opts */
} ls_stage_cfg;

/* One message kept in an actor's replay log (a reference on its payload). */
typedef struct ls_outq_log {
	uint32_t dest; /* plan actor */
	uint32_t type;
	void *ptr;
	void (*dtor)(void *);
	uint64_t val;
} ls_outq_log;

/* An actor's outputs: those refused by a full consumer, kept in send order
 * (by plan actor index: the ref is looked up when sent), and, with the
 * pipeline's replay log on, everything sent since the last completed
 * checkpoint (ls_pipeline_opts.replay_log_events). */
typedef struct ls_outq {
	const ls_stage_cfg *cfg; /* set by the first send */
	uint32_t *to;
	ls_msg **m;
	uint32_t n, cap;
	ls_outq_log *log;
	size_t head, nlog, caplog;
	uint64_t *seen;  /* per plan actor: incarnation replayed to (0: view) */
	uint64_t rewinds; /* the pipeline's rewind count at the last look */
	int marked;      /* restarted: replay marks sent */
	int eos_trimmed; /* an EOS left the log: replays end with eos_val */
	uint64_t eos_val;
} ls_outq;

/* Retry queued outputs in order; resumes input once all went out. */
void ls_outq_flush(ls_ctx *ctx, ls_outq *q);

/* Free everything still queued or logged. */
void ls_outq_fini(ls_runtime *rt, ls_outq *q);

/* Checkpoint ckpt completed: forget the logged output up to its barrier. */
void ls_outq_commit(ls_outq *q, uint64_t ckpt);

/* LS_MSG_REWIND: replay the log to every consumer restarted since the
 * last look (ls_pipeline_rewind). */
void ls_outq_rewind(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q);

/* The node's replay logs are at their bound: sources hold new input
 * (barriers still go out) until a completed checkpoint frees room. */
int ls__pipeline_log_full(const ls_pipeline *p);

/* A local source sent barrier ckpt (the highest is a restarted source's
 * catch_up). */
void ls__pipeline_barrier(ls_pipeline *p, uint64_t ckpt);

/* Route the events of b (borrowed) to every data consumer: whole batch to
 * unkeyed/single-partition consumers, per-partition views otherwise. */
void ls_stage_emit(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    ls_batch *b);

/* ls_stage_emit to data consumer cfg->outs[o] only (a `route` stage). */
void ls_stage_emit_to(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    uint32_t o, ls_batch *b);

/* Send result records r to every partition of every data consumer (sinks);
 * takes the caller's reference to r. */
void ls_stage_emit_records(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    ls_records *r);

/* Send an end-of-stream marker to every consumer (dead-letter included);
 * ckpt is the final checkpoint id it carries (0 without checkpoints). */
void ls_stage_emit_eos(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    uint64_t ckpt);

/* Send checkpoint barrier ckpt to every consumer (dead-letter included),
 * after everything already sent. */
void ls_stage_emit_barrier(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    uint64_t ckpt);

/* The uint64 an EOS / BARRIER / COMMIT message carries (0 if none). */
uint64_t ls_stage_msg_u64(ls_msg *m);

/* ---- checkpoints (actors/checkpoint.c) ----
 *
 * A gate sits in front of a stage's receive function and aligns barriers:
 * once barrier k arrived from an input channel (an upstream actor), later
 * messages of that channel are held until k arrived from every channel
 * still open; then the stage's state is saved for k, k is passed on, and
 * the held messages are processed in arrival order. */
typedef struct ls_gate_item {
	uint32_t type;
	ls_ref from;
	void *ptr;
	void (*dtor)(void *);
	uint64_t val;
} ls_gate_item;

typedef struct ls_gate {
	uint64_t cur;     /* barrier being aligned, 0 = none */
	uint64_t eos_max; /* largest final id carried by an EOS */
	uint64_t aligned; /* alignments completed (replay restarts on change) */
	uint32_t arrived; /* channels blocked on cur */
	uint32_t ended;   /* channels that sent EOS */
	int final_saved;
	struct ls_gate_chan {
		uint64_t id;
		uint8_t blocked, ended;
		uint8_t marked; /* its replay mark arrived (restarted stage) */
	} *ch;
	uint32_t nch, capch;
	ls_gate_item *held;
	uint32_t nheld, capheld;
	struct ls_kstate *ks; /* keyed state of the partition, or NULL */
} ls_gate;

/* The messages other than batches of a stage that passes events on:
 * LS_MSG_WRITABLE flushes q; the cfg->n_upstream-th LS_MSG_EOS (counted in
 * *eos) ends the stream downstream with g->eos_max; others are ignored.
 * For the handler a stage gives ls_stage_receive.  Returns 0. */
int ls_stage_pass_other(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const ls_gate *g, uint32_t *eos, ls_msg *m);

/* Handle one message (the stage's own logic). */
typedef int (*ls_stage_handle_fn)(ls_ctx *ctx, void *st, ls_msg *m);

/* The receive function of a gated stage: aligns barriers, saves state
 * through its kind's save hook when aligned (and once more, final, after
 * the end of every input) and passes everything else to handle. */
int ls_stage_receive(ls_ctx *ctx, ls_gate *g, const ls_stage_cfg *cfg,
    ls_outq *q, ls_msg *m, ls_stage_handle_fn handle, void *st);

/* Restore a partition's state st through its kind's restore hook: from the
 * pipeline's saved state, or as a fresh start (restore(st, NULL, 0)) when
 * there is none.  Any other failure to read the state is returned, never
 * taken for a fresh start.  0 without a restore hook. */
int ls_stage_restore(const ls_stage_cfg *cfg, void *st);

/* The same for a kind that may keep keyed state (kind->sync and load):
 * with a store and checkpoints on, opens the partition's ls_state handle
 * (kept in g), brings it to the restored checkpoint from the chain of
 * changelog blobs (actors/kstate.h) and calls the kind's load; else
 * ls_stage_restore. */
int ls_stage_restore_state(const ls_stage_cfg *cfg, ls_gate *g, void *st);

/* Keyed state is on for this partition (store, checkpoints, kind hooks). */
int ls_stage_kstate_on(const ls_stage_cfg *cfg);

/* The partition's keyed state folded checkpoint base (pipeline floor for
 * the deletion of old blobs, ls_pipeline_state_floor). */
void ls__pipeline_folded(ls_pipeline *p, uint32_t actor, uint64_t base);

/* Take a pending ls_pipeline_reship request of actor (1: there was one). */
int ls__pipeline_reship_take(ls_pipeline *p, uint32_t actor);

/* Free what a gate holds. */
void ls_gate_fini(ls_gate *g);

/* Hand a partition's saved state for checkpoint ckpt to the pipeline's
 * checkpoint hook (final: the partition has ended).  Takes buf. */
void ls_stage_ckpt_save(const ls_stage_cfg *cfg, uint64_t ckpt, int final,
    uint8_t *buf, size_t len);

/* The state to restore a partition from, if the pipeline has one: 0 and a
 * malloc'd buffer (caller frees), or LS_ENOENT for a fresh start. */
int ls_stage_ckpt_load(const ls_stage_cfg *cfg, uint8_t **buf, size_t *len);

/* Checkpointing is on for this pipeline. */
int ls_stage_ckpt_on(const ls_stage_cfg *cfg);

/* Send one dead-letter record to the dead-letter sink, or count and log it
 * when there is none.  ls_stage_dead is for raw lines (ev->message is the
 * line as read); ls_stage_dead_event for parsed events, whose record holds
 * the event's fields. */
void ls_stage_dead(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const char *reason, const ls_event *ev, const char *source);
void ls_stage_dead_event(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const char *reason, const ls_event *ev, const char *source);

/* LS_MSG_QUERY: answer the query m->ptr through the kind's query hook
 * with the partition's state st (what the checkpoint hooks get). */
void ls__stage_query(const ls_stage_cfg *cfg, void *st, ls_msg *m);

/* Sink plan actor `actor` saw end of stream from all its inputs. */
void ls__pipeline_sink_done(ls_pipeline *p, uint32_t actor);

#endif /* LS_ACTORS_STAGE_H */
