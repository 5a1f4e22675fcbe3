/*
 * job_cmd.c -- `logstream job run`: one MapReduce job over log files on
 * this machine's cores, with a progress line (actors/mr.h).
 */
#include "cmd/job_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/mr.h"
#include "runtime/err.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: logstream job run JOB [options] FILE...\n"
	    "\n"
	    "Run a MapReduce job over the log lines of the FILEs: each file is\n"
	    "split into byte ranges on line boundaries, mapped and combined on\n"
	    "every core, shuffled by key to reducers and merged; the result is\n"
	    "the same whatever the number of workers (docs/mapreduce.md).\n"
	    "\n"
	    "JOB is one of:\n"
	    "  count         records per key (--by)\n"
	    "  top           the -n keys with the most records (--by)\n"
	    "  words         occurrences of each word of the message (-n: the\n"
	    "                most frequent only)\n"
	    "  percentiles   p50, p90, p99 and max of a numeric --field per key\n"
	    "                (1 %% relative error)\n"
	    "  distinct      distinct values of --field per key\n"
	    "\n"
	    "options:\n"
	    "  --by F[,F...]         key fields: service, host, level, message\n"
	    "                        or any attribute (default: none, one row)\n"
	    "  --field F             the value field of percentiles / distinct\n"
	    "  -n N                  top / words: how many rows (default 20 for\n"
	    "                        top, all for words)\n"
	    "  --format FMT          line format (auto, json, logfmt, ...;\n"
	    "                        default auto)\n"
	    "  --output PATH         write the result there (default stdout)\n"
	    "  --csv                 CSV with a header instead of JSON lines\n"
	    "  --workers N           threads (default: one per core)\n"
	    "  --split-size BYTES    bytes per map task (default 32 MiB)\n"
	    "  --quiet               no progress line\n"
	    "  -h, --help            this help\n");
}

typedef struct prog {
	int tty;
	int quiet;
	struct timespec t0;
	double last_print;
} prog;

static double
elapsed(const prog *p)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - p->t0.tv_sec) +
	    (double)(t.tv_nsec - p->t0.tv_nsec) / 1e9;
}

static void
on_progress(void *arg, const ls_mr_stats *st)
{
	prog *p = arg;
	if (p->quiet)
		return;
	double s = elapsed(p);
	/* a terminal gets a live line, a log one line every 2 s */
	if (!p->tty && s - p->last_print < 2.0)
		return;
	p->last_print = s;
	double pct = st->total_bytes ? 100.0 * (double)st->bytes /
	        (double)st->total_bytes : 100.0;
	fprintf(stderr, "%sjob: %5.1f%%  %llu/%llu splits  %.1f MB  %.2f s%s",
	    p->tty ? "\r" : "", pct, (unsigned long long)st->splits_done,
	    (unsigned long long)st->splits, (double)st->bytes / 1e6, s,
	    p->tty ? "" : "\n");
	fflush(stderr);
}

static int
split_list(char *s, const char **out, size_t max, size_t *n)
{
	*n = 0;
	for (char *tok = strtok(s, ","); tok != NULL; tok = strtok(NULL, ",")) {
		if (*n == max)
			return -1;
		out[(*n)++] = tok;
	}
	return 0;
}

