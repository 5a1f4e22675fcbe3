/*
 * remote.c -- sends to remote refs through the attached transport table,
 * and the per-link lists of actors waiting for LS_MSG_WRITABLE (remote.h).
 *
 * Lost wake-ups.  A transport promises a writable report after every
 * refusal, once room appears.  A refused actor registers itself and then
 * tries the send again: either the retry succeeds, or it is refused after
 * the registration, and the report that follows that refusal finds the
 * actor in the list.  A report may also find an actor that meanwhile got
 * through; the extra LS_MSG_WRITABLE is harmless (ls_outq_flush of an
 * empty queue does nothing).
 */
#include "remote.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_int.h"

typedef struct link_waiters {
	uint32_t link;
	uint32_t n, cap;
	ls_ref *who;
} link_waiters;

struct ls__remote {
	ls_remote_ops ops;
	pthread_mutex_t lock; /* links[] and their lists */
	link_waiters *links;
	uint32_t nlinks, caplinks;
	_Atomic uint64_t sent, refused, writable;
};

static struct ls__remote *
remote_of(ls_runtime *rt)
{
	return atomic_load_explicit(&rt->remote, memory_order_acquire);
}

int
ls_remote_attach(ls_runtime *rt, const ls_remote_ops *ops)
{
	if (rt == NULL)
		return LS_EINVAL;
	if (ops == NULL) {
		ls__remote_free(rt);
		return 0;
	}
	if (ops->send == NULL)
		return LS_EINVAL;
	struct ls__remote *r = remote_of(rt);
	if (r != NULL) {
		r->ops = *ops;
		return 0;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return LS_ENOMEM;
	r->ops = *ops;
	pthread_mutex_init(&r->lock, NULL);
	atomic_store_explicit(&rt->remote, r, memory_order_release);
	return 0;
}

void
ls__remote_free(ls_runtime *rt)
{
	struct ls__remote *r = atomic_exchange(&rt->remote, NULL);
	if (r == NULL)
		return;
	for (uint32_t i = 0; i < r->nlinks; i++)
		free(r->links[i].who);
	free(r->links);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* The waiter list of link, created when want; lock held. */
static link_waiters *
link_find(struct ls__remote *r, uint32_t link, int want)
{
	for (uint32_t i = 0; i < r->nlinks; i++)
		if (r->links[i].link == link)
			return &r->links[i];
	if (!want)
		return NULL;
	if (r->nlinks == r->caplinks) {
		uint32_t nc = r->caplinks ? 2 * r->caplinks : 4;
		link_waiters *n = realloc(r->links, nc * sizeof(*n));
		if (n == NULL)
			return NULL;
		r->links = n;
		r->caplinks = nc;
	}
	link_waiters *l = &r->links[r->nlinks++];
	memset(l, 0, sizeof(*l));
	l->link = link;
	return l;
}

/* Register who for link's next writable report (once). */
static void
waiter_add(struct ls__remote *r, uint32_t link, ls_ref who)
{
	pthread_mutex_lock(&r->lock);
	link_waiters *l = link_find(r, link, 1);
	if (l != NULL) {
		uint32_t i = 0;
		while (i < l->n && l->who[i].id != who.id)
			i++;
		if (i == l->n) {
			if (l->n == l->cap) {
				uint32_t nc = l->cap ? 2 * l->cap : 8;
				ls_ref *n = realloc(l->who, nc * sizeof(*n));
				if (n != NULL) {
					l->who = n;
					l->cap = nc;
				}
			}
			if (l->n < l->cap)
				l->who[l->n++] = who;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

int
ls__remote_send(ls_runtime *rt, ls_ref to, ls_msg *m, ls_ref who)
{
	struct ls__remote *r = remote_of(rt);
	uint32_t link = ls_remote_link(to);
	if (r == NULL || link == 0)
		return LS_ENOENT;
	uint64_t addr = ls_remote_addr(to);
	int rv = r->ops.send(r->ops.arg, link, addr, m);
	if (rv == LS_EAGAIN && ls_ref_valid(who)) {
		waiter_add(r, link, who);
		rv = r->ops.send(r->ops.arg, link, addr, m);
	}
	if (rv == 0)
		atomic_fetch_add_explicit(&r->sent, 1, memory_order_relaxed);
	else if (rv == LS_EAGAIN)
		atomic_fetch_add_explicit(&r->refused, 1,
		    memory_order_relaxed);
	return rv;
}

void
ls_remote_writable(ls_runtime *rt, uint32_t link)
{
	struct ls__remote *r = rt != NULL ? remote_of(rt) : NULL;
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	link_waiters *l = link_find(r, link, 0);
	ls_ref *who = NULL;
	uint32_t n = 0;
	if (l != NULL && l->n > 0) {
		/* take the list: actors refused from now on form a new one */
		who = l->who;
		n = l->n;
		l->who = NULL;
		l->n = l->cap = 0;
	}
	pthread_mutex_unlock(&r->lock);
	for (uint32_t i = 0; i < n; i++) {
		ls_msg *m = ls_msg_new(rt, LS_MSG_WRITABLE, 0);
		if (m == NULL)
			continue;
		m->from = ls_remote_ref(link, 0);
		if (ls__send_sys(rt, who[i], m) != 0)
			ls_msg_free(rt, m); /* the waiter stopped meanwhile */
		else
			atomic_fetch_add_explicit(&r->writable, 1,
			    memory_order_relaxed);
	}
	free(who);
}

uint32_t
ls_remote_waiters(ls_runtime *rt, uint32_t link)
{
	struct ls__remote *r = remote_of(rt);
	uint32_t n = 0;
	if (r == NULL)
		return 0;
	pthread_mutex_lock(&r->lock);
	link_waiters *l = link_find(r, link, 0);
	if (l != NULL)
		n = l->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void
ls_remote_stats_get(ls_runtime *rt, ls_remote_stats *st)
{
	struct ls__remote *r = remote_of(rt);
	memset(st, 0, sizeof(*st));
	if (r == NULL)
		return;
	st->sent = atomic_load_explicit(&r->sent, memory_order_relaxed);
	st->refused = atomic_load_explicit(&r->refused, memory_order_relaxed);
	st->writable = atomic_load_explicit(&r->writable,
	    memory_order_relaxed);
}
