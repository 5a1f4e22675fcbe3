/*
 * index_actor.c -- the `index` stage: one full-text index (actors/index.h)
 * per partition.
 *
 * Every event is indexed as a document -- its message as the text, its
 * time (the ingest time when it has none), and as fields its level,
 * service, host and attributes (all of them, or those named in `fields`)
 * -- and passes on unchanged, so an index can sit anywhere in a pipeline.
 * A document is searchable as soon as its batch has been received: new
 * documents go to the partition's open segment, which search reads too.
 *
 * Segments: the open segment is sealed at every checkpoint and when it
 * holds max_segment_docs documents; sealed neighbours are merged by size
 * (ls_index_merge, bounded by max_segment_docs) and segments whose newest
 * event is older than the newest event seen minus `retention` are dropped
 * whole, both at checkpoints, on the actor thread.
 *
 * State: on keyed state (a store and checkpoints), key 'g' + the segment's
 * base (8 bytes big-endian) per sealed segment, its encoded documents as
 * the value (ls_index_seg_encode); a checkpoint writes the segments sealed
 * or merged since the last one and deletes those merged away or expired,
 * so it costs what changed, not the index.  A restore decodes every
 * segment and rebuilds its postings.  Without a store a checkpoint saves
 * the whole index as one blob:
 *
 *   offset  size  field
 *   0       4     "LSIB"
 *   4       4     n, segments (u32 little endian)
 *   8       ...   n x { u32 length, encoded segment }
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/index.h"
#include "actors/index_stage.h"
#include "actors/stage.h"
#include "runtime/le.h"
#include "runtime/log.h"
#include "runtime/store.h"

#define SEG_KEY_LEN 9
#define BLOB_MAGIC "LSIB"

typedef struct istage {
	const ls_stage_cfg *cfg;
	ls_outq q;
	ls_gate gate;
	uint32_t eos;
	ls_index *ix;
	ls_index_stage_cfg c;
} istage;

static int
istage_init(ls_ctx *ctx, void *state, const void *arg)
{
	istage *s = state;
	const ls_stage_cfg *cfg = arg;
	(void)ctx;

	s->cfg = cfg;
	s->c.retention_ms = ls_topo_ms(cfg->node, "retention");
	s->c.max_docs = (uint32_t)ls_topo_int(cfg->node, "max_segment_docs");
	s->c.fields = ls_topo_list(cfg->node, "fields", &s->c.nfields);
	if (s->c.nfields == 0)
		s->c.fields = NULL;
	int rv = ls_index_new(&s->ix);
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "index", "cannot start stage=%s err=%s",
		    cfg->node->name, ls_errname(rv));
		return rv;
	}
	return ls_stage_restore_state(cfg, &s->gate, s);
}

static void
istage_stop(ls_ctx *ctx, void *state)
{
	istage *s = state;
	ls_index_free(s->ix);
	s->ix = NULL;
	ls_outq_fini(ls_ctx_runtime(ctx), &s->q);
	ls_gate_fini(&s->gate);
}

static int
wanted(const ls_index_stage_cfg *c, ls_str key)
{
	if (c->fields == NULL)
		return 1;
	for (size_t i = 0; i < c->nfields; i++)
		if (ls_str_eq(key, c->fields[i]))
			return 1;
	return 0;
}

void
ls_index_stage_doc(const ls_index *ix, const ls_index_stage_cfg *c,
    const ls_event *ev, ls_attr *f, ls_index_doc *d)
{
	uint32_t n = 0;
	if (ev->level != LS_LEVEL_UNKNOWN) {
		f[n].key = ls_str_c("level");
		f[n++].val = ls_str_c(ls_level_name(ev->level));
	}
	if (ev->service.len > 0) {
		f[n].key = ls_str_c("service");
		f[n++].val = ev->service;
	}
	if (ev->host.len > 0) {
		f[n].key = ls_str_c("host");
		f[n++].val = ev->host;
	}
	for (uint32_t i = 0; i < ev->nattrs && n < LS_INDEX_MAX_FIELDS; i++)
		if (ev->attrs[i].val.len > 0 && wanted(c, ev->attrs[i].key))
			f[n++] = ev->attrs[i];
	d->time_ns = ev->time_ns != LS_TIME_UNKNOWN ? ev->time_ns : ev->ingest_ns;
	d->key = ls_index_next_seq(ix);
	d->text = ev->message;
	d->fields = f;
	d->nfields = n;
}

static int
index_batch(ls_ctx *ctx, istage *s, ls_batch *in)
{
	for (uint32_t i = 0; i < in->n; i++) {
		ls_attr f[LS_INDEX_MAX_FIELDS];
		ls_index_doc d;
		ls_index_stage_doc(s->ix, &s->c, in->items[i], f, &d);
		int rv = ls_index_add(s->ix, &d);
		if (rv == LS_EINVAL) {
			ls_stage_dead_event(ctx, s->cfg, &s->q,
			    "cannot index: text or a field too long",
			    in->items[i], s->cfg->node->name);
			continue;
		}
		if (rv != 0)
			return rv; /* supervision restarts the stage */
		uint32_t n = ls_index_nsegs(s->ix);
		ls_index_seg_info si;
		ls_index_seg(s->ix, n - 1, &si);
		if (si.open && si.docs >= s->c.max_docs)
			ls_index_seal(s->ix);
	}
	ls_metric_add(s->cfg->ctr.in, in->n);
	ls_metric_add(s->cfg->ctr.out, in->n);
	ls_stage_emit(ctx, s->cfg, &s->q, in);
	return 0;
}

