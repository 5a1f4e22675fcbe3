/*
 * parse_test.c -- every log format's fields on hand-written lines, and
 * broken lines that must fail with LS_EPARSE and a reason.
 *
 * Each line is copied into an exact-size heap buffer before parsing, so a
 * read past its end shows up under the sanitizers and valgrind.  Expected
 * times are hand-computed Unix seconds.
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
#include "actors/timefmt.h"
#include "runtime/err.h"

#define S(x) ((int64_t)(x)*1000000000LL)

struct fixture {
	ls_arena arena;
	ls_event ev;
	char *copy; /* the line being parsed; events borrow from it */
	size_t len;
	const char *reason;
	int year; /* default_year given to the parser */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	ls_arena_init(&f->arena, 0);
	f->year = 2003;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	ls_arena_fini(&f->arena);
	free(f->copy);
	free(f);
	return 0;
}

/* Parse n bytes of line (from an exact-size copy) as format fmt. */
static int
parse_n(struct fixture *f, ls_format fmt, const char *line, size_t n)
{
	ls_parser p;

	free(f->copy);
	f->copy = malloc(n != 0 ? n : 1);
	assert_non_null(f->copy);
	memcpy(f->copy, line, n);
	f->len = n;
	ls_arena_reset(&f->arena);
	ls_parser_init(&p, fmt);
	p.default_year = f->year;
	f->reason = NULL;
	return ls_parser_parse(&p, f->copy, n, &f->ev, &f->arena, &f->reason);
}

static int
parse(struct fixture *f, ls_format fmt, const char *line)
{
	return parse_n(f, fmt, line, strlen(line));
}

/* Parse a line that must succeed, as fmt and as auto. */
static void
parse_ok(struct fixture *f, ls_format fmt, const char *line)
{
	int rc = parse(f, LS_FMT_AUTO, line);
	if (rc != 0)
		fail_msg("auto: rc %d (%s) for: %s", rc, f->reason, line);
	rc = parse(f, fmt, line);
	if (rc != 0)
		fail_msg("%s: rc %d (%s) for: %s", ls_format_name(fmt), rc,
		         f->reason, line);
}

/* A line that must fail with LS_EPARSE and a reason containing word. */
static void
parse_bad(struct fixture *f, ls_format fmt, const char *line, size_t n,
          const char *word)
{
	int rc = parse_n(f, fmt, line, n);
	if (rc != LS_EPARSE)
		fail_msg("%s: rc %d, want LS_EPARSE for: %.*s",
		         ls_format_name(fmt), rc, (int)n, line);
	assert_non_null(f->reason);
	if (strstr(f->reason, word) == NULL)
		fail_msg("reason '%s' lacks '%s'", f->reason, word);
}

static void
assert_ls(ls_str got, const char *want)
{
	if (!(got.len == strlen(want) &&
	      (got.len == 0 || memcmp(got.ptr, want, got.len) == 0)))
		fail_msg("got '%.*s', want '%s'", (int)got.len,
		         got.ptr != NULL ? got.ptr : "", want);
}

/* An attribute (or named field) value; "" when absent. */
static void
assert_field(const ls_event *ev, const char *name, const char *want)
{
	ls_str v;
	int present = ls_event_field(ev, name, strlen(name), &v);
	if (want == NULL) {
		if (present)
			fail_msg("field %s present: '%.*s'", name, (int)v.len,
			         v.ptr);
		return;
	}
	if (!present)
		fail_msg("field %s absent, want '%s'", name, want);
	assert_ls(v, want);
}

/* 1 when s points into the fixture's copy of the line (borrowed). */
static int
borrowed(const struct fixture *f, ls_str s)
{
	return s.ptr >= f->copy && s.ptr + s.len <= f->copy + f->len;
}

/* ---- names ---- */

static void
test_format_names(void **state)
{
	static const char *const names[] = {
	    "auto",        "json",    "logfmt", "syslog",
	    "rfc3164",     "rfc5424", "clf",    "apache_error",
	    "nginx_error", "log4j",   "bgl",          "freeform"};
	ls_format f = LS_FMT_JSON;

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), LS_FMT_COUNT);
	for (int i = 0; i < LS_FMT_COUNT; i++) {
		assert_int_equal(ls_format_from_name(names[i], &f), 0);
		assert_int_equal(f, i);
		assert_string_equal(ls_format_name(f), names[i]);
	}
	f = LS_FMT_CLF;
	assert_int_equal(ls_format_from_name("JSON", &f), LS_EINVAL);
	assert_int_equal(ls_format_from_name("", &f), LS_EINVAL);
	assert_int_equal(ls_format_from_name(NULL, &f), LS_EINVAL);
	assert_int_equal(f, LS_FMT_CLF);
	assert_string_equal(ls_format_name(LS_FMT_COUNT), "unknown");
}

/* ---- syslog ---- */

static void
test_rfc5424(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	/* RFC 5424 6.5 example 3, with a BOM before the MSG. */
	parse_ok(
	    f, LS_FMT_RFC5424,
	    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - "
	    "ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
	    "eventID=\"1011\"] \xEF\xBB\xBF"
	    "An application event log entry...");
	assert_int_equal(ev->time_ns, S(1065910455) + 3000000);
	assert_int_equal(ev->level, LS_LEVEL_NOTICE); /* 165 = local4.notice */
	assert_ls(ev->level_text, "notice");
	assert_field(ev, "facility", "local4");
	assert_ls(ev->host, "mymachine.example.com");
	assert_ls(ev->service, "evntslog");
	assert_field(ev, "pid", NULL); /* NILVALUE */
	assert_field(ev, "msgid", "ID47");
	assert_field(ev, "iut", "3");
	assert_field(ev, "eventSource", "Application");
	assert_field(ev, "eventID", "1011");
	assert_ls(ev->message, "An application event log entry...");
	assert_int_equal(f->arena.used, 0);

	/* Also through the detecting "syslog" format. */
	assert_int_equal(parse(f, LS_FMT_SYSLOG,
	                       "<34>1 2003-08-24T05:14:15.000003-07:00 "
	                       "192.0.2.1 myproc 8710 - - %% It's time to make "
	                       "the do-nuts."),
	                 0);
	assert_int_equal(ev->time_ns, S(1061727255) + 3000);
	assert_int_equal(ev->level, LS_LEVEL_FATAL); /* auth.crit */
	assert_ls(ev->level_text, "crit");
	assert_field(ev, "facility", "auth");
	assert_ls(ev->host, "192.0.2.1");
	assert_ls(ev->service, "myproc");
	assert_field(ev, "pid", "8710");
	assert_field(ev, "msgid", NULL);
	assert_ls(ev->message, "%% It's time to make the do-nuts.");

	/* All NILVALUE, no MSG. */
	parse_ok(f, LS_FMT_RFC5424, "<13>1 - - - - - -");
	assert_int_equal(ev->time_ns, LS_TIME_UNKNOWN);
	assert_ls(ev->host, "");
	assert_ls(ev->service, "");
	assert_ls(ev->message, "");
	assert_int_equal(ev->level, LS_LEVEL_NOTICE);

	/* Two SD elements, escapes in a PARAM-VALUE (unescaped into the
	 * arena), and an empty value. */
	parse_ok(
	    f, LS_FMT_RFC5424,
	    "<14>1 2003-10-11T22:14:15Z h app 1 - [a@1 x=\"q\\\"uo\\\\te\\]d\" "
	    "e=\"\"][b@2 y=\"2\"] body");
	assert_field(ev, "x", "q\"uo\\te]d");
	assert_field(ev, "e", "");
	assert_field(ev, "y", "2");
	assert_ls(ev->message, "body");
	assert_true(f->arena.used > 0);
}

