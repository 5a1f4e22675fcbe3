/*
 * http.c -- the node HTTP API server (on nng's HTTP server) and a small
 * blocking HTTP/1.1 client over plain sockets.
 *
 * nng sees one handler: a tree handler on "/" for every method that does
 * not collect the body.  Our callback checks Content-Length against the
 * limit first (413 and close, the body unread), reads the body itself with
 * an aio from a small pool, then routes through the table below.  Doing
 * the routing here is what gives JSON 404s and 405 with Allow.
 *
 * Lifetime.  The routing table, counters and pool live in a `core` that is
 * the nng handler's data and is freed by the handler's destructor, so a
 * callback that nng starts while ls_http_stop runs still finds valid
 * memory; it sees `stopping` and drops the connection without touching
 * user code.  ls_http_stop waits until no request is in flight (between
 * the callback's entry and the completion of its aio) before it frees the
 * pool, so user handlers never run after it returns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "cluster/auth.h"
#include "cluster/http.h"
#include "cluster/tls.h"
#include "runtime/err.h"

#define MAX_METHOD      16
#define MAX_URI         8192
/* the largest answer: a partition's checkpoint state fetched for a restore
 * (cluster/dataplane.c) can be as large as a replicated one */
#define CLIENT_MAX_RESP ((size_t)1 << 30)
#define CLIENT_MAX_HEAD ((size_t)64 << 10)

struct route {
	char method[MAX_METHOD];
	char *path;
	size_t path_len;
	bool prefix;
	ls_scope scope; /* what its requests need when tokens are set */
	ls_http_handler_fn fn;
	void *arg;
};

/* A request whose body is being read; pooled, so aios are not allocated
 * per request and none is freed from its own callback. */
struct body_ctx {
	struct body_ctx *next;
	struct core *core;
	nng_aio *rd;       /* our read of the body */
	nng_aio *cb;       /* the server's handler aio, completed by us */
	nng_http_req *req; /* borrowed from the server */
	nng_http_conn *conn;
	bool continuing; /* rd is writing "100 Continue", not reading */
	nng_http_res *deny; /* the token check's answer, sent once read */
	uint8_t *buf;
	size_t len;
};

struct core {
	pthread_mutex_t mtx;
	pthread_cond_t idle;
	int inflight;
	bool stopping;
	struct route *routes;
	size_t nroutes, cap;
	struct body_ctx *pool;
	ls_metrics *metrics;
	size_t max_body;
	const ls_auth *auth; /* borrowed; NULL = open */
};

struct ls_http {
	nng_http_server *srv;
	nng_http_handler *hnd;
	struct core *core;
	int port;
};

struct ls_http_resp {
	nng_http_res *res;
};

/* nng_http_server_hold shares servers by (host, port): serialize hold and
 * start so two servers asked for port 0 at once do not meet. */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------ */
/* responses                                                           */

int
ls_http_resp_status(ls_http_resp *resp, int status)
{
	if (resp == NULL || status < 100 || status > 599)
		return LS_EINVAL;
	return nng_http_res_set_status(resp->res, (uint16_t)status) == 0
	           ? LS_OK
	           : LS_ENOMEM;
}

int
ls_http_resp_body(ls_http_resp *resp, const char *content_type,
                  const void *body, size_t len)
{
	if (resp == NULL || (body == NULL && len > 0))
		return LS_EINVAL;
	if (content_type != NULL &&
	    nng_http_res_set_header(resp->res, "Content-Type", content_type) !=
	        0)
		return LS_ENOMEM;
	if (len == 0) /* nng cannot copy zero bytes; an empty body is unset */
		return nng_http_res_set_data(resp->res, NULL, 0) == 0
		           ? LS_OK
		           : LS_ENOMEM;
	if (nng_http_res_copy_data(resp->res, body, len) != 0)
		return LS_ENOMEM;
	return LS_OK;
}

static bool
header_text_ok(const char *s, bool name)
{
	if (*s == '\0' && name)
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\r' || c == '\n' || (name && (c == ':' || c <= ' ')))
			return false;
	}
	return true;
}

int
ls_http_resp_header(ls_http_resp *resp, const char *name, const char *value)
{
	if (resp == NULL || name == NULL || value == NULL ||
	    !header_text_ok(name, true) || !header_text_ok(value, false))
		return LS_EINVAL;
	return nng_http_res_set_header(resp->res, name, value) == 0 ? LS_OK
	                                                            : LS_ENOMEM;
}

int
ls_http_resp_error(ls_http_resp *resp, int status, const char *msg)
{
	static const char hex[] = "0123456789abcdef";
	int rv;

	if (resp == NULL || msg == NULL)
		return LS_EINVAL;
	if ((rv = ls_http_resp_status(resp, status)) != LS_OK)
		return rv;
	size_t n = strlen(msg);
	char *out = malloc(n * 6 + 16);
	if (out == NULL)
		return LS_ENOMEM;
	size_t o = 0;
	memcpy(out, "{\"error\":\"", 10);
	o = 10;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)msg[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			out[o++] = (char)c;
		}
	}
	memcpy(out + o, "\"}\n", 3);
	o += 3;
	rv = ls_http_resp_body(resp, "application/json", out, o);
	free(out);
	return rv;
}

const char *
ls_http_req_header(const ls_http_req *req, const char *name)
{
	if (req == NULL || req->native == NULL || name == NULL)
		return NULL;
	return nng_http_req_get_header(req->native, name);
}

