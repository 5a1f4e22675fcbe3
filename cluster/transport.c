/*
 * transport.c -- node-to-node transport over nng: one pull0 listener per
 * node, one push0 dialer per peer, envelopes batched into Frames, credit
 * windows counted in frames.  See transport.h and docs/cluster.md.
 *
 * Frame header (envelope 0 of every frame, type LS_MSG_CREDIT):
 *
 *   field    value
 *   -------  --------------------------------------------------------------
 *   from     sending node id
 *   to       destination node id
 *   epoch    sender's incarnation (random, fixed for the transport's life)
 *   seq      sender's session towards this destination (bumped whenever
 *            the sender restarts its frame count: reconnect, peer restart)
 *   payload  24 bytes, little endian:
 *              0  u64  destination incarnation the credit refers to
 *              8  u64  destination session the credit refers to
 *             16  u64  data frames consumed from that (incarnation, session)
 *
 * A sender may keep `window_frames` data frames unacknowledged per peer; an
 * acknowledgement counts only when it names the sender's current incarnation
 * and session, so credit is never inflated by stale reports.
 */
#include "cluster/transport.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/tls/tls.h>

#include "runtime/err.h"
#include "runtime/hash.h"
#include "runtime/le.h"
#include "runtime/log.h"

#define HDR_PAYLOAD 24u
#define HDR_MAX (HDR_PAYLOAD + LS_TRANSPORT_MAX_HELLO)
#define REFRESH_TICKS 50u /* resend credit to every known sender this often */
#define WRITABLE_PER_TICK 64 /* writable reports one tick makes at most */
/* Room a frame needs besides one envelope's payload (header envelope with
 * a hello, the FlatBuffers framing): a payload up to max_frame_bytes minus
 * this goes alone in a frame. */
#define ENV_FRAME_SLACK (64u * 1024u)

/* One queued envelope; the payload lives in the peer's payload buffer. */
typedef struct pend_env {
	uint16_t type;
	uint64_t from, to, epoch, seq;
	size_t off, len;
} pend_env;

typedef struct peer {
	uint64_t id;
	char *url;
	nng_socket sock;
	nng_dialer dialer;
	pthread_mutex_t mu;
	atomic_int pipes;     /* live connections of the dialer */
	atomic_int restarted; /* a pipe was added: restart the session */

	/* Outbound (under mu). */
	pend_env *q;
	size_t qhead, qlen, qcap;
	uint8_t *pb;
	size_t pb_len, pb_cap;
	size_t pending_bytes;
	ls_envelope *scratch; /* batch_max_envs + 1 */
	uint64_t session, sent, acked;
	uint64_t remote_inc; /* peer's incarnation, from its headers */
	int need_hello;
	int est; /* the peer has answered our current (incarnation, session) */

	/* Inbound bookkeeping: this peer as a sender to us (under mu). */
	uint64_t rx_inc, rx_session, consumed, reported;
	int credit_dirty;
	/* Credit withheld (ls_transport_pause): while rx_paused > 0, frames
	 * from this peer are counted in uncredited instead of consumed. */
	uint32_t rx_paused;
	uint64_t uncredited;
	int refused; /* a send was refused since the last writable report */
} peer;

#define REFUSED_URLS 32 /* mismatched peer URLs remembered (logged once) */

struct ls_transport {
	ls_transport_config cfg;
	char *url;
	/* TLS (cfg.tls copied): the files, and the listener's configuration. */
	char *tls_ca, *tls_cert, *tls_key;
	ls_tls_files tls;
	int tls_on;
	nng_tls_config *srv_tls;
	pthread_mutex_t refused_mu;
	uint64_t refused_urls[REFUSED_URLS];
	size_t nrefused;
	uint64_t inc;
	nng_socket pull;
	nng_listener listener;
	int listening;

	pthread_rwlock_t plock; /* the peer table */
	peer **peers;
	size_t npeers, cap;

	pthread_t rx_thr, tick_thr;
	int rx_started, tick_started;
	pthread_mutex_t tick_mu;
	pthread_cond_t tick_cv;
	int stop;
	atomic_int rx_stop; /* the receive thread leaves at its next timeout */

	uint8_t hello[LS_TRANSPORT_MAX_HELLO]; /* cfg.hello_info, copied */
	uint8_t *rxbuf; /* aligned copy of a frame, receive thread only */
	size_t rxcap;

	_Atomic uint64_t frames_sent, envs_sent, bytes_sent;
	_Atomic uint64_t frames_recv, envs_recv, bytes_recv;
	_Atomic uint64_t credit_frames_sent, refused, malformed, unknown, lost;
};

static void
ctr_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static uint64_t
ctr_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c,
	                            memory_order_relaxed);
}


/* ---- URLs ---- */

int
ls_transport_url_check(const char *url)
{
	if (url == NULL)
		return LS_EINVAL;
	if (strncmp(url, "ipc://", 6) == 0)
		return url[6] != '\0' ? LS_OK : LS_EINVAL;
	const char *hp;
	if (strncmp(url, "tcp://", 6) == 0)
		hp = url + 6;
	else if (strncmp(url, "tls+tcp://", 10) == 0)
		hp = url + 10;
	else
		return LS_EINVAL;
	const char *colon = strrchr(hp, ':');
	if (colon == NULL || colon == hp || colon[1] == '\0')
		return LS_EINVAL;
	if (hp[0] == '[' && colon[-1] != ']')
		return LS_EINVAL;
	unsigned long port = 0;
	for (const char *c = colon + 1; *c != '\0'; c++) {
		if (*c < '0' || *c > '9')
			return LS_EINVAL;
		port = port * 10 + (unsigned long)(*c - '0');
		if (port > 65535)
			return LS_EINVAL;
	}
	for (const char *c = hp; c < colon; c++)
		if (*c == '/' || *c == ' ')
			return LS_EINVAL;
	return LS_OK;
}

