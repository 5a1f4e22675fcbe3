/*
 * topology_test.c -- loading and validating topology files.
 *
 * Every example in examples/ must load; every file in bad/ must be rejected
 * with exactly the messages listed in its leading "# expect: LINE:COL: ..."
 * comments (so the expectations live next to the input they describe).
 * Also: durations, aggregates, cycles, defaults from the kind tables, the
 * kind registry against docs/topology.md, and an allocation-failure sweep.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/err.h"
#include "topology/plan.h"
#include "topology/topology.h"
#include "topology/topology_int.h"

/* ---- helpers ----------------------------------------------------------- */

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		if (len != NULL)
			*len = (size_t)n;
	}
	return buf;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.yaml files of dir, sorted; caller frees each and the array. */
static char **
yaml_files(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;

	*n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0)
			continue;
		v = realloc(v, (*n + 1) * sizeof(*v));
		assert_non_null(v);
		v[*n] = malloc(strlen(dir) + l + 2);
		assert_non_null(v[*n]);
		sprintf(v[*n], "%s/%s", dir, e->d_name);
		(*n)++;
	}
	closedir(d);
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

static void
free_files(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static ls_topology *
parse_ok(const char *text)
{
	ls_topology *t = NULL;
	ls_diag d;

	ls_diag_init(&d);
	int rc = ls_topology_parse("t.yaml", text, strlen(text), &t, &d);
	if (rc != 0)
		ls_diag_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	ls_diag_free(&d);
	assert_non_null(t);
	return t;
}

/* Parse text expecting failure; returns the diagnostics (caller frees). */
static ls_diag
parse_bad(const char *text)
{
	ls_topology *t = (ls_topology *)1;
	ls_diag d;

	ls_diag_init(&d);
	assert_int_equal(ls_topology_parse("t.yaml", text, strlen(text), &t,
	                     &d),
	    LS_EPARSE);
	assert_null(t);
	assert_true(d.n > 0);
	return d;
}

/* ---- examples and bad files ------------------------------------------- */

static void
test_examples_valid(void **unused)
{
	(void)unused;
	size_t n;
	char **files = yaml_files(LS_SOURCE_ROOT "/examples", &n);

	assert_true(n >= 4);
	for (size_t i = 0; i < n; i++) {
		ls_topology *t = NULL;
		ls_plan *p = NULL;
		ls_diag d;

		ls_diag_init(&d);
		int rc = ls_topology_load(files[i], &t, &d);
		if (rc != 0) {
			fprintf(stderr, "%s rejected:\n", files[i]);
			ls_diag_print(&d, stderr);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(d.n, 0);
		assert_int_equal(ls_plan_build(t, &p, &d), 0);
		assert_true(ls_plan_actor_count(p) >= ls_topology_count(t));
		ls_plan_free(p);
		ls_topology_free(t);
		ls_diag_free(&d);
	}
	free_files(files, n);
}

static void
test_bad_files_rejected_exactly(void **unused)
{
	(void)unused;
	size_t n;
	char **files = yaml_files(LS_SOURCE_ROOT "/tests/unit/topology/bad",
	    &n);

	assert_true(n >= 30);
	for (size_t i = 0; i < n; i++) {
		char *text = read_file(files[i], NULL);
		char *line, *save = NULL;
		char *expect[32];
		size_t nexp = 0;
		ls_topology *t = NULL;
		ls_diag d;

		assert_non_null(text);
		for (line = strtok_r(text, "\n", &save);
		     line != NULL && strncmp(line, "# expect: ", 10) == 0;
		     line = strtok_r(NULL, "\n", &save)) {
			assert_true(nexp < 32);
			expect[nexp++] = line + 10;
		}
		if (nexp == 0)
			fail_msg("%s has no '# expect:' line", files[i]);
		ls_diag_init(&d);
		int rc = ls_topology_load(files[i], &t, &d);
		if (rc != LS_EPARSE || d.n != nexp) {
			fprintf(stderr, "%s: rc %d, %zu messages:\n", files[i],
			    rc, d.n);
			ls_diag_print(&d, stderr);
		}
		assert_int_equal(rc, LS_EPARSE);
		assert_null(t);
		assert_int_equal(d.n, nexp);
		for (size_t k = 0; k < nexp; k++) {
			char want[512];
			snprintf(want, sizeof(want), "%s:%s", files[i],
			    expect[k]);
			assert_string_equal(d.msgs[k], want);
		}
		ls_diag_free(&d);
		free(text);
	}
	free_files(files, n);
}

static void
test_several_errors_all_reported(void **unused)
{
	(void)unused;
	/* Five independent problems, listed out of file order in the code
	 * paths that find them (cross references come last); the messages
	 * must all be there, sorted by position. */
	const char *text = "name: multi\n"
	                   "sources:\n"
	                   "  - name: gen\n"
	                   "    kind: generator\n"
	                   "    rate: -5\n"
	                   "stages:\n"
	                   "  - name: w\n"
	                   "    kind: window\n"
	                   "    input: missing\n"
	                   "    partitions: 0\n"
	                   "sinks:\n"
	                   "  - name: out\n"
	                   "    kind: stdout\n"
	                   "    input: [w, gen, w]\n"
	                   "bogus: 1\n";
	ls_diag d = parse_bad(text);

	assert_int_equal(d.n, 6);
	assert_string_equal(d.msgs[0], "t.yaml:5:11: 'rate' must be between "
	                               "0 and 1000000000, got '-5'");
	assert_string_equal(d.msgs[1], "t.yaml:7:5: kind 'window' requires "
	                               "parameter 'size' (window length)");
	assert_string_equal(d.msgs[2],
	    "t.yaml:9:12: input 'missing' is not defined");
	assert_string_equal(d.msgs[3], "t.yaml:10:17: 'partitions' must be "
	                               "between 1 and 4096, got '0'");
	assert_string_equal(d.msgs[4],
	    "t.yaml:14:21: 'w' is listed twice in 'input'");
	assert_string_equal(d.msgs[5], "t.yaml:15:1: unknown top-level key "
	                               "'bogus' (known: name, settings, "
	                               "formats, sources, stages, sinks)");
	ls_diag_free(&d);
}

static void
test_load_missing_file(void **unused)
{
	(void)unused;
	ls_topology *t = (ls_topology *)1;
	ls_diag d;

	ls_diag_init(&d);
	assert_int_equal(ls_topology_load(LS_SOURCE_ROOT "/no/such.yaml", &t,
	                     &d),
	    LS_ENOENT);
	assert_null(t);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msgs[0], "no/such.yaml: cannot open"));
	ls_diag_free(&d);
	/* A directory opens but cannot be read. */
	assert_int_equal(ls_topology_load(LS_SOURCE_ROOT "/examples", &t, &d),
	    LS_EIO);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msgs[0], "examples: cannot read"));
	ls_diag_free(&d);
	/* A NULL diag is allowed: the code alone tells what went wrong. */
	assert_int_equal(ls_topology_parse("x", "name: [", 7, &t, NULL),
	    LS_EPARSE);
	assert_int_equal(ls_topology_parse("x", "a", 1, NULL, NULL), LS_EINVAL);
}

