/*
 * remote_test.c -- remote refs between runtimes over the in-memory
 * transport (runtime/remote.h, runtime/memnet.h): the ref layout, sends
 * and receives, the pause / LS_MSG_WRITABLE / flush contract under a full
 * link and under a full receiving mailbox (nothing lost, duplicated or
 * reordered per sender), stopped and unknown targets, bad arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/actor.h"
#include "runtime/memnet.h"
#include "runtime/remote.h"
#include "wait.h"

#define DEADLINE_MS 60000
#define MAX_PRODUCERS 4

enum { MSG_SEQ = LS_MSG_USER, MSG_GO };

typedef struct seq_msg {
	uint32_t producer;
	uint32_t seq;
} seq_msg;

/* ---- the receiver: checks order per producer ---- */

static _Atomic int64_t recv_total, order_errors, not_remote;
static _Atomic int gate_open = 1;
static uint32_t expect_link;

typedef struct checker {
	uint32_t next[MAX_PRODUCERS];
} checker;

static int
checker_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	checker *c = state;
	(void)ctx;
	while (!atomic_load(&gate_open))
		sleep_ms(1); /* a slow consumer: its mailbox fills */
	if (m->type != MSG_SEQ)
		return 0;
	if (!ls_ref_is_remote(m->from) ||
	    ls_remote_link(m->from) != expect_link)
		atomic_fetch_add(&not_remote, 1);
	seq_msg s;
	memcpy(&s, ls_msg_data(m), sizeof(s));
	if (s.producer >= MAX_PRODUCERS || s.seq != c->next[s.producer])
		atomic_fetch_add(&order_errors, 1);
	else
		c->next[s.producer]++;
	atomic_fetch_add(&recv_total, 1);
	return 0;
}

static const ls_behaviour checker_beh = {
	.name = "checker",
	.state_size = sizeof(checker),
	.receive = checker_receive,
};

/* ---- the producer: pauses on LS_EAGAIN, flushes on LS_MSG_WRITABLE ---- */

typedef struct go_msg {
	uint64_t target;
	uint32_t producer;
	uint32_t total;
} go_msg;

static _Atomic int64_t refusals, writables, sent_total, send_errors;

typedef struct producer {
	go_msg go;
	uint32_t next;
	ls_msg *held; /* refused, sent first when the link has room */
} producer;

static void
pump(ls_ctx *ctx, producer *p)
{
	ls_ref to = { p->go.target };
	if (p->held != NULL) {
		int rv = ls_ctx_send(ctx, to, p->held);
		if (rv == LS_EAGAIN)
			return;
		if (rv != 0) {
			atomic_fetch_add(&send_errors, 1);
			ls_msg_free(ls_ctx_runtime(ctx), p->held);
		} else {
			atomic_fetch_add(&sent_total, 1);
		}
		p->held = NULL;
		ls_ctx_resume(ctx);
	}
	while (p->next < p->go.total) {
		ls_msg *m = ls_msg_new(ls_ctx_runtime(ctx), MSG_SEQ,
		    sizeof(seq_msg));
		seq_msg s = { p->go.producer, p->next++ };
		memcpy(ls_msg_data(m), &s, sizeof(s));
		int rv = ls_ctx_send(ctx, to, m);
		if (rv == LS_EAGAIN) {
			atomic_fetch_add(&refusals, 1);
			p->held = m;
			ls_ctx_pause(ctx);
			return;
		}
		if (rv != 0) {
			atomic_fetch_add(&send_errors, 1);
			ls_msg_free(ls_ctx_runtime(ctx), m);
			continue;
		}
		atomic_fetch_add(&sent_total, 1);
	}
}

static int
producer_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	producer *p = state;
	if (m->type == MSG_GO) {
		memcpy(&p->go, ls_msg_data(m), sizeof(p->go));
		pump(ctx, p);
	} else if (m->type == LS_MSG_WRITABLE) {
		atomic_fetch_add(&writables, 1);
		pump(ctx, p);
	}
	return 0;
}

static void
producer_stop(ls_ctx *ctx, void *state)
{
	producer *p = state;
	ls_msg_free(ls_ctx_runtime(ctx), p->held);
}

static const ls_behaviour producer_beh = {
	.name = "producer",
	.state_size = sizeof(producer),
	.receive = producer_receive,
	.stop = producer_stop,
};

/* ---- fixture: two runtimes joined by a memnet ---- */

