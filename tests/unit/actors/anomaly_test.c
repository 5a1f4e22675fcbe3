/*
 * anomaly_test.c -- the online anomaly detector (actors/anomaly.h).
 *
 * Synthetic series (Gaussian noise from a seeded generator, a daily cycle
 * sampled every 5 minutes) with one known spike, level shift or break of
 * the seasonal pattern must raise exactly one alert, at that place; the
 * artificialNoAnomaly series of the NAB corpus must raise none.  A state
 * saved mid-series and loaded into another detector must give bit-identical
 * results from there on, and the loader must refuse every malformed state.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/anomaly.h"
#include "actors/timefmt.h"
#include "runtime/err.h"

#ifndef LS_DATASETS_DIR
#define LS_DATASETS_DIR ""
#endif

#define STEP_NS (300LL * 1000000000LL) /* 5 minutes */
#define T0 (1388534400LL * 1000000000LL) /* 2014-01-01 00:00 UTC */
#define PER_DAY 288

/* xorshift64* and Box-Muller: the same noise on every machine. */
static uint64_t rng_state;

static double
uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static double
gauss(void)
{
	double u = uniform(), v = uniform();
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static ls_anomaly
fresh(void)
{
	ls_anomaly_cfg cfg;
	ls_anomaly d;
	ls_anomaly_cfg_default(&cfg);
	assert_int_equal(ls_anomaly_init(&d, &cfg, NULL, 0), 0);
	return d;
}

/* Run d over v[0..n) (point i at T0 + i * STEP_NS); store the indexes of
 * alerts in at[] (up to max) and return how many were raised. */
static size_t
run(ls_anomaly *d, const double *v, size_t n, size_t *at, size_t max,
    ls_anomaly_result *last_alert)
{
	size_t na = 0;
	for (size_t i = 0; i < n; i++) {
		ls_anomaly_result r;
		ls_anomaly_update(d, T0 + (int64_t)i * STEP_NS, v[i], &r);
		assert_true(r.score >= 0.0 && r.score <= 1.0);
		if (r.alert) {
			if (na < max)
				at[na] = i;
			if (last_alert != NULL)
				*last_alert = r;
			na++;
		}
	}
	return na;
}

#define N 4000

static double series[N];

static void
noise(double mean, double sd, uint64_t seed)
{
	rng_state = seed;
	for (int i = 0; i < N; i++)
		series[i] = mean + sd * gauss();
}

static void
test_noise_raises_nothing(void **st)
{
	(void)st;
	for (uint64_t seed = 1; seed <= 5; seed++) {
		noise(50, 2, seed * 7919);
		ls_anomaly d = fresh();
		size_t at[4];
		size_t na = run(&d, series, N, at, 4, NULL);
		if (na != 0)
			fail_msg("seed %llu: %zu alerts, first at %zu",
			    (unsigned long long)seed, na, at[0]);
	}
}

/* One point 10 sds up: one alert, at that point, saying what was
 * expected. */
static void
test_spike(void **st)
{
	(void)st;
	noise(50, 2, 42);
	series[2500] = 70;
	ls_anomaly d = fresh();
	size_t at[4];
	ls_anomaly_result r;
	assert_int_equal(run(&d, series, N, at, 4, &r), 1);
	assert_int_equal(at[0], 2500);
	assert_true(r.expected_hi < 70 && r.expected_lo < 50 &&
	    r.expected_hi > 50);
	assert_true(r.detector != LS_ANOMALY_NONE);
	assert_true(r.score >= 0.4 && r.active == 1);
	/* Down as well as up. */
	noise(50, 2, 43);
	series[3000] = 30;
	d = fresh();
	assert_int_equal(run(&d, series, N, at, 4, NULL), 1);
	assert_int_equal(at[0], 3000);
}

/* The mean moves by 3 sds and stays: one alert, within a few points,
 * however long the new level lasts (de-duplicated). */
static void
test_level_shift(void **st)
{
	(void)st;
	noise(50, 2, 4242);
	for (int i = 2000; i < N; i++)
		series[i] += 6;
	ls_anomaly d = fresh();
	size_t at[4];
	assert_int_equal(run(&d, series, N, at, 4, NULL), 1);
	assert_true(at[0] >= 2000 && at[0] <= 2010);
	/* A flat line that steps. */
	for (int i = 0; i < N; i++)
		series[i] = i < 3000 ? 10.0 : 12.0;
	d = fresh();
	assert_int_equal(run(&d, series, N, at, 4, NULL), 1);
	assert_int_equal(at[0], 3000);
}

/* A daily cycle of amplitude 20 with noise 1.  The cycle alone raises
 * nothing; an afternoon at night-time values, inside the overall range,
 * raises one alert where it starts, from the seasonal baseline. */
static void
daily(uint64_t seed)
{
	rng_state = seed;
	for (int i = 0; i < N; i++)
		series[i] = 50 + 20 * sin(2 * M_PI * (i % PER_DAY) / PER_DAY) +
		    gauss();
}

static void
test_seasonality(void **st)
{
	(void)st;
	daily(99);
	ls_anomaly d = fresh();
	size_t at[4];
	assert_int_equal(run(&d, series, N, at, 4, NULL), 0);

	daily(99);
	/* Day 12, from 6:00 (the cycle's peak) for two hours: the values of
	 * the trough, 30, which the series takes every night. */
	int from = 12 * PER_DAY + PER_DAY / 4;
	for (int i = from; i < from + 24; i++)
		series[i] = 30 + gauss();
	d = fresh();
	ls_anomaly_result r;
	assert_int_equal(run(&d, series, N, at, 4, &r), 1);
	assert_true(at[0] >= (size_t)from && at[0] <= (size_t)from + 3);
	assert_int_equal(r.detector, LS_ANOMALY_SEASONAL);
	assert_true(r.expected_lo > 40 && r.expected_hi < 100);
}

/* The minimum duration holds back a one-point spike; the cool-down
 * keeps a second spike soon after the first from alerting again. */
static void
test_duration_and_cooldown(void **st)
{
	(void)st;
	ls_anomaly_cfg cfg;
	ls_anomaly d;
	size_t at[4];

	noise(50, 2, 7);
	series[2500] = 80;
	ls_anomaly_cfg_default(&cfg);
	cfg.min_duration = 10;
	assert_int_equal(ls_anomaly_init(&d, &cfg, NULL, 0), 0);
	assert_int_equal(run(&d, series, N, at, 4, NULL), 0);

	series[2550] = 80; /* within the default cool-down of the first */
	d = fresh();
	assert_int_equal(run(&d, series, N, at, 4, NULL), 1);
	assert_int_equal(at[0], 2500);
	series[3500] = 80; /* long after */
	d = fresh();
	assert_int_equal(run(&d, series, N, at, 4, NULL), 2);
	assert_int_equal(at[1], 3500);
}

static void
test_warmup_and_bad_values(void **st)
{
	(void)st;
	ls_anomaly d = fresh();
	ls_anomaly_result r;
	for (int i = 0; i < 300; i++) {
		ls_anomaly_update(&d, T0 + i * STEP_NS, i == 200 ? 1e6 : 1.0,
		    &r);
		assert_true(r.score == 0.0 && r.alert == 0);
	}
	ls_anomaly before;
	memcpy(&before, &d, sizeof(d));
	ls_anomaly_update(&d, T0 + 300 * STEP_NS, NAN, &r);
	assert_true(r.score == 0.0 && r.alert == 0);
	ls_anomaly_update(&d, T0 + 300 * STEP_NS, INFINITY, &r);
	assert_true(memcmp(&before, &d, sizeof(d)) == 0);
}

static void
test_bad_config(void **st)
{
	(void)st;
	ls_anomaly_cfg cfg;
	ls_anomaly d;
	char err[128];
	memset(&d, 0x5a, sizeof(d));
	ls_anomaly before;
	memcpy(&before, &d, sizeof(d));

	ls_anomaly_cfg_default(&cfg);
	cfg.ewma_alpha = 1.5;
	assert_int_equal(ls_anomaly_init(&d, &cfg, err, sizeof(err)), LS_EINVAL);
	assert_non_null(strstr(err, "ewma_alpha"));
	ls_anomaly_cfg_default(&cfg);
	cfg.lik_short = 0;
	assert_int_equal(ls_anomaly_init(&d, &cfg, err, sizeof(err)), LS_EINVAL);
	assert_non_null(strstr(err, "lik_short"));
	ls_anomaly_cfg_default(&cfg);
	cfg.alert_off = 0.9;
	assert_int_equal(ls_anomaly_init(&d, &cfg, err, sizeof(err)), LS_EINVAL);
	assert_non_null(strstr(err, "alert_off"));
	ls_anomaly_cfg_default(&cfg);
	cfg.zscore_alpha = NAN;
	assert_int_equal(ls_anomaly_init(&d, &cfg, NULL, 0), LS_EINVAL);
	assert_true(memcmp(&before, &d, sizeof(d)) == 0);
}

/* Save at several points of a seasonal series with a shift; the loaded
 * copy and the original give identical results to the end. */
static void
test_save_load_round_trip(void **st)
{
	(void)st;
	daily(5);
	for (int i = 3000; i < N; i++)
		series[i] += 15;
	size_t size = ls_anomaly_state_size();
	uint8_t *buf = malloc(size);
	assert_non_null(buf);
	static const size_t cuts[] = { 0, 1, 150, 299, 301, 1000, 2999, 3001,
		3100 };
	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		ls_anomaly a = fresh(), b;
		ls_anomaly_result ra, rb;
		for (size_t i = 0; i < cuts[c]; i++)
			ls_anomaly_update(&a, T0 + (int64_t)i * STEP_NS,
			    series[i], &ra);
		size_t len = 0;
		assert_int_equal(ls_anomaly_save(&a, buf, size - 1, &len),
		    LS_ERANGE);
		assert_int_equal(ls_anomaly_save(&a, buf, size, &len), 0);
		assert_int_equal(len, size);
		memset(&b, 0, sizeof(b));
		assert_int_equal(ls_anomaly_load(&b, buf, len), 0);
		for (size_t i = cuts[c]; i < N; i++) {
			int64_t t = T0 + (int64_t)i * STEP_NS;
			ls_anomaly_update(&a, t, series[i], &ra);
			ls_anomaly_update(&b, t, series[i], &rb);
			if (memcmp(&ra, &rb, sizeof(ra)) != 0)
				fail_msg("cut %zu: results differ at %zu "
				         "(%.17g vs %.17g)", cuts[c], i,
				    ra.score, rb.score);
		}
	}
	free(buf);
}

