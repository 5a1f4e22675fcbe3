/*
 * window_test.c -- tests of the tumbling-window state (actors/window.h):
 * aggregates against a brute-force computation, window boundaries, grace,
 * late events, on_update emission, idle advance, flush, emission order,
 * queries, missing fields, and counts on a real Loghub log; snapshots:
 * runs cut by save/free/new/load at many points equal uninterrupted runs
 * (results and late events, in order), specs must match, every truncated,
 * flipped or structurally inconsistent buffer is refused without touching
 * the target, and allocation failures leave it intact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/window.h"
#include "runtime/err.h"
#include "runtime/hash.h"

#define MS INT64_C(1000000)

/* ---- collecting callbacks ---- */

typedef struct rec {
	int64_t start, end;
	uint32_t nkeys;
	char key[LS_WINDOW_MAX_KEYS][64];
	uint32_t keylen[LS_WINDOW_MAX_KEYS];
	uint64_t count;
	uint32_t naggs;
	double value[LS_WINDOW_MAX_AGGS];
	uint8_t has[LS_WINDOW_MAX_AGGS];
	int final;
} rec;

typedef struct late_rec {
	uint64_t offset;
	int64_t window_start;
	int64_t watermark;
} late_rec;

typedef struct sink {
	rec *r;
	size_t n, cap;
	late_rec late[64];
	size_t nlate;
} sink;

static void
rec_fill(rec *d, const ls_window_result *r)
{
	memset(d, 0, sizeof(*d));
	d->start = r->start_ns;
	d->end = r->end_ns;
	d->nkeys = r->nkeys;
	for (uint32_t i = 0; i < r->nkeys; i++) {
		/* keys longer than the record holds keep only their length */
		if (r->keys[i].len > 0 && r->keys[i].len <= sizeof(d->key[i]))
			memcpy(d->key[i], r->keys[i].ptr, r->keys[i].len);
		d->keylen[i] = r->keys[i].len;
	}
	d->count = r->count;
	d->naggs = r->naggs;
	for (uint32_t i = 0; i < r->naggs; i++) {
		d->value[i] = r->value[i];
		d->has[i] = r->has_value[i];
	}
	d->final = r->final;
}

static void
on_emit(void *arg, const ls_window_result *r)
{
	sink *s = arg;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->r = realloc(s->r, s->cap * sizeof(*s->r));
		assert_non_null(s->r);
	}
	rec_fill(&s->r[s->n++], r);
}

static void
on_late(void *arg, const ls_event *ev, int64_t window_start, int64_t wm)
{
	sink *s = arg;
	assert_true(s->nlate < 64);
	s->late[s->nlate].offset = ev->offset;
	s->late[s->nlate].window_start = window_start;
	s->late[s->nlate].watermark = wm;
	s->nlate++;
}

static void
sink_reset(sink *s)
{
	s->n = 0;
	s->nlate = 0;
}

static void
sink_fini(sink *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

/* An event with a service, a level and up to two numeric attributes. */
typedef struct evb {
	ls_event ev;
	char lat[32], bytes[32];
} evb;

static ls_event *
mk(evb *b, int64_t t_ns, const char *service, ls_level level,
    const char *lat, const char *bytes)
{
	ls_event_clear(&b->ev);
	b->ev.time_ns = t_ns;
	b->ev.ingest_ns = LS_TIME_UNKNOWN;
	b->ev.service = ls_str_c(service);
	b->ev.level = (uint8_t)level;
	if (lat != NULL) {
		snprintf(b->lat, sizeof(b->lat), "%s", lat);
		ls_event_add_attr(&b->ev, ls_str_c("latency_ms"),
		    ls_str_c(b->lat));
	}
	if (bytes != NULL) {
		snprintf(b->bytes, sizeof(b->bytes), "%s", bytes);
		ls_event_add_attr(&b->ev, ls_str_c("bytes"), ls_str_c(b->bytes));
	}
	return &b->ev;
}

static ls_window *
mkwin(sink *s, int64_t size_ms, int64_t grace_ms, int64_t delay_ms,
    int64_t idle_ms, int on_update, const char *const *keys, size_t nkey,
    const char *const *aggs, size_t naggs)
{
	ls_window_spec spec;
	ls_window *w = NULL;
	char err[128];

	assert_int_equal(ls_window_spec_init(&spec, size_ms, grace_ms, keys,
	                     nkey, aggs, naggs, on_update, err, sizeof(err)),
	    0);
	assert_int_equal(ls_window_new(&w, &spec, delay_ms, idle_ms, on_emit,
	                     on_late, s),
	    0);
	return w;
}

static void
assert_key(const rec *r, uint32_t i, const char *want)
{
	assert_int_equal(r->keylen[i], strlen(want));
	assert_memory_equal(r->key[i], want, r->keylen[i]);
}

/* ---- spec ---- */

static void
test_spec_parse(void **state)
{
	(void)state;
	ls_window_spec s;
	char err[160];
	const char *keys[] = { "service", "level" };
	const char *aggs[] = { "count", " AVG ( latency_ms ) ", "Sum(bytes)",
		"min(latency_ms)", "max(latency_ms)", "count()" };

	/* "count" and "count()" name the same output: rejected as a pair */
	assert_int_equal(ls_window_spec_init(&s, 60000, 5000, keys, 2, aggs, 6,
	                     0, err, sizeof(err)),
	    LS_EINVAL);
	assert_non_null(strstr(err, "twice"));
	assert_int_equal(ls_window_spec_init(&s, 60000, 5000, keys, 2, aggs, 5,
	                     1, err, sizeof(err)),
	    0);
	assert_int_equal(s.size_ms, 60000);
	assert_int_equal(s.grace_ms, 5000);
	assert_int_equal(s.nkey, 2);
	assert_int_equal(s.naggs, 5);
	assert_int_equal(s.emit_on_update, 1);
	assert_string_equal(s.key_fields[1], "level");
	assert_int_equal(s.aggs[0].kind, LS_WINDOW_AGG_COUNT);
	assert_string_equal(s.aggs[0].name, "count");
	assert_int_equal(s.aggs[1].kind, LS_WINDOW_AGG_AVG);
	assert_string_equal(s.aggs[1].field, "latency_ms");
	assert_string_equal(s.aggs[1].name, "avg_latency_ms");
	assert_int_equal(s.aggs[2].kind, LS_WINDOW_AGG_SUM);
	assert_string_equal(s.aggs[2].name, "sum_bytes");
	assert_string_equal(s.aggs[3].name, "min_latency_ms");
	assert_string_equal(s.aggs[4].name, "max_latency_ms");

	const char *names_k[2], *names_a[5];
	ls_window_spec_names(&s, names_k, names_a);
	assert_string_equal(names_k[0], "service");
	assert_string_equal(names_a[1], "avg_latency_ms");

	static const char *const bad[] = { "avg", "avg()", "median(x)",
		"sum(x", "sum(x) y", "count(x", "sum(a b)", "", "sum(\"x\")",
		"max((x))" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ls_window_spec_init(&s, 1000, 0, NULL, 0,
		                     &bad[i], 1, 0, err, sizeof(err)),
		    LS_EINVAL);
		assert_non_null(strstr(err, "aggregate 0"));
	}
	assert_int_equal(ls_window_spec_init(&s, 0, 0, NULL, 0, NULL, 0, 0, err,
	                     sizeof(err)),
	    LS_EINVAL);
	assert_non_null(strstr(err, "size"));
	assert_int_equal(ls_window_spec_init(&s, 1000, -1, NULL, 0, NULL, 0, 0,
	                     err, sizeof(err)),
	    LS_EINVAL);
	assert_int_equal(ls_window_spec_init(&s, INT64_MAX, 0, NULL, 0, NULL, 0,
	                     0, err, sizeof(err)),
	    LS_EINVAL);
	const char *badkeys[] = { "service", "" };
	assert_int_equal(ls_window_spec_init(&s, 1000, 0, badkeys, 2, NULL, 0,
	                     0, err, sizeof(err)),
	    LS_EINVAL);
	assert_non_null(strstr(err, "key field 1"));
	const char *dupkeys[] = { "service", "service" };
	assert_int_equal(ls_window_spec_init(&s, 1000, 0, dupkeys, 2, NULL, 0,
	                     0, err, sizeof(err)),
	    LS_EINVAL);
	char longname[100];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	const char *longkeys[] = { longname };
	assert_int_equal(ls_window_spec_init(&s, 1000, 0, longkeys, 1, NULL, 0,
	                     0, NULL, 0),
	    LS_EINVAL);
	assert_int_equal(ls_window_spec_init(&s, 1000, 0, keys,
	                     LS_WINDOW_MAX_KEYS + 1, NULL, 0, 0, err,
	                     sizeof(err)),
	    LS_EINVAL);

	ls_window *w = (ls_window *)&s;
	assert_int_equal(ls_window_spec_init(&s, 1000, 0, NULL, 0, NULL, 0, 0,
	                     NULL, 0),
	    0);
	assert_int_equal(ls_window_new(&w, &s, -1, 0, on_emit, on_late, NULL),
	    LS_EINVAL);
	assert_null(w);
	assert_int_equal(ls_window_new(&w, &s, 0, 0, NULL, on_late, NULL),
	    LS_EINVAL);
	assert_int_equal(ls_window_new(&w, &s, 0, 0, on_emit, NULL, NULL),
	    LS_EINVAL);
}

/* ---- brute force ---- */

/* A tiny deterministic PRNG for the test data (splitmix64). */
static uint64_t
tr_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double
tr_unif(uint64_t *s)
{
	return (double)(tr_next(s) >> 11) * 0x1.0p-53;
}

typedef struct bf_ev {
	int64_t t;
	int svc, lvl;
	int has_lat, has_bytes;
	double lat, bytes;
} bf_ev;

typedef struct bf_group {
	int64_t start;
	int svc, lvl;
	uint64_t count;
	double lat_sum, lat_min, lat_max, bytes_sum, bytes_max;
	uint64_t nlat, nbytes;
} bf_group;

/* Services chosen to exercise byte order: "" < "Z" < "a" < "ab" < "api" <
 * "b" < "\xc3\xa9t\xc3\xa9" (UTF-8 after ASCII). */
static const char *const bf_svc[] = { "a", "ab", "b", "api", "", "Z",
	"\xc3\xa9t\xc3\xa9" };
static const ls_level bf_lvl[] = { LS_LEVEL_INFO, LS_LEVEL_WARN,
	LS_LEVEL_ERROR };

static int
bytecmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int c = memcmp(a, b, la < lb ? la : lb);
	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

static int
bf_group_cmp(const void *pa, const void *pb)
{
	const bf_group *a = pa, *b = pb;
	int c;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if ((c = bytecmp(bf_svc[a->svc], bf_svc[b->svc])) != 0)
		return c;
	return bytecmp(ls_level_name(bf_lvl[a->lvl]),
	    ls_level_name(bf_lvl[b->lvl]));
}

static int64_t
floor_start(int64_t t, int64_t size)
{
	int64_t q = t / size;
	if (t % size != 0 && t < 0)
		q--;
	return q * size;
}

static void
close_to(double got, double want)
{
	double tol = 1e-9 * (fabs(want) > 1 ? fabs(want) : 1);
	if (fabs(got - want) > tol)
		fail_msg("got %.17g want %.17g", got, want);
}

