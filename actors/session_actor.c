/*
 * session_actor.c -- the `session` stage: one ls_session per partition.
 *
 * Events extend, start or merge the sessions of their key
 * (actors/session.h); sessions that the watermark closes are gathered per
 * receive into one ls_records and sent to every consumer (sinks).  The kind
 * table ls_kind_session (end of file) gives their schema
 * (ls_session_schema).  Watermarks are per input, as in the window stage
 * (actors/wmark.h); a periodic timer lets an idle source's sessions close
 * (idle_timeout).  Late events go to the dead-letter output with the
 * reason.  At end of stream every open session closes.
 *
 * State: with a store, the partition's sessions are keys of its ls_state
 * handle and checkpoints ship the sessions changed since the previous one
 * (ls_session_sync / ls_session_load); without one, a whole blob
 * (ls_session_save / ls_session_restore).  docs/sessions.md has the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/session.h"
#include "actors/stage.h"
#include "actors/wmark.h"
#include "runtime/log.h"
#include "runtime/store.h"

typedef struct sstage {
	const ls_stage_cfg *cfg;
	ls_outq q;
	ls_gate gate;
	uint32_t eos;
	ls_session_spec spec;
	ls_session *s;
	ls_wmark wm;
	ls_ctx *ctx;        /* valid during a receive, for callbacks */
	const char *source; /* source of the batch being added */
	ls_records *res;    /* results gathered during this receive */
} sstage;

static int
spec_of(const ls_topo_node *n, ls_session_spec *spec, char *err,
    size_t errlen)
{
	size_t nc = 0;
	const char **counters = ls_topo_list(n, "counters", &nc);
	return ls_session_spec_init(spec, ls_topo_ms(n, "gap"),
	    ls_topo_ms(n, "max_duration"), ls_topo_ms(n, "grace"), n->key,
	    n->nkey, ls_topo_str(n, "path_field"), counters, nc, err, errlen);
}

static int
session_schema(const ls_topo_node *n, ls_rec_schema *out, char *err,
    size_t errlen)
{
	ls_session_spec spec;
	int rv = spec_of(n, &spec, err, errlen);
	if (rv == 0 && (rv = ls_session_schema(&spec, out)) != 0)
		snprintf(err, errlen, "cannot describe results: %s",
		    ls_strerror(rv));
	return rv;
}

static void
on_emit(void *arg, const ls_session_result *r)
{
	sstage *s = arg;
	if (s->res == NULL &&
	    (s->res = ls_records_new(s->cfg->results, s->cfg->node->name,
	         s->cfg->partition)) == NULL)
		goto oom;
	if (ls_session_record(&s->spec, r, s->res) != 0)
		goto oom;
	ls_metric_add(s->cfg->ctr.results, 1);
	return;
oom:
	ls_log(LS_LOG_ERROR, "session", "out of memory: result dropped stage=%s",
	    s->cfg->node->name);
}

static void
on_late(void *arg, const ls_event *ev, int64_t watermark_ns)
{
	sstage *s = arg;
	char why[160];
	int64_t t = ev->time_ns != LS_TIME_UNKNOWN ? ev->time_ns : ev->ingest_ns;
	snprintf(why, sizeof(why),
	    "late event: %lld ms behind the watermark, more than grace "
	    "(%lld ms)",
	    (long long)((watermark_ns - t) / 1000000),
	    (long long)s->spec.grace_ms);
	ls_metric_add(s->cfg->ctr.late, 1);
	ls_stage_dead_event(s->ctx, s->cfg, &s->q, why, ev, s->source);
}

static void
advance(sstage *s)
{
	int64_t w;
	if (ls_wmark_get(&s->wm, ls_wall_ns(), &w))
		ls_session_advance(s->s, w);
}

static int
sstage_init(ls_ctx *ctx, void *state, const void *arg)
{
	sstage *s = state;
	const ls_stage_cfg *cfg = arg;
	char err[256];

	s->cfg = cfg;
	int rv = spec_of(cfg->node, &s->spec, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "session",
		    "bad session stage=%s reason=\"%s\"", cfg->node->name, err);
		return rv;
	}
	if (cfg->results == NULL)
		return LS_EINVAL; /* the pipeline builds it for every session */
	int64_t delay_ms = ls_topology_setting_ms(cfg->topo, "watermark_delay",
	    2000);
	int64_t idle_ms = ls_topology_setting_ms(cfg->topo, "idle_timeout",
	    5000);
	rv = ls_session_new(&s->s, &s->spec, delay_ms, idle_ms, on_emit,
	    on_late, s);
	if (rv != 0)
		return rv;
	ls_session_set_manual_watermark(s->s, 1);
	if ((rv = ls_stage_restore_state(cfg, &s->gate, s)) != 0)
		return rv;
	ls_wmark_init(&s->wm, cfg->n_upstream, delay_ms * 1000000,
	    idle_ms * 1000000, ls_wall_ns());
	return ls_timer_start(ls_ctx_runtime(ctx), ls_self(ctx), cfg->tick_ms,
	    cfg->tick_ms, 0, NULL);
}

