/*
 * timefmt_test.c -- timestamp layouts (actors/timefmt.h).
 *
 * Expected instants are hand-computed Unix times (checked against an
 * independent calendar) written as literals; the calendar arithmetic is
 * checked day by day against a naive date increment over ±2,000 years.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/timefmt.h"
#include "runtime/err.h"

#define S(x) ((int64_t)(x)*1000000000LL)

typedef int (*prefix_fn)(const char *, size_t, int64_t *, size_t *);

/* Parse all of text with fn from an exact-size heap copy (so a read past
 * the end is caught by the sanitizers); returns the error code. */
static int
run(prefix_fn fn, const char *text, int64_t *ns, size_t *used)
{
	size_t n = strlen(text);
	char *copy = malloc(n != 0 ? n : 1);

	assert_non_null(copy);
	memcpy(copy, text, n);
	int rc = fn(copy, n, ns, used);
	free(copy);
	return rc;
}

static void
expect_ok(prefix_fn fn, const char *text, int64_t want, size_t want_used)
{
	int64_t ns = 0;
	size_t used = 0;

	int rc = run(fn, text, &ns, &used);
	if (rc != 0)
		fail_msg("'%s': rc %d", text, rc);
	if (ns != want)
		fail_msg("'%s': got %lld want %lld", text, (long long)ns,
		         (long long)want);
	assert_int_equal(used, want_used);
}

static void
expect_err(prefix_fn fn, const char *text, int err)
{
	int64_t ns = 12345;
	size_t used = 777;

	int rc = run(fn, text, &ns, &used);
	if (rc != err)
		fail_msg("'%s': rc %d, want %d", text, rc, err);
	assert_int_equal(ns, 12345); /* untouched on failure */
	assert_int_equal(used, 777);
}

static int
naive_dim(int64_t y, unsigned m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30,
	                            31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dim[m - 1];
}

