/*
 * store_test.c -- the RocksDB state store: raw keys, ordered and bounded
 * scans, prefix deletes, atomic batches, counter merges, per-partition
 * state with read-your-writes, checkpoint blobs and their id order, name
 * limits, durability across close and across a process that dies without
 * closing, and many partitions on a small memory budget.
 *
 * Every test works in its own mkdtemp directory under /tmp, removed at the
 * end.  The crash case re-executes this program with --crash-child DIR:
 * that process writes, commits and _exit()s (or is killed) without closing
 * the store, and the parent reopens the directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/err.h"
#include "runtime/log.h"
#include "runtime/store.h"

static char self_exe[PATH_MAX];

/* ---- fixture ------------------------------------------------------------ */

struct fixture {
	char dir[64];
	ls_store *s;
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static ls_store *
open_store(const char *dir, size_t cache, size_t wbuf)
{
	ls_store_opts o = {.block_cache_bytes = cache,
	                   .write_buffer_bytes = wbuf};
	ls_store *s = NULL;
	char err[256] = "";
	int rc = ls_store_open(dir, &o, &s, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "open %s: %s (%s)\n", dir, ls_errname(rc), err);
	assert_int_equal(rc, 0);
	assert_non_null(s);
	return s;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ls-store-test-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	f->s = open_store(f->dir, 0, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	ls_store_close(f->s);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void
reopen(struct fixture *f)
{
	ls_store_close(f->s);
	f->s = open_store(f->dir, 0, 0);
}

/* ---- helpers ------------------------------------------------------------ */

/* Assert that key k holds the string value want (NULL: absent). */
static void
expect_raw(ls_store *s, const char *k, const char *want)
{
	void *v = NULL;
	size_t vl = 0;
	int rc = ls_store_get(s, k, strlen(k), &v, &vl);
	if (want == NULL) {
		assert_int_equal(rc, LS_ENOENT);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(vl, strlen(want));
	assert_memory_equal(v, want, vl);
	assert_int_equal(((char *)v)[vl], '\0');
	free(v);
}

static void
expect_state(ls_state *st, const char *k, const char *want)
{
	void *v = NULL;
	size_t vl = 0;
	int rc = ls_state_get(st, k, strlen(k), &v, &vl);
	if (want == NULL) {
		assert_int_equal(rc, LS_ENOENT);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(vl, strlen(want));
	assert_memory_equal(v, want, vl);
	free(v);
}

static int64_t
counter(ls_state *st, const char *k)
{
	int64_t n = -12345;
	assert_int_equal(ls_state_counter(st, k, strlen(k), &n), 0);
	return n;
}

static int64_t
raw_counter(ls_store *s, const void *k, size_t kl)
{
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(ls_store_get(s, k, kl, &v, &vl), 0);
	assert_int_equal(vl, 8);
	const unsigned char *b = v;
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | b[i];
	free(v);
	return (int64_t)n;
}

/* Collects a scan as "key=value;" text (bytes < 0x20 or >= 0x7f as \xx). */
struct collect {
	char text[8192];
	size_t len;
	int stop_after; /* > 0: return 99 after this many */
	int n;
};

static void
append_bytes(struct collect *c, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		int w;
		if (b[i] < 0x20 || b[i] >= 0x7f)
			w = snprintf(c->text + c->len, sizeof(c->text) - c->len,
			             "\\%02x", b[i]);
		else
			w = snprintf(c->text + c->len, sizeof(c->text) - c->len,
			             "%c", b[i]);
		c->len += (size_t)w;
	}
}

static int
collect_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct collect *c = arg;
	append_bytes(c, k, kl);
	append_bytes(c, "=", 1);
	append_bytes(c, v, vl);
	append_bytes(c, ";", 1);
	c->n++;
	if (c->stop_after > 0 && c->n == c->stop_after)
		return 99;
	return 0;
}

static const char *
scan_raw(ls_store *s, const char *from, const char *to)
{
	static struct collect c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(ls_store_scan(s, from, from ? strlen(from) : 0, to,
	                               to ? strlen(to) : 0, collect_fn, &c),
	                 0);
	return c.text;
}

static const char *
scan_prefix(ls_store *s, const void *p, size_t pl)
{
	static struct collect c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(ls_store_scan_prefix(s, p, pl, collect_fn, &c), 0);
	return c.text;
}

static const char *
scan_state(ls_state *st, const char *from, const char *to)
{
	static struct collect c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(ls_state_scan(st, from, from ? strlen(from) : 0, to,
	                               to ? strlen(to) : 0, collect_fn, &c),
	                 0);
	return c.text;
}

static void
put_str(ls_store *s, const char *k, const char *v)
{
	assert_int_equal(ls_store_put(s, k, strlen(k), v, strlen(v)), 0);
}

static void
sput(ls_state *st, const char *k, const char *v)
{
	assert_int_equal(ls_state_put(st, k, strlen(k), v, strlen(v)), 0);
}

/* ---- raw keys ----------------------------------------------------------- */

static void
test_put_get_delete(void **state)
{
	struct fixture *f = *state;

	expect_raw(f->s, "x", NULL);
	put_str(f->s, "x", "one");
	expect_raw(f->s, "x", "one");
	put_str(f->s, "x", "two"); /* overwrite */
	expect_raw(f->s, "x", "two");
	put_str(f->s, "empty", "");
	expect_raw(f->s, "empty", "");
	/* binary keys and values with NUL bytes */
	const char bk[] = {'k', 0, 'z'}, bv[] = {0, 1, 0, 2};
	assert_int_equal(ls_store_put(f->s, bk, 3, bv, 4), 0);
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(ls_store_get(f->s, bk, 3, &v, &vl), 0);
	assert_int_equal(vl, 4);
	assert_memory_equal(v, bv, 4);
	free(v);
	assert_int_equal(ls_store_get(f->s, bk, 2, &v, &vl), LS_ENOENT);
	/* delete, twice */
	assert_int_equal(ls_store_delete(f->s, "x", 1), 0);
	expect_raw(f->s, "x", NULL);
	assert_int_equal(ls_store_delete(f->s, "x", 1), 0);
	expect_raw(f->s, "empty", "");
	/* the empty key is a key */
	assert_int_equal(ls_store_put(f->s, "", 0, "e", 1), 0);
	assert_int_equal(ls_store_get(f->s, "", 0, &v, &vl), 0);
	assert_int_equal(vl, 1);
	free(v);
	/* limits and bad arguments */
	static char big[LS_STORE_KEY_MAX + 1];
	assert_int_equal(ls_store_put(f->s, big, sizeof(big), "v", 1),
	                 LS_ERANGE);
	assert_int_equal(ls_store_put(f->s, big, LS_STORE_KEY_MAX, "v", 1), 0);
	assert_int_equal(ls_store_get(f->s, big, sizeof(big), &v, &vl),
	                 LS_ERANGE);
	assert_int_equal(ls_store_put(NULL, "a", 1, "v", 1), LS_EINVAL);
	assert_int_equal(ls_store_put(f->s, NULL, 1, "v", 1), LS_EINVAL);
	assert_int_equal(ls_store_get(f->s, "a", 1, NULL, &vl), LS_EINVAL);
	/* reopen keeps everything */
	reopen(f);
	expect_raw(f->s, "empty", "");
	expect_raw(f->s, "x", NULL);
	assert_int_equal(ls_store_get(f->s, bk, 3, &v, &vl), 0);
	assert_memory_equal(v, bv, 4);
	free(v);
}

static void
test_scan_and_prefix_delete(void **state)
{
	struct fixture *f = *state;
	const char ff1[] = "\xff", ff2[] = "\xff\xff",
	           ff2a[] = "\xff\xff"
	                    "a";

	/* written out of order */
	put_str(f->s, "b", "4");
	put_str(f->s, "abc", "3");
	put_str(f->s, "a", "1");
	put_str(f->s, "ab", "2");
	put_str(f->s, "ac", "5");
	put_str(f->s, "b\xff", "6");
	put_str(f->s, "c", "7");
	put_str(f->s, ff1, "8");
	put_str(f->s, ff2, "9");
	put_str(f->s, ff2a, "10");

	assert_string_equal(
	    scan_raw(f->s, NULL, NULL),
	    "a=1;ab=2;abc=3;ac=5;b=4;b\\ff=6;c=7;\\ff=8;\\ff\\ff=9;"
	    "\\ff\\ffa=10;");
	/* [from, to): from included, to excluded */
	assert_string_equal(scan_raw(f->s, "ab", "b"), "ab=2;abc=3;ac=5;");
	assert_string_equal(scan_raw(f->s, "ab", "abc"), "ab=2;");
	assert_string_equal(scan_raw(f->s, "aa", "ab"), "");
	assert_string_equal(scan_raw(f->s, "b", NULL),
	                    "b=4;b\\ff=6;c=7;\\ff=8;\\ff\\ff=9;\\ff\\ffa=10;");
	assert_string_equal(scan_raw(f->s, NULL, "ab"), "a=1;");
	/* prefix scans, including a prefix ending in 0xFF */
	assert_string_equal(scan_prefix(f->s, "ab", 2), "ab=2;abc=3;");
	assert_string_equal(scan_prefix(f->s, "b", 1), "b=4;b\\ff=6;");
	assert_string_equal(scan_prefix(f->s, ff2, 2),
	                    "\\ff\\ff=9;\\ff\\ffa=10;");
	assert_string_equal(scan_prefix(f->s, "z", 1), "");
	/* a callback stops the scan and its value comes back */
	struct collect c = {.stop_after = 2};
	assert_int_equal(ls_store_scan(f->s, NULL, 0, NULL, 0, collect_fn, &c),
	                 99);
	assert_string_equal(c.text, "a=1;ab=2;");

	/* prefix deletes */
	assert_int_equal(ls_store_delete_prefix(f->s, "ab", 2), 0);
	assert_string_equal(scan_prefix(f->s, "a", 1), "a=1;ac=5;");
	assert_int_equal(ls_store_delete_prefix(f->s, "b", 1), 0);
	expect_raw(f->s, "b", NULL);
	expect_raw(f->s, "b\xff", NULL);
	expect_raw(f->s, "c", "7");
	/* a prefix with no successor (all 0xFF) */
	assert_int_equal(ls_store_delete_prefix(f->s, ff2, 2), 0);
	assert_string_equal(scan_raw(f->s, NULL, NULL), "a=1;ac=5;c=7;\\ff=8;");
	/* survives a flush to SST files and a reopen */
	assert_int_equal(ls_store_flush(f->s), 0);
	reopen(f);
	assert_string_equal(scan_raw(f->s, NULL, NULL), "a=1;ac=5;c=7;\\ff=8;");
	/* the empty prefix is every key */
	assert_int_equal(ls_store_delete_prefix(f->s, "", 0), 0);
	assert_string_equal(scan_raw(f->s, NULL, NULL), "");
	put_str(f->s, "new", "1");
	assert_string_equal(scan_raw(f->s, NULL, NULL), "new=1;");
}

/* ---- batches ------------------------------------------------------------ */

static void
test_batch(void **state)
{
	struct fixture *f = *state;
	ls_store_batch *b = NULL;

	put_str(f->s, "old/1", "x");
	put_str(f->s, "old/2", "y");
	put_str(f->s, "keep", "k");
	assert_int_equal(ls_store_batch_new(&b), 0);
	ls_store_batch_put(b, "a", 1, "1", 1);
	ls_store_batch_put(b, "b", 1, "2", 1);
	ls_store_batch_delete(b, "keep", 4);
	ls_store_batch_delete_prefix(b, "old/", 4);
	ls_store_batch_put(b, "old/3", 5, "z", 1); /* after the range delete */
	ls_store_batch_add(b, "n", 1, 5);
	ls_store_batch_add(b, "n", 1, -2);
	assert_int_equal(ls_store_batch_count(b), 7);
	/* nothing visible before the commit */
	assert_string_equal(scan_raw(f->s, NULL, NULL),
	                    "keep=k;old/1=x;old/2=y;");
	assert_int_equal(ls_store_batch_commit(f->s, b), 0);
	assert_int_equal(ls_store_batch_count(b), 0);
	expect_raw(f->s, "keep", NULL);
	expect_raw(f->s, "old/1", NULL);
	expect_raw(f->s, "old/3", "z");
	expect_raw(f->s, "a", "1");
	assert_int_equal(raw_counter(f->s, "n", 1), 3);

	/* a put before a prefix delete in the same batch is deleted */
	ls_store_batch_put(b, "p/1", 3, "1", 1);
	ls_store_batch_delete_prefix(b, "p/", 2);
	ls_store_batch_put(b, "p/2", 3, "2", 1);
	assert_int_equal(ls_store_batch_commit(f->s, b), 0);
	assert_string_equal(scan_prefix(f->s, "p/", 2), "p/2=2;");

	/* one refused operation: the commit writes nothing and says why */
	static char big[LS_STORE_KEY_MAX + 1];
	ls_store_batch_put(b, "c", 1, "3", 1);
	ls_store_batch_put(b, big, sizeof(big), "v", 1);
	ls_store_batch_put(b, "d", 1, "4", 1);
	assert_int_equal(ls_store_batch_count(b), 2);
	assert_int_equal(ls_store_batch_commit(f->s, b), LS_ERANGE);
	expect_raw(f->s, "c", NULL);
	expect_raw(f->s, "d", NULL);
	/* ... and the batch is usable again */
	ls_store_batch_put(b, "c", 1, "3", 1);
	assert_int_equal(ls_store_batch_commit(f->s, b), 0);
	expect_raw(f->s, "c", "3");
	/* clear forgets */
	ls_store_batch_put(b, "e", 1, "5", 1);
	ls_store_batch_clear(b);
	assert_int_equal(ls_store_batch_count(b), 0);
	assert_int_equal(ls_store_batch_commit(f->s, b), 0);
	expect_raw(f->s, "e", NULL);
	/* an empty commit is fine */
	assert_int_equal(ls_store_batch_commit(f->s, b), 0);
	ls_store_batch_free(b);
	ls_store_batch_free(NULL);

	/* reopen after close sees the committed batches */
	reopen(f);
	assert_string_equal(
	    scan_raw(f->s, NULL, NULL),
	    "a=1;b=2;c=3;n=\\03\\00\\00\\00\\00\\00\\00\\00;old/3=z;p/2=2;");
}

/* A reader scanning while a writer commits batches that each rewrite all
 * KEYS keys with one generation number must never see two generations in
 * one scan. */
#define KEYS        16
#define GENERATIONS 300

struct race {
	ls_store *s;
	atomic_int done;
	int scans, mixed, incomplete;
};

struct gen_check {
	int n;
	char first[16];
	int mixed;
};

static int
gen_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct gen_check *g = arg;
	(void)k;
	(void)kl;
	if (g->n == 0)
		snprintf(g->first, sizeof(g->first), "%.*s", (int)vl,
		         (const char *)v);
	else if (strlen(g->first) != vl || memcmp(g->first, v, vl) != 0)
		g->mixed = 1;
	g->n++;
	return 0;
}

static void *
reader(void *arg)
{
	struct race *r = arg;
	int last = 0;
	while (!last) {
		last = atomic_load(&r->done);
		struct gen_check g = {0};
		if (ls_store_scan_prefix(r->s, "g/", 2, gen_fn, &g) != 0)
			r->incomplete++;
		r->scans++;
		r->mixed += g.mixed;
		r->incomplete += g.n != KEYS;
	}
	return NULL;
}

static void
test_batch_atomic_visibility(void **state)
{
	struct fixture *f = *state;
	struct race r = {.s = f->s};
	ls_store_batch *b = NULL;
	char k[16], v[16];
	pthread_t th;

	assert_int_equal(ls_store_batch_new(&b), 0);
	for (int i = 0; i < KEYS; i++) {
		snprintf(k, sizeof(k), "g/%02d", i);
		ls_store_batch_put(b, k, strlen(k), "0", 1);
	}
	assert_int_equal(ls_store_batch_commit(f->s, b), 0);
	assert_int_equal(pthread_create(&th, NULL, reader, &r), 0);
	for (int gen = 1; gen <= GENERATIONS; gen++) {
		snprintf(v, sizeof(v), "%d", gen);
		/* half as a prefix delete + puts, half as plain puts */
		if (gen % 2 == 0)
			ls_store_batch_delete_prefix(b, "g/", 2);
		for (int i = 0; i < KEYS; i++) {
			snprintf(k, sizeof(k), "g/%02d", i);
			ls_store_batch_put(b, k, strlen(k), v, strlen(v));
		}
		assert_int_equal(ls_store_batch_commit(f->s, b), 0);
	}
	atomic_store(&r.done, 1);
	pthread_join(th, NULL);
	ls_store_batch_free(b);
	assert_true(r.scans >= 1);
	assert_int_equal(r.mixed, 0);
	assert_int_equal(r.incomplete, 0);
	struct gen_check g = {0};
	assert_int_equal(ls_store_scan_prefix(f->s, "g/", 2, gen_fn, &g), 0);
	assert_int_equal(g.n, KEYS);
	assert_string_equal(g.first, "300");
}

/* ---- counters ----------------------------------------------------------- */

static void
test_counters(void **state)
{
	struct fixture *f = *state;
	ls_state *st = NULL;

	/* raw counters: missing = 0, negative deltas, wrap-around */
	assert_int_equal(ls_store_add(f->s, "c", 1, 10), 0);
	assert_int_equal(ls_store_add(f->s, "c", 1, -3), 0);
	assert_int_equal(raw_counter(f->s, "c", 1), 7);
	assert_int_equal(ls_store_add(f->s, "w", 1, INT64_MAX), 0);
	assert_int_equal(ls_store_add(f->s, "w", 1, 1), 0);
	assert_true(raw_counter(f->s, "w", 1) == INT64_MIN);
	/* a value that is not 8 bytes counts as 0 */
	put_str(f->s, "s", "text");
	assert_int_equal(ls_store_add(f->s, "s", 1, 4), 0);
	assert_int_equal(raw_counter(f->s, "s", 1), 4);

	/* state counters across commits, a flush and a reopen */
	assert_int_equal(ls_state_open(f->s, "p0", &st), 0);
	assert_int_equal(counter(st, "hits"), 0);
	for (int i = 1; i <= 100; i++)
		assert_int_equal(ls_state_add(st, "hits", 4, i), 0);
	assert_int_equal(counter(st, "hits"), 5050); /* pending only */
	assert_int_equal(ls_state_commit(st), 0);
	assert_int_equal(counter(st, "hits"), 5050);
	assert_int_equal(ls_state_add(st, "hits", 4, -50), 0);
	assert_int_equal(counter(st, "hits"), 5000); /* committed + pending */
	assert_int_equal(ls_state_commit(st), 0);
	assert_int_equal(ls_store_flush(f->s), 0);
	assert_int_equal(ls_state_add(st, "hits", 4, 7), 0);
	assert_int_equal(ls_state_commit(st), 0);
	ls_state_close(st);
	reopen(f);
	assert_int_equal(ls_state_open(f->s, "p0", &st), 0);
	assert_int_equal(counter(st, "hits"), 5007);
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(ls_state_get(st, "hits", 4, &v, &vl), 0);
	assert_int_equal(vl, 8);
	assert_memory_equal(v, "\x8f\x13\0\0\0\0\0\0", 8); /* 5007 LE */
	free(v);
	assert_int_equal(ls_state_add(st, "hits", 4, 3), 0);
	assert_int_equal(ls_state_get(st, "hits", 4, &v, &vl), 0);
	assert_memory_equal(v, "\x92\x13\0\0\0\0\0\0", 8); /* 5010 */
	free(v);

	/* add after put, after delete, after clear: the base is known */
	assert_int_equal(ls_state_put(st, "p", 1, "\x02\0\0\0\0\0\0\0", 8), 0);
	assert_int_equal(ls_state_add(st, "p", 1, 5), 0);
	assert_int_equal(counter(st, "p"), 7);
	assert_int_equal(ls_state_delete(st, "hits", 4), 0);
	assert_int_equal(counter(st, "hits"), 0);
	assert_int_equal(ls_state_add(st, "hits", 4, 2), 0);
	assert_int_equal(counter(st, "hits"), 2);
	assert_int_equal(ls_state_commit(st), 0);
	assert_int_equal(counter(st, "p"), 7);
	assert_int_equal(counter(st, "hits"), 2);
	assert_int_equal(ls_state_clear(st), 0);
	assert_int_equal(counter(st, "hits"), 0);
	assert_int_equal(ls_state_add(st, "hits", 4, 1), 0);
	assert_int_equal(counter(st, "hits"), 1);
	assert_int_equal(ls_state_commit(st), 0);
	assert_int_equal(counter(st, "hits"), 1);
	assert_int_equal(counter(st, "p"), 0);
	ls_state_close(st);
}

/* ---- per-partition state ------------------------------------------------ */

static void
test_partitions_isolated(void **state)
{
	struct fixture *f = *state;
	ls_state *a = NULL, *ab = NULL, *b = NULL;

	/* "a" is a byte prefix of "ab": the layout must still separate them */
	assert_int_equal(ls_state_open(f->s, "a", &a), 0);
	assert_int_equal(ls_state_open(f->s, "ab", &ab), 0);
	assert_int_equal(ls_state_open(f->s, "b", &b), 0);
	assert_string_equal(ls_state_partition(ab), "ab");
	sput(a, "k", "from a");
	sput(ab, "k", "from ab");
	sput(b, "k", "from b");
	sput(a, "x", "ax");
	assert_int_equal(ls_state_add(ab, "n", 1, 1), 0);
	assert_int_equal(ls_state_add(b, "n", 1, 2), 0);
	assert_int_equal(ls_state_commit(a), 0);
	assert_int_equal(ls_state_commit(ab), 0);
	assert_int_equal(ls_state_commit(b), 0);
	expect_state(a, "k", "from a");
	expect_state(ab, "k", "from ab");
	expect_state(b, "k", "from b");
	expect_state(ab, "x", NULL);
	assert_int_equal(counter(a, "n"), 0);
	assert_int_equal(counter(ab, "n"), 1);
	assert_int_equal(counter(b, "n"), 2);
	assert_string_equal(scan_state(a, NULL, NULL), "k=from a;x=ax;");
	assert_string_equal(scan_state(ab, NULL, NULL),
	                    "k=from ab;n=\\01\\00\\00\\00\\00\\00\\00\\00;");
	/* the raw layout is 's' 0 name 0 key */
	expect_raw(f->s, "s", NULL);
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(ls_store_get(f->s, "s\0ab\0k", 6, &v, &vl), 0);
	assert_memory_equal(v, "from ab", 7);
	free(v);
	/* clearing "a" leaves "ab" and "b" */
	assert_int_equal(ls_state_clear(a), 0);
	assert_int_equal(ls_state_commit(a), 0);
	assert_string_equal(scan_state(a, NULL, NULL), "");
	expect_state(ab, "k", "from ab");
	expect_state(b, "k", "from b");
	/* a second handle on the same partition sees committed data */
	ls_state *b2 = NULL;
	assert_int_equal(ls_state_open(f->s, "b", &b2), 0);
	expect_state(b2, "k", "from b");
	ls_state_close(b2);
	ls_state_close(a);
	ls_state_close(ab);
	ls_state_close(b);
}

static void
test_state_read_your_writes(void **state)
{
	struct fixture *f = *state;
	ls_state *st = NULL;

	assert_int_equal(ls_state_open(f->s, "rw", &st), 0);
	sput(st, "a", "1");
	sput(st, "c", "3");
	sput(st, "e", "5");
	assert_int_equal(ls_state_commit(st), 0);
	assert_int_equal(ls_state_pending(st), 0);

	/* pending writes: visible to the handle, not to the store */
	sput(st, "b", "2");
	sput(st, "c", "33");
	assert_int_equal(ls_state_delete(st, "e", 1), 0);
	assert_int_equal(ls_state_add(st, "n", 1, 9), 0);
	sput(st, "", "empty key");
	assert_int_equal(ls_state_pending(st), 5);
	expect_state(st, "b", "2");
	expect_state(st, "c", "33");
	expect_state(st, "e", NULL);
	expect_state(st, "a", "1");
	expect_state(st, "", "empty key");
	assert_int_equal(counter(st, "n"), 9);
	expect_raw(f->s, "s\0rw\0b", NULL);
	/* scans merge committed and pending, in key order */
	assert_string_equal(
	    scan_state(st, NULL, NULL),
	    "=empty key;a=1;b=2;c=33;n=\\09\\00\\00\\00\\00\\00\\00\\00;");
	assert_string_equal(scan_state(st, "b", "n"), "b=2;c=33;");
	assert_string_equal(scan_state(st, "a", "b"), "a=1;");
	assert_string_equal(scan_state(st, "c", NULL),
	                    "c=33;n=\\09\\00\\00\\00\\00\\00\\00\\00;");
	struct collect c = {.stop_after = 1};
	assert_int_equal(ls_state_scan(st, NULL, 0, NULL, 0, collect_fn, &c),
	                 99);

	/* close without commit drops everything pending */
	ls_state_close(st);
	assert_int_equal(ls_state_open(f->s, "rw", &st), 0);
	assert_string_equal(scan_state(st, NULL, NULL), "a=1;c=3;e=5;");

	/* clear, then new writes: only the new ones remain */
	sput(st, "z", "before clear");
	assert_int_equal(ls_state_clear(st), 0);
	expect_state(st, "a", NULL);
	expect_state(st, "z", NULL);
	assert_string_equal(scan_state(st, NULL, NULL), "");
	sput(st, "q", "after");
	assert_string_equal(scan_state(st, NULL, NULL), "q=after;");
	assert_int_equal(ls_state_pending(st), 2);
	assert_int_equal(ls_state_commit(st), 0);
	assert_string_equal(scan_state(st, NULL, NULL), "q=after;");
	assert_string_equal(scan_prefix(f->s, "s\0rw\0", 5),
	                    "s\\00rw\\00q=after;");

	/* many pending keys (the pending index grows), then commit */
	char k[32], v[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		snprintf(v, sizeof(v), "v%d", i);
		sput(st, k, v);
	}
	for (int i = 0; i < 1000; i += 2) {
		snprintf(k, sizeof(k), "k%04d", i);
		assert_int_equal(ls_state_delete(st, k, strlen(k)), 0);
	}
	expect_state(st, "k0999", "v999");
	expect_state(st, "k0998", NULL);
	assert_int_equal(ls_state_commit(st), 0);
	struct collect all = {0};
	assert_int_equal(ls_state_scan(st, "k", 1, "l", 1, collect_fn, &all),
	                 0);
	assert_int_equal(all.n, 500);
	expect_state(st, "k0001", "v1");
	/* a key too long and bad arguments */
	static char big[LS_STATE_KEY_MAX + 1];
	assert_int_equal(ls_state_put(st, big, sizeof(big), "v", 1), LS_ERANGE);
	assert_int_equal(ls_state_put(st, big, LS_STATE_KEY_MAX, "v", 1), 0);
	assert_int_equal(ls_state_commit(st), 0);
	assert_int_equal(ls_state_put(NULL, "a", 1, "v", 1), LS_EINVAL);
	assert_int_equal(ls_state_commit(NULL), LS_EINVAL);
	ls_state_close(st);
	ls_state_close(NULL);
}

/* ---- checkpoints -------------------------------------------------------- */

static void
expect_ckpt(ls_store *s, const char *topo, uint64_t id, const char *part,
            const char *want)
{
	void *v = NULL;
	size_t vl = 0;
	int rc = ls_store_ckpt_get(s, topo, id, part, &v, &vl);
	if (want == NULL) {
		assert_int_equal(rc, LS_ENOENT);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(vl, strlen(want));
	assert_memory_equal(v, want, vl);
	free(v);
}

static uint64_t
latest(ls_store *s, const char *topo, const char *part, int want_rc)
{
	uint64_t id = 777;
	assert_int_equal(ls_store_ckpt_latest(s, topo, part, &id), want_rc);
	return id;
}

/* The checkpoint ids of topo found by a raw scan, in key order. */
struct ids {
	uint64_t id[32];
	int n;
	size_t tl;
};

static int
ids_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct ids *x = arg;
	const unsigned char *b = k;
	uint64_t id = 0;
	(void)v;
	(void)vl;
	assert_true(kl >= 3 + x->tl + 8);
	for (int i = 0; i < 8; i++)
		id = id << 8 | b[3 + x->tl + i];
	if (x->n < 32)
		x->id[x->n++] = id;
	return 0;
}

static void
test_checkpoints(void **state)
{
	struct fixture *f = *state;
	const uint64_t ids[] = {256,        1,   (1ull << 32) + 1, 255,
	                        1ull << 32, 257, (1ull << 32) - 1, 0};
	char blob[64];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(blob, sizeof(blob), "p0@%llu",
		         (unsigned long long)ids[i]);
		assert_int_equal(ls_store_ckpt_put(f->s, "topo", ids[i], "p0",
		                                   blob, strlen(blob)),
		                 0);
	}
	/* p1 only has early ids; "topo2" and "top" are other topologies */
	assert_int_equal(ls_store_ckpt_put(f->s, "topo", 1, "p1", "a", 1), 0);
	assert_int_equal(ls_store_ckpt_put(f->s, "topo", 255, "p1", "b", 1), 0);
	assert_int_equal(ls_store_ckpt_put(f->s, "topo2", 9, "p0", "c", 1), 0);
	assert_int_equal(
	    ls_store_ckpt_put(f->s, "top", 1ull << 40, "p0", "d", 1), 0);

	expect_ckpt(f->s, "topo", 256, "p0", "p0@256");
	expect_ckpt(f->s, "topo", 1ull << 32, "p0", "p0@4294967296");
	expect_ckpt(f->s, "topo", 2, "p0", NULL);
	expect_ckpt(f->s, "topo", 9, "p0", NULL);
	expect_ckpt(f->s, "topo2", 9, "p0", "c");
	assert_true(latest(f->s, "topo", "p0", 0) == (1ull << 32) + 1);
	assert_true(latest(f->s, "topo", "p1", 0) == 255);
	assert_true(latest(f->s, "topo2", "p0", 0) == 9);
	assert_true(latest(f->s, "top", "p0", 0) == 1ull << 40);
	latest(f->s, "topo", "p2", LS_ENOENT);
	latest(f->s, "topo", "p", LS_ENOENT); /* a prefix of p0/p1 */
	latest(f->s, "none", "p0", LS_ENOENT);

	/* ids sort numerically in key order */
	struct ids x = {.tl = 4};
	assert_int_equal(ls_store_scan_prefix(f->s, "c\0topo\0", 7, ids_fn, &x),
	                 0);
	assert_int_equal(x.n, 10);
	for (int i = 1; i < x.n; i++)
		assert_true(x.id[i - 1] <= x.id[i]);
	assert_true(x.id[0] == 0 && x.id[x.n - 1] == (1ull << 32) + 1);

	/* gc keeps ids >= keep_from, for every partition of that topology */
	assert_int_equal(ls_store_ckpt_gc(f->s, "topo", 256), 0);
	expect_ckpt(f->s, "topo", 255, "p0", NULL);
	expect_ckpt(f->s, "topo", 1, "p0", NULL);
	expect_ckpt(f->s, "topo", 0, "p0", NULL);
	expect_ckpt(f->s, "topo", 256, "p0", "p0@256");
	latest(f->s, "topo", "p1", LS_ENOENT);
	assert_true(latest(f->s, "topo", "p0", 0) == (1ull << 32) + 1);
	assert_int_equal(ls_store_ckpt_gc(f->s, "topo", 1ull << 32), 0);
	expect_ckpt(f->s, "topo", (1ull << 32) - 1, "p0", NULL);
	expect_ckpt(f->s, "topo", 257, "p0", NULL);
	expect_ckpt(f->s, "topo", 1ull << 32, "p0", "p0@4294967296");
	assert_int_equal(ls_store_ckpt_gc(f->s, "topo", 0), 0);
	expect_ckpt(f->s, "topo", 1ull << 32, "p0", "p0@4294967296");
	/* latest walks back past ids the partition is not in */
	assert_int_equal(
	    ls_store_ckpt_put(f->s, "topo", 1ull << 33, "p9", "n", 1), 0);
	assert_true(latest(f->s, "topo", "p0", 0) == (1ull << 32) + 1);
	/* stray raw keys in the topology's range (an id without partition,
	 * a key too short for an id) do not confuse the walk */
	assert_int_equal(
	    ls_store_put(f->s, "c\0topo\0\0\0\0\2\0\0\0\0", 15, "?", 1), 0);
	assert_int_equal(ls_store_put(f->s, "c\0topo\0\0\0\0\3", 11, "?", 1),
	                 0);
	assert_true(latest(f->s, "topo", "p0", 0) == (1ull << 32) + 1);
	latest(f->s, "topo", "p1", LS_ENOENT);
	/* other topologies untouched */
	expect_ckpt(f->s, "topo2", 9, "p0", "c");
	expect_ckpt(f->s, "top", 1ull << 40, "p0", "d");

	/* replace, then through a batch together with another key */
	assert_int_equal(
	    ls_store_ckpt_put(f->s, "topo", 1ull << 32, "p0", "R", 1), 0);
	expect_ckpt(f->s, "topo", 1ull << 32, "p0", "R");
	ls_store_batch *b = NULL;
	assert_int_equal(ls_store_batch_new(&b), 0);
	ls_store_batch_ckpt_put(b, "topo", 1ull << 34, "p0", "B", 1);
	ls_store_batch_put(b, "offsets", 7, "42", 2);
	assert_int_equal(ls_store_batch_commit(f->s, b), 0);
	expect_ckpt(f->s, "topo", 1ull << 34, "p0", "B");
	expect_raw(f->s, "offsets", "42");
	assert_true(latest(f->s, "topo", "p0", 0) == 1ull << 34);
	ls_store_batch_ckpt_put(b, "", 1, "p0", "B", 1);
	assert_int_equal(ls_store_batch_commit(f->s, b), LS_EINVAL);
	ls_store_batch_free(b);

	/* drop removes the topology only ("top" and "topo2" stay) */
	assert_int_equal(ls_store_ckpt_drop(f->s, "topo"), 0);
	latest(f->s, "topo", "p0", LS_ENOENT);
	latest(f->s, "topo", "p9", LS_ENOENT);
	expect_ckpt(f->s, "topo2", 9, "p0", "c");
	assert_true(latest(f->s, "top", "p0", 0) == 1ull << 40);
	reopen(f);
	latest(f->s, "topo", "p0", LS_ENOENT);
	assert_true(latest(f->s, "topo2", "p0", 0) == 9);
}

/* ls_store_ckpt_find: the id found and whether it is final, or want_rc. */
static uint64_t
find(ls_store *s, const char *topo, uint64_t from, uint64_t at,
     const char *part, int want_rc, int want_final)
{
	uint64_t id = 777;
	int fin = -1;
	assert_int_equal(ls_store_ckpt_find(s, topo, from, at, part, &id, &fin),
	                 want_rc);
	if (want_rc == 0)
		assert_int_equal(fin, want_final);
	return id;
}

static int
count_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	(*(int *)arg)++;
	return 0;
}

