/*
 * runtime_int.h -- internals shared by actor.c, sched.c and timer.c.
 *
 * Not a public header: actors/, cluster/ and cmd/ use actor.h only.
 *
 * Scheduling protocol (count based).  The count in a->pending (its low 31
 * bits, LS__P_COUNT) counts messages enqueued in either lane and not yet
 * consumed.  The invariant is:
 *
 *     the actor is in a run queue or running  <=>  count > 0
 *                                                  (or it was woken from
 *                                                   parking, see below)
 *
 * A sender counts its message in pending before linking it into a lane (so
 * count >= messages queued + popped-but-not-yet-subtracted, always), and
 * the sender that moves the count from 0 to >0 schedules the actor.  A
 * worker runs up to `batch` messages, subtracts what it consumed and
 * requeues the actor if anything is left, so no two workers ever run one
 * actor.
 *
 * Parking.  During restart backoff, or while paused by its behaviour
 * (ls_ctx_pause, used to propagate backpressure), an actor must not consume
 * user messages but keeps them.  It stores parked = 1 and is not requeued
 * even though pending > 0.  A waker (a system-lane send, or the restart
 * timer after setting restart_due) schedules it iff it wins
 * exchange(parked, 0) == 1, so exactly one party requeues it.  After
 * parking, the actor re-checks its wake conditions (sys_pending,
 * restart_due) and competes for the same exchange, so a wake-up that raced
 * with the decision to park is never lost.
 *
 * Stopping.  pending is one 64-bit word:
 *
 *     bits 63..32  generation of the incarnation (the id's high half)
 *     bit  31      LS__P_CLOSED: no message may be counted any more
 *     bits 30..0   the count
 *
 * A sender counts with a compare-and-swap that succeeds only while the
 * word holds its reference's generation and CLOSED is clear (and, for a
 * user message, the count is below the capacity), so counting, the
 * liveness check and the bound check are one atomic step: one
 * read-modify-write of the receiver's line instead of a bracket around the
 * enqueue.  The stopping worker sets CLOSED with fetch_or; the count it
 * sees is exactly the number of messages it must still free (minus those
 * its own activation consumed), so it pops until it has freed them all,
 * waiting for pushes that were counted but are still landing.  A freed
 * slot holds the next generation with CLOSED set until a spawn opens it,
 * so a late sender holding an old reference fails its CAS (LS_ENOENT) and
 * never touches the new incarnation.  Actor structs live in pages that are
 * never freed while the runtime runs (type-stable memory).
 *
 * Batching at the sender.  A user-lane send made on a worker thread during
 * an activation is not published at once: the worker keeps a short chain
 * per receiver (ls__outq, up to LS__OUT_SLOTS receivers) and publishes it
 * with one CAS on the count and one exchange of the queue head when the
 * activation ends, when the chain reaches the receiver's batch limit
 * (cap / 16, at most LS__OUT_MAX), or when its slot is needed for another
 * receiver.  FIFO per (sender thread, receiver) holds: one chain per
 * receiver, published in order, and a send that cannot join the chain
 * publishes it first.  The bound: a send joins a chain only while the
 * receiver's count plus the chain's length is below the capacity, so each
 * worker alone never overfills a mailbox; other workers' unpublished
 * chains add at most (workers - 1) x the batch limit.  A chain whose
 * receiver stopped before it was published is freed (as the stop frees
 * queued user messages).
 */
#ifndef LS_RUNTIME_INT_H
#define LS_RUNTIME_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "actor.h"

/* ---- MPSC intrusive queue (Vyukov) ---- */

typedef struct ls__mq {
	ls_msg *_Atomic head; /* producers' end: last pushed */
	ls_msg *tail;         /* consumer's end */
	ls_msg stub;          /* dummy node, never carries a payload */
} ls__mq;

void ls__mq_init(ls__mq *q);

/* Push the chain first..last, already linked through next (one message:
 * first == last). */
static inline void
ls__mq_push_chain(ls__mq *q, ls_msg *first, ls_msg *last)
{
	atomic_store_explicit(&last->next, NULL, memory_order_relaxed);
	ls_msg *prev = atomic_exchange_explicit(&q->head, last,
	    memory_order_acq_rel);
	atomic_store_explicit(&prev->next, first, memory_order_release);
}

static inline void
ls__mq_push(ls__mq *q, ls_msg *m)
{
	ls__mq_push_chain(q, m, m);
}

/* Pop one message, or NULL when empty or a push is half-done. */
ls_msg *ls__mq_pop(ls__mq *q);

/* Conservative: 1 if something may have been pushed since the last pop. */
static inline int
ls__mq_maybe_nonempty(ls__mq *q)
{
	return atomic_load_explicit(&q->head, memory_order_acquire) != q->tail;
}

/* ---- actors ---- */

enum {
	LS__A_FREE = 0,
	LS__A_LIVE,
	LS__A_RESTARTING, /* parked in backoff */
	LS__A_DEAD
};

typedef struct ls__waiter ls__waiter;

/* The pending word: generation, CLOSED, count (see the protocol above). */
#define LS__P_CLOSED ((uint64_t)1 << 31)
#define LS__P_COUNT(v) ((uint32_t)((v) & 0x7fffffffu))
#define LS__P_GEN(v) ((v) >> 32)

