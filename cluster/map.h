/*
 * map.h -- the cluster map: a plain, deterministic state machine.
 *
 * The map holds the cluster's nodes, the deployed topologies (name -> YAML
 * text), the partition assignments (topology + partition name -> owner node
 * and standbys) and an epoch that grows by exactly one on every change.  It
 * changes only through serialised commands applied with ls_map_apply(), so
 * every replica that applies the same command bytes in the same order holds
 * an identical map (the coordinator replicates the commands with Raft).  No
 * I/O, no threads, no clock.  A map is not thread-safe: one owner at a time
 * (the coordinator hands readers on other threads a copy).
 *
 * Invariants kept by every successful apply and restore:
 *   - node ids are non-zero and unique, node names are unique;
 *   - every assignment names a deployed topology, and its owner and standbys
 *     are nodes of the map, pairwise distinct;
 *   - nodes, topologies and assignments are kept sorted (by id, by name, by
 *     topology then partition), so snapshots of equal maps are equal bytes.
 *
 * Commands are MapCommand buffers of schemas/cluster.fbs (identifier
 * "LSMC"; encoded and verified by the codec, schemas/codec.h; field table in
 * docs/wire-format.md).  type says which fields a command uses:
 *
 *   ADD_NODE        node (id), voter, name, url, http (may be empty)
 *   SET_NODE_STATE  node, state (enum ls_node_state)
 *   REMOVE_NODE     node
 *   DEPLOY          name, yaml
 *   UNDEPLOY        name
 *   ASSIGN          name (topology), flags (LS_MAP_ASSIGN_*),
 *                   assignments: { partition, owner, standbys (at most 7) }
 *   CHECKPOINT      name (topology), checkpoint id (> 0), final: every
 *                   partition of the topology saved that checkpoint (final:
 *                   after the end of its input); ids only grow, an older one
 *                   is a no-op; a DEPLOY with new text resets it
 *
 * Strings hold no NUL bytes and are within the limits below; ids are
 * non-zero.  Bytes after the buffer (the Raft log pads entries with zeros
 * to a multiple of 8) are ignored, and input at any address is accepted
 * (it is copied when not 8-byte aligned).  Integrity is left to the Raft
 * log (its segment files checksum every batch of entries) and to TCP: the
 * command has no check of its own, so a changed byte may yield another
 * well-formed command (the old hand-written format carried an XXH3 check).
 *
 * Snapshot format (version 3, integers little endian; version 2, read
 * too, lacks owner_epoch, taken as equal to epoch):
 *
 *   offset  size  field
 *   0       4     magic "LSMS"
 *   4       1     version, 3
 *   5       1     type, 0
 *   6       2     reserved, 0
 *   8       4     body length N
 *   12      4     check: low 32 bits of XXH3-64 of the body, seeded with
 *                 the XXH3-64 (seed 0x4c534d) of bytes 0..11
 *   16      N     body; the buffer must be exactly 16 + N bytes long
 *
 * Body fields are u8, u32, u64 (little endian) and str = u32 length L then
 * L bytes (no NUL bytes inside, L within the limits below).  The body:
 *
 *   u64 epoch
 *   u32 node count,       each { u64 id, u8 voter, u8 state, str name,
 *                                str url, str http }
 *   u32 topology count,   each { str name, str yaml, u64 checkpoint,
 *                                u8 final }
 *   u32 assignment count, each { str topology, str partition, u64 owner,
 *                                u64 epoch, u64 owner_epoch, u8 n,
 *                                n x u64 standby }
 *
 * in the map's sorted order; restore refuses anything out of order.
 */
#ifndef LS_MAP_H
#define LS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits (bytes without NUL, or counts); longer input is refused. */
#define LS_MAP_MAX_NAME        255
#define LS_MAP_MAX_URL         1024
#define LS_MAP_MAX_YAML        (1u << 20)
#define LS_MAP_MAX_STANDBYS    7
#define LS_MAP_MAX_BATCH       65536
#define LS_MAP_MAX_NODES       4096
#define LS_MAP_MAX_TOPOLOGIES  1024
#define LS_MAP_MAX_ASSIGNMENTS (1u << 20)

/* Length of the header of commands and snapshots. */
#define LS_MAP_HEADER_LEN 16

typedef struct ls_map ls_map;

enum ls_map_cmd_type {
	LS_MAP_CMD_ADD_NODE = 1,
	LS_MAP_CMD_SET_NODE_STATE = 2,
	LS_MAP_CMD_REMOVE_NODE = 3,
	LS_MAP_CMD_DEPLOY = 4,
	LS_MAP_CMD_UNDEPLOY = 5,
	LS_MAP_CMD_ASSIGN = 6,
	LS_MAP_CMD_CHECKPOINT = 7
};

enum ls_node_state {
	LS_NODE_ALIVE = 1,
	LS_NODE_SUSPECT = 2,
	LS_NODE_DEAD = 3,
	LS_NODE_LEFT = 4
};

/* ASSIGN flag: drop the topology's assignments that the batch does not
 * name (the batch becomes the topology's whole placement). */
#define LS_MAP_ASSIGN_REPLACE 1u

/* A node as read from a map: strings are borrowed from the map and valid
 * until its next apply, restore or free.  As command input, all borrowed
 * from the caller. */
