/*
 * anomaly_actor.c -- the `anomaly` stage: per-key metric streams from
 * events, one online detector (actors/anomaly.h) per key, alert records.
 *
 * Each event adds to its key's open interval (event time; interval number
 * floor(t / interval)): one more event, and with `value` its numeric field
 * into the sum, max and min.  When the watermark (less `grace`) passes an
 * interval's end, the interval closes for every key of the partition: the
 * key's point -- the interval's count, sum, mean, max or min (`metric`) --
 * goes to its detector; for count and sum an interval without events is a
 * point of 0 (a service that falls silent is a signal), for the others it
 * is no point.  A key without events for `expire` is forgotten.  A point
 * that raises an alert (the detector's warm-up, minimum duration, hysteresis
 * and cool-down: one anomaly, one alert) becomes a result row carrying the
 * value, the score, the range the firing detector expected and its name;
 * `emit: scores` sends a row for every point instead (alert true on those
 * that raised one).  With `new_keys`, a key first seen once the stage has
 * closed `warmup` intervals raises an alert of its own (detector
 * "new_key"): fed by a `patterns` stage keyed on template_id, that is "a
 * new kind of message".
 *
 * Closing depends only on event time and the watermark, so a replay from a
 * checkpoint rebuilds the same points, scores and rows.  Late events
 * (their interval already closed) go to the dead-letter output with the
 * reason, as do events without the numeric field a metric needs.
 *
 * State: with a store, key 'm' holds the stage's meta and 'k' + encoded
 * key one record per key (anomaly_stage.h); a checkpoint writes the keys
 * that changed since the last one and deletes the forgotten ones.  Without
 * a store, a checkpoint saves the meta and every record as one blob.
 * Interactive queries (GET /v1/alerts/STAGE) answer the alert rows sent
 * most recently and whether each is still open.  docs/anomaly.md, "The
 * anomaly stage".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/anomaly_stage.h"
#include "actors/evstage.h"
#include "actors/i64.h"
#include "runtime/hash.h"
#include "runtime/le.h"
#include "runtime/log.h"
#include "runtime/store.h"

#define MS INT64_C(1000000)
#define REC_MAGIC "LSAK"
#define META_MAGIC "LSAM"
#define META_LEN 76
#define REC_HDR 88 /* magic, version, flags, klen, nslots, 3 x i64, the
                      last alert: i64 time, 4 x f64, u8 detector, 7 zero */
#define SLOT_LEN 40
#define REC_SEED UINT64_C(0x6c73616e6f6d6b31)
#define KEY_SEED UINT64_C(0x6c73616e6f6d6b32)
#define MAX_FILL 100000 /* intervals in `expire` */
#define TIME_LIMIT (INT64_C(1) << 62)

enum { M_COUNT, M_SUM, M_MEAN, M_MAX, M_MIN };
static const char *const metric_names[] = { "count", "sum", "mean", "max",
	"min", NULL };

/* ---- records ---- */

size_t
ls_astage_record_size(const ls_astage_key *k)
{
	return REC_HDR + k->klen + (size_t)k->nslots * SLOT_LEN +
	    ls_anomaly_state_size() + 8;
}

static void
put_f64(uint8_t *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	ls_le_put(p, u, 8);
}

