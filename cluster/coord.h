/*
 * coord.h -- the coordinator: the cluster map (cluster/map.h) replicated
 * with Raft (libraft 0.15 over libuv) among the voter nodes.
 *
 * Each coordinator runs one raft server on its own libuv loop in its own
 * thread.  Map commands are proposed on the leader, replicated to a
 * majority, and applied with ls_map_apply() in log order on every server,
 * so all servers hold the same map at the same log index; Raft snapshots
 * are ls_map_snapshot() bytes.  Raft state (log, term, vote, snapshots)
 * lives in the data directory, so a restarted server (same id, same
 * directory) rejoins and catches up.
 *
 * Threads: every public function may be called from any thread, except
 * that ls_coord_stop() must not be called from a callback.  Callbacks run
 * on the coordinator's loop thread (on_map_change also on the thread in
 * ls_coord_start() when it loads a local snapshot, before the loop thread
 * exists); they must not block, and they may call
 * ls_coord_propose(), ls_coord_leader(), ls_coord_epoch() and
 * ls_coord_map_snapshot().
 *
 * SIGPIPE: the raft TCP transport writes to sockets whose peer may have
 * died; a process that runs a coordinator must ignore SIGPIPE
 * (signal(SIGPIPE, SIG_IGN)) before ls_coord_start().  The library does
 * not change signal dispositions itself.
 */
#ifndef LS_COORD_H
#define LS_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/map.h"

typedef struct ls_coord ls_coord;

/* Longest raft address ("host:port"), without the NUL. */
#define LS_COORD_MAX_ADDRESS 255

/* One initial voter: raft id (non-zero) and "a.b.c.d:port" (borrowed). */
typedef struct ls_coord_peer {
	uint64_t id;
	const char *address;
} ls_coord_peer;

/* The map changed to epoch (called after each epoch-changing apply, also
 * while replaying the log at start and after a snapshot restore). */
typedef void (*ls_coord_map_cb)(void *arg, uint64_t epoch);

/* The known leader changed: id 0 and address "" when there is none.  The
 * address is borrowed for the duration of the call. */
typedef void (*ls_coord_leader_cb)(void *arg, uint64_t leader_id,
                                   const char *leader_address);

/* A proposal finished: LS_OK when the command was committed and applied;
 * the ls_map_apply() error when it was committed but refused by the map
 * (a deterministic no-op on every server); LS_ESTATE when leadership was
 * lost before commit (it may still commit later); LS_ECLOSED when the
 * coordinator stopped first; LS_ENOMEM / LS_EIO for local failures. */
typedef void (*ls_coord_done_cb)(void *arg, int status);

typedef struct ls_coord_config {
	uint64_t id;          /* this server's raft id, non-zero */
	const char *data_dir; /* created if missing (one level) */
	const char *address;  /* raft listen address "a.b.c.d:port" */
	/* Initial voters, used only to bootstrap a pristine data dir; must
	 * contain this server, and be the same list on every voter. */
	const ls_coord_peer *voters;
	size_t n_voters;
	unsigned election_timeout_ms;  /* 0: 1000 */
	unsigned heartbeat_timeout_ms; /* 0: 100 */
	unsigned snapshot_threshold;   /* entries between snapshots; 0: 1024 */
	unsigned snapshot_trailing;    /* entries kept after one; 0: 128 */
	/* How long a leader waits for a follower to take a snapshot before
	 * sending it again (also after the follower was unreachable); 0:
	 * 5000.  Maps are small, so this can be short. */
	unsigned install_snapshot_timeout_ms;
	ls_coord_map_cb on_map_change;       /* may be NULL */
	ls_coord_leader_cb on_leader_change; /* may be NULL */
	void *cb_arg;
} ls_coord_config;

/* Starts a coordinator (config and its strings are borrowed, copied as
 * needed); *out is owned by the caller until ls_coord_stop().  Bootstraps
 * the initial voters when the data dir has no raft state, otherwise
 * resumes from it.  LS_EINVAL for a bad config, LS_EIO when the data dir
 * or the listen address cannot be used. */
int ls_coord_start(const ls_coord_config *cfg, ls_coord **out);

/* Proposes a map command (bytes borrowed, copied).  Only on the leader:
 * elsewhere LS_ESTATE, with the leader's address (or "" if unknown)
 * copied into leader[0..leader_cap) when leader is not NULL.  LS_ECORRUPT
 * when the bytes are not a well-formed command, LS_ECLOSED once stopping.
 * On LS_OK, done (may be NULL) runs exactly once on the loop thread; on
 * error it never runs. */
int ls_coord_propose(ls_coord *c, const void *cmd, size_t len,
                     ls_coord_done_cb done, void *arg, char *leader,
                     size_t leader_cap);

/* The leader as last seen by this server: *id (0 if none) and its address
 * copied into address[0..cap) (may be NULL).  LS_OK, or LS_ENOENT when no
 * leader is known. */
int ls_coord_leader(ls_coord *c, uint64_t *id, char *address, size_t cap);

/* Non-zero when this server is the leader right now (as last seen). */
int ls_coord_is_leader(ls_coord *c);

/* The epoch of this server's map. */
uint64_t ls_coord_epoch(ls_coord *c);

/* A consistent copy of this server's map in *out (caller frees it with
 * ls_map_free()). */
int ls_coord_map_snapshot(ls_coord *c, ls_map **out);

/* Stops the raft server (pending proposals finish with LS_ECLOSED or
 * LS_ESTATE), joins the loop thread and frees c.  The data dir stays. */
void ls_coord_stop(ls_coord *c);

#endif /* LS_COORD_H */
