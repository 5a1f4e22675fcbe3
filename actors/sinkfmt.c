/*
 * sinkfmt.c -- text forms of results (see sinkfmt.h).
 *
 * All output goes through a small bounded writer that keeps counting after
 * the buffer is full, which gives the snprintf-like "needed length" return
 * for free.
 */
#include "actors/sinkfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

#define TIME_COL  24 /* "2024-03-01T00:00:00.000Z" */
#define COUNT_COL 10
#define MIN_COL   12
#define MAX_COL   32

/* ---- bounded writer ---- */

typedef struct wbuf {
	char *buf;
	size_t cap;
	size_t len; /* bytes the full output needs so far */
} wbuf;

static void
w_init(wbuf *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf != NULL ? cap : 0;
	w->len = 0;
}

static void
w_mem(wbuf *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->len < w->cap) {
		size_t room = w->cap - w->len;
		memcpy(w->buf + w->len, p, n < room ? n : room);
	}
	w->len += n;
}

static void
w_char(wbuf *w, char c)
{
	if (w->len < w->cap)
		w->buf[w->len] = c;
	w->len++;
}

static void
w_str(wbuf *w, const char *s)
{
	if (s != NULL)
		w_mem(w, s, strlen(s));
}

static void
w_spaces(wbuf *w, size_t n)
{
	while (n-- > 0)
		w_char(w, ' ');
}