static int
status_of(int err)
{
	switch (err) {
	case LS_EINVAL:
	case LS_EPARSE:
	case LS_ECORRUPT:
		return 400;
	case LS_ENOENT:
		return 404;
	case LS_EEXIST:
	case LS_ESTATE:
	case LS_ESTALE:
		return 409;
	case LS_ERANGE:
		return 413;
	case LS_EAGAIN:
	case LS_EBUSY:
	case LS_ECLOSED:
		return 503;
	case LS_ETIMEDOUT:
		return 504;
	case LS_ENOTSUP:
		return 501;
	default:
		return 500;
	}
}

/* ------------------------------------------------------------------ */
/* built-in routes                                                     */

static int
healthz(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	(void)arg;
	(void)req;
	return ls_http_resp_body(resp, "text/plain; charset=utf-8", "ok\n", 3);
}

static int
metrics(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	struct core *c = arg;
	char *text = NULL;
	size_t len = 0;
	int rv;

	(void)req;
	if (c->metrics == NULL)
		return ls_http_resp_body(resp, "text/plain; version=0.0.4", "",
		                         0);
	if ((rv = ls_metrics_export(c->metrics, &text, &len)) != LS_OK)
		return rv;
	rv = ls_http_resp_body(resp, "text/plain; version=0.0.4", text, len);
	free(text);
	return rv;
}

/* ------------------------------------------------------------------ */
/* routing                                                             */

static bool
method_ok(const char *m)
{
	size_t n = 0;
	for (; m[n] != '\0'; n++)
		if (m[n] < 'A' || m[n] > 'Z')
			return false;
	return n > 0 && n < MAX_METHOD;
}

static bool
path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' ||
		    *p == 0x7f)
			return false;
	return true;
}

static bool
route_matches_path(const struct route *r, const char *path, size_t plen)
{
	if (r->prefix)
		return plen >= r->path_len &&
		       memcmp(path, r->path, r->path_len) == 0;
	return plen == r->path_len && memcmp(path, r->path, plen) == 0;
}

static bool
route_matches_method(const struct route *r, const char *method)
{
	return strcmp(r->method, method) == 0 ||
	       (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
}

/* Find the route for (method, path) under c->mtx.  Returns it, or NULL
 * with *allow filled ("GET, HEAD, POST") when the path is known under
 * other methods, or allow[0] == '\0' when it is not. */
static const struct route *
route_find(struct core *c, const char *method, const char *path, char *allow,
           size_t allow_cap)
{
	const struct route *best = NULL;
	size_t best_score = 0, plen = strlen(path);

	allow[0] = '\0';
	for (size_t i = 0; i < c->nroutes; i++) {
		const struct route *r = &c->routes[i];
		if (!route_matches_path(r, path, plen))
			continue;
		size_t score = r->prefix ? r->path_len : (size_t)-1;
		if (route_matches_method(r, method)) {
			if (best == NULL || score > best_score) {
				best = r;
				best_score = score;
			}
			continue;
		}
		/* Remember the method for Allow, once. */
		const char *ms[2] = {
		    r->method, strcmp(r->method, "GET") == 0 ? "HEAD" : NULL};
		for (int k = 0; k < 2 && ms[k] != NULL; k++) {
			size_t ml = strlen(ms[k]);
			bool seen = false;
			for (const char *a = allow; *a != '\0';) {
				const char *e = strchr(a, ',');
				size_t al = e ? (size_t)(e - a) : strlen(a);
				if (al == ml && memcmp(a, ms[k], ml) == 0)
					seen = true;
				a += al;
				while (*a == ',' || *a == ' ')
					a++;
			}
			size_t cur = strlen(allow);
			if (!seen && cur + ml + 3 < allow_cap) {
				if (cur > 0) {
					memcpy(allow + cur, ", ", 2);
					cur += 2;
				}
				memcpy(allow + cur, ms[k], ml + 1);
			}
		}
	}
	if (best != NULL)
		allow[0] = '\0';
	return best;
}

int
ls_http_route(ls_http *h, const char *method, const char *path,
              ls_http_handler_fn fn, void *arg)
{
	if (h == NULL || method == NULL || path == NULL || fn == NULL ||
	    !method_ok(method) || !path_ok(path))
		return LS_EINVAL;
	struct core *c = h->core;
	size_t plen = strlen(path);
	bool prefix = plen > 1 && path[plen - 1] == '/';
	int rv = LS_OK;

	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; i < c->nroutes; i++) {
		if (c->routes[i].prefix == prefix &&
		    strcmp(c->routes[i].method, method) == 0 &&
		    strcmp(c->routes[i].path, path) == 0) {
			rv = LS_EEXIST;
			goto out;
		}
	}
	if (c->nroutes == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8;
		struct route *nr = realloc(c->routes, ncap * sizeof(*nr));
		if (nr == NULL) {
			rv = LS_ENOMEM;
			goto out;
		}
		c->routes = nr;
		c->cap = ncap;
	}
	struct route *r = &c->routes[c->nroutes];
	if ((r->path = strdup(path)) == NULL) {
		rv = LS_ENOMEM;
		goto out;
	}
	strcpy(r->method, method);
	r->path_len = plen;
	r->prefix = prefix;
	r->scope = ls_auth_required(method, path);
	r->fn = fn;
	r->arg = arg;
	c->nroutes++;
out:
	pthread_mutex_unlock(&c->mtx);
	return rv;
}

