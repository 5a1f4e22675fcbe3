/*
 * patterns_actor.c -- the `patterns` stage: one template miner
 * (actors/patterns.h) per partition.
 *
 * Every event's message is mined and the event passes on with its
 * template as attributes: template_id (16 hex digits), template (the text,
 * variable parts as <*>) and param1, param2, ... (the message's tokens at
 * the wildcards, as many as the event's free attribute slots hold).  A
 * kind with results may feed only sinks, so the stage emits events, not
 * records: per-template rates are a `window` keyed on template_id
 * downstream (examples/patterns.yaml), and the templates with their
 * counts are the stage's state (docs/patterns.md).
 *
 * State: on keyed state (a store and checkpoints), key 't' + the id (8
 * bytes big-endian) per template, its record (actors/patterns.h) as the
 * value; a checkpoint writes the templates that took messages since the
 * last one and deletes those forgotten.  Without a store, a checkpoint
 * saves the whole snapshot (ls_patterns_save).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/patterns.h"
#include "actors/stage.h"
#include "runtime/log.h"
#include "runtime/store.h"

#define TMPL_KEY_LEN 9

typedef struct pstage {
	const ls_stage_cfg *cfg;
	ls_outq q;
	ls_gate gate;
	uint32_t eos;
	ls_patterns *p;
} pstage;

static const char *const param_keys[LS_EVENT_MAX_ATTRS] = { "param1",
	"param2", "param3", "param4", "param5", "param6", "param7", "param8",
	"param9", "param10", "param11", "param12", "param13", "param14",
	"param15", "param16" };

static int
pstage_init(ls_ctx *ctx, void *state, const void *arg)
{
	pstage *s = state;
	const ls_stage_cfg *cfg = arg;
	ls_patterns_cfg pc;
	(void)ctx;

	s->cfg = cfg;
	ls_patterns_cfg_default(&pc);
	pc.max_templates = (uint32_t)ls_topo_int(cfg->node, "max_templates");
	pc.depth = (uint32_t)ls_topo_int(cfg->node, "depth");
	pc.similarity = (double)ls_topo_int(cfg->node, "similarity") / 100.0;
	int rv = ls_patterns_new(&s->p, &pc);
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "patterns", "cannot start stage=%s err=%s",
		    cfg->node->name, ls_errname(rv));
		return rv;
	}
	return ls_stage_restore_state(cfg, &s->gate, s);
}

static void
pstage_stop(ls_ctx *ctx, void *state)
{
	pstage *s = state;
	ls_patterns_free(s->p);
	s->p = NULL;
	ls_outq_fini(ls_ctx_runtime(ctx), &s->q);
	ls_gate_fini(&s->gate);
}

/* The template attributes of one event (strings into the batch arena). */
static int
annotate(pstage *s, ls_event *ev, ls_arena *a)
{
	ls_patterns_match m;
	int rv = ls_patterns_add(s->p, ev->message.ptr, ev->message.len, &m);
	if (rv == LS_EINVAL)
		return 0; /* no message: passes on as it is */
	if (rv != 0)
		return rv;
	if (m.is_new)
		ls_log(LS_LOG_DEBUG, "patterns",
		    "new template stage=%s id=%016llx template=\"%.*s\"",
		    s->cfg->node->name, (unsigned long long)m.id,
		    (int)m.tmpl_len, m.tmpl);
	char *id = ls_arena_alloc(a, 17);
	char *text = ls_arena_strndup(a, m.tmpl, m.tmpl_len);
	if (id == NULL || text == NULL)
		return LS_ENOMEM;
	snprintf(id, 17, "%016llx", (unsigned long long)m.id);
	if (ls_event_add_attr(ev, ls_str_c("template_id"),
	        ls_str_make(id, 16)) != 0 ||
	    ls_event_add_attr(ev, ls_str_c("template"),
	        ls_str_make(text, m.tmpl_len)) != 0)
		return 0; /* no room left: the event keeps what fitted */
	for (uint32_t i = 0; i < m.nparams && i < LS_EVENT_MAX_ATTRS; i++)
		if (ls_event_add_attr(ev, ls_str_c(param_keys[i]),
		        m.params[i]) != 0)
			break;
	return 0;
}

