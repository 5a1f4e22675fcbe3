/*
 * userfmt.c -- operator-defined formats: grok expansion, PCRE2 compile and
 * match, captures to event fields (see userfmt.h and docs/log-formats.md).
 *
 * Compiling expands every %{NAME[:field]} into "(?:def)" or "(?<field>def)"
 * (recursively: library patterns use each other) while keeping, for each
 * byte of the expansion, the offset of the pattern byte it came from, so a
 * PCRE2 error inside an expansion is reported at the %{ that produced it.
 * Matching uses one match-data block and one JIT stack owned by the format,
 * and match limits that stop runaway backtracking on hostile lines.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "userfmt.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/timefmt.h"
#include "runtime/err.h"

/* Nesting of %{...} inside library definitions. */
#define GROK_MAX_DEPTH 16
/* Backtracking budget of one match (PCRE2 match limit). */
#define MATCH_LIMIT 1000000u
/* Longest capture name PCRE2 accepts. */
#define NAME_MAX_LEN 32

/* The grok library: the common subset of Logstash's grok-patterns, the
 * capturing groups turned non-capturing so that only fields the operator
 * names become captures. */
static const struct grok {
	const char *name;
	const char *def;
} grok[] = {
    {"USERNAME", "[a-zA-Z0-9._-]+"},
    {"USER", "%{USERNAME}"},
    {"INT", "(?:[+-]?(?:[0-9]+))"},
    {"BASE10NUM", "(?<![0-9.+-])(?>[+-]?(?:(?:[0-9]+(?:\\.[0-9]+)?)|"
                  "(?:\\.[0-9]+)))"},
    {"NUMBER", "(?:%{BASE10NUM})"},
    {"BASE16NUM", "(?<![0-9A-Fa-f])(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+))"},
    {"POSINT", "\\b(?:[1-9][0-9]*)\\b"},
    {"NONNEGINT", "\\b(?:[0-9]+)\\b"},
    {"WORD", "\\b\\w+\\b"},
    {"NOTSPACE", "\\S+"},
    {"SPACE", "\\s*"},
    {"DATA", ".*?"},
    {"GREEDYDATA", ".*"},
    {"QUOTEDSTRING", "(?>(?<!\\\\)(?>\"(?>\\\\.|[^\\\\\"]+)+\"|\"\"|"
                     "(?>'(?>\\\\.|[^\\\\']+)+')|''|"
                     "(?>`(?>\\\\.|[^\\\\`]+)+`)|``))"},
    {"UUID", "[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}"},
    {"MAC", "(?:(?:[A-Fa-f0-9]{2}[:-]){5}[A-Fa-f0-9]{2}|"
            "(?:[A-Fa-f0-9]{4}\\.){2}[A-Fa-f0-9]{4})"},
    {"IPV4", "(?<![0-9])(?:(?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])"
             "[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])"
             "[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])"
             "[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]))(?![0-9])"},
    {"IPV6", "(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|"
             "(?:[0-9A-Fa-f]{1,4}:){1,7}:|"
             "(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|"
             "(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|"
             "(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}|"
             "(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}|"
             "(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}|"
             "[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}|"
             ":(?:(?::[0-9A-Fa-f]{1,4}){1,7}|:))(?:%\\w+)?"},
    {"IP", "(?:%{IPV6}|%{IPV4})"},
    {"HOSTNAME", "\\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})"
                 "(?:\\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(?:\\.?|\\b)"},
    {"IPORHOST", "(?:%{IP}|%{HOSTNAME})"},
    {"HOSTPORT", "%{IPORHOST}:%{POSINT}"},
    {"UNIXPATH", "(?:/[\\w%!$@:.,+~-]*)+"},
    {"WINPATH", "(?>[A-Za-z]+:|\\\\)(?:\\\\[^\\\\?*]*)+"},
    {"PATH", "(?:%{UNIXPATH}|%{WINPATH})"},
    {"URIPROTO", "[A-Za-z](?:[A-Za-z0-9+\\-.]+)+"},
    {"URIPATH", "(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\\-]*)+"},
    {"URIPARAM", "\\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\\-\\[\\]<>]*"},
    {"URI", "%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{IPORHOST}"
            "(?::%{POSINT})?)?(?:%{URIPATH}(?:%{URIPARAM})?)?"},
    {"MONTH", "\\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|"
              "[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|"
              "[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|"
              "[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|"
              "[Dd]e(?:c|z)(?:ember)?)\\b"},
    {"MONTHNUM", "(?:0?[1-9]|1[0-2])"},
    {"MONTHDAY", "(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])"},
    {"DAY", "(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|"
            "Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)"},
    {"YEAR", "(?>\\d\\d){1,2}"},
    {"HOUR", "(?:2[0123]|[01]?[0-9])"},
    {"MINUTE", "(?:[0-5][0-9])"},
    {"SECOND", "(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"},
    {"TIME", "(?<![0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])"},
    {"ISO8601_TIMEZONE", "(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"},
    {"TIMESTAMP_ISO8601", "%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?"
                          "%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?"},
    {"DATE_US", "%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}"},
    {"DATE_EU", "%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}"},
    {"SYSLOGTIMESTAMP", "%{MONTH} +%{MONTHDAY} %{TIME}"},
    {"HTTPDATE", "%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"},
    {"LOGLEVEL", "(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|"
                 "[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|"
                 "[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|"
                 "ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|"
                 "FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)"},
    {"SYSLOGPROG", "[\\x21-\\x5a\\x5c\\x5e-\\x7e]+(?:\\[%{POSINT}\\])?"},
};

