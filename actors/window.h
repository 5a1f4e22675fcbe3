/*
 * window.h -- the state of one partition of a window stage: tumbling windows
 * on event time, grouped by key fields, with count/sum/min/max/avg.
 *
 * This module is a plain data structure.  The window actor owns one
 * ls_window per partition and calls it from its receive function; nothing
 * here locks, spawns or reads a clock, so every call is deterministic given
 * its inputs.  Results and late events leave through callbacks that run
 * synchronously inside ls_window_add / _idle / _flush / _query; a callback
 * must not call back into the same ls_window.
 *
 * The memory layout (flat per-window entry arrays and key bytes, ready to be
 * written to the state store as they are) is described in docs/windows.md.
 */
#ifndef LS_ACTORS_WINDOW_H
#define LS_ACTORS_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/event.h"
#include "runtime/record.h"

#define LS_WINDOW_MAX_KEYS  8   /* group-by fields per spec */
#define LS_WINDOW_MAX_AGGS  16  /* aggregates per spec */
#define LS_WINDOW_NAME_MAX  64  /* field / output name, with the NUL */
#define LS_WINDOW_KEY_MAX   4096 /* bytes of one group's key values */

/* Aggregate functions.  Values are stable: they are stored in snapshots. */
typedef enum ls_window_agg_kind {
	LS_WINDOW_AGG_COUNT = 0,
	LS_WINDOW_AGG_SUM = 1,
	LS_WINDOW_AGG_MIN = 2,
	LS_WINDOW_AGG_MAX = 3,
	LS_WINDOW_AGG_AVG = 4,
	LS_WINDOW_AGG_COUNT_FIELD = 5 /* count(f): events with a numeric f */
} ls_window_agg_kind;

/* One parsed aggregate: "avg(latency_ms)" gives kind AVG, field
 * "latency_ms" and output name "avg_latency_ms"; "count" has no field. */
typedef struct ls_window_agg {
	uint8_t kind;                   /* ls_window_agg_kind */
	uint8_t field_len;              /* strlen(field) */
	char field[LS_WINDOW_NAME_MAX]; /* NUL-terminated; "" for count */
	char name[LS_WINDOW_NAME_MAX + 8]; /* output name, NUL-terminated */
} ls_window_agg;

/* A window stage's specification.  Flat (no pointers): it may be copied,
 * compared with memcmp after ls_window_spec_init, and stored as bytes. */
typedef struct ls_window_spec {
	int64_t size_ms;  /* tumbling window length, > 0 */
	int64_t grace_ms; /* extra time a window stays open, >= 0 */
	uint32_t nkey;    /* used entries of key_fields[] */
	uint32_t naggs;   /* used entries of aggs[] */
	uint8_t emit_on_update; /* 1: a result per update, and a final one */
	uint8_t key_len[LS_WINDOW_MAX_KEYS];
	char key_fields[LS_WINDOW_MAX_KEYS][LS_WINDOW_NAME_MAX];
	ls_window_agg aggs[LS_WINDOW_MAX_AGGS];
} ls_window_spec;

/* Fill *s from its parts.  key_fields are names read with ls_event_field;
 * aggs are strings "count", "sum(f)", "min(f)", "max(f)", "avg(f)" (function
 * names case-insensitive, blanks allowed around names).  Borrows every
 * argument.  Returns 0, or LS_EINVAL with a message naming the offending
 * argument written to err (errlen bytes, NUL-terminated; err may be NULL). */
int ls_window_spec_init(ls_window_spec *s, int64_t size_ms, int64_t grace_ms,
    const char *const *key_fields, size_t nkey, const char *const *aggs,
    size_t naggs, int emit_on_update, char *err, size_t errlen);

/* Point key_fields[0..nkey) and agg_names[0..naggs) at the names inside *s
 * (either array may be NULL), e.g. for ls_sinkfmt_*.  Valid while *s is. */
void ls_window_spec_names(const ls_window_spec *s, const char **key_fields,
    const char **agg_names);

/* One group of one window.  Everything is borrowed from the window state and
 * valid only until the callback that received it returns. */
