/*
 * remote.h -- remote actor references and the runtime's transport table.
 *
 * An ls_ref may name an actor in another runtime (another node process, or
 * another runtime of the same process in tests).  Such a *remote ref*
 * carries a tag bit, a link number and an address on the far side:
 *
 *     bit  63      1 = remote (local ids never set it: see actor.c)
 *     bits 62..48  link: which peer (1..LS_REMOTE_MAX_LINK; 0 is invalid)
 *     bits 47..0   address of the actor on that peer, meaningful only to
 *                  the transport (the data plane uses the plan actor index)
 *
 * ls_send and ls_ctx_send to a remote ref call the transport table attached
 * to the runtime (ls_remote_attach) on the sending thread.  The table's
 * send takes the message iff it returns 0; LS_EAGAIN means the link has no
 * room and the message stays with the sender, exactly as for a full local
 * mailbox.  An actor refused by ls_ctx_send is registered as a waiter on
 * the link; when the transport reports the link writable again
 * (ls_remote_writable) every waiter gets one LS_MSG_WRITABLE through the
 * system lane, from = ls_remote_ref(link, 0).  So a stage that pauses on
 * LS_EAGAIN and flushes on LS_MSG_WRITABLE (actors/stage.h, ls_outq)
 * behaves the same for local and remote consumers.
 *
 * FIFO order holds per (sender thread, remote receiver) as far as the
 * transport keeps its per-link order, which both transports do.
 */
#ifndef LS_RUNTIME_REMOTE_H
#define LS_RUNTIME_REMOTE_H

#include <stdint.h>

#include "actor.h"

#define LS_REMOTE_TAG (UINT64_C(1) << 63)
#define LS_REMOTE_LINK_SHIFT 48
#define LS_REMOTE_MAX_LINK 0x7fffu
#define LS_REMOTE_ADDR_MASK ((UINT64_C(1) << 48) - 1)

/* The remote ref naming address addr (48 bits) behind link (1..0x7fff). */
static inline ls_ref
ls_remote_ref(uint32_t link, uint64_t addr)
{
	ls_ref r = { LS_REMOTE_TAG |
		((uint64_t)(link & LS_REMOTE_MAX_LINK) << LS_REMOTE_LINK_SHIFT) |
		(addr & LS_REMOTE_ADDR_MASK) };
	return r;
}

/* 1 when r names an actor behind a link. */
static inline int
ls_ref_is_remote(ls_ref r)
{
	return (r.id & LS_REMOTE_TAG) != 0;
}

/* The link of a remote ref. */
static inline uint32_t
ls_remote_link(ls_ref r)
{
	return (uint32_t)(r.id >> LS_REMOTE_LINK_SHIFT) & LS_REMOTE_MAX_LINK;
}

/* The address of a remote ref on its peer. */
static inline uint64_t
ls_remote_addr(ls_ref r)
{
	return r.id & LS_REMOTE_ADDR_MASK;
}

/*
 * A transport back-end (style rule 6: a table of function pointers).
 * The runtime borrows the table; it must outlive the runtime.
 */
typedef struct ls_remote_ops {
	/* Send m to the actor at addr behind link.  Takes m iff it returns
	 * 0 (then m, its inline bytes and its ptr payload belong to the
	 * transport).  LS_EAGAIN: the link has no room now; the transport
	 * must then call ls_remote_writable(rt, link) at least once after
	 * room appears.  LS_ENOENT: no such link.  Called on the sending
	 * thread (a worker or any thread using ls_send); must not block. */
	int (*send)(void *arg, uint32_t link, uint64_t addr, ls_msg *m);
	void *arg;
} ls_remote_ops;

/* Remote-send counters of one runtime (racy snapshot). */
typedef struct ls_remote_stats {
	uint64_t sent;     /* messages the transport took */
	uint64_t refused;  /* sends answered LS_EAGAIN */
	uint64_t writable; /* LS_MSG_WRITABLE messages sent to waiters */
} ls_remote_stats;

/* Attach a transport table to rt (borrowed; NULL detaches).  Call before
 * any actor sends to a remote ref, not concurrently with such sends.
 * Without a table, sends to remote refs return LS_ENOENT.  LS_ENOMEM. */
int ls_remote_attach(ls_runtime *rt, const ls_remote_ops *ops);

/* The transport reports that link has room again: every actor refused on
 * link since the last call gets one LS_MSG_WRITABLE (system lane).  Any
 * thread, including the transport's own; never blocks on a mailbox. */
void ls_remote_writable(ls_runtime *rt, uint32_t link);

/* Number of actors waiting for link to become writable (tests). */
uint32_t ls_remote_waiters(ls_runtime *rt, uint32_t link);

/* Fill *st with rt's remote-send counters. */
void ls_remote_stats_get(ls_runtime *rt, ls_remote_stats *st);

/* ---- internal (runtime/actor.c) ---- */

/* Send m to the remote ref `to`; takes m iff 0.  When who is valid (an
 * actor sending with ls_ctx_send) and the link refuses, who is registered
 * as a waiter and the send is tried once more, so that a writable report
 * racing with the refusal is not lost. */
int ls__remote_send(ls_runtime *rt, ls_ref to, ls_msg *m, ls_ref who);

/* Free rt's remote state (ls_runtime_destroy). */
void ls__remote_free(ls_runtime *rt);

#endif /* LS_RUNTIME_REMOTE_H */
