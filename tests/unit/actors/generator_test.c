/*
 * generator_test.c -- tests of the synthetic log generator
 * (actors/generator.h): determinism and seeking, every format's lines parse
 * as what they claim (checked by small independent parsers here), level
 * and status mix, error bursts, user skew, latency tail, event-time order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/generator.h"
#include "runtime/err.h"

#define NS INT64_C(1000000000)

static ls_generator *
mkgen(uint64_t seed, int format)
{
	ls_generator_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.seed = seed;
	cfg.format = format;
	ls_generator *g = ls_generator_new(&cfg);
	assert_non_null(g);
	return g;
}

/* ---- a minimal JSON reader: validates one value and, for the top-level
 * object, records each member's key and value span ---- */

typedef struct jmember {
	char key[32];
	const char *val; /* raw text of the value */
	size_t vlen;
	char type; /* 's' string, 'n' number, 'o' other */
	char str[512]; /* unescaped string value */
} jmember;

typedef struct jdoc {
	jmember m[32];
	size_t n;
} jdoc;

static const char *j_value(const char *p, const char *end, int depth,
    char *out, size_t outcap, char *type);

static const char *
j_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *
j_string(const char *p, const char *end, char *out, size_t outcap)
{
	size_t o = 0;
	if (p >= end || *p != '"')
		return NULL;
	p++;
	while (p < end && *p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (p >= end)
				return NULL;
			switch (*p) {
			case '"': case '\\': case '/':
				c = (unsigned char)*p;
				break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				for (int i = 1; i <= 4; i++) {
					if (p + i >= end ||
					    !isxdigit((unsigned char)p[i]))
						return NULL;
				}
				p += 4;
				c = '?';
				break;
			default:
				return NULL;
			}
		}
		if (out != NULL && o + 1 < outcap)
			out[o++] = (char)c;
		p++;
	}
	if (p >= end)
		return NULL;
	if (out != NULL && outcap > 0)
		out[o] = '\0';
	return p + 1;
}

static const char *
j_number(const char *p, const char *end)
{
	const char *s = p;
	if (p < end && *p == '-')
		p++;
	if (p >= end || !isdigit((unsigned char)*p))
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < end && isdigit((unsigned char)*p))
			p++;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !isdigit((unsigned char)*p))
			return NULL;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !isdigit((unsigned char)*p))
			return NULL;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	return p > s ? p : NULL;
}

static const char *
j_object(const char *p, const char *end, int depth, jdoc *doc)
{
	p = j_ws(p + 1, end);
	if (p < end && *p == '}')
		return p + 1;
	for (;;) {
		jmember tmp, *m = doc != NULL && doc->n < 32 ? &doc->m[doc->n] :
		                                               &tmp;
		p = j_string(j_ws(p, end), end, m->key, sizeof(m->key));
		if (p == NULL)
			return NULL;
		p = j_ws(p, end);
		if (p >= end || *p != ':')
			return NULL;
		p = j_ws(p + 1, end);
		m->val = p;
		p = j_value(p, end, depth + 1, m->str, sizeof(m->str), &m->type);
		if (p == NULL)
			return NULL;
		m->vlen = (size_t)(p - m->val);
		if (doc != NULL && doc->n < 32)
			doc->n++;
		p = j_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			return p + 1;
		return NULL;
	}
}

static const char *
j_value(const char *p, const char *end, int depth, char *out, size_t outcap,
    char *type)
{
	if (depth > 16 || p >= end)
		return NULL;
	*type = 'o';
	if (*p == '{')
		return j_object(p, end, depth, NULL);
	if (*p == '[') {
		p = j_ws(p + 1, end);
		if (p < end && *p == ']')
			return p + 1;
		for (;;) {
			char t;
			p = j_value(j_ws(p, end), end, depth + 1, NULL, 0, &t);
			if (p == NULL)
				return NULL;
			p = j_ws(p, end);
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			return p < end && *p == ']' ? p + 1 : NULL;
		}
	}
	if (*p == '"') {
		*type = 's';
		return j_string(p, end, out, outcap);
	}
	if (end - p >= 4 && memcmp(p, "true", 4) == 0)
		return p + 4;
	if (end - p >= 5 && memcmp(p, "false", 5) == 0)
		return p + 5;
	if (end - p >= 4 && memcmp(p, "null", 4) == 0)
		return p + 4;
	*type = 'n';
	return j_number(p, end);
}

