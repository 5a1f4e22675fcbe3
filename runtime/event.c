/*
 * event.c -- helpers for ls_event (see event.h).
 */
#include "event.h"

#include <ctype.h>
#include <stdlib.h>

#include "err.h"

static const char *const level_names[LS_LEVEL_COUNT] = {
	"UNKNOWN", "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR", "FATAL",
};

const char *
ls_level_name(int level)
{
	if (level < 0 || level >= LS_LEVEL_COUNT)
		return "UNKNOWN";
	return level_names[level];
}

static const struct {
	const char *word;
	ls_level level;
} level_words[] = {
	{ "trace", LS_LEVEL_TRACE }, { "debug", LS_LEVEL_DEBUG },
	{ "dbg", LS_LEVEL_DEBUG }, { "d", LS_LEVEL_DEBUG },
	{ "info", LS_LEVEL_INFO }, { "information", LS_LEVEL_INFO },
	{ "informational", LS_LEVEL_INFO }, { "i", LS_LEVEL_INFO },
	{ "notice", LS_LEVEL_NOTICE }, { "warn", LS_LEVEL_WARN },
	{ "warning", LS_LEVEL_WARN }, { "w", LS_LEVEL_WARN },
	{ "error", LS_LEVEL_ERROR }, { "err", LS_LEVEL_ERROR },
	{ "e", LS_LEVEL_ERROR }, { "fatal", LS_LEVEL_FATAL },
	{ "severe", LS_LEVEL_FATAL }, { "crit", LS_LEVEL_FATAL },
	{ "critical", LS_LEVEL_FATAL }, { "alert", LS_LEVEL_FATAL },
	{ "emerg", LS_LEVEL_FATAL }, { "emergency", LS_LEVEL_FATAL },
	{ "panic", LS_LEVEL_FATAL }, { "f", LS_LEVEL_FATAL },
};

ls_level
ls_level_parse(const char *p, size_t n)
{
	char buf[16];

	if (p == NULL || n == 0 || n >= sizeof(buf))
		return LS_LEVEL_UNKNOWN;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)p[i]);
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(level_words) / sizeof(level_words[0]);
	     i++) {
		if (strcmp(buf, level_words[i].word) == 0)
			return level_words[i].level;
	}
	return LS_LEVEL_UNKNOWN;
}

void
ls_event_clear(ls_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->time_ns = LS_TIME_UNKNOWN;
}

int
ls_event_add_attr(ls_event *ev, ls_str key, ls_str val)
{
	if (ev->nattrs >= LS_EVENT_MAX_ATTRS)
		return LS_ERANGE;
	ev->attrs[ev->nattrs].key = key;
	ev->attrs[ev->nattrs].val = val;
	ev->nattrs++;
	return 0;
}

static int
name_is(const char *name, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n == l && memcmp(name, lit, l) == 0;
}

int
ls_event_field(const ls_event *ev, const char *name, size_t n, ls_str *out)
{
	*out = ls_str_make(NULL, 0);
	if (name_is(name, n, "service")) {
		*out = ev->service;
		return ev->service.len > 0;
	}
	if (name_is(name, n, "host")) {
		*out = ev->host;
		return ev->host.len > 0;
	}
	if (name_is(name, n, "level")) {
		*out = ls_str_c(ls_level_name(ev->level));
		return 1;
	}
	if (name_is(name, n, "message")) {
		*out = ev->message;
		return ev->message.len > 0;
	}
	if (name_is(name, n, "level_text")) {
		*out = ev->level_text;
		return ev->level_text.len > 0;
	}
	for (unsigned i = 0; i < ev->nattrs; i++) {
		const ls_attr *a = &ev->attrs[i];
		if (a->key.len == n && memcmp(a->key.ptr, name, n) == 0) {
			*out = a->val;
			return 1;
		}
	}
	return 0;
}

int
ls_event_number(const ls_event *ev, const char *name, size_t n, double *out)
{
	char buf[64];
	ls_str s;
	char *end;

	if (name_is(name, n, "time")) {
		if (ev->time_ns == LS_TIME_UNKNOWN)
			return 0;
		*out = (double)ev->time_ns / 1e9;
		return 1;
	}
	if (!ls_event_field(ev, name, n, &s) || s.len == 0 ||
	    s.len >= sizeof(buf))
		return 0;
	memcpy(buf, s.ptr, s.len);
	buf[s.len] = '\0';
	double v = strtod(buf, &end);
	if (end == buf || *end != '\0')
		return 0;
	*out = v;
	return 1;
}
