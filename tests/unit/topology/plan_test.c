/*
 * plan_test.c -- the physical plan: actors per partition and their names,
 * edges, the summary line of `validate`, the description, and routing by
 * key (checked against XXH3 computed here directly, and for spread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "runtime/err.h"
#include "runtime/event.h"
#include "topology/plan.h"
#include "topology/topology.h"

static ls_topology *
load(const char *path)
{
	ls_topology *t = NULL;
	ls_diag d;

	ls_diag_init(&d);
	int rc = ls_topology_load(path, &t, &d);
	if (rc != 0)
		ls_diag_print(&d, stderr);
	assert_int_equal(rc, 0);
	ls_diag_free(&d);
	return t;
}

static ls_topology *
parse(const char *text)
{
	ls_topology *t = NULL;
	ls_diag d;

	ls_diag_init(&d);
	int rc = ls_topology_parse("t.yaml", text, strlen(text), &t, &d);
	if (rc != 0)
		ls_diag_print(&d, stderr);
	assert_int_equal(rc, 0);
	ls_diag_free(&d);
	return t;
}

static ls_plan *
plan_of(const ls_topology *t)
{
	ls_plan *p = NULL;

	assert_int_equal(ls_plan_build(t, &p, NULL), 0);
	assert_non_null(p);
	assert_ptr_equal(ls_plan_topology(p), t);
	return p;
}

static uint32_t
node_index(const ls_topology *t, const char *name)
{
	uint32_t i;

	assert_int_equal(ls_topology_index(t, name, &i), 0);
	return i;
}

static void
test_quickstart_actors(void **unused)
{
	(void)unused;
	ls_topology *t = load(LS_SOURCE_ROOT "/examples/quickstart.yaml");
	ls_plan *p = plan_of(t);
	/* gen 1 + parse 2 + errors 1 + per_service 4 + three sinks. */
	static const char *const want[] = { "gen/0", "parse/0", "parse/1",
		"errors/0", "per_service/0", "per_service/1", "per_service/2",
		"per_service/3", "console/0", "error_log/0", "rejects/0" };

	assert_int_equal(ls_plan_actor_count(p), 11);
	for (size_t i = 0; i < 11; i++) {
		const ls_plan_actor *a = ls_plan_actor_at(p, i);
		const ls_topo_node *n = ls_topology_node(t, a->node);
		assert_string_equal(a->name, want[i]);
		assert_true(a->partition < n->partitions);
		assert_int_equal(ls_plan_first_actor(p, a->node) + a->partition,
		    i);
	}
	assert_null(ls_plan_actor_at(p, 11));
	assert_int_equal(ls_plan_first_actor(p, node_index(t, "per_service")),
	    4);
	ls_plan_free(p);
	ls_topology_free(t);
}

static void
test_quickstart_edges(void **unused)
{
	(void)unused;
	ls_topology *t = load(LS_SOURCE_ROOT "/examples/quickstart.yaml");
	ls_plan *p = plan_of(t);
	uint32_t gen = node_index(t, "gen"), parse_ = node_index(t, "parse");
	uint32_t errors = node_index(t, "errors");
	uint32_t win = node_index(t, "per_service");
	uint32_t rejects = node_index(t, "rejects");
	uint32_t console = node_index(t, "console");
	const ls_plan_edge *e;
	size_t n;

	/* gen->parse, parse->errors, parse->per_service, parse->rejects (dead
	 * letters), errors->error_log, per_service->console. */
	assert_int_equal(ls_plan_edge_count(p), 6);
	for (size_t i = 0; i + 1 < 6; i++) {
		const ls_plan_edge *a = ls_plan_edge_at(p, i);
		const ls_plan_edge *b = ls_plan_edge_at(p, i + 1);
		assert_true(a->from < b->from ||
		            (a->from == b->from && a->to <= b->to));
		assert_true(a->from < a->to); /* topological order */
	}
	assert_null(ls_plan_edge_at(p, 6));

	n = ls_plan_outputs(p, gen, &e);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].to, parse_);
	assert_int_equal(e[0].dead_letter, 0);

	n = ls_plan_outputs(p, parse_, &e);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].to, errors);
	assert_int_equal(e[1].to, win);
	assert_int_equal(e[2].to, rejects);
	assert_int_equal(e[0].dead_letter + e[1].dead_letter, 0);
	assert_int_equal(e[2].dead_letter, 1);

	n = ls_plan_inputs(p, rejects, &e);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].from, parse_);
	assert_int_equal(e[0].dead_letter, 1);

	n = ls_plan_inputs(p, console, &e);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].from, win);
	assert_int_equal(ls_plan_outputs(p, console, &e), 0);
	assert_int_equal(ls_plan_inputs(p, gen, &e), 0);
	assert_int_equal(ls_plan_inputs(p, 999, &e), 0);
	assert_null(e);
	ls_plan_free(p);
	ls_topology_free(t);
}

