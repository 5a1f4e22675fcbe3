/*
 * parse.c -- log line parsers (see parse.h and docs/log-formats.md).
 *
 * One hand-written scanner per format, all working on (s, n) with explicit
 * bounds checks: nothing here reads past the line, allocates (except from
 * the caller's arena when a string must be unescaped) or keeps state between
 * calls.  Every parser fills the event it is given and either returns 0 or
 * fails with LS_EPARSE and a static reason; a failed attempt may leave junk
 * in the event, so callers that retry another format clear it first.
 */
#include "parse.h"

#include <strings.h>
#include <time.h>

#include "actors/timefmt.h"
#include "actors/userfmt.h"
#include "runtime/err.h"

/* Nesting limit of JSON values kept as raw text. */
#define JSON_MAX_DEPTH 64

/* Longest RFC 3164 TAG (program name) recognised before the ':'. */
#define TAG_MAX 48

typedef struct pctx {
	const ls_parser *cfg;
	ls_event *ev;
	ls_arena *arena;
	const char *reason;
	int year; /* resolved default year, 0 until needed */
	int64_t ingest_ns; /* the fallback's time for a line without one */
} pctx;

static const char *const format_names[LS_FMT_COUNT] = {
    "auto", "json",         "logfmt",      "syslog", "rfc3164", "rfc5424",
    "clf",  "apache_error", "nginx_error", "log4j",  "bgl", "freeform",
};

int
ls_format_from_name(const char *name, ls_format *out)
{
	if (name == NULL)
		return LS_EINVAL;
	for (int f = 0; f < LS_FMT_COUNT; f++) {
		if (strcmp(name, format_names[f]) == 0) {
			*out = (ls_format)f;
			return 0;
		}
	}
	return LS_EINVAL;
}

const char *
ls_format_name(ls_format f)
{
	if ((int)f < 0 || f >= LS_FMT_COUNT)
		return "unknown";
	return format_names[f];
}

void
ls_parser_init(ls_parser *p, ls_format format)
{
	p->format = format;
	p->default_year = 0;
	p->custom = NULL;
}

/* ---- helpers ---- */

static int
fail(pctx *c, const char *why)
{
	c->reason = why;
	return LS_EPARSE;
}

static int
is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static size_t
skip_spaces(const char *s, size_t n, size_t i)
{
	while (i < n && is_space(s[i]))
		i++;
	return i;
}

/* End of the run of non-space bytes starting at i. */
static size_t
token_end(const char *s, size_t n, size_t i)
{
	while (i < n && !is_space(s[i]))
		i++;
	return i;
}

static ls_str
str_of(const char *p, size_t n)
{
	return ls_str_make(n != 0 ? p : NULL, n);
}

/* s[a..b) without surrounding spaces and tabs. */
static ls_str
trimmed(const char *s, size_t a, size_t b)
{
	while (a < b && is_space(s[a]))
		a++;
	while (b > a && is_space(s[b - 1]))
		b--;
	return str_of(s + a, b - a);
}

/* Add an attribute with a static key; beyond LS_EVENT_MAX_ATTRS the
 * attribute is dropped (documented in docs/log-formats.md). */
static void
attr(ls_event *ev, const char *key, const char *v, size_t n)
{
	(void)ls_event_add_attr(ev, ls_str_c(key), str_of(v, n));
}

static int
same(const char *p, size_t n, const char *lit, size_t ln)
{
	return n == ln && memcmp(p, lit, ln) == 0;
}

#define SAME(p, n, lit) same((p), (n), lit, sizeof(lit) - 1)

/* Level word to ls_level: the common upper-case spellings first, then the
 * generic table of runtime/event.c. */
static ls_level
level_of(const char *p, size_t n)
{
	switch (n) {
	case 4:
		if (SAME(p, n, "INFO") || SAME(p, n, "info"))
			return LS_LEVEL_INFO;
		if (SAME(p, n, "WARN") || SAME(p, n, "warn"))
			return LS_LEVEL_WARN;
		break;
	case 5:
		if (SAME(p, n, "ERROR") || SAME(p, n, "error"))
			return LS_LEVEL_ERROR;
		if (SAME(p, n, "DEBUG") || SAME(p, n, "debug"))
			return LS_LEVEL_DEBUG;
		if (SAME(p, n, "TRACE"))
			return LS_LEVEL_TRACE;
		if (SAME(p, n, "FATAL"))
			return LS_LEVEL_FATAL;
		break;
	case 6:
		if (SAME(p, n, "notice"))
			return LS_LEVEL_NOTICE;
		/* Apache 2.4 trace1..trace8. */
		if (strncasecmp(p, "trace", 5) == 0 && is_digit(p[5]))
			return LS_LEVEL_TRACE;
		break;
	case 7:
		if (SAME(p, n, "WARNING"))
			return LS_LEVEL_WARN;
		/* BGL's most severe class. */
		if (strncasecmp(p, "failure", 7) == 0)
			return LS_LEVEL_FATAL;
		break;
	default:
		break;
	}
	return ls_level_parse(p, n);
}

static void
set_level(ls_event *ev, const char *p, size_t n)
{
	ev->level_text = str_of(p, n);
	ev->level = (uint8_t)level_of(p, n);
}

/* The year for timestamps without one, resolved once per line. */
static int
year_of(pctx *c)
{
	if (c->year == 0)
		c->year = c->cfg->default_year != 0 ? c->cfg->default_year
		                                    : ls_timefmt_current_year();
	return c->year;
}

/* Parse a BSD "Mmm dd hh:mm:ss" timestamp at s.  Without a configured
 * year, a date more than a week ahead of now is taken from last year. */
static int
bsd_time(pctx *c, const char *s, size_t n, size_t *used)
{
	int64_t t;
	int rc = ls_timefmt_bsd(s, n, year_of(c), &t, used);

	if (rc != 0)
		return rc;
	if (c->cfg->default_year == 0) {
		int64_t now = (int64_t)time(NULL) * 1000000000LL;
		if (t - now > 7LL * 86400 * 1000000000LL) {
			rc = ls_timefmt_bsd(s, n, c->year - 1, &t, used);
			if (rc != 0)
				return rc;
		}
	}
	c->ev->time_ns = t;
	return 0;
}

/* Copy of [p, p+n) with the backslash escapes of a quoted log value
 * removed: "\x" becomes x for x in keep, other pairs stay as written
 * (mode 0: RFC 5424 PARAM-VALUE, which escapes '"', '\' and ']'), or also
 * \n \t \r become control characters (mode 1: logfmt).  NULL when the
 * arena is exhausted. */
static const char *
unescape_simple(ls_arena *a, const char *p, size_t n, int mode, size_t *outn)
{
	char *o = ls_arena_alloc(a, n + 1);
	size_t k = 0;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n) {
			char e = p[i + 1];
			if (e == '"' || e == '\\' || (mode == 0 && e == ']')) {
				o[k++] = e;
				i++;
				continue;
			}
			if (mode == 1 && (e == 'n' || e == 't' || e == 'r')) {
				o[k++] = e == 'n'   ? '\n'
				         : e == 't' ? '\t'
				                    : '\r';
				i++;
				continue;
			}
		}
		o[k++] = p[i];
	}
	*outn = k;
	return o;
}

/* Scan a double-quoted value starting at s[i] == '"'.  A backslash escapes
 * the next byte.  Sets [*a, *b) to the inside and *esc when a backslash
 * occurs; returns the index after the closing quote, or 0 when
 * unterminated. */
static size_t
quoted(const char *s, size_t n, size_t i, size_t *a, size_t *b, int *esc)
{
	size_t k = i + 1;

	*esc = 0;
	while (k < n) {
		if (s[k] == '\\') {
			*esc = 1;
			k += 2;
			continue;
		}
		if (s[k] == '"') {
			*a = i + 1;
			*b = k;
			return k + 1;
		}
		k++;
	}
	return 0;
}

/* ---- syslog ---- */

static const char *const severity_names[8] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static const ls_level severity_levels[8] = {
    LS_LEVEL_FATAL, LS_LEVEL_FATAL,  LS_LEVEL_FATAL, LS_LEVEL_ERROR,
    LS_LEVEL_WARN,  LS_LEVEL_NOTICE, LS_LEVEL_INFO,  LS_LEVEL_DEBUG,
};

