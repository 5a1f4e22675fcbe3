/*
 * timer_test.c -- one-shot and periodic timers, cancellation, ordering and
 * timers of stopped actors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/actor.h"
#include "wait.h"

#define DEADLINE_MS 60000

enum { TAG_ONESHOT = 1, TAG_PERIODIC = 2, TAG_MARKER = 3 };

static _Atomic int64_t fired[4];
static _Atomic int64_t fire_ns[4];
static _Atomic int64_t periodic_at_marker = -1;
static _Atomic int64_t periodic_at_oneshot = -1;

static int
tm_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)ctx;
	(void)state;
	if (m->type != LS_MSG_TIMER || m->size != sizeof(uint64_t))
		return 0;
	uint64_t tag;
	memcpy(&tag, ls_msg_data(m), sizeof(tag));
	if (tag > 3)
		return 0;
	if (atomic_fetch_add(&fired[tag], 1) == 0)
		atomic_store(&fire_ns[tag], ls_clock_ns());
	if (tag == TAG_MARKER)
		atomic_store(&periodic_at_marker,
		    atomic_load(&fired[TAG_PERIODIC]));
	if (tag == TAG_ONESHOT)
		atomic_store(&periodic_at_oneshot,
		    atomic_load(&fired[TAG_PERIODIC]));
	return 0;
}

static const ls_behaviour tm_beh = {
	.name = "timed",
	.receive = tm_receive,
};

static void
reset(void)
{
	for (int i = 0; i < 4; i++) {
		atomic_store(&fired[i], 0);
		atomic_store(&fire_ns[i], 0);
	}
	atomic_store(&periodic_at_marker, -1);
	atomic_store(&periodic_at_oneshot, -1);
}

static void
test_oneshot_never_early(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref r;
	uint64_t id;

	reset();
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_int_equal(ls_spawn(rt, &tm_beh, NULL, &r), 0);
	int64_t t0 = ls_clock_ns();
	assert_int_equal(ls_timer_start(rt, r, 30, 0, TAG_ONESHOT, &id), 0);
	assert_int_equal(wait_at_least(&fired[TAG_ONESHOT], 1, DEADLINE_MS),
	    1);
	assert_true(atomic_load(&fire_ns[TAG_ONESHOT]) - t0 >= 30 * 1000000LL);
	/* a fired one-shot timer is gone */
	assert_int_equal(ls_timer_cancel(rt, id), LS_ENOENT);
	/* a marker timer fires after it, and the one-shot did not repeat */
	assert_int_equal(ls_timer_start(rt, r, 20, 0, TAG_MARKER, NULL), 0);
	assert_int_equal(wait_at_least(&fired[TAG_MARKER], 1, DEADLINE_MS), 1);
	assert_int_equal(atomic_load(&fired[TAG_ONESHOT]), 1);
	ls_runtime_destroy(rt);
}

static void
test_periodic_and_cancel(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref r;
	uint64_t id;

	reset();
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_int_equal(ls_spawn(rt, &tm_beh, NULL, &r), 0);
	assert_int_equal(ls_timer_start(rt, r, 5, 5, TAG_PERIODIC, &id), 0);
	assert_true(wait_at_least(&fired[TAG_PERIODIC], 5, DEADLINE_MS) >= 5);
	assert_int_equal(ls_timer_cancel(rt, id), 0);
	assert_int_equal(ls_timer_cancel(rt, id), LS_ENOENT);
	/* Timers fire in due order from one thread into the system lane, so
	 * a marker started after the cancel arrives after every firing that
	 * was already queued (however slowly the actor runs).  A second marker
	 * much later must see the same count: nothing fired in between. */
	assert_int_equal(ls_timer_start(rt, r, 10, 0, TAG_MARKER, NULL), 0);
	assert_int_equal(ls_timer_start(rt, r, 100, 0, TAG_ONESHOT, NULL), 0);
	assert_int_equal(wait_at_least(&fired[TAG_ONESHOT], 1, DEADLINE_MS),
	    1);
	assert_int_equal(atomic_load(&fired[TAG_MARKER]), 1);
	assert_true(atomic_load(&periodic_at_marker) >= 5);
	assert_int_equal(atomic_load(&periodic_at_oneshot),
	    atomic_load(&periodic_at_marker));
	assert_int_equal(atomic_load(&fired[TAG_PERIODIC]),
	    atomic_load(&periodic_at_marker));
	ls_runtime_destroy(rt);
}