/* ---- durations and aggregates ----------------------------------------- */

static void
test_durations(void **unused)
{
	(void)unused;
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
		{ "0s", 0 },
		{ "250ms", 250 },
		{ "10s", 10000 },
		{ "1m30s", 90000 },
		{ "2h", 7200000 },
		{ "1h1m1s1ms", 3661001 },
		{ "90m", 5400000 },
		{ "30s1m", 90000 },
		{ "2562047788015h", INT64_C(2562047788015) * 3600000 },
	};
	static const struct {
		const char *s;
		int rc;
		const char *why;
	} bad[] = {
		{ "10", LS_EPARSE, "duration needs a unit (ms, s, m, h)" },
		{ "1m30", LS_EPARSE, "duration needs a unit (ms, s, m, h)" },
		{ "", LS_EPARSE, "empty duration" },
		{ "s", LS_EPARSE, NULL },
		{ "1.5s", LS_EPARSE, NULL },
		{ "-1s", LS_EPARSE, NULL },
		{ "10 s", LS_EPARSE, NULL },
		{ "10d", LS_EPARSE, "unknown unit (use ms, s, m, h)" },
		{ "10sec", LS_EPARSE, "unknown unit (use ms, s, m, h)" },
		{ "2562047788016h", LS_ERANGE, "duration too large" },
		{ "99999999999999999999ms", LS_ERANGE, "duration too large" },
	};
	int64_t ms;
	const char *why;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -1;
		assert_int_equal(ls_topo_duration(good[i].s, strlen(good[i].s),
		                     &ms, &why),
		    0);
		assert_true(ms == good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(ls_topo_duration(bad[i].s, strlen(bad[i].s),
		                     &ms, &why),
		    bad[i].rc);
		assert_non_null(why);
		if (bad[i].why != NULL)
			assert_string_equal(why, bad[i].why);
	}
	/* The length is honoured: "10s" cut to "10" has no unit. */
	assert_int_equal(ls_topo_duration("10s", 2, &ms, NULL), LS_EPARSE);
}

static void
test_aggregates(void **unused)
{
	(void)unused;
	ls_topo_agg a;
	const char *why;
	static const char *const bad[] = { "avg()", "avg(x", "median(x)",
		"avg(x)y", "sum(a b)", "(x)", "Count", "count()", "max(9x)",
		"" };

	assert_int_equal(ls_topo_aggregate("count", &a, NULL), 0);
	assert_int_equal(a.fn, LS_AGG_COUNT);
	assert_null(a.field);
	assert_int_equal(ls_topo_aggregate("avg(latency_ms)", &a, NULL), 0);
	assert_int_equal(a.fn, LS_AGG_AVG);
	assert_int_equal(a.fieldlen, 10);
	assert_memory_equal(a.field, "latency_ms", 10);
	assert_int_equal(ls_topo_aggregate("count(user.id)", &a, NULL), 0);
	assert_int_equal(a.fn, LS_AGG_COUNT);
	assert_int_equal(a.fieldlen, 7);
	assert_int_equal(ls_topo_aggregate("sum(bytes)", &a, NULL), 0);
	assert_int_equal(a.fn, LS_AGG_SUM);
	assert_int_equal(ls_topo_aggregate("min(_x)", &a, NULL), 0);
	assert_int_equal(a.fn, LS_AGG_MIN);
	assert_int_equal(ls_topo_aggregate("max(x)", &a, NULL), 0);
	assert_int_equal(a.fn, LS_AGG_MAX);
	assert_string_equal(ls_topo_aggfn_name(LS_AGG_AVG), "avg");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(ls_topo_aggregate(bad[i], &a, &why),
		    LS_EPARSE);
		assert_non_null(why);
	}
}

