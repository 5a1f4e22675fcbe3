/*
 * index.h -- a full-text index of log events: the state of one partition
 * of an `index` stage (actors/index_actor.c), and the offline index of
 * `logstream search --file`.
 *
 * Documents are events reduced to a time, a caller's key (ties in ranking
 * are broken by it, smallest first), a text (the message, or the raw line)
 * and named fields.  The text is tokenized (docs/search.md, "Tokens"):
 * lower-cased runs of word characters, each a position, and also whole
 * IPv4 addresses, dashed ids (blk_-123) and paths (/a/b) at the position
 * of their first word.  Each field is one term `name:value` (lower-cased).
 * Postings are positional and kept in docid order, in blocks of
 * LS_INDEX_BLOCK postings with the largest term frequency and the shortest
 * document of the block, so that top-k search skips blocks whose best
 * possible score cannot enter the top k (block-max pruning).
 *
 * An index is a list of segments in document order: sealed ones, which
 * never change again, and at most one open segment taking new documents.
 * A segment's persistent form is its documents (ls_index_seg_encode); its
 * postings are rebuilt when it is loaded.  Segments are merged by size and
 * dropped whole by time (retention).
 *
 * Ranking is BM25 over the text (k1 = 1.2, b = 0.75, Lucene's IDF
 * log(1 + (N - n + 0.5) / (n + 0.5))) with the statistics N, the total
 * length and each term's document frequency passed in (ls_index_stats), so
 * a coordinator can rank every shard with the statistics of all shards and
 * the ranking does not depend on the number of shards.
 *
 * An ls_index is used by one thread at a time and locks nothing.  A query
 * (ls_index_query) is immutable once parsed and may be shared.
 */
#ifndef LS_ACTORS_INDEX_H
#define LS_ACTORS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/event.h"

#define LS_INDEX_BLOCK 128        /* postings per block of skip data */
#define LS_INDEX_TOKEN_MAX 255    /* longer tokens are not indexed */
#define LS_INDEX_QUERY_MAX 4096   /* bytes of a query */
#define LS_INDEX_MAX_NODES 256    /* terms, phrases and operators */
#define LS_INDEX_MAX_TERMS 64     /* distinct scoring terms of a query */
#define LS_INDEX_MAX_FIELDS 24    /* fields of a document */
#define LS_INDEX_MAX_K 10000      /* hits of one search */
#define LS_INDEX_K1 1.2
#define LS_INDEX_B 0.75

/* ---- tokens ---- */

/* One token of a text: its bytes are text[off, off + len) lower-cased;
 * pos is the number of word tokens before it (composite tokens share the
 * position of their first word). */
typedef struct ls_index_token {
	uint32_t off, len, pos;
	uint8_t composite; /* 1: an IPv4 address, dashed id or path */
} ls_index_token;

/* Receives each token of a text, in order of offset for words; a
 * composite token comes after the word it starts with.  lower holds the
 * token's lower-cased bytes (len of them, valid during the call).
 * Non-zero stops the walk. */
typedef int (*ls_index_token_fn)(void *arg, const ls_index_token *t,
    const char *lower);

/* Tokenize text (borrowed); returns the number of word tokens (the
 * document length), or the callback's non-zero value negated when it
 * stopped the walk. */
long ls_index_tokenize(const char *text, size_t len, ls_index_token_fn fn,
    void *arg);

/* ---- documents and the index ---- */

typedef struct ls_index_doc {
	int64_t time_ns;
	uint64_t key;    /* ties in ranking: smaller first; must not decrease
	                    from one added document to the next */
	ls_str text;     /* borrowed; copied by ls_index_add */
	const ls_attr *fields; /* borrowed; name and value copied */
	uint32_t nfields;      /* <= LS_INDEX_MAX_FIELDS */
} ls_index_doc;

typedef struct ls_index ls_index;

/* A new empty index.  LS_ENOMEM. */
int ls_index_new(ls_index **out);

/* Free the index and everything it holds; NULL is a no-op. */
void ls_index_free(ls_index *ix);

/* Add one document to the open segment (opened when there is none).
 * 0; LS_EINVAL (too many fields, a field name or value, or the text,
 * longer than 64 KiB - 1 for names, 16 MiB for the rest, a key below the
 * previous one); LS_ENOMEM (the index is unchanged). */
int ls_index_add(ls_index *ix, const ls_index_doc *d);

typedef struct ls_index_info {
	uint64_t docs;      /* documents held */
	uint64_t total_len; /* sum of their lengths in word tokens */
	uint64_t terms;     /* terms, summed over segments */
	uint64_t postings;
	uint64_t mem_bytes; /* bytes allocated (capacities included) */
	uint32_t segments;  /* the open one included */
	uint64_t next_seq;  /* sequence number of the next document */
	int64_t max_time_ns; /* newest document time (INT64_MIN: none) */
} ls_index_info;

void ls_index_get_info(const ls_index *ix, ls_index_info *out);

/* The sequence number the next added document gets (cheap). */
uint64_t ls_index_next_seq(const ls_index *ix);

/* ---- segments ---- */

typedef struct ls_index_seg_info {
	uint64_t base;  /* sequence number of its first document: its id */
	uint32_t docs;
	int64_t min_time_ns, max_time_ns;
	uint8_t open;   /* takes new documents */
	uint8_t dirty;  /* changed since the last ls_index_changes */
} ls_index_seg_info;

/* Number of segments, and the i-th (in document order). */
uint32_t ls_index_nsegs(const ls_index *ix);
void ls_index_seg(const ls_index *ix, uint32_t i, ls_index_seg_info *out);

