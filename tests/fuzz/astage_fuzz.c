/*
 * astage_fuzz.c -- fuzz driver for the per-key records of the anomaly
 * stage (actors/anomaly_stage.h), which a stage reads back from its keyed
 * state, its checkpoints and other nodes.
 *
 * The first input byte picks the key field count (0..3).  The rest is
 * decoded as a record as is: one that loads must encode back to the same
 * bytes.  Then the rest builds a valid key (key fields, open intervals,
 * points fed to its detector), whose record must load and encode back
 * identically; the same record with one byte changed (position and value
 * from the input) must be refused or encode back to the changed bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/anomaly_stage.h"
#include "fuzz_check.h"
#include "runtime/err.h"
#include "runtime/le.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode buf; when it loads, it must encode back to buf. */
static int
round_trip(const uint8_t *buf, size_t len, uint32_t nkey,
    const ls_anomaly_cfg *cfg)
{
	ls_astage_key *k = NULL;
	int rv = ls_astage_record_get(buf, len, nkey, cfg, &k);
	FUZZ_ASSERT(rv == 0 || rv == LS_ECORRUPT || rv == LS_ENOMEM);
	if (rv != 0)
		return rv;
	size_t rl = ls_astage_record_size(k);
	FUZZ_ASSERT(rl == len);
	uint8_t *again = malloc(rl);
	FUZZ_ASSERT(again != NULL);
	ls_astage_record_put(k, again);
	FUZZ_ASSERT(memcmp(again, buf, len) == 0);
	free(again);
	ls_astage_key_free(k);
	return 0;
}

/* A valid key built from the input. */
static ls_astage_key *
build(const uint8_t *data, size_t size, uint32_t nkey,
    const ls_anomaly_cfg *cfg)
{
	uint8_t key[64];
	size_t kl = 0, at = 0;
	for (uint32_t i = 0; i < nkey; i++) {
		size_t l = at < size ? data[at++] % 16 : 0;
		ls_le_put(key + kl, l, 2);
		for (size_t j = 0; j < l; j++)
			key[kl + 2 + j] = at < size ? data[at++] : 0;
		kl += 2 + l;
	}
	ls_astage_key *k = ls_astage_key_new(key, (uint32_t)kl, cfg);
	FUZZ_ASSERT(k != NULL);
	uint32_t ns = at < size ? data[at++] % 8 : 0;
	int64_t base = at + 8 <= size ? (int64_t)(ls_le_get(data + at, 8) >>
	    24) : 0;
	at += 8;
	k->first_i = k->last_i = base;
	if (ns > 0) {
		k->slot = calloc(ns, sizeof(*k->slot));
		FUZZ_ASSERT(k->slot != NULL);
		k->capslots = ns;
	}
	for (uint32_t i = 0; i < ns; i++) {
		double v = at < size ? (double)data[at++] - 100.0 : 1.0;
		k->slot[i] = (ls_astage_slot){ base + 2 * (int64_t)i, 1 + i,
			v, v, v };
		k->nslots++;
		k->last_i = base + 2 * (int64_t)i;
	}
	/* points: time steps of 300 s, values from the input */
	for (int64_t t = 0; at < size; at++, t++) {
		ls_anomaly_result r;
		ls_anomaly_update(&k->det, t * INT64_C(300000000000),
		    (double)data[at], &r);
		FUZZ_ASSERT(r.score >= 0.0 && r.score <= 1.0);
		if (r.alert)
			k->alert_t = t;
	}
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ls_anomaly_cfg cfg;
	ls_anomaly_cfg_default(&cfg);
	cfg.warmup = 10;
	if (size == 0)
		return 0;
	uint32_t nkey = data[0] % 4;
	data++;
	size--;
	(void)round_trip(data, size, nkey, &cfg);

	ls_astage_key *k = build(data, size, nkey, &cfg);
	size_t rl = ls_astage_record_size(k);
	uint8_t *buf = malloc(rl);
	FUZZ_ASSERT(buf != NULL);
	ls_astage_record_put(k, buf);
	FUZZ_ASSERT(round_trip(buf, rl, nkey, &cfg) == 0);
	/* another key count, or another configuration: not this stage's */
	FUZZ_ASSERT(round_trip(buf, rl, nkey + 1, &cfg) == LS_ECORRUPT);
	ls_anomaly_cfg other = cfg;
	other.alert_on = 0.5;
	FUZZ_ASSERT(round_trip(buf, rl, nkey, &other) == LS_ECORRUPT);
	if (size >= 2) {
		size_t pos = ((size_t)data[0] << 8 | data[1]) % rl;
		buf[pos] ^= (uint8_t)(data[size - 1] | 1);
		(void)round_trip(buf, rl, nkey, &cfg);
	}
	free(buf);
	ls_astage_key_free(k);
	return 0;
}
