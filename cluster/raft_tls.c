/*
 * raft_tls.c -- libraft's transport over mutual TLS: a listener and
 * dialer on the loop thread, one thread per connection for the TLS
 * handshake and then the relay.  See raft_tls.h.
 *
 * A connection's life:
 *
 *   loop thread                      connection thread
 *   -----------                      -----------------
 *   accept (uv_poll on the listen    TLS server handshake, read the Raft
 *   socket) or connect request  -->  preamble / TCP connect, TLS client
 *                                    handshake, write the preamble
 *                                    socketpair; post the result
 *   async: uv_pipe_open(one end), <--
 *   accept_cb / connect cb           relay TLS <-> other end until
 *                                    either side closes
 *
 * Until it has posted its result a thread may use the transport (its
 * cancel pipe, the refusal table); the loop counts the results it has not
 * yet seen (tr.pending) and closes the transport only when there are none,
 * so the transport outlives every such use.  After posting, a thread
 * touches only its own connection and the shared, reference-counted TLS
 * identity (the PEM bytes each connection parses for itself, so no mbedtls
 * object is shared between threads).
 *
 * The relay keeps one bounded buffer per direction on non-blocking
 * sockets and sleeps in poll() whenever no side can move: it reads from a
 * side only while its buffer towards the other side is empty.
 */
#include "cluster/raft_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "cluster/tls_int.h"
#include "runtime/err.h"
#include "runtime/le.h"
#include "runtime/log.h"

#define MAX_CONNS      64    /* connection threads of one transport */
#define MAX_HANDSHAKES 16    /* incoming connections in their handshake */
#define HANDSHAKE_MS   5000  /* connect + TLS + preamble */
#define STALL_MS       30000 /* a relay whose output does not move */
#define DRAIN_MS       2000  /* ls_raft_tls_free waits for relays */
#define RETRY_MS       200   /* accept paused after EMFILE and the like */
#define RELAY_BUF      16384
#define MAX_ADDR_FIELD 1024  /* longest address field in a preamble */
#define PREAMBLE       24
#define PROTOCOL       1
#define REFUSED_PEERS  32    /* peers whose refusal was logged */
#define STACK_SIZE     (256 * 1024)

static atomic_int live;

/* The node's TLS identity as PEM bytes (with their NUL, as mbedtls wants
 * them), shared by the transport and its connection threads. */
typedef struct ident {
	pthread_mutex_t mu;
	pthread_cond_t idle; /* threads reached 0 */
	int refs;            /* the transport and each thread */
	int threads;         /* connection threads alive */
	char *pem[3];        /* CA, certificate, key */
	size_t len[3];
} ident;

/* A finished handshake, handed to the loop thread (which frees it). */
typedef struct result {
	struct result *next;
	int server;
	int fd; /* libraft's end of the socketpair; -1 when it failed */
	raft_id id;
	char *address; /* server side: the peer's Raft address */
	struct raft_uv_connect *req;
} result;

typedef struct tr {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	ident *ident;
	raft_id id;
	char *address;
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb close_cb;
	uv_async_t async;
	uv_poll_t poll;
	uv_timer_t retry;
	int lfd;
	int cancel[2]; /* readable once closing */
	bool async_on, poll_on, retry_on;
	int handles; /* poll + retry handles not yet closed */
	bool closing;
	int pending;    /* loop: results not yet processed */
	int handshakes; /* loop: incoming ones among them */

	pthread_mutex_t mu; /* guards the fields below */
	result *done;
	uint64_t refused;
	char refused_peer[REFUSED_PEERS][64];
	size_t refused_next;
} tr;

typedef struct conn {
	tr *tr; /* until the result is posted */
	ident *ident;
	result *res; /* until posted */
	int server;
	int fd;   /* TCP */
	int pair; /* our end of the socketpair */
	int cancel_fd;
	char host[256]; /* client: the name the server's certificate has */
	char port[16];
	char peer[64]; /* for the log: peer IP (server) or address */
	unsigned char *hello; /* client: the preamble to send */
	size_t hello_len;
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca, crt;
	mbedtls_pk_context key;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
} conn;

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the shared identity ---- */