int
ls_transport_url_is_tls(const char *url)
{
	return url != NULL && strncmp(url, "tls+tcp://", 10) == 0;
}

/* The host of a checked tls+tcp:// URL (brackets removed) into buf. */
static int
url_host(const char *url, char *buf, size_t cap)
{
	const char *hp = strstr(url, "://") + 3;
	const char *colon = strrchr(hp, ':');
	if (hp[0] == '[') {
		hp++;
		colon--;
	}
	size_t n = (size_t)(colon - hp);
	if (n == 0 || n >= cap)
		return LS_EINVAL;
	memcpy(buf, hp, n);
	buf[n] = '\0';
	return LS_OK;
}

/* LS_OK when url's scheme matches the transport's TLS setting; else
 * LS_ENOTSUP, logged the first time for each URL. */
static int
scheme_agrees(ls_transport *t, const char *url)
{
	if (strncmp(url, "ipc://", 6) == 0 ||
	    ls_transport_url_is_tls(url) == t->tls_on)
		return LS_OK;
	uint64_t h = ls_hash64(url, strlen(url), 0x7363686dU);
	int seen = 0;
	pthread_mutex_lock(&t->refused_mu);
	for (size_t i = 0; i < t->nrefused && !seen; i++)
		seen = t->refused_urls[i] == h;
	if (!seen)
		t->refused_urls[t->nrefused++ % REFUSED_URLS] = h;
	if (t->nrefused > REFUSED_URLS)
		t->nrefused = REFUSED_URLS;
	pthread_mutex_unlock(&t->refused_mu);
	if (!seen)
		ls_log(LS_LOG_WARN, "transport",
		       "peer refused url=%s reason=%s", url,
		       t->tls_on ? "\"plaintext peer, this node requires TLS "
		                   "(tls+tcp://)\""
		                 : "\"TLS peer, this node has no --tls-ca/"
		                   "--tls-cert/--tls-key\"");
	return LS_ENOTSUP;
}

/* ---- sending (peer->mu held) ---- */

static void
peer_restart_session(ls_transport *t, peer *p)
{
	if (p->sent > p->acked)
		ctr_add(&t->lost, p->sent - p->acked);
	p->session++;
	p->sent = p->acked = 0;
	p->need_hello = 1;
	p->est = 0;
}

static void
fill_header(ls_transport *t, peer *p, ls_envelope *h, uint8_t *pl)
{
	ls_le_put(pl, p->rx_inc, 8);
	ls_le_put(pl + 8, p->rx_session, 8);
	ls_le_put(pl + 16, p->consumed, 8);
	memset(h, 0, sizeof(*h));
	h->type = LS_MSG_CREDIT;
	h->from = t->cfg.node_id;
	h->to = p->id;
	h->epoch = t->inc;
	h->seq = p->session;
	h->payload = pl;
	h->payload_len = HDR_PAYLOAD;
	/* Until the peer answers, it may not know us: say who we are. */
	if (!p->est && t->cfg.hello_len > 0) {
		memcpy(pl + HDR_PAYLOAD, t->hello, t->cfg.hello_len);
		h->payload_len += (uint32_t)t->cfg.hello_len;
	}
}

/* Encode scratch[0..n-1] and send it without blocking; 0 on success.  The
 * counters move before the send so that nobody sees data arrive before it
 * is counted as sent (they are taken back if the send fails). */
static int
send_frame(ls_transport *t, peer *p, size_t n)
{
	ls_buf b = {NULL, 0};
	if (ls_codec_frame_encode(p->scratch, n, &b) != 0)
		return -1;
	nng_msg *m;
	if (nng_msg_alloc(&m, b.len) != 0) {
		ls_buf_free(&b);
		return -1;
	}
	memcpy(nng_msg_body(m), b.data, b.len);
	uint64_t len = b.len;
	ls_buf_free(&b);
	if (n > 1) {
		ctr_add(&t->frames_sent, 1);
		ctr_add(&t->envs_sent, n - 1);
		ctr_add(&t->bytes_sent, len);
	} else {
		ctr_add(&t->credit_frames_sent, 1);
	}
	if (nng_sendmsg(p->sock, m, NNG_FLAG_NONBLOCK) != 0) {
		nng_msg_free(m);
		if (n > 1) {
			ctr_add(&t->frames_sent, (uint64_t)-1);
			ctr_add(&t->envs_sent, (uint64_t)-(n - 1));
			ctr_add(&t->bytes_sent, (uint64_t)-len);
		} else {
			ctr_add(&t->credit_frames_sent, (uint64_t)-1);
		}
		return -1;
	}
	return 0;
}

static void
peer_compact(peer *p)
{
	if (p->qhead == 0)
		return;
	if (p->qhead == p->qlen) {
		p->qhead = p->qlen = 0;
		p->pb_len = 0;
		return;
	}
	size_t base = p->q[p->qhead].off;
	size_t n = p->qlen - p->qhead;
	memmove(p->q, p->q + p->qhead, n * sizeof(*p->q));
	for (size_t i = 0; i < n; i++)
		p->q[i].off -= base;
	memmove(p->pb, p->pb + base, p->pb_len - base);
	p->pb_len -= base;
	p->qhead = 0;
	p->qlen = n;
}

