/*
 * evstage.h -- the frame of a stage that folds events into an event-time
 * state and emits typed records when the watermark closes something: the
 * window and session stages (actors/window_actor.c, session_actor.c).
 *
 * The frame owns what such a stage does the same way whatever its state:
 * the output queue and checkpoint gate, per-input watermarks (wmark.h), the
 * records gathered during one receive, and the handling of batches (add
 * each event; one without a time, or out of range, goes to the dead-letter
 * output), timer ticks (advance, idle), end of stream (flush once every
 * input ended) and writable notices.  The state itself is behind a table of
 * four functions.  The actor's state struct begins with an ls_evstage, so
 * the frame's receive can hand the whole struct to the kind's checkpoint
 * hooks.  One actor's thread only.
 */
#ifndef LS_ACTORS_EVSTAGE_H
#define LS_ACTORS_EVSTAGE_H

#include "actors/stage.h"
#include "actors/wmark.h"

typedef struct ls_evstage_ops {
	/* 0, or LS_EINVAL (no time), LS_ERANGE (dead-lettered), LS_ENOMEM
	 * (the actor fails and its supervisor restarts it) */
	int (*add)(void *state, const ls_event *ev);
	void (*advance)(void *state, int64_t watermark_ns);
	void (*idle)(void *state, int64_t now_ns);
	void (*flush)(void *state);
} ls_evstage_ops;

typedef struct ls_evstage {
	const ls_stage_cfg *cfg;
	ls_outq q;
	ls_gate gate;
	uint32_t eos;
	ls_wmark wm;
	/* wall time of the last batch received (the start at first): the
	 * kind's idle rule applies only after idle_timeout without one */
	int64_t rx_ns;
	ls_ctx *ctx;        /* valid during a receive, for callbacks */
	const char *source; /* source of the batch being added */
	ls_records *res;    /* results gathered during this receive */
	const ls_evstage_ops *ops;
	void *state;        /* the argument of ops */
	const char *mod;    /* log module name */
	/* Interactive queries: the result batches this stage sent most
	 * recently (references), oldest first, holding at least the last
	 * `keep` rows (whole batches; 0: none kept).  On keyed state they are
	 * part of the checkpoints (ls_evstage_sync_recent): batch number
	 * seq0 + i is recent[i]; the state holds those below `written`, and
	 * none below `gone`. */
	ls_records **recent;
	uint32_t nrecent, caprecent;
	size_t recent_rows, keep;
	uint64_t seq0, written, gone;
} ls_evstage;

/* Set up f for cfg (borrowed), its state behind ops (before the state is
 * restored: the restore goes through f->gate). */
void ls_evstage_init(ls_evstage *f, const ls_stage_cfg *cfg,
    const ls_evstage_ops *ops, void *state, const char *mod);

/* After the restore: start the per-input watermarks (trailing by the
 * topology's watermark_delay, with its idle_timeout; the stage's age counts
 * from now) and the periodic tick (cfg->tick_ms).  0 or the timer's
 * error. */
int ls_evstage_start(ls_ctx *ctx, ls_evstage *f);

/* Free what the frame holds (queue, gate, watermarks, records). */
void ls_evstage_fini(ls_ctx *ctx, ls_evstage *f);

/* The records of this receive, made on first use; NULL when out of memory
 * (logged). */
ls_records *ls_evstage_rows(ls_evstage *f);

/* A result row was appended with rc (0: counted in the results metric;
 * else logged as dropped). */
void ls_evstage_counted(ls_evstage *f, int rc);

/* Does a row with these key values and the span [start_ns, end_ns) (end
 * exclusive) match q (keys, prefix, time range)? */
int ls_evstage_match(const ls_kind_query *q, const ls_str *keys,
    uint32_t nkeys, int64_t start_ns, int64_t end_ns);

/* The key values of row `row` of r (its KEY fields, at most max) into keys;
 * returns how many. */
uint32_t ls_evstage_row_keys(const ls_records *r, uint32_t row, ls_str *keys,
    uint32_t max);

/* Keyed state (the kind's sync / load hooks): the recent result batches
 * under keys 'r' + batch number (8 bytes big-endian), each an encoded
 * RecordBatch.  sync writes the batches not written yet (all of them with
 * all) and deletes those dropped since the last sync; load reads them back
 * (none: nothing kept yet).  The kind's own keys must not start with 'r'.
 * 0 or the state's / codec's error. */
int ls_evstage_sync_recent(ls_evstage *f, struct ls_state *st, int all);
int ls_evstage_load_recent(ls_evstage *f, struct ls_state *st);

/* The receive function: the gate (barriers, checkpoints of the whole actor
 * state `actor`, whose first member is f) around the frame's handling. */
int ls_evstage_receive(ls_ctx *ctx, ls_evstage *f, ls_msg *m);

#endif /* LS_ACTORS_EVSTAGE_H */
