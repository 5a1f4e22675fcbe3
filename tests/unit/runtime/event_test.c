/*
 * event_test.c -- event fields, attributes, levels and numeric fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/err.h"
#include "runtime/event.h"

static void
test_fields_and_attrs(void **unused)
{
	(void)unused;
	ls_event ev;
	ls_str v;
	double d;

	ls_event_clear(&ev);
	assert_true(ev.time_ns == LS_TIME_UNKNOWN);
	ev.service = ls_str_c("api");
	ev.level = LS_LEVEL_WARN;
	assert_int_equal(ls_event_add_attr(&ev, ls_str_c("latency_ms"),
	                     ls_str_c("12.5")),
	    0);
	assert_int_equal(
	    ls_event_add_attr(&ev, ls_str_c("user"), ls_str_c("u1")), 0);
	assert_int_equal(ls_event_field(&ev, "service", 7, &v), 1);
	assert_true(ls_str_eq(v, "api"));
	assert_int_equal(ls_event_field(&ev, "level", 5, &v), 1);
	assert_true(ls_str_eq(v, "WARN"));
	assert_int_equal(ls_event_field(&ev, "user", 4, &v), 1);
	assert_true(ls_str_eq(v, "u1"));
	assert_int_equal(ls_event_field(&ev, "host", 4, &v), 0);
	assert_int_equal(v.len, 0);
	assert_int_equal(ls_event_field(&ev, "nope", 4, &v), 0);
	assert_int_equal(ls_event_number(&ev, "latency_ms", 10, &d), 1);
	assert_true(d == 12.5);
	assert_int_equal(ls_event_number(&ev, "user", 4, &d), 0);
	assert_int_equal(ls_event_number(&ev, "time", 4, &d), 0);
	ev.time_ns = 1500000000;
	assert_int_equal(ls_event_number(&ev, "time", 4, &d), 1);
	assert_true(d == 1.5);
	for (int i = 2; i < LS_EVENT_MAX_ATTRS; i++)
		assert_int_equal(
		    ls_event_add_attr(&ev, ls_str_c("k"), ls_str_c("v")), 0);
	assert_int_equal(ls_event_add_attr(&ev, ls_str_c("k"), ls_str_c("v")),
	    LS_ERANGE);
	assert_int_equal(ev.nattrs, LS_EVENT_MAX_ATTRS);
}

static void
test_levels(void **unused)
{
	(void)unused;
	assert_int_equal(ls_level_parse("INFO", 4), LS_LEVEL_INFO);
	assert_int_equal(ls_level_parse("warning", 7), LS_LEVEL_WARN);
	assert_int_equal(ls_level_parse("Err", 3), LS_LEVEL_ERROR);
	assert_int_equal(ls_level_parse("SEVERE", 6), LS_LEVEL_FATAL);
	assert_int_equal(ls_level_parse("crit", 4), LS_LEVEL_FATAL);
	assert_int_equal(ls_level_parse("notice", 6), LS_LEVEL_NOTICE);
	assert_int_equal(ls_level_parse("combo", 5), LS_LEVEL_UNKNOWN);
	assert_int_equal(ls_level_parse("", 0), LS_LEVEL_UNKNOWN);
	assert_int_equal(ls_level_parse("averyveryverylongword", 21),
	    LS_LEVEL_UNKNOWN);
	assert_string_equal(ls_level_name(LS_LEVEL_ERROR), "ERROR");
	assert_string_equal(ls_level_name(99), "UNKNOWN");
	assert_true(LS_LEVEL_ERROR > LS_LEVEL_WARN);
}

static void
test_errors(void **unused)
{
	(void)unused;
	assert_string_equal(ls_errname(LS_ENOMEM), "LS_ENOMEM");
	assert_string_equal(ls_strerror(LS_EAGAIN),
	    "resource temporarily full, try again");
	assert_string_equal(ls_strerror(0), "success");
	assert_string_equal(ls_errname(-1), "LS_EUNKNOWN");
	assert_string_equal(ls_strerror(LS_ERRNO_MAX), "unknown error");
	for (int e = 1; e < LS_ERRNO_MAX; e++)
		assert_true(strncmp(ls_errname(e), "LS_E", 4) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_and_attrs),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
