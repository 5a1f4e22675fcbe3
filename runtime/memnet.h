/*
 * memnet.h -- an in-memory transport for remote refs (runtime/remote.h):
 * several runtimes of one process joined into a little network whose
 * delivery is driven step by step by the caller, for deterministic tests.
 *
 * Every runtime that joins gets a node number (1, 2, ...) and a transport
 * table; on node A, link B leads to node B, so the actor that node B
 * exported as addr is ls_remote_ref(B, addr) on every other node.  A send
 * takes the message and queues it on the (A, B) link; a link holds at most
 * its capacity, then sends are refused with LS_EAGAIN.  Nothing moves until
 * ls_memnet_deliver: it hands queued messages, in order, to the target
 * mailboxes with ls_send; a full target mailbox keeps its message at the
 * head of the link (the link stops, as a receiver withholding credit
 * would), an unknown address or a stopped actor drops it (counted).  When
 * a delivery makes room on a link that refused a send, the sending runtime
 * is told with ls_remote_writable.
 *
 * Delivered messages have from = ls_remote_ref(A, low 48 bits of the
 * sender's id): a channel identity, unique per sender.
 *
 * Threads: sends may come from any thread of the joined runtimes; the
 * other calls from one controlling thread.  Runtimes must leave (be
 * destroyed) before ls_memnet_destroy.
 */
#ifndef LS_RUNTIME_MEMNET_H
#define LS_RUNTIME_MEMNET_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"

#define LS_MEMNET_MAX_NODES 16

typedef struct ls_memnet ls_memnet;

typedef struct ls_memnet_stats {
	uint64_t queued;    /* sends taken */
	uint64_t refused;   /* sends answered LS_EAGAIN */
	uint64_t delivered; /* messages a target mailbox accepted */
	uint64_t dropped;   /* unknown address or stopped target */
	uint64_t writable;  /* ls_remote_writable reports made */
} ls_memnet_stats;

/* A new empty network whose links hold link_cap messages (0 = 1024). */
int ls_memnet_create(uint32_t link_cap, ls_memnet **out);

/* Free the network and every message still queued.  The joined runtimes
 * must be destroyed first (or detached with ls_remote_attach(rt, NULL)). */
void ls_memnet_destroy(ls_memnet *n);

/* Join rt (borrowed) to the network: attaches the transport table and
 * gives rt's node number in *node.  LS_ERANGE when full, LS_ENOMEM. */
int ls_memnet_join(ls_memnet *n, ls_runtime *rt, uint32_t *node);

/* Make the local actor `local` of node reachable: *addr is its address
 * (ls_remote_ref(node, *addr) on the other nodes).  LS_EINVAL, LS_ENOMEM. */
int ls_memnet_export(ls_memnet *n, uint32_t node, ls_ref local,
    uint64_t *addr);

/* Set the capacity of the (from, to) link (messages; at least 1). */
void ls_memnet_set_cap(ls_memnet *n, uint32_t from, uint32_t to,
    uint32_t cap);

/* Deliver up to max messages queued on the (from, to) link, in order;
 * returns how many left the link (delivered or dropped).  Stops early at a
 * message whose target mailbox is full. */
size_t ls_memnet_deliver(ls_memnet *n, uint32_t from, uint32_t to,
    size_t max);

/* Deliver on every link until nothing moves; returns messages moved. */
size_t ls_memnet_deliver_all(ls_memnet *n);

/* Messages queued on the (from, to) link. */
size_t ls_memnet_queued(ls_memnet *n, uint32_t from, uint32_t to);

/* Counters over all links. */
void ls_memnet_stats_get(ls_memnet *n, ls_memnet_stats *st);

#endif /* LS_RUNTIME_MEMNET_H */
