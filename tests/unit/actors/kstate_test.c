/*
 * kstate_test.c -- checkpoint blobs of stages on keyed state
 * (actors/kstate.h): an owner writes one LSKB blob per checkpoint, a
 * standby that stores them catches its copy up to any checkpoint and then
 * holds exactly the owner's state of it; a cut chain is reported, never
 * applied partly, and healed by a self-contained bundle from the owner; a
 * restored owner's first blob stands alone; malformed blobs are refused.
 *
 * The reference is a plain model (key -> value) snapshotted at every
 * checkpoint.  Stores live in mkdtemp directories under /tmp.
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

#include "actors/changelog.h"
#include "actors/kstate.h"
#include "runtime/err.h"
#include "runtime/store.h"

#define TOPO "t"
#define PART "win/0"
#define NAME "t/win/0"
#define NKEYS 64
#define NCKPT 24

struct fixture {
	char dir[3][64];
	ls_store *s[3];
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
	for (int i = 0; i < 3; i++) {
		ls_store_opts o = { .block_cache_bytes = 1 << 20,
			.write_buffer_bytes = 1 << 20 };
		char err[256];
		snprintf(f->dir[i], sizeof(f->dir[i]), "/tmp/ls-kstate-XXXXXX");
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
	for (int i = 0; i < 3; i++) {
		ls_store_close(f->s[i]);
		nftw(f->dir[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(f);
	return 0;
}

/* ---- the model ---- */

typedef struct model {
	int has[NKEYS];
	uint32_t val[NKEYS];
} model;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void
key_of(int i, char k[8])
{
	snprintf(k, 8, "k%03d", i);
}

/* Random writes through st and into m. */
static void
writes(ls_state *st, model *m, int n)
{
	for (int j = 0; j < n; j++) {
		int i = (int)(rnd() % NKEYS);
		char k[8];
		key_of(i, k);
		if (rnd() % 4 == 0) {
			assert_int_equal(ls_state_delete(st, k, 4), 0);
			m->has[i] = 0;
		} else {
			uint32_t v = rnd();
			assert_int_equal(ls_state_put(st, k, 4, &v, sizeof(v)), 0);
			m->has[i] = 1;
			m->val[i] = v;
		}
	}
}

typedef struct cmp {
	const model *m;
	int seen[NKEYS];
	int bad;
} cmp;

static int
cmp_one(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	cmp *c = arg;
	int i;
	if (kl != 4 || sscanf((const char *)k + 1, "%3d", &i) != 1 || i < 0 ||
	    i >= NKEYS || !c->m->has[i] || vl != 4 ||
	    memcmp(v, &c->m->val[i], 4) != 0)
		c->bad++;
	else
		c->seen[i] = 1;
	return 0;
}

/* The copy of NAME in s equals m. */
static void
assert_copy(ls_store *s, const model *m)
{
	ls_state *st;
	cmp c;
	memset(&c, 0, sizeof(c));
	c.m = m;
	assert_int_equal(ls_state_open(s, NAME, &st), 0);
	assert_int_equal(ls_state_scan(st, NULL, 0, NULL, 0, cmp_one, &c), 0);
	ls_state_close(st);
	assert_int_equal(c.bad, 0);
	for (int i = 0; i < NKEYS; i++)
		assert_int_equal(c.seen[i], m->has[i]);
}

/* Seal generation k and write it as a blob (with an export of the base
 * first when export_first). */
static void
blob_of(ls_store *s, ls_state *st, uint64_t k, int export_first,
    uint8_t **out, size_t *len)
{
	ls_kstate_blob b = { 0 };
	assert_int_equal(ls_state_seal(st, k), 0);
	if (export_first)
		assert_int_equal(ls_changelog_export(s, NAME, 0,
		                     ls_kstate_blob_add, &b, NULL), 0);
	/* small buffers: several per changeset */
	assert_int_equal(ls_changelog_write(st, k, 200, ls_kstate_blob_add, &b,
	                     NULL), 0);
	*out = b.data;
	*len = b.len;
}

static void
store_blob(ls_store *s, uint64_t k, const uint8_t *b, size_t len)
{
	assert_int_equal(ls_store_ckpt_put(s, TOPO, k, PART, b, len), 0);
}

static uint64_t
copy_base(ls_store *s)
{
	uint64_t base = 99;
	assert_int_equal(ls_store_state_base(s, NAME, &base), 0);
	return base;
}

/* An owner runs NCKPT checkpoints, folding each one a checkpoint late; a
 * standby stores every blob and catches up at random points (and at the
 * end): its copy always equals the model of the checkpoint caught up to. */
