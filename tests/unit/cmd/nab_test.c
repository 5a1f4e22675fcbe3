/*
 * nab_test.c -- the NAB scorer (cmd/nab.h) on hand-computed cases, and the
 * labels file parser.
 *
 * The corpus of most cases is one file of 1,000 rows a minute apart with
 * one window over rows 400..499 (width 100); its probationary period is
 * rows 0..149 (15%).  Expected values were computed by hand from NAB's
 * formulas: a detection at relative position x in a window is worth
 * (2/(1+exp(5x)) - 1) / maxTP with maxTP = 2/(1+exp(-5)) - 1 = 0.98661,
 * x = -(right - i + 1) / width; the null detector scores -A_FN per window.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/nab.h"
#include "runtime/err.h"

#define ROWS 1000
#define MIN_NS (60LL * 1000000000LL)
#define T0 (1400000000LL * 1000000000LL)

static int64_t ts[ROWS];
static double sc[ROWS];
static const ls_nab_window one_window[1] = {
	{ T0 + 400 * MIN_NS, T0 + 499 * MIN_NS }
};

static ls_nab_file
corpus(void)
{
	for (int i = 0; i < ROWS; i++)
		ts[i] = T0 + i * MIN_NS;
	return (ls_nab_file){ "f.csv", ROWS, ts, sc, 1, one_window };
}

static void
clear_scores(void)
{
	memset(sc, 0, sizeof(sc));
}

static const ls_nab_profile *standard = &ls_nab_profiles[0];
static const ls_nab_profile *low_fp = &ls_nab_profiles[1];
static const ls_nab_profile *low_fn = &ls_nab_profiles[2];

static ls_nab_result
best(const ls_nab_profile *p)
{
	ls_nab_file f = corpus();
	ls_nab_result r;
	assert_int_equal(ls_nab_score(&f, 1, p, &r), 0);
	return r;
}

static void
test_profiles(void **st)
{
	(void)st;
	assert_string_equal(standard->name, "standard");
	assert_true(standard->tp == 1.0 && standard->fp == 0.11 &&
	    standard->tn == 1.0 && standard->fn == 1.0);
	assert_string_equal(low_fp->name, "reward_low_FP_rate");
	assert_true(low_fp->tp == 1.0 && low_fp->fp == 0.22 &&
	    low_fp->fn == 1.0);
	assert_string_equal(low_fn->name, "reward_low_FN_rate");
	assert_true(low_fn->tp == 1.0 && low_fn->fp == 0.11 &&
	    low_fn->fn == 2.0);
	assert_int_equal(ls_nab_probation(1000), 150);
	assert_int_equal(ls_nab_probation(4032), 604);
	assert_int_equal(ls_nab_probation(22695), 750); /* capped */
}

static void
test_sigmoid(void **st)
{
	(void)st;
	assert_true(fabs(ls_nab_scaled_sigmoid(-1.0) - 0.98661429815) < 1e-9);
	assert_true(fabs(ls_nab_scaled_sigmoid(-0.5) - 0.84828363996) < 1e-9);
	assert_true(ls_nab_scaled_sigmoid(0.0) == 0.0);
	assert_true(fabs(ls_nab_scaled_sigmoid(1.0) + 0.98661429815) < 1e-9);
	assert_true(ls_nab_scaled_sigmoid(3.0) == -1.0);
	assert_true(ls_nab_scaled_sigmoid(2.999) > -1.0);
}

/* Score 1 at the window's first row, 0 elsewhere: 100 in every profile. */
static void
test_perfect(void **st)
{
	(void)st;
	clear_scores();
	sc[400] = 1.0;
	for (int p = 0; p < LS_NAB_NPROFILES; p++) {
		ls_nab_result r = best(&ls_nab_profiles[p]);
		assert_true(fabs(r.raw - 1.0) < 1e-12);
		assert_true(fabs(r.score - 100.0) < 1e-9);
		assert_true(r.threshold == 1.0);
		assert_int_equal(r.tp, 1);
		assert_int_equal(r.fp, 0);
		assert_int_equal(r.fn, 0);
	}
	ls_nab_result r = best(standard);
	assert_true(r.null_raw == -1.0 && r.perfect == 1.0);
	assert_true(best(low_fn).null_raw == -2.0);
}

/* Never detects: 0 (the best threshold detects nothing). */
static void
test_null(void **st)
{
	(void)st;
	clear_scores();
	for (int p = 0; p < LS_NAB_NPROFILES; p++) {
		ls_nab_result r = best(&ls_nab_profiles[p]);
		assert_true(r.score == 0.0);
		assert_true(r.raw == -ls_nab_profiles[p].fn);
		assert_int_equal(r.tp, 0);
		assert_int_equal(r.fn, 1);
	}
}

