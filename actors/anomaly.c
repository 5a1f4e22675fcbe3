/*
 * anomaly.c -- the online anomaly detector of one metric stream (see
 * anomaly.h; the method is described in docs/anomaly.md).
 *
 * Every detector reads the state as it was before the point (a prediction
 * error), then the point updates the state.  The saved form is written and
 * read by one walk over the fields (state_walk), so the two cannot disagree.
 */
#include "actors/anomaly.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/le.h"

#define NS_PER_DAY (86400LL * 1000000000LL)
#define ALPHA_MIN 1e-9     /* smallest weight of a forgetting statistic */
/* Bounds that keep every statistic finite (checked on load, kept by
 * ls_anomaly_update): values beyond VALUE_MAX are refused; means of
 * values and residuals stay within STAT_MAX, deviations (in sds) within
 * DEV_MAX, variances within VAR_MAX, so no square overflows. */
#define VALUE_MAX 1e100
#define STAT_MAX 4e150
#define DEV_MAX 1e110
#define VAR_MAX 1e303
#define Z_CAP 15.0       /* a deviation of Z_CAP sds is surprise 1 */
#define LEVEL_CLIP 4.0   /* one point moves the CUSUM by at most this */
#define LEVEL_FROM 1.0   /* the CUSUM reports from this share of h */
#define LOG_FLOOR 0.03   /* the likelihood sees log(surprise + this) */
#define LIK_SD_MIN 0.3   /* floor of the surprise distribution's sd */
#define CAL_SD_MIN 0.3   /* floor of a detector's deviation sd */
#define SEASON_TRUST 1.0 /* see the combination of deviations */
#define SEASON_SD_SHARE 0.2 /* seasonal sd floor, share of the overall sd */
#define RAW_MAX 1.0      /* surprise of one point at most */
#define SCORE_HALF 10.0  /* the tail 1e-10 scores 0.5 */

void
ls_anomaly_cfg_default(ls_anomaly_cfg *cfg)
{
	*cfg = (ls_anomaly_cfg){
		.warmup = 300,
		.lik_short = 4,
		.min_duration = 1,
		.cooldown = 200,
		.period_ns = 0,
		.zscore_alpha = 0.002,
		.ewma_alpha = 0.1,
		.quantile_rate = 0.02,
		.season_alpha = 0.1,
		.season_gain = 0.5,
		.cusum_k = 1.0,
		.cusum_h = 8.0,
		.cal_alpha = 0.001,
		.lik_alpha = 0.001,
		.alert_on = 0.4,
		.alert_off = 0.25,
		.repeat_weight = 0.1,
	};
}

/* Check one cfg; NULL when valid, else the name of the bad parameter. */
static const char *
cfg_check(const ls_anomaly_cfg *c)
{
#define OPEN01(v) (isfinite(v) && (v) >= ALPHA_MIN && (v) < 1.0)
	if (c->lik_short < 1 || c->lik_short > LS_ANOMALY_LIK_SHORT)
		return "lik_short (1..16)";
	if (c->warmup > 1000000)
		return "warmup (0..1000000)";
	if (c->min_duration < 1 || c->min_duration > 1000000)
		return "min_duration (1..1000000)";
	if (c->cooldown > 100000000)
		return "cooldown (0..100000000)";
	if (!OPEN01(c->zscore_alpha))
		return "zscore_alpha [1e-9..1)";
	if (!OPEN01(c->ewma_alpha))
		return "ewma_alpha [1e-9..1)";
	if (!OPEN01(c->quantile_rate))
		return "quantile_rate [1e-9..1)";
	if (!OPEN01(c->season_alpha))
		return "season_alpha [1e-9..1)";
	if (!OPEN01(c->cal_alpha))
		return "cal_alpha [1e-9..1)";
	if (!OPEN01(c->lik_alpha))
		return "lik_alpha [1e-9..1)";
	if (!(isfinite(c->season_gain) && c->season_gain > 0 &&
	        c->season_gain <= 1))
		return "season_gain (0..1]";
	if (!(isfinite(c->cusum_k) && c->cusum_k >= 0 && c->cusum_k < 100))
		return "cusum_k (0..100)";
	if (!(isfinite(c->cusum_h) && c->cusum_h > 0 && c->cusum_h < 1e6))
		return "cusum_h (0..1e6)";
	if (!(isfinite(c->alert_on) && c->alert_on > 0 && c->alert_on <= 1))
		return "alert_on (0..1]";
	if (!(isfinite(c->alert_off) && c->alert_off >= 0 &&
	        c->alert_off <= c->alert_on))
		return "alert_off (0..alert_on]";
	if (!(isfinite(c->repeat_weight) && c->repeat_weight >= 0 &&
	        c->repeat_weight <= 1))
		return "repeat_weight [0..1]";
	/* A period must hold at least one ns per bin. */
	if (c->period_ns > 0 && c->period_ns < LS_ANOMALY_BINS)
		return "period_ns (>= 128 ns, 0 or negative)";
#undef OPEN01
	return NULL;
}

