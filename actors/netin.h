/*
 * netin.h -- network input of the `syslog` source: a listener thread on
 * TCP or UDP that frames messages and queues them for the source actor.
 *
 * TCP framing follows RFC 6587, per connection and per frame: a frame that
 * starts with digits, a space and '<' (the syslog message's "<PRI>") is
 * octet-counted ("27 <34>1 2024-..."), anything else ends at a newline
 * (LF, a CR before it dropped) -- so plain lines that start with a number
 * and a space are not mistaken for counts.  UDP: one
 * datagram is one message (a trailing newline dropped).
 *
 * Limits (docs/syslog.md): a message longer than max_message is cut there
 * (newline framing: the rest up to the newline is dropped; octet
 * counting: the rest of the counted bytes) and counted in truncated (its
 * flags say LS_NETIN_CUT); an octet-counted frame that its connection's
 * close cut short is delivered as it is, LS_NETIN_BROKEN, counted in
 * broken; at
 * most max_conns TCP connections (more are accepted and closed at once,
 * counted in refused); a queue of queue_cap messages -- when it is full the
 * thread stops reading TCP connections (the kernel's flow control pushes
 * back on the senders) and drops UDP datagrams (counted in dropped).
 *
 * Threads: one listener thread per ls_netin; ls_netin_take and
 * ls_netin_stats from one consumer thread at a time.
 */
#ifndef LS_ACTORS_NETIN_H
#define LS_ACTORS_NETIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct ls_netin ls_netin;

typedef struct ls_netin_cfg {
	const char *listen;   /* tcp://HOST:PORT or udp://HOST:PORT */
	size_t max_message;   /* bytes, >= 16 */
	size_t max_conns;
	size_t queue_cap;     /* messages */
} ls_netin_cfg;

typedef struct ls_netin_stats {
	uint64_t received, truncated, refused, dropped, connections, broken;
} ls_netin_stats;

/* What ls_netin_take says of a message. */
enum {
	LS_NETIN_CUT = 1,    /* longer than max_message: these are its first
	                        max_message bytes */
	LS_NETIN_BROKEN = 2  /* an octet-counted frame the connection's close
	                        cut short (count header included) */
};

/* Parse "tcp://HOST:PORT" / "udp://HOST:PORT" (HOST an IPv4 address, a
 * name, or empty/"*" for all addresses).  0, or 1 with a reason
 * (ls_topo_check_fn). */
int ls_netin_check_listen(const char *v, char *why, size_t whylen);

/* Bind and start listening.  0, or LS_EINVAL / LS_EIO with the reason in
 * err (address in use, no such host, ...). */
int ls_netin_open(const ls_netin_cfg *cfg, ls_netin **out, char *err,
    size_t errlen);

/* The port bound (useful with port 0). */
int ls_netin_port(const ls_netin *n);

/* Call fn for up to max queued messages (borrowed during the call) with
 * their LS_NETIN_* flags, in arrival order per connection; returns how
 * many. */
typedef void (*ls_netin_fn)(void *arg, const char *msg, size_t len,
    int flags);
size_t ls_netin_take(ls_netin *n, size_t max, ls_netin_fn fn, void *arg);

void ls_netin_stats_get(ls_netin *n, ls_netin_stats *st);

/* Stop the thread, close every socket, free (NULL is fine). */
void ls_netin_close(ls_netin *n);

/* ---- framing (exposed for tests and the fuzz driver) ---- */

/* One TCP connection's framing state. */
typedef struct ls_framer {
	int skipping;      /* dropping the rest of an over-long message */
	uint64_t skip_n;   /* octet counting: bytes still to drop (0: to LF) */
} ls_framer;

/* Find the next message in buf[0..len) for a connection in state f.
 * Returns 1 with the message at buf[*off .. *off + *mlen) (*trunc set
 * when it was cut at max) and *used bytes consumed; 0 when more input is
 * needed (*used bytes may still be consumed: dropped bytes).  Never reads
 * outside buf[0..len). */
int ls_framer_next(ls_framer *f, const char *buf, size_t len, size_t max,
    size_t *off, size_t *mlen, size_t *used, int *trunc);

#endif /* LS_ACTORS_NETIN_H */
