/*
 * coord.c -- the coordinator: a libraft 0.15 server (libuv I/O; libraft's
 * TCP transport, or the mutual TLS one of cluster/raft_tls.h when the node
 * has TLS files) on its own loop thread, whose state machine is the
 * cluster map.
 *
 * Other threads talk to the loop through mutex-protected queues of
 * proposals and membership requests and a uv_async wake-up; the loop
 * publishes what they may read (the map, the leader, the configuration,
 * the stop flag) under the same mutex.  A 50 ms timer on the loop polls
 * raft_leader()/raft_state()/the configuration and reports changes.
 *
 * Membership requests: the caller queues a request and waits on a
 * condition variable until the loop thread has tried to start it (so the
 * refusals -- not leader, busy, already a member -- come back as return
 * values); raft then finishes it through change_cb.  At most one change is
 * in flight (c->pending).  Adding a server as a standby or a voter takes two
 * raft changes (raft_add makes a spare, raft_assign gives the role): the
 * second starts on the loop's next turn after the first commits, outside
 * raft's own callback.
 */
#include "cluster/coord.h"
#include "cluster/raft_tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "runtime/err.h"
#include "runtime/log.h"

#define LEADER_POLL_MS 50

typedef struct op {
	struct op *next;
	void *buf; /* raft_malloc'd command bytes */
	size_t len;
	ls_coord_done_cb done;
	void *arg;
} op;

typedef struct preq {
	struct raft_apply req;
	ls_coord_done_cb done;
	void *arg;
} preq;

/* Where a waiting caller of a membership call finds the loop's answer
 * (on the caller's stack; guarded by ls_coord.mu). */
typedef struct answer {
	bool ready;
	int rc;
} answer;

enum { MREQ_ADD, MREQ_REMOVE };

/* A membership request: queued by the caller, owned by the loop thread
 * from then on; c->pending while raft works on it. */
typedef struct mreq {
	struct mreq *next;
	ls_coord *owner;
	int kind;
	uint64_t id;
	char address[LS_COORD_MAX_ADDRESS + 1]; /* "" when not given */
	int role;      /* raft role wanted (MREQ_ADD) */
	int then_role; /* role to assign once raft_add commits, or -1 */
	bool step_due; /* raft_add committed, raft_assign not started yet */
	ls_coord_done_cb done;
	void *arg;
	answer *waiter; /* NULL for a request made on the loop thread */
	struct raft_change change;
} mreq;

struct ls_coord {
	uint64_t id;
	char *dir;
	char address[LS_COORD_MAX_ADDRESS + 1];
	ls_coord_map_cb on_map;
	ls_coord_leader_cb on_leader;
	void *cb_arg;

	uv_loop_t loop;
	uv_async_t async;
	uv_timer_t timer;
	struct raft_uv_transport transport;
	bool tls; /* transport is cluster/raft_tls.h's, not raft_uv_tcp */
	struct raft_io io;
	struct raft_fsm fsm;
	struct raft raft;
	pthread_t thread;
	bool closing;  /* loop thread only */
	mreq *pending; /* loop thread only: the change raft works on */

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t answered;
	ls_map *map;
	uint64_t leader_id;
	char leader_addr[LS_COORD_MAX_ADDRESS + 1];
	bool is_leader;
	bool stopping;
	op *head;
	op *tail;
	mreq *mhead;
	mreq *mtail;
	ls_coord_member *members; /* the configuration as last published */
	size_t n_members;
};

/* The coordinator whose loop runs on this thread (or which is starting on
 * it), so that membership calls from callbacks do not wait on themselves. */
static _Thread_local ls_coord *loop_self;

static int
from_raft(int rv)
{
	switch (rv) {
	case 0:
		return LS_OK;
	case RAFT_NOMEM:
		return LS_ENOMEM;
	case RAFT_NOTLEADER:
	case RAFT_LEADERSHIPLOST:
		return LS_ESTATE;
	case RAFT_SHUTDOWN:
	case RAFT_CANCELED:
		return LS_ECLOSED;
	case RAFT_TOOBIG:
		return LS_ERANGE;
	case RAFT_BADID:
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS:
	case RAFT_INVALID:
		return LS_EINVAL;
	default:
		return LS_EIO;
	}
}