/* What ls_store_ckpt_finals reported, as "partition@id" lines. */
struct finals {
	char text[512];
};

static void
finals_fn(void *arg, const char *part, uint64_t ckpt)
{
	struct finals *x = arg;
	size_t n = strlen(x->text);
	snprintf(x->text + n, sizeof(x->text) - n, "%s@%llx\n", part,
	         (unsigned long long)ckpt);
}

static const char *
finals(ls_store *s, const char *topo, uint64_t from, struct finals *x)
{
	x->text[0] = '\0';
	assert_int_equal(ls_store_ckpt_finals(s, topo, from, finals_fn, x), 0);
	return x->text;
}

/* Final marks of topology "t" ('c' 1 "t" 0 ...). */
static int
final_marks(ls_store *s)
{
	int n = 0;
	assert_int_equal(ls_store_scan_prefix(s, "c\1t\0", 4, count_fn, &n), 0);
	return n;
}

/* A final blob stands for every later id: find falls back to it (within
 * the given lower bound), gc keeps the newest one per partition below
 * keep_from, drop removes blobs and marks. */
static void
test_final_checkpoints(void **state)
{
	struct fixture *f = *state;
	const uint64_t E = 1ull << 32, E2 = 2ull << 32;
	char blob[32];

	/* epoch E: src/0 ends at E+3; w/0 runs on to E+6; w/1 ended at E+2
	 * and had ended at 5 in the epoch before, too */
	assert_int_equal(ls_store_ckpt_put(f->s, "t", E + 1, "src/0", "s1", 2),
	                 0);
	assert_int_equal(ls_store_ckpt_put(f->s, "t", E + 2, "src/0", "s2", 2),
	                 0);
	assert_int_equal(
	    ls_store_ckpt_put_final(f->s, "t", E + 3, "src/0", "sF", 2), 0);
	for (uint64_t k = 1; k <= 6; k++) {
		snprintf(blob, sizeof(blob), "w@%llu", (unsigned long long)k);
		assert_int_equal(ls_store_ckpt_put(f->s, "t", E + k, "w/0",
		                                   blob, strlen(blob)),
		                 0);
	}
	assert_int_equal(ls_store_ckpt_put_final(f->s, "t", 5, "w/1", "old", 3),
	                 0);
	assert_int_equal(
	    ls_store_ckpt_put_final(f->s, "t", E + 2, "w/1", "w1F", 3), 0);
	assert_int_equal(
	    ls_store_ckpt_put_final(f->s, "u", E + 1, "src/0", "uF", 2), 0);
	assert_int_equal(final_marks(f->s), 3);
	struct finals fl;
	assert_string_equal(finals(f->s, "t", 0, &fl),
	                    "src/0@100000003\nw/1@5\nw/1@100000002\n");
	assert_string_equal(finals(f->s, "t", E, &fl),
	                    "src/0@100000003\nw/1@100000002\n");
	assert_string_equal(finals(f->s, "t", E + 3, &fl), "src/0@100000003\n");
	assert_string_equal(finals(f->s, "v", 0, &fl), "");
	assert_int_equal(ls_store_ckpt_finals(f->s, "", 0, finals_fn, &fl),
	                 LS_EINVAL);

	/* find: the id itself first, else the newest final in [from, at] */
	assert_true(find(f->s, "t", E, E + 6, "src/0", 0, 1) == E + 3);
	assert_true(find(f->s, "t", E, E + 3, "src/0", 0, 1) == E + 3);
	assert_true(find(f->s, "t", E, E + 2, "src/0", 0, 0) == E + 2);
	assert_true(find(f->s, "t", E, E + 6, "w/0", 0, 0) == E + 6);
	find(f->s, "t", E, E + 7, "w/0", LS_ENOENT, 0);
	find(f->s, "t", E2, E2 + 1, "src/0", LS_ENOENT, 0);
	assert_true(find(f->s, "t", 0, E2 + 1, "src/0", 0, 1) == E + 3);
	assert_true(find(f->s, "t", E, E + 6, "w/1", 0, 1) == E + 2);
	assert_true(find(f->s, "t", 0, 6, "w/1", 0, 1) == 5);
	find(f->s, "t", 0, 4, "w/1", LS_ENOENT, 0);
	find(f->s, "t", 0, E + 6, "w", LS_ENOENT, 0); /* a name's prefix */
	find(f->s, "t", 0, E + 6, "w/1x", LS_ENOENT, 0);
	find(f->s, "v", 0, E + 6, "src/0", LS_ENOENT, 0);
	find(f->s, "t", 0, E + 6, "", LS_EINVAL, 0);
	assert_int_equal(ls_store_ckpt_find(f->s, "t", 0, 1, "w/0", NULL, NULL),
	                 LS_EINVAL);
	assert_int_equal(ls_store_ckpt_put_final(f->s, "", 1, "p", "x", 1),
	                 LS_EINVAL);
	assert_int_equal(ls_store_ckpt_put_final(NULL, "t", 1, "p", "x", 1),
	                 LS_EINVAL);

	/* gc: what a restore from E+5 or later needs stays */
	assert_int_equal(ls_store_ckpt_gc(f->s, "t", E + 5), 0);
	expect_ckpt(f->s, "t", E + 1, "src/0", NULL);
	expect_ckpt(f->s, "t", E + 2, "src/0", NULL);
	expect_ckpt(f->s, "t", E + 3, "src/0", "sF");
	expect_ckpt(f->s, "t", E + 4, "w/0", NULL);
	expect_ckpt(f->s, "t", E + 5, "w/0", "w@5");
	expect_ckpt(f->s, "t", E + 6, "w/0", "w@6");
	expect_ckpt(f->s, "t", E + 2, "w/1", "w1F");
	expect_ckpt(f->s, "t", 5, "w/1", NULL); /* superseded */
	find(f->s, "t", 0, 6, "w/1", LS_ENOENT, 0);
	assert_int_equal(final_marks(f->s), 2);
	assert_true(find(f->s, "t", E, E + 6, "src/0", 0, 1) == E + 3);
	assert_true(find(f->s, "t", E, E + 5, "w/1", 0, 1) == E + 2);
	/* again: nothing more goes */
	assert_int_equal(ls_store_ckpt_gc(f->s, "t", E + 5), 0);
	expect_ckpt(f->s, "t", E + 3, "src/0", "sF");
	expect_ckpt(f->s, "t", E + 2, "w/1", "w1F");
	expect_ckpt(f->s, "t", E + 5, "w/0", "w@5");

	/* the next epoch saves the final states again: the older ones go */
	assert_int_equal(
	    ls_store_ckpt_put_final(f->s, "t", E2 + 1, "src/0", "sF", 2), 0);
	assert_int_equal(
	    ls_store_ckpt_put_final(f->s, "t", E2 + 1, "w/1", "w1F", 3), 0);
	assert_int_equal(ls_store_ckpt_put(f->s, "t", E2 + 2, "w/0", "x", 1),
	                 0);
	assert_int_equal(ls_store_ckpt_gc(f->s, "t", E2 + 2), 0);
	expect_ckpt(f->s, "t", E + 3, "src/0", NULL);
	expect_ckpt(f->s, "t", E + 2, "w/1", NULL);
	expect_ckpt(f->s, "t", E + 6, "w/0", NULL);
	expect_ckpt(f->s, "t", E2 + 1, "src/0", "sF");
	expect_ckpt(f->s, "t", E2 + 1, "w/1", "w1F");
	expect_ckpt(f->s, "t", E2 + 2, "w/0", "x");
	assert_int_equal(final_marks(f->s), 2);
	assert_true(find(f->s, "t", E2, E2 + 2, "src/0", 0, 1) == E2 + 1);
	assert_string_equal(finals(f->s, "t", 0, &fl),
	                    "src/0@200000001\nw/1@200000001\n");

	/* drop: blobs and marks of "t" only */
	assert_int_equal(ls_store_ckpt_drop(f->s, "t"), 0);
	assert_int_equal(final_marks(f->s), 0);
	find(f->s, "t", 0, E2 + 2, "src/0", LS_ENOENT, 0);
	expect_ckpt(f->s, "t", E2 + 2, "w/0", NULL);
	expect_ckpt(f->s, "u", E + 1, "src/0", "uF");
	assert_true(find(f->s, "u", E, E + 9, "src/0", 0, 1) == E + 1);
}