static void
run_bruteforce(uint64_t seed, int64_t size_ms, int64_t delay_ms,
    int64_t t0_ns)
{
	enum { N = 4000 };
	static bf_ev evs[N];
	static bf_group groups[N];
	size_t ngroups = 0;
	uint64_t rs = seed;
	int64_t base = t0_ns;
	sink s = { 0 };
	const char *keys[] = { "service", "level" };
	const char *aggs[] = { "count", "sum(latency_ms)", "min(latency_ms)",
		"max(latency_ms)", "avg(latency_ms)", "sum(bytes)",
		"max(bytes)" };
	ls_window *w = mkwin(&s, size_ms, 0, delay_ms, 0, 0, keys, 2, aggs, 7);

	/* events out of order by up to the watermark delay, so none is late */
	for (size_t i = 0; i < N; i++) {
		bf_ev *e = &evs[i];
		base += (int64_t)(tr_next(&rs) % 40) * MS;
		e->t = base - (int64_t)(tr_unif(&rs) * (double)delay_ms * 1e6);
		e->svc = (int)(tr_next(&rs) % 7);
		e->lvl = (int)(tr_next(&rs) % 3);
		e->has_lat = tr_unif(&rs) < 0.8;
		e->lat = (double)(tr_next(&rs) % 100000) / 1000.0 - 5.0;
		e->has_bytes = tr_unif(&rs) < 0.5;
		e->bytes = (double)(tr_next(&rs) % 5000);
	}
	for (size_t i = 0; i < N; i++) {
		bf_ev *e = &evs[i];
		evb b;
		char lat[32], bytes[32];
		int junk = (tr_next(&rs) % 10) == 0; /* unparsable value */
		snprintf(lat, sizeof(lat), "%.3f", e->lat);
		snprintf(bytes, sizeof(bytes), "%.0f", e->bytes);
		ls_event *ev = mk(&b, e->t, bf_svc[e->svc], bf_lvl[e->lvl],
		    e->has_lat ? lat : (junk ? "n/a" : NULL),
		    e->has_bytes ? bytes : (junk ? "12abc" : NULL));
		ev->offset = i;
		assert_int_equal(ls_window_add(w, ev), 0);
		/* the value the event carries, as the window will read it */
		e->lat = strtod(lat, NULL);
	}
	ls_window_flush(w);

	ls_window_stats st;
	ls_window_get_stats(w, &st);
	assert_int_equal(st.events, N);
	assert_int_equal(st.late, 0);
	assert_int_equal(st.open_windows, 0);
	assert_int_equal(st.keys, 0);
	assert_int_equal(s.nlate, 0);

	/* brute force: one pass per event over the groups found so far */
	for (size_t i = 0; i < N; i++) {
		const bf_ev *e = &evs[i];
		int64_t start = floor_start(e->t, size_ms * MS);
		size_t g;
		for (g = 0; g < ngroups; g++) {
			if (groups[g].start == start &&
			    groups[g].svc == e->svc && groups[g].lvl == e->lvl)
				break;
		}
		if (g == ngroups) {
			memset(&groups[g], 0, sizeof(groups[g]));
			groups[g].start = start;
			groups[g].svc = e->svc;
			groups[g].lvl = e->lvl;
			ngroups++;
		}
		bf_group *gr = &groups[g];
		gr->count++;
		if (e->has_lat) {
			gr->lat_sum += e->lat;
			if (gr->nlat == 0 || e->lat < gr->lat_min)
				gr->lat_min = e->lat;
			if (gr->nlat == 0 || e->lat > gr->lat_max)
				gr->lat_max = e->lat;
			gr->nlat++;
		}
		if (e->has_bytes) {
			gr->bytes_sum += e->bytes;
			if (gr->nbytes == 0 || e->bytes > gr->bytes_max)
				gr->bytes_max = e->bytes;
			gr->nbytes++;
		}
	}
	qsort(groups, ngroups, sizeof(groups[0]), bf_group_cmp);

	assert_int_equal(s.n, ngroups);
	assert_int_equal(st.emitted, ngroups);
	for (size_t g = 0; g < ngroups; g++) {
		const bf_group *gr = &groups[g];
		const rec *r = &s.r[g];
		assert_int_equal(r->start, gr->start);
		assert_int_equal(r->end, gr->start + size_ms * MS);
		assert_int_equal(r->final, 1);
		assert_key(r, 0, bf_svc[gr->svc]);
		assert_key(r, 1, ls_level_name(bf_lvl[gr->lvl]));
		assert_int_equal(r->count, gr->count);
		assert_true(r->has[0]);
		close_to(r->value[0], (double)gr->count);
		assert_int_equal(r->has[1], gr->nlat > 0);
		assert_int_equal(r->has[2], gr->nlat > 0);
		assert_int_equal(r->has[3], gr->nlat > 0);
		assert_int_equal(r->has[4], gr->nlat > 0);
		if (gr->nlat > 0) {
			close_to(r->value[1], gr->lat_sum);
			close_to(r->value[2], gr->lat_min);
			close_to(r->value[3], gr->lat_max);
			close_to(r->value[4], gr->lat_sum / (double)gr->nlat);
		}
		assert_int_equal(r->has[5], gr->nbytes > 0);
		assert_int_equal(r->has[6], gr->nbytes > 0);
		if (gr->nbytes > 0) {
			close_to(r->value[5], gr->bytes_sum);
			close_to(r->value[6], gr->bytes_max);
		}
	}
	ls_window_free(w);
	sink_fini(&s);
}

static void
test_bruteforce(void **state)
{
	(void)state;
	run_bruteforce(1, 1000, 500, INT64_C(1709251200) * 1000000000);
	run_bruteforce(2, 250, 2000, INT64_C(1709251200) * 1000000000);
	/* before the epoch: floor, not truncation, places the windows */
	run_bruteforce(3, 700, 300, -INT64_C(50) * 1000000000);
}

/* Two runs over the same input give identical output. */
static void
test_deterministic(void **state)
{
	(void)state;
	sink a = { 0 }, b = { 0 };
	const char *keys[] = { "service" };
	const char *aggs[] = { "sum(latency_ms)" };

	for (int run = 0; run < 2; run++) {
		sink *s = run == 0 ? &a : &b;
		ls_window *w = mkwin(s, 100, 0, 1000, 0, 0, keys, 1, aggs, 1);
		uint64_t rs = 99;
		for (int i = 0; i < 3000; i++) {
			evb e;
			char lat[16];
			snprintf(lat, sizeof(lat), "%u",
			    (unsigned)(tr_next(&rs) % 1000));
			int64_t t = (int64_t)i * 3 * MS -
			    (int64_t)(tr_next(&rs) % 900) * MS;
			assert_int_equal(ls_window_add(w,
			                     mk(&e, t,
			                         bf_svc[tr_next(&rs) % 7],
			                         LS_LEVEL_INFO, lat, NULL)),
			    0);
		}
		ls_window_flush(w);
		ls_window_free(w);
	}
	assert_int_equal(a.n, b.n);
	assert_true(a.n > 100);
	assert_memory_equal(a.r, b.r, a.n * sizeof(rec));
	sink_fini(&a);
	sink_fini(&b);
}

/* ---- boundaries, grace, late ---- */

static void
test_boundaries(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	ls_window *w = mkwin(&s, 1000, 0, 10000, 0, 0, NULL, 0, NULL, 0);

	assert_int_equal(ls_window_add(w, mk(&e, 0, "x", 0, NULL, NULL)), 0);
	assert_int_equal(ls_window_add(w,
	                     mk(&e, 1000 * MS - 1, "x", 0, NULL, NULL)),
	    0);
	/* an event exactly at the end belongs to the next window */
	assert_int_equal(ls_window_add(w, mk(&e, 1000 * MS, "x", 0, NULL, NULL)),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, -1, "x", 0, NULL, NULL)), 0);
	assert_int_equal(ls_window_add(w,
	                     mk(&e, -1000 * MS, "x", 0, NULL, NULL)),
	    0);
	assert_int_equal(ls_window_flush(w), 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.r[0].start, -1000 * MS);
	assert_int_equal(s.r[0].end, 0);
	assert_int_equal(s.r[0].count, 2);
	assert_int_equal(s.r[0].nkeys, 0);
	assert_int_equal(s.r[1].start, 0);
	assert_int_equal(s.r[1].end, 1000 * MS);
	assert_int_equal(s.r[1].count, 2);
	assert_int_equal(s.r[2].start, 1000 * MS);
	assert_int_equal(s.r[2].count, 1);
	ls_window_free(w);
	sink_fini(&s);
}

static void
test_grace_and_late(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	ls_window_stats st;
	const char *keys[] = { "service" };
	/* size 1 s, grace 0.5 s, no watermark delay */
	ls_window *w = mkwin(&s, 1000, 500, 0, 0, 0, keys, 1, NULL, 0);

	assert_int_equal(ls_window_add(w, mk(&e, 100 * MS, "a", 0, NULL, NULL)),
	    0);
	assert_int_equal(ls_window_add(w,
	                     mk(&e, 1200 * MS, "a", 0, NULL, NULL)),
	    0);
	/* watermark 1.2 s < end 1 s + grace 0.5 s: window 0 still open */
	assert_int_equal(ls_window_add(w, mk(&e, 900 * MS, "b", 0, NULL, NULL)),
	    0);
	assert_int_equal(s.n, 0);
	/* one ns short of end + grace: still open */
	assert_int_equal(ls_window_add(w,
	                     mk(&e, 1500 * MS - 1, "a", 0, NULL, NULL)),
	    0);
	assert_int_equal(s.n, 0);
	/* watermark reaches end + grace: window 0 closes, once */
	assert_int_equal(ls_window_add(w,
	                     mk(&e, 1500 * MS, "a", 0, NULL, NULL)),
	    0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.r[0].start, 0);
	assert_key(&s.r[0], 0, "a");
	assert_int_equal(s.r[0].count, 1);
	assert_key(&s.r[1], 0, "b");
	assert_int_equal(s.r[1].count, 1);
	assert_int_equal(s.r[0].final, 1);

	/* an event for the closed window is late: reported, not aggregated */
	mk(&e, 950 * MS, "a", 0, NULL, NULL);
	e.ev.offset = 77;
	assert_int_equal(ls_window_add(w, &e.ev), 0);
	assert_int_equal(s.nlate, 1);
	assert_int_equal(s.late[0].offset, 77);
	assert_int_equal(s.late[0].window_start, 0);
	assert_int_equal(s.late[0].watermark, 1500 * MS);
	ls_window_get_stats(w, &st);
	assert_int_equal(st.late, 1);
	assert_int_equal(st.events, 6);
	assert_int_equal(st.open_windows, 1);
	assert_int_equal(st.keys, 1);
	assert_int_equal(st.watermark_ns, 1500 * MS);
	assert_int_equal(s.n, 2);

	assert_int_equal(ls_window_flush(w), 1);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.r[2].start, 1000 * MS);
	assert_int_equal(s.r[2].count, 3);
	ls_window_free(w);
	sink_fini(&s);
}

static void
test_on_update(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	const char *keys[] = { "service" };
	const char *aggs[] = { "max(latency_ms)" };
	ls_window *w = mkwin(&s, 1000, 0, 0, 0, 1, keys, 1, aggs, 1);

	assert_int_equal(ls_window_add(w, mk(&e, 10 * MS, "a", 0, "5", NULL)),
	    0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].final, 0);
	assert_int_equal(s.r[0].count, 1);
	close_to(s.r[0].value[0], 5);
	assert_int_equal(ls_window_add(w, mk(&e, 20 * MS, "a", 0, "9", NULL)),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 30 * MS, "b", 0, NULL, NULL)),
	    0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.r[1].count, 2);
	close_to(s.r[1].value[0], 9);
	assert_key(&s.r[2], 0, "b");
	assert_int_equal(s.r[2].has[0], 0);
	/* the next window's event updates it, then closes window 0 */
	assert_int_equal(ls_window_add(w, mk(&e, 1000 * MS, "a", 0, "1", NULL)),
	    0);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.r[3].final, 0);
	assert_int_equal(s.r[3].start, 1000 * MS);
	assert_int_equal(s.r[4].final, 1);
	assert_key(&s.r[4], 0, "a");
	assert_int_equal(s.r[4].count, 2);
	assert_int_equal(s.r[5].final, 1);
	assert_key(&s.r[5], 0, "b");
	ls_window_stats st;
	ls_window_get_stats(w, &st);
	assert_int_equal(st.emitted, 6);
	ls_window_free(w);
	sink_fini(&s);
}

