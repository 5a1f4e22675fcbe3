/*
 * kinds.c -- the kind registry: every built-in kind, one line each.
 *
 * A kind is one table (ls_kind, topology/kind.h) defined in its own file;
 * this list is the only place that names them all.  Topologies are
 * validated against it (ls_topology_load / ls_topology_parse) and the
 * pipeline spawns each node through the table its node points to, so
 * adding a kind is writing its file and adding one line here
 * (docs/kinds.md).  Order matters only for messages that list the kinds.
 */
#include "actors/userfmt.h"
#include "topology/kind.h"

#define LS_KIND_LIST(X)                                                      \
	X(generator) /* actors/source_actor.c */                             \
	X(file)      /* actors/source_actor.c */                             \
	X(stdin)     /* actors/source_actor.c */                             \
	X(kafka_source) /* actors/source_actor.c, "kafka" */                 \
	X(syslog)    /* actors/source_actor.c */                             \
	X(http)      /* actors/source_actor.c */                             \
	X(parse)     /* actors/parse_actor.c */                              \
	X(filter)    /* actors/parse_actor.c */                              \
	X(route)     /* actors/route_actor.c */                              \
	X(window)    /* actors/window_actor.c */                             \
	X(patterns)  /* actors/patterns_actor.c */                           \
	X(session)   /* actors/session_actor.c */                            \
	X(index)     /* actors/index_actor.c */                              \
	X(anomaly)   /* actors/anomaly_actor.c */                            \
	X(stdout)    /* actors/sink_actor.c */                               \
	X(jsonl)     /* actors/sink_actor.c */                               \
	X(kafka_sink) /* actors/sink_actor.c, "kafka" */                     \
	X(null)      /* actors/sink_actor.c */

#define DECLARE(k) extern const ls_kind ls_kind_##k;
LS_KIND_LIST(DECLARE)
#undef DECLARE

#define ENTRY(k) &ls_kind_##k,
static const ls_kind *const builtin[] = { LS_KIND_LIST(ENTRY) };
#undef ENTRY

/* Patterns of formats declared under formats: compile at load time. */
const ls_kind_set ls_kinds = { builtin,
	sizeof(builtin) / sizeof(builtin[0]), ls_userfmt_check };