static void
test_rfc3164(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	/* RFC 3164 5.4 example 1. */
	parse_ok(
	    f, LS_FMT_RFC3164,
	    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick "
	    "on /dev/pts/8");
	assert_int_equal(ev->time_ns, S(1065910455)); /* default_year 2003 */
	assert_int_equal(ev->level, LS_LEVEL_FATAL);
	assert_ls(ev->level_text, "crit");
	assert_field(ev, "facility", "auth");
	assert_ls(ev->host, "mymachine");
	assert_ls(ev->service, "su");
	assert_ls(ev->message, "'su root' failed for lonvick on /dev/pts/8");
	assert_true(borrowed(f, ev->message));

	/* Without <PRI> (a syslog file): no level; a pid; trailing spaces
	 * and a CR are dropped. */
	parse_ok(f, LS_FMT_RFC3164,
	         "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication "
	         "failure; logname= uid=0  \r");
	assert_int_equal(ev->level, LS_LEVEL_UNKNOWN);
	assert_ls(ev->level_text, "");
	assert_ls(ev->host, "combo");
	assert_ls(ev->service, "sshd(pam_unix)");
	assert_field(ev, "pid", "19939");
	assert_ls(ev->message, "authentication failure; logname= uid=0");

	/* Sent to /dev/log: no hostname; day padded with a space. */
	parse_ok(f, LS_FMT_SYSLOG, "<13>Feb  5 17:32:18 myprog[123]: hello");
	assert_int_equal(ev->time_ns, S(1044466338));
	assert_ls(ev->host, "");
	assert_ls(ev->service, "myprog");
	assert_field(ev, "pid", "123");
	assert_ls(ev->message, "hello");

	/* A tag with a space, as syslogd writes its own restarts. */
	parse_ok(f, LS_FMT_RFC3164,
	         "Jun 19 04:09:11 combo syslogd 1.4.1: "
	         "restart.");
	assert_ls(ev->service, "syslogd 1.4.1");
	assert_ls(ev->message, "restart.");

	/* No tag at all: everything after the host is the message. */
	parse_ok(f, LS_FMT_RFC3164,
	         "Jun 19 04:09:11 combo last message repeated 3 times");
	assert_ls(ev->host, "combo");
	assert_ls(ev->service, "");
	assert_ls(ev->message, "last message repeated 3 times");

	/* rsyslog's file format: an RFC 3339 timestamp.  "auto" first tries
	 * log4j (ISO timestamp) and falls back to syslog. */
	parse_ok(f, LS_FMT_RFC3164,
	         "2024-03-01T10:00:00.5+01:00 web01 nginx[42]: started");
	assert_int_equal(ev->time_ns, S(1709283600) + 500000000);
	assert_ls(ev->host, "web01");
	assert_ls(ev->service, "nginx");
	assert_field(ev, "pid", "42");
	assert_ls(ev->message, "started");

	/* A PRI and no valid timestamp: all message (RFC 3164 4.3.2). */
	parse_ok(f, LS_FMT_RFC3164, "<13>hello world");
	assert_int_equal(ev->time_ns, LS_TIME_UNKNOWN);
	assert_int_equal(ev->level, LS_LEVEL_NOTICE);
	assert_ls(ev->message, "hello world");
}

static void
test_syslog_current_year(void **state)
{
	struct fixture *f = *state;
	int64_t y;
	unsigned m, d;

	/* default_year 0: this year, or last year for a date more than a
	 * week ahead. */
	f->year = 0;
	assert_int_equal(parse(f, LS_FMT_RFC3164, "Jan  1 00:00:00 h p: x"), 0);
	ls_timefmt_civil_from_days(f->ev.time_ns / S(86400), &y, &m, &d);
	assert_int_equal(y, ls_timefmt_current_year());
	assert_int_equal(m, 1);
	assert_int_equal(d, 1);
}

/* ---- Apache / nginx ---- */

