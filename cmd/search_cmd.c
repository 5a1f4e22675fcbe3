/*
 * search_cmd.c -- `logstream search --file LOG QUERY`: index every line of
 * LOG in memory (parsed with --format for its time and fields; the whole
 * line is the text) and print the best hits of QUERY, ranked by BM25
 * (docs/search.md): one line each with the score, the line number and the
 * line with its matched words in [brackets], or JSON lines with --json.
 * A malformed query is reported with its byte position and a caret.
 *
 * With --node HOST:PORT (and --stage S) the query goes to a cluster
 * instead: GET /v1/search/S on that node (cluster/search.c), whose answer
 * is printed as it is.
 */
#include "cmd/search_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/index.h"
#include "actors/parse.h"
#include "actors/timefmt.h"
#include "cluster/http.h"
#include "cluster/jsonbuf.h"
#include "cluster/query.h"
#include "runtime/arena.h"
#include "runtime/err.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: logstream search --file LOG [options] QUERY\n"
	    "       logstream search --node HOST:PORT --stage STAGE [options] "
	    "QUERY\n"
	    "\n"
	    "Index the lines of LOG in memory, as the `index` stage does, and\n"
	    "print the lines that match QUERY, best first (BM25).  Each line\n"
	    "is parsed (--format, default auto) for its time and its fields\n"
	    "(level, service, host, attributes); the whole line is the text.\n"
	    "\n"
	    "With --node, ask a cluster instead: the `index` stage STAGE\n"
	    "(GET /v1/search/STAGE on that node, which asks every partition;\n"
	    "ranked with statistics over all of them).\n"
	    "\n"
	    "QUERY (docs/search.md): words, \"a phrase\", field:value,\n"
	    "prefix*, AND, OR, NOT or -word, parentheses; words side by side\n"
	    "must all match; * alone matches every line.\n"
	    "\n"
	    "options:\n"
	    "  --file LOG       the log file (required)\n"
	    "  --format FMT     line format (topology.md, parse): auto, json,\n"
	    "                   logfmt, syslog, log4j, bgl, ...\n"
	    "  --limit N        hits to print, 1..%d (default 10)\n"
	    "  --from T, --to T only lines whose time is in [T, T): RFC 3339\n"
	    "                   (2024-03-01T00:00:00Z)\n"
	    "  --json           one JSON object per hit: score, line, time_ms,\n"
	    "                   text, highlights ([offset, length] in bytes)\n"
	    "  --node HOST:PORT a cluster node's HTTP address\n"
	    "  --stage STAGE    with --node: the index stage to search\n"
	    "  --topology NAME  with --node: the topology (when several have\n"
	    "                   STAGE)\n"
	    "  --text           with --node: one line per hit instead of JSON\n"
	    "  -h, --help       this help\n"
	    "\n"
	    "Exit status: 0 (with or without hits), 1 the file cannot be read\n"
	    "or the node refused (the answer is on stderr), 2 a usage error or\n"
	    "a malformed query.\n",
	    LS_INDEX_MAX_K);
}

static int
parse_time(const char *s, int64_t *out)
{
	size_t used = 0;
	return ls_timefmt_iso8601(s, strlen(s), out, &used) != 0 ||
	    used != strlen(s);
}

static void
json_str(FILE *o, const char *p, size_t n)
{
	fputc('"', o);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\')
			fprintf(o, "\\%c", c);
		else if (c < 0x20)
			fprintf(o, "\\u%04x", c);
		else
			fputc(c, o);
	}
	fputc('"', o);
}

static void
print_hit(FILE *o, const ls_index_query *q, const ls_index_hit *h, int json)
{
	ls_index_span sp[64];
	uint32_t ns = ls_index_highlight(q, h->text.ptr, h->text.len, sp, 64);
	if (ns > 64)
		ns = 64;
	if (json) {
		fprintf(o, "{\"score\":%.6f,\"line\":%llu,\"time_ms\":%lld,"
		           "\"text\":",
		    h->score, (unsigned long long)h->key + 1,
		    (long long)(h->time_ns / 1000000));
		json_str(o, h->text.ptr, h->text.len);
		fputs(",\"highlights\":[", o);
		for (uint32_t i = 0; i < ns; i++)
			fprintf(o, "%s[%u,%u]", i ? "," : "", sp[i].off,
			    sp[i].len);
		fputs("]}\n", o);
		return;
	}
	fprintf(o, "%.4f  %llu  ", h->score, (unsigned long long)h->key + 1);
	uint32_t at = 0;
	for (uint32_t i = 0; i < ns; i++) {
		if (sp[i].off < at)
			continue; /* overlaps the previous one */
		fwrite(h->text.ptr + at, 1, sp[i].off - at, o);
		fputc('[', o);
		fwrite(h->text.ptr + sp[i].off, 1, sp[i].len, o);
		fputc(']', o);
		at = sp[i].off + sp[i].len;
	}
	fwrite(h->text.ptr + at, 1, h->text.len - at, o);
	fputc('\n', o);
}