/* ---- cycles ------------------------------------------------------------ */

static void
test_cycles(void **unused)
{
	(void)unused;
	/* Two separate cycles, the second downstream of the first, and a
	 * stage (tail) that is merely downstream: both cycles are named,
	 * tail is not. */
	const char *text = "name: cycles\n"
	                   "sources: [{name: src, kind: stdin}]\n"
	                   "stages:\n"
	                   "  - {name: a, kind: parse, input: [src, b]}\n"
	                   "  - {name: b, kind: filter, input: a}\n"
	                   "  - {name: c, kind: filter, input: [b, e]}\n"
	                   "  - {name: d, kind: filter, input: c}\n"
	                   "  - {name: e, kind: filter, input: d}\n"
	                   "  - {name: tail, kind: filter, input: e}\n"
	                   "sinks: [{name: out, kind: null, input: tail}]\n";
	ls_diag d = parse_bad(text);

	assert_int_equal(d.n, 2);
	assert_string_equal(d.msgs[0],
	    "t.yaml:4:5: cycle among stages: a -> b -> a");
	assert_string_equal(d.msgs[1],
	    "t.yaml:6:5: cycle among stages: c -> d -> e -> c");
	ls_diag_free(&d);

	/* A cycle that does not pass through the first stage defined is
	 * still found, and the shortest way round is named. */
	text = "name: cycles\n"
	       "sources: [{name: src, kind: stdin}]\n"
	       "stages:\n"
	       "  - {name: x, kind: parse, input: src}\n"
	       "  - {name: y, kind: filter, input: [x, z, w]}\n"
	       "  - {name: z, kind: filter, input: y}\n"
	       "  - {name: w, kind: filter, input: z}\n"
	       "sinks: [{name: out, kind: null, input: w}]\n";
	d = parse_bad(text);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0],
	    "t.yaml:5:5: cycle among stages: y -> z -> y");
	ls_diag_free(&d);

	/* A diamond is not a cycle. */
	ls_topology *t = parse_ok(
	    "name: diamond\n"
	    "sources: [{name: src, kind: stdin}]\n"
	    "stages:\n"
	    "  - {name: p, kind: parse, input: src}\n"
	    "  - {name: l, kind: filter, input: p}\n"
	    "  - {name: r, kind: filter, input: p}\n"
	    "  - {name: j, kind: filter, input: [l, r]}\n"
	    "sinks: [{name: out, kind: null, input: j}]\n");
	assert_int_equal(ls_topology_count(t), 6);
	ls_topology_free(t);
}

/* ---- the model --------------------------------------------------------- */

static void
test_topological_order(void **unused)
{
	(void)unused;
	/* Defined out of order: the model lists every node after its
	 * inputs, otherwise in file order (sources, stages, sinks). */
	ls_topology *t = parse_ok(
	    "sinks:\n"
	    "  - {name: out, kind: jsonl, input: [late, s1], path: o.jsonl}\n"
	    "  - {name: dlq, kind: null}\n"
	    "stages:\n"
	    "  - {name: late, kind: filter, input: mid}\n"
	    "  - {name: mid, kind: filter, input: s1}\n"
	    "  - {name: s1, kind: parse, input: src, dead_letter: dlq}\n"
	    "sources:\n"
	    "  - {name: src, kind: stdin}\n"
	    "name: order\n");
	static const char *const want[] = { "src", "s1", "mid", "late", "out",
		"dlq" };
	uint32_t idx;

	assert_string_equal(ls_topology_name(t), "order");
	assert_string_equal(ls_topology_file(t), "t.yaml");
	assert_int_equal(ls_topology_count(t), 6);
	assert_int_equal(ls_topology_count_role(t, LS_TOPO_SOURCE), 1);
	assert_int_equal(ls_topology_count_role(t, LS_TOPO_STAGE), 3);
	assert_int_equal(ls_topology_count_role(t, LS_TOPO_SINK), 2);
	for (size_t i = 0; i < 6; i++) {
		const ls_topo_node *n = ls_topology_node(t, i);
		assert_string_equal(n->name, want[i]);
		assert_ptr_equal(ls_topology_find(t, want[i]), n);
		assert_int_equal(ls_topology_index(t, want[i], &idx), 0);
		assert_int_equal(idx, i);
		for (size_t k = 0; k < n->ninputs; k++) {
			assert_int_equal(ls_topology_index(t, n->inputs[k],
			                     &idx),
			    0);
			assert_true(idx < i);
		}
	}
	assert_null(ls_topology_node(t, 6));
	assert_null(ls_topology_find(t, "nope"));
	assert_int_equal(ls_topology_index(t, "nope", &idx), LS_ENOENT);
	assert_string_equal(ls_topology_find(t, "s1")->dead_letter, "dlq");
	assert_int_equal(ls_topology_find(t, "out")->ninputs, 2);
	assert_string_equal(ls_topology_find(t, "out")->inputs[0], "late");
	assert_int_equal(ls_topology_find(t, "late")->line, 5);
	assert_int_equal(ls_topology_find(t, "late")->col, 5);
	ls_topology_free(t);
}

