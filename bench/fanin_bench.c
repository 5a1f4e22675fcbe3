/*
 * fanin_bench.c -- many sender actors, one receiver with a bounded mailbox.
 *
 * S senders (4, then 64) each send M numbered messages to one receiver
 * whose mailbox has the runtime's default capacity (1024).  A sender sends
 * a burst per activation and reminds itself with a CONTINUE message; when
 * the receiver's mailbox is full its send returns LS_EAGAIN and it waits
 * for LS_MSG_WRITABLE, as the backpressure contract asks.  The receiver
 * checks every message's sender index, counts per sender and sums sequence
 * numbers, so a lost or duplicated message fails the run.
 *
 * While a run is going the main thread samples the number of queued
 * messages in all mailboxes (ls_runtime_stats_get) every millisecond: the
 * peak shows that the receiver's backlog stays bounded (1024 plus a little
 * slack for racing senders and system messages), and so does the RSS.
 *
 * Figures: messages per second (median of LS_BENCH_RUNS runs, default 5;
 * each sender sends M = 500,000 messages, so 2 M and 32 M messages per run)
 * and the peak queue depth / peak RSS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "runtime/actor.h"

#define MAX_SENDERS 64
#define BURST       256 /* sends per activation before yielding */

enum { MSG_GO = LS_MSG_USER, MSG_CONTINUE, MSG_DATA };

typedef struct item {
	uint32_t sender;
	uint32_t _pad;
	uint64_t seq;
} item;

typedef struct shared {
	ls_bench_latch done;
	ls_ref receiver;
	uint32_t nsenders;
	uint64_t per_sender;
	/* written by the receiver only, read after done */
	uint64_t got[MAX_SENDERS];
	uint64_t seqsum[MAX_SENDERS];
	uint64_t total;
	uint64_t bad;
	/* senders: errors other than LS_EAGAIN (one slot each) */
	uint64_t send_err[MAX_SENDERS];
} shared;

typedef struct recv_state {
	shared *sh;
} recv_state;

typedef struct sender_arg {
	shared *sh;
	uint32_t idx;
} sender_arg;

typedef struct sender_state {
	shared *sh;
	uint32_t idx;
	int cont_pending; /* a CONTINUE to ourselves is queued */
	int finished;
	uint64_t next_seq;
} sender_state;

static int
recv_init(ls_ctx *ctx, void *state, const void *arg)
{
	recv_state *r = state;
	(void)ctx;
	r->sh = (shared *)(uintptr_t)arg;
	return 0;
}

static int
recv_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	recv_state *r = state;
	shared *sh = r->sh;
	item it;
	(void)ctx;

	if (m->type != MSG_DATA || m->size != sizeof(it)) {
		sh->bad++;
		return 0;
	}
	memcpy(&it, ls_msg_data(m), sizeof(it));
	if (it.sender >= sh->nsenders) {
		sh->bad++;
		return 0;
	}
	sh->got[it.sender]++;
	sh->seqsum[it.sender] += it.seq;
	if (++sh->total == (uint64_t)sh->nsenders * sh->per_sender)
		ls_bench_latch_count_down(&sh->done);
	return 0;
}

static const ls_behaviour recv_beh = {
    .name = "bench.fanin.receiver",
    .state_size = sizeof(recv_state),
    .init = recv_init,
    .receive = recv_receive,
};

static int
sender_init(ls_ctx *ctx, void *state, const void *arg)
{
	sender_state *s = state;
	const sender_arg *a = arg;
	(void)ctx;
	s->sh = a->sh;
	s->idx = a->idx;
	return 0;
}

/* Send up to BURST messages; stop early when the receiver is full (we are
 * then registered for LS_MSG_WRITABLE) or everything is sent. */
