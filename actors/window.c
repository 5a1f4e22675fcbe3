/*
 * window.c -- tumbling-window aggregation state of one partition (see
 * window.h; the memory layout is drawn in docs/windows.md).
 *
 * Each open window is a `struct win`: a flat array of fixed-stride entries
 * (one per group), an open-addressing hash table of entry indices (linear
 * probing) and a byte buffer holding the groups' key values.  Windows are
 * kept in an array sorted by start; a closed window is emitted in key order,
 * cleared and recycled through a small pool, so the steady state allocates
 * only when a window meets more groups than any window before it.
 * ls_window_save / ls_window_load (at the end) write and read the whole state
 * in the versioned snapshot format drawn in docs/windows.md.
 */
#include "actors/window.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/i64.h"
#include "runtime/err.h"
#include "runtime/hash.h"

#define NS_PER_MS  INT64_C(1000000)
#define MAX_MS     (INT64_MAX / NS_PER_MS)
#define POOL_MAX   4 /* cleared windows kept for reuse */
#define KEY_SEED   UINT64_C(0x6c7377696e646f77)

/* ---- aggregate functions: a small table so that new kinds (sketches,
 * HyperLogLog) only add a row.  A state is state_size flat bytes, so an
 * entry can be stored and restored as it is. ---- */

typedef struct agg_ops {
	const char *name;
	int needs_field;
	uint32_t state_size;
	void (*init)(void *st);
	void (*add)(void *st, double v);
	void (*merge)(void *dst, const void *src); /* for panes */
	int (*result)(const void *st, uint64_t count, double *out);
} agg_ops;

/* Shared state of sum/min/max/avg: a running value and how many events
 * contributed to it. */
typedef struct num_state {
	double v;
	uint64_t n;
} num_state;

static void
num_init(void *st)
{
	num_state *s = st;
	s->v = 0;
	s->n = 0;
}

static void
sum_add(void *st, double v)
{
	num_state *s = st;
	s->v += v;
	s->n++;
}

static void
sum_merge(void *dst, const void *src)
{
	num_state *d = dst;
	const num_state *s = src;
	d->v += s->v;
	d->n += s->n;
}

static void
min_add(void *st, double v)
{
	num_state *s = st;
	if (s->n == 0 || v < s->v)
		s->v = v;
	s->n++;
}

static void
min_merge(void *dst, const void *src)
{
	const num_state *s = src;
	num_state *d = dst;
	if (s->n == 0)
		return;
	if (d->n == 0 || s->v < d->v)
		d->v = s->v;
	d->n += s->n;
}

static void
max_add(void *st, double v)
{
	num_state *s = st;
	if (s->n == 0 || v > s->v)
		s->v = v;
	s->n++;
}

static void
max_merge(void *dst, const void *src)
{
	const num_state *s = src;
	num_state *d = dst;
	if (s->n == 0)
		return;
	if (d->n == 0 || s->v > d->v)
		d->v = s->v;
	d->n += s->n;
}

static int
value_result(const void *st, uint64_t count, double *out)
{
	const num_state *s = st;
	(void)count;
	*out = s->v;
	return s->n > 0;
}

static int
avg_result(const void *st, uint64_t count, double *out)
{
	const num_state *s = st;
	(void)count;
	if (s->n == 0)
		return 0;
	*out = s->v / (double)s->n;
	return 1;
}

static void
none_init(void *st)
{
	(void)st;
}

static void
none_add(void *st, double v)
{
	(void)st;
	(void)v;
}

static void
none_merge(void *dst, const void *src)
{
	(void)dst;
	(void)src;
}

static int
count_result(const void *st, uint64_t count, double *out)
{
	(void)st;
	*out = (double)count;
	return 1;
}

static void
count_add(void *st, double v)
{
	num_state *s = st;
	(void)v;
	s->n++;
}

static void
count_merge(void *dst, const void *src)
{
	((num_state *)dst)->n += ((const num_state *)src)->n;
}

static int
count_field_result(const void *st, uint64_t count, double *out)
{
	(void)count;
	*out = (double)((const num_state *)st)->n;
	return 1; /* zero is a count, not "no value" */
}

/* Indexed by ls_window_agg_kind. */
static const agg_ops agg_table[] = {
	{ "count", 0, 0, none_init, none_add, none_merge, count_result },
	{ "sum", 1, sizeof(num_state), num_init, sum_add, sum_merge,
	    value_result },
	{ "min", 1, sizeof(num_state), num_init, min_add, min_merge,
	    value_result },
	{ "max", 1, sizeof(num_state), num_init, max_add, max_merge,
	    value_result },
	{ "avg", 1, sizeof(num_state), num_init, sum_add, sum_merge,
	    avg_result },
	/* count(f): reached from "count" followed by a field */
	{ "count", 1, sizeof(num_state), num_init, count_add, count_merge,
	    count_field_result },
};
#define NAGG_KINDS (sizeof(agg_table) / sizeof(agg_table[0]))

/* ---- state ---- */

/* Fixed head of every entry; aggregate states follow at ls_window.aoff[]. */
typedef struct ent_hdr {
	uint64_t hash;    /* ls_hash64 of the encoded key */
	uint32_t key_off; /* encoded key at win.keys + key_off */
	uint32_t key_len;
	uint64_t count; /* events in the group */
} ent_hdr;

struct win {
	int64_t start_ns;
	uint32_t n;        /* entries in use */
	uint32_t cap;      /* entries allocated */
	unsigned char *ent; /* cap * stride bytes */
	uint32_t *slot;    /* nslot entries: index + 1, 0 = empty */
	uint32_t nslot;    /* power of two */
	unsigned char *keys; /* encoded keys, back to back */
	size_t klen, kcap;
	struct win *next_free;
	uint8_t changed; /* an event touched it since the last handout */
	uint8_t handed;  /* its part was handed out: report its close */
};

/* One row of the sort scratch used to emit a window in key order. */
typedef struct sort_ent {
	const unsigned char *key;
	uint32_t nkey;
	uint32_t idx;
} sort_ent;

struct ls_window {
	ls_window_spec spec;
	int64_t size_ns, grace_ns, delay_ns, idle_ns;
	ls_window_emit_fn emit;
	ls_window_late_fn late;
	void *arg;
	const agg_ops *ops[LS_WINDOW_MAX_AGGS];
	uint32_t aoff[LS_WINDOW_MAX_AGGS]; /* state offset inside an entry */
	size_t stride;                      /* bytes per entry */
	/* distinct numeric fields, so each is parsed once per event */
	uint32_t nfields;
	uint8_t field_of[LS_WINDOW_MAX_AGGS]; /* agg -> index in field_agg */
	uint8_t field_agg[LS_WINDOW_MAX_AGGS]; /* field -> first agg using it */

	struct win **open; /* sorted by start_ns */
	size_t nopen, capopen;
	size_t hint; /* index in open[] of the last window used */
	struct win *pool;
	size_t npool;

	sort_ent *sort; /* capacity >= every window's cap */
	size_t sortcap;

	int64_t wm;          /* watermark, INT64_MIN = none yet */
	int64_t max_t;       /* largest event time, INT64_MIN = none */
	int64_t last_ingest; /* largest ingest_ns, INT64_MIN = none */
	int manual_wm;       /* the caller drives the watermark */
	uint64_t nkeys;      /* groups across the open windows */
	uint64_t events, late_count, emitted, closed;
	/* starts of handed-out windows closed since the last handout; cap is
	 * kept >= ngone + open windows handed, so a close never allocates */
	int64_t *gone;
	size_t ngone, capgone;

	/* the event's encoded key: nkey u32 lengths, then the bytes */
	unsigned char kbuf[LS_WINDOW_MAX_KEYS * 4 + LS_WINDOW_KEY_MAX];
};

/* ---- spec parsing ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A field name: printable ASCII or UTF-8, no blanks, quotes, parentheses or
 * commas (they would be ambiguous in "sum(a,b)" and in output names). */
static int
is_name_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '(' && c != ')' && c != ',' &&
	    c != '"' && c != '\\';
}