static void
test_timers_of_stopped_actor(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref r, m;

	reset();
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_int_equal(ls_spawn(rt, &tm_beh, NULL, &r), 0);
	assert_int_equal(ls_spawn(rt, &tm_beh, NULL, &m), 0);
	assert_int_equal(ls_timer_start(rt, r, 1, 1, TAG_PERIODIC, NULL), 0);
	assert_int_equal(ls_timer_start(rt, r, 10000, 0, TAG_ONESHOT, NULL),
	    0);
	assert_true(wait_at_least(&fired[TAG_PERIODIC], 3, DEADLINE_MS) >= 3);
	assert_int_equal(ls_stop(rt, r), 0);
	int64_t end = ls_clock_ns() + (int64_t)DEADLINE_MS * 1000000;
	while (ls_alive(rt, r) && ls_clock_ns() < end)
		sleep_ms(1);
	int64_t at_stop = atomic_load(&fired[TAG_PERIODIC]);
	assert_int_equal(ls_timer_start(rt, m, 30, 0, TAG_MARKER, NULL), 0);
	assert_int_equal(wait_at_least(&fired[TAG_MARKER], 1, DEADLINE_MS), 1);
	assert_int_equal(atomic_load(&fired[TAG_PERIODIC]), at_stop);
	assert_int_equal(ls_timer_start(rt, r, 1, 0, 9, NULL), 0);
	assert_int_equal(ls_timer_start(rt, LS_REF_NONE, 1, 0, 9, NULL),
	    LS_EINVAL);
	assert_int_equal(ls_timer_start(rt, m, -1, 0, 9, NULL), LS_EINVAL);
	/* destroy frees the pending 10 s timer (valgrind checks) */
	ls_runtime_destroy(rt);
}

/* Many timers with different delays fire in order of due time. */
static _Atomic int64_t order_pos;
static _Atomic int64_t order_bad;

static int
order_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)ctx;
	(void)state;
	uint64_t tag;
	memcpy(&tag, ls_msg_data(m), sizeof(tag));
	int64_t pos = atomic_fetch_add(&order_pos, 1);
	if ((int64_t)tag != pos)
		atomic_fetch_add(&order_bad, 1);
	return 0;
}

static const ls_behaviour order_beh = {
	.name = "order",
	.receive = order_receive,
};

static void
test_due_order(void **unused)
{
	(void)unused;
	ls_runtime *rt;
	ls_ref r;
	enum { N = 50 };

	atomic_store(&order_pos, 0);
	atomic_store(&order_bad, 0);
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	assert_int_equal(ls_spawn(rt, &order_beh, NULL, &r), 0);
	/* start in reverse so insertion order cannot explain the result;
	 * 10 ms apart so each lands on a distinct tick */
	for (int i = N - 1; i >= 0; i--)
		assert_int_equal(
		    ls_timer_start(rt, r, 20 + i * 10, 0, (uint64_t)i, NULL), 0);
	assert_int_equal(wait_at_least(&order_pos, N, DEADLINE_MS), N);
	assert_int_equal(atomic_load(&order_bad), 0);
	ls_runtime_destroy(rt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oneshot_never_early),
		cmocka_unit_test(test_periodic_and_cancel),
		cmocka_unit_test(test_timers_of_stopped_actor),
		cmocka_unit_test(test_due_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
