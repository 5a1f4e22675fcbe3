/*
 * index_stage.h -- what the `index` stage (actors/index_actor.c) does with
 * its partition's index, apart from the actor: events as documents,
 * maintenance at checkpoints (seal, merge, retention) and the state in an
 * ls_state handle or a blob.  Exposed for the unit test; the layouts are
 * documented in actors/index_actor.c and docs/search.md.  Single thread
 * (the partition's actor), like the ls_index itself.
 */
#ifndef LS_ACTORS_INDEX_STAGE_H
#define LS_ACTORS_INDEX_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "actors/index.h"
#include "runtime/event.h"

struct ls_state;

typedef struct ls_index_stage_cfg {
	int64_t retention_ms;   /* > 0 */
	uint32_t max_docs;      /* seal the open segment at; merge bound */
	const char **fields;    /* attributes indexed; NULL: every one */
	size_t nfields;
} ls_index_stage_cfg;

/* The document of ev (borrowed) into *d, its fields in f (room for
 * LS_INDEX_MAX_FIELDS, borrowing from ev): the message as text, the event
 * time (else the ingest time), level / service / host / attributes as
 * fields, the index's next sequence number as key. */
void ls_index_stage_doc(const ls_index *ix, const ls_index_stage_cfg *c,
    const ls_event *ev, ls_attr *f, ls_index_doc *d);

/* Seal the open segment, merge, drop the segments retention expires.
 * 0 or LS_ENOMEM. */
int ls_index_stage_maintain(ls_index *ix, const ls_index_stage_cfg *c);

/* Maintain, then write the changes into st: key 'g' + base (8 bytes
 * big-endian) per sealed segment changed, deletes for those gone (all:
 * every sealed segment).  0 or an error of the handle / LS_ENOMEM. */
int ls_index_stage_sync(ls_index *ix, const ls_index_stage_cfg *c,
    struct ls_state *st, int all);

/* Replace *ix with the index in st (an empty st: an empty index).  On
 * error (LS_ECORRUPT, LS_ENOMEM, the handle's) *ix is unchanged. */
int ls_index_stage_load(ls_index **ix, struct ls_state *st);

/* Maintain, then the whole index as one malloc'd "LSIB" blob. */
int ls_index_stage_save(ls_index *ix, const ls_index_stage_cfg *c,
    uint8_t **buf, size_t *len);

/* Replace *ix with the index of a blob of ls_index_stage_save (borrowed).
 * LS_ECORRUPT, LS_ENOMEM; *ix unchanged on error. */
int ls_index_stage_restore(ls_index **ix, const uint8_t *buf, size_t len);

/* The statistics of phase 2 of a search over the cluster (the kind's
 * query text after its 'Q', cluster/search.c): "docs total_len
 * df1,df2,...\n" then the query, into *st (nterms set) and *rest /
 * *restlen (borrowed from p).  0, or LS_EINVAL for anything else
 * (no newline, more than LS_INDEX_MAX_TERMS frequencies, a head over
 * 2 KiB). */
int ls_index_stage_parse_stats(const char *p, size_t n, ls_index_stats *st,
    const char **rest, size_t *restlen);

#endif /* LS_ACTORS_INDEX_STAGE_H */
