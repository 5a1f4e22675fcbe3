/*
 * index.c -- the full-text index of actors/index.h: tokenizer, segments
 * (documents, a term table, positional postings with block-max skip data),
 * the query parser and top-k BM25 search with block-max pruning.
 *
 * A segment holds its documents in their persistent record form
 * (ls_index_seg_encode) one after the other in one byte buffer, so encoding
 * a segment is copying that buffer behind a header; the postings of a term
 * are one array of { docid, tf, offset of its positions } plus one array
 * of positions and one of block metadata (last docid, largest tf, shortest
 * document of each LS_INDEX_BLOCK postings).  Docids are local to their
 * segment (0, 1, ...); a document's sequence number is the segment's base
 * plus its docid.
 *
 * Search walks the segments oldest first with one heap of the k best.  A
 * matcher tree (AND leapfrog, OR, NOT, phrase, prefix) gives the matching
 * docids in order; before a match is scored, the bound of its range (the
 * sum over scoring terms of the BM25 of their block's largest tf and
 * shortest document, 0 for a term absent from the range) is compared with
 * the k-th score: a range that cannot beat it is skipped as a whole.  As
 * keys never decrease, a later document that only ties the k-th score
 * ranks after it, so ties are skipped too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/index.h"
#include "runtime/arena.h"
#include "runtime/err.h"
#include "runtime/hash.h"
#include "runtime/le.h"

#define END UINT32_MAX
#define NAME_MAX_LEN 65535u
#define VALUE_MAX_LEN (16u << 20)
#define SEG_MAGIC "LSIS"
#define SEG_VERSION 1
#define SEG_HDR 17
#define MAX_DEPTH 32
/* Field terms longer than this are not indexed (still stored). */
#define FIELD_TERM_MAX 512

/* ---------------------------------------------------------------- tokens */

static int
is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static int
is_dash_class(unsigned char c)
{
	return is_word(c) || c == '-';
}

static int
is_dot_class(unsigned char c)
{
	return is_word(c) || c == '.';
}

static int
is_path_class(unsigned char c)
{
	return is_word(c) || c == '.' || c == '-' || c == '/';
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* [s, e) is exactly four groups of 1-3 digits joined by dots. */
static int
is_ipv4(const char *t, size_t s, size_t e)
{
	int groups = 0, digits = 0;
	for (size_t i = s; i < e; i++) {
		if (t[i] >= '0' && t[i] <= '9') {
			if (++digits > 3)
				return 0;
		} else if (t[i] == '.') {
			if (digits == 0)
				return 0;
			groups++;
			digits = 0;
		} else {
			return 0;
		}
	}
	return digits > 0 && groups == 3;
}

static int
emit(ls_index_token_fn fn, void *arg, const char *t, size_t s, size_t e,
    uint32_t pos, int composite)
{
	char buf[LS_INDEX_TOKEN_MAX];
	if (e - s > LS_INDEX_TOKEN_MAX)
		return 0;
	for (size_t i = s; i < e; i++)
		buf[i - s] = lower(t[i]);
	ls_index_token tok = { (uint32_t)s, (uint32_t)(e - s), pos,
		(uint8_t)composite };
	return fn(arg, &tok, buf);
}

/* The composite tokens that start with the word at s (position pos). */
static int
composites(const char *t, size_t len, size_t s, uint32_t pos,
    ls_index_token_fn fn, void *arg)
{
	int rv;
	/* A dashed run: the word is the first of a run of [word -]. */
	size_t j = s;
	while (j > 0 && t[j - 1] == '-')
		j--;
	if (j == 0 || !is_word((unsigned char)t[j - 1])) {
		size_t e = s;
		int dash = 0;
		while (e < len && is_dash_class((unsigned char)t[e]))
			e++;
		while (e > s && t[e - 1] == '-')
			e--;
		for (size_t i = s; i < e && !dash; i++)
			dash = t[i] == '-';
		if (dash && (rv = emit(fn, arg, t, s, e, pos, 1)) != 0)
			return rv;
	}
	/* A dotted run that is an IPv4 address. */
	if (s == 0 || t[s - 1] != '.') {
		size_t e = s;
		while (e < len && is_dot_class((unsigned char)t[e]))
			e++;
		while (e > s && t[e - 1] == '.')
			e--;
		if (is_ipv4(t, s, e) && (rv = emit(fn, arg, t, s, e, pos, 1)) != 0)
			return rv;
	}
	/* A path: a run of [word . - /] starting with '/' whose first word
	 * this is. */
	size_t r = s;
	while (r > 0 && is_path_class((unsigned char)t[r - 1]) &&
	    !is_word((unsigned char)t[r - 1]))
		r--;
	if (r < s && t[r] == '/' &&
	    (r == 0 || !is_path_class((unsigned char)t[r - 1]))) {
		size_t e = s;
		while (e < len && is_path_class((unsigned char)t[e]))
			e++;
		while (e > s && (t[e - 1] == '.' || t[e - 1] == '-'))
			e--;
		if ((rv = emit(fn, arg, t, r, e, pos, 1)) != 0)
			return rv;
	}
	return 0;
}

long
ls_index_tokenize(const char *t, size_t len, ls_index_token_fn fn,
    void *arg)
{
	uint32_t pos = 0;
	size_t i = 0;
	while (i < len) {
		if (!is_word((unsigned char)t[i])) {
			i++;
			continue;
		}
		size_t s = i;
		while (i < len && is_word((unsigned char)t[i]))
			i++;
		int rv = emit(fn, arg, t, s, i, pos, 0);
		if (rv == 0)
			rv = composites(t, len, s, pos, fn, arg);
		if (rv != 0)
			return -(long)rv;
		pos++;
	}
	return (long)pos;
}

/* -------------------------------------------------------------- segments */

typedef struct posting {
	uint32_t doc, tf, poff;
} posting;

typedef struct blkmeta {
	uint32_t last, maxtf, mindl;
} blkmeta;

typedef struct term {
	uint32_t soff; /* in seg.strs */
	uint16_t slen;
	uint8_t field; /* a name:value term */
	uint64_t hash;
	posting *p;
	uint32_t n, cap;
	uint32_t *pos;
	uint32_t npos, pcap;
	blkmeta *blk;
	uint32_t bcap;
} term;

typedef struct sdoc {
	int64_t time;
	uint64_t key;
	uint32_t off; /* of its record in seg.bytes */
	uint32_t dl;
} sdoc;

typedef struct seg {
	uint64_t base;
	sdoc *docs;
	uint32_t ndocs, dcap;
	uint8_t *bytes;
	size_t nbytes, bcap;
	term *terms;
	uint32_t nterms, tcap;
	uint64_t *ht; /* SLOT(hash, term index); 0 empty */
	uint32_t htcap;
	char *strs;
	size_t nstrs, scap;
	uint32_t *touched; /* terms of the document being added */
	uint32_t ntouched, tocap;
	uint64_t total_len, npostings;
	int64_t tmin, tmax;
	uint32_t *sorted; /* sealed: term indices in byte order (prefixes) */
	uint8_t open, dirty;
} seg;

struct ls_index {
	seg **segs;
	uint32_t n, cap;
	uint64_t next_seq;
	uint64_t last_key;
	uint64_t *removed;
	uint32_t nremoved, rcap;
};

static int
grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	uint32_t nc = *cap ? *cap : 4;
	while (nc < need) {
		if (nc > UINT32_MAX / 2)
			return LS_ENOMEM;
		nc *= 2;
	}
	void *np = realloc(*p, (size_t)nc * size);
	if (np == NULL)
		return LS_ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

static int
grow_bytes(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 256;
	while (nc < need)
		nc *= 2;
	uint8_t *np = realloc(*p, nc);
	if (np == NULL)
		return LS_ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

static void
seg_free(seg *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->nterms; i++) {
		free(s->terms[i].p);
		free(s->terms[i].pos);
		free(s->terms[i].blk);
	}
	free(s->terms);
	free(s->ht);
	free(s->strs);
	free(s->docs);
	free(s->bytes);
	free(s->touched);
	free(s->sorted);
	free(s);
}

static seg *
seg_new(uint64_t base)
{
	seg *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->base = base;
	s->tmin = INT64_MAX;
	s->tmax = INT64_MIN;
	return s;
}

static const char *
term_str(const seg *s, const term *t)
{
	return s->strs + t->soff;
}

/* Hash table slots: the high 32 bits of the term's hash, then its index
 * + 1 (0: empty), so that a probe reads the term only when the tags
 * agree. */
#define SLOT(h, k) (((h) & ~UINT64_C(0xffffffff)) | ((uint64_t)(k) + 1))
#define SLOT_TERM(v) ((uint32_t)(v) - 1)
#define SLOT_TAG(v) ((v) & ~UINT64_C(0xffffffff))

/* The term index of str (hash h) in s, or END. */
static uint32_t
seg_find_h(const seg *s, const char *str, size_t len, uint64_t h)
{
	if (s->htcap == 0 || len > FIELD_TERM_MAX)
		return END;
	uint32_t mask = s->htcap - 1;
	for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
		uint64_t v = s->ht[i];
		if (v == 0)
			return END;
		if (SLOT_TAG(v) != SLOT_TAG(h))
			continue;
		const term *t = &s->terms[SLOT_TERM(v)];
		if (t->slen == len && memcmp(term_str(s, t), str, len) == 0)
			return SLOT_TERM(v);
	}
}

