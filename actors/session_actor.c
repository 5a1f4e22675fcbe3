/*
 * session_actor.c -- the `session` stage: one ls_session per partition.
 *
 * Events extend, start or merge the sessions of their key
 * (actors/session.h); sessions that the watermark closes are gathered per
 * receive into one ls_records and sent to every consumer (sinks).  The kind
 * table ls_kind_session (end of file) gives their schema
 * (ls_session_schema).  Batches, ticks and end of stream go through the
 * frame shared with the window stage (actors/evstage.h): per-input
 * watermarks (actors/wmark.h), a periodic timer that lets an idle source's
 * sessions close (idle_timeout), and at end of stream every open session
 * closes.  Late events go to the dead-letter output with the reason.
 *
 * State: with a store, the partition's sessions are keys of its ls_state
 * handle and checkpoints ship the sessions changed since the previous one
 * (ls_session_sync / ls_session_load); without one, a whole blob
 * (ls_session_save / ls_session_restore).  docs/sessions.md has the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/evstage.h"
#include "actors/session.h"
#include "runtime/log.h"
#include "runtime/store.h"

typedef struct sstage {
	ls_evstage f; /* first: the frame's receive passes the whole state */
	ls_session_spec spec;
	ls_session *s;
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
	ls_records *out = ls_evstage_rows(&s->f);
	if (out != NULL)
		ls_evstage_counted(&s->f, ls_session_record(&s->spec, r, out));
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
	ls_metric_add(s->f.cfg->ctr.late, 1);
	ls_stage_dead_event(s->f.ctx, s->f.cfg, &s->f.q, why, ev, s->f.source);
}

static int
s_add(void *st, const ls_event *ev)
{
	return ls_session_add(st, ev);
}

static void
s_advance(void *st, int64_t wm)
{
	ls_session_advance(st, wm);
}

static void
s_idle(void *st, int64_t now)
{
	ls_session_idle(st, now);
}

static void
s_flush(void *st)
{
	ls_session_flush(st);
}

static const ls_evstage_ops session_ops = { s_add, s_advance, s_idle,
	s_flush };

static int
sstage_init(ls_ctx *ctx, void *state, const void *arg)
{
	sstage *s = state;
	const ls_stage_cfg *cfg = arg;
	char err[256];

	int rv = spec_of(cfg->node, &s->spec, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "session",
		    "bad session stage=%s reason=\"%s\"", cfg->node->name, err);
		return rv;
	}
	if (cfg->results == NULL)
		return LS_EINVAL; /* the pipeline builds it for every session */
	rv = ls_session_new(&s->s, &s->spec,
	    ls_topology_setting_ms(cfg->topo, "watermark_delay", 2000),
	    ls_topology_setting_ms(cfg->topo, "idle_timeout", 5000), on_emit,
	    on_late, s);
	if (rv != 0)
		return rv;
	ls_session_set_manual_watermark(s->s, 1);
	ls_evstage_init(&s->f, cfg, &session_ops, s->s, "session");
	s->f.keep = (size_t)ls_topo_int(cfg->node, "keep_closed");
	if ((rv = ls_stage_restore_state(cfg, &s->f.gate, s)) != 0)
		return rv;
	return ls_evstage_start(ctx, &s->f);
}

static void
sstage_stop(ls_ctx *ctx, void *state)
{
	sstage *s = state;
	ls_session_free(s->s);
	s->s = NULL;
	ls_evstage_fini(ctx, &s->f);
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
	    s->f.cfg->node->name, s->f.cfg->partition, ls_errname(rv));
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
	int rv = ls_session_sync(s->s, st, all);
	return rv != 0 ? rv : ls_evstage_sync_recent(&s->f, st, all);
}

static int
sstage_load(void *state, ls_state *st)
{
	sstage *s = state;
	int rv = ls_session_load(s->s, st);
	if (rv == 0)
		rv = ls_evstage_load_recent(&s->f, st);
	if (rv != 0)
		restore_failed(s, rv);
	return rv;
}

