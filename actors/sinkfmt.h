/*
 * sinkfmt.h -- text forms of results for sinks: a JSON line per window
 * result, a live aligned table for stdout, dead-letter records, and the JSON
 * string escaper they share.
 *
 * Every function is pure (no allocation, no global state; any thread) and
 * formats like snprintf: it writes at most cap bytes including a NUL
 * terminator (when cap > 0), never adds a newline, and returns the length
 * the full text needs, so a return value >= cap means it was truncated.
 * Numbers are printed in the "C" locale's form; do not change LC_NUMERIC.
 */
#ifndef LS_ACTORS_SINKFMT_H
#define LS_ACTORS_SINKFMT_H

#include <stddef.h>
#include <stdint.h>

#include "actors/window.h"
#include "runtime/event.h"

/* Bytes of an RFC 3339 UTC time with milliseconds ("2024-03-01T00:00:00.000Z")
 * plus its NUL. */
#define LS_SINKFMT_TIME_LEN 25

/* Write ns since the epoch as RFC 3339 UTC with milliseconds (rounded down)
 * into out, NUL-terminated; years are clamped to 0000..9999.  Returns 24. */
size_t ls_sinkfmt_time(int64_t ns, char out[LS_SINKFMT_TIME_LEN]);

/* Escape s[0..n) as the inside of a JSON string (no surrounding quotes):
 * '"', '\\' and control characters escaped, U+2028/U+2029 escaped, invalid
 * UTF-8 replaced by U+FFFD.  Borrows s; s may be NULL when n == 0. */
size_t ls_json_escape(const char *s, size_t n, char *buf, size_t cap);

/* One JSON object for a window result:
 *   {"stage":"s","window_start":"…","window_end":"…","key":{"f":"v",…},
 *    "count":N,"<agg name>":x|null,…,"final":true,"id":"s/v,…/start_ms"}
 * key_fields has r->nkeys names; agg_names has naggs (<= r->naggs) names,
 * as ls_window_spec_names gives them; an aggregate named "count" is left out
 * (it equals "count").  Numbers round-trip through strtod; the id is stage,
 * key values and window start in ms, percent-encoded so that it is unique
 * and stable across runs.  Borrows everything. */
size_t ls_sinkfmt_result_json(const char *stage, const ls_window_result *r,
    const char *const *key_fields, const char *const *agg_names, size_t naggs,
    char *buf, size_t cap);

/* Column layout of the live table.  Borrows the name arrays (and their
 * strings): they must outlive the table. */
typedef struct ls_sinkfmt_table {
	size_t nkeys, naggs;
	const char *const *key_fields;
	const char *const *agg_names;
	uint16_t key_w[LS_WINDOW_MAX_KEYS]; /* display columns of each key */
	uint16_t agg_w[LS_WINDOW_MAX_AGGS]; /* 0: column left out ("count") */
} ls_sinkfmt_table;

/* Lay out a table for these key fields and aggregates.  Returns 0 or
 * LS_EINVAL (too many columns, NULL names). */
int ls_sinkfmt_table_init(ls_sinkfmt_table *t, const char *const *key_fields,
    size_t nkeys, const char *const *agg_names, size_t naggs);

/* The header line: window_start, the key names, count, the aggregate names,
 * each padded to its column. */
size_t ls_sinkfmt_table_header(const ls_sinkfmt_table *t, char *buf,
    size_t cap);

/* One row for r, aligned under the header: text left-aligned (longer values
 * cut with an ellipsis, control bytes and invalid UTF-8 shown as '?'),
 * numbers right-aligned, "-" for an aggregate without a value. */
size_t ls_sinkfmt_table_row(const ls_sinkfmt_table *t,
    const ls_window_result *r, char *buf, size_t cap);

/* A dead-letter record for a raw input line that could not be processed:
 *   {"reason":"…","stage":"…","source":"…","offset":N,"line":"…"}
 * line[0..linelen) may hold any bytes.  NULL strings print as "". */
size_t ls_sinkfmt_deadletter(const char *reason, const char *stage,
    const char *source, uint64_t offset, const char *line, size_t linelen,
    char *buf, size_t cap);

/* A dead-letter record for a parsed event (e.g. a late one, whose raw line
 * is gone): as above with "event":{"time_ns":N|null,"level":"…",
 * "service":"…","host":"…","message":"…","attrs":{"k":"v",…}} in place of
 * "line", and "offset" taken from ev. */
size_t ls_sinkfmt_deadletter_event(const char *reason, const char *stage,
    const char *source, const ls_event *ev, char *buf, size_t cap);

#endif /* LS_ACTORS_SINKFMT_H */
