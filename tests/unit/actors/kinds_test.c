/*
 * kinds_test.c -- the stage-kind interface (topology/kind.h): a kind
 * defined here, in the test, goes through topology validation and runs in
 * a pipeline next to the built-in kinds, with nothing else changed.
 *
 * The `count` kind counts the events of each partition and emits typed
 * records {events, partition, final} (every `every` events, and once at the
 * end); its state (the count) has save / restore hooks.  It is registered
 * by building a kind set of the registry's kinds plus this one -- the same
 * table a new built-in kind would add to actors/kinds.c with one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/pipeline.h"
#include "actors/stage.h"
#include "runtime/le.h"
#include "topology/kind.h"
#include "topology/plan.h"

/* ---- the kind ---- */

typedef struct counter {
	const ls_stage_cfg *cfg;
	ls_outq q;
	ls_gate gate;
	uint32_t eos;
	int64_t events, every, since;
} counter;

static void
emit(ls_ctx *ctx, counter *c, int final)
{
	ls_records *r = ls_records_new(c->cfg->results, c->cfg->node->name,
	    c->cfg->partition);
	ls_rec_value *v = r != NULL ? ls_records_add(r) : NULL;
	if (v == NULL) {
		ls_records_unref(r);
		return;
	}
	v[0].i = c->events;
	v[1].i = c->cfg->partition;
	v[2].i = final;
	v[0].null = v[1].null = v[2].null = 0;
	ls_metric_add(c->cfg->ctr.results, 1);
	ls_stage_emit_records(ctx, c->cfg, &c->q, r);
}

static int
count_handle(ls_ctx *ctx, void *st, ls_msg *m)
{
	counter *c = st;
	switch (m->type) {
	case LS_MSG_BATCH: {
		uint32_t n = ((ls_batch *)m->ptr)->n;
		c->events += n;
		ls_metric_add(c->cfg->ctr.in, n);
		c->since += n;
		if (c->every > 0 && c->since >= c->every) {
			c->since = 0;
			emit(ctx, c, 0);
		}
		return 0;
	}
	case LS_MSG_WRITABLE:
		ls_outq_flush(ctx, &c->q);
		return 0;
	case LS_MSG_EOS:
		if (++c->eos == c->cfg->n_upstream) {
			emit(ctx, c, 1);
			ls_stage_emit_eos(ctx, c->cfg, &c->q, c->gate.eos_max);
		}
		return 0;
	default:
		return 0;
	}
}

static int
count_receive(ls_ctx *ctx, void *st, ls_msg *m)
{
	counter *c = st;
	return ls_stage_receive(ctx, &c->gate, c->cfg, &c->q, m, count_handle,
	    c);
}

static int
count_init(ls_ctx *ctx, void *st, const void *arg)
{
	counter *c = st;
	(void)ctx;
	c->cfg = arg;
	c->every = ls_topo_int(c->cfg->node, "every");
	return ls_stage_restore(c->cfg, c);
}

static void
count_stop(ls_ctx *ctx, void *st)
{
	counter *c = st;
	ls_outq_fini(ls_ctx_runtime(ctx), &c->q);
	ls_gate_fini(&c->gate);
}

static int
count_save(void *st, uint64_t ckpt, int final, uint8_t **buf, size_t *len)
{
	counter *c = st;
	(void)ckpt;
	(void)final;
	if ((*buf = malloc(8)) == NULL)
		return LS_ENOMEM;
	ls_le_put(*buf, (uint64_t)c->events, 8);
	*len = 8;
	return 0;
}

static int
count_restore(void *st, const uint8_t *buf, size_t len)
{
	counter *c = st;
	if (buf == NULL)
		return 0; /* a fresh start */
	if (len != 8)
		return LS_ECORRUPT;
	c->events = (int64_t)ls_le_get(buf, 8);
	return 0;
}

static int
count_schema(const ls_topo_node *n, ls_rec_schema *out, char *err,
    size_t errlen)
{
	(void)n;
	(void)err;
	(void)errlen;
	int rv = ls_rec_schema_add(out, "events", LS_REC_INT, 0);
	if (rv == 0)
		rv = ls_rec_schema_add(out, "partition", LS_REC_INT, 0);
	if (rv == 0)
		rv = ls_rec_schema_add(out, "final", LS_REC_BOOL,
		    LS_REC_NOTABLE);
	return rv;
}

static const ls_behaviour count_behaviour = {
	.name = "count",
	.state_size = sizeof(counter),
	.init = count_init,
	.receive = count_receive,
	.stop = count_stop,
};