static void
ident_release(ident *id)
{
	pthread_mutex_lock(&id->mu);
	int last = --id->refs == 0;
	pthread_mutex_unlock(&id->mu);
	if (!last)
		return;
	for (int i = 0; i < 3; i++) {
		if (id->pem[i] != NULL)
			mbedtls_platform_zeroize(id->pem[i], id->len[i]);
		free(id->pem[i]);
	}
	pthread_cond_destroy(&id->idle);
	pthread_mutex_destroy(&id->mu);
	free(id);
}

static int
ident_new(const ls_tls_files *f, ident **out, char *err, size_t errlen)
{
	const char *path[3] = {f->ca, f->cert, f->key};
	ident *id = calloc(1, sizeof(*id));
	if (id == NULL)
		return LS_ENOMEM;
	pthread_mutex_init(&id->mu, NULL);
	pthread_cond_init(&id->idle, NULL);
	id->refs = 1;
	for (int i = 0; i < 3; i++) {
		id->pem[i] = ls__tls_slurp(path[i], &id->len[i]);
		if (id->pem[i] == NULL) {
			int e = errno;
			if (err != NULL)
				snprintf(err, errlen, "%s: %s", path[i],
				         strerror(e));
			ident_release(id);
			return e == ENOMEM ? LS_ENOMEM : LS_EIO;
		}
		id->len[i]++; /* mbedtls parses PEM with its NUL */
	}
	*out = id;
	return LS_OK;
}

/* ---- refusals: counted, logged once per peer ---- */

static void
refuse(tr *t, const char *peer, const char *why, bool quiet)
{
	bool first = !quiet;
	pthread_mutex_lock(&t->mu);
	uint64_t n = ++t->refused;
	for (size_t i = 0; i < REFUSED_PEERS && first; i++)
		if (strcmp(t->refused_peer[i], peer) == 0)
			first = false;
	if (first) {
		snprintf(t->refused_peer[t->refused_next], 64, "%s", peer);
		t->refused_next = (t->refused_next + 1) % REFUSED_PEERS;
	}
	pthread_mutex_unlock(&t->mu);
	if (first)
		ls_log(LS_LOG_WARN, "raft",
		       "Raft connection refused, later ones from this peer "
		       "are only counted peer=%s reason=\"%s\" refused=%llu",
		       peer, why, (unsigned long long)n);
}

/* mbedtls's reason for rv (and the certificate check's, if that failed)
 * into buf. */
static const char *
tls_reason(conn *c, int rv, char *buf, size_t cap)
{
	mbedtls_strerror(rv, buf, cap);
	uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
	if (rv == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 &&
	    flags != (uint32_t)-1) {
		size_t n = strlen(buf);
		if (n + 3 < cap) {
			memcpy(buf + n, ": ", 3);
			mbedtls_x509_crt_verify_info(buf + n + 2, cap - n - 2,
			                             "", flags);
		}
	}
	for (char *p = buf; *p != '\0'; p++) /* one line, no quotes */
		if (*p == '\n' || *p == '"')
			*p = *p == '\n' && p[1] == '\0' ? '\0' : ' ';
	return buf;
}

/* ---- a connection's TLS session ---- */

