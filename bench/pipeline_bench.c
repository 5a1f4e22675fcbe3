/*
 * pipeline_bench.c -- the log pipeline end to end, and where its time goes.
 *
 * 1. Split: the generator alone (ls_generator_next, lines/s) and the parser
 *    alone (ls_parser_parse in auto mode on those lines, lines/s on one
 *    core), measured in alternating chunks of 4,096 lines over the same
 *    N lines the pipeline will see, and the fallback alone (format
 *    freeform: scan each line for a timestamp and a level word, as for a
 *    line no format knows) on the same lines.  The pass also computes, from the
 *    parsed events, how many (service, 10 s window) pairs exist: the number
 *    of results the window stage must emit.
 * 2. End to end: generator (rate 0, count N, JSON, seed 42, fixed start)
 *    -> parse (auto) -> window (key service, 10 s tumbling,
 *    count/avg/max of latency_ms) -> null sink, with 1 and then 2
 *    partitions for parse and window, on a runtime with one worker per
 *    core.  The run must account for every event (produced = parsed =
 *    windowed, nothing dead or late) and emit exactly the expected number
 *    of results, or it fails.
 *
 * Figures: medians of LS_BENCH_RUNS runs (default 3) of N = 2 M events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/generator.h"
#include "actors/parse.h"
#include "actors/pipeline.h"
#include "bench/bench.h"
#include "runtime/actor.h"
#include "topology/plan.h"
#include "topology/topology.h"

#define SEED         42
#define START        "2024-03-01T00:00:00Z"
#define WINDOW_NS    INT64_C(10000000000)
#define CHUNK        4096
#define MAX_SERVICES 64
/* A source with rate 0 spaces event times as if at this rate (see
 * actors/source_actor.c); the reference pass must do the same. */
#define SOURCE_TIME_RATE 10000.0

/* Distinct (service, window) pairs, for the expected result count. */
typedef struct pairs {
	char names[MAX_SERVICES][40];
	uint32_t lens[MAX_SERVICES];
	uint32_t nservices;
	/* per service: a bitmap of window indices from the first event */
	uint8_t *seen[MAX_SERVICES];
	uint64_t nwin;
	int64_t base;
	uint64_t count;
	int overflow;
} pairs;

static int
pairs_add(pairs *p, const ls_event *ev)
{
	uint32_t s;

	for (s = 0; s < p->nservices; s++)
		if (p->lens[s] == ev->service.len &&
		    memcmp(p->names[s], ev->service.ptr, ev->service.len) == 0)
			break;
	if (s == p->nservices) {
		if (s == MAX_SERVICES || ev->service.len >= sizeof(p->names[0]))
			return p->overflow = 1;
		memcpy(p->names[s], ev->service.ptr, ev->service.len);
		p->lens[s] = ev->service.len;
		p->seen[s] = calloc(p->nwin / 8 + 1, 1);
		if (p->seen[s] == NULL)
			return p->overflow = 1;
		p->nservices++;
	}
	/* tumbling windows are aligned to multiples of their size */
	int64_t w = ev->time_ns / WINDOW_NS - p->base;
	if (w < 0 || (uint64_t)w >= p->nwin)
		return p->overflow = 1;
	uint8_t bit = (uint8_t)(1u << (w % 8));
	if (!(p->seen[s][w / 8] & bit)) {
		p->seen[s][w / 8] |= bit;
		p->count++;
	}
	return 0;
}

static void
pairs_free(pairs *p)
{
	for (uint32_t s = 0; s < p->nservices; s++)
		free(p->seen[s]);
}

/* One pass over n lines: generator, parser and fallback timed separately,
 * pairs counted when p != NULL. */