static void
test_load_rejects(void **st)
{
	(void)st;
	size_t size = ls_anomaly_state_size(), len;
	uint8_t *buf = malloc(size), *bad = malloc(size);
	assert_non_null(buf);
	assert_non_null(bad);
	daily(11);
	ls_anomaly a = fresh(), b;
	run(&a, series, 2000, NULL, 0, NULL);
	assert_int_equal(ls_anomaly_save(&a, buf, size, &len), 0);
	assert_memory_equal(buf, LS_ANOMALY_MAGIC, 4);

	b = fresh();
	ls_anomaly before;
	memcpy(&before, &b, sizeof(b));
	assert_int_equal(ls_anomaly_load(&b, NULL, 0), LS_ECORRUPT);
	assert_int_equal(ls_anomaly_load(&b, buf, size - 1), LS_ECORRUPT);
	/* Any change to the 12 header bytes is refused. */
	for (size_t i = 0; i < 12; i++) {
		memcpy(bad, buf, size);
		bad[i] ^= 0x01;
		assert_int_equal(ls_anomaly_load(&b, bad, size), LS_ECORRUPT);
	}
	/* Fields out of range: a NaN mean (the first moment after the
	 * config, n, t_first and t_last), lik_short 0, an infinite bin. */
	size_t cfg_len = 4 * 4 + 8 + 8 * 12;
	size_t lng = 12 + cfg_len + 8 + 8 + 8;
	double nan = NAN, inf = INFINITY;
	memcpy(bad, buf, size);
	memcpy(bad + lng, &nan, 8);
	assert_int_equal(ls_anomaly_load(&b, bad, size), LS_ECORRUPT);
	memcpy(bad, buf, size);
	memset(bad + 12 + 4, 0, 4);
	assert_int_equal(ls_anomaly_load(&b, bad, size), LS_ECORRUPT);
	memcpy(bad, buf, size);
	size_t bin0 = lng + 16 + 8 + 24 + 8 + 16 + 8 + 16;
	memcpy(bad + bin0, &inf, 8);
	assert_int_equal(ls_anomaly_load(&b, bad, size), LS_ECORRUPT);
	/* A negative variance. */
	memcpy(bad, buf, size);
	double neg = -1.0;
	memcpy(bad + lng + 8, &neg, 8);
	assert_int_equal(ls_anomaly_load(&b, bad, size), LS_ECORRUPT);
	assert_true(memcmp(&before, &b, sizeof(b)) == 0);
	/* The unchanged state still loads. */
	assert_int_equal(ls_anomaly_load(&b, buf, size), 0);
	free(buf);
	free(bad);
}