static int
valid_name(const char *p, size_t n)
{
	if (n == 0 || n >= LS_WINDOW_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_name_char((unsigned char)p[i]))
			return 0;
	}
	return 1;
}

static int
parse_agg(const char *s, ls_window_agg *a, size_t idx, char *err,
    size_t errlen)
{
	const char *p = s;
	const char *fn;
	size_t fnlen;
	char lower[8];
	size_t kind;

	memset(a, 0, sizeof(*a));
	while (is_blank(*p))
		p++;
	fn = p;
	while (isalpha((unsigned char)*p))
		p++;
	fnlen = (size_t)(p - fn);
	for (kind = 0; kind < NAGG_KINDS; kind++) {
		const char *name = agg_table[kind].name;
		if (fnlen != strlen(name))
			continue;
		for (size_t i = 0; i < fnlen; i++)
			lower[i] = (char)tolower((unsigned char)fn[i]);
		if (memcmp(lower, name, fnlen) == 0)
			break;
	}
	if (kind == NAGG_KINDS) {
		set_err(err, errlen,
		    "aggregate %zu \"%s\": unknown function (expected count, "
		    "sum, min, max or avg)",
		    idx, s);
		return LS_EINVAL;
	}
	a->kind = (uint8_t)kind;
	while (is_blank(*p))
		p++;
	if (!agg_table[kind].needs_field) {
		if (*p == '(') { /* "count()" is accepted too */
			const char *open = p;
			p++;
			while (is_blank(*p))
				p++;
			if (*p != ')') {
				/* count(f): the events that carry a number */
				kind = LS_WINDOW_AGG_COUNT_FIELD;
				a->kind = (uint8_t)kind;
				p = open;
				goto with_field;
			}
			p++;
			while (is_blank(*p))
				p++;
		}
		if (*p != '\0')
			goto trailing;
		strcpy(a->name, agg_table[kind].name);
		return 0;
	}
with_field:
	if (*p != '(') {
		set_err(err, errlen, "aggregate %zu \"%s\": expected '(' field ')'",
		    idx, s);
		return LS_EINVAL;
	}
	p++;
	while (is_blank(*p))
		p++;
	const char *f = p;
	while (is_name_char((unsigned char)*p))
		p++;
	size_t flen = (size_t)(p - f);
	if (!valid_name(f, flen)) {
		set_err(err, errlen,
		    "aggregate %zu \"%s\": field name missing, invalid or longer "
		    "than %d bytes",
		    idx, s, LS_WINDOW_NAME_MAX - 1);
		return LS_EINVAL;
	}
	while (is_blank(*p))
		p++;
	if (*p != ')') {
		set_err(err, errlen, "aggregate %zu \"%s\": expected ')'", idx,
		    s);
		return LS_EINVAL;
	}
	p++;
	while (is_blank(*p))
		p++;
	if (*p != '\0')
		goto trailing;
	memcpy(a->field, f, flen);
	a->field[flen] = '\0';
	a->field_len = (uint8_t)flen;
	snprintf(a->name, sizeof(a->name), "%s_%s", agg_table[kind].name,
	    a->field);
	return 0;
trailing:
	set_err(err, errlen, "aggregate %zu \"%s\": unexpected text after it",
	    idx, s);
	return LS_EINVAL;
}

int
ls_window_spec_init(ls_window_spec *s, int64_t size_ms, int64_t grace_ms,
    const char *const *key_fields, size_t nkey, const char *const *aggs,
    size_t naggs, int emit_on_update, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (s == NULL) {
		set_err(err, errlen, "no spec");
		return LS_EINVAL;
	}
	memset(s, 0, sizeof(*s));
	if (size_ms <= 0 || size_ms > MAX_MS) {
		set_err(err, errlen, "window size %lld ms out of range",
		    (long long)size_ms);
		return LS_EINVAL;
	}
	if (grace_ms < 0 || grace_ms > MAX_MS) {
		set_err(err, errlen, "grace %lld ms out of range",
		    (long long)grace_ms);
		return LS_EINVAL;
	}
	if (nkey > LS_WINDOW_MAX_KEYS || (nkey > 0 && key_fields == NULL)) {
		set_err(err, errlen, "%zu key fields (at most %d)", nkey,
		    LS_WINDOW_MAX_KEYS);
		return LS_EINVAL;
	}
	if (naggs > LS_WINDOW_MAX_AGGS || (naggs > 0 && aggs == NULL)) {
		set_err(err, errlen, "%zu aggregates (at most %d)", naggs,
		    LS_WINDOW_MAX_AGGS);
		return LS_EINVAL;
	}
	s->size_ms = size_ms;
	s->grace_ms = grace_ms;
	s->emit_on_update = emit_on_update ? 1 : 0;
	for (size_t i = 0; i < nkey; i++) {
		const char *k = key_fields[i];
		size_t n = k != NULL ? strlen(k) : 0;
		if (!valid_name(k, n)) {
			set_err(err, errlen,
			    "key field %zu: name missing, invalid or longer "
			    "than %d bytes",
			    i, LS_WINDOW_NAME_MAX - 1);
			goto fail;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(s->key_fields[j], k) == 0) {
				set_err(err, errlen,
				    "key field %zu: \"%s\" given twice", i, k);
				goto fail;
			}
		}
		memcpy(s->key_fields[i], k, n + 1);
		s->key_len[i] = (uint8_t)n;
	}
	s->nkey = (uint32_t)nkey;
	for (size_t i = 0; i < naggs; i++) {
		if (aggs[i] == NULL) {
			set_err(err, errlen, "aggregate %zu: missing", i);
			goto fail;
		}
		if (parse_agg(aggs[i], &s->aggs[i], i, err, errlen) != 0)
			goto fail;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(s->aggs[j].name, s->aggs[i].name) == 0) {
				set_err(err, errlen,
				    "aggregate %zu \"%s\": given twice", i,
				    aggs[i]);
				goto fail;
			}
		}
	}
	s->naggs = (uint32_t)naggs;
	return 0;
fail:
	memset(s, 0, sizeof(*s));
	return LS_EINVAL;
}

void
ls_window_spec_names(const ls_window_spec *s, const char **key_fields,
    const char **agg_names)
{
	for (uint32_t i = 0; key_fields != NULL && i < s->nkey; i++)
		key_fields[i] = s->key_fields[i];
	for (uint32_t i = 0; agg_names != NULL && i < s->naggs; i++)
		agg_names[i] = s->aggs[i].name;
}

/* ---- windows ---- */

static void
win_destroy(struct win *wn)
{
	free(wn->ent);
	free(wn->slot);
	free(wn->keys);
	free(wn);
}

/* Forget the groups of wn, keep its memory. */
static void
win_clear(struct win *wn)
{
	wn->n = 0;
	wn->klen = 0;
	wn->changed = 0;
	wn->handed = 0;
	if (wn->slot != NULL)
		memset(wn->slot, 0, (size_t)wn->nslot * sizeof(*wn->slot));
}

static struct win *
win_get(ls_window *w, int64_t start)
{
	struct win *wn = w->pool;

	if (wn != NULL) {
		w->pool = wn->next_free;
		w->npool--;
	} else {
		wn = calloc(1, sizeof(*wn));
		if (wn == NULL)
			return NULL;
	}
	wn->next_free = NULL;
	wn->start_ns = start;
	return wn;
}

static void
win_put(ls_window *w, struct win *wn)
{
	if (w->npool >= POOL_MAX) {
		win_destroy(wn);
		return;
	}
	win_clear(wn);
	wn->next_free = w->pool;
	w->pool = wn;
	w->npool++;
}

/* Binary search of open[] for start; sets *pos to its index or to where it
 * would be inserted. */
