/*
 * session.c -- sessions per key on event time (actors/session.h), their
 * state in an ls_state handle and their result records.
 *
 * In memory: a hash table of keys (open addressing, linear probing,
 * backward-shift deletion) whose groups hold their open sessions in a list
 * sorted by start; sessions live in one array of fixed-size entries reused
 * through a free list, with their counters in a parallel array and their
 * first/last messages in a small buffer of their own.  A min-heap of close
 * deadlines finds the sessions a watermark closes without looking at the
 * others: each open session has exactly one valid heap entry (its slot and
 * generation), which is pushed again with the new deadline when it is
 * popped early because the session grew.
 *
 * Everything an event may need to allocate is allocated before anything
 * changes, so LS_ENOMEM leaves the state as it was.
 */
#include "actors/session.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/i64.h"
#include "actors/parts.h"
#include "runtime/err.h"
#include "runtime/hash.h"
#include "runtime/le.h"
#include "runtime/store.h"

#define NONE UINT32_MAX
#define HLL_TAG 255
#define HLL_M (1u << LS_SESSION_HLL_P)
#define KEY_SEED UINT64_C(0x6c7373657373696b)  /* key hash */
#define PATH_SEED UINT64_C(0x6c73736573737061) /* distinct values */
#define SPEC_SEED UINT64_C(0x6c73737370656331) /* spec fingerprint */
#define PART_SEED UINT64_C(0x6c73737061727431) /* part checksums */
#define MS INT64_C(1000000)
#define TIME_LIMIT (INT64_C(1) << 62) /* |event time| accepted */
#define DUR_LIMIT_MS (INT64_C(1) << 40) /* gap, max, grace */

struct sess {
	int64_t start, end;
	uint64_t events;
	uint64_t id;
	uint32_t group; /* index in gs[] */
	uint32_t next;  /* next session of the group (by start), or free list */
	uint32_t gen;   /* bumped when the slot is freed (stale heap entries) */
	uint16_t flen, llen, mcap; /* first, last message lengths; capacity */
	uint8_t nset;   /* exact distinct values 0..8, or HLL_TAG */
	uint8_t live, dirty, handed;
	union {
		uint64_t set[LS_SESSION_EXACT_MAX]; /* sorted hashes */
		uint8_t *hll;                       /* HLL_M registers */
	} d;
	char *msg; /* first message, then last message */
};

struct grp {
	uint64_t hash;
	unsigned char *key; /* encoded key; NULL: a free entry */
	uint32_t klen;
	uint32_t head; /* first open session, or the free list */
};

struct hent {
	int64_t d; /* the session stays open while the watermark <= d */
	uint32_t idx, gen;
};

struct ls_session {
	ls_session_spec spec;
	int64_t gap_ns, max_ns, grace_ns, delay_ns, idle_ns;
	ls_session_emit_fn emit;
	ls_session_late_fn late;
	void *arg;

	struct sess *ss;
	uint32_t nss, capss, sfree;
	uint64_t *ctr; /* capss x ncounters */
	struct grp *gs;
	uint32_t ngs, capgs, gfree, live_groups;
	uint32_t *slot; /* group index + 1, 0 = empty */
	uint32_t nslot; /* power of two */
	struct hent *heap;
	uint32_t nheap, capheap;
	uint64_t *gone; /* ids written to the state, since closed */
	uint32_t ngone, capgone;
	uint32_t *cl; /* close scratch, capss entries */

	int64_t wm, max_t, last_ingest;
	int manual;
	uint64_t next_id, events, late_n, emitted, merged, nopen;

	unsigned char kbuf[LS_SESSION_MAX_KEYS * 2 + LS_SESSION_KEY_MAX];
	uint8_t *part; /* encoding scratch */
	size_t partcap;
};

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- spec ---- */

static int
field_ok(const char *p, size_t n)
{
	if (n == 0 || n >= LS_SESSION_NAME_MAX ||
	    !(isalpha((unsigned char)p[0]) || p[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '.'))
			return 0;
	return 1;
}

static const char *
skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int
ls_session_counter_parse(const char *text, ls_session_counter *c, char *err,
    size_t errlen)
{
	const char *p = skip_blank(text), *q;

	memset(c, 0, sizeof(*c));
	for (q = p; isalnum((unsigned char)*q) || *q == '_'; q++)
		;
	if (q == p || isdigit((unsigned char)*p) ||
	    (size_t)(q - p) >= LS_SESSION_NAME_MAX) {
		set_err(err, errlen, "a counter is 'name: condition' with a "
		    "name of letters, digits and '_'");
		return LS_EINVAL;
	}
	memcpy(c->name, p, (size_t)(q - p));
	p = skip_blank(q);
	if (*p != ':') {
		set_err(err, errlen, "a counter is 'name: condition' (no ':' "
		    "after '%s')", c->name);
		return LS_EINVAL;
	}
	p = skip_blank(p + 1);
	for (q = p; isalnum((unsigned char)*q) || *q == '_' || *q == '.'; q++)
		;
	if (!field_ok(p, (size_t)(q - p))) {
		set_err(err, errlen, "counter '%s': the condition starts with "
		    "a field name", c->name);
		return LS_EINVAL;
	}
	c->field_len = (uint8_t)(q - p);
	memcpy(c->field, p, c->field_len);
	p = skip_blank(q);
	if (p[0] == '!' && p[1] == '=') {
		c->op = LS_SESSION_OP_NE;
		p += 2;
	} else if (p[0] == '>' && p[1] == '=') {
		c->op = LS_SESSION_OP_LEVEL_GE;
		p += 2;
	} else if (p[0] == '=') {
		c->op = LS_SESSION_OP_EQ;
		p += 1;
	} else if (p[0] == '~') {
		c->op = LS_SESSION_OP_CONTAINS;
		p += 1;
	} else {
		set_err(err, errlen, "counter '%s': expected =, !=, ~ or >= "
		    "after '%s'", c->name, c->field);
		return LS_EINVAL;
	}
	p = skip_blank(p);
	size_t n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= LS_SESSION_VALUE_MAX) {
		set_err(err, errlen, "counter '%s': value longer than %d bytes",
		    c->name, LS_SESSION_VALUE_MAX - 1);
		return LS_EINVAL;
	}
	memcpy(c->value, p, n);
	c->value_len = (uint8_t)n;
	int is_level = strcmp(c->field, "level") == 0;
	if (c->op == LS_SESSION_OP_LEVEL_GE && !is_level) {
		set_err(err, errlen, "counter '%s': >= compares levels only "
		    "(level>=warn)", c->name);
		return LS_EINVAL;
	}
	if (is_level && c->op != LS_SESSION_OP_CONTAINS) {
		c->level = (uint8_t)ls_level_parse(c->value, n);
		if (c->level == LS_LEVEL_UNKNOWN) {
			set_err(err, errlen, "counter '%s': '%s' is not a level "
			    "(trace, debug, info, notice, warn, error, fatal)",
			    c->name, c->value);
			return LS_EINVAL;
		}
	}
	return 0;
}

static const char *const fixed_names[] = { "session_start", "session_end",
	"duration_ms", "events", "first_message", "last_message" };

int
ls_session_spec_init(ls_session_spec *s, int64_t gap_ms, int64_t max_ms,
    int64_t grace_ms, const char *const *key_fields, size_t nkey,
    const char *path_field, const char *const *counters, size_t ncounters,
    char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (gap_ms <= 0 || gap_ms > DUR_LIMIT_MS) {
		set_err(err, errlen, "gap must be between 1ms and 2^40 ms");
		return LS_EINVAL;
	}
	if (max_ms < 0 || max_ms > DUR_LIMIT_MS || grace_ms < 0 ||
	    grace_ms > DUR_LIMIT_MS) {
		set_err(err, errlen, "max_duration and grace must be between "
		    "0 and 2^40 ms");
		return LS_EINVAL;
	}
	if (nkey > LS_SESSION_MAX_KEYS || ncounters > LS_SESSION_MAX_COUNTERS) {
		set_err(err, errlen, "at most %d key fields and %d counters",
		    LS_SESSION_MAX_KEYS, LS_SESSION_MAX_COUNTERS);
		return LS_EINVAL;
	}
	s->gap_ms = gap_ms;
	s->max_ms = max_ms;
	s->grace_ms = grace_ms;
	for (size_t i = 0; i < nkey; i++) {
		size_t n = strlen(key_fields[i]);
		if (!field_ok(key_fields[i], n)) {
			set_err(err, errlen, "bad key field '%s'", key_fields[i]);
			return LS_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->key_fields[j], key_fields[i]) == 0) {
				set_err(err, errlen, "key field '%s' twice",
				    key_fields[i]);
				return LS_EINVAL;
			}
		memcpy(s->key_fields[i], key_fields[i], n);
		s->key_len[i] = (uint8_t)n;
	}
	s->nkey = (uint32_t)nkey;
	if (path_field != NULL) {
		size_t n = strlen(path_field);
		if (!field_ok(path_field, n)) {
			set_err(err, errlen, "bad path_field '%s'", path_field);
			return LS_EINVAL;
		}
		memcpy(s->path_field, path_field, n);
		s->path_len = (uint8_t)n;
		snprintf(s->distinct_name, sizeof(s->distinct_name),
		    "distinct_%s", path_field);
	}
	for (size_t i = 0; i < ncounters; i++) {
		ls_session_counter *c = &s->counters[i];
		int rc = ls_session_counter_parse(counters[i], c, err, errlen);
		if (rc != 0)
			return rc;
		const char *clash = NULL;
		for (size_t j = 0; j < sizeof(fixed_names) / sizeof(*fixed_names);
		     j++)
			if (strcmp(c->name, fixed_names[j]) == 0)
				clash = "a result field";
		if (s->path_len > 0 && strcmp(c->name, s->distinct_name) == 0)
			clash = "the distinct count";
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->name, s->counters[j].name) == 0)
				clash = "another counter";
		if (clash != NULL) {
			set_err(err, errlen, "counter name '%s' is already %s",
			    c->name, clash);
			return LS_EINVAL;
		}
	}
	s->ncounters = (uint32_t)ncounters;
	return 0;
}

