/*
 * logstream.c -- the `logstream` command.
 *
 *   logstream run FILE [--duration S] [--data-dir DIR [--fresh]] [--workers N]
 *                 [--quiet]
 *   logstream validate FILE [--plan]
 *   logstream node --id NAME --listen URL --http ADDR --data-dir DIR ...
 *   logstream deploy FILE [--node ADDR]
 *   logstream undeploy NAME [--node ADDR]
 *   logstream status [--node ADDR] [--json]
 *   logstream query [--node ADDR] windows|sessions STAGE [--key K]...
 *   logstream anomaly --input FILE --output FILE [--set NAME=VALUE]...
 *   logstream nab --data DIR [--results DIR] [--verbose]
 *   logstream patterns FILE [--format FMT] [--top N] | --loghub DIR
 *   logstream certs init|issue --dir DIR ...
 *   logstream search --file LOG [--format FMT] [--limit N] QUERY
 *   logstream job run JOB [--by F,...] [--field F] [-n N] FILE...
 *   logstream top [--node ADDR] [--interval S] [--count N]
 *   logstream version
 *
 * Exit codes: 0 success, 1 failure (invalid topology, runtime error),
 * 2 usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/pipeline.h"
#include "actors/resume.h"
#include "cmd/anomaly_cmd.h"
#include "cmd/certs_cmd.h"
#include "cmd/job_cmd.h"
#include "cmd/top_cmd.h"
#include "cmd/patterns_cmd.h"
#include "cmd/search_cmd.h"
#include "cmd/query_cmd.h"
#include "cluster/dataplane.h"
#include "cluster/http.h"
#include "cluster/ingest_http.h"
#include "cluster/node.h"
#include "runtime/actor.h"
#include "runtime/fs.h"
#include "runtime/log.h"
#include "topology/plan.h"
#include "topology/topology.h"

#define LS_VERSION "0.1.0"

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = interrupted + 1;
}

static void
usage_main(FILE *f)
{
	fprintf(f,
	    "usage: logstream <command> [options]\n"
	    "\n"
	    "commands:\n"
	    "  run FILE        run a topology on an embedded single node\n"
	    "  validate FILE   check a topology file; print its plan with --plan\n"
	    "  node            run a cluster node process\n"
	    "  deploy FILE     deploy a topology to a cluster (through any node)\n"
	    "  undeploy NAME   remove a deployed topology\n"
	    "  status          show the cluster: nodes, leader, epoch, partitions\n"
	    "  top             live events per second per stage, whole cluster\n"
	    "  leave           make a node leave the cluster gracefully\n"
	    "  query           ask a window or session stage's state (any node)\n"
	    "  anomaly         score a timestamp,value CSV series for anomalies\n"
	    "  nab             score the anomaly detector on the NAB corpus\n"
	    "  patterns FILE   print the log templates of FILE with counts\n"
	    "  certs           a development cluster CA and node certificates\n"
	    "  search          full-text search of a log file (BM25)\n"
	    "  job run JOB     a MapReduce job (count, top, words, percentiles,\n"
	    "                  distinct) over log files, on every core\n"
	    "  version         print the version\n"
	    "\n"
	    "Run `logstream <command> --help` for a command's options.\n"
	    "Environment: LS_LOG_LEVEL=debug|info|warn|error, "
	    "LS_LOG_FORMAT=json|logfmt.\n");
}

static void
usage_run(FILE *f)
{
	fprintf(f,
	    "usage: logstream run FILE [options]\n"
	    "\n"
	    "Run the topology in FILE in this process: every stage partition\n"
	    "is an actor on the local runtime.  Results go to the topology's\n"
	    "sinks; progress and a summary go to stderr.  Ends when every\n"
	    "source has ended, after --duration, or on Ctrl-C (windows still\n"
	    "open are then closed and emitted).\n"
	    "\n"
	    "With --data-dir the run takes a checkpoint every\n"
	    "settings.checkpoint_interval (default 1s) into DIR/state, and\n"
	    "jsonl sinks write only checkpointed output.  If the process dies\n"
	    "(kill -9, a crash), running the same FILE with the same DIR\n"
	    "resumes from the last checkpoint: the jsonl files end up exactly\n"
	    "as without the crash (stdout may repeat what it printed since that\n"
	    "checkpoint).  A run that finished is not resumed: the next one\n"
	    "starts over.  A stdin source turns checkpoints off.\n"
	    "\n"
	    "options:\n"
	    "  --duration SECONDS  stop after this long (0 = no limit; default 0)\n"
	    "  --data-dir DIR      data directory (created): checkpoints in\n"
	    "                      DIR/state, the summary in DIR/last-run.json\n"
	    "  --fresh             discard the state in DIR (of an unfinished run\n"
	    "                      or another topology) and start from the\n"
	    "                      beginning\n"
	    "  --workers N         scheduler threads (default: the topology's\n"
	    "                      settings.workers, else one per core)\n"
	    "  --progress SECONDS  progress line interval on stderr (default 5,\n"
	    "                      0 = none)\n"
	    "  --quiet             no progress lines and no summary\n"
	    "  -h, --help          this help\n");
}

static void
usage_validate(FILE *f)
{
	fprintf(f,
	    "usage: logstream validate FILE [--plan]\n"
	    "\n"
	    "Check FILE.  Valid: print \"FILE: ok: <summary>\" and exit 0.\n"
	    "Invalid: print every problem as FILE:LINE:COL: message and exit 1.\n"
	    "\n"
	    "options:\n"
	    "  --plan      also print the physical plan (actors and routing)\n"
	    "  -h, --help  this help\n");
}

static int
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* Load and plan FILE; on failure print diagnostics and return non-zero. */
static int
load(const char *path, ls_topology **t, ls_plan **p)
{
	ls_diag d;
	int rv;

	ls_diag_init(&d);
	rv = ls_topology_load(path, t, &d);
	if (rv == 0)
		rv = ls_plan_build(*t, p, &d);
	if (rv != 0) {
		if (d.n > 0)
			ls_diag_print(&d, stderr);
		else
			fprintf(stderr, "%s: %s\n", path, ls_strerror(rv));
		ls_topology_free(*t);
		*t = NULL;
	}
	ls_diag_free(&d);
	return rv;
}

