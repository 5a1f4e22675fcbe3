/*
 * search.c -- full-text search over a cluster (docs/search.md):
 *
 *   GET /v1/search/STAGE?q=QUERY&limit=N&from=T&to=T&topology=..&format=..
 *
 * on any node, for a stage of kind `index`.  The query is parsed here first
 * (400 with the byte position of the error), then asked of every partition
 * in two phases through the interactive-query routes (cluster/query_int.h:
 * the owner of each partition, retried on a new owner, 503 while one
 * restores):
 *
 *   1. q = 'S' + QUERY: each shard's document count, total length and the
 *      document frequency of each scoring word; summed, they are the
 *      global statistics;
 *   2. q = 'Q' + "docs total_len df1,df2,...\n" + QUERY: each shard's best
 *      `limit` hits ranked with the global statistics;
 *
 * and the hits are merged by score, then sequence and partition, and cut
 * at limit.  So the ranking is the one a single index of every document
 * would give (ls_index_stats, actors/index.h).  The rows are the index
 * kind's query schema (actors/index_actor.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/index.h"
#include "cluster/jsonbuf.h"
#include "cluster/node_int.h"
#include "cluster/query.h"
#include "cluster/query_int.h"
#include "runtime/actor.h"
#include "runtime/log.h"

#define TIMEOUT_DEFAULT_MS 5000

static void
put_str(ls_jsonbuf *b, ls_str s)
{
	ls_jsonbuf_printf(b, "\"");
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c == '"' || c == '\\')
			ls_jsonbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			ls_jsonbuf_printf(b, "\\u%04x", c);
		else
			ls_jsonbuf_printf(b, "%c", c);
	}
	ls_jsonbuf_printf(b, "\"");
}

static int
answer(ls_http_resp *resp, int status, const char *type, ls_jsonbuf *b)
{
	if (b->oom) {
		ls_jsonbuf_fini(b);
		return ls_http_resp_error(resp, 500, "out of memory");
	}
	ls_http_resp_status(resp, status);
	int rv = ls_http_resp_body(resp, type, b->p, b->len);
	ls_jsonbuf_fini(b);
	return rv;
}

/* 400 for a malformed query: the reason and the byte offset. */
static int
bad_query(ls_http_resp *resp, const char *why, size_t pos)
{
	ls_jsonbuf b = { 0 };
	char msg[256];
	snprintf(msg, sizeof(msg), "query:%zu: %s", pos + 1, why);
	ls_jsonbuf_printf(&b, "{\"error\":");
	ls_jsonbuf_str(&b, msg);
	ls_jsonbuf_printf(&b, ",\"position\":%zu}\n", pos);
	return answer(resp, 400, "application/json", &b);
}

static int
field(const ls_records *r, const char *name)
{
	return ls_rec_schema_find(r->schema, name);
}

/* Add the statistics row of one shard to *st. */
static int
add_stats(const ls_records *r, ls_index_stats *st, char *err, size_t errlen)
{
	int fd = field(r, "docs"), ft = field(r, "total_len"),
	    fdf = field(r, "df");
	if (r->n != 1 || fd < 0 || ft < 0 || fdf < 0) {
		snprintf(err, errlen, "a shard answered no statistics");
		return 502;
	}
	const ls_rec_value *v = r->v;
	st->docs += (uint64_t)v[fd].i;
	st->total_len += (uint64_t)v[ft].i;
	char buf[LS_INDEX_MAX_TERMS * 24];
	size_t n = v[fdf].s.len < sizeof(buf) - 1 ? v[fdf].s.len
	                                          : sizeof(buf) - 1;
	memcpy(buf, v[fdf].s.ptr, n);
	buf[n] = 0;
	char *e = buf;
	for (uint32_t j = 0; j < st->nterms; j++) {
		char *e2;
		st->df[j] += strtoull(e, &e2, 10);
		if (e2 == e) {
			snprintf(err, errlen, "a shard answered %u document "
			    "frequencies, want %u", j, st->nterms);
			return 502;
		}
		e = *e2 == ',' ? e2 + 1 : e2;
	}
	return 0;
}

/* Copy the rows of src into *all (the first answer becomes *all). */
static int
gather(ls_records **all, ls_records *src)
{
	if (*all == NULL) {
		*all = src;
		return 0;
	}
	int rv = (*all)->schema->n == src->schema->n ? 0 : 502;
	for (uint32_t i = 0; rv == 0 && i < src->n; i++)
		if (ls_records_copy_row(*all, src, i) == NULL)
			rv = 500;
	ls_records_unref(src);
	return rv;
}

