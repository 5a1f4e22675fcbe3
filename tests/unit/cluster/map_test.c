/*
 * map_test.c -- the cluster map state machine: command sequences and their
 * epochs, assignment rules, snapshot/restore round trips, refusal of every
 * truncated or corrupted command and snapshot, and determinism of replicas
 * applying the same random command stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/map.h"
#include "runtime/err.h"
#include "runtime/hash.h"
#include "schemas/codec.h"

/* ---- helpers ---- */

typedef struct buf {
	uint8_t *p;
	size_t n;
} buf;

static buf
cmd_node(uint64_t id, const char *name, bool voter)
{
	char url[64], http[64];
	buf b;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", (unsigned)(7100 + id));
	snprintf(http, sizeof(http), "127.0.0.1:%u", (unsigned)(8100 + id));
	ls_map_node n = {id, name, url, http, voter, LS_NODE_ALIVE};
	assert_int_equal(ls_map_cmd_add_node(&n, &b.p, &b.n), LS_OK);
	return b;
}

static buf
cmd_state(uint64_t id, int state)
{
	buf b;
	assert_int_equal(ls_map_cmd_set_node_state(id, state, &b.p, &b.n),
	                 LS_OK);
	return b;
}

static buf
cmd_remove(uint64_t id)
{
	buf b;
	assert_int_equal(ls_map_cmd_remove_node(id, &b.p, &b.n), LS_OK);
	return b;
}

static buf
cmd_deploy(const char *name, const char *yaml)
{
	buf b;
	assert_int_equal(ls_map_cmd_deploy(name, yaml, &b.p, &b.n), LS_OK);
	return b;
}

static buf
cmd_undeploy(const char *name)
{
	buf b;
	assert_int_equal(ls_map_cmd_undeploy(name, &b.p, &b.n), LS_OK);
	return b;
}

static ls_map_assignment
as(const char *part, uint64_t owner, unsigned n, uint64_t s1, uint64_t s2)
{
	ls_map_assignment a;
	memset(&a, 0, sizeof(a));
	a.partition = part;
	a.owner = owner;
	a.n_standbys = n;
	a.standbys[0] = s1;
	a.standbys[1] = s2;
	return a;
}

static buf
cmd_assign(const char *topo, unsigned flags, const ls_map_assignment *a,
           size_t n)
{
	buf b;
	assert_int_equal(ls_map_cmd_assign(topo, flags, a, n, &b.p, &b.n),
	                 LS_OK);
	return b;
}

/* Applies and frees a command, returning the apply result. */
static int
apply(ls_map *m, buf b)
{
	int rc = ls_map_apply(m, b.p, b.n);
	free(b.p);
	return rc;
}

static buf
snap(const ls_map *m)
{
	buf b;
	assert_int_equal(ls_map_snapshot(m, &b.p, &b.n), LS_OK);
	return b;
}

