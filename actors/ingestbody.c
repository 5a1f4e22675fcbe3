/*
 * ingestbody.c -- POST /v1/logs bodies into events (see ingestbody.h).
 *
 * A recursive-descent check of RFC 8259 that copies every token it accepts
 * into the output and drops the white space between tokens.  Recursion is
 * bounded by LS_INGESTBODY_DEPTH, every read is bounds-checked against the
 * body's length, and the output never outgrows the buffer sized up front
 * (compaction only removes bytes; an event separator replaces at least one
 * byte of the input except between objects written back to back, which
 * the slack of len / 2 covers: an object is at least two bytes).
 */
#include "actors/ingestbody.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/err.h"

typedef struct jp {
	const char *s;
	size_t len, i;
	char *o;
	size_t on;
	const char *err; /* static reason, set once */
	size_t err_at;
} jp;

static int
fail(jp *p, const char *why)
{
	if (p->err == NULL) {
		p->err = why;
		p->err_at = p->i;
	}
	return -1;
}

static void
ws(jp *p)
{
	while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
	                            p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static void
put(jp *p, char c)
{
	p->o[p->on++] = c;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
string(jp *p)
{
	put(p, p->s[p->i++]); /* the opening quote */
	for (;;) {
		if (p->i >= p->len)
			return fail(p, "unterminated string");
		unsigned char c = (unsigned char)p->s[p->i];
		if (c == '"') {
			put(p, p->s[p->i++]);
			return 0;
		}
		if (c < 0x20)
			return fail(p, "control character in a string (escape it)");
		if (c == '\\') {
			if (p->i + 1 >= p->len)
				return fail(p, "unterminated string");
			char e = p->s[p->i + 1];
			if (e == 'u') {
				if (p->i + 6 > p->len)
					return fail(p, "short \\u escape");
				for (size_t k = 2; k < 6; k++)
					if (!is_hex(p->s[p->i + k]))
						return fail(p, "bad \\u escape");
				memcpy(p->o + p->on, p->s + p->i, 6);
				p->on += 6;
				p->i += 6;
				continue;
			}
			if (strchr("\"\\/bfnrt", e) == NULL || e == '\0')
				return fail(p, "bad escape in a string");
			put(p, p->s[p->i++]);
			put(p, p->s[p->i++]);
			continue;
		}
		put(p, p->s[p->i++]);
	}
}

static int
digits(jp *p)
{
	if (p->i >= p->len || !is_digit(p->s[p->i]))
		return fail(p, "bad number");
	while (p->i < p->len && is_digit(p->s[p->i]))
		put(p, p->s[p->i++]);
	return 0;
}

static int
number(jp *p)
{
	if (p->s[p->i] == '-')
		put(p, p->s[p->i++]);
	if (p->i < p->len && p->s[p->i] == '0')
		put(p, p->s[p->i++]);
	else if (digits(p) != 0)
		return -1;
	if (p->i < p->len && p->s[p->i] == '.') {
		put(p, p->s[p->i++]);
		if (digits(p) != 0)
			return -1;
	}
	if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		put(p, p->s[p->i++]);
		if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			put(p, p->s[p->i++]);
		if (digits(p) != 0)
			return -1;
	}
	return 0;
}

static int
literal(jp *p, const char *word)
{
	size_t n = strlen(word);
	if (p->len - p->i < n || memcmp(p->s + p->i, word, n) != 0)
		return fail(p, "unexpected character");
	memcpy(p->o + p->on, word, n);
	p->on += n;
	p->i += n;
	return 0;
}

static int value(jp *p, int depth);

static int
object(jp *p, int depth)
{
	if (depth > LS_INGESTBODY_DEPTH)
		return fail(p, "nested too deeply");
	put(p, p->s[p->i++]);
	ws(p);
	if (p->i < p->len && p->s[p->i] == '}') {
		put(p, p->s[p->i++]);
		return 0;
	}
	for (;;) {
		if (p->i >= p->len || p->s[p->i] != '"')
			return fail(p, "expected a member name (a string)");
		if (string(p) != 0)
			return -1;
		ws(p);
		if (p->i >= p->len || p->s[p->i] != ':')
			return fail(p, "expected ':'");
		put(p, p->s[p->i++]);
		ws(p);
		if (value(p, depth) != 0)
			return -1;
		ws(p);
		if (p->i >= p->len)
			return fail(p, "unterminated object");
		char c = p->s[p->i];
		if (c == '}') {
			put(p, p->s[p->i++]);
			return 0;
		}
		if (c != ',')
			return fail(p, "expected ',' or '}'");
		put(p, p->s[p->i++]);
		ws(p);
	}
}

static int
array(jp *p, int depth)
{
	if (depth > LS_INGESTBODY_DEPTH)
		return fail(p, "nested too deeply");
	put(p, p->s[p->i++]);
	ws(p);
	if (p->i < p->len && p->s[p->i] == ']') {
		put(p, p->s[p->i++]);
		return 0;
	}
	for (;;) {
		if (value(p, depth) != 0)
			return -1;
		ws(p);
		if (p->i >= p->len)
			return fail(p, "unterminated array");
		char c = p->s[p->i];
		if (c == ']') {
			put(p, p->s[p->i++]);
			return 0;
		}
		if (c != ',')
			return fail(p, "expected ',' or ']'");
		put(p, p->s[p->i++]);
		ws(p);
	}
}

static int
value(jp *p, int depth)
{
	if (p->i >= p->len)
		return fail(p, "expected a value");
	char c = p->s[p->i];
	switch (c) {
	case '{':
		return object(p, depth + 1);
	case '[':
		return array(p, depth + 1);
	case '"':
		return string(p);
	case 't':
		return literal(p, "true");
	case 'f':
		return literal(p, "false");
	case 'n':
		return literal(p, "null");
	default:
		if (c == '-' || is_digit(c))
			return number(p);
		return fail(p, "unexpected character");
	}
}

/* One event: an object at p->i, written after a separator. */
static int
event(jp *p, uint32_t *n)
{
	if (*n > 0)
		put(p, '\n');
	if (object(p, 1) != 0)
		return -1;
	(*n)++;
	return 0;
}

static int
parse_json(jp *p, uint32_t *n)
{
	ws(p);
	if (p->i >= p->len)
		return fail(p, "no JSON value in the body");
	if (p->s[p->i] == '[') {
		p->i++;
		ws(p);
		if (p->i < p->len && p->s[p->i] == ']')
			p->i++;
		else
			for (;;) {
				if (p->i >= p->len)
					return fail(p, "unterminated array");
				if (p->s[p->i] != '{')
					return fail(p, "an element of the array is "
					               "not an object");
				if (event(p, n) != 0)
					return -1;
				ws(p);
				if (p->i >= p->len)
					return fail(p, "unterminated array");
				if (p->s[p->i] == ']') {
					p->i++;
					break;
				}
				if (p->s[p->i] != ',')
					return fail(p, "expected ',' or ']'");
				p->i++;
				ws(p);
			}
		ws(p);
		if (p->i < p->len)
			return fail(p, "text after the array");
		return 0;
	}
	while (p->i < p->len) {
		if (p->s[p->i] != '{')
			return fail(p, "expected a JSON object (one event, an "
			               "array of them, or one per line)");
		if (event(p, n) != 0)
			return -1;
		ws(p);
	}
	return 0;
}

static void
parse_text(jp *p, uint32_t *n)
{
	while (p->i < p->len) {
		const char *b = p->s + p->i;
		const char *nl = memchr(b, '\n', p->len - p->i);
		size_t l = nl != NULL ? (size_t)(nl - b) : p->len - p->i;
		p->i += l + (nl != NULL);
		if (l > 0 && b[l - 1] == '\r')
			l--;
		size_t k = 0;
		while (k < l && (b[k] == ' ' || b[k] == '\t'))
			k++;
		if (k == l)
			continue; /* blank */
		if (*n > 0)
			put(p, '\n');
		memcpy(p->o + p->on, b, l);
		p->on += l;
		(*n)++;
	}
}

/* Line and column (1-based, columns in bytes) of offset at in s. */
static void
line_col(const char *s, size_t at, size_t *line, size_t *col)
{
	*line = 1;
	size_t start = 0;
	for (size_t i = 0; i < at; i++)
		if (s[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = at - start + 1;
}

int
ls_ingestbody_parse(int form, const char *body, size_t len, char **out,
    size_t *outlen, uint32_t *n, char *why, size_t whylen)
{
	*out = NULL;
	*outlen = 0;
	*n = 0;
	if (whylen > 0)
		why[0] = '\0';
	if (form != LS_INGESTBODY_JSON && form != LS_INGESTBODY_TEXT &&
	    form != LS_INGESTBODY_AUTO)
		return LS_EINVAL;
	if (len > SIZE_MAX / 2 - 16 || (body == NULL && len > 0))
		return LS_EINVAL;
	if (len == 0) {
		snprintf(why, whylen, "empty body");
		return LS_EPARSE;
	}
	if (form == LS_INGESTBODY_AUTO) {
		size_t k = 0;
		while (k < len && (body[k] == ' ' || body[k] == '\t' ||
		                      body[k] == '\n' || body[k] == '\r'))
			k++;
		form = k < len && (body[k] == '{' || body[k] == '[')
		    ? LS_INGESTBODY_JSON
		    : LS_INGESTBODY_TEXT;
	}
	jp p = { body, len, 0, malloc(len + len / 2 + 16), 0, NULL, 0 };
	if (p.o == NULL)
		return LS_ENOMEM;
	uint32_t cnt = 0;
	if (form == LS_INGESTBODY_TEXT)
		parse_text(&p, &cnt);
	else if (parse_json(&p, &cnt) != 0) {
		size_t line, col;
		line_col(body, p.err_at, &line, &col);
		snprintf(why, whylen, "bad JSON at line %zu, column %zu: %s",
		    line, col, p.err);
		free(p.o);
		return LS_EPARSE;
	}
	if (cnt == 0) {
		free(p.o);
		return 0;
	}
	*out = p.o;
	*outlen = p.on;
	*n = cnt;
	return 0;
}

/* Does the media type of ct (before any ';', blanks trimmed) equal t? */
static int
type_is(const char *ct, const char *t)
{
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t l = strcspn(ct, ";");
	while (l > 0 && (ct[l - 1] == ' ' || ct[l - 1] == '\t'))
		l--;
	return l == strlen(t) && strncasecmp(ct, t, l) == 0;
}

int
ls_ingestbody_form(const char *ct)
{
	static const char *const json[] = { "application/json",
		"application/x-ndjson", "application/ndjson", "application/jsonl",
		"application/x-jsonlines", "application/jsonlines" };
	if (ct == NULL || type_is(ct, "") ||
	    type_is(ct, "application/x-www-form-urlencoded") ||
	    type_is(ct, "application/octet-stream"))
		return LS_INGESTBODY_AUTO;
	for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++)
		if (type_is(ct, json[i]))
			return LS_INGESTBODY_JSON;
	if (type_is(ct, "text/plain"))
		return LS_INGESTBODY_TEXT;
	return -1;
}
