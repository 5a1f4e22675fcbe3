/*
 * loghub_test.c -- the parsers against the Loghub ground truth.
 *
 * For each of the eight Loghub 2k samples, every line of X_2k.log is parsed
 * twice (format "auto" and the system's own format) and compared with the
 * same line of X_2k.log_structured.csv: the time (converted here from the
 * CSV's date/time columns with sscanf + timegm, independently of
 * actors/timefmt.c), the message against Content, and the level, component,
 * syslog tag, host and pid against their columns where the format has them.
 * Each system's check explains how its columns map onto event fields.
 * A third pass uses the fallback alone (format freeform), as if no parser
 * knew the layout, and checks that it still finds each line's time (and
 * level) against the same ground truth.
 * Without the dataset directory the tests are skipped.
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
#include "runtime/err.h"

#ifndef LS_DATASETS_DIR
#define LS_DATASETS_DIR ""
#endif

/* The year given to syslog lines, which have none (Linux, OpenSSH). */
#define SYSLOG_YEAR 2005

/* ---- files ---- */

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
		fclose(f);
		return NULL;
	}
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static const char *
datasets_dir(void)
{
	const char *d = getenv("LS_DATASETS_DIR");
	return d != NULL && d[0] != '\0' ? d : LS_DATASETS_DIR;
}

/* ---- a small RFC 4180 CSV reader ---- */

typedef struct csv {
	char *buf;     /* decoded fields, NUL-separated */
	char ***rows;  /* rows[r][c] points into buf */
	size_t *ncols; /* columns per row */
	size_t nrows;
} csv;

/* Parse text (CRLF or LF records; quoted fields may hold commas, doubled
 * quotes and newlines).  Fields are decoded in place into a copy. */
static int
csv_parse(const char *text, size_t len, csv *out)
{
	size_t cap_rows = 64, i = 0;
	char *o = malloc(len + 1);

	memset(out, 0, sizeof(*out));
	if (o == NULL)
		return -1;
	out->buf = o;
	out->rows = malloc(cap_rows * sizeof(*out->rows));
	out->ncols = malloc(cap_rows * sizeof(*out->ncols));
	while (i < len) {
		size_t cap_cols = 16, nc = 0;
		char **cols = malloc(cap_cols * sizeof(*cols));
		for (;;) {
			char *field = o;
			if (i < len && text[i] == '"') {
				i++;
				for (;;) {
					if (i >= len)
						break;
					if (text[i] == '"') {
						if (i + 1 < len &&
						    text[i + 1] == '"') {
							*o++ = '"';
							i += 2;
							continue;
						}
						i++;
						break;
					}
					*o++ = text[i++];
				}
			}
			while (i < len && text[i] != ',' && text[i] != '\n' &&
			       !(text[i] == '\r' && i + 1 < len &&
			         text[i + 1] == '\n'))
				*o++ = text[i++];
			*o++ = '\0';
			if (nc == cap_cols) {
				cap_cols *= 2;
				cols = realloc(cols, cap_cols * sizeof(*cols));
			}
			cols[nc++] = field;
			if (i < len && text[i] == ',') {
				i++;
				continue;
			}
			if (i < len && text[i] == '\r')
				i++;
			if (i < len && text[i] == '\n')
				i++;
			break;
		}
		if (out->nrows == cap_rows) {
			cap_rows *= 2;
			out->rows =
			    realloc(out->rows, cap_rows * sizeof(*out->rows));
			out->ncols =
			    realloc(out->ncols, cap_rows * sizeof(*out->ncols));
		}
		out->rows[out->nrows] = cols;
		out->ncols[out->nrows] = nc;
		out->nrows++;
	}
	return 0;
}

static void
csv_free(csv *c)
{
	for (size_t r = 0; r < c->nrows; r++)
		free(c->rows[r]);
	free(c->rows);
	free(c->ncols);
	free(c->buf);
}

