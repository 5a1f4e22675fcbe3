/*
 * session_test.c -- tests of the session state (actors/session.h) against
 * a brute-force sessionizer written here from the definition: all events of
 * a key sorted by time, split where two consecutive events are more than
 * gap apart or lie on both sides of a multiple of max_duration.  Random
 * streams with bounded disorder (within grace) give the same sessions,
 * merges included; so do the same streams cut by a checkpoint -- synced
 * into a RocksDB state handle (incremental) or saved as a blob -- and
 * restored into a new state that replays the rest, as a restarted
 * partition does.  Late events go to the late callback and change nothing;
 * gap and max_duration boundaries; counters' conditions; corrupt saved
 * state is refused without touching the target.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/session.h"
#include "runtime/err.h"
#include "runtime/store.h"

#define MS INT64_C(1000000)
#define NKEYS 6
#define NPATHS 12
#define NMSGS 6

/* ---- test events ---- */

typedef struct tev {
	int64_t t;  /* ns */
	int key;    /* 0 .. NKEYS-1 */
	int path;   /* -1: no path attribute */
	int msg;
	int level;  /* ls_level */
	int late;   /* injected too late: must be refused */
} tev;

static const char *const services[] = { "api", "web" };
static const char *const users[] = { "u1", "u2", "u3" };
static char long_msg[301]; /* cut to LS_SESSION_MSG_MAX bytes */
static const char *msgs[NMSGS] = { "alpha", "beta", "gamma x", "delta",
	"x epsilon", long_msg };
static char path_text[NPATHS][8];

static void
make_event(const tev *e, ls_event *ev)
{
	ls_event_clear(ev);
	ev->time_ns = e->t;
	ev->ingest_ns = e->t;
	ev->level = (uint8_t)e->level;
	ev->service = ls_str_c(services[e->key % 2]);
	ev->message = ls_str_c(msgs[e->msg]);
	ls_event_add_attr(ev, ls_str_c("user"), ls_str_c(users[e->key / 2]));
	if (e->path >= 0)
		ls_event_add_attr(ev, ls_str_c("path"),
		    ls_str_c(path_text[e->path]));
}

/* ---- one session, as either side computes it ---- */

typedef struct sres {
	int key;
	int64_t start, end;
	uint64_t events, distinct;
	int exact;
	char first[LS_SESSION_MSG_MAX + 1], last[LS_SESSION_MSG_MAX + 1];
	uint64_t ctr[4];
} sres;

typedef struct sink {
	sres *r;
	size_t n, cap;
	size_t nlate;
	const char *late_reason_seen;
} sink;

static int
key_index(ls_str svc, ls_str user)
{
	for (int k = 0; k < NKEYS; k++)
		if (ls_str_eq(svc, services[k % 2]) &&
		    ls_str_eq(user, users[k / 2]))
			return k;
	return -1;
}

static void
on_emit(void *arg, const ls_session_result *r)
{
	sink *k = arg;
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 64;
		k->r = realloc(k->r, k->cap * sizeof(*k->r));
		assert_non_null(k->r);
	}
	sres *d = &k->r[k->n++];
	memset(d, 0, sizeof(*d));
	assert_int_equal(r->nkeys, 2);
	d->key = key_index(r->keys[0], r->keys[1]);
	assert_true(d->key >= 0);
	d->start = r->start_ns;
	d->end = r->end_ns;
	d->events = r->events;
	d->distinct = r->distinct;
	d->exact = r->distinct_exact;
	assert_true(r->first_message.len < sizeof(d->first));
	memcpy(d->first, r->first_message.ptr, r->first_message.len);
	memcpy(d->last, r->last_message.ptr, r->last_message.len);
	assert_int_equal(r->ncounters, 4);
	for (int c = 0; c < 4; c++)
		d->ctr[c] = r->counter[c];
}

static void
on_late(void *arg, const ls_event *ev, int64_t wm)
{
	sink *k = arg;
	(void)ev;
	(void)wm;
	k->nlate++;
}

static int
sres_cmp(const void *pa, const void *pb)
{
	const sres *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key - b->key;
	return (a->start > b->start) - (a->start < b->start);
}

