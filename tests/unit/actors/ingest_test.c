/*
 * ingest_test.c -- the ingest log of an `http` source (actors/ingest.h)
 * and its replicas' side: records written with their run epoch and read
 * back event by event (an epoch whose bytes hold '\n' does not change the
 * counts), a replica hook that copies every record before append returns
 * and whose refusal gives LS_EBUSY with the record kept here, records
 * taken by another store (a standby) in full, merged by epoch (a deposed
 * owner's record loses against its successor's, never the reverse),
 * trimmed below a sequence number, and read by a log opened on that store
 * (a promoted standby) from a checkpointed position.
 *
 * Stores live in mkdtemp directories under /tmp.
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

#include "actors/ingest.h"
#include "runtime/err.h"
#include "runtime/store.h"

#define TOPO "t"
#define PART "in/0"

struct fixture {
	char dir[2][64];
	ls_store *s[2];
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	for (int i = 0; i < 2; i++) {
		ls_store_opts o = { .block_cache_bytes = 1 << 20,
			.write_buffer_bytes = 1 << 20 };
		char err[256];
		snprintf(f->dir[i], sizeof(f->dir[i]), "/tmp/ls-ingest-XXXXXX");
		if (mkdtemp(f->dir[i]) == NULL ||
		    ls_store_open(f->dir[i], &o, &f->s[i], err, sizeof(err)) != 0)
			return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < 2; i++) {
		ls_store_close(f->s[i]);
		nftw(f->dir[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(f);
	return 0;
}

/* ---- a replica hook: copies into a second store, or refuses ---- */

typedef struct replica {
	ls_store *st;
	int refuse;
	size_t pushes;
	uint64_t last_epoch, last_trim;
} replica;

static int
push(void *arg, const char *topology, const char *partition, uint64_t epoch,
    uint64_t trim, int sync, uint64_t seq, const void *value, size_t len)
{
	replica *r = arg;
	(void)sync;
	r->pushes++;
	r->last_epoch = epoch;
	r->last_trim = trim;
	if (r->refuse)
		return LS_ETIMEDOUT;
	int rv = ls_ingest_store_put(r->st, topology, partition, seq, value,
	    len, 0);
	if (rv == 0 && trim > 1)
		rv = ls_ingest_store_trim(r->st, topology, partition, trim);
	return rv;
}

/* ---- reading ---- */

typedef struct got {
	char ev[64][64];
	size_t n;
} got;

static void
on_ev(void *arg, const char *ev, size_t len)
{
	got *g = arg;
	assert_true(g->n < 64 && len < 64);
	memcpy(g->ev[g->n], ev, len);
	g->ev[g->n++][len] = '\0';
}

static ls_ingest *
open_log(ls_store *st, uint64_t epoch, const ls_ingest_repl *repl)
{
	ls_ingest_cfg c = {
		.store = st,
		.topology = TOPO,
		.partition = PART,
		.queue = 1000,
		.sync = 1,
		.epoch = epoch,
		.repl = repl,
	};
	ls_ingest *in = NULL;
	assert_int_equal(ls_ingest_open(&c, &in), 0);
	return in;
}

static void
append(ls_ingest *in, const char *text, uint32_t n, int want)
{
	assert_int_equal(ls_ingest_append(in, text, strlen(text), n, NULL),
	    want);
}

/* Records of a store, for checks. */
typedef struct recs {
	uint64_t seq[32], epoch[32];
	size_t n;
} recs;

static int
on_rec(void *arg, uint64_t seq, const void *v, size_t len)
{
	recs *r = arg;
	assert_true(r->n < 32);
	r->seq[r->n] = seq;
	assert_int_equal(ls_ingest_value_epoch(v, len, &r->epoch[r->n]), 0);
	r->n++;
	return 0;
}

static recs
records(ls_store *st)
{
	recs r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(ls_ingest_store_each(st, TOPO, PART, on_rec, &r), 0);
	return r;
}

/* ---- the tests ---- */

static void
test_epoch_records(void **state)
{
	struct fixture *f = *state;
	/* every byte of the epoch is '\n' */
	ls_ingest *in = open_log(f->s[0], 0x0a0a0a0a0a0a0a0aull, NULL);
	append(in, "a\nb\nc", 3, 0);
	append(in, "d", 1, 0);
	assert_int_equal(ls_ingest_backlog(in), 4);
	got g = { .n = 0 };
	assert_int_equal(ls_ingest_read(in, 100, on_ev, &g), 4);
	assert_string_equal(g.ev[0], "a");
	assert_string_equal(g.ev[2], "c");
	assert_string_equal(g.ev[3], "d");
	ls_ingest_free(in);
	/* reopened: the same records, the counts from the values */
	in = open_log(f->s[0], 7, NULL);
	assert_int_equal(ls_ingest_backlog(in), 4);
	recs r = records(f->s[0]);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[0], 1);
	assert_int_equal(r.epoch[1], 0x0a0a0a0a0a0a0a0aull);
	append(in, "e", 1, 0);
	r = records(f->s[0]);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.seq[2], 3);
	assert_int_equal(r.epoch[2], 7);
	ls_ingest_free(in);
}