/* ---- interactive queries (docs/queries.md) ----
 * Rows are the result schema and a last field `open`: open sessions come
 * from the state (ls_session_query), closed ones from the result batches
 * the stage sent last (at least keep_closed rows). */
static int
query_schema(const ls_topo_node *n, ls_rec_schema *out, char *err,
    size_t errlen)
{
	int rv = session_schema(n, out, err, errlen);
	if (rv == 0 && (rv = ls_rec_schema_add(out, "open", LS_REC_BOOL,
	                    0)) != 0)
		snprintf(err, errlen, "cannot describe answers: %s",
		    ls_strerror(rv));
	return rv;
}

typedef struct squery {
	sstage *s;
	const ls_kind_query *q;
	ls_records *out;
	int rv;
} squery;

/* The last row of out is open (1) or closed (0). */
static void
set_open(ls_records *out, int open)
{
	ls_rec_value *v = &out->v[(size_t)(out->n - 1) * out->schema->n];
	v[out->schema->n - 1].i = open;
	v[out->schema->n - 1].null = 0;
}

static int
span_match(const ls_kind_query *q, const ls_str *keys, uint32_t nk,
    int64_t start, int64_t end)
{
	/* a session spans [start, end]: end is its last event */
	return ls_evstage_match(q, keys, nk, start,
	    end < INT64_MAX ? end + 1 : end);
}

static void
on_query(void *arg, const ls_session_result *r)
{
	squery *c = arg;
	if (c->rv != 0 ||
	    !span_match(c->q, r->keys, r->nkeys, r->start_ns, r->end_ns))
		return;
	if ((c->rv = ls_session_record(&c->s->spec, r, c->out)) == 0)
		set_open(c->out, 1);
}

static int
closed_rows(const ls_evstage *f, const ls_kind_query *q, ls_records *out)
{
	for (uint32_t b = 0; b < f->nrecent; b++) {
		const ls_records *r = f->recent[b];
		for (uint32_t i = 0; i < r->n; i++) {
			const ls_rec_value *v = &r->v[(size_t)i * r->schema->n];
			ls_str keys[LS_SESSION_MAX_KEYS];
			uint32_t nk = ls_evstage_row_keys(r, i, keys,
			    LS_SESSION_MAX_KEYS);
			if (!span_match(q, keys, nk, v[0].i, v[1].i))
				continue;
			if (ls_records_copy_row(out, r, i) == NULL)
				return LS_ENOMEM;
			set_open(out, 0);
		}
	}
	return 0;
}

static int
sstage_query(void *state, const ls_kind_query *q, ls_records *out)
{
	sstage *s = state;
	squery c = { s, q, out, 0 };
	if (!(q->flags & LS_KIND_QUERY_OPEN) &&
	    (c.rv = closed_rows(&s->f, q, out)) != 0)
		return c.rv;
	if (q->nkey > 0 && q->nkey != s->spec.nkey)
		return c.rv; /* no key has that many values */
	if (!(q->flags & LS_KIND_QUERY_CLOSED)) {
		int rv = ls_session_query_some(s->s, q->from_ns, q->to_ns,
		    q->nkey > 0 ? q->key : NULL, q->nkey, on_query, &c);
		if (rv != 0)
			return rv;
	}
	return c.rv;
}

static int
sstage_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	sstage *s = state;
	return ls_evstage_receive(ctx, &s->f, m);
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
	                            "grace" },
	    { "keep_closed", LS_TV_INT, 0, "1000", NULL, 0, 1000000, NULL,
	        "closed sessions kept in memory for queries (per "
	        "partition)" }),
	.help = "event-time sessions per key, closed after an inactivity gap",
	.behaviour = &session_behaviour,
	.save = sstage_save,
	.restore = sstage_restore,
	.sync = sstage_sync,
	.load = sstage_load,
	.results = session_schema,
	.query = sstage_query,
	.query_schema = query_schema,
};
