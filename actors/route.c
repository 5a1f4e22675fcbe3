/*
 * route.c -- the rules of a `route` stage (see route.h).
 */
#include "actors/route.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cursor over the rule text. */
typedef struct cur {
	const char *p;
} cur;

static void
skip_ws(cur *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

/* The next word (a run of non-blank bytes) into out; its length, 0 at the
 * end.  cap includes the NUL; a longer word gives cap (too long) and an
 * empty out. */
static size_t
word(cur *c, char *out, size_t cap)
{
	skip_ws(c);
	size_t n = 0;
	while (c->p[n] != '\0' && c->p[n] != ' ' && c->p[n] != '\t')
		n++;
	if (n >= cap) {
		c->p += n;
		out[0] = '\0';
		return cap;
	}
	memcpy(out, c->p, n);
	out[n] = '\0';
	c->p += n;
	return n;
}

static int
name_ok(const char *s, int dots)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    !(dots && *s == '.'))
			return 0;
	return 1;
}

/* A value: a quoted string or a word, into cd->value.  0 or 1 (why). */
static int
value(cur *c, ls_route_cond *cd, char *why, size_t wl)
{
	skip_ws(c);
	size_t n = 0;
	if (*c->p == '"') {
		c->p++;
		for (;;) {
			char ch = *c->p;
			if (ch == '\0') {
				snprintf(why, wl, "unterminated quoted value");
				return 1;
			}
			c->p++;
			if (ch == '"')
				break;
			if (ch == '\\') {
				ch = *c->p;
				if (ch != '"' && ch != '\\') {
					snprintf(why, wl, "in a quoted value "
					    "only \\\" and \\\\ are escapes");
					return 1;
				}
				c->p++;
			}
			if (n == LS_ROUTE_MAX_VALUE) {
				snprintf(why, wl, "value longer than %d bytes",
				    LS_ROUTE_MAX_VALUE);
				return 1;
			}
			cd->value[n++] = ch;
		}
	} else {
		n = word(c, cd->value, sizeof(cd->value));
		if (n == sizeof(cd->value)) {
			snprintf(why, wl, "value longer than %d bytes",
			    LS_ROUTE_MAX_VALUE);
			return 1;
		}
		if (n == 0) {
			snprintf(why, wl, "a condition lacks its value");
			return 1;
		}
	}
	cd->value[n] = '\0';
	cd->vlen = n;
	return 0;
}

static int
op_of(const char *w, int *op)
{
	static const struct {
		const char *w;
		int op;
	} ops[] = {
		{ "=", LS_RO_EQ }, { "==", LS_RO_EQ }, { "!=", LS_RO_NE },
		{ "contains", LS_RO_CONTAINS }, { "starts_with", LS_RO_PREFIX },
		{ ">=", LS_RO_GE }, { ">", LS_RO_GT }, { "<=", LS_RO_LE },
		{ "<", LS_RO_LT },
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(w, ops[i].w) == 0) {
			*op = ops[i].op;
			return 1;
		}
	return 0;
}

static int
ordering(int op)
{
	return op == LS_RO_GE || op == LS_RO_GT || op == LS_RO_LE ||
	    op == LS_RO_LT;
}

static int
cond(cur *c, ls_route_cond *cd, char *why, size_t wl)
{
	char f[LS_ROUTE_MAX_NAME + 2], o[16];
	memset(cd, 0, sizeof(*cd));
	size_t n = word(c, f, sizeof(f));
	if (n == 0) {
		snprintf(why, wl, "a condition is missing after 'when' or "
		    "'and'");
		return 1;
	}
	if (n > LS_ROUTE_MAX_NAME || !name_ok(f, 1)) {
		snprintf(why, wl, "'%.64s' is not a field name", f);
		return 1;
	}
	if (strcmp(f, "level") == 0)
		cd->field = LS_RF_LEVEL;
	else if (strcmp(f, "service") == 0)
		cd->field = LS_RF_SERVICE;
	else if (strcmp(f, "host") == 0)
		cd->field = LS_RF_HOST;
	else if (strcmp(f, "message") == 0)
		cd->field = LS_RF_MESSAGE;
	else
		cd->field = LS_RF_ATTR;
	memcpy(cd->name, f, strlen(f) + 1);
	n = word(c, o, sizeof(o));
	if (n == 0 || n == sizeof(o) || !op_of(o, &cd->op)) {
		snprintf(why, wl, "after '%s' an operator is expected (=, !=, "
		    "contains, starts_with, >=, >, <=, <)", f);
		return 1;
	}
	if (value(c, cd, why, wl) != 0)
		return 1;
	if (cd->field == LS_RF_LEVEL) {
		if (cd->op == LS_RO_CONTAINS || cd->op == LS_RO_PREFIX) {
			snprintf(why, wl, "level takes =, !=, >=, >, <=, <");
			return 1;
		}
		cd->level = (int)ls_level_parse(cd->value, cd->vlen);
		if (cd->level == LS_LEVEL_UNKNOWN) {
			snprintf(why, wl, "'%s' is not a level (use trace, "
			    "debug, info, notice, warn, error or fatal)",
			    cd->value);
			return 1;
		}
	} else if (ordering(cd->op)) {
		char *end;
		cd->num = strtod(cd->value, &end);
		if (cd->field != LS_RF_ATTR || end == cd->value || *end != '\0') {
			snprintf(why, wl, "%s compares only a parsed field with "
			    "a number", o);
			return 1;
		}
	}
	return 0;
}

