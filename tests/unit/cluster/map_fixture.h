/*
 * map_fixture.h -- hand-built cluster maps for the unit tests of cluster/
 * placement and regions (place_test.c, region_test.c): nodes added and
 * their states set through map commands, one topology of 38 actors
 * deployed and placed by the leader's placement.  Include after cmocka.h.
 */
#ifndef LS_TESTS_CLUSTER_MAP_FIXTURE_H
#define LS_TESTS_CLUSTER_MAP_FIXTURE_H

#include <stdlib.h>

#include "cluster/map.h"
#include "cluster/place.h"

/* 1 + 4 + 32 + 1 actors, as in tests/integration/cluster_test.py. */
static const char TOPOLOGY[] = "name: wide\n"
			       "sources:\n"
			       "  - name: gen\n"
			       "    kind: generator\n"
			       "    rate: 100\n"
			       "stages:\n"
			       "  - name: parse\n"
			       "    kind: parse\n"
			       "    input: gen\n"
			       "    partitions: 4\n"
			       "  - name: w\n"
			       "    kind: window\n"
			       "    input: parse\n"
			       "    key: service\n"
			       "    partitions: 32\n"
			       "    size: 5s\n"
			       "sinks:\n"
			       "  - name: out\n"
			       "    kind: null\n"
			       "    input: w\n";
#define N_ACTORS 38

static void
apply(ls_map *m, uint8_t *cmd, size_t len)
{
	assert_non_null(cmd);
	assert_int_equal(ls_map_apply(m, cmd, len), 0);
	free(cmd);
}

static void
add_node(ls_map *m, uint64_t id, const char *name)
{
	ls_map_node mn = { id, name, "tcp://127.0.0.1:7000", "127.0.0.1:8000",
		true, LS_NODE_ALIVE };
	uint8_t *cmd;
	size_t len;
	assert_int_equal(ls_map_cmd_add_node(&mn, &cmd, &len), 0);
	apply(m, cmd, len);
}

static void
set_state(ls_map *m, uint64_t id, int state)
{
	uint8_t *cmd;
	size_t len;
	assert_int_equal(ls_map_cmd_set_node_state(id, state, &cmd, &len), 0);
	apply(m, cmd, len);
}

/* A map with nodes 1..nn alive and the topology deployed. */
static ls_map *
new_map(uint64_t nn)
{
	static const char *names[] = { "", "n1", "n2", "n3", "n4", "n5" };
	ls_map *m;
	uint8_t *cmd;
	size_t len;
	assert_int_equal(ls_map_new(&m), 0);
	for (uint64_t id = 1; id <= nn; id++)
		add_node(m, id, names[id]);
	assert_int_equal(ls_map_cmd_deploy("wide", TOPOLOGY, &cmd, &len), 0);
	apply(m, cmd, len);
	return m;
}

/* Place and apply; returns whether there was a command. */
static int
place(ls_map *m, uint32_t replicas, ls_place_info *pi)
{
	uint8_t *cmd = (uint8_t *)"x";
	size_t len = 1;
	assert_int_equal(ls_place_topology(m, "wide", TOPOLOGY, replicas, &cmd,
	                     &len, pi),
	    0);
	if (cmd == NULL) {
		assert_int_equal(len, 0);
		return 0;
	}
	apply(m, cmd, len);
	return 1;
}

#endif /* LS_TESTS_CLUSTER_MAP_FIXTURE_H */
