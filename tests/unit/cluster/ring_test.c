/*
 * ring_test.c -- placement by consistent hashing with bounded loads:
 * argument checks, the plain consistent-hashing property, distribution,
 * weights, the load bound, distinct replicas, determinism, movement on join
 * and leave, and the time to place 1,000 partitions over 100 nodes.
 *
 * Randomised tests run hundreds of seeds of a local splitmix64 generator;
 * expectations (bounds, ideal movement) are computed here from the inputs,
 * not taken from the module.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cluster/ring.h"
#include "runtime/err.h"

#define SEEDS 200

/* ---- helpers ---- */

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t
rnd_in(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}

/* A set of names "prefix-<i>" (or "stage<i/k>/<i%k>" for partitions). */
typedef struct names {
	size_t n;
	char **v;
} names;

static void
names_nodes(names *nm, size_t n, uint64_t salt)
{
	char buf[64];

	nm->n = n;
	nm->v = calloc(n, sizeof(char *));
	assert_non_null(nm->v);
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "node-%llx-%zu",
		         (unsigned long long)(salt & 0xffff), i);
		nm->v[i] = strdup(buf);
		assert_non_null(nm->v[i]);
	}
}

static void
names_parts(names *nm, size_t n, size_t per_stage)
{
	char buf[64];

	nm->n = n;
	nm->v = calloc(n ? n : 1, sizeof(char *));
	assert_non_null(nm->v);
	for (size_t i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "stage%zu/%zu", i / per_stage,
		         i % per_stage);
		nm->v[i] = strdup(buf);
		assert_non_null(nm->v[i]);
	}
}

static void
names_free(names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	nm->v = NULL;
	nm->n = 0;
}

static void
shuffle(char **v, size_t n, uint64_t *s)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(rnd(s) % i);
		char *t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static const char *const *
cv(const names *nm)
{
	return (const char *const *)nm->v;
}

static ls_ring *
ring_of(const names *nodes, const uint32_t *weights)
{
	ls_ring *r = NULL;

	assert_int_equal(ls_ring_new(&r), LS_OK);
	for (size_t i = 0; i < nodes->n; i++)
		assert_int_equal(
		    ls_ring_add_node(r, nodes->v[i], weights ? weights[i] : 1),
		    LS_OK);
	return r;
}

/* ceil(1.25 * P * w / W), computed independently of the module. */
static uint32_t
expected_cap(size_t parts, uint32_t w, uint64_t total_w)
{
	return (uint32_t)ceil(1.25 * (double)parts * w / (double)total_w -
	                      1e-9);
}

/*
 * Structural checks of any placement: indices in range, owner and standbys
 * distinct, per-node counts consistent, replicas capped, and every owner
 * count within ceil(1.25 * weighted share).
 */
static void
check_placement(const ls_placement *p, size_t parts, size_t nodes,
                uint32_t requested)
{
	uint32_t want_r = requested < nodes ? requested : (uint32_t)nodes;
	uint32_t sb = want_r - 1;
	uint32_t *owned = calloc(nodes, sizeof(uint32_t));
	uint32_t *held = calloc(nodes, sizeof(uint32_t));
	uint64_t total_w = 0;

	assert_non_null(owned);
	assert_non_null(held);
	assert_int_equal(p->n_partitions, parts);
	assert_int_equal(p->n_nodes, nodes);
	assert_int_equal(p->replicas, want_r);
	for (size_t i = 1; i < nodes; i++)
		assert_true(strcmp(p->node_ids[i - 1], p->node_ids[i]) < 0);
	for (size_t i = 0; i < parts; i++) {
		assert_true(p->owner[i] < nodes);
		owned[p->owner[i]]++;
		for (uint32_t s = 0; s < sb; s++) {
			uint32_t x = p->standby[i * sb + s];
			assert_true(x < nodes);
			assert_int_not_equal(x, p->owner[i]);
			for (uint32_t t = 0; t < s; t++)
				assert_int_not_equal(x, p->standby[i * sb + t]);
			held[x]++;
		}
	}
	for (size_t i = 0; i < nodes; i++)
		total_w += p->weights[i];
	for (size_t i = 0; i < nodes; i++) {
		assert_int_equal(owned[i], p->owned[i]);
		assert_int_equal(held[i], p->held[i]);
		assert_true(owned[i] <=
		            expected_cap(parts, p->weights[i], total_w));
	}
	ls_placement_load l;
	ls_placement_load_of(p, &l);
	assert_true(l.within_bound);
	free(owned);
	free(held);
}