/* "o:l,o:l" as [[o,l],[o,l]]. */
static void
put_highlights(ls_jsonbuf *b, ls_str s)
{
	char buf[2048];
	size_t n = s.len < sizeof(buf) - 1 ? s.len : sizeof(buf) - 1;
	memcpy(buf, s.ptr, n);
	buf[n] = 0;
	ls_jsonbuf_printf(b, "[");
	char *e = buf;
	for (int first = 1; *e != 0; first = 0) {
		char *e2;
		unsigned long o = strtoul(e, &e2, 10), l = 0;
		if (*e2 == ':')
			l = strtoul(e2 + 1, &e2, 10);
		ls_jsonbuf_printf(b, "%s[%lu,%lu]", first ? "" : ",", o, l);
		if (*e2 != ',')
			break;
		e = e2 + 1;
	}
	ls_jsonbuf_printf(b, "]");
}

static void
put_hits(ls_jsonbuf *b, const ls_records *all, size_t n, int text)
{
	int fs = field(all, "score"), fp = field(all, "partition"),
	    ft = field(all, "time"), fx = field(all, "text"),
	    fh = field(all, "highlights"), ff = field(all, "fields");
	if (fs < 0 || fp < 0 || ft < 0 || fx < 0 || fh < 0 || ff < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const ls_rec_value *v = &all->v[i * all->schema->n];
		if (text) {
			ls_jsonbuf_printf(b, "%.4f  %lld  %.*s\n", v[fs].d,
			    (long long)v[fp].i, (int)v[fx].s.len, v[fx].s.ptr);
			continue;
		}
		ls_jsonbuf_printf(b, "%s{\"score\":%.6f,\"partition\":%lld,"
		                     "\"time_ms\":%lld,\"text\":",
		    i ? "," : "", v[fs].d, (long long)v[fp].i,
		    (long long)(v[ft].i / 1000000));
		put_str(b, v[fx].s);
		ls_jsonbuf_printf(b, ",\"highlights\":");
		put_highlights(b, v[fh].s);
		ls_jsonbuf_printf(b, ",\"fields\":%.*s}", (int)v[ff].s.len,
		    v[ff].s.ptr);
	}
}

/* Ask every partition with p (its qtext set); the statistics rows summed
 * into st (phase 1, st non-NULL) or the hits gathered into *all. */
static int
ask_all(ls_node *n, const ls_query_target *tg, const ls_query_params *p,
    int64_t deadline, ls_index_stats *st, ls_records **all, char *err,
    size_t errlen)
{
	uint32_t nparts = tg->node->partitions ? tg->node->partitions : 1;
	int status = 0;
	for (uint32_t part = 0; part < nparts && status == 0; part++) {
		ls_records *r = NULL;
		status = ls__query_ask(n, tg, part, p, deadline, &r, err, errlen);
		if (status != 0)
			break;
		if (st != NULL) {
			status = add_stats(r, st, err, errlen);
			ls_records_unref(r);
		} else if ((status = gather(all, r)) != 0) {
			snprintf(err, errlen, status == 500 ? "out of memory"
			                                    : "answers differ");
		}
	}
	return status;
}