/* State writes and other keys (input positions, a checkpoint blob) in one
 * atomic commit. */
static void
test_state_commit_with(void **state)
{
	struct fixture *f = *state;
	ls_state *st = NULL;
	ls_store_batch *b = NULL;
	static char big[LS_STORE_KEY_MAX + 1];

	assert_int_equal(ls_state_open(f->s, "w/0", &st), 0);
	assert_int_equal(ls_store_batch_new(&b), 0);
	sput(st, "old", "1");
	assert_int_equal(ls_state_commit(st), 0);

	assert_int_equal(ls_state_clear(st), 0);
	sput(st, "k", "v");
	assert_int_equal(ls_state_add(st, "n", 1, 3), 0);
	ls_store_batch_put(b, "pos/w/0", 7, "100", 3);
	ls_store_batch_ckpt_put(b, "t", 7, "w/0", "snap", 4);
	ls_store_batch_add(b, "pos/total", 9, 100);
	/* a refused extra operation: nothing applied, the state stays pending
	 */
	ls_store_batch_put(b, big, sizeof(big), "x", 1);
	assert_int_equal(ls_state_commit_with(st, b), LS_ERANGE);
	assert_int_equal(ls_store_batch_count(b), 0);
	assert_int_equal(ls_state_pending(st), 3);
	expect_raw(f->s, "pos/w/0", NULL);
	expect_ckpt(f->s, "t", 7, "w/0", NULL);
	void *v = NULL;
	size_t vl = 0;
	assert_int_equal(ls_store_get(f->s, "s\0w/0\0k", 7, &v, &vl),
	                 LS_ENOENT);
	assert_int_equal(ls_store_get(f->s, "s\0w/0\0old", 9, &v, &vl), 0);
	free(v);

	ls_store_batch_put(b, "pos/w/0", 7, "100", 3);
	ls_store_batch_ckpt_put(b, "t", 7, "w/0", "snap", 4);
	ls_store_batch_add(b, "pos/total", 9, 100);
	assert_int_equal(ls_state_commit_with(st, b), 0);
	assert_int_equal(ls_state_pending(st), 0);
	assert_int_equal(ls_store_batch_count(b), 0);
	expect_raw(f->s, "pos/w/0", "100");
	assert_int_equal(raw_counter(f->s, "pos/total", 9), 100);
	expect_ckpt(f->s, "t", 7, "w/0", "snap");
	assert_string_equal(scan_state(st, NULL, NULL),
	                    "k=v;n=\\03\\00\\00\\00\\00\\00\\00\\00;");
	assert_int_equal(ls_store_get(f->s, "s\0w/0\0old", 9, &v, &vl),
	                 LS_ENOENT);
	/* either side empty */
	ls_store_batch_put(b, "only", 4, "extra", 5);
	assert_int_equal(ls_state_commit_with(st, b), 0);
	expect_raw(f->s, "only", "extra");
	sput(st, "only", "state");
	assert_int_equal(ls_state_commit_with(st, b), 0);
	expect_state(st, "only", "state");
	assert_int_equal(ls_state_commit_with(st, NULL), 0);
	ls_store_batch_free(b);
	ls_state_close(st);
}