/* Owner id and standby ids of partition `name` in p, as one string. */
static void
describe(const ls_placement *p, const char *name, char *buf, size_t len)
{
	long i = ls_placement_find(p, name);
	size_t sb = p->replicas - 1, at;

	assert_true(i >= 0);
	at = (size_t)snprintf(buf, len, "%s", p->node_ids[p->owner[i]]);
	for (size_t s = 0; s < sb && at < len; s++)
		at += (size_t)snprintf(
		    buf + at, len - at, ",%s",
		    p->node_ids[p->standby[(size_t)i * sb + s]]);
}

static int
is_standby(const ls_placement *p, size_t i, const char *id)
{
	size_t sb = p->replicas - 1;

	for (size_t s = 0; s < sb; s++) {
		if (strcmp(p->node_ids[p->standby[i * sb + s]], id) == 0)
			return 1;
	}
	return 0;
}

/* ---- tests ---- */

static void
test_arguments(void **state)
{
	ls_ring *r = NULL;
	ls_placement p;
	char longid[LS_RING_MAX_ID + 2];
	const char *parts[] = {"a/0", "a/1", "a/0"};

	(void)state;
	assert_int_equal(ls_ring_new(NULL), LS_EINVAL);
	assert_int_equal(ls_ring_new(&r), LS_OK);
	assert_int_equal(ls_ring_place(r, parts, 2, 1, &p), LS_ENOENT);
	assert_null(p.owner);
	assert_int_equal(ls_ring_add_node(r, "n1", 0), LS_EINVAL);
	assert_int_equal(ls_ring_add_node(r, "n1", LS_RING_MAX_WEIGHT + 1),
	                 LS_EINVAL);
	assert_int_equal(ls_ring_add_node(r, "", 1), LS_EINVAL);
	assert_int_equal(ls_ring_add_node(r, NULL, 1), LS_EINVAL);
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(ls_ring_add_node(r, longid, 1), LS_EINVAL);
	longid[LS_RING_MAX_ID] = '\0';
	assert_int_equal(ls_ring_add_node(r, longid, 1), LS_OK);
	assert_int_equal(ls_ring_add_node(r, "n1", 2), LS_OK);
	assert_int_equal(ls_ring_add_node(r, "n1", 1), LS_EEXIST);
	assert_int_equal(ls_ring_node_count(r), 2);
	uint32_t w = 0;
	assert_string_equal(ls_ring_node_id(r, 0, &w), "n1");
	assert_int_equal(w, 2);
	assert_null(ls_ring_node_id(r, 2, NULL));
	assert_int_equal(ls_ring_remove_node(r, "zz"), LS_ENOENT);
	assert_int_equal(ls_ring_remove_node(r, longid), LS_OK);
	assert_int_equal(ls_ring_node_count(r), 1);

	assert_int_equal(ls_ring_place(r, parts, 2, 0, &p), LS_EINVAL);
	assert_int_equal(ls_ring_place(r, NULL, 2, 1, &p), LS_EINVAL);
	assert_int_equal(ls_ring_place(r, parts, 3, 1, &p), LS_EINVAL);
	assert_null(p.owner);
	assert_int_equal(ls_ring_place(r, parts, 2, 1, NULL), LS_EINVAL);
	assert_int_equal(ls_ring_rebalance(r, NULL, parts, 2, 1, &p),
	                 LS_EINVAL);

	/* One node: it owns everything, replicas are capped to 1. */
	assert_int_equal(ls_ring_place(r, parts, 2, 3, &p), LS_OK);
	assert_int_equal(p.replicas, 1);
	assert_string_equal(ls_placement_owner_id(&p, 0), "n1");
	assert_string_equal(ls_placement_owner_id(&p, 1), "n1");
	assert_null(ls_placement_owner_id(&p, 2));
	assert_int_equal(ls_placement_find(&p, "a/1"), 1);
	assert_int_equal(ls_placement_find(&p, "b/1"), -1);
	ls_placement_fini(&p);
	ls_placement_fini(&p); /* zeroed: no-op */

	/* No partitions at all is a valid, empty placement. */
	assert_int_equal(ls_ring_place(r, NULL, 0, 2, &p), LS_OK);
	assert_int_equal(p.n_partitions, 0);
	assert_int_equal(p.owned[0], 0);
	ls_placement_fini(&p);

	/* Two nodes, R = 3: capped to 2, the standby is the other node. */
	assert_int_equal(ls_ring_add_node(r, "n2", 2), LS_OK);
	assert_int_equal(ls_ring_place(r, parts, 2, 3, &p), LS_OK);
	assert_int_equal(p.replicas, 2);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(p.standby[i], 1 - p.owner[i]);
	ls_placement_diff d;
	assert_int_equal(ls_placement_diff_of(&p, &p, &d), LS_OK);
	assert_int_equal(d.common, 2);
	assert_int_equal(
	    d.owners_moved + d.standbys_moved + d.added + d.removed, 0);
	assert_int_equal(ls_placement_diff_of(NULL, &p, &d), LS_EINVAL);
	ls_placement_fini(&p);
	ls_ring_free(r);
	ls_ring_free(NULL);
}