static int
serve(ls_node *n, const ls_http_req *req, ls_http_resp *resp)
{
	char err[300];
	const char *stage = req->path + strlen("/v1/search/");
	if (*stage == '\0' || strchr(stage, '/') != NULL ||
	    strlen(stage) > LS_QUERY_NAME_MAX)
		return ls_http_resp_error(resp, 400, "want /v1/search/STAGE?q=");
	ls_query_params *p = malloc(sizeof(*p));
	char *qtext = malloc(LS_QUERY_VALUE_MAX + 1);
	ls_index_query *q = NULL;
	ls_records *all = NULL;
	ls_query_target tg = { 0 };
	int status = 0, rv;
	ls_map *map = NULL;
	if (p == NULL || qtext == NULL) {
		status = 500;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	rv = ls_query_parse(req->query, strlen(req->query), LS_QUERY_SEARCH, p,
	    err, sizeof(err));
	if (rv != 0) {
		status = rv == LS_ENOMEM ? 500 : 400;
		goto out;
	}
	if (p->qtext_len == 0) {
		status = 400;
		snprintf(err, sizeof(err), "want q= (the search query)");
		goto out;
	}
	if (p->limit > LS_INDEX_MAX_K) {
		status = 400;
		snprintf(err, sizeof(err), "limit: at most %d", LS_INDEX_MAX_K);
		goto out;
	}
	memcpy(qtext, p->qtext, p->qtext_len + 1);
	size_t qlen = p->qtext_len, pos = 0;
	char why[160];
	if ((rv = ls_index_query_parse(qtext, qlen, &q, why, sizeof(why),
	         &pos)) != 0) {
		if (rv == LS_EPARSE) {
			free(p);
			free(qtext);
			return bad_query(resp, why, pos);
		}
		status = 500;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	if (ls_coord_map_snapshot(n->coord, &map) != 0) {
		status = 503;
		snprintf(err, sizeof(err), "no cluster map yet");
		goto out;
	}
	status = ls__query_find_target(map, stage, "index", p, &tg, err,
	    sizeof(err));
	if (status != 0)
		goto out;
	int64_t timeout = p->timeout_ms > 0 ? p->timeout_ms : TIMEOUT_DEFAULT_MS;
	int64_t deadline = ls_clock_ns() + timeout * 1000000;

	/* phase 1: the statistics of every shard */
	ls_index_stats st;
	ls_index_stats_init(&st, q);
	if (qlen + 1 > LS_QUERY_VALUE_MAX) {
		status = 400;
		snprintf(err, sizeof(err), "query too long for a search over "
		                           "the cluster");
		goto out;
	}
	p->qtext[0] = 'S';
	memcpy(p->qtext + 1, qtext, qlen + 1);
	p->qtext_len = qlen + 1;
	if ((status = ask_all(n, &tg, p, deadline, &st, NULL, err,
	         sizeof(err))) != 0)
		goto out;

	/* phase 2: the best hits of each shard on the global statistics */
	ls_jsonbuf t = { 0 };
	ls_jsonbuf_printf(&t, "Q%llu %llu ", (unsigned long long)st.docs,
	    (unsigned long long)st.total_len);
	for (uint32_t j = 0; j < st.nterms; j++)
		ls_jsonbuf_printf(&t, "%s%llu", j ? "," : "",
		    (unsigned long long)st.df[j]);
	ls_jsonbuf_printf(&t, "\n");
	if (t.oom || t.len + qlen > LS_QUERY_VALUE_MAX) {
		ls_jsonbuf_fini(&t);
		status = 400;
		snprintf(err, sizeof(err), "query too long for a search over "
		                           "the cluster");
		goto out;
	}
	memcpy(p->qtext, t.p, t.len);
	memcpy(p->qtext + t.len, qtext, qlen + 1);
	p->qtext_len = t.len + qlen;
	ls_jsonbuf_fini(&t);
	if ((status = ask_all(n, &tg, p, deadline, NULL, &all, err,
	         sizeof(err))) != 0)
		goto out;
	if (all != NULL && ls_records_order(all, p->limit) != 0) {
		status = 500;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	size_t nh = all != NULL ? all->n : 0;
	if (nh > p->limit)
		nh = p->limit;
	ls_jsonbuf b = { 0 };
	if (p->text) {
		if (all != NULL)
			put_hits(&b, all, nh, 1);
		ls_jsonbuf_printf(&b, "%zu hit(s) of %llu documents\n", nh,
		    (unsigned long long)st.docs);
	} else {
		ls_jsonbuf_printf(&b, "{\"topology\":");
		ls_jsonbuf_str(&b, tg.topology);
		ls_jsonbuf_printf(&b, ",\"stage\":");
		ls_jsonbuf_str(&b, tg.node->name);
		ls_jsonbuf_printf(&b, ",\"query\":");
		put_str(&b, ls_str_make(qtext, qlen));
		ls_jsonbuf_printf(&b, ",\"partitions\":%u,\"docs\":%llu,"
		                      "\"hits\":[",
		    tg.node->partitions ? tg.node->partitions : 1,
		    (unsigned long long)st.docs);
		if (all != NULL)
			put_hits(&b, all, nh, 0);
		ls_jsonbuf_printf(&b, "],\"count\":%zu}\n", nh);
	}
	int text = p->text;
	if (all != NULL)
		ls_records_unref(all);
	ls__query_target_fini(&tg);
	ls_map_free(map);
	ls_index_query_free(q);
	free(p);
	free(qtext);
	return answer(resp, 200, text ? "text/plain" : "application/json", &b);
out:
	if (all != NULL)
		ls_records_unref(all);
	if (tg.t != NULL)
		ls__query_target_fini(&tg);
	if (map != NULL)
		ls_map_free(map);
	ls_index_query_free(q);
	free(p);
	free(qtext);
	if (status == 503) {
		ls_http_resp_error(resp, 503, err);
		return ls_http_resp_header(resp, "Retry-After", "1");
	}
	return ls_http_resp_error(resp, status, err);
}

static int
h_search(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	if (!ls__query_enter()) {
		ls_http_resp_error(resp, 503, "too many queries in flight");
		return ls_http_resp_header(resp, "Retry-After", "1");
	}
	int rv = serve(arg, req, resp);
	ls__query_leave();
	return rv;
}

int
ls__search_routes(ls_node *n)
{
	return ls_http_route(n->http, "GET", "/v1/search/", h_search, n);
}
