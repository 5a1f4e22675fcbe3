/*
 * evstage.c -- the frame of event-time stages (actors/evstage.h).
 */
#include "actors/evstage.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"
#include "runtime/store.h"
#include "schemas/codec.h"

void
ls_evstage_init(ls_evstage *f, const ls_stage_cfg *cfg,
    const ls_evstage_ops *ops, void *state, const char *mod)
{
	f->cfg = cfg;
	f->ops = ops;
	f->state = state;
	f->mod = mod;
}

int
ls_evstage_start(ls_ctx *ctx, ls_evstage *f)
{
	int64_t delay_ms = ls_topology_setting_ms(f->cfg->topo,
	    "watermark_delay", 2000);
	int64_t idle_ms = ls_topology_setting_ms(f->cfg->topo, "idle_timeout",
	    5000);
	/* the stage's age counts from here, after its state was restored */
	f->rx_ns = ls_wall_ns();
	ls_wmark_init(&f->wm, f->cfg->n_upstream, delay_ms * 1000000,
	    idle_ms * 1000000, f->rx_ns);
	return ls_timer_start(ls_ctx_runtime(ctx), ls_self(ctx),
	    f->cfg->tick_ms, f->cfg->tick_ms, 0, NULL);
}

void
ls_evstage_fini(ls_ctx *ctx, ls_evstage *f)
{
	for (uint32_t i = 0; i < f->nrecent; i++)
		ls_records_unref(f->recent[i]);
	free(f->recent);
	f->recent = NULL;
	f->nrecent = f->caprecent = 0;
	f->recent_rows = 0;
	ls_wmark_fini(&f->wm);
	if (f->res != NULL)
		ls_records_unref(f->res);
	f->res = NULL;
	ls_outq_fini(ls_ctx_runtime(ctx), &f->q);
	ls_gate_fini(&f->gate);
}

ls_records *
ls_evstage_rows(ls_evstage *f)
{
	if (f->res == NULL &&
	    (f->res = ls_records_new(f->cfg->results, f->cfg->node->name,
	         f->cfg->partition)) == NULL)
		ls_evstage_counted(f, LS_ENOMEM);
	return f->res;
}

void
ls_evstage_counted(ls_evstage *f, int rc)
{
	if (rc == 0)
		ls_metric_add(f->cfg->ctr.results, 1);
	else
		ls_log(LS_LOG_ERROR, f->mod,
		    "out of memory: result dropped stage=%s",
		    f->cfg->node->name);
}

/* Keep a reference on r for queries, dropping the oldest batches beyond
 * f->keep rows.  Out of memory keeps nothing new (queries then miss r). */
static void
remember(ls_evstage *f, ls_records *r)
{
	if (f->keep == 0 || r->n == 0)
		return;
	if (f->nrecent == f->caprecent) {
		uint32_t nc = f->caprecent ? f->caprecent * 2 : 8;
		ls_records **nr = realloc(f->recent, nc * sizeof(*nr));
		if (nr == NULL)
			return;
		f->recent = nr;
		f->caprecent = nc;
	}
	ls_records_ref(r);
	f->recent[f->nrecent++] = r;
	f->recent_rows += r->n;
	uint32_t drop = 0;
	while (drop + 1 < f->nrecent &&
	    f->recent_rows - f->recent[drop]->n >= f->keep) {
		f->recent_rows -= f->recent[drop]->n;
		ls_records_unref(f->recent[drop]);
		drop++;
	}
	if (drop > 0) {
		memmove(f->recent, f->recent + drop,
		    (f->nrecent - drop) * sizeof(*f->recent));
		f->nrecent -= drop;
		f->seq0 += drop;
	}
}

#define RECENT_KEY_LEN 9