static uint32_t
seg_find(const seg *s, const char *str, size_t len)
{
	return seg_find_h(s, str, len, ls_hash64(str, len, 0));
}

static int
ht_rehash(seg *s, uint32_t ncap)
{
	uint64_t *nt = calloc(ncap, sizeof(*nt));
	if (nt == NULL)
		return LS_ENOMEM;
	for (uint32_t k = 0; k < s->nterms; k++) {
		uint64_t h = s->terms[k].hash;
		uint32_t i = (uint32_t)h & (ncap - 1);
		while (nt[i] != 0)
			i = (i + 1) & (ncap - 1);
		nt[i] = SLOT(h, k);
	}
	free(s->ht);
	s->ht = nt;
	s->htcap = ncap;
	return 0;
}

/* The term index of str, created when new.  END on ENOMEM. */
static uint32_t
seg_term(seg *s, const char *str, size_t len, int field)
{
	uint64_t h = ls_hash64(str, len, 0);
	uint32_t k = seg_find_h(s, str, len, h);
	if (k != END)
		return k;
	if ((s->nterms + 1) * 4 > s->htcap * 3 &&
	    ht_rehash(s, s->htcap ? s->htcap * 2 : 64) != 0)
		return END;
	if (grow((void **)&s->terms, &s->tcap, s->nterms + 1,
	        sizeof(term)) != 0 ||
	    grow_bytes((uint8_t **)&s->strs, &s->scap, s->nstrs + len + 1) != 0)
		return END;
	term *t = &s->terms[s->nterms];
	memset(t, 0, sizeof(*t));
	t->soff = (uint32_t)s->nstrs;
	t->slen = (uint16_t)len;
	t->field = (uint8_t)field;
	t->hash = h;
	memcpy(s->strs + s->nstrs, str, len);
	s->strs[s->nstrs + len] = 0;
	s->nstrs += len + 1;
	uint32_t mask = s->htcap - 1;
	uint32_t i = (uint32_t)h & mask;
	while (s->ht[i] != 0)
		i = (i + 1) & mask;
	s->ht[i] = SLOT(h, s->nterms);
	return s->nterms++;
}

/* One occurrence of term k in document doc at pos. */
static int
seg_occur(seg *s, uint32_t k, uint32_t doc, uint32_t pos)
{
	term *t = &s->terms[k];
	if (t->n == 0 || t->p[t->n - 1].doc != doc) {
		if (grow((void **)&t->p, &t->cap, t->n + 1, sizeof(posting)) !=
		        0 ||
		    grow((void **)&t->blk, &t->bcap, t->n / LS_INDEX_BLOCK + 1,
		        sizeof(blkmeta)) != 0 ||
		    grow((void **)&s->touched, &s->tocap, s->ntouched + 1,
		        sizeof(uint32_t)) != 0)
			return LS_ENOMEM;
		posting *p = &t->p[t->n];
		p->doc = doc;
		p->tf = 0;
		p->poff = t->npos;
		if (t->n % LS_INDEX_BLOCK == 0) {
			blkmeta *b = &t->blk[t->n / LS_INDEX_BLOCK];
			b->maxtf = 0;
			b->mindl = UINT32_MAX;
		}
		t->n++;
		s->touched[s->ntouched++] = k;
	}
	if (grow((void **)&t->pos, &t->pcap, t->npos + 1, sizeof(uint32_t)) !=
	    0)
		return LS_ENOMEM;
	t->pos[t->npos++] = pos;
	t->p[t->n - 1].tf++;
	return 0;
}

typedef struct addctx {
	seg *s;
	uint32_t doc;
	int rv;
} addctx;

static int
add_token(void *arg, const ls_index_token *tok, const char *lower_s)
{
	addctx *a = arg;
	uint32_t k = seg_term(a->s, lower_s, tok->len, 0);
	if (k == END || seg_occur(a->s, k, a->doc, tok->pos) != 0) {
		a->rv = LS_ENOMEM;
		return 1;
	}
	return 0;
}

/* Undo the postings of the document being added (after ENOMEM). */
static void
seg_unwind(seg *s, uint32_t doc)
{
	for (uint32_t i = 0; i < s->ntouched; i++) {
		term *t = &s->terms[s->touched[i]];
		if (t->n > 0 && t->p[t->n - 1].doc == doc) {
			t->npos = t->p[t->n - 1].poff;
			t->n--;
		}
	}
	s->ntouched = 0;
}

static void
field_term(char *buf, size_t *len, ls_str name, ls_str val)
{
	size_t n = 0;
	for (uint32_t i = 0; i < name.len; i++)
		buf[n++] = lower(name.ptr[i]);
	buf[n++] = ':';
	if (ls_str_eq(name, "level")) {
		int lv = ls_level_parse(val.ptr, val.len);
		if (lv != LS_LEVEL_UNKNOWN) {
			val = ls_str_c(ls_level_name(lv));
		}
	}
	for (uint32_t i = 0; i < val.len; i++)
		buf[n++] = lower(val.ptr[i]);
	*len = n;
}


/* Append the document: its record to bytes, its postings.  The record
 * must already be in s->bytes at off (seg_add_record) */
static int
seg_index(seg *s, const ls_index_doc *d, uint32_t off)
{
	if (grow((void **)&s->docs, &s->dcap, s->ndocs + 1, sizeof(sdoc)) != 0)
		return LS_ENOMEM;
	uint32_t doc = s->ndocs;
	addctx a = { s, doc, 0 };
	s->ntouched = 0;
	long dl = ls_index_tokenize(d->text.ptr, d->text.len, add_token, &a);
	if (dl < 0)
		goto oom;
	for (uint32_t i = 0; i < d->nfields; i++) {
		char buf[FIELD_TERM_MAX + 1];
		size_t n;
		if (d->fields[i].key.len + d->fields[i].val.len + 1 >
		    FIELD_TERM_MAX)
			continue;
		field_term(buf, &n, d->fields[i].key, d->fields[i].val);
		uint32_t k = seg_term(s, buf, n, 1);
		if (k == END || seg_occur(s, k, doc, 0) != 0)
			goto oom;
	}
	for (uint32_t i = 0; i < s->ntouched; i++) {
		term *t = &s->terms[s->touched[i]];
		blkmeta *b = &t->blk[(t->n - 1) / LS_INDEX_BLOCK];
		uint32_t tf = t->p[t->n - 1].tf;
		b->last = doc;
		if (tf > b->maxtf)
			b->maxtf = tf;
		if ((uint32_t)dl < b->mindl)
			b->mindl = (uint32_t)dl;
		s->npostings++;
	}
	s->ntouched = 0;
	sdoc *sd = &s->docs[s->ndocs++];
	sd->time = d->time_ns;
	sd->key = d->key;
	sd->off = off;
	sd->dl = (uint32_t)dl;
	s->total_len += (uint64_t)dl;
	if (d->time_ns < s->tmin)
		s->tmin = d->time_ns;
	if (d->time_ns > s->tmax)
		s->tmax = d->time_ns;
	return 0;
oom:
	seg_unwind(s, doc);
	return LS_ENOMEM;
}

static size_t
record_size(const ls_index_doc *d)
{
	size_t n = 8 + 8 + 4 + d->text.len + 1;
	for (uint32_t i = 0; i < d->nfields; i++)
		n += 2 + d->fields[i].key.len + 4 + d->fields[i].val.len;
	return n;
}

