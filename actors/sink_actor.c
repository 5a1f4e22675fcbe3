/*
 * sink_actor.c -- the `stdout`, `jsonl` and `null` sinks.
 *
 * A sink writes window results (LS_MSG_RESULTS), events from parse/filter
 * stages (LS_MSG_BATCH) and dead-letter records (LS_MSG_DEAD):
 *   - stdout, format table: a live table (header when the stage changes
 *     or every 40 rows), events as one compact line, dead letters prefixed
 *     with "dead-letter: ";
 *   - stdout, format jsonl, and jsonl files: one JSON object per line;
 *   - null: counts only.
 * The output is flushed after every message so results appear live.  When
 * every upstream actor has sent end of stream the sink tells the pipeline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actors/sinkfmt.h"
#include "actors/stage.h"
#include "runtime/log.h"

enum { SINK_STDOUT, SINK_JSONL, SINK_NULL };

typedef struct sink {
	const ls_stage_cfg *cfg;
	int kind;
	int table;
	FILE *f;
	int own_f;
	uint32_t eos;
	const char *last_stage; /* stage whose header was printed last */
	uint32_t rows_since_header;
	ls_sinkfmt_table tab;
	char *buf;
	size_t cap;
} sink;

static int
sink_init(ls_ctx *ctx, void *state, const void *arg)
{
	sink *s = state;
	const ls_stage_cfg *cfg = arg;
	const ls_topo_node *n = cfg->node;
	(void)ctx;

	s->cfg = cfg;
	s->cap = 4096;
	if ((s->buf = malloc(s->cap)) == NULL)
		return LS_ENOMEM;
	if (strcmp(n->kind, "null") == 0) {
		s->kind = SINK_NULL;
	} else if (strcmp(n->kind, "jsonl") == 0) {
		const char *path = ls_topo_str(n, "path");
		s->kind = SINK_JSONL;
		s->f = fopen(path, "w");
		if (s->f == NULL) {
			ls_log(LS_LOG_ERROR, "sink", "cannot open path=%s err=%s",
			    path, strerror(errno));
			free(s->buf);
			s->buf = NULL;
			return LS_EIO;
		}
		s->own_f = 1;
	} else {
		const char *fmt = ls_topo_str(n, "format");
		s->kind = SINK_STDOUT;
		s->table = fmt == NULL || strcmp(fmt, "table") == 0;
		s->f = cfg->out;
	}
	return 0;
}

static void
sink_stop(ls_ctx *ctx, void *state)
{
	sink *s = state;
	(void)ctx;
	if (s->f != NULL)
		fflush(s->f);
	if (s->own_f && s->f != NULL)
		fclose(s->f);
	s->f = NULL;
	free(s->buf);
	s->buf = NULL;
}

/* Make room for need + 1 bytes in s->buf. */
static int
reserve(sink *s, size_t need)
{
	if (need + 1 <= s->cap)
		return 0;
	size_t nc = (need + 1) * 2;
	char *nb = realloc(s->buf, nc);
	if (nb == NULL)
		return LS_ENOMEM;
	s->buf = nb;
	s->cap = nc;
	return 0;
}

/* ---- events as JSON ---- */

typedef struct jb {
	sink *s;
	size_t len;
	int oom;
} jb;

static void
jb_raw(jb *j, const char *p, size_t n)
{
	if (j->oom || reserve(j->s, j->len + n) != 0) {
		j->oom = 1;
		return;
	}
	memcpy(j->s->buf + j->len, p, n);
	j->len += n;
}

static void
jb_str(jb *j, const char *p, size_t n)
{
	jb_raw(j, "\"", 1);
	size_t need = ls_json_escape(p, n, NULL, 0);
	if (j->oom || reserve(j->s, j->len + need) != 0) {
		j->oom = 1;
		return;
	}
	ls_json_escape(p, n, j->s->buf + j->len, need + 1);
	j->len += need;
	jb_raw(j, "\"", 1);
}

static void
jb_field(jb *j, const char *key, ls_str v)
{
	jb_raw(j, ",", 1);
	jb_str(j, key, strlen(key));
	jb_raw(j, ":", 1);
	jb_str(j, v.ptr, v.len);
}

static size_t
event_json(sink *s, const char *stage, const ls_event *ev)
{
	jb j = { s, 0, 0 };
	char t[LS_SINKFMT_TIME_LEN];

	jb_raw(&j, "{\"source\":", 10);
	jb_str(&j, stage, strlen(stage));
	if (ev->time_ns != LS_TIME_UNKNOWN) {
		ls_sinkfmt_time(ev->time_ns, t);
		jb_field(&j, "ts", ls_str_c(t));
	}
	jb_field(&j, "level", ls_str_c(ls_level_name(ev->level)));
	if (ev->service.len)
		jb_field(&j, "service", ev->service);
	if (ev->host.len)
		jb_field(&j, "host", ev->host);
	jb_field(&j, "message", ev->message);
	for (unsigned i = 0; i < ev->nattrs; i++) {
		jb_raw(&j, ",", 1);
		jb_str(&j, ev->attrs[i].key.ptr, ev->attrs[i].key.len);
		jb_raw(&j, ":", 1);
		jb_str(&j, ev->attrs[i].val.ptr, ev->attrs[i].val.len);
	}
	char off[40];
	int n = snprintf(off, sizeof(off), ",\"offset\":%llu}\n",
	    (unsigned long long)ev->offset);
	jb_raw(&j, off, (size_t)n);
	return j.oom ? 0 : j.len;
}

