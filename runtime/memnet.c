/*
 * memnet.c -- the in-memory transport of remote refs (memnet.h).
 *
 * One mutex guards the whole network: sends come from worker threads of
 * the joined runtimes, delivery from the controlling thread.  Each link is
 * a ring of (address, message) pairs.  Reports to ls_remote_writable and
 * deliveries into mailboxes happen outside the mutex, so a runtime's
 * worker that sends while another runtime is being delivered to never
 * waits on a mailbox.
 */
#include "memnet.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

typedef struct item {
	uint64_t addr;
	ls_msg *m;
} item;

typedef struct mlink {
	item *q; /* ring of cap */
	uint32_t head, n, cap;
	int refused; /* a send was refused since the last writable report */
} mlink;

typedef struct mnode {
	ls_memnet *net;
	uint32_t id;
	ls_runtime *rt;
	ls_remote_ops ops;
	ls_ref *exports;
	uint32_t nexp, capexp;
} mnode;

struct ls_memnet {
	pthread_mutex_t lock;
	uint32_t default_cap;
	uint32_t nnodes;
	mnode nodes[LS_MEMNET_MAX_NODES];
	mlink links[LS_MEMNET_MAX_NODES][LS_MEMNET_MAX_NODES];
	ls_memnet_stats st;
};

int
ls_memnet_create(uint32_t link_cap, ls_memnet **out)
{
	ls_memnet *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return LS_ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	n->default_cap = link_cap ? link_cap : 1024;
	*out = n;
	return 0;
}

static void
link_clear(mlink *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		ls_msg *m = l->q[(l->head + i) % l->cap].m;
		ls_msg_free(NULL, m);
	}
	free(l->q);
	memset(l, 0, sizeof(*l));
}

