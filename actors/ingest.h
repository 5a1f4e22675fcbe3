/*
 * ingest.h -- the ingest log of an `http` source (docs/http-ingest.md):
 * what HTTP clients sent, kept until a completed checkpoint covers it, so
 * that an acknowledged request is never lost.
 *
 * Writers are the HTTP server's handler threads (ls_ingest_append: one
 * request = one record of events); the one reader is the source actor
 * (seek, read, trim, close_input).  With a store the records are RocksDB
 * keys of the node's store, written (and, with sync, fsynced) before
 * append returns -- the caller answers 202 only then; the source's
 * checkpoint is the sequence number of the next record to read, so a
 * restore reads again exactly what the last completed checkpoint had not
 * covered.  Without a store (a run without --data-dir) records wait in
 * memory and are gone with the process.
 *
 * Replicas (a cluster, docs/http-ingest.md "On a cluster"): with a repl
 * hook, append copies each record to the partition's replicas (the hook
 * sends it to the standbys and waits until they stored it) after it is
 * durable here and before it returns; a record the replicas did not take
 * gives LS_EBUSY -- it stays in this log, so the caller must say "not
 * acknowledged, retry" and a retry may deliver it twice.  The
 * ls_ingest_store_* calls are the replicas' side: the records of a
 * partition as a node's store holds them, whoever wrote them.
 *
 * Key layout of a record (the value: u8 version 2, u64 little-endian
 * epoch of the run that appended it, then the events joined by '\n';
 * version 1 -- no epoch -- is still read):
 *
 *   offset  size  field
 *   0       1     'i'
 *   1       1     0x00
 *   2       T     topology (the checkpoint namespace)
 *   2+T     1     0x00
 *   3+T     P     partition ("stage/0")
 *   3+T+P   1     0x00
 *   4+T+P   8     sequence number, big-endian (the first is 1)
 *
 * Bounded: append refuses (LS_EAGAIN, the client gets 429) while the
 * events it holds reach `queue` -- with a store, every event not yet
 * covered by a completed checkpoint (so the log on disk is bounded too);
 * in memory, every event not yet read.  A single request is still taken
 * into an empty log whatever its size (the body limit bounds it).
 */
#ifndef LS_ACTORS_INGEST_H
#define LS_ACTORS_INGEST_H

#include <stddef.h>
#include <stdint.h>

struct ls_store;

typedef struct ls_ingest ls_ingest;

/* The first byte of every ingest log key (resume.c keeps these keys when
 * it discards a run that completed no checkpoint). */
#define LS_INGEST_KEY_BYTE 'i'

/* Copies records to the replicas of a partition (the cluster's data plane
 * gives one; see above).  push: record seq of (topology, partition) as
 * stored (value, len bytes) is durable on every replica when it returns 0;
 * any other value: it is not (LS_ESTALE: this node is no longer the
 * owner).  trim: records before it are covered by a completed checkpoint.
 * Blocking; runs on the appending thread; must be thread-safe. */
typedef struct ls_ingest_repl {
	int (*push)(void *arg, const char *topology, const char *partition,
	    uint64_t epoch, uint64_t trim, int sync, uint64_t seq,
	    const void *value, size_t len);
	void *arg;
} ls_ingest_repl;

typedef struct ls_ingest_cfg {
	struct ls_store *store; /* borrowed, outlives the log; NULL = memory */
	const char *topology;   /* copied */
	const char *partition;  /* copied */
	size_t queue;           /* events held at most, >= 1 (see above) */
	int sync;               /* fsync the store's WAL before append returns */
	uint64_t epoch;         /* run epoch, stored with each record */
	const ls_ingest_repl *repl; /* borrowed; NULL = no replicas (a store
	                               is needed for them) */
} ls_ingest_cfg;

/* Open the log: the records a store already holds for (topology,
 * partition) are found, the reader starts at the oldest of them (seek
 * moves it).  LS_EINVAL, LS_ENOMEM, LS_EIO. */
int ls_ingest_open(const ls_ingest_cfg *cfg, ls_ingest **out);

