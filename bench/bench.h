/*
 * bench.h -- helpers shared by the benchmark programs under bench/: a
 * count-down latch to learn from a worker thread that a run is over,
 * medians, process memory from /proc, the LS_BENCH_SCALE / LS_BENCH_RUNS
 * knobs and the one-line-per-figure output format that bench/run.sh shows.
 *
 * Every benchmark doubles as a sanity check: it counts what it sent and
 * what arrived and exits non-zero (via ls_bench_fail) on any difference.
 */
#ifndef LS_BENCH_H
#define LS_BENCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/actor.h"

/* A count-down latch.  Not copyable; init before use, destroy after. */
typedef struct ls_bench_latch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t left;
} ls_bench_latch;

/* Initialise *l to open after `count` count-downs. */
void ls_bench_latch_init(ls_bench_latch *l, int64_t count);

/* Release what ls_bench_latch_init acquired; no thread may be waiting. */
void ls_bench_latch_destroy(ls_bench_latch *l);

/* One count-down; any thread (a behaviour callback included). */
void ls_bench_latch_count_down(ls_bench_latch *l);

/* Wait until the latch is open (0) or timeout_ms passes (LS_ETIMEDOUT).
 * Not from a worker thread. */
int ls_bench_latch_wait(ls_bench_latch *l, int64_t timeout_ms);

/* The median of v[0..n-1] (n >= 1); sorts v in place. */
double ls_bench_median(double *v, size_t n);

/* Smallest and largest of v[0..n-1] (n >= 1). */
void ls_bench_minmax(const double *v, size_t n, double *min, double *max);

/* A field of /proc/self/status in bytes ("VmRSS", "VmHWM"); -1 when it
 * cannot be read. */
int64_t ls_bench_proc_bytes(const char *field);

/* n scaled by the LS_BENCH_SCALE environment variable (a positive number,
 * default 1; e.g. 0.01 for a quick run under valgrind), at least `min`. */
uint64_t ls_bench_scaled(uint64_t n, uint64_t min);

/* Runs per figure: LS_BENCH_RUNS (1..99), else def. */
int ls_bench_runs(int def);

/* Runtime options for a benchmark: the defaults, except `workers` from
 * LS_BENCH_WORKERS (1..256) when set, to compare one core with two. */
ls_runtime_opts ls_bench_runtime_opts(void);

/* Print one figure of rates (per second) measured in `nruns` runs:
 * "NAME  MEDIAN M UNIT  (N runs, MIN..MAX)" on stdout, in millions. */
void ls_bench_print_rate(const char *name, const double *rates, int nruns,
                         const char *unit);

/* Print one free-form figure: "NAME  TEXT" on stdout (printf format). */
void ls_bench_print(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report a failed sanity check on stderr ("FAIL bench: ..."); returns 1 so
 * that a caller can write `return ls_bench_fail(...)` from main. */
int ls_bench_fail(const char *bench, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A run timed out: messages were lost and the runtime may be in a state
 * where ls_runtime_destroy would wait forever.  Report like ls_bench_fail
 * and end the process at once with status 1, without cleaning up. */
_Noreturn void ls_bench_abandon(const char *bench, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* LS_BENCH_H */
