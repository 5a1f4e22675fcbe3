/*
 * kstate.h -- checkpoints of stages whose state lives in an ls_state
 * handle: their checkpoint blobs are changelogs, chained from one
 * checkpoint to the next (docs/state.md, "Stages on keyed state").
 *
 * A blob of such a stage ("LSKB") holds one or more complete changesets
 * (each as its Changelog buffers, schemas/changelog.fbs), each one
 * continuing the one before it:
 *
 *   offset  size  field
 *   0       4     "LSKB"
 *   4       4     n, number of buffers (u32 little endian)
 *   8       ...   n x { u32 length, Changelog buffer }
 *
 * The blob of checkpoint k is generation k of the partition (prev = the
 * checkpoint before it).  The first blob a partition writes after it
 * started is self-contained: its first changeset has `cleared` set (a fresh
 * start clears the partition; a restored one ships an export of the state
 * it restored first).  So a copy of the state can always be brought up to
 * any checkpoint from the blobs after its own base, back to the last
 * self-contained one at most.
 *
 * The state of a partition lives under the name "<topology>/<stage>/<p>"
 * (ls_kstate_name) in the node's store: the owner's handle, and the
 * copies standbys keep up to date from the blobs they hold.
 */
#ifndef LS_ACTORS_KSTATE_H
#define LS_ACTORS_KSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/err.h"
#include "runtime/store.h"
#include "schemas/codec.h"

#define LS_KSTATE_MAGIC "LSKB"

/* What a blob says about its chain: the first changeset's prev and
 * cleared flag, the last one's checkpoint. */
typedef struct ls_kstate_info {
	uint64_t prev;   /* state the blob applies on (unless cleared) */
	int cleared;     /* self-contained */
	uint64_t ckpt;   /* state it leaves */
	uint32_t nbufs;
} ls_kstate_info;

/* The state partition name of checkpoint partition part ("stage/p") of
 * topology topo into out (LS_STORE_NAME_MAX + 1 bytes).  LS_ERANGE when
 * it would be longer than LS_STORE_NAME_MAX. */
int ls_kstate_name(const char *topo, const char *part, char *out);

/* Check a blob's frame and every buffer's header; fill *info.
 * LS_ECORRUPT for anything malformed, including a chain that does not
 * continue from one changeset to the next or buffers of another
 * partition than `name` (NULL: any, but all the same). */
int ls_kstate_blob_info(const void *blob, size_t len, const char *name,
    ls_kstate_info *info);

/* Bring the copy of the state of checkpoint partition part of topo in s
 * up to the state blob (of that partition, borrowed) leaves: apply the
 * blobs stored in s between the copy's base and it, oldest first.  0 also
 * when the copy already is there.  LS_ENOENT: a blob of the chain is not
 * in s (the copy needs a self-contained blob, ls_kstate_bundle on a node
 * that has the chain); LS_ESTATE: the copy is ahead of blob; LS_ECORRUPT,
 * LS_ENOMEM, LS_EIO. */
int ls_kstate_catch_up(ls_store *s, const char *topo, const char *part,
    const void *blob, size_t len);

/* Would ls_kstate_catch_up succeed?  (Reads, writes nothing.) */
int ls_kstate_check(ls_store *s, const char *topo, const char *part,
    const void *blob, size_t len);

/* A blob is an LSKB blob (not a kind's own save format). */
int ls_kstate_is_blob(const void *blob, size_t len);

/* A self-contained blob leaving the state blob leaves, from what s holds:
 * blob's chain back to a self-contained blob, or back to the base of s's
 * copy with an export of that copy in front.  *out malloc'd.  Errors as
 * for ls_kstate_catch_up, and LS_EAGAIN when the copy was folded while
 * the bundle was made (ask again). */
int ls_kstate_bundle(ls_store *s, const char *topo, const char *part,
    const void *blob, size_t len, uint8_t **out, size_t *outlen);

/* Blob building: append Changelog buffers to a growing LSKB blob. */
typedef struct ls_kstate_blob {
	uint8_t *data;
	size_t len, cap;
	uint32_t n;
} ls_kstate_blob;

/* An ls_changelog_out_fn appending to the ls_kstate_blob arg (takes buf).
 * LS_ENOMEM, LS_ERANGE. */
int ls_kstate_blob_add(void *arg, ls_buf *buf);

/* Append every buffer of another LSKB blob (borrowed; framing checked by
 * the caller). */
int ls_kstate_blob_append(ls_kstate_blob *b, const void *blob, size_t len);

/* Free what b holds. */
void ls_kstate_blob_fini(ls_kstate_blob *b);

#endif /* LS_ACTORS_KSTATE_H */