int
ls_http_route_scope(ls_http *h, const char *method, const char *path,
                    ls_scope scope)
{
	if (h == NULL || method == NULL || path == NULL ||
	    scope > LS_SCOPE_INTERNAL)
		return LS_EINVAL;
	struct core *c = h->core;
	int rv = LS_ENOENT;
	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; i < c->nroutes; i++) {
		struct route *r = &c->routes[i];
		if (strcmp(r->method, method) == 0 &&
		    strcmp(r->path, path) == 0) {
			/* /v1/internal/ stays internal whatever is asked */
			r->scope = r->scope == LS_SCOPE_INTERNAL
			               ? LS_SCOPE_INTERNAL
			               : scope;
			rv = LS_OK;
		}
	}
	pthread_mutex_unlock(&c->mtx);
	return rv;
}

/* ------------------------------------------------------------------ */
/* request handling                                                    */

static void
request_done(struct core *c)
{
	pthread_mutex_lock(&c->mtx);
	if (--c->inflight == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->mtx);
}

/* Build a response with a JSON error; NULL on out of memory. */
static nng_http_res *
error_res(int status, const char *msg, bool close)
{
	ls_http_resp resp;
	if (nng_http_res_alloc(&resp.res) != 0)
		return NULL;
	if (ls_http_resp_error(&resp, status, msg) != LS_OK ||
	    (close &&
	     nng_http_res_set_header(resp.res, "Connection", "close") != 0)) {
		nng_http_res_free(resp.res);
		return NULL;
	}
	return resp.res;
}

/* Finish the server's aio with res (or a hard close when res is NULL). */
static void
answer(nng_aio *cb, nng_http_res *res)
{
	nng_aio_set_output(cb, 0, res);
	nng_aio_finish(cb, res != NULL ? 0 : NNG_ENOMEM);
}

/* Route and run the handler; returns the response to send (NULL: close). */
static nng_http_res *
dispatch(struct core *c, nng_http_req *nreq, const uint8_t *body,
         size_t body_len)
{
	const char *method = nng_http_req_get_method(nreq);
	const char *uri = nng_http_req_get_uri(nreq);
	char allow[128];
	char *path;

	if (method == NULL || uri == NULL)
		return error_res(400, "bad request", true);
	size_t ulen = strlen(uri);
	if (ulen >= MAX_URI)
		return error_res(414, "request target too long", true);
	if ((path = malloc(ulen + 1)) == NULL)
		return NULL;
	memcpy(path, uri, ulen + 1);
	char *q = strchr(path, '?');
	const char *query = "";
	if (q != NULL) {
		*q = '\0';
		query = q + 1;
	}
	char *frag = strchr(q != NULL ? q + 1 : path, '#');
	if (frag != NULL)
		*frag = '\0';

	pthread_mutex_lock(&c->mtx);
	const struct route *r =
	    route_find(c, method, path, allow, sizeof(allow));
	ls_http_handler_fn fn = r != NULL ? r->fn : NULL;
	void *arg = r != NULL ? r->arg : NULL;
	pthread_mutex_unlock(&c->mtx);

	nng_http_res *res = NULL;
	if (fn == NULL && allow[0] == '\0') {
		res = error_res(404, "no such resource", false);
	} else if (fn == NULL) {
		res = error_res(405, "method not allowed", false);
		if (res != NULL &&
		    nng_http_res_set_header(res, "Allow", allow) != 0) {
			nng_http_res_free(res);
			res = NULL;
		}
	} else {
		ls_http_req req = {.method = method,
		                   .path = path,
		                   .query = query,
		                   .body = body_len > 0 ? body : NULL,
		                   .body_len = body_len,
		                   .native = nreq};
		ls_http_resp resp;
		if (nng_http_res_alloc(&resp.res) == 0) {
			int rv = fn(arg, &req, &resp);
			if (rv != LS_OK) {
				nng_http_res_free(resp.res);
				resp.res = error_res(status_of(rv),
				                     ls_strerror(rv), false);
			}
			res = resp.res;
		}
	}
	free(path);
	return res;
}

static void
body_read_done(void *arg)
{
	struct body_ctx *x = arg;
	struct core *c = x->core;
	nng_aio *cb = x->cb;
	nng_http_res *res = NULL;
	int rv = nng_aio_result(x->rd);

	if (x->continuing && rv == 0) {
		/* The client was told to go on: now read its body. */
		nng_iov iov = {.iov_buf = x->buf, .iov_len = x->len};
		x->continuing = false;
		nng_aio_set_iov(x->rd, 1, &iov);
		nng_http_conn_read_all(x->conn, x->rd);
		return;
	}
	x->continuing = false;
	if (x->deny != NULL) {
		if (rv == 0)
			res = x->deny;
		else
			nng_http_res_free(x->deny);
		x->deny = NULL;
	} else if (rv == 0 && nng_aio_count(x->rd) == x->len) {
		res = dispatch(c, x->req, x->buf, x->len);
	}
	free(x->buf);
	x->buf = NULL;
	x->cb = NULL;
	x->req = NULL;
	x->conn = NULL;
	if (rv != 0 || res == NULL) {
		nng_aio_finish(cb, rv != 0 ? rv : NNG_ENOMEM);
	} else {
		answer(cb, res);
	}
	pthread_mutex_lock(&c->mtx);
	x->next = c->pool;
	c->pool = x;
	if (--c->inflight == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->mtx);
}

/* The token check of every request, before its handler runs: 0 when it
 * may go on, else 1 with the 401/403 answer in *deny (NULL: out of memory,
 * close).  The body (at most max_body) is still read and dropped, and the
 * connection stays open: nng 1.5.2 can cut off the answer when it closes a
 * TLS connection right after writing it.  The scope is the matched
 * route's, or the default rule for a path no route matches (which then
 * gets its 404 only with a token). */
