/*
 * session_fuzz.c -- libFuzzer driver for saved session state
 * (ls_session_load_parts and ls_session_restore in actors/session.h).
 *
 * Input: byte 0 chooses the spec (bits 0-1, one of four below), whether to
 * reseal the parts (bit 2: rewrite each part's XXH3 trailer as
 * docs/sessions.md defines it, so that mutations reach the structural
 * checks behind the checksums) and the form of the rest (bit 7: one LSSB
 * blob for ls_session_restore; else parts, u32 little-endian length +
 * bytes repeated, the meta part first, for ls_session_load_parts).
 * Checks the contract: 0, LS_ECORRUPT, LS_ENOTSUP or LS_EINVAL (another
 * spec) and nothing else, with the target unchanged on error; a state that
 * loads saves to a blob that loads into a fresh state saving the same
 * bytes; the loaded state then takes events, an advance, an idle tick and
 * a flush, emitting only well-formed sessions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/session.h"
#include "runtime/err.h"
#include "runtime/hash.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MS INT64_C(1000000)
#define PART_SEED UINT64_C(0x6c73737061727431) /* docs/sessions.md */
#define META_LEN 96
#define MAX_PARTS 256

static volatile unsigned sink;

static void
on_emit(void *arg, const ls_session_result *r)
{
	(void)arg;
	FUZZ_ASSERT(r->start_ns <= r->end_ns && r->events > 0);
	FUZZ_ASSERT(r->first_message.len <= LS_SESSION_MSG_MAX);
	FUZZ_ASSERT(r->last_message.len <= LS_SESSION_MSG_MAX);
	for (uint32_t c = 0; c < r->ncounters; c++)
		FUZZ_ASSERT(r->counter[c] <= r->events);
	if (r->distinct_exact)
		FUZZ_ASSERT(r->distinct <= r->events);
	for (uint32_t i = 0; i < r->nkeys; i++)
		for (uint32_t j = 0; j < r->keys[i].len; j++)
			sink += (unsigned char)r->keys[i].ptr[j];
}

static void
on_late(void *arg, const ls_event *ev, int64_t wm)
{
	(void)arg;
	(void)ev;
	sink += (unsigned)wm;
}

typedef struct fspec {
	int64_t gap_ms, max_ms, grace_ms;
	const char *keys[2];
	size_t nkey;
	const char *path;
	const char *counters[4];
	size_t ncounters;
} fspec;

static const fspec specs[4] = {
	{ 1000, 0, 500, { "service", "user" }, 2, "path",
	    { "errs: level>=error", "p1: path=/p1", "np: path!=/p2",
	        "xs: message~x" },
	    4 },
	{ 1, 10, 0, { NULL }, 0, NULL, { NULL }, 0 },
	{ 60000, 3600000, 5000, { "host" }, 1, "path", { "w: level=warn" }, 1 },
	{ 1000, 0, 400, { "service", "user" }, 2, "path",
	    { "errs: level>=error", "p1: path=/p1", "np: path!=/p2",
	        "xs: message~x" },
	    4 },
};

static ls_session *
make(int s)
{
	const fspec *f = &specs[s];
	ls_session_spec spec;
	ls_session *x = NULL;
	if (ls_session_spec_init(&spec, f->gap_ms, f->max_ms, f->grace_ms,
	        f->keys, f->nkey, f->path, f->counters, f->ncounters, NULL,
	        0) != 0 ||
	    ls_session_new(&x, &spec, 200, 1000, on_emit, on_late, NULL) != 0)
		return NULL;
	return x;
}

static void
reseal(uint8_t *p, size_t len, int is_meta)
{
	if (is_meta && len == META_LEN) {
		uint64_t h = ls_hash64(p, 88, PART_SEED);
		for (int i = 0; i < 8; i++)
			p[88 + i] = (uint8_t)(h >> (8 * i));
	} else if (!is_meta && len >= 48) {
		uint64_t h = ls_hash64(p, len - 8, PART_SEED);
		for (int i = 0; i < 8; i++)
			p[len - 8 + i] = (uint8_t)(h >> (8 * i));
	}
}

