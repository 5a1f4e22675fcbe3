/*
 * checkpoint_test.c -- checkpoints, restore and effectively-once output of
 * the in-process pipeline, with the test thread as the checkpoint
 * coordinator.
 *
 * Topology: generator -> parse (2 partitions) -> window keyed by service (4
 * partitions, 200 ms) -> jsonl sink "agg", and parse -> filter (warn and
 * worse, 2 partitions) -> jsonl sink "ev".  The reference is the same
 * topology run without checkpoints, itself checked against the generator's
 * lines parsed and counted directly.
 *
 * With checkpoints on, a fake coordinator keeps every blob an actor saves
 * (per checkpoint id and actor) and commits checkpoint k once every actor
 * of the plan has saved k or has ended with a final checkpoint <= k.  A
 * "kill" is ls_runtime_destroy with data in flight; the restore starts a
 * new runtime from the last completed checkpoint K (ckpt_load hands out
 * the blobs of K, ids continue from a higher base) and commits K at once,
 * as the cluster does after a failover.  In every case the union of the
 * committed part files must equal the reference: no line lost, none
 * duplicated, and no part ever written for an uncommitted checkpoint.
 * Kills come at several points (early, mid-run, twice in a row, with
 * commits batched, under two-slot mailboxes), and once after the final
 * checkpoint.  A state that cannot be read (store error, corrupt sink
 * state, stdin asked to seek) must stop the start, not restart from
 * scratch.
 *
 * A second topology adds a short source (300 events) that feeds the window
 * together with the generator and, alone, a branch of its own (parse ->
 * window -> sink "ev"); it is killed after that branch's final checkpoint
 * F and a later K completed, so the restore from K hands the branch its
 * final states from F (as the cluster's store does).  With a first
 * checkpoint interval set (ls_pipeline_opts.first_checkpoint_ms), a fresh
 * and a restored run each take one checkpoint at once even when the
 * period is an hour.
 *
 * Event times: the generator spaces them for 10000 events/s when its rate
 * is 0, so the checkpointed runs are limited to 10000/s and see the same
 * events as the reference; each run then lasts about two seconds of wall
 * time, long enough for dozens of 20 ms checkpoints.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../runtime/wait.h"
#include "actors/generator.h"
#include "actors/parse.h"
#include "actors/pipeline.h"
#include "runtime/actor.h"
#include "topology/plan.h"
#include "topology/topology.h"

#define COUNT 20000
#define SEED  11
/* A generator with rate 0 spaces its event times for 10000 events/s, so a
 * run limited to 10000/s produces exactly the same events. */
#define RATE        10000
#define WINDOW_NS   INT64_C(200000000)
#define CKPT_MS     20
#define DEADLINE_MS 120000
#define GEN_BASE    (UINT64_C(1) << 32) /* ckpt_base step per restore */

/* ---- lines of output ---- */

typedef struct lines {
	char **v;
	size_t n, cap;
} lines;

static void
lines_add(lines *l, const char *s, size_t n)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	char *c = malloc(n + 1);
	assert_non_null(c);
	memcpy(c, s, n);
	c[n] = '\0';
	l->v[l->n++] = c;
}

static void
lines_free(lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Append every line of path (without its newline); every line must end
 * with one. */
static void
lines_read_file(lines *l, const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		assert_int_equal(line[n - 1], '\n');
		lines_add(l, line, (size_t)n - 1);
	}
	free(line);
	fclose(f);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
lines_sort(lines *l)
{
	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

/* The identity of an output line: a window result's "id", an event's
 * "offset". */
static void
line_key(const char *line, char *key, size_t cap)
{
	const char *id = strstr(line, "\"id\":\"");
	if (id != NULL) {
		id += strlen("\"id\":\"");
		const char *end = strchr(id, '"');
		assert_non_null(end);
		assert_true((size_t)(end - id) < cap);
		snprintf(key, cap, "%.*s", (int)(end - id), id);
		return;
	}
	const char *off = strstr(line, "\"offset\":");
	assert_non_null(off);
	snprintf(key, cap, "offset %lld", atoll(off + strlen("\"offset\":")));
}

/* No two lines of l share an identity. */
static void
assert_no_duplicate_ids(const lines *l)
{
	lines keys = {0};
	char key[512];
	for (size_t i = 0; i < l->n; i++) {
		line_key(l->v[i], key, sizeof(key));
		lines_add(&keys, key, strlen(key));
	}
	lines_sort(&keys);
	for (size_t i = 1; i < keys.n; i++)
		if (strcmp(keys.v[i - 1], keys.v[i]) == 0)
			fail_msg("duplicated output: %s", keys.v[i]);
	lines_free(&keys);
}

/* ---- part files of a transactional jsonl sink ---- */

/* "p<partition>-<16 hex>.jsonl" -> 1 and the checkpoint id. */
static int
part_id(const char *name, uint64_t *id)
{
	const char *p = name;
	if (*p++ != 'p')
		return 0;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p++ != '-')
		return 0;
	uint64_t v = 0;
	for (int i = 0; i < 16; i++, p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			return 0;
		v = v << 4 | (uint64_t)d;
	}
	if (strcmp(p, ".jsonl") != 0)
		return 0;
	*id = v;
	return 1;
}

typedef struct parts_info {
	size_t nparts;
	size_t nother; /* temporary or unexpected files */
	uint64_t max_id;
} parts_info;

/* Scan dir; with l, append the lines of every part. */
static parts_info
parts_scan(const char *dir, lines *l)
{
	parts_info pi = {0, 0, 0};
	DIR *d = opendir(dir);
	if (d == NULL)
		return pi; /* not created yet */
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		uint64_t id;
		if (!part_id(e->d_name, &id)) {
			pi.nother++;
			continue;
		}
		pi.nparts++;
		if (id > pi.max_id)
			pi.max_id = id;
		if (l != NULL) {
			char path[512];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			lines_read_file(l, path);
		}
	}
	closedir(d);
	return pi;
}

/* Remove dir and the files in it. */
static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- the topology ---- */

static const char *const sink_names[2] = {"agg", "ev"};

typedef struct fx {
	char dir[64];
	char text[4096];
	ls_topology *topo;
	ls_plan *plan;
	size_t nactors;
	size_t nloads; /* actors that restore state (sources, windows, sinks) */
} fx;

/* Parse f->text and plan it: nactors actors, nloads of them stateful. */
static void
fx_plan(fx *f, size_t nactors, size_t nloads)
{
	ls_diag d;
	ls_diag_init(&d);
	assert_int_equal(ls_topology_parse("ck.yaml", f->text, strlen(f->text),
	                                   &f->topo, &d),
	                 0);
	assert_int_equal(ls_plan_build(f->topo, &f->plan, &d), 0);
	ls_diag_free(&d);
	f->nactors = ls_plan_actor_count(f->plan);
	assert_int_equal(f->nactors, nactors);
	f->nloads = nloads;
}

