/*
 * changelog_test.c -- incremental checkpoints of keyed state: sealed
 * generations stay readable and are folded atomically, changesets carry
 * only the touched keys, a standby that applies the Changelog buffers of
 * every checkpoint holds exactly the owner's state as of that checkpoint,
 * gaps and replays are refused, and a copy is rebuilt from an export.
 *
 * The reference is a plain model: an array of keys with their values,
 * updated by the same random operations, snapshotted at every seal.
 * Every test works in mkdtemp directories under /tmp, removed at the end.
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
#include "runtime/err.h"
#include "runtime/store.h"

/* ---- fixture: two stores, the owner's and a standby's ---- */

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

static ls_store *
open_store(const char *dir)
{
	ls_store_opts o = {.block_cache_bytes = 1 << 20,
	                   .write_buffer_bytes = 1 << 20};
	ls_store *s = NULL;
	char err[256] = "";
	assert_int_equal(ls_store_open(dir, &o, &s, err, sizeof(err)), 0);
	return s;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	for (int i = 0; i < 2; i++) {
		snprintf(f->dir[i], sizeof(f->dir[i]), "/tmp/ls-chlog-XXXXXX");
		if (mkdtemp(f->dir[i]) == NULL)
			return -1;
		f->s[i] = open_store(f->dir[i]);
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

/* ---- the model ---- */

#define NKEYS 300
#define VMAX  40

typedef struct model {
	int present[NKEYS];
	size_t len[NKEYS];
	unsigned char val[NKEYS][VMAX];
} model;

static void
key_of(int i, char k[8])
{
	snprintf(k, 8, "k%04d", i); /* fixed width: key order = index order */
}

static uint64_t
le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
model_add(model *m, int i, int64_t d)
{
	uint64_t base = m->present[i] && m->len[i] == 8 ? le64(m->val[i]) : 0;
	uint64_t v = base + (uint64_t)d;
	for (int b = 0; b < 8; b++)
		m->val[i][b] = (unsigned char)(v >> (8 * b));
	m->len[i] = 8;
	m->present[i] = 1;
}

/* A scan of a state collected into a model. */
static int
scan_into(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	model *m = arg;
	int i;
	assert_true(kl == 5 && sscanf((const char *)k + 1, "%4d", &i) == 1);
	assert_true(i >= 0 && i < NKEYS && vl <= VMAX);
	assert_false(m->present[i]);
	m->present[i] = 1;
	m->len[i] = vl;
	memcpy(m->val[i], v, vl);
	return 0;
}

static void
assert_same(const model *a, const model *b)
{
	for (int i = 0; i < NKEYS; i++) {
		assert_int_equal(a->present[i], b->present[i]);
		if (a->present[i]) {
			assert_int_equal(a->len[i], b->len[i]);
			assert_memory_equal(a->val[i], b->val[i], a->len[i]);
		}
	}
}

/* The committed keys of partition in s (a fresh handle's view). */
static void
committed(ls_store *s, const char *part, model *out)
{
	ls_state *st;

	memset(out, 0, sizeof(*out));
	assert_int_equal(ls_state_open(s, part, &st), 0);
	assert_int_equal(ls_state_scan(st, NULL, 0, NULL, 0, scan_into, out),
	                 0);
	ls_state_close(st);
}

/* Every key of a handle's view (pending and sealed writes included)
 * through get, and through a scan: both must equal m. */
static void
assert_view(ls_state *st, const model *m)
{
	model got;
	memset(&got, 0, sizeof(got));
	assert_int_equal(ls_state_scan(st, NULL, 0, NULL, 0, scan_into, &got),
	                 0);
	assert_same(&got, m);
	for (int i = 0; i < NKEYS; i += 7) {
		char k[8];
		void *v;
		size_t vl;
		key_of(i, k);
		int rc = ls_state_get(st, k, 5, &v, &vl);
		if (!m->present[i]) {
			assert_int_equal(rc, LS_ENOENT);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(vl, m->len[i]);
		assert_memory_equal(v, m->val[i], vl);
		free(v);
	}
}

/* ---- sending buffers to a standby ---- */

typedef struct link {
	ls_changelog_rx *rx;
	int nbuf, applied, last_rc;
	size_t max_len;
} link;

static int
to_standby(void *arg, ls_buf *b)
{
	link *l = arg;
	ls_changelog_wire h;
	l->nbuf++;
	if (b->len > l->max_len)
		l->max_len = b->len;
	int rc = ls_changelog_rx_add(l->rx, b->data, b->len, &h);
	ls_buf_free(b);
	l->last_rc = rc;
	if (rc == 0)
		l->applied++;
	return rc == LS_EAGAIN ? 0 : rc;
}

static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* Whether random_op may clear the whole partition. */
static int may_clear = 1;

/* One random write to both the handle and the model. */
static void
random_op(ls_state *st, model *m)
{
	int i = (int)rnd(NKEYS);
	char k[8];
	key_of(i, k);
	unsigned r = rnd(100);
	if (r < 45) {
		unsigned char v[VMAX];
		size_t vl = rnd(VMAX + 1);
		for (size_t b = 0; b < vl; b++)
			v[b] = (unsigned char)rnd(256);
		assert_int_equal(ls_state_put(st, k, 5, v, vl), 0);
		m->present[i] = 1;
		m->len[i] = vl;
		memcpy(m->val[i], v, vl);
	} else if (r < 60) {
		assert_int_equal(ls_state_delete(st, k, 5), 0);
		m->present[i] = 0;
	} else if (r < 99 || !may_clear) {
		int64_t d = (int64_t)rnd(1000) - 500;
		assert_int_equal(ls_state_add(st, k, 5, d), 0);
		model_add(m, i, d);
	} else {
		assert_int_equal(ls_state_clear(st), 0);
		memset(m, 0, sizeof(*m));
	}
}

/* Random writes over 40 checkpoints; every generation goes to the standby
 * in buffers of at most ~600 bytes; the owner folds two checkpoints
 * behind.  After each checkpoint the standby's copy, and after each fold
 * the owner's committed keys, equal the model as of that checkpoint; the
 * handle's view always equals the model. */
static void
test_owner_and_standby(void **state)
{
	struct fixture *f = *state;
	static model m, snap[41], got;
	ls_state *st;
	link l = {0};

	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_state_open(f->s[0], "win/3", &st), 0);
	assert_int_equal(ls_changelog_rx_new(f->s[1], &l.rx), 0);
	assert_int_equal(ls_state_base(st), 0);
	for (uint64_t ck = 1; ck <= 40; ck++) {
		int n = (int)rnd(120);
		for (int j = 0; j < n; j++)
			random_op(st, &m);
		assert_view(st, &m);
		assert_int_equal(ls_state_seal(st, ck), 0);
		snap[ck] = m;
		assert_view(st, &m);

		ls_changeset cs;
		assert_int_equal(ls_state_changes(st, ck, &cs, NULL, NULL), 0);
		assert_int_equal(cs.ckpt, ck);
		assert_int_equal(cs.prev, ck - 1);
		assert_true(cs.count <= (size_t)n);
		size_t bytes = 0;
		int before = l.applied;
		assert_int_equal(ls_changelog_write(st, ck, 600, to_standby, &l,
		                                    &bytes),
		                 0);
		assert_int_equal(l.last_rc, 0);
		assert_int_equal(l.applied, before + 1);
		committed(f->s[1], "win/3", &got);
		assert_same(&got, &snap[ck]);
		uint64_t b;
		assert_int_equal(ls_store_state_base(f->s[1], "win/3", &b), 0);
		assert_int_equal(b, ck);

		if (ck > 2) {
			assert_int_equal(ls_state_fold(st, ck - 2), 0);
			assert_int_equal(ls_state_base(st), ck - 2);
			assert_int_equal(ls_state_sealed(st), 2);
			committed(f->s[0], "win/3", &got);
			assert_same(&got, &snap[ck - 2]);
			assert_view(st, &m);
		}
	}
	assert_true(l.nbuf > 40);     /* large generations were split */
	assert_true(l.max_len < 600 + 1024);

	/* Pending writes and unfolded generations die with the handle; a
	 * new handle starts from the base. */
	for (int j = 0; j < 50; j++)
		random_op(st, &m);
	ls_state_close(st);
	assert_int_equal(ls_state_open(f->s[0], "win/3", &st), 0);
	assert_int_equal(ls_state_base(st), 38);
	assert_view(st, &snap[38]);
	ls_state_close(st);
	ls_changelog_rx_free(l.rx);
}

/* A changeset holds one change per touched key, whatever the number of
 * writes; an untouched partition gives an empty changeset. */
static void
test_net_changes(void **state)
{
	struct fixture *f = *state;
	ls_state *st;
	ls_changeset cs;

	assert_int_equal(ls_state_open(f->s[0], "p", &st), 0);
	for (int r = 0; r < 100; r++)
		for (int i = 0; i < 10; i++) {
			char k[8];
			key_of(i, k);
			assert_int_equal(ls_state_add(st, k, 5, 1), 0);
		}
	assert_int_equal(ls_state_seal(st, 5), 0);
	assert_int_equal(ls_state_changes(st, 5, &cs, NULL, NULL), 0);
	assert_int_equal(cs.count, 10);
	assert_int_equal(ls_state_seal(st, 6), 0);
	assert_int_equal(ls_state_changes(st, 6, &cs, NULL, NULL), 0);
	assert_int_equal(cs.count, 0);
	assert_int_equal(cs.prev, 5);
	assert_int_equal(ls_state_changes(st, 7, &cs, NULL, NULL), LS_ENOENT);
	int64_t c;
	assert_int_equal(ls_state_counter(st, "k0003", 5, &c), 0);
	assert_int_equal(c, 100);
	ls_state_close(st);
}

/* Ids must increase; a handle with sealed generations does not commit
 * pending writes past them. */
static void
test_rules(void **state)
{
	struct fixture *f = *state;
	ls_state *st;

	assert_int_equal(ls_state_open(f->s[0], "p", &st), 0);
	assert_int_equal(ls_state_seal(st, 3), 0);
	assert_int_equal(ls_state_seal(st, 3), LS_EINVAL);
	assert_int_equal(ls_state_seal(st, 2), LS_EINVAL);
	assert_int_equal(ls_state_put(st, "a", 1, "x", 1), 0);
	assert_int_equal(ls_state_commit(st), LS_ESTATE);
	assert_int_equal(ls_state_fold(st, 3), 0);
	assert_int_equal(ls_state_commit(st), 0);
	assert_int_equal(ls_state_fold(st, 100), 0); /* nothing to fold */
	assert_int_equal(ls_state_base(st), 3);
	ls_state_close(st);
}

/* A copy that missed a changeset refuses the next one; a replay is
 * recognised; an export rebuilds the copy, which then takes the next
 * changeset again. */
static void
test_gap_replay_export(void **state)
{
	struct fixture *f = *state;
	static model m, got;
	ls_state *st;
	link l = {0};

	memset(&m, 0, sizeof(m));
	assert_int_equal(ls_state_open(f->s[0], "q", &st), 0);
	assert_int_equal(ls_changelog_rx_new(f->s[1], &l.rx), 0);

	/* three checkpoints, sealed but not sent yet (no clear: a changeset
	 * with a clear needs no previous state) */
	may_clear = 0;
	for (uint64_t ck = 1; ck <= 3; ck++) {
		for (int j = 0; j < 200; j++)
			random_op(st, &m);
		assert_int_equal(ls_state_seal(st, ck), 0);
	}
	/* send 1, skip 2, send 3: refused */
	l.last_rc = -1;
	assert_int_equal(ls_changelog_write(st, 1, 0, to_standby, &l, NULL),
	                 0);
	assert_int_equal(l.last_rc, 0);
	assert_int_equal(ls_changelog_write(st, 3, 0, to_standby, &l, NULL),
	                 LS_ESTATE);
	/* replay of 1: recognised, nothing written */
	assert_int_equal(ls_changelog_write(st, 1, 0, to_standby, &l, NULL),
	                 LS_EEXIST);

	/* the owner folds 3; its export rebuilds the copy */
	assert_int_equal(ls_state_fold(st, 3), 0);
	assert_int_equal(ls_changelog_export(f->s[0], "q", 700, to_standby, &l,
	                                     NULL),
	                 0);
	committed(f->s[1], "q", &got);
	assert_same(&got, &m);
	uint64_t b;
	assert_int_equal(ls_store_state_base(f->s[1], "q", &b), 0);
	assert_int_equal(b, 3);

	/* and the copy follows again */
	for (int j = 0; j < 100; j++)
		random_op(st, &m);
	assert_int_equal(ls_state_seal(st, 4), 0);
	assert_int_equal(ls_changelog_write(st, 4, 0, to_standby, &l, NULL),
	                 0);
	committed(f->s[1], "q", &got);
	assert_same(&got, &m);

	/* dropping the copy removes keys and base */
	assert_int_equal(ls_store_state_drop(f->s[1], "q"), 0);
	committed(f->s[1], "q", &got);
	memset(&m, 0, sizeof(m));
	assert_same(&got, &m);
	assert_int_equal(ls_store_state_base(f->s[1], "q", &b), 0);
	assert_int_equal(b, 0);
	may_clear = 1;
	ls_state_close(st);
	ls_changelog_rx_free(l.rx);
}

/* Buffers that are not Changelogs, or do not continue the changeset
 * being received, are refused and change nothing. */
static void
test_bad_buffers(void **state)
{
	struct fixture *f = *state;
	ls_changelog_rx *rx;
	ls_buf b = {NULL, 0};
	static const char junk[64] = "not a changelog at all";

	assert_int_equal(ls_changelog_rx_new(f->s[1], &rx), 0);
	void *al = malloc(64);
	memcpy(al, junk, 64);
	assert_int_equal(ls_changelog_rx_add(rx, al, 64, NULL), LS_ECORRUPT);
	assert_int_equal(ls_changelog_rx_add(rx, al, 0, NULL), LS_ECORRUPT);
	free(al);

	ls_change c = {.kind = LS_CHANGE_PUT, .key = "a", .klen = 1,
	               .val = "b", .vlen = 1};
	ls_changelog_wire h = {.partition = ls_str_make("r", 1),
	                       .set = {.prev = 0, .ckpt = 1},
	                       .part = 1,
	                       .last = 1};
	assert_int_equal(ls_codec_changelog_encode(&h, &c, 1, &b), 0);
	/* part 1 without a part 0 */
	assert_int_equal(ls_changelog_rx_add(rx, b.data, b.len, NULL),
	                 LS_EINVAL);
	/* every truncation is refused */
	for (size_t n = 0; n < b.len; n++)
		assert_int_not_equal(ls_changelog_rx_add(rx, b.data, n, NULL),
		                     0);
	ls_buf_free(&b);
	h.part = 0;
	c.kind = 9;
	assert_int_equal(ls_codec_changelog_encode(&h, &c, 1, &b), LS_EINVAL);
	h.partition = ls_str_make("", 0);
	c.kind = LS_CHANGE_PUT;
	assert_int_equal(ls_codec_changelog_encode(&h, &c, 1, &b), LS_EINVAL);
	uint64_t base;
	assert_int_equal(ls_store_state_base(f->s[1], "r", &base), 0);
	assert_int_equal(base, 0);
	ls_changelog_rx_free(rx);
}

/* Encode and decode round trip of every change kind. */
static int
collect_kinds(void *arg, const ls_change *c)
{
	int *seen = arg;
	seen[c->kind]++;
	if (c->kind == LS_CHANGE_PUT)
		assert_memory_equal(c->val, "value", 5);
	if (c->kind == LS_CHANGE_SET || c->kind == LS_CHANGE_ADD)
		assert_int_equal(c->num, c->kind == LS_CHANGE_SET ? -7 : 42);
	return 0;
}

static void
test_codec_round_trip(void **state)
{
	(void)state;
	ls_change c[4] = {
	    {.kind = LS_CHANGE_PUT, .key = "a", .klen = 1, .val = "value",
	     .vlen = 5},
	    {.kind = LS_CHANGE_DELETE, .key = "b", .klen = 1},
	    {.kind = LS_CHANGE_SET, .key = "c", .klen = 1, .num = -7},
	    {.kind = LS_CHANGE_ADD, .key = "", .klen = 0, .num = 42}};
	ls_changelog_wire h = {.partition = ls_str_make("stage/12", 8),
	                       .set = {.prev = 7, .ckpt = 9, .cleared = 1},
	                       .part = 3,
	                       .last = 1},
	                  d;
	ls_buf b = {NULL, 0};
	int seen[5] = {0};
	assert_int_equal(ls_codec_changelog_encode(&h, c, 4, &b), 0);
	assert_int_equal(ls_codec_changelog_verify(b.data, b.len), 0);
	assert_int_equal(
	    ls_codec_changelog_decode(b.data, b.len, &d, collect_kinds, seen),
	    0);
	assert_int_equal(d.partition.len, 8);
	assert_memory_equal(d.partition.ptr, "stage/12", 8);
	assert_int_equal(d.set.prev, 7);
	assert_int_equal(d.set.ckpt, 9);
	assert_int_equal(d.set.cleared, 1);
	assert_int_equal(d.set.count, 4);
	assert_int_equal(d.part, 3);
	assert_int_equal(d.last, 1);
	for (int k = 1; k <= 4; k++)
		assert_int_equal(seen[k], 1);
	ls_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_codec_round_trip),
	    cmocka_unit_test_setup_teardown(test_owner_and_standby, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_net_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gap_replay_export, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_buffers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