static int
istage_handle(ls_ctx *ctx, void *state, ls_msg *m)
{
	istage *s = state;
	if (m->type == LS_MSG_BATCH)
		return index_batch(ctx, s, m->ptr);
	return ls_stage_pass_other(ctx, s->cfg, &s->q, &s->gate, &s->eos, m);
}

static int
istage_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	istage *s = state;
	return ls_stage_receive(ctx, &s->gate, s->cfg, &s->q, m, istage_handle,
	    s);
}

int
ls_index_stage_maintain(ls_index *ix, const ls_index_stage_cfg *c)
{
	ls_index_seal(ix);
	int rv = ls_index_merge(ix, c->max_docs);
	if (rv < 0)
		return -rv;
	ls_index_info info;
	ls_index_get_info(ix, &info);
	int64_t ret_ns = c->retention_ms * 1000000;
	if (info.max_time_ns != INT64_MIN && info.max_time_ns > INT64_MIN + ret_ns)
		ls_index_expire(ix, info.max_time_ns - ret_ns);
	return 0;
}

static void
log_restore_error(const istage *s, int rv)
{
	ls_log(LS_LOG_ERROR, "index",
	    "cannot restore state stage=%s partition=%u err=%s",
	    s->cfg->node->name, s->cfg->partition, ls_errname(rv));
}

typedef struct blob {
	uint8_t *p;
	size_t n, cap;
	uint32_t count;
} blob;

static int
blob_seg(void *arg, uint64_t base, const uint8_t *buf, size_t len)
{
	blob *b = arg;
	(void)base;
	if (buf == NULL)
		return 0;
	if (len > UINT32_MAX)
		return LS_ERANGE;
	if (b->n + 4 + len > b->cap) {
		size_t nc = (b->cap ? b->cap : 4096);
		while (nc < b->n + 4 + len)
			nc *= 2;
		uint8_t *np = realloc(b->p, nc);
		if (np == NULL)
			return LS_ENOMEM;
		b->p = np;
		b->cap = nc;
	}
	ls_le_put(b->p + b->n, len, 4);
	memcpy(b->p + b->n + 4, buf, len);
	b->n += 4 + len;
	b->count++;
	return 0;
}

int
ls_index_stage_save(ls_index *ix, const ls_index_stage_cfg *c,
    uint8_t **buf, size_t *len)
{
	int rv = ls_index_stage_maintain(ix, c);
	blob b = { malloc(4096), 8, 4096, 0 };
	if (b.p == NULL)
		return LS_ENOMEM;
	if (rv == 0)
		rv = ls_index_changes(ix, 1, blob_seg, &b);
	if (rv != 0) {
		free(b.p);
		return rv;
	}
	memcpy(b.p, BLOB_MAGIC, 4);
	ls_le_put(b.p + 4, b.count, 4);
	*buf = b.p;
	*len = b.n;
	return 0;
}