static int
auth_gate(struct core *c, nng_http_req *nreq, nng_http_res **deny)
{
	*deny = NULL;
	if (c->auth == NULL)
		return 0;
	const char *method = nng_http_req_get_method(nreq);
	const char *uri = nng_http_req_get_uri(nreq);
	if (method == NULL || uri == NULL) {
		*deny = error_res(400, "bad request", true);
		return 1;
	}
	size_t plen = strcspn(uri, "?#");
	if (plen >= MAX_URI) {
		*deny = error_res(414, "request target too long", true);
		return 1;
	}
	char *path = malloc(plen + 1);
	if (path == NULL)
		return 1;
	memcpy(path, uri, plen);
	path[plen] = '\0';
	char allow[128];
	pthread_mutex_lock(&c->mtx);
	const struct route *r = route_find(c, method, path, allow,
	                                   sizeof(allow));
	ls_scope need = r != NULL ? r->scope : ls_auth_required(method, path);
	pthread_mutex_unlock(&c->mtx);
	free(path);
	const char *why = NULL;
	int st = ls_auth_check(c->auth,
	                       nng_http_req_get_header(nreq, "Authorization"),
	                       need, &why);
	if (st == 0)
		return 0;
	nng_http_res *res = error_res(st, why, false);
	if (res != NULL && st == 401 &&
	    nng_http_res_set_header(res, "WWW-Authenticate",
	                            "Bearer realm=\"logstream\"") != 0) {
		nng_http_res_free(res);
		res = NULL;
	}
	*deny = res;
	return 1;
}

static void
on_request(nng_aio *cb)
{
	nng_http_req *nreq = nng_aio_get_input(cb, 0);
	nng_http_handler *nh = nng_aio_get_input(cb, 1);
	nng_http_conn *conn = nng_aio_get_input(cb, 2);
	struct core *c = nng_http_handler_get_data(nh);

	pthread_mutex_lock(&c->mtx);
	if (c->stopping) {
		pthread_mutex_unlock(&c->mtx);
		nng_aio_finish(cb, NNG_ECLOSED);
		return;
	}
	c->inflight++;
	pthread_mutex_unlock(&c->mtx);

	/* Body framing: only Content-Length is supported. */
	const char *te = nng_http_req_get_header(nreq, "Transfer-Encoding");
	const char *cl = nng_http_req_get_header(nreq, "Content-Length");
	unsigned long long len = 0;
	if (te != NULL) {
		answer(cb, error_res(411, "Content-Length required", true));
		request_done(c);
		return;
	}
	if (cl != NULL) {
		char *end;
		errno = 0;
		while (*cl == ' ' || *cl == '\t')
			cl++;
		len = strtoull(cl, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*cl < '0' || *cl > '9' || *end != '\0' || errno != 0) {
			answer(cb, error_res(400, "bad Content-Length", true));
			request_done(c);
			return;
		}
	}
	if (len > c->max_body) {
		/* Refuse unread, and close: the body would be parsed as the
		 * next request otherwise. */
		answer(cb, error_res(413, "request body too large", true));
		request_done(c);
		return;
	}
	nng_http_res *denied = NULL;
	bool deny = auth_gate(c, nreq, &denied);
	if (deny && (len == 0 || denied == NULL)) {
		answer(cb, denied);
		request_done(c);
		return;
	}
	if (len == 0) {
		nng_http_res *res = dispatch(c, nreq, NULL, 0);
		if (res != NULL)
			answer(cb, res);
		else
			nng_aio_finish(cb, NNG_ENOMEM);
		request_done(c);
		return;
	}

	struct body_ctx *x;
	pthread_mutex_lock(&c->mtx);
	if ((x = c->pool) != NULL)
		c->pool = x->next;
	pthread_mutex_unlock(&c->mtx);
	if (x == NULL) {
		if ((x = calloc(1, sizeof(*x))) == NULL ||
		    nng_aio_alloc(&x->rd, body_read_done, x) != 0) {
			free(x);
			if (denied != NULL)
				nng_http_res_free(denied);
			nng_aio_finish(cb, NNG_ENOMEM);
			request_done(c);
			return;
		}
		x->core = c;
	}
	if ((x->buf = malloc((size_t)len)) == NULL) {
		pthread_mutex_lock(&c->mtx);
		x->next = c->pool;
		c->pool = x;
		pthread_mutex_unlock(&c->mtx);
		if (denied != NULL)
			nng_http_res_free(denied);
		answer(cb, error_res(503, "out of memory", true));
		request_done(c);
		return;
	}
	x->deny = denied; /* answered once the body is read */
	x->len = (size_t)len;
	x->cb = cb;
	x->req = nreq;
	x->conn = conn;
	/* Completion (also on error or close) lands in body_read_done. */
	const char *expect = nng_http_req_get_header(nreq, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0) {
		/* curl asks before sending a large body; nng does not answer
		 * interim responses itself. */
		static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		nng_iov iov = {.iov_buf = cont, .iov_len = sizeof(cont) - 1};
		x->continuing = true;
		nng_aio_set_iov(x->rd, 1, &iov);
		nng_http_conn_write_all(conn, x->rd);
		return;
	}
	nng_iov iov = {.iov_buf = x->buf, .iov_len = x->len};
	nng_aio_set_iov(x->rd, 1, &iov);
	nng_http_conn_read_all(conn, x->rd);
}

/* ------------------------------------------------------------------ */
/* server lifetime                                                     */

static void
core_free(void *arg)
{
	struct core *c = arg;
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nroutes; i++)
		free(c->routes[i].path);
	free(c->routes);
	/* The pool is emptied by ls_http_stop; a failed start has none. */
	while (c->pool != NULL) {
		struct body_ctx *x = c->pool;
		c->pool = x->next;
		nng_aio_free(x->rd);
		free(x);
	}
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

