/*
 * mr.h -- the MapReduce engine of `logstream job` (docs/mapreduce.md).
 *
 * A job reads files split into byte ranges on line boundaries (a split
 * owns the lines that start inside it), parses every line with a log
 * format (actors/parse.h), maps it to (key, value) pairs of a built-in
 * job, combines them in the worker's table (map-side combining), then
 * shuffles by hash(key) to reducers, which merge the workers' partial
 * aggregates; the result is sorted (largest first, then by key) so that
 * it is the same whatever the number of workers or splits.
 *
 * Built-in jobs:
 *   count        records per key (the fields of `by`)
 *   top          the n keys with the most records
 *   words        occurrences of each word of the message (lower-cased,
 *                split on anything but letters and digits; n > 0: the n
 *                most frequent)
 *   percentiles  p50 / p90 / p99 / max of a numeric field per key, within
 *                1 % relative error (logarithmic buckets, mergeable);
 *                values below 0 count as 0
 *   distinct     the number of distinct values of a field per key (exact
 *                up to 64-bit hash collisions)
 * Lines the format rejects and records without the numeric field are
 * skipped and counted (ls_mr_stats).
 *
 * Threads: ls_mr_run uses cfg->workers threads of its own and returns
 * when the job is done; progress is called from them, serialised.
 */
#ifndef LS_ACTORS_MR_H
#define LS_ACTORS_MR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "actors/parse.h"

typedef enum ls_mr_kind {
	LS_MR_COUNT,
	LS_MR_TOP,
	LS_MR_WORDS,
	LS_MR_PERCENTILES,
	LS_MR_DISTINCT
} ls_mr_kind;

#define LS_MR_MAX_BY 8

typedef struct ls_mr_job {
	ls_mr_kind kind;
	const char *by[LS_MR_MAX_BY]; /* key fields (ls_event_field names) */
	size_t nby;
	const char *field;            /* percentiles, distinct */
	size_t n;                     /* top, words: how many (0: all) */
	ls_format format;
	const char *const *files;
	size_t nfiles;
	unsigned workers;             /* 0: one per core */
	uint64_t split_bytes;         /* 0: 32 MiB */
} ls_mr_job;

typedef struct ls_mr_stats {
	uint64_t bytes, total_bytes;
	uint64_t lines, skipped, keys;
	uint64_t splits, splits_done;
} ls_mr_stats;

/* Called about every 200 ms while the job runs, and once at the end. */
typedef void (*ls_mr_progress_fn)(void *arg, const ls_mr_stats *st);

/* Output: "jsonl" or "csv". */
typedef enum ls_mr_out { LS_MR_JSONL, LS_MR_CSV } ls_mr_out;

/* Parse a job kind's name; 0 or -1. */
int ls_mr_kind_from_name(const char *name, ls_mr_kind *out);
const char *ls_mr_kind_name(ls_mr_kind k);

/* Run job, writing the result to out.  0, or LS_EIO (a file cannot be
 * read: named in err), LS_EINVAL (a bad job, reason in err), LS_ENOMEM. */
int ls_mr_run(const ls_mr_job *job, FILE *out, ls_mr_out fmt,
    ls_mr_progress_fn progress, void *arg, ls_mr_stats *st, char *err,
    size_t errlen);

#endif /* LS_ACTORS_MR_H */