static int
split_once(uint64_t n, double *gen_rate, double *parse_rate,
           double *fallback_rate, pairs *p)
{
	ls_generator_cfg gc;
	memset(&gc, 0, sizeof(gc));
	gc.seed = SEED;
	gc.format = LS_GEN_JSON;
	gc.events_per_sec = SOURCE_TIME_RATE;
	gc.start_time_ns = LS_GENERATOR_DEFAULT_START_NS; /* = START */
	ls_generator *g = ls_generator_new(&gc);
	char *buf = malloc((size_t)CHUNK * LS_GENERATOR_LINE_MAX);
	uint32_t *off = malloc(CHUNK * sizeof(*off));
	uint32_t *len = malloc(CHUNK * sizeof(*len));
	ls_event *ev = malloc(sizeof(*ev));
	ls_parser parser, fallback;
	ls_arena arena;
	int64_t gen_ns = 0, parse_ns = 0, fallback_ns = 0;
	uint64_t done = 0, failed = 0;
	int rv = 0;

	ls_parser_init(&parser, LS_FMT_AUTO);
	ls_parser_init(&fallback, LS_FMT_FREEFORM);
	ls_arena_init(&arena, 0);
	if (g == NULL || buf == NULL || off == NULL || len == NULL ||
	    ev == NULL) {
		rv = ls_bench_fail("pipeline split", "out of memory");
		goto out;
	}
	while (done < n) {
		uint32_t k = n - done < CHUNK ? (uint32_t)(n - done) : CHUNK;
		size_t pos = 0;
		int64_t t0 = ls_clock_ns();
		for (uint32_t i = 0; i < k; i++) {
			size_t l;
			if (ls_generator_next(g, buf + pos,
			                      LS_GENERATOR_LINE_MAX, &l,
			                      NULL) != 0) {
				rv = ls_bench_fail(
				    "generator", "line %llu does not fit",
				    (unsigned long long)(done + i));
				goto out;
			}
			off[i] = (uint32_t)pos;
			len[i] = (uint32_t)l;
			pos += l;
		}
		int64_t t1 = ls_clock_ns();
		for (uint32_t i = 0; i < k; i++) {
			if (ls_parser_parse(&parser, buf + off[i], len[i], ev,
			                    &arena, NULL) != 0) {
				failed++;
				continue;
			}
			if (p != NULL && pairs_add(p, ev) != 0) {
				rv = ls_bench_fail(
				    "pipeline split",
				    "unexpected service or time in line %llu",
				    (unsigned long long)(done + i));
				goto out;
			}
		}
		ls_arena_reset(&arena);
		int64_t t2 = ls_clock_ns();
		for (uint32_t i = 0; i < k; i++) {
			if (ls_parser_parse(&fallback, buf + off[i], len[i], ev,
			                    &arena, NULL) != 0 ||
			    ev->time_ns == LS_TIME_UNKNOWN)
				failed++;
		}
		ls_arena_reset(&arena);
		int64_t t3 = ls_clock_ns();
		gen_ns += t1 - t0;
		parse_ns += t2 - t1;
		fallback_ns += t3 - t2;
		done += k;
	}
	if (failed != 0) {
		rv = ls_bench_fail("parse",
		                   "%llu of %llu generated lines did "
		                   "not parse",
		                   (unsigned long long)failed,
		                   (unsigned long long)n);
		goto out;
	}
	*gen_rate = (double)n * 1e9 / (double)gen_ns;
	*parse_rate = (double)n * 1e9 / (double)parse_ns;
	*fallback_rate = (double)n * 1e9 / (double)fallback_ns;
out:
	ls_arena_fini(&arena);
	free(ev);
	free(len);
	free(off);
	free(buf);
	ls_generator_free(g);
	return rv;
}

static const char topology_fmt[] =
    "name: bench\n"
    "sources:\n"
    "  - name: gen\n"
    "    kind: generator\n"
    "    rate: 0\n"
    "    count: %llu\n"
    "    seed: %d\n"
    "    format: json\n"
    "    start: \"" START "\"\n"
    "stages:\n"
    "  - name: parse\n"
    "    kind: parse\n"
    "    input: gen\n"
    "    format: auto\n"
    "    partitions: %u\n"
    "  - name: win\n"
    "    kind: window\n"
    "    input: parse\n"
    "    key: service\n"
    "    partitions: %u\n"
    "    window: tumbling\n"
    "    size: 10s\n"
    "    aggregates: [count, avg(latency_ms), max(latency_ms)]\n"
    "sinks:\n"
    "  - name: out\n"
    "    kind: null\n"
    "    input: win\n";

/* Find a node's counters by name. */
static const ls_pipeline_node_stats *
stat_of(const ls_pipeline_node_stats *st, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(st[i].name, name) == 0)
			return &st[i];
	return NULL;
}