static void
burst(ls_ctx *ctx, sender_state *s)
{
	shared *sh = s->sh;
	ls_runtime *rt = ls_ctx_runtime(ctx);

	for (int i = 0; i < BURST && s->next_seq < sh->per_sender; i++) {
		ls_msg *m = ls_msg_new(rt, MSG_DATA, sizeof(item));
		if (m == NULL) {
			sh->send_err[s->idx]++;
			s->finished = 1;
			ls_bench_latch_count_down(&sh->done);
			return;
		}
		item it = {s->idx, 0, s->next_seq};
		memcpy(ls_msg_data(m), &it, sizeof(it));
		int rv = ls_ctx_send(ctx, sh->receiver, m);
		if (rv == LS_EAGAIN) {
			ls_msg_free(rt, m);
			return; /* LS_MSG_WRITABLE will bring us back */
		}
		if (rv != 0) {
			ls_msg_free(rt, m);
			sh->send_err[s->idx]++;
			s->finished = 1;
			ls_bench_latch_count_down(&sh->done);
			return;
		}
		s->next_seq++;
	}
	if (s->next_seq == sh->per_sender) {
		s->finished = 1;
		return;
	}
	if (ls_ctx_tell(ctx, ls_self(ctx), MSG_CONTINUE, NULL, 0) == 0)
		s->cont_pending = 1;
	else
		sh->send_err[s->idx]++;
}

static int
sender_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	sender_state *s = state;

	if (s->finished)
		return 0;
	switch (m->type) {
	case MSG_GO:
		burst(ctx, s);
		break;
	case MSG_CONTINUE:
		s->cont_pending = 0;
		burst(ctx, s);
		break;
	case LS_MSG_WRITABLE:
		/* A CONTINUE already queued will carry on by itself. */
		if (!s->cont_pending)
			burst(ctx, s);
		break;
	default:
		break;
	}
	return 0;
}

static const ls_behaviour sender_beh = {
    .name = "bench.fanin.sender",
    .state_size = sizeof(sender_state),
    .init = sender_init,
    .receive = sender_receive,
};

typedef struct result {
	double rate;
	int64_t peak_queued;
	uint64_t refused;
} result;

static int
run_once(uint32_t nsenders, uint64_t per_sender, result *res)
{
	const char *name = nsenders <= 4 ? "fan-in 4" : "fan-in 64";
	shared *sh = calloc(1, sizeof(*sh));
	ls_runtime *rt;
	ls_ref senders[MAX_SENDERS];
	int rv;

	if (sh == NULL)
		return ls_bench_fail(name, "out of memory");
	sh->nsenders = nsenders;
	sh->per_sender = per_sender;
	ls_bench_latch_init(&sh->done, 1);
	ls_runtime_opts ro = ls_bench_runtime_opts();
	if ((rv = ls_runtime_create(&ro, &rt)) != 0) {
		ls_bench_latch_destroy(&sh->done);
		free(sh);
		return ls_bench_fail(name, "runtime: %s", ls_strerror(rv));
	}
	/* The receiver gets the default mailbox capacity (1024). */
	ls_spawn_opts rcv = {.arg = sh};
	rv = ls_spawn(rt, &recv_beh, &rcv, &sh->receiver);
	for (uint32_t i = 0; rv == 0 && i < nsenders; i++) {
		sender_arg a = {sh, i};
		ls_spawn_opts so = {.arg = &a, .arg_size = sizeof(a)};
		rv = ls_spawn(rt, &sender_beh, &so, &senders[i]);
	}
	if (rv != 0) {
		ls_runtime_destroy(rt);
		ls_bench_latch_destroy(&sh->done);
		free(sh);
		return ls_bench_fail(name, "spawn: %s", ls_strerror(rv));
	}
	ls_runtime_stats st0, st;
	ls_runtime_stats_get(rt, &st0);
	int64_t peak = 0;
	int64_t t0 = ls_clock_ns();
	for (uint32_t i = 0; rv == 0 && i < nsenders; i++)
		rv = ls_tell(rt, senders[i], MSG_GO, NULL, 0);
	int64_t deadline = t0 + INT64_C(60000000000);
	while (rv == 0) {
		rv = ls_bench_latch_wait(&sh->done, 1);
		if (rv != LS_ETIMEDOUT)
			break;
		ls_runtime_stats_get(rt, &st);
		if (st.queued > peak)
			peak = st.queued;
		if (ls_clock_ns() < deadline)
			rv = 0;
	}
	int64_t t1 = ls_clock_ns();
	if (rv == LS_ETIMEDOUT)
		ls_bench_abandon(name, "%llu of %llu messages after 60 s",
		                 (unsigned long long)sh->total,
		                 (unsigned long long)(per_sender * nsenders));
	ls_runtime_stats_get(rt, &st);
	ls_runtime_destroy(rt);
	ls_bench_latch_destroy(&sh->done);

	uint64_t expect_sum = per_sender * (per_sender - 1) / 2;
	uint64_t wrong = 0, errs = 0;
	for (uint32_t i = 0; i < nsenders; i++) {
		if (sh->got[i] != per_sender || sh->seqsum[i] != expect_sum)
			wrong++;
		errs += sh->send_err[i];
	}
	uint64_t total = sh->total, bad = sh->bad;
	free(sh);
	if (rv != 0 || wrong != 0 || bad != 0 || errs != 0)
		return ls_bench_fail(
		    name,
		    "%s: %llu of %llu messages arrived, %llu senders short, "
		    "%llu malformed, %llu send errors",
		    rv != 0 ? ls_strerror(rv) : "finished",
		    (unsigned long long)total,
		    (unsigned long long)(per_sender * nsenders),
		    (unsigned long long)wrong, (unsigned long long)bad,
		    (unsigned long long)errs);
	res->rate = (double)(per_sender * nsenders) * 1e9 / (double)(t1 - t0);
	res->peak_queued = peak;
	res->refused = st.mailbox_full - st0.mailbox_full;
	return 0;
}

