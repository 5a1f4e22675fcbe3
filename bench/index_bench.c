/*
 * index_bench.c -- the full-text index (actors/index.h) against SQLite
 * FTS5 on the same corpus and the same queries, in the same run.
 *
 * Usage: index_bench CORPUS.log (bench/run.sh makes it with
 * ../shared/tools/make_corpus.py 1M under the build directory).
 *
 * Every line is parsed up front (not timed) for its level, service and
 * host; then both indexes take every line (the whole line as text, the
 * level as a field / a second FTS5 column), one thread, in memory: lines/s
 * indexed.  Then per query kind (a word, a rare id or address, two words
 * ANDed and ORed, a phrase, level:x plus a word, a prefix, a word without
 * another) 200 queries drawn from the corpus (words sampled by occurrence,
 * so common words come up often), top 10 by BM25: latency p50 and p99 in
 * ms, ours with the statistics gathered per query (as a one-shard
 * coordinator would) and FTS5's `ORDER BY rank LIMIT 10`.  For the plain
 * word queries it also prints how many matching documents the top 10
 * scored against how many matched (block-max pruning).
 *
 * Sanity checks: every line indexed by both; every query parses, and a
 * word query gets hits in both (the word comes from the corpus).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "actors/index.h"
#include "actors/parse.h"
#include "bench/bench.h"
#include "runtime/arena.h"

#define NQ 200
#define SEG_DOCS 100000

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

typedef struct line {
	const char *p;
	uint32_t len;
	ls_attr f[3];
	uint32_t nf;
	char level[8];
} line;

static line *lines;
static size_t nlines;

/* Tokens of one line, for drawing queries. */
typedef struct toks {
	char w[64][64];
	int comp[64];
	int n;
} toks;

static int
tok_cb(void *arg, const ls_index_token *t, const char *lw)
{
	toks *k = arg;
	if (k->n == 64 || t->len >= 64)
		return 0;
	memcpy(k->w[k->n], lw, t->len);
	k->w[k->n][t->len] = 0;
	k->comp[k->n] = t->composite;
	k->n++;
	return 0;
}

static void
line_toks(size_t i, toks *k)
{
	k->n = 0;
	ls_index_tokenize(lines[i].p, lines[i].len, tok_cb, k);
}

/* A plain word (letters first, so FTS5 reads it the same) of a random
 * line: sampled by occurrence. */
static int
pick_word(char *out, size_t *at_line, int *at_tok)
{
	for (int tries = 0; tries < 1000; tries++) {
		size_t i = (size_t)(next() % nlines);
		toks k;
		line_toks(i, &k);
		if (k.n == 0)
			continue;
		int j = (int)(next() % (uint64_t)k.n);
		const char *w = k.w[j];
		if (k.comp[j] || strlen(w) < 3 || !(w[0] >= 'a' && w[0] <= 'z') ||
		    strchr(w, '_') != NULL)
			continue;
		strcpy(out, w);
		if (at_line != NULL)
			*at_line = i;
		if (at_tok != NULL)
			*at_tok = j;
		return 0;
	}
	return -1;
}

enum { K_WORD, K_RARE, K_AND, K_OR, K_PHRASE, K_FIELD, K_PREFIX, K_NOT,
	K_COUNT };
static const char *const kind_name[K_COUNT] = { "word", "rare", "and2",
	"or2", "phrase", "field", "prefix", "not" };