static bool
buf_eq(buf a, buf b)
{
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* Recomputes the header's length and check after a test edits a buffer,
 * the way a hostile peer that knows the format would. */
static void
reseal(uint8_t *p, size_t n)
{
	uint32_t body = (uint32_t)(n - LS_MAP_HEADER_LEN);
	for (int i = 0; i < 4; i++)
		p[8 + i] = (uint8_t)(body >> (8 * i));
	uint64_t seed = ls_hash64(p, 12, 0x4c534dull);
	uint32_t c = (uint32_t)ls_hash64(p + LS_MAP_HEADER_LEN, body, seed);
	for (int i = 0; i < 4; i++)
		p[12 + i] = (uint8_t)(c >> (8 * i));
}

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A map with three nodes, one topology and four assignments (epoch 5). */
static ls_map *
sample_map(void)
{
	ls_map *m;
	assert_int_equal(ls_map_new(&m), LS_OK);
	assert_int_equal(apply(m, cmd_node(1, "n1", true)), LS_OK);
	assert_int_equal(apply(m, cmd_node(2, "n2", true)), LS_OK);
	assert_int_equal(apply(m, cmd_node(3, "n3", false)), LS_OK);
	assert_int_equal(apply(m, cmd_deploy("web", "name: web\n")), LS_OK);
	ls_map_assignment a[4] = {
	    as("count/0", 1, 1, 2, 0), as("count/1", 2, 2, 3, 1),
	    as("count/2", 3, 0, 0, 0), as("count/3", 1, 2, 3, 2)};
	assert_int_equal(apply(m, cmd_assign("web", 0, a, 4)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 5);
	return m;
}

/* ---- tests ---- */

static void
test_sequence_and_epochs(void **state)
{
	(void)state;
	ls_map *m;
	ls_map_node n;
	ls_map_assignment a;
	const char *name, *yaml;

	assert_int_equal(ls_map_new(&m), LS_OK);
	assert_int_equal(ls_map_epoch(m), 0);
	assert_int_equal(apply(m, cmd_node(2, "n2", true)), LS_OK);
	assert_int_equal(apply(m, cmd_node(1, "n1", false)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 2);
	/* Sorted by id, whatever the order of adds. */
	assert_int_equal(ls_map_node_count(m), 2);
	assert_int_equal(ls_map_node_at(m, 0, &n), LS_OK);
	assert_int_equal(n.id, 1);
	assert_string_equal(n.name, "n1");
	assert_string_equal(n.url, "tcp://127.0.0.1:7101");
	assert_string_equal(n.http, "127.0.0.1:8101");
	assert_false(n.voter);
	assert_int_equal(n.state, LS_NODE_ALIVE);
	assert_int_equal(ls_map_node_at(m, 2, &n), LS_ENOENT);

	/* Re-adding the same node is a no-op: no epoch bump. */
	assert_int_equal(apply(m, cmd_node(1, "n1", false)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 2);
	/* A new name for an id is a change; a name taken by another id is
	 * refused. */
	assert_int_equal(apply(m, cmd_node(1, "n2", false)), LS_EINVAL);
	assert_int_equal(apply(m, cmd_node(1, "first", true)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 3);
	assert_int_equal(ls_map_node_find(m, 1, &n), LS_OK);
	assert_string_equal(n.name, "first");
	assert_true(n.voter);

	/* Node states. */
	assert_int_equal(apply(m, cmd_state(2, LS_NODE_SUSPECT)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 4);
	assert_int_equal(apply(m, cmd_state(2, LS_NODE_SUSPECT)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 4);
	assert_int_equal(apply(m, cmd_state(9, LS_NODE_DEAD)), LS_ENOENT);
	assert_int_equal(ls_map_node_find(m, 2, &n), LS_OK);
	assert_int_equal(n.state, LS_NODE_SUSPECT);
	assert_string_equal(ls_map_node_state_name(n.state), "suspect");
	/* Re-adding a suspect node makes it alive again. */
	assert_int_equal(apply(m, cmd_node(2, "n2", true)), LS_OK);
	assert_int_equal(ls_map_node_find(m, 2, &n), LS_OK);
	assert_int_equal(n.state, LS_NODE_ALIVE);
	assert_int_equal(ls_map_epoch(m), 5);

	/* Topologies. */
	assert_int_equal(apply(m, cmd_deploy("b", "name: b\n")), LS_OK);
	assert_int_equal(apply(m, cmd_deploy("a", "name: a\n")), LS_OK);
	assert_int_equal(apply(m, cmd_deploy("a", "name: a\n")), LS_OK);
	assert_int_equal(ls_map_epoch(m), 7);
	assert_int_equal(ls_map_topology_count(m), 2);
	assert_int_equal(ls_map_topology_at(m, 0, &name, &yaml), LS_OK);
	assert_string_equal(name, "a");
	assert_int_equal(apply(m, cmd_deploy("a", "name: a2\n")), LS_OK);
	assert_int_equal(ls_map_topology_find(m, "a", &yaml), LS_OK);
	assert_string_equal(yaml, "name: a2\n");
	assert_int_equal(ls_map_epoch(m), 8);

	/* Assignments. */
	ls_map_assignment b[2] = {as("s/1", 1, 1, 2, 0), as("s/0", 2, 0, 0, 0)};
	assert_int_equal(apply(m, cmd_assign("nope", 0, b, 2)), LS_ENOENT);
	assert_int_equal(apply(m, cmd_assign("a", 0, b, 2)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 9);
	assert_int_equal(ls_map_assignment_count(m), 2);
	assert_int_equal(ls_map_assignment_at(m, 0, &a), LS_OK);
	assert_string_equal(a.topology, "a");
	assert_string_equal(a.partition, "s/0");
	assert_int_equal(a.owner, 2);
	assert_int_equal(a.epoch, 9);
	assert_int_equal(ls_map_assignment_find(m, "a", "s/1", &a), LS_OK);
	assert_int_equal(a.owner, 1);
	assert_int_equal(a.n_standbys, 1);
	assert_int_equal(a.standbys[0], 2);

	/* A node holding partitions cannot be removed. */
	assert_int_equal(apply(m, cmd_remove(2)), LS_EBUSY);
	assert_int_equal(apply(m, cmd_remove(7)), LS_ENOENT);
	assert_int_equal(ls_map_epoch(m), 9);

	/* Undeploy drops the topology's assignments; then 2 can go. */
	assert_int_equal(apply(m, cmd_undeploy("a")), LS_OK);
	assert_int_equal(ls_map_epoch(m), 10);
	assert_int_equal(ls_map_assignment_count(m), 0);
	assert_int_equal(ls_map_topology_find(m, "a", NULL), LS_ENOENT);
	assert_int_equal(apply(m, cmd_undeploy("a")), LS_ENOENT);
	assert_int_equal(apply(m, cmd_remove(2)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 11);
	assert_int_equal(ls_map_node_count(m), 1);
	assert_int_equal(ls_map_node_find(m, 2, NULL), LS_ENOENT);
	ls_map_free(m);
}

static void
test_assignment_rules(void **state)
{
	(void)state;
	ls_map *m = sample_map();
	ls_map_assignment a;

	/* Unknown owner or standby; owner among standbys; repeated standby;
	 * the same partition twice in one batch. */
	ls_map_assignment bad1 = as("count/9", 9, 0, 0, 0);
	ls_map_assignment bad2 = as("count/9", 1, 1, 9, 0);
	ls_map_assignment bad3 = as("count/9", 1, 1, 1, 0);
	ls_map_assignment bad4 = as("count/9", 1, 2, 2, 2);
	ls_map_assignment dup[2] = {as("count/9", 1, 0, 0, 0),
	                            as("count/9", 2, 0, 0, 0)};
	assert_int_equal(apply(m, cmd_assign("web", 0, &bad1, 1)), LS_ENOENT);
	assert_int_equal(apply(m, cmd_assign("web", 0, &bad2, 1)), LS_ENOENT);
	assert_int_equal(apply(m, cmd_assign("web", 0, &bad3, 1)), LS_EINVAL);
	assert_int_equal(apply(m, cmd_assign("web", 0, &bad4, 1)), LS_EINVAL);
	assert_int_equal(apply(m, cmd_assign("web", 0, dup, 2)), LS_EINVAL);
	assert_int_equal(ls_map_epoch(m), 5);
	assert_int_equal(ls_map_assignment_count(m), 4);

	/* Same placement again: no change, no bump. */
	ls_map_assignment same = as("count/1", 2, 2, 3, 1);
	assert_int_equal(apply(m, cmd_assign("web", 0, &same, 1)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 5);
	/* Standby order matters (the first standby is promoted first). */
	ls_map_assignment swapped = as("count/1", 2, 2, 1, 3);
	assert_int_equal(apply(m, cmd_assign("web", 0, &swapped, 1)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 6);
	assert_int_equal(ls_map_assignment_find(m, "web", "count/1", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 6);
	assert_int_equal(a.standbys[0], 1);
	/* Untouched partitions keep the epoch of their last change. */
	assert_int_equal(ls_map_assignment_find(m, "web", "count/0", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 5);

	/* A merge batch keeps the others; REPLACE keeps only the batch. */
	ls_map_assignment add = as("count/4", 3, 1, 1, 0);
	assert_int_equal(apply(m, cmd_assign("web", 0, &add, 1)), LS_OK);
	assert_int_equal(ls_map_assignment_count(m), 5);
	ls_map_assignment only[2] = {as("count/3", 1, 2, 3, 2),
	                             as("count/7", 2, 0, 0, 0)};
	assert_int_equal(
	    apply(m, cmd_assign("web", LS_MAP_ASSIGN_REPLACE, only, 2)), LS_OK);
	assert_int_equal(ls_map_epoch(m), 8);
	assert_int_equal(ls_map_assignment_count(m), 2);
	assert_int_equal(ls_map_assignment_find(m, "web", "count/3", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 5); /* unchanged placement */
	assert_int_equal(ls_map_assignment_find(m, "web", "count/7", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 8);
	assert_int_equal(ls_map_assignment_find(m, "web", "count/0", NULL),
	                 LS_ENOENT);

	/* Assignments of two topologies stay apart. */
	assert_int_equal(apply(m, cmd_deploy("api", "name: api\n")), LS_OK);
	ls_map_assignment other = as("count/3", 2, 0, 0, 0);
	assert_int_equal(
	    apply(m, cmd_assign("api", LS_MAP_ASSIGN_REPLACE, &other, 1)),
	    LS_OK);
	assert_int_equal(ls_map_assignment_count(m), 3);
	assert_int_equal(ls_map_assignment_at(m, 0, &a), LS_OK);
	assert_string_equal(a.topology, "api");
	assert_int_equal(ls_map_assignment_find(m, "web", "count/3", &a),
	                 LS_OK);
	assert_int_equal(a.owner, 1);
	/* An empty REPLACE batch clears one topology only. */
	assert_int_equal(
	    apply(m, cmd_assign("web", LS_MAP_ASSIGN_REPLACE, NULL, 0)), LS_OK);
	assert_int_equal(ls_map_assignment_count(m), 1);
	ls_map_free(m);
}

static void
test_builders_refuse_bad_input(void **state)
{
	(void)state;
	uint8_t *p = NULL;
	size_t n;
	ls_map_node node = {0, "n", "tcp://x", "", true, 1};
	assert_int_equal(ls_map_cmd_add_node(&node, &p, &n), LS_EINVAL);
	node.id = 1;
	node.name = "";
	assert_int_equal(ls_map_cmd_add_node(&node, &p, &n), LS_EINVAL);
	assert_int_equal(ls_map_cmd_set_node_state(1, 0, &p, &n), LS_EINVAL);
	assert_int_equal(ls_map_cmd_set_node_state(1, 5, &p, &n), LS_EINVAL);
	assert_int_equal(ls_map_cmd_remove_node(0, &p, &n), LS_EINVAL);
	assert_int_equal(ls_map_cmd_deploy("t", "", &p, &n), LS_EINVAL);
	assert_int_equal(ls_map_cmd_undeploy(NULL, &p, &n), LS_EINVAL);
	ls_map_assignment a = as("p", 1, LS_MAP_MAX_STANDBYS + 1, 2, 3);
	assert_int_equal(ls_map_cmd_assign("t", 0, &a, 1, &p, &n), LS_EINVAL);
	a = as("p", 1, 0, 0, 0);
	assert_int_equal(ls_map_cmd_assign("t", 4, &a, 1, &p, &n), LS_EINVAL);
	char longname[LS_MAP_MAX_NAME + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(ls_map_cmd_undeploy(longname, &p, &n), LS_EINVAL);
	assert_null(p);
}

/* The owner epoch moves only with the owner (a standby change leaves it),
 * survives snapshots, and a version 2 snapshot (none recorded) takes the
 * assignment's epoch for it. */
static void
test_owner_epochs(void **state)
{
	(void)state;
	ls_map *m = sample_map(), *r;
	ls_map_assignment a;
	assert_int_equal(ls_map_assignment_find(m, "web", "count/1", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 5);
	assert_int_equal(a.owner_epoch, 5);
	ls_map_assignment sb = as("count/1", 2, 1, 3, 0);
	assert_int_equal(apply(m, cmd_assign("web", 0, &sb, 1)), LS_OK);
	assert_int_equal(ls_map_assignment_find(m, "web", "count/1", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 6);
	assert_int_equal(a.owner_epoch, 5);
	ls_map_assignment moved = as("count/1", 3, 1, 2, 0);
	assert_int_equal(apply(m, cmd_assign("web", 0, &moved, 1)), LS_OK);
	assert_int_equal(ls_map_assignment_find(m, "web", "count/1", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 7);
	assert_int_equal(a.owner_epoch, 7);
	/* REPLACE with the same owner keeps it too */
	ls_map_assignment again = as("count/1", 3, 0, 0, 0);
	assert_int_equal(
	    apply(m, cmd_assign("web", LS_MAP_ASSIGN_REPLACE, &again, 1)),
	    LS_OK);
	assert_int_equal(ls_map_assignment_find(m, "web", "count/1", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 8);
	assert_int_equal(a.owner_epoch, 7);
	buf s = snap(m);
	assert_int_equal(ls_map_new(&r), LS_OK);
	assert_int_equal(ls_map_restore(r, s.p, s.n), LS_OK);
	assert_true(ls_map_equal(m, r));
	assert_int_equal(ls_map_assignment_find(r, "web", "count/1", &a),
	                 LS_OK);
	assert_int_equal(a.owner_epoch, 7);
	/* version 2: the same body without the owner epoch (the one
	 * assignment, no standbys, ends the body: u64 owner_epoch, u8 n) */
	assert_int_equal(ls_map_assignment_count(m), 1);
	uint8_t *v2 = malloc(s.n - 8);
	assert_non_null(v2);
	memcpy(v2, s.p, s.n - 9);
	v2[s.n - 9] = s.p[s.n - 1];
	v2[4] = 2;
	reseal(v2, s.n - 8);
	ls_map *o;
	assert_int_equal(ls_map_new(&o), LS_OK);
	assert_int_equal(ls_map_restore(o, v2, s.n - 8), LS_OK);
	assert_int_equal(ls_map_assignment_find(o, "web", "count/1", &a),
	                 LS_OK);
	assert_int_equal(a.epoch, 8);
	assert_int_equal(a.owner_epoch, 8);
	/* as a version 3 buffer it is short: refused */
	v2[4] = 3;
	reseal(v2, s.n - 8);
	assert_int_equal(ls_map_restore(o, v2, s.n - 8), LS_ECORRUPT);
	free(v2);
	free(s.p);
	ls_map_free(o);
	ls_map_free(r);
	ls_map_free(m);
}

static void
test_snapshot_round_trip(void **state)
{
	(void)state;
	ls_map *m = sample_map(), *r, *c;
	assert_int_equal(apply(m, cmd_state(3, LS_NODE_DEAD)), LS_OK);
	assert_int_equal(apply(m, cmd_deploy("api", "a: [1, 2]\n")), LS_OK);
	buf s = snap(m);

	assert_int_equal(ls_map_new(&r), LS_OK);
	assert_int_equal(apply(r, cmd_node(42, "junk", true)), LS_OK);
	assert_int_equal(ls_map_restore(r, s.p, s.n), LS_OK);
	assert_true(ls_map_equal(m, r));
	assert_int_equal(ls_map_epoch(r), 7);
	assert_int_equal(ls_map_node_find(r, 42, NULL), LS_ENOENT);
	buf s2 = snap(r);
	assert_true(buf_eq(s, s2));

	/* A copy is independent of its original. */
	assert_int_equal(ls_map_copy(m, &c), LS_OK);
	assert_true(ls_map_equal(m, c));
	assert_int_equal(apply(m, cmd_undeploy("api")), LS_OK);
	assert_false(ls_map_equal(m, c));
	assert_int_equal(ls_map_topology_find(c, "api", NULL), LS_OK);

	/* The empty map round-trips too. */
	ls_map *e, *e2;
	assert_int_equal(ls_map_new(&e), LS_OK);
	assert_int_equal(ls_map_copy(e, &e2), LS_OK);
	assert_true(ls_map_equal(e, e2));
	assert_false(ls_map_equal(e, m));
	ls_map_free(e);
	ls_map_free(e2);

	/* A command is not a snapshot, and vice versa. */
	buf cmd = cmd_remove(1);
	assert_int_equal(ls_map_restore(r, cmd.p, cmd.n), LS_ECORRUPT);
	assert_int_equal(ls_map_apply(r, s.p, s.n), LS_ECORRUPT);
	assert_int_equal(ls_map_check(s.p, s.n, NULL), LS_ECORRUPT);
	int type = 0;
	assert_int_equal(ls_map_check(cmd.p, cmd.n, &type), LS_OK);
	assert_int_equal(type, LS_MAP_CMD_REMOVE_NODE);
	free(cmd.p);
	free(s.p);
	free(s2.p);
	ls_map_free(m);
	ls_map_free(r);
	ls_map_free(c);
}

/* Every truncation and many random corruptions of every command kind are
 * refused and leave the map unchanged. */
static void
test_corrupt_commands_refused(void **state)
{
	(void)state;
	ls_map *m = sample_map();
	buf before = snap(m);
	ls_map_node dummy_node = {4, "n4", "tcp://h:1", "h:2", true, 1};
	ls_map_assignment batch[3] = {as("count/0", 2, 2, 3, 1),
	                              as("count/8", 1, 0, 0, 0),
	                              as("count/9", 3, 1, 2, 0)};
	buf cmds[7];
	cmds[0] = cmd_node(4, "n4", true);
	(void)dummy_node;
	cmds[1] = cmd_state(1, LS_NODE_DEAD);
	cmds[2] = cmd_remove(3);
	cmds[3] = cmd_deploy("web2", "name: web2\nstages: []\n");
	cmds[4] = cmd_undeploy("web");
	cmds[5] = cmd_assign("web", LS_MAP_ASSIGN_REPLACE, batch, 3);
	cmds[6] = cmd_assign("web", 0, batch, 1);
	rng_state = 42;
	for (size_t k = 0; k < 7; k++) {
		buf c = cmds[k];
		assert_int_equal(ls_map_check(c.p, c.n, NULL), LS_OK);
		for (size_t len = 0; len < c.n; len++) {
			assert_int_equal(ls_map_apply(m, c.p, len),
			                 LS_ECORRUPT);
			assert_int_equal(ls_map_check(c.p, len, NULL),
			                 LS_ECORRUPT);
		}
		uint8_t *copy = malloc(c.n + 8);
		for (int round = 0; round < 2000; round++) {
			memcpy(copy, c.p, c.n);
			/* 1..4 changed bytes at distinct positions: never a
			 * crash; a refused command changes nothing, an
			 * accepted one is well-formed. */
			size_t start = rng() % c.n, step = 1 + rng() % 5;
			int flips = 1 + (int)(rng() % 4);
			for (int f = 0; f < flips && (size_t)f * step < c.n;
			     f++)
				copy[(start + (size_t)f * step) % c.n] ^=
				    (uint8_t)(1 + rng() % 255);
			ls_map *t;
			assert_int_equal(ls_map_copy(m, &t), LS_OK);
			int rc = ls_map_apply(t, copy, c.n);
			if (rc == LS_ECORRUPT)
				assert_true(ls_map_equal(m, t));
			else
				assert_int_equal(ls_map_check(copy, c.n, NULL),
				                 LS_OK);
			ls_map_free(t);
		}
		/* The zeros by which the Raft log pads an entry to 8 bytes
		 * change nothing. */
		memcpy(copy, c.p, c.n);
		memset(copy + c.n, 0, 8);
		ls_map *t1, *t2;
		assert_int_equal(ls_map_copy(m, &t1), LS_OK);
		assert_int_equal(ls_map_copy(m, &t2), LS_OK);
		int rc1 = ls_map_apply(t1, c.p, c.n);
		assert_int_equal(ls_map_apply(t2, copy, c.n + 8), rc1);
		assert_true(ls_map_equal(t1, t2));
		/* Nor does an address that is not 8-byte aligned. */
		memmove(copy + 1, c.p, c.n);
		ls_map_free(t2);
		assert_int_equal(ls_map_copy(m, &t2), LS_OK);
		assert_int_equal(ls_map_apply(t2, copy + 1, c.n), rc1);
		assert_int_equal(ls_map_check(copy + 1, c.n, NULL), LS_OK);
		assert_true(ls_map_equal(t1, t2));
		ls_map_free(t1);
		ls_map_free(t2);
		free(copy);
	}
	buf after = snap(m);
	assert_true(buf_eq(before, after));
	assert_int_equal(ls_map_apply(m, NULL, 0), LS_ECORRUPT);
	for (size_t k = 0; k < 7; k++)
		free(cmds[k].p);
	free(before.p);
	free(after.p);
	ls_map_free(m);
}

/* Apply a command made by the codec itself, so that it carries what the
 * builders refuse to write. */
static int
apply_wire(ls_map *m, const ls_map_cmd_wire *c)
{
	ls_buf b = {NULL, 0};
	assert_int_equal(ls_codec_map_cmd_encode(c, &b), LS_OK);
	int rc = ls_map_apply(m, b.data, b.len);
	ls_buf_free(&b);
	return rc;
}

/* A hostile sender that writes well-formed MapCommand buffers with fields
 * the builders never write: each is refused and the map is unchanged. */
static void
test_hostile_commands(void **state)
{
	(void)state;
	ls_map *m = sample_map();
	buf before = snap(m);
	ls_assign_wire wa[2] = {
	    {ls_str_c("count/0"), 2, 1, {3}},
	    {ls_str_c("count/8"), 1, 0, {0}},
	};
	ls_map_cmd_wire c = {.type = LS_MAP_CMD_ASSIGN,
	                     .name = ls_str_c("web"),
	                     .assigns = wa,
	                     .nassigns = 2};
	/* the sound command applies (to a copy) */
	ls_map *t;
	assert_int_equal(ls_map_copy(m, &t), LS_OK);
	assert_int_equal(apply_wire(t, &c), LS_OK);
	ls_map_free(t);
	/* owner 0, standby 0, an empty partition, unknown flags */
	wa[1].owner = 0;
	assert_int_equal(apply_wire(m, &c), LS_ECORRUPT);
	wa[1].owner = 1;
	wa[0].standbys[0] = 0;
	assert_int_equal(apply_wire(m, &c), LS_ECORRUPT);
	wa[0].standbys[0] = 3;
	wa[0].partition = ls_str_c("");
	assert_int_equal(apply_wire(m, &c), LS_ECORRUPT);
	wa[0].partition = ls_str_c("count/0");
	c.flags = 0x80;
	assert_int_equal(apply_wire(m, &c), LS_ECORRUPT);
	c.flags = 0;
	/* more entries than a batch may hold */
	ls_assign_wire *many = calloc(LS_MAP_MAX_BATCH + 1, sizeof(*many));
	assert_non_null(many);
	for (size_t i = 0; i <= LS_MAP_MAX_BATCH; i++)
		many[i] = wa[1];
	c.assigns = many;
	c.nassigns = LS_MAP_MAX_BATCH + 1;
	assert_int_equal(apply_wire(m, &c), LS_ECORRUPT);
	free(many);
	c.assigns = wa;
	c.nassigns = 2;
	/* unknown type; type 0 */
	c.type = 99;
	assert_int_equal(apply_wire(m, &c), LS_ECORRUPT);
	c.type = 0;
	assert_int_equal(apply_wire(m, &c), LS_ECORRUPT);
	/* a node without id or name, a bad state, a checkpoint 0 */
	ls_map_cmd_wire n = {.type = LS_MAP_CMD_ADD_NODE,
	                     .name = ls_str_c("n9"),
	                     .url = ls_str_c("tcp://h:9")};
	assert_int_equal(apply_wire(m, &n), LS_ECORRUPT);
	n.node = 9;
	n.name = ls_str_c("");
	assert_int_equal(apply_wire(m, &n), LS_ECORRUPT);
	ls_map_cmd_wire st = {.type = LS_MAP_CMD_SET_NODE_STATE, .node = 1,
	                      .state = 9};
	assert_int_equal(apply_wire(m, &st), LS_ECORRUPT);
	ls_map_cmd_wire ck = {.type = LS_MAP_CMD_CHECKPOINT,
	                      .name = ls_str_c("web")};
	assert_int_equal(apply_wire(m, &ck), LS_ECORRUPT);
	/* a name over the limit */
	char longname[LS_MAP_MAX_NAME + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ls_map_cmd_wire un = {.type = LS_MAP_CMD_UNDEPLOY,
	                      .name = ls_str_c(longname)};
	assert_int_equal(apply_wire(m, &un), LS_ECORRUPT);
	/* a NUL inside a string */
	buf d = cmd_deploy("tXY", "yaml");
	uint8_t *at = memmem(d.p, d.n, "tXY", 3);
	assert_non_null(at);
	at[1] = 0;
	assert_int_equal(ls_map_apply(m, d.p, d.n), LS_ECORRUPT);
	free(d.p);
	/* the old format (header "LSMC", version, type, length, check) */
	uint8_t old[24] = {'L', 'S', 'M', 'C', 2, LS_MAP_CMD_REMOVE_NODE, 0, 0,
	                   8, 0, 0, 0};
	old[16] = 3;
	assert_int_equal(ls_map_apply(m, old, sizeof(old)), LS_ECORRUPT);
	buf after = snap(m);
	assert_true(buf_eq(before, after));
	free(before.p);
	free(after.p);
	ls_map_free(m);
}

static void
test_corrupt_snapshots_refused(void **state)
{
	(void)state;
	ls_map *m = sample_map(), *r;
	buf s = snap(m);
	assert_int_equal(ls_map_new(&r), LS_OK);
	assert_int_equal(apply(r, cmd_node(9, "keep", true)), LS_OK);
	buf before = snap(r);
	for (size_t len = 0; len < s.n; len++)
		assert_int_equal(ls_map_restore(r, s.p, len), LS_ECORRUPT);
	rng_state = 99;
	uint8_t *p = malloc(s.n);
	for (int round = 0; round < 5000; round++) {
		memcpy(p, s.p, s.n);
		p[rng() % s.n] ^= (uint8_t)(1 + rng() % 255);
		assert_int_equal(ls_map_restore(r, p, s.n), LS_ECORRUPT);
	}
	/* Resealed edits must not crash; refused ones change nothing. */
	for (int round = 0; round < 5000; round++) {
		memcpy(p, s.p, s.n);
		p[LS_MAP_HEADER_LEN + rng() % (s.n - LS_MAP_HEADER_LEN)] =
		    (uint8_t)rng();
		reseal(p, s.n);
		ls_map *t;
		assert_int_equal(ls_map_copy(r, &t), LS_OK);
		if (ls_map_restore(t, p, s.n) != LS_OK)
			assert_true(ls_map_equal(r, t));
		ls_map_free(t);
	}
	free(p);
	buf after = snap(r);
	assert_true(buf_eq(before, after));
	free(s.p);
	free(before.p);
	free(after.p);
	ls_map_free(m);
	ls_map_free(r);
}

/* A random but reproducible command. */
static buf
random_cmd(void)
{
	static const char *names[] = {"n1", "n2", "n3", "n4", "n5", "n6"};
	static const char *topos[] = {"web", "api", "batch"};
	uint64_t id = 1 + rng() % 6;
	const char *topo = topos[rng() % 3];
	switch (rng() % 7) {
	case 0:
	case 1:
		return cmd_node(id, names[id - 1], rng() % 2);
	case 2:
		return cmd_state(id, 1 + (int)(rng() % 4));
	case 3:
		return cmd_remove(id);
	case 4:
		return rng() % 3
		           ? cmd_deploy(topo, rng() % 2 ? "x: 1\n" : "x: 2\n")
		           : cmd_undeploy(topo);
	default: {
		ls_map_assignment a[8];
		char parts[8][16];
		size_t n = rng() % 8;
		for (size_t i = 0; i < n; i++) {
			snprintf(parts[i], sizeof(parts[i]), "s/%u",
			         (unsigned)(rng() % 12));
			a[i] =
			    as(parts[i], 1 + rng() % 6, (unsigned)(rng() % 3),
			       1 + rng() % 6, 1 + rng() % 6);
		}
		return cmd_assign(
		    topo, rng() % 4 == 0 ? LS_MAP_ASSIGN_REPLACE : 0, a, n);
	}
	}
}

/* Replicas applying the same stream agree at every step, epochs never go
 * down and grow exactly on changes, and snapshot + the rest of the stream
 * gives the same map as the whole stream. */
/* Completed checkpoints: recorded per topology, only forward, kept in
 * snapshots, reset by a deploy with new text. */
static void
test_checkpoints(void **state)
{
	(void)state;
	ls_map *m;
	uint64_t ck = 99;
	int fin = 9;
	buf b;
	assert_int_equal(ls_map_new(&m), LS_OK);
	assert_int_equal(apply(m, cmd_deploy("web", "name: web\n")), LS_OK);
	assert_int_equal(ls_map_topology_checkpoint(m, "web", &ck, &fin), LS_OK);
	assert_int_equal(ck, 0);
	assert_int_equal(fin, 0);
	uint64_t e = ls_map_epoch(m);
	assert_int_equal(ls_map_cmd_checkpoint("web", (3ull << 32) | 5, 0, &b.p,
	                     &b.n), LS_OK);
	assert_int_equal(apply(m, b), LS_OK);
	assert_int_equal(ls_map_epoch(m), e + 1);
	assert_int_equal(ls_map_topology_checkpoint(m, "web", &ck, &fin), LS_OK);
	assert_int_equal(ck, (3ull << 32) | 5);
	/* older: a no-op */
	assert_int_equal(ls_map_cmd_checkpoint("web", 7, 1, &b.p, &b.n), LS_OK);
	assert_int_equal(apply(m, b), LS_OK);
	assert_int_equal(ls_map_epoch(m), e + 1);
	assert_int_equal(ls_map_topology_checkpoint(m, "web", &ck, &fin), LS_OK);
	assert_int_equal(ck, (3ull << 32) | 5);
	assert_int_equal(fin, 0);
	/* unknown topology; id 0 refused by the builder */
	assert_int_equal(ls_map_cmd_checkpoint("nope", 9ull << 32, 1, &b.p, &b.n),
	                 LS_OK);
	assert_int_equal(apply(m, b), LS_ENOENT);
	assert_int_equal(ls_map_cmd_checkpoint("web", 0, 0, &b.p, &b.n),
	                 LS_EINVAL);
	/* final, then a snapshot round trip keeps it */
	assert_int_equal(ls_map_cmd_checkpoint("web", (3ull << 32) | 9, 1, &b.p,
	                     &b.n), LS_OK);
	assert_int_equal(apply(m, b), LS_OK);
	buf sb = snap(m);
	ls_map *r;
	assert_int_equal(ls_map_new(&r), LS_OK);
	assert_int_equal(ls_map_restore(r, sb.p, sb.n), LS_OK);
	assert_true(ls_map_equal(m, r));
	assert_int_equal(ls_map_topology_checkpoint(r, "web", &ck, &fin), LS_OK);
	assert_int_equal(ck, (3ull << 32) | 9);
	assert_int_equal(fin, 1);
	free(sb.p);
	/* new text: the old checkpoints do not apply to it */
	assert_int_equal(apply(r, cmd_deploy("web", "name: web\n# v2\n")),
	                 LS_OK);
	assert_int_equal(ls_map_topology_checkpoint(r, "web", &ck, &fin), LS_OK);
	assert_int_equal(ck, 0);
	assert_int_equal(fin, 0);
	assert_false(ls_map_equal(m, r));
	ls_map_free(r);
	ls_map_free(m);
}

static void
test_determinism(void **state)
{
	(void)state;
	enum { N = 3000, CUT = 1234 };
	ls_map *a, *b, *late = NULL;
	int ok = 0;
	assert_int_equal(ls_map_new(&a), LS_OK);
	assert_int_equal(ls_map_new(&b), LS_OK);
	rng_state = 2024;
	for (int i = 0; i < N; i++) {
		buf c = random_cmd();
		uint64_t e0 = ls_map_epoch(a);
		buf s0 = snap(a);
		int ra = ls_map_apply(a, c.p, c.n);
		int rb = ls_map_apply(b, c.p, c.n);
		assert_int_equal(ra, rb);
		buf s1 = snap(a);
		if (ra != LS_OK || buf_eq(s0, s1))
			assert_int_equal(ls_map_epoch(a), e0);
		else
			assert_int_equal(ls_map_epoch(a), e0 + 1);
		if (ra == LS_OK)
			ok++;
		if (late != NULL)
			assert_int_equal(ls_map_apply(late, c.p, c.n), ra);
		if (i == CUT) {
			assert_int_equal(ls_map_new(&late), LS_OK);
			assert_int_equal(ls_map_restore(late, s1.p, s1.n),
			                 LS_OK);
		}
		assert_true(ls_map_equal(a, b));
		free(s0.p);
		free(s1.p);
		free(c.p);
	}
	assert_true(ls_map_equal(a, late));
	/* The stream exercised real changes, not only refusals. */
	assert_true(ok > N / 4);
	assert_true(ls_map_epoch(a) > 100);
	printf("# %d of %d random commands applied, final epoch %llu\n", ok, N,
	       (unsigned long long)ls_map_epoch(a));
	ls_map_free(a);
	ls_map_free(b);
	ls_map_free(late);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sequence_and_epochs),
	    cmocka_unit_test(test_assignment_rules),
	    cmocka_unit_test(test_builders_refuse_bad_input),
	    cmocka_unit_test(test_owner_epochs),
	    cmocka_unit_test(test_snapshot_round_trip),
	    cmocka_unit_test(test_corrupt_commands_refused),
	    cmocka_unit_test(test_hostile_commands),
	    cmocka_unit_test(test_corrupt_snapshots_refused),
	    cmocka_unit_test(test_checkpoints),
	    cmocka_unit_test(test_determinism),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