static int
bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	conn *c = ctx;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return errno == EPIPE || errno == ECONNRESET
	           ? MBEDTLS_ERR_NET_CONN_RESET
	           : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	conn *c = ctx;
	ssize_t n = recv(c->fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
	                           : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* mbedtls objects for c from the PEM bytes; an mbedtls code. */
static int
tls_setup(conn *c)
{
	static const char pers[] = "logstream raft";
	ident *id = c->ident;
	int rv;

	if ((rv = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func,
	                                &c->ent, (const unsigned char *)pers,
	                                sizeof(pers) - 1)) != 0 ||
	    (rv = mbedtls_x509_crt_parse(&c->ca, (const unsigned char *)
	                                 id->pem[0], id->len[0])) != 0 ||
	    (rv = mbedtls_x509_crt_parse(&c->crt, (const unsigned char *)
	                                 id->pem[1], id->len[1])) != 0 ||
	    (rv = mbedtls_pk_parse_key(&c->key, (const unsigned char *)
	                               id->pem[2], id->len[2], NULL, 0)) != 0 ||
	    (rv = mbedtls_ssl_config_defaults(&c->conf,
	          c->server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
	          MBEDTLS_SSL_TRANSPORT_STREAM,
	          MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
		return rv;
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3); /* 1.2 */
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	if ((rv = mbedtls_ssl_conf_own_cert(&c->conf, &c->crt, &c->key)) !=
	        0 ||
	    (rv = mbedtls_ssl_setup(&c->ssl, &c->conf)) != 0 ||
	    (!c->server &&
	     (rv = mbedtls_ssl_set_hostname(&c->ssl, c->host)) != 0))
		return rv;
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return 0;
}

/* Wait until c->fd has one of events, the transport closes or the
 * deadline passes: 0 when ready. */
static int
wait_io(conn *c, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return MBEDTLS_ERR_SSL_TIMEOUT;
		struct pollfd p[2] = {{c->fd, events, 0},
		                      {c->cancel_fd, POLLIN, 0}};
		int n = poll(p, 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || p[1].revents != 0)
			return MBEDTLS_ERR_SSL_TIMEOUT; /* or closing */
		if (n > 0)
			return 0;
	}
}

/* After an mbedtls call returned rv: 0 to call it again (the socket is
 * ready), else the error. */
static int
again(conn *c, int rv, int64_t deadline)
{
	if (rv == MBEDTLS_ERR_SSL_WANT_READ)
		return wait_io(c, POLLIN, deadline);
	if (rv == MBEDTLS_ERR_SSL_WANT_WRITE)
		return wait_io(c, POLLOUT, deadline);
	return rv != 0 ? rv : MBEDTLS_ERR_SSL_CONN_EOF;
}

static int
handshake(conn *c, int64_t deadline)
{
	int rv;
	while ((rv = mbedtls_ssl_handshake(&c->ssl)) != 0)
		if ((rv = again(c, rv, deadline)) != 0)
			return rv;
	return 0;
}

/* All len bytes read into buf (out == 0) or written from it (out == 1)
 * by the deadline: 0, else the mbedtls error. */
static int
tls_exact(conn *c, int out, unsigned char *buf, size_t len,
          int64_t deadline)
{
	while (len > 0) {
		int rv = out ? mbedtls_ssl_write(&c->ssl, buf, len)
		             : mbedtls_ssl_read(&c->ssl, buf, len);
		if (rv > 0) {
			buf += rv;
			len -= (size_t)rv;
		} else if ((rv = again(c, rv, deadline)) != 0)
			return rv;
	}
	return 0;
}

static void
tcp_options(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Client: a TCP connection to c->host:c->port by the deadline; 0 or an
 * errno-like code. */
static int
dial(conn *c, int64_t deadline)
{
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(c->host, c->port, &hints, &ai) != 0 || ai == NULL)
		return EHOSTUNREACH;
	int e = ECONNREFUSED;
	for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family,
		                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		c->fd = fd;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 &&
		    errno != EINPROGRESS)
			e = errno;
		else if (wait_io(c, POLLOUT, deadline) != 0)
			e = ETIMEDOUT;
		else {
			socklen_t sl = sizeof(e);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
				e = errno;
		}
		if (e == 0) {
			tcp_options(fd);
			break;
		}
		close(fd);
		c->fd = -1;
	}
	freeaddrinfo(ai);
	return e;
}

/* Server: the Raft preamble, into c->res; 0, an mbedtls code, or -1 when
 * it is not a well-formed one. */