/* Append one record of n events (text, len bytes: events joined by '\n';
 * copied).  0 once it is durable (see above); LS_EAGAIN queue full,
 * LS_ECLOSED input closed, LS_EIO the store failed (nothing appended),
 * LS_EBUSY the replicas did not take it (appended here only).
 * *seq (may be NULL) gets its sequence number.  Any thread. */
int ls_ingest_append(ls_ingest *in, const char *text, size_t len, uint32_t n,
    uint64_t *seq);

/* Reader: read from record seq on (a restore; records before it are
 * skipped).  Before the first read. */
void ls_ingest_seek(ls_ingest *in, uint64_t seq);

/* Reader: call fn for every event (borrowed during the call) of the next
 * records, whole records, until at least max events were given or none is
 * left; returns how many events.  A record the store cannot give back is
 * logged and skipped. */
typedef void (*ls_ingest_fn)(void *arg, const char *ev, size_t len);
size_t ls_ingest_read(ls_ingest *in, size_t max, ls_ingest_fn fn, void *arg);

/* Reader: the sequence number of the next record to read (the source's
 * checkpointed position). */
uint64_t ls_ingest_position(const ls_ingest *in);

/* Reader: records before seq are covered by a completed checkpoint:
 * delete them from the store. */
void ls_ingest_trim(ls_ingest *in, uint64_t seq);

/* No appends from now on (they get LS_ECLOSED): the source is ending.
 * Any thread. */
void ls_ingest_close_input(ls_ingest *in);

/* Events the log holds (see "Bounded" above).  Any thread. */
size_t ls_ingest_backlog(ls_ingest *in);

/* Free the log (the store's records stay).  NULL is fine.  No append may
 * run or follow. */
void ls_ingest_free(ls_ingest *in);

/* ---- the HTTP listener of an `http` source ----
 * actors/ has no HTTP server (it lives in cluster/, above): the program
 * installs one with ls_ingest_set_server before running topologies.
 * start serves POST /v1/logs on listen ("HOST:PORT", port 0 = a free one)
 * into in, bodies of at most max_body bytes, and gives back a handle and
 * the port bound; stop ends it (no handler runs after it returns). */
typedef struct ls_ingest_server {
	int (*start)(const char *listen, size_t max_body, ls_ingest *in,
	    void **handle, int *port, char *err, size_t errlen);
	void (*stop)(void *handle);
} ls_ingest_server;

/* Install the server (borrowed, static); NULL removes it.  Before any
 * `http` source starts. */
void ls_ingest_set_server(const ls_ingest_server *srv);

/* The installed server or NULL. */
const ls_ingest_server *ls_ingest_get_server(void);

/* Check "HOST:PORT" / "[V6]:PORT" (ls_topo_check_fn): 0, or 1 with a
 * reason. */
int ls_ingest_check_listen(const char *v, char *why, size_t whylen);

/* ---- the records of a partition in a node's store (replicas) ----
 * Names as in ls_ingest_cfg.  Blocking; any thread. */

/* Call fn for every record the store holds of (topology, partition), in
 * sequence order (value borrowed for the call; non-zero stops and is
 * returned). */
int ls_ingest_store_each(struct ls_store *st, const char *topology,
    const char *partition,
    int (*fn)(void *arg, uint64_t seq, const void *value, size_t len),
    void *arg);

/* Take a copy of record seq (a value as stored, checked: LS_ECORRUPT).
 * newer_only 0: it replaces what the store holds under seq (a standby
 * takes its owner's record); 1: only when the store has none or one of a
 * lower epoch (a new owner merging what other nodes hold).  Not synced. */
int ls_ingest_store_put(struct ls_store *st, const char *topology,
    const char *partition, uint64_t seq, const void *value, size_t len,
    int newer_only);

/* Delete the records of (topology, partition) before seq. */
int ls_ingest_store_trim(struct ls_store *st, const char *topology,
    const char *partition, uint64_t seq);

/* The epoch stored in a record value (0 for version 1), or LS_ECORRUPT. */
int ls_ingest_value_epoch(const void *value, size_t len, uint64_t *epoch);

#endif /* LS_ACTORS_INGEST_H */
