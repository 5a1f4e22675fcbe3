/*
 * top_cmd.c -- `logstream top`: every interval, read the cluster's nodes
 * from one node's /v1/status, every alive node's /metrics, and print the
 * events per second in and out of each stage summed over the nodes (and
 * how many nodes run it), busiest first.
 */
#include "cmd/top_cmd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/http.h"

#define MAX_STAGES 256
#define MAX_NODES 64

typedef struct stage {
	char name[128];
	double in, out;         /* counters summed over nodes, this round */
	double pin, pout;       /* previous round */
	unsigned nodes;
	int seen_before;
} stage;

static volatile sig_atomic_t stop;

static void
on_sigint(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: logstream top [--node HOST:PORT] [--interval SECONDS] "
	    "[--count N]\n"
	    "                     [--ca FILE] [--token TOKEN]\n"
	    "\n"
	    "Live events per second in and out of every stage, summed over all\n"
	    "alive nodes of the cluster (the nodes come from --node's status,\n"
	    "each node's counters from its /metrics), busiest first.  Refreshes\n"
	    "every --interval (default 1 s) until Ctrl-C, or --count times.\n"
	    "--node defaults to $LOGSTREAM_NODE, else 127.0.0.1:8101; --ca\n"
	    "(or $LOGSTREAM_CA) speaks HTTPS to nodes with TLS, --token (or\n"
	    "$LOGSTREAM_TOKEN) is a read token for nodes with a token file\n"
	    "(docs/security.md).\n");
}

static stage *
stage_of(stage *st, size_t *n, const char *name, size_t len)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen(st[i].name) == len && memcmp(st[i].name, name, len) == 0)
			return &st[i];
	if (*n == MAX_STAGES || len >= sizeof(st[0].name))
		return NULL;
	stage *s = &st[(*n)++];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, name, len);
	return s;
}

/* Add node's logstream_events_{in,out}_total{stage="..."} counters. */
static void
add_metrics(const char *text, stage *st, size_t *n)
{
	const char *p = text;
	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
		int in = strncmp(p, "logstream_events_in_total{", 26) == 0;
		int out = strncmp(p, "logstream_events_out_total{", 27) == 0;
		const char *lab = in || out ? memchr(p, '{', len) : NULL;
		const char *sv = lab != NULL ? strstr(lab, "stage=\"") : NULL;
		if (sv != NULL && sv < p + len) {
			sv += 7;
			const char *se = memchr(sv, '"', (size_t)(p + len - sv));
			const char *sp = memchr(p, ' ', len);
			const char *last = sp;
			while (last != NULL && last < p + len) {
				sp = last;
				last = memchr(last + 1, ' ', (size_t)(p + len - last - 1));
			}
			stage *s = se != NULL && sp != NULL
			    ? stage_of(st, n, sv, (size_t)(se - sv)) : NULL;
			if (s != NULL) {
				double v = strtod(sp + 1, NULL);
				if (in) {
					s->in += v;
					s->nodes += v > 0; /* nodes that ran it */
				} else {
					s->out += v;
				}
			}
		}
		p = eol != NULL ? eol + 1 : NULL;
	}
}

/* The "http" addresses of alive nodes in a /v1/status answer. */
static size_t
alive_nodes(const char *status, char nodes[][128], size_t max)
{
	size_t n = 0;
	const char *p = status;
	while (n < max && (p = strstr(p, "\"http\":\"")) != NULL) {
		p += 8;
		const char *e = strchr(p, '"');
		const char *state = strstr(p, "\"state\":\"");
		if (e == NULL || state == NULL)
			break;
		if (strncmp(state + 9, "alive", 5) == 0 && (size_t)(e - p) < 128) {
			memcpy(nodes[n], p, (size_t)(e - p));
			nodes[n][e - p] = '\0';
			n++;
		}
		p = e;
	}
	return n;
}

static int
cmp_stage(const void *a, const void *b)
{
	const stage *x = a, *y = b;
	double rx = x->in - x->pin, ry = y->in - y->pin;
	if (rx != ry)
		return rx > ry ? -1 : 1;
	return strcmp(x->name, y->name);
}

