/*
 * remote_bench.c -- envelopes per second between two processes over the
 * node-to-node transport (cluster/transport.h: real nng push/pull sockets
 * on 127.0.0.1, frames, credit windows).
 *
 * The program forks a receiver child before either side touches nng.  Each
 * process then creates its own ls_transport on tcp://127.0.0.1:0; they swap
 * the bound URLs through two pipes and add each other as peers.  The parent
 * (node 1) drives runs over the command pipe: for each run it tells the
 * child how many envelopes to expect, waits until the child is ready, sends
 * them (on LS_EAGAIN it flushes, yields the core and retries, which is how
 * a caller waits for credit) and stops the clock when the child writes back
 * that its receive callback has counted them all.  The clock therefore covers
 * the first send to the last delivery, including the confirmation's trip
 * through the pipe.
 *
 * The child checks in its callback that envelope sequence numbers arrive
 * as 0, 1, 2 ... with no gap or repeat, that the first 8 payload bytes
 * repeat the sequence number, and in the events figure that every payload
 * passes the EventBatch verifier and holds 64 events (ls_codec_batch_count,
 * what a receiving actor must do with a buffer from the network).  Any
 * difference, or a final total that is not exactly what the parent sent,
 * fails the run.
 *
 * With --tls both transports run over tls+tcp:// (mutual TLS, certificates
 * of a CA made for the run in a temporary directory); the figures are then
 * labelled "remote tls ...".
 *
 * Figures (median of LS_BENCH_RUNS runs, default 5):
 *  - 64-byte envelopes: N = 5 M per run -> envelopes/s, payload MB/s and
 *    wire MB/s, frames per run and envelopes per frame;
 *  - envelopes carrying one encoded batch of 64 log events each (events
 *    made once from the built-in generator, parsed and encoded with
 *    ls_codec_batch_encode): 10 M events per run -> events/s;
 *  - the same 64-byte messages sent by an actor to a remote ref
 *    (runtime/remote.h): ls_ctx_send calls a transport table that wraps
 *    ls_transport_send; on LS_EAGAIN the actor keeps the message and
 *    pauses, and the transport's writable callback wakes it through
 *    ls_remote_writable (LS_MSG_WRITABLE) -- the data plane's path, with
 *    no retry loop anywhere: 5 M messages per run -> messages/s.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>

#include "actors/generator.h"
#include "actors/parse.h"
#include "bench/bench.h"
#include "cluster/tls.h"
#include "runtime/arena.h"
#include "runtime/remote.h"
/* runtime/actor.h (through bench.h) and schemas/codec.h both declare an
 * `enum ls_msg_type` (different constants); the wire one takes another tag
 * here.  No declaration of codec.h uses the tag, so nothing else changes. */
#define ls_msg_type ls_wire_msg_type
#include "cluster/transport.h"
#include "schemas/codec.h"
#undef ls_msg_type

#define SENDER_ID   1
#define RECEIVER_ID 2
#define URL_MAX     256
#define PAYLOAD     64    /* bytes per envelope in the first figure */
#define BATCH       64    /* events per envelope in the second figure */
#define WAIT_MS     60000 /* a run that takes longer has lost something */

/* The transport settings both sides use.  Zero leaves the transport's
 * default (see cluster/transport.h); docs/benchmarks.md discusses them. */
static void
tune(ls_transport_config *c)
{
	c->window_frames = 8;
	c->batch_max_envs = 4096;
	c->tick_ms = 1;
}

/* ---- command and report pipes ---- */

enum { CMD_EXPECT = 1, CMD_QUIT = 2 };

typedef struct cmd {
	uint32_t kind;
	uint32_t events_per_env; /* 0: raw payloads, else batches to verify */
	uint64_t n;              /* envelopes to expect */
} cmd;

typedef struct report {
	uint64_t envs;   /* envelopes counted this run (or in all, at QUIT) */
	uint64_t events; /* events counted in verified batches */
	uint64_t errors; /* out of sequence, bad payload, bad batch */
	uint64_t transport_envs; /* QUIT: ls_transport_stats envs_recv */
	uint64_t malformed;      /* QUIT: frames the transport dropped */
} report;

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Read exactly len bytes within timeout_ms (-1: forever).  0 on success,
 * LS_ETIMEDOUT, or LS_EIO on EOF or error. */
