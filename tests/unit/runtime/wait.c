/*
 * wait.c -- condition polling for tests (see wait.h).
 */
#include "wait.h"

#include <time.h>

#include "runtime/actor.h"

void
sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

int64_t
wait_at_least(_Atomic int64_t *v, int64_t want, int64_t timeout_ms)
{
	int64_t end = ls_clock_ns() + timeout_ms * 1000000;
	int64_t cur;
	while ((cur = atomic_load(v)) < want && ls_clock_ns() < end)
		sleep_ms(1);
	return cur;
}

int
wait_until(int (*cond)(void *), void *arg, int64_t timeout_ms)
{
	int64_t end = ls_clock_ns() + timeout_ms * 1000000;
	int ok;
	while (!(ok = cond(arg)) && ls_clock_ns() < end)
		sleep_ms(1);
	return ok;
}