static void
fx_open(fx *f, int rate)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/ls-ckpt-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->text, sizeof(f->text),
	         "name: ck\n"
	         "settings:\n"
	         "  watermark_delay: 500ms\n"
	         "  idle_timeout: 1h\n"
	         "sources:\n"
	         "  - name: gen\n"
	         "    kind: generator\n"
	         "    rate: %d\n"
	         "    count: %d\n"
	         "    seed: %d\n"
	         "    format: json\n"
	         "    start: 2024-03-01T00:00:00Z\n"
	         "stages:\n"
	         "  - name: parse\n"
	         "    kind: parse\n"
	         "    input: gen\n"
	         "    partitions: 2\n"
	         "  - name: w\n"
	         "    kind: window\n"
	         "    input: parse\n"
	         "    key: service\n"
	         "    partitions: 4\n"
	         "    size: 200ms\n"
	         "    aggregates: [count, min(latency_ms), max(latency_ms), "
	         "sum(bytes)]\n"
	         "  - name: warn\n"
	         "    kind: filter\n"
	         "    input: parse\n"
	         "    min_level: warn\n"
	         "    partitions: 2\n"
	         "sinks:\n"
	         "  - name: agg\n"
	         "    kind: jsonl\n"
	         "    input: w\n"
	         "    path: %s/agg.jsonl\n"
	         "  - name: ev\n"
	         "    kind: jsonl\n"
	         "    input: warn\n"
	         "    path: %s/ev.jsonl\n",
	         rate, COUNT, SEED, f->dir, f->dir);
	/* gen + 2 parse + 4 window + 2 filter + 2 sinks; gen, the windows
	 * and the sinks have state */
	fx_plan(f, 11, 7);
}

#define SHORT_COUNT 300

/* The generator and a short source into the window; the short source
 * alone into parse_s -> ws -> "ev" (window results, too). */
static void
fx_open_two(fx *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/ls-ckpt-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->text, sizeof(f->text),
	         "name: ck2\n"
	         "settings:\n"
	         "  watermark_delay: 500ms\n"
	         "  idle_timeout: 1h\n"
	         "sources:\n"
	         "  - name: gen\n"
	         "    kind: generator\n"
	         "    rate: %d\n"
	         "    count: %d\n"
	         "    seed: %d\n"
	         "    format: json\n"
	         "    start: 2024-03-01T00:00:00Z\n"
	         "  - name: short\n"
	         "    kind: generator\n"
	         "    rate: %d\n"
	         "    count: %d\n"
	         "    seed: 12\n"
	         "    format: json\n"
	         "    start: 2024-03-01T00:00:00Z\n"
	         "stages:\n"
	         "  - name: parse\n"
	         "    kind: parse\n"
	         "    input: [gen, short]\n"
	         "    partitions: 2\n"
	         "  - name: w\n"
	         "    kind: window\n"
	         "    input: parse\n"
	         "    key: service\n"
	         "    partitions: 4\n"
	         "    size: 200ms\n"
	         "    aggregates: [count, max(latency_ms), sum(bytes)]\n"
	         "  - name: parse_s\n"
	         "    kind: parse\n"
	         "    input: short\n"
	         "  - name: ws\n"
	         "    kind: window\n"
	         "    input: parse_s\n"
	         "    key: service\n"
	         "    partitions: 2\n"
	         "    size: 10ms\n"
	         "    aggregates: [count, min(latency_ms)]\n"
	         "sinks:\n"
	         "  - name: agg\n"
	         "    kind: jsonl\n"
	         "    input: w\n"
	         "    path: %s/agg.jsonl\n"
	         "  - name: ev\n"
	         "    kind: jsonl\n"
	         "    input: ws\n"
	         "    path: %s/ev.jsonl\n",
	         RATE, COUNT, SEED, RATE, SHORT_COUNT, f->dir, f->dir);
	/* 2 sources + 2 parse + 4 w + parse_s + 2 ws + 2 sinks; stateful:
	 * the sources, the windows and the sinks */
	fx_plan(f, 13, 10);
}

/* The index of the plan actor "name". */
static size_t
actor_named(const fx *f, const char *name)
{
	for (size_t i = 0; i < f->nactors; i++)
		if (strcmp(ls_plan_actor_at(f->plan, i)->name, name) == 0)
			return i;
	fail_msg("no actor %s", name);
	return 0;
}

static void
fx_close(fx *f)
{
	char path[256];
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.jsonl", f->dir,
		         sink_names[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.jsonl.d", f->dir,
		         sink_names[i]);
		remove_dir(path);
	}
	rmdir(f->dir);
	ls_plan_free(f->plan);
	ls_topology_free(f->topo);
}

static const ls_topo_node *
actor_node(const fx *f, size_t i)
{
	return ls_topology_node(f->topo, ls_plan_actor_at(f->plan, i)->node);
}

static void
parts_dir(const fx *f, int sink, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s.jsonl.d", f->dir, sink_names[sink]);
}

/* ---- the reference ---- */

static lines ref[2]; /* sorted lines of agg and ev */

typedef struct cell {
	char id[96];
	int64_t count;
} cell;

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Check the reference output against the generator's lines parsed and
 * counted here: one result per (window, service) with its count, and one
 * event line per warn-or-worse event. */
static void
check_reference(const lines *agg, const lines *ev)
{
	ls_generator_cfg gc;
	memset(&gc, 0, sizeof(gc));
	gc.seed = SEED;
	gc.format = LS_GEN_JSON;
	gc.start_time_ns = INT64_C(1709251200000000000); /* 2024-03-01 */
	gc.events_per_sec = RATE;
	ls_generator *g = ls_generator_new(&gc);
	assert_non_null(g);
	ls_parser p;
	ls_parser_init(&p, LS_FMT_AUTO);
	ls_arena a;
	ls_arena_init(&a, 0);
	ls_level warn = ls_level_parse("warn", 4);
	cell *cells = NULL;
	size_t ncells = 0, capcells = 0;
	lines want_ev = {0};
	char line[LS_GENERATOR_LINE_MAX];
	for (int i = 0; i < COUNT; i++) {
		size_t len;
		int64_t tns;
		ls_event e;
		assert_int_equal(
		    ls_generator_next(g, line, sizeof(line), &len, &tns), 0);
		assert_int_equal(ls_parser_parse(&p, line, len, &e, &a, NULL),
		                 0);
		char id[96];
		snprintf(id, sizeof(id), "w/%.*s/%lld", (int)e.service.len,
		         e.service.ptr,
		         (long long)(floor_div(e.time_ns, WINDOW_NS) *
		                     WINDOW_NS / 1000000));
		size_t c = 0;
		while (c < ncells && strcmp(cells[c].id, id) != 0)
			c++;
		if (c == ncells) {
			if (ncells == capcells) {
				capcells = capcells ? capcells * 2 : 64;
				cells =
				    realloc(cells, capcells * sizeof(*cells));
				assert_non_null(cells);
			}
			snprintf(cells[ncells].id, sizeof(cells[ncells].id),
			         "%s", id);
			cells[ncells++].count = 0;
		}
		cells[c].count++;
		if (e.level >= warn) {
			snprintf(id, sizeof(id), "offset %d", i);
			lines_add(&want_ev, id, strlen(id));
		}
		ls_arena_reset(&a);
	}
	ls_arena_fini(&a);
	ls_generator_free(g);

	/* window results: every cell once, with its count */
	assert_int_equal(agg->n, ncells);
	char key[512];
	for (size_t i = 0; i < agg->n; i++) {
		line_key(agg->v[i], key, sizeof(key));
		size_t c = 0;
		while (c < ncells && strcmp(cells[c].id, key) != 0)
			c++;
		assert_true(c < ncells);
		const char *cnt = strstr(agg->v[i], "\"count\":");
		assert_non_null(cnt);
		assert_int_equal(atoll(cnt + strlen("\"count\":")),
		                 cells[c].count);
		assert_non_null(strstr(agg->v[i], "\"final\":true"));
	}
	/* a few windows, several services: the windows close mid-run */
	assert_true(ncells >= 20);
	free(cells);

	/* events: exactly the warn-or-worse offsets */
	lines got_ev = {0};
	for (size_t i = 0; i < ev->n; i++) {
		line_key(ev->v[i], key, sizeof(key));
		lines_add(&got_ev, key, strlen(key));
	}
	lines_sort(&got_ev);
	lines_sort(&want_ev);
	assert_int_equal(got_ev.n, want_ev.n);
	assert_true(want_ev.n >= 1000);
	for (size_t i = 0; i < want_ev.n; i++)
		assert_string_equal(got_ev.v[i], want_ev.v[i]);
	lines_free(&got_ev);
	lines_free(&want_ev);
}