struct fixture {
	ls_runtime *rt1, *rt2;
	ls_memnet *net;
	uint32_t n1, n2;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	ls_runtime_opts o = { .workers = 2 };
	assert_int_equal(ls_runtime_create(&o, &f->rt1), 0);
	assert_int_equal(ls_runtime_create(&o, &f->rt2), 0);
	assert_int_equal(ls_memnet_create(16, &f->net), 0);
	assert_int_equal(ls_memnet_join(f->net, f->rt1, &f->n1), 0);
	assert_int_equal(ls_memnet_join(f->net, f->rt2, &f->n2), 0);
	expect_link = f->n1;
	atomic_store(&recv_total, 0);
	atomic_store(&order_errors, 0);
	atomic_store(&not_remote, 0);
	atomic_store(&refusals, 0);
	atomic_store(&writables, 0);
	atomic_store(&sent_total, 0);
	atomic_store(&send_errors, 0);
	atomic_store(&gate_open, 1);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	atomic_store(&gate_open, 1);
	ls_runtime_destroy(f->rt1);
	ls_runtime_destroy(f->rt2);
	ls_memnet_destroy(f->net);
	free(f);
	return 0;
}

/* A receiver on rt2 and its remote ref as seen from rt1. */
static ls_ref
remote_receiver(struct fixture *f, const ls_spawn_opts *so)
{
	ls_ref local;
	uint64_t addr;
	assert_int_equal(ls_spawn(f->rt2, &checker_beh, so, &local), 0);
	assert_int_equal(ls_memnet_export(f->net, f->n2, local, &addr), 0);
	return ls_remote_ref(f->n2, addr);
}

static void
start_producer(struct fixture *f, ls_ref target, uint32_t producer_id,
    uint32_t total)
{
	ls_ref p;
	assert_int_equal(ls_spawn(f->rt1, &producer_beh, NULL, &p), 0);
	go_msg g = { target.id, producer_id, total };
	assert_int_equal(ls_tell(f->rt1, p, MSG_GO, &g, sizeof(g)), 0);
}

/* Deliver (the test is the network) until want messages arrived. */
static void
deliver_until(struct fixture *f, int64_t want)
{
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	while (atomic_load(&recv_total) < want && ls_clock_ns() < end) {
		if (ls_memnet_deliver_all(f->net) == 0)
			sleep_ms(1);
	}
	assert_int_equal(atomic_load(&recv_total), want);
}

static void
test_ref_layout(void **state)
{
	(void)state;
	ls_ref r = ls_remote_ref(7, 0x123456789abcULL);
	assert_true(ls_ref_valid(r));
	assert_true(ls_ref_is_remote(r));
	assert_int_equal(ls_remote_link(r), 7);
	assert_int_equal(ls_remote_addr(r), 0x123456789abcULL);
	r = ls_remote_ref(LS_REMOTE_MAX_LINK, LS_REMOTE_ADDR_MASK);
	assert_int_equal(ls_remote_link(r), LS_REMOTE_MAX_LINK);
	assert_int_equal(ls_remote_addr(r), LS_REMOTE_ADDR_MASK);

	/* local refs never carry the remote bit */
	ls_runtime *rt;
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	ls_ref local;
	assert_int_equal(ls_spawn(rt, &checker_beh, NULL, &local), 0);
	assert_false(ls_ref_is_remote(local));
	/* no transport attached: a remote ref names nothing */
	ls_msg *m = ls_msg_new(rt, MSG_SEQ, 0);
	assert_int_equal(ls_send(rt, ls_remote_ref(1, 1), m), LS_ENOENT);
	ls_msg_free(rt, m);
	assert_int_equal(ls_alive(rt, ls_remote_ref(1, 1)), 0);
	assert_int_equal(ls_stop(rt, ls_remote_ref(1, 1)), LS_ENOENT);
	ls_runtime_destroy(rt);
}

static void
test_send_receive(void **state)
{
	struct fixture *f = *state;
	ls_ref target = remote_receiver(f, NULL);

	/* from a plain thread */
	for (uint32_t i = 0; i < 10; i++) {
		seq_msg s = { 0, i };
		assert_int_equal(ls_tell(f->rt1, target, MSG_SEQ, &s,
		                     sizeof(s)),
		    0);
	}
	assert_int_equal(ls_memnet_queued(f->net, f->n1, f->n2), 10);
	deliver_until(f, 10);
	/* and from actors, two producers interleaved */
	start_producer(f, target, 1, 500);
	start_producer(f, target, 2, 500);
	deliver_until(f, 1010);
	assert_int_equal(atomic_load(&order_errors), 0);
	assert_int_equal(atomic_load(&not_remote), 0);
	assert_int_equal(atomic_load(&send_errors), 0);
	ls_memnet_stats st;
	ls_memnet_stats_get(f->net, &st);
	assert_int_equal(st.delivered, 1010);
	assert_int_equal(st.dropped, 0);
}

/* A link of 16 messages and 3 producers of 2,000 each: every producer is
 * refused, pauses, is woken by LS_MSG_WRITABLE and flushes. */