static int
pipeline_once(uint64_t n, unsigned parts, uint64_t expect_results, double *rate)
{
	char name[32], text[sizeof(topology_fmt) + 64], err[256] = "";
	ls_topology *t = NULL;
	ls_plan *plan = NULL;
	ls_runtime *rt = NULL;
	ls_pipeline *pl = NULL;
	ls_diag d;
	int rv;

	snprintf(name, sizeof(name), "pipeline %u partition%s", parts,
	         parts == 1 ? "" : "s");
	snprintf(text, sizeof(text), topology_fmt, (unsigned long long)n, SEED,
	         parts, parts);
	ls_diag_init(&d);
	rv = ls_topology_parse("bench.yaml", text, strlen(text), &t, &d);
	if (rv == 0)
		rv = ls_plan_build(t, &plan, &d);
	if (rv != 0) {
		ls_diag_print(&d, stderr);
		ls_diag_free(&d);
		ls_topology_free(t);
		return ls_bench_fail(name, "topology: %s", ls_strerror(rv));
	}
	ls_diag_free(&d);
	ls_runtime_opts ro = ls_bench_runtime_opts();
	if ((rv = ls_runtime_create(&ro, &rt)) != 0) {
		ls_plan_free(plan);
		ls_topology_free(t);
		return ls_bench_fail(name, "runtime: %s", ls_strerror(rv));
	}
	int64_t t0 = ls_clock_ns();
	rv = ls_pipeline_start(rt, plan, NULL, &pl, err, sizeof(err));
	if (rv == 0)
		rv = ls_pipeline_wait(pl, 120000);
	int64_t t1 = ls_clock_ns();
	if (rv == LS_ETIMEDOUT)
		ls_bench_abandon(name, "not finished after 120 s");

	ls_pipeline_node_stats st[8];
	size_t ns = rv == 0 || pl != NULL ? ls_pipeline_stats(pl, st, 8) : 0;
	ls_runtime_destroy(rt);
	if (pl != NULL)
		ls_pipeline_free(pl);
	ls_plan_free(plan);
	if (rv != 0) {
		ls_topology_free(t);
		return ls_bench_fail(name, "%s%s%s", ls_strerror(rv),
		                     err[0] ? ": " : "", err);
	}
	const ls_pipeline_node_stats *g = stat_of(st, ns, "gen");
	const ls_pipeline_node_stats *p = stat_of(st, ns, "parse");
	const ls_pipeline_node_stats *w = stat_of(st, ns, "win");
	const ls_pipeline_node_stats *o = stat_of(st, ns, "out");
	int ok = g != NULL && p != NULL && w != NULL && o != NULL &&
	         (uint64_t)g->in == n && (uint64_t)p->in == n &&
	         (uint64_t)p->out == n && p->dead == 0 &&
	         (uint64_t)w->in == n && w->dead == 0 && w->late == 0 &&
	         (uint64_t)w->results == expect_results &&
	         (uint64_t)o->in == expect_results; /* null sink: received */
	if (!ok) {
		rv = ls_bench_fail(
		    name,
		    "events lost or miscounted: generated %lld, parsed "
		    "%lld/%lld (dead %lld), windowed %lld (late %lld, dead "
		    "%lld), results %lld, at the sink %lld; expected %llu "
		    "events and "
		    "%llu results",
		    g ? (long long)g->in : -1, p ? (long long)p->in : -1,
		    p ? (long long)p->out : -1, p ? (long long)p->dead : -1,
		    w ? (long long)w->in : -1, w ? (long long)w->late : -1,
		    w ? (long long)w->dead : -1, w ? (long long)w->results : -1,
		    o ? (long long)o->in : -1, (unsigned long long)n,
		    (unsigned long long)expect_results);
		ls_topology_free(t);
		return rv;
	}
	ls_topology_free(t);
	*rate = (double)n * 1e9 / (double)(t1 - t0);
	return 0;
}

int
main(void)
{
	uint64_t n = ls_bench_scaled(2000000, 1000);
	int runs = ls_bench_runs(3);
	double gen[99] = {0}, parse[99] = {0}, fb[99] = {0}, e2e[99] = {0};
	pairs p;

	/* Reference pass (also the first timed split run). */
	memset(&p, 0, sizeof(p));
	p.base = LS_GENERATOR_DEFAULT_START_NS / WINDOW_NS - 1;
	p.nwin = (uint64_t)((double)n / SOURCE_TIME_RATE * 1e9 / WINDOW_NS) + 4;
	if (split_once(n, &gen[0], &parse[0], &fb[0], &p) != 0 || p.overflow) {
		pairs_free(&p);
		return p.overflow ? ls_bench_fail("pipeline split",
		                                  "reference pass failed")
		                  : 1;
	}
	uint64_t expect = p.count;
	pairs_free(&p);
	for (int r = 1; r < runs; r++)
		if (split_once(n, &gen[r], &parse[r], &fb[r], NULL) != 0)
			return 1;
	ls_bench_print_rate("generator (1 core)", gen, runs, "lines/s");
	ls_bench_print_rate("parse auto/json (1 core)", parse, runs, "lines/s");
	ls_bench_print_rate("fallback alone, json lines (1 core)", fb, runs,
	                    "lines/s");

	for (unsigned parts = 1; parts <= 2; parts++) {
		char name[64];
		for (int r = 0; r < runs; r++)
			if (pipeline_once(n, parts, expect, &e2e[r]) != 0)
				return 1;
		snprintf(name, sizeof(name), "pipeline, %u partition%s", parts,
		         parts == 1 ? "" : "s");
		ls_bench_print_rate(name, e2e, runs, "events/s");
	}
	return 0;
}
