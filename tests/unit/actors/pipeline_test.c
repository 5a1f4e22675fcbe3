/*
 * pipeline_test.c -- the single-node pipeline end to end, in process:
 * generator -> parse (partitioned) -> window (partitioned by key) -> jsonl.
 *
 * The reference is computed independently of the pipeline: the same lines
 * are generated and parsed directly, and counted per (window, service) in a
 * plain table.  Runs with the default mailbox and with 2-slot mailboxes,
 * where nearly every send is refused and must go through the
 * pause / WRITABLE path without losing or duplicating anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "actors/generator.h"
#include "actors/parse.h"
#include "actors/pipeline.h"
#include "runtime/actor.h"
#include "runtime/le.h"
#include "topology/plan.h"
#include "topology/topology.h"

#define COUNT 30000
#define SEED 7
#define START_NS INT64_C(1709251200000000000) /* 2024-03-01T00:00:00Z */
#define WINDOW_NS INT64_C(1000000000)          /* 1 s */

typedef struct cell {
	int64_t start_ns;
	char service[32];
	int64_t count;
} cell;

typedef struct table {
	cell *v;
	size_t n, cap;
} table;

static void
table_add(table *t, int64_t start, const char *svc, size_t len, int64_t c)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].start_ns == start &&
		    strlen(t->v[i].service) == len &&
		    memcmp(t->v[i].service, svc, len) == 0) {
			t->v[i].count += c;
			return;
		}
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = realloc(t->v, t->cap * sizeof(*t->v));
		assert_non_null(t->v);
	}
	cell *x = &t->v[t->n++];
	memset(x, 0, sizeof(*x));
	x->start_ns = start;
	assert_true(len < sizeof(x->service));
	memcpy(x->service, svc, len);
	x->count = c;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The reference: generate and parse the same lines, count directly. */
static void
reference(table *t)
{
	ls_generator_cfg gc;
	memset(&gc, 0, sizeof(gc));
	gc.seed = SEED;
	gc.format = LS_GEN_JSON;
	gc.start_time_ns = START_NS;
	gc.events_per_sec = 10000; /* what the source uses for rate 0 */
	ls_generator *g = ls_generator_new(&gc);
	assert_non_null(g);
	ls_parser p;
	ls_parser_init(&p, LS_FMT_AUTO);
	ls_arena a;
	ls_arena_init(&a, 0);
	char line[LS_GENERATOR_LINE_MAX];
	for (int i = 0; i < COUNT; i++) {
		size_t len;
		int64_t tns;
		ls_event ev;
		assert_int_equal(ls_generator_next(g, line, sizeof(line), &len,
		                     &tns),
		    0);
		assert_int_equal(ls_parser_parse(&p, line, len, &ev, &a, NULL),
		    0);
		assert_true(ev.time_ns != LS_TIME_UNKNOWN);
		int64_t start = floor_div(ev.time_ns, WINDOW_NS) * WINDOW_NS;
		table_add(t, start, ev.service.ptr, ev.service.len, 1);
		ls_arena_reset(&a);
	}
	ls_arena_fini(&a);
	ls_generator_free(g);
}

/* "2024-03-01T00:00:01.000Z" -> ns (whole seconds are enough here). */
static int64_t
parse_time(const char *s)
{
	int y, mo, d, h, mi, se;
	assert_int_equal(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h,
	                     &mi, &se),
	    6);
	/* days from civil (proleptic Gregorian) */
	y -= mo <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return ((days * 24 + h) * 60 + mi) * INT64_C(60000000000) +
	    (int64_t)se * 1000000000;
}

/* Read the jsonl results: window_start, key.service, count per line. */
static void
read_results(const char *path, table *t, int64_t *rows)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	assert_non_null(f);
	*rows = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *ws = strstr(line, "\"window_start\":\"");
		const char *sv = strstr(line, "\"key\":{\"service\":\"");
		const char *ct = strstr(line, "\"count\":");
		assert_non_null(ws);
		assert_non_null(sv);
		assert_non_null(ct);
		sv += strlen("\"key\":{\"service\":\"");
		const char *end = strchr(sv, '"');
		assert_non_null(end);
		table_add(t, parse_time(ws + strlen("\"window_start\":\"")), sv,
		    (size_t)(end - sv), atoll(ct + strlen("\"count\":")));
		(*rows)++;
	}
	fclose(f);
}