static void
test_replicas(void **state)
{
	struct fixture *f = *state;
	replica rep = { f->s[1], 0, 0, 0, 0 };
	ls_ingest_repl hook = { push, &rep };
	ls_ingest *in = open_log(f->s[0], 3, &hook);
	append(in, "one\ntwo", 2, 0);
	append(in, "three", 1, 0);
	assert_int_equal(rep.pushes, 2);
	assert_int_equal(rep.last_epoch, 3);
	/* the replica holds both, byte for byte */
	recs r = records(f->s[1]);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[1], 2);
	/* refused: LS_EBUSY, and the record is still in this log */
	rep.refuse = 1;
	append(in, "four", 1, LS_EBUSY);
	assert_int_equal(records(f->s[0]).n, 3);
	assert_int_equal(records(f->s[1]).n, 2);
	rep.refuse = 0;
	/* the reader reads everything, then a checkpoint covers 1..2 */
	got g = { .n = 0 };
	assert_int_equal(ls_ingest_read(in, 2, on_ev, &g), 2);
	ls_ingest_trim(in, 2);
	append(in, "five", 1, 0);
	assert_int_equal(rep.last_trim, 2);
	r = records(f->s[1]);
	/* record 1 trimmed on the replica too; 3 never reached it */
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[0], 2);
	assert_int_equal(r.seq[1], 4);
	ls_ingest_free(in);
	/* the replica promoted: a log on its store, restored at position 2,
	 * reads what the owner acknowledged after it */
	ls_ingest *pr = open_log(f->s[1], 9, NULL);
	ls_ingest_seek(pr, 2);
	memset(&g, 0, sizeof(g));
	assert_int_equal(ls_ingest_read(pr, 100, on_ev, &g), 2);
	assert_string_equal(g.ev[0], "three");
	assert_string_equal(g.ev[1], "five");
	/* its next record follows the highest it holds */
	append(pr, "six", 1, 0);
	r = records(f->s[1]);
	assert_int_equal(r.seq[r.n - 1], 5);
	assert_int_equal(r.epoch[r.n - 1], 9);
	ls_ingest_free(pr);
}

static void
test_merge_by_epoch(void **state)
{
	struct fixture *f = *state;
	const char old_v[] = "\x02\x04\0\0\0\0\0\0\0old";
	const char new_v[] = "\x02\x06\0\0\0\0\0\0\0new";
	/* newer_only: the successor's record (epoch 6) wins either way */
	assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, PART, 5, old_v,
	                     sizeof(old_v) - 1, 1), 0);
	assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, PART, 5, new_v,
	                     sizeof(new_v) - 1, 1), 0);
	assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, PART, 5, old_v,
	                     sizeof(old_v) - 1, 1), 0);
	recs r = records(f->s[0]);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.epoch[0], 6);
	/* a standby's plain put takes what its owner sends */
	assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, PART, 5, old_v,
	                     sizeof(old_v) - 1, 0), 0);
	assert_int_equal(records(f->s[0]).epoch[0], 4);
	/* malformed values are refused */
	assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, PART, 6, "\x07x",
	                     2, 0), LS_ECORRUPT);
	assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, PART, 6, "\x02x",
	                     2, 0), LS_ECORRUPT);
	assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, PART, 0, new_v,
	                     sizeof(new_v) - 1, 0), LS_EINVAL);
	/* another partition's records are apart */
	assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, "in/1", 1, new_v,
	                     sizeof(new_v) - 1, 0), 0);
	assert_int_equal(records(f->s[0]).n, 1);
	/* trim deletes below seq only */
	for (uint64_t s = 6; s <= 9; s++)
		assert_int_equal(ls_ingest_store_put(f->s[0], TOPO, PART, s,
		                     new_v, sizeof(new_v) - 1, 0), 0);
	assert_int_equal(ls_ingest_store_trim(f->s[0], TOPO, PART, 8), 0);
	r = records(f->s[0]);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[0], 8);
	assert_int_equal(r.seq[1], 9);
	/* version 1 values (no epoch) still read as epoch 0 */
	uint64_t e = 1;
	assert_int_equal(ls_ingest_value_epoch("\x01" "abc", 4, &e), 0);
	assert_int_equal(e, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_epoch_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replicas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_by_epoch, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
