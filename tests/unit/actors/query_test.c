/*
 * query_test.c -- interactive queries of a running pipeline, in process
 * (ls_pipeline_query, the window and session kinds' query hooks).
 *
 * A followed file of JSON lines written here feeds a window stage (key
 * service, 2 partitions, 10 s windows) and a session stage (key user, 3
 * partitions, gap 5 s); the watermark never passes anything while the file
 * is followed, so every window and session stays open.  The reference is a
 * plain count of the lines written.  Each partition is asked for
 * everything, by key (the partition ls_plan_route_key names), by time
 * range, with a limit and for closed results only; after a drain, closed
 * results are asked for.  Queries to kinds without the hook, to unknown
 * actors, and a caller that gives up before the answer are covered too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "actors/pipeline.h"
#include "runtime/actor.h"
#include "runtime/record.h"
#include "schemas/codec.h"
#include "topology/plan.h"
#include "topology/topology.h"

#define N 3000
#define STEP_MS 37
#define START_S INT64_C(1709251200) /* 2024-03-01T00:00:00Z */
#define WIN_NS (INT64_C(10) * 1000000000)
#define NSVC 5
#define NUSER 7

static const char *const svc[NSVC] = { "api", "db", "auth", "web%x",
	"q u" };

static int64_t
ev_ns(int i)
{
	return START_S * 1000000000 + (int64_t)i * STEP_MS * 1000000;
}

/* want[w][s]: events of service s in window w. */
#define NWIN ((N * STEP_MS) / 10000 + 1)
static int64_t want[NWIN][NSVC];
static int64_t want_user[NUSER];

static void
write_input(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	memset(want, 0, sizeof(want));
	memset(want_user, 0, sizeof(want_user));
	for (int i = 0; i < N; i++) {
		int64_t ms = ev_ns(i) / 1000000;
		time_t s = (time_t)(ms / 1000);
		struct tm tm;
		gmtime_r(&s, &tm);
		char ts[32];
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(f, "{\"ts\":\"%s.%03dZ\",\"service\":\"%s\","
		           "\"user\":\"u%d\",\"message\":\"m%d\"}\n",
		    ts, (int)(ms % 1000), svc[i % NSVC], i % NUSER, i);
		want[(ev_ns(i) - ev_ns(0)) / WIN_NS][i % NSVC]++;
		want_user[i % NUSER]++;
	}
	fclose(f);
}

typedef struct fixture {
	char dir[64], in[128];
	ls_topology *t;
	ls_plan *plan;
	ls_runtime *rt;
	ls_pipeline *pl;
	size_t w0, s0, parse0; /* first plan actor of w, s, parse */
} fixture;

static size_t
first_of(const ls_plan *p, const char *name)
{
	for (size_t i = 0; i < ls_plan_actor_count(p); i++) {
		const ls_plan_actor *a = ls_plan_actor_at(p, i);
		if (strcmp(ls_topology_node(ls_plan_topology(p), a->node)->name,
		        name) == 0)
			return i;
	}
	fail();
	return 0;
}

static int
setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));
	char text[2048];
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/ls-query-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->in, sizeof(fx->in), "%s/in.jsonl", fx->dir);
	write_input(fx->in);
	snprintf(text, sizeof(text),
	    "name: q\n"
	    "settings:\n"
	    "  watermark_delay: 1000h\n"
	    "  idle_timeout: 1000h\n"
	    "sources:\n"
	    "  - name: src\n"
	    "    kind: file\n"
	    "    path: %s\n"
	    "    follow: true\n"
	    "stages:\n"
	    "  - name: parse\n"
	    "    kind: parse\n"
	    "    input: src\n"
	    "    format: json\n"
	    "  - name: w\n"
	    "    kind: window\n"
	    "    input: parse\n"
	    "    key: service\n"
	    "    partitions: 2\n"
	    "    size: 10s\n"
	    "  - name: s\n"
	    "    kind: session\n"
	    "    input: parse\n"
	    "    key: user\n"
	    "    partitions: 3\n"
	    "    gap: 5s\n"
	    "sinks:\n"
	    "  - name: wout\n"
	    "    kind: \"null\"\n"
	    "    input: w\n"
	    "  - name: sout\n"
	    "    kind: \"null\"\n"
	    "    input: s\n",
	    fx->in);
	ls_diag d;
	ls_diag_init(&d);
	assert_int_equal(ls_topology_parse("q.yaml", text, strlen(text), &fx->t,
	                     &d),
	    0);
	assert_int_equal(ls_plan_build(fx->t, &fx->plan, &d), 0);
	ls_diag_free(&d);
	ls_runtime_opts ro = { .workers = 2 };
	assert_int_equal(ls_runtime_create(&ro, &fx->rt), 0);
	char err[256];
	assert_int_equal(ls_pipeline_start(fx->rt, fx->plan, NULL, &fx->pl, err,
	                     sizeof(err)),
	    0);
	fx->w0 = first_of(fx->plan, "w");
	fx->s0 = first_of(fx->plan, "s");
	fx->parse0 = first_of(fx->plan, "parse");
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	fixture *fx = *state;
	ls_runtime_destroy(fx->rt);
	ls_pipeline_free(fx->pl);
	ls_plan_free(fx->plan);
	ls_topology_free(fx->t);
	unlink(fx->in);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static ls_kind_query
