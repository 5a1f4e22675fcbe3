/*
 * detector_test.c -- the leader's failure detector (cluster/detector.h)
 * on a hand-stepped clock: suspect after the suspect timeout, dead after
 * the dead timeout, the grace period of nodes never heard from, back alive
 * on a heartbeat, self and DEAD/LEFT nodes never judged, a new leadership
 * that forgets everything but gives the previous leader a short grace,
 * incarnations and the verdict on a heartbeat's sender.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster/detector.h"
#include "cluster/map.h"
#include "runtime/err.h"

#define MS 1000000LL

/* The defaults of logstream node: heartbeat 150 ms, suspect 500, dead 1000. */
#define SELF 1
#define HB   (150 * MS)
#define SUS  (500 * MS)
#define DEAD (1000 * MS)
#define T0   (1000000 * MS) /* an arbitrary start of the clock */

static ls_detector *
new_detector(void)
{
	ls_detector *d;
	assert_int_equal(ls_detector_new(SELF, HB, SUS, DEAD, &d), 0);
	return d;
}

static void
test_thresholds(void **state)
{
	(void)state;
	ls_detector *d = new_detector();
	int64_t silent = -1;
	ls_detector_heard(d, 2, 0, T0);
	/* up to and including the suspect timeout: nothing */
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, T0, &silent), 0);
	assert_int_equal(silent, 0);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, T0 + SUS, &silent),
	    0);
	assert_int_equal(silent, SUS);
	/* past it: suspect */
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, T0 + SUS + 1,
	                     &silent),
	    LS_NODE_SUSPECT);
	assert_int_equal(silent, SUS + 1);
	/* already suspect: nothing more until the dead timeout */
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_SUSPECT, T0 + SUS + 1,
	                     NULL),
	    0);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_SUSPECT, T0 + DEAD, NULL),
	    0);
	/* past it: dead, from suspect or (missed the suspect tick) alive */
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_SUSPECT, T0 + DEAD + 1,
	                     &silent),
	    LS_NODE_DEAD);
	assert_int_equal(silent, DEAD + 1);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, T0 + DEAD + 1,
	                     NULL),
	    LS_NODE_DEAD);
	/* a node already DEAD or LEFT is not judged again */
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_DEAD, T0 + 10 * DEAD,
	                     &silent),
	    0);
	assert_int_equal(silent, 0);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_LEFT, T0 + 10 * DEAD,
	                     NULL),
	    0);
	ls_detector_free(d);
	ls_detector_free(NULL);
}

static void
test_heartbeats_keep_alive(void **state)
{
	(void)state;
	ls_detector *d = new_detector();
	int64_t t = T0;
	ls_detector_heard(d, 2, 0, t);
	/* a heartbeat every 150 ms for a minute: never suspected */
	for (int i = 0; i < 400; i++) {
		t += HB;
		assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, t, NULL), 0);
		ls_detector_heard(d, 2, 0, t);
	}
	/* a suspect node that is heard again is judged from then */
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, t + SUS + 1,
	                     NULL),
	    LS_NODE_SUSPECT);
	ls_detector_heard(d, 2, 0, t + SUS + 2);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_SUSPECT, t + DEAD + 1,
	                     NULL),
	    0);
	/* ... and so is a dead one */
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, t + 3 * DEAD,
	                     NULL),
	    LS_NODE_DEAD);
	ls_detector_heard(d, 2, 0, t + 3 * DEAD);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE,
	                     t + 3 * DEAD + SUS, NULL),
	    0);
	ls_detector_free(d);
}

static void
test_grace_and_self(void **state)
{
	(void)state;
	ls_detector *d = new_detector();
	/* never heard: judged from its first judgement on */
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_ALIVE, T0, NULL), 0);
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_ALIVE, T0 + SUS, NULL),
	    0);
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_ALIVE, T0 + SUS + 1,
	                     NULL),
	    LS_NODE_SUSPECT);
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_SUSPECT, T0 + DEAD + 1,
	                     NULL),
	    LS_NODE_DEAD);
	/* a DEAD node makes no entry: when it is alive again (its heartbeat
	 * set it so) the grace starts at its next judgement */
	assert_int_equal(ls_detector_judge(d, 4, LS_NODE_DEAD, T0, NULL), 0);
	assert_int_equal(ls_detector_judge(d, 4, LS_NODE_ALIVE, T0 + 5 * DEAD,
	                     NULL),
	    0);
	/* self: never, however long */
	int64_t silent = -1;
	for (int64_t t = T0; t < T0 + 100 * DEAD; t += DEAD)
		assert_int_equal(ls_detector_judge(d, SELF, LS_NODE_ALIVE, t,
		                     &silent),
		    0);
	assert_int_equal(silent, 0);
	ls_detector_free(d);
}