static int
cmd_validate(int argc, char **argv)
{
	const char *file = NULL;
	int plan = 0;

	for (int i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_validate(stdout);
			return 0;
		} else if (strcmp(argv[i], "--plan") == 0) {
			plan = 1;
		} else if (argv[i][0] == '-' || file != NULL) {
			fprintf(stderr, "logstream validate: unexpected '%s'\n",
			    argv[i]);
			usage_validate(stderr);
			return 2;
		} else {
			file = argv[i];
		}
	}
	if (file == NULL) {
		usage_validate(stderr);
		return 2;
	}
	ls_topology *t = NULL;
	ls_plan *p = NULL;
	if (load(file, &t, &p) != 0)
		return 1;
	char line[512];
	ls_plan_summary(p, line, sizeof(line));
	printf("%s: ok: %s\n", file, line);
	if (plan)
		ls_plan_describe(p, stdout);
	ls_plan_free(p);
	ls_topology_free(t);
	return 0;
}

static int
parse_num(const char *opt, const char *v, double *out)
{
	char *end;
	if (v == NULL) {
		fprintf(stderr, "logstream run: %s needs a value\n", opt);
		return -1;
	}
	errno = 0;
	*out = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || *out < 0) {
		fprintf(stderr, "logstream run: bad value for %s: '%s'\n", opt,
		    v);
		return -1;
	}
	return 0;
}

static void
print_stats(ls_pipeline *pl, FILE *f, const char *prefix, double secs)
{
	ls_pipeline_node_stats st[256];
	size_t n = ls_pipeline_stats(pl, st, 256);
	if (n > 256)
		n = 256;
	fprintf(f, "%s", prefix);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s %s=%lld", i ? " |" : "", st[i].name,
		    (long long)st[i].in);
		if (secs > 0 && i == 0)
			fprintf(f, " (%.0f/s)", (double)st[i].in / secs);
		if (st[i].dead)
			fprintf(f, " dead=%lld", (long long)st[i].dead);
		if (st[i].late)
			fprintf(f, " late=%lld", (long long)st[i].late);
		if (st[i].results && st[i].emits_results)
			fprintf(f, " results=%lld", (long long)st[i].results);
	}
	fprintf(f, "\n");
}

