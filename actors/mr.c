/*
 * mr.c -- the MapReduce engine (see mr.h).
 *
 * Map: workers take splits from a shared counter, read them in 1 MiB
 * chunks, parse each line they own and fold it into their own table
 * (combining).  Shuffle and reduce: reducer r merges the entries whose key
 * hash falls in partition r from every worker's table.  The result is
 * gathered, sorted and written.
 */
#include "actors/mr.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actors/sinkfmt.h"
#include "runtime/arena.h"
#include "runtime/err.h"
#include "runtime/hash.h"

#define CHUNK (1u << 20)
#define KEY_SEP '\x1f'
/* percentiles: buckets of relative width 2 % (1 % error), indices
 * -NB/2 .. NB/2 around 1.0: 1e-9 .. 1e9 and beyond clamped */
#define ALPHA 0.01
#define NB 2200

static const char *const kind_names[] = { "count", "top", "words",
	"percentiles", "distinct" };

int
ls_mr_kind_from_name(const char *name, ls_mr_kind *out)
{
	for (int i = 0; i < 5; i++)
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (ls_mr_kind)i;
			return 0;
		}
	return -1;
}

const char *
ls_mr_kind_name(ls_mr_kind k)
{
	return (unsigned)k < 5 ? kind_names[k] : "?";
}

/* ---- aggregates and tables ---- */

typedef struct agg {
	uint64_t count;
	uint32_t *buckets; /* percentiles */
	uint64_t zeros;
	double max;
	uint64_t *set;     /* distinct: open addressing, 0 = empty */
	size_t setn, setcap;
	int has_zero_hash;
} agg;

typedef struct ent {
	uint64_t h;
	char *key;
	uint32_t klen;
	agg a;
} ent;

typedef struct table {
	ent *e;
	size_t cap, n;
	ls_arena keys;
} table;

static int
table_init(table *t)
{
	t->cap = 1024;
	t->n = 0;
	t->e = calloc(t->cap, sizeof(*t->e));
	ls_arena_init(&t->keys, 1 << 20);
	return t->e != NULL ? 0 : LS_ENOMEM;
}

static void
agg_free(agg *a)
{
	free(a->buckets);
	free(a->set);
}

static void
table_fini(table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].key != NULL)
			agg_free(&t->e[i].a);
	free(t->e);
	ls_arena_fini(&t->keys);
}

static int
table_grow(table *t)
{
	size_t nc = t->cap * 2;
	ent *ne = calloc(nc, sizeof(*ne));
	if (ne == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (t->e[i].key == NULL)
			continue;
		size_t j = t->e[i].h & (nc - 1);
		while (ne[j].key != NULL)
			j = (j + 1) & (nc - 1);
		ne[j] = t->e[i];
	}
	free(t->e);
	t->e = ne;
	t->cap = nc;
	return 0;
}

/* The entry of key (inserted when new), or NULL when out of memory. */
static ent *
table_get(table *t, uint64_t h, const char *key, size_t klen)
{
	size_t j = h & (t->cap - 1);
	while (t->e[j].key != NULL) {
		if (t->e[j].h == h && t->e[j].klen == klen &&
		    memcmp(t->e[j].key, key, klen) == 0)
			return &t->e[j];
		j = (j + 1) & (t->cap - 1);
	}
	if ((t->n + 1) * 10 > t->cap * 7) {
		if (table_grow(t) != 0)
			return NULL;
		return table_get(t, h, key, klen);
	}
	char *k = ls_arena_alloc(&t->keys, klen ? klen : 1);
	if (k == NULL)
		return NULL;
	memcpy(k, key, klen);
	t->e[j].h = h;
	t->e[j].key = k;
	t->e[j].klen = (uint32_t)klen;
	t->n++;
	return &t->e[j];
}

static int
set_add(agg *a, uint64_t v)
{
	if (v == 0) {
		a->has_zero_hash = 1;
		return 0;
	}
	if ((a->setn + 1) * 10 > a->setcap * 7) {
		size_t nc = a->setcap ? a->setcap * 2 : 16;
		uint64_t *ns = calloc(nc, sizeof(*ns));
		if (ns == NULL)
			return LS_ENOMEM;
		for (size_t i = 0; i < a->setcap; i++) {
			if (a->set[i] == 0)
				continue;
			size_t j = a->set[i] & (nc - 1);
			while (ns[j] != 0)
				j = (j + 1) & (nc - 1);
			ns[j] = a->set[i];
		}
		free(a->set);
		a->set = ns;
		a->setcap = nc;
	}
	size_t j = v & (a->setcap - 1);
	while (a->set[j] != 0) {
		if (a->set[j] == v)
			return 0;
		j = (j + 1) & (a->setcap - 1);
	}
	a->set[j] = v;
	a->setn++;
	return 0;
}