#define NGROK (sizeof(grok) / sizeof(grok[0]))

size_t
ls_userfmt_grok_count(void)
{
	return NGROK;
}

const char *
ls_userfmt_grok_name(size_t i)
{
	return i < NGROK ? grok[i].name : NULL;
}

const char *
ls_userfmt_grok_def(size_t i)
{
	return i < NGROK ? grok[i].def : NULL;
}

enum fkind { F_ATTR, F_TIME, F_LEVEL, F_SERVICE, F_HOST, F_MESSAGE };

typedef struct field {
	enum fkind kind;
	char name[NAME_MAX_LEN + 1];
	size_t namelen;
} field;

struct ls_userfmt {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	field *fields; /* by group number; fields[0] unused */
	uint32_t ngroups;
	int has_message;
};

/* ---- grok expansion ---- */

typedef struct expander {
	char *buf;
	size_t *map; /* pattern offset of each byte of buf */
	size_t len, cap;
	int oom;
	const char *err;
	size_t erroff;
	char errbuf[128];
} expander;

static void
put(expander *x, const char *p, size_t n, size_t origin, int fixed)
{
	if (x->oom)
		return;
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 256;
		while (cap < x->len + n + 1)
			cap *= 2;
		char *b = realloc(x->buf, cap);
		if (b == NULL) {
			x->oom = 1;
			return;
		}
		x->buf = b;
		size_t *m = realloc(x->map, cap * sizeof(*m));
		if (m == NULL) {
			x->oom = 1;
			return;
		}
		x->map = m;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, p, n);
	for (size_t k = 0; k < n; k++)
		x->map[x->len + k] = fixed ? origin : origin + k;
	x->len += n;
}

static const struct grok *
grok_find(const char *p, size_t n)
{
	for (size_t k = 0; k < NGROK; k++) {
		if (strlen(grok[k].name) == n && memcmp(grok[k].name, p, n) == 0)
			return &grok[k];
	}
	return NULL;
}

static int
is_name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* Expand p[0..n).  top: p is the operator's pattern (offsets map 1:1);
 * else a library definition whose every byte maps to origin. */
static void
expand(expander *x, const char *p, size_t n, int top, size_t origin,
       int depth)
{
	size_t i = 0, lit = 0;

	while (i < n && x->err == NULL && !x->oom) {
		if (p[i] == '\\' && i + 1 < n) {
			i += 2; /* an escaped byte is never a %{ */
			continue;
		}
		if (!(p[i] == '%' && i + 1 < n && p[i + 1] == '{')) {
			i++;
			continue;
		}
		size_t at = top ? i : origin;
		put(x, p + lit, i - lit, top ? lit : origin, !top);
		size_t a = i + 2, k = a;
		while (k < n && ((p[k] >= 'A' && p[k] <= 'Z') ||
		                 (p[k] >= '0' && p[k] <= '9') || p[k] == '_'))
			k++;
		size_t na = a, nb = k, fa = 0, fb = 0;
		if (k < n && p[k] == ':') {
			fa = ++k;
			while (k < n && is_name_char(p[k], k == fa))
				k++;
			fb = k;
		}
		if (fa != 0 && (fb == fa || fb - fa > NAME_MAX_LEN)) {
			x->err = "bad field name in %{NAME:field} (letters, "
			         "digits and '_', at most 32)";
			x->erroff = top ? fa : origin;
			return;
		}
		if (k >= n || p[k] != '}') {
			x->err = nb == na ? "expected a pattern name after %{"
			                  : "expected '}' closing %{...}";
			x->erroff = top ? k : origin;
			return;
		}
		if (nb == na) {
			x->err = "expected a pattern name after %{";
			x->erroff = at;
			return;
		}
		const struct grok *g = grok_find(p + na, nb - na);
		if (g == NULL) {
			snprintf(x->errbuf, sizeof(x->errbuf),
			         "unknown grok pattern %%{%.*s}", (int)(nb - na),
			         p + na);
			x->err = x->errbuf;
			x->erroff = at;
			return;
		}
		if (depth >= GROK_MAX_DEPTH) {
			x->err = "grok patterns nested too deeply";
			x->erroff = at;
			return;
		}
		if (fa != 0) {
			put(x, "(?<", 3, at, 1);
			put(x, p + fa, fb - fa, at, 1);
			put(x, ">", 1, at, 1);
		} else {
			put(x, "(?:", 3, at, 1);
		}
		expand(x, g->def, strlen(g->def), 0, at, depth + 1);
		put(x, ")", 1, at, 1);
		i = k + 1;
		lit = i;
	}
	if (x->err == NULL)
		put(x, p + lit, n - lit, top ? lit : origin, !top);
}