static size_t
w_finish(wbuf *w)
{
	if (w->cap > 0)
		w->buf[w->len < w->cap ? w->len : w->cap - 1] = '\0';
	return w->len;
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at p[0..n) (1..4), or 0 when invalid;
 * *bad then holds the length of its maximal valid prefix (at least 1), the
 * bytes one U+FFFD replaces. */
static size_t
utf8_seq(const unsigned char *p, size_t n, size_t *bad, uint32_t *cp)
{
	unsigned char c = p[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;

	*bad = 1;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* <= U+10FFFF */
	} else {
		return 0;
	}
	for (size_t i = 1; i < need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		*cp = (*cp << 6) | (p[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

static void
w_json_body(wbuf *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0; /* bytes p[i - run .. i) to copy as they are */

	if (n == 0)
		return;
	while (i < n) {
		unsigned char c = p[i];
		const char *esc = NULL;
		char u[7];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f) {
			i++;
			run++;
			continue;
		}
		if (c >= 0x80) {
			size_t bad;
			uint32_t cp;
			size_t k = utf8_seq(p + i, n - i, &bad, &cp);
			if (k > 0 && cp != 0x2028 && cp != 0x2029) {
				i += k;
				run += k;
				continue;
			}
			w_mem(w, p + i - run, run);
			run = 0;
			if (k > 0) {
				w_str(w, cp == 0x2028 ? "\\u2028" : "\\u2029");
				i += k;
			} else {
				w_str(w, "\xef\xbf\xbd");
				i += bad;
			}
			continue;
		}
		w_mem(w, p + i - run, run);
		run = 0;
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			u[6] = '\0';
			esc = u;
			break;
		}
		w_str(w, esc);
		i++;
	}
	w_mem(w, p + n - run, run);
}

static void
w_json_str(wbuf *w, const char *s, size_t n)
{
	w_char(w, '"');
	w_json_body(w, s, n);
	w_char(w, '"');
}

static void
w_json_cstr(wbuf *w, const char *s)
{
	w_json_str(w, s, s != NULL ? strlen(s) : 0);
}

/* ---- numbers and times ---- */

static void
w_u64(wbuf *w, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	w_mem(w, tmp, (size_t)n);
}

static void
w_i64(wbuf *w, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	w_mem(w, tmp, (size_t)n);
}

/* The shortest %.Ng (N = 15..17) that reads back as exactly v. */
static int
fmt_roundtrip(char *tmp, size_t cap, double v)
{
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, cap, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return n;
}

static void
w_json_num(wbuf *w, double v)
{
	char tmp[40];

	if (!isfinite(v)) {
		w_str(w, "null");
		return;
	}
	w_mem(w, tmp, (size_t)fmt_roundtrip(tmp, sizeof(tmp), v));
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if (a % b != 0 && a < 0)
		q--;
	return q;
}

static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

size_t
ls_sinkfmt_time(int64_t ns, char out[LS_SINKFMT_TIME_LEN])
{
	int64_t ms = floor_div(ns, 1000000);
	int64_t sec = floor_div(ms, 1000);
	int64_t days = floor_div(sec, 86400);
	unsigned msec = (unsigned)(ms - sec * 1000);
	unsigned sod = (unsigned)(sec - days * 86400);

	/* civil from days (proleptic Gregorian, era-based) */
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
	unsigned yy = (unsigned)(y < 0 ? 0 : y > 9999 ? 9999 : y);

	put2(out, yy / 100);
	put2(out + 2, yy % 100);
	out[4] = '-';
	put2(out + 5, m);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = 'T';
	put2(out + 11, sod / 3600);
	out[13] = ':';
	put2(out + 14, sod / 60 % 60);
	out[16] = ':';
	put2(out + 17, sod % 60);
	out[19] = '.';
	out[20] = (char)('0' + msec / 100);
	put2(out + 21, msec % 100);
	out[23] = 'Z';
	out[24] = '\0';
	return 24;
}

static void
w_time(wbuf *w, int64_t ns)
{
	char t[LS_SINKFMT_TIME_LEN];
	w_mem(w, t, ls_sinkfmt_time(ns, t));
}

/* Percent-encode everything outside [A-Za-z0-9._~:@+-], so that '/' and
 * ',' can separate the parts of an id and the id needs no JSON escapes. */
static void
w_idpart(wbuf *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' ||
		    c == ':' || c == '@' || c == '+' || c == '-') {
			w_char(w, (char)c);
		} else {
			w_char(w, '%');
			w_char(w, hex[c >> 4]);
			w_char(w, hex[c & 15]);
		}
	}
}

/* ---- public ---- */

size_t
ls_json_escape(const char *s, size_t n, char *buf, size_t cap)
{
	wbuf w;

	w_init(&w, buf, cap);
	if (s != NULL)
		w_json_body(&w, s, n);
	return w_finish(&w);
}

static void
w_value_json(wbuf *w, const ls_rec_field *f, const ls_rec_value *v)
{
	if (v->null) {
		w_str(w, "null");
		return;
	}
	switch (f->type) {
	case LS_REC_STRING:
		w_json_str(w, v->s.ptr, v->s.len);
		break;
	case LS_REC_INT:
		w_i64(w, v->i);
		break;
	case LS_REC_DOUBLE:
		w_json_num(w, v->d);
		break;
	case LS_REC_TIME:
		w_char(w, '"');
		w_time(w, v->i);
		w_char(w, '"');
		break;
	case LS_REC_BOOL:
		w_str(w, v->i ? "true" : "false");
		break;
	default:
		w_str(w, "null");
	}
}

/* One part of an id: strings percent-encoded, times in ms. */
static void
w_value_id(wbuf *w, const ls_rec_field *f, const ls_rec_value *v)
{
	char tmp[40];

	if (v->null)
		return;
	switch (f->type) {
	case LS_REC_STRING:
		w_idpart(w, v->s.ptr, v->s.len);
		break;
	case LS_REC_TIME:
		w_i64(w, floor_div(v->i, 1000000));
		break;
	case LS_REC_DOUBLE:
		if (isfinite(v->d))
			w_mem(w, tmp, (size_t)fmt_roundtrip(tmp, sizeof(tmp),
			                  v->d));
		break;
	default:
		w_i64(w, v->i);
	}
}

static void
w_key_object(wbuf *w, const ls_rec_schema *sc, const ls_rec_value *row)
{
	int first = 1;
	w_str(w, ",\"key\":{");
	for (uint32_t i = 0; i < sc->n; i++) {
		if (!(sc->f[i].flags & LS_REC_KEY))
			continue;
		if (!first)
			w_char(w, ',');
		first = 0;
		w_json_cstr(w, sc->f[i].name);
		w_char(w, ':');
		w_value_json(w, &sc->f[i], &row[i]);
	}
	w_char(w, '}');
}

size_t
ls_sinkfmt_record_json(const char *stage, const ls_rec_schema *sc,
    const ls_rec_value *row, char *buf, size_t cap)
{
	wbuf w;
	int has_id = sc->keyed;

	w_init(&w, buf, cap);
	w_str(&w, "{\"stage\":");
	w_json_cstr(&w, stage);
	for (uint32_t i = 0; i <= sc->n; i++) {
		if (sc->keyed && i == sc->key_at)
			w_key_object(&w, sc, row);
		if (i == sc->n)
			break;
		const ls_rec_field *f = &sc->f[i];
		if (f->flags & LS_REC_ID)
			has_id = 1;
		if (f->flags & LS_REC_KEY)
			continue;
		w_char(&w, ',');
		w_json_cstr(&w, f->name);
		w_char(&w, ':');
		w_value_json(&w, f, &row[i]);
	}
	if (has_id) {
		int first = 1;
		w_str(&w, ",\"id\":\"");
		if (stage != NULL)
			w_idpart(&w, stage, strlen(stage));
		w_char(&w, '/');
		for (uint32_t i = 0; i < sc->n; i++) {
			if (!(sc->f[i].flags & LS_REC_KEY))
				continue;
			if (!first)
				w_char(&w, ',');
			first = 0;
			w_value_id(&w, &sc->f[i], &row[i]);
		}
		for (uint32_t i = 0; i < sc->n; i++) {
			if (!(sc->f[i].flags & LS_REC_ID))
				continue;
			w_char(&w, '/');
			w_value_id(&w, &sc->f[i], &row[i]);
		}
		w_char(&w, '"');
	}
	w_char(&w, '}');
	return w_finish(&w);
}

/* ---- table ---- */

/* Display columns of s[0..n): one per code point or invalid byte. */
static size_t
display_width(const char *s, size_t n)
{
	size_t cols = 0, i = 0;
	while (i < n) {
		size_t bad;
		uint32_t cp;
		size_t k = utf8_seq((const unsigned char *)s + i, n - i, &bad,
		    &cp);
		i += k > 0 ? k : 1;
		cols++;
	}
	return cols;
}

/* Write s[0..n) in exactly `width` columns: padded with blanks (on the left
 * when right_align), or cut to width-1 columns plus an ellipsis. */
static void
w_cell(wbuf *w, const char *s, size_t n, size_t width, int right_align)
{
	size_t cols = display_width(s, n);
	size_t shown = cols <= width ? cols : width - 1;
	size_t i = 0;

	if (right_align && cols < width)
		w_spaces(w, width - cols);
	for (size_t c = 0; c < shown; c++) {
		size_t bad;
		uint32_t cp;
		size_t k = utf8_seq((const unsigned char *)s + i, n - i, &bad,
		    &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0)) {
			w_char(w, '?');
			i += k > 0 ? k : 1;
		} else {
			w_mem(w, s + i, k);
			i += k;
		}
	}
	if (cols > width)
		w_str(w, "\xe2\x80\xa6"); /* U+2026 */
	if (!right_align && cols < width)
		w_spaces(w, width - cols);
}

