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
 * one never heard from once the stage is idle_timeout old.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/stage.h"
#include "actors/window.h"
#include "runtime/le.h"
#include "runtime/log.h"
#include "runtime/store.h"

typedef struct wstage {
	const ls_stage_cfg *cfg;
	ls_outq q;
	ls_gate gate;
	uint32_t eos;
	ls_window_spec spec;
	ls_window *w;
	ls_ctx *ctx;      /* valid during a receive, for callbacks */
	const char *source; /* source of the batch being added */
	ls_records *res;  /* results gathered during this receive */
	struct chan {
		uint64_t id;     /* sender ref */
		int64_t max_t;   /* largest event time it sent */
		int64_t heard;   /* wall time of its last message */
		int eos;
	} *ch;
	uint32_t nch, capch;
	int64_t delay_ns, idle_ns, born_ns;
} wstage;

static struct chan *
chan_get(wstage *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->nch; i++)
		if (s->ch[i].id == id)
			return &s->ch[i];
	if (s->nch == s->capch) {
		uint32_t nc = s->capch ? s->capch * 2 : 8;
		struct chan *n = realloc(s->ch, nc * sizeof(*n));
		if (n == NULL)
			return NULL;
		s->ch = n;
		s->capch = nc;
	}
	struct chan *c = &s->ch[s->nch++];
	c->id = id;
	c->max_t = INT64_MIN;
	c->heard = ls_wall_ns();
	c->eos = 0;
	return c;
}

/* Advance the window to min over live channels of their progress. */
static void
advance(wstage *s)
{
	int64_t now = ls_wall_ns();
	int64_t low = INT64_MAX;
	uint32_t live = 0;

	if (s->nch < s->cfg->n_upstream && now - s->born_ns < s->idle_ns)
		return; /* an input not heard from yet may still be behind */
	for (uint32_t i = 0; i < s->nch; i++) {
		const struct chan *c = &s->ch[i];
		if (c->eos || now - c->heard > s->idle_ns)
			continue;
		if (c->max_t == INT64_MIN)
			return;
		if (c->max_t < low)
			low = c->max_t;
		live++;
	}
	if (live == 0 || low == INT64_MIN)
		return;
	ls_window_advance(s->w, low < INT64_MIN + s->delay_ns
	        ? INT64_MIN : low - s->delay_ns);
}

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
	if (s->res == NULL &&
	    (s->res = ls_records_new(s->cfg->results, s->cfg->node->name,
	         s->cfg->partition)) == NULL)
		goto oom;
	if (ls_window_record(&s->spec, wr, s->res) != 0)
		goto oom;
	ls_metric_add(s->cfg->ctr.results, 1);
	return;
oom:
	ls_log(LS_LOG_ERROR, "window", "out of memory: result dropped stage=%s",
	    s->cfg->node->name);
}

static void
on_late(void *arg, const ls_event *ev, int64_t window_start_ns,
    int64_t watermark_ns)
{
	wstage *s = arg;
	(void)window_start_ns;
	(void)watermark_ns;
	ls_metric_add(s->cfg->ctr.late, 1);
	ls_stage_dead_event(s->ctx, s->cfg, &s->q,
	    "late event: its window had closed", ev, s->source);
}

static int
wstage_init(ls_ctx *ctx, void *state, const void *arg)
{
	wstage *s = state;
	const ls_stage_cfg *cfg = arg;
	const ls_topo_node *n = cfg->node;
	char err[256];

	s->cfg = cfg;
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
	if ((rv = ls_stage_restore_state(cfg, &s->gate, s)) != 0)
		return rv;
	s->delay_ns = delay_ms * 1000000;
	s->idle_ns = idle_ms * 1000000;
	s->born_ns = ls_wall_ns();
	return ls_timer_start(ls_ctx_runtime(ctx), ls_self(ctx), cfg->tick_ms,
	    cfg->tick_ms, 0, NULL);
}

static void
wstage_stop(ls_ctx *ctx, void *state)
{
	wstage *s = state;
	ls_window_free(s->w);
	s->w = NULL;
	free(s->ch);
	s->ch = NULL;
	if (s->res != NULL)
		ls_records_unref(s->res);
	s->res = NULL;
	ls_outq_fini(ls_ctx_runtime(ctx), &s->q);
	ls_gate_fini(&s->gate);
}

/* Send what this receive gathered to every consumer. */
static void
ship(ls_ctx *ctx, wstage *s)
{
	ls_records *r = s->res;
	if (r == NULL)
		return;
	s->res = NULL;
	ls_stage_emit_records(ctx, s->cfg, &s->q, r);
}