/* A fingerprint of everything in the spec that shapes the saved state. */
static uint64_t
spec_hash(const ls_session_spec *s)
{
	ls_session_spec c;
	memset(&c, 0, sizeof(c));
	c.gap_ms = s->gap_ms;
	c.max_ms = s->max_ms;
	c.grace_ms = s->grace_ms;
	c.nkey = s->nkey;
	c.ncounters = s->ncounters;
	memcpy(c.key_len, s->key_len, sizeof(c.key_len));
	for (uint32_t i = 0; i < s->nkey; i++)
		memcpy(c.key_fields[i], s->key_fields[i], s->key_len[i]);
	c.path_len = s->path_len;
	memcpy(c.path_field, s->path_field, s->path_len);
	for (uint32_t i = 0; i < s->ncounters; i++) {
		const ls_session_counter *a = &s->counters[i];
		ls_session_counter *b = &c.counters[i];
		memcpy(b->name, a->name, strlen(a->name));
		memcpy(b->field, a->field, a->field_len);
		memcpy(b->value, a->value, a->value_len);
		b->op = a->op;
		b->level = a->level;
		b->field_len = a->field_len;
		b->value_len = a->value_len;
	}
	/* the struct has no padding holes that memset left undefined */
	return ls_hash64(&c, sizeof(c), SPEC_SEED);
}

/* ---- small helpers ---- */

static int64_t
bucket_end(const ls_session *s, int64_t t)
{
	if (s->max_ns == 0)
		return INT64_MAX;
	int64_t q = t / s->max_ns;
	if (t % s->max_ns != 0 && t < 0)
		q--;
	return (q + 1) * s->max_ns; /* |t| <= 2^62, max <= 2^60: no overflow */
}

/* The largest watermark at which x stays open: an event it could still take
 * is at most min(end + gap, bucket end - 1); events older than the
 * watermark minus grace are late. */
static int64_t
deadline(const ls_session *s, const struct sess *x)
{
	int64_t reach = ls_i64_add_sat(x->end, s->gap_ns);
	int64_t be = bucket_end(s, x->start) - 1;
	return ls_i64_add_sat(reach < be ? reach : be, s->grace_ns);
}

/* Cut a message to LS_SESSION_MSG_MAX bytes without splitting a UTF-8
 * sequence. */