static const ls_kind count_kind = {
	.name = "count",
	.role = LS_TOPO_STAGE,
	.params = LS_KIND_PARAMS({ "every", LS_TV_INT, 0, "0", NULL, 0,
	    1000000000, NULL, "emit a record every N events, 0 = at the end" }),
	.help = "count the events of each partition",
	.behaviour = &count_behaviour,
	.save = count_save,
	.restore = count_restore,
	.results = count_schema,
};

/* The registry plus the count kind. */
static const ls_kind *with_count[64];
static ls_kind_set kinds;

static int
setup(void **unused)
{
	(void)unused;
	assert_true(ls_kinds.n < 63);
	memcpy(with_count, ls_kinds.kinds, ls_kinds.n * sizeof(*with_count));
	with_count[ls_kinds.n] = &count_kind;
	kinds.kinds = with_count;
	kinds.n = ls_kinds.n + 1;
	return 0;
}

/* ---- helpers ---- */

static char text[2048];

static const char *
topo(const char *count_params, const char *sink_format, const char *next)
{
	snprintf(text, sizeof(text),
	    "name: counting\n"
	    "sources:\n"
	    "  - name: gen\n"
	    "    kind: generator\n"
	    "    count: 1000\n"
	    "    rate: 0\n"
	    "    start: \"2024-03-01T00:00:00Z\"\n"
	    "stages:\n"
	    "  - name: cnt\n"
	    "    kind: count\n"
	    "    input: gen\n"
	    "    partitions: 2\n"
	    "%s"
	    "%s"
	    "sinks:\n"
	    "  - name: out\n"
	    "    kind: stdout\n"
	    "    format: %s\n"
	    "    input: %s\n",
	    count_params,
	    next != NULL ? "  - name: after\n    kind: parse\n"
	                   "    input: cnt\n" : "",
	    sink_format, next != NULL ? "after" : "cnt");
	return text;
}

typedef struct run {
	ls_topology *t;
	ls_plan *plan;
	char *out;
	size_t outlen;
	int64_t restored; /* count every count partition restores from */
} run;

static int
load_hook(void *arg, size_t actor, uint8_t **blob, size_t *len)
{
	run *r = arg;
	const ls_plan_actor *pa = ls_plan_actor_at(r->plan, actor);
	const ls_topo_node *n = ls_topology_node(r->t, pa->node);
	if (r->restored == 0 || n->kind_def != &count_kind)
		return LS_ENOENT;
	if ((*blob = malloc(8)) == NULL)
		return LS_ENOMEM;
	ls_le_put(*blob, (uint64_t)r->restored, 8);
	*len = 8;
	return 0;
}

/* Run the topology of text to the end; stdout sinks write into r->out. */
static int
run_it(run *r, ls_pipeline_node_stats *st, char *err, size_t errlen)
{
	ls_diag d;
	ls_diag_init(&d);
	assert_int_equal(ls_topology_parse_kinds(&kinds, "c.yaml", text,
	                     strlen(text), &r->t, &d),
	    0);
	assert_int_equal(ls_plan_build(r->t, &r->plan, &d), 0);
	ls_diag_free(&d);
	FILE *f = open_memstream(&r->out, &r->outlen);
	assert_non_null(f);
	ls_pipeline_opts o = { .out = f, .arg = r, .ckpt_load = load_hook };
	ls_runtime_opts ro = { .workers = 2 };
	ls_runtime *rt;
	ls_pipeline *pl;
	assert_int_equal(ls_runtime_create(&ro, &rt), 0);
	int rv = ls_pipeline_start(rt, r->plan, &o, &pl, err, errlen);
	if (rv == 0) {
		assert_int_equal(ls_pipeline_wait(pl, 120000), 0);
		ls_pipeline_stats(pl, st, 8);
	}
	ls_runtime_destroy(rt);
	if (rv == 0)
		ls_pipeline_free(pl);
	fclose(f);
	ls_plan_free(r->plan);
	ls_topology_free(r->t);
	return rv;
}

/* ---- tests ---- */

