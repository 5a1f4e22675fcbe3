/*
 * kstate_fuzz.c -- fuzz driver for the framing of changelog blobs
 * (actors/kstate.h), which a node reads from its store and from other
 * nodes (replication, state fetched for a restore).
 *
 * The input is read as a blob as is, and once more with a valid "LSKB"
 * header written over its first 8 bytes (so mutations get past the magic
 * and the count).  Whatever is accepted is copied buffer by buffer into a
 * new blob, which must be accepted with the same chain description.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/kstate.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one(const uint8_t *data, size_t size)
{
	ls_kstate_info in, again;
	if (ls_kstate_blob_info(data, size, NULL, &in) != 0)
		return;
	FUZZ_ASSERT(in.nbufs >= 1);
	FUZZ_ASSERT(in.cleared || in.ckpt > in.prev || in.nbufs > 1);
	ls_kstate_blob b = { 0 };
	FUZZ_ASSERT(ls_kstate_blob_append(&b, data, size) == 0);
	FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
	FUZZ_ASSERT(ls_kstate_blob_info(b.data, b.len, NULL, &again) == 0);
	FUZZ_ASSERT(again.prev == in.prev && again.ckpt == in.ckpt &&
	    again.cleared == in.cleared && again.nbufs == in.nbufs);
	ls_kstate_blob_fini(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	if (size >= 8 && size < (1u << 24)) {
		uint8_t *c = malloc(size);
		if (c == NULL)
			return 0;
		memcpy(c, data, size);
		memcpy(c, LS_KSTATE_MAGIC, 4);
		one(c, size);
		free(c);
	}
	return 0;
}
