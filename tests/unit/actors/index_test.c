/*
 * index_test.c -- the full-text index (actors/index.h) against references
 * written here: a tokenizer of its own (maximal runs of each token class
 * found over the whole line), a brute-force evaluation of random queries
 * over every document, and BM25 computed directly from the documents.
 *
 * Over each Loghub sample (read in place), random queries -- words, ids,
 * addresses and paths, phrases, field:value, prefixes, AND / OR / NOT,
 * time ranges -- must give exactly the brute-force hit set (k larger than
 * the corpus) with scores equal to the direct BM25 to 1e-6, and the top 10
 * (block-max pruning) must be the reference's top 10.  The same corpus
 * split over 1, 3 and 8 shards (statistics summed over shards, hits
 * merged) gives identical results, and so does an index rebuilt from its
 * encoded segments.  Also: the tokenizer on fixed lines, parser errors
 * with their byte position, highlights, merging, retention and the
 * changes walk, malformed segments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "actors/index.h"
#include "actors/parse.h"
#include "runtime/arena.h"
#include "runtime/err.h"

#ifndef LS_DATASETS_DIR
#define LS_DATASETS_DIR ""
#endif

static const char *
datasets_dir(void)
{
	const char *d = getenv("LS_DATASETS_DIR");
	return d != NULL && d[0] != '\0' ? d : LS_DATASETS_DIR;
}

/* ------------------------------------------------ reference tokenizer */

typedef struct rtok {
	char *s;
	uint32_t pos;
	int composite;
} rtok;

typedef struct rdoc {
	uint64_t key;
	int64_t time;
	char *line;
	size_t len;
	rtok *tok;
	uint32_t ntok;
	char **words; /* by position (NULL: a word too long to index) */
	uint32_t nwords;
	char **fterms; /* "name:value" lower-cased */
	uint32_t nf;
	ls_attr fields[LS_INDEX_MAX_FIELDS];
	uint32_t nfields;
} rdoc;

static int
wch(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '_' || c > 127;
}

static char *
lowdup(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		o[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	o[n] = 0;
	return o;
}

static void
addtok(rdoc *d, const char *s, size_t n, uint32_t pos, int comp)
{
	if (n > 255)
		return;
	d->tok = realloc(d->tok, (d->ntok + 1) * sizeof(rtok));
	d->tok[d->ntok].s = lowdup(s, n);
	d->tok[d->ntok].pos = pos;
	d->tok[d->ntok].composite = comp;
	d->ntok++;
}

/* position of the word starting at byte b: words starting before it */
static uint32_t
pos_at(const char *t, size_t b)
{
	uint32_t n = 0;
	for (size_t i = 0; i < b; i++)
		if (wch((unsigned char)t[i]) &&
		    (i == 0 || !wch((unsigned char)t[i - 1])))
			n++;
	return n;
}

static int
ip4(const char *s, size_t n)
{
	unsigned a, b, c, d;
	int used = 0;
	char tmp[64];
	if (n >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!(tmp[i] == '.' || (tmp[i] >= '0' && tmp[i] <= '9')))
			return 0;
	if (sscanf(tmp, "%3u.%3u.%3u.%3u%n", &a, &b, &c, &d, &used) != 4 ||
	    (size_t)used != n)
		return 0;
	/* sscanf accepts leading zeros of more than 3 digits? no: %3u
	 * takes at most 3; check no group is longer than 3 */
	int g = 0;
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] == '.')
			g = 0;
		else if (++g > 3)
			return 0;
	}
	return 1;
}

static void
ref_tokenize(rdoc *d)
{
	const char *t = d->line;
	size_t n = d->len;
	/* words */
	for (size_t i = 0; i < n;) {
		if (!wch((unsigned char)t[i])) {
			i++;
			continue;
		}
		size_t s = i;
		while (i < n && wch((unsigned char)t[i]))
			i++;
		d->words = realloc(d->words, (d->nwords + 1) * sizeof(char *));
		d->words[d->nwords] = i - s <= 255 ? lowdup(t + s, i - s) : NULL;
		addtok(d, t + s, i - s, d->nwords, 0);
		d->nwords++;
	}
	/* maximal runs of each composite class */
	for (int cls = 0; cls < 3; cls++) {
		const char *extra = cls == 0 ? "-" : cls == 1 ? "." : ".-/";
		for (size_t i = 0; i < n;) {
			unsigned char c = (unsigned char)t[i];
			if (!(wch(c) || strchr(extra, c) != NULL) || c == 0) {
				i++;
				continue;
			}
			size_t a = i;
			while (i < n && (wch((unsigned char)t[i]) ||
			                    (t[i] != 0 && strchr(extra, t[i]))))
				i++;
			size_t b = i;
			if (cls == 0) {
				while (a < b && t[a] == '-')
					a++;
				while (b > a && t[b - 1] == '-')
					b--;
				if (b > a && memchr(t + a, '-', b - a) != NULL)
					addtok(d, t + a, b - a, pos_at(t, a), 1);
			} else if (cls == 1) {
				while (b > a && t[b - 1] == '.')
					b--;
				if (ip4(t + a, b - a))
					addtok(d, t + a, b - a, pos_at(t, a), 1);
			} else {
				if (t[a] != '/')
					continue;
				while (b > a && (t[b - 1] == '.' || t[b - 1] == '-'))
					b--;
				size_t w = a;
				while (w < b && !wch((unsigned char)t[w]))
					w++;
				if (w < b)
					addtok(d, t + a, b - a, pos_at(t, w), 1);
			}
		}
	}
}

