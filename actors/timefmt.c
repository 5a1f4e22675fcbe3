/*
 * timefmt.c -- timestamp layouts of real logs to UTC nanoseconds (see
 * timefmt.h).  Integer arithmetic only; no libc time conversion except
 * time() for the current year.
 */
#include "timefmt.h"

#include <string.h>
#include <time.h>

#include "runtime/err.h"

#define NS_PER_SEC 1000000000LL

/* Seconds bounds that keep secs * 1e9 + nsec inside int64 (and away from
 * INT64_MIN, which is LS_TIME_UNKNOWN). */
#define SEC_MAX (INT64_MAX / NS_PER_SEC - 1)
#define SEC_MIN (-(INT64_MAX / NS_PER_SEC) + 1)

int64_t
ls_timefmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Shift the year to start in March so the leap day is last; then a
	 * 400-year era has a fixed number of days (146097). */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);             /* 0..399 */
	unsigned mp = m > 2 ? m - 3 : m + 9;                  /* 0..11 */
	unsigned doy = (153 * mp + 2) / 5 + d - 1;            /* 0..365 */
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
	return era * 146097 + (int64_t)doe - 719468;
}

void
ls_timefmt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30,
	                                      31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int
ls_timefmt_from_civil(const ls_civil *c, int64_t *ns)
{
	if (c->year < 0 || c->year > 9999 || c->mon < 1 || c->mon > 12 ||
	    c->day < 1 || c->day > days_in_month(c->year, c->mon) ||
	    c->hour < 0 || c->hour > 23 || c->min < 0 || c->min > 59 ||
	    c->sec < 0 || c->sec > 60 || c->nsec < 0 || c->nsec >= NS_PER_SEC ||
	    c->utcoff <= -86400 || c->utcoff >= 86400)
		return LS_EPARSE;
	int64_t days = ls_timefmt_days_from_civil(c->year, (unsigned)c->mon,
	                                          (unsigned)c->day);
	int64_t secs =
	    days * 86400 + c->hour * 3600 + c->min * 60 + c->sec - c->utcoff;
	if (secs > SEC_MAX || secs < SEC_MIN)
		return LS_ERANGE;
	*ns = secs * NS_PER_SEC + c->nsec;
	return 0;
}

int
ls_timefmt_current_year(void)
{
	int64_t y;
	unsigned m, d;
	time_t now = time(NULL);

	ls_timefmt_civil_from_days(
	    (int64_t)now / 86400 - ((int64_t)now % 86400 < 0), &y, &m, &d);
	return (int)y;
}

/* ---- small scanners: each reads only inside p[0..n) ---- */

/* Read exactly cnt digits at p[i..]; -1 when not all digits. */
static int
digits(const char *p, size_t n, size_t i, int cnt)
{
	int v = 0;

	if (i + (size_t)cnt > n)
		return -1;
	for (int k = 0; k < cnt; k++) {
		unsigned char ch = (unsigned char)p[i + k];
		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (ch - '0');
	}
	return v;
}

static int
is_digit_at(const char *p, size_t n, size_t i)
{
	return i < n && p[i] >= '0' && p[i] <= '9';
}

static int
char_at(const char *p, size_t n, size_t i, char c)
{
	return i < n && p[i] == c;
}

/* Optional fraction at p[*i] introduced by '.' (or ',' when comma): sets
 * *nsec (0 when absent) and advances *i past every fraction digit. */
static void
fraction(const char *p, size_t n, size_t *i, int comma, int32_t *nsec)
{
	size_t k = *i;
	int32_t v = 0;
	int nd = 0;

	*nsec = 0;
	if (k >= n || !(p[k] == '.' || (comma && p[k] == ',')) ||
	    !is_digit_at(p, n, k + 1))
		return;
	k++;
	while (is_digit_at(p, n, k)) {
		if (nd < 9) {
			v = v * 10 + (p[k] - '0');
			nd++;
		}
		k++;
	}
	static const int32_t scale[10] = {
	    1000000000, 100000000, 10000000, 1000000, 100000,
	    10000,      1000,      100,      10,      1};
	*nsec = v * scale[nd];
	*i = k;
}