/* Index every line of f. */
static int
index_file(FILE *f, const ls_parser *p, ls_index *ix)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t no = 0;
	ls_arena arena;
	int rv = 0;
	ls_arena_init(&arena, 0);
	while (rv == 0 && (n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		ls_event ev;
		ls_attr fl[LS_INDEX_MAX_FIELDS];
		uint32_t nf = 0;
		int64_t t = LS_TIME_UNKNOWN;
		ls_arena_reset(&arena);
		if (len > 0 &&
		    ls_parser_parse(p, line, len, &ev, &arena, NULL) == 0) {
			t = ev.time_ns;
			if (ev.level != LS_LEVEL_UNKNOWN) {
				fl[nf].key = ls_str_c("level");
				fl[nf++].val = ls_str_c(ls_level_name(ev.level));
			}
			if (ev.service.len > 0) {
				fl[nf].key = ls_str_c("service");
				fl[nf++].val = ev.service;
			}
			if (ev.host.len > 0) {
				fl[nf].key = ls_str_c("host");
				fl[nf++].val = ev.host;
			}
			for (uint32_t i = 0;
			    i < ev.nattrs && nf < LS_INDEX_MAX_FIELDS; i++)
				if (ev.attrs[i].val.len > 0)
					fl[nf++] = ev.attrs[i];
		}
		ls_index_doc d = { t, no++, ls_str_make(line, len), fl, nf };
		rv = ls_index_add(ix, &d);
		if (rv == LS_EINVAL) { /* a line too long: its text alone */
			d.nfields = 0;
			rv = ls_index_add(ix, &d);
		}
	}
	free(line);
	ls_arena_fini(&arena);
	return rv;
}

static void
param(ls_jsonbuf *b, const char *name, const char *v)
{
	ls_jsonbuf_printf(b, "&%s=", name);
	ls_query_encode(b, v, strlen(v));
}

/* GET /v1/search/STAGE on node; the answer on stdout (stderr on error). */
static int
remote(const char *node, const char *stage, const char *topology,
    const char *query, long limit, const char *from, const char *to,
    int text)
{
	ls_jsonbuf path = { 0 };
	char num[24];
	ls_jsonbuf_printf(&path, "/v1/search/");
	ls_query_encode(&path, stage, strlen(stage));
	ls_jsonbuf_printf(&path, "?q=");
	ls_query_encode(&path, query, strlen(query));
	snprintf(num, sizeof(num), "%ld", limit);
	param(&path, "limit", num);
	if (topology != NULL)
		param(&path, "topology", topology);
	if (from != NULL)
		param(&path, "from", from);
	if (to != NULL)
		param(&path, "to", to);
	if (text)
		param(&path, "format", "text");
	if (path.oom) {
		ls_jsonbuf_fini(&path);
		fprintf(stderr, "logstream search: out of memory\n");
		return 1;
	}
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	int rv = ls_http_request(node, "GET", path.p, NULL, 0, &status, &body,
	    &len, 70000);
	ls_jsonbuf_fini(&path);
	if (rv != 0) {
		fprintf(stderr, "logstream search: cannot reach node %s: %s\n",
		    node, ls_strerror(rv));
		free(body);
		return 1;
	}
	int ok = status >= 200 && status < 300;
	if (!ok)
		fprintf(stderr, "logstream search: node %s answered %d: ", node,
		    status);
	fwrite(body, 1, len, ok ? stdout : stderr);
	free(body);
	return ok ? 0 : status == 400 ? 2 : 1;
}