static int
read_preamble(conn *c, int64_t deadline)
{
	unsigned char h[PREAMBLE];
	int rv = tls_exact(c, 0, h, sizeof(h), deadline);
	if (rv != 0)
		return rv;
	uint64_t n = ls_le_get(h + 16, 8);
	if (ls_le_get(h, 8) != PROTOCOL || ls_le_get(h + 8, 8) == 0 || n == 0 ||
	    n > MAX_ADDR_FIELD)
		return -1;
	char *a = malloc((size_t)n + 1);
	if (a == NULL)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	if ((rv = tls_exact(c, 0, (unsigned char *)a, (size_t)n,
	                    deadline)) != 0) {
		free(a);
		return rv;
	}
	a[n] = '\0';
	if (memchr(a, '\0', (size_t)n) == NULL || a[0] == '\0') {
		free(a);
		return -1;
	}
	c->res->id = ls_le_get(h + 8, 8);
	c->res->address = a;
	return 0;
}

/* ---- the relay ---- */

typedef struct half {
	unsigned char buf[RELAY_BUF];
	size_t len, off;
} half;

/* Bytes both ways between the TLS session and the socketpair until one
 * side ends (then what the other side still has to say is delivered) or
 * output stalls for STALL_MS. */
static void
relay(conn *c)
{
	half *down = malloc(sizeof(half)); /* TLS -> libraft */
	half *up = malloc(sizeof(half));   /* libraft -> TLS */
	bool net_end = false, raft_end = false, net_hup = false,
	     raft_hup = false;
	if (down == NULL || up == NULL)
		goto out;
	down->len = down->off = up->len = up->off = 0;
	for (;;) {
		short net_ev = 0, raft_ev = 0;
		bool moved = false;
		int rv;
		ssize_t n;

		if (!net_end && down->len == 0) {
			rv = mbedtls_ssl_read(&c->ssl, down->buf, RELAY_BUF);
			if (rv > 0) {
				down->len = (size_t)rv;
				down->off = 0;
				moved = true;
			} else if (rv == MBEDTLS_ERR_SSL_WANT_READ)
				net_ev |= POLLIN;
			else if (rv == MBEDTLS_ERR_SSL_WANT_WRITE)
				net_ev |= POLLOUT;
			else
				net_end = true; /* close_notify, EOF, error */
		}
		if (down->len > 0 && !raft_end) {
			n = send(c->pair, down->buf + down->off,
			         down->len - down->off, MSG_NOSIGNAL);
			if (n > 0) {
				down->off += (size_t)n;
				if (down->off == down->len)
					down->len = down->off = 0;
				moved = true;
			} else if (n < 0 && (errno == EAGAIN ||
			                     errno == EINTR))
				raft_ev |= POLLOUT;
			else
				raft_end = true;
		}
		if (!raft_end && up->len == 0) {
			n = recv(c->pair, up->buf, RELAY_BUF, 0);
			if (n > 0) {
				up->len = (size_t)n;
				up->off = 0;
				moved = true;
			} else if (n < 0 && (errno == EAGAIN ||
			                     errno == EINTR))
				raft_ev |= POLLIN;
			else
				raft_end = true;
		}
		if (up->len > 0 && !net_end) {
			rv = mbedtls_ssl_write(&c->ssl, up->buf + up->off,
			                       up->len - up->off);
			if (rv > 0) {
				up->off += (size_t)rv;
				if (up->off == up->len)
					up->len = up->off = 0;
				moved = true;
			} else if (rv == MBEDTLS_ERR_SSL_WANT_WRITE)
				net_ev |= POLLOUT;
			else if (rv == MBEDTLS_ERR_SSL_WANT_READ)
				net_ev |= POLLIN;
			else
				net_end = true;
		}
		if (raft_end)
			down->len = down->off = 0; /* nobody to read it */
		if (net_end)
			up->len = up->off = 0;
		if ((net_end && down->len == 0) || (raft_end && up->len == 0))
			break;
		if (moved)
			continue;
		/* A side that hung up is no longer polled (poll would report
		 * it at once, whatever was asked); its calls fail or end
		 * without waiting. */
		struct pollfd p[2] = {{net_hup ? -1 : c->fd, net_ev, 0},
		                      {raft_hup ? -1 : c->pair, raft_ev, 0}};
		if (p[0].fd < 0 && p[1].fd < 0)
			break; /* both hung up: nothing left to wait for */
		int pending = down->len > 0 || up->len > 0;
		int r = poll(p, 2, pending ? STALL_MS : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* stalled */
		if (p[0].revents & (POLLHUP | POLLERR))
			net_hup = true;
		if (p[1].revents & (POLLHUP | POLLERR))
			raft_hup = true;
	}
	if (!net_end)
		(void)mbedtls_ssl_close_notify(&c->ssl); /* best effort */
out:
	free(down);
	free(up);
}

/* ---- the connection thread ---- */

static void
conn_free(conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->pair >= 0)
		close(c->pair);
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_pk_free(&c->key);
	mbedtls_x509_crt_free(&c->crt);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->ent);
	if (c->res != NULL) {
		free(c->res->address);
		free(c->res);
	}
	free(c->hello);
	free(c);
}

