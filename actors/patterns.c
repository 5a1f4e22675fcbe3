/*
 * patterns.c -- the online template miner (actors/patterns.h,
 * docs/patterns.md).
 *
 * Templates live in a slot array, each slot one allocation holding its
 * token hashes, token offsets and text.  Three indexes point at slots:
 * the leaf table (open addressing, linear probing with backward-shift
 * deletion: key = leaf key, value = the first slot of the leaf's list),
 * the direct-mapped cache (hash of a masked token sequence -> the slot and
 * id of the template it matched last time) and the LRU list (least
 * recently used first) that picks the template to forget when the miner
 * is full.  Token hashes stand for tokens everywhere: two tokens are the
 * same when their XXH3-64 hashes are.
 */
#include "actors/patterns.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/hash.h"
#include "runtime/le.h"

#define NONE UINT32_MAX
#define WILD_LEN 3
#define REC_VERSION 1
#define SNAP_MAGIC "LSPT"
#define CACHE_MIN 1024u
#define CACHE_MAX 16384u
/* Longest template text a record may hold: every token of the longest
 * message turned into a wildcard. */
#define TEXT_MAX (LS_PATTERNS_MAX_BYTES * WILD_LEN)

typedef struct tmpl {
	uint64_t id, count, seen, leaf;
	uint64_t *th;   /* ntok token hashes (wild: the wildcard's) */
	uint32_t *off;  /* ntok + 1: token i is text[off[i], off[i+1] - 1) */
	char *text;     /* NUL-terminated; th and off share its allocation */
	uint32_t ntok, len;
	uint32_t prev, next; /* LRU list */
	uint32_t lnext;      /* leaf list; free list when not live */
	uint8_t live, dirty;
} tmpl;

typedef struct leaf {
	uint64_t key;
	uint32_t head; /* NONE: empty table entry */
} leaf;

typedef struct centry {
	uint64_t h, id;
	uint32_t slot;
} centry;

struct ls_patterns {
	ls_patterns_cfg cfg;
	uint64_t wild; /* hash of the wildcard */
	tmpl *t;
	uint32_t nt, cap;  /* slots used, allocated */
	uint32_t free_slot;
	uint32_t live;
	uint32_t lru_head, lru_tail;
	uint64_t seq;
	leaf *lt;
	uint32_t lcap, nleaves; /* lcap a power of two */
	centry *cache;
	uint32_t cmask;
	uint32_t *dirty;
	uint32_t ndirty, capdirty;
	uint64_t *gone;
	uint32_t ngone, capgone;
	/* the message being added */
	uint32_t ntok;
	const char *tp[LS_PATTERNS_MAX_TOKENS];
	uint32_t tl[LS_PATTERNS_MAX_TOKENS];
	uint64_t th[LS_PATTERNS_MAX_TOKENS];
	ls_str params[LS_PATTERNS_MAX_TOKENS];
};

void
ls_patterns_cfg_default(ls_patterns_cfg *cfg)
{
	cfg->max_templates = 10000;
	cfg->depth = 4;
	cfg->similarity = 0.7;
}

static int
grow(void *pp, uint32_t *cap, size_t elem, uint32_t need)
{
	if (need <= *cap)
		return 0;
	uint32_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	void *n = realloc(*(void **)pp, (size_t)nc * elem);
	if (n == NULL)
		return LS_ENOMEM;
	*(void **)pp = n;
	*cap = nc;
	return 0;
}

/* ---- tokens ---- */

/* Token separators: white space, and NUL (so that a template's text,
 * tokens joined by spaces, never holds one). */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\0';
}

/* Month and weekday names, as dates write them. */
static int
is_date_word(const char *s, uint32_t n)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec"
	                            "MonTueWedThuFriSatSun";
	if (n != 3)
		return 0;
	for (size_t i = 0; i + 3 <= sizeof(names) - 1; i += 3)
		if (memcmp(s, names + i, 3) == 0)
			return 1;
	return 0;
}

/* A token that holds a digit, a path with two slashes, or a month or
 * weekday name is a variable. */
