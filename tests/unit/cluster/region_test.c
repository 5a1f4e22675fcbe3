/*
 * region_test.c -- partition incarnations (cluster/region.h) on cluster
 * maps placed by the leader's placement: after a first placement every
 * partition has the placement's epoch; after a node dies, each partition's
 * incarnation is checked against a reference computed here from the stage
 * order of the linear topology (the epoch its owner last changed, and the
 * largest of every partition of every stage before it); partitions neither
 * moved nor downstream of a move keep theirs, and a change of standbys
 * alone restarts nothing.  The leader's cache answers the
 * same, and forgets an undeployed topology.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/map.h"
#include "cluster/place.h"
#include "cluster/region.h"
#include "runtime/err.h"
#include "topology/plan.h"
#include "topology/topology.h"

#include "map_fixture.h"

static const char *const STAGES[] = { "gen", "parse", "w", "out" };

static ls_plan *
plan_of(ls_topology **t)
{
	ls_plan *p;
	assert_int_equal(ls_topology_parse("wide", TOPOLOGY, strlen(TOPOLOGY),
	                     t, NULL),
	    0);
	assert_int_equal(ls_plan_build(*t, &p, NULL), 0);
	assert_int_equal(ls_plan_actor_count(p), N_ACTORS);
	return p;
}

static int
stage_of(const char *actor)
{
	for (int s = 0; s < 4; s++) {
		size_t l = strlen(STAGES[s]);
		if (strncmp(actor, STAGES[s], l) == 0 && actor[l] == '/')
			return s;
	}
	fail_msg("actor %s of no stage", actor);
	return -1;
}

/* The reference: own owner epoch, and the largest of every stage before. */
static void
reference(const ls_map *m, const ls_plan *p, uint64_t *want)
{
	uint64_t stage_max[4] = { 0 };
	uint64_t own[N_ACTORS];
	for (size_t i = 0; i < N_ACTORS; i++) {
		const char *n = ls_plan_actor_at(p, i)->name;
		ls_map_assignment a;
		assert_int_equal(ls_map_assignment_find(m, "wide", n, &a), 0);
		own[i] = a.owner_epoch;
		int s = stage_of(n);
		if (a.owner_epoch > stage_max[s])
			stage_max[s] = a.owner_epoch;
	}
	for (size_t i = 0; i < N_ACTORS; i++) {
		int s = stage_of(ls_plan_actor_at(p, i)->name);
		want[i] = own[i];
		for (int u = 0; u < s; u++)
			if (stage_max[u] > want[i])
				want[i] = stage_max[u];
	}
}