static void
test_defaults(void **unused)
{
	(void)unused;
	ls_topology *t = parse_ok("name: d\n"
	                          "sources:\n"
	                          "  - {name: g, kind: generator}\n"
	                          "  - {name: f, kind: file, path: a.log}\n"
	                          "stages:\n"
	                          "  - {name: p, kind: parse, input: [g, f]}\n"
	                          "  - name: w\n"
	                          "    kind: window\n"
	                          "    input: p\n"
	                          "    size: 1m30s\n"
	                          "  - {name: fl, kind: filter, input: p}\n"
	                          "sinks:\n"
	                          "  - {name: o, kind: stdout, input: w}\n"
	                          "  - {name: o2, kind: null, input: fl}\n");
	const ls_topo_node *g = ls_topology_find(t, "g");
	const ls_topo_node *f = ls_topology_find(t, "f");
	const ls_topo_node *p = ls_topology_find(t, "p");
	const ls_topo_node *w = ls_topology_find(t, "w");
	const ls_topo_node *fl = ls_topology_find(t, "fl");
	const ls_topo_node *o = ls_topology_find(t, "o");
	const ls_topo_param *pr;
	const char **list;
	size_t nl;

	/* Generator: every parameter defaulted. */
	assert_int_equal(ls_topo_int(g, "rate"), 10000);
	assert_int_equal(ls_topo_int(g, "seed"), 1);
	assert_string_equal(ls_topo_str(g, "format"), "json");
	assert_int_equal(ls_topo_int(g, "count"), 0);
	pr = ls_topo_param_get(g, "rate");
	assert_non_null(pr);
	assert_int_equal(pr->line, 0); /* a default, not from the file */
	assert_int_equal(g->partitions, 1);
	assert_string_equal(g->kind, "generator");
	assert_int_equal(g->role, LS_TOPO_SOURCE);
	/* File: path given, follow defaulted. */
	assert_string_equal(ls_topo_str(f, "path"), "a.log");
	assert_int_equal(ls_topo_param_get(f, "path")->line, 4);
	assert_int_equal(ls_topo_bool(f, "follow"), 0);
	assert_non_null(ls_topo_param_get(f, "follow"));
	/* Parse. */
	assert_string_equal(ls_topo_str(p, "format"), "auto");
	assert_null(p->dead_letter);
	assert_null(ls_topo_str(p, "dead_letter"));
	/* Window. */
	assert_int_equal(ls_topo_ms(w, "size"), 90000);
	assert_int_equal(ls_topo_ms(w, "grace"), 0);
	assert_non_null(ls_topo_param_get(w, "grace"));
	assert_string_equal(ls_topo_str(w, "window"), "tumbling");
	assert_string_equal(ls_topo_str(w, "emit"), "on_close");
	list = ls_topo_list(w, "aggregates", &nl);
	assert_int_equal(nl, 1);
	assert_string_equal(list[0], "count");
	assert_int_equal(w->nkey, 0);
	assert_null(ls_topo_list(w, "key", &nl));
	assert_int_equal(nl, 0);
	/* Filter: optional parameters without defaults are absent. */
	assert_null(ls_topo_param_get(fl, "min_level"));
	assert_null(ls_topo_str(fl, "service"));
	assert_null(ls_topo_str(fl, "contains"));
	/* Sink. */
	assert_string_equal(ls_topo_str(o, "format"), "table");
	/* Wrong type or unknown name: zero values, never a crash. */
	assert_int_equal(ls_topo_int(w, "emit"), 0);
	assert_null(ls_topo_str(w, "size"));
	assert_int_equal(ls_topo_ms(w, "nope"), 0);
	assert_true(ls_topo_float(w, "size") == 0.0);
	/* Settings: defaults from the table; dflt only for unknown names. */
	assert_int_equal(ls_topology_setting_int(t, "workers", 7), 0);
	assert_int_equal(ls_topology_setting_ms(t, "watermark_delay", 7),
	    2000);
	assert_int_equal(ls_topology_setting_ms(t, "idle_timeout", 7), 5000);
	assert_int_equal(ls_topology_setting_ms(t, "nope", 7), 7);
	assert_int_equal(ls_topology_setting_ms(t, "workers", 7), 7);
	ls_topology_free(t);
}

