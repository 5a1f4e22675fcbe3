/*
 * sched.c -- the M:N scheduler: worker threads, run queues, work stealing
 * and parking.
 *
 * Each worker has
 *   - a LIFO slot `next` for the actor most recently made runnable by the
 *     actor it is running (message ping-pong stays on one core, hot in
 *     cache); only the owner touches it;
 *   - a FIFO ring of LS__RQ_CAP actors: the owner pushes at the tail, the
 *     owner and thieves pop at the head with a CAS, so idle workers steal;
 * and the runtime has one mutex-protected global queue for actors made
 * runnable by non-worker threads and for ring overflow.
 *
 * Fairness: every 61st pick a worker looks at the global queue first, and
 * the LIFO slot is taken at most 32 times in a row before the ring.
 * Idle workers spin briefly, then park on a condition variable; a push wakes
 * one only when some worker is parked.  An idle worker steals only after
 * watching a busy one for a while, and then half of its queue (see steal).
 */
#include "runtime_int.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ls__msg_cache_flush(void);

static _Thread_local ls__worker *self_worker;

ls__worker *
ls__worker_self(void)
{
	return self_worker;
}

/* ---- global queue ---- */

static int
gq_push(ls_runtime *rt, ls__actor *a)
{
	pthread_mutex_lock(&rt->gq_lock);
	if (rt->gq_len == rt->gq_cap) {
		size_t nc = rt->gq_cap ? rt->gq_cap * 2 : 1024;
		ls__actor **nq = malloc(nc * sizeof(*nq));
		if (nq == NULL) {
			pthread_mutex_unlock(&rt->gq_lock);
			return LS_ENOMEM;
		}
		for (size_t i = 0; i < rt->gq_len; i++)
			nq[i] = rt->gq[(rt->gq_head + i) % rt->gq_cap];
		free(rt->gq);
		rt->gq = nq;
		rt->gq_cap = nc;
		rt->gq_head = 0;
	}
	rt->gq[(rt->gq_head + rt->gq_len) % rt->gq_cap] = a;
	rt->gq_len++;
	atomic_store(&rt->gq_count, rt->gq_len);
	pthread_mutex_unlock(&rt->gq_lock);
	return 0;
}

static ls__actor *
gq_pop(ls_runtime *rt)
{
	ls__actor *a = NULL;

	if (atomic_load_explicit(&rt->gq_count, memory_order_relaxed) == 0)
		return NULL;
	pthread_mutex_lock(&rt->gq_lock);
	if (rt->gq_len > 0) {
		a = rt->gq[rt->gq_head];
		rt->gq_head = (rt->gq_head + 1) % rt->gq_cap;
		rt->gq_len--;
		atomic_store(&rt->gq_count, rt->gq_len);
	}
	pthread_mutex_unlock(&rt->gq_lock);
	return a;
}

/* ---- per-worker ring ---- */

static int
ring_push(ls__worker *w, ls__actor *a)
{
	uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&w->head, memory_order_acquire);

	if (t - h >= LS__RQ_CAP)
		return -1;
	atomic_store_explicit(&w->ring[t & (LS__RQ_CAP - 1)], a,
	    memory_order_relaxed);
	atomic_store_explicit(&w->tail, t + 1, memory_order_release);
	return 0;
}

static ls__actor *
ring_pop(ls__worker *w)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&w->head,
		    memory_order_acquire);
		uint32_t t = atomic_load_explicit(&w->tail,
		    memory_order_acquire);
		if (h == t)
			return NULL;
		ls__actor *a = atomic_load_explicit(
		    &w->ring[h & (LS__RQ_CAP - 1)], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&w->head, &h, h + 1,
		        memory_order_acq_rel, memory_order_relaxed))
			return a;
	}
}

static int
ring_empty(ls__worker *w)
{
	return atomic_load(&w->head) == atomic_load(&w->tail);
}

static void
wake_one(ls_runtime *rt)
{
	if (atomic_load(&rt->sleepers) == 0)
		return;
	pthread_mutex_lock(&rt->park_lock);
	rt->park_seq++;
	pthread_cond_signal(&rt->park_cond);
	pthread_mutex_unlock(&rt->park_lock);
}