int
ls_cmd_search(int argc, char **argv)
{
	const char *file = NULL, *query = NULL, *fmt = "auto";
	const char *node = NULL, *stage = NULL, *topology = NULL;
	const char *from_s = NULL, *to_s = NULL;
	long limit = 10;
	int json = 0, text = 0;
	int64_t from = INT64_MIN, to = INT64_MAX;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int more = i + 1 < argc;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--file") == 0 && more) {
			file = argv[++i];
		} else if (strcmp(a, "--node") == 0 && more) {
			node = argv[++i];
		} else if (strcmp(a, "--stage") == 0 && more) {
			stage = argv[++i];
		} else if (strcmp(a, "--topology") == 0 && more) {
			topology = argv[++i];
		} else if (strcmp(a, "--text") == 0) {
			text = 1;
		} else if (strcmp(a, "--format") == 0 && more) {
			fmt = argv[++i];
		} else if (strcmp(a, "--limit") == 0 && more) {
			char *end;
			limit = strtol(argv[++i], &end, 10);
			if (*end != 0 || limit < 1 || limit > LS_INDEX_MAX_K) {
				fprintf(stderr, "logstream search: --limit: "
				                "1..%d\n", LS_INDEX_MAX_K);
				return 2;
			}
		} else if ((strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) &&
		    more) {
			int64_t *t = a[2] == 'f' ? &from : &to;
			*(a[2] == 'f' ? &from_s : &to_s) = argv[i + 1];
			if (parse_time(argv[++i], t) != 0) {
				fprintf(stderr, "logstream search: %s: not an "
				                "RFC 3339 time: %s\n", a, argv[i]);
				return 2;
			}
		} else if (strcmp(a, "--json") == 0) {
			json = 1;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "logstream search: unknown option or "
			                "missing value: %s\n", a);
			usage(stderr);
			return 2;
		} else if (query == NULL) {
			query = a;
		} else {
			fprintf(stderr, "logstream search: one QUERY only "
			                "(quote it)\n");
			return 2;
		}
	}
	if (node != NULL) {
		if (stage == NULL || query == NULL || file != NULL) {
			fprintf(stderr, "logstream search: --node needs --stage "
			                "and QUERY (and no --file)\n");
			return 2;
		}
		return remote(node, stage, topology, query, limit, from_s, to_s,
		    text);
	}
	if (file == NULL || query == NULL) {
		usage(stderr);
		return 2;
	}
	ls_format format;
	if (ls_format_from_name(fmt, &format) != 0) {
		fprintf(stderr, "logstream search: unknown format: %s\n", fmt);
		return 2;
	}
	ls_index_query *q;
	char err[160];
	size_t pos;
	int rv = ls_index_query_parse(query, strlen(query), &q, err,
	    sizeof(err), &pos);
	if (rv != 0) {
		fprintf(stderr, "logstream search: query:%zu: %s\n  %s\n  %*s^\n",
		    pos + 1, rv == LS_EPARSE ? err : ls_strerror(rv), query,
		    (int)pos, "");
		return 2;
	}
	FILE *f = fopen(file, "r");
	if (f == NULL) {
		fprintf(stderr, "logstream search: cannot open %s\n", file);
		ls_index_query_free(q);
		return 1;
	}
	ls_parser p;
	ls_parser_init(&p, format);
	ls_index *ix;
	ls_index_hit *hits = NULL;
	uint32_t nh = 0;
	if ((rv = ls_index_new(&ix)) == 0)
		rv = index_file(f, &p, ix);
	fclose(f);
	if (rv == 0 && (hits = malloc((size_t)limit * sizeof(*hits))) == NULL)
		rv = LS_ENOMEM;
	if (rv == 0) {
		ls_index_stats st;
		ls_index_stats_init(&st, q);
		ls_index_stats_add(ix, q, &st);
		rv = ls_index_search(ix, q, &st, from, to, (uint32_t)limit, hits,
		    &nh, NULL);
	}
	for (uint32_t i = 0; rv == 0 && i < nh; i++)
		print_hit(stdout, q, &hits[i], json);
	if (rv != 0)
		fprintf(stderr, "logstream search: %s: %s\n", file,
		    ls_strerror(rv));
	free(hits);
	ls_index_free(ix);
	ls_index_query_free(q);
	return rv == 0 ? 0 : 1;
}