int
ls_index_stage_restore(ls_index **out, const uint8_t *buf, size_t len)
{
	ls_index *ix;
	if (len < 8 || memcmp(buf, BLOB_MAGIC, 4) != 0)
		return LS_ECORRUPT;
	int rv = ls_index_new(&ix);
	if (rv != 0)
		return rv;
	uint32_t n = (uint32_t)ls_le_get(buf + 4, 4);
	size_t off = 8;
	for (uint32_t i = 0; i < n && rv == 0; i++) {
		if (len - off < 4) {
			rv = LS_ECORRUPT;
			break;
		}
		size_t l = (size_t)ls_le_get(buf + off, 4);
		off += 4;
		if (len - off < l) {
			rv = LS_ECORRUPT;
			break;
		}
		rv = ls_index_seg_decode(ix, buf + off, l);
		off += l;
	}
	if (rv == 0 && off != len)
		rv = LS_ECORRUPT;
	if (rv != 0) {
		ls_index_free(ix);
		return rv;
	}
	ls_index_free(*out);
	*out = ix;
	return 0;
}

static int
istage_save(void *state, uint64_t ckpt, int final, uint8_t **buf,
    size_t *len)
{
	istage *s = state;
	(void)ckpt;
	(void)final;
	return ls_index_stage_save(s->ix, &s->c, buf, len);
}

static int
istage_restore(void *state, const uint8_t *buf, size_t len)
{
	istage *s = state;
	if (buf == NULL || len == 0)
		return 0; /* a fresh start */
	int rv = ls_index_stage_restore(&s->ix, buf, len);
	if (rv != 0)
		log_restore_error(s, rv);
	return rv;
}

static void
seg_key(uint64_t base, uint8_t k[SEG_KEY_LEN])
{
	k[0] = 'g';
	for (int i = 0; i < 8; i++)
		k[1 + i] = (uint8_t)(base >> (56 - 8 * i));
}

static int
sync_one(void *arg, uint64_t base, const uint8_t *buf, size_t len)
{
	uint8_t k[SEG_KEY_LEN];
	seg_key(base, k);
	return buf != NULL ? ls_state_put(arg, k, sizeof(k), buf, len)
	                   : ls_state_delete(arg, k, sizeof(k));
}

int
ls_index_stage_sync(ls_index *ix, const ls_index_stage_cfg *c, ls_state *st,
    int all)
{
	int rv = ls_index_stage_maintain(ix, c);
	return rv != 0 ? rv : ls_index_changes(ix, all, sync_one, st);
}

static int
istage_sync(void *state, ls_state *st, int all)
{
	istage *s = state;
	return ls_index_stage_sync(s->ix, &s->c, st, all);
}

typedef struct loadctx {
	ls_index *ix;
	int rv;
} loadctx;

static int
load_one(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	loadctx *l = arg;
	if (kl != SEG_KEY_LEN)
		l->rv = LS_ECORRUPT;
	else
		l->rv = ls_index_seg_decode(l->ix, v, vl);
	return l->rv != 0;
}

int
ls_index_stage_load(ls_index **ix, ls_state *st)
{
	loadctx l = { NULL, 0 };
	int rv = ls_index_new(&l.ix);
	if (rv == 0)
		rv = ls_state_scan(st, "g", 1, "h", 1, load_one, &l);
	if (l.rv != 0)
		rv = l.rv; /* the scan stopped on it */
	if (rv != 0) {
		ls_index_free(l.ix);
		return rv;
	}
	/* decoded segments are not dirty: they are written already */
	ls_index_free(*ix);
	*ix = l.ix;
	return 0;
}

static int
istage_load(void *state, ls_state *st)
{
	istage *s = state;
	int rv = ls_index_stage_load(&s->ix, st);
	if (rv != 0)
		log_restore_error(s, rv);
	return rv;
}

/* ---- interactive queries: one phase of a search (docs/search.md) ----
 * The text of a query is 'S' + the search query (phase 1: this shard's
 * statistics, one row with docs, total_len and df) or 'Q' + "docs
 * total_len df1,df2,..." + '\n' + the search query (phase 2: the best
 * `limit` hits in [from, to) ranked with those global statistics, one row
 * each, ordered by neg_score then seq, as the caller merges them). */
enum { QF_NEG, QF_SEQ, QF_PART, QF_SCORE, QF_TIME, QF_TEXT, QF_HL,
	QF_FIELDS, QF_DOCS, QF_TLEN, QF_DF, QF_COUNT };