static void
recent_key(uint64_t seq, uint8_t k[RECENT_KEY_LEN])
{
	k[0] = 'r';
	for (int i = 0; i < 8; i++)
		k[1 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

int
ls_evstage_sync_recent(ls_evstage *f, ls_state *st, int all)
{
	uint8_t k[RECENT_KEY_LEN];
	int rv = 0;
	if (all)
		f->written = f->seq0; /* a whole state: every batch kept */
	/* dropped since the last sync (at most what was kept then) */
	if (f->gone < f->seq0 && f->written > f->gone) {
		uint64_t upto = f->seq0 < f->written ? f->seq0 : f->written;
		for (uint64_t s = f->gone; rv == 0 && s < upto; s++) {
			recent_key(s, k);
			rv = ls_state_delete(st, k, sizeof(k));
		}
	}
	if (rv != 0)
		return rv;
	f->gone = f->seq0;
	if (f->written < f->seq0)
		f->written = f->seq0;
	for (uint64_t s = f->written; s < f->seq0 + f->nrecent; s++) {
		ls_buf b = { NULL, 0 };
		rv = ls_codec_records_encode(f->recent[s - f->seq0], &b);
		if (rv == 0) {
			recent_key(s, k);
			rv = ls_state_put(st, k, sizeof(k), b.data, b.len);
		}
		ls_buf_free(&b);
		if (rv != 0)
			return rv;
		f->written = s + 1;
	}
	return 0;
}

typedef struct load_acc {
	ls_evstage *f;
	uint64_t next;
	int first;
	int rv;
} load_acc;

static int
load_one(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	load_acc *a = arg;
	ls_evstage *f = a->f;
	if (kl != RECENT_KEY_LEN)
		return 0;
	uint64_t s = 0;
	for (int i = 0; i < 8; i++)
		s = s << 8 | ((const uint8_t *)k)[1 + i];
	/* the buffer must be 8-byte aligned for the codec */
	void *copy = malloc(vl ? vl : 1);
	if (copy == NULL)
		return a->rv = LS_ENOMEM;
	memcpy(copy, v, vl);
	ls_records *r = NULL;
	int rv = ls_codec_records_decode(copy, vl, &r);
	free(copy);
	if (rv != 0)
		return a->rv = rv;
	if (a->first) {
		f->seq0 = s;
		a->first = 0;
	} else if (s != a->next) {
		ls_records_unref(r);
		return a->rv = LS_ECORRUPT; /* batches are contiguous */
	}
	a->next = s + 1;
	if (f->nrecent == f->caprecent) {
		uint32_t nc = f->caprecent ? f->caprecent * 2 : 8;
		ls_records **nr = realloc(f->recent, nc * sizeof(*nr));
		if (nr == NULL) {
			ls_records_unref(r);
			return a->rv = LS_ENOMEM;
		}
		f->recent = nr;
		f->caprecent = nc;
	}
	f->recent[f->nrecent++] = r;
	f->recent_rows += r->n;
	return 0;
}

int
ls_evstage_load_recent(ls_evstage *f, ls_state *st)
{
	load_acc a = { f, 0, 1, 0 };
	int rv = ls_state_scan(st, "r", 1, "s", 1, load_one, &a);
	if (rv == 0)
		rv = a.rv;
	if (rv != 0) {
		for (uint32_t i = 0; i < f->nrecent; i++)
			ls_records_unref(f->recent[i]);
		f->nrecent = 0;
		f->recent_rows = 0;
		return rv;
	}
	f->written = f->seq0 + f->nrecent;
	f->gone = f->seq0;
	return 0;
}

/* Send what this receive gathered to every consumer. */
static void
ship(ls_ctx *ctx, ls_evstage *f)
{
	ls_records *r = f->res;
	if (r == NULL)
		return;
	f->res = NULL;
	remember(f, r);
	ls_stage_emit_records(ctx, f->cfg, &f->q, r);
}

static int
str_eq(ls_str a, ls_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int
ls_evstage_match(const ls_kind_query *q, const ls_str *keys, uint32_t nkeys,
    int64_t start_ns, int64_t end_ns)
{
	if (start_ns >= q->to_ns || end_ns <= q->from_ns)
		return 0;
	if (q->nkey > 0) {
		if (q->nkey != nkeys)
			return 0;
		for (uint32_t i = 0; i < nkeys; i++)
			if (!str_eq(q->key[i], keys[i]))
				return 0;
	}
	if (q->prefix.len > 0 &&
	    (nkeys == 0 || keys[0].len < q->prefix.len ||
	        memcmp(keys[0].ptr, q->prefix.ptr, q->prefix.len) != 0))
		return 0;
	return 1;
}

uint32_t
ls_evstage_row_keys(const ls_records *r, uint32_t row, ls_str *keys,
    uint32_t max)
{
	const ls_rec_schema *sc = r->schema;
	const ls_rec_value *v = &r->v[(size_t)row * sc->n];
	uint32_t n = 0;
	for (uint32_t i = 0; i < sc->n && n < max; i++)
		if (sc->f[i].flags & LS_REC_KEY)
			keys[n++] = v[i].null ? ls_str_make(NULL, 0) : v[i].s;
	return n;
}

static void
advance(ls_evstage *f)
{
	int64_t w;
	if (ls_wmark_get(&f->wm, ls_wall_ns(), &w))
		f->ops->advance(f->state, w);
}

static int
handle(ls_ctx *ctx, void *actor, ls_msg *m)
{
	ls_evstage *f = actor;

	f->ctx = ctx;
	switch (m->type) {
	case LS_MSG_BATCH: {
		ls_batch *b = m->ptr;
		int64_t bmax = INT64_MIN;
		f->source = b->source;
		for (uint32_t i = 0; i < b->n; i++) {
			const ls_event *ev = b->items[i];
			int64_t t = ev->time_ns != LS_TIME_UNKNOWN ? ev->time_ns
			                                          : ev->ingest_ns;
			if (t != LS_TIME_UNKNOWN && t > bmax)
				bmax = t;
			int rv = f->ops->add(f->state, ev);
			if (rv == LS_ENOMEM)
				return rv; /* supervision restarts us */
			if (rv != 0)
				ls_stage_dead_event(ctx, f->cfg, &f->q,
				    rv == LS_EINVAL ? "event has no time"
				                    : "key or time out of range",
				    ev, b->source);
		}
		ls_metric_add(f->cfg->ctr.in, b->n);
		f->rx_ns = ls_wall_ns();
		(void)ls_wmark_heard(&f->wm, m->from.id, bmax, f->rx_ns);
		advance(f);
		ship(ctx, f);
		return 0;
	}
	case LS_MSG_TIMER: {
		advance(f);
		/* Idle means no input arrives, not old input: the kind's rule
		 * (event time advances with wall time since the last ingest)
		 * only after idle_timeout without a batch.  Events that arrive
		 * long after their ingest -- a replay after a restore from a
		 * checkpoint older than idle_timeout, a backlog on a loaded
		 * machine -- would otherwise move the watermark past the
		 * windows they belong to, and the rest of them would be late. */
		int64_t now = ls_wall_ns();
		if (now - f->rx_ns >= f->wm.idle_ns)
			f->ops->idle(f->state, now);
		ship(ctx, f);
		return 0;
	}
	case LS_MSG_WRITABLE:
		ls_outq_flush(ctx, &f->q);
		return 0;
	case LS_MSG_EOS:
		(void)ls_wmark_eos(&f->wm, m->from.id, ls_wall_ns());
		advance(f);
		ship(ctx, f);
		if (++f->eos == f->cfg->n_upstream) {
			f->ops->flush(f->state);
			ship(ctx, f);
			ls_stage_emit_eos(ctx, f->cfg, &f->q, f->gate.eos_max);
		}
		return 0;
	default:
		return 0;
	}
}

int
ls_evstage_receive(ls_ctx *ctx, ls_evstage *f, ls_msg *m)
{
	f->ctx = ctx;
	return ls_stage_receive(ctx, &f->gate, f->cfg, &f->q, m, handle, f);
}
