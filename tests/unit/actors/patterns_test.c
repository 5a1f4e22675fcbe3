/*
 * patterns_test.c -- the template miner (actors/patterns.h): templates and
 * their parameters, ids that stay when a template generalises, the bound
 * on templates, and its state -- snapshots, the changes walk a keyed-state
 * checkpoint writes, and records loaded back -- including malformed state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/patterns.h"
#include "runtime/err.h"

static ls_patterns *
miner(uint32_t max)
{
	ls_patterns_cfg cfg;
	ls_patterns *p;
	ls_patterns_cfg_default(&cfg);
	cfg.max_templates = max;
	assert_int_equal(ls_patterns_new(&p, &cfg), 0);
	return p;
}

static ls_patterns_match
add(ls_patterns *p, const char *msg)
{
	ls_patterns_match m;
	assert_int_equal(ls_patterns_add(p, msg, strlen(msg), &m), 0);
	return m;
}

static void
assert_tmpl(const ls_patterns_match *m, const char *want)
{
	assert_int_equal(m->tmpl_len, strlen(want));
	assert_memory_equal(m->tmpl, want, m->tmpl_len);
}

static void
assert_param(const ls_patterns_match *m, uint32_t i, const char *want)
{
	assert_true(i < m->nparams);
	assert_int_equal(m->params[i].len, strlen(want));
	assert_memory_equal(m->params[i].ptr, want, m->params[i].len);
}

static void
test_cfg(void **state)
{
	ls_patterns_cfg cfg;
	ls_patterns *p;
	(void)state;
	ls_patterns_cfg_default(&cfg);
	assert_int_equal(cfg.max_templates, 10000);
	assert_int_equal(cfg.depth, 4);
	cfg.similarity = 0;
	assert_int_equal(ls_patterns_new(&p, &cfg), LS_EINVAL);
	cfg.similarity = 0.7;
	cfg.depth = 1;
	assert_int_equal(ls_patterns_new(&p, &cfg), LS_EINVAL);
	cfg.depth = 4;
	cfg.max_templates = 0;
	assert_int_equal(ls_patterns_new(&p, &cfg), LS_EINVAL);
	ls_patterns_free(NULL);
}

/* Variables are masked at once; the same shape joins the template. */
static void
test_masking_and_params(void **state)
{
	ls_patterns *p = miner(100);
	(void)state;
	ls_patterns_match a = add(p, "PacketResponder 1 for block blk_388 "
	                             "terminating");
	assert_true(a.is_new);
	assert_int_equal(a.count, 1);
	assert_tmpl(&a, "PacketResponder <*> for block <*> terminating");
	assert_int_equal(a.nparams, 2);
	assert_param(&a, 0, "1");
	assert_param(&a, 1, "blk_388");
	ls_patterns_match b = add(p, "PacketResponder  0\tfor block "
	                             "blk_-695 terminating");
	assert_false(b.is_new);
	assert_true(b.id == a.id);
	assert_int_equal(b.count, 2);
	assert_param(&b, 1, "blk_-695");
	/* Paths, months and weekdays are variables too. */
	ls_patterns_match c = add(p, "open /etc/httpd/conf on Sun Jul");
	assert_tmpl(&c, "open <*> on <*> <*>");
	assert_int_equal(c.nparams, 3);
	assert_param(&c, 0, "/etc/httpd/conf");
	/* Blanks only: no template. */
	ls_patterns_match m;
	assert_int_equal(ls_patterns_add(p, "  \t ", 4, &m), LS_EINVAL);
	assert_int_equal(ls_patterns_add(p, "", 0, &m), LS_EINVAL);
	assert_int_equal(ls_patterns_size(p), 2);
	ls_patterns_free(p);
}

/* A template generalises to the words that differ, keeping its id;
 * messages of another length or another start are other templates. */
static void
test_generalise_keeps_id(void **state)
{
	ls_patterns *p = miner(100);
	(void)state;
	ls_patterns_match a = add(p, "Invalid user webmaster from host a b c");
	ls_patterns_match b = add(p, "Invalid user test from host a b c");
	assert_false(b.is_new);
	assert_true(b.id == a.id);
	assert_tmpl(&b, "Invalid user <*> from host a b c");
	assert_param(&b, 0, "test");
	ls_patterns_match c = add(p, "Invalid user webmaster from host a b c");
	assert_true(c.id == a.id);
	assert_int_equal(c.count, 3);
	/* Too different (below 70 %): a template of its own. */
	ls_patterns_match d = add(p, "Invalid user x to peer d e f");
	assert_true(d.is_new);
	assert_true(d.id != a.id);
	/* Another length. */
	ls_patterns_match e = add(p, "Invalid user webmaster from host a b");
	assert_true(e.is_new);
	/* Another first token. */
	ls_patterns_match f = add(p, "Valid user webmaster from host a b c");
	assert_true(f.is_new);
	assert_int_equal(ls_patterns_size(p), 4);
	ls_patterns_free(p);
}