static void
test_names(void **state)
{
	struct fixture *f = *state;
	char n255[256], n256[257];
	ls_state *st = NULL;
	uint64_t id;
	void *v;
	size_t vl;

	memset(n255, 'x', 255);
	n255[255] = '\0';
	memset(n256, 'y', 256);
	n256[256] = '\0';

	/* 255 bytes work everywhere */
	assert_int_equal(ls_state_open(f->s, n255, &st), 0);
	sput(st, "k", "v");
	assert_int_equal(ls_state_commit(st), 0);
	expect_state(st, "k", "v");
	ls_state_close(st);
	assert_int_equal(ls_store_ckpt_put(f->s, n255, 3, n255, "b", 1), 0);
	expect_ckpt(f->s, n255, 3, n255, "b");
	assert_int_equal(ls_store_ckpt_latest(f->s, n255, n255, &id), 0);
	assert_true(id == 3);

	/* 256 bytes, empty and NULL names are refused */
	st = (ls_state *)&id;
	assert_int_equal(ls_state_open(f->s, n256, &st), LS_EINVAL);
	assert_null(st);
	assert_int_equal(ls_state_open(f->s, "", &st), LS_EINVAL);
	assert_int_equal(ls_state_open(f->s, NULL, &st), LS_EINVAL);
	assert_int_equal(ls_store_ckpt_put(f->s, n256, 1, "p", "b", 1),
	                 LS_EINVAL);
	assert_int_equal(ls_store_ckpt_put(f->s, "t", 1, n256, "b", 1),
	                 LS_EINVAL);
	assert_int_equal(ls_store_ckpt_put(f->s, "", 1, "p", "b", 1),
	                 LS_EINVAL);
	assert_int_equal(ls_store_ckpt_put(f->s, "t", 1, NULL, "b", 1),
	                 LS_EINVAL);
	assert_int_equal(ls_store_ckpt_get(f->s, n256, 1, "p", &v, &vl),
	                 LS_EINVAL);
	assert_int_equal(ls_store_ckpt_get(f->s, "t", 1, n256, &v, &vl),
	                 LS_EINVAL);
	assert_int_equal(ls_store_ckpt_latest(f->s, n256, "p", &id), LS_EINVAL);
	assert_int_equal(ls_store_ckpt_latest(f->s, "t", n256, &id), LS_EINVAL);
	assert_int_equal(ls_store_ckpt_gc(f->s, n256, 5), LS_EINVAL);
	assert_int_equal(ls_store_ckpt_drop(f->s, n256), LS_EINVAL);
	assert_int_equal(ls_store_ckpt_drop(f->s, ""), LS_EINVAL);
	/* nothing was written by the refused calls */
	struct collect c = {0};
	assert_int_equal(ls_store_scan(f->s, NULL, 0, NULL, 0, collect_fn, &c),
	                 0);
	assert_int_equal(c.n, 2);
}

