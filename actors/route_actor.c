/*
 * route_actor.c -- the `route` stage: each event goes to one of the
 * stage's consumers, chosen by rules on its content (actors/route.h), or
 * to the default route.
 *
 *   - name: split
 *     kind: route
 *     input: parse
 *     routes:
 *       - errors when level >= error
 *       - auth when service = sshd and message contains "Failed password"
 *     default: rest          # or drop: unmatched events are counted only
 *
 * Every target is a node whose input names this stage; the topology
 * loader checks that through the kind's validate hook, and that every
 * consumer is the target of some rule or of the default (a consumer that
 * could never get an event is a mistake).  The stage keeps no state: its
 * checkpoints are empty.  Batches go on as views of the input batch.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/route.h"
#include "actors/stage.h"
#include "runtime/log.h"

#define DROP "drop"

typedef struct route {
	const ls_stage_cfg *cfg;
	ls_outq q;
	ls_gate gate;
	uint32_t eos;
	ls_route_rule *rules;
	size_t nrules;
	uint32_t *out_of; /* per rule: its consumer in cfg->outs */
	int64_t dflt;     /* the default's consumer, -1 = drop */
} route;

static int64_t
out_named(const ls_stage_cfg *cfg, const char *name)
{
	for (uint32_t o = 0; o < cfg->nouts; o++)
		if (strcmp(cfg->outs[o].node->name, name) == 0)
			return o;
	return -1;
}

static int
route_init(ls_ctx *ctx, void *state, const void *arg)
{
	route *s = state;
	(void)ctx;
	s->cfg = arg;
	size_t n = 0;
	const char **rules = ls_topo_list(s->cfg->node, "routes", &n);
	s->rules = calloc(n ? n : 1, sizeof(*s->rules));
	s->out_of = calloc(n ? n : 1, sizeof(*s->out_of));
	if (s->rules == NULL || s->out_of == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char why[256];
		int64_t o;
		if (ls_route_parse(rules[i], &s->rules[i], why,
		        sizeof(why)) != 0 ||
		    (o = out_named(s->cfg, s->rules[i].target)) < 0) {
			/* the loader checked both */
			ls_log(LS_LOG_ERROR, "route", "bad rule stage=%s "
			    "rule=\"%s\"", s->cfg->node->name, rules[i]);
			return LS_EINVAL;
		}
		s->out_of[i] = (uint32_t)o;
	}
	s->nrules = n;
	const char *d = ls_topo_str(s->cfg->node, "default");
	s->dflt = d == NULL || strcmp(d, DROP) == 0 ? -1 : out_named(s->cfg, d);
	return 0;
}

static void
route_stop(ls_ctx *ctx, void *state)
{
	route *s = state;
	ls_outq_fini(ls_ctx_runtime(ctx), &s->q);
	ls_gate_fini(&s->gate);
	free(s->rules);
	free(s->out_of);
	s->rules = NULL;
	s->out_of = NULL;
}

static void
route_batch(ls_ctx *ctx, route *s, ls_batch *in)
{
	uint32_t nouts = s->cfg->nouts;
	ls_batch *one[16];
	ls_batch **views = one;
	if (nouts > 16 && (views = calloc(nouts, sizeof(*views))) == NULL) {
		ls_log(LS_LOG_ERROR, "route", "out of memory: batch dropped");
		return;
	}
	memset(views, 0, (nouts > 16 ? nouts : 16) * sizeof(*views));
	uint32_t routed = 0;
	for (uint32_t i = 0; i < in->n; i++) {
		const ls_event *ev = in->items[i];
		int64_t o = s->dflt;
		for (size_t r = 0; r < s->nrules; r++)
			if (ls_route_match(&s->rules[r], ev)) {
				o = s->out_of[r];
				break;
			}
		if (o < 0)
			continue; /* default: drop */
		if (views[o] == NULL &&
		    (views[o] = ls_batch_new(in->n, 0, in)) == NULL)
			continue;
		ls_batch_push(views[o], in->items[i]);
		routed++;
	}
	ls_metric_add(s->cfg->ctr.in, in->n);
	ls_metric_add(s->cfg->ctr.out, routed);
	for (uint32_t o = 0; o < nouts; o++)
		if (views[o] != NULL) {
			ls_stage_emit_to(ctx, s->cfg, &s->q, o, views[o]);
			ls_batch_unref(views[o]);
		}
	if (views != one)
		free(views);
}