static int
mine_batch(ls_ctx *ctx, pstage *s, ls_batch *in)
{
	ls_batch *out = ls_batch_new(in->n, 1, in);
	if (out == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < in->n; i++) {
		ls_event *ev = ls_batch_add(out);
		*ev = *in->items[i];
		int rv = annotate(s, ev, &out->arena);
		if (rv != 0) {
			ls_batch_unref(out);
			return rv; /* supervision restarts the stage */
		}
	}
	ls_metric_add(s->cfg->ctr.in, in->n);
	ls_metric_add(s->cfg->ctr.out, out->n);
	ls_stage_emit(ctx, s->cfg, &s->q, out);
	ls_batch_unref(out);
	return 0;
}

static int
pstage_handle(ls_ctx *ctx, void *state, ls_msg *m)
{
	pstage *s = state;
	if (m->type == LS_MSG_BATCH)
		return mine_batch(ctx, s, m->ptr);
	return ls_stage_pass_other(ctx, s->cfg, &s->q, &s->gate, &s->eos, m);
}

static int
pstage_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	pstage *s = state;
	return ls_stage_receive(ctx, &s->gate, s->cfg, &s->q, m, pstage_handle,
	    s);
}

static int
pstage_save(void *state, uint64_t ckpt, int final, uint8_t **buf,
    size_t *len)
{
	pstage *s = state;
	(void)ckpt;
	(void)final;
	return ls_patterns_save(s->p, buf, len);
}

static void
log_restore_error(const pstage *s, int rv)
{
	ls_log(LS_LOG_ERROR, "patterns",
	    "cannot restore state stage=%s partition=%u err=%s",
	    s->cfg->node->name, s->cfg->partition, ls_errname(rv));
}

static int
pstage_restore(void *state, const uint8_t *buf, size_t len)
{
	pstage *s = state;
	if (buf == NULL || len == 0)
		return 0; /* a fresh start */
	int rv = ls_patterns_load(s->p, buf, len);
	if (rv != 0)
		log_restore_error(s, rv);
	return rv;
}

static void
tmpl_key(uint64_t id, uint8_t k[TMPL_KEY_LEN])
{
	k[0] = 't';
	for (int i = 0; i < 8; i++)
		k[1 + i] = (uint8_t)(id >> (56 - 8 * i));
}

static int
sync_one(void *arg, uint64_t id, const uint8_t *rec, size_t len)
{
	uint8_t k[TMPL_KEY_LEN];
	tmpl_key(id, k);
	return rec != NULL ? ls_state_put(arg, k, sizeof(k), rec, len)
	                   : ls_state_delete(arg, k, sizeof(k));
}

static int
pstage_sync(void *state, ls_state *st, int all)
{
	pstage *s = state;
	return ls_patterns_changes(s->p, all, sync_one, st);
}

typedef struct recs {
	uint8_t **r;
	size_t *len;
	size_t n, cap;
	int rv;
} recs;

static int
collect(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	recs *rs = arg;
	if (kl != TMPL_KEY_LEN) {
		rs->rv = LS_ECORRUPT;
		return 1;
	}
	if (rs->n == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 64;
		uint8_t **nr = realloc(rs->r, nc * sizeof(*nr));
		if (nr == NULL)
			goto oom;
		rs->r = nr;
		size_t *nl = realloc(rs->len, nc * sizeof(*nl));
		if (nl == NULL)
			goto oom;
		rs->len = nl;
		rs->cap = nc;
	}
	if ((rs->r[rs->n] = malloc(vl > 0 ? vl : 1)) == NULL)
		goto oom;
	memcpy(rs->r[rs->n], v, vl);
	rs->len[rs->n++] = vl;
	return 0;
oom:
	rs->rv = LS_ENOMEM;
	return 1;
}

