/*
 * sinkfmt_test.c -- tests of result formatting (actors/sinkfmt.h): JSON
 * escaping of hostile strings, exact JSON for known results, number
 * round-trips, truncation, table alignment, dead-letter records and times
 * (checked against gmtime_r).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/sinkfmt.h"
#include "actors/window.h"
#include "runtime/err.h"

#define MS INT64_C(1000000)

static void
expect_escape(const char *in, size_t n, const char *want)
{
	char buf[256];
	size_t len = ls_json_escape(in, n, buf, sizeof(buf));
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want);
}

static void
test_json_escape(void **state)
{
	(void)state;
	expect_escape("plain text", 10, "plain text");
	expect_escape("", 0, "");
	expect_escape(NULL, 0, "");
	expect_escape("say \"hi\"\\", 9, "say \\\"hi\\\"\\\\");
	expect_escape("a\nb\tc\rd\be\ff", 11, "a\\nb\\tc\\rd\\be\\ff");
	expect_escape("\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f");
	/* an embedded NUL is data, not the end */
	expect_escape("a\0b", 3, "a\\u0000b");
	/* valid UTF-8 passes through: 2, 3 and 4 byte forms */
	expect_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* U+2028 / U+2029 are escaped (they end lines in JavaScript) */
	expect_escape("x\xe2\x80\xa8y\xe2\x80\xa9", 8, "x\\u2028y\\u2029");
	/* invalid UTF-8 becomes U+FFFD: lone continuation, overlong,
	 * surrogate, out of range, bytes that never occur */
	expect_escape("\x80", 1, "\xef\xbf\xbd");
	expect_escape("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
	expect_escape("\xed\xa0\x80", 3,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect_escape("\xf4\x90\x80\x80", 4,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect_escape("\xff\xfe", 2, "\xef\xbf\xbd\xef\xbf\xbd");
	/* a truncated sequence is one replacement (its maximal prefix) */
	expect_escape("a\xe2\x82", 3, "a\xef\xbf\xbd");
	expect_escape("\xe2\x82z", 3, "\xef\xbf\xbdz");
	expect_escape("\xf0\x9f\x98", 3, "\xef\xbf\xbd");

	/* like snprintf: the needed length, truncated and terminated */
	char small[5];
	memset(small, 'X', sizeof(small));
	assert_int_equal(ls_json_escape("\"\"\"", 3, small, sizeof(small)), 6);
	assert_string_equal(small, "\\\"\\\"");
	assert_int_equal(ls_json_escape("abc", 3, NULL, 0), 3);
	assert_int_equal(ls_json_escape("abc", 3, small, 0), 3);
	assert_int_equal(small[0], '\\'); /* untouched with cap 0 */
}

static void
test_time(void **state)
{
	(void)state;
	char t[LS_SINKFMT_TIME_LEN];

	assert_int_equal(ls_sinkfmt_time(0, t), 24);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	ls_sinkfmt_time(-1, t);
	assert_string_equal(t, "1969-12-31T23:59:59.999Z");
	ls_sinkfmt_time(INT64_C(1709251200123456789), t);
	assert_string_equal(t, "2024-03-01T00:00:00.123Z");
	ls_sinkfmt_time(INT64_C(1709164800) * 1000000000, t);
	assert_string_equal(t, "2024-02-29T00:00:00.000Z");
	ls_sinkfmt_time(INT64_MAX, t);
	assert_string_equal(t, "2262-04-11T23:47:16.854Z");
	ls_sinkfmt_time(INT64_MIN, t);
	assert_string_equal(t, "1677-09-21T00:12:43.145Z");

	/* against the C library over a spread of instants */
	uint64_t x = 12345;
	for (int i = 0; i < 20000; i++) {
		x = x * UINT64_C(6364136223846793005) + 1442695040888963407u;
		int64_t sec = (int64_t)(x >> 31) % INT64_C(9000000000) -
		    INT64_C(4500000000);
		unsigned ms = (unsigned)(x % 1000);
		time_t tt = (time_t)sec;
		struct tm tm;
		char want[96];
		assert_non_null(gmtime_r(&tt, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ms);
		ls_sinkfmt_time(sec * 1000000000 + (int64_t)ms * MS + 999, t);
		assert_string_equal(t, want);
	}
}

/* ---- window results as records ----
 *
 * The expected texts below are the output format of window results, which
 * must not change.  The helpers lay a window result out as records the way
 * ls_window_schema / ls_window_record do (window_start, window_end, keys,
 * count, aggregates other than "count", final), but with any names, and
 * print it through the generic record functions. */

static void
window_schema(ls_rec_schema *sc, const char *const *key_fields,
    size_t nkeys, const char *const *agg_names, size_t naggs)
{
	char kn[16];
	ls_rec_schema_init(sc);
	assert_int_equal(ls_rec_schema_add(sc, "window_start", LS_REC_TIME,
	                     LS_REC_ID), 0);
	assert_int_equal(ls_rec_schema_add(sc, "window_end", LS_REC_TIME,
	                     LS_REC_NOTABLE), 0);
	for (size_t k = 0; k < nkeys; k++) {
		snprintf(kn, sizeof(kn), "k%zu", k);
		assert_int_equal(ls_rec_schema_add(sc,
		                     key_fields != NULL ? key_fields[k] : kn,
		                     LS_REC_STRING, LS_REC_KEY), 0);
	}
	if (nkeys == 0) {
		sc->keyed = 1;
		sc->key_at = sc->n;
	}
	assert_int_equal(ls_rec_schema_add(sc, "count", LS_REC_INT, 0), 0);
	for (size_t a = 0; a < naggs; a++)
		if (strcmp(agg_names[a], "count") != 0)
			assert_int_equal(ls_rec_schema_add(sc, agg_names[a],
			                     LS_REC_DOUBLE, 0), 0);
	assert_int_equal(ls_rec_schema_add(sc, "final", LS_REC_BOOL,
	                     LS_REC_NOTABLE), 0);
}

static ls_records *
window_row(const ls_rec_schema *sc, const ls_window_result *r,
    const char *const *agg_names, size_t naggs)
{
	ls_records *rs = ls_records_new(sc, "s", 0);
	assert_non_null(rs);
	ls_rec_value *v = ls_records_add(rs);
	assert_non_null(v);
	uint32_t f = 2;
	v[0].i = r->start_ns;
	v[1].i = r->end_ns;
	v[0].null = v[1].null = 0;
	for (uint32_t k = 0; k < r->nkeys; k++, f++)
		assert_int_equal(ls_records_set_str(rs, &v[f], r->keys[k].ptr,
		                     r->keys[k].len), 0);
	v[f].i = (int64_t)r->count;
	v[f++].null = 0;
	for (size_t a = 0; a < naggs; a++) {
		if (strcmp(agg_names[a], "count") == 0)
			continue;
		v[f].d = r->value[a];
		v[f].null = !r->has_value[a];
		f++;
	}
	v[f].i = r->final;
	v[f].null = 0;
	assert_int_equal(f + 1, sc->n);
	return rs;
}

static size_t
result_json(const char *stage, const ls_window_result *r,
    const char *const *key_fields, const char *const *agg_names,
    size_t naggs, char *buf, size_t cap)
{
	ls_rec_schema sc;
	window_schema(&sc, key_fields, r->nkeys, agg_names, naggs);
	ls_records *rs = window_row(&sc, r, agg_names, naggs);
	size_t n = ls_sinkfmt_record_json(stage, &sc, rs->v, buf, cap);
	ls_records_unref(rs);
	ls_rec_schema_fini(&sc);
	return n;
}

static ls_rec_schema tab_schema;
static const char *const *tab_aggs;
static size_t tab_naggs;

static int
table_init(ls_sinkfmt_table *t, const char *const *key_fields, size_t nkeys,
    const char *const *agg_names, size_t naggs)
{
	ls_rec_schema_fini(&tab_schema);
	window_schema(&tab_schema, key_fields, nkeys, agg_names, naggs);
	tab_aggs = agg_names;
	tab_naggs = naggs;
	return ls_sinkfmt_table_init(t, &tab_schema);
}

static size_t
table_row(const ls_sinkfmt_table *t, const ls_window_result *r, char *buf,
    size_t cap)
{
	ls_records *rs = window_row(&tab_schema, r, tab_aggs, tab_naggs);
	size_t n = ls_sinkfmt_table_row(t, rs->v, buf, cap);
	ls_records_unref(rs);
	return n;
}

static ls_window_result
known_result(void)
{
	ls_window_result r;
	memset(&r, 0, sizeof(r));
	r.start_ns = INT64_C(1709251200000) * MS;
	r.end_ns = r.start_ns + 60000 * MS;
	r.nkeys = 2;
	r.keys[0] = ls_str_c("api");
	r.keys[1] = ls_str_c("ERROR");
	r.count = 42;
	r.naggs = 6;
	r.value[0] = 42;
	r.has_value[0] = 1;
	r.value[1] = 12.5;
	r.has_value[1] = 1;
	r.has_value[2] = 0; /* sum_bytes: no event had bytes */
	r.value[3] = 0.1;
	r.has_value[3] = 1;
	r.value[4] = 1e21;
	r.has_value[4] = 1;
	r.value[5] = -3;
	r.has_value[5] = 1;
	r.final = 1;
	return r;
}

static const char *const k_fields[] = { "service", "level" };
static const char *const k_aggs[] = { "count", "avg_latency_ms", "sum_bytes",
	"max_latency_ms", "max_bytes", "min_delta" };

static void
test_result_json_exact(void **state)
{
	(void)state;
	ls_window_result r = known_result();
	char buf[1024];
	const char *want =
	    "{\"stage\":\"errors\",\"window_start\":\"2024-03-01T00:00:00.000Z\","
	    "\"window_end\":\"2024-03-01T00:01:00.000Z\","
	    "\"key\":{\"service\":\"api\",\"level\":\"ERROR\"},\"count\":42,"
	    "\"avg_latency_ms\":12.5,\"sum_bytes\":null,\"max_latency_ms\":0.1,"
	    "\"max_bytes\":1e+21,\"min_delta\":-3,\"final\":true,"
	    "\"id\":\"errors/api,ERROR/1709251200000\"}";

	size_t n = result_json("errors", &r, k_fields, k_aggs, 6,
	    buf, sizeof(buf));
	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);

	/* an update, hostile key values, no aggregates */
	r.final = 0;
	r.keys[0] = ls_str_make("a/b,\"c\"\n%", 9);
	r.keys[1] = ls_str_make("", 0);
	const char *want2 =
	    "{\"stage\":\"st\\\"g\",\"window_start\":\"2024-03-01T00:00:00.000Z\","
	    "\"window_end\":\"2024-03-01T00:01:00.000Z\","
	    "\"key\":{\"service\":\"a/b,\\\"c\\\"\\n%\",\"level\":\"\"},"
	    "\"count\":42,\"final\":false,"
	    "\"id\":\"st%22g/a%2Fb%2C%22c%22%0A%25,/1709251200000\"}";
	n = result_json("st\"g", &r, k_fields, k_aggs, 0, buf,
	    sizeof(buf));
	assert_string_equal(buf, want2);
	assert_int_equal(n, strlen(want2));

	/* truncation reports the full length and stays terminated */
	char small[20];
	size_t full = result_json("errors", &r, k_fields, k_aggs, 6,
	    NULL, 0);
	n = result_json("errors", &r, k_fields, k_aggs, 6, small,
	    sizeof(small));
	assert_int_equal(n, full);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "{\"stage\":\"errors\",\"w", 19);

	/* before the epoch the id keeps floor milliseconds */
	r = known_result();
	r.nkeys = 0;
	r.start_ns = -1500 * MS - 1;
	r.end_ns = r.start_ns + 1000 * MS;
	result_json("s", &r, NULL, k_aggs, 1, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"key\":{},"));
	assert_non_null(strstr(buf, "\"window_start\":\"1969-12-31T23:59:58.499Z\""));
	assert_non_null(strstr(buf, "\"id\":\"s//-1501\"}"));
}

