/*
 * metrics.h -- named counters and gauges, exported as Prometheus text.
 *
 * A metric is identified by (name, labels); labels are written already
 * formatted ("stage=\"parse\",partition=\"0\"") or NULL.  Getting a metric
 * returns a stable pointer that stays valid until ls_metrics_free, so the
 * hot path updates it with one relaxed atomic add.  Collectors registered
 * with ls_metrics_on_collect refresh gauges just before each export (the
 * runtime's own counters are published this way).
 */
#ifndef LS_METRICS_H
#define LS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ls_metrics ls_metrics;

typedef enum ls_metric_kind { LS_METRIC_COUNTER, LS_METRIC_GAUGE } ls_metric_kind;

/* A new empty registry in *out; LS_ENOMEM on failure. */
int ls_metrics_new(ls_metrics **out);

/* Free the registry and every metric in it. */
void ls_metrics_free(ls_metrics *m);

/* The counter (name, labels), created on first use; NULL on out of memory.
 * name must match [a-zA-Z_:][a-zA-Z0-9_:]*.  Any thread. */
_Atomic int64_t *ls_metrics_counter(ls_metrics *m, const char *name,
    const char *help, const char *labels);

/* The gauge (name, labels), created on first use; NULL on out of memory. */
_Atomic int64_t *ls_metrics_gauge(ls_metrics *m, const char *name,
    const char *help, const char *labels);

static inline void
ls_metric_add(_Atomic int64_t *v, int64_t n)
{
	if (v != NULL)
		atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static inline void
ls_metric_set(_Atomic int64_t *v, int64_t n)
{
	if (v != NULL)
		atomic_store_explicit(v, n, memory_order_relaxed);
}

typedef void (*ls_metrics_collect_fn)(void *arg, ls_metrics *m);

/* Call fn(arg, m) before every export; arg is borrowed.  LS_ENOMEM. */
int ls_metrics_on_collect(ls_metrics *m, ls_metrics_collect_fn fn, void *arg);

/* Export in the Prometheus text format (version 0.0.4) into a new
 * NUL-terminated buffer *out (caller frees) of *len bytes. */
int ls_metrics_export(ls_metrics *m, char **out, size_t *len);

#endif /* LS_METRICS_H */