/* ---- the artificialNoAnomaly series of NAB ---- */

static const char *
datasets(void)
{
	const char *d = getenv("LS_DATASETS_DIR");
	return d != NULL && d[0] != '\0' ? d : LS_DATASETS_DIR;
}

static void
test_nab_no_anomaly(void **st)
{
	(void)st;
	static const char *const files[] = {
		"art_daily_no_noise.csv", "art_daily_perfect_square_wave.csv",
		"art_daily_small_noise.csv", "art_flatline.csv",
		"art_noisy.csv",
	};
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[1024], line[256];
		snprintf(path, sizeof(path), "%s/nab/artificialNoAnomaly/%s",
		    datasets(), files[f]);
		FILE *in = fopen(path, "r");
		if (in == NULL)
			fail_msg("%s: cannot open", path);
		assert_non_null(fgets(line, sizeof(line), in)); /* header */
		ls_anomaly d = fresh();
		size_t rows = 0, alerts = 0;
		while (fgets(line, sizeof(line), in) != NULL) {
			char *comma = strchr(line, ',');
			assert_non_null(comma);
			int64_t ns;
			size_t used;
			assert_int_equal(ls_timefmt_iso8601(line,
			                     (size_t)(comma - line), &ns, &used), 0);
			ls_anomaly_result r;
			ls_anomaly_update(&d, ns, strtod(comma + 1, NULL), &r);
			if (r.alert)
				fail_msg("%s: alert at row %zu (%s, score %.3f)",
				    files[f], rows,
				    ls_anomaly_detector_name(r.detector), r.score);
			alerts += r.alert;
			rows++;
		}
		fclose(in);
		assert_int_equal(rows, 4032);
		assert_int_equal(alerts, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_noise_raises_nothing),
		cmocka_unit_test(test_spike),
		cmocka_unit_test(test_level_shift),
		cmocka_unit_test(test_seasonality),
		cmocka_unit_test(test_duration_and_cooldown),
		cmocka_unit_test(test_warmup_and_bad_values),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_save_load_round_trip),
		cmocka_unit_test(test_load_rejects),
		cmocka_unit_test(test_nab_no_anomaly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