static void
run_and_compare(uint32_t mailbox_cap)
{
	char dir[] = "/tmp/ls-pipeline-test-XXXXXX";
	char out[256], text[2048];
	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/results.jsonl", dir);
	snprintf(text, sizeof(text),
	    "name: t\n"
	    "settings:\n"
	    "  watermark_delay: 2s\n"
	    "  idle_timeout: 1h\n"
	    "sources:\n"
	    "  - name: gen\n"
	    "    kind: generator\n"
	    "    rate: 0\n"
	    "    count: %d\n"
	    "    seed: %d\n"
	    "    format: json\n"
	    "    start: 2024-03-01T00:00:00Z\n"
	    "stages:\n"
	    "  - name: parse\n"
	    "    kind: parse\n"
	    "    input: gen\n"
	    "    partitions: 3\n"
	    "  - name: w\n"
	    "    kind: window\n"
	    "    input: parse\n"
	    "    key: service\n"
	    "    partitions: 4\n"
	    "    size: 1s\n"
	    "    aggregates: [count]\n"
	    "sinks:\n"
	    "  - name: out\n"
	    "    kind: jsonl\n"
	    "    input: w\n"
	    "    path: %s\n",
	    COUNT, SEED, out);

	ls_diag d;
	ls_topology *t;
	ls_plan *plan;
	ls_diag_init(&d);
	assert_int_equal(ls_topology_parse("t.yaml", text, strlen(text), &t,
	                     &d),
	    0);
	assert_int_equal(ls_plan_build(t, &plan, &d), 0);
	ls_diag_free(&d);

	ls_runtime_opts ro = { .workers = 2, .mailbox_cap = mailbox_cap };
	ls_runtime *rt;
	assert_int_equal(ls_runtime_create(&ro, &rt), 0);
	ls_pipeline *pl;
	char err[256];
	assert_int_equal(ls_pipeline_start(rt, plan, NULL, &pl, err,
	                     sizeof(err)),
	    0);
	/* a finite source: the run ends by itself (generous deadline) */
	assert_int_equal(ls_pipeline_wait(pl, 120000), 0);
	ls_pipeline_node_stats st[8];
	size_t n = ls_pipeline_stats(pl, st, 8);
	assert_int_equal(n, 4);
	assert_int_equal(st[0].in, COUNT); /* generated */
	assert_int_equal(st[1].in, COUNT); /* parsed */
	assert_int_equal(st[1].dead, 0);
	assert_int_equal(st[2].in, COUNT); /* windowed */
	assert_int_equal(st[2].late, 0);
	ls_runtime_stats rs;
	ls_runtime_stats_get(rt, &rs);
	if (mailbox_cap != 0 && mailbox_cap <= 4)
		assert_true(rs.mailbox_full > 0); /* backpressure was used */
	ls_runtime_destroy(rt);
	ls_pipeline_free(pl);
	ls_plan_free(plan);
	ls_topology_free(t);

	table want = { 0 }, got = { 0 };
	int64_t rows;
	reference(&want);
	read_results(out, &got, &rows);
	/* each (window, service) appears once: no duplicate emission */
	assert_int_equal((size_t)rows, got.n);
	assert_int_equal(got.n, want.n);
	int64_t total = 0;
	for (size_t i = 0; i < want.n; i++) {
		int found = 0;
		for (size_t j = 0; j < got.n; j++) {
			if (got.v[j].start_ns == want.v[i].start_ns &&
			    strcmp(got.v[j].service, want.v[i].service) == 0) {
				assert_int_equal(got.v[j].count,
				    want.v[i].count);
				found = 1;
			}
		}
		assert_true(found);
		total += want.v[i].count;
	}
	assert_int_equal(total, COUNT);
	free(want.v);
	free(got.v);
	unlink(out);
	rmdir(dir);
}

static void
test_pipeline_matches_reference(void **unused)
{
	(void)unused;
	run_and_compare(0);
}

static void
test_pipeline_under_backpressure(void **unused)
{
	(void)unused;
	run_and_compare(2);
}

