/*
 * route_test.c -- the rules of a `route` stage (actors/route.h): what
 * parses and what is refused with which reason, and which events a rule
 * matches: levels by severity, exact / substring / prefix text, quoted
 * values with escapes, attributes as text and as numbers, absent fields,
 * events without a level, several conditions joined by 'and'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "actors/route.h"

static ls_route_rule
rule(const char *text)
{
	ls_route_rule r;
	char why[256] = "";
	int rv = ls_route_parse(text, &r, why, sizeof(why));
	if (rv != 0)
		fail_msg("'%s' refused: %s", text, why);
	return r;
}

static void
refused(const char *text, const char *reason)
{
	ls_route_rule r;
	char why[256] = "";
	assert_int_equal(ls_route_parse(text, &r, why, sizeof(why)), 1);
	if (strstr(why, reason) == NULL)
		fail_msg("'%s': reason '%s' lacks '%s'", text, why, reason);
}

static ls_event
event(ls_level lv, const char *service, const char *msg)
{
	ls_event ev;
	ls_event_clear(&ev);
	ev.level = lv;
	ev.service = ls_str_c(service);
	ev.message = ls_str_c(msg);
	return ev;
}

static void
test_parse(void **state)
{
	(void)state;
	ls_route_rule r = rule("  errors   when level >= error  ");
	assert_string_equal(r.target, "errors");
	assert_int_equal(r.ncond, 1);
	assert_int_equal(r.cond[0].field, LS_RF_LEVEL);
	assert_int_equal(r.cond[0].op, LS_RO_GE);
	assert_int_equal(r.cond[0].level, LS_LEVEL_ERROR);
	r = rule("a when message contains \"x \\\" \\\\ y\" and bytes > 1.5e3");
	assert_int_equal(r.ncond, 2);
	assert_string_equal(r.cond[0].value, "x \" \\ y");
	assert_int_equal(r.cond[1].field, LS_RF_ATTR);
	assert_string_equal(r.cond[1].name, "bytes");
	assert_true(r.cond[1].num == 1500.0);
	refused("", "empty rule");
	refused("a", "comes 'when'");
	refused("a/b when level = error", "not a node name");
	refused("a when", "condition is missing");
	refused("a when level", "operator is expected");
	refused("a when level ~ error", "operator is expected");
	refused("a when level = loud", "not a level");
	refused("a when level contains err", "level takes");
	refused("a when service > x", "compares only a parsed field");
	refused("a when bytes > lots", "compares only a parsed field");
	refused("a when message = \"open", "unterminated");
	refused("a when message = \"\\n\"", "only \\\" and \\\\");
	refused("a when level = error or level = warn", "join conditions");
	refused("a when x = 1 and x = 2 and x = 3 and x = 4 and x = 5 and "
	        "x = 6 and x = 7 and x = 8 and x = 9", "more than 8");
	/* an over-long word where 'when' or 'and' stand is refused, whatever
	 * the word before it in the buffer was (it once read stale bytes) */
	char w[200];
	(void)rule("a when level = error and level = error");
	snprintf(w, sizeof(w), "a when%0100d level = error", 0);
	refused(w, "comes 'when'");
	(void)rule("a when level = error and level = error");
	snprintf(w, sizeof(w), "a when level = error and%0100d level = warn",
	    0);
	refused(w, "join conditions");
	snprintf(w, sizeof(w), "a when %065d = 1", 0);
	refused(w, "not a field name");
	char big[400];
	memset(big, 'v', sizeof(big));
	memcpy(big, "a when x = ", 11);
	big[sizeof(big) - 1] = '\0';
	refused(big, "longer than 256");
}

static void
test_match(void **state)
{
	(void)state;
	ls_event warn = event(LS_LEVEL_WARN, "sshd", "Failed password for root");
	ls_event info = event(LS_LEVEL_INFO, "cron", "session opened");
	ls_event none = event(LS_LEVEL_UNKNOWN, "", "no level");
	ls_route_rule r = rule("w when level >= warn");
	assert_true(ls_route_match(&r, &warn));
	assert_false(ls_route_match(&r, &info));
	assert_false(ls_route_match(&r, &none));
	r = rule("w when level != warn");
	assert_false(ls_route_match(&r, &warn));
	assert_true(ls_route_match(&r, &info));
	assert_true(ls_route_match(&r, &none)); /* no level is not warn */
	r = rule("w when level < info");
	assert_false(ls_route_match(&r, &info));
	assert_false(ls_route_match(&r, &none));
	r = rule("a when service = sshd and message contains \"Failed pass\"");
	assert_true(ls_route_match(&r, &warn));
	assert_false(ls_route_match(&r, &info));
	r = rule("a when message starts_with Failed");
	assert_true(ls_route_match(&r, &warn));
	r = rule("a when message starts_with password");
	assert_false(ls_route_match(&r, &warn));
	r = rule("a when service != cron");
	assert_true(ls_route_match(&r, &warn));
	assert_false(ls_route_match(&r, &info));
	/* attributes: text and numbers; an absent one matches only != */
	ls_event_add_attr(&warn, ls_str_c("bytes"), ls_str_c("2048"));
	ls_event_add_attr(&warn, ls_str_c("path"), ls_str_c("/api/v1"));
	r = rule("big when bytes > 1024 and path starts_with /api");
	assert_true(ls_route_match(&r, &warn));
	r = rule("big when bytes <= 1024");
	assert_false(ls_route_match(&r, &warn));
	assert_false(ls_route_match(&r, &info)); /* absent: no number */
	r = rule("x when path = /api/v1");
	assert_true(ls_route_match(&r, &warn));
	assert_false(ls_route_match(&r, &info));
	r = rule("x when path != /api/v1");
	assert_false(ls_route_match(&r, &warn));
	assert_true(ls_route_match(&r, &info));
	ls_event_add_attr(&info, ls_str_c("bytes"), ls_str_c("many"));
	r = rule("big when bytes >= 0");
	assert_false(ls_route_match(&r, &info)); /* not a number */
	/* an empty contains matches everything */
	r = rule("all when message contains \"\"");
	assert_true(ls_route_match(&r, &none));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