static void
test_idle(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	/* 1 s windows, 2 s watermark delay, 5 s idle timeout */
	ls_window *w = mkwin(&s, 1000, 0, 2000, 5000, 0, NULL, 0, NULL, 0);
	int64_t wall = INT64_C(1700000000) * 1000000000;

	assert_int_equal(ls_window_idle(w, wall), 0); /* no events yet */
	mk(&e, 100 * MS, "a", 0, NULL, NULL);
	e.ev.ingest_ns = wall;
	assert_int_equal(ls_window_add(w, &e.ev), 0);
	/* not idle long enough */
	assert_int_equal(ls_window_idle(w, wall + 4999 * MS), 0);
	assert_int_equal(s.n, 0);
	/* idle 5 s: watermark = 0.1 s + 5 s - 2 s = 3.1 s >= 1 s */
	assert_int_equal(ls_window_idle(w, wall + 5000 * MS), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].start, 0);
	assert_int_equal(s.r[0].final, 1);
	ls_window_stats st;
	ls_window_get_stats(w, &st);
	assert_int_equal(st.watermark_ns, 3100 * MS);
	/* the watermark never goes back */
	assert_int_equal(ls_window_idle(w, wall + 100 * MS), 0);
	ls_window_get_stats(w, &st);
	assert_int_equal(st.watermark_ns, 3100 * MS);
	/* an event for a window behind the advanced watermark is late */
	mk(&e, 2500 * MS, "a", 0, NULL, NULL);
	e.ev.ingest_ns = wall + 6000 * MS;
	assert_int_equal(ls_window_add(w, &e.ev), 0);
	assert_int_equal(s.nlate, 1);
	/* an event without a time uses its ingest time */
	mk(&e, LS_TIME_UNKNOWN, "a", 0, NULL, NULL);
	e.ev.ingest_ns = 5500 * MS;
	assert_int_equal(ls_window_add(w, &e.ev), 0);
	assert_int_equal(ls_window_flush(w), 1);
	assert_int_equal(s.r[1].start, 5000 * MS);
	ls_window_free(w);
	sink_fini(&s);
}

static void
test_flush(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	const char *keys[] = { "service" };
	ls_window *w = mkwin(&s, 1000, 200, 60000, 0, 0, keys, 1, NULL, 0);

	for (int i = 0; i < 5; i++)
		assert_int_equal(ls_window_add(w,
		                     mk(&e, (4 - i) * 1000 * MS, "k", 0, NULL,
		                         NULL)),
		    0);
	assert_int_equal(s.n, 0);
	assert_int_equal(ls_window_flush(w), 5);
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(s.r[i].start, i * 1000 * MS);
		assert_int_equal(s.r[i].final, 1);
	}
	assert_int_equal(ls_window_flush(w), 0);
	/* flushed windows are closed: a new event for one is late */
	assert_int_equal(ls_window_add(w, mk(&e, 4500 * MS, "k", 0, NULL, NULL)),
	    0);
	assert_int_equal(s.nlate, 1);
	assert_int_equal(s.late[0].window_start, 4000 * MS);
	/* a later window is accepted */
	assert_int_equal(ls_window_add(w, mk(&e, 5200 * MS, "k", 0, NULL, NULL)),
	    0);
	assert_int_equal(s.nlate, 1);
	assert_int_equal(ls_window_flush(w), 1);
	assert_int_equal(s.r[5].start, 5000 * MS);
	ls_window_free(w);
	sink_fini(&s);
}

static void
test_emission_order(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	const char *keys[] = { "service", "host" };
	ls_window *w = mkwin(&s, 1000, 0, 100000, 0, 0, keys, 2, NULL, 0);
	static const char *const svc[] = { "\xff", "b", "ab", "a", "", "a",
		"a" };
	static const char *const host[] = { "h", "h", "h", "h2", "h", "h",
		"" };

	/* keys inserted in reverse order into two windows, newer first */
	for (int win = 1; win >= 0; win--) {
		for (size_t i = 0; i < 7; i++) {
			mk(&e, win * 1000 * MS + (int64_t)i, svc[i], 0, NULL,
			    NULL);
			e.ev.host = ls_str_c(host[i]);
			assert_int_equal(ls_window_add(w, &e.ev), 0);
		}
	}
	ls_window_flush(w);
	static const char *const want_svc[] = { "", "a", "a", "a", "ab", "b",
		"\xff" };
	static const char *const want_host[] = { "h", "", "h", "h2", "h", "h",
		"h" };
	assert_int_equal(s.n, 14);
	for (size_t k = 0; k < 14; k++) {
		assert_int_equal(s.r[k].start, (k < 7 ? 0 : 1000) * MS);
		assert_key(&s.r[k], 0, want_svc[k % 7]);
		assert_key(&s.r[k], 1, want_host[k % 7]);
		assert_int_equal(s.r[k].count, 1);
	}
	ls_window_free(w);
	sink_fini(&s);
}

static void
test_query(void **state)
{
	(void)state;
	sink s = { 0 }, q = { 0 };
	evb e;
	const char *keys[] = { "service" };
	const char *aggs[] = { "sum(bytes)" };
	ls_window *w = mkwin(&s, 1000, 0, 100000, 0, 0, keys, 1, aggs, 1);

	assert_int_equal(ls_window_add(w, mk(&e, 2100 * MS, "b", 0, NULL, "4")),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 100 * MS, "b", 0, NULL, "1")),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 200 * MS, "a", 0, NULL, "2")),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 300 * MS, "a", 0, NULL, "3")),
	    0);
	assert_int_equal(ls_window_query(w, INT64_MIN, INT64_MAX, on_emit, &q),
	    0);
	assert_int_equal(q.n, 3);
	assert_key(&q.r[0], 0, "a");
	assert_int_equal(q.r[0].count, 2);
	close_to(q.r[0].value[0], 5);
	assert_int_equal(q.r[0].final, 0);
	assert_key(&q.r[1], 0, "b");
	assert_int_equal(q.r[1].start, 0);
	assert_int_equal(q.r[2].start, 2000 * MS);
	close_to(q.r[2].value[0], 4);
	/* range: only windows overlapping [1.5 s, 2.5 s) */
	sink_reset(&q);
	assert_int_equal(ls_window_query(w, 1500 * MS, 2500 * MS, on_emit, &q),
	    0);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.r[0].start, 2000 * MS);
	/* [1 s, 2 s) overlaps nothing: windows are half-open */
	sink_reset(&q);
	assert_int_equal(ls_window_query(w, 1000 * MS, 2000 * MS, on_emit, &q),
	    0);
	assert_int_equal(q.n, 0);
	/* querying changed nothing */
	assert_int_equal(s.n, 0);
	assert_int_equal(ls_window_flush(w), 2);
	assert_int_equal(s.n, 3);
	ls_window_free(w);
	sink_fini(&s);
	sink_fini(&q);
}

/* ls_window_query_some: by key (a hash lookup per window) it reports
 * exactly the rows of the full query with that key, in the same order; an
 * absent key, an over-long one and a key of another arity report none;
 * with a limit it stops after the window that reaches it. */
static void
test_query_some(void **state)
{
	(void)state;
	sink s = { 0 }, all = { 0 }, q = { 0 };
	evb e;
	const char *keys[] = { "service" };
	const char *aggs[] = { "count", "sum(bytes)" };
	ls_window *w = mkwin(&s, 1000, 0, 1000000, 0, 0, keys, 1, aggs, 2);
	static const char *const names[] = { "a", "b", "", "api", "b\x01" };
	for (int i = 0; i < 500; i++) {
		char b[8];
		snprintf(b, sizeof(b), "%d", i % 13);
		assert_int_equal(ls_window_add(w, mk(&e, (int64_t)(i * 7 % 4000) *
		                                          MS,
		                                      names[i % 5], 0, NULL, b)),
		    0);
	}
	assert_int_equal(ls_window_query(w, INT64_MIN, INT64_MAX, on_emit,
	                     &all),
	    0);
	assert_int_equal(all.n, 4 * 5);
	for (int k = 0; k < 5; k++) {
		ls_str v = ls_str_c(names[k]);
		sink_reset(&q);
		assert_int_equal(ls_window_query_some(w, 1000 * MS, INT64_MAX, &v,
		                     1, 0, on_emit, &q),
		    0);
		size_t j = 0;
		for (size_t i = 0; i < all.n; i++) {
			const rec *r = &all.r[i];
			if (r->start < 1000 * MS || r->keylen[0] != v.len ||
			    memcmp(r->key[0], v.ptr, v.len) != 0)
				continue;
			assert_true(j < q.n);
			assert_int_equal(q.r[j].start, r->start);
			assert_int_equal(q.r[j].count, r->count);
			close_to(q.r[j].value[1], r->value[1]);
			j++;
		}
		assert_int_equal(j, q.n);
		assert_int_equal(q.n, 3);
	}
	ls_str none = ls_str_c("nope"), two[2] = { ls_str_c("a"), ls_str_c("") };
	sink_reset(&q);
	assert_int_equal(ls_window_query_some(w, INT64_MIN, INT64_MAX, &none, 1,
	                     0, on_emit, &q),
	    0);
	assert_int_equal(q.n, 0);
	static char big[LS_WINDOW_KEY_MAX + 1];
	memset(big, 'x', sizeof(big));
	ls_str longk = ls_str_make(big, sizeof(big));
	assert_int_equal(ls_window_query_some(w, INT64_MIN, INT64_MAX, &longk, 1,
	                     0, on_emit, &q),
	    0);
	assert_int_equal(q.n, 0);
	assert_int_equal(ls_window_query_some(w, INT64_MIN, INT64_MAX, two, 2, 0,
	                     on_emit, &q),
	    LS_EINVAL);
	/* limit 7: the whole first window (5 groups) and the second one */
	sink_reset(&q);
	assert_int_equal(ls_window_query_some(w, INT64_MIN, INT64_MAX, NULL, 0,
	                     7, on_emit, &q),
	    0);
	assert_int_equal(q.n, 10);
	for (size_t i = 0; i < q.n; i++) {
		assert_int_equal(q.r[i].start, all.r[i].start);
		assert_int_equal(q.r[i].keylen[0], all.r[i].keylen[0]);
	}
	assert_int_equal(s.n, 0); /* nothing emitted */
	ls_window_free(w);
	sink_fini(&s);
	sink_fini(&all);
	sink_fini(&q);
}

static void
test_missing_fields(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	const char *keys[] = { "region" }; /* no event has it */
	const char *aggs[] = { "avg(latency_ms)", "min(latency_ms)", "count",
		"sum(bytes)" };
	ls_window *w = mkwin(&s, 1000, 0, 0, 0, 0, keys, 1, aggs, 4);

	assert_int_equal(ls_window_add(w, mk(&e, 1, "a", 0, NULL, NULL)), 0);
	assert_int_equal(ls_window_add(w, mk(&e, 2, "a", 0, "nan", NULL)), 0);
	assert_int_equal(ls_window_add(w, mk(&e, 3, "a", 0, "inf", NULL)), 0);
	assert_int_equal(ls_window_add(w, mk(&e, 4, "a", 0, "", "x")), 0);
	assert_int_equal(ls_window_add(w, mk(&e, 5, "a", 0, "4", NULL)), 0);
	assert_int_equal(ls_window_add(w, mk(&e, 6, "a", 0, "-2.5", NULL)), 0);
	assert_int_equal(ls_window_add(w, mk(&e, 1000 * MS, "a", 0, NULL, NULL)),
	    0);
	assert_int_equal(s.n, 1);
	assert_key(&s.r[0], 0, "");
	assert_int_equal(s.r[0].count, 6);
	assert_true(s.r[0].has[0]);
	close_to(s.r[0].value[0], 0.75);
	close_to(s.r[0].value[1], -2.5);
	assert_true(s.r[0].has[2]);
	close_to(s.r[0].value[2], 6);
	assert_false(s.r[0].has[3]);
	ls_window_free(w);
	sink_fini(&s);
}

