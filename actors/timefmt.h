/*
 * timefmt.h -- timestamp parsing for the log parsers.
 *
 * Converts the timestamp layouts found in real logs into nanoseconds since
 * the Unix epoch (UTC) with pure integer arithmetic: a days-from-civil
 * conversion on the proleptic Gregorian calendar, no timegm(), strptime(),
 * locale or TZ involvement.  A timestamp without a zone is taken as UTC.
 *
 * Every parser here is a prefix parser: it reads a timestamp at the start of
 * p[0..n), never reads past n, and on success stores the instant in *ns and
 * the number of bytes consumed in *used.  It returns 0, LS_EPARSE when the
 * text is not that layout or names an impossible date (Feb 30, hour 24), or
 * LS_ERANGE when the instant does not fit int64 nanoseconds (before 1677 or
 * after 2262).  All functions are pure and may be called from any thread.
 */
#ifndef LS_TIMEFMT_H
#define LS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* A broken-down civil time.  utcoff is the zone offset in seconds east of
 * UTC (the "+02:00" of a timestamp is 7200); nsec is 0..999999999. */
typedef struct ls_civil {
	int year; /* full year, 0..9999 */
	int mon;  /* 1..12 */
	int day;  /* 1..31 */
	int hour; /* 0..23 */
	int min;  /* 0..59 */
	int sec;  /* 0..60 (60 = leap second, counted as the next minute's 0) */
	int32_t nsec;
	int32_t utcoff;
} ls_civil;

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12,
 * d 1..31); fields are not validated.  Negative before 1970. */
int64_t ls_timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Inverse of ls_timefmt_days_from_civil(); all outputs are required. */
void ls_timefmt_civil_from_days(int64_t days, int64_t *y, unsigned *m,
                                unsigned *d);

/* Validate *c and convert it to ns since the epoch (UTC).  LS_EPARSE for an
 * impossible field, LS_ERANGE when out of the int64 range. */
int ls_timefmt_from_civil(const ls_civil *c, int64_t *ns);

/* The current UTC calendar year (reads the wall clock). */
int ls_timefmt_current_year(void);

/* 1..12 for an English month abbreviation ("Jan", case-insensitive) at
 * p[0..3), 0 otherwise.  Reads exactly 3 bytes; n must be >= 3. */
int ls_timefmt_month3(const char *p, size_t n);

/* RFC 3339 / ISO 8601: "2024-03-01T00:00:00.123Z", "...+05:30", "...-0800",
 * also with a space for 'T' and a comma before the fraction, as log4j writes
 * it ("2015-10-18 18:01:47,978").  Seconds are required; the zone is
 * optional (zoneless = UTC); up to 9 fraction digits count, more are read and
 * ignored. */
int ls_timefmt_iso8601(const char *p, size_t n, int64_t *ns, size_t *used);

/* BSD syslog (RFC 3164): "Dec 10 06:55:46" or "Jun  7 06:55:46" (day padded
 * with a space), optionally with a fraction ("...:46.123456").  The line has
 * no year: the caller supplies it. */
int ls_timefmt_bsd(const char *p, size_t n, int year, int64_t *ns,
                   size_t *used);

/* ctime / Apache error log: "Sun Dec 04 04:47:44 2005", optionally with a
 * fraction ("04:47:44.123456") and optionally in brackets ("[...]"; the
 * closing bracket is consumed).  The weekday name is checked but not
 * compared with the date. */
int ls_timefmt_ctime(const char *p, size_t n, int64_t *ns, size_t *used);

/* Common Log Format: "10/Oct/2000:13:55:36 -0700", optionally in brackets.
 * The zone is required. */
int ls_timefmt_clf(const char *p, size_t n, int64_t *ns, size_t *used);

/* Blue Gene/L: "2005-06-03-15.42.50.675872" (fraction optional). */
int ls_timefmt_bgl(const char *p, size_t n, int64_t *ns, size_t *used);

/* HDFS: "081109 203615" (yymmdd hhmmss).  Two-digit years follow POSIX
 * %y: 69..99 are 1969..1999, 00..68 are 2000..2068. */
int ls_timefmt_yymmdd(const char *p, size_t n, int64_t *ns, size_t *used);

/* Slash dates: "17/06/09 20:10:40" (yy/mm/dd, Spark's log4j layout) and
 * "2011/06/10 13:30:10" (yyyy/mm/dd, nginx error log); optional fraction
 * with '.' or ','. */
int ls_timefmt_slash(const char *p, size_t n, int64_t *ns, size_t *used);

/* Epoch number: "1709251200", "1709251200.5", "1709251200123" (the unit is
 * chosen by magnitude: < 1e11 seconds, < 1e14 milliseconds, < 1e17
 * microseconds, else nanoseconds), optionally negative, optional fraction of
 * that unit. */
int ls_timefmt_epoch(const char *p, size_t n, int64_t *ns, size_t *used);

/* Try every layout above in a fixed order (ISO 8601, ctime, CLF, BGL,
 * slash, yymmdd, BSD with the given year, epoch) and return the first match.
 * Used for free-form "time" values in JSON and logfmt. */
int ls_timefmt_any(const char *p, size_t n, int year, int64_t *ns,
                   size_t *used);

/* Find the first recognisable timestamp anywhere in p[0..n) (free-form
 * lines, docs/log-formats.md "Fallback").  A candidate starts at a word
 * boundary; the layouts are ISO 8601 (T or space, fraction with '.' or ',',
 * zone Z / +hh:mm / +hhmm / " UTC" / " GMT" / " +0000"), BGL's
 * "yyyy-MM-dd-HH.mm.ss", "yyyy/MM/dd" and "yy/MM/dd HH:mm:ss",
 * "MM/dd/yyyy H:mm:ss" with an optional AM/PM, "yyyyMMdd-HH:mm:ss:SSS",
 * "yyyyMMdd HH:mm:ss", basic ISO "yyyyMMddTHHmmss", "dd/Mmm/yyyy:HH:mm:ss"
 * (zone and fraction optional), "dd Mmm yyyy HH:mm:ss", "Mmm d, yyyy
 * H:mm:ss AM", ctime, BSD "Mmm dd HH:mm:ss", "MM-dd HH:mm:ss.SSS",
 * "MM.dd HH:mm:ss", klog "Lmmdd HH:mm:ss.ffffff" and "yyMMdd HHmmss" at the
 * start of the line.  Only when none of these occurs, a 10-digit epoch
 * second or 13-digit epoch millisecond number (optionally with a fraction)
 * between 2000 and 2100 is taken.  Layouts without a year use year, or
 * year - 1 when not_after_ns is nonzero and the instant would lie more than
 * a week after it.  Returns 0 with the instant in *ns and the timestamp's
 * place in p[*at .. *at + *used); LS_EPARSE when there is none.  Pure. */
int ls_timefmt_find(const char *p, size_t n, int year, int64_t not_after_ns,
                    int64_t *ns, size_t *at, size_t *used);

#endif /* LS_TIMEFMT_H */