/* ---- the brute-force sessionizer ---- */

static int
tev_cmp(const void *pa, const void *pb)
{
	const tev *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key - b->key;
	if (a->t != b->t)
		return (a->t > b->t) - (a->t < b->t);
	return strcmp(msgs[a->msg], msgs[b->msg]);
}

static int64_t
bucket(int64_t t, int64_t max_ns)
{
	if (max_ns == 0)
		return 0;
	int64_t q = t / max_ns;
	return (t % max_ns != 0 && t < 0) ? q - 1 : q;
}

/* The four counters of every spec here: level>=error, path=/p1,
 * path!=/p2, message~x. */
static void
count_event(sres *s, const tev *e)
{
	s->ctr[0] += e->level >= LS_LEVEL_ERROR;
	s->ctr[1] += e->path == 1;
	s->ctr[2] += e->path != 2;
	s->ctr[3] += strchr(msgs[e->msg], 'x') != NULL;
}

static size_t
brute_force(const tev *in, size_t n, int64_t gap_ns, int64_t max_ns,
    sres **out)
{
	tev *e = malloc((n ? n : 1) * sizeof(*e));
	sres *r = calloc(n ? n : 1, sizeof(*r));
	size_t m = 0, nr = 0;
	assert_non_null(e);
	assert_non_null(r);
	for (size_t i = 0; i < n; i++)
		if (!in[i].late)
			e[m++] = in[i];
	qsort(e, m, sizeof(*e), tev_cmp);
	int seen[NPATHS];
	for (size_t i = 0; i < m; i++) {
		int fresh = i == 0 || e[i].key != e[i - 1].key ||
		    e[i].t - e[i - 1].t > gap_ns ||
		    bucket(e[i].t, max_ns) != bucket(e[i - 1].t, max_ns);
		if (fresh) {
			sres *s = &r[nr++];
			s->key = e[i].key;
			s->start = e[i].t;
			snprintf(s->first, sizeof(s->first), "%s", msgs[e[i].msg]);
			memset(seen, 0, sizeof(seen));
		}
		sres *s = &r[nr - 1];
		s->end = e[i].t;
		snprintf(s->last, sizeof(s->last), "%s", msgs[e[i].msg]);
		s->events++;
		if (e[i].path >= 0 && !seen[e[i].path]) {
			seen[e[i].path] = 1;
			s->distinct++;
		}
		count_event(s, &e[i]);
	}
	free(e);
	*out = r;
	return nr;
}

static size_t sketched; /* sessions whose distinct count was a sketch */

static void
compare(sink *k, const tev *ev, size_t n, int64_t gap_ns, int64_t max_ns)
{
	sres *want;
	size_t nw = brute_force(ev, n, gap_ns, max_ns, &want);
	qsort(k->r, k->n, sizeof(*k->r), sres_cmp);
	if (k->n != nw)
		fail_msg("%zu sessions, the brute force has %zu", k->n, nw);
	for (size_t i = 0; i < nw; i++) {
		const sres *g = &k->r[i], *w = &want[i];
		if (g->key != w->key || g->start != w->start || g->end != w->end ||
		    g->events != w->events)
			fail_msg("session %zu: key %d [%lld, %lld] %llu events, "
			         "want key %d [%lld, %lld] %llu events",
			    i, g->key, (long long)g->start, (long long)g->end,
			    (unsigned long long)g->events, w->key,
			    (long long)w->start, (long long)w->end,
			    (unsigned long long)w->events);
		assert_string_equal(g->first, w->first);
		assert_string_equal(g->last, w->last);
		for (int c = 0; c < 4; c++)
			assert_int_equal(g->ctr[c], w->ctr[c]);
		if (w->distinct <= LS_SESSION_EXACT_MAX) {
			assert_int_equal(g->exact, 1);
			assert_int_equal(g->distinct, w->distinct);
		} else {
			sketched++;
			assert_int_equal(g->exact, 0);
			uint64_t d = g->distinct > w->distinct
			    ? g->distinct - w->distinct
			    : w->distinct - g->distinct;
			assert_true(d <= 2);
		}
	}
	free(want);
}