static const char *const facility_names[24] = {
    "kern",   "user",     "mail",    "daemon",       "auth",     "syslog",
    "lpr",    "news",     "uucp",    "cron",         "authpriv", "ftp",
    "ntp",    "security", "console", "solaris-cron", "local0",   "local1",
    "local2", "local3",   "local4",  "local5",       "local6",   "local7",
};

/* "<PRI>" at s[0]: sets level, level_text and the facility attribute.
 * Returns the index after '>' or 0 when malformed. */
static size_t
syslog_pri(pctx *c, const char *s, size_t n)
{
	size_t i = 1;
	int v = 0;

	while (i < n && i <= 4 && is_digit(s[i])) {
		v = v * 10 + (s[i] - '0');
		i++;
	}
	if (i == 1 || i > 4 || i >= n || s[i] != '>' || v > 191 ||
	    (s[1] == '0' && i > 2))
		return 0;
	int sev = v & 7, fac = v >> 3;
	c->ev->level = (uint8_t)severity_levels[sev];
	c->ev->level_text = ls_str_c(severity_names[sev]);
	attr(c->ev, "facility", facility_names[fac],
	     strlen(facility_names[fac]));
	return i + 1;
}

/* RFC 3164 after the timestamp: [HOSTNAME] [TAG[\[PID\]]:] MSG. */
static void
syslog3164_rest(pctx *c, const char *s, size_t n, size_t i)
{
	ls_event *ev = c->ev;
	size_t j, k, spaces = 0;

	i = skip_spaces(s, n, i);
	/* HOSTNAME: a token that is followed by more text and does not look
	 * like a tag ("sshd[12]:" or "su:"), so lines sent to /dev/log
	 * without a hostname still parse. */
	j = token_end(s, n, i);
	if (j < n && j > i && s[j - 1] != ':' &&
	    memchr(s + i, '[', j - i) == NULL) {
		ev->host = str_of(s + i, j - i);
		i = skip_spaces(s, n, j);
	}
	/* TAG: up to the first ':' or '[' within TAG_MAX bytes, at most two
	 * spaces inside ("syslogd 1.4.1: restart."), then an optional
	 * "[pid]" and a ':' followed by a space or the end of the line. */
	for (k = i; k < n && k - i < TAG_MAX; k++) {
		if (s[k] == ':' || s[k] == '[')
			break;
		if (s[k] == ' ' && ++spaces > 2)
			break;
	}
	if (k < n && k > i && s[k - 1] != ' ' && spaces <= 2 &&
	    (s[k] == ':' || s[k] == '[')) {
		size_t tag_end = k, pa = 0, pb = 0, m = k;
		int ok = 0;
		if (s[k] == '[') {
			for (m = k + 1; m < n && m - k <= 32; m++) {
				if (s[m] == ']' || is_space(s[m]))
					break;
			}
			if (m < n && s[m] == ']' && m > k + 1) {
				pa = k + 1;
				pb = m;
				m++;
			} else {
				m = n; /* not a pid: no tag */
			}
		}
		if (m < n && s[m] == ':' && (m + 1 == n || is_space(s[m + 1])))
			ok = 1;
		if (ok) {
			ev->service = str_of(s + i, tag_end - i);
			if (pb > pa)
				attr(ev, "pid", s + pa, pb - pa);
			i = m + 1 < n ? m + 1 : n;
		}
	}
	ev->message = trimmed(s, i, n);
}

static int
parse_3164(pctx *c, const char *s, size_t n)
{
	size_t i = 0, used;
	int pri = 0;

	if (s[0] == '<') {
		i = syslog_pri(c, s, n);
		if (i == 0)
			return fail(c, "not syslog: bad <PRI>");
		pri = 1;
	}
	/* Classic "Mmm dd hh:mm:ss" or, as rsyslog writes files, RFC 3339. */
	int rc = bsd_time(c, s + i, n - i, &used);
	if (rc != 0) {
		rc = ls_timefmt_iso8601(s + i, n - i, &c->ev->time_ns, &used);
		if (rc != 0 && !pri)
			return fail(c, rc == LS_ERANGE
			                   ? "RFC 3164: timestamp out of range"
			                   : "not RFC 3164: no timestamp");
	}
	if (rc == 0) {
		i += used;
		if (i < n && !is_space(s[i]))
			return fail(c, "RFC 3164: no space after timestamp");
		syslog3164_rest(c, s, n, i);
	} else {
		/* RFC 3164 4.3.2: a PRI without a valid TIMESTAMP; the rest
		 * is all message. */
		c->ev->message = trimmed(s, i, n);
	}
	return 0;
}

/* RFC 5424 header field: a token or the NILVALUE '-' (gives empty).  On
 * return *i is just after the field's terminating space.  0 on success. */
static int
field5424(const char *s, size_t n, size_t *i, ls_str *out)
{
	size_t a = *i, b = token_end(s, n, a);

	if (b == a || b >= n)
		return -1;
	*out =
	    b - a == 1 && s[a] == '-' ? str_of(NULL, 0) : str_of(s + a, b - a);
	*i = b + 1;
	return 0;
}

/* STRUCTURED-DATA at s[*i] == '['.  Each PARAM becomes an attribute named
 * after PARAM-NAME; values with escapes are unescaped into the arena. */
static int
sd5424(pctx *c, const char *s, size_t n, size_t *pi)
{
	size_t i = *pi;

	while (i < n && s[i] == '[') {
		size_t a = ++i;
		while (i < n && s[i] != ' ' && s[i] != ']' && s[i] != '=' &&
		       s[i] != '"')
			i++;
		if (i == a || i >= n || (s[i] != ' ' && s[i] != ']'))
			return fail(c, "RFC 5424: bad SD-ID");
		while (i < n && s[i] == ' ') {
			size_t ka = ++i, va, vb, end;
			int esc;
			while (i < n && s[i] != '=' && s[i] != ' ' &&
			       s[i] != ']' && s[i] != '"')
				i++;
			if (i == ka || i + 1 >= n || s[i] != '=' ||
			    s[i + 1] != '"')
				return fail(c, "RFC 5424: bad SD-PARAM");
			size_t kb = i;
			end = quoted(s, n, i + 1, &va, &vb, &esc);
			if (end == 0)
				return fail(
				    c, "RFC 5424: unterminated PARAM-VALUE");
			const char *v = s + va;
			size_t vn = vb - va;
			if (esc) {
				v = unescape_simple(c->arena, v, vn, 0, &vn);
				if (v == NULL)
					return LS_ENOMEM;
			}
			(void)ls_event_add_attr(c->ev, str_of(s + ka, kb - ka),
			                        str_of(v, vn));
			i = end;
		}
		if (i >= n || s[i] != ']')
			return fail(c, "RFC 5424: unterminated SD-ELEMENT");
		i++;
	}
	*pi = i;
	return 0;
}

static int
parse_5424(pctx *c, const char *s, size_t n)
{
	ls_event *ev = c->ev;
	ls_str ts, procid, msgid;
	size_t i, used;

	if (s[0] != '<' || (i = syslog_pri(c, s, n)) == 0)
		return fail(c, "not syslog: bad <PRI>");
	if (i + 1 >= n || s[i] != '1' || s[i + 1] != ' ')
		return fail(c, "RFC 5424: version is not 1");
	i += 2;
	if (field5424(s, n, &i, &ts) != 0)
		return fail(c, "RFC 5424: truncated header");
	if (ts.len != 0) {
		int rc =
		    ls_timefmt_iso8601(ts.ptr, ts.len, &ev->time_ns, &used);
		if (rc != 0 || used != ts.len)
			return fail(c, "RFC 5424: bad TIMESTAMP");
	}
	if (field5424(s, n, &i, &ev->host) != 0 ||
	    field5424(s, n, &i, &ev->service) != 0 ||
	    field5424(s, n, &i, &procid) != 0)
		return fail(c, "RFC 5424: truncated header");
	/* MSGID may end the line when there is no SD (lenient). */
	size_t b = token_end(s, n, i);
	if (b == i)
		return fail(c, "RFC 5424: truncated header");
	msgid =
	    b - i == 1 && s[i] == '-' ? str_of(NULL, 0) : str_of(s + i, b - i);
	i = b;
	if (procid.len != 0)
		attr(ev, "pid", procid.ptr, procid.len);
	if (msgid.len != 0)
		attr(ev, "msgid", msgid.ptr, msgid.len);
	if (i < n) {
		i++;
		if (i >= n)
			return fail(c, "RFC 5424: missing STRUCTURED-DATA");
		if (s[i] == '-') {
			i++;
		} else if (s[i] == '[') {
			int rc = sd5424(c, s, n, &i);
			if (rc != 0)
				return rc;
		} else {
			return fail(c, "RFC 5424: bad STRUCTURED-DATA");
		}
		if (i < n && s[i] != ' ')
			return fail(c, "RFC 5424: no space before MSG");
		if (i < n)
			i++;
		/* A UTF-8 MSG starts with a BOM. */
		if (n - i >= 3 && (unsigned char)s[i] == 0xEF &&
		    (unsigned char)s[i + 1] == 0xBB &&
		    (unsigned char)s[i + 2] == 0xBF)
			i += 3;
	}
	ev->message = trimmed(s, i, n);
	return 0;
}