static void
test_incarnations(void **state)
{
	(void)state;
	ls_topology *t;
	ls_plan *p = plan_of(&t);
	ls_map *m = new_map(3);
	uint64_t inc[N_ACTORS], want[N_ACTORS], before[N_ACTORS];
	/* not placed yet */
	assert_int_equal(ls_region_inc(m, "wide", p, inc), LS_ENOENT);
	ls_place_info pi;
	assert_true(place(m, 2, &pi));
	assert_int_equal(ls_region_inc(m, "wide", p, inc), 0);
	uint64_t e0 = ls_map_run_epoch(m, "wide");
	for (size_t i = 0; i < N_ACTORS; i++)
		assert_true(inc[i] == e0);
	memcpy(before, inc, sizeof(before));
	/* n3 dies: what it owned or stood by for moves */
	set_state(m, 3, LS_NODE_DEAD);
	assert_true(place(m, 2, &pi));
	uint64_t e1 = ls_map_run_epoch(m, "wide");
	assert_true(e1 > e0);
	assert_int_equal(ls_region_inc(m, "wide", p, inc), 0);
	reference(m, p, want);
	size_t kept = 0, restarted = 0;
	for (size_t i = 0; i < N_ACTORS; i++) {
		if (inc[i] != want[i])
			fail_msg("%s: incarnation %llu, reference %llu",
			    ls_plan_actor_at(p, i)->name,
			    (unsigned long long)inc[i],
			    (unsigned long long)want[i]);
		kept += inc[i] == before[i];
		restarted += inc[i] > before[i];
	}
	assert_int_equal(kept + restarted, N_ACTORS);
	/* the sink is downstream of everything that moved */
	assert_true(inc[N_ACTORS - 1] == e1);
	/* the cache answers the same */
	ls_region_cache *c;
	assert_int_equal(ls_region_cache_new(&c), 0);
	assert_true(ls_region_cache_inc(c, "wide", "gen/0") == 0);
	ls_region_cache_update(c, m);
	uint64_t min = UINT64_MAX;
	for (size_t i = 0; i < N_ACTORS; i++) {
		assert_true(ls_region_cache_inc(c, "wide",
		                ls_plan_actor_at(p, i)->name) == inc[i]);
		if (inc[i] < min)
			min = inc[i];
	}
	assert_true(ls_region_cache_min(c, "wide") == min);
	assert_true(ls_region_cache_inc(c, "wide", "nosuch/0") == 0);
	assert_true(ls_region_cache_inc(c, "other", "gen/0") == 0);
	/* undeployed: forgotten */
	uint8_t *cmd;
	size_t len;
	assert_int_equal(ls_map_cmd_undeploy("wide", &cmd, &len), 0);
	apply(m, cmd, len);
	ls_region_cache_update(c, m);
	assert_true(ls_region_cache_inc(c, "wide", "gen/0") == 0);
	assert_true(ls_region_cache_min(c, "wide") == 0);
	ls_region_cache_free(c);
	ls_map_free(m);
	ls_plan_free(p);
	ls_topology_free(t);
}

/* A stage downstream of a moved partition restarts whole; one upstream of
 * every move keeps its incarnation: move only window partitions by hand
 * and check that gen and parse keep theirs. */
static void
test_only_downstream(void **state)
{
	(void)state;
	ls_topology *t;
	ls_plan *p = plan_of(&t);
	ls_map *m = new_map(3);
	ls_place_info pi;
	assert_true(place(m, 1, &pi));
	uint64_t e0 = ls_map_run_epoch(m, "wide");
	ls_map_assignment a;
	assert_int_equal(ls_map_assignment_find(m, "wide", "w/7", &a), 0);
	ls_map_assignment moved = a;
	moved.owner = a.owner == 1 ? 2 : 1;
	uint8_t *cmd;
	size_t len;
	assert_int_equal(ls_map_cmd_assign("wide", 0, &moved, 1, &cmd, &len),
	    0);
	apply(m, cmd, len);
	uint64_t inc[N_ACTORS];
	assert_int_equal(ls_region_inc(m, "wide", p, inc), 0);
	for (size_t i = 0; i < N_ACTORS; i++) {
		const char *n = ls_plan_actor_at(p, i)->name;
		int s = stage_of(n);
		if (s <= 1 || (s == 2 && strcmp(n, "w/7") != 0))
			assert_true(inc[i] == e0); /* upstream or a sibling */
		else
			assert_true(inc[i] > e0); /* w/7 and the sink */
	}
	/* the source gets another standby: the run epoch grows, no
	 * incarnation does */
	uint64_t e1 = ls_map_run_epoch(m, "wide"), inc1[N_ACTORS];
	assert_int_equal(ls_map_assignment_find(m, "wide", "gen/0", &a), 0);
	ls_map_assignment sb = a;
	sb.standbys[sb.n_standbys++] = a.owner == 3 ? 2 : 3;
	assert_int_equal(ls_map_cmd_assign("wide", 0, &sb, 1, &cmd, &len), 0);
	apply(m, cmd, len);
	assert_true(ls_map_run_epoch(m, "wide") > e1);
	assert_int_equal(ls_region_inc(m, "wide", p, inc1), 0);
	for (size_t i = 0; i < N_ACTORS; i++)
		assert_true(inc1[i] == inc[i]);
	ls_map_free(m);
	ls_plan_free(p);
	ls_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incarnations),
		cmocka_unit_test(test_only_downstream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