/* A configuration change's raft status as an LS_* code. */
static int
from_raft_change(int rv)
{
	switch (rv) {
	case RAFT_CANTCHANGE:
		return LS_EBUSY;
	case RAFT_NOCONNECTION:
		return LS_ETIMEDOUT;
	case RAFT_BADROLE:
		return LS_EEXIST;
	case RAFT_NOTFOUND:
	case RAFT_BADID:
		return LS_ENOENT;
	default:
		return from_raft(rv);
	}
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
	if (dst == NULL || cap == 0)
		return;
	size_t n = src != NULL ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- raft's heap ----
 *
 * libraft writes some buffers (block padding of its log segments, message
 * headers) to disk and sockets without initialising every byte.  All of
 * raft's memory therefore comes zeroed: no stale heap bytes leave the
 * process, and memory checkers stay quiet.  The heap is process-wide and
 * installed once, before the first raft object exists. */

static void *
heap_malloc(void *data, size_t size)
{
	(void)data;
	return calloc(1, size ? size : 1);
}

static void
heap_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

static void *
heap_calloc(void *data, size_t nmemb, size_t size)
{
	(void)data;
	return calloc(nmemb, size);
}

static void *
heap_realloc(void *data, void *ptr, size_t size)
{
	(void)data;
	return realloc(ptr, size);
}

static void *
heap_aligned_alloc(void *data, size_t alignment, size_t size)
{
	void *p = NULL;
	(void)data;
	if (posix_memalign(&p, alignment, size ? size : 1) != 0)
		return NULL;
	memset(p, 0, size);
	return p;
}

static void
heap_aligned_free(void *data, size_t alignment, void *ptr)
{
	(void)data;
	(void)alignment;
	free(ptr);
}

static struct raft_heap zeroed_heap = {
    NULL,         heap_malloc,        heap_free,        heap_calloc,
    heap_realloc, heap_aligned_alloc, heap_aligned_free};

static pthread_once_t heap_once = PTHREAD_ONCE_INIT;

static void
install_heap(void)
{
	raft_heap_set(&zeroed_heap);
}

/* ---- the state machine (loop thread) ---- */

/* The raft log stores entries in multiples of 8 bytes, so proposals are
 * padded with zeros.  A command is a MapCommand buffer (schemas/cluster.fbs)
 * whose offsets all lie inside it, so the padding behind it changes nothing:
 * ls_map_apply() gets the whole entry. */
static size_t
padded_len(size_t len)
{
	return (len + 7) & ~(size_t)7;
}

static int
fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	ls_coord *c = fsm->data;
	uint64_t before, after;
	int rc;

	pthread_mutex_lock(&c->mu);
	before = ls_map_epoch(c->map);
	rc = ls_map_apply(c->map, buf->base, buf->len);
	after = ls_map_epoch(c->map);
	pthread_mutex_unlock(&c->mu);
	/* A refused command is a deterministic no-op on every server: the
	 * entry is applied, the refusal goes back to the proposer.  One that
	 * does not even decode is logged (proposals are checked first, so it
	 * came from elsewhere). */
	if (rc == LS_ECORRUPT)
		ls_log(LS_LOG_WARN, "coord",
		    "unparsable map command dropped bytes=%zu", buf->len);
	*result = (void *)(intptr_t)rc;
	if (after != before && c->on_map != NULL)
		c->on_map(c->cb_arg, after);
	return 0;
}

static int
fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	ls_coord *c = fsm->data;
	uint8_t *snap;
	size_t len;
	int rc;

	pthread_mutex_lock(&c->mu);
	rc = ls_map_snapshot(c->map, &snap, &len);
	pthread_mutex_unlock(&c->mu);
	if (rc != LS_OK)
		return RAFT_NOMEM;
	*bufs = raft_malloc(sizeof(**bufs));
	void *copy = raft_malloc(len);
	if (*bufs == NULL || copy == NULL) {
		raft_free(*bufs);
		raft_free(copy);
		free(snap);
		return RAFT_NOMEM;
	}
	memcpy(copy, snap, len);
	free(snap);
	(*bufs)[0].base = copy;
	(*bufs)[0].len = len;
	*n_bufs = 1;
	return 0;
}