/* Hand the result to the loop thread; c->tr is not used after this. */
static void
post(conn *c)
{
	tr *t = c->tr;
	result *r = c->res;
	c->res = NULL;
	c->tr = NULL;
	pthread_mutex_lock(&t->mu);
	r->next = t->done;
	t->done = r;
	uv_async_send(&t->async); /* under mu: t is alive until processed */
	pthread_mutex_unlock(&t->mu);
}

static void *
conn_main(void *arg)
{
	conn *c = arg;
	int64_t deadline = now_ms() + HANDSHAKE_MS;
	char why[200] = "";
	int rv = tls_setup(c);
	ident *id = c->ident;

	if (rv != 0)
		tls_reason(c, rv, why, sizeof(why));
	else if (!c->server && (rv = dial(c, deadline)) != 0)
		why[0] = '\0'; /* a peer that is down: raft retries */
	else if ((rv = handshake(c, deadline)) != 0)
		tls_reason(c, rv, why, sizeof(why));
	else if (c->server && (rv = read_preamble(c, deadline)) != 0) {
		if (rv == -1)
			snprintf(why, sizeof(why), "not a Raft preamble");
		else
			tls_reason(c, rv, why, sizeof(why));
	}
	else if (!c->server &&
	         (rv = tls_exact(c, 1, c->hello, c->hello_len, deadline)) != 0)
		tls_reason(c, rv, why, sizeof(why));
	if (rv == 0) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) !=
		        0 ||
		    fcntl(sv[1], F_SETFL, O_NONBLOCK) != 0) {
			snprintf(why, sizeof(why), "socketpair: %s",
			         strerror(errno));
			rv = -1;
		} else {
			c->res->fd = sv[0];
			c->pair = sv[1];
		}
	}
	if (rv != 0 && why[0] != '\0') {
		int closing;
		pthread_mutex_lock(&c->tr->mu); /* no log for our own close */
		closing = c->tr->closing;
		pthread_mutex_unlock(&c->tr->mu);
		/* a peer that went away mid-handshake (a node stopping) is
		 * counted, not logged */
		if (!closing)
			refuse(c->tr, c->peer, why,
			       rv == MBEDTLS_ERR_NET_CONN_RESET ||
			           rv == MBEDTLS_ERR_SSL_CONN_EOF);
	}
	post(c);
	if (rv == 0)
		relay(c);
	conn_free(c);
	pthread_mutex_lock(&id->mu);
	if (--id->threads == 0)
		pthread_cond_broadcast(&id->idle);
	pthread_mutex_unlock(&id->mu);
	ident_release(id);
	atomic_fetch_sub(&live, 1);
	return NULL;
}

/* A new connection thread (server: fd accepted from peer; client: req to
 * host:port).  LS_OK, or LS_EAGAIN over the limit, LS_ENOMEM. */
