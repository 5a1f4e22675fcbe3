/*
 * query.h -- interactive queries over the HTTP API (docs/queries.md).
 *
 *   GET /v1/windows/{stage}?key=..&prefix=..&from=..&to=..&open=..&limit=..
 *   GET /v1/sessions/{stage}?(the same)
 *   GET /v1/internal/query?topology=..&stage=..&partition=..&(the same)
 *
 * Any node answers the first two: with a key (one key= per key field of
 * the stage, in order) the query goes to the owner of the partition that
 * holds the key (ls_plan_route_key, the data path's hash); without one, to
 * the owners of every partition, and the answers are merged
 * (ls_records_order, then the limit).  Owners are asked through the
 * internal endpoint, which answers from this node's partitions only
 * (ls_dataplane_query) with a RecordBatch; the node that took the request
 * retries on the new owner when placement changes, and answers 503 with
 * Retry-After while a partition is restoring.  The internal endpoint does
 * not look at the stage's kind: whatever the kind's query hook appends is
 * the answer (topology/kind.h); its q= is passed to the hook as the kind's
 * own query text, for routes of other kinds built on it.
 *
 * The query string is parsed strictly: percent-decoding ('+' is a space),
 * an unknown or repeated parameter (key aside), a value that does not
 * decode, a bad time or number are errors that name the parameter.
 */
#ifndef LS_CLUSTER_QUERY_H
#define LS_CLUSTER_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/jsonbuf.h"
#include "topology/kind.h"

/* Which parameters a route takes (ls_query_parse). */
#define LS_QUERY_PUBLIC 0x1u   /* key, prefix, from, to, open, limit, format,
                                  topology, timeout_ms */
#define LS_QUERY_INTERNAL 0x2u /* also stage and partition (required), q */
#define LS_QUERY_SEARCH 0x4u   /* GET /v1/search/STAGE (cluster/search.c):
                                  q, topology, from, to, limit, format,
                                  timeout_ms */

#define LS_QUERY_VALUE_MAX 4096 /* bytes of one decoded value */
#define LS_QUERY_NAME_MAX 128   /* topology / stage names */
#define LS_QUERY_LIMIT_DEFAULT 1000
#define LS_QUERY_LIMIT_MAX 1000000

/* A parsed query string.  Strings are decoded and NUL-terminated; key
 * values may hold any byte but NUL. */
typedef struct ls_query_params {
	char topology[LS_QUERY_NAME_MAX + 1]; /* "" when not given */
	char stage[LS_QUERY_NAME_MAX + 1];    /* internal only */
	uint32_t partition;                   /* internal only */
	uint32_t nkey;
	char key[LS_KIND_QUERY_MAX_KEYS][LS_QUERY_VALUE_MAX + 1];
	size_t key_len[LS_KIND_QUERY_MAX_KEYS];
	char prefix[LS_QUERY_VALUE_MAX + 1];
	size_t prefix_len;
	int64_t from_ns, to_ns; /* INT64_MIN / INT64_MAX when not given */
	uint32_t limit;         /* LS_QUERY_LIMIT_DEFAULT when not given */
	int open;               /* -1 not given, 0 closed only, 1 open only */
	int text;               /* format=text */
	int64_t timeout_ms;     /* how long to wait for owners; 0: default */
	char qtext[LS_QUERY_VALUE_MAX + 1]; /* internal q=: a kind's own query
	                                      text (ls_kind_query.text) */
	size_t qtext_len;
} ls_query_params;

/* Parse query string qs[0..len) (the text after '?', undecoded) for a
 * route of kind `route` (LS_QUERY_*).  Returns 0 and fills *out, or
 * LS_EINVAL with a reason naming the parameter in err (NUL-terminated).
 * Pure; any thread; qs need not be NUL-terminated. */
int ls_query_parse(const char *qs, size_t len, unsigned route,
    ls_query_params *out, char *err, size_t errlen);

/* A time parameter: RFC 3339 ("2024-03-01T00:00:00Z", fraction and zone
 * optional) or an integer of milliseconds since the epoch.  0 and *ns, or
 * LS_EINVAL.  Pure. */
int ls_query_time(const char *s, size_t len, int64_t *ns);

/* Append s[0..n) to b percent-encoded: every byte but the unreserved
 * characters of RFC 3986 (letters, digits, "-._~") as %XX. */
void ls_query_encode(ls_jsonbuf *b, const char *s, size_t n);

/* The kind query a partition is asked (strings borrowed from p). */
void ls_query_to_kind(const ls_query_params *p, ls_kind_query *q);

struct ls_node;
/* Register the query routes on n's HTTP server (cluster/api.c calls it). */
int ls__query_routes(struct ls_node *n);

#endif /* LS_CLUSTER_QUERY_H */
