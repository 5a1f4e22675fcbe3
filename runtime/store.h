/*
 * store.h -- the node's RocksDB state store: raw keys, atomic batches,
 * per-partition actor state and checkpoint blobs.
 *
 * One store per node process, shared by every actor partition the node
 * holds.  Memory is bounded by two numbers that do not grow with the number
 * of partitions: one LRU block cache (data, index and filter blocks) and one
 * memtable budget for the whole database.  Every write goes through the
 * write-ahead log; a commit is atomic and survives a crash of the process
 * (with opts.sync also a crash of the machine).  Key layout, budgets and
 * durability are described in docs/state.md.
 *
 *   key prefix            owner
 *   's' 0x00 part 0x00    ls_state (per-partition actor state)
 *   'c' 0x00 topo 0x00    checkpoint blobs (ls_store_ckpt_*)
 *   'c' 0x01 topo 0x00    marks of final checkpoint blobs
 *
 * Raw keys (ls_store_put ...) may use any other first byte; the layers
 * above choose their prefixes.  Keys are compared bytewise.
 *
 * Threads: every ls_store_* call may be made from any thread at the same
 * time, except ls_store_close.  A batch and an ls_state handle belong to one
 * thread at a time (for a state handle: its actor).
 */
#ifndef LS_STORE_H
#define LS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/change.h"

/* Longest raw key in bytes; longer ones are refused with LS_ERANGE. */
#define LS_STORE_KEY_MAX 16384
/* Longest user key of an ls_state handle (the partition prefix takes the
 * rest of LS_STORE_KEY_MAX). */
#define LS_STATE_KEY_MAX 16000
/* Longest topology or partition name; names are 1..255 bytes, no NUL. */
#define LS_STORE_NAME_MAX 255

typedef struct ls_store ls_store;

typedef struct ls_store_opts {
	size_t block_cache_bytes;  /* one LRU block cache shared by everything;
	                              0 = 64 MiB */
	size_t write_buffer_bytes; /* total memtable budget for the whole DB;
	                              0 = 64 MiB, at least 1 MiB */
	int sync; /* 1: fsync the WAL on every commit (default 0: WAL written
	             to the OS on every commit, not fsynced) */
} ls_store_opts;

/* Figures for operators and tests (ls_store_stats_get). */
typedef struct ls_store_stats {
	size_t cache_capacity;   /* configured block cache bytes */
	size_t cache_usage;      /* bytes held in the block cache */
	size_t cache_pinned;     /* of which pinned by readers right now */
	size_t memtable_budget;  /* configured write_buffer_bytes */
	uint64_t memtable_bytes; /* all memtables, mutable and immutable */
	uint64_t table_readers;  /* table-reader memory outside the cache */
	uint64_t sst_bytes;      /* live SST files on disk */
	uint64_t estimated_keys; /* RocksDB's estimate of the live keys */
} ls_store_stats;

/* Open (creating dir and its parents if needed) the store in dir; opts may
 * be NULL for defaults.  On success *out is a new store the caller closes.
 * On failure err (errlen bytes, may be NULL) gets RocksDB's message and the
 * call returns LS_EINVAL (bad arguments), LS_EBUSY (dir is in use by another
 * open store), LS_ECORRUPT, LS_EIO or LS_ENOMEM. */
int ls_store_open(const char *dir, const ls_store_opts *opts, ls_store **out,
                  char *err, size_t errlen);

/* Wait for background work and free the store (unflushed writes stay in
 * the WAL and are replayed by the next open); NULL is
 * fine.  No other call on s may run or follow; ls_state handles of s must
 * be closed first. */
void ls_store_close(ls_store *s);

/* Current memory and disk figures into *out.  Any thread. */
int ls_store_stats_get(ls_store *s, ls_store_stats *out);

/* Make every write committed so far durable (fsync the WAL); for callers
 * that run with sync = 0 and need a durability point, e.g. before
 * acknowledging a checkpoint.  LS_EIO. */
int ls_store_sync(ls_store *s);

/* Write the memtables to SST files and wait.  LS_EIO. */
int ls_store_flush(ls_store *s);

/* ---- raw keys (the layers above choose prefixes) ---------------------- */

/* Store v (vl bytes, copied) under k (kl bytes, copied; kl may be 0).
 * LS_ERANGE for kl > LS_STORE_KEY_MAX or vl >= 4 GiB, LS_EIO. */
int ls_store_put(ls_store *s, const void *k, size_t kl, const void *v,
                 size_t vl);

/* The value of k in a new malloc'd buffer *v (caller frees; one NUL byte
 * follows the vl bytes) and its length in *vl.  LS_ENOENT if absent. */
