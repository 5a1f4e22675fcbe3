/*
 * wait.h -- test helpers: wait for a condition with a generous deadline
 * instead of sleeping and hoping.
 */
#ifndef LS_TEST_WAIT_H
#define LS_TEST_WAIT_H

#include <stdatomic.h>
#include <stdint.h>

/* Poll until *v >= want or timeout_ms passes; returns the last value. */
int64_t wait_at_least(_Atomic int64_t *v, int64_t want, int64_t timeout_ms);

/* Poll until cond(arg) is non-zero or timeout_ms passes; returns cond. */
int wait_until(int (*cond)(void *), void *arg, int64_t timeout_ms);

/* Sleep for ms milliseconds (only to let time pass for timers). */
void sleep_ms(int64_t ms);

#endif