static void
test_validation(void **unused)
{
	(void)unused;
	ls_topology *t;
	ls_diag d;

	/* validated against the set that has the kind, defaults filled in */
	ls_diag_init(&d);
	topo("", "jsonl", NULL);
	assert_int_equal(ls_topology_parse_kinds(&kinds, "c.yaml", text,
	                     strlen(text), &t, &d),
	    0);
	const ls_topo_node *n = ls_topology_find(t, "cnt");
	assert_ptr_equal(n->kind_def, &count_kind);
	assert_string_equal(n->kind, "count");
	assert_int_equal(ls_topo_int(n, "every"), 0);
	ls_topology_free(t);

	/* its parameter spec gives file:line:col errors */
	topo("    every: -5\n    evry: 3\n", "jsonl", NULL);
	assert_int_equal(ls_topology_parse_kinds(&kinds, "c.yaml", text,
	                     strlen(text), &t, &d),
	    LS_EPARSE);
	assert_int_equal(d.n, 2);
	assert_non_null(strstr(d.msgs[0], "c.yaml:13:12: "));
	assert_non_null(strstr(d.msgs[0], "every"));
	assert_non_null(strstr(d.msgs[1], "c.yaml:14:5: "));
	assert_non_null(strstr(d.msgs[1], "evry"));
	assert_non_null(strstr(d.msgs[1], "every")); /* did you mean */
	ls_diag_free(&d);

	/* the registry alone does not know it, and lists what it knows */
	topo("", "jsonl", NULL);
	assert_int_equal(ls_topology_parse("c.yaml", text, strlen(text), &t,
	                     &d),
	    LS_EPARSE);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.msgs[0], "c.yaml:10:11: unknown stage kind "
	                                  "'count' (known: parse, filter, "
	                                  "route, window, patterns, session, "
	                                  "index, anomaly)"));
	ls_diag_free(&d);
	assert_ptr_equal(ls_kind_find(&kinds, LS_TOPO_STAGE, "count"),
	    &count_kind);
	assert_null(ls_kind_find(NULL, LS_TOPO_STAGE, "count"));
}

static void
test_runs_in_a_pipeline(void **unused)
{
	(void)unused;
	ls_pipeline_node_stats st[8];
	char err[256];
	run r = { 0 };

	/* jsonl: one final record per partition, every event counted */
	topo("", "jsonl", NULL);
	assert_int_equal(run_it(&r, st, err, sizeof(err)), 0);
	long events[2] = { -1, -1 };
	int lines = 0;
	for (char *l = r.out; l != NULL && *l != '\0'; lines++) {
		long ev, part;
		assert_int_equal(sscanf(l, "{\"stage\":\"cnt\",\"events\":%ld,"
		                        "\"partition\":%ld,\"final\":true}",
		                     &ev, &part),
		    2);
		assert_true(part == 0 || part == 1);
		events[part] = ev;
		l = strchr(l, '\n');
		l = l != NULL ? l + 1 : NULL;
	}
	assert_int_equal(lines, 2);
	assert_int_equal(events[0] + events[1], 1000);
	assert_int_equal(st[1].in, 1000);
	assert_int_equal(st[1].results, 2);
	assert_true(st[1].emits_results);
	assert_false(st[0].emits_results);
	free(r.out);

	/* the live table lays out the kind's schema (final is NOTABLE) */
	memset(&r, 0, sizeof(r));
	topo("    every: 100\n", "table", NULL);
	assert_int_equal(run_it(&r, st, err, sizeof(err)), 0);
	const char *hdr = "[cnt]\n    events   partition\n";
	char *row = strstr(r.out, hdr);
	assert_non_null(row);
	assert_null(strstr(r.out, "final"));
	/* rows: two right-aligned ints of 10 columns, as wide as the header */
	int rows = 0;
	for (row += strlen(hdr); *row != '\0' && *row != '\n'; rows++) {
		long ev, part;
		int used = 0;
		assert_int_equal(sscanf(row, "%10ld  %10ld%n", &ev, &part,
		                     &used),
		    2);
		assert_int_equal(used, 22);
		assert_int_equal(row[22], '\n');
		assert_true(ev > 0 && ev <= 1000 && part >= 0 && part <= 1);
		row += 23;
	}
	assert_true(rows >= 2);
	free(r.out);

	/* the restore hook: each partition resumes from a saved count */
	memset(&r, 0, sizeof(r));
	r.restored = 5000;
	topo("", "jsonl", NULL);
	assert_int_equal(run_it(&r, st, err, sizeof(err)), 0);
	long total = 0;
	for (char *l = strstr(r.out, "\"events\":"); l != NULL;
	     l = strstr(l + 1, "\"events\":"))
		total += strtol(l + 9, NULL, 10);
	assert_int_equal(total, 2 * 5000 + 1000);
	free(r.out);

	/* records feed sinks only, whatever the kind */
	memset(&r, 0, sizeof(r));
	topo("", "jsonl", "after");
	assert_int_equal(run_it(&r, st, err, sizeof(err)), LS_ENOTSUP);
	assert_string_equal(err, "count 'cnt' can only feed sinks, not 'after'");
	free(r.out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_runs_in_a_pipeline),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
