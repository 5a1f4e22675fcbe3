/*
 * plan.c -- physical plan of a topology: actors per partition, edges,
 * routing, and the human-readable description used by `validate --plan`.
 */
#include "topology/plan.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/hash.h"
#include "topology/topology_int.h"

struct ls_plan {
	const ls_topology *t;
	ls_plan_actor *actors;
	size_t nactors;
	size_t *first;     /* per node: index of its first actor */
	ls_plan_edge *out; /* sorted by (from, to, dead_letter) */
	ls_plan_edge *in;  /* sorted by (to, from, dead_letter) */
	size_t nedges;
	size_t *out_start; /* per node + 1: its slice of out[] */
	size_t *in_start;  /* per node + 1: its slice of in[] */
};

static int
cmp_out(const void *a, const void *b)
{
	const ls_plan_edge *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return (x->dead_letter > y->dead_letter) - (x->dead_letter <
	    y->dead_letter);
}

static int
cmp_in(const void *a, const void *b)
{
	const ls_plan_edge *x = a, *y = b;

	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return (x->dead_letter > y->dead_letter) - (x->dead_letter <
	    y->dead_letter);
}

void
ls_plan_free(ls_plan *p)
{
	if (p == NULL)
		return;
	free(p->actors);
	free(p->first);
	free(p->out);
	free(p->in);
	free(p->out_start);
	free(p->in_start);
	free(p);
}