static struct win *
open_find(ls_window *w, int64_t start, size_t *pos)
{
	size_t lo = 0, hi = w->nopen;

	if (w->hint < w->nopen && w->open[w->hint]->start_ns == start) {
		*pos = w->hint;
		return w->open[w->hint];
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->open[mid]->start_ns < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	if (lo < w->nopen && w->open[lo]->start_ns == start) {
		w->hint = lo;
		return w->open[lo];
	}
	return NULL;
}

static int
open_insert(ls_window *w, size_t pos, int64_t start, struct win **out)
{
	if (w->nopen == w->capopen) {
		size_t nc = w->capopen ? w->capopen * 2 : 8;
		struct win **no = realloc(w->open, nc * sizeof(*no));
		if (no == NULL)
			return LS_ENOMEM;
		w->open = no;
		w->capopen = nc;
	}
	struct win *wn = win_get(w, start);
	if (wn == NULL)
		return LS_ENOMEM;
	memmove(&w->open[pos + 1], &w->open[pos],
	    (w->nopen - pos) * sizeof(*w->open));
	w->open[pos] = wn;
	w->nopen++;
	w->hint = pos;
	*out = wn;
	return 0;
}

static void
open_remove(ls_window *w, size_t pos)
{
	struct win *wn = w->open[pos];

	memmove(&w->open[pos], &w->open[pos + 1],
	    (w->nopen - pos - 1) * sizeof(*w->open));
	w->nopen--;
	w->hint = 0;
	w->nkeys -= wn->n;
	if (wn->handed && w->ngone < w->capgone)
		w->gone[w->ngone++] = wn->start_ns;
	win_put(w, wn);
}

static unsigned char *
ent_at(const ls_window *w, const struct win *wn, uint32_t i)
{
	return wn->ent + (size_t)i * w->stride;
}

static int
slots_grow(ls_window *w, struct win *wn)
{
	uint32_t ns = wn->nslot ? wn->nslot * 2 : 16;
	uint32_t *slot;

	if (ns == 0 || ns > UINT32_MAX / 2)
		return LS_ERANGE;
	slot = calloc(ns, sizeof(*slot));
	if (slot == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < wn->n; i++) {
		const ent_hdr *h = (const ent_hdr *)ent_at(w, wn, i);
		uint32_t j = (uint32_t)h->hash & (ns - 1);
		while (slot[j] != 0)
			j = (j + 1) & (ns - 1);
		slot[j] = i + 1;
	}
	free(wn->slot);
	wn->slot = slot;
	wn->nslot = ns;
	return 0;
}

/* Make room for one more entry of klen key bytes; all allocation happens
 * here, before anything changes, so a failure leaves the state intact. */
static int
win_reserve(ls_window *w, struct win *wn, size_t klen)
{
	int rc;

	if (wn->n >= UINT32_MAX - 1 || wn->klen > UINT32_MAX - klen)
		return LS_ERANGE;
	if ((uint64_t)(wn->n + 1) * 4 > (uint64_t)wn->nslot * 3) {
		if ((rc = slots_grow(w, wn)) != 0)
			return rc;
	}
	if (wn->n == wn->cap) {
		uint32_t nc = wn->cap ? wn->cap * 2 : 8;
		if (nc < wn->cap)
			return LS_ERANGE;
		unsigned char *ne = realloc(wn->ent, (size_t)nc * w->stride);
		if (ne == NULL)
			return LS_ENOMEM;
		wn->ent = ne;
		wn->cap = nc;
	}
	if (w->sortcap < wn->cap) {
		sort_ent *ns = realloc(w->sort, (size_t)wn->cap * sizeof(*ns));
		if (ns == NULL)
			return LS_ENOMEM;
		w->sort = ns;
		w->sortcap = wn->cap;
	}
	if (wn->keys == NULL || wn->kcap - wn->klen < klen) {
		size_t nc = wn->kcap ? wn->kcap : 256;
		while (nc - wn->klen < klen)
			nc *= 2;
		unsigned char *nk = realloc(wn->keys, nc);
		if (nk == NULL)
			return LS_ENOMEM;
		wn->keys = nk;
		wn->kcap = nc;
	}
	return 0;
}

/* The entry for an encoded key, created when absent.  Returns 0 and sets
 * *out, or an error with nothing changed. */
static int
win_lookup(ls_window *w, struct win *wn, const unsigned char *key,
    uint32_t klen, uint64_t hash, unsigned char **out)
{
	uint32_t mask, j;
	int rc;

	if (wn->nslot != 0) {
		mask = wn->nslot - 1;
		for (j = (uint32_t)hash & mask; wn->slot[j] != 0;
		     j = (j + 1) & mask) {
			unsigned char *e = ent_at(w, wn, wn->slot[j] - 1);
			const ent_hdr *h = (const ent_hdr *)e;
			if (h->hash == hash && h->key_len == klen &&
			    (klen == 0 ||
			        memcmp(wn->keys + h->key_off, key, klen) == 0)) {
				*out = e;
				return 0;
			}
		}
	}
	if ((rc = win_reserve(w, wn, klen)) != 0)
		return rc;
	mask = wn->nslot - 1;
	for (j = (uint32_t)hash & mask; wn->slot[j] != 0; j = (j + 1) & mask)
		;
	unsigned char *e = ent_at(w, wn, wn->n);
	ent_hdr *h = (ent_hdr *)e;
	h->hash = hash;
	h->key_off = (uint32_t)wn->klen;
	h->key_len = klen;
	h->count = 0;
	if (klen > 0)
		memcpy(wn->keys + wn->klen, key, klen);
	wn->klen += klen;
	for (uint32_t i = 0; i < w->spec.naggs; i++)
		w->ops[i]->init(e + w->aoff[i]);
	wn->n++;
	wn->slot[j] = wn->n;
	w->nkeys++;
	*out = e;
	return 0;
}

/* ---- results ---- */

static uint32_t
get_u32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void
fill_result(const ls_window *w, const struct win *wn, const unsigned char *e,
    int final, ls_window_result *r)
{
	const ent_hdr *h = (const ent_hdr *)e;
	const unsigned char *k = wn->keys + h->key_off;
	const char *bytes = (const char *)k + 4 * (size_t)w->spec.nkey;

	r->start_ns = wn->start_ns;
	r->end_ns = wn->start_ns + w->size_ns;
	r->nkeys = w->spec.nkey;
	r->naggs = w->spec.naggs;
	for (uint32_t i = 0; i < w->spec.nkey; i++) {
		uint32_t n = get_u32(k + 4 * (size_t)i);
		r->keys[i] = ls_str_make(bytes, n);
		bytes += n;
	}
	r->count = h->count;
	for (uint32_t i = 0; i < w->spec.naggs; i++) {
		double v = 0;
		r->has_value[i] =
		    (uint8_t)w->ops[i]->result(e + w->aoff[i], h->count, &v);
		r->value[i] = r->has_value[i] ? v : 0;
	}
	r->final = final;
}

/* Byte order of the key values, field by field (a shorter value that is a
 * prefix of a longer one sorts first). */
static int
key_cmp(const void *pa, const void *pb)
{
	const sort_ent *a = pa, *b = pb;
	uint32_t nkey = a->nkey;
	const unsigned char *ba = a->key + 4 * (size_t)nkey;
	const unsigned char *bb = b->key + 4 * (size_t)nkey;

	for (uint32_t i = 0; i < nkey; i++) {
		uint32_t la = get_u32(a->key + 4 * (size_t)i);
		uint32_t lb = get_u32(b->key + 4 * (size_t)i);
		uint32_t m = la < lb ? la : lb;
		int c = m > 0 ? memcmp(ba, bb, m) : 0;
		if (c != 0)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
		ba += la;
		bb += lb;
	}
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Call fn for every group of wn in key order.  w->sort is large enough by
 * construction (win_reserve), so this never allocates. */
static void
win_emit_sorted(ls_window *w, struct win *wn, int final, ls_window_emit_fn fn,
    void *arg)
{
	ls_window_result r;

	for (uint32_t i = 0; i < wn->n; i++) {
		const ent_hdr *h = (const ent_hdr *)ent_at(w, wn, i);
		w->sort[i].key = wn->keys + h->key_off;
		w->sort[i].nkey = w->spec.nkey;
		w->sort[i].idx = i;
	}
	if (wn->n > 1)
		qsort(w->sort, wn->n, sizeof(*w->sort), key_cmp);
	for (uint32_t i = 0; i < wn->n; i++) {
		fill_result(w, wn, ent_at(w, wn, w->sort[i].idx), final, &r);
		fn(arg, &r);
	}
}

static int64_t
close_time(const ls_window *w, int64_t start)
{
	return ls_i64_add_sat(start + w->size_ns, w->grace_ns);
}

static void
close_front(ls_window *w)
{
	struct win *wn = w->open[0];

	win_emit_sorted(w, wn, 1, w->emit, w->arg);
	w->emitted += wn->n;
	w->closed++;
	open_remove(w, 0);
}

/* Close every window that the watermark has passed. */
static size_t
close_due(ls_window *w)
{
	size_t n = 0;

	while (w->nopen > 0 && close_time(w, w->open[0]->start_ns) <= w->wm) {
		close_front(w);
		n++;
	}
	return n;
}

/* ---- public ---- */

int
ls_window_new(ls_window **out, const ls_window_spec *spec,
    int64_t watermark_delay_ms, int64_t idle_timeout_ms, ls_window_emit_fn emit,
    ls_window_late_fn late, void *arg)
{
	ls_window *w;
	size_t off = sizeof(ent_hdr);

	if (out == NULL)
		return LS_EINVAL;
	*out = NULL;
	if (spec == NULL || emit == NULL || late == NULL ||
	    spec->size_ms <= 0 || spec->size_ms > MAX_MS ||
	    spec->grace_ms < 0 || spec->grace_ms > MAX_MS ||
	    spec->nkey > LS_WINDOW_MAX_KEYS ||
	    spec->naggs > LS_WINDOW_MAX_AGGS || watermark_delay_ms < 0 ||
	    watermark_delay_ms > MAX_MS || idle_timeout_ms < 0 ||
	    idle_timeout_ms > MAX_MS)
		return LS_EINVAL;
	/* what ls_window_spec_init guarantees, and snapshots rely on */
	for (uint32_t i = 0; i < spec->nkey; i++) {
		if (spec->key_len[i] == 0 ||
		    spec->key_len[i] >= LS_WINDOW_NAME_MAX)
			return LS_EINVAL;
	}
	for (uint32_t i = 0; i < spec->naggs; i++) {
		const ls_window_agg *a = &spec->aggs[i];
		if (a->kind >= NAGG_KINDS ||
		    a->field_len >= LS_WINDOW_NAME_MAX ||
		    (a->field_len != 0) !=
		        (agg_table[a->kind].needs_field != 0))
			return LS_EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return LS_ENOMEM;
	w->spec = *spec;
	w->size_ns = spec->size_ms * NS_PER_MS;
	w->grace_ns = spec->grace_ms * NS_PER_MS;
	w->delay_ns = watermark_delay_ms * NS_PER_MS;
	w->idle_ns = idle_timeout_ms * NS_PER_MS;
	w->emit = emit;
	w->late = late;
	w->arg = arg;
	for (uint32_t i = 0; i < spec->naggs; i++) {
		const ls_window_agg *a = &spec->aggs[i];
		w->ops[i] = &agg_table[a->kind];
		w->aoff[i] = (uint32_t)off;
		off += w->ops[i]->state_size;
		if (!w->ops[i]->needs_field)
			continue;
		uint32_t f;
		for (f = 0; f < w->nfields; f++) {
			const ls_window_agg *b = &spec->aggs[w->field_agg[f]];
			if (strcmp(a->field, b->field) == 0)
				break;
		}
		if (f == w->nfields)
			w->field_agg[w->nfields++] = (uint8_t)i;
		w->field_of[i] = (uint8_t)f;
	}
	w->stride = (off + 7) & ~(size_t)7;
	w->wm = INT64_MIN;
	w->max_t = INT64_MIN;
	w->last_ingest = INT64_MIN;
	*out = w;
	return 0;
}

void
ls_window_free(ls_window *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->nopen; i++)
		win_destroy(w->open[i]);
	while (w->pool != NULL) {
		struct win *n = w->pool->next_free;
		win_destroy(w->pool);
		w->pool = n;
	}
	free(w->open);
	free(w->sort);
	free(w->gone);
	free(w);
}

/* Encode the event's key values into w->kbuf; returns the length or -1 when
 * they are too long. */
static long
encode_key(ls_window *w, const ls_event *ev)
{
	size_t hdr = 4 * (size_t)w->spec.nkey;
	size_t len = hdr;

	for (uint32_t i = 0; i < w->spec.nkey; i++) {
		ls_str v;
		(void)ls_event_field(ev, w->spec.key_fields[i],
		    w->spec.key_len[i], &v);
		if (v.len > LS_WINDOW_KEY_MAX - (len - hdr))
			return -1;
		uint32_t n = v.len;
		memcpy(w->kbuf + 4 * (size_t)i, &n, sizeof(n));
		if (n > 0)
			memcpy(w->kbuf + len, v.ptr, n);
		len += n;
	}
	return (long)len;
}

int
ls_window_add(ls_window *w, const ls_event *ev)
{
	int64_t t = ev->time_ns != LS_TIME_UNKNOWN ? ev->time_ns : ev->ingest_ns;
	int64_t q, start, end;
	struct win *wn;
	unsigned char *e;
	size_t pos;
	int rc;

	if (t == LS_TIME_UNKNOWN)
		return LS_EINVAL;
	q = t / w->size_ns;
	if (t % w->size_ns != 0 && t < 0)
		q--;
	if (__builtin_mul_overflow(q, w->size_ns, &start) ||
	    __builtin_add_overflow(start, w->size_ns, &end))
		return LS_ERANGE;
	long klen = encode_key(w, ev);
	if (klen < 0)
		return LS_ERANGE;

	if (close_time(w, start) <= w->wm) {
		w->events++;
		w->late_count++;
		if (ev->ingest_ns != LS_TIME_UNKNOWN &&
		    ev->ingest_ns > w->last_ingest)
			w->last_ingest = ev->ingest_ns;
		w->late(w->arg, ev, start, w->wm);
		return 0;
	}

	wn = open_find(w, start, &pos);
	int created = 0;
	if (wn == NULL) {
		if ((rc = open_insert(w, pos, start, &wn)) != 0)
			return rc;
		created = 1;
	}
	uint64_t hash = ls_hash64(w->kbuf, (size_t)klen, KEY_SEED);
	rc = win_lookup(w, wn, w->kbuf, (uint32_t)klen, hash, &e);
	if (rc != 0) {
		if (created)
			open_remove(w, pos);
		return rc;
	}

	/* each distinct field parsed once; missing, unparsable and
	 * non-finite values leave the aggregates that read it untouched */
	double val[LS_WINDOW_MAX_AGGS];
	uint8_t ok[LS_WINDOW_MAX_AGGS];
	for (uint32_t f = 0; f < w->nfields; f++) {
		const ls_window_agg *a = &w->spec.aggs[w->field_agg[f]];
		ok[f] = (uint8_t)(ls_event_number(ev, a->field, a->field_len,
		                      &val[f]) &&
		    isfinite(val[f]));
	}
	ent_hdr *h = (ent_hdr *)e;
	h->count++;
	wn->changed = 1;
	for (uint32_t i = 0; i < w->spec.naggs; i++) {
		if (!w->ops[i]->needs_field)
			continue;
		uint32_t f = w->field_of[i];
		if (ok[f])
			w->ops[i]->add(e + w->aoff[i], val[f]);
	}
	w->events++;
	if (w->spec.emit_on_update) {
		ls_window_result r;
		fill_result(w, wn, e, 0, &r);
		w->emitted++;
		w->emit(w->arg, &r);
	}

	if (ev->ingest_ns != LS_TIME_UNKNOWN && ev->ingest_ns > w->last_ingest)
		w->last_ingest = ev->ingest_ns;
	if (t > w->max_t) {
		w->max_t = t;
		int64_t cand = ls_i64_sub_sat(t, w->delay_ns);
		if (!w->manual_wm && cand > w->wm) {
			w->wm = cand;
			close_due(w);
		}
	}
	return 0;
}

size_t
ls_window_idle(ls_window *w, int64_t now_ns)
{
	int64_t idle, cand;

	if (w->max_t == INT64_MIN || w->last_ingest == INT64_MIN ||
	    now_ns <= w->last_ingest)
		return 0;
	idle = ls_i64_sub_sat(now_ns, w->last_ingest);
	if (idle < w->idle_ns)
		return 0;
	cand = ls_i64_sub_sat(ls_i64_add_sat(w->max_t, idle), w->delay_ns);
	if (cand <= w->wm)
		return 0;
	w->wm = cand;
	return close_due(w);
}

void
ls_window_set_manual_watermark(ls_window *w, int manual)
{
	w->manual_wm = manual != 0;
}

size_t
ls_window_advance(ls_window *w, int64_t watermark_ns)
{
	if (watermark_ns <= w->wm)
		return 0;
	w->wm = watermark_ns;
	return close_due(w);
}

size_t
ls_window_flush(ls_window *w)
{
	size_t n = 0;

	while (w->nopen > 0) {
		int64_t ct = close_time(w, w->open[0]->start_ns);
		if (ct > w->wm)
			w->wm = ct;
		close_front(w);
		n++;
	}
	return n;
}

int
ls_window_query(ls_window *w, int64_t from_ns, int64_t to_ns,
    ls_window_emit_fn fn, void *arg)
{
	return ls_window_query_some(w, from_ns, to_ns, NULL, 0, 0, fn, arg);
}

/* The entry of encoded key k in wn, or NULL. */
static const unsigned char *
win_find(const ls_window *w, const struct win *wn, const unsigned char *k,
    uint32_t klen, uint64_t hash)
{
	if (wn->nslot == 0)
		return NULL;
	uint32_t mask = wn->nslot - 1;
	for (uint32_t j = (uint32_t)hash & mask; wn->slot[j] != 0;
	     j = (j + 1) & mask) {
		const unsigned char *e = ent_at(w, wn, wn->slot[j] - 1);
		const ent_hdr *h = (const ent_hdr *)e;
		if (h->hash == hash && h->key_len == klen &&
		    (klen == 0 || memcmp(wn->keys + h->key_off, k, klen) == 0))
			return e;
	}
	return NULL;
}

int
ls_window_query_some(ls_window *w, int64_t from_ns, int64_t to_ns,
    const ls_str *keys, uint32_t nkeys, size_t limit, ls_window_emit_fn fn,
    void *arg)
{
	size_t done = 0;
	long klen = -1;
	uint64_t hash = 0;
	if (fn == NULL || (keys != NULL && nkeys != w->spec.nkey))
		return LS_EINVAL;
	if (keys != NULL) {
		/* encoded as ls_window_add encodes an event's key */
		size_t hdr = 4 * (size_t)nkeys, len = hdr;
		for (uint32_t i = 0; i < nkeys; i++) {
			if (keys[i].len > LS_WINDOW_KEY_MAX - (len - hdr))
				return 0; /* no group has such a key */
			uint32_t n = (uint32_t)keys[i].len;
			memcpy(w->kbuf + 4 * (size_t)i, &n, sizeof(n));
			if (n > 0)
				memcpy(w->kbuf + len, keys[i].ptr, n);
			len += n;
		}
		klen = (long)len;
		hash = ls_hash64(w->kbuf, len, KEY_SEED);
	}
	for (size_t i = 0; i < w->nopen && (limit == 0 || done < limit); i++) {
		struct win *wn = w->open[i];
		if (wn->start_ns >= to_ns || wn->start_ns + w->size_ns <= from_ns)
			continue;
		if (keys != NULL) {
			const unsigned char *e = win_find(w, wn, w->kbuf,
			    (uint32_t)klen, hash);
			if (e != NULL) {
				ls_window_result r;
				fill_result(w, wn, e, 0, &r);
				fn(arg, &r);
				done++;
			}
			continue;
		}
		win_emit_sorted(w, wn, 0, fn, arg);
		done += wn->n;
	}
	return 0;
}

void
ls_window_get_stats(const ls_window *w, ls_window_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->events = w->events;
	out->late = w->late_count;
	out->emitted = w->emitted;
	out->closed = w->closed;
	out->open_windows = w->nopen;
	out->keys = w->nkeys;
	out->watermark_ns = w->wm;
	out->max_time_ns = w->max_t;
}

/* ---- snapshots (format drawn in docs/windows.md, "Snapshots") ----
 *
 * Save writes the state in one pass into one allocation.  Load parses and
 * validates the buffer while it builds the new windows on the side; only
 * when everything has been checked and allocated does it swap them in, so a
 * failure of any kind leaves the window as it was. */

#define SNAP_MAGIC    "LSWS"
#define SNAP_VERSION  1
#define SNAP_HDR      16 /* magic, version, flags, total length */
#define SNAP_SPEC_FIX 20 /* size, grace, emit, nkey, naggs, reserved */
#define SNAP_STATE    64
#define SNAP_WIN      16 /* start, groups, key bytes */
#define SNAP_AGG      16 /* f64 value, u64 contributions */
#define SNAP_TRAILER  8  /* XXH3-64 of everything before it */
#define SNAP_SEED     UINT64_C(0x6c7377736e617031) /* "lswsnap1" */
#define SNAP_MANUAL   1u /* state flag: manual watermark */
#define META_MAGIC    "LSWM" /* meta part: snapshot head, no windows */
#define PART_SEED     UINT64_C(0x6c73777061727431) /* "lswpart1" */

static uint8_t *
put_u8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static uint8_t *
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *
put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *
put_bytes(uint8_t *p, const void *src, size_t n)
{
	if (n > 0)
		memcpy(p, src, n);
	return p + n;
}

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A bounds-checked reader over the snapshot body. */
typedef struct rd {
	const uint8_t *p;
	size_t left;
} rd;

static const uint8_t *
rd_take(rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if (n > r->left)
		return NULL;
	r->p += n;
	r->left -= n;
	return p;
}

/* Number of aggregates that keep a state (all but plain count). */
static uint32_t
state_aggs(const ls_window *w)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < w->spec.naggs; i++)
		k += w->ops[i]->needs_field != 0;
	return k;
}

