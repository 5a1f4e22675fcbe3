/*
 * map_fuzz.c -- fuzz driver for the cluster map's command and snapshot
 * decoders (cluster/map.h).
 *
 * Each input is applied as a command (a MapCommand of schemas/cluster.fbs)
 * to a small sample map and restored as a snapshot into an empty map: as
 * given, with the command identifier "LSMC" written over bytes 4-7 (so
 * mutations reach the command decoder), one byte off an 8-byte boundary
 * (the map copies such input), and "resealed" (snapshot length and check
 * recomputed, as a hostile peer that knows the format would, so mutations
 * reach the snapshot body decoder).  A refused input must leave the map
 * unchanged; an accepted one must survive a snapshot/restore round trip
 * unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/map.h"
#include "runtime/err.h"
#include "runtime/hash.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
reseal(uint8_t *p, size_t n)
{
	uint32_t body = (uint32_t)(n - LS_MAP_HEADER_LEN);
	for (int i = 0; i < 4; i++)
		p[8 + i] = (uint8_t)(body >> (8 * i));
	uint64_t seed = ls_hash64(p, 12, 0x4c534dull);
	uint32_t c = (uint32_t)ls_hash64(p + LS_MAP_HEADER_LEN, body, seed);
	for (int i = 0; i < 4; i++)
		p[12 + i] = (uint8_t)(c >> (8 * i));
}

static int
add(ls_map *m, int rc, uint8_t *buf, size_t len)
{
	if (rc == LS_OK) {
		rc = ls_map_apply(m, buf, len);
		free(buf);
	}
	return rc;
}

static ls_map *
sample(void)
{
	ls_map *m;
	uint8_t *b;
	size_t n;
	int rc = ls_map_new(&m);
	if (rc != LS_OK)
		return NULL;
	for (uint64_t id = 1; id <= 3 && rc == LS_OK; id++) {
		char name[4] = {'n', (char)('0' + id), 0, 0};
		ls_map_node node = {id, name, "tcp://127.0.0.1:7101",
		                    "", true, LS_NODE_ALIVE};
		rc = ls_map_cmd_add_node(&node, &b, &n);
		rc = add(m, rc, b, n);
	}
	if (rc == LS_OK) {
		rc = ls_map_cmd_deploy("web", "name: web\n", &b, &n);
		rc = add(m, rc, b, n);
	}
	if (rc == LS_OK) {
		ls_map_assignment a[2];
		memset(a, 0, sizeof(a));
		a[0].partition = "count/0";
		a[0].owner = 1;
		a[0].n_standbys = 1;
		a[0].standbys[0] = 2;
		a[1].partition = "count/1";
		a[1].owner = 3;
		rc = ls_map_cmd_assign("web", 0, a, 2, &b, &n);
		rc = add(m, rc, b, n);
	}
	if (rc != LS_OK) {
		ls_map_free(m);
		return NULL;
	}
	return m;
}

/* A restore of m's snapshot gives m back. */
static void
check_round_trip(const ls_map *m)
{
	ls_map *c;
	if (ls_map_copy(m, &c) != LS_OK)
		return;
	FUZZ_ASSERT(ls_map_equal(m, c));
	ls_map_free(c);
}

static void
one(const uint8_t *data, size_t size)
{
	ls_map *m = sample(), *before = NULL, *e = NULL;
	if (m == NULL || ls_map_copy(m, &before) != LS_OK)
		goto out;
	if (ls_map_apply(m, data, size) != LS_OK) {
		FUZZ_ASSERT(ls_map_equal(m, before)); /* refused: unchanged */
	} else {
		FUZZ_ASSERT(ls_map_epoch(m) >= ls_map_epoch(before));
		check_round_trip(m);
	}
	if (ls_map_new(&e) != LS_OK)
		goto out;
	if (ls_map_restore(e, data, size) == LS_OK)
		check_round_trip(e);
	else
		FUZZ_ASSERT(ls_map_epoch(e) == 0 && ls_map_node_count(e) == 0);
out:
	ls_map_free(m);
	ls_map_free(before);
	ls_map_free(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	if (size >= 8 && size <= (1u << 20)) {
		uint8_t *copy = malloc(size + 1);
		if (copy != NULL) {
			memcpy(copy, data, size);
			memcpy(copy + 4, "LSMC", 4);
			one(copy, size);
			memmove(copy + 1, copy, size);
			one(copy + 1, size);
			free(copy);
		}
	}
	if (size >= LS_MAP_HEADER_LEN && size <= (1u << 20)) {
		uint8_t *copy = malloc(size);
		if (copy != NULL) {
			memcpy(copy, data, size);
			reseal(copy, size);
			one(copy, size);
			free(copy);
		}
	}
	return 0;
}