static int
fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	ls_coord *c = fsm->data;
	uint64_t epoch;
	int rc;

	pthread_mutex_lock(&c->mu);
	rc = ls_map_restore(c->map, buf->base, buf->len);
	epoch = ls_map_epoch(c->map);
	pthread_mutex_unlock(&c->mu);
	if (rc != LS_OK)
		return rc == LS_ENOMEM ? RAFT_NOMEM : RAFT_CORRUPT;
	/* On success the state machine owns the snapshot's bytes. */
	raft_free(buf->base);
	if (c->on_map != NULL)
		c->on_map(c->cb_arg, epoch);
	return 0;
}

/* ---- loop thread ---- */

static void
apply_cb(struct raft_apply *req, int status, void *result)
{
	preq *p = req->data;
	int rc = status == 0 ? (int)(intptr_t)result : from_raft(status);
	if (p->done != NULL)
		p->done(p->arg, rc);
	free(p);
}

static void
poll_leader(ls_coord *c)
{
	raft_id id = 0;
	const char *addr = NULL;
	bool changed, me;

	raft_leader(&c->raft, &id, &addr);
	if (c->closing)
		id = 0;
	if (id == 0)
		addr = NULL;
	me = id != 0 && id == c->id && raft_state(&c->raft) == RAFT_LEADER;
	pthread_mutex_lock(&c->mu);
	changed = c->leader_id != id ||
	          strcmp(c->leader_addr, addr != NULL ? addr : "") != 0;
	c->leader_id = id;
	copy_str(c->leader_addr, sizeof(c->leader_addr), addr);
	c->is_leader = me;
	pthread_mutex_unlock(&c->mu);
	if (changed && c->on_leader != NULL)
		c->on_leader(c->cb_arg, id, addr != NULL ? addr : "");
}

static int
member_role(int raft_role)
{
	switch (raft_role) {
	case RAFT_VOTER:
		return LS_COORD_VOTER;
	case RAFT_STANDBY:
		return LS_COORD_STANDBY;
	default:
		return LS_COORD_SPARE;
	}
}

/* Publishes raft's current configuration for ls_coord_members() when it
 * differs from the last one published.  Out of memory keeps the old one
 * (the next poll tries again). */
static void
publish_members(ls_coord *c)
{
	const struct raft_configuration *conf = &c->raft.configuration;
	ls_coord_member *m = NULL;
	bool same;

	pthread_mutex_lock(&c->mu);
	same = c->n_members == conf->n;
	for (unsigned i = 0; same && i < conf->n; i++) {
		const struct raft_server *s = &conf->servers[i];
		same = c->members[i].id == s->id &&
		       c->members[i].role == member_role(s->role) &&
		       strcmp(c->members[i].address,
		              s->address != NULL ? s->address : "") == 0;
	}
	pthread_mutex_unlock(&c->mu);
	if (same)
		return;
	if (conf->n > 0 && (m = calloc(conf->n, sizeof(*m))) == NULL)
		return;
	for (unsigned i = 0; i < conf->n; i++) {
		m[i].id = conf->servers[i].id;
		m[i].role = member_role(conf->servers[i].role);
		copy_str(m[i].address, sizeof(m[i].address),
		         conf->servers[i].address);
	}
	pthread_mutex_lock(&c->mu);
	free(c->members);
	c->members = m;
	c->n_members = conf->n;
	pthread_mutex_unlock(&c->mu);
}

static void
timer_cb(uv_timer_t *t)
{
	poll_leader(t->data);
	publish_members(t->data);
}

/* Hands a request that never started (or that finished) back: a waiting
 * caller gets rc (and done is not called); otherwise done runs.  Frees m. */
static void
mreq_finish(ls_coord *c, mreq *m, int rc, bool started)
{
	if (!started && m->waiter != NULL) {
		pthread_mutex_lock(&c->mu);
		m->waiter->rc = rc;
		m->waiter->ready = true;
		pthread_cond_broadcast(&c->answered);
		pthread_mutex_unlock(&c->mu);
	} else if (m->done != NULL) {
		m->done(m->arg, rc);
	}
	free(m);
}

