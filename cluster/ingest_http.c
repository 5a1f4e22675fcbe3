/*
 * ingest_http.c -- POST /v1/logs of `http` sources (see ingest_http.h).
 *
 * The handler parses the body (actors/ingestbody.h), appends its events to
 * the source's ingest log as one record and answers only once that
 * returned, so 202 means the events are durable as the log promises:
 *
 *   202 {"accepted":N}            the N events are in the log
 *   400 {"error":"bad JSON at line L, column C: ..."}, "empty body", ...
 *   413                           body over max_body (unread; http.c)
 *   415                           a Content-Type that is not JSON or text
 *   429 + Retry-After: 1          the log's queue is full (backpressure)
 *   503 + Retry-After: 1          the source is ending, or the partition's
 *                                 standbys did not take the record (it
 *                                 may still be delivered: a retry can
 *                                 give duplicates)
 *   500                           the store could not write
 */
#include "cluster/ingest_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/ingestbody.h"
#include "cluster/http.h"
#include "runtime/err.h"

static const ls_tls_files *g_tls;
static const ls_auth *g_auth;

void
ls_ingest_http_security(const ls_tls_files *tls, const ls_auth *auth)
{
	g_tls = tls;
	g_auth = auth;
}

static int
retry_later(ls_http_resp *resp, int status, const char *msg)
{
	int rv = ls_http_resp_error(resp, status, msg);
	return rv != 0 ? rv : ls_http_resp_header(resp, "Retry-After", "1");
}

static int
logs_post(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_ingest *in = arg;
	const char *ct = ls_http_req_header(req, "Content-Type");
	int form = ls_ingestbody_form(ct);
	char why[300];
	if (form < 0) {
		snprintf(why, sizeof(why),
		    "unsupported Content-Type '%.100s' (send application/json, "
		    "application/x-ndjson or text/plain)",
		    ct);
		return ls_http_resp_error(resp, 415, why);
	}
	char *ev = NULL;
	size_t el = 0;
	uint32_t n = 0;
	int rv = ls_ingestbody_parse(form, (const char *)req->body,
	    req->body_len, &ev, &el, &n, why, sizeof(why));
	if (rv == LS_EPARSE)
		return ls_http_resp_error(resp, 400, why);
	if (rv != 0)
		return rv;
	if (n > 0) {
		rv = ls_ingest_append(in, ev, el, n, NULL);
		free(ev);
	}
	if (rv == LS_EAGAIN) {
		snprintf(why, sizeof(why),
		    "the ingest queue is full (%zu events wait); retry later",
		    ls_ingest_backlog(in));
		return retry_later(resp, 429, why);
	}
	if (rv == LS_ECLOSED)
		return retry_later(resp, 503, "the source is stopping");
	if (rv == LS_EBUSY)
		return retry_later(resp, 503,
		    "not acknowledged: the partition's standbys did not take "
		    "the events (retry; a retry may deliver them twice)");
	if (rv != 0)
		return ls_http_resp_error(resp, 500,
		    "cannot store the events; nothing was accepted");
	char body[64];
	int bl = snprintf(body, sizeof(body), "{\"accepted\":%u}\n", n);
	rv = ls_http_resp_status(resp, 202);
	return rv != 0 ? rv
	               : ls_http_resp_body(resp, "application/json", body,
	                     (size_t)bl);
}

static int
ingest_start(const char *listen, size_t max_body, ls_ingest *in,
    void **handle, int *port, char *err, size_t errlen)
{
	ls_http_opts ho = { NULL, max_body, g_tls, g_auth };
	ls_http *h = NULL;
	int rv = ls_http_start(listen, &ho, &h);
	if (rv != 0) {
		snprintf(err, errlen, "cannot serve HTTP on %s: %s", listen,
		    rv == LS_EEXIST ? "the address is in use" : ls_strerror(rv));
		return rv;
	}
	if ((rv = ls_http_route(h, "POST", "/v1/logs", logs_post, in)) != 0) {
		ls_http_stop(h);
		snprintf(err, errlen, "cannot route /v1/logs: %s",
		    ls_strerror(rv));
		return rv;
	}
	*handle = h;
	*port = ls_http_port(h);
	return 0;
}

static void
ingest_stop(void *handle)
{
	ls_http_stop(handle);
}

const ls_ingest_server ls_ingest_http = { ingest_start, ingest_stop };