int
ls_route_parse(const char *text, ls_route_rule *out, char *why, size_t whylen)
{
	cur c = { text != NULL ? text : "" };
	char w[LS_ROUTE_MAX_NAME + 2];
	memset(out, 0, sizeof(*out));
	size_t n = word(&c, out->target, sizeof(out->target));
	if (n == 0) {
		snprintf(why, whylen, "empty rule (write TARGET when FIELD OP "
		    "VALUE)");
		return 1;
	}
	if (n == sizeof(out->target) || !name_ok(out->target, 0)) {
		snprintf(why, whylen, "'%.64s' is not a node name", out->target);
		return 1;
	}
	n = word(&c, w, sizeof(w));
	if (n == 0 || strcmp(w, "when") != 0) {
		snprintf(why, whylen, "after the target '%s' comes 'when' "
		    "(TARGET when FIELD OP VALUE)", out->target);
		return 1;
	}
	for (;;) {
		if (out->ncond == LS_ROUTE_MAX_CONDS) {
			snprintf(why, whylen, "more than %d conditions",
			    LS_ROUTE_MAX_CONDS);
			return 1;
		}
		if (cond(&c, &out->cond[out->ncond], why, whylen) != 0)
			return 1;
		out->ncond++;
		n = word(&c, w, sizeof(w));
		if (n == 0)
			return 0;
		if (strcmp(w, "and") != 0) {
			snprintf(why, whylen, "'%.64s' after a condition: join "
			    "conditions with 'and'", w);
			return 1;
		}
	}
}

int
ls_route_check(const char *v, char *why, size_t whylen)
{
	ls_route_rule r;
	return ls_route_parse(v, &r, why, whylen);
}

static int
cmp_str(const ls_route_cond *cd, ls_str s)
{
	switch (cd->op) {
	case LS_RO_EQ:
		return s.len == cd->vlen && memcmp(s.ptr, cd->value, s.len) == 0;
	case LS_RO_NE:
		return !(s.len == cd->vlen &&
		    memcmp(s.ptr, cd->value, s.len) == 0);
	case LS_RO_CONTAINS:
		return cd->vlen == 0 ||
		    (s.len >= cd->vlen &&
		        memmem(s.ptr, s.len, cd->value, cd->vlen) != NULL);
	case LS_RO_PREFIX:
		return s.len >= cd->vlen &&
		    memcmp(s.ptr, cd->value, cd->vlen) == 0;
	default:
		return 0;
	}
}

static int
cmp_num(int op, double a, double b)
{
	switch (op) {
	case LS_RO_EQ:
		return a == b;
	case LS_RO_NE:
		return a != b;
	case LS_RO_GE:
		return a >= b;
	case LS_RO_GT:
		return a > b;
	case LS_RO_LE:
		return a <= b;
	case LS_RO_LT:
		return a < b;
	default:
		return 0;
	}
}

static int
holds(const ls_route_cond *cd, const ls_event *ev)
{
	switch (cd->field) {
	case LS_RF_LEVEL:
		/* an event without a level matches only != */
		if (ev->level == LS_LEVEL_UNKNOWN)
			return cd->op == LS_RO_NE;
		return cmp_num(cd->op, (double)ev->level, (double)cd->level);
	case LS_RF_SERVICE:
		return cmp_str(cd, ev->service);
	case LS_RF_HOST:
		return cmp_str(cd, ev->host);
	case LS_RF_MESSAGE:
		return cmp_str(cd, ev->message);
	default:
		break;
	}
	if (ordering(cd->op)) {
		double x;
		return ls_event_number(ev, cd->name, strlen(cd->name), &x) &&
		    cmp_num(cd->op, x, cd->num);
	}
	ls_str s;
	int present = ls_event_field(ev, cd->name, strlen(cd->name), &s);
	if (!present)
		return cd->op == LS_RO_NE;
	return cmp_str(cd, s);
}

int
ls_route_match(const ls_route_rule *r, const ls_event *ev)
{
	for (unsigned i = 0; i < r->ncond; i++)
		if (!holds(&r->cond[i], ev))
			return 0;
	return 1;
}