/* ------------------------------------------------------------ corpus */

typedef struct corpus {
	rdoc *docs;
	uint32_t n;
	char *buf;
	uint64_t total_len;
} corpus;

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
	*len = fread(b, 1, (size_t)n, f);
	b[*len] = 0;
	fclose(f);
	return b;
}

static void
add_field(rdoc *d, const char *name, ls_str v)
{
	if (v.len == 0 || d->nfields == LS_INDEX_MAX_FIELDS)
		return;
	char *nm = strdup(name);
	char *vv = malloc(v.len + 1);
	memcpy(vv, v.ptr, v.len);
	vv[v.len] = 0;
	d->fields[d->nfields].key = ls_str_c(nm);
	d->fields[d->nfields].val = ls_str_make(vv, v.len);
	d->nfields++;
	size_t nl = strlen(name);
	if (nl + v.len + 1 > 512)
		return;
	char *ft = malloc(nl + v.len + 2);
	memcpy(ft, name, nl);
	ft[nl] = ':';
	memcpy(ft + nl + 1, v.ptr, v.len);
	char *lo = lowdup(ft, nl + 1 + v.len);
	free(ft);
	d->fterms = realloc(d->fterms, (d->nf + 1) * sizeof(char *));
	d->fterms[d->nf++] = lo;
}

static int
load_corpus(const char *sys, corpus *c)
{
	char path[4096];
	size_t len;
	snprintf(path, sizeof(path), "%s/loghub/%s/%s_2k.log", datasets_dir(),
	    sys, sys);
	memset(c, 0, sizeof(*c));
	if ((c->buf = slurp(path, &len)) == NULL)
		return -1;
	ls_parser p;
	ls_parser_init(&p, LS_FMT_AUTO);
	p.default_year = 2020;
	ls_arena arena;
	ls_arena_init(&arena, 0);
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && c->buf[j] != '\n')
			j++;
		if (j > i) {
			c->docs = realloc(c->docs, (c->n + 1) * sizeof(rdoc));
			rdoc *d = &c->docs[c->n];
			memset(d, 0, sizeof(*d));
			d->key = c->n;
			d->line = c->buf + i;
			d->len = j - i;
			ls_event ev;
			const char *why;
			ls_arena_reset(&arena);
			d->time = (int64_t)c->n * 1000000000;
			if (ls_parser_parse(&p, d->line, d->len, &ev, &arena,
			        &why) == 0) {
				if (ev.time_ns != LS_TIME_UNKNOWN)
					d->time = ev.time_ns;
				if (ev.level != LS_LEVEL_UNKNOWN)
					add_field(d, "level",
					    ls_str_c(ls_level_name(ev.level)));
				add_field(d, "service", ev.service);
				add_field(d, "host", ev.host);
				for (uint32_t a = 0; a < ev.nattrs; a++) {
					char nm[128];
					if (ev.attrs[a].key.len >= sizeof(nm))
						continue;
					memcpy(nm, ev.attrs[a].key.ptr,
					    ev.attrs[a].key.len);
					nm[ev.attrs[a].key.len] = 0;
					add_field(d, nm, ev.attrs[a].val);
				}
			}
			ref_tokenize(d);
			c->total_len += d->nwords;
			c->n++;
		}
		i = j + 1;
	}
	ls_arena_fini(&arena);
	return 0;
}

static void
free_corpus(corpus *c)
{
	for (uint32_t i = 0; i < c->n; i++) {
		rdoc *d = &c->docs[i];
		for (uint32_t k = 0; k < d->ntok; k++)
			free(d->tok[k].s);
		for (uint32_t k = 0; k < d->nwords; k++)
			free(d->words[k]);
		for (uint32_t k = 0; k < d->nf; k++)
			free(d->fterms[k]);
		for (uint32_t k = 0; k < d->nfields; k++) {
			free((char *)d->fields[k].key.ptr);
			free((char *)d->fields[k].val.ptr);
		}
		free(d->tok);
		free(d->words);
		free(d->fterms);
	}
	free(c->docs);
	free(c->buf);
}

