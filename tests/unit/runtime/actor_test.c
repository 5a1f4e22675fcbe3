/*
 * actor_test.c -- spawning, sending, ordering, contention, backpressure,
 * stopping and shutdown of the actor runtime.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/actor.h"
#include "runtime/metrics.h"
#include "wait.h"

#define DEADLINE_MS 60000

enum { MSG_SEQ = LS_MSG_USER, MSG_GO, MSG_PING, MSG_PONG };

/* ---- an order-checking receiver ---- */

#define MAX_PRODUCERS 16

typedef struct seq_msg {
	uint32_t producer;
	uint32_t seq;
} seq_msg;

static _Atomic int64_t recv_total;
static _Atomic int64_t order_errors;
static _Atomic int64_t dup_or_gap;

typedef struct checker {
	uint32_t next[MAX_PRODUCERS];
} checker;

static _Atomic int in_receive;
static _Atomic int64_t concurrent_activations;

static int checker_receive_one(ls_ctx *ctx, void *state, ls_msg *m);

/* Counts any overlap of two activations of one actor (never allowed). */
static int
checker_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	if (atomic_exchange(&in_receive, 1) != 0)
		atomic_fetch_add(&concurrent_activations, 1);
	int rv = checker_receive_one(ctx, state, m);
	atomic_store(&in_receive, 0);
	return rv;
}

static int
checker_receive_one(ls_ctx *ctx, void *state, ls_msg *m)
{
	checker *c = state;
	(void)ctx;
	if (m->type != MSG_SEQ)
		return 0;
	seq_msg s;
	memcpy(&s, ls_msg_data(m), sizeof(s));
	if (s.producer >= MAX_PRODUCERS) {
		atomic_fetch_add(&order_errors, 1);
		return 0;
	}
	if (s.seq != c->next[s.producer])
		atomic_fetch_add(s.seq < c->next[s.producer] ? &dup_or_gap
		                                              : &order_errors,
		    1);
	c->next[s.producer] = s.seq + 1;
	atomic_fetch_add(&recv_total, 1);
	return 0;
}

static _Atomic int gate;

static int
gated_checker_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	while (!atomic_load(&gate))
		sched_yield();
	return checker_receive(ctx, state, m);
}

static const ls_behaviour gated_checker_beh = {
	.name = "gated-checker",
	.state_size = sizeof(checker),
	.receive = gated_checker_receive,
};

static const ls_behaviour checker_beh = {
	.name = "checker",
	.state_size = sizeof(checker),
	.receive = checker_receive,
};

typedef struct producer_arg {
	ls_runtime *rt;
	ls_ref to;
	uint32_t id;
	uint32_t count;
	_Atomic int64_t *eagain;
} producer_arg;

static void *
producer_thread(void *p)
{
	producer_arg *a = p;
	for (uint32_t i = 0; i < a->count; i++) {
		seq_msg s = { a->id, i };
		int rv;
		while ((rv = ls_tell(a->rt, a->to, MSG_SEQ, &s, sizeof(s))) ==
		    LS_EAGAIN) {
			atomic_fetch_add(a->eagain, 1);
			sched_yield();
		}
		if (rv != 0)
			atomic_fetch_add(&order_errors, 1);
	}
	return NULL;
}

static void
reset_counters(void)
{
	atomic_store(&concurrent_activations, 0);
	atomic_store(&recv_total, 0);
	atomic_store(&order_errors, 0);
	atomic_store(&dup_or_gap, 0);
}

/* Many external threads hammer one small mailbox: every message arrives
 * exactly once and in per-sender order; the bound is respected by refusing
 * (LS_EAGAIN), which the producers see. */
