/*
 * nab.c -- the NAB scorer (see nab.h): sweep scores of every row, the
 * threshold sweep over a corpus, normalisation, and the labels file.
 *
 * The sweep follows nab/sweeper.py of the NAB repository: rows are sorted
 * by anomaly score, highest first; walking down, each distinct score is a
 * threshold whose raw score is the sum of the false-positive costs of the
 * rows above it outside windows, plus, for each window, the best sweep
 * score of its rows above it (which, as the sigmoid falls through a window,
 * is that of its earliest detection) or -A_FN when none is.
 */
#include "cmd/nab.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/timefmt.h"
#include "runtime/err.h"

const ls_nab_profile ls_nab_profiles[LS_NAB_NPROFILES] = {
	{ "standard", 1.0, 0.11, 1.0, 1.0 },
	{ "reward_low_FP_rate", 1.0, 0.22, 1.0, 1.0 },
	{ "reward_low_FN_rate", 1.0, 0.11, 1.0, 2.0 },
};

#define PROBATION_SHARE 0.15
#define PROBATION_MAX 750 /* 0.15 * 5000 rows */
#define OUTSIDE (-1)      /* a row outside every window */

double
ls_nab_scaled_sigmoid(double x)
{
	if (x >= 3.0)
		return -1.0;
	return 2.0 / (1.0 + exp(5.0 * x)) - 1.0;
}

size_t
ls_nab_probation(size_t n)
{
	size_t p = (size_t)floor(PROBATION_SHARE * (double)n);
	return p < PROBATION_MAX ? p : PROBATION_MAX;
}

/* One scorable row of the corpus. */
typedef struct row {
	double score; /* the detector's anomaly score */
	double sweep; /* its weighted sweep score if detected */
	long win;     /* corpus-wide window index, or OUTSIDE */
} row;

/* Append the scorable rows of f (windows numbered from *win0) to rows. */
static int
file_rows(const ls_nab_file *f, const ls_nab_profile *p, int zero,
    row *rows, size_t *nrows, long win0)
{
	const double max_tp = ls_nab_scaled_sigmoid(-1.0);
	size_t probation = ls_nab_probation(f->n);
	size_t next = 0;
	long cur = -1;
	size_t cur_right = 0, prev_right = 0;
	double cur_width = 0, prev_width = 0;
	int have_prev = 0;

	for (size_t i = 0; i < f->n; i++) {
		if (cur < 0 && next < f->nwin && f->ts[i] >= f->win[next].start_ns) {
			if (f->ts[i] > f->win[next].end_ns)
				return LS_EINVAL; /* a window with no row */
			size_t r = i;
			while (r + 1 < f->n && f->ts[r + 1] <= f->win[next].end_ns)
				r++;
			cur = (long)next++;
			cur_right = r;
			cur_width = (double)(r - i + 1);
		}
		double s;
		if (cur >= 0) {
			double pos = -((double)cur_right - (double)i + 1.0);
			s = ls_nab_scaled_sigmoid(pos / cur_width) * p->tp / max_tp;
		} else if (!have_prev) {
			s = -1.0 * p->fp;
		} else {
			double den = prev_width - 1.0;
			double past = den > 0
			    ? fabs((double)prev_right - (double)i) / den
			    : 3.0;
			s = ls_nab_scaled_sigmoid(past) * p->fp;
		}
		if (i >= probation) {
			rows[*nrows] = (row){ zero ? 0.0 : f->score[i], s,
				cur >= 0 ? win0 + cur : OUTSIDE };
			(*nrows)++;
		}
		if (cur >= 0 && i == cur_right) {
			have_prev = 1;
			prev_right = cur_right;
			prev_width = cur_width;
			cur = -1;
		}
	}
	if (next != f->nwin)
		return LS_EINVAL; /* windows after the last row, or unordered */
	return 0;
}

static int
by_score_desc(const void *a, const void *b)
{
	const row *x = a, *y = b;
	if (x->score > y->score)
		return -1;
	if (x->score < y->score)
		return 1;
	return 0;
}

/* The best raw score over every threshold, or the one at *fixed when
 * fixed is not NULL; the counts at it. */