static int
conn_spawn(tr *t, int server, int fd, const char *peer, const char *host,
           const char *port, struct raft_uv_connect *req)
{
	conn *c = calloc(1, sizeof(*c));
	result *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t th;

	if (c == NULL || r == NULL) {
		free(c);
		free(r);
		return LS_ENOMEM;
	}
	c->tr = t;
	c->ident = t->ident;
	c->res = r;
	c->server = server;
	c->fd = fd;
	c->pair = -1;
	c->cancel_fd = t->cancel[0];
	r->server = server;
	r->fd = -1;
	r->req = req;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	mbedtls_entropy_init(&c->ent);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->crt);
	mbedtls_pk_init(&c->key);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_ssl_init(&c->ssl);
	if (!server) {
		size_t alen = strlen(t->address) + 1;
		size_t field = (alen + 7) / 8 * 8;
		snprintf(c->host, sizeof(c->host), "%s", host);
		snprintf(c->port, sizeof(c->port), "%s", port);
		c->hello_len = PREAMBLE + field;
		c->hello = calloc(1, c->hello_len);
		if (c->hello == NULL) {
			c->fd = -1;
			conn_free(c);
			return LS_ENOMEM;
		}
		ls_le_put(c->hello, PROTOCOL, 8);
		ls_le_put(c->hello + 8, t->id, 8);
		ls_le_put(c->hello + 16, field, 8);
		memcpy(c->hello + PREAMBLE, t->address, alen);
	}

	ident *id = t->ident;
	pthread_mutex_lock(&id->mu);
	if (id->threads >= MAX_CONNS) {
		pthread_mutex_unlock(&id->mu);
		c->fd = -1;
		conn_free(c);
		return LS_EAGAIN;
	}
	id->threads++;
	id->refs++;
	pthread_mutex_unlock(&id->mu);
	atomic_fetch_add(&live, 1);

	int rv = pthread_attr_init(&attr);
	if (rv == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, STACK_SIZE);
		rv = pthread_create(&th, &attr, conn_main, c);
		pthread_attr_destroy(&attr);
	}
	if (rv != 0) {
		atomic_fetch_sub(&live, 1);
		pthread_mutex_lock(&id->mu);
		id->threads--;
		id->refs--;
		pthread_mutex_unlock(&id->mu);
		c->fd = -1;
		conn_free(c);
		return LS_ENOMEM;
	}
	t->pending++;
	if (server)
		t->handshakes++;
	return LS_OK;
}

/* ---- the loop thread ---- */

static void async_closed(uv_handle_t *h);

static void
maybe_closed(tr *t)
{
	if (t->closing && t->pending == 0 && t->handles == 0 && t->async_on) {
		t->async_on = false;
		uv_close((uv_handle_t *)&t->async, async_closed);
	}
}

static void
async_closed(uv_handle_t *h)
{
	tr *t = h->data;
	if (t->close_cb != NULL)
		t->close_cb(t->t);
}

/* libraft's end of a connection as a uv stream (raft_malloc'd: libraft
 * frees it with raft_free after uv_close); NULL on failure (fd closed). */
