/*
 * kind.h -- the stage-kind interface: one table per kind.
 *
 * Every kind a topology may name -- source, stage or sink -- is one
 * ls_kind, defined in the kind's own file in actors/ and listed once in the
 * registry (actors/kinds.c, one line per kind).  The table holds all there
 * is to know about a kind:
 *
 *   - name, role, flags and parameter spec: topology/ validates nodes
 *     against it (errors name file:line:col) and fills defaults from it;
 *   - behaviour: the actor that runs one partition of a node (its spawn
 *     argument is the pipeline's ls_stage_cfg, actors/stage.h);
 *   - save / restore: the partition's checkpoint state;
 *   - result schema: for kinds that emit results rather than events, the
 *     typed fields of their records (runtime/record.h);
 *   - query: for kinds whose state can be asked questions while they run
 *     (docs/queries.md), the hook that answers on the actor's thread.
 *
 * topology/ and actors/pipeline.c only look kinds up (ls_kind_find); they
 * never test a kind's name.  docs/kinds.md explains how to add a kind.
 */
#ifndef LS_TOPOLOGY_KIND_H
#define LS_TOPOLOGY_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "runtime/record.h"
#include "topology/topology.h"

/* Extra validation of a string value, or of each element of a list.
 * Returns 0 when v is fine, else 1 with a reason written into why. */
typedef int (*ls_topo_check_fn)(const char *v, char *why, size_t whylen);

/* One parameter of a kind (or one setting). */
typedef struct ls_topo_pspec {
	const char *name;
	ls_topo_vtype type;
	int required;
	const char *dflt;           /* default as YAML scalar text, or NULL */
	const char *const *allowed; /* NULL-terminated words, or NULL = any */
	int64_t min, max;           /* INT / DURATION (ms) range, enforced
	                               when min < max */
	ls_topo_check_fn check;     /* or NULL */
	const char *help;           /* one line for docs and messages */
} ls_topo_pspec;

/* Checks kinds use in their parameter specs: a level name, a field name, an
 * aggregate spec, a node name. */
int ls_topo_check_level(const char *v, char *why, size_t len);
int ls_topo_check_field(const char *v, char *why, size_t len);
int ls_topo_check_aggregate(const char *v, char *why, size_t len);
int ls_topo_check_name(const char *v, char *why, size_t len);
/* A parameter checked by this names a log format: one of its allowed words
 * (the built-in formats) or a format declared under the topology's
 * formats: (the loader resolves those before the allowed words). */
int ls_topo_check_format(const char *v, char *why, size_t len);

/* The kind routes by 'key' when it has more than one partition (a stateful
 * stage), so partitions > 1 without a key is an error. */
#define LS_KIND_KEYED 0x1u
/* A source whose input cannot be read again (a restore cannot resume it). */
#define LS_KIND_NO_REPLAY 0x2u
/* The kind hears of every completed checkpoint (LS_MSG_COMMIT), as sinks
 * do: a source that acknowledges its input upstream once it is safe. */
#define LS_KIND_COMMITS 0x4u

/* Checkpoint hooks, called on the partition's actor thread with its state.
 * save: serialise the state for checkpoint ckpt (final: the partition saw
 * the end of all its input) into a malloc'd *buf (NULL and 0: no state).
 * restore: replace the state with a saved one (borrowed); buf NULL and len
 * 0 mean a fresh start.  Both return 0 or an LS_E* code. */
typedef int (*ls_kind_save_fn)(void *state, uint64_t ckpt, int final,
    uint8_t **buf, size_t *len);
typedef int (*ls_kind_restore_fn)(void *state, const uint8_t *buf,
    size_t len);

/* Keyed state (docs/state.md, "Stages on keyed state"): a kind whose
 * partitions keep their state as keys of an ls_state handle.  When the
 * pipeline has a store and checkpoints are on, the stage code opens the
 * handle of the partition at start, brings it to the checkpoint restored
 * and calls load; at each barrier it calls sync, seals the writes and
 * ships their changes as the checkpoint's blob (instead of save); the
 * handle folds the generations of completed checkpoints.
 * sync: write into st what changed in the in-memory state since the last
 * sync (all = 1: everything the in-memory state holds).
 * load: rebuild the in-memory state from st (empty st: a fresh start).
 * Without a store the kind's save / restore hooks are used. */
struct ls_state;
typedef int (*ls_kind_sync_fn)(void *state, struct ls_state *st, int all);
typedef int (*ls_kind_load_fn)(void *state, struct ls_state *st);

/* The fields of the records node n emits, added to an empty schema.
 * Returns 0, or an LS_E* code with a reason in err. */
typedef int (*ls_kind_schema_fn)(const ls_topo_node *n, ls_rec_schema *out,
    char *err, size_t errlen);