static size_t
col_width(const char *name, size_t min)
{
	size_t n = display_width(name, strlen(name));
	if (n < min)
		n = min;
	return n > MAX_COL ? MAX_COL : n;
}

static int
right_aligned(const ls_rec_field *f)
{
	return f->type == LS_REC_INT || f->type == LS_REC_DOUBLE ||
	    f->type == LS_REC_BOOL;
}

int
ls_sinkfmt_table_init(ls_sinkfmt_table *t, const ls_rec_schema *sc)
{
	memset(t, 0, sizeof(*t));
	if (sc == NULL || sc->n > LS_REC_MAX_FIELDS)
		return LS_EINVAL;
	for (uint32_t i = 0; i < sc->n; i++) {
		const ls_rec_field *f = &sc->f[i];
		if (f->name == NULL)
			return LS_EINVAL;
		if (f->flags & LS_REC_NOTABLE)
			continue;
		switch (f->type) {
		case LS_REC_TIME:
			t->w[i] = TIME_COL;
			break;
		case LS_REC_INT:
		case LS_REC_BOOL:
			t->w[i] = (uint16_t)col_width(f->name, COUNT_COL);
			break;
		default:
			t->w[i] = (uint16_t)col_width(f->name, MIN_COL);
		}
	}
	t->schema = sc;
	return 0;
}

size_t
ls_sinkfmt_table_header(const ls_sinkfmt_table *t, char *buf, size_t cap)
{
	wbuf w;
	int first = 1;

	w_init(&w, buf, cap);
	for (uint32_t i = 0; t->schema != NULL && i < t->schema->n; i++) {
		const ls_rec_field *f = &t->schema->f[i];
		if (t->w[i] == 0)
			continue;
		if (!first)
			w_spaces(&w, 2);
		first = 0;
		w_cell(&w, f->name, strlen(f->name), t->w[i], right_aligned(f));
	}
	return w_finish(&w);
}