/* Run f's topology without checkpoints; the sorted lines of its two
 * sinks into out. */
static void
run_reference(const fx *f, lines out[2])
{
	ls_runtime_opts ro = {.workers = 2};
	ls_runtime *rt;
	assert_int_equal(ls_runtime_create(&ro, &rt), 0);
	ls_pipeline *pl;
	char err[256];
	assert_int_equal(
	    ls_pipeline_start(rt, f->plan, NULL, &pl, err, sizeof(err)), 0);
	assert_int_equal(ls_pipeline_wait(pl, DEADLINE_MS), 0);
	ls_runtime_destroy(rt);
	ls_pipeline_free(pl);
	for (int i = 0; i < 2; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s.jsonl", f->dir,
		         sink_names[i]);
		lines_read_file(&out[i], path);
		lines_sort(&out[i]);
		assert_no_duplicate_ids(&out[i]);
		unlink(path);
	}
}

/* Group setup: run the topology without checkpoints, as fast as it goes. */
static int
reference_setup(void **unused)
{
	(void)unused;
	fx f;
	fx_open(&f, 0);
	run_reference(&f, ref);
	check_reference(&ref[0], &ref[1]);
	fx_close(&f);
	return 0;
}

static int
reference_teardown(void **unused)
{
	(void)unused;
	lines_free(&ref[0]);
	lines_free(&ref[1]);
	return 0;
}

/* ---- the fake coordinator ---- */

typedef struct saved {
	uint64_t ckpt;
	int final;
	uint8_t *blob; /* NULL for a stateless stage */
	size_t len;
} saved;

typedef struct actor_log {
	saved *v; /* in the order saved: ids strictly increasing */
	size_t n, cap;
	uint64_t final_id; /* 0 until the actor saved its final checkpoint */
} actor_log;

typedef struct coord {
	pthread_mutex_t mu;
	const fx *f;
	uint64_t base;      /* ckpt_base of this run */
	actor_log *a;       /* one per plan actor */
	char bad[256];      /* first protocol violation a hook saw, "" = none */
	uint64_t committed; /* largest id committed in this run (or K) */
	size_t ncommits;
	const struct coord *from; /* restore: the crashed run's blobs */
	uint64_t from_ckpt;       /* ... of this checkpoint */
	size_t nloads;
} coord;

static void
coord_init(coord *c, const fx *f, uint64_t base, const coord *from,
           uint64_t from_ckpt)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->f = f;
	c->base = base;
	c->a = calloc(f->nactors, sizeof(*c->a));
	assert_non_null(c->a);
	c->from = from;
	c->from_ckpt = from_ckpt;
	c->committed = from_ckpt;
}

static void
coord_fini(coord *c)
{
	for (size_t i = 0; i < c->f->nactors; i++) {
		for (size_t j = 0; j < c->a[i].n; j++)
			free(c->a[i].v[j].blob);
		free(c->a[i].v);
	}
	free(c->a);
	pthread_mutex_destroy(&c->mu);
}

