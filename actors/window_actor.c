/*
 * window_actor.c -- the `window` stage: one ls_window per partition.
 *
 * Events update the window state; results (emitted when a window closes,
 * or on every update with emit: on_update) are gathered per input batch
 * into one ls_records and sent to every consumer (sinks).  The kind table
 * ls_kind_window (end of file) gives their schema (ls_window_schema).  A periodic
 * timer lets an idle source's windows close (idle_timeout).  Late events
 * go to the dead-letter output.  At end of stream all open windows close.
 *
 * Watermarks are per input: each upstream actor (a channel, told apart by
 * the sender of its messages) has progressed to the largest event time it
 * has sent, and the stage's watermark is the minimum over its channels,
 * less watermark_delay.  Per-sender FIFO keeps each channel nearly in
 * order, so one slow upstream partition holds windows open instead of
 * making the others' events late.  A channel that has ended (EOS) or has
 * been silent for idle_timeout no longer holds the watermark back; nor does
 * one never heard from once the stage is idle_timeout old (actors/wmark.h).
 * Batches, ticks and end of stream are handled by the frame shared with
 * the session stage (actors/evstage.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/evstage.h"
#include "actors/parts.h"
#include "actors/window.h"
#include "runtime/le.h"
#include "runtime/log.h"
#include "runtime/store.h"

typedef struct wstage {
	ls_evstage f; /* first: the frame's receive passes the whole state */
	ls_window_spec spec;
	ls_window *w;
} wstage;

static int
spec_of(const ls_topo_node *n, ls_window_spec *spec, char *err,
    size_t errlen)
{
	size_t naggs = 0;
	const char **aggs = ls_topo_list(n, "aggregates", &naggs);
	const char *emit = ls_topo_str(n, "emit");
	return ls_window_spec_init(spec, ls_topo_ms(n, "size"),
	    ls_topo_ms(n, "grace"), n->key, n->nkey, aggs, naggs,
	    emit != NULL && strcmp(emit, "on_update") == 0, err, errlen);
}

static int
window_schema(const ls_topo_node *n, ls_rec_schema *out, char *err,
    size_t errlen)
{
	ls_window_spec spec;
	int rv = spec_of(n, &spec, err, errlen);
	if (rv == 0 && (rv = ls_window_schema(&spec, out)) != 0)
		snprintf(err, errlen, "cannot describe results: %s",
		    ls_strerror(rv));
	return rv;
}

static void
on_emit(void *arg, const ls_window_result *wr)
{
	wstage *s = arg;
	ls_records *r = ls_evstage_rows(&s->f);
	if (r != NULL)
		ls_evstage_counted(&s->f, ls_window_record(&s->spec, wr, r));
}

static void
on_late(void *arg, const ls_event *ev, int64_t window_start_ns,
    int64_t watermark_ns)
{
	wstage *s = arg;
	(void)window_start_ns;
	(void)watermark_ns;
	ls_metric_add(s->f.cfg->ctr.late, 1);
	ls_stage_dead_event(s->f.ctx, s->f.cfg, &s->f.q,
	    "late event: its window had closed", ev, s->f.source);
}

static int
w_add(void *st, const ls_event *ev)
{
	return ls_window_add(st, ev);
}

static void
w_advance(void *st, int64_t wm)
{
	ls_window_advance(st, wm);
}

static void
w_idle(void *st, int64_t now)
{
	ls_window_idle(st, now);
}

static void
w_flush(void *st)
{
	ls_window_flush(st);
}

static const ls_evstage_ops window_ops = { w_add, w_advance, w_idle,
	w_flush };

static int
wstage_init(ls_ctx *ctx, void *state, const void *arg)
{
	wstage *s = state;
	const ls_stage_cfg *cfg = arg;
	const ls_topo_node *n = cfg->node;
	char err[256];

	int rv = spec_of(n, &s->spec, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "window", "bad window stage=%s reason=\"%s\"",
		    n->name, err);
		return rv;
	}
	if (cfg->results == NULL)
		return LS_EINVAL; /* the pipeline builds it for every window */
	int64_t delay_ms = ls_topology_setting_ms(cfg->topo, "watermark_delay",
	    2000);
	int64_t idle_ms = ls_topology_setting_ms(cfg->topo, "idle_timeout",
	    5000);
	rv = ls_window_new(&s->w, &s->spec, delay_ms, idle_ms, on_emit, on_late,
	    s);
	if (rv != 0)
		return rv;
	ls_window_set_manual_watermark(s->w, 1);
	ls_evstage_init(&s->f, cfg, &window_ops, s->w, "window");
	s->f.keep = (size_t)ls_topo_int(n, "keep_closed");
	if ((rv = ls_stage_restore_state(cfg, &s->f.gate, s)) != 0)
		return rv;
	return ls_evstage_start(ctx, &s->f);
}