static uint32_t
msg_len(ls_str m)
{
	uint32_t n = m.len;
	if (n <= LS_SESSION_MSG_MAX)
		return n;
	n = LS_SESSION_MSG_MAX;
	while (n > 0 && ((unsigned char)m.ptr[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static int
bytes_cmp(const char *a, uint32_t al, const char *b, uint32_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

static int
msg_reserve(struct sess *x, uint32_t need)
{
	if (need <= x->mcap)
		return 0;
	uint32_t cap = (need + 15) & ~15u;
	char *n = realloc(x->msg, cap);
	if (n == NULL)
		return LS_ENOMEM;
	x->msg = n;
	x->mcap = (uint16_t)cap;
	return 0;
}

static void
msg_set_first(struct sess *x, const char *p, uint32_t n)
{
	if (x->llen > 0)
		memmove(x->msg + n, x->msg + x->flen, x->llen);
	if (n > 0)
		memcpy(x->msg, p, n);
	x->flen = (uint16_t)n;
}

static void
msg_set_last(struct sess *x, const char *p, uint32_t n)
{
	if (n > 0)
		memcpy(x->msg + x->flen, p, n);
	x->llen = (uint16_t)n;
}

/* ---- distinct values ---- */

static void
hll_add(uint8_t *reg, uint64_t h)
{
	uint32_t i = (uint32_t)(h >> (64 - LS_SESSION_HLL_P));
	uint64_t w = h << LS_SESSION_HLL_P;
	uint8_t rank = w == 0 ? (uint8_t)(64 - LS_SESSION_HLL_P + 1)
	                      : (uint8_t)(__builtin_clzll(w) + 1);
	if (rank > reg[i])
		reg[i] = rank;
}

static uint64_t
hll_estimate(const uint8_t *reg)
{
	double sum = 0, m = HLL_M;
	uint32_t zeros = 0;
	for (uint32_t i = 0; i < HLL_M; i++) {
		sum += ldexp(1.0, -reg[i]);
		zeros += reg[i] == 0;
	}
	double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	if (e <= 2.5 * m && zeros > 0)
		e = m * log(m / zeros);
	return (uint64_t)llround(e);
}

static int
set_has(const struct sess *x, uint64_t h)
{
	for (uint8_t i = 0; i < x->nset; i++)
		if (x->d.set[i] == h)
			return 1;
	return 0;
}

static void
set_insert(struct sess *x, uint64_t h)
{
	uint8_t i = x->nset;
	while (i > 0 && x->d.set[i - 1] > h) {
		x->d.set[i] = x->d.set[i - 1];
		i--;
	}
	x->d.set[i] = h;
	x->nset++;
}

/* Turn x's exact set into the registers reg (takes reg). */
static void
to_hll(struct sess *x, uint8_t *reg)
{
	memset(reg, 0, HLL_M);
	for (uint8_t i = 0; i < x->nset; i++)
		hll_add(reg, x->d.set[i]);
	x->d.hll = reg;
	x->nset = HLL_TAG;
}

static void
distinct_add(struct sess *x, uint64_t h, uint8_t *spare)
{
	if (x->nset == HLL_TAG) {
		hll_add(x->d.hll, h);
	} else if (!set_has(x, h)) {
		if (x->nset == LS_SESSION_EXACT_MAX) {
			to_hll(x, spare);
			hll_add(x->d.hll, h);
		} else {
			set_insert(x, h);
		}
	}
}

static uint32_t
union_size(const struct sess *a, const struct sess *b)
{
	uint32_t n = a->nset;
	for (uint8_t i = 0; i < b->nset; i++)
		n += !set_has(a, b->d.set[i]);
	return n;
}

/* Merge b's distinct values into a; b is left exact and empty.  spare is
 * the registers a needs when both are exact and the union is too large. */
static void
distinct_merge(struct sess *a, struct sess *b, uint8_t *spare)
{
	if (b->nset == HLL_TAG && a->nset != HLL_TAG) {
		uint8_t *reg = b->d.hll; /* a takes b's registers */
		uint64_t tmp[LS_SESSION_EXACT_MAX];
		uint8_t n = a->nset;
		memcpy(tmp, a->d.set, sizeof(tmp));
		a->d.hll = reg;
		a->nset = HLL_TAG;
		for (uint8_t i = 0; i < n; i++)
			hll_add(reg, tmp[i]);
	} else if (b->nset == HLL_TAG) {
		for (uint32_t i = 0; i < HLL_M; i++)
			if (b->d.hll[i] > a->d.hll[i])
				a->d.hll[i] = b->d.hll[i];
		free(b->d.hll);
	} else if (a->nset == HLL_TAG) {
		for (uint8_t i = 0; i < b->nset; i++)
			hll_add(a->d.hll, b->d.set[i]);
	} else {
		for (uint8_t i = 0; i < b->nset; i++)
			distinct_add(a, b->d.set[i], spare);
	}
	b->nset = 0;
}

/* ---- counters ---- */

static int
cond_match(const ls_session_counter *c, const ls_event *ev)
{
	ls_str v;
	int is_level = c->level != 0;

	if (c->op == LS_SESSION_OP_LEVEL_GE)
		return ev->level >= c->level;
	if (is_level)
		return (ev->level == c->level) == (c->op == LS_SESSION_OP_EQ);
	(void)ls_event_field(ev, c->field, c->field_len, &v);
	if (c->op == LS_SESSION_OP_CONTAINS)
		return c->value_len == 0 ||
		    (v.len >= c->value_len &&
		        memmem(v.ptr, v.len, c->value, c->value_len) != NULL);
	int eq = v.len == c->value_len &&
	    (v.len == 0 || memcmp(v.ptr, c->value, v.len) == 0);
	return eq == (c->op == LS_SESSION_OP_EQ);
}

/* ---- keys and groups ---- */

static long
encode_key(ls_session *s, const ls_event *ev)
{
	size_t hdr = 2 * (size_t)s->spec.nkey, len = hdr;
	for (uint32_t i = 0; i < s->spec.nkey; i++) {
		ls_str v;
		(void)ls_event_field(ev, s->spec.key_fields[i],
		    s->spec.key_len[i], &v);
		if (v.len > LS_SESSION_KEY_MAX - (len - hdr))
			return -1;
		ls_le_put(s->kbuf + 2 * (size_t)i, v.len, 2);
		if (v.len > 0)
			memcpy(s->kbuf + len, v.ptr, v.len);
		len += v.len;
	}
	return (long)len;
}

static void
key_values(const ls_session *s, const unsigned char *k, ls_str *out)
{
	size_t off = 2 * (size_t)s->spec.nkey;
	for (uint32_t i = 0; i < s->spec.nkey; i++) {
		uint32_t n = (uint32_t)ls_le_get(k + 2 * (size_t)i, 2);
		out[i] = ls_str_make((const char *)k + off, n);
		off += n;
	}
}

static uint32_t
grp_find(const ls_session *s, const unsigned char *k, uint32_t kl,
    uint64_t h)
{
	if (s->nslot == 0)
		return NONE;
	uint32_t mask = s->nslot - 1;
	for (uint32_t i = (uint32_t)h & mask; s->slot[i] != 0;
	     i = (i + 1) & mask) {
		const struct grp *g = &s->gs[s->slot[i] - 1];
		if (g->hash == h && g->klen == kl && memcmp(g->key, k, kl) == 0)
			return s->slot[i] - 1;
	}
	return NONE;
}

static void
slot_put(uint32_t *slot, uint32_t nslot, uint64_t h, uint32_t gi)
{
	uint32_t i = (uint32_t)h & (nslot - 1);
	while (slot[i] != 0)
		i = (i + 1) & (nslot - 1);
	slot[i] = gi + 1;
}

static void
slot_remove(ls_session *s, uint32_t gi)
{
	uint32_t mask = s->nslot - 1;
	uint32_t i = (uint32_t)s->gs[gi].hash & mask;
	while (s->slot[i] != gi + 1)
		i = (i + 1) & mask;
	/* backward shift: move up every entry the hole would cut off */
	for (uint32_t j = (i + 1) & mask; s->slot[j] != 0; j = (j + 1) & mask) {
		uint32_t home = (uint32_t)s->gs[s->slot[j] - 1].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->slot[i] = s->slot[j];
			s->slot[j] = 0;
			i = j;
		}
	}
	s->slot[i] = 0;
}

/* ---- heap ---- */

static void
heap_push(ls_session *s, int64_t d, uint32_t idx, uint32_t gen)
{
	uint32_t i = s->nheap++;
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (s->heap[p].d <= d)
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = (struct hent){ d, idx, gen };
}

static struct hent
heap_pop(ls_session *s)
{
	struct hent top = s->heap[0], last = s->heap[--s->nheap];
	uint32_t i = 0, n = s->nheap;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && s->heap[c + 1].d < s->heap[c].d)
			c++;
		if (s->heap[c].d >= last.d)
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n > 0)
		s->heap[i] = last;
	return top;
}

/* ---- capacity ---- */

static int
grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	uint32_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	void *n = realloc(*p, (size_t)nc * elem);
	if (n == NULL)
		return LS_ENOMEM;
	*p = n;
	*cap = nc;
	return 0;
}

/* Room for one more session (slot, counters, heap entry, close scratch,
 * gone id) and one more group (entry, hash slot). */
static int
reserve(ls_session *s)
{
	uint32_t cap = s->capss;
	if (s->sfree == NONE && s->nss == cap) {
		if (grow((void **)&s->ss, &s->capss, cap + 1, sizeof(*s->ss)) != 0)
			return LS_ENOMEM;
		for (uint32_t i = cap; i < s->capss; i++) {
			s->ss[i].msg = NULL;
			s->ss[i].mcap = 0;
			s->ss[i].gen = 0;
		}
	}
	if (s->capss != cap || s->ctr == NULL || s->cl == NULL) {
		size_t nc = s->spec.ncounters ? s->spec.ncounters : 1;
		uint64_t *c = realloc(s->ctr, (size_t)s->capss * nc * sizeof(*c));
		if (c == NULL)
			return LS_ENOMEM;
		s->ctr = c;
		uint32_t *l = realloc(s->cl, (size_t)s->capss * sizeof(*l));
		if (l == NULL)
			return LS_ENOMEM;
		s->cl = l;
	}
	if (grow((void **)&s->heap, &s->capheap, s->nheap + 1,
	        sizeof(*s->heap)) != 0 ||
	    grow((void **)&s->gone, &s->capgone, s->ngone + 1,
	        sizeof(*s->gone)) != 0)
		return LS_ENOMEM;
	if (s->gfree == NONE &&
	    grow((void **)&s->gs, &s->capgs, s->ngs + 1, sizeof(*s->gs)) != 0)
		return LS_ENOMEM;
	if ((uint64_t)(s->live_groups + 1) * 4 > (uint64_t)s->nslot * 3) {
		uint32_t ns = s->nslot ? s->nslot * 2 : 64;
		uint32_t *sl = calloc(ns, sizeof(*sl));
		if (sl == NULL)
			return LS_ENOMEM;
		for (uint32_t i = 0; i < s->nslot; i++)
			if (s->slot[i] != 0)
				slot_put(sl, ns, s->gs[s->slot[i] - 1].hash,
				    s->slot[i] - 1);
		free(s->slot);
		s->slot = sl;
		s->nslot = ns;
	}
	return 0;
}

static uint32_t
sess_alloc(ls_session *s)
{
	uint32_t i;
	if (s->sfree != NONE) {
		i = s->sfree;
		s->sfree = s->ss[i].next;
	} else {
		i = s->nss++;
	}
	struct sess *x = &s->ss[i];
	char *msg = x->msg;
	uint16_t mcap = x->mcap;
	uint32_t gen = x->gen;
	memset(x, 0, sizeof(*x));
	x->msg = msg;
	x->mcap = mcap;
	x->gen = gen;
	x->live = 1;
	x->next = NONE;
	if (s->spec.ncounters > 0)
		memset(&s->ctr[(size_t)i * s->spec.ncounters], 0,
		    s->spec.ncounters * sizeof(uint64_t));
	s->nopen++;
	return i;
}

/* Unlink session i from its group (dropping the group when it empties)
 * and free its slot; the message buffer stays for reuse. */
static void
sess_free(ls_session *s, uint32_t i)
{
	struct sess *x = &s->ss[i];
	struct grp *g = &s->gs[x->group];
	uint32_t *pp = &g->head;
	while (*pp != i)
		pp = &s->ss[*pp].next;
	*pp = x->next;
	if (g->head == NONE) {
		slot_remove(s, x->group);
		free(g->key);
		g->key = NULL;
		g->head = s->gfree;
		s->gfree = x->group;
		s->live_groups--;
	}
	if (x->nset == HLL_TAG)
		free(x->d.hll);
	x->nset = 0;
	x->live = 0;
	x->gen++;
	x->next = s->sfree;
	s->sfree = i;
	s->nopen--;
}

static void
fill_result(const ls_session *s, uint32_t i, ls_session_result *r)
{
	const struct sess *x = &s->ss[i];
	memset(r, 0, sizeof(*r));
	r->start_ns = x->start;
	r->end_ns = x->end;
	r->events = x->events;
	r->nkeys = s->spec.nkey;
	key_values(s, s->gs[x->group].key, r->keys);
	if (s->spec.path_len > 0) {
		r->distinct_exact = x->nset != HLL_TAG;
		r->distinct = x->nset == HLL_TAG ? hll_estimate(x->d.hll)
		                                 : x->nset;
	}
	r->first_message = ls_str_make(x->msg, x->flen);
	r->last_message = ls_str_make(x->msg != NULL ? x->msg + x->flen : NULL,
	    x->llen);
	r->ncounters = s->spec.ncounters;
	for (uint32_t c = 0; c < s->spec.ncounters; c++)
		r->counter[c] = s->ctr[(size_t)i * s->spec.ncounters + c];
}

static int
key_cmp(const ls_session *s, const unsigned char *a, const unsigned char *b)
{
	ls_str ka[LS_SESSION_MAX_KEYS], kb[LS_SESSION_MAX_KEYS];
	key_values(s, a, ka);
	key_values(s, b, kb);
	for (uint32_t i = 0; i < s->spec.nkey; i++) {
		int c = bytes_cmp(ka[i].ptr, ka[i].len, kb[i].ptr, kb[i].len);
		if (c != 0)
			return c;
	}
	return 0;
}

static int
close_cmp(const void *pa, const void *pb, void *arg)
{
	const ls_session *s = arg;
	const struct sess *a = &s->ss[*(const uint32_t *)pa];
	const struct sess *b = &s->ss[*(const uint32_t *)pb];
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return key_cmp(s, s->gs[a->group].key, s->gs[b->group].key);
}

/* Emit and free the n sessions in cl, by start then key. */
static size_t
emit_closed(ls_session *s, uint32_t n)
{
	if (n > 1)
		qsort_r(s->cl, n, sizeof(*s->cl), close_cmp, s);
	for (uint32_t k = 0; k < n; k++) {
		ls_session_result r;
		fill_result(s, s->cl[k], &r);
		s->emitted++;
		s->emit(s->arg, &r);
	}
	for (uint32_t k = 0; k < n; k++) {
		struct sess *x = &s->ss[s->cl[k]];
		if (x->handed)
			s->gone[s->ngone++] = x->id;
		sess_free(s, s->cl[k]);
	}
	return n;
}

/* Room in gone[] for every open session (a close may retire them all). */
static int
reserve_gone(ls_session *s)
{
	return grow((void **)&s->gone, &s->capgone, s->ngone + (uint32_t)s->nopen,
	    sizeof(*s->gone));
}

static size_t
close_due(ls_session *s)
{
	uint32_t n = 0;
	if (s->nheap == 0 || s->heap[0].d >= s->wm)
		return 0;
	if (reserve_gone(s) != 0)
		return 0; /* closes at the next advance */
	while (s->nheap > 0 && s->heap[0].d < s->wm) {
		struct hent e = heap_pop(s);
		struct sess *x = &s->ss[e.idx];
		if (!x->live || x->gen != e.gen)
			continue;
		int64_t d = deadline(s, x);
		if (d < s->wm)
			s->cl[n++] = e.idx;
		else
			heap_push(s, d, e.idx, e.gen);
	}
	return emit_closed(s, n);
}

/* ---- life cycle ---- */

int
ls_session_new(ls_session **out, const ls_session_spec *spec,
    int64_t watermark_delay_ms, int64_t idle_timeout_ms,
    ls_session_emit_fn emit, ls_session_late_fn late, void *arg)
{
	if (out == NULL || spec == NULL || emit == NULL || late == NULL ||
	    spec->gap_ms <= 0 || spec->gap_ms > DUR_LIMIT_MS ||
	    spec->max_ms < 0 || spec->max_ms > DUR_LIMIT_MS ||
	    spec->grace_ms < 0 || spec->grace_ms > DUR_LIMIT_MS ||
	    spec->nkey > LS_SESSION_MAX_KEYS ||
	    spec->ncounters > LS_SESSION_MAX_COUNTERS ||
	    watermark_delay_ms < 0 || watermark_delay_ms > DUR_LIMIT_MS ||
	    idle_timeout_ms < 0 || idle_timeout_ms > DUR_LIMIT_MS)
		return LS_EINVAL;
	ls_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return LS_ENOMEM;
	s->spec = *spec;
	s->gap_ns = spec->gap_ms * MS;
	s->max_ns = spec->max_ms * MS;
	s->grace_ns = spec->grace_ms * MS;
	s->delay_ns = watermark_delay_ms * MS;
	s->idle_ns = idle_timeout_ms * MS;
	s->emit = emit;
	s->late = late;
	s->arg = arg;
	s->sfree = s->gfree = NONE;
	s->wm = s->max_t = s->last_ingest = INT64_MIN;
	s->next_id = 1;
	*out = s;
	return 0;
}

/* Drop every session and group (the spec and callbacks stay). */
static void
clear_all(ls_session *s)
{
	for (uint32_t i = 0; i < s->nss; i++) {
		if (s->ss[i].live && s->ss[i].nset == HLL_TAG)
			free(s->ss[i].d.hll);
		free(s->ss[i].msg);
	}
	for (uint32_t i = 0; i < s->ngs; i++)
		free(s->gs[i].key);
	free(s->ss);
	free(s->ctr);
	free(s->cl);
	free(s->gs);
	free(s->slot);
	free(s->heap);
	free(s->gone);
	s->ss = NULL;
	s->ctr = NULL;
	s->cl = NULL;
	s->gs = NULL;
	s->slot = NULL;
	s->heap = NULL;
	s->gone = NULL;
	s->nss = s->capss = s->ngs = s->capgs = s->live_groups = 0;
	s->nslot = s->nheap = s->capheap = s->ngone = s->capgone = 0;
	s->sfree = s->gfree = NONE;
	s->nopen = 0;
}

void
ls_session_free(ls_session *s)
{
	if (s == NULL)
		return;
	clear_all(s);
	free(s->part);
	free(s);
}

/* ---- adding events ---- */

/* The open session of group gi around t (within gap, same bucket), and
 * the one after it when t bridges the two. */
static void
find_near(const ls_session *s, uint32_t gi, int64_t t, uint32_t *left,
    uint32_t *right)
{
	int64_t be = bucket_end(s, t);
	*left = *right = NONE;
	if (gi == NONE)
		return;
	for (uint32_t i = s->gs[gi].head; i != NONE; i = s->ss[i].next) {
		const struct sess *x = &s->ss[i];
		if (bucket_end(s, x->start) != be)
			continue;
		if (t < ls_i64_sub_sat(x->start, s->gap_ns))
			break;
		if (t > ls_i64_add_sat(x->end, s->gap_ns))
			continue;
		if (*left == NONE)
			*left = i;
		else
			*right = i;
	}
}

/* Add the event's contributions to session i. */
static void
take_event(ls_session *s, uint32_t i, const ls_event *ev, int64_t t,
    ls_str m, int has_path, uint64_t ph, uint8_t *spare)
{
	struct sess *x = &s->ss[i];
	if (x->events == 0) {
		x->start = x->end = t;
		msg_set_first(x, m.ptr, m.len);
		msg_set_last(x, m.ptr, m.len);
	} else {
		if (t < x->start ||
		    (t == x->start && bytes_cmp(m.ptr, m.len, x->msg, x->flen) < 0)) {
			x->start = t;
			msg_set_first(x, m.ptr, m.len);
		}
		if (t > x->end ||
		    (t == x->end && bytes_cmp(m.ptr, m.len, x->msg + x->flen,
		                        x->llen) > 0)) {
			x->end = t;
			msg_set_last(x, m.ptr, m.len);
		}
	}
	x->events++;
	x->dirty = 1;
	if (has_path)
		distinct_add(x, ph, spare);
	uint64_t *c = &s->ctr[(size_t)i * s->spec.ncounters];
	for (uint32_t k = 0; k < s->spec.ncounters; k++)
		c[k] += (uint64_t)cond_match(&s->spec.counters[k], ev);
}

int
ls_session_add(ls_session *s, const ls_event *ev)
{
	int64_t t = ev->time_ns != LS_TIME_UNKNOWN ? ev->time_ns : ev->ingest_ns;
	if (t == LS_TIME_UNKNOWN)
		return LS_EINVAL;
	if (t > TIME_LIMIT || t < -TIME_LIMIT)
		return LS_ERANGE;
	long kl = encode_key(s, ev);
	if (kl < 0)
		return LS_ERANGE;

	if (t < ls_i64_sub_sat(s->wm, s->grace_ns)) {
		s->events++;
		s->late_n++;
		if (ev->ingest_ns != LS_TIME_UNKNOWN && ev->ingest_ns > s->last_ingest)
			s->last_ingest = ev->ingest_ns;
		s->late(s->arg, ev, s->wm);
		return 0;
	}

	uint64_t kh = ls_hash64(s->kbuf, (size_t)kl, KEY_SEED);
	uint32_t gi = grp_find(s, s->kbuf, (uint32_t)kl, kh);
	uint32_t left, right;
	find_near(s, gi, t, &left, &right);
	ls_str m = ls_str_make(ev->message.ptr, msg_len(ev->message));
	ls_str pv;
	int has_path = s->spec.path_len > 0 &&
	    ls_event_field(ev, s->spec.path_field, s->spec.path_len, &pv);
	uint64_t ph = has_path ? ls_hash64(pv.ptr, pv.len, PATH_SEED) : 0;

	/* allocate everything first */
	if (reserve(s) != 0)
		return LS_ENOMEM;
	unsigned char *key = NULL;
	if (gi == NONE && (key = malloc(kl > 0 ? (size_t)kl : 1)) == NULL)
		return LS_ENOMEM;
	uint8_t *spare = NULL;
	int need_spare = 0;
	uint32_t target = left;
	uint32_t need_msg = 2 * m.len;
	if (left != NONE) {
		const struct sess *l = &s->ss[left];
		const struct sess *r = right != NONE ? &s->ss[right] : NULL;
		const struct sess *e = r != NULL ? r : l; /* holds the end */
		int first = t < l->start ||
		    (t == l->start && bytes_cmp(m.ptr, m.len, l->msg, l->flen) < 0);
		int last = t > e->end ||
		    (t == e->end && bytes_cmp(m.ptr, m.len, e->msg + e->flen,
		                        e->llen) > 0);
		/* room for every step: the merge, then the new first, then
		 * the new last */
		uint32_t nf = first ? m.len : l->flen, nl = last ? m.len : e->llen;
		need_msg = (nf > l->flen ? nf : l->flen) +
		    (nl > e->llen ? nl : e->llen);
		uint32_t n = l->nset;
		if (r != NULL && l->nset != HLL_TAG && r->nset != HLL_TAG)
			n = union_size(l, r);
		if (n != HLL_TAG && has_path && (r == NULL || r->nset != HLL_TAG)) {
			int dup = set_has(l, ph) || (r != NULL && set_has(r, ph));
			n += !dup;
		}
		need_spare = n != HLL_TAG && n > LS_SESSION_EXACT_MAX &&
		    (r == NULL || r->nset != HLL_TAG);
		if (msg_reserve(&s->ss[left], need_msg) != 0) {
			free(key);
			return LS_ENOMEM;
		}
	}
	if (need_spare && (spare = malloc(HLL_M)) == NULL) {
		free(key);
		return LS_ENOMEM;
	}
	if (left == NONE) {
		/* a new session: its slot's buffer must hold the message twice */
		uint32_t i = s->sfree != NONE ? s->sfree : s->nss;
		if (msg_reserve(&s->ss[i], need_msg) != 0) {
			free(key);
			return LS_ENOMEM;
		}
	}

	/* nothing fails from here on */
	if (gi == NONE) {
		gi = s->gfree != NONE ? s->gfree : s->ngs++;
		if (gi == s->gfree)
			s->gfree = s->gs[gi].head;
		struct grp *g = &s->gs[gi];
		memcpy(key, s->kbuf, (size_t)kl);
		g->key = key;
		g->klen = (uint32_t)kl;
		g->hash = kh;
		g->head = NONE;
		slot_put(s->slot, s->nslot, kh, gi);
		s->live_groups++;
	}
	if (target == NONE) {
		target = sess_alloc(s);
		struct sess *x = &s->ss[target];
		x->group = gi;
		x->id = s->next_id++;
		/* insert by start */
		uint32_t *pp = &s->gs[gi].head;
		while (*pp != NONE && s->ss[*pp].start < t)
			pp = &s->ss[*pp].next;
		x->next = *pp;
		*pp = target;
		take_event(s, target, ev, t, m, has_path, ph, spare);
		heap_push(s, deadline(s, x), target, x->gen);
	} else {
		if (right != NONE) {
			struct sess *l = &s->ss[left], *r = &s->ss[right];
			l->end = r->end;
			msg_set_last(l, r->msg + r->flen, r->llen);
			l->events += r->events;
			for (uint32_t k = 0; k < s->spec.ncounters; k++)
				s->ctr[(size_t)left * s->spec.ncounters + k] +=
				    s->ctr[(size_t)right * s->spec.ncounters + k];
			if (s->spec.path_len > 0)
				distinct_merge(l, r, spare);
			if (l->nset == HLL_TAG && spare != NULL &&
			    l->d.hll == spare)
				spare = NULL;
			if (r->handed)
				s->gone[s->ngone++] = r->id;
			sess_free(s, right);
			s->merged++;
		}
		take_event(s, left, ev, t, m, has_path, ph, spare);
	}
	if (s->ss[target].nset == HLL_TAG && s->ss[target].d.hll == spare)
		spare = NULL;
	free(spare);

	s->events++;
	if (ev->ingest_ns != LS_TIME_UNKNOWN && ev->ingest_ns > s->last_ingest)
		s->last_ingest = ev->ingest_ns;
	if (t > s->max_t) {
		s->max_t = t;
		int64_t cand = ls_i64_sub_sat(t, s->delay_ns);
		if (!s->manual && cand > s->wm) {
			s->wm = cand;
			close_due(s);
		}
	}
	return 0;
}

void
ls_session_set_manual_watermark(ls_session *s, int manual)
{
	s->manual = manual != 0;
}

size_t
ls_session_advance(ls_session *s, int64_t watermark_ns)
{
	if (watermark_ns <= s->wm)
		return 0;
	s->wm = watermark_ns;
	return close_due(s);
}

size_t
ls_session_idle(ls_session *s, int64_t now_ns)
{
	if (s->max_t == INT64_MIN || s->last_ingest == INT64_MIN ||
	    now_ns <= s->last_ingest)
		return 0;
	int64_t idle = ls_i64_sub_sat(now_ns, s->last_ingest);
	if (idle < s->idle_ns)
		return 0;
	return ls_session_advance(s,
	    ls_i64_sub_sat(ls_i64_add_sat(s->max_t, idle), s->delay_ns));
}

size_t
ls_session_flush(ls_session *s)
{
	uint32_t n = 0;
	int64_t top = s->wm;
	if (reserve_gone(s) != 0)
		return 0;
	for (uint32_t i = 0; i < s->nss; i++) {
		if (!s->ss[i].live)
			continue;
		int64_t d = deadline(s, &s->ss[i]);
		if (d >= top)
			top = ls_i64_add_sat(d, 1);
		s->cl[n++] = i;
	}
	s->wm = top;
	s->nheap = 0;
	return emit_closed(s, n);
}

int
ls_session_query(ls_session *s, int64_t from_ns, int64_t to_ns,
    ls_session_emit_fn fn, void *arg)
{
	return ls_session_query_some(s, from_ns, to_ns, NULL, 0, fn, arg);
}

/* The open sessions of one key, in start order (its group's list). */
static int
query_key(ls_session *s, int64_t from_ns, int64_t to_ns, const ls_str *keys,
    ls_session_emit_fn fn, void *arg)
{
	size_t hdr = 2 * (size_t)s->spec.nkey, len = hdr;
	for (uint32_t i = 0; i < s->spec.nkey; i++) {
		if (keys[i].len > LS_SESSION_KEY_MAX - (len - hdr))
			return 0; /* no group has such a key */
		ls_le_put(s->kbuf + 2 * (size_t)i, keys[i].len, 2);
		if (keys[i].len > 0)
			memcpy(s->kbuf + len, keys[i].ptr, keys[i].len);
		len += keys[i].len;
	}
	uint32_t g = grp_find(s, s->kbuf, (uint32_t)len,
	    ls_hash64(s->kbuf, len, KEY_SEED));
	if (g == NONE)
		return 0;
	for (uint32_t i = s->gs[g].head; i != NONE; i = s->ss[i].next) {
		const struct sess *x = &s->ss[i];
		if (x->start < to_ns && x->end >= from_ns) {
			ls_session_result r;
			fill_result(s, i, &r);
			fn(arg, &r);
		}
	}
	return 0;
}

int
ls_session_query_some(ls_session *s, int64_t from_ns, int64_t to_ns,
    const ls_str *keys, uint32_t nkeys, ls_session_emit_fn fn, void *arg)
{
	uint32_t n = 0;
	if (fn == NULL || (keys != NULL && nkeys != s->spec.nkey))
		return LS_EINVAL;
	if (keys != NULL)
		return query_key(s, from_ns, to_ns, keys, fn, arg);
	uint32_t *ix = malloc((s->nss ? s->nss : 1) * sizeof(*ix));
	if (ix == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < s->nss; i++) {
		const struct sess *x = &s->ss[i];
		if (x->live && x->start < to_ns && x->end >= from_ns)
			ix[n++] = i;
	}
	if (n > 1)
		qsort_r(ix, n, sizeof(*ix), close_cmp, s);
	for (uint32_t k = 0; k < n; k++) {
		ls_session_result r;
		fill_result(s, ix[k], &r);
		fn(arg, &r);
	}
	free(ix);
	return 0;
}

void
ls_session_get_stats(const ls_session *s, ls_session_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->events = s->events;
	out->late = s->late_n;
	out->emitted = s->emitted;
	out->merged = s->merged;
	out->open = s->nopen;
	out->keys = s->live_groups;
	out->watermark_ns = s->wm;
	out->max_time_ns = s->max_t;
	size_t nc = s->spec.ncounters ? s->spec.ncounters : 1;
	uint64_t b = sizeof(*s) + (uint64_t)s->capss *
	        (sizeof(*s->ss) + nc * sizeof(uint64_t) + sizeof(uint32_t)) +
	    (uint64_t)s->capgs * sizeof(*s->gs) +
	    (uint64_t)s->nslot * sizeof(uint32_t) +
	    (uint64_t)s->capheap * sizeof(*s->heap) +
	    (uint64_t)s->capgone * sizeof(uint64_t) + s->partcap;
	for (uint32_t i = 0; i < s->nss; i++) {
		b += s->ss[i].mcap;
		if (s->ss[i].live && s->ss[i].nset == HLL_TAG)
			b += HLL_M;
	}
	for (uint32_t i = 0; i < s->ngs; i++)
		if (s->gs[i].key != NULL)
			b += s->gs[i].klen;
	out->mem_bytes = b;
}

/* ---- parts ----
 *
 * Meta part (little endian), 96 bytes:
 *   0   4  "LSSM"            4  2  version 1        6  2  flags 0
 *   8   8  spec fingerprint  16 8  watermark        24 8  largest time
 *   32  8  last ingest       40 8  next id          48 8  events
 *   56  8  late              64 8  emitted          72 8  merged
 *   80  4  bit 0: manual watermark                  84 4  reserved, 0
 *   88  8  XXH3-64 of bytes 0..88 (seed PART_SEED)
 *
 * Session part:
 *   0   8  id                8  8  start            16 8  end
 *   24  8  events            32 1  nset (0..8, 255 = HLL)
 *   33  1  counters          34 2  first length     36 2  last length
 *   38  2  key length K      40 K  encoded key (nkey x u16 lengths, bytes)
 *   then 8 x nset hashes (sorted) or 2^P registers, 8 x counters,
 *   the first message, the last message, and 8 bytes XXH3-64 of all before.
 */
#define META_LEN 96
#define META_MAGIC "LSSM"
#define SESS_HDR 40

static uint8_t *
part_buf(ls_session *s, size_t need)
{
	if (need > s->partcap) {
		uint8_t *n = realloc(s->part, need);
		if (n == NULL)
			return NULL;
		s->part = n;
		s->partcap = need;
	}
	return s->part;
}

static void
encode_meta(const ls_session *s, uint8_t *p)
{
	memset(p, 0, META_LEN);
	memcpy(p, META_MAGIC, 4);
	ls_le_put(p + 4, 1, 2);
	ls_le_put(p + 8, spec_hash(&s->spec), 8);
	ls_le_put(p + 16, (uint64_t)s->wm, 8);
	ls_le_put(p + 24, (uint64_t)s->max_t, 8);
	ls_le_put(p + 32, (uint64_t)s->last_ingest, 8);
	ls_le_put(p + 40, s->next_id, 8);
	ls_le_put(p + 48, s->events, 8);
	ls_le_put(p + 56, s->late_n, 8);
	ls_le_put(p + 64, s->emitted, 8);
	ls_le_put(p + 72, s->merged, 8);
	ls_le_put(p + 80, (uint64_t)s->manual, 4);
	ls_le_put(p + 88, ls_hash64(p, 88, PART_SEED), 8);
}

static size_t
sess_part_len(const ls_session *s, uint32_t i)
{
	const struct sess *x = &s->ss[i];
	size_t d = x->nset == HLL_TAG ? HLL_M : 8 * (size_t)x->nset;
	return SESS_HDR + s->gs[x->group].klen + d + 8 * s->spec.ncounters +
	    x->flen + x->llen + 8;
}

static void
encode_sess(const ls_session *s, uint32_t i, uint8_t *p)
{
	const struct sess *x = &s->ss[i];
	const struct grp *g = &s->gs[x->group];
	uint8_t *q = p + SESS_HDR;
	ls_le_put(p, x->id, 8);
	ls_le_put(p + 8, (uint64_t)x->start, 8);
	ls_le_put(p + 16, (uint64_t)x->end, 8);
	ls_le_put(p + 24, x->events, 8);
	p[32] = x->nset;
	p[33] = (uint8_t)s->spec.ncounters;
	ls_le_put(p + 34, x->flen, 2);
	ls_le_put(p + 36, x->llen, 2);
	ls_le_put(p + 38, g->klen, 2);
	memcpy(q, g->key, g->klen);
	q += g->klen;
	if (x->nset == HLL_TAG) {
		memcpy(q, x->d.hll, HLL_M);
		q += HLL_M;
	} else {
		for (uint8_t k = 0; k < x->nset; k++, q += 8)
			ls_le_put(q, x->d.set[k], 8);
	}
	for (uint32_t k = 0; k < s->spec.ncounters; k++, q += 8)
		ls_le_put(q, s->ctr[(size_t)i * s->spec.ncounters + k], 8);
	if (x->flen + x->llen > 0)
		memcpy(q, x->msg, (size_t)x->flen + x->llen);
	q += x->flen + x->llen;
	ls_le_put(q, ls_hash64(p, (size_t)(q - p), PART_SEED), 8);
}

int
ls_session_save_changed(ls_session *s, int all, ls_session_part_fn fn,
    void *arg)
{
	uint8_t *p = part_buf(s, META_LEN);
	if (p == NULL)
		return LS_ENOMEM;
	encode_meta(s, p);
	int rc = fn(arg, 1, 0, p, META_LEN);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < s->nss; i++) {
		if (!s->ss[i].live || (!all && !s->ss[i].dirty))
			continue;
		size_t len = sess_part_len(s, i);
		if ((p = part_buf(s, len)) == NULL)
			return LS_ENOMEM;
		encode_sess(s, i, p);
		if ((rc = fn(arg, 0, s->ss[i].id, p, len)) != 0)
			return rc;
	}
	for (uint32_t k = 0; k < s->ngone; k++)
		if ((rc = fn(arg, 0, s->gone[k], NULL, 0)) != 0)
			return rc;
	for (uint32_t i = 0; i < s->nss; i++)
		if (s->ss[i].live && (all || s->ss[i].dirty)) {
			s->ss[i].dirty = 0;
			s->ss[i].handed = 1;
		}
	s->ngone = 0;
	return 0;
}