static void
add_doc(ls_index *ix, const rdoc *d)
{
	ls_index_doc doc = { d->time, d->key, ls_str_make(d->line, d->len),
		d->fields, d->nfields };
	assert_int_equal(ls_index_add(ix, &doc), 0);
}

/* -------------------------------------------------- random queries */

enum { R_TERM, R_PHRASE, R_FIELD, R_PREFIX, R_FPREFIX, R_AND, R_OR, R_NOT };

typedef struct rq {
	int type;
	char *s;          /* term, field term, prefix */
	char *words[4];   /* phrase */
	int nw;
	struct rq *kid[3];
	int nk;
} rq;

static uint64_t rng = 88172645463325252ULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static int
safe_val(const char *v)
{
	size_t n = strlen(v);
	return n > 0 && strchr(v, '"') == NULL && v[n - 1] != '*';
}

static rq *
gen_leaf(const corpus *c)
{
	rq *q = calloc(1, sizeof(*q));
	for (;;) {
		const rdoc *d = &c->docs[rnd(c->n)];
		int k = (int)rnd(10);
		if (k < 4 && d->ntok > 0) {
			q->type = R_TERM;
			q->s = strdup(d->tok[rnd(d->ntok)].s);
			return q;
		}
		if (k < 6 && d->nwords >= 2) {
			uint32_t nw = 2 + rnd(2);
			if (nw > d->nwords)
				nw = d->nwords;
			uint32_t at = rnd(d->nwords - nw + 1);
			int ok = 1;
			for (uint32_t i = 0; i < nw; i++)
				ok &= d->words[at + i] != NULL;
			if (!ok)
				continue;
			q->type = R_PHRASE;
			for (uint32_t i = 0; i < nw; i++)
				q->words[i] = strdup(d->words[at + i]);
			q->nw = (int)nw;
			return q;
		}
		if (k < 8 && d->nf > 0) {
			const char *ft = d->fterms[rnd(d->nf)];
			const char *colon = strchr(ft, ':');
			size_t nl = (size_t)(colon - ft);
			const char *v = colon + 1;
			int bad = nl == 0 || ft[0] == '-' || !safe_val(v);
			for (size_t i = 0; i < nl; i++)
				bad |= strchr(" \t()\"*", ft[i]) != NULL;
			if (bad)
				continue;
			if (rnd(5) == 0 && strpbrk(v, " \t()") == NULL) {
				q->type = R_FPREFIX;
				q->s = strndup(ft, nl + 2);
			} else {
				q->type = R_FIELD;
				q->s = strdup(ft);
			}
			return q;
		}
		if (d->ntok > 0) {
			const char *t = d->tok[rnd(d->ntok)].s;
			size_t n = strlen(t);
			size_t pl = 1 + rnd(n < 4 ? (uint32_t)n : 4);
			if (t[0] == '/' && pl < 2)
				pl = 2;
			if (pl > n || !wch((unsigned char)t[pl - 1]))
				continue;
			q->type = R_PREFIX;
			q->s = strndup(t, pl);
			return q;
		}
	}
}

static rq *
gen(const corpus *c, int depth)
{
	if (depth == 0 || rnd(3) == 0)
		return gen_leaf(c);
	rq *q = calloc(1, sizeof(*q));
	int k = (int)rnd(5);
	if (k == 0) {
		q->type = R_NOT;
		q->kid[0] = gen(c, depth - 1);
		q->nk = 1;
		return q;
	}
	q->type = k <= 2 ? R_AND : R_OR;
	q->nk = 2 + (int)rnd(2);
	for (int i = 0; i < q->nk; i++)
		q->kid[i] = gen(c, depth - 1);
	return q;
}

static void
rq_free(rq *q)
{
	free(q->s);
	for (int i = 0; i < q->nw; i++)
		free(q->words[i]);
	for (int i = 0; i < q->nk; i++)
		rq_free(q->kid[i]);
	free(q);
}

