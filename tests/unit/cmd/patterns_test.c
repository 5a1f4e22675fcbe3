/*
 * patterns_test.c -- the template miner scored on the eight Loghub 2k
 * samples (cmd/patterns_cmd.h): every line of X_2k.log parsed with format
 * auto, its message mined, and the templates compared with the EventId
 * column of X_2k.log_structured.csv by the Loghub benchmark's grouping
 * accuracy.  One configuration (the defaults) for every system; each
 * system has a floor slightly below what the miner reaches, and so does
 * the average, so a change that loses accuracy fails here.  Without the
 * dataset directory the Loghub test is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cmd/patterns_cmd.h"

#ifndef LS_DATASETS_DIR
#define LS_DATASETS_DIR ""
#endif

static void
test_grouping_accuracy(void **state)
{
	/* Truth: {0,1,2} {3} {4,5}.  Predicted: {0,1,2} right, {3,4} and
	 * {5} wrong (4 and 5 are split, 3 is joined to 4). */
	static const uint64_t truth[] = { 7, 7, 7, 8, 9, 9 };
	static const uint64_t pred[] = { 1, 1, 1, 2, 2, 3 };
	static const uint64_t same[] = { 5, 5, 5, 6, 4, 4 };
	static const uint64_t one[] = { 1, 1, 1, 1, 1, 1 };
	(void)state;
	assert_true(ls_grouping_accuracy(pred, truth, 6) == 0.5);
	assert_true(ls_grouping_accuracy(same, truth, 6) == 1.0);
	assert_true(ls_grouping_accuracy(one, truth, 6) == 0.0);
	assert_true(ls_grouping_accuracy(NULL, NULL, 0) == 1.0);
}

static const struct {
	const char *name;
	double floor;
} systems[] = {
	{ "Apache", 0.995 },  { "BGL", 0.980 },   { "HDFS", 0.995 },
	{ "Hadoop", 0.985 },  { "Linux", 0.745 }, { "OpenSSH", 0.990 },
	{ "Spark", 0.920 },   { "Zookeeper", 0.983 },
};

#define AVERAGE_FLOOR 0.950

static void
test_loghub(void **state)
{
	const char *d = getenv("LS_DATASETS_DIR");
	char log[4096], csv[4200], err[512];
	struct stat st;
	ls_patterns_cfg cfg;
	double sum = 0;
	size_t n = sizeof(systems) / sizeof(systems[0]);
	(void)state;
	if (d == NULL || d[0] == '\0')
		d = LS_DATASETS_DIR;
	snprintf(log, sizeof(log), "%s/loghub", d);
	if (stat(log, &st) != 0)
		skip();
	ls_patterns_cfg_default(&cfg);
	for (size_t i = 0; i < n; i++) {
		ls_loghub_score s;
		snprintf(log, sizeof(log), "%s/loghub/%s/%s_2k.log", d,
		    systems[i].name, systems[i].name);
		snprintf(csv, sizeof(csv), "%s_structured.csv", log);
		if (ls_loghub_score_files(log, csv, LS_FMT_AUTO, &cfg, &s, err,
		        sizeof(err)) != 0)
			fail_msg("%s: %s", systems[i].name, err);
		printf("%-10s %zu lines, %zu events, %zu templates, accuracy "
		       "%.4f (floor %.3f)\n", systems[i].name, s.lines,
		    s.events, s.templates, s.accuracy, systems[i].floor);
		assert_int_equal(s.lines, 2000);
		if (s.accuracy < systems[i].floor)
			fail_msg("%s: accuracy %.4f below %.3f",
			    systems[i].name, s.accuracy, systems[i].floor);
		sum += s.accuracy;
	}
	printf("average accuracy %.4f (floor %.3f)\n", sum / (double)n,
	    AVERAGE_FLOOR);
	assert_true(sum / (double)n >= AVERAGE_FLOOR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouping_accuracy),
		cmocka_unit_test(test_loghub),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
