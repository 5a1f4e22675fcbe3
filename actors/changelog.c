/*
 * changelog.c -- changesets as Changelog buffers of bounded size, and their
 * reassembly and application on a copy (see changelog.h).
 */
#include "actors/changelog.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

/* ---- writing ---------------------------------------------------------- */

/* The changes of the buffer being filled; keys and values are copied into
 * one byte array (what hands them out may reuse its memory). */
typedef struct chunk {
	ls_change *ch;
	size_t *koff, *voff;
	size_t n, cap;
	unsigned char *bytes;
	size_t used, bcap;
	size_t bound; /* encoded size bound of the changes held */
	size_t max;
	ls_changelog_wire h;
	ls_changelog_out_fn out;
	void *arg;
	size_t total;
} chunk;

static int
chunk_flush(chunk *c, int last)
{
	ls_buf b = {NULL, 0};

	for (size_t i = 0; i < c->n; i++) {
		c->ch[i].key = c->bytes + c->koff[i];
		c->ch[i].val = c->bytes + c->voff[i];
	}
	c->h.last = (uint8_t)last;
	int rc = ls_codec_changelog_encode(&c->h, c->ch, c->n, &b);
	if (rc != 0)
		return rc;
	c->total += b.len;
	c->h.part++;
	c->n = 0;
	c->used = 0;
	c->bound = 0;
	return c->out(c->arg, &b);
}

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap == 0 ? 64 : *cap;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (q == NULL)
		return LS_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static int
chunk_add(void *arg, const ls_change *ch)
{
	chunk *c = arg;
	size_t cost = ls_codec_change_bound(ch);
	int rc;

	if (c->n > 0 && c->bound + cost > c->max &&
	    (rc = chunk_flush(c, 0)) != 0)
		return rc;
	if (c->n == c->cap) {
		size_t cap = c->cap, cap2 = c->cap, cap3 = c->cap;
		if ((rc = grow((void **)&c->ch, &cap, c->n + 1,
		               sizeof(*c->ch))) != 0 ||
		    (rc = grow((void **)&c->koff, &cap2, c->n + 1,
		               sizeof(*c->koff))) != 0 ||
		    (rc = grow((void **)&c->voff, &cap3, c->n + 1,
		               sizeof(*c->voff))) != 0)
			return rc;
		c->cap = cap;
	}
	size_t vl = ch->kind == LS_CHANGE_PUT ? ch->vlen : 0;
	if ((rc = grow((void **)&c->bytes, &c->bcap, c->used + ch->klen + vl + 1,
	               1)) != 0)
		return rc;
	c->ch[c->n] = *ch;
	c->koff[c->n] = c->used;
	if (ch->klen > 0)
		memcpy(c->bytes + c->used, ch->key, ch->klen);
	c->used += ch->klen;
	c->voff[c->n] = c->used;
	if (vl > 0)
		memcpy(c->bytes + c->used, ch->val, vl);
	c->used += vl;
	c->ch[c->n].vlen = vl;
	c->n++;
	c->bound += cost;
	return 0;
}

static void
chunk_fini(chunk *c)
{
	free(c->ch);
	free(c->koff);
	free(c->voff);
	free(c->bytes);
}

static void
chunk_init(chunk *c, const char *part, size_t max, ls_changelog_out_fn out,
           void *arg)
{
	memset(c, 0, sizeof(*c));
	c->max = max != 0 ? max : LS_CHANGELOG_BUF_DEFAULT;
	c->h.partition = ls_str_make(part, strlen(part));
	c->out = out;
	c->arg = arg;
}

int
ls_changelog_write(ls_state *st, uint64_t ckpt, size_t max_bytes,
                   ls_changelog_out_fn out, void *arg, size_t *bytes)
{
	chunk c;
	int rc;

	if (st == NULL || out == NULL)
		return LS_EINVAL;
	chunk_init(&c, ls_state_partition(st), max_bytes, out, arg);
	rc = ls_state_changes(st, ckpt, &c.h.set, chunk_add, &c);
	if (rc == 0)
		rc = chunk_flush(&c, 1);
	if (bytes != NULL)
		*bytes = c.total;
	chunk_fini(&c);
	return rc;
}

int
ls_changelog_export(ls_store *s, const char *partition, size_t max_bytes,
                    ls_changelog_out_fn out, void *arg, size_t *bytes)
{
	chunk c;
	int rc;

	if (s == NULL || partition == NULL || out == NULL)
		return LS_EINVAL;
	chunk_init(&c, partition, max_bytes, out, arg);
	rc = ls_store_state_export(s, partition, &c.h.set, chunk_add, &c);
	if (rc == 0)
		rc = chunk_flush(&c, 1);
	if (bytes != NULL)
		*bytes = c.total;
	chunk_fini(&c);
	return rc;
}

/* ---- receiving -------------------------------------------------------- */

/* A changeset whose buffers are still coming. */
typedef struct inflight {
	char part[LS_STORE_NAME_MAX + 1];
	ls_changeset set;
	uint32_t next; /* part expected next */
	void **bufs;
	size_t *lens;
	size_t nb, capb;
} inflight;

