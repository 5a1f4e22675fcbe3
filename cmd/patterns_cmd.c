/*
 * patterns_cmd.c -- `logstream patterns`: run the template miner
 * (actors/patterns.h) over a log file and print its templates, most
 * frequent first; or, with --loghub, score it on Loghub's samples with
 * the grouping accuracy of the Loghub benchmark (docs/patterns.md).
 */
#include "cmd/patterns_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/series.h"
#include "runtime/arena.h"
#include "runtime/err.h"
#include "runtime/hash.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: logstream patterns FILE [options]\n"
	    "       logstream patterns --loghub DIR [options]\n"
	    "\n"
	    "Learn the templates of the log lines in FILE online, as the\n"
	    "`patterns` stage does, and print them with their counts, most\n"
	    "frequent first: each line is parsed (--format, default auto) and\n"
	    "its message mined; variable parts show as <*>.\n"
	    "\n"
	    "With --loghub DIR, score the miner on every Loghub sample in DIR\n"
	    "(DIR/X/X_2k.log against the EventId column of\n"
	    "DIR/X/X_2k.log_structured.csv): the grouping accuracy per system\n"
	    "and on average.  DIR is only read.\n"
	    "\n"
	    "options:\n"
	    "  --format FMT         line format (topology.md, parse): auto,\n"
	    "                       json, logfmt, syslog, log4j, bgl, ...\n"
	    "  --top N              print only the N most frequent templates\n"
	    "  --similarity X       threshold to join a template, (0,1]\n"
	    "                       (default 0.7)\n"
	    "  --depth N            parse tree depth, >= 2 (default 4)\n"
	    "  --max-templates N    templates kept at most (default 10000)\n"
	    "  -h, --help           this help\n");
}

/* ---- grouping accuracy ---- */

typedef struct pair {
	uint64_t a, b;
} pair;

