/*
 * jsonbuf_test.c -- the HTTP API's text buffer (cluster/jsonbuf.h):
 * printf appending, JSON quoting of quotes, backslashes and control bytes,
 * UTF-8 and other bytes copied as they are, growth over many appends, and
 * out of memory that sticks, keeps what was appended and leaks nothing
 * (an allocation-failure sweep).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/jsonbuf.h"
#include "runtime/err.h"

/* s quoted by ls_jsonbuf_str must read want. */
static void
check_str(const char *s, const char *want)
{
	ls_jsonbuf b = { 0 };
	ls_jsonbuf_str(&b, s);
	assert_false(b.oom);
	assert_non_null(b.p);
	assert_int_equal(b.len, strlen(want));
	assert_string_equal(b.p, want);
	ls_jsonbuf_fini(&b);
}

static void
test_printf(void **state)
{
	(void)state;
	ls_jsonbuf b = { 0 };
	ls_jsonbuf_printf(&b, "{\"epoch\":%llu", 42ull);
	ls_jsonbuf_printf(&b, ",\"nodes\":%zu%s", (size_t)3, "}");
	assert_false(b.oom);
	assert_string_equal(b.p, "{\"epoch\":42,\"nodes\":3}");
	assert_int_equal(b.len, strlen(b.p));
	assert_true(b.cap > b.len);
	/* an empty append changes nothing but allocates room for the NUL */
	ls_jsonbuf_printf(&b, "%s", "");
	assert_int_equal(b.len, strlen("{\"epoch\":42,\"nodes\":3}"));
	ls_jsonbuf_fini(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* reusable after fini */
	ls_jsonbuf_printf(&b, "x");
	assert_string_equal(b.p, "x");
	ls_jsonbuf_fini(&b);
}

static void
test_plain_and_empty(void **state)
{
	(void)state;
	check_str("n1", "\"n1\"");
	check_str("tcp://127.0.0.1:7101", "\"tcp://127.0.0.1:7101\"");
	check_str("", "\"\"");
	check_str(NULL, "\"\"");
}

static void
test_quotes_backslashes(void **state)
{
	(void)state;
	check_str("a\"b", "\"a\\\"b\"");
	check_str("a\\b", "\"a\\\\b\"");
	check_str("\"\\\"", "\"\\\"\\\\\\\"\"");
	/* a slash is not escaped */
	check_str("a/b", "\"a/b\"");
}

static void
test_control_bytes(void **state)
{
	(void)state;
	/* every byte below 0x20 as \u00XX, newline and tab included */
	check_str("a\nb", "\"a\\u000ab\"");
	check_str("\t", "\"\\u0009\"");
	check_str("\r", "\"\\u000d\"");
	check_str("\x01\x1f", "\"\\u0001\\u001f\"");
	char all[32], want[32 * 6 + 3], *w = want;
	for (int c = 1; c < 0x20; c++)
		all[c - 1] = (char)c;
	all[31] = '\0';
	*w++ = '"';
	for (int c = 1; c < 0x20; c++)
		w += sprintf(w, "\\u%04x", c);
	*w++ = '"';
	*w = '\0';
	check_str(all, want);
	/* 0x20 and DEL are not control bytes here */
	check_str(" \x7f", "\" \x7f\"");
}

static void
test_utf8_passthrough(void **state)
{
	(void)state;
	check_str("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	check_str("\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\"");
	check_str("\xf0\x9f\x93\x9c", "\"\xf0\x9f\x93\x9c\"");
	/* U+2028 and bytes that are not UTF-8 are copied as they are */
	check_str("\xe2\x80\xa8", "\"\xe2\x80\xa8\"");
	check_str("\xff\xfe", "\"\xff\xfe\"");
}

static void
test_growth(void **state)
{
	(void)state;
	ls_jsonbuf b = { 0 };
	size_t want = 0;
	for (int i = 0; i < 20000; i++) {
		ls_jsonbuf_printf(&b, "%s%d", i ? "," : "[", i);
		want += (size_t)snprintf(NULL, 0, "%s%d", i ? "," : "[", i);
	}
	/* one append larger than everything before */
	char big[100001];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ls_jsonbuf_str(&b, big);
	want += sizeof(big) - 1 + 2;
	ls_jsonbuf_printf(&b, "]");
	want++;
	assert_false(b.oom);
	assert_int_equal(b.len, want);
	assert_int_equal(strlen(b.p), want);
	assert_memory_equal(b.p, "[0,1,2,3,", 9);
	assert_non_null(strstr(b.p, ",19999\"xxx"));
	assert_memory_equal(b.p + want - 4, "xx\"]", 4);
	ls_jsonbuf_fini(&b);
}

/*
 * Out of memory: the n-th allocation fails, for every n until the whole
 * scenario succeeds.  The failure sticks (later appends do nothing, even
 * with memory again), what was appended before stays, and fini frees
 * everything.  Under sanitizers or valgrind (their allocators win) the
 * test skips.
 */
#include "../alloc_fail.h"

#if defined(LS_HAVE_MALLOC_HOOK)
static int
oom_scenario(long n, void *arg)
{
	(void)arg;
	ls_jsonbuf b = { 0 };
	char prefix[16];
	fail_after = n;
	size_t good = 0; /* bytes known appended before any failure */
	for (int i = 0; i < 5000 && !b.oom; i++) {
		snprintf(prefix, sizeof(prefix), "%d:", i);
		ls_jsonbuf_printf(&b, "%s", prefix);
		if (!b.oom) {
			ls_jsonbuf_str(&b, "v\"\n");
			if (!b.oom)
				good = b.len;
		}
	}
	fail_after = -1;
	int rc = b.oom ? LS_ENOMEM : 0;
	if (b.oom) {
		/* sticks with memory available again */
		size_t len = b.len;
		ls_jsonbuf_printf(&b, "more");
		ls_jsonbuf_str(&b, "more");
		assert_true(b.oom);
		assert_int_equal(b.len, len);
		assert_true(b.len >= good);
		if (good > 0)
			assert_memory_equal(b.p, "0:\"v\\\"\\u000a\"1:", 15);
	} else {
		assert_int_equal(b.len, good);
	}
	ls_jsonbuf_fini(&b);
	return rc;
}

static void
test_out_of_memory(void **state)
{
	(void)state;
	if (!alloc_fail_works())
		skip(); /* valgrind's allocator wins */
	long points = alloc_fail_sweep(oom_scenario, NULL, LS_ENOMEM);
	assert_true(points > 0);
	printf("out of memory: %ld failure points, each set oom, kept its "
	       "prefix and leaked nothing\n",
	    points);
}
#else
static void
test_out_of_memory(void **state)
{
	(void)state;
	skip(); /* the sanitizer's allocator wins */
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_plain_and_empty),
		cmocka_unit_test(test_quotes_backslashes),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_utf8_passthrough),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