static int
route_handle(ls_ctx *ctx, void *st, ls_msg *m)
{
	route *s = st;
	if (m->type != LS_MSG_BATCH)
		return ls_stage_pass_other(ctx, s->cfg, &s->q, &s->gate,
		    &s->eos, m);
	route_batch(ctx, s, m->ptr);
	return 0;
}

static int
route_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	route *s = state;
	return ls_stage_receive(ctx, &s->gate, s->cfg, &s->q, m, route_handle,
	    s);
}

/* Whether node c reads from the node named name. */
static int
reads_from(const ls_topo_node *c, const char *name)
{
	for (size_t k = 0; k < c->ninputs; k++)
		if (strcmp(c->inputs[k], name) == 0)
			return 1;
	return 0;
}

static int
route_validate(const ls_topology *t, const ls_topo_node *n,
    const char **param, char *why, size_t whylen)
{
	size_t nr = 0;
	const char **rules = ls_topo_list(n, "routes", &nr);
	const char *d = ls_topo_str(n, "default");
	*param = "routes";
	if (nr > LS_ROUTE_MAX_RULES) {
		snprintf(why, whylen, "%zu rules, at most %d", nr,
		    LS_ROUTE_MAX_RULES);
		return 1;
	}
	ls_route_rule r;
	for (size_t i = 0; i < nr; i++) {
		if (ls_route_parse(rules[i], &r, why, whylen) != 0)
			return 1;
		const ls_topo_node *c = ls_topology_find(t, r.target);
		if (c == NULL || !reads_from(c, n->name)) {
			snprintf(why, whylen, "rule %zu routes to '%s', which "
			    "is not a node whose input is '%s'", i + 1,
			    r.target, n->name);
			return 1;
		}
	}
	*param = "default";
	if (d != NULL && strcmp(d, DROP) != 0) {
		const ls_topo_node *c = ls_topology_find(t, d);
		if (c == NULL || !reads_from(c, n->name)) {
			snprintf(why, whylen, "'%s' is not a node whose input "
			    "is '%s' (or say drop)", d, n->name);
			return 1;
		}
	}
	/* every consumer gets something */
	for (size_t k = 0; k < ls_topology_count(t); k++) {
		const ls_topo_node *c = ls_topology_node(t, k);
		if (!reads_from(c, n->name) ||
		    (d != NULL && strcmp(d, c->name) == 0))
			continue;
		int named = 0;
		for (size_t i = 0; i < nr && !named; i++)
			named = ls_route_parse(rules[i], &r, why, whylen) == 0 &&
			    strcmp(r.target, c->name) == 0;
		if (!named) {
			*param = NULL;
			snprintf(why, whylen, "'%s' reads from route stage '%s' "
			    "but no rule and not the default send it events",
			    c->name, n->name);
			return 1;
		}
	}
	return 0;
}

static int
check_default(const char *v, char *why, size_t whylen)
{
	if (strcmp(v, DROP) == 0)
		return 0;
	return ls_topo_check_name(v, why, whylen);
}

static const ls_behaviour route_behaviour = {
	.name = "route",
	.state_size = sizeof(route),
	.init = route_init,
	.receive = route_receive,
	.stop = route_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_route = {
	.name = "route",
	.role = LS_TOPO_STAGE,
	.params = LS_KIND_PARAMS(
	    { "routes", LS_TV_LIST, 1, NULL, NULL, LS_KIND_ANY_INT,
	        ls_route_check,
	        "rules 'TARGET when FIELD OP VALUE [and ...]', the first "
	        "that matches an event sends it to TARGET" },
	    { "default", LS_TV_STRING, 1, NULL, NULL, LS_KIND_ANY_INT,
	        check_default,
	        "where the events no rule matches go: a consumer, or drop" }),
	.help = "send each event to one consumer, chosen by its content",
	.behaviour = &route_behaviour,
	.validate = route_validate,
};