static void
season_start(ls_anomaly_season *s, int64_t period_ns)
{
	s->period_ns = period_ns;
	s->res = (ls_anomaly_moments){ 0.0, 0.0 };
	for (int i = 0; i < LS_ANOMALY_BINS; i++)
		s->bin[i] = NAN;
}

int
ls_anomaly_init(ls_anomaly *d, const ls_anomaly_cfg *cfg, char *err,
    size_t errlen)
{
	const char *bad = cfg_check(cfg);
	if (bad != NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "anomaly: bad parameter %s", bad);
		return LS_EINVAL;
	}
	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	if (cfg->period_ns > 0) {
		season_start(&d->season[0], cfg->period_ns);
		season_start(&d->season[1], 0);
	} else {
		/* Detected: a daily or weekly period, or none. */
		season_start(&d->season[0], cfg->period_ns < 0 ? 0 : NS_PER_DAY);
		season_start(&d->season[1],
		    cfg->period_ns < 0 ? 0 : 7 * NS_PER_DAY);
	}
	return 0;
}

const char *
ls_anomaly_detector_name(int detector)
{
	static const char *const names[LS_ANOMALY_NDETECTORS] = {
		"none", "zscore", "ewma", "mad", "iqr", "seasonal", "level"
	};
	if (detector < 0 || detector >= LS_ANOMALY_NDETECTORS)
		return "none";
	return names[detector];
}

/* Exponentially forgotten Welford update of *m with x, weight a. */
static inline void
moments_add(ls_anomaly_moments *m, double x, double a)
{
	double diff = x - m->mean;
	double incr = a * diff;
	m->mean += incr;
	m->var = (1.0 - a) * (m->var + diff * incr);
}

/* The weight of the k-th sample (k >= 1) of an exponentially forgotten
 * statistic: 1/k until that falls under alpha, so that the first samples
 * are averaged exactly instead of decaying from a start value. */
static inline double
warm_alpha(double alpha, uint64_t k)
{
	double a = 1.0 / (double)k;
	return a > alpha ? a : alpha;
}

static inline int
season_bin(const ls_anomaly_season *s, int64_t t)
{
	int64_t ph = t % s->period_ns;
	if (ph < 0)
		ph += s->period_ns;
	/* ph * BINS may overflow for periods near INT64_MAX: use doubles. */
	int b = (int)((double)ph / (double)s->period_ns * LS_ANOMALY_BINS);
	return b < LS_ANOMALY_BINS ? b : LS_ANOMALY_BINS - 1;
}

/* Time since the first point; t >= t_first, and the difference may not
 * fit int64 (it always fits uint64). */
static inline uint64_t
elapsed(const ls_anomaly *d, int64_t t)
{
	return (uint64_t)t - (uint64_t)d->t_first;
}

/* The seasonal candidate in use at time t, or -1. */
static int
season_pick(const ls_anomaly *d, int64_t t)
{
	int best = -1;
	double best_var = 0.0;
	for (int c = 0; c < LS_ANOMALY_SEASONS; c++) {
		const ls_anomaly_season *s = &d->season[c];
		if (s->period_ns <= 0 ||
		    elapsed(d, t) < 2 * (uint64_t)s->period_ns)
			continue;
		if (d->cfg.period_ns <= 0 &&
		    !(s->res.var < d->cfg.season_gain * d->lng.var))
			continue;
		if (best < 0 || s->res.var < best_var) {
			best = c;
			best_var = s->res.var;
		}
	}
	return best;
}