/*
 * With one partition every node's bound is 1, so placement is plain
 * consistent hashing: removing a node other than the owner never changes
 * the owner, and adding a node either keeps it or hands it to the newcomer.
 */
static void
test_consistent_hashing_property(void **state)
{
	uint64_t s = 1;

	(void)state;
	for (int seed = 0; seed < SEEDS; seed++) {
		names nodes;
		char part[32];
		const char *pp[1] = {part};
		size_t n = rnd_in(&s, 3, 20);
		ls_placement a, b;

		names_nodes(&nodes, n, rnd(&s));
		snprintf(part, sizeof(part), "st%d/%u", seed,
		         (unsigned)rnd_in(&s, 0, 1000));
		ls_ring *r = ring_of(&nodes, NULL);
		assert_int_equal(ls_ring_place(r, pp, 1, 1, &a), LS_OK);
		const char *owner = ls_placement_owner_id(&a, 0);
		/* Remove some other node. */
		size_t victim = rnd_in(&s, 0, (uint32_t)n - 1);
		if (strcmp(nodes.v[victim], owner) == 0)
			victim = (victim + 1) % n;
		assert_int_equal(ls_ring_remove_node(r, nodes.v[victim]),
		                 LS_OK);
		assert_int_equal(ls_ring_place(r, pp, 1, 1, &b), LS_OK);
		assert_string_equal(ls_placement_owner_id(&b, 0), owner);
		ls_placement_fini(&b);
		/* Add a newcomer. */
		assert_int_equal(ls_ring_add_node(r, "newcomer", 1), LS_OK);
		assert_int_equal(ls_ring_place(r, pp, 1, 1, &b), LS_OK);
		const char *now = ls_placement_owner_id(&b, 0);
		assert_true(strcmp(now, owner) == 0 ||
		            strcmp(now, "newcomer") == 0);
		ls_placement_fini(&b);
		ls_placement_fini(&a);
		ls_ring_free(r);
		names_free(&nodes);
	}
}

/* Equal weights: bound always, distinct replicas, and close to even. */
static void
test_distribution_equal_weights(void **state)
{
	uint64_t s = 2;
	double worst_ratio = 0, sum_ratio = 0, sum_min = 0, worst_min = 1;
	double sum_cv = 0;
	int counted = 0;

	(void)state;
	for (int seed = 0; seed < SEEDS; seed++) {
		names nodes, parts;
		size_t n = rnd_in(&s, 2, 40);
		size_t per = rnd_in(&s, 1, 64);
		size_t np = n * rnd_in(&s, 1, 60) + rnd_in(&s, 0, 7);
		uint32_t rep = rnd_in(&s, 1, 4);
		ls_placement p;
		ls_placement_load l;

		names_nodes(&nodes, n, rnd(&s));
		names_parts(&parts, np, per);
		ls_ring *r = ring_of(&nodes, NULL);
		assert_int_equal(ls_ring_place(r, cv(&parts), np, rep, &p),
		                 LS_OK);
		check_placement(&p, np, n, rep);
		ls_placement_load_of(&p, &l);
		uint32_t cap = (uint32_t)ceil(1.25 * (double)np / n - 1e-9);
		assert_true(l.max_owned <= cap);
		assert_true(fabs(l.avg_owned - (double)np / n) < 1e-9);
		/* Close to even once each node has 20+ partitions. */
		if (np / n >= 20) {
			assert_true(l.min_owned >= 0.25 * l.avg_owned);
			if (l.min_owned / l.avg_owned < worst_min)
				worst_min = l.min_owned / l.avg_owned;
			double ratio = l.max_owned / l.avg_owned;
			if (ratio > worst_ratio)
				worst_ratio = ratio;
			sum_ratio += ratio;
			sum_min += l.min_owned / l.avg_owned;
			/* Coefficient of variation of the owner counts. */
			double var = 0;
			for (size_t i = 0; i < n; i++) {
				double d = p.owned[i] - l.avg_owned;
				var += d * d;
			}
			sum_cv += sqrt(var / n) / l.avg_owned;
			counted++;
		}
		/* Standby copies are spread under the same rule. */
		if (rep > 1) {
			uint32_t scap = (uint32_t)ceil(
			    1.25 * (double)np * (p.replicas - 1) / n - 1e-9);
			assert_true(l.max_held <= scap);
		}
		ls_placement_fini(&p);
		ls_ring_free(r);
		names_free(&nodes);
		names_free(&parts);
	}
	assert_true(counted > 20);
	printf("equal weights over %d runs: max/avg mean %.3f worst %.3f, "
	       "min/avg mean %.3f worst %.3f, stddev/avg mean %.3f\n",
	       counted, sum_ratio / counted, worst_ratio, sum_min / counted,
	       worst_min, sum_cv / counted);
	/* Hash placement keeps Poisson noise (about 1/sqrt(avg)) at the
	 * bottom; the bound clips the top. */
	assert_true(sum_ratio / counted < 1.26);
	assert_true(sum_min / counted > 0.6);
	assert_true(sum_cv / counted < 0.2);
}