static size_t
spec_size(const ls_window_spec *s)
{
	size_t n = SNAP_SPEC_FIX;

	for (uint32_t i = 0; i < s->nkey; i++)
		n += 1 + (size_t)s->key_len[i];
	for (uint32_t i = 0; i < s->naggs; i++)
		n += 2 + (size_t)s->aggs[i].field_len;
	return n;
}

static uint8_t *
spec_put(uint8_t *p, const ls_window_spec *s)
{
	p = put_u64(p, (uint64_t)s->size_ms);
	p = put_u64(p, (uint64_t)s->grace_ms);
	p = put_u8(p, s->emit_on_update != 0);
	p = put_u8(p, (uint8_t)s->nkey);
	p = put_u8(p, (uint8_t)s->naggs);
	p = put_u8(p, 0);
	for (uint32_t i = 0; i < s->nkey; i++) {
		p = put_u8(p, s->key_len[i]);
		p = put_bytes(p, s->key_fields[i], s->key_len[i]);
	}
	for (uint32_t i = 0; i < s->naggs; i++) {
		p = put_u8(p, s->aggs[i].kind);
		p = put_u8(p, s->aggs[i].field_len);
		p = put_bytes(p, s->aggs[i].field, s->aggs[i].field_len);
	}
	return p;
}