static int
is_variable(const char *s, uint32_t n)
{
	uint32_t slashes = 0;
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= '0' && c <= '9')
			return 1;
		slashes += c == '/';
	}
	return slashes >= 2 || is_date_word(s, n);
}

static uint64_t
token_hash(const ls_patterns *p, const char *s, uint32_t n)
{
	if (n == WILD_LEN && memcmp(s, LS_PATTERNS_WILDCARD, WILD_LEN) == 0)
		return p->wild;
	return ls_hash64(s, n, 0);
}

static void
tokenize(ls_patterns *p, const char *msg, size_t len)
{
	if (len > LS_PATTERNS_MAX_BYTES)
		len = LS_PATTERNS_MAX_BYTES;
	uint32_t n = 0;
	size_t i = 0;
	while (n < LS_PATTERNS_MAX_TOKENS) {
		while (i < len && is_blank(msg[i]))
			i++;
		if (i == len)
			break;
		size_t s = i;
		while (i < len && !is_blank(msg[i]))
			i++;
		uint32_t tl = (uint32_t)(i - s);
		p->tp[n] = msg + s;
		p->tl[n] = tl;
		p->th[n] = is_variable(msg + s, tl) ? p->wild
		                                   : token_hash(p, msg + s, tl);
		n++;
	}
	p->ntok = n;
}

static uint64_t
leaf_key(const ls_patterns *p, const uint64_t *th, uint32_t ntok)
{
	uint32_t d = p->cfg.depth - 2;
	if (d > ntok)
		d = ntok;
	return ls_hash64(th, (size_t)d * sizeof(*th), ntok);
}

/* ---- the leaf table ---- */

/* The table entry of key, or NONE. */
static uint32_t
leaf_index(const ls_patterns *p, uint64_t key)
{
	if (p->lcap == 0)
		return NONE;
	uint32_t mask = p->lcap - 1;
	for (uint32_t i = (uint32_t)key & mask;; i = (i + 1) & mask) {
		if (p->lt[i].head == NONE)
			return NONE;
		if (p->lt[i].key == key)
			return i;
	}
}

static uint32_t *
leaf_find(ls_patterns *p, uint64_t key)
{
	uint32_t i = leaf_index(p, key);
	return i != NONE ? &p->lt[i].head : NULL;
}

static int
leaf_rehash(ls_patterns *p, uint32_t ncap)
{
	leaf *n = malloc((size_t)ncap * sizeof(*n));
	if (n == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < ncap; i++)
		n[i].head = NONE;
	for (uint32_t i = 0; i < p->lcap; i++) {
		if (p->lt[i].head == NONE)
			continue;
		uint32_t j = (uint32_t)p->lt[i].key & (ncap - 1);
		while (n[j].head != NONE)
			j = (j + 1) & (ncap - 1);
		n[j] = p->lt[i];
	}
	free(p->lt);
	p->lt = n;
	p->lcap = ncap;
	return 0;
}

/* The head of key's leaf, inserted empty (NONE would mark a free entry,
 * so the caller stores a slot at once). */
static int
leaf_insert(ls_patterns *p, uint64_t key, uint32_t slot)
{
	uint32_t *h = leaf_find(p, key);
	if (h != NULL) {
		p->t[slot].lnext = *h;
		*h = slot;
		return 0;
	}
	if ((p->nleaves + 1) * 2 > p->lcap) {
		int rv = leaf_rehash(p, p->lcap ? p->lcap * 2 : 64);
		if (rv != 0)
			return rv;
	}
	uint32_t mask = p->lcap - 1;
	uint32_t i = (uint32_t)key & mask;
	while (p->lt[i].head != NONE)
		i = (i + 1) & mask;
	p->lt[i].key = key;
	p->lt[i].head = slot;
	p->t[slot].lnext = NONE;
	p->nleaves++;
	return 0;
}