static double gamma_log; /* log((1 + ALPHA) / (1 - ALPHA)) */

static int
bucket_of(double v)
{
	int i = (int)ceil(log(v) / gamma_log);
	if (i < -NB / 2)
		i = -NB / 2;
	if (i > NB / 2 - 1)
		i = NB / 2 - 1;
	return i + NB / 2;
}

static double
bucket_value(int b)
{
	double g = exp(gamma_log);
	return 2.0 * pow(g, (double)(b - NB / 2)) / (g + 1.0);
}

static int
add_value(agg *a, double v)
{
	if (a->buckets == NULL &&
	    (a->buckets = calloc(NB, sizeof(*a->buckets))) == NULL)
		return LS_ENOMEM;
	if (a->count == 0 || v > a->max)
		a->max = v;
	a->count++;
	if (!(v > 0)) {
		a->zeros++;
		return 0;
	}
	a->buckets[bucket_of(v)]++;
	return 0;
}

static int
agg_merge(agg *d, const agg *s)
{
	if (s->buckets != NULL) {
		if (d->buckets == NULL &&
		    (d->buckets = calloc(NB, sizeof(*d->buckets))) == NULL)
			return LS_ENOMEM;
		for (int i = 0; i < NB; i++)
			d->buckets[i] += s->buckets[i];
		if (d->count == 0 || s->max > d->max)
			d->max = s->max;
		d->zeros += s->zeros;
	}
	d->count += s->count;
	for (size_t i = 0; i < s->setcap; i++)
		if (s->set[i] != 0 && set_add(d, s->set[i]) != 0)
			return LS_ENOMEM;
	d->has_zero_hash |= s->has_zero_hash;
	return 0;
}

/* The q-quantile (nearest rank) of a's values. */
static double
quantile(const agg *a, double q)
{
	if (a->count == 0)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)a->count);
	if (rank < 1)
		rank = 1;
	if (rank <= a->zeros)
		return 0;
	uint64_t seen = a->zeros;
	for (int i = 0; i < NB; i++) {
		seen += a->buckets[i];
		if (seen >= rank) {
			double v = bucket_value(i);
			return v > a->max ? a->max : v;
		}
	}
	return a->max;
}

/* ---- map ---- */

typedef struct split {
	uint32_t file;
	uint64_t start, end;
} split;

typedef struct run {
	const ls_mr_job *job;
	split *splits;
	size_t nsplits;
	_Atomic size_t next;
	_Atomic uint64_t bytes, lines, skipped, splits_done;
	uint64_t total_bytes;
	table *tables; /* per worker, then reused per reducer */
	unsigned nw;
	_Atomic int failed;
	pthread_mutex_t lock; /* progress and err */
	char *err;
	size_t errlen;
	ls_mr_progress_fn progress;
	void *parg;
	int64_t last_ns;
} run;

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
stats_of(run *r, ls_mr_stats *st)
{
	st->bytes = atomic_load(&r->bytes);
	st->total_bytes = r->total_bytes;
	st->lines = atomic_load(&r->lines);
	st->skipped = atomic_load(&r->skipped);
	st->splits = r->nsplits;
	st->splits_done = atomic_load(&r->splits_done);
	st->keys = 0;
}

static void
maybe_progress(run *r)
{
	if (r->progress == NULL)
		return;
	int64_t now = now_ns();
	if (now - r->last_ns < 200000000)
		return;
	pthread_mutex_lock(&r->lock);
	if (now - r->last_ns >= 200000000) {
		r->last_ns = now;
		ls_mr_stats st;
		stats_of(r, &st);
		r->progress(r->parg, &st);
	}
	pthread_mutex_unlock(&r->lock);
}

/* Record the job's first failure: what, and the path and reason when
 * given (NULL: none). */