/* Bytes of the snapshot section of one window (its part without the
 * trailer): wn->klen is exactly the sum of the entries' key lengths. */
static size_t
win_section_size(const ls_window *w, const struct win *wn)
{
	size_t gfix = 8 + (size_t)SNAP_AGG * state_aggs(w);

	return SNAP_WIN + wn->klen + (size_t)wn->n * gfix;
}

/* Write the snapshot section of one window: start, groups, key bytes, then
 * each group's key lengths, key values, count and aggregate states. */
static uint8_t *
win_section_put(const ls_window *w, const struct win *wn, uint8_t *p)
{
	uint32_t nkey = w->spec.nkey;

	p = put_u64(p, (uint64_t)wn->start_ns);
	p = put_u32(p, wn->n);
	p = put_u32(p, (uint32_t)wn->klen);
	for (uint32_t g = 0; g < wn->n; g++) {
		const unsigned char *e = ent_at(w, wn, g);
		const ent_hdr *h = (const ent_hdr *)e;
		const unsigned char *key = wn->keys + h->key_off;
		for (uint32_t f = 0; f < nkey; f++)
			p = put_u32(p, get_u32(key + 4 * (size_t)f));
		p = put_bytes(p, key + 4 * (size_t)nkey,
		    h->key_len - 4 * (size_t)nkey);
		p = put_u64(p, h->count);
		for (uint32_t a = 0; a < w->spec.naggs; a++) {
			num_state st;
			uint64_t bits;
			if (!w->ops[a]->needs_field)
				continue;
			memcpy(&st, e + w->aoff[a], sizeof(st));
			memcpy(&bits, &st.v, sizeof(bits));
			p = put_u64(p, bits);
			p = put_u64(p, st.n);
		}
	}
	return p;
}