/* Weights: each node's share follows its weight, within the bound. */
static void
test_weights(void **state)
{
	uint64_t s = 3;
	double worst_low = 10, worst_high = 0;

	(void)state;
	for (int seed = 0; seed < SEEDS; seed++) {
		names nodes, parts;
		size_t n = rnd_in(&s, 2, 12);
		uint32_t w[12];
		uint64_t total_w = 0;
		ls_placement p;

		for (size_t i = 0; i < n; i++) {
			w[i] = rnd_in(&s, 1, 4);
			total_w += w[i];
		}
		size_t np = 40 * total_w;
		names_nodes(&nodes, n, rnd(&s));
		names_parts(&parts, np, 100);
		ls_ring *r = ring_of(&nodes, w);
		assert_int_equal(ls_ring_place(r, cv(&parts), np, 2, &p),
		                 LS_OK);
		check_placement(&p, np, n, 2);
		/* p.node_ids is sorted; find each node's weight by id. */
		for (size_t i = 0; i < n; i++) {
			size_t k = 0;
			while (strcmp(nodes.v[k], p.node_ids[i]) != 0)
				k++;
			assert_int_equal(p.weights[i], w[k]);
			double share = (double)np * w[k] / total_w;
			double ratio = p.owned[i] / share;
			assert_true(ratio <= 1.25 + 1.0 / share);
			assert_true(ratio >= 0.5);
			if (ratio < worst_low)
				worst_low = ratio;
			if (ratio > worst_high)
				worst_high = ratio;
		}
		ls_placement_fini(&p);
		ls_ring_free(r);
		names_free(&nodes);
		names_free(&parts);
	}
	printf("weighted: owned/share between %.3f and %.3f\n", worst_low,
	       worst_high);
}

/* Same inputs in another order give exactly the same placement. */
static void
test_determinism(void **state)
{
	uint64_t s = 4;
	char x[1024], y[1024];

	(void)state;
	for (int seed = 0; seed < SEEDS; seed++) {
		names nodes, parts;
		size_t n = rnd_in(&s, 2, 30);
		size_t np = rnd_in(&s, 1, 600);
		uint32_t rep = rnd_in(&s, 1, 3);
		uint32_t w[30];
		ls_placement a, b, c;

		names_nodes(&nodes, n, rnd(&s));
		names_parts(&parts, np, rnd_in(&s, 1, 32));
		for (size_t i = 0; i < n; i++)
			w[i] = rnd_in(&s, 1, 3);
		ls_ring *r1 = ring_of(&nodes, w);
		assert_int_equal(ls_ring_place(r1, cv(&parts), np, rep, &a),
		                 LS_OK);

		/* Shuffle nodes (with their weights) and partitions. */
		uint32_t w2[30];
		names n2;
		n2.n = n;
		n2.v = calloc(n, sizeof(char *));
		assert_non_null(n2.v);
		for (size_t i = 0; i < n; i++)
			n2.v[i] = nodes.v[i];
		shuffle(n2.v, n, &s);
		for (size_t i = 0; i < n; i++) {
			size_t k = 0;
			while (nodes.v[k] != n2.v[i])
				k++;
			w2[i] = w[k];
		}
		ls_ring *r2 = ring_of(&n2, w2);
		shuffle(parts.v, np, &s);
		assert_int_equal(ls_ring_place(r2, cv(&parts), np, rep, &b),
		                 LS_OK);
		for (size_t i = 0; i < np; i++) {
			describe(&a, parts.v[i], x, sizeof(x));
			describe(&b, parts.v[i], y, sizeof(y));
			assert_string_equal(x, y);
		}
		/* Removing and re-adding a node restores the placement. */
		assert_int_equal(ls_ring_remove_node(r2, n2.v[0]), LS_OK);
		assert_int_equal(ls_ring_add_node(r2, n2.v[0], w2[0]), LS_OK);
		assert_int_equal(ls_ring_place(r2, cv(&parts), np, rep, &c),
		                 LS_OK);
		ls_placement_diff d;
		assert_int_equal(ls_placement_diff_of(&a, &c, &d), LS_OK);
		assert_int_equal(d.common, np);
		assert_int_equal(d.owners_moved, 0);
		assert_int_equal(d.standbys_moved, 0);
		ls_placement_fini(&a);
		ls_placement_fini(&b);
		ls_placement_fini(&c);
		ls_ring_free(r1);
		ls_ring_free(r2);
		free(n2.v);
		names_free(&nodes);
		names_free(&parts);
	}
}