static void
wstage_stop(ls_ctx *ctx, void *state)
{
	wstage *s = state;
	ls_window_free(s->w);
	s->w = NULL;
	ls_evstage_fini(ctx, &s->f);
}

/* A checkpoint holds the window state (open windows, groups, watermark);
 * per-channel progress restarts empty, which can only close windows later,
 * never make an event late (see docs/failure-semantics.md). */
static int
wstage_save(void *state, uint64_t ckpt, int final, uint8_t **buf,
    size_t *len)
{
	wstage *s = state;
	(void)ckpt;
	(void)final;
	return ls_window_save(s->w, buf, len);
}

static int
wstage_restore(void *state, const uint8_t *buf, size_t len)
{
	wstage *s = state;
	if (buf == NULL || len == 0)
		return 0; /* a fresh start */
	int rv = ls_window_load(s->w, buf, len);
	if (rv != 0)
		ls_log(LS_LOG_ERROR, "window",
		    "cannot restore state stage=%s partition=%u err=%s",
		    s->f.cfg->node->name, s->f.cfg->partition, ls_errname(rv));
	return rv;
}

/* Keyed state: key "m" holds the meta part (watermark, counters), "w" and
 * the window start (8 bytes big-endian, sign bit flipped, so keys sort by
 * time) one part per open window.  A checkpoint rewrites the meta part
 * and the windows events touched since the last one, and deletes the
 * keys of windows that closed (docs/windows.md). */
#define META_KEY "m"
#define WIN_KEY_LEN 9

static void
win_key(int64_t start, uint8_t k[WIN_KEY_LEN])
{
	uint64_t u = (uint64_t)start ^ ((uint64_t)1 << 63);
	k[0] = 'w';
	for (int i = 0; i < 8; i++)
		k[1 + i] = (uint8_t)(u >> (56 - 8 * i));
}

static int
sync_part(void *arg, int64_t start, const uint8_t *part, size_t len)
{
	uint8_t k[WIN_KEY_LEN];
	win_key(start, k);
	return part != NULL ? ls_state_put(arg, k, sizeof(k), part, len)
	                    : ls_state_delete(arg, k, sizeof(k));
}

static int
wstage_sync(void *state, ls_state *st, int all)
{
	wstage *s = state;
	uint8_t *meta;
	size_t mlen;
	int rv = ls_window_save_meta(s->w, &meta, &mlen);
	if (rv != 0)
		return rv;
	rv = ls_state_put(st, META_KEY, 1, meta, mlen);
	free(meta);
	if (rv == 0)
		rv = ls_window_save_changed(s->w, all, sync_part, st);
	if (rv == 0)
		rv = ls_evstage_sync_recent(&s->f, st, all);
	return rv;
}

static int
wstage_load(void *state, ls_state *st)
{
	wstage *s = state;
	ls_parts ps = { 0 };
	void *meta = NULL;
	size_t mlen = 0;
	int rv = ls_state_get(st, META_KEY, 1, &meta, &mlen);
	if (rv == LS_ENOENT)
		return 0; /* a fresh start */
	if (rv == 0)
		rv = ls_parts_scan(st, "w", 1, "x", 1, WIN_KEY_LEN, &ps);
	if (rv == 0)
		rv = ls_window_load_parts(s->w, meta, mlen,
		    (const uint8_t *const *)ps.p, ps.len, ps.n);
	if (rv == 0)
		rv = ls_evstage_load_recent(&s->f, st);
	if (rv != 0)
		ls_log(LS_LOG_ERROR, "window",
		    "cannot restore state stage=%s partition=%u err=%s",
		    s->f.cfg->node->name, s->f.cfg->partition, ls_errname(rv));
	ls_parts_fini(&ps);
	free(meta);
	return rv;
}

/* ---- interactive queries (docs/queries.md) ----
 * Open windows come from the state (ls_window_query: their current value,
 * final false); closed ones from the result batches the stage sent last
 * (the frame keeps at least keep_closed rows), final rows only. */