static int
parse_syslog(pctx *c, const char *s, size_t n)
{
	if (s[0] == '<') {
		size_t i = 1;
		while (i < n && i <= 4 && is_digit(s[i]))
			i++;
		if (i + 2 < n && s[i] == '>' && s[i + 1] == '1' &&
		    s[i + 2] == ' ')
			return parse_5424(c, s, n);
	}
	return parse_3164(c, s, n);
}

/* ---- Apache / nginx ---- */

static void
level_from_status(ls_event *ev, const char *p, size_t n)
{
	if (n != 3 || !is_digit(p[0]))
		return;
	ev->level = p[0] == '5'   ? LS_LEVEL_ERROR
	            : p[0] == '4' ? LS_LEVEL_WARN
	                          : LS_LEVEL_INFO;
}

static int
parse_clf(pctx *c, const char *s, size_t n)
{
	ls_event *ev = c->ev;
	size_t i = 0, a, b, used, end;
	const char *why = "not CLF: expected host ident user [time]";
	int esc;

	/* remote_addr ident authuser */
	size_t t0 = token_end(s, n, 0);
	if (t0 == 0 || t0 >= n)
		return fail(c, why);
	size_t t1a = t0 + 1, t1 = token_end(s, n, t1a);
	if (t1 == t1a || t1 >= n)
		return fail(c, why);
	size_t t2a = t1 + 1, t2 = token_end(s, n, t2a);
	if (t2 == t2a || t2 + 1 >= n || s[t2 + 1] != '[')
		return fail(c, why);
	if (ls_timefmt_clf(s + t2 + 1, n - t2 - 1, &ev->time_ns, &used) != 0)
		return fail(c, "CLF: bad [time]");
	i = t2 + 1 + used;
	attr(ev, "remote_addr", s, t0);
	if (!(t1 - t1a == 1 && s[t1a] == '-'))
		attr(ev, "ident", s + t1a, t1 - t1a);
	if (!(t2 - t2a == 1 && s[t2a] == '-'))
		attr(ev, "user", s + t2a, t2 - t2a);
	/* "request" */
	if (i + 1 >= n || s[i] != ' ' || s[i + 1] != '"')
		return fail(c, "CLF: expected \"request\"");
	end = quoted(s, n, i + 1, &a, &b, &esc);
	if (end == 0)
		return fail(c, "CLF: unterminated \"request\"");
	ev->message = str_of(s + a, b - a);
	{
		/* METHOD SP path SP protocol; anything else stays only in
		 * the message. */
		const char *r = s + a;
		size_t rn = b - a, sp1, sp2;
		for (sp1 = 0; sp1 < rn && r[sp1] != ' '; sp1++)
			;
		for (sp2 = rn; sp2 > sp1 && r[sp2 - 1] != ' '; sp2--)
			;
		if (sp1 < rn && sp2 > sp1 + 1) {
			attr(ev, "method", r, sp1);
			attr(ev, "path", r + sp1 + 1, sp2 - 1 - sp1 - 1);
			attr(ev, "protocol", r + sp2, rn - sp2);
		} else if (sp1 < rn) {
			/* HTTP/0.9 "GET /path" */
			attr(ev, "method", r, sp1);
			attr(ev, "path", r + sp1 + 1, rn - sp1 - 1);
		}
	}
	i = end;
	/* status bytes */
	if (i >= n || s[i] != ' ')
		return fail(c, "CLF: expected status");
	a = i + 1;
	b = token_end(s, n, a);
	if (!(b - a == 3 && is_digit(s[a]) && is_digit(s[a + 1]) &&
	      is_digit(s[a + 2])) &&
	    !(b - a == 1 && s[a] == '-'))
		return fail(c, "CLF: bad status");
	if (s[a] != '-') {
		attr(ev, "status", s + a, 3);
		level_from_status(ev, s + a, 3);
	}
	i = b;
	if (i >= n || s[i] != ' ')
		return fail(c, "CLF: expected bytes");
	a = i + 1;
	b = token_end(s, n, a);
	if (b == a)
		return fail(c, "CLF: bad bytes");
	for (size_t k = a; k < b; k++) {
		if (!is_digit(s[k]) && !(b - a == 1 && s[k] == '-'))
			return fail(c, "CLF: bad bytes");
	}
	if (s[a] != '-')
		attr(ev, "bytes", s + a, b - a);
	i = b;
	/* combined: "referrer" "user_agent", then anything else as extra */
	static const char *const qnames[2] = {"referrer", "user_agent"};
	for (int q = 0; q < 2; q++) {
		if (i + 1 >= n || s[i] != ' ' || s[i + 1] != '"')
			break;
		end = quoted(s, n, i + 1, &a, &b, &esc);
		if (end == 0)
			return fail(c, "CLF: unterminated quoted field");
		if (!(b - a == 1 && s[a] == '-') && b > a)
			attr(ev, qnames[q], s + a, b - a);
		i = end;
	}
	ls_str extra = trimmed(s, i, n);
	if (extra.len != 0)
		attr(ev, "extra", extra.ptr, extra.len);
	return 0;
}

static int
parse_apache_error(pctx *c, const char *s, size_t n)
{
	ls_event *ev = c->ev;
	size_t i, used;

	if (ls_timefmt_ctime(s, n, &ev->time_ns, &used) != 0 || s[0] != '[')
		return fail(c, "not an Apache error log: expected [time]");
	i = skip_spaces(s, n, used);
	/* [level] (2.2) or [module:level] (2.4) */
	if (i < n && s[i] == '[') {
		const char *e = memchr(s + i, ']', n - i);
		if (e == NULL)
			return fail(c,
			            "Apache error log: unterminated [level]");
		size_t a = i + 1, b = (size_t)(e - s), colon = b;
		for (size_t k = a; k < b; k++) {
			if (s[k] == ':') {
				colon = k;
				break;
			}
			if (s[k] == ' ')
				return fail(c, "Apache error log: bad [level]");
		}
		if (colon < b) {
			attr(ev, "module", s + a, colon - a);
			a = colon + 1;
		}
		set_level(ev, s + a, b - a);
		i = skip_spaces(s, n, b + 1);
	}
	/* [pid N(:tid M)] and [client addr(:port)] */
	for (int round = 0; round < 2 && i < n && s[i] == '['; round++) {
		const char *e = memchr(s + i, ']', n - i);
		if (e == NULL)
			break;
		size_t a = i + 1, b = (size_t)(e - s);
		if (b - a > 4 && memcmp(s + a, "pid ", 4) == 0) {
			size_t p = a + 4, q = p;
			while (q < b && s[q] != ':')
				q++;
			attr(ev, "pid", s + p, q - p);
			if (b - q > 5 && memcmp(s + q, ":tid ", 5) == 0)
				attr(ev, "tid", s + q + 5, b - q - 5);
		} else if (b - a > 7 && memcmp(s + a, "client ", 7) == 0) {
			attr(ev, "remote_addr", s + a + 7, b - a - 7);
		} else {
			break;
		}
		i = skip_spaces(s, n, b + 1);
	}
	ev->message = trimmed(s, i, n);
	return 0;
}

/* The ", client: 1.2.3.4, server: x, request: "GET / HTTP/1.1", ..." tail
 * of an nginx error message, from s[i] == ','. */
