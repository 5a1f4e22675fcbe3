/*
 * transport.h -- node-to-node transport: carries ls_envelopes between node
 * processes over nng, batched into Frames, with credit-based backpressure.
 *
 * Each transport listens on one URL with an nng pull0 socket and dials every
 * peer with its own push0 socket (one connection per peer and direction).
 * Envelopes for a peer collect in a pending batch; a flush (explicit, on the
 * tick, or when the batch is full) encodes them into ONE Frame and sends it as
 * one nng message.  Every Frame starts with a header envelope of type
 * LS_MSG_CREDIT that names the sender and carries the credits it grants back
 * to the destination; a sender may have at most `window_frames` data frames
 * unacknowledged per peer, so a slow receiver slows its senders.  The wire
 * protocol and the reasons for it are described in docs/cluster.md
 * ("Transport").
 *
 * Threads: ls_transport_send/flush/peer_* and the getters may be called from
 * any thread.  The receive callback runs on the transport's receive thread
 * (one per transport), never concurrently with itself.
 */
#ifndef LS_CLUSTER_TRANSPORT_H
#define LS_CLUSTER_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/tls.h"
#include "schemas/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ls_transport ls_transport;

/* Receive callback: one envelope from node `from_node`, in the order that
 * node sent it.  env and its payload are borrowed and valid only during the
 * call.  Runs on the transport's receive thread and must not block: a
 * receiver that cannot deliver an envelope now keeps a copy and calls
 * ls_transport_pause, which stops the sender within one credit window. */
typedef void (*ls_transport_recv_fn)(void *arg, uint64_t from_node,
                                     const ls_envelope *env);

/* A frame arrived from node `from_node`, which is not a peer; info is what
 * that node's config gave as hello_info (len 0 when none), borrowed for the
 * call.  A node that wants to be known (a joining node) keeps sending such
 * hellos until the receiver adds it as a peer.  Runs on the receive thread,
 * for every such frame: rate-limit whatever it triggers. */
typedef void (*ls_transport_unknown_fn)(void *arg, uint64_t from_node,
                                        const uint8_t *info, size_t len);

/* A peer that refused an ls_transport_send/sendv (LS_EAGAIN) has room
 * again: at most half of its pending bounds are in use.  Called once per
 * refusal episode, at least once after every refusal, on one of the
 * transport's own threads (never inside a send), with recv_arg; it may call
 * ls_transport_send but must not block. */
typedef void (*ls_transport_writable_fn)(void *arg, uint64_t node);

/* Longest hello_info. */
#define LS_TRANSPORT_MAX_HELLO 1024

/* Creation parameters.  Zero-valued tuning fields take the defaults noted. */
typedef struct ls_transport_config {
	uint64_t node_id;         /* this node; non-zero, unique in the cluster */
	const char *listen_url;   /* tcp://HOST:PORT (port 0 = any) or ipc:///p */
	ls_transport_recv_fn recv_fn; /* required */
	void *recv_arg;
	uint32_t window_frames;   /* unacked data frames per peer (default 8) */
	uint32_t batch_max_envs;  /* envelopes per frame (default 4096) */
	uint32_t batch_max_bytes; /* payload bytes per frame (default 1 MiB) */
	uint32_t max_pending_envs;  /* per-peer bound, then LS_EAGAIN (65536) */
	uint32_t max_pending_bytes; /* per-peer bound, then LS_EAGAIN (8 MiB) */
	uint32_t max_frame_bytes; /* larger inbound frames dropped (16 MiB) */
	uint32_t tick_ms;         /* automatic flush period (default 1) */
	/* Optional: bytes that go with every hello to a peer that has not
	 * answered yet (copied; at most LS_TRANSPORT_MAX_HELLO), and the
	 * callback for frames from nodes that are no peer (gets recv_arg). */
	const void *hello_info;
	size_t hello_len;
	ls_transport_unknown_fn unknown_fn;
	/* Optional: room again after a refusal (gets recv_arg). */
	ls_transport_writable_fn writable_fn;
	/* Optional: mutual TLS (cluster/tls.h; the files are read at
	 * creation, the pointers borrowed for the call).  With all three
	 * files set, listen_url and every peer URL must be tls+tcp://: the
	 * listener and the dialers require a peer certificate signed by the
	 * CA, and a dialer checks that the server's certificate names the
	 * host of the peer URL.  Without them, tls+tcp:// is refused. */
	const ls_tls_files *tls;
} ls_transport_config;

/* Counters, all cumulative since creation.  Bytes are frame bytes. */
typedef struct ls_transport_stats {
	uint64_t frames_sent, envs_sent, bytes_sent; /* data frames/envelopes */
	uint64_t frames_recv, envs_recv, bytes_recv; /* accepted data */
	uint64_t credit_frames_sent; /* header-only frames (credits, hellos) */
	uint64_t refused;   /* ls_transport_send() calls that got LS_EAGAIN */
	uint64_t malformed; /* inbound buffers dropped: bad, truncated, big */
	uint64_t unknown;   /* inbound frames from a node that is no peer */
	uint64_t lost;      /* data frames unacknowledged when a peer restarted
	                       or its connection was re-established */
} ls_transport_stats;

