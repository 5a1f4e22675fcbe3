/*
 * index_stage_test.c -- the state of the `index` stage
 * (actors/index_stage.h) in the store: checkpoints of keyed state as the
 * pipeline takes them (sync, seal, changelog to a standby's store, fold),
 * with segments sealed, merged and expired along the way.  After every
 * checkpoint the owner's state reloaded and the standby's copy loaded
 * give the same index as the one in memory: the same documents, the same
 * hits and scores; what retention drops is gone from both.  Also the blob
 * form (no store), malformed state, and events as documents.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/changelog.h"
#include "actors/index_stage.h"
#include "runtime/err.h"
#include "runtime/store.h"

#define PART "t/idx/0"
#define MIN_NS (INT64_C(60) * 1000000000)

struct fixture {
	char dir[2][64];
	ls_store *s[2]; /* owner, standby */
};

static ls_store *
open_store(const char *dir)
{
	ls_store_opts o = { .block_cache_bytes = 1 << 20,
		.write_buffer_bytes = 1 << 20 };
	ls_store *s = NULL;
	char err[256] = "";
	assert_int_equal(ls_store_open(dir, &o, &s, err, sizeof(err)), 0);
	return s;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
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
	for (int i = 0; i < 2; i++) {
		snprintf(f->dir[i], sizeof(f->dir[i]), "/tmp/ls-ixst-XXXXXX");
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
		nftw(f->dir[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(f);
	return 0;
}

static const char *const users[] = { "alice", "bob", "carol", "dave" };
static const char *const status[] = { "ok", "failed", "timeout" };

/* Event i: at i minutes, a login line with a user attribute. */
static void
add_event(ls_index *ix, const ls_index_stage_cfg *c, int i)
{
	char msg[128];
	snprintf(msg, sizeof(msg), "login %s for %s from 10.0.%d.%d",
	    status[i % 3], users[i % 4], i % 7, i % 250);
	ls_event ev;
	ls_event_clear(&ev);
	ev.time_ns = (int64_t)i * MIN_NS;
	ev.level = i % 5 == 0 ? LS_LEVEL_ERROR : LS_LEVEL_INFO;
	ev.service = ls_str_c("sshd");
	ev.message = ls_str_c(msg);
	ls_event_add_attr(&ev, ls_str_c("user"), ls_str_c(users[i % 4]));
	ls_event_add_attr(&ev, ls_str_c("pid"), ls_str_c("17"));
	ls_attr f[LS_INDEX_MAX_FIELDS];
	ls_index_doc d;
	ls_index_stage_doc(ix, c, &ev, f, &d);
	assert_int_equal(ls_index_add(ix, &d), 0);
}

static ls_index_hit ha[1000], hb[1000];

/* a and b answer q alike: hits, keys, texts, scores. */
static void
same(const ls_index *a, const ls_index *b, const char *qs)
{
	ls_index_query *q;
	assert_int_equal(
	    ls_index_query_parse(qs, strlen(qs), &q, NULL, 0, NULL), 0);
	ls_index_stats sa, sb;
	ls_index_stats_init(&sa, q);
	ls_index_stats_init(&sb, q);
	ls_index_stats_add(a, q, &sa);
	ls_index_stats_add(b, q, &sb);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	uint32_t na, nb;
	assert_int_equal(ls_index_search(a, q, &sa, INT64_MIN, INT64_MAX, 1000,
	                     ha, &na, NULL),
	    0);
	assert_int_equal(ls_index_search(b, q, &sb, INT64_MIN, INT64_MAX, 1000,
	                     hb, &nb, NULL),
	    0);
	assert_int_equal(na, nb);
	for (uint32_t i = 0; i < na; i++) {
		assert_true(ha[i].key == hb[i].key);
		assert_true(ha[i].score == hb[i].score);
		assert_true(ha[i].time_ns == hb[i].time_ns);
		assert_int_equal(ha[i].text.len, hb[i].text.len);
		assert_memory_equal(ha[i].text.ptr, hb[i].text.ptr, ha[i].text.len);
		assert_int_equal(ha[i].nfields, hb[i].nfields);
	}
	ls_index_query_free(q);
}

static uint32_t
count(const ls_index *ix, const char *qs)
{
	ls_index_query *q;
	assert_int_equal(
	    ls_index_query_parse(qs, strlen(qs), &q, NULL, 0, NULL), 0);
	ls_index_stats st;
	ls_index_stats_init(&st, q);
	ls_index_stats_add(ix, q, &st);
	uint32_t n;
	assert_int_equal(
	    ls_index_search(ix, q, &st, INT64_MIN, INT64_MAX, 1000, ha, &n, NULL),
	    0);
	ls_index_query_free(q);
	return n;
}

static void
same_all(const ls_index *a, const ls_index *b)
{
	ls_index_info ia, ib;
	ls_index_get_info(a, &ia);
	ls_index_get_info(b, &ib);
	assert_int_equal(ia.docs, ib.docs);
	assert_int_equal(ia.total_len, ib.total_len);
	const char *qs[] = { "*", "login failed", "user:alice OR 10.0.3.*",
		"level:error -bob", "\"for carol\"", "service:sshd pid:17" };
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		same(a, b, qs[i]);
}

static int
to_standby(void *arg, ls_buf *b)
{
	int rc = ls_changelog_rx_add(arg, b->data, b->len, NULL);
	ls_buf_free(b);
	return rc == LS_EAGAIN ? 0 : rc;
}

static void
test_checkpoints_and_standby(void **state)
{
	struct fixture *f = *state;
	ls_index_stage_cfg c = { 120 * 60 * 1000, 40, NULL, 0 };
	ls_index *ix;
	ls_state *st;
	ls_changelog_rx *rx;
	assert_int_equal(ls_index_new(&ix), 0);
	assert_int_equal(ls_state_open(f->s[0], PART, &st), 0);
	assert_int_equal(ls_changelog_rx_new(f->s[1], &rx), 0);
	int ev = 0;
	for (uint64_t ck = 1; ck <= 30; ck++) {
		int n = 5 + (int)(ck * 7 % 23);
		for (int i = 0; i < n; i++)
			add_event(ix, &c, ev++);
		assert_int_equal(ls_index_stage_sync(ix, &c, st, ck == 1), 0);
		assert_int_equal(ls_state_seal(st, ck), 0);
		assert_int_equal(
		    ls_changelog_write(st, ck, 0, to_standby, rx, NULL), 0);
		assert_int_equal(ls_state_fold(st, ck), 0);
		/* the owner's state, reloaded */
		ls_index *re = NULL;
		ls_state *st2;
		assert_int_equal(ls_index_new(&re), 0);
		assert_int_equal(ls_state_open(f->s[0], PART, &st2), 0);
		assert_int_equal(ls_index_stage_load(&re, st2), 0);
		ls_state_close(st2);
		same_all(ix, re);
		ls_index_free(re);
		/* the standby's copy, as a promoted standby loads it */
		ls_index *sb = NULL;
		assert_int_equal(ls_index_new(&sb), 0);
		assert_int_equal(ls_state_open(f->s[1], PART, &st2), 0);
		assert_int_equal(ls_index_stage_load(&sb, st2), 0);
		ls_state_close(st2);
		same_all(ix, sb);
		ls_index_free(sb);
	}
	/* retention: 30 checkpoints of events a minute apart, 2 h kept */
	ls_index_info info;
	ls_index_get_info(ix, &info);
	assert_true(info.docs < (uint64_t)ev);
	int64_t cutoff = info.max_time_ns - c.retention_ms * 1000000;
	for (uint32_t i = 0; i < ls_index_nsegs(ix); i++) {
		ls_index_seg_info si;
		ls_index_seg(ix, i, &si);
		assert_true(si.max_time_ns >= cutoff);
		assert_true(si.docs <= c.max_docs);
	}
	/* the documents kept are the newest ones, each once */
	assert_int_equal(count(ix, "*"), info.docs);
	ls_index_seg_info first;
	ls_index_seg(ix, 0, &first);
	assert_int_equal(first.base + info.docs, (uint64_t)ev);
	ls_changelog_rx_free(rx);
	ls_state_close(st);

	/* the blob form: the same index */
	uint8_t *buf;
	size_t len;
	assert_int_equal(ls_index_stage_save(ix, &c, &buf, &len), 0);
	ls_index *bl = NULL;
	assert_int_equal(ls_index_new(&bl), 0);
	assert_int_equal(ls_index_stage_restore(&bl, buf, len), 0);
	same_all(ix, bl);
	for (size_t cut = 0; cut < len; cut += 97)
		assert_int_equal(ls_index_stage_restore(&bl, buf, cut),
		    LS_ECORRUPT);
	same_all(ix, bl); /* unchanged by the failures */
	free(buf);
	ls_index_free(bl);
	ls_index_free(ix);
}

static void
test_malformed_state(void **state)
{
	struct fixture *f = *state;
	ls_state *st;
	ls_index *ix = NULL;
	assert_int_equal(ls_index_new(&ix), 0);
	assert_int_equal(ls_state_open(f->s[0], "t/bad/0", &st), 0);
	/* an empty state: an empty index */
	assert_int_equal(ls_index_stage_load(&ix, st), 0);
	assert_int_equal(ls_index_nsegs(ix), 0);
	assert_int_equal(ls_state_put(st, "g12345678", 9, "LSIS", 4), 0);
	assert_int_equal(ls_state_commit(st), 0);
	ls_index_stage_cfg c = { 1000, 100, NULL, 0 };
	add_event(ix, &c, 1);
	assert_int_equal(ls_index_stage_load(&ix, st), LS_ECORRUPT);
	assert_int_equal(count(ix, "*"), 1); /* unchanged */
	assert_int_equal(ls_state_put(st, "g1", 2, "x", 1), 0);
	assert_int_equal(ls_index_stage_load(&ix, st), LS_ECORRUPT);
	ls_state_close(st);
	ls_index_free(ix);
}

/* Fields: only those listed, besides level, service and host. */
static void
test_fields(void **state)
{
	(void)state;
	const char *only[] = { "user" };
	ls_index_stage_cfg c = { 1000, 100, only, 1 };
	ls_index *ix;
	assert_int_equal(ls_index_new(&ix), 0);
	for (int i = 0; i < 20; i++)
		add_event(ix, &c, i);
	assert_int_equal(count(ix, "user:alice"), 5);
	assert_int_equal(count(ix, "pid:17"), 0);
	assert_int_equal(count(ix, "service:sshd level:error"), 4);
	assert_int_equal(count(ix, "failed"), 7);
	ls_index_free(ix);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checkpoints_and_standby, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed_state, setup,
		    teardown),
		cmocka_unit_test(test_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
