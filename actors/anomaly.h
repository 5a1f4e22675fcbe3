/*
 * anomaly.h -- an online anomaly detector for one metric stream (one key).
 *
 * Each point (timestamp, value) goes through six detectors -- a rolling
 * z-score (exponentially forgotten Welford), an EWMA control chart, robust
 * median/MAD and IQR fences from streaming quantiles, a seasonal baseline
 * (daily or weekly profile, detected or configured) and a two-sided CUSUM
 * for level shifts -- whose largest deviation becomes a raw surprise in
 * [0,1]; a likelihood step (the tail probability of the recent surprise
 * against the distribution of past surprises, after Numenta's anomaly
 * likelihood) turns it into the score in [0,1].  Alerts follow the score
 * with warm-up, hysteresis, a minimum duration and a cool-down, so one
 * anomaly raises one alert.  docs/anomaly.md describes the method and every
 * parameter.
 *
 * An ls_anomaly is a flat struct with no pointers (2.6 KB): the caller
 * allocates one per key, and nothing here allocates, locks or reads a clock.
 * Every update costs O(1) time; the state never grows.  One ls_anomaly must
 * not be used by two threads at once; distinct ones are independent.  Its
 * state is saved to and loaded from a versioned byte format
 * (ls_anomaly_save / ls_anomaly_load) that the loader validates field by
 * field, so a stored or received state cannot corrupt a detector.
 */
#ifndef LS_ACTORS_ANOMALY_H
#define LS_ACTORS_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#define LS_ANOMALY_BINS 128      /* phase bins of a seasonal profile */
#define LS_ANOMALY_SEASONS 2     /* candidate periods (day and week) */
#define LS_ANOMALY_LIK_SHORT 16  /* most points of the short average */
#define LS_ANOMALY_MAGIC "LSAD"  /* first 4 bytes of a saved state */
#define LS_ANOMALY_VERSION 1     /* format version of a saved state */

/* The detectors.  Values are stable: they are stored in saved states. */
typedef enum ls_anomaly_detector {
	LS_ANOMALY_NONE = 0,
	LS_ANOMALY_ZSCORE = 1,   /* rolling z-score */
	LS_ANOMALY_EWMA = 2,     /* EWMA mean against the long-run mean */
	LS_ANOMALY_MAD = 3,      /* median / MAD */
	LS_ANOMALY_IQR = 4,      /* IQR fences */
	LS_ANOMALY_SEASONAL = 5, /* seasonal baseline */
	LS_ANOMALY_LEVEL = 6,    /* level shift (CUSUM) */
	LS_ANOMALY_NDETECTORS = 7
} ls_anomaly_detector;

/* The parameters.  ls_anomaly_cfg_default fills the defaults documented in
 * docs/anomaly.md; ls_anomaly_init checks every field. */
typedef struct ls_anomaly_cfg {
	uint32_t warmup;       /* points scored 0 while the detectors learn */
	uint32_t lik_short;    /* points in the recent-surprise average, 1..16 */
	uint32_t min_duration; /* points at or over alert_on before an alert */
	uint32_t cooldown;     /* points after an alert ends before the next */
	int64_t period_ns;     /* seasonal period: 0 detect day/week, <0 none */
	double zscore_alpha;   /* forgetting of the long-run mean/variance */
	double ewma_alpha;     /* weight of a point in the fast EWMA */
	double quantile_rate;  /* step of the streaming quantiles, in IQRs */
	double season_alpha;   /* weight of a visit in a seasonal bin */
	double season_gain;    /* residual/overall variance below which a
	                        * period is taken as present */
	double cusum_k;        /* CUSUM slack, in standard deviations */
	double cusum_h;        /* CUSUM decision interval, in sds */
	double cal_alpha;      /* forgetting of each detector's own
	                        * distribution of deviations */
	double lik_alpha;      /* forgetting of the surprise distribution */
	double alert_on;       /* score that opens an alert */
	double alert_off;      /* score under which an open alert closes */
	double repeat_weight;  /* factor on the score of points of an alert
	                        * already raised (open or cooling down) */
} ls_anomaly_cfg;

/* The outcome of one point.  expected_lo/hi is the range the firing
 * detector expected (meaningful when detector != LS_ANOMALY_NONE). */