/* A readable number: integers as such, else 3 decimals, else %g. */
static int
fmt_cell_num(char *tmp, size_t cap, double v)
{
	double a = fabs(v);
	if (!isfinite(v))
		return snprintf(tmp, cap, "%s", "-");
	if (a < 1e15 && v == floor(v))
		return snprintf(tmp, cap, "%.0f", v);
	if (a >= 1e-3 && a < 1e12)
		return snprintf(tmp, cap, "%.3f", v);
	return snprintf(tmp, cap, "%.6g", v);
}

size_t
ls_sinkfmt_table_row(const ls_sinkfmt_table *t, const ls_rec_value *row,
    char *buf, size_t cap)
{
	wbuf w;
	char tmp[64];
	int first = 1, n;

	w_init(&w, buf, cap);
	for (uint32_t i = 0; t->schema != NULL && i < t->schema->n; i++) {
		const ls_rec_field *f = &t->schema->f[i];
		const ls_rec_value *v = &row[i];
		if (t->w[i] == 0)
			continue;
		if (!first)
			w_spaces(&w, 2);
		first = 0;
		if (v->null) {
			w_cell(&w, "-", 1, t->w[i], right_aligned(f));
			continue;
		}
		switch (f->type) {
		case LS_REC_STRING:
			w_cell(&w, v->s.ptr, v->s.len, t->w[i], 0);
			break;
		case LS_REC_TIME: {
			char tm[LS_SINKFMT_TIME_LEN];
			w_cell(&w, tm, ls_sinkfmt_time(v->i, tm), t->w[i], 0);
			break;
		}
		case LS_REC_INT:
			n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v->i);
			w_cell(&w, tmp, (size_t)n, t->w[i], 1);
			break;
		case LS_REC_BOOL:
			w_cell(&w, v->i ? "true" : "false", v->i ? 4 : 5,
			    t->w[i], 1);
			break;
		default:
			n = fmt_cell_num(tmp, sizeof(tmp), v->d);
			/* numbers wider than their column push the row out
			 * rather than lose digits */
			if ((size_t)n > t->w[i])
				w_mem(&w, tmp, (size_t)n);
			else
				w_cell(&w, tmp, (size_t)n, t->w[i], 1);
		}
	}
	return w_finish(&w);
}

/* ---- dead letters ---- */

static void
w_dl_head(wbuf *w, const char *reason, const char *stage, const char *source,
    uint64_t offset)
{
	w_str(w, "{\"reason\":");
	w_json_cstr(w, reason);
	w_str(w, ",\"stage\":");
	w_json_cstr(w, stage);
	w_str(w, ",\"source\":");
	w_json_cstr(w, source);
	w_str(w, ",\"offset\":");
	w_u64(w, offset);
}

size_t
ls_sinkfmt_deadletter(const char *reason, const char *stage,
    const char *source, uint64_t offset, const char *line, size_t linelen,
    char *buf, size_t cap)
{
	wbuf w;

	w_init(&w, buf, cap);
	w_dl_head(&w, reason, stage, source, offset);
	w_str(&w, ",\"line\":");
	w_json_str(&w, line, line != NULL ? linelen : 0);
	w_char(&w, '}');
	return w_finish(&w);
}

size_t
ls_sinkfmt_deadletter_event(const char *reason, const char *stage,
    const char *source, const ls_event *ev, char *buf, size_t cap)
{
	wbuf w;

	w_init(&w, buf, cap);
	w_dl_head(&w, reason, stage, source, ev->offset);
	w_str(&w, ",\"event\":{\"time_ns\":");
	if (ev->time_ns == LS_TIME_UNKNOWN)
		w_str(&w, "null");
	else
		w_i64(&w, ev->time_ns);
	w_str(&w, ",\"level\":");
	w_json_cstr(&w, ls_level_name(ev->level));
	w_str(&w, ",\"service\":");
	w_json_str(&w, ev->service.ptr, ev->service.len);
	w_str(&w, ",\"host\":");
	w_json_str(&w, ev->host.ptr, ev->host.len);
	w_str(&w, ",\"message\":");
	w_json_str(&w, ev->message.ptr, ev->message.len);
	w_str(&w, ",\"attrs\":{");
	for (unsigned i = 0; i < ev->nattrs && i < LS_EVENT_MAX_ATTRS; i++) {
		if (i > 0)
			w_char(&w, ',');
		w_json_str(&w, ev->attrs[i].key.ptr, ev->attrs[i].key.len);
		w_char(&w, ':');
		w_json_str(&w, ev->attrs[i].val.ptr, ev->attrs[i].val.len);
	}
	w_str(&w, "}}}");
	return w_finish(&w);
}
