/*
 * parse_fuzz.c -- libFuzzer driver for the log parsers (actors/parse.h).
 *
 * Feeds the input, as one line, to every format including "auto" and the
 * fallback alone ("freeform", with an ingest time), and checks the
 * parser's contract: a result of 0 or LS_EPARSE (with a
 * reason), a sane event, and every string of the event readable (the
 * sanitizers catch a string pointing outside the line or the arena).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/parse.h"
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
	ls_arena arena;
	ls_event ev;
	ls_parser p;
	/* An exact-size copy so that reading past the end is caught. */
	char *line = malloc(size != 0 ? size : 1);

	if (line == NULL)
		return 0;
	if (size != 0)
		memcpy(line, data, size);
	ls_arena_init(&arena, 4096);
	for (int f = 0; f < LS_FMT_COUNT; f++) {
		const char *reason = NULL;
		ls_parser_init(&p, (ls_format)f);
		p.default_year = 2024;
		int rc = ls_parser_parse_at(&p, line, size, 1700000000000000000LL,
		                            &ev, &arena, &reason);
		if (rc == LS_EPARSE) {
			if (reason == NULL || reason[0] == '\0')
				abort();
		} else if (rc != 0) {
			abort();
		} else {
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
		}
		ls_arena_reset(&arena);
	}
	(void)ls_format_detect(line, size);
	ls_arena_fini(&arena);
	free(line);
	return 0;
}