int ls_store_get(ls_store *s, const void *k, size_t kl, void **v, size_t *vl);

/* Delete k (absent is fine). */
int ls_store_delete(ls_store *s, const void *k, size_t kl);

/* Delete every key that starts with prefix (pl bytes, 0 = every key) with
 * one range deletion: atomic, cost independent of the number of keys. */
int ls_store_delete_prefix(ls_store *s, const void *prefix, size_t pl);

/* Counter merge on a raw key: the value is an 8-byte little-endian int64,
 * a missing (or non-8-byte) value counts as 0; additions wrap. */
int ls_store_add(ls_store *s, const void *k, size_t kl, int64_t delta);

/* Called for each key/value of a scan (both borrowed, valid during the
 * call only).  Returning non-zero stops the scan, and the scan returns that
 * value. */
typedef int (*ls_store_scan_fn)(void *arg, const void *k, size_t kl,
                                const void *v, size_t vl);

/* Call fn for every key in [from, to) in key order (to NULL = to the end;
 * from NULL = from the first key).  Sees a consistent snapshot taken at the
 * call.  fn must not close the store; it may write. */
int ls_store_scan(ls_store *s, const void *from, size_t fl, const void *to,
                  size_t tl, ls_store_scan_fn fn, void *arg);

/* Call fn for every key starting with prefix, in key order. */
int ls_store_scan_prefix(ls_store *s, const void *prefix, size_t pl,
                         ls_store_scan_fn fn, void *arg);

/* ---- atomic multi-key writes ------------------------------------------ */

typedef struct ls_store_batch ls_store_batch;

/* A new empty batch in *out (caller frees it).  A batch is not tied to a
 * store and may be committed to any.  LS_ENOMEM. */
int ls_store_batch_new(ls_store_batch **out);

/* Record operations (key and value copied).  They cannot fail on their
 * own: a refused argument (key too long ...) is remembered and reported by
 * the next ls_store_batch_commit, which then writes nothing. */
void ls_store_batch_put(ls_store_batch *b, const void *k, size_t kl,
                        const void *v, size_t vl);
void ls_store_batch_delete(ls_store_batch *b, const void *k, size_t kl);
/* Range delete of every key starting with prefix, including keys put
 * earlier in this batch; keys put later in the batch survive. */
void ls_store_batch_delete_prefix(ls_store_batch *b, const void *prefix,
                                  size_t pl);
/* Range delete of every key in [from, to) (both copied). */
void ls_store_batch_delete_range(ls_store_batch *b, const void *from,
                                 size_t fl, const void *to, size_t tl);
/* Counter merge, as ls_store_add. */
void ls_store_batch_add(ls_store_batch *b, const void *k, size_t kl,
                        int64_t delta);

/* Forget every recorded operation and any remembered error. */
void ls_store_batch_clear(ls_store_batch *b);

/* Number of recorded operations. */
size_t ls_store_batch_count(const ls_store_batch *b);

/* Apply every recorded operation, in order, all or nothing; readers see
 * none or all of them.  The batch is cleared whatever the outcome.
 * Returns the remembered error (LS_ERANGE, LS_EINVAL) or LS_EIO. */
int ls_store_batch_commit(ls_store *s, ls_store_batch *b);

/* Free the batch; NULL is fine. */
void ls_store_batch_free(ls_store_batch *b);

/* ---- per-partition actor state ---------------------------------------- */

/*
 * Every key is stored under the prefix 's' 0x00 <partition> 0x00 so
 * partitions never collide and one partition can be dropped or copied as a
 * whole.  Writes go into the handle's pending batch and become durable
 * together at ls_state_commit (actors commit once per activation or per
 * checkpoint); reads and scans see the committed data with the pending
 * writes applied on top (read-your-writes).
 */
typedef struct ls_state ls_state;

/* A new handle on partition (1..255 bytes, no NUL; copied) of s in *out.
 * Several handles may be open; each belongs to one thread at a time.
 * LS_EINVAL for a bad name, LS_ENOMEM. */
int ls_state_open(ls_store *s, const char *partition, ls_state **out);

/* Free the handle; pending writes are dropped.  NULL is fine. */
void ls_state_close(ls_state *st);

/* The value of k (committed, with pending writes applied) in a new
 * malloc'd buffer *v (caller frees; NUL-terminated) of *vl bytes.
 * LS_ENOENT if absent. */
int ls_state_get(ls_state *st, const void *k, size_t kl, void **v, size_t *vl);

/* Pending put of k = v (both copied).  LS_ERANGE for kl > LS_STATE_KEY_MAX
 * or vl >= 4 GiB, LS_ENOMEM (nothing recorded then). */