static void
render(const rq *q, char *out, size_t cap)
{
	size_t n = strlen(out);
	switch (q->type) {
	case R_TERM:
		snprintf(out + n, cap - n, "%s", q->s);
		break;
	case R_PREFIX:
	case R_FPREFIX:
		snprintf(out + n, cap - n, "%s*", q->s);
		break;
	case R_FIELD: {
		const char *colon = strchr(q->s, ':');
		if (strpbrk(colon, " \t()") != NULL)
			snprintf(out + n, cap - n, "%.*s:\"%s\"",
			    (int)(colon - q->s), q->s, colon + 1);
		else
			snprintf(out + n, cap - n, "%s", q->s);
		break;
	}
	case R_PHRASE:
		snprintf(out + n, cap - n, "\"");
		for (int i = 0; i < q->nw; i++) {
			n = strlen(out);
			snprintf(out + n, cap - n, "%s%s", i ? " " : "",
			    q->words[i]);
		}
		n = strlen(out);
		snprintf(out + n, cap - n, "\"");
		break;
	case R_NOT:
		snprintf(out + n, cap - n, rnd(2) ? "NOT " : "-");
		if (q->kid[0]->type >= R_AND) {
			strncat(out, "(", cap - strlen(out) - 1);
			render(q->kid[0], out, cap);
			strncat(out, ")", cap - strlen(out) - 1);
		} else {
			render(q->kid[0], out, cap);
		}
		break;
	default:
		for (int i = 0; i < q->nk; i++) {
			if (i > 0)
				strncat(out,
				    q->type == R_OR ? " OR "
				                    : (rnd(2) ? " AND " : " "),
				    cap - strlen(out) - 1);
			int paren = q->kid[i]->type == R_AND ||
			    q->kid[i]->type == R_OR;
			if (paren)
				strncat(out, "(", cap - strlen(out) - 1);
			render(q->kid[i], out, cap);
			if (paren)
				strncat(out, ")", cap - strlen(out) - 1);
		}
	}
}

static uint32_t
tf_of(const rdoc *d, const char *t)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < d->ntok; i++)
		n += strcmp(d->tok[i].s, t) == 0;
	return n;
}

static int
eval(const rq *q, const rdoc *d)
{
	switch (q->type) {
	case R_TERM:
		return tf_of(d, q->s) > 0;
	case R_PREFIX:
		for (uint32_t i = 0; i < d->ntok; i++)
			if (strncmp(d->tok[i].s, q->s, strlen(q->s)) == 0)
				return 1;
		return 0;
	case R_FIELD:
		for (uint32_t i = 0; i < d->nf; i++)
			if (strcmp(d->fterms[i], q->s) == 0)
				return 1;
		return 0;
	case R_FPREFIX:
		for (uint32_t i = 0; i < d->nf; i++)
			if (strncmp(d->fterms[i], q->s, strlen(q->s)) == 0)
				return 1;
		return 0;
	case R_PHRASE:
		for (uint32_t p = 0; p + (uint32_t)q->nw <= d->nwords; p++) {
			int ok = 1;
			for (int i = 0; i < q->nw && ok; i++)
				ok = d->words[p + i] != NULL &&
				    strcmp(d->words[p + i], q->words[i]) == 0;
			if (ok)
				return 1;
		}
		return 0;
	case R_NOT:
		return !eval(q->kid[0], d);
	case R_AND:
		for (int i = 0; i < q->nk; i++)
			if (!eval(q->kid[i], d))
				return 0;
		return 1;
	default:
		for (int i = 0; i < q->nk; i++)
			if (eval(q->kid[i], d))
				return 1;
		return 0;
	}
}

/* scoring words: terms and phrase words outside NOTs, first occurrence
 * order */
static void
scoring(const rq *q, int neg, char **terms, int *n)
{
	if (q->type == R_NOT) {
		scoring(q->kid[0], 1, terms, n);
		return;
	}
	if (neg)
		return;
	const char *w[4];
	int nw = 0;
	if (q->type == R_TERM)
		w[nw++] = q->s;
	if (q->type == R_PHRASE)
		for (int i = 0; i < q->nw; i++)
			w[nw++] = q->words[i];
	for (int i = 0; i < nw; i++) {
		int seen = 0;
		for (int j = 0; j < *n; j++)
			seen |= strcmp(terms[j], w[i]) == 0;
		if (!seen)
			terms[(*n)++] = (char *)w[i];
	}
	for (int i = 0; i < q->nk; i++)
		if (q->type == R_AND || q->type == R_OR)
			scoring(q->kid[i], 0, terms, n);
}

typedef struct rhit {
	double score;
	uint64_t key;
} rhit;

static int
rhit_cmp(const void *x, const void *y)
{
	const rhit *a = x, *b = y;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->key < b->key ? -1 : a->key > b->key;
}

/* The reference: every matching document in range, scored, sorted. */
static uint32_t
reference(const corpus *c, const rq *q, int64_t from, int64_t to,
    rhit *out)
{
	char *terms[64];
	int nt = 0;
	scoring(q, 0, terms, &nt);
	double df[64];
	for (int j = 0; j < nt; j++) {
		df[j] = 0;
		for (uint32_t i = 0; i < c->n; i++)
			df[j] += tf_of(&c->docs[i], terms[j]) > 0;
	}
	double N = c->n, avgdl = (double)c->total_len / N;
	uint32_t m = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		const rdoc *d = &c->docs[i];
		if (d->time < from || d->time >= to || !eval(q, d))
			continue;
		double s = 0;
		for (int j = 0; j < nt; j++) {
			double tf = tf_of(d, terms[j]);
			if (tf == 0)
				continue;
			double idf = log(1 + (N - df[j] + 0.5) / (df[j] + 0.5));
			s += idf * tf /
			    (tf + 1.2 * (0.25 + 0.75 * d->nwords / avgdl));
		}
		out[m].score = s;
		out[m].key = d->key;
		m++;
	}
	qsort(out, m, sizeof(rhit), rhit_cmp);
	return m;
}