static int
read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;
	int64_t end = ls_clock_ns() + (int64_t)timeout_ms * 1000000;
	while (len > 0) {
		if (timeout_ms >= 0) {
			int64_t left = (end - ls_clock_ns()) / 1000000;
			struct pollfd pfd = {fd, POLLIN, 0};
			if (left <= 0)
				return LS_ETIMEDOUT;
			int pr = poll(&pfd, 1, (int)left);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0)
				return LS_ETIMEDOUT;
			if (pr < 0)
				return LS_EIO;
		}
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return LS_EIO;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* ---- the receiver (child process) ---- */

typedef struct receiver {
	int rep_fd;
	/* Written by the main thread while no envelope is in flight (after a
	 * confirmation, before the next CMD_EXPECT's answer), read by the
	 * receive thread; the release store of target publishes the rest. */
	_Atomic uint64_t target;
	uint32_t events_per_env;
	uint64_t next_seq;
	uint64_t run_envs, run_events, run_errors;
	uint64_t total_envs, total_events, total_errors;
} receiver;

static void
on_recv(void *arg, uint64_t from, const ls_envelope *env)
{
	receiver *r = arg;
	uint64_t head = UINT64_MAX;

	if (env->payload_len >= 8)
		memcpy(&head, env->payload, 8);
	if (from != SENDER_ID || env->seq != r->next_seq)
		r->run_errors++;
	if (r->events_per_env == 0) {
		if (env->payload_len != PAYLOAD || head != env->seq)
			r->run_errors++;
	} else {
		size_t n = 0;
		if (ls_codec_batch_count(env->payload, env->payload_len, &n) !=
		        0 ||
		    n != r->events_per_env)
			r->run_errors++;
		r->run_events += n;
	}
	r->next_seq = env->seq + 1;
	r->run_envs++;
	r->total_envs++;
	/* The last envelope of the run: report what was counted. */
	if (r->next_seq ==
	    atomic_load_explicit(&r->target, memory_order_acquire)) {
		report rep = {r->run_envs, r->run_events, r->run_errors, 0, 0};
		r->total_events += r->run_events;
		r->total_errors += r->run_errors;
		if (write_all(r->rep_fd, &rep, sizeof(rep)) != 0)
			_exit(3);
	}
}

/* --tls: both transports over tls+tcp:// with certificates of a CA made
 * for the run (cluster/tls.h), in a temporary directory. */
static int g_tls;
static char g_tls_dir[64];
static char g_tls_path[2][3][128]; /* receiver, sender: ca, crt, key */
static ls_tls_files g_tls_files[2];

/* "remote NAME" or "remote tls NAME", in one of 8 rotating buffers. */
static const char *
lab(const char *rest)
{
	static char buf[8][80];
	static int k;
	char *b = buf[k++ & 7];
	snprintf(b, sizeof(buf[0]), "remote %s%s", g_tls ? "tls " : "", rest);
	return b;
}

static const char *
listen_url(void)
{
	return g_tls ? "tls+tcp://127.0.0.1:0" : "tcp://127.0.0.1:0";
}

static int
tls_make(void)
{
	char err[512];
	const char *host[] = {"127.0.0.1"};
	snprintf(g_tls_dir, sizeof(g_tls_dir), "/tmp/ls-remote-tls-XXXXXX");
	if (mkdtemp(g_tls_dir) == NULL)
		return ls_bench_fail("remote", "mkdtemp: %s", strerror(errno));
	char ca[96];
	snprintf(ca, sizeof(ca), "%s/ca", g_tls_dir);
	if (ls_tls_ca_init(ca, err, sizeof(err)) != 0)
		return ls_bench_fail("remote", "CA: %s", err);
	const char *names[2] = {"receiver", "sender"};
	for (int i = 0; i < 2; i++) {
		if (ls_tls_issue(ca, names[i], host, 1, err, sizeof(err)) != 0)
			return ls_bench_fail("remote", "certificate: %s", err);
		snprintf(g_tls_path[i][0], 128, "%s/ca.crt", ca);
		snprintf(g_tls_path[i][1], 128, "%s/%s.crt", ca, names[i]);
		snprintf(g_tls_path[i][2], 128, "%s/%s.key", ca, names[i]);
		g_tls_files[i] = (ls_tls_files){g_tls_path[i][0],
		                                g_tls_path[i][1],
		                                g_tls_path[i][2]};
	}
	return 0;
}