static void
nginx_tail(ls_event *ev, const char *s, size_t n, size_t i)
{
	while (i + 2 < n && s[i] == ',' && s[i + 1] == ' ') {
		size_t ka = i + 2, kb = ka, va, vb, end;
		int esc;
		while (kb < n && (is_alpha(s[kb]) || s[kb] == '_'))
			kb++;
		if (kb == ka || kb + 1 >= n || s[kb] != ':' || s[kb + 1] != ' ')
			return;
		va = kb + 2;
		if (va < n && s[va] == '"') {
			end = quoted(s, n, va, &va, &vb, &esc);
			if (end == 0)
				return;
		} else {
			vb = va;
			while (vb < n && !(s[vb] == ',' && vb + 1 < n &&
			                   s[vb + 1] == ' '))
				vb++;
			end = vb;
		}
		const char *k = s + ka;
		size_t kn = kb - ka;
		if (SAME(k, kn, "client"))
			attr(ev, "remote_addr", s + va, vb - va);
		else if (SAME(k, kn, "host"))
			attr(ev, "http_host", s + va, vb - va);
		else
			(void)ls_event_add_attr(ev, str_of(k, kn),
			                        str_of(s + va, vb - va));
		i = end;
	}
}

static int
parse_nginx_error(pctx *c, const char *s, size_t n)
{
	ls_event *ev = c->ev;
	size_t i, used;

	if (n < 5 || s[4] != '/' ||
	    ls_timefmt_slash(s, n, &ev->time_ns, &used) != 0)
		return fail(c, "not an nginx error log: expected time");
	i = used;
	if (i + 1 >= n || s[i] != ' ' || s[i + 1] != '[')
		return fail(c, "nginx error log: expected [level]");
	const char *e = memchr(s + i + 2, ']', n - i - 2);
	if (e == NULL)
		return fail(c, "nginx error log: unterminated [level]");
	set_level(ev, s + i + 2, (size_t)(e - s) - i - 2);
	i = skip_spaces(s, n, (size_t)(e - s) + 1);
	/* pid#tid: */
	size_t p = i;
	while (p < n && is_digit(s[p]))
		p++;
	if (p > i && p < n && s[p] == '#') {
		size_t q = p + 1;
		while (q < n && is_digit(s[q]))
			q++;
		if (q > p + 1 && q < n && s[q] == ':') {
			attr(ev, "pid", s + i, p - i);
			attr(ev, "tid", s + p + 1, q - p - 1);
			i = skip_spaces(s, n, q + 1);
		}
	}
	/* *connection */
	if (i < n && s[i] == '*') {
		size_t q = i + 1;
		while (q < n && is_digit(s[q]))
			q++;
		if (q > i + 1 && (q == n || s[q] == ' ')) {
			attr(ev, "connection", s + i + 1, q - i - 1);
			i = skip_spaces(s, n, q);
		}
	}
	/* The message ends where nginx appends its ", client: " context. */
	size_t m = n;
	for (size_t k = i; k + 10 <= n; k++) {
		if (s[k] == ',' && memcmp(s + k, ", client: ", 10) == 0) {
			m = k;
			break;
		}
	}
	ev->message = trimmed(s, i, m);
	if (m < n)
		nginx_tail(ev, s, n, m);
	return 0;
}

/* ---- log4j family ---- */

/* End of a bracketed group starting at s[i] == '[', nested brackets
 * included ("[QuorumPeer[myid=1]/0:...@774]"); 0 when unbalanced. */
static size_t
bracket_end(const char *s, size_t n, size_t i)
{
	int depth = 0;

	for (size_t k = i; k < n; k++) {
		if (s[k] == '[') {
			depth++;
		} else if (s[k] == ']') {
			if (--depth == 0)
				return k;
		}
	}
	return 0;
}

/* A bracket group of the log4j family: "thread" (Hadoop), or Zookeeper's
 * "thread:Component@line" (the thread itself may contain ':'). */
static void
log4j_bracket(ls_event *ev, const char *s, size_t a, size_t b)
{
	size_t at, colon;

	/* Spring Boot pads the thread name: "[           main]". */
	while (a < b && is_space(s[a]))
		a++;
	at = b;

	while (at > a && s[at - 1] != '@' && is_digit(s[at - 1]))
		at--;
	if (at > a && at < b && s[at - 1] == '@') {
		size_t cend = at - 1;
		for (colon = cend; colon > a && s[colon - 1] != ':'; colon--)
			;
		if (colon > a) {
			attr(ev, "thread", s + a, colon - 1 - a);
			attr(ev, "component", s + colon, cend - colon);
		} else {
			attr(ev, "component", s + a, cend - a);
		}
		attr(ev, "line", s + at, b - at);
		return;
	}
	attr(ev, "thread", s + a, b - a);
}

static int
is_level_word(const char *s, size_t n, size_t i, size_t *end)
{
	size_t k = i;

	while (k < n && is_alpha(s[k]))
		k++;
	if (k == i || (k < n && !is_space(s[k])))
		return 0;
	*end = k;
	return level_of(s + i, k - i) != LS_LEVEL_UNKNOWN;
}

static int
parse_log4j(pctx *c, const char *s, size_t n)
{
	ls_event *ev = c->ev;
	size_t i, used, e;
	int rc, have_level = 0, have_pid = 0;

	/* The timestamp layouts of the family. */
	if (n >= 11 && s[4] == '-')
		rc = ls_timefmt_iso8601(s, n, &ev->time_ns, &used);
	else if (n >= 9 && (s[2] == '/' || s[4] == '/'))
		rc = ls_timefmt_slash(s, n, &ev->time_ns, &used);
	else
		rc = ls_timefmt_yymmdd(s, n, &ev->time_ns, &used);
	if (rc != 0)
		return fail(c, rc == LS_ERANGE ? "log4j: timestamp out of range"
		                               : "not log4j: no timestamp");
	i = used;
	if (i < n && !is_space(s[i]))
		return fail(c, "log4j: no space after timestamp");
	/* Header before the level: a pid (HDFS), "-" (Zookeeper) or a
	 * [thread] (log4j "%d [%t] %p"). */
	for (int round = 0; round < 3 && !have_level; round++) {
		i = skip_spaces(s, n, i);
		if (i >= n)
			break;
		if (is_level_word(s, n, i, &e)) {
			set_level(ev, s + i, e - i);
			have_level = 1;
			i = e;
		} else if (is_digit(s[i]) && !have_pid) {
			e = i;
			while (e < n && is_digit(s[e]))
				e++;
			if (e < n && !is_space(s[e]))
				break;
			attr(ev, "pid", s + i, e - i);
			have_pid = 1;
			i = e;
		} else if (s[i] == '-' && i + 1 < n && is_space(s[i + 1])) {
			i++;
		} else if (s[i] == '[' && (e = bracket_end(s, n, i)) != 0) {
			log4j_bracket(ev, s, i + 1, e);
			i = e + 1;
		} else {
			break;
		}
	}
	if (!have_level)
		return fail(c, "log4j: no level after timestamp");
	i = skip_spaces(s, n, i);
	/* Spring Boot style "INFO 1234 --- [main] ..." */
	if (i < n && is_digit(s[i]) && !have_pid) {
		e = i;
		while (e < n && is_digit(s[e]))
			e++;
		if (e == n || is_space(s[e])) {
			attr(ev, "pid", s + i, e - i);
			i = skip_spaces(s, n, e);
		}
	}
	if (n - i >= 4 && memcmp(s + i, "--- ", 4) == 0)
		i = skip_spaces(s, n, i + 4);
	if (i < n && s[i] == '[' && (e = bracket_end(s, n, i)) != 0) {
		log4j_bracket(ev, s, i + 1, e);
		i = skip_spaces(s, n, e + 1);
	}
	/* "- message" (Zookeeper), "Component: message" (HDFS, Hadoop,
	 * Spark), "Component - message" (log4j %c - %m) or "Component :
	 * message" (Spring Boot). */
	if (i + 1 < n && s[i] == '-' && is_space(s[i + 1])) {
		i += 2;
	} else if (i < n) {
		e = token_end(s, n, i);
		size_t sep = skip_spaces(s, n, e);
		if (e > i + 1 && s[e - 1] == ':') {
			attr(ev, "component", s + i, e - 1 - i);
			i = e;
		} else if (sep > e && sep < n &&
		           (s[sep] == '-' || s[sep] == ':') &&
		           (sep + 1 == n || is_space(s[sep + 1]))) {
			attr(ev, "component", s + i, e - i);
			i = sep + 1;
		}
	}
	ev->message = trimmed(s, i, n);
	return 0;
}

