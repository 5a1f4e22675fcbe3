/*
 * state_bench.c -- what an incremental checkpoint of keyed state costs,
 * against the size of the state and the share of it written.
 *
 * 1. Checkpoint cost.  A partition holds N keys (11-byte keys, 32-byte
 *    values) in the RocksDB store.  For each touched share (1 %, 10 %,
 *    100 %) and each of LS_BENCH_RUNS intervals, that many random keys
 *    get a new value; then the checkpoint: seal the generation, write its
 *    Changelog buffers (actors/changelog.h), apply them to a standby's
 *    store (a second RocksDB), and fold the generation into the owner's
 *    committed keys.  Figures: bytes per checkpoint, time of seal + write
 *    (owner), apply (standby), fold (owner).  Next to them, the whole-state
 *    snapshot that a non-incremental checkpoint would ship: an export of
 *    the N keys.  The same 10,000 touched keys on states of N/10 and N
 *    keys show that the cost follows the writes, not the state.
 * 2. Memory (--rss KEYS): KEYS keys loaded through the same path in
 *    checkpoints of 100,000 keys on the default budget (64 MiB block cache
 *    + 64 MiB memtables); peak RSS, and RSS after reading 100,000 random
 *    keys.
 *
 * Sanity checks: the standby's base id follows every checkpoint, and
 * after the last one a sample of keys reads the same on owner and standby.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ftw.h>

#include "actors/changelog.h"
#include "bench/bench.h"
#include "runtime/err.h"
#include "runtime/store.h"

#define KLEN 11
#define VLEN 32
#define PART "window/0"

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x853c49e6748fea9bull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* "k" and 10 decimal digits (i < 10^10). */
static void
key_of(uint64_t i, char k[KLEN + 1])
{
	k[0] = 'k';
	for (int d = KLEN - 1; d >= 1; d--) {
		k[d] = (char)('0' + i % 10);
		i /= 10;
	}
	k[KLEN] = '\0';
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

typedef struct side {
	char dir[64];
	ls_store *s;
} side;

static int
side_open(side *d, size_t cache, size_t wbuf)
{
	ls_store_opts o = {.block_cache_bytes = cache,
	                   .write_buffer_bytes = wbuf};
	char err[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(d->dir, sizeof(d->dir), "%s/ls-state-bench-XXXXXX",
	         tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(d->dir) == NULL)
		return LS_EIO;
	return ls_store_open(d->dir, &o, &d->s, err, sizeof(err));
}

static void
side_close(side *d)
{
	ls_store_close(d->s);
	nftw(d->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Where Changelog buffers go: counted and, with a receiver, applied. */
typedef struct sink {
	ls_changelog_rx *rx;
	size_t bytes, bufs;
	double apply_s;
	int err;
} sink;

static int
to_sink(void *arg, ls_buf *b)
{
	sink *k = arg;
	k->bytes += b->len;
	k->bufs++;
	if (k->rx != NULL) {
		double t = now_s();
		int rc = ls_changelog_rx_add(k->rx, b->data, b->len, NULL);
		k->apply_s += now_s() - t;
		if (rc != 0 && rc != LS_EAGAIN)
			k->err = rc;
	}
	ls_buf_free(b);
	return 0;
}

typedef struct owner {
	ls_state *st;
	uint64_t ckpt;
	sink out;
} owner;

/* Checkpoint the owner's pending writes: seal, write (to the standby),
 * fold.  The three times into t[0..2]. */
static int
checkpoint(owner *o, double t[3])
{
	double t0 = now_s();
	int rc = ls_state_seal(o->st, ++o->ckpt);
	size_t bytes;
	if (rc == 0) {
		o->out.apply_s = 0;
		rc = ls_changelog_write(o->st, o->ckpt, 0, to_sink, &o->out,
		                        &bytes);
	}
	double t1 = now_s();
	if (rc == 0)
		rc = ls_state_fold(o->st, o->ckpt);
	double t2 = now_s();
	if (rc == 0 && o->out.err != 0)
		rc = o->out.err;
	if (t != NULL) {
		t[1] = o->out.apply_s;
		t[0] = t1 - t0 - o->out.apply_s;
		t[2] = t2 - t1;
	}
	return rc;
}

static int
load(owner *o, uint64_t n, uint64_t per_ckpt)
{
	char k[KLEN + 1];
	unsigned char v[VLEN];
	for (uint64_t i = 0; i < n; i++) {
		key_of(i, k);
		memset(v, (int)(i & 0xff), VLEN);
		if (ls_state_put(o->st, k, KLEN, v, VLEN) != 0)
			return 1;
		if ((i + 1) % per_ckpt == 0 || i + 1 == n) {
			if (checkpoint(o, NULL) != 0)
				return 1;
		}
	}
	return 0;
}

static int
touch(owner *o, uint64_t n, uint64_t keys)
{
	char k[KLEN + 1];
	unsigned char v[VLEN];
	for (uint64_t j = 0; j < n; j++) {
		uint64_t r = rnd();
		key_of(r % keys, k);
		memset(v, (int)(r >> 56), VLEN);
		if (ls_state_put(o->st, k, KLEN, v, VLEN) != 0)
			return 1;
	}
	return 0;
}

/* One state of `keys` keys; figures for each touched count. */
static int
cost_run(uint64_t keys, const uint64_t *touched, int nt, int runs,
         const char *label)
{
	side a, b;
	owner o;
	char name[96];
	int rc;

	memset(&o, 0, sizeof(o));
	if ((rc = side_open(&a, 0, 0)) != 0 || (rc = side_open(&b, 0, 0)) != 0)
		return ls_bench_fail("state", "open: %s", ls_errname(rc));
	if (ls_state_open(a.s, PART, &o.st) != 0 ||
	    ls_changelog_rx_new(b.s, &o.out.rx) != 0)
		return ls_bench_fail("state", "state_open");
	if (load(&o, keys, 100000) != 0)
		return ls_bench_fail("state", "load");

	/* the whole-state snapshot a non-incremental checkpoint ships */
	sink whole = {0};
	double t0 = now_s();
	if (ls_changelog_export(a.s, PART, 0, to_sink, &whole, NULL) != 0)
		return ls_bench_fail("state", "export");
	double tw = now_s() - t0;
	snprintf(name, sizeof(name), "snapshot %s keys", label);
	ls_bench_print(name, "%10.1f MB  %8.1f ms export", whole.bytes / 1e6,
	               tw * 1e3);

	for (int i = 0; i < nt; i++) {
		double *ts = calloc((size_t)runs * 3, sizeof(double));
		double *by = calloc((size_t)runs, sizeof(double));
		for (int r = 0; r < runs; r++) {
			double t[3];
			o.out.bytes = 0;
			if (touch(&o, touched[i], keys) != 0 ||
			    checkpoint(&o, t) != 0)
				return ls_bench_fail("state", "checkpoint");
			ts[r] = t[0];
			ts[runs + r] = t[1];
			ts[2 * runs + r] = t[2];
			by[r] = (double)o.out.bytes;
		}
		snprintf(name, sizeof(name), "ckpt %s keys, %llu writes", label,
		         (unsigned long long)touched[i]);
		ls_bench_print(name,
		               "%10.2f MB  %8.2f ms write  %8.2f ms apply  "
		               "%8.2f ms fold  (%d runs, medians)",
		               ls_bench_median(by, (size_t)runs) / 1e6,
		               ls_bench_median(ts, (size_t)runs) * 1e3,
		               ls_bench_median(ts + runs, (size_t)runs) * 1e3,
		               ls_bench_median(ts + 2 * runs, (size_t)runs) *
		                   1e3,
		               runs);
		free(ts);
		free(by);
	}

	/* standby == owner, checked on a sample */
	uint64_t base;
	if (ls_store_state_base(b.s, PART, &base) != 0 || base != o.ckpt)
		return ls_bench_fail("state", "standby base %llu, owner %llu",
		                     (unsigned long long)base,
		                     (unsigned long long)o.ckpt);
	ls_state *sb;
	if (ls_state_open(b.s, PART, &sb) != 0)
		return ls_bench_fail("state", "standby open");
	for (int j = 0; j < 2000; j++) {
		char k[KLEN + 1];
		void *v1, *v2;
		size_t l1, l2;
		key_of(rnd() % keys, k);
		if (ls_state_get(o.st, k, KLEN, &v1, &l1) != 0 ||
		    ls_state_get(sb, k, KLEN, &v2, &l2) != 0 || l1 != l2 ||
		    memcmp(v1, v2, l1) != 0)
			return ls_bench_fail("state", "standby differs at %s", k);
		free(v1);
		free(v2);
	}
	ls_state_close(sb);
	ls_changelog_rx_free(o.out.rx);
	ls_state_close(o.st);
	side_close(&a);
	side_close(&b);
	return 0;
}

static int
rss_run(uint64_t keys)
{
	side a;
	owner o;
	int rc;

	memset(&o, 0, sizeof(o));
	int64_t before = ls_bench_proc_bytes("VmRSS");
	if ((rc = side_open(&a, 0, 0)) != 0)
		return ls_bench_fail("state", "open: %s", ls_errname(rc));
	if (ls_state_open(a.s, PART, &o.st) != 0)
		return ls_bench_fail("state", "state_open");
	double t0 = now_s();
	if (load(&o, keys, 100000) != 0)
		return ls_bench_fail("state", "load");
	double tl = now_s() - t0;
	int64_t hwm = ls_bench_proc_bytes("VmHWM");
	int64_t after = ls_bench_proc_bytes("VmRSS");
	uint64_t found = 0;
	for (int j = 0; j < 100000; j++) {
		char k[KLEN + 1];
		void *v;
		size_t l;
		key_of(rnd() % keys, k);
		if (ls_state_get(o.st, k, KLEN, &v, &l) == 0) {
			found++;
			free(v);
		}
	}
	if (found != 100000)
		return ls_bench_fail("state", "%llu of 100000 keys found",
		                     (unsigned long long)found);
	int64_t reads = ls_bench_proc_bytes("VmRSS");
	ls_store_stats ss;
	ls_store_stats_get(a.s, &ss);
	char name[64];
	snprintf(name, sizeof(name), "memory %llu keys",
	         (unsigned long long)keys);
	ls_bench_print(name,
	               "peak RSS %.0f MiB, after load %.0f MiB, after 100k "
	               "reads %.0f MiB (start %.0f MiB; cache %.0f MiB, "
	               "memtables %.0f MiB, SST %.0f MiB; load %.1f s)",
	               hwm / 1048576.0, after / 1048576.0, reads / 1048576.0,
	               before / 1048576.0, ss.cache_usage / 1048576.0,
	               ss.memtable_bytes / 1048576.0, ss.sst_bytes / 1048576.0,
	               tl);
	ls_state_close(o.st);
	side_close(&a);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: state_bench [--rss KEYS]\n"
		       "  checkpoint cost of keyed state vs. state size and "
		       "share written;\n  --rss: memory with KEYS keys of "
		       "state\n");
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "--rss") == 0)
		return rss_run(ls_bench_scaled(strtoull(argv[2], NULL, 10),
		                               1000));
	int runs = ls_bench_runs(3);
	uint64_t n = ls_bench_scaled(1000000, 1000);
	uint64_t t[3] = {n / 100, n / 10, n};
	char label[32];
	snprintf(label, sizeof(label), "%lluk", (unsigned long long)(n / 1000));
	if (cost_run(n, t, 3, runs, label) != 0)
		return 1;
	/* the same writes on a state ten times smaller */
	uint64_t t2[1] = {n / 100};
	snprintf(label, sizeof(label), "%lluk",
	         (unsigned long long)(n / 10000));
	return cost_run(n / 10, t2, 1, runs, label);
}
