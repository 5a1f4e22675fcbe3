/*
 * sinkfmt.h -- text forms of results for sinks: a JSON line per record
 * (any kind's typed results), a live aligned table for stdout, dead-letter
 * records, and the JSON string escaper they share.
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

#include "runtime/event.h"
#include "runtime/record.h"

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

/* One JSON object for a row of typed records (runtime/record.h):
 *   {"stage":"s",<"field":value for each field>,"id":"…"}
 * in schema order, with the KEY fields nested in a "key" object placed
 * before field key_at when the schema is keyed.  Values: strings, numbers
 * (doubles round-trip through strtod; non-finite ones and null values are
 * null), times as quoted RFC 3339 with milliseconds, bools.  The id, there
 * when the schema is keyed or has ID fields, is stage, then the KEY values
 * joined by ',', then each ID value ('/' between the parts; times in ms),
 * percent-encoded so that it is unique and stable across runs.  For a
 * window (ls_window_schema) that is
 *   {"stage":"s","window_start":"…","window_end":"…","key":{"f":"v",…},
 *    "count":N,"<agg name>":x|null,…,"final":true,"id":"s/v,…/start_ms"}
 * Borrows everything; row has sc->n values. */
size_t ls_sinkfmt_record_json(const char *stage, const ls_rec_schema *sc,
    const ls_rec_value *row, char *buf, size_t cap);

/* Column layout of the live table: one column per field not flagged
 * NOTABLE.  Borrows the schema: it must outlive the table. */
typedef struct ls_sinkfmt_table {
	const ls_rec_schema *schema;
	uint16_t w[LS_REC_MAX_FIELDS]; /* display columns; 0: left out */
} ls_sinkfmt_table;

/* Lay out a table for the fields of sc: times 24 columns, strings and
 * doubles as wide as their name (12..32), ints and bools at least 10.
 * Returns 0 or LS_EINVAL (NULL schema or names). */
int ls_sinkfmt_table_init(ls_sinkfmt_table *t, const ls_rec_schema *sc);

/* The header line: the field names, each padded to its column (text
 * left-aligned, numbers right-aligned). */
size_t ls_sinkfmt_table_header(const ls_sinkfmt_table *t, char *buf,
    size_t cap);

/* One row aligned under the header: text left-aligned (longer values cut
 * with an ellipsis, control bytes and invalid UTF-8 shown as '?'), numbers
 * right-aligned (doubles wider than their column push the row out rather
 * than lose digits), "-" for a null value. */
size_t ls_sinkfmt_table_row(const ls_sinkfmt_table *t,
    const ls_rec_value *row, char *buf, size_t cap);

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
