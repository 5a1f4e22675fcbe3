/*
 * topology_int.h -- detail shared by the files of topology/ (and its unit
 * tests): the kind table and the diagnostic helper.
 *
 * Every node kind a topology may use is one row of ls__topo_kinds[] in
 * kinds.c: its role, its name, flags, and its parameters with type,
 * requiredness, default and allowed values.  The loader validates against
 * the table and fills defaults from it; nothing else restates a default.
 */
#ifndef LS_TOPOLOGY_INT_H
#define LS_TOPOLOGY_INT_H

#include "topology/topology.h"

/* Extra validation of a string value, or of each element of a list.
 * Returns 0 when v is fine, else 1 with a reason written into why. */
typedef int (*ls__topo_check_fn)(const char *v, char *why, size_t whylen);

/* One parameter of a kind (or one setting). */
typedef struct ls__topo_pspec {
	const char *name;
	ls_topo_vtype type;
	int required;
	const char *dflt;           /* default as YAML scalar text, or NULL */
	const char *const *allowed; /* NULL-terminated words, or NULL = any */
	int64_t min, max;           /* INT / DURATION (ms) range, enforced
	                               when min < max */
	ls__topo_check_fn check;    /* or NULL */
	const char *help;           /* one line for docs and messages */
} ls__topo_pspec;

/* The kind routes by 'key' when it has more than one partition (a stateful
 * stage), so partitions > 1 without a key is an error. */
#define LS__KIND_KEYED 0x1u

/* One row of the kind table.  params ends with an entry whose name is NULL. */
typedef struct ls__topo_kind {
	ls_topo_role role;
	const char *kind;
	unsigned flags;
	const ls__topo_pspec *params;
	const char *help;
} ls__topo_kind;

/* The kind table, and its number of rows. */
extern const ls__topo_kind ls__topo_kinds[];
extern const size_t ls__topo_nkinds;

/* The known settings (same shape as kind parameters); ends with NULL name. */
extern const ls__topo_pspec ls__topo_settings[];

/* Parameters every node may carry besides its kind's: "input" (stages and
 * sinks only) and "partitions" (1 for sources and sinks). */
extern const ls__topo_pspec ls__topo_input_spec;
extern const ls__topo_pspec ls__topo_partitions_spec;

/* The row for (role, kind), or NULL. */
const ls__topo_kind *ls__topo_kind_find(ls_topo_role role, const char *kind);

/* The parameter spec called name in a NULL-terminated spec array, or NULL. */
const ls__topo_pspec *ls__topo_pspec_find(const ls__topo_pspec *specs,
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
