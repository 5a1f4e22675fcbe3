/*
 * patterns_cmd.h -- the `logstream patterns` command (cmd/patterns_cmd.c):
 * the templates the miner (actors/patterns.h) learns from a log file, and
 * its grouping accuracy on Loghub samples.
 */
#ifndef LS_CMD_PATTERNS_CMD_H
#define LS_CMD_PATTERNS_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "actors/parse.h"
#include "actors/patterns.h"

/* logstream patterns FILE [--format FMT] [--top N] ...
 * logstream patterns --loghub DIR ...
 * Returns the exit code: 0 success, 1 failure, 2 usage error. */
int ls_cmd_patterns(int argc, char **argv);

/* One Loghub sample scored. */
typedef struct ls_loghub_score {
	size_t lines;
	size_t templates; /* the miner's */
	size_t events;    /* distinct EventIds of the truth */
	double accuracy;  /* grouping accuracy, 0..1 */
} ls_loghub_score;

/* Mine LOG (lines parsed with format fmt, the message of each mined) and
 * score it against the EventId column of CSV (Loghub's
 * *_structured.csv, one row per line of LOG): a line is correct when the
 * lines that share its template are exactly those that share its
 * EventId.  0, or -1 with a reason in err. */
int ls_loghub_score_files(const char *log, const char *csv, ls_format fmt,
    const ls_patterns_cfg *cfg, ls_loghub_score *out, char *err,
    size_t errlen);

/* Grouping accuracy of n lines with predicted groups pred[] and true
 * groups truth[] (any 64-bit labels): the share of lines whose predicted
 * group holds exactly the lines of their true group.  1 for n = 0;
 * -1 when out of memory. */
double ls_grouping_accuracy(const uint64_t *pred,
    const uint64_t *truth, size_t n);

#endif /* LS_CMD_PATTERNS_CMD_H */