static void
test_formats(void **unused)
{
	(void)unused;
	ls_topology *t = parse_ok(
	    "name: formats\n"
	    "formats:\n"
	    "  app: '^%{TIMESTAMP_ISO8601:ts} \\[(?<level>\\w+)\\] "
	    "%{GREEDYDATA:message}$'\n"
	    "  kv: |\n"
	    "    ^(?<host>\\S+) (?<msg>.*)$\n"
	    "sources: [{name: s, kind: stdin}]\n"
	    "stages:\n"
	    "  - {name: p, kind: parse, input: s, format: app}\n"
	    "  - {name: q, kind: parse, input: p, format: json}\n"
	    "sinks: [{name: o, kind: stdout, input: q}]\n");
	const ls_topo_format *f;

	assert_int_equal(ls_topology_format_count(t), 2);
	f = ls_topology_format(t, 0);
	assert_string_equal(f->name, "app");
	assert_string_equal(f->pattern, "^%{TIMESTAMP_ISO8601:ts} "
	                                "\\[(?<level>\\w+)\\] "
	                                "%{GREEDYDATA:message}$");
	assert_int_equal(f->len, strlen(f->pattern));
	assert_int_equal(f->line, 3);
	assert_int_equal(f->col, 8);
	assert_string_equal(ls_topology_format(t, 1)->pattern,
	    "^(?<host>\\S+) (?<msg>.*)$\n");
	assert_null(ls_topology_format(t, 2));
	assert_ptr_equal(ls_topology_find_format(t, "kv"),
	    ls_topology_format(t, 1));
	assert_null(ls_topology_find_format(t, "json"));
	assert_null(ls_topology_find_format(t, NULL));
	/* The stage's format names the declared one; built-ins still work. */
	assert_string_equal(ls_topo_str(ls_topology_find(t, "p"), "format"),
	    "app");
	assert_string_equal(ls_topo_str(ls_topology_find(t, "q"), "format"),
	    "json");
	ls_topology_free(t);

	/* A format name given to a parameter that takes only built-in
	 * formats (the generator's) is still rejected. */
	ls_diag d = parse_bad("name: g\n"
	                      "formats: {mine: 'x'}\n"
	                      "sources: [{name: s, kind: generator, "
	                      "format: mine}]\n"
	                      "sinks: [{name: o, kind: stdout, input: s}]\n");
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t.yaml:3:46: bad value 'mine' for "
	                               "'format' (did you mean 'mixed'?)");
	ls_diag_free(&d);
	/* formats: must be a mapping. */
	d = parse_bad("name: g\nformats: [a]\n"
	              "sources: [{name: s, kind: stdin}]\n"
	              "sinks: [{name: o, kind: stdout, input: s}]\n");
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t.yaml:2:10: 'formats' must be a "
	                               "mapping of format names to patterns, "
	                               "got a list");
	ls_diag_free(&d);
	/* A bad pattern in a double-quoted scalar with escapes is located
	 * exactly (the file's "\\\\" is one backslash of the pattern):
	 * the end of the pattern is the closing quote. */
	d = parse_bad("name: g\nformats:\n  x: \"\\\\d+(\"\n"
	              "sources: [{name: s, kind: stdin}]\n"
	              "sinks: [{name: o, kind: stdout, input: s}]\n");
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t.yaml:3:12: bad pattern for format "
	                               "'x': missing closing parenthesis (at "
	                               "offset 4)");
	ls_diag_free(&d);
}

static void
test_given_values(void **unused)
{
	(void)unused;
	ls_topology *t = parse_ok(
	    "name: given_values-1\n"
	    "settings: {workers: 3, watermark_delay: 750ms, idle_timeout: 1m}\n"
	    "sources:\n"
	    "  - name: f\n"
	    "    kind: file\n"
	    "    path: \"/var/log/app log.txt\"\n"
	    "    follow: yes\n"
	    "stages:\n"
	    "  - name: w\n"
	    "    kind: window\n"
	    "    input: f\n"
	    "    key: [service, user.id]\n"
	    "    partitions: 16\n"
	    "    size: 5m\n"
	    "    grace: 30s\n"
	    "    emit: on_update\n"
	    "    aggregates: [count, 'avg(latency_ms)']\n"
	    "  - {name: fl, kind: filter, input: w, min_level: WARNING,\n"
	    "     service: checkout, contains: 'time out'}\n"
	    "sinks: [{name: 'null', kind: null, input: fl, partitions: 1}]\n");
	const ls_topo_node *f = ls_topology_find(t, "f");
	const ls_topo_node *w = ls_topology_find(t, "w");
	const ls_topo_node *fl = ls_topology_find(t, "fl");
	const char **list;
	size_t nl;

	assert_int_equal(ls_topology_setting_int(t, "workers", 0), 3);
	assert_int_equal(ls_topology_setting_ms(t, "watermark_delay", 0),
	    750);
	assert_int_equal(ls_topology_setting_ms(t, "idle_timeout", 0), 60000);
	assert_string_equal(ls_topo_str(f, "path"), "/var/log/app log.txt");
	assert_int_equal(ls_topo_bool(f, "follow"), 1);
	assert_int_equal(w->partitions, 16);
	assert_int_equal(w->nkey, 2);
	assert_string_equal(w->key[0], "service");
	assert_string_equal(w->key[1], "user.id");
	assert_int_equal(ls_topo_ms(w, "size"), 300000);
	assert_int_equal(ls_topo_ms(w, "grace"), 30000);
	assert_string_equal(ls_topo_str(w, "emit"), "on_update");
	list = ls_topo_list(w, "aggregates", &nl);
	assert_int_equal(nl, 2);
	assert_string_equal(list[1], "avg(latency_ms)");
	assert_int_equal(ls_topo_param_get(w, "size")->line, 14);
	assert_int_equal(ls_topo_param_get(w, "size")->col, 11);
	assert_string_equal(ls_topo_str(fl, "min_level"), "WARNING");
	assert_string_equal(ls_topo_str(fl, "service"), "checkout");
	assert_string_equal(ls_topo_str(fl, "contains"), "time out");
	assert_string_equal(ls_topology_find(t, "null")->kind, "null");
	ls_topology_free(t);
}