static void change_cb(struct raft_change *req, int status);

/* Tries to start m on raft; LS_OK when raft took it. */
static int
mreq_start(ls_coord *c, mreq *m)
{
	const struct raft_configuration *conf = &c->raft.configuration;
	const struct raft_server *s = NULL;
	int rv;

	if (raft_state(&c->raft) != RAFT_LEADER)
		return LS_ESTATE;
	if (c->pending != NULL || c->raft.configuration_uncommitted_index != 0)
		return LS_EBUSY;
	for (unsigned i = 0; i < conf->n; i++)
		if (conf->servers[i].id == m->id)
			s = &conf->servers[i];
	m->change.data = m;
	m->then_role = -1;
	m->step_due = false;
	if (m->kind == MREQ_REMOVE) {
		if (s == NULL)
			return LS_ENOENT;
		rv = raft_remove(&c->raft, &m->change, m->id, change_cb);
	} else if (s != NULL) {
		if (m->address[0] != '\0' &&
		    strcmp(m->address, s->address != NULL ? s->address : "") !=
		        0)
			return LS_EINVAL;
		if (s->role == m->role)
			return LS_EEXIST;
		if (m->id == c->id)
			return LS_EINVAL; /* the leader demoting itself */
		rv = raft_assign(&c->raft, &m->change, m->id, m->role,
		                 change_cb);
	} else {
		if (m->address[0] == '\0')
			return LS_EINVAL;
		m->then_role = m->role;
		rv = raft_add(&c->raft, &m->change, m->id, m->address,
		              change_cb);
	}
	if (rv != 0)
		return from_raft_change(rv);
	c->pending = m;
	publish_members(c);
	return LS_OK;
}

/* Raft finished a change of c->pending (on the loop thread, possibly
 * inside raft's own state transitions: only bookkeeping here). */
static void
change_cb(struct raft_change *req, int status)
{
	mreq *m = req->data;
	ls_coord *c = m->owner;
	int rc = status == 0 ? LS_OK : from_raft_change(status);

	if (rc == LS_OK && m->then_role >= 0) {
		if (!c->closing) {
			/* raft_add committed: raft_assign on the loop's next
			 * turn. */
			m->step_due = true;
			uv_async_send(&c->async);
			return;
		}
		rc = LS_ECLOSED;
	}
	c->pending = NULL;
	publish_members(c);
	mreq_finish(c, m, rc, true);
}

/* The second step of an add: the role of the server raft_add made a
 * spare. */
static void
mreq_assign(ls_coord *c, mreq *m)
{
	int role = m->then_role;
	int rv;

	m->step_due = false;
	m->then_role = -1;
	rv = raft_assign(&c->raft, &m->change, m->id, role, change_cb);
	if (rv != 0) {
		c->pending = NULL;
		publish_members(c);
		mreq_finish(c, m, from_raft_change(rv), true);
		return;
	}
	publish_members(c);
}

/* Releases the transport (after raft closed it, or when it never ran). */
static void
transport_free(ls_coord *c)
{
	if (c->tls)
		ls_raft_tls_free(&c->transport);
	else
		raft_uv_tcp_close(&c->transport);
}

static void
on_raft_closed(struct raft *r)
{
	ls_coord *c = r->data;
	/* raft fails a change it still holds while closing; one that waits
	 * for its second step is no longer raft's. */
	if (c->pending != NULL) {
		mreq *m = c->pending;
		c->pending = NULL;
		mreq_finish(c, m, LS_ECLOSED, true);
	}
	raft_uv_close(&c->io);
	transport_free(c);
	uv_close((uv_handle_t *)&c->timer, NULL);
	uv_close((uv_handle_t *)&c->async, NULL);
}