/* Every finite double prints so that strtod gives it back exactly. */
static void
test_number_roundtrip(void **state)
{
	(void)state;
	ls_window_result r;
	const char *names[] = { "v" };
	char buf[512];
	uint64_t x = 777;

	memset(&r, 0, sizeof(r));
	r.naggs = 1;
	r.has_value[0] = 1;
	for (int i = 0; i < 20000; i++) {
		double v;
		x = x * UINT64_C(6364136223846793005) + 1442695040888963407u;
		if (i % 3 == 0) {
			uint64_t bits = x;
			memcpy(&v, &bits, sizeof(v));
			if (!isfinite(v))
				continue;
		} else if (i % 3 == 1) {
			v = (double)(x >> 11) * 0x1.0p-53 * 1000.0;
		} else {
			v = (double)((int64_t)(x >> 20) - (1LL << 43)) / 1000.0;
		}
		r.value[0] = v;
		result_json("s", &r, NULL, names, 1, buf, sizeof(buf));
		const char *p = strstr(buf, "\"v\":");
		assert_non_null(p);
		char *end;
		double back = strtod(p + 4, &end);
		assert_true(*end == ',');
		assert_memory_equal(&back, &v, sizeof(v));
	}
	/* non-finite values are not JSON: null */
	r.value[0] = INFINITY;
	result_json("s", &r, NULL, names, 1, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"v\":null,"));
	/* short forms for short numbers */
	r.value[0] = 0.3;
	result_json("s", &r, NULL, names, 1, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"v\":0.3,"));
	r.value[0] = 1.0 / 3.0;
	result_json("s", &r, NULL, names, 1, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"v\":0.3333333333333333,"));
}