/* "host:port" -> "http[s]://host:port"; NULL if malformed or no memory. */
static char *
addr_to_url(const char *addr, int https, int *err)
{
	const char *colon = strrchr(addr, ':');
	*err = LS_EINVAL;
	if (colon == NULL || colon[1] == '\0')
		return NULL;
	if (addr[0] == '[' && (colon == addr || colon[-1] != ']'))
		return NULL;
	if (addr[0] != '[' && memchr(addr, ':', (size_t)(colon - addr)))
		return NULL; /* bare IPv6 needs brackets */
	for (const char *p = addr; p < colon; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == '@' ||
		    *p == '?' || *p == '#')
			return NULL;
	long port = 0;
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return NULL;
		port = port * 10 + (*p - '0');
		if (port > 65535)
			return NULL;
	}
	size_t n = strlen(addr) + 9;
	char *url = malloc(n);
	if (url == NULL) {
		*err = LS_ENOMEM;
		return NULL;
	}
	snprintf(url, n, "%s://%s", https ? "https" : "http", addr);
	*err = LS_OK;
	return url;
}

static int
nng_err_to_ls(int rv)
{
	switch (rv) {
	case NNG_ENOMEM:
		return LS_ENOMEM;
	case NNG_EADDRINUSE:
		return LS_EEXIST;
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
		return LS_EINVAL;
	default:
		return LS_EIO;
	}
}

int
ls_http_start(const char *addr, const ls_http_opts *opts, ls_http **out)
{
	ls_http *h;
	struct core *c;
	nng_url *url = NULL;
	char *us;
	int rv, err;

	if (addr == NULL || out == NULL)
		return LS_EINVAL;
	*out = NULL;
	const ls_tls_files *tls = opts != NULL ? opts->tls : NULL;
	if ((us = addr_to_url(addr, ls_tls_enabled(tls), &err)) == NULL)
		return err;
	rv = nng_url_parse(&url, us);
	free(us);
	if (rv != 0)
		return nng_err_to_ls(rv);

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		free(h);
		nng_url_free(url);
		return LS_ENOMEM;
	}
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->idle, NULL);
	c->metrics = opts != NULL ? opts->metrics : NULL;
	c->max_body = opts != NULL && opts->max_body > 0
	                  ? opts->max_body
	                  : LS_HTTP_MAX_BODY_DEFAULT;
	c->auth = opts != NULL ? opts->auth : NULL;
	h->core = c;

	if ((rv = ls_http_route(h, "GET", "/healthz", healthz, NULL)) != 0 ||
	    (rv = ls_http_route_scope(h, "GET", "/healthz", LS_SCOPE_NONE)) !=
	        0 ||
	    (rv = ls_http_route(h, "GET", "/metrics", metrics, c)) != 0) {
		core_free(c);
		free(h);
		nng_url_free(url);
		return rv;
	}

	/* The handler owns the core from here on: its destructor frees it. */
	if ((rv = nng_http_handler_alloc(&h->hnd, "/", on_request)) != 0) {
		core_free(c);
		free(h);
		nng_url_free(url);
		return nng_err_to_ls(rv);
	}
	if ((rv = nng_http_handler_set_data(h->hnd, c, core_free)) != 0) {
		core_free(c);
		nng_http_handler_free(h->hnd);
		free(h);
		nng_url_free(url);
		return nng_err_to_ls(rv);
	}
	if ((rv = nng_http_handler_set_method(h->hnd, NULL)) != 0 ||
	    (rv = nng_http_handler_set_tree(h->hnd)) != 0 ||
	    (rv = nng_http_handler_collect_body(h->hnd, false, 0)) != 0) {
		nng_http_handler_free(h->hnd);
		free(h);
		nng_url_free(url);
		return nng_err_to_ls(rv);
	}

	nng_tls_config *tcfg = NULL;
	if (ls_tls_enabled(tls)) {
		/* HTTPS: our certificate; clients authenticate with tokens,
		 * not certificates */
		char why[512];
		if (ls_tls_nng_config(tls, 1, NULL, &tcfg, why, sizeof(why)) !=
		        0 ||
		    nng_tls_config_auth_mode(tcfg, NNG_TLS_AUTH_MODE_NONE) != 0) {
			if (tcfg != NULL)
				nng_tls_config_free(tcfg);
			nng_http_handler_free(h->hnd);
			free(h);
			nng_url_free(url);
			return LS_EIO;
		}
	}
	pthread_mutex_lock(&start_lock);
	rv = nng_http_server_hold(&h->srv, url);
	nng_url_free(url);
	if (rv == 0 && tcfg != NULL &&
	    (rv = nng_http_server_set_tls(h->srv, tcfg)) != 0)
		nng_http_server_release(h->srv);
	if (tcfg != NULL)
		nng_tls_config_free(tcfg); /* the server holds its own */
	if (rv != 0) {
		pthread_mutex_unlock(&start_lock);
		nng_http_handler_free(h->hnd);
		free(h);
		return nng_err_to_ls(rv);
	}
	if ((rv = nng_http_server_add_handler(h->srv, h->hnd)) != 0) {
		/* The server is someone else's on the same address. */
		pthread_mutex_unlock(&start_lock);
		nng_http_server_release(h->srv);
		nng_http_handler_free(h->hnd);
		free(h);
		return rv == NNG_EADDRINUSE ? LS_EEXIST : nng_err_to_ls(rv);
	}
	if ((rv = nng_http_server_start(h->srv)) != 0) {
		pthread_mutex_unlock(&start_lock);
		/* The server took the handler's reference; release frees it. */
		nng_http_server_del_handler(h->srv, h->hnd);
		nng_http_handler_free(h->hnd);
		nng_http_server_release(h->srv);
		free(h);
		return nng_err_to_ls(rv);
	}
	pthread_mutex_unlock(&start_lock);

	nng_sockaddr sa;
	if (nng_http_server_get_addr(h->srv, &sa) == 0) {
		if (sa.s_family == NNG_AF_INET)
			h->port = ntohs(sa.s_in.sa_port);
		else if (sa.s_family == NNG_AF_INET6)
			h->port = ntohs(sa.s_in6.sa_port);
	}
	*out = h;
	return LS_OK;
}

