/*
 * bench.c -- helpers shared by the benchmark programs (see bench.h).
 */
#include "bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
ls_bench_latch_init(ls_bench_latch *l, int64_t count)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->left = count;
}

void
ls_bench_latch_destroy(ls_bench_latch *l)
{
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
}

void
ls_bench_latch_count_down(ls_bench_latch *l)
{
	pthread_mutex_lock(&l->mu);
	if (l->left > 0 && --l->left == 0)
		pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

int
ls_bench_latch_wait(ls_bench_latch *l, int64_t timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	ls_abstime_after(timeout_ms, &ts);
	pthread_mutex_lock(&l->mu);
	while (l->left > 0) {
		if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) != 0) {
			rv = l->left > 0 ? LS_ETIMEDOUT : 0;
			break;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rv;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double
ls_bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void
ls_bench_minmax(const double *v, size_t n, double *min, double *max)
{
	*min = *max = v[0];
	for (size_t i = 1; i < n; i++) {
		if (v[i] < *min)
			*min = v[i];
		if (v[i] > *max)
			*max = v[i];
	}
}

int64_t
ls_bench_proc_bytes(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t fl = strlen(field);
	int64_t v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			long long kb = 0;
			if (sscanf(line + fl + 1, "%lld", &kb) == 1)
				v = (int64_t)kb * 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

uint64_t
ls_bench_scaled(uint64_t n, uint64_t min)
{
	const char *s = getenv("LS_BENCH_SCALE");
	double scale = 1;

	if (s != NULL && *s != '\0') {
		char *end;
		double v = strtod(s, &end);
		if (*end == '\0' && v > 0 && v <= 1000)
			scale = v;
	}
	double r = (double)n * scale;
	uint64_t out = r < 1 ? 1 : (uint64_t)r;
	return out < min ? min : out;
}

int
ls_bench_runs(int def)
{
	const char *s = getenv("LS_BENCH_RUNS");

	if (s != NULL && *s != '\0') {
		char *end;
		long v = strtol(s, &end, 10);
		if (*end == '\0' && v >= 1 && v <= 99)
			return (int)v;
	}
	return def;
}

ls_runtime_opts
ls_bench_runtime_opts(void)
{
	ls_runtime_opts o;
	const char *s = getenv("LS_BENCH_WORKERS");

	memset(&o, 0, sizeof(o));
	if (s != NULL && *s != '\0') {
		char *end;
		long v = strtol(s, &end, 10);
		if (*end == '\0' && v >= 1 && v <= 256)
			o.workers = (unsigned)v;
	}
	return o;
}

void
ls_bench_print_rate(const char *name, const double *rates, int nruns,
                    const char *unit)
{
	double v[100], min, max;
	int n = nruns < 100 ? nruns : 100;

	memcpy(v, rates, (size_t)n * sizeof(*v));
	ls_bench_minmax(v, (size_t)n, &min, &max);
	double med = ls_bench_median(v, (size_t)n);
	printf("%-26s %8.2f M %-16s (%d run%s, %.2f..%.2f)\n", name, med / 1e6,
	       unit, n, n == 1 ? "" : "s", min / 1e6, max / 1e6);
	fflush(stdout);
}

void
ls_bench_print(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%-26s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

_Noreturn void
ls_bench_abandon(const char *bench, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "FAIL %s: ", bench);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (gave up waiting; exiting without cleanup)\n", stderr);
	fflush(stderr);
	_Exit(1);
}

int
ls_bench_fail(const char *bench, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "FAIL %s: ", bench);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}
