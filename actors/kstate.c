/*
 * kstate.c -- changelog blobs of stages on keyed state: framing, chain
 * walking, catching a copy up, self-contained bundles (see kstate.h).
 */
#include "actors/kstate.h"

#include <stdlib.h>
#include <string.h>

#include "actors/changelog.h"
#include "runtime/le.h"
#include "runtime/log.h"
#include "schemas/codec.h"

/* Blobs walked back before giving up: a chain is cut at every restart of
 * its partition (a self-contained blob) and at every fold on the node, so
 * a longer one means blobs that should have been deleted. */
#define CHAIN_MAX 100000

int
ls_kstate_name(const char *topo, const char *part, char *out)
{
	size_t tl = strlen(topo), pl = strlen(part);
	if (tl + 1 + pl > LS_STORE_NAME_MAX)
		return LS_ERANGE;
	memcpy(out, topo, tl);
	out[tl] = '/';
	memcpy(out + tl + 1, part, pl + 1);
	return 0;
}

/* Walk the frame of blob: fn(arg, buf, len) for each buffer. */
static int
frames(const void *blob, size_t len,
    int (*fn)(void *arg, const uint8_t *p, size_t n), void *arg)
{
	const uint8_t *b = blob;
	if (blob == NULL || len < 8 || memcmp(b, LS_KSTATE_MAGIC, 4) != 0)
		return LS_ECORRUPT;
	uint32_t n = (uint32_t)ls_le_get(b + 4, 4);
	size_t off = 8;
	if (n == 0)
		return LS_ECORRUPT;
	for (uint32_t i = 0; i < n; i++) {
		if (len - off < 4)
			return LS_ECORRUPT;
		size_t bl = (size_t)ls_le_get(b + off, 4);
		off += 4;
		if (bl > len - off)
			return LS_ECORRUPT;
		int rc = fn(arg, b + off, bl);
		if (rc != 0)
			return rc;
		off += bl;
	}
	return off == len ? 0 : LS_ECORRUPT;
}

typedef struct info_walk {
	const char *name;
	char first_name[LS_STORE_NAME_MAX + 1];
	ls_kstate_info *info;
	uint32_t next_part; /* part expected next within the changeset */
	int in_set;         /* a changeset is open (its last part not seen) */
	ls_changeset set;   /* the open or last changeset */
} info_walk;

static int
info_one(void *arg, const uint8_t *p, size_t n)
{
	info_walk *w = arg;
	ls_changelog_wire h;
	void *copy = malloc(n > 0 ? n : 1); /* the codec wants alignment */
	if (copy == NULL)
		return LS_ENOMEM;
	memcpy(copy, p, n);
	int rc = ls_codec_changelog_decode(copy, n, &h, NULL, NULL);
	if (rc != 0) {
		free(copy);
		return LS_ECORRUPT;
	}
	const char *want = w->name != NULL ? w->name : w->first_name;
	int same = want[0] == '\0' ||
	    (strlen(want) == h.partition.len &&
	        memcmp(want, h.partition.ptr, h.partition.len) == 0);
	if (want[0] == '\0' && h.partition.len <= LS_STORE_NAME_MAX) {
		memcpy(w->first_name, h.partition.ptr, h.partition.len);
		w->first_name[h.partition.len] = '\0';
	}
	free(copy);
	if (!same)
		return LS_ECORRUPT;
	if (!h.set.cleared && h.set.ckpt <= h.set.prev)
		return LS_ECORRUPT;
	if (w->in_set) {
		if (h.part != w->next_part || h.set.prev != w->set.prev ||
		    h.set.ckpt != w->set.ckpt || h.set.cleared != w->set.cleared)
			return LS_ECORRUPT;
	} else {
		if (h.part != 0)
			return LS_ECORRUPT;
		if (w->info->nbufs == 0) {
			w->info->prev = h.set.prev;
			w->info->cleared = h.set.cleared;
		} else if (!h.set.cleared && h.set.prev != w->set.ckpt) {
			return LS_ECORRUPT; /* does not continue the chain */
		}
		w->set = h.set;
		w->in_set = 1;
		w->next_part = 0;
	}
	w->next_part++;
	w->info->nbufs++;
	w->info->ckpt = h.set.ckpt;
	if (h.last)
		w->in_set = 0;
	return 0;
}