int
ls_http_port(const ls_http *h)
{
	return h != NULL ? h->port : 0;
}

void
ls_http_stop(ls_http *h)
{
	struct core *c;
	struct body_ctx *pool;

	if (h == NULL)
		return;
	c = h->core;
	pthread_mutex_lock(&c->mtx);
	c->stopping = true;
	pthread_mutex_unlock(&c->mtx);

	/* Closes the listener and every connection: pending body reads
	 * fail, and their callbacks complete the requests. */
	nng_http_server_stop(h->srv);

	pthread_mutex_lock(&c->mtx);
	while (c->inflight > 0)
		pthread_cond_wait(&c->idle, &c->mtx);
	pool = c->pool;
	c->pool = NULL;
	pthread_mutex_unlock(&c->mtx);
	while (pool != NULL) {
		struct body_ctx *x = pool;
		pool = x->next;
		nng_aio_free(x->rd); /* waits for its callback's tail */
		free(x);
	}

	nng_http_server_del_handler(h->srv, h->hnd);
	nng_http_handler_free(h->hnd); /* core goes with the last ref */
	nng_http_server_release(h->srv);
	free(h);
}

/* ------------------------------------------------------------------ */
/* client                                                              */

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline: 0 ready, LS_ETIMEDOUT, LS_EIO. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return LS_ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return LS_OK;
		if (n < 0 && errno != EINTR)
			return LS_EIO;
	}
}

static int
client_connect(const char *host, const char *port, int64_t deadline, int *fdp)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int rv = LS_EIO;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return LS_EIO;
	for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family,
		                a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		                a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			if (errno != EINPROGRESS) {
				close(fd);
				continue;
			}
			int w = wait_fd(fd, POLLOUT, deadline);
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (w == LS_OK && (getsockopt(fd, SOL_SOCKET, SO_ERROR,
			                              &soerr, &sl) != 0 ||
			                   soerr != 0))
				w = LS_EIO;
			if (w != LS_OK) {
				close(fd);
				rv = w;
				if (w == LS_ETIMEDOUT)
					break;
				continue;
			}
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof(one));
		*fdp = fd;
		rv = LS_OK;
		break;
	}
	freeaddrinfo(ai);
	return rv;
}

static int
send_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_fd(fd, POLLOUT, deadline);
			if (w != LS_OK)
				return w;
			continue;
		}
		return LS_EIO;
	}
	return LS_OK;
}

/* ---- the client's settings and TLS (mbedtls directly: the client is
 * our own socket code) ---- */

static struct {
	int https;
	char *token;
	mbedtls_x509_crt ca;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg; /* thread-safe: MBEDTLS_THREADING_C */
	mbedtls_ssl_config conf;       /* shared, read-only once set up */
} client;

int
ls_http_client_config(const char *ca_file, const char *token, char *err,
                      size_t errlen)
{
	char *t = NULL;
	if (token != NULL) {
		for (const char *p = token; *p != '\0'; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				return LS_EINVAL; /* would break the header */
		if ((t = strdup(token)) == NULL)
			return LS_ENOMEM;
	}
	free(client.token);
	client.token = t;
	if (client.https) {
		client.https = 0;
		mbedtls_ssl_config_free(&client.conf);
		mbedtls_ctr_drbg_free(&client.drbg);
		mbedtls_entropy_free(&client.entropy);
		mbedtls_x509_crt_free(&client.ca);
	}
	if (ca_file == NULL)
		return LS_OK;
	char why[128];
	int rv;
	mbedtls_x509_crt_init(&client.ca);
	mbedtls_entropy_init(&client.entropy);
	mbedtls_ctr_drbg_init(&client.drbg);
	mbedtls_ssl_config_init(&client.conf);
	if ((rv = mbedtls_x509_crt_parse_file(&client.ca, ca_file)) != 0) {
		mbedtls_strerror(rv, why, sizeof(why));
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", ca_file,
			         rv > 0 ? "some certificates could not be parsed"
			                : why);
		goto bad;
	}
	if ((rv = mbedtls_ctr_drbg_seed(&client.drbg, mbedtls_entropy_func,
	                                &client.entropy,
	                                (const unsigned char *)"ls-http", 7)) !=
	        0 ||
	    (rv = mbedtls_ssl_config_defaults(&client.conf, MBEDTLS_SSL_IS_CLIENT,
	                                      MBEDTLS_SSL_TRANSPORT_STREAM,
	                                      MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		mbedtls_strerror(rv, why, sizeof(why));
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "TLS: %s", why);
		goto bad;
	}
	mbedtls_ssl_conf_authmode(&client.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&client.conf, &client.ca, NULL);
	mbedtls_ssl_conf_rng(&client.conf, mbedtls_ctr_drbg_random,
	                     &client.drbg);
	client.https = 1;
	return LS_OK;
bad:
	mbedtls_ssl_config_free(&client.conf);
	mbedtls_ctr_drbg_free(&client.drbg);
	mbedtls_entropy_free(&client.entropy);
	mbedtls_x509_crt_free(&client.ca);
	return LS_EIO;
}

/* One client connection: a socket, and a TLS session on it with HTTPS. */
typedef struct conn {
	int fd;
	int64_t deadline;
	int io_err; /* why the last socket call failed: LS_ETIMEDOUT, LS_EIO */
	bool eof;   /* the socket's read end is closed */
	bool tls;
	mbedtls_ssl_context ssl;
} conn;

static int
bio_send(void *arg, const unsigned char *buf, size_t len)
{
	conn *c = arg;
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			break;
		if ((c->io_err = wait_fd(c->fd, POLLOUT, c->deadline)) != 0)
			return MBEDTLS_ERR_NET_SEND_FAILED;
	}
	c->io_err = LS_EIO;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *arg, unsigned char *buf, size_t len)
{
	conn *c = arg;
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0) {
			c->eof = n == 0;
			return (int)n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			break;
		if ((c->io_err = wait_fd(c->fd, POLLIN, c->deadline)) != 0)
			return MBEDTLS_ERR_NET_RECV_FAILED;
	}
	c->io_err = LS_EIO;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* The TLS handshake over c->fd, the server's name checked against host. */
