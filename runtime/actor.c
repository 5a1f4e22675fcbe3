/*
 * actor.c -- actor registry, messages, sending, activation and supervision.
 *
 * See runtime_int.h for the scheduling, parking and stopping protocols.
 *
 * Reference ids:
 *
 *     bits 63..32  generation of the slot (starts at 1, +1 on every reuse,
 *                  wraps below 2^31: bit 63 marks remote refs, remote.h)
 *     bits 31..0   slot index + 1 (0 is never a valid id)
 *
 * Slots live in pages of LS__PAGE_SIZE actor structs that are only freed by
 * ls_runtime_destroy, so resolving a stale id reads a valid struct whose id
 * no longer matches (LS_ENOENT).
 */
#include "runtime_int.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "remote.h"

/* ---- clocks ---- */

int64_t
ls_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
ls_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
ls_abstime_after(int64_t timeout_ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* ---- MPSC queue ---- */

void
ls__mq_init(ls__mq *q)
{
	atomic_store(&q->stub.next, NULL);
	atomic_store(&q->head, &q->stub);
	q->tail = &q->stub;
}

ls_msg *
ls__mq_pop(ls__mq *q)
{
	ls_msg *tail = q->tail;
	ls_msg *next = atomic_load_explicit(&tail->next, memory_order_acquire);

	if (tail == &q->stub) {
		if (next == NULL)
			return NULL;
		q->tail = next;
		tail = next;
		next = atomic_load_explicit(&next->next, memory_order_acquire);
	}
	if (next != NULL) {
		q->tail = next;
		return tail;
	}
	ls_msg *head = atomic_load_explicit(&q->head, memory_order_acquire);
	if (tail != head)
		return NULL; /* a push is half-done; caller retries later */
	ls__mq_push(q, &q->stub);
	next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (next != NULL) {
		q->tail = next;
		return tail;
	}
	return NULL;
}

/* ---- messages: small ones are recycled through a per-thread cache ----
 *
 * A message is usually allocated on the sender's thread and freed on the
 * receiver's, so one thread's cache runs dry while another's overflows.
 * A thread whose cache is full collects further frees in a chunk of
 * MSG_CHUNK and hands the whole chunk to a process-wide depot (one lock
 * per MSG_CHUNK messages); a thread whose cache is empty takes a chunk from
 * the depot before it calls malloc.  So messages go back to the threads
 * that allocate them instead of through malloc and free.
 */

#define MSG_SMALL 64
#define MSG_CACHE_MAX 4096
#define MSG_CHUNK 1024
#define MSG_DEPOT_MAX 32 /* chunks; beyond that messages are freed */

static _Thread_local ls_msg *msg_cache;
static _Thread_local uint32_t msg_cache_len;
static _Thread_local ls_msg *msg_spill; /* a chunk being collected */
static _Thread_local uint32_t msg_spill_len;
static _Thread_local int msg_cache_armed;
static pthread_key_t msg_cache_key;
static pthread_once_t msg_cache_once = PTHREAD_ONCE_INIT;

static pthread_mutex_t msg_depot_lock = PTHREAD_MUTEX_INITIALIZER;
static ls_msg *msg_depot[MSG_DEPOT_MAX]; /* chunks of MSG_CHUNK */
static uint32_t msg_depot_len;
static _Atomic uint32_t msg_depot_avail; /* msg_depot_len, read unlocked */

void ls__msg_cache_flush(void);
void ls__msg_depot_flush(void);

/* Any thread that caches a message frees its cache when it exits. */
static void
msg_cache_exit(void *unused)
{
	(void)unused;
	ls__msg_cache_flush();
}

static void
msg_cache_key_init(void)
{
	pthread_key_create(&msg_cache_key, msg_cache_exit);
}

static void
msg_chain_free(ls_msg *m)
{
	while (m != NULL) {
		ls_msg *n = atomic_load_explicit(&m->next,
		    memory_order_relaxed);
		free(m);
		m = n;
	}
}

/* Refill the empty cache from the spill chunk or the depot; 0 if none. */
static int
msg_cache_refill(void)
{
	if (msg_spill != NULL) {
		msg_cache = msg_spill;
		msg_cache_len = msg_spill_len;
		msg_spill = NULL;
		msg_spill_len = 0;
		return 1;
	}
	if (atomic_load_explicit(&msg_depot_avail, memory_order_relaxed) == 0)
		return 0;
	pthread_mutex_lock(&msg_depot_lock);
	if (msg_depot_len > 0) {
		msg_cache = msg_depot[--msg_depot_len];
		msg_cache_len = MSG_CHUNK;
		atomic_store_explicit(&msg_depot_avail, msg_depot_len,
		    memory_order_relaxed);
	}
	pthread_mutex_unlock(&msg_depot_lock);
	return msg_cache != NULL;
}

/* The spill chunk is full: give it to the depot, or free it. */
static void
msg_spill_out(void)
{
	ls_msg *chunk = msg_spill;
	msg_spill = NULL;
	msg_spill_len = 0;
	pthread_mutex_lock(&msg_depot_lock);
	if (msg_depot_len < MSG_DEPOT_MAX) {
		msg_depot[msg_depot_len++] = chunk;
		atomic_store_explicit(&msg_depot_avail, msg_depot_len,
		    memory_order_relaxed);
		chunk = NULL;
	}
	pthread_mutex_unlock(&msg_depot_lock);
	msg_chain_free(chunk);
}

ls_msg *
ls_msg_new(ls_runtime *rt, uint32_t type, size_t size)
{
	ls_msg *m;
	(void)rt;

	if (size <= MSG_SMALL && (msg_cache != NULL || msg_cache_refill())) {
		m = msg_cache;
		msg_cache = atomic_load_explicit(&m->next,
		    memory_order_relaxed);
		msg_cache_len--;
	} else {
		size_t cap = size <= MSG_SMALL ? MSG_SMALL : size;
		if (size > UINT32_MAX - sizeof(ls_msg))
			return NULL;
		m = malloc(sizeof(*m) + cap);
		if (m == NULL)
			return NULL;
		m->cap = (uint32_t)cap;
	}
	m->type = type;
	m->size = (uint32_t)size;
	m->from = LS_REF_NONE;
	m->ptr = NULL;
	m->dtor = NULL;
	return m;
}

void
ls_msg_free(ls_runtime *rt, ls_msg *m)
{
	(void)rt;
	if (m == NULL)
		return;
	if (m->ptr != NULL && m->dtor != NULL)
		m->dtor(m->ptr);
	if (m->cap != MSG_SMALL) {
		free(m);
		return;
	}
	if (!msg_cache_armed) {
		pthread_once(&msg_cache_once, msg_cache_key_init);
		pthread_setspecific(msg_cache_key, (void *)1);
		msg_cache_armed = 1;
	}
	if (msg_cache_len < MSG_CACHE_MAX) {
		atomic_store_explicit(&m->next, msg_cache,
		    memory_order_relaxed);
		msg_cache = m;
		msg_cache_len++;
		return;
	}
	atomic_store_explicit(&m->next, msg_spill, memory_order_relaxed);
	msg_spill = m;
	if (++msg_spill_len == MSG_CHUNK)
		msg_spill_out();
}

/* Free this thread's message cache (thread exit, runtime destroy). */
void
ls__msg_cache_flush(void)
{
	msg_chain_free(msg_cache);
	msg_cache = NULL;
	msg_cache_len = 0;
	msg_chain_free(msg_spill);
	msg_spill = NULL;
	msg_spill_len = 0;
}

/* Free the depot's chunks (runtime destroy; other threads just allocate
 * anew). */
void
ls__msg_depot_flush(void)
{
	pthread_mutex_lock(&msg_depot_lock);
	while (msg_depot_len > 0)
		msg_chain_free(msg_depot[--msg_depot_len]);
	atomic_store_explicit(&msg_depot_avail, 0, memory_order_relaxed);
	pthread_mutex_unlock(&msg_depot_lock);
}

/* ---- registry ---- */

struct ls__name {
	char *name;
	ls_ref ref;
};

struct ls__waiter {
	ls__waiter *next;
	ls_ref who;
};

ls__actor *
ls__slot(ls_runtime *rt, uint64_t id)
{
	uint32_t lo = (uint32_t)(id & 0xffffffffu);
	if (lo == 0)
		return NULL;
	uint32_t idx = lo - 1;
	uint32_t page = idx >> LS__PAGE_BITS;
	if (page >= LS__MAX_PAGES)
		return NULL;
	ls__actor *p = atomic_load_explicit(&rt->pages[page],
	    memory_order_acquire);
	if (p == NULL)
		return NULL;
	return &p[idx & (LS__PAGE_SIZE - 1)];
}

/* Take a free slot; reg_lock held. */
static ls__actor *
slot_alloc(ls_runtime *rt)
{
	ls__actor *a = rt->free_list;

	if (a != NULL) {
		rt->free_list = a->next_free;
		return a;
	}
	if (rt->npages == 0 || rt->next_slot == LS__PAGE_SIZE) {
		if (rt->npages == LS__MAX_PAGES)
			return NULL;
		ls__actor *p = calloc(LS__PAGE_SIZE, sizeof(*p));
		if (p == NULL)
			return NULL;
		uint32_t base = rt->npages << LS__PAGE_BITS;
		for (uint32_t i = 0; i < LS__PAGE_SIZE; i++) {
			ls__mq_init(&p[i].sys);
			ls__mq_init(&p[i].user);
			atomic_store(&p[i].id,
			    ((uint64_t)1 << 32) | (uint64_t)(base + i + 1));
			atomic_store(&p[i].pending,
			    ((uint64_t)1 << 32) | LS__P_CLOSED);
		}
		atomic_store_explicit(&rt->pages[rt->npages], p,
		    memory_order_release);
		rt->npages++;
		rt->next_slot = 0;
	}
	ls__actor *p = atomic_load_explicit(&rt->pages[rt->npages - 1],
	    memory_order_relaxed);
	return &p[rt->next_slot++];
}

/*
 * Unnamed spawns and stops on a worker take and return slots through a
 * per-worker cache, refilled from and spilled to the global free list
 * SLOT_BATCH at a time, so the registry lock is taken once per SLOT_BATCH
 * spawns instead of twice per spawn+stop (it bounced between the cores
 * when one worker spawned and the other stopped).
 */
#define SLOT_BATCH 32
#define SLOT_CACHE_MAX 64

static ls__worker *
slot_worker(ls_runtime *rt)
{
	ls__worker *w = ls__worker_self();
	return w != NULL && w->rt == rt ? w : NULL;
}

/* A free slot for an unnamed spawn; takes reg_lock only to refill. */
static ls__actor *
slot_get(ls_runtime *rt)
{
	ls__worker *w = slot_worker(rt);
	ls__actor *a;

	if (w == NULL) {
		pthread_mutex_lock(&rt->reg_lock);
		a = slot_alloc(rt);
		pthread_mutex_unlock(&rt->reg_lock);
		return a;
	}
	if (w->slots == NULL) {
		pthread_mutex_lock(&rt->reg_lock);
		for (uint32_t i = 0; i < SLOT_BATCH; i++) {
			if ((a = slot_alloc(rt)) == NULL)
				break;
			a->next_free = w->slots;
			w->slots = a;
			w->nslots++;
		}
		pthread_mutex_unlock(&rt->reg_lock);
	}
	if ((a = w->slots) != NULL) {
		w->slots = a->next_free;
		w->nslots--;
	}
	return a;
}

/* Give a released, unnamed slot back; takes reg_lock only to spill. */
static void
slot_put(ls_runtime *rt, ls__actor *a)
{
	ls__worker *w = slot_worker(rt);

	if (w == NULL) {
		pthread_mutex_lock(&rt->reg_lock);
		a->next_free = rt->free_list;
		rt->free_list = a;
		pthread_mutex_unlock(&rt->reg_lock);
		return;
	}
	a->next_free = w->slots;
	w->slots = a;
	if (++w->nslots <= SLOT_CACHE_MAX)
		return;
	pthread_mutex_lock(&rt->reg_lock);
	for (uint32_t i = 0; i < SLOT_BATCH; i++) {
		ls__actor *s = w->slots;
		w->slots = s->next_free;
		w->nslots--;
		s->next_free = rt->free_list;
		rt->free_list = s;
	}
	pthread_mutex_unlock(&rt->reg_lock);
}

static int
name_find(ls_runtime *rt, const char *name)
{
	for (uint32_t i = 0; i < rt->names_len; i++)
		if (strcmp(rt->names[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The index of a name held by a live actor, else -1.  A dying actor keeps
 * its entry until its slot is released; it no longer counts. */
static int
name_find_live(ls_runtime *rt, const char *name)
{
	int i = name_find(rt, name);
	if (i >= 0 && !ls_alive(rt, rt->names[i].ref))
		return -1;
	return i;
}

/* Remove name if it still points at ref (it may have been taken over). */
static void
name_remove(ls_runtime *rt, const char *name, ls_ref ref)
{
	int i = name_find(rt, name);
	if (i < 0 || rt->names[i].ref.id != ref.id)
		return;
	free(rt->names[i].name);
	rt->names[i] = rt->names[--rt->names_len];
}

int
ls_lookup(ls_runtime *rt, const char *name, ls_ref *out)
{
	int rv = LS_ENOENT;
	pthread_mutex_lock(&rt->reg_lock);
	int i = name_find_live(rt, name);
	if (i >= 0) {
		*out = rt->names[i].ref;
		rv = 0;
	}
	pthread_mutex_unlock(&rt->reg_lock);
	return rv;
}

int
ls_alive(ls_runtime *rt, ls_ref ref)
{
	ls__actor *a = ls__slot(rt, ref.id);
	if (a == NULL || atomic_load(&a->id) != ref.id)
		return 0;
	uint32_t st = atomic_load(&a->status);
	return st == LS__A_LIVE || st == LS__A_RESTARTING;
}

/* ---- spawn ---- */

/* The slot becomes reusable (takes reg_lock when a is named or the slot
 * goes to the global list). */
static void
actor_release(ls_runtime *rt, ls__actor *a)
{
	uint64_t id = atomic_load(&a->id);
	uint64_t gen = (id >> 32) + 1;
	if (gen > 0x7fffffffu) /* bit 63 stays clear: remote.h */
		gen = 1;
	atomic_store(&a->id, (gen << 32) | (id & 0xffffffffu));
	/* closed for the next generation until a spawn opens it */
	atomic_store(&a->pending, (gen << 32) | LS__P_CLOSED);
	if (a->arg_owned)
		free(a->arg);
	a->arg = NULL;
	a->arg_owned = 0;
	if (a->state != (void *)a->small_state)
		free(a->state);
	a->state = NULL;
	a->beh = NULL;
	atomic_store(&a->status, LS__A_FREE);
	if (a->name == NULL) {
		slot_put(rt, a);
		return;
	}
	pthread_mutex_lock(&rt->reg_lock);
	name_remove(rt, a->name, (ls_ref){ id });
	free(a->name);
	a->name = NULL;
	a->next_free = rt->free_list;
	rt->free_list = a;
	pthread_mutex_unlock(&rt->reg_lock);
}

/* Publish a spawned actor: alive, and its mailbox open to senders. */
static void
actor_open(ls_runtime *rt, ls__actor *a)
{
	atomic_fetch_add(&rt->n_alive, 1);
	atomic_store(&a->status, LS__A_LIVE);
	atomic_store_explicit(&a->pending, LS__P_GEN(atomic_load(&a->id)) << 32,
	    memory_order_release);
}

static int
spawn_common(ls_runtime *rt, const ls_behaviour *b, const ls_spawn_opts *o,
    ls_ref *out)
{
	static const ls_spawn_opts none;
	ls__actor *a;
	int rv;

	if (b == NULL || b->receive == NULL)
		return LS_EINVAL;
	if (o == NULL)
		o = &none;
	if (!atomic_load(&rt->running))
		return LS_ECLOSED;

	if (o->name != NULL) {
		pthread_mutex_lock(&rt->reg_lock);
		if (name_find_live(rt, o->name) >= 0) {
			pthread_mutex_unlock(&rt->reg_lock);
			return LS_EEXIST;
		}
		a = slot_alloc(rt);
		pthread_mutex_unlock(&rt->reg_lock);
	} else {
		a = slot_get(rt);
	}
	if (a == NULL)
		return LS_ENOMEM;

	a->beh = b;
	a->cap = o->mailbox_cap != 0 ? o->mailbox_cap : rt->opts.mailbox_cap;
	a->max_restarts = o->max_restarts != 0 ? o->max_restarts
	                                       : rt->opts.max_restarts;
	a->restart_window_ms = o->restart_window_ms > 0
	    ? o->restart_window_ms : rt->opts.restart_window_ms;
	a->backoff_min_ms = o->backoff_min_ms > 0 ? o->backoff_min_ms
	                                          : rt->opts.backoff_min_ms;
	a->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms
	                                          : rt->opts.backoff_max_ms;
	a->backoff_ms = a->backoff_min_ms;
	a->restarts = 0;
	a->window_start_ns = 0; /* the first failure opens a window */
	a->supervisor = o->supervisor;
	a->inited = 0;
	atomic_store(&a->waiters, NULL);
	a->name = NULL;
	a->arg_owned = 0;
	a->arg = (void *)(uintptr_t)o->arg;
	atomic_store(&a->parked, 0);
	atomic_store(&a->sys_pending, 0);
	atomic_store(&a->restart_due, 0);
	a->paused = 0;
	rv = LS_ENOMEM;
	if (o->arg != NULL && o->arg_size > 0) {
		a->arg = malloc(o->arg_size);
		if (a->arg == NULL)
			goto fail;
		memcpy(a->arg, o->arg, o->arg_size);
		a->arg_owned = 1;
	}
	if (b->state_size > 0 && b->state_size <= sizeof(a->small_state)) {
		a->state = a->small_state;
		memset(a->state, 0, b->state_size);
	} else if (b->state_size > 0 &&
	    (a->state = calloc(1, b->state_size)) == NULL) {
		goto fail;
	}
	if (o->name != NULL && (a->name = strdup(o->name)) == NULL)
		goto fail;

	ls_ref self = { atomic_load(&a->id) };
	if (b->init != NULL) {
		ls_ctx ctx = { rt, a, self, ls__worker_self(), 0 };
		rv = b->init(&ctx, a->state, a->arg);
		if (rv != 0)
			goto fail;
	}
	a->inited = 1;

	if (a->name == NULL) {
		/* Unnamed: nothing to register, no lock (spawn is hot). */
		actor_open(rt, a);
		goto spawned;
	}
	pthread_mutex_lock(&rt->reg_lock);
	if (a->name != NULL) {
		int old = name_find(rt, a->name);
		if (old >= 0 && !ls_alive(rt, rt->names[old].ref)) {
			/* take over the name of an actor that is stopping */
			rt->names[old].ref = self;
			actor_open(rt, a);
			pthread_mutex_unlock(&rt->reg_lock);
			goto spawned;
		}
		if (old >= 0) {
			pthread_mutex_unlock(&rt->reg_lock);
			if (b->stop != NULL) {
				ls_ctx ctx = { rt, a, self, NULL, 0 };
				b->stop(&ctx, a->state);
			}
			rv = LS_EEXIST;
			goto fail;
		}
		if (rt->names_len == rt->names_cap) {
			uint32_t nc = rt->names_cap ? rt->names_cap * 2 : 16;
			struct ls__name *nn = realloc(rt->names,
			    nc * sizeof(*nn));
			if (nn == NULL) {
				pthread_mutex_unlock(&rt->reg_lock);
				if (b->stop != NULL) {
					ls_ctx ctx = { rt, a, self, NULL, 0 };
					b->stop(&ctx, a->state);
				}
				rv = LS_ENOMEM;
				goto fail;
			}
			rt->names = nn;
			rt->names_cap = nc;
		}
		char *dup = strdup(a->name);
		if (dup == NULL) {
			pthread_mutex_unlock(&rt->reg_lock);
			if (b->stop != NULL) {
				ls_ctx ctx = { rt, a, self, NULL, 0 };
				b->stop(&ctx, a->state);
			}
			rv = LS_ENOMEM;
			goto fail;
		}
		rt->names[rt->names_len].name = dup;
		rt->names[rt->names_len].ref = self;
		rt->names_len++;
	}
	actor_open(rt, a);
	pthread_mutex_unlock(&rt->reg_lock);
spawned:
	atomic_fetch_add(&rt->n_spawned, 1);
	if (out != NULL)
		*out = self;
	return 0;

fail:
	actor_release(rt, a);
	return rv;
}

int
ls_spawn(ls_runtime *rt, const ls_behaviour *b, const ls_spawn_opts *opts,
    ls_ref *out)
{
	return spawn_common(rt, b, opts, out);
}

int
ls_ctx_spawn(ls_ctx *ctx, const ls_behaviour *b, const ls_spawn_opts *opts,
    ls_ref *out)
{
	ls_spawn_opts o;
	if (opts != NULL)
		o = *opts;
	else
		memset(&o, 0, sizeof(o));
	if (!ls_ref_valid(o.supervisor))
		o.supervisor = ctx->self;
	return spawn_common(ctx->rt, b, &o, out);
}

/* ---- sending ---- */

/* Count n messages for the incarnation `id` of a: 0 with *prev = the count
 * before; LS_ENOENT when that incarnation is gone or stopping; LS_EAGAIN when
 * bounded and the count has reached the capacity.  See runtime_int.h. */
static int
pending_add(ls__actor *a, uint64_t id, uint32_t n, int bounded,
    uint32_t *prev)
{
	uint64_t v = atomic_load_explicit(&a->pending, memory_order_acquire);
	for (;;) {
		if (LS__P_GEN(v) != id >> 32 || (v & LS__P_CLOSED))
			return LS_ENOENT;
		if (bounded && LS__P_COUNT(v) >= a->cap)
			return LS_EAGAIN;
		if (atomic_compare_exchange_weak_explicit(&a->pending, &v,
		        v + n, memory_order_seq_cst, memory_order_acquire))
			break;
	}
	*prev = LS__P_COUNT(v);
	return 0;
}

static void
count_sent(ls_runtime *rt, ls__worker *w, uint32_t n)
{
	if (w != NULL)
		atomic_store_explicit(&w->n_sent,
		    atomic_load_explicit(&w->n_sent, memory_order_relaxed) + n,
		    memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&rt->n_sent_ext, n,
		    memory_order_relaxed);
}

/* Count and link the chain first..last of n messages now. */
static int
enqueue_now(ls_runtime *rt, ls__worker *w, ls__actor *a, uint64_t id,
    ls_msg *first, ls_msg *last, uint32_t n, int sys, int bounded)
{
	uint32_t prev;
	/* Count first, push second: the consumer may pop the message the
	 * moment it is linked, and its count must already be there, or the
	 * consumer's subtraction could wrap the count and break the rule that
	 * exactly the 0 -> 1 sender schedules (two activations at once). */
	if (sys)
		atomic_fetch_add(&a->sys_pending, n);
	int rv = pending_add(a, id, n, bounded, &prev);
	if (rv != 0) {
		if (sys)
			atomic_fetch_sub(&a->sys_pending, n);
		if (rv == LS_EAGAIN)
			atomic_fetch_add_explicit(&rt->n_full, 1,
			    memory_order_relaxed);
		return rv;
	}
	ls__mq_push_chain(sys ? &a->sys : &a->user, first, last);
	if (prev == 0 ||
	    (sys && atomic_load(&a->parked) == 1 &&
	        atomic_exchange(&a->parked, 0) == 1))
		ls__schedule(rt, a);
	count_sent(rt, w, n);
	return 0;
}

/* Publish out[i] of w and remove it from the table.  Its messages are the
 * runtime's: when the receiver stopped meanwhile they are freed. */
static void
outq_flush(ls_runtime *rt, ls__worker *w, uint32_t i)
{
	/* Take the entry out first: freeing runs payload destructors, which
	 * must find the table consistent. */
	ls__outq e = w->out[i];
	w->out[i] = w->out[--w->nout];
	if (enqueue_now(rt, w, e.a, e.id, e.first, e.last, e.n, 0, 0) != 0) {
		ls_msg *m = e.first;
		for (uint32_t k = 0; k < e.n; k++) {
			ls_msg *nx = atomic_load_explicit(&m->next,
			    memory_order_relaxed);
			ls_msg_free(rt, m);
			m = nx;
		}
	}
}

/* Publish every chain of w (the end of an activation). */
static void
outq_flush_all(ls_runtime *rt, ls__worker *w)
{
	while (w->nout > 0)
		outq_flush(rt, w, w->nout - 1);
}

/* A user send during an activation on w: append m to the chain for a,
 * publishing first what must go before it. */
static int
outq_add(ls_runtime *rt, ls__worker *w, ls__actor *a, uint64_t id,
    ls_msg *m)
{
	uint64_t v = atomic_load_explicit(&a->pending, memory_order_acquire);
	if (LS__P_GEN(v) != id >> 32 || (v & LS__P_CLOSED))
		return LS_ENOENT;
	uint32_t i;
	for (i = 0; i < w->nout; i++)
		if (w->out[i].id == id)
			break;
	if (i < w->nout) {
		ls__outq *e = &w->out[i];
		if (LS__P_COUNT(v) + e->n < a->cap) {
			atomic_store_explicit(&e->last->next, m,
			    memory_order_relaxed);
			e->last = m;
			if (++e->n >= e->limit)
				outq_flush(rt, w, i);
			return 0;
		}
		/* Full as far as we know: publish, then let the exact
		 * check decide. */
		outq_flush(rt, w, i);
		return enqueue_now(rt, w, a, id, m, m, 1, 0, 1);
	}
	uint32_t limit = a->cap / 16;
	if (limit > LS__OUT_MAX)
		limit = LS__OUT_MAX;
	if (limit <= 1 || LS__P_COUNT(v) >= a->cap)
		return enqueue_now(rt, w, a, id, m, m, 1, 0, 1);
	if (w->nout == LS__OUT_SLOTS)
		outq_flush(rt, w, 0);
	ls__outq *e = &w->out[w->nout++];
	e->a = a;
	e->id = id;
	e->first = e->last = m;
	e->n = 1;
	e->limit = limit;
	return 0;
}

static int
enqueue(ls_runtime *rt, ls_ref to, ls_msg *m, int sys)
{
	ls__actor *a = ls__slot(rt, to.id);
	if (a == NULL)
		return LS_ENOENT;
	ls__worker *w = ls__worker_self();
	if (w != NULL && w->rt != rt)
		w = NULL;
	if (!sys && w != NULL && w->batching)
		return outq_add(rt, w, a, to.id, m);
	return enqueue_now(rt, w, a, to.id, m, m, 1, sys, !sys);
}

int
ls_send(ls_runtime *rt, ls_ref to, ls_msg *m)
{
	if (ls_ref_is_remote(to))
		return m != NULL && m->type >= LS_MSG_USER
		    ? ls__remote_send(rt, to, m, LS_REF_NONE) : LS_EINVAL;
	if (m == NULL || m->type < LS_MSG_USER)
		return m != NULL && m->type == LS_MSG_STOP
		    ? enqueue(rt, to, m, 1) : LS_EINVAL;
	return enqueue(rt, to, m, 0);
}

int
ls__send_sys(ls_runtime *rt, ls_ref to, ls_msg *m)
{
	return enqueue(rt, to, m, 1);
}

int
ls_tell(ls_runtime *rt, ls_ref to, uint32_t type, const void *data,
    size_t n)
{
	ls_msg *m = ls_msg_new(rt, type, n);
	if (m == NULL)
		return LS_ENOMEM;
	if (n > 0)
		memcpy(ls_msg_data(m), data, n);
	int rv = ls_send(rt, to, m);
	if (rv != 0)
		ls_msg_free(rt, m);
	return rv;
}

int
ls_stop(ls_runtime *rt, ls_ref ref)
{
	ls_msg *m = ls_msg_new(rt, LS_MSG_STOP, 0);
	if (m == NULL)
		return LS_ENOMEM;
	int rv = enqueue(rt, ref, m, 1);
	if (rv != 0)
		ls_msg_free(rt, m);
	return rv;
}

/* The waiter list of a slot is guarded by a spin lock of its own (short
 * critical sections, no allocation inside). */
static void
waiters_lock(ls__actor *a)
{
	while (atomic_exchange_explicit(&a->waiters_lock, 1,
	    memory_order_acquire))
		while (atomic_load_explicit(&a->waiters_lock,
		    memory_order_relaxed))
			sched_yield();
}

static void
waiters_unlock(ls__actor *a)
{
	atomic_store_explicit(&a->waiters_lock, 0, memory_order_release);
}

/* Register `who` to be told when `to` has room again.  Not once `to` is
 * closed: its stop has notified (or is notifying) the waiters already. */
static void
waiter_add(ls_runtime *rt, ls_ref to, ls_ref who)
{
	ls__actor *a = ls__slot(rt, to.id);
	if (a == NULL)
		return;
	ls__waiter *nw = malloc(sizeof(*nw));
	if (nw == NULL)
		return;
	nw->who = who;
	waiters_lock(a);
	uint64_t v = atomic_load(&a->pending);
	if (LS__P_GEN(v) == to.id >> 32 && !(v & LS__P_CLOSED)) {
		ls__waiter *w = atomic_load_explicit(&a->waiters,
		    memory_order_relaxed);
		for (; w != NULL; w = w->next)
			if (w->who.id == who.id)
				break;
		if (w == NULL) {
			nw->next = atomic_load_explicit(&a->waiters,
			    memory_order_relaxed);
			atomic_store_explicit(&a->waiters, nw,
			    memory_order_relaxed);
			nw = NULL;
		}
	}
	waiters_unlock(a);
	free(nw);
	/* The caller retries its send next: that read of the count must not
	 * pass our registration, or it and the receiver's check of waiters
	 * after its subtraction could both see the old values (a lost
	 * wake-up). */
	atomic_thread_fence(memory_order_seq_cst);
}

/* Tell every registered waiter of a that it has room (a is running). */
static void
waiters_notify(ls_runtime *rt, ls__actor *a, ls_ref self)
{
	waiters_lock(a);
	ls__waiter *w = atomic_load_explicit(&a->waiters,
	    memory_order_relaxed);
	atomic_store_explicit(&a->waiters, NULL, memory_order_relaxed);
	waiters_unlock(a);
	while (w != NULL) {
		ls__waiter *n = w->next;
		ls_msg *m = ls_msg_new(rt, LS_MSG_WRITABLE, 0);
		if (m != NULL) {
			m->from = self;
			if (enqueue(rt, w->who, m, 1) != 0)
				ls_msg_free(rt, m);
		}
		free(w);
		w = n;
	}
}

int
ls_ctx_send(ls_ctx *ctx, ls_ref to, ls_msg *m)
{
	m->from = ctx->self;
	return ls_ctx_forward(ctx, to, m);
}

int
ls_ctx_forward(ls_ctx *ctx, ls_ref to, ls_msg *m)
{
	if (ls_ref_is_remote(to))
		return m->type >= LS_MSG_USER
		    ? ls__remote_send(ctx->rt, to, m, ctx->self) : LS_EINVAL;
	int rv = ls_send(ctx->rt, to, m);
	if (rv == LS_EAGAIN) {
		waiter_add(ctx->rt, to, ctx->self);
		/* The receiver may have drained between the refusal and the
		 * registration: try once more so no wake-up can be lost. */
		rv = ls_send(ctx->rt, to, m);
	}
	return rv;
}

int
ls_ctx_tell(ls_ctx *ctx, ls_ref to, uint32_t type, const void *data,
    size_t n)
{
	ls_msg *m = ls_msg_new(ctx->rt, type, n);
	if (m == NULL)
		return LS_ENOMEM;
	if (n > 0)
		memcpy(ls_msg_data(m), data, n);
	int rv = ls_ctx_send(ctx, to, m);
	if (rv != 0)
		ls_msg_free(ctx->rt, m);
	return rv;
}

ls_ref
ls_self(const ls_ctx *ctx)
{
	return ctx->self;
}

ls_runtime *
ls_ctx_runtime(const ls_ctx *ctx)
{
	return ctx->rt;
}

void
ls_ctx_stop(ls_ctx *ctx)
{
	ctx->stop = 1;
}

void
ls_ctx_pause(ls_ctx *ctx)
{
	ctx->a->paused = 1;
}

void
ls_ctx_resume(ls_ctx *ctx)
{
	ctx->a->paused = 0;
}

/* ---- activation ---- */

int ls__timer_start_internal(ls_runtime *rt, ls_ref to, int64_t delay_ms,
    int64_t interval_ms, uint32_t type, uint64_t tag, uint64_t *id);
void ls__timers_cancel_for(ls_runtime *rt, ls_ref to);

static void
notify_supervisor(ls_runtime *rt, ls__actor *a, ls_ref self, int err)
{
	if (!ls_ref_valid(a->supervisor)) {
		ls_log(LS_LOG_ERROR, "runtime",
		    "actor gave up after restarts kind=%s id=%llu err=%s",
		    a->beh->name ? a->beh->name : "?",
		    (unsigned long long)self.id, ls_errname(err));
		return;
	}
	ls_msg *m = ls_msg_new(rt, LS_MSG_CHILD_FAILED, sizeof(int));
	if (m == NULL)
		return;
	m->from = self;
	memcpy(ls_msg_data(m), &err, sizeof(int));
	if (enqueue(rt, a->supervisor, m, 1) != 0)
		ls_msg_free(rt, m);
}

/* A callback failed with err.  Either schedule a restart (status becomes
 * RESTARTING) or give up (ctx->stop set, supervisor told). */
static void
on_failure(ls_ctx *ctx, ls__actor *a, int err)
{
	ls_runtime *rt = ctx->rt;
	int64_t now = ls_clock_ns();

	atomic_fetch_add(&rt->n_failures, 1);
	if (now - a->window_start_ns > a->restart_window_ms * 1000000) {
		a->window_start_ns = now;
		a->restarts = 0;
		a->backoff_ms = a->backoff_min_ms;
	}
	if (a->max_restarts == UINT32_MAX || a->restarts >= a->max_restarts) {
		notify_supervisor(rt, a, ctx->self, err);
		ctx->stop = 1;
		return;
	}
	a->restarts++;
	atomic_fetch_add(&rt->n_restarts, 1);
	ls_log(LS_LOG_WARN, "runtime",
	    "actor failed, restarting kind=%s id=%llu err=%s restart=%u "
	    "backoff_ms=%lld",
	    a->beh->name ? a->beh->name : "?",
	    (unsigned long long)ctx->self.id, ls_errname(err), a->restarts,
	    (long long)a->backoff_ms);
	ls__timers_cancel_for(rt, ctx->self);
	if (a->inited && a->beh->stop != NULL)
		a->beh->stop(ctx, a->state);
	a->inited = 0;
	if (a->beh->state_size > 0)
		memset(a->state, 0, a->beh->state_size);
	atomic_store(&a->status, LS__A_RESTARTING);
	ls__timer_start_internal(rt, ctx->self, a->backoff_ms, 0,
	    LS_MSG_RESTART, 0, NULL);
	a->backoff_ms *= 2;
	if (a->backoff_ms > a->backoff_max_ms)
		a->backoff_ms = a->backoff_max_ms;
}

/* Re-run init after backoff; on error go through on_failure again. */
static void
do_restart(ls_ctx *ctx, ls__actor *a)
{
	atomic_store(&a->status, LS__A_LIVE);
	if (a->beh->init != NULL) {
		int rv = a->beh->init(ctx, a->state, a->arg);
		if (rv != 0) {
			on_failure(ctx, a, rv);
			return;
		}
	}
	a->inited = 1;
}

/* Free the n counted messages still queued in a (it is closed): pop until
 * all are freed, waiting for pushes that were counted but are still
 * landing. */
static void
drain(ls_runtime *rt, ls__actor *a, uint32_t n)
{
	while (n > 0) {
		ls_msg *m = ls__mq_pop(&a->sys);
		if (m == NULL)
			m = ls__mq_pop(&a->user);
		if (m == NULL) {
			sched_yield();
			continue;
		}
		n--;
		ls_msg_free(rt, m);
	}
}

/* Close a's mailbox: the number of messages counted in it until now. */
static uint32_t
actor_close(ls__actor *a)
{
	return LS__P_COUNT(atomic_fetch_or(&a->pending, LS__P_CLOSED));
}

/* The running actor stops: after this its slot may be reused. */
static void
finish_stop(ls_ctx *ctx, ls__actor *a, uint32_t consumed)
{
	ls_runtime *rt = ctx->rt;

	atomic_store(&a->status, LS__A_DEAD);
	uint32_t queued = actor_close(a) - consumed;
	ls__timers_cancel_for(rt, ctx->self);
	if (a->inited && a->beh->stop != NULL)
		a->beh->stop(ctx, a->state);
	a->inited = 0;
	drain(rt, a, queued);
	waiters_notify(rt, a, ctx->self);
	atomic_store(&a->parked, 0);
	atomic_store(&a->sys_pending, 0);
	atomic_store(&a->restart_due, 0);
	a->paused = 0;
	actor_release(rt, a);
	atomic_fetch_add(&rt->n_stopped, 1);
	if (atomic_fetch_sub(&rt->n_alive, 1) == 1) {
		pthread_mutex_lock(&rt->idle_lock);
		pthread_cond_broadcast(&rt->idle_cond);
		pthread_mutex_unlock(&rt->idle_lock);
	}
}

/* Called by the timer when a restart backoff ends. */
void ls__wake_parked(ls_runtime *rt, ls_ref ref);

void
ls__wake_parked(ls_runtime *rt, ls_ref ref)
{
	ls__actor *a = ls__slot(rt, ref.id);
	if (a == NULL || atomic_load(&a->id) != ref.id)
		return;
	/* The next activation restarts the actor.  If it was parked nobody
	 * else will schedule it, so we do. */
	atomic_store(&a->restart_due, 1);
	if (atomic_exchange(&a->parked, 0) == 1)
		ls__schedule(rt, a);
}

void
ls__activate(ls__worker *w, ls__actor *a)
{
	ls_runtime *rt = w->rt;
	ls_ctx ctx = { rt, a, { atomic_load(&a->id) }, w, 0 };
	uint32_t n = 0, limit = rt->opts.batch;
	uint32_t st = atomic_load(&a->status);
	int restart_due = 0;

	w->batching = 1;

	if (st == LS__A_RESTARTING && atomic_load(&a->restart_due)) {
		atomic_store(&a->restart_due, 0);
		restart_due = 1;
	}
	if (restart_due) {
		do_restart(&ctx, a);
		st = atomic_load(&a->status);
		if (ctx.stop)
			goto stopped;
	}

	while (n < limit) {
		ls_msg *m = NULL;
		if (atomic_load_explicit(&a->sys_pending,
		        memory_order_relaxed) > 0 &&
		    (m = ls__mq_pop(&a->sys)) != NULL)
			atomic_fetch_sub(&a->sys_pending, 1);
		int sys = m != NULL;
		if (m == NULL) {
			if (st != LS__A_LIVE || a->paused)
				break;
			m = ls__mq_pop(&a->user);
			if (m == NULL)
				break;
		}
		n++;
		if (sys && m->type == LS_MSG_STOP) {
			ls_msg_free(rt, m);
			ctx.stop = 1;
			break;
		}
		if (sys && m->type == LS_MSG_RESTART) {
			ls_msg_free(rt, m);
			continue;
		}
		int rv = 0;
		if (st == LS__A_LIVE)
			rv = a->beh->receive(&ctx, a->state, m);
		ls_msg_free(rt, m);
		if (!sys && atomic_load_explicit(&a->waiters,
		                memory_order_relaxed) != NULL &&
		    LS__P_COUNT(atomic_load_explicit(&a->pending,
		        memory_order_relaxed)) - n <=
		        a->cap / 2)
			waiters_notify(rt, a, ctx.self);
		if (rv != 0 && !ctx.stop) {
			on_failure(&ctx, a, rv);
			st = atomic_load(&a->status);
		}
		if (ctx.stop)
			break;
	}
	atomic_store_explicit(&w->n_received,
	    atomic_load_explicit(&w->n_received, memory_order_relaxed) + n,
	    memory_order_relaxed);
	atomic_store_explicit(&w->n_activations,
	    atomic_load_explicit(&w->n_activations, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	if (ctx.stop)
		goto stopped;
	w->batching = 0;
	outq_flush_all(rt, w);

	uint32_t left = LS__P_COUNT(atomic_fetch_sub(&a->pending, n)) - n;
	/* Senders refused while the mailbox was full of system messages are
	 * not covered by the per-message check above. */
	if (atomic_load(&a->waiters) != NULL && left <= a->cap / 2)
		waiters_notify(rt, a, ctx.self);
	if (left == 0)
		return; /* idle: the next send schedules us */
	if (st == LS__A_RESTARTING || a->paused) {
		/* Park: only a system message or the end of the backoff may
		 * bring us back.  Re-check both after parking, racing the
		 * wakers for the same exchange. */
		atomic_store(&a->parked, 1);
		if ((atomic_load(&a->sys_pending) > 0 ||
		        (st == LS__A_RESTARTING &&
		            atomic_load(&a->restart_due))) &&
		    atomic_exchange(&a->parked, 0) == 1)
			ls__schedule(rt, a);
		return;
	}
	ls__requeue(rt, a);
	return;

stopped:
	finish_stop(&ctx, a, n);
	w->batching = 0;
	outq_flush_all(rt, w);
}

/* ---- runtime ---- */

void ls__log_init_once(void);

int
ls_runtime_create(const ls_runtime_opts *opts, ls_runtime **out)
{
	ls_runtime *rt = calloc(1, sizeof(*rt));
	int rv;

	if (rt == NULL)
		return LS_ENOMEM;
	if (opts != NULL)
		rt->opts = *opts;
	if (rt->opts.mailbox_cap == 0)
		rt->opts.mailbox_cap = 1024;
	if (rt->opts.batch == 0)
		rt->opts.batch = 64;
	if (rt->opts.max_restarts == 0)
		rt->opts.max_restarts = 5;
	if (rt->opts.restart_window_ms <= 0)
		rt->opts.restart_window_ms = 10000;
	if (rt->opts.backoff_min_ms <= 0)
		rt->opts.backoff_min_ms = 10;
	if (rt->opts.backoff_max_ms <= 0)
		rt->opts.backoff_max_ms = 1000;
	rt->pages = calloc(LS__MAX_PAGES, sizeof(*rt->pages));
	if (rt->pages == NULL) {
		free(rt);
		return LS_ENOMEM;
	}
	pthread_mutex_init(&rt->reg_lock, NULL);
	pthread_mutex_init(&rt->gq_lock, NULL);
	pthread_mutex_init(&rt->park_lock, NULL);
	pthread_cond_init(&rt->park_cond, NULL);
	pthread_mutex_init(&rt->idle_lock, NULL);
	pthread_cond_init(&rt->idle_cond, NULL);
	atomic_store(&rt->running, 1);
	if ((rv = ls__timers_start(rt)) != 0) {
		ls_runtime_destroy(rt);
		return rv;
	}
	if ((rv = ls__sched_start(rt)) != 0) {
		ls_runtime_destroy(rt);
		return rv;
	}
	*out = rt;
	return 0;
}

void
ls_runtime_destroy(ls_runtime *rt)
{
	if (rt == NULL)
		return;
	/* Workers first: while they run they may start or cancel timers. */
	atomic_store(&rt->running, 0);
	ls__sched_stop(rt);
	ls__timers_stop(rt);

	/* Workers are gone: stop every remaining actor on this thread.  Mark
	 * all dead first so that stop callbacks sending to peers fail fast
	 * instead of queueing. */
	for (uint32_t p = 0; p < rt->npages; p++) {
		ls__actor *page = atomic_load(&rt->pages[p]);
		for (uint32_t i = 0; i < LS__PAGE_SIZE; i++) {
			ls__actor *a = &page[i];
			uint32_t st = atomic_load(&a->status);
			if (st == LS__A_LIVE || st == LS__A_RESTARTING) {
				atomic_store(&a->status, LS__A_DEAD);
				actor_close(a);
			}
		}
	}
	for (uint32_t p = 0; p < rt->npages; p++) {
		ls__actor *page = atomic_load(&rt->pages[p]);
		for (uint32_t i = 0; i < LS__PAGE_SIZE; i++) {
			ls__actor *a = &page[i];
			uint32_t st = atomic_load(&a->status);
			if (st != LS__A_DEAD)
				continue;
			ls_ctx ctx = { rt, a, { atomic_load(&a->id) }, NULL,
				1 };
			if (a->inited && a->beh->stop != NULL)
				a->beh->stop(&ctx, a->state);
			a->inited = 0;
			drain(rt, a, actor_close(a));
			ls__waiter *w = atomic_load(&a->waiters);
			while (w != NULL) {
				ls__waiter *nx = w->next;
				free(w);
				w = nx;
			}
			atomic_store(&a->waiters, NULL);
			actor_release(rt, a);
		}
	}
	for (uint32_t p = 0; p < rt->npages; p++)
		free(atomic_load(&rt->pages[p]));
	free(rt->pages);
	for (uint32_t i = 0; i < rt->names_len; i++)
		free(rt->names[i].name);
	free(rt->names);
	free(rt->gq);
	pthread_mutex_destroy(&rt->reg_lock);
	pthread_mutex_destroy(&rt->gq_lock);
	pthread_mutex_destroy(&rt->park_lock);
	pthread_cond_destroy(&rt->park_cond);
	pthread_mutex_destroy(&rt->idle_lock);
	pthread_cond_destroy(&rt->idle_cond);
	ls__remote_free(rt);
	ls__msg_cache_flush();
	ls__msg_depot_flush();
	free(rt);
}

unsigned
ls_runtime_workers(const ls_runtime *rt)
{
	return rt->nworkers;
}

void
ls_runtime_stats_get(ls_runtime *rt, ls_runtime_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < rt->nworkers; i++) {
		ls__worker *w = rt->workers[i];
		st->sent += atomic_load_explicit(&w->n_sent,
		    memory_order_relaxed);
		st->received += atomic_load_explicit(&w->n_received,
		    memory_order_relaxed);
		st->activations += atomic_load_explicit(&w->n_activations,
		    memory_order_relaxed);
		st->steals += atomic_load_explicit(&w->n_steals,
		    memory_order_relaxed);
	}
	st->sent += atomic_load(&rt->n_sent_ext);
	st->mailbox_full = atomic_load(&rt->n_full);
	st->spawned = atomic_load(&rt->n_spawned);
	st->stopped = atomic_load(&rt->n_stopped);
	st->restarts = atomic_load(&rt->n_restarts);
	st->failures = atomic_load(&rt->n_failures);
	st->timers_fired = atomic_load(&rt->n_timers);
	st->actors = atomic_load(&rt->n_alive);
	/* queued: a racy sum over live slots (no global counter on the hot
	 * path) */
	pthread_mutex_lock(&rt->reg_lock);
	uint32_t npages = rt->npages;
	pthread_mutex_unlock(&rt->reg_lock);
	for (uint32_t p = 0; p < npages; p++) {
		ls__actor *page = atomic_load(&rt->pages[p]);
		for (uint32_t i = 0; i < LS__PAGE_SIZE; i++) {
			uint32_t s = atomic_load_explicit(&page[i].status,
			    memory_order_relaxed);
			if (s == LS__A_LIVE || s == LS__A_RESTARTING)
				st->queued += LS__P_COUNT(atomic_load_explicit(
				    &page[i].pending, memory_order_relaxed));
		}
	}
}

int
ls_runtime_wait_idle(ls_runtime *rt, int64_t timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	if (timeout_ms >= 0)
		ls_abstime_after(timeout_ms, &ts);
	pthread_mutex_lock(&rt->idle_lock);
	while (atomic_load(&rt->n_alive) > 0) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&rt->idle_cond, &rt->idle_lock);
		} else if (pthread_cond_timedwait(&rt->idle_cond,
		               &rt->idle_lock, &ts) != 0) {
			rv = atomic_load(&rt->n_alive) > 0 ? LS_ETIMEDOUT : 0;
			break;
		}
	}
	pthread_mutex_unlock(&rt->idle_lock);
	return rv;
}

static void
collect_runtime(void *arg, ls_metrics *m)
{
	ls_runtime *rt = arg;
	ls_runtime_stats st;
	static const char *const help_c = "Runtime counter.";

	ls_runtime_stats_get(rt, &st);
	ls_metric_set(ls_metrics_counter(m,
	                  "logstream_runtime_messages_sent_total",
	                  "Messages accepted into mailboxes.", NULL),
	    (int64_t)st.sent);
	ls_metric_set(ls_metrics_counter(m,
	                  "logstream_runtime_messages_received_total",
	                  "Messages handled by actors.", NULL),
	    (int64_t)st.received);
	ls_metric_set(ls_metrics_counter(m,
	                  "logstream_runtime_activations_total",
	                  "Scheduler runs of an actor.", NULL),
	    (int64_t)st.activations);
	ls_metric_set(ls_metrics_counter(m,
	                  "logstream_runtime_mailbox_full_total",
	                  "Sends refused because the mailbox was full.", NULL),
	    (int64_t)st.mailbox_full);
	ls_metric_set(ls_metrics_counter(m, "logstream_runtime_restarts_total",
	                  "Actor restarts by supervision.", NULL),
	    (int64_t)st.restarts);
	ls_metric_set(ls_metrics_counter(m, "logstream_runtime_failures_total",
	                  "Actor callbacks that returned an error.", NULL),
	    (int64_t)st.failures);
	ls_metric_set(ls_metrics_counter(m, "logstream_runtime_steals_total",
	                  "Actors taken from another worker.", NULL),
	    (int64_t)st.steals);
	ls_metric_set(ls_metrics_counter(m,
	                  "logstream_runtime_timers_fired_total", help_c, NULL),
	    (int64_t)st.timers_fired);
	ls_metric_set(ls_metrics_counter(m,
	                  "logstream_runtime_actors_spawned_total", help_c, NULL),
	    (int64_t)st.spawned);
	ls_metric_set(ls_metrics_counter(m,
	                  "logstream_runtime_actors_stopped_total", help_c, NULL),
	    (int64_t)st.stopped);
	ls_metric_set(ls_metrics_gauge(m, "logstream_runtime_actors",
	                  "Live actors.", NULL),
	    st.actors);
	ls_metric_set(ls_metrics_gauge(m, "logstream_runtime_mailbox_depth",
	                  "Messages queued in all mailboxes.", NULL),
	    st.queued);
}

int
ls_runtime_export_metrics(ls_runtime *rt, ls_metrics *m)
{
	return ls_metrics_on_collect(m, collect_runtime, rt);
}
