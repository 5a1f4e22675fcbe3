/*
 * parse_actor.c -- the `parse` and `filter` stages.
 *
 * parse: raw lines -> parsed events (actors/parse.h).  The parsed batch
 * borrows the raw lines from the input batch (its parent), so nothing is
 * copied except JSON strings that need unescaping.  A line that does not
 * parse goes to the dead-letter output with the parser's reason.  A format
 * declared under the topology's formats: is compiled here, once per
 * partition (each partition's actor owns its match scratch).
 *
 * filter: passes the events matching every configured condition (minimum
 * level, exact service, substring of the message) as a view of the input
 * batch.
 *
 * Each is one kind table (ls_kind_parse, ls_kind_filter; topology/kind.h).
 */
#include <string.h>

#include "actors/parse.h"
#include "actors/stage.h"
#include "actors/userfmt.h"
#include "runtime/log.h"

typedef struct stage {
	const ls_stage_cfg *cfg;
	ls_outq q;
	ls_gate gate;
	uint32_t eos;
	/* parse */
	ls_parser parser;
	ls_userfmt *custom; /* a declared format, or NULL */
	/* filter */
	int min_level;
	const char *service;
	const char *contains;
	size_t contains_len;
} stage;

static int
common_init(stage *s, const void *arg)
{
	s->cfg = arg;
	return 0;
}

static int
parse_init(ls_ctx *ctx, void *state, const void *arg)
{
	stage *s = state;
	ls_format f = LS_FMT_AUTO;
	(void)ctx;
	common_init(s, arg);
	const char *name = ls_topo_str(s->cfg->node, "format");
	const ls_topo_format *tf = NULL;
	if (name != NULL && ls_format_from_name(name, &f) != 0) {
		tf = ls_topology_find_format(s->cfg->topo, name);
		if (tf == NULL)
			return LS_EINVAL;
	}
	ls_parser_init(&s->parser, f);
	if (tf != NULL) {
		char why[256];
		int rc = ls_userfmt_compile(tf->pattern, tf->len, &s->custom,
		    why, sizeof(why), NULL);
		if (rc != 0) {
			ls_log(LS_LOG_ERROR, "parse", "format %s: %s",
			    tf->name, rc == LS_ENOMEM ? "out of memory" : why);
			return rc;
		}
		s->parser.custom = s->custom;
	}
	return 0;
}

static int
filter_init(ls_ctx *ctx, void *state, const void *arg)
{
	stage *s = state;
	(void)ctx;
	common_init(s, arg);
	const char *lvl = ls_topo_str(s->cfg->node, "min_level");
	s->min_level = lvl != NULL ? (int)ls_level_parse(lvl, strlen(lvl)) : 0;
	s->service = ls_topo_str(s->cfg->node, "service");
	s->contains = ls_topo_str(s->cfg->node, "contains");
	s->contains_len = s->contains != NULL ? strlen(s->contains) : 0;
	return 0;
}

static void
stage_stop(ls_ctx *ctx, void *state)
{
	stage *s = state;
	ls_outq_fini(ls_ctx_runtime(ctx), &s->q);
	ls_gate_fini(&s->gate);
	ls_userfmt_free(s->custom);
	s->custom = NULL;
}

static void
parse_batch(ls_ctx *ctx, stage *s, ls_batch *in)
{
	ls_batch *out = ls_batch_new(in->n, 1, in);
	if (out == NULL) {
		ls_log(LS_LOG_ERROR, "parse", "out of memory: batch dropped");
		return;
	}
	for (uint32_t i = 0; i < in->n; i++) {
		const ls_event *raw = in->items[i];
		ls_event *ev = ls_batch_add(out);
		const char *reason = NULL;
		int rv = ls_parser_parse_at(&s->parser, raw->message.ptr,
		    raw->message.len, raw->ingest_ns, ev, &out->arena, &reason);
		if (rv != 0) {
			ls_batch_unadd(out);
			ls_stage_dead(ctx, s->cfg, &s->q,
			    reason != NULL ? reason : ls_strerror(rv), raw,
			    in->source);
			continue;
		}
		ev->offset = raw->offset;
		ev->ingest_ns = raw->ingest_ns;
	}
	ls_metric_add(s->cfg->ctr.in, in->n);
	ls_metric_add(s->cfg->ctr.out, out->n);
	ls_stage_emit(ctx, s->cfg, &s->q, out);
	ls_batch_unref(out);
}

