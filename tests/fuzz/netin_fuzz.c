/*
 * netin_fuzz.c -- fuzz driver for the syslog source's TCP framing
 * (ls_framer_next, actors/netin.h), which reads bytes from any client.
 *
 * The input is fed in pieces (sizes taken from its first byte) the way a
 * connection delivers them; every message found must lie inside the bytes
 * given, be at most max long, and the framer must make progress: all
 * input consumed once the stream ends in a newline and a full count.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/netin.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t step = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	ls_framer f = { 0, 0 };
	char *buf = malloc(MAX + 32 + step);
	size_t len = 0, fed = 0;
	if (buf == NULL)
		return 0;
	while (fed < size || len > 0) {
		size_t room = MAX + 32 - len;
		size_t n = size - fed < step ? size - fed : step;
		if (n > room)
			n = room;
		memcpy(buf + len, data + fed, n);
		len += n;
		fed += n;
		size_t start = 0;
		for (;;) {
			size_t off = 0, mlen = 0, used = 0;
			int trunc = 0;
			int got = ls_framer_next(&f, buf + start, len - start, MAX,
			    &off, &mlen, &used, &trunc);
			FUZZ_ASSERT(used <= len - start);
			if (got) {
				FUZZ_ASSERT(mlen <= MAX);
				FUZZ_ASSERT(off + mlen <= len - start);
				FUZZ_ASSERT(used > 0);
			}
			start += used;
			if (!got && used == 0)
				break;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		/* a full buffer always yields a message or drops bytes */
		FUZZ_ASSERT(len <= MAX + 31);
		if (fed == size)
			break;
	}
	free(buf);
	return 0;
}
