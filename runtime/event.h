/*
 * event.h -- the in-memory log event, shared by sources, parsers, stages and
 * sinks.
 *
 * An ls_event is a flat view: every string is an ls_str that borrows bytes
 * owned by someone else (the raw line buffer or the arena of the batch that
 * carries the event).  Nothing in an event is freed on its own; the owner of
 * the backing memory outlives every reader of the event.  The wire form of
 * an event is schemas/log_event.fbs (see schemas/codec.h).
 */
#ifndef LS_EVENT_H
#define LS_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A borrowed, length-delimited string.  ptr may be NULL when len == 0.  The
 * bytes are not NUL-terminated. */
typedef struct ls_str {
	const char *ptr;
	uint32_t len;
} ls_str;

static inline ls_str
ls_str_make(const char *p, size_t n)
{
	ls_str s = { p, (uint32_t)n };
	return s;
}

/* Borrow a NUL-terminated C string (NULL gives the empty string). */
static inline ls_str
ls_str_c(const char *s)
{
	return ls_str_make(s, s != NULL ? strlen(s) : 0);
}

/* 1 when s holds exactly the NUL-terminated string lit. */
static inline int
ls_str_eq(ls_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

/* Severity, ordered so that a larger value is more severe.  Syslog's
 * emerg/alert/crit and log4j's FATAL/SEVERE all map to LS_LEVEL_FATAL. */
typedef enum ls_level {
	LS_LEVEL_UNKNOWN = 0,
	LS_LEVEL_TRACE,
	LS_LEVEL_DEBUG,
	LS_LEVEL_INFO,
	LS_LEVEL_NOTICE,
	LS_LEVEL_WARN,
	LS_LEVEL_ERROR,
	LS_LEVEL_FATAL,
	LS_LEVEL_COUNT
} ls_level;

/* Canonical upper-case name ("INFO"); "UNKNOWN" for out-of-range values. */
const char *ls_level_name(int level);

/* Map a level word, case-insensitively ("warning", "WARN", "err", "E", "crit",
 * "severe", "notice", ...), to ls_level; LS_LEVEL_UNKNOWN when not a level. */
ls_level ls_level_parse(const char *p, size_t n);

/* Sentinel for an event whose source line carried no time of its own. */
#define LS_TIME_UNKNOWN INT64_MIN

#define LS_EVENT_MAX_ATTRS 16

typedef struct ls_attr {
	ls_str key;
	ls_str val;
} ls_attr;

typedef struct ls_event {
	int64_t time_ns;   /* event time, ns since the Unix epoch (UTC) */
	int64_t ingest_ns; /* wall time the source read it, ns since epoch */
	uint64_t offset;   /* position in the source (line number, byte
	                      offset or Kafka offset) */
	uint8_t level;     /* ls_level */
	uint8_t nattrs;    /* used entries of attrs[] */
	ls_str level_text; /* the level as written in the line, if any */
	ls_str service;    /* program / service / syslog tag */
	ls_str host;
	ls_str message;    /* free-text content */
	ls_attr attrs[LS_EVENT_MAX_ATTRS];
} ls_event;

/* Reset every field (strings empty, time unknown). */
void ls_event_clear(ls_event *ev);

/* Append an attribute; LS_ERANGE (and no change) when attrs[] is full. */
int ls_event_add_attr(ls_event *ev, ls_str key, ls_str val);

/* The value of a named field: "service", "host", "level" (canonical name),
 * "message", "level_text", or else the first attribute with that key.  An
 * absent field yields the empty string and returns 0; 1 when present. */
int ls_event_field(const ls_event *ev, const char *name, size_t namelen,
    ls_str *out);

/* A numeric field: an attribute (or "time", in seconds) parsed as a decimal
 * number.  Returns 1 and sets *out when present and numeric, else 0. */
int ls_event_number(const ls_event *ev, const char *name, size_t namelen,
    double *out);

#endif /* LS_EVENT_H */
