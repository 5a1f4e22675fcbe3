/*
 * ingest_repl.h -- the ingest logs of `http` sources, replicated
 * (docs/http-ingest.md, "On a cluster").
 *
 * The owner of a source partition appends each request's record to its
 * own store (actors/ingest.h) and then pushes it to every standby of the
 * partition (POST /v1/internal/ingest, an IngestLog of schemas/ingest.fbs);
 * it answers 202 only when every standby has stored it (and fsynced it
 * when the source syncs).  A node that takes a source partition over pulls,
 * before the partition starts, the records every live node holds of it
 * (GET /v1/internal/ingest) and merges them into its store: for a sequence
 * number held in several versions the one of the highest run epoch wins
 * (a deposed owner's record that was never acknowledged loses against its
 * successor's).  Standbys delete what the owner says a completed checkpoint
 * covers (the `trim` of each push).
 *
 * Fencing: a standby takes records only from the node its own map names as
 * the partition's owner (when it runs the topology) and never from a run
 * epoch below the highest it has taken for the partition.  A node that
 * hands its records to a new owner (the gathering names the new
 * incarnation) notes that incarnation first: from then on its own older
 * incarnation of the partition acknowledges nothing more (the record it
 * writes is in what it hands over, or it is not acknowledged).
 *
 * All calls block and may run on any thread.
 */
#ifndef LS_CLUSTER_INGEST_REPL_H
#define LS_CLUSTER_INGEST_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/map.h"

struct ls_store;

typedef struct ls_irepl ls_irepl;

/* Longest body a node's API takes, so the longest record a push carries
 * (a larger request is not acknowledged on a cluster). */
#define LS_IREPL_MAX_BODY ((size_t)32 << 20)

/* Replication for node self over store st (borrowed, outlives it).
 * LS_ENOMEM. */
int ls_irepl_new(struct ls_store *st, uint64_t self, ls_irepl **out);

/* Free (NULL is fine); no call may run or follow. */
void ls_irepl_free(ls_irepl *ir);

/* The nodes of map (borrowed for the call): their HTTP addresses and
 * states, for the calls below. */
void ls_irepl_nodes(ls_irepl *ir, const ls_map *map);

/* Owner side: push record seq (value as stored, len bytes) of (topology,
 * partition) to the n standbys, one after the other, each within
 * timeout_ms.  0 once every one stored it; LS_ESTALE a standby refused it
 * (fenced), LS_ENOENT a standby's address is not known, else the error of
 * the request. */
int ls_irepl_push(ls_irepl *ir, const uint64_t *standbys, unsigned n,
    const char *topology, const char *partition, uint64_t epoch,
    uint64_t trim, int sync, uint64_t seq, const void *value, size_t len,
    int timeout_ms);

/* Standby side: take the IngestLog body of a push.  owner_of (may be
 * NULL) gives the partition's owner in this node's map, 0 when it does not
 * know.  0 once stored; LS_ESTALE fenced (see above), LS_ECORRUPT a bad
 * body, LS_EIO the store failed.  why gets a reason for the answer. */
int ls_irepl_take(ls_irepl *ir, const void *body, size_t len,
    uint64_t (*owner_of)(void *arg, const char *topology,
        const char *partition),
    void *arg, char *why, size_t whylen);

/* The records this node's store holds of (topology, partition) as an
 * IngestLog of run epoch epoch (malloc'd, caller frees).  LS_EINVAL,
 * LS_ENOMEM, LS_ERANGE. */
int ls_irepl_serve(ls_irepl *ir, const char *topology, const char *partition,
    uint64_t epoch, uint8_t **buf, size_t *len);

/* Owner side: push every record this node holds of (topology, partition)
 * to node (a standby the partition gained, which has none of them), as
 * run epoch epoch.  Errors as ls_irepl_push. */
int ls_irepl_push_log(ls_irepl *ir, uint64_t node, const char *topology,
    const char *partition, uint64_t epoch, int timeout_ms);

/* New owner side: merge into this node's store the records every live
 * node (but this one) holds of (topology, partition), each asked within
 * timeout_ms naming the incarnation inc that takes the partition over, then
 * sync.  Returns how many nodes answered; the records merged go to *merged
 * (may be NULL). */
int ls_irepl_pull(ls_irepl *ir, const char *topology, const char *partition,
    uint64_t inc, int timeout_ms, size_t *merged);

/* Incarnation inc of (topology, partition) exists (a new owner gathers):
 * noted before the records are handed over.  0, LS_ENOMEM, LS_EINVAL. */
int ls_irepl_note(ls_irepl *ir, const char *topology, const char *partition,
    uint64_t inc);

/* 1 when an incarnation above inc of (topology, partition) is noted here:
 * an owner of incarnation inc must not acknowledge a record. */
int ls_irepl_superseded(ls_irepl *ir, const char *topology,
    const char *partition, uint64_t inc);

#endif /* LS_CLUSTER_INGEST_REPL_H */