typedef struct ls_anomaly_result {
	double score;       /* in [0,1]; 0 during warm-up */
	double raw;         /* surprise of this point alone, in [0,1] */
	double expected_lo; /* range the strongest detector expected */
	double expected_hi;
	double dev[LS_ANOMALY_NDETECTORS]; /* each detector's deviation, in
	                                    * standard deviations (index 0
	                                    * unused) */
	uint8_t detector;   /* ls_anomaly_detector: strongest deviation */
	uint8_t alert;      /* 1: this point raises a new alert */
	uint8_t active;     /* 1: an alert is open after this point */
} ls_anomaly_result;

/* Exponentially forgotten mean and variance (Welford's update). */
typedef struct ls_anomaly_moments {
	double mean;
	double var;
} ls_anomaly_moments;

/* One candidate period of the seasonal baseline. */
typedef struct ls_anomaly_season {
	int64_t period_ns;              /* 0: unused */
	ls_anomaly_moments res;         /* residuals of this profile */
	double bin[LS_ANOMALY_BINS];    /* profile; NaN: bin never visited */
} ls_anomaly_season;

/* The whole state of one stream.  Treat as opaque; flat, so it may be
 * copied with memcpy (the copy is an independent detector). */
typedef struct ls_anomaly {
	ls_anomaly_cfg cfg;
	uint64_t n;                 /* points seen */
	int64_t t_first;            /* timestamp of the first point */
	int64_t t_last;             /* timestamp of the latest point */
	ls_anomaly_moments lng;     /* long-run moments (z-score, CUSUM) */
	double fast;                /* fast EWMA of the value */
	double q[3];                /* streaming quartiles Q1, median, Q3 */
	double mad;                 /* streaming median of |x - median| */
	double cusum_pos, cusum_neg;
	ls_anomaly_season season[LS_ANOMALY_SEASONS];
	ls_anomaly_moments cal[LS_ANOMALY_NDETECTORS]; /* of each deviation */
	ls_anomaly_moments lik;     /* distribution of the short averages */
	double recent[LS_ANOMALY_LIK_SHORT]; /* ring of recent surprises */
	double recent_sum;
	uint32_t recent_pos;
	uint32_t run;               /* consecutive points >= alert_on */
	uint32_t quiet;             /* points left in the cool-down */
	uint8_t active;             /* an alert is open */
	uint8_t last_detector;      /* detector of the open/last alert */
} ls_anomaly;

/* Fill *cfg with the defaults (docs/anomaly.md). */
void ls_anomaly_cfg_default(ls_anomaly_cfg *cfg);

/* Check *cfg and start *d with it (borrowed, copied).  Returns 0, or
 * LS_EINVAL with the offending parameter named in err (errlen bytes,
 * NUL-terminated; err may be NULL) and *d untouched. */
int ls_anomaly_init(ls_anomaly *d, const ls_anomaly_cfg *cfg, char *err,
    size_t errlen);

/* Feed one point: t_ns (ns since the epoch, not decreasing; a point older
 * than the previous one is scored but does not move the seasonal phase
 * backwards) and value.  A value that is not finite, or larger than 1e100
 * in magnitude, is scored 0 and leaves the state unchanged.  Fills *out
 * (required). */
void ls_anomaly_update(ls_anomaly *d, int64_t t_ns, double value,
    ls_anomaly_result *out);

/* Name of a detector ("zscore", "ewma", "mad", "iqr", "seasonal",
 * "level", "none"); never NULL. */
const char *ls_anomaly_detector_name(int detector);

/* Bytes ls_anomaly_save writes (the same for every state). */
size_t ls_anomaly_state_size(void);

/* Write the state of *d (borrowed) to buf[0..cap).  Returns 0 and the
 * length in *len, or LS_ERANGE when cap < ls_anomaly_state_size(). */
int ls_anomaly_save(const ls_anomaly *d, uint8_t *buf, size_t cap,
    size_t *len);

/* Replace *d with the state in buf[0..len) (borrowed).  Returns 0, or
 * LS_ECORRUPT (bad magic, version, length or any field out of its
 * range) with *d untouched.  A loaded detector continues exactly as the
 * saved one would have. */
int ls_anomaly_load(ls_anomaly *d, const uint8_t *buf, size_t len);

#endif /* LS_ACTORS_ANOMALY_H */