/* ---- durability --------------------------------------------------------- */

/* The child of the crash test: write, commit, leave pending writes, die. */
static int
crash_child(const char *dir, const char *how)
{
	ls_store *s = NULL;
	ls_state *st = NULL;
	ls_store_batch *b = NULL;
	char err[256];

	if (ls_store_open(dir, NULL, &s, err, sizeof(err)) != 0)
		_exit(3);
	if (ls_state_open(s, "p7", &st) != 0 || ls_store_batch_new(&b) != 0)
		_exit(4);
	ls_state_put(st, "committed", 9, "yes", 3);
	ls_state_add(st, "n", 1, 41);
	if (ls_state_commit(st) != 0)
		_exit(5);
	ls_state_add(st, "n", 1, 1);
	if (ls_state_commit(st) != 0)
		_exit(5);
	ls_store_batch_put(b, "raw/1", 5, "r1", 2);
	ls_store_batch_put(b, "raw/2", 5, "r2", 2);
	if (ls_store_batch_commit(s, b) != 0 ||
	    ls_store_ckpt_put(s, "t", 5, "p7", "blob", 4) != 0)
		_exit(6);
	/* written but never committed: must not survive */
	ls_state_put(st, "pending", 7, "no", 2);
	ls_state_add(st, "n", 1, 1000);
	ls_store_batch_put(b, "raw/3", 5, "r3", 2);
	if (strcmp(how, "kill") == 0)
		raise(SIGKILL);
	_exit(0);
}