static int
hit_cmp(const void *a, const void *b)
{
	return ls_index_hit_cmp(a, b);
}

/* Search shards with global statistics; merged hits into out. */
static uint32_t
search_shards(ls_index **sh, int nsh, const ls_index_query *q, int64_t from,
    int64_t to, uint32_t k, ls_index_hit *out, uint64_t *scored)
{
	ls_index_stats st;
	ls_index_stats_init(&st, q);
	for (int i = 0; i < nsh; i++)
		ls_index_stats_add(sh[i], q, &st);
	ls_index_hit *all = malloc((size_t)k * nsh * sizeof(*all));
	uint32_t n = 0;
	*scored = 0;
	for (int i = 0; i < nsh; i++) {
		uint32_t got;
		ls_index_search_info info;
		assert_int_equal(ls_index_search(sh[i], q, &st, from, to, k,
		                     all + n, &got, &info),
		    0);
		*scored += info.scored;
		n += got;
	}
	qsort(all, n, sizeof(*all), hit_cmp);
	if (n > k)
		n = k;
	memcpy(out, all, n * sizeof(*out));
	free(all);
	return n;
}

static void
check_against(const rhit *ref, uint32_t nref, const ls_index_hit *h,
    uint32_t nh, uint32_t k, const char *qs)
{
	uint32_t want = nref < k ? nref : k;
	if (nh != want)
		fail_msg("query [%s]: %u hits, reference %u", qs, nh, want);
	for (uint32_t i = 0; i < nh; i++) {
		if (fabs(h[i].score - ref[i].score) > 1e-6)
			fail_msg("query [%s]: hit %u score %.9f, reference %.9f",
			    qs, i, h[i].score, ref[i].score);
		/* a tie (to rounding) may order its keys either way */
		if (h[i].key != ref[i].key) {
			int tie = 0;
			for (uint32_t j = 0; j < nref; j++)
				if (ref[j].key == h[i].key)
					tie = fabs(ref[j].score - ref[i].score) <
					    1e-9;
			if (!tie)
				fail_msg("query [%s]: hit %u key %llu, "
				         "reference %llu",
				    qs, i, (unsigned long long)h[i].key,
				    (unsigned long long)ref[i].key);
		}
	}
}

/* On a mismatch: the lines on one side only, to see why. */
static void
show_diff(const corpus *c, const rhit *ref, uint32_t nref,
    const ls_index_hit *h, uint32_t nh)
{
	char *in = calloc(c->n, 1);
	for (uint32_t i = 0; i < nref; i++)
		in[ref[i].key] |= 1;
	for (uint32_t i = 0; i < nh; i++)
		in[h[i].key] |= 2;
	int shown = 0;
	for (uint32_t i = 0; i < c->n && shown < 3; i++)
		if (in[i] == 1 || in[i] == 2) {
			print_message("only in %s: %.*s\n",
			    in[i] == 1 ? "reference" : "index",
			    (int)c->docs[i].len, c->docs[i].line);
			shown++;
		}
	free(in);
}