static void
leaf_remove(ls_patterns *p, uint64_t key, uint32_t slot)
{
	uint32_t i = leaf_index(p, key);
	if (i == NONE)
		return;
	uint32_t *h = &p->lt[i].head;
	while (*h != NONE && *h != slot)
		h = &p->t[*h].lnext;
	if (*h == slot)
		*h = p->t[slot].lnext;
	if (p->lt[i].head != NONE)
		return;
	/* The leaf is empty: delete its entry, shifting back the entries
	 * after it that probed past it. */
	uint32_t mask = p->lcap - 1;
	for (uint32_t j = i;;) {
		j = (j + 1) & mask;
		if (p->lt[j].head == NONE)
			break;
		uint32_t home = (uint32_t)p->lt[j].key & mask;
		/* Entry j may move to i when i lies cyclically in [home, j). */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			p->lt[i] = p->lt[j];
			i = j;
		}
	}
	p->lt[i].head = NONE;
	p->nleaves--;
}

/* ---- templates ---- */

static void
lru_unlink(ls_patterns *p, uint32_t s)
{
	tmpl *t = &p->t[s];
	if (t->prev != NONE)
		p->t[t->prev].next = t->next;
	else
		p->lru_head = t->next;
	if (t->next != NONE)
		p->t[t->next].prev = t->prev;
	else
		p->lru_tail = t->prev;
}

static void
lru_append(ls_patterns *p, uint32_t s)
{
	tmpl *t = &p->t[s];
	t->prev = p->lru_tail;
	t->next = NONE;
	if (p->lru_tail != NONE)
		p->t[p->lru_tail].next = s;
	else
		p->lru_head = s;
	p->lru_tail = s;
}

static int
mark_dirty(ls_patterns *p, uint32_t s)
{
	if (p->t[s].dirty)
		return 0;
	if (grow(&p->dirty, &p->capdirty, sizeof(*p->dirty), p->ndirty + 1))
		return LS_ENOMEM;
	p->dirty[p->ndirty++] = s;
	p->t[s].dirty = 1; /* stays with the slot until the next sync */
	return 0;
}

/* Give template t the tokens given (ptr NULL: the wildcard): a new
 * allocation for its hashes, offsets and text. */
static int
tmpl_set(ls_patterns *p, tmpl *t, uint32_t ntok, const char *const *tp,
    const uint32_t *tl, const uint64_t *th)
{
	size_t len = 0;
	for (uint32_t i = 0; i < ntok; i++)
		len += (th[i] == p->wild ? WILD_LEN : tl[i]) + 1;
	size_t hsz = (size_t)ntok * sizeof(uint64_t);
	size_t osz = ((size_t)ntok + 1) * sizeof(uint32_t);
	char *mem = malloc(hsz + osz + len + 1);
	if (mem == NULL)
		return LS_ENOMEM;
	uint64_t *nth = (uint64_t *)mem;
	uint32_t *off = (uint32_t *)(mem + hsz);
	char *text = mem + hsz + osz;
	uint32_t at = 0;
	for (uint32_t i = 0; i < ntok; i++) {
		off[i] = at;
		nth[i] = th[i];
		if (th[i] == p->wild) {
			memcpy(text + at, LS_PATTERNS_WILDCARD, WILD_LEN);
			at += WILD_LEN;
		} else {
			memcpy(text + at, tp[i], tl[i]);
			at += tl[i];
		}
		text[at++] = ' ';
	}
	off[ntok] = at;
	text[at > 0 ? at - 1 : 0] = '\0';
	free(t->th);
	t->th = nth;
	t->off = off;
	t->text = text;
	t->ntok = ntok;
	t->len = at > 0 ? at - 1 : 0;
	return 0;
}

static void
slot_free(ls_patterns *p, uint32_t s)
{
	tmpl *t = &p->t[s];
	free(t->th);
	t->th = NULL;
	t->off = NULL;
	t->text = NULL;
	t->live = 0;
	t->lnext = p->free_slot;
	p->free_slot = s;
	p->live--;
}

/* Forget the least recently used template. */
static int
evict(ls_patterns *p)
{
	uint32_t s = p->lru_head;
	if (grow(&p->gone, &p->capgone, sizeof(*p->gone), p->ngone + 1))
		return LS_ENOMEM;
	p->gone[p->ngone++] = p->t[s].id;
	leaf_remove(p, p->t[s].leaf, s);
	lru_unlink(p, s);
	slot_free(p, s);
	return 0;
}