static void
async_cb(uv_async_t *a)
{
	ls_coord *c = a->data;
	op *list, *next;
	mreq *mlist, *mnext;
	bool stopping;

	pthread_mutex_lock(&c->mu);
	list = c->head;
	c->head = c->tail = NULL;
	mlist = c->mhead;
	c->mhead = c->mtail = NULL;
	stopping = c->stopping;
	pthread_mutex_unlock(&c->mu);

	if (c->pending != NULL && c->pending->step_due && !c->closing &&
	    !stopping)
		mreq_assign(c, c->pending);
	for (; mlist != NULL; mlist = mnext) {
		/* Once started, mlist belongs to raft's callback. */
		answer *w = mlist->waiter;
		mnext = mlist->next;
		int rc =
		    stopping || c->closing ? LS_ECLOSED : mreq_start(c, mlist);
		if (rc != LS_OK)
			mreq_finish(c, mlist, rc, false);
		else if (w != NULL) {
			pthread_mutex_lock(&c->mu);
			w->rc = LS_OK;
			w->ready = true;
			pthread_cond_broadcast(&c->answered);
			pthread_mutex_unlock(&c->mu);
		}
	}

	for (; list != NULL; list = next) {
		next = list->next;
		int rc = LS_ECLOSED;
		if (!stopping) {
			preq *p = malloc(sizeof(*p));
			struct raft_buffer b = {list->buf, list->len};
			rc = LS_ENOMEM;
			if (p != NULL) {
				p->req.data = p;
				p->done = list->done;
				p->arg = list->arg;
				int rv = raft_apply(&c->raft, &p->req, &b, 1,
				                    apply_cb);
				rc = from_raft(rv);
				if (rv != 0)
					free(p);
			}
		}
		if (rc != LS_OK) {
			raft_free(list->buf);
			if (list->done != NULL)
				list->done(list->arg, rc);
		}
		free(list);
	}
	if (stopping && !c->closing) {
		c->closing = true;
		uv_timer_stop(&c->timer);
		poll_leader(c);
		raft_close(&c->raft, on_raft_closed);
	}
}

static void *
loop_main(void *arg)
{
	ls_coord *c = arg;
	loop_self = c;
	uv_run(&c->loop, UV_RUN_DEFAULT);
	loop_self = NULL;
	return NULL;
}

/* ---- public API ---- */

/* A reason for a failed ls_coord_start() into cfg->err (when given). */
static void
start_error(const ls_coord_config *cfg, const char *fmt, ...)
{
	if (cfg == NULL || cfg->err == NULL || cfg->errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cfg->err, cfg->errlen, fmt, ap);
	va_end(ap);
}