static void violation(coord *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
violation(coord *c, const char *fmt, ...)
{
	if (c->bad[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->bad, sizeof(c->bad), fmt, ap);
	va_end(ap);
}

/* ckpt_save hook: runs on actor threads. */
static void
hook_save(void *arg, size_t actor, uint64_t ckpt, int final, uint8_t *blob,
          size_t len)
{
	coord *c = arg;
	pthread_mutex_lock(&c->mu);
	if (actor >= c->f->nactors) {
		violation(c, "save from actor %zu of %zu", actor,
		          c->f->nactors);
		goto drop;
	}
	actor_log *l = &c->a[actor];
	if (ckpt <= c->base) {
		violation(c, "actor %zu saved id %llu below the run's base",
		          actor, (unsigned long long)ckpt);
		goto drop;
	}
	if (final && l->n > 0 && l->v[l->n - 1].final &&
	    l->v[l->n - 1].ckpt == ckpt) {
		/* restored from its final state by a regional restore, it
		 * ended again: the same state once more */
		free(l->v[l->n - 1].blob);
		l->v[l->n - 1] = (saved){ckpt, final, blob, len};
		l->final_id = ckpt;
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (l->final_id != 0) {
		violation(c, "actor %zu saved %llu after its final %llu", actor,
		          (unsigned long long)ckpt,
		          (unsigned long long)l->final_id);
		goto drop;
	}
	if (l->n > 0 && ckpt <= l->v[l->n - 1].ckpt) {
		violation(c, "actor %zu saved %llu after %llu", actor,
		          (unsigned long long)ckpt,
		          (unsigned long long)l->v[l->n - 1].ckpt);
		goto drop;
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		saved *n = realloc(l->v, nc * sizeof(*n));
		if (n == NULL) {
			violation(c, "out of memory");
			goto drop;
		}
		l->v = n;
		l->cap = nc;
	}
	l->v[l->n++] = (saved){ckpt, final, blob, len};
	if (final)
		l->final_id = ckpt;
	pthread_mutex_unlock(&c->mu);
	return;
drop:
	pthread_mutex_unlock(&c->mu);
	free(blob);
}

/* What actor a restores from for checkpoint k: its blob of k, or its final
 * one if it had ended by then; NULL if k does not cover the actor. */
static const saved *
coord_find(const coord *c, size_t a, uint64_t k)
{
	const actor_log *l = &c->a[a];
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->v[mid].ckpt < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < l->n && l->v[lo].ckpt == k)
		return &l->v[lo];
	if (l->final_id != 0 && l->final_id <= k)
		return &l->v[l->n - 1];
	return NULL;
}

static int
coord_complete(const coord *c, uint64_t k)
{
	for (size_t a = 0; a < c->f->nactors; a++)
		if (coord_find(c, a, k) == NULL)
			return 0;
	return 1;
}

/* Largest completed checkpoint id (caller holds the lock). */
static uint64_t
coord_latest(const coord *c)
{
	uint64_t best = 0;
	for (size_t a = 0; a < c->f->nactors; a++) {
		const actor_log *l = &c->a[a];
		for (size_t j = l->n; j-- > 0;) {
			uint64_t k = l->v[j].ckpt;
			if (k <= best)
				break;
			if (coord_complete(c, k)) {
				best = k;
				break;
			}
		}
	}
	return best;
}

static int hook_load_self(void *arg, size_t actor, uint8_t **blob,
                          size_t *len);

/* ckpt_load hook: the crashed run's state at from_ckpt (a regional
 * restore: the run's own). */
static int
hook_load(void *arg, size_t actor, uint8_t **blob, size_t *len)
{
	coord *c = arg;
	if (c->from == NULL)
		return c->from_ckpt != 0 ? hook_load_self(arg, actor, blob, len)
		                         : LS_ENOENT;
	const saved *s = coord_find(c->from, actor, c->from_ckpt);
	pthread_mutex_lock(&c->mu);
	if (s == NULL)
		violation(c, "actor %zu asked for state checkpoint %llu lacks",
		          actor, (unsigned long long)c->from_ckpt);
	else
		c->nloads++;
	pthread_mutex_unlock(&c->mu);
	if (s == NULL)
		return LS_ENOENT;
	*blob = malloc(s->len ? s->len : 1);
	if (*blob == NULL)
		return LS_ENOMEM;
	if (s->len > 0)
		memcpy(*blob, s->blob, s->len);
	*len = s->len;
	return 0;
}

/* Every actor has saved its final checkpoint: 1 and the largest final id
 * (actors downstream of only a source that ended early have a smaller
 * one). */
static int
coord_all_final(coord *c, uint64_t *id)
{
	int all = 1;
	pthread_mutex_lock(&c->mu);
	*id = 0;
	for (size_t a = 0; a < c->f->nactors; a++) {
		if (c->a[a].final_id == 0)
			all = 0;
		if (c->a[a].final_id > *id)
			*id = c->a[a].final_id;
	}
	pthread_mutex_unlock(&c->mu);
	return all;
}

/* Distinct non-final ids the sources saved. */
static size_t
coord_source_barriers(coord *c)
{
	size_t n = 0;
	pthread_mutex_lock(&c->mu);
	for (size_t a = 0; a < c->f->nactors; a++) {
		if (actor_node(c->f, a)->role != LS_TOPO_SOURCE)
			continue;
		for (size_t j = 0; j < c->a[a].n; j++)
			n += !c->a[a].v[j].final;
	}
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* ---- one run ---- */

typedef struct run {
	const fx *f;
	coord *c;
	/* stop driving once this many checkpoints were committed (0: never),
	 * for a regional restore */
	size_t pause_commits;
	int paused;
	ls_runtime *rt;
	ls_pipeline *p;
	/* crash once the run's checkpoint crash_ckpt completed (before it is
	 * committed), or once the source produced crash_events in this run
	 * (0: never) */
	uint64_t crash_ckpt;
	int64_t crash_events;
	size_t crash_final_of; /* actor index + 1: crash once a checkpoint
	                          after that actor's final one completed */
	int crashing;
	uint32_t mailbox_cap;  /* 0: the runtime's default */
	uint64_t commit_every; /* commit once this many more completed */
	char bad[256];         /* a part file for an uncommitted checkpoint */
} run;

/* What a test has running, file-scope so that the teardown can stop a
 * run a failed assertion left behind (its actors still call the hooks). */
static struct {
	uint32_t mailbox_cap;  /* for every run of the test */
	uint64_t commit_every; /* 0 = 1 */
	int64_t ckpt_ms;       /* 0 = CKPT_MS */
	int64_t first_ms;      /* ls_pipeline_opts.first_checkpoint_ms */
	size_t replay_log;     /* ls_pipeline_opts.replay_log_events */
	fx f;
	int f_open;
	coord c[4];
	size_t nc;
	run r;
} T;

static int
cleanup(void **unused)
{
	(void)unused;
	if (T.r.rt != NULL)
		ls_runtime_destroy(T.r.rt);
	ls_pipeline_free(T.r.p);
	for (size_t i = 0; i < T.nc; i++)
		coord_fini(&T.c[i]);
	if (T.f_open)
		fx_close(&T.f);
	memset(&T, 0, sizeof(T));
	return 0;
}

/* Parts on disk may only be those of committed checkpoints. */
static void
check_parts(run *r)
{
	for (int i = 0; i < 2; i++) {
		char dir[256];
		parts_dir(r->f, i, dir, sizeof(dir));
		parts_info pi = parts_scan(dir, NULL);
		if (pi.nparts > 0 && pi.max_id > r->c->committed &&
		    r->bad[0] == '\0')
			snprintf(r->bad, sizeof(r->bad),
			         "%s has part %llx, only %llx committed",
			         sink_names[i], (unsigned long long)pi.max_id,
			         (unsigned long long)r->c->committed);
	}
}

/* wait_until condition: commit what completed; stop at the end of the run
 * (everything final and committed) or when it is time to crash. */
static int
run_step(void *arg)
{
	run *r = arg;
	coord *c = r->c;
	pthread_mutex_lock(&c->mu);
	uint64_t k = coord_latest(c);
	pthread_mutex_unlock(&c->mu);
	if (r->crash_ckpt != 0 && k >= c->base + r->crash_ckpt) {
		/* killed between completing k and committing it: the restore
		 * commits it */
		r->crashing = 1;
		return 1;
	}
	if (r->crash_final_of != 0) {
		pthread_mutex_lock(&c->mu);
		uint64_t fin = c->a[r->crash_final_of - 1].final_id;
		pthread_mutex_unlock(&c->mu);
		if (fin != 0 && k > fin) {
			r->crashing = 1;
			return 1;
		}
	}
	uint64_t fin;
	int ended = coord_all_final(c, &fin);
	if (k > c->committed &&
	    (k - c->committed >= r->commit_every || (ended && k >= fin))) {
		check_parts(r);
		c->committed = k;
		c->ncommits++;
		ls_pipeline_commit(r->p, k);
	}
	if (r->pause_commits != 0 && c->ncommits >= r->pause_commits) {
		r->pause_commits = 0;
		r->paused = 1;
		return 1;
	}
	if (r->crash_events > 0) {
		ls_pipeline_node_stats st[8];
		ls_pipeline_stats(r->p, st, 8);
		if (st[0].in >= r->crash_events) {
			r->crashing = 1;
			return 1;
		}
	}
	return ls_pipeline_done(r->p) && ended && c->committed >= fin;
}

/* Start a run with checkpoints on runtime generation gen (0 = fresh; n =
 * the n-th restore, from checkpoint from_ckpt of `from`). */
static void
run_start(run *r, const fx *f, coord *c, unsigned gen, const coord *from,
          uint64_t from_ckpt)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->c = c;
	r->mailbox_cap = T.mailbox_cap;
	r->commit_every = T.commit_every > 0 ? T.commit_every : 1;
	coord_init(c, f, gen * GEN_BASE, from, from_ckpt);
	T.nc++;
	ls_runtime_opts ro = {.workers = 2, .mailbox_cap = r->mailbox_cap};
	assert_int_equal(ls_runtime_create(&ro, &r->rt), 0);
	ls_pipeline_opts po = {
	    .checkpoint_ms = T.ckpt_ms > 0 ? T.ckpt_ms : CKPT_MS,
	    .first_checkpoint_ms = T.first_ms,
	    .replay_log_events = T.replay_log,
	    .ckpt_base = gen * GEN_BASE,
	    .ckpt_save = hook_save,
	    .ckpt_load = hook_load,
	    .arg = c,
	};
	char err[256] = "";
	int rv =
	    ls_pipeline_start(r->rt, f->plan, &po, &r->p, err, sizeof(err));
	if (rv != 0)
		fail_msg("start: %s (%s)", ls_errname(rv), err);
	if (from != NULL) {
		/* as the cluster does after a failover: K is complete */
		ls_pipeline_commit(r->p, from_ckpt);
		/* the sources, the windows and the sinks restored state */
		assert_int_equal(c->nloads, f->nloads);
	}
}

/* Drive r until it ends or its crash point; 1 if it ended. */
static int
run_drive(run *r)
{
	if (!wait_until(run_step, r, DEADLINE_MS))
		fail_msg("run did not end (committed %llx)",
		         (unsigned long long)r->c->committed);
	if (r->c->bad[0] != '\0')
		fail_msg("checkpoint protocol: %s", r->c->bad);
	if (r->bad[0] != '\0')
		fail_msg("%s", r->bad);
	if (r->crashing || r->paused)
		return 0;
	assert_int_equal(ls_pipeline_wait(r->p, 0), 0);
	return 1;
}

/* Kill: the runtime goes away with data in flight.  Returns the checkpoint
 * to restore from (the last completed one, perhaps not yet committed). */
static uint64_t
run_kill(run *r)
{
	ls_runtime_destroy(r->rt);
	ls_pipeline_free(r->p);
	r->rt = NULL;
	r->p = NULL;
	check_parts(r);
	if (r->bad[0] != '\0')
		fail_msg("%s", r->bad);
	pthread_mutex_lock(&r->c->mu);
	uint64_t k = coord_latest(r->c);
	pthread_mutex_unlock(&r->c->mu);
	assert_true(k > r->c->base);
	if (r->crash_ckpt != 0)
		assert_true(k >= r->c->base + r->crash_ckpt &&
		            k > r->c->committed);
	else
		assert_true(k >= r->c->committed);
	/* the kill came before the end: the source's state at K is not its
	 * final one, so the restored run has events left to produce */
	for (size_t a = 0; a < r->f->nactors; a++) {
		if (actor_node(r->f, a)->role != LS_TOPO_SOURCE)
			continue;
		const saved *s = coord_find(r->c, a, k);
		assert_non_null(s);
		assert_false(s->final);
	}
	return k;
}

static void
run_end(run *r)
{
	ls_runtime_destroy(r->rt);
	ls_pipeline_free(r->p);
	r->rt = NULL;
	r->p = NULL;
}

/* The union of the parts equals want, line for line. */
static void
check_output_with(const fx *f, const lines want[2])
{
	for (int i = 0; i < 2; i++) {
		char dir[256];
		lines got = {0};
		parts_dir(f, i, dir, sizeof(dir));
		parts_info pi = parts_scan(dir, &got);
		assert_int_equal(pi.nother, 0); /* no temporary left over */
		assert_no_duplicate_ids(&got);
		lines_sort(&got);
		if (got.n != want[i].n)
			fail_msg("%s: %zu lines, reference %zu", sink_names[i],
			         got.n, want[i].n);
		for (size_t j = 0; j < got.n; j++)
			assert_string_equal(got.v[j], want[i].v[j]);
		lines_free(&got);
	}
}

/* The union of the parts equals the reference, line for line. */
static void
check_output(const fx *f)
{
	check_output_with(f, ref);
}

/* ---- tests ---- */

/* With checkpoints and no failure the committed parts are the reference;
 * barriers really happened and parts came out per checkpoint. */
static void
test_checkpointed_run_matches_reference(void **unused)
{
	(void)unused;
	fx *f = &T.f;
	coord *c = &T.c[0];
	fx_open(f, RATE);
	T.f_open = 1;
	run_start(&T.r, f, c, 0, NULL, 0);
	assert_int_equal(run_drive(&T.r), 1);
	run_end(&T.r);

	/* several barriers went through the whole graph */
	assert_true(coord_source_barriers(c) >= 5);
	assert_true(c->ncommits >= 5);
	uint64_t fin;
	assert_true(coord_all_final(c, &fin));
	assert_true(fin > 5);
	/* every non-final id a source saved, every actor saved too */
	for (size_t a = 0; a < f->nactors; a++) {
		if (actor_node(f, a)->role != LS_TOPO_SOURCE)
			continue;
		for (size_t j = 0; j < c->a[a].n; j++)
			assert_true(coord_complete(c, c->a[a].v[j].ckpt));
	}
	/* the events came out over several checkpoints, each part named by
	 * an id a sink saved */
	char dir[256];
	parts_dir(f, 1, dir, sizeof(dir));
	parts_info pi = parts_scan(dir, NULL);
	assert_true(pi.nparts >= 5);
	assert_true(pi.max_id <= fin);
	/* the windows still open at the end are flushed into the final
	 * checkpoint's part */
	parts_dir(f, 0, dir, sizeof(dir));
	pi = parts_scan(dir, NULL);
	assert_true(pi.nparts >= 2);
	assert_int_equal(pi.max_id, fin);
	check_output(f);
}

/* Kill and restore, once per crash point given (ckpt: once the run's
 * checkpoint n completed, before the coordinator commits it; events: once
 * the run's source produced n). */
typedef struct crash_point {
	uint64_t ckpt;
	int64_t events;
} crash_point;

static void
crash_and_restore(const crash_point *pts, size_t npts)
{
	assert_true(npts < 4);
	fx_open(&T.f, RATE);
	T.f_open = 1;
	run_start(&T.r, &T.f, &T.c[0], 0, NULL, 0);
	for (size_t i = 0; i < npts; i++) {
		T.r.crash_ckpt = pts[i].ckpt;
		T.r.crash_events = pts[i].events;
		assert_int_equal(run_drive(&T.r), 0);
		uint64_t k = run_kill(&T.r);
		run_start(&T.r, &T.f, &T.c[i + 1], (unsigned)i + 1, &T.c[i], k);
	}
	assert_int_equal(run_drive(&T.r), 1);
	run_end(&T.r);
	check_output(&T.f);
}

static void
test_crash_after_checkpoint_2(void **unused)
{
	(void)unused;
	const crash_point p[] = {{2, 0}};
	crash_and_restore(p, 1);
}

static void
test_crash_after_checkpoint_5(void **unused)
{
	(void)unused;
	const crash_point p[] = {{5, 0}};
	crash_and_restore(p, 1);
}

/* Mid-run: windows have closed and results were committed already. */
static void
test_crash_mid_run(void **unused)
{
	(void)unused;
	const crash_point p[] = {{0, COUNT * 6 / 10}};
	crash_and_restore(p, 1);
}

/* The restored run is killed too, and restored again. */
static void
test_crash_twice(void **unused)
{
	(void)unused;
	const crash_point p[] = {{3, 0}, {0, COUNT * 4 / 10}};
	crash_and_restore(p, 2);
}

/* The coordinator commits only every fourth completed checkpoint: one
 * commit must write the parts of every checkpoint up to it, and a restore
 * must write the parts its state holds for checkpoints before K. */
static void
test_crash_with_batched_commits(void **unused)
{
	(void)unused;
	T.commit_every = 4;
	const crash_point p[] = {{6, 0}, {0, COUNT / 2}};
	crash_and_restore(p, 2);
}

/* Two-slot mailboxes: nearly every send is refused, so barriers wait in
 * output queues and held inputs pile up behind alignments. */
static void
test_crash_under_backpressure(void **unused)
{
	(void)unused;
	T.mailbox_cap = 2;
	const crash_point p[] = {{4, 0}, {0, COUNT / 2}};
	crash_and_restore(p, 2);
}

typedef struct file_snap {
	lines names;
	lines bodies;
} file_snap;

static void
snap_take(const fx *f, file_snap *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 2; i++) {
		char dir[256];
		parts_dir(f, i, dir, sizeof(dir));
		DIR *d = opendir(dir);
		assert_non_null(d);
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char path[512];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			lines_add(&s->names, path, strlen(path));
		}
		closedir(d);
	}
	lines_sort(&s->names);
	for (size_t i = 0; i < s->names.n; i++) {
		FILE *fp = fopen(s->names.v[i], "r");
		assert_non_null(fp);
		char *body = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&body, &len);
		assert_non_null(mem);
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
			fwrite(buf, 1, n, mem);
		fclose(mem);
		fclose(fp);
		lines_add(&s->bodies, body, len);
		free(body);
	}
}

