/*
 * placement_bench.c -- placing topology partitions on cluster nodes with
 * the consistent-hash ring (cluster/ring.h).
 *
 * 1,000 partitions ("window/0" .. "window/999") over 100 nodes ("n000" ..
 * "n099", weight 1), two copies each (owner + one standby):
 *  - place: ls_ring_place, averaged over many repetitions.  "cold" is the
 *    first placement after the membership changed (it includes rebuilding
 *    the ring's 12,800 virtual nodes), "warm" a placement on an unchanged
 *    ring;
 *  - join: a 101st node is added and ls_ring_rebalance starts from the
 *    100-node placement (the time covers add + rebalance, ring rebuild
 *    included);
 *  - leave: one of the 100 nodes is removed, then rebalance.
 * For join and leave the program prints the fraction of owners and of
 * standby copies that moved (ideal: 1/101 and 1/100 of them) and the
 * largest and average number of partitions a node owns (the bound is
 * ceil(1.25 * 1000 / nodes)).  For contrast it also prints what a fresh
 * ls_ring_place on the new membership would have moved.
 *
 * Sanity checks (the run fails otherwise): every placement respects the
 * owner bound and gives each partition a standby on another node; placing
 * twice gives the same result; a leave moves only the departed node's
 * partitions (its owned ones as owners, and no owner of anybody else); a
 * join never gives the new node more than its bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cluster/ring.h"

#define NODES      100
#define PARTITIONS 1000
#define REPLICAS   2
#define NAME       "placement"

typedef struct fixture {
	char node[NODES + 1][16];
	char part[PARTITIONS][24];
	const char *parts[PARTITIONS];
	ls_ring *ring;
} fixture;

static int
fixture_init(fixture *f)
{
	int rv;

	for (int i = 0; i <= NODES; i++)
		snprintf(f->node[i], sizeof(f->node[i]), "n%03d", i);
	for (int i = 0; i < PARTITIONS; i++) {
		snprintf(f->part[i], sizeof(f->part[i]), "window/%d", i);
		f->parts[i] = f->part[i];
	}
	if ((rv = ls_ring_new(&f->ring)) != 0)
		return rv;
	for (int i = 0; i < NODES; i++)
		if ((rv = ls_ring_add_node(f->ring, f->node[i], 1)) != 0)
			return rv;
	return 0;
}

/* The structural checks every placement must pass. */
static int
check(const char *what, const ls_placement *p, size_t nodes)
{
	ls_placement_load l;

	ls_placement_load_of(p, &l);
	if (p->n_partitions != PARTITIONS || p->n_nodes != nodes ||
	    p->replicas != REPLICAS)
		return ls_bench_fail(NAME,
		                     "%s: %zu partitions on %zu nodes, "
		                     "%u replicas",
		                     what, p->n_partitions, p->n_nodes,
		                     p->replicas);
	if (!l.within_bound)
		return ls_bench_fail(NAME, "%s: a node owns %u, over its bound",
		                     what, l.max_owned);
	for (size_t i = 0; i < p->n_partitions; i++)
		if (p->standby[i] == p->owner[i] || p->standby[i] >= nodes)
			return ls_bench_fail(NAME,
			                     "%s: partition %zu has no "
			                     "standby of its own",
			                     what, i);
	return 0;
}

static double
per_op_us(int64_t ns, uint64_t reps)
{
	return (double)ns / 1e3 / (double)reps;
}

static void
print_times(const char *label, double *us, int runs, const char *extra)
{
	double min, max;

	ls_bench_minmax(us, (size_t)runs, &min, &max);
	double med = ls_bench_median(us, (size_t)runs);
	ls_bench_print(label, "%8.3f ms             (%d run%s, %.3f..%.3f)%s",
	               med / 1e3, runs, runs == 1 ? "" : "s", min / 1e3,
	               max / 1e3, extra);
}

static long
node_index(const ls_placement *p, const char *node)
{
	for (size_t i = 0; i < p->n_nodes; i++)
		if (strcmp(p->node_ids[i], node) == 0)
			return (long)i;
	return -1;
}

/* Movement and load of `to` against `from`, printed on one line, with the
 * partitions `node` owns (in `to`, else in `from`). */
