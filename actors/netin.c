/*
 * netin.c -- TCP / UDP listener with RFC 6587 framing (see netin.h).
 */
#include "actors/netin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/err.h"

#define UDP_MAX 65536
#define POLL_MS 50

/* ---- framing ---- */

int
ls_framer_next(ls_framer *f, const char *buf, size_t len, size_t max,
    size_t *off, size_t *mlen, size_t *used, int *trunc)
{
	*used = 0;
	*trunc = 0;
	if (f->skipping) {
		if (f->skip_n > 0) {
			size_t n = f->skip_n < len ? (size_t)f->skip_n : len;
			f->skip_n -= n;
			*used = n;
			f->skipping = f->skip_n > 0;
			return 0;
		}
		const char *nl = memchr(buf, '\n', len);
		*used = nl != NULL ? (size_t)(nl - buf) + 1 : len;
		f->skipping = nl == NULL;
		return 0;
	}
	if (len == 0)
		return 0;
	/* octet counting: digits, a space, that many bytes */
	size_t i = 0;
	uint64_t count = 0;
	while (i < len && i < 10 && buf[i] >= '0' && buf[i] <= '9')
		count = count * 10 + (uint64_t)(buf[i++] - '0');
	if (i > 0 && i == len && i < 10)
		return 0; /* the count may go on */
	/* RFC 6587: MSG-LEN SP SYSLOG-MSG, and a syslog message starts with
	 * "<PRI>" -- a plain line that starts with a number and a space
	 * ("081109 203615 ...") is newline framed */
	if (i > 0 && i < len && buf[i] == ' ' && count > 0 && i + 1 == len)
		return 0; /* is a '<' next? */
	if (i > 0 && i + 1 < len && buf[i] == ' ' && count > 0 &&
	    buf[i + 1] == '<') {
		size_t hdr = i + 1;
		size_t want = count > max ? max : (size_t)count;
		if (len - hdr < want)
			return 0;
		*off = hdr;
		*mlen = want;
		*used = hdr + want;
		if (count > max) {
			*trunc = 1;
			f->skipping = 1;
			f->skip_n = count - max;
		}
		/* some senders end a counted frame with a newline too */
		while (*mlen > 0 && (buf[*off + *mlen - 1] == '\n' ||
		                        buf[*off + *mlen - 1] == '\r'))
			(*mlen)--;
		return 1;
	}
	/* newline framing */
	size_t scan = len < max + 1 ? len : max + 1;
	const char *nl = memchr(buf, '\n', scan);
	if (nl != NULL) {
		*off = 0;
		*mlen = (size_t)(nl - buf);
		if (*mlen > 0 && buf[*mlen - 1] == '\r')
			(*mlen)--;
		*used = (size_t)(nl - buf) + 1;
		return 1;
	}
	if (len > max) {
		*off = 0;
		*mlen = max;
		*used = max;
		*trunc = 1;
		f->skipping = 1;
		f->skip_n = 0;
		return 1;
	}
	return 0;
}

/* buf starts like an octet-counted frame: digits, a space, '<'. */
static int
counted_frame(const char *buf, size_t len)
{
	size_t i = 0;
	while (i < len && i < 10 && buf[i] >= '0' && buf[i] <= '9')
		i++;
	return i > 0 && i + 1 < len && buf[i] == ' ' && buf[i + 1] == '<';
}

/* ---- listener ---- */

typedef struct conn {
	int fd;
	ls_framer fr;
	char *buf;
	size_t len;
	int pending; /* framed messages wait in buf for room in the queue */
} conn;

typedef struct qmsg {
	char *p;
	size_t len;
	int flags; /* LS_NETIN_CUT, LS_NETIN_BROKEN */
} qmsg;