static void
test_full_link_pause_writable_flush(void **state)
{
	struct fixture *f = *state;
	ls_ref target = remote_receiver(f, NULL);
	for (uint32_t p = 0; p < 3; p++)
		start_producer(f, target, p, 2000);
	deliver_until(f, 6000);
	assert_int_equal(atomic_load(&order_errors), 0);
	assert_int_equal(atomic_load(&send_errors), 0);
	assert_int_equal(atomic_load(&sent_total), 6000);
	assert_true(atomic_load(&refusals) > 0);
	assert_true(atomic_load(&writables) > 0);
	ls_remote_stats rs;
	ls_remote_stats_get(f->rt1, &rs);
	assert_int_equal(rs.sent, 6000);
	assert_true(rs.refused > 0 && rs.writable > 0);
	ls_memnet_stats st;
	ls_memnet_stats_get(f->net, &st);
	assert_int_equal(st.delivered, 6000);
	assert_int_equal(st.dropped, 0);
}

/* The mailbox took 4, the link is full behind them, the producer waits. */
static int
producer_waiting(void *arg)
{
	struct fixture *f = arg;
	ls_memnet_stats st;
	ls_memnet_stats_get(f->net, &st);
	return st.delivered == 4 &&
	    ls_memnet_queued(f->net, f->n1, f->n2) == 16 &&
	    ls_remote_waiters(f->rt1, f->n2) == 1;
}

/* The receiving mailbox (capacity 4) is full: the link keeps its head,
 * fills, refuses the producer; when the consumer drains, everything
 * arrives in order. */
static void
test_full_mailbox_holds_link(void **state)
{
	struct fixture *f = *state;
	atomic_store(&gate_open, 0);
	ls_spawn_opts so = { .mailbox_cap = 4 };
	ls_ref target = remote_receiver(f, &so);
	start_producer(f, target, 0, 1000);
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	while (!producer_waiting(f) && ls_clock_ns() < end) {
		ls_memnet_deliver(f->net, f->n1, f->n2, SIZE_MAX);
		sleep_ms(1);
	}
	assert_true(producer_waiting(f));
	ls_memnet_stats st;
	ls_memnet_stats_get(f->net, &st);
	assert_int_equal(st.delivered, 4); /* the mailbox holds 4 */
	assert_int_equal(st.dropped, 0);
	atomic_store(&gate_open, 1);
	deliver_until(f, 1000);
	assert_int_equal(atomic_load(&order_errors), 0);
	assert_int_equal(atomic_load(&sent_total), 1000);
	ls_memnet_stats_get(f->net, &st);
	assert_int_equal(st.delivered, 1000);
}

static void
test_stopped_and_unknown_targets(void **state)
{
	struct fixture *f = *state;
	ls_ref target = remote_receiver(f, NULL);
	ls_ref local;
	uint64_t addr;
	assert_int_equal(ls_spawn(f->rt2, &checker_beh, NULL, &local), 0);
	assert_int_equal(ls_memnet_export(f->net, f->n2, local, &addr), 0);
	assert_int_equal(ls_stop(f->rt2, local), 0);
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	while (ls_alive(f->rt2, local) && ls_clock_ns() < end)
		sleep_ms(1);
	seq_msg s = { 0, 0 };
	/* a stopped actor and an address nobody exported: dropped */
	assert_int_equal(ls_tell(f->rt1, ls_remote_ref(f->n2, addr), MSG_SEQ,
	                     &s, sizeof(s)),
	    0);
	assert_int_equal(ls_tell(f->rt1, ls_remote_ref(f->n2, 999), MSG_SEQ,
	                     &s, sizeof(s)),
	    0);
	assert_int_equal(ls_tell(f->rt1, target, MSG_SEQ, &s, sizeof(s)), 0);
	deliver_until(f, 1);
	ls_memnet_stats st;
	ls_memnet_stats_get(f->net, &st);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.delivered, 1);
	/* links that do not exist: to itself, to a node never joined */
	assert_int_equal(ls_tell(f->rt1, ls_remote_ref(f->n1, 1), MSG_SEQ, &s,
	                     sizeof(s)),
	    LS_ENOENT);
	assert_int_equal(ls_tell(f->rt1, ls_remote_ref(9, 1), MSG_SEQ, &s,
	                     sizeof(s)),
	    LS_ENOENT);
	/* system types do not cross links */
	ls_msg *m = ls_msg_new(f->rt1, LS_MSG_STOP, 0);
	assert_int_equal(ls_send(f->rt1, target, m), LS_EINVAL);
	ls_msg_free(f->rt1, m);
	assert_int_equal(ls_send(f->rt1, target, NULL), LS_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_layout),
		cmocka_unit_test_setup_teardown(test_send_receive, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_full_link_pause_writable_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_mailbox_holds_link,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stopped_and_unknown_targets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