static void
test_many_producers_order_no_loss(void **unused)
{
	(void)unused;
	ls_runtime_opts o = { .workers = 2 };
	ls_runtime *rt;
	ls_ref r;
	enum { NP = 6, PER = 50000 };
	pthread_t th[NP];
	producer_arg args[NP];
	_Atomic int64_t eagain = 0;

	reset_counters();
	assert_int_equal(ls_runtime_create(&o, &rt), 0);
	ls_spawn_opts so = { .mailbox_cap = 64 };
	assert_int_equal(ls_spawn(rt, &checker_beh, &so, &r), 0);
	for (int i = 0; i < NP; i++) {
		args[i] = (producer_arg){ rt, r, (uint32_t)i, PER, &eagain };
		assert_int_equal(
		    pthread_create(&th[i], NULL, producer_thread, &args[i]), 0);
	}
	for (int i = 0; i < NP; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(wait_at_least(&recv_total, NP * PER, DEADLINE_MS),
	    NP * PER);
	assert_int_equal(atomic_load(&order_errors), 0);
	assert_int_equal(atomic_load(&dup_or_gap), 0);
	assert_int_equal(atomic_load(&concurrent_activations), 0);
	ls_runtime_stats st;
	ls_runtime_stats_get(rt, &st);
	assert_true(st.received >= (uint64_t)NP * PER);
	/* every refusal seen by a producer was counted */
	assert_int_equal(st.mailbox_full, (uint64_t)atomic_load(&eagain));
	ls_runtime_destroy(rt);
}

/* ---- producers that are actors: backpressure through LS_MSG_WRITABLE ---- */

typedef struct pactor {
	ls_ref to;
	uint32_t id;
	uint32_t next;
	uint32_t count;
	uint32_t waits;
} pactor;

typedef struct pactor_arg {
	ls_ref to;
	uint32_t id;
	uint32_t count;
} pactor_arg;

static _Atomic int64_t producers_done;
static _Atomic int64_t writable_seen;

static int
pactor_init(ls_ctx *ctx, void *state, const void *arg)
{
	pactor *p = state;
	const pactor_arg *a = arg;
	(void)ctx;
	p->to = a->to;
	p->id = a->id;
	p->count = a->count;
	return 0;
}

/* Send until done or refused; a refusal registers us for WRITABLE. */
static void
pactor_pump(ls_ctx *ctx, pactor *p)
{
	while (p->next < p->count) {
		seq_msg s = { p->id, p->next };
		int rv = ls_ctx_tell(ctx, p->to, MSG_SEQ, &s, sizeof(s));
		if (rv == LS_EAGAIN)
			return; /* wait for LS_MSG_WRITABLE */
		if (rv != 0) {
			atomic_fetch_add(&order_errors, 1);
			return;
		}
		p->next++;
		/* yield the worker now and then: resume through GO */
		if (p->next % 256 == 0 && p->next < p->count) {
			ls_ctx_tell(ctx, ls_self(ctx), MSG_GO, NULL, 0);
			return;
		}
	}
	if (p->next == p->count) {
		p->next++;
		atomic_fetch_add(&producers_done, 1);
	}
}

static int
pactor_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	pactor *p = state;
	if (m->type == LS_MSG_WRITABLE)
		atomic_fetch_add(&writable_seen, 1);
	if (m->type == MSG_GO || m->type == LS_MSG_WRITABLE)
		pactor_pump(ctx, p);
	return 0;
}

static const ls_behaviour pactor_beh = {
	.name = "producer",
	.state_size = sizeof(pactor),
	.init = pactor_init,
	.receive = pactor_receive,
};

/* np producer actors send per messages each to one order-checking
 * receiver with mailbox capacity cap (0 = default), respecting
 * backpressure: every message arrives once and in per-sender order, and
 * two activations of the receiver never overlap. */
static void
run_actor_producers(uint32_t np, uint32_t per, uint32_t cap)
{
	ls_runtime_opts o = { .workers = 2 };
	ls_runtime *rt;
	ls_ref r;

	reset_counters();
	atomic_store(&producers_done, 0);
	atomic_store(&writable_seen, 0);
	assert_int_equal(ls_runtime_create(&o, &rt), 0);
	ls_spawn_opts so = { .mailbox_cap = cap };
	assert_int_equal(ls_spawn(rt, &checker_beh, &so, &r), 0);
	for (uint32_t i = 0; i < np; i++) {
		pactor_arg a = { r, i, per };
		ls_spawn_opts po = { .arg = &a, .arg_size = sizeof(a) };
		ls_ref p;
		assert_int_equal(ls_spawn(rt, &pactor_beh, &po, &p), 0);
		assert_int_equal(ls_tell(rt, p, MSG_GO, NULL, 0), 0);
	}
	assert_int_equal(wait_at_least(&producers_done, np, DEADLINE_MS), np);
	assert_int_equal(wait_at_least(&recv_total, (int64_t)np * per,
	                     DEADLINE_MS),
	    (int64_t)np * per);
	assert_int_equal(atomic_load(&order_errors), 0);
	assert_int_equal(atomic_load(&dup_or_gap), 0);
	assert_int_equal(atomic_load(&concurrent_activations), 0);
	ls_runtime_destroy(rt);
}

/* A small mailbox: senders are refused often and resume on WRITABLE. */
static void
test_actor_producers_backpressure(void **unused)
{
	(void)unused;
	run_actor_producers(8, 20000, 32);
}

/* Many actor senders bursting into one default-sized mailbox, as in the
 * fan-in benchmark (where a counting race once ran the receiver twice at
 * once). */
static void
test_fan_in_stress(void **unused)
{
	(void)unused;
	run_actor_producers(16, 50000, 0);
}

/* Deterministic: a producer actor refused by a blocked receiver is woken by
 * LS_MSG_WRITABLE once the receiver drains, and finishes without loss. */