static void
run_system(const char *sys, int nqueries)
{
	corpus c;
	if (load_corpus(sys, &c) != 0) {
		print_message("loghub %s missing: skipped\n", sys);
		skip();
	}
	static const int nshards[3] = { 1, 3, 8 };
	ls_index *sh[3][8];
	for (int v = 0; v < 3; v++)
		for (int i = 0; i < nshards[v]; i++)
			assert_int_equal(ls_index_new(&sh[v][i]), 0);
	for (uint32_t i = 0; i < c.n; i++) {
		for (int v = 0; v < 3; v++) {
			int s = (int)((c.docs[i].key * 2654435761u) % (uint32_t)nshards[v]);
			add_doc(sh[v][s], &c.docs[i]);
			/* several segments: seal now and then, merge */
			if (rnd(97) == 0) {
				ls_index_seal(sh[v][s]);
				assert_true(ls_index_merge(sh[v][s], 1000) >= 0);
			}
		}
	}
	/* shard 0 of the 3-shard split, rebuilt from its segments */
	ls_index *re;
	assert_int_equal(ls_index_new(&re), 0);
	ls_index_seal(sh[1][0]);
	for (uint32_t i = 0; i < ls_index_nsegs(sh[1][0]); i++) {
		uint8_t *buf;
		size_t len;
		assert_int_equal(ls_index_seg_encode(sh[1][0], i, &buf, &len), 0);
		assert_int_equal(ls_index_seg_decode(re, buf, len), 0);
		free(buf);
	}
	ls_index *tmp = sh[1][0];
	sh[1][0] = re;
	rhit *ref = malloc(c.n * sizeof(*ref));
	ls_index_hit *hits[3];
	for (int v = 0; v < 3; v++)
		hits[v] = malloc(LS_INDEX_MAX_K * sizeof(ls_index_hit));
	uint64_t scored_small = 0, matched = 0;
	for (int qi = 0; qi < nqueries; qi++) {
		rq *q = gen(&c, 3);
		char qs[4096] = "";
		render(q, qs, sizeof(qs));
		if (strlen(qs) > 4000) {
			rq_free(q);
			qi--;
			continue;
		}
		ls_index_query *pq;
		char err[128];
		size_t pos;
		if (ls_index_query_parse(qs, strlen(qs), &pq, err, sizeof(err),
		        &pos) != 0)
			fail_msg("query [%s] rejected at %zu: %s", qs, pos, err);
		int64_t from = INT64_MIN, to = INT64_MAX;
		if (rnd(4) == 0) {
			int64_t a = c.docs[rnd(c.n)].time,
				b = c.docs[rnd(c.n)].time;
			from = a < b ? a : b;
			to = a < b ? b : a;
		}
		uint32_t nref = reference(&c, q, from, to, ref);
		matched += nref;
		uint32_t ks[2] = { c.n + 1, 10 };
		for (int kk = 0; kk < 2; kk++) {
			uint32_t nh[3];
			for (int v = 0; v < 3; v++) {
				uint64_t scored;
				nh[v] = search_shards(sh[v], nshards[v], pq, from,
				    to, ks[kk], hits[v], &scored);
				if (kk == 1 && v == 0)
					scored_small += scored;
				if (kk == 0 && nh[v] != nref)
					show_diff(&c, ref, nref, hits[v], nh[v]);
				check_against(ref, nref, hits[v], nh[v], ks[kk],
				    qs);
			}
			/* identical over 1, 3 and 8 shards */
			for (int v = 1; v < 3; v++) {
				assert_int_equal(nh[v], nh[0]);
				for (uint32_t i = 0; i < nh[0]; i++) {
					assert_true(hits[v][i].score ==
					    hits[0][i].score);
					assert_true(hits[v][i].key ==
					    hits[0][i].key);
				}
			}
		}
		ls_index_query_free(pq);
		rq_free(q);
	}
	print_message("%s: %d queries, %llu matches, top-10 scored %llu\n",
	    sys, nqueries, (unsigned long long)matched,
	    (unsigned long long)scored_small);
	free(ref);
	for (int v = 0; v < 3; v++) {
		free(hits[v]);
		for (int i = 0; i < nshards[v]; i++)
			ls_index_free(sh[v][i]);
	}
	ls_index_free(tmp);
	free_corpus(&c);
}

