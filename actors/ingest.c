/*
 * ingest.c -- the ingest log of an `http` source (see ingest.h).
 */
#include "actors/ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/log.h"
#include "runtime/store.h"

#define KEY_MAX (4 + 2 * LS_STORE_NAME_MAX + 8)

typedef struct mrec {
	struct mrec *next;
	uint32_t n;
	size_t len;
	char text[];
} mrec;

struct ls_ingest {
	ls_ingest_cfg cfg;
	char topo[LS_STORE_NAME_MAX + 1];
	char part[LS_STORE_NAME_MAX + 1];
	uint8_t prefix[KEY_MAX];
	size_t plen;
	pthread_mutex_t lock;  /* everything below */
	uint64_t next_seq;     /* of the next append */
	uint64_t rpos;         /* of the next read */
	uint64_t trimmed;      /* records before it are deleted */
	size_t backlog;        /* memory: events not read; store: events of
	                          the records not trimmed yet */
	uint32_t *counts;      /* store: events of records trimmed.. (a ring) */
	size_t ncounts, capcounts, count0;
	int closed;
	mrec *head, *tail;     /* memory mode: unread records */
	pthread_mutex_t sync_lock;
	uint64_t synced;       /* records up to it are fsynced */
};

static const ls_ingest_server *g_server;

void
ls_ingest_set_server(const ls_ingest_server *srv)
{
	g_server = srv;
}

const ls_ingest_server *
ls_ingest_get_server(void)
{
	return g_server;
}

/* The key prefix of (topology, partition) into p (KEY_MAX bytes); its
 * length, or 0 for a bad name. */
static size_t
prefix_of(const char *topo, const char *part, uint8_t *p)
{
	size_t tl = topo != NULL ? strlen(topo) : 0;
	size_t pl = part != NULL ? strlen(part) : 0;
	if (tl == 0 || pl == 0 || tl > LS_STORE_NAME_MAX ||
	    pl > LS_STORE_NAME_MAX)
		return 0;
	uint8_t *q = p;
	*q++ = LS_INGEST_KEY_BYTE;
	*q++ = 0;
	memcpy(q, topo, tl);
	q += tl;
	*q++ = 0;
	memcpy(q, part, pl);
	q += pl;
	*q++ = 0;
	return (size_t)(q - p);
}

static void
put_seq(uint8_t *k, uint64_t seq)
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(seq >> (56 - 8 * i));
}

static uint64_t
get_seq(const uint8_t *b)
{
	uint64_t s = 0;
	for (int i = 0; i < 8; i++)
		s = s << 8 | b[i];
	return s;
}

/* Bytes before the events of a stored value: 1 (version 1), 9 (version
 * 2: the epoch), 0 for a value that is neither. */
static size_t
hdr_len(const void *v, size_t vl)
{
	const uint8_t *b = v;
	if (vl >= 1 && b[0] == 1)
		return 1;
	if (vl >= 9 && b[0] == 2)
		return 9;
	return 0;
}

int
ls_ingest_value_epoch(const void *value, size_t len, uint64_t *epoch)
{
	size_t h = hdr_len(value, len);
	if (h == 0)
		return LS_ECORRUPT;
	uint64_t e = 0;
	for (size_t i = 0; h == 9 && i < 8; i++)
		e |= (uint64_t)((const uint8_t *)value)[1 + i] << (8 * i);
	*epoch = e;
	return 0;
}

static size_t
key_of(const ls_ingest *in, uint64_t seq, uint8_t *k)
{
	memcpy(k, in->prefix, in->plen);
	put_seq(k + in->plen, seq);
	return in->plen + 8;
}

static uint64_t
seq_of(const ls_ingest *in, const void *k, size_t kl)
{
	if (kl != in->plen + 8)
		return 0;
	return get_seq((const uint8_t *)k + in->plen);
}