static int
cmp_pair(const void *x, const void *y)
{
	const pair *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return p->b < q->b ? -1 : p->b > q->b;
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Lines whose true group is t (sorted[] holds every line's). */
static size_t
group_size(const uint64_t *sorted, size_t n, uint64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sorted[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t k = lo;
	while (k < n && sorted[k] == t)
		k++;
	return k - lo;
}

double
ls_grouping_accuracy(const uint64_t *pred, const uint64_t *truth, size_t n)
{
	if (n == 0)
		return 1.0;
	pair *pp = malloc(n * sizeof(*pp));
	uint64_t *ts = malloc(n * sizeof(*ts));
	if (pp == NULL || ts == NULL) {
		free(pp);
		free(ts);
		return -1.0;
	}
	for (size_t i = 0; i < n; i++) {
		pp[i] = (pair){ pred[i], truth[i] };
		ts[i] = truth[i];
	}
	qsort(pp, n, sizeof(*pp), cmp_pair);
	qsort(ts, n, sizeof(*ts), cmp_u64);
	size_t correct = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && pp[j].a == pp[i].a)
			j++;
		/* Predicted group [i, j): correct when it holds one true group
		 * and the whole of it. */
		if (pp[i].b == pp[j - 1].b &&
		    group_size(ts, n, pp[i].b) == j - i)
			correct += j - i;
		i = j;
	}
	free(pp);
	free(ts);
	return (double)correct / (double)n;
}

/* ---- the EventId column of a Loghub CSV ---- */

/* The value of column `want` of every record after the header, hashed,
 * into a malloc'd *out.  RFC 4180: quoted fields may hold commas, doubled
 * quotes and line breaks. */
static int
csv_column(const char *buf, size_t len, const char *want, uint64_t **out,
    size_t *nout, char *err, size_t errlen)
{
	size_t cap = 1024, n = 0, i = 0, rec = 0, col = 0;
	long wcol = -1;
	uint64_t *v = malloc(cap * sizeof(*v));
	char *field = malloc(len + 1);
	if (v == NULL || field == NULL) {
		free(v);
		free(field);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (i < len) {
		/* One field into field[0..fl). */
		size_t fl = 0;
		if (buf[i] == '"') {
			for (i++; i < len; i++) {
				if (buf[i] == '"' && i + 1 < len &&
				    buf[i + 1] == '"')
					field[fl++] = buf[i++];
				else if (buf[i] == '"')
					break;
				else
					field[fl++] = buf[i];
			}
			i++;
		}
		while (i < len && buf[i] != ',' && buf[i] != '\n' &&
		    buf[i] != '\r')
			field[fl++] = buf[i++];
		field[fl] = '\0';
		if (rec == 0 && strcmp(field, want) == 0)
			wcol = (long)col;
		else if (rec > 0 && (long)col == wcol) {
			if (n == cap) {
				uint64_t *nv = realloc(v, 2 * cap * sizeof(*v));
				if (nv == NULL) {
					snprintf(err, errlen, "out of memory");
					goto fail;
				}
				v = nv;
				cap *= 2;
			}
			v[n++] = ls_hash64(field, fl, 0);
		}
		col++;
		if (i < len && buf[i] == ',') {
			i++;
			continue;
		}
		if (i < len && buf[i] == '\r')
			i++;
		if (i < len && buf[i] == '\n')
			i++;
		if (rec == 0 && wcol < 0) {
			snprintf(err, errlen, "no %s column", want);
			goto fail;
		}
		if (rec > 0 && (long)col <= wcol) {
			snprintf(err, errlen, "record %zu has no %s", rec,
			    want);
			goto fail;
		}
		rec++;
		col = 0;
	}
	free(field);
	*out = v;
	*nout = n;
	return 0;
fail:
	free(field);
	free(v);
	return -1;
}

/* ---- mining a file ---- */

typedef struct mined {
	ls_patterns *p;
	uint64_t *ids; /* per line, 0 when it was skipped */
	size_t lines, skipped;
} mined;

static int
mine_file(const char *path, ls_format fmt, const ls_patterns_cfg *cfg,
    mined *m, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	memset(m, 0, sizeof(*m));
	if (ls_series_read_file(path, &buf, &len, err, errlen) != 0)
		return -1;
	int rv = ls_patterns_new(&m->p, cfg);
	if (rv != 0) {
		snprintf(err, errlen, "%s", ls_strerror(rv));
		free(buf);
		return -1;
	}
	size_t cap = 1024;
	m->ids = malloc(cap * sizeof(*m->ids));
	ls_parser parser;
	ls_parser_init(&parser, fmt);
	ls_arena arena;
	ls_arena_init(&arena, 0);
	for (size_t i = 0; i < len && rv == 0 && m->ids != NULL;) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - (buf + i)) : len - i;
		const char *line = buf + i;
		i += ll + (nl != NULL);
		if (m->lines == cap) {
			uint64_t *n = realloc(m->ids, 2 * cap * sizeof(*n));
			if (n == NULL)
				break;
			m->ids = n;
			cap *= 2;
		}
		ls_event ev;
		ls_patterns_match pm;
		ls_arena_reset(&arena);
		uint64_t id = 0;
		if (ls_parser_parse_at(&parser, line, ll, LS_TIME_UNKNOWN, &ev,
		        &arena, NULL) == 0) {
			rv = ls_patterns_add(m->p, ev.message.ptr,
			    ev.message.len, &pm);
			if (rv == 0)
				id = pm.id;
			else if (rv == LS_EINVAL)
				rv = 0; /* a message of blanks only */
		}
		m->skipped += id == 0;
		m->ids[m->lines++] = id;
	}
	ls_arena_fini(&arena);
	free(buf);
	if (m->ids == NULL || rv != 0) {
		snprintf(err, errlen, "%s: %s", path,
		    ls_strerror(rv != 0 ? rv : LS_ENOMEM));
		ls_patterns_free(m->p);
		free(m->ids);
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}

static void
mined_free(mined *m)
{
	ls_patterns_free(m->p);
	free(m->ids);
}

int
ls_loghub_score_files(const char *log, const char *csv, ls_format fmt,
    const ls_patterns_cfg *cfg, ls_loghub_score *out, char *err,
    size_t errlen)
{
	mined m;
	char *buf = NULL, why[256];
	size_t len = 0, n = 0;
	uint64_t *truth = NULL;

	if (mine_file(log, fmt, cfg, &m, err, errlen) != 0)
		return -1;
	int rc = ls_series_read_file(csv, &buf, &len, err, errlen);
	if (rc == 0 && csv_column(buf, len, "EventId", &truth, &n, why,
	                   sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", csv, why);
		rc = -1;
	}
	free(buf);
	if (rc == 0 && n != m.lines) {
		snprintf(err, errlen, "%s has %zu rows, %s %zu lines", csv, n,
		    log, m.lines);
		rc = -1;
	}
	if (rc == 0) {
		out->lines = n;
		out->templates = ls_patterns_size(m.p);
		out->accuracy = ls_grouping_accuracy(m.ids, truth, n);
		/* Sorting the truth only now: the accuracy needs line order. */
		qsort(truth, n, sizeof(*truth), cmp_u64);
		out->events = 0;
		for (size_t i = 0; i < n; i++)
			out->events += i == 0 || truth[i] != truth[i - 1];
		if (out->accuracy < 0) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
		}
	}
	free(truth);
	mined_free(&m);
	return rc;
}

/* ---- the command ---- */

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmd_loghub(const char *dir, const ls_patterns_cfg *cfg)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "logstream patterns: %s: %s\n", dir,
		    strerror(errno));
		return 1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s_2k.log", dir, e->d_name,
		    e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (nn == NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "logstream patterns: %s holds no Loghub sample "
		                "(X/X_2k.log)\n", dir);
		free(names);
		return 1;
	}
	qsort(names, n, sizeof(*names), cmp_name);
	printf("%-12s %6s %6s %9s %9s\n", "system", "lines", "events",
	    "templates", "accuracy");
	double sum = 0;
	int status = 0;
	for (size_t k = 0; k < n; k++) {
		char log[4096], csv[4200], err[512];
		ls_loghub_score s;
		snprintf(log, sizeof(log), "%s/%s/%s_2k.log", dir, names[k],
		    names[k]);
		snprintf(csv, sizeof(csv), "%s_structured.csv", log);
		if (ls_loghub_score_files(log, csv, LS_FMT_AUTO, cfg, &s, err,
		        sizeof(err)) != 0) {
			fprintf(stderr, "logstream patterns: %s\n", err);
			status = 1;
			continue;
		}
		printf("%-12s %6zu %6zu %9zu %9.4f\n", names[k], s.lines,
		    s.events, s.templates, s.accuracy);
		sum += s.accuracy;
	}
	if (status == 0)
		printf("%-12s %6s %6s %9s %9.4f\n", "average", "", "", "",
		    sum / (double)n);
	for (size_t k = 0; k < n; k++)
		free(names[k]);
	free(names);
	return status;
}