everything(void)
{
	ls_kind_query q;
	memset(&q, 0, sizeof(q));
	q.from_ns = INT64_MIN;
	q.to_ns = INT64_MAX;
	return q;
}

/* Ask plan actor a; the decoded rows. */
static ls_records *
ask(fixture *fx, size_t a, const ls_kind_query *q)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(ls_pipeline_query(fx->pl, a, q, 30000, &buf, &len),
	    0);
	ls_records *r = NULL;
	assert_int_equal(ls_codec_records_decode(buf, len, &r), 0);
	free(buf);
	return r;
}

static const ls_rec_value *
row(const ls_records *r, uint32_t i)
{
	return &r->v[(size_t)i * r->schema->n];
}

static int
field(const ls_records *r, const char *name)
{
	int k = ls_rec_schema_find(r->schema, name);
	assert_true(k >= 0);
	return k;
}

static int
svc_index(ls_str s)
{
	for (int i = 0; i < NSVC; i++)
		if (strlen(svc[i]) == s.len && memcmp(svc[i], s.ptr, s.len) == 0)
			return i;
	fail();
	return -1;
}

/* Sum the count of every window row of r into got (final must be fin). */
static int64_t
add_windows(const ls_records *r, int64_t got[NWIN][NSVC], int fin)
{
	int fs = field(r, "service"), fc = field(r, "count"),
	    ff = field(r, "final");
	int64_t total = 0;
	for (uint32_t i = 0; i < r->n; i++) {
		const ls_rec_value *v = row(r, i);
		assert_int_equal(v[ff].i, fin);
		int64_t w = (v[0].i - ev_ns(0) + (ev_ns(0) % WIN_NS)) / WIN_NS;
		assert_true(w >= 0 && w < NWIN);
		got[w][svc_index(v[fs].s)] += v[fc].i;
		total += v[fc].i;
	}
	return total;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait (generous deadline) until the window partitions hold all N events;
 * then compare with the reference. */
static void
wait_all_open(fixture *fx)
{
	static int64_t got[NWIN][NSVC];
	ls_kind_query q = everything();
	for (int tries = 0; tries < 3000; tries++) {
		int64_t total = 0;
		memset(got, 0, sizeof(got));
		for (uint32_t p = 0; p < 2; p++) {
			ls_records *r = ask(fx, fx->w0 + p, &q);
			total += add_windows(r, got, 0);
			ls_records_unref(r);
		}
		assert_true(total <= N);
		if (total == N)
			break;
		sleep_ms(20);
	}
	/* window starts: the reference counts from ev_ns(0), a multiple of
	 * 10 s, so window w of the reference is window w here */
	assert_memory_equal(got, want, sizeof(want));
}

static void
test_windows(void **state)
{
	fixture *fx = *state;
	wait_all_open(fx);

	/* by key: only the partition that holds the key has its windows */
	for (int s = 0; s < NSVC; s++) {
		ls_str v = ls_str_make(svc[s], strlen(svc[s]));
		uint32_t p = ls_plan_route_key(ls_topology_node(fx->t,
		                                   ls_plan_actor_at(fx->plan,
		                                       fx->w0)->node),
		    &v, 1);
		ls_kind_query q = everything();
		q.nkey = 1;
		q.key[0] = v;
		static int64_t got[NWIN][NSVC];
		memset(got, 0, sizeof(got));
		ls_records *r = ask(fx, fx->w0 + p, &q);
		int64_t total = add_windows(r, got, 0);
		int64_t exp = 0;
		for (int w = 0; w < NWIN; w++) {
			assert_int_equal(got[w][s], want[w][s]);
			exp += want[w][s];
		}
		assert_int_equal(total, exp);
		ls_records_unref(r);
		r = ask(fx, fx->w0 + (1 - p), &q);
		assert_int_equal(r->n, 0); /* the other partition: none */
		ls_records_unref(r);
	}

	/* a time range: windows 2 and 3 overlap [start of 2 + 1 s, start
	 * of 4) */
	ls_kind_query q = everything();
	q.from_ns = ev_ns(0) + 2 * WIN_NS + 1000000000;
	q.to_ns = ev_ns(0) + 4 * WIN_NS;
	int64_t exp = 0;
	for (int s = 0; s < NSVC; s++)
		exp += want[2][s] + want[3][s];
	int64_t total = 0;
	for (uint32_t p = 0; p < 2; p++) {
		static int64_t got[NWIN][NSVC];
		memset(got, 0, sizeof(got));
		ls_records *r = ask(fx, fx->w0 + p, &q);
		total += add_windows(r, got, 0);
		for (uint32_t i = 0; i < r->n; i++) {
			int64_t st = row(r, i)[0].i;
			assert_true(st == ev_ns(0) + 2 * WIN_NS ||
			    st == ev_ns(0) + 3 * WIN_NS);
		}
		ls_records_unref(r);
	}
	assert_int_equal(total, exp);

	/* a limit: the first rows by window start, then key */
	q = everything();
	q.limit = 4;
	ls_records *r = ask(fx, fx->w0, &q);
	assert_int_equal(r->n, 4);
	for (uint32_t i = 1; i < r->n; i++) {
		const ls_rec_value *a = row(r, i - 1), *b = row(r, i);
		int fs = field(r, "service");
		assert_true(a[0].i < b[0].i ||
		    (a[0].i == b[0].i &&
		        strncmp(a[fs].s.ptr, b[fs].s.ptr, 8) < 0));
	}
	assert_int_equal(row(r, 0)[0].i, ev_ns(0));
	ls_records_unref(r);

	/* closed results only: none yet */
	q = everything();
	q.flags = LS_KIND_QUERY_CLOSED;
	r = ask(fx, fx->w0 + 1, &q);
	assert_int_equal(r->n, 0);
	ls_records_unref(r);
}

static void
test_sessions(void **state)
{
	fixture *fx = *state;
	wait_all_open(fx); /* the same lines reached the session stage */
	ls_kind_query q = everything();
	int64_t seen[NUSER] = { 0 };
	for (int tries = 0; tries < 3000; tries++) {
		int64_t total = 0;
		memset(seen, 0, sizeof(seen));
		for (uint32_t p = 0; p < 3; p++) {
			ls_records *r = ask(fx, fx->s0 + p, &q);
			int fu = field(r, "user"), fe = field(r, "events"),
			    fo = field(r, "open");
			assert_int_equal(fo, (int)r->schema->n - 1);
			for (uint32_t i = 0; i < r->n; i++) {
				const ls_rec_value *v = row(r, i);
				assert_int_equal(v[fo].i, 1);
				assert_false(v[fo].null);
				int u = atoi(v[fu].s.ptr + 1);
				assert_true(u >= 0 && u < NUSER);
				seen[u] += v[fe].i;
				total += v[fe].i;
			}
			ls_records_unref(r);
		}
		if (total == N)
			break;
		sleep_ms(20);
	}
	assert_memory_equal(seen, want_user, sizeof(seen));
	/* open only: the same; closed only: none */
	q.flags = LS_KIND_QUERY_CLOSED;
	for (uint32_t p = 0; p < 3; p++) {
		ls_records *r = ask(fx, fx->s0 + p, &q);
		assert_int_equal(r->n, 0);
		ls_records_unref(r);
	}
	/* by key, a prefix */
	ls_str u3 = ls_str_make("u3", 2);
	uint32_t p = ls_plan_route_key(ls_topology_node(fx->t,
	                                   ls_plan_actor_at(fx->plan,
	                                       fx->s0)->node),
	    &u3, 1);
	q = everything();
	q.nkey = 1;
	q.key[0] = u3;
	ls_records *r = ask(fx, fx->s0 + p, &q);
	assert_int_equal(r->n, 1);
	assert_int_equal(row(r, 0)[field(r, "events")].i, want_user[3]);
	ls_records_unref(r);
	q = everything();
	q.prefix = ls_str_make("u", 1);
	q.to_ns = ev_ns(0); /* sessions that began at the first event */
	int64_t n = 0;
	for (uint32_t k = 0; k < 3; k++) {
		r = ask(fx, fx->s0 + k, &q);
		n += r->n;
		ls_records_unref(r);
	}
	assert_int_equal(n, 0); /* [.., first event) holds none */
	q.to_ns = ev_ns(0) + 1;
	n = 0;
	for (uint32_t k = 0; k < 3; k++) {
		r = ask(fx, fx->s0 + k, &q);
		n += r->n;
		ls_records_unref(r);
	}
	assert_int_equal(n, 1); /* u0's session began at event 0 */
}

static void
test_closed_after_drain(void **state)
{
	fixture *fx = *state;
	wait_all_open(fx);
	ls_pipeline_drain(fx->pl);
	assert_int_equal(ls_pipeline_wait(fx->pl, 60000), 0);
	/* every window closed at the end of the stream: kept results */
	static int64_t got[NWIN][NSVC];
	memset(got, 0, sizeof(got));
	ls_kind_query q = everything();
	int64_t total = 0;
	for (uint32_t p = 0; p < 2; p++) {
		ls_records *r = ask(fx, fx->w0 + p, &q);
		total += add_windows(r, got, 1);
		ls_records_unref(r);
	}
	assert_int_equal(total, N);
	assert_memory_equal(got, want, sizeof(want));
	q.flags = LS_KIND_QUERY_OPEN;
	ls_records *r = ask(fx, fx->w0, &q);
	assert_int_equal(r->n, 0);
	ls_records_unref(r);
	/* sessions: every one closed, open false */
	q = everything();
	int64_t events = 0;
	for (uint32_t p = 0; p < 3; p++) {
		r = ask(fx, fx->s0 + p, &q);
		for (uint32_t i = 0; i < r->n; i++) {
			assert_int_equal(row(r, i)[field(r, "open")].i, 0);
			events += row(r, i)[field(r, "events")].i;
		}
		ls_records_unref(r);
	}
	assert_int_equal(events, N);
}

static void
test_refusals_and_give_up(void **state)
{
	fixture *fx = *state;
	ls_kind_query q = everything();
	uint8_t *buf = NULL;
	size_t len = 0;
	ls_pipeline_query_req *w;
	/* a parse stage has no query hook */
	assert_int_equal(ls_pipeline_query_start(fx->pl, fx->parse0, &q, &w),
	    LS_ENOTSUP);
	assert_int_equal(ls_pipeline_query_start(fx->pl,
	                     ls_plan_actor_count(fx->plan), &q, &w),
	    LS_ENOENT);
	q.nkey = LS_KIND_QUERY_MAX_KEYS + 1;
	assert_int_equal(ls_pipeline_query_start(fx->pl, fx->w0, &q, &w),
	    LS_EINVAL);
	q.nkey = 0;
	/* callers that give up at once: the actors answer into requests only
	 * they still hold (no leak, no use after free: valgrind suite) */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(ls_pipeline_query_start(fx->pl,
		                     fx->w0 + (size_t)(i % 2), &q, &w),
		    0);
		if (i % 3 == 0) {
			int rv = ls_pipeline_query_wait(w, 0, &buf, &len);
			assert_true(rv == 0 || rv == LS_ETIMEDOUT);
			if (rv == 0)
				free(buf);
		}
		ls_pipeline_query_release(w);
	}
	/* the stage still answers */
	assert_int_equal(ls_pipeline_query(fx->pl, fx->w0, &q, 30000, &buf,
	                     &len),
	    0);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_after_drain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals_and_give_up, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
