/*
 * alloc_fail.h -- allocation-failure injection for unit tests.
 *
 * Included by exactly one file of a test executable, it replaces the
 * executable's malloc family with wrappers around glibc's that fail from
 * the (fail_after + 1)-th call on (fail_after < 0: never) and count live
 * allocations in `live`, so a test can sweep every failure point of a
 * scenario and check that each returns LS_ENOMEM and leaks nothing.  Under
 * AddressSanitizer (whose allocator wins) LS_HAVE_MALLOC_HOOK stays
 * undefined and such tests skip.
 */
#ifndef LS_TEST_ALLOC_FAIL_H
#define LS_TEST_ALLOC_FAIL_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define LS_NO_MALLOC_HOOK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define LS_NO_MALLOC_HOOK 1
#endif
#endif

#if !defined(LS_NO_MALLOC_HOOK) && defined(__GLIBC__)
#define LS_HAVE_MALLOC_HOOK 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static long fail_after = -1; /* < 0: never fail */
static long live;            /* allocations not yet freed */

static int
should_fail(void)
{
	if (fail_after < 0)
		return 0;
	if (fail_after == 0)
		return 1;
	fail_after--;
	return 0;
}

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void free(void *p);

void *
malloc(size_t n)
{
	void *p = should_fail() ? NULL : __libc_malloc(n);
	live += p != NULL;
	return p;
}

void *
calloc(size_t n, size_t m)
{
	void *p = should_fail() ? NULL : __libc_calloc(n, m);
	live += p != NULL;
	return p;
}

void *
realloc(void *p, size_t n)
{
	void *q;

	if (should_fail())
		return NULL;
	q = __libc_realloc(p, n);
	if (p == NULL && q != NULL)
		live++;
	else if (p != NULL && n == 0 && q == NULL)
		live--; /* glibc's realloc(p, 0) frees p */
	return q;
}

void
free(void *p)
{
	live -= p != NULL;
	__libc_free(p);
}
#endif /* !LS_NO_MALLOC_HOOK && __GLIBC__ */

#endif /* LS_TEST_ALLOC_FAIL_H */