/* Column index of name in the header row; fails the test when absent. */
static size_t
csv_col(const csv *c, const char *name)
{
	for (size_t k = 0; k < c->ncols[0]; k++) {
		if (strcmp(c->rows[0][k], name) == 0)
			return k;
	}
	fail_msg("CSV has no column %s", name);
	return 0;
}

static void
test_csv_reader(void **state)
{
	static const char text[] = "a,b,c\r\n"
	                           "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
	                           "2,,\"multi\nline\"\n"
	                           "3,plain,\"\"";
	csv c;

	(void)state;
	assert_int_equal(csv_parse(text, strlen(text), &c), 0);
	assert_int_equal(c.nrows, 4);
	assert_int_equal(c.ncols[1], 3);
	assert_string_equal(c.rows[1][1], "x, y");
	assert_string_equal(c.rows[1][2], "say \"hi\"");
	assert_string_equal(c.rows[2][1], "");
	assert_string_equal(c.rows[2][2], "multi\nline");
	assert_string_equal(c.rows[3][1], "plain");
	assert_string_equal(c.rows[3][2], "");
	assert_int_equal(csv_col(&c, "c"), 2);
	csv_free(&c);
}

/* ---- independent time conversion ---- */

static int
month_of(const char *m)
{
	static const char *const names[12] = {"Jan", "Feb", "Mar", "Apr",
	                                      "May", "Jun", "Jul", "Aug",
	                                      "Sep", "Oct", "Nov", "Dec"};
	for (int i = 0; i < 12; i++) {
		if (strcmp(m, names[i]) == 0)
			return i + 1;
	}
	return 0;
}

static int64_t
utc_ns(int y, int mo, int d, int h, int mi, int s, long frac_ns)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm) * 1000000000LL + frac_ns;
}

/* ---- the per-system expectations ---- */

typedef struct sys_ctx {
	const csv *c;
	char **row;
	const ls_event *ev;
	char why[512]; /* first mismatch of this line */
} sys_ctx;

static const char *
col(sys_ctx *x, const char *name)
{
	return x->row[csv_col(x->c, name)];
}

static int
str_is(ls_str s, const char *want)
{
	return s.len == strlen(want) &&
	       (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

static void
mismatch(sys_ctx *x, const char *fmt, ...)
{
	va_list ap;

	if (x->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
}

static void
expect_str(sys_ctx *x, const char *what, ls_str got, const char *want)
{
	if (!str_is(got, want))
		mismatch(x, "%s: got '%.*s', want '%s'", what, (int)got.len,
		         got.ptr != NULL ? got.ptr : "", want);
}

static ls_str
attr_of(const ls_event *ev, const char *key)
{
	for (unsigned i = 0; i < ev->nattrs; i++) {
		if (str_is(ev->attrs[i].key, key))
			return ev->attrs[i].val;
	}
	return ls_str_make(NULL, 0);
}

static void
expect_attr(sys_ctx *x, const char *key, const char *want)
{
	expect_str(x, key, attr_of(x->ev, key), want);
}

static void
expect_time(sys_ctx *x, int64_t want)
{
	if (x->ev->time_ns != want)
		mismatch(x, "time: got %lld, want %lld",
		         (long long)x->ev->time_ns, (long long)want);
}

static void
expect_level(sys_ctx *x, const char *text, ls_level want)
{
	expect_str(x, "level_text", x->ev->level_text, text);
	if (x->ev->level != want)
		mismatch(x, "level: got %s, want %s",
		         ls_level_name(x->ev->level), ls_level_name(want));
}

/* Level words of the samples, mapped by hand (not via ls_level_parse). */
static ls_level
want_level(const char *w)
{
	static const struct {
		const char *w;
		ls_level l;
	} map[] = {
	    {"INFO", LS_LEVEL_INFO},     {"notice", LS_LEVEL_NOTICE},
	    {"error", LS_LEVEL_ERROR},   {"ERROR", LS_LEVEL_ERROR},
	    {"WARN", LS_LEVEL_WARN},     {"WARNING", LS_LEVEL_WARN},
	    {"FATAL", LS_LEVEL_FATAL},   {"SEVERE", LS_LEVEL_FATAL},
	    {"FAILURE", LS_LEVEL_FATAL}, {"DEBUG", LS_LEVEL_DEBUG},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].w, w) == 0)
			return map[i].l;
	}
	fail_msg("unexpected level word %s in the ground truth", w);
	return LS_LEVEL_UNKNOWN;
}

