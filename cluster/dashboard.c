/*
 * dashboard.c -- the web dashboard: GET /dashboard serves the page built
 * into the binary (cluster/dashboard.html, embedded by tools/embed.py), GET
 * / redirects there.  The page itself only reads the node's public API
 * (/v1/status, /metrics, /v1/windows, /v1/search); docs/dashboard.md.
 */
#include <stddef.h>

#include "cluster/node_int.h"

extern const unsigned char ls_dashboard_html[];
extern const size_t ls_dashboard_html_len;

static int
h_dashboard(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	(void)arg;
	(void)req;
	int rv = ls_http_resp_body(resp, "text/html; charset=utf-8",
	    ls_dashboard_html, ls_dashboard_html_len);
	if (rv == 0)
		rv = ls_http_resp_header(resp, "Cache-Control", "no-cache");
	return rv;
}

static int
h_root(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	(void)arg;
	(void)req;
	int rv = ls_http_resp_status(resp, 302);
	if (rv == 0)
		rv = ls_http_resp_header(resp, "Location", "/dashboard");
	return rv;
}

int
ls__dashboard_routes(ls_node *n)
{
	/* the page holds no data: it loads without a token, and its
	 * requests send the one given in its URL (#token=) */
	int rv = ls_http_route(n->http, "GET", "/dashboard", h_dashboard, n);
	if (rv == 0)
		rv = ls_http_route(n->http, "GET", "/", h_root, n);
	if (rv == 0)
		rv = ls_http_route_scope(n->http, "GET", "/dashboard",
		    LS_SCOPE_NONE);
	if (rv == 0)
		rv = ls_http_route_scope(n->http, "GET", "/", LS_SCOPE_NONE);
	return rv;
}
