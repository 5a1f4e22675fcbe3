/*
 * window_fuzz.c -- libFuzzer driver for window snapshots (ls_window_load in
 * actors/window.h).
 *
 * Input: byte 0 chooses the window's spec (bits 0-1, one of four below) and
 * whether to reseal the rest (bit 2: rewrite its total length and checksum
 * as docs/windows.md defines them, so that mutations reach the structural
 * checks behind the checksum); bytes 1.. are the snapshot.  Checks the
 * contract: load returns 0, LS_ECORRUPT, LS_ENOTSUP or LS_EINVAL (another
 * spec) and nothing else; a snapshot that loads saves back to the very same
 * bytes; the loaded window then takes events, an idle tick, an advance and
 * a flush, and load(save(w)) into a fresh window saves the same bytes again.
 * The loaded state also goes through its incremental parts (meta and every
 * window, ls_window_save_changed) into a fresh window, which must save the
 * same bytes.  With bit 7 of byte 0 set, bytes 1.. are parts instead
 * (u32 little-endian length + bytes, repeated, the meta part first) for
 * ls_window_load_parts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/window.h"
#include "runtime/err.h"
#include "runtime/hash.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MS      INT64_C(1000000)
#define SEED    UINT64_C(0x6c7377736e617031) /* docs/windows.md */
#define HDR     16
#define TRAILER 8

static volatile unsigned sink;

static void
on_emit(void *arg, const ls_window_result *r)
{
	unsigned acc = 0;

	(void)arg;
	FUZZ_ASSERT(r->nkeys <= LS_WINDOW_MAX_KEYS);
	FUZZ_ASSERT(r->naggs <= LS_WINDOW_MAX_AGGS);
	FUZZ_ASSERT(r->end_ns > r->start_ns && r->count > 0);
	for (uint32_t i = 0; i < r->nkeys; i++) {
		for (uint32_t j = 0; j < r->keys[i].len; j++)
			acc += (unsigned char)r->keys[i].ptr[j];
	}
	sink += acc;
}

static void
on_late(void *arg, const ls_event *ev, int64_t window_start, int64_t wm)
{
	(void)arg;
	(void)ev;
	sink += (unsigned)(window_start ^ wm);
}

typedef struct fspec {
	int64_t size_ms, grace_ms, delay_ms, idle_ms;
	const char *keys[2];
	size_t nkey;
	const char *aggs[6];
	size_t naggs;
	int upd;
} fspec;

static const fspec specs[4] = {
	{ 1000, 300, 500, 2000, { "service", "level" }, 2,
	    { "count", "sum(latency_ms)", "min(latency_ms)", "max(latency_ms)",
	        "avg(latency_ms)", "count(bytes)" },
	    6, 0 },
	{ 1000, 300, 500, 2000, { "service", "level" }, 2,
	    { "count", "sum(latency_ms)", "min(latency_ms)", "max(latency_ms)",
	        "avg(latency_ms)", "count(bytes)" },
	    6, 1 },
	{ 1, 0, 0, 0, { NULL }, 0, { "count" }, 1, 0 },
	{ 60000, 5000, 1000, 10000, { "host" }, 1,
	    { "max(bytes)", "sum(bytes)" }, 2, 0 },
};

static ls_window *
make(int s)
{
	ls_window_spec spec;
	ls_window *w = NULL;
	const fspec *f = &specs[s];

	if (ls_window_spec_init(&spec, f->size_ms, f->grace_ms, f->keys,
	        f->nkey, f->aggs, f->naggs, f->upd, NULL, 0) != 0 ||
	    ls_window_new(&w, &spec, f->delay_ms, f->idle_ms, on_emit, on_late,
	        NULL) != 0)
		return NULL;
	return w;
}

static int64_t
sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static void
check_same_save(const ls_window *w, const uint8_t *want, size_t len)
{
	uint8_t *buf = NULL;
	size_t n = 0;

	if (ls_window_save(w, &buf, &n) != 0)
		return; /* out of memory */
	FUZZ_ASSERT(n == len && memcmp(buf, want, len) == 0);
	free(buf);
}

/* load(save(w)) into a fresh window of the same spec saves the same bytes
 * and has the same counters. */
static void
round_trip(const ls_window *w, int s)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	ls_window *w2;
	ls_window_stats a, b;

	if (ls_window_save(w, &buf, &len) != 0)
		return;
	if ((w2 = make(s)) != NULL) {
		FUZZ_ASSERT(ls_window_load(w2, buf, len) == 0);
		check_same_save(w2, buf, len);
		ls_window_get_stats(w, &a);
		ls_window_get_stats(w2, &b);
		FUZZ_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);
		ls_window_free(w2);
	}
	free(buf);
}

/* The state as parts (meta + every open window, save_changed with
 * all = 1) loads into a fresh window that saves the same snapshot. */
#define MAX_PARTS 64
typedef struct parts {
	uint8_t *p[MAX_PARTS];
	size_t len[MAX_PARTS];
	size_t n;
} parts;

static int
take_part(void *arg, int64_t start, const uint8_t *part, size_t len)
{
	parts *ps = arg;
	(void)start;
	if (part == NULL || ps->n == MAX_PARTS)
		return part == NULL ? 0 : LS_ERANGE;
	if ((ps->p[ps->n] = malloc(len)) == NULL)
		return LS_ENOMEM;
	memcpy(ps->p[ps->n], part, len);
	ps->len[ps->n++] = len;
	return 0;
}