static void
tls_clean(void)
{
	if (g_tls_dir[0] == '\0')
		return;
	char rm[128];
	snprintf(rm, sizeof(rm), "rm -rf '%s'", g_tls_dir);
	if (system(rm) != 0)
		fprintf(stderr, "remote: could not remove %s\n", g_tls_dir);
}

static int
child_main(int cmd_fd, int rep_fd)
{
	receiver r;
	ls_transport *t = NULL;
	char url[URL_MAX] = {0}, peer[URL_MAX];
	cmd c;

	memset(&r, 0, sizeof(r));
	r.rep_fd = rep_fd;
	atomic_init(&r.target, UINT64_MAX);
	ls_transport_config cfg = {.node_id = RECEIVER_ID,
	                           .listen_url = listen_url(),
	                           .recv_fn = on_recv,
	                           .recv_arg = &r,
	                           .tls = g_tls ? &g_tls_files[0] : NULL};
	tune(&cfg);
	int rv = ls_transport_create(&cfg, &t);
	if (rv == 0)
		snprintf(url, sizeof(url), "%s", ls_transport_url(t));
	if (write_all(rep_fd, url, sizeof(url)) != 0 || rv != 0)
		return 2;
	if (read_all(cmd_fd, peer, sizeof(peer), WAIT_MS) != 0)
		return 2;
	peer[URL_MAX - 1] = '\0';
	if (ls_transport_peer_add(t, SENDER_ID, peer) != 0)
		return 2;
	while (read_all(cmd_fd, &c, sizeof(c), -1) == 0) {
		if (c.kind == CMD_QUIT) {
			ls_transport_stats st;
			ls_transport_stats_get(t, &st);
			report rep = {r.total_envs, r.total_events,
			              r.total_errors, st.envs_recv,
			              st.malformed};
			write_all(rep_fd, &rep, sizeof(rep));
			break;
		}
		r.events_per_env = c.events_per_env;
		r.next_seq = 0;
		r.run_envs = r.run_events = r.run_errors = 0;
		atomic_store_explicit(&r.target, c.n, memory_order_release);
		report ready = {0, 0, 0, 0, 0};
		if (write_all(rep_fd, &ready, sizeof(ready)) != 0)
			break;
	}
	ls_transport_destroy(t);
	nng_fini();
	return 0;
}

/* ---- the sender (parent process) ---- */

typedef struct sender {
	ls_transport *t;
	pid_t child;
	int cmd_fd, rep_fd;
	uint64_t sent_total;
} sender;

typedef struct run_result {
	double secs;
	uint64_t frames, wire_bytes, refused;
} run_result;

static void
on_recv_parent(void *arg, uint64_t from, const ls_envelope *env)
{
	/* The receiver sends nothing but credit (header-only frames). */
	(void)from;
	(void)env;
	(*(uint64_t *)arg)++;
}

/* Send n envelopes whose payload is `payload` (len bytes; its first 8 bytes
 * are overwritten with the sequence number when raw) and wait for the
 * child's count.  Returns 0, or 1 after a FAIL. */