/* Send pending data as far as credit allows, then a header-only frame when
 * credit is owed or a hello is due. */
static void
peer_flush(ls_transport *t, peer *p)
{
	uint8_t pl[HDR_MAX];
	if (atomic_exchange(&p->restarted, 0))
		peer_restart_session(t, p);
	if (atomic_load(&p->pipes) <= 0)
		return;
	const ls_transport_config *c = &t->cfg;
	while (p->est && p->qhead < p->qlen &&
	       p->sent - p->acked < c->window_frames) {
		fill_header(t, p, &p->scratch[0], pl);
		size_t n = 0, pbytes = 0;
		while (p->qhead + n < p->qlen && n < c->batch_max_envs) {
			const pend_env *e = &p->q[p->qhead + n];
			if (n > 0 && pbytes + e->len > c->batch_max_bytes)
				break;
			ls_envelope *o = &p->scratch[n + 1];
			o->type = e->type;
			o->from = e->from;
			o->to = e->to;
			o->epoch = e->epoch;
			o->seq = e->seq;
			o->payload = e->len ? p->pb + e->off : NULL;
			o->payload_len = e->len;
			pbytes += e->len;
			n++;
		}
		if (send_frame(t, p, n + 1) != 0)
			break;
		p->qhead += n;
		p->pending_bytes -= pbytes;
		p->sent++;
		p->need_hello = 0;
		p->reported = p->consumed;
		p->credit_dirty = 0;
	}
	peer_compact(p);
	if (p->need_hello || p->credit_dirty) {
		fill_header(t, p, &p->scratch[0], pl);
		if (send_frame(t, p, 1) == 0) {
			p->need_hello = 0;
			p->credit_dirty = 0;
			p->reported = p->consumed;
		}
	}
}

/* 1 when a sender refused since the last report should hear that p has
 * room again (half of its pending bounds free); clears the mark.  mu held. */
static int
peer_take_writable(const ls_transport *t, peer *p)
{
	const ls_transport_config *c = &t->cfg;
	if (!p->refused || p->qlen - p->qhead > c->max_pending_envs / 2 ||
	    p->pending_bytes > c->max_pending_bytes / 2)
		return 0;
	p->refused = 0;
	return 1;
}

static void
fire_writable(ls_transport *t, uint64_t node)
{
	if (t->cfg.writable_fn != NULL)
		t->cfg.writable_fn(t->cfg.recv_arg, node);
}

/* ---- peer table ---- */

static peer *
find_peer(ls_transport *t, uint64_t id)
{
	for (size_t i = 0; i < t->npeers; i++)
		if (t->peers[i]->id == id)
			return t->peers[i];
	return NULL;
}

/* Pipe events may run on nng's reaper thread after nng_close() returned, so
 * the callback finds its peer through a process-wide registry keyed by
 * socket id; a peer leaves it before its socket closes. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static peer **reg;
static size_t reg_n, reg_cap;

static int
reg_add(peer *p)
{
	pthread_mutex_lock(&reg_mu);
	if (reg_n == reg_cap) {
		size_t nc = reg_cap ? 2 * reg_cap : 16;
		peer **nr = realloc(reg, nc * sizeof(*nr));
		if (nr == NULL) {
			pthread_mutex_unlock(&reg_mu);
			return -1;
		}
		reg = nr;
		reg_cap = nc;
	}
	reg[reg_n++] = p;
	pthread_mutex_unlock(&reg_mu);
	return 0;
}

static void
reg_remove(peer *p)
{
	pthread_mutex_lock(&reg_mu);
	for (size_t i = 0; i < reg_n; i++) {
		if (reg[i] == p) {
			reg[i] = reg[--reg_n];
			break;
		}
	}
	if (reg_n == 0) {
		free(reg);
		reg = NULL;
		reg_cap = 0;
	}
	pthread_mutex_unlock(&reg_mu);
}

static void
pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	(void)arg;
	int sid = nng_socket_id(nng_pipe_socket(pipe));
	pthread_mutex_lock(&reg_mu);
	for (size_t i = 0; i < reg_n; i++) {
		peer *p = reg[i];
		if (nng_socket_id(p->sock) != sid)
			continue;
		if (ev == NNG_PIPE_EV_ADD_POST) {
			atomic_store(&p->restarted, 1);
			atomic_fetch_add(&p->pipes, 1);
		} else if (ev == NNG_PIPE_EV_REM_POST) {
			atomic_fetch_sub(&p->pipes, 1);
		}
		break;
	}
	pthread_mutex_unlock(&reg_mu);
}

static void
peer_free(peer *p)
{
	if (p == NULL)
		return;
	reg_remove(p);
	nng_close(p->sock);
	pthread_mutex_destroy(&p->mu);
	free(p->url);
	free(p->q);
	free(p->pb);
	free(p->scratch);
	free(p);
}

/* A TLS dialer requires the peer's certificate, signed by the CA and
 * naming the URL's host. */
static int
dialer_tls(ls_transport *t, nng_dialer d, const char *url)
{
	if (!t->tls_on)
		return LS_OK;
	char host[256], err[512];
	nng_tls_config *c = NULL;
	int rv = url_host(url, host, sizeof(host));
	if (rv == 0)
		rv = ls_tls_nng_config(&t->tls, 0, host, &c, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "transport", "peer url=%s tls=\"%s\"",
		       url, rv == LS_EINVAL ? "bad host" : err);
		return rv;
	}
	rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c) != 0 ? LS_EIO : 0;
	nng_tls_config_free(c); /* the dialer holds its own reference */
	return rv;
}

