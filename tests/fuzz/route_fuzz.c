/*
 * route_fuzz.c -- fuzz driver for the rules of a `route` stage
 * (actors/route.h): any text, as one rule.  A rule that parses has a node
 * name as its target and 1..LS_ROUTE_MAX_CONDS conditions whose values fit
 * their buffers; it is matched against events made of the input's bytes
 * (level, service, message and an attribute named like each condition's
 * field), and the same text parses again to the same rule.  Matching: a
 * rule holds exactly when each of its conditions alone holds, and a
 * condition with = holds exactly when the same one with != does not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/route.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	ls_route_rule r, again;
	char why[256];
	why[0] = '\0';
	if (ls_route_parse(text, &r, why, sizeof(why)) != 0) {
		FUZZ_ASSERT(why[0] != '\0' && memchr(why, 0, sizeof(why)));
		free(text);
		return 0;
	}
	FUZZ_ASSERT(r.target[0] != '\0' && r.ncond >= 1 &&
	    r.ncond <= LS_ROUTE_MAX_CONDS);
	for (unsigned i = 0; i < r.ncond; i++)
		FUZZ_ASSERT(r.cond[i].vlen <= LS_ROUTE_MAX_VALUE &&
		    r.cond[i].field >= LS_RF_LEVEL &&
		    r.cond[i].field <= LS_RF_ATTR);
	FUZZ_ASSERT(ls_route_parse(text, &again, why, sizeof(why)) == 0);
	FUZZ_ASSERT(memcmp(&r, &again, sizeof(r)) == 0);
	/* events from the input's bytes */
	ls_event ev;
	ls_event_clear(&ev);
	size_t h = size / 2;
	ev.level = (ls_level)(size % LS_LEVEL_COUNT);
	ev.service = ls_str_make(text, h);
	ev.message = ls_str_make(text + h, size - h);
	for (unsigned i = 0; i < r.ncond && i < 4; i++)
		(void)ls_event_add_attr(&ev, ls_str_c(r.cond[i].name),
		    ls_str_make(r.cond[i].value, r.cond[i].vlen));
	int all = 1;
	for (unsigned i = 0; i < r.ncond; i++) {
		ls_route_rule one = r;
		one.cond[0] = r.cond[i];
		one.ncond = 1;
		int holds = ls_route_match(&one, &ev);
		all &= holds;
		if (r.cond[i].op == LS_RO_EQ || r.cond[i].op == LS_RO_NE) {
			one.cond[0].op = r.cond[i].op == LS_RO_EQ ? LS_RO_NE
			                                          : LS_RO_EQ;
			FUZZ_ASSERT(ls_route_match(&one, &ev) == !holds);
		}
	}
	FUZZ_ASSERT(ls_route_match(&r, &ev) == all);
	free(text);
	return 0;
}