/* A join moves close to the ideal 1/(N+1) of the owners. */
static void
test_join_movement(void **state)
{
	uint64_t s = 5;
	double sum = 0, worst = 0, sum_fresh = 0, sum_sb = 0;
	int runs = 0;

	(void)state;
	for (int seed = 0; seed < SEEDS; seed++) {
		names nodes, parts;
		size_t n = rnd_in(&s, 3, 30);
		size_t np = n * rnd_in(&s, 20, 60);
		uint32_t rep = rnd_in(&s, 1, 3);
		ls_placement a, b, f;
		ls_placement_diff d, df;

		names_nodes(&nodes, n, rnd(&s));
		names_parts(&parts, np, 64);
		ls_ring *r = ring_of(&nodes, NULL);
		assert_int_equal(ls_ring_place(r, cv(&parts), np, rep, &a),
		                 LS_OK);
		assert_int_equal(ls_ring_add_node(r, "joiner", 1), LS_OK);
		assert_int_equal(
		    ls_ring_rebalance(r, &a, cv(&parts), np, rep, &b), LS_OK);
		check_placement(&b, np, n + 1, rep);
		assert_int_equal(ls_placement_diff_of(&a, &b, &d), LS_OK);
		assert_int_equal(d.common, np);
		double ideal = 1.0 / (double)(n + 1);
		double frac = (double)d.owners_moved / (double)np;
		/* At least half the ideal (the joiner gets work), at most a
		 * small multiple of it. */
		assert_true(frac >= 0.5 * ideal);
		assert_true(frac <= 2.5 * ideal);
		/* The joiner takes a fair share (within the bound). */
		long j = -1;
		for (size_t i = 0; i < b.n_nodes; i++) {
			if (strcmp(b.node_ids[i], "joiner") == 0)
				j = (long)i;
		}
		assert_true(j >= 0);
		assert_true(b.owned[j] >= (np / (n + 1)) / 2);
		/* Owners that moved went to the joiner or off an overfull
		 * node; count those not going to the joiner. */
		if (frac / ideal > worst)
			worst = frac / ideal;
		sum += frac / ideal;
		if (rep > 1)
			sum_sb += (double)d.standbys_moved /
			          (double)(np * (b.replicas - 1)) / ideal;
		/* For comparison: recomputing from scratch. */
		assert_int_equal(ls_ring_place(r, cv(&parts), np, rep, &f),
		                 LS_OK);
		assert_int_equal(ls_placement_diff_of(&a, &f, &df), LS_OK);
		sum_fresh += (double)df.owners_moved / (double)np / ideal;
		runs++;
		ls_placement_fini(&a);
		ls_placement_fini(&b);
		ls_placement_fini(&f);
		ls_ring_free(r);
		names_free(&nodes);
		names_free(&parts);
	}
	printf("join: owners moved = %.2f x ideal 1/N on average (worst "
	       "%.2f); standby slots %.2f x; a fresh placement would move "
	       "%.2f x\n",
	       sum / runs, worst, sum_sb / runs, sum_fresh / runs);
	assert_true(sum / runs < 1.5);
}