typedef struct ls_map_node {
	uint64_t id;      /* raft id, non-zero */
	const char *name; /* placement id, e.g. "n1" */
	const char *url;  /* transport URL, e.g. "tcp://127.0.0.1:7101" */
	const char *http; /* HTTP address, e.g. "127.0.0.1:8101" */
	bool voter;
	int state; /* enum ls_node_state */
} ls_map_node;

/* An assignment; strings borrowed as for ls_map_node.  epoch is the map
 * epoch at which owner or standbys last changed, owner_epoch the one at
 * which the owner last changed (both ignored as input). */
typedef struct ls_map_assignment {
	const char *topology;
	const char *partition; /* e.g. "count/3" */
	uint64_t owner;
	uint64_t epoch;
	uint64_t owner_epoch;
	unsigned n_standbys;
	uint64_t standbys[LS_MAP_MAX_STANDBYS];
} ls_map_assignment;

/* Creates an empty map (epoch 0) in *out; caller owns it (ls_map_free). */
int ls_map_new(ls_map **out);

/* Frees a map and everything it holds; NULL is fine. */
void ls_map_free(ls_map *m);

/* Applies one serialised command (borrowed).  Validates it fully: a
 * malformed buffer gives LS_ECORRUPT, a well-formed command that does not
 * fit the map gives LS_ENOENT (unknown node/topology), LS_EINVAL (duplicate
 * or self-conflicting names), LS_EBUSY (removing a node that still holds
 * partitions) or LS_ERANGE (a limit).  On any error the map is unchanged.
 * On success the epoch grows by one if the map changed and stays if the
 * command was a no-op. */
int ls_map_apply(ls_map *m, const void *buf, size_t len);

/* Checks that buf is a well-formed command (no map needed); LS_OK or
 * LS_ECORRUPT.  *type (may be NULL) receives the command type. */
int ls_map_check(const void *buf, size_t len, int *type);

/* The current epoch (0 for a new map). */
uint64_t ls_map_epoch(const ls_map *m);

/* Counts and indexed access in sorted order; i < count or LS_ENOENT. */
size_t ls_map_node_count(const ls_map *m);
int ls_map_node_at(const ls_map *m, size_t i, ls_map_node *out);
size_t ls_map_topology_count(const ls_map *m);
int ls_map_topology_at(const ls_map *m, size_t i, const char **name,
                       const char **yaml);
size_t ls_map_assignment_count(const ls_map *m);
int ls_map_assignment_at(const ls_map *m, size_t i, ls_map_assignment *out);

/* Lookups; LS_ENOENT when absent.  Outputs borrowed as above. */
int ls_map_node_find(const ls_map *m, uint64_t id, ls_map_node *out);
int ls_map_topology_find(const ls_map *m, const char *name, const char **yaml);
int ls_map_assignment_find(const ls_map *m, const char *topology,
                           const char *partition, ls_map_assignment *out);

/* Serialises the whole map into a new malloc'd buffer *buf (caller frees
 * with free()) of *len bytes. */
int ls_map_snapshot(const ls_map *m, uint8_t **buf, size_t *len);

/* Replaces the map's contents with a snapshot (borrowed), validated fully;
 * LS_ECORRUPT for a malformed one.  On error the map is unchanged. */
int ls_map_restore(ls_map *m, const void *buf, size_t len);

/* A new, independent copy of m in *out (caller frees). */
int ls_map_copy(const ls_map *m, ls_map **out);

/* True when both maps hold the same contents and epoch. */
bool ls_map_equal(const ls_map *a, const ls_map *b);

/* Command builders: each writes a new malloc'd command into *buf (caller
 * frees with free()) and its length into *len.  Inputs are borrowed and
 * checked against the limits (LS_EINVAL / LS_ERANGE); they are not checked
 * against any map. */
int ls_map_cmd_add_node(const ls_map_node *node, uint8_t **buf, size_t *len);
int ls_map_cmd_set_node_state(uint64_t id, int state, uint8_t **buf,
                              size_t *len);
int ls_map_cmd_remove_node(uint64_t id, uint8_t **buf, size_t *len);
int ls_map_cmd_deploy(const char *name, const char *yaml, uint8_t **buf,
                      size_t *len);
int ls_map_cmd_undeploy(const char *name, uint8_t **buf, size_t *len);
int ls_map_cmd_assign(const char *topology, unsigned flags,
                      const ls_map_assignment *a, size_t n, uint8_t **buf,
                      size_t *len);

int ls_map_cmd_checkpoint(const char *topology, uint64_t ckpt, int final,
                          uint8_t **buf, size_t *len);

/* The last completed checkpoint of a topology (0 = none) and whether it
 * was the final one; LS_ENOENT for an unknown topology. */
int ls_map_topology_checkpoint(const ls_map *m, const char *name,
                               uint64_t *ckpt, int *final);

/* The run epoch of a topology: the largest epoch of its assignments (it
 * changes with any placement change), 0 when it has none. */
uint64_t ls_map_run_epoch(const ls_map *m, const char *topology);

/* Name of a node state ("alive", ...); "?" for an unknown value. */
const char *ls_map_node_state_name(int state);

#endif /* LS_MAP_H */