static void
test_limits(void **unused)
{
	(void)unused;
	char name[LS_TOPO_NAME_MAX + 2];
	char text[512];
	ls_topology *t;
	ls_diag d;

	/* The longest allowed name works, one byte more does not. */
	memset(name, 'n', LS_TOPO_NAME_MAX);
	name[LS_TOPO_NAME_MAX] = '\0';
	snprintf(text, sizeof(text),
	    "name: %s\nsources: [{name: %s, kind: stdin}]\n"
	    "sinks: [{name: o, kind: null, input: %s}]\n",
	    name, name, name);
	t = parse_ok(text);
	ls_topology_free(t);
	strcat(name, "n");
	snprintf(text, sizeof(text),
	    "name: x\nsources: [{name: %s, kind: stdin}]\n"
	    "sinks: [{name: o, kind: null, input: %s}]\n",
	    name, name);
	d = parse_bad(text);
	assert_int_equal(d.n, 2); /* the name, and the input naming it */
	assert_non_null(strstr(d.msgs[0], "t.yaml:2:18: bad name 'nnnn"));
	assert_non_null(strstr(d.msgs[1], "t.yaml:3:38: bad value 'nnnn"));
	assert_non_null(strstr(d.msgs[1], "for 'input': not a node name"));
	ls_diag_free(&d);
	/* Partition bounds. */
	t = parse_ok("name: x\nsources: [{name: s, kind: stdin}]\n"
	             "stages: [{name: p, kind: parse, input: s, "
	             "partitions: 4096}]\n"
	             "sinks: [{name: o, kind: null, input: p}]\n");
	assert_int_equal(ls_topology_find(t, "p")->partitions, 4096);
	ls_topology_free(t);
	/* Wrong shapes everywhere still produce messages, not crashes. */
	d = parse_bad("name: [x]\nsettings: 3\nsources: {a: 1}\n"
	              "stages: [1, [2], {name: s}]\nsinks: ~\n");
	assert_true(d.n >= 6);
	ls_diag_free(&d);
	/* Past LS_DIAG_MAX problems, one line says there were more. */
	{
		char *many = malloc(150 * 16 + 64);
		size_t used = 0;
		assert_non_null(many);
		used += (size_t)sprintf(many, "name: x\n");
		for (int i = 0; i < 150; i++)
			used += (size_t)sprintf(many + used, "bogus%d: 1\n", i);
		d = parse_bad(many);
		assert_int_equal(d.n, LS_DIAG_MAX + 1);
		/* 1:1 no sources, 1:1 no sinks, then the keys in order */
		assert_string_equal(d.msgs[2], "t.yaml:2:1: unknown top-level "
		                               "key 'bogus0' (known: name, "
		                               "settings, formats, sources, "
		                               "stages, sinks)");
		assert_string_equal(d.msgs[LS_DIAG_MAX],
		    "too many errors; only the first 100 are shown");
		ls_diag_free(&d);
		free(many);
	}
	/* Tabs are a YAML error with a position. */
	d = parse_bad("name: x\nsources:\n\t- name: a\n");
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msgs[0], "t.yaml:3:1: YAML"));
	ls_diag_free(&d);
	/* Invalid UTF-8 is a reader error, positioned by byte offset. */
	d = parse_bad("name: x\nsources: \xff\n");
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msgs[0], "t.yaml:2:10: YAML:"));
	ls_diag_free(&d);
	/* NUL bytes inside a quoted value are refused. */
	d = parse_bad("name: \"a\\0b\"\nsources: [{name: s, kind: stdin}]\n"
	              "sinks: [{name: o, kind: null, input: s}]\n");
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0],
	    "t.yaml:1:7: value contains a NUL byte");
	ls_diag_free(&d);
	/* A self-referencing alias is just a value of the wrong type. */
	d = parse_bad("name: x\nsources: [&a {name: s, kind: stdin, "
	              "seed: *a}]\nsinks: [{name: o, kind: null, input: s}]\n");
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msgs[0], "unknown parameter 'seed' for kind "
	                                  "'stdin' (known: max_line, "
	                                  "dead_letter, partitions)"));
	ls_diag_free(&d);
}