/* A leave moves only the leaver's partitions and standby copies. */
static void
test_leave_movement(void **state)
{
	uint64_t s = 6;
	double sum_fresh = 0;
	int runs = 0;
	size_t lost = 0, promoted = 0;

	(void)state;
	for (int seed = 0; seed < SEEDS; seed++) {
		names nodes, parts;
		size_t n = rnd_in(&s, 2, 30);
		size_t np = n * rnd_in(&s, 1, 60) + rnd_in(&s, 0, 9);
		uint32_t rep = rnd_in(&s, 1, 3);
		ls_placement a, b, f;
		ls_placement_diff d, df;

		names_nodes(&nodes, n, rnd(&s));
		names_parts(&parts, np, 50);
		ls_ring *r = ring_of(&nodes, NULL);
		assert_int_equal(ls_ring_place(r, cv(&parts), np, rep, &a),
		                 LS_OK);
		const char *leaver = nodes.v[rnd_in(&s, 0, (uint32_t)n - 1)];
		assert_int_equal(ls_ring_remove_node(r, leaver), LS_OK);
		assert_int_equal(
		    ls_ring_rebalance(r, &a, cv(&parts), np, rep, &b), LS_OK);
		check_placement(&b, np, n - 1, rep);
		size_t leaver_owned = 0;
		for (size_t i = 0; i < np; i++) {
			const char *was = ls_placement_owner_id(&a, i);
			const char *now = ls_placement_owner_id(&b, i);
			int touched = strcmp(was, leaver) == 0 ||
			              is_standby(&a, i, leaver);
			assert_string_not_equal(now, leaver);
			if (strcmp(was, leaver) == 0) {
				leaver_owned++;
				/* Promoted: the first surviving standby
				 * (when it had room) or a clockwise node. */
				continue;
			}
			assert_string_equal(was, now);
			if (!touched) {
				char x[1024], y[1024];
				describe(&a, parts.v[i], x, sizeof(x));
				describe(&b, parts.v[i], y, sizeof(y));
				assert_string_equal(x, y);
			}
		}
		assert_int_equal(ls_placement_diff_of(&a, &b, &d), LS_OK);
		assert_int_equal(d.owners_moved, leaver_owned);
		/* With a spare copy, a lost owner becomes one of its standbys
		 * unless all of them are at their bound. */
		if (rep > 1) {
			for (size_t i = 0; i < np; i++) {
				if (strcmp(ls_placement_owner_id(&a, i),
				           leaver) != 0)
					continue;
				lost++;
				if (is_standby(&a, i,
				               ls_placement_owner_id(&b, i)))
					promoted++;
			}
		}
		assert_int_equal(ls_ring_place(r, cv(&parts), np, rep, &f),
		                 LS_OK);
		assert_int_equal(ls_placement_diff_of(&a, &f, &df), LS_OK);
		if (leaver_owned > 0) {
			sum_fresh +=
			    (double)df.owners_moved / (double)leaver_owned;
			runs++;
		}
		ls_placement_fini(&a);
		ls_placement_fini(&b);
		ls_placement_fini(&f);
		ls_ring_free(r);
		names_free(&nodes);
		names_free(&parts);
	}
	/* Measured 98 %; a promotion fails only when every standby of the
	 * partition is at its bound. */
	assert_true(lost > 1000);
	assert_true(promoted >= lost * 9 / 10);
	printf("leave: only the leaver's partitions moved; %zu of %zu went to "
	       "a standby; a fresh placement would move %.2f x as many\n",
	       promoted, lost, sum_fresh / runs);
}

/* New partitions (a newly deployed stage) leave existing ones in place;
 * dropped ones just disappear. */
static void
test_rebalance_partition_set(void **state)
{
	uint64_t s = 7;

	(void)state;
	for (int seed = 0; seed < SEEDS / 4; seed++) {
		names nodes, parts;
		size_t n = rnd_in(&s, 2, 20);
		size_t old_np = rnd_in(&s, 10, 400);
		size_t np = old_np + rnd_in(&s, 1, 200);
		ls_placement a, b, c;
		ls_placement_diff d;

		names_nodes(&nodes, n, rnd(&s));
		names_parts(&parts, np, 16);
		ls_ring *r = ring_of(&nodes, NULL);
		assert_int_equal(ls_ring_place(r, cv(&parts), old_np, 2, &a),
		                 LS_OK);
		assert_int_equal(
		    ls_ring_rebalance(r, &a, cv(&parts), np, 2, &b), LS_OK);
		check_placement(&b, np, n, 2);
		assert_int_equal(ls_placement_diff_of(&a, &b, &d), LS_OK);
		assert_int_equal(d.common, old_np);
		assert_int_equal(d.added, np - old_np);
		assert_int_equal(d.owners_moved, 0);
		assert_int_equal(d.standbys_moved, 0);
		/* Back to the old set: the new ones are removed. */
		assert_int_equal(
		    ls_ring_rebalance(r, &b, cv(&parts), old_np, 2, &c), LS_OK);
		check_placement(&c, old_np, n, 2);
		assert_int_equal(ls_placement_diff_of(&b, &c, &d), LS_OK);
		assert_int_equal(d.removed, np - old_np);
		assert_int_equal(d.added, 0);
		ls_placement_fini(&a);
		ls_placement_fini(&b);
		ls_placement_fini(&c);
		ls_ring_free(r);
		names_free(&nodes);
		names_free(&parts);
	}
}

/* A node whose weight grows takes on its new share; nobody else moves
 * except what it takes and what the tighter bounds push off. */