/* ---- Blue Gene/L ---- */

static int
parse_bgl(pctx *c, const char *s, size_t n)
{
	ls_event *ev = c->ev;
	size_t a[9], b[9], i = 0, used;
	int64_t local, epoch;

	/* Label Epoch Date Node Time NodeRepeat Type Component Level Content,
	 * separated by single spaces. */
	for (int f = 0; f < 9; f++) {
		a[f] = i;
		b[f] = token_end(s, n, i);
		if (b[f] == a[f] || (b[f] >= n && f < 8))
			return fail(c, "not BGL: too few fields");
		i = b[f] + 1;
	}
	if (ls_timefmt_bgl(s + a[4], b[4] - a[4], &local, &used) != 0 ||
	    used != b[4] - a[4])
		return fail(c, "BGL: bad time field");
	/* The epoch field is the true UTC second; the wall-clock field is
	 * local time (US Pacific) and only gives the microseconds. */
	if (ls_timefmt_epoch(s + a[1], b[1] - a[1], &epoch, &used) == 0 &&
	    used == b[1] - a[1] && b[1] - a[1] <= 10 && s[a[1]] != '-')
		ev->time_ns = epoch + ((local % 1000000000LL) + 1000000000LL) %
		                          1000000000LL;
	else
		ev->time_ns = local;
	attr(ev, "label", s + a[0], b[0] - a[0]);
	ev->host = str_of(s + a[3], b[3] - a[3]);
	attr(ev, "node_repeat", s + a[5], b[5] - a[5]);
	attr(ev, "type", s + a[6], b[6] - a[6]);
	attr(ev, "component", s + a[7], b[7] - a[7]);
	set_level(ev, s + a[8], b[8] - a[8]);
	ev->message = trimmed(s, b[8] < n ? b[8] + 1 : n, n);
	return 0;
}

/* ---- JSON ---- */

static size_t
json_ws(const char *s, size_t n, size_t i)
{
	while (i < n &&
	       (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
hex4(const char *s, size_t n, size_t i, unsigned *out)
{
	unsigned v = 0;

	if (i + 4 > n)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[i + k]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

#define SWAR_ONES  0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

/* Nonzero when one of the 8 bytes in x is '"', '\\' or below 0x20 (bit
 * tricks: a byte b is flagged by (b - k) & ~b & 0x80). */
static uint64_t
swar_special(uint64_t x)
{
	uint64_t q = x ^ (SWAR_ONES * '"'), b = x ^ (SWAR_ONES * '\\');
	uint64_t ctl = (x - SWAR_ONES * 0x20) & ~x;
	uint64_t isq = (q - SWAR_ONES) & ~q, isb = (b - SWAR_ONES) & ~b;
	return (ctl | isq | isb) & SWAR_HIGHS;
}

/* Validate the JSON string at s[*pi] == '"'.  Sets *out (unless NULL) to
 * its decoded value: borrowed when it has no escapes, else decoded into the
 * arena (lone surrogates become U+FFFD).  *pi moves past the closing
 * quote. */
static int
json_string(pctx *c, const char *s, size_t n, size_t *pi, ls_str *out)
{
	size_t i = *pi + 1, a = i;
	int esc = 0;

	for (;;) {
		/* Skip 8 plain bytes at a time. */
		while (n - i >= 8) {
			uint64_t x;
			memcpy(&x, s + i, 8);
			if (swar_special(x))
				break;
			i += 8;
		}
		/* Then to the special byte itself. */
		while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' &&
		       s[i] != '\\')
			i++;
		if (i >= n)
			return fail(c, "not valid JSON: unterminated string");
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"')
			break;
		if (ch < 0x20)
			return fail(
			    c, "not valid JSON: control character in string");
		{
			/* ch is a backslash. */
			esc = 1;
			if (i + 1 >= n)
				return fail(
				    c, "not valid JSON: unterminated string");
			char e = s[i + 1];
			if (e == 'u') {
				unsigned cp;
				if (hex4(s, n, i + 2, &cp) != 0)
					return fail(c, "not valid JSON: bad "
					               "\\u escape");
				i += 6;
				continue;
			}
			if (strchr("\"\\/bfnrt", e) == NULL || e == '\0')
				return fail(
				    c, "not valid JSON: bad escape sequence");
			i += 2;
			continue;
		}
	}
	*pi = i + 1;
	if (out == NULL)
		return 0;
	if (!esc) {
		*out = str_of(s + a, i - a);
		return 0;
	}
	/* Decoded text is never longer than the escaped text. */
	char *o = ls_arena_alloc(c->arena, i - a + 1);
	size_t k = 0;
	if (o == NULL)
		return LS_ENOMEM;
	for (size_t j = a; j < i;) {
		if (s[j] != '\\') {
			o[k++] = s[j++];
			continue;
		}
		char e = s[j + 1];
		if (e != 'u') {
			switch (e) {
			case 'b':
				o[k++] = '\b';
				break;
			case 'f':
				o[k++] = '\f';
				break;
			case 'n':
				o[k++] = '\n';
				break;
			case 'r':
				o[k++] = '\r';
				break;
			case 't':
				o[k++] = '\t';
				break;
			default:
				o[k++] = e;
				break;
			}
			j += 2;
			continue;
		}
		unsigned cp = 0xFFFD, lo = 0;
		(void)hex4(s, i, j + 2, &cp); /* validated above */
		j += 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (j + 6 <= i && s[j] == '\\' && s[j + 1] == 'u' &&
			    hex4(s, i, j + 2, &lo) == 0 && lo >= 0xDC00 &&
			    lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
				j += 6;
			} else {
				cp = 0xFFFD;
			}
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			cp = 0xFFFD;
		}
		k += utf8_put(o + k, cp);
	}
	*out = str_of(o, k);
	return 0;
}

/* Validate a JSON number at s[*pi]; *pi moves past it. */
static int
json_number(pctx *c, const char *s, size_t n, size_t *pi)
{
	size_t i = *pi;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i]))
		return fail(c, "not valid JSON: bad number");
	if (s[i] == '0') {
		i++;
	} else {
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !is_digit(s[i]))
			return fail(c, "not valid JSON: bad number");
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return fail(c, "not valid JSON: bad number");
		while (i < n && is_digit(s[i]))
			i++;
	}
	*pi = i;
	return 0;
}

enum jkind { J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL, J_RAW };

/* Validate any JSON value at s[*pi] (after whitespace).  Strings are not
 * decoded here when nested (depth > 1). */
static int
json_value(pctx *c, const char *s, size_t n, size_t *pi, int depth,
           enum jkind *kind, ls_str *val)
{
	size_t i = *pi;
	int rc;

	if (depth > JSON_MAX_DEPTH)
		return fail(c, "not valid JSON: nested too deeply");
	if (i >= n)
		return fail(c, "not valid JSON: missing value");
	switch (s[i]) {
	case '"':
		*kind = J_STRING;
		return json_string(c, s, n, pi, depth > 1 ? NULL : val);
	case '{':
	case '[': {
		char close = s[i] == '{' ? '}' : ']';
		size_t a = i;
		ls_str tmp;
		enum jkind k;
		i = json_ws(s, n, i + 1);
		if (i < n && s[i] == close) {
			i++;
		} else {
			for (;;) {
				if (close == '}') {
					if (i >= n || s[i] != '"')
						return fail(
						    c, "not valid JSON:"
						       " expected string key");
					if ((rc = json_string(c, s, n, &i,
					                      NULL)) != 0)
						return rc;
					i = json_ws(s, n, i);
					if (i >= n || s[i] != ':')
						return fail(
						    c,
						    "not valid JSON:"
						    " expected ':' after key");
					i = json_ws(s, n, i + 1);
				}
				if ((rc = json_value(c, s, n, &i, depth + 1, &k,
				                     &tmp)) != 0)
					return rc;
				i = json_ws(s, n, i);
				if (i < n && s[i] == ',') {
					i = json_ws(s, n, i + 1);
					continue;
				}
				if (i < n && s[i] == close) {
					i++;
					break;
				}
				return fail(
				    c,
				    close == '}'
				        ? "not valid JSON: expected ',' or '}'"
				        : "not valid JSON: expected ',' or "
				          "']'");
			}
		}
		*kind = J_RAW;
		*val = str_of(s + a, i - a);
		*pi = i;
		return 0;
	}
	case 't':
	case 'f':
	case 'n': {
		static const char *const lits[3] = {"true", "false", "null"};
		static const enum jkind kinds[3] = {J_TRUE, J_FALSE, J_NULL};
		int w = s[i] == 't' ? 0 : s[i] == 'f' ? 1 : 2;
		size_t ln = strlen(lits[w]);
		if (n - i < ln || memcmp(s + i, lits[w], ln) != 0)
			return fail(c, "not valid JSON: bad literal");
		*kind = kinds[w];
		*val = str_of(s + i, ln);
		*pi = i + ln;
		return 0;
	}
	default:
		if ((rc = json_number(c, s, n, &i)) != 0)
			return rc;
		*kind = J_NUMBER;
		*val = str_of(s + *pi, i - *pi);
		*pi = i;
		return 0;
	}
}

