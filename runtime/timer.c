/*
 * timer.c -- a hashed timing wheel driven by one timer thread.
 *
 * The wheel has WHEEL_SLOTS slots of 1 ms; a timer due at tick T sits in
 * slot T % WHEEL_SLOTS and is fired when the wheel passes T (timers more
 * than one turn away are skipped until their turn).  Insert and cancel are
 * O(1); each tick costs one slot scan.  The thread sleeps on a condition
 * variable when no timer is pending, so an idle runtime makes no wake-ups.
 *
 * Firing sends a system-lane message (never blocked by a full mailbox).  A
 * periodic timer whose target is gone cancels itself.
 */
#include "runtime_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHEEL_SLOTS 4096
#define ID_BUCKETS 1024

void ls__wake_parked(ls_runtime *rt, ls_ref ref);

typedef struct tmr tmr;
struct tmr {
	tmr *next, *prev;   /* slot list */
	tmr *id_next;       /* id hash chain */
	uint64_t id;
	ls_ref to;
	uint32_t type;
	uint64_t tag;
	int64_t due;        /* tick (ms since wheel start) */
	int64_t interval;   /* ms, 0 = one-shot */
	int in_slot;        /* 0 while being fired (unlinked from its slot) */
};

struct ls__timer_wheel {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int started;
	int stop;
	int64_t t0;         /* monotonic ns at tick 0 */
	int64_t now_tick;   /* last tick processed */
	size_t count;
	uint64_t next_id;
	tmr *slots[WHEEL_SLOTS];
	tmr *ids[ID_BUCKETS];
};

static int64_t
tick_now(struct ls__timer_wheel *tw)
{
	return (ls_clock_ns() - tw->t0) / 1000000;
}

static void
slot_insert(struct ls__timer_wheel *tw, tmr *t)
{
	tmr **s = &tw->slots[t->due % WHEEL_SLOTS];
	t->in_slot = 1;
	t->prev = NULL;
	t->next = *s;
	if (*s != NULL)
		(*s)->prev = t;
	*s = t;
}

static void
slot_remove(struct ls__timer_wheel *tw, tmr *t)
{
	if (!t->in_slot)
		return;
	t->in_slot = 0;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		tw->slots[t->due % WHEEL_SLOTS] = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
}

static void
id_remove(struct ls__timer_wheel *tw, tmr *t)
{
	tmr **p = &tw->ids[t->id % ID_BUCKETS];
	while (*p != NULL && *p != t)
		p = &(*p)->id_next;
	if (*p != NULL)
		*p = t->id_next;
}

int ls__timer_start_internal(ls_runtime *rt, ls_ref to, int64_t delay_ms,
    int64_t interval_ms, uint32_t type, uint64_t tag, uint64_t *id);

int
ls__timer_start_internal(ls_runtime *rt, ls_ref to, int64_t delay_ms,
    int64_t interval_ms, uint32_t type, uint64_t tag, uint64_t *id)
{
	struct ls__timer_wheel *tw = rt->timers;
	tmr *t;

	if (delay_ms < 0 || interval_ms < 0 || !ls_ref_valid(to))
		return LS_EINVAL;
	if (tw == NULL)
		return LS_ECLOSED;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return LS_ENOMEM;
	t->to = to;
	t->type = type;
	t->tag = tag;
	t->interval = interval_ms;
	pthread_mutex_lock(&tw->lock);
	if (tw->stop) {
		pthread_mutex_unlock(&tw->lock);
		free(t);
		return LS_ECLOSED;
	}
	t->id = ++tw->next_id;
	/* The current tick is already partly over, so round up: a timer
	 * never fires early, and a 0 ms timer fires from the timer thread,
	 * never re-entrantly. */
	int64_t now = tick_now(tw);
	if (now < tw->now_tick)
		now = tw->now_tick;
	t->due = now + delay_ms + 1;
	slot_insert(tw, t);
	t->id_next = tw->ids[t->id % ID_BUCKETS];
	tw->ids[t->id % ID_BUCKETS] = t;
	tw->count++;
	if (id != NULL)
		*id = t->id;
	pthread_cond_signal(&tw->cond);
	pthread_mutex_unlock(&tw->lock);
	return 0;
}

int
ls_timer_start(ls_runtime *rt, ls_ref to, int64_t delay_ms,
    int64_t interval_ms, uint64_t tag, uint64_t *id)
{
	return ls__timer_start_internal(rt, to, delay_ms, interval_ms,
	    LS_MSG_TIMER, tag, id);
}

int
ls_timer_cancel(ls_runtime *rt, uint64_t id)
{
	struct ls__timer_wheel *tw = rt->timers;
	int rv = LS_ENOENT;

	if (tw == NULL)
		return LS_ENOENT;
	pthread_mutex_lock(&tw->lock);
	for (tmr *t = tw->ids[id % ID_BUCKETS]; t != NULL; t = t->id_next) {
		if (t->id == id) {
			id_remove(tw, t);
			slot_remove(tw, t);
			tw->count--;
			free(t);
			rv = 0;
			break;
		}
	}
	pthread_mutex_unlock(&tw->lock);
	return rv;
}