/* Keys of the state: "m" the meta part, 'S' + id big-endian a session. */
#define SESS_KEY_LEN 9

static void
sess_key(uint64_t id, uint8_t k[SESS_KEY_LEN])
{
	k[0] = 'S';
	for (int i = 0; i < 8; i++)
		k[1 + i] = (uint8_t)(id >> (56 - 8 * i));
}

static int
sync_part(void *arg, int is_meta, uint64_t id, const uint8_t *part,
    size_t len)
{
	uint8_t k[SESS_KEY_LEN];
	if (is_meta)
		return ls_state_put(arg, "m", 1, part, len);
	sess_key(id, k);
	return part != NULL ? ls_state_put(arg, k, sizeof(k), part, len)
	                    : ls_state_delete(arg, k, sizeof(k));
}

int
ls_session_sync(ls_session *s, ls_state *st, int all)
{
	return ls_session_save_changed(s, all, sync_part, st);
}

/* ---- loading ---- */

/* Check one session part against the spec and the meta; fill what the
 * caller needs to build it.  0 or LS_ECORRUPT. */
typedef struct dec {
	uint64_t id, events;
	int64_t start, end;
	uint8_t nset;
	uint16_t flen, llen, klen;
	const uint8_t *key, *dist, *ctr, *msg;
	uint64_t khash;
} dec;

