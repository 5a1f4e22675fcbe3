/*
 * pipeline.c -- spawning and wiring a plan's actors on one runtime, and the
 * output helpers every stage actor uses (see pipeline.h and stage.h).
 */
#include "pipeline.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/sinkfmt.h"
#include "actors/stage.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "schemas/codec.h"

typedef struct node_ctr {
	_Atomic int64_t in, out, dead, late, results;
} node_ctr;

struct ls_pipeline {
	ls_runtime *rt;
	ls_pipeline_opts opts;
	uint8_t *local;       /* one per plan actor: runs here */
	const ls_plan *plan;
	const ls_topology *topo;
	size_t nactors;
	ls_stage_cfg *cfgs;   /* one per plan actor */
	ls_ref *refs;         /* one per plan actor */
	size_t nnodes;
	node_ctr *ctr;        /* one per topology node */
	ls_rec_schema **schemas; /* one per topology node: its result
	                            schema, or NULL (passes events on) */
	ls_stage_out *outs;   /* all output tables */
	ls_ref **out_refs;
	size_t nouts_total;
	uint32_t sinks_total;
	_Atomic uint32_t sinks_done;
	_Atomic uint64_t *folded; /* one per plan actor: keyed state base,
	                             UINT64_MAX = none */
	_Atomic int drained;
	/* regional restore: per plan actor, its incarnation (the epoch it
	 * last restarted in, 0 = the pipeline's start) and the checkpoint it
	 * restarted from; every sender replays to it once it sees a newer
	 * incarnation than it knew */
	_Atomic uint64_t *inc;
	_Atomic uint64_t *rewind_ck;
	_Atomic uint8_t *sink_done; /* per plan actor */
	_Atomic int64_t log_events; /* weight held by every replay log */
	_Atomic int log_lost;       /* a log missed a message (no memory) */
	_Atomic uint64_t barrier_hi; /* highest barrier of a local source */
	_Atomic uint64_t rewinds;    /* ls_pipeline_rewind calls done */
	_Atomic uint8_t *reship;     /* per plan actor: ship whole state */
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* ---- output queue and replay log ---- */

/* Plan actor d's ref: rewind() replaces it while senders run. */
static ls_ref
ref_at(const ls_pipeline *p, uint32_t d)
{
	ls_ref r = { __atomic_load_n(&p->refs[d].id, __ATOMIC_ACQUIRE) };
	return r;
}

static int
outq_push(ls_outq *q, uint32_t to, ls_msg *m)
{
	if (q->n == q->cap) {
		uint32_t nc = q->cap ? q->cap * 2 : 8;
		uint32_t *nt = realloc(q->to, nc * sizeof(*nt));
		if (nt == NULL)
			return LS_ENOMEM;
		q->to = nt;
		ls_msg **nm = realloc(q->m, nc * sizeof(*nm));
		if (nm == NULL)
			return LS_ENOMEM;
		q->m = nm;
		q->cap = nc;
	}
	q->to[q->n] = to;
	q->m[q->n] = m;
	q->n++;
	return 0;
}

static void
send_failed(ls_ctx *ctx, ls_msg *m, int rv)
{
	ls_log(LS_LOG_WARN, "pipeline",
	    "output dropped: consumer unavailable type=%u err=%s", m->type,
	    ls_errname(rv));
	ls_msg_free(ls_ctx_runtime(ctx), m);
}

/* Send m to plan actor d after anything already queued; takes m.  A
 * refusal keeps it queued and pauses this actor's input.  LS_ENOENT /
 * LS_ENOMEM: dropped with a log line (the consumer is gone). */
static void
raw_send(ls_ctx *ctx, ls_outq *q, uint32_t d, ls_msg *m)
{
	if (q->n == 0) {
		int rv = ls_ctx_send(ctx, ref_at(q->cfg->pl, d), m);
		if (rv == 0)
			return;
		if (rv != LS_EAGAIN) {
			send_failed(ctx, m, rv);
			return;
		}
	}
	if (outq_push(q, d, m) != 0) {
		send_failed(ctx, m, LS_ENOMEM);
		return;
	}
	ls_ctx_pause(ctx);
}

static int64_t
log_weight(uint32_t type, const void *ptr)
{
	return type == LS_MSG_BATCH && ptr != NULL
	    ? (int64_t)((const ls_batch *)ptr)->n + 1
	    : 1;
}

/* A new reference on a logged payload (NULL: out of memory). */
static void *
payload_ref(uint32_t type, void *ptr)
{
	switch (type) {
	case LS_MSG_BATCH:
		ls_batch_ref(ptr);
		return ptr;
	case LS_MSG_RESULTS:
		ls_records_ref(ptr);
		return ptr;
	case LS_MSG_DEAD:
		return strdup(ptr);
	default:
		return NULL;
	}
}

/* A message carrying what log entry e holds (NULL: out of memory). */
static ls_msg *
log_msg(ls_runtime *rt, const ls_outq_log *e)
{
	ls_msg *m = ls_msg_new(rt, e->type, sizeof(e->val));
	if (m == NULL)
		return NULL;
	memcpy(ls_msg_data(m), &e->val, sizeof(e->val));
	if (e->ptr != NULL) {
		if ((m->ptr = payload_ref(e->type, e->ptr)) == NULL) {
			ls_msg_free(rt, m);
			return NULL;
		}
		m->dtor = e->dtor;
	}
	return m;
}

static void
log_entry_free(ls_pipeline *p, ls_outq_log *e)
{
	atomic_fetch_sub(&p->log_events, log_weight(e->type, e->ptr));
	if (e->ptr != NULL && e->dtor != NULL)
		e->dtor(e->ptr);
}

static void
log_append(ls_outq *q, uint32_t d, const ls_msg *m)
{
	ls_pipeline *p = q->cfg->pl;
	if (q->nlog == q->caplog) {
		if (q->head > 0) {
			memmove(q->log, q->log + q->head,
			    (q->nlog - q->head) * sizeof(*q->log));
			q->nlog -= q->head;
			q->head = 0;
		}
		if (q->nlog == q->caplog) {
			size_t nc = q->caplog ? q->caplog * 2 : 64;
			ls_outq_log *n = realloc(q->log, nc * sizeof(*n));
			if (n == NULL)
				goto lost;
			q->log = n;
			q->caplog = nc;
		}
	}
	ls_outq_log *e = &q->log[q->nlog];
	e->dest = d;
	e->type = m->type;
	e->dtor = m->dtor;
	e->val = m->size >= sizeof(e->val) ? ls_stage_msg_u64((ls_msg *)m) : 0;
	e->ptr = NULL;
	if (m->ptr != NULL && (e->ptr = payload_ref(m->type, m->ptr)) == NULL)
		goto lost;
	atomic_fetch_add(&p->log_events, log_weight(e->type, e->ptr));
	q->nlog++;
	return;
lost:
	/* a replay to a restarted consumer would miss it: say so; the
	 * restore that needs it then fails its check (docs) */
	atomic_store(&p->log_lost, 1);
	ls_log(LS_LOG_ERROR, "pipeline",
	    "out of memory: output not kept for replay stage=%s",
	    q->cfg->node->name);
}

/* Every consumer of cfg, in order: fn(dest) for each plan actor. */
#define FOR_EACH_DEST(cfg, d, body)                                       \
	do {                                                              \
		for (uint32_t o_ = 0; o_ <= (cfg)->nouts; o_++) {         \
			const ls_stage_out *so_ = o_ < (cfg)->nouts        \
			    ? &(cfg)->outs[o_] : (cfg)->dlq;               \
			if (so_ == NULL)                                   \
				continue;                                  \
			for (uint32_t p_ = 0; p_ < so_->nparts; p_++) {    \
				uint32_t d = so_->first + p_;              \
				body;                                      \
			}                                                  \
		}                                                          \
	} while (0)

static void
send_mark(ls_ctx *ctx, ls_outq *q, uint32_t d, uint64_t ckpt)
{
	ls_msg *m = ls_msg_new(ls_ctx_runtime(ctx), LS_MSG_MARK, sizeof(ckpt));
	if (m == NULL) {
		ls_log(LS_LOG_ERROR, "pipeline", "out of memory: replay mark");
		return;
	}
	memcpy(ls_msg_data(m), &ckpt, sizeof(ckpt));
	raw_send(ctx, q, d, m);
}

/* Everything up to log entry e is in checkpoint ck: a barrier of ck or
 * before, or the end of stream of a final checkpoint there. */
static int
cut_at(const ls_outq_log *e, uint64_t ck)
{
	return (e->type == LS_MSG_BARRIER || e->type == LS_MSG_EOS) &&
	    e->val != 0 && e->val <= ck;
}

/* Consumer d was restarted from checkpoint ck: drop what waits for its
 * old incarnation, send the mark, then everything logged for d after
 * ck's barrier (and the end of stream if it left the log already). */
static void
replay_to(ls_ctx *ctx, ls_outq *q, uint32_t d, uint64_t ck)
{
	ls_runtime *rt = ls_ctx_runtime(ctx);
	uint32_t k = 0;
	for (uint32_t i = 0; i < q->n; i++) {
		if (q->to[i] == d) {
			ls_msg_free(rt, q->m[i]);
			continue;
		}
		q->to[k] = q->to[i];
		q->m[k] = q->m[i];
		k++;
	}
	q->n = k;
	send_mark(ctx, q, d, ck);
	size_t from = q->head;
	for (size_t i = q->head; i < q->nlog; i++)
		if (q->log[i].dest == d && cut_at(&q->log[i], ck))
			from = i + 1;
	if (from > q->head && q->log[from - 1].type == LS_MSG_EOS)
		from--; /* it ended before ck: its end of stream again */
	int eos = 0;
	size_t sent = 0;
	for (size_t i = from; i < q->nlog; i++) {
		const ls_outq_log *e = &q->log[i];
		if (e->dest != d)
			continue;
		ls_msg *m = log_msg(rt, e);
		if (m == NULL) {
			atomic_store(&q->cfg->pl->log_lost, 1);
			continue;
		}
		eos |= e->type == LS_MSG_EOS;
		raw_send(ctx, q, d, m);
		sent++;
	}
	if (q->eos_trimmed && !eos) {
		ls_outq_log e = { d, LS_MSG_EOS, NULL, NULL, q->eos_val };
		ls_msg *m = log_msg(rt, &e);
		if (m != NULL)
			raw_send(ctx, q, d, m);
	}
	ls_log(LS_LOG_DEBUG, "pipeline",
	    "replayed stage=%s partition=%u to=%u after=%llu messages=%zu",
	    q->cfg->node->name, q->cfg->partition, d, (unsigned long long)ck,
	    sent);
}

/* Bring every consumer of q up to date: replay marks first (restarted
 * actor), replays to consumers restarted since the last look. */
static void
check_dests(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q)
{
	ls_pipeline *p = cfg->pl;
	if (q->cfg == NULL)
		q->cfg = cfg;
	if (cfg->restarted && !q->marked) {
		q->marked = 1;
		FOR_EACH_DEST(cfg, d, send_mark(ctx, q, d, cfg->ckpt_base));
	}
	/* the scan below only when a rewind happened since the last one
	 * (release by rewind after its incarnations, acquire here) */
	uint64_t gen = atomic_load_explicit(&p->rewinds, memory_order_acquire);
	if (p->opts.replay_log_events == 0 || gen == q->rewinds)
		return;
	if (q->seen == NULL &&
	    (q->seen = calloc(p->nactors, sizeof(*q->seen))) == NULL)
		return;
	FOR_EACH_DEST(cfg, d, {
		uint64_t inc = atomic_load_explicit(&p->inc[d],
		    memory_order_acquire);
		uint64_t seen = q->seen[d] != 0 ? q->seen[d] : cfg->view;
		if (inc > seen) {
			replay_to(ctx, q, d, atomic_load(&p->rewind_ck[d]));
			q->seen[d] = inc;
		}
	});
	q->rewinds = gen;
}

/* Send m to plan actor d: the stages' one way out. */
static void
outq_send(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q, uint32_t d,
    ls_msg *m)
{
	check_dests(ctx, cfg, q);
	if (cfg->pl->opts.replay_log_events > 0)
		log_append(q, d, m);
	raw_send(ctx, q, d, m);
}

void
ls_outq_flush(ls_ctx *ctx, ls_outq *q)
{
	uint32_t i = 0;
	while (i < q->n) {
		int rv = ls_ctx_send(ctx, ref_at(q->cfg->pl, q->to[i]), q->m[i]);
		if (rv == LS_EAGAIN)
			break;
		if (rv != 0)
			send_failed(ctx, q->m[i], rv);
		i++;
	}
	if (i > 0) {
		memmove(q->to, q->to + i, (q->n - i) * sizeof(*q->to));
		memmove(q->m, q->m + i, (q->n - i) * sizeof(*q->m));
		q->n -= i;
	}
	if (q->n == 0)
		ls_ctx_resume(ctx);
}

void
ls_outq_commit(ls_outq *q, uint64_t ckpt)
{
	if (q->cfg == NULL || q->nlog == q->head)
		return;
	size_t upto = q->head;
	for (size_t i = q->head; i < q->nlog; i++)
		if (cut_at(&q->log[i], ckpt))
			upto = i + 1;
	for (size_t i = q->head; i < upto; i++) {
		if (q->log[i].type == LS_MSG_EOS) {
			q->eos_trimmed = 1;
			q->eos_val = q->log[i].val;
		}
		log_entry_free(q->cfg->pl, &q->log[i]);
	}
	q->head = upto;
	if (q->head == q->nlog)
		q->head = q->nlog = 0;
}

void
ls_outq_rewind(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q)
{
	check_dests(ctx, cfg, q);
}

void
ls_outq_fini(ls_runtime *rt, ls_outq *q)
{
	for (uint32_t i = 0; i < q->n; i++)
		ls_msg_free(rt, q->m[i]);
	for (size_t i = q->head; i < q->nlog; i++)
		log_entry_free(q->cfg->pl, &q->log[i]);
	free(q->to);
	free(q->m);
	free(q->log);
	free(q->seen);
	memset(q, 0, sizeof(*q));
}

void
ls__pipeline_barrier(ls_pipeline *p, uint64_t ckpt)
{
	uint64_t cur = atomic_load(&p->barrier_hi);
	while (ckpt > cur &&
	    !atomic_compare_exchange_weak(&p->barrier_hi, &cur, ckpt))
		;
}

int
ls__pipeline_log_full(const ls_pipeline *p)
{
	return p->opts.replay_log_events > 0 &&
	    atomic_load(&p->log_events) >= (int64_t)p->opts.replay_log_events;
}

/* ---- routing ---- */

static void
send_batch(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q, uint32_t to,
    ls_batch *b)
{
	ls_msg *m = ls_msg_new(ls_ctx_runtime(ctx), LS_MSG_BATCH, 0);
	if (m == NULL) {
		ls_log(LS_LOG_ERROR, "pipeline", "out of memory: batch dropped");
		ls_batch_unref(b);
		return;
	}
	m->ptr = b;
	m->dtor = ls_batch_dtor;
	outq_send(ctx, cfg, q, to, m);
}

void
ls_stage_emit(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q, ls_batch *b)
{
	if (b->n == 0)
		return;
	for (uint32_t o = 0; o < cfg->nouts; o++)
		ls_stage_emit_to(ctx, cfg, q, o, b);
}

int
ls_stage_pass_other(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const ls_gate *g, uint32_t *eos, ls_msg *m)
{
	if (m->type == LS_MSG_WRITABLE)
		ls_outq_flush(ctx, q);
	else if (m->type == LS_MSG_EOS && ++*eos == cfg->n_upstream)
		ls_stage_emit_eos(ctx, cfg, q, g->eos_max);
	return 0;
}

void
ls_stage_emit_to(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    uint32_t o, ls_batch *b)
{
	if (b->n == 0 || o >= cfg->nouts)
		return;
	ls_stage_out *out = &cfg->outs[o];
	if (out->nparts == 1 || out->node->nkey == 0) {
		uint32_t p = out->rr++ % out->nparts;
		ls_batch_ref(b);
		send_batch(ctx, cfg, q, out->first + p, b);
		return;
	}
	/* keyed: one view per partition that gets events */
	ls_batch *parts[256];
	ls_batch **pv = parts;
	if (out->nparts > 256) {
		pv = calloc(out->nparts, sizeof(*pv));
		if (pv == NULL) {
			ls_log(LS_LOG_ERROR, "pipeline",
			    "out of memory routing a batch");
			return;
		}
	} else {
		memset(parts, 0, out->nparts * sizeof(*pv));
	}
	for (uint32_t i = 0; i < b->n; i++) {
		uint32_t p = ls_plan_route(out->node, b->items[i]);
		if (pv[p] == NULL &&
		    (pv[p] = ls_batch_new(b->n, 0, b)) == NULL)
			continue;
		ls_batch_push(pv[p], b->items[i]);
	}
	for (uint32_t p = 0; p < out->nparts; p++)
		if (pv[p] != NULL)
			send_batch(ctx, cfg, q, out->first + p, pv[p]);
	if (pv != parts)
		free(pv);
}

void
ls_stage_emit_records(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    ls_records *r)
{
	for (uint32_t o = 0; o < cfg->nouts; o++) {
		const ls_stage_out *out = &cfg->outs[o];
		for (uint32_t p = 0; p < out->nparts; p++) {
			ls_msg *m = ls_msg_new(ls_ctx_runtime(ctx),
			    LS_MSG_RESULTS, 0);
			if (m == NULL)
				continue;
			ls_records_ref(r);
			m->ptr = r;
			m->dtor = ls_records_unref;
			outq_send(ctx, cfg, q, out->first + p, m);
		}
	}
	ls_records_unref(r);
}

static void
marker_to(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const ls_stage_out *out, uint32_t type, uint64_t val)
{
	for (uint32_t p = 0; p < out->nparts; p++) {
		ls_msg *m = ls_msg_new(ls_ctx_runtime(ctx), type, sizeof(val));
		if (m == NULL)
			continue;
		memcpy(ls_msg_data(m), &val, sizeof(val));
		outq_send(ctx, cfg, q, out->first + p, m);
	}
}

static void
marker(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q, uint32_t type,
    uint64_t val)
{
	for (uint32_t o = 0; o < cfg->nouts; o++)
		marker_to(ctx, cfg, q, &cfg->outs[o], type, val);
	if (cfg->dlq != NULL)
		marker_to(ctx, cfg, q, cfg->dlq, type, val);
}

void
ls_stage_emit_eos(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    uint64_t ckpt)
{
	marker(ctx, cfg, q, LS_MSG_EOS, ckpt);
}

void
ls_stage_emit_barrier(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    uint64_t ckpt)
{
	marker(ctx, cfg, q, LS_MSG_BARRIER, ckpt);
}

/* ---- checkpoint hooks ---- */

int
ls_stage_ckpt_on(const ls_stage_cfg *cfg)
{
	return cfg->pl->opts.checkpoint_ms > 0;
}

void
ls_stage_ckpt_save(const ls_stage_cfg *cfg, uint64_t ckpt, int final,
    uint8_t *buf, size_t len)
{
	const ls_pipeline_opts *o = &cfg->pl->opts;
	if (o->ckpt_save == NULL) {
		free(buf);
		return;
	}
	o->ckpt_save(o->arg, cfg->actor_index, ckpt, final, buf, len);
}

int
ls_stage_ckpt_load(const ls_stage_cfg *cfg, uint8_t **buf, size_t *len)
{
	const ls_pipeline_opts *o = &cfg->pl->opts;
	*buf = NULL;
	*len = 0;
	if (o->ckpt_load == NULL)
		return LS_ENOENT;
	return o->ckpt_load(o->arg, cfg->actor_index, buf, len);
}

/* Shared by both dead-letter kinds: count, then send or log. */
static void
dead_letter(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const char *reason, const ls_event *ev, const char *source, int parsed)
{
	int64_t nth = atomic_fetch_add_explicit(cfg->ctr.dead, 1,
	    memory_order_relaxed) + 1;
	if (cfg->dlq == NULL) {
		/* Nowhere to send it: counted (shown in the run summary and
		 * metrics) and logged -- the first ten, then every 10,000th --
		 * never silently lost. */
		if (nth <= 10 || nth % 10000 == 0)
			ls_log(LS_LOG_WARN, "pipeline",
			    "dead letter without a dead_letter sink stage=%s "
			    "offset=%llu count=%lld reason=\"%s\"",
			    cfg->node->name, (unsigned long long)ev->offset,
			    (long long)nth, reason);
		return;
	}
	if (source == NULL)
		source = "";
	char stackbuf[2048];
	char *rec = stackbuf;
	size_t cap = sizeof(stackbuf);
	for (;;) {
		size_t need = parsed
		    ? ls_sinkfmt_deadletter_event(reason, cfg->node->name,
		          source, ev, rec, cap)
		    : ls_sinkfmt_deadletter(reason, cfg->node->name, source,
		          ev->offset, ev->message.ptr, ev->message.len, rec,
		          cap);
		if (need < cap)
			break;
		if (rec != stackbuf)
			return; /* cannot happen: the size was exact */
		cap = need + 1;
		if ((rec = malloc(cap)) == NULL)
			return;
	}
	if (rec == stackbuf && (rec = strdup(stackbuf)) == NULL)
		return;
	ls_msg *m = ls_msg_new(ls_ctx_runtime(ctx), LS_MSG_DEAD, 0);
	if (m == NULL) {
		free(rec);
		return;
	}
	m->ptr = rec;
	m->dtor = free;
	outq_send(ctx, cfg, q, cfg->dlq->first, m);
}

void
ls_stage_dead(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const char *reason, const ls_event *ev, const char *source)
{
	dead_letter(ctx, cfg, q, reason, ev, source, 0);
}

void
ls_stage_dead_event(ls_ctx *ctx, const ls_stage_cfg *cfg, ls_outq *q,
    const char *reason, const ls_event *ev, const char *source)
{
	dead_letter(ctx, cfg, q, reason, ev, source, 1);
}

/* ---- the pipeline ---- */

void
ls__pipeline_sink_done(ls_pipeline *p, uint32_t actor)
{
	pthread_mutex_lock(&p->lock);
	if (actor < p->nactors && !atomic_exchange(&p->sink_done[actor], 1))
		atomic_fetch_add(&p->sinks_done, 1);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void
register_metrics(ls_pipeline *p, ls_metrics *m, uint32_t node)
{
	node_ctr *c = &p->ctr[node];
	const ls_topo_node *n = ls_topology_node(p->topo, node);
	(void)c;
	if (m == NULL)
		return;
	char labels[160];
	snprintf(labels, sizeof(labels), "stage=\"%s\",kind=\"%s\"", n->name,
	    n->kind);
	/* the registry owns these; the actors update them directly */
	for (size_t i = 0; i < p->nactors; i++) {
		ls_stage_cfg *cfg = &p->cfgs[i];
		if (cfg->node_index != node)
			continue;
		cfg->ctr.in = ls_metrics_counter(m, "logstream_events_in_total",
		    "Events received by a stage (sources: produced).", labels);
		cfg->ctr.out = ls_metrics_counter(m,
		    "logstream_events_out_total", "Events passed on by a stage.",
		    labels);
		cfg->ctr.dead = ls_metrics_counter(m,
		    "logstream_dead_letters_total",
		    "Events sent to the dead-letter output.", labels);
		cfg->ctr.late = ls_metrics_counter(m,
		    "logstream_late_events_total",
		    "Events that arrived after their window closed.", labels);
		cfg->ctr.results = ls_metrics_counter(m,
		    "logstream_results_total",
		    "Window results emitted or written by sinks.", labels);
	}
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Plan actor k here (p->local[k]) or its remote ref, into *ref. */
static int
spawn_one(ls_pipeline *p, size_t k, ls_ref *ref, char *err, size_t errlen)
{
	ls_stage_cfg *cfg = &p->cfgs[k];
	int rv;
	if (!p->local[k]) {
		rv = p->opts.spawn_remote(p->opts.arg, p->rt, k, ref);
		if (rv != 0)
			set_err(err, errlen, "cannot reach '%s': %s",
			    ls_plan_actor_at(p->plan, k)->name, ls_strerror(rv));
		return rv;
	}
	const ls_behaviour *b = cfg->kind != NULL ? cfg->kind->behaviour
	                                          : NULL;
	if (b == NULL) {
		set_err(err, errlen, "no actor for kind '%s' of '%s'",
		    cfg->node->kind, cfg->node->name);
		return LS_ENOTSUP;
	}
	ls_spawn_opts so = { .arg = cfg, .arg_size = 0 };
	rv = ls_spawn(p->rt, b, &so, ref);
	if (rv != 0)
		set_err(err, errlen, "cannot start '%s': %s",
		    ls_plan_actor_at(p->plan, k)->name, ls_strerror(rv));
	return rv;
}

int
ls_pipeline_start(ls_runtime *rt, const ls_plan *plan,
    const ls_pipeline_opts *opts, ls_pipeline **out, char *err,
    size_t errlen)
{
	static const ls_pipeline_opts none;
	const ls_topology *topo = ls_plan_topology(plan);
	ls_pipeline *p;
	int rv = LS_ENOMEM;

	if (opts == NULL)
		opts = &none;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return LS_ENOMEM;
	p->rt = rt;
	p->opts = *opts;
	p->plan = plan;
	p->topo = topo;
	p->nactors = ls_plan_actor_count(plan);
	p->nnodes = ls_topology_count(topo);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->cfgs = calloc(p->nactors, sizeof(*p->cfgs));
	p->refs = calloc(p->nactors, sizeof(*p->refs));
	p->ctr = calloc(p->nnodes, sizeof(*p->ctr));
	/* output tables: one per (actor, edge) */
	size_t nedges = ls_plan_edge_count(plan);
	p->outs = calloc(p->nactors * (nedges + 1), sizeof(*p->outs));
	p->local = calloc(p->nactors ? p->nactors : 1, 1);
	p->schemas = calloc(p->nnodes ? p->nnodes : 1, sizeof(*p->schemas));
	p->folded = calloc(p->nactors ? p->nactors : 1, sizeof(*p->folded));
	p->inc = calloc(p->nactors ? p->nactors : 1, sizeof(*p->inc));
	p->rewind_ck = calloc(p->nactors ? p->nactors : 1,
	    sizeof(*p->rewind_ck));
	p->sink_done = calloc(p->nactors ? p->nactors : 1,
	    sizeof(*p->sink_done));
	p->reship = calloc(p->nactors ? p->nactors : 1, sizeof(*p->reship));
	if (p->reship == NULL ||
	    p->cfgs == NULL || p->refs == NULL || p->ctr == NULL ||
	    p->outs == NULL || p->local == NULL || p->schemas == NULL ||
	    p->folded == NULL || p->inc == NULL || p->rewind_ck == NULL ||
	    p->sink_done == NULL)
		goto fail;
	/* the result schema of every node whose kind emits records */
	for (size_t n = 0; n < p->nnodes; n++) {
		const ls_topo_node *tn = ls_topology_node(topo, n);
		const ls_kind *k = tn->kind_def;
		char why[256] = "";
		if (k == NULL || k->results == NULL)
			continue;
		if ((p->schemas[n] = malloc(sizeof(*p->schemas[n]))) == NULL)
			goto fail;
		ls_rec_schema_init(p->schemas[n]);
		if ((rv = k->results(tn, p->schemas[n], why, sizeof(why))) != 0) {
			set_err(err, errlen, "%s '%s': %s", k->name, tn->name,
			    why[0] != '\0' ? why : ls_strerror(rv));
			goto fail;
		}
	}
	for (size_t i = 0; i < p->nactors; i++)
		p->local[i] = opts->local == NULL || opts->local(opts->arg, i);

	/* configuration of every actor */
	size_t next_out = 0;
	for (size_t i = 0; i < p->nactors; i++) {
		const ls_plan_actor *pa = ls_plan_actor_at(plan, i);
		ls_stage_cfg *cfg = &p->cfgs[i];
		node_ctr *c = &p->ctr[pa->node];
		cfg->pl = p;
		cfg->topo = topo;
		cfg->node = ls_topology_node(topo, pa->node);
		cfg->node_index = pa->node;
		cfg->partition = pa->partition;
		cfg->out = opts->out != NULL ? opts->out : stdout;
		cfg->tick_ms = opts->tick_ms > 0 ? opts->tick_ms : 200;
		cfg->ctr.in = &c->in;
		cfg->ctr.out = &c->out;
		cfg->ctr.dead = &c->dead;
		cfg->ctr.late = &c->late;
		cfg->ctr.results = &c->results;
		cfg->actor_index = (uint32_t)i;
		cfg->checkpoint_ms = opts->checkpoint_ms;
		cfg->first_checkpoint_ms = opts->first_checkpoint_ms > 0 &&
		        opts->first_checkpoint_ms < opts->checkpoint_ms
		    ? opts->first_checkpoint_ms
		    : opts->checkpoint_ms;
		cfg->ckpt_base = opts->ckpt_base;
		cfg->jsonl_append = opts->jsonl_append;
		cfg->kind = cfg->node->kind_def;
		cfg->results = p->schemas[pa->node];
		cfg->store = opts->store;
		cfg->ckpt_ns = opts->ckpt_ns != NULL ? opts->ckpt_ns
		                                    : ls_topology_name(topo);
		cfg->view = opts->view;
		cfg->ingest_repl = opts->ingest_repl;
		/* every actor is of the pipeline's start until a rewind */
		atomic_init(&p->inc[i], opts->view);
		cfg->restarted = opts->restarted;
		cfg->catch_up = opts->catch_up;
		/* until it restored, a partition on keyed state may need any
		 * blob */
		atomic_init(&p->folded[i],
		    p->local[i] && ls_stage_kstate_on(cfg) ? 0 : UINT64_MAX);
		if (cfg->node->role == LS_TOPO_SINK && p->local[i])
			p->sinks_total++;

		const ls_plan_edge *edges;
		size_t ne = ls_plan_outputs(plan, pa->node, &edges);
		cfg->outs = &p->outs[next_out];
		for (size_t e = 0; e < ne; e++) {
			const ls_topo_node *to = ls_topology_node(topo,
			    edges[e].to);
			ls_stage_out *so = &p->outs[next_out++];
			so->node = to;
			so->nparts = to->partitions;
			so->rr = pa->partition;
			so->first = (uint32_t)ls_plan_first_actor(plan,
			    edges[e].to);
			if (edges[e].dead_letter) {
				/* keep dead-letter output out of outs[] */
				ls_stage_out tmp = *so;
				next_out--;
				p->outs[p->nactors * nedges + i] = tmp;
				cfg->dlq = &p->outs[p->nactors * nedges + i];
			} else {
				cfg->nouts++;
			}
		}
		const ls_plan_edge *in;
		size_t ni = ls_plan_inputs(plan, pa->node, &in);
		for (size_t e = 0; e < ni; e++)
			cfg->n_upstream +=
			    ls_topology_node(topo, in[e].from)->partitions;
	}
	for (uint32_t n = 0; n < p->nnodes; n++)
		register_metrics(p, opts->metrics, n);
	/* results are records, not events: only sinks can take them */
	for (size_t i = 0; i < p->nactors; i++) {
		ls_stage_cfg *cfg = &p->cfgs[i];
		if (cfg->results == NULL)
			continue;
		for (uint32_t o = 0; o < cfg->nouts; o++) {
			if (cfg->outs[o].node->role != LS_TOPO_SINK) {
				set_err(err, errlen,
				    "%s '%s' can only feed sinks, not '%s'",
				    cfg->kind->name, cfg->node->name,
				    cfg->outs[o].node->name);
				rv = LS_ENOTSUP;
				goto fail;
			}
		}
	}

	/* spawn consumers before producers (reverse topological order), so
	 * every ref an actor is given already names a live actor */
	for (size_t k = p->nactors; k-- > 0;)
		if ((rv = spawn_one(p, k, &p->refs[k], err, errlen)) != 0)
			goto fail_spawned;
	/* go: sources start producing */
	for (size_t i = 0; i < p->nactors; i++)
		if (p->cfgs[i].node->role == LS_TOPO_SOURCE && p->local[i])
			ls_tell(rt, p->refs[i], LS_MSG_PUMP, NULL, 0);
	*out = p;
	return 0;

fail_spawned:
	for (size_t i = 0; i < p->nactors; i++)
		if (ls_ref_valid(p->refs[i]))
			ls_stop(rt, p->refs[i]);
	ls_runtime_wait_idle(rt, 10000);
fail:
	ls_pipeline_free(p);
	return rv;
}

/* A control message that must not be lost to a full mailbox: retried
 * (from a control thread). */
static void
tell_surely(ls_pipeline *p, ls_ref to, uint32_t type, int with_val,
    uint64_t val)
{
	ls_msg *m = ls_msg_new(p->rt, type, with_val ? sizeof(val) : 0);
	if (m == NULL)
		return;
	if (with_val)
		memcpy(ls_msg_data(m), &val, sizeof(val));
	int rv;
	while ((rv = ls_send(p->rt, to, m)) == LS_EAGAIN) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if (rv != 0)
		ls_msg_free(p->rt, m);
}

int
ls_pipeline_rewind(ls_pipeline *p, const uint64_t *inc, uint64_t view,
    uint64_t ckpt, uint64_t hint, void (*stopped)(void *), void *arg,
    char *err, size_t errlen)
{
	const ls_pipeline_opts *o = &p->opts;
	uint8_t *chg = calloc(p->nactors ? p->nactors : 1, 1);
	uint64_t catch_up = atomic_load(&p->barrier_hi);
	if (hint > catch_up)
		catch_up = hint;
	int rv = 0;
	if (o->replay_log_events == 0) {
		set_err(err, errlen, "no replay log");
		free(chg);
		return LS_ENOTSUP;
	}
	if (chg == NULL)
		return LS_ENOMEM;
	/* 1. the old incarnations stop (their user messages are dropped) */
	for (size_t i = 0; i < p->nactors; i++) {
		if (inc[i] <= atomic_load(&p->inc[i]))
			continue;
		chg[i] = 1;
		if (p->local[i])
			(void)ls_stop(p->rt, p->refs[i]);
	}
	int64_t deadline = ls_clock_ns() + INT64_C(10000000000);
	for (size_t i = 0; i < p->nactors; i++) {
		while (chg[i] && p->local[i] && ls_alive(p->rt, p->refs[i])) {
			if (ls_clock_ns() > deadline) {
				set_err(err, errlen, "'%s' does not stop",
				    ls_plan_actor_at(p->plan, i)->name);
				free(chg);
				return LS_ETIMEDOUT;
			}
			/* a control thread, not a worker: actors stop within
			 * their current message */
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
		}
	}
	if (stopped != NULL)
		stopped(arg);
	/* 2. the new ones start from ckpt, consumers first; a sender sees
	 * the new ref before the new incarnation (release / acquire) */
	for (size_t k = p->nactors; rv == 0 && k-- > 0;) {
		if (!chg[k])
			continue;
		ls_stage_cfg *cfg = &p->cfgs[k];
		int was_sink = cfg->node->role == LS_TOPO_SINK && p->local[k];
		p->local[k] = o->local == NULL || o->local(o->arg, k);
		cfg->ckpt_base = ckpt;
		cfg->restarted = 1;
		cfg->view = view;
		cfg->catch_up = catch_up > ckpt ? catch_up : ckpt;
		pthread_mutex_lock(&p->lock);
		if (was_sink) {
			p->sinks_total--;
			if (atomic_exchange(&p->sink_done[k], 0))
				atomic_fetch_sub(&p->sinks_done, 1);
		}
		if (cfg->node->role == LS_TOPO_SINK && p->local[k])
			p->sinks_total++;
		pthread_mutex_unlock(&p->lock);
		atomic_store(&p->folded[k],
		    p->local[k] && ls_stage_kstate_on(cfg) ? 0 : UINT64_MAX);
		atomic_store(&p->rewind_ck[k], ckpt);
		ls_ref ref = LS_REF_NONE;
		if ((rv = spawn_one(p, k, &ref, err, errlen)) != 0)
			break;
		__atomic_store_n(&p->refs[k].id, ref.id, __ATOMIC_RELEASE);
		atomic_store_explicit(&p->inc[k], inc[k], memory_order_release);
	}
	atomic_fetch_add_explicit(&p->rewinds, 1, memory_order_release);
	/* 3. the others replay to them; restarted sources start */
	for (size_t i = 0; rv == 0 && i < p->nactors; i++) {
		if (!p->local[i] || p->cfgs[i].node->role == LS_TOPO_SINK)
			continue;
		if (chg[i] && p->cfgs[i].node->role != LS_TOPO_SOURCE)
			continue;
		tell_surely(p, p->refs[i], chg[i] ? LS_MSG_PUMP : LS_MSG_REWIND,
		    0, 0);
	}
	free(chg);
	/* restarted sinks write ckpt's parts again (their old incarnation
	 * may have died before it did) */
	if (rv == 0)
		ls_pipeline_commit(p, ckpt);
	if (rv == 0 && atomic_load(&p->log_lost)) {
		set_err(err, errlen, "a replay log lost output (out of memory)");
		rv = LS_ENOMEM;
	}
	return rv;
}

void
ls_pipeline_drain(ls_pipeline *p)
{
	if (atomic_exchange(&p->drained, 1))
		return;
	for (size_t i = 0; i < p->nactors; i++) {
		if (p->cfgs[i].node->role != LS_TOPO_SOURCE || !p->local[i])
			continue;
		/* DRAIN must not be lost to a full mailbox */
		tell_surely(p, p->refs[i], LS_MSG_DRAIN, 0, 0);
	}
}

void
ls_pipeline_reship(ls_pipeline *p, size_t actor)
{
	if (actor < p->nactors)
		atomic_store(&p->reship[actor], 1);
}

int
ls__pipeline_reship_take(ls_pipeline *p, uint32_t actor)
{
	return actor < p->nactors && atomic_exchange(&p->reship[actor], 0);
}

void
ls__pipeline_folded(ls_pipeline *p, uint32_t actor, uint64_t base)
{
	if (actor < p->nactors)
		atomic_store(&p->folded[actor], base);
}

uint64_t
ls_pipeline_state_floor(ls_pipeline *p)
{
	uint64_t f = UINT64_MAX;
	for (size_t i = 0; i < p->nactors; i++) {
		uint64_t v = atomic_load(&p->folded[i]);
		if (v < f)
			f = v;
	}
	return f;
}

void
ls_pipeline_commit(ls_pipeline *p, uint64_t ckpt)
{
	for (size_t i = 0; i < p->nactors; i++) {
		/* sinks write their output; keyed state folds; replay logs
		 * forget what came before */
		if (!p->local[i] || (p->cfgs[i].node->role != LS_TOPO_SINK &&
		                        !(p->cfgs[i].kind->flags &
		                            LS_KIND_COMMITS) &&
		                        atomic_load(&p->folded[i]) == UINT64_MAX &&
		                        p->opts.replay_log_events == 0))
			continue;
		/* the output of a completed checkpoint must not be lost to a
		 * full mailbox */
		tell_surely(p, p->refs[i], LS_MSG_COMMIT, 1, ckpt);
	}
}

/* ---- interactive queries ---- */

struct ls_pipeline_query_req {
	_Atomic uint32_t refs; /* the caller's and the message's */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, rc;
	uint8_t *buf;          /* the answer (LSRB), until the caller takes it */
	size_t len;
	ls_kind_query q;       /* its strings point into bytes */
	char *bytes;
};

static void
query_unref(ls_pipeline_query_req *w)
{
	if (atomic_fetch_sub(&w->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->buf);
	free(w->bytes);
	free(w);
}

/* The answer (taken) or an error; only the first one counts. */
static void
query_finish(ls_pipeline_query_req *w, int rc, uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&w->lock);
	if (!w->done) {
		w->done = 1;
		w->rc = rc;
		w->buf = buf;
		w->len = len;
		buf = NULL;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	free(buf);
}

/* The message's destructor: an actor that stopped before it answered
 * leaves the caller an LS_EAGAIN. */
static void
query_msg_dtor(void *ptr)
{
	query_finish(ptr, LS_EAGAIN, NULL, 0);
	query_unref(ptr);
}

static int
query_answer(const ls_stage_cfg *cfg, void *st, const ls_kind_query *q,
    ls_buf *out)
{
	const ls_kind *k = cfg->node->kind_def;
	ls_rec_schema own;
	const ls_rec_schema *sc = cfg->results;
	int rv = 0;

	ls_rec_schema_init(&own);
	if (k->query_schema != NULL) {
		char err[160];
		if ((rv = k->query_schema(cfg->node, &own, err,
		         sizeof(err))) != 0) {
			ls_rec_schema_fini(&own);
			return rv;
		}
		sc = &own;
	}
	ls_records *r = sc != NULL
	    ? ls_records_new(sc, cfg->node->name, cfg->partition)
	    : NULL;
	if (r == NULL)
		rv = sc != NULL ? LS_ENOMEM : LS_ENOTSUP;
	if (rv == 0)
		rv = k->query(st, q, r);
	if (rv == 0)
		rv = ls_records_order(r, q->limit);
	if (rv == 0)
		rv = ls_codec_records_encode(r, out);
	if (r != NULL)
		ls_records_unref(r);
	ls_rec_schema_fini(&own);
	return rv;
}

void
ls__stage_query(const ls_stage_cfg *cfg, void *st, ls_msg *m)
{
	ls_pipeline_query_req *w = m->ptr;
	ls_buf b = { NULL, 0 };
	if (w == NULL)
		return;
	int rv = cfg->node->kind_def->query != NULL
	    ? query_answer(cfg, st, &w->q, &b)
	    : LS_ENOTSUP;
	query_finish(w, rv, b.data, b.len);
}

/* Copy the strings of q into one buffer owned by w. */
static int
query_copy(ls_pipeline_query_req *w, const ls_kind_query *q)
{
	size_t need = q->prefix.len + q->text.len + 1;
	for (uint32_t i = 0; i < q->nkey; i++)
		need += q->key[i].len;
	if ((w->bytes = malloc(need)) == NULL)
		return LS_ENOMEM;
	char *p = w->bytes;
	w->q = *q;
	for (uint32_t i = 0; i < q->nkey; i++) {
		if (q->key[i].len > 0)
			memcpy(p, q->key[i].ptr, q->key[i].len);
		w->q.key[i] = ls_str_make(p, q->key[i].len);
		p += q->key[i].len;
	}
	if (q->prefix.len > 0)
		memcpy(p, q->prefix.ptr, q->prefix.len);
	w->q.prefix = ls_str_make(p, q->prefix.len);
	p += q->prefix.len;
	if (q->text.len > 0)
		memcpy(p, q->text.ptr, q->text.len);
	w->q.text = ls_str_make(p, q->text.len);
	return 0;
}

int
ls_pipeline_query_start(ls_pipeline *p, size_t actor,
    const ls_kind_query *q, ls_pipeline_query_req **out)
{
	if (p == NULL || q == NULL || out == NULL ||
	    q->nkey > LS_KIND_QUERY_MAX_KEYS)
		return LS_EINVAL;
	if (actor >= p->nactors ||
	    !__atomic_load_n(&p->local[actor], __ATOMIC_ACQUIRE))
		return LS_ENOENT;
	if (p->cfgs[actor].node->kind_def->query == NULL)
		return LS_ENOTSUP;
	ls_pipeline_query_req *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return LS_ENOMEM;
	atomic_init(&w->refs, 2);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	ls_msg *m = NULL;
	int rv = query_copy(w, q);
	if (rv == 0 && (m = ls_msg_new(p->rt, LS_MSG_QUERY, 0)) == NULL)
		rv = LS_ENOMEM;
	if (rv == 0) {
		m->ptr = w;
		m->dtor = query_msg_dtor;
		rv = ls_send(p->rt, ref_at(p, (uint32_t)actor), m);
	}
	if (rv != 0) {
		if (m != NULL) {
			m->ptr = NULL;
			m->dtor = NULL;
			ls_msg_free(p->rt, m);
		}
		atomic_store(&w->refs, 1);
		query_unref(w);
		return rv;
	}
	*out = w;
	return 0;
}

int
ls_pipeline_query_wait(ls_pipeline_query_req *w, int64_t timeout_ms,
    uint8_t **buf, size_t *len)
{
	struct timespec ts;
	int rv = 0;
	if (timeout_ms >= 0)
		ls_abstime_after(timeout_ms, &ts);
	pthread_mutex_lock(&w->lock);
	while (!w->done && rv == 0)
		rv = timeout_ms < 0 ? pthread_cond_wait(&w->cond, &w->lock)
		                    : pthread_cond_timedwait(&w->cond, &w->lock,
		                          &ts);
	if (w->done) {
		rv = w->rc;
		if (rv == 0) {
			*buf = w->buf;
			*len = w->len;
			w->buf = NULL;
		}
	} else {
		rv = LS_ETIMEDOUT;
	}
	pthread_mutex_unlock(&w->lock);
	return rv;
}

void
ls_pipeline_query_release(ls_pipeline_query_req *w)
{
	if (w != NULL)
		query_unref(w);
}

int
ls_pipeline_query(ls_pipeline *p, size_t actor, const ls_kind_query *q,
    int64_t timeout_ms, uint8_t **buf, size_t *len)
{
	ls_pipeline_query_req *w;
	int rv = ls_pipeline_query_start(p, actor, q, &w);
	if (rv != 0)
		return rv;
	rv = ls_pipeline_query_wait(w, timeout_ms, buf, len);
	ls_pipeline_query_release(w);
	return rv;
}

ls_ref
ls_pipeline_ref(const ls_pipeline *p, size_t i)
{
	return i < p->nactors ? ref_at(p, (uint32_t)i) : LS_REF_NONE;
}

int
ls_pipeline_done(ls_pipeline *p)
{
	return atomic_load(&p->sinks_done) >= p->sinks_total;
}

int
ls_pipeline_wait(ls_pipeline *p, int64_t timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	if (timeout_ms >= 0)
		ls_abstime_after(timeout_ms, &ts);
	pthread_mutex_lock(&p->lock);
	while (!ls_pipeline_done(p)) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&p->cond, &p->lock);
		} else if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) !=
		    0) {
			rv = ls_pipeline_done(p) ? 0 : LS_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rv;
}

size_t
ls_pipeline_stats(ls_pipeline *p, ls_pipeline_node_stats *st, size_t cap)
{
	for (size_t n = 0; n < p->nnodes && n < cap; n++) {
		const ls_topo_node *tn = ls_topology_node(p->topo, n);
		int64_t in = 0, out = 0, dead = 0, late = 0, results = 0;
		/* sum over the node's actors (their counters may live in a
		 * metrics registry) */
		for (size_t i = 0; i < p->nactors; i++) {
			ls_stage_cfg *c = &p->cfgs[i];
			if (c->node_index != n || c->partition != 0)
				continue;
			in = atomic_load(c->ctr.in);
			out = atomic_load(c->ctr.out);
			dead = atomic_load(c->ctr.dead);
			late = atomic_load(c->ctr.late);
			results = atomic_load(c->ctr.results);
		}
		st[n].name = tn->name;
		st[n].kind = tn->kind;
		st[n].in = in;
		st[n].out = out;
		st[n].dead = dead;
		st[n].late = late;
		st[n].results = results;
		st[n].emits_results = p->schemas[n] != NULL;
	}
	return p->nnodes;
}

void
ls_pipeline_free(ls_pipeline *p)
{
	if (p == NULL)
		return;
	free(p->cfgs);
	free(p->refs);
	free(p->ctr);
	free(p->outs);
	free(p->local);
	free(p->folded);
	free(p->inc);
	free(p->rewind_ck);
	free(p->sink_done);
	free(p->reship);
	for (size_t n = 0; p->schemas != NULL && n < p->nnodes; n++) {
		if (p->schemas[n] != NULL)
			ls_rec_schema_fini(p->schemas[n]);
		free(p->schemas[n]);
	}
	free(p->schemas);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