static void
test_clf(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	/* Combined log format (Apache documentation example). */
	parse_ok(f, LS_FMT_CLF,
	         "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET "
	         "/apache_pb.gif HTTP/1.0\" 200 2326 "
	         "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] "
	         "(Win98; I ;Nav)\"");
	assert_int_equal(ev->time_ns, S(971211336));
	assert_field(ev, "remote_addr", "127.0.0.1");
	assert_field(ev, "ident", NULL);
	assert_field(ev, "user", "frank");
	assert_field(ev, "method", "GET");
	assert_field(ev, "path", "/apache_pb.gif");
	assert_field(ev, "protocol", "HTTP/1.0");
	assert_field(ev, "status", "200");
	assert_field(ev, "bytes", "2326");
	assert_field(ev, "referrer", "http://www.example.com/start.html");
	assert_field(ev, "user_agent", "Mozilla/4.08 [en] (Win98; I ;Nav)");
	assert_ls(ev->message, "GET /apache_pb.gif HTTP/1.0");
	assert_int_equal(ev->level, LS_LEVEL_INFO);
	assert_ls(ev->level_text, "");

	/* Common format with "-" fields: absent attributes; 404 is WARN. */
	parse_ok(f, LS_FMT_CLF,
	         "192.168.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /x?a=1 "
	         "HTTP/1.1\" 404 -");
	assert_field(ev, "user", NULL);
	assert_field(ev, "bytes", NULL);
	assert_field(ev, "status", "404");
	assert_field(ev, "path", "/x?a=1");
	assert_field(ev, "referrer", NULL);
	assert_int_equal(ev->level, LS_LEVEL_WARN);

	/* Escaped quotes inside a field, "-" referrer, an extra field. */
	parse_ok(
	    f, LS_FMT_CLF,
	    "::1 - - [10/Oct/2000:13:55:36 +0000] \"POST /api HTTP/2.0\" 503 "
	    "12 \"-\" \"curl \\\"7.88\\\"\" \"10.0.0.1\"");
	assert_field(ev, "remote_addr", "::1");
	assert_field(ev, "referrer", NULL);
	assert_field(ev, "user_agent", "curl \\\"7.88\\\"");
	assert_field(ev, "extra", "\"10.0.0.1\"");
	assert_int_equal(ev->level, LS_LEVEL_ERROR);
	assert_int_equal(ev->time_ns, S(971186136));

	/* A request line that is not "METHOD path proto" (a TLS hello sent
	 * to a plain port, as nginx logs it) stays only the message. */
	parse_ok(f, LS_FMT_CLF,
	         "10.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "
	         "\"\\x16\\x03\\x01\\x00\" 400 150");
	assert_ls(ev->message, "\\x16\\x03\\x01\\x00");
	assert_field(ev, "method", NULL);
	assert_field(ev, "status", "400");
}

static void
test_apache_error(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	/* Apache 2.4 layout. */
	parse_ok(f, LS_FMT_APACHE_ERROR,
	         "[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid "
	         "35708:tid 4328636416] [client 72.15.99.187:51234] AH00128: "
	         "File does not exist: /usr/local/apache2/htdocs/favicon.ico");
	assert_int_equal(ev->time_ns, S(1315564949) + 902022000);
	assert_field(ev, "module", "core");
	assert_ls(ev->level_text, "error");
	assert_int_equal(ev->level, LS_LEVEL_ERROR);
	assert_field(ev, "pid", "35708");
	assert_field(ev, "tid", "4328636416");
	assert_field(ev, "remote_addr", "72.15.99.187:51234");
	assert_ls(ev->message, "AH00128: File does not exist: "
	                       "/usr/local/apache2/htdocs/favicon.ico");

	/* Apache 2.2 layout, as in the Loghub sample. */
	parse_ok(f, LS_FMT_APACHE_ERROR,
	         "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok "
	         "/etc/httpd/conf/workers2.properties");
	assert_int_equal(ev->time_ns, S(1133671664));
	assert_int_equal(ev->level, LS_LEVEL_NOTICE);
	assert_ls(ev->message,
	          "workerEnv.init() ok /etc/httpd/conf/workers2.properties");
	assert_int_equal(ev->nattrs, 0);
}

static void
test_nginx_error(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	parse_ok(
	    f, LS_FMT_NGINX_ERROR,
	    "2011/06/10 13:30:10 [error] 12345#0: *1 open() "
	    "\"/usr/share/nginx/html/favicon.ico\" failed (2: No such file or "
	    "directory), client: 127.0.0.1, server: localhost, request: "
	    "\"GET /favicon.ico HTTP/1.1\", host: \"localhost:8080\"");
	assert_int_equal(ev->time_ns, S(1307712610));
	assert_int_equal(ev->level, LS_LEVEL_ERROR);
	assert_ls(ev->level_text, "error");
	assert_field(ev, "pid", "12345");
	assert_field(ev, "tid", "0");
	assert_field(ev, "connection", "1");
	assert_ls(ev->message, "open() \"/usr/share/nginx/html/favicon.ico\" "
	                       "failed (2: No such file or directory)");
	assert_field(ev, "remote_addr", "127.0.0.1");
	assert_field(ev, "server", "localhost");
	assert_field(ev, "request", "GET /favicon.ico HTTP/1.1");
	assert_field(ev, "http_host", "localhost:8080");

	parse_ok(f, LS_FMT_NGINX_ERROR,
	         "2024/01/05 10:00:00 [notice] 1#1: signal process started");
	assert_int_equal(ev->level, LS_LEVEL_NOTICE);
	assert_ls(ev->message, "signal process started");
	assert_field(ev, "connection", NULL);
}

/* ---- log4j family and BGL ---- */

static void
test_log4j(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	/* PatternLayout "%d [%t] %-5p %c - %m". */
	parse_ok(f, LS_FMT_LOG4J,
	         "2024-01-05 10:00:00,123 [main] INFO  "
	         "org.example.App - Started in 3 s");
	assert_int_equal(ev->time_ns, S(1704448800) + 123000000);
	assert_field(ev, "thread", "main");
	assert_int_equal(ev->level, LS_LEVEL_INFO);
	assert_ls(ev->level_text, "INFO");
	assert_field(ev, "component", "org.example.App");
	assert_ls(ev->message, "Started in 3 s");

	/* Spring Boot. */
	parse_ok(f, LS_FMT_LOG4J,
	         "2024-01-05 10:00:00.123  WARN 4242 --- [           main] "
	         "o.s.b.StartupInfoLogger                  : Starting App");
	assert_int_equal(ev->level, LS_LEVEL_WARN);
	assert_field(ev, "pid", "4242");
	assert_field(ev, "thread", "main");
	assert_field(ev, "component", "o.s.b.StartupInfoLogger");
	assert_ls(ev->message, "Starting App");

	/* The four Loghub layouts. */
	parse_ok(
	    f, LS_FMT_LOG4J,
	    "081109 203615 148 INFO dfs.DataNode$PacketResponder: "
	    "PacketResponder 1 for block blk_38865049064139660 terminating");
	assert_field(ev, "pid", "148");
	assert_field(ev, "component", "dfs.DataNode$PacketResponder");
	assert_ls(
	    ev->message,
	    "PacketResponder 1 for block blk_38865049064139660 terminating");
	parse_ok(f, LS_FMT_LOG4J,
	         "2015-10-18 18:01:47,978 INFO [main] "
	         "org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created "
	         "MRAppMaster");
	assert_field(ev, "thread", "main");
	assert_field(ev, "component",
	             "org.apache.hadoop.mapreduce.v2.app.MRAppMaster");
	parse_ok(
	    f, LS_FMT_LOG4J,
	    "17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls "
	    "to: yarn,curi");
	assert_int_equal(ev->time_ns, S(1497039040));
	assert_field(ev, "component", "spark.SecurityManager");
	assert_ls(ev->message, "Changing view acls to: yarn,curi");
	parse_ok(
	    f, LS_FMT_LOG4J,
	    "2015-07-29 17:41:44,747 - INFO  "
	    "[QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] "
	    "- Notification time out: 3200");
	assert_field(ev, "thread", "QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181");
	assert_field(ev, "component", "FastLeaderElection");
	assert_field(ev, "line", "774");
	assert_ls(ev->message, "Notification time out: 3200");
}