/* 1 when line[0..n) is exactly one JSON object; fills doc. */
static int
json_parse(const char *line, size_t n, jdoc *doc)
{
	const char *end = line + n;
	doc->n = 0;
	const char *p = j_ws(line, end);
	if (p >= end || *p != '{')
		return 0;
	p = j_object(p, end, 0, doc);
	return p != NULL && j_ws(p, end) == end;
}

static void
json_self_test(void)
{
	jdoc d;
	static const char *const good[] = { "{}", "{\"a\":1}",
		"{\"a\":\"x\\\"y\",\"b\":[1,2,{\"c\":null}],\"d\":-0.5e3}" };
	static const char *const bad[] = { "", "{", "{\"a\"}", "{\"a\":}",
		"{\"a\":1,}", "{\"a\":01}", "{\"a\":\"\x01\"}", "{\"a\":1}x",
		"{\"a\":tru}", "{'a':1}" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(json_parse(good[i], strlen(good[i]), &d));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(json_parse(bad[i], strlen(bad[i]), &d));
}

/* ---- helpers ---- */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "2024-03-01T00:00:00.123Z" (exactly) -> ns, or INT64_MIN */
static int64_t
parse_rfc3339_ms(const char *p, size_t n)
{
	unsigned y, mo, d, hh, mm, ss, ms;
	char tail;
	char buf[32];
	if (n != 24)
		return INT64_MIN;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (sscanf(buf, "%4u-%2u-%2uT%2u:%2u:%2u.%3u%c", &y, &mo, &d, &hh, &mm,
	        &ss, &ms, &tail) != 8 ||
	    tail != 'Z' || buf[4] != '-' || buf[10] != 'T' || buf[19] != '.')
		return INT64_MIN;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 ||
	    ss > 59)
		return INT64_MIN;
	return (days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60 + ss) *
	    NS + (int64_t)ms * 1000000;
}

static const char *const want_keys[] = { "ts", "level", "service", "host",
	"message", "method", "path", "status", "latency_ms", "bytes", "user",
	"trace_id" };
#define NKEYS (sizeof(want_keys) / sizeof(want_keys[0]))

static int
is_level(const char *s)
{
	return strcmp(s, "INFO") == 0 || strcmp(s, "WARN") == 0 ||
	    strcmp(s, "ERROR") == 0 || strcmp(s, "DEBUG") == 0;
}

static int
all_of(const char *s, size_t n, const char *set)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strchr(set, s[i]) == NULL || s[i] == '\0')
			return 0;
	}
	return 1;
}

#define DIGITS "0123456789"
#define HEX    "0123456789abcdef"
#define NAMECH "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* Checks one JSON line completely; returns its level index (0 INFO, 1 WARN,
 * 2 ERROR, 3 DEBUG) and status. */
static int
check_json_line(const char *line, size_t n, int64_t t, unsigned *status)
{
	static jdoc d;
	if (!json_parse(line, n, &d))
		fail_msg("not JSON: %.*s", (int)n, line);
	assert_int_equal(d.n, NKEYS);
	for (size_t i = 0; i < NKEYS; i++)
		assert_string_equal(d.m[i].key, want_keys[i]);
	for (size_t i = 0; i < NKEYS; i++) {
		int numeric = i == 7 || i == 8 || i == 9;
		assert_int_equal(d.m[i].type, numeric ? 'n' : 's');
	}
	assert_int_equal(parse_rfc3339_ms(d.m[0].str, strlen(d.m[0].str)), t);
	assert_true(is_level(d.m[1].str));
	assert_true(all_of(d.m[2].str, strlen(d.m[2].str), NAMECH));
	assert_true(all_of(d.m[3].str, strlen(d.m[3].str), NAMECH));
	assert_true(strlen(d.m[4].str) > 5);
	assert_true(d.m[6].str[0] == '/');
	*status = (unsigned)strtoul(d.m[7].val, NULL, 10);
	assert_true(*status >= 200 && *status <= 599);
	double lat = strtod(d.m[8].val, NULL);
	assert_true(lat > 0 && lat <= 120000);
	assert_true(all_of(d.m[9].val, d.m[9].vlen, DIGITS));
	assert_true(strncmp(d.m[10].str, "user-", 5) == 0);
	assert_int_equal(strlen(d.m[11].str), 32);
	assert_true(all_of(d.m[11].str, 32, HEX));
	const char *lv = d.m[1].str;
	return lv[0] == 'I' ? 0 : lv[0] == 'W' ? 1 : lv[0] == 'E' ? 2 : 3;
}