static void
test_writable_wakes_refused_sender(void **unused)
{
	(void)unused;
	ls_runtime_opts o = { .workers = 2 };
	ls_runtime *rt;
	ls_ref r, p;
	enum { PER = 40 };

	reset_counters();
	atomic_store(&producers_done, 0);
	atomic_store(&writable_seen, 0);
	atomic_store(&gate, 0);
	assert_int_equal(ls_runtime_create(&o, &rt), 0);
	ls_spawn_opts so = { .mailbox_cap = 4 };
	assert_int_equal(ls_spawn(rt, &gated_checker_beh, &so, &r), 0);
	pactor_arg a = { r, 0, PER };
	ls_spawn_opts po = { .arg = &a, .arg_size = sizeof(a) };
	assert_int_equal(ls_spawn(rt, &pactor_beh, &po, &p), 0);
	assert_int_equal(ls_tell(rt, p, MSG_GO, NULL, 0), 0);
	/* the receiver is blocked: the producer must get refused */
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	ls_runtime_stats st;
	do {
		sleep_ms(1);
		ls_runtime_stats_get(rt, &st);
	} while (st.mailbox_full == 0 && ls_clock_ns() < end);
	assert_true(st.mailbox_full > 0);
	assert_int_equal(atomic_load(&producers_done), 0);
	atomic_store(&gate, 1);
	assert_int_equal(wait_at_least(&producers_done, 1, DEADLINE_MS), 1);
	assert_int_equal(wait_at_least(&recv_total, PER, DEADLINE_MS), PER);
	assert_true(atomic_load(&writable_seen) > 0);
	assert_int_equal(atomic_load(&order_errors), 0);
	assert_int_equal(atomic_load(&dup_or_gap), 0);
	assert_int_equal(atomic_load(&concurrent_activations), 0);
	ls_runtime_destroy(rt);
}

/* ---- a full mailbox refuses, deterministically ---- */
static _Atomic int64_t gated_received;

static int
gated_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	while (!atomic_load(&gate))
		sched_yield();
	atomic_fetch_add(&gated_received, 1);
	return 0;
}

static const ls_behaviour gated_beh = {
	.name = "gated",
	.receive = gated_receive,
};

static void
test_full_mailbox_refuses(void **unused)
{
	(void)unused;
	ls_runtime_opts o = { .workers = 2 };
	ls_runtime *rt;
	ls_ref r;

	atomic_store(&gate, 0);
	atomic_store(&gated_received, 0);
	assert_int_equal(ls_runtime_create(&o, &rt), 0);
	ls_spawn_opts so = { .mailbox_cap = 4 };
	assert_int_equal(ls_spawn(rt, &gated_beh, &so, &r), 0);
	/* The first message is being handled (blocked in receive) and still
	 * counts until its activation ends: 4 accepted, the 5th refused. */
	int accepted = 0;
	for (int i = 0; i < 4; i++)
		if (ls_tell(rt, r, MSG_SEQ, &i, sizeof(i)) == 0)
			accepted++;
	assert_int_equal(accepted, 4);
	ls_msg *m = ls_msg_new(rt, MSG_SEQ, 16);
	assert_non_null(m);
	assert_int_equal(ls_send(rt, r, m), LS_EAGAIN);
	/* the refused message is still ours: nothing was lost */
	m->size = 16;
	atomic_store(&gate, 1);
	assert_int_equal(wait_at_least(&gated_received, 4, DEADLINE_MS), 4);
	/* drained: sending works again */
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	int rv;
	while ((rv = ls_send(rt, r, m)) == LS_EAGAIN && ls_clock_ns() < end)
		sleep_ms(1);
	assert_int_equal(rv, 0);
	assert_int_equal(wait_at_least(&gated_received, 5, DEADLINE_MS), 5);
	ls_runtime_destroy(rt);
}

/* ---- ping-pong, names, stop, stale refs ---- */

static _Atomic int64_t pongs;

typedef struct pp {
	ls_ref peer;
	uint32_t left;
} pp;

static int
pp_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	pp *p = state;
	if (m->type == MSG_GO) {
		memcpy(&p->peer, ls_msg_data(m), sizeof(ls_ref));
		memcpy(&p->left, (char *)ls_msg_data(m) + sizeof(ls_ref),
		    sizeof(uint32_t));
		return ls_ctx_tell(ctx, p->peer, MSG_PING, NULL, 0);
	}
	if (m->type == MSG_PING)
		return ls_ctx_tell(ctx, m->from, MSG_PONG, NULL, 0);
	if (m->type == MSG_PONG) {
		atomic_fetch_add(&pongs, 1);
		if (--p->left > 0)
			return ls_ctx_tell(ctx, m->from, MSG_PING, NULL, 0);
	}
	return 0;
}

static const ls_behaviour pp_beh = {
	.name = "pingpong",
	.state_size = sizeof(pp),
	.receive = pp_receive,
};

