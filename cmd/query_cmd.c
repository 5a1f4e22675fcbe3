/*
 * query_cmd.c -- `logstream query`: build the GET request of an
 * interactive query (cluster/query.h), send it to a node and print the
 * answer (JSON by default, a table with --format text).
 */
#include "cmd/query_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/http.h"
#include "cluster/jsonbuf.h"
#include "cluster/query.h"
#include "runtime/err.h"

static void
usage(FILE *f, const char *node)
{
	fprintf(f,
	    "usage: logstream query [--node HOST:PORT]\n"
	    "                       windows|sessions|alerts|patterns STAGE\n"
	    "                       [--key VALUE]... [--prefix TEXT]\n"
	    "                       [--from TIME] [--to TIME] [--open|--closed]\n"
	    "                       [--limit N] [--topology NAME]\n"
	    "                       [--format json|text] [--timeout-ms N]\n"
	    "                       [--ca FILE] [--token TOKEN]\n"
	    "\n"
	    "Ask the state of a stage while it runs, through any node: the\n"
	    "open windows (their current value) or sessions and the results\n"
	    "that closed recently (keep_closed) of a window or session stage;\n"
	    "the recent alerts of an anomaly stage (open: still open); the\n"
	    "templates of a patterns stage with their counts.  Answers reflect\n"
	    "each partition's state as of the last event it processed\n"
	    "(docs/queries.md).\n"
	    "\n"
	    "  --key VALUE      one per key field of the stage, in order: only\n"
	    "                   that key (asks one partition)\n"
	    "  --prefix TEXT    keys whose first value starts with TEXT\n"
	    "  --from, --to     the time range rows must overlap: RFC 3339\n"
	    "                   (2024-03-01T10:00:00Z) or ms since the epoch\n"
	    "  --open           only open windows / sessions\n"
	    "  --closed         only closed ones (kept results)\n"
	    "  --limit N        at most N rows (default 1000), by start time\n"
	    "                   then key\n"
	    "  --topology NAME  when several deployed topologies have STAGE\n"
	    "  --format F       json (default) or text (a table)\n"
	    "  --timeout-ms N   how long the node waits for partitions that\n"
	    "                   are moving (default 5000)\n"
	    "  --node HOST:PORT the node to ask (default %s, or\n"
	    "                   $LOGSTREAM_NODE)\n"
	    "  --ca FILE        HTTPS, the node's certificate checked against\n"
	    "                   this CA (or $LOGSTREAM_CA; docs/security.md)\n"
	    "  --token TOKEN    bearer token, read scope (or $LOGSTREAM_TOKEN)\n"
	    "  -h, --help       this help\n"
	    "\n"
	    "Exit status: 0 answered, 1 the node refused or is unreachable,\n"
	    "2 usage error.\n",
	    node);
}

static void
param(ls_jsonbuf *b, int *first, const char *name, const char *v)
{
	ls_jsonbuf_printf(b, "%c%s=", *first ? '?' : '&', name);
	*first = 0;
	ls_query_encode(b, v, strlen(v));
}

int
ls_cmd_query(int argc, char **argv, const char *default_node)
{
	const char *node = getenv("LOGSTREAM_NODE");
	const char *ca = getenv("LOGSTREAM_CA");
	const char *token = getenv("LOGSTREAM_TOKEN");
	const char *what = NULL, *stage = NULL;
	ls_jsonbuf q = { 0 };
	int first = 1, rc = 2;

	if (node == NULL)
		node = default_node;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		static const char *const valued[][2] = { { "--key", "key" },
			{ "--prefix", "prefix" }, { "--from", "from" },
			{ "--to", "to" }, { "--limit", "limit" },
			{ "--topology", "topology" }, { "--format", "format" },
			{ "--timeout-ms", "timeout_ms" } };
		size_t k;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout, node);
			ls_jsonbuf_fini(&q);
			return 0;
		}
		if (strcmp(a, "--node") == 0 && next != NULL) {
			node = argv[++i];
			continue;
		}
		if (strcmp(a, "--ca") == 0 && next != NULL) {
			ca = argv[++i];
			continue;
		}
		if (strcmp(a, "--token") == 0 && next != NULL) {
			token = argv[++i];
			continue;
		}
		if (strcmp(a, "--open") == 0 || strcmp(a, "--closed") == 0) {
			param(&q, &first, "open", a[2] == 'o' ? "1" : "0");
			continue;
		}
		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (strcmp(a, valued[k][0]) == 0)
				break;
		if (k < sizeof(valued) / sizeof(valued[0])) {
			if (next == NULL) {
				fprintf(stderr, "logstream query: %s needs a "
				                "value\n", a);
				goto usage_err;
			}
			param(&q, &first, valued[k][1], next);
			i++;
			continue;
		}
		if (a[0] != '-' && what == NULL) {
			what = a;
		} else if (a[0] != '-' && stage == NULL) {
			stage = a;
		} else {
			fprintf(stderr, "logstream query: unexpected '%s'\n", a);
			goto usage_err;
		}
	}
	if (what == NULL || stage == NULL ||
	    (strcmp(what, "windows") != 0 && strcmp(what, "sessions") != 0 &&
	        strcmp(what, "alerts") != 0 && strcmp(what, "patterns") != 0)) {
		fprintf(stderr, "logstream query: want "
		                "windows|sessions|alerts|patterns STAGE\n");
		goto usage_err;
	}
	ls_jsonbuf path = { 0 };
	ls_jsonbuf_printf(&path, "/v1/%s/", what);
	ls_query_encode(&path, stage, strlen(stage));
	if (q.p != NULL)
		ls_jsonbuf_printf(&path, "%s", q.p);
	ls_jsonbuf_fini(&q);
	if (path.oom) {
		ls_jsonbuf_fini(&path);
		fprintf(stderr, "logstream query: out of memory\n");
		return 1;
	}
	char err[600] = "";
	int rv = ls_http_client_config(ca != NULL && *ca ? ca : NULL,
	    token != NULL && *token ? token : NULL, err, sizeof(err));
	if (rv != 0) {
		ls_jsonbuf_fini(&path);
		fprintf(stderr, "logstream query: %s\n", rv == LS_EINVAL
		    ? "--token: blanks or control characters in the token"
		    : err[0] ? err : ls_strerror(rv));
		return 2;
	}
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	rv = ls_http_request(node, "GET", path.p, NULL, 0, &status, &body,
	    &len, 70000);
	ls_jsonbuf_fini(&path);
	if (rv != 0) {
		fprintf(stderr, "logstream query: cannot reach node %s: %s\n",
		    node, ls_strerror(rv));
		free(body);
		return 1;
	}
	rc = status >= 200 && status < 300 ? 0 : 1;
	if (rc != 0)
		fprintf(stderr, "logstream query: node %s answered %d: ", node,
		    status);
	fwrite(body, 1, len, rc == 0 ? stdout : stderr);
	free(body);
	return rc;
usage_err:
	ls_jsonbuf_fini(&q);
	usage(stderr, node);
	return rc;
}