static void
snap_free(file_snap *s)
{
	lines_free(&s->names);
	lines_free(&s->bodies);
}

/* Restoring from the final checkpoint (the crash came after everything
 * completed) writes nothing new and still ends. */
static void
test_restore_from_final_checkpoint(void **unused)
{
	(void)unused;
	fx *f = &T.f;
	coord *c = T.c;
	run *r = &T.r;
	fx_open(f, RATE);
	T.f_open = 1;
	run_start(r, f, &c[0], 0, NULL, 0);
	assert_int_equal(run_drive(r), 1);
	run_end(r);
	uint64_t fin;
	assert_true(coord_all_final(&c[0], &fin));
	check_output(f);
	file_snap before, after;
	snap_take(f, &before);

	run_start(r, f, &c[1], 1, &c[0], fin);
	assert_int_equal(run_drive(r), 1);
	/* the restored run ended with a final checkpoint of its own */
	uint64_t fin2;
	assert_true(coord_all_final(&c[1], &fin2));
	assert_int_equal(fin2, GEN_BASE + 1);
	assert_int_equal(ls_pipeline_wait(r->p, 0), 0);
	ls_pipeline_node_stats st[8];
	assert_int_equal(ls_pipeline_stats(r->p, st, 8), 6);
	assert_int_equal(st[0].in, 0); /* nothing produced again */
	run_end(r);

	snap_take(f, &after);
	assert_int_equal(after.names.n, before.names.n);
	for (size_t i = 0; i < before.names.n; i++) {
		assert_string_equal(after.names.v[i], before.names.v[i]);
		assert_string_equal(after.bodies.v[i], before.bodies.v[i]);
	}
	snap_free(&before);
	snap_free(&after);
	check_output(f);
}