static void
sstage_stop(ls_ctx *ctx, void *state)
{
	sstage *s = state;
	ls_session_free(s->s);
	s->s = NULL;
	ls_wmark_fini(&s->wm);
	if (s->res != NULL)
		ls_records_unref(s->res);
	s->res = NULL;
	ls_outq_fini(ls_ctx_runtime(ctx), &s->q);
	ls_gate_fini(&s->gate);
}

/* Send what this receive gathered to every consumer. */
static void
ship(ls_ctx *ctx, sstage *s)
{
	ls_records *r = s->res;
	if (r == NULL)
		return;
	s->res = NULL;
	ls_stage_emit_records(ctx, s->cfg, &s->q, r);
}

static int
sstage_handle(ls_ctx *ctx, void *state, ls_msg *m)
{
	sstage *s = state;

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
			int rv = ls_session_add(s->s, ev);
			if (rv == LS_ENOMEM)
				return rv; /* supervision restarts us */
			if (rv != 0)
				ls_stage_dead_event(ctx, s->cfg, &s->q,
				    rv == LS_EINVAL ? "event has no time"
				                    : "key or time out of range",
				    ev, b->source);
		}
		ls_metric_add(s->cfg->ctr.in, b->n);
		(void)ls_wmark_heard(&s->wm, m->from.id, bmax, ls_wall_ns());
		advance(s);
		ship(ctx, s);
		return 0;
	}
	case LS_MSG_TIMER:
		advance(s);
		ls_session_idle(s->s, ls_wall_ns());
		ship(ctx, s);
		return 0;
	case LS_MSG_WRITABLE:
		ls_outq_flush(ctx, &s->q);
		return 0;
	case LS_MSG_EOS:
		(void)ls_wmark_eos(&s->wm, m->from.id, ls_wall_ns());
		advance(s);
		ship(ctx, s);
		if (++s->eos == s->cfg->n_upstream) {
			ls_session_flush(s->s);
			ship(ctx, s);
			ls_stage_emit_eos(ctx, s->cfg, &s->q, s->gate.eos_max);
		}
		return 0;
	default:
		return 0;
	}
}

/* Checkpoints hold the open sessions, the watermark and the counters;
 * per-channel progress restarts empty, which can only close sessions
 * later, never make an event late (docs/failure-semantics.md). */
static int
sstage_save(void *state, uint64_t ckpt, int final, uint8_t **buf,
    size_t *len)
{
	sstage *s = state;
	(void)ckpt;
	(void)final;
	return ls_session_save(s->s, buf, len);
}

static void
restore_failed(const sstage *s, int rv)
{
	ls_log(LS_LOG_ERROR, "session",
	    "cannot restore state stage=%s partition=%u err=%s",
	    s->cfg->node->name, s->cfg->partition, ls_errname(rv));
}

static int
sstage_restore(void *state, const uint8_t *buf, size_t len)
{
	sstage *s = state;
	if (buf == NULL || len == 0)
		return 0; /* a fresh start */
	int rv = ls_session_restore(s->s, buf, len);
	if (rv != 0)
		restore_failed(s, rv);
	return rv;
}

static int
sstage_sync(void *state, ls_state *st, int all)
{
	sstage *s = state;
	return ls_session_sync(s->s, st, all);
}

static int
sstage_load(void *state, ls_state *st)
{
	sstage *s = state;
	int rv = ls_session_load(s->s, st);
	if (rv != 0)
		restore_failed(s, rv);
	return rv;
}

static int
sstage_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	sstage *s = state;
	s->ctx = ctx;
	return ls_stage_receive(ctx, &s->gate, s->cfg, &s->q, m, sstage_handle,
	    s);
}

static int
check_counter(const char *v, char *why, size_t len)
{
	ls_session_counter c;
	return ls_session_counter_parse(v, &c, why, len) != 0;
}

static const ls_behaviour session_behaviour = {
	.name = "session",
	.state_size = sizeof(sstage),
	.init = sstage_init,
	.receive = sstage_receive,
	.stop = sstage_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_session = {
	.name = "session",
	.role = LS_TOPO_STAGE,
	.flags = LS_KIND_KEYED,
	.params = LS_KIND_PARAMS(
	    { "key", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_field, "field(s) a session belongs to" },
	    { "gap", LS_TV_DURATION, 1, NULL, NULL, 1, INT64_C(1) << 40, NULL,
	        "inactivity that ends a session" },
	    { "max_duration", LS_TV_DURATION, 0, "0s", NULL, 0,
	        INT64_C(1) << 40, NULL,
	        "sessions never cross a multiple of this since the epoch "
	        "(0s: no limit)" },
	    { "grace", LS_TV_DURATION, 0, "0s", NULL, 0, INT64_C(1) << 40, NULL,
	        "how far behind the watermark an event may still arrive" },
	    { "path_field", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_field, "field whose distinct values are counted" },
	    { "counters", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        check_counter, "'name: condition' entries, each counting the "
	                       "events that match" },
	    { "dead_letter", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_name, "sink that receives events later than "
	                            "grace" }),
	.help = "event-time sessions per key, closed after an inactivity gap",
	.behaviour = &session_behaviour,
	.save = sstage_save,
	.restore = sstage_restore,
	.sync = sstage_sync,
	.load = sstage_load,
	.results = session_schema,
};