int
ls_transport_peer_add(ls_transport *t, uint64_t node_id, const char *url)
{
	if (t == NULL || node_id == 0 || node_id == t->cfg.node_id)
		return LS_EINVAL;
	int rc = ls_transport_url_check(url);
	if (rc == 0)
		rc = scheme_agrees(t, url);
	if (rc != 0)
		return rc;
	pthread_rwlock_rdlock(&t->plock);
	int known = find_peer(t, node_id) != NULL;
	pthread_rwlock_unlock(&t->plock);
	if (known)
		return LS_EEXIST;
	peer *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return LS_ENOMEM;
	p->id = node_id;
	p->url = strdup(url);
	p->scratch = calloc((size_t)t->cfg.batch_max_envs + 1,
	                    sizeof(*p->scratch));
	if (p->url == NULL || p->scratch == NULL) {
		free(p->url);
		free(p->scratch);
		free(p);
		return LS_ENOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->session = 1;
	if (nng_push0_open(&p->sock) != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p->url);
		free(p->scratch);
		free(p);
		return LS_EIO;
	}
	nng_socket_set_int(p->sock, NNG_OPT_SENDBUF,
	                   (int)t->cfg.window_frames + 4);
	nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 10);
	nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 250);
	if (reg_add(p) != 0) {
		peer_free(p);
		return LS_ENOMEM;
	}
	nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, NULL);
	nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST, pipe_cb, NULL);

	pthread_rwlock_wrlock(&t->plock);
	if (find_peer(t, node_id) != NULL) {
		pthread_rwlock_unlock(&t->plock);
		peer_free(p);
		return LS_EEXIST;
	}
	if (t->npeers == t->cap) {
		size_t nc = t->cap ? 2 * t->cap : 8;
		peer **np = realloc(t->peers, nc * sizeof(*np));
		if (np == NULL) {
			pthread_rwlock_unlock(&t->plock);
			peer_free(p);
			return LS_ENOMEM;
		}
		t->peers = np;
		t->cap = nc;
	}
	t->peers[t->npeers++] = p;
	pthread_rwlock_unlock(&t->plock);

	/* Dial in the background: the peer may not be up yet. */
	if (nng_dialer_create(&p->dialer, p->sock, url) != 0 ||
	    dialer_tls(t, p->dialer, url) != 0 ||
	    nng_dialer_start(p->dialer, NNG_FLAG_NONBLOCK) != 0) {
		ls_transport_peer_remove(t, node_id);
		return LS_EIO;
	}
	return LS_OK;
}

int
ls_transport_peer_remove(ls_transport *t, uint64_t node_id)
{
	if (t == NULL)
		return LS_EINVAL;
	pthread_rwlock_wrlock(&t->plock);
	peer *p = NULL;
	for (size_t i = 0; i < t->npeers; i++) {
		if (t->peers[i]->id == node_id) {
			p = t->peers[i];
			t->peers[i] = t->peers[--t->npeers];
			break;
		}
	}
	pthread_rwlock_unlock(&t->plock);
	if (p == NULL)
		return LS_ENOENT;
	int refused = p->refused;
	peer_free(p);
	if (refused)
		fire_writable(t, node_id); /* their retries now fail fast */
	return LS_OK;
}

/* ---- public send side ---- */

static int
grow(void **buf, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	void *nb = realloc(*buf, nc * elem);
	if (nb == NULL)
		return -1;
	*buf = nb;
	*cap = nc;
	return 0;
}

/* Append one envelope to p's pending buffer (room checked).  mu held. */
static int
queue_env(peer *p, const ls_envelope *env)
{
	if (p->qlen == p->qcap || p->pb_len + env->payload_len > p->pb_cap)
		peer_compact(p);
	if (grow((void **)&p->q, &p->qcap, p->qlen + 1, sizeof(*p->q)) != 0 ||
	    grow((void **)&p->pb, &p->pb_cap, p->pb_len + env->payload_len,
	         1) != 0)
		return LS_ENOMEM;
	pend_env *e = &p->q[p->qlen++];
	e->type = env->type;
	e->from = env->from;
	e->to = env->to;
	e->epoch = env->epoch;
	e->seq = env->seq;
	e->off = p->pb_len;
	e->len = env->payload_len;
	if (env->payload_len > 0)
		memcpy(p->pb + p->pb_len, env->payload, env->payload_len);
	p->pb_len += env->payload_len;
	p->pending_bytes += env->payload_len;
	return LS_OK;
}

/* Room for n more envelopes of `bytes` payload bytes. mu held. */
static int
has_room(const ls_transport *t, const peer *p, size_t n, size_t bytes)
{
	const ls_transport_config *c = &t->cfg;
	return p->qlen - p->qhead + n <= c->max_pending_envs &&
	       p->pending_bytes + bytes <= c->max_pending_bytes;
}

/* The largest envelope payload: one that fits alone in a frame under
 * max_frame_bytes, with room for the frame's header envelope and
 * framing. */
static size_t
max_env_bytes(const ls_transport_config *c)
{
	return c->max_frame_bytes > ENV_FRAME_SLACK
	    ? c->max_frame_bytes - ENV_FRAME_SLACK : 0;
}