static int
run_once(sender *s, const char *name, uint8_t *payload, size_t len,
         uint32_t events_per_env, uint64_t n, run_result *res)
{
	cmd c = {CMD_EXPECT, events_per_env, n};
	report rep;
	ls_transport_stats st0, st1;

	if (write_all(s->cmd_fd, &c, sizeof(c)) != 0 ||
	    read_all(s->rep_fd, &rep, sizeof(rep), WAIT_MS) != 0)
		return ls_bench_fail(name, "the receiver does not answer");
	ls_transport_stats_get(s->t, &st0);
	ls_envelope env = {.type = events_per_env ? LS_MSG_EVENTS : LS_MSG_NONE,
	                   .from = 1,
	                   .to = 2,
	                   .epoch = 1,
	                   .payload = payload,
	                   .payload_len = len};
	int64_t t0 = ls_clock_ns();
	int64_t give_up = t0 + (int64_t)WAIT_MS * 1000000;
	for (uint64_t i = 0; i < n; i++) {
		env.seq = i;
		if (events_per_env == 0)
			memcpy(payload, &i, 8);
		int rv;
		while ((rv = ls_transport_send(s->t, RECEIVER_ID, &env)) ==
		       LS_EAGAIN) {
			/* No credit: push out what may leave, then give the
			 * core to the receiver (two cores for two processes
			 * and their I/O threads: spinning here measurably
			 * slows the receiver down). */
			ls_transport_flush(s->t);
			sched_yield();
			if (ls_clock_ns() > give_up)
				ls_bench_abandon(name,
				                 "sent %llu of %llu in %d s, "
				                 "no credit",
				                 (unsigned long long)i,
				                 (unsigned long long)n,
				                 WAIT_MS / 1000);
		}
		if (rv != 0)
			return ls_bench_fail(name, "send: %s", ls_strerror(rv));
	}
	ls_transport_flush(s->t);
	int rv = read_all(s->rep_fd, &rep, sizeof(rep), WAIT_MS);
	int64_t t1 = ls_clock_ns();
	s->sent_total += n;
	if (rv != 0)
		ls_bench_abandon(name, "no confirmation of %llu envelopes: %s",
		                 (unsigned long long)n, ls_strerror(rv));
	ls_transport_stats_get(s->t, &st1);
	if (rep.envs != n || rep.errors != 0 ||
	    rep.events != (uint64_t)events_per_env * n)
		return ls_bench_fail(name,
		                     "receiver counted %llu of %llu envelopes, "
		                     "%llu events, %llu errors",
		                     (unsigned long long)rep.envs,
		                     (unsigned long long)n,
		                     (unsigned long long)rep.events,
		                     (unsigned long long)rep.errors);
	res->secs = (double)(t1 - t0) / 1e9;
	res->frames = st1.frames_sent - st0.frames_sent;
	res->wire_bytes = st1.bytes_sent - st0.bytes_sent;
	res->refused = st1.refused - st0.refused;
	return 0;
}

/* ---- an actor sending to a remote ref (the runtime's path) ---- */

enum { MSG_GO = LS_MSG_USER, MSG_DATA };

static ls_runtime *_Atomic writable_rt; /* for the writable callback */

/* The transport reports the receiver writable: wake the waiting actor. */
static void
on_writable_parent(void *arg, uint64_t node)
{
	(void)arg;
	ls_runtime *rt = atomic_load(&writable_rt);
	if (rt != NULL && node == RECEIVER_ID)
		ls_remote_writable(rt, 1);
}

typedef struct table_arg {
	ls_transport *t;
	ls_runtime *rt;
} table_arg;

/* The transport table: message data = 8-byte seq + payload. */
static int
table_send(void *arg, uint32_t link, uint64_t addr, ls_msg *m)
{
	table_arg *ta = arg;
	(void)link;
	(void)addr;
	uint64_t seq;
	memcpy(&seq, ls_msg_data(m), 8);
	ls_envelope env = {.type = LS_MSG_NONE,
	                   .from = 1,
	                   .to = 2,
	                   .epoch = 1,
	                   .seq = seq,
	                   .payload = ls_msg_data(m),
	                   .payload_len = m->size};
	int rv = ls_transport_send(ta->t, RECEIVER_ID, &env);
	if (rv == 0)
		ls_msg_free(ta->rt, m);
	return rv;
}

typedef struct pusher {
	uint64_t next, n;
	ls_msg *held;
	ls_bench_latch *sent;
} pusher;

static void
push_more(ls_ctx *ctx, pusher *p)
{
	ls_ref to = ls_remote_ref(1, 0);
	if (p->held != NULL) {
		if (ls_ctx_send(ctx, to, p->held) == LS_EAGAIN)
			return;
		p->held = NULL;
		ls_ctx_resume(ctx);
	}
	while (p->next < p->n) {
		ls_msg *m = ls_msg_new(ls_ctx_runtime(ctx), MSG_DATA, PAYLOAD);
		if (m == NULL)
			return;
		memcpy(ls_msg_data(m), &p->next, 8);
		memset((char *)ls_msg_data(m) + 8, 'x', PAYLOAD - 8);
		p->next++;
		if (ls_ctx_send(ctx, to, m) == LS_EAGAIN) {
			p->held = m;
			ls_ctx_pause(ctx);
			return;
		}
	}
	ls_bench_latch_count_down(p->sent);
	ls_ctx_stop(ctx);
}