static int
sweep(const ls_nab_file *files, size_t nfiles, const ls_nab_profile *p,
    int zero, const double *fixed, double *best_raw, double *best_thr,
    size_t *tp, size_t *fp, size_t *fn)
{
	size_t total = 0, nwin = 0;
	for (size_t f = 0; f < nfiles; f++) {
		total += files[f].n;
		nwin += files[f].nwin;
	}
	row *rows = malloc((total ? total : 1) * sizeof(*rows));
	double *part = malloc((nwin ? nwin : 1) * sizeof(*part));
	unsigned char *seen = calloc(nwin ? nwin : 1, 1);
	if (rows == NULL || part == NULL || seen == NULL) {
		free(rows);
		free(part);
		free(seen);
		return LS_ENOMEM;
	}
	size_t n = 0;
	long win0 = 0;
	int rc = 0;
	for (size_t f = 0; f < nfiles && rc == 0; f++) {
		rc = file_rows(&files[f], p, zero, rows, &n, win0);
		win0 += (long)files[f].nwin;
	}
	if (rc != 0)
		goto out;
	/* The windows with a scorable row start as misses. */
	double raw = 0;
	size_t nscored = 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].win != OUTSIDE && !seen[rows[i].win]) {
			seen[rows[i].win] = 1;
			part[rows[i].win] = -p->fn;
			raw -= p->fn;
			nscored++;
		}
	qsort(rows, n, sizeof(*rows), by_score_desc);

	size_t ntp = 0, nfp = 0;
	double thr = 1.1; /* above every score: nothing detected */
	*best_raw = raw;
	*best_thr = thr;
	*tp = 0;
	*fp = 0;
	*fn = nscored;
	memset(seen, 0, nwin ? nwin : 1);
	for (size_t i = 0; i <= n; i++) {
		/* i == n is the end: the last threshold's score is recorded. */
		if (i == n || rows[i].score != thr) {
			int take = fixed == NULL ? raw > *best_raw
			                         : thr >= *fixed;
			if (take) {
				*best_raw = raw;
				*best_thr = thr;
				*tp = ntp;
				*fp = nfp;
				*fn = nscored - ntp;
			}
			if (i == n || (fixed != NULL && rows[i].score < *fixed))
				break;
			thr = rows[i].score;
		}
		const row *r = &rows[i];
		if (r->win == OUTSIDE) {
			raw += r->sweep;
			nfp++;
		} else {
			if (!seen[r->win]) {
				seen[r->win] = 1;
				ntp++;
			}
			if (r->sweep > part[r->win]) {
				raw += r->sweep - part[r->win];
				part[r->win] = r->sweep;
			}
		}
	}
out:
	free(rows);
	free(part);
	free(seen);
	return rc;
}

static int
score(const ls_nab_file *files, size_t nfiles, const ls_nab_profile *p,
    const double *fixed, ls_nab_result *out)
{
	size_t tp, fp, fn, ntp, nfp, nfn;
	double thr, null_thr;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = sweep(files, nfiles, p, 0, fixed, &out->raw, &thr, &tp, &fp,
	    &fn);
	if (rc != 0)
		return rc;
	rc = sweep(files, nfiles, p, 1, NULL, &out->null_raw, &null_thr, &ntp, &nfp,
	    &nfn);
	if (rc != 0)
		return rc;
	size_t nwin = 0;
	for (size_t f = 0; f < nfiles; f++)
		nwin += files[f].nwin;
	out->perfect = (double)nwin * p->tp;
	out->threshold = fixed != NULL ? *fixed : thr;
	out->tp = tp;
	out->fp = fp;
	out->fn = fn;
	double den = out->perfect - out->null_raw;
	out->score = den != 0 ? 100.0 * (out->raw - out->null_raw) / den : 0;
	return 0;
}

int
ls_nab_score(const ls_nab_file *files, size_t nfiles,
    const ls_nab_profile *p, ls_nab_result *out)
{
	return score(files, nfiles, p, NULL, out);
}

int
ls_nab_score_at(const ls_nab_file *files, size_t nfiles,
    const ls_nab_profile *p, double threshold, ls_nab_result *out)
{
	return score(files, nfiles, p, &threshold, out);
}

/* ---- labels_windows.json ----
 *
 * Only what the file holds is accepted: one object whose values are arrays
 * of two-string arrays; strings without escapes other than \" \\ \/.
 */

typedef struct jp {
	const char *name;
	const char *p, *end;
	size_t line;
	char *err;
	size_t errlen;
} jp;

static int
jfail(jp *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
jfail(jp *j, const char *fmt, ...)
{
	if (j->err != NULL && j->errlen > 0) {
		char msg[256];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		snprintf(j->err, j->errlen, "%s:%zu: %s", j->name, j->line, msg);
	}
	return LS_EPARSE;
}

static void
jskip(jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	                            *j->p == '\r' || *j->p == '\n')) {
		if (*j->p == '\n')
			j->line++;
		j->p++;
	}
}

static int
jexpect(jp *j, char c)
{
	jskip(j);
	if (j->p >= j->end || *j->p != c)
		return jfail(j, "expected '%c'", c);
	j->p++;
	return 0;
}

/* 1 and consume c if it is next, else 0. */
static int
jtake(jp *j, char c)
{
	jskip(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return 1;
	}
	return 0;
}

