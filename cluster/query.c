/*
 * query.c -- interactive queries over the HTTP API (see query.h and
 * docs/queries.md): the strict query-string parser, the public routes
 * that any node serves (routing by key, scatter-gather, merge, retry on
 * the new owner), and the internal endpoint that asks this node's own
 * partitions.
 *
 * Handlers run on the HTTP server's threads.  They read the map through
 * ls_coord_map_snapshot() and the topology from the map's YAML; they hold
 * no lock while they wait for a partition or another node.
 */
#include "cluster/query.h"
#include "cluster/query_int.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/sinkfmt.h"
#include "actors/timefmt.h"
#include "cluster/jsonbuf.h"
#include "cluster/node_int.h"
#include "runtime/log.h"
#include "schemas/codec.h"
#include "topology/plan.h"
#include "topology/topology.h"

#define WIRE_TYPE "application/octet-stream"
#define TIMEOUT_DEFAULT_MS 5000
#define INTERNAL_TIMEOUT_MS 2000 /* one partition's answer on its owner */
#define TIMEOUT_MAX_MS 60000
#define RETRY_SLEEP_MS 100
#define RETRY_AFTER_S "1"

/* ---- the query string ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into out (cap bytes, NUL added); '+' is a space.
 * Returns the decoded length, or -1 (bad escape, a NUL, too long). */
static long
decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0' || k + 1 >= cap)
			return -1;
		out[k++] = c;
	}
	out[k] = '\0';
	return (long)k;
}