/* ---- compile ---- */

static enum fkind
kind_of(const char *name)
{
	static const struct {
		const char *n;
		enum fkind k;
	} map[] = {
	    {"ts", F_TIME},         {"time", F_TIME},    {"timestamp", F_TIME},
	    {"level", F_LEVEL},     {"severity", F_LEVEL}, {"lvl", F_LEVEL},
	    {"service", F_SERVICE}, {"app", F_SERVICE},  {"program", F_SERVICE},
	    {"host", F_HOST},       {"hostname", F_HOST}, {"message", F_MESSAGE},
	    {"msg", F_MESSAGE},
	};
	for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
		if (strcmp(map[k].n, name) == 0)
			return map[k].k;
	}
	return F_ATTR;
}

static void
set_err(char *err, size_t errlen, size_t *erroff, const char *msg,
        size_t off)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	if (erroff != NULL)
		*erroff = off;
}

void
ls_userfmt_free(ls_userfmt *f)
{
	if (f == NULL)
		return;
	pcre2_match_data_free(f->md);
	pcre2_match_context_free(f->mctx);
	pcre2_jit_stack_free(f->jit);
	pcre2_code_free(f->code);
	free(f->fields);
	free(f);
}

/* Fill f->fields from the pattern's name table. */
static int
load_fields(ls_userfmt *f)
{
	uint32_t count = 0, entry = 0, ncap = 0;
	PCRE2_SPTR table = NULL;

	(void)pcre2_pattern_info(f->code, PCRE2_INFO_CAPTURECOUNT, &ncap);
	(void)pcre2_pattern_info(f->code, PCRE2_INFO_NAMECOUNT, &count);
	(void)pcre2_pattern_info(f->code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
	(void)pcre2_pattern_info(f->code, PCRE2_INFO_NAMETABLE, &table);
	f->ngroups = ncap;
	f->fields = calloc((size_t)ncap + 1, sizeof(*f->fields));
	if (f->fields == NULL)
		return LS_ENOMEM;
	for (uint32_t k = 0; k < count; k++) {
		PCRE2_SPTR e = table + (size_t)k * entry;
		uint32_t g = (uint32_t)e[0] << 8 | e[1];
		const char *name = (const char *)e + 2;
		if (g == 0 || g > ncap)
			continue;
		field *fd = &f->fields[g];
		fd->namelen = strnlen(name, NAME_MAX_LEN);
		memcpy(fd->name, name, fd->namelen);
		fd->name[fd->namelen] = '\0';
		fd->kind = kind_of(fd->name);
		if (fd->kind == F_MESSAGE)
			f->has_message = 1;
	}
	return 0;
}

int
ls_userfmt_compile(const char *pattern, size_t len, ls_userfmt **out,
                   char *err, size_t errlen, size_t *erroff)
{
	expander x;
	int ec = 0;
	PCRE2_SIZE eo = 0;

	if (out == NULL || (pattern == NULL && len != 0))
		return LS_EINVAL;
	*out = NULL;
	if (len == 0) {
		set_err(err, errlen, erroff, "empty pattern", 0);
		return LS_EPARSE;
	}
	memset(&x, 0, sizeof(x));
	expand(&x, pattern, len, 1, 0, 0);
	put(&x, "", 0, len, 1);
	if (x.oom) {
		free(x.buf);
		free(x.map);
		return LS_ENOMEM;
	}
	if (x.err != NULL) {
		set_err(err, errlen, erroff, x.err, x.erroff);
		free(x.buf);
		free(x.map);
		return LS_EPARSE;
	}
	ls_userfmt *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		free(x.buf);
		free(x.map);
		return LS_ENOMEM;
	}
	f->code = pcre2_compile((PCRE2_SPTR)x.buf, x.len, 0, &ec, &eo, NULL);
	if (f->code == NULL) {
		PCRE2_UCHAR msg[160];
		if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ec);
		size_t off = eo < x.len ? x.map[eo] : len;
		set_err(err, errlen, erroff, (const char *)msg, off);
		free(x.buf);
		free(x.map);
		ls_userfmt_free(f);
		return ec == PCRE2_ERROR_HEAPLIMIT ? LS_ENOMEM : LS_EPARSE;
	}
	free(x.buf);
	free(x.map);
	/* JIT is an optimisation: without it the interpreter runs. */
	(void)pcre2_jit_compile(f->code, PCRE2_JIT_COMPLETE);
	f->md = pcre2_match_data_create_from_pattern(f->code, NULL);
	f->mctx = pcre2_match_context_create(NULL);
	f->jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
	if (f->md == NULL || f->mctx == NULL || f->jit == NULL ||
	    load_fields(f) != 0) {
		ls_userfmt_free(f);
		return LS_ENOMEM;
	}
	pcre2_set_match_limit(f->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(f->mctx, MATCH_LIMIT / 10);
	pcre2_jit_stack_assign(f->mctx, NULL, f->jit);
	*out = f;
	return 0;
}