static int
matches(const stage *s, const ls_event *ev)
{
	if (s->min_level > 0 && ev->level < s->min_level)
		return 0;
	if (s->service != NULL && !ls_str_eq(ev->service, s->service))
		return 0;
	if (s->contains_len > 0 &&
	    (ev->message.len < s->contains_len ||
	        memmem(ev->message.ptr, ev->message.len, s->contains,
	            s->contains_len) == NULL))
		return 0;
	return 1;
}

static void
filter_batch(ls_ctx *ctx, stage *s, ls_batch *in)
{
	ls_batch *out = ls_batch_new(in->n, 0, in);
	if (out == NULL)
		return;
	for (uint32_t i = 0; i < in->n; i++)
		if (matches(s, in->items[i]))
			ls_batch_push(out, in->items[i]);
	ls_metric_add(s->cfg->ctr.in, in->n);
	ls_metric_add(s->cfg->ctr.out, out->n);
	ls_stage_emit(ctx, s->cfg, &s->q, out);
	ls_batch_unref(out);
}

static int
receive(ls_ctx *ctx, stage *s, ls_msg *m, int is_parse)
{
	if (m->type != LS_MSG_BATCH)
		return ls_stage_pass_other(ctx, s->cfg, &s->q, &s->gate,
		    &s->eos, m);
	if (is_parse)
		parse_batch(ctx, s, m->ptr);
	else
		filter_batch(ctx, s, m->ptr);
	return 0;
}

static int
parse_handle(ls_ctx *ctx, void *st, ls_msg *m)
{
	return receive(ctx, st, m, 1);
}

static int
filter_handle(ls_ctx *ctx, void *st, ls_msg *m)
{
	return receive(ctx, st, m, 0);
}

/* parse and filter keep no state between batches: their checkpoints are
 * empty (the gate still aligns barriers and passes them on). */
static int
parse_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	stage *s = state;
	return ls_stage_receive(ctx, &s->gate, s->cfg, &s->q, m, parse_handle,
	    s);
}

static int
filter_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	stage *s = state;
	return ls_stage_receive(ctx, &s->gate, s->cfg, &s->q, m, filter_handle,
	    s);
}

static const ls_behaviour parse_behaviour = {
	.name = "parse",
	.state_size = sizeof(stage),
	.init = parse_init,
	.receive = parse_receive,
	.stop = stage_stop,
};

static const ls_behaviour filter_behaviour = {
	.name = "filter",
	.state_size = sizeof(stage),
	.init = filter_init,
	.receive = filter_receive,
	.stop = stage_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_parse = {
	.name = "parse",
	.role = LS_TOPO_STAGE,
	.params = LS_KIND_PARAMS(
	    { "format", LS_TV_STRING, 0, "auto",
	        LS_KIND_WORDS("auto", "json", "logfmt", "syslog", "rfc3164",
	            "rfc5424", "clf", "apache_error", "nginx_error", "log4j",
	            "bgl", "freeform"),
	        LS_KIND_ANY_INT, ls_topo_check_format,
	        "line format: auto = detect per line, or a name declared "
	        "under formats:" },
	    { "dead_letter", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_name,
	        "sink that receives lines that do not parse" }),
	.help = "raw line -> log event",
	.behaviour = &parse_behaviour,
};

const ls_kind ls_kind_filter = {
	.name = "filter",
	.role = LS_TOPO_STAGE,
	.params = LS_KIND_PARAMS(
	    { "min_level", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_level, "keep events at this level or above" },
	    { "service", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT, NULL,
	        "keep events of exactly this service" },
	    { "contains", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT, NULL,
	        "keep events whose message contains this text" }),
	.help = "keep the events that match every condition given",
	.behaviour = &filter_behaviour,
};
