/*
 * anomaly_fuzz.c -- fuzz driver for the saved state of the anomaly
 * detector (actors/anomaly.h), which a stage reads back from its
 * checkpoints and from other nodes.
 *
 * The input is loaded as a state as is, and once more with a valid header
 * written over its first 12 bytes (so mutations reach the field checks).
 * A state that loads must save back to the same bytes, keep its
 * invariants through more points (it saves and loads again after them)
 * and score in [0,1].  The input is also fed, 16 bytes a point (time,
 * value), to a fresh detector, whose state must then load.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/anomaly.h"
#include "fuzz_check.h"
#include "runtime/le.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Points that exercise every branch: spikes, steps, NaN, time going back. */
static void
feed(ls_anomaly *d, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 16 <= size; i += 16) {
		int64_t t;
		double v;
		memcpy(&t, data + i, 8);
		memcpy(&v, data + i + 8, 8);
		ls_anomaly_result r;
		ls_anomaly_update(d, t, v, &r);
		FUZZ_ASSERT(r.score >= 0.0 && r.score <= 1.0);
		FUZZ_ASSERT(r.alert <= 1 && r.active <= 1);
		FUZZ_ASSERT(r.detector < LS_ANOMALY_NDETECTORS);
	}
}

static void
check_round_trip(const ls_anomaly *d, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	ls_anomaly again;
	FUZZ_ASSERT(ls_anomaly_save(d, buf, cap, &len) == 0);
	FUZZ_ASSERT(len == cap);
	FUZZ_ASSERT(ls_anomaly_load(&again, buf, len) == 0);
}

static void
one(const uint8_t *data, size_t size, uint8_t *buf, size_t cap)
{
	ls_anomaly d;
	size_t len = 0;
	if (ls_anomaly_load(&d, data, size) != 0)
		return;
	FUZZ_ASSERT(size == cap);
	FUZZ_ASSERT(ls_anomaly_save(&d, buf, cap, &len) == 0);
	FUZZ_ASSERT(len == size && memcmp(buf, data, size) == 0);
	static const double pts[] = { 0.0, 1e6, -1e6, NAN, 5.0, 5.0, 1e-300,
		INFINITY, 7.0, -3.0 };
	for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
		ls_anomaly_result r;
		ls_anomaly_update(&d, d.t_last + (int64_t)i * 1000 - 3000, pts[i],
		    &r);
		FUZZ_ASSERT(r.score >= 0.0 && r.score <= 1.0);
	}
	check_round_trip(&d, buf, cap);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = ls_anomaly_state_size();
	uint8_t *buf = malloc(cap);
	if (buf == NULL)
		return 0;
	one(data, size, buf, cap);
	if (size == cap) {
		uint8_t *c = malloc(size);
		if (c != NULL) {
			memcpy(c, data, size);
			memcpy(c, LS_ANOMALY_MAGIC, 4);
			ls_le_put(c + 4, LS_ANOMALY_VERSION, 2);
			ls_le_put(c + 6, 0, 2);
			ls_le_put(c + 8, size, 4);
			one(c, size, buf, cap);
			free(c);
		}
	}
	ls_anomaly_cfg cfg;
	ls_anomaly d;
	ls_anomaly_cfg_default(&cfg);
	cfg.warmup = 8; /* so that short inputs reach the scoring */
	FUZZ_ASSERT(ls_anomaly_init(&d, &cfg, NULL, 0) == 0);
	feed(&d, data, size);
	check_round_trip(&d, buf, cap);
	free(buf);
	return 0;
}