/* ---- the kind table ---------------------------------------------------- */

/* A valid value for a parameter spec, as YAML text. */
static const char *
sample_value(const ls_topo_pspec *ps)
{
	if (ps->allowed != NULL)
		return ps->allowed[0];
	switch (ps->type) {
	case LS_TV_INT:
		return "1";
	case LS_TV_FLOAT:
		return "1.5";
	case LS_TV_BOOL:
		return "true";
	case LS_TV_DURATION:
		return "1s";
	case LS_TV_LIST:
		/* a route stage's rules name the one consumer, o */
		if (strcmp(ps->name, "routes") == 0)
			return "[\"o when level >= warn\"]";
		return strcmp(ps->name, "aggregates") == 0 ? "[count]"
		                                            : "[service]";
	case LS_TV_STRING:
		break;
	}
	if (strcmp(ps->name, "min_level") == 0)
		return "info";
	if (strcmp(ps->name, "dead_letter") == 0)
		return "dl";
	if (strcmp(ps->name, "default") == 0)
		return "o";
	if (strcmp(ps->name, "listen") == 0) {
		/* a syslog source listens on a URL, an http one on HOST:PORT */
		char why[256];
		if (ps->check != NULL &&
		    ps->check("tcp://127.0.0.1:0", why, sizeof(why)) != 0)
			return "\"127.0.0.1:0\"";
		return "\"tcp://127.0.0.1:0\"";
	}
	return "x";
}

static void
test_kind_table_is_coherent(void **unused)
{
	(void)unused;
	/* Every kind, given only its required parameters, loads; each
	 * parameter with a default is then present with that default's
	 * type; each without one is absent. */
	for (size_t k = 0; k < ls_kinds.n; k++) {
		const ls_kind *kind = ls_kinds.kinds[k];
		char node[512], text[1024];
		size_t used;

		used = (size_t)snprintf(node, sizeof(node),
		    "{name: it, kind: %s", kind->name);
		if (kind->role != LS_TOPO_SOURCE)
			used += (size_t)snprintf(node + used,
			    sizeof(node) - used, ", input: src");
		for (const ls_topo_pspec *ps = kind->params; ps->name; ps++) {
			assert_non_null(ps->help);
			assert_true(ps->type != LS_TV_LIST || ps->check ||
			            ps->allowed);
			if (ps->required)
				used += (size_t)snprintf(node + used,
				    sizeof(node) - used, ", %s: %s", ps->name,
				    sample_value(ps));
		}
		snprintf(node + used, sizeof(node) - used, "}");
		switch (kind->role) {
		case LS_TOPO_SOURCE:
			snprintf(text, sizeof(text),
			    "name: k\nsources: [%s]\n"
			    "sinks: [{name: o, kind: null, input: it}]\n",
			    node);
			break;
		case LS_TOPO_STAGE:
			snprintf(text, sizeof(text),
			    "name: k\nsources: [{name: src, kind: stdin}]\n"
			    "stages: [%s]\n"
			    "sinks: [{name: o, kind: null, input: it}]\n",
			    node);
			break;
		case LS_TOPO_SINK:
			snprintf(text, sizeof(text),
			    "name: k\nsources: [{name: src, kind: stdin}]\n"
			    "sinks: [%s]\n",
			    node);
			break;
		}
		ls_topology *t = parse_ok(text);
		const ls_topo_node *n = ls_topology_find(t, "it");
		assert_non_null(n);
		assert_string_equal(n->kind, kind->name);
		assert_ptr_equal(n->kind_def, kind);
		assert_ptr_equal(ls_kind_find(NULL, kind->role, kind->name),
		    kind);
		assert_non_null(kind->behaviour);
		for (const ls_topo_pspec *ps = kind->params; ps->name; ps++) {
			const ls_topo_param *pr = ls_topo_param_get(n,
			    ps->name);
			if (ps->required) {
				assert_non_null(pr);
				assert_int_not_equal(pr->line, 0);
			} else if (ps->dflt != NULL) {
				assert_non_null(pr);
				assert_int_equal(pr->line, 0);
				assert_int_equal(pr->type, ps->type);
			} else {
				assert_null(pr);
			}
		}
		ls_topology_free(t);
	}
	/* And each settings default converts. */
	ls_topology *t = parse_ok("name: s\nsources: [{name: a, kind: stdin}]\n"
	                          "sinks: [{name: o, kind: null, input: a}]\n");
	for (const ls_topo_pspec *ps = ls__topo_settings; ps->name; ps++)
		assert_non_null(ps->dflt);
	ls_topology_free(t);
}