int
ls_kstate_blob_info(const void *blob, size_t len, const char *name,
    ls_kstate_info *info)
{
	info_walk w;
	memset(&w, 0, sizeof(w));
	memset(info, 0, sizeof(*info));
	w.name = name;
	w.info = info;
	int rc = frames(blob, len, info_one, &w);
	if (rc == 0 && w.in_set)
		rc = LS_ECORRUPT; /* a changeset without its last part */
	return rc;
}

/* ---- building ---- */

static int
blob_put(ls_kstate_blob *b, const void *p, size_t n)
{
	if (n > UINT32_MAX || b->n == UINT32_MAX)
		return LS_ERANGE;
	size_t need = (b->len == 0 ? 8 : b->len) + 4 + n;
	if (need > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < need)
			nc *= 2;
		uint8_t *d = realloc(b->data, nc);
		if (d == NULL)
			return LS_ENOMEM;
		b->data = d;
		b->cap = nc;
	}
	if (b->len == 0) {
		memcpy(b->data, LS_KSTATE_MAGIC, 4);
		b->len = 8;
	}
	ls_le_put(b->data + b->len, n, 4);
	memcpy(b->data + b->len + 4, p, n);
	b->len += 4 + n;
	b->n++;
	ls_le_put(b->data + 4, b->n, 4);
	return 0;
}

int
ls_kstate_blob_add(void *arg, ls_buf *buf)
{
	int rc = blob_put(arg, buf->data, buf->len);
	ls_buf_free(buf);
	return rc;
}

static int
append_one(void *arg, const uint8_t *p, size_t n)
{
	return blob_put(arg, p, n);
}

int
ls_kstate_blob_append(ls_kstate_blob *b, const void *blob, size_t len)
{
	return frames(blob, len, append_one, b);
}

void
ls_kstate_blob_fini(ls_kstate_blob *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- chains ---- */

typedef struct chain {
	void **blob;
	size_t *len;
	size_t n, cap;
	int reached_base; /* stopped at the copy's base, not a cleared one */
} chain;

static void
chain_fini(chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->blob[i]);
	free(c->blob);
	free(c->len);
}

static int
chain_push(chain *c, void *b, size_t n)
{
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 8;
		void **nb = realloc(c->blob, nc * sizeof(*nb));
		if (nb == NULL)
			return LS_ENOMEM;
		c->blob = nb;
		size_t *nl = realloc(c->len, nc * sizeof(*nl));
		if (nl == NULL)
			return LS_ENOMEM;
		c->len = nl;
		c->cap = nc;
	}
	c->blob[c->n] = b;
	c->len[c->n++] = n;
	return 0;
}

/* Collect the blobs from `blob` back to one that applies on base (or is
 * self-contained), newest first.  *done = 1: the copy already is where
 * blob leaves it (nothing collected). */
static int
chain_walk(ls_store *s, const char *topo, const char *part,
    const char *name, uint64_t base, const void *blob, size_t len,
    chain *c, int *done)
{
	ls_kstate_info in;
	void *cur = malloc(len > 0 ? len : 1);
	int rc;

	*done = 0;
	if (cur == NULL)
		return LS_ENOMEM;
	memcpy(cur, blob, len);
	for (size_t steps = 0;; steps++) {
		if ((rc = ls_kstate_blob_info(cur, len, name, &in)) != 0)
			break;
		if (steps == 0 && in.ckpt == base) {
			*done = 1;
			break;
		}
		if (in.ckpt < base || steps > CHAIN_MAX) {
			rc = LS_ESTATE; /* the copy is ahead, or no end */
			break;
		}
		if ((rc = chain_push(c, cur, len)) != 0)
			break;
		cur = NULL;
		if (in.cleared || in.prev == base) {
			c->reached_base = !in.cleared;
			return 0;
		}
		if (in.prev < base) {
			rc = LS_ESTATE;
			break;
		}
		rc = ls_store_ckpt_get(s, topo, in.prev, part, &cur, &len);
		if (rc != 0)
			break; /* LS_ENOENT: the chain is cut here */
	}
	free(cur);
	return rc;
}