/* A free slot, forgetting a template when the miner is full. */
static int
slot_take(ls_patterns *p, uint32_t *out)
{
	int rv;
	if (p->live >= p->cfg.max_templates && (rv = evict(p)) != 0)
		return rv;
	if (p->free_slot == NONE) {
		if ((rv = grow(&p->t, &p->cap, sizeof(*p->t), p->nt + 1)) != 0)
			return rv;
		memset(&p->t[p->nt], 0, sizeof(p->t[p->nt]));
		p->t[p->nt].lnext = p->free_slot;
		p->free_slot = p->nt++;
	}
	*out = p->free_slot;
	return 0;
}

/* Make slot s (from slot_take) a live template with the tokens given. */
static int
tmpl_create(ls_patterns *p, uint32_t s, uint32_t ntok, const char *const *tp,
    const uint32_t *tl, const uint64_t *th, uint64_t leafk)
{
	tmpl *t = &p->t[s];
	int rv = tmpl_set(p, t, ntok, tp, tl, th);
	if (rv != 0)
		return rv;
	p->free_slot = t->lnext;
	if ((rv = leaf_insert(p, leafk, s)) != 0) {
		free(t->th);
		t->th = NULL;
		t->lnext = p->free_slot;
		p->free_slot = s;
		return rv;
	}
	t->leaf = leafk;
	t->live = 1;
	t->count = 0;
	p->live++;
	lru_append(p, s);
	return 0;
}

/* Every literal token of t is the message's. */
static int
matches(const ls_patterns *p, const tmpl *t)
{
	if (t->ntok != p->ntok)
		return 0;
	for (uint32_t i = 0; i < t->ntok; i++)
		if (t->th[i] != p->wild && t->th[i] != p->th[i])
			return 0;
	return 1;
}

/* The template of the message's leaf it is most similar to, if at or
 * above the threshold.  Similarity: the share of the template's tokens
 * the message repeats literally, not counting the places where both have
 * a variable; ties go to the template with more wildcards. */
static uint32_t
best_in_leaf(const ls_patterns *p, uint32_t head)
{
	uint32_t best = NONE, best_eq = 0, best_n = 1, best_wild = 0;
	for (uint32_t s = head; s != NONE; s = p->t[s].lnext) {
		const tmpl *t = &p->t[s];
		if (t->ntok != p->ntok)
			continue; /* a leaf key collision */
		uint32_t eq = 0, wild = 0, both = 0;
		for (uint32_t i = 0; i < t->ntok; i++) {
			if (t->th[i] == p->wild) {
				wild++;
				both += p->th[i] == p->wild;
			} else if (t->th[i] == p->th[i]) {
				eq++;
			}
		}
		uint32_t n = t->ntok - both;
		/* eq / n > best_eq / best_n, without dividing */
		uint64_t l = (uint64_t)eq * best_n, r = (uint64_t)best_eq * n;
		if (best == NONE || l > r || (l == r && wild > best_wild)) {
			best = s;
			best_eq = eq;
			best_n = n;
			best_wild = wild;
		}
	}
	if (best == NONE || (best_n > 0 &&
	    (double)best_eq < p->cfg.similarity * (double)best_n))
		return NONE;
	return best;
}

/* The message's tokens that t does not repeat become wildcards. */
static int
generalise(ls_patterns *p, uint32_t s)
{
	tmpl *t = &p->t[s];
	const char *tp[LS_PATTERNS_MAX_TOKENS];
	uint32_t tl[LS_PATTERNS_MAX_TOKENS];
	uint64_t th[LS_PATTERNS_MAX_TOKENS];
	int changed = 0;
	for (uint32_t i = 0; i < t->ntok; i++) {
		tp[i] = t->text + t->off[i];
		tl[i] = t->off[i + 1] - t->off[i] - 1;
		th[i] = t->th[i];
		if (th[i] != p->wild && th[i] != p->th[i]) {
			th[i] = p->wild;
			changed = 1;
		}
	}
	return changed ? tmpl_set(p, t, t->ntok, tp, tl, th) : 0;
}