/* "HH:MM:SS" at p[i]; 0 on success. */
static int
hms(const char *p, size_t n, size_t i, ls_civil *c)
{
	c->hour = digits(p, n, i, 2);
	c->min = digits(p, n, i + 3, 2);
	c->sec = digits(p, n, i + 6, 2);
	if (c->hour < 0 || c->min < 0 || c->sec < 0 ||
	    !char_at(p, n, i + 2, ':') || !char_at(p, n, i + 5, ':'))
		return LS_EPARSE;
	return 0;
}

static int
lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

int
ls_timefmt_month3(const char *p, size_t n)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";

	if (n < 3)
		return 0;
	int a = lower((unsigned char)p[0]), b = lower((unsigned char)p[1]),
	    c = lower((unsigned char)p[2]);
	for (int m = 0; m < 12; m++) {
		if (names[3 * m] == a && names[3 * m + 1] == b &&
		    names[3 * m + 2] == c)
			return m + 1;
	}
	return 0;
}

static int
weekday3(const char *p, size_t n)
{
	static const char names[] = "montuewedthufrisatsun";

	if (n < 3)
		return 0;
	int a = lower((unsigned char)p[0]), b = lower((unsigned char)p[1]),
	    c = lower((unsigned char)p[2]);
	for (int w = 0; w < 7; w++) {
		if (names[3 * w] == a && names[3 * w + 1] == b &&
		    names[3 * w + 2] == c)
			return w + 1;
	}
	return 0;
}

/* Zone designator at p[*i]: 'Z', "+hh:mm", "+hhmm" or "+hh".  Returns 1 and
 * sets *off when present, 0 when absent, -1 when malformed. */
static int
zone(const char *p, size_t n, size_t *i, int32_t *off)
{
	size_t k = *i;

	if (k < n && (p[k] == 'Z' || p[k] == 'z')) {
		*off = 0;
		*i = k + 1;
		return 1;
	}
	if (k >= n || (p[k] != '+' && p[k] != '-'))
		return 0;
	int sign = p[k] == '-' ? -1 : 1;
	int hh = digits(p, n, k + 1, 2), mm = 0;
	if (hh < 0)
		return -1;
	k += 3;
	if (char_at(p, n, k, ':')) {
		mm = digits(p, n, k + 1, 2);
		if (mm < 0)
			return -1;
		k += 3;
	} else if (is_digit_at(p, n, k)) {
		mm = digits(p, n, k, 2);
		if (mm < 0)
			return -1;
		k += 2;
	}
	if (hh > 23 || mm > 59)
		return -1;
	*off = sign * (hh * 3600 + mm * 60);
	*i = k;
	return 1;
}

static int
finish(const ls_civil *c, size_t i, int64_t *ns, size_t *used)
{
	int64_t t;
	int rc = ls_timefmt_from_civil(c, &t);

	if (rc != 0)
		return rc;
	*ns = t;
	*used = i;
	return 0;
}

int
ls_timefmt_iso8601(const char *p, size_t n, int64_t *ns, size_t *used)
{
	ls_civil c = {0};
	size_t i;

	c.year = digits(p, n, 0, 4);
	c.mon = digits(p, n, 5, 2);
	c.day = digits(p, n, 8, 2);
	if (c.year < 0 || c.mon < 0 || c.day < 0 || !char_at(p, n, 4, '-') ||
	    !char_at(p, n, 7, '-') || n < 11 ||
	    (p[10] != 'T' && p[10] != 't' && p[10] != ' '))
		return LS_EPARSE;
	if (hms(p, n, 11, &c) != 0)
		return LS_EPARSE;
	i = 19;
	fraction(p, n, &i, 1, &c.nsec);
	if (zone(p, n, &i, &c.utcoff) < 0)
		return LS_EPARSE;
	return finish(&c, i, ns, used);
}

int
ls_timefmt_bsd(const char *p, size_t n, int year, int64_t *ns, size_t *used)
{
	ls_civil c = {0};
	size_t i;

	c.year = year;
	c.mon = ls_timefmt_month3(p, n);
	if (c.mon == 0 || !char_at(p, n, 3, ' ') || n < 6)
		return LS_EPARSE;
	/* Day: "10", " 7" or (leniently) "7" followed by the space. */
	if (p[4] == ' ' && is_digit_at(p, n, 5)) {
		c.day = p[5] - '0';
		i = 6;
	} else if (is_digit_at(p, n, 4) && is_digit_at(p, n, 5)) {
		c.day = (p[4] - '0') * 10 + (p[5] - '0');
		i = 6;
	} else if (is_digit_at(p, n, 4)) {
		c.day = p[4] - '0';
		i = 5;
	} else {
		return LS_EPARSE;
	}
	if (!char_at(p, n, i, ' ') || hms(p, n, i + 1, &c) != 0)
		return LS_EPARSE;
	i += 9;
	fraction(p, n, &i, 0, &c.nsec);
	return finish(&c, i, ns, used);
}