typedef struct ls_window_result {
	int64_t start_ns; /* window [start_ns, end_ns), ns since the epoch */
	int64_t end_ns;
	uint32_t nkeys; /* == spec nkey */
	uint32_t naggs; /* == spec naggs */
	ls_str keys[LS_WINDOW_MAX_KEYS]; /* group-by values, in spec order */
	uint64_t count;                  /* events in the group */
	double value[LS_WINDOW_MAX_AGGS]; /* aggregate i, when has_value[i] */
	uint8_t has_value[LS_WINDOW_MAX_AGGS]; /* 0: no event had the field */
	int final; /* 1: window closed, its state is gone; 0: an update */
} ls_window_result;

/* Receives results.  arg is the pointer given to ls_window_new or
 * ls_window_query; r is borrowed for the duration of the call. */
typedef void (*ls_window_emit_fn)(void *arg, const ls_window_result *r);

/* Receives a late event (its window had already closed): the caller sends it
 * to the dead-letter output.  ev is the caller's own event, borrowed. */
typedef void (*ls_window_late_fn)(void *arg, const ls_event *ev,
    int64_t window_start_ns, int64_t watermark_ns);

typedef struct ls_window ls_window;

/* Create the state of one partition.  Copies *spec.  watermark_delay_ms (>=
 * 0) is how far behind the largest event time seen the watermark trails;
 * idle_timeout_ms (>= 0) is how long ls_window_idle waits after the last
 * event before it advances the watermark.  emit and late must not be NULL;
 * both receive arg.  Returns 0 and sets *out, LS_EINVAL or LS_ENOMEM. */
int ls_window_new(ls_window **out, const ls_window_spec *spec,
    int64_t watermark_delay_ms, int64_t idle_timeout_ms, ls_window_emit_fn emit,
    ls_window_late_fn late, void *arg);

/* Free the state without emitting anything.  NULL is a no-op. */
void ls_window_free(ls_window *w);

/* Add one event (borrowed; keys are copied when a new group appears).  Its
 * time is ev->time_ns, or ev->ingest_ns when that is LS_TIME_UNKNOWN.  A
 * late event goes to the late callback and counts in stats.late.  May emit
 * updates and close windows.  Returns 0; LS_EINVAL when the event has no
 * time at all, LS_ERANGE when its window is outside int64 ns or its key
 * values exceed LS_WINDOW_KEY_MAX bytes, LS_ENOMEM (state unchanged). */
int ls_window_add(ls_window *w, const ls_event *ev);

/* Tell the state that the source may be idle; now_ns is wall time on the
 * clock of ev->ingest_ns.  When idle_timeout_ms has passed since the
 * ingest time of the last event, event time is taken to have advanced by
 * the idle time: watermark = max event time + (now - last ingest) - delay;
 * due windows close.  Returns the number of windows closed. */
size_t ls_window_idle(ls_window *w, int64_t now_ns);

/* Per-input watermarks: with manual = 1, ls_window_add no longer advances
 * the watermark from the events it sees; the caller does, with
 * ls_window_advance (a stage with several upstream actors takes the
 * minimum of their progress, so one lagging input does not make the
 * others' events late).  ls_window_idle and ls_window_flush still work. */
void ls_window_set_manual_watermark(ls_window *w, int manual);

/* Raise the watermark to watermark_ns (it never goes back) and close the
 * windows it passes.  Returns the number of windows closed. */
size_t ls_window_advance(ls_window *w, int64_t watermark_ns);

/* End of input: close and emit every open window, oldest first.  The
 * watermark moves past them, so their events arrive late from now on.
 * Returns the number of windows closed. */
size_t ls_window_flush(ls_window *w);

/* Interactive query: call fn(arg, r) with final = 0 for every group of every
 * open window overlapping [from_ns, to_ns), ordered by window start then
 * key.  Changes nothing.  Returns 0 or LS_ENOMEM (fn not called). */
int ls_window_query(ls_window *w, int64_t from_ns, int64_t to_ns,
    ls_window_emit_fn fn, void *arg);

/* As ls_window_query, narrowed: with keys (nkeys == the spec's nkey
 * values, borrowed) only that group of each window (found by its hash, not
 * by a scan); with limit > 0 it stops after the window in which the limit-th
 * result was reported (the first ones in the order above; the caller cuts
 * the rest).  keys NULL and limit 0: ls_window_query.  0 or LS_EINVAL (fn
 * NULL, another number of key values). */
int ls_window_query_some(ls_window *w, int64_t from_ns, int64_t to_ns,
    const ls_str *keys, uint32_t nkeys, size_t limit, ls_window_emit_fn fn,
    void *arg);