/* Apache error log: "[Time] [Level] Content".  Time is ctime-style
 * ("Sun Dec 04 04:47:44 2005").  The parser moves a leading "[client
 * addr]" out of the message into remote_addr, so Content must equal
 * "[client <remote_addr>] " + message when that attribute is present. */
static int64_t
time_apache(sys_ctx *x)
{
	char dow[4], mon[4];
	int d, h, mi, s, y;

	assert_int_equal(sscanf(col(x, "Time"), "%3s %3s %d %d:%d:%d %d", dow,
	                        mon, &d, &h, &mi, &s, &y),
	                 7);
	return utc_ns(y, month_of(mon), d, h, mi, s, 0);
}

static void
check_apache(sys_ctx *x)
{
	char buf[4096];
	ls_str ra = attr_of(x->ev, "remote_addr");

	expect_time(x, time_apache(x));
	expect_level(x, col(x, "Level"), want_level(col(x, "Level")));
	if (ra.len != 0) {
		snprintf(buf, sizeof(buf), "[client %.*s] %.*s", (int)ra.len,
		         ra.ptr, (int)x->ev->message.len, x->ev->message.ptr);
		if (strcmp(buf, col(x, "Content")) != 0)
			mismatch(x, "content: got '%s', want '%s'", buf,
			         col(x, "Content"));
	} else {
		expect_str(x, "message", x->ev->message, col(x, "Content"));
	}
}

/* BGL: Label Timestamp Date Node Time NodeRepeat Type Component Level
 * Content.  Timestamp is the true UTC epoch second; Time is the machine's
 * local wall clock (US Pacific: 7 h behind in summer, 8 h in winter) with
 * microseconds.  The event time is Timestamp + Time's microseconds, and we
 * also check that Time read as UTC is exactly 7 or 8 hours off, which
 * proves the two columns describe the same instant.  Node is the host. */
/* BGL's wall-clock Time column read as UTC: what a reader that does not
 * know the format (the fallback) takes, being the first timestamp. */
static int64_t
time_bgl_wall(sys_ctx *x)
{
	int y, mo, d, h, mi, s, us;

	assert_int_equal(sscanf(col(x, "Time"), "%d-%d-%d-%d.%d.%d.%d", &y, &mo,
	                        &d, &h, &mi, &s, &us),
	                 7);
	return utc_ns(y, mo, d, h, mi, s, (long)us * 1000);
}

static void
check_bgl(sys_ctx *x)
{
	long long epoch = atoll(col(x, "Timestamp"));
	int64_t wall = time_bgl_wall(x);
	int64_t want = (int64_t)epoch * 1000000000LL +
	               (wall % 1000000000LL + 1000000000LL) % 1000000000LL;
	assert_true(want - wall == 7 * 3600 * 1000000000LL ||
	            want - wall == 8 * 3600 * 1000000000LL);
	expect_time(x, want);
	expect_attr(x, "label", col(x, "Label"));
	expect_str(x, "host", x->ev->host, col(x, "Node"));
	expect_attr(x, "node_repeat", col(x, "NodeRepeat"));
	expect_attr(x, "type", col(x, "Type"));
	expect_attr(x, "component", col(x, "Component"));
	expect_level(x, col(x, "Level"), want_level(col(x, "Level")));
	expect_str(x, "message", x->ev->message, col(x, "Content"));
}

/* HDFS: "Date Time Pid Level Component: Content" with Date yymmdd and Time
 * hhmmss (2008). */