static void
test_docs_cover_the_table(void **unused)
{
	(void)unused;
	char *doc = read_file(LS_SOURCE_ROOT "/docs/topology.md", NULL);
	char want[128];

	assert_non_null(doc);
	for (size_t k = 0; k < ls_kinds.n; k++) {
		const ls_kind *kind = ls_kinds.kinds[k];
		snprintf(want, sizeof(want), "`%s`", kind->name);
		if (strstr(doc, want) == NULL)
			fail_msg("docs/topology.md does not mention kind %s",
			    want);
		for (const ls_topo_pspec *ps = kind->params; ps->name; ps++) {
			snprintf(want, sizeof(want), "`%s`", ps->name);
			if (strstr(doc, want) == NULL)
				fail_msg("docs/topology.md does not mention "
				         "parameter %s of %s",
				    want, kind->name);
			if (ps->dflt == NULL)
				continue;
			snprintf(want, sizeof(want), "`%s`", ps->dflt);
			if (strstr(doc, want) == NULL)
				fail_msg("docs/topology.md does not give the "
				         "default %s of %s",
				    want, ps->name);
		}
	}
	for (const ls_topo_pspec *ps = ls__topo_settings; ps->name; ps++) {
		snprintf(want, sizeof(want), "`%s`", ps->name);
		if (strstr(doc, want) == NULL)
			fail_msg("docs/topology.md does not mention setting %s",
			    want);
	}
	free(doc);
}

static void
test_suggestions(void **unused)
{
	(void)unused;
	assert_int_equal(ls__topo_distance("size", "size"), 0);
	assert_int_equal(ls__topo_distance("sise", "size"), 1);
	assert_int_equal(ls__topo_distance("szie", "size"), 1); /* swap */
	assert_int_equal(ls__topo_distance("partition", "partitions"), 1);
	assert_int_equal(ls__topo_distance("", "abc"), 3);
	assert_int_equal(ls__topo_distance("window", "aggregates"), 4);
	assert_true(ls__topo_name_ok("a-b_C9"));
	assert_false(ls__topo_name_ok(""));
	assert_false(ls__topo_name_ok("a/b"));
	assert_false(ls__topo_name_ok("a b"));
}

/* ---- allocation failures ----------------------------------------------- */

/* Without a sanitizer, this executable's malloc family wraps glibc's and
 * can be told to fail from the Nth call on; live allocations are counted
 * so a leak on any failure path shows. */
#include "../alloc_fail.h"

#if defined(LS_HAVE_MALLOC_HOOK)

static void
test_out_of_memory(void **unused)
{
	(void)unused;
	size_t len = 0;
	char *text = read_file(LS_SOURCE_ROOT "/examples/quickstart.yaml",
	    &len);
	char *bad = read_file(LS_SOURCE_ROOT
	    "/tests/unit/topology/bad/many-errors.yaml",
	    NULL);
	int ok_good = 0, ok_bad = 0;
	long n;

	assert_non_null(text);
	assert_non_null(bad);
	{
		/* Under valgrind its own allocator replaces these functions:
		 * then the hook cannot fail anything, and the sweep is moot. */
		void *(*volatile alloc)(size_t) = malloc;
		void *probe;
		fail_after = 0;
		probe = alloc(1);
		fail_after = -1;
		if (probe != NULL) {
			free(probe);
			free(text);
			free(bad);
			skip();
		}
	}
	for (n = 0; n < 100000 && !(ok_good && ok_bad); n++) {
		ls_topology *t = NULL;
		ls_plan *p = NULL;
		ls_diag d;
		long before = live;
		int rc;

		ls_diag_init(&d);
		fail_after = n;
		rc = ls_topology_parse("q.yaml", text, len, &t, &d);
		if (rc == 0)
			rc = ls_plan_build(t, &p, &d);
		fail_after = -1;
		assert_true(rc == 0 || rc == LS_ENOMEM);
		if (n == 0) /* the hook works: the very first call failed */
			assert_int_equal(rc, LS_ENOMEM);
		ok_good = rc == 0;
		ls_plan_free(p);
		ls_topology_free(t);
		ls_diag_free(&d);
		assert_int_equal(live, before);

		ls_diag_init(&d);
		fail_after = n;
		rc = ls_topology_parse("b.yaml", bad, strlen(bad), &t, &d);
		fail_after = -1;
		assert_true(rc == LS_EPARSE || rc == LS_ENOMEM);
		assert_null(t);
		ok_bad = rc == LS_EPARSE && d.n == 8;
		ls_diag_free(&d);
		assert_int_equal(live, before);
	}
	assert_true(ok_good && ok_bad);
	assert_true(n > 10); /* many distinct allocation points were hit */
	free(text);
	free(bad);
}
#else
static void
test_out_of_memory(void **unused)
{
	(void)unused;
	skip(); /* the sanitizer owns malloc */
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples_valid),
		cmocka_unit_test(test_bad_files_rejected_exactly),
		cmocka_unit_test(test_several_errors_all_reported),
		cmocka_unit_test(test_load_missing_file),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_aggregates),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_topological_order),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_given_values),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_kind_table_is_coherent),
		cmocka_unit_test(test_docs_cover_the_table),
		cmocka_unit_test(test_suggestions),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
