/*
 * arena_test.c -- bump allocation, alignment, large blocks, reset, fini.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/arena.h"

static void
test_alloc_align_reset(void **unused)
{
	(void)unused;
	ls_arena a;
	ls_arena_init(&a, 256);
	char *prev = NULL;
	for (int i = 1; i < 1000; i++) {
		char *p = ls_arena_alloc(&a, (size_t)(i % 13) + 1);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 8, 0);
		memset(p, 0xab, (size_t)(i % 13) + 1);
		assert_true(p != prev);
		prev = p;
	}
	/* a block larger than the chunk size gets its own chunk */
	char *big = ls_arena_alloc(&a, 10000);
	assert_non_null(big);
	memset(big, 1, 10000);
	char *s = ls_arena_strndup(&a, "hello world", 5);
	assert_string_equal(s, "hello");
	assert_true(a.used > 10000);
	ls_arena_reset(&a);
	assert_int_equal(a.used, 0);
	assert_non_null(ls_arena_alloc(&a, 16));
	ls_arena_fini(&a);
	assert_null(a.head);
	/* usable again after fini */
	assert_non_null(ls_arena_alloc(&a, 8));
	ls_arena_fini(&a);
	/* overflowing sizes are refused, not wrapped */
	assert_null(ls_arena_alloc(&a, SIZE_MAX - 3));
	ls_arena_fini(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_align_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