/* logfmt: key=value pairs, values bare or double-quoted with \" escapes. */
static void
check_logfmt_line(const char *line, size_t n, int64_t t)
{
	const char *p = line, *end = line + n;
	size_t k = 0;
	while (p < end) {
		const char *key = p;
		while (p < end && *p != '=' && *p != ' ')
			p++;
		assert_true(p < end && *p == '=');
		assert_true(k < NKEYS);
		/* logfmt carries the same keys; message comes last */
		const char *want = k < 4 ? want_keys[k] :
		    k < NKEYS - 1        ? want_keys[k + 1] :
		                           "message";
		assert_int_equal((size_t)(p - key), strlen(want));
		assert_memory_equal(key, want, strlen(want));
		p++;
		const char *v = p;
		if (p < end && *p == '"') {
			p++;
			while (p < end && *p != '"') {
				if (*p == '\\')
					p++;
				p++;
			}
			assert_true(p < end);
			p++;
		} else {
			while (p < end && *p != ' ' && *p != '"')
				p++;
			assert_true(p > v);
		}
		if (k == 0)
			assert_int_equal(parse_rfc3339_ms(v, (size_t)(p - v)),
			    t);
		if (k == 1) {
			char lv[8] = { 0 };
			memcpy(lv, v, (size_t)(p - v) < 7 ? (size_t)(p - v) : 7);
			assert_true(is_level(lv));
		}
		k++;
		if (p < end) {
			assert_int_equal(*p, ' ');
			p++;
		}
	}
	assert_int_equal(k, NKEYS);
}

static int
check_pri(const char **pp, const char *end)
{
	const char *p = *pp;
	assert_true(p < end && *p == '<');
	p++;
	int pri = 0, nd = 0;
	while (p < end && isdigit((unsigned char)*p) && nd < 3) {
		pri = pri * 10 + (*p - '0');
		p++;
		nd++;
	}
	assert_true(nd > 0 && p < end && *p == '>');
	assert_true(pri >= 0 && pri <= 191);
	*pp = p + 1;
	return pri;
}

/* RFC 5424: <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG */
static void
check_syslog5424_line(const char *line, size_t n, int64_t t)
{
	const char *p = line, *end = line + n;
	int pri = check_pri(&p, end);
	assert_int_equal(pri / 8, 16); /* local0 */
	assert_true(end - p > 2 && p[0] == '1' && p[1] == ' ');
	p += 2;
	assert_int_equal(parse_rfc3339_ms(p, 24), t);
	p += 24;
	for (int field = 0; field < 4; field++) { /* host app procid msgid */
		assert_true(p < end && *p == ' ');
		p++;
		const char *s = p;
		while (p < end && *p > 32 && *p < 127)
			p++;
		assert_true(p > s && p - s <= 48);
		if (field == 2)
			assert_true(all_of(s, (size_t)(p - s), DIGITS));
	}
	assert_true(p < end && *p == ' ');
	p++;
	/* one SD element: [id param="value" ...] */
	assert_true(p < end && *p == '[');
	p++;
	const char *id = p;
	while (p < end && *p != ' ' && *p != ']')
		p++;
	assert_int_equal(p - id, 9);
	assert_memory_equal(id, "req@32473", 9);
	int nparams = 0;
	while (p < end && *p == ' ') {
		p++;
		while (p < end && *p != '=')
			assert_true(*p++ > 32);
		assert_true(end - p > 1 && p[1] == '"');
		p += 2;
		while (p < end && *p != '"') {
			assert_true(*p != ']');
			if (*p == '\\')
				p++;
			p++;
		}
		assert_true(p < end);
		p++;
		nparams++;
	}
	assert_int_equal(nparams, 7);
	assert_true(p < end && *p == ']');
	p++;
	assert_true(end - p > 2 && *p == ' ');
}

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* RFC 3164: <PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG */
static void
check_syslog3164_line(const char *line, size_t n, int64_t t)
{
	const char *p = line, *end = line + n;
	char mon[4];
	unsigned d, hh, mm, ss;
	char buf[32];

	(void)check_pri(&p, end);
	assert_true(end - p > 16);
	memcpy(buf, p, 15);
	buf[15] = '\0';
	assert_int_equal(sscanf(buf, "%3s %2u %2u:%2u:%2u", mon, &d, &hh, &mm,
	                     &ss),
	    5);
	assert_true(buf[3] == ' ' && (buf[4] == ' ' || isdigit((unsigned char)buf[4])));
	const char *mp = strstr(months, mon);
	assert_non_null(mp);
	/* year 2024 (default start): the stamp has no year */
	int64_t want = (days_from_civil(2024, (unsigned)(mp - months) / 3 + 1, d) *
	                       86400 +
	                   hh * 3600 + mm * 60 + ss) *
	    NS;
	assert_int_equal(want, t / NS * NS);
	p += 15;
	assert_true(*p == ' ');
	p++;
	while (p < end && *p != ' ')
		p++;
	p++;
	const char *tag = p;
	while (p < end && *p != '[')
		p++;
	assert_true(p > tag && all_of(tag, (size_t)(p - tag), NAMECH));
	p++;
	const char *pid = p;
	while (p < end && *p != ']')
		p++;
	assert_true(all_of(pid, (size_t)(p - pid), DIGITS));
	assert_true(end - p > 3 && p[1] == ':' && p[2] == ' ');
}