static uint32_t
count_events(const char *v, size_t vl)
{
	size_t h = hdr_len(v, vl);
	if (h == 0 || vl <= h)
		return 0;
	uint32_t n = 1;
	for (size_t i = h; i < vl; i++)
		n += v[i] == '\n';
	return n;
}

typedef struct scan_acc {
	ls_ingest *in;
	uint64_t first, last;
	int err;
} scan_acc;

/* Note that the record after the last one noted holds n events (lock
 * held, or before the log is shared).  LS_ENOMEM. */
static int
count_push(ls_ingest *in, uint32_t n)
{
	if (in->ncounts == in->capcounts) {
		size_t nc = in->capcounts ? in->capcounts * 2 : 64;
		uint32_t *c = malloc(nc * sizeof(*c));
		if (c == NULL)
			return LS_ENOMEM;
		for (size_t i = 0; i < in->ncounts; i++)
			c[i] = in->counts[(in->count0 + i) % in->capcounts];
		free(in->counts);
		in->counts = c;
		in->capcounts = nc;
		in->count0 = 0;
	}
	in->counts[(in->count0 + in->ncounts++) % in->capcounts] = n;
	in->backlog += n;
	return 0;
}

/* The oldest noted record is trimmed (lock held). */
static void
count_pop(ls_ingest *in)
{
	if (in->ncounts == 0)
		return;
	in->backlog -= in->counts[in->count0];
	in->count0 = (in->count0 + 1) % in->capcounts;
	in->ncounts--;
}

static int
scan_one(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	scan_acc *a = arg;
	uint64_t s = seq_of(a->in, k, kl);
	if (s == 0)
		return 0;
	if (a->first == 0)
		a->first = s;
	/* a gap (a record that never reached this node's copy, see
	 * ingest.h) counts 0 */
	while (a->last != 0 && a->last + 1 < s && a->err == 0) {
		a->err = count_push(a->in, 0);
		a->last++;
	}
	a->last = s;
	if (a->err == 0)
		a->err = count_push(a->in, count_events(v, vl));
	return a->err;
}

int
ls_ingest_open(const ls_ingest_cfg *cfg, ls_ingest **out)
{
	*out = NULL;
	if (cfg == NULL || cfg->topology == NULL || cfg->partition == NULL ||
	    cfg->queue == 0)
		return LS_EINVAL;
	size_t tl = strlen(cfg->topology), pl = strlen(cfg->partition);
	if (tl == 0 || pl == 0 || tl > LS_STORE_NAME_MAX ||
	    pl > LS_STORE_NAME_MAX)
		return LS_EINVAL;
	ls_ingest *in = calloc(1, sizeof(*in));
	if (in == NULL)
		return LS_ENOMEM;
	in->cfg = *cfg;
	memcpy(in->topo, cfg->topology, tl + 1);
	memcpy(in->part, cfg->partition, pl + 1);
	in->cfg.topology = in->topo;
	in->cfg.partition = in->part;
	if (cfg->store == NULL)
		in->cfg.repl = NULL;
	in->plen = prefix_of(in->topo, in->part, in->prefix);
	in->next_seq = in->rpos = in->trimmed = 1;
	if (cfg->store != NULL) {
		scan_acc a = { in, 0, 0, 0 };
		int rv = ls_store_scan_prefix(cfg->store, in->prefix, in->plen,
		    scan_one, &a);
		if (rv != 0) {
			free(in->counts);
			free(in);
			return rv;
		}
		if (a.first != 0) {
			in->rpos = in->trimmed = a.first;
			in->next_seq = a.last + 1;
		}
	}
	in->synced = in->next_seq - 1;
	pthread_mutex_init(&in->lock, NULL);
	pthread_mutex_init(&in->sync_lock, NULL);
	*out = in;
	return 0;
}

/* Make every record up to seq durable, one fsync for every append that
 * waits meanwhile (group commit). */