static int64_t
time_hdfs(sys_ctx *x)
{
	int yy, mo, d, h, mi, s;

	assert_int_equal(sscanf(col(x, "Date"), "%2d%2d%2d", &yy, &mo, &d), 3);
	assert_int_equal(sscanf(col(x, "Time"), "%2d%2d%2d", &h, &mi, &s), 3);
	return utc_ns(2000 + yy, mo, d, h, mi, s, 0);
}

static void
check_hdfs(sys_ctx *x)
{
	expect_time(x, time_hdfs(x));
	expect_attr(x, "pid", col(x, "Pid"));
	expect_level(x, col(x, "Level"), want_level(col(x, "Level")));
	expect_attr(x, "component", col(x, "Component"));
	expect_str(x, "message", x->ev->message, col(x, "Content"));
}

/* Hadoop: "Date Time Level [Process] Component: Content"; Process is the
 * thread name, Time is "hh:mm:ss,mmm". */
/* "Date" yyyy-mm-dd and "Time" hh:mm:ss,mmm (Hadoop, Zookeeper). */
static int64_t
time_ymd_ms(sys_ctx *x)
{
	int y, mo, d, h, mi, s, ms;

	assert_int_equal(sscanf(col(x, "Date"), "%d-%d-%d", &y, &mo, &d), 3);
	assert_int_equal(
	    sscanf(col(x, "Time"), "%d:%d:%d,%d", &h, &mi, &s, &ms), 4);
	return utc_ns(y, mo, d, h, mi, s, ms * 1000000L);
}

static void
check_hadoop(sys_ctx *x)
{
	expect_time(x, time_ymd_ms(x));
	expect_level(x, col(x, "Level"), want_level(col(x, "Level")));
	expect_attr(x, "thread", col(x, "Process"));
	expect_attr(x, "component", col(x, "Component"));
	expect_str(x, "message", x->ev->message, col(x, "Content"));
}

/* Linux: classic syslog "Month Date Time host tag[PID]: Content" without a
 * year (we configure SYSLOG_YEAR).  The ground truth's "Level" column
 * actually holds the host name ("combo"); "Component" is the syslog tag
 * (our service) and PID is empty when the tag has no [pid]. */
static int64_t
time_linux(sys_ctx *x)
{
	int d, h, mi, s;

	d = atoi(col(x, "Date"));
	assert_int_equal(sscanf(col(x, "Time"), "%d:%d:%d", &h, &mi, &s), 3);
	return utc_ns(SYSLOG_YEAR, month_of(col(x, "Month")), d, h, mi, s, 0);
}

static void
check_linux(sys_ctx *x)
{
	expect_time(x, time_linux(x));
	expect_str(x, "host", x->ev->host, col(x, "Level"));
	expect_str(x, "service", x->ev->service, col(x, "Component"));
	expect_attr(x, "pid", col(x, "PID"));
	if (x->ev->level != LS_LEVEL_UNKNOWN)
		mismatch(x, "level: a PRI-less syslog line has none");
	expect_str(x, "message", x->ev->message, col(x, "Content"));
}

/* OpenSSH: "Date Day Time Component sshd[Pid]: Content" -- here "Date" is
 * the month, "Day" the day of month, and "Component" the host ("LabSZ");
 * the tag is always sshd, which the ground truth leaves out. */
static int64_t
time_openssh(sys_ctx *x)
{
	int h, mi, s;

	assert_int_equal(sscanf(col(x, "Time"), "%d:%d:%d", &h, &mi, &s), 3);
	return utc_ns(SYSLOG_YEAR, month_of(col(x, "Date")),
	              atoi(col(x, "Day")), h, mi, s, 0);
}

static void
check_openssh(sys_ctx *x)
{
	expect_time(x, time_openssh(x));
	expect_str(x, "host", x->ev->host, col(x, "Component"));
	expect_str(x, "service", x->ev->service, "sshd");
	expect_attr(x, "pid", col(x, "Pid"));
	expect_str(x, "message", x->ev->message, col(x, "Content"));
}

