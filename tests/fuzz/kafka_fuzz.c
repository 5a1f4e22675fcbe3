/*
 * kafka_fuzz.c -- fuzz driver for the kafka source's saved positions
 * (actors/kafka.h), which a restore reads from a checkpoint a standby
 * received over the network.
 *
 * Whatever ls_kafka_in_describe accepts must describe every partition
 * ("P:OFFSET" separated by spaces, or cut with "...") inside the buffer
 * it was given, and the positions must be strictly increasing partitions
 * as the format says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/kafka.h"
#include "runtime/err.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[96];
	memset(out, 'x', sizeof(out));
	int rv = ls_kafka_in_describe(data, size, out, sizeof(out));
	if (rv != 0) {
		FUZZ_ASSERT(rv == LS_ECORRUPT || rv == LS_ENOMEM);
		return 0;
	}
	size_t n = strnlen(out, sizeof(out));
	FUZZ_ASSERT(n < sizeof(out));
	/* accepted: version 1, and exactly 12 bytes per partition */
	FUZZ_ASSERT(size >= 5 && data[0] == 1 && (size - 5) % 12 == 0);
	long prev = -1;
	const char *p = out;
	while (*p != '\0' && strncmp(p, "...", 3) != 0) {
		char *end;
		long part = strtol(p, &end, 10);
		FUZZ_ASSERT(end != p && *end == ':');
		FUZZ_ASSERT(part > prev);
		prev = part;
		long long off = strtoll(end + 1, &end, 10);
		FUZZ_ASSERT(off >= 0);
		p = *end == ' ' ? end + 1 : end;
	}
	return 0;
}
