/*
 * ingestbody.h -- the body of an HTTP `POST /v1/logs` request turned into
 * events (docs/http-ingest.md).
 *
 * Forms, chosen by the request's Content-Type (ls_ingestbody_form):
 *   JSON   one JSON object, an array of objects, or objects one after the
 *          other separated by white space (JSON lines)
 *   TEXT   plain text: every non-empty line is one event
 *   AUTO   no or a generic type (curl -d sends form-urlencoded): JSON when
 *          the first non-blank byte is '{' or '[', else TEXT
 *
 * Every JSON event is checked against RFC 8259 (nesting at most
 * LS_INGESTBODY_DEPTH deep) and written compacted -- white space outside
 * strings dropped -- so it is one line; the parse stage reads it like a
 * JSON line of a file.  A text line loses its CR before the LF.  The
 * events are joined by '\n' in one buffer: an event never contains a
 * newline.  Any byte sequence is safe input: a bad body yields an error
 * naming its line and column, never a partial result.
 *
 * Pure functions; any thread.
 */
#ifndef LS_ACTORS_INGESTBODY_H
#define LS_ACTORS_INGESTBODY_H

#include <stddef.h>
#include <stdint.h>

#define LS_INGESTBODY_DEPTH 64

enum { LS_INGESTBODY_JSON = 1, LS_INGESTBODY_TEXT, LS_INGESTBODY_AUTO };

/* The form for a Content-Type header value (NULL = absent; parameters
 * such as "; charset=utf-8" are ignored, case does not matter):
 * application/json, application/x-ndjson, application/jsonl,
 * application/x-jsonlines, application/ndjson -> JSON; text/plain -> TEXT;
 * absent, application/x-www-form-urlencoded, application/octet-stream ->
 * AUTO; anything else -1 (the request is refused with 415). */
int ls_ingestbody_form(const char *content_type);

/* The events of body[0..len) in form: on success 0, *out a new malloc'd
 * buffer (caller frees; NULL when there are no events) of *outlen bytes
 * holding the *n events separated by '\n' (no trailing newline).  On
 * LS_EPARSE why gets "line L, column C: reason" (or the reason alone);
 * LS_EINVAL for a bad form; LS_ENOMEM. */
int ls_ingestbody_parse(int form, const char *body, size_t len, char **out,
    size_t *outlen, uint32_t *n, char *why, size_t whylen);

#endif /* LS_ACTORS_INGESTBODY_H */