/* ---- random streams ---- */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int64_t
rnd_in(int64_t lo, int64_t hi) /* [lo, hi] */
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

typedef struct params {
	int64_t gap_ms, max_ms, grace_ms;
	size_t n;
	int inject_late;
	int calm; /* short steps: long sessions, many distinct paths */
} params;

static int
arrival_cmp(const void *pa, const void *pb)
{
	const int64_t *a = pa, *b = pb; /* {arrival, index} pairs */
	if (a[0] != b[0])
		return (a[0] > b[0]) - (a[0] < b[0]);
	return (a[1] > b[1]) - (a[1] < b[1]);
}

/* Events with true times spread so that gaps of every size occur, in an
 * arrival order where each event is at most grace behind any event before
 * it (sorted by time + a delay in [0, grace]); with inject_late, some
 * events far behind are put in too (marked late). */
static tev *
make_stream(const params *p, size_t *nout)
{
	size_t n = p->n;
	tev *e = calloc(n, sizeof(*e));
	int64_t (*arr)[2] = calloc(n, sizeof(*arr));
	assert_non_null(e);
	assert_non_null(arr);
	int64_t t = INT64_C(1700000000000) * MS;
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd() % 100;
		if (p->calm && (r < 99 || rnd() % 2 == 0))
			r = 0;
		int64_t step = p->calm && r == 0 ? rnd_in(0, p->gap_ms / 16)
		    : r < 70 ? rnd_in(0, p->gap_ms / 4)
		    : r < 95          ? rnd_in(p->gap_ms / 2, p->gap_ms * 2)
		                      : rnd_in(p->gap_ms * 2, p->gap_ms * 12);
		t += step * MS;
		e[i].t = t + (rnd() % 3 == 0 ? 0 : rnd_in(0, MS - 1) / 1000 * 1000);
		e[i].key = (int)(rnd() % NKEYS);
		e[i].path = rnd() % 5 == 0 ? -1 : (int)(rnd() % NPATHS);
		e[i].msg = (int)(rnd() % NMSGS);
		e[i].level = (int)rnd_in(LS_LEVEL_INFO, LS_LEVEL_FATAL);
		arr[i][0] = e[i].t + rnd_in(0, p->grace_ms * MS);
		arr[i][1] = (int64_t)i;
	}
	qsort(arr, n, sizeof(*arr), arrival_cmp);
	size_t extra = p->inject_late ? n / 20 : 0;
	tev *o = calloc(n + extra, sizeof(*o));
	assert_non_null(o);
	size_t m = 0;
	int64_t max_seen = INT64_MIN;
	for (size_t i = 0; i < n; i++) {
		o[m] = e[arr[i][1]];
		if (o[m].t > max_seen)
			max_seen = o[m].t;
		m++;
		if (extra > 0 && rnd() % 20 == 0 && i > 10) {
			o[m] = e[arr[i][1]];
			o[m].t = max_seen - (p->grace_ms + 1) * MS -
			    rnd_in(0, p->gap_ms * 3) * MS;
			o[m].late = 1;
			m++;
			extra--;
		}
	}
	free(e);
	free(arr);
	*nout = m;
	return o;
}

static const char *const counters[] = { "errs: level>=error",
	"p1: path=/p1", "not_p2 : path != /p2", "xs: message~x" };
static const char *const keys[] = { "service", "user" };

static ls_session *
new_state(const params *p, sink *k)
{
	ls_session_spec spec;
	char err[128];
	ls_session *s;
	assert_int_equal(ls_session_spec_init(&spec, p->gap_ms, p->max_ms,
	                     p->grace_ms, keys, 2, "path", counters, 4, err,
	                     sizeof(err)),
	    0);
	assert_int_equal(ls_session_new(&s, &spec, 0, 0, on_emit, on_late, k),
	    0);
	return s;
}

static void
feed(ls_session *s, const tev *e, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		ls_event ev;
		make_event(&e[i], &ev);
		assert_int_equal(ls_session_add(s, &ev), 0);
	}
}