typedef struct wquery {
	wstage *s;
	const ls_kind_query *q;
	ls_records *out;
	int rv;
} wquery;

static void
on_query(void *arg, const ls_window_result *wr)
{
	wquery *c = arg;
	if (c->rv == 0 && ls_evstage_match(c->q, wr->keys, wr->nkeys,
	                      wr->start_ns, wr->end_ns))
		c->rv = ls_window_record(&c->s->spec, wr, c->out);
}

static int
closed_rows(const ls_evstage *f, const ls_kind_query *q, ls_records *out)
{
	for (uint32_t b = 0; b < f->nrecent; b++) {
		const ls_records *r = f->recent[b];
		int fin = ls_rec_schema_find(r->schema, "final");
		for (uint32_t i = 0; i < r->n; i++) {
			const ls_rec_value *v = &r->v[(size_t)i * r->schema->n];
			ls_str keys[LS_WINDOW_MAX_KEYS];
			uint32_t nk = ls_evstage_row_keys(r, i, keys,
			    LS_WINDOW_MAX_KEYS);
			if ((fin >= 0 && (v[fin].null || v[fin].i == 0)) ||
			    !ls_evstage_match(q, keys, nk, v[0].i, v[1].i))
				continue;
			if (ls_records_copy_row(out, r, i) == NULL)
				return LS_ENOMEM;
		}
	}
	return 0;
}

static int
wstage_query(void *state, const ls_kind_query *q, ls_records *out)
{
	wstage *s = state;
	wquery c = { s, q, out, 0 };
	if (!(q->flags & LS_KIND_QUERY_OPEN) &&
	    (c.rv = closed_rows(&s->f, q, out)) != 0)
		return c.rv;
	if (q->nkey > 0 && q->nkey != s->spec.nkey)
		return c.rv; /* no key has that many values */
	if (!(q->flags & LS_KIND_QUERY_CLOSED)) {
		/* a key is found by its hash; without a prefix to filter by,
		 * the first `limit` groups in order are enough */
		int rv = ls_window_query_some(s->w, q->from_ns, q->to_ns,
		    q->nkey > 0 ? q->key : NULL, q->nkey,
		    q->prefix.len == 0 ? q->limit : 0, on_query, &c);
		if (rv != 0)
			return rv;
	}
	return c.rv;
}

static int
wstage_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	wstage *s = state;
	return ls_evstage_receive(ctx, &s->f, m);
}

static const ls_behaviour window_behaviour = {
	.name = "window",
	.state_size = sizeof(wstage),
	.init = wstage_init,
	.receive = wstage_receive,
	.stop = wstage_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_window = {
	.name = "window",
	.role = LS_TOPO_STAGE,
	.flags = LS_KIND_KEYED,
	.params = LS_KIND_PARAMS(
	    { "key", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_field, "field(s) to group and partition by" },
	    { "window", LS_TV_STRING, 0, "tumbling", LS_KIND_WORDS("tumbling"),
	        LS_KIND_ANY_INT, NULL, "window kind" },
	    { "size", LS_TV_DURATION, 1, NULL, NULL, 1, INT64_MAX, NULL,
	        "window length" },
	    { "grace", LS_TV_DURATION, 0, "0s", NULL, LS_KIND_ANY_INT, NULL,
	        "how long a window stays open for late events" },
	    { "emit", LS_TV_STRING, 0, "on_close",
	        LS_KIND_WORDS("on_close", "on_update"), LS_KIND_ANY_INT, NULL,
	        "when results are emitted" },
	    { "aggregates", LS_TV_LIST, 0, "count", NULL, LS_KIND_ANY_INT,
	        ls_topo_check_aggregate, "count, or fn(field) with fn in count, "
	                                 "sum, min, max, avg" },
	    { "dead_letter", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_name, "sink that receives events too late for "
	                            "their window" },
	    { "keep_closed", LS_TV_INT, 0, "1000", NULL, 0, 1000000, NULL,
	        "closed results kept in memory for queries (per partition)" }),
	.help = "event-time windows with aggregates, grouped by key",
	.behaviour = &window_behaviour,
	.save = wstage_save,
	.restore = wstage_restore,
	.sync = wstage_sync,
	.load = wstage_load,
	.results = window_schema,
	.query = wstage_query,
};