typedef struct ls_window_stats {
	uint64_t events;       /* events added, late ones included */
	uint64_t late;         /* events whose window had already closed */
	uint64_t emitted;      /* results emitted (updates and final) */
	uint64_t closed;       /* windows closed */
	uint64_t open_windows; /* windows currently open */
	uint64_t keys;         /* groups across the open windows */
	int64_t watermark_ns;  /* INT64_MIN until the first event */
	int64_t max_time_ns;   /* largest event time seen, or INT64_MIN */
} ls_window_stats;

/* Snapshot of the counters; owner thread only. */
void ls_window_get_stats(const ls_window *w, ls_window_stats *out);

/* Serialise everything that determines future output: spec (to check on
 * load), open windows, groups with their key bytes and aggregate
 * accumulators, watermark, max event time, the manual flag, last ingest
 * time, and the stats counters.  *buf is malloc'd (caller frees); the format
 * is versioned, little endian, with a checksum (XXH3 via runtime/hash.h),
 * drawn in docs/windows.md.  One allocation, one pass.  LS_ENOMEM. */
int ls_window_save(const ls_window *w, uint8_t **buf, size_t *len);

/* Replace w's state with a saved one (w was created with an equal spec, else
 * LS_EINVAL).  Validates everything (lengths, counts, checksum,
 * sortedness/uniqueness the structure relies on); a malformed buffer gives
 * LS_ECORRUPT, a well-formed one of another format version LS_ENOTSUP, and
 * both, like LS_ENOMEM, leave w unchanged.  Emits nothing; the watermark
 * delay, idle timeout and callbacks stay w's own.  Borrowed buf. */
int ls_window_load(ls_window *w, const void *buf, size_t len);

/* ---- incremental saves (docs/windows.md) ----
 * The state as parts: one meta part (spec to check on load, watermark,
 * largest event time, last ingest time, manual flag, counters) and one part
 * per open window (its start and groups with their keys and aggregate
 * states).  A stage keeps them as keys of its ls_state and rewrites, at each
 * checkpoint, only the windows changed since the previous one. */

/* The meta part, malloc'd (caller frees).  LS_EINVAL, LS_ENOMEM. */
int ls_window_save_meta(const ls_window *w, uint8_t **buf, size_t *len);

/* Receives one window part: part != NULL is the window starting at
 * start_ns as it is now (borrowed for the call); part NULL (len 0) says the
 * window closed and its part is gone.  Non-zero stops the walk. */
typedef int (*ls_window_part_fn)(void *arg, int64_t start_ns,
    const uint8_t *part, size_t len);

/* Call fn for every window changed since the previous call, in start
 * order: a part for each open window an event touched (all = 1: for every
 * open window), and part NULL for each window that closed after it had
 * been handed out by an earlier call (or restored by ls_window_load_parts).
 * Once every call of fn returned 0 the marks are cleared and 0 is
 * returned; otherwise fn's answer is returned and the marks stay, so the
 * next call hands out the same windows again.  LS_ENOMEM. */
int ls_window_save_changed(ls_window *w, int all, ls_window_part_fn fn,
    void *arg);

/* Replace w's state with a meta part and n window parts (any order; each
 * borrowed).  Validates everything ls_window_load validates (a malformed
 * part: LS_ECORRUPT; another spec: LS_EINVAL; another format version:
 * LS_ENOTSUP; duplicate starts: LS_ECORRUPT); on any error w is unchanged.
 * Afterwards no window counts as changed, and every restored window counts
 * as handed out (its close is reported).  meta NULL and n 0: a fresh state
 * (as ls_window_new made it, spec kept).  LS_ENOMEM. */
int ls_window_load_parts(ls_window *w, const uint8_t *meta, size_t mlen,
    const uint8_t *const *parts, const size_t *lens, size_t n);

/* The record schema of a window's results (runtime/record.h), added to the
 * empty schema out: window_start (time, id), window_end (time, not in the
 * table), one string KEY field per key field, count (int), one double per
 * aggregate except those named "count" (they equal count; null without a
 * value), final (bool, not in the table).  Returns 0 or an error of
 * ls_rec_schema_add. */
int ls_window_schema(const ls_window_spec *spec, ls_rec_schema *out);

/* Append r as one row of out, whose schema came from ls_window_schema of
 * the same spec (key bytes copied).  0 or LS_ENOMEM (out unchanged). */
int ls_window_record(const ls_window_spec *spec, const ls_window_result *r,
    ls_records *out);

#endif /* LS_ACTORS_WINDOW_H */
