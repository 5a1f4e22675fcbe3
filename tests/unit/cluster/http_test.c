/*
 * http_test.c -- the node HTTP API server on 127.0.0.1 (port 0), driven by
 * a minimal raw-socket HTTP/1.1 client written here and by ls_http_request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "cluster/auth.h"
#include "cluster/http.h"
#include "cluster/tls.h"
#include "runtime/err.h"
#include "runtime/metrics.h"

struct fixture {
	ls_http *h;
	ls_metrics *m;
	char addr[64];
	pthread_mutex_t mtx;
	uint8_t *last_body; /* what the POST handler received */
	size_t last_len;
	char last_query[256];
	char last_path[256];
	char last_ctype[128];
	atomic_int echo_calls;
};

/* POST /v1/echo: keeps a copy of the body, answers with it. */
static int
echo(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	struct fixture *f = arg;
	const char *ct = ls_http_req_header(req, "Content-Type");
	pthread_mutex_lock(&f->mtx);
	free(f->last_body);
	f->last_body = NULL;
	f->last_len = req->body_len;
	if (req->body_len > 0) {
		f->last_body = malloc(req->body_len);
		memcpy(f->last_body, req->body, req->body_len);
	}
	snprintf(f->last_ctype, sizeof(f->last_ctype), "%s",
	         ct != NULL ? ct : "");
	pthread_mutex_unlock(&f->mtx);
	atomic_fetch_add(&f->echo_calls, 1);
	ls_http_resp_status(resp, 201);
	ls_http_resp_header(resp, "X-Echo-Len", "yes");
	return ls_http_resp_body(resp, "application/octet-stream", req->body,
	                         req->body_len);
}

/* GET /v1/topologies/ (prefix): echoes path and query. */
static int
topo(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	struct fixture *f = arg;
	char out[600];
	pthread_mutex_lock(&f->mtx);
	snprintf(f->last_path, sizeof(f->last_path), "%s", req->path);
	snprintf(f->last_query, sizeof(f->last_query), "%s", req->query);
	pthread_mutex_unlock(&f->mtx);
	int n =
	    snprintf(out, sizeof(out), "prefix %s ? %s", req->path, req->query);
	return ls_http_resp_body(resp, "text/plain", out, (size_t)n);
}

/* POST /v1/topologies (exact). */
static int
topo_exact(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	(void)arg;
	(void)req;
	return ls_http_resp_body(resp, "text/plain", "exact", 5);
}