static int
sync_upto(ls_ingest *in, uint64_t seq)
{
	int rv = 0;
	pthread_mutex_lock(&in->sync_lock);
	if (in->synced < seq) {
		pthread_mutex_lock(&in->lock);
		uint64_t upto = in->next_seq - 1;
		pthread_mutex_unlock(&in->lock);
		rv = ls_store_sync(in->cfg.store);
		if (rv == 0)
			in->synced = upto;
	}
	pthread_mutex_unlock(&in->sync_lock);
	return rv;
}

int
ls_ingest_append(ls_ingest *in, const char *text, size_t len, uint32_t n,
    uint64_t *seq)
{
	if (n == 0 || (text == NULL && len > 0))
		return LS_EINVAL;
	uint8_t k[KEY_MAX];
	uint8_t *v = NULL;
	mrec *r = NULL;
	size_t vl = len + 9;
	if (in->cfg.store != NULL) {
		v = malloc(vl);
		if (v == NULL)
			return LS_ENOMEM;
		v[0] = 2;
		for (int i = 0; i < 8; i++)
			v[1 + i] = (uint8_t)(in->cfg.epoch >> (8 * i));
		memcpy(v + 9, text, len);
	} else {
		r = malloc(sizeof(*r) + len + 1);
		if (r == NULL)
			return LS_ENOMEM;
		r->next = NULL;
		r->n = n;
		r->len = len;
		memcpy(r->text, text, len);
	}
	pthread_mutex_lock(&in->lock);
	int rv = 0;
	if (in->closed)
		rv = LS_ECLOSED;
	else if (in->backlog > 0 && in->backlog + n > in->cfg.queue)
		rv = LS_EAGAIN;
	uint64_t s = in->next_seq;
	if (rv == 0 && v != NULL) {
		/* room for the count first: a stored record is always noted */
		if (count_push(in, n) != 0)
			rv = LS_ENOMEM;
		else if (ls_store_put(in->cfg.store, k, key_of(in, s, k), v,
		             vl) != 0) {
			in->ncounts--;
			in->backlog -= n;
			rv = LS_EIO;
		}
	}
	if (rv == 0) {
		in->next_seq++;
		if (r != NULL) {
			in->backlog += n;
			if (in->tail != NULL)
				in->tail->next = r;
			else
				in->head = r;
			in->tail = r;
			r = NULL;
		}
	}
	uint64_t trim = in->trimmed;
	pthread_mutex_unlock(&in->lock);
	free(r);
	if (rv == 0 && in->cfg.store != NULL && in->cfg.sync &&
	    sync_upto(in, s) != 0)
		rv = LS_EIO;
	if (rv == 0 && in->cfg.repl != NULL) {
		const ls_ingest_repl *rp = in->cfg.repl;
		int prv = rp->push(rp->arg, in->topo, in->part, in->cfg.epoch,
		    trim, in->cfg.sync, s, v, vl);
		if (prv != 0) {
			ls_log(LS_LOG_WARN, "ingest",
			    "record not acknowledged: its replicas did not "
			    "take it topology=%s partition=%s seq=%llu err=%s",
			    in->topo, in->part, (unsigned long long)s,
			    ls_errname(prv));
			rv = LS_EBUSY;
		}
	}
	free(v);
	if (rv != 0)
		return rv;
	if (seq != NULL)
		*seq = s;
	return 0;
}

void
ls_ingest_seek(ls_ingest *in, uint64_t seq)
{
	pthread_mutex_lock(&in->lock);
	if (seq > in->next_seq) {
		/* the checkpoint is of a log this store does not hold (the
		 * partition ran on another node): what is here is older, the
		 * numbering goes on from the checkpoint */
		if (in->cfg.store != NULL && in->next_seq > in->trimmed) {
			ls_store_batch *b;
			uint8_t k[KEY_MAX];
			if (ls_store_batch_new(&b) == 0) {
				for (uint64_t s = in->trimmed; s < in->next_seq; s++)
					ls_store_batch_delete(b, k, key_of(in, s, k));
				ls_store_batch_commit(in->cfg.store, b);
				ls_store_batch_free(b);
			}
		}
		while (in->ncounts > 0)
			count_pop(in);
		in->trimmed = in->next_seq = seq;
		in->synced = seq - 1;
	}
	if (seq < in->trimmed)
		seq = in->trimmed;
	in->rpos = seq;
	pthread_mutex_unlock(&in->lock);
}

