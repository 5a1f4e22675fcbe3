/*
 * patterns_bench.c -- messages per second through the template miner
 * (actors/patterns.h) on one core.
 *
 * The messages are made up front (not timed) from 64 templates of 6-20
 * words: each template has a few variable places, filled per message with
 * numbers, IPv4 addresses, block ids and paths -- which the miner masks,
 * so most messages hit its cache -- or, in the second figure, the first
 * of them with a word (a user name) it cannot mask, so that a message
 * whose masked form it has not seen is searched in its leaf and the
 * template generalised.  1 M messages of about 110 bytes, 5 runs on a
 * fresh miner each; the median is printed.
 *
 * Sanity checks: every message gets a template, and the miner ends with
 * about as many templates as were planted (none lost, no explosion).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/patterns.h"
#include "bench/bench.h"

#define NTMPL 64

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const words[] = { "connection", "block", "request",
	"session", "user", "packet", "worker", "thread", "socket", "cache",
	"opened", "closed", "received", "sent", "failed", "from", "to", "for",
	"with", "state", "error", "timeout", "replica", "node", "leader" };
#define NWORDS (sizeof(words) / sizeof(words[0]))
static const char *const names[] = { "alice", "bob", "carol", "dave",
	"erin", "frank", "grace", "heidi", "ivan", "judy" };

/* Template t: its word count and, per place, a word or a variable (-1). */
static int shape[NTMPL][20], len_of[NTMPL];

static void
make_shapes(void)
{
	for (int t = 0; t < NTMPL; t++) {
		len_of[t] = 6 + (int)(next() % 15);
		for (int i = 0; i < len_of[t]; i++)
			shape[t][i] = i > 0 && next() % 4 == 0
			    ? -1 : (int)((t * 7 + i * 3 + t / 5) % NWORDS);
		shape[t][0] = (int)(t % NWORDS);
		shape[t][1] = (int)((t / NWORDS + 3 * t) % NWORDS);
	}
}

static size_t
make_message(char *o, int t, int wordy)
{
	size_t at = 0;
	for (int i = 0; i < len_of[t]; i++) {
		int first_var = 1;
		for (int j = 0; j < i; j++)
			first_var &= shape[t][j] >= 0;
		if (i > 0)
			o[at++] = ' ';
		if (shape[t][i] >= 0) {
			at += (size_t)sprintf(o + at, "%s", words[shape[t][i]]);
		} else if (wordy && first_var) {
			at += (size_t)sprintf(o + at, "%s", names[next() % 10]);
		} else {
			switch (next() % 4) {
			case 0:
				at += (size_t)sprintf(o + at, "%u",
				    (unsigned)(next() % 100000));
				break;
			case 1:
				at += (size_t)sprintf(o + at, "10.%u.%u.%u:%u",
				    (unsigned)(next() % 256),
				    (unsigned)(next() % 256),
				    (unsigned)(next() % 256),
				    (unsigned)(next() % 65536));
				break;
			case 2:
				at += (size_t)sprintf(o + at, "blk_%lld",
				    (long long)(next() >> 2));
				break;
			default:
				at += (size_t)sprintf(o + at,
				    "/data/%u/part-%u",
				    (unsigned)(next() % 100),
				    (unsigned)(next() % 1000));
			}
		}
	}
	return at;
}

static int
run_case(const char *name, int wordy, uint64_t n, int runs)
{
	char *buf = malloc(n * 256);
	size_t *off = malloc((n + 1) * sizeof(*off));
	double *rates = malloc((size_t)runs * sizeof(*rates));
	if (buf == NULL || off == NULL || rates == NULL)
		return ls_bench_fail("patterns", "out of memory");
	off[0] = 0;
	for (uint64_t i = 0; i < n; i++)
		off[i + 1] = off[i] + make_message(buf + off[i],
		    (int)(next() % NTMPL), wordy);
	uint32_t templates = 0;
	for (int r = 0; r < runs; r++) {
		ls_patterns_cfg cfg;
		ls_patterns *p;
		ls_patterns_cfg_default(&cfg);
		if (ls_patterns_new(&p, &cfg) != 0)
			return ls_bench_fail("patterns", "out of memory");
		double t0 = now_s();
		for (uint64_t i = 0; i < n; i++) {
			ls_patterns_match m;
			if (ls_patterns_add(p, buf + off[i],
			        off[i + 1] - off[i], &m) != 0)
				return ls_bench_fail("patterns",
				    "message %llu got no template",
				    (unsigned long long)i);
		}
		rates[r] = (double)n / (now_s() - t0);
		templates = ls_patterns_size(p);
		ls_patterns_free(p);
	}
	if (templates < NTMPL / 2 || templates > 4 * NTMPL)
		return ls_bench_fail("patterns", "%u templates for %d planted",
		    templates, NTMPL);
	ls_bench_print_rate(name, rates, runs, "lines/s");
	ls_bench_print(name, "%u templates, %.0f bytes per message",
	    templates, (double)off[n] / (double)n);
	free(buf);
	free(off);
	free(rates);
	return 0;
}

int
main(void)
{
	int runs = ls_bench_runs(5);
	uint64_t n = ls_bench_scaled(1000000, 10000);
	make_shapes();
	if (run_case("patterns, masked variables (1 core)", 0, n, runs) != 0)
		return 1;
	return run_case("patterns, word variables (1 core)", 1, n, runs);
}
