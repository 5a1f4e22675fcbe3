/*
 * userfmt_test.c -- operator-defined formats (actors/userfmt.h): named
 * captures land in the event's fields and attributes, grok names expand
 * (nested ones too), bad patterns are rejected with the offset of the
 * problem in the pattern as written, lines that do not match are dead
 * letters, and a custom format plugged into ls_parser_parse() takes over
 * from the built-in formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "actors/parse.h"
#include "actors/userfmt.h"
#include "runtime/err.h"

static int64_t
utc(int y, int mo, int d, int h, int mi, int sec, long ns)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm) * 1000000000LL + ns;
}

static ls_userfmt *
compile_ok(const char *pat)
{
	ls_userfmt *f = NULL;
	char err[256] = "";
	size_t off = 0;
	int rc = ls_userfmt_compile(pat, strlen(pat), &f, err, sizeof(err),
	                            &off);
	if (rc != 0)
		fail_msg("compile '%s': rc %d: %s at %zu", pat, rc, err, off);
	assert_non_null(f);
	return f;
}

static void
assert_ls(ls_str got, const char *want)
{
	if (!(got.len == strlen(want) &&
	      (got.len == 0 || memcmp(got.ptr, want, got.len) == 0)))
		fail_msg("got '%.*s', want '%s'", (int)got.len,
		         got.ptr != NULL ? got.ptr : "", want);
}

static void
assert_attr(const ls_event *ev, const char *key, const char *want)
{
	ls_str v;
	int present = ls_event_field(ev, key, strlen(key), &v);
	if (want == NULL) {
		if (present)
			fail_msg("attribute %s present", key);
		return;
	}
	if (!present)
		fail_msg("attribute %s absent, want '%s'", key, want);
	assert_ls(v, want);
}

/* Match line with f into ev (cleared first). */
static int
match(const ls_userfmt *f, const char *line, ls_event *ev, ls_arena *a,
      const char **reason)
{
	ls_event_clear(ev);
	ls_arena_reset(a);
	return ls_userfmt_parse(f, line, strlen(line), ev, a, reason);
}

static void
test_captures_to_fields(void **unused)
{
	ls_arena a;
	ls_event ev;
	const char *why = NULL;
	(void)unused;
	ls_arena_init(&a, 0);

	ls_userfmt *f = compile_ok(
	    "^(?<ts>\\S+ \\S+) (?<host>[\\w.-]+) (?<service>\\w+)\\[(?<pid>\\d+)"
	    "\\]: <(?<level>\\w+)> (?<msg>.*?)(?: user=(?<user>\\w+))?$");
	assert_int_equal(match(f, "2026-12-07 09:30:00.250 web-1.example.com "
	                          "billing[4242]: <Warning> card declined "
	                          "user=ann",
	                       &ev, &a, &why),
	                 0);
	assert_int_equal(ev.time_ns, utc(2026, 12, 7, 9, 30, 0, 250000000));
	assert_ls(ev.host, "web-1.example.com");
	assert_ls(ev.service, "billing");
	assert_ls(ev.level_text, "Warning");
	assert_int_equal(ev.level, LS_LEVEL_WARN);
	assert_ls(ev.message, "card declined");
	assert_attr(&ev, "pid", "4242");
	assert_attr(&ev, "user", "ann");
	assert_int_equal(ev.nattrs, 2);
	/* A group that did not take part adds nothing. */
	assert_int_equal(match(f, "2026-12-07 09:30:00 h s[1]: <ERROR> boom",
	                       &ev, &a, &why),
	                 0);
	assert_attr(&ev, "user", NULL);
	assert_int_equal(ev.level, LS_LEVEL_ERROR);
	/* A time capture that is no timestamp stays as an attribute. */
	assert_int_equal(match(f, "yesterday noon h s[1]: <info> x", &ev, &a,
	                       &why),
	                 0);
	assert_int_equal(ev.time_ns, LS_TIME_UNKNOWN);
	assert_attr(&ev, "ts", "yesterday noon");
	/* A line that does not match is a dead letter with the reason. */
	assert_int_equal(match(f, "just some text", &ev, &a, &why), LS_EPARSE);
	assert_non_null(strstr(why, "does not match"));
	ls_userfmt_free(f);

	/* Without a message capture the message is the whole line. */
	f = compile_ok("code=(?<code>\\d+)");
	assert_int_equal(match(f, "GET / code=503 took 3ms", &ev, &a, &why), 0);
	assert_ls(ev.message, "GET / code=503 took 3ms");
	assert_attr(&ev, "code", "503");
	ls_userfmt_free(f);
	ls_arena_fini(&a);
}