int
ls_userfmt_check(const char *pattern, size_t len, char *why, size_t whylen,
                 size_t *erroff)
{
	ls_userfmt *f = NULL;
	int rc = ls_userfmt_compile(pattern, len, &f, why, whylen, erroff);

	ls_userfmt_free(f);
	if (rc == LS_ENOMEM) {
		set_err(why, whylen, erroff, "out of memory", 0);
		return 1;
	}
	return rc != 0;
}

/* ---- match ---- */

static void
add_attr(ls_event *ev, ls_arena *arena, const field *fd, ls_str v, int *oom)
{
	char *k = ls_arena_alloc(arena, fd->namelen);

	if (k == NULL) {
		*oom = 1;
		return;
	}
	memcpy(k, fd->name, fd->namelen);
	(void)ls_event_add_attr(ev, ls_str_make(k, fd->namelen), v);
}

int
ls_userfmt_parse(const ls_userfmt *f, const char *line, size_t len,
                 ls_event *ev, ls_arena *arena, const char **reason)
{
	const char *dummy;
	int oom = 0, have_time = 0;

	if (reason == NULL)
		reason = &dummy;
	*reason = NULL;
	if (f == NULL || ev == NULL || arena == NULL ||
	    (line == NULL && len != 0)) {
		*reason = "invalid argument";
		return LS_EINVAL;
	}
	int rc = pcre2_match(f->code, (PCRE2_SPTR)(line != NULL ? line : ""),
	                     len, 0, 0, f->md, f->mctx);
	if (rc == PCRE2_ERROR_NOMATCH) {
		*reason = "does not match the custom format";
		return LS_EPARSE;
	}
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
		*reason = "custom format: match limit exceeded";
		return LS_EPARSE;
	}
	if (rc < 0) {
		*reason = rc == PCRE2_ERROR_NOMEMORY ? "out of memory"
		                                     : "custom format: match error";
		return rc == PCRE2_ERROR_NOMEMORY ? LS_ENOMEM : LS_EPARSE;
	}
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(f->md);
	uint32_t nov = pcre2_get_ovector_count(f->md);
	if (!f->has_message)
		ev->message = ls_str_make(line, len);
	for (uint32_t g = 1; g <= f->ngroups && g < nov; g++) {
		const field *fd = &f->fields[g];
		if (fd->namelen == 0 || ov[2 * g] == PCRE2_UNSET ||
		    ov[2 * g + 1] < ov[2 * g])
			continue;
		ls_str v = ls_str_make(line + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
		switch (fd->kind) {
		case F_TIME: {
			int64_t t;
			size_t used, at;
			int year = ls_timefmt_current_year();
			if (!have_time && v.len != 0 &&
			    ((ls_timefmt_any(v.ptr, v.len, year, &t, &used) == 0 &&
			      used == v.len) ||
			     ls_timefmt_find(v.ptr, v.len, year, 0, &t, &at,
			                     &used) == 0)) {
				ev->time_ns = t;
				have_time = 1;
			} else {
				add_attr(ev, arena, fd, v, &oom);
			}
			break;
		}
		case F_LEVEL:
			if (ev->level_text.len == 0) {
				ev->level_text = v;
				ev->level = (uint8_t)ls_level_parse(v.ptr, v.len);
			}
			break;
		case F_SERVICE:
			ev->service = v;
			break;
		case F_HOST:
			ev->host = v;
			break;
		case F_MESSAGE:
			ev->message = v;
			break;
		case F_ATTR:
			add_attr(ev, arena, fd, v, &oom);
			break;
		}
	}
	if (oom) {
		*reason = "out of memory";
		return LS_ENOMEM;
	}
	return 0;
}