struct ls_changelog_rx {
	ls_store *s;
	inflight *fl;
	size_t nfl, capfl;
	char applied[LS_STORE_NAME_MAX + 1];
};

int
ls_changelog_rx_new(ls_store *s, ls_changelog_rx **out)
{
	if (s == NULL || out == NULL)
		return LS_EINVAL;
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return LS_ENOMEM;
	(*out)->s = s;
	return 0;
}

static void
inflight_fini(inflight *f)
{
	for (size_t i = 0; i < f->nb; i++)
		free(f->bufs[i]);
	free(f->bufs);
	free(f->lens);
	memset(f, 0, sizeof(*f));
}

static void
rx_drop(ls_changelog_rx *rx, size_t i)
{
	inflight_fini(&rx->fl[i]);
	rx->fl[i] = rx->fl[--rx->nfl];
}

void
ls_changelog_rx_free(ls_changelog_rx *rx)
{
	if (rx == NULL)
		return;
	while (rx->nfl > 0)
		rx_drop(rx, rx->nfl - 1);
	free(rx->fl);
	free(rx);
}

typedef struct collect {
	ls_change *ch;
	size_t n, cap;
} collect;

static int
collect_one(void *arg, const ls_change *c)
{
	collect *k = arg;
	if (grow((void **)&k->ch, &k->cap, k->n + 1, sizeof(*k->ch)) != 0)
		return LS_ENOMEM;
	k->ch[k->n++] = *c;
	return 0;
}

/* Decode every buffer of f and apply the changeset. */
static int
rx_apply(ls_changelog_rx *rx, inflight *f)
{
	collect k = {NULL, 0, 0};
	ls_changelog_wire h;
	int rc = 0;

	for (size_t i = 0; i < f->nb && rc == 0; i++)
		rc = ls_codec_changelog_decode(f->bufs[i], f->lens[i], &h,
		                               collect_one, &k);
	if (rc == 0) {
		ls_changeset cs = f->set;
		cs.count = k.n;
		rc = ls_store_state_apply(rx->s, &cs, f->part, k.ch, k.n);
	}
	free(k.ch);
	return rc;
}

int
ls_changelog_rx_add(ls_changelog_rx *rx, const void *buf, size_t len,
                    ls_changelog_wire *applied)
{
	ls_changelog_wire h;
	size_t i;
	int rc;

	if (rx == NULL || (buf == NULL && len > 0))
		return LS_EINVAL;
	/* The codec wants aligned input; the copy is kept anyway. */
	void *copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		return LS_ENOMEM;
	if (len > 0)
		memcpy(copy, buf, len);
	if ((rc = ls_codec_changelog_decode(copy, len, &h, NULL, NULL)) != 0) {
		free(copy);
		return rc;
	}
	for (i = 0; i < rx->nfl; i++)
		if (strlen(rx->fl[i].part) == h.partition.len &&
		    memcmp(rx->fl[i].part, h.partition.ptr, h.partition.len) ==
		        0)
			break;
	if (h.part == 0) {
		if (i < rx->nfl)
			rx_drop(rx, i); /* a new changeset replaces it */
		if (grow((void **)&rx->fl, &rx->capfl, rx->nfl + 1,
		         sizeof(*rx->fl)) != 0) {
			free(copy);
			return LS_ENOMEM;
		}
		i = rx->nfl++;
		memset(&rx->fl[i], 0, sizeof(rx->fl[i]));
		memcpy(rx->fl[i].part, h.partition.ptr, h.partition.len);
		rx->fl[i].set = h.set;
	} else if (i == rx->nfl || rx->fl[i].next != h.part ||
	           rx->fl[i].set.prev != h.set.prev ||
	           rx->fl[i].set.ckpt != h.set.ckpt ||
	           rx->fl[i].set.cleared != h.set.cleared) {
		if (i < rx->nfl)
			rx_drop(rx, i);
		free(copy);
		return LS_EINVAL;
	}
	inflight *f = &rx->fl[i];
	size_t cap = f->capb, cap2 = f->capb;
	if (grow((void **)&f->bufs, &cap, f->nb + 1, sizeof(*f->bufs)) != 0 ||
	    grow((void **)&f->lens, &cap2, f->nb + 1, sizeof(*f->lens)) != 0) {
		free(copy);
		rx_drop(rx, i);
		return LS_ENOMEM;
	}
	f->capb = cap;
	f->bufs[f->nb] = copy;
	f->lens[f->nb++] = len;
	f->next++;
	if (!h.last)
		return LS_EAGAIN;
	rc = rx_apply(rx, f);
	memcpy(rx->applied, f->part, sizeof(rx->applied));
	if (applied != NULL) {
		*applied = h;
		applied->partition = ls_str_make(rx->applied,
		                                 strlen(rx->applied));
		applied->set = f->set;
		applied->part = 0;
	}
	rx_drop(rx, i);
	return rc;
}
