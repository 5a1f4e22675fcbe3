/*
 * metrics.c -- Prometheus registry (see metrics.h).
 *
 * Metrics are kept in insertion order in a growable array of pointers;
 * lookups are linear under a mutex (creation is rare: callers keep the
 * returned pointer).  Export groups samples of one name under a single
 * HELP/TYPE header.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

typedef struct metric {
	char *name;
	char *help;
	char *labels;
	ls_metric_kind kind;
	_Atomic int64_t value;
} metric;

typedef struct collector {
	ls_metrics_collect_fn fn;
	void *arg;
} collector;

struct ls_metrics {
	pthread_mutex_t lock;
	metric **v;
	size_t n, cap;
	collector *c;
	size_t nc;
};

int
ls_metrics_new(ls_metrics **out)
{
	ls_metrics *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return LS_ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

void
ls_metrics_free(ls_metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i]->name);
		free(m->v[i]->help);
		free(m->v[i]->labels);
		free(m->v[i]);
	}
	free(m->v);
	free(m->c);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static _Atomic int64_t *
get(ls_metrics *m, ls_metric_kind kind, const char *name, const char *help,
    const char *labels)
{
	_Atomic int64_t *rv = NULL;

	if (labels != NULL && labels[0] == '\0')
		labels = NULL;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->v[i]->name, name) == 0 &&
		    streq(m->v[i]->labels, labels)) {
			rv = &m->v[i]->value;
			goto out;
		}
	}
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 32;
		metric **nv = realloc(m->v, nc * sizeof(*nv));
		if (nv == NULL)
			goto out;
		m->v = nv;
		m->cap = nc;
	}
	metric *x = calloc(1, sizeof(*x));
	if (x == NULL)
		goto out;
	x->kind = kind;
	x->name = strdup(name);
	x->help = strdup(help != NULL ? help : "");
	x->labels = labels != NULL ? strdup(labels) : NULL;
	if (x->name == NULL || x->help == NULL ||
	    (labels != NULL && x->labels == NULL)) {
		free(x->name);
		free(x->help);
		free(x->labels);
		free(x);
		goto out;
	}
	m->v[m->n++] = x;
	rv = &x->value;
out:
	pthread_mutex_unlock(&m->lock);
	return rv;
}

_Atomic int64_t *
ls_metrics_counter(ls_metrics *m, const char *name, const char *help,
    const char *labels)
{
	return get(m, LS_METRIC_COUNTER, name, help, labels);
}

_Atomic int64_t *
ls_metrics_gauge(ls_metrics *m, const char *name, const char *help,
    const char *labels)
{
	return get(m, LS_METRIC_GAUGE, name, help, labels);
}

int
ls_metrics_on_collect(ls_metrics *m, ls_metrics_collect_fn fn, void *arg)
{
	pthread_mutex_lock(&m->lock);
	collector *nc = realloc(m->c, (m->nc + 1) * sizeof(*nc));
	if (nc == NULL) {
		pthread_mutex_unlock(&m->lock);
		return LS_ENOMEM;
	}
	m->c = nc;
	m->c[m->nc].fn = fn;
	m->c[m->nc].arg = arg;
	m->nc++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

typedef struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
} sbuf;

static void
sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		if (b->oom)
			return;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = (b->cap + (size_t)n + 1) * 2;
		char *np = realloc(b->p, nc);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

int
ls_metrics_export(ls_metrics *m, char **out, size_t *len)
{
	sbuf b = { malloc(4096), 0, 4096, 0 };

	if (b.p == NULL)
		return LS_ENOMEM;
	b.p[0] = '\0';
	pthread_mutex_lock(&m->lock);
	size_t nc = m->nc;
	collector cs[64];
	if (nc > 64)
		nc = 64;
	if (nc > 0)
		memcpy(cs, m->c, nc * sizeof(*cs));
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < nc; i++)
		cs[i].fn(cs[i].arg, m);

	pthread_mutex_lock(&m->lock);
	char *done = calloc(m->n + 1, 1);
	if (done == NULL) {
		pthread_mutex_unlock(&m->lock);
		free(b.p);
		return LS_ENOMEM;
	}
	for (size_t i = 0; i < m->n; i++) {
		if (done[i])
			continue;
		metric *x = m->v[i];
		sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help,
		    x->name, x->kind == LS_METRIC_COUNTER ? "counter" : "gauge");
		for (size_t j = i; j < m->n; j++) {
			metric *y = m->v[j];
			if (done[j] || strcmp(y->name, x->name) != 0)
				continue;
			done[j] = 1;
			long long v = (long long)atomic_load_explicit(&y->value,
			    memory_order_relaxed);
			if (y->labels != NULL)
				sb_printf(&b, "%s{%s} %lld\n", y->name,
				    y->labels, v);
			else
				sb_printf(&b, "%s %lld\n", y->name, v);
		}
	}
	pthread_mutex_unlock(&m->lock);
	free(done);
	if (b.oom) {
		free(b.p);
		return LS_ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