static uint32_t
u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* A loaded state: save, load into a fresh one, save again: same bytes. */
static void
round_trip(ls_session *x, int s)
{
	uint8_t *a = NULL, *b = NULL;
	size_t al = 0, bl = 0;
	ls_session *y = make(s);
	if (y != NULL && ls_session_save(x, &a, &al) == 0) {
		FUZZ_ASSERT(ls_session_restore(y, a, al) == 0);
		ls_session *z = make(s);
		if (z != NULL && ls_session_save(y, &b, &bl) == 0) {
			FUZZ_ASSERT(ls_session_restore(z, b, bl) == 0);
			free(b);
			b = NULL;
			FUZZ_ASSERT(ls_session_save(z, &b, &bl) == 0);
			/* the second generation sorts the same way */
			uint8_t *c = NULL;
			size_t cl = 0;
			FUZZ_ASSERT(ls_session_save(y, &c, &cl) == 0);
			FUZZ_ASSERT(cl == bl && memcmp(b, c, bl) == 0);
			free(c);
		}
		ls_session_free(z);
	}
	free(a);
	free(b);
	ls_session_free(y);
}

static void
exercise(ls_session *x)
{
	ls_session_stats st;
	ls_session_get_stats(x, &st);
	FUZZ_ASSERT(st.late <= st.events && st.open <= st.events);
	int64_t base = st.max_time_ns > -(INT64_C(1) << 61) &&
	        st.max_time_ns < (INT64_C(1) << 61)
	    ? st.max_time_ns
	    : 0;
	static const char *const users[] = { "u1", "u2" };
	for (int i = 0; i < 8; i++) {
		ls_event ev;
		ls_event_clear(&ev);
		ev.time_ns = base + (i % 4 - 2) * 700 * MS;
		ev.ingest_ns = ev.time_ns;
		ev.service = ls_str_c(i % 2 ? "api" : "web");
		ev.host = ls_str_c("h");
		ev.message = ls_str_c(i % 3 ? "x m" : "m");
		ev.level = (uint8_t)(i % 8);
		ls_event_add_attr(&ev, ls_str_c("user"), ls_str_c(users[i % 2]));
		ls_event_add_attr(&ev, ls_str_c("path"), ls_str_c(i % 2 ? "/p1"
		                                                         : "/p2"));
		int rc = ls_session_add(x, &ev);
		FUZZ_ASSERT(rc == 0 || rc == LS_ERANGE || rc == LS_ENOMEM);
	}
	ls_session_advance(x, base);
	ls_session_idle(x, base + 5000 * MS);
	ls_session_flush(x);
	ls_session_get_stats(x, &st);
	FUZZ_ASSERT(st.open == 0 && st.keys == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int s = data[0] & 3, seal = (data[0] >> 2) & 1, blob = data[0] >> 7;
	uint8_t *copy = malloc(size > 1 ? size - 1 : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	size_t len = size - 1;
	ls_session *x = make(s);
	if (x == NULL) {
		free(copy);
		return 0;
	}
	ls_session_stats before, after;
	ls_session_get_stats(x, &before);
	int rc;
	if (blob) {
		if (seal && len >= 8) { /* reseal the parts the frame names */
			size_t off = 8;
			for (uint32_t i = 0; off + 4 <= len; i++) {
				size_t pl = u32le(copy + off);
				if (pl > len - off - 4)
					break;
				reseal(copy + off + 4, pl, i == 0);
				off += 4 + pl;
			}
		}
		rc = ls_session_restore(x, copy, len);
	} else {
		const uint8_t *p[MAX_PARTS];
		size_t l[MAX_PARTS], n = 0, off = 0;
		while (off + 4 <= len && n < MAX_PARTS) {
			size_t pl = u32le(copy + off);
			off += 4;
			if (pl > len - off)
				break;
			if (seal)
				reseal(copy + off, pl, n == 0);
			p[n] = copy + off;
			l[n++] = pl;
			off += pl;
		}
		rc = n == 0 ? ls_session_load_parts(x, NULL, 0, NULL, NULL, 0)
		            : ls_session_load_parts(x, p[0], l[0], p + 1, l + 1,
		                  n - 1);
	}
	FUZZ_ASSERT(rc == 0 || rc == LS_ECORRUPT || rc == LS_ENOTSUP ||
	    rc == LS_EINVAL || rc == LS_ENOMEM);
	if (rc != 0) {
		ls_session_get_stats(x, &after);
		FUZZ_ASSERT(memcmp(&before, &after, sizeof(before)) == 0);
	} else {
		round_trip(x, s);
		exercise(x);
	}
	ls_session_free(x);
	free(copy);
	return 0;
}