/* One query in both syntaxes. */
static int
make_query(int kind, char *ours, char *fts, size_t cap)
{
	char a[64], b[64];
	size_t li;
	int tj;
	if (pick_word(a, &li, &tj) != 0)
		return -1;
	switch (kind) {
	case K_WORD:
		snprintf(ours, cap, "%s", a);
		snprintf(fts, cap, "\"%s\"", a);
		return 0;
	case K_RARE: {
		/* an id, address or path of a random line */
		for (int tries = 0; tries < 1000; tries++) {
			toks k;
			line_toks((size_t)(next() % nlines), &k);
			for (int j = 0; j < k.n; j++)
				if (k.comp[j] && strchr(k.w[j], '"') == NULL &&
				    k.w[j][0] != '-') {
					snprintf(ours, cap, "%s", k.w[j]);
					snprintf(fts, cap, "\"%s\"", k.w[j]);
					return 0;
				}
		}
		return -1;
	}
	case K_AND:
	case K_NOT: {
		toks k;
		line_toks(li, &k);
		for (int j = 0; j < k.n; j++) {
			const char *w = k.w[(tj + 1 + j) % k.n];
			if (!k.comp[(tj + 1 + j) % k.n] && strcmp(w, a) != 0 &&
			    w[0] >= 'a' && w[0] <= 'z' && strchr(w, '_') == NULL) {
				if (kind == K_AND) {
					snprintf(ours, cap, "%s %s", a, w);
					snprintf(fts, cap, "\"%s\" AND \"%s\"", a, w);
				} else {
					snprintf(ours, cap, "%s -%s", a, w);
					snprintf(fts, cap, "\"%s\" NOT \"%s\"", a, w);
				}
				return 0;
			}
		}
		return -1;
	}
	case K_OR:
		if (pick_word(b, NULL, NULL) != 0)
			return -1;
		snprintf(ours, cap, "%s OR %s", a, b);
		snprintf(fts, cap, "\"%s\" OR \"%s\"", a, b);
		return 0;
	case K_PHRASE: {
		toks k;
		line_toks(li, &k);
		/* the next plain word after a */
		for (int j = tj + 1; j < k.n; j++) {
			if (k.comp[j])
				continue;
			const char *w = k.w[j];
			if (!(w[0] >= 'a' && w[0] <= 'z') || strchr(w, '_'))
				return -1;
			snprintf(ours, cap, "\"%s %s\"", a, w);
			snprintf(fts, cap, "\"%s %s\"", a, w);
			return 0;
		}
		return -1;
	}
	case K_FIELD:
		if (lines[li].nf == 0 || lines[li].level[0] == 0)
			return -1;
		snprintf(ours, cap, "level:%s %s", lines[li].level, a);
		snprintf(fts, cap, "level:\"%s\" AND line:\"%s\"", lines[li].level,
		    a);
		return 0;
	case K_PREFIX:
		a[3] = 0;
		snprintf(ours, cap, "%s*", a);
		snprintf(fts, cap, "%s*", a);
		return 0;
	default:
		return -1;
	}
}

