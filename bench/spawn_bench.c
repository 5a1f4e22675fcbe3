/*
 * spawn_bench.c -- actor creation and teardown, and memory per idle actor.
 *
 * 1. Memory: on a fresh runtime the main thread spawns 1 M idle actors (a
 *    behaviour with an 8-byte state); the growth of the process RSS
 *    divided by the count is the memory one idle actor costs (registry
 *    slot, two mailbox queues, state).  ls_runtime_destroy then stops them
 *    all; every stop callback must run.
 * 2. Spawn + exit: a spawner actor creates children (ls_ctx_spawn) and
 *    asks each to stop right away (ls_stop), in bursts of 1,000 per
 *    activation; each child's stop callback counts.  The run ends when no
 *    actor is left (ls_runtime_wait_idle); every child must have stopped.
 *    This is what Erlang's spawn(fun() -> ok end) loop measures: create a
 *    process, let it run once and exit.
 *
 * Figures: spawn+exit per second (median of LS_BENCH_RUNS runs, default 5,
 * of 1 M actors) and bytes per idle actor.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "runtime/actor.h"

#define BURST 1000

enum { MSG_GO = LS_MSG_USER, MSG_CONTINUE };

typedef struct shared {
	_Atomic uint64_t stopped; /* children whose stop callback ran */
	_Atomic uint64_t errors;
	uint64_t target;
} shared;

typedef struct child {
	shared *sh;
} child;

static int
child_init(ls_ctx *ctx, void *state, const void *arg)
{
	child *c = state;
	(void)ctx;
	c->sh = (shared *)(uintptr_t)arg;
	return 0;
}

static int
child_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	(void)ctx;
	(void)state;
	(void)m;
	return 0;
}

static void
child_stop(ls_ctx *ctx, void *state)
{
	child *c = state;
	(void)ctx;
	atomic_fetch_add_explicit(&c->sh->stopped, 1, memory_order_relaxed);
}

static const ls_behaviour child_beh = {
    .name = "bench.spawn.child",
    .state_size = sizeof(child),
    .init = child_init,
    .receive = child_receive,
    .stop = child_stop,
};

typedef struct spawner {
	shared *sh;
	uint64_t spawned;
} spawner;

static int
spawner_init(ls_ctx *ctx, void *state, const void *arg)
{
	spawner *s = state;
	(void)ctx;
	s->sh = (shared *)(uintptr_t)arg;
	return 0;
}

static int
spawner_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	spawner *s = state;
	shared *sh = s->sh;
	ls_runtime *rt = ls_ctx_runtime(ctx);
	ls_spawn_opts o = {.arg = sh};

	if (m->type != MSG_GO && m->type != MSG_CONTINUE)
		return 0;
	for (int i = 0; i < BURST && s->spawned < sh->target; i++) {
		ls_ref c;
		int rv = ls_ctx_spawn(ctx, &child_beh, &o, &c);
		if (rv == 0)
			rv = ls_stop(rt, c);
		if (rv != 0) {
			atomic_fetch_add(&sh->errors, 1);
			ls_ctx_stop(ctx);
			return 0;
		}
		s->spawned++;
	}
	if (s->spawned == sh->target ||
	    ls_ctx_tell(ctx, ls_self(ctx), MSG_CONTINUE, NULL, 0) != 0) {
		if (s->spawned != sh->target)
			atomic_fetch_add(&sh->errors, 1);
		ls_ctx_stop(ctx);
	}
	return 0;
}

static const ls_behaviour spawner_beh = {
    .name = "bench.spawn.spawner",
    .state_size = sizeof(spawner),
    .init = spawner_init,
    .receive = spawner_receive,
};