int
ls_timefmt_ctime(const char *p, size_t n, int64_t *ns, size_t *used)
{
	ls_civil c = {0};
	size_t i = 0;
	int bracket = char_at(p, n, 0, '[');

	i += (size_t)bracket;
	if (n < i + 4 || weekday3(p + i, n - i) == 0 || p[i + 3] != ' ')
		return LS_EPARSE;
	i += 4;
	c.mon = n >= i + 3 ? ls_timefmt_month3(p + i, n - i) : 0;
	if (c.mon == 0 || !char_at(p, n, i + 3, ' '))
		return LS_EPARSE;
	i += 4;
	if (char_at(p, n, i, ' ') && is_digit_at(p, n, i + 1))
		c.day = p[i + 1] - '0';
	else
		c.day = digits(p, n, i, 2);
	if (c.day < 0 || !char_at(p, n, i + 2, ' ') ||
	    hms(p, n, i + 3, &c) != 0)
		return LS_EPARSE;
	i += 11;
	fraction(p, n, &i, 0, &c.nsec);
	if (!char_at(p, n, i, ' '))
		return LS_EPARSE;
	c.year = digits(p, n, i + 1, 4);
	if (c.year < 0)
		return LS_EPARSE;
	i += 5;
	if (bracket) {
		if (!char_at(p, n, i, ']'))
			return LS_EPARSE;
		i++;
	}
	return finish(&c, i, ns, used);
}

int
ls_timefmt_clf(const char *p, size_t n, int64_t *ns, size_t *used)
{
	ls_civil c = {0};
	size_t i = 0;
	int bracket = char_at(p, n, 0, '[');

	i += (size_t)bracket;
	c.day = digits(p, n, i, 2);
	c.mon = n >= i + 6 ? ls_timefmt_month3(p + i + 3, n - i - 3) : 0;
	c.year = digits(p, n, i + 7, 4);
	if (c.day < 0 || c.mon == 0 || c.year < 0 ||
	    !char_at(p, n, i + 2, '/') || !char_at(p, n, i + 6, '/') ||
	    !char_at(p, n, i + 11, ':') || hms(p, n, i + 12, &c) != 0)
		return LS_EPARSE;
	i += 20;
	fraction(p, n, &i, 0, &c.nsec);
	if (!char_at(p, n, i, ' '))
		return LS_EPARSE;
	i++;
	if (!char_at(p, n, i, '+') && !char_at(p, n, i, '-'))
		return LS_EPARSE;
	if (zone(p, n, &i, &c.utcoff) != 1)
		return LS_EPARSE;
	if (bracket) {
		if (!char_at(p, n, i, ']'))
			return LS_EPARSE;
		i++;
	}
	return finish(&c, i, ns, used);
}

int
ls_timefmt_bgl(const char *p, size_t n, int64_t *ns, size_t *used)
{
	ls_civil c = {0};
	size_t i;

	c.year = digits(p, n, 0, 4);
	c.mon = digits(p, n, 5, 2);
	c.day = digits(p, n, 8, 2);
	c.hour = digits(p, n, 11, 2);
	c.min = digits(p, n, 14, 2);
	c.sec = digits(p, n, 17, 2);
	if (c.year < 0 || c.mon < 0 || c.day < 0 || c.hour < 0 || c.min < 0 ||
	    c.sec < 0 || !char_at(p, n, 4, '-') || !char_at(p, n, 7, '-') ||
	    !char_at(p, n, 10, '-') || !char_at(p, n, 13, '.') ||
	    !char_at(p, n, 16, '.'))
		return LS_EPARSE;
	i = 19;
	fraction(p, n, &i, 0, &c.nsec);
	return finish(&c, i, ns, used);
}

static int
year2(int yy)
{
	return yy >= 69 ? 1900 + yy : 2000 + yy;
}