/* A string into a new buffer *out. */
static int
jstring(jp *j, char **out)
{
	if (jexpect(j, '"') != 0)
		return LS_EPARSE;
	const char *s = j->p;
	size_t cap = 0;
	while (j->p < j->end && *j->p != '"') {
		if (*j->p == '\\')
			j->p++;
		if (j->p >= j->end || *j->p == '\n' || (unsigned char)*j->p < 0x20)
			return jfail(j, "unterminated string");
		j->p++;
		cap++;
	}
	if (j->p >= j->end)
		return jfail(j, "unterminated string");
	char *o = malloc(cap + 1);
	if (o == NULL)
		return LS_ENOMEM;
	size_t k = 0;
	for (const char *q = s; q < j->p; q++) {
		if (*q == '\\') {
			q++;
			if (*q != '"' && *q != '\\' && *q != '/') {
				free(o);
				return jfail(j, "unsupported escape '\\%c'", *q);
			}
		}
		o[k++] = *q;
	}
	o[k] = '\0';
	j->p++;
	*out = o;
	return 0;
}

static int
jtime(jp *j, int64_t *ns)
{
	char *s = NULL;
	int rc = jstring(j, &s);
	if (rc != 0)
		return rc;
	size_t used, n = strlen(s);
	rc = ls_timefmt_iso8601(s, n, ns, &used);
	if (rc != 0 || used != n)
		rc = jfail(j, "bad timestamp '%s'", s);
	free(s);
	return rc;
}

/* The windows of one file: [ [start, end], ... ]. */
static int
jwindows(jp *j, ls_nab_window **out, size_t *nout)
{
	ls_nab_window *w = NULL;
	size_t n = 0, cap = 0;
	int rc = jexpect(j, '[');
	if (rc == 0 && !jtake(j, ']')) {
		do {
			if (n == cap) {
				cap = cap ? cap * 2 : 4;
				ls_nab_window *nw = realloc(w, cap * sizeof(*w));
				if (nw == NULL) {
					rc = LS_ENOMEM;
					break;
				}
				w = nw;
			}
			if ((rc = jexpect(j, '[')) != 0 ||
			    (rc = jtime(j, &w[n].start_ns)) != 0 ||
			    (rc = jexpect(j, ',')) != 0 ||
			    (rc = jtime(j, &w[n].end_ns)) != 0 ||
			    (rc = jexpect(j, ']')) != 0)
				break;
			if (w[n].end_ns < w[n].start_ns) {
				rc = jfail(j, "window ends before it starts");
				break;
			}
			if (n > 0 && w[n].start_ns <= w[n - 1].end_ns) {
				rc = jfail(j, "windows overlap or out of order");
				break;
			}
			n++;
		} while (jtake(j, ','));
		if (rc == 0)
			rc = jexpect(j, ']');
	}
	if (rc != 0) {
		free(w);
		return rc;
	}
	*out = w;
	*nout = n;
	return 0;
}

void
ls_nab_labels_free(ls_nab_labels *l)
{
	for (size_t i = 0; i < l->nfiles; i++) {
		free(l->path[i]);
		free(l->win[i]);
	}
	free(l->path);
	free(l->nwin);
	free(l->win);
	memset(l, 0, sizeof(*l));
}

int
ls_nab_labels_parse(const char *name, const char *buf, size_t len,
    ls_nab_labels *out, char *err, size_t errlen)
{
	jp j = { name, buf, buf + len, 1, err, errlen };
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = jexpect(&j, '{')) != 0)
		return rc;
	if (!jtake(&j, '}')) {
		do {
			if (out->nfiles == cap) {
				cap = cap ? cap * 2 : 16;
				char **np = realloc(out->path, cap * sizeof(char *));
				if (np != NULL)
					out->path = np;
				size_t *nn = realloc(out->nwin, cap * sizeof(size_t));
				if (nn != NULL)
					out->nwin = nn;
				ls_nab_window **nw =
				    realloc(out->win, cap * sizeof(*nw));
				if (nw != NULL)
					out->win = nw;
				if (np == NULL || nn == NULL || nw == NULL) {
					rc = LS_ENOMEM;
					break;
				}
			}
			size_t k = out->nfiles;
			char *path = NULL;
			if ((rc = jstring(&j, &path)) != 0)
				break;
			out->path[k] = path;
			out->win[k] = NULL;
			out->nwin[k] = 0;
			out->nfiles++;
			if ((rc = jexpect(&j, ':')) != 0 ||
			    (rc = jwindows(&j, &out->win[k], &out->nwin[k])) != 0)
				break;
		} while (jtake(&j, ','));
		if (rc == 0)
			rc = jexpect(&j, '}');
	}
	if (rc == 0) {
		jskip(&j);
		if (j.p != j.end)
			rc = jfail(&j, "trailing bytes after the object");
	}
	if (rc != 0) {
		if (rc == LS_ENOMEM && err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", name);
		ls_nab_labels_free(out);
	}
	return rc;
}
