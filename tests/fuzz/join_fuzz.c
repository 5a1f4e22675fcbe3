/*
 * join_fuzz.c -- fuzz driver for the join request parser (cluster/join.h),
 * whose input arrives in transport hellos from any node that can connect.
 *
 * Every input is parsed; an accepted request must format back to text that
 * parses to the same request (the parser and the formatter agree), and a
 * refused one must not have been read past its length (ASan checks that:
 * the input is copied into a buffer of exactly its size).  The same bytes,
 * as a string, are parsed as a --join seed entry: an accepted entry has a
 * checked URL, a checked Raft address and the id of that address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/join.h"
#include "cluster/node.h"
#include "cluster/transport.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	ls_join_req r, again;
	if (ls_join_parse(copy, size, &r) == 0) {
		char buf[LS_JOIN_MAX + 1];
		int len = ls_join_format(&r, buf, sizeof(buf));
		FUZZ_ASSERT(len > 0);
		FUZZ_ASSERT(ls_join_parse(buf, (size_t)len, &again) == 0);
		FUZZ_ASSERT(memcmp(&r, &again, sizeof(r)) == 0);
		FUZZ_ASSERT(r.id == ls_node_raft_id(r.raft));
	}
	free(copy);

	char *str = malloc(size + 1);
	if (str == NULL)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	ls_join_seed seed;
	char why[256];
	if (ls_join_seed_parse(str, &seed, why, sizeof(why)) == 0) {
		FUZZ_ASSERT(ls_transport_url_check(seed.url) == 0);
		FUZZ_ASSERT(ls_join_raft_check(seed.raft) == 0);
		FUZZ_ASSERT(seed.id == ls_node_raft_id(seed.raft));
	} else {
		FUZZ_ASSERT(why[0] != '\0');
	}
	free(str);
	return 0;
}