int
ls_plan_build(const ls_topology *t, ls_plan **out, ls_diag *diag)
{
	size_t n, nactors = 0, nedges = 0, a = 0, e = 0;
	ls_plan *p;

	if (t == NULL || out == NULL)
		return LS_EINVAL;
	*out = NULL;
	n = ls_topology_count(t);
	for (size_t v = 0; v < n; v++) {
		const ls_topo_node *nd = ls_topology_node(t, v);
		nactors += nd->partitions;
		nedges += nd->ninputs + (nd->dead_letter != NULL);
	}
	if (nactors > LS_PLAN_MAX_ACTORS) {
		if (ls__diag_addf(diag, "%s: the plan would have %zu actors, "
		                        "more than the limit of %u",
		        ls_topology_file(t), nactors, LS_PLAN_MAX_ACTORS) != 0)
			return LS_ENOMEM;
		return LS_ERANGE;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return LS_ENOMEM;
	p->t = t;
	p->actors = calloc(nactors ? nactors : 1, sizeof(*p->actors));
	p->first = calloc(n + 1, sizeof(*p->first));
	p->out = calloc(nedges ? nedges : 1, sizeof(*p->out));
	p->in = calloc(nedges ? nedges : 1, sizeof(*p->in));
	p->out_start = calloc(n + 1, sizeof(*p->out_start));
	p->in_start = calloc(n + 1, sizeof(*p->in_start));
	if (p->actors == NULL || p->first == NULL || p->out == NULL ||
	    p->in == NULL || p->out_start == NULL || p->in_start == NULL) {
		ls_plan_free(p);
		return LS_ENOMEM;
	}
	for (size_t v = 0; v < n; v++) {
		const ls_topo_node *nd = ls_topology_node(t, v);
		uint32_t u;

		p->first[v] = a;
		for (uint32_t k = 0; k < nd->partitions; k++, a++) {
			snprintf(p->actors[a].name, sizeof(p->actors[a].name),
			    "%s/%" PRIu32, nd->name, k);
			p->actors[a].node = (uint32_t)v;
			p->actors[a].partition = k;
		}
		for (size_t i = 0; i < nd->ninputs; i++) {
			if (ls_topology_index(t, nd->inputs[i], &u) != 0)
				goto internal;
			p->out[e].from = u;
			p->out[e].to = (uint32_t)v;
			p->out[e++].dead_letter = 0;
		}
		if (nd->dead_letter != NULL) {
			if (ls_topology_index(t, nd->dead_letter, &u) != 0)
				goto internal;
			p->out[e].from = (uint32_t)v;
			p->out[e].to = u;
			p->out[e++].dead_letter = 1;
		}
	}
	p->first[n] = a;
	p->nactors = nactors;
	p->nedges = nedges;
	if (nedges > 0) {
		memcpy(p->in, p->out, nedges * sizeof(*p->in));
		qsort(p->out, nedges, sizeof(*p->out), cmp_out);
		qsort(p->in, nedges, sizeof(*p->in), cmp_in);
	}
	for (size_t i = 0; i < nedges; i++) {
		p->out_start[p->out[i].from + 1]++;
		p->in_start[p->in[i].to + 1]++;
	}
	for (size_t v = 0; v < n; v++) {
		p->out_start[v + 1] += p->out_start[v];
		p->in_start[v + 1] += p->in_start[v];
	}
	*out = p;
	return 0;

internal:
	/* A loaded topology resolves every name; this is a broken invariant
	 * reported rather than trusted. */
	ls_plan_free(p);
	return LS_EINTERNAL;
}

const ls_topology *
ls_plan_topology(const ls_plan *p)
{
	return p->t;
}

size_t
ls_plan_actor_count(const ls_plan *p)
{
	return p->nactors;
}

const ls_plan_actor *
ls_plan_actor_at(const ls_plan *p, size_t i)
{
	return i < p->nactors ? &p->actors[i] : NULL;
}

size_t
ls_plan_first_actor(const ls_plan *p, uint32_t node)
{
	size_t n = ls_topology_count(p->t);

	return p->first[node < n ? node : n];
}

size_t
ls_plan_edge_count(const ls_plan *p)
{
	return p->nedges;
}

const ls_plan_edge *
ls_plan_edge_at(const ls_plan *p, size_t i)
{
	return i < p->nedges ? &p->out[i] : NULL;
}

size_t
ls_plan_outputs(const ls_plan *p, uint32_t node, const ls_plan_edge **edges)
{
	if (node >= ls_topology_count(p->t)) {
		*edges = NULL;
		return 0;
	}
	*edges = p->out + p->out_start[node];
	return p->out_start[node + 1] - p->out_start[node];
}

size_t
ls_plan_inputs(const ls_plan *p, uint32_t node, const ls_plan_edge **edges)
{
	if (node >= ls_topology_count(p->t)) {
		*edges = NULL;
		return 0;
	}
	*edges = p->in + p->in_start[node];
	return p->in_start[node + 1] - p->in_start[node];
}

uint32_t
ls_plan_route(const ls_topo_node *to, const ls_event *ev)
{
	uint64_t h = 0;

	if (to->partitions <= 1)
		return 0;
	if (to->nkey == 0) {
		unsigned char b[8];
		for (int i = 0; i < 8; i++)
			b[i] = (unsigned char)(ev->offset >> (8 * i));
		h = ls_hash64(b, sizeof(b), 0);
	} else {
		/* the same hash as ls_plan_route_key over the field values */
		for (size_t i = 0; i < to->nkey; i++) {
			ls_str v;
			ls_event_field(ev, to->key[i], strlen(to->key[i]), &v);
			h = ls_hash64(v.ptr, v.len, h);
		}
	}
	return ls_partition_of(h, to->partitions);
}

uint32_t
ls_plan_route_key(const ls_topo_node *to, const ls_str *values, size_t n)
{
	uint64_t h = 0;
	if (to->partitions <= 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		h = ls_hash64(values[i].ptr, values[i].len, h);
	return ls_partition_of(h, to->partitions);
}

static const char *
plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int
ls_plan_summary(const ls_plan *p, char *buf, size_t len)
{
	size_t ns = ls_topology_count_role(p->t, LS_TOPO_SOURCE);
	size_t nt = ls_topology_count_role(p->t, LS_TOPO_STAGE);
	size_t nk = ls_topology_count_role(p->t, LS_TOPO_SINK);
	int w;

	w = snprintf(buf, len, "topology '%s': %zu %s, %zu %s, %zu %s, %zu %s",
	    ls_topology_name(p->t), ns, plural(ns, "source", "sources"), nt,
	    plural(nt, "stage", "stages"), nk, plural(nk, "sink", "sinks"),
	    p->nactors, plural(p->nactors, "actor", "actors"));
	return (w < 0 || (size_t)w >= len) ? LS_ERANGE : 0;
}

/* A duration in the file's own notation ("1m30s", "250ms", "0s"). */
static void
print_ms(FILE *out, int64_t ms)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
		{ "ms", 1 } };

	if (ms == 0) {
		fputs("0s", out);
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms >= units[i].mult) {
			fprintf(out, "%" PRId64 "%s", ms / units[i].mult,
			    units[i].unit);
			ms %= units[i].mult;
		}
	}
}