typedef struct ls__actor {
	ls__mq sys;
	ls__mq user;
	_Atomic uint64_t pending; /* generation, CLOSED, count: see above */
	_Atomic uint32_t parked;
	_Atomic uint32_t sys_pending; /* system-lane messages not consumed */
	_Atomic uint32_t restart_due; /* restart backoff is over */
	_Atomic uint32_t status;  /* LS__A_* */
	_Atomic uint64_t id;      /* current ref id of this slot */
	uint32_t cap;             /* user mailbox capacity */
	uint32_t restarts;        /* within the current window */
	const ls_behaviour *beh;
	void *state;
	void *arg;
	int64_t window_start_ns;
	int64_t backoff_ms;
	uint32_t max_restarts;
	uint8_t arg_owned;
	uint8_t inited; /* init succeeded and stop not yet called */
	uint8_t paused; /* behaviour asked for no user messages */
	_Atomic uint8_t waiters_lock; /* guards waiters */
	int64_t restart_window_ms;
	int64_t backoff_min_ms;
	int64_t backoff_max_ms;
	ls_ref supervisor;
	char *name;
	/* Senders to notify with LS_MSG_WRITABLE; guarded by waiters_lock. */
	ls__waiter *_Atomic waiters;
	struct ls__actor *next_free;
	/* state of up to 32 bytes lives here instead of in a calloc */
	_Alignas(16) unsigned char small_state[32];
} ls__actor;

/* ---- scheduler ---- */

#define LS__RQ_CAP 4096 /* per-worker ring; overflow goes global */

#define LS__OUT_SLOTS 8 /* receivers with an unpublished chain, per worker */
#define LS__OUT_MAX 64  /* longest chain before it is published */

/* Messages sent during the current activation, not yet published. */
typedef struct ls__outq {
	ls__actor *a;
	uint64_t id; /* the receiver's reference */
	ls_msg *first, *last;
	uint32_t n, limit;
} ls__outq;

typedef struct ls__worker {
	ls_runtime *rt;
	unsigned index;
	pthread_t thread;
	ls__actor *next;                 /* LIFO slot, owner only */
	_Atomic uint32_t head;           /* ring: thieves and owner CAS */
	_Atomic uint32_t tail;           /* ring: owner only writes */
	ls__actor *_Atomic ring[LS__RQ_CAP];
	uint32_t tick;
	ls__actor *slots; /* free slots cached for spawns (actor.c) */
	uint32_t nslots;
	int batching;  /* in an activation: user sends go to out[] */
	uint32_t nout; /* used entries of out[] */
	ls__outq out[LS__OUT_SLOTS];
	/* counters, summed by ls_runtime_stats_get */
	_Atomic uint64_t n_sent;
	_Atomic uint64_t n_received;
	_Atomic uint64_t n_activations;
	_Atomic uint64_t n_steals;
	uint32_t rng;
	/* stealing with patience (sched.c): the victim being watched */
	struct ls__worker *watch;
	uint32_t watch_head;
	uint64_t watch_acts;
	int64_t watch_since;
	char _align[64];
} ls__worker;

typedef struct ls__gq_node ls__gq_node;

#define LS__PAGE_BITS 12
#define LS__PAGE_SIZE (1u << LS__PAGE_BITS)
#define LS__MAX_PAGES 65536u

struct ls__timer_wheel;

struct ls_runtime {
	ls_runtime_opts opts;
	unsigned nworkers;
	ls__worker **workers;
	_Atomic int running;

	/* registry */
	ls__actor *_Atomic *pages; /* LS__MAX_PAGES page pointers */
	pthread_mutex_t reg_lock;  /* free list, names, page growth */
	ls__actor *free_list;
	uint32_t npages;
	uint32_t next_slot;        /* slots handed out in the last page */
	struct ls__name *names;    /* name -> ref, small hash table */
	uint32_t names_cap;
	uint32_t names_len;

	/* global run queue (overflow and external submissions) */
	pthread_mutex_t gq_lock;
	ls__actor **gq;
	size_t gq_head, gq_len, gq_cap;
	_Atomic size_t gq_count;

	/* parking */
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	_Atomic int sleepers;
	_Atomic int searching;
	uint64_t park_seq;

	/* idle waiters (ls_runtime_wait_idle) */
	pthread_mutex_t idle_lock;
	pthread_cond_t idle_cond;

	/* counters not kept per worker */
	_Atomic uint64_t n_sent_ext;
	_Atomic uint64_t n_full;
	_Atomic uint64_t n_spawned;
	_Atomic uint64_t n_stopped;
	_Atomic uint64_t n_restarts;
	_Atomic uint64_t n_failures;
	_Atomic uint64_t n_timers;
	_Atomic int64_t n_alive;
	_Atomic int64_t n_queued;

	struct ls__timer_wheel *timers;

	/* transport table and link waiters (remote.c); NULL until attached */
	struct ls__remote *_Atomic remote;
};

struct ls_ctx {
	ls_runtime *rt;
	ls__actor *a;
	ls_ref self;
	ls__worker *w;
	int stop;
};

/* The worker running on this thread, or NULL outside workers. */
ls__worker *ls__worker_self(void);

/* Make a runnable (its pending just went 0 -> 1, or it was unparked). */
void ls__schedule(ls_runtime *rt, ls__actor *a);

/* Requeue a, which just ran and has more to do, behind the actors already
 * queued (not in the LIFO slot, which would let it run again and again
 * while they wait). */
void ls__requeue(ls_runtime *rt, ls__actor *a);

/* Resolve an id to its slot (or NULL); does not check liveness. */
ls__actor *ls__slot(ls_runtime *rt, uint64_t id);

/* Run one activation of a on worker w (sched.c calls it). */
void ls__activate(ls__worker *w, ls__actor *a);

/* Enqueue a system-lane message (timers, restart, supervision). */
int ls__send_sys(ls_runtime *rt, ls_ref to, ls_msg *m);

int ls__sched_start(ls_runtime *rt);
void ls__sched_stop(ls_runtime *rt);
int ls__timers_start(ls_runtime *rt);
void ls__timers_stop(ls_runtime *rt);

#endif /* LS_RUNTIME_INT_H */