static int
decode_sess(const ls_session *s, const uint8_t *p, size_t len, dec *d)
{
	if (len < SESS_HDR + 8 ||
	    ls_le_get(p + len - 8, 8) != ls_hash64(p, len - 8, PART_SEED))
		return LS_ECORRUPT;
	d->id = ls_le_get(p, 8);
	d->start = (int64_t)ls_le_get(p + 8, 8);
	d->end = (int64_t)ls_le_get(p + 16, 8);
	d->events = ls_le_get(p + 24, 8);
	d->nset = p[32];
	d->flen = (uint16_t)ls_le_get(p + 34, 2);
	d->llen = (uint16_t)ls_le_get(p + 36, 2);
	d->klen = (uint16_t)ls_le_get(p + 38, 2);
	if (p[33] != s->spec.ncounters ||
	    (d->nset > LS_SESSION_EXACT_MAX && d->nset != HLL_TAG) ||
	    d->flen > LS_SESSION_MSG_MAX || d->llen > LS_SESSION_MSG_MAX ||
	    d->events == 0 || d->start > d->end || d->start < -TIME_LIMIT ||
	    d->end > TIME_LIMIT || d->id == 0 ||
	    bucket_end(s, d->start) != bucket_end(s, d->end) ||
	    (d->events == 1 && d->start != d->end))
		return LS_ECORRUPT;
	size_t dl = d->nset == HLL_TAG ? HLL_M : 8 * (size_t)d->nset;
	size_t want = SESS_HDR + (size_t)d->klen + dl +
	    8 * (size_t)s->spec.ncounters + d->flen + d->llen + 8;
	if (want != len)
		return LS_ECORRUPT;
	d->key = p + SESS_HDR;
	d->dist = d->key + d->klen;
	d->ctr = d->dist + dl;
	d->msg = d->ctr + 8 * (size_t)s->spec.ncounters;
	/* the key: nkey u16 lengths adding up */
	size_t hdr = 2 * (size_t)s->spec.nkey, sum = hdr;
	if (d->klen < hdr)
		return LS_ECORRUPT;
	for (uint32_t i = 0; i < s->spec.nkey; i++)
		sum += ls_le_get(d->key + 2 * (size_t)i, 2);
	if (sum != d->klen || sum - hdr > LS_SESSION_KEY_MAX)
		return LS_ECORRUPT;
	if (s->spec.path_len == 0 && d->nset != 0)
		return LS_ECORRUPT;
	if (d->nset == HLL_TAG) {
		for (uint32_t i = 0; i < HLL_M; i++)
			if (d->dist[i] > 64 - LS_SESSION_HLL_P + 1)
				return LS_ECORRUPT;
	} else {
		if (d->nset > d->events)
			return LS_ECORRUPT;
		for (uint8_t i = 1; i < d->nset; i++)
			if (ls_le_get(d->dist + 8 * (size_t)i, 8) <=
			    ls_le_get(d->dist + 8 * (size_t)(i - 1), 8))
				return LS_ECORRUPT;
	}
	for (uint32_t k = 0; k < s->spec.ncounters; k++)
		if (ls_le_get(d->ctr + 8 * (size_t)k, 8) > d->events)
			return LS_ECORRUPT;
	d->khash = ls_hash64(d->key, d->klen, KEY_SEED);
	return 0;
}

