/*
 * anomaly_cmd.c -- `logstream anomaly` runs the anomaly detector
 * (actors/anomaly.h) online over a NAB-style CSV series and writes NAB's
 * results layout; `logstream nab` runs it over every series of a NAB data
 * directory (or reads a detector's results) and scores it with the NAB
 * method (cmd/nab.h) under the three profiles.
 */
#include "cmd/anomaly_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/nab.h"
#include "cmd/series.h"
#include "runtime/err.h"

static void
usage_anomaly(FILE *f)
{
	fprintf(f,
	    "usage: logstream anomaly --input FILE --output FILE [options]\n"
	    "\n"
	    "Run the anomaly detector online over FILE, a CSV with the header\n"
	    "`timestamp,value` and one point per line (timestamps as\n"
	    "YYYY-MM-DD HH:MM:SS, increasing), and write\n"
	    "`timestamp,value,anomaly_score` (NAB's results layout; scores in\n"
	    "[0,1]).  Each point is scored from the points before it only.\n"
	    "A malformed line stops the run with FILE:LINE and no output.\n"
	    "The alerts raised are counted on stderr.\n"
	    "\n"
	    "options:\n"
	    "  --input FILE       the series ('-' is not accepted)\n"
	    "  --output FILE      the results ('-' for stdout)\n"
	    "  --set NAME=VALUE   override a detector parameter (repeatable;\n"
	    "                     docs/anomaly.md lists them)\n"
	    "  -h, --help         this help\n");
}

static void
usage_nab(FILE *f)
{
	fprintf(f,
	    "usage: logstream nab --data DIR [options]\n"
	    "\n"
	    "Score the anomaly detector on the Numenta Anomaly Benchmark: run\n"
	    "it (one configuration for every series) over each file named in\n"
	    "DIR/labels_windows.json, then print the normalised NAB score of\n"
	    "the standard, reward_low_FP_rate and reward_low_FN_rate profiles\n"
	    "(100 = perfect detector, 0 = null detector), with the threshold\n"
	    "chosen for each and its detections.  DIR is only read.\n"
	    "\n"
	    "options:\n"
	    "  --data DIR         NAB data: labels_windows.json and the CSVs\n"
	    "  --results DIR      score DIR/<file> (timestamp,value,\n"
	    "                     anomaly_score) instead of running the detector\n"
	    "  --set NAME=VALUE   override a detector parameter (repeatable)\n"
	    "  --verbose          one line per file (rows, windows, alerts)\n"
	    "  -h, --help         this help\n");
}

static int
is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* Apply "NAME=VALUE" to *cfg; 0 or -1 with a message on stderr. */
static int
cfg_set(ls_anomaly_cfg *cfg, const char *cmd, const char *arg)
{
	static const struct {
		const char *name;
		size_t off;
		int is_int; /* 1 uint32, 2 int64, 0 double */
	} params[] = {
#define P(f, k) { #f, offsetof(ls_anomaly_cfg, f), k }
		P(warmup, 1), P(lik_short, 1), P(min_duration, 1),
		P(cooldown, 1), P(period_ns, 2), P(zscore_alpha, 0),
		P(ewma_alpha, 0), P(quantile_rate, 0), P(season_alpha, 0),
		P(season_gain, 0), P(cusum_k, 0), P(cusum_h, 0),
		P(cal_alpha, 0), P(lik_alpha, 0), P(alert_on, 0), P(alert_off, 0), P(repeat_weight, 0),
#undef P
	};
	const char *eq = arg != NULL ? strchr(arg, '=') : NULL;
	if (eq == NULL) {
		fprintf(stderr, "logstream %s: --set needs NAME=VALUE\n", cmd);
		return -1;
	}
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if (strlen(params[i].name) != (size_t)(eq - arg) ||
		    strncmp(params[i].name, arg, (size_t)(eq - arg)) != 0)
			continue;
		char *end;
		errno = 0;
		double v = strtod(eq + 1, &end);
		if (end == eq + 1 || *end != '\0' || errno != 0) {
			fprintf(stderr, "logstream %s: bad value in '%s'\n",
			    cmd, arg);
			return -1;
		}
		char *p = (char *)cfg + params[i].off;
		if (params[i].is_int == 1) {
			if (v < 0 || v > 4294967295.0 || v != (uint32_t)v) {
				fprintf(stderr,
				    "logstream %s: '%s' needs a whole number\n",
				    cmd, arg);
				return -1;
			}
			uint32_t u = (uint32_t)v;
			memcpy(p, &u, sizeof(u));
		} else if (params[i].is_int == 2) {
			int64_t s = (int64_t)v;
			memcpy(p, &s, sizeof(s));
		} else {
			memcpy(p, &v, sizeof(v));
		}
		return 0;
	}
	fprintf(stderr, "logstream %s: unknown parameter in '%s'\n", cmd, arg);
	return -1;
}