/* Display columns of a UTF-8 string (one per code point). */
static size_t
cols(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

static void
test_table(void **state)
{
	(void)state;
	ls_sinkfmt_table t;
	char hdr[512], row[512];
	const char *keys[] = { "service", "level" };
	const char *aggs[] = { "count", "avg_latency_ms", "sum_bytes" };

	assert_int_equal(table_init(&t, keys, 2, aggs, 3), 0);
	size_t hn = ls_sinkfmt_table_header(&t, hdr, sizeof(hdr));
	const char *want_hdr = "window_start              service       level"
	                       "              count  avg_latency_ms     sum_bytes";
	assert_string_equal(hdr, want_hdr);
	assert_int_equal(hn, strlen(want_hdr));

	ls_window_result r;
	memset(&r, 0, sizeof(r));
	r.start_ns = INT64_C(1709251200000) * MS;
	r.nkeys = 2;
	r.naggs = 3;
	r.keys[0] = ls_str_c("api");
	r.keys[1] = ls_str_c("INFO");
	r.count = 1234;
	r.value[1] = 12.3456;
	r.has_value[1] = 1;
	r.value[2] = 1048576;
	r.has_value[2] = 1;
	table_row(&t, &r, row, sizeof(row));
	/* time | key 12 | key 12 | count 10 | avg 14 | sum 12, two blanks
	 * between columns */
	assert_string_equal(row,
	    "2024-03-01T00:00:00.000Z"
	    "  api         "
	    "  INFO        "
	    "        1234"
	    "          12.346"
	    "       1048576");

	/* hostile and long values keep every row as wide as the header */
	static const char *const vals[] = { "checkout-service-with-a-long-name",
		"tab\there", "\xc3\xa9t\xc3\xa9", "bad\xff", "",
		("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x82\xb5"
		 "\xe3\x83\xbc\xe3\x83\x93\xe3\x82\xb9\xe5\x90\x8d") };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		r.keys[0] = ls_str_c(vals[i]);
		r.has_value[2] = (uint8_t)(i % 2);
		size_t n = table_row(&t, &r, row, sizeof(row));
		assert_int_equal(n, strlen(row));
		assert_int_equal(cols(row, n), cols(hdr, hn));
		assert_null(strchr(row, '\t'));
		/* the next key column starts where the header's does, the
		 * count column ends where the header's ends */
		const char *lv = strstr(row, "  INFO") + 2;
		assert_int_equal(cols(row, (size_t)(lv - row)),
		    cols(hdr, (size_t)(strstr(hdr, "level") - hdr)));
		const char *cnt = strstr(row, "1234") + 4;
		assert_int_equal(cols(row, (size_t)(cnt - row)),
		    cols(hdr, (size_t)(strstr(hdr, "count") + 5 - hdr)));
	}
	r.keys[0] = ls_str_c("checkout-service-with-a-long-name");
	table_row(&t, &r, row, sizeof(row));
	assert_non_null(strstr(row, "checkout-se\xe2\x80\xa6  INFO"));
	r.keys[0] = ls_str_c("tab\there");
	r.has_value[1] = 0;
	table_row(&t, &r, row, sizeof(row));
	assert_non_null(strstr(row, "tab?here"));
	assert_true(row[strlen(row) - 1] != ' ');
	/* "-" for an aggregate without a value, right-aligned */
	assert_non_null(strstr(row, "1234" "  " "             -" "  "));

	assert_int_equal(ls_sinkfmt_table_init(&t, NULL), LS_EINVAL);
	ls_rec_schema_fini(&tab_schema);
}

