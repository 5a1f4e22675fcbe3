/*
 * coord.c -- the coordinator: a libraft 0.15 server (libuv I/O and TCP
 * transport) on its own loop thread, whose state machine is the cluster
 * map.
 *
 * Other threads talk to the loop through a mutex-protected queue of
 * proposals and a uv_async wake-up; the loop publishes what they may read
 * (the map, the leader, the stop flag) under the same mutex.  A 50 ms timer
 * on the loop polls raft_leader()/raft_state() and reports changes.
 */
#include "cluster/coord.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "runtime/err.h"

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
	struct raft_io io;
	struct raft_fsm fsm;
	struct raft raft;
	pthread_t thread;
	bool closing; /* loop thread only */

	pthread_mutex_t mu; /* guards everything below */
	ls_map *map;
	uint64_t leader_id;
	char leader_addr[LS_COORD_MAX_ADDRESS + 1];
	bool is_leader;
	bool stopping;
	op *head;
	op *tail;
};

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
 * padded with zeros; the command's own header gives its true length.  A
 * buffer that does not look like a padded command is passed whole (and
 * refused by ls_map_apply()). */
static size_t
padded_len(size_t len)
{
	return (len + 7) & ~(size_t)7;
}

static size_t
command_len(const struct raft_buffer *buf)
{
	const uint8_t *p = buf->base;
	size_t n;
	if (buf->len < LS_MAP_HEADER_LEN)
		return buf->len;
	n = LS_MAP_HEADER_LEN + ((size_t)p[8] | (size_t)p[9] << 8 |
	                         (size_t)p[10] << 16 | (size_t)p[11] << 24);
	if (n > buf->len || padded_len(n) != buf->len)
		return buf->len;
	for (size_t i = n; i < buf->len; i++)
		if (p[i] != 0)
			return buf->len;
	return n;
}

static int
fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	ls_coord *c = fsm->data;
	uint64_t before, after;
	int rc;

	pthread_mutex_lock(&c->mu);
	before = ls_map_epoch(c->map);
	rc = ls_map_apply(c->map, buf->base, command_len(buf));
	after = ls_map_epoch(c->map);
	pthread_mutex_unlock(&c->mu);
	/* A refused command is a deterministic no-op on every server: the
	 * entry is applied, the refusal goes back to the proposer. */
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

static void
timer_cb(uv_timer_t *t)
{
	poll_leader(t->data);
}

static void
on_raft_closed(struct raft *r)
{
	ls_coord *c = r->data;
	raft_uv_close(&c->io);
	raft_uv_tcp_close(&c->transport);
	uv_close((uv_handle_t *)&c->timer, NULL);
	uv_close((uv_handle_t *)&c->async, NULL);
}

static void
async_cb(uv_async_t *a)
{
	ls_coord *c = a->data;
	op *list, *next;
	bool stopping;

	pthread_mutex_lock(&c->mu);
	list = c->head;
	c->head = c->tail = NULL;
	stopping = c->stopping;
	pthread_mutex_unlock(&c->mu);

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
	uv_run(&c->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* ---- public API ---- */

static int
check_config(const ls_coord_config *cfg)
{
	bool self = false;
	if (cfg == NULL || cfg->id == 0 || cfg->data_dir == NULL ||
	    cfg->address == NULL || *cfg->address == '\0' ||
	    strlen(cfg->address) > LS_COORD_MAX_ADDRESS ||
	    (cfg->n_voters > 0 && cfg->voters == NULL))
		return LS_EINVAL;
	for (size_t i = 0; i < cfg->n_voters; i++) {
		if (cfg->voters[i].id == 0 || cfg->voters[i].address == NULL)
			return LS_EINVAL;
		if (cfg->voters[i].id == cfg->id)
			self = true;
	}
	return self || cfg->n_voters == 0 ? LS_OK : LS_EINVAL;
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
	if (mkdir(cfg->data_dir, 0755) != 0 && errno != EEXIST)
		return LS_EIO;
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
	if (c->dir == NULL || (rc = ls_map_new(&c->map)) != LS_OK) {
		free_coord(c);
		return LS_ENOMEM;
	}
	if (uv_loop_init(&c->loop) != 0) {
		free_coord(c);
		return LS_EIO;
	}
	if (raft_uv_tcp_init(&c->transport, &c->loop) != 0) {
		uv_loop_close(&c->loop);
		free_coord(c);
		return LS_ENOMEM;
	}
	if (raft_uv_init(&c->io, &c->loop, c->dir, &c->transport) != 0) {
		raft_uv_tcp_close(&c->transport);
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
		raft_uv_close(&c->io);
		raft_uv_tcp_close(&c->transport);
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
	if (rc == LS_OK) {
		rv = raft_start(&c->raft);
		rc = rv == 0                      ? LS_OK
		     : from_raft(rv) == LS_ENOMEM ? LS_ENOMEM
		                                  : LS_EIO;
	}
	if (rc == LS_OK)
		uv_timer_start(&c->timer, timer_cb, LEADER_POLL_MS,
		               LEADER_POLL_MS);
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