struct ls_netin {
	ls_netin_cfg cfg;
	int udp;
	int lfd;
	int port;
	int wake[2];
	pthread_t thread;
	_Atomic int stop;
	conn *conns;
	size_t nconns;
	pthread_mutex_t lock; /* the queue and the stats */
	qmsg *q;
	size_t head, n;
	ls_netin_stats st;
};

/* Parse the URL into a socket address.  0 or 1 with a reason. */
static int
parse_listen(const char *v, int *udp, struct sockaddr_in *sa, char *why,
    size_t whylen)
{
	const char *rest;
	if (strncmp(v, "tcp://", 6) == 0) {
		*udp = 0;
		rest = v + 6;
	} else if (strncmp(v, "udp://", 6) == 0) {
		*udp = 1;
		rest = v + 6;
	} else {
		snprintf(why, whylen, "'%s' is not tcp://HOST:PORT or "
		    "udp://HOST:PORT", v);
		return 1;
	}
	const char *colon = strrchr(rest, ':');
	char host[256];
	if (colon == NULL || (size_t)(colon - rest) >= sizeof(host)) {
		snprintf(why, whylen, "'%s' has no :PORT", v);
		return 1;
	}
	memcpy(host, rest, (size_t)(colon - rest));
	host[colon - rest] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535) {
		snprintf(why, whylen, "'%s': the port must be 0 to 65535", v);
		return 1;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (host[0] == '\0' || strcmp(host, "*") == 0) {
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL) {
		snprintf(why, whylen, "'%s': unknown host %s", v, host);
		return 1;
	}
	sa->sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	freeaddrinfo(ai);
	return 0;
}

int
ls_netin_check_listen(const char *v, char *why, size_t whylen)
{
	int udp;
	struct sockaddr_in sa;
	return parse_listen(v, &udp, &sa, why, whylen);
}

/* Queue a copy of msg (lock held) with its LS_NETIN_* flags; 0, or -1
 * when full or out of memory. */
static int
enqueue(ls_netin *n, const char *msg, size_t len, int flags)
{
	if (n->n == n->cfg.queue_cap)
		return -1;
	char *p = malloc(len ? len : 1);
	if (p == NULL)
		return -1;
	memcpy(p, msg, len);
	n->q[(n->head + n->n) % n->cfg.queue_cap] = (qmsg){ p, len, flags };
	n->n++;
	n->st.received++;
	if (flags & LS_NETIN_CUT)
		n->st.truncated++;
	if (flags & LS_NETIN_BROKEN)
		n->st.broken++;
	return 0;
}

static int
queue_full(ls_netin *n)
{
	pthread_mutex_lock(&n->lock);
	int full = n->n == n->cfg.queue_cap;
	pthread_mutex_unlock(&n->lock);
	return full;
}

static void
conn_close(ls_netin *n, size_t i)
{
	close(n->conns[i].fd);
	free(n->conns[i].buf);
	n->conns[i] = n->conns[--n->nconns];
}

/* Read what connection i has; 0, or -1 when it closed. */
static int
conn_read(ls_netin *n, size_t i)
{
	conn *c = &n->conns[i];
	size_t cap = n->cfg.max_message + 32;
	ssize_t r = -1;
	errno = EAGAIN;
	if (c->len < cap && !c->pending)
		r = read(c->fd, c->buf + c->len, cap - c->len);
	if (r < 0 && (errno == EINTR || errno == EAGAIN) && c->len == 0)
		return 0;
	int closed = r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN);
	if (r > 0)
		c->len += (size_t)r;
	size_t start = 0;
	c->pending = 0;
	pthread_mutex_lock(&n->lock);
	for (;;) {
		size_t off, mlen, used;
		int trunc;
		int got = ls_framer_next(&c->fr, c->buf + start, c->len - start,
		    n->cfg.max_message, &off, &mlen, &used, &trunc);
		if (got && enqueue(n, c->buf + start + off, mlen,
		               trunc ? LS_NETIN_CUT : 0) != 0) {
			c->pending = 1; /* full: the rest waits in the buffer */
			break;
		}
		start += used;
		if (!got && used == 0)
			break;
	}
	if (closed && start < c->len && !c->fr.skipping &&
	    n->n < n->cfg.queue_cap) {
		/* the last message of a connection may lack its newline; an
		 * octet-counted frame cut short by the close is broken */
		size_t len = c->len - start;
		if (len > n->cfg.max_message)
			len = n->cfg.max_message;
		while (len > 0 && c->buf[start + len - 1] == '\r')
			len--;
		if (len > 0)
			enqueue(n, c->buf + start, len,
			    counted_frame(c->buf + start, len) ? LS_NETIN_BROKEN
			                                       : 0);
		start = c->len;
	}
	pthread_mutex_unlock(&n->lock);
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	return closed ? -1 : 0;
}