/* With a period of an hour, first_checkpoint_ms still gives a fresh run
 * and a restored one a checkpoint at once (and only that one): a run
 * that has just been restored after a failover is resumed as soon as a
 * checkpoint of its own completes. */
static void
test_first_checkpoint_at_once(void **unused)
{
	(void)unused;
	T.ckpt_ms = 3600 * 1000;
	T.first_ms = CKPT_MS;
	fx_open(&T.f, RATE);
	T.f_open = 1;
	run_start(&T.r, &T.f, &T.c[0], 0, NULL, 0);
	T.r.crash_ckpt = 1;
	assert_int_equal(run_drive(&T.r), 0);
	uint64_t k = run_kill(&T.r);
	assert_true(k == 1);
	assert_int_equal(coord_source_barriers(&T.c[0]), 1);
	run_start(&T.r, &T.f, &T.c[1], 1, &T.c[0], k);
	assert_int_equal(run_drive(&T.r), 1);
	run_end(&T.r);
	/* the restored run: its first barrier, then only the final id */
	assert_int_equal(coord_source_barriers(&T.c[1]), 1);
	size_t gen = actor_named(&T.f, "gen/0");
	assert_true(T.c[1].a[gen].n == 2 && T.c[1].a[gen].v[0].ckpt ==
	                                        GEN_BASE + 1);
	uint64_t fin;
	assert_true(coord_all_final(&T.c[1], &fin));
	assert_true(fin == GEN_BASE + 2);
	check_output(&T.f);
}

/* Two sources, one done long before the other: killed after the short
 * branch's final checkpoint F and a later K, the restore from K gives
 * every partition of that branch (source, parse, window, sink) its final
 * state of F; they end at once and nothing is produced or written twice. */
static void
test_restore_after_a_source_ended(void **unused)
{
	(void)unused;
	fx *f = &T.f;
	fx_open_two(f);
	T.f_open = 1;
	lines want[2] = {{0}, {0}};
	run_reference(f, want);
	assert_true(want[0].n >= 20 && want[1].n >= 10);

	size_t sh = actor_named(f, "short/0");
	run_start(&T.r, f, &T.c[0], 0, NULL, 0);
	T.r.crash_final_of = sh + 1;
	assert_int_equal(run_drive(&T.r), 0);
	run_end(&T.r);
	check_parts(&T.r);
	coord *c0 = &T.c[0];
	pthread_mutex_lock(&c0->mu);
	uint64_t k = coord_latest(c0);
	uint64_t F = c0->a[sh].final_id;
	pthread_mutex_unlock(&c0->mu);
	assert_true(F != 0 && k > F);
	/* at K the short branch has only its final states of F; the
	 * generator had not ended */
	const char *branch[] = {"short/0", "parse_s/0", "ws/0", "ws/1",
	                        "ev/0"};
	for (size_t i = 0; i < sizeof(branch) / sizeof(branch[0]); i++) {
		size_t a = actor_named(f, branch[i]);
		const saved *sv = coord_find(c0, a, k);
		assert_non_null(sv);
		assert_true(sv->final && sv->ckpt == F);
	}
	const saved *g = coord_find(c0, actor_named(f, "gen/0"), k);
	assert_non_null(g);
	assert_false(g->final);

	run_start(&T.r, f, &T.c[1], 1, c0, k);
	assert_int_equal(run_drive(&T.r), 1);
	ls_pipeline_node_stats st[8];
	assert_int_equal(ls_pipeline_stats(T.r.p, st, 8), 8);
	for (int n = 0; n < 8; n++) {
		if (strcmp(st[n].name, "short") == 0)
			assert_int_equal(st[n].in, 0); /* nothing again */
		if (strcmp(st[n].name, "gen") == 0)
			assert_true(st[n].in > 0 && st[n].in < COUNT);
	}
	run_end(&T.r);
	/* the branch ended again at once: its only save is a final one with
	 * the restored run's first id */
	for (size_t i = 0; i < sizeof(branch) / sizeof(branch[0]); i++) {
		const actor_log *l = &T.c[1].a[actor_named(f, branch[i])];
		assert_int_equal(l->n, 1);
		assert_true(l->v[0].final && l->v[0].ckpt == GEN_BASE + 1);
	}
	check_output_with(f, want);
	lines_free(&want[0]);
	lines_free(&want[1]);
}

/* ---- state that cannot be restored ---- */

typedef struct bad_load {
	const fx *f;
	const char *node; /* its actors get the answer below, others ENOENT */
	int rv;           /* the error to return, or 0 and blob */
	const uint8_t *blob;
	size_t len;
	int asked;
} bad_load;

static int
hook_bad_load(void *arg, size_t actor, uint8_t **blob, size_t *len)
{
	bad_load *b = arg;
	if (strcmp(actor_node(b->f, actor)->name, b->node) != 0)
		return LS_ENOENT;
	b->asked++;
	if (b->rv != 0)
		return b->rv;
	*blob = malloc(b->len);
	if (*blob == NULL)
		return LS_ENOMEM;
	memcpy(*blob, b->blob, b->len);
	*len = b->len;
	return 0;
}