static void
fail(run *r, const char *what, const char *path, const char *why)
{
	pthread_mutex_lock(&r->lock);
	if (!atomic_load(&r->failed))
		snprintf(r->err, r->errlen, "%s%s%s%s%s", what,
		    path != NULL ? " " : "", path != NULL ? path : "",
		    why != NULL ? ": " : "", why != NULL ? why : "");
	atomic_store(&r->failed, 1);
	pthread_mutex_unlock(&r->lock);
}

typedef struct mapper {
	run *r;
	table *t;
	ls_parser p;
	ls_arena arena;
	char key[4096];
	uint64_t lines, skipped;
} mapper;

static int
is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80;
}

static int
emit_count(mapper *m, const char *key, size_t klen)
{
	ent *e = table_get(m->t, ls_hash64(key, klen, 0x6d72), key, klen);
	if (e == NULL)
		return LS_ENOMEM;
	e->a.count++;
	return 0;
}

/* Map one line. */
static int
map_line(mapper *m, const char *line, size_t len)
{
	const ls_mr_job *job = m->r->job;
	ls_event ev;
	const char *reason;
	m->lines++;
	ls_arena_reset(&m->arena);
	if (ls_parser_parse(&m->p, line, len, &ev, &m->arena, &reason) != 0) {
		m->skipped++;
		return 0;
	}
	if (job->kind == LS_MR_WORDS) {
		const char *s = ev.message.ptr;
		size_t n = ev.message.len;
		for (size_t i = 0; i < n;) {
			while (i < n && !is_word((unsigned char)s[i]))
				i++;
			size_t w = 0;
			while (i < n && is_word((unsigned char)s[i]) &&
			    w < sizeof(m->key)) {
				char c = s[i++];
				m->key[w++] = c >= 'A' && c <= 'Z'
				    ? (char)(c - 'A' + 'a') : c;
			}
			while (i < n && is_word((unsigned char)s[i]))
				i++; /* a word longer than the key buffer */
			if (w > 0 && emit_count(m, m->key, w) != 0)
				return LS_ENOMEM;
		}
		return 0;
	}
	size_t klen = 0;
	for (size_t i = 0; i < job->nby; i++) {
		ls_str v;
		ls_event_field(&ev, job->by[i], strlen(job->by[i]), &v);
		if (i > 0 && klen < sizeof(m->key))
			m->key[klen++] = KEY_SEP;
		size_t c = v.len < sizeof(m->key) - klen ? v.len
		                                         : sizeof(m->key) - klen;
		memcpy(m->key + klen, v.ptr, c);
		klen += c;
	}
	if (job->kind == LS_MR_COUNT || job->kind == LS_MR_TOP)
		return emit_count(m, m->key, klen);
	ls_str fv;
	if (!ls_event_field(&ev, job->field, strlen(job->field), &fv)) {
		m->skipped++;
		return 0;
	}
	uint64_t h = ls_hash64(m->key, klen, 0x6d72);
	ent *e = table_get(m->t, h, m->key, klen);
	if (e == NULL)
		return LS_ENOMEM;
	if (job->kind == LS_MR_DISTINCT) {
		e->a.count++;
		return set_add(&e->a, ls_hash64(fv.ptr, fv.len, 0x64));
	}
	char num[64];
	size_t nl = fv.len < sizeof(num) - 1 ? fv.len : sizeof(num) - 1;
	memcpy(num, fv.ptr, nl);
	num[nl] = '\0';
	char *end;
	double v = strtod(num, &end);
	if (end == num || *end != '\0' || !isfinite(v)) {
		m->skipped++;
		return 0;
	}
	return add_value(&e->a, v);
}