typedef struct list {
	ls_patterns_info *t;
	size_t n;
} list;

static void
collect(void *arg, const ls_patterns_info *t)
{
	list *l = arg;
	l->t[l->n++] = *t;
}

static int
cmp_count(const void *a, const void *b)
{
	const ls_patterns_info *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
cmd_file(const char *path, ls_format fmt, const ls_patterns_cfg *cfg,
    long top)
{
	mined m;
	char err[512];
	if (mine_file(path, fmt, cfg, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "logstream patterns: %s\n", err);
		return 1;
	}
	uint32_t n = ls_patterns_size(m.p);
	list l = { malloc((n ? n : 1) * sizeof(*l.t)), 0 };
	if (l.t == NULL) {
		fprintf(stderr, "logstream patterns: out of memory\n");
		mined_free(&m);
		return 1;
	}
	ls_patterns_each(m.p, collect, &l);
	qsort(l.t, l.n, sizeof(*l.t), cmp_count);
	printf("%10s  %-16s  %s\n", "count", "id", "template");
	for (size_t i = 0; i < l.n && (top < 0 || (long)i < top); i++)
		printf("%10llu  %016llx  %.*s\n",
		    (unsigned long long)l.t[i].count,
		    (unsigned long long)l.t[i].id, (int)l.t[i].tmpl_len,
		    l.t[i].tmpl);
	fprintf(stderr, "logstream patterns: %zu lines, %u templates", m.lines,
	    n);
	if (m.skipped > 0)
		fprintf(stderr, ", %zu lines without a message skipped",
		    m.skipped);
	fprintf(stderr, "\n");
	free(l.t);
	mined_free(&m);
	return 0;
}

/* A number in [lo, hi] from arg, or -1 with a message. */
static int
number(const char *opt, const char *arg, double lo, double hi, int whole,
    double *out)
{
	char *end;
	errno = 0;
	double v = arg != NULL ? strtod(arg, &end) : 0;
	if (arg == NULL || end == arg || *end != '\0' || errno != 0 ||
	    !(v >= lo && v <= hi) || (whole && v != (double)(long long)v)) {
		fprintf(stderr, "logstream patterns: %s needs a%s number "
		    "in [%g, %g]\n", opt, whole ? " whole" : "", lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int
ls_cmd_patterns(int argc, char **argv)
{
	const char *file = NULL, *loghub = NULL;
	ls_format fmt = LS_FMT_AUTO;
	ls_patterns_cfg cfg;
	long top = -1;
	ls_patterns_cfg_default(&cfg);

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		double x;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--format") == 0 && v != NULL) {
			if (ls_format_from_name(v, &fmt) != 0) {
				fprintf(stderr, "logstream patterns: unknown "
				                "format '%s'\n", v);
				return 2;
			}
			i++;
		} else if (strcmp(a, "--loghub") == 0 && v != NULL) {
			loghub = v;
			i++;
		} else if (strcmp(a, "--top") == 0) {
			if (number(a, v, 0, 1e9, 1, &x) != 0)
				return 2;
			top = (long)x;
			i++;
		} else if (strcmp(a, "--similarity") == 0) {
			if (number(a, v, 1e-9, 1, 0, &x) != 0)
				return 2;
			cfg.similarity = x;
			i++;
		} else if (strcmp(a, "--depth") == 0) {
			if (number(a, v, 2, 16, 1, &x) != 0)
				return 2;
			cfg.depth = (uint32_t)x;
			i++;
		} else if (strcmp(a, "--max-templates") == 0) {
			if (number(a, v, 1, 1e6, 1, &x) != 0)
				return 2;
			cfg.max_templates = (uint32_t)x;
			i++;
		} else if (a[0] != '-' && file == NULL) {
			file = a;
		} else {
			fprintf(stderr,
			    "logstream patterns: unexpected '%s'%s\n", a,
			    v == NULL && a[0] == '-' ? " (or its value missing)"
			                             : "");
			usage(stderr);
			return 2;
		}
	}
	if ((file == NULL) == (loghub == NULL)) {
		fprintf(stderr,
		    "logstream patterns: give FILE or --loghub DIR\n");
		usage(stderr);
		return 2;
	}
	return loghub != NULL ? cmd_loghub(loghub, &cfg)
	                      : cmd_file(file, fmt, &cfg, top);
}