static int
bench(uint32_t nsenders, uint64_t per_sender, int runs)
{
	const char *name = nsenders <= 4 ? "fan-in 4" : "fan-in 64";
	double rates[99] = {0};
	int64_t peak = 0;
	uint64_t refused = 0;

	for (int r = 0; r < runs; r++) {
		result res = {0, 0, 0};
		if (run_once(nsenders, per_sender, &res) != 0)
			return 1;
		rates[r] = res.rate;
		if (res.peak_queued > peak)
			peak = res.peak_queued;
		refused += res.refused;
	}
	/* Bounded: the receiver's 1024, two racing senders' overshoot and at
	 * most a few system/CONTINUE messages per sender. */
	int64_t bound = 2 * 1024 + 4 * (int64_t)nsenders;
	char label[64];
	ls_bench_print_rate(name, rates, runs, "msgs/s");
	snprintf(label, sizeof(label), "%s peak queued", name);
	ls_bench_print(
	    label,
	    "%8lld msgs          (bound %lld; %.1f%% of "
	    "sends refused with LS_EAGAIN)",
	    (long long)peak, (long long)bound,
	    100.0 * (double)refused /
	        (double)(refused + per_sender * nsenders * (uint64_t)runs));
	if (peak > bound)
		return ls_bench_fail(
		    name, "mailboxes held %lld messages, more than %lld",
		    (long long)peak, (long long)bound);
	return 0;
}

int
main(void)
{
	uint64_t per_sender = ls_bench_scaled(500000, 16);
	int runs = ls_bench_runs(5);
	int64_t rss0 = ls_bench_proc_bytes("VmRSS");

	if (bench(4, per_sender, runs) != 0 || bench(64, per_sender, runs) != 0)
		return 1;
	int64_t hwm = ls_bench_proc_bytes("VmHWM");
	ls_bench_print("fan-in peak RSS",
	               "%8.1f MB          (%.1f MB at start)",
	               (double)hwm / 1048576.0, (double)rss0 / 1048576.0);
	return 0;
}