int
ls_patterns_new(ls_patterns **out, const ls_patterns_cfg *cfg)
{
	if (cfg == NULL || cfg->max_templates < 1 || cfg->depth < 2 ||
	    !(cfg->similarity > 0.0 && cfg->similarity <= 1.0))
		return LS_EINVAL;
	ls_patterns *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return LS_ENOMEM;
	p->cfg = *cfg;
	p->wild = ls_hash64(LS_PATTERNS_WILDCARD, WILD_LEN, 0);
	p->free_slot = p->lru_head = p->lru_tail = NONE;
	uint32_t c = CACHE_MIN;
	while (c < CACHE_MAX && c < cfg->max_templates * 2u)
		c *= 2;
	p->cache = calloc(c, sizeof(*p->cache));
	if (p->cache == NULL) {
		free(p);
		return LS_ENOMEM;
	}
	p->cmask = c - 1;
	for (uint32_t i = 0; i < c; i++)
		p->cache[i].slot = NONE;
	*out = p;
	return 0;
}

/* Forget every template (and the changes not yet synced). */
static void
reset(ls_patterns *p)
{
	for (uint32_t s = 0; s < p->nt; s++)
		free(p->t[s].th);
	p->nt = p->live = 0;
	p->free_slot = p->lru_head = p->lru_tail = NONE;
	p->seq = 0;
	free(p->lt);
	p->lt = NULL;
	p->lcap = p->nleaves = 0;
	for (uint32_t i = 0; i <= p->cmask; i++)
		p->cache[i].slot = NONE;
	p->ndirty = p->ngone = 0;
}

void
ls_patterns_free(ls_patterns *p)
{
	if (p == NULL)
		return;
	reset(p);
	free(p->t);
	free(p->cache);
	free(p->dirty);
	free(p->gone);
	free(p);
}

int
ls_patterns_add(ls_patterns *p, const char *msg, size_t len,
    ls_patterns_match *m)
{
	int rv;
	tokenize(p, msg, len);
	if (p->ntok == 0)
		return LS_EINVAL;
	uint64_t lh = ls_hash64(p->th, (size_t)p->ntok * sizeof(*p->th),
	    p->ntok);
	centry *ce = &p->cache[lh & p->cmask];
	uint32_t s = NONE;
	int is_new = 0;

	if (ce->slot != NONE && ce->h == lh && p->t[ce->slot].live &&
	    p->t[ce->slot].id == ce->id && matches(p, &p->t[ce->slot]))
		s = ce->slot;
	if (s == NONE) {
		uint64_t lk = leaf_key(p, p->th, p->ntok);
		uint32_t *head = leaf_find(p, lk);
		if (head != NULL)
			s = best_in_leaf(p, *head);
		if (s != NONE) {
			if ((rv = generalise(p, s)) != 0)
				return rv;
		} else {
			if ((rv = slot_take(p, &s)) != 0)
				return rv;
			if ((rv = tmpl_create(p, s, p->ntok, p->tp, p->tl,
			         p->th, lk)) != 0)
				return rv;
			p->t[s].id = ls_hash64(p->t[s].text, p->t[s].len, 0);
			is_new = 1;
		}
		ce->h = lh;
		ce->id = p->t[s].id;
		ce->slot = s;
	}
	tmpl *t = &p->t[s];
	if ((rv = mark_dirty(p, s)) != 0)
		return rv; /* a new template stays, with no message yet */
	t->count++;
	t->seen = ++p->seq;
	if (p->lru_tail != s) {
		lru_unlink(p, s);
		lru_append(p, s);
	}
	uint32_t np = 0;
	for (uint32_t i = 0; i < t->ntok; i++)
		if (t->th[i] == p->wild)
			p->params[np++] = ls_str_make(p->tp[i], p->tl[i]);
	m->id = t->id;
	m->count = t->count;
	m->is_new = is_new;
	m->tmpl = t->text;
	m->tmpl_len = t->len;
	m->params = p->params;
	m->nparams = np;
	return 0;
}

uint32_t
ls_patterns_size(const ls_patterns *p)
{
	return p->live;
}