/* Every row flagged: the window's first row is worth A_TP, rows 150..399
 * cost A_FP each (no window before them) and rows 500..999 A_FP times the
 * sigmoid of (i - 499) / 99: raw = 1 - 27.5 - 52.0354 = -78.5354 on
 * standard, normalised 100 (raw + 1) / 2 = -3876.77. */
static void
test_every_point(void **st)
{
	(void)st;
	for (int i = 0; i < ROWS; i++)
		sc[i] = 1.0;
	ls_nab_file f = corpus();
	ls_nab_result r;
	assert_int_equal(ls_nab_score_at(&f, 1, standard, 0.5, &r), 0);
	assert_true(fabs(r.raw - -78.535420761521) < 1e-6);
	assert_true(fabs(r.score - -3876.7710380760504) < 1e-4);
	assert_true(r.score < 0);
	assert_int_equal(r.tp, 1);
	assert_int_equal(r.fp, 750);
	assert_int_equal(ls_nab_score_at(&f, 1, low_fp, 0.5, &r), 0);
	assert_true(fabs(r.raw - -158.07084152304202) < 1e-6);
	/* The sweep instead picks 1.1, where nothing is detected: 0. */
	assert_true(best(standard).score == 0.0);
	clear_scores();
}

/* One detection at the window's start, middle and end. */
static void
test_position_in_window(void **st)
{
	(void)st;
	clear_scores();
	sc[400] = 1.0;
	double start = best(standard).score;
	clear_scores();
	sc[450] = 1.0; /* x = -0.5: 0.848284 / 0.986614 = 0.859793 */
	ls_nab_result mid = best(standard);
	assert_true(fabs(mid.raw - 0.8597925669097837) < 1e-9);
	assert_true(fabs(mid.score - 92.98962834548918) < 1e-6);
	clear_scores();
	sc[499] = 1.0; /* x = -0.01: 0.024995 / 0.986614 = 0.025334 */
	ls_nab_result end = best(standard);
	assert_true(fabs(end.raw - 0.025333905068325228) < 1e-9);
	assert_true(fabs(end.score - 51.26669525341626) < 1e-6);
	assert_true(start > mid.score && mid.score > end.score);
	assert_true(end.score > 50.0); /* late beats missed */
	clear_scores();
}

/* Only the earliest detection in a window counts, whatever its score. */
static void
test_first_detection_counts(void **st)
{
	(void)st;
	clear_scores();
	sc[400] = 1.0;
	sc[450] = 1.0;
	sc[499] = 1.0;
	ls_nab_result r = best(standard);
	assert_true(fabs(r.raw - 1.0) < 1e-12);
	assert_int_equal(r.tp, 1);
	clear_scores();
	/* The later one scores higher: at threshold 1 only it is detected,
	 * at 0.9 both, and the earlier then counts. */
	sc[450] = 1.0;
	sc[400] = 0.9;
	r = best(standard);
	assert_true(r.threshold == 0.9);
	assert_true(fabs(r.raw - 1.0) < 1e-12);
	clear_scores();
}

/* A false positive just after the window costs A_FP x the sigmoid of
 * 1/99 (-0.0027772); the probationary rows are not scored at all. */
static void
test_false_positives(void **st)
{
	(void)st;
	clear_scores();
	sc[400] = 1.0;
	sc[500] = 1.0;
	sc[100] = 1.0; /* probationary: ignored */
	ls_nab_result r = best(standard);
	assert_true(fabs(r.raw - (1.0 - 0.002777187474616506)) < 1e-12);
	assert_int_equal(r.fp, 1);
	clear_scores();
	/* Far from any window: the full A_FP; the sweep then prefers the
	 * threshold that drops it. */
	sc[400] = 0.9;
	sc[200] = 1.0;
	ls_nab_file f = corpus();
	assert_int_equal(ls_nab_score_at(&f, 1, standard, 0.9, &r), 0);
	assert_true(fabs(r.raw - (1.0 - 0.11)) < 1e-12);
	assert_int_equal(ls_nab_score_at(&f, 1, low_fp, 0.9, &r), 0);
	assert_true(fabs(r.raw - (1.0 - 0.22)) < 1e-12);
	r = best(standard);
	assert_true(r.threshold == 0.9);
	clear_scores();
}