/* Write header, spec and state block (magic, total length, and the
 * number of window sections that follow). */
static uint8_t *
head_put(const ls_window *w, uint8_t *p, const char *magic, size_t total,
    uint32_t nopen)
{
	p = put_bytes(p, magic, 4);
	p = put_u16(p, SNAP_VERSION);
	p = put_u16(p, 0);
	p = put_u64(p, (uint64_t)total);
	p = spec_put(p, &w->spec);
	p = put_u64(p, (uint64_t)w->wm);
	p = put_u64(p, (uint64_t)w->max_t);
	p = put_u64(p, (uint64_t)w->last_ingest);
	p = put_u64(p, w->events);
	p = put_u64(p, w->late_count);
	p = put_u64(p, w->emitted);
	p = put_u64(p, w->closed);
	p = put_u32(p, w->manual_wm ? SNAP_MANUAL : 0);
	p = put_u32(p, nopen);
	return p;
}

int
ls_window_save(const ls_window *w, uint8_t **buf, size_t *len)
{
	size_t total;
	uint8_t *out, *p;

	if (buf != NULL)
		*buf = NULL;
	if (len != NULL)
		*len = 0;
	if (w == NULL || buf == NULL || len == NULL)
		return LS_EINVAL;
	total = SNAP_HDR + spec_size(&w->spec) + SNAP_STATE + SNAP_TRAILER;
	for (size_t i = 0; i < w->nopen; i++)
		total += win_section_size(w, w->open[i]);
	if ((out = malloc(total)) == NULL)
		return LS_ENOMEM;

	p = head_put(w, out, SNAP_MAGIC, total, (uint32_t)w->nopen);
	for (size_t i = 0; i < w->nopen; i++)
		p = win_section_put(w, w->open[i], p);
	put_u64(p, ls_hash64(out, total - SNAP_TRAILER, SNAP_SEED));
	*buf = out;
	*len = total;
	return 0;
}

/* Read the saved spec and compare it with s: LS_ECORRUPT when it is not a
 * well-formed spec, LS_EINVAL when it is another one. */
static int
spec_check(rd *r, const ls_window_spec *s)
{
	const uint8_t *p = rd_take(r, SNAP_SPEC_FIX);
	int differs = 0;
	uint32_t nkey, naggs;

	if (p == NULL)
		return LS_ECORRUPT;
	nkey = p[17];
	naggs = p[18];
	if (p[16] > 1 || nkey > LS_WINDOW_MAX_KEYS ||
	    naggs > LS_WINDOW_MAX_AGGS || p[19] != 0)
		return LS_ECORRUPT;
	if ((int64_t)le64(p) != s->size_ms ||
	    (int64_t)le64(p + 8) != s->grace_ms ||
	    p[16] != (s->emit_on_update != 0) || nkey != s->nkey ||
	    naggs != s->naggs)
		differs = 1;
	for (uint32_t i = 0; i < nkey; i++) {
		const uint8_t *n = rd_take(r, 1);
		const uint8_t *name;
		if (n == NULL || *n == 0 || *n >= LS_WINDOW_NAME_MAX ||
		    (name = rd_take(r, *n)) == NULL)
			return LS_ECORRUPT;
		if (!differs &&
		    (*n != s->key_len[i] || memcmp(name, s->key_fields[i], *n)))
			differs = 1;
	}
	for (uint32_t i = 0; i < naggs; i++) {
		const uint8_t *a = rd_take(r, 2);
		const uint8_t *field;
		if (a == NULL || a[0] >= NAGG_KINDS ||
		    a[1] >= LS_WINDOW_NAME_MAX ||
		    (a[1] != 0) != (agg_table[a[0]].needs_field != 0) ||
		    (field = rd_take(r, a[1])) == NULL)
			return LS_ECORRUPT;
		if (!differs &&
		    (a[0] != s->aggs[i].kind || a[1] != s->aggs[i].field_len ||
		        memcmp(field, s->aggs[i].field, a[1]) != 0))
			differs = 1;
	}
	return differs ? LS_EINVAL : 0;
}

/* Check one saved aggregate state against the rules its kind keeps. */
static int
agg_state_ok(uint8_t kind, uint64_t bits, uint64_t n, uint64_t count)
{
	double v;

	memcpy(&v, &bits, sizeof(v));
	if (n > count)
		return 0;
	if (n == 0 || kind == LS_WINDOW_AGG_COUNT_FIELD)
		return bits == 0; /* as init left it */
	if (kind == LS_WINDOW_AGG_MIN || kind == LS_WINDOW_AGG_MAX)
		return isfinite(v); /* only finite values are added */
	return !isnan(v); /* a sum of finite values may only overflow */
}

/* Parse the groups of one saved window into wn (allocated to size here).
 * *counts accumulates their event counts. */
static int
load_groups(const ls_window *w, rd *r, struct win *wn, uint32_t ngroups,
    uint32_t kbytes, uint64_t *counts)
{
	uint32_t nkey = w->spec.nkey;
	uint32_t cap = ngroups < 8 ? 8 : ngroups;
	uint64_t nslot = 16;
	size_t used = 0;

	while ((uint64_t)ngroups * 4 > nslot * 3)
		nslot *= 2;
	if (nslot > UINT32_MAX / 2 || cap > SIZE_MAX / w->stride)
		return LS_ECORRUPT; /* larger than a live window can grow */
	wn->ent = malloc((size_t)cap * w->stride);
	wn->slot = calloc((size_t)nslot, sizeof(*wn->slot));
	wn->kcap = kbytes < 256 ? 256 : kbytes;
	wn->keys = malloc(wn->kcap);
	if (wn->ent == NULL || wn->slot == NULL || wn->keys == NULL)
		return LS_ENOMEM;
	wn->cap = cap;
	wn->nslot = (uint32_t)nslot;

	uint32_t mask = wn->nslot - 1;
	for (uint32_t g = 0; g < ngroups; g++) {
		const uint8_t *lens = rd_take(r, 4 * (size_t)nkey);
		const uint8_t *vals, *cnt;
		uint64_t vlen = 0;
		if (lens == NULL)
			return LS_ECORRUPT;
		for (uint32_t f = 0; f < nkey; f++)
			vlen += le32(lens + 4 * (size_t)f);
		if (vlen > LS_WINDOW_KEY_MAX)
			return LS_ECORRUPT;
		size_t klen = 4 * (size_t)nkey + (size_t)vlen;
		if (klen > kbytes - used ||
		    (vals = rd_take(r, (size_t)vlen)) == NULL ||
		    (cnt = rd_take(r, 8)) == NULL)
			return LS_ECORRUPT;
		unsigned char *key = wn->keys + used;
		for (uint32_t f = 0; f < nkey; f++) {
			uint32_t n = le32(lens + 4 * (size_t)f);
			memcpy(key + 4 * (size_t)f, &n, sizeof(n));
		}
		if (vlen > 0)
			memcpy(key + 4 * (size_t)nkey, vals, (size_t)vlen);

		uint64_t hash = ls_hash64(key, klen, KEY_SEED);
		uint32_t j;
		for (j = (uint32_t)hash & mask; wn->slot[j] != 0;
		     j = (j + 1) & mask) {
			const ent_hdr *o =
			    (const ent_hdr *)ent_at(w, wn, wn->slot[j] - 1);
			if (o->hash == hash && o->key_len == klen &&
			    memcmp(wn->keys + o->key_off, key, klen) == 0)
				return LS_ECORRUPT; /* a group twice */
		}
		unsigned char *e = ent_at(w, wn, g);
		ent_hdr *h = (ent_hdr *)e;
		h->hash = hash;
		h->key_off = (uint32_t)used;
		h->key_len = (uint32_t)klen;
		h->count = le64(cnt);
		if (h->count == 0 || h->count > UINT64_MAX - *counts)
			return LS_ECORRUPT;
		*counts += h->count;
		for (uint32_t a = 0; a < w->spec.naggs; a++) {
			const uint8_t *sp;
			num_state st;
			uint64_t bits;
			if (!w->ops[a]->needs_field)
				continue;
			if ((sp = rd_take(r, SNAP_AGG)) == NULL)
				return LS_ECORRUPT;
			bits = le64(sp);
			st.n = le64(sp + 8);
			if (!agg_state_ok(w->spec.aggs[a].kind, bits, st.n,
			        h->count))
				return LS_ECORRUPT;
			memcpy(&st.v, &bits, sizeof(st.v));
			memcpy(e + w->aoff[a], &st, sizeof(st));
		}
		wn->slot[j] = g + 1;
		wn->n = g + 1;
		used += klen;
	}
	if (used != kbytes)
		return LS_ECORRUPT;
	wn->klen = used;
	return 0;
}