void
ls__schedule(ls_runtime *rt, ls__actor *a)
{
	ls__worker *w = self_worker;

	if (w != NULL && w->rt == rt) {
		ls__actor *old = w->next;
		w->next = a;
		if (old == NULL)
			return;
		a = old;
		if (ring_push(w, a) == 0) {
			wake_one(rt);
			return;
		}
	}
	while (gq_push(rt, a) != 0) {
		/* Out of memory growing the global queue: the actor must not
		 * be lost, so wait for memory rather than drop it. */
		sched_yield();
	}
	wake_one(rt);
}

void
ls__requeue(ls_runtime *rt, ls__actor *a)
{
	ls__worker *w = self_worker;

	if (w == NULL || w->rt != rt || ring_push(w, a) != 0)
		while (gq_push(rt, a) != 0)
			sched_yield();
	wake_one(rt);
}

/*
 * Stealing with patience.  Taking an actor from a busy worker is only worth
 * it when that worker would not get to it soon: a moved actor's mailbox,
 * state and messages then cross cores on every exchange with the actors
 * left behind, which costs more than running them one after the other
 * (fan-in and the 100-token ring ran 2-3x slower on two workers than on one
 * when idle workers stole at once).  So an idle worker first watches a
 * victim with queued actors for STEAL_WATCH_NS and steals only if, while
 * it watched, the victim did not take its oldest queued actor (it is busy
 * with a long activation, or not running at all), or its queue holds more
 * than STEAL_BACKLOG_NS of work at the rate it ran activations meanwhile.
 */
#define STEAL_WATCH_NS   20000
#define STEAL_BACKLOG_NS 200000

/* Move up to half of v's queued actors (len seen) to w: the first one
 * taken is returned to run now, the others go to w's ring. */
static ls__actor *
steal_half(ls__worker *w, ls__worker *v, uint32_t len)
{
	ls__actor *first = ring_pop(v);
	uint64_t got = first != NULL;

	for (uint32_t k = 1; first != NULL && k < (len + 1) / 2; k++) {
		ls__actor *a = ring_pop(v);
		if (a == NULL)
			break;
		if (ring_push(w, a) != 0)
			while (gq_push(w->rt, a) != 0)
				sched_yield();
		got++;
	}
	atomic_store_explicit(&w->n_steals,
	    atomic_load_explicit(&w->n_steals, memory_order_relaxed) + got,
	    memory_order_relaxed);
	return first;
}

static ls__actor *
steal(ls__worker *w)
{
	ls_runtime *rt = w->rt;
	unsigned n = rt->nworkers;
	ls__worker *v = NULL;

	if (n < 2)
		return NULL;
	w->rng = w->rng * 1103515245u + 12345u;
	unsigned start = (w->rng >> 16) % n;
	for (unsigned i = 0; i < n && v == NULL; i++) {
		ls__worker *c = rt->workers[(start + i) % n];
		if (c != w && !ring_empty(c))
			v = c;
	}
	if (v == NULL) {
		w->watch = NULL;
		return NULL;
	}
	int64_t now = ls_clock_ns();
	uint32_t h = atomic_load_explicit(&v->head, memory_order_relaxed);
	uint32_t len = atomic_load_explicit(&v->tail, memory_order_relaxed) - h;
	uint64_t acts = atomic_load_explicit(&v->n_activations,
	    memory_order_relaxed);
	if (w->watch == v && now - w->watch_since >= STEAL_WATCH_NS) {
		uint64_t ran = acts - w->watch_acts;
		if (h == w->watch_head || ran == 0 ||
		    (uint64_t)len * (uint64_t)(now - w->watch_since) >=
		        (uint64_t)STEAL_BACKLOG_NS * ran) {
			w->watch = NULL;
			return steal_half(w, v, len);
		}
	} else if (w->watch == v) {
		return NULL; /* keep watching */
	}
	w->watch = v;
	w->watch_head = h;
	w->watch_acts = acts;
	w->watch_since = now;
	return NULL;
}

static int
any_work(ls_runtime *rt)
{
	if (atomic_load(&rt->gq_count) > 0)
		return 1;
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (!ring_empty(rt->workers[i]))
			return 1;
	return 0;
}