int
ls_query_time(const char *s, size_t len, int64_t *ns)
{
	size_t used = 0;
	if (len == 0)
		return LS_EINVAL;
	int digits = 1;
	for (size_t i = s[0] == '-' ? 1 : 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			digits = 0;
	if (digits && len > (s[0] == '-' ? 1u : 0u)) {
		/* milliseconds since the epoch */
		char buf[32];
		if (len >= sizeof(buf))
			return LS_EINVAL;
		memcpy(buf, s, len);
		buf[len] = '\0';
		char *end;
		long long ms = strtoll(buf, &end, 10);
		if (*end != '\0' || ms > INT64_MAX / 1000000 ||
		    ms < INT64_MIN / 1000000 + 1)
			return LS_EINVAL;
		*ns = (int64_t)ms * 1000000;
		return 0;
	}
	if (ls_timefmt_iso8601(s, len, ns, &used) != 0 || used != len)
		return LS_EINVAL;
	return 0;
}

static int
parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static int
parse_int64(const char *s, int64_t *out)
{
	int neg = *s == '-';
	uint64_t v;
	if (parse_uint(s + neg, (uint64_t)INT64_MAX, &v) != 0)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

enum {
	P_TOPOLOGY, P_STAGE, P_PARTITION, P_KEY, P_PREFIX, P_FROM, P_TO,
	P_FROM_NS, P_TO_NS, P_OPEN, P_LIMIT, P_FORMAT, P_TIMEOUT, P_TEXT,
	P_COUNT
};

static const struct {
	const char *name;
	unsigned routes;
} params[P_COUNT] = {
	[P_TOPOLOGY] = { "topology", LS_QUERY_PUBLIC | LS_QUERY_INTERNAL | LS_QUERY_SEARCH },
	[P_STAGE] = { "stage", LS_QUERY_INTERNAL },
	[P_PARTITION] = { "partition", LS_QUERY_INTERNAL },
	[P_KEY] = { "key", LS_QUERY_PUBLIC | LS_QUERY_INTERNAL },
	[P_PREFIX] = { "prefix", LS_QUERY_PUBLIC | LS_QUERY_INTERNAL },
	[P_FROM] = { "from", LS_QUERY_PUBLIC | LS_QUERY_SEARCH },
	[P_TO] = { "to", LS_QUERY_PUBLIC | LS_QUERY_SEARCH },
	[P_FROM_NS] = { "from_ns", LS_QUERY_INTERNAL },
	[P_TO_NS] = { "to_ns", LS_QUERY_INTERNAL },
	[P_OPEN] = { "open", LS_QUERY_PUBLIC | LS_QUERY_INTERNAL },
	[P_LIMIT] = { "limit", LS_QUERY_PUBLIC | LS_QUERY_INTERNAL | LS_QUERY_SEARCH },
	[P_FORMAT] = { "format", LS_QUERY_PUBLIC | LS_QUERY_SEARCH },
	[P_TIMEOUT] = { "timeout_ms", LS_QUERY_PUBLIC | LS_QUERY_SEARCH },
	[P_TEXT] = { "q", LS_QUERY_INTERNAL | LS_QUERY_SEARCH },
};

/* One parameter name=value (both still encoded). */
static int
take(ls_query_params *out, unsigned route, const char *name, size_t nl,
    const char *val, size_t vl, unsigned *seen, char *v, char *err,
    size_t errlen)
{
	char nm[40];
	int k;
	long n = decode(name, nl, nm, sizeof(nm));
	if (n <= 0) {
		set_err(err, errlen, "%sbad parameter name", "");
		return LS_EINVAL;
	}
	for (k = 0; k < P_COUNT; k++)
		if ((params[k].routes & route) && strcmp(params[k].name, nm) == 0)
			break;
	if (k == P_COUNT && strcmp(nm, "active") == 0)
		k = P_OPEN; /* the name for open=1 */
	if (k == P_COUNT) {
		set_err(err, errlen, "unknown parameter '%s'", nm);
		return LS_EINVAL;
	}
	if (k != P_KEY && (*seen & (1u << k))) {
		set_err(err, errlen, "parameter '%s' given twice", nm);
		return LS_EINVAL;
	}
	*seen |= 1u << k;
	n = decode(val, vl, v, LS_QUERY_VALUE_MAX + 1);
	if (n < 0) {
		set_err(err, errlen,
		    "parameter '%s': bad percent-encoding, a NUL byte or "
		    "longer than 4096 bytes",
		    nm);
		return LS_EINVAL;
	}
	size_t len = (size_t)n;
	uint64_t u;
	int64_t t;
	switch (k) {
	case P_TOPOLOGY:
	case P_STAGE: {
		char *dst = k == P_TOPOLOGY ? out->topology : out->stage;
		if (len == 0 || len > LS_QUERY_NAME_MAX) {
			set_err(err, errlen, "parameter '%s': bad name", nm);
			return LS_EINVAL;
		}
		memcpy(dst, v, len + 1);
		return 0;
	}
	case P_PARTITION:
		if (parse_uint(v, UINT32_MAX, &u) != 0) {
			set_err(err, errlen, "parameter '%s': not a partition "
			                     "number", nm);
			return LS_EINVAL;
		}
		out->partition = (uint32_t)u;
		return 0;
	case P_KEY:
		if (out->nkey == LS_KIND_QUERY_MAX_KEYS) {
			set_err(err, errlen, "parameter '%s': more than 8 values",
			    nm);
			return LS_EINVAL;
		}
		memcpy(out->key[out->nkey], v, len + 1);
		out->key_len[out->nkey++] = len;
		return 0;
	case P_PREFIX:
		if (len == 0) {
			set_err(err, errlen, "parameter '%s': empty", nm);
			return LS_EINVAL;
		}
		memcpy(out->prefix, v, len + 1);
		out->prefix_len = len;
		return 0;
	case P_FROM:
	case P_TO:
		if (ls_query_time(v, len, &t) != 0) {
			set_err(err, errlen, "parameter '%s': not a time "
			    "(RFC 3339, or milliseconds since the epoch)", nm);
			return LS_EINVAL;
		}
		*(k == P_FROM ? &out->from_ns : &out->to_ns) = t;
		return 0;
	case P_FROM_NS:
	case P_TO_NS:
		if (parse_int64(v, &t) != 0) {
			set_err(err, errlen, "parameter '%s': not an integer", nm);
			return LS_EINVAL;
		}
		*(k == P_FROM_NS ? &out->from_ns : &out->to_ns) = t;
		return 0;
	case P_OPEN:
		if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
			out->open = 1;
		else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
			out->open = 0;
		else {
			set_err(err, errlen, "parameter '%s': want 1, true, 0 or "
			                     "false", nm);
			return LS_EINVAL;
		}
		return 0;
	case P_LIMIT:
		if (parse_uint(v, LS_QUERY_LIMIT_MAX, &u) != 0 || u == 0) {
			set_err(err, errlen, "parameter '%s': want 1 to 1000000",
			    nm);
			return LS_EINVAL;
		}
		out->limit = (uint32_t)u;
		return 0;
	case P_FORMAT:
		if (strcmp(v, "json") == 0)
			out->text = 0;
		else if (strcmp(v, "text") == 0)
			out->text = 1;
		else {
			set_err(err, errlen, "parameter '%s': want json or text",
			    nm);
			return LS_EINVAL;
		}
		return 0;
	case P_TIMEOUT:
		if (parse_uint(v, TIMEOUT_MAX_MS, &u) != 0 || u == 0) {
			set_err(err, errlen, "parameter '%s': want 1 to 60000",
			    nm);
			return LS_EINVAL;
		}
		out->timeout_ms = (int64_t)u;
		return 0;
	case P_TEXT:
		memcpy(out->qtext, v, len + 1);
		out->qtext_len = len;
		return 0;
	default:
		return LS_EINVAL;
	}
}

int
ls_query_parse(const char *qs, size_t len, unsigned route,
    ls_query_params *out, char *err, size_t errlen)
{
	char *v = malloc(LS_QUERY_VALUE_MAX + 1);
	unsigned seen = 0;
	int rv = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	out->from_ns = INT64_MIN;
	out->to_ns = INT64_MAX;
	out->limit = LS_QUERY_LIMIT_DEFAULT;
	out->open = -1;
	if (v == NULL) {
		set_err(err, errlen, "%sout of memory", "");
		return LS_ENOMEM;
	}
	for (size_t i = 0; i < len && rv == 0;) {
		size_t e = i;
		while (e < len && qs[e] != '&')
			e++;
		if (e > i) { /* empty parts ("a=1&&b=2", a trailing &) pass */
			size_t eq = i;
			while (eq < e && qs[eq] != '=')
				eq++;
			if (eq == e) {
				char nm[40];
				long n = decode(qs + i, e - i, nm, sizeof(nm));
				set_err(err, errlen, "parameter '%s' has no value",
				    n > 0 ? nm : "?");
				rv = LS_EINVAL;
				break;
			}
			rv = take(out, route, qs + i, eq - i, qs + eq + 1,
			    e - eq - 1, &seen, v, err, errlen);
		}
		i = e + 1;
	}
	free(v);
	if (rv != 0)
		return rv;
	if (out->from_ns >= out->to_ns) {
		set_err(err, errlen, "%sfrom must be before to", "");
		return LS_EINVAL;
	}
	if ((route & LS_QUERY_INTERNAL) &&
	    (!(seen & (1u << P_STAGE)) || !(seen & (1u << P_PARTITION)) ||
	        !(seen & (1u << P_TOPOLOGY)))) {
		set_err(err, errlen, "%swant topology, stage and partition", "");
		return LS_EINVAL;
	}
	if (out->nkey > 0 && out->prefix_len > 0) {
		set_err(err, errlen, "%sgive key or prefix, not both", "");
		return LS_EINVAL;
	}
	return 0;
}

void
ls_query_to_kind(const ls_query_params *p, ls_kind_query *q)
{
	memset(q, 0, sizeof(*q));
	q->nkey = p->nkey;
	for (uint32_t i = 0; i < p->nkey; i++)
		q->key[i] = ls_str_make(p->key[i], p->key_len[i]);
	q->prefix = ls_str_make(p->prefix, p->prefix_len);
	q->from_ns = p->from_ns;
	q->to_ns = p->to_ns;
	q->limit = p->limit;
	q->text = ls_str_make(p->qtext, p->qtext_len);
	q->flags = p->open == 1 ? LS_KIND_QUERY_OPEN
	    : p->open == 0      ? LS_KIND_QUERY_CLOSED
	                        : 0;
}

/* ---- answers ---- */

static int
reply(ls_http_resp *resp, int status, const char *type, ls_jsonbuf *b)
{
	if (b->oom) {
		ls_jsonbuf_fini(b);
		return ls_http_resp_error(resp, 500, "out of memory");
	}
	ls_http_resp_status(resp, status);
	int rv = ls_http_resp_body(resp, type, b->p, b->len);
	ls_jsonbuf_fini(b);
	return rv;
}

/* 503 with Retry-After: the partition may answer soon. */
static int
unavailable(ls_http_resp *resp, const char *msg)
{
	ls_http_resp_error(resp, 503, msg);
	return ls_http_resp_header(resp, "Retry-After", RETRY_AFTER_S);
}

/* ---- how many queries wait at once ----
 * Handlers run on nng's threads, which also carry the cluster's own calls
 * (heartbeats, the data path's transport); a query that waits for a
 * restoring partition must not take them all.  Beyond these counts a
 * request gets 503 + Retry-After at once (per process). */
#define MAX_PUBLIC 2
#define MAX_INTERNAL 2
static _Atomic int n_public, n_internal;

static int
enter(_Atomic int *n, int max)
{
	if (atomic_fetch_add(n, 1) >= max) {
		atomic_fetch_sub(n, 1);
		return 0;
	}
	return 1;
}

static void
leave(_Atomic int *n)
{
	atomic_fetch_sub(n, 1);
}

/* ---- the internal endpoint: this node's own partitions ---- */

static int internal(ls_node *n, const ls_http_req *req, ls_http_resp *resp);

static int
h_internal(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	if (!enter(&n_internal, MAX_INTERNAL))
		return unavailable(resp, "too many queries in flight");
	int rv = internal(arg, req, resp);
	leave(&n_internal);
	return rv;
}

static int
internal(ls_node *n, const ls_http_req *req, ls_http_resp *resp)
{
	char err[200];
	ls_query_params *p = malloc(sizeof(*p));
	if (p == NULL)
		return ls_http_resp_error(resp, 500, "out of memory");
	int rv = ls_query_parse(req->query, strlen(req->query),
	    LS_QUERY_INTERNAL, p, err, sizeof(err));
	if (rv != 0) {
		free(p);
		return ls_http_resp_error(resp, rv == LS_ENOMEM ? 500 : 400, err);
	}
	ls_kind_query q;
	ls_query_to_kind(p, &q);
	uint8_t *buf = NULL;
	size_t len = 0;
	rv = ls_dataplane_query(n->dp, p->topology, p->stage, p->partition, &q,
	    INTERNAL_TIMEOUT_MS, &buf, &len);
	free(p);
	switch (rv) {
	case 0:
		ls_http_resp_status(resp, 200);
		rv = ls_http_resp_body(resp, WIRE_TYPE, buf, len);
		free(buf);
		return rv;
	case LS_ENOENT:
		return ls_http_resp_error(resp, 404, "no such partition here");
	case LS_ESTALE:
		return ls_http_resp_error(resp, 409, "not the owner");
	case LS_ENOTSUP:
		return ls_http_resp_error(resp, 404, "not queryable");
	case LS_EBUSY:
	case LS_EAGAIN:
		return unavailable(resp, "partition restoring or moving");
	case LS_ETIMEDOUT:
		return unavailable(resp, "partition busy: no answer in time");
	default:
		return ls_http_resp_error(resp, 500, ls_strerror(rv));
	}
}

/* ---- the public routes ---- */

/* The stage a public request names, found in the map's topologies. */
typedef ls_query_target target; /* cluster/query_int.h */

/* Find stage (of kind `kind`) in the deployed topologies (only in
 * p->topology when given).  0, or an HTTP status with a reason in err. */
static int
find_target(const ls_map *map, const char *stage, const char *kind,
    const ls_query_params *p, target *out, char *err, size_t errlen)
{
	int found = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, i, &name, &yaml) != 0 ||
		    (p->topology[0] != '\0' && strcmp(p->topology, name) != 0))
			continue;
		ls_topology *t = NULL;
		ls_diag d;
		ls_diag_init(&d);
		int rv = ls_topology_parse(name, yaml, strlen(yaml), &t, &d);
		ls_diag_free(&d);
		if (rv != 0)
			continue;
		const ls_topo_node *nd = NULL;
		for (size_t k = 0; k < ls_topology_count(t); k++)
			if (strcmp(ls_topology_node(t, k)->name, stage) == 0)
				nd = ls_topology_node(t, k);
		if (nd == NULL) {
			ls_topology_free(t);
			continue;
		}
		if (found++ > 0) {
			snprintf(err, errlen, "stage '%s' is in topologies '%s' "
			    "and '%s': say which with topology=", stage,
			    out->topology, name);
			ls_topology_free(t);
			return 400;
		}
		out->t = t;
		out->node = nd;
		snprintf(out->topology, sizeof(out->topology), "%s", name);
	}
	if (!found) {
		snprintf(err, errlen, "no stage '%s' in the deployed topologies",
		    stage);
		return 404;
	}
	const ls_kind *k = out->node->kind_def;
	if (k == NULL || strcmp(k->name, kind) != 0 || k->query == NULL) {
		snprintf(err, errlen, "stage '%s' is a %s stage, not a "
		    "queryable %s stage", stage, k != NULL ? k->name : "?", kind);
		return 404;
	}
	if (p->nkey > 0 && p->nkey != out->node->nkey) {
		snprintf(err, errlen, "stage '%s' has %zu key field(s): give "
		    "key= once per field, in order", stage, out->node->nkey);
		return 400;
	}
	return 0;
}

