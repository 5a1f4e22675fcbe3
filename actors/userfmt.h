/*
 * userfmt.h -- operator-defined log formats: regular expressions with named
 * captures (PCRE2, JIT-compiled when the platform allows) and a library of
 * grok-style named patterns usable as %{NAME} or %{NAME:field}.
 *
 * A topology declares them under `formats:` and names one in a parse
 * stage's `format:` (docs/topology.md); the syntax, the capture-to-field
 * mapping and the grok library are in docs/log-formats.md.  The pattern
 * searches the line (add ^ and $ to anchor it) and matches bytes, not
 * UTF-8 characters.
 */
#ifndef LS_USERFMT_H
#define LS_USERFMT_H

#include <stddef.h>

#include "runtime/arena.h"
#include "runtime/event.h"

typedef struct ls_userfmt ls_userfmt;

/* Compile pattern[0..len) (borrowed for the call) into a new format in
 * *out, freed with ls_userfmt_free().  Returns 0; LS_EPARSE for a bad
 * pattern, with a message (PCRE2's, or about a %{...} reference) written to
 * err and the byte offset in the pattern where it was found in *erroff
 * (both may be NULL / errlen 0); LS_ENOMEM. */
int ls_userfmt_compile(const char *pattern, size_t len, ls_userfmt **out,
                       char *err, size_t errlen, size_t *erroff);

/* Free a format; NULL is fine. */
void ls_userfmt_free(ls_userfmt *f);

/* Check that pattern[0..len) compiles, without keeping it: 0, or 1 with
 * the message in why and the offset in *erroff (the topology loader's
 * check, topology/kind.h). */
int ls_userfmt_check(const char *pattern, size_t len, char *why,
                     size_t whylen, size_t *erroff);

/* Match line[0..len) and fill *ev (cleared by the caller) from the named
 * captures: ts/time/timestamp -> time, level/severity/lvl -> level,
 * service/app/program -> service, host/hostname -> host, message/msg ->
 * message (the whole line when the pattern has none); every other capture
 * that took part becomes an attribute, its key copied into arena.  Strings
 * borrow from line.  Returns 0; LS_EPARSE with a static *reason when the
 * line does not match (or the match limit is hit); LS_ENOMEM.  f keeps the
 * match scratch: one thread at a time per format. */
int ls_userfmt_parse(const ls_userfmt *f, const char *line, size_t len,
                     ls_event *ev, ls_arena *arena, const char **reason);

/* The grok library: the number of named patterns, and pattern i's name
 * and definition (static strings; NULL past the end). */
size_t ls_userfmt_grok_count(void);
const char *ls_userfmt_grok_name(size_t i);
const char *ls_userfmt_grok_def(size_t i);

#endif /* LS_USERFMT_H */