void
ls_patterns_each(const ls_patterns *p,
    void (*fn)(void *arg, const ls_patterns_info *t), void *arg)
{
	for (uint32_t s = p->lru_head; s != NONE; s = p->t[s].next) {
		const tmpl *t = &p->t[s];
		ls_patterns_info info = { t->id, t->count, t->text, t->len };
		fn(arg, &info);
	}
}

/* ---- records ---- */

static size_t
rec_len(const tmpl *t)
{
	return LS_PATTERNS_REC_HDR + t->len;
}

static void
rec_write(const tmpl *t, uint8_t *o)
{
	o[0] = REC_VERSION;
	ls_le_put(o + 1, t->id, 8);
	ls_le_put(o + 9, t->count, 8);
	ls_le_put(o + 17, t->seen, 8);
	ls_le_put(o + 25, t->leaf, 8);
	memcpy(o + LS_PATTERNS_REC_HDR, t->text, t->len);
}

int
ls_patterns_changes(ls_patterns *p, int all,
    int (*fn)(void *arg, uint64_t id, const uint8_t *rec, size_t len),
    void *arg)
{
	int rv = 0;
	uint8_t *buf = malloc(LS_PATTERNS_REC_HDR + TEXT_MAX);
	if (buf == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < p->ngone && rv == 0; i++)
		rv = fn(arg, p->gone[i], NULL, 0);
	if (all) {
		for (uint32_t s = p->lru_head; s != NONE && rv == 0;
		     s = p->t[s].next) {
			rec_write(&p->t[s], buf);
			rv = fn(arg, p->t[s].id, buf, rec_len(&p->t[s]));
		}
	} else {
		for (uint32_t i = 0; i < p->ndirty && rv == 0; i++) {
			const tmpl *t = &p->t[p->dirty[i]];
			if (!t->live)
				continue;
			rec_write(t, buf);
			rv = fn(arg, t->id, buf, rec_len(t));
		}
	}
	free(buf);
	if (rv != 0)
		return rv;
	for (uint32_t i = 0; i < p->ndirty; i++)
		p->t[p->dirty[i]].dirty = 0;
	p->ndirty = p->ngone = 0;
	return 0;
}

typedef struct rec_view {
	uint64_t id, count, seen, leaf;
	const char *text;
	uint32_t len;
} rec_view;

static int
rec_decode(const uint8_t *r, size_t len, rec_view *v)
{
	if (len <= LS_PATTERNS_REC_HDR || r[0] != REC_VERSION ||
	    len - LS_PATTERNS_REC_HDR > TEXT_MAX)
		return LS_ECORRUPT;
	v->id = ls_le_get(r + 1, 8);
	v->count = ls_le_get(r + 9, 8);
	v->seen = ls_le_get(r + 17, 8);
	v->leaf = ls_le_get(r + 25, 8);
	v->text = (const char *)r + LS_PATTERNS_REC_HDR;
	v->len = (uint32_t)(len - LS_PATTERNS_REC_HDR);
	/* Tokens without blanks, joined by one space. */
	uint32_t ntok = 1;
	for (uint32_t i = 0; i < v->len; i++) {
		char c = v->text[i];
		if (c == ' ') {
			if (i == 0 || i + 1 == v->len || v->text[i - 1] == ' ')
				return LS_ECORRUPT;
			ntok++;
		} else if (is_blank(c)) {
			return LS_ECORRUPT;
		}
	}
	return ntok <= LS_PATTERNS_MAX_TOKENS ? 0 : LS_ECORRUPT;
}