int
ls_timefmt_yymmdd(const char *p, size_t n, int64_t *ns, size_t *used)
{
	ls_civil c = {0};
	int yy = digits(p, n, 0, 2);

	c.mon = digits(p, n, 2, 2);
	c.day = digits(p, n, 4, 2);
	c.hour = digits(p, n, 7, 2);
	c.min = digits(p, n, 9, 2);
	c.sec = digits(p, n, 11, 2);
	if (yy < 0 || c.mon < 0 || c.day < 0 || c.hour < 0 || c.min < 0 ||
	    c.sec < 0 || !char_at(p, n, 6, ' ') || is_digit_at(p, n, 13))
		return LS_EPARSE;
	c.year = year2(yy);
	return finish(&c, 13, ns, used);
}

int
ls_timefmt_slash(const char *p, size_t n, int64_t *ns, size_t *used)
{
	ls_civil c = {0};
	size_t i;

	if (char_at(p, n, 2, '/')) {
		int yy = digits(p, n, 0, 2);
		if (yy < 0)
			return LS_EPARSE;
		c.year = year2(yy);
		i = 3;
	} else {
		c.year = digits(p, n, 0, 4);
		if (c.year < 0 || !char_at(p, n, 4, '/'))
			return LS_EPARSE;
		i = 5;
	}
	c.mon = digits(p, n, i, 2);
	c.day = digits(p, n, i + 3, 2);
	if (c.mon < 0 || c.day < 0 || !char_at(p, n, i + 2, '/') ||
	    !char_at(p, n, i + 5, ' ') || hms(p, n, i + 6, &c) != 0)
		return LS_EPARSE;
	i += 14;
	fraction(p, n, &i, 1, &c.nsec);
	return finish(&c, i, ns, used);
}

int
ls_timefmt_epoch(const char *p, size_t n, int64_t *ns, size_t *used)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0;
	int nd = 0;

	if (char_at(p, n, 0, '-')) {
		neg = 1;
		i = 1;
	}
	while (is_digit_at(p, n, i)) {
		if (nd >= 19)
			return LS_ERANGE;
		v = v * 10 + (uint64_t)(p[i] - '0');
		nd++;
		i++;
	}
	if (nd == 0)
		return LS_EPARSE;
	/* The unit: how many ns one integer step is worth. */
	int64_t unit;
	if (v < 100000000000ULL)
		unit = NS_PER_SEC;
	else if (v < 100000000000000ULL)
		unit = 1000000;
	else if (v < 100000000000000000ULL)
		unit = 1000;
	else
		unit = 1;
	if (v > (uint64_t)(INT64_MAX / unit) - 1)
		return LS_ERANGE;
	int64_t t = (int64_t)v * unit;
	if (char_at(p, n, i, '.') && is_digit_at(p, n, i + 1)) {
		/* Fraction of the unit, to the nanosecond. */
		int64_t scale = unit / 10, frac = 0;
		i++;
		while (is_digit_at(p, n, i)) {
			frac += (p[i] - '0') * scale;
			scale /= 10;
			i++;
		}
		if (t > INT64_MAX - frac)
			return LS_ERANGE;
		t += frac;
	}
	*ns = neg ? -t : t;
	*used = i;
	return 0;
}

int
ls_timefmt_any(const char *p, size_t n, int year, int64_t *ns, size_t *used)
{
	int rc;

	if (n == 0)
		return LS_EPARSE;
	if ((rc = ls_timefmt_iso8601(p, n, ns, used)) != LS_EPARSE)
		return rc;
	if ((rc = ls_timefmt_ctime(p, n, ns, used)) != LS_EPARSE)
		return rc;
	if ((rc = ls_timefmt_clf(p, n, ns, used)) != LS_EPARSE)
		return rc;
	if ((rc = ls_timefmt_bgl(p, n, ns, used)) != LS_EPARSE)
		return rc;
	if ((rc = ls_timefmt_slash(p, n, ns, used)) != LS_EPARSE)
		return rc;
	if ((rc = ls_timefmt_yymmdd(p, n, ns, used)) != LS_EPARSE)
		return rc;
	if ((rc = ls_timefmt_bsd(p, n, year, ns, used)) != LS_EPARSE)
		return rc;
	return ls_timefmt_epoch(p, n, ns, used);
}

/* ---- finding a timestamp anywhere (ls_timefmt_find) ---- */