static size_t
count_late(const tev *e, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += e[i].late;
	return k;
}

static const params shapes[] = {
	{ 100, 0, 300, 600, 0, 0 },     /* no max_duration */
	{ 100, 700, 300, 600, 0, 0 },   /* cut at 700 ms boundaries */
	{ 50, 200, 500, 1500, 1, 0 },   /* much disorder, late events */
	{ 1000, 0, 0, 400, 0, 0 },      /* grace 0: in order per arrival */
	{ 20, 100, 60, 2000, 1, 0 },    /* many short sessions */
	{ 400, 20000, 300, 1500, 1, 1 }, /* long sessions */
};

static void
test_bruteforce(void **state)
{
	(void)state;
	uint64_t merges = 0;
	for (size_t sh = 0; sh < sizeof(shapes) / sizeof(*shapes); sh++)
		for (uint64_t seed = 1; seed <= 40; seed++) {
			const params *p = &shapes[sh];
			size_t n;
			rng_state = seed * 0x9e3779b97f4a7c15ull + sh;
			tev *e = make_stream(p, &n);
			sink k = { 0 };
			ls_session *s = new_state(p, &k);
			feed(s, e, 0, n);
			ls_session_flush(s);
			ls_session_stats st;
			ls_session_get_stats(s, &st);
			assert_int_equal(st.late, count_late(e, n));
			assert_int_equal(k.nlate, count_late(e, n));
			assert_int_equal(st.open, 0);
			assert_int_equal(st.emitted, k.n);
			merges += st.merged;
			compare(&k, e, n, p->gap_ms * MS, p->max_ms * MS);
			ls_session_free(s);
			free(k.r);
			free(e);
		}
	/* the streams do exercise bridging events and the sketch */
	assert_true(merges > 100);
	assert_true(sketched > 10);
}

/* ---- restore from a checkpoint mid-stream ---- */

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

