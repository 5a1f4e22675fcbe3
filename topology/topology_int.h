/*
 * topology_int.h -- detail shared by the files of topology/ (and its unit
 * tests): the settings, the parameters every node has, and the diagnostic
 * helper.  The kinds are tables of their own (topology/kind.h): the loader
 * validates against them and fills defaults from them; nothing else
 * restates a default.
 */
#ifndef LS_TOPOLOGY_INT_H
#define LS_TOPOLOGY_INT_H

#include "topology/kind.h"
#include "topology/topology.h"

/* The known settings (same shape as kind parameters); ends with NULL name. */
extern const ls_topo_pspec ls__topo_settings[];

/* Parameters every node may carry besides its kind's: "input" (stages and
 * sinks only) and "partitions" (1 for sources and sinks). */
extern const ls_topo_pspec ls__topo_input_spec;
extern const ls_topo_pspec ls__topo_partitions_spec;

/* The parameter spec called name in a NULL-terminated spec array, or NULL. */
const ls_topo_pspec *ls__topo_pspec_find(const ls_topo_pspec *specs,
    const char *name);

/* Append a printf-formatted message to d (NULL d is ignored).  Past
 * LS_DIAG_MAX messages one "too many errors" line is kept instead.
 * Returns 0 or LS_ENOMEM. */
int ls__diag_addf(ls_diag *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* True when name matches [A-Za-z0-9_-]+ and is at most LS_TOPO_NAME_MAX
 * bytes. */
int ls__topo_name_ok(const char *name);

/* Edit distance (optimal string alignment) between a and b, capped: any
 * result above 3 is reported as 4. */
int ls__topo_distance(const char *a, const char *b);

#endif /* LS_TOPOLOGY_INT_H */