static void
test_weight_growth(void **state)
{
	uint64_t s = 9;
	double sum = 0;

	(void)state;
	for (int seed = 0; seed < SEEDS / 4; seed++) {
		names nodes, parts;
		size_t n = rnd_in(&s, 3, 12);
		size_t np = 50 * (n + 2);
		ls_placement a, b;
		ls_placement_diff d;

		names_nodes(&nodes, n, rnd(&s));
		names_parts(&parts, np, 25);
		ls_ring *r = ring_of(&nodes, NULL);
		assert_int_equal(ls_ring_place(r, cv(&parts), np, 2, &a),
		                 LS_OK);
		const char *grower = nodes.v[0];
		size_t before = 0, after = 0;
		for (size_t i = 0; i < np; i++)
			before +=
			    strcmp(ls_placement_owner_id(&a, i), grower) == 0;
		assert_int_equal(ls_ring_remove_node(r, grower), LS_OK);
		assert_int_equal(ls_ring_add_node(r, grower, 3), LS_OK);
		assert_int_equal(
		    ls_ring_rebalance(r, &a, cv(&parts), np, 2, &b), LS_OK);
		check_placement(&b, np, n, 2);
		for (size_t i = 0; i < np; i++) {
			const char *now = ls_placement_owner_id(&b, i);
			after += strcmp(now, grower) == 0;
			/* It never gives anything away. */
			if (strcmp(ls_placement_owner_id(&a, i), grower) == 0)
				assert_string_equal(now, grower);
		}
		double share = 3.0 * (double)np / (double)(n + 2);
		assert_true((double)after >= 0.5 * share);
		assert_true(after > before);
		assert_int_equal(ls_placement_diff_of(&a, &b, &d), LS_OK);
		/* Ideal movement: after - before; allow a small multiple. */
		assert_true(d.owners_moved <= 3 * (after - before) + 2);
		sum += (double)d.owners_moved / (double)(after - before);
		ls_placement_fini(&a);
		ls_placement_fini(&b);
		ls_ring_free(r);
		names_free(&nodes);
		names_free(&parts);
	}
	printf("weight 1 -> 3: owners moved = %.2f x the grower's gain\n",
	       sum / (SEEDS / 4));
}

/* A chain of joins and leaves keeps every invariant. */
static void
test_churn(void **state)
{
	uint64_t s = 8;
	names parts;
	char id[32];
	int next = 0;
	ls_placement cur;
	ls_ring *r = NULL;
	size_t lost = 0, promoted = 0;

	(void)state;
	names_parts(&parts, 640, 64);
	assert_int_equal(ls_ring_new(&r), LS_OK);
	for (; next < 5; next++) {
		snprintf(id, sizeof(id), "n%d", next);
		assert_int_equal(ls_ring_add_node(r, id, 1), LS_OK);
	}
	assert_int_equal(ls_ring_place(r, cv(&parts), 640, 3, &cur), LS_OK);
	for (int step = 0; step < SEEDS; step++) {
		size_t n = ls_ring_node_count(r);
		int leave = n > 3 && (n > 25 || rnd(&s) % 2);
		if (leave) {
			size_t k = rnd_in(&s, 0, (uint32_t)n - 1);
			snprintf(id, sizeof(id), "%s",
			         ls_ring_node_id(r, k, NULL));
			assert_int_equal(ls_ring_remove_node(r, id), LS_OK);
		} else {
			snprintf(id, sizeof(id), "n%d", next++);
			assert_int_equal(
			    ls_ring_add_node(r, id, rnd_in(&s, 1, 2)), LS_OK);
		}
		ls_placement nxt;
		assert_int_equal(
		    ls_ring_rebalance(r, &cur, cv(&parts), 640, 3, &nxt),
		    LS_OK);
		check_placement(&nxt, 640, ls_ring_node_count(r), 3);
		/* After churn the standbys are no longer simply the next nodes
		 * clockwise; a lost owner must still go to one of them. */
		for (size_t i = 0; leave && i < 640; i++) {
			if (strcmp(ls_placement_owner_id(&cur, i), id) != 0)
				continue;
			lost++;
			promoted += (size_t)is_standby(
			    &cur, i, ls_placement_owner_id(&nxt, i));
		}
		ls_placement_fini(&cur);
		cur = nxt;
	}
	printf("churn: %zu of %zu lost owners replaced by a standby\n",
	       promoted, lost);
	/* Measured 84 % (69 % without the promotion rule): the rest had
	 * every standby at its owner bound.  The seed is fixed. */
	assert_true(lost > 500);
	assert_true(promoted >= lost * 4 / 5);
	ls_placement_fini(&cur);
	ls_ring_free(r);
	names_free(&parts);
}

