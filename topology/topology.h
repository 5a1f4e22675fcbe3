/*
 * topology.h -- topology files: YAML -> validated model.
 *
 * A topology names its sources, stages and sinks and wires them together by
 * name (docs/topology.md is the user-facing reference).  ls_topology_load()
 * reads a file, checks everything it can and reports every problem as
 * "FILE:LINE:COL: message" in an ls_diag; on success it returns an immutable
 * model whose nodes are in topological order (every node after its inputs)
 * and whose parameters carry the defaults of the kind tables, so callers never
 * restate a default.  A loaded topology is read-only and may be shared by
 * any number of threads.
 */
#ifndef LS_TOPOLOGY_H
#define LS_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest node or topology name, in bytes (names match [A-Za-z0-9_-]+). */
#define LS_TOPO_NAME_MAX 48
/* Largest partition count of one stage. */
#define LS_TOPO_MAX_PARTITIONS 4096
/* Messages kept by one ls_diag; further problems are summarised in one line. */
#define LS_DIAG_MAX 100

/* Diagnostics: each entry is a malloc'd "file:line:col: message" string
 * (line and column 1-based) owned by the ls_diag.  Not thread-safe. */
typedef struct ls_diag {
	char **msgs;
	size_t n;
} ls_diag;

/* Make d empty.  Must precede any other use of d. */
void ls_diag_init(ls_diag *d);

/* Free every message; d is empty (and reusable) afterwards. */
void ls_diag_free(ls_diag *d);

/* Write every message of d, one per line, to out. */
void ls_diag_print(const ls_diag *d, FILE *out);

typedef struct ls_topology ls_topology;

typedef enum ls_topo_role {
	LS_TOPO_SOURCE,
	LS_TOPO_STAGE,
	LS_TOPO_SINK
} ls_topo_role;

typedef enum ls_topo_vtype {
	LS_TV_STRING,
	LS_TV_INT,
	LS_TV_FLOAT,
	LS_TV_BOOL,
	LS_TV_DURATION,
	LS_TV_LIST
} ls_topo_vtype;

/* One parameter of a node (or one setting).  Only the member matching type
 * is meaningful: s (STRING), i (INT), f (FLOAT), b (BOOL), ms (DURATION,
 * milliseconds), list/nlist (LIST).  line/col locate the value in the file;
 * both are 0 for a default filled in from the kind table.  All memory
 * belongs to the topology. */
typedef struct ls_topo_param {
	const char *name;
	ls_topo_vtype type;
	const char *s;
	int64_t i;
	double f;
	int b;
	int64_t ms;
	const char **list;
	size_t nlist;
	int line, col;
} ls_topo_param;

/* One node of the model.  inputs are node names (each defined, none a
 * sink); key lists the fields a keyed stage routes by (nkey may be 0);
 * dead_letter names a sink or is NULL.  params holds every parameter of the
 * node's kind that was given or has a default.  line/col locate the node.
 * All memory belongs to the topology. */
typedef struct ls_topo_node {
	ls_topo_role role;
	const char *name;
	const char *kind;
	const char **inputs;
	size_t ninputs;
	const char **key;
	size_t nkey;
	uint32_t partitions;
	const char *dead_letter;
	ls_topo_param *params;
	size_t nparams;
	int line, col;
	const struct ls_kind *kind_def; /* the kind's table (topology/kind.h) */
} ls_topo_node;

/* Read and validate the topology file at path.  On success returns 0 and a
 * new topology in *out (the caller frees it with ls_topology_free).  On
 * failure *out is NULL and every problem found is appended to diag (which
 * may be NULL): LS_EPARSE for an invalid file, LS_ENOENT / LS_EIO when it
 * cannot be read, LS_ENOMEM, LS_EINVAL for NULL arguments. */
int ls_topology_load(const char *path, ls_topology **out, ls_diag *diag);

/* As ls_topology_load, from len bytes of text (borrowed for the call only,
 * need not be NUL-terminated); filename is only used in messages. */
int ls_topology_parse(const char *filename, const char *text, size_t len,
    ls_topology **out, ls_diag *diag);

/* Free a topology and everything it owns; NULL is fine.  Pointers obtained
 * from it (nodes, params, names) die with it. */
void ls_topology_free(ls_topology *t);

/* The topology's name; borrowed from t. */
const char *ls_topology_name(const ls_topology *t);