/* Combined log: IP - USER [dd/Mon/yyyy:hh:mm:ss +0000] "M PATH HTTP/1.1"
 * STATUS BYTES "REFERER" "AGENT" */
static void
check_clf_line(const char *line, size_t n, int64_t t)
{
	char buf[LS_GENERATOR_LINE_MAX + 1];
	char ip[32], user[32], ts[32], zone[8], method[8], path[128], proto[16];
	unsigned status;
	char bytes[16];
	int used = 0;

	memcpy(buf, line, n);
	buf[n] = '\0';
	assert_int_equal(sscanf(buf,
	                     "%31s - %31s [%31s %7[^]]] \"%7s %127s %15[^\"]\" "
	                     "%u %15s %n",
	                     ip, user, ts, zone, method, path, proto, &status,
	                     bytes, &used),
	    9);
	assert_true(used > 0);
	assert_string_equal(zone, "+0000");
	assert_string_equal(proto, "HTTP/1.1");
	assert_true(path[0] == '/');
	assert_true(status >= 200 && status <= 599);
	assert_true(strcmp(bytes, "-") == 0 || all_of(bytes, strlen(bytes), DIGITS));
	unsigned a, b, c, d;
	assert_int_equal(sscanf(ip, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
	assert_true(a <= 255 && b <= 255 && c <= 255 && d <= 255);
	/* 01/Mar/2024:00:00:00 */
	unsigned dd, yy, hh, mi, ss;
	char mon[4];
	assert_int_equal(sscanf(ts, "%2u/%3s/%4u:%2u:%2u:%2u", &dd, mon, &yy, &hh,
	                     &mi, &ss),
	    6);
	mon[3] = '\0';
	const char *mp = strstr(months, mon);
	assert_non_null(mp);
	int64_t want = (days_from_civil(yy, (unsigned)(mp - months) / 3 + 1, dd) *
	                       86400 +
	                   hh * 3600 + mi * 60 + ss) *
	    NS;
	assert_int_equal(want, t / NS * NS);
	/* "referer" "agent" */
	const char *p = buf + used;
	assert_true(*p == '"');
	p = strchr(p + 1, '"');
	assert_non_null(p);
	assert_true(p[1] == ' ' && p[2] == '"');
	assert_true(buf[n - 1] == '"');
}

/* ---- tests ---- */

static void
test_json_reader(void **state)
{
	(void)state;
	json_self_test();
}

static void
test_deterministic_and_seek(void **state)
{
	(void)state;
	enum { N = 20000 };
	char a[LS_GENERATOR_LINE_MAX + 1], b[LS_GENERATOR_LINE_MAX + 1];
	size_t la, lb;
	int64_t ta, tb;

	for (int fmt = 0; fmt < LS_GEN_FORMAT_COUNT; fmt++) {
		ls_generator *g1 = mkgen(7, fmt), *g2 = mkgen(7, fmt);
		ls_generator *g3 = mkgen(8, fmt);
		size_t differ = 0;
		char *saved = malloc(LS_GENERATOR_LINE_MAX + 1);
		assert_non_null(saved);
		size_t saved_len = 0;
		int64_t saved_t = 0;
		for (int i = 0; i < N; i++) {
			assert_int_equal(ls_generator_index(g1), (uint64_t)i);
			assert_int_equal(ls_generator_next(g1, a, sizeof(a), &la,
			                     &ta),
			    0);
			assert_int_equal(ls_generator_next(g2, b, sizeof(b), &lb,
			                     &tb),
			    0);
			assert_int_equal(la, lb);
			assert_int_equal(ta, tb);
			assert_memory_equal(a, b, la + 1);
			assert_int_equal(strlen(a), la);
			if (i == 12345) {
				memcpy(saved, a, la + 1);
				saved_len = la;
				saved_t = ta;
			}
			assert_int_equal(ls_generator_next(g3, b, sizeof(b), &lb,
			                     &tb),
			    0);
			differ += lb != la || memcmp(a, b, la) != 0;
		}
		/* another seed gives other lines (almost all differ) */
		assert_true(differ > N * 99 / 100);
		/* seeking reproduces a line exactly */
		ls_generator_seek(g2, 12345);
		assert_int_equal(ls_generator_next(g2, b, sizeof(b), &lb, &tb), 0);
		assert_int_equal(lb, saved_len);
		assert_int_equal(tb, saved_t);
		assert_memory_equal(b, saved, lb);
		free(saved);
		ls_generator_free(g1);
		ls_generator_free(g2);
		ls_generator_free(g3);
	}
}

static void
test_small_buffer(void **state)
{
	(void)state;
	ls_generator *g = mkgen(1, LS_GEN_JSON);
	char small[16], big[LS_GENERATOR_LINE_MAX + 1];
	size_t len = 0, len2 = 0;

	assert_int_equal(ls_generator_next(g, small, sizeof(small), &len, NULL),
	    LS_ERANGE);
	assert_true(len > sizeof(small));
	assert_int_equal(ls_generator_index(g), 0); /* did not move */
	assert_int_equal(ls_generator_next(g, big, len, &len2, NULL), LS_ERANGE);
	assert_int_equal(ls_generator_next(g, big, len + 1, &len2, NULL), 0);
	assert_int_equal(len2, len);
	assert_int_equal(big[len], '\0');
	assert_int_equal(ls_generator_index(g), 1);
	ls_generator_free(g);
}

static void
test_formats_parse(void **state)
{
	(void)state;
	enum { N = 20000 };
	char line[LS_GENERATOR_LINE_MAX + 1];
	size_t len, maxlen = 0;
	int64_t t;
	unsigned status;

	for (int fmt = 0; fmt < LS_GEN_MIXED; fmt++) {
		ls_generator *g = mkgen(42 + (uint64_t)fmt, fmt);
		for (int i = 0; i < N; i++) {
			assert_int_equal(ls_generator_next(g, line, sizeof(line),
			                     &len, &t),
			    0);
			assert_null(memchr(line, '\n', len));
			if (len > maxlen)
				maxlen = len;
			switch (fmt) {
			case LS_GEN_JSON:
				check_json_line(line, len, t, &status);
				break;
			case LS_GEN_LOGFMT:
				check_logfmt_line(line, len, t);
				break;
			case LS_GEN_SYSLOG:
				check_syslog5424_line(line, len, t);
				break;
			case LS_GEN_SYSLOG3164:
				check_syslog3164_line(line, len, t);
				break;
			default:
				check_clf_line(line, len, t);
				break;
			}
		}
		ls_generator_free(g);
	}
	assert_true(maxlen < LS_GENERATOR_LINE_MAX);

	/* mixed: every line is one of the five, and all five occur */
	ls_generator *g = mkgen(5, LS_GEN_MIXED);
	size_t seen[5] = { 0 };
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(ls_generator_next(g, line, sizeof(line), &len, &t),
		    0);
		if (line[0] == '{') {
			check_json_line(line, len, t, &status);
			seen[0]++;
		} else if (strncmp(line, "ts=", 3) == 0) {
			check_logfmt_line(line, len, t);
			seen[1]++;
		} else if (line[0] == '<' && strstr(line, ">1 ") != NULL &&
		    strstr(line, ">1 ") < line + 6) {
			check_syslog5424_line(line, len, t);
			seen[2]++;
		} else if (line[0] == '<') {
			check_syslog3164_line(line, len, t);
			seen[3]++;
		} else {
			check_clf_line(line, len, t);
			seen[4]++;
		}
	}
	for (int f = 0; f < 5; f++)
		assert_true(seen[f] > 700);
	ls_generator_free(g);
}

static void
test_level_mix(void **state)
{
	(void)state;
	enum { N = 100000 };
	char line[LS_GENERATOR_LINE_MAX + 1];
	size_t len;
	int64_t t;
	unsigned status;
	size_t lv[4] = { 0 };
	ls_generator *g = mkgen(2024, LS_GEN_JSON);

	for (int i = 0; i < N; i++) {
		assert_int_equal(ls_generator_next(g, line, sizeof(line), &len, &t),
		    0);
		int l = check_json_line(line, len, t, &status);
		lv[l]++;
		/* 5xx goes with ERROR, and only with it */
		assert_int_equal(l == 2, status >= 500);
	}
	/* configured 80 / 10 / 5 / 5 %, wide bounds (bursts add errors) */
	assert_in_range(lv[0], N * 72 / 100, N * 86 / 100);
	assert_in_range(lv[1], N * 7 / 100, N * 13 / 100);
	assert_in_range(lv[2], N * 3 / 100, N * 9 / 100);
	assert_in_range(lv[3], N * 3 / 100, N * 7 / 100);
	ls_generator_free(g);
}

/* Bursts: in some run of 1000 lines one service logs far more errors than
 * the 5% baseline would give it. */
static void
test_error_bursts(void **state)
{
	(void)state;
	enum { N = 400000, RUN = 1000 };
	char line[LS_GENERATOR_LINE_MAX + 1];
	size_t len;
	int64_t t;
	static jdoc d;
	ls_generator *g = mkgen(11, LS_GEN_JSON);
	size_t bursty_runs = 0;

	for (int r = 0; r < N / RUN; r++) {
		char svc[8][32];
		size_t nsvc = 0, err[8] = { 0 };
		for (int i = 0; i < RUN; i++) {
			assert_int_equal(ls_generator_next(g, line, sizeof(line),
			                     &len, &t),
			    0);
			/* the full check runs elsewhere; here only errors
			 * matter, and this test reads many lines */
			if (strstr(line, "\"level\":\"ERROR\"") == NULL)
				continue;
			assert_true(json_parse(line, len, &d));
			assert_string_equal(d.m[1].str, "ERROR");
			size_t k;
			for (k = 0; k < nsvc; k++)
				if (strcmp(svc[k], d.m[2].str) == 0)
					break;
			if (k == nsvc) {
				assert_true(nsvc < 8);
				snprintf(svc[nsvc++], 32, "%.31s", d.m[2].str);
			}
			err[k]++;
		}
		for (size_t k = 0; k < nsvc; k++)
			if (err[k] > 60) /* baseline ~ 50 errors over all */
				bursty_runs++;
	}
	assert_true(bursty_runs >= 2);
	assert_true(bursty_runs < N / RUN / 2);
	ls_generator_free(g);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int
cmp_s(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_users_and_latency(void **state)
{
	(void)state;
	enum { N = 50000 };
	char line[LS_GENERATOR_LINE_MAX + 1];
	size_t len;
	int64_t t;
	unsigned status;
	static jdoc d;
	static double lat[N];
	static char users[N][16];
	ls_generator *g = mkgen(3, LS_GEN_JSON);

	for (int i = 0; i < N; i++) {
		assert_int_equal(ls_generator_next(g, line, sizeof(line), &len, &t),
		    0);
		check_json_line(line, len, t, &status);
		assert_true(json_parse(line, len, &d));
		lat[i] = strtod(d.m[8].val, NULL);
		snprintf(users[i], sizeof(users[i]), "%.15s", d.m[10].str);
	}
	ls_generator_free(g);

	/* Zipf: the most frequent user is far above the average share */
	qsort(users, N, sizeof(users[0]), cmp_s);
	size_t best = 0, run = 1, distinct = 1;
	for (int i = 1; i <= N; i++) {
		if (i < N && strcmp(users[i], users[i - 1]) == 0) {
			run++;
			continue;
		}
		if (run > best)
			best = run;
		run = 1;
		distinct += i < N;
	}
	assert_true(distinct > 1000 && distinct <= 10000);
	assert_true(best > 50 * (N / distinct));

	/* log-normal body with a heavy tail: p99 well above the median */
	qsort(lat, N, sizeof(lat[0]), cmp_d);
	double p50 = lat[N / 2], p99 = lat[N * 99 / 100];
	assert_true(p50 > 5 && p50 < 200);
	assert_true(p99 > 8 * p50);
	assert_true(lat[N - 1] > 5000);
}

static void
test_event_times(void **state)
{
	(void)state;
	static const double rates[] = { 1000, 50000, 1, 0.5 };
	char line[LS_GENERATOR_LINE_MAX + 1];
	size_t len;
	int64_t t;

	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		ls_generator_cfg cfg;
		memset(&cfg, 0, sizeof(cfg));
		cfg.seed = 9;
		cfg.events_per_sec = rates[r];
		cfg.start_time_ns = r == 3 ? INT64_C(1600000000) * NS : 0;
		ls_generator *g = ls_generator_new(&cfg);
		assert_non_null(g);
		int64_t start = r == 3 ? INT64_C(1600000000) * NS :
		                         LS_GENERATOR_DEFAULT_START_NS;
		int64_t maxt = INT64_MIN;
		for (int i = 0; i < 20000; i++) {
			assert_int_equal(ls_generator_next(g, line, sizeof(line),
			                     &len, &t),
			    0);
			int64_t nominal =
			    start + (int64_t)((double)i * 1e9 / rates[r]);
			/* nominal time plus a jitter below the bound, in ms */
			assert_true(t >= nominal - 1000000);
			assert_true(t < nominal + LS_GENERATOR_JITTER_NS);
			/* never out of order by a second or more */
			assert_true(maxt == INT64_MIN || t > maxt - NS);
			if (t > maxt)
				maxt = t;
			assert_int_equal(t % 1000000, 0);
		}
		ls_generator_free(g);
	}
}

static void
test_config(void **state)
{
	(void)state;
	ls_generator_cfg cfg;
	int f = -1;
	const char *svc[] = { "alpha", "beta-2" };
	const char *badsvc[] = { "ok", "bad name" };
	const char *hosts[] = { "h1" };
	char line[LS_GENERATOR_LINE_MAX + 1];
	size_t len;
	int64_t t;
	unsigned status;
	static jdoc d;

	assert_null(ls_generator_new(NULL));
	memset(&cfg, 0, sizeof(cfg));
	cfg.format = LS_GEN_FORMAT_COUNT;
	assert_null(ls_generator_new(&cfg));
	cfg.format = LS_GEN_JSON;
	cfg.events_per_sec = -1;
	assert_null(ls_generator_new(&cfg));
	cfg.events_per_sec = 0;
	cfg.services = badsvc;
	cfg.nservices = 2;
	assert_null(ls_generator_new(&cfg));
	cfg.services = svc;
	cfg.nservices = 0;
	assert_null(ls_generator_new(&cfg));
	cfg.nservices = 2;
	cfg.nusers = 2000000;
	assert_null(ls_generator_new(&cfg));
	cfg.nusers = 5;
	cfg.hosts = hosts;
	cfg.nhosts = 1;
	ls_generator *g = ls_generator_new(&cfg);
	assert_non_null(g);
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(ls_generator_next(g, line, sizeof(line), &len, &t),
		    0);
		check_json_line(line, len, t, &status);
		assert_true(json_parse(line, len, &d));
		assert_true(strcmp(d.m[2].str, "alpha") == 0 ||
		    strcmp(d.m[2].str, "beta-2") == 0);
		assert_string_equal(d.m[3].str, "h1");
	}
	ls_generator_free(g);
	ls_generator_free(NULL);

	assert_int_equal(ls_generator_format_parse("logfmt", &f), 0);
	assert_int_equal(f, LS_GEN_LOGFMT);
	assert_int_equal(ls_generator_format_parse("syslog3164", &f), 0);
	assert_int_equal(f, LS_GEN_SYSLOG3164);
	assert_int_equal(ls_generator_format_parse("xml", &f), LS_EINVAL);
	assert_int_equal(ls_generator_format_parse(NULL, &f), LS_EINVAL);
	assert_string_equal(ls_generator_format_name(LS_GEN_CLF), "clf");
	assert_string_equal(ls_generator_format_name(99), "unknown");
	for (int i = 0; i < LS_GEN_FORMAT_COUNT; i++) {
		assert_int_equal(ls_generator_format_parse(
		                     ls_generator_format_name(i), &f),
		    0);
		assert_int_equal(f, i);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_reader),
		cmocka_unit_test(test_deterministic_and_seek),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_formats_parse),
		cmocka_unit_test(test_level_mix),
		cmocka_unit_test(test_error_bursts),
		cmocka_unit_test(test_users_and_latency),
		cmocka_unit_test(test_event_times),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