static int
dec_cmp(const void *pa, const void *pb)
{
	const dec *a = pa, *b = pb;
	if (a->khash != b->khash)
		return a->khash < b->khash ? -1 : 1;
	int c = bytes_cmp((const char *)a->key, a->klen, (const char *)b->key,
	    b->klen);
	if (c != 0)
		return c;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

static int
u64_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return (a > b) - (a < b);
}

/* Session ids are unique across keys.  0, LS_ECORRUPT or LS_ENOMEM. */
static int
ids_unique(const dec *d, size_t n)
{
	if (n < 2)
		return 0;
	uint64_t *ids = malloc(n * sizeof(*ids));
	if (ids == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < n; i++)
		ids[i] = d[i].id;
	qsort(ids, n, sizeof(*ids), u64_cmp);
	int rc = 0;
	for (size_t i = 1; i < n && rc == 0; i++)
		if (ids[i] == ids[i - 1])
			rc = LS_ECORRUPT;
	free(ids);
	return rc;
}

int
ls_session_load_parts(ls_session *s, const uint8_t *meta, size_t mlen,
    const uint8_t *const *parts, const size_t *lens, size_t n)
{
	ls_session *t;
	dec *d = NULL;
	int rc;

	if (meta == NULL) {
		if (n != 0)
			return LS_ECORRUPT;
	} else {
		if (mlen != META_LEN || memcmp(meta, META_MAGIC, 4) != 0 ||
		    ls_le_get(meta + 88, 8) != ls_hash64(meta, 88, PART_SEED))
			return LS_ECORRUPT;
		if (ls_le_get(meta + 4, 2) != 1)
			return LS_ENOTSUP;
		if (ls_le_get(meta + 6, 2) != 0 ||
		    ls_le_get(meta + 80, 4) > 1 || ls_le_get(meta + 84, 4) != 0)
			return LS_ECORRUPT;
		if (ls_le_get(meta + 8, 8) != spec_hash(&s->spec))
			return LS_EINVAL;
	}
	rc = ls_session_new(&t, &s->spec, s->delay_ns / MS, s->idle_ns / MS,
	    s->emit, s->late, s->arg);
	if (rc != 0)
		return rc;
	t->manual = s->manual; /* a fresh state keeps how it is driven */
	if (meta != NULL) {
		t->wm = (int64_t)ls_le_get(meta + 16, 8);
		t->max_t = (int64_t)ls_le_get(meta + 24, 8);
		t->last_ingest = (int64_t)ls_le_get(meta + 32, 8);
		t->next_id = ls_le_get(meta + 40, 8);
		t->events = ls_le_get(meta + 48, 8);
		t->late_n = ls_le_get(meta + 56, 8);
		t->emitted = ls_le_get(meta + 64, 8);
		t->merged = ls_le_get(meta + 72, 8);
		t->manual = (int)ls_le_get(meta + 80, 4);
		if (t->late_n > t->events || t->next_id == 0 ||
		    t->next_id - 1 < n) {
			rc = LS_ECORRUPT;
			goto out;
		}
	}
	if (n > 0 && (d = calloc(n, sizeof(*d))) == NULL) {
		rc = LS_ENOMEM;
		goto out;
	}
	uint64_t open_events = 0;
	for (size_t i = 0; i < n; i++) {
		if ((rc = decode_sess(t, parts[i], lens[i], &d[i])) != 0)
			goto out;
		if (d[i].id >= t->next_id || d[i].end > t->max_t ||
		    deadline(t, &(struct sess){ .start = d[i].start,
		                    .end = d[i].end }) < t->wm) {
			rc = LS_ECORRUPT; /* not one this state could hold open */
			goto out;
		}
		open_events += d[i].events;
	}
	if (open_events > t->events - t->late_n) {
		rc = LS_ECORRUPT;
		goto out;
	}
	/* by key then start: sessions of a key must be apart */
	if (n > 1)
		qsort(d, n, sizeof(*d), dec_cmp);
	for (size_t i = 1; i < n; i++) {
		if (d[i].khash == d[i - 1].khash && d[i].klen == d[i - 1].klen &&
		    memcmp(d[i].key, d[i - 1].key, d[i].klen) == 0 &&
		    bucket_end(t, d[i].start) == bucket_end(t, d[i - 1].end) &&
		    d[i].start <= ls_i64_add_sat(d[i - 1].end, t->gap_ns)) {
			rc = LS_ECORRUPT; /* they would be one session */
			goto out;
		}
	}
	if ((rc = ids_unique(d, n)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const dec *e = &d[i];
		if ((rc = reserve(t)) != 0)
			goto out;
		uint32_t gi = grp_find(t, e->key, e->klen, e->khash);
		if (gi == NONE) {
			unsigned char *key = malloc(e->klen > 0 ? e->klen : 1);
			if (key == NULL) {
				rc = LS_ENOMEM;
				goto out;
			}
			gi = t->gfree != NONE ? t->gfree : t->ngs++;
			if (gi == t->gfree)
				t->gfree = t->gs[gi].head;
			memcpy(key, e->key, e->klen);
			t->gs[gi] = (struct grp){ e->khash, key, e->klen, NONE };
			slot_put(t->slot, t->nslot, e->khash, gi);
			t->live_groups++;
		}
		uint32_t si = t->sfree != NONE ? t->sfree : t->nss;
		if ((rc = msg_reserve(&t->ss[si],
		         (uint32_t)e->flen + e->llen)) != 0)
			goto out;
		uint8_t *reg = NULL;
		if (e->nset == HLL_TAG && (reg = malloc(HLL_M)) == NULL) {
			rc = LS_ENOMEM;
			goto out;
		}
		si = sess_alloc(t);
		struct sess *x = &t->ss[si];
		x->id = e->id;
		x->start = e->start;
		x->end = e->end;
		x->events = e->events;
		x->group = gi;
		x->handed = 1;
		if (reg != NULL) {
			memcpy(reg, e->dist, HLL_M);
			x->d.hll = reg;
			x->nset = HLL_TAG;
		} else {
			for (uint8_t k = 0; k < e->nset; k++)
				x->d.set[k] = ls_le_get(e->dist + 8 * (size_t)k, 8);
			x->nset = e->nset;
		}
		for (uint32_t k = 0; k < t->spec.ncounters; k++)
			t->ctr[(size_t)si * t->spec.ncounters + k] =
			    ls_le_get(e->ctr + 8 * (size_t)k, 8);
		if (e->flen + e->llen > 0)
			memcpy(x->msg, e->msg, (size_t)e->flen + e->llen);
		x->flen = e->flen;
		x->llen = e->llen;
		/* sorted input: append keeps the group's list by start */
		uint32_t *pp = &t->gs[gi].head;
		while (*pp != NONE)
			pp = &t->ss[*pp].next;
		*pp = si;
		heap_push(t, deadline(t, x), si, x->gen);
	}
	/* swap t's contents into s */
	{
		ls_session tmp = *s;
		uint8_t *part = s->part;
		size_t partcap = s->partcap;
		*s = *t;
		s->part = part;
		s->partcap = partcap;
		*t = tmp;
		t->part = NULL;
		t->partcap = 0;
		ls_session_free(t);
		t = NULL;
	}
	rc = 0;
out:
	free(d);
	if (t != NULL)
		ls_session_free(t);
	return rc;
}

/* ---- the state from an ls_state handle ---- */

int
ls_session_load(ls_session *s, ls_state *st)
{
	ls_parts ps = { 0 };
	void *meta = NULL;
	size_t mlen = 0;
	int rc = ls_state_get(st, "m", 1, &meta, &mlen);
	if (rc == LS_ENOENT)
		return ls_session_load_parts(s, NULL, 0, NULL, NULL, 0);
	if (rc == 0)
		rc = ls_parts_scan(st, "S", 1, "T", 1, SESS_KEY_LEN, &ps);
	if (rc == 0)
		rc = ls_session_load_parts(s, meta, mlen,
		    (const uint8_t *const *)ps.p, ps.len, ps.n);
	ls_parts_fini(&ps);
	free(meta);
	return rc;
}

/* ---- the whole state as one blob (pipelines without a store) ----
 *
 *   0  4  "LSSB"     4  4  n, session parts (u32)
 *   8  …  (n + 1) x { u32 length, part }: the meta part, then the sessions
 */
#define BLOB_MAGIC "LSSB"

typedef struct blob {
	uint8_t *p;
	size_t len, cap;
	uint32_t n;
} blob;

static int
blob_part(void *arg, int is_meta, uint64_t id, const uint8_t *part,
    size_t len)
{
	blob *b = arg;
	(void)id;
	if (part == NULL)
		return 0; /* a blob holds what is open, nothing is gone */
	if (len > UINT32_MAX)
		return LS_ERANGE;
	size_t need = b->len + 4 + len;
	if (need > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < need)
			nc *= 2;
		uint8_t *np = realloc(b->p, nc);
		if (np == NULL)
			return LS_ENOMEM;
		b->p = np;
		b->cap = nc;
	}
	ls_le_put(b->p + b->len, len, 4);
	memcpy(b->p + b->len + 4, part, len);
	b->len = need;
	b->n += !is_meta;
	return 0;
}

