/*
 * actor.h -- the LogStream actor runtime: public API.
 *
 * A runtime owns a pool of worker threads (M:N scheduling), a registry of
 * actors, a timer wheel and the runtime counters.  An actor is a behaviour
 * (a table of callbacks) plus private state; it is addressed only through an
 * ls_ref, a typed id resolved through the registry, so a reference to a
 * stopped actor yields LS_ENOENT and never freed memory.
 *
 * Guarantees:
 *   - one activation of an actor at a time; up to `batch` messages per
 *     activation (ls_runtime_opts);
 *   - FIFO order per (sender thread, receiver) pair;
 *   - mailboxes are bounded: a user send to a full mailbox returns LS_EAGAIN
 *     and the message stays with the sender (nothing is dropped).  A sender
 *     that is itself an actor (ls_ctx_send) is told with an LS_MSG_WRITABLE
 *     message once the receiver has drained to half its capacity;
 *   - user messages sent by an actor are published to their receivers in
 *     batches, at the latest when the sending activation ends, so a
 *     mailbox may briefly hold up to (workers - 1) x capacity/16 (at most
 *     64 each) more than its capacity; a message accepted (0) for a
 *     receiver that stops before it is published is freed like any
 *     message still queued at a stop;
 *   - system messages (stop, timers, restarts, supervision) travel in a
 *     separate lane that is not bounded by the user capacity and is always
 *     served first.
 */
#ifndef LS_ACTOR_H
#define LS_ACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct ls_runtime ls_runtime;
typedef struct ls_ctx ls_ctx;

/* A typed actor reference.  id 0 is "no actor". */
typedef struct ls_ref {
	uint64_t id;
} ls_ref;

#define LS_REF_NONE ((ls_ref){ 0 })

static inline int
ls_ref_valid(ls_ref r)
{
	return r.id != 0;
}

/*
 * Message types.  Values below LS_MSG_USER are the runtime's; an
 * application numbers its own from LS_MSG_USER up.  The ones marked
 * (delivered) reach the behaviour's receive callback; the rest are handled
 * by the runtime itself.
 */
enum ls_msg_type {
	LS_MSG_STOP = 1,         /* stop the actor after this message */
	LS_MSG_RESTART,          /* end of restart backoff (internal) */
	LS_MSG_TIMER,            /* (delivered) a timer fired; data = uint64 tag */
	LS_MSG_CHILD_FAILED,     /* (delivered) a supervised child gave up;
	                            from = the child, data = int error */
	LS_MSG_WRITABLE,         /* (delivered) a full mailbox drained;
	                            from = the receiver that was full */
	LS_MSG_USER = 64
};

/*
 * A message.  Allocated with ls_msg_new(); owned by whoever holds it: the
 * caller until ls_send() returns 0, then the runtime, which frees it after
 * the receiver's receive callback returns (receive borrows it).  A message
 * can carry inline bytes (ls_msg_data(m), size bytes) and/or a pointer payload `ptr`
 * whose `dtor` (if set) is called when the message is freed; a receiver that
 * keeps ptr for itself sets m->ptr = NULL (taking ownership).
 */
typedef struct ls_msg ls_msg;
struct ls_msg {
	ls_msg *_Atomic next; /* runtime-internal mailbox link */
	uint32_t type;        /* enum ls_msg_type or an application type */
	uint32_t size;        /* bytes of inline payload */
	ls_ref from;          /* sender, LS_REF_NONE when not an actor */
	void *ptr;            /* optional pointer payload */
	void (*dtor)(void *ptr);
	uint32_t cap;  /* runtime-internal: allocated payload bytes */
	uint32_t _pad;
	/* the size-byte inline payload follows; see ls_msg_data() */
};

/* The inline payload of m (8-byte aligned, m->size bytes). */
static inline void *
ls_msg_data(ls_msg *m)
{
	return (void *)(m + 1);
}

/*
 * A behaviour: the code of an actor kind.  All callbacks run on a worker
 * thread, one at a time per actor.  `state` is state_size zeroed bytes owned
 * by the runtime.  A non-zero return from init or receive is a failure
 * handled by supervision (see ls_spawn_opts).
 */