static void
test_errors(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	const char *keys[] = { "service" };
	ls_window *w = mkwin(&s, 1000, 0, 0, 0, 0, keys, 1, NULL, 0);
	ls_window_stats st;

	mk(&e, LS_TIME_UNKNOWN, "a", 0, NULL, NULL);
	assert_int_equal(ls_window_add(w, &e.ev), LS_EINVAL);
	assert_int_equal(ls_window_add(w, mk(&e, INT64_MAX, "a", 0, NULL, NULL)),
	    LS_ERANGE);
	assert_int_equal(ls_window_add(w, mk(&e, INT64_MIN + 1, "a", 0, NULL,
	                                      NULL)),
	    LS_ERANGE);
	static char big[LS_WINDOW_KEY_MAX + 2];
	memset(big, 'k', sizeof(big) - 1); /* one byte too long */
	assert_int_equal(ls_window_add(w, mk(&e, 5, big, 0, NULL, NULL)),
	    LS_ERANGE);
	big[LS_WINDOW_KEY_MAX] = '\0'; /* the longest allowed key */
	assert_int_equal(ls_window_add(w, mk(&e, 5, big, 0, NULL, NULL)), 0);
	ls_window_get_stats(w, &st);
	assert_int_equal(st.events, 1);
	assert_int_equal(st.keys, 1);
	assert_int_equal(ls_window_flush(w), 1);
	assert_int_equal(s.r[0].keylen[0], LS_WINDOW_KEY_MAX);
	ls_window_free(w);
	ls_window_free(NULL);
	sink_fini(&s);
}

/* Many groups in many windows: tables grow, windows are recycled, stats
 * track open groups. */
static void
test_many_keys(void **state)
{
	(void)state;
	sink s = { 0 };
	const char *keys[] = { "service" };
	const char *aggs[] = { "count" };
	ls_window *w = mkwin(&s, 1000, 0, 0, 0, 0, keys, 1, aggs, 1);
	char name[32];
	evb e;
	ls_window_stats st;

	for (int win = 0; win < 6; win++) {
		for (int k = 0; k < 3000; k++) {
			snprintf(name, sizeof(name), "key-%05d", (k * 7919) % 3000);
			for (int rep = 0; rep < 2; rep++)
				assert_int_equal(
				    ls_window_add(w,
				        mk(&e, win * 1000 * MS + k, name, 0,
				            NULL, NULL)),
				    0);
		}
		ls_window_get_stats(w, &st);
		assert_int_equal(st.keys, 3000);
		assert_int_equal(st.open_windows, 1);
	}
	ls_window_flush(w);
	assert_int_equal(s.n, 6 * 3000);
	for (size_t i = 0; i < s.n; i++) {
		snprintf(name, sizeof(name), "key-%05zu", i % 3000);
		assert_key(&s.r[i], 0, name);
		assert_int_equal(s.r[i].count, 2);
		assert_int_equal(s.r[i].start, (int64_t)(i / 3000) * 1000 * MS);
	}
	ls_window_free(w);
	sink_fini(&s);
}

/* ---- real data: Loghub Apache error log ---- */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "Sun Dec 04 04:47:44 2005" -> ns */
static int64_t
parse_ctime(const char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	unsigned d, hh, mm, ss, y;
	char mon[4];
	assert_int_equal(sscanf(p, "%*3s %3s %u %u:%u:%u %u", mon, &d, &hh, &mm,
	                     &ss, &y),
	    6);
	const char *f = strstr(months, mon);
	assert_non_null(f);
	unsigned m = (unsigned)(f - months) / 3 + 1;
	return ((days_from_civil(y, m, d) * 86400) + hh * 3600 + mm * 60 + ss) *
	    INT64_C(1000000000);
}

typedef struct lh_group {
	int64_t start;
	char level[16];
	char eid[16];
	uint64_t count;
} lh_group;

static int
lh_cmp(const void *pa, const void *pb)
{
	const lh_group *a = pa, *b = pb;
	int c;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if ((c = strcmp(a->level, b->level)) != 0)
		return c;
	return strcmp(a->eid, b->eid);
}

static void
test_loghub_apache(void **state)
{
	(void)state;
	char path[1024];
	const char *dir = getenv("LS_DATASETS_DIR");
	if (dir == NULL)
		dir = LS_DATASETS_DIR;
	snprintf(path, sizeof(path), "%s/loghub/Apache/Apache_2k.log_structured.csv",
	    dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);

	static lh_group groups[2000];
	size_t ngroups = 0, nlines = 0;
	sink s = { 0 };
	const char *keys[] = { "level", "event_id" };
	const char *aggs[] = { "count" };
	/* hourly windows; a day of watermark delay so that nothing is late */
	ls_window *w = mkwin(&s, 3600 * 1000, 0, 86400 * 1000, 0, 0, keys, 2,
	    aggs, 1);
	char line[4096];

	assert_non_null(fgets(line, sizeof(line), f)); /* header */
	while (fgets(line, sizeof(line), f) != NULL) {
		/* LineId,Time,Level,Content,EventId,EventTemplate: the
		 * first three have no commas; EventId is the second-last */
		char *c1 = strchr(line, ',');
		char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
		char *c3 = c2 ? strchr(c2 + 1, ',') : NULL;
		assert_non_null(c3);
		*c2 = *c3 = '\0';
		char *lastc = strrchr(c3 + 1, ',');
		assert_non_null(lastc);
		*lastc = '\0';
		char *eid = strrchr(c3 + 1, ',');
		assert_non_null(eid);
		eid++;
		int64_t t = parse_ctime(c1 + 1);
		ls_level lv = ls_level_parse(c2 + 1, strlen(c2 + 1));
		assert_int_not_equal(lv, LS_LEVEL_UNKNOWN);

		ls_event ev;
		ls_event_clear(&ev);
		ev.time_ns = t;
		ev.level = (uint8_t)lv;
		ev.offset = nlines;
		ls_event_add_attr(&ev, ls_str_c("event_id"), ls_str_c(eid));
		assert_int_equal(ls_window_add(w, &ev), 0);
		nlines++;

		int64_t start = floor_start(t, INT64_C(3600000000000));
		size_t g;
		for (g = 0; g < ngroups; g++) {
			if (groups[g].start == start &&
			    strcmp(groups[g].level, ls_level_name(lv)) == 0 &&
			    strcmp(groups[g].eid, eid) == 0)
				break;
		}
		if (g == ngroups) {
			assert_true(ngroups < 2000);
			groups[g].start = start;
			snprintf(groups[g].level, sizeof(groups[g].level), "%s",
			    ls_level_name(lv));
			snprintf(groups[g].eid, sizeof(groups[g].eid), "%s", eid);
			groups[g].count = 0;
			ngroups++;
		}
		groups[g].count++;
	}
	fclose(f);
	assert_int_equal(nlines, 2000);
	ls_window_flush(w);
	qsort(groups, ngroups, sizeof(groups[0]), lh_cmp);

	assert_int_equal(s.nlate, 0);
	assert_int_equal(s.n, ngroups);
	uint64_t total = 0;
	for (size_t g = 0; g < ngroups; g++) {
		assert_int_equal(s.r[g].start, groups[g].start);
		assert_key(&s.r[g], 0, groups[g].level);
		assert_key(&s.r[g], 1, groups[g].eid);
		assert_int_equal(s.r[g].count, groups[g].count);
		total += s.r[g].count;
	}
	assert_int_equal(total, 2000);
	/* the first hour of the log, 2005-12-04 04:00, from its first line */
	assert_int_equal(s.r[0].start, parse_ctime("Sun Dec 04 04:00:00 2005"));
	ls_window_free(w);
	sink_fini(&s);
}

/* Manual watermarks: events never move the watermark by themselves; only
 * ls_window_advance does, and it never goes back. */
static void
test_manual_watermark(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	const char *keys[] = { "service" };
	const char *aggs[] = { "count" };
	ls_window *w = mkwin(&s, 1000, 0, 0, 0, 0, keys, 1, aggs, 1);
	ls_window_stats st;

	ls_window_set_manual_watermark(w, 1);
	assert_int_equal(ls_window_add(w, mk(&e, 10 * MS, "a", 0, NULL, NULL)),
	    0);
	/* far ahead: with automatic watermarks this would close window 0 */
	assert_int_equal(ls_window_add(w, mk(&e, 9000 * MS, "a", 0, NULL,
	                                      NULL)),
	    0);
	assert_int_equal(s.n, 0);
	/* a lagging input's event for window 0 is still on time */
	assert_int_equal(ls_window_add(w, mk(&e, 500 * MS, "a", 0, NULL, NULL)),
	    0);
	ls_window_get_stats(w, &st);
	assert_int_equal(st.late, 0);
	assert_int_equal(ls_window_advance(w, 999 * MS), 0);
	assert_int_equal(ls_window_advance(w, 1000 * MS), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].count, 2);
	/* never backwards */
	assert_int_equal(ls_window_advance(w, 10 * MS), 0);
	assert_int_equal(ls_window_add(w, mk(&e, 20 * MS, "a", 0, NULL, NULL)),
	    0);
	ls_window_get_stats(w, &st);
	assert_int_equal(st.late, 1);
	assert_int_equal(st.watermark_ns, 1000 * MS);
	assert_int_equal(ls_window_flush(w), 1);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.r[1].start, 9000 * MS);
	ls_window_free(w);
	sink_fini(&s);
}

/* count(f) counts the events whose f is a finite number (0 is a value);
 * plain count counts them all. */
static void
test_count_field(void **state)
{
	(void)state;
	sink s = { 0 };
	evb e;
	const char *aggs[] = { "count", "count(latency_ms)", "COUNT( bytes )" };
	ls_window *w = mkwin(&s, 1000, 0, 0, 0, 0, NULL, 0, aggs, 3);

	assert_int_equal(ls_window_add(w, mk(&e, 1 * MS, "a", 0, "5", NULL)),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 2 * MS, "a", 0, "x", "1")),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 3 * MS, "a", 0, NULL, NULL)),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 4 * MS, "a", 0, "7", "2")),
	    0);
	assert_int_equal(ls_window_flush(w), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].count, 4);
	assert_int_equal(s.r[0].has[1], 1);
	close_to(s.r[0].value[1], 2); /* "5" and "7"; "x" is no number */
	assert_int_equal(s.r[0].has[2], 1);
	close_to(s.r[0].value[2], 2);
	const char *names_a[3];
	ls_window_spec spec;
	char err[128];
	assert_int_equal(ls_window_spec_init(&spec, 1000, 0, NULL, 0, aggs, 3,
	                     0, err, sizeof(err)),
	    0);
	ls_window_spec_names(&spec, NULL, names_a);
	assert_string_equal(names_a[1], "count_latency_ms");
	assert_string_equal(names_a[2], "count_bytes");
	ls_window_free(w);
	sink_fini(&s);
}

/* ---- snapshots ---- */

/* The snapshot format's constants, as docs/windows.md gives them: the tests
 * below rebuild checksums of hand-edited buffers from the documentation. */
#define SNAP_SEED UINT64_C(0x6c7377736e617031)

/* One callback, results and late events alike, in the order they came. */
typedef struct xent {
	int late; /* 0: result r, 1: late event */
	rec r;
	uint64_t offset;
	int64_t window_start, watermark;
} xent;

typedef struct xlog {
	xent *e;
	size_t n, cap;
} xlog;

static xent *
xlog_push(xlog *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		assert_non_null(l->e);
	}
	xent *x = &l->e[l->n++];
	memset(x, 0, sizeof(*x));
	return x;
}

static void
x_emit(void *arg, const ls_window_result *r)
{
	rec_fill(&xlog_push(arg)->r, r);
}

static void
x_late(void *arg, const ls_event *ev, int64_t window_start, int64_t wm)
{
	xent *x = xlog_push(arg);
	x->late = 1;
	x->offset = ev->offset;
	x->window_start = window_start;
	x->watermark = wm;
}