static void
test_summary(void **unused)
{
	(void)unused;
	ls_topology *t = load(LS_SOURCE_ROOT "/examples/quickstart.yaml");
	ls_plan *p = plan_of(t);
	char buf[128], tiny[10];

	assert_int_equal(ls_plan_summary(p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "topology 'quickstart': 1 source, 3 stages, "
	                         "3 sinks, 11 actors");
	assert_int_equal(ls_plan_summary(p, tiny, sizeof(tiny)), LS_ERANGE);
	assert_string_equal(tiny, "topology ");
	ls_plan_free(p);
	ls_topology_free(t);

	t = parse("name: one\nsources: [{name: a, kind: stdin}, "
	          "{name: b, kind: stdin}]\n"
	          "stages: [{name: s, kind: filter, input: [a, b]}]\n"
	          "sinks: [{name: o, kind: null, input: s}]\n");
	p = plan_of(t);
	assert_int_equal(ls_plan_summary(p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "topology 'one': 2 sources, 1 stage, 1 sink, "
	                         "4 actors");
	ls_plan_free(p);
	ls_topology_free(t);
}

static void
test_describe(void **unused)
{
	(void)unused;
	ls_topology *t = load(LS_SOURCE_ROOT "/examples/quickstart.yaml");
	ls_plan *p = plan_of(t);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	ls_plan_describe(p, f);
	fclose(f);
	assert_non_null(strstr(text, "topology 'quickstart': 1 source, 3 "
	                             "stages, 3 sinks, 11 actors\n"));
	assert_non_null(strstr(text, "settings: workers=0 watermark_delay=1s "
	                             "idle_timeout=5s checkpoint_interval=1s\n"));
	assert_non_null(strstr(text, "stage per_service (window), 4 "
	                             "partitions"));
	assert_non_null(strstr(text, "-> per_service (by service over 4 "
	                             "partitions)\n"));
	assert_non_null(strstr(text, "-> parse (spread by offset over 2 "
	                             "partitions)\n"));
	assert_non_null(strstr(text, "-> rejects (dead letters)\n"));
	assert_non_null(strstr(text, "    count=0 (default)\n"));
	assert_non_null(strstr(text, "    size=5s\n"));
	assert_non_null(strstr(text, "actors: per_service/0 per_service/1 "
	                             "per_service/2 per_service/3\n"));
	free(text);
	ls_plan_free(p);
	ls_topology_free(t);
}

static void
test_too_many_actors(void **unused)
{
	(void)unused;
	/* 300 stages of 4096 partitions exceed LS_PLAN_MAX_ACTORS. */
	size_t cap = 64 * 1024, used = 0;
	char *text = malloc(cap);
	ls_topology *t;
	ls_plan *p = (ls_plan *)1;
	ls_diag d;

	assert_non_null(text);
	used += (size_t)snprintf(text + used, cap - used,
	    "name: big\nsources: [{name: s, kind: stdin}]\nstages:\n");
	for (int i = 0; i < 300; i++)
		used += (size_t)snprintf(text + used, cap - used,
		    "  - {name: p%d, kind: parse, input: s, partitions: "
		    "4096}\n",
		    i);
	snprintf(text + used, cap - used,
	    "sinks: [{name: o, kind: null, input: p0}]\n");
	t = parse(text);
	ls_diag_init(&d);
	assert_int_equal(ls_plan_build(t, &p, &d), LS_ERANGE);
	assert_null(p);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "t.yaml: the plan would have 1228802 "
	                               "actors, more than the limit of "
	                               "1048576");
	ls_diag_free(&d);
	ls_topology_free(t);
	free(text);
}

/* ---- routing ------------------------------------------------------------ */

static ls_topology *
keyed(void)
{
	return parse("name: r\nsources: [{name: s, kind: stdin}]\n"
	             "stages:\n"
	             "  - {name: one, kind: window, input: s, size: 1s}\n"
	             "  - {name: by_svc, kind: window, input: s, size: 1s,\n"
	             "     key: service, partitions: 8}\n"
	             "  - {name: by_two, kind: window, input: s, size: 1s,\n"
	             "     key: [service, user], partitions: 5}\n"
	             "  - {name: spread, kind: parse, input: s, "
	             "partitions: 2}\n"
	             "sinks: [{name: o, kind: null, input: [one, by_svc, "
	             "by_two, spread]}]\n");
}

static void
test_route_is_xxh3_of_key(void **unused)
{
	(void)unused;
	ls_topology *t = keyed();
	const ls_topo_node *one = ls_topology_find(t, "one");
	const ls_topo_node *by_svc = ls_topology_find(t, "by_svc");
	const ls_topo_node *by_two = ls_topology_find(t, "by_two");
	ls_event ev;
	uint64_t h;

	ls_event_clear(&ev);
	ev.service = ls_str_c("checkout");
	ev.message = ls_str_c("anything");
	assert_int_equal(ls_event_add_attr(&ev, ls_str_c("user"),
	                     ls_str_c("u42")),
	    0);

	assert_int_equal(ls_plan_route(one, &ev), 0);
	h = XXH3_64bits_withSeed("checkout", 8, 0);
	assert_int_equal(ls_plan_route(by_svc, &ev), h % 8);
	h = XXH3_64bits_withSeed("u42", 3, XXH3_64bits_withSeed("checkout", 8,
	                                       0));
	assert_int_equal(ls_plan_route(by_two, &ev), h % 5);

	/* Only the key matters: a different message, host, time or offset
	 * routes the same. */
	uint32_t before = ls_plan_route(by_two, &ev);
	ev.message = ls_str_c("something else");
	ev.host = ls_str_c("ip-10-0-0-1");
	ev.time_ns = 12345;
	ev.offset = 99;
	assert_int_equal(ls_plan_route(by_two, &ev), before);

	/* An absent key field hashes like an empty one. */
	ls_event_clear(&ev);
	assert_int_equal(ls_plan_route(by_svc, &ev),
	    XXH3_64bits_withSeed("", 0, 0) % 8);
	ls_topology_free(t);
}

static void
test_route_spreads_evenly(void **unused)
{
	(void)unused;
	ls_topology *t = keyed();
	const ls_topo_node *by_svc = ls_topology_find(t, "by_svc");
	const ls_topo_node *spread = ls_topology_find(t, "spread");
	unsigned counts[8] = { 0 }, halves[2] = { 0 };
	char key[32];
	ls_event ev;

	for (int i = 0; i < 10000; i++) {
		ls_event_clear(&ev);
		snprintf(key, sizeof(key), "service-%d", i);
		ev.service = ls_str_c(key);
		uint32_t part = ls_plan_route(by_svc, &ev);
		assert_true(part < 8);
		assert_int_equal(ls_plan_route(by_svc, &ev), part);
		counts[part]++;
	}
	for (int k = 0; k < 8; k++) {
		/* mean 1250, each within +-20% */
		assert_true(counts[k] >= 1000);
		assert_true(counts[k] <= 1500);
	}
	/* A keyless stage with several partitions spreads by offset. */
	for (uint64_t off = 0; off < 10000; off++) {
		ls_event_clear(&ev);
		ev.offset = off;
		halves[ls_plan_route(spread, &ev)]++;
	}
	assert_true(halves[0] >= 4000 && halves[0] <= 6000);
	assert_int_equal(halves[0] + halves[1], 10000);
	ls_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quickstart_actors),
		cmocka_unit_test(test_quickstart_edges),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_too_many_actors),
		cmocka_unit_test(test_route_is_xxh3_of_key),
		cmocka_unit_test(test_route_spreads_evenly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