/* The score of a point whose recent surprise lies zl sds above the usual:
 * L = -log10 of the Gaussian upper tail at zl (its asymptotic form where
 * erfc underflows), mapped to [0,1) as L / (L + SCORE_HALF). */
static double
tail_score(double zl)
{
	double lt;
	if (zl <= 0)
		return 0.0;
	if (zl < 30) {
		lt = -log10(0.5 * erfc(zl * M_SQRT1_2));
	} else {
		lt = zl * zl / (2 * M_LN10) + log10(zl * sqrt(2 * M_PI));
	}
	if (lt < 0)
		lt = 0;
	return lt / (lt + SCORE_HALF);
}

static void
first_point(ls_anomaly *d, int64_t t, double x)
{
	d->t_first = d->t_last = t;
	d->lng = (ls_anomaly_moments){ x, 0.0 };
	d->fast = x;
	d->q[0] = d->q[1] = d->q[2] = x;
	d->mad = 0.0;
	for (int c = 0; c < LS_ANOMALY_SEASONS; c++)
		if (d->season[c].period_ns > 0)
			d->season[c].bin[season_bin(&d->season[c], t)] = x;
}

void
ls_anomaly_update(ls_anomaly *d, int64_t t, double x, ls_anomaly_result *out)
{
	const ls_anomaly_cfg *cfg = &d->cfg;

	*out = (ls_anomaly_result){ 0 };
	out->active = d->active;
	if (!isfinite(x) || fabs(x) > VALUE_MAX)
		return;
	if (d->n++ == 0) {
		first_point(d, t, x);
		return;
	}
	if (t < d->t_last)
		t = d->t_last;
	d->t_last = t;

	/* ---- the detectors, on the state before this point ---- */
	/* The smallest scale: 0.1 % of the level, so that a flat series
	 * still has a yardstick. */
	double eps = 1e-9 + 1e-3 * fabs(d->lng.mean);
	double sd = sqrt(d->lng.var + eps * eps);
	double z[LS_ANOMALY_NDETECTORS] = { 0 };

	double dev = x - d->lng.mean;
	z[LS_ANOMALY_ZSCORE] = fabs(dev) / sd;

	double fast = d->fast + cfg->ewma_alpha * (x - d->fast);
	double ewma_sd = sd * sqrt(cfg->ewma_alpha / (2.0 - cfg->ewma_alpha));
	z[LS_ANOMALY_EWMA] = fabs(fast - d->lng.mean) / ewma_sd;

	double med = d->q[1];
	double mad = d->mad > eps ? d->mad : eps;
	z[LS_ANOMALY_MAD] = 0.6745 * fabs(x - med) / mad;

	double iqr = d->q[2] - d->q[0];
	if (iqr < eps)
		iqr = eps;
	if (x > d->q[2])
		z[LS_ANOMALY_IQR] = 0.6745 + 1.349 * (x - d->q[2]) / iqr;
	else if (x < d->q[0])
		z[LS_ANOMALY_IQR] = 0.6745 + 1.349 * (d->q[0] - x) / iqr;

	int sc = season_pick(d, t);
	double base = 0.0, season_sd = 0.0;
	if (sc >= 0) {
		const ls_anomaly_season *s = &d->season[sc];
		double b = s->bin[season_bin(s, t)];
		if (!isnan(b)) {
			base = b;
			season_sd = sqrt(s->res.var + eps * eps +
			    SEASON_SD_SHARE * SEASON_SD_SHARE * d->lng.var);
			z[LS_ANOMALY_SEASONAL] = fabs(x - b) / season_sd;
		} else {
			sc = -1;
		}
	}

	double zs = dev / sd;
	if (zs > LEVEL_CLIP)
		zs = LEVEL_CLIP;
	else if (zs < -LEVEL_CLIP)
		zs = -LEVEL_CLIP;
	double cp = d->cusum_pos + zs - cfg->cusum_k;
	double cn = d->cusum_neg - zs - cfg->cusum_k;
	cp = cp > 0 ? cp : 0;
	cn = cn > 0 ? cn : 0;
	double cmax = cp > cn ? cp : cn;
	z[LS_ANOMALY_LEVEL] = cmax > LEVEL_FROM * cfg->cusum_h ? 4.0 * cmax / cfg->cusum_h : 0.0;
	if (cmax > cfg->cusum_h)
		cp = cn = 0; /* a shift was signalled: start over */

	/* Each deviation against the detector's own history: a detector
	 * that is always far off on this series (an EWMA chart on a
	 * seasonal one) says nothing unless it is further off than usual. */
	for (int i = LS_ANOMALY_ZSCORE; i < LS_ANOMALY_NDETECTORS; i++)
		if (!(z[i] <= DEV_MAX))
			z[i] = DEV_MAX;
	uint64_t n_cal = d->n > cfg->warmup / 3 ? d->n - cfg->warmup / 3 : 0;
	int strongest = LS_ANOMALY_ZSCORE;
	double cmax_dev = 0.0;
	double c_all[LS_ANOMALY_NDETECTORS] = { 0 };
	for (int i = LS_ANOMALY_ZSCORE; i < LS_ANOMALY_NDETECTORS; i++) {
		ls_anomaly_moments *m = &d->cal[i];
		double csd = sqrt(m->var);
		if (csd < CAL_SD_MIN)
			csd = CAL_SD_MIN;
		double c = n_cal > 1 ? (z[i] - m->mean) / csd : 0.0;
		/* The CUSUM is 0 but after a run off the mean: its own
		 * distribution is no yardstick, its decision interval is. */
		if (i == LS_ANOMALY_LEVEL)
			c = z[i];
		if (n_cal > 0)
			moments_add(m, z[i], warm_alpha(cfg->cal_alpha, n_cal));
		c_all[i] = c;
	}
	/* A seasonal baseline in use that expects the point vouches for it:
	 * the other detectors, blind to the season, may exceed it only by
	 * SEASON_TRUST sds. */
	double cap = sc >= 0 ? c_all[LS_ANOMALY_SEASONAL] + SEASON_TRUST : INFINITY;
	if (cap < SEASON_TRUST)
		cap = SEASON_TRUST;
	for (int i = LS_ANOMALY_ZSCORE; i < LS_ANOMALY_NDETECTORS; i++) {
		double c = i == LS_ANOMALY_SEASONAL || c_all[i] < cap ? c_all[i]
		                                                      : cap;
		if (c > cmax_dev) {
			cmax_dev = c;
			strongest = i;
		}
	}
	memcpy(out->dev, z, sizeof(z));
	double zmax = cmax_dev / Z_CAP;
	double raw = zmax * zmax;
	if (raw > RAW_MAX)
		raw = RAW_MAX;

	/* ---- the state update ---- */
	moments_add(&d->lng, x, warm_alpha(cfg->zscore_alpha, d->n));
	d->fast = fast;
	d->cusum_pos = cp;
	d->cusum_neg = cn;
	double step = cfg->quantile_rate * (iqr + 0.1 * sd);
	static const double tau[3] = { 0.25, 0.5, 0.75 };
	for (int i = 0; i < 3; i++)
		d->q[i] += step * (x < d->q[i] ? tau[i] - 1.0 : tau[i]);
	if (d->q[0] > d->q[1])
		d->q[0] = d->q[1];
	if (d->q[2] < d->q[1])
		d->q[2] = d->q[1];
	double adev = fabs(x - d->q[1]);
	d->mad += step * (adev < d->mad ? -0.5 : 0.5);
	if (d->mad < 0)
		d->mad = 0;
	for (int i = 0; i < 3; i++)
		d->q[i] = d->q[i] > STAT_MAX ? STAT_MAX
		        : d->q[i] < -STAT_MAX ? -STAT_MAX : d->q[i];
	if (d->mad > STAT_MAX)
		d->mad = STAT_MAX;
	if (d->n <= cfg->warmup / 3) {
		/* Too few points for the quantiles to have moved: start them
		 * where a normal distribution of these moments has them. */
		double s1 = sqrt(d->lng.var);
		d->q[0] = d->lng.mean - 0.6745 * s1;
		d->q[1] = d->lng.mean;
		d->q[2] = d->lng.mean + 0.6745 * s1;
		d->mad = 0.6745 * s1;
	}
	for (int c = 0; c < LS_ANOMALY_SEASONS; c++) {
		ls_anomaly_season *s = &d->season[c];
		if (s->period_ns <= 0)
			continue;
		double *bin = &s->bin[season_bin(s, t)];
		if (isnan(*bin)) {
			*bin = x;
			continue;
		}
		double r = x - *bin;
		moments_add(&s->res, r, cfg->zscore_alpha);
		/* A bin is the mean of its first visits, then forgets: the
		 * k-th period seen weighs max(1/k, season_alpha). */
		double k = (double)(elapsed(d, t) / (uint64_t)s->period_ns) + 1.0;
		double a = 1.0 / k > cfg->season_alpha ? 1.0 / k
		                                       : cfg->season_alpha;
		*bin += a * r;
	}

	/* ---- the likelihood step ---- */
	uint32_t L = cfg->lik_short;
	d->recent_sum += raw - d->recent[d->recent_pos];
	d->recent[d->recent_pos] = raw;
	d->recent_pos = d->recent_pos + 1 < L ? d->recent_pos + 1 : 0;
	if (d->recent_sum < 0)
		d->recent_sum = 0;
	double avg = d->recent_sum / L;
	/* The distribution of recent surprise is skewed to the right; its
	 * logarithm is close enough to normal for a Gaussian tail. */
	avg = log(avg + LOG_FLOOR);
	out->raw = raw;

	uint64_t lik_from = 2 * (uint64_t)cfg->warmup / 3;
	if (d->n <= lik_from)
		return;
	double lsd = sqrt(d->lik.var);
	if (lsd < LIK_SD_MIN)
		lsd = LIK_SD_MIN;
	double zl = (avg - d->lik.mean) / lsd;
	moments_add(&d->lik, avg, warm_alpha(cfg->lik_alpha, d->n - lik_from));
	if (d->n <= cfg->warmup)
		return;
	double score = tail_score(zl);

	out->score = score;
	out->detector = (uint8_t)strongest;
	double lo, hi;
	switch (strongest) {
	case LS_ANOMALY_EWMA:
		lo = d->lng.mean - 3 * ewma_sd;
		hi = d->lng.mean + 3 * ewma_sd;
		break;
	case LS_ANOMALY_MAD:
		lo = med - 3 * 1.4826 * mad;
		hi = med + 3 * 1.4826 * mad;
		break;
	case LS_ANOMALY_IQR:
		lo = d->q[0] - 1.5 * iqr;
		hi = d->q[2] + 1.5 * iqr;
		break;
	case LS_ANOMALY_SEASONAL:
		lo = base - 3 * season_sd;
		hi = base + 3 * season_sd;
		break;
	default: /* z-score and level: the long-run range */
		lo = d->lng.mean - 3 * sd;
		hi = d->lng.mean + 3 * sd;
		break;
	}
	out->expected_lo = lo;
	out->expected_hi = hi;

	/* ---- alerts: hysteresis, minimum duration, cool-down ---- */
	if (d->active) {
		if (score < cfg->alert_off) {
			d->active = 0;
			d->quiet = cfg->cooldown;
		}
	} else if (d->quiet > 0) {
		d->quiet--;
		d->run = 0;
	} else if (score >= cfg->alert_on) {
		if (++d->run >= cfg->min_duration) {
			d->run = 0;
			d->active = 1;
			d->last_detector = (uint8_t)strongest;
			out->alert = 1;
		}
	} else {
		d->run = 0;
	}
	out->active = d->active;
	/* One anomaly, one high score: the points after its alert are
	 * scored down, as they raise no new alert. */
	if ((d->active && !out->alert) || d->quiet > 0)
		out->score *= cfg->repeat_weight;
}