static void
test_ping_pong_and_names(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref a, b, c;
	unsigned char go[sizeof(ls_ref) + sizeof(uint32_t)];
	uint32_t rounds = 10000;

	atomic_store(&pongs, 0);
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_true(ls_runtime_workers(rt) >= 1);
	ls_spawn_opts na = { .name = "ping" };
	ls_spawn_opts nb = { .name = "pong" };
	assert_int_equal(ls_spawn(rt, &pp_beh, &na, &a), 0);
	assert_int_equal(ls_spawn(rt, &pp_beh, &nb, &b), 0);
	assert_int_equal(ls_spawn(rt, &pp_beh, &na, &c), LS_EEXIST);
	ls_ref found;
	assert_int_equal(ls_lookup(rt, "pong", &found), 0);
	assert_true(found.id == b.id);
	assert_int_equal(ls_lookup(rt, "nobody", &found), LS_ENOENT);
	memcpy(go, &b, sizeof(b));
	memcpy(go + sizeof(b), &rounds, sizeof(rounds));
	assert_int_equal(ls_tell(rt, a, MSG_GO, go, sizeof(go)), 0);
	assert_int_equal(wait_at_least(&pongs, rounds, DEADLINE_MS), rounds);

	/* stop: the ref goes stale, the name is released */
	assert_int_equal(ls_stop(rt, b), 0);
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	while (ls_alive(rt, b) && ls_clock_ns() < end)
		sleep_ms(1);
	assert_false(ls_alive(rt, b));
	assert_int_equal(ls_tell(rt, b, MSG_PING, NULL, 0), LS_ENOENT);
	assert_int_equal(ls_stop(rt, b), LS_ENOENT);
	assert_int_equal(ls_lookup(rt, "pong", &found), LS_ENOENT);
	/* the slot is reused under a new generation: the old ref stays dead */
	assert_int_equal(ls_spawn(rt, &pp_beh, &nb, &c), 0);
	assert_true(c.id != b.id);
	assert_int_equal(ls_tell(rt, b, MSG_PING, NULL, 0), LS_ENOENT);
	assert_true(ls_alive(rt, c));
	ls_runtime_destroy(rt);
}

/* ---- clean shutdown: stop callbacks run, queued payloads freed ---- */

static _Atomic int64_t stops_called;
static _Atomic int64_t payloads_freed;

static void
payload_dtor(void *p)
{
	free(p);
	atomic_fetch_add(&payloads_freed, 1);
}

typedef struct holder {
	void *mem;
} holder;

static int
holder_init(ls_ctx *ctx, void *state, const void *arg)
{
	holder *h = state;
	(void)ctx;
	(void)arg;
	h->mem = malloc(100);
	return h->mem != NULL ? 0 : LS_ENOMEM;
}

static int
holder_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	while (!atomic_load(&gate))
		sched_yield();
	return 0;
}

static void
holder_stop(ls_ctx *ctx, void *state)
{
	holder *h = state;
	(void)ctx;
	free(h->mem);
	h->mem = NULL;
	atomic_fetch_add(&stops_called, 1);
}

static const ls_behaviour holder_beh = {
	.name = "holder",
	.state_size = sizeof(holder),
	.init = holder_init,
	.receive = holder_receive,
	.stop = holder_stop,
};

static void
test_shutdown_frees_everything(void **unused)
{
	(void)unused;
	ls_runtime_opts o = { .workers = 2 };
	ls_runtime *rt;
	enum { N = 1000 };

	atomic_store(&stops_called, 0);
	atomic_store(&payloads_freed, 0);
	atomic_store(&gate, 1);
	assert_int_equal(ls_runtime_create(&o, &rt), 0);
	int sent = 0;
	for (int i = 0; i < N; i++) {
		ls_ref r;
		assert_int_equal(ls_spawn(rt, &holder_beh, NULL, &r), 0);
		if (i % 10 == 0)
			assert_int_equal(ls_stop(rt, r), 0);
		for (int k = 0; k < 3; k++) {
			ls_msg *m = ls_msg_new(rt, MSG_SEQ, 8);
			assert_non_null(m);
			m->ptr = malloc(32);
			m->dtor = payload_dtor;
			if (ls_send(rt, r, m) == 0)
				sent++;
			else
				ls_msg_free(rt, m);
		}
	}
	ls_runtime_destroy(rt);
	/* every actor's stop ran exactly once, every payload was freed
	 * (delivered or not); valgrind checks that nothing else leaked */
	assert_int_equal(atomic_load(&stops_called), N);
	assert_int_equal(atomic_load(&payloads_freed), N * 3);
	(void)sent;
}

/* ---- many actors: spawn, use and stop 100k ---- */

static _Atomic int64_t counted;

static int
count_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)state;
	if (m->type == MSG_SEQ) {
		atomic_fetch_add(&counted, 1);
		ls_ctx_stop(ctx);
	}
	return 0;
}

static const ls_behaviour count_beh = {
	.name = "count",
	.state_size = 16,
	.receive = count_receive,
};

