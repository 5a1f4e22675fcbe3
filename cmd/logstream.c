/*
 * logstream.c -- the `logstream` command.
 *
 *   logstream run FILE [--duration S] [--data-dir DIR] [--workers N] [--quiet]
 *   logstream validate FILE [--plan]
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actors/pipeline.h"
#include "runtime/actor.h"
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
	    "options:\n"
	    "  --duration SECONDS  stop after this long (0 = no limit; default 0)\n"
	    "  --data-dir DIR      node data directory (created; holds the run\n"
	    "                      summary last-run.json)\n"
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

static int
mkdirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				return -1;
			buf[i] = c;
		}
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
		if (st[i].results && strcmp(st[i].kind, "window") == 0)
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
	int quiet = 0;

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
	if (data_dir != NULL && mkdirs(data_dir) != 0) {
		fprintf(stderr, "logstream run: cannot create %s: %s\n",
		    data_dir, strerror(errno));
		return 1;
	}

	ls_topology *t = NULL;
	ls_plan *p = NULL;
	if (load(file, &t, &p) != 0)
		return 1;

	ls_runtime_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.workers = workers >= 0
	    ? (unsigned)workers
	    : (unsigned)ls_topology_setting_int(t, "workers", 0);
	ls_runtime *rt;
	int rv = ls_runtime_create(&ro, &rt);
	if (rv != 0) {
		fprintf(stderr, "logstream run: runtime: %s\n", ls_strerror(rv));
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
	rv = ls_pipeline_start(rt, p, NULL, &pl, err, sizeof(err));
	if (rv != 0) {
		fprintf(stderr, "logstream run: %s\n",
		    err[0] ? err : ls_strerror(rv));
		ls_runtime_destroy(rt);
		ls_plan_free(p);
		ls_topology_free(t);
		return 1;
	}

	int64_t t0 = ls_clock_ns();
	int64_t next_progress = t0 + (int64_t)(progress * 1e9);
	int drained = 0;
	while (!ls_pipeline_done(pl)) {
		ls_pipeline_wait(pl, 100);
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
	ls_pipeline_free(pl);
	ls_plan_free(p);
	ls_topology_free(t);
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return 2;
	}
	const char *cmd = argv[1];
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
	fprintf(stderr, "logstream: unknown command '%s'\n", cmd);
	usage_main(stderr);
	return 2;
}