/* Cancel every timer aimed at `to` (actor stopped or restarting). */
void ls__timers_cancel_for(ls_runtime *rt, ls_ref to);

void
ls__timers_cancel_for(ls_runtime *rt, ls_ref to)
{
	struct ls__timer_wheel *tw = rt->timers;

	if (tw == NULL)
		return;
	pthread_mutex_lock(&tw->lock);
	if (tw->count > 0) {
		for (size_t b = 0; b < ID_BUCKETS; b++) {
			tmr **p = &tw->ids[b];
			while (*p != NULL) {
				tmr *t = *p;
				/* keep restart wake-ups: they are how a parked
				 * actor comes back */
				if (t->to.id == to.id &&
				    t->type != LS_MSG_RESTART) {
					*p = t->id_next;
					slot_remove(tw, t);
					tw->count--;
					free(t);
				} else {
					p = &t->id_next;
				}
			}
		}
	}
	pthread_mutex_unlock(&tw->lock);
}

static void
fire(ls_runtime *rt, tmr *t, int *gone)
{
	*gone = 0;
	atomic_fetch_add(&rt->n_timers, 1);
	if (t->type == LS_MSG_RESTART) {
		ls__wake_parked(rt, t->to);
		return;
	}
	ls_msg *m = ls_msg_new(rt, t->type, sizeof(uint64_t));
	if (m == NULL)
		return; /* retried at the next period, if any */
	memcpy(ls_msg_data(m), &t->tag, sizeof(uint64_t));
	int rv = ls__send_sys(rt, t->to, m);
	if (rv != 0) {
		ls_msg_free(rt, m);
		if (rv == LS_ENOENT)
			*gone = 1;
	}
}

static void *
timer_main(void *arg)
{
	ls_runtime *rt = arg;
	struct ls__timer_wheel *tw = rt->timers;

	pthread_mutex_lock(&tw->lock);
	while (!tw->stop) {
		if (tw->count == 0) {
			pthread_cond_wait(&tw->cond, &tw->lock);
			tw->now_tick = tick_now(tw);
			continue;
		}
		int64_t now = tick_now(tw);
		while (tw->now_tick < now && !tw->stop) {
			int64_t tick = ++tw->now_tick;
			tmr *t = tw->slots[tick % WHEEL_SLOTS];
			while (t != NULL) {
				tmr *next = t->next;
				if (t->due <= tick) {
					slot_remove(tw, t);
					/* fire without the lock: sending may
					 * start timers (restart backoff) */
					uint64_t id = t->id;
					tmr copy = *t;
					if (copy.interval == 0) {
						/* a one-shot is gone before
						 * it fires: cancelling it once
						 * its message is out fails */
						id_remove(tw, t);
						tw->count--;
						free(t);
					}
					pthread_mutex_unlock(&tw->lock);
					int gone;
					fire(rt, &copy, &gone);
					pthread_mutex_lock(&tw->lock);
					/* t may have been cancelled while
					 * unlocked: look it up again by id */
					tmr *live = NULL;
					for (tmr *x = tw->ids[id % ID_BUCKETS];
					     x != NULL; x = x->id_next)
						if (x->id == id) {
							live = x;
							break;
						}
					if (live != NULL) {
						if (copy.interval > 0 &&
						    !gone) {
							live->due = tick +
							    copy.interval;
							slot_insert(tw, live);
						} else {
							id_remove(tw, live);
							tw->count--;
							free(live);
						}
					}
					/* the slot list may have changed */
					next = tw->slots[tick % WHEEL_SLOTS];
					while (next != NULL &&
					    next->due > tick)
						next = next->next;
				}
				t = next;
			}
		}
		struct timespec ts;
		ls_abstime_after(1, &ts);
		pthread_cond_timedwait(&tw->cond, &tw->lock, &ts);
	}
	pthread_mutex_unlock(&tw->lock);
	return NULL;
}

int
ls__timers_start(ls_runtime *rt)
{
	struct ls__timer_wheel *tw = calloc(1, sizeof(*tw));
	if (tw == NULL)
		return LS_ENOMEM;
	pthread_mutex_init(&tw->lock, NULL);
	pthread_cond_init(&tw->cond, NULL);
	tw->t0 = ls_clock_ns();
	rt->timers = tw;
	if (pthread_create(&tw->thread, NULL, timer_main, rt) != 0)
		return LS_ENOMEM;
	tw->started = 1;
	return 0;
}

void
ls__timers_stop(ls_runtime *rt)
{
	struct ls__timer_wheel *tw = rt->timers;
	if (tw == NULL)
		return;
	pthread_mutex_lock(&tw->lock);
	tw->stop = 1;
	pthread_cond_signal(&tw->cond);
	pthread_mutex_unlock(&tw->lock);
	if (tw->started)
		pthread_join(tw->thread, NULL);
	for (size_t b = 0; b < ID_BUCKETS; b++) {
		tmr *t = tw->ids[b];
		while (t != NULL) {
			tmr *n = t->id_next;
			free(t);
			t = n;
		}
	}
	pthread_mutex_destroy(&tw->lock);
	pthread_cond_destroy(&tw->cond);
	free(tw);
	rt->timers = NULL;
}
