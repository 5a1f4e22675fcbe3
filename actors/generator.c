/*
 * generator.c -- realistic, deterministic synthetic log lines (see
 * generator.h).
 *
 * Line i is drawn from its own counter-based random stream, seeded from
 * (cfg.seed, i), so the output is a pure function of (cfg, i) and seeking is
 * free.  Error bursts are decided per block of BURST_BLOCK lines from
 * (seed, block), which keeps them a function of i too.  Lines are assembled
 * by hand with small append helpers (no printf on the hot path); the
 * formatted date of the current second is cached.
 */
#include "actors/generator.h"
#include "actors/timefmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

#define NAME_LEN     32   /* longest service / host name */
#define MAX_SERVICES 64
#define MAX_HOSTS    1024
#define MAX_USERS    1000000u
#define USER_PRIME   1000003u /* > MAX_USERS: scrambles ranks into ids */
#define BURST_BLOCK  20000u   /* lines per burst decision */
#define LINE_BUF     2048     /* > any line we build, so no bounds checks */

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

typedef struct gname {
	char s[NAME_LEN + 1];
	uint8_t len;
} gname;

typedef struct rng {
	uint64_t s;
} rng;

enum { LV_DEBUG, LV_INFO, LV_WARN, LV_ERROR };

struct ls_generator {
	uint64_t seed;
	int format;
	int64_t start_ns;
	double spacing_ns;
	uint64_t index;

	size_t nsvc;
	gname svc[MAX_SERVICES];
	double svc_cdf[MAX_SERVICES];   /* service popularity */
	double svc_median[MAX_SERVICES]; /* median latency, ms */
	int svc_kind[MAX_SERVICES];     /* path family, -1 = generic */

	size_t nhost;
	gname *host;

	uint32_t nusers;
	double *user_cdf; /* Zipf over ranks */

	/* formatted times of the second csec */
	int64_t csec;
	char iso[20]; /* 2024-03-01T00:00:00 */
	char clf[27]; /* 01/Mar/2024:00:00:00 +0000 */
	char bsd[16]; /* Mar  1 00:00:00 */

	char line[LINE_BUF];
};

/* Event times stay within +-9e18 ns (years 1684 to 2255). */
#define TIME_LIMIT INT64_C(9000000000000000000)

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if (a % b != 0 && a < 0)
		q--;
	return q;
}

/* ---- randomness ---- */

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* splitmix64 step */
static uint64_t
rnext(rng *r)
{
	r->s += GOLDEN;
	return mix64(r->s);
}

/* uniform in [0, 1) */
static double
runif(rng *r)
{
	return (double)(rnext(r) >> 11) * 0x1.0p-53;
}

/* uniform in [0, n), n > 0 (multiply-shift, bias is negligible here) */
static uint32_t
rbelow(rng *r, uint32_t n)
{
	return (uint32_t)(((rnext(r) >> 32) * (uint64_t)n) >> 32);
}