static void
test_bgl(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	parse_ok(f, LS_FMT_BGL,
	         "APPREAD 1117869872 2005.06.04 R04-M1-N4-I:J18-U11 "
	         "2005-06-04-00.24.32.432192 R04-M1-N4-I:J18-U11 RAS APP FATAL "
	         "ciod: failed to read message prefix on control stream");
	/* The epoch field is UTC; the local wall clock gives the fraction. */
	assert_int_equal(ev->time_ns, S(1117869872) + 432192000);
	assert_field(ev, "label", "APPREAD");
	assert_ls(ev->host, "R04-M1-N4-I:J18-U11");
	assert_field(ev, "type", "RAS");
	assert_field(ev, "component", "APP");
	assert_int_equal(ev->level, LS_LEVEL_FATAL);
	assert_ls(ev->level_text, "FATAL");
	assert_ls(ev->message,
	          "ciod: failed to read message prefix on control stream");
}

/* ---- JSON and logfmt ---- */

static void
test_json(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	/* The corpus format of tools/make_corpus.py: all borrowed. */
	parse_ok(
	    f, LS_FMT_JSON,
	    "{\"ts\":\"2024-03-01T00:00:00.123Z\",\"service\":\"Apache\","
	    "\"level\":\"INFO\",\"host\":\"web-03\",\"message\":\"jk2_init() "
	    "Found child 6725\"}");
	assert_int_equal(ev->time_ns, S(1709251200) + 123000000);
	assert_ls(ev->service, "Apache");
	assert_int_equal(ev->level, LS_LEVEL_INFO);
	assert_ls(ev->level_text, "INFO");
	assert_ls(ev->host, "web-03");
	assert_ls(ev->message, "jk2_init() Found child 6725");
	assert_int_equal(ev->nattrs, 0);
	assert_true(borrowed(f, ev->message));
	assert_int_equal(f->arena.used, 0);

	/* Escapes, \u incl. a surrogate pair, scalars, nested, null. */
	parse_ok(f, LS_FMT_JSON,
	         " { \"msg\" : \"a \\\"q\\\"\\n\\t\\\\ \\/ \\u00e9\\u20ac"
	         "\\ud83d\\ude00\" , \"n\":-4.5e3, \"ok\":true, \"no\":false, "
	         "\"nested\":{\"a\":[1,{\"b\":\"\\u0041\"}]}, \"arr\":[], "
	         "\"nil\":null, \"k\\u0065y\":\"v\" } ");
	assert_ls(ev->message,
	          "a \"q\"\n\t\\ / \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
	assert_false(borrowed(f, ev->message)); /* rewritten in the arena */
	assert_field(ev, "n", "-4.5e3");
	assert_field(ev, "ok", "true");
	assert_field(ev, "no", "false");
	assert_field(ev, "nested", "{\"a\":[1,{\"b\":\"\\u0041\"}]}");
	assert_field(ev, "arr", "[]");
	assert_field(ev, "nil", NULL);
	assert_field(ev, "key", "v");
	assert_int_equal(ev->time_ns, LS_TIME_UNKNOWN);

	/* Lone surrogates become U+FFFD. */
	parse_ok(f, LS_FMT_JSON, "{\"msg\":\"x\\ud800y\\udc00\"}");
	assert_ls(ev->message, "x\xEF\xBF\xBDy\xEF\xBF\xBD");

	/* Epoch numbers: milliseconds and fractional seconds; synonyms. */
	parse_ok(f, LS_FMT_JSON,
	         "{\"time\":1709251200123,\"lvl\":\"warn\","
	         "\"app\":\"db\",\"hostname\":\"h1\"}");
	assert_int_equal(ev->time_ns, S(1709251200) + 123000000);
	assert_int_equal(ev->level, LS_LEVEL_WARN);
	assert_ls(ev->service, "db");
	assert_ls(ev->host, "h1");
	parse_ok(f, LS_FMT_JSON, "{\"@timestamp\":1709251200.25}");
	assert_int_equal(ev->time_ns, S(1709251200) + 250000000);

	/* pino/bunyan numeric levels; "logger" is the service. */
	parse_ok(f, LS_FMT_JSON,
	         "{\"level\":50,\"time\":\"1709251200\",\"msg\":\"boom\","
	         "\"logger\":\"api\"}");
	assert_int_equal(ev->level, LS_LEVEL_ERROR);
	assert_ls(ev->level_text, "50");
	assert_ls(ev->service, "api");
	assert_int_equal(ev->time_ns, S(1709251200));

	/* A time that does not parse stays an attribute; a repeated
	 * well-known key becomes an attribute too. */
	parse_ok(f, LS_FMT_JSON,
	         "{\"time\":\"yesterday\",\"msg\":\"a\","
	         "\"message\":\"b\"}");
	assert_int_equal(ev->time_ns, LS_TIME_UNKNOWN);
	assert_field(ev, "time", "yesterday");
	assert_ls(ev->message, "a");
	assert_field(ev, "message", "a");
	assert_ls(ev->attrs[1].key, "message");
	assert_ls(ev->attrs[1].val, "b");

	/* More keys than attribute slots: the rest are dropped, the line
	 * still parses. */
	char big[1024];
	size_t off = (size_t)snprintf(big, sizeof(big), "{\"msg\":\"m\"");
	for (int i = 0; i < 20; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off,
		                        ",\"k%d\":%d", i, i);
	snprintf(big + off, sizeof(big) - off, "}");
	parse_ok(f, LS_FMT_JSON, big);
	assert_int_equal(ev->nattrs, LS_EVENT_MAX_ATTRS);
	assert_field(ev, "k15", "15");
	assert_field(ev, "k16", NULL);
	assert_ls(ev->message, "m");

	parse_ok(f, LS_FMT_JSON, "{}");
	assert_int_equal(ev->nattrs, 0);
}

static void
test_logfmt(void **state)
{
	struct fixture *f = *state;
	ls_event *ev = &f->ev;

	parse_ok(
	    f, LS_FMT_LOGFMT,
	    "ts=2024-03-01T00:00:00Z level=warn msg=\"disk almost "
	    "\\\"full\\\"\\n\" service=db host=h1 pct=93.5 flag path=/a=b");
	assert_int_equal(ev->time_ns, S(1709251200));
	assert_int_equal(ev->level, LS_LEVEL_WARN);
	assert_ls(ev->level_text, "warn");
	assert_ls(ev->message, "disk almost \"full\"\n");
	assert_ls(ev->service, "db");
	assert_ls(ev->host, "h1");
	assert_field(ev, "pct", "93.5");
	assert_field(ev, "flag", "");
	assert_field(ev, "path", "/a=b");

	parse_ok(f, LS_FMT_LOGFMT, "a=1 b=\"two words\"   c=");
	assert_field(ev, "a", "1");
	assert_field(ev, "b", "two words");
	assert_field(ev, "c", "");
	assert_true(borrowed(f, ev->attrs[1].val)); /* no escapes: borrowed */
	assert_int_equal(f->arena.used, 0);
}

/* ---- broken input ---- */

static void
bad(struct fixture *f, ls_format fmt, const char *line, const char *word)
{
	parse_bad(f, fmt, line, strlen(line), word);
}

static void
test_broken(void **state)
{
	struct fixture *f = *state;
	char deep[200];

	for (int fmt = 0; fmt < LS_FMT_COUNT; fmt++) {
		bad(f, (ls_format)fmt, "", "empty");
		bad(f, (ls_format)fmt, "  \t ", "empty");
		bad(f, (ls_format)fmt, "\r", "empty");
	}

	/* JSON */
	bad(f, LS_FMT_JSON, "{\"a\":\"b", "unterminated string");
	bad(f, LS_FMT_JSON, "{\"a\":\"b\"", "unterminated object");
	bad(f, LS_FMT_JSON, "{\"a\":\"b\",", "unterminated object");
	bad(f, LS_FMT_JSON, "{\"a\":}", "bad number");
	bad(f, LS_FMT_JSON, "{\"a\" \"b\"}", "expected ':'");
	bad(f, LS_FMT_JSON, "{a:1}", "expected string key");
	bad(f, LS_FMT_JSON, "{\"a\":1} x", "trailing");
	bad(f, LS_FMT_JSON, "{\"a\":1 \"b\":2}", "expected ','");
	bad(f, LS_FMT_JSON, "[1,2]", "expected '{'");
	bad(f, LS_FMT_JSON, "{\"a\":\"\\x\"}", "bad escape");
	bad(f, LS_FMT_JSON, "{\"a\":\"\\u12g4\"}", "\\u escape");
	bad(f, LS_FMT_JSON, "{\"a\":\"x\ty\"}", "control character");
	bad(f, LS_FMT_JSON, "{\"a\":tru}", "bad literal");
	bad(f, LS_FMT_JSON, "{\"a\":01}", "expected ','");
	bad(f, LS_FMT_JSON, "{\"a\":1.}", "bad number");
	bad(f, LS_FMT_JSON, "{\"a\":[1,]}", "bad number");
	bad(f, LS_FMT_JSON, "{\"a\":{\"b\":1]}", "expected ','");
	memset(deep, '[', sizeof(deep));
	memcpy(deep, "{\"a\":", 5);
	parse_bad(f, LS_FMT_JSON, deep, sizeof(deep), "nested too deeply");
	/* Never reads past len: the closing brace is outside. */
	parse_bad(f, LS_FMT_JSON, "{\"a\":\"b\"}", 8, "unterminated");

	/* syslog */
	bad(f, LS_FMT_SYSLOG, "<999>1 - - - - - -", "bad <PRI>");
	bad(f, LS_FMT_SYSLOG, "<192>Oct 11 22:14:15 h su: x", "bad <PRI>");
	bad(f, LS_FMT_SYSLOG, "<abc>Oct 11 22:14:15 h su: x", "bad <PRI>");
	bad(f, LS_FMT_RFC3164, "<13", "bad <PRI>");
	bad(f, LS_FMT_RFC5424, "<013>1 - - - - - -", "bad <PRI>");
	bad(f, LS_FMT_RFC5424, "<13>2 - - - - - -", "version");
	bad(f, LS_FMT_RFC5424, "<13>1 2003-10-11T22:14:15Z host app",
	    "truncated");
	bad(f, LS_FMT_RFC5424, "<13>1 yesterday h a p m -", "TIMESTAMP");
	bad(f, LS_FMT_RFC5424, "<13>1 - h a p m [x a=\"1] msg",
	    "unterminated PARAM-VALUE");
	bad(f, LS_FMT_RFC5424, "<13>1 - h a p m [x a=1] msg", "SD-PARAM");
	bad(f, LS_FMT_RFC5424, "<13>1 - h a p m [x a=\"1\"", "SD-ELEMENT");
	bad(f, LS_FMT_RFC5424, "<13>1 - h a p m x", "STRUCTURED-DATA");
	bad(f, LS_FMT_RFC3164, "hello world", "no timestamp");
	bad(f, LS_FMT_RFC3164, "Oct 32 22:14:15 h su: x", "no timestamp");

	/* access / error logs */
	bad(f, LS_FMT_CLF, "127.0.0.1 - - 10/Oct/2000:13:55:36 -0700 \"GET\"",
	    "not CLF");
	bad(f, LS_FMT_CLF, "127.0.0.1 - - [10/Oct/2000:13:55:36] \"GET\" 200 1",
	    "bad [time]");
	bad(f, LS_FMT_CLF,
	    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / 200 1",
	    "unterminated");
	bad(f, LS_FMT_CLF,
	    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /\" OK 1",
	    "bad status");
	bad(f, LS_FMT_APACHE_ERROR, "[Sun Dec 04 04:47:44] [notice] x",
	    "expected [time]");
	bad(f, LS_FMT_NGINX_ERROR, "2011/06/10 13:30:10 error x",
	    "expected [level]");

	/* log4j / BGL */
	bad(f, LS_FMT_LOG4J, "2015-10-18 18:01:47,978 [main] hello world",
	    "no level");
	bad(f, LS_FMT_LOG4J, "2015-13-18 18:01:47,978 INFO x: y",
	    "no timestamp");
	bad(f, LS_FMT_BGL, "- 1117838570 2005.06.03 R02", "too few fields");
	bad(f, LS_FMT_BGL,
	    "- 1117838570 2005.06.03 R02 2005-06-03T15:42:50 R02 RAS KERNEL "
	    "INFO x",
	    "bad time");

	/* logfmt */
	bad(f, LS_FMT_LOGFMT, "a=\"unterminated", "unterminated quoted");
	bad(f, LS_FMT_LOGFMT, "hello world", "no key=value");
	bad(f, LS_FMT_LOGFMT, "a=\"x\"y", "after a quoted value");
	bad(f, LS_FMT_LOGFMT, "=x", "expected a key");
}

/* ---- the fallback: lines no format knows ---- */

/* Unix ns of a UTC civil time, via the C library (independent of
 * actors/timefmt.c). */
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

#define NOTIME INT64_MIN

/* Realistic lines of formats no built-in parser knows (none of them was
 * used to tune the scanner): under auto every one is an event with this
 * time (NOTIME: none in the line) and level (level_text as written, ""
 * for none).  A line taken by the fallback has the whole line as its
 * message and time_source set. */
static const struct anyline {
	const char *line;
	int64_t time;
	ls_level level;
	const char *level_text;
} anylines[] = {
    /* Android logcat, threadtime and brief */
    {"12-07 09:30:00.123  1234  5678 E ActivityManager: ANR in "
     "com.example.app",
     0, LS_LEVEL_ERROR, "E"},
    {"12-07 09:30:01.456  1234  1290 D NetworkMonitor/100: PROBE_DNS "
     "www.google.com 12ms OK",
     1, LS_LEVEL_DEBUG, "D"},
    {"W/ActivityManager( 1234): Slow operation: 120ms so far", NOTIME,
     LS_LEVEL_WARN, "W"},
    /* Java stack traces and java.util.logging */
    {"Exception in thread \"main\" java.lang.NullPointerException: Cannot "
     "invoke \"String.length()\"",
     NOTIME, LS_LEVEL_UNKNOWN, ""},
    {"\tat org.example.Foo.bar(Foo.java:42)", NOTIME, LS_LEVEL_UNKNOWN, ""},
    {"\t... 23 more", NOTIME, LS_LEVEL_UNKNOWN, ""},
    {"Caused by: java.io.IOException: Connection reset by peer", NOTIME,
     LS_LEVEL_UNKNOWN, ""},
    {"Dec 07, 2026 9:30:00 AM org.apache.catalina.startup.Catalina start",
     2, LS_LEVEL_UNKNOWN, ""},
    {"SEVERE: Failed to initialize end point associated with "
     "ProtocolHandler [\"http-nio-8080\"]",
     NOTIME, LS_LEVEL_FATAL, "SEVERE"},
    /* Python */
    {"Traceback (most recent call last):", NOTIME, LS_LEVEL_UNKNOWN, ""},
    {"  File \"/app/main.py\", line 10, in <module>", NOTIME,
     LS_LEVEL_UNKNOWN, ""},
    {"ValueError: invalid literal for int() with base 10: 'abc'", NOTIME,
     LS_LEVEL_UNKNOWN, ""},
    {"ERROR:root:Something went wrong", NOTIME, LS_LEVEL_ERROR, "ERROR"},
    {"2026-12-07 09:30:00,123 - myapp.db - WARNING - Connection pool "
     "exhausted",
     3, LS_LEVEL_WARN, "WARNING"},
    {"[2026-12-07 09:30:00,123] {scheduler_job.py:42} CRITICAL - "
     "Scheduler crashed",
     3, LS_LEVEL_FATAL, "CRITICAL"},
    /* Go: the log package and zap's console encoder */
    {"2026/12/07 09:30:00 http: TLS handshake error from 10.0.0.1:5555: "
     "EOF",
     2, LS_LEVEL_ERROR, "error"},
    {"2026-12-07T09:30:00.123+01:00\twarn\tserver/main.go:42\tslow "
     "request\t{\"ms\": 950}",
     4, LS_LEVEL_WARN, "warn"},
    /* Kubernetes klog */
    {"I1207 09:30:00.123456       1 controller.go:42] Starting "
     "controller",
     5, LS_LEVEL_INFO, "I"},
    {"E1207 09:30:01.000001    1 reflector.go:138] Failed to watch "
     "*v1.Pod: unauthorized",
     6, LS_LEVEL_ERROR, "E"},
    /* Windows event text (wevtutil /f:text) and Event Viewer copy */
    {"  Date: 2026-12-07T09:30:00.1230000Z", 3, LS_LEVEL_UNKNOWN, ""},
    {"  Level: Error", NOTIME, LS_LEVEL_ERROR, "Error"},
    {"Warning\t12/7/2026 9:30:00 PM\tService Control Manager\t7031\tNone",
     7, LS_LEVEL_WARN, "Warning"},
    /* HAProxy without a syslog header */
    {"10.0.0.1:54321 [07/Dec/2026:09:30:00.123] http-in backend/srv1 "
     "0/0/1/2/3 200 512 - - ---- 1/1/0/0/0 0/0 \"GET /index.html "
     "HTTP/1.1\"",
     3, LS_LEVEL_UNKNOWN, ""},
    /* PostgreSQL, MySQL 8 and 5.7, redis */
    {"2026-12-07 09:30:00.123 UTC [123] ERROR:  relation \"users\" does "
     "not exist at character 15",
     3, LS_LEVEL_ERROR, "ERROR"},
    {"2026-12-07 10:30:00.123 CET [123] WARNING:  there is no "
     "transaction in progress",
     8, LS_LEVEL_WARN, "WARNING"},
    {"2026-12-07T09:30:00.123456Z 0 [Warning] [MY-010068] [Server] CA "
     "certificate ca.pem is self signed.",
     9, LS_LEVEL_WARN, "Warning"},
    {"2026-12-07 09:30:00 12345 [ERROR] InnoDB: Unable to lock "
     "./ibdata1, error: 11",
     0 + 10, LS_LEVEL_ERROR, "ERROR"},
    {"1:M 07 Dec 2026 09:30:00.123 * Ready to accept connections tcp", 3,
     LS_LEVEL_NOTICE, "*"},
    {"1:M 07 Dec 2026 09:30:00.123 # WARNING overcommit_memory is set to "
     "0!",
     3, LS_LEVEL_WARN, "#"},
    /* Ruby Logger, Proxifier, HealthApp, epoch stamps */
    {"I, [2026-12-07T09:30:00.123456 #1234]  INFO -- : Started GET "
     "\"/\" for 127.0.0.1",
     9, LS_LEVEL_INFO, "INFO"},
    {"[12.07 09:30:00] chrome.exe - www.example.com:443 open through "
     "proxy proxy.example.com:5070 HTTPS",
     10, LS_LEVEL_UNKNOWN, ""},
    {"20261207-09:30:00:123|Step_LSC|30002312|onStandStepChanged 3579",
     3, LS_LEVEL_UNKNOWN, ""},
    {"1796635800 web-1 cpu 0.93 mem 0.41", 10, LS_LEVEL_UNKNOWN, ""},
    {"[1796635800123] GET /healthz 200 debug", 3, LS_LEVEL_DEBUG,
     "debug"},
    {"Mon Dec  7 09:30:00 2026 watchdog: heartbeat missed", 10,
     LS_LEVEL_UNKNOWN, ""},
    {"Grüße aus Köln: Sicherung fehlgeschlagen (Fehler 5) [warn]", NOTIME,
     LS_LEVEL_WARN, "warn"},
};

/* The expected instants, by the code in anylines[].time. */
static int64_t
anyline_time(int64_t code)
{
	switch (code) {
	case 0:
		return utc(2026, 12, 7, 9, 30, 0, 123000000);
	case 1:
		return utc(2026, 12, 7, 9, 30, 1, 456000000);
	case 2:
		return utc(2026, 12, 7, 9, 30, 0, 0);
	case 3:
		return utc(2026, 12, 7, 9, 30, 0, 123000000);
	case 4:
		return utc(2026, 12, 7, 8, 30, 0, 123000000);
	case 5:
		return utc(2026, 12, 7, 9, 30, 0, 123456000);
	case 6:
		return utc(2026, 12, 7, 9, 30, 1, 1000);
	case 7:
		return utc(2026, 12, 7, 21, 30, 0, 0);
	case 8: /* a zone name other than UTC/GMT is not known: UTC */
		return utc(2026, 12, 7, 10, 30, 0, 123000000);
	case 9:
		return utc(2026, 12, 7, 9, 30, 0, 123456000);
	case 10:
		return utc(2026, 12, 7, 9, 30, 0, 0);
	default:
		return code;
	}
}

static void
test_fallback_lines(void **state)
{
	struct fixture *f = *state;

	f->year = 2026;
	for (size_t i = 0; i < sizeof(anylines) / sizeof(anylines[0]); i++) {
		const struct anyline *a = &anylines[i];
		int64_t want = anyline_time(a->time);
		int rc = parse(f, LS_FMT_AUTO, a->line);
		if (rc != 0)
			fail_msg("rc %d (%s) for: %s", rc, f->reason, a->line);
		if (f->ev.time_ns != want)
			fail_msg("time %lld, want %lld for: %s",
			         (long long)f->ev.time_ns, (long long)want,
			         a->line);
		if (f->ev.level != a->level)
			fail_msg("level %s, want %s for: %s",
			         ls_level_name(f->ev.level),
			         ls_level_name(a->level), a->line);
		assert_ls(f->ev.level_text, a->level_text);
		ls_str src;
		if (ls_event_field(&f->ev, "time_source", 11, &src)) {
			assert_ls(f->ev.message, a->line);
			assert_ls(src, want == NOTIME ? "ingest" : "line");
		}
		/* freeform takes the same line the same way */
		rc = parse(f, LS_FMT_FREEFORM, a->line);
		assert_int_equal(rc, 0);
		assert_ls(f->ev.message, a->line);
		assert_field(&f->ev, "time_source",
		             want == NOTIME ? "ingest" : "line");
	}
}

static void
test_fallback_rules(void **state)
{
	struct fixture *f = *state;
	ls_parser p;
	static const char nul[] = "2026-12-07 09:30:00 a\0b";
	static const char bad_utf8[] = "2026-12-07 oops \xC3\x28 here";
	static const char overlong[] = "slash \xC0\xAF";
	static const char surrogate[] = "x \xED\xA0\x80 y";

	/* The ingest time stands in for a missing timestamp. */
	ls_parser_init(&p, LS_FMT_AUTO);
	assert_int_equal(ls_parser_parse_at(&p, "\tat x.Y.z(Y.java:1)", 19,
	                                    S(1700000000), &f->ev, &f->arena,
	                                    &f->reason),
	                 0);
	assert_int_equal(f->ev.time_ns, S(1700000000));
	assert_field(&f->ev, "time_source", "ingest");
	/* ... but never replaces one the line has. */
	assert_int_equal(ls_parser_parse_at(&p, "x 2026-12-07T09:30:00Z y", 24,
	                                    S(1700000000), &f->ev, &f->arena,
	                                    &f->reason),
	                 0);
	assert_int_equal(f->ev.time_ns, S(1796635800));
	/* Known formats keep their own parse (no time_source). */
	assert_int_equal(parse(f, LS_FMT_AUTO, "{\"msg\":\"x\"}"), 0);
	assert_field(&f->ev, "time_source", NULL);
	/* Under auto a line that breaks its detected format still becomes an
	 * event; the declared format keeps it a dead letter. */
	assert_int_equal(parse(f, LS_FMT_AUTO, "{\"a\":\"b\" ERROR"), 0);
	assert_int_equal(f->ev.level, LS_LEVEL_ERROR);
	bad(f, LS_FMT_JSON, "{\"a\":\"b\" ERROR", "expected ','");
	bad(f, LS_FMT_LOG4J, "2015-10-18 18:01:47,978 [main] hello", "no level");
	/* Not text: a dead letter with the reason. */
	parse_bad(f, LS_FMT_AUTO, nul, sizeof(nul) - 1, "NUL");
	parse_bad(f, LS_FMT_FREEFORM, nul, sizeof(nul) - 1, "NUL");
	bad(f, LS_FMT_AUTO, bad_utf8, "invalid UTF-8");
	bad(f, LS_FMT_AUTO, overlong, "invalid UTF-8");
	bad(f, LS_FMT_AUTO, surrogate, "invalid UTF-8");
	bad(f, LS_FMT_AUTO, "truncated \xE2\x82", "invalid UTF-8");
	/* Level words are whole words; upper case or set off beats prose. */
	assert_int_equal(parse(f, LS_FMT_AUTO, "errors=0 terrorist infos"), 0);
	assert_int_equal(f->ev.level, LS_LEVEL_UNKNOWN);
	assert_int_equal(parse(f, LS_FMT_AUTO, "no error found, state WARN"), 0);
	assert_ls(f->ev.level_text, "WARN");
	assert_int_equal(parse(f, LS_FMT_AUTO, "retry after error"), 0);
	assert_ls(f->ev.level_text, "error");
	/* Implausible epochs and impossible dates are not timestamps. */
	assert_int_equal(parse(f, LS_FMT_AUTO, "id 9999999999 next"), 0);
	assert_int_equal(f->ev.time_ns, LS_TIME_UNKNOWN);
	assert_int_equal(parse(f, LS_FMT_AUTO, "x 2026-02-30 10:00:00 y"), 0);
	assert_int_equal(f->ev.time_ns, LS_TIME_UNKNOWN);
	/* A structured date wins over an earlier epoch-like number. */
	assert_int_equal(parse(f, LS_FMT_AUTO,
	                       "1234567890 at 2026-12-07T09:30:00Z done"),
	                 0);
	assert_int_equal(f->ev.time_ns, S(1796635800));
}

static void
test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	ls_parser p;
	const char *reason = NULL;

	ls_parser_init(&p, LS_FMT_JSON);
	assert_int_equal(p.default_year, 0);
	assert_int_equal(ls_parser_parse(&p, "{}", 2, &f->ev, NULL, &reason),
	                 LS_EINVAL);
	assert_non_null(reason);
	assert_int_equal(
	    ls_parser_parse(&p, NULL, 3, &f->ev, &f->arena, &reason),
	    LS_EINVAL);
	p.format = LS_FMT_COUNT;
	assert_int_equal(
	    ls_parser_parse(&p, "{}", 2, &f->ev, &f->arena, &reason),
	    LS_EINVAL);
	/* reason may be NULL. */
	p.format = LS_FMT_JSON;
	assert_int_equal(ls_parser_parse(&p, "{", 1, &f->ev, &f->arena, NULL),
	                 LS_EPARSE);
	assert_int_equal(ls_parser_parse(&p, "{}", 2, &f->ev, &f->arena, NULL),
	                 0);
}