static void
test_many_actors(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	enum { N = 100000 };

	atomic_store(&counted, 0);
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	for (int i = 0; i < N; i++) {
		ls_ref r;
		assert_int_equal(ls_spawn(rt, &count_beh, NULL, &r), 0);
		assert_int_equal(ls_tell(rt, r, MSG_SEQ, &i, sizeof(i)), 0);
	}
	assert_int_equal(wait_at_least(&counted, N, DEADLINE_MS), N);
	assert_int_equal(ls_runtime_wait_idle(rt, DEADLINE_MS), 0);
	ls_runtime_stats st;
	ls_runtime_stats_get(rt, &st);
	assert_int_equal(st.actors, 0);
	assert_int_equal(st.spawned, N);
	assert_int_equal(st.stopped, N);
	assert_int_equal(st.queued, 0);

	/* the same counters, exported for Prometheus */
	ls_metrics *m;
	char *text;
	size_t len;
	assert_int_equal(ls_metrics_new(&m), 0);
	assert_int_equal(ls_runtime_export_metrics(rt, m), 0);
	assert_int_equal(ls_metrics_export(m, &text, &len), 0);
	char want[128];
	snprintf(want, sizeof(want), "logstream_runtime_actors_spawned_total %d\n",
	    N);
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "# TYPE logstream_runtime_actors gauge\n"
	                             "logstream_runtime_actors 0\n"));
	snprintf(want, sizeof(want),
	    "logstream_runtime_messages_received_total %llu\n",
	    (unsigned long long)st.received);
	assert_non_null(strstr(text, want));
	free(text);
	ls_metrics_free(m);
	ls_runtime_destroy(rt);
}

/* ---- pause / resume ---- */

static _Atomic int64_t pz_seen;
static _Atomic int64_t pz_seen_at_timer = -1;

static int
pz_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)state;
	if (m->type == LS_MSG_TIMER) {
		atomic_store(&pz_seen_at_timer, atomic_load(&pz_seen));
		ls_ctx_resume(ctx);
		return 0;
	}
	if (atomic_fetch_add(&pz_seen, 1) == 0)
		ls_ctx_pause(ctx);
	return 0;
}

static const ls_behaviour pz_beh = {
	.name = "pausing",
	.receive = pz_receive,
};

/* A paused actor gets no user messages (they stay queued) but still gets
 * system messages; after resume the queued ones arrive. */
static void
test_pause_resume(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref r;

	atomic_store(&pz_seen, 0);
	atomic_store(&pz_seen_at_timer, -1);
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_int_equal(ls_spawn(rt, &pz_beh, NULL, &r), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ls_tell(rt, r, MSG_SEQ, NULL, 0), 0);
	assert_int_equal(ls_timer_start(rt, r, 20, 0, 1, NULL), 0);
	assert_int_equal(wait_at_least(&pz_seen, 5, DEADLINE_MS), 5);
	assert_int_equal(atomic_load(&pz_seen_at_timer), 1);
	ls_runtime_destroy(rt);
}

static void
test_bad_arguments(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_behaviour nothing = { .name = "nothing" };
	ls_ref r;

	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_int_equal(ls_spawn(rt, &nothing, NULL, &r), LS_EINVAL);
	assert_int_equal(ls_spawn(rt, NULL, NULL, &r), LS_EINVAL);
	ls_msg *m = ls_msg_new(rt, LS_MSG_TIMER, 0);
	assert_int_equal(ls_send(rt, (ls_ref){ 12345 }, m), LS_EINVAL);
	m->type = MSG_SEQ;
	assert_int_equal(ls_send(rt, (ls_ref){ 12345 }, m), LS_ENOENT);
	assert_int_equal(ls_send(rt, LS_REF_NONE, m), LS_ENOENT);
	ls_msg_free(rt, m);
	assert_int_equal(ls_tell(rt, (ls_ref){ ~0ull }, MSG_SEQ, NULL, 0),
	    LS_ENOENT);
	ls_runtime_destroy(rt);
}

/* ---- batched sends (see "Batching at the sender" in runtime_int.h) ---- */

/* A sender actor that bursts numbered messages, each with a counted
 * payload, to one receiver until it is refused with anything but
 * LS_EAGAIN. */
typedef struct burster {
	ls_ref to;
	uint32_t next;
	int done;
} burster;

static _Atomic int64_t burst_created;
static _Atomic int64_t burst_enoent;
static _Atomic int64_t burst_other_err;

static int
burster_init(ls_ctx *ctx, void *state, const void *arg)
{
	burster *b = state;
	(void)ctx;
	memcpy(&b->to, arg, sizeof(b->to));
	return 0;
}

static int
burster_receive(ls_ctx *ctx, void *state, ls_msg *in)
{
	burster *b = state;
	ls_runtime *rt = ls_ctx_runtime(ctx);
	if (in->type != MSG_GO || b->done)
		return 0;
	for (int i = 0; i < 300; i++) {
		ls_msg *m = ls_msg_new(rt, MSG_SEQ, sizeof(seq_msg));
		if (m == NULL)
			return LS_ENOMEM;
		seq_msg s = { 0, b->next };
		memcpy(ls_msg_data(m), &s, sizeof(s));
		m->ptr = malloc(16);
		m->dtor = payload_dtor;
		atomic_fetch_add(&burst_created, 1);
		int rv = ls_ctx_send(ctx, b->to, m);
		if (rv != 0)
			ls_msg_free(rt, m);
		if (rv == LS_EAGAIN)
			break; /* retry on the next GO */
		if (rv != 0) {
			atomic_fetch_add(rv == LS_ENOENT ? &burst_enoent
			                                 : &burst_other_err,
			    1);
			b->done = 1;
			atomic_fetch_add(&producers_done, 1);
			return 0;
		}
		b->next++;
	}
	return ls_ctx_tell(ctx, ls_self(ctx), MSG_GO, NULL, 0);
}