static int
pusher_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	pusher *p = state;
	if (m->type == MSG_GO)
		memcpy(p, ls_msg_data(m), sizeof(*p));
	if (m->type == MSG_GO || m->type == LS_MSG_WRITABLE)
		push_more(ctx, p);
	return 0;
}

static const ls_behaviour pusher_beh = {
	.name = "pusher",
	.state_size = sizeof(pusher),
	.receive = pusher_receive,
};

/* n messages from an actor to the remote ref; as run_once otherwise. */
static int
run_actor_once(sender *s, ls_runtime *rt, uint64_t n, run_result *res)
{
	static char actor_name[80];
	snprintf(actor_name, sizeof(actor_name), "%s", lab("actor"));
	const char *name = actor_name;
	cmd c = {CMD_EXPECT, 0, n};
	report rep;
	ls_transport_stats st0, st1;
	ls_bench_latch sent;

	if (write_all(s->cmd_fd, &c, sizeof(c)) != 0 ||
	    read_all(s->rep_fd, &rep, sizeof(rep), WAIT_MS) != 0)
		return ls_bench_fail(name, "the receiver does not answer");
	ls_transport_stats_get(s->t, &st0);
	ls_bench_latch_init(&sent, 1);
	ls_ref a;
	pusher go = {0, n, NULL, &sent};
	int64_t t0 = ls_clock_ns();
	if (ls_spawn(rt, &pusher_beh, NULL, &a) != 0 ||
	    ls_tell(rt, a, MSG_GO, &go, sizeof(go)) != 0)
		return ls_bench_fail(name, "cannot start the actor");
	int rv = read_all(s->rep_fd, &rep, sizeof(rep), WAIT_MS);
	int64_t t1 = ls_clock_ns();
	if (rv != 0)
		ls_bench_abandon(name, "no confirmation of %llu messages: %s",
		                 (unsigned long long)n, ls_strerror(rv));
	if (ls_bench_latch_wait(&sent, WAIT_MS) != 0)
		ls_bench_abandon(name, "the actor did not finish");
	ls_bench_latch_destroy(&sent);
	s->sent_total += n;
	ls_transport_stats_get(s->t, &st1);
	if (rep.envs != n || rep.errors != 0)
		return ls_bench_fail(name,
		                     "receiver counted %llu of %llu messages, "
		                     "%llu errors",
		                     (unsigned long long)rep.envs,
		                     (unsigned long long)n,
		                     (unsigned long long)rep.errors);
	res->secs = (double)(t1 - t0) / 1e9;
	res->frames = st1.frames_sent - st0.frames_sent;
	res->wire_bytes = st1.bytes_sent - st0.bytes_sent;
	res->refused = st1.refused - st0.refused;
	return 0;
}

/* 64 realistic events, made once: generator lines parsed as JSON. */
static int
make_batch(ls_buf *out)
{
	ls_generator_cfg gc;
	static char lines[BATCH][LS_GENERATOR_LINE_MAX];
	ls_event *evs = calloc(BATCH, sizeof(*evs));
	ls_parser parser;
	ls_arena arena;
	int rv = 0;

	memset(&gc, 0, sizeof(gc));
	gc.seed = 42;
	gc.format = LS_GEN_JSON;
	ls_generator *g = ls_generator_new(&gc);
	ls_parser_init(&parser, LS_FMT_AUTO);
	ls_arena_init(&arena, 0);
	if (g == NULL || evs == NULL) {
		rv = LS_ENOMEM;
		goto out;
	}
	for (int i = 0; i < BATCH && rv == 0; i++) {
		size_t len;
		rv = ls_generator_next(g, lines[i], sizeof(lines[i]), &len,
		                       NULL);
		if (rv == 0)
			rv = ls_parser_parse(&parser, lines[i], len, &evs[i],
			                     &arena, NULL);
	}
	if (rv == 0)
		rv = ls_codec_batch_encode(evs, BATCH, out);
out:
	ls_arena_fini(&arena);
	ls_generator_free(g);
	free(evs);
	return rv;
}