/* GET /v1/fail?code=N: returns the LS_E* code N. */
static int
fail_handler(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	(void)arg;
	ls_http_resp_body(resp, "text/plain", "discarded", 9);
	return atoi(req->query + 5);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	pthread_mutex_init(&f->mtx, NULL);
	assert_int_equal(ls_metrics_new(&f->m), 0);
	ls_metric_add(ls_metrics_counter(f->m, "ls_test_events_total",
	                                 "Events seen.", "stage=\"parse\""),
	              123456789);
	ls_metric_add(ls_metrics_counter(f->m, "ls_test_events_total",
	                                 "Events seen.", "stage=\"window\""),
	              42);
	ls_metric_set(
	    ls_metrics_gauge(f->m, "ls_test_queue_depth", "Queue depth.", NULL),
	    -7);
	ls_http_opts o = {.metrics = f->m};
	assert_int_equal(ls_http_start("127.0.0.1:0", &o, &f->h), 0);
	assert_true(ls_http_port(f->h) > 0);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%d", ls_http_port(f->h));
	assert_int_equal(ls_http_route(f->h, "POST", "/v1/echo", echo, f), 0);
	assert_int_equal(ls_http_route(f->h, "GET", "/v1/topologies/", topo, f),
	                 0);
	assert_int_equal(
	    ls_http_route(f->h, "POST", "/v1/topologies", topo_exact, f), 0);
	assert_int_equal(
	    ls_http_route(f->h, "GET", "/v1/fail", fail_handler, f), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	ls_http_stop(f->h);
	ls_metrics_free(f->m);
	free(f->last_body);
	pthread_mutex_destroy(&f->mtx);
	free(f);
	return 0;
}

/* ---- the raw client ------------------------------------------------ */

static int
raw_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* A safety net against a hung server, not a timing assertion. */
	struct timeval tv = {.tv_sec = 60};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Send req (len bytes), half-close when shut, and read until the peer
 * closes.  Returns a NUL-terminated buffer (caller frees), *n its size. */
static char *
raw_exchange(int port, const void *req, size_t len, int shut, size_t *n)
{
	int fd = raw_connect(port);
	const char *p = req;
	size_t left = len;
	while (left > 0) {
		ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server may have closed on garbage */
		p += w;
		left -= (size_t)w;
	}
	if (shut)
		shutdown(fd, SHUT_WR);
	size_t cap = 4096, got = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (got == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
		ssize_t r = recv(fd, buf + got, cap - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	*n = got;
	return buf;
}

static char *
raw_str(int port, const char *req)
{
	size_t n;
	return raw_exchange(port, req, strlen(req), 0, &n);
}

static int
raw_status(const char *resp)
{
	if (strncmp(resp, "HTTP/1.1 ", 9) != 0)
		return -1;
	return atoi(resp + 9);
}

/* The value of header name in a raw response (copied into out). */
static const char *
raw_header(const char *resp, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *end = strstr(resp, "\r\n\r\n");
	for (const char *p = strstr(resp, "\r\n"); p != NULL && p < end;
	     p = strstr(p + 2, "\r\n")) {
		const char *l = p + 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = strcspn(v, "\r");
			if (vl >= cap)
				vl = cap - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return out;
		}
	}
	return NULL;
}

static const char *
raw_body(const char *resp)
{
	const char *e = strstr(resp, "\r\n\r\n");
	return e != NULL ? e + 4 : NULL;
}

static void
get(struct fixture *f, const char *path, int *status, char **body, size_t *len)
{
	assert_int_equal(ls_http_request(f->addr, "GET", path, NULL, 0, status,
	                                 body, len, 30000),
	                 0);
}

/* ---- tests --------------------------------------------------------- */

static void
test_healthz(void **state)
{
	struct fixture *f = *state;
	int st;
	char *b;
	size_t n;
	get(f, "/healthz", &st, &b, &n);
	assert_int_equal(st, 200);
	assert_int_equal(n, 3);
	assert_string_equal(b, "ok\n");
	free(b);

	/* HEAD answers like GET, without a body. */
	char *r = raw_str(
	    ls_http_port(f->h),
	    "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(raw_status(r), 200);
	assert_string_equal(raw_body(r), "");
	free(r);
}

static void
test_metrics(void **state)
{
	struct fixture *f = *state;
	int st;
	char *b, *ref;
	size_t n, refn;

	ls_metric_add(ls_metrics_counter(f->m, "ls_test_events_total",
	                                 "Events seen.", "stage=\"window\""),
	              1000);
	get(f, "/metrics", &st, &b, &n);
	assert_int_equal(st, 200);
	/* Hand-written expectations. */
	assert_non_null(
	    strstr(b, "\nls_test_events_total{stage=\"parse\"} 123456789\n"));
	assert_non_null(
	    strstr(b, "\nls_test_events_total{stage=\"window\"} 1042\n"));
	assert_non_null(strstr(b, "\nls_test_queue_depth -7\n"));
	assert_non_null(strstr(b, "# TYPE ls_test_events_total counter\n"));
	/* And exactly what the registry exports. */
	assert_int_equal(ls_metrics_export(f->m, &ref, &refn), 0);
	assert_int_equal(n, refn);
	assert_memory_equal(b, ref, n);
	free(ref);
	free(b);

	char ct[128];
	char *r = raw_str(
	    ls_http_port(f->h),
	    "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(raw_status(r), 200);
	assert_non_null(raw_header(r, "Content-Type", ct, sizeof(ct)));
	assert_string_equal(ct, "text/plain; version=0.0.4");
	free(r);
}

static void
test_post_body_bytes(void **state)
{
	struct fixture *f = *state;
	size_t len = 300000;
	uint8_t *body = malloc(len);
	uint32_t x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		body[i] = (uint8_t)(i < 256 ? i : x >> 24); /* NULs, CRLFs */
	}
	int st;
	char *b;
	size_t n;
	assert_int_equal(ls_http_request(f->addr, "POST", "/v1/echo", body, len,
	                                 &st, &b, &n, 30000),
	                 0);
	assert_int_equal(st, 201);
	assert_int_equal(n, len);
	assert_memory_equal(b, body, len);
	free(b);
	pthread_mutex_lock(&f->mtx);
	assert_int_equal(f->last_len, len);
	assert_memory_equal(f->last_body, body, len);
	assert_string_equal(f->last_ctype, "application/json");
	pthread_mutex_unlock(&f->mtx);

	/* Empty body: the handler sees NULL/0. */
	assert_int_equal(ls_http_request(f->addr, "POST", "/v1/echo", NULL, 0,
	                                 &st, &b, &n, 30000),
	                 0);
	assert_int_equal(st, 201);
	assert_int_equal(n, 0);
	free(b);
	pthread_mutex_lock(&f->mtx);
	assert_int_equal(f->last_len, 0);
	assert_null(f->last_body);
	pthread_mutex_unlock(&f->mtx);

	/* Custom header and status reach the wire. */
	char hdr[64];
	char *r =
	    raw_str(ls_http_port(f->h),
	            "POST /v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
	            "Content-Length: 5\r\n\r\nhello");
	assert_int_equal(raw_status(r), 201);
	assert_string_equal(raw_header(r, "X-Echo-Len", hdr, sizeof(hdr)),
	                    "yes");
	assert_string_equal(raw_body(r), "hello");
	free(r);
	free(body);
}

static void
test_prefix_query(void **state)
{
	struct fixture *f = *state;
	int st;
	char *b;
	size_t n;
	get(f, "/v1/topologies/web/stats?x=1&y=a%20b", &st, &b, &n);
	assert_int_equal(st, 200);
	assert_string_equal(b, "prefix /v1/topologies/web/stats ? x=1&y=a%20b");
	free(b);
	get(f, "/v1/topologies/", &st, &b, &n);
	assert_int_equal(st, 200);
	assert_string_equal(b, "prefix /v1/topologies/ ? ");
	free(b);

	/* The exact route takes its own path and method. */
	assert_int_equal(ls_http_request(f->addr, "POST", "/v1/topologies",
	                                 "{}", 2, &st, &b, &n, 30000),
	                 0);
	assert_int_equal(st, 200);
	assert_string_equal(b, "exact");
	free(b);
	/* A prefix does not match its parent without the slash. */
	get(f, "/v1/topologies", &st, &b, &n);
	assert_int_equal(st, 405);
	free(b);
	get(f, "/v1/topologiesX", &st, &b, &n);
	assert_int_equal(st, 404);
	free(b);
}

static void
test_not_found(void **state)
{
	struct fixture *f = *state;
	int st;
	char *b;
	size_t n;
	get(f, "/nope", &st, &b, &n);
	assert_int_equal(st, 404);
	assert_string_equal(b, "{\"error\":\"no such resource\"}\n");
	free(b);
	get(f, "/", &st, &b, &n);
	assert_int_equal(st, 404);
	free(b);

	char ct[64];
	char *r = raw_str(
	    ls_http_port(f->h),
	    "GET /healthz/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(raw_status(r), 404);
	assert_string_equal(raw_header(r, "Content-Type", ct, sizeof(ct)),
	                    "application/json");
	free(r);
}

static void
test_method_not_allowed(void **state)
{
	struct fixture *f = *state;
	char allow[64];
	char *r = raw_str(
	    ls_http_port(f->h),
	    "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(raw_status(r), 405);
	assert_string_equal(raw_header(r, "Allow", allow, sizeof(allow)),
	                    "GET, HEAD");
	assert_string_equal(raw_body(r),
	                    "{\"error\":\"method not allowed\"}\n");
	free(r);

	r = raw_str(
	    ls_http_port(f->h),
	    "GET /v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(raw_status(r), 405);
	assert_string_equal(raw_header(r, "Allow", allow, sizeof(allow)),
	                    "POST");
	free(r);

	/* A second method on the same path widens Allow. */
	assert_int_equal(ls_http_route(f->h, "PUT", "/v1/echo", echo, f), 0);
	r = raw_str(
	    ls_http_port(f->h),
	    "PATCH /v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(raw_status(r), 405);
	assert_string_equal(raw_header(r, "Allow", allow, sizeof(allow)),
	                    "POST, PUT");
	free(r);
}

static void
test_too_large(void **state)
{
	struct fixture *f = *state;
	int port = ls_http_port(f->h);

	/* Default limit 1 MiB: the header alone is refused, body unread. */
	char *r = raw_str(port, "POST /v1/echo HTTP/1.1\r\nHost: x\r\n"
	                        "Content-Length: 1048577\r\n\r\n");
	assert_int_equal(raw_status(r), 413);
	assert_non_null(strstr(raw_body(r), "\"error\""));
	free(r);
	assert_int_equal(atomic_load(&f->echo_calls), 0);

	/* A server with a 1000-byte limit: 1000 passes, 1001 does not. */
	ls_http *h2;
	ls_http_opts o = {.max_body = 1000};
	assert_int_equal(ls_http_start("127.0.0.1:0", &o, &h2), 0);
	assert_int_equal(ls_http_route(h2, "POST", "/v1/echo", echo, f), 0);
	char a2[64];
	snprintf(a2, sizeof(a2), "127.0.0.1:%d", ls_http_port(h2));
	char body[1000];
	memset(body, 'z', sizeof(body));
	int st;
	char *b;
	size_t n;
	assert_int_equal(ls_http_request(a2, "POST", "/v1/echo", body,
	                                 sizeof(body), &st, &b, &n, 30000),
	                 0);
	assert_int_equal(st, 201);
	assert_int_equal(n, 1000);
	free(b);
	r = raw_str(ls_http_port(h2), "POST /v1/echo HTTP/1.1\r\nHost: "
	                              "x\r\nContent-Length: 1001\r\n\r\n");
	assert_int_equal(raw_status(r), 413);
	free(r);
	/* /metrics without a registry: empty, still 200. */
	assert_int_equal(
	    ls_http_request(a2, "GET", "/metrics", NULL, 0, &st, &b, &n, 30000),
	    0);
	assert_int_equal(st, 200);
	assert_int_equal(n, 0);
	free(b);
	ls_http_stop(h2);
	assert_int_equal(atomic_load(&f->echo_calls), 1);
}

static void
test_handler_errors(void **state)
{
	struct fixture *f = *state;
	static const struct {
		int code, status;
	} cases[] = {{LS_EINVAL, 400}, {LS_ENOENT, 404},    {LS_EEXIST, 409},
	             {LS_EBUSY, 503},  {LS_EINTERNAL, 500}, {LS_ENOMEM, 500}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[64], want[128];
		int st;
		char *b;
		size_t n;
		snprintf(path, sizeof(path), "/v1/fail?code=%d", cases[i].code);
		get(f, path, &st, &b, &n);
		assert_int_equal(st, cases[i].status);
		snprintf(want, sizeof(want), "{\"error\":\"%s\"}\n",
		         ls_strerror(cases[i].code));
		assert_string_equal(b, want);
		free(b);
	}
}

struct worker {
	struct fixture *f;
	int id;
	int ok;
};

static void *
client_thread(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 25; i++) {
		char body[128], path[64];
		int len =
		    snprintf(body, sizeof(body),
		             "{\"thread\":%d,\"seq\":%d,\"pad\":\"%0*d\"}",
		             w->id, i, (w->id * 7 + i) % 40, 0);
		int st;
		char *b;
		size_t n;
		if (ls_http_request(w->f->addr, "POST", "/v1/echo", body,
		                    (size_t)len, &st, &b, &n, 60000) == 0 &&
		    st == 201 && n == (size_t)len && memcmp(b, body, n) == 0)
			w->ok++;
		free(b);
		snprintf(path, sizeof(path), "/v1/topologies/t%d?i=%d", w->id,
		         i);
		if (ls_http_request(w->f->addr, "GET", path, NULL, 0, &st, &b,
		                    &n, 60000) == 0 &&
		    st == 200) {
			char want[128];
			snprintf(want, sizeof(want),
			         "prefix /v1/topologies/t%d ? i=%d", w->id, i);
			if (strcmp(b, want) == 0)
				w->ok++;
		}
		free(b);
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct fixture *f = *state;
	enum { N = 6 };
	pthread_t t[N];
	struct worker w[N];
	for (int i = 0; i < N; i++) {
		w[i] = (struct worker){.f = f, .id = i};
		assert_int_equal(
		    pthread_create(&t[i], NULL, client_thread, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 50);
	}
	assert_int_equal(atomic_load(&f->echo_calls), N * 25);
}

static void
test_garbage(void **state)
{
	struct fixture *f = *state;
	int port = ls_http_port(f->h);
	static const char *bad[] = {
	    "GARBAGE\r\n\r\n",
	    "GET\r\n\r\n",
	    "\r\n\r\n\r\n",
	    "GET /healthz HTTP/9.9\r\n\r\n",
	    "GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n",
	    "POST /v1/echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
	    "POST /v1/echo HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
	    "POST /v1/echo HTTP/1.1\r\nContent-Length: "
	    "99999999999999999999999\r\n\r\n",
	    "POST /v1/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n",
	    "POST /v1/echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort",
	    "GET http://evil/ HTTP/1.1\r\n\r\n",
	    "GET /v1/topologies/%00%ff?\xff\xfe HTTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n;
		char *r = raw_exchange(port, bad[i], strlen(bad[i]), 1, &n);
		int st = raw_status(r);
		/* Whatever the answer, it is an error or nothing at all. */
		assert_true(n == 0 || st >= 400);
		free(r);
	}
	/* Binary noise with NULs, and an oversized request line. */
	uint8_t noise[4096];
	uint32_t x = 7;
	for (size_t i = 0; i < sizeof(noise); i++) {
		x = x * 1664525u + 1013904223u;
		noise[i] = (uint8_t)(x >> 24);
	}
	size_t n;
	free(raw_exchange(port, noise, sizeof(noise), 1, &n));
	size_t big = 200000;
	char *line = malloc(big);
	memcpy(line, "GET /", 5);
	memset(line + 5, 'A', big - 5);
	free(raw_exchange(port, line, big, 1, &n));
	free(line);
	/* Abrupt close mid-header. */
	free(raw_exchange(port, "GET /healthz HTT", 16, 1, &n));

	/* Still answering, and no handler saw a bad request's body. */
	int st;
	char *b;
	get(f, "/healthz", &st, &b, &n);
	assert_int_equal(st, 200);
	free(b);
	assert_int_equal(atomic_load(&f->echo_calls), 0);
}

static void
test_keepalive(void **state)
{
	struct fixture *f = *state;
	/* Two requests on one connection, answered in order. */
	char *r =
	    raw_str(ls_http_port(f->h),
	            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	            "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	            "Connection: close\r\n\r\nabc");
	assert_int_equal(raw_status(r), 200);
	const char *second = strstr(r + 1, "HTTP/1.1 ");
	assert_non_null(second);
	assert_int_equal(raw_status(second), 201);
	assert_string_equal(raw_body(second), "abc");
	free(r);
}

static void
test_routes_and_start_errors(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(ls_http_route(f->h, "POST", "/v1/echo", echo, f),
	                 LS_EEXIST);
	assert_int_equal(ls_http_route(f->h, "GET", "/healthz", echo, f),
	                 LS_EEXIST);
	assert_int_equal(ls_http_route(f->h, "get", "/x", echo, f), LS_EINVAL);
	assert_int_equal(ls_http_route(f->h, "", "/x", echo, f), LS_EINVAL);
	assert_int_equal(ls_http_route(f->h, "GET", "x", echo, f), LS_EINVAL);
	assert_int_equal(ls_http_route(f->h, "GET", "/a b", echo, f),
	                 LS_EINVAL);
	assert_int_equal(ls_http_route(f->h, "GET", "/x?y", echo, f),
	                 LS_EINVAL);
	assert_int_equal(ls_http_route(f->h, "GET", "/x", NULL, f), LS_EINVAL);

	ls_http *h2 = NULL;
	assert_int_equal(ls_http_start("nonsense", NULL, &h2), LS_EINVAL);
	assert_int_equal(ls_http_start("127.0.0.1:99999", NULL, &h2),
	                 LS_EINVAL);
	assert_int_equal(ls_http_start("::1:80", NULL, &h2), LS_EINVAL);
	assert_null(h2);
	/* The same address twice is refused. */
	assert_int_not_equal(ls_http_start(f->addr, NULL, &h2), 0);
	assert_null(h2);
	/* And the original still serves. */
	int st;
	char *b;
	size_t n;
	get(f, "/healthz", &st, &b, &n);
	assert_int_equal(st, 200);
	free(b);
}

static void
test_client_errors(void **state)
{
	struct fixture *f = *state;
	int st;
	char *b = NULL;
	size_t n;
	assert_int_equal(ls_http_request("nohostport", "GET", "/", NULL, 0, &st,
	                                 &b, &n, 1000),
	                 LS_EINVAL);
	assert_int_equal(ls_http_request(f->addr, "GET", "no-slash", NULL, 0,
	                                 &st, &b, &n, 1000),
	                 LS_EINVAL);
	assert_int_equal(
	    ls_http_request(f->addr, "GET", "/a b", NULL, 0, &st, &b, &n, 1000),
	    LS_EINVAL);

	/* A stopped server's port refuses connections. */
	ls_http *h2;
	assert_int_equal(ls_http_start("127.0.0.1:0", NULL, &h2), 0);
	char a2[64];
	snprintf(a2, sizeof(a2), "127.0.0.1:%d", ls_http_port(h2));
	assert_int_equal(
	    ls_http_request(a2, "GET", "/healthz", NULL, 0, &st, &b, &n, 30000),
	    0);
	free(b);
	ls_http_stop(h2);
	assert_int_equal(
	    ls_http_request(a2, "GET", "/healthz", NULL, 0, &st, &b, &n, 30000),
	    LS_EIO);

	/* A listener that never answers: the client gives up. */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	socklen_t sl = sizeof(sa);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	snprintf(a2, sizeof(a2), "127.0.0.1:%d", ntohs(sa.sin_port));
	assert_int_equal(
	    ls_http_request(a2, "GET", "/healthz", NULL, 0, &st, &b, &n, 200),
	    LS_ETIMEDOUT);
	assert_null(b);
	close(lfd);

	/* The http:// prefix and localhost name work. */
	char a3[80];
	snprintf(a3, sizeof(a3), "http://localhost:%d", ls_http_port(f->h));
	assert_int_equal(
	    ls_http_request(a3, "GET", "/healthz", NULL, 0, &st, &b, &n, 30000),
	    0);
	assert_int_equal(st, 200);
	free(b);
}

static void
test_expect_continue(void **state)
{
	struct fixture *f = *state;
	int fd = raw_connect(ls_http_port(f->h));
	const char *head = "POST /v1/echo HTTP/1.1\r\nHost: x\r\n"
	                   "Content-Length: 7\r\nExpect: 100-continue\r\n"
	                   "Connection: close\r\n\r\n";
	assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL),
	                 (ssize_t)strlen(head));
	/* The interim answer comes before we send a byte of the body. */
	char buf[4096];
	size_t got = 0;
	while (got < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		assert_true(r > 0);
		got += (size_t)r;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(send(fd, "payload", 7, MSG_NOSIGNAL), 7);
	got = 0;
	for (;;) {
		ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	assert_int_equal(raw_status(buf), 201);
	assert_string_equal(raw_body(buf), "payload");
}

/* A handler that waits until the test lets it go. */
struct gate {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int entered, released, finished;
};

static int
gated(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	struct gate *g = arg;
	(void)req;
	pthread_mutex_lock(&g->mtx);
	g->entered = 1;
	pthread_cond_broadcast(&g->cv);
	while (!g->released)
		pthread_cond_wait(&g->cv, &g->mtx);
	pthread_mutex_unlock(&g->mtx);
	int rv = ls_http_resp_body(resp, "text/plain", "late", 4);
	pthread_mutex_lock(&g->mtx);
	g->finished = 1;
	pthread_mutex_unlock(&g->mtx);
	return rv;
}

struct stopper {
	ls_http *h;
	struct gate *g;
	int finished_at_return;
	int returned;
};

static void *
stop_thread(void *arg)
{
	struct stopper *s = arg;
	ls_http_stop(s->h);
	pthread_mutex_lock(&s->g->mtx);
	s->finished_at_return = s->g->finished;
	s->returned = 1;
	pthread_mutex_unlock(&s->g->mtx);
	return NULL;
}

static void *
slow_client(void *arg)
{
	struct fixture *f = arg;
	int st;
	char *b = NULL;
	size_t n;
	/* The answer may be lost to the stop: only the server is checked. */
	(void)ls_http_request(f->addr, "GET", "/v1/gated", NULL, 0, &st, &b, &n,
	                      60000);
	free(b);
	return NULL;
}

static void
test_stop_waits_for_handlers(void **state)
{
	struct fixture *f = *state;
	struct gate g = {.entered = 0};
	pthread_mutex_init(&g.mtx, NULL);
	pthread_cond_init(&g.cv, NULL);
	assert_int_equal(ls_http_route(f->h, "GET", "/v1/gated", gated, &g), 0);
	pthread_t client, stopper;
	assert_int_equal(pthread_create(&client, NULL, slow_client, f), 0);
	pthread_mutex_lock(&g.mtx);
	while (!g.entered)
		pthread_cond_wait(&g.cv, &g.mtx);
	pthread_mutex_unlock(&g.mtx);

	struct stopper s = {.h = f->h, .g = &g};
	f->h = NULL; /* the stopper owns it now */
	assert_int_equal(pthread_create(&stopper, NULL, stop_thread, &s), 0);
	pthread_mutex_lock(&g.mtx);
	assert_int_equal(s.returned, 0); /* the handler has not finished */
	g.released = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mtx);
	pthread_join(stopper, NULL);
	pthread_join(client, NULL);
	assert_int_equal(s.returned, 1);
	assert_int_equal(s.finished_at_return, 1);
	pthread_cond_destroy(&g.cv);
	pthread_mutex_destroy(&g.mtx);
}

static int
call(const char *addr, const char *method, const char *path, int *status,
     char **body)
{
	size_t len = 0;
	*body = NULL;
	return ls_http_request(addr, method, path, "{}", 2, status, body, &len,
	                       10000);
}

/* HTTPS with a certificate of a development CA, and bearer tokens: the
 * client verifies the server against the CA (and fails with another CA),
 * requests without a token get 401, a read token 403 on a POST route and
 * on /v1/internal/, the internal token everything; /healthz stays open. */
static void
test_https_tokens(void **state)
{
	struct fixture *f = *state;
	char root[] = "/tmp/ls-https-XXXXXX", a[64], b[64], p[3][96];
	char err[512];
	assert_non_null(mkdtemp(root));
	snprintf(a, sizeof(a), "%s/a", root);
	snprintf(b, sizeof(b), "%s/b", root);
	const char *hosts[] = {"127.0.0.1"};
	assert_int_equal(ls_tls_ca_init(a, err, sizeof(err)), 0);
	assert_int_equal(ls_tls_ca_init(b, err, sizeof(err)), 0);
	assert_int_equal(ls_tls_issue(a, "n1", hosts, 1, err, sizeof(err)), 0);
	snprintf(p[0], sizeof(p[0]), "%s/ca.crt", a);
	snprintf(p[1], sizeof(p[1]), "%s/n1.crt", a);
	snprintf(p[2], sizeof(p[2]), "%s/n1.key", a);
	ls_tls_files tf = {p[0], p[1], p[2]};
	const char *tokens = "read rrrrrrrrrrrrrrrrrrrr\n"
	                     "write wwwwwwwwwwwwwwwwwwww\n"
	                     "internal iiiiiiiiiiiiiiiiiiii\n";
	ls_auth *au = NULL;
	assert_int_equal(ls_auth_parse(tokens, strlen(tokens), "tokens", &au,
	                               err, sizeof(err)),
	                 0);
	ls_http_opts o = {.metrics = f->m, .tls = &tf, .auth = au};
	ls_http *h = NULL;
	assert_int_equal(ls_http_start("127.0.0.1:0", &o, &h), 0);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ls_http_port(h));
	assert_int_equal(ls_http_route(h, "POST", "/v1/echo", echo, f), 0);
	assert_int_equal(ls_http_route(h, "POST", "/v1/internal/x", echo, f),
	                 0);

	int st = 0;
	char *body = NULL;
	/* plain HTTP to the HTTPS port: no HTTP answer */
	assert_int_equal(ls_http_client_config(NULL, NULL, err, sizeof(err)),
	                 0);
	assert_int_not_equal(call(addr, "GET", "/healthz", &st, &body), 0);
	free(body);
	/* another CA: the handshake fails */
	char bca[96];
	snprintf(bca, sizeof(bca), "%s/ca.crt", b);
	assert_int_equal(ls_http_client_config(bca, NULL, err, sizeof(err)), 0);
	assert_int_equal(call(addr, "GET", "/healthz", &st, &body), LS_EIO);
	free(body);
	/* the CA, no token */
	assert_int_equal(ls_http_client_config(p[0], NULL, err, sizeof(err)),
	                 0);
	assert_int_equal(call(addr, "GET", "/healthz", &st, &body), 0);
	assert_int_equal(st, 200);
	free(body);
	assert_int_equal(call(addr, "GET", "/metrics", &st, &body), 0);
	assert_int_equal(st, 401);
	assert_non_null(strstr(body, "\"error\":\"missing bearer token"));
	free(body);
	assert_int_equal(call(addr, "GET", "/nowhere", &st, &body), 0);
	assert_int_equal(st, 401);
	free(body);
	/* read token */
	assert_int_equal(ls_http_client_config(p[0], "rrrrrrrrrrrrrrrrrrrr",
	                                       err, sizeof(err)),
	                 0);
	assert_int_equal(call(addr, "GET", "/metrics", &st, &body), 0);
	assert_int_equal(st, 200);
	assert_non_null(strstr(body, "ls_test_events_total"));
	free(body);
	assert_int_equal(call(addr, "POST", "/v1/echo", &st, &body), 0);
	assert_int_equal(st, 403);
	assert_non_null(strstr(body, "write scope"));
	free(body);
	assert_int_equal(call(addr, "GET", "/nowhere", &st, &body), 0);
	assert_int_equal(st, 404);
	free(body);
	/* write token: the write route, never an internal one */
	assert_int_equal(ls_http_client_config(p[0], "wwwwwwwwwwwwwwwwwwww",
	                                       err, sizeof(err)),
	                 0);
	assert_int_equal(call(addr, "POST", "/v1/echo", &st, &body), 0);
	assert_int_equal(st, 201);
	free(body);
	assert_int_equal(call(addr, "POST", "/v1/internal/x", &st, &body), 0);
	assert_int_equal(st, 403);
	assert_non_null(strstr(body, "internal token"));
	free(body);
	/* an unknown token */
	assert_int_equal(ls_http_client_config(p[0], "xxxxxxxxxxxxxxxxxxxx",
	                                       err, sizeof(err)),
	                 0);
	assert_int_equal(call(addr, "GET", "/metrics", &st, &body), 0);
	assert_int_equal(st, 401);
	assert_non_null(strstr(body, "unknown token"));
	free(body);
	/* internal */
	assert_int_equal(ls_http_client_config(p[0], "iiiiiiiiiiiiiiiiiiii",
	                                       err, sizeof(err)),
	                 0);
	assert_int_equal(call(addr, "POST", "/v1/internal/x", &st, &body), 0);
	assert_int_equal(st, 201);
	free(body);
	/* a CA file that is not there */
	assert_int_equal(ls_http_client_config("/nonexistent/ca.crt", NULL, err,
	                                       sizeof(err)),
	                 LS_EIO);
	assert_non_null(strstr(err, "/nonexistent/ca.crt"));
	assert_int_equal(ls_http_client_config(NULL, NULL, err, sizeof(err)),
	                 0);
	ls_http_stop(h);
	ls_auth_free(au);
	snprintf(err, sizeof(err), "rm -rf '%s'", root);
	assert_int_equal(system(err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_post_body_bytes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_prefix_query, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_method_not_allowed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handler_errors, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_routes_and_start_errors, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_client_errors, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_expect_continue, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_stop_waits_for_handlers, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_https_tokens, setup, teardown),
	};
	int rv = cmocka_run_group_tests(tests, NULL, NULL);
	nng_fini(); /* join nng's threads so leak checkers see a clean exit */
	return rv;
}