static double
get_f64(const uint8_t *p)
{
	uint64_t u = ls_le_get(p, 8);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

void
ls_astage_record_put(const ls_astage_key *k, uint8_t *buf)
{
	uint8_t *p = buf;
	size_t len = ls_astage_record_size(k), dl;
	memcpy(p, REC_MAGIC, 4);
	ls_le_put(p + 4, 1, 2);
	ls_le_put(p + 6, 0, 2);
	ls_le_put(p + 8, k->klen, 4);
	ls_le_put(p + 12, k->nslots, 4);
	ls_le_put(p + 16, (uint64_t)k->first_i, 8);
	ls_le_put(p + 24, (uint64_t)k->last_i, 8);
	ls_le_put(p + 32, (uint64_t)k->alert_t, 8);
	ls_le_put(p + 40, (uint64_t)k->last_t, 8);
	put_f64(p + 48, k->last_value);
	put_f64(p + 56, k->last_score);
	put_f64(p + 64, k->last_lo);
	put_f64(p + 72, k->last_hi);
	memset(p + 80, 0, 8);
	p[80] = k->last_det;
	p += REC_HDR;
	memcpy(p, k->key, k->klen);
	p += k->klen;
	for (uint32_t i = 0; i < k->nslots; i++, p += SLOT_LEN) {
		const ls_astage_slot *s = &k->slot[i];
		ls_le_put(p, (uint64_t)s->i, 8);
		ls_le_put(p + 8, s->n, 8);
		put_f64(p + 16, s->sum);
		put_f64(p + 24, s->max);
		put_f64(p + 32, s->min);
	}
	(void)ls_anomaly_save(&k->det, p, ls_anomaly_state_size(), &dl);
	p += ls_anomaly_state_size();
	ls_le_put(p, ls_hash64(buf, len - 8, REC_SEED), 8);
}

/* The encoded key holds nkey fields whose lengths add up to klen. */
static int
key_ok(const uint8_t *key, uint32_t klen, uint32_t nkey)
{
	size_t at = 0;
	for (uint32_t i = 0; i < nkey; i++) {
		if (at + 2 > klen)
			return 0;
		at += 2 + ls_le_get(key + at, 2);
	}
	return at == klen;
}

static int
finite_big(double d)
{
	return isfinite(d) && fabs(d) <= 1e300;
}

ls_astage_key *
ls_astage_key_new(const uint8_t *key, uint32_t klen, const ls_anomaly_cfg *cfg)
{
	ls_astage_key *k = calloc(1, sizeof(*k));
	if (k == NULL || (k->key = malloc(klen > 0 ? klen : 1)) == NULL) {
		free(k);
		return NULL;
	}
	memcpy(k->key, key, klen);
	k->klen = klen;
	k->hash = ls_hash64(key, klen, KEY_SEED);
	k->alert_t = INT64_MIN;
	k->last_t = INT64_MIN;
	k->last_lo = k->last_hi = NAN;
	(void)ls_anomaly_init(&k->det, cfg, NULL, 0);
	return k;
}

void
ls_astage_key_free(ls_astage_key *k)
{
	if (k == NULL)
		return;
	free(k->key);
	free(k->slot);
	free(k);
}

int
ls_astage_record_get(const uint8_t *buf, size_t len, uint32_t nkey,
    const ls_anomaly_cfg *cfg, ls_astage_key **out)
{
	if (len < REC_HDR + 8 || memcmp(buf, REC_MAGIC, 4) != 0 ||
	    ls_le_get(buf + 4, 2) != 1 || ls_le_get(buf + 6, 2) != 0 ||
	    ls_le_get(buf + len - 8, 8) != ls_hash64(buf, len - 8, REC_SEED))
		return LS_ECORRUPT;
	uint64_t klen = ls_le_get(buf + 8, 4), ns = ls_le_get(buf + 12, 4);
	int64_t first = (int64_t)ls_le_get(buf + 16, 8);
	int64_t last = (int64_t)ls_le_get(buf + 24, 8);
	int64_t alert = (int64_t)ls_le_get(buf + 32, 8);
	if (klen > LS_ASTAGE_KEY_MAX || ns > LS_ASTAGE_MAX_OPEN ||
	    len != REC_HDR + klen + ns * SLOT_LEN + ls_anomaly_state_size() + 8 ||
	    first > last || first < -TIME_LIMIT || last > TIME_LIMIT ||
	    (alert != INT64_MIN && (alert < -TIME_LIMIT || alert > TIME_LIMIT)))
		return LS_ECORRUPT;
	int64_t lt = (int64_t)ls_le_get(buf + 40, 8);
	double lv = get_f64(buf + 48), ls = get_f64(buf + 56);
	double llo = get_f64(buf + 64), lhi = get_f64(buf + 72);
	uint8_t ld = buf[80];
	for (int z = 81; z < 88; z++)
		if (buf[z] != 0)
			return LS_ECORRUPT;
	if (lt != INT64_MIN && (lt < -TIME_LIMIT || lt > TIME_LIMIT ||
	                           !finite_big(lv) || !(ls >= 0 && ls <= 1) ||
	                           (ld >= LS_ANOMALY_NDETECTORS &&
	                               ld != LS_ASTAGE_NEW_KEY) ||
	                           isnan(llo) != isnan(lhi) ||
	                           (!isnan(llo) && (!finite_big(llo) ||
	                                               !finite_big(lhi)))))
		return LS_ECORRUPT;
	if (lt == INT64_MIN && (ld != 0 || !isnan(llo) || !isnan(lhi) ||
	                           lv != 0 || ls != 0))
		return LS_ECORRUPT;
	const uint8_t *p = buf + REC_HDR;
	if (!key_ok(p, (uint32_t)klen, nkey))
		return LS_ECORRUPT;
	ls_astage_key *k = ls_astage_key_new(p, (uint32_t)klen, cfg);
	if (k == NULL)
		return LS_ENOMEM;
	p += klen;
	if (ns > 0 && (k->slot = malloc(ns * sizeof(*k->slot))) == NULL) {
		ls_astage_key_free(k);
		return LS_ENOMEM;
	}
	k->capslots = k->nslots = (uint32_t)ns;
	int bad = 0;
	for (uint32_t i = 0; i < ns; i++, p += SLOT_LEN) {
		ls_astage_slot *s = &k->slot[i];
		s->i = (int64_t)ls_le_get(p, 8);
		s->n = ls_le_get(p + 8, 8);
		s->sum = get_f64(p + 16);
		s->max = get_f64(p + 24);
		s->min = get_f64(p + 32);
		bad |= s->n == 0 || !finite_big(s->sum) || !finite_big(s->max) ||
		    !finite_big(s->min) || s->min > s->max ||
		    s->i < first || s->i > last || (i > 0 && s->i <= s[-1].i);
	}
	k->first_i = first;
	k->last_i = last;
	k->alert_t = alert;
	k->last_t = lt;
	k->last_value = lv;
	k->last_score = ls;
	k->last_lo = llo;
	k->last_hi = lhi;
	k->last_det = ld;
	if (bad || ls_anomaly_load(&k->det, p, ls_anomaly_state_size()) != 0 ||
	    memcmp(&k->det.cfg, cfg, sizeof(*cfg)) != 0) {
		ls_astage_key_free(k);
		return LS_ECORRUPT;
	}
	*out = k;
	return 0;
}

/* ---- the stage ---- */

typedef struct astage {
	ls_evstage f; /* first: the frame's receive passes the whole state */
	int metric;
	const char *vfield;
	size_t vlen;
	int64_t interval_ns, grace_ns, delay_ns, idle_ns;
	int64_t expire_n;     /* intervals without events before a key goes */
	int scores;           /* emit: scores */
	int new_keys;
	ls_anomaly_cfg acfg;
	const char *const *kf; /* key fields */
	uint32_t nkey;
	/* meta */
	int64_t closed;       /* last closed interval, INT64_MIN: none yet */
	int64_t max_t, last_ingest;
	uint64_t intervals, points, alerts;
	/* keys */
	ls_astage_key **tab;
	size_t ntab, nkeys;
	int meta_dirty;
	uint8_t **gone;       /* encoded keys forgotten since the last sync */
	uint32_t *gone_len;
	size_t ngone, capgone;
	uint64_t qgen;        /* queries answered (marks keys shown) */
	uint8_t kbuf[LS_ASTAGE_KEY_MAX];
} astage;

static int
spec_check(const ls_topo_node *n, char *err, size_t errlen)
{
	const char *m = ls_topo_str(n, "metric");
	const char *v = ls_topo_str(n, "value");
	int64_t iv = ls_topo_ms(n, "interval"), ex = ls_topo_ms(n, "expire");
	if (n->nkey > LS_ASTAGE_MAX_KEYS) {
		snprintf(err, errlen, "at most %d key fields",
		    LS_ASTAGE_MAX_KEYS);
		return LS_EINVAL;
	}
	if (m != NULL && strcmp(m, "count") != 0 && v == NULL) {
		snprintf(err, errlen, "metric %s needs value: the numeric field "
		    "it reads", m);
		return LS_EINVAL;
	}
	if (ex < iv || ex / iv > MAX_FILL) {
		snprintf(err, errlen, "expire must be 1 to %d intervals",
		    MAX_FILL);
		return LS_EINVAL;
	}
	return 0;
}

static int
cfg_of(const ls_topo_node *n, ls_anomaly_cfg *c, char *err, size_t errlen)
{
	ls_anomaly_cfg_default(c);
	c->warmup = (uint32_t)ls_topo_int(n, "warmup");
	c->min_duration = (uint32_t)ls_topo_int(n, "min_duration");
	c->alert_on = ls_topo_float(n, "alert_on");
	if (c->alert_off > c->alert_on)
		c->alert_off = c->alert_on;
	int64_t per = ls_topo_ms(n, "period");
	c->period_ns = !ls_topo_bool(n, "seasonal") ? -1 : per * MS;
	ls_anomaly d;
	return ls_anomaly_init(&d, c, err, errlen);
}

static int
anomaly_schema(const ls_topo_node *n, ls_rec_schema *out, char *err,
    size_t errlen)
{
	ls_anomaly_cfg c;
	int rv = spec_check(n, err, errlen);
	if (rv == 0)
		rv = cfg_of(n, &c, err, errlen);
	if (rv != 0)
		return rv;
	if ((rv = ls_rec_schema_add(out, "time", LS_REC_TIME, LS_REC_ID)) != 0)
		goto fail;
	for (size_t k = 0; k < n->nkey; k++)
		if ((rv = ls_rec_schema_add(out, n->key[k], LS_REC_STRING,
		         LS_REC_KEY)) != 0)
			goto fail;
	if (n->nkey == 0) {
		out->keyed = 1;
		out->key_at = out->n;
	}
	if ((rv = ls_rec_schema_add(out, "value", LS_REC_DOUBLE, 0)) != 0 ||
	    (rv = ls_rec_schema_add(out, "score", LS_REC_DOUBLE, 0)) != 0 ||
	    (rv = ls_rec_schema_add(out, "expected_low", LS_REC_DOUBLE,
	         0)) != 0 ||
	    (rv = ls_rec_schema_add(out, "expected_high", LS_REC_DOUBLE,
	         0)) != 0 ||
	    (rv = ls_rec_schema_add(out, "detector", LS_REC_STRING, 0)) != 0 ||
	    (rv = ls_rec_schema_add(out, "alert", LS_REC_BOOL, 0)) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot describe results: %s", ls_strerror(rv));
	return rv;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static ls_astage_key *
find(const astage *s, const uint8_t *key, uint32_t klen, uint64_t h)
{
	if (s->ntab == 0)
		return NULL;
	for (ls_astage_key *k = s->tab[h & (s->ntab - 1)]; k; k = k->next)
		if (k->hash == h && k->klen == klen &&
		    memcmp(k->key, key, klen) == 0)
			return k;
	return NULL;
}

static int
insert(astage *s, ls_astage_key *k)
{
	if (s->nkeys + 1 > s->ntab) {
		size_t nt = s->ntab ? s->ntab * 2 : 64;
		ls_astage_key **t = calloc(nt, sizeof(*t));
		if (t == NULL)
			return LS_ENOMEM;
		for (size_t b = 0; b < s->ntab; b++)
			for (ls_astage_key *e = s->tab[b], *nx; e; e = nx) {
				nx = e->next;
				e->next = t[e->hash & (nt - 1)];
				t[e->hash & (nt - 1)] = e;
			}
		free(s->tab);
		s->tab = t;
		s->ntab = nt;
	}
	k->next = s->tab[k->hash & (s->ntab - 1)];
	s->tab[k->hash & (s->ntab - 1)] = k;
	s->nkeys++;
	return 0;
}

static void
free_keys(astage *s)
{
	for (size_t b = 0; b < s->ntab; b++)
		for (ls_astage_key *e = s->tab[b], *nx; e; e = nx) {
			nx = e->next;
			ls_astage_key_free(e);
		}
	free(s->tab);
	s->tab = NULL;
	s->ntab = s->nkeys = 0;
}

static void
free_gone(astage *s)
{
	for (size_t i = 0; i < s->ngone; i++)
		free(s->gone[i]);
	s->ngone = 0;
}

/* Forget k (unlinked by the caller): its state key is deleted at the next
 * sync. */
static int
forget(astage *s, ls_astage_key *k)
{
	if (s->ngone == s->capgone) {
		size_t nc = s->capgone ? s->capgone * 2 : 16;
		uint8_t **g = realloc(s->gone, nc * sizeof(*g));
		if (g == NULL)
			return LS_ENOMEM;
		s->gone = g;
		uint32_t *gl = realloc(s->gone_len, nc * sizeof(*gl));
		if (gl == NULL)
			return LS_ENOMEM;
		s->gone_len = gl;
		s->capgone = nc;
	}
	s->gone[s->ngone] = k->key;
	s->gone_len[s->ngone++] = k->klen;
	k->key = NULL;
	ls_astage_key_free(k);
	s->nkeys--;
	return 0;
}

/* The value of a closed slot under the stage's metric. */
static double
slot_value(const astage *s, const ls_astage_slot *sl)
{
	switch (s->metric) {
	case M_COUNT:
		return (double)sl->n;
	case M_SUM:
		return sl->sum;
	case M_MEAN:
		return sl->sum / (double)sl->n;
	case M_MAX:
		return sl->max;
	default:
		return sl->min;
	}
}

/* Decode k's key into strs (pointers into k->key). */
static uint32_t
key_strs(const astage *s, const uint8_t *key, ls_str *strs)
{
	size_t at = 0;
	for (uint32_t i = 0; i < s->nkey; i++) {
		size_t l = ls_le_get(key + at, 2);
		strs[i] = ls_str_make((const char *)key + at + 2, l);
		at += 2 + l;
	}
	return s->nkey;
}

/* Append to out a row for key k at interval start t (lo, hi: NaN for no
 * expected range); 0 or LS_ENOMEM (out unchanged). */
static int
fill(ls_records *out, const astage *s, const ls_astage_key *k, int64_t t,
    double value, double score, double lo, double hi, const char *detector,
    int alert)
{
	ls_rec_value *v = ls_records_add(out);
	if (v == NULL)
		return LS_ENOMEM;
	ls_str ks[LS_ASTAGE_MAX_KEYS];
	key_strs(s, k->key, ks);
	uint32_t f = 0;
	v[f].i = t;
	v[f++].null = 0;
	int rc = 0;
	for (uint32_t i = 0; i < s->nkey; i++, f++)
		rc |= ls_records_set_str(out, &v[f], ks[i].ptr, ks[i].len);
	v[f].d = value;
	v[f++].null = 0;
	v[f].d = score;
	v[f++].null = 0;
	if (!isnan(lo)) {
		v[f].d = lo;
		v[f].null = 0;
		v[f + 1].d = hi;
		v[f + 1].null = 0;
	}
	f += 2;
	rc |= ls_records_set_str(out, &v[f], detector, strlen(detector));
	f++;
	v[f].i = alert;
	v[f].null = 0;
	if (rc != 0) {
		out->n--;
		return LS_ENOMEM;
	}
	return 0;
}

/* Append a result row for key k at interval start t. */
static void
row(astage *s, const ls_astage_key *k, int64_t t, double value,
    const ls_anomaly_result *r, const char *detector, int alert)
{
	ls_records *out = ls_evstage_rows(&s->f);
	if (out == NULL)
		return;
	int range = r->detector != LS_ANOMALY_NONE;
	ls_evstage_counted(&s->f, fill(out, s, k, t, value, r->score,
	    range ? r->expected_lo : NAN, range ? r->expected_hi : NAN,
	    detector, alert));
}

/* k's latest alert, for queries after a restore. */
static void
remember(ls_astage_key *k, int64_t t, double value, const ls_anomaly_result *r,
    uint8_t det)
{
	k->last_t = t;
	k->last_value = value;
	k->last_score = r->score;
	int range = det != LS_ASTAGE_NEW_KEY && r->detector != LS_ANOMALY_NONE;
	k->last_lo = range ? r->expected_lo : NAN;
	k->last_hi = range ? r->expected_hi : NAN;
	k->last_det = det;
}

/* Interval i closes for key k; 1 when k expired (the caller unlinks). */
static int
close_one(astage *s, ls_astage_key *k, int64_t i)
{
	double value;
	int have = k->nslots > 0 && k->slot[0].i == i;
	if (have) {
		value = slot_value(s, &k->slot[0]);
		memmove(&k->slot[0], &k->slot[1],
		    (k->nslots - 1) * sizeof(k->slot[0]));
		k->nslots--;
	} else {
		if (i - k->last_i > s->expire_n && k->nslots == 0)
			return 1;
		if (i < k->first_i || (s->metric != M_COUNT &&
		                          s->metric != M_SUM))
			return 0;
		value = 0;
	}
	ls_anomaly_result r;
	ls_anomaly_update(&k->det, i * s->interval_ns, value, &r);
	k->dirty = 1;
	s->points++;
	if (r.alert) {
		k->alert_t = i * s->interval_ns;
		remember(k, k->alert_t, value, &r, r.detector);
		s->alerts++;
	} else if (!r.active) {
		k->alert_t = INT64_MIN;
	}
	if (r.alert || s->scores)
		row(s, k, i * s->interval_ns, value, &r,
		    ls_anomaly_detector_name(r.detector), r.alert);
	return 0;
}

/* The next interval after i at which k needs closing: its next open
 * interval, the next zero point (count, sum), or the one that forgets it. */
static int64_t
next_need(const astage *s, const ls_astage_key *k, int64_t i)
{
	int64_t n = ls_i64_add_sat(ls_i64_add_sat(k->last_i, s->expire_n), 1);
	if (k->nslots > 0 && k->slot[0].i < n)
		n = k->slot[0].i;
	if ((s->metric == M_COUNT || s->metric == M_SUM) && i >= k->first_i &&
	    i + 1 < n)
		n = i + 1;
	return n > i ? n : i + 1;
}

/* Close every interval up to `upto` for every key.  Intervals in which no
 * key has anything to do are skipped, so a jump of the watermark costs
 * what the keys need, not the intervals it spans. */
static void
close_upto(astage *s, int64_t upto)
{
	if (s->closed == INT64_MIN || upto <= s->closed)
		return;
	int64_t i = s->closed + 1;
	while (i <= upto && s->nkeys > 0) {
		int64_t nxt = INT64_MAX;
		for (size_t b = 0; b < s->ntab; b++) {
			ls_astage_key **pp = &s->tab[b];
			while (*pp != NULL) {
				ls_astage_key *k = *pp;
				if (close_one(s, k, i)) {
					*pp = k->next;
					if (forget(s, k) != 0)
						ls_log(LS_LOG_WARN, "anomaly",
						    "out of memory forgetting "
						    "a key stage=%s",
						    s->f.cfg->node->name);
					continue;
				}
				int64_t n = next_need(s, k, i);
				if (n < nxt)
					nxt = n;
				pp = &k->next;
			}
		}
		i = nxt;
	}
	s->intervals += (uint64_t)(upto - s->closed);
	s->closed = upto;
	s->meta_dirty = 1;
}

static void
dead(astage *s, const ls_event *ev, const char *why)
{
	ls_stage_dead_event(s->f.ctx, s->f.cfg, &s->f.q, why, ev, s->f.source);
}

static int
a_add(void *st, const ls_event *ev)
{
	astage *s = st;
	char why[200];
	int64_t t = ev->time_ns != LS_TIME_UNKNOWN ? ev->time_ns : ev->ingest_ns;
	if (t == LS_TIME_UNKNOWN)
		return LS_EINVAL;
	if (t < -TIME_LIMIT || t > TIME_LIMIT)
		return LS_ERANGE;
	double x = 0;
	if (s->vfield != NULL &&
	    (!ls_event_number(ev, s->vfield, s->vlen, &x) || !finite_big(x))) {
		snprintf(why, sizeof(why), "no numeric field %s", s->vfield);
		dead(s, ev, why);
		return 0;
	}
	size_t kl = 0;
	for (uint32_t i = 0; i < s->nkey; i++) {
		ls_str v;
		(void)ls_event_field(ev, s->kf[i], strlen(s->kf[i]), &v);
		if (kl + 2 + v.len > LS_ASTAGE_KEY_MAX)
			return LS_ERANGE;
		ls_le_put(s->kbuf + kl, v.len, 2);
		memcpy(s->kbuf + kl + 2, v.ptr, v.len);
		kl += 2 + v.len;
	}
	int64_t i = floor_div(t, s->interval_ns);
	if (s->closed == INT64_MIN) {
		s->closed = i - 1;
		s->meta_dirty = 1;
	}
	if (i <= s->closed) {
		snprintf(why, sizeof(why),
		    "late event: its interval (%lld ms) closed already",
		    (long long)(s->interval_ns / MS));
		ls_metric_add(s->f.cfg->ctr.late, 1);
		dead(s, ev, why);
		return 0;
	}
	uint64_t h = ls_hash64(s->kbuf, kl, KEY_SEED);
	ls_astage_key *k = find(s, s->kbuf, (uint32_t)kl, h);
	int fresh = k == NULL;
	if (fresh) {
		if ((k = ls_astage_key_new(s->kbuf, (uint32_t)kl, &s->acfg)) ==
		    NULL)
			return LS_ENOMEM;
		if (insert(s, k) != 0) {
			ls_astage_key_free(k);
			return LS_ENOMEM;
		}
		k->first_i = k->last_i = i;
	}
	uint32_t at = k->nslots; /* events come mostly in order: from the end */
	while (at > 0 && k->slot[at - 1].i >= i)
		at--;
	if (at == k->nslots || k->slot[at].i != i) {
		if (k->nslots == LS_ASTAGE_MAX_OPEN) {
			snprintf(why, sizeof(why), "more than %d intervals of "
			    "this key open: too far ahead of the watermark",
			    LS_ASTAGE_MAX_OPEN);
			dead(s, ev, why);
			return 0;
		}
		if (k->nslots == k->capslots) {
			uint32_t nc = k->capslots ? k->capslots * 2 : 2;
			ls_astage_slot *ns = realloc(k->slot,
			    nc * sizeof(*ns));
			if (ns == NULL)
				return LS_ENOMEM;
			k->slot = ns;
			k->capslots = nc;
		}
		memmove(&k->slot[at + 1], &k->slot[at],
		    (k->nslots - at) * sizeof(k->slot[0]));
		k->nslots++;
		k->slot[at] = (ls_astage_slot){ i, 0, 0, x, x };
	}
	ls_astage_slot *sl = &k->slot[at];
	sl->n++;
	sl->sum += x;
	if (x > sl->max)
		sl->max = x;
	if (x < sl->min)
		sl->min = x;
	if (i < k->first_i)
		k->first_i = i;
	if (i > k->last_i)
		k->last_i = i;
	k->dirty = 1;
	if (t > s->max_t)
		s->max_t = t;
	s->last_ingest = ev->ingest_ns;
	s->meta_dirty = 1;
	if (fresh && s->new_keys && s->intervals >= s->acfg.warmup) {
		ls_anomaly_result r = { .score = 1.0 };
		s->alerts++;
		remember(k, i * s->interval_ns, 0, &r, LS_ASTAGE_NEW_KEY);
		row(s, k, i * s->interval_ns, 0, &r, "new_key", 1);
	}
	return 0;
}

static void
a_advance(void *st, int64_t wm)
{
	astage *s = st;
	int64_t w = ls_i64_sub_sat(wm, s->grace_ns);
	close_upto(s, floor_div(w, s->interval_ns) - 1);
}

static void
a_idle(void *st, int64_t now)
{
	astage *s = st;
	if (s->max_t == INT64_MIN || s->last_ingest == LS_TIME_UNKNOWN ||
	    now <= s->last_ingest || now - s->last_ingest < s->idle_ns)
		return;
	a_advance(s, ls_i64_sub_sat(ls_i64_add_sat(s->max_t,
	    now - s->last_ingest), s->delay_ns));
}

static void
a_flush(void *st)
{
	astage *s = st;
	int64_t top = INT64_MIN;
	for (size_t b = 0; b < s->ntab; b++)
		for (ls_astage_key *k = s->tab[b]; k; k = k->next)
			if (k->nslots > 0 && k->slot[k->nslots - 1].i > top)
				top = k->slot[k->nslots - 1].i;
	if (top != INT64_MIN)
		close_upto(s, top);
}

static const ls_evstage_ops anomaly_ops = { a_add, a_advance, a_idle,
	a_flush };

static int
astage_init(ls_ctx *ctx, void *state, const void *arg)
{
	astage *s = state;
	const ls_stage_cfg *cfg = arg;
	const ls_topo_node *n = cfg->node;
	char err[256];
	int rv = spec_check(n, err, sizeof(err));
	if (rv == 0)
		rv = cfg_of(n, &s->acfg, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "anomaly",
		    "bad anomaly stage=%s reason=\"%s\"", n->name, err);
		return rv;
	}
	if (cfg->results == NULL)
		return LS_EINVAL;
	const char *m = ls_topo_str(n, "metric");
	for (s->metric = 0; metric_names[s->metric] != NULL &&
	     strcmp(metric_names[s->metric], m) != 0; s->metric++)
		;
	s->vfield = s->metric == M_COUNT ? NULL : ls_topo_str(n, "value");
	s->vlen = s->vfield != NULL ? strlen(s->vfield) : 0;
	s->interval_ns = ls_topo_ms(n, "interval") * MS;
	s->grace_ns = ls_topo_ms(n, "grace") * MS;
	s->expire_n = ls_topo_ms(n, "expire") * MS / s->interval_ns;
	s->delay_ns = ls_topology_setting_ms(cfg->topo, "watermark_delay",
	    2000) * MS;
	s->idle_ns = ls_topology_setting_ms(cfg->topo, "idle_timeout",
	    5000) * MS;
	s->scores = strcmp(ls_topo_str(n, "emit"), "scores") == 0;
	s->new_keys = ls_topo_bool(n, "new_keys");
	s->kf = (const char *const *)n->key;
	s->nkey = (uint32_t)n->nkey;
	s->closed = INT64_MIN;
	s->max_t = INT64_MIN;
	s->last_ingest = LS_TIME_UNKNOWN;
	ls_evstage_init(&s->f, cfg, &anomaly_ops, s, "anomaly");
	s->f.keep = (size_t)ls_topo_int(n, "keep_alerts");
	if ((rv = ls_stage_restore_state(cfg, &s->f.gate, s)) != 0)
		return rv;
	return ls_evstage_start(ctx, &s->f);
}

static void
astage_stop(ls_ctx *ctx, void *state)
{
	astage *s = state;
	free_keys(s);
	free_gone(s);
	free(s->gone);
	free(s->gone_len);
	s->gone = NULL;
	s->gone_len = NULL;
	ls_evstage_fini(ctx, &s->f);
}

/* ---- state ---- */

/* A digest of what the records depend on: another configuration's state is
 * refused, not misread. */
static uint64_t
spec_hash(const astage *s)
{
	uint8_t b[64 + sizeof(ls_anomaly_cfg)];
	memset(b, 0, sizeof(b));
	ls_le_put(b, (uint64_t)s->metric, 8);
	ls_le_put(b + 8, (uint64_t)s->interval_ns, 8);
	ls_le_put(b + 16, s->nkey, 8);
	ls_le_put(b + 24, ls_hash64(s->vfield ? s->vfield : "", s->vlen, 1),
	    8);
	memcpy(b + 64, &s->acfg, sizeof(s->acfg));
	return ls_hash64(b, sizeof(b), KEY_SEED);
}

static void
meta_put(const astage *s, uint8_t *p)
{
	memcpy(p, META_MAGIC, 4);
	ls_le_put(p + 4, 1, 2);
	ls_le_put(p + 6, 0, 2);
	ls_le_put(p + 8, spec_hash(s), 8);
	ls_le_put(p + 16, (uint64_t)s->closed, 8);
	ls_le_put(p + 24, (uint64_t)s->max_t, 8);
	ls_le_put(p + 32, (uint64_t)s->last_ingest, 8);
	ls_le_put(p + 40, s->intervals, 8);
	ls_le_put(p + 48, s->points, 8);
	ls_le_put(p + 56, s->alerts, 8);
	ls_le_put(p + 64, 0, 4);
	ls_le_put(p + 68, ls_hash64(p, 68, REC_SEED), 8);
}

static int
meta_get(astage *s, const uint8_t *p, size_t len)
{
	if (len != META_LEN || memcmp(p, META_MAGIC, 4) != 0 ||
	    ls_le_get(p + 4, 2) != 1 || ls_le_get(p + 6, 2) != 0 ||
	    ls_le_get(p + 64, 4) != 0 ||
	    ls_le_get(p + 68, 8) != ls_hash64(p, 68, REC_SEED))
		return LS_ECORRUPT;
	if (ls_le_get(p + 8, 8) != spec_hash(s))
		return LS_ECORRUPT; /* another interval, metric or detector */
	s->closed = (int64_t)ls_le_get(p + 16, 8);
	s->max_t = (int64_t)ls_le_get(p + 24, 8);
	s->last_ingest = (int64_t)ls_le_get(p + 32, 8);
	s->intervals = ls_le_get(p + 40, 8);
	s->points = ls_le_get(p + 48, 8);
	s->alerts = ls_le_get(p + 56, 8);
	return 0;
}

/* A loaded key must fit the meta: its open intervals are still open. */
static int
add_loaded(astage *s, ls_astage_key *k)
{
	if ((k->nslots > 0 && k->slot[0].i <= s->closed) ||
	    find(s, k->key, k->klen, k->hash) != NULL) {
		ls_astage_key_free(k);
		return LS_ECORRUPT;
	}
	if (insert(s, k) != 0) {
		ls_astage_key_free(k);
		return LS_ENOMEM;
	}
	return 0;
}

static void
restore_failed(const astage *s, int rv)
{
	ls_log(LS_LOG_ERROR, "anomaly",
	    "cannot restore state stage=%s partition=%u err=%s",
	    s->f.cfg->node->name, s->f.cfg->partition, ls_errname(rv));
}

/* Blob: the meta, u64 key count, then per key u32 length + record. */
static int
astage_save(void *state, uint64_t ckpt, int final, uint8_t **buf,
    size_t *len)
{
	astage *s = state;
	(void)ckpt;
	(void)final;
	size_t n = META_LEN + 8;
	for (size_t b = 0; b < s->ntab; b++)
		for (ls_astage_key *k = s->tab[b]; k; k = k->next)
			n += 4 + ls_astage_record_size(k);
	uint8_t *p = malloc(n);
	if (p == NULL)
		return LS_ENOMEM;
	meta_put(s, p);
	ls_le_put(p + META_LEN, s->nkeys, 8);
	size_t at = META_LEN + 8;
	for (size_t b = 0; b < s->ntab; b++)
		for (ls_astage_key *k = s->tab[b]; k; k = k->next) {
			size_t rl = ls_astage_record_size(k);
			ls_le_put(p + at, rl, 4);
			ls_astage_record_put(k, p + at + 4);
			at += 4 + rl;
		}
	*buf = p;
	*len = n;
	return 0;
}

static int
astage_restore(void *state, const uint8_t *buf, size_t len)
{
	astage *s = state;
	if (buf == NULL || len == 0)
		return 0;
	int rv = LS_ECORRUPT;
	if (len >= META_LEN + 8 && (rv = meta_get(s, buf, META_LEN)) == 0) {
		uint64_t nk = ls_le_get(buf + META_LEN, 8);
		size_t at = META_LEN + 8;
		for (uint64_t i = 0; rv == 0 && i < nk; i++) {
			ls_astage_key *k;
			size_t rl = at + 4 <= len ? ls_le_get(buf + at, 4) : 0;
			if (at + 4 > len || rl > len - at - 4) {
				rv = LS_ECORRUPT;
				break;
			}
			rv = ls_astage_record_get(buf + at + 4, rl, s->nkey,
			    &s->acfg, &k);
			if (rv == 0)
				rv = add_loaded(s, k);
			at += 4 + rl;
		}
		if (rv == 0 && at != len)
			rv = LS_ECORRUPT;
	}
	if (rv != 0) {
		free_keys(s);
		restore_failed(s, rv);
	}
	return rv;
}

static int
sync_key(ls_state *st, const ls_astage_key *k)
{
	size_t rl = ls_astage_record_size(k);
	uint8_t *v = malloc(rl), *key = malloc(1 + (size_t)k->klen);
	int rv = LS_ENOMEM;
	if (v != NULL && key != NULL) {
		ls_astage_record_put(k, v);
		key[0] = 'k';
		memcpy(key + 1, k->key, k->klen);
		rv = ls_state_put(st, key, 1 + (size_t)k->klen, v, rl);
	}
	free(v);
	free(key);
	return rv;
}

static int
astage_sync(void *state, ls_state *st, int all)
{
	astage *s = state;
	int rv = 0;
	uint8_t key[1 + LS_ASTAGE_KEY_MAX];
	for (size_t i = 0; rv == 0 && i < s->ngone; i++) {
		key[0] = 'k';
		memcpy(key + 1, s->gone[i], s->gone_len[i]);
		rv = ls_state_delete(st, key, 1 + (size_t)s->gone_len[i]);
	}
	for (size_t b = 0; rv == 0 && b < s->ntab; b++)
		for (ls_astage_key *k = s->tab[b]; rv == 0 && k; k = k->next)
			if (all || k->dirty) {
				rv = sync_key(st, k);
				if (rv == 0)
					k->dirty = 0;
			}
	if (rv == 0 && (all || s->meta_dirty)) {
		uint8_t m[META_LEN];
		meta_put(s, m);
		if ((rv = ls_state_put(st, "m", 1, m, META_LEN)) == 0)
			s->meta_dirty = 0;
	}
	if (rv == 0)
		free_gone(s);
	return rv;
}

static int
load_one(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	astage *s = arg;
	ls_astage_key *key;
	int rv = ls_astage_record_get(v, vl, s->nkey, &s->acfg, &key);
	if (rv == 0 && (kl != 1 + (size_t)key->klen ||
	                   memcmp((const uint8_t *)k + 1, key->key,
	                       key->klen) != 0)) {
		ls_astage_key_free(key);
		rv = LS_ECORRUPT;
	} else if (rv == 0) {
		rv = add_loaded(s, key);
	}
	return rv;
}

typedef struct loadctx {
	astage *s;
	int rv;
} loadctx;

static int
load_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	loadctx *c = arg;
	c->rv = load_one(c->s, k, kl, v, vl);
	return c->rv != 0;
}

static int
astage_load(void *state, ls_state *st)
{
	astage *s = state;
	void *m = NULL;
	size_t ml = 0;
	int rv = ls_state_get(st, "m", 1, &m, &ml);
	if (rv == LS_ENOENT) {
		loadctx c = { s, 0 };
		/* no meta: a fresh state holds no keys either */
		rv = ls_state_scan(st, "k", 1, "l", 1, load_cb, &c);
		if (rv == 0 && (c.rv != 0 || s->nkeys > 0))
			rv = LS_ECORRUPT;
	} else if (rv == 0) {
		rv = meta_get(s, m, ml);
		loadctx c = { s, 0 };
		if (rv == 0)
			rv = ls_state_scan(st, "k", 1, "l", 1, load_cb, &c);
		if (rv == 0)
			rv = c.rv;
	}
	free(m);
	if (rv != 0) {
		free_keys(s);
		restore_failed(s, rv);
	}
	return rv;
}

/* ---- interactive queries: GET /v1/alerts/STAGE (docs/queries.md) ----
 * The alert rows this partition sent most recently (at least keep_alerts),
 * with a last field `open`: the key's alert is still open. */
static int
query_schema(const ls_topo_node *n, ls_rec_schema *out, char *err,
    size_t errlen)
{
	int rv = anomaly_schema(n, out, err, errlen);
	if (rv == 0 && (rv = ls_rec_schema_add(out, "open", LS_REC_BOOL,
	                    0)) != 0)
		snprintf(err, errlen, "cannot describe answers: %s",
		    ls_strerror(rv));
	return rv;
}

/* The query's last field, `open`, of out's last row. */
static void
set_open(ls_records *out, int open)
{
	ls_rec_value *o = &out->v[(size_t)(out->n - 1) * out->schema->n];
	o[out->schema->n - 1].i = open;
	o[out->schema->n - 1].null = 0;
}

static int
want_open(const ls_kind_query *q, int open)
{
	return !((q->flags & LS_KIND_QUERY_OPEN) && !open) &&
	    !((q->flags & LS_KIND_QUERY_CLOSED) && open);
}

static int
astage_query(void *state, const ls_kind_query *q, ls_records *out)
{
	astage *s = state;
	ls_evstage *f = &s->f;
	uint64_t mark = ++s->qgen;
	for (uint32_t b = 0; b < f->nrecent; b++) {
		const ls_records *r = f->recent[b];
		uint32_t na = r->schema->n - 1; /* the alert field */
		for (uint32_t i = 0; i < r->n; i++) {
			const ls_rec_value *v = &r->v[(size_t)i * r->schema->n];
			if (!v[na].i)
				continue; /* emit: scores -- only alerts here */
			ls_str keys[LS_ASTAGE_MAX_KEYS];
			uint32_t nk = ls_evstage_row_keys(r, i, keys,
			    LS_ASTAGE_MAX_KEYS);
			size_t kl = 0;
			for (uint32_t j = 0; j < nk && kl + 2 + keys[j].len <=
			     LS_ASTAGE_KEY_MAX; j++) {
				ls_le_put(s->kbuf + kl, keys[j].len, 2);
				memcpy(s->kbuf + kl + 2, keys[j].ptr,
				    keys[j].len);
				kl += 2 + keys[j].len;
			}
			ls_astage_key *k = find(s, s->kbuf, (uint32_t)kl,
			    ls_hash64(s->kbuf, kl, KEY_SEED));
			if (k != NULL && k->last_t == v[0].i)
				k->qmark = mark; /* its latest alert is here */
			if (!ls_evstage_match(q, keys, nk, v[0].i,
			        ls_i64_add_sat(v[0].i, s->interval_ns)))
				continue;
			int open = k != NULL && k->alert_t == v[0].i &&
			    k->det.active;
			if (!want_open(q, open))
				continue;
			if (ls_records_copy_row(out, r, i) == NULL)
				return LS_ENOMEM;
			set_open(out, open);
		}
	}
	/* keys whose latest alert is no longer (or not yet, after a restore)
	 * among the rows in memory: from their state */
	for (size_t b = 0; b < s->ntab; b++)
		for (ls_astage_key *k = s->tab[b]; k; k = k->next) {
			if (k->last_t == INT64_MIN || k->qmark == mark)
				continue;
			ls_str keys[LS_ASTAGE_MAX_KEYS];
			uint32_t nk = key_strs(s, k->key, keys);
			int open = k->alert_t == k->last_t && k->det.active;
			if (!ls_evstage_match(q, keys, nk, k->last_t,
			        ls_i64_add_sat(k->last_t, s->interval_ns)) ||
			    !want_open(q, open))
				continue;
			const char *det = k->last_det == LS_ASTAGE_NEW_KEY
			    ? "new_key"
			    : ls_anomaly_detector_name(k->last_det);
			if (fill(out, s, k, k->last_t, k->last_value,
			        k->last_score, k->last_lo, k->last_hi, det,
			        1) != 0)
				return LS_ENOMEM;
			set_open(out, open);
		}
	return 0;
}

static int
astage_receive(ls_ctx *ctx, void *state, ls_msg *m)
{
	astage *s = state;
	return ls_evstage_receive(ctx, &s->f, m);
}

static int
check_score(const char *v, char *why, size_t len)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end != '\0' || !(d > 0 && d <= 1)) {
		snprintf(why, len, "want a score in (0, 1]");
		return 1;
	}
	return 0;
}