static int
wstage_handle(ls_ctx *ctx, void *state, ls_msg *m)
{
	wstage *s = state;

	s->ctx = ctx;
	switch (m->type) {
	case LS_MSG_BATCH: {
		ls_batch *b = m->ptr;
		int64_t bmax = INT64_MIN;
		s->source = b->source;
		for (uint32_t i = 0; i < b->n; i++) {
			const ls_event *ev = b->items[i];
			int64_t t = ev->time_ns != LS_TIME_UNKNOWN ? ev->time_ns
			                                          : ev->ingest_ns;
			if (t != LS_TIME_UNKNOWN && t > bmax)
				bmax = t;
			int rv = ls_window_add(s->w, ev);
			if (rv == LS_ENOMEM)
				return rv; /* supervision restarts us */
			if (rv != 0)
				ls_stage_dead_event(ctx, s->cfg, &s->q,
				    rv == LS_EINVAL ? "event has no time"
				                    : "key or time out of range",
				    ev, b->source);
		}
		ls_metric_add(s->cfg->ctr.in, b->n);
		struct chan *c = chan_get(s, m->from.id);
		if (c != NULL) {
			c->heard = ls_wall_ns();
			if (bmax > c->max_t)
				c->max_t = bmax;
		}
		advance(s);
		ship(ctx, s);
		return 0;
	}
	case LS_MSG_TIMER:
		advance(s);
		ls_window_idle(s->w, ls_wall_ns());
		ship(ctx, s);
		return 0;
	case LS_MSG_WRITABLE:
		ls_outq_flush(ctx, &s->q);
		return 0;
	case LS_MSG_EOS: {
		struct chan *c = chan_get(s, m->from.id);
		if (c != NULL)
			c->eos = 1;
		advance(s);
		ship(ctx, s);
		if (++s->eos == s->cfg->n_upstream) {
			ls_window_flush(s->w);
			ship(ctx, s);
			ls_stage_emit_eos(ctx, s->cfg, &s->q,
			    s->gate.eos_max);
		}
		return 0;
	}
	default:
		return 0;
	}
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
		    s->cfg->node->name, s->cfg->partition, ls_errname(rv));
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
	return rv;
}

typedef struct parts {
	uint8_t **p;
	size_t *len;
	size_t n, cap;
	int rv;
} parts;

static int
collect_part(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	parts *ps = arg;
	if (kl != WIN_KEY_LEN) {
		ps->rv = LS_ECORRUPT;
		return 1;
	}
	if (ps->n == ps->cap) {
		size_t nc = ps->cap ? ps->cap * 2 : 16;
		uint8_t **np = realloc(ps->p, nc * sizeof(*np));
		if (np == NULL)
			goto oom;
		ps->p = np;
		size_t *nl = realloc(ps->len, nc * sizeof(*nl));
		if (nl == NULL)
			goto oom;
		ps->len = nl;
		ps->cap = nc;
	}
	if ((ps->p[ps->n] = malloc(vl > 0 ? vl : 1)) == NULL)
		goto oom;
	memcpy(ps->p[ps->n], v, vl);
	ps->len[ps->n++] = vl;
	return 0;
oom:
	ps->rv = LS_ENOMEM;
	return 1;
}

static int
wstage_load(void *state, ls_state *st)
{
	wstage *s = state;
	parts ps = { 0 };
	void *meta = NULL;
	size_t mlen = 0;
	int rv = ls_state_get(st, META_KEY, 1, &meta, &mlen);
	if (rv == LS_ENOENT)
		return 0; /* a fresh start */
	if (rv == 0) {
		rv = ls_state_scan(st, "w", 1, "x", 1, collect_part, &ps);
		if (rv == 0 || ps.rv != 0)
			rv = ps.rv;
	}
	if (rv == 0)
		rv = ls_window_load_parts(s->w, meta, mlen,
		    (const uint8_t *const *)ps.p, ps.len, ps.n);
	if (rv != 0)
		ls_log(LS_LOG_ERROR, "window",
		    "cannot restore state stage=%s partition=%u err=%s",
		    s->cfg->node->name, s->cfg->partition, ls_errname(rv));
	for (size_t i = 0; i < ps.n; i++)
		free(ps.p[i]);
	free(ps.p);
	free(ps.len);
	free(meta);
	return rv;
}

static int
wstage_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	wstage *s = state;
	s->ctx = ctx;
	return ls_stage_receive(ctx, &s->gate, s->cfg, &s->q, m, wstage_handle,
	    s);
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
	                            "their window" }),
	.help = "event-time windows with aggregates, grouped by key",
	.behaviour = &window_behaviour,
	.save = wstage_save,
	.restore = wstage_restore,
	.sync = wstage_sync,
	.load = wstage_load,
	.results = window_schema,
};