/* ---- saved state ----
 *
 * offset  size  field
 *   0      4    magic "LSAD"
 *   4      2    version (1)
 *   6      2    reserved, 0
 *   8      4    total length in bytes
 *  12      ...  the fields of ls_anomaly in declaration order, each
 *               little-endian: u32 and u64 integers, i64 as two's
 *               complement, doubles as their IEEE-754 bits, u8 as one byte
 */
#define HEADER 12

typedef struct walker {
	uint8_t *w;       /* writing: the output, else NULL */
	const uint8_t *r; /* reading: the input */
	size_t off;
} walker;

static void
io_bytes(walker *io, uint64_t *v, int n)
{
	if (io->w != NULL)
		ls_le_put(io->w + io->off, *v, n);
	else if (io->r != NULL)
		*v = ls_le_get(io->r + io->off, n);
	io->off += (size_t)n;
}

static void
io_u8(walker *io, uint8_t *v)
{
	uint64_t x = *v;
	io_bytes(io, &x, 1);
	*v = (uint8_t)x;
}

static void
io_u32(walker *io, uint32_t *v)
{
	uint64_t x = *v;
	io_bytes(io, &x, 4);
	*v = (uint32_t)x;
}

static void
io_u64(walker *io, uint64_t *v)
{
	io_bytes(io, v, 8);
}

