/*
 * auth_fuzz.c -- fuzz driver for the token file parser (cluster/auth.h):
 * `--token-file` is text an operator writes, so every byte sequence must
 * be accepted or refused with a "NAME:LINE: reason", never crash.
 *
 * Properties: the parser is checked against a reference reading of the
 * same text written here (lines split at '\n', blanks are ' ', '\t' and
 * '\r', '#' starts a comment line).  An accepted file has exactly the
 * reference's tokens, each found with its own scope (and a token one byte
 * off is not); a refused one names the file and a line not past the
 * text's last.  The input is also checked as an Authorization header
 * against the accepted tokens (0, 401 or 403, nothing else).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/auth.h"
#include "fuzz_check.h"
#include "runtime/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static ls_scope
scope_of(const char *s, size_t n)
{
	static const char *const names[] = {"read", "write", "admin",
	                                    "internal"};
	for (int i = 0; i < 4; i++)
		if (strlen(names[i]) == n && memcmp(s, names[i], n) == 0)
			return (ls_scope)(i + 1);
	return LS_SCOPE_NONE;
}

/* Check every token line of text against a: its scope is found. */
static size_t
check_lines(const ls_auth *a, const char *text, size_t len)
{
	size_t tokens = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		const char *s = p;
		p = eol + 1;
		while (s < eol && blank(*s))
			s++;
		if (s == eol || *s == '#')
			continue;
		const char *sc = s;
		while (s < eol && !blank(*s))
			s++;
		size_t scl = (size_t)(s - sc);
		while (s < eol && blank(*s))
			s++;
		const char *tok = s;
		while (s < eol && !blank(*s))
			s++;
		size_t tl = (size_t)(s - tok);
		while (s < eol && blank(*s))
			s++;
		FUZZ_ASSERT(s == eol); /* accepted: two fields */
		ls_scope want = scope_of(sc, scl);
		FUZZ_ASSERT(want != LS_SCOPE_NONE);
		FUZZ_ASSERT(tl >= LS_AUTH_MIN_TOKEN && tl <= LS_AUTH_MAX_TOKEN);
		FUZZ_ASSERT(ls_auth_scope(a, tok, tl) == want);
		/* a prefix of a token is no token (tokens are >= 16 long, so
		 * the prefix is too short to be another one) */
		FUZZ_ASSERT(ls_auth_scope(a, tok, tl - 1) == LS_SCOPE_NONE ||
		            tl - 1 >= LS_AUTH_MIN_TOKEN);
		tokens++;
	}
	return tokens;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	ls_auth *a = NULL;
	char err[512] = "";
	int rc = ls_auth_parse(copy, size, "tokens", &a, err, sizeof(err));
	if (rc == 0) {
		FUZZ_ASSERT(a != NULL);
		size_t n = check_lines(a, copy, size);
		FUZZ_ASSERT(n == ls_auth_count(a));
		const char *it = ls_auth_internal_token(a);
		FUZZ_ASSERT(it != NULL);
		FUZZ_ASSERT(ls_auth_scope(a, it, strlen(it)) ==
		            LS_SCOPE_INTERNAL);
	} else {
		FUZZ_ASSERT(a == NULL);
		FUZZ_ASSERT(rc == LS_EPARSE || rc == LS_ERANGE);
		FUZZ_ASSERT(strncmp(err, "tokens:", 7) == 0);
		if (rc == LS_EPARSE) {
			size_t lines = 1;
			for (size_t i = 0; i < size; i++)
				lines += copy[i] == '\n';
			unsigned long ln = strtoul(err + 7, NULL, 10);
			FUZZ_ASSERT(ln >= 1 && ln <= lines);
		}
	}
	/* the input as an Authorization header */
	char *hdr = malloc(size + 1);
	if (hdr != NULL) {
		memcpy(hdr, data, size);
		hdr[size] = '\0';
		for (int need = LS_SCOPE_READ; need <= LS_SCOPE_INTERNAL;
		     need++) {
			const char *why = NULL;
			int st = ls_auth_check(a, hdr, (ls_scope)need, &why);
			FUZZ_ASSERT(st == 0 || st == 401 || st == 403);
			FUZZ_ASSERT(why != NULL);
			FUZZ_ASSERT(a != NULL || st == 0);
		}
		free(hdr);
	}
	ls_auth_free(a);
	free(copy);
	return 0;
}