static const ls_behaviour burster_beh = {
	.name = "burster",
	.state_size = sizeof(burster),
	.init = burster_init,
	.receive = burster_receive,
};

/* A receiver is stopped while a sender keeps publishing chains to it: the
 * sender ends with LS_ENOENT, what arrived is an in-order prefix, and
 * every message (delivered, freed by the stop, or refused) is freed
 * exactly once. */
static void
test_stop_races_batched_sends(void **unused)
{
	(void)unused;
	ls_runtime_opts o = { .workers = 2 };

	for (int round = 0; round < 20; round++) {
		ls_runtime *rt;
		ls_ref r, b;
		reset_counters();
		atomic_store(&producers_done, 0);
		atomic_store(&payloads_freed, 0);
		atomic_store(&burst_created, 0);
		atomic_store(&burst_enoent, 0);
		atomic_store(&burst_other_err, 0);
		assert_int_equal(ls_runtime_create(&o, &rt), 0);
		assert_int_equal(ls_spawn(rt, &checker_beh, NULL, &r), 0);
		ls_spawn_opts bo = { .arg = &r, .arg_size = sizeof(r) };
		assert_int_equal(ls_spawn(rt, &burster_beh, &bo, &b), 0);
		assert_int_equal(ls_tell(rt, b, MSG_GO, NULL, 0), 0);
		/* stop it after a varying amount of traffic */
		wait_at_least(&recv_total, 200 * (round % 5), DEADLINE_MS);
		assert_int_equal(ls_stop(rt, r), 0);
		assert_int_equal(wait_at_least(&producers_done, 1, DEADLINE_MS),
		    1);
		assert_int_equal(atomic_load(&burst_enoent), 1);
		assert_int_equal(atomic_load(&burst_other_err), 0);
		assert_int_equal(atomic_load(&order_errors), 0);
		assert_int_equal(atomic_load(&dup_or_gap), 0);
		assert_int_equal(atomic_load(&concurrent_activations), 0);
		ls_runtime_destroy(rt);
		assert_int_equal(atomic_load(&payloads_freed),
		    atomic_load(&burst_created));
	}
}

/* Batched sends from producer actors are refused at the bound: the count
 * never exceeds the capacity plus what the other worker may hold unpublished
 * (one chain of CAP / 16); after the receiver is released everything arrives
 * in order. */
static void
test_batched_sends_respect_bound(void **unused)
{
	(void)unused;
	ls_runtime_opts o = { .workers = 2 };
	ls_runtime *rt;
	ls_ref r;
	enum { NP = 2, PER = 6000, CAP = 256 };

	reset_counters();
	atomic_store(&producers_done, 0);
	atomic_store(&writable_seen, 0);
	atomic_store(&gate, 0);
	assert_int_equal(ls_runtime_create(&o, &rt), 0);
	ls_spawn_opts so = { .mailbox_cap = CAP };
	assert_int_equal(ls_spawn(rt, &gated_checker_beh, &so, &r), 0);
	for (uint32_t i = 0; i < NP; i++) {
		pactor_arg a = { r, i, PER };
		ls_spawn_opts po = { .arg = &a, .arg_size = sizeof(a) };
		ls_ref p;
		assert_int_equal(ls_spawn(rt, &pactor_beh, &po, &p), 0);
		assert_int_equal(ls_tell(rt, p, MSG_GO, NULL, 0), 0);
	}
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	ls_runtime_stats st;
	do {
		sleep_ms(1);
		ls_runtime_stats_get(rt, &st);
	} while (st.mailbox_full < NP && ls_clock_ns() < end);
	assert_true(st.mailbox_full >= NP);
	for (int i = 0; i < 20; i++) {
		ls_runtime_stats_get(rt, &st);
		/* the receiver's mailbox, one chain of the other worker,
		 * and at most a GO and a WRITABLE per producer */
		if (st.queued > CAP + CAP / 16 + 2 * NP)
			fprintf(stderr, "queued %lld\n", (long long)st.queued);
		assert_true(st.queued <= CAP + CAP / 16 + 2 * NP);
		sleep_ms(1);
	}
	atomic_store(&gate, 1);
	assert_int_equal(wait_at_least(&producers_done, NP, DEADLINE_MS), NP);
	assert_int_equal(wait_at_least(&recv_total, (int64_t)NP * PER,
	                     DEADLINE_MS),
	    (int64_t)NP * PER);
	assert_int_equal(atomic_load(&order_errors), 0);
	assert_int_equal(atomic_load(&dup_or_gap), 0);
	assert_int_equal(atomic_load(&concurrent_activations), 0);
	ls_runtime_destroy(rt);
}

