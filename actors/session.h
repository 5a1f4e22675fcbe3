/*
 * session.h -- the state of one partition of a session stage: sessions per
 * key on event time, closed after an inactivity gap, cut at max_duration
 * boundaries, with event counts, distinct values of one field, the first
 * and last messages and user counters.
 *
 * Like actors/window.h this is a plain data structure: the session actor
 * owns one ls_session per partition and calls it from its receive function
 * only.  Nothing here locks, spawns or reads a clock.  Closed sessions and
 * late events leave through callbacks that run synchronously inside
 * ls_session_add / _advance / _idle / _flush; a callback must not call back
 * into the same ls_session.
 *
 * Semantics (docs/sessions.md): the sessions of a key are the maximal runs
 * of its events, in time order, in which consecutive events are at most
 * gap apart and which do not cross a multiple of max_duration since the
 * epoch.  They depend only on the set of events, not on their arrival
 * order, so an out-of-order event that bridges two sessions merges them.
 */
#ifndef LS_ACTORS_SESSION_H
#define LS_ACTORS_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/event.h"
#include "runtime/record.h"

struct ls_state;

#define LS_SESSION_MAX_KEYS 8      /* key fields per spec */
#define LS_SESSION_MAX_COUNTERS 8  /* counters per spec */
#define LS_SESSION_NAME_MAX 64     /* field / counter name, with the NUL */
#define LS_SESSION_VALUE_MAX 128   /* a condition's value, with the NUL */
#define LS_SESSION_KEY_MAX 4096    /* bytes of one key's values */
#define LS_SESSION_MSG_MAX 256     /* bytes kept of a first / last message */
#define LS_SESSION_EXACT_MAX 8     /* distinct values counted exactly */
#define LS_SESSION_HLL_P 8         /* then a HyperLogLog of 2^P registers */

/* A counter condition (docs/sessions.md, "Counters").  Values are stable:
 * they are part of the spec fingerprint kept in saved state. */
typedef enum ls_session_op {
	LS_SESSION_OP_EQ = 1,       /* field=value */
	LS_SESSION_OP_NE = 2,       /* field!=value */
	LS_SESSION_OP_CONTAINS = 3, /* field~text */
	LS_SESSION_OP_LEVEL_GE = 4  /* level>=word */
} ls_session_op;

typedef struct ls_session_counter {
	char name[LS_SESSION_NAME_MAX];
	char field[LS_SESSION_NAME_MAX];
	char value[LS_SESSION_VALUE_MAX];
	uint8_t op;         /* ls_session_op */
	uint8_t level;      /* EQ / NE / LEVEL_GE on "level": the level */
	uint8_t field_len;
	uint8_t value_len;
} ls_session_counter;

/* A session stage's specification.  Flat: it may be copied and stored. */
typedef struct ls_session_spec {
	int64_t gap_ms;   /* > 0: inactivity that ends a session */
	int64_t max_ms;   /* >= 0: sessions never cross a multiple of it
	                     (0: no limit) */
	int64_t grace_ms; /* >= 0: how far behind the watermark an event may
	                     still be */
	uint32_t nkey;
	uint32_t ncounters;
	uint8_t key_len[LS_SESSION_MAX_KEYS];
	char key_fields[LS_SESSION_MAX_KEYS][LS_SESSION_NAME_MAX];
	uint8_t path_len; /* 0: no distinct count */
	char path_field[LS_SESSION_NAME_MAX];
	char distinct_name[LS_SESSION_NAME_MAX + 10]; /* "distinct_<field>" */
	ls_session_counter counters[LS_SESSION_MAX_COUNTERS];
} ls_session_spec;

/* Parse one counter, "name: condition", into *c.  Returns 0, or LS_EINVAL
 * with a reason in err (err may be NULL).  Borrows text. */
int ls_session_counter_parse(const char *text, ls_session_counter *c,
    char *err, size_t errlen);

/* Fill *s.  key_fields and counters (strings for ls_session_counter_parse)
 * are borrowed; path_field may be NULL.  Returns 0, or LS_EINVAL with a
 * message naming the offending argument in err (errlen bytes). */
int ls_session_spec_init(ls_session_spec *s, int64_t gap_ms, int64_t max_ms,
    int64_t grace_ms, const char *const *key_fields, size_t nkey,
    const char *path_field, const char *const *counters, size_t ncounters,
    char *err, size_t errlen);

/* One closed session.  Everything is borrowed from the state and valid only
 * until the callback that received it returns. */
typedef struct ls_session_result {
	int64_t start_ns; /* time of its first event */
	int64_t end_ns;   /* time of its last event */
	uint64_t events;
	uint64_t distinct; /* distinct values of the path field (0 without) */
	int distinct_exact; /* 1: exact, 0: a HyperLogLog estimate */
	uint32_t nkeys;
	ls_str keys[LS_SESSION_MAX_KEYS];
	ls_str first_message, last_message; /* at most LS_SESSION_MSG_MAX */
	uint32_t ncounters;
	uint64_t counter[LS_SESSION_MAX_COUNTERS];
} ls_session_result;

typedef void (*ls_session_emit_fn)(void *arg, const ls_session_result *r);

/* A late event (older than the watermark minus grace): the caller sends it
 * to the dead-letter output.  ev is the caller's own event, borrowed. */
typedef void (*ls_session_late_fn)(void *arg, const ls_event *ev,
    int64_t watermark_ns);

typedef struct ls_session ls_session;

/* Create the state of one partition (copies *spec).  watermark_delay_ms
 * and idle_timeout_ms as for ls_window_new; emit and late must not be NULL.
 * Returns 0 and sets *out, LS_EINVAL or LS_ENOMEM. */
