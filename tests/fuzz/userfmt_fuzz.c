/*
 * userfmt_fuzz.c -- libFuzzer driver for operator-defined formats
 * (actors/userfmt.h) and the fallback's timestamp scanner
 * (ls_timefmt_find, actors/timefmt.h).
 *
 * The input is "PATTERN\nLINE": the pattern is compiled (0, or LS_EPARSE
 * with a message and an offset inside the pattern), and when it compiles
 * LINE is matched and the event's strings are read back (the sanitizers
 * catch one pointing outside the line or the arena).  The whole input is
 * also scanned for a timestamp, which must lie inside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/parse.h"
#include "actors/timefmt.h"
#include "actors/userfmt.h"
#include "runtime/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static void
touch(ls_str s)
{
	unsigned acc = 0;

	if (s.len != 0 && s.ptr == NULL)
		abort();
	for (uint32_t i = 0; i < s.len; i++)
		acc += (unsigned char)s.ptr[i];
	sink += acc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copies so that reading past either end is caught. */
	char *all = calloc(1, size != 0 ? size : 1);
	const char *nl;
	int64_t t;
	size_t at = 0, used = 0;

	if (all == NULL)
		return 0;
	if (size != 0)
		memcpy(all, data, size);
	if (ls_timefmt_find(all, size, 2024, 0, &t, &at, &used) == 0 &&
	    (at > size || used == 0 || used > size - at))
		abort();
	nl = size != 0 ? memchr(all, '\n', size) : NULL;
	size_t plen = nl != NULL ? (size_t)(nl - all) : size;
	char *pat = calloc(1, plen != 0 ? plen : 1);
	if (pat == NULL) {
		free(all);
		return 0;
	}
	if (plen != 0)
		memcpy(pat, all, plen);
	ls_userfmt *f = NULL;
	char err[256];
	size_t off = SIZE_MAX;
	int rc = ls_userfmt_compile(pat, plen, &f, err, sizeof(err), &off);
	if (rc == LS_EPARSE) {
		if (f != NULL || err[0] == '\0' || off > plen)
			abort();
	} else if (rc == 0) {
		const char *line = nl != NULL ? nl + 1 : all + size;
		size_t llen = size - (size_t)(line - all);
		ls_arena arena;
		ls_event ev;
		ls_parser p;
		const char *reason = NULL;

		ls_arena_init(&arena, 4096);
		ls_parser_init(&p, LS_FMT_AUTO);
		p.custom = f;
		rc = ls_parser_parse(&p, line, llen, &ev, &arena, &reason);
		if (rc == LS_EPARSE) {
			if (reason == NULL || reason[0] == '\0')
				abort();
		} else if (rc == 0) {
			if (ev.level >= LS_LEVEL_COUNT ||
			    ev.nattrs > LS_EVENT_MAX_ATTRS)
				abort();
			touch(ev.level_text);
			touch(ev.service);
			touch(ev.host);
			touch(ev.message);
			for (unsigned i = 0; i < ev.nattrs; i++) {
				touch(ev.attrs[i].key);
				touch(ev.attrs[i].val);
			}
		} else if (rc != LS_ENOMEM) {
			abort();
		}
		ls_arena_fini(&arena);
		ls_userfmt_free(f);
	} else if (rc != LS_ENOMEM) {
		abort();
	}
	free(pat);
	free(all);
	return 0;
}