static void
xlog_fini(xlog *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* Results compared exactly: values bit for bit. */
static void
assert_xent_equal(const xent *a, const xent *b, size_t i)
{
	int same = a->late == b->late;
	if (same && a->late)
		same = a->offset == b->offset &&
		    a->window_start == b->window_start &&
		    a->watermark == b->watermark;
	else if (same) {
		const rec *x = &a->r, *y = &b->r;
		same = x->start == y->start && x->end == y->end &&
		    x->nkeys == y->nkeys && x->count == y->count &&
		    x->naggs == y->naggs && x->final == y->final &&
		    memcmp(x->keylen, y->keylen, sizeof(x->keylen)) == 0 &&
		    memcmp(x->key, y->key, sizeof(x->key)) == 0 &&
		    memcmp(x->value, y->value, sizeof(x->value)) == 0 &&
		    memcmp(x->has, y->has, sizeof(x->has)) == 0;
	}
	if (!same)
		fail_msg("entry %zu differs (late %d/%d, start %lld/%lld)", i,
		    a->late, b->late, (long long)a->r.start,
		    (long long)b->r.start);
}

static void
assert_stats_equal(const ls_window_stats *a, const ls_window_stats *b)
{
	assert_int_equal(a->events, b->events);
	assert_int_equal(a->late, b->late);
	assert_int_equal(a->emitted, b->emitted);
	assert_int_equal(a->closed, b->closed);
	assert_int_equal(a->open_windows, b->open_windows);
	assert_int_equal(a->keys, b->keys);
	assert_int_equal(a->watermark_ns, b->watermark_ns);
	assert_int_equal(a->max_time_ns, b->max_time_ns);
}

/* save(w) must be exactly want[0..len). */
static void
assert_saves_as(const ls_window *w, const uint8_t *want, size_t len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	assert_int_equal(ls_window_save(w, &buf, &n), 0);
	assert_int_equal(n, len);
	assert_memory_equal(buf, want, len);
	free(buf);
}

/* A script of calls on a window. */
enum { OP_ADD, OP_IDLE, OP_ADVANCE, OP_MANUAL, OP_FLUSH };

typedef struct op {
	int kind;
	int64_t t, ingest; /* OP_ADD */
	int64_t arg;       /* idle: now; advance: watermark; manual: flag */
	const char *svc;
	ls_level lvl;
	char lat[24], bytes[24];
	int has_lat, has_bytes;
} op;

#define SCRIPT_N 1500

static const char *const sc_svc[] = { "api", "", "auth",
	"\xc3\xa9t\xc3\xa9", "db", "api2", "Z" };

/* A deterministic mix of on-time, out-of-order and late events, pauses
 * (idle), a flush in the middle and, when manual, a phase of manual
 * watermarks driven by ls_window_advance. */
static void
gen_script(op *ops, size_t n, uint64_t seed, int manual)
{
	uint64_t rs = seed;
	int64_t base = INT64_C(1709251200) * 1000000000;
	int64_t ingest = base;

	for (size_t i = 0; i < n; i++) {
		op *o = &ops[i];
		unsigned r = (unsigned)(tr_next(&rs) % 1000);
		memset(o, 0, sizeof(*o));
		if (manual && i == n / 3) {
			o->kind = OP_MANUAL;
			o->arg = 1;
		} else if (manual && i == 2 * n / 3) {
			o->kind = OP_MANUAL;
			o->arg = 0;
		} else if (i == n / 2) {
			o->kind = OP_FLUSH;
		} else if (r < 5) {
			/* a pause of up to 4 s: idle after it, input resumes
			 * as much later */
			int64_t pause = (int64_t)(tr_next(&rs) % 4000) * MS;
			o->kind = OP_IDLE;
			o->arg = ingest + pause;
			ingest += pause;
			base += pause;
		} else if (r < 25) {
			o->kind = OP_ADVANCE;
			o->arg = base - (int64_t)(tr_next(&rs) % 1500) * MS;
		} else {
			o->kind = OP_ADD;
			base += (int64_t)(tr_next(&rs) % 40) * MS;
			ingest += (int64_t)(1 + tr_next(&rs) % 40) * MS;
			unsigned lag = (unsigned)(tr_next(&rs) % 100);
			/* most within delay + grace, some late */
			int64_t behind = lag < 4 ?
			    (int64_t)(1000 + tr_next(&rs) % 3000) * MS :
			    (int64_t)(tr_next(&rs) % 700) * MS;
			o->t = lag == 99 ? LS_TIME_UNKNOWN : base - behind;
			o->ingest = ingest;
			o->svc = sc_svc[tr_next(&rs) % 7];
			o->lvl = bf_lvl[tr_next(&rs) % 3];
			o->has_lat = tr_unif(&rs) < 0.8;
			snprintf(o->lat, sizeof(o->lat), "%.3f",
			    (double)(tr_next(&rs) % 100000) / 1000.0 - 5.0);
			if (tr_next(&rs) % 20 == 0)
				snprintf(o->lat, sizeof(o->lat), "n/a");
			o->has_bytes = tr_unif(&rs) < 0.5;
			snprintf(o->bytes, sizeof(o->bytes), "%u",
			    (unsigned)(tr_next(&rs) % 5000));
		}
	}
}

static void
apply_op(ls_window *w, const op *o, uint64_t offset)
{
	evb b;

	switch (o->kind) {
	case OP_ADD:
		mk(&b, o->t, o->svc, o->lvl, o->has_lat ? o->lat : NULL,
		    o->has_bytes ? o->bytes : NULL);
		b.ev.ingest_ns = o->ingest;
		b.ev.offset = offset;
		assert_int_equal(ls_window_add(w, &b.ev), 0);
		break;
	case OP_IDLE:
		(void)ls_window_idle(w, o->arg);
		break;
	case OP_ADVANCE:
		(void)ls_window_advance(w, o->arg);
		break;
	case OP_MANUAL:
		ls_window_set_manual_watermark(w, (int)o->arg);
		break;
	default:
		(void)ls_window_flush(w);
		break;
	}
}

static const char *const sc_keys[] = { "service", "level" };
static const char *const sc_aggs[] = { "count", "sum(latency_ms)",
	"min(latency_ms)", "max(latency_ms)", "avg(latency_ms)",
	"count(bytes)", "max(bytes)" };

static ls_window *
sc_new(const ls_window_spec *spec, xlog *log)
{
	ls_window *w = NULL;
	assert_int_equal(ls_window_new(&w, spec, 500, 2000, x_emit, x_late,
	                     log),
	    0);
	return w;
}

/* Run the script; with step > 0, before op i for every i = first + k*step
 * (and once more at the end) save the window, free it, and continue with a
 * new one loaded from the bytes.  Ends with a query of everything open and
 * a flush, all recorded in log. */
static void
run_script(const op *ops, size_t n, const ls_window_spec *spec, size_t first,
    size_t step, xlog *log, ls_window_stats *st, size_t *cuts)
{
	ls_window *w = sc_new(spec, log);

	*cuts = 0;
	for (size_t i = 0; i <= n; i++) {
		if (step > 0 && i >= first &&
		    ((i - first) % step == 0 || i == n)) {
			uint8_t *buf = NULL;
			size_t len = 0, before = log->n;
			assert_int_equal(ls_window_save(w, &buf, &len), 0);
			ls_window_free(w);
			w = sc_new(spec, log);
			assert_int_equal(ls_window_load(w, buf, len), 0);
			/* load emits nothing */
			assert_int_equal(log->n, before);
			assert_saves_as(w, buf, len);
			free(buf);
			(*cuts)++;
		}
		if (i < n)
			apply_op(w, &ops[i], i);
	}
	assert_int_equal(ls_window_query(w, INT64_MIN, INT64_MAX, x_emit, log),
	    0);
	ls_window_get_stats(w, st);
	(void)ls_window_flush(w);
	ls_window_free(w);
}

static void
test_snapshot_resume(void **state)
{
	(void)state;
	static op ops[SCRIPT_N];
	static const size_t steps[][2] = { { 0, 1 }, { 3, 7 }, { 100, 333 },
		{ SCRIPT_N / 2, 1000 } };

	for (int manual = 0; manual <= 1; manual++) {
		for (int upd = 0; upd <= 1; upd++) {
			ls_window_spec spec;
			xlog a = { 0 };
			ls_window_stats sa;
			size_t cuts;
			assert_int_equal(ls_window_spec_init(&spec, 1000, 300,
			                     sc_keys, 2, sc_aggs, 7, upd, NULL,
			                     0),
			    0);
			gen_script(ops, SCRIPT_N, 11 + (uint64_t)manual,
			    manual);
			run_script(ops, SCRIPT_N, &spec, 0, 0, &a, &sa, &cuts);

			/* the script exercises what it should */
			size_t nlate = 0, nupd = 0, nfinal = 0;
			for (size_t i = 0; i < a.n; i++) {
				nlate += a.e[i].late;
				nupd += !a.e[i].late && !a.e[i].r.final;
				nfinal += !a.e[i].late && a.e[i].r.final;
			}
			assert_true(nlate > 20);
			assert_true(nfinal > 100);
			/* the final query saw open windows */
			assert_true(sa.open_windows > 0);
			if (upd)
				assert_true(nupd > 1000);

			for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]);
			     s++) {
				xlog b = { 0 };
				ls_window_stats sb;
				run_script(ops, SCRIPT_N, &spec, steps[s][0],
				    steps[s][1], &b, &sb, &cuts);
				assert_true(cuts >= 2);
				assert_stats_equal(&sa, &sb);
				assert_int_equal(a.n, b.n);
				for (size_t i = 0; i < a.n; i++)
					assert_xent_equal(&a.e[i], &b.e[i], i);
				xlog_fini(&b);
			}
			xlog_fini(&a);
		}
	}
}

/* The Loghub Apache log, minute windows with no watermark delay (its few
 * out-of-order lines are late), cut every 97 lines. */
static void
test_snapshot_loghub(void **state)
{
	(void)state;
	char path[1024];
	const char *dir = getenv("LS_DATASETS_DIR");
	if (dir == NULL)
		dir = LS_DATASETS_DIR;
	snprintf(path, sizeof(path),
	    "%s/loghub/Apache/Apache_2k.log_structured.csv", dir);
	const char *keys[] = { "level", "event_id" };
	const char *aggs[] = { "count", "max(pid)" };
	ls_window_spec spec;
	xlog log[2] = { { 0 }, { 0 } };
	ls_window_stats st[2];

	assert_int_equal(ls_window_spec_init(&spec, 60000, 0, keys, 2, aggs, 2,
	                     0, NULL, 0),
	    0);
	for (int run = 0; run < 2; run++) {
		FILE *f = fopen(path, "r");
		if (f == NULL)
			fail_msg("cannot open %s", path);
		ls_window *w = NULL;
		assert_int_equal(ls_window_new(&w, &spec, 0, 0, x_emit, x_late,
		                     &log[run]),
		    0);
		char line[4096];
		uint64_t nlines = 0;
		assert_non_null(fgets(line, sizeof(line), f));
		while (fgets(line, sizeof(line), f) != NULL) {
			char *c1 = strchr(line, ',');
			char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
			char *c3 = c2 ? strchr(c2 + 1, ',') : NULL;
			assert_non_null(c3);
			*c2 = *c3 = '\0';
			char *lastc = strrchr(c3 + 1, ',');
			assert_non_null(lastc);
			*lastc = '\0';
			char *eid = strrchr(c3 + 1, ',');
			assert_non_null(eid);
			eid++;
			/* "Found child 6725 in ...": the pid as a number */
			char pid[16] = "";
			const char *fc = strstr(c3 + 1, "child ");
			if (fc != NULL)
				snprintf(pid, sizeof(pid), "%.*s",
				    (int)strspn(fc + 6, "0123456789"), fc + 6);
			ls_event ev;
			ls_event_clear(&ev);
			ev.time_ns = parse_ctime(c1 + 1);
			ev.level = (uint8_t)ls_level_parse(c2 + 1,
			    strlen(c2 + 1));
			ev.offset = nlines;
			ls_event_add_attr(&ev, ls_str_c("event_id"),
			    ls_str_c(eid));
			if (pid[0] != '\0')
				ls_event_add_attr(&ev, ls_str_c("pid"),
				    ls_str_c(pid));
			if (run == 1 && nlines % 97 == 50) {
				uint8_t *buf;
				size_t len;
				assert_int_equal(ls_window_save(w, &buf, &len),
				    0);
				ls_window_free(w);
				assert_int_equal(ls_window_new(&w, &spec, 0, 0,
				                     x_emit, x_late, &log[run]),
				    0);
				assert_int_equal(ls_window_load(w, buf, len),
				    0);
				free(buf);
			}
			assert_int_equal(ls_window_add(w, &ev), 0);
			nlines++;
		}
		fclose(f);
		assert_int_equal(nlines, 2000);
		ls_window_flush(w);
		ls_window_get_stats(w, &st[run]);
		ls_window_free(w);
	}
	assert_stats_equal(&st[0], &st[1]);
	assert_int_equal(st[0].events, 2000);
	assert_int_equal(log[0].n, log[1].n);
	uint64_t total = 0;
	int saw_pid = 0;
	for (size_t i = 0; i < log[0].n; i++) {
		assert_xent_equal(&log[0].e[i], &log[1].e[i], i);
		total += log[0].e[i].late ? 1 : log[0].e[i].r.count;
		saw_pid |= !log[0].e[i].late && log[0].e[i].r.has[1];
	}
	assert_int_equal(total, 2000); /* every line counted or late */
	assert_true(saw_pid);
	xlog_fini(&log[0]);
	xlog_fini(&log[1]);
}