static void
test_detect(void **state)
{
	static const struct {
		const char *line;
		ls_format want;
	} cases[] = {
	    {"{\"a\":1}", LS_FMT_JSON},
	    {"<13>1 - - - - - -", LS_FMT_SYSLOG},
	    {"<13>Oct 11 22:14:15 h su: x", LS_FMT_SYSLOG},
	    {"Oct 11 22:14:15 h su: x", LS_FMT_RFC3164},
	    {"Jun  1 22:14:15 h su: x", LS_FMT_RFC3164},
	    {"[Sun Dec 04 04:47:44 2005] [notice] x", LS_FMT_APACHE_ERROR},
	    {"2011/06/10 13:30:10 [error] 1#0: x", LS_FMT_NGINX_ERROR},
	    {"2015-10-18 18:01:47,978 INFO [main] a: b", LS_FMT_LOG4J},
	    {"17/06/09 20:10:40 INFO a: b", LS_FMT_LOG4J},
	    {"081109 203615 148 INFO a: b", LS_FMT_LOG4J},
	    {"- 1117838570 2005.06.03 R02 x", LS_FMT_BGL},
	    {"KERNDTLB 1117838570 2005.06.03 R02 x", LS_FMT_BGL},
	    {"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET\"", LS_FMT_CLF},
	    {"www.example.com - - [10/Oct/2000:13:55:36 -0700] \"GET\"",
	     LS_FMT_CLF},
	    {"level=info msg=x", LS_FMT_LOGFMT},
	    {"a=1", LS_FMT_LOGFMT},
	    {"hello world", LS_FMT_AUTO},
	    {"", LS_FMT_AUTO},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ls_format got =
		    ls_format_detect(cases[i].line, strlen(cases[i].line));
		if (got != cases[i].want)
			fail_msg("'%s': detected %s, want %s", cases[i].line,
			         ls_format_name(got),
			         ls_format_name(cases[i].want));
	}
}

/* A new parse clears what the previous line left in the event. */
static void
test_event_cleared(void **state)
{
	struct fixture *f = *state;

	parse_ok(f, LS_FMT_JSON, "{\"msg\":\"x\",\"a\":1,\"host\":\"h\"}");
	assert_int_equal(f->ev.nattrs, 1);
	parse_ok(f, LS_FMT_LOGFMT, "b=2");
	assert_int_equal(f->ev.nattrs, 1);
	assert_field(&f->ev, "a", NULL);
	assert_ls(f->ev.host, "");
	assert_ls(f->ev.message, "");
	assert_int_equal(f->ev.time_ns, LS_TIME_UNKNOWN);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_names),
	    T(test_rfc5424),
	    T(test_rfc3164),
	    T(test_syslog_current_year),
	    T(test_clf),
	    T(test_apache_error),
	    T(test_nginx_error),
	    T(test_log4j),
	    T(test_bgl),
	    T(test_json),
	    T(test_logfmt),
	    T(test_broken),
	    T(test_fallback_lines),
	    T(test_fallback_rules),
	    T(test_bad_arguments),
	    cmocka_unit_test(test_detect),
	    T(test_event_cleared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