/* Interactive queries (docs/queries.md): what a caller asks one partition
 * of a stage.  The kind decides what matches and what a row holds; the
 * fields below are the ones every queryable kind understands.  Strings are
 * borrowed for the duration of the hook call. */
#define LS_KIND_QUERY_MAX_KEYS 8
#define LS_KIND_QUERY_OPEN 0x1u   /* only what is still open */
#define LS_KIND_QUERY_CLOSED 0x2u /* only what has closed (kept results) */

typedef struct ls_kind_query {
	uint32_t nkey;      /* values in key[] (0: every key) */
	ls_str key[LS_KIND_QUERY_MAX_KEYS]; /* exact values of the stage's key
	                                       fields, in their order */
	ls_str prefix;      /* len > 0: the first key value starts with it */
	int64_t from_ns;    /* time range [from_ns, to_ns) that a row's span */
	int64_t to_ns;      /* must overlap; INT64_MIN / INT64_MAX: open */
	uint32_t limit;     /* rows at most (0: no limit) */
	uint32_t flags;     /* LS_KIND_QUERY_* */
	ls_str text;        /* a kind's own query text (len 0: none) */
} ls_kind_query;

/* Query hook, called on the partition's actor thread with its state (the
 * same pointer the checkpoint hooks get), between two messages: append the
 * rows that match q to out, whose schema is the kind's query schema.  It
 * may append more than q->limit rows (the caller orders and truncates, see
 * ls_records_order).  Changes nothing in the state.  0 or LS_ENOMEM. */
typedef int (*ls_kind_query_fn)(void *state, const ls_kind_query *q,
    ls_records *out);

typedef struct ls_kind {
	const char *name;            /* what "kind:" says */
	ls_topo_role role;
	unsigned flags;              /* LS_KIND_* */
	const ls_topo_pspec *params; /* ends with an entry whose name is NULL */
	const char *help;
	const ls_behaviour *behaviour; /* one actor per partition */
	ls_kind_save_fn save;        /* or NULL: no state */
	ls_kind_restore_fn restore;  /* or NULL: nothing to restore */
	ls_kind_sync_fn sync;        /* keyed state, or NULL */
	ls_kind_load_fn load;        /* keyed state, or NULL */
	ls_kind_schema_fn results;   /* or NULL: passes events on */
	const char *position;        /* sources: unit of a resume position
	                                ("event", "byte") */
	ls_kind_query_fn query;      /* interactive queries, or NULL: the
	                                kind is not queryable */
	ls_kind_schema_fn query_schema; /* the rows of query answers, or NULL:
	                                   the result schema */
	int variant;                 /* for kinds sharing one behaviour */
	/* Checks of a node against the rest of the topology (what its
	 * parameters name), or NULL: 0, or 1 with a reason in why and the
	 * parameter it is about in *param (NULL: the node itself).  Called
	 * once the topology is otherwise valid. */
	int (*validate)(const ls_topology *t, const ls_topo_node *n,
	    const char **param, char *why, size_t whylen);
} ls_kind;

/* Literals for parameter specs: a NULL-terminated word list, a spec list
 * ending with an empty entry, an empty spec list, an unbounded INT range. */
#define LS_KIND_WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define LS_KIND_PARAMS(...) ((const ls_topo_pspec[]){ __VA_ARGS__, { 0 } })
#define LS_KIND_NO_PARAMS ((const ls_topo_pspec[]){ { 0 } })
#define LS_KIND_ANY_INT 0, 0

/* Compile-check the pattern of a format declared under `formats:`
 * (pattern[0..len), NUL-terminated).  Returns 0 when it compiles, else 1
 * with a reason in why and the byte offset of the problem in *erroff. */
typedef int (*ls_topo_format_check_fn)(const char *pattern, size_t len,
    char *why, size_t whylen, size_t *erroff);

/* A set of kinds to validate against, and the check of declared formats
 * (NULL: patterns are taken unchecked). */
typedef struct ls_kind_set {
	const ls_kind *const *kinds;
	size_t n;
	ls_topo_format_check_fn check_format;
} ls_kind_set;

/* The registry: every built-in kind (defined by actors/kinds.c). */
extern const ls_kind_set ls_kinds;

/* The kind of set (NULL: ls_kinds) with that role and name, or NULL. */
const ls_kind *ls_kind_find(const ls_kind_set *set, ls_topo_role role,
    const char *name);

/* As ls_topology_parse / ls_topology_load, validating against kinds (NULL:
 * the registry).  Each node's kind_def points into kinds, which must
 * outlive the topology. */
int ls_topology_parse_kinds(const ls_kind_set *kinds, const char *filename,
    const char *text, size_t len, ls_topology **out, ls_diag *diag);
int ls_topology_load_kinds(const ls_kind_set *kinds, const char *path,
    ls_topology **out, ls_diag *diag);

#endif /* LS_TOPOLOGY_KIND_H */
