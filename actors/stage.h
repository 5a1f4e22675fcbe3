/*
 * stage.h -- what the stage actors of a pipeline share (actors/ only).
 *
 * Every actor of a pipeline gets an ls_stage_cfg (owned by the pipeline) as
 * its spawn argument, and keeps an ls_outq for outputs its consumers have
 * refused.  Message types on the wire between stage actors:
 *
 *   LS_MSG_BATCH   ptr = ls_batch* (dtor ls_batch_dtor)
 *   LS_MSG_EOS     end of stream from one upstream actor (no payload)
 *   LS_MSG_RESULTS ptr = ls_results* (window results, refcounted)
 *   LS_MSG_DEAD    ptr = NUL-terminated JSON record (dtor free)
 *   LS_MSG_PUMP    a source's "produce more" reminder to itself
 *   LS_MSG_DRAIN   end the stream now (sources)
 */
#ifndef LS_ACTORS_STAGE_H
#define LS_ACTORS_STAGE_H

#include <stdatomic.h>

#include "actors/batch.h"
#include "actors/pipeline.h"
#include "actors/window.h"
#include "runtime/actor.h"
#include "runtime/arena.h"
#include "topology/plan.h"

enum {
	LS_MSG_BATCH = LS_MSG_USER + 1,
	LS_MSG_EOS,
	LS_MSG_RESULTS,
	LS_MSG_DEAD,
	LS_MSG_PUMP,
	LS_MSG_DRAIN
};

#define LS_BATCH_EVENTS 512 /* events per batch a source emits */

typedef struct ls_stage_ctr {
	_Atomic int64_t *in, *out, *dead, *late, *results;
} ls_stage_ctr;

/* One consumer node of an actor: its partitions' refs. */
typedef struct ls_stage_out {
	const ls_topo_node *node;
	uint32_t nparts;
	ls_ref *refs;
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
} ls_stage_cfg;

/* Window results sent to sinks: rows share one arena for key strings. */
typedef struct ls_results {
	_Atomic uint32_t refs;
	const char *stage;
	uint32_t nkeys, naggs;
	const char *key_fields[LS_WINDOW_MAX_KEYS];
	const char *agg_names[LS_WINDOW_MAX_AGGS];
	uint32_t n, cap;
	ls_window_result *rows;
	ls_arena arena;
} ls_results;

void ls_results_unref(void *r);

/* Outputs refused by a full consumer, kept in send order. */
typedef struct ls_outq {
	ls_ref *to;
	ls_msg **m;
	uint32_t n, cap;
} ls_outq;

/* Send m to `to` after anything already queued; takes m.  A refusal keeps
 * it queued and pauses this actor's input.  LS_ENOENT/LS_ENOMEM: dropped
 * with a log line (the consumer is gone). */
void ls_outq_send(ls_ctx *ctx, ls_outq *q, ls_ref to, ls_msg *m);

/* Retry queued outputs in order; resumes input once all went out. */
void ls_outq_flush(ls_ctx *ctx, ls_outq *q);

/* Free everything still queued. */
void ls_outq_fini(ls_runtime *rt, ls_outq *q);

/* Route the events of b (borrowed) to every data consumer: whole batch to
 * unkeyed/single-partition consumers, per-partition views otherwise. */
void ls_stage_emit(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    ls_batch *b);

/* Send an end-of-stream marker to every consumer (dead-letter included). */
void ls_stage_emit_eos(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q);

/* Send one dead-letter record to the dead-letter sink, or count and log it
 * when there is none.  ls_stage_dead is for raw lines (ev->message is the
 * line as read); ls_stage_dead_event for parsed events, whose record holds
 * the event's fields. */
void ls_stage_dead(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const char *reason, const ls_event *ev, const char *source);
void ls_stage_dead_event(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const char *reason, const ls_event *ev, const char *source);

/* A sink saw end of stream from all its inputs. */
void ls__pipeline_sink_done(ls_pipeline *p);

extern const ls_behaviour ls_source_behaviour;
extern const ls_behaviour ls_parse_behaviour;
extern const ls_behaviour ls_filter_behaviour;
extern const ls_behaviour ls_window_behaviour;
extern const ls_behaviour ls_sink_behaviour;

#endif /* LS_ACTORS_STAGE_H */