static int
query_schema(const ls_topo_node *n, ls_rec_schema *out, char *err,
    size_t errlen)
{
	static const struct {
		const char *name;
		ls_rec_type type;
		unsigned flags;
	} f[QF_COUNT] = {
		{ "neg_score", LS_REC_DOUBLE, LS_REC_ID | LS_REC_NOTABLE },
		{ "seq", LS_REC_INT, LS_REC_ID | LS_REC_NOTABLE },
		{ "partition", LS_REC_INT, LS_REC_ID },
		{ "score", LS_REC_DOUBLE, 0 },
		{ "time", LS_REC_TIME, 0 },
		{ "text", LS_REC_STRING, 0 },
		{ "highlights", LS_REC_STRING, LS_REC_NOTABLE },
		{ "fields", LS_REC_STRING, LS_REC_NOTABLE },
		{ "docs", LS_REC_INT, LS_REC_NOTABLE },
		{ "total_len", LS_REC_INT, LS_REC_NOTABLE },
		{ "df", LS_REC_STRING, LS_REC_NOTABLE },
	};
	(void)n;
	for (int i = 0; i < QF_COUNT; i++) {
		int rv = ls_rec_schema_add(out, f[i].name, f[i].type, f[i].flags);
		if (rv != 0) {
			snprintf(err, errlen, "cannot describe answers: %s",
			    ls_strerror(rv));
			return rv;
		}
	}
	return 0;
}

/* A growing text for one row value. */
typedef struct tbuf {
	char *p;
	size_t n, cap;
	int oom;
} tbuf;

static void
tb_add(tbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->n + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void
tb_json_str(tbuf *b, ls_str s)
{
	tb_add(b, "\"", 1);
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			tb_add(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			tb_add(b, esc, 6);
		} else {
			tb_add(b, (const char *)&c, 1);
		}
	}
	tb_add(b, "\"", 1);
}

static int
stats_row(const istage *s, const ls_index_query *q, ls_records *out)
{
	ls_index_stats st;
	ls_index_stats_init(&st, q);
	ls_index_stats_add(s->ix, q, &st);
	ls_rec_value *v = ls_records_add(out);
	if (v == NULL)
		return LS_ENOMEM;
	v[QF_PART].i = s->cfg->partition;
	v[QF_PART].null = 0;
	v[QF_DOCS].i = (int64_t)st.docs;
	v[QF_DOCS].null = 0;
	v[QF_TLEN].i = (int64_t)st.total_len;
	v[QF_TLEN].null = 0;
	tbuf b = { 0 };
	for (uint32_t j = 0; j < st.nterms; j++) {
		char num[24];
		int n = snprintf(num, sizeof(num), "%s%llu", j ? "," : "",
		    (unsigned long long)st.df[j]);
		tb_add(&b, num, (size_t)n);
	}
	int rv = b.oom ? LS_ENOMEM
	               : ls_records_set_str(out, &v[QF_DF], b.p ? b.p : "", b.n);
	free(b.p);
	return rv;
}

int
ls_index_stage_parse_stats(const char *p, size_t n, ls_index_stats *st, const char **rest,
    size_t *restlen)
{
	const char *nl = memchr(p, '\n', n);
	if (nl == NULL)
		return LS_EINVAL;
	char head[2048];
	size_t hl = (size_t)(nl - p);
	if (hl >= sizeof(head))
		return LS_EINVAL;
	memcpy(head, p, hl);
	head[hl] = 0;
	char *e;
	st->docs = strtoull(head, &e, 10);
	st->total_len = strtoull(e, &e, 10);
	st->nterms = 0;
	while (*e == ' ' || *e == ',') {
		if (st->nterms == LS_INDEX_MAX_TERMS)
			return LS_EINVAL;
		char *e2;
		st->df[st->nterms] = strtoull(e + 1, &e2, 10);
		if (e2 == e + 1)
			break; /* no terms: "D T \n" */
		st->nterms++;
		e = e2;
	}
	*rest = nl + 1;
	*restlen = n - hl - 1;
	return 0;
}