int ls_state_put(ls_state *st, const void *k, size_t kl, const void *v,
                 size_t vl);

/* Pending delete of k. */
int ls_state_delete(ls_state *st, const void *k, size_t kl);

/* Pending counter merge: the value of k is an 8-byte little-endian int64,
 * missing (or not 8 bytes) = 0; additions wrap.  Commits as a RocksDB merge
 * operand, so nothing is read. */
int ls_state_add(ls_state *st, const void *k, size_t kl, int64_t delta);

/* The counter value of k into *out (0 if k is absent; a value that is not
 * 8 bytes counts as 0), pending additions included. */
int ls_state_counter(ls_state *st, const void *k, size_t kl, int64_t *out);

/* Call fn for every key in [from, to) of the partition (to NULL = to the
 * partition's end) in key order, keys WITHOUT the partition prefix,
 * committed data with the pending writes applied on top.  fn must not
 * write through st. */
int ls_state_scan(ls_state *st, const void *from, size_t fl, const void *to,
                  size_t tl, ls_store_scan_fn fn, void *arg);

/* Pending deletion of every key of the partition (one range delete);
 * writes made after it in the same commit survive it. */
int ls_state_clear(ls_state *st);

/* Atomically apply every pending write; afterwards nothing is pending.  On
 * error (LS_EIO) nothing was applied and the writes stay pending. */
int ls_state_commit(ls_state *st);

/* Atomically apply every pending write of st followed by every operation
 * of extra (e.g. input positions and a checkpoint blob recorded with
 * ls_store_batch_ckpt_put): readers see all or none.  extra is cleared
 * whatever the outcome; on error nothing was applied and st's writes stay
 * pending.  extra NULL = ls_state_commit.  Returns extra's remembered error
 * (LS_ERANGE, LS_EINVAL), LS_EIO or LS_ENOMEM. */
int ls_state_commit_with(ls_state *st, ls_store_batch *extra);

/* Number of pending write operations. */
size_t ls_state_pending(const ls_state *st);

/* The partition name of the handle (borrowed, NUL-terminated). */
const char *ls_state_partition(const ls_state *st);

/* ---- incremental checkpoints of per-partition state -------------------
 *
 * A partition's state is checkpointed by its changes, not by a snapshot,
 * so that a checkpoint costs what was written since the last one, not the
 * size of the state (docs/state.md).
 *
 * The committed keys of a partition hold its state as of its *base*
 * checkpoint (recorded with them under 'b' 0x00 <partition>).  At barrier
 * k the actor seals its pending writes as generation k (ls_state_seal):
 * they stay visible to its reads, but are not written.  Their net effect
 * -- one change per touched key, however often it was written -- is
 * checkpoint k's changeset (ls_state_changes), which the caller encodes
 * (ls_codec_changelog_*), stores and sends to the standbys.  Once k is
 * complete everywhere, ls_state_fold(k) writes every generation <= k into
 * the committed keys and moves the base to k, in one atomic write.  A
 * standby applies the changesets it receives to its own copy
 * (ls_store_state_apply); a copy that missed one is rebuilt from a full
 * export (ls_store_state_export, a changeset with cleared = 1).
 *
 * A handle with sealed generations only folds: ls_state_commit[_with]
 * refuse it with LS_ESTATE while pending writes exist.
 */

/* The checkpoint the partition's committed keys hold (0: none; read at
 * ls_state_open, advanced by ls_state_fold). */
uint64_t ls_state_base(const ls_state *st);

/* Number of sealed, unfolded generations. */
size_t ls_state_sealed(const ls_state *st);

/* Seal the pending writes (possibly none) as generation ckpt, which must
 * be above the base and every earlier generation (else LS_EINVAL).  Nothing
 * is written.  LS_ENOMEM (nothing changed). */
int ls_state_seal(ls_state *st, uint64_t ckpt);

/* Describe generation ckpt in *info (may be NULL; prev is the generation
 * before it, or the base) and, when fn is not NULL, call fn for each of its
 * changes in key order.  LS_ENOENT when no such generation is held;
 * otherwise 0 or fn's non-zero answer. */
int ls_state_changes(ls_state *st, uint64_t ckpt, ls_changeset *info,
                     ls_change_fn fn, void *arg);

/* Write every generation <= upto into the committed keys, oldest first,
 * and set the base to the newest of them, atomically; forget them.  Nothing
 * to fold is fine.  LS_EIO (nothing written, nothing forgotten),
 * LS_ENOMEM. */
int ls_state_fold(ls_state *st, uint64_t upto);

/* The base checkpoint of partition in s (0: none). */
int ls_store_state_base(ls_store *s, const char *partition, uint64_t *base);