static int
cmp_seen(const void *a, const void *b)
{
	const rec_view *x = a, *y = b;
	if (x->seen != y->seen)
		return x->seen < y->seen ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Add the template of v, the most recently used so far. */
static int
load_one(ls_patterns *p, const rec_view *v)
{
	const char *tp[LS_PATTERNS_MAX_TOKENS];
	uint32_t tl[LS_PATTERNS_MAX_TOKENS];
	uint64_t th[LS_PATTERNS_MAX_TOKENS];
	uint32_t n = 0, start = 0;
	for (uint32_t i = 0; i <= v->len; i++) {
		if (i < v->len && v->text[i] != ' ')
			continue;
		tp[n] = v->text + start;
		tl[n] = i - start;
		th[n] = token_hash(p, tp[n], tl[n]);
		n++;
		start = i + 1;
	}
	uint32_t s;
	int rv = slot_take(p, &s);
	if (rv == 0)
		rv = tmpl_create(p, s, n, tp, tl, th, v->leaf);
	if (rv != 0)
		return rv;
	p->t[s].id = v->id;
	p->t[s].count = v->count;
	p->t[s].seen = v->seen;
	if (v->seen > p->seq)
		p->seq = v->seen;
	return 0;
}

int
ls_patterns_load_records(ls_patterns *p, const uint8_t *const *recs,
    const size_t *lens, size_t n)
{
	reset(p);
	if (n == 0)
		return 0;
	rec_view *v = malloc(n * sizeof(*v));
	uint64_t *ids = malloc(n * sizeof(*ids));
	int rv = v == NULL || ids == NULL ? LS_ENOMEM : 0;
	for (size_t i = 0; i < n && rv == 0; i++) {
		rv = rec_decode(recs[i], lens[i], &v[i]);
		if (rv == 0)
			ids[i] = v[i].id;
	}
	if (rv == 0) {
		qsort(ids, n, sizeof(*ids), cmp_u64);
		for (size_t i = 1; i < n && rv == 0; i++)
			if (ids[i] == ids[i - 1])
				rv = LS_ECORRUPT;
	}
	if (rv == 0) {
		qsort(v, n, sizeof(*v), cmp_seen);
		for (size_t i = 0; i < n && rv == 0; i++)
			rv = load_one(p, &v[i]);
	}
	free(v);
	free(ids);
	if (rv != 0)
		reset(p);
	return rv;
}

int
ls_patterns_save(const ls_patterns *p, uint8_t **buf, size_t *len)
{
	size_t total = 8;
	for (uint32_t s = p->lru_head; s != NONE; s = p->t[s].next)
		total += 4 + rec_len(&p->t[s]);
	uint8_t *o = malloc(total);
	if (o == NULL)
		return LS_ENOMEM;
	memcpy(o, SNAP_MAGIC, 4);
	ls_le_put(o + 4, p->live, 4);
	size_t at = 8;
	for (uint32_t s = p->lru_head; s != NONE; s = p->t[s].next) {
		size_t rl = rec_len(&p->t[s]);
		ls_le_put(o + at, (uint32_t)rl, 4);
		rec_write(&p->t[s], o + at + 4);
		at += 4 + rl;
	}
	*buf = o;
	*len = total;
	return 0;
}

int
ls_patterns_load(ls_patterns *p, const uint8_t *buf, size_t len)
{
	if (len < 8 || memcmp(buf, SNAP_MAGIC, 4) != 0) {
		reset(p);
		return LS_ECORRUPT;
	}
	uint32_t n = (uint32_t)ls_le_get(buf + 4, 4);
	/* Each record takes more than LS_PATTERNS_REC_HDR + 4 bytes. */
	if (n > (len - 8) / (LS_PATTERNS_REC_HDR + 5)) {
		reset(p);
		return LS_ECORRUPT;
	}
	const uint8_t **recs = malloc((n ? n : 1) * sizeof(*recs));
	size_t *lens = malloc((n ? n : 1) * sizeof(*lens));
	int rv = recs == NULL || lens == NULL ? LS_ENOMEM : 0;
	size_t at = 8;
	for (uint32_t i = 0; i < n && rv == 0; i++) {
		if (len - at < 4) {
			rv = LS_ECORRUPT;
			break;
		}
		uint32_t rl = (uint32_t)ls_le_get(buf + at, 4);
		if (rl > len - at - 4) {
			rv = LS_ECORRUPT;
			break;
		}
		recs[i] = buf + at + 4;
		lens[i] = rl;
		at += 4 + (size_t)rl;
	}
	if (rv == 0 && at != len)
		rv = LS_ECORRUPT;
	if (rv == 0)
		rv = ls_patterns_load_records(p, recs, lens, n);
	else
		reset(p);
	free(recs);
	free(lens);
	return rv;
}