static void
test_new_leadership(void **state)
{
	(void)state;
	ls_detector *d = new_detector();
	ls_detector_heard(d, 2, 0, T0);
	ls_detector_heard(d, 3, 0, T0);
	/* 10 s later this node becomes leader: everyone's slate is clean,
	 * nobody is judged on what an earlier leadership saw */
	int64_t t = T0 + 10000 * MS;
	ls_detector_lead(d, t, 0);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, t, NULL), 0);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, t + SUS, NULL),
	    0);
	assert_int_equal(ls_detector_judge(d, 2, LS_NODE_ALIVE, t + DEAD, NULL),
	    LS_NODE_SUSPECT);
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_SUSPECT, t + DEAD, NULL),
	    0); /* first judged at t + DEAD */

	/* the previous leader, 3, gets max(2 * 150, 300) = 300 ms: suspect
	 * at once, dead after 300 ms */
	t += 100000 * MS;
	ls_detector_lead(d, t, 3);
	int64_t silent;
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_ALIVE, t, &silent),
	    LS_NODE_SUSPECT);
	assert_int_equal(silent, DEAD - 300 * MS);
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_SUSPECT, t + 300 * MS,
	                     NULL),
	    0);
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_SUSPECT,
	                     t + 300 * MS + 1, NULL),
	    LS_NODE_DEAD);
	/* a healthy deposed leader heartbeats well within that */
	ls_detector_lead(d, t, 3);
	ls_detector_heard(d, 3, 0, t + HB);
	assert_int_equal(ls_detector_judge(d, 3, LS_NODE_ALIVE, t + HB + SUS,
	                     NULL),
	    0);
	/* self as the previous leader: nothing special */
	ls_detector_lead(d, t, SELF);
	assert_int_equal(ls_detector_judge(d, SELF, LS_NODE_ALIVE, t + DEAD * 9,
	                     NULL),
	    0);
	ls_detector_free(d);

	/* the grace: 2 heartbeats when that is longer, never over dead_ns */
	assert_int_equal(ls_detector_new(SELF, 400 * MS, SUS, DEAD, &d), 0);
	ls_detector_lead(d, T0, 5);
	assert_int_equal(ls_detector_judge(d, 5, LS_NODE_SUSPECT, T0 + 800 * MS,
	                     NULL),
	    0);
	assert_int_equal(ls_detector_judge(d, 5, LS_NODE_SUSPECT,
	                     T0 + 800 * MS + 1, NULL),
	    LS_NODE_DEAD);
	ls_detector_free(d);
	assert_int_equal(ls_detector_new(SELF, 900 * MS, SUS, DEAD, &d), 0);
	ls_detector_lead(d, T0, 5);
	assert_int_equal(ls_detector_judge(d, 5, LS_NODE_ALIVE, T0 + DEAD, NULL),
	    LS_NODE_SUSPECT);
	assert_int_equal(ls_detector_judge(d, 5, LS_NODE_SUSPECT, T0 + DEAD + 1,
	                     NULL),
	    LS_NODE_DEAD);
	ls_detector_free(d);
}

