/*
 * metrics_test.c -- the Prometheus registry and the structured logger.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/log.h"
#include "runtime/metrics.h"

static void
collect(void *arg, ls_metrics *m)
{
	int *calls = arg;
	(*calls)++;
	ls_metric_set(ls_metrics_gauge(m, "ls_up", "Up.", NULL), 1);
}

static void
test_export(void **unused)
{
	(void)unused;
	ls_metrics *m;
	char *out;
	size_t len;
	int calls = 0;

	assert_int_equal(ls_metrics_new(&m), 0);
	_Atomic int64_t *a = ls_metrics_counter(m, "ls_events_total",
	    "Events.", "stage=\"parse\"");
	_Atomic int64_t *b = ls_metrics_counter(m, "ls_events_total",
	    "Events.", "stage=\"window\"");
	assert_true(a != b);
	assert_true(a == ls_metrics_counter(m, "ls_events_total", "Events.",
	                     "stage=\"parse\""));
	ls_metric_add(a, 5);
	ls_metric_add(b, 7);
	ls_metric_add(a, 1);
	assert_int_equal(ls_metrics_on_collect(m, collect, &calls), 0);
	assert_int_equal(ls_metrics_export(m, &out, &len), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(strlen(out), len);
	assert_non_null(strstr(out,
	    "# HELP ls_events_total Events.\n# TYPE ls_events_total counter\n"
	    "ls_events_total{stage=\"parse\"} 6\n"
	    "ls_events_total{stage=\"window\"} 7\n"));
	assert_non_null(strstr(out, "# TYPE ls_up gauge\nls_up 1\n"));
	/* one HELP per name */
	assert_null(strstr(strstr(out, "# HELP ls_events_total") + 1,
	    "# HELP ls_events_total"));
	free(out);
	ls_metrics_free(m);
}

static void
test_log_logfmt_and_json(void **unused)
{
	(void)unused;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ls_log_set_output(f);
	ls_log_set_level(LS_LOG_INFO);
	ls_log_set_json(0);
	ls_log(LS_LOG_DEBUG, "test", "hidden");
	ls_log(LS_LOG_WARN, "test", "actor failed \"badly\" kind=window id=%d",
	    42);
	ls_log_set_json(1);
	ls_log(LS_LOG_ERROR, "node", "gave up err=%s", "LS_EIO");
	fflush(f);
	assert_null(strstr(buf, "hidden"));
	assert_non_null(strstr(buf, " level=warn mod=test msg=\"actor failed "
	                            "\\\"badly\\\"\" kind=window id=42\n"));
	assert_non_null(strstr(buf, "\"level\":\"error\",\"mod\":\"node\","
	                            "\"msg\":\"gave up\",\"err\":\"LS_EIO\"}\n"));
	assert_true(strncmp(buf, "ts=", 3) == 0);
	ls_log_set_output(NULL);
	fclose(f);
	free(buf);
	assert_int_equal(ls_log_level_parse("debug"), LS_LOG_DEBUG);
	assert_int_equal(ls_log_level_parse("WARNING"), LS_LOG_WARN);
	assert_int_equal(ls_log_level_parse("loud"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_log_logfmt_and_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