static void
write_summary(ls_pipeline *pl, const char *dir, const char *file,
    double secs)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/last-run.json", dir);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return;
	ls_pipeline_node_stats st[256];
	size_t n = ls_pipeline_stats(pl, st, 256);
	fprintf(f, "{\"topology\":\"%s\",\"seconds\":%.3f,\"nodes\":[", file,
	    secs);
	for (size_t i = 0; i < n && i < 256; i++)
		fprintf(f,
		    "%s{\"name\":\"%s\",\"kind\":\"%s\",\"in\":%lld,"
		    "\"out\":%lld,\"dead\":%lld,\"late\":%lld,"
		    "\"results\":%lld}",
		    i ? "," : "", st[i].name, st[i].kind, (long long)st[i].in,
		    (long long)st[i].out, (long long)st[i].dead,
		    (long long)st[i].late, (long long)st[i].results);
	fprintf(f, "]}\n");
	fclose(f);
}

static int
cmd_run(int argc, char **argv)
{
	const char *file = NULL, *data_dir = NULL;
	double duration = 0, workers = -1, progress = 5;
	int quiet = 0, fresh = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (is_help(a)) {
			usage_run(stdout);
			return 0;
		} else if (strcmp(a, "--duration") == 0) {
			if (parse_num(a, v, &duration) != 0)
				return 2;
			i++;
		} else if (strcmp(a, "--workers") == 0) {
			if (parse_num(a, v, &workers) != 0)
				return 2;
			i++;
		} else if (strcmp(a, "--progress") == 0) {
			if (parse_num(a, v, &progress) != 0)
				return 2;
			i++;
		} else if (strcmp(a, "--data-dir") == 0) {
			if (v == NULL) {
				fprintf(stderr,
				    "logstream run: --data-dir needs a value\n");
				return 2;
			}
			data_dir = v;
			i++;
		} else if (strcmp(a, "--quiet") == 0) {
			quiet = 1;
		} else if (strcmp(a, "--fresh") == 0) {
			fresh = 1;
		} else if (a[0] == '-' || file != NULL) {
			fprintf(stderr, "logstream run: unexpected '%s'\n", a);
			usage_run(stderr);
			return 2;
		} else {
			file = a;
		}
	}
	if (file == NULL) {
		usage_run(stderr);
		return 2;
	}
	if (fresh && data_dir == NULL) {
		fprintf(stderr, "logstream run: --fresh needs --data-dir\n");
		return 2;
	}
	if (data_dir != NULL && ls_mkdir_p(data_dir) != 0) {
		fprintf(stderr, "logstream run: cannot create %s: %s\n",
		    data_dir, strerror(errno));
		return 1;
	}

	ls_topology *t = NULL;
	ls_plan *p = NULL;
	if (load(file, &t, &p) != 0)
		return 1;

	/* checkpoints in DIR/state: resume an unfinished run of FILE */
	ls_resume *rs = NULL;
	ls_pipeline_opts po;
	memset(&po, 0, sizeof(po));
	if (data_dir != NULL) {
		char note[1024];
		int e = ls_resume_open(data_dir, t, p, fresh, &rs, note,
		    sizeof(note));
		if (e == LS_ENOTSUP) {
			fprintf(stderr,
			    "logstream run: %s: checkpoints are off, this run "
			    "cannot be resumed\n",
			    note);
		} else if (e != 0) {
			fprintf(stderr, "logstream run: %s\n",
			    note[0] ? note : ls_strerror(e));
			ls_plan_free(p);
			ls_topology_free(t);
			return 1;
		} else {
			if (note[0] != '\0')
				fprintf(stderr, "logstream run: %s\n", note);
			ls_resume_opts(rs, &po);
			if (ls_resume_from(rs) != 0) {
				ls_resume_describe(rs, note, sizeof(note));
				fprintf(stderr, "logstream run: resuming from %s\n",
				    note);
			}
		}
	}

	ls_runtime_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.workers = workers >= 0
	    ? (unsigned)workers
	    : (unsigned)ls_topology_setting_int(t, "workers", 0);
	ls_runtime *rt;
	int rv = ls_runtime_create(&ro, &rt);
	if (rv != 0) {
		fprintf(stderr, "logstream run: runtime: %s\n", ls_strerror(rv));
		ls_resume_close(rs);
		ls_plan_free(p);
		ls_topology_free(t);
		return 1;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char line[512];
	ls_plan_summary(p, line, sizeof(line));
	if (!quiet)
		fprintf(stderr, "logstream %s: running %s (%u workers)%s\n",
		    LS_VERSION, line, ls_runtime_workers(rt),
		    duration > 0 ? "" : "; Ctrl-C to stop");

	ls_pipeline *pl;
	char err[256] = "";
	rv = ls_pipeline_start(rt, p, rs != NULL ? &po : NULL, &pl, err,
	    sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "logstream run: %s\n",
		    err[0] ? err : ls_strerror(rv));
		if (rs != NULL && ls_resume_from(rs) != 0)
			fprintf(stderr,
			    "logstream run: the saved state in %s/state could "
			    "not be restored (see the log above); --fresh "
			    "discards it\n",
			    data_dir);
		ls_runtime_destroy(rt);
		ls_resume_close(rs);
		ls_plan_free(p);
		ls_topology_free(t);
		return 1;
	}

	if (rs != NULL)
		ls_resume_started(rs, pl);
	int64_t t0 = ls_clock_ns();
	int64_t next_progress = t0 + (int64_t)(progress * 1e9);
	int drained = 0;
	while (!ls_pipeline_done(pl)) {
		/* with checkpoints, completed ones are committed from here */
		ls_pipeline_wait(pl, rs != NULL ? 20 : 100);
		if (rs != NULL)
			ls_resume_poll(rs);
		int64_t now = ls_clock_ns();
		if (!drained &&
		    (interrupted ||
		        (duration > 0 && now - t0 >= (int64_t)(duration * 1e9)))) {
			ls_pipeline_drain(pl);
			drained = 1;
		}
		if (!quiet && progress > 0 && now >= next_progress) {
			print_stats(pl, stderr, "progress:",
			    (double)(now - t0) / 1e9);
			next_progress = now + (int64_t)(progress * 1e9);
		}
		if (drained && interrupted > 1)
			break;
	}
	double secs = (double)(ls_clock_ns() - t0) / 1e9;
	if (!quiet)
		print_stats(pl, stderr, "summary:", secs);
	if (data_dir != NULL)
		write_summary(pl, data_dir, file, secs);
	int ok = ls_pipeline_done(pl);
	ls_runtime_destroy(rt);
	if (rs != NULL && ok && ls_resume_finish(rs) != 0)
		fprintf(stderr, "logstream run: cannot mark the run finished in "
		                "%s/state\n",
		    data_dir);
	ls_resume_close(rs);
	ls_pipeline_free(pl);
	ls_plan_free(p);
	ls_topology_free(t);
	return ok ? 0 : 1;
}

