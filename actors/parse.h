/*
 * parse.h -- log line parsers: one raw line in, one ls_event out.
 *
 * A parser turns a line of JSON, logfmt, syslog (RFC 3164 / RFC 5424),
 * Apache/nginx access or error log, the log4j family (HDFS, Hadoop, Spark,
 * Zookeeper layouts) or Blue Gene/L RAS log into the fields of an ls_event:
 * time, level, service, host, message and attributes.  Under "auto", a line
 * no format recognises still becomes an event (the fallback: the whole line
 * as message, the first timestamp and level word found in it); operators'
 * own regular-expression formats are actors/userfmt.h.  What each format
 * fills is documented in docs/log-formats.md.
 *
 * Parsing allocates nothing except from the caller's arena (only when a
 * string must be rewritten, e.g. a JSON string with escapes), keeps no
 * hidden state and may run on many threads at once, each with its own
 * event and arena.
 */
#ifndef LS_PARSE_H
#define LS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/arena.h"
#include "runtime/event.h"

typedef enum ls_format {
	LS_FMT_AUTO,         /* detect per line among all formats below */
	LS_FMT_JSON,         /* one JSON object per line */
	LS_FMT_LOGFMT,       /* key=value key2="quoted value" */
	LS_FMT_SYSLOG,       /* RFC 3164 or RFC 5424, detected per line */
	LS_FMT_RFC3164,      /* BSD syslog, with or without <PRI> */
	LS_FMT_RFC5424,      /* IETF syslog */
	LS_FMT_CLF,          /* Apache/nginx access log: common, combined */
	LS_FMT_APACHE_ERROR, /* Apache httpd error log (2.2 and 2.4) */
	LS_FMT_NGINX_ERROR,  /* nginx error log */
	LS_FMT_LOG4J,        /* log4j/Java family: HDFS, Hadoop, Spark, ZK */
	LS_FMT_BGL,          /* Blue Gene/L RAS log */
	LS_FMT_FREEFORM,     /* only the fallback: any text line */
	LS_FMT_COUNT
} ls_format;

/* Map a format name ("auto", "json", "logfmt", "syslog", "rfc3164",
 * "rfc5424", "clf", "apache_error", "nginx_error", "log4j", "bgl",
 * "freeform") to its
 * value.  Returns 0, or LS_EINVAL (and *out untouched) for unknown names. */
int ls_format_from_name(const char *name, ls_format *out);

/* The name of a format as accepted by ls_format_from_name(); "unknown" for
 * out-of-range values.  The string is static. */
const char *ls_format_name(ls_format f);

struct ls_userfmt;

/* Parser configuration; a plain value, copy it freely.  default_year is the
 * year given to timestamps that have none (BSD syslog "Dec 10 06:55:46");
 * 0 means the current UTC year, or the previous one when the date would
 * otherwise lie more than a week in the future (December logs read in
 * January).  custom, when not NULL, is an operator-defined format
 * (actors/userfmt.h) used instead of format: borrowed, it must outlive the
 * parser, and such a parser may be used by one thread at a time. */
typedef struct ls_parser {
	ls_format format;
	int default_year;
	const struct ls_userfmt *custom;
} ls_parser;

/* Initialise *p for format with default_year 0 and no custom format. */
void ls_parser_init(ls_parser *p, ls_format format);

/* Parse one line (without its newline; a trailing '\r' is ignored) into *ev,
 * which is cleared first (attrs[] slots past nattrs are left as they were).
 * Strings in *ev borrow from line or, when they must be rewritten, from arena
 * (required, not NULL); the caller keeps both alive while *ev is used.  Returns
 * 0; LS_EPARSE with *reason set to a static human-readable reason (the line
 * belongs in the dead-letter output); LS_ENOMEM when the arena is exhausted;
 * LS_EINVAL for a bad argument (with *reason set too).  reason may be NULL.
 * Never reads past line[len - 1].  Under LS_FMT_AUTO only an empty line or
 * one that is not text (a NUL byte, invalid UTF-8) fails. */
int ls_parser_parse(const ls_parser *p, const char *line, size_t len,
                    ls_event *ev, ls_arena *arena, const char **reason);

/* As ls_parser_parse(); a line taken by the fallback (auto, freeform)
 * without a timestamp of its own gets ingest_ns as its time (and the
 * attribute time_source=ingest).  LS_TIME_UNKNOWN leaves it unknown. */
int ls_parser_parse_at(const ls_parser *p, const char *line, size_t len,
                       int64_t ingest_ns, ls_event *ev, ls_arena *arena,
                       const char **reason);

/* The format ls_parser_parse() tries first for line under LS_FMT_AUTO (a
 * cheap look at the first bytes; pure, any thread); LS_FMT_AUTO when nothing
 * matches (the line goes to the fallback).  LS_FMT_SYSLOG leaves 3164 vs 5424 to the parser, and a
 * LS_FMT_LOG4J line that fails is retried as RFC 3164. */
ls_format ls_format_detect(const char *line, size_t len);

#endif /* LS_PARSE_H */