static const ls_behaviour anomaly_behaviour = {
	.name = "anomaly",
	.state_size = sizeof(astage),
	.init = astage_init,
	.receive = astage_receive,
	.stop = astage_stop,
};

/* name, type, required, default, allowed, min, max, check, help */
const ls_kind ls_kind_anomaly = {
	.name = "anomaly",
	.role = LS_TOPO_STAGE,
	.flags = LS_KIND_KEYED,
	.params = LS_KIND_PARAMS(
	    { "key", LS_TV_LIST, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_field, "field(s) whose values each get their "
	                             "own metric stream and detector" },
	    { "metric", LS_TV_STRING, 0, "count", metric_names,
	        LS_KIND_ANY_INT, NULL, "the point of an interval: its events' "
	                               "count, or the sum, mean, max or min "
	                               "of value" },
	    { "value", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_field, "numeric field read by sum, mean, max, "
	                             "min" },
	    { "interval", LS_TV_DURATION, 0, "1m", NULL, 1, INT64_C(1) << 40,
	        NULL, "length of the intervals that make the points" },
	    { "grace", LS_TV_DURATION, 0, "0s", NULL, 0, INT64_C(1) << 40,
	        NULL, "how long past the watermark an interval stays open" },
	    { "expire", LS_TV_DURATION, 0, "24h", NULL, 1, INT64_C(1) << 40,
	        NULL, "a key without events this long is forgotten" },
	    { "emit", LS_TV_STRING, 0, "alerts",
	        LS_KIND_WORDS("alerts", "scores"), LS_KIND_ANY_INT, NULL,
	        "rows for the points that raise an alert, or for every "
	        "point" },
	    { "new_keys", LS_TV_BOOL, 0, "false", NULL, LS_KIND_ANY_INT, NULL,
	        "a key first seen after the warm-up raises an alert" },
	    { "warmup", LS_TV_INT, 0, "300", NULL, 0, 1000000, NULL,
	        "points of a key scored 0 while its detector learns" },
	    { "min_duration", LS_TV_INT, 0, "1", NULL, 1, 1000, NULL,
	        "points at or over alert_on before an alert" },
	    { "alert_on", LS_TV_FLOAT, 0, "0.4", NULL, LS_KIND_ANY_INT,
	        check_score,
	        "score in (0, 1] that opens an alert" },
	    { "seasonal", LS_TV_BOOL, 0, "true", NULL, LS_KIND_ANY_INT, NULL,
	        "learn a daily or weekly profile" },
	    { "period", LS_TV_DURATION, 0, "0s", NULL, 0, INT64_C(1) << 40,
	        NULL, "the seasonal period (0s: find a day or a week)" },
	    { "dead_letter", LS_TV_STRING, 0, NULL, NULL, LS_KIND_ANY_INT,
	        ls_topo_check_name, "sink that receives late events and "
	                            "events without the value" },
	    { "keep_alerts", LS_TV_INT, 0, "1000", NULL, 0, 1000000, NULL,
	        "alert rows kept in memory for queries (per partition)" }),
	.help = "per-key metric streams scored by an online anomaly detector; "
	        "alert rows",
	.behaviour = &anomaly_behaviour,
	.save = astage_save,
	.restore = astage_restore,
	.sync = astage_sync,
	.load = astage_load,
	.results = anomaly_schema,
	.query = astage_query,
	.query_schema = query_schema,
};