static void
test_standby_follows(void **state)
{
	struct fixture *f = *state;
	ls_store *own = f->s[0], *sb = f->s[1];
	ls_state *st;
	model m, snap[NCKPT + 1];
	uint8_t *blob[NCKPT + 1] = { 0 };
	size_t len[NCKPT + 1];

	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_state_open(own, NAME, &st), 0);
	assert_int_equal(ls_state_clear(st), 0); /* a fresh start */
	for (uint64_t k = 1; k <= NCKPT; k++) {
		writes(st, &m, 1 + (int)(rnd() % 20));
		snap[k] = m;
		blob_of(own, st, k, 0, &blob[k], &len[k]);
		ls_kstate_info in;
		assert_int_equal(ls_kstate_blob_info(blob[k], len[k], NAME, &in),
		    0);
		assert_int_equal(in.ckpt, k);
		assert_int_equal(in.prev, k - 1);
		assert_int_equal(in.cleared, k == 1); /* the first stands alone */
		assert_true(in.nbufs >= 1);
		store_blob(own, k, blob[k], len[k]);
		store_blob(sb, k, blob[k], len[k]);
		if (k > 1)
			assert_int_equal(ls_state_fold(st, k - 1), 0);
		if (rnd() % 3 == 0 || k == NCKPT) {
			assert_int_equal(ls_kstate_check(sb, TOPO, PART, blob[k],
			                     len[k]), 0);
			assert_int_equal(ls_kstate_catch_up(sb, TOPO, PART,
			                     blob[k], len[k]), 0);
			assert_int_equal(copy_base(sb), k);
			assert_copy(sb, &snap[k]);
			/* again: nothing to do */
			assert_int_equal(ls_kstate_catch_up(sb, TOPO, PART,
			                     blob[k], len[k]), 0);
			assert_copy(sb, &snap[k]);
		}
	}
	/* the standby's copy is ahead of an older blob: refused */
	assert_int_equal(ls_kstate_catch_up(sb, TOPO, PART, blob[3], len[3]),
	    LS_ESTATE);
	assert_copy(sb, &snap[NCKPT]);
	ls_state_close(st);
	for (int k = 1; k <= NCKPT; k++)
		free(blob[k]);
}

/* A standby that lost blobs in the middle of the chain cannot catch up:
 * LS_ENOENT and its copy is untouched.  A bundle made by the owner (whose
 * copy is folded to some base) applies to it -- and to an empty store. */
static void
test_cut_chain_and_bundle(void **state)
{
	struct fixture *f = *state;
	ls_store *own = f->s[0], *sb = f->s[1], *fresh = f->s[2];
	ls_state *st;
	model m, snap[NCKPT + 1];
	uint8_t *blob[NCKPT + 1] = { 0 };
	size_t len[NCKPT + 1];

	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_state_open(own, NAME, &st), 0);
	assert_int_equal(ls_state_clear(st), 0);
	for (uint64_t k = 1; k <= 12; k++) {
		writes(st, &m, 10);
		snap[k] = m;
		blob_of(own, st, k, 0, &blob[k], &len[k]);
		store_blob(own, k, blob[k], len[k]);
		if (k != 7)
			store_blob(sb, k, blob[k], len[k]);
	}
	assert_int_equal(ls_kstate_catch_up(sb, TOPO, PART, blob[5], len[5]),
	    0);
	assert_copy(sb, &snap[5]);
	assert_int_equal(ls_kstate_check(sb, TOPO, PART, blob[12], len[12]),
	    LS_ENOENT);
	assert_int_equal(ls_kstate_catch_up(sb, TOPO, PART, blob[12], len[12]),
	    LS_ENOENT);
	assert_int_equal(copy_base(sb), 5);
	assert_copy(sb, &snap[5]); /* nothing applied partly */

	/* the owner folds up to 9 and deletes the blobs below it */
	assert_int_equal(ls_state_fold(st, 9), 0);
	assert_int_equal(ls_store_ckpt_gc(own, TOPO, 10), 0);
	uint8_t *full;
	size_t flen;
	assert_int_equal(ls_kstate_bundle(own, TOPO, PART, blob[12], len[12],
	                     &full, &flen), 0);
	ls_kstate_info in;
	assert_int_equal(ls_kstate_blob_info(full, flen, NAME, &in), 0);
	assert_true(in.cleared);
	assert_int_equal(in.ckpt, 12);
	store_blob(sb, 12, full, flen);
	assert_int_equal(ls_kstate_catch_up(sb, TOPO, PART, full, flen), 0);
	assert_copy(sb, &snap[12]);
	store_blob(fresh, 12, full, flen);
	assert_int_equal(ls_kstate_catch_up(fresh, TOPO, PART, full, flen), 0);
	assert_int_equal(copy_base(fresh), 12);
	assert_copy(fresh, &snap[12]);
	free(full);

	/* with the chain gone below the owner's base, a bundle of an old blob
	 * cannot be made */
	assert_int_equal(ls_kstate_bundle(own, TOPO, PART, blob[8], len[8],
	                     &full, &flen), LS_ESTATE);
	ls_state_close(st);
	for (int k = 1; k <= 12; k++)
		free(blob[k]);
}