/* standard normal (Box-Muller, one of the pair) */
static double
rnorm(rng *r)
{
	double u1 = runif(r), u2 = runif(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static size_t
pick_cdf(const double *cdf, size_t n, double u)
{
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cdf[mid] <= u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- appending ---- */

static char *
put_mem(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put_mem((p), (lit), sizeof(lit) - 1)

static char *
put_str(char *p, const char *s)
{
	return put_mem(p, s, strlen(s));
}

static char *
put_name(char *p, const gname *n)
{
	return put_mem(p, n->s, n->len);
}

static char *
put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* v >= 0 with exactly `dec` decimals (dec 1..3) */
static char *
put_fixed(char *p, double v, int dec)
{
	static const double scale[] = { 1, 10, 100, 1000 };
	uint64_t x = (uint64_t)(v * scale[dec] + 0.5);
	uint64_t s = (uint64_t)scale[dec];
	p = put_u64(p, x / s);
	*p++ = '.';
	x %= s;
	for (int d = dec - 1; d >= 0; d--) {
		p[d] = (char)('0' + x % 10);
		x /= 10;
	}
	return p + dec;
}

static char *
put_hex(char *p, uint64_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = digits - 1; i >= 0; i--) {
		p[i] = hex[v & 15];
		v >>= 4;
	}
	return p + digits;
}

static char *
put_2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* JSON / logfmt / quoted-string escape of our own ASCII text: only '"' and
 * '\\' can occur in it. */
static char *
put_quoted_body(char *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '"' || c == '\\')
			*p++ = '\\';
		*p++ = c;
	}
	return p;
}

/* ---- time ---- */

static const char month_abbr[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static void
cache_second(ls_generator *g, int64_t sec)
{
	int64_t days = sec / 86400, rem = sec % 86400;
	int64_t y;
	unsigned mo, d, hh, mm, ss;
	char *p;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	ls_timefmt_civil_from_days(days, &y, &mo, &d);
	hh = (unsigned)(rem / 3600);
	mm = (unsigned)(rem / 60 % 60);
	ss = (unsigned)(rem % 60);
	unsigned yy = (unsigned)(y < 0 ? 0 : y > 9999 ? 9999 : y);

	p = g->iso;
	p = put_2(p, yy / 100);
	p = put_2(p, yy % 100);
	*p++ = '-';
	p = put_2(p, mo);
	*p++ = '-';
	p = put_2(p, d);
	*p++ = 'T';
	p = put_2(p, hh);
	*p++ = ':';
	p = put_2(p, mm);
	*p++ = ':';
	p = put_2(p, ss);
	*p = '\0';

	p = g->clf;
	p = put_2(p, d);
	*p++ = '/';
	p = put_mem(p, month_abbr[mo - 1], 3);
	*p++ = '/';
	p = put_2(p, yy / 100);
	p = put_2(p, yy % 100);
	*p++ = ':';
	p = put_mem(p, g->iso + 11, 8);
	p = PUT_LIT(p, " +0000");
	*p = '\0';

	p = g->bsd;
	p = put_mem(p, month_abbr[mo - 1], 3);
	*p++ = ' ';
	*p++ = d < 10 ? ' ' : (char)('0' + d / 10);
	*p++ = (char)('0' + d % 10);
	*p++ = ' ';
	p = put_mem(p, g->iso + 11, 8);
	*p = '\0';

	g->csec = sec;
}

/* ---- vocabulary ---- */

/* Path families, in the order of default_services. */
enum { FAM_API, FAM_AUTH, FAM_CHECKOUT, FAM_SEARCH, FAM_PAYMENTS,
	FAM_INVENTORY, FAM_FRONTEND, FAM_DB };

static const char *const default_services[] = { "api", "auth", "checkout",
	"search", "payments", "inventory", "frontend", "db" };
static const double default_median_ms[] = { 25, 40, 120, 60, 180, 30, 15,
	4 };

/* Request paths per service family; '#' becomes a number, '%' a hex id. */
static const char *const paths_api[] = { "/api/v1/orders/#", "/api/v1/orders",
	"/api/v1/users/#", "/api/v1/products/#", "/api/v2/cart/#/items",
	"/api/v1/products", NULL };
static const char *const paths_auth[] = { "/auth/login", "/auth/logout",
	"/auth/token/refresh", "/auth/oauth/callback", "/auth/session/%",
	NULL };
static const char *const paths_checkout[] = { "/checkout/cart",
	"/checkout/#/shipping", "/checkout/#/confirm", "/checkout/#/payment",
	NULL };
static const char *const paths_search[] = { "/search", "/search/suggest",
	"/search/products", "/search/facets", NULL };
static const char *const paths_payments[] = { "/payments/charge",
	"/payments/#/refund", "/payments/#", "/payments/methods", NULL };
static const char *const paths_inventory[] = { "/inventory/items/#",
	"/inventory/stock/#", "/inventory/reserve", "/inventory/warehouses/#",
	NULL };
static const char *const paths_frontend[] = { "/", "/index.html",
	"/static/js/app.%.js", "/static/css/main.css", "/products/#", "/cart",
	"/account", NULL };
static const char *const paths_db[] = { "/pg/orders/select",
	"/pg/orders/insert", "/pg/users/select", "/pg/inventory/update", NULL };
static const char *const paths_generic[] = { "/v1/items/#", "/v1/items",
	"/health", "/v1/jobs/%", NULL };
static const char *const *const path_families[] = { paths_api, paths_auth,
	paths_checkout, paths_search, paths_payments, paths_inventory,
	paths_frontend, paths_db };

/* Message templates, by level.  Directives: %M method, %P path, %S status,
 * %L latency ms, %U user, %T trace id, %I order/item id, %N small number,
 * %D another service, %A IP address, %O port, %K cache key, %Q search
 * query, %C amount, %E error text, %R retry attempt, %F feature flag, %Y
 * true/false, %% a percent sign. */
static const char *const tpl_info[] = {
	"%M %P %S %Lms",
	"request completed method=%M path=%P status=%S",
	"user %U logged in from %A",
	"order %I created for user %U total=%C",
	"cache hit for key %K",
	"search query \"%Q\" returned %N results",
	"payment %I authorized amount=%C currency=USD",
	"inventory reserved sku=SKU-%I qty=%N",
	"session started for %U trace=%T",
	"health check passed in %Lms",
	"connected to %D at %A:%O",
	"served %P to %U in %Lms",
	NULL,
};
static const char *const tpl_warn[] = {
	"slow request %M %P took %Lms (threshold 500ms)",
	"retrying call to %D attempt %R of 5",
	"rate limit approaching for user %U: %N requests in last minute",
	"cache miss for key %K, falling back to %D",
	"deprecated API version used by client %A on %P",
	"connection pool at %N%% capacity",
	"invalid login attempt for user %U from %A",
	"request %M %P rejected with %S",
	NULL,
};
static const char *const tpl_error[] = {
	"upstream %D returned %S for %M %P",
	"timeout after %Lms calling %D",
	"failed to process order %I: %E",
	"database error: %E",
	"payment declined for user %U: %E",
	"unhandled exception in %M %P: NullPointerException at Handler.java:%N",
	"%M %P failed with %S after %Lms trace=%T",
	NULL,
};
static const char *const tpl_debug[] = {
	"cache lookup key=%K hit=%Y",
	"parsed request headers count=%N",
	"span %T finished in %Lms",
	"db query rows=%N elapsed=%Lms",
	"feature flag %F evaluated to %Y for %U",
	NULL,
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const *const templates[] = { tpl_debug, tpl_info, tpl_warn,
	tpl_error };
static const size_t ntemplates[] = { NELEM(tpl_debug) - 1, NELEM(tpl_info) - 1,
	NELEM(tpl_warn) - 1, NELEM(tpl_error) - 1 };

static const char *const queries[] = { "red shoes", "wireless headphones",
	"coffee grinder", "usb-c cable", "running jacket", "4k monitor",
	"yoga mat", "standing desk" };
static const char *const errors[] = { "connection reset by peer",
	"deadlock detected", "too many connections",
	"unique constraint violation on orders_pkey",
	"context deadline exceeded", "insufficient funds", "card expired",
	"no healthy upstream", "broken pipe" };
static const char *const cache_keys[] = { "orders:", "user:", "product:",
	"cart:", "session:" };
static const char *const flags[] = { "new_checkout", "search_v2",
	"dark_mode", "one_click_pay" };
static const char *const agents[] = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
	"(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 "
	"(KHTML, like Gecko) Version/17.3 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 "
	"Firefox/123.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) "
	"AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	"curl/8.5.0",
	"okhttp/4.12.0",
};
static const char *const methods[] = { "GET", "POST", "PUT", "DELETE",
	"PATCH" };
static const double method_cdf[] = { 0.70, 0.90, 0.95, 0.98, 1.0 };

/* ---- one line ---- */

/* Everything drawn for one line before it is formatted. */
typedef struct line_ctx {
	rng r;
	int64_t t_ms; /* event time, ms since the epoch */
	size_t svc;
	size_t host;
	int level;
	const char *method;
	char path[96];
	size_t path_len;
	unsigned status;
	double latency_ms;
	uint64_t bytes;
	uint32_t user; /* scrambled id */
	uint64_t trace_hi, trace_lo;
	char msg[512];
	size_t msg_len;
} line_ctx;

static char *
put_user(char *p, uint32_t id)
{
	char d[6];
	p = PUT_LIT(p, "user-");
	for (int i = 5; i >= 0; i--) {
		d[i] = (char)('0' + id % 10);
		id /= 10;
	}
	return put_mem(p, d, 6);
}

static char *
put_trace(char *p, const line_ctx *c)
{
	p = put_hex(p, c->trace_hi, 16);
	return put_hex(p, c->trace_lo, 16);
}

/* A private address derived from a value (client IPs follow the user). */
static char *
put_ip(char *p, uint64_t h)
{
	h = mix64(h);
	p = PUT_LIT(p, "10.");
	p = put_u64(p, (h >> 8) & 63);
	*p++ = '.';
	p = put_u64(p, (h >> 16) & 255);
	*p++ = '.';
	return put_u64(p, 1 + ((h >> 24) % 254));
}

static void
make_path(line_ctx *c, const ls_generator *g)
{
	int kind = g->svc_kind[c->svc];
	const char *const *fam = kind >= 0 ? path_families[kind] : paths_generic;
	size_t n = 0;
	char *p = c->path;

	while (fam[n] != NULL)
		n++;
	const char *tpl = fam[rbelow(&c->r, (uint32_t)n)];
	if (kind < 0) {
		*p++ = '/';
		p = put_name(p, &g->svc[c->svc]);
	}
	for (; *tpl != '\0'; tpl++) {
		if (*tpl == '#')
			p = put_u64(p, 1 + rbelow(&c->r, 99999));
		else if (*tpl == '%')
			p = put_hex(p, rnext(&c->r), 8);
		else
			*p++ = *tpl;
	}
	c->path_len = (size_t)(p - c->path);
}

static unsigned
pick_status(line_ctx *c)
{
	double u = runif(&c->r);
	switch (c->level) {
	case LV_ERROR:
		return u < 0.30 ? 500 : u < 0.55 ? 502 : u < 0.80 ? 503 : 504;
	case LV_WARN:
		if (u < 0.30)
			return 200;
		return u < 0.45 ? 400 : u < 0.55 ? 401 : u < 0.62 ? 403 :
		    u < 0.85 ? 404 : u < 0.90 ? 409 : 429;
	case LV_DEBUG:
		return 200;
	default:
		return u < 0.80 ? 200 : u < 0.88 ? 201 : u < 0.92 ? 204 :
		    u < 0.97 ? 304 : u < 0.99 ? 301 : 302;
	}
}

static void
expand_message(line_ctx *c, const ls_generator *g)
{
	const char *const *set = templates[c->level];
	const char *tpl = set[rbelow(&c->r, (uint32_t)ntemplates[c->level])];
	char *p = c->msg;

	for (; *tpl != '\0'; tpl++) {
		if (*tpl != '%') {
			*p++ = *tpl;
			continue;
		}
		switch (*++tpl) {
		case 'M':
			p = put_str(p, c->method);
			break;
		case 'P':
			p = put_mem(p, c->path, c->path_len);
			break;
		case 'S':
			p = put_u64(p, c->status);
			break;
		case 'L':
			p = put_fixed(p, c->latency_ms, 1);
			break;
		case 'U':
			p = put_user(p, c->user);
			break;
		case 'T':
			p = put_trace(p, c);
			break;
		case 'I':
			p = put_u64(p, 100000 + rbelow(&c->r, 900000));
			break;
		case 'N':
			p = put_u64(p, rbelow(&c->r, 100));
			break;
		case 'D': {
			size_t o = rbelow(&c->r, (uint32_t)g->nsvc);
			if (o == c->svc && g->nsvc > 1)
				o = (o + 1) % g->nsvc;
			p = put_name(p, &g->svc[o]);
			break;
		}
		case 'A':
			p = put_ip(p, rnext(&c->r));
			break;
		case 'O':
			p = put_u64(p, 1024 + rbelow(&c->r, 60000));
			break;
		case 'K':
			p = put_str(p, cache_keys[rbelow(&c->r,
			    NELEM(cache_keys))]);
			p = put_u64(p, rbelow(&c->r, 100000));
			break;
		case 'Q':
			p = put_str(p, queries[rbelow(&c->r, NELEM(queries))]);
			break;
		case 'C':
			p = put_fixed(p, 1.0 + runif(&c->r) * 499.0, 2);
			break;
		case 'E':
			p = put_str(p, errors[rbelow(&c->r, NELEM(errors))]);
			break;
		case 'R':
			p = put_u64(p, 1 + rbelow(&c->r, 4));
			break;
		case 'F':
			p = put_str(p, flags[rbelow(&c->r, NELEM(flags))]);
			break;
		case 'Y':
			p = rbelow(&c->r, 2) ? PUT_LIT(p, "true") :
			    PUT_LIT(p, "false");
			break;
		default: /* "%%" */
			*p++ = '%';
			break;
		}
	}
	c->msg_len = (size_t)(p - c->msg);
}

/* Draw every field of line i. */
static void
draw_line(const ls_generator *g, uint64_t i, line_ctx *c)
{
	double u;

	c->r.s = mix64(g->seed ^ mix64(i * GOLDEN + 0x5851f42d4c957f2dULL));

	/* time: the nominal spacing plus a jitter in [0, JITTER), at ms
	 * precision, held inside +-TIME_LIMIT so that nothing overflows */
	double off = (double)i * g->spacing_ns;
	int64_t t = (int64_t)(runif(&c->r) * (double)LS_GENERATOR_JITTER_NS);
	if (!(off < (double)TIME_LIMIT))
		t = TIME_LIMIT;
	else
		t += (int64_t)off;
	if (g->start_ns > TIME_LIMIT - t)
		t = TIME_LIMIT;
	else
		t += g->start_ns;
	if (t < -TIME_LIMIT)
		t = -TIME_LIMIT;
	c->t_ms = floor_div(t, 1000000);

	/* error bursts: about one block in four has one on one service */
	uint64_t block = i / BURST_BLOCK;
	uint64_t bh = mix64(g->seed ^ mix64(block ^ UINT64_C(0xb5ad4eceda1ce2a9)));
	int in_burst = 0;
	size_t burst_svc = (size_t)((bh >> 8) % g->nsvc);
	if ((bh & 3) == 0) {
		uint64_t len = 300 + (bh >> 20) % 1700;
		uint64_t begin = (bh >> 36) % (BURST_BLOCK - len);
		uint64_t pos = i % BURST_BLOCK;
		in_burst = pos >= begin && pos < begin + len;
	}

	u = runif(&c->r);
	if (in_burst && u < 0.3) {
		c->svc = burst_svc;
		u = runif(&c->r);
		c->level = u < 0.5 ? LV_ERROR : u < 0.65 ? LV_WARN : LV_INFO;
	} else {
		c->svc = pick_cdf(g->svc_cdf, g->nsvc, runif(&c->r));
		u = runif(&c->r);
		c->level = u < 0.80 ? LV_INFO : u < 0.90 ? LV_WARN :
		    u < 0.95 ? LV_ERROR : LV_DEBUG;
	}
	/* each service runs on a few hosts */
	c->host = (c->svc * 3 + rbelow(&c->r, 3)) % g->nhost;

	/* pages, assets and searches are fetched, the rest is an API mix */
	int kind = g->svc_kind[c->svc];
	u = runif(&c->r);
	if (kind == FAM_SEARCH || kind == FAM_FRONTEND)
		c->method = u < 0.95 ? "GET" : "POST";
	else
		c->method = methods[pick_cdf(method_cdf, NELEM(methods), u)];
	make_path(c, g);
	c->status = pick_status(c);

	double lat = g->svc_median[c->svc] * exp(0.7 * rnorm(&c->r));
	if (c->level == LV_WARN)
		lat *= 3.0;
	if (c->level == LV_ERROR && runif(&c->r) < 0.4)
		lat = 5000.0 * (1.0 + 5.0 * runif(&c->r)); /* timeouts */
	if (runif(&c->r) < 0.015) /* heavy tail: Pareto, alpha 1.5 */
		lat *= pow(1.0 - runif(&c->r), -1.0 / 1.5);
	if (lat > 120000.0)
		lat = 120000.0;
	c->latency_ms = lat;

	if (c->status == 204 || c->status == 304) {
		c->bytes = 0;
	} else {
		double med = c->method[0] == 'G' ? 1500.0 : 300.0;
		double b = med * exp(1.0 * rnorm(&c->r));
		c->bytes = b > 5e7 ? 50000000 : (uint64_t)b;
	}

	size_t rank = pick_cdf(g->user_cdf, g->nusers, runif(&c->r));
	c->user = (uint32_t)(((uint64_t)rank * 7919u + 17u) % USER_PRIME);
	c->trace_hi = rnext(&c->r);
	c->trace_lo = rnext(&c->r);
	expand_message(c, g);
}

static const char *const level_upper[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const unsigned syslog_sev[] = { 7, 6, 4, 3 };

static char *
put_iso_ms(ls_generator *g, char *p, int64_t t_ms)
{
	int64_t sec = floor_div(t_ms, 1000);
	unsigned ms = (unsigned)(t_ms - sec * 1000);

	if (sec != g->csec)
		cache_second(g, sec);
	p = put_mem(p, g->iso, 19);
	*p++ = '.';
	*p++ = (char)('0' + ms / 100);
	p = put_2(p, ms % 100);
	*p++ = 'Z';
	return p;
}

static void
ensure_second(ls_generator *g, int64_t t_ms)
{
	int64_t sec = floor_div(t_ms, 1000);
	if (sec != g->csec)
		cache_second(g, sec);
}

static char *
fmt_json(ls_generator *g, const line_ctx *c, char *p)
{
	p = PUT_LIT(p, "{\"ts\":\"");
	p = put_iso_ms(g, p, c->t_ms);
	p = PUT_LIT(p, "\",\"level\":\"");
	p = put_str(p, level_upper[c->level]);
	p = PUT_LIT(p, "\",\"service\":\"");
	p = put_name(p, &g->svc[c->svc]);
	p = PUT_LIT(p, "\",\"host\":\"");
	p = put_name(p, &g->host[c->host]);
	p = PUT_LIT(p, "\",\"message\":\"");
	p = put_quoted_body(p, c->msg, c->msg_len);
	p = PUT_LIT(p, "\",\"method\":\"");
	p = put_str(p, c->method);
	p = PUT_LIT(p, "\",\"path\":\"");
	p = put_mem(p, c->path, c->path_len);
	p = PUT_LIT(p, "\",\"status\":");
	p = put_u64(p, c->status);
	p = PUT_LIT(p, ",\"latency_ms\":");
	p = put_fixed(p, c->latency_ms, 3);
	p = PUT_LIT(p, ",\"bytes\":");
	p = put_u64(p, c->bytes);
	p = PUT_LIT(p, ",\"user\":\"");
	p = put_user(p, c->user);
	p = PUT_LIT(p, "\",\"trace_id\":\"");
	p = put_trace(p, c);
	return PUT_LIT(p, "\"}");
}

static char *
fmt_logfmt(ls_generator *g, const line_ctx *c, char *p)
{
	p = PUT_LIT(p, "ts=");
	p = put_iso_ms(g, p, c->t_ms);
	p = PUT_LIT(p, " level=");
	p = put_str(p, level_upper[c->level]);
	p = PUT_LIT(p, " service=");
	p = put_name(p, &g->svc[c->svc]);
	p = PUT_LIT(p, " host=");
	p = put_name(p, &g->host[c->host]);
	p = PUT_LIT(p, " method=");
	p = put_str(p, c->method);
	p = PUT_LIT(p, " path=");
	p = put_mem(p, c->path, c->path_len);
	p = PUT_LIT(p, " status=");
	p = put_u64(p, c->status);
	p = PUT_LIT(p, " latency_ms=");
	p = put_fixed(p, c->latency_ms, 3);
	p = PUT_LIT(p, " bytes=");
	p = put_u64(p, c->bytes);
	p = PUT_LIT(p, " user=");
	p = put_user(p, c->user);
	p = PUT_LIT(p, " trace_id=");
	p = put_trace(p, c);
	p = PUT_LIT(p, " message=\"");
	p = put_quoted_body(p, c->msg, c->msg_len);
	*p++ = '"';
	return p;
}

static unsigned
procid(const ls_generator *g, const line_ctx *c)
{
	return 1000u + (unsigned)(mix64(g->seed ^ (c->svc << 16) ^ c->host) %
	    30000u);
}

static char *
fmt_syslog(ls_generator *g, const line_ctx *c, char *p)
{
	*p++ = '<';
	p = put_u64(p, 16 * 8 + syslog_sev[c->level]); /* local0 */
	p = PUT_LIT(p, ">1 ");
	p = put_iso_ms(g, p, c->t_ms);
	*p++ = ' ';
	p = put_name(p, &g->host[c->host]);
	*p++ = ' ';
	p = put_name(p, &g->svc[c->svc]);
	*p++ = ' ';
	p = put_u64(p, procid(g, c));
	p = PUT_LIT(p, " http [req@32473 method=\"");
	p = put_str(p, c->method);
	p = PUT_LIT(p, "\" path=\"");
	p = put_mem(p, c->path, c->path_len);
	p = PUT_LIT(p, "\" status=\"");
	p = put_u64(p, c->status);
	p = PUT_LIT(p, "\" latency_ms=\"");
	p = put_fixed(p, c->latency_ms, 3);
	p = PUT_LIT(p, "\" bytes=\"");
	p = put_u64(p, c->bytes);
	p = PUT_LIT(p, "\" user=\"");
	p = put_user(p, c->user);
	p = PUT_LIT(p, "\" trace_id=\"");
	p = put_trace(p, c);
	p = PUT_LIT(p, "\"] ");
	return put_mem(p, c->msg, c->msg_len);
}

static char *
fmt_syslog3164(ls_generator *g, const line_ctx *c, char *p)
{
	ensure_second(g, c->t_ms);
	*p++ = '<';
	p = put_u64(p, 16 * 8 + syslog_sev[c->level]);
	*p++ = '>';
	p = put_mem(p, g->bsd, 15);
	*p++ = ' ';
	p = put_name(p, &g->host[c->host]);
	*p++ = ' ';
	p = put_name(p, &g->svc[c->svc]);
	*p++ = '[';
	p = put_u64(p, procid(g, c));
	p = PUT_LIT(p, "]: ");
	return put_mem(p, c->msg, c->msg_len);
}

static char *
fmt_clf(ls_generator *g, const line_ctx *c, char *p)
{
	uint64_t h = mix64(g->seed ^ c->user);

	ensure_second(g, c->t_ms);
	p = put_ip(p, c->user);
	p = PUT_LIT(p, " - ");
	p = put_user(p, c->user);
	p = PUT_LIT(p, " [");
	p = put_mem(p, g->clf, 26);
	p = PUT_LIT(p, "] \"");
	p = put_str(p, c->method);
	*p++ = ' ';
	p = put_mem(p, c->path, c->path_len);
	p = PUT_LIT(p, " HTTP/1.1\" ");
	p = put_u64(p, c->status);
	*p++ = ' ';
	if (c->bytes == 0)
		*p++ = '-';
	else
		p = put_u64(p, c->bytes);
	if ((h & 3) == 0) {
		p = PUT_LIT(p, " \"-\" \"");
	} else {
		p = PUT_LIT(p, " \"https://shop.example.com/products/");
		p = put_u64(p, (h >> 8) % 10000);
		p = PUT_LIT(p, "\" \"");
	}
	p = put_str(p, agents[(h >> 32) % NELEM(agents)]);
	*p++ = '"';
	return p;
}

/* Build line i into g->line; returns its length. */
static size_t
build_line(ls_generator *g, uint64_t i, int64_t *t_ns)
{
	line_ctx c;
	char *p = g->line;
	int fmt = g->format;

	draw_line(g, i, &c);
	if (fmt == LS_GEN_MIXED)
		fmt = (int)rbelow(&c.r, LS_GEN_MIXED);
	switch (fmt) {
	case LS_GEN_LOGFMT:
		p = fmt_logfmt(g, &c, p);
		break;
	case LS_GEN_SYSLOG:
		p = fmt_syslog(g, &c, p);
		break;
	case LS_GEN_SYSLOG3164:
		p = fmt_syslog3164(g, &c, p);
		break;
	case LS_GEN_CLF:
		p = fmt_clf(g, &c, p);
		break;
	default:
		p = fmt_json(g, &c, p);
		break;
	}
	*p = '\0';
	*t_ns = c.t_ms * 1000000;
	return (size_t)(p - g->line);
}

/* ---- public ---- */

static int
valid_name(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > NAME_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void
set_name(gname *n, const char *s)
{
	n->len = (uint8_t)strlen(s);
	memcpy(n->s, s, n->len + 1u);
}

ls_generator *
ls_generator_new(const ls_generator_cfg *cfg)
{
	ls_generator *g;
	const char *const *svc = default_services;
	size_t nsvc = NELEM(default_services);
	double eps, s;

	if (cfg == NULL || cfg->format < 0 || cfg->format >= LS_GEN_FORMAT_COUNT)
		return NULL;
	eps = cfg->events_per_sec != 0 ? cfg->events_per_sec : 1000.0;
	if (!(eps >= 1e-6 && eps <= 1e12))
		return NULL;
	s = cfg->zipf_s != 0 ? cfg->zipf_s : 1.1;
	if (!(s > 0 && s <= 10))
		return NULL;
	if (cfg->services != NULL) {
		svc = cfg->services;
		nsvc = cfg->nservices;
		if (nsvc == 0 || nsvc > MAX_SERVICES)
			return NULL;
		for (size_t i = 0; i < nsvc; i++) {
			if (!valid_name(svc[i]))
				return NULL;
		}
	}
	size_t nhost = cfg->hosts != NULL ? cfg->nhosts :
	    cfg->nhosts != 0          ? cfg->nhosts :
	                                12;
	if (nhost == 0 || nhost > MAX_HOSTS)
		return NULL;
	for (size_t i = 0; cfg->hosts != NULL && i < nhost; i++) {
		if (!valid_name(cfg->hosts[i]))
			return NULL;
	}
	uint32_t nusers = cfg->nusers != 0 ? cfg->nusers : 10000;
	if (nusers > MAX_USERS)
		return NULL;

	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->host = calloc(nhost, sizeof(*g->host));
	g->user_cdf = malloc(nusers * sizeof(*g->user_cdf));
	if (g->host == NULL || g->user_cdf == NULL) {
		ls_generator_free(g);
		return NULL;
	}
	g->seed = cfg->seed;
	g->format = cfg->format;
	g->start_ns = cfg->start_time_ns != 0 ? cfg->start_time_ns :
	                                        LS_GENERATOR_DEFAULT_START_NS;
	g->spacing_ns = 1e9 / eps;
	g->csec = INT64_MIN;

	/* services: popularity falls off gently with position */
	double total = 0;
	g->nsvc = nsvc;
	for (size_t i = 0; i < nsvc; i++) {
		set_name(&g->svc[i], svc[i]);
		g->svc_kind[i] = -1;
		g->svc_median[i] = 5.0 + (double)(mix64(i + 77) % 200);
		for (size_t k = 0; k < NELEM(default_services); k++) {
			if (strcmp(svc[i], default_services[k]) == 0) {
				g->svc_kind[i] = (int)k;
				g->svc_median[i] = default_median_ms[k];
			}
		}
		total += 1.0 / sqrt((double)i + 1.0);
		g->svc_cdf[i] = total;
	}
	for (size_t i = 0; i < nsvc; i++)
		g->svc_cdf[i] /= total;
	g->svc_cdf[nsvc - 1] = 1.0;

	g->nhost = nhost;
	for (size_t i = 0; i < nhost; i++) {
		if (cfg->hosts != NULL) {
			set_name(&g->host[i], cfg->hosts[i]);
		} else {
			char *p = g->host[i].s;
			p = PUT_LIT(p, "ip-10-0-");
			p = put_u64(p, 1 + i / 250);
			*p++ = '-';
			p = put_u64(p, 10 + i % 250);
			*p = '\0';
			g->host[i].len = (uint8_t)(p - g->host[i].s);
		}
	}

	g->nusers = nusers;
	total = 0;
	for (uint32_t k = 0; k < nusers; k++) {
		total += pow((double)k + 1.0, -s);
		g->user_cdf[k] = total;
	}
	for (uint32_t k = 0; k < nusers; k++)
		g->user_cdf[k] /= total;
	g->user_cdf[nusers - 1] = 1.0;
	return g;
}

void
ls_generator_free(ls_generator *g)
{
	if (g == NULL)
		return;
	free(g->host);
	free(g->user_cdf);
	free(g);
}

int
ls_generator_next(ls_generator *g, char *buf, size_t cap, size_t *len,
    int64_t *time_ns)
{
	int64_t t;
	size_t n = build_line(g, g->index, &t);

	*len = n;
	if (cap <= n)
		return LS_ERANGE;
	memcpy(buf, g->line, n + 1);
	if (time_ns != NULL)
		*time_ns = t;
	g->index++;
	return 0;
}

void
ls_generator_seek(ls_generator *g, uint64_t index)
{
	g->index = index;
}

uint64_t
ls_generator_index(const ls_generator *g)
{
	return g->index;
}

static const char *const format_names[LS_GEN_FORMAT_COUNT] = { "json",
	"logfmt", "syslog", "syslog3164", "clf", "mixed" };

int
ls_generator_format_parse(const char *name, int *out)
{
	for (int i = 0; name != NULL && i < LS_GEN_FORMAT_COUNT; i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return LS_EINVAL;
}

const char *
ls_generator_format_name(int format)
{
	if (format < 0 || format >= LS_GEN_FORMAT_COUNT)
		return "unknown";
	return format_names[format];
}