static void
accept_one(ls_netin *n)
{
	int fd = accept(n->lfd, NULL, NULL);
	if (fd < 0)
		return;
	pthread_mutex_lock(&n->lock);
	int refuse = n->nconns >= n->cfg.max_conns;
	if (refuse)
		n->st.refused++;
	else
		n->st.connections++;
	pthread_mutex_unlock(&n->lock);
	char *buf = refuse ? NULL : malloc(n->cfg.max_message + 32);
	if (buf == NULL) {
		close(fd);
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	n->conns[n->nconns++] = (conn){ fd, { 0, 0 }, buf, 0, 0 };
}

static void
udp_read(ls_netin *n, char *buf)
{
	for (int k = 0; k < 64; k++) {
		ssize_t r = recv(n->lfd, buf, UDP_MAX, MSG_DONTWAIT);
		if (r < 0)
			return;
		size_t len = (size_t)r, keep = len;
		while (keep > 0 && (buf[keep - 1] == '\n' || buf[keep - 1] == '\r'))
			keep--;
		int trunc = keep > n->cfg.max_message;
		if (trunc)
			keep = n->cfg.max_message;
		pthread_mutex_lock(&n->lock);
		if (enqueue(n, buf, keep, trunc ? LS_NETIN_CUT : 0) != 0)
			n->st.dropped++;
		pthread_mutex_unlock(&n->lock);
	}
}

static void *
listener(void *arg)
{
	ls_netin *n = arg;
	struct pollfd *pf = calloc(n->cfg.max_conns + 2, sizeof(*pf));
	char *ubuf = n->udp ? malloc(UDP_MAX) : NULL;
	if (pf == NULL || (n->udp && ubuf == NULL)) {
		free(pf);
		free(ubuf);
		return NULL;
	}
	while (!atomic_load(&n->stop)) {
		int full = queue_full(n);
		/* messages left in a buffer when the queue was full */
		for (size_t i = n->nconns; !full && i > 0; i--)
			if (n->conns[i - 1].pending &&
			    conn_read(n, i - 1) != 0)
				conn_close(n, i - 1);
		full = full || queue_full(n);
		size_t np = 0;
		pf[np++] = (struct pollfd){ n->wake[0], POLLIN, 0 };
		pf[np++] = (struct pollfd){ n->lfd,
			(short)(n->udp && full ? 0 : POLLIN), 0 };
		if (!full)
			for (size_t i = 0; i < n->nconns; i++)
				pf[np++] = (struct pollfd){ n->conns[i].fd, POLLIN,
					0 };
		if (poll(pf, np, POLL_MS) <= 0)
			continue;
		if (pf[0].revents)
			break;
		if (pf[1].revents & POLLIN) {
			if (n->udp)
				udp_read(n, ubuf);
			else
				accept_one(n);
		}
		/* connections from the end: conn_close moves the last one */
		for (size_t k = np; k > 2; k--) {
			size_t i = k - 3;
			if (pf[k - 1].revents != 0 && conn_read(n, i) != 0)
				conn_close(n, i);
		}
	}
	free(pf);
	free(ubuf);
	return NULL;
}

int
ls_netin_open(const ls_netin_cfg *cfg, ls_netin **out, char *err,
    size_t errlen)
{
	struct sockaddr_in sa;
	int udp;
	if (parse_listen(cfg->listen, &udp, &sa, err, errlen) != 0)
		return LS_EINVAL;
	if (cfg->max_message < 16 || cfg->queue_cap == 0) {
		snprintf(err, errlen, "max_message < 16 or an empty queue");
		return LS_EINVAL;
	}
	ls_netin *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return LS_ENOMEM;
	}
	n->cfg = *cfg;
	n->udp = udp;
	n->wake[0] = n->wake[1] = -1;
	n->q = calloc(cfg->queue_cap, sizeof(*n->q));
	n->conns = calloc(cfg->max_conns ? cfg->max_conns : 1,
	    sizeof(*n->conns));
	n->lfd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
	    0);
	int one = 1;
	int rv = LS_EIO;
	if (n->q == NULL || n->conns == NULL || n->lfd < 0) {
		snprintf(err, errlen, "%s", n->lfd < 0 ? strerror(errno)
		                                       : "out of memory");
		goto fail;
	}
	setsockopt(n->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (udp) {
		int rcv = 4 << 20; /* room for bursts */
		setsockopt(n->lfd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	}
	if (bind(n->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (!udp && listen(n->lfd, 128) != 0)) {
		snprintf(err, errlen, "%s: %s", cfg->listen, strerror(errno));
		goto fail;
	}
	socklen_t sl = sizeof(sa);
	getsockname(n->lfd, (struct sockaddr *)&sa, &sl);
	n->port = ntohs(sa.sin_port);
	if (pipe2(n->wake, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&n->lock, NULL);
	if (pthread_create(&n->thread, NULL, listener, n) != 0) {
		pthread_mutex_destroy(&n->lock);
		snprintf(err, errlen, "cannot start the listener thread");
		goto fail;
	}
	*out = n;
	return 0;
fail:
	if (n->lfd >= 0)
		close(n->lfd);
	if (n->wake[0] >= 0) {
		close(n->wake[0]);
		close(n->wake[1]);
	}
	free(n->q);
	free(n->conns);
	free(n);
	return rv;
}

int
ls_netin_port(const ls_netin *n)
{
	return n->port;
}

size_t
ls_netin_take(ls_netin *n, size_t max, ls_netin_fn fn, void *arg)
{
	size_t got = 0;
	while (got < max) {
		pthread_mutex_lock(&n->lock);
		if (n->n == 0) {
			pthread_mutex_unlock(&n->lock);
			break;
		}
		qmsg m = n->q[n->head];
		n->head = (n->head + 1) % n->cfg.queue_cap;
		n->n--;
		pthread_mutex_unlock(&n->lock);
		fn(arg, m.p, m.len, m.flags);
		free(m.p);
		got++;
	}
	return got;
}

void
ls_netin_stats_get(ls_netin *n, ls_netin_stats *st)
{
	pthread_mutex_lock(&n->lock);
	*st = n->st;
	pthread_mutex_unlock(&n->lock);
}

void
ls_netin_close(ls_netin *n)
{
	if (n == NULL)
		return;
	atomic_store(&n->stop, 1);
	ssize_t w = write(n->wake[1], "x", 1);
	(void)w;
	pthread_join(n->thread, NULL);
	for (size_t i = 0; i < n->nconns; i++) {
		close(n->conns[i].fd);
		free(n->conns[i].buf);
	}
	for (size_t i = 0; i < n->n; i++)
		free(n->q[(n->head + i) % n->cfg.queue_cap].p);
	close(n->lfd);
	close(n->wake[0]);
	close(n->wake[1]);
	pthread_mutex_destroy(&n->lock);
	free(n->q);
	free(n->conns);
	free(n);
}