static int
seg_add(seg *s, const ls_index_doc *d)
{
	size_t need = record_size(d);
	if (s->nbytes + need > UINT32_MAX)
		return LS_ERANGE;
	if (grow_bytes(&s->bytes, &s->bcap, s->nbytes + need) != 0)
		return LS_ENOMEM;
	uint8_t *p = s->bytes + s->nbytes;
	ls_le_put(p, (uint64_t)d->time_ns, 8);
	ls_le_put(p + 8, d->key, 8);
	ls_le_put(p + 16, d->text.len, 4);
	p += 20;
	if (d->text.len > 0)
		memcpy(p, d->text.ptr, d->text.len);
	p += d->text.len;
	*p++ = (uint8_t)d->nfields;
	for (uint32_t i = 0; i < d->nfields; i++) {
		ls_le_put(p, d->fields[i].key.len, 2);
		memcpy(p + 2, d->fields[i].key.ptr, d->fields[i].key.len);
		p += 2 + d->fields[i].key.len;
		ls_le_put(p, d->fields[i].val.len, 4);
		if (d->fields[i].val.len > 0)
			memcpy(p + 4, d->fields[i].val.ptr, d->fields[i].val.len);
		p += 4 + d->fields[i].val.len;
	}
	int rv = seg_index(s, d, (uint32_t)s->nbytes);
	if (rv == 0)
		s->nbytes += need;
	return rv;
}

/* Decode the record at *off of [p, end) into *d (fields into f). */
static int
record_decode(const uint8_t *p, size_t len, size_t *off, ls_index_doc *d,
    ls_attr *f)
{
	size_t o = *off;
	if (len - o < 21)
		return LS_ECORRUPT;
	d->time_ns = (int64_t)ls_le_get(p + o, 8);
	d->key = ls_le_get(p + o + 8, 8);
	size_t tl = (size_t)ls_le_get(p + o + 16, 4);
	o += 20;
	if (tl > VALUE_MAX_LEN || len - o < tl + 1)
		return LS_ECORRUPT;
	d->text = ls_str_make((const char *)p + o, tl);
	o += tl;
	d->nfields = p[o++];
	if (d->nfields > LS_INDEX_MAX_FIELDS)
		return LS_ECORRUPT;
	for (uint32_t i = 0; i < d->nfields; i++) {
		if (len - o < 2)
			return LS_ECORRUPT;
		size_t nl = (size_t)ls_le_get(p + o, 2);
		o += 2;
		if (len - o < nl + 4)
			return LS_ECORRUPT;
		f[i].key = ls_str_make((const char *)p + o, nl);
		o += nl;
		size_t vl = (size_t)ls_le_get(p + o, 4);
		o += 4;
		if (vl > VALUE_MAX_LEN || len - o < vl)
			return LS_ECORRUPT;
		f[i].val = ls_str_make((const char *)p + o, vl);
		o += vl;
	}
	d->fields = f;
	*off = o;
	return 0;
}

static void
seg_doc(const seg *s, uint32_t doc, ls_index_doc *d, ls_attr *f)
{
	size_t off = s->docs[doc].off;
	int rv = record_decode(s->bytes, s->nbytes, &off, d, f);
	(void)rv; /* records of a segment were written by seg_add */
}

static uint64_t
seg_mem(const seg *s)
{
	uint64_t m = sizeof(*s) + (uint64_t)s->dcap * sizeof(sdoc) + s->bcap +
	    (uint64_t)s->tcap * sizeof(term) + (uint64_t)s->htcap * 8 + s->scap;
	for (uint32_t i = 0; i < s->nterms; i++)
		m += (uint64_t)s->terms[i].cap * sizeof(posting) +
		    (uint64_t)s->terms[i].pcap * 4 +
		    (uint64_t)s->terms[i].bcap * sizeof(blkmeta);
	return m;
}

typedef struct sortent {
	const char *s;
	uint32_t len, id;
} sortent;

