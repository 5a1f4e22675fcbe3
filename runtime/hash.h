/*
 * hash.h -- the one hash function of LogStream.
 *
 * Routing (`hash(key) mod partitions`), placement and sketches all use
 * XXH3-64 so that every node computes the same partition for a key.
 */
#ifndef LS_HASH_H
#define LS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* 64-bit hash of len bytes at p with seed; pure, any thread. */
static inline uint64_t
ls_hash64(const void *p, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, len, seed);
}

/* The partition (0 .. n-1) for a key hash; n > 0. Stable across nodes. */
static inline uint32_t
ls_partition_of(uint64_t hash, uint32_t n)
{
	return (uint32_t)(hash % n);
}

#endif /* LS_HASH_H */
