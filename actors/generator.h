/*
 * generator.h -- realistic, deterministic synthetic log lines.
 *
 * The built-in source of `logstream run` and of benchmarks.  Line i is a pure
 * function of (cfg, i): the same seed gives byte-identical output on every
 * machine, a generator can seek to any index (a source resuming from a
 * checkpointed offset continues exactly), and different seeds differ.  Lines
 * look like a small shop's services: a level mix of about 80% INFO, 10%
 * WARN, 5% ERROR and 5% DEBUG with occasional error bursts on one service,
 * HTTP requests whose 5xx statuses go with ERROR, log-normal latencies with
 * a heavy tail, Zipf-distributed users, trace ids and varied messages.
 *
 * A generator is not thread-safe: one owner at a time.
 */
#ifndef LS_ACTORS_GENERATOR_H
#define LS_ACTORS_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

/* Output formats.  Values are stable (they may appear in checkpoints). */
typedef enum ls_gen_format {
	LS_GEN_JSON = 0,   /* one JSON object: ts, level, service, host,
	                      message, method, path, status, latency_ms, bytes,
	                      user, trace_id */
	LS_GEN_LOGFMT = 1, /* the same keys as key=value pairs */
	LS_GEN_SYSLOG = 2, /* RFC 5424 with a [req@32473 ...] structured
	                      data element holding the attributes */
	LS_GEN_SYSLOG3164 = 3, /* BSD syslog: <pri>Mmm dd hh:mm:ss host
	                          tag[pid]: message */
	LS_GEN_CLF = 4,    /* Apache/nginx combined access log */
	LS_GEN_MIXED = 5,  /* each line in one of the five formats above */
	LS_GEN_FORMAT_COUNT
} ls_gen_format;

/* No line is longer than this (bytes, without a newline). */
#define LS_GENERATOR_LINE_MAX 1024

/* 2024-03-01T00:00:00Z, the default start of event time. */
#define LS_GENERATOR_DEFAULT_START_NS INT64_C(1709251200000000000)

/* Event times: line i has start_time_ns + i * 1e9 / events_per_sec plus a
 * jitter in [0, LS_GENERATOR_JITTER_NS), so lines are never out of order by
 * more than this.  Times are held within +-9e18 ns (years 1684 to 2255). */
#define LS_GENERATOR_JITTER_NS INT64_C(250000000)

/* Configuration; a zeroed struct gives the defaults noted per field.  Name
 * lists are borrowed only during ls_generator_new (names are copied); a name
 * is 1..32 bytes of [A-Za-z0-9._-]. */
typedef struct ls_generator_cfg {
	uint64_t seed;
	int format;             /* ls_gen_format; default LS_GEN_JSON */
	int64_t start_time_ns;  /* 0: LS_GENERATOR_DEFAULT_START_NS */
	double events_per_sec;  /* spacing of event times, 1e-6..1e12; 0: 1000 */
	const char *const *services; /* NULL: api, auth, checkout, search,
	                                payments, inventory, frontend, db */
	size_t nservices;            /* entries of services (<= 64) */
	const char *const *hosts;    /* NULL: nhosts names ip-10-0-x-y */
	size_t nhosts;               /* 0: 12; at most 1024 */
	uint32_t nusers;             /* distinct users; 0: 10000; <= 1e6 */
	double zipf_s;               /* user popularity exponent; 0: 1.1 */
} ls_generator_cfg;

typedef struct ls_generator ls_generator;

/* A new generator positioned at line 0, or NULL when cfg is invalid (bad
 * format, name or count) or memory is short.  Borrows cfg. */
ls_generator *ls_generator_new(const ls_generator_cfg *cfg);

/* Free a generator; NULL is a no-op. */
void ls_generator_free(ls_generator *g);

/* Write the current line (no newline, NUL-terminated when it fits) into
 * buf[cap], set *len to its length and *time_ns (may be NULL) to its event
 * time (ms precision; CLF and RFC 3164 print only the seconds), and move to
 * the next line.  LS_ERANGE when cap <= the length: *len says how much is
 * needed and the generator does not move. */
int ls_generator_next(ls_generator *g, char *buf, size_t cap, size_t *len,
    int64_t *time_ns);

/* Position the generator so that the next line written is line index. */
void ls_generator_seek(ls_generator *g, uint64_t index);

/* Index of the line the next ls_generator_next call writes. */
uint64_t ls_generator_index(const ls_generator *g);

/* Parse a format name ("json", "logfmt", "syslog", "syslog3164", "clf",
 * "mixed"); returns 0 and sets *out, or LS_EINVAL. */
int ls_generator_format_parse(const char *name, int *out);

/* The name of a format ("json"), "unknown" when out of range. */
const char *ls_generator_format_name(int format);

#endif /* LS_ACTORS_GENERATOR_H */
