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

/* 1 when the hook can fail allocations (not under valgrind, whose
 * allocator wins), 0 when a sweep would prove nothing. */
static inline int
alloc_fail_works(void)
{
	void *(*volatile alloc)(size_t) = malloc;
	fail_after = 0;
	void *probe = alloc(1);
	fail_after = -1;
	free(probe);
	return probe == NULL;
}

/* Sweep every failure point of a scenario: scenario(n, arg) is run with
 * the (n + 1)-th allocation failing (it sets fail_after = n itself and
 * resets it to -1 before freeing), for n = 0, 1, ... until a run returns
 * 0.  Returns the number of failure points, or -1 when a run returned
 * something other than 0 or enomem (the caller's LS_ENOMEM), leaked, or
 * the first run did not fail. */
static inline long
alloc_fail_sweep(int (*scenario)(long n, void *arg), void *arg, int enomem)
{
	int rc = enomem;
	long n;
	for (n = 0; n < 100000 && rc != 0; n++) {
		long before = live;
		rc = scenario(n, arg);
		if ((rc != 0 && rc != enomem) || (n == 0 && rc != enomem) ||
		    live != before)
			return -1;
	}
	return rc == 0 ? n - 1 : -1;
}
#endif /* !LS_NO_MALLOC_HOOK && __GLIBC__ */

#endif /* LS_TEST_ALLOC_FAIL_H */
