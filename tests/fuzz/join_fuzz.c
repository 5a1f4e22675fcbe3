/*
 * join_fuzz.c -- fuzz driver for the join request parser (cluster/join.h),
 * whose input arrives in transport hellos from any node that can connect.
 *
 * Every input is parsed (a JoinRequest of schemas/cluster.fbs); an accepted
 * request must encode back to bytes that parse to the same request (the
 * parser and the encoder agree), and a refused one must not have been read
 * past its length (ASan checks that: the input is copied into a buffer of
 * exactly its size).  The parser takes input at any address, so it is
 * also given the input one byte off.  The same bytes,
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
#include "runtime/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	ls_join_req r, again;
	int rc = ls_join_parse(copy, size, &r);
	if (rc == 0) {
		uint8_t buf[LS_JOIN_MAX];
		int len = ls_join_encode(&r, buf, sizeof(buf));
		FUZZ_ASSERT(len > 0);
		FUZZ_ASSERT(ls_join_parse(buf, (size_t)len, &again) == 0);
		FUZZ_ASSERT(memcmp(&r, &again, sizeof(r)) == 0);
		FUZZ_ASSERT(r.id == ls_node_raft_id(r.raft));
		FUZZ_ASSERT(strlen(r.name) > 0 && strlen(r.raft) > 0);
		FUZZ_ASSERT(ls_transport_url_check(r.url) == 0);
	} else {
		FUZZ_ASSERT(rc == LS_EINVAL);
	}
	free(copy);
	uint8_t *odd = malloc(size + 1);
	if (odd == NULL)
		return 0;
	memcpy(odd + 1, data, size);
	FUZZ_ASSERT((ls_join_parse(odd + 1, size, &again) == 0) == (rc == 0));
	FUZZ_ASSERT(rc != 0 || memcmp(&r, &again, sizeof(r)) == 0);
	free(odd);

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
