/*
 * ring_bench.c -- a ring of 1,000 actors passing tokens around.
 *
 * Actor i forwards every token to actor i+1 (mod 1,000).  A token carries
 * the number of hops it still has to make; the actor that receives it at 0
 * counts the latch down.  First one token (strictly sequential: it measures
 * the cost of one hop, send plus activation), then 100 tokens in flight
 * (one per 10 actors) so that both cores have work and the scheduler's
 * stealing is exercised.  Every actor counts the hops it handled; the sum
 * must equal the hops sent, or the run fails.
 *
 * Figures: hops per second, the median of LS_BENCH_RUNS runs (default 5) of
 * 2 M hops each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "runtime/actor.h"

#define RING 1000

enum { MSG_TOKEN = LS_MSG_USER };

typedef struct shared {
	ls_bench_latch done;
	ls_ref refs[RING];
	uint64_t hops[RING]; /* hops[i] written by actor i only */
	uint64_t bad[RING];
} shared;

typedef struct node_arg {
	shared *sh;
	uint32_t idx;
} node_arg;

typedef struct node {
	shared *sh;
	uint32_t idx;
	ls_ref next;
} node;

static int
node_init(ls_ctx *ctx, void *state, const void *arg)
{
	node *n = state;
	const node_arg *a = arg;
	(void)ctx;
	n->sh = a->sh;
	n->idx = a->idx;
	return 0;
}

static int
node_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	node *n = state;
	shared *sh = n->sh;
	uint64_t left;

	if (m->type != MSG_TOKEN || m->size != sizeof(left)) {
		sh->bad[n->idx]++;
		return 0;
	}
	memcpy(&left, ls_msg_data(m), sizeof(left));
	sh->hops[n->idx]++;
	if (left == 0) {
		ls_bench_latch_count_down(&sh->done);
		return 0;
	}
	left--;
	if (!ls_ref_valid(n->next)) /* refs[] is complete before any token */
		n->next = sh->refs[(n->idx + 1) % RING];
	if (ls_ctx_tell(ctx, n->next, MSG_TOKEN, &left, sizeof(left)) != 0) {
		sh->bad[n->idx]++;
		ls_bench_latch_count_down(&sh->done);
	}
	return 0;
}

static const ls_behaviour node_beh = {
    .name = "bench.ring.node",
    .state_size = sizeof(node),
    .init = node_init,
    .receive = node_receive,
};

/* One run: `tokens` tokens, started at actors 0, RING/tokens, ..., making
 * `hops` hops in all (each counts its first receipt as a hop). */
static int
run_once(const char *name, uint32_t tokens, uint64_t hops, double *rate)
{
	shared *sh = calloc(1, sizeof(*sh));
	ls_runtime *rt;
	int rv;

	if (sh == NULL)
		return ls_bench_fail(name, "out of memory");
	ls_bench_latch_init(&sh->done, tokens);
	ls_runtime_opts ro = ls_bench_runtime_opts();
	if ((rv = ls_runtime_create(&ro, &rt)) != 0) {
		ls_bench_latch_destroy(&sh->done);
		free(sh);
		return ls_bench_fail(name, "runtime: %s", ls_strerror(rv));
	}
	for (uint32_t i = 0; rv == 0 && i < RING; i++) {
		node_arg a = {sh, i};
		ls_spawn_opts o = {.arg = &a, .arg_size = sizeof(a)};
		rv = ls_spawn(rt, &node_beh, &o, &sh->refs[i]);
	}
	if (rv != 0) {
		ls_runtime_destroy(rt);
		ls_bench_latch_destroy(&sh->done);
		free(sh);
		return ls_bench_fail(name, "spawn: %s", ls_strerror(rv));
	}
	uint64_t per = hops / tokens;
	int64_t t0 = ls_clock_ns();
	for (uint32_t k = 0; rv == 0 && k < tokens; k++) {
		uint64_t left = per - 1;
		rv = ls_tell(rt, sh->refs[k * (RING / tokens)], MSG_TOKEN,
		             &left, sizeof(left));
	}
	if (rv == 0)
		rv = ls_bench_latch_wait(&sh->done, 60000);
	int64_t t1 = ls_clock_ns();
	if (rv == LS_ETIMEDOUT)
		ls_bench_abandon(name, "tokens still travelling after 60 s");
	ls_runtime_destroy(rt);
	ls_bench_latch_destroy(&sh->done);

	uint64_t got = 0, bad = 0;
	for (uint32_t i = 0; i < RING; i++) {
		got += sh->hops[i];
		bad += sh->bad[i];
	}
	free(sh);
	if (rv != 0 || got != per * tokens || bad != 0)
		return ls_bench_fail(
		    name, "%s: %llu of %llu hops made, %llu errors",
		    rv != 0 ? ls_strerror(rv) : "finished",
		    (unsigned long long)got, (unsigned long long)(per * tokens),
		    (unsigned long long)bad);
	*rate = (double)got * 1e9 / (double)(t1 - t0);
	return 0;
}

static int
bench(const char *name, uint32_t tokens, uint64_t hops, int runs)
{
	double rates[99] = {0};

	for (int r = 0; r < runs; r++)
		if (run_once(name, tokens, hops, &rates[r]) != 0)
			return 1;
	ls_bench_print_rate(name, rates, runs, "hops/s");
	return 0;
}

int
main(void)
{
	uint64_t hops = ls_bench_scaled(2000000, 1000);
	int runs = ls_bench_runs(5);

	if (bench("ring 1000, 1 token", 1, hops, runs) != 0 ||
	    bench("ring 1000, 100 tokens", 100, hops, runs) != 0)
		return 1;
	return 0;
}
