/*
 * patterns.h -- an online log template miner (docs/patterns.md).
 *
 * Each message is split into tokens at white space (and NUL); a token
 * holding a digit, a path (two slashes or more), or a month or weekday
 * name is a variable and stands for the wildcard "<*>".  Messages go to a
 * leaf of a fixed-depth parse tree -- here one hash table whose key is the
 * number of tokens and the first depth - 2 tokens (Drain's tree,
 * flattened) -- and in that leaf to the template they are most similar
 * to: the share of the template's tokens they repeat literally at the
 * same place, not counting the places where both have a variable.  At or
 * above the similarity threshold the template takes the message, and its
 * tokens that differ become wildcards, else the message starts a new
 * template.  A cache of the masked token sequences seen before finds most
 * messages' template without a leaf search.  Work per message is linear
 * in its length, plus one comparison per template of its leaf when the
 * cache misses.
 *
 * Memory is bounded: at most max_templates templates (the least recently
 * used one is forgotten to make room), a message counts for its first
 * LS_PATTERNS_MAX_BYTES bytes and LS_PATTERNS_MAX_TOKENS tokens.
 *
 * A template's id is assigned when it is created (XXH3-64 of its text
 * then) and never changes, however much the template generalises later;
 * it is saved with the template, so it survives a restore.
 *
 * An ls_patterns is not thread-safe: one owner (an actor partition) at a
 * time.
 */
#ifndef LS_ACTORS_PATTERNS_H
#define LS_ACTORS_PATTERNS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/event.h"

#define LS_PATTERNS_MAX_TOKENS 128
#define LS_PATTERNS_MAX_BYTES 4096
#define LS_PATTERNS_WILDCARD "<*>"

typedef struct ls_patterns ls_patterns;

typedef struct ls_patterns_cfg {
	uint32_t max_templates; /* >= 1 */
	uint32_t depth;         /* >= 2: leaves key on depth - 2 tokens */
	double similarity;      /* (0, 1]: threshold to join a template */
} ls_patterns_cfg;

/* The defaults: 10,000 templates, depth 4, similarity 0.7. */
void ls_patterns_cfg_default(ls_patterns_cfg *cfg);

/* What one message matched.  template and params borrow from the miner
 * and the message: valid until the next call on the miner. */
typedef struct ls_patterns_match {
	uint64_t id;
	uint64_t count;       /* messages the template took, this one too */
	int is_new;           /* the message created the template */
	const char *tmpl;     /* template text, tokens joined by one space */
	size_t tmpl_len;
	const ls_str *params; /* the message's tokens at the wildcards */
	uint32_t nparams;
} ls_patterns_match;

/* A template, as listed by ls_patterns_each. */
typedef struct ls_patterns_info {
	uint64_t id;
	uint64_t count;
	const char *tmpl;
	size_t tmpl_len;
} ls_patterns_info;

/* A new, empty miner into *out.  LS_EINVAL for a bad cfg, LS_ENOMEM. */
int ls_patterns_new(ls_patterns **out, const ls_patterns_cfg *cfg);

/* Free p and everything it holds (NULL is fine). */
void ls_patterns_free(ls_patterns *p);

/* Learn from one message (msg[0..len), borrowed) and say which template
 * it belongs to in *m.  LS_EINVAL for a message with no token (empty or
 * only blanks); LS_ENOMEM (the message is not counted; a template may
 * have been forgotten to make room). */
int ls_patterns_add(ls_patterns *p, const char *msg, size_t len,
    ls_patterns_match *m);

/* Templates held now. */
uint32_t ls_patterns_size(const ls_patterns *p);

/* Call fn for every template, least recently used first. */
void ls_patterns_each(const ls_patterns *p,
    void (*fn)(void *arg, const ls_patterns_info *t), void *arg);

/* ---- state ----
 *
 * One template's record (the value of its keyed-state key, and an entry
 * of a snapshot), little endian:
 *
 *   offset  size  field
 *   0       1     version, 1
 *   1       8     id
 *   9       8     count
 *   17      8     last use (the miner's message sequence number)
 *   25      8     leaf key (of the tokens it was created from)
 *   33      T     template text: 1..LS_PATTERNS_MAX_TOKENS tokens, each
 *                 without blanks, joined by one space
 *
 * A snapshot (ls_patterns_save):
 *
 *   offset  size  field
 *   0       4     "LSPT"
 *   4       4     n, templates (u32)
 *   8       ...   n x { u32 length, template record }
 */
#define LS_PATTERNS_REC_HDR 33

/* Visit the templates changed since the last call (all = 1: every one) as
 * records (put) and those forgotten since (rec NULL: delete).  Forgotten
 * ones come first.  The record is borrowed for the call; fn returns 0 or
 * an error that stops the walk and is returned.  Clears the change
 * marks only when every call succeeded. */
int ls_patterns_changes(ls_patterns *p, int all,
    int (*fn)(void *arg, uint64_t id, const uint8_t *rec, size_t len),
    void *arg);

/* Replace p's templates with those of the records given (each borrowed),
 * as read back from keyed state.  LS_ECORRUPT for a malformed record or
 * two with the same id (p is then emptied), LS_ENOMEM.  Beyond
 * max_templates the least recently used are forgotten. */
int ls_patterns_load_records(ls_patterns *p, const uint8_t *const *recs,
    const size_t *lens, size_t n);

/* A snapshot of every template into a malloc'd *buf. */
int ls_patterns_save(const ls_patterns *p, uint8_t **buf, size_t *len);

/* Replace p's templates with a snapshot's (borrowed).  LS_ECORRUPT for a
 * malformed one (p is then emptied), LS_ENOMEM. */
int ls_patterns_load(ls_patterns *p, const uint8_t *buf, size_t len);

#endif /* LS_ACTORS_PATTERNS_H */
