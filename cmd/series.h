/*
 * series.h -- a metric series as NAB lays it out: a CSV file with a header
 * line and one `timestamp,value[,anomaly_score]` row per point, read whole
 * into memory; and the detector (actors/anomaly.h) run over one.
 *
 * Nothing is skipped: a row that is not exactly a timestamp
 * (ls_timefmt_iso8601, zoneless = UTC) and a finite number fails the read
 * with its line number.  Rows stay in file order: timestamps may repeat or
 * step back (NAB's real series do, around clock changes); the detector
 * takes a point older than the previous one as simultaneous with it.
 * Functions are reentrant; an ls_series belongs to
 * its caller.
 */
#ifndef LS_CMD_SERIES_H
#define LS_CMD_SERIES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "actors/anomaly.h"

typedef struct ls_series {
	size_t n;        /* points */
	int64_t *ts;     /* n timestamps, ns since the epoch */
	double *value;   /* n values */
	double *score;   /* n anomaly scores: read from a third column, or
	                  * filled by ls_series_detect; else NULL */
	char **ts_text;  /* n timestamps as written in the file */
	char **val_text; /* n values as written in the file */
	char *buf;       /* the file's bytes, which the texts point into */
} ls_series;

/* Read the CSV at path into *s (zeroed first).  want_score: 1 requires a
 * third column `anomaly_score` (a NAB results file), 0 requires exactly two
 * columns.  Returns 0, or LS_EIO / LS_EPARSE / LS_ENOMEM with a message
 * "path:LINE: what" in err (errlen bytes; err may be NULL). */
int ls_series_read(const char *path, int want_score, ls_series *s,
    char *err, size_t errlen);

/* Read the whole file at path into a new buffer *buf (caller frees) of
 * *len bytes.  Returns 0, or LS_EIO / LS_ENOMEM with "path: what" in err. */
int ls_series_read_file(const char *path, char **buf, size_t *len,
    char *err, size_t errlen);

/* The same from a buffer: name is used only in messages. */
int ls_series_parse(const char *name, const char *buf, size_t len,
    int want_score, ls_series *s, char *err, size_t errlen);

/* Run a fresh detector with *cfg over *s online, point by point, and store
 * each point's score in s->score (allocated when NULL).  Counts alerts in
 * *alerts when not NULL.  Returns 0, LS_EINVAL (bad cfg), LS_ENOMEM. */
int ls_series_detect(ls_series *s, const ls_anomaly_cfg *cfg,
    size_t *alerts, char *err, size_t errlen);

/* Write `timestamp,value,anomaly_score` with the texts as read and scores
 * with 6 decimals.  Returns 0 or LS_EIO. */
int ls_series_write(const ls_series *s, FILE *out);

/* Release what *s holds and zero it. */
void ls_series_free(ls_series *s);

#endif /* LS_CMD_SERIES_H */
