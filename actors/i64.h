/*
 * i64.h -- saturating int64 arithmetic for event times and deadlines
 * (actors/ only): a sum or difference that would overflow gives INT64_MAX
 * or INT64_MIN instead, so "never" and "always" stay what they mean.
 */
#ifndef LS_ACTORS_I64_H
#define LS_ACTORS_I64_H

#include <stdint.h>

static inline int64_t
ls_i64_add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static inline int64_t
ls_i64_sub_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

#endif /* LS_ACTORS_I64_H */