/* Give the events of one record's text to fn. */
static size_t
split(const char *t, size_t len, ls_ingest_fn fn, void *arg)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len; i++)
		if (i == len || t[i] == '\n') {
			fn(arg, t + start, i - start);
			n++;
			start = i + 1;
		}
	return n;
}

size_t
ls_ingest_read(ls_ingest *in, size_t max, ls_ingest_fn fn, void *arg)
{
	size_t got = 0;
	while (got < max) {
		pthread_mutex_lock(&in->lock);
		if (in->cfg.store == NULL) {
			mrec *r = in->head;
			if (r != NULL) {
				in->head = r->next;
				if (in->head == NULL)
					in->tail = NULL;
				in->backlog -= r->n;
				in->rpos++;
			}
			pthread_mutex_unlock(&in->lock);
			if (r == NULL)
				break;
			got += split(r->text, r->len, fn, arg);
			free(r);
			continue;
		}
		uint64_t s = in->rpos;
		int any = s < in->next_seq;
		pthread_mutex_unlock(&in->lock);
		if (!any)
			break;
		uint8_t k[KEY_MAX];
		void *v = NULL;
		size_t vl = 0;
		int rv = ls_store_get(in->cfg.store, k, key_of(in, s, k), &v,
		    &vl);
		size_t h = rv == 0 ? hdr_len(v, vl) : 0;
		if (h != 0) {
			if (vl > h)
				got += split((char *)v + h, vl - h, fn, arg);
		} else if (rv == LS_ENOENT) {
			/* a gap: a record the owner could not copy to this
			 * node, never acknowledged (see ingest.h) */
			ls_log(LS_LOG_INFO, "ingest",
			    "record not here, it was never acknowledged "
			    "topology=%s partition=%s seq=%llu",
			    in->topo, in->part, (unsigned long long)s);
		} else {
			ls_log(LS_LOG_ERROR, "ingest",
			    "cannot read an ingest record topology=%s "
			    "partition=%s seq=%llu err=%s",
			    in->topo, in->part, (unsigned long long)s,
			    rv != 0 ? ls_errname(rv) : "ECORRUPT");
		}
		free(v);
		pthread_mutex_lock(&in->lock);
		in->rpos = s + 1;
		pthread_mutex_unlock(&in->lock);
	}
	return got;
}

uint64_t
ls_ingest_position(const ls_ingest *in)
{
	return in->rpos; /* written by the reader only */
}

void
ls_ingest_trim(ls_ingest *in, uint64_t seq)
{
	if (in->cfg.store == NULL)
		return;
	if (seq > in->rpos)
		seq = in->rpos;
	if (seq <= in->trimmed)
		return;
	ls_store_batch *b;
	if (ls_store_batch_new(&b) != 0)
		return;
	uint8_t k[KEY_MAX];
	for (uint64_t s = in->trimmed; s < seq; s++)
		ls_store_batch_delete(b, k, key_of(in, s, k));
	if (ls_store_batch_commit(in->cfg.store, b) == 0) {
		pthread_mutex_lock(&in->lock);
		for (uint64_t s = in->trimmed; s < seq; s++)
			count_pop(in);
		in->trimmed = seq;
		pthread_mutex_unlock(&in->lock);
	}
	ls_store_batch_free(b);
}

void
ls_ingest_close_input(ls_ingest *in)
{
	pthread_mutex_lock(&in->lock);
	in->closed = 1;
	pthread_mutex_unlock(&in->lock);
}

size_t
ls_ingest_backlog(ls_ingest *in)
{
	pthread_mutex_lock(&in->lock);
	size_t n = in->backlog;
	pthread_mutex_unlock(&in->lock);
	return n;
}