static int
sortent_cmp(const void *x, const void *y)
{
	const sortent *a = x, *b = y;
	int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
	return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* Sealing: forget the scratch of adding, sort the terms for prefix
 * lookups (without the sorted list, a prefix scans every term). */
static void
seg_sealed(seg *s)
{
	free(s->touched);
	s->touched = NULL;
	s->tocap = 0;
	free(s->sorted);
	s->sorted = NULL;
	sortent *e = malloc((s->nterms ? s->nterms : 1) * sizeof(*e));
	uint32_t *ids = malloc((s->nterms ? s->nterms : 1) * sizeof(*ids));
	if (e != NULL && ids != NULL) {
		for (uint32_t i = 0; i < s->nterms; i++) {
			e[i].s = term_str(s, &s->terms[i]);
			e[i].len = s->terms[i].slen;
			e[i].id = i;
		}
		qsort(e, s->nterms, sizeof(*e), sortent_cmp);
		for (uint32_t i = 0; i < s->nterms; i++)
			ids[i] = e[i].id;
		s->sorted = ids;
		ids = NULL;
	}
	free(e);
	free(ids);
}

/* ----------------------------------------------------------------- index */

int
ls_index_new(ls_index **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? 0 : LS_ENOMEM;
}

void
ls_index_free(ls_index *ix)
{
	if (ix == NULL)
		return;
	for (uint32_t i = 0; i < ix->n; i++)
		seg_free(ix->segs[i]);
	free(ix->segs);
	free(ix->removed);
	free(ix);
}

static int
insert_seg(ls_index *ix, uint32_t at, seg *s)
{
	if (grow((void **)&ix->segs, &ix->cap, ix->n + 1, sizeof(seg *)) != 0)
		return LS_ENOMEM;
	memmove(ix->segs + at + 1, ix->segs + at,
	    (ix->n - at) * sizeof(seg *));
	ix->segs[at] = s;
	ix->n++;
	return 0;
}

static void
remove_seg(ls_index *ix, uint32_t at)
{
	memmove(ix->segs + at, ix->segs + at + 1,
	    (ix->n - at - 1) * sizeof(seg *));
	ix->n--;
}

static int
note_removed(ls_index *ix, uint64_t base)
{
	if (grow((void **)&ix->removed, &ix->rcap, ix->nremoved + 1,
	        sizeof(uint64_t)) != 0)
		return LS_ENOMEM;
	ix->removed[ix->nremoved++] = base;
	return 0;
}

int
ls_index_add(ls_index *ix, const ls_index_doc *d)
{
	if (d->nfields > LS_INDEX_MAX_FIELDS || d->text.len > VALUE_MAX_LEN ||
	    (ix->next_seq > 0 && d->key < ix->last_key))
		return LS_EINVAL;
	for (uint32_t i = 0; i < d->nfields; i++)
		if (d->fields[i].key.len > NAME_MAX_LEN ||
		    d->fields[i].val.len > VALUE_MAX_LEN)
			return LS_EINVAL;
	seg *s = ix->n > 0 ? ix->segs[ix->n - 1] : NULL;
	int fresh = 0;
	if (s == NULL || !s->open) {
		if ((s = seg_new(ix->next_seq)) == NULL)
			return LS_ENOMEM;
		s->open = 1;
		if (insert_seg(ix, ix->n, s) != 0) {
			seg_free(s);
			return LS_ENOMEM;
		}
		fresh = 1;
	}
	int rv = seg_add(s, d);
	if (rv != 0) {
		if (fresh) {
			remove_seg(ix, ix->n - 1);
			seg_free(s);
		}
		return rv;
	}
	ix->next_seq++;
	ix->last_key = d->key;
	return 0;
}

void
ls_index_get_info(const ls_index *ix, ls_index_info *out)
{
	memset(out, 0, sizeof(*out));
	out->max_time_ns = INT64_MIN;
	out->mem_bytes = sizeof(*ix) + (uint64_t)ix->cap * sizeof(seg *);
	for (uint32_t i = 0; i < ix->n; i++) {
		const seg *s = ix->segs[i];
		out->docs += s->ndocs;
		out->total_len += s->total_len;
		out->terms += s->nterms;
		out->postings += s->npostings;
		out->mem_bytes += seg_mem(s);
		if (s->ndocs > 0 && s->tmax > out->max_time_ns)
			out->max_time_ns = s->tmax;
	}
	out->segments = ix->n;
	out->next_seq = ix->next_seq;
}

uint64_t
ls_index_next_seq(const ls_index *ix)
{
	return ix->next_seq;
}

uint32_t
ls_index_nsegs(const ls_index *ix)
{
	return ix->n;
}

void
ls_index_seg(const ls_index *ix, uint32_t i, ls_index_seg_info *out)
{
	const seg *s = ix->segs[i];
	out->base = s->base;
	out->docs = s->ndocs;
	out->min_time_ns = s->tmin;
	out->max_time_ns = s->tmax;
	out->open = s->open;
	out->dirty = s->dirty;
}

void
ls_index_seal(ls_index *ix)
{
	if (ix->n > 0 && ix->segs[ix->n - 1]->open) {
		seg *s = ix->segs[ix->n - 1];
		s->open = 0;
		s->dirty = 1;
		seg_sealed(s);
	}
}

/* Append the postings of term t of segment x, its docids shifted by off,
 * to term k of m (whose documents, lengths included, are in place). */
static int
merge_term(seg *m, uint32_t k, const term *t, uint32_t off)
{
	term *mt = &m->terms[k];
	if (grow((void **)&mt->p, &mt->cap, mt->n + t->n, sizeof(posting)) !=
	        0 ||
	    grow((void **)&mt->pos, &mt->pcap, mt->npos + t->npos,
	        sizeof(uint32_t)) != 0 ||
	    grow((void **)&mt->blk, &mt->bcap,
	        (mt->n + t->n) / LS_INDEX_BLOCK + 1, sizeof(blkmeta)) != 0)
		return LS_ENOMEM;
	memcpy(mt->pos + mt->npos, t->pos, (size_t)t->npos * sizeof(uint32_t));
	for (uint32_t i = 0; i < t->n; i++) {
		posting *p = &mt->p[mt->n];
		p->doc = t->p[i].doc + off;
		p->tf = t->p[i].tf;
		p->poff = mt->npos + t->p[i].poff;
		blkmeta *bm = &mt->blk[mt->n / LS_INDEX_BLOCK];
		if (mt->n % LS_INDEX_BLOCK == 0) {
			bm->maxtf = 0;
			bm->mindl = UINT32_MAX;
		}
		uint32_t dl = m->docs[p->doc].dl;
		bm->last = p->doc;
		if (p->tf > bm->maxtf)
			bm->maxtf = p->tf;
		if (dl < bm->mindl)
			bm->mindl = dl;
		mt->n++;
	}
	mt->npos += t->npos;
	m->npostings += t->n;
	return 0;
}

/* A new segment holding a's documents followed by b's: the documents
 * and postings copied, b's docids after a's (no text is tokenized). */
static int
merge_two(const seg *a, const seg *b, seg **out)
{
	seg *m = seg_new(a->base);
	uint32_t nd = a->ndocs + b->ndocs;
	if (m == NULL ||
	    grow((void **)&m->docs, &m->dcap, nd, sizeof(sdoc)) != 0 ||
	    grow_bytes(&m->bytes, &m->bcap, a->nbytes + b->nbytes) != 0 ||
	    a->nbytes + b->nbytes > UINT32_MAX) {
		seg_free(m);
		return LS_ENOMEM;
	}
	memcpy(m->docs, a->docs, a->ndocs * sizeof(sdoc));
	memcpy(m->docs + a->ndocs, b->docs, b->ndocs * sizeof(sdoc));
	for (uint32_t i = a->ndocs; i < nd; i++)
		m->docs[i].off += (uint32_t)a->nbytes;
	m->ndocs = nd;
	memcpy(m->bytes, a->bytes, a->nbytes);
	memcpy(m->bytes + a->nbytes, b->bytes, b->nbytes);
	m->nbytes = a->nbytes + b->nbytes;
	m->total_len = a->total_len + b->total_len;
	m->tmin = a->tmin < b->tmin ? a->tmin : b->tmin;
	m->tmax = a->tmax > b->tmax ? a->tmax : b->tmax;
	const seg *pair[2] = { a, b };
	for (int x = 0; x < 2; x++) {
		uint32_t off = x == 0 ? 0 : a->ndocs;
		for (uint32_t i = 0; i < pair[x]->nterms; i++) {
			const term *t = &pair[x]->terms[i];
			uint32_t k = seg_term(m, term_str(pair[x], t), t->slen,
			    t->field);
			if (k == END || merge_term(m, k, t, off) != 0) {
				seg_free(m);
				return LS_ENOMEM;
			}
		}
	}
	m->dirty = 1;
	seg_sealed(m);
	*out = m;
	return 0;
}

int
ls_index_merge(ls_index *ix, uint32_t max_docs)
{
	int merges = 0;
	for (;;) {
		uint32_t n = ix->n;
		if (n > 0 && ix->segs[n - 1]->open)
			n--; /* the open segment stays out */
		if (n < 2)
			break;
		seg *a = ix->segs[n - 2], *b = ix->segs[n - 1];
		if ((uint64_t)a->ndocs > 2 * (uint64_t)b->ndocs ||
		    (uint64_t)a->ndocs + b->ndocs > max_docs)
			break;
		seg *m;
		int rv = merge_two(a, b, &m);
		if (rv == 0 && (rv = note_removed(ix, b->base)) != 0)
			seg_free(m);
		if (rv != 0)
			return -rv;
		ix->segs[n - 2] = m;
		remove_seg(ix, n - 1);
		seg_free(a);
		seg_free(b);
		merges++;
	}
	return merges;
}

uint32_t
ls_index_expire(ls_index *ix, int64_t cutoff_ns)
{
	uint32_t dropped = 0;
	for (uint32_t i = 0; i < ix->n;) {
		seg *s = ix->segs[i];
		if (!s->open && s->ndocs > 0 && s->tmax < cutoff_ns &&
		    note_removed(ix, s->base) == 0) {
			remove_seg(ix, i);
			seg_free(s);
			dropped++;
		} else {
			i++;
		}
	}
	return dropped;
}

int
ls_index_seg_encode(const ls_index *ix, uint32_t i, uint8_t **buf,
    size_t *len)
{
	if (i >= ix->n || ix->segs[i]->open)
		return LS_EINVAL;
	const seg *s = ix->segs[i];
	uint8_t *b = malloc(SEG_HDR + s->nbytes);
	if (b == NULL)
		return LS_ENOMEM;
	memcpy(b, SEG_MAGIC, 4);
	b[4] = SEG_VERSION;
	ls_le_put(b + 5, s->base, 8);
	ls_le_put(b + 13, s->ndocs, 4);
	if (s->nbytes > 0)
		memcpy(b + SEG_HDR, s->bytes, s->nbytes);
	*buf = b;
	*len = SEG_HDR + s->nbytes;
	return 0;
}

int
ls_index_seg_decode(ls_index *ix, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (len < SEG_HDR || memcmp(p, SEG_MAGIC, 4) != 0 ||
	    p[4] != SEG_VERSION)
		return LS_ECORRUPT;
	uint64_t base = ls_le_get(p + 5, 8);
	uint32_t n = (uint32_t)ls_le_get(p + 13, 4);
	if (n == 0 || n > (len - SEG_HDR) / 21 || base > UINT64_MAX - n)
		return LS_ECORRUPT;
	/* Its place: after every segment that ends at or before base. */
	uint32_t at = 0;
	while (at < ix->n && ix->segs[at]->base < base)
		at++;
	if ((at > 0 && ix->segs[at - 1]->base + ix->segs[at - 1]->ndocs >
	                   base) ||
	    (at < ix->n && ix->segs[at]->base < base + n))
		return LS_ECORRUPT;
	seg *s = seg_new(base);
	if (s == NULL)
		return LS_ENOMEM;
	size_t off = SEG_HDR;
	int rv = 0;
	uint64_t prev_key = 0;
	for (uint32_t i = 0; i < n && rv == 0; i++) {
		ls_index_doc d;
		ls_attr f[LS_INDEX_MAX_FIELDS];
		if ((rv = record_decode(p, len, &off, &d, f)) != 0)
			break;
		if (i > 0 && d.key < prev_key) {
			rv = LS_ECORRUPT;
			break;
		}
		prev_key = d.key;
		rv = seg_add(s, &d);
	}
	if (rv == 0 && off != len)
		rv = LS_ECORRUPT;
	if (rv == 0 && (rv = insert_seg(ix, at, s)) == 0) {
		seg_sealed(s);
		if (base + n > ix->next_seq) {
			ix->next_seq = base + n;
			ix->last_key = s->docs[n - 1].key;
		}
		return 0;
	}
	seg_free(s);
	return rv;
}

int
ls_index_changes(ls_index *ix, int all, ls_index_change_fn fn, void *arg)
{
	int rv;
	for (uint32_t i = 0; i < ix->nremoved; i++)
		if ((rv = fn(arg, ix->removed[i], NULL, 0)) != 0)
			return rv;
	for (uint32_t i = 0; i < ix->n; i++) {
		seg *s = ix->segs[i];
		if (s->open || (!all && !s->dirty))
			continue;
		uint8_t *buf;
		size_t len;
		if ((rv = ls_index_seg_encode(ix, i, &buf, &len)) != 0)
			return rv;
		rv = fn(arg, s->base, buf, len);
		free(buf);
		if (rv != 0)
			return rv;
	}
	for (uint32_t i = 0; i < ix->n; i++)
		if (!ix->segs[i]->open)
			ix->segs[i]->dirty = 0;
	ix->nremoved = 0;
	return 0;
}

/* --------------------------------------------------------------- queries */

enum { Q_TERM, Q_PHRASE, Q_FIELD, Q_PREFIX, Q_AND, Q_OR, Q_NOT, Q_ALL };

typedef struct qnode {
	uint8_t type;
	uint8_t field; /* Q_PREFIX: over name:value terms */
	uint32_t a, n; /* kids / words in q->list [a, a + n); strings: a */
	int32_t score; /* Q_TERM: scoring term index, -1 under a NOT */
} qnode;

struct ls_index_query {
	qnode nodes[LS_INDEX_MAX_NODES];
	uint32_t nnodes, root;
	uint32_t list[LS_INDEX_MAX_NODES * 2];
	uint32_t nlist;
	uint32_t words[LS_INDEX_QUERY_MAX]; /* phrase words: string offsets */
	int32_t wscore[LS_INDEX_QUERY_MAX];
	uint32_t nwords;
	char strs[LS_INDEX_QUERY_MAX * 3];
	uint32_t nstrs;
	uint32_t terms[LS_INDEX_MAX_TERMS]; /* scoring terms: string offsets */
	uint32_t nterms;
};

typedef struct parser {
	const char *s;
	size_t len, i;
	ls_index_query *q;
	char *err;
	size_t errlen, errpos;
	int depth;
} parser;

static int
perr(parser *p, size_t pos, const char *msg)
{
	if (p->err != NULL && p->errlen > 0)
		snprintf(p->err, p->errlen, "%s", msg);
	p->errpos = pos;
	return LS_EPARSE;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_delim(char c)
{
	return is_space(c) || c == '(' || c == ')' || c == '"';
}

static void
skip_space(parser *p)
{
	while (p->i < p->len && is_space(p->s[p->i]))
		p->i++;
}

static int
new_node(parser *p, size_t pos, uint8_t type, uint32_t *out)
{
	if (p->q->nnodes == LS_INDEX_MAX_NODES)
		return perr(p, pos, "query too complex: too many terms");
	qnode *n = &p->q->nodes[p->q->nnodes];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->score = -1;
	*out = p->q->nnodes++;
	return 0;
}

/* Store a lower-cased string; its offset. */
static uint32_t
add_str(ls_index_query *q, const char *s, size_t n)
{
	uint32_t off = q->nstrs;
	for (size_t i = 0; i < n; i++)
		q->strs[q->nstrs++] = lower(s[i]);
	q->strs[q->nstrs++] = 0;
	return off;
}

typedef struct wordlist {
	parser *p;
	uint32_t first, n;
	int whole;      /* a composite token is the whole text */
	size_t wholelen;
	int rv;
} wordlist;

static int
collect_word(void *arg, const ls_index_token *t, const char *lw)
{
	wordlist *w = arg;
	if (t->composite && t->len == w->wholelen && t->off == 0)
		w->whole = 1;
	if (t->composite)
		return 0;
	ls_index_query *q = w->p->q;
	q->words[q->nwords] = add_str(q, lw, t->len);
	q->wscore[q->nwords] = -1;
	q->nwords++;
	w->n++;
	return 0;
}

/* A word or phrase text: a term, or a phrase of its words. */
static int
text_node(parser *p, size_t pos, const char *s, size_t n, int quoted,
    uint32_t *out)
{
	ls_index_query *q = p->q;
	wordlist w = { p, q->nwords, 0, 0, n, 0 };
	uint32_t save_words = q->nwords, save_strs = q->nstrs;
	ls_index_tokenize(s, n, collect_word, &w);
	if (w.n == 0)
		return perr(p, pos, quoted ? "empty phrase"
		                           : "a word without searchable "
		                             "characters");
	int rv;
	if (!quoted && w.whole) {
		/* a composite token: one term */
		q->nwords = save_words;
		q->nstrs = save_strs;
		if ((rv = new_node(p, pos, Q_TERM, out)) != 0)
			return rv;
		q->nodes[*out].a = add_str(q, s, n);
		return 0;
	}
	if (w.n == 1) {
		if ((rv = new_node(p, pos, Q_TERM, out)) != 0)
			return rv;
		q->nodes[*out].a = q->words[w.first];
		q->nwords = save_words;
		return 0;
	}
	if ((rv = new_node(p, pos, Q_PHRASE, out)) != 0)
		return rv;
	q->nodes[*out].a = w.first;
	q->nodes[*out].n = w.n;
	return 0;
}

static int
field_node(parser *p, size_t pos, const char *name, size_t nl,
    const char *val, size_t vl, int prefix, uint32_t *out)
{
	ls_index_query *q = p->q;
	if (nl == 0)
		return perr(p, pos, "a field without a name");
	if (vl == 0 && !prefix)
		return perr(p, pos + nl + 1, "a field without a value");
	if (nl + vl + 1 > FIELD_TERM_MAX)
		return perr(p, pos, "field value too long");
	char buf[FIELD_TERM_MAX + 1];
	size_t n;
	if (prefix) {
		memcpy(buf, name, nl);
		buf[nl] = ':';
		memcpy(buf + nl + 1, val, vl);
		n = nl + 1 + vl;
	} else {
		field_term(buf, &n, ls_str_make(name, nl), ls_str_make(val, vl));
	}
	int rv = new_node(p, pos, prefix ? Q_PREFIX : Q_FIELD, out);
	if (rv != 0)
		return rv;
	q->nodes[*out].a = add_str(q, buf, n);
	q->nodes[*out].field = 1;
	return 0;
}

/* A quoted string starting at p->i (the quote): its content. */
static int
quoted(parser *p, const char **s, size_t *n)
{
	size_t start = p->i;
	p->i++;
	size_t b = p->i;
	while (p->i < p->len && p->s[p->i] != '"')
		p->i++;
	if (p->i == p->len)
		return perr(p, start, "unterminated phrase");
	*s = p->s + b;
	*n = p->i - b;
	p->i++;
	return 0;
}

static int parse_or(parser *p, uint32_t *out);

static int
word_is(const parser *p, size_t at, const char *kw)
{
	size_t n = strlen(kw);
	return p->len - at >= n && memcmp(p->s + at, kw, n) == 0 &&
	    (at + n == p->len || is_delim(p->s[at + n]));
}

static int
parse_unary(parser *p, uint32_t *out)
{
	skip_space(p);
	size_t pos = p->i;
	int rv;
	if (p->i == p->len)
		return perr(p, pos, "expected a term");
	char c = p->s[p->i];
	if (word_is(p, pos, "NOT") ||
	    (c == '-' && p->i + 1 < p->len && !is_space(p->s[p->i + 1]) &&
	        p->s[p->i + 1] != ')')) {
		p->i += c == '-' ? 1 : 3;
		if (++p->depth > MAX_DEPTH)
			return perr(p, pos, "query nested too deeply");
		uint32_t kid;
		if ((rv = parse_unary(p, &kid)) != 0)
			return rv;
		p->depth--;
		if ((rv = new_node(p, pos, Q_NOT, out)) != 0)
			return rv;
		p->q->nodes[*out].a = kid;
		return 0;
	}
	if (c == '(') {
		p->i++;
		if (++p->depth > MAX_DEPTH)
			return perr(p, pos, "query nested too deeply");
		if ((rv = parse_or(p, out)) != 0)
			return rv;
		p->depth--;
		skip_space(p);
		if (p->i == p->len || p->s[p->i] != ')')
			return perr(p, pos, "'(' without ')'");
		p->i++;
		return 0;
	}
	if (c == ')')
		return perr(p, pos, "expected a term before ')'");
	if (c == '"') {
		const char *s;
		size_t n;
		if ((rv = quoted(p, &s, &n)) != 0)
			return rv;
		return text_node(p, pos, s, n, 1, out);
	}
	if (word_is(p, pos, "AND") || word_is(p, pos, "OR"))
		return perr(p, pos, "expected a term before the operator");
	while (p->i < p->len && !is_delim(p->s[p->i]))
		p->i++;
	const char *w = p->s + pos;
	size_t wl = p->i - pos;
	const char *colon = memchr(w, ':', wl);
	if (colon != NULL) {
		size_t nl = (size_t)(colon - w);
		const char *v = colon + 1;
		size_t vl = wl - nl - 1;
		if (vl == 0 && p->i < p->len && p->s[p->i] == '"') {
			if ((rv = quoted(p, &v, &vl)) != 0)
				return rv;
			return field_node(p, pos, w, nl, v, vl, 0, out);
		}
		int prefix = vl > 0 && v[vl - 1] == '*';
		return field_node(p, pos, w, nl, v, vl - (size_t)prefix, prefix,
		    out);
	}
	if (wl == 1 && w[0] == '*')
		return new_node(p, pos, Q_ALL, out);
	if (w[wl - 1] == '*') {
		int any = 0;
		for (size_t k = 0; k + 1 < wl; k++)
			any |= is_word((unsigned char)w[k]);
		if (!any)
			return perr(p, pos, "a prefix without searchable "
			                    "characters");
		if (wl - 1 > LS_INDEX_TOKEN_MAX)
			return perr(p, pos, "prefix too long");
		if ((rv = new_node(p, pos, Q_PREFIX, out)) != 0)
			return rv;
		p->q->nodes[*out].a = add_str(p->q, w, wl - 1);
		return 0;
	}
	return text_node(p, pos, w, wl, 0, out);
}

/* kids [first, first + n) of a temporary list into a node of type. */
static int
group(parser *p, size_t pos, uint8_t type, const uint32_t *kids, uint32_t n,
    uint32_t *out)
{
	if (n == 1) {
		*out = kids[0];
		return 0;
	}
	ls_index_query *q = p->q;
	if (q->nlist + n > sizeof(q->list) / sizeof(q->list[0]))
		return perr(p, pos, "query too complex: too many terms");
	int rv = new_node(p, pos, type, out);
	if (rv != 0)
		return rv;
	q->nodes[*out].a = q->nlist;
	q->nodes[*out].n = n;
	memcpy(q->list + q->nlist, kids, n * sizeof(uint32_t));
	q->nlist += n;
	return 0;
}

static int
at_and_end(parser *p)
{
	skip_space(p);
	return p->i == p->len || p->s[p->i] == ')' || word_is(p, p->i, "OR");
}

/* Operands joined by OR, or at the AND level by AND or side by side. */
static int
parse_list(parser *p, int and_level, uint32_t *out)
{
	uint32_t kids[LS_INDEX_MAX_NODES];
	uint32_t n = 0;
	size_t pos = p->i;
	int rv;
	for (;;) {
		if (n == LS_INDEX_MAX_NODES)
			return perr(p, p->i, "query too complex: too many terms");
		rv = and_level ? parse_unary(p, &kids[n])
		               : parse_list(p, 1, &kids[n]);
		if (rv != 0)
			return rv;
		n++;
		skip_space(p);
		if (and_level) {
			if (at_and_end(p))
				break;
			if (!word_is(p, p->i, "AND"))
				continue; /* side by side */
			p->i += 3;
		} else {
			if (!word_is(p, p->i, "OR"))
				break;
			p->i += 2;
		}
		skip_space(p);
		if (p->i == p->len || p->s[p->i] == ')' ||
		    word_is(p, p->i, "OR") || word_is(p, p->i, "AND"))
			return perr(p, p->i, and_level
			        ? "expected a term after AND"
			        : "expected a term after OR");
	}
	return group(p, pos, and_level ? Q_AND : Q_OR, kids, n, out);
}

static int
parse_or(parser *p, uint32_t *out)
{
	return parse_list(p, 0, out);
}

/* The scoring term index of string offset s (added when new). */
static int
score_term(parser *p, uint32_t s, int32_t *out)
{
	ls_index_query *q = p->q;
	for (uint32_t i = 0; i < q->nterms; i++)
		if (strcmp(q->strs + q->terms[i], q->strs + s) == 0) {
			*out = (int32_t)i;
			return 0;
		}
	if (q->nterms == LS_INDEX_MAX_TERMS)
		return perr(p, 0, "too many distinct words in the query");
	q->terms[q->nterms] = s;
	*out = (int32_t)q->nterms++;
	return 0;
}

/* Number the scoring terms: words and phrase words not under a NOT. */
static int
mark_scoring(parser *p, uint32_t node, int neg)
{
	qnode *n = &p->q->nodes[node];
	int rv = 0;
	switch (n->type) {
	case Q_TERM:
		if (!neg)
			rv = score_term(p, n->a, &n->score);
		break;
	case Q_PHRASE:
		for (uint32_t i = 0; i < n->n && !neg && rv == 0; i++)
			rv = score_term(p, p->q->words[n->a + i],
			    &p->q->wscore[n->a + i]);
		break;
	case Q_AND:
	case Q_OR:
		for (uint32_t i = 0; i < n->n && rv == 0; i++)
			rv = mark_scoring(p, p->q->list[n->a + i], neg);
		break;
	case Q_NOT:
		rv = mark_scoring(p, n->a, 1);
		break;
	default:
		break;
	}
	return rv;
}

int
ls_index_query_parse(const char *s, size_t len, ls_index_query **out,
    char *err, size_t errlen, size_t *errpos)
{
	parser p = { s, len, 0, NULL, err, errlen, 0, 0 };
	size_t dummy;
	if (errpos == NULL)
		errpos = &dummy;
	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = 0;
	if (len > LS_INDEX_QUERY_MAX) {
		*errpos = LS_INDEX_QUERY_MAX;
		if (err != NULL)
			snprintf(err, errlen, "query longer than %d bytes",
			    LS_INDEX_QUERY_MAX);
		return LS_EPARSE;
	}
	skip_space(&p);
	if (p.i == len) {
		*errpos = len;
		if (err != NULL)
			snprintf(err, errlen, "empty query");
		return LS_EPARSE;
	}
	if ((p.q = calloc(1, sizeof(*p.q))) == NULL)
		return LS_ENOMEM;
	int rv = parse_or(&p, &p.q->root);
	if (rv == 0) {
		skip_space(&p);
		if (p.i < len)
			rv = perr(&p, p.i, p.s[p.i] == ')'
			        ? "')' without '('"
			        : "unexpected text");
	}
	if (rv == 0)
		rv = mark_scoring(&p, p.q->root, 0);
	if (rv != 0) {
		*errpos = p.errpos;
		free(p.q);
		return rv;
	}
	*out = p.q;
	return 0;
}

void
ls_index_query_free(ls_index_query *q)
{
	free(q);
}

uint32_t
ls_index_query_nterms(const ls_index_query *q)
{
	return q->nterms;
}

const char *
ls_index_query_term(const ls_index_query *q, uint32_t i)
{
	return q->strs + q->terms[i];
}

/* ----------------------------------------------------------------- stats */

void
ls_index_stats_init(ls_index_stats *st, const ls_index_query *q)
{
	memset(st, 0, sizeof(*st));
	st->nterms = q->nterms;
}

void
ls_index_stats_add(const ls_index *ix, const ls_index_query *q,
    ls_index_stats *st)
{
	for (uint32_t i = 0; i < ix->n; i++) {
		const seg *s = ix->segs[i];
		st->docs += s->ndocs;
		st->total_len += s->total_len;
		for (uint32_t j = 0; j < q->nterms && j < st->nterms; j++) {
			const char *t = q->strs + q->terms[j];
			uint32_t k = seg_find(s, t, strlen(t));
			if (k != END)
				st->df[j] += s->terms[k].n;
		}
	}
}

double
ls_index_bm25(const ls_index_stats *st, uint64_t df, uint32_t tf,
    uint32_t dl)
{
	if (st->docs == 0 || tf == 0)
		return 0.0;
	double n = (double)st->docs, d = (double)df;
	double idf = log(1.0 + (n - d + 0.5) / (d + 0.5));
	double avgdl = st->total_len > 0 ? (double)st->total_len / n : 1.0;
	double norm = LS_INDEX_K1 *
	    (1.0 - LS_INDEX_B + LS_INDEX_B * (double)dl / avgdl);
	return idf * (double)tf / ((double)tf + norm);
}

/* ---------------------------------------------------------------- search */

enum { I_TERM, I_EMPTY, I_ALL, I_AND, I_OR, I_NOT, I_PHRASE, I_BITS };

typedef struct iter {
	uint8_t type;
	const term *t; /* I_TERM */
	uint32_t i;    /* I_TERM: current posting */
	uint32_t ndocs;
	struct iter **kids;
	uint32_t nk, npos; /* I_AND: positive kids first, then negated */
	struct iter *neg;  /* I_NOT */
	uint64_t *bits;    /* I_BITS: the matching docids */
	uint32_t cur;      /* the answer to the last target */
	uint8_t have;
} iter;

static uint32_t
term_adv(iter *x, uint32_t target)
{
	const term *t = x->t;
	if (x->i >= t->n)
		return END;
	if (t->p[x->i].doc >= target)
		return t->p[x->i].doc;
	uint32_t b = x->i / LS_INDEX_BLOCK;
	uint32_t nb = (t->n + LS_INDEX_BLOCK - 1) / LS_INDEX_BLOCK;
	while (b < nb && t->blk[b].last < target)
		b++;
	if (b == nb) {
		x->i = t->n;
		return END;
	}
	uint32_t lo = b * LS_INDEX_BLOCK > x->i ? b * LS_INDEX_BLOCK : x->i;
	uint32_t hi = (b + 1) * LS_INDEX_BLOCK;
	if (hi > t->n)
		hi = t->n;
	while (lo < hi) { /* first posting >= target in [lo, hi) */
		uint32_t mid = lo + (hi - lo) / 2;
		if (t->p[mid].doc < target)
			lo = mid + 1;
		else
			hi = mid;
	}
	x->i = lo;
	return t->p[lo].doc;
}

static uint32_t it_adv(iter *x, uint32_t target);

static uint32_t
and_adv(iter *x, uint32_t d)
{
	if (x->npos == 0 && d >= x->ndocs)
		return END;
again:
	for (uint32_t k = 0; k < x->npos; k++) {
		uint32_t c = it_adv(x->kids[k], d);
		if (c == END)
			return END;
		if (c > d) {
			d = c;
			goto again;
		}
	}
	for (uint32_t k = x->npos; k < x->nk; k++)
		if (it_adv(x->kids[k], d) == d) {
			if (++d >= x->ndocs)
				return END;
			goto again;
		}
	return d;
}

static int
has_pos(const term *t, uint32_t i, uint32_t want)
{
	const uint32_t *p = t->pos + t->p[i].poff;
	for (uint32_t k = 0; k < t->p[i].tf; k++)
		if (p[k] == want)
			return 1;
	return 0;
}

static uint32_t
phrase_adv(iter *x, uint32_t d)
{
	for (;;) {
		d = and_adv(x, d);
		if (d == END)
			return END;
		const term *t0 = x->kids[0]->t;
		uint32_t i0 = x->kids[0]->i;
		const uint32_t *p0 = t0->pos + t0->p[i0].poff;
		for (uint32_t k = 0; k < t0->p[i0].tf; k++) {
			uint32_t j = 1;
			while (j < x->nk &&
			    has_pos(x->kids[j]->t, x->kids[j]->i, p0[k] + j))
				j++;
			if (j == x->nk)
				return d;
		}
		d++;
	}
}

static uint32_t
it_step(iter *x, uint32_t target)
{
	switch (x->type) {
	case I_TERM:
		return term_adv(x, target);
	case I_ALL:
		return target < x->ndocs ? target : END;
	case I_AND:
		return and_adv(x, target);
	case I_PHRASE:
		return phrase_adv(x, target);
	case I_OR: {
		uint32_t m = END;
		for (uint32_t k = 0; k < x->nk; k++) {
			uint32_t c = it_adv(x->kids[k], target);
			if (c < m)
				m = c;
		}
		return m;
	}
	case I_NOT:
		while (target < x->ndocs && it_adv(x->neg, target) == target)
			target++;
		return target < x->ndocs ? target : END;
	case I_BITS: {
		if (target >= x->ndocs)
			return END;
		uint32_t w = target / 64;
		uint64_t v = x->bits[w] & (~UINT64_C(0) << (target % 64));
		uint32_t nw = (x->ndocs + 63) / 64;
		while (v == 0) {
			if (++w == nw)
				return END;
			v = x->bits[w];
		}
		return w * 64 + (uint32_t)__builtin_ctzll(v);
	}
	default:
		return END;
	}
}

/* The first match >= target.  Targets never decrease, and an answer stays
 * valid for every target up to it: so a NOT, which asks its operand about
 * every document in turn, never sends an operand back. */
static uint32_t
it_adv(iter *x, uint32_t target)
{
	if (x->have && target <= x->cur)
		return x->cur;
	x->cur = it_step(x, target);
	x->have = 1;
	return x->cur;
}

typedef struct build {
	const seg *s;
	const ls_index_query *q;
	ls_arena *a;
} build;

static iter *
it_new(build *b, uint8_t type, uint32_t nk)
{
	iter *x = ls_arena_alloc(b->a, sizeof(*x));
	if (x == NULL)
		return NULL;
	memset(x, 0, sizeof(*x));
	x->type = type;
	x->ndocs = b->s->ndocs;
	if (nk > 0 &&
	    (x->kids = ls_arena_alloc(b->a, nk * sizeof(iter *))) == NULL)
		return NULL;
	return x;
}

static iter *
term_it(build *b, const char *str)
{
	uint32_t k = seg_find(b->s, str, strlen(str));
	iter *x = it_new(b, k == END ? I_EMPTY : I_TERM, 0);
	if (x != NULL && k != END)
		x->t = &b->s->terms[k];
	return x;
}

static int
prefix_match(const seg *s, const term *t, const char *pre, size_t pl,
    int field)
{
	return t->field == field && t->slen >= pl &&
	    memcmp(term_str(s, t), pre, pl) == 0;
}

/* The terms of s that start with pre: their indices into *ids (arena),
 * their number returned; through the sorted list when there is one. */
static uint32_t
prefix_terms(build *b, const char *pre, size_t pl, int field, uint32_t **ids)
{
	const seg *s = b->s;
	uint32_t lo = 0, hi = s->nterms, n = 0;
	if (s->sorted != NULL) {
		while (lo < hi) { /* the first term >= pre */
			uint32_t mid = lo + (hi - lo) / 2;
			const term *t = &s->terms[s->sorted[mid]];
			sortent a = { term_str(s, t), t->slen, 0 };
			sortent p = { pre, (uint32_t)pl, 0 };
			if (sortent_cmp(&a, &p) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		hi = lo; /* the terms that start with pre follow each other */
		while (hi < s->nterms &&
		    prefix_match(s, &s->terms[s->sorted[hi]], pre, pl,
		        s->terms[s->sorted[hi]].field))
			hi++;
	}
	uint32_t cap = s->sorted != NULL ? hi - lo : s->nterms;
	if ((*ids = ls_arena_alloc(b->a, (cap ? cap : 1) * sizeof(uint32_t))) ==
	    NULL)
		return END;
	for (uint32_t i = 0; i < cap; i++) {
		uint32_t k = s->sorted != NULL ? s->sorted[lo + i] : i;
		if (prefix_match(s, &s->terms[k], pre, pl, field))
			(*ids)[n++] = k;
	}
	return n;
}

/* A prefix: an OR of its few terms, or the set of their documents. */
static iter *
prefix_it(build *b, const char *pre, int field)
{
	uint32_t *ids;
	uint32_t cnt = prefix_terms(b, pre, strlen(pre), field, &ids);
	if (cnt == END)
		return NULL;
	if (cnt <= 8) {
		iter *x = it_new(b, cnt ? I_OR : I_EMPTY, cnt);
		for (uint32_t i = 0; x != NULL && i < cnt; i++) {
			iter *t = it_new(b, I_TERM, 0);
			if (t == NULL)
				return NULL;
			t->t = &b->s->terms[ids[i]];
			x->kids[x->nk++] = t;
		}
		return x;
	}
	iter *x = it_new(b, I_BITS, 0);
	size_t nw = (b->s->ndocs + 63) / 64;
	if (x == NULL || (x->bits = ls_arena_alloc(b->a, nw * 8)) == NULL)
		return NULL;
	memset(x->bits, 0, nw * 8);
	for (uint32_t i = 0; i < cnt; i++) {
		const term *t = &b->s->terms[ids[i]];
		for (uint32_t j = 0; j < t->n; j++)
			x->bits[t->p[j].doc / 64] |= UINT64_C(1) << (t->p[j].doc % 64);
	}
	return x;
}

static iter *
build_it(build *b, uint32_t node)
{
	const qnode *n = &b->q->nodes[node];
	const ls_index_query *q = b->q;
	iter *x;
	switch (n->type) {
	case Q_TERM:
	case Q_FIELD:
		return term_it(b, q->strs + n->a);
	case Q_ALL:
		return it_new(b, I_ALL, 0);
	case Q_PHRASE:
		if ((x = it_new(b, I_PHRASE, n->n)) == NULL)
			return NULL;
		for (uint32_t i = 0; i < n->n; i++) {
			iter *k = term_it(b, q->strs + q->words[n->a + i]);
			if (k == NULL)
				return NULL;
			if (k->type == I_EMPTY)
				return k;
			x->kids[x->nk++] = k;
		}
		x->npos = x->nk;
		return x;
	case Q_PREFIX:
		return prefix_it(b, q->strs + n->a, n->field);
	case Q_NOT:
		if ((x = it_new(b, I_NOT, 0)) == NULL ||
		    (x->neg = build_it(b, n->a)) == NULL)
			return NULL;
		return x;
	case Q_OR:
		if ((x = it_new(b, I_OR, n->n)) == NULL)
			return NULL;
		for (uint32_t i = 0; i < n->n; i++) {
			iter *k = build_it(b, q->list[n->a + i]);
			if (k == NULL)
				return NULL;
			if (k->type != I_EMPTY)
				x->kids[x->nk++] = k;
		}
		if (x->nk == 0)
			x->type = I_EMPTY;
		return x;
	case Q_AND: {
		if ((x = it_new(b, I_AND, n->n)) == NULL)
			return NULL;
		/* positive kids first, then the negated ones as filters */
		for (int pass = 0; pass < 2; pass++)
			for (uint32_t i = 0; i < n->n; i++) {
				uint32_t kn = q->list[n->a + i];
				int isnot = q->nodes[kn].type == Q_NOT;
				if (isnot != pass)
					continue;
				iter *k = build_it(b, pass ? q->nodes[kn].a : kn);
				if (k == NULL)
					return NULL;
				if (k->type == I_EMPTY) {
					if (!pass)
						return k; /* nothing matches */
					continue; /* excludes nothing */
				}
				x->kids[x->nk++] = k;
				if (!pass)
					x->npos++;
			}
		return x;
	}
	default:
		return it_new(b, I_EMPTY, 0);
	}
}

typedef struct cand {
	double score;
	uint64_t key, seq;
	const seg *s;
	uint32_t doc;
} cand;

/* a ranks before b */
static int
better(const cand *a, const cand *b)
{
	if (a->score != b->score)
		return a->score > b->score;
	if (a->key != b->key)
		return a->key < b->key;
	return a->seq < b->seq;
}

typedef struct heap {
	cand *c;
	uint32_t n, k;
} heap;

/* Min-heap on rank: the worst of the k at c[0]. */
static void
heap_push(heap *h, const cand *x)
{
	if (h->n < h->k) {
		uint32_t i = h->n++;
		while (i > 0) {
			uint32_t up = (i - 1) / 2;
			if (!better(&h->c[up], x))
				break;
			h->c[i] = h->c[up];
			i = up;
		}
		h->c[i] = *x;
		return;
	}
	if (!better(x, &h->c[0]))
		return;
	uint32_t i = 0;
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, w = i;
		const cand *wc = x;
		if (l < h->n && better(wc, &h->c[l])) {
			w = l;
			wc = &h->c[l];
		}
		if (r < h->n && better(wc, &h->c[r])) {
			w = r;
			wc = &h->c[r];
		}
		if (w == i)
			break;
		h->c[i] = h->c[w];
		i = w;
	}
	h->c[i] = *x;
}

static int
search_seg(const seg *s, const ls_index_query *q, const ls_index_stats *st,
    int64_t from, int64_t to, heap *h, ls_index_search_info *info)
{
	if (s->ndocs == 0 || s->tmax < from || s->tmin >= to)
		return 0;
	ls_arena a;
	ls_arena_init(&a, 4096);
	build b = { s, q, &a };
	iter *root = build_it(&b, q->root);
	iter *sc[LS_INDEX_MAX_TERMS] = { 0 };
	int rv = root == NULL ? LS_ENOMEM : 0;
	for (uint32_t j = 0; j < q->nterms && rv == 0; j++) {
		if ((sc[j] = term_it(&b, q->strs + q->terms[j])) == NULL)
			rv = LS_ENOMEM;
		else if (sc[j]->type == I_EMPTY)
			sc[j] = NULL;
	}
	uint32_t d = 0;
	while (rv == 0 && root->type != I_EMPTY &&
	    (d = it_adv(root, d)) != END) {
		const sdoc *sd = &s->docs[d];
		if (sd->time < from || sd->time >= to) {
			d++;
			continue;
		}
		if (h->n == h->k) {
			double bound = 0;
			uint32_t end = END;
			for (uint32_t j = 0; j < q->nterms; j++) {
				if (sc[j] == NULL)
					continue;
				uint32_t c = term_adv(sc[j], d);
				if (c == END)
					continue;
				if (c > d) {
					if (c < end)
						end = c;
					continue;
				}
				const term *t = sc[j]->t;
				const blkmeta *bm = &t->blk[sc[j]->i / LS_INDEX_BLOCK];
				/* the same sum as a score, with each term at
				 * its largest: never below a score of the
				 * range (BM25 grows with tf, falls with dl) */
				bound += ls_index_bm25(st, st->df[j], bm->maxtf,
				    bm->mindl);
				if (bm->last + 1 < end)
					end = bm->last + 1;
			}
			if (bound <= h->c[0].score) {
				info->skipped_ranges++;
				if (end == END)
					break;
				d = end > d ? end : d + 1;
				continue;
			}
		}
		cand c = { 0, sd->key, s->base + d, s, d };
		for (uint32_t j = 0; j < q->nterms; j++) {
			if (sc[j] == NULL || term_adv(sc[j], d) != d)
				continue;
			c.score += ls_index_bm25(st, st->df[j],
			    sc[j]->t->p[sc[j]->i].tf, sd->dl);
		}
		info->scored++;
		heap_push(h, &c);
		d++;
	}
	ls_arena_fini(&a);
	return rv;
}

int
ls_index_hit_cmp(const ls_index_hit *a, const ls_index_hit *b)
{
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return 0;
}

static int
cand_cmp(const void *x, const void *y)
{
	const cand *a = x, *b = y;
	return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

int
ls_index_search(const ls_index *ix, const ls_index_query *q,
    const ls_index_stats *st, int64_t from_ns, int64_t to_ns, uint32_t k,
    ls_index_hit *hits, uint32_t *nhits, ls_index_search_info *info)
{
	ls_index_search_info dummy;
	*nhits = 0;
	if (info == NULL)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	if (k > LS_INDEX_MAX_K || st->nterms != q->nterms)
		return LS_EINVAL;
	if (k == 0)
		return 0;
	heap h = { malloc(k * sizeof(cand)), 0, k };
	if (h.c == NULL)
		return LS_ENOMEM;
	int rv = 0;
	for (uint32_t i = 0; i < ix->n && rv == 0; i++)
		rv = search_seg(ix->segs[i], q, st, from_ns, to_ns, &h, info);
	if (rv == 0) {
		qsort(h.c, h.n, sizeof(cand), cand_cmp);
		for (uint32_t i = 0; i < h.n; i++) {
			ls_index_hit *o = &hits[i];
			ls_index_doc d;
			seg_doc(h.c[i].s, h.c[i].doc, &d, o->fields);
			o->score = h.c[i].score;
			o->key = d.key;
			o->time_ns = d.time_ns;
			o->text = d.text;
			o->nfields = d.nfields;
		}
		*nhits = h.n;
	}
	free(h.c);
	return rv;
}

/* ------------------------------------------------------------ highlights */

typedef struct hl {
	const ls_index_query *q;
	ls_index_span *spans;
	uint32_t n, max;
} hl;

static int
positive(const ls_index_query *q, uint32_t node, const char *tok,
    size_t len)
{
	const qnode *n = &q->nodes[node];
	switch (n->type) {
	case Q_TERM:
		return strlen(q->strs + n->a) == len &&
		    memcmp(q->strs + n->a, tok, len) == 0;
	case Q_PHRASE:
		for (uint32_t i = 0; i < n->n; i++) {
			const char *w = q->strs + q->words[n->a + i];
			if (strlen(w) == len && memcmp(w, tok, len) == 0)
				return 1;
		}
		return 0;
	case Q_PREFIX: {
		size_t pl = strlen(q->strs + n->a);
		return !n->field && len >= pl &&
		    memcmp(q->strs + n->a, tok, pl) == 0;
	}
	case Q_AND:
	case Q_OR:
		for (uint32_t i = 0; i < n->n; i++)
			if (positive(q, q->list[n->a + i], tok, len))
				return 1;
		return 0;
	default:
		return 0;
	}
}

static int
hl_token(void *arg, const ls_index_token *t, const char *lw)
{
	hl *h = arg;
	if (positive(h->q, h->q->root, lw, t->len)) {
		if (h->n < h->max) {
			h->spans[h->n].off = t->off;
			h->spans[h->n].len = t->len;
		}
		h->n++;
	}
	return 0;
}

static int
span_cmp(const void *x, const void *y)
{
	const ls_index_span *a = x, *b = y;
	if (a->off != b->off)
		return a->off < b->off ? -1 : 1;
	return a->len < b->len ? -1 : a->len > b->len;
}

uint32_t
ls_index_highlight(const ls_index_query *q, const char *text, size_t len,
    ls_index_span *spans, uint32_t max)
{
	hl h = { q, spans, 0, max };
	ls_index_tokenize(text, len, hl_token, &h);
	qsort(spans, h.n < max ? h.n : max, sizeof(*spans), span_cmp);
	return h.n;
}