int
ls_session_save(ls_session *s, uint8_t **buf, size_t *len)
{
	blob b = { 0 };
	int rc;
	if ((b.p = malloc(256)) == NULL)
		return LS_ENOMEM;
	b.cap = 256;
	b.len = 8; /* the header, written last */
	/* a walk over every open session; the marks of s are not changed */
	uint8_t *meta = part_buf(s, META_LEN);
	if (meta == NULL) {
		free(b.p);
		return LS_ENOMEM;
	}
	encode_meta(s, meta);
	rc = blob_part(&b, 1, 0, meta, META_LEN);
	for (uint32_t i = 0; i < s->nss && rc == 0; i++) {
		if (!s->ss[i].live)
			continue;
		size_t pl = sess_part_len(s, i);
		uint8_t *p = part_buf(s, pl);
		if (p == NULL) {
			rc = LS_ENOMEM;
			break;
		}
		encode_sess(s, i, p);
		rc = blob_part(&b, 0, s->ss[i].id, p, pl);
	}
	if (rc != 0) {
		free(b.p);
		return rc;
	}
	memcpy(b.p, BLOB_MAGIC, 4);
	ls_le_put(b.p + 4, b.n, 4);
	*buf = b.p;
	*len = b.len;
	return 0;
}

int
ls_session_restore(ls_session *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	if (len < 12 || memcmp(p, BLOB_MAGIC, 4) != 0)
		return LS_ECORRUPT;
	uint64_t n = ls_le_get(p + 4, 4);
	if (n > (len - 8) / 4)
		return LS_ECORRUPT;
	const uint8_t **pp = malloc((size_t)(n + 1) * sizeof(*pp));
	size_t *ll = malloc((size_t)(n + 1) * sizeof(*ll));
	int rc = 0;
	size_t off = 8;
	if (pp == NULL || ll == NULL)
		rc = LS_ENOMEM;
	for (uint64_t i = 0; i <= n && rc == 0; i++) {
		if (len - off < 4) {
			rc = LS_ECORRUPT;
			break;
		}
		size_t pl = (size_t)ls_le_get(p + off, 4);
		off += 4;
		if (pl > len - off) {
			rc = LS_ECORRUPT;
			break;
		}
		pp[i] = p + off;
		ll[i] = pl;
		off += pl;
	}
	if (rc == 0 && off != len)
		rc = LS_ECORRUPT;
	if (rc == 0)
		rc = ls_session_load_parts(s, pp[0], ll[0], pp + 1, ll + 1,
		    (size_t)n);
	free(pp);
	free(ll);
	return rc;
}