enum fkey { K_OTHER, K_TIME, K_LEVEL, K_SERVICE, K_HOST, K_MESSAGE };

static enum fkey
field_key(ls_str k)
{
	const char *p = k.ptr;
	size_t n = k.len;

	switch (n) {
	case 2:
		if (SAME(p, n, "ts"))
			return K_TIME;
		break;
	case 3:
		if (SAME(p, n, "lvl"))
			return K_LEVEL;
		if (SAME(p, n, "app"))
			return K_SERVICE;
		if (SAME(p, n, "msg"))
			return K_MESSAGE;
		break;
	case 4:
		if (SAME(p, n, "time"))
			return K_TIME;
		if (SAME(p, n, "host"))
			return K_HOST;
		break;
	case 5:
		if (SAME(p, n, "level"))
			return K_LEVEL;
		break;
	case 6:
		if (SAME(p, n, "logger"))
			return K_SERVICE;
		break;
	case 7:
		if (SAME(p, n, "service"))
			return K_SERVICE;
		if (SAME(p, n, "message"))
			return K_MESSAGE;
		break;
	case 8:
		if (SAME(p, n, "severity"))
			return K_LEVEL;
		if (SAME(p, n, "hostname"))
			return K_HOST;
		break;
	case 9:
		if (SAME(p, n, "timestamp"))
			return K_TIME;
		break;
	case 10:
		if (SAME(p, n, "@timestamp"))
			return K_TIME;
		break;
	default:
		break;
	}
	return K_OTHER;
}

/* Numeric levels of pino/bunyan: 10 trace ... 60 fatal. */
static ls_level
numeric_level(ls_str v)
{
	if (v.len != 2 || v.ptr[1] != '0')
		return LS_LEVEL_UNKNOWN;
	switch (v.ptr[0]) {
	case '1':
		return LS_LEVEL_TRACE;
	case '2':
		return LS_LEVEL_DEBUG;
	case '3':
		return LS_LEVEL_INFO;
	case '4':
		return LS_LEVEL_WARN;
	case '5':
		return LS_LEVEL_ERROR;
	case '6':
		return LS_LEVEL_FATAL;
	default:
		return LS_LEVEL_UNKNOWN;
	}
}

/* Assign one key/value of a JSON or logfmt record.  The first occurrence
 * of a well-known key fills the event field; repeats, unknown keys and
 * time values that do not parse become attributes. */
static void
assign(pctx *c, ls_str key, ls_str val, int is_number, int *seen)
{
	ls_event *ev = c->ev;
	enum fkey f = field_key(key);

	if (f != K_OTHER && !(*seen & (1 << f))) {
		switch (f) {
		case K_TIME: {
			int64_t t;
			size_t used;
			int rc =
			    is_number
			        ? ls_timefmt_epoch(val.ptr, val.len, &t, &used)
			        : ls_timefmt_any(val.ptr, val.len, year_of(c),
			                         &t, &used);
			if (rc != 0 || used != val.len)
				break;
			ev->time_ns = t;
			*seen |= (1 << f);
			return;
		}
		case K_LEVEL:
			ev->level_text = val;
			ev->level =
			    (uint8_t)(is_number ? numeric_level(val)
			                        : level_of(val.ptr, val.len));
			*seen |= (1 << f);
			return;
		case K_SERVICE:
			ev->service = val;
			*seen |= (1 << f);
			return;
		case K_HOST:
			ev->host = val;
			*seen |= (1 << f);
			return;
		case K_MESSAGE:
			ev->message = val;
			*seen |= (1 << f);
			return;
		default:
			break;
		}
	}
	(void)ls_event_add_attr(ev, key, val);
}

static int
parse_json(pctx *c, const char *s, size_t n)
{
	size_t i = json_ws(s, n, 0);
	int rc, seen = 0;

	if (i >= n || s[i] != '{')
		return fail(c, "not valid JSON: expected '{'");
	i = json_ws(s, n, i + 1);
	if (i < n && s[i] == '}') {
		i++;
	} else {
		for (;;) {
			ls_str key, val;
			enum jkind kind;
			if (i >= n)
				return fail(
				    c, "not valid JSON: unterminated object");
			if (s[i] != '"')
				return fail(
				    c, "not valid JSON: expected string key");
			if ((rc = json_string(c, s, n, &i, &key)) != 0)
				return rc;
			i = json_ws(s, n, i);
			if (i >= n || s[i] != ':')
				return fail(
				    c,
				    "not valid JSON: expected ':' after key");
			i = json_ws(s, n, i + 1);
			if ((rc = json_value(c, s, n, &i, 1, &kind, &val)) != 0)
				return rc;
			if (kind != J_NULL)
				assign(c, key, val, kind == J_NUMBER, &seen);
			i = json_ws(s, n, i);
			if (i < n && s[i] == ',') {
				i = json_ws(s, n, i + 1);
				continue;
			}
			if (i < n && s[i] == '}') {
				i++;
				break;
			}
			return fail(
			    c, i >= n ? "not valid JSON: unterminated object"
			              : "not valid JSON: expected ',' or '}'");
		}
	}
	if (json_ws(s, n, i) != n)
		return fail(c, "not valid JSON: trailing characters after "
		               "object");
	return 0;
}

/* ---- logfmt ---- */

static int
is_key_char(char ch)
{
	return (unsigned char)ch > ' ' && ch != '=' && ch != '"' && ch != 0x7F;
}

static int
parse_logfmt(pctx *c, const char *s, size_t n)
{
	size_t i = 0;
	int seen = 0, pairs = 0;

	for (;;) {
		i = skip_spaces(s, n, i);
		if (i >= n)
			break;
		size_t ka = i;
		while (i < n && is_key_char(s[i]))
			i++;
		if (i == ka)
			return fail(c, "not logfmt: expected a key");
		ls_str key = str_of(s + ka, i - ka), val = str_of(NULL, 0);
		if (i < n && s[i] == '=') {
			i++;
			pairs++;
			if (i < n && s[i] == '"') {
				size_t a, b, end;
				int esc;
				end = quoted(s, n, i, &a, &b, &esc);
				if (end == 0)
					return fail(
					    c, "not logfmt: "
					       "unterminated quoted value");
				if (end < n && !is_space(s[end]))
					return fail(c, "not logfmt: text "
					               "after a quoted value");
				const char *v = s + a;
				size_t vn = b - a;
				if (esc) {
					v = unescape_simple(c->arena, v, vn, 1,
					                    &vn);
					if (v == NULL)
						return LS_ENOMEM;
				}
				val = str_of(v, vn);
				i = end;
			} else {
				size_t a = i;
				i = token_end(s, n, i);
				val = str_of(s + a, i - a);
			}
		} else if (i < n && !is_space(s[i])) {
			return fail(c, "not logfmt: quote inside a key");
		}
		assign(c, key, val, 0, &seen);
	}
	if (pairs == 0)
		return fail(c, "not logfmt: no key=value pair");
	return 0;
}

/* ---- auto detection ---- */

static int
digits_at(const char *s, size_t n, size_t i, size_t cnt)
{
	if (i + cnt > n)
		return 0;
	for (size_t k = 0; k < cnt; k++) {
		if (!is_digit(s[i + k]))
			return 0;
	}
	return 1;
}

