/*
 * codec_int.h -- test hooks of the wire codec (schemas/codec.cc).
 *
 * Not part of the public API.  The hooks are per thread, so a test that sets
 * them affects only the codec calls it makes itself.
 */
#ifndef LS_CODEC_INT_H
#define LS_CODEC_INT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Let the next n codec allocations on this thread succeed and fail every one
 * after them (the encoders then return LS_ENOMEM); n < 0 turns failures off.
 * Tests only. */
void ls__codec_fail_alloc_after(long n);

/* How many times, on this thread, an encoder's precomputed size bound proved
 * too small and the builder had to grow its buffer.  Always 0 unless the
 * bound in codec.cc is wrong; tests assert it stays 0. */
unsigned long ls__codec_overflow_count(void);

#ifdef __cplusplus
}
#endif

#endif /* LS_CODEC_INT_H */
