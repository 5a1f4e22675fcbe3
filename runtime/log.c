/*
 * log.c -- structured logging (see log.h).
 */
#include "log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static _Atomic int log_level = -1; /* -1: not yet read from environment */
static _Atomic int log_json = -1;
static FILE *_Atomic log_out;

static const char *const level_names[] = { "debug", "info", "warn",
	"error" };

int
ls_log_level_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warning") == 0)
		return LS_LOG_WARN;
	if (strcasecmp(s, "off") == 0 || strcasecmp(s, "none") == 0)
		return LS_LOG_OFF;
	return -1;
}

static int
level_get(void)
{
	int l = atomic_load(&log_level);
	if (l < 0) {
		l = ls_log_level_parse(getenv("LS_LOG_LEVEL"));
		if (l < 0)
			l = LS_LOG_INFO;
		atomic_store(&log_level, l);
	}
	return l;
}

static int
json_get(void)
{
	int j = atomic_load(&log_json);
	if (j < 0) {
		const char *f = getenv("LS_LOG_FORMAT");
		j = f != NULL && strcasecmp(f, "json") == 0;
		atomic_store(&log_json, j);
	}
	return j;
}

void
ls_log_set_level(int level)
{
	atomic_store(&log_level, level);
}

void
ls_log_set_json(int json)
{
	atomic_store(&log_json, json ? 1 : 0);
}

void
ls_log_set_output(FILE *f)
{
	atomic_store(&log_out, f);
}

int
ls_log_enabled(int level)
{
	return level >= level_get() && level < LS_LOG_OFF;
}

/* Append s (n bytes) as a JSON string body (no quotes) to buf. */
static size_t
put_escaped(char *buf, size_t off, size_t cap, const char *s, size_t n,
    int json)
{
	for (size_t i = 0; i < n && off + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (c == '\n') {
			buf[off++] = '\\';
			buf[off++] = 'n';
		} else if (c < 0x20) {
			off += (size_t)snprintf(buf + off, cap - off,
			    json ? "\\u%04x" : "\\x%02x", c);
		} else {
			buf[off++] = (char)c;
		}
	}
	return off;
}

/* Find where the trailing "key=value ..." pairs start in text. */
static size_t
fields_start(const char *text, size_t n)
{
	size_t start = n;
	size_t i = n;
	/* walk tokens backwards while each looks like key=value */
	while (i > 0) {
		size_t end = i;
		while (i > 0 && text[i - 1] != ' ')
			i--;
		const char *tok = text + i;
		size_t len = end - i;
		const char *eq = memchr(tok, '=', len);
		if (eq == NULL || eq == tok)
			break;
		int ok = 1;
		for (const char *p = tok; p < eq; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' &&
			    *p != '.')
				ok = 0;
		if (!ok)
			break;
		start = i;
		while (i > 0 && text[i - 1] == ' ')
			i--;
	}
	return start;
}

void
ls_log(int level, const char *module, const char *fmt, ...)
{
	char text[2048];
	char out[4096];
	va_list ap;
	size_t off = 0, cap = sizeof(out);

	if (!ls_log_enabled(level))
		return;
	va_start(ap, fmt);
	int tn = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (tn < 0)
		return;
	size_t n = (size_t)tn < sizeof(text) ? (size_t)tn : sizeof(text) - 1;
	size_t fs = fields_start(text, n);
	size_t msg_end = fs;
	while (msg_end > 0 && text[msg_end - 1] == ' ')
		msg_end--;

	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char tbuf[64];
	snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	int json = json_get();
	const char *lname = level_names[level < 0 ? 0 : level > 3 ? 3 : level];

	if (json)
		off += (size_t)snprintf(out + off, cap - off,
		    "{\"ts\":\"%s\",\"level\":\"%s\",\"mod\":\"%s\",\"msg\":\"",
		    tbuf, lname, module);
	else
		off += (size_t)snprintf(out + off, cap - off,
		    "ts=%s level=%s mod=%s msg=\"", tbuf, lname, module);
	off = put_escaped(out, off, cap, text, msg_end, json);
	off += (size_t)snprintf(out + off, cap - off, "\"");
	/* fields */
	size_t i = fs;
	while (i < n && off + 16 < cap) {
		while (i < n && text[i] == ' ')
			i++;
		size_t j = i;
		while (j < n && text[j] != ' ')
			j++;
		if (j == i)
			break;
		const char *eq = memchr(text + i, '=', j - i);
		if (json && eq != NULL) {
			off += (size_t)snprintf(out + off, cap - off,
			    ",\"%.*s\":\"", (int)(eq - (text + i)), text + i);
			off = put_escaped(out, off, cap, eq + 1,
			    (size_t)(text + j - eq - 1), 1);
			off += (size_t)snprintf(out + off, cap - off, "\"");
		} else {
			off += (size_t)snprintf(out + off, cap - off, " %.*s",
			    (int)(j - i), text + i);
		}
		i = j;
	}
	if (off > cap - 3)
		off = cap - 3;
	if (json)
		out[off++] = '}';
	out[off++] = '\n';
	FILE *f = atomic_load(&log_out);
	if (f == NULL)
		f = stderr;
	fwrite(out, 1, off, f);
	fflush(f);
}
