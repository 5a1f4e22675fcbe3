/*
 * index_fuzz.c -- libFuzzer driver for the full-text index
 * (actors/index.h): its query parser and its segment decoder, the two
 * readers of outside input (a query from an HTTP request or the command
 * line; a segment from the state store or a standby's copy).
 *
 * Input: byte 0 chooses the mode (0 mod 3: a query, 1: a segment, 2: the
 * statistics a search over the cluster sends its shards, "docs total_len
 * df1,...\n" + query); bytes 1.. are the text or the encoded segment.
 *
 * Query: the parser either accepts, or refuses with LS_EPARSE, a reason
 * and a position within the query (at most its length); an accepted
 * query has at most LS_INDEX_MAX_TERMS scoring terms, searches a small
 * index (every hit matching is not checked here: index_test does that)
 * with hits in rank order, and its highlights lie inside the text.
 *
 * Segment: decoding gives 0 or LS_ECORRUPT and nothing else; a decoded
 * segment encodes back to the same bytes and answers a query.
 *
 * Statistics: 0 or LS_EINVAL; accepted ones hold at most
 * LS_INDEX_MAX_TERMS frequencies and leave the query inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/index.h"
#include "actors/index_stage.h"
#include "runtime/err.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const lines[] = { "error disk full on /dev/sda1",
	"login failed for root from 10.1.2.3 port 22",
	"blk_-1608999687919862906 terminating", "INFO ok ok ok" };

static void
search_all(ls_index *ix, const ls_index_query *q)
{
	ls_index_stats st;
	ls_index_hit h[8];
	uint32_t n;
	ls_index_stats_init(&st, q);
	ls_index_stats_add(ix, q, &st);
	FUZZ_ASSERT(ls_index_search(ix, q, &st, INT64_MIN, INT64_MAX, 8, h, &n,
	                NULL) == 0);
	FUZZ_ASSERT(n <= 8);
	for (uint32_t i = 1; i < n; i++)
		FUZZ_ASSERT(ls_index_hit_cmp(&h[i - 1], &h[i]) < 0);
	for (uint32_t i = 0; i < n; i++) {
		ls_index_span sp[16];
		uint32_t ns = ls_index_highlight(q, h[i].text.ptr, h[i].text.len,
		    sp, 16);
		for (uint32_t k = 0; k < ns && k < 16; k++)
			FUZZ_ASSERT(sp[k].off + sp[k].len <= h[i].text.len);
	}
}

static void
fuzz_query(const char *s, size_t len)
{
	ls_index_query *q = NULL;
	char err[128];
	size_t pos = SIZE_MAX;
	int rv = ls_index_query_parse(s, len, &q, err, sizeof(err), &pos);
	if (rv != 0) {
		FUZZ_ASSERT(rv == LS_EPARSE || rv == LS_ENOMEM);
		FUZZ_ASSERT(q == NULL);
		if (rv == LS_EPARSE)
			FUZZ_ASSERT(pos <= len && err[0] != 0);
		return;
	}
	FUZZ_ASSERT(ls_index_query_nterms(q) <= LS_INDEX_MAX_TERMS);
	ls_index *ix;
	FUZZ_ASSERT(ls_index_new(&ix) == 0);
	ls_attr f[1] = { { ls_str_c("host"), ls_str_c("web-1") } };
	for (uint64_t i = 0; i < 4; i++) {
		ls_index_doc d = { (int64_t)i, i, ls_str_c(lines[i]), f,
			(uint32_t)(i % 2) };
		FUZZ_ASSERT(ls_index_add(ix, &d) == 0);
		if (i == 1)
			ls_index_seal(ix);
	}
	search_all(ix, q);
	ls_index_free(ix);
	ls_index_query_free(q);
}

static void
fuzz_segment(const uint8_t *p, size_t len)
{
	ls_index *ix;
	FUZZ_ASSERT(ls_index_new(&ix) == 0);
	int rv = ls_index_seg_decode(ix, p, len);
	FUZZ_ASSERT(rv == 0 || rv == LS_ECORRUPT || rv == LS_ENOMEM);
	if (rv == 0) {
		uint8_t *buf;
		size_t n;
		FUZZ_ASSERT(ls_index_nsegs(ix) == 1);
		FUZZ_ASSERT(ls_index_seg_encode(ix, 0, &buf, &n) == 0);
		FUZZ_ASSERT(n == len && memcmp(buf, p, n) == 0);
		free(buf);
		ls_index_query *q;
		FUZZ_ASSERT(ls_index_query_parse("a OR *", 6, &q, NULL, 0,
		                NULL) == 0);
		search_all(ix, q);
		ls_index_query_free(q);
	}
	ls_index_free(ix);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *text = (const char *)data + 1;
	if (data[0] % 3 == 0) {
		fuzz_query(text, size - 1);
	} else if (data[0] % 3 == 1) {
		fuzz_segment(data + 1, size - 1);
	} else {
		ls_index_stats st;
		const char *rest;
		size_t rl;
		int rv = ls_index_stage_parse_stats(text, size - 1, &st, &rest,
		    &rl);
		FUZZ_ASSERT(rv == 0 || rv == LS_EINVAL);
		if (rv == 0) {
			FUZZ_ASSERT(st.nterms <= LS_INDEX_MAX_TERMS);
			FUZZ_ASSERT(rest >= text && rest + rl == text + size - 1);
			fuzz_query(rest, rl);
		}
	}
	return 0;
}