/* The pipeline refuses to start (and leaves nothing running) instead of
 * starting from scratch, which would repeat or lose output. */
static void
start_must_fail(bad_load *b)
{
	ls_runtime_opts ro = {.workers = 2};
	assert_int_equal(ls_runtime_create(&ro, &T.r.rt), 0);
	ls_pipeline_opts po = {
	    .checkpoint_ms = CKPT_MS,
	    .ckpt_base = GEN_BASE,
	    .ckpt_load = hook_bad_load,
	    .arg = b,
	};
	char err[256] = "";
	int rv = ls_pipeline_start(T.r.rt, b->f->plan, &po, &T.r.p, err,
	                           sizeof(err));
	assert_int_not_equal(rv, 0);
	T.r.p = NULL;
	assert_true(b->asked >= 1);
	ls_runtime_destroy(T.r.rt);
	T.r.rt = NULL;
	for (int i = 0; i < 2; i++) {
		char dir[256];
		parts_dir(b->f, i, dir, sizeof(dir));
		parts_info pi = parts_scan(dir, NULL);
		assert_int_equal(pi.nparts, 0);
	}
}

static void
put_u(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A state store that fails to read (not "no state"), and sink states that
 * are truncated or list one checkpoint twice (sink_actor.c's format: u8
 * version 1, u64 final id, u32 count, then u64 id, u32 length, bytes). */
static void
test_unreadable_state_fails_start(void **unused)
{
	(void)unused;
	fx_open(&T.f, RATE);
	T.f_open = 1;
	bad_load b = {&T.f, "gen", LS_EIO, NULL, 0, 0};
	start_must_fail(&b);
	b = (bad_load){&T.f, "agg", LS_EIO, NULL, 0, 0};
	start_must_fail(&b);

	uint8_t blob[13 + 2 * (12 + 3)];
	blob[0] = 1;
	put_u(blob + 1, 0, 8);
	put_u(blob + 9, 2, 4);
	put_u(blob + 13, 5, 8);
	put_u(blob + 21, 3, 4);
	memcpy(blob + 25, "ab\n", 3);
	put_u(blob + 28, 5, 8); /* checkpoint 5 again */
	put_u(blob + 36, 3, 4);
	memcpy(blob + 40, "cd\n", 3);
	b = (bad_load){&T.f, "ev", 0, blob, sizeof(blob), 0};
	start_must_fail(&b);
	b = (bad_load){&T.f, "ev", 0, blob, sizeof(blob) - 1, 0};
	start_must_fail(&b);
	put_u(blob + 28, 4, 8); /* going back */
	b = (bad_load){&T.f, "ev", 0, blob, sizeof(blob), 0};
	start_must_fail(&b);
}

/* stdin cannot seek: restoring it from a position is refused (from its
 * final state it simply ends).  Source state (source_actor.c): u8 version
 * 1, u8 ended, u64 position. */
static void
test_stdin_refuses_restore(void **unused)
{
	(void)unused;
	const char *text = "name: s\n"
	                   "sources:\n"
	                   "  - name: in\n"
	                   "    kind: stdin\n"
	                   "stages:\n"
	                   "  - name: parse\n"
	                   "    kind: parse\n"
	                   "    input: in\n"
	                   "sinks:\n"
	                   "  - name: out\n"
	                   "    kind: null\n"
	                   "    input: parse\n";
	fx *f = &T.f;
	assert_int_equal(
	    ls_topology_parse("s.yaml", text, strlen(text), &f->topo, NULL), 0);
	assert_int_equal(ls_plan_build(f->topo, &f->plan, NULL), 0);
	f->nactors = ls_plan_actor_count(f->plan);
	uint8_t blob[10] = {1, 0};
	put_u(blob + 2, 100, 8);
	bad_load b = {f, "in", 0, blob, sizeof(blob), 0};
	ls_runtime_opts ro = {.workers = 2};
	assert_int_equal(ls_runtime_create(&ro, &T.r.rt), 0);
	ls_pipeline_opts po = {
	    .checkpoint_ms = CKPT_MS,
	    .ckpt_base = GEN_BASE,
	    .ckpt_load = hook_bad_load,
	    .arg = &b,
	};
	assert_int_equal(
	    ls_pipeline_start(T.r.rt, f->plan, &po, &T.r.p, NULL, 0),
	    LS_ENOTSUP);
	T.r.p = NULL;
	assert_int_equal(b.asked, 1);
	blob[1] = 1; /* it had ended */
	assert_int_equal(
	    ls_pipeline_start(T.r.rt, f->plan, &po, &T.r.p, NULL, 0), 0);
	assert_int_equal(b.asked, 2);
	ls_runtime_destroy(T.r.rt);
	T.r.rt = NULL;
	ls_pipeline_free(T.r.p);
	T.r.p = NULL;
	ls_plan_free(f->plan);
	ls_topology_free(f->topo);
}

/* ---- regional restore (ls_pipeline_rewind) ---- */

/* ckpt_load hook of a rewind: the run's own state at its restore point. */
static int
hook_load_self(void *arg, size_t actor, uint8_t **blob, size_t *len)
{
	coord *c = arg;
	pthread_mutex_lock(&c->mu);
	const saved *s = c->from_ckpt != 0 ? coord_find(c, actor, c->from_ckpt)
	                                   : NULL;
	int rv = LS_ENOENT;
	if (s == NULL && c->from_ckpt != 0)
		violation(c, "actor %zu asked for state checkpoint %llu lacks",
		          actor, (unsigned long long)c->from_ckpt);
	if (s != NULL && (*blob = malloc(s->len ? s->len : 1)) != NULL) {
		if (s->len > 0)
			memcpy(*blob, s->blob, s->len);
		*len = s->len;
		c->nloads++;
		rv = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return rv;
}

static int64_t
stage_in(ls_pipeline *p, const char *name)
{
	ls_pipeline_node_stats st[16];
	size_t n = ls_pipeline_stats(p, st, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		if (strcmp(st[i].name, name) == 0)
			return st[i].in;
	fail_msg("no stage %s", name);
	return -1;
}

/* Restart the plan actors of the stages in `stages` ("name" or
 * "name/partition") from the last committed checkpoint K, as the cluster
 * does when they moved: what they saved after K is forgotten (the leader
 * drops those acks), the others keep running. */
static void
rewind_region(run *r, const char *const *stages, size_t n, uint64_t view)
{
	coord *c = r->c;
	const fx *f = r->f;
	uint64_t *inc = calloc(f->nactors, sizeof(*inc));
	assert_non_null(inc);
	uint64_t k = c->committed;
	assert_true(k > c->base);
	pthread_mutex_lock(&c->mu);
	for (size_t a = 0; a < f->nactors; a++) {
		const char *an = ls_plan_actor_at(f->plan, a)->name;
		int hit = 0;
		for (size_t j = 0; j < n; j++) {
			size_t l = strlen(stages[j]);
			hit |= strcmp(an, stages[j]) == 0 ||
			       (strncmp(an, stages[j], l) == 0 && an[l] == '/' &&
			        strchr(stages[j], '/') == NULL);
		}
		if (!hit)
			continue;
		inc[a] = view;
		actor_log *l = &c->a[a];
		while (l->n > 0 && l->v[l->n - 1].ckpt > k) {
			free(l->v[l->n - 1].blob);
			l->n--;
		}
		if (l->final_id > k)
			l->final_id = 0;
	}
	c->from_ckpt = k;
	pthread_mutex_unlock(&c->mu);
	char err[256] = "";
	int rv = ls_pipeline_rewind(r->p, inc, view, k, 0, NULL, NULL, err,
	                            sizeof(err));
	if (rv != 0)
		fail_msg("rewind: %s (%s)", ls_errname(rv), err);
	/* a restarted partition that had ended must end again (the leader
	 * takes no final ack of an older incarnation): until it saves its
	 * final state once more, no later checkpoint completes */
	pthread_mutex_lock(&c->mu);
	for (size_t a = 0; a < f->nactors; a++)
		if (inc[a] != 0)
			c->a[a].final_id = 0;
	pthread_mutex_unlock(&c->mu);
	free(inc);
	r->paused = 0;
}

/* Run f with replay logs, restart the given region once the run committed
 * `after` checkpoints (twice when again != NULL), and finish: the output
 * must be the reference's. */
static void
rewind_case(const char *const *region, size_t n, size_t after,
            const char *const *again, size_t nagain)
{
	T.replay_log = 1u << 20;
	run *r = &T.r;
	run_start(r, &T.f, &T.c[0], 0, NULL, 0);
	r->pause_commits = after;
	assert_int_equal(run_drive(r), 0);
	rewind_region(r, region, n, 2);
	if (again != NULL) {
		r->pause_commits = r->c->ncommits + 3;
		assert_int_equal(run_drive(r), 0);
		rewind_region(r, again, nagain, 3);
	}
	assert_int_equal(run_drive(r), 1);
	assert_string_equal(r->c->bad, "");
}

/* A window partition and the sink it feeds restart; the source and the
 * parse stage are never rewound: the source produced each event once and
 * parse saw each once, and the output is the reference. */
static void
test_rewind_window_partition(void **unused)
{
	(void)unused;
	fx_open(&T.f, RATE);
	T.f_open = 1;
	const char *const region[] = {"w/1", "agg"};
	rewind_case(region, 2, 6, NULL, 0);
	assert_int_equal(stage_in(T.r.p, "gen"), COUNT);
	assert_int_equal(stage_in(T.r.p, "parse"), COUNT);
	assert_true(T.r.c->nloads >= 2);
	run_end(&T.r);
	check_output(&T.f);
}

/* A parse partition restarts with its downstream closure (every window
 * and filter partition and both sinks): the source replays to it from its
 * log and is not rewound. */
static void
test_rewind_parse_partition(void **unused)
{
	(void)unused;
	fx_open(&T.f, RATE);
	T.f_open = 1;
	const char *const region[] = {"parse/0", "w", "warn", "agg", "ev"};
	rewind_case(region, 5, 5, NULL, 0);
	assert_int_equal(stage_in(T.r.p, "gen"), COUNT);
	run_end(&T.r);
	check_output(&T.f);
}

/* Two regional restores in a row, the second of a region that overlaps
 * the first; under two-slot mailboxes, so replays wait in output queues. */
static void
test_rewind_twice_under_backpressure(void **unused)
{
	(void)unused;
	T.mailbox_cap = 2;
	fx_open(&T.f, RATE);
	T.f_open = 1;
	const char *const first[] = {"parse/1", "w", "warn", "agg", "ev"};
	const char *const second[] = {"w/2", "w/3", "agg"};
	rewind_case(first, 5, 4, second, 3);
	assert_int_equal(stage_in(T.r.p, "gen"), COUNT);
	run_end(&T.r);
	check_output(&T.f);
}

/* The whole graph restarts in place (the source too): the same output. */
static void
test_rewind_everything(void **unused)
{
	(void)unused;
	fx_open(&T.f, RATE);
	T.f_open = 1;
	const char *const region[] = {"gen", "parse", "w", "warn", "agg", "ev"};
	rewind_case(region, 6, 5, NULL, 0);
	assert_true(stage_in(T.r.p, "gen") > COUNT); /* it replayed */
	run_end(&T.r);
	check_output(&T.f);
}

/* The short source's branch ended (parse_s's end of stream left its log
 * at a commit) before its window restarts, with the shared one: the replay
 * to ws ends with the end of stream again, the windows close, the output
 * is the reference. */
static void
test_rewind_after_a_source_ended(void **unused)
{
	(void)unused;
	fx *f = &T.f;
	fx_open_two(f);
	T.f_open = 1;
	lines want[2] = {{0}, {0}};
	run_reference(f, want);
	const char *const region[] = {"w", "ws", "agg", "ev"};
	/* the short source ends within its first 30 ms; 8 commits later
	 * parse_s's EOS is out of its log */
	rewind_case(region, 4, 8, NULL, 0);
	assert_int_equal(stage_in(T.r.p, "gen"), COUNT);
	assert_int_equal(stage_in(T.r.p, "short"), SHORT_COUNT);
	run_end(&T.r);
	check_output_with(f, want);
	lines_free(&want[0]);
	lines_free(&want[1]);
}

/* Without a replay log a rewind is refused and nothing stops. */
static void
test_rewind_needs_log(void **unused)
{
	(void)unused;
	fx_open(&T.f, RATE);
	T.f_open = 1;
	run_start(&T.r, &T.f, &T.c[0], 0, NULL, 0);
	uint64_t inc[11] = {0};
	inc[1] = 2;
	char err[128] = "";
	assert_int_equal(ls_pipeline_rewind(T.r.p, inc, 2, 0, 0, NULL, NULL,
	                                    err, sizeof(err)),
	                 LS_ENOTSUP);
	assert_int_equal(run_drive(&T.r), 1);
	run_end(&T.r);
	check_output(&T.f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_checkpointed_run_matches_reference,
	                              cleanup),
	    cmocka_unit_test_teardown(test_crash_after_checkpoint_2, cleanup),
	    cmocka_unit_test_teardown(test_crash_after_checkpoint_5, cleanup),
	    cmocka_unit_test_teardown(test_crash_mid_run, cleanup),
	    cmocka_unit_test_teardown(test_crash_twice, cleanup),
	    cmocka_unit_test_teardown(test_crash_with_batched_commits, cleanup),
	    cmocka_unit_test_teardown(test_crash_under_backpressure, cleanup),
	    cmocka_unit_test_teardown(test_restore_from_final_checkpoint,
	                              cleanup),
	    cmocka_unit_test_teardown(test_first_checkpoint_at_once, cleanup),
	    cmocka_unit_test_teardown(test_restore_after_a_source_ended,
	                              cleanup),
	    cmocka_unit_test_teardown(test_unreadable_state_fails_start,
	                              cleanup),
	    cmocka_unit_test_teardown(test_stdin_refuses_restore, cleanup),
	    cmocka_unit_test_teardown(test_rewind_window_partition, cleanup),
	    cmocka_unit_test_teardown(test_rewind_parse_partition, cleanup),
	    cmocka_unit_test_teardown(test_rewind_twice_under_backpressure,
	                              cleanup),
	    cmocka_unit_test_teardown(test_rewind_everything, cleanup),
	    cmocka_unit_test_teardown(test_rewind_after_a_source_ended,
	                              cleanup),
	    cmocka_unit_test_teardown(test_rewind_needs_log, cleanup),
	};
	return cmocka_run_group_tests(tests, reference_setup,
	                              reference_teardown);
}
