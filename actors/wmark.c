/*
 * wmark.c -- per-input watermarks (actors/wmark.h).
 */
#include "actors/wmark.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

void
ls_wmark_init(ls_wmark *w, uint32_t n_upstream, int64_t delay_ns,
    int64_t idle_ns, int64_t now_ns)
{
	memset(w, 0, sizeof(*w));
	w->n_upstream = n_upstream;
	w->delay_ns = delay_ns;
	w->idle_ns = idle_ns;
	w->born_ns = now_ns;
}

void
ls_wmark_fini(ls_wmark *w)
{
	free(w->ch);
	w->ch = NULL;
	w->nch = w->capch = 0;
}

static struct ls_wmark_chan *
chan_get(ls_wmark *w, uint64_t id, int64_t now_ns)
{
	for (uint32_t i = 0; i < w->nch; i++)
		if (w->ch[i].id == id)
			return &w->ch[i];
	if (w->nch == w->capch) {
		uint32_t nc = w->capch ? w->capch * 2 : 8;
		struct ls_wmark_chan *n = realloc(w->ch, nc * sizeof(*n));
		if (n == NULL)
			return NULL;
		w->ch = n;
		w->capch = nc;
	}
	struct ls_wmark_chan *c = &w->ch[w->nch++];
	c->id = id;
	c->max_t = INT64_MIN;
	c->heard = now_ns;
	c->eos = 0;
	return c;
}

int
ls_wmark_heard(ls_wmark *w, uint64_t id, int64_t max_t, int64_t now_ns)
{
	struct ls_wmark_chan *c = chan_get(w, id, now_ns);
	if (c == NULL)
		return LS_ENOMEM;
	c->heard = now_ns;
	if (max_t > c->max_t)
		c->max_t = max_t;
	return 0;
}

int
ls_wmark_eos(ls_wmark *w, uint64_t id, int64_t now_ns)
{
	struct ls_wmark_chan *c = chan_get(w, id, now_ns);
	if (c == NULL)
		return LS_ENOMEM;
	c->eos = 1;
	return 0;
}

int
ls_wmark_get(const ls_wmark *w, int64_t now_ns, int64_t *out)
{
	int64_t low = INT64_MAX;
	uint32_t live = 0;

	if (w->nch < w->n_upstream && now_ns - w->born_ns < w->idle_ns)
		return 0; /* an input not heard from yet may still be behind */
	for (uint32_t i = 0; i < w->nch; i++) {
		const struct ls_wmark_chan *c = &w->ch[i];
		if (c->eos || now_ns - c->heard > w->idle_ns)
			continue;
		if (c->max_t == INT64_MIN)
			return 0;
		if (c->max_t < low)
			low = c->max_t;
		live++;
	}
	if (live == 0)
		return 0;
	*out = low < INT64_MIN + w->delay_ns ? INT64_MIN : low - w->delay_ns;
	return 1;
}