static void
write_events(sink *s, ls_batch *b)
{
	const char *stage = b->source != NULL ? b->source : "";
	for (uint32_t i = 0; i < b->n; i++) {
		const ls_event *ev = b->items[i];
		if (s->kind == SINK_STDOUT && s->table) {
			char t[LS_SINKFMT_TIME_LEN] = "-";
			if (ev->time_ns != LS_TIME_UNKNOWN)
				ls_sinkfmt_time(ev->time_ns, t);
			fprintf(s->f, "%s %-5s %.*s: %.*s\n", t,
			    ls_level_name(ev->level), (int)ev->service.len,
			    ev->service.ptr != NULL ? ev->service.ptr : "",
			    (int)ev->message.len,
			    ev->message.ptr != NULL ? ev->message.ptr : "");
			continue;
		}
		size_t n = event_json(s, stage, ev);
		if (n > 0)
			fwrite(s->buf, 1, n, s->f);
	}
	ls_metric_add(s->cfg->ctr.results, b->n);
}

/* ---- window results ---- */

static void
write_results(sink *s, const ls_results *r)
{
	for (uint32_t i = 0; i < r->n; i++) {
		const ls_window_result *row = &r->rows[i];
		size_t n;
		if (s->kind == SINK_STDOUT && s->table) {
			if (s->last_stage != r->stage ||
			    s->rows_since_header >= 40) {
				ls_sinkfmt_table_init(&s->tab, r->key_fields,
				    r->nkeys, r->agg_names, r->naggs);
				n = ls_sinkfmt_table_header(&s->tab, s->buf,
				    s->cap);
				if (n >= s->cap && reserve(s, n) == 0)
					n = ls_sinkfmt_table_header(&s->tab,
					    s->buf, s->cap);
				if (n < s->cap)
					fprintf(s->f, "\n[%s]\n%s\n", r->stage,
					    s->buf);
				s->last_stage = r->stage;
				s->rows_since_header = 0;
			}
			n = ls_sinkfmt_table_row(&s->tab, row, s->buf, s->cap);
			if (n >= s->cap && reserve(s, n) == 0)
				n = ls_sinkfmt_table_row(&s->tab, row, s->buf,
				    s->cap);
			if (n < s->cap) {
				fwrite(s->buf, 1, n, s->f);
				fputc('\n', s->f);
			}
			s->rows_since_header++;
			continue;
		}
		n = ls_sinkfmt_result_json(r->stage, row, r->key_fields,
		    r->agg_names, r->naggs, s->buf, s->cap);
		if (n >= s->cap && reserve(s, n) == 0)
			n = ls_sinkfmt_result_json(r->stage, row, r->key_fields,
			    r->agg_names, r->naggs, s->buf, s->cap);
		if (n < s->cap) {
			fwrite(s->buf, 1, n, s->f);
			fputc('\n', s->f);
		}
	}
	ls_metric_add(s->cfg->ctr.results, r->n);
}

static int
sink_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	sink *s = state;
	(void)ctx;

	switch (m->type) {
	case LS_MSG_RESULTS:
		ls_metric_add(s->cfg->ctr.in, ((ls_results *)m->ptr)->n);
		if (s->kind != SINK_NULL)
			write_results(s, m->ptr);
		break;
	case LS_MSG_BATCH:
		ls_metric_add(s->cfg->ctr.in, ((ls_batch *)m->ptr)->n);
		if (s->kind != SINK_NULL)
			write_events(s, m->ptr);
		break;
	case LS_MSG_DEAD:
		ls_metric_add(s->cfg->ctr.in, 1);
		ls_metric_add(s->cfg->ctr.results, 1);
		if (s->kind == SINK_STDOUT && s->table)
			fprintf(s->f, "dead-letter: %s\n", (char *)m->ptr);
		else if (s->kind != SINK_NULL)
			fprintf(s->f, "%s\n", (char *)m->ptr);
		break;
	case LS_MSG_EOS:
		if (++s->eos == s->cfg->n_upstream) {
			if (s->f != NULL)
				fflush(s->f);
			ls__pipeline_sink_done(s->cfg->pl);
		}
		return 0;
	default:
		return 0;
	}
	if (s->f != NULL)
		fflush(s->f);
	return 0;
}

const ls_behaviour ls_sink_behaviour = {
	.name = "sink",
	.state_size = sizeof(sink),
	.init = sink_init,
	.receive = sink_receive,
	.stop = sink_stop,
};