/* Any 8-byte field (i64, double) through its bit pattern. */
static void
io_raw64(walker *io, void *v)
{
	uint64_t x;
	memcpy(&x, v, 8);
	io_bytes(io, &x, 8);
	memcpy(v, &x, 8);
}

static void
io_i64(walker *io, int64_t *v)
{
	io_raw64(io, v);
}

static void
io_f64(walker *io, double *v)
{
	io_raw64(io, v);
}

static void
io_moments(walker *io, ls_anomaly_moments *m)
{
	io_f64(io, &m->mean);
	io_f64(io, &m->var);
}

/* Every field, in declaration order: writes, reads or only counts. */
static void
state_walk(walker *io, ls_anomaly *d)
{
	ls_anomaly_cfg *c = &d->cfg;
	io_u32(io, &c->warmup);
	io_u32(io, &c->lik_short);
	io_u32(io, &c->min_duration);
	io_u32(io, &c->cooldown);
	io_i64(io, &c->period_ns);
	io_f64(io, &c->zscore_alpha);
	io_f64(io, &c->ewma_alpha);
	io_f64(io, &c->quantile_rate);
	io_f64(io, &c->season_alpha);
	io_f64(io, &c->season_gain);
	io_f64(io, &c->cusum_k);
	io_f64(io, &c->cusum_h);
	io_f64(io, &c->cal_alpha);
	io_f64(io, &c->lik_alpha);
	io_f64(io, &c->alert_on);
	io_f64(io, &c->alert_off);
	io_f64(io, &c->repeat_weight);
	io_u64(io, &d->n);
	io_i64(io, &d->t_first);
	io_i64(io, &d->t_last);
	io_moments(io, &d->lng);
	io_f64(io, &d->fast);
	for (int i = 0; i < 3; i++)
		io_f64(io, &d->q[i]);
	io_f64(io, &d->mad);
	io_f64(io, &d->cusum_pos);
	io_f64(io, &d->cusum_neg);
	for (int s = 0; s < LS_ANOMALY_SEASONS; s++) {
		io_i64(io, &d->season[s].period_ns);
		io_moments(io, &d->season[s].res);
		for (int i = 0; i < LS_ANOMALY_BINS; i++)
			io_f64(io, &d->season[s].bin[i]);
	}
	for (int i = 0; i < LS_ANOMALY_NDETECTORS; i++)
		io_moments(io, &d->cal[i]);
	io_moments(io, &d->lik);
	for (int i = 0; i < LS_ANOMALY_LIK_SHORT; i++)
		io_f64(io, &d->recent[i]);
	io_f64(io, &d->recent_sum);
	io_u32(io, &d->recent_pos);
	io_u32(io, &d->run);
	io_u32(io, &d->quiet);
	io_u8(io, &d->active);
	io_u8(io, &d->last_detector);
}