static int
is_alnum_at(const char *p, size_t n, size_t i)
{
	if (i >= n)
		return 0;
	unsigned char ch = (unsigned char)p[i];
	return (ch >= '0' && ch <= '9') || (lower(ch) >= 'a' && lower(ch) <= 'z');
}

/* 1 or 2 digits at p[i]; the value, with *len set, or -1. */
static int
digits12(const char *p, size_t n, size_t i, size_t *len)
{
	if (!is_digit_at(p, n, i))
		return -1;
	if (is_digit_at(p, n, i + 1)) {
		*len = 2;
		return (p[i] - '0') * 10 + (p[i + 1] - '0');
	}
	*len = 1;
	return p[i] - '0';
}

/* "H:MM:SS" or "HH:MM:SS" at p[i] with an optional '.' or ',' fraction;
 * *end is set past it.  0 on success. */
static int
hms_flex(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	size_t l;

	c->hour = digits12(p, n, i, &l);
	if (c->hour < 0)
		return LS_EPARSE;
	i += l;
	c->min = char_at(p, n, i, ':') ? digits(p, n, i + 1, 2) : -1;
	c->sec = char_at(p, n, i + 3, ':') ? digits(p, n, i + 4, 2) : -1;
	if (c->min < 0 || c->sec < 0)
		return LS_EPARSE;
	i += 6;
	fraction(p, n, &i, 1, &c->nsec);
	*end = i;
	return 0;
}

/* An optional zone after a time at p[*i]: one glued to it (Z, +hh:mm,
 * -hhmm), or after one space "+0000", "UTC", "GMT".  Absent or malformed
 * leaves *i and c->utcoff alone. */
static void
zone_after(const char *p, size_t n, size_t *i, ls_civil *c)
{
	size_t k = *i;
	int32_t off;

	if (k < n && p[k] != ' ') {
		if (zone(p, n, &k, &off) == 1 && !is_alnum_at(p, n, k)) {
			c->utcoff = off;
			*i = k;
		}
		return;
	}
	if (!char_at(p, n, k, ' '))
		return;
	k++;
	if ((char_at(p, n, k, '+') || char_at(p, n, k, '-')) &&
	    digits(p, n, k + 1, 4) >= 0 && !is_digit_at(p, n, k + 5)) {
		if (zone(p, n, &k, &off) == 1) {
			c->utcoff = off;
			*i = k;
		}
		return;
	}
	if (k + 3 <= n && !is_alnum_at(p, n, k + 3) &&
	    (memcmp(p + k, "UTC", 3) == 0 || memcmp(p + k, "GMT", 3) == 0)) {
		c->utcoff = 0;
		*i = k + 3;
	}
}

/* " AM" / " PM" after a 12-hour time. */
static void
ampm(const char *p, size_t n, size_t *i, ls_civil *c)
{
	size_t k = *i;

	if (!char_at(p, n, k, ' ') || k + 3 > n || is_alnum_at(p, n, k + 3))
		return;
	char a = (char)lower((unsigned char)p[k + 1]);
	char m = (char)lower((unsigned char)p[k + 2]);
	if ((a != 'a' && a != 'p') || m != 'm' || c->hour < 1 || c->hour > 12)
		return;
	if (a == 'a' && c->hour == 12)
		c->hour = 0;
	else if (a == 'p' && c->hour != 12)
		c->hour += 12;
	*i = k + 3;
}

/* A layout at p[i]: fills *c (year 0 = the line has none) and *end. */
typedef int (*layout_fn)(const char *p, size_t n, size_t i, ls_civil *c,
                         size_t *end);