typedef struct ls_behaviour {
	const char *name; /* kind name for logs and metrics */
	size_t state_size;
	/* Optional.  arg is the spawn argument (see ls_spawn_opts.arg). */
	int (*init)(ls_ctx *ctx, void *state, const void *arg);
	/* Required.  Borrows msg. */
	int (*receive)(ls_ctx *ctx, void *state, ls_msg *msg);
	/* Optional.  Last call on this state: release what init acquired. */
	void (*stop)(ls_ctx *ctx, void *state);
	/* Optional hooks for checkpoints (used by the state layer). */
	int (*snapshot)(ls_ctx *ctx, void *state, void **data, size_t *len);
	int (*restore)(ls_ctx *ctx, void *state, const void *data, size_t len);
} ls_behaviour;

typedef struct ls_spawn_opts {
	const char *name;  /* register under this unique name (optional) */
	ls_ref supervisor; /* told with LS_MSG_CHILD_FAILED on give-up */
	const void *arg;   /* passed to init; copied when arg_size > 0,
	                      else borrowed and must outlive the actor */
	size_t arg_size;
	uint32_t mailbox_cap;      /* user messages; 0 = runtime default */
	uint32_t max_restarts;     /* within restart_window_ms; 0 = default,
	                              UINT32_MAX = never restart */
	int64_t restart_window_ms; /* 0 = default (10 s) */
	int64_t backoff_min_ms;    /* first restart delay; 0 = default */
	int64_t backoff_max_ms;    /* cap of the doubling delay; 0 = default */
} ls_spawn_opts;

typedef struct ls_runtime_opts {
	unsigned workers;      /* worker threads; 0 = one per online core */
	uint32_t mailbox_cap;  /* default mailbox capacity; 0 = 1024 */
	uint32_t batch;        /* messages per activation; 0 = 64 */
	uint32_t max_restarts; /* default 5 within restart_window_ms */
	int64_t restart_window_ms;
	int64_t backoff_min_ms; /* default 10 ms */
	int64_t backoff_max_ms; /* default 1 s */
} ls_runtime_opts;

/* Runtime-wide counters and gauges (sums over workers; racy snapshot). */
typedef struct ls_runtime_stats {
	uint64_t sent;          /* messages accepted into mailboxes */
	uint64_t received;      /* messages handled by actors */
	uint64_t activations;   /* scheduler runs of an actor */
	uint64_t mailbox_full;  /* sends refused with LS_EAGAIN */
	uint64_t spawned;
	uint64_t stopped;
	uint64_t restarts;
	uint64_t failures;      /* init/receive returned an error */
	uint64_t steals;        /* actors taken from another worker */
	uint64_t timers_fired;
	int64_t actors;         /* alive now */
	int64_t queued;         /* messages waiting in all mailboxes */
} ls_runtime_stats;

/* Create and start a runtime (threads running).  opts may be NULL.  On
 * success *out is a new runtime the caller must ls_runtime_destroy(). */
int ls_runtime_create(const ls_runtime_opts *opts, ls_runtime **out);

/* Stop every actor (their stop callbacks run, mailboxes are freed), join the
 * threads and free everything.  Must not be called from a worker thread. */
void ls_runtime_destroy(ls_runtime *rt);

/* Number of worker threads. */
unsigned ls_runtime_workers(const ls_runtime *rt);

/* Fill *st with the current counters; any thread. */
void ls_runtime_stats_get(ls_runtime *rt, ls_runtime_stats *st);

struct ls_metrics;

/* Publish the runtime's counters in a metrics registry (refreshed on every
 * export): logstream_runtime_messages_sent_total, _received_total,
 * _activations_total, _mailbox_full_total, _restarts_total,
 * _failures_total, _steals_total, _timers_fired_total,
 * _actors_spawned_total, _actors_stopped_total, and the gauges
 * logstream_runtime_actors and logstream_runtime_mailbox_depth (messages
 * queued in all mailboxes).  rt must outlive the registry's exports. */
int ls_runtime_export_metrics(ls_runtime *rt, struct ls_metrics *m);

/* Block until no actor is alive or timeout_ms passes (LS_ETIMEDOUT);
 * timeout_ms < 0 waits forever.  Not from a worker thread. */
int ls_runtime_wait_idle(ls_runtime *rt, int64_t timeout_ms);

/* Spawn an actor; init runs on the calling thread before the actor becomes
 * visible.  On success *out (may be NULL) is its reference.  Errors:
 * LS_ENOMEM, LS_EEXIST (name taken), LS_EINVAL, or init's own error. */