static uv_stream_t *
open_stream(tr *t, int fd)
{
	uv_pipe_t *p = raft_malloc(sizeof(*p));
	if (p == NULL) {
		close(fd);
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	if (uv_pipe_init(t->loop, p, 0) != 0) {
		raft_free(p);
		close(fd);
		return NULL;
	}
	if (uv_pipe_open(p, fd) != 0) {
		close(fd);
		uv_close((uv_handle_t *)p, (uv_close_cb)raft_free);
		return NULL;
	}
	return (uv_stream_t *)p;
}

static void
async_cb(uv_async_t *a)
{
	tr *t = a->data;
	pthread_mutex_lock(&t->mu);
	result *list = t->done;
	t->done = NULL;
	pthread_mutex_unlock(&t->mu);

	while (list != NULL) {
		result *r = list;
		list = r->next;
		t->pending--;
		if (r->server)
			t->handshakes--;
		uv_stream_t *s = NULL;
		if (r->fd >= 0 && t->closing)
			close(r->fd);
		else if (r->fd >= 0)
			s = open_stream(t, r->fd);
		if (r->server && s != NULL)
			t->accept_cb(t->t, r->id, r->address, s);
		else if (!r->server)
			r->req->cb(r->req, s,
			           s != NULL     ? 0
			           : t->closing ? RAFT_CANCELED
			                        : RAFT_NOCONNECTION);
		free(r->address);
		free(r);
	}
	maybe_closed(t);
}

static void
ensure_async(tr *t)
{
	if (!t->async_on && uv_async_init(t->loop, &t->async, async_cb) == 0) {
		t->async.data = t;
		t->async_on = true;
	}
}

static void listen_cb(uv_poll_t *p, int status, int events);

static void
retry_cb(uv_timer_t *timer)
{
	tr *t = timer->data;
	if (!t->closing)
		uv_poll_start(&t->poll, UV_READABLE, listen_cb);
}

static void
listen_cb(uv_poll_t *p, int status, int events)
{
	tr *t = p->data;
	(void)status;
	(void)events;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(t->lfd, (struct sockaddr *)&ss, &sl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* out of descriptors: pause, do not spin */
				uv_poll_stop(&t->poll);
				uv_timer_start(&t->retry, retry_cb, RETRY_MS, 0);
			}
			return;
		}
		char ip[64] = "?";
		(void)getnameinfo((struct sockaddr *)&ss, sl, ip, sizeof(ip),
		                  NULL, 0, NI_NUMERICHOST);
		tcp_options(fd);
		int rc = t->handshakes >= MAX_HANDSHAKES
		             ? LS_EAGAIN
		             : conn_spawn(t, 1, fd, ip, NULL, NULL, NULL);
		if (rc != LS_OK) {
			refuse(t, ip,
			       rc == LS_EAGAIN ? "too many connections"
			                       : "out of memory",
			       false);
			close(fd);
		}
	}
}

static void
handle_closed(uv_handle_t *h)
{
	tr *t = h->data;
	if (h == (uv_handle_t *)&t->poll && t->lfd >= 0) {
		close(t->lfd);
		t->lfd = -1;
	}
	t->handles--;
	maybe_closed(t);
}

/* ---- the raft_uv_transport methods ---- */

static int
tr_init(struct raft_uv_transport *transport, raft_id id,
        const char *address)
{
	tr *t = transport->impl;
	t->id = id;
	free(t->address);
	t->address = strdup(address);
	return t->address == NULL ? RAFT_NOMEM : 0;
}