/* ---- cluster commands ---- */

#define DEFAULT_NODE "127.0.0.1:8101"

static void
usage_node(FILE *f)
{
	fprintf(f,
	    "usage: logstream node --id NAME --listen tcp://HOST:PORT --http "
	    "HOST:PORT\n"
	    "                      --data-dir DIR [--join URL,URL...] "
	    "[--voter]\n"
	    "                      [--raft-listen HOST:PORT] [--replicas N] "
	    "[--config FILE]\n"
	    "                      [--tls-ca FILE --tls-cert FILE --tls-key "
	    "FILE]\n"
	    "                      [--token-file FILE]\n"

	    "\n"
	    "Run one cluster node until SIGINT/SIGTERM (peers then treat it as\n"
	    "failed; `logstream leave` leaves gracefully).  Voters (--voter,\n"
	    "3 or 5 of them) run the Raft coordinator; every voter is started\n"
	    "with the voters' --listen URLs as --join seeds (the same list on\n"
	    "every node; a node skips its own entry and repeated ones), and\n"
	    "together they elect a leader that keeps the replicated cluster map\n"
	    "(nodes, deployed topologies, partition owners and standbys).  A\n"
	    "node without --voter joins a running cluster through any member\n"
	    "given with --join, receives the map, and takes over a share of\n"
	    "the partitions.\n"
	    "\n"
	    "options:\n"
	    "  --id NAME        node name (placement id), e.g. n1\n"
	    "  --listen URL     transport URL tcp://HOST:PORT, or\n"
	    "                   tls+tcp://HOST:PORT with the --tls options\n"
	    "  --http ADDR      HTTP API address HOST:PORT\n"
	    "  --data-dir DIR   identity and Raft state; a restart from the\n"
	    "                   same directory rejoins with the same identity\n"
	    "  --join URLS      comma-separated --listen URLs: the voters\n"
	    "                   (voters) or any members (joining nodes); a\n"
	    "                   member whose Raft address is not the default\n"
	    "                   is given as URL?raft=HOST:PORT\n"
	    "  --voter          take part in coordinator elections (the\n"
	    "                   initial voters only)\n"
	    "  --raft-listen ADDR\n"
	    "                   Raft (coordinator) address HOST:PORT (default:\n"
	    "                   the --listen host and port + 100; --raft is\n"
	    "                   the same option)\n"
	    "  --replicas N     copies of each partition (owner + standbys; "
	    "default 2)\n"
	    "  --suspect-ms MS  silence before a node is suspect (default 500)\n"
	    "  --dead-ms MS     silence before a node is declared dead and its\n"
	    "                   partitions move (default 1000)\n"
	    "  --workers N      actor threads per topology (default: per core)\n"
	    "  --replication-chunk BYTES\n"
	    "                   checkpoint states larger than this go to the\n"
	    "                   standbys in slices of it (default 8388608,\n"
	    "                   1024 to 15728640)\n"
	    "  --tls-ca FILE    cluster CA certificate (`logstream certs init`)\n"
	    "  --tls-cert FILE  this node's certificate (`logstream certs\n"
	    "                   issue`); with --tls-key and --tls-ca: mutual\n"
	    "                   TLS between nodes (--listen and --join are\n"
	    "                   tls+tcp://) and HTTPS for the API\n"
	    "                   (docs/security.md)\n"
	    "  --tls-key FILE   the certificate's private key\n"
	    "  --token-file FILE\n"
	    "                   bearer tokens, one `SCOPE TOKEN` a line\n"
	    "                   (scopes read, write, admin, internal); then\n"
	    "                   every API request but /healthz needs one\n"
	    "                   (docs/security.md); the same file on every\n"
	    "                   node\n"

	    "  --config FILE    read options from FILE, one `name = value` per\n"
	    "                   line (names as the options, without --);\n"
	    "                   options on the command line win\n"
	    "  -h, --help       this help\n");
}

