/*
 * anomaly_stage.h -- the `anomaly` stage's per-key state and its record
 * format (actors/anomaly_actor.c; docs/anomaly.md, "The anomaly stage").
 *
 * The stage turns events into one metric point per key and interval (the
 * events' count, or the sum, mean, max or min of a numeric field) and feeds
 * each key's points to its own detector (actors/anomaly.h) when the
 * watermark closes the interval.  What it keeps per key -- the key, the
 * intervals still open, the open alert and the detector -- is one record
 * of keyed state; the decoder here validates every field, so a stored or
 * received record cannot corrupt a stage (tests/fuzz/astage_fuzz.c).
 */
#ifndef LS_ACTORS_ANOMALY_STAGE_H
#define LS_ACTORS_ANOMALY_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "actors/anomaly.h"

#define LS_ASTAGE_MAX_KEYS 8      /* key fields */
#define LS_ASTAGE_KEY_MAX 1024    /* bytes of an encoded key */
#define LS_ASTAGE_NEW_KEY 255   /* last_det of a new-key alert */
#define LS_ASTAGE_MAX_OPEN 4096   /* open intervals per key (a batch of
                                     a replay can span many) */

/* One open interval of a key: the values its events gave. */
typedef struct ls_astage_slot {
	int64_t i;      /* interval number: it spans [i * I, (i + 1) * I) */
	uint64_t n;     /* events */
	double sum, max, min;
} ls_astage_slot;

/* A key's state.  key[0..klen) is the encoded key: for each key field a
 * u16 little-endian length and the bytes (malloc'd, like slot). */
typedef struct ls_astage_key {
	struct ls_astage_key *next; /* hash chain */
	uint64_t hash;
	uint8_t dirty;     /* changed since the last checkpoint */
	uint8_t *key;
	uint32_t klen;
	int64_t first_i;   /* first interval with an event */
	int64_t last_i;    /* latest interval with an event */
	int64_t alert_t;   /* start of the interval that opened the alert
	                      still open, or INT64_MIN */
	/* the key's latest alert, kept in its record so that queries list it
	 * after a restore too: its interval start (INT64_MIN: none), value,
	 * score, expected range (NaN: none) and detector
	 * (LS_ASTAGE_NEW_KEY for a new-key alert) */
	int64_t last_t;
	double last_value, last_score, last_lo, last_hi;
	uint8_t last_det;
	uint64_t qmark;    /* queries: shown by query number qmark (memory) */
	uint32_t nslots, capslots;
	ls_astage_slot *slot; /* by interval, ascending */
	ls_anomaly det;
} ls_astage_key;

/* Write k's record into buf (ls_astage_record_size(k) bytes). */
void ls_astage_record_put(const ls_astage_key *k, uint8_t *buf);

/* Bytes of k's record. */
size_t ls_astage_record_size(const ls_astage_key *k);

/* Read a record (borrowed) into a new key (*out, free with
 * ls_astage_key_free).  nkey is the stage's key field count; the detector's
 * parameters must equal cfg (a record of another configuration is not this
 * stage's).  0, LS_ECORRUPT or LS_ENOMEM (*out untouched). */
int ls_astage_record_get(const uint8_t *buf, size_t len, uint32_t nkey,
    const ls_anomaly_cfg *cfg, ls_astage_key **out);

/* A new key of klen bytes (copied), no slots, a fresh detector of cfg
 * (already checked).  NULL when out of memory. */
ls_astage_key *ls_astage_key_new(const uint8_t *key, uint32_t klen,
    const ls_anomaly_cfg *cfg);

void ls_astage_key_free(ls_astage_key *k);

#endif /* LS_ACTORS_ANOMALY_STAGE_H */