int
ls_window_load(ls_window *w, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	const uint8_t *st;
	struct win **open = NULL;
	size_t nbuilt = 0;
	uint32_t nopen, flags, maxcap = 0;
	uint64_t events, late, counts = 0, groups = 0;
	int64_t wm, max_t, prev = 0;
	size_t mingroup, minwin;
	rd r;
	int rc;

	if (w == NULL || (buf == NULL && len != 0))
		return LS_EINVAL;
	if (len < SNAP_HDR + SNAP_TRAILER || memcmp(b, SNAP_MAGIC, 4) != 0 ||
	    le64(b + 8) != (uint64_t)len ||
	    ls_hash64(b, len - SNAP_TRAILER, SNAP_SEED) !=
	        le64(b + len - SNAP_TRAILER))
		return LS_ECORRUPT;
	if (le16(b + 4) != SNAP_VERSION)
		return LS_ENOTSUP;
	if (le16(b + 6) != 0)
		return LS_ECORRUPT;
	r.p = b + SNAP_HDR;
	r.left = len - SNAP_HDR - SNAP_TRAILER;
	if ((rc = spec_check(&r, &w->spec)) != 0)
		return rc;
	if ((st = rd_take(&r, SNAP_STATE)) == NULL)
		return LS_ECORRUPT;
	wm = (int64_t)le64(st);
	max_t = (int64_t)le64(st + 8);
	events = le64(st + 24);
	late = le64(st + 32);
	flags = le32(st + 56);
	nopen = le32(st + 60);
	mingroup = 4 * (size_t)w->spec.nkey + 8 + SNAP_AGG * state_aggs(w);
	minwin = SNAP_WIN + mingroup;
	if ((flags & ~SNAP_MANUAL) != 0 || late > events ||
	    nopen > r.left / minwin)
		return LS_ECORRUPT;
	if (nopen > 0 && (open = calloc(nopen, sizeof(*open))) == NULL)
		return LS_ENOMEM;

	rc = 0;
	for (uint32_t i = 0; i < nopen; i++) {
		const uint8_t *wh = rd_take(&r, SNAP_WIN);
		int64_t start;
		uint32_t ng, kb;
		struct win *wn;
		if (wh == NULL) {
			rc = LS_ECORRUPT;
			break;
		}
		start = (int64_t)le64(wh);
		ng = le32(wh + 8);
		kb = le32(wh + 12);
		/* aligned, ends inside int64, strictly increasing, opened by
		 * an event no later than max_t, not yet due to close */
		if (start % w->size_ns != 0 || start > INT64_MAX - w->size_ns ||
		    (i > 0 && start <= prev) || start > max_t ||
		    close_time(w, start) <= wm || ng == 0 ||
		    ng > r.left / mingroup || kb > r.left ||
		    kb < (uint64_t)ng * 4 * w->spec.nkey) {
			rc = LS_ECORRUPT;
			break;
		}
		prev = start;
		if ((wn = calloc(1, sizeof(*wn))) == NULL) {
			rc = LS_ENOMEM;
			break;
		}
		wn->start_ns = start;
		open[nbuilt++] = wn;
		if ((rc = load_groups(w, &r, wn, ng, kb, &counts)) != 0)
			break;
		groups += ng;
		if (wn->cap > maxcap)
			maxcap = wn->cap;
	}
	if (rc == 0 && (r.left != 0 || counts > events - late))
		rc = LS_ECORRUPT;
	if (rc == 0 && w->sortcap < maxcap) {
		sort_ent *ns = realloc(w->sort, (size_t)maxcap * sizeof(*ns));
		if (ns == NULL)
			rc = LS_ENOMEM;
		else {
			w->sort = ns; /* scratch only: not part of the state */
			w->sortcap = maxcap;
		}
	}
	if (rc != 0) {
		for (size_t i = 0; i < nbuilt; i++)
			win_destroy(open[i]);
		free(open);
		return rc;
	}

	/* everything checked and allocated: swap the state in */
	for (size_t i = 0; i < w->nopen; i++)
		win_put(w, w->open[i]);
	free(w->open);
	w->open = open;
	w->nopen = nopen;
	w->capopen = nopen;
	w->hint = 0;
	w->nkeys = groups;
	w->wm = wm;
	w->max_t = max_t;
	w->last_ingest = (int64_t)le64(st + 16);
	w->events = events;
	w->late_count = late;
	w->emitted = le64(st + 40);
	w->closed = le64(st + 48);
	w->manual_wm = (flags & SNAP_MANUAL) != 0;
	w->ngone = 0; /* closes of the replaced state are no longer news */
	return 0;
}

/* ---- incremental parts (docs/windows.md, "Incremental parts") ----
 *
 * The meta part is a snapshot with magic META_MAGIC and no windows; a
 * window part is one window section of the snapshot followed by its own
 * XXH3-64 (seed PART_SEED).  load_parts assembles the snapshot the parts
 * came from and hands it to ls_window_load, so both paths share one
 * validator. */

int
ls_window_save_meta(const ls_window *w, uint8_t **buf, size_t *len)
{
	size_t total;
	uint8_t *out, *p;

	if (buf != NULL)
		*buf = NULL;
	if (len != NULL)
		*len = 0;
	if (w == NULL || buf == NULL || len == NULL)
		return LS_EINVAL;
	total = SNAP_HDR + spec_size(&w->spec) + SNAP_STATE + SNAP_TRAILER;
	if ((out = malloc(total)) == NULL)
		return LS_ENOMEM;
	p = head_put(w, out, META_MAGIC, total, 0);
	put_u64(p, ls_hash64(out, total - SNAP_TRAILER, SNAP_SEED));
	*buf = out;
	*len = total;
	return 0;
}

/* Make room in gone[] for every open window to close after a handout. */
static int
gone_reserve(ls_window *w, size_t extra)
{
	size_t need = w->ngone + extra;

	if (need <= w->capgone)
		return 0;
	int64_t *ng = realloc(w->gone, need * sizeof(*ng));
	if (ng == NULL)
		return LS_ENOMEM;
	w->gone = ng;
	w->capgone = need;
	return 0;
}