/* Map the lines that start inside split s. */
static int
map_split(mapper *m, const split *s, char *buf)
{
	run *r = m->r;
	const char *path = r->job->files[s->file];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail(r, "cannot read", path, strerror(errno));
		return LS_EIO;
	}
	/* a split owns the lines that start in [start, end) */
	uint64_t pos = s->start > 0 ? s->start - 1 : 0;
	int skip_first = s->start > 0;
	size_t len = 0;
	uint64_t line_at = pos; /* file offset of buf[0] */
	int rv = 0, done = 0;
	while (!done) {
		ssize_t got = pread(fd, buf + len, CHUNK, (off_t)pos);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fail(r, "cannot read", path, strerror(errno));
			rv = LS_EIO;
			break;
		}
		pos += (uint64_t)got;
		len += (size_t)got;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', len - start);
			if (nl == NULL)
				break;
			size_t end = (size_t)(nl - buf);
			if (skip_first) {
				skip_first = 0; /* the previous split's line */
			} else if (line_at + start >= s->end) {
				done = 1;
				break;
			} else if ((rv = map_line(m, buf + start, end - start)) !=
			    0) {
				done = 1;
				break;
			}
			start = end + 1;
		}
		if (!done && got == 0) {
			/* the end of the file: a last line without newline */
			if (!skip_first && len > start && line_at + start < s->end)
				rv = map_line(m, buf + start, len - start);
			break;
		}
		if (!done && len - start >= CHUNK) {
			/* a line longer than a chunk: cut it there */
			if (!skip_first && line_at + start < s->end)
				rv = map_line(m, buf + start, len - start);
			skip_first = 1; /* drop the rest up to its newline */
			start = len;
			if (rv != 0)
				break;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		line_at += start;
		maybe_progress(r);
	}
	close(fd);
	atomic_fetch_add(&r->bytes, s->end - s->start);
	atomic_fetch_add(&r->splits_done, 1);
	return rv;
}

typedef struct worker {
	run *r;
	unsigned id;
} worker;

static void *
map_main(void *arg)
{
	worker *w = arg;
	run *r = w->r;
	mapper m;
	memset(&m, 0, sizeof(m));
	m.r = r;
	m.t = &r->tables[w->id];
	ls_parser_init(&m.p, r->job->format);
	ls_arena_init(&m.arena, 64 * 1024);
	char *buf = malloc(2 * (size_t)CHUNK);
	if (buf == NULL) {
		fail(r, "out of memory", NULL, NULL);
		return NULL;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&r->next, 1);
		if (i >= r->nsplits || atomic_load(&r->failed))
			break;
		if (map_split(&m, &r->splits[i], buf) != 0) {
			fail(r, "out of memory", NULL, NULL);
			break;
		}
		atomic_fetch_add(&r->lines, m.lines);
		atomic_fetch_add(&r->skipped, m.skipped);
		m.lines = m.skipped = 0;
	}
	free(buf);
	ls_arena_fini(&m.arena);
	return NULL;
}

/* ---- reduce ---- */

typedef struct reducer {
	run *r;
	unsigned id;
	table out;
	int rv;
} reducer;

static void *
reduce_main(void *arg)
{
	reducer *rd = arg;
	run *r = rd->r;
	for (unsigned w = 0; w < r->nw && rd->rv == 0; w++) {
		const table *t = &r->tables[w];
		for (size_t i = 0; i < t->cap && rd->rv == 0; i++) {
			const ent *e = &t->e[i];
			if (e->key == NULL || (e->h >> 40) % r->nw != rd->id)
				continue;
			ent *d = table_get(&rd->out, e->h, e->key, e->klen);
			rd->rv = d == NULL ? LS_ENOMEM : agg_merge(&d->a, &e->a);
		}
	}
	return NULL;
}

/* ---- output ---- */

static const ls_mr_job *sort_job;

static uint64_t
rank_of(const ent *e)
{
	if (sort_job->kind == LS_MR_DISTINCT)
		return e->a.setn + (uint64_t)e->a.has_zero_hash;
	return e->a.count;
}

static int
cmp_ent(const void *a, const void *b)
{
	const ent *x = *(ent *const *)a, *y = *(ent *const *)b;
	if (sort_job->kind != LS_MR_PERCENTILES) {
		uint64_t rx = rank_of(x), ry = rank_of(y);
		if (rx != ry)
			return rx > ry ? -1 : 1;
	}
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);
	return c != 0 ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static void
put_str(FILE *out, ls_mr_out fmt, const char *s, size_t n)
{
	if (fmt == LS_MR_JSONL) {
		char small[512];
		size_t need = ls_json_escape(s, n, NULL, 0);
		char *b = need < sizeof(small) ? small : malloc(need + 1);
		if (b == NULL)
			return;
		ls_json_escape(s, n, b, need + 1);
		fprintf(out, "\"%s\"", b);
		if (b != small)
			free(b);
		return;
	}
	int quote = memchr(s, ',', n) || memchr(s, '"', n) ||
	    memchr(s, '\n', n) || memchr(s, '\r', n);
	if (!quote) {
		fwrite(s, 1, n, out);
		return;
	}
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', out);
		fputc(s[i], out);
	}
	fputc('"', out);
}

