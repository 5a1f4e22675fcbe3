/*
 * acks_test.c -- the checkpoint acknowledgement table (cluster/acks.h):
 * add and look up, final acknowledgements that count for later
 * checkpoints, the distinct checkpoint ids of a run, gc and dropping a
 * topology, the bound, a table of 200,000 entries against a plain count
 * of what was added, and an allocation-failure sweep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/acks.h"
#include "runtime/err.h"

#define CK(epoch, seq) (((uint64_t)(epoch) << 32) | (seq))

static void
test_add_lookup(void **state)
{
	(void)state;
	ls_acks *a;
	int fin = -1;
	assert_int_equal(ls_acks_new(0, &a), 0);
	assert_int_equal(ls_acks_count(a), 0);
	assert_int_equal(ls_acks_held(a, "t", 3, "w[0]", 7, CK(3, 1), &fin), 0);

	assert_int_equal(ls_acks_add(a, "t", 3, "w[0]", 7, CK(3, 1), 0), 0);
	assert_int_equal(ls_acks_held(a, "t", 3, "w[0]", 7, CK(3, 1), &fin), 1);
	assert_int_equal(fin, 0);
	/* every part of the key counts */
	assert_int_equal(ls_acks_held(a, "u", 3, "w[0]", 7, CK(3, 1), NULL), 0);
	assert_int_equal(ls_acks_held(a, "t", 4, "w[0]", 7, CK(3, 1), NULL), 0);
	assert_int_equal(ls_acks_held(a, "t", 3, "w[1]", 7, CK(3, 1), NULL), 0);
	assert_int_equal(ls_acks_held(a, "t", 3, "w[0]", 8, CK(3, 1), NULL), 0);
	assert_int_equal(ls_acks_held(a, "t", 3, "w[0]", 7, CK(3, 2), NULL), 0);
	/* the same key again is kept once */
	assert_int_equal(ls_acks_add(a, "t", 3, "w[0]", 7, CK(3, 1), 0), 0);
	assert_int_equal(ls_acks_count(a), 1);
	/* NULL strings */
	assert_int_equal(ls_acks_add(a, NULL, 3, "w[0]", 7, 1, 0), LS_EINVAL);
	assert_int_equal(ls_acks_add(a, "t", 3, NULL, 7, 1, 0), LS_EINVAL);
	ls_acks_free(a);
	ls_acks_free(NULL);
}

static void
test_final(void **state)
{
	(void)state;
	ls_acks *a;
	int fin = -1;
	assert_int_equal(ls_acks_new(0, &a), 0);
	/* the partition ended with checkpoint 5 */
	assert_int_equal(ls_acks_add(a, "t", 1, "p", 2, CK(1, 4), 0), 0);
	assert_int_equal(ls_acks_add(a, "t", 1, "p", 2, CK(1, 5), 1), 0);
	assert_int_equal(ls_acks_held(a, "t", 1, "p", 2, CK(1, 4), &fin), 1);
	assert_int_equal(fin, 0);
	assert_int_equal(ls_acks_held(a, "t", 1, "p", 2, CK(1, 5), &fin), 1);
	assert_int_equal(fin, 1);
	/* ... so it holds every later checkpoint of the run, finally */
	fin = -1;
	assert_int_equal(ls_acks_held(a, "t", 1, "p", 2, CK(1, 9), &fin), 1);
	assert_int_equal(fin, 1);
	/* not an earlier one, nor another run's, nor another node's */
	assert_int_equal(ls_acks_held(a, "t", 1, "p", 2, CK(1, 3), NULL), 0);
	assert_int_equal(ls_acks_held(a, "t", 2, "p", 2, CK(1, 9), NULL), 0);
	assert_int_equal(ls_acks_held(a, "t", 1, "p", 3, CK(1, 9), NULL), 0);
	/* a non-final ack turned final by a repeat */
	assert_int_equal(ls_acks_add(a, "t", 1, "q", 2, CK(1, 6), 0), 0);
	assert_int_equal(ls_acks_held(a, "t", 1, "q", 2, CK(1, 7), NULL), 0);
	assert_int_equal(ls_acks_add(a, "t", 1, "q", 2, CK(1, 6), 1), 0);
	assert_int_equal(ls_acks_held(a, "t", 1, "q", 2, CK(1, 7), &fin), 1);
	assert_int_equal(fin, 1);
	assert_int_equal(ls_acks_count(a), 3);
	ls_acks_free(a);
}

