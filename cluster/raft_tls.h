/*
 * raft_tls.h -- a libraft transport (struct raft_uv_transport) whose
 * connections are TLS 1.2 with mutual authentication against the cluster
 * CA: the same CA, certificate and key as the data plane (cluster/tls.h).
 *
 * libraft reads and writes libuv streams, and libuv has no TLS stream, so
 * each connection is relayed: libraft gets one end of a socketpair (a
 * uv_pipe), and a thread of ours pumps the bytes between the other end
 * and an mbedtls session on the TCP connection.  A peer whose certificate
 * is not signed by the CA (or that does not speak TLS at all) never
 * reaches libraft: its connection is closed after the failed handshake,
 * counted, and logged once per peer address (module "raft").  A client
 * checks that the server's certificate names the host of the Raft address
 * it dials (as the data plane does with tls+tcp:// URLs).
 *
 * Inside the TLS session a connection starts with the handshake libraft's
 * own TCP transport sends (all integers little endian):
 *
 *   offset  size  field
 *   0       8     protocol version, 1
 *   8       8     raft id of the connecting server
 *   16      8     N, length of the address field (a multiple of 8)
 *   24      N     the connecting server's Raft address, NUL-padded
 *
 * then libraft's own messages.  The listener reads the handshake itself
 * (libraft's accept callback takes the id and address) and hands libraft
 * the stream that follows.
 *
 * Limits: 64 connections at once per transport, 16 of them in their TLS
 * handshake; a handshake (TCP connect, TLS, the preamble) has 5 s, and a
 * relay whose reader stops taking bytes for 30 s is closed.
 */
#ifndef LS_CLUSTER_RAFT_TLS_H
#define LS_CLUSTER_RAFT_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <raft/uv.h>

#include "cluster/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Set up t (caller-allocated, zeroed or not) as a TLS transport on loop,
 * with the node's TLS files f (borrowed; read now, checked with
 * ls_tls_check first).  Use it like raft_uv_tcp_init's transport: give it
 * to raft_uv_init(), and once raft has closed it (its close callback ran)
 * or never used it, release it with ls_raft_tls_free().  Loop thread.
 * LS_EINVAL when f is not a complete set of files, LS_EIO when one cannot
 * be read, LS_ENOMEM; err (may be NULL) gets the reason. */
int ls_raft_tls_init(struct raft_uv_transport *t, struct uv_loop_s *loop,
                     const ls_tls_files *f, char *err, size_t errlen);

/* Release what ls_raft_tls_init() allocated.  Waits up to 2 s for the
 * relays of connections libraft has closed to finish their TLS close
 * (a relay still running after that ends on its own).  Loop thread, after
 * raft's close of the transport completed, or when raft never started. */
void ls_raft_tls_free(struct raft_uv_transport *t);

/* Incoming connections refused so far: failed TLS handshakes (no or a
 * bad certificate, not TLS), bad Raft preambles, and connections over the
 * limits.  Any thread. */
uint64_t ls_raft_tls_refused(struct raft_uv_transport *t);

/* Relay threads alive in the process (all transports).  Any thread; for
 * tests that check everything was released. */
int ls__raft_tls_live(void);

#ifdef __cplusplus
}
#endif

#endif /* LS_CLUSTER_RAFT_TLS_H */