typedef struct fixture {
	char dir[64];
	ls_store *store;
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ls_store_opts o = { .block_cache_bytes = 1 << 20,
		.write_buffer_bytes = 1 << 20 };
	char err[256];
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ls-session-XXXXXX");
	if (mkdtemp(f->dir) == NULL ||
	    ls_store_open(f->dir, &o, &f->store, err, sizeof(err)) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	ls_store_close(f->store);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Checkpoints at random points (incremental syncs into the state handle,
 * committed); the partition goes on past the last one, then "crashes": a
 * new state loads the handle and replays from that checkpoint.  Results
 * emitted up to the checkpoint plus those of the new state are the brute
 * force's. */
static void
test_restore_state(void **state)
{
	fixture *f = *state;
	int run = 0;
	for (size_t sh = 0; sh < sizeof(shapes) / sizeof(*shapes); sh++)
		for (uint64_t seed = 1; seed <= 8; seed++, run++) {
			const params *p = &shapes[sh];
			char name[32];
			size_t n;
			rng_state = seed * 0x2545f4914f6cdd1dull + sh;
			tev *e = make_stream(p, &n);
			snprintf(name, sizeof(name), "t/sess/%d", run);
			ls_state *st;
			assert_int_equal(ls_state_open(f->store, name, &st), 0);

			sink k = { 0 };
			ls_session *s = new_state(p, &k);
			size_t ckpt = 0, emitted_at_ckpt = 0;
			size_t nck = 1 + rnd() % 4;
			for (size_t c = 0; c < nck; c++) {
				size_t at = ckpt + rnd() % (n - ckpt);
				feed(s, e, ckpt, at);
				assert_int_equal(ls_session_sync(s, st, c == 0), 0);
				assert_int_equal(ls_state_commit(st), 0);
				ckpt = at;
				emitted_at_ckpt = k.n;
			}
			size_t crash = ckpt + rnd() % (n - ckpt + 1);
			feed(s, e, ckpt, crash); /* lost with the crash */
			ls_session_free(s);
			ls_state_close(st);
			k.n = emitted_at_ckpt;

			assert_int_equal(ls_state_open(f->store, name, &st), 0);
			s = new_state(p, &k);
			assert_int_equal(ls_session_load(s, st), 0);
			feed(s, e, ckpt, n);
			ls_session_flush(s);
			compare(&k, e, n, p->gap_ms * MS, p->max_ms * MS);
			ls_session_stats ss;
			ls_session_get_stats(s, &ss);
			assert_int_equal(ss.late, count_late(e, n));
			assert_int_equal(ss.events, n);
			ls_session_free(s);
			ls_state_close(st);
			free(k.r);
			free(e);
		}
}

/* The same with whole blobs (pipelines without a store), cut at every
 * tenth event of one stream; load then save gives back the same bytes. */
static void
test_restore_blob(void **state)
{
	(void)state;
	const params *p = &shapes[2];
	size_t n;
	rng_state = 77;
	tev *e = make_stream(p, &n);
	for (size_t cut = 0; cut <= n; cut += n / 10) {
		sink k = { 0 };
		ls_session *s = new_state(p, &k);
		feed(s, e, 0, cut);
		uint8_t *buf, *again;
		size_t len, alen;
		assert_int_equal(ls_session_save(s, &buf, &len), 0);
		ls_session_free(s);
		s = new_state(p, &k);
		assert_int_equal(ls_session_restore(s, buf, len), 0);
		assert_int_equal(ls_session_save(s, &again, &alen), 0);
		assert_int_equal(alen, len);
		free(again);
		free(buf);
		feed(s, e, cut, n);
		ls_session_flush(s);
		compare(&k, e, n, p->gap_ms * MS, p->max_ms * MS);
		ls_session_free(s);
		free(k.r);
	}
	free(e);
}

/* ---- boundaries and late events, by hand ---- */

static void
add_at(ls_session *s, int key, int64_t ms, int msg)
{
	tev t = { ms * MS, key, 0, msg, LS_LEVEL_INFO, 0 };
	ls_event ev;
	make_event(&t, &ev);
	assert_int_equal(ls_session_add(s, &ev), 0);
}

static void
test_boundaries(void **state)
{
	(void)state;
	params p = { 100, 1000, 0, 0, 0, 0 };
	sink k = { 0 };
	ls_session *s = new_state(&p, &k);
	add_at(s, 0, 0, 0);
	add_at(s, 0, 100, 1);  /* exactly gap later: the same session */
	add_at(s, 0, 201, 2);  /* gap + 1 ms: a new one */
	add_at(s, 0, 999, 3);  /* session [999, ...] */
	add_at(s, 0, 1000, 4); /* a multiple of max_duration: a new one */
	ls_session_flush(s);
	assert_int_equal(k.n, 4);
	qsort(k.r, k.n, sizeof(*k.r), sres_cmp);
	assert_int_equal(k.r[0].start, 0);
	assert_int_equal(k.r[0].end, 100 * MS);
	assert_int_equal(k.r[0].events, 2);
	assert_string_equal(k.r[0].first, "alpha");
	assert_string_equal(k.r[0].last, "beta");
	assert_int_equal(k.r[1].start, 201 * MS);
	assert_int_equal(k.r[2].start, 999 * MS);
	assert_int_equal(k.r[3].start, 1000 * MS);
	ls_session_free(s);
	free(k.r);
}

/* ls_session_query / _query_some: the open sessions, by start then key;
 * by key only that key's, found by its hash; nothing changes. */
static void
test_query(void **state)
{
	(void)state;
	params p = { 100, 0, 0, 0, 0, 0 };
	sink k = { 0 }, all = { 0 }, q = { 0 };
	ls_session *s = new_state(&p, &k);
	ls_session_set_manual_watermark(s, 1);
	for (int key = 0; key < NKEYS; key++)
		for (int n = 0; n < 3; n++) /* three sessions a key */
			for (int e = 0; e < 2; e++)
				add_at(s, key, n * 1000 + key * 10 + e * 50, e);
	assert_int_equal(ls_session_query(s, INT64_MIN, INT64_MAX, on_emit,
	                     &all),
	    0);
	assert_int_equal(all.n, NKEYS * 3);
	for (size_t i = 1; i < all.n; i++)
		assert_true(all.r[i - 1].start < all.r[i].start);
	for (int key = 0; key < NKEYS; key++) {
		ls_str v[2] = { ls_str_c(services[key % 2]),
			ls_str_c(users[key / 2]) };
		q.n = 0;
		/* [1000 ms, 2060 ms): sessions 1 and 2 of the first keys, 1
		 * only of the others (their session 2 starts later) */
		assert_int_equal(ls_session_query_some(s, 1000 * MS, 2030 * MS,
		                     v, 2, on_emit, &q),
		    0);
		assert_int_equal(q.n, key * 10 < 30 ? 2 : 1);
		for (size_t i = 0; i < q.n; i++) {
			assert_int_equal(q.r[i].key, key);
			assert_int_equal(q.r[i].events, 2);
			assert_int_equal(q.r[i].start,
			    ((int64_t)(i + 1) * 1000 + key * 10) * MS);
		}
	}
	ls_str none[2] = { ls_str_c("api"), ls_str_c("nobody") };
	q.n = 0;
	assert_int_equal(ls_session_query_some(s, INT64_MIN, INT64_MAX, none, 2,
	                     on_emit, &q),
	    0);
	assert_int_equal(q.n, 0);
	assert_int_equal(ls_session_query_some(s, INT64_MIN, INT64_MAX, none, 1,
	                     on_emit, &q),
	    LS_EINVAL);
	assert_int_equal(k.n, 0); /* nothing closed or emitted */
	assert_int_equal(ls_session_flush(s), NKEYS * 3);
	ls_session_free(s);
	free(k.r);
	free(all.r);
	free(q.r);
}

static void
test_merge_and_late(void **state)
{
	(void)state;
	params p = { 100, 0, 500, 0, 0, 0 };
	sink k = { 0 };
	ls_session *s = new_state(&p, &k);
	add_at(s, 0, 1000, 0);
	add_at(s, 0, 1150, 1); /* a second session */
	add_at(s, 1, 1400, 2);
	ls_session_stats st;
	ls_session_get_stats(s, &st);
	assert_int_equal(st.open, 3);
	add_at(s, 0, 1080, 3); /* bridges the two of key 0 */
	ls_session_get_stats(s, &st);
	assert_int_equal(st.open, 2);
	assert_int_equal(st.merged, 1);
	add_at(s, 1, 2000, 4); /* watermark 2000: late is < 1500 */
	add_at(s, 0, 1499, 5); /* late */
	assert_int_equal(k.nlate, 1);
	add_at(s, 0, 1500, 5); /* in grace: 1500 - 1150 > gap: its own */
	ls_session_flush(s);
	qsort(k.r, k.n, sizeof(*k.r), sres_cmp);
	assert_int_equal(k.n, 4);
	assert_int_equal(k.r[0].key, 0);
	assert_int_equal(k.r[0].start, 1000 * MS);
	assert_int_equal(k.r[0].end, 1150 * MS);
	assert_int_equal(k.r[0].events, 3);
	assert_int_equal(k.r[1].start, 1500 * MS);
	ls_session_get_stats(s, &st);
	assert_int_equal(st.late, 1);
	assert_int_equal(st.events, 7);
	/* after the flush everything older than its watermark is late */
	add_at(s, 0, 1600, 0);
	assert_int_equal(k.nlate, 2);
	ls_session_free(s);
	free(k.r);
}

/* Sessions close when the watermark passes last event + gap + grace, and
 * not before; the manual watermark is what the stage drives. */
static void
test_close_time(void **state)
{
	(void)state;
	params p = { 100, 0, 50, 0, 0, 0 };
	sink k = { 0 };
	ls_session *s = new_state(&p, &k);
	ls_session_set_manual_watermark(s, 1);
	/* a fresh start from an empty state keeps the manual watermark */
	assert_int_equal(ls_session_load_parts(s, NULL, 0, NULL, NULL, 0), 0);
	add_at(s, 0, 1000, 0);
	add_at(s, 0, 1090, 1);
	add_at(s, 1, 900000, 1); /* far ahead: closes nothing by itself */
	assert_int_equal(k.n, 0);
	assert_int_equal(ls_session_advance(s, (1090 + 150) * MS), 0);
	assert_int_equal(ls_session_advance(s, (1090 + 150) * MS + 1), 1);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.r[0].events, 2);
	ls_session_flush(s);
	assert_int_equal(k.n, 2);
	ls_session_free(s);
	free(k.r);
}

static void
test_counter_parse(void **state)
{
	(void)state;
	ls_session_counter c;
	char err[128];
	assert_int_equal(ls_session_counter_parse("e: level>=warn", &c, err,
	                     sizeof(err)),
	    0);
	assert_int_equal(c.op, LS_SESSION_OP_LEVEL_GE);
	assert_int_equal(c.level, LS_LEVEL_WARN);
	assert_int_equal(ls_session_counter_parse("  x_1 :status = 500 ", &c,
	                     err, sizeof(err)),
	    0);
	assert_string_equal(c.name, "x_1");
	assert_string_equal(c.field, "status");
	assert_string_equal(c.value, "500");
	const char *bad[] = { "nocolon", ": level=info", "a: =3", "a: x>=3",
		"a: level=loud", "a: f", "1a: f=1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(ls_session_counter_parse(bad[i], &c, err,
		                     sizeof(err)),
		    LS_EINVAL);
	ls_session_spec spec;
	const char *dup[] = { "a: f=1", "a: f=2" };
	assert_int_equal(ls_session_spec_init(&spec, 10, 0, 0, NULL, 0, NULL,
	                     dup, 2, err, sizeof(err)),
	    LS_EINVAL);
	const char *clash[] = { "events: f=1" };
	assert_int_equal(ls_session_spec_init(&spec, 10, 0, 0, NULL, 0, NULL,
	                     clash, 1, err, sizeof(err)),
	    LS_EINVAL);
	assert_int_equal(ls_session_spec_init(&spec, 0, 0, 0, NULL, 0, NULL,
	                     NULL, 0, err, sizeof(err)),
	    LS_EINVAL);
}