int ls_spawn(ls_runtime *rt, const ls_behaviour *b, const ls_spawn_opts *opts,
    ls_ref *out);

/* Resolve a registered name; LS_ENOENT when no live actor has it. */
int ls_lookup(ls_runtime *rt, const char *name, ls_ref *out);

/* 1 when ref names a live actor. */
int ls_alive(ls_runtime *rt, ls_ref ref);

/* Ask an actor to stop (a system message; messages already queued before it
 * in the system lane are handled first, user messages are freed).  Any
 * thread.  LS_ENOENT if not alive. */
int ls_stop(ls_runtime *rt, ls_ref ref);

/* A new message with size bytes of (uninitialised) inline data; NULL when out
 * of memory.  Any thread. */
ls_msg *ls_msg_new(ls_runtime *rt, uint32_t type, size_t size);

/* Free a message you own (calls m->dtor(m->ptr) if both set). */
void ls_msg_free(ls_runtime *rt, ls_msg *m);

/* Send m to `to`; takes m iff it returns 0.  LS_EAGAIN: the mailbox is full
 * (m is still yours); LS_ENOENT: no such actor.  Any thread. */
int ls_send(ls_runtime *rt, ls_ref to, ls_msg *m);

/* Copy n bytes into a new message and send it; frees it on failure. */
int ls_tell(ls_runtime *rt, ls_ref to, uint32_t type, const void *data,
    size_t n);

/*
 * Timers.  A timer sends a system-lane LS_MSG_TIMER message whose data is
 * the 8-byte tag to `to` after delay_ms, then every interval_ms if > 0.
 * Resolution is 1 ms.  *id (may be NULL) identifies it for ls_timer_cancel.
 */
int ls_timer_start(ls_runtime *rt, ls_ref to, int64_t delay_ms,
    int64_t interval_ms, uint64_t tag, uint64_t *id);

/* Cancel a timer; LS_ENOENT when it already fired (one-shot) or is unknown.
 * A firing already in flight may still be delivered. */
int ls_timer_cancel(ls_runtime *rt, uint64_t id);

/* ---- inside a behaviour callback ---- */

/* The actor being run. */
ls_ref ls_self(const ls_ctx *ctx);

/* The runtime running it. */
ls_runtime *ls_ctx_runtime(const ls_ctx *ctx);

/* Send from the running actor (m->from is set).  Same ownership and errors
 * as ls_send; on LS_EAGAIN the running actor is registered to receive one
 * LS_MSG_WRITABLE from `to` when its mailbox drains. */
int ls_ctx_send(ls_ctx *ctx, ls_ref to, ls_msg *m);

/* Relay m on behalf of m->from (kept as it is): otherwise as ls_ctx_send,
 * the running actor is the one registered for LS_MSG_WRITABLE. */
int ls_ctx_forward(ls_ctx *ctx, ls_ref to, ls_msg *m);

/* Copying variant of ls_ctx_send; frees the message on failure. */
int ls_ctx_tell(ls_ctx *ctx, ls_ref to, uint32_t type, const void *data,
    size_t n);

/* Stop the running actor when the current callback returns. */
void ls_ctx_stop(ls_ctx *ctx);

/* Stop receiving user-lane messages after the current one; they stay
 * queued (the mailbox bound then pushes back on senders).  System messages
 * such as LS_MSG_WRITABLE and timers still arrive.  Used by an actor whose
 * own outputs are refused, to propagate backpressure upstream. */
void ls_ctx_pause(ls_ctx *ctx);

/* Undo ls_ctx_pause: user messages are delivered again. */
void ls_ctx_resume(ls_ctx *ctx);

/* Spawn a child supervised by the running actor (opts->supervisor is set to
 * self when it is LS_REF_NONE). */
int ls_ctx_spawn(ls_ctx *ctx, const ls_behaviour *b, const ls_spawn_opts *opts,
    ls_ref *out);

/* Monotonic clock in ns; any thread. */
int64_t ls_clock_ns(void);

/* Wall clock in ns since the Unix epoch; any thread. */
int64_t ls_wall_ns(void);

struct timespec;

/* Fill *ts with the CLOCK_REALTIME instant timeout_ms from now, for
 * pthread_cond_timedwait. */
void ls_abstime_after(int64_t timeout_ms, struct timespec *ts);

#endif /* LS_ACTOR_H */
