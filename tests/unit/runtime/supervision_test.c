/*
 * supervision_test.c -- failing actors are restarted with backoff, keep
 * their queued messages, and give up (telling their supervisor) after too
 * many restarts in the window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/actor.h"
#include "wait.h"

#define DEADLINE_MS 60000

enum { MSG_WORK = LS_MSG_USER, MSG_FAIL };

static _Atomic int64_t inits;
static _Atomic int64_t stops;
static _Atomic int64_t work_done;
static _Atomic int64_t state_leaks; /* work seen with non-fresh state */
static _Atomic int64_t child_failed;
static _Atomic uint64_t failed_child_id;
static _Atomic int64_t failed_err;

typedef struct flaky {
	int fresh;     /* set by init */
	int handled;   /* messages handled since init */
} flaky;

static int
flaky_init(ls_ctx *ctx, void *state, const void *arg)
{
	flaky *f = state;
	(void)ctx;
	(void)arg;
	if (f->fresh != 0 || f->handled != 0)
		atomic_fetch_add(&state_leaks, 1); /* state was not zeroed */
	f->fresh = 1;
	atomic_fetch_add(&inits, 1);
	return 0;
}

static int
flaky_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	flaky *f = state;
	(void)ctx;
	f->handled++;
	if (m->type == MSG_FAIL)
		return LS_EIO;
	if (m->type == MSG_WORK)
		atomic_fetch_add(&work_done, 1);
	return 0;
}

static void
flaky_stop(ls_ctx *ctx, void *state)
{
	(void)ctx;
	(void)state;
	atomic_fetch_add(&stops, 1);
}

static const ls_behaviour flaky_beh = {
	.name = "flaky",
	.state_size = sizeof(flaky),
	.init = flaky_init,
	.receive = flaky_receive,
	.stop = flaky_stop,
};

static int
sup_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)ctx;
	(void)state;
	if (m->type == LS_MSG_CHILD_FAILED) {
		int err;
		memcpy(&err, ls_msg_data(m), sizeof(err));
		atomic_store(&failed_child_id, m->from.id);
		atomic_store(&failed_err, err);
		atomic_fetch_add(&child_failed, 1);
	}
	return 0;
}

static const ls_behaviour sup_beh = {
	.name = "supervisor",
	.receive = sup_receive,
};

static void
reset(void)
{
	atomic_store(&inits, 0);
	atomic_store(&stops, 0);
	atomic_store(&work_done, 0);
	atomic_store(&state_leaks, 0);
	atomic_store(&child_failed, 0);
	atomic_store(&failed_child_id, 0);
	atomic_store(&failed_err, 0);
}

/* One failure: stop + init run again on zeroed state; work queued behind
 * the failing message (sent during the backoff) is still processed. */
static void
test_restart_keeps_mailbox(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref r;

	reset();
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	ls_spawn_opts o = { .backoff_min_ms = 50, .max_restarts = 3 };
	assert_int_equal(ls_spawn(rt, &flaky_beh, &o, &r), 0);
	assert_int_equal(atomic_load(&inits), 1);
	assert_int_equal(ls_tell(rt, r, MSG_FAIL, NULL, 0), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ls_tell(rt, r, MSG_WORK, NULL, 0), 0);
	assert_int_equal(wait_at_least(&work_done, 100, DEADLINE_MS), 100);
	assert_int_equal(atomic_load(&inits), 2);
	assert_int_equal(atomic_load(&stops), 1);
	assert_int_equal(atomic_load(&state_leaks), 0);
	assert_true(ls_alive(rt, r));
	ls_runtime_stats st;
	ls_runtime_stats_get(rt, &st);
	assert_int_equal(st.restarts, 1);
	assert_int_equal(st.failures, 1);
	ls_runtime_destroy(rt);
	assert_int_equal(atomic_load(&stops), 2);
}

/* Backoff doubles: the restart after a failure is never earlier than the
 * configured minimum. */
static void
test_backoff_is_respected(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref r;

	reset();
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	ls_spawn_opts o = { .backoff_min_ms = 200, .max_restarts = 5 };
	assert_int_equal(ls_spawn(rt, &flaky_beh, &o, &r), 0);
	int64_t t0 = ls_clock_ns();
	assert_int_equal(ls_tell(rt, r, MSG_FAIL, NULL, 0), 0);
	assert_int_equal(ls_tell(rt, r, MSG_WORK, NULL, 0), 0);
	assert_int_equal(wait_at_least(&work_done, 1, DEADLINE_MS), 1);
	assert_true(ls_clock_ns() - t0 >= 200 * 1000000LL);
	ls_runtime_destroy(rt);
}

/* Too many failures in the window: the actor gives up, stops, and its
 * supervisor gets LS_MSG_CHILD_FAILED naming it and the error. */
static void
test_escalate_after_max_restarts(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref sup, r;

	reset();
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_int_equal(ls_spawn(rt, &sup_beh, NULL, &sup), 0);
	ls_spawn_opts o = { .backoff_min_ms = 1, .backoff_max_ms = 4,
		.max_restarts = 3, .restart_window_ms = 600000,
		.supervisor = sup };
	assert_int_equal(ls_spawn(rt, &flaky_beh, &o, &r), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ls_tell(rt, r, MSG_FAIL, NULL, 0), 0);
	assert_int_equal(wait_at_least(&child_failed, 1, DEADLINE_MS), 1);
	assert_int_equal(atomic_load(&failed_child_id), r.id);
	assert_int_equal(atomic_load(&failed_err), LS_EIO);
	assert_int_equal(atomic_load(&inits), 4); /* first + 3 restarts */
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	while (ls_alive(rt, r) && ls_clock_ns() < end)
		sleep_ms(1);
	assert_false(ls_alive(rt, r));
	assert_int_equal(ls_tell(rt, r, MSG_WORK, NULL, 0), LS_ENOENT);
	ls_runtime_stats st;
	ls_runtime_stats_get(rt, &st);
	assert_int_equal(st.restarts, 3);
	assert_int_equal(st.failures, 4);
	ls_runtime_destroy(rt);
}

/* A child spawned from inside an actor is supervised by it by default. */
static _Atomic uint64_t spawned_child;

static int
parent_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)state;
	if (m->type == MSG_WORK) {
		ls_spawn_opts o = { .max_restarts = UINT32_MAX };
		ls_ref c;
		int rv = ls_ctx_spawn(ctx, &flaky_beh, &o, &c);
		if (rv != 0)
			return rv;
		atomic_store(&spawned_child, c.id);
		return ls_ctx_tell(ctx, c, MSG_FAIL, NULL, 0);
	}
	return sup_receive(ctx, state, m);
}

static const ls_behaviour parent_beh = {
	.name = "parent",
	.receive = parent_receive,
};

static void
test_ctx_spawn_supervises(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref p;

	reset();
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_int_equal(ls_spawn(rt, &parent_beh, NULL, &p), 0);
	assert_int_equal(ls_tell(rt, p, MSG_WORK, NULL, 0), 0);
	/* max_restarts = UINT32_MAX means "never restart": escalate at once */
	assert_int_equal(wait_at_least(&child_failed, 1, DEADLINE_MS), 1);
	assert_int_equal(atomic_load(&failed_child_id),
	    atomic_load(&spawned_child));
	assert_int_equal(atomic_load(&inits), 1);
	ls_runtime_destroy(rt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_keeps_mailbox),
		cmocka_unit_test(test_backoff_is_respected),
		cmocka_unit_test(test_escalate_after_max_restarts),
		cmocka_unit_test(test_ctx_spawn_supervises),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