static void
usage_client_common(FILE *f)
{
	fprintf(f,
	    "\nconnection options (every client command):\n"
	    "  --node HOST:PORT the node's --http address (or LOGSTREAM_NODE)\n"
	    "  --ca FILE        speak HTTPS, verifying the node's certificate\n"
	    "                   against this CA (or LOGSTREAM_CA); for nodes\n"
	    "                   started with --tls-*\n"
	    "  --token TOKEN    send `Authorization: Bearer TOKEN` (or\n"
	    "                   LOGSTREAM_TOKEN); for nodes with --token-file\n"
	    "                   (status needs the read scope, deploy and\n"
	    "                   undeploy write, leave admin)\n");
}

static void
usage_client_head(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "deploy") == 0)
		fprintf(f, "usage: logstream deploy FILE [--node HOST:PORT]\n\n"
		           "Validate FILE, then deploy it through the node's "
		           "HTTP API\n(forwarded to the leader).  Default node "
		           "%s.\n",
		    DEFAULT_NODE);
	else if (strcmp(cmd, "undeploy") == 0)
		fprintf(f, "usage: logstream undeploy NAME [--node HOST:PORT]\n\n"
		           "Remove the deployed topology NAME.  Default node "
		           "%s.\n",
		    DEFAULT_NODE);
	else if (strcmp(cmd, "leave") == 0)
		fprintf(f, "usage: logstream leave [--node HOST:PORT]\n\n"
		           "Make the node leave the cluster gracefully: its "
		           "partitions move to\nthe other nodes (only its "
		           "own move), and once they have a checkpoint\nthere "
		           "the node process exits.  Waits for that (at most "
		           "2 minutes).\nDefault node %s.\n",
		    DEFAULT_NODE);
	else
		fprintf(f, "usage: logstream status [--node HOST:PORT] [--json]\n\n"
		           "Show the nodes (alive/suspect/dead), the leader, the "
		           "map epoch\nand the partitions and standbys each node "
		           "holds.  Default node %s.\n",
		    DEFAULT_NODE);
}

static void
usage_client(FILE *f, const char *cmd)
{
	usage_client_head(f, cmd);
	usage_client_common(f);
}

typedef struct node_opts {
#define NODE_NOPTS 16
	char *v[NODE_NOPTS]; /* id listen http data-dir join raft-listen
	                        replicas voter suspect-ms dead-ms workers
	                        replication-chunk tls-ca tls-cert tls-key
	                        token-file */
} node_opts;

