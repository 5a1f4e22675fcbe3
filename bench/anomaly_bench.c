/*
 * anomaly_bench.c -- points per second through the anomaly detector
 * (actors/anomaly.h) on one core.
 *
 * 1. One key: 10 M points of a daily cycle with noise and spikes, 5
 *    minutes apart, through one detector (its ~2.6 KB of state stays in
 *    the L1/L2 cache).
 * 2. 10,000 keys: the same points dealt round robin to 10,000 detectors
 *    (26 MB of state, more than the caches hold), as a stage with many
 *    keys sees them.
 * Both are timed after every detector is past its warm-up, so that each
 * timed point goes through every step, the likelihood and alerts
 * included.
 * 3. Save + load of one state (a checkpoint of one key), per second.
 *
 * Sanity checks: every point is scored in [0,1], the single-key run
 * raises alerts at the planted spikes, and a saved state loads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/anomaly.h"
#include "bench/bench.h"

#define NVALUES (1 << 20)
#define PER_DAY 288
#define STEP_NS (300LL * 1000000000LL)
#define T0 (1388534400LL * 1000000000LL)

static double values[NVALUES];

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
make_values(void)
{
	uint64_t r = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < NVALUES; i++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		double noise = (double)(r >> 11) / 9007199254740992.0 - 0.5;
		values[i] = 50 + 20 * sin(2 * M_PI * (i % PER_DAY) / PER_DAY) +
		    4 * noise + (i % 50000 == 25000 ? 80 : 0);
	}
}

/* n points over nkeys detectors; returns points/s, counts alerts. */
static double
run(ls_anomaly *d, size_t nkeys, uint64_t n, uint64_t *alerts, int *bad)
{
	ls_anomaly_cfg cfg;
	ls_anomaly_cfg_default(&cfg);
	for (size_t k = 0; k < nkeys; k++)
		if (ls_anomaly_init(&d[k], &cfg, NULL, 0) != 0)
			*bad = 1;
	uint64_t na = 0;
	double sum = 0;
	size_t k = 0;
	/* Past the warm-up first (not timed): every point is then scored. */
	uint64_t warm = (uint64_t)(cfg.warmup + 1) * nkeys;
	for (uint64_t i = 0; i < warm; i++) {
		ls_anomaly_result r;
		ls_anomaly_update(&d[k], T0 + (int64_t)(i / nkeys) * STEP_NS,
		    values[i & (NVALUES - 1)], &r);
		if (++k == nkeys)
			k = 0;
	}
	double t0 = now_s();
	for (uint64_t i = warm; i < warm + n; i++) {
		ls_anomaly_result r;
		uint64_t step = i / nkeys;
		ls_anomaly_update(&d[k], T0 + (int64_t)step * STEP_NS,
		    values[i & (NVALUES - 1)], &r);
		na += r.alert;
		sum += r.score;
		if (!(r.score >= 0 && r.score <= 1))
			*bad = 1;
		if (++k == nkeys)
			k = 0;
	}
	double dt = now_s() - t0;
	if (!isfinite(sum))
		*bad = 1;
	*alerts = na;
	return (double)n / dt;
}

int
main(void)
{
	int runs = ls_bench_runs(5), bad = 0;
	uint64_t n = ls_bench_scaled(10000000, 100000);
	size_t nkeys = (size_t)ls_bench_scaled(10000, 10);
	double one[100], many[100], ckpt[100];
	uint64_t alerts = 0;

	make_values();
	ls_anomaly *d = malloc(nkeys * sizeof(*d));
	size_t cap = ls_anomaly_state_size();
	uint8_t *buf = malloc(cap);
	if (d == NULL || buf == NULL)
		return ls_bench_fail("anomaly", "out of memory");
	for (int r = 0; r < runs; r++) {
		one[r] = run(d, 1, n, &alerts, &bad);
		if (alerts == 0)
			return ls_bench_fail("anomaly",
			    "no alert at the %llu planted spikes",
			    (unsigned long long)(n / 50000));
		many[r] = run(d, nkeys, n, &alerts, &bad);
		uint64_t m = ls_bench_scaled(200000, 1000);
		double t0 = now_s();
		for (uint64_t i = 0; i < m; i++) {
			size_t len;
			if (ls_anomaly_save(&d[i % nkeys], buf, cap, &len) != 0 ||
			    ls_anomaly_load(&d[i % nkeys], buf, len) != 0)
				bad = 1;
		}
		ckpt[r] = (double)m / (now_s() - t0);
	}
	if (bad)
		return ls_bench_fail("anomaly", "a score out of [0,1], or a "
		                     "state that did not load");
	ls_bench_print_rate("anomaly, 1 key (1 core)", one, runs, "points/s");
	char name[64];
	snprintf(name, sizeof(name), "anomaly, %zu keys (1 core)", nkeys);
	ls_bench_print_rate(name, many, runs, "points/s");
	ls_bench_print_rate("anomaly state save+load", ckpt, runs, "states/s");
	ls_bench_print("anomaly state size", "%zu bytes saved, %zu in memory",
	    cap, sizeof(ls_anomaly));
	free(d);
	free(buf);
	return 0;
}