/* Apply a changeset -- ch[0..n) -- to partition's committed keys and set
 * its base to cs->ckpt, atomically (a standby's copy; a restore).  The
 * base must be cs->prev unless cs->cleared: else LS_ESTATE and nothing is
 * written (the copy missed a changeset: rebuild it from an export).
 * LS_EEXIST when the base already is cs->ckpt (applied before; nothing
 * written).  LS_EINVAL (bad arguments, ckpt <= prev, unknown kind),
 * LS_ERANGE (key or value too long), LS_EIO. */
int ls_store_state_apply(ls_store *s, const ls_changeset *cs,
                         const char *partition, const ls_change *ch,
                         size_t n);

/* Delete partition's committed keys and base, atomically. */
int ls_store_state_drop(ls_store *s, const char *partition);

/* The whole committed state of partition as one changeset from one
 * snapshot: *info gets cleared = 1, ckpt = the base, the count; fn gets
 * every key as an LS_CHANGE_PUT in key order. */
int ls_store_state_export(ls_store *s, const char *partition,
                          ls_changeset *info, ls_change_fn fn, void *arg);

/* ---- checkpoint blobs --------------------------------------------------- */

/*
 * Whole serialised partition snapshots keyed by (topology, checkpoint id,
 * partition): 'c' 0x00 <topology> 0x00 <ckpt: 8 bytes big-endian>
 * <partition>.  Names are 1..255 bytes without NUL, else LS_EINVAL.
 *
 * A *final* blob is the state of a partition that has seen the end of all
 * its input: it no longer changes, so it stands for every later checkpoint
 * id too.  It is marked by an empty key 'c' 0x01 <topology> 0x00
 * <partition> 0x00 <ckpt: 8 bytes big-endian>, written with the blob.
 */

/* Store blob (copied) as checkpoint ckpt of partition, replacing any. */
int ls_store_ckpt_put(ls_store *s, const char *topology, uint64_t ckpt,
                      const char *partition, const void *blob, size_t len);

/* Store blob (copied) as checkpoint ckpt of partition and mark it final
 * (see above), in one atomic write. */
int ls_store_ckpt_put_final(ls_store *s, const char *topology, uint64_t ckpt,
                            const char *partition, const void *blob,
                            size_t len);

/* Which blob holds partition's state as of checkpoint at: at itself when
 * stored, else the newest final blob with an id in [from, at] (from bounds
 * the ids known to belong to the same history as at).  Its id in *ckpt and,
 * when final is not NULL, whether it is a final state in *final.
 * LS_ENOENT when there is none. */
int ls_store_ckpt_find(ls_store *s, const char *topology, uint64_t from,
                       uint64_t at, const char *partition, uint64_t *ckpt,
                       int *final);

/* Call fn for every final blob of topology with an id >= from: its
 * partition (NUL-terminated, valid during the call) and id, in partition
 * order.  For a node that must announce again which final states it holds. */
typedef void (*ls_store_final_fn)(void *arg, const char *partition,
                                  uint64_t ckpt);
int ls_store_ckpt_finals(ls_store *s, const char *topology, uint64_t from,
                         ls_store_final_fn fn, void *arg);

/* The same in a batch, so that a checkpoint can be written atomically with
 * other keys (e.g. input positions).  Errors are reported by the commit. */
void ls_store_batch_ckpt_put(ls_store_batch *b, const char *topology,
                             uint64_t ckpt, const char *partition,
                             const void *blob, size_t len);

/* The blob in a new malloc'd buffer *blob (caller frees) of *len bytes.
 * LS_ENOENT. */
int ls_store_ckpt_get(ls_store *s, const char *topology, uint64_t ckpt,
                      const char *partition, void **blob, size_t *len);

/* The newest checkpoint id held for that partition in *ckpt.  LS_ENOENT. */
int ls_store_ckpt_latest(ls_store *s, const char *topology,
                         const char *partition, uint64_t *ckpt);

/* Delete every checkpoint of topology with an id < keep_from, except, per
 * partition, the newest final blob below keep_from (with its mark): it
 * still stands for keep_from and later.  One atomic write. */
int ls_store_ckpt_gc(ls_store *s, const char *topology, uint64_t keep_from);

/* Delete every checkpoint (and final mark) of topology. */
int ls_store_ckpt_drop(ls_store *s, const char *topology);

/* Delete checkpoint ckpt of partition (its blob and final mark, if
 * any), in one atomic write; 0 also when there was none. */
int ls_store_ckpt_delete(ls_store *s, const char *topology, uint64_t ckpt,
                         const char *partition);

#endif /* LS_STORE_H */