/* The file name given to load/parse; borrowed from t. */
const char *ls_topology_file(const ls_topology *t);

/* Number of nodes (sources + stages + sinks). */
size_t ls_topology_count(const ls_topology *t);

/* Number of nodes with the given role. */
size_t ls_topology_count_role(const ls_topology *t, ls_topo_role role);

/* Node i (0 <= i < count), in topological order; borrowed from t. */
const ls_topo_node *ls_topology_node(const ls_topology *t, size_t i);

/* The node called name, or NULL; borrowed from t. */
const ls_topo_node *ls_topology_find(const ls_topology *t, const char *name);

/* The index of the node called name in *out; LS_ENOENT when none. */
int ls_topology_index(const ls_topology *t, const char *name, uint32_t *out);

/* A setting (see docs/topology.md): its value in the file, else the
 * documented default.  dflt is returned only for a name that is not a known
 * setting of that type. */
int64_t ls_topology_setting_ms(const ls_topology *t, const char *name,
    int64_t dflt);
int64_t ls_topology_setting_int(const ls_topology *t, const char *name,
    int64_t dflt);
int ls_topology_setting_bool(const ls_topology *t, const char *name,
    int dflt);

/* An operator-defined log format, declared under `formats:` (name ->
 * regular expression, actors/userfmt.h); its pattern compiled when the
 * topology was loaded.  line/col locate the pattern.  All memory belongs to
 * the topology. */
typedef struct ls_topo_format {
	const char *name;
	const char *pattern; /* NUL-terminated, len bytes */
	size_t len;
	int line, col;
} ls_topo_format;

/* Number of declared formats, format i (NULL past the end) in file order,
 * and the one called name (NULL when none; t or name NULL give NULL).  A
 * parse stage's "format" names a built-in format or one of these. */
size_t ls_topology_format_count(const ls_topology *t);
const ls_topo_format *ls_topology_format(const ls_topology *t, size_t i);
const ls_topo_format *ls_topology_find_format(const ls_topology *t,
    const char *name);

/* The parameter called name of node n (given or defaulted), or NULL when
 * the kind has no such parameter or it is optional and was not given. */
const ls_topo_param *ls_topo_param_get(const ls_topo_node *n,
    const char *name);

/* Typed accessors: the value of a parameter of that type, defaults
 * included.  An absent parameter, or one of another type, yields NULL / 0
 * (list: NULL and *count = 0).  Strings are borrowed from the topology. */
const char *ls_topo_str(const ls_topo_node *n, const char *name);
int64_t ls_topo_int(const ls_topo_node *n, const char *name);
double ls_topo_float(const ls_topo_node *n, const char *name);
int64_t ls_topo_ms(const ls_topo_node *n, const char *name);
int ls_topo_bool(const ls_topo_node *n, const char *name);
const char **ls_topo_list(const ls_topo_node *n, const char *name,
    size_t *count);

/* Parse a duration: whole numbers with units ms, s, m, h, combinable
 * ("1m30s", "250ms").  Returns 0 and sets *ms; LS_EPARSE (bad syntax, a
 * bare number, an unknown unit) or LS_ERANGE, with a static reason in *why
 * when why is not NULL. */
int ls_topo_duration(const char *s, size_t len, int64_t *ms,
    const char **why);

/* Aggregate functions of a window stage. */
typedef enum ls_topo_aggfn {
	LS_AGG_COUNT,
	LS_AGG_SUM,
	LS_AGG_MIN,
	LS_AGG_MAX,
	LS_AGG_AVG
} ls_topo_aggfn;

/* A parsed aggregate spec: "count" (field NULL, fieldlen 0) or "fn(field)";
 * field points into the spec string that was parsed. */
typedef struct ls_topo_agg {
	ls_topo_aggfn fn;
	const char *field;
	size_t fieldlen;
} ls_topo_agg;

/* Parse one aggregate spec (NUL-terminated).  Returns 0, or LS_EPARSE with
 * a static reason in *why (why may be NULL).  Every entry of a loaded
 * window's "aggregates" list parses. */
int ls_topo_aggregate(const char *spec, ls_topo_agg *out, const char **why);

/* Name of an aggregate function ("avg"); "?" when out of range. */
const char *ls_topo_aggfn_name(ls_topo_aggfn fn);

/* "source", "stage" or "sink". */
const char *ls_topo_role_name(ls_topo_role role);

#endif /* LS_TOPOLOGY_H */