static void
test_days_from_civil(void **state)
{
	(void)state;
	assert_int_equal(ls_timefmt_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(ls_timefmt_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(ls_timefmt_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(ls_timefmt_days_from_civil(2024, 2, 29), 19782);
	assert_int_equal(ls_timefmt_days_from_civil(1, 1, 1), -719162);
	assert_int_equal(ls_timefmt_days_from_civil(9999, 12, 31), 2932896);

	/* Walk day by day from year -30 to 4000 and compare with a naive
	 * calendar increment, both directions. */
	int64_t y = -30;
	unsigned m = 1, d = 1;
	int64_t z = ls_timefmt_days_from_civil(y, m, d);
	for (int i = 0; i < 1474000; i++) {
		int64_t cy;
		unsigned cm, cd;
		ls_timefmt_civil_from_days(z, &cy, &cm, &cd);
		if (cy != y || cm != m || cd != d)
			fail_msg("day %lld: got %lld-%u-%u want %lld-%u-%u",
			         (long long)z, (long long)cy, cm, cd,
			         (long long)y, m, d);
		assert_int_equal(ls_timefmt_days_from_civil(y, m, d), z);
		if (++d > (unsigned)naive_dim(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
		z++;
	}
	assert_true(y > 4000);
}

static void
test_from_civil(void **state)
{
	ls_civil c = {2024, 2, 29, 16, 0, 0, 5, 0};
	int64_t ns;

	(void)state;
	assert_int_equal(ls_timefmt_from_civil(&c, &ns), 0);
	assert_int_equal(ns, S(1709222400) + 5);
	c.utcoff = 3600; /* 16:00+01:00 is 15:00Z */
	assert_int_equal(ls_timefmt_from_civil(&c, &ns), 0);
	assert_int_equal(ns, S(1709222400 - 3600) + 5);

	ls_civil bad = c;
	bad.year = 2023; /* no Feb 29 */
	assert_int_equal(ls_timefmt_from_civil(&bad, &ns), LS_EPARSE);
	bad = c;
	bad.hour = 24;
	assert_int_equal(ls_timefmt_from_civil(&bad, &ns), LS_EPARSE);
	bad = c;
	bad.mon = 13;
	assert_int_equal(ls_timefmt_from_civil(&bad, &ns), LS_EPARSE);
	bad = c;
	bad.nsec = 1000000000;
	assert_int_equal(ls_timefmt_from_civil(&bad, &ns), LS_EPARSE);
	bad = c;
	bad.year = 1600; /* before 1677: not representable */
	assert_int_equal(ls_timefmt_from_civil(&bad, &ns), LS_ERANGE);
	bad = c;
	bad.year = 2264; /* a leap year, after 2262 */
	assert_int_equal(ls_timefmt_from_civil(&bad, &ns), LS_ERANGE);
}

static void
test_iso8601(void **state)
{
	(void)state;
	expect_ok(ls_timefmt_iso8601, "2024-03-01T00:00:00.123Z",
	          S(1709251200) + 123000000, 24);
	expect_ok(ls_timefmt_iso8601, "2024-03-01T00:00:00Z", S(1709251200),
	          20);
	expect_ok(ls_timefmt_iso8601, "2024-03-01t00:00:00z", S(1709251200),
	          20);
	expect_ok(ls_timefmt_iso8601, "2024-03-01T05:30:00+05:30",
	          S(1709251200), 25);
	expect_ok(ls_timefmt_iso8601, "2024-02-29T16:00:00-0800", S(1709251200),
	          24);
	expect_ok(ls_timefmt_iso8601, "2024-02-29T21:00:00-03", S(1709251200),
	          22);
	expect_ok(ls_timefmt_iso8601, "2024-03-01T00:00:00.123456789Z",
	          S(1709251200) + 123456789, 30);
	/* Digits past nanoseconds are read and ignored. */
	expect_ok(ls_timefmt_iso8601, "2024-03-01T00:00:00.1234567891234Z",
	          S(1709251200) + 123456789, 34);
	/* log4j's ISO8601 layout: space and comma; zoneless is UTC; the
	 * parse stops before what follows. */
	expect_ok(ls_timefmt_iso8601, "2015-10-18 18:01:47,978 INFO [main]",
	          S(1445191307) + 978000000, 23);
	expect_ok(ls_timefmt_iso8601, "2015-07-29 17:41:44,747 - INFO",
	          S(1438191704) + 747000000, 23);
	/* Leap second 23:59:60 counts as the next day's 00:00:00. */
	expect_ok(ls_timefmt_iso8601, "2016-12-31T23:59:60Z", S(1483228800),
	          20);

	expect_err(ls_timefmt_iso8601, "", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "2024-03-01", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "2024-03-01T00:00", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "2024-03-01X00:00:00Z", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "2024-13-01T00:00:00Z", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "2023-02-29T00:00:00Z", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "2024-03-01T24:00:00Z", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "2024-03-01T00:00:00+2", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "2024-03-01T00:00:00+25:00", LS_EPARSE);
	expect_err(ls_timefmt_iso8601, "1500-03-01T00:00:00Z", LS_ERANGE);
}

static int
bsd2015(const char *p, size_t n, int64_t *ns, size_t *used)
{
	return ls_timefmt_bsd(p, n, 2015, ns, used);
}

static void
test_bsd(void **state)
{
	(void)state;
	expect_ok(bsd2015, "Dec 10 06:55:46", S(1449730546), 15);
	expect_ok(bsd2015, "Dec 10 06:55:46 LabSZ sshd[24200]:", S(1449730546),
	          15);
	/* Day padded with a space, or not padded at all. */
	expect_ok(bsd2015, "Dec  1 06:55:46", S(1449730546 - 9 * 86400), 15);
	expect_ok(bsd2015, "Dec 1 06:55:46", S(1449730546 - 9 * 86400), 14);
	expect_ok(bsd2015, "dec 10 06:55:46.250", S(1449730546) + 250000000,
	          19);
	expect_err(bsd2015, "Dez 10 06:55:46", LS_EPARSE);
	expect_err(bsd2015, "Dec 32 06:55:46", LS_EPARSE);
	expect_err(bsd2015, "Feb 29 06:55:46", LS_EPARSE); /* 2015 */
	expect_err(bsd2015, "Dec 10 06:55", LS_EPARSE);
	expect_err(bsd2015, "Dec", LS_EPARSE);
}

static void
test_ctime(void **state)
{
	(void)state;
	expect_ok(ls_timefmt_ctime, "Sun Dec 04 04:47:44 2005", S(1133671664),
	          24);
	expect_ok(ls_timefmt_ctime, "[Sun Dec 04 04:47:44 2005] [notice]",
	          S(1133671664), 26);
	expect_ok(ls_timefmt_ctime, "[Sun Dec 04 04:47:44.123456 2005]",
	          S(1133671664) + 123456000, 33);
	expect_ok(ls_timefmt_ctime, "Sun Dec  4 04:47:44 2005", S(1133671664),
	          24);
	expect_err(ls_timefmt_ctime, "[Sun Dec 04 04:47:44 2005", LS_EPARSE);
	expect_err(ls_timefmt_ctime, "Sux Dec 04 04:47:44 2005", LS_EPARSE);
	expect_err(ls_timefmt_ctime, "Sun Dec 04 04:47:44", LS_EPARSE);
}

static void
test_clf(void **state)
{
	(void)state;
	expect_ok(ls_timefmt_clf, "10/Oct/2000:13:55:36 -0700", S(971211336),
	          26);
	expect_ok(ls_timefmt_clf, "[10/Oct/2000:13:55:36 -0700] \"GET",
	          S(971211336), 28);
	expect_ok(ls_timefmt_clf, "10/Oct/2000:20:55:36 +0000", S(971211336),
	          26);
	expect_err(ls_timefmt_clf, "10/Oct/2000:13:55:36", LS_EPARSE);
	expect_err(ls_timefmt_clf, "10/Okt/2000:13:55:36 -0700", LS_EPARSE);
	expect_err(ls_timefmt_clf, "[10/Oct/2000:13:55:36 -0700", LS_EPARSE);
}

static void
test_bgl(void **state)
{
	(void)state;
	expect_ok(ls_timefmt_bgl, "2005-06-03-15.42.50.675872",
	          S(1117813370) + 675872000, 26);
	expect_ok(ls_timefmt_bgl, "2005-06-03-15.42.50 R02", S(1117813370), 19);
	expect_err(ls_timefmt_bgl, "2005-06-03 15.42.50.675872", LS_EPARSE);
	expect_err(ls_timefmt_bgl, "2005-06-03-15:42:50", LS_EPARSE);
}

static void
test_yymmdd(void **state)
{
	(void)state;
	expect_ok(ls_timefmt_yymmdd, "081109 203615 148 INFO", S(1226262975),
	          13);
	/* POSIX %y pivot: 69..99 -> 19xx, 00..68 -> 20xx. */
	expect_ok(ls_timefmt_yymmdd, "690101 000000", S(-31536000), 13);
	expect_ok(ls_timefmt_yymmdd, "681231 000000", S(3124137600), 13);
	expect_err(ls_timefmt_yymmdd, "081109 2036151", LS_EPARSE);
	expect_err(ls_timefmt_yymmdd, "081109203615", LS_EPARSE);
	expect_err(ls_timefmt_yymmdd, "081309 203615", LS_EPARSE);
}

static void
test_slash(void **state)
{
	(void)state;
	expect_ok(ls_timefmt_slash, "17/06/09 20:10:40 INFO", S(1497039040),
	          17);
	expect_ok(ls_timefmt_slash, "2011/06/10 13:30:10 [error]",
	          S(1307712610), 19);
	expect_ok(ls_timefmt_slash, "2011/06/10 13:30:10,5",
	          S(1307712610) + 500000000, 21);
	expect_err(ls_timefmt_slash, "17/06/09T20:10:40", LS_EPARSE);
	expect_err(ls_timefmt_slash, "201/06/10 13:30:10", LS_EPARSE);
}

static void
test_epoch(void **state)
{
	(void)state;
	expect_ok(ls_timefmt_epoch, "1709251200", S(1709251200), 10);
	expect_ok(ls_timefmt_epoch, "1709251200.5", S(1709251200) + 500000000,
	          12);
	expect_ok(ls_timefmt_epoch, "1709251200123", S(1709251200) + 123000000,
	          13);
	expect_ok(ls_timefmt_epoch, "1709251200123.5",
	          S(1709251200) + 123500000, 15);
	expect_ok(ls_timefmt_epoch, "1709251200123456",
	          S(1709251200) + 123456000, 16);
	expect_ok(ls_timefmt_epoch, "1709251200123456789",
	          S(1709251200) + 123456789, 19);
	expect_ok(ls_timefmt_epoch, "-1", S(-1), 2);
	expect_ok(ls_timefmt_epoch, "0 rest", 0, 1);
	expect_err(ls_timefmt_epoch, "", LS_EPARSE);
	expect_err(ls_timefmt_epoch, "-", LS_EPARSE);
	expect_err(ls_timefmt_epoch, "abc", LS_EPARSE);
	expect_err(ls_timefmt_epoch, "99999999999999999999", LS_ERANGE);
	expect_err(ls_timefmt_epoch, "99999999999", LS_ERANGE);
}

static int
any2015(const char *p, size_t n, int64_t *ns, size_t *used)
{
	return ls_timefmt_any(p, n, 2015, ns, used);
}

static void
test_any(void **state)
{
	(void)state;
	/* The JSON corpus of tools/make_corpus.py writes this. */
	expect_ok(any2015, "2024-03-01T00:00:00.123Z",
	          S(1709251200) + 123000000, 24);
	expect_ok(any2015, "1709251200", S(1709251200), 10);
	expect_ok(any2015, "Dec 10 06:55:46", S(1449730546), 15);
	expect_ok(any2015, "Sun Dec 04 04:47:44 2005", S(1133671664), 24);
	expect_ok(any2015, "10/Oct/2000:13:55:36 -0700", S(971211336), 26);
	expect_ok(any2015, "2005-06-03-15.42.50.675872",
	          S(1117813370) + 675872000, 26);
	expect_ok(any2015, "17/06/09 20:10:40", S(1497039040), 17);
	expect_ok(any2015, "081109 203615", S(1226262975), 13);
	expect_err(any2015, "yesterday", LS_EPARSE);
	expect_err(any2015, "", LS_EPARSE);
}

static void
test_month3(void **state)
{
	(void)state;
	assert_int_equal(ls_timefmt_month3("Jan", 3), 1);
	assert_int_equal(ls_timefmt_month3("dec", 3), 12);
	assert_int_equal(ls_timefmt_month3("SEP", 3), 9);
	assert_int_equal(ls_timefmt_month3("Sept", 4), 9);
	assert_int_equal(ls_timefmt_month3("Jux", 3), 0);
	assert_int_equal(ls_timefmt_month3("Ja", 2), 0);
	int y = ls_timefmt_current_year();
	assert_true(y >= 2024 && y < 3000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_days_from_civil),
	    cmocka_unit_test(test_from_civil),
	    cmocka_unit_test(test_iso8601),
	    cmocka_unit_test(test_bsd),
	    cmocka_unit_test(test_ctime),
	    cmocka_unit_test(test_clf),
	    cmocka_unit_test(test_bgl),
	    cmocka_unit_test(test_yymmdd),
	    cmocka_unit_test(test_slash),
	    cmocka_unit_test(test_epoch),
	    cmocka_unit_test(test_any),
	    cmocka_unit_test(test_month3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