/* Spark: "yy/mm/dd hh:mm:ss Level Component: Content" (2017). */
static int64_t
time_spark(sys_ctx *x)
{
	int yy, mo, d, h, mi, s;

	assert_int_equal(sscanf(col(x, "Date"), "%d/%d/%d", &yy, &mo, &d), 3);
	assert_int_equal(sscanf(col(x, "Time"), "%d:%d:%d", &h, &mi, &s), 3);
	return utc_ns(2000 + yy, mo, d, h, mi, s, 0);
}

static void
check_spark(sys_ctx *x)
{
	expect_time(x, time_spark(x));
	expect_level(x, col(x, "Level"), want_level(col(x, "Level")));
	expect_attr(x, "component", col(x, "Component"));
	expect_str(x, "message", x->ev->message, col(x, "Content"));
}

/* Zookeeper: "Date Time - Level [Node:Component@Id] - Content".  The
 * ground truth splits the bracket at the FIRST ':' (Node "QuorumPeer[
 * myid=1]/0", Component "0:0:0:0:0:0:0:0:2181:FastLeaderElection"); we
 * split at the last one (thread "...:2181", component
 * "FastLeaderElection"), so we compare the joined "thread:component"
 * against "Node:Component", and line against Id. */
static void
check_zookeeper(sys_ctx *x)
{
	char want[1024], got[1024];
	ls_str th = attr_of(x->ev, "thread"), co = attr_of(x->ev, "component");

	expect_time(x, time_ymd_ms(x));
	expect_level(x, col(x, "Level"), want_level(col(x, "Level")));
	snprintf(want, sizeof(want), "%s:%s", col(x, "Node"),
	         col(x, "Component"));
	snprintf(got, sizeof(got), "%.*s:%.*s", (int)th.len,
	         th.ptr != NULL ? th.ptr : "", (int)co.len,
	         co.ptr != NULL ? co.ptr : "");
	if (strcmp(want, got) != 0)
		mismatch(x, "thread:component: got '%s', want '%s'", got, want);
	expect_attr(x, "line", col(x, "Id"));
	expect_str(x, "message", x->ev->message, col(x, "Content"));
}

/* ---- driver ---- */

typedef struct system {
	const char *name;
	ls_format format;
	void (*check)(sys_ctx *);
	int64_t (*time)(sys_ctx *); /* the first timestamp of the line */
	int has_level;              /* a Level column of level words */
} system_t;

/* The fallback alone (format freeform), which knows no layout: the message
 * is the line, the time the first timestamp in it, the level the first
 * level word (BGL's FAILURE is not one of the fallback's words). */
static void
check_freeform(const system_t *sys, sys_ctx *x, const char *line, size_t n)
{
	expect_time(x, sys->time(x));
	if (!(x->ev->message.len == n &&
	      memcmp(x->ev->message.ptr, line, n) == 0))
		mismatch(x, "message is not the whole line");
	if (sys->has_level && strcmp(col(x, "Level"), "FAILURE") != 0)
		expect_level(x, col(x, "Level"), want_level(col(x, "Level")));
	expect_attr(x, "time_source", "line");
}