int
ls_transport_sendv(ls_transport *t, uint64_t node_id,
                   const ls_envelope *envs, size_t n, unsigned flags)
{
	if (t == NULL || (envs == NULL && n > 0))
		return LS_EINVAL;
	const ls_transport_config *c = &t->cfg;
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (envs[i].payload == NULL && envs[i].payload_len > 0)
			return LS_EINVAL;
		/* batch_max_bytes only closes a frame early: a larger
		 * envelope leaves alone in one, so the bound is what a
		 * receiver takes (a checkpoint slice is up to 15 MiB) */
		if (envs[i].payload_len > max_env_bytes(c))
			return LS_ERANGE;
		bytes += envs[i].payload_len;
	}
	int nolimit = (flags & LS_TRANSPORT_NOLIMIT) != 0;
	if (!nolimit &&
	    (n > c->max_pending_envs || bytes > c->max_pending_bytes))
		return LS_ERANGE; /* could never fit */
	int rc = LS_OK;
	pthread_rwlock_rdlock(&t->plock);
	peer *p = find_peer(t, node_id);
	if (p == NULL) {
		pthread_rwlock_unlock(&t->plock);
		return LS_ENOENT;
	}
	pthread_mutex_lock(&p->mu);
	if (!nolimit && !has_room(t, p, n, bytes)) {
		/* Try to make room before refusing. */
		peer_flush(t, p);
		if (!has_room(t, p, n, bytes)) {
			ctr_add(&t->refused, 1);
			p->refused = 1;
			rc = LS_EAGAIN;
			goto out;
		}
	}
	size_t done = 0;
	while (done < n && (rc = queue_env(p, &envs[done])) == LS_OK)
		done++;
	if (rc != LS_OK) {
		/* out of memory part way: take the queued ones back */
		p->qlen -= done;
		for (size_t i = 0; i < done; i++)
			p->pending_bytes -= envs[i].payload_len;
		p->pb_len = p->qlen > 0 ? p->q[p->qlen - 1].off +
		                              p->q[p->qlen - 1].len
		                        : 0;
		goto out;
	}
	if (p->qlen - p->qhead >= c->batch_max_envs ||
	    p->pending_bytes >= c->batch_max_bytes)
		peer_flush(t, p);
out:
	pthread_mutex_unlock(&p->mu);
	pthread_rwlock_unlock(&t->plock);
	return rc;
}

int
ls_transport_send(ls_transport *t, uint64_t node_id, const ls_envelope *env)
{
	if (env == NULL)
		return LS_EINVAL;
	return ls_transport_sendv(t, node_id, env, 1, 0);
}

static int
pause_change(ls_transport *t, uint64_t node_id, int pause)
{
	if (t == NULL)
		return LS_EINVAL;
	pthread_rwlock_rdlock(&t->plock);
	peer *p = find_peer(t, node_id);
	if (p == NULL) {
		pthread_rwlock_unlock(&t->plock);
		return LS_ENOENT;
	}
	pthread_mutex_lock(&p->mu);
	if (pause) {
		p->rx_paused++;
	} else if (p->rx_paused > 0 && --p->rx_paused == 0 &&
	           p->uncredited > 0) {
		p->consumed += p->uncredited;
		p->uncredited = 0;
		p->credit_dirty = 1;
		peer_flush(t, p);
	}
	pthread_mutex_unlock(&p->mu);
	pthread_rwlock_unlock(&t->plock);
	return LS_OK;
}

int
ls_transport_pause(ls_transport *t, uint64_t node_id)
{
	return pause_change(t, node_id, 1);
}

int
ls_transport_resume(ls_transport *t, uint64_t node_id)
{
	return pause_change(t, node_id, 0);
}