/* One sender interleaves messages to more receivers than a worker keeps
 * chains for (so chains are published early to make room): each receiver
 * still gets its messages once and in order. */
enum { RR_RECEIVERS = 12, RR_PER = 4000 };

typedef struct rr_sender {
	ls_ref to[RR_RECEIVERS];
	uint32_t next;
} rr_sender;

static int
rr_init(ls_ctx *ctx, void *state, const void *arg)
{
	(void)ctx;
	memcpy(((rr_sender *)state)->to, arg, sizeof(ls_ref) * RR_RECEIVERS);
	return 0;
}

static int
rr_receive(ls_ctx *ctx, void *state, ls_msg *in)
{
	rr_sender *s = state;
	if (s->next == RR_RECEIVERS * RR_PER)
		return 0; /* done (a WRITABLE may still arrive) */
	for (int i = 0; i < 500 && s->next < RR_RECEIVERS * RR_PER; i++) {
		seq_msg m = { 0, s->next / RR_RECEIVERS };
		int rv = ls_ctx_tell(ctx, s->to[s->next % RR_RECEIVERS],
		    MSG_SEQ, &m, sizeof(m));
		if (rv == LS_EAGAIN)
			break;
		if (rv != 0) {
			atomic_fetch_add(&order_errors, 1);
			return 0;
		}
		s->next++;
	}
	if (s->next < RR_RECEIVERS * RR_PER)
		return in->type == MSG_GO
		    ? ls_ctx_tell(ctx, ls_self(ctx), MSG_GO, NULL, 0) : 0;
	atomic_fetch_add(&producers_done, 1);
	return 0;
}

static const ls_behaviour rr_beh = {
	.name = "round-robin",
	.state_size = sizeof(rr_sender),
	.init = rr_init,
	.receive = rr_receive,
};

static void
test_batched_sends_many_receivers(void **unused)
{
	(void)unused;
	ls_runtime_opts o = { .workers = 2 };
	ls_runtime *rt;
	ls_ref to[RR_RECEIVERS], s;

	reset_counters();
	atomic_store(&producers_done, 0);
	assert_int_equal(ls_runtime_create(&o, &rt), 0);
	ls_spawn_opts ro = { .mailbox_cap = 128 };
	for (int i = 0; i < RR_RECEIVERS; i++)
		assert_int_equal(ls_spawn(rt, &checker_beh, &ro, &to[i]), 0);
	ls_spawn_opts so = { .arg = to, .arg_size = sizeof(to) };
	assert_int_equal(ls_spawn(rt, &rr_beh, &so, &s), 0);
	assert_int_equal(ls_tell(rt, s, MSG_GO, NULL, 0), 0);
	assert_int_equal(wait_at_least(&producers_done, 1, DEADLINE_MS), 1);
	assert_int_equal(wait_at_least(&recv_total,
	                     (int64_t)RR_RECEIVERS * RR_PER, DEADLINE_MS),
	    (int64_t)RR_RECEIVERS * RR_PER);
	assert_int_equal(atomic_load(&order_errors), 0);
	assert_int_equal(atomic_load(&dup_or_gap), 0);
	/* (activations of different receivers may overlap here) */
	ls_runtime_destroy(rt);
}

/* ---- spawn and stop from workers (per-worker slot cache) ---- */

enum { CHURN_BURSTS = 20, CHURN_PER = 1000, CHURN_SAMPLE = 64 };

static _Atomic int64_t churn_dirty;   /* a child saw non-zero state */
static _Atomic int64_t churn_stopped;
static _Atomic int64_t churn_errors;
static ls_ref churn_refs[CHURN_SAMPLE];

static int
churn_child_init(ls_ctx *ctx, void *state, const void *arg)
{
	const size_t *size = arg;
	(void)ctx;
	for (size_t i = 0; i < *size; i++)
		if (((unsigned char *)state)[i] != 0)
			atomic_fetch_add(&churn_dirty, 1);
	memset(state, 0xa5, *size); /* the next incarnation must not see it */
	return 0;
}

static int
churn_child_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	return 0;
}

static void
churn_child_stop(ls_ctx *ctx, void *state)
{
	(void)ctx;
	(void)state;
	atomic_fetch_add(&churn_stopped, 1);
}

static const ls_behaviour churn_small_beh = {
	.name = "churn-small",
	.state_size = 24,
	.init = churn_child_init,
	.receive = churn_child_receive,
	.stop = churn_child_stop,
};

static const ls_behaviour churn_big_beh = {
	.name = "churn-big",
	.state_size = 100,
	.init = churn_child_init,
	.receive = churn_child_receive,
	.stop = churn_child_stop,
};

typedef struct churner {
	uint32_t bursts;
} churner;