/* A window with two open windows and three groups, manual watermark. */
static const char *const sm_keys[] = { "service" };
static const char *const sm_aggs[] = { "count", "min(latency_ms)" };

static ls_window *
small_window(xlog *log, int with_state)
{
	ls_window_spec spec;
	ls_window *w = NULL;
	evb e;

	assert_int_equal(ls_window_spec_init(&spec, 1000, 0, sm_keys, 1,
	                     sm_aggs, 2, 0, NULL, 0),
	    0);
	assert_int_equal(ls_window_new(&w, &spec, 10000, 0, x_emit, x_late,
	                     log),
	    0);
	if (!with_state)
		return w;
	assert_int_equal(ls_window_add(w, mk(&e, 100 * MS, "a", 0, "5", NULL)),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 200 * MS, "b", 0, NULL, NULL)),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 300 * MS, "a", 0, "3", NULL)),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 1500 * MS, "a", 0, "7", NULL)),
	    0);
	ls_window_set_manual_watermark(w, 1);
	return w;
}

/* A different state of the same spec, as a target that must not change. */
static ls_window *
other_window(xlog *log)
{
	ls_window *w = small_window(log, 0);
	evb e;
	assert_int_equal(ls_window_add(w, mk(&e, 9000 * MS, "x", 0, "1", NULL)),
	    0);
	assert_int_equal(ls_window_add(w, mk(&e, 1 * MS, "y", 0, NULL, NULL)),
	    0);
	return w;
}

static void
test_snapshot_spec_mismatch(void **state)
{
	(void)state;
	xlog log = { 0 };
	ls_window *src = small_window(&log, 1);
	uint8_t *buf, *t0;
	size_t len, t0len;
	evb e;

	assert_int_equal(ls_window_save(src, &buf, &len), 0);
	static const struct {
		int64_t size, grace;
		int upd;
		const char *k[2];
		size_t nk;
		const char *a[3];
		size_t na;
	} v[] = {
		{ 2000, 0, 0, { "service" }, 1, { "count", "min(latency_ms)" },
		    2 },
		{ 1000, 1, 0, { "service" }, 1, { "count", "min(latency_ms)" },
		    2 },
		{ 1000, 0, 1, { "service" }, 1, { "count", "min(latency_ms)" },
		    2 },
		{ 1000, 0, 0, { "host" }, 1, { "count", "min(latency_ms)" },
		    2 },
		{ 1000, 0, 0, { "service", "host" }, 2,
		    { "count", "min(latency_ms)" }, 2 },
		{ 1000, 0, 0, { "service" }, 1, { "count", "max(latency_ms)" },
		    2 },
		{ 1000, 0, 0, { "service" }, 1, { "count", "min(bytes)" }, 2 },
		{ 1000, 0, 0, { "service" }, 1, { "min(latency_ms)", "count" },
		    2 },
		{ 1000, 0, 0, { "service" }, 1, { "count" }, 1 },
		{ 1000, 0, 0, { "service" }, 1,
		    { "count", "min(latency_ms)", "sum(x)" }, 3 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ls_window_spec spec;
		ls_window *w = NULL;
		ls_window_stats s0, s1;
		assert_int_equal(ls_window_spec_init(&spec, v[i].size,
		                     v[i].grace, v[i].k, v[i].nk, v[i].a,
		                     v[i].na, v[i].upd, NULL, 0),
		    0);
		assert_int_equal(ls_window_new(&w, &spec, 10000, 0, x_emit,
		                     x_late, &log),
		    0);
		assert_int_equal(ls_window_add(w, mk(&e, 42 * MS, "q", 0, "1",
		                                      NULL)),
		    0);
		ls_window_get_stats(w, &s0);
		assert_int_equal(ls_window_save(w, &t0, &t0len), 0);
		size_t before = log.n;
		assert_int_equal(ls_window_load(w, buf, len), LS_EINVAL);
		assert_int_equal(log.n, before);
		assert_saves_as(w, t0, t0len);
		ls_window_get_stats(w, &s1);
		assert_stats_equal(&s0, &s1);
		free(t0);
		ls_window_free(w);
	}

	/* the watermark delay and idle timeout are the target's own */
	ls_window_spec spec;
	ls_window *w = NULL;
	assert_int_equal(ls_window_spec_init(&spec, 1000, 0, sm_keys, 1,
	                     sm_aggs, 2, 0, NULL, 0),
	    0);
	assert_int_equal(ls_window_new(&w, &spec, 0, 777, x_emit, x_late, &log),
	    0);
	assert_int_equal(ls_window_load(w, buf, len), 0);
	assert_saves_as(w, buf, len);
	ls_window_free(w);

	assert_int_equal(ls_window_load(NULL, buf, len), LS_EINVAL);
	assert_int_equal(ls_window_load(src, NULL, 1), LS_EINVAL);
	assert_int_equal(ls_window_save(NULL, &t0, &t0len), LS_EINVAL);
	assert_null(t0);
	free(buf);
	ls_window_free(src);
	xlog_fini(&log);
}

static void
test_snapshot_corrupt(void **state)
{
	(void)state;
	xlog log = { 0 };
	ls_window *src = small_window(&log, 1);
	ls_window *t = other_window(&log);
	uint8_t *buf, *t0, *bad;
	size_t len, t0len;
	ls_window_stats s0, s1;

	assert_int_equal(ls_window_save(src, &buf, &len), 0);
	assert_int_equal(ls_window_save(t, &t0, &t0len), 0);
	ls_window_get_stats(t, &s0);
	bad = malloc(len + 1);
	assert_non_null(bad);

	/* every truncation, an empty buffer included */
	for (size_t n = 0; n < len; n++) {
		memcpy(bad, buf, n);
		assert_int_equal(ls_window_load(t, bad, n), LS_ECORRUPT);
	}
	assert_saves_as(t, t0, t0len);
	/* one byte too many */
	memcpy(bad, buf, len);
	bad[len] = 0;
	assert_int_equal(ls_window_load(t, bad, len + 1), LS_ECORRUPT);
	/* a flipped byte anywhere */
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			memcpy(bad, buf, len);
			bad[i] ^= masks[m];
			int rc = ls_window_load(t, bad, len);
			if (rc == 0) { /* only if it means the same state */
				assert_saves_as(t, buf, len);
				assert_int_equal(ls_window_load(t, t0, t0len),
				    0);
				continue;
			}
			assert_int_equal(rc, LS_ECORRUPT);
		}
	}
	assert_saves_as(t, t0, t0len);
	ls_window_get_stats(t, &s1);
	assert_stats_equal(&s0, &s1);
	assert_int_equal(log.n, 0);

	/* the target still works: its own state, its own output */
	ls_window_flush(t);
	assert_int_equal(log.n, 2);
	assert_key(&log.e[0].r, 0, "y");
	assert_key(&log.e[1].r, 0, "x");
	free(bad);
	free(buf);
	free(t0);
	ls_window_free(src);
	ls_window_free(t);
	xlog_fini(&log);
}

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Give an edited buffer a valid length and checksum, so that only the
 * structural checks stand between it and the window. */
static void
reseal(uint8_t *b, size_t len)
{
	wr64(b + 8, len);
	wr64(b + len - 8, ls_hash64(b, len - 8, SNAP_SEED));
}

