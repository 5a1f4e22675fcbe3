/*
 * changelog.h -- incremental checkpoints on the wire: a partition's
 * changeset (runtime/store.h) as Changelog buffers of bounded size
 * (schemas/changelog.fbs), and the other end that puts the buffers of one
 * changeset together and applies it to a copy of the state.
 *
 * The owner of a partition seals generation k at barrier k and writes it
 * out with ls_changelog_write; the buffers are stored and sent to the
 * standbys, each of which feeds them to an ls_changelog_rx.  A copy that
 * cannot take a changeset (it missed the one before) is rebuilt from
 * ls_changelog_export of the owner's committed state.  docs/state.md.
 *
 * Threads: a writer call and an rx belong to one thread at a time.
 */
#ifndef LS_ACTORS_CHANGELOG_H
#define LS_ACTORS_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/store.h"
#include "schemas/codec.h"

/* Buffers stay under this many bytes (a single change larger than it gets
 * a buffer of its own); 0 = this default. */
#define LS_CHANGELOG_BUF_DEFAULT ((size_t)4 << 20)

/* Takes one encoded buffer (buf->data is the callee's to free).  Non-zero
 * stops the writer, which then returns that value. */
typedef int (*ls_changelog_out_fn)(void *arg, ls_buf *buf);

/* Encode generation ckpt of st (sealed with ls_state_seal) into Changelog
 * buffers of at most about max_bytes each (0: the default) and hand them
 * to out in order; at least one buffer, the last marked last.  *bytes (may
 * be NULL) gets the total size.  LS_ENOENT (no such generation), LS_ENOMEM,
 * LS_ERANGE, or out's answer. */
int ls_changelog_write(ls_state *st, uint64_t ckpt, size_t max_bytes,
                       ls_changelog_out_fn out, void *arg, size_t *bytes);

/* The same for the whole committed state of partition in s (a changeset
 * with cleared set, ckpt = the base). */
int ls_changelog_export(ls_store *s, const char *partition, size_t max_bytes,
                        ls_changelog_out_fn out, void *arg, size_t *bytes);

/* Puts the buffers of changesets together and applies each complete one to
 * the copy of its partition in a store. */
typedef struct ls_changelog_rx ls_changelog_rx;

/* A new receiver applying to s (borrowed; must outlive it).  LS_ENOMEM. */
int ls_changelog_rx_new(ls_store *s, ls_changelog_rx **out);
void ls_changelog_rx_free(ls_changelog_rx *rx);

/* Take one buffer (copied).  Returns 0 after applying a complete changeset
 * (*applied, may be NULL, gets its header: partition borrowed until the
 * next call), LS_EAGAIN when more buffers of the changeset are expected,
 * LS_EEXIST when the changeset had been applied before (nothing written),
 * LS_ESTATE when the copy's base is not the changeset's prev (the copy
 * needs an export), LS_ECORRUPT / LS_ERANGE / LS_EINVAL for a buffer that
 * does not decode or does not continue the changeset being received (which
 * is then dropped), LS_ENOMEM, LS_EIO.  Buffers of one partition must come
 * in order; a part 0 starts a new changeset. */
int ls_changelog_rx_add(ls_changelog_rx *rx, const void *buf, size_t len,
                        ls_changelog_wire *applied);

#endif /* LS_ACTORS_CHANGELOG_H */