/* Per-peer state, a snapshot. */
typedef struct ls_transport_peer_stats {
	uint32_t pending_envs;   /* envelopes waiting (no credit or no link) */
	uint32_t pending_bytes;  /* their payload bytes */
	uint32_t in_flight;      /* data frames sent, not yet acknowledged */
	int connected;           /* 1 while the dialer has a live connection */
} ls_transport_peer_stats;

/* Check a transport URL: 0 for tcp://HOST:PORT, tls+tcp://HOST:PORT and
 * ipc:///PATH; LS_EINVAL else. */
int ls_transport_url_check(const char *url);

/* 1 when url is a tls+tcp:// URL. */
int ls_transport_url_is_tls(const char *url);

/* Create a transport listening on cfg->listen_url and start its threads.
 * Borrows cfg (the URL is copied).  LS_EINVAL for a bad config or URL,
 * LS_ENOTSUP for a URL whose scheme does not match cfg->tls (tls+tcp://
 * with TLS, another without), LS_EIO when listening fails or the TLS files
 * cannot be used, LS_ENOMEM. */
int ls_transport_create(const ls_transport_config *cfg, ls_transport **out);

/* Stop the threads, close every socket and free t (NULL is fine).  Pending
 * envelopes are dropped.  Must not be called from the receive callback; waits
 * for a running callback to return. */
void ls_transport_destroy(ls_transport *t);

/* Number of listening sockets whose nng_close() had not returned after 5 s
 * and were left closing on a helper thread (an nng 1.5 stall); while it is
 * non-zero, nng_fini() may block.  Any thread. */
uint64_t ls_transport_abandoned_closes(void);

/* The URL actually bound (the real port when 0 was asked); owned by t, valid
 * until ls_transport_destroy(). */
const char *ls_transport_url(const ls_transport *t);

/* Add peer `node_id` reachable at `url` and start dialing it (nng keeps
 * reconnecting in the background).  Both nodes must add each other: data
 * leaves only once the peer has answered our hello.  LS_EEXIST if known, LS_EINVAL for a bad
 * id (0 or our own) or URL, LS_ENOTSUP for a URL whose scheme does not
 * match the transport's (a plaintext peer of a TLS transport or the
 * reverse; logged once per URL), LS_EIO, LS_ENOMEM. */
int ls_transport_peer_add(ls_transport *t, uint64_t node_id, const char *url);

/* Forget a peer: close its connection and drop what is pending for it.
 * LS_ENOENT if unknown. */
int ls_transport_peer_remove(ls_transport *t, uint64_t node_id);

/* Queue a copy of *env (payload included) for peer `node_id`; it leaves in
 * the next frame.  Borrows env.  LS_EAGAIN when the peer's pending buffer is
 * full (no credit or no connection: retry later), LS_ENOENT for an unknown
 * peer, LS_EINVAL for NULL arguments, LS_ERANGE for a payload that cannot
 * fit in one frame (max_frame_bytes less 64 KiB; batch_max_bytes only
 * closes a frame before a larger envelope, which then leaves alone). */
int ls_transport_send(ls_transport *t, uint64_t node_id,
                      const ls_envelope *env);

/* ls_transport_sendv flag: queue even past max_pending_envs/bytes (control
 * traffic whose total the caller bounds otherwise, such as checkpoint
 * replication: it must not be refused on a worker thread). */
#define LS_TRANSPORT_NOLIMIT 1u

/* Queue copies of envs[0..n-1] (payloads included) for peer node_id, all or
 * none, in order.  Borrows envs.  Errors as ls_transport_send; LS_ERANGE
 * also when n envelopes could never fit the pending bounds. */
int ls_transport_sendv(ls_transport *t, uint64_t node_id,
                       const ls_envelope *envs, size_t n, unsigned flags);

/* Withhold credit from node_id: frames it sends from now on are still
 * delivered to recv_fn but not acknowledged, so the node can have at most
 * window_frames more frames in flight -- this bounds what a receiver that
 * holds undeliverable envelopes must keep.  Counted: each pause needs one
 * ls_transport_resume.  Any thread, including the receive callback.
 * LS_ENOENT for an unknown peer. */
int ls_transport_pause(ls_transport *t, uint64_t node_id);

/* Undo one ls_transport_pause; at the last one, the frames received while
 * paused are acknowledged at once.  Any thread.  LS_ENOENT if unknown. */
int ls_transport_resume(ls_transport *t, uint64_t node_id);

/* Send what is pending for every peer as far as credit and connections
 * allow.  Returns 0; what cannot leave yet stays pending for the tick. */
int ls_transport_flush(ls_transport *t);

/* Copy the counters into *out. */
void ls_transport_stats_get(const ls_transport *t, ls_transport_stats *out);

/* Snapshot of peer `node_id` into *out.  LS_ENOENT if unknown. */
int ls_transport_peer_stats_get(ls_transport *t, uint64_t node_id,
                                ls_transport_peer_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* LS_CLUSTER_TRANSPORT_H */