static void
test_deadletter(void **state)
{
	(void)state;
	char buf[512];
	const char line[] = "GET /\x01 \"x\"\n\xff";
	const char *want =
	    "{\"reason\":\"parse\",\"stage\":\"parse\",\"source\":\"syslog\","
	    "\"offset\":18446744073709551615,"
	    "\"line\":\"GET /\\u0001 \\\"x\\\"\\n\xef\xbf\xbd\"}";
	size_t n = ls_sinkfmt_deadletter("parse", "parse", "syslog", UINT64_MAX,
	    line, sizeof(line) - 1, buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));

	n = ls_sinkfmt_deadletter(NULL, NULL, NULL, 0, NULL, 5, buf,
	    sizeof(buf));
	assert_string_equal(buf, "{\"reason\":\"\",\"stage\":\"\",\"source\":\"\","
	                         "\"offset\":0,\"line\":\"\"}");

	ls_event ev;
	ls_event_clear(&ev);
	ev.time_ns = INT64_C(1709251200123000000);
	ev.offset = 9;
	ev.level = LS_LEVEL_WARN;
	ev.service = ls_str_c("api");
	ev.message = ls_str_c("slow \"q\"");
	ls_event_add_attr(&ev, ls_str_c("latency_ms"), ls_str_c("812.5"));
	ls_event_add_attr(&ev, ls_str_c("k\\"), ls_str_c("v"));
	const char *want_ev =
	    "{\"reason\":\"late\",\"stage\":\"win\",\"source\":\"gen\","
	    "\"offset\":9,\"event\":{\"time_ns\":1709251200123000000,"
	    "\"level\":\"WARN\",\"service\":\"api\",\"host\":\"\","
	    "\"message\":\"slow \\\"q\\\"\",\"attrs\":{\"latency_ms\":\"812.5\","
	    "\"k\\\\\":\"v\"}}}";
	n = ls_sinkfmt_deadletter_event("late", "win", "gen", &ev, buf,
	    sizeof(buf));
	assert_string_equal(buf, want_ev);
	assert_int_equal(n, strlen(want_ev));
	ls_event_clear(&ev);
	ls_sinkfmt_deadletter_event("late", "win", "gen", &ev, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"time_ns\":null,\"level\":\"UNKNOWN\""));
	assert_non_null(strstr(buf, "\"attrs\":{}}}"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_result_json_exact),
		cmocka_unit_test(test_number_roundtrip),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_deadletter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