int
ls_cmd_top(int argc, char **argv)
{
	const char *node = getenv("LOGSTREAM_NODE");
	const char *ca = getenv("LOGSTREAM_CA");
	const char *token = getenv("LOGSTREAM_TOKEN");
	double interval = 1.0;
	long count = 0;
	if (node == NULL)
		node = "127.0.0.1:8101";
	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--node") == 0 && v != NULL) {
			node = v;
			i++;
		} else if (strcmp(argv[i], "--ca") == 0 && v != NULL) {
			ca = v;
			i++;
		} else if (strcmp(argv[i], "--token") == 0 && v != NULL) {
			token = v;
			i++;
		} else if (strcmp(argv[i], "--interval") == 0 && v != NULL &&
		    (interval = strtod(v, NULL)) >= 0.1 && interval <= 3600) {
			i++;
		} else if (strcmp(argv[i], "--count") == 0 && v != NULL &&
		    (count = strtol(v, NULL, 10)) >= 1) {
			i++;
		} else {
			fprintf(stderr, "logstream top: unexpected '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	char err[512];
	if (ls_http_client_config(ca != NULL && *ca ? ca : NULL,
	        token != NULL && *token ? token : NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "logstream top: %s\n", err);
		return 1;
	}
	signal(SIGINT, on_sigint);
	int tty = isatty(STDOUT_FILENO);
	stage st[MAX_STAGES];
	size_t nst = 0;
	struct timespec prev = { 0, 0 };
	for (long round = 0; !stop && (count == 0 || round <= count); round++) {
		int status = 0;
		char *body = NULL;
		size_t len = 0;
		if (ls_http_request(node, "GET", "/v1/status", NULL, 0, &status,
		        &body, &len, 5000) != 0 || status != 200) {
			fprintf(stderr, "logstream top: cannot reach %s\n", node);
			free(body);
			return 1;
		}
		char nodes[MAX_NODES][128];
		size_t nn = alive_nodes(body, nodes, MAX_NODES);
		free(body);
		for (size_t i = 0; i < nst; i++) {
			st[i].pin = st[i].in;
			st[i].pout = st[i].out;
			st[i].seen_before = 1;
			st[i].in = st[i].out = 0;
			st[i].nodes = 0;
		}
		size_t reached = 0;
		for (size_t i = 0; i < nn; i++) {
			if (ls_http_request(nodes[i], "GET", "/metrics", NULL, 0,
			        &status, &body, &len, 5000) == 0 && status == 200) {
				add_metrics(body, st, &nst);
				reached++;
			}
			free(body);
			body = NULL;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double dt = (double)(now.tv_sec - prev.tv_sec) +
		    (double)(now.tv_nsec - prev.tv_nsec) / 1e9;
		prev = now;
		if (round > 0) {
			qsort(st, nst, sizeof(st[0]), cmp_stage);
			if (tty)
				fputs("\033[H\033[2J", stdout);
			printf("%zu of %zu nodes  every %.1f s\n", reached, nn,
			    interval);
			printf("%-24s %12s %12s %6s %14s\n", "stage", "in/s", "out/s",
			    "nodes", "events in");
			for (size_t i = 0; i < nst; i++) {
				/* a counter that went down: a node restarted */
				double rin = st[i].seen_before && st[i].in >= st[i].pin
				    ? (st[i].in - st[i].pin) / dt : 0;
				double rout = st[i].seen_before &&
				        st[i].out >= st[i].pout
				    ? (st[i].out - st[i].pout) / dt : 0;
				printf("%-24s %12.0f %12.0f %6u %14.0f\n", st[i].name,
				    rin, rout, st[i].nodes, st[i].in);
			}
			if (!tty)
				putchar('\n');
			fflush(stdout);
		}
		if (count != 0 && round == count)
			break;
		struct timespec d = { (time_t)interval,
			(long)((interval - (double)(time_t)interval) * 1e9) };
		nanosleep(&d, NULL);
	}
	return 0;
}