static void
target_fini(target *tg)
{
	ls_topology_free(tg->t);
	tg->t = NULL;
}

void
ls_query_encode(ls_jsonbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~')
			ls_jsonbuf_printf(b, "%c", c);
		else
			ls_jsonbuf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

/* The internal request for partition part of tg. */
static void
internal_path(ls_jsonbuf *b, const target *tg, uint32_t part,
    const ls_query_params *p)
{
	ls_jsonbuf_printf(b, "/v1/internal/query?topology=");
	ls_query_encode(b, tg->topology, strlen(tg->topology));
	ls_jsonbuf_printf(b, "&stage=");
	ls_query_encode(b, tg->node->name, strlen(tg->node->name));
	ls_jsonbuf_printf(b, "&partition=%u&limit=%u", part, p->limit);
	for (uint32_t i = 0; i < p->nkey; i++) {
		ls_jsonbuf_printf(b, "&key=");
		ls_query_encode(b, p->key[i], p->key_len[i]);
	}
	if (p->prefix_len > 0) {
		ls_jsonbuf_printf(b, "&prefix=");
		ls_query_encode(b, p->prefix, p->prefix_len);
	}
	if (p->from_ns != INT64_MIN)
		ls_jsonbuf_printf(b, "&from_ns=%lld", (long long)p->from_ns);
	if (p->to_ns != INT64_MAX)
		ls_jsonbuf_printf(b, "&to_ns=%lld", (long long)p->to_ns);
	if (p->open >= 0)
		ls_jsonbuf_printf(b, "&open=%d", p->open);
	if (p->qtext_len > 0) {
		ls_jsonbuf_printf(b, "&q=");
		ls_query_encode(b, p->qtext, p->qtext_len);
	}
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Ask partition part of tg, wherever it is, until it answers or the
 * deadline passes.  0 and the decoded rows, or an HTTP status with a
 * reason in err. */
static int
ask_partition(ls_node *n, const target *tg, uint32_t part,
    const ls_query_params *p, int64_t deadline_ns, ls_records **out,
    char *err, size_t errlen)
{
	char pname[LS_PLAN_NAME_MAX + 16];
	snprintf(pname, sizeof(pname), "%s/%u", tg->node->name, part);
	ls_kind_query q;
	ls_query_to_kind(p, &q);
	for (int attempt = 0;; attempt++) {
		if (attempt > 0) {
			if (ls_clock_ns() >= deadline_ns)
				return 503;
			sleep_ms(RETRY_SLEEP_MS);
		}
		int64_t left_ms = (deadline_ns - ls_clock_ns()) / 1000000;
		if (left_ms < 50)
			left_ms = 50;
		ls_map *map;
		if (ls_coord_map_snapshot(n->coord, &map) != 0) {
			snprintf(err, errlen, "no cluster map yet");
			continue;
		}
		ls_map_assignment a;
		ls_map_node owner;
		int placed = ls_map_assignment_find(map, tg->topology, pname,
		                 &a) == 0 &&
		    ls_map_node_find(map, a.owner, &owner) == 0;
		char http[MAX_ADDR] = "";
		uint64_t oid = placed ? a.owner : 0;
		if (placed)
			snprintf(http, sizeof(http), "%s", owner.http);
		ls_map_free(map);
		if (!placed) {
			snprintf(err, errlen, "partition %s has no owner yet",
			    pname);
			continue;
		}
		uint8_t *buf = NULL;
		size_t len = 0;
		int rv;
		if (oid == n->raft_id) {
			rv = ls_dataplane_query(n->dp, tg->topology,
			    tg->node->name, part, &q, left_ms, &buf, &len);
			if (rv == LS_ENOTSUP) {
				snprintf(err, errlen, "stage '%s' is not "
				    "queryable", tg->node->name);
				return 404;
			}
			if (rv != 0) {
				snprintf(err, errlen, "partition %s is restoring "
				    "here (%s)", pname, ls_errname(rv));
				continue;
			}
		} else {
			ls_jsonbuf path = { 0 };
			internal_path(&path, tg, part, p);
			if (path.oom) {
				ls_jsonbuf_fini(&path);
				snprintf(err, errlen, "out of memory");
				return 500;
			}
			int status = 0;
			char *body = NULL;
			rv = ls_http_request(http, "GET", path.p, NULL, 0, &status,
			    &body, &len, (int)left_ms);
			ls_jsonbuf_fini(&path);
			if (rv != 0 || status != 200) {
				snprintf(err, errlen, "partition %s: owner %s "
				    "%s %d", pname, http,
				    rv != 0 ? "unreachable" : "answered", status);
				free(body);
				if (rv == 0 && status == 400)
					return 502;
				continue; /* moved, restoring or gone: again */
			}
			buf = (uint8_t *)body;
		}
		ls_records *r = NULL;
		rv = ls_codec_records_decode(buf, len, &r);
		free(buf);
		if (rv != 0) {
			snprintf(err, errlen, "partition %s: bad answer (%s)",
			    pname, ls_errname(rv));
			return 502;
		}
		*out = r;
		return 0;
	}
}

/* Rows of the answer, one per line in text form. */
static void
put_text(ls_jsonbuf *b, const ls_records *r, size_t nrows)
{
	ls_sinkfmt_table tb;
	char line[8192];
	if (ls_sinkfmt_table_init(&tb, r->schema) != 0)
		return;
	ls_sinkfmt_table_header(&tb, line, sizeof(line));
	ls_jsonbuf_printf(b, "%s\n", line);
	for (size_t i = 0; i < nrows; i++) {
		ls_sinkfmt_table_row(&tb, &r->v[i * r->schema->n], line,
		    sizeof(line));
		ls_jsonbuf_printf(b, "%s\n", line);
	}
}

static void
put_json(ls_jsonbuf *b, const char *stage, const ls_records *r,
    size_t nrows)
{
	char small[2048];
	for (size_t i = 0; i < nrows; i++) {
		const ls_rec_value *row = &r->v[i * r->schema->n];
		size_t need = ls_sinkfmt_record_json(stage, r->schema, row, small,
		    sizeof(small));
		ls_jsonbuf_printf(b, "%s", i ? "," : "");
		if (need < sizeof(small)) {
			ls_jsonbuf_printf(b, "%s", small);
			continue;
		}
		char *big = malloc(need + 1);
		if (big == NULL) {
			b->oom = 1;
			return;
		}
		ls_sinkfmt_record_json(stage, r->schema, row, big, need + 1);
		ls_jsonbuf_printf(b, "%s", big);
		free(big);
	}
}

/* Add src's rows to *all (the first answer becomes *all).  0, or 502 when
 * the schemas differ (a redeploy in between), 500 out of memory. */
static int
merge_into(ls_records **all, ls_records *src)
{
	if (*all == NULL) {
		*all = src;
		return 0;
	}
	const ls_rec_schema *a = (*all)->schema, *s = src->schema;
	int same = a->n == s->n;
	for (uint32_t i = 0; same && i < a->n; i++)
		same = a->f[i].type == s->f[i].type &&
		    strcmp(a->f[i].name, s->f[i].name) == 0;
	int rv = same ? 0 : 502;
	for (uint32_t i = 0; rv == 0 && i < src->n; i++)
		if (ls_records_copy_row(*all, src, i) == NULL)
			rv = 500;
	ls_records_unref(src);
	return rv;
}

static int
serve(ls_node *n, const ls_http_req *req, ls_http_resp *resp,
    const char *prefix, const char *kind)
{
	char err[300];
	const char *stage = req->path + strlen(prefix);
	if (*stage == '\0' || strchr(stage, '/') != NULL ||
	    strlen(stage) > LS_QUERY_NAME_MAX)
		return ls_http_resp_error(resp, 400, "want /v1/windows/STAGE, "
		    "/v1/sessions/STAGE, /v1/alerts/STAGE or "
		    "/v1/patterns/STAGE");
	ls_query_params *p = malloc(sizeof(*p));
	if (p == NULL)
		return ls_http_resp_error(resp, 500, "out of memory");
	int rv = ls_query_parse(req->query, strlen(req->query),
	    LS_QUERY_PUBLIC, p, err, sizeof(err));
	if (rv != 0) {
		free(p);
		return ls_http_resp_error(resp, rv == LS_ENOMEM ? 500 : 400, err);
	}
	ls_map *map;
	if (ls_coord_map_snapshot(n->coord, &map) != 0) {
		free(p);
		return unavailable(resp, "no cluster map yet");
	}
	target tg;
	int status = find_target(map, stage, kind, p, &tg, err, sizeof(err));
	ls_map_free(map);
	if (status != 0) {
		free(p);
		return ls_http_resp_error(resp, status, err);
	}
	int64_t timeout = p->timeout_ms > 0 ? p->timeout_ms : TIMEOUT_DEFAULT_MS;
	int64_t deadline = ls_clock_ns() + timeout * 1000000;
	uint32_t nparts = tg.node->partitions ? tg.node->partitions : 1;
	uint32_t first = 0, last = nparts;
	if (p->nkey > 0) {
		ls_str v[LS_KIND_QUERY_MAX_KEYS];
		for (uint32_t i = 0; i < p->nkey; i++)
			v[i] = ls_str_make(p->key[i], p->key_len[i]);
		first = ls_plan_route_key(tg.node, v, p->nkey);
		last = first + 1;
	}
	ls_records *all = NULL;
	for (uint32_t part = first; part < last && status == 0; part++) {
		ls_records *r = NULL;
		status = ask_partition(n, &tg, part, p, deadline, &r, err,
		    sizeof(err));
		if (status == 0)
			status = merge_into(&all, r);
		else if (status == 500)
			snprintf(err, sizeof(err), "out of memory");
	}
	if (status == 0 && all != NULL && ls_records_order(all,
	                                      (size_t)p->limit + 1) != 0) {
		status = 500;
		snprintf(err, sizeof(err), "out of memory");
	}
	if (status != 0) {
		if (all != NULL)
			ls_records_unref(all);
		target_fini(&tg);
		free(p);
		if (status == 503)
			return unavailable(resp, err);
		return ls_http_resp_error(resp, status, err);
	}
	size_t nrows = all != NULL ? all->n : 0;
	int truncated = nrows > p->limit;
	if (truncated)
		nrows = p->limit;
	ls_jsonbuf b = { 0 };
	if (p->text) {
		if (all != NULL)
			put_text(&b, all, nrows);
		ls_jsonbuf_printf(&b, "%zu row(s)%s\n", nrows,
		    truncated ? ", more not shown (limit)" : "");
	} else {
		ls_jsonbuf_printf(&b, "{\"topology\":");
		ls_jsonbuf_str(&b, tg.topology);
		ls_jsonbuf_printf(&b, ",\"stage\":");
		ls_jsonbuf_str(&b, tg.node->name);
		ls_jsonbuf_printf(&b, ",\"kind\":");
		ls_jsonbuf_str(&b, kind);
		ls_jsonbuf_printf(&b, ",\"partitions\":%u,\"rows\":[",
		    last - first);
		if (all != NULL)
			put_json(&b, tg.node->name, all, nrows);
		ls_jsonbuf_printf(&b, "],\"count\":%zu,\"truncated\":%s}\n",
		    nrows, truncated ? "true" : "false");
	}
	int text = p->text;
	if (all != NULL)
		ls_records_unref(all);
	target_fini(&tg);
	free(p);
	return reply(resp, 200, text ? "text/plain" : "application/json", &b);
}

static int
serve_capped(void *arg, const ls_http_req *req, ls_http_resp *resp,
    const char *prefix, const char *kind)
{
	if (!enter(&n_public, MAX_PUBLIC))
		return unavailable(resp, "too many queries in flight");
	int rv = serve(arg, req, resp, prefix, kind);
	leave(&n_public);
	return rv;
}

static int
h_windows(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	return serve_capped(arg, req, resp, "/v1/windows/", "window");
}

static int
h_sessions(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	return serve_capped(arg, req, resp, "/v1/sessions/", "session");
}

static int
h_alerts(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	return serve_capped(arg, req, resp, "/v1/alerts/", "anomaly");
}

static int
h_patterns(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	return serve_capped(arg, req, resp, "/v1/patterns/", "patterns");
}

/* ---- for the routes of other kinds built on these (cluster/search.c) */

int
ls__query_find_target(const ls_map *map, const char *stage, const char *kind,
    const ls_query_params *p, ls_query_target *out, char *err, size_t errlen)
{
	return find_target(map, stage, kind, p, out, err, errlen);
}

void
ls__query_target_fini(ls_query_target *tg)
{
	target_fini(tg);
}

int
ls__query_ask(ls_node *n, const ls_query_target *tg, uint32_t part,
    const ls_query_params *p, int64_t deadline_ns, ls_records **out,
    char *err, size_t errlen)
{
	return ask_partition(n, tg, part, p, deadline_ns, out, err, errlen);
}

int
ls__query_enter(void)
{
	return enter(&n_public, MAX_PUBLIC);
}

void
ls__query_leave(void)
{
	leave(&n_public);
}

int
ls__query_routes(ls_node *n)
{
	int rv;
	if ((rv = ls__search_routes(n)) != 0)
		return rv;
	if ((rv = ls_http_route(n->http, "GET", "/v1/windows/", h_windows,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "GET", "/v1/sessions/", h_sessions,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "GET", "/v1/alerts/", h_alerts,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "GET", "/v1/patterns/", h_patterns,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "GET", "/v1/internal/query",
	         h_internal, n)) != 0)
		return rv;
	return 0;
}