static void
test_incarnations(void **state)
{
	(void)state;
	ls_detector *d = new_detector();
	/* first heartbeat: nothing recorded before */
	assert_int_equal(ls_detector_heard(d, 2, 77, T0), 0);
	assert_int_equal(ls_detector_heard(d, 2, 77, T0 + HB), 77);
	/* an unknown incarnation keeps the recorded one */
	assert_int_equal(ls_detector_heard(d, 2, 0, T0 + 2 * HB), 77);
	assert_int_equal(ls_detector_heard(d, 2, 88, T0 + 3 * HB), 77);
	assert_int_equal(ls_detector_heard(d, 2, 88, T0 + 4 * HB), 88);
	/* an admission records the joiner's incarnation and counts as heard */
	ls_detector_admitted(d, 9, 55, T0);
	assert_int_equal(ls_detector_judge(d, 9, LS_NODE_ALIVE, T0 + SUS, NULL),
	    0);
	assert_int_equal(ls_detector_heard(d, 9, 55, T0 + SUS), 55);
	/* a new leadership forgets incarnations too */
	ls_detector_lead(d, T0 + DEAD, 0);
	assert_int_equal(ls_detector_heard(d, 2, 88, T0 + DEAD), 0);
	assert_int_equal(ls_detector_heard(d, 9, 55, T0 + DEAD), 0);
	/* many nodes: the table grows */
	for (uint64_t id = 100; id < 1100; id++)
		ls_detector_heard(d, id, id, T0 + DEAD);
	for (uint64_t id = 100; id < 1100; id++)
		assert_int_equal(ls_detector_heard(d, id, id, T0 + DEAD + 1), id);
	assert_int_equal(ls_detector_judge(d, 500, LS_NODE_ALIVE,
	                     T0 + DEAD + SUS + 2, NULL),
	    LS_NODE_SUSPECT);
	ls_detector_free(d);
}

/* One heartbeat's sender and flags, and what the leader proposes. */
typedef struct verdict_case {
	int known, state, leaving, restarted;
	uint64_t inc, prev_inc;
	int want;
	const char *why;
} verdict_case;

static const verdict_case VERDICTS[] = {
	{ 0, 0, 0, 0, 5, 0, LS_NODE_ALIVE, "unknown: add it" },
	{ 0, 0, 0, 1, 5, 0, LS_NODE_ALIVE, "unknown, restarted: add it" },
	{ 0, 0, 1, 0, 5, 0, LS_NODE_ALIVE, "unknown, leaving: add it" },
	{ 1, LS_NODE_ALIVE, 0, 0, 5, 5, 0, "known and alive: nothing" },
	{ 1, LS_NODE_SUSPECT, 0, 0, 5, 5, LS_NODE_ALIVE, "suspect: back alive" },
	{ 1, LS_NODE_DEAD, 0, 0, 5, 5, LS_NODE_ALIVE, "dead: back alive" },
	{ 1, LS_NODE_LEFT, 0, 0, 5, 5, LS_NODE_ALIVE, "left, back: alive" },
	{ 1, LS_NODE_ALIVE, 1, 0, 5, 5, LS_NODE_LEFT, "leaving: LEFT" },
	{ 1, LS_NODE_SUSPECT, 1, 1, 5, 0, LS_NODE_LEFT, "leaving wins" },
	{ 1, LS_NODE_LEFT, 1, 0, 5, 5, 0, "leaving, already LEFT: nothing" },
	{ 1, LS_NODE_ALIVE, 0, 1, 6, 5, LS_NODE_DEAD, "restart: fenced" },
	{ 1, LS_NODE_SUSPECT, 0, 1, 6, 0, LS_NODE_DEAD, "restart of suspect" },
	{ 1, LS_NODE_ALIVE, 0, 1, 0, 0, LS_NODE_DEAD, "restart, no inc" },
	{ 1, LS_NODE_DEAD, 0, 1, 6, 5, LS_NODE_ALIVE, "restart, already dead" },
	{ 1, LS_NODE_ALIVE, 0, 1, 6, 6, 0, "the admitted process: no restart" },
	{ 1, LS_NODE_SUSPECT, 0, 1, 6, 6, LS_NODE_ALIVE,
	    "the admitted process, suspect: alive" },
};

static void
test_verdict(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(VERDICTS) / sizeof(VERDICTS[0]); i++) {
		const verdict_case *c = &VERDICTS[i];
		int got = ls_detector_verdict(c->known, c->state, c->leaving,
		    c->restarted, c->inc, c->prev_inc);
		if (got != c->want)
			fail_msg("%s: got %d, want %d", c->why, got, c->want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_heartbeats_keep_alive),
		cmocka_unit_test(test_grace_and_self),
		cmocka_unit_test(test_new_leadership),
		cmocka_unit_test(test_incarnations),
		cmocka_unit_test(test_verdict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