static int
churner_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	churner *c = state;
	static const size_t small = 24, big = 100;
	(void)m;
	for (uint32_t i = 0; i < CHURN_PER; i++) {
		int use_big = (i + c->bursts) % 3 == 0;
		ls_spawn_opts o = { .arg = use_big ? &big : &small };
		ls_ref r;
		int rv = ls_ctx_spawn(ctx,
		    use_big ? &churn_big_beh : &churn_small_beh, &o, &r);
		if (rv == 0)
			rv = ls_stop(ls_ctx_runtime(ctx), r);
		if (rv != 0) {
			atomic_fetch_add(&churn_errors, 1);
			break;
		}
		if (i % (CHURN_PER / (CHURN_SAMPLE / CHURN_BURSTS + 1)) == 0) {
			uint32_t k = (c->bursts * 7 + i) % CHURN_SAMPLE;
			churn_refs[k] = r;
		}
	}
	if (++c->bursts < CHURN_BURSTS)
		return ls_ctx_tell(ctx, ls_self(ctx), MSG_GO, NULL, 0);
	ls_ctx_stop(ctx);
	return 0;
}

static const ls_behaviour churner_beh = {
	.name = "churner",
	.state_size = sizeof(churner),
	.receive = churner_receive,
};

/* An actor spawns and stops 20,000 children (state inline and
 * allocated) while the other worker stops them: every child starts with
 * zeroed state although slots are reused, all stop, and references to
 * stopped children stay dead (LS_ENOENT) whatever now lives in their
 * slots; a named actor spawned afterwards is found and its name freed. */
static void
test_spawn_churn_on_workers(void **unused)
{
	(void)unused;
	ls_runtime_opts o = { .workers = 2 };
	ls_runtime *rt;
	ls_ref c;

	atomic_store(&churn_dirty, 0);
	atomic_store(&churn_stopped, 0);
	atomic_store(&churn_errors, 0);
	memset(churn_refs, 0, sizeof(churn_refs));
	assert_int_equal(ls_runtime_create(&o, &rt), 0);
	assert_int_equal(ls_spawn(rt, &churner_beh, NULL, &c), 0);
	assert_int_equal(ls_tell(rt, c, MSG_GO, NULL, 0), 0);
	assert_int_equal(ls_runtime_wait_idle(rt, DEADLINE_MS), 0);
	assert_int_equal(atomic_load(&churn_errors), 0);
	assert_int_equal(atomic_load(&churn_dirty), 0);
	assert_int_equal(atomic_load(&churn_stopped),
	    CHURN_BURSTS * CHURN_PER);
	ls_runtime_stats st;
	ls_runtime_stats_get(rt, &st);
	assert_int_equal(st.spawned, CHURN_BURSTS * CHURN_PER + 1);
	assert_int_equal(st.stopped, CHURN_BURSTS * CHURN_PER + 1);
	assert_int_equal(st.actors, 0);
	/* new actors reuse the slots; the old references must not reach
	 * them */
	static const size_t small = 24;
	ls_spawn_opts so = { .arg = &small };
	for (int i = 0; i < 100; i++)
		assert_int_equal(ls_spawn(rt, &churn_small_beh, &so, NULL), 0);
	for (int i = 0; i < CHURN_SAMPLE; i++) {
		if (!ls_ref_valid(churn_refs[i]))
			continue;
		assert_int_equal(ls_alive(rt, churn_refs[i]), 0);
		assert_int_equal(ls_tell(rt, churn_refs[i], MSG_SEQ, NULL, 0),
		    LS_ENOENT);
	}
	ls_spawn_opts no = { .name = "churn-named", .arg = &small };
	ls_ref n, found;
	assert_int_equal(ls_spawn(rt, &churn_small_beh, &no, &n), 0);
	assert_int_equal(ls_lookup(rt, "churn-named", &found), 0);
	assert_int_equal(found.id, n.id);
	assert_int_equal(ls_stop(rt, n), 0);
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	while (ls_lookup(rt, "churn-named", &found) == 0 &&
	    ls_clock_ns() < end)
		sleep_ms(1);
	assert_int_equal(ls_lookup(rt, "churn-named", &found), LS_ENOENT);
	ls_runtime_destroy(rt);
	assert_int_equal(atomic_load(&churn_dirty), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_producers_order_no_loss),
		cmocka_unit_test(test_actor_producers_backpressure),
		cmocka_unit_test(test_fan_in_stress),
		cmocka_unit_test(test_writable_wakes_refused_sender),
		cmocka_unit_test(test_full_mailbox_refuses),
		cmocka_unit_test(test_ping_pong_and_names),
		cmocka_unit_test(test_shutdown_frees_everything),
		cmocka_unit_test(test_many_actors),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_stop_races_batched_sends),
		cmocka_unit_test(test_batched_sends_respect_bound),
		cmocka_unit_test(test_batched_sends_many_receivers),
		cmocka_unit_test(test_spawn_churn_on_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