static void
put_name(FILE *out, ls_mr_out fmt, int *first, const char *name)
{
	if (!*first)
		fputc(',', out);
	*first = 0;
	if (fmt == LS_MR_JSONL) {
		put_str(out, fmt, name, strlen(name));
		fputc(':', out);
	}
}

static void
write_header(const ls_mr_job *job, FILE *out)
{
	int first = 1;
	const char *names[LS_MR_MAX_BY + 6];
	size_t n = 0;
	if (job->kind == LS_MR_WORDS)
		names[n++] = "word";
	else
		for (size_t i = 0; i < job->nby; i++)
			names[n++] = job->by[i];
	names[n++] = "count";
	if (job->kind == LS_MR_DISTINCT)
		names[n++] = "distinct";
	if (job->kind == LS_MR_PERCENTILES) {
		names[n++] = "p50";
		names[n++] = "p90";
		names[n++] = "p99";
		names[n++] = "max";
	}
	for (size_t i = 0; i < n; i++) {
		if (!first)
			fputc(',', out);
		first = 0;
		put_str(out, LS_MR_CSV, names[i], strlen(names[i]));
	}
	fputc('\n', out);
}

static void
write_row(const ls_mr_job *job, const ent *e, FILE *out, ls_mr_out fmt)
{
	int first = 1;
	if (fmt == LS_MR_JSONL)
		fputc('{', out);
	if (job->kind == LS_MR_WORDS) {
		put_name(out, fmt, &first, "word");
		put_str(out, fmt, e->key, e->klen);
	} else {
		const char *k = e->key, *end = e->key + e->klen;
		for (size_t i = 0; i < job->nby; i++) {
			const char *sep = memchr(k, KEY_SEP, (size_t)(end - k));
			const char *ve = sep != NULL && i + 1 < job->nby ? sep : end;
			put_name(out, fmt, &first, job->by[i]);
			put_str(out, fmt, k, (size_t)(ve - k));
			k = ve < end ? ve + 1 : end;
		}
	}
	put_name(out, fmt, &first, "count");
	fprintf(out, "%llu", (unsigned long long)e->a.count);
	if (job->kind == LS_MR_DISTINCT) {
		put_name(out, fmt, &first, "distinct");
		fprintf(out, "%llu", (unsigned long long)rank_of(e));
	}
	if (job->kind == LS_MR_PERCENTILES) {
		static const char *const qn[] = { "p50", "p90", "p99" };
		static const double qv[] = { 0.5, 0.9, 0.99 };
		for (int i = 0; i < 3; i++) {
			put_name(out, fmt, &first, qn[i]);
			fprintf(out, "%.6g", quantile(&e->a, qv[i]));
		}
		put_name(out, fmt, &first, "max");
		fprintf(out, "%.6g", e->a.max);
	}
	fputs(fmt == LS_MR_JSONL ? "}\n" : "\n", out);
}

/* ---- the job ---- */

static int
make_splits(run *r, const ls_mr_job *job, char *err, size_t errlen)
{
	uint64_t sb = job->split_bytes ? job->split_bytes : (32u << 20);
	size_t cap = 0;
	for (size_t f = 0; f < job->nfiles; f++) {
		struct stat st;
		if (stat(job->files[f], &st) != 0 || !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "cannot read %s: %s", job->files[f],
			    errno ? strerror(errno) : "not a regular file");
			return LS_EIO;
		}
		uint64_t size = (uint64_t)st.st_size;
		r->total_bytes += size;
		for (uint64_t a = 0; a < size || (a == 0 && size == 0); a += sb) {
			if (r->nsplits == cap) {
				cap = cap ? cap * 2 : 64;
				split *ns = realloc(r->splits, cap * sizeof(*ns));
				if (ns == NULL)
					return LS_ENOMEM;
				r->splits = ns;
			}
			r->splits[r->nsplits++] = (split){ (uint32_t)f, a,
				a + sb < size ? a + sb : size };
			if (size == 0)
				break;
		}
	}
	return 0;
}