static int
spawn_exit_once(uint64_t n, double *rate)
{
	shared sh;
	ls_runtime *rt;
	ls_ref sp;
	int rv;

	memset(&sh, 0, sizeof(sh));
	sh.target = n;
	ls_runtime_opts ro = ls_bench_runtime_opts();
	if ((rv = ls_runtime_create(&ro, &rt)) != 0)
		return ls_bench_fail("spawn+exit", "runtime: %s",
		                     ls_strerror(rv));
	ls_spawn_opts o = {.arg = &sh};
	if ((rv = ls_spawn(rt, &spawner_beh, &o, &sp)) != 0) {
		ls_runtime_destroy(rt);
		return ls_bench_fail("spawn+exit", "spawn: %s",
		                     ls_strerror(rv));
	}
	int64_t t0 = ls_clock_ns();
	rv = ls_tell(rt, sp, MSG_GO, NULL, 0);
	if (rv == 0)
		rv = ls_runtime_wait_idle(rt, 60000);
	int64_t t1 = ls_clock_ns();
	if (rv == LS_ETIMEDOUT)
		ls_bench_abandon("spawn+exit",
		                 "%llu of %llu children stopped after 60 s",
		                 (unsigned long long)atomic_load(&sh.stopped),
		                 (unsigned long long)n);
	ls_runtime_stats st;
	ls_runtime_stats_get(rt, &st);
	ls_runtime_destroy(rt);

	uint64_t stopped = atomic_load(&sh.stopped);
	uint64_t errors = atomic_load(&sh.errors);
	if (rv != 0 || stopped != n || errors != 0 || st.spawned != n + 1)
		return ls_bench_fail(
		    "spawn+exit",
		    "%s: %llu spawned, %llu of %llu stopped, %llu errors",
		    rv != 0 ? ls_strerror(rv) : "finished",
		    (unsigned long long)st.spawned, (unsigned long long)stopped,
		    (unsigned long long)n, (unsigned long long)errors);
	*rate = (double)n * 1e9 / (double)(t1 - t0);
	return 0;
}

static int
idle_memory(uint64_t n)
{
	shared sh;
	ls_runtime *rt;
	int rv;

	memset(&sh, 0, sizeof(sh));
	ls_runtime_opts ro = ls_bench_runtime_opts();
	if ((rv = ls_runtime_create(&ro, &rt)) != 0)
		return ls_bench_fail("idle actor memory", "runtime: %s",
		                     ls_strerror(rv));
	ls_spawn_opts o = {.arg = &sh};
	int64_t rss0 = ls_bench_proc_bytes("VmRSS");
	int64_t t0 = ls_clock_ns();
	uint64_t i;
	for (i = 0; i < n; i++)
		if ((rv = ls_spawn(rt, &child_beh, &o, NULL)) != 0)
			break;
	int64_t t1 = ls_clock_ns();
	int64_t rss1 = ls_bench_proc_bytes("VmRSS");
	ls_runtime_stats st;
	ls_runtime_stats_get(rt, &st);
	ls_runtime_destroy(rt);
	uint64_t stopped = atomic_load(&sh.stopped);
	if (rv != 0 || st.actors != (int64_t)n || stopped != n)
		return ls_bench_fail(
		    "idle actor memory",
		    "%s: %llu of %llu spawned, %lld alive, %llu stopped",
		    rv != 0 ? ls_strerror(rv) : "finished",
		    (unsigned long long)i, (unsigned long long)n,
		    (long long)st.actors, (unsigned long long)stopped);
	if (rss0 < 0 || rss1 < 0)
		return ls_bench_fail("idle actor memory",
		                     "cannot read /proc/self/status");
	ls_bench_print("idle actor memory",
	               "%8.0f B/actor        (%llu idle actors: RSS +%.1f MB; "
	               "spawned from one thread at %.2f M/s)",
	               (double)(rss1 - rss0) / (double)n, (unsigned long long)n,
	               (double)(rss1 - rss0) / 1048576.0,
	               (double)n * 1e3 / (double)(t1 - t0));
	return 0;
}

int
main(void)
{
	uint64_t n = ls_bench_scaled(1000000, 1000);
	int runs = ls_bench_runs(5);
	double rates[99] = {0};

	/* First, while the heap is fresh: freed memory of earlier runs would
	 * hide part of the growth. */
	if (idle_memory(n) != 0)
		return 1;
	for (int r = 0; r < runs; r++)
		if (spawn_exit_once(n, &rates[r]) != 0)
			return 1;
	ls_bench_print_rate("spawn+exit", rates, runs, "actors/s");
	return 0;
}