/* Ids are the hash of the text a template started with: the same stream
 * in another miner gives the same ids. */
static void
test_ids_repeatable(void **state)
{
	static const char *const lines[] = { "a b 1", "a c 2", "x y z",
		"a b 3", "x y w" };
	ls_patterns *p = miner(100), *q = miner(100);
	(void)state;
	for (size_t i = 0; i < 5; i++) {
		ls_patterns_match m1 = add(p, lines[i]);
		ls_patterns_match m2 = add(q, lines[i]);
		assert_true(m1.id == m2.id);
	}
	ls_patterns_free(p);
	ls_patterns_free(q);
}

typedef struct walk {
	uint64_t put[16], del[16];
	uint8_t *rec[16];
	size_t len[16];
	size_t nput, ndel;
} walk;

static int
record(void *arg, uint64_t id, const uint8_t *rec, size_t len)
{
	walk *w = arg;
	if (rec == NULL) {
		assert_true(w->nput == 0); /* deletions come first */
		w->del[w->ndel++] = id;
		return 0;
	}
	w->put[w->nput] = id;
	w->rec[w->nput] = malloc(len);
	memcpy(w->rec[w->nput], rec, len);
	w->len[w->nput++] = len;
	return 0;
}

static void
walk_free(walk *w)
{
	for (size_t i = 0; i < w->nput; i++)
		free(w->rec[i]);
	memset(w, 0, sizeof(*w));
}

static int
fail_walk(void *arg, uint64_t id, const uint8_t *rec, size_t len)
{
	(void)arg;
	(void)id;
	(void)rec;
	(void)len;
	return LS_EIO;
}

/* At most max_templates: the least recently used goes, and the next
 * changes walk deletes it. */
static void
test_bound_and_changes(void **state)
{
	ls_patterns *p = miner(2);
	walk w = { 0 };
	(void)state;
	ls_patterns_match a = add(p, "alpha one");
	ls_patterns_match b = add(p, "beta two");
	assert_int_equal(ls_patterns_changes(p, 0, record, &w), 0);
	assert_int_equal(w.nput, 2);
	assert_int_equal(w.ndel, 0);
	walk_free(&w);
	/* Nothing changed: nothing to write. */
	assert_int_equal(ls_patterns_changes(p, 0, record, &w), 0);
	assert_int_equal(w.nput + w.ndel, 0);
	add(p, "alpha one"); /* beta is now the least recently used */
	ls_patterns_match c = add(p, "gamma three");
	assert_true(c.is_new);
	assert_int_equal(ls_patterns_size(p), 2);
	/* A failing walk keeps the changes for the next one. */
	assert_int_equal(ls_patterns_changes(p, 0, fail_walk, NULL), LS_EIO);
	assert_int_equal(ls_patterns_changes(p, 0, record, &w), 0);
	assert_int_equal(w.ndel, 1);
	assert_true(w.del[0] == b.id);
	assert_int_equal(w.nput, 2); /* alpha (count 2) and gamma */
	assert_true((w.put[0] == a.id && w.put[1] == c.id) ||
	    (w.put[0] == c.id && w.put[1] == a.id));
	walk_free(&w);
	/* beta comes back as a new template with its old id. */
	ls_patterns_match b2 = add(p, "beta two");
	assert_true(b2.is_new);
	assert_true(b2.id == b.id);
	assert_int_equal(b2.count, 1);
	ls_patterns_free(p);
}

static void
each_count(void *arg, const ls_patterns_info *t)
{
	uint64_t *sum = arg;
	sum[0] += t->count;
	sum[1]++;
}

/* Snapshot and records round trips: the restored miner holds the same
 * templates, counts and ids, and goes on as the original does. */