static int
conn_tls_start(conn *c, const char *host)
{
	mbedtls_ssl_init(&c->ssl);
	c->tls = true;
	if (mbedtls_ssl_setup(&c->ssl, &client.conf) != 0 ||
	    mbedtls_ssl_set_hostname(&c->ssl, host) != 0)
		return LS_ENOMEM;
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	int rv;
	while ((rv = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		if (rv == MBEDTLS_ERR_SSL_WANT_READ ||
		    rv == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		return c->io_err == LS_ETIMEDOUT ? LS_ETIMEDOUT : LS_EIO;
	}
	return LS_OK;
}

static int
conn_send_all(conn *c, const void *buf, size_t len)
{
	if (!c->tls)
		return send_all(c->fd, buf, len, c->deadline);
	const unsigned char *p = buf;
	while (len > 0) {
		int n = mbedtls_ssl_write(&c->ssl, p, len);
		if (n == MBEDTLS_ERR_SSL_WANT_READ ||
		    n == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (n <= 0)
			return c->io_err == LS_ETIMEDOUT ? LS_ETIMEDOUT : LS_EIO;
		p += n;
		len -= (size_t)n;
	}
	return LS_OK;
}

/* Up to len bytes into buf: their number, 0 at the end of the stream, or
 * -LS_E* (LS_ETIMEDOUT, LS_EIO). */
static ssize_t
conn_recv(conn *c, void *buf, size_t len)
{
	if (c->tls) {
		for (;;) {
			int n = mbedtls_ssl_read(&c->ssl, buf, len);
			/* 0 is also an empty record (nng sends them): the end
			 * only when the socket is at its end */
			if (n > 0 || (n == 0 && c->eof))
				return n;
			if (n == 0)
				continue;
			if (n == MBEDTLS_ERR_SSL_WANT_READ ||
			    n == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
				return 0;
			return -(c->io_err == LS_ETIMEDOUT ? LS_ETIMEDOUT
			                                   : LS_EIO);
		}
	}
	for (;;) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -LS_EIO;
		int w = wait_fd(c->fd, POLLIN, c->deadline);
		if (w != LS_OK)
			return -w;
	}
}

static void
conn_close(conn *c)
{
	if (c->tls) {
		if (c->fd >= 0)
			(void)mbedtls_ssl_close_notify(&c->ssl);
		mbedtls_ssl_free(&c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Find header name (case-insensitive) in the header block head (which
 * starts after the status line); *val and *vlen get its trimmed value. */
static bool
find_header(const char *head, size_t hlen, const char *name, const char **val,
            size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = head, *end = head + hlen;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' ||
			                  ve[-1] == '\t'))
				ve--;
			*val = v;
			*vlen = (size_t)(ve - v);
			return true;
		}
		p = eol + 1;
	}
	return false;
}

/* Split "host:port" / "[v6]:port" (an "http://" prefix is allowed). */
static int
split_host_port(const char *hp, char *host, size_t hcap, char *port,
                size_t pcap)
{
	if (strncmp(hp, "http://", 7) == 0)
		hp += 7;
	else if (strncmp(hp, "https://", 8) == 0)
		hp += 8;
	size_t n = strcspn(hp, "/");
	const char *colon = NULL;
	for (size_t i = 0; i < n; i++)
		if (hp[i] == ':')
			colon = hp + i;
	if (colon == NULL || colon == hp)
		return LS_EINVAL;
	const char *hs = hp, *he = colon;
	if (hs[0] == '[') {
		if (he[-1] != ']')
			return LS_EINVAL;
		hs++;
		he--;
	}
	size_t hl = (size_t)(he - hs), pl = (size_t)(hp + n - colon - 1);
	if (hl == 0 || hl >= hcap || pl == 0 || pl >= pcap)
		return LS_EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	memcpy(port, colon + 1, pl);
	port[pl] = '\0';
	for (size_t i = 0; i < pl; i++)
		if (port[i] < '0' || port[i] > '9')
			return LS_EINVAL;
	return LS_OK;
}

int
ls_http_request(const char *host_port, const char *method, const char *path,
                const void *body, size_t len, int *status, char **resp_body,
                size_t *resp_len, int timeout_ms)
{
	char host[256], port[16];
	char *head = NULL, *buf = NULL;
	conn cn = {.fd = -1};
	int rv;

	if (host_port == NULL || method == NULL || path == NULL ||
	    status == NULL || resp_body == NULL || resp_len == NULL ||
	    (body == NULL && len > 0) || !method_ok(method) || path[0] != '/')
		return LS_EINVAL;
	for (const char *p = path; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ')
			return LS_EINVAL;
	*resp_body = NULL;
	*resp_len = 0;
	if ((rv = split_host_port(host_port, host, sizeof(host), port,
	                          sizeof(port))) != LS_OK)
		return rv;
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 30000);

	/* Host header: brackets back around an IPv6 literal. */
	bool v6 = strchr(host, ':') != NULL;
	int hn = asprintf(
	    &head,
	    "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: logstream\r\n"
	    "Accept: */*\r\n%sContent-Length: %zu\r\n"
	    "%s%s%s%s\r\n",
	    method, path, v6 ? "[" : "", host, v6 ? "]" : "", port,
	    /* over TLS the server must not close first: nng 1.5.2 can cut
	     * off an answer when it closes a TLS connection right after
	     * writing it; we close once the answer (Content-Length) is in */
	    client.https ? "" : "Connection: close\r\n", len,
	    len > 0 ? "Content-Type: application/json\r\n" : "",
	    client.token != NULL ? "Authorization: Bearer " : "",
	    client.token != NULL ? client.token : "",
	    client.token != NULL ? "\r\n" : "");
	if (hn < 0)
		return LS_ENOMEM;

	cn.deadline = deadline;
	if ((rv = client_connect(host, port, deadline, &cn.fd)) != LS_OK)
		goto out;
	if (client.https && (rv = conn_tls_start(&cn, host)) != LS_OK)
		goto out;
	/* A server may answer (413) and close before taking the whole body:
	 * a failed send is only an error if no answer can be read. */
	int sent = conn_send_all(&cn, head, (size_t)hn);
	if (sent == LS_OK && len > 0)
		sent = conn_send_all(&cn, body, len);
	if (sent == LS_ETIMEDOUT) {
		rv = sent;
		goto out;
	}

	size_t cap = 4096, got = 0, hdr_end = 0, want = 0;
	bool have_head = false, until_eof = true;
	if ((buf = malloc(cap + 1)) == NULL) {
		rv = LS_ENOMEM;
		goto out;
	}
	for (;;) {
		if (have_head && !until_eof && got - hdr_end >= want)
			break;
		if (got == cap) {
			size_t ncap = cap * 2;
			if (ncap > CLIENT_MAX_RESP + CLIENT_MAX_HEAD)
				ncap = CLIENT_MAX_RESP + CLIENT_MAX_HEAD;
			if (ncap == cap) {
				rv = LS_ERANGE;
				goto out;
			}
			char *nb = realloc(buf, ncap + 1);
			if (nb == NULL) {
				rv = LS_ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = conn_recv(&cn, buf + got, cap - got);
		if (n < 0) {
			rv = (int)-n;
			goto out;
		}
		if (n == 0) {
			if (!have_head) {
				rv = got == 0 ? LS_EIO : LS_EPARSE;
				goto out;
			}
			if (!until_eof && got - hdr_end < want) {
				rv = LS_EPARSE; /* truncated */
				goto out;
			}
			break;
		}
		got += (size_t)n;
		if (have_head)
			continue;
		buf[got] = '\0';
		char *e = strstr(buf, "\r\n\r\n");
		if (e == NULL) {
			if (got > CLIENT_MAX_HEAD) {
				rv = LS_EPARSE;
				goto out;
			}
			continue;
		}
		hdr_end = (size_t)(e - buf) + 4;
		have_head = true;
		/* Status line: HTTP/1.x NNN */
		if (got < 12 || strncmp(buf, "HTTP/1.", 7) != 0 ||
		    buf[8] != ' ' || buf[9] < '1' || buf[9] > '5' ||
		    buf[10] < '0' || buf[10] > '9' || buf[11] < '0' ||
		    buf[11] > '9') {
			rv = LS_EPARSE;
			goto out;
		}
		*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 +
		          (buf[11] - '0');
		const char *v;
		size_t vl;
		const char *hb = strchr(buf, '\n') + 1;
		size_t hbl = hdr_end - (size_t)(hb - buf);
		if (find_header(hb, hbl, "Transfer-Encoding", &v, &vl)) {
			rv = LS_ENOTSUP; /* our server never sends chunks */
			goto out;
		}
		if (strcmp(method, "HEAD") == 0 || *status == 204 ||
		    *status == 304) {
			until_eof = false;
			want = 0;
		} else if (find_header(hb, hbl, "Content-Length", &v, &vl)) {
			char tmp[24];
			if (vl == 0 || vl >= sizeof(tmp)) {
				rv = LS_EPARSE;
				goto out;
			}
			memcpy(tmp, v, vl);
			tmp[vl] = '\0';
			char *end;
			unsigned long long w = strtoull(tmp, &end, 10);
			if (*end != '\0' || tmp[0] < '0' || tmp[0] > '9') {
				rv = LS_EPARSE;
				goto out;
			}
			if (w > CLIENT_MAX_RESP) {
				rv = LS_ERANGE;
				goto out;
			}
			want = (size_t)w;
			until_eof = false;
		}
	}
	size_t blen = got - hdr_end;
	if (!until_eof && blen > want)
		blen = want;
	memmove(buf, buf + hdr_end, blen);
	buf[blen] = '\0';
	*resp_body = buf;
	*resp_len = blen;
	buf = NULL;
	rv = LS_OK;
out:
	conn_close(&cn);
	free(buf);
	if (client.token != NULL)
		memset(head, 0, (size_t)hn);
	free(head);
	return rv;
}