size_t
ls_anomaly_state_size(void)
{
	ls_anomaly d = { 0 };
	walker io = { NULL, NULL, HEADER };
	state_walk(&io, &d);
	return io.off;
}

int
ls_anomaly_save(const ls_anomaly *d, uint8_t *buf, size_t cap, size_t *len)
{
	size_t size = ls_anomaly_state_size();
	if (cap < size)
		return LS_ERANGE;
	ls_anomaly copy = *d;
	memcpy(buf, LS_ANOMALY_MAGIC, 4);
	ls_le_put(buf + 4, LS_ANOMALY_VERSION, 2);
	ls_le_put(buf + 6, 0, 2);
	ls_le_put(buf + 8, size, 4);
	walker io = { buf, NULL, HEADER };
	state_walk(&io, &copy);
	*len = size;
	return 0;
}

static int
within(double v, double max)
{
	return isfinite(v) && fabs(v) <= max;
}

static int
moments_ok(const ls_anomaly_moments *m, double mean_max)
{
	return within(m->mean, mean_max) && within(m->var, VAR_MAX) &&
	    m->var >= 0;
}

static int
finite_nonneg(double v, double max)
{
	return within(v, max) && v >= 0;
}

/* Every invariant ls_anomaly_update relies on or keeps. */
static int
state_ok(const ls_anomaly *d)
{
	const ls_anomaly_cfg *c = &d->cfg;
	if (cfg_check(c) != NULL)
		return 0;
	if (d->n > 0 && d->t_first > d->t_last)
		return 0;
	for (int i = 0; i < LS_ANOMALY_NDETECTORS; i++)
		if (!moments_ok(&d->cal[i], DEV_MAX))
			return 0;
	double cusum_max = c->cusum_h + LEVEL_CLIP;
	if (!moments_ok(&d->lng, STAT_MAX) || !moments_ok(&d->lik, 10.0) ||
	    d->lik.var > 100.0 || !within(d->fast, STAT_MAX) ||
	    !finite_nonneg(d->mad, STAT_MAX) ||
	    !finite_nonneg(d->cusum_pos, cusum_max) ||
	    !finite_nonneg(d->cusum_neg, cusum_max))
		return 0;
	for (int i = 0; i < 3; i++)
		if (!within(d->q[i], STAT_MAX))
			return 0;
	if (!(d->q[0] <= d->q[1] && d->q[1] <= d->q[2]))
		return 0;
	for (int s = 0; s < LS_ANOMALY_SEASONS; s++) {
		const ls_anomaly_season *ss = &d->season[s];
		if (ss->period_ns < 0 ||
		    (ss->period_ns > 0 && ss->period_ns < LS_ANOMALY_BINS) ||
		    !moments_ok(&ss->res, 2 * STAT_MAX))
			return 0;
		/* The candidates follow from cfg.period_ns. */
		if (c->period_ns < 0 && ss->period_ns != 0)
			return 0;
		if (c->period_ns > 0 &&
		    ss->period_ns != (s == 0 ? c->period_ns : 0))
			return 0;
		if (c->period_ns == 0 &&
		    ss->period_ns != (s == 0 ? NS_PER_DAY : 7 * NS_PER_DAY))
			return 0;
		for (int i = 0; i < LS_ANOMALY_BINS; i++)
			if (!isnan(ss->bin[i]) && !within(ss->bin[i], STAT_MAX))
				return 0;
	}
	for (int i = 0; i < LS_ANOMALY_LIK_SHORT; i++) {
		if (!(d->recent[i] >= 0 && d->recent[i] <= 1))
			return 0;
		if (i >= (int)c->lik_short && d->recent[i] != 0)
			return 0;
	}
	if (!(d->recent_sum >= 0 && d->recent_sum <= LS_ANOMALY_LIK_SHORT))
		return 0;
	if (d->recent_pos >= c->lik_short || d->run >= c->min_duration ||
	    d->quiet > c->cooldown || d->active > 1 ||
	    d->last_detector >= LS_ANOMALY_NDETECTORS)
		return 0;
	return 1;
}

int
ls_anomaly_load(ls_anomaly *d, const uint8_t *buf, size_t len)
{
	size_t size = ls_anomaly_state_size();
	if (buf == NULL || len != size || memcmp(buf, LS_ANOMALY_MAGIC, 4) != 0 ||
	    ls_le_get(buf + 4, 2) != LS_ANOMALY_VERSION ||
	    ls_le_get(buf + 6, 2) != 0 || ls_le_get(buf + 8, 4) != size)
		return LS_ECORRUPT;
	ls_anomaly tmp;
	memset(&tmp, 0, sizeof(tmp));
	walker io = { NULL, buf, HEADER };
	state_walk(&io, &tmp);
	if (!state_ok(&tmp))
		return LS_ECORRUPT;
	*d = tmp;
	return 0;
}
