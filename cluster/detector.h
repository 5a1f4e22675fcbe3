/*
 * detector.h -- the leader's failure detector: when each node was last
 * heard from, and what that means for its state in the cluster map.
 *
 * Deterministic: the caller passes the time (ls_clock_ns() in node.c) to
 * every call, nothing here reads a clock, so tests can step time by hand.
 * The rules (docs/cluster.md, "Membership"):
 *
 *   silent > dead_ns                     -> LS_NODE_DEAD
 *   silent > suspect_ns, state ALIVE     -> LS_NODE_SUSPECT
 *   a heartbeat from a SUSPECT/DEAD node -> LS_NODE_ALIVE (detector_verdict)
 *
 * where silent is the time since its last heartbeat or admission, or,
 * for a node never heard from under this leadership, since the node was
 * first judged (a grace period of one dead timeout).  This node itself,
 * and nodes already DEAD or LEFT, are never judged.  A new leadership
 * (ls_detector_lead) forgets everything, so every node gets a fresh grace
 * period, except the previous leader, which gets a short one.
 *
 * Threads: not synchronised; the caller serialises every call (node.c
 * holds its lock).
 */
#ifndef LS_CLUSTER_DETECTOR_H
#define LS_CLUSTER_DETECTOR_H

#include <stdint.h>

typedef struct ls_detector ls_detector;

/* A new detector for the node whose map id is self; the timeouts are in
 * nanoseconds (heartbeat_ns is the followers' heartbeat interval, which
 * sets the previous leader's grace).  *out is owned by the caller
 * (ls_detector_free).  0 or LS_ENOMEM. */
int ls_detector_new(uint64_t self, int64_t heartbeat_ns, int64_t suspect_ns,
    int64_t dead_ns, ls_detector **out);

/* Free the detector (NULL is fine). */
void ls_detector_free(ls_detector *d);

/* This node became leader at now: forget every node, so each is judged
 * from now on.  prev_leader (0: none known, or self) was silent for at
 * least an election timeout: it is judged as if last heard
 * max(2 * heartbeat, 300 ms), at most dead_ns, before dead_ns ago, so it
 * is declared dead about as fast as any failed node. */
void ls_detector_lead(ls_detector *d, int64_t now, uint64_t prev_leader);

/* Judge node id whose map state is state at now: the state to propose
 * (LS_NODE_DEAD or LS_NODE_SUSPECT), or 0 for none.  A node not yet in
 * the table is entered as heard at now.  *silent_ns (may be NULL) gets
 * how long it has been silent (0 when not judged).  Self, DEAD and LEFT
 * nodes are not judged (0, and no entry is made).  Out of memory: 0 (the
 * node is judged at a later call). */
int ls_detector_judge(ls_detector *d, uint64_t id, int state, int64_t now,
    int64_t *silent_ns);

/* A heartbeat from node id at now, from its process incarnation inc (0:
 * unknown, the one recorded stays).  Returns the incarnation recorded
 * before (0: none, or out of memory). */
uint64_t ls_detector_heard(ls_detector *d, uint64_t id, uint64_t inc,
    int64_t now);

/* Node id was admitted through a join request at now, from incarnation
 * inc: it counts as heard, and its first heartbeat from inc is no
 * restart. */
void ls_detector_admitted(ls_detector *d, uint64_t id, uint64_t inc,
    int64_t now);

/* What the leader proposes for a heartbeat's sender: known says whether
 * it is in the map, with map state state; leaving and restarted are the
 * heartbeat's flags, inc its incarnation and prev_inc what
 * ls_detector_heard returned.  Returns
 *   LS_NODE_LEFT   a known node that is leaving, not yet LEFT;
 *   LS_NODE_DEAD   a known ALIVE or SUSPECT node whose process restarted
 *                  (fence its previous incarnation), unless it is the
 *                  incarnation admitted by a join;
 *   LS_NODE_ALIVE  an unknown node (add it) or a known one not ALIVE;
 *   0              nothing to do. */
int ls_detector_verdict(int known, int state, int leaving, int restarted,
    uint64_t inc, uint64_t prev_inc);

#endif /* LS_CLUSTER_DETECTOR_H */
