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
	switch (m->type) {
	case LS_MSG_BATCH:
		return index_batch(ctx, s, m->ptr);
	case LS_MSG_WRITABLE:
		ls_outq_flush(ctx, &s->q);
		return 0;
	case LS_MSG_EOS:
		if (++s->eos == s->cfg->n_upstream)
			ls_stage_emit_eos(ctx, s->cfg, &s->q, s->gate.eos_max);
		return 0;
	default:
		return 0;
	}
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
};