/* An option of a command: with `value`, it takes the next argument;
 * with `flag`, none. */
typedef struct cmd_opt {
	const char *name;
	const char **value;
	int *flag;
} cmd_opt;

/* Parse argv against opts (ended by a NULL name), plus --set and --help,
 * and check the resulting detector configuration.  Returns -1 when the
 * command is to run, else its exit code (0 after --help, 2 on misuse). */
static int
parse_args(const char *cmd, int argc, char **argv, const cmd_opt *opts,
    ls_anomaly_cfg *cfg, void (*usage)(FILE *))
{
	char err[512];

	ls_anomaly_cfg_default(cfg);
	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		const cmd_opt *o = opts;
		while (o->name != NULL && strcmp(o->name, argv[i]) != 0)
			o++;
		if (is_help(argv[i])) {
			usage(stdout);
			return 0;
		} else if (o->name != NULL && o->flag != NULL) {
			*o->flag = 1;
		} else if (o->name != NULL && v != NULL) {
			*o->value = v;
			i++;
		} else if (strcmp(argv[i], "--set") == 0) {
			if (cfg_set(cfg, cmd, v) != 0)
				return 2;
			i++;
		} else {
			fprintf(stderr, "logstream %s: unexpected '%s'%s\n", cmd,
			    argv[i], v == NULL ? " (or its value missing)" : "");
			usage(stderr);
			return 2;
		}
	}
	if (ls_anomaly_init(&(ls_anomaly){ 0 }, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "logstream %s: %s\n", cmd, err);
		return 2;
	}
	return -1;
}

int
ls_cmd_anomaly(int argc, char **argv)
{
	const char *in = NULL, *outp = NULL;
	ls_anomaly_cfg cfg;
	char err[512];
	const cmd_opt opts[] = { { "--input", &in, NULL },
		{ "--output", &outp, NULL }, { NULL, NULL, NULL } };

	int rc = parse_args("anomaly", argc, argv, opts, &cfg, usage_anomaly);
	if (rc >= 0)
		return rc;
	if (in == NULL || outp == NULL) {
		fprintf(stderr, "logstream anomaly: --input and --output are "
		                "required\n");
		usage_anomaly(stderr);
		return 2;
	}
	ls_series s;
	if (ls_series_read(in, 0, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "logstream anomaly: %s\n", err);
		return 1;
	}
	size_t alerts = 0;
	if (ls_series_detect(&s, &cfg, &alerts, err, sizeof(err)) != 0) {
		fprintf(stderr, "logstream anomaly: %s\n", err);
		ls_series_free(&s);
		return 1;
	}
	FILE *f = strcmp(outp, "-") == 0 ? stdout : fopen(outp, "wb");
	if (f == NULL) {
		fprintf(stderr, "logstream anomaly: %s: %s\n", outp,
		    strerror(errno));
		ls_series_free(&s);
		return 1;
	}
	rc = ls_series_write(&s, f);
	if (f != stdout && fclose(f) != 0)
		rc = LS_EIO;
	if (rc != 0)
		fprintf(stderr, "logstream anomaly: %s: write error\n", outp);
	else
		fprintf(stderr, "logstream anomaly: %zu points, %zu alerts\n",
		    s.n, alerts);
	ls_series_free(&s);
	return rc != 0 ? 1 : 0;
}

/* Load the series of file k of the labels: run the detector over the data,
 * or read a results file whose rows must be the data's.  On failure *s
 * holds nothing (the caller frees only what loaded). */