/* yyyy-MM-dd[T ]HH:mm:ss..., yyyy/MM/dd and yy/MM/dd HH:mm:ss. */
static int
lay_ymd(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	size_t k;

	if (char_at(p, n, i + 4, '-')) {
		c->year = digits(p, n, i, 4);
		c->mon = digits(p, n, i + 5, 2);
		c->day = digits(p, n, i + 8, 2);
		if (c->mon < 0 || c->day < 0 || !char_at(p, n, i + 7, '-') ||
		    i + 10 >= n ||
		    (p[i + 10] != 'T' && p[i + 10] != ' ' && p[i + 10] != 't'))
			return LS_EPARSE;
		k = i + 11;
	} else if (char_at(p, n, i + 4, '/') || char_at(p, n, i + 2, '/')) {
		size_t d0 = char_at(p, n, i + 2, '/') ? i + 3 : i + 5;
		c->year = d0 == i + 3 ? digits(p, n, i, 2) : digits(p, n, i, 4);
		if (c->year < 0)
			return LS_EPARSE;
		if (d0 == i + 3)
			c->year = year2(c->year);
		c->mon = digits(p, n, d0, 2);
		c->day = digits(p, n, d0 + 3, 2);
		if (c->mon < 0 || c->day < 0 || !char_at(p, n, d0 + 2, '/') ||
		    !char_at(p, n, d0 + 5, ' '))
			return LS_EPARSE;
		k = d0 + 6;
	} else {
		return LS_EPARSE;
	}
	if (digits(p, n, k, 2) < 0 || hms_flex(p, n, k, c, end) != 0)
		return LS_EPARSE;
	zone_after(p, n, end, c);
	return 0;
}

/* BGL "yyyy-MM-dd-HH.mm.ss.ffffff". */
static int
lay_bgl(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	c->year = digits(p, n, i, 4);
	c->mon = digits(p, n, i + 5, 2);
	c->day = digits(p, n, i + 8, 2);
	c->hour = digits(p, n, i + 11, 2);
	c->min = digits(p, n, i + 14, 2);
	c->sec = digits(p, n, i + 17, 2);
	if (c->year < 0 || c->mon < 0 || c->day < 0 || c->hour < 0 ||
	    c->min < 0 || c->sec < 0 || !char_at(p, n, i + 4, '-') ||
	    !char_at(p, n, i + 7, '-') || !char_at(p, n, i + 10, '-') ||
	    !char_at(p, n, i + 13, '.') || !char_at(p, n, i + 16, '.'))
		return LS_EPARSE;
	*end = i + 19;
	fraction(p, n, end, 0, &c->nsec);
	return 0;
}

/* yyyyMMdd-HH:mm:ss:SSS, yyyyMMdd HH:mm:ss(.SSS), yyyyMMddTHHmmss(.f)(Z). */
static int
lay_compact(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	c->year = digits(p, n, i, 4);
	c->mon = digits(p, n, i + 4, 2);
	c->day = digits(p, n, i + 6, 2);
	if (c->year < 0 || c->mon < 0 || c->day < 0 || i + 9 > n)
		return LS_EPARSE;
	char sep = p[i + 8];
	if (sep == 'T') {
		c->hour = digits(p, n, i + 9, 2);
		c->min = digits(p, n, i + 11, 2);
		c->sec = digits(p, n, i + 13, 2);
		if (c->hour < 0 || c->min < 0 || c->sec < 0)
			return LS_EPARSE;
		*end = i + 15;
		fraction(p, n, end, 1, &c->nsec);
		zone_after(p, n, end, c);
		return 0;
	}
	if (sep != '-' && sep != ' ')
		return LS_EPARSE;
	if (hms(p, n, i + 9, c) != 0)
		return LS_EPARSE;
	*end = i + 17;
	if (char_at(p, n, *end, ':') && digits(p, n, *end + 1, 3) >= 0) {
		/* HealthApp's ":SSS" milliseconds */
		c->nsec = digits(p, n, *end + 1, 3) * 1000000;
		*end += 4;
	} else {
		fraction(p, n, end, 1, &c->nsec);
	}
	zone_after(p, n, end, c);
	return 0;
}

/* MM/dd/yyyy H:mm:ss [AM|PM] (US order; dd/MM/yyyy when the first field
 * is above 12). */
static int
lay_us(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	size_t l1, l2, k;
	int a = digits12(p, n, i, &l1), b;

	if (a < 0 || !char_at(p, n, i + l1, '/'))
		return LS_EPARSE;
	k = i + l1 + 1;
	b = digits12(p, n, k, &l2);
	if (b < 0 || !char_at(p, n, k + l2, '/'))
		return LS_EPARSE;
	k += l2 + 1;
	c->year = digits(p, n, k, 4);
	if (c->year < 0 || is_digit_at(p, n, k + 4) ||
	    !(char_at(p, n, k + 4, ' ') || char_at(p, n, k + 4, ':')))
		return LS_EPARSE;
	c->mon = a > 12 ? b : a;
	c->day = a > 12 ? a : b;
	if (hms_flex(p, n, k + 5, c, end) != 0)
		return LS_EPARSE;
	ampm(p, n, end, c);
	zone_after(p, n, end, c);
	return 0;
}