int
ls_transport_flush(ls_transport *t)
{
	if (t == NULL)
		return LS_EINVAL;
	pthread_rwlock_rdlock(&t->plock);
	for (size_t i = 0; i < t->npeers; i++) {
		peer *p = t->peers[i];
		pthread_mutex_lock(&p->mu);
		peer_flush(t, p);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_rwlock_unlock(&t->plock);
	return LS_OK;
}

/* ---- receiving ---- */

typedef struct rx_ctx {
	ls_transport *t;
	uint64_t from;
	size_t idx;
	int counted; /* frame belongs to the sender's current session */
	int bad;     /* 1 malformed header, 2 unknown sender */
	size_t len;  /* frame bytes */
} rx_ctx;

/* Apply a frame header from peer p (p->mu held).  Returns 1 when the frame's
 * data counts against the current session. */
static int
apply_header(ls_transport *t, peer *p, const ls_envelope *h)
{
	uint64_t inc_r = ls_le_get(h->payload, 8);
	uint64_t sess_r = ls_le_get(h->payload + 8, 8);
	uint64_t cons = ls_le_get(h->payload + 16, 8);
	int counted = 0;

	/* The peer as a sender to us. */
	if (h->epoch != p->rx_inc || h->seq > p->rx_session) {
		p->rx_inc = h->epoch;
		p->rx_session = h->seq;
		p->consumed = p->reported = 0;
		p->uncredited = 0;
		p->credit_dirty = 1;
		counted = 1;
	} else if (h->seq == p->rx_session) {
		counted = 1;
	}

	/* Us as a sender to the peer. */
	int current = inc_r == t->inc && sess_r == p->session;
	if (h->epoch != p->remote_inc) {
		int knew = p->remote_inc != 0;
		p->remote_inc = h->epoch;
		if (knew || !current) {
			peer_restart_session(t, p);
			current = 0;
		}
	}
	if (current) {
		p->est = 1;
		if (cons > p->sent)
			cons = p->sent;
		if (cons > p->acked)
			p->acked = cons;
	}
	return counted;
}

static int
rx_env(void *arg, const ls_envelope *env)
{
	rx_ctx *x = arg;
	ls_transport *t = x->t;
	if (x->idx++ == 0) {
		if (env->type != LS_MSG_CREDIT ||
		    env->payload_len < HDR_PAYLOAD ||
		    env->payload_len > HDR_MAX ||
		    env->to != t->cfg.node_id || env->epoch == 0) {
			x->bad = 1;
			return 1;
		}
		x->from = env->from;
		pthread_rwlock_rdlock(&t->plock);
		peer *p = find_peer(t, env->from);
		if (p == NULL) {
			pthread_rwlock_unlock(&t->plock);
			x->bad = 2;
			if (t->cfg.unknown_fn != NULL)
				t->cfg.unknown_fn(t->cfg.recv_arg, env->from,
				    env->payload + HDR_PAYLOAD,
				    env->payload_len - HDR_PAYLOAD);
			return 1;
		}
		pthread_mutex_lock(&p->mu);
		x->counted = apply_header(t, p, env);
		/* New credit may let pending data go. */
		peer_flush(t, p);
		int wr = peer_take_writable(t, p);
		pthread_mutex_unlock(&p->mu);
		pthread_rwlock_unlock(&t->plock);
		if (wr)
			fire_writable(t, env->from);
		return 0;
	}
	/* Counted before delivery, so a counter never lags what was seen. */
	if (x->idx == 2) {
		ctr_add(&t->frames_recv, 1);
		ctr_add(&t->bytes_recv, x->len);
	}
	ctr_add(&t->envs_recv, 1);
	t->cfg.recv_fn(t->cfg.recv_arg, x->from, env);
	return 0;
}

static void
rx_frame(ls_transport *t, const uint8_t *buf, size_t len)
{
	if (len > t->cfg.max_frame_bytes || len == 0) {
		ctr_add(&t->malformed, 1);
		return;
	}
	if (((uintptr_t)buf & (LS_CODEC_ALIGN - 1)) != 0) {
		if (len > t->rxcap) {
			size_t nc = t->rxcap ? t->rxcap : 4096;
			while (nc < len)
				nc *= 2;
			uint8_t *nb = malloc(nc);
			if (nb == NULL) {
				ctr_add(&t->malformed, 1);
				return;
			}
			free(t->rxbuf);
			t->rxbuf = nb;
			t->rxcap = nc;
		}
		memcpy(t->rxbuf, buf, len);
		buf = t->rxbuf;
	}
	rx_ctx x = {t, 0, 0, 0, 0, len};
	int rc = ls_codec_frame_decode(buf, len, rx_env, &x);
	if (x.bad == 2) {
		ctr_add(&t->unknown, 1);
		return;
	}
	if (rc != 0 || x.bad != 0 || x.idx == 0) {
		ctr_add(&t->malformed, 1);
		return;
	}
	if (x.idx == 1 || !x.counted)
		return;
	pthread_rwlock_rdlock(&t->plock);
	peer *p = find_peer(t, x.from);
	if (p != NULL) {
		pthread_mutex_lock(&p->mu);
		if (p->rx_paused > 0) {
			p->uncredited++; /* credited by ls_transport_resume */
		} else {
			p->consumed++;
			p->credit_dirty = 1;
			uint64_t half = t->cfg.window_frames / 2;
			if (half == 0 || p->consumed - p->reported >= half)
				peer_flush(t, p);
		}
		pthread_mutex_unlock(&p->mu);
	}
	pthread_rwlock_unlock(&t->plock);
}

static void *
rx_main(void *arg)
{
	ls_transport *t = arg;
	for (;;) {
		nng_msg *m;
		int rv = nng_recvmsg(t->pull, &m, 0);
		if (rv == 0 && atomic_load(&t->rx_stop))
			nng_msg_free(m);
		if (rv == NNG_ECLOSED || atomic_load(&t->rx_stop))
			break;
		if (rv != 0)
			continue;
		rx_frame(t, nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
	}
	return NULL;
}

static void *
tick_main(void *arg)
{
	ls_transport *t = arg;
	unsigned n = 0;
	pthread_mutex_lock(&t->tick_mu);
	while (!t->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)t->cfg.tick_ms * 1000000L;
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_nsec -= 1000000000L;
			ts.tv_sec++;
		}
		pthread_cond_timedwait(&t->tick_cv, &t->tick_mu, &ts);
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->tick_mu);
		int refresh = ++n % REFRESH_TICKS == 0;
		uint64_t wr[WRITABLE_PER_TICK];
		size_t nwr = 0;
		pthread_rwlock_rdlock(&t->plock);
		for (size_t i = 0; i < t->npeers; i++) {
			peer *p = t->peers[i];
			pthread_mutex_lock(&p->mu);
			if (refresh && p->rx_inc != 0)
				p->credit_dirty = 1;
			if (refresh && !p->est)
				p->need_hello = 1; /* the peer may know us now */
			peer_flush(t, p);
			/* more than fit here are told on the next tick */
			if (nwr < WRITABLE_PER_TICK && peer_take_writable(t, p))
				wr[nwr++] = p->id;
			pthread_mutex_unlock(&p->mu);
		}
		pthread_rwlock_unlock(&t->plock);
		/* outside the table lock: the callback may call back in */
		for (size_t i = 0; i < nwr; i++)
			fire_writable(t, wr[i]);
		pthread_mutex_lock(&t->tick_mu);
	}
	pthread_mutex_unlock(&t->tick_mu);
	return NULL;
}

/* ---- lifecycle ---- */

/* nng 1.5.2 has been seen to wait forever in nng_close() of the pull socket
 * for a pipe that never finishes tearing down.  The pull socket holds no
 * pointer into the transport, so it is closed on a helper thread with a
 * bounded wait; a close still stuck after CLOSE_WAIT_S is left behind and
 * counted (ls_transport_abandoned_closes). */