static int
hit_row(const istage *s, const ls_index_query *q, const ls_index_hit *h,
    ls_records *out)
{
	ls_rec_value *v = ls_records_add(out);
	if (v == NULL)
		return LS_ENOMEM;
	v[QF_NEG].d = -h->score;
	v[QF_SEQ].i = (int64_t)h->key;
	v[QF_PART].i = s->cfg->partition;
	v[QF_SCORE].d = h->score;
	v[QF_TIME].i = h->time_ns;
	for (int f = QF_NEG; f <= QF_FIELDS; f++)
		v[f].null = 0;
	ls_index_span sp[64];
	uint32_t ns = ls_index_highlight(q, h->text.ptr, h->text.len, sp, 64);
	tbuf hb = { 0 }, fb = { 0 };
	for (uint32_t i = 0; i < ns && i < 64; i++) {
		char num[32];
		int n = snprintf(num, sizeof(num), "%s%u:%u", i ? "," : "",
		    sp[i].off, sp[i].len);
		tb_add(&hb, num, (size_t)n);
	}
	tb_add(&fb, "{", 1);
	for (uint32_t i = 0; i < h->nfields; i++) {
		if (i > 0)
			tb_add(&fb, ",", 1);
		tb_json_str(&fb, h->fields[i].key);
		tb_add(&fb, ":", 1);
		tb_json_str(&fb, h->fields[i].val);
	}
	tb_add(&fb, "}", 1);
	int rv = hb.oom || fb.oom ? LS_ENOMEM : 0;
	if (rv == 0)
		rv = ls_records_set_str(out, &v[QF_TEXT], h->text.ptr, h->text.len);
	if (rv == 0)
		rv = ls_records_set_str(out, &v[QF_HL], hb.p ? hb.p : "", hb.n);
	if (rv == 0)
		rv = ls_records_set_str(out, &v[QF_FIELDS], fb.p, fb.n);
	free(hb.p);
	free(fb.p);
	return rv;
}

static int
istage_query(void *state, const ls_kind_query *kq, ls_records *out)
{
	istage *s = state;
	const char *t = kq->text.ptr;
	size_t n = kq->text.len;
	ls_index_stats st;
	int rv;
	if (n == 0 || (t[0] != 'S' && t[0] != 'Q'))
		return LS_EINVAL;
	const char *qs = t + 1;
	size_t ql = n - 1;
	if (t[0] == 'Q' &&
	    ls_index_stage_parse_stats(t + 1, n - 1, &st, &qs, &ql) != 0)
		return LS_EINVAL;
	ls_index_query *q;
	if ((rv = ls_index_query_parse(qs, ql, &q, NULL, 0, NULL)) != 0)
		return rv == LS_ENOMEM ? rv : LS_EINVAL;
	if (t[0] == 'S') {
		rv = stats_row(s, q, out);
		ls_index_query_free(q);
		return rv;
	}
	uint32_t k = kq->limit == 0 || kq->limit > LS_INDEX_MAX_K
	    ? LS_INDEX_MAX_K
	    : kq->limit;
	ls_index_hit *hits = malloc((size_t)k * sizeof(*hits));
	uint32_t nh = 0;
	rv = hits == NULL ? LS_ENOMEM
	    : st.nterms != ls_index_query_nterms(q)
	    ? LS_EINVAL
	    : ls_index_search(s->ix, q, &st, kq->from_ns, kq->to_ns, k, hits,
	          &nh, NULL);
	for (uint32_t i = 0; i < nh && rv == 0; i++)
		rv = hit_row(s, q, &hits[i], out);
	free(hits);
	ls_index_query_free(q);
	return rv;
}

static const ls_behaviour index_behaviour = {
	.name = "index",
	.state_size = sizeof(istage),
	.init = istage_init,
	.receive = istage_receive,
	.stop = istage_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_index = {
	.name = "index",
	.role = LS_TOPO_STAGE,
	.flags = LS_KIND_KEYED,
	.params = LS_KIND_PARAMS(
	    { "key", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_field,
	        "field(s) to partition by: each partition is one shard of "
	        "the index" },
	    { "retention", LS_TV_DURATION, 0, "24h", NULL, 1000,
	        INT64_C(1) << 40, NULL,
	        "segments whose newest event is older than the newest event "
	        "seen minus this are dropped" },
	    { "max_segment_docs", LS_TV_INT, 0, "100000", NULL, 100, 10000000,
	        NULL,
	        "documents of the open segment that seal it, and the bound "
	        "on merged segments" },
	    { "fields", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_field,
	        "attributes indexed as field:value besides level, service "
	        "and host (default: every attribute)" }),
	.help = "full-text index of the events' messages and fields (BM25 "
	        "search); events pass on unchanged",
	.behaviour = &index_behaviour,
	.save = istage_save,
	.restore = istage_restore,
	.sync = istage_sync,
	.load = istage_load,
	.query = istage_query,
	.query_schema = query_schema,
};