static int
print_moves(const char *label, const ls_placement *from, const ls_placement *to,
            double ideal, const char *node)
{
	ls_placement_diff d;
	ls_placement_load l;
	int rv;

	if ((rv = ls_placement_diff_of(from, to, &d)) != 0)
		return ls_bench_fail(NAME, "diff: %s", ls_strerror(rv));
	ls_placement_load_of(to, &l);
	uint32_t cap = 0;
	for (size_t i = 0; i < to->n_nodes; i++)
		if (to->owner_cap[i] > cap)
			cap = to->owner_cap[i];
	/* How many partitions `node` owns in whichever placement has it. */
	const ls_placement *has = to;
	long ni = node_index(to, node);
	if (ni < 0) {
		has = from;
		ni = node_index(from, node);
	}
	ls_bench_print(label,
	               "%7.2f %% owners moved, %.2f %% standbys moved "
	               "(ideal %.2f %%); owned max %u / avg %.2f "
	               "(bound %u); %s: %u",
	               100.0 * (double)d.owners_moved / (double)d.common,
	               100.0 * (double)d.standbys_moved /
	                   (double)(d.common * (REPLICAS - 1)),
	               100.0 * ideal, l.max_owned, l.avg_owned, cap, node,
	               ni < 0 ? 0 : has->owned[ni]);
	return 0;
}

static int
same(const ls_placement *a, const ls_placement *b)
{
	ls_placement_diff d;

	if (ls_placement_diff_of(a, b, &d) != 0)
		return 0;
	return d.common == PARTITIONS && d.owners_moved == 0 &&
	       d.standbys_moved == 0 && d.added == 0 && d.removed == 0;
}