/* Draining an unlimited source ends the run cleanly, with final windows. */
static void
test_drain_unlimited_source(void **unused)
{
	(void)unused;
	const char *text = "name: d\n"
			   "sources:\n"
			   "  - name: gen\n"
			   "    kind: generator\n"
			   "    rate: 0\n"
			   "stages:\n"
			   "  - name: parse\n"
			   "    kind: parse\n"
			   "    input: gen\n"
			   "  - name: w\n"
			   "    kind: window\n"
			   "    input: parse\n"
			   "    key: level\n"
			   "    size: 1h\n"
			   "sinks:\n"
			   "  - name: out\n"
			   "    kind: null\n"
			   "    input: w\n";
	ls_topology *t;
	ls_plan *plan;
	assert_int_equal(ls_topology_parse("d.yaml", text, strlen(text), &t,
	                     NULL),
	    0);
	assert_int_equal(ls_plan_build(t, &plan, NULL), 0);
	ls_runtime *rt;
	assert_int_equal(ls_runtime_create(NULL, &rt), 0);
	ls_pipeline *pl;
	assert_int_equal(ls_pipeline_start(rt, plan, NULL, &pl, NULL, 0), 0);
	ls_pipeline_node_stats st[4];
	int64_t end = ls_clock_ns() + INT64_C(60000000000);
	do {
		ls_pipeline_stats(pl, st, 4);
	} while (st[2].in < 10000 && ls_clock_ns() < end);
	assert_true(st[2].in >= 10000);
	assert_false(ls_pipeline_done(pl));
	ls_pipeline_drain(pl);
	assert_int_equal(ls_pipeline_wait(pl, 60000), 0);
	ls_pipeline_stats(pl, st, 4);
	/* every produced event reached the window; the 1 h windows were
	 * flushed as results to the sink */
	assert_int_equal(st[0].in, st[1].in);
	assert_int_equal(st[1].in, st[2].in);
	assert_true(st[2].results > 0);
	assert_int_equal(st[3].in, st[2].results);
	ls_runtime_destroy(rt);
	ls_pipeline_free(pl);
	ls_plan_free(plan);
	ls_topology_free(t);
}

/* Lines of path, read whole (at most 16 of 4 KiB). */
static size_t
read_lines(const char *path, char lines[16][4096])
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	assert_non_null(f);
	while (n < 16 && fgets(lines[n], 4096, f) != NULL)
		n++;
	fclose(f);
	return n;
}

/* A file source read by two parse stages: one with a format declared
 * under formats: (its captures land in the events, a line that does not
 * match goes to the dead-letter sink with the reason), one with auto (no
 * dead letters: a stack-trace line is an event with the ingest time). */