static void
parts_trip(ls_window *w, int s)
{
	parts ps = { .n = 0 };
	uint8_t *meta = NULL, *snap = NULL;
	size_t mlen = 0, slen = 0;
	ls_window *w2 = NULL;
	if (ls_window_save_meta(w, &meta, &mlen) == 0 &&
	    ls_window_save_changed(w, 1, take_part, &ps) == 0 &&
	    ls_window_save(w, &snap, &slen) == 0 && (w2 = make(s)) != NULL) {
		FUZZ_ASSERT(ls_window_load_parts(w2, meta, mlen,
		    (const uint8_t *const *)ps.p, ps.len, ps.n) == 0);
		check_same_save(w2, snap, slen);
	}
	ls_window_free(w2);
	for (size_t i = 0; i < ps.n; i++)
		free(ps.p[i]);
	free(meta);
	free(snap);
}

/* Input as parts: u32 little-endian length + bytes, repeated; the first is
 * the meta part.  Whatever load_parts accepts saves and trips again. */
static void
load_parts_input(const uint8_t *d, size_t size, int s)
{
	parts ps = { .n = 0 };
	uint8_t *meta = NULL;
	size_t mlen = 0;
	while (size >= 4 && ps.n < MAX_PARTS) {
		size_t l = (size_t)d[0] | (size_t)d[1] << 8 |
		    (size_t)d[2] << 16 | (size_t)d[3] << 24;
		d += 4;
		size -= 4;
		if (l > size)
			l = size;
		/* exact-size copies: a read past a part is caught */
		uint8_t *c = malloc(l ? l : 1);
		if (c == NULL)
			break;
		memcpy(c, d, l);
		if (meta == NULL) {
			meta = c;
			mlen = l;
		} else {
			ps.p[ps.n] = c;
			ps.len[ps.n++] = l;
		}
		d += l;
		size -= l;
	}
	ls_window *w = make(s);
	if (w != NULL && meta != NULL) {
		int rc = ls_window_load_parts(w, meta, mlen,
		    (const uint8_t *const *)ps.p, ps.len, ps.n);
		FUZZ_ASSERT(rc == 0 || rc == LS_ECORRUPT || rc == LS_ENOTSUP ||
		    rc == LS_EINVAL || rc == LS_ENOMEM);
		if (rc == 0)
			parts_trip(w, s);
	}
	ls_window_free(w);
	free(meta);
	for (size_t i = 0; i < ps.n; i++)
		free(ps.p[i]);
}

/* A few events around the loaded state's time: on time, out of order and
 * (most likely) late, a query, an idle tick and an advance; then a round
 * trip, a flush and another round trip. */
static void
exercise(ls_window *w, int s)
{
	static const char *const svc[] = { "api", "", "db" };
	static const int64_t dt[] = { 0, 10, -1500, 900, -99999, 2500 };
	ls_window_stats st;
	int64_t base;

	ls_window_get_stats(w, &st);
	base = st.max_time_ns != INT64_MIN ? st.max_time_ns : 0;
	for (int i = 0; i < 6; i++) {
		ls_event ev;
		ls_event_clear(&ev);
		ev.time_ns = sat(base, dt[i] * MS);
		ev.ingest_ns = sat(base, (int64_t)i * MS);
		ev.offset = (uint64_t)i;
		ev.service = ls_str_c(svc[i % 3]);
		ev.host = ls_str_c(svc[(i + 1) % 3]);
		ev.level = (uint8_t)(i % 4);
		ls_event_add_attr(&ev, ls_str_c("latency_ms"),
		    ls_str_c(i == 4 ? "nan" : "12.5"));
		ls_event_add_attr(&ev, ls_str_c("bytes"), ls_str_c("300"));
		int rc = ls_window_add(w, &ev);
		FUZZ_ASSERT(rc == 0 || rc == LS_ERANGE || rc == LS_ENOMEM);
	}
	FUZZ_ASSERT(ls_window_query(w, INT64_MIN, INT64_MAX, on_emit, NULL) ==
	    0);
	(void)ls_window_idle(w, sat(base, 60000 * MS));
	(void)ls_window_advance(w, sat(base, -1000 * MS));
	round_trip(w, s);
	(void)ls_window_flush(w);
	round_trip(w, s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ls_window *w;
	uint8_t *snap;
	size_t len;
	int rc;

	if (size == 0)
		return 0;
	len = size - 1;
	/* an exact-size copy so that reading past the end is caught */
	if ((snap = malloc(len ? len : 1)) == NULL)
		return 0;
	if (len > 0)
		memcpy(snap, data + 1, len);
	if ((data[0] & 4) != 0 && len >= HDR + TRAILER) {
		for (int i = 0; i < 8; i++)
			snap[8 + i] = (uint8_t)((uint64_t)len >> (8 * i));
		uint64_t h = ls_hash64(snap, len - TRAILER, SEED);
		for (int i = 0; i < 8; i++)
			snap[len - TRAILER + i] = (uint8_t)(h >> (8 * i));
	}
	if ((w = make(data[0] & 3)) == NULL) {
		free(snap);
		return 0;
	}
	if (data[0] & 0x80) {
		load_parts_input(data + 1, size - 1, data[0] & 3);
		ls_window_free(w);
		free(snap);
		return 0;
	}
	rc = ls_window_load(w, snap, len);
	FUZZ_ASSERT(rc == 0 || rc == LS_ECORRUPT || rc == LS_ENOTSUP ||
	    rc == LS_EINVAL || rc == LS_ENOMEM);
	if (rc == 0) {
		check_same_save(w, snap, len);
		parts_trip(w, data[0] & 3);
		exercise(w, data[0] & 3);
	} else {
		/* refused: the window is still the fresh one it was */
		ls_window *fresh = make(data[0] & 3);
		uint8_t *want = NULL;
		size_t wlen = 0;
		if (fresh != NULL && ls_window_save(fresh, &want, &wlen) == 0)
			check_same_save(w, want, wlen);
		free(want);
		ls_window_free(fresh);
	}
	ls_window_free(w);
	free(snap);
	return 0;
}
