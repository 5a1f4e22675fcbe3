/*
 * jsonbuf.h -- a growable text buffer with printf-style appending and JSON
 * string quoting, for the JSON and text answers of the HTTP API
 * (cluster/api.c).
 *
 * Out of memory sticks: once an append cannot grow the buffer, `oom` is
 * set and every later append does nothing, so a handler builds its whole
 * answer and checks `oom` once at the end.  What was appended before the
 * failure stays in p[0..len), and `p` must be freed either way
 * (ls_jsonbuf_fini).
 *
 * Threads: a buffer belongs to one thread at a time.
 */
#ifndef LS_CLUSTER_JSONBUF_H
#define LS_CLUSTER_JSONBUF_H

#include <stddef.h>

/* Zero-initialise ({ 0 }) before the first append.  p is NULL until the
 * first append; after each successful one it holds len bytes and a NUL
 * (cap bytes allocated). */
typedef struct ls_jsonbuf {
	char *p;
	size_t len, cap;
	int oom; /* an append failed: the content is incomplete */
} ls_jsonbuf;

/* Append printf(fmt, ...) to b, growing it as needed.  On a failed
 * allocation or an encoding error sets b->oom and appends nothing. */
void ls_jsonbuf_printf(ls_jsonbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append s as a quoted JSON string: '"' and '\\' are backslash-escaped,
 * bytes below 0x20 written \u00XX, every other byte (UTF-8 included)
 * copied as it is; s == NULL is written "".  Borrows s.  Unlike
 * actors/sinkfmt.h's escaping it does not check UTF-8: the names and
 * addresses it quotes were checked where they entered the map. */
void ls_jsonbuf_str(ls_jsonbuf *b, const char *s);

/* Free b's memory and zero it (reusable after). */
void ls_jsonbuf_fini(ls_jsonbuf *b);

#endif /* LS_CLUSTER_JSONBUF_H */
