/*
 * session_bench.c -- what an open session costs: bytes in memory and in
 * the state store, events per second, and the checkpoint that follows a
 * change to a few sessions.
 *
 * N keys (user-0000000 ...; 200,000, times LS_BENCH_SCALE) each get one open
 * session of 4 events: 2 distinct paths, messages of generator length (~60
 * bytes), 2 counters -- the shape of examples/sessions.yaml.  Figures:
 *
 *   - events/s into ls_session_add (one core, the stage's hot path);
 *   - memory per open session: the state's own count of what it holds
 *     (capacities included) and the growth of the process RSS (malloc's
 *     overhead included);
 *   - state per open session: the bytes of its part as stored (key 9
 *     bytes + value), from a full sync into a RocksDB state handle;
 *   - an incremental checkpoint after events touched 1 % of the sessions:
 *     the keys and bytes it writes, next to the full state.
 *
 * Sanity checks: N sessions open, every event counted, a full sync writes
 * N + 1 keys, the incremental one 1 % of them + 1, and a state loaded back
 * from the store holds N sessions again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ftw.h>

#include "actors/session.h"
#include "bench/bench.h"
#include "runtime/err.h"
#include "runtime/store.h"

#define MS INT64_C(1000000)
#define EVENTS_PER 4

static const char *const msgs[4] = {
	"request completed method=GET path=/search/facets status=200",
	"order 816618 created for user user-007936 total=220.22",
	"slow request GET /api/v2/cart/5788/items took 224.8ms",
	"payment 506052 authorized amount=157.20 currency=USD",
};
static const char *const paths[2] = { "/search/facets", "/api/v2/cart" };

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t emitted;

static void
on_emit(void *arg, const ls_session_result *r)
{
	(void)arg;
	(void)r;
	emitted++;
}

static void
on_late(void *arg, const ls_event *ev, int64_t wm)
{
	(void)arg;
	(void)ev;
	(void)wm;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

typedef struct counted {
	ls_state *st;
	uint64_t keys, bytes;
} counted;

static int
count_part(void *arg, int is_meta, uint64_t id, const uint8_t *part,
    size_t len)
{
	counted *c = arg;
	(void)id;
	c->keys++;
	c->bytes += (is_meta ? 1 : 9) + len;
	if (c->st == NULL)
		return 0;
	if (is_meta)
		return ls_state_put(c->st, "m", 1, part, len);
	uint8_t k[9] = { 'S' };
	for (int i = 0; i < 8; i++)
		k[1 + i] = (uint8_t)(id >> (56 - 8 * i));
	return ls_state_put(c->st, k, sizeof(k), part, len);
}

static void
add_event(ls_session *s, uint64_t key, int j, int64_t t)
{
	char user[32];
	ls_event ev;
	snprintf(user, sizeof(user), "user-%07llu", (unsigned long long)key);
	ls_event_clear(&ev);
	ev.time_ns = t;
	ev.ingest_ns = t;
	ev.level = (uint8_t)(j == 3 ? LS_LEVEL_ERROR : LS_LEVEL_INFO);
	ev.service = ls_str_c("api");
	ev.message = ls_str_c(msgs[j % 4]);
	ls_event_add_attr(&ev, ls_str_c("user"), ls_str_c(user));
	ls_event_add_attr(&ev, ls_str_c("path"), ls_str_c(paths[j % 2]));
	if (ls_session_add(s, &ev) != 0)
		exit(ls_bench_fail("session", "add failed"));
}

int
main(void)
{
	uint64_t n = ls_bench_scaled(200000, 1000);
	const char *keys[] = { "user" };
	const char *counters[] = { "errors: level>=error",
		"checkouts: path~/checkout" };
	ls_session_spec spec;
	ls_session *s;
	char err[256];

	if (ls_session_spec_init(&spec, 30000, 600000, 5000, keys, 1, "path",
	        counters, 2, err, sizeof(err)) != 0 ||
	    ls_session_new(&s, &spec, 1000, 5000, on_emit, on_late, NULL) != 0)
		return ls_bench_fail("session", "cannot create: %s", err);
	ls_session_set_manual_watermark(s, 1);

	int64_t base = INT64_C(1709251200000) * MS;
	int64_t rss0 = ls_bench_proc_bytes("VmRSS");
	double t0 = now_s();
	for (int j = 0; j < EVENTS_PER; j++)
		for (uint64_t k = 0; k < n; k++)
			add_event(s, k, j, base + j * 1000 * MS + (int64_t)k);
	double dt = now_s() - t0;
	int64_t rss1 = ls_bench_proc_bytes("VmRSS");
	ls_session_stats st;
	ls_session_get_stats(s, &st);
	if (st.open != n || st.events != n * EVENTS_PER || emitted != 0)
		return ls_bench_fail("session", "%llu open, %llu events",
		    (unsigned long long)st.open, (unsigned long long)st.events);
	double rates[1] = { (double)(n * EVENTS_PER) / dt };
	ls_bench_print_rate("session add", rates, 1, "events/s");
	ls_bench_print("session memory", "%.0f bytes per open session "
	                                 "(state's count), %.0f of RSS "
	                                 "(%llu sessions)",
	    (double)st.mem_bytes / (double)n,
	    rss1 > 0 && rss0 > 0 ? (double)(rss1 - rss0) / (double)n : -1.0,
	    (unsigned long long)n);

	/* the state in RocksDB */
	char dir[64];
	ls_store *store;
	ls_store_opts o = { 0 };
	snprintf(dir, sizeof(dir), "/tmp/ls-session-bench-XXXXXX");
	if (mkdtemp(dir) == NULL ||
	    ls_store_open(dir, &o, &store, err, sizeof(err)) != 0)
		return ls_bench_fail("session", "cannot open a store");
	ls_state *hs;
	if (ls_state_open(store, "bench/session/0", &hs) != 0)
		return ls_bench_fail("session", "cannot open the state");
	counted full = { hs, 0, 0 };
	t0 = now_s();
	if (ls_session_save_changed(s, 1, count_part, &full) != 0 ||
	    ls_state_commit(hs) != 0)
		return ls_bench_fail("session", "full sync failed");
	double full_s = now_s() - t0;
	if (full.keys != n + 1)
		return ls_bench_fail("session", "full sync wrote %llu keys",
		    (unsigned long long)full.keys);
	ls_bench_print("session state", "%.0f bytes per open session as "
	                                "stored (key + part), full sync "
	                                "%.0f ms",
	    (double)(full.bytes - 1 - 96) / (double)n, full_s * 1000);

	/* one more event for 1 % of the keys, then an incremental sync */
	uint64_t touched = n / 100;
	for (uint64_t k = 0; k < touched; k++)
		add_event(s, k * 100, 0, base + 5000 * MS + (int64_t)k);
	counted inc = { hs, 0, 0 };
	t0 = now_s();
	if (ls_session_save_changed(s, 0, count_part, &inc) != 0 ||
	    ls_state_commit(hs) != 0)
		return ls_bench_fail("session", "incremental sync failed");
	double inc_s = now_s() - t0;
	if (inc.keys != touched + 1)
		return ls_bench_fail("session", "incremental sync wrote %llu "
		                                "keys",
		    (unsigned long long)inc.keys);
	ls_bench_print("session checkpoint", "1%% of sessions touched: %llu "
	                                     "keys, %llu bytes (%.2f%% of the "
	                                     "full state), %.1f ms",
	    (unsigned long long)inc.keys, (unsigned long long)inc.bytes,
	    100.0 * (double)inc.bytes / (double)full.bytes, inc_s * 1000);

	/* load back */
	ls_session *r;
	if (ls_session_new(&r, &spec, 1000, 5000, on_emit, on_late, NULL) != 0)
		return ls_bench_fail("session", "cannot create");
	t0 = now_s();
	if (ls_session_load(r, hs) != 0)
		return ls_bench_fail("session", "load failed");
	double load_s = now_s() - t0;
	ls_session_stats rs;
	ls_session_get_stats(r, &rs);
	if (rs.open != n || rs.events != st.events + touched)
		return ls_bench_fail("session", "loaded %llu sessions",
		    (unsigned long long)rs.open);
	ls_bench_print("session restore", "%.0f ms for %llu open sessions",
	    load_s * 1000, (unsigned long long)n);

	ls_session_free(r);
	ls_session_free(s);
	ls_state_close(hs);
	ls_store_close(store);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