#define CLOSE_WAIT_S 5

static _Atomic uint64_t abandoned_closes;

typedef struct closer {
	nng_socket s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, detached;
} closer;

static void
closer_free(closer *c)
{
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

static void *
closer_main(void *arg)
{
	closer *c = arg;
	nng_close(c->s);
	pthread_mutex_lock(&c->mu);
	c->done = 1;
	pthread_cond_signal(&c->cv);
	int det = c->detached;
	pthread_mutex_unlock(&c->mu);
	if (det)
		closer_free(c);
	return NULL;
}

static void
close_bounded(nng_socket s)
{
	closer *c = calloc(1, sizeof(*c));
	pthread_t th;
	if (c == NULL) {
		nng_close(s);
		return;
	}
	c->s = s;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&th, NULL, closer_main, c) != 0) {
		closer_free(c);
		nng_close(s);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CLOSE_WAIT_S;
	pthread_mutex_lock(&c->mu);
	while (!c->done &&
	       pthread_cond_timedwait(&c->cv, &c->mu, &ts) != ETIMEDOUT)
		;
	if (c->done) {
		pthread_mutex_unlock(&c->mu);
		pthread_join(th, NULL);
		closer_free(c);
		return;
	}
	c->detached = 1;
	pthread_mutex_unlock(&c->mu);
	pthread_detach(th);
	atomic_fetch_add(&abandoned_closes, 1);
}

uint64_t
ls_transport_abandoned_closes(void)
{
	return atomic_load(&abandoned_closes);
}

static uint64_t
new_incarnation(const ls_transport *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t seed[4] = {(uint64_t)ts.tv_sec, (uint64_t)ts.tv_nsec,
	                    (uint64_t)getpid(), (uint64_t)(uintptr_t)t};
	static _Atomic uint64_t ctr;
	seed[3] ^= atomic_fetch_add(&ctr, 1) << 48;
	uint64_t v = ls_hash64(seed, sizeof(seed), 0x6c73747270u);
	return v ? v : 1;
}

static void
tls_free(ls_transport *t)
{
	if (t->srv_tls != NULL)
		nng_tls_config_free(t->srv_tls);
	free(t->tls_ca);
	free(t->tls_cert);
	free(t->tls_key);
	pthread_mutex_destroy(&t->refused_mu);
}

static int
bound_url(ls_transport *t, const char *url)
{
	if (strncmp(url, "tcp://", 6) == 0 || ls_transport_url_is_tls(url)) {
		const char *colon = strrchr(url, ':');
		if (strcmp(colon, ":0") == 0) {
			int port = 0;
			if (nng_listener_get_int(t->listener,
			                         NNG_OPT_TCP_BOUND_PORT,
			                         &port) != 0)
				return LS_EIO;
			size_t n = (size_t)(colon - url) + 8;
			t->url = malloc(n);
			if (t->url == NULL)
				return LS_ENOMEM;
			snprintf(t->url, n, "%.*s:%d", (int)(colon - url), url,
			         port);
			return LS_OK;
		}
	}
	t->url = strdup(url);
	return t->url ? LS_OK : LS_ENOMEM;
}

int
ls_transport_create(const ls_transport_config *cfg, ls_transport **out)
{
	if (cfg == NULL || out == NULL || cfg->node_id == 0 ||
	    cfg->recv_fn == NULL)
		return LS_EINVAL;
	int rc = ls_transport_url_check(cfg->listen_url);
	if (rc != 0)
		return rc;
	int tls_on = ls_tls_enabled(cfg->tls);
	if (cfg->tls != NULL && !tls_on &&
	    (cfg->tls->ca || cfg->tls->cert || cfg->tls->key))
		return LS_EINVAL;
	if (ls_transport_url_is_tls(cfg->listen_url) != tls_on)
		return LS_ENOTSUP; /* and no TLS over ipc:// */
	ls_transport *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return LS_ENOMEM;
	t->cfg = *cfg;
	ls_transport_config *c = &t->cfg;
	c->listen_url = NULL;
	c->tls = NULL;
	pthread_mutex_init(&t->refused_mu, NULL);
	if (tls_on) {
		t->tls_on = 1;
		t->tls_ca = strdup(cfg->tls->ca);
		t->tls_cert = strdup(cfg->tls->cert);
		t->tls_key = strdup(cfg->tls->key);
		t->tls = (ls_tls_files){t->tls_ca, t->tls_cert, t->tls_key};
		char err[512];
		if (t->tls_ca == NULL || t->tls_cert == NULL ||
		    t->tls_key == NULL ||
		    ls_tls_nng_config(&t->tls, 1, NULL, &t->srv_tls, err,
		                      sizeof(err)) != 0) {
			if (t->tls_key != NULL)
				ls_log(LS_LOG_ERROR, "transport", "tls=\"%s\"",
				       err);
			rc = t->tls_key == NULL ? LS_ENOMEM : LS_EIO;
			tls_free(t);
			free(t);
			return rc;
		}
	}
	if (c->window_frames == 0)
		c->window_frames = 8;
	if (c->batch_max_envs == 0)
		c->batch_max_envs = 4096;
	if (c->batch_max_bytes == 0)
		c->batch_max_bytes = 1u << 20;
	if (c->max_pending_envs == 0)
		c->max_pending_envs = 65536;
	if (c->max_pending_bytes == 0)
		c->max_pending_bytes = 8u << 20;
	if (c->max_frame_bytes == 0)
		c->max_frame_bytes = 16u << 20;
	if (c->tick_ms == 0)
		c->tick_ms = 1;
	if (c->max_frame_bytes > LS_CODEC_MAX_BUF)
		c->max_frame_bytes = LS_CODEC_MAX_BUF;
	if (c->hello_len > LS_TRANSPORT_MAX_HELLO ||
	    (c->hello_len > 0 && c->hello_info == NULL)) {
		free(t);
		return LS_EINVAL;
	}
	if (c->hello_len > 0)
		memcpy(t->hello, c->hello_info, c->hello_len);
	c->hello_info = NULL;
	t->inc = new_incarnation(t);
	pthread_rwlock_init(&t->plock, NULL);
	pthread_mutex_init(&t->tick_mu, NULL);
	pthread_cond_init(&t->tick_cv, NULL);

	rc = LS_EIO;
	if (nng_pull0_open(&t->pull) != 0)
		goto fail_sock;
	/* Twice the accepted size, so that frames a little too large reach us
	 * and are counted; nng drops larger ones by closing the pipe. */
	nng_socket_set_size(t->pull, NNG_OPT_RECVMAXSZ,
	                    (size_t)c->max_frame_bytes * 2);
	nng_socket_set_ms(t->pull, NNG_OPT_RECVTIMEO, 20);
	if (nng_listener_create(&t->listener, t->pull, cfg->listen_url) != 0 ||
	    (t->srv_tls != NULL &&
	     nng_listener_set_ptr(t->listener, NNG_OPT_TLS_CONFIG,
	                          t->srv_tls) != 0) ||
	    nng_listener_start(t->listener, 0) != 0)
		goto fail;
	t->listening = 1;
	rc = bound_url(t, cfg->listen_url);
	if (rc != 0)
		goto fail;
	rc = LS_EIO;
	if (pthread_create(&t->rx_thr, NULL, rx_main, t) != 0)
		goto fail;
	t->rx_started = 1;
	if (pthread_create(&t->tick_thr, NULL, tick_main, t) != 0)
		goto fail;
	t->tick_started = 1;
	*out = t;
	return LS_OK;
fail:
	ls_transport_destroy(t);
	return rc;
fail_sock:
	pthread_rwlock_destroy(&t->plock);
	pthread_mutex_destroy(&t->tick_mu);
	pthread_cond_destroy(&t->tick_cv);
	tls_free(t);
	free(t);
	return rc;
}