/* dd/Mmm/yyyy:HH:mm:ss[.fff][ zone] and dd Mmm yyyy HH:mm:ss[.fff][ zone]. */
static int
lay_dmy(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	size_t l, k;

	c->day = digits12(p, n, i, &l);
	if (c->day < 0 || i + l + 9 > n)
		return LS_EPARSE;
	char sep = p[i + l];
	if (sep != '/' && sep != ' ' && sep != '-')
		return LS_EPARSE;
	k = i + l + 1;
	c->mon = ls_timefmt_month3(p + k, n - k);
	if (c->mon == 0 || !char_at(p, n, k + 3, sep))
		return LS_EPARSE;
	c->year = digits(p, n, k + 4, 4);
	k += 8;
	if (c->year < 0 ||
	    !(char_at(p, n, k, sep == '/' ? ':' : ' ') ||
	      (sep != '/' && char_at(p, n, k, ':'))))
		return LS_EPARSE;
	if (hms_flex(p, n, k + 1, c, end) != 0)
		return LS_EPARSE;
	zone_after(p, n, end, c);
	return 0;
}

/* MM-dd HH:mm:ss.SSS (Android logcat) and MM.dd HH:mm:ss (Proxifier):
 * no year. */
static int
lay_md(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	c->mon = digits(p, n, i, 2);
	c->day = digits(p, n, i + 3, 2);
	if (c->mon < 0 || c->day < 0 ||
	    !(char_at(p, n, i + 2, '-') || char_at(p, n, i + 2, '.')) ||
	    !char_at(p, n, i + 5, ' ') || hms(p, n, i + 6, c) != 0)
		return LS_EPARSE;
	c->year = 0;
	*end = i + 14;
	fraction(p, n, end, 1, &c->nsec);
	return 0;
}

/* Mmm dd HH:mm:ss (BSD), Mmm dd yyyy HH:mm:ss, Mmm d, yyyy H:mm:ss AM. */
static int
lay_month(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	size_t k = i + 4, l;

	c->mon = ls_timefmt_month3(p + i, n - i);
	if (c->mon == 0 || !char_at(p, n, i + 3, ' '))
		return LS_EPARSE;
	if (char_at(p, n, k, ' '))
		k++;
	c->day = digits12(p, n, k, &l);
	if (c->day < 0)
		return LS_EPARSE;
	k += l;
	if (char_at(p, n, k, ','))
		k++;
	if (!char_at(p, n, k, ' '))
		return LS_EPARSE;
	k++;
	c->year = 0;
	if (digits(p, n, k, 4) >= 0 && char_at(p, n, k + 4, ' ')) {
		c->year = digits(p, n, k, 4);
		k += 5;
	}
	if (hms_flex(p, n, k, c, end) != 0)
		return LS_EPARSE;
	if (c->year != 0)
		ampm(p, n, end, c);
	zone_after(p, n, end, c);
	return 0;
}

/* ctime "Www Mmm dd HH:mm:ss yyyy". */
static int
lay_ctime(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	int64_t t;
	size_t used;

	if (weekday3(p + i, n - i) == 0 ||
	    ls_timefmt_ctime(p + i, n - i, &t, &used) != 0)
		return LS_EPARSE;
	/* Re-read the fields: the layout is fixed once ctime accepted it. */
	size_t k = i + 8, l;
	c->mon = ls_timefmt_month3(p + i + 4, n - i - 4);
	if (char_at(p, n, k, ' '))
		k++;
	c->day = digits12(p, n, k, &l);
	if (c->day < 0 || hms_flex(p, n, k + l + 1, c, end) != 0)
		return LS_EPARSE;
	c->year = digits(p, n, *end + 1, 4);
	if (c->year < 0)
		return LS_EPARSE;
	*end += 5;
	return 0;
}

/* Only at the start of a line: klog "I1207 09:30:00.123456" and HDFS
 * "yyMMdd HHmmss". */