int
ls_mr_run(const ls_mr_job *job, FILE *out, ls_mr_out fmt,
    ls_mr_progress_fn progress, void *arg, ls_mr_stats *stats, char *err,
    size_t errlen)
{
	if ((job->kind == LS_MR_PERCENTILES || job->kind == LS_MR_DISTINCT) &&
	    (job->field == NULL || job->field[0] == '\0')) {
		snprintf(err, errlen, "%s needs a field", ls_mr_kind_name(job->kind));
		return LS_EINVAL;
	}
	if (job->nby > LS_MR_MAX_BY) {
		snprintf(err, errlen, "at most %d fields in by", LS_MR_MAX_BY);
		return LS_EINVAL;
	}
	gamma_log = log((1 + ALPHA) / (1 - ALPHA));
	run r;
	memset(&r, 0, sizeof(r));
	r.job = job;
	r.err = err;
	r.errlen = errlen;
	r.progress = progress;
	r.parg = arg;
	pthread_mutex_init(&r.lock, NULL);
	unsigned nw = job->workers;
	if (nw == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		nw = c > 0 ? (unsigned)c : 1;
	}
	if (nw > 256)
		nw = 256;
	r.nw = nw;
	int rv = make_splits(&r, job, err, errlen);
	r.tables = rv == 0 ? calloc(nw, sizeof(*r.tables)) : NULL;
	if (rv == 0 && r.tables == NULL)
		rv = LS_ENOMEM;
	unsigned ninit = 0;
	while (rv == 0 && ninit < nw)
		rv = table_init(&r.tables[ninit++]);
	pthread_t th[256];
	worker wk[256];
	reducer *rd = NULL;
	if (rv == 0) {
		unsigned started = 0;
		for (unsigned i = 0; i < nw; i++) {
			wk[i] = (worker){ &r, i };
			if (pthread_create(&th[i], NULL, map_main, &wk[i]) != 0)
				break;
			started++;
		}
		for (unsigned i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		if (started < nw)
			fail(&r, "cannot start worker threads", NULL, NULL);
		if (atomic_load(&r.failed))
			rv = LS_EIO;
	}
	if (rv == 0) {
		rd = calloc(nw, sizeof(*rd));
		if (rd == NULL)
			rv = LS_ENOMEM;
	}
	unsigned nrd = 0;
	if (rv == 0) {
		for (unsigned i = 0; i < nw && rv == 0; i++) {
			rd[i].r = &r;
			rd[i].id = i;
			rv = table_init(&rd[i].out);
			nrd++;
		}
		for (unsigned i = 0; rv == 0 && i < nw; i++)
			if (pthread_create(&th[i], NULL, reduce_main, &rd[i]) != 0)
				rv = LS_ENOMEM;
		for (unsigned i = 0; rv == 0 && i < nw; i++) {
			pthread_join(th[i], NULL);
			if (rd[i].rv != 0)
				rv = rd[i].rv;
		}
	}
	ls_mr_stats st;
	stats_of(&r, &st);
	if (rv == 0) {
		size_t total = 0;
		for (unsigned i = 0; i < nw; i++)
			total += rd[i].out.n;
		ent **all = malloc((total ? total : 1) * sizeof(*all));
		if (all == NULL) {
			rv = LS_ENOMEM;
		} else {
			size_t k = 0;
			for (unsigned i = 0; i < nw; i++)
				for (size_t j = 0; j < rd[i].out.cap; j++)
					if (rd[i].out.e[j].key != NULL)
						all[k++] = &rd[i].out.e[j];
			sort_job = job;
			qsort(all, k, sizeof(*all), cmp_ent);
			size_t limit = (job->kind == LS_MR_TOP ||
			                   job->kind == LS_MR_WORDS) && job->n > 0 &&
			        job->n < k
			    ? job->n : k;
			if (fmt == LS_MR_CSV)
				write_header(job, out);
			for (size_t i = 0; i < limit; i++)
				write_row(job, all[i], out, fmt);
			st.keys = k;
			free(all);
		}
		if (rv == 0 && (fflush(out) != 0 || ferror(out))) {
			snprintf(err, errlen, "cannot write the result: %s",
			    strerror(errno));
			rv = LS_EIO;
		}
	} else if (err[0] == '\0') {
		snprintf(err, errlen, "%s", ls_strerror(rv));
	}
	if (progress != NULL)
		progress(arg, &st);
	if (stats != NULL)
		*stats = st;
	for (unsigned i = 0; i < nrd; i++)
		table_fini(&rd[i].out);
	free(rd);
	for (unsigned i = 0; i < ninit; i++)
		table_fini(&r.tables[i]);
	free(r.tables);
	free(r.splits);
	pthread_mutex_destroy(&r.lock);
	return rv;
}