static void
run_crash_child(const char *dir, const char *how, int want_signal)
{
	int status;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *args[] = {self_exe, "--crash-child", (char *)dir,
		                (char *)how, NULL};
		execv(self_exe, args);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (want_signal) {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
	} else {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

static void
check_crash_survivor(const char *dir)
{
	ls_store *s = open_store(dir, 0, 0);
	ls_state *st = NULL;
	uint64_t id;

	assert_int_equal(ls_state_open(s, "p7", &st), 0);
	expect_state(st, "committed", "yes");
	expect_state(st, "pending", NULL);
	assert_int_equal(counter(st, "n"), 42);
	expect_raw(s, "raw/1", "r1");
	expect_raw(s, "raw/2", "r2");
	expect_raw(s, "raw/3", NULL);
	assert_int_equal(ls_store_ckpt_latest(s, "t", "p7", &id), 0);
	assert_true(id == 5);
	ls_state_close(st);
	ls_store_close(s);
}

static void
test_crash_without_close(void **state)
{
	struct fixture *f = *state;
	char dir[128];

	(void)f;
	snprintf(dir, sizeof(dir), "%s/exit", f->dir);
	run_crash_child(dir, "exit", 0);
	check_crash_survivor(dir);
	snprintf(dir, sizeof(dir), "%s/kill", f->dir);
	run_crash_child(dir, "kill", 1);
	check_crash_survivor(dir);
	/* the recovered store takes new writes and survives a clean close */
	ls_store *s = open_store(dir, 0, 0);
	put_str(s, "after", "crash");
	ls_store_close(s);
	s = open_store(dir, 0, 0);
	expect_raw(s, "after", "crash");
	expect_raw(s, "raw/1", "r1");
	ls_store_close(s);
}

static void
test_sync_and_busy(void **state)
{
	struct fixture *f = *state;
	char dir[128];
	ls_store *s = NULL, *again = NULL;
	char err[256] = "";
	ls_store_opts o = {.sync = 1};

	/* a second open of the same directory is refused while in use */
	assert_int_equal(ls_store_open(f->dir, NULL, &again, err, sizeof(err)),
	                 LS_EBUSY);
	assert_null(again);
	assert_true(strlen(err) > 0);
	assert_int_equal(ls_store_open(NULL, NULL, &again, NULL, 0), LS_EINVAL);
	/* a fsync-per-commit store in a directory created with its parents */
	snprintf(dir, sizeof(dir), "%s/deep/er", f->dir);
	assert_int_equal(ls_store_open(dir, &o, &s, err, sizeof(err)), 0);
	put_str(s, "k", "v");
	assert_int_equal(ls_store_sync(s), 0);
	ls_store_close(s);
	s = open_store(dir, 0, 0);
	expect_raw(s, "k", "v");
	ls_store_close(s);
	ls_store_close(NULL);
}

/* ---- many partitions, small budget ------------------------------------- */

#define NPART    2000
#define PER_PART 8

static void
test_many_partitions(void **state)
{
	struct fixture *f = *state;
	char dir[128], name[32], k[32], v[160];
	ls_state **st = calloc(NPART, sizeof(*st));
	ls_store_stats stats;

	assert_non_null(st);
	snprintf(dir, sizeof(dir), "%s/many", f->dir);
	/* 1 MiB of cache and 1 MiB of memtables for 2,000 partitions whose
	 * data (~2.5 MB) exceeds both */
	ls_store *s = open_store(dir, 1u << 20, 1u << 20);
	for (int p = 0; p < NPART; p++) {
		snprintf(name, sizeof(name), "stage/%d", p);
		assert_int_equal(ls_state_open(s, name, &st[p]), 0);
	}
	for (int round = 0; round < 2; round++) {
		for (int p = 0; p < NPART; p++) {
			for (int i = 0; i < PER_PART; i++) {
				snprintf(k, sizeof(k), "key%d", i);
				memset(v, 'a' + (p + i) % 26, sizeof(v));
				snprintf(v, 32, "%d/%d/%d", p, i, round);
				assert_int_equal(ls_state_put(st[p], k,
				                              strlen(k), v,
				                              sizeof(v)),
				                 0);
			}
			assert_int_equal(ls_state_add(st[p], "n", 1, p), 0);
			assert_int_equal(ls_state_commit(st[p]), 0);
		}
	}
	assert_int_equal(ls_store_stats_get(s, &stats), 0);
	assert_true(stats.memtable_bytes <=
	            stats.memtable_budget + (256u << 10));
	assert_true(stats.sst_bytes > 0); /* the data did not fit in memory */
	for (int p = NPART - 1; p >= 0; p--) {
		for (int i = 0; i < PER_PART; i++) {
			void *got = NULL;
			size_t gl = 0;
			char want[32];
			snprintf(k, sizeof(k), "key%d", i);
			snprintf(want, sizeof(want), "%d/%d/1", p, i);
			assert_int_equal(
			    ls_state_get(st[p], k, strlen(k), &got, &gl), 0);
			assert_int_equal(gl, sizeof(v));
			assert_string_equal(got, want);
			free(got);
		}
		assert_int_equal(counter(st[p], "n"), 2 * p);
		struct collect c = {0};
		assert_int_equal(
		    ls_state_scan(st[p], NULL, 0, NULL, 0, collect_fn, &c), 0);
		assert_int_equal(c.n, PER_PART + 1);
	}
	assert_int_equal(ls_store_stats_get(s, &stats), 0);
	assert_true(stats.cache_capacity == 1u << 20);
	/* the cache never holds more than its capacity once readers let go */
	assert_true(stats.cache_usage <= stats.cache_capacity);
	assert_true(stats.estimated_keys > 0);
	for (int p = 0; p < NPART; p++)
		ls_state_close(st[p]);
	free(st);
	ls_store_close(s);
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--crash-child") == 0)
		return crash_child(argv[2], argv[3]);
	if (realpath(argv[0], self_exe) == NULL)
		return 2;
	/* RocksDB errors are logged; the expected ones need not be shown */
	ls_log_set_level(LS_LOG_OFF);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_get_delete, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_scan_and_prefix_delete, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_atomic_visibility, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_partitions_isolated, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_state_read_your_writes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoints, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_final_checkpoints, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_state_commit_with, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_without_close, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_sync_and_busy, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_many_partitions, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