/* Seal the open segment (no-op without one); the next add opens a new
 * one. */
void ls_index_seal(ls_index *ix);

/* Merge sealed neighbours while the older of the last two holds at most
 * twice the documents of the newer and both together at most max_docs
 * (so a stream of small segments becomes O(log n) segments).  Returns the
 * number of merges, or a negative LS_E* code (-LS_ENOMEM: nothing changed
 * by the failing merge). */
int ls_index_merge(ls_index *ix, uint32_t max_docs);

/* Drop every sealed segment whose newest document is older than
 * cutoff_ns.  Returns the number dropped. */
uint32_t ls_index_expire(ls_index *ix, int64_t cutoff_ns);

/* The persistent form of sealed segment i, malloc'd into *buf:
 *
 *   offset  size  field
 *   0       4     "LSIS"
 *   4       1     version, 1
 *   5       8     base (u64 little endian)
 *   13      4     n, documents (u32 little endian)
 *   17      ...   n x { i64 time, u64 key, u32 text length, text,
 *                 u8 fields, fields x { u16 name length, name,
 *                 u32 value length, value } }   (little endian)
 *
 * LS_EINVAL for the open segment or i out of range; LS_ENOMEM. */
int ls_index_seg_encode(const ls_index *ix, uint32_t i, uint8_t **buf,
    size_t *len);

/* Insert a sealed segment from its persistent form (borrowed), rebuilding
 * its postings, at its place by base.  LS_ECORRUPT for anything malformed
 * or a segment overlapping one held; LS_ENOMEM; the index is unchanged on
 * error. */
int ls_index_seg_decode(ls_index *ix, const void *buf, size_t len);

/* Receives a change since the previous walk: a segment to write (buf) or
 * one to delete (buf NULL), by base.  Non-zero stops the walk. */
typedef int (*ls_index_change_fn)(void *arg, uint64_t base,
    const uint8_t *buf, size_t len);

/* Walk the bases of segments removed since the last walk (merged away or
 * expired), then the sealed segments that changed (all: every sealed
 * segment), then forget the changes.  On error (the
 * callback's value, or LS_ENOMEM) nothing is forgotten. */
int ls_index_changes(ls_index *ix, int all, ls_index_change_fn fn,
    void *arg);

/* ---- queries ---- */

typedef struct ls_index_query ls_index_query;

/* Parse a query (docs/search.md, "Query syntax"): words, "phrases",
 * field:value, prefix*, AND / OR / NOT (also -x) with parentheses, words
 * side by side meaning AND, `*` alone for every document.  0 and *out;
 * LS_EPARSE with a reason in err and the byte offset of the error in
 * *errpos (err may be NULL); LS_ENOMEM. */
int ls_index_query_parse(const char *q, size_t len, ls_index_query **out,
    char *err, size_t errlen, size_t *errpos);

void ls_index_query_free(ls_index_query *q);

/* The distinct scoring terms of q (words and words of phrases not under a
 * NOT), in the order statistics and scores use them. */
uint32_t ls_index_query_nterms(const ls_index_query *q);
const char *ls_index_query_term(const ls_index_query *q, uint32_t i);

/* Statistics for ranking: what ls_index_stats_add gathers from every
 * shard, summed. */
typedef struct ls_index_stats {
	uint64_t docs;
	uint64_t total_len;
	uint32_t nterms;
	uint64_t df[LS_INDEX_MAX_TERMS];
} ls_index_stats;

/* Zero *st for q. */
void ls_index_stats_init(ls_index_stats *st, const ls_index_query *q);

/* Add ix's document count, total length and document frequencies of q's
 * scoring terms to *st. */
void ls_index_stats_add(const ls_index *ix, const ls_index_query *q,
    ls_index_stats *st);

/* BM25 of one term: idf(df, docs) * tf / (tf + k1 (1 - b + b dl / avgdl)). */
double ls_index_bm25(const ls_index_stats *st, uint64_t df, uint32_t tf,
    uint32_t dl);

/* One hit.  Strings borrow from the index: valid until it next changes. */
typedef struct ls_index_hit {
	double score;
	uint64_t key;
	int64_t time_ns;
	ls_str text;
	uint32_t nfields;
	ls_attr fields[LS_INDEX_MAX_FIELDS];
} ls_index_hit;

/* What a search did: documents matching the query that were scored, and
 * those skipped by block-max pruning (a lower bound on the matches not
 * scored). */
typedef struct ls_index_search_info {
	uint64_t scored;
	uint64_t skipped_ranges;
} ls_index_search_info;

/* The k best documents (score descending, then key ascending) matching q
 * whose time is in [from_ns, to_ns), ranked with st.  hits has room for k
 * (<= LS_INDEX_MAX_K); *nhits set.  info may be NULL.  0; LS_EINVAL;
 * LS_ENOMEM. */
int ls_index_search(const ls_index *ix, const ls_index_query *q,
    const ls_index_stats *st, int64_t from_ns, int64_t to_ns, uint32_t k,
    ls_index_hit *hits, uint32_t *nhits, ls_index_search_info *info);

/* Hits compare: negative when a ranks before b. */
int ls_index_hit_cmp(const ls_index_hit *a, const ls_index_hit *b);

/* The byte spans of text matching q's positive words, phrases and
 * prefixes (highlights), in offset order, at most max: returns the number
 * found (may exceed max; only max written). */
typedef struct ls_index_span {
	uint32_t off, len;
} ls_index_span;

uint32_t ls_index_highlight(const ls_index_query *q, const char *text,
    size_t len, ls_index_span *spans, uint32_t max);

#endif /* LS_ACTORS_INDEX_H */