static int
lay_start(const char *p, size_t n, size_t i, ls_civil *c, size_t *end)
{
	if (i != 0)
		return LS_EPARSE;
	if (n > 5 && (p[0] == 'I' || p[0] == 'W' || p[0] == 'E' ||
	              p[0] == 'F')) {
		c->mon = digits(p, n, 1, 2);
		c->day = digits(p, n, 3, 2);
		if (c->mon < 0 || c->day < 0 || !char_at(p, n, 5, ' ') ||
		    hms(p, n, 6, c) != 0)
			return LS_EPARSE;
		c->year = 0;
		*end = 14;
		fraction(p, n, end, 0, &c->nsec);
		return 0;
	}
	int yy = digits(p, n, 0, 2);
	c->mon = digits(p, n, 2, 2);
	c->day = digits(p, n, 4, 2);
	c->hour = digits(p, n, 7, 2);
	c->min = digits(p, n, 9, 2);
	c->sec = digits(p, n, 11, 2);
	if (yy < 0 || c->mon < 0 || c->day < 0 || c->hour < 0 || c->min < 0 ||
	    c->sec < 0 || !char_at(p, n, 6, ' ') || is_alnum_at(p, n, 13))
		return LS_EPARSE;
	c->year = year2(yy);
	*end = 13;
	return 0;
}

/* A plausible epoch: 10 digits (seconds) or 13 (milliseconds), optional
 * fraction, between 2000-01-01 and 2100-01-01. */
static int
epoch_at(const char *p, size_t n, size_t i, int64_t *ns, size_t *end)
{
	size_t k = i;
	int64_t t;
	size_t used;

	while (is_digit_at(p, n, k))
		k++;
	if ((k - i != 10 && k - i != 13) || is_alnum_at(p, n, k))
		return LS_EPARSE;
	if (ls_timefmt_epoch(p + i, n - i, &t, &used) != 0 ||
	    is_alnum_at(p, n, i + used) || t < 946684800LL * NS_PER_SEC ||
	    t >= 4102444800LL * NS_PER_SEC)
		return LS_EPARSE;
	*ns = t;
	*end = i + used;
	return 0;
}

/* Try the layouts that may start at p[i] (a word boundary). */
static int
find_at(const char *p, size_t n, size_t i, int year, int64_t not_after_ns,
        int64_t *ns, size_t *end)
{
	static const layout_fn digit_first[] = {lay_start, lay_bgl,  lay_ymd,
	                                        lay_compact, lay_dmy, lay_us,
	                                        lay_md};
	static const layout_fn alpha_first[] = {lay_start, lay_ctime,
	                                        lay_month};
	const layout_fn *tab;
	size_t ntab;

	if (is_digit_at(p, n, i)) {
		tab = digit_first;
		ntab = sizeof(digit_first) / sizeof(digit_first[0]);
	} else {
		tab = alpha_first;
		ntab = sizeof(alpha_first) / sizeof(alpha_first[0]);
	}
	for (size_t k = 0; k < ntab; k++) {
		ls_civil c = {0};
		size_t e;
		if (tab[k](p, n, i, &c, &e) != 0 || is_digit_at(p, n, e))
			continue;
		int yearless = c.year == 0;
		if (yearless)
			c.year = year;
		if (c.year < 1970 || c.year > 2199)
			continue;
		int64_t t;
		if (ls_timefmt_from_civil(&c, &t) != 0)
			continue;
		if (yearless && not_after_ns != 0 &&
		    t - not_after_ns > 7LL * 86400 * NS_PER_SEC) {
			c.year--;
			if (ls_timefmt_from_civil(&c, &t) != 0)
				continue;
		}
		*ns = t;
		*end = e;
		return 0;
	}
	return LS_EPARSE;
}

int
ls_timefmt_find(const char *p, size_t n, int year, int64_t not_after_ns,
                int64_t *ns, size_t *at, size_t *used)
{
	size_t e;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		int digit = ch >= '0' && ch <= '9';
		int upper = ch >= 'A' && ch <= 'Z';
		if ((!digit && !upper) || (i > 0 && is_alnum_at(p, n, i - 1)))
			continue;
		if (find_at(p, n, i, year, not_after_ns, ns, &e) == 0) {
			*at = i;
			*used = e - i;
			return 0;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_digit_at(p, n, i) || (i > 0 && (is_alnum_at(p, n, i - 1) ||
		                                        p[i - 1] == '.')))
			continue;
		if (epoch_at(p, n, i, ns, &e) == 0) {
			*at = i;
			*used = e - i;
			return 0;
		}
		while (is_digit_at(p, n, i + 1))
			i++;
	}
	return LS_EPARSE;
}