/* Two files: windows are per file, the threshold is one for both. */
static void
test_corpus(void **st)
{
	(void)st;
	clear_scores();
	sc[400] = 1.0;
	static double sc2[ROWS];
	ls_nab_file f[2] = { corpus(), corpus() };
	f[1].score = sc2;
	sc2[400] = 0.5; /* the same window limits, another file */
	ls_nab_result r;
	assert_int_equal(ls_nab_score(f, 2, standard, &r), 0);
	assert_true(r.threshold == 0.5);
	assert_true(fabs(r.raw - 2.0) < 1e-12);
	assert_true(r.null_raw == -2.0 && r.perfect == 2.0);
	assert_true(fabs(r.score - 100.0) < 1e-9);
	assert_int_equal(r.tp, 2);
	/* No windows in the second file, a detection there is a FP. */
	f[1].nwin = 0;
	assert_int_equal(ls_nab_score_at(f, 2, standard, 0.5, &r), 0);
	assert_true(fabs(r.raw - (1.0 - 0.11)) < 1e-12);
	clear_scores();
}

static void
test_bad_windows(void **st)
{
	(void)st;
	clear_scores();
	ls_nab_file f = corpus();
	ls_nab_window w = { T0 + 5000 * MIN_NS, T0 + 5001 * MIN_NS };
	f.win = &w;
	ls_nab_result r;
	assert_int_equal(ls_nab_score(&f, 1, standard, &r), LS_EINVAL);
	w = (ls_nab_window){ T0 + 10 * MIN_NS + 1, T0 + 11 * MIN_NS - 1 };
	assert_int_equal(ls_nab_score(&f, 1, standard, &r), LS_EINVAL);
}

static void
test_labels(void **st)
{
	(void)st;
	const char *text =
	    "{\n \"a/x.csv\": [],\n \"a/y.csv\": [\n  [\n"
	    "   \"2014-04-10 07:15:00.000000\",\n"
	    "   \"2014-04-11 16:45:00.000000\"\n  ],\n"
	    "  [\"2014-04-12 00:00:00\", \"2014-04-12 01:00:00\"]\n ]\n}\n";
	ls_nab_labels l;
	char err[256];
	assert_int_equal(ls_nab_labels_parse("l.json", text, strlen(text), &l,
	                     err, sizeof(err)), 0);
	assert_int_equal(l.nfiles, 2);
	assert_string_equal(l.path[0], "a/x.csv");
	assert_string_equal(l.path[1], "a/y.csv");
	assert_int_equal(l.nwin[0], 0);
	assert_int_equal(l.nwin[1], 2);
	/* 2014-04-10 07:15:00 UTC = 1397114100 */
	assert_true(l.win[1][0].start_ns == 1397114100LL * 1000000000LL);
	assert_true(l.win[1][1].end_ns ==
	    (1397260800LL + 3600) * 1000000000LL);
	ls_nab_labels_free(&l);

	static const struct {
		const char *text;
		const char *err;
	} bad[] = {
		{ "", "l.json:1: expected '{'" },
		{ "{\"a\": [[\"2014-01-01 00:00:00\"]]}", "l.json:1: expected ','" },
		{ "{\n\"a\": [[\"2014-01-01\", \"2014-01-02 00:00:00\"]]}",
		    "l.json:2: bad timestamp '2014-01-01'" },
		{ "{\"a\": [[\"2014-01-02 00:00:00\", \"2014-01-01 00:00:00\"]]}",
		    "l.json:1: window ends before it starts" },
		{ "{\"a\": [[\"2014-01-01 00:00:00\", \"2014-01-03 00:00:00\"],"
		  "[\"2014-01-02 00:00:00\", \"2014-01-04 00:00:00\"]]}",
		    "l.json:1: windows overlap or out of order" },
		{ "{\"a\": []} x", "l.json:1: trailing bytes after the object" },
		{ "{\"a\": [], }", "l.json:1: expected '\"'" },
		{ "{\"a", "l.json:1: unterminated string" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = ls_nab_labels_parse("l.json", bad[i].text,
		    strlen(bad[i].text), &l, err, sizeof(err));
		if (rc != LS_EPARSE || strcmp(err, bad[i].err) != 0)
			fail_msg("case %zu: rc %d err '%s', want '%s'", i, rc,
			    err, bad[i].err);
		assert_int_equal(l.nfiles, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_sigmoid),
		cmocka_unit_test(test_perfect),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_every_point),
		cmocka_unit_test(test_position_in_window),
		cmocka_unit_test(test_first_detection_counts),
		cmocka_unit_test(test_false_positives),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_bad_windows),
		cmocka_unit_test(test_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