static void
run_system(const system_t *sys, ls_format format)
{
	char path[4096];
	size_t loglen, csvlen;
	char *log, *csvtext;
	csv c;
	ls_parser p;
	ls_event ev;
	ls_arena arena;
	int bad = 0;
	size_t line_no = 0;

	snprintf(path, sizeof(path), "%s/loghub/%s/%s_2k.log", datasets_dir(),
	         sys->name, sys->name);
	log = slurp(path, &loglen);
	if (log == NULL) {
		print_message("loghub dataset missing (%s): skipped\n", path);
		skip();
	}
	snprintf(path, sizeof(path), "%s/loghub/%s/%s_2k.log_structured.csv",
	         datasets_dir(), sys->name, sys->name);
	csvtext = slurp(path, &csvlen);
	assert_non_null(csvtext);
	assert_int_equal(csv_parse(csvtext, csvlen, &c), 0);
	assert_int_equal(c.nrows, 2001); /* header + 2,000 lines */

	ls_parser_init(&p, format);
	p.default_year = SYSLOG_YEAR;
	ls_arena_init(&arena, 0);
	for (size_t i = 0; i < loglen;) {
		size_t j = i;
		while (j < loglen && log[j] != '\n')
			j++;
		size_t n = j;
		if (n > i && log[n - 1] == '\r')
			n--;
		line_no++;
		assert_true(line_no < c.nrows);
		const char *reason = NULL;
		int rc =
		    ls_parser_parse(&p, log + i, n - i, &ev, &arena, &reason);
		sys_ctx x = {&c, c.rows[line_no], &ev, ""};
		assert_int_equal(atol(col(&x, "LineId")), (long)line_no);
		if (rc != 0) {
			snprintf(x.why, sizeof(x.why), "rc %s: %s",
			         ls_errname(rc), reason);
		} else if (format == LS_FMT_FREEFORM) {
			check_freeform(sys, &x, log + i, n - i);
		} else {
			sys->check(&x);
		}
		if (x.why[0] != '\0') {
			if (bad < 10)
				print_message("%s/%s line %zu: %s\n  %.*s\n",
				              sys->name, ls_format_name(format),
				              line_no, x.why, (int)(n - i),
				              log + i);
			bad++;
		}
		ls_arena_reset(&arena);
		i = j + 1;
	}
	assert_int_equal(line_no, 2000);
	ls_arena_fini(&arena);
	csv_free(&c);
	free(csvtext);
	free(log);
	assert_int_equal(bad, 0);
}

static const system_t systems[] = {
    {"Apache", LS_FMT_APACHE_ERROR, check_apache, time_apache, 1},
    {"BGL", LS_FMT_BGL, check_bgl, time_bgl_wall, 1},
    {"HDFS", LS_FMT_LOG4J, check_hdfs, time_hdfs, 1},
    {"Hadoop", LS_FMT_LOG4J, check_hadoop, time_ymd_ms, 1},
    {"Linux", LS_FMT_RFC3164, check_linux, time_linux, 0},
    {"OpenSSH", LS_FMT_RFC3164, check_openssh, time_openssh, 0},
    {"Spark", LS_FMT_LOG4J, check_spark, time_spark, 1},
    {"Zookeeper", LS_FMT_LOG4J, check_zookeeper, time_ymd_ms, 1},
};

static void
run_all(const system_t *sys)
{
	run_system(sys, sys->format);
	run_system(sys, LS_FMT_AUTO);
	run_system(sys, LS_FMT_FREEFORM);
	if (sys->format == LS_FMT_RFC3164)
		run_system(sys, LS_FMT_SYSLOG);
}

#define SYSTEM_TEST(fn, i)                                                     \
	static void fn(void **state)                                           \
	{                                                                      \
		(void)state;                                                   \
		run_all(&systems[i]);                                          \
	}

SYSTEM_TEST(test_apache, 0)
SYSTEM_TEST(test_bgl, 1)
SYSTEM_TEST(test_hdfs, 2)
SYSTEM_TEST(test_hadoop, 3)
SYSTEM_TEST(test_linux, 4)
SYSTEM_TEST(test_openssh, 5)
SYSTEM_TEST(test_spark, 6)
SYSTEM_TEST(test_zookeeper, 7)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csv_reader), cmocka_unit_test(test_apache),
	    cmocka_unit_test(test_bgl),        cmocka_unit_test(test_hdfs),
	    cmocka_unit_test(test_hadoop),     cmocka_unit_test(test_linux),
	    cmocka_unit_test(test_openssh),    cmocka_unit_test(test_spark),
	    cmocka_unit_test(test_zookeeper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