static void
test_snapshot_structure(void **state)
{
	(void)state;
	xlog log = { 0 };
	ls_window *src = small_window(&log, 1);
	ls_window *t = other_window(&log);
	uint8_t *buf, *t0, *bad;
	size_t len, t0len;

	assert_int_equal(ls_window_save(src, &buf, &len), 0);
	assert_int_equal(ls_window_save(t, &t0, &t0len), 0);
	/* The layout of docs/windows.md for spec keys {service}, aggregates
	 * {count, min(latency_ms)}: header 16, spec 20 + 8 + 2 + 12 = 42,
	 * state 64 at 58, window 0 at 122 with groups "a" at 138 and "b" at
	 * 167 (29 bytes each), window 1 at 196 with "a" at 212, checksum at
	 * 241. */
	assert_int_equal(len, 249);
	assert_memory_equal(buf, "LSWS\1\0\0\0", 8);
	assert_int_equal(rd64(buf + 8), 249);
	assert_int_equal(rd64(buf + 16), 1000);       /* size_ms */
	assert_int_equal(buf[36], 7);                  /* "service" */
	assert_int_equal(buf[46], LS_WINDOW_AGG_MIN);
	assert_int_equal((int64_t)rd64(buf + 66), 1500 * MS); /* max_t */
	assert_int_equal(rd64(buf + 82), 4);           /* events */
	assert_int_equal(buf[114], 1);                 /* manual */
	assert_int_equal(buf[118], 2);                 /* open windows */
	assert_int_equal(rd64(buf + 122), 0);          /* window 0 start */
	assert_int_equal(buf[130], 2);                 /* its groups */
	assert_int_equal(buf[134], 10);                /* its key bytes */
	assert_int_equal(buf[142], 'a');
	assert_int_equal(rd64(buf + 143), 2);          /* count */
	assert_int_equal(rd64(buf + 159), 2);          /* min's n */
	assert_int_equal(buf[171], 'b');
	assert_int_equal(rd64(buf + 188), 0);          /* b has no min */
	assert_int_equal((int64_t)rd64(buf + 196), 1000 * MS);
	assert_int_equal(buf[216], 'a');

	bad = malloc(len + 8);
	assert_non_null(bad);
	static const struct {
		size_t off;
		int width; /* 1, 4 or 8 bytes */
		uint64_t val;
		int want;
	} ed[] = {
		{ 142, 1, 'a', 0 },                     /* unchanged: loads */
		{ 114, 4, 0, 0 },                       /* auto wm: valid */
		{ 171, 1, 'a', LS_ECORRUPT },           /* group "a" twice */
		{ 143, 8, 0, LS_ECORRUPT },             /* count 0 */
		{ 159, 8, 3, LS_ECORRUPT },             /* n 3 > count 2 */
		{ 159, 8, 0, LS_ECORRUPT },             /* no values, v = 3 */
		{ 180, 8, 0x3ff0000000000000, LS_ECORRUPT }, /* v without n */
		{ 151, 8, 0x7ff0000000000000, LS_ECORRUPT }, /* min = inf */
		{ 196, 8, 0, LS_ECORRUPT },             /* start twice */
		{ 196, 8, (uint64_t)-(1000 * MS), LS_ECORRUPT }, /* backwards */
		{ 196, 8, 1000 * MS + 1, LS_ECORRUPT }, /* misaligned */
		{ 196, 8, 2000 * MS, LS_ECORRUPT },     /* after max_t */
		{ 130, 4, 3, LS_ECORRUPT },             /* group count */
		{ 130, 4, 0, LS_ECORRUPT },             /* empty window */
		{ 134, 4, 11, LS_ECORRUPT },            /* key bytes */
		{ 138, 4, 2, LS_ECORRUPT },             /* key length */
		{ 138, 4, 0xffffffff, LS_ECORRUPT },    /* key length */
		{ 118, 4, 3, LS_ECORRUPT },             /* window count */
		{ 118, 4, 1, LS_ECORRUPT },             /* trailing bytes */
		{ 114, 4, 2, LS_ECORRUPT },             /* unknown flag */
		{ 58, 8, 1000 * MS, LS_ECORRUPT },      /* window 0 is due */
		{ 66, 8, 999 * MS, LS_ECORRUPT },       /* max_t < window 1 */
		{ 90, 8, 5, LS_ECORRUPT },              /* late > events */
		{ 82, 8, 3, LS_ECORRUPT },              /* events < counts */
		{ 4, 1, 2, LS_ENOTSUP },                /* version 2 */
		{ 6, 1, 1, LS_ECORRUPT },               /* header flags */
		{ 33, 1, 9, LS_ECORRUPT },              /* 9 key fields */
		{ 35, 1, 1, LS_ECORRUPT },              /* spec reserved */
		{ 32, 1, 2, LS_ECORRUPT },              /* emit mode 2 */
		{ 36, 1, 0, LS_ECORRUPT },              /* empty key name */
		{ 46, 1, 9, LS_ECORRUPT },              /* aggregate kind 9 */
		{ 45, 1, 1, LS_ECORRUPT },              /* count with a field */
		{ 46, 1, LS_WINDOW_AGG_MAX, LS_EINVAL }, /* another spec */
		{ 37, 1, 'S', LS_EINVAL },              /* "Service" */
	};
	for (size_t i = 0; i < sizeof(ed) / sizeof(ed[0]); i++) {
		memcpy(bad, buf, len);
		if (ed[i].width == 1)
			bad[ed[i].off] = (uint8_t)ed[i].val;
		else if (ed[i].width == 4)
			wr32(bad + ed[i].off, (uint32_t)ed[i].val);
		else
			wr64(bad + ed[i].off, ed[i].val);
		reseal(bad, len);
		int rc = ls_window_load(t, bad, len);
		if (rc != ed[i].want)
			fail_msg("edit %zu (offset %zu): got %s, want %s", i,
			    ed[i].off, ls_errname(rc), ls_errname(ed[i].want));
		if (rc == 0) {
			assert_saves_as(t, bad, len);
			assert_int_equal(ls_window_load(t, t0, t0len), 0);
		}
		assert_saves_as(t, t0, t0len);
	}
	/* a longer buffer with a valid seal and trailing garbage */
	memcpy(bad, buf, len - 8);
	memset(bad + len - 8, 0, 8);
	reseal(bad, len + 8);
	assert_int_equal(ls_window_load(t, bad, len + 8), LS_ECORRUPT);
	assert_saves_as(t, t0, t0len);
	assert_int_equal(log.n, 0);
	free(bad);
	free(buf);
	free(t0);
	ls_window_free(src);
	ls_window_free(t);
	xlog_fini(&log);
}

static void
test_snapshot_empty(void **state)
{
	(void)state;
	xlog log = { 0 };
	ls_window *e = small_window(&log, 0);
	ls_window *f = small_window(&log, 0);
	ls_window *t = other_window(&log);
	ls_window_stats se, st;
	uint8_t *buf;
	size_t len;

	assert_int_equal(ls_window_save(e, &buf, &len), 0);
	assert_int_equal(len, 16 + 42 + 64 + 8);
	assert_int_equal(ls_window_load(f, buf, len), 0);
	assert_saves_as(f, buf, len);
	/* loading the empty state into a busy window empties it */
	assert_int_equal(ls_window_load(t, buf, len), 0);
	assert_saves_as(t, buf, len);
	ls_window_get_stats(e, &se);
	ls_window_get_stats(t, &st);
	assert_stats_equal(&se, &st);
	assert_int_equal(st.watermark_ns, INT64_MIN);
	assert_int_equal(st.max_time_ns, INT64_MIN);
	assert_int_equal(st.open_windows, 0);
	assert_int_equal(ls_window_flush(t), 0);
	assert_int_equal(log.n, 0);
	/* and it carries on as a new one: nothing is late */
	evb ev;
	assert_int_equal(ls_window_add(t, mk(&ev, 5 * MS, "z", 0, "2", NULL)),
	    0);
	assert_int_equal(ls_window_flush(t), 1);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.e[0].late, 0);
	assert_key(&log.e[0].r, 0, "z");
	free(buf);
	ls_window_free(e);
	ls_window_free(f);
	ls_window_free(t);
	xlog_fini(&log);
}

/* ---- incremental parts ---- */

/* The key-value store a stage keeps its window parts in: start -> bytes. */
typedef struct kv_ent {
	int64_t start;
	uint8_t *v;
	size_t len;
} kv_ent;

typedef struct kv {
	kv_ent e[512];
	size_t n;
	size_t puts, dels; /* calls of the last walk */
	int fail_at;       /* answer LS_EIO to the call with this index */
	int calls;
} kv;

static int
kv_apply(void *arg, int64_t start, const uint8_t *part, size_t len)
{
	kv *m = arg;
	size_t i;

	if (m->calls++ == m->fail_at)
		return LS_EIO;
	for (i = 0; i < m->n && m->e[i].start != start; i++)
		;
	if (part == NULL) {
		assert_int_equal(len, 0);
		/* only windows handed out before are reported closed */
		assert_true(i < m->n);
		free(m->e[i].v);
		m->e[i] = m->e[--m->n];
		m->dels++;
		return 0;
	}
	if (i == m->n) {
		assert_true(m->n < 512);
		m->e[m->n++].start = start;
	} else {
		free(m->e[i].v);
	}
	m->e[i].v = malloc(len);
	assert_non_null(m->e[i].v);
	memcpy(m->e[i].v, part, len);
	m->e[i].len = len;
	m->puts++;
	return 0;
}

static void
kv_walk(ls_window *w, int all, kv *m)
{
	m->puts = m->dels = 0;
	m->calls = 0;
	m->fail_at = -1;
	assert_int_equal(ls_window_save_changed(w, all, kv_apply, m), 0);
}

static void
kv_fini(kv *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].v);
	m->n = 0;
}

/* Load the model (and meta) into t. */
static int
kv_load(ls_window *t, const kv *m, const uint8_t *meta, size_t mlen)
{
	const uint8_t *parts[512];
	size_t lens[512];

	for (size_t i = 0; i < m->n; i++) {
		parts[i] = m->e[i].v;
		lens[i] = m->e[i].len;
	}
	return ls_window_load_parts(t, meta, mlen, parts, lens, m->n);
}

/* Like run_script, but each cut writes only the changed windows to a
 * key-value model kept across cuts, writes meta, and continues with a new
 * window restored from the model alone; the restored state must save as
 * the same snapshot as the original. */
static void
run_parts(const op *ops, size_t n, const ls_window_spec *spec, size_t step,
    xlog *log, ls_window_stats *st, size_t *cuts, size_t *partial)
{
	ls_window *w = sc_new(spec, log);
	kv m = { .n = 0 };

	*cuts = 0;
	*partial = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i % step == 0 || i == n) {
			uint8_t *meta, *snap;
			size_t mlen, slen, before = log->n;
			ls_window_stats ws;
			kv_walk(w, 0, &m);
			ls_window_get_stats(w, &ws);
			assert_int_equal(m.n, ws.open_windows);
			if (m.puts < ws.open_windows)
				(*partial)++;
			assert_int_equal(ls_window_save_meta(w, &meta, &mlen),
			    0);
			assert_int_equal(ls_window_save(w, &snap, &slen), 0);
			ls_window_free(w);
			w = sc_new(spec, log);
			assert_int_equal(kv_load(w, &m, meta, mlen), 0);
			assert_int_equal(log->n, before);
			assert_saves_as(w, snap, slen);
			/* nothing changed since: an empty walk */
			kv_walk(w, 0, &m);
			assert_int_equal(m.puts + m.dels, 0);
			free(meta);
			free(snap);
			(*cuts)++;
		}
		if (i < n)
			apply_op(w, &ops[i], i);
	}
	assert_int_equal(ls_window_query(w, INT64_MIN, INT64_MAX, x_emit, log),
	    0);
	ls_window_get_stats(w, st);
	(void)ls_window_flush(w);
	/* the flush closes every window the model holds */
	kv_walk(w, 0, &m);
	assert_int_equal(m.n, 0);
	ls_window_free(w);
	kv_fini(&m);
}

static void
test_parts_model(void **state)
{
	(void)state;
	static op ops[SCRIPT_N];
	static const size_t steps[] = { 1, 7, 61, 500 };

	for (int manual = 0; manual <= 1; manual++) {
		for (int upd = 0; upd <= 1; upd++) {
			ls_window_spec spec;
			xlog a = { 0 };
			ls_window_stats sa;
			size_t cuts, partial;
			assert_int_equal(ls_window_spec_init(&spec, 1000, 300,
			                     sc_keys, 2, sc_aggs, 7, upd, NULL,
			                     0),
			    0);
			gen_script(ops, SCRIPT_N, 21 + (uint64_t)manual,
			    manual);
			run_script(ops, SCRIPT_N, &spec, 0, 0, &a, &sa, &cuts);
			for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]);
			     s++) {
				xlog b = { 0 };
				ls_window_stats sb;
				run_parts(ops, SCRIPT_N, &spec, steps[s], &b,
				    &sb, &cuts, &partial);
				assert_true(cuts >= 2);
				/* some cuts wrote only part of the windows */
				/* (over 61 events or more, every open window is
				 * touched) */
				if (steps[s] < 10)
					assert_true(partial > 0);
				assert_stats_equal(&sa, &sb);
				assert_int_equal(a.n, b.n);
				for (size_t i = 0; i < a.n; i++)
					assert_xent_equal(&a.e[i], &b.e[i], i);
				xlog_fini(&b);
			}
			xlog_fini(&a);
		}
	}
}

/* Three open windows with two groups each, the watermark far behind. */
static ls_window *
three_windows(const ls_window_spec *spec, xlog *log)
{
	ls_window *w = NULL;
	evb b;
	assert_int_equal(ls_window_new(&w, spec, 60000, 0, x_emit, x_late,
	                     log),
	    0);
	for (int i = 0; i < 6; i++) {
		mk(&b, (int64_t)(i / 2) * 1000 * MS + 5 * MS,
		    i % 2 ? "api" : "db", LS_LEVEL_INFO, "1.5", "10");
		b.ev.ingest_ns = 1;
		assert_int_equal(ls_window_add(w, &b.ev), 0);
	}
	return w;
}

