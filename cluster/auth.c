/*
 * auth.c -- bearer tokens of the HTTP API: the token file parser and the
 * constant-time check.  See auth.h.
 */
#include "cluster/auth.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "runtime/err.h"

typedef struct entry {
	uint8_t digest[32];
	ls_scope scope;
} entry;

struct ls_auth {
	entry *e;
	size_t n;
	char *internal; /* the first internal token, for our own requests */
};

static const char *const scope_names[] = {"none", "read", "write", "admin",
                                          "internal"};

const char *
ls_scope_name(ls_scope s)
{
	return (unsigned)s <= LS_SCOPE_INTERNAL ? scope_names[s] : "none";
}

static int
fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static void
digest(const char *tok, size_t len, uint8_t out[32])
{
	(void)mbedtls_sha256_ret((const unsigned char *)tok, len, out, 0);
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

void
ls_auth_free(ls_auth *a)
{
	if (a == NULL)
		return;
	if (a->internal != NULL) {
		mbedtls_platform_zeroize(a->internal, strlen(a->internal));
		free(a->internal);
	}
	free(a->e);
	free(a);
}

int
ls_auth_parse(const char *text, size_t len, const char *name,
              ls_auth **out, char *err, size_t errlen)
{
	if ((text == NULL && len > 0) || out == NULL)
		return LS_EINVAL;
	if (name == NULL)
		name = "token file";
	if (len > LS_AUTH_MAX_FILE)
		return fail(err, errlen, LS_ERANGE,
		            "%s: larger than %zu bytes", name,
		            LS_AUTH_MAX_FILE);
	ls_auth *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return LS_ENOMEM;
	size_t cap = 0, line = 0;
	int rv = LS_OK;
	const char *p = text, *end = text + len;
	while (p < end) {
		line++;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		const char *s = p;
		p = eol + 1;
		while (s < eol && is_blank(*s))
			s++;
		if (s == eol || *s == '#')
			continue;
		/* fields: scope, token; nothing after */
		const char *f[3] = {NULL, NULL, NULL};
		size_t fl[3] = {0, 0, 0};
		int nf = 0;
		while (s < eol && nf < 3) {
			f[nf] = s;
			while (s < eol && !is_blank(*s))
				s++;
			fl[nf] = (size_t)(s - f[nf]);
			nf++;
			while (s < eol && is_blank(*s))
				s++;
		}
		if (nf != 2) {
			rv = fail(err, errlen, LS_EPARSE,
			          "%s:%zu: want `SCOPE TOKEN` (%s)", name, line,
			          nf < 2 ? "no token" : "more than two fields");
			goto bad;
		}
		ls_scope sc = LS_SCOPE_NONE;
		for (int i = LS_SCOPE_READ; i <= LS_SCOPE_INTERNAL; i++)
			if (fl[0] == strlen(scope_names[i]) &&
			    strncmp(f[0], scope_names[i], fl[0]) == 0)
				sc = (ls_scope)i;
		if (sc == LS_SCOPE_NONE) {
			rv = fail(err, errlen, LS_EPARSE,
			          "%s:%zu: unknown scope '%.*s' (want read, "
			          "write, admin or internal)",
			          name, line, (int)(fl[0] > 32 ? 32 : fl[0]),
			          f[0]);
			goto bad;
		}
		if (fl[1] < LS_AUTH_MIN_TOKEN || fl[1] > LS_AUTH_MAX_TOKEN) {
			rv = fail(err, errlen, LS_EPARSE,
			          "%s:%zu: a token is %d to %d characters (this "
			          "one has %zu)",
			          name, line, LS_AUTH_MIN_TOKEN,
			          LS_AUTH_MAX_TOKEN, fl[1]);
			goto bad;
		}
		for (size_t i = 0; i < fl[1]; i++) {
			unsigned char c = (unsigned char)f[1][i];
			if (c <= ' ' || c >= 0x7f) {
				rv = fail(err, errlen, LS_EPARSE,
				          "%s:%zu: a token is printable ASCII "
				          "(character %zu is not)",
				          name, line, i + 1);
				goto bad;
			}
		}
		if (a->n == LS_AUTH_MAX_TOKENS) {
			rv = fail(err, errlen, LS_ERANGE,
			          "%s:%zu: more than %d tokens", name, line,
			          LS_AUTH_MAX_TOKENS);
			goto bad;
		}
		uint8_t d[32];
		digest(f[1], fl[1], d);
		for (size_t i = 0; i < a->n; i++) {
			if (memcmp(a->e[i].digest, d, 32) == 0) {
				rv = fail(err, errlen, LS_EPARSE,
				          "%s:%zu: this token is already given "
				          "(each token has one scope)",
				          name, line);
				goto bad;
			}
		}
		if (a->n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			entry *ne = realloc(a->e, nc * sizeof(*ne));
			if (ne == NULL) {
				rv = LS_ENOMEM;
				goto bad;
			}
			a->e = ne;
			cap = nc;
		}
		memcpy(a->e[a->n].digest, d, 32);
		a->e[a->n].scope = sc;
		a->n++;
		if (sc == LS_SCOPE_INTERNAL && a->internal == NULL) {
			if ((a->internal = malloc(fl[1] + 1)) == NULL) {
				rv = LS_ENOMEM;
				goto bad;
			}
			memcpy(a->internal, f[1], fl[1]);
			a->internal[fl[1]] = '\0';
		}
	}
	if (a->internal == NULL) {
		rv = fail(err, errlen, LS_EPARSE,
		          "%s:%zu: no `internal` token (the nodes send one "
		          "with their own requests)",
		          name, line > 0 ? line : 1);
		goto bad;
	}
	*out = a;
	return LS_OK;
bad:
	ls_auth_free(a);
	return rv;
}

int
ls_auth_load(const char *path, ls_auth **out, char *err, size_t errlen)
{
	if (path == NULL || out == NULL)
		return LS_EINVAL;
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return fail(err, errlen, LS_EIO, "%s: %s", path,
		            strerror(errno));
	char *buf = malloc(LS_AUTH_MAX_FILE + 1);
	size_t n = buf != NULL ? fread(buf, 1, LS_AUTH_MAX_FILE + 1, fp) : 0;
	int bad = ferror(fp);
	fclose(fp);
	if (buf == NULL)
		return LS_ENOMEM;
	int rv = bad ? fail(err, errlen, LS_EIO, "%s: read error", path)
	             : ls_auth_parse(buf, n, path, out, err, errlen);
	mbedtls_platform_zeroize(buf, n);
	free(buf);
	return rv;
}

size_t
ls_auth_count(const ls_auth *a)
{
	return a != NULL ? a->n : 0;
}

ls_scope
ls_auth_scope(const ls_auth *a, const char *token, size_t len)
{
	if (a == NULL || token == NULL || len > LS_AUTH_MAX_TOKEN)
		return LS_SCOPE_NONE;
	uint8_t d[32];
	digest(token, len, d);
	unsigned found = 0;
	for (size_t i = 0; i < a->n; i++) {
		unsigned diff = 0;
		for (int k = 0; k < 32; k++)
			diff |= (unsigned)(a->e[i].digest[k] ^ d[k]);
		/* mask = all ones when diff == 0, without a branch */
		unsigned mask = (unsigned)(((diff | (0u - diff)) >> 31) - 1u);
		found |= mask & (unsigned)a->e[i].scope;
	}
	return (ls_scope)found; /* tokens are unique: at most one matched */
}

const char *
ls_auth_internal_token(const ls_auth *a)
{
	return a != NULL ? a->internal : NULL;
}

ls_scope
ls_auth_required(const char *method, const char *path)
{
	if (path != NULL && strncmp(path, "/v1/internal/", 13) == 0)
		return LS_SCOPE_INTERNAL;
	if (method != NULL &&
	    (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
		return LS_SCOPE_READ;
	return LS_SCOPE_WRITE;
}

int
ls_auth_check(const ls_auth *a, const char *authorization, ls_scope need,
              const char **why)
{
	static const char *dummy;
	if (why == NULL)
		why = &dummy;
	*why = "";
	if (a == NULL || need == LS_SCOPE_NONE)
		return 0;
	if (authorization == NULL) {
		*why = "missing bearer token (Authorization: Bearer TOKEN)";
		return 401;
	}
	const char *v = authorization;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, "Bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t')) {
		*why = "the Authorization header is not `Bearer TOKEN`";
		return 401;
	}
	v += 7;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	ls_scope have = ls_auth_scope(a, v, n);
	if (have == LS_SCOPE_NONE) {
		*why = "unknown token";
		return 401;
	}
	if (need == LS_SCOPE_INTERNAL && have != LS_SCOPE_INTERNAL) {
		*why = "internal endpoints take only the cluster's internal "
		       "token";
		return 403;
	}
	if (have < need) {
		static const char *const need_text[] = {
		    "", "this endpoint needs the read scope",
		    "this endpoint needs the write scope",
		    "this endpoint needs the admin scope", ""};
		*why = need_text[need];
		return 403;
	}
	return 0;
}