static void
test_grok(void **unused)
{
	ls_arena a;
	ls_event ev;
	const char *why = NULL;
	(void)unused;
	ls_arena_init(&a, 0);

	/* An HAProxy-ish line through library names only. */
	ls_userfmt *f = compile_ok(
	    "^%{IP:client}:%{INT:port} \\[%{HTTPDATE:ts}\\] %{NOTSPACE:frontend} "
	    "%{WORD:method} %{PATH:path} %{NUMBER:status} %{UUID:req_id} "
	    "%{QUOTEDSTRING:agent} %{LOGLEVEL:level} %{GREEDYDATA:message}$");
	assert_int_equal(
	    match(f,
	          "10.1.2.3:51234 [07/Dec/2026:09:30:00 +0100] fe-http GET "
	          "/api/v1/items 200 123e4567-e89b-12d3-a456-426614174000 "
	          "\"curl/8.4 \\\"x\\\"\" WARN slow backend",
	          &ev, &a, &why),
	    0);
	assert_int_equal(ev.time_ns, utc(2026, 12, 7, 8, 30, 0, 0));
	assert_attr(&ev, "client", "10.1.2.3");
	assert_attr(&ev, "port", "51234");
	assert_attr(&ev, "frontend", "fe-http");
	assert_attr(&ev, "method", "GET");
	assert_attr(&ev, "path", "/api/v1/items");
	assert_attr(&ev, "status", "200");
	assert_attr(&ev, "req_id", "123e4567-e89b-12d3-a456-426614174000");
	assert_attr(&ev, "agent", "\"curl/8.4 \\\"x\\\"\"");
	assert_int_equal(ev.level, LS_LEVEL_WARN);
	assert_ls(ev.message, "slow backend");
	ls_userfmt_free(f);

	/* Syslog and ISO timestamps, hosts, IPv6; %{NAME} without a field
	 * captures nothing. */
	f = compile_ok("^%{SYSLOGTIMESTAMP:ts} %{HOSTNAME:host} %{DATA}: "
	               "from %{IP:peer} at %{TIMESTAMP_ISO8601:seen}$");
	assert_int_equal(match(f,
	                       "Dec  7 09:30:00 db-2.internal sshd[1]: from "
	                       "2001:db8::1 at 2026-12-07T09:29:59Z",
	                       &ev, &a, &why),
	                 0);
	assert_ls(ev.host, "db-2.internal");
	assert_attr(&ev, "peer", "2001:db8::1");
	assert_attr(&ev, "seen", "2026-12-07T09:29:59Z");
	assert_int_equal(ev.nattrs, 2);
	ls_userfmt_free(f);

	/* Every library name compiles alone and as a field. */
	for (size_t i = 0; i < ls_userfmt_grok_count(); i++) {
		char pat[96];
		snprintf(pat, sizeof(pat), "%%{%s} %%{%s:f}",
		         ls_userfmt_grok_name(i), ls_userfmt_grok_name(i));
		ls_userfmt_free(compile_ok(pat));
	}
	assert_null(ls_userfmt_grok_name(ls_userfmt_grok_count()));
	ls_arena_fini(&a);
}

static void
test_bad_patterns(void **unused)
{
	static const struct {
		const char *pat;
		size_t off;
		const char *msg;
	} bad[] = {
	    {"(?<ts>\\S+", 9, "missing closing parenthesis"},
	    {"a[b", 3, "missing terminating ]"},
	    {"x{2,1}", 5, "out of order"},
	    {"%{IP:client} %{NOPE}", 13, "unknown grok pattern %{NOPE}"},
	    {"%{IP:client} %{IP:client}", 13, "same name"},
	    {"ab %{IP", 7, "expected '}'"},
	    {"%{}", 0, "expected a pattern name"},
	    {"%{IP:9x}", 5, "bad field name"},
	    {"(?<a>x))", 7, "unmatched closing parenthesis"},
	    {"", 0, "empty pattern"},
	};
	(void)unused;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ls_userfmt *f = NULL;
		char err[256] = "";
		size_t off = 99;
		int rc = ls_userfmt_compile(bad[i].pat, strlen(bad[i].pat), &f,
		                            err, sizeof(err), &off);
		if (rc != LS_EPARSE || f != NULL ||
		    strstr(err, bad[i].msg) == NULL || off != bad[i].off)
			fail_msg("'%s': rc %d, '%s' at %zu; want '%s' at %zu",
			         bad[i].pat, rc, err, off, bad[i].msg,
			         bad[i].off);
		char why[256];
		size_t off2 = 0;
		assert_int_equal(ls_userfmt_check(bad[i].pat,
		                                  strlen(bad[i].pat), why,
		                                  sizeof(why), &off2),
		                 1);
		assert_int_equal(off2, bad[i].off);
	}
	char why[64];
	size_t off = 0;
	assert_int_equal(ls_userfmt_check("^ok$", 4, why, sizeof(why), &off), 0);
}

static void
test_runaway_backtracking(void **unused)
{
	ls_arena a;
	ls_event ev;
	const char *why = NULL;
	char line[4096];
	(void)unused;

	ls_arena_init(&a, 0);
	ls_userfmt *f = compile_ok("^(a|aa)+(?:x|y)+$");
	memset(line, 'a', sizeof(line) - 2);
	line[sizeof(line) - 2] = 'b';
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(match(f, line, &ev, &a, &why), LS_EPARSE);
	assert_non_null(why);
	ls_userfmt_free(f);
	ls_arena_fini(&a);
}

static void
test_in_parser(void **unused)
{
	ls_arena a;
	ls_event ev;
	ls_parser p;
	const char *why = NULL;
	(void)unused;

	ls_arena_init(&a, 0);
	ls_userfmt *f = compile_ok("^(?<level>[A-Z]+) (?<message>.+)$");
	ls_parser_init(&p, LS_FMT_AUTO);
	p.custom = f;
	/* The custom format decides, even for a line auto would take. */
	assert_int_equal(ls_parser_parse(&p, "{\"msg\":\"x\"}", 11, &ev, &a,
	                                 &why),
	                 LS_EPARSE);
	assert_non_null(strstr(why, "does not match"));
	assert_int_equal(ls_parser_parse(&p, "INFO ready", 10, &ev, &a, &why),
	                 0);
	assert_int_equal(ev.level, LS_LEVEL_INFO);
	assert_ls(ev.message, "ready");
	assert_int_equal(ls_parser_parse(&p, "   ", 3, &ev, &a, &why),
	                 LS_EPARSE);
	assert_non_null(strstr(why, "empty"));
	ls_userfmt_free(f);
	ls_arena_fini(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_captures_to_fields),
	    cmocka_unit_test(test_grok),
	    cmocka_unit_test(test_bad_patterns),
	    cmocka_unit_test(test_runaway_backtracking),
	    cmocka_unit_test(test_in_parser),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