static int
check_config(const ls_coord_config *cfg)
{
	bool self = false;
	if (cfg == NULL)
		return LS_EINVAL;
	if (cfg->id == 0 || cfg->data_dir == NULL || cfg->address == NULL ||
	    *cfg->address == '\0' ||
	    strlen(cfg->address) > LS_COORD_MAX_ADDRESS ||
	    (cfg->n_voters > 0 && cfg->voters == NULL)) {
		start_error(cfg, "bad coordinator config (id, data dir or "
		                 "address missing, or address too long)");
		return LS_EINVAL;
	}
	for (size_t i = 0; i < cfg->n_voters; i++) {
		if (cfg->voters[i].id == 0 || cfg->voters[i].address == NULL) {
			start_error(cfg, "voter %zu has no id or address", i);
			return LS_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (cfg->voters[j].id == cfg->voters[i].id ||
			    strcmp(cfg->voters[j].address,
			        cfg->voters[i].address) == 0) {
				start_error(cfg, "voter %s is listed twice",
				    cfg->voters[i].address);
				return LS_EINVAL;
			}
		if (cfg->voters[i].id == cfg->id)
			self = true;
	}
	if (!self && cfg->n_voters > 0) {
		start_error(cfg, "the initial voters do not include this "
		                 "server (%s)",
		    cfg->address);
		return LS_EINVAL;
	}
	return LS_OK;
}

static int
bootstrap(ls_coord *c, const ls_coord_config *cfg)
{
	struct raft_configuration conf;
	int rv = 0;

	if (cfg->n_voters == 0)
		return LS_OK;
	raft_configuration_init(&conf);
	for (size_t i = 0; i < cfg->n_voters && rv == 0; i++)
		rv = raft_configuration_add(&conf, cfg->voters[i].id,
		                            cfg->voters[i].address, RAFT_VOTER);
	if (rv == 0)
		rv = raft_bootstrap(&c->raft, &conf);
	raft_configuration_close(&conf);
	/* A data dir that already holds raft state resumes from it. */
	if (rv == RAFT_CANTBOOTSTRAP)
		rv = 0;
	return from_raft(rv);
}

/* Closes a raft instance that never ran on the loop thread. */
static void
close_unstarted(ls_coord *c)
{
	c->closing = true;
	raft_close(&c->raft, on_raft_closed);
	uv_run(&c->loop, UV_RUN_DEFAULT);
}

static void
free_coord(ls_coord *c)
{
	ls_map_free(c->map);
	free(c->members);
	pthread_cond_destroy(&c->answered);
	pthread_mutex_destroy(&c->mu);
	free(c->dir);
	free(c);
}

int
ls_coord_start(const ls_coord_config *cfg, ls_coord **out)
{
	ls_coord *c;
	int rc, rv;

	if (out == NULL || (rc = check_config(cfg)) != LS_OK)
		return LS_EINVAL;
	pthread_once(&heap_once, install_heap);
	if (mkdir(cfg->data_dir, 0755) != 0 && errno != EEXIST) {
		start_error(cfg, "cannot create %s: %s", cfg->data_dir,
		    strerror(errno));
		return LS_EIO;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return LS_ENOMEM;
	c->id = cfg->id;
	copy_str(c->address, sizeof(c->address), cfg->address);
	c->on_map = cfg->on_map_change;
	c->on_leader = cfg->on_leader_change;
	c->cb_arg = cfg->cb_arg;
	c->dir = strdup(cfg->data_dir);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->answered, NULL);
	if (c->dir == NULL || (rc = ls_map_new(&c->map)) != LS_OK) {
		free_coord(c);
		return LS_ENOMEM;
	}
	if (uv_loop_init(&c->loop) != 0) {
		free_coord(c);
		return LS_EIO;
	}
	c->tls = ls_tls_enabled(cfg->tls);
	if (c->tls) {
		char why[300] = "";
		rc = ls_raft_tls_init(&c->transport, &c->loop, cfg->tls, why,
		                      sizeof(why));
		if (rc != LS_OK) {
			start_error(cfg, "Raft TLS: %s",
			    why[0] ? why : ls_strerror(rc));
			uv_loop_close(&c->loop);
			free_coord(c);
			return rc;
		}
	} else if (raft_uv_tcp_init(&c->transport, &c->loop) != 0) {
		uv_loop_close(&c->loop);
		free_coord(c);
		return LS_ENOMEM;
	}
	if (raft_uv_init(&c->io, &c->loop, c->dir, &c->transport) != 0) {
		start_error(cfg, "cannot use %s: %s", c->dir,
		    c->io.errmsg);
		transport_free(c);
		uv_loop_close(&c->loop);
		free_coord(c);
		return LS_EIO;
	}
	c->fsm.version = 1;
	c->fsm.data = c;
	c->fsm.apply = fsm_apply;
	c->fsm.snapshot = fsm_snapshot;
	c->fsm.restore = fsm_restore;
	rv = raft_init(&c->raft, &c->io, &c->fsm, c->id, c->address);
	if (rv != 0) {
		start_error(cfg, "raft state in %s: %s", c->dir,
		    raft_errmsg(&c->raft));
		raft_uv_close(&c->io);
		transport_free(c);
		uv_run(&c->loop, UV_RUN_DEFAULT);
		uv_loop_close(&c->loop);
		free_coord(c);
		return from_raft(rv) == LS_ENOMEM ? LS_ENOMEM : LS_EIO;
	}
	c->raft.data = c;
	uv_timer_init(&c->loop, &c->timer);
	c->timer.data = c;
	uv_async_init(&c->loop, &c->async, async_cb);
	c->async.data = c;
	raft_set_election_timeout(&c->raft, cfg->election_timeout_ms
	                                        ? cfg->election_timeout_ms
	                                        : 1000);
	raft_set_heartbeat_timeout(&c->raft, cfg->heartbeat_timeout_ms
	                                         ? cfg->heartbeat_timeout_ms
	                                         : 100);
	raft_set_snapshot_threshold(
	    &c->raft, cfg->snapshot_threshold ? cfg->snapshot_threshold : 1024);
	raft_set_snapshot_trailing(
	    &c->raft, cfg->snapshot_trailing ? cfg->snapshot_trailing : 128);
	raft_set_install_snapshot_timeout(&c->raft,
	                                  cfg->install_snapshot_timeout_ms
	                                      ? cfg->install_snapshot_timeout_ms
	                                      : 5000);
	raft_set_pre_vote(&c->raft, true);
	rc = bootstrap(c, cfg);
	if (rc != LS_OK)
		start_error(cfg, "cannot bootstrap the initial voters in %s: %s",
		    c->dir, ls_strerror(rc));
	if (rc == LS_OK) {
		ls_coord *outer = loop_self;
		loop_self = c; /* callbacks during the load run here */
		rv = raft_start(&c->raft);
		loop_self = outer;
		if (rv != 0) {
			const char *why = raft_errmsg(&c->raft);
			if (why == NULL)
				why = "";
			start_error(cfg, "raft on %s with its state in %s: %s%s",
			    c->address, c->dir,
			    *why != '\0' ? why : raft_strerror(rv),
			    *why == '\0' && rv == RAFT_IOERR
			        ? " (is the address in use, or not one of this "
			          "host?)"
			        : "");
		}
		rc = rv == 0                      ? LS_OK
		     : from_raft(rv) == LS_ENOMEM ? LS_ENOMEM
		                                  : LS_EIO;
	}
	if (rc == LS_OK) {
		publish_members(c);
		uv_timer_start(&c->timer, timer_cb, LEADER_POLL_MS,
		               LEADER_POLL_MS);
	}
	if (rc == LS_OK && pthread_create(&c->thread, NULL, loop_main, c) != 0)
		rc = LS_ENOMEM;
	if (rc != LS_OK) {
		close_unstarted(c);
		uv_loop_close(&c->loop);
		free_coord(c);
		return rc;
	}
	*out = c;
	return LS_OK;
}

int
ls_coord_propose(ls_coord *c, const void *cmd, size_t len,
                 ls_coord_done_cb done, void *arg, char *leader,
                 size_t leader_cap)
{
	int rc;
	op *o;

	if (c == NULL || cmd == NULL)
		return LS_EINVAL;
	rc = ls_map_check(cmd, len, NULL);
	if (rc != LS_OK)
		return rc;
	pthread_mutex_lock(&c->mu);
	if (c->stopping)
		rc = LS_ECLOSED;
	else if (!c->is_leader)
		rc = LS_ESTATE;
	copy_str(leader, leader_cap, c->leader_addr);
	pthread_mutex_unlock(&c->mu);
	if (rc != LS_OK)
		return rc;
	o = malloc(sizeof(*o));
	size_t plen = padded_len(len);
	uint8_t *buf = raft_malloc(plen);
	if (o == NULL || buf == NULL) {
		free(o);
		raft_free(buf);
		return LS_ENOMEM;
	}
	memcpy(buf, cmd, len);
	memset(buf + len, 0, plen - len);
	*o = (op){NULL, buf, plen, done, arg};
	pthread_mutex_lock(&c->mu);
	if (c->stopping) {
		pthread_mutex_unlock(&c->mu);
		raft_free(buf);
		free(o);
		return LS_ECLOSED;
	}
	if (c->tail != NULL)
		c->tail->next = o;
	else
		c->head = o;
	c->tail = o;
	pthread_mutex_unlock(&c->mu);
	uv_async_send(&c->async);
	return LS_OK;
}

/* Queues m for the loop thread.  A caller on another thread waits until
 * the loop tried to start it and gets the answer; on the loop thread the
 * answer comes through done.  m belongs to the loop from here on. */
static int
mreq_submit(ls_coord *c, mreq *m, char *leader, size_t leader_cap)
{
	answer w = {false, LS_OK};
	bool wait = loop_self != c;

	m->owner = c;
	m->waiter = wait ? &w : NULL;
	pthread_mutex_lock(&c->mu);
	if (c->stopping) {
		pthread_mutex_unlock(&c->mu);
		free(m);
		return LS_ECLOSED;
	}
	if (c->mtail != NULL)
		c->mtail->next = m;
	else
		c->mhead = m;
	c->mtail = m;
	uv_async_send(&c->async);
	while (wait && !w.ready)
		pthread_cond_wait(&c->answered, &c->mu);
	if (w.rc == LS_ESTATE)
		copy_str(leader, leader_cap, c->leader_addr);
	pthread_mutex_unlock(&c->mu);
	return w.rc;
}

/* The checks every membership call makes before queueing. */
static int
mreq_precheck(ls_coord *c, char *leader, size_t leader_cap)
{
	int rc = LS_OK;
	pthread_mutex_lock(&c->mu);
	if (c->stopping)
		rc = LS_ECLOSED;
	else if (!c->is_leader)
		rc = LS_ESTATE;
	copy_str(leader, leader_cap, c->leader_addr);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int
ls_coord_add_member(ls_coord *c, uint64_t id, const char *address, int voter,
                    ls_coord_done_cb done, void *arg, char *leader,
                    size_t leader_cap)
{
	mreq *m;
	int rc;

	if (c == NULL || id == 0 ||
	    (address != NULL && strlen(address) > LS_COORD_MAX_ADDRESS))
		return LS_EINVAL;
	if ((rc = mreq_precheck(c, leader, leader_cap)) != LS_OK)
		return rc;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return LS_ENOMEM;
	m->kind = MREQ_ADD;
	m->id = id;
	copy_str(m->address, sizeof(m->address), address);
	m->role = voter ? RAFT_VOTER : RAFT_STANDBY;
	m->done = done;
	m->arg = arg;
	return mreq_submit(c, m, leader, leader_cap);
}

int
ls_coord_remove_member(ls_coord *c, uint64_t id, ls_coord_done_cb done,
                       void *arg, char *leader, size_t leader_cap)
{
	mreq *m;
	int rc;

	if (c == NULL || id == 0)
		return LS_EINVAL;
	if ((rc = mreq_precheck(c, leader, leader_cap)) != LS_OK)
		return rc;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return LS_ENOMEM;
	m->kind = MREQ_REMOVE;
	m->id = id;
	m->done = done;
	m->arg = arg;
	return mreq_submit(c, m, leader, leader_cap);
}

uint64_t
ls_coord_raft_refused(ls_coord *c)
{
	return c != NULL && c->tls ? ls_raft_tls_refused(&c->transport) : 0;
}

size_t
ls_coord_members(ls_coord *c, ls_coord_member *out, size_t cap)
{
	size_t n;
	if (c == NULL || (out == NULL && cap > 0))
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->n_members < cap ? c->n_members : cap;
	if (n > 0)
		memcpy(out, c->members, n * sizeof(*out));
	pthread_mutex_unlock(&c->mu);
	return n;
}

int
ls_coord_leader(ls_coord *c, uint64_t *id, char *address, size_t cap)
{
	uint64_t lid;
	pthread_mutex_lock(&c->mu);
	lid = c->leader_id;
	copy_str(address, cap, c->leader_addr);
	pthread_mutex_unlock(&c->mu);
	if (id != NULL)
		*id = lid;
	return lid != 0 ? LS_OK : LS_ENOENT;
}

int
ls_coord_is_leader(ls_coord *c)
{
	bool me;
	pthread_mutex_lock(&c->mu);
	me = c->is_leader;
	pthread_mutex_unlock(&c->mu);
	return me;
}

uint64_t
ls_coord_epoch(ls_coord *c)
{
	uint64_t e;
	pthread_mutex_lock(&c->mu);
	e = ls_map_epoch(c->map);
	pthread_mutex_unlock(&c->mu);
	return e;
}

int
ls_coord_map_snapshot(ls_coord *c, ls_map **out)
{
	int rc;
	if (c == NULL || out == NULL)
		return LS_EINVAL;
	pthread_mutex_lock(&c->mu);
	rc = ls_map_copy(c->map, out);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void
ls_coord_stop(ls_coord *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_mutex_unlock(&c->mu);
	uv_async_send(&c->async);
	pthread_join(c->thread, NULL);
	uv_loop_close(&c->loop);
	free_coord(c);
}