/* Every truncation and a sample of bit flips of a saved blob are refused,
 * and the target keeps its state; another spec is refused too. */
static void
test_corrupt(void **state)
{
	(void)state;
	const params *p = &shapes[0];
	size_t n;
	rng_state = 5;
	tev *e = make_stream(p, &n);
	sink k = { 0 };
	ls_session *s = new_state(p, &k);
	feed(s, e, 0, n / 2);
	uint8_t *buf;
	size_t len;
	assert_int_equal(ls_session_save(s, &buf, &len), 0);
	ls_session_stats before, after;
	ls_session_get_stats(s, &before);
	for (size_t cut = 0; cut < len; cut += 1 + cut / 16)
		assert_int_not_equal(ls_session_restore(s, buf, cut), 0);
	for (size_t i = 0; i < len; i += 1 + i / 64) {
		buf[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(ls_session_restore(s, buf, len), 0);
		buf[i] ^= (uint8_t)(1u << (i % 8));
	}
	ls_session_get_stats(s, &after);
	assert_int_equal(after.open, before.open);
	assert_int_equal(after.events, before.events);

	params q = *p;
	q.gap_ms++;
	sink k2 = { 0 };
	ls_session *o = new_state(&q, &k2);
	assert_int_equal(ls_session_restore(o, buf, len), LS_EINVAL);
	ls_session_free(o);
	free(buf);
	ls_session_free(s);
	free(k.r);
	free(e);
}

int
main(void)
{
	for (int i = 0; i < NPATHS; i++)
		snprintf(path_text[i], sizeof(path_text[i]), "/p%d", i);
	for (int i = 0; i < 300; i++)
		long_msg[i] = (char)('a' + i % 26);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bruteforce),
		cmocka_unit_test_setup_teardown(test_restore_state, setup,
		    teardown),
		cmocka_unit_test(test_restore_blob),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_merge_and_late),
		cmocka_unit_test(test_close_time),
		cmocka_unit_test(test_counter_parse),
		cmocka_unit_test(test_corrupt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