static void
test_custom_and_fallback_formats(void **unused)
{
	char dir[] = "/tmp/ls-pipeline-fmt-XXXXXX";
	char in[256], out[256], any[256], rej[256], text[4096];
	char lines[16][4096];
	(void)unused;

	assert_non_null(mkdtemp(dir));
	snprintf(in, sizeof(in), "%s/app.log", dir);
	snprintf(out, sizeof(out), "%s/out.jsonl", dir);
	snprintf(any, sizeof(any), "%s/any.jsonl", dir);
	snprintf(rej, sizeof(rej), "%s/rejects.jsonl", dir);
	FILE *f = fopen(in, "w");
	assert_non_null(f);
	fputs("2026-12-07T09:30:00Z web-1 [WARN] disk low\n"
	      "\tat org.example.Disk.check(Disk.java:42)\n"
	      "2026-12-07T09:30:01Z web-2 [ERROR] disk full\n",
	    f);
	fclose(f);
	snprintf(text, sizeof(text),
	    "name: fmt\n"
	    "formats:\n"
	    "  app: '^%%{TIMESTAMP_ISO8601:ts} %%{HOSTNAME:host} "
	    "\\[%%{LOGLEVEL:level}\\] %%{GREEDYDATA:message}$'\n"
	    "sources:\n"
	    "  - {name: src, kind: file, path: '%s'}\n"
	    "stages:\n"
	    "  - {name: custom, kind: parse, input: src, format: app,\n"
	    "     dead_letter: rejects}\n"
	    "  - {name: anyp, kind: parse, input: src, dead_letter: rejects}\n"
	    "sinks:\n"
	    "  - {name: out, kind: jsonl, input: custom, path: '%s'}\n"
	    "  - {name: anyout, kind: jsonl, input: anyp, path: '%s'}\n"
	    "  - {name: rejects, kind: jsonl, path: '%s'}\n",
	    in, out, any, rej);

	ls_diag d;
	ls_topology *t;
	ls_plan *plan;
	ls_diag_init(&d);
	int rc = ls_topology_parse("t.yaml", text, strlen(text), &t, &d);
	if (rc != 0)
		ls_diag_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(ls_plan_build(t, &plan, &d), 0);
	ls_diag_free(&d);
	ls_runtime_opts ro = { .workers = 2 };
	ls_runtime *rt;
	assert_int_equal(ls_runtime_create(&ro, &rt), 0);
	ls_pipeline *pl;
	char err[256];
	assert_int_equal(ls_pipeline_start(rt, plan, NULL, &pl, err,
	                     sizeof(err)),
	    0);
	assert_int_equal(ls_pipeline_wait(pl, 120000), 0);
	ls_runtime_destroy(rt);
	ls_pipeline_free(pl);
	ls_plan_free(plan);
	ls_topology_free(t);

	assert_int_equal(read_lines(out, lines), 2);
	for (int i = 0; i < 2; i++) {
		const char *l = lines[strstr(lines[0], "web-1") ? i : 1 - i];
		assert_non_null(strstr(l, i == 0 ? "\"host\":\"web-1\""
		                                 : "\"host\":\"web-2\""));
		assert_non_null(strstr(l, i == 0 ? "\"level\":\"WARN\""
		                                 : "\"level\":\"ERROR\""));
		assert_non_null(strstr(l, i == 0 ? "\"message\":\"disk low\""
		                                 : "\"message\":\"disk full\""));
		assert_non_null(strstr(l, i == 0 ? "\"ts\":\"2026-12-07T09:30:00"
		                                 : "\"ts\":\"2026-12-07T09:30:01"));
	}
	assert_int_equal(read_lines(rej, lines), 1);
	assert_non_null(strstr(lines[0], "does not match the custom format"));
	assert_non_null(strstr(lines[0], "Disk.java:42"));
	assert_int_equal(read_lines(any, lines), 3);
	int ingest = 0;
	for (int i = 0; i < 3; i++) {
		assert_non_null(strstr(lines[i], "\"ts\":\""));
		if (strstr(lines[i], "\"time_source\":\"ingest\"") != NULL) {
			assert_non_null(strstr(lines[i], "Disk.java:42"));
			ingest++;
		}
	}
	assert_int_equal(ingest, 1);
	unlink(in);
	unlink(out);
	unlink(any);
	unlink(rej);
	rmdir(dir);
}

/* ---- a file source restored from saved states ---- */

struct saved {
	size_t actor; /* the source's plan actor */
	const uint8_t *blob;
	size_t len;
};

static int
saved_load(void *arg, size_t actor, uint8_t **blob, size_t *len)
{
	const struct saved *sv = arg;
	if (actor != sv->actor)
		return LS_ENOENT;
	*blob = malloc(sv->len);
	assert_non_null(*blob);
	memcpy(*blob, sv->blob, sv->len);
	*len = sv->len;
	return 0;
}

/* Run "file source path -> jsonl out" restored from blob: the messages
 * written, one string ("l1 l2 ..."), in file order, and 0; or the
 * pipeline's start error. */