static void
print_param(FILE *out, const ls_topo_param *pr)
{
	fprintf(out, "%s=", pr->name);
	switch (pr->type) {
	case LS_TV_STRING:
		fputs(pr->s, out);
		break;
	case LS_TV_INT:
		fprintf(out, "%" PRId64, pr->i);
		break;
	case LS_TV_FLOAT:
		fprintf(out, "%g", pr->f);
		break;
	case LS_TV_BOOL:
		fputs(pr->b ? "true" : "false", out);
		break;
	case LS_TV_DURATION:
		print_ms(out, pr->ms);
		break;
	case LS_TV_LIST:
		fputc('[', out);
		for (size_t i = 0; i < pr->nlist; i++)
			fprintf(out, "%s%s", i ? ", " : "", pr->list[i]);
		fputc(']', out);
		break;
	}
	if (pr->line == 0)
		fputs(" (default)", out);
}

static void
print_route(FILE *out, const ls_topo_node *to)
{
	if (to->partitions <= 1)
		return;
	if (to->nkey == 0) {
		fprintf(out, " (spread by offset over %" PRIu32 " partitions)",
		    to->partitions);
		return;
	}
	fputs(" (by ", out);
	for (size_t i = 0; i < to->nkey; i++)
		fprintf(out, "%s%s", i ? ", " : "", to->key[i]);
	fprintf(out, " over %" PRIu32 " partitions)", to->partitions);
}

void
ls_plan_describe(const ls_plan *p, FILE *out)
{
	const ls_topology *t = p->t;
	size_t n = ls_topology_count(t);
	char line[256];
	static const char *const settings[] = { "watermark_delay",
		"idle_timeout", "checkpoint_interval", NULL };

	ls_plan_summary(p, line, sizeof(line));
	fprintf(out, "%s\n", line);
	fprintf(out, "settings: workers=%" PRId64,
	    ls_topology_setting_int(t, "workers", 0));
	for (size_t i = 0; settings[i] != NULL; i++) {
		fprintf(out, " %s=", settings[i]);
		print_ms(out, ls_topology_setting_ms(t, settings[i], 0));
	}
	fputc('\n', out);
	for (size_t v = 0; v < n; v++) {
		const ls_topo_node *nd = ls_topology_node(t, v);
		const ls_plan_edge *edges;
		size_t ne;

		fprintf(out, "\n%s %s (%s), %" PRIu32 " %s, line %d\n",
		    ls_topo_role_name(nd->role), nd->name, nd->kind,
		    nd->partitions, plural(nd->partitions, "partition",
		                        "partitions"),
		    nd->line);
		for (size_t i = 0; i < nd->nparams; i++) {
			fputs("    ", out);
			print_param(out, &nd->params[i]);
			fputc('\n', out);
		}
		ne = ls_plan_inputs(p, (uint32_t)v, &edges);
		for (size_t i = 0; i < ne; i++)
			fprintf(out, "    <- %s%s\n",
			    ls_topology_node(t, edges[i].from)->name,
			    edges[i].dead_letter ? " (dead letters)" : "");
		ne = ls_plan_outputs(p, (uint32_t)v, &edges);
		for (size_t i = 0; i < ne; i++) {
			const ls_topo_node *to =
			    ls_topology_node(t, edges[i].to);
			fprintf(out, "    -> %s", to->name);
			if (edges[i].dead_letter)
				fputs(" (dead letters)", out);
			print_route(out, to);
			fputc('\n', out);
		}
		fputs("    actors:", out);
		for (size_t a = p->first[v]; a < p->first[v + 1]; a++)
			fprintf(out, " %s", p->actors[a].name);
		fputc('\n', out);
	}
}