static void
print_figures(const char *name, int runs, const run_result *res, uint64_t n,
              size_t len)
{
	double mbps[99], wire[99];
	char label[64];
	uint64_t frames = 0, refused = 0;

	for (int r = 0; r < runs; r++) {
		mbps[r] = (double)(n * len) / res[r].secs / 1e6;
		wire[r] = (double)res[r].wire_bytes / res[r].secs / 1e6;
		frames += res[r].frames;
		refused += res[r].refused;
	}
	double mb = ls_bench_median(mbps, (size_t)runs);
	double wb = ls_bench_median(wire, (size_t)runs);
	snprintf(label, sizeof(label), "%s MB/s", name);
	ls_bench_print(label, "%8.0f MB/s payload, %.0f MB/s on the wire", mb,
	               wb);
	snprintf(label, sizeof(label), "%s frames", name);
	ls_bench_print(label,
	               "%8.0f frames/run     (%.0f envelopes/frame; "
	               "%.2f LS_EAGAIN per envelope)",
	               (double)frames / runs,
	               (double)(n * (uint64_t)runs) / (double)frames,
	               (double)refused / (double)(n * (uint64_t)runs));
}

static int
parent_main(sender *s)
{
	char url[URL_MAX], mine[URL_MAX] = {0};
	uint64_t credit_envs = 0;
	int runs = ls_bench_runs(5);
	uint64_t n_raw = ls_bench_scaled(5000000, 1000);
	uint64_t n_ev = ls_bench_scaled(10000000, 64 * 100) / BATCH;
	double rates[99];
	run_result res[99];
	uint8_t raw[PAYLOAD];
	ls_buf batch = {NULL, 0};
	int rv;

	if (read_all(s->rep_fd, url, sizeof(url), WAIT_MS) != 0 ||
	    url[0] == '\0')
		return ls_bench_fail("remote", "the receiver did not start");
	url[URL_MAX - 1] = '\0';
	ls_transport_config cfg = {.node_id = SENDER_ID,
	                           .listen_url = listen_url(),
	                           .recv_fn = on_recv_parent,
	                           .recv_arg = &credit_envs,
	                           .writable_fn = on_writable_parent,
	                           .tls = g_tls ? &g_tls_files[1] : NULL};
	tune(&cfg);
	if ((rv = ls_transport_create(&cfg, &s->t)) != 0)
		return ls_bench_fail("remote", "transport: %s",
		                     ls_strerror(rv));
	snprintf(mine, sizeof(mine), "%s", ls_transport_url(s->t));
	if (write_all(s->cmd_fd, mine, sizeof(mine)) != 0)
		return ls_bench_fail("remote", "the receiver is gone");
	if ((rv = ls_transport_peer_add(s->t, RECEIVER_ID, url)) != 0)
		return ls_bench_fail("remote", "peer: %s", ls_strerror(rv));
	if ((rv = make_batch(&batch)) != 0)
		return ls_bench_fail("remote", "making the batch: %s",
		                     ls_strerror(rv));

	/* Warm-up: the connection and the session handshake. */
	memset(raw, 'x', sizeof(raw));
	if (run_once(s, lab("warm-up"), raw, sizeof(raw), 0, 1000, &res[0]))
		goto fail;

	for (int r = 0; r < runs; r++) {
		if (run_once(s, lab("64 B"), raw, sizeof(raw), 0, n_raw,
		             &res[r]) != 0)
			goto fail;
		rates[r] = (double)n_raw / res[r].secs;
	}
	ls_bench_print_rate(lab("64 B envelopes"), rates, runs,
	                    "envelopes/s");
	print_figures(lab("64 B"), runs, res, n_raw, sizeof(raw));

	for (int r = 0; r < runs; r++) {
		if (run_once(s, lab("events"), batch.data, batch.len, BATCH,
		             n_ev, &res[r]) != 0)
			goto fail;
		rates[r] = (double)(n_ev * BATCH) / res[r].secs;
	}
	ls_bench_print_rate(lab("events (64/envelope)"), rates, runs,
	                    "events/s");
	ls_bench_print(lab("events batch"),
	               "%8zu bytes/envelope (%.0f bytes/event encoded)",
	               batch.len, (double)batch.len / BATCH);
	print_figures(lab("events"), runs, res, n_ev, batch.len);

	ls_runtime_opts ro = ls_bench_runtime_opts();
	ls_runtime *rt = NULL;
	if ((rv = ls_runtime_create(&ro, &rt)) != 0) {
		ls_bench_fail("remote actor", "runtime: %s", ls_strerror(rv));
		goto fail;
	}
	table_arg ta = {s->t, rt};
	ls_remote_ops ops = {table_send, &ta};
	ls_remote_attach(rt, &ops);
	atomic_store(&writable_rt, rt);
	for (int r = 0; r < runs && rv == 0; r++) {
		rv = run_actor_once(s, rt, n_raw, &res[r]);
		rates[r] = (double)n_raw / res[r].secs;
	}
	atomic_store(&writable_rt, NULL);
	ls_remote_stats rs;
	ls_remote_stats_get(rt, &rs);
	ls_runtime_destroy(rt);
	if (rv != 0)
		goto fail;
	ls_bench_print_rate(lab("actor -> remote ref"), rates, runs,
	                    "msgs/s");
	print_figures(lab("actor"), runs, res, n_raw, PAYLOAD);
	ls_bench_print(lab("actor pauses"),
	               "%8.2f LS_MSG_WRITABLE per 1,000 messages",
	               1000.0 * (double)rs.writable /
	                   (double)(n_raw * (uint64_t)runs));

	/* Exactly what was sent arrived, no more. */
	cmd q = {CMD_QUIT, 0, 0};
	report fin;
	if (write_all(s->cmd_fd, &q, sizeof(q)) != 0 ||
	    read_all(s->rep_fd, &fin, sizeof(fin), WAIT_MS) != 0) {
		ls_bench_fail("remote", "no final count from the receiver");
		goto fail;
	}
	if (fin.envs != s->sent_total || fin.transport_envs != s->sent_total ||
	    fin.errors != 0 || fin.malformed != 0) {
		ls_bench_fail("remote",
		              "sent %llu envelopes, receiver counted %llu "
		              "(transport %llu), %llu errors, %llu malformed",
		              (unsigned long long)s->sent_total,
		              (unsigned long long)fin.envs,
		              (unsigned long long)fin.transport_envs,
		              (unsigned long long)fin.errors,
		              (unsigned long long)fin.malformed);
		goto fail;
	}
	if (credit_envs != 0) {
		ls_bench_fail("remote", "the sender received %llu envelopes",
		              (unsigned long long)credit_envs);
		goto fail;
	}
	ls_buf_free(&batch);
	return 0;
fail:
	ls_buf_free(&batch);
	return 1;
}

