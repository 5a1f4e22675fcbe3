/*
 * pingpong_bench.c -- two actors bounce one message back and forth.
 *
 * The ball carries the number of hops still to go; each actor checks that
 * it sees the numbers it expects (every second one, counting down) and
 * counts what it received, so a lost, duplicated or reordered message
 * fails the run.  Figure: round trips (two hops) per second, the median of
 * LS_BENCH_RUNS runs (default 5) of 1 M round trips on a runtime with one
 * worker per core.
 */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "runtime/actor.h"

enum { MSG_BALL = LS_MSG_USER };

typedef struct shared {
	ls_bench_latch done;
	ls_ref refs[2];
	uint64_t hops[2]; /* written by actor i only, read after done */
	uint64_t bad[2];
} shared;

typedef struct player_arg {
	shared *sh;
	int idx;
} player_arg;

typedef struct player {
	shared *sh;
	int idx;
	int seen;
	uint64_t expect;
} player;

static int
player_init(ls_ctx *ctx, void *state, const void *arg)
{
	player *p = state;
	const player_arg *a = arg;
	(void)ctx;

	p->sh = a->sh;
	p->idx = a->idx;
	return 0;
}

static int
player_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	player *p = state;
	uint64_t left;

	if (m->type != MSG_BALL || m->size != sizeof(left)) {
		p->sh->bad[p->idx]++;
		return 0;
	}
	memcpy(&left, ls_msg_data(m), sizeof(left));
	p->sh->hops[p->idx]++;
	if (p->seen && left != p->expect)
		p->sh->bad[p->idx]++;
	p->seen = 1;
	p->expect = left - 2;
	if (left == 0) {
		ls_bench_latch_count_down(&p->sh->done);
		return 0;
	}
	left--;
	if (ls_ctx_tell(ctx, p->sh->refs[1 - p->idx], MSG_BALL, &left,
	                sizeof(left)) != 0) {
		/* The ball is gone: end the run so the loss is reported. */
		p->sh->bad[p->idx]++;
		ls_bench_latch_count_down(&p->sh->done);
	}
	return 0;
}

static const ls_behaviour player_beh = {
    .name = "bench.player",
    .state_size = sizeof(player),
    .init = player_init,
    .receive = player_receive,
};

/* One run of n round trips; returns 0 and the rate, or 1 after a FAIL. */
static int
run_once(uint64_t n, double *rate)
{
	ls_runtime *rt;
	shared sh;
	int rv;

	memset(&sh, 0, sizeof(sh));
	ls_bench_latch_init(&sh.done, 1);
	ls_runtime_opts ro = ls_bench_runtime_opts();
	if ((rv = ls_runtime_create(&ro, &rt)) != 0) {
		ls_bench_latch_destroy(&sh.done);
		return ls_bench_fail("ping-pong", "runtime: %s",
		                     ls_strerror(rv));
	}
	for (int i = 0; i < 2; i++) {
		player_arg a = {&sh, i};
		ls_spawn_opts o = {.arg = &a, .arg_size = sizeof(a)};
		if ((rv = ls_spawn(rt, &player_beh, &o, &sh.refs[i])) != 0) {
			ls_runtime_destroy(rt);
			ls_bench_latch_destroy(&sh.done);
			return ls_bench_fail("ping-pong", "spawn: %s",
			                     ls_strerror(rv));
		}
	}
	uint64_t first = 2 * n - 1;
	int64_t t0 = ls_clock_ns();
	rv = ls_tell(rt, sh.refs[0], MSG_BALL, &first, sizeof(first));
	if (rv == 0)
		rv = ls_bench_latch_wait(&sh.done, 60000);
	int64_t t1 = ls_clock_ns();
	if (rv == LS_ETIMEDOUT)
		ls_bench_abandon("ping-pong", "%llu of %llu hops after 60 s",
		                 (unsigned long long)(sh.hops[0] + sh.hops[1]),
		                 (unsigned long long)(2 * n));
	ls_runtime_destroy(rt);
	ls_bench_latch_destroy(&sh.done);

	uint64_t hops = sh.hops[0] + sh.hops[1];
	if (rv != 0 || hops != 2 * n || sh.bad[0] + sh.bad[1] != 0)
		return ls_bench_fail(
		    "ping-pong",
		    "%s: %llu of %llu hops arrived, %llu out of sequence",
		    rv != 0 ? ls_strerror(rv) : "finished",
		    (unsigned long long)hops, (unsigned long long)(2 * n),
		    (unsigned long long)(sh.bad[0] + sh.bad[1]));
	*rate = (double)n * 1e9 / (double)(t1 - t0);
	return 0;
}

int
main(void)
{
	uint64_t n = ls_bench_scaled(1000000, 10);
	int runs = ls_bench_runs(5);
	double rates[99];

	for (int r = 0; r < runs; r++)
		if (run_once(n, &rates[r]) != 0)
			return 1;
	ls_bench_print_rate("ping-pong", rates, runs, "round trips/s");
	return 0;
}