static ls__actor *
find_work(ls__worker *w, uint32_t *lifo_run)
{
	ls_runtime *rt = w->rt;
	ls__actor *a = NULL;

	if (++w->tick % 61 == 0 && (a = gq_pop(rt)) != NULL)
		return a;
	if (w->next != NULL && *lifo_run < 32) {
		a = w->next;
		w->next = NULL;
		(*lifo_run)++;
		return a;
	}
	*lifo_run = 0;
	if ((a = ring_pop(w)) != NULL)
		return a;
	if (w->next != NULL) {
		a = w->next;
		w->next = NULL;
		return a;
	}
	if ((a = gq_pop(rt)) != NULL)
		return a;
	return steal(w);
}

static void *
worker_main(void *arg)
{
	ls__worker *w = arg;
	ls_runtime *rt = w->rt;
	uint32_t lifo_run = 0;

	self_worker = w;
	while (atomic_load_explicit(&rt->running, memory_order_relaxed)) {
		ls__actor *a = find_work(w, &lifo_run);
		if (a != NULL) {
			ls__activate(w, a);
			continue;
		}
		/* Spin a little before parking: wake-ups cost microseconds. */
		for (int i = 0; i < 200 && a == NULL; i++) {
			sched_yield();
			a = find_work(w, &lifo_run);
		}
		if (a != NULL) {
			ls__activate(w, a);
			continue;
		}
		/* Park.  With nothing queued anywhere we count as a sleeper,
		 * whom the next push wakes.  With actors queued at a worker
		 * that keeps up with them (we may not steal yet) we nap for
		 * 1 ms without counting: waking us on its every push would
		 * cost the busy worker a system call each time. */
		pthread_mutex_lock(&rt->park_lock);
		atomic_fetch_add(&rt->sleepers, 1);
		int idle = !any_work(rt);
		if (!idle)
			atomic_fetch_sub(&rt->sleepers, 1);
		if (w->next == NULL && atomic_load(&rt->running) &&
		    (idle || atomic_load(&rt->gq_count) == 0)) {
			struct timespec ts;
			ls_abstime_after(idle ? 50 : 1, &ts);
			pthread_cond_timedwait(&rt->park_cond, &rt->park_lock,
			    &ts);
		}
		if (idle)
			atomic_fetch_sub(&rt->sleepers, 1);
		pthread_mutex_unlock(&rt->park_lock);
	}
	/* Actors still queued here are stopped by ls_runtime_destroy. */
	self_worker = NULL;
	ls__msg_cache_flush();
	return NULL;
}

int
ls__sched_start(ls_runtime *rt)
{
	unsigned n = rt->opts.workers;
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (unsigned)c : 1;
	}
	if (n > 256)
		n = 256;
	rt->workers = calloc(n, sizeof(*rt->workers));
	if (rt->workers == NULL)
		return LS_ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		ls__worker *w = aligned_alloc(64,
		    (sizeof(ls__worker) + 63) & ~(size_t)63);
		if (w == NULL)
			return LS_ENOMEM;
		memset(w, 0, sizeof(*w));
		w->rt = rt;
		w->index = i;
		w->rng = 2654435761u * (i + 1);
		rt->workers[i] = w;
		rt->nworkers = i + 1;
	}
	for (unsigned i = 0; i < n; i++) {
		ls__worker *w = rt->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			/* Run with the workers we have; 0 is fatal. */
			if (i == 0)
				return LS_ENOMEM;
			for (unsigned j = i; j < n; j++)
				free(rt->workers[j]);
			rt->nworkers = i;
			break;
		}
	}
	return 0;
}

void
ls__sched_stop(ls_runtime *rt)
{
	if (rt->workers == NULL)
		return;
	pthread_mutex_lock(&rt->park_lock);
	pthread_cond_broadcast(&rt->park_cond);
	pthread_mutex_unlock(&rt->park_lock);
	for (unsigned i = 0; i < rt->nworkers; i++) {
		if (rt->workers[i]->thread != 0)
			pthread_join(rt->workers[i]->thread, NULL);
	}
	for (unsigned i = 0; i < rt->nworkers; i++)
		free(rt->workers[i]);
	free(rt->workers);
	rt->workers = NULL;
	rt->nworkers = 0;
}