static int
cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double
pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	int i = (int)ceil(p * n) - 1;
	return v[i < 0 ? 0 : i];
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void
load(char *buf, size_t len, ls_arena *arena)
{
	size_t cap = 1 << 20;
	lines = malloc(cap * sizeof(*lines));
	ls_parser p;
	ls_parser_init(&p, LS_FMT_AUTO);
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && buf[j] != '\n')
			j++;
		if (j > i) {
			if (nlines == cap)
				lines = realloc(lines, (cap *= 2) * sizeof(*lines));
			line *l = &lines[nlines++];
			memset(l, 0, sizeof(*l));
			l->p = buf + i;
			l->len = (uint32_t)(j - i);
			ls_event ev;
			if (ls_parser_parse(&p, l->p, l->len, &ev, arena, NULL) ==
			    0) {
				if (ev.level != LS_LEVEL_UNKNOWN) {
					const char *n = ls_level_name(ev.level);
					for (int c = 0; n[c] && c < 7; c++)
						l->level[c] = (char)(n[c] | 0x20);
					l->f[l->nf].key = ls_str_c("level");
					l->f[l->nf++].val = ls_str_c(l->level);
				}
				if (ev.service.len > 0) {
					l->f[l->nf].key = ls_str_c("service");
					l->f[l->nf++].val = ev.service;
				}
				if (ev.host.len > 0) {
					l->f[l->nf].key = ls_str_c("host");
					l->f[l->nf++].val = ev.host;
				}
			}
		}
		i = j + 1;
	}
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: index_bench CORPUS.log\n");
		return 2;
	}
	size_t len;
	char *buf = slurp(argv[1], &len);
	if (buf == NULL)
		return ls_bench_fail("index", "cannot read %s", argv[1]);
	ls_arena arena;
	ls_arena_init(&arena, 0);
	load(buf, len, &arena);
	size_t n = (size_t)ls_bench_scaled(nlines, 1000);
	if (n < nlines)
		nlines = n;
	ls_bench_print("index corpus", "%zu lines, %.1f MB", nlines,
	    (double)len / 1e6);

	/* ---- ours ---- */
	ls_index *ix;
	if (ls_index_new(&ix) != 0)
		return ls_bench_fail("index", "out of memory");
	double t0 = now_s();
	for (size_t i = 0; i < nlines; i++) {
		ls_index_doc d = { (int64_t)i * 1000000, i,
			ls_str_make(lines[i].p, lines[i].len), lines[i].f,
			lines[i].nf };
		if (ls_index_add(ix, &d) != 0)
			return ls_bench_fail("index", "line %zu not indexed", i);
		if ((i + 1) % SEG_DOCS == 0) {
			ls_index_seal(ix);
			if (ls_index_merge(ix, 1000000) < 0)
				return ls_bench_fail("index", "merge failed");
		}
	}
	ls_index_seal(ix);
	double t_ours = now_s() - t0;
	ls_index_info info;
	ls_index_get_info(ix, &info);
	if (info.docs != nlines)
		return ls_bench_fail("index", "%llu docs of %zu lines",
		    (unsigned long long)info.docs, nlines);
	ls_bench_print("index build", "%.0f K lines/s  (%.2f s, %u segments, "
	                              "%.0f MB in memory, %llu terms)",
	    (double)nlines / t_ours / 1e3, t_ours, info.segments,
	    (double)info.mem_bytes / 1e6, (unsigned long long)info.terms);

	/* ---- FTS5 ---- */
	sqlite3 *db;
	sqlite3_stmt *ins;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(line, level)",
	        NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO t(rowid, line, level) VALUES "
	                           "(?, ?, ?)",
	        -1, &ins, NULL) != SQLITE_OK)
		return ls_bench_fail("index", "sqlite: %s", sqlite3_errmsg(db));
	t0 = now_s();
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (size_t i = 0; i < nlines; i++) {
		sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
		sqlite3_bind_text(ins, 2, lines[i].p, (int)lines[i].len,
		    SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, lines[i].level, -1, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return ls_bench_fail("index", "sqlite insert: %s",
			    sqlite3_errmsg(db));
		sqlite3_reset(ins);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	double t_fts = now_s() - t0;
	sqlite3_finalize(ins);
	ls_bench_print("fts5 build", "%.0f K lines/s  (%.2f s, SQLite %s, "
	                             "in memory)",
	    (double)nlines / t_fts / 1e3, t_fts, sqlite3_libversion());

	/* ---- queries ---- */
	sqlite3_stmt *sel;
	if (sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ? "
	                           "ORDER BY rank LIMIT 10",
	        -1, &sel, NULL) != SQLITE_OK)
		return ls_bench_fail("index", "sqlite: %s", sqlite3_errmsg(db));
	ls_index_hit hits[10];
	for (int kind = 0; kind < K_COUNT; kind++) {
		double lo[NQ], lf[NQ];
		uint64_t scored = 0, matched = 0;
		int got = 0;
		for (int qi = 0; qi < NQ; qi++) {
			char ours[256], fts[256];
			int tries = 0;
			while (make_query(kind, ours, fts, sizeof(ours)) != 0)
				if (++tries > 1000)
					return ls_bench_fail("index",
					    "no %s query", kind_name[kind]);
			ls_index_query *q;
			double a = now_s();
			if (ls_index_query_parse(ours, strlen(ours), &q, NULL, 0,
			        NULL) != 0)
				return ls_bench_fail("index", "query [%s]", ours);
			ls_index_stats st;
			ls_index_stats_init(&st, q);
			ls_index_stats_add(ix, q, &st);
			uint32_t nh;
			ls_index_search_info si;
			if (ls_index_search(ix, q, &st, INT64_MIN, INT64_MAX, 10,
			        hits, &nh, &si) != 0)
				return ls_bench_fail("index", "search [%s]", ours);
			lo[qi] = (now_s() - a) * 1e3;
			if (kind == K_WORD) {
				scored += si.scored;
				matched += st.df[0];
				if (nh == 0)
					return ls_bench_fail("index",
					    "no hit for [%s]", ours);
			}
			ls_index_query_free(q);
			a = now_s();
			sqlite3_bind_text(sel, 1, fts, -1, SQLITE_TRANSIENT);
			int rows = 0, rc;
			while ((rc = sqlite3_step(sel)) == SQLITE_ROW)
				rows++;
			if (rc != SQLITE_DONE)
				return ls_bench_fail("index", "fts5 [%s]: %s", fts,
				    sqlite3_errmsg(db));
			sqlite3_reset(sel);
			lf[qi] = (now_s() - a) * 1e3;
			if (kind == K_WORD && rows == 0)
				return ls_bench_fail("index", "fts5: no hit for "
				                              "[%s]",
				    fts);
			got++;
		}
		char name[64];
		snprintf(name, sizeof(name), "index top10 %s", kind_name[kind]);
		double p50 = pct(lo, got, 0.5), p99 = pct(lo, got, 0.99);
		double f50 = pct(lf, got, 0.5), f99 = pct(lf, got, 0.99);
		ls_bench_print(name, "p50 %.3f ms  p99 %.3f ms   fts5 p50 %.3f ms "
		                     " p99 %.3f ms  (%d queries)",
		    p50, p99, f50, f99, got);
		if (kind == K_WORD)
			ls_bench_print("index top10 word pruning",
			    "scored %.1f %% of the matching documents (%llu of "
			    "%llu)",
			    matched ? 100.0 * (double)scored / (double)matched : 0,
			    (unsigned long long)scored,
			    (unsigned long long)matched);
	}
	sqlite3_finalize(sel);
	sqlite3_close(db);
	ls_index_free(ix);
	ls_arena_fini(&arena);
	free(lines);
	free(buf);
	return 0;
}
