/*
 * series.c -- NAB-style metric series: CSV reading and writing, and the
 * detector run over a series (see series.h).
 */
#include "cmd/series.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "actors/timefmt.h"
#include "runtime/err.h"

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void
ls_series_free(ls_series *s)
{
	free(s->ts);
	free(s->value);
	free(s->score);
	free(s->ts_text);
	free(s->val_text);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

/* A finite number that is all of text. */
static int
parse_number(const char *text, double *v)
{
	char *end;
	if (*text == '\0' || *text == ' ' || *text == '\t')
		return -1;
	errno = 0;
	*v = strtod(text, &end);
	if (end == text || *end != '\0' || errno == ERANGE || !isfinite(*v))
		return -1;
	return 0;
}

/* Grow the row arrays of *s to hold cap rows. */
static int
grow(ls_series *s, size_t cap, int want_score)
{
	int64_t *ts = realloc(s->ts, cap * sizeof(*ts));
	if (ts == NULL)
		return LS_ENOMEM;
	s->ts = ts;
	double *v = realloc(s->value, cap * sizeof(*v));
	if (v == NULL)
		return LS_ENOMEM;
	s->value = v;
	char **tt = realloc(s->ts_text, cap * sizeof(*tt));
	if (tt == NULL)
		return LS_ENOMEM;
	s->ts_text = tt;
	char **vt = realloc(s->val_text, cap * sizeof(*vt));
	if (vt == NULL)
		return LS_ENOMEM;
	s->val_text = vt;
	if (want_score) {
		double *sc = realloc(s->score, cap * sizeof(*sc));
		if (sc == NULL)
			return LS_ENOMEM;
		s->score = sc;
	}
	return 0;
}

int
ls_series_parse(const char *name, const char *data, size_t len,
    int want_score, ls_series *s, char *err, size_t errlen)
{
	const int ncol = want_score ? 3 : 2;
	size_t cap = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	s->buf = malloc(len + 1);
	if (s->buf == NULL)
		return fail(err, errlen, LS_ENOMEM, "%s: out of memory", name);
	memcpy(s->buf, data, len);
	s->buf[len] = '\0';

	char *p = s->buf, *end = s->buf + len;
	for (size_t line = 1; p < end; line++) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		char *next = eol != NULL ? eol + 1 : end;
		if (eol == NULL)
			eol = end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		*eol = '\0';
		if (memchr(p, '\0', (size_t)(eol - p)) != NULL) {
			rc = fail(err, errlen, LS_EPARSE, "%s:%zu: NUL byte",
			    name, line);
			goto bad;
		}
		char *col[3] = { NULL, NULL, NULL };
		int n = 0;
		for (char *f = p;; n++) {
			char *comma = strchr(f, ',');
			if (n < 3)
				col[n] = f;
			if (comma == NULL) {
				n++;
				break;
			}
			*comma = '\0';
			f = comma + 1;
		}
		if (line == 1) {
			if (n != ncol || strcmp(col[0], "timestamp") != 0 ||
			    strcmp(col[1], "value") != 0 ||
			    (want_score &&
			        strcmp(col[2], "anomaly_score") != 0)) {
				rc = fail(err, errlen, LS_EPARSE,
				    "%s:1: header must be '%s'", name,
				    want_score ? "timestamp,value,anomaly_score"
				               : "timestamp,value");
				goto bad;
			}
			p = next;
			continue;
		}
		if (n != ncol) {
			rc = fail(err, errlen, LS_EPARSE,
			    "%s:%zu: %d field(s), expected %d (%s)", name, line,
			    n, ncol,
			    want_score ? "timestamp,value,anomaly_score"
			               : "timestamp,value");
			goto bad;
		}
		if (s->n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((rc = grow(s, cap, want_score)) != 0) {
				fail(err, errlen, rc, "%s: out of memory", name);
				goto bad;
			}
		}
		int64_t ns;
		size_t used;
		size_t tl = strlen(col[0]);
		if (ls_timefmt_iso8601(col[0], tl, &ns, &used) != 0 ||
		    used != tl) {
			rc = fail(err, errlen, LS_EPARSE,
			    "%s:%zu: bad timestamp '%s' (want YYYY-MM-DD "
			    "HH:MM:SS)", name, line, col[0]);
			goto bad;
		}
		double v;
		if (parse_number(col[1], &v) != 0) {
			rc = fail(err, errlen, LS_EPARSE,
			    "%s:%zu: bad value '%s' (want a finite number)",
			    name, line, col[1]);
			goto bad;
		}
		if (want_score) {
			double sc;
			if (parse_number(col[2], &sc) != 0) {
				rc = fail(err, errlen, LS_EPARSE,
				    "%s:%zu: bad anomaly_score '%s'", name,
				    line, col[2]);
				goto bad;
			}
			s->score[s->n] = sc;
		}
		s->ts[s->n] = ns;
		s->value[s->n] = v;
		s->ts_text[s->n] = col[0];
		s->val_text[s->n] = col[1];
		s->n++;
		p = next;
	}
	if (p == s->buf) {
		rc = fail(err, errlen, LS_EPARSE, "%s:1: empty file, no header",
		    name);
		goto bad;
	}
	return 0;
bad:
	ls_series_free(s);
	return rc;
}

int
ls_series_read_file(const char *path, char **out, size_t *outlen, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return fail(err, errlen, LS_EIO, "%s: %s", path,
		    strerror(errno));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return fail(err, errlen, LS_ENOMEM,
				    "%s: out of memory", path);
			}
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	int ioerr = ferror(f);
	fclose(f);
	if (ioerr) {
		free(buf);
		return fail(err, errlen, LS_EIO, "%s: read error", path);
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int
ls_series_read(const char *path, int want_score, ls_series *s, char *err,
    size_t errlen)
{
	char *buf;
	size_t len;
	memset(s, 0, sizeof(*s));
	int rc = ls_series_read_file(path, &buf, &len, err, errlen);
	if (rc != 0)
		return rc;
	rc = ls_series_parse(path, buf, len, want_score, s, err, errlen);
	free(buf);
	return rc;
}

int
ls_series_detect(ls_series *s, const ls_anomaly_cfg *cfg, size_t *alerts,
    char *err, size_t errlen)
{
	ls_anomaly d;
	int rc = ls_anomaly_init(&d, cfg, err, errlen);
	if (rc != 0)
		return rc;
	if (s->score == NULL) {
		s->score = malloc((s->n ? s->n : 1) * sizeof(double));
		if (s->score == NULL)
			return fail(err, errlen, LS_ENOMEM, "out of memory");
	}
	size_t na = 0;
	for (size_t i = 0; i < s->n; i++) {
		ls_anomaly_result r;
		ls_anomaly_update(&d, s->ts[i], s->value[i], &r);
		s->score[i] = r.score;
		na += r.alert;
	}
	if (alerts != NULL)
		*alerts = na;
	return 0;
}

int
ls_series_write(const ls_series *s, FILE *out)
{
	if (fputs("timestamp,value,anomaly_score\n", out) < 0)
		return LS_EIO;
	for (size_t i = 0; i < s->n; i++)
		if (fprintf(out, "%s,%s,%.6f\n", s->ts_text[i], s->val_text[i],
		        s->score != NULL ? s->score[i] : 0.0) < 0)
			return LS_EIO;
	return fflush(out) == 0 ? 0 : LS_EIO;
}