int
ls_window_save_changed(ls_window *w, int all, ls_window_part_fn fn,
    void *arg)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc;

	if (w == NULL || fn == NULL)
		return LS_EINVAL;
	if ((rc = gone_reserve(w, w->nopen)) != 0)
		return rc;
	/* windows close oldest first, and none opens before a closed one,
	 * so every gone start precedes every open start */
	for (size_t i = 0; i < w->ngone; i++)
		if ((rc = fn(arg, w->gone[i], NULL, 0)) != 0)
			return rc;
	for (size_t i = 0; i < w->nopen; i++) {
		struct win *wn = w->open[i];
		size_t n;
		if (!all && !wn->changed)
			continue;
		n = win_section_size(w, wn) + SNAP_TRAILER;
		if (n > cap) {
			uint8_t *nb = realloc(buf, n);
			if (nb == NULL) {
				free(buf);
				return LS_ENOMEM;
			}
			buf = nb;
			cap = n;
		}
		uint8_t *p = win_section_put(w, wn, buf);
		put_u64(p, ls_hash64(buf, n - SNAP_TRAILER, PART_SEED));
		wn->handed = 1; /* its holder may keep it: report its close */
		if ((rc = fn(arg, wn->start_ns, buf, n)) != 0) {
			free(buf);
			return rc;
		}
	}
	free(buf);
	w->ngone = 0;
	for (size_t i = 0; i < w->nopen; i++)
		w->open[i]->changed = 0;
	return 0;
}

/* One window part, checked, ordered by start. */
typedef struct part_ref {
	int64_t start;
	const uint8_t *p;
	size_t len; /* without the trailer */
} part_ref;

static int
part_cmp(const void *a, const void *b)
{
	const part_ref *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

int
ls_window_load_parts(ls_window *w, const uint8_t *meta, size_t mlen,
    const uint8_t *const *parts, const size_t *lens, size_t n)
{
	part_ref *ref = NULL;
	uint8_t *snap = NULL;
	size_t total;
	int rc;

	if (w == NULL || (n > 0 && (parts == NULL || lens == NULL)))
		return LS_EINVAL;
	if (meta == NULL) {
		if (n != 0 || mlen != 0)
			return LS_EINVAL;
		/* a fresh state: an empty snapshot of w's own spec */
		if ((rc = gone_reserve(w, 0)) != 0)
			return rc;
		total = SNAP_HDR + spec_size(&w->spec) + SNAP_STATE +
		    SNAP_TRAILER;
		if ((snap = malloc(total)) == NULL)
			return LS_ENOMEM;
		uint8_t *p = put_bytes(snap, SNAP_MAGIC, 4);
		p = put_u16(p, SNAP_VERSION);
		p = put_u16(p, 0);
		p = put_u64(p, (uint64_t)total);
		p = spec_put(p, &w->spec);
		p = put_u64(p, (uint64_t)INT64_MIN);
		p = put_u64(p, (uint64_t)INT64_MIN);
		p = put_u64(p, (uint64_t)INT64_MIN);
		for (int i = 0; i < 4; i++)
			p = put_u64(p, 0);
		p = put_u32(p, w->manual_wm ? SNAP_MANUAL : 0);
		p = put_u32(p, 0);
		put_u64(p, ls_hash64(snap, total - SNAP_TRAILER, SNAP_SEED));
		rc = ls_window_load(w, snap, total);
		free(snap);
		if (rc == 0)
			w->ngone = 0;
		return rc;
	}
	if (mlen < SNAP_HDR + SNAP_STATE + SNAP_TRAILER ||
	    memcmp(meta, META_MAGIC, 4) != 0 || le64(meta + 8) != mlen ||
	    ls_hash64(meta, mlen - SNAP_TRAILER, SNAP_SEED) !=
	        le64(meta + mlen - SNAP_TRAILER))
		return LS_ECORRUPT;
	if (le16(meta + 4) != SNAP_VERSION)
		return LS_ENOTSUP;
	if (le32(meta + mlen - SNAP_TRAILER - 4) != 0 || n > UINT32_MAX)
		return LS_ECORRUPT; /* a meta part lists no windows */
	if (n > 0 && (ref = malloc(n * sizeof(*ref))) == NULL)
		return LS_ENOMEM;
	total = mlen;
	for (size_t i = 0; i < n; i++) {
		if (parts[i] == NULL || lens[i] < SNAP_WIN + SNAP_TRAILER ||
		    ls_hash64(parts[i], lens[i] - SNAP_TRAILER, PART_SEED) !=
		        le64(parts[i] + lens[i] - SNAP_TRAILER) ||
		    lens[i] > SIZE_MAX - total) {
			free(ref);
			return LS_ECORRUPT;
		}
		ref[i].start = (int64_t)le64(parts[i]);
		ref[i].p = parts[i];
		ref[i].len = lens[i] - SNAP_TRAILER;
		total += ref[i].len;
	}
	if (n > 1)
		qsort(ref, n, sizeof(*ref), part_cmp);
	if ((rc = gone_reserve(w, n)) != 0 ||
	    (snap = malloc(total)) == NULL) {
		free(ref);
		return rc != 0 ? rc : LS_ENOMEM;
	}
	/* the snapshot these parts came from: meta body, the window sections
	 * in start order (duplicates fail its strict order), a new trailer */
	uint8_t *p = put_bytes(snap, meta, mlen - SNAP_TRAILER);
	memcpy(snap, SNAP_MAGIC, 4);
	put_u64(snap + 8, (uint64_t)total);
	put_u32(p - 4, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		p = put_bytes(p, ref[i].p, ref[i].len);
	put_u64(p, ls_hash64(snap, total - SNAP_TRAILER, SNAP_SEED));
	free(ref);
	rc = ls_window_load(w, snap, total);
	free(snap);
	if (rc == 0) {
		w->ngone = 0;
		for (size_t i = 0; i < w->nopen; i++)
			w->open[i]->handed = 1;
	}
	return rc;
}

/* ---- results as records ---- */

int
ls_window_schema(const ls_window_spec *spec, ls_rec_schema *out)
{
	const char *keys[LS_WINDOW_MAX_KEYS];
	const char *aggs[LS_WINDOW_MAX_AGGS];
	int rv;

	ls_window_spec_names(spec, keys, aggs);
	if ((rv = ls_rec_schema_add(out, "window_start", LS_REC_TIME,
	         LS_REC_ID)) != 0 ||
	    (rv = ls_rec_schema_add(out, "window_end", LS_REC_TIME,
	         LS_REC_NOTABLE)) != 0)
		return rv;
	for (uint32_t k = 0; k < spec->nkey; k++)
		if ((rv = ls_rec_schema_add(out, keys[k], LS_REC_STRING,
		         LS_REC_KEY)) != 0)
			return rv;
	if (spec->nkey == 0) { /* an empty "key" object before count */
		out->keyed = 1;
		out->key_at = out->n;
	}
	if ((rv = ls_rec_schema_add(out, "count", LS_REC_INT, 0)) != 0)
		return rv;
	for (uint32_t a = 0; a < spec->naggs; a++)
		if (strcmp(aggs[a], "count") != 0 &&
		    (rv = ls_rec_schema_add(out, aggs[a], LS_REC_DOUBLE, 0)) != 0)
			return rv;
	return ls_rec_schema_add(out, "final", LS_REC_BOOL, LS_REC_NOTABLE);
}

int
ls_window_record(const ls_window_spec *spec, const ls_window_result *r,
    ls_records *out)
{
	const char *keys[LS_WINDOW_MAX_KEYS];
	const char *aggs[LS_WINDOW_MAX_AGGS];
	ls_rec_value *v = ls_records_add(out);
	uint32_t f = 2;

	if (v == NULL)
		return LS_ENOMEM;
	ls_window_spec_names(spec, keys, aggs);
	v[0].i = r->start_ns;
	v[1].i = r->end_ns;
	v[0].null = v[1].null = 0;
	for (uint32_t k = 0; k < spec->nkey; k++, f++) {
		ls_str kv = k < r->nkeys ? r->keys[k] : ls_str_make("", 0);
		if (ls_records_set_str(out, &v[f], kv.ptr, kv.len) != 0) {
			out->n--;
			return LS_ENOMEM;
		}
	}
	v[f].i = (int64_t)r->count;
	v[f++].null = 0;
	for (uint32_t a = 0; a < spec->naggs; a++) {
		if (strcmp(aggs[a], "count") == 0)
			continue;
		if (a < r->naggs && r->has_value[a]) {
			v[f].d = r->value[a];
			v[f].null = 0;
		}
		f++;
	}
	v[f].i = r->final != 0;
	v[f].null = 0;
	return 0;
}