int
main(int argc, char **argv)
{
	int to_child[2], to_parent[2];
	sender s;

	memset(&s, 0, sizeof(s));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tls") == 0) {
			g_tls = 1;
		} else {
			fprintf(stderr, "usage: remote_bench [--tls]\n");
			return 2;
		}
	}
	if (g_tls && tls_make() != 0) {
		tls_clean();
		return 1;
	}
	if (pipe(to_child) != 0 || pipe(to_parent) != 0)
		return ls_bench_fail("remote", "pipe: %s", strerror(errno));
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return ls_bench_fail("remote", "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Die with the parent, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(2);
		close(to_child[1]);
		close(to_parent[0]);
		_exit(child_main(to_child[0], to_parent[1]));
	}
	close(to_child[0]);
	close(to_parent[1]);
	s.child = pid;
	s.cmd_fd = to_child[1];
	s.rep_fd = to_parent[0];

	int rv = parent_main(&s);
	/* Closing the command pipe also ends a child that never got QUIT. */
	close(s.cmd_fd);
	int wst = 0;
	if (rv != 0)
		kill(pid, SIGKILL);
	waitpid(pid, &wst, 0);
	close(s.rep_fd);
	ls_transport_destroy(s.t);
	nng_fini();
	tls_clean();
	if (rv == 0 && (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0))
		return ls_bench_fail("remote", "the receiver exited with %d",
		                     WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
	return rv;
}