/* "host ident user [dd/" within the first bytes. */
static int
looks_clf(const char *s, size_t n)
{
	size_t i = 0;

	for (int t = 0; t < 3; t++) {
		size_t e = token_end(s, n, i);
		if (e == i || e >= n || s[e] != ' ')
			return 0;
		i = e + 1;
	}
	return i + 4 <= n && s[i] == '[' && digits_at(s, n, i + 1, 2) &&
	       s[i + 3] == '/';
}

/* "LABEL EPOCH YYYY.MM.DD " */
static int
looks_bgl(const char *s, size_t n)
{
	size_t e = token_end(s, n, 0), k;

	if (e == 0 || e >= n)
		return 0;
	k = e + 1;
	while (k < n && is_digit(s[k]))
		k++;
	if (k == e + 1 || k >= n || s[k] != ' ')
		return 0;
	k++;
	return digits_at(s, n, k, 4) && k + 10 <= n && s[k + 4] == '.' &&
	       digits_at(s, n, k + 5, 2) && s[k + 7] == '.' &&
	       digits_at(s, n, k + 8, 2);
}

ls_format
ls_format_detect(const char *s, size_t n)
{
	size_t k = 0;

	if (s == NULL || n == 0)
		return LS_FMT_AUTO;
	/* JSON may start with whitespace; other formats may not. */
	while (k < n && (is_space(s[k]) || s[k] == '\r' || s[k] == '\n'))
		k++;
	if (k < n && k > 0 && s[k] == '{')
		return LS_FMT_JSON;
	switch (s[0]) {
	case '{':
		return LS_FMT_JSON;
	case '<':
		return LS_FMT_SYSLOG;
	case '[':
		return LS_FMT_APACHE_ERROR;
	default:
		break;
	}
	if (is_digit(s[0])) {
		if (digits_at(s, n, 0, 4) && n > 10) {
			if (s[4] == '-' && s[7] == '-')
				return LS_FMT_LOG4J;
			if (s[4] == '/')
				return LS_FMT_NGINX_ERROR;
		}
		if (digits_at(s, n, 0, 2) && n > 8 && s[2] == '/' &&
		    s[5] == '/')
			return LS_FMT_LOG4J;
		if (digits_at(s, n, 0, 6) && n > 13 && s[6] == ' ' &&
		    digits_at(s, n, 7, 6) && s[13] == ' ')
			return LS_FMT_LOG4J;
	} else if (n > 5 && s[3] == ' ' && ls_timefmt_month3(s, n) != 0 &&
	           (is_digit(s[4]) || s[4] == ' ')) {
		return LS_FMT_RFC3164;
	}
	if (looks_bgl(s, n))
		return LS_FMT_BGL;
	if (looks_clf(s, n))
		return LS_FMT_CLF;
	for (size_t i = 0; i < n && is_key_char(s[i]); i++) {
		if (i > 0 && i + 1 < n && s[i + 1] == '=')
			return LS_FMT_LOGFMT;
	}
	if (n > 1 && s[0] != '=' && is_key_char(s[0]) && s[1] == '=')
		return LS_FMT_LOGFMT;
	return LS_FMT_AUTO;
}

/* ---- fallback: any readable line ---- */

/* 0 when s[0..n) is valid UTF-8 without NUL bytes, else a static reason.
 * ASCII runs are skipped 8 bytes at a time. */