int
main(void)
{
	int runs = ls_bench_runs(5);
	uint64_t reps = ls_bench_scaled(200, 2);
	double cold[99], warm[99], join[99], leave[99];
	ls_placement base = {0}, p = {0}, joined = {0}, left = {0};
	ls_placement fresh = {0};
	fixture *f = calloc(1, sizeof(*f));
	const char *gone = "n042";
	char extra[96];
	int rv, status = 1;

	if (f == NULL || (rv = fixture_init(f)) != 0) {
		ls_bench_fail(NAME, "ring: %s",
		              f ? ls_strerror(rv) : "out of memory");
		goto out;
	}
	if ((rv = ls_ring_place(f->ring, f->parts, PARTITIONS, REPLICAS,
	                        &base)) != 0) {
		ls_bench_fail(NAME, "place: %s", ls_strerror(rv));
		goto out;
	}
	if (check("place", &base, NODES) != 0)
		goto out;
	long gi = node_index(&base, gone);
	uint32_t gone_owned = gi < 0 ? 0 : base.owned[gi];

	for (int r = 0; r < runs; r++) {
		int64_t cold_ns = 0, warm_ns = 0, join_ns = 0, leave_ns = 0;
		for (uint64_t k = 0; k < reps; k++) {
			/* cold: the membership changed (remove + re-add the
			 * same node, untimed), so the ring is rebuilt. */
			if (ls_ring_remove_node(f->ring, f->node[0]) != 0 ||
			    ls_ring_add_node(f->ring, f->node[0], 1) != 0) {
				ls_bench_fail(NAME, "ring membership");
				goto out;
			}
			int64_t t0 = ls_clock_ns();
			rv = ls_ring_place(f->ring, f->parts, PARTITIONS,
			                   REPLICAS, &p);
			int64_t t1 = ls_clock_ns();
			cold_ns += t1 - t0;
			if (rv != 0 || !same(&base, &p)) {
				ls_bench_fail(NAME, "cold placement %s",
				              rv ? ls_strerror(rv)
				                 : "differs from the first");
				goto out;
			}
			ls_placement_fini(&p);

			t0 = ls_clock_ns();
			rv = ls_ring_place(f->ring, f->parts, PARTITIONS,
			                   REPLICAS, &p);
			t1 = ls_clock_ns();
			warm_ns += t1 - t0;
			if (rv != 0 || !same(&base, &p)) {
				ls_bench_fail(NAME, "warm placement %s",
				              rv ? ls_strerror(rv)
				                 : "differs from the first");
				goto out;
			}
			ls_placement_fini(&p);

			/* join: add the 101st node, rebalance. */
			t0 = ls_clock_ns();
			rv = ls_ring_add_node(f->ring, f->node[NODES], 1);
			if (rv == 0)
				rv =
				    ls_ring_rebalance(f->ring, &base, f->parts,
				                      PARTITIONS, REPLICAS, &p);
			t1 = ls_clock_ns();
			join_ns += t1 - t0;
			if (rv != 0) {
				ls_bench_fail(NAME, "join: %s",
				              ls_strerror(rv));
				goto out;
			}
			if (joined.n_partitions == 0)
				joined = p;
			else
				ls_placement_fini(&p);
			memset(&p, 0, sizeof(p));
			if (ls_ring_remove_node(f->ring, f->node[NODES]) != 0) {
				ls_bench_fail(NAME, "ring membership");
				goto out;
			}

			/* leave: remove one of the 100, rebalance. */
			t0 = ls_clock_ns();
			rv = ls_ring_remove_node(f->ring, gone);
			if (rv == 0)
				rv =
				    ls_ring_rebalance(f->ring, &base, f->parts,
				                      PARTITIONS, REPLICAS, &p);
			t1 = ls_clock_ns();
			leave_ns += t1 - t0;
			if (rv != 0) {
				ls_bench_fail(NAME, "leave: %s",
				              ls_strerror(rv));
				goto out;
			}
			if (left.n_partitions == 0)
				left = p;
			else
				ls_placement_fini(&p);
			memset(&p, 0, sizeof(p));
			if (ls_ring_add_node(f->ring, gone, 1) != 0) {
				ls_bench_fail(NAME, "ring membership");
				goto out;
			}
		}
		cold[r] = per_op_us(cold_ns, reps);
		warm[r] = per_op_us(warm_ns, reps);
		join[r] = per_op_us(join_ns, reps);
		leave[r] = per_op_us(leave_ns, reps);
	}

	if (check("join", &joined, NODES + 1) != 0 ||
	    check("leave", &left, NODES - 1) != 0)
		goto out;
	/* Removing a node moves only its partitions. */
	ls_placement_diff dl;
	if (ls_placement_diff_of(&base, &left, &dl) != 0 ||
	    dl.owners_moved != gone_owned || gone_owned == 0) {
		ls_bench_fail(NAME,
		              "leave moved %zu owners, the departed node "
		              "owned %u",
		              dl.owners_moved, gone_owned);
		goto out;
	}

	snprintf(extra, sizeof(extra), "  %llu placements per run",
	         (unsigned long long)reps);
	print_times("place 1000 on 100 (cold)", cold, runs, extra);
	print_times("place 1000 on 100 (warm)", warm, runs, "");
	print_times("join 101st: add+rebalance", join, runs, "");
	if (print_moves("join 101st: moved", &base, &joined, 1.0 / 101,
	                f->node[NODES]) != 0)
		goto out;
	print_times("leave 1: remove+rebalance", leave, runs, "");
	if (print_moves("leave 1: moved", &base, &left, 1.0 / 100, gone) != 0)
		goto out;

	/* For contrast: a fresh placement after the same changes. */
	if (ls_ring_add_node(f->ring, f->node[NODES], 1) != 0 ||
	    ls_ring_place(f->ring, f->parts, PARTITIONS, REPLICAS, &fresh) !=
	        0 ||
	    print_moves("join 101st: fresh place", &base, &fresh, 1.0 / 101,
	                f->node[NODES]) != 0) {
		ls_bench_fail(NAME, "fresh placement after join");
		goto out;
	}
	ls_placement_fini(&fresh);
	if (ls_ring_remove_node(f->ring, f->node[NODES]) != 0 ||
	    ls_ring_remove_node(f->ring, gone) != 0 ||
	    ls_ring_place(f->ring, f->parts, PARTITIONS, REPLICAS, &fresh) !=
	        0 ||
	    print_moves("leave 1: fresh place", &base, &fresh, 1.0 / 100,
	                gone) != 0) {
		ls_bench_fail(NAME, "fresh placement after leave");
		goto out;
	}
	status = 0;
out:
	ls_placement_fini(&fresh);
	ls_placement_fini(&p);
	ls_placement_fini(&joined);
	ls_placement_fini(&left);
	ls_placement_fini(&base);
	if (f != NULL)
		ls_ring_free(f->ring);
	free(f);
	return status;
}
