/*
 * changelog_fuzz.c -- fuzz driver for the Changelog decoder
 * (schemas/codec.h) that standbys run on buffers from the network.
 *
 * The input is decoded as is and once more with the "LSCL" identifier
 * written over bytes 4-7 (so mutations get past it).  Whatever is accepted
 * is read in full (a sanitizer sees any read outside the input), encoded
 * again and decoded again, and must come back identical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "schemas/codec.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_KEEP 4096 /* changes compared after the round trip */

typedef struct seen {
	ls_change ch[MAX_KEEP];
	size_t n, total;
	const uint8_t *buf;
	size_t len;
	uint64_t sum;
} seen;

static int
inside(const seen *s, const void *p, size_t n)
{
	const uint8_t *q = p;
	return n == 0 || (q >= s->buf && q + n <= s->buf + s->len);
}

static int
keep(void *arg, const ls_change *c)
{
	seen *s = arg;
	FUZZ_ASSERT(c->kind >= LS_CHANGE_PUT && c->kind <= LS_CHANGE_ADD);
	FUZZ_ASSERT(inside(s, c->key, c->klen));
	FUZZ_ASSERT(inside(s, c->val, c->vlen));
	for (size_t i = 0; i < c->klen; i++)
		s->sum += ((const uint8_t *)c->key)[i];
	for (size_t i = 0; i < c->vlen; i++)
		s->sum += ((const uint8_t *)c->val)[i];
	if (s->n < MAX_KEEP)
		s->ch[s->n++] = *c;
	s->total++;
	return 0;
}

static int
same(const ls_change *a, const ls_change *b)
{
	int num = a->kind == LS_CHANGE_SET || a->kind == LS_CHANGE_ADD;
	return a->kind == b->kind && a->klen == b->klen &&
	       (a->klen == 0 || memcmp(a->key, b->key, a->klen) == 0) &&
	       a->vlen == b->vlen &&
	       (a->vlen == 0 || memcmp(a->val, b->val, a->vlen) == 0) &&
	       (!num || a->num == b->num);
}

static seen s1, s2;

static void
one(const uint8_t *buf, size_t len)
{
	ls_changelog_wire h, h2;
	ls_buf b = {NULL, 0};

	memset(&s1, 0, sizeof(s1));
	s1.buf = buf;
	s1.len = len;
	int rc = ls_codec_changelog_decode(buf, len, &h, keep, &s1);
	FUZZ_ASSERT((rc == 0) == (ls_codec_changelog_verify(buf, len) == 0 &&
	                          rc == 0));
	if (rc != 0)
		return;
	FUZZ_ASSERT(h.set.count == s1.total);
	FUZZ_ASSERT(h.partition.len >= 1 && h.partition.len <= 255);
	if (s1.total > MAX_KEEP)
		return;
	rc = ls_codec_changelog_encode(&h, s1.ch, s1.n, &b);
	if (rc == LS_ENOMEM)
		return;
	FUZZ_ASSERT(rc == 0);
	memset(&s2, 0, sizeof(s2));
	s2.buf = b.data;
	s2.len = b.len;
	FUZZ_ASSERT(ls_codec_changelog_decode(b.data, b.len, &h2, keep, &s2) ==
	            0);
	FUZZ_ASSERT(h2.partition.len == h.partition.len &&
	            memcmp(h2.partition.ptr, h.partition.ptr,
	                   h.partition.len) == 0);
	FUZZ_ASSERT(h2.set.prev == h.set.prev && h2.set.ckpt == h.set.ckpt &&
	            h2.set.cleared == h.set.cleared && h2.part == h.part &&
	            h2.last == h.last && s2.n == s1.n);
	for (size_t i = 0; i < s1.n; i++)
		FUZZ_ASSERT(same(&s1.ch[i], &s2.ch[i]));
	ls_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The decoder wants 8-byte aligned input, as malloc gives. */
	uint8_t *buf = calloc(1, size > 0 ? size : 1);
	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	one(buf, size);
	if (size >= 8) {
		memcpy(buf, data, size);
		memcpy(buf + 4, "LSCL", 4);
		one(buf, size);
	}
	free(buf);
	return 0;
}