static void
test_parts_changed_only(void **state)
{
	(void)state;
	ls_window_spec spec;
	xlog log = { 0 };
	kv m = { .n = 0 };
	evb b;

	assert_int_equal(ls_window_spec_init(&spec, 1000, 0, sc_keys, 2,
	                     sc_aggs, 7, 0, NULL, 0),
	    0);
	ls_window *w = three_windows(&spec, &log);
	kv_walk(w, 0, &m);
	assert_int_equal(m.puts, 3);
	kv_walk(w, 0, &m);
	assert_int_equal(m.puts, 0);

	/* events into the middle window: one part */
	for (int i = 0; i < 3; i++) {
		mk(&b, 1000 * MS + 7 * MS, "auth", LS_LEVEL_INFO, "2", NULL);
		b.ev.ingest_ns = 2;
		assert_int_equal(ls_window_add(w, &b.ev), 0);
	}
	uint8_t *old = malloc(m.e[1].len);
	size_t i1;
	for (i1 = 0; m.e[i1].start != 1000 * MS; i1++)
		;
	memcpy(old, m.e[i1].v, m.e[i1].len);
	size_t oldlen = m.e[i1].len;
	kv_walk(w, 0, &m);
	assert_int_equal(m.puts, 1);
	assert_int_equal(m.n, 3);
	assert_true(m.e[i1].len > oldlen); /* a group more */
	free(old);

	/* all = 1: every open window */
	kv_walk(w, 1, &m);
	assert_int_equal(m.puts, 3);

	/* a failing fn keeps the marks: the same windows next time */
	mk(&b, 5 * MS, "api", LS_LEVEL_INFO, "2", NULL);
	b.ev.ingest_ns = 3;
	assert_int_equal(ls_window_add(w, &b.ev), 0);
	mk(&b, 2005 * MS, "api", LS_LEVEL_INFO, "2", NULL);
	b.ev.ingest_ns = 3;
	assert_int_equal(ls_window_add(w, &b.ev), 0);
	m.puts = m.dels = 0;
	m.calls = 0;
	m.fail_at = 1;
	assert_int_equal(ls_window_save_changed(w, 0, kv_apply, &m), LS_EIO);
	assert_int_equal(m.puts, 1);
	kv_walk(w, 0, &m);
	assert_int_equal(m.puts, 2);

	/* closes are reported once, in start order, with no part */
	assert_int_equal(ls_window_advance(w, 1500 * MS), 1);
	kv_walk(w, 0, &m);
	assert_int_equal(m.puts, 0);
	assert_int_equal(m.dels, 1);
	assert_int_equal(m.n, 2);
	kv_walk(w, 0, &m);
	assert_int_equal(m.dels, 0);

	/* a window never handed out closes silently; a pooled window does
	 * not carry its flags into the next one */
	mk(&b, 9005 * MS, "api", LS_LEVEL_INFO, "2", NULL);
	b.ev.ingest_ns = 4;
	assert_int_equal(ls_window_add(w, &b.ev), 0);
	assert_int_equal(ls_window_flush(w), 3);
	kv_walk(w, 0, &m);
	assert_int_equal(m.puts, 0);
	assert_int_equal(m.dels, 2);
	assert_int_equal(m.n, 0);
	mk(&b, 20005 * MS, "api", LS_LEVEL_INFO, "2", NULL);
	b.ev.ingest_ns = 5;
	assert_int_equal(ls_window_add(w, &b.ev), 0);
	assert_int_equal(ls_window_flush(w), 1);
	kv_walk(w, 0, &m);
	assert_int_equal(m.puts + m.dels, 0);

	ls_window_free(w);
	kv_fini(&m);
	xlog_fini(&log);
}

/* Every bad part is refused with its code and leaves the target as it
 * was; restored windows report their close. */
static void
test_parts_refused(void **state)
{
	(void)state;
	ls_window_spec spec, other;
	xlog log = { 0 };
	kv m = { .n = 0 };
	uint8_t *meta, *t0, *b2, *ometa;
	size_t mlen, t0len, l2, omlen;

	assert_int_equal(ls_window_spec_init(&spec, 1000, 0, sc_keys, 2,
	                     sc_aggs, 7, 0, NULL, 0),
	    0);
	assert_int_equal(ls_window_spec_init(&other, 2000, 0, sc_keys, 2,
	                     sc_aggs, 7, 0, NULL, 0),
	    0);
	ls_window *w = three_windows(&spec, &log);
	kv_walk(w, 0, &m);
	assert_int_equal(ls_window_save_meta(w, &meta, &mlen), 0);
	ls_window *t = sc_new(&spec, &log);
	evb b;
	mk(&b, 77000 * MS, "x", LS_LEVEL_INFO, NULL, NULL);
	b.ev.ingest_ns = 1;
	assert_int_equal(ls_window_add(t, &b.ev), 0);
	assert_int_equal(ls_window_save(t, &t0, &t0len), 0);
#define UNCHANGED()                                                     \
	do {                                                            \
		assert_int_equal(ls_window_save(t, &b2, &l2), 0);       \
		assert_int_equal(l2, t0len);                            \
		assert_memory_equal(b2, t0, t0len);                     \
		free(b2);                                               \
	} while (0)

	/* truncated and flipped meta */
	for (size_t cut = 0; cut < mlen; cut++) {
		assert_int_equal(kv_load(t, &m, meta, cut), LS_ECORRUPT);
		UNCHANGED();
	}
	for (size_t i = 0; i < mlen; i++) {
		meta[i] ^= 0x10;
		assert_int_equal(kv_load(t, &m, meta, mlen), LS_ECORRUPT);
		meta[i] ^= 0x10;
	}
	UNCHANGED();
	/* truncated and flipped window parts */
	kv_ent *e = &m.e[1];
	size_t full = e->len;
	for (size_t cut = 0; cut < full; cut++) {
		e->len = cut;
		assert_int_equal(kv_load(t, &m, meta, mlen), LS_ECORRUPT);
	}
	e->len = full;
	for (size_t i = 0; i < full; i++) {
		e->v[i] ^= 0x01;
		assert_int_equal(kv_load(t, &m, meta, mlen), LS_ECORRUPT);
		e->v[i] ^= 0x01;
	}
	UNCHANGED();
	/* a duplicate start */
	{
		const uint8_t *parts[4] = { m.e[0].v, m.e[1].v, m.e[2].v,
			m.e[1].v };
		size_t lens[4] = { m.e[0].len, m.e[1].len, m.e[2].len,
			m.e[1].len };
		assert_int_equal(ls_window_load_parts(t, meta, mlen, parts,
		                     lens, 4),
		    LS_ECORRUPT);
		UNCHANGED();
	}
	/* a full snapshot is not a meta part, a part not a snapshot */
	assert_int_equal(kv_load(t, &m, t0, t0len), LS_ECORRUPT);
	assert_int_equal(ls_window_load(t, m.e[0].v, m.e[0].len), LS_ECORRUPT);
	UNCHANGED();
	/* another version (resealed), another spec */
	{
		uint8_t *v = malloc(mlen);
		memcpy(v, meta, mlen);
		v[4] = 2;
		uint64_t h = ls_hash64(v, mlen - 8,
		    UINT64_C(0x6c7377736e617031));
		for (int i = 0; i < 8; i++)
			v[mlen - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
		assert_int_equal(kv_load(t, &m, v, mlen), LS_ENOTSUP);
		free(v);
	}
	ls_window *o = sc_new(&other, &log);
	assert_int_equal(ls_window_save_meta(o, &ometa, &omlen), 0);
	assert_int_equal(kv_load(t, &m, ometa, omlen), LS_EINVAL);
	UNCHANGED();
	/* counters that cannot hold these windows: meta of an older state */
	ls_window *young = sc_new(&spec, &log);
	uint8_t *ymeta;
	size_t ymlen;
	assert_int_equal(ls_window_save_meta(young, &ymeta, &ymlen), 0);
	assert_int_equal(kv_load(t, &m, ymeta, ymlen), LS_ECORRUPT);
	UNCHANGED();

	/* the good parts load, in any order; closes of restored windows are
	 * reported, and a fresh state is what ls_window_new makes */
	kv_ent tmp = m.e[0];
	m.e[0] = m.e[2];
	m.e[2] = tmp;
	assert_int_equal(kv_load(t, &m, meta, mlen), 0);
	uint8_t *ws;
	size_t wl;
	assert_int_equal(ls_window_save(w, &ws, &wl), 0);
	assert_saves_as(t, ws, wl);
	kv_walk(t, 0, &m);
	assert_int_equal(m.puts + m.dels, 0);
	assert_int_equal(ls_window_flush(t), 3);
	kv_walk(t, 0, &m);
	assert_int_equal(m.dels, 3);
	assert_int_equal(ls_window_load_parts(t, NULL, 0, NULL, NULL, 0), 0);
	uint8_t *f0;
	size_t f0len;
	assert_int_equal(ls_window_save(young, &f0, &f0len), 0);
	assert_saves_as(t, f0, f0len);
#undef UNCHANGED
	free(f0);
	free(ws);
	free(ymeta);
	free(ometa);
	free(meta);
	free(t0);
	ls_window_free(young);
	ls_window_free(o);
	ls_window_free(t);
	ls_window_free(w);
	kv_fini(&m);
	xlog_fini(&log);
}

/* Without a sanitizer, this executable's malloc family can be told to fail
 * from the Nth call on (tests/unit/alloc_fail.h). */
#include "../alloc_fail.h"

#if defined(LS_HAVE_MALLOC_HOOK)
static void
test_snapshot_out_of_memory(void **state)
{
	(void)state;
	xlog log = { 0 };
	ls_window_spec spec;
	static op ops[400];
	uint8_t *buf, *t0, *b2;
	size_t len, t0len, l2;
	int loaded = 0;
	long n;

	{
		/* under valgrind its allocator replaces the hook: moot */
		void *(*volatile alloc)(size_t) = malloc;
		void *probe;
		fail_after = 0;
		probe = alloc(1);
		fail_after = -1;
		if (probe != NULL) {
			free(probe);
			skip();
		}
	}
	assert_int_equal(ls_window_spec_init(&spec, 1000, 300, sc_keys, 2,
	                     sc_aggs, 7, 0, NULL, 0),
	    0);
	gen_script(ops, 400, 5, 0);
	/* a long watermark delay keeps several windows open */
	ls_window *src = NULL;
	assert_int_equal(ls_window_new(&src, &spec, 5000, 0, x_emit, x_late,
	                     &log),
	    0);
	for (size_t i = 0; i < 400; i++)
		if (ops[i].kind == OP_ADD)
			apply_op(src, &ops[i], i);
	ls_window *t = sc_new(&spec, &log);
	apply_op(t, &ops[0], 0);
	ls_window_stats st;
	ls_window_get_stats(src, &st);
	assert_true(st.open_windows >= 2);
	assert_true(st.keys > 20);

	/* save allocates once: the second allocation may fail */
	fail_after = 0;
	assert_int_equal(ls_window_save(src, &buf, &len), LS_ENOMEM);
	assert_null(buf);
	fail_after = 1;
	assert_int_equal(ls_window_save(src, &buf, &len), 0);
	fail_after = -1;
	assert_int_equal(ls_window_save(t, &t0, &t0len), 0);

	for (n = 0; n < 10000 && !loaded; n++) {
		long before = live;
		fail_after = n;
		int rc = ls_window_load(t, buf, len);
		fail_after = -1;
		if (rc == 0) {
			loaded = 1;
			break;
		}
		assert_int_equal(rc, LS_ENOMEM);
		assert_int_equal(live, before);
		assert_int_equal(ls_window_save(t, &b2, &l2), 0);
		assert_int_equal(l2, t0len);
		assert_memory_equal(b2, t0, t0len);
		free(b2);
	}
	assert_true(loaded);
	assert_true((uint64_t)n > 2 * st.open_windows); /* per window */
	assert_saves_as(t, buf, len);
	free(buf);
	free(t0);
	ls_window_free(src);
	ls_window_free(t);
	xlog_fini(&log);
}
#else
static void
test_snapshot_out_of_memory(void **state)
{
	(void)state;
	skip(); /* the sanitizer owns malloc */
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_parse),
		cmocka_unit_test(test_bruteforce),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_grace_and_late),
		cmocka_unit_test(test_on_update),
		cmocka_unit_test(test_manual_watermark),
		cmocka_unit_test(test_count_field),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_emission_order),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_some),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_loghub_apache),
		cmocka_unit_test(test_snapshot_resume),
		cmocka_unit_test(test_snapshot_loghub),
		cmocka_unit_test(test_snapshot_spec_mismatch),
		cmocka_unit_test(test_snapshot_corrupt),
		cmocka_unit_test(test_snapshot_structure),
		cmocka_unit_test(test_snapshot_empty),
		cmocka_unit_test(test_snapshot_out_of_memory),
		cmocka_unit_test(test_parts_model),
		cmocka_unit_test(test_parts_changed_only),
		cmocka_unit_test(test_parts_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