static const char *const node_keys[] = { "id", "listen", "http", "data-dir",
	"join", "raft-listen", "replicas", "voter", "suspect-ms", "dead-ms",
	"workers", "replication-chunk", "tls-ca", "tls-cert", "tls-key",
	"token-file", NULL };

static int
node_key(const char *k)
{
	if (strcmp(k, "raft") == 0) /* the older name of --raft-listen */
		k = "raft-listen";
	for (int i = 0; node_keys[i] != NULL; i++)
		if (strcmp(k, node_keys[i]) == 0)
			return i;
	return -1;
}

/* Option i of o as a whole number in [min, max] into *out (left alone
 * when the option is not set); -1 with a message naming it when bad. */
static int
node_num(const node_opts *o, int i, long long min, long long max,
    long long *out)
{
	const char *v = o->v[i];
	char *end;
	if (v == NULL)
		return 0;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x < min || x > max) {
		fprintf(stderr,
		    "logstream node: bad value for --%s: '%s' (want a whole "
		    "number from %lld to %lld)\n",
		    node_keys[i], v, min, max);
		return -1;
	}
	*out = x;
	return 0;
}

static char *
trim(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	char *e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	                    e[-1] == '\r'))
		*--e = '\0';
	return p;
}

static int
read_node_config(const char *path, node_opts *o)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int ln = 0;
	if (f == NULL) {
		fprintf(stderr, "logstream node: cannot read %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		ln++;
		char *p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		char *eq = strpbrk(p, "=:");
		if (eq == NULL) {
			fprintf(stderr, "%s:%d:1: expected `name = value`\n", path,
			    ln);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		char *k = trim(p), *v = trim(eq + 1);
		int i = node_key(k);
		if (i < 0) {
			fprintf(stderr, "%s:%d:1: unknown option '%s'\n", path,
			    ln, k);
			fclose(f);
			return -1;
		}
		if (o->v[i] == NULL)
			o->v[i] = strdup(v);
	}
	fclose(f);
	return 0;
}

static volatile sig_atomic_t node_stop;

static void
on_node_signal(int sig)
{
	(void)sig;
	node_stop = 1;
}

static int
cmd_node(int argc, char **argv)
{
	node_opts o;
	const char *config = NULL;
	int rv = 2;

	memset(&o, 0, sizeof(o));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (is_help(a)) {
			usage_node(stdout);
			rv = 0;
			goto out;
		}
		if (strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr,
				    "logstream node: --config needs a value\n");
				goto out;
			}
			config = argv[++i];
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || node_key(a + 2) < 0) {
			fprintf(stderr, "logstream node: unexpected '%s'\n", a);
			usage_node(stderr);
			goto out;
		}
		int k = node_key(a + 2);
		if (strcmp(a + 2, "voter") == 0) {
			free(o.v[k]);
			o.v[k] = strdup("true");
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "logstream node: %s needs a value\n", a);
			goto out;
		}
		free(o.v[k]);
		o.v[k] = strdup(argv[++i]);
	}
	if (config != NULL && read_node_config(config, &o) != 0)
		goto out;

	ls_node_config nc;
	memset(&nc, 0, sizeof(nc));
	nc.name = o.v[0];
	nc.listen = o.v[1];
	nc.http = o.v[2];
	nc.data_dir = o.v[3];
	nc.raft = o.v[5];
	nc.tls_ca = o.v[12];
	nc.tls_cert = o.v[13];
	nc.tls_key = o.v[14];
	nc.token_file = o.v[15];
	nc.voter = o.v[7] != NULL && (strcmp(o.v[7], "true") == 0 ||
	                                 strcmp(o.v[7], "yes") == 0 ||
	                                 strcmp(o.v[7], "1") == 0);
	long long replicas = 0, suspect = 0, dead = 0, workers = 0, chunk = 0;
	if (node_num(&o, 6, 1, 16, &replicas) != 0 ||
	    node_num(&o, 8, 1, 3600000, &suspect) != 0 ||
	    node_num(&o, 9, 1, 3600000, &dead) != 0 ||
	    node_num(&o, 10, 0, 1024, &workers) != 0 ||
	    node_num(&o, 11, 1024, (long long)LS_DATAPLANE_REPL_CHUNK_MAX,
	        &chunk) != 0)
		goto out;
	nc.replication_chunk = (size_t)chunk;
	nc.replicas = (uint32_t)replicas;
	nc.suspect_ms = suspect;
	nc.dead_ms = dead;
	nc.workers = (unsigned)workers;
	if (o.v[7] != NULL && !nc.voter && strcmp(o.v[7], "false") != 0 &&
	    strcmp(o.v[7], "no") != 0 && strcmp(o.v[7], "0") != 0) {
		fprintf(stderr, "logstream node: bad value for voter: '%s' (want "
		                "true or false)\n",
		    o.v[7]);
		goto out;
	}
	const char *seeds[64];
	char *joins = o.v[4] != NULL ? strdup(o.v[4]) : NULL;
	if (joins != NULL) {
		char *save = NULL;
		for (char *t = strtok_r(joins, ",", &save); t != NULL;
		     t = strtok_r(NULL, ",", &save)) {
			if (*trim(t) == '\0')
				continue;
			if (nc.njoin == 64) {
				fprintf(stderr, "logstream node: --join has more "
				                "than 64 entries\n");
				free(joins);
				goto out;
			}
			seeds[nc.njoin++] = trim(t);
		}
		nc.join = seeds;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_node_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ls_node *node;
	char err[512] = "";
	int e = ls_node_start(&nc, &node, err, sizeof(err));
	if (e != 0) {
		fprintf(stderr, "logstream node: %s\n",
		    err[0] ? err : ls_strerror(e));
		free(joins);
		rv = e == LS_EINVAL ? 2 : 1;
		goto out;
	}
	while (!node_stop && !ls_node_left(node)) {
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	ls_log(LS_LOG_INFO, "node", "stopping node=%s", nc.name);
	ls_node_stop(node);
	free(joins);
	rv = 0;
out:
	for (int i = 0; i < NODE_NOPTS; i++)
		free(o.v[i]);
	return rv;
}

static int client_https; /* --ca given: the client speaks HTTPS */

/* Send a request to a node; print the body; 0 on HTTP 2xx. */
static int
client_call(const char *node, const char *method, const char *path,
    const char *body, size_t len, int print_body)
{
	int status = 0;
	char *resp = NULL;
	size_t rlen = 0;
	int rv = ls_http_request(node, method, path, body, len, &status, &resp,
	    &rlen, 20000);
	if (rv != 0) {
		/* a plaintext request to an HTTPS node, or a certificate that
		 * does not verify, shows as a broken exchange */
		const char *hint = rv != LS_EIO && rv != LS_EPARSE ? ""
		    : client_https
		        ? " (is it running?  is its certificate signed by the "
		          "--ca and does it name this host?)"
		        : " (is it running?  a node with --tls-* speaks HTTPS: "
		          "give --ca)";
		fprintf(stderr, "logstream: cannot reach node %s: %s%s\n", node,
		    ls_strerror(rv), hint);
		free(resp);
		return 1;
	}
	FILE *out = status >= 200 && status < 300 ? stdout : stderr;
	if (print_body || out == stderr)
		fwrite(resp, 1, rlen, out);
	free(resp);
	return status >= 200 && status < 300 ? 0 : 1;
}

/* logstream leave: ask, then follow the node until it is gone. */
static int
client_leave(const char *node)
{
	if (client_call(node, "POST", "/v1/leave", "", 0, 0) != 0)
		return 1;
	fprintf(stderr, "logstream leave: %s is handing its partitions off\n",
	    node);
	for (int i = 0; i < 1200; i++) {
		int status = 0;
		char *resp = NULL;
		size_t rlen = 0;
		int rv = ls_http_request(node, "GET", "/v1/status", NULL, 0,
		    &status, &resp, &rlen, 5000);
		int left = rv == 0 && resp != NULL &&
		    strstr(resp, "\"left\":true") != NULL;
		free(resp);
		if (rv != 0 || left) {
			fprintf(stderr, "logstream leave: %s has left\n", node);
			return 0;
		}
		if (i % 10 == 9)
			fprintf(stderr, "logstream leave: waiting (%d s)\n",
			    (i + 1) / 10);
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "logstream leave: %s has not left after 2 minutes\n",
	    node);
	return 1;
}

static int
cmd_client(const char *cmd, int argc, char **argv)
{
	const char *node = getenv("LOGSTREAM_NODE");
	const char *ca = getenv("LOGSTREAM_CA");
	const char *token = getenv("LOGSTREAM_TOKEN");
	const char *arg = NULL;
	int json = 0;

	if (node == NULL)
		node = DEFAULT_NODE;
	for (int i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			usage_client(stdout, cmd);
			return 0;
		} else if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
			node = argv[++i];
		} else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) {
			ca = argv[++i];
		} else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
			token = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0 &&
		    strcmp(cmd, "status") == 0) {
			json = 1;
		} else if (argv[i][0] != '-' && arg == NULL &&
		    strcmp(cmd, "status") != 0 && strcmp(cmd, "leave") != 0) {
			arg = argv[i];
		} else {
			fprintf(stderr, "logstream %s: unexpected '%s'\n", cmd,
			    argv[i]);
			usage_client(stderr, cmd);
			return 2;
		}
	}
	if (ca != NULL && *ca == '\0')
		ca = NULL;
	if (token != NULL && *token == '\0')
		token = NULL;
	char err[600] = "";
	client_https = ca != NULL;
	int crv = ls_http_client_config(ca, token, err, sizeof(err));
	if (crv != 0) {
		fprintf(stderr, "logstream %s: %s\n", cmd,
		    crv == LS_EINVAL ? "--token: blanks or control characters "
		                       "in the token"
		                     : err[0] ? err : ls_strerror(crv));
		return 2;
	}
	if (strcmp(cmd, "status") == 0)
		return client_call(node, "GET",
		    json ? "/v1/status" : "/v1/status?format=text", NULL, 0, 1);
	if (strcmp(cmd, "leave") == 0)
		return client_leave(node);
	if (arg == NULL) {
		usage_client(stderr, cmd);
		return 2;
	}
	if (strcmp(cmd, "undeploy") == 0) {
		char path[512];
		snprintf(path, sizeof(path), "/v1/topologies/%s", arg);
		return client_call(node, "DELETE", path, NULL, 0, 1);
	}
	/* deploy: validate here first, so errors name FILE:LINE:COL */
	ls_topology *t = NULL;
	ls_plan *p = NULL;
	if (load(arg, &t, &p) != 0)
		return 1;
	ls_plan_free(p);
	ls_topology_free(t);
	FILE *f = fopen(arg, "rb");
	if (f == NULL) {
		fprintf(stderr, "logstream deploy: %s: %s\n", arg,
		    strerror(errno));
		return 1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return 1;
			}
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	int rv = client_call(node, "POST", "/v1/topologies", buf, len, 1);
	free(buf);
	return rv;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	/* `http` sources serve POST /v1/logs through the HTTP module */
	ls_ingest_set_server(&ls_ingest_http);
	if (is_help(cmd) || strcmp(cmd, "help") == 0) {
		usage_main(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (argc > 2 && is_help(argv[2])) {
			printf("usage: logstream version\n\nPrint the version.\n");
			return 0;
		}
		printf("logstream %s\n", LS_VERSION);
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(cmd, "validate") == 0)
		return cmd_validate(argc - 2, argv + 2);
	if (strcmp(cmd, "node") == 0)
		return cmd_node(argc - 2, argv + 2);
	if (strcmp(cmd, "anomaly") == 0)
		return ls_cmd_anomaly(argc - 2, argv + 2);
	if (strcmp(cmd, "nab") == 0)
		return ls_cmd_nab(argc - 2, argv + 2);
	if (strcmp(cmd, "patterns") == 0)
		return ls_cmd_patterns(argc - 2, argv + 2);
	if (strcmp(cmd, "job") == 0)
		return ls_cmd_job(argc - 2, argv + 2);
	if (strcmp(cmd, "top") == 0)
		return ls_cmd_top(argc - 2, argv + 2);
	if (strcmp(cmd, "certs") == 0)
		return ls_cmd_certs(argc - 2, argv + 2);
	if (strcmp(cmd, "search") == 0)
		return ls_cmd_search(argc - 2, argv + 2);
	if (strcmp(cmd, "query") == 0)
		return ls_cmd_query(argc - 2, argv + 2, DEFAULT_NODE);
	if (strcmp(cmd, "deploy") == 0 || strcmp(cmd, "undeploy") == 0 ||
	    strcmp(cmd, "status") == 0 || strcmp(cmd, "leave") == 0)
		return cmd_client(cmd, argc - 2, argv + 2);
	fprintf(stderr, "logstream: unknown command '%s'\n", cmd);
	usage_main(stderr);
	return 2;
}