int ls_session_new(ls_session **out, const ls_session_spec *spec,
    int64_t watermark_delay_ms, int64_t idle_timeout_ms,
    ls_session_emit_fn emit, ls_session_late_fn late, void *arg);

/* Free the state without emitting anything.  NULL is a no-op. */
void ls_session_free(ls_session *s);

/* Add one event (borrowed).  Its time is ev->time_ns, or ev->ingest_ns when
 * that is LS_TIME_UNKNOWN.  An event older than watermark - grace is late:
 * it goes to the late callback and counts in stats.late.  May close
 * sessions (without a manual watermark).  Returns 0; LS_EINVAL when the
 * event has no time, LS_ERANGE when its key values exceed
 * LS_SESSION_KEY_MAX bytes or its time is too close to the ends of int64,
 * LS_ENOMEM (state unchanged). */
int ls_session_add(ls_session *s, const ls_event *ev);

/* As ls_window_set_manual_watermark / _advance / _idle / _flush: the
 * caller drives the watermark; raise it (never back) and close the
 * sessions it passes; idle advance by wall time; close everything at end
 * of input.  Each returns the number of sessions closed. */
void ls_session_set_manual_watermark(ls_session *s, int manual);
size_t ls_session_advance(ls_session *s, int64_t watermark_ns);
size_t ls_session_idle(ls_session *s, int64_t now_ns);
size_t ls_session_flush(ls_session *s);

/* Interactive query: call fn(arg, r) for every open session whose span
 * [start, end] overlaps [from_ns, to_ns), ordered by start then key.
 * Changes nothing; fn must not call into s.  0 or LS_ENOMEM (fn not
 * called). */
int ls_session_query(ls_session *s, int64_t from_ns, int64_t to_ns,
    ls_session_emit_fn fn, void *arg);

/* As ls_session_query, for one key only (nkeys == the spec's nkey values,
 * borrowed; found by its hash, not by a scan); keys NULL: every key.
 * LS_EINVAL for another number of key values. */
int ls_session_query_some(ls_session *s, int64_t from_ns, int64_t to_ns,
    const ls_str *keys, uint32_t nkeys, ls_session_emit_fn fn, void *arg);

typedef struct ls_session_stats {
	uint64_t events;   /* events added, late ones included */
	uint64_t late;
	uint64_t emitted;  /* sessions closed and emitted */
	uint64_t merged;   /* merges of two sessions by a bridging event */
	uint64_t open;     /* sessions open now */
	uint64_t keys;     /* keys with an open session */
	uint64_t mem_bytes; /* bytes the state holds (capacities included) */
	int64_t watermark_ns;
	int64_t max_time_ns;
} ls_session_stats;

void ls_session_get_stats(const ls_session *s, ls_session_stats *out);

/* ---- state in an ls_state handle (docs/sessions.md, "State") ----
 * Key "m" holds the meta part (spec fingerprint, watermark, counters), key
 * 'S' + id (8 bytes big-endian) one part per open session. */

/* Write into st what changed since the previous sync (all: every open
 * session): the meta part, each session an event touched, and a delete for
 * each session that closed or was merged away after it had been written.
 * On error the marks stay, so the next sync writes the same again. */
int ls_session_sync(ls_session *s, struct ls_state *st, int all);

/* Replace the state with the one in st (no meta key: a fresh state).
 * Validates every part (LS_ECORRUPT), the spec fingerprint (LS_EINVAL),
 * the version (LS_ENOTSUP); on any error s is unchanged.  Emits nothing. */
int ls_session_load(ls_session *s, struct ls_state *st);

/* Decoding of parts, for ls_session_load and the fuzz driver: replace the
 * state with a meta part and n session parts (borrowed, any order).
 * Errors as ls_session_load; meta NULL and n 0: a fresh state. */
int ls_session_load_parts(ls_session *s, const uint8_t *meta, size_t mlen,
    const uint8_t *const *parts, const size_t *lens, size_t n);

/* Receives one part: the meta part (id 0, is_meta 1) or a session part
 * (part NULL: the session with that id is gone).  Non-zero stops. */
typedef int (*ls_session_part_fn)(void *arg, int is_meta, uint64_t id,
    const uint8_t *part, size_t len);

/* The walk behind ls_session_sync, for callers without an ls_state. */
int ls_session_save_changed(ls_session *s, int all, ls_session_part_fn fn,
    void *arg);

/* The whole state as one malloc'd blob (*buf, caller frees): the meta part
 * and every open session part, framed ("LSSB", docs/sessions.md); for
 * pipelines without a store.  Changes no mark.  LS_ENOMEM. */
int ls_session_save(ls_session *s, uint8_t **buf, size_t *len);

/* Replace the state with a blob of ls_session_save (borrowed).  Errors and
 * guarantees as ls_session_load_parts. */
int ls_session_restore(ls_session *s, const void *buf, size_t len);

/* The result schema, added to the empty schema out: session_start (time,
 * id), session_end (time, not in the table), one string KEY field per key
 * field, duration_ms (int), events (int), distinct_<path field> (int, with
 * a path field), one int per counter, first_message and last_message
 * (strings, not in the table).  0 or an error of ls_rec_schema_add. */
int ls_session_schema(const ls_session_spec *spec, ls_rec_schema *out);

/* Append r as one row of out (schema from ls_session_schema of the same
 * spec).  0 or LS_ENOMEM (out unchanged). */
int ls_session_record(const ls_session_spec *spec,
    const ls_session_result *r, ls_records *out);

#endif /* LS_ACTORS_SESSION_H */
