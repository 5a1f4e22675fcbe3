/*
 * le.h -- little-endian integers in byte buffers, the byte order of every
 * LogStream format (checkpoint states, wire payloads, map commands).
 */
#ifndef LS_RUNTIME_LE_H
#define LS_RUNTIME_LE_H

#include <stdint.h>

/* Write the low n bytes (n <= 8) of v at p, least significant first. */
static inline void
ls_le_put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Read n bytes (n <= 8) at p as a little-endian unsigned integer. */
static inline uint64_t
ls_le_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif /* LS_RUNTIME_LE_H */