/* An owner restored at base K ships an export of K in front of its first
 * generation: the blob applies on a copy that has nothing. */
static void
test_restored_first_blob(void **state)
{
	struct fixture *f = *state;
	ls_store *own = f->s[0], *other = f->s[2];
	ls_state *st;
	model m;
	uint8_t *b;
	size_t len;

	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_state_open(own, NAME, &st), 0);
	assert_int_equal(ls_state_clear(st), 0);
	writes(st, &m, 40);
	blob_of(own, st, 5, 0, &b, &len);
	free(b);
	assert_int_equal(ls_state_fold(st, 5), 0);
	ls_state_close(st);

	/* the "restart": a new handle at base 5, ids of a new run */
	uint64_t k = (2ull << 32) | 1;
	assert_int_equal(ls_state_open(own, NAME, &st), 0);
	assert_int_equal(ls_state_base(st), 5);
	writes(st, &m, 10);
	blob_of(own, st, k, 1, &b, &len);
	ls_kstate_info in;
	assert_int_equal(ls_kstate_blob_info(b, len, NAME, &in), 0);
	assert_true(in.cleared);
	assert_int_equal(in.ckpt, k);
	store_blob(other, k, b, len);
	assert_int_equal(ls_kstate_catch_up(other, TOPO, PART, b, len), 0);
	assert_int_equal(copy_base(other), k);
	assert_copy(other, &m);
	free(b);
	ls_state_close(st);
}

/* Malformed blobs: every truncation, a flipped byte in the frame, another
 * partition, a chain that skips a checkpoint -- refused, never applied. */
static void
test_malformed(void **state)
{
	struct fixture *f = *state;
	ls_store *own = f->s[0], *other = f->s[2];
	ls_state *st;
	model m;
	uint8_t *b1, *b3;
	size_t l1, l3;
	ls_kstate_info in;

	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_state_open(own, NAME, &st), 0);
	assert_int_equal(ls_state_clear(st), 0);
	writes(st, &m, 30);
	blob_of(own, st, 1, 0, &b1, &l1);
	writes(st, &m, 30);
	assert_int_equal(ls_state_seal(st, 2), 0);
	writes(st, &m, 30);
	blob_of(own, st, 3, 0, &b3, &l3);
	ls_state_close(st);

	for (size_t n = 0; n < l1; n++)
		assert_int_equal(ls_kstate_blob_info(b1, n, NULL, &in),
		    LS_ECORRUPT);
	assert_int_equal(ls_kstate_catch_up(other, TOPO, PART, b1, l1 - 1),
	    LS_ECORRUPT);
	assert_int_equal(copy_base(other), 0);
	uint8_t *bad = malloc(l1);
	assert_non_null(bad);
	memcpy(bad, b1, l1);
	bad[0] ^= 1; /* magic */
	assert_int_equal(ls_kstate_blob_info(bad, l1, NULL, &in), LS_ECORRUPT);
	memcpy(bad, b1, l1);
	bad[4] ^= 2; /* buffer count */
	assert_int_equal(ls_kstate_blob_info(bad, l1, NULL, &in), LS_ECORRUPT);
	free(bad);
	assert_int_equal(ls_kstate_blob_info(b1, l1, "t/win/1", &in),
	    LS_ECORRUPT);

	/* 1 then 3 in one blob: 3's prev is 2, not 1 */
	ls_kstate_blob j = { 0 };
	assert_int_equal(ls_kstate_blob_append(&j, b1, l1), 0);
	assert_int_equal(ls_kstate_blob_append(&j, b3, l3), 0);
	assert_int_equal(ls_kstate_blob_info(j.data, j.len, NULL, &in),
	    LS_ECORRUPT);
	ls_kstate_blob_fini(&j);
	free(b1);
	free(b3);
}

static void
test_name(void **state)
{
	(void)state;
	char out[LS_STORE_NAME_MAX + 1], longp[300];
	assert_int_equal(ls_kstate_name("topo", "win/3", out), 0);
	assert_string_equal(out, "topo/win/3");
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(ls_kstate_name("topo", longp, out), LS_ERANGE);
	assert_false(ls_kstate_is_blob("LSK", 3));
	assert_true(ls_kstate_is_blob("LSKB\1\0\0\0", 8));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_standby_follows, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cut_chain_and_bundle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restored_first_blob, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test(test_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
