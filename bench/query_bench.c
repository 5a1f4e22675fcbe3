/*
 * query_bench.c -- interactive queries of a window stage (docs/queries.md):
 * the latency of ls_pipeline_query on one partition, by key and for the
 * whole state, with the stage idle and while it ingests.
 *
 * A followed file of JSON lines (KEYS services x WINDOWS one-minute windows,
 * written here) feeds parse -> window (1 partition, key service); the
 * watermark never passes anything, so every window stays open.  Once all
 * lines are in the state, QUERIES queries of each shape are timed one after
 * another from this thread; the answer is decoded (what a node does) and
 * its row count checked.  Then the same while a second file is appended
 * to and ingested.  Prints p50 / p99 in microseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/pipeline.h"
#include "bench.h"
#include "runtime/record.h"
#include "schemas/codec.h"
#include "topology/plan.h"
#include "topology/topology.h"

#define BENCH "query_bench"
#define WINDOWS 10

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void
write_lines(FILE *f, uint64_t keys, int windows, int pass)
{
	for (int w = 0; w < windows; w++)
		for (uint64_t k = 0; k < keys; k++)
			fprintf(f, "{\"ts\":\"2024-03-01T00:%02d:%02dZ\","
			           "\"service\":\"svc-%llu\",\"message\":\"p%d\"}\n",
			    w, (int)(k % 60), (unsigned long long)k, pass);
}

/* One query; returns its rows (-1: failed). */
static int64_t
ask(ls_pipeline *pl, size_t actor, const ls_kind_query *q, double *us)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t t0 = ls_clock_ns();
	int rv = ls_pipeline_query(pl, actor, q, 30000, &buf, &len);
	ls_records *r = NULL;
	if (rv == 0)
		rv = ls_codec_records_decode(buf, len, &r);
	*us = (double)(ls_clock_ns() - t0) / 1000.0;
	free(buf);
	if (rv != 0)
		return -1;
	int64_t n = r->n;
	ls_records_unref(r);
	return n;
}

static int64_t
total_rows(ls_pipeline *pl, size_t actor)
{
	ls_kind_query q;
	memset(&q, 0, sizeof(q));
	q.from_ns = INT64_MIN;
	q.to_ns = INT64_MAX;
	double us;
	return ask(pl, actor, &q, &us);
}

/* Time `n` queries of each shape; print p50 / p99. */
static int
measure(ls_pipeline *pl, size_t actor, uint64_t keys, int n,
    const char *when)
{
	double *by_key = malloc((size_t)n * sizeof(double));
	double *all = malloc((size_t)n * sizeof(double));
	if (by_key == NULL || all == NULL)
		return ls_bench_fail(BENCH, "out of memory");
	char kv[32];
	for (int i = 0; i < n; i++) {
		ls_kind_query q;
		memset(&q, 0, sizeof(q));
		q.from_ns = INT64_MIN;
		q.to_ns = INT64_MAX;
		snprintf(kv, sizeof(kv), "svc-%llu",
		    (unsigned long long)((uint64_t)i * 7919 % keys));
		q.nkey = 1;
		q.key[0] = ls_str_make(kv, strlen(kv));
		if (ask(pl, actor, &q, &by_key[i]) != WINDOWS)
			return ls_bench_fail(BENCH, "a key query answered "
			                            "wrong");
	}
	int nall = n / 10 > 0 ? n / 10 : 1;
	for (int i = 0; i < nall; i++) {
		ls_kind_query q;
		memset(&q, 0, sizeof(q));
		q.from_ns = INT64_MIN;
		q.to_ns = INT64_MAX;
		q.limit = 1000;
		if (ask(pl, actor, &q, &all[i]) != 1000)
			return ls_bench_fail(BENCH, "a limit query answered "
			                            "wrong");
	}
	qsort(by_key, (size_t)n, sizeof(double), cmp_double);
	qsort(all, (size_t)nall, sizeof(double), cmp_double);
	ls_bench_print("query_by_key", "%s: p50 %.0f us, p99 %.0f us (%d "
	    "queries, %llu keys x %d open windows)", when, by_key[n / 2],
	    by_key[n * 99 / 100], n, (unsigned long long)keys, WINDOWS);
	ls_bench_print("query_limit_1000", "%s: p50 %.0f us, p99 %.0f us (%d "
	    "queries over all %llu groups)", when, all[nall / 2],
	    all[nall * 99 / 100], nall, (unsigned long long)keys * WINDOWS);
	free(by_key);
	free(all);
	return 0;
}

int
main(void)
{
	uint64_t keys = ls_bench_scaled(20000, 200);
	int n = (int)ls_bench_scaled(2000, 20);
	char dir[] = "/tmp/ls-query-bench-XXXXXX", in[128], text[1024];
	if (mkdtemp(dir) == NULL)
		return ls_bench_fail(BENCH, "mkdtemp");
	snprintf(in, sizeof(in), "%s/in.jsonl", dir);
	FILE *f = fopen(in, "w");
	if (f == NULL)
		return ls_bench_fail(BENCH, "cannot write %s", in);
	write_lines(f, keys, WINDOWS, 0);
	fclose(f);
	snprintf(text, sizeof(text),
	    "name: qb\nsettings:\n  watermark_delay: 1000h\n"
	    "  idle_timeout: 1000h\nsources:\n  - name: src\n    kind: file\n"
	    "    path: %s\n    follow: true\nstages:\n  - name: parse\n"
	    "    kind: parse\n    input: src\n    format: json\n"
	    "  - name: w\n    kind: window\n    input: parse\n"
	    "    key: service\n    size: 1m\nsinks:\n  - name: out\n"
	    "    kind: \"null\"\n    input: w\n",
	    in);
	ls_diag d;
	ls_topology *t = NULL;
	ls_plan *plan = NULL;
	ls_diag_init(&d);
	if (ls_topology_parse("qb.yaml", text, strlen(text), &t, &d) != 0 ||
	    ls_plan_build(t, &plan, &d) != 0)
		return ls_bench_fail(BENCH, "bad topology");
	ls_diag_free(&d);
	ls_runtime_opts ro = ls_bench_runtime_opts();
	ls_runtime *rt;
	ls_pipeline *pl;
	char err[256];
	if (ls_runtime_create(&ro, &rt) != 0 ||
	    ls_pipeline_start(rt, plan, NULL, &pl, err, sizeof(err)) != 0)
		return ls_bench_fail(BENCH, "cannot start: %s", err);
	size_t w = ls_plan_actor_count(plan) - 2; /* src, parse, w, out */
	int64_t want = (int64_t)keys * WINDOWS;
	for (int i = 0; total_rows(pl, w) != want; i++) {
		if (i > 6000)
			ls_bench_abandon(BENCH, "the state never held %lld "
			                        "groups", (long long)want);
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	int rc = measure(pl, w, keys, n, "idle");
	/* the same while the stage ingests the file again (appended) */
	f = fopen(in, "a");
	if (f == NULL)
		return ls_bench_fail(BENCH, "cannot append");
	for (int pass = 1; pass <= 3 && rc == 0; pass++)
		write_lines(f, keys, WINDOWS, pass);
	fclose(f);
	if (rc == 0)
		rc = measure(pl, w, keys, n, "ingesting");
	ls_pipeline_drain(pl);
	(void)ls_pipeline_wait(pl, 60000);
	ls_runtime_destroy(rt);
	ls_pipeline_free(pl);
	ls_plan_free(plan);
	ls_topology_free(t);
	unlink(in);
	rmdir(dir);
	return rc;
}
