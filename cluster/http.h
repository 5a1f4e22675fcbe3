/*
 * http.h -- a node's HTTP API server and a small blocking HTTP client.
 *
 * The server runs on nng's HTTP server.  One catch-all nng handler receives
 * every request and routes it through this module's own table, so unknown
 * paths get a JSON 404, a known path with the wrong method gets 405 with an
 * Allow header, and handlers see method, path, query string and body.
 * GET /healthz and GET /metrics (Prometheus text from an ls_metrics
 * registry) are built in.  Handlers run on nng's worker threads, several at
 * once; they must be thread-safe and should not block for long.
 *
 * With TLS files (ls_http_opts.tls) the server speaks HTTPS; with a token
 * set (ls_http_opts.auth, cluster/auth.h) every request but GET /healthz
 * needs `Authorization: Bearer TOKEN` of the route's scope, checked before
 * the body is read: 401 without a known token, 403 with one whose scope is
 * not enough, both with a JSON reason.  A route's scope is, unless set with
 * ls_http_route_scope: internal under /v1/internal/, read for GET, write
 * for every other method -- so new routes are covered from the start.
 *
 * The client (ls_http_request) speaks HTTP/1.1 over a socket with one
 * request per connection, HTTPS and a bearer token once
 * ls_http_client_config is given them; the logstream client commands and
 * the nodes' own requests use it.
 */
#ifndef LS_CLUSTER_HTTP_H
#define LS_CLUSTER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/auth.h"
#include "cluster/tls.h"
#include "runtime/metrics.h"

typedef struct ls_http ls_http;
typedef struct ls_http_resp ls_http_resp;

/* Default limit on a request body: larger requests get 413 unread. */
#define LS_HTTP_MAX_BODY_DEFAULT ((size_t)1 << 20)

/* One request as a handler sees it.  Every pointer is borrowed from the
 * server and valid only during the handler call.  path has no query part;
 * query is the text after '?' ("" if none), not decoded; body is not
 * NUL-terminated (NULL when body_len is 0). */
typedef struct ls_http_req {
	const char *method;
	const char *path;
	const char *query;
	const uint8_t *body;
	size_t body_len;
	void *native; /* internal: the nng request */
} ls_http_req;

/* A route handler.  Fill resp with the ls_http_resp_* calls; a response
 * left untouched is "200" with an empty body.  Returning non-zero (an LS_E*
 * code) discards resp and answers with a JSON error whose status follows
 * the code (EINVAL/EPARSE 400, ENOENT 404, EEXIST 409, ERANGE 413,
 * EAGAIN/EBUSY 503, ETIMEDOUT 504, ENOTSUP 501, others 500). */
typedef int (*ls_http_handler_fn)(void *arg, const ls_http_req *req,
                                  ls_http_resp *resp);

/* Server options; a zeroed struct (or NULL) means the defaults. */
typedef struct ls_http_opts {
	ls_metrics *metrics; /* served by GET /metrics; borrowed, may be NULL */
	size_t max_body;     /* request body limit; 0 = 1 MiB default */
	const ls_tls_files *tls; /* HTTPS when all set (read at start) */
	const ls_auth *auth; /* bearer tokens; borrowed, outlives the server */
} ls_http_opts;

/* Start a server listening on addr ("127.0.0.1:8101", "[::1]:8101", or
 * ":0"/"127.0.0.1:0" for a free port) and store it in *out.  opts (may be
 * NULL) is copied; its metrics registry must outlive the server.
 * LS_EINVAL bad address, LS_EEXIST/LS_EIO cannot listen, LS_ENOMEM. */
int ls_http_start(const char *addr, const ls_http_opts *opts, ls_http **out);

/* The TCP port the server is bound to (the real one when started on 0). */
int ls_http_port(const ls_http *h);

/* Route method ("GET", "POST", ...) on path to fn(arg, ...); arg is
 * borrowed until ls_http_stop.  A path ending in '/' (other than "/") is a
 * prefix and matches every path below it; otherwise the match is exact.
 * The exact match wins over prefixes, the longest prefix over shorter ones;
 * a GET route also answers HEAD.  Any thread, also while serving.
 * LS_EINVAL bad method/path, LS_EEXIST same method and path taken,
 * LS_ENOMEM. */
int ls_http_route(ls_http *h, const char *method, const char *path,
                  ls_http_handler_fn fn, void *arg);

/* Set the scope that requests of the route (method, path as registered)
 * need when the server checks tokens; a route under /v1/internal/ stays
 * internal.  LS_ENOENT when no such route, LS_EINVAL. */
int ls_http_route_scope(ls_http *h, const char *method, const char *path,
                        ls_scope scope);

/* Stop listening, close every connection, wait for running handlers to
 * return, and free h.  After it returns no handler runs again.  Must not be
 * called from a handler.  NULL is ignored. */
void ls_http_stop(ls_http *h);

/* The value of request header name (case-insensitive) or NULL; borrowed
 * like the request itself. */
const char *ls_http_req_header(const ls_http_req *req, const char *name);

/* Set the response status (100..599); LS_EINVAL otherwise. */
int ls_http_resp_status(ls_http_resp *resp, int status);

/* Set the body (copied) and its Content-Type (NULL = leave unset).
 * LS_ENOMEM. */
int ls_http_resp_body(ls_http_resp *resp, const char *content_type,
                      const void *body, size_t len);

/* Set a response header (both strings copied).  LS_EINVAL, LS_ENOMEM. */
int ls_http_resp_header(ls_http_resp *resp, const char *name,
                        const char *value);

/* Answer status with the body {"error":"<msg>"} (msg JSON-escaped) and
 * Content-Type application/json.  LS_EINVAL, LS_ENOMEM. */
int ls_http_resp_error(ls_http_resp *resp, int status, const char *msg);

/* The process's client settings, for every later ls_http_request: with
 * ca_file, HTTPS with the server's certificate verified against it and
 * its name against the host asked for; with token, `Authorization: Bearer
 * TOKEN` on every request.  NULL turns that off.  Strings are copied.
 * Call before requests start (not while they run).  LS_EIO with
 * "FILE: reason" in err when the CA cannot be read, LS_ENOMEM. */
int ls_http_client_config(const char *ca_file, const char *token, char *err,
                          size_t errlen);

/* Send one request to host_port ("127.0.0.1:8101", "[::1]:8101",
 * "localhost:8101") and wait at most timeout_ms (<= 0: 30 s) for the whole
 * answer.  body may be NULL when len is 0; a body is sent with
 * Content-Type application/json.  On success *status is the HTTP status and
 * *resp_body a new NUL-terminated buffer of *resp_len bytes that the caller
 * frees.  LS_EINVAL bad arguments, LS_ETIMEDOUT, LS_EIO connect or I/O
 * failure, LS_EPARSE malformed answer, LS_ERANGE answer over 1 GiB,
 * LS_ENOMEM.  Blocking; any thread. */
int ls_http_request(const char *host_port, const char *method, const char *path,
                    const void *body, size_t len, int *status, char **resp_body,
                    size_t *resp_len, int timeout_ms);

#endif /* LS_CLUSTER_HTTP_H */