void
ls_transport_destroy(ls_transport *t)
{
	if (t == NULL)
		return;
	if (t->tick_started) {
		pthread_mutex_lock(&t->tick_mu);
		t->stop = 1;
		pthread_cond_signal(&t->tick_cv);
		pthread_mutex_unlock(&t->tick_mu);
		pthread_join(t->tick_thr, NULL);
	}
	/* Our dialers first, then the listener, then the socket: closing a
	 * socket whose endpoints are still negotiating is where nng 1.5
	 * has been seen to stall. */
	pthread_rwlock_wrlock(&t->plock);
	peer **ps = t->peers;
	size_t n = t->npeers;
	t->peers = NULL;
	t->npeers = t->cap = 0;
	pthread_rwlock_unlock(&t->plock);
	for (size_t i = 0; i < n; i++)
		peer_free(ps[i]);
	free(ps);
	if (t->listening)
		nng_listener_close(t->listener);
	/* No receive may be pending when the socket closes: nng 1.5 has
	 * been seen to stall in nng_close() otherwise.  The receive thread
	 * polls with a short timeout and leaves. */
	atomic_store(&t->rx_stop, 1);
	if (t->rx_started)
		pthread_join(t->rx_thr, NULL);
	close_bounded(t->pull);
	pthread_rwlock_destroy(&t->plock);
	pthread_mutex_destroy(&t->tick_mu);
	pthread_cond_destroy(&t->tick_cv);
	free(t->rxbuf);
	free(t->url);
	tls_free(t);
	free(t);
}

const char *
ls_transport_url(const ls_transport *t)
{
	return t ? t->url : NULL;
}

void
ls_transport_stats_get(const ls_transport *t, ls_transport_stats *out)
{
	if (t == NULL || out == NULL)
		return;
	out->frames_sent = ctr_get(&t->frames_sent);
	out->envs_sent = ctr_get(&t->envs_sent);
	out->bytes_sent = ctr_get(&t->bytes_sent);
	out->frames_recv = ctr_get(&t->frames_recv);
	out->envs_recv = ctr_get(&t->envs_recv);
	out->bytes_recv = ctr_get(&t->bytes_recv);
	out->credit_frames_sent = ctr_get(&t->credit_frames_sent);
	out->refused = ctr_get(&t->refused);
	out->malformed = ctr_get(&t->malformed);
	out->unknown = ctr_get(&t->unknown);
	out->lost = ctr_get(&t->lost);
}

int
ls_transport_peer_stats_get(ls_transport *t, uint64_t node_id,
                            ls_transport_peer_stats *out)
{
	if (t == NULL || out == NULL)
		return LS_EINVAL;
	pthread_rwlock_rdlock(&t->plock);
	peer *p = find_peer(t, node_id);
	if (p == NULL) {
		pthread_rwlock_unlock(&t->plock);
		return LS_ENOENT;
	}
	pthread_mutex_lock(&p->mu);
	out->pending_envs = (uint32_t)(p->qlen - p->qhead);
	out->pending_bytes = (uint32_t)p->pending_bytes;
	out->in_flight = (uint32_t)(p->sent - p->acked);
	out->connected = atomic_load(&p->pipes) > 0;
	pthread_mutex_unlock(&p->mu);
	pthread_rwlock_unlock(&t->plock);
	return LS_OK;
}