void
ls_memnet_destroy(ls_memnet *n)
{
	if (n == NULL)
		return;
	for (uint32_t a = 0; a < LS_MEMNET_MAX_NODES; a++)
		for (uint32_t b = 0; b < LS_MEMNET_MAX_NODES; b++)
			link_clear(&n->links[a][b]);
	for (uint32_t i = 0; i < n->nnodes; i++)
		free(n->nodes[i].exports);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

static mlink *
link_get(ls_memnet *n, uint32_t from, uint32_t to)
{
	if (from == 0 || to == 0 || from > n->nnodes || to > n->nnodes)
		return NULL;
	mlink *l = &n->links[from - 1][to - 1];
	if (l->q == NULL) {
		uint32_t cap = l->cap ? l->cap : n->default_cap;
		l->q = calloc(cap, sizeof(*l->q));
		if (l->q == NULL)
			return NULL;
		l->cap = cap;
		l->head = l->n = 0;
	}
	return l;
}

/* The transport table's send, on the sending runtime's thread. */
static int
mem_send(void *arg, uint32_t link, uint64_t addr, ls_msg *m)
{
	mnode *me = arg;
	ls_memnet *n = me->net;
	int rv = 0;
	pthread_mutex_lock(&n->lock);
	mlink *l = link == me->id ? NULL : link_get(n, me->id, link);
	if (l == NULL) {
		rv = LS_ENOENT;
	} else if (l->n >= l->cap) {
		l->refused = 1;
		n->st.refused++;
		rv = LS_EAGAIN;
	} else {
		/* a channel identity the receiver can tell senders apart by */
		m->from = ls_remote_ref(me->id, m->from.id);
		l->q[(l->head + l->n) % l->cap] = (item){ addr, m };
		l->n++;
		n->st.queued++;
	}
	pthread_mutex_unlock(&n->lock);
	return rv;
}

int
ls_memnet_join(ls_memnet *n, ls_runtime *rt, uint32_t *node)
{
	pthread_mutex_lock(&n->lock);
	if (n->nnodes == LS_MEMNET_MAX_NODES) {
		pthread_mutex_unlock(&n->lock);
		return LS_ERANGE;
	}
	mnode *me = &n->nodes[n->nnodes];
	memset(me, 0, sizeof(*me));
	me->net = n;
	me->id = n->nnodes + 1;
	me->rt = rt;
	me->ops.send = mem_send;
	me->ops.arg = me;
	n->nnodes++;
	pthread_mutex_unlock(&n->lock);
	int rv = ls_remote_attach(rt, &me->ops);
	if (rv != 0)
		return rv;
	*node = me->id;
	return 0;
}

int
ls_memnet_export(ls_memnet *n, uint32_t node, ls_ref local, uint64_t *addr)
{
	if (node == 0 || node > n->nnodes || !ls_ref_valid(local))
		return LS_EINVAL;
	int rv = 0;
	pthread_mutex_lock(&n->lock);
	mnode *me = &n->nodes[node - 1];
	if (me->nexp == me->capexp) {
		uint32_t nc = me->capexp ? 2 * me->capexp : 8;
		ls_ref *e = realloc(me->exports, nc * sizeof(*e));
		if (e == NULL) {
			rv = LS_ENOMEM;
			goto out;
		}
		me->exports = e;
		me->capexp = nc;
	}
	me->exports[me->nexp++] = local;
	*addr = me->nexp; /* 0 is never an address */
out:
	pthread_mutex_unlock(&n->lock);
	return rv;
}

void
ls_memnet_set_cap(ls_memnet *n, uint32_t from, uint32_t to, uint32_t cap)
{
	if (cap == 0)
		cap = 1;
	pthread_mutex_lock(&n->lock);
	if (from >= 1 && to >= 1 && from <= LS_MEMNET_MAX_NODES &&
	    to <= LS_MEMNET_MAX_NODES) {
		mlink *l = &n->links[from - 1][to - 1];
		item *q = calloc(cap > l->n ? cap : l->n, sizeof(*q));
		if (q != NULL) {
			for (uint32_t i = 0; i < l->n; i++)
				q[i] = l->q[(l->head + i) % l->cap];
			free(l->q);
			l->q = q;
			l->head = 0;
			l->cap = cap > l->n ? cap : l->n;
		}
	}
	pthread_mutex_unlock(&n->lock);
}

size_t
ls_memnet_deliver(ls_memnet *n, uint32_t from, uint32_t to, size_t max)
{
	size_t moved = 0;
	pthread_mutex_lock(&n->lock);
	mlink *l = link_get(n, from, to);
	if (l == NULL) {
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	mnode *dst = &n->nodes[to - 1];
	while (moved < max && l->n > 0) {
		item it = l->q[l->head];
		ls_ref target = it.addr >= 1 && it.addr <= dst->nexp
		    ? dst->exports[it.addr - 1] : LS_REF_NONE;
		/* The destination is only ever delivered to from this
		 * (controlling) thread, so the head stays ours while the lock
		 * is dropped for the mailbox. */
		pthread_mutex_unlock(&n->lock);
		int rv = ls_ref_valid(target) ? ls_send(dst->rt, target, it.m)
		                              : LS_ENOENT;
		pthread_mutex_lock(&n->lock);
		if (rv == LS_EAGAIN)
			break; /* held at the head: the link stops */
		if (rv == 0) {
			n->st.delivered++;
		} else {
			ls_msg_free(dst->rt, it.m);
			n->st.dropped++;
		}
		l->head = (l->head + 1) % l->cap;
		l->n--;
		moved++;
	}
	int report = l->refused && l->n < l->cap;
	if (report) {
		l->refused = 0;
		n->st.writable++;
	}
	ls_runtime *src = n->nodes[from - 1].rt;
	pthread_mutex_unlock(&n->lock);
	if (report)
		ls_remote_writable(src, to);
	return moved;
}

size_t
ls_memnet_deliver_all(ls_memnet *n)
{
	size_t total = 0, moved;
	do {
		moved = 0;
		for (uint32_t a = 1; a <= n->nnodes; a++)
			for (uint32_t b = 1; b <= n->nnodes; b++)
				if (a != b)
					moved += ls_memnet_deliver(n, a, b,
					    SIZE_MAX);
		total += moved;
	} while (moved > 0);
	return total;
}

size_t
ls_memnet_queued(ls_memnet *n, uint32_t from, uint32_t to)
{
	size_t q = 0;
	pthread_mutex_lock(&n->lock);
	if (from >= 1 && to >= 1 && from <= n->nnodes && to <= n->nnodes)
		q = n->links[from - 1][to - 1].n;
	pthread_mutex_unlock(&n->lock);
	return q;
}

void
ls_memnet_stats_get(ls_memnet *n, ls_memnet_stats *st)
{
	pthread_mutex_lock(&n->lock);
	*st = n->st;
	pthread_mutex_unlock(&n->lock);
}