/* host and port of "host:port" or "[v6]:port"; 0, or -1 when malformed. */
static int
split_address(const char *a, char *host, size_t hcap, char *port,
              size_t pcap)
{
	const char *colon = strrchr(a, ':');
	if (colon == NULL || colon == a || colon[1] == '\0' ||
	    strlen(colon + 1) >= pcap)
		return -1;
	const char *h = a;
	size_t hl = (size_t)(colon - a);
	if (a[0] == '[' && colon[-1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hcap)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int
tr_listen(struct raft_uv_transport *transport, raft_uv_accept_cb cb)
{
	tr *t = transport->impl;
	char host[256], port[16];
	struct addrinfo hints, *ai = NULL;
	int one = 1;

	t->accept_cb = cb;
	ensure_async(t);
	if (!t->async_on)
		return RAFT_NOMEM;
	if (t->address == NULL ||
	    split_address(t->address, host, sizeof(host), port,
	                  sizeof(port)) != 0) {
		snprintf(transport->errmsg, RAFT_ERRMSG_BUF_SIZE,
		         "bad Raft address");
		return RAFT_INVALID;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
		snprintf(transport->errmsg, RAFT_ERRMSG_BUF_SIZE,
		         "cannot resolve %.200s", host);
		return RAFT_IOERR;
	}
	int fd = socket(ai->ai_family,
	                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
		snprintf(transport->errmsg, RAFT_ERRMSG_BUF_SIZE,
		         "cannot listen on %.100s: %.60s", t->address,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return RAFT_IOERR;
	}
	freeaddrinfo(ai);
	if (uv_poll_init_socket(t->loop, &t->poll, fd) != 0) {
		close(fd);
		return RAFT_IOERR;
	}
	t->lfd = fd;
	t->poll.data = t;
	t->poll_on = true;
	t->handles++;
	uv_timer_init(t->loop, &t->retry);
	t->retry.data = t;
	t->retry_on = true;
	t->handles++;
	uv_poll_start(&t->poll, UV_READABLE, listen_cb);
	return 0;
}

static int
tr_connect(struct raft_uv_transport *transport, struct raft_uv_connect *req,
           raft_id id, const char *address, raft_uv_connect_cb cb)
{
	tr *t = transport->impl;
	char host[256], port[16];
	(void)id;

	if (t->closing)
		return RAFT_CANCELED;
	ensure_async(t);
	if (!t->async_on)
		return RAFT_NOMEM;
	if (split_address(address, host, sizeof(host), port, sizeof(port)) !=
	    0)
		return RAFT_NOCONNECTION;
	req->cb = cb;
	int rc = conn_spawn(t, 0, -1, address, host, port, req);
	return rc == LS_OK        ? 0
	       : rc == LS_ENOMEM ? RAFT_NOMEM
	                         : RAFT_NOCONNECTION;
}

static void
tr_close(struct raft_uv_transport *transport, raft_uv_transport_close_cb cb)
{
	tr *t = transport->impl;
	t->close_cb = cb;
	pthread_mutex_lock(&t->mu);
	t->closing = true;
	pthread_mutex_unlock(&t->mu);
	ssize_t w = write(t->cancel[1], "x", 1); /* wakes every handshake */
	(void)w;
	if (t->poll_on) {
		t->poll_on = false;
		uv_poll_stop(&t->poll);
		uv_close((uv_handle_t *)&t->poll, handle_closed);
	}
	if (t->retry_on) {
		t->retry_on = false;
		uv_timer_stop(&t->retry);
		uv_close((uv_handle_t *)&t->retry, handle_closed);
	}
	ensure_async(t); /* so that cb runs from the loop, never in here */
	maybe_closed(t);
}

/* ---- public ---- */

int
ls_raft_tls_init(struct raft_uv_transport *transport, struct uv_loop_s *loop,
                 const ls_tls_files *f, char *err, size_t errlen)
{
	if (transport == NULL || loop == NULL || !ls_tls_enabled(f)) {
		if (err != NULL)
			snprintf(err, errlen, "TLS files not set");
		return LS_EINVAL;
	}
	tr *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return LS_ENOMEM;
	int rc = ident_new(f, &t->ident, err, errlen);
	if (rc != LS_OK) {
		free(t);
		return rc;
	}
	if (pipe2(t->cancel, O_CLOEXEC | O_NONBLOCK) != 0) {
		ident_release(t->ident);
		free(t);
		return LS_EIO;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->t = transport;
	t->loop = loop;
	t->lfd = -1;
	memset(transport, 0, sizeof(*transport));
	transport->impl = t;
	transport->init = tr_init;
	transport->listen = tr_listen;
	transport->connect = tr_connect;
	transport->close = tr_close;
	return LS_OK;
}

void
ls_raft_tls_free(struct raft_uv_transport *transport)
{
	if (transport == NULL || transport->impl == NULL)
		return;
	tr *t = transport->impl;
	ident *id = t->ident;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DRAIN_MS / 1000;
	pthread_mutex_lock(&id->mu);
	while (id->threads > 0 &&
	       pthread_cond_timedwait(&id->idle, &id->mu, &until) == 0)
		;
	pthread_mutex_unlock(&id->mu);
	ident_release(id);
	if (t->lfd >= 0)
		close(t->lfd);
	close(t->cancel[0]);
	close(t->cancel[1]);
	free(t->address);
	pthread_mutex_destroy(&t->mu);
	free(t);
	transport->impl = NULL;
}

uint64_t
ls_raft_tls_refused(struct raft_uv_transport *transport)
{
	if (transport == NULL || transport->impl == NULL)
		return 0;
	tr *t = transport->impl;
	pthread_mutex_lock(&t->mu);
	uint64_t n = t->refused;
	pthread_mutex_unlock(&t->mu);
	return n;
}

int
ls__raft_tls_live(void)
{
	return atomic_load(&live);
}
