/*
 * fuzz_check.h -- the assertion of the fuzz drivers: a property that must
 * hold for every input.  A failure names the file, line and property on
 * stderr and aborts, which libFuzzer (and the corpus replay) reports as a
 * crash with the input that caused it.  Unlike assert(), it is never
 * compiled out.
 */
#ifndef LS_FUZZ_CHECK_H
#define LS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(cond)                                                \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "%s:%d: fuzz property failed: %s\n", \
			    __FILE__, __LINE__, #cond);                  \
			abort();                                         \
		}                                                        \
	} while (0)

#endif /* LS_FUZZ_CHECK_H */