static int
nab_load(const char *data, const char *results, const char *rel,
    const ls_anomaly_cfg *cfg, ls_series *s, size_t *alerts)
{
	char path[4096], err[512];
	snprintf(path, sizeof(path), "%s/%s", data, rel);
	if (ls_series_read(path, 0, s, err, sizeof(err)) != 0) {
		fprintf(stderr, "logstream nab: %s\n", err);
		return -1;
	}
	*alerts = 0;
	if (results == NULL) {
		if (ls_series_detect(s, cfg, alerts, err, sizeof(err)) == 0)
			return 0;
		fprintf(stderr, "logstream nab: %s\n", err);
		ls_series_free(s);
		return -1;
	}
	ls_series r;
	snprintf(path, sizeof(path), "%s/%s", results, rel);
	if (ls_series_read(path, 1, &r, err, sizeof(err)) != 0) {
		fprintf(stderr, "logstream nab: %s\n", err);
		ls_series_free(s);
		return -1;
	}
	if (r.n != s->n || memcmp(r.ts, s->ts, s->n * sizeof(int64_t)) != 0) {
		fprintf(stderr, "logstream nab: %s: rows differ from the data "
		                "file's\n", path);
		ls_series_free(&r);
		ls_series_free(s);
		return -1;
	}
	s->score = r.score;
	r.score = NULL;
	ls_series_free(&r);
	return 0;
}

int
ls_cmd_nab(int argc, char **argv)
{
	const char *data = NULL, *results = NULL;
	int verbose = 0;
	ls_anomaly_cfg cfg;
	char err[512];
	const cmd_opt opts[] = { { "--data", &data, NULL },
		{ "--results", &results, NULL }, { "--verbose", NULL, &verbose },
		{ NULL, NULL, NULL } };

	int rc = parse_args("nab", argc, argv, opts, &cfg, usage_nab);
	if (rc >= 0)
		return rc;
	if (data == NULL) {
		fprintf(stderr, "logstream nab: --data is required\n");
		usage_nab(stderr);
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/labels_windows.json", data);
	size_t len = 0;
	char *buf = NULL;
	if (ls_series_read_file(path, &buf, &len, err, sizeof(err)) != 0) {
		fprintf(stderr, "logstream nab: %s\n", err);
		return 1;
	}
	ls_nab_labels labels;
	rc = ls_nab_labels_parse(path, buf, len, &labels, err, sizeof(err));
	free(buf);
	if (rc != 0) {
		fprintf(stderr, "logstream nab: %s\n", err);
		return 1;
	}
	size_t nf = labels.nfiles, nwin = 0, rows = 0, alerts_all = 0;
	ls_series *series = calloc(nf ? nf : 1, sizeof(*series));
	ls_nab_file *files = calloc(nf ? nf : 1, sizeof(*files));
	int status = series != NULL && files != NULL ? 0 : 1;
	size_t loaded = 0;
	for (size_t k = 0; k < nf && status == 0; k++, loaded++) {
		size_t alerts;
		if (nab_load(data, results, labels.path[k], &cfg, &series[k],
		        &alerts) != 0) {
			status = 1;
			break;
		}
		files[k] = (ls_nab_file){ labels.path[k], series[k].n,
			series[k].ts, series[k].score, labels.nwin[k],
			labels.win[k] };
		nwin += labels.nwin[k];
		rows += series[k].n;
		alerts_all += alerts;
		if (verbose)
			printf("%-58s %6zu rows %2zu windows %3zu alerts\n",
			    labels.path[k], series[k].n, labels.nwin[k], alerts);
	}
	if (status == 0) {
		printf("NAB: %zu files, %zu rows, %zu windows, %s\n", nf, rows,
		    nwin, results != NULL ? results : "this detector");
		printf("%-20s %7s %10s %9s %9s %4s %4s %4s\n", "profile",
		    "score", "threshold", "raw", "null", "TP", "FP", "FN");
	}
	for (int p = 0; p < LS_NAB_NPROFILES && status == 0; p++) {
		ls_nab_result r;
		rc = ls_nab_score(files, nf, &ls_nab_profiles[p], &r);
		if (rc != 0) {
			fprintf(stderr, "logstream nab: scoring: %s (a window "
			        "holds no row of its file?)\n", ls_strerror(rc));
			status = 1;
			break;
		}
		printf("%-20s %7.2f %10.6f %9.3f %9.3f %4zu %4zu %4zu\n",
		    ls_nab_profiles[p].name, r.score, r.threshold, r.raw,
		    r.null_raw, r.tp, r.fp, r.fn);
	}
	if (status == 0 && results == NULL)
		printf("alerts raised: %zu\n", alerts_all);
	for (size_t k = 0; k < loaded; k++)
		ls_series_free(&series[k]);
	free(series);
	free(files);
	ls_nab_labels_free(&labels);
	return status;
}