/* ---- results as records ---- */

int
ls_session_schema(const ls_session_spec *spec, ls_rec_schema *out)
{
	int rv;
	if ((rv = ls_rec_schema_add(out, "session_start", LS_REC_TIME,
	         LS_REC_ID)) != 0 ||
	    (rv = ls_rec_schema_add(out, "session_end", LS_REC_TIME,
	         LS_REC_NOTABLE)) != 0)
		return rv;
	for (uint32_t k = 0; k < spec->nkey; k++)
		if ((rv = ls_rec_schema_add(out, spec->key_fields[k],
		         LS_REC_STRING, LS_REC_KEY)) != 0)
			return rv;
	if (spec->nkey == 0) { /* an empty "key" object */
		out->keyed = 1;
		out->key_at = out->n;
	}
	if ((rv = ls_rec_schema_add(out, "duration_ms", LS_REC_INT, 0)) != 0 ||
	    (rv = ls_rec_schema_add(out, "events", LS_REC_INT, 0)) != 0)
		return rv;
	if (spec->path_len > 0 &&
	    (rv = ls_rec_schema_add(out, spec->distinct_name, LS_REC_INT,
	         0)) != 0)
		return rv;
	for (uint32_t c = 0; c < spec->ncounters; c++)
		if ((rv = ls_rec_schema_add(out, spec->counters[c].name,
		         LS_REC_INT, 0)) != 0)
			return rv;
	if ((rv = ls_rec_schema_add(out, "first_message", LS_REC_STRING,
	         LS_REC_NOTABLE)) != 0)
		return rv;
	return ls_rec_schema_add(out, "last_message", LS_REC_STRING,
	    LS_REC_NOTABLE);
}

int
ls_session_record(const ls_session_spec *spec, const ls_session_result *r,
    ls_records *out)
{
	ls_rec_value *v = ls_records_add(out);
	uint32_t f = 2;
	if (v == NULL)
		return LS_ENOMEM;
	v[0].i = r->start_ns;
	v[1].i = r->end_ns;
	v[0].null = v[1].null = 0;
	for (uint32_t k = 0; k < spec->nkey; k++, f++)
		if (ls_records_set_str(out, &v[f], r->keys[k].ptr,
		        r->keys[k].len) != 0)
			goto oom;
	v[f].i = (r->end_ns - r->start_ns) / MS;
	v[f++].null = 0;
	v[f].i = (int64_t)r->events;
	v[f++].null = 0;
	if (spec->path_len > 0) {
		v[f].i = (int64_t)r->distinct;
		v[f++].null = 0;
	}
	for (uint32_t c = 0; c < spec->ncounters; c++, f++) {
		v[f].i = (int64_t)r->counter[c];
		v[f].null = 0;
	}
	if (ls_records_set_str(out, &v[f], r->first_message.ptr,
	        r->first_message.len) != 0 ||
	    ls_records_set_str(out, &v[f + 1], r->last_message.ptr,
	        r->last_message.len) != 0)
		goto oom;
	return 0;
oom:
	out->n--;
	return LS_ENOMEM;
}