static const char *
text_problem(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		if (n - i >= 8) {
			uint64_t x;
			memcpy(&x, u + i, 8);
			/* no high bit and no zero byte */
			if ((x & SWAR_HIGHS) == 0 &&
			    ((x - SWAR_ONES) & ~x & SWAR_HIGHS) == 0) {
				i += 8;
				continue;
			}
		}
		unsigned ch = u[i];
		if (ch == 0)
			return "not text: NUL byte";
		if (ch < 0x80) {
			i++;
			continue;
		}
		size_t len;
		unsigned cp, min;
		if (ch >= 0xC2 && ch <= 0xDF) {
			len = 2;
			cp = ch & 0x1F;
			min = 0x80;
		} else if (ch >= 0xE0 && ch <= 0xEF) {
			len = 3;
			cp = ch & 0x0F;
			min = 0x800;
		} else if (ch >= 0xF0 && ch <= 0xF4) {
			len = 4;
			cp = ch & 0x07;
			min = 0x10000;
		} else {
			return "not text: invalid UTF-8";
		}
		if (n - i < len)
			return "not text: invalid UTF-8";
		for (size_t k = 1; k < len; k++) {
			if ((u[i + k] & 0xC0) != 0x80)
				return "not text: invalid UTF-8";
			cp = cp << 6 | (u[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return "not text: invalid UTF-8";
		i += len;
	}
	return NULL;
}

static int
is_word_char(char ch)
{
	return is_alpha(ch) || is_digit(ch) || ch == '_';
}

/* The level of a whole word, case-insensitively; the three-letter forms
 * of Serilog and friends (INF, WRN, DBG, ...) only in upper case. */
static ls_level
word_level(const char *p, size_t n)
{
	static const struct {
		const char *w;
		ls_level l;
	} words[] = {
	    {"error", LS_LEVEL_ERROR},      {"err", LS_LEVEL_ERROR},
	    {"warn", LS_LEVEL_WARN},        {"warning", LS_LEVEL_WARN},
	    {"info", LS_LEVEL_INFO},        {"information", LS_LEVEL_INFO},
	    {"debug", LS_LEVEL_DEBUG},      {"trace", LS_LEVEL_TRACE},
	    {"verbose", LS_LEVEL_TRACE},    {"fatal", LS_LEVEL_FATAL},
	    {"critical", LS_LEVEL_FATAL},   {"crit", LS_LEVEL_FATAL},
	    {"severe", LS_LEVEL_FATAL},     {"panic", LS_LEVEL_FATAL},
	    {"emerg", LS_LEVEL_FATAL},      {"emergency", LS_LEVEL_FATAL},
	    {"alert", LS_LEVEL_FATAL},      {"notice", LS_LEVEL_NOTICE},
	};
	static const struct {
		const char *w;
		ls_level l;
	} upper[] = {
	    {"INF", LS_LEVEL_INFO},  {"WRN", LS_LEVEL_WARN},
	    {"DBG", LS_LEVEL_DEBUG}, {"FTL", LS_LEVEL_FATAL},
	    {"VRB", LS_LEVEL_TRACE}, {"TRC", LS_LEVEL_TRACE},
	    {"EMERGENCY", LS_LEVEL_FATAL},
	};

	if (n < 3 || n > 11)
		return LS_LEVEL_UNKNOWN;
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
		if (strlen(words[k].w) == n && strncasecmp(p, words[k].w, n) == 0)
			return words[k].l;
	}
	for (size_t k = 0; k < sizeof(upper) / sizeof(upper[0]); k++) {
		if (strlen(upper[k].w) == n && memcmp(p, upper[k].w, n) == 0)
			return upper[k].l;
	}
	return LS_LEVEL_UNKNOWN;
}

static ls_level
letter_level(char ch)
{
	switch (ch) {
	case 'V':
		return LS_LEVEL_TRACE;
	case 'D':
		return LS_LEVEL_DEBUG;
	case 'I':
		return LS_LEVEL_INFO;
	case 'W':
		return LS_LEVEL_WARN;
	case 'E':
		return LS_LEVEL_ERROR;
	case 'F':
	case 'A':
		return LS_LEVEL_FATAL;
	default:
		return LS_LEVEL_UNKNOWN;
	}
}

/* Redis "pid:role " at the start of the line (role X, C, S or M). */
static int
looks_redis(const char *s, size_t n)
{
	size_t k = 0;

	while (k < n && is_digit(s[k]))
		k++;
	return k > 0 && k + 2 < n && s[k] == ':' &&
	       (s[k + 1] == 'M' || s[k + 1] == 'S' || s[k + 1] == 'C' ||
	        s[k + 1] == 'X') &&
	       s[k + 2] == ' ';
}

/* A level letter where the common layouts put one: "E/Tag" at the start
 * (logcat brief), klog's "E1207 ...", or the first token after the
 * timestamp s[te..] and any numeric pid/tid columns ("... 1234 5678 E
 * Tag: msg", logcat threadtime), including redis' ". - * #" marks.
 * Returns 1 and sets the event's level. */
static int
positional_level(ls_event *ev, const char *s, size_t n, int have_time,
                 size_t ts, size_t te)
{
	ls_level l;

	if (n > 2 && s[1] == '/' && is_word_char(s[2]) &&
	    (l = letter_level(s[0])) != LS_LEVEL_UNKNOWN) {
		ev->level = (uint8_t)l;
		ev->level_text = str_of(s, 1);
		return 1;
	}
	if (!have_time)
		return 0;
	if (ts == 0 && te > 5 && digits_at(s, n, 1, 4) && s[5] == ' ' &&
	    strchr("IWEF", s[0]) != NULL) {
		ev->level = (uint8_t)letter_level(s[0]);
		ev->level_text = str_of(s, 1);
		return 1;
	}
	size_t i = te;
	for (int tok = 0; tok < 4; tok++) {
		i = skip_spaces(s, n, i);
		size_t e = token_end(s, n, i);
		if (e == i)
			return 0;
		if ((e - i == 1 || s[i + 1] == '/') &&
		    (l = letter_level(s[i])) != LS_LEVEL_UNKNOWN) {
			ev->level = (uint8_t)l;
			ev->level_text = str_of(s + i, 1);
			return 1;
		}
		if (e - i == 1 && tok == 0 && looks_redis(s, n)) {
			static const char marks[] = ".-*#";
			static const ls_level lv[] = {LS_LEVEL_DEBUG, LS_LEVEL_INFO,
			                              LS_LEVEL_NOTICE,
			                              LS_LEVEL_WARN};
			const char *m = memchr(marks, s[i], 4);
			if (m != NULL) {
				ev->level = (uint8_t)lv[m - marks];
				ev->level_text = str_of(s + i, 1);
				return 1;
			}
		}
		for (size_t k = i; k < e; k++) {
			if (!is_digit(s[k]))
				return 0;
		}
		i = e;
	}
	return 0;
}

/* The first level word of the line, preferring one that is written in
 * upper case or set off as a field ("[warn]", "<error>", "level=info",
 * "Error:") over one inside prose ("no error found"). */
static void
word_level_scan(ls_event *ev, const char *s, size_t n)
{
	size_t weak_at = 0, weak_len = 0;
	ls_level weak = LS_LEVEL_UNKNOWN;

	for (size_t i = 0; i < n;) {
		if (!is_alpha(s[i]) || (i > 0 && is_word_char(s[i - 1]))) {
			i++;
			continue;
		}
		size_t e = i, nup = 0;
		while (e < n && is_word_char(s[e])) {
			nup += s[e] >= 'A' && s[e] <= 'Z';
			e++;
		}
		ls_level l = word_level(s + i, e - i);
		if (l != LS_LEVEL_UNKNOWN) {
			char before = i > 0 ? s[i - 1] : ' ';
			char after = e < n ? s[e] : ' ';
			int strong = nup == e - i || strchr("[<(|=", before) ||
			             strchr("]>)|:", after);
			if (strong) {
				ev->level = (uint8_t)l;
				ev->level_text = str_of(s + i, e - i);
				return;
			}
			if (weak == LS_LEVEL_UNKNOWN) {
				weak = l;
				weak_at = i;
				weak_len = e - i;
			}
		}
		i = e;
	}
	if (weak != LS_LEVEL_UNKNOWN) {
		ev->level = (uint8_t)weak;
		ev->level_text = str_of(s + weak_at, weak_len);
	}
}

/* Any line no format recognises (docs/log-formats.md, "Fallback"): the
 * message is the whole line, the time the first timestamp found in it
 * (else the ingest time), the level a letter in a typical position or
 * the first level word.  Only empty lines and non-text fail. */
static int
parse_fallback(pctx *c, const char *s, size_t n)
{
	ls_event *ev = c->ev;
	const char *why = text_problem(s, n);
	size_t at = 0, used = 0;
	int64_t t;

	if (why != NULL)
		return fail(c, why);
	int64_t not_after =
	    c->cfg->default_year == 0 ? (int64_t)time(NULL) * 1000000000LL : 0;
	int have_time =
	    ls_timefmt_find(s, n, year_of(c), not_after, &t, &at, &used) == 0;
	if (have_time) {
		ev->time_ns = t;
		attr(ev, "time_source", "line", 4);
	} else {
		ev->time_ns = c->ingest_ns;
		attr(ev, "time_source", "ingest", 6);
	}
	if (!positional_level(ev, s, n, have_time, at, at + used))
		word_level_scan(ev, s, n);
	ev->message = str_of(s, n);
	return 0;
}

/* ---- entry point ---- */

/* ls_event_clear() without zeroing the unused attrs[] slots (they are
 * dead once nattrs is 0); a third of the cost of a short line otherwise. */
static void
event_reset(ls_event *ev)
{
	memset(ev, 0, offsetof(ls_event, attrs));
	ev->time_ns = LS_TIME_UNKNOWN;
}

static int
parse_as(pctx *c, ls_format f, const char *s, size_t n)
{
	switch (f) {
	case LS_FMT_JSON:
		return parse_json(c, s, n);
	case LS_FMT_LOGFMT:
		return parse_logfmt(c, s, n);
	case LS_FMT_SYSLOG:
		return parse_syslog(c, s, n);
	case LS_FMT_RFC3164:
		return parse_3164(c, s, n);
	case LS_FMT_RFC5424:
		return parse_5424(c, s, n);
	case LS_FMT_CLF:
		return parse_clf(c, s, n);
	case LS_FMT_APACHE_ERROR:
		return parse_apache_error(c, s, n);
	case LS_FMT_NGINX_ERROR:
		return parse_nginx_error(c, s, n);
	case LS_FMT_LOG4J:
		return parse_log4j(c, s, n);
	case LS_FMT_BGL:
		return parse_bgl(c, s, n);
	case LS_FMT_FREEFORM:
		return parse_fallback(c, s, n);
	default:
		return fail(c, "unrecognised log format");
	}
}

int
ls_parser_parse(const ls_parser *p, const char *line, size_t len, ls_event *ev,
                ls_arena *arena, const char **reason)
{
	return ls_parser_parse_at(p, line, len, LS_TIME_UNKNOWN, ev, arena,
	                          reason);
}

int
ls_parser_parse_at(const ls_parser *p, const char *line, size_t len,
                   int64_t ingest_ns, ls_event *ev, ls_arena *arena,
                   const char **reason)
{
	pctx c = {p, ev, arena, NULL, 0, ingest_ns};
	const char *dummy;
	int rc;

	if (reason == NULL)
		reason = &dummy;
	*reason = NULL;
	if (p == NULL || ev == NULL || arena == NULL ||
	    (line == NULL && len != 0) || (int)p->format < 0 ||
	    p->format >= LS_FMT_COUNT) {
		*reason = "invalid argument";
		return LS_EINVAL;
	}
	event_reset(ev);
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len > UINT32_MAX) {
		*reason = "line longer than 4 GiB";
		return LS_EPARSE;
	}
	size_t k = 0;
	while (k < len && (is_space(line[k]) || line[k] == '\r'))
		k++;
	if (k == len) {
		*reason = "empty line";
		return LS_EPARSE;
	}
	ls_format f = p->format;
	if (p->custom != NULL) {
		rc = ls_userfmt_parse(p->custom, line, len, ev, arena, reason);
		if (rc == LS_ENOMEM)
			*reason = "out of memory";
		return rc;
	}
	if (f == LS_FMT_AUTO) {
		f = ls_format_detect(line, len);
		rc = parse_as(&c, f, line, len);
		if (rc == LS_EPARSE && f == LS_FMT_LOG4J) {
			/* "2024-03-01T10:00:00+01:00 host prog: msg" is
			 * rsyslog's file format, not log4j. */
			event_reset(ev);
			c.year = 0;
			rc = parse_3164(&c, line, len);
			/* rsyslog always writes "host prog[pid]:": without a
			 * tag the line is something else. */
			if (rc == 0 && ev->service.len == 0)
				rc = LS_EPARSE;
		}
		if (rc == LS_EPARSE) {
			/* No known format: keep the line anyway. */
			event_reset(ev);
			c.year = 0;
			rc = parse_fallback(&c, line, len);
		}
	} else {
		rc = parse_as(&c, f, line, len);
	}
	if (rc == LS_EPARSE)
		*reason = c.reason != NULL ? c.reason : "parse error";
	else if (rc == LS_ENOMEM)
		*reason = "out of memory";
	return rc;
}