static void
test_state_round_trip(void **state)
{
	ls_patterns *p = miner(100);
	(void)state;
	add(p, "session opened for user root by uid 0");
	add(p, "session opened for user bob by uid 5");
	add(p, "session closed for user root");
	ls_patterns_match a = add(p, "connection from 1.2.3.4 at 10:00");

	uint8_t *buf, *buf2;
	size_t len, len2;
	assert_int_equal(ls_patterns_save(p, &buf, &len), 0);
	ls_patterns *q = miner(100);
	assert_int_equal(ls_patterns_load(q, buf, len), 0);
	assert_int_equal(ls_patterns_size(q), 3);
	assert_int_equal(ls_patterns_save(q, &buf2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	free(buf2);

	walk w = { 0 };
	assert_int_equal(ls_patterns_changes(p, 1, record, &w), 0);
	ls_patterns *r = miner(100);
	assert_int_equal(ls_patterns_load_records(r,
	    (const uint8_t *const *)w.rec, w.len, w.nput), 0);
	assert_int_equal(ls_patterns_save(r, &buf2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	free(buf2);

	ls_patterns *all[3] = { p, q, r };
	for (int i = 0; i < 3; i++) {
		ls_patterns_match m = add(all[i],
		    "session opened for user eve by uid 7");
		assert_false(m.is_new);
		assert_int_equal(m.count, 3);
		assert_tmpl(&m, "session opened for user <*> by uid <*>");
		m = add(all[i], "connection from 5.6.7.8 at 11:00");
		assert_true(m.id == a.id);
		uint64_t sum[2] = { 0, 0 };
		ls_patterns_each(all[i], each_count, sum);
		assert_int_equal(sum[0], 6);
		assert_int_equal(sum[1], 3);
	}
	/* Loading into a smaller miner keeps the most recently used. */
	ls_patterns *s = miner(1);
	assert_int_equal(ls_patterns_load(s, buf, len), 0);
	assert_int_equal(ls_patterns_size(s), 1);
	walk_free(&w);
	assert_int_equal(ls_patterns_changes(s, 0, record, &w), 0);
	assert_int_equal(w.ndel, 2); /* the two forgotten go from the state */
	walk_free(&w);
	ls_patterns_free(s);
	free(buf);
	ls_patterns_free(p);
	ls_patterns_free(q);
	ls_patterns_free(r);
}

static size_t
put_rec(uint8_t *o, uint64_t id, const char *text)
{
	size_t n = strlen(text);
	memset(o, 0, LS_PATTERNS_REC_HDR);
	o[0] = 1;
	for (int i = 0; i < 8; i++)
		o[1 + i] = (uint8_t)(id >> (8 * i));
	o[9] = 1; /* count 1 */
	memcpy(o + LS_PATTERNS_REC_HDR, text, n);
	return LS_PATTERNS_REC_HDR + n;
}

/* Malformed state is refused with LS_ECORRUPT and leaves an empty miner. */
static void
test_corrupt_state(void **state)
{
	ls_patterns *p = miner(100);
	uint8_t a[128], b[128];
	const uint8_t *recs[2] = { a, b };
	size_t lens[2];
	(void)state;
	lens[0] = put_rec(a, 1, "good <*> text");
	lens[1] = put_rec(b, 2, "other");
	assert_int_equal(ls_patterns_load_records(p, recs, lens, 2), 0);
	assert_int_equal(ls_patterns_size(p), 2);
	static const char *const bad[] = { "", " a", "a ", "a  b", "a\tb" };
	for (size_t i = 0; i < 5; i++) {
		lens[1] = put_rec(b, 2, bad[i]);
		assert_int_equal(ls_patterns_load_records(p, recs, lens, 2),
		    LS_ECORRUPT);
		assert_int_equal(ls_patterns_size(p), 0);
	}
	lens[1] = put_rec(b, 1, "same id"); /* two with one id */
	assert_int_equal(ls_patterns_load_records(p, recs, lens, 2),
	    LS_ECORRUPT);
	lens[1] = put_rec(b, 2, "x");
	b[0] = 2; /* an unknown version */
	assert_int_equal(ls_patterns_load_records(p, recs, lens, 2),
	    LS_ECORRUPT);
	/* Snapshots: bad magic, truncation, trailing bytes. */
	uint8_t *buf;
	size_t len;
	lens[1] = put_rec(b, 2, "x");
	assert_int_equal(ls_patterns_load_records(p, recs, lens, 2), 0);
	assert_int_equal(ls_patterns_save(p, &buf, &len), 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(ls_patterns_load(p, buf, cut), LS_ECORRUPT);
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_int_equal(ls_patterns_load(p, longer, len + 1), LS_ECORRUPT);
	longer[0] = 'X';
	assert_int_equal(ls_patterns_load(p, longer, len), LS_ECORRUPT);
	assert_int_equal(ls_patterns_load(p, buf, len), 0);
	assert_int_equal(ls_patterns_size(p), 2);
	free(longer);
	free(buf);
	ls_patterns_free(p);
}

/* Long messages count for their first LS_PATTERNS_MAX_TOKENS tokens. */
static void
test_long_message(void **state)
{
	size_t n = 3 * LS_PATTERNS_MAX_TOKENS;
	char *msg = malloc(2 * n);
	(void)state;
	for (size_t i = 0; i < n; i++) {
		msg[2 * i] = 'w';
		msg[2 * i + 1] = ' ';
	}
	ls_patterns *p = miner(10);
	ls_patterns_match m;
	assert_int_equal(ls_patterns_add(p, msg, 2 * n, &m), 0);
	size_t toks = 1;
	for (size_t i = 0; i < m.tmpl_len; i++)
		toks += m.tmpl[i] == ' ';
	assert_int_equal(toks, LS_PATTERNS_MAX_TOKENS);
	free(msg);
	ls_patterns_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg),
		cmocka_unit_test(test_masking_and_params),
		cmocka_unit_test(test_generalise_keeps_id),
		cmocka_unit_test(test_ids_repeatable),
		cmocka_unit_test(test_bound_and_changes),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_corrupt_state),
		cmocka_unit_test(test_long_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