static void
test_ckpts(void **state)
{
	(void)state;
	ls_acks *a;
	uint64_t *ids;
	size_t n;
	assert_int_equal(ls_acks_new(0, &a), 0);
	assert_int_equal(ls_acks_ckpts(a, "t", 1, 0, &ids, &n), 0);
	assert_null(ids);
	assert_int_equal(n, 0);
	const uint64_t seqs[] = { 3, 1, 4, 1, 5, 9, 2, 6, 5, 3 };
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		char part[16];
		snprintf(part, sizeof(part), "p%zu", i % 3);
		assert_int_equal(ls_acks_add(a, "t", 1, part, i % 2 + 1,
		                     CK(1, seqs[i]), 0),
		    0);
	}
	assert_int_equal(ls_acks_add(a, "t", 2, "p0", 1, CK(2, 7), 0), 0);
	assert_int_equal(ls_acks_add(a, "u", 1, "p0", 1, CK(1, 8), 0), 0);
	/* distinct ids of t under epochs >= 1 above CK(1, 2), highest
	 * first: an incarnation of epoch 2 acknowledges too */
	assert_int_equal(ls_acks_ckpts(a, "t", 1, CK(1, 2), &ids, &n), 0);
	const uint64_t want[] = { CK(2, 7), CK(1, 9), CK(1, 6), CK(1, 5),
		CK(1, 4), CK(1, 3) };
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++)
		assert_true(ids[i] == want[i]);
	free(ids);
	/* epochs >= 2: only its own */
	assert_int_equal(ls_acks_ckpts(a, "t", 2, 0, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_true(ids[0] == CK(2, 7));
	free(ids);
	assert_int_equal(ls_acks_ckpts(a, "nosuch", 1, 0, &ids, &n), 0);
	assert_int_equal(n, 0);
	ls_acks_free(a);
}

/* The map as gc sees it: topology "t" runs epoch 2 with checkpoint
 * CK(2, 5) done; "u" is gone. */
static int
fake_run(void *arg, const char *topo, uint64_t *epoch, uint64_t *done)
{
	int *calls = arg;
	(*calls)++;
	if (strcmp(topo, "t") != 0)
		return -1;
	*epoch = 2;
	*done = CK(2, 5);
	return 0;
}

static void
test_gc(void **state)
{
	(void)state;
	ls_acks *a;
	assert_int_equal(ls_acks_new(0, &a), 0);
	/* an older run of t: goes */
	assert_int_equal(ls_acks_add(a, "t", 1, "p", 1, CK(1, 9), 1), 0);
	/* the current run: below done goes unless final */
	assert_int_equal(ls_acks_add(a, "t", 2, "p", 1, CK(2, 4), 0), 0);
	assert_int_equal(ls_acks_add(a, "t", 2, "q", 1, CK(2, 3), 1), 0);
	assert_int_equal(ls_acks_add(a, "t", 2, "p", 1, CK(2, 5), 0), 0);
	assert_int_equal(ls_acks_add(a, "t", 2, "p", 2, CK(2, 6), 0), 0);
	/* a gone topology: goes */
	assert_int_equal(ls_acks_add(a, "u", 2, "p", 1, CK(2, 6), 0), 0);
	assert_int_equal(ls_acks_add(a, "u", 2, "r", 1, CK(2, 7), 1), 0);
	assert_int_equal(ls_acks_count(a), 7);
	int calls = 0;
	ls_acks_gc(a, fake_run, &calls);
	assert_int_equal(calls, 2); /* once per topology */
	assert_int_equal(ls_acks_count(a), 3);
	assert_int_equal(ls_acks_held(a, "t", 1, "p", 1, CK(1, 9), NULL), 0);
	assert_int_equal(ls_acks_held(a, "t", 2, "p", 1, CK(2, 4), NULL), 0);
	assert_int_equal(ls_acks_held(a, "t", 2, "q", 1, CK(2, 8), NULL), 1);
	assert_int_equal(ls_acks_held(a, "t", 2, "p", 1, CK(2, 5), NULL), 1);
	assert_int_equal(ls_acks_held(a, "t", 2, "p", 2, CK(2, 6), NULL), 1);
	assert_int_equal(ls_acks_held(a, "u", 2, "p", 1, CK(2, 6), NULL), 0);
	assert_int_equal(ls_acks_held(a, "u", 2, "r", 1, CK(2, 9), NULL), 0);
	/* a topology added again after it was gone starts empty */
	assert_int_equal(ls_acks_add(a, "u", 3, "p", 1, CK(3, 1), 0), 0);
	assert_int_equal(ls_acks_held(a, "u", 3, "p", 1, CK(3, 1), NULL), 1);
	ls_acks_drop_topology(a, "t");
	assert_int_equal(ls_acks_count(a), 1);
	assert_int_equal(ls_acks_held(a, "t", 2, "p", 1, CK(2, 5), NULL), 0);
	assert_int_equal(ls_acks_held(a, "u", 3, "p", 1, CK(3, 1), NULL), 1);
	ls_acks_drop_topology(a, "nosuch");
	ls_acks_drop_topology(a, "u");
	assert_int_equal(ls_acks_count(a), 0);
	calls = 0;
	ls_acks_gc(a, fake_run, &calls);
	assert_int_equal(calls, 0);
	ls_acks_free(a);
}

static void
test_bound(void **state)
{
	(void)state;
	ls_acks *a;
	assert_int_equal(ls_acks_new(3, &a), 0);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(ls_acks_add(a, "t", 1, "p", 1, CK(1, i), 0), 0);
	assert_int_equal(ls_acks_add(a, "t", 1, "p", 1, CK(1, 4), 0),
	    LS_EAGAIN);
	assert_int_equal(ls_acks_held(a, "t", 1, "p", 1, CK(1, 4), NULL), 0);
	/* a repeat of a present key is no new entry */
	assert_int_equal(ls_acks_add(a, "t", 1, "p", 1, CK(1, 3), 1), 0);
	assert_int_equal(ls_acks_count(a), 3);
	ls_acks_free(a);
}

/* 200,000 acknowledgements (as many as a leader keeps): 40 topologies x
 * 2 epochs x 50 partitions x 5 nodes x 10 checkpoints; every one found,
 * neighbours not; gc leaves exactly what a plain scan says it should. */
#define NT 40
#define NP 50
#define NN 5
#define NK 10

static int
many_run(void *arg, const char *topo, uint64_t *epoch, uint64_t *done)
{
	(void)arg;
	int t = atoi(topo + 1);
	if (t % 10 == 9)
		return -1; /* every tenth topology is gone */
	*epoch = 2;
	*done = CK(2, (uint64_t)(t % NK) + 1);
	return 0;
}

static void
test_many(void **state)
{
	(void)state;
	ls_acks *a;
	assert_int_equal(ls_acks_new(200000, &a), 0);
	char topo[16], part[16];
	for (int t = 0; t < NT; t++)
		for (uint64_t e = 1; e <= 2; e++)
			for (int p = 0; p < NP; p++)
				for (uint64_t n = 1; n <= NN; n++)
					for (uint64_t k = 1; k <= NK; k++) {
						snprintf(topo, sizeof(topo), "t%d", t);
						snprintf(part, sizeof(part), "w[%d]", p);
						int final = k == NK && p % 7 == 0;
						assert_int_equal(ls_acks_add(a, topo, e,
						                     part, n, CK(e, k),
						                     final),
						    0);
					}
	assert_int_equal(ls_acks_count(a), 200000);
	assert_int_equal(ls_acks_add(a, "t0", 3, "w[0]", 1, CK(3, 1), 0),
	    LS_EAGAIN);
	size_t found = 0;
	for (int t = 0; t < NT; t++)
		for (int p = 0; p < NP; p++)
			for (uint64_t n = 1; n <= NN; n++) {
				snprintf(topo, sizeof(topo), "t%d", t);
				snprintf(part, sizeof(part), "w[%d]", p);
				for (uint64_t k = 1; k <= NK; k++)
					found += (size_t)ls_acks_held(a, topo, 2,
					    part, n, CK(2, k), NULL);
				/* a later checkpoint: only ended partitions */
				assert_int_equal(ls_acks_held(a, topo, 2, part,
				                     n, CK(2, NK + 1), NULL),
				    p % 7 == 0);
				assert_int_equal(ls_acks_held(a, topo, 2, part,
				                     n + NN, CK(2, 1), NULL),
				    0);
			}
	assert_int_equal(found, NT * NP * NN * NK);

	/* what gc must keep, counted the plain way */
	size_t keep = 0;
	for (int t = 0; t < NT; t++) {
		if (t % 10 == 9)
			continue;
		uint64_t done = (uint64_t)(t % NK) + 1;
		for (int p = 0; p < NP; p++)
			for (uint64_t k = 1; k <= NK; k++)
				if (k >= done || (k == NK && p % 7 == 0))
					keep += NN;
	}
	ls_acks_gc(a, many_run, NULL);
	assert_int_equal(ls_acks_count(a), keep);
	assert_int_equal(ls_acks_held(a, "t3", 1, "w[0]", 1, CK(1, 1), NULL),
	    0);
	assert_int_equal(ls_acks_held(a, "t3", 2, "w[1]", 1, CK(2, 3), NULL),
	    0);
	assert_int_equal(ls_acks_held(a, "t3", 2, "w[1]", 1, CK(2, 4), NULL),
	    1);
	assert_int_equal(ls_acks_held(a, "t9", 2, "w[1]", 1, CK(2, 9), NULL),
	    0);
	uint64_t *ids;
	size_t n;
	assert_int_equal(ls_acks_ckpts(a, "t3", 2, 0, &ids, &n), 0);
	assert_int_equal(n, NK - 3);
	assert_true(ids[0] == CK(2, NK) && ids[n - 1] == CK(2, 4));
	free(ids);
	ls_acks_free(a);
}

/*
 * Allocation-failure sweep: the n-th allocation fails, for every n until
 * the whole scenario succeeds.  Each call returns 0 or LS_ENOMEM, a
 * refused add leaves the table as it was, and nothing leaks.  Under
 * sanitizers or valgrind (their allocators win) the test skips.
 */
#include "../alloc_fail.h"

#if defined(LS_HAVE_MALLOC_HOOK)
static int
gc_all_but_t0(void *arg, const char *topo, uint64_t *epoch, uint64_t *done)
{
	(void)arg;
	*epoch = 1;
	*done = CK(1, 3);
	return strcmp(topo, "t0") != 0;
}

static int
oom_scenario(long n, void *arg)
{
	(void)arg;
	ls_acks *a = NULL;
	char topo[16], part[16];
	fail_after = n;
	int rc = ls_acks_new(0, &a);
	/* enough entries and groups to grow both tables */
	for (int i = 0; rc == 0 && i < 300; i++) {
		snprintf(topo, sizeof(topo), "t%d", i % 3);
		snprintf(part, sizeof(part), "p%d", i % 90);
		size_t before = ls_acks_count(a);
		rc = ls_acks_add(a, topo, 1, part, 1, CK(1, (uint64_t)i % 7 + 1),
		    i % 5 == 0);
		if (rc == LS_ENOMEM) {
			long keep = fail_after;
			fail_after = -1;
			assert_int_equal(ls_acks_count(a), before);
			/* and a retry without a budget records it */
			assert_int_equal(ls_acks_add(a, topo, 1, part, 1,
			                     CK(1, (uint64_t)i % 7 + 1),
			                     i % 5 == 0),
			    0);
			assert_int_equal(ls_acks_count(a), before + 1);
			fail_after = keep;
			rc = 0;
		}
	}
	uint64_t *ids = NULL;
	size_t nids = 0;
	if (rc == 0)
		rc = ls_acks_ckpts(a, "t1", 1, 0, &ids, &nids);
	if (rc == 0)
		assert_int_equal(nids, 7);
	free(ids);
	if (rc == 0)
		ls_acks_gc(a, gc_all_but_t0, NULL);
	fail_after = -1;
	ls_acks_free(a);
	return rc;
}

static void
test_out_of_memory(void **state)
{
	(void)state;
	if (!alloc_fail_works())
		skip(); /* valgrind's allocator wins */
	long points = alloc_fail_sweep(oom_scenario, NULL, LS_ENOMEM);
	assert_true(points > 0);
	printf("out of memory: %ld failure points, each returned LS_ENOMEM "
	       "and leaked nothing\n",
	    points);
}
#else
static void
test_out_of_memory(void **state)
{
	(void)state;
	skip();
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_lookup),
	    cmocka_unit_test(test_final),
	    cmocka_unit_test(test_ckpts),
	    cmocka_unit_test(test_gc),
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_many),
	    cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
