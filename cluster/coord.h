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
 * Membership: a cluster starts from a fixed set of voters (bootstrapped
 * from ls_coord_config.voters).  A server started with no voters joins a
 * running cluster: it waits, knowing nothing, until the leader adds it
 * with ls_coord_add_member(), then receives the log (or a snapshot) and so
 * the whole map.  An added server is either a voter (counts in elections
 * and in the commit quorum) or a standby (raft's RAFT_STANDBY: it is
 * replicated and applies every command, but never votes and never leads).
 * ls_coord_remove_member() takes a server out; the leader stops sending it
 * anything, and the removed server should then be stopped.  Raft changes
 * the configuration one step at a time: while one change is in flight,
 * another is refused with LS_EBUSY.  ls_coord_members() shows the
 * configuration as this server sees it.
 *
 * Threads: every public function may be called from any thread, except
 * that ls_coord_stop() must not be called from a callback.  Callbacks run
 * on the coordinator's loop thread (on_map_change also on the thread in
 * ls_coord_start() when it loads a local snapshot, before the loop thread
 * exists); they must not block, and they may call
 * ls_coord_propose(), ls_coord_leader(), ls_coord_epoch(),
 * ls_coord_map_snapshot(), ls_coord_members() and (with the limits said
 * there) ls_coord_add_member() and ls_coord_remove_member().
 *
 * SIGPIPE: libraft's TCP transport writes to sockets whose peer may have
 * died; a process that runs a coordinator must ignore SIGPIPE
 * (signal(SIGPIPE, SIG_IGN)) before ls_coord_start().  The library does
 * not change signal dispositions itself.
 */
#ifndef LS_COORD_H
#define LS_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/map.h"
#include "cluster/tls.h"

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
	 * contain this server, and be the same list on every voter.
	 * n_voters == 0 (voters may be NULL): start without bootstrapping;
	 * the server waits to be added by the leader of an existing cluster
	 * (it then receives the log and the map).  A data dir that already
	 * has raft state resumes from it in both cases. */
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
	/* The node's TLS files (borrowed, read at start), or NULL / not all
	 * set: Raft over libraft's plaintext TCP transport.  With them, Raft
	 * connections are mutual TLS against the CA (cluster/raft_tls.h) and
	 * a peer that does not present a certificate of the CA -- a plaintext
	 * one included -- is refused. */
	const ls_tls_files *tls;
	/* Optional (may be NULL): when ls_coord_start() fails, a reason
	 * (which setting, what the system or raft said) into err[0..errlen). */
	char *err;
	size_t errlen;
	ls_coord_map_cb on_map_change;       /* may be NULL */
	ls_coord_leader_cb on_leader_change; /* may be NULL */
	void *cb_arg;
} ls_coord_config;

/* Starts a coordinator (config and its strings are borrowed, copied as
 * needed); *out is owned by the caller until ls_coord_stop().  Bootstraps
 * the initial voters when the data dir has no raft state (with no voters:
 * waits to be added), otherwise resumes from it.  LS_EINVAL for a bad
 * config, LS_EIO when the data dir or the listen address cannot be used. */
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

/* One server of the raft configuration. */
typedef struct ls_coord_member {
	uint64_t id;
	int role; /* LS_COORD_VOTER, LS_COORD_STANDBY or LS_COORD_SPARE */
	char address[LS_COORD_MAX_ADDRESS + 1];
} ls_coord_member;

/* Member roles: a voter votes and counts in the quorum; a standby is
 * replicated but never votes; a spare (the first step of an add) is
 * neither. */
#define LS_COORD_VOTER   0
#define LS_COORD_STANDBY 1
#define LS_COORD_SPARE   2

/* On the leader: adds server id at address (raft_add) and gives it a role:
 * voter != 0 makes it a voter, else a standby (replicated, never votes);
 * an id already in the configuration with another role only changes role
 * (address may then be NULL).  address is borrowed (copied).  done (may be
 * NULL) runs exactly once on the loop thread when the change is committed
 * (LS_OK) or failed (LS_ESTATE: leadership lost, the change may still
 * commit; LS_ECLOSED: stopped first; LS_ETIMEDOUT: a new voter did not
 * catch up in time; after a failed second step a new server stays a spare,
 * and a new call gives it its role).  Refused without calling done: LS_ESTATE
 * when not the leader (the leader's address, or "", copied into
 * leader[0..leader_cap) when leader is not NULL), LS_EEXIST when id is already
 * a member with that role, LS_EBUSY while another configuration change is in
 * flight (retry later), LS_EINVAL for id 0, a missing or too long address, an
 * id known at another address or an address used by another id, or the leader
 * demoting itself; LS_ECLOSED once stopping.  Any thread; from a coordinator
 * callback the request starts after the callback returns and the refusals that
 * need the raft state (LS_EEXIST, LS_EBUSY, ...) come through done instead. */
int ls_coord_add_member(ls_coord *c, uint64_t id, const char *address,
                        int voter, ls_coord_done_cb done, void *arg,
                        char *leader, size_t leader_cap);

/* On the leader: removes server id from the configuration (raft_remove);
 * a leader that removes itself steps down once the change commits.  Same
 * conventions as ls_coord_add_member(), with LS_ENOENT when id is not a
 * member. */
int ls_coord_remove_member(ls_coord *c, uint64_t id, ls_coord_done_cb done,
                           void *arg, char *leader, size_t leader_cap);

/* The raft configuration as this server last saw it (refreshed every
 * 50 ms on the loop thread and at each change made here): copies up to cap
 * members into out (borrowed, owned by the caller) and returns how many it
 * copied.  A server that was never added sees none.  Any thread. */
size_t ls_coord_members(ls_coord *c, ls_coord_member *out, size_t cap);

/* Raft connections the TLS transport refused so far (failed handshakes,
 * bad preambles, over its limits); 0 without TLS.  Any thread. */
uint64_t ls_coord_raft_refused(ls_coord *c);

/* Stops the raft server (pending proposals and membership changes finish
 * with LS_ECLOSED or LS_ESTATE), joins the loop thread and frees c.  The
 * data dir stays. */
void ls_coord_stop(ls_coord *c);

#endif /* LS_COORD_H */