static int
apply_one(void *arg, const uint8_t *p, size_t n)
{
	int rc = ls_changelog_rx_add(arg, p, n, NULL);
	return rc == LS_EAGAIN || rc == LS_EEXIST ? 0 : rc;
}

int
ls_kstate_catch_up(ls_store *s, const char *topo, const char *part,
    const void *blob, size_t len)
{
	char name[LS_STORE_NAME_MAX + 1];
	chain c = { 0 };
	ls_changelog_rx *rx = NULL;
	uint64_t base;
	int done, rc;

	if ((rc = ls_kstate_name(topo, part, name)) != 0 ||
	    (rc = ls_store_state_base(s, name, &base)) != 0)
		return rc;
	rc = chain_walk(s, topo, part, name, base, blob, len, &c, &done);
	if (rc == 0 && !done && (rc = ls_changelog_rx_new(s, &rx)) == 0)
		for (size_t i = c.n; i-- > 0 && rc == 0;)
			rc = frames(c.blob[i], c.len[i], apply_one, rx);
	ls_changelog_rx_free(rx);
	chain_fini(&c);
	return rc;
}

int
ls_kstate_check(ls_store *s, const char *topo, const char *part,
    const void *blob, size_t len)
{
	char name[LS_STORE_NAME_MAX + 1];
	chain c = { 0 };
	uint64_t base;
	int done, rc;

	if ((rc = ls_kstate_name(topo, part, name)) != 0 ||
	    (rc = ls_store_state_base(s, name, &base)) != 0)
		return rc;
	rc = chain_walk(s, topo, part, name, base, blob, len, &c, &done);
	chain_fini(&c);
	return rc;
}

int
ls_kstate_is_blob(const void *blob, size_t len)
{
	return blob != NULL && len >= 8 &&
	    memcmp(blob, LS_KSTATE_MAGIC, 4) == 0;
}

int
ls_kstate_bundle(ls_store *s, const char *topo, const char *part,
    const void *blob, size_t len, uint8_t **out, size_t *outlen)
{
	char name[LS_STORE_NAME_MAX + 1];
	chain c = { 0 };
	ls_kstate_blob b = { 0 };
	uint64_t base;
	int done, rc;
	ls_kstate_info in;

	*out = NULL;
	*outlen = 0;
	if ((rc = ls_kstate_blob_info(blob, len, NULL, &in)) != 0)
		return rc;
	if (in.cleared) { /* already self-contained */
		if ((*out = malloc(len)) == NULL)
			return LS_ENOMEM;
		memcpy(*out, blob, len);
		*outlen = len;
		return 0;
	}
	if ((rc = ls_kstate_name(topo, part, name)) != 0 ||
	    (rc = ls_store_state_base(s, name, &base)) != 0)
		return rc;
	rc = chain_walk(s, topo, part, name, base, blob, len, &c, &done);
	if (rc == 0 && (done || c.reached_base))
		rc = ls_changelog_export(s, name, 0, ls_kstate_blob_add, &b,
		    NULL);
	/* the export may have caught a fold made since base was read: skip
	 * what it already holds */
	uint64_t have = base;
	if (rc == 0 && b.len > 0 &&
	    (rc = ls_kstate_blob_info(b.data, b.len, name, &in)) == 0)
		have = in.ckpt;
	for (size_t i = c.n; rc == 0 && i-- > 0;) {
		if ((rc = ls_kstate_blob_info(c.blob[i], c.len[i], name,
		         &in)) != 0)
			break;
		if (b.len > 0 && in.ckpt <= have)
			continue;
		if (b.len > 0 && !in.cleared && in.prev != have) {
			rc = LS_EAGAIN; /* raced with a fold: ask again */
			break;
		}
		rc = ls_kstate_blob_append(&b, c.blob[i], c.len[i]);
		have = in.ckpt;
	}
	chain_fini(&c);
	if (rc != 0) {
		ls_kstate_blob_fini(&b);
		return rc;
	}
	*out = b.data;
	*outlen = b.len;
	return 0;
}