/* 1,000 partitions over 100 nodes: measured, printed, not asserted. */
static void
test_scale_1000_over_100(void **state)
{
	names nodes, parts;
	ls_placement p;
	ls_placement_load l;
	struct timespec t0, t1;
	const int reps = 20;

	(void)state;
	names_nodes(&nodes, 100, 42);
	names_parts(&parts, 1000, 100);
	ls_ring *r = ring_of(&nodes, NULL);
	/* The first placement also builds the ring (12,800 vnodes). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ls_ring_place(r, cv(&parts), 1000, 3, &p), LS_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double first = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	               (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	check_placement(&p, 1000, 100, 3);
	ls_placement_load_of(&p, &l);
	assert_true(l.max_owned <= 13);
	ls_placement_fini(&p);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < reps; i++) {
		assert_int_equal(ls_ring_place(r, cv(&parts), 1000, 3, &p),
		                 LS_OK);
		ls_placement_fini(&p);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double each = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	               (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) /
	              reps;
	printf("placement of 1000 partitions (R=3) over 100 nodes: %.3f ms "
	       "with ring build, %.3f ms per placement; max/avg %.2f "
	       "(bound %u)\n",
	       first, each, l.max_owned / l.avg_owned, 13u);
	ls_ring_free(r);
	names_free(&nodes);
	names_free(&parts);
}

/* ---- out of memory ---- */

/*
 * Allocation-failure sweep: the n-th allocation fails, for every n until a
 * whole scenario succeeds.  Each call returns LS_OK or LS_ENOMEM and nothing
 * leaks.  The hook replaces malloc and friends in this executable; under
 * sanitizers or valgrind (their allocators win) the test skips.
 */
#include "../alloc_fail.h"

#if defined(LS_HAVE_MALLOC_HOOK)

/* One scenario under a failure budget: build a ring, place, rebalance after
 * a join, diff.  Returns the first error or LS_OK. */
static int
oom_scenario(long n, const names *parts)
{
	ls_ring *r = NULL;
	ls_placement a, b;
	ls_placement_diff d;
	char id[16];
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	fail_after = n;
	rc = ls_ring_new(&r);
	for (int i = 0; rc == LS_OK && i < 12; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		rc = ls_ring_add_node(r, id, 1);
		if (rc == LS_ENOMEM) {
			/* Unchanged on error: retrying without a budget
			 * succeeds and the count is exact. */
			long keep = fail_after;
			fail_after = -1;
			assert_int_equal(ls_ring_node_count(r), (size_t)i);
			assert_int_equal(ls_ring_add_node(r, id, 1), LS_OK);
			assert_int_equal(ls_ring_node_count(r), (size_t)i + 1);
			fail_after = keep;
			rc = LS_OK;
		}
	}
	if (rc == LS_OK)
		rc = ls_ring_place(r, cv(parts), parts->n, 3, &a);
	if (rc == LS_OK)
		rc = ls_ring_add_node(r, "joiner", 2);
	if (rc == LS_OK) {
		rc = ls_ring_rebalance(r, &a, cv(parts), parts->n, 3, &b);
		if (rc != LS_OK)
			assert_null(b.owner); /* zeroed on error */
	}
	if (rc == LS_OK)
		rc = ls_placement_diff_of(&a, &b, &d);
	fail_after = -1;
	ls_placement_fini(&a);
	ls_placement_fini(&b);
	ls_ring_free(r);
	return rc;
}

static int
oom_run(long n, void *arg)
{
	return oom_scenario(n, arg);
}

static void
test_out_of_memory(void **state)
{
	names parts;

	(void)state;
	if (!alloc_fail_works())
		skip(); /* valgrind's allocator wins */
	names_parts(&parts, 60, 20);
	long points = alloc_fail_sweep(oom_run, &parts, LS_ENOMEM);
	assert_true(points > 0);
	printf("out of memory: %ld failure points, each returned LS_ENOMEM "
	       "and leaked nothing\n",
	       points);
	names_free(&parts);
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
	    cmocka_unit_test(test_arguments),
	    cmocka_unit_test(test_consistent_hashing_property),
	    cmocka_unit_test(test_distribution_equal_weights),
	    cmocka_unit_test(test_weights),
	    cmocka_unit_test(test_determinism),
	    cmocka_unit_test(test_join_movement),
	    cmocka_unit_test(test_leave_movement),
	    cmocka_unit_test(test_rebalance_partition_set),
	    cmocka_unit_test(test_weight_growth),
	    cmocka_unit_test(test_churn),
	    cmocka_unit_test(test_scale_1000_over_100),
	    cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
