/*
 * evstage.c -- the frame of event-time stages (actors/evstage.h).
 */
#include "actors/evstage.h"

#include "runtime/log.h"

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
	ls_wmark_init(&f->wm, f->cfg->n_upstream, delay_ms * 1000000,
	    idle_ms * 1000000, ls_wall_ns());
	return ls_timer_start(ls_ctx_runtime(ctx), ls_self(ctx),
	    f->cfg->tick_ms, f->cfg->tick_ms, 0, NULL);
}

void
ls_evstage_fini(ls_ctx *ctx, ls_evstage *f)
{
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

/* Send what this receive gathered to every consumer. */
static void
ship(ls_ctx *ctx, ls_evstage *f)
{
	ls_records *r = f->res;
	if (r == NULL)
		return;
	f->res = NULL;
	ls_stage_emit_records(ctx, f->cfg, &f->q, r);
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
		(void)ls_wmark_heard(&f->wm, m->from.id, bmax, ls_wall_ns());
		advance(f);
		ship(ctx, f);
		return 0;
	}
	case LS_MSG_TIMER:
		advance(f);
		f->ops->idle(f->state, ls_wall_ns());
		ship(ctx, f);
		return 0;
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