static int
run_restored(const char *path, const char *out, const uint8_t *blob,
    size_t len, char *got, size_t gotcap)
{
	char text[1024];
	snprintf(text, sizeof(text),
	    "name: restore\n"
	    "sources:\n"
	    "  - {name: src, kind: file, path: '%s'}\n"
	    "sinks:\n"
	    "  - {name: out, kind: jsonl, input: src, path: '%s'}\n",
	    path, out);
	ls_diag d;
	ls_topology *t;
	ls_plan *plan;
	ls_diag_init(&d);
	assert_int_equal(ls_topology_parse("t.yaml", text, strlen(text), &t,
	                     &d),
	    0);
	assert_int_equal(ls_plan_build(t, &plan, &d), 0);
	ls_diag_free(&d);
	uint32_t v;
	assert_int_equal(ls_topology_index(t, "src", &v), 0);
	struct saved sv = { ls_plan_first_actor(plan, v), blob, len };
	ls_pipeline_opts o = { .ckpt_load = saved_load, .arg = &sv };
	ls_runtime_opts ro = { .workers = 2 };
	ls_runtime *rt;
	assert_int_equal(ls_runtime_create(&ro, &rt), 0);
	ls_pipeline *pl = NULL;
	char err[256];
	int rc = ls_pipeline_start(rt, plan, &o, &pl, err, sizeof(err));
	if (rc == 0)
		assert_int_equal(ls_pipeline_wait(pl, 120000), 0);
	ls_runtime_destroy(rt);
	ls_pipeline_free(pl);
	ls_plan_free(plan);
	ls_topology_free(t);
	if (rc != 0)
		return rc;

	char lines[16][4096];
	size_t n = read_lines(out, lines);
	got[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char *m = strstr(lines[i], "\"message\":\"");
		assert_non_null(m);
		m += 11;
		size_t used = strlen(got);
		snprintf(got + used, gotcap - used, "%s%.*s", used ? " " : "",
		    (int)(strchr(m, '"') - m), m);
	}
	return 0;
}

static void
put_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Checkpoints of the one-file source (state versions 1 and 3) still
 * restore: at the saved offset, and a version 3 file rotated away is found
 * by its inode and read on before the new one.  Version 5 keeps several
 * files, each at its own offset. */
static void
test_file_restores_saved_states(void **unused)
{
	char dir[] = "/tmp/ls-pipeline-restore-XXXXXX";
	char log[256], old[256], out[256], pat[256], got[1024];
	uint8_t blob[128];
	struct stat st;
	(void)unused;

	assert_non_null(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/app.log", dir);
	snprintf(old, sizeof(old), "%s/app.log.1", dir);
	snprintf(out, sizeof(out), "%s/out.jsonl", dir);
	put_file(log, "l1\nl2\nl3\nl4\n");

	/* version 1: u8 1, u8 ended, u64 offset */
	memset(blob, 0, sizeof(blob));
	blob[0] = 1;
	ls_le_put(blob + 2, 6, 8); /* the start of l3 */
	assert_int_equal(run_restored(log, out, blob, 10, got, sizeof(got)), 0);
	assert_string_equal(got, "l3 l4");

	/* version 3: + device and inode; the file rotated while down */
	assert_int_equal(stat(log, &st), 0);
	blob[0] = 3;
	ls_le_put(blob + 2, 3, 8); /* the start of l2 */
	ls_le_put(blob + 10, (uint64_t)st.st_dev, 8);
	ls_le_put(blob + 18, (uint64_t)st.st_ino, 8);
	assert_int_equal(rename(log, old), 0);
	put_file(log, "n1\nn2\n");
	assert_int_equal(run_restored(log, out, blob, 26, got, sizeof(got)), 0);
	assert_string_equal(got, "l2 l3 l4 n1 n2");

	/* version 5: both files of a pattern, each at its offset (the new
	 * file at l2's start of its own: n2) */
	snprintf(pat, sizeof(pat), "%s/app.log*", dir);
	blob[0] = 5;
	ls_le_put(blob + 2, 2, 4);
	size_t at = 6;
	const char *names[2] = { old, log };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(stat(names[i], &st), 0);
		ls_le_put(blob + at, (uint64_t)st.st_dev, 8);
		ls_le_put(blob + at + 8, (uint64_t)st.st_ino, 8);
		ls_le_put(blob + at + 16, i == 0 ? 9 : 3, 8);
		ls_le_put(blob + at + 24, 1, 2);
		blob[at + 26] = 'x'; /* the name: only looked at when gone */
		at += 27;
	}
	assert_int_equal(run_restored(pat, out, blob, at, got, sizeof(got)), 0);
	assert_string_equal(got, "n2 l4");

	/* a truncated version 5 state is refused, not taken for a start */
	assert_int_not_equal(run_restored(pat, out, blob, at - 1, got,
	                         sizeof(got)),
	    0);

	unlink(log);
	unlink(old);
	unlink(out);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipeline_matches_reference),
		cmocka_unit_test(test_pipeline_under_backpressure),
		cmocka_unit_test(test_drain_unlimited_source),
		cmocka_unit_test(test_custom_and_fallback_formats),
		cmocka_unit_test(test_file_restores_saved_states),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
