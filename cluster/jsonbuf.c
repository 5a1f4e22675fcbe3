/*
 * jsonbuf.c -- growable text buffer and JSON string quoting (see
 * jsonbuf.h).
 */
#include "cluster/jsonbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ls_jsonbuf_printf(ls_jsonbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		if (b->oom)
			return;
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, room, fmt,
		    ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = (b->cap + (size_t)n + 64) * 2;
		char *np = realloc(b->p, nc);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

void
ls_jsonbuf_str(ls_jsonbuf *b, const char *s)
{
	ls_jsonbuf_printf(b, "\"");
	for (; s != NULL && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			ls_jsonbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			ls_jsonbuf_printf(b, "\\u%04x", c);
		else
			ls_jsonbuf_printf(b, "%c", c);
	}
	ls_jsonbuf_printf(b, "\"");
}

void
ls_jsonbuf_fini(ls_jsonbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