#define SYSTEM(name)                                                     \
	static void test_loghub_##name(void **state)                     \
	{                                                                \
		(void)state;                                             \
		run_system(#name, 150);                                  \
	}
SYSTEM(Apache)
SYSTEM(BGL)
SYSTEM(HDFS)
SYSTEM(Hadoop)
SYSTEM(Linux)
SYSTEM(OpenSSH)
SYSTEM(Spark)
SYSTEM(Zookeeper)

/* ---------------------------------------------------- fixed cases */

typedef struct toks {
	char s[32][64];
	uint32_t pos[32];
	int n;
} toks;

static int
tok_cb(void *arg, const ls_index_token *t, const char *lw)
{
	toks *k = arg;
	snprintf(k->s[k->n], 64, "%.*s", (int)t->len, lw);
	k->pos[k->n++] = t->pos;
	return 0;
}

static void
test_tokenizer(void **state)
{
	(void)state;
	toks k = { .n = 0 };
	const char *line = "Got blk_-123 from 10.0.0.1:50010 at /var/Log/x.txt.";
	long dl = ls_index_tokenize(line, strlen(line), tok_cb, &k);
	assert_int_equal(dl, 14);
	const char *want[] = { "got", "blk_", "blk_-123", "123", "from", "10",
		"10.0.0.1", "0", "0", "1", "50010", "at", "var", "/var/log/x.txt",
		"log", "x", "txt" };
	const uint32_t wpos[] = { 0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9, 10, 10,
		11, 12, 13 };
	assert_int_equal(k.n, 17);
	for (int i = 0; i < k.n; i++) {
		assert_string_equal(k.s[i], want[i]);
		assert_int_equal(k.pos[i], wpos[i]);
	}
}

static void
expect_error(const char *q, size_t want_pos)
{
	ls_index_query *pq = NULL;
	char err[128];
	size_t pos = 9999;
	int rv = ls_index_query_parse(q, strlen(q), &pq, err, sizeof(err), &pos);
	if (rv != LS_EPARSE || pos != want_pos)
		fail_msg("[%s]: rv %d pos %zu (%s), want EPARSE at %zu", q, rv,
		    pos, err, want_pos);
	assert_null(pq);
	assert_true(err[0] != 0);
}

static void
test_parse_errors(void **state)
{
	(void)state;
	expect_error("", 0);
	expect_error("   ", 3);
	expect_error("foo AND", 7);
	expect_error("(foo", 0);
	expect_error("foo)", 3);
	expect_error("a \"b c", 2);
	expect_error("OR a", 0);
	expect_error("a OR", 4);
	expect_error("a AND OR b", 6);
	expect_error("host:", 5);
	expect_error(":x", 0);
	expect_error("a ... b", 2);
	expect_error("x \"\"", 2);
	expect_error("a -", 2);
	expect_error("NOT", 3);
	expect_error("a ()", 3);
	char big[LS_INDEX_QUERY_MAX + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	expect_error(big, LS_INDEX_QUERY_MAX);
	char deep[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "(");
	strcat(deep, "a");
	expect_error(deep, 32);
	/* accepted */
	const char *ok[] = { "a", "*", "a b", "a AND (b OR -c)", "NOT a",
		"host:\"web 1\"", "level:warning", "blk_-1*", "\"a b\" OR c",
		"x:y*", "and or not", "10.0.0.1", "/var/log" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ls_index_query *pq;
		assert_int_equal(ls_index_query_parse(ok[i], strlen(ok[i]), &pq,
		                     NULL, 0, NULL),
		    0);
		ls_index_query_free(pq);
	}
}

static ls_index *
small_index(void)
{
	ls_index *ix;
	assert_int_equal(ls_index_new(&ix), 0);
	const char *lines[] = { "error disk full on /dev/sda1",
		"warning: disk almost full", "login ok for root from 10.1.2.3",
		"error: login failed for root from 10.1.2.3",
		"ERROR Error error repeated" };
	ls_attr f[2] = { { ls_str_c("level"), ls_str_c("ERROR") },
		{ ls_str_c("host"), ls_str_c("Web-1") } };
	for (int i = 0; i < 5; i++) {
		ls_index_doc d = { (int64_t)i * 1000, (uint64_t)i,
			ls_str_c(lines[i]), f, i % 2 == 0 ? 2u : 0u };
		assert_int_equal(ls_index_add(ix, &d), 0);
	}
	return ix;
}

static uint32_t
run(ls_index *ix, const char *qs, ls_index_hit *h, uint32_t k)
{
	ls_index_query *q;
	assert_int_equal(
	    ls_index_query_parse(qs, strlen(qs), &q, NULL, 0, NULL), 0);
	ls_index_stats st;
	ls_index_stats_init(&st, q);
	ls_index_stats_add(ix, q, &st);
	uint32_t n;
	assert_int_equal(
	    ls_index_search(ix, q, &st, INT64_MIN, INT64_MAX, k, h, &n, NULL),
	    0);
	ls_index_query_free(q);
	return n;
}

static void
test_basic_queries(void **state)
{
	(void)state;
	ls_index *ix = small_index();
	ls_index_hit h[10];
	assert_int_equal(run(ix, "error", h, 10), 3);
	assert_int_equal(h[0].key, 4); /* tf 3 */
	assert_int_equal(run(ix, "level:error", h, 10), 3);
	assert_int_equal(run(ix, "level:err", h, 10), 3); /* a level alias */
	assert_int_equal(run(ix, "host:web-1 -disk -login", h, 10), 1);
	assert_int_equal(h[0].key, 4);
	assert_int_equal(run(ix, "\"login failed\"", h, 10), 1);
	assert_int_equal(h[0].key, 3);
	assert_int_equal(run(ix, "\"failed login\"", h, 10), 0);
	assert_int_equal(run(ix, "10.1.2.3", h, 10), 2);
	assert_int_equal(run(ix, "/dev/sda1", h, 10), 1);
	assert_int_equal(run(ix, "/dev*", h, 10), 1);
	assert_int_equal(run(ix, "log*", h, 10), 2);
	assert_int_equal(run(ix, "NOT error", h, 10), 2);
	assert_int_equal(run(ix, "*", h, 10), 5);
	assert_int_equal(run(ix, "(disk OR login) AND NOT root", h, 10), 2);
	assert_int_equal(run(ix, "disk", h, 1), 1);
	ls_index_free(ix);
}

static void
test_highlight(void **state)
{
	(void)state;
	ls_index_query *q;
	const char *qs = "error OR \"login failed\" OR fo* -root";
	assert_int_equal(
	    ls_index_query_parse(qs, strlen(qs), &q, NULL, 0, NULL), 0);
	const char *line = "ERROR: login failed for root";
	ls_index_span sp[8];
	uint32_t n = ls_index_highlight(q, line, strlen(line), sp, 8);
	assert_int_equal(n, 4);
	const uint32_t off[] = { 0, 7, 13, 20 }, len[] = { 5, 5, 6, 3 };
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(sp[i].off, off[i]);
		assert_int_equal(sp[i].len, len[i]);
	}
	assert_int_equal(ls_index_query_nterms(q), 3);
	assert_string_equal(ls_index_query_term(q, 1), "login");
	ls_index_query_free(q);
}

/* A common term over many documents: the top 10 scores few of them. */
static void
test_pruning(void **state)
{
	(void)state;
	ls_index *ix;
	assert_int_equal(ls_index_new(&ix), 0);
	char line[128];
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(line, sizeof(line), "info request %d served%s",
		    i, i % 1000 == 7 ? " request request" : "");
		ls_index_doc d = { i, (uint64_t)i, ls_str_make(line, (size_t)n),
			NULL, 0 };
		assert_int_equal(ls_index_add(ix, &d), 0);
	}
	ls_index_query *q;
	assert_int_equal(ls_index_query_parse("request", 7, &q, NULL, 0, NULL),
	    0);
	ls_index_stats st;
	ls_index_stats_init(&st, q);
	ls_index_stats_add(ix, q, &st);
	ls_index_hit h[10];
	uint32_t n;
	ls_index_search_info info;
	assert_int_equal(ls_index_search(ix, q, &st, INT64_MIN, INT64_MAX, 10,
	                     h, &n, &info),
	    0);
	assert_int_equal(n, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(h[i].key, 7 + 1000 * (uint64_t)i);
	assert_true(info.scored < 4000); /* of 20,000 matches */
	ls_index_query_free(q);
	ls_index_free(ix);
}

static int
count_change(void *arg, uint64_t base, const uint8_t *buf, size_t len)
{
	int *c = arg;
	(void)base;
	(void)len;
	c[buf != NULL ? 0 : 1]++;
	return 0;
}

static void
test_segments(void **state)
{
	(void)state;
	ls_index *ix;
	assert_int_equal(ls_index_new(&ix), 0);
	for (int i = 0; i < 40; i++) {
		ls_index_doc d = { (int64_t)i * 1000000000, (uint64_t)i,
			ls_str_c("x y z"), NULL, 0 };
		assert_int_equal(ls_index_add(ix, &d), 0);
		if (i % 5 == 4) {
			ls_index_seal(ix);
			assert_true(ls_index_merge(ix, 20) >= 0);
		}
	}
	uint32_t ns = ls_index_nsegs(ix);
	assert_true(ns >= 2 && ns < 8);
	int c[2] = { 0, 0 };
	assert_int_equal(ls_index_changes(ix, 0, count_change, c), 0);
	assert_true(c[0] == (int)ns && c[1] > 0);
	c[0] = c[1] = 0;
	assert_int_equal(ls_index_changes(ix, 0, count_change, c), 0);
	assert_true(c[0] == 0 && c[1] == 0);
	/* retention: segments older than 25 s go */
	assert_true(ls_index_expire(ix, 25000000000) > 0);
	ls_index_info info;
	ls_index_get_info(ix, &info);
	assert_true(info.docs < 40 && info.docs >= 15);
	assert_int_equal(ls_index_changes(ix, 0, count_change, c), 0);
	assert_true(c[1] > 0);
	/* a key below the previous one */
	ls_index_doc d = { 0, 3, ls_str_c("a"), NULL, 0 };
	assert_int_equal(ls_index_add(ix, &d), LS_EINVAL);
	/* malformed segments */
	uint8_t *buf;
	size_t len;
	assert_int_equal(ls_index_seg_encode(ix, 0, &buf, &len), 0);
	assert_int_equal(ls_index_seg_decode(ix, buf, len), LS_ECORRUPT);
	ls_index *fresh;
	assert_int_equal(ls_index_new(&fresh), 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_equal(ls_index_seg_decode(fresh, buf, cut),
		    LS_ECORRUPT);
	assert_int_equal(ls_index_seg_decode(fresh, buf, len), 0);
	free(buf);
	ls_index_free(fresh);
	ls_index_free(ix);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokenizer),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_basic_queries),
		cmocka_unit_test(test_highlight),
		cmocka_unit_test(test_pruning),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_loghub_Apache),
		cmocka_unit_test(test_loghub_BGL),
		cmocka_unit_test(test_loghub_HDFS),
		cmocka_unit_test(test_loghub_Hadoop),
		cmocka_unit_test(test_loghub_Linux),
		cmocka_unit_test(test_loghub_OpenSSH),
		cmocka_unit_test(test_loghub_Spark),
		cmocka_unit_test(test_loghub_Zookeeper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