void
ls_ingest_free(ls_ingest *in)
{
	if (in == NULL)
		return;
	while (in->head != NULL) {
		mrec *r = in->head;
		in->head = r->next;
		free(r);
	}
	pthread_mutex_destroy(&in->lock);
	pthread_mutex_destroy(&in->sync_lock);
	free(in->counts);
	free(in);
}

int
ls_ingest_check_listen(const char *v, char *why, size_t whylen)
{
	const char *colon = strrchr(v, ':');
	if (colon == NULL) {
		snprintf(why, whylen, "'%s' is not HOST:PORT", v);
		return 1;
	}
	if (v[0] == '[' && (colon == v || colon[-1] != ']')) {
		snprintf(why, whylen, "'%s' is not [IPV6]:PORT", v);
		return 1;
	}
	if (v[0] != '[' && memchr(v, ':', (size_t)(colon - v)) != NULL) {
		snprintf(why, whylen, "'%s': write an IPv6 address as [ADDR]:PORT",
		    v);
		return 1;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535 ||
	    colon[1] == '-' || colon[1] == '+' || colon[1] == ' ') {
		snprintf(why, whylen, "'%s': the port must be 0 to 65535", v);
		return 1;
	}
	return 0;
}

/* ---- the records of a partition in a node's store ---- */

typedef struct each_acc {
	size_t plen;
	int (*fn)(void *, uint64_t, const void *, size_t);
	void *arg;
} each_acc;

static int
each_one(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	each_acc *a = arg;
	if (kl != a->plen + 8)
		return 0;
	uint64_t s = get_seq((const uint8_t *)k + a->plen);
	return s != 0 ? a->fn(a->arg, s, v, vl) : 0;
}

int
ls_ingest_store_each(ls_store *st, const char *topology,
    const char *partition,
    int (*fn)(void *arg, uint64_t seq, const void *value, size_t len),
    void *arg)
{
	uint8_t p[KEY_MAX];
	each_acc a = { prefix_of(topology, partition, p), fn, arg };
	if (st == NULL || fn == NULL || a.plen == 0)
		return LS_EINVAL;
	return ls_store_scan_prefix(st, p, a.plen, each_one, &a);
}

int
ls_ingest_store_put(ls_store *st, const char *topology, const char *partition,
    uint64_t seq, const void *value, size_t len, int newer_only)
{
	uint8_t k[KEY_MAX];
	size_t pl = prefix_of(topology, partition, k);
	uint64_t e;
	if (st == NULL || pl == 0 || seq == 0)
		return LS_EINVAL;
	if (ls_ingest_value_epoch(value, len, &e) != 0)
		return LS_ECORRUPT;
	put_seq(k + pl, seq);
	if (newer_only) {
		void *old = NULL;
		size_t ol = 0;
		uint64_t oe;
		int rv = ls_store_get(st, k, pl + 8, &old, &ol);
		int keep = rv == 0 && ls_ingest_value_epoch(old, ol, &oe) == 0 &&
		    oe >= e;
		free(old);
		if (rv != 0 && rv != LS_ENOENT)
			return rv;
		if (keep)
			return 0;
	}
	return ls_store_put(st, k, pl + 8, value, len);
}

int
ls_ingest_store_trim(ls_store *st, const char *topology, const char *partition,
    uint64_t seq)
{
	uint8_t from[KEY_MAX], to[KEY_MAX];
	size_t pl = prefix_of(topology, partition, from);
	if (st == NULL || pl == 0)
		return LS_EINVAL;
	if (seq <= 1)
		return 0;
	memcpy(to, from, pl);
	put_seq(from + pl, 0);
	put_seq(to + pl, seq);
	ls_store_batch *b;
	int rv = ls_store_batch_new(&b);
	if (rv != 0)
		return rv;
	ls_store_batch_delete_range(b, from, pl + 8, to, pl + 8);
	rv = ls_store_batch_commit(st, b);
	ls_store_batch_free(b);
	return rv;
}