static int
pstage_load(void *state, ls_state *st)
{
	pstage *s = state;
	recs rs = { 0 };
	int rv = ls_state_scan(st, "t", 1, "u", 1, collect, &rs);
	if (rv == 0 || rs.rv != 0)
		rv = rs.rv;
	if (rv == 0)
		rv = ls_patterns_load_records(s->p,
		    (const uint8_t *const *)rs.r, rs.len, rs.n);
	if (rv != 0)
		log_restore_error(s, rv);
	for (size_t i = 0; i < rs.n; i++)
		free(rs.r[i]);
	free(rs.r);
	free(rs.len);
	return rv;
}

/* ---- interactive queries: GET /v1/patterns/STAGE (docs/queries.md) ----
 * One row per template the partition holds: its id, text and count. */
static int
query_schema(const ls_topo_node *n, ls_rec_schema *out, char *err,
    size_t errlen)
{
	int rv;
	(void)n;
	if ((rv = ls_rec_schema_add(out, "template_id", LS_REC_STRING,
	         LS_REC_ID)) != 0 ||
	    (rv = ls_rec_schema_add(out, "template", LS_REC_STRING, 0)) != 0 ||
	    (rv = ls_rec_schema_add(out, "count", LS_REC_INT, 0)) != 0)
		snprintf(err, errlen, "cannot describe answers: %s",
		    ls_strerror(rv));
	return rv;
}

typedef struct pquery {
	ls_records *out;
	int rv;
} pquery;

static void
query_one(void *arg, const ls_patterns_info *t)
{
	pquery *c = arg;
	char id[17];
	if (c->rv != 0)
		return;
	ls_rec_value *v = ls_records_add(c->out);
	if (v == NULL) {
		c->rv = LS_ENOMEM;
		return;
	}
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)t->id);
	if (ls_records_set_str(c->out, &v[0], id, 16) != 0 ||
	    ls_records_set_str(c->out, &v[1], t->tmpl, t->tmpl_len) != 0) {
		c->out->n--;
		c->rv = LS_ENOMEM;
		return;
	}
	v[2].i = (int64_t)t->count;
	v[2].null = 0;
}

static int
pstage_query(void *state, const ls_kind_query *q, ls_records *out)
{
	pstage *s = state;
	pquery c = { out, 0 };
	(void)q;
	ls_patterns_each(s->p, query_one, &c);
	return c.rv;
}

static const ls_behaviour patterns_behaviour = {
	.name = "patterns",
	.state_size = sizeof(pstage),
	.init = pstage_init,
	.receive = pstage_receive,
	.stop = pstage_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_patterns = {
	.name = "patterns",
	.role = LS_TOPO_STAGE,
	.flags = LS_KIND_KEYED,
	.params = LS_KIND_PARAMS(
	    { "key", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_field,
	        "field(s) to partition by: templates are learned per "
	        "partition" },
	    { "max_templates", LS_TV_INT, 0, "10000", NULL, 1, 1000000, NULL,
	        "templates a partition keeps; the least recently used is "
	        "forgotten beyond" },
	    { "similarity", LS_TV_INT, 0, "70", NULL, 1, 100, NULL,
	        "percent of a template's tokens a message must repeat to "
	        "join it" },
	    { "depth", LS_TV_INT, 0, "4", NULL, 2, 16, NULL,
	        "parse tree depth: messages are told apart by their length "
	        "and first depth - 2 tokens" }),
	.help = "learn log templates online; events pass on with template_id, "
	        "template and param1..N",
	.behaviour = &patterns_behaviour,
	.save = pstage_save,
	.restore = pstage_restore,
	.sync = pstage_sync,
	.load = pstage_load,
	.query = pstage_query,
	.query_schema = query_schema,
};
