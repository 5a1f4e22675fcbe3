/*
 * nab.h -- the scorer of the Numenta Anomaly Benchmark (Lavin & Ahmad,
 * "Evaluating Real-time Anomaly Detection Algorithms -- the Numenta Anomaly
 * Benchmark", 2015), as the NAB repository's sweeper computes it.
 *
 * Each labelled anomaly window rewards the first detection inside it by a
 * scaled sigmoid of its position (A_TP at the window's start, about 0 at its
 * end) and costs A_FN when nothing in it is detected; a detection outside
 * every window costs A_FP times a sigmoid of its distance after the
 * preceding window (the full A_FP when far or when no window precedes).
 * The first 15% of each file (at most 750 rows) is a probationary period
 * that is not scored.  The threshold on the anomaly score is swept over
 * every distinct score, one threshold for the whole corpus per profile,
 * and the best raw score is normalised against the null detector (never
 * detects) and the perfect detector (the start of every window):
 * 100 * (raw - null) / (perfect - null).  docs/anomaly.md has the details.
 *
 * Everything here is pure and reentrant; inputs are borrowed.
 */
#ifndef LS_CMD_NAB_H
#define LS_CMD_NAB_H

#include <stddef.h>
#include <stdint.h>

/* An application profile: the weights of the cost matrix. */
typedef struct ls_nab_profile {
	const char *name;
	double tp, fp, tn, fn; /* A_TP, A_FP, A_TN (unused by NAB), A_FN */
} ls_nab_profile;

/* standard, reward_low_FP_rate, reward_low_FN_rate. */
#define LS_NAB_NPROFILES 3
extern const ls_nab_profile ls_nab_profiles[LS_NAB_NPROFILES];

/* A labelled anomaly window, both ends included (ns since the epoch). */
typedef struct ls_nab_window {
	int64_t start_ns, end_ns;
} ls_nab_window;

/* One scored file: n rows of timestamps (increasing) and anomaly scores,
 * and its windows in increasing order, not overlapping. */
typedef struct ls_nab_file {
	const char *name;
	size_t n;
	const int64_t *ts;
	const double *score;
	size_t nwin;
	const ls_nab_window *win;
} ls_nab_file;

/* The outcome of one profile over a corpus. */
typedef struct ls_nab_result {
	double threshold;  /* the best threshold: detection iff score >= it */
	double raw;        /* the raw score at that threshold */
	double null_raw;   /* the null detector's best raw score */
	double perfect;    /* windows * A_TP */
	double score;      /* normalised: 100 (raw-null)/(perfect-null) */
	size_t tp, fp, fn; /* windows detected, detections outside windows,
	                    * windows missed at that threshold (scored rows) */
} ls_nab_result;

/* NAB's scaled sigmoid: 2/(1+exp(5x)) - 1, and -1 for x >= 3. */
double ls_nab_scaled_sigmoid(double x);

/* Rows of a file of n rows in the probationary period:
 * min(floor(0.15 n), 750). */
size_t ls_nab_probation(size_t n);

/* Score the corpus files[0..nfiles) under profile *p: the threshold sweep,
 * the null detector and the normalisation.  Returns 0, LS_EINVAL (a window
 * that holds no row, windows out of order) or LS_ENOMEM. */
int ls_nab_score(const ls_nab_file *files, size_t nfiles,
    const ls_nab_profile *p, ls_nab_result *out);

/* The same at a fixed threshold instead of the best one: out->threshold
 * is `threshold` and out->raw, tp, fp, fn are those of detections with
 * score >= threshold (null and the normalisation as above). */
int ls_nab_score_at(const ls_nab_file *files, size_t nfiles,
    const ls_nab_profile *p, double threshold, ls_nab_result *out);

/* The windows of a labels file (NAB's labels_windows.json: an object that
 * maps each data file's relative path to a list of [start, end] timestamp
 * pairs).  Caller frees with ls_nab_labels_free. */
typedef struct ls_nab_labels {
	size_t nfiles;
	char **path;          /* nfiles relative paths, in file order */
	size_t *nwin;         /* windows of each */
	ls_nab_window **win;  /* the windows of each */
} ls_nab_labels;

/* Parse a labels file from buf[0..len) (name for messages).  Returns 0, or
 * LS_EPARSE with "name:LINE: what" in err, or LS_ENOMEM. */
int ls_nab_labels_parse(const char *name, const char *buf, size_t len,
    ls_nab_labels *out, char *err, size_t errlen);

/* Release what *l holds and zero it. */
void ls_nab_labels_free(ls_nab_labels *l);

#endif /* LS_CMD_NAB_H */
