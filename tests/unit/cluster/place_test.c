/*
 * place_test.c -- the leader's placement (cluster/place.h) on hand-built
 * cluster maps: a first placement over every live node with owner and
 * standby apart, no command when nothing changed, a dead node's
 * partitions moved and nobody else's, suspect nodes still placed on, the
 * replica count capped by the live nodes, no live node and a bad topology
 * refused, and the per-node counts of the status page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cluster/map.h"
#include "cluster/place.h"
#include "runtime/err.h"

#include "map_fixture.h"

static void
test_first_placement(void **state)
{
	(void)state;
	ls_map *m = new_map(3);
	ls_place_info pi;
	assert_int_equal(place(m, 2, &pi), 1);
	assert_int_equal(pi.partitions, N_ACTORS);
	assert_int_equal(pi.nodes, 3);
	assert_int_equal(pi.replicas, 2);
	assert_int_equal(ls_map_assignment_count(m), N_ACTORS);
	size_t owned_by[4] = { 0 };
	for (size_t i = 0; i < ls_map_assignment_count(m); i++) {
		ls_map_assignment a;
		assert_int_equal(ls_map_assignment_at(m, i, &a), 0);
		assert_string_equal(a.topology, "wide");
		assert_true(a.owner >= 1 && a.owner <= 3);
		assert_int_equal(a.n_standbys, 1);
		assert_true(a.standbys[0] >= 1 && a.standbys[0] <= 3);
		assert_true(a.standbys[0] != a.owner);
		owned_by[a.owner]++;
	}
	/* every node owns some, none more than the bound: 1.25 x 38 / 3,
	 * rounded up */
	for (int k = 1; k <= 3; k++) {
		assert_true(owned_by[k] > 0);
		assert_true(owned_by[k] <= 16);
	}
	/* and the counts of the status page agree */
	size_t so = 0, ss = 0;
	for (uint64_t id = 1; id <= 3; id++) {
		size_t o, s;
		ls_place_count(m, id, &o, &s);
		assert_int_equal(o, owned_by[id]);
		so += o;
		ss += s;
	}
	assert_int_equal(so, N_ACTORS);
	assert_int_equal(ss, N_ACTORS);
	size_t o = 1, s = 1;
	ls_place_count(m, 99, &o, &s);
	assert_int_equal(o + s, 0);

	/* unchanged: no command, every assignment keeps its epoch */
	uint64_t epoch = ls_map_epoch(m);
	assert_int_equal(place(m, 2, &pi), 0);
	assert_int_equal(ls_map_epoch(m), epoch);
	ls_map_free(m);
}

static void
test_dead_node_moves_only_its_own(void **state)
{
	(void)state;
	ls_map *m = new_map(3);
	ls_place_info pi;
	assert_int_equal(place(m, 2, &pi), 1);
	uint64_t before[N_ACTORS];
	for (size_t i = 0; i < N_ACTORS; i++) {
		ls_map_assignment a;
		assert_int_equal(ls_map_assignment_at(m, i, &a), 0);
		before[i] = a.owner;
	}
	/* a suspect node is still placed on: nothing moves */
	set_state(m, 2, LS_NODE_SUSPECT);
	assert_int_equal(place(m, 2, &pi), 0);
	set_state(m, 2, LS_NODE_ALIVE);

	set_state(m, 3, LS_NODE_DEAD);
	assert_int_equal(place(m, 2, &pi), 1);
	assert_int_equal(pi.nodes, 2);
	assert_int_equal(ls_map_assignment_count(m), N_ACTORS);
	size_t moved = 0;
	for (size_t i = 0; i < N_ACTORS; i++) {
		ls_map_assignment a;
		assert_int_equal(ls_map_assignment_at(m, i, &a), 0);
		assert_true(a.owner == 1 || a.owner == 2);
		for (unsigned s = 0; s < a.n_standbys; s++)
			assert_true(a.standbys[s] != 3 && a.standbys[s] != a.owner);
		if (before[i] != 3)
			assert_int_equal(a.owner, before[i]);
		else
			moved++;
	}
	size_t o, s;
	ls_place_count(m, 3, &o, &s);
	assert_int_equal(o, 0);
	assert_int_equal(s, 0);
	assert_true(moved > 0);
	ls_map_free(m);
}

static void
test_replicas_and_refusals(void **state)
{
	(void)state;
	/* one live node: one copy, whatever was asked */
	ls_map *m = new_map(1);
	ls_place_info pi;
	assert_int_equal(place(m, 3, &pi), 1);
	assert_int_equal(pi.replicas, 1);
	ls_map_assignment a;
	assert_int_equal(ls_map_assignment_at(m, 0, &a), 0);
	assert_int_equal(a.n_standbys, 0);
	assert_int_equal(a.owner, 1);

	/* no live node */
	set_state(m, 1, LS_NODE_LEFT);
	uint8_t *cmd;
	size_t len;
	assert_int_equal(ls_place_topology(m, "wide", TOPOLOGY, 2, &cmd, &len,
	                     &pi),
	    LS_ESTATE);
	assert_null(cmd);
	ls_map_free(m);

	/* a topology that does not parse */
	m = new_map(2);
	assert_int_not_equal(ls_place_topology(m, "bad", "name: [", 2, &cmd,
	                         &len, &pi),
	    0);
	assert_null(cmd);
	ls_map_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_placement),
		cmocka_unit_test(test_dead_node_moves_only_its_own),
		cmocka_unit_test(test_replicas_and_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
