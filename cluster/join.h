/*
 * join.h -- the join request of a node that joins a running cluster.
 *
 * A node started without --voter puts its join request into every
 * transport hello to a peer that has not answered yet (cluster/transport.h,
 * hello_info); the seed that gets it passes the same bytes to the leader
 * (POST /v1/internal/join).  On the wire it is a FlatBuffers JoinRequest
 * (schemas/cluster.fbs, "LSJR"; docs/wire-format.md): Raft id (the hash of
 * the Raft address, checked), incarnation, name, transport URL, HTTP
 * address and Raft address.  The bytes come from the network: the parser
 * verifies the buffer and checks every field.
 *
 * The same file parses the seed entries of `--join` (ls_join_seed_parse):
 * a member's transport URL, optionally followed by the member's Raft
 * address when it is not the default one (HOST:PORT+100):
 *
 *   tcp://HOST:PORT
 *   tcp://HOST:PORT?raft=RHOST:RPORT
 *
 * and the same with tls+tcp:// for a cluster with TLS (docs/security.md).
 */
#ifndef LS_CLUSTER_JOIN_H
#define LS_CLUSTER_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/coord.h"
#include "cluster/map.h"

/* Longest join request in bytes. */
#define LS_JOIN_MAX 1024

typedef struct ls_join_req {
	uint64_t id;  /* Raft id: ls_node_raft_id(raft) */
	uint64_t inc; /* the joining process's incarnation */
	char name[LS_MAP_MAX_NAME + 1];
	char url[LS_MAP_MAX_URL + 1];   /* transport URL */
	char http[LS_MAP_MAX_URL + 1];  /* HTTP address */
	char raft[LS_COORD_MAX_ADDRESS + 1];
} ls_join_req;

/* Decode len bytes (borrowed, at any address) into *out.  LS_EINVAL for
 * anything that is not a well-formed request (not a JoinRequest buffer or
 * longer than LS_JOIN_MAX, an empty or too long field, an id that is not
 * the hash of the Raft address, a bad transport URL); *out is untouched
 * then.  Any thread. */
int ls_join_parse(const void *buf, size_t len, ls_join_req *out);

/* Encode *r into buf[0..cap); returns its length, or -1 when it does not
 * fit into cap (or LS_JOIN_MAX) or cannot be encoded (no memory, a field
 * with a NUL inside).  Any thread. */
int ls_join_encode(const ls_join_req *r, void *buf, size_t cap);

/* One --join entry: a member's transport URL and its Raft address. */
typedef struct ls_join_seed {
	uint64_t id; /* Raft id: ls_node_raft_id(raft) */
	char url[LS_MAP_MAX_URL + 1];        /* [tls+]tcp://HOST:PORT */
	char raft[LS_COORD_MAX_ADDRESS + 1]; /* given, or HOST:PORT+100 */
} ls_join_seed;

/* Parse one --join entry (borrowed, NUL-terminated) into *out.  On
 * LS_EINVAL (not [tls+]tcp://HOST:PORT, a port without room for +100 and no
 * raft=, an unknown query, a bad or too long Raft address) a reason that
 * names the entry goes into why[0..whylen) when why is not NULL.  Any
 * thread. */
int ls_join_seed_parse(const char *entry, ls_join_seed *out, char *why,
    size_t whylen);

/* 0 when addr is a Raft address HOST:PORT (host non-empty, without '/'
 * or blanks, port 1-65535, at most LS_COORD_MAX_ADDRESS bytes), else
 * LS_EINVAL. */
int ls_join_raft_check(const char *addr);

#endif /* LS_CLUSTER_JOIN_H */