int
ls_cmd_job(int argc, char **argv)
{
	if (argc < 1 || strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "--help") == 0) {
		usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	if (strcmp(argv[0], "run") != 0) {
		fprintf(stderr, "logstream job: unknown command '%s' (run)\n",
		    argv[0]);
		return 2;
	}
	ls_mr_job job;
	memset(&job, 0, sizeof(job));
	job.format = LS_FMT_AUTO;
	const char *output = NULL;
	int csv = 0, quiet = 0, have_n = 0, have_kind = 0;
	const char **files = calloc((size_t)argc, sizeof(*files));
	if (files == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			free(files);
			return 0;
		} else if (strcmp(a, "--csv") == 0) {
			csv = 1;
		} else if (strcmp(a, "--quiet") == 0) {
			quiet = 1;
		} else if (a[0] == '-' && a[1] != '\0' && v == NULL) {
			fprintf(stderr, "logstream job: %s needs a value\n", a);
			free(files);
			return 2;
		} else if (strcmp(a, "--by") == 0) {
			char *copy = argv[++i];
			if (split_list(copy, job.by, LS_MR_MAX_BY, &job.nby) != 0) {
				fprintf(stderr, "logstream job: at most %d --by "
				    "fields\n", LS_MR_MAX_BY);
				free(files);
				return 2;
			}
		} else if (strcmp(a, "--field") == 0) {
			job.field = argv[++i];
		} else if (strcmp(a, "-n") == 0 || strcmp(a, "--workers") == 0 ||
		    strcmp(a, "--split-size") == 0) {
			char *end;
			long long x = strtoll(v, &end, 10);
			if (*end != '\0' || x < (strcmp(a, "-n") == 0 ? 0 : 1) ||
			    x > (1LL << 40)) {
				fprintf(stderr, "logstream job: bad %s '%s'\n", a, v);
				free(files);
				return 2;
			}
			if (strcmp(a, "-n") == 0) {
				job.n = (size_t)x;
				have_n = 1;
			} else if (strcmp(a, "--workers") == 0) {
				job.workers = x > 256 ? 256 : (unsigned)x;
			} else {
				job.split_bytes = (uint64_t)x;
			}
			i++;
		} else if (strcmp(a, "--format") == 0) {
			if (ls_format_from_name(v, &job.format) != 0) {
				fprintf(stderr, "logstream job: unknown format '%s'\n",
				    v);
				free(files);
				return 2;
			}
			i++;
		} else if (strcmp(a, "--output") == 0) {
			output = argv[++i];
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "logstream job: unknown option %s\n", a);
			free(files);
			return 2;
		} else if (!have_kind) {
			if (ls_mr_kind_from_name(a, &job.kind) != 0) {
				fprintf(stderr, "logstream job: unknown job '%s' "
				    "(count, top, words, percentiles, "
				    "distinct)\n", a);
				free(files);
				return 2;
			}
			have_kind = 1;
		} else {
			files[job.nfiles++] = a;
		}
	}
	if (!have_kind || job.nfiles == 0) {
		usage(stderr);
		free(files);
		return 2;
	}
	if (job.kind == LS_MR_TOP && !have_n)
		job.n = 20;
	job.files = files;
	FILE *out = stdout;
	if (output != NULL && (out = fopen(output, "w")) == NULL) {
		fprintf(stderr, "logstream job: cannot write %s\n", output);
		free(files);
		return 1;
	}
	prog p = { isatty(STDERR_FILENO), quiet, { 0, 0 }, -10 };
	clock_gettime(CLOCK_MONOTONIC, &p.t0);
	char err[512] = "";
	ls_mr_stats st;
	int rv = ls_mr_run(&job, out, csv ? LS_MR_CSV : LS_MR_JSONL,
	    on_progress, &p, &st, err, sizeof(err));
	if (out != stdout && fclose(out) != 0 && rv == 0) {
		snprintf(err, sizeof(err), "cannot write %s", output);
		rv = LS_EIO;
	}
	free(files);
	if (rv != 0) {
		fprintf(stderr, "%slogstream job: %s\n", p.tty && !quiet ? "\n"
		                                                        : "", err);
		return 1;
	}
	double s = elapsed(&p);
	if (!quiet)
		fprintf(stderr,
		    "%sjob: done: %llu lines (%llu skipped), %llu keys, %.2f s, "
		    "%.0f lines/s\n",
		    p.tty ? "\n" : "", (unsigned long long)st.lines,
		    (unsigned long long)st.skipped, (unsigned long long)st.keys, s,
		    s > 0 ? (double)st.lines / s : 0.0);
	return 0;
}
