/*
 * topology.c -- load a YAML topology file into a validated model.
 *
 * libyaml's document API builds the node tree (its marks give line and
 * column); this file walks that tree against the kind table (kinds.c),
 * collecting every problem instead of stopping at the first, then resolves
 * names, looks for cycles and orders the nodes topologically.  Problems are
 * kept with their position and emitted sorted by position, so a user reads
 * them in file order.  Everything a topology owns lives in one arena, freed
 * at once by ls_topology_free().
 */
#include "topology/topology.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "runtime/arena.h"
#include "runtime/err.h"
#include "runtime/hash.h"
#include "topology/topology_int.h"

/* Largest topology file ls_topology_load() reads. */
#define MAX_FILE_BYTES (16u << 20)
/* Problems remembered while loading (ls_diag keeps LS_DIAG_MAX of them). */
#define MAX_PROBLEMS 1000
/* Longest value quoted back in a message. */
#define CLIP_MAX 40

struct loader;

struct ls_topology {
	ls_arena arena;
	const char *file;
	const char *name;
	ls_topo_node *nodes; /* topological order */
	size_t n;
	ls_topo_param *settings;
	size_t nsettings;
	ls_topo_format *formats; /* declared under formats:, file order */
	size_t nformats;
	uint32_t *slots; /* name hash: node index + 1, 0 = empty */
	size_t nslots;   /* power of two */
};

/* The declared format called name, or NULL. */
static const ls_topo_format *
find_format(const ls_topology *t, const char *name)
{
	for (size_t i = 0; i < t->nformats; i++) {
		if (strcmp(t->formats[i].name, name) == 0)
			return &t->formats[i];
	}
	return NULL;
}

/* ---- diagnostics ------------------------------------------------------ */

void
ls_diag_init(ls_diag *d)
{
	d->msgs = NULL;
	d->n = 0;
}

void
ls_diag_free(ls_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	ls_diag_init(d);
}

void
ls_diag_print(const ls_diag *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(out, "%s\n", d->msgs[i]);
}

#if defined(__GNUC__)
#define PRINTF_LIKE(i, j) __attribute__((format(printf, i, j)))
#else
#define PRINTF_LIKE(i, j)
#endif

static char *vformat(const char *fmt, va_list ap) PRINTF_LIKE(1, 0);
static void verr(struct loader *ld, int line, int col, const char *fmt,
    va_list ap) PRINTF_LIKE(4, 0);

static char *
vformat(const char *fmt, va_list ap)
{
	va_list ap2;
	char *s;
	int len;

	va_copy(ap2, ap);
	len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0)
		return NULL;
	s = malloc((size_t)len + 1);
	if (s != NULL)
		vsnprintf(s, (size_t)len + 1, fmt, ap);
	return s;
}

static int
diag_push(ls_diag *d, char *msg)
{
	char **m;

	if (msg == NULL)
		return LS_ENOMEM;
	m = realloc(d->msgs, (d->n + 1) * sizeof(*m));
	if (m == NULL) {
		free(msg);
		return LS_ENOMEM;
	}
	d->msgs = m;
	d->msgs[d->n++] = msg;
	return 0;
}

int
ls__diag_addf(ls_diag *d, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (d == NULL || d->n > LS_DIAG_MAX)
		return 0;
	if (d->n == LS_DIAG_MAX) {
		msg = malloc(64);
		if (msg != NULL)
			snprintf(msg, 64, "too many errors; only the first %d "
			                  "are shown", LS_DIAG_MAX);
		return diag_push(d, msg);
	}
	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	return diag_push(d, msg);
}

/* ---- small helpers ---------------------------------------------------- */

int
ls__topo_name_ok(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '_' && c != '-')
			return 0;
	}
	return i > 0 && i <= LS_TOPO_NAME_MAX;
}

int
ls__topo_distance(const char *a, const char *b)
{
	enum { W = 64 };
	int rows[3][W + 1];
	size_t la = strlen(a), lb = strlen(b);
	int *pp, *p, *c;

	if (la > W || lb > W)
		return 4;
	if ((la > lb ? la - lb : lb - la) > 3)
		return 4;
	for (size_t j = 0; j <= lb; j++)
		rows[1][j] = (int)j;
	pp = rows[0];
	p = rows[1];
	c = rows[2];
	for (size_t i = 1; i <= la; i++) {
		c[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int v = p[j] + 1;
			if (c[j - 1] + 1 < v)
				v = c[j - 1] + 1;
			if (p[j - 1] + cost < v)
				v = p[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			c[j] = v;
		}
		int *t = pp;
		pp = p;
		p = c;
		c = t;
	}
	return p[lb] > 3 ? 4 : p[lb];
}

/* Incremental "did you mean" search: keeps the closest candidate that is
 * near enough to be a plausible typo. */
struct suggest {
	const char *word;
	const char *best;
	int dist;
};

static void
suggest_init(struct suggest *sg, const char *word)
{
	sg->word = word;
	sg->best = NULL;
	sg->dist = 99;
}

static void
suggest_add(struct suggest *sg, const char *cand)
{
	int d, limit;

	if (cand == NULL || strcmp(cand, sg->word) == 0)
		return;
	limit = strlen(cand) <= 4 ? 1 : 2;
	d = ls__topo_distance(sg->word, cand);
	if (d <= limit && d < sg->dist) {
		sg->best = cand;
		sg->dist = d;
	}
}

/* Copy at most CLIP_MAX bytes of s into buf, replacing unprintable bytes,
 * so a value can be quoted back in a message. */
static const char *
clip(const char *s, char buf[CLIP_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < CLIP_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i] != '\0') {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* Join the names of a NULL-terminated spec list into buf ("a, b, c"). */
static void
join_specs(char *buf, size_t len, const ls_topo_pspec *ps,
    const char *extra1, const char *extra2)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; ps != NULL && ps->name != NULL; ps++)
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
		    "%s%s", used ? ", " : "", ps->name);
	if (extra1 != NULL && used < len)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    used ? ", " : "", extra1);
	if (extra2 != NULL && used < len)
		snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		    extra2);
}

static void
join_words(char *buf, size_t len, const char *const *w)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *w != NULL && used < len; w++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    used ? ", " : "", *w);
}

static void
join_kinds(char *buf, size_t len, const ls_kind_set *set, ls_topo_role role)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < set->n && used < len; i++) {
		if (set->kinds[i]->role == role)
			used += (size_t)snprintf(buf + used, len - used,
			    "%s%s", used ? ", " : "", set->kinds[i]->name);
	}
}

const char *
ls_topo_role_name(ls_topo_role role)
{
	switch (role) {
	case LS_TOPO_SOURCE:
		return "source";
	case LS_TOPO_STAGE:
		return "stage";
	case LS_TOPO_SINK:
		return "sink";
	}
	return "node";
}

/* ---- durations and aggregates ----------------------------------------- */

int
ls_topo_duration(const char *s, size_t len, int64_t *ms, const char **why)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 } };
	const char *dummy;
	int64_t total = 0;
	size_t i = 0;

	if (why == NULL)
		why = &dummy;
	if (len == 0) {
		*why = "empty duration";
		return LS_EPARSE;
	}
	while (i < len) {
		int64_t v = 0;
		size_t j, k;

		if (!isdigit((unsigned char)s[i])) {
			*why = "expected a whole number followed by a unit "
			       "(e.g. 500ms, 10s, 1m30s)";
			return LS_EPARSE;
		}
		for (; i < len && isdigit((unsigned char)s[i]); i++) {
			int d = s[i] - '0';
			if (v > (INT64_MAX - d) / 10) {
				*why = "duration too large";
				return LS_ERANGE;
			}
			v = v * 10 + d;
		}
		for (j = i; i < len && isalpha((unsigned char)s[i]); i++)
			;
		if (i == j) {
			*why = (i == len) ? "duration needs a unit (ms, s, m, h)"
			                  : "expected a whole number followed "
			                    "by a unit (e.g. 500ms, 10s, 1m30s)";
			return LS_EPARSE;
		}
		for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			if (strlen(units[k].unit) == i - j &&
			    memcmp(units[k].unit, s + j, i - j) == 0)
				break;
		}
		if (k == sizeof(units) / sizeof(units[0])) {
			*why = "unknown unit (use ms, s, m, h)";
			return LS_EPARSE;
		}
		if (v > (INT64_MAX - total) / units[k].mult) {
			*why = "duration too large";
			return LS_ERANGE;
		}
		total += v * units[k].mult;
	}
	*ms = total;
	return 0;
}

static const char *const aggfn_names[] = { "count", "sum", "min", "max",
	"avg" };

const char *
ls_topo_aggfn_name(ls_topo_aggfn fn)
{
	if ((unsigned)fn >= sizeof(aggfn_names) / sizeof(aggfn_names[0]))
		return "?";
	return aggfn_names[fn];
}

int
ls_topo_aggregate(const char *spec, ls_topo_agg *out, const char **why)
{
	const char *dummy, *open, *f, *end;
	size_t fnlen, k;

	if (why == NULL)
		why = &dummy;
	if (strcmp(spec, "count") == 0) {
		out->fn = LS_AGG_COUNT;
		out->field = NULL;
		out->fieldlen = 0;
		return 0;
	}
	open = strchr(spec, '(');
	if (open == NULL) {
		*why = "expected count or fn(field) with fn in count, sum, "
		       "min, max, avg";
		return LS_EPARSE;
	}
	fnlen = (size_t)(open - spec);
	for (k = 0; k < sizeof(aggfn_names) / sizeof(aggfn_names[0]); k++) {
		if (strlen(aggfn_names[k]) == fnlen &&
		    memcmp(aggfn_names[k], spec, fnlen) == 0)
			break;
	}
	if (k == sizeof(aggfn_names) / sizeof(aggfn_names[0])) {
		*why = "unknown function (use count, sum, min, max, avg)";
		return LS_EPARSE;
	}
	f = open + 1;
	end = f;
	if (isalpha((unsigned char)*end) || *end == '_') {
		while (isalnum((unsigned char)*end) || *end == '_' ||
		    *end == '.')
			end++;
	}
	if (end == f || *end != ')' || end[1] != '\0') {
		*why = "expected fn(field) with a field name of letters, "
		       "digits, '_' and '.'";
		return LS_EPARSE;
	}
	out->fn = (ls_topo_aggfn)k;
	out->field = f;
	out->fieldlen = (size_t)(end - f);
	return 0;
}

/* ---- the loader ------------------------------------------------------- */

struct pos {
	int line, col;
};

struct problem {
	int line, col;
	size_t seq;
	char *msg;
};

/* What the loader knows about a node besides the public ls_topo_node. */
struct ninfo {
	const ls_kind *kind; /* NULL when missing or unknown */
	struct pos namepos, dlpos, partpos;
	struct pos *inpos; /* one per input */
	int *inidx;        /* resolved input, -1 when unresolved */
	int dl;            /* resolved dead_letter sink, or -1 */
	int bad;           /* not a mapping: nothing else is checked */
	int named;         /* has a valid name */
	int input_seen;    /* an 'input' key was present */
	int dl_target;     /* some stage's dead_letter names this sink */
};

struct loader {
	const ls_kind_set *kinds;
	const char *file;
	const char *text;
	size_t len;
	yaml_document_t *doc;
	ls_topology *t;
	struct problem *probs;
	size_t nprobs, nerr;
	int oom;
	ls_topo_node *nodes; /* definition order: sources, stages, sinks */
	struct ninfo *info;
	size_t n;
	size_t unnamed;  /* nodes whose name is missing or invalid */
	uint32_t *slots; /* name hash over definition order */
	size_t nslots;
};

static void
verr(struct loader *ld, int line, int col, const char *fmt, va_list ap)
{
	struct problem *p;
	char *msg;

	ld->nerr++;
	if (ld->nprobs >= MAX_PROBLEMS)
		return;
	msg = vformat(fmt, ap);
	if (msg == NULL) {
		ld->oom = 1;
		return;
	}
	p = realloc(ld->probs, (ld->nprobs + 1) * sizeof(*p));
	if (p == NULL) {
		free(msg);
		ld->oom = 1;
		return;
	}
	ld->probs = p;
	p[ld->nprobs].line = line;
	p[ld->nprobs].col = col;
	p[ld->nprobs].seq = ld->nprobs;
	p[ld->nprobs].msg = msg;
	ld->nprobs++;
}

static void errat(struct loader *ld, struct pos p, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static void errn(struct loader *ld, const yaml_node_t *n, const char *fmt,
    ...) PRINTF_LIKE(3, 4);

static void
errat(struct loader *ld, struct pos p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ld, p.line, p.col, fmt, ap);
	va_end(ap);
}

static struct pos
pos_of(const yaml_node_t *n)
{
	struct pos p = { (int)n->start_mark.line + 1,
		(int)n->start_mark.column + 1 };
	return p;
}

static void
errn(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	struct pos p = pos_of(n);

	va_start(ap, fmt);
	verr(ld, p.line, p.col, fmt, ap);
	va_end(ap);
}

static int
cmp_problem(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Hand the problems, sorted by position, to diag; free them. */
static int
flush_problems(struct loader *ld, ls_diag *diag)
{
	int rc = 0;

	if (ld->nprobs > 1)
		qsort(ld->probs, ld->nprobs, sizeof(*ld->probs), cmp_problem);
	for (size_t i = 0; i < ld->nprobs; i++) {
		struct problem *p = &ld->probs[i];
		if (rc == 0 && p->line > 0)
			rc = ls__diag_addf(diag, "%s:%d:%d: %s", ld->file,
			    p->line, p->col, p->msg);
		else if (rc == 0)
			rc = ls__diag_addf(diag, "%s: %s", ld->file, p->msg);
		free(p->msg);
	}
	if (rc == 0 && ld->nerr > ld->nprobs)
		rc = ls__diag_addf(diag, "%s: %zu more errors not shown",
		    ld->file, ld->nerr - ld->nprobs);
	free(ld->probs);
	ld->probs = NULL;
	ld->nprobs = 0;
	return rc;
}

static void *
aalloc(struct loader *ld, size_t n)
{
	void *p = ls_arena_alloc(&ld->t->arena, n ? n : 1);

	if (p == NULL)
		ld->oom = 1;
	else
		memset(p, 0, n ? n : 1);
	return p;
}

/* ---- YAML node helpers ------------------------------------------------ */

static yaml_node_t *
node_at(struct loader *ld, int i)
{
	return yaml_document_get_node(ld->doc, i);
}

static size_t
map_len(const yaml_node_t *m)
{
	return (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
}

static size_t
seq_len(const yaml_node_t *s)
{
	return (size_t)(s->data.sequence.items.top -
	    s->data.sequence.items.start);
}

static int
scalar_is(const yaml_node_t *n, const char *lit)
{
	size_t l = strlen(lit);

	return n->type == YAML_SCALAR_NODE && n->data.scalar.length == l &&
	    memcmp(n->data.scalar.value, lit, l) == 0;
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
static int
is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return n->data.scalar.length == 0 || scalar_is(n, "~") ||
	    scalar_is(n, "null") || scalar_is(n, "Null") || scalar_is(n, "NULL");
}

static const char *
node_desc(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	return is_null(n) ? "nothing" : "a string";
}

/* The scalar's text copied into the arena; NULL (reported) when it holds a
 * NUL byte or memory runs out. */
static char *
scalar_dup(struct loader *ld, const yaml_node_t *n)
{
	size_t len = n->data.scalar.length;
	char *s;

	if (memchr(n->data.scalar.value, '\0', len) != NULL) {
		errn(ld, n, "value contains a NUL byte");
		return NULL;
	}
	s = ls_arena_strndup(&ld->t->arena, (const char *)n->data.scalar.value,
	    len);
	if (s == NULL)
		ld->oom = 1;
	return s;
}

/* A mapping key as a C string in buf (keys longer than buf are reported
 * as unknown via a clipped copy); NULL when the key is not a scalar. */
static const char *
key_text(const yaml_node_t *k, char *buf, size_t len)
{
	size_t n;

	if (k->type != YAML_SCALAR_NODE)
		return NULL;
	n = k->data.scalar.length < len - 1 ? k->data.scalar.length : len - 1;
	memcpy(buf, k->data.scalar.value, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\0')
			buf[i] = '?';
	}
	return buf;
}

/* Report mapping keys that are not scalars or repeat an earlier key.
 * Returns 1 when pair i should be skipped. */
static int
bad_key(struct loader *ld, const yaml_node_t *m, size_t i)
{
	yaml_node_pair_t *pairs = m->data.mapping.pairs.start;
	yaml_node_t *k = node_at(ld, pairs[i].key);
	char buf[CLIP_MAX + 4], kb[256];

	if (k == NULL)
		return 1;
	if (k->type != YAML_SCALAR_NODE) {
		errn(ld, k, "keys must be plain words, not %s", node_desc(k));
		return 1;
	}
	for (size_t j = 0; j < i; j++) {
		yaml_node_t *o = node_at(ld, pairs[j].key);
		if (o != NULL && o->type == YAML_SCALAR_NODE &&
		    o->data.scalar.length == k->data.scalar.length &&
		    memcmp(o->data.scalar.value, k->data.scalar.value,
		        k->data.scalar.length) == 0) {
			struct pos p = pos_of(o);
			errn(ld, k, "duplicate key '%s' (first at %d:%d)",
			    clip(key_text(k, kb, sizeof(kb)), buf), p.line,
			    p.col);
			return 1;
		}
	}
	return 0;
}

/* ---- values ----------------------------------------------------------- */

static const char *
type_desc(ls_topo_vtype t)
{
	switch (t) {
	case LS_TV_STRING:
		return "a string";
	case LS_TV_INT:
		return "an integer";
	case LS_TV_FLOAT:
		return "a number";
	case LS_TV_BOOL:
		return "true or false";
	case LS_TV_DURATION:
		return "a duration (e.g. 10s)";
	case LS_TV_LIST:
		return "a name or a list of names";
	}
	return "?";
}

/* Check a string (or a list entry) against allowed words and the check
 * function.  0, or 1 with a message in why. */
static int
check_string(const ls_topo_pspec *ps, const char *s, char *why,
    size_t wlen)
{
	char vb[CLIP_MAX + 4], cw[160];

	if (ps->allowed != NULL) {
		struct suggest sg;
		size_t k;

		suggest_init(&sg, s);
		for (k = 0; ps->allowed[k] != NULL; k++) {
			if (strcmp(ps->allowed[k], s) == 0)
				break;
			suggest_add(&sg, ps->allowed[k]);
		}
		if (ps->allowed[k] == NULL) {
			if (sg.best != NULL) {
				snprintf(why, wlen,
				    "bad value '%s' for '%s' (did you mean "
				    "'%s'?)",
				    clip(s, vb), ps->name, sg.best);
			} else {
				join_words(cw, sizeof(cw), ps->allowed);
				snprintf(why, wlen,
				    "bad value '%s' for '%s' (expected one "
				    "of: %s)",
				    clip(s, vb), ps->name, cw);
			}
			return 1;
		}
	}
	if (ps->check != NULL && ps->check(s, cw, sizeof(cw)) != 0) {
		snprintf(why, wlen, "bad value '%s' for '%s': %s", clip(s, vb),
		    ps->name, cw);
		return 1;
	}
	return 0;
}

static int
parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return LS_EPARSE;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return LS_EPARSE;
	if (errno == ERANGE)
		return LS_ERANGE;
	*out = v;
	return 0;
}

static int
word_is(const char *s, const char *const *words)
{
	for (; *words != NULL; words++) {
		if (strcasecmp(s, *words) == 0)
			return 1;
	}
	return 0;
}

/* Convert scalar text s (NUL-terminated, owned by the topology) into p
 * according to ps.  0, or 1 with a complete message in why. */
static int
scalar_convert(const ls_topo_pspec *ps, const char *s, ls_topo_param *p,
    char *why, size_t wlen)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	char vb[CLIP_MAX + 4];
	const char *reason = NULL;
	int64_t v = 0;
	int rc;

	p->name = ps->name;
	p->type = ps->type;
	switch (ps->type) {
	case LS_TV_STRING:
		if (check_string(ps, s, why, wlen) != 0)
			return 1;
		p->s = s;
		return 0;
	case LS_TV_INT:
		rc = parse_int(s, &v);
		if (rc == LS_EPARSE) {
			snprintf(why, wlen, "'%s' must be an integer, got '%s'",
			    ps->name, clip(s, vb));
			return 1;
		}
		if (rc != 0 ||
		    (ps->min < ps->max && (v < ps->min || v > ps->max))) {
			snprintf(why, wlen,
			    "'%s' must be between %lld and %lld, got '%s'",
			    ps->name, (long long)(ps->min < ps->max ? ps->min
			                                            : INT64_MIN),
			    (long long)(ps->min < ps->max ? ps->max : INT64_MAX),
			    clip(s, vb));
			return 1;
		}
		p->i = v;
		return 0;
	case LS_TV_FLOAT: {
		char *end;
		double d = 0;
		if (*s == '\0' || isspace((unsigned char)*s))
			end = NULL;
		else
			d = strtod(s, &end);
		if (end == NULL || *end != '\0' || !isfinite(d)) {
			snprintf(why, wlen, "'%s' must be a number, got '%s'",
			    ps->name, clip(s, vb));
			return 1;
		}
		p->f = d;
		return 0;
	}
	case LS_TV_BOOL:
		if (word_is(s, yes)) {
			p->b = 1;
		} else if (word_is(s, no)) {
			p->b = 0;
		} else {
			snprintf(why, wlen, "'%s' must be true or false, got "
			                    "'%s'",
			    ps->name, clip(s, vb));
			return 1;
		}
		return 0;
	case LS_TV_DURATION:
		if (ls_topo_duration(s, strlen(s), &v, &reason) != 0) {
			snprintf(why, wlen, "bad duration '%s' for '%s': %s",
			    clip(s, vb), ps->name, reason);
			return 1;
		}
		if (ps->min < ps->max && v < ps->min) {
			snprintf(why, wlen, "'%s' must be at least %lldms, got "
			                    "'%s'",
			    ps->name, (long long)ps->min, clip(s, vb));
			return 1;
		}
		if (ps->min < ps->max && v > ps->max) {
			snprintf(why, wlen, "'%s' must be at most %lldms, got "
			                    "'%s'",
			    ps->name, (long long)ps->max, clip(s, vb));
			return 1;
		}
		p->ms = v;
		return 0;
	case LS_TV_LIST:
		break;
	}
	snprintf(why, wlen, "internal: '%s' is not a scalar type", ps->name);
	return 1;
}

/* Convert YAML value v into p according to ps, reporting problems.  For a
 * list, *elpos (when elpos is not NULL) receives each entry's position.
 * Returns 0 on success, -1 when a problem was reported. */
static int
convert(struct loader *ld, const ls_topo_pspec *ps, const yaml_node_t *v,
    ls_topo_param *p, struct pos **elpos)
{
	char why[320], vb[CLIP_MAX + 4];
	struct pos vp = pos_of(v);

	memset(p, 0, sizeof(*p));
	p->name = ps->name;
	p->type = ps->type;
	p->line = vp.line;
	p->col = vp.col;
	if (ps->type == LS_TV_LIST) {
		const yaml_node_t *one[1] = { v };
		const yaml_node_t **items = one;
		const yaml_node_t *item;
		size_t n = 1, bad = 0;

		if (v->type == YAML_MAPPING_NODE) {
			errn(ld, v, "'%s' must be %s, got a mapping", ps->name,
			    type_desc(ps->type));
			return -1;
		}
		if (v->type == YAML_SEQUENCE_NODE) {
			n = seq_len(v);
			items = NULL;
		}
		if (n == 0 || is_null(v)) {
			errn(ld, v, "'%s' needs at least one entry", ps->name);
			return -1;
		}
		p->list = aalloc(ld, n * sizeof(*p->list));
		if (elpos != NULL)
			*elpos = aalloc(ld, n * sizeof(**elpos));
		if (p->list == NULL || (elpos != NULL && *elpos == NULL))
			return -1;
		for (size_t i = 0; i < n; i++) {
			char *s;
			item = items != NULL
			    ? items[i]
			    : node_at(ld, v->data.sequence.items.start[i]);
			if (item == NULL)
				return -1;
			if (item->type != YAML_SCALAR_NODE || is_null(item)) {
				errn(ld, item, "entries of '%s' must be "
				               "strings, got %s",
				    ps->name, node_desc(item));
				bad++;
				continue;
			}
			s = scalar_dup(ld, item);
			if (s == NULL) {
				bad++;
				continue;
			}
			if (check_string(ps, s, why, sizeof(why)) != 0) {
				errn(ld, item, "%s", why);
				bad++;
				continue;
			}
			for (size_t j = 0; j < p->nlist; j++) {
				if (strcmp(p->list[j], s) == 0) {
					errn(ld, item, "'%s' is listed twice "
					               "in '%s'",
					    clip(s, vb), ps->name);
					bad++;
					s = NULL;
					break;
				}
			}
			if (s == NULL)
				continue;
			if (elpos != NULL)
				(*elpos)[p->nlist] = pos_of(item);
			p->list[p->nlist++] = s;
		}
		return bad ? -1 : 0;
	}
	if (v->type != YAML_SCALAR_NODE) {
		errn(ld, v, "'%s' must be %s, got %s", ps->name,
		    type_desc(ps->type), node_desc(v));
		return -1;
	}
	if (is_null(v)) {
		errn(ld, v, "'%s' needs a value", ps->name);
		return -1;
	}
	char *s = scalar_dup(ld, v);
	if (s == NULL)
		return -1;
	if (scalar_convert(ps, s, p, why, sizeof(why)) != 0) {
		errn(ld, v, "%s", why);
		return -1;
	}
	return 0;
}

/* Fill p with the default of ps (which has one). 0 or -1 (out of memory,
 * or a bad default in the table: a bug the unit tests catch). */
static int
fill_default(struct loader *ld, const ls_topo_pspec *ps, ls_topo_param *p)
{
	char why[320];

	memset(p, 0, sizeof(*p));
	p->name = ps->name;
	p->type = ps->type;
	if (ps->type == LS_TV_LIST) {
		p->list = aalloc(ld, sizeof(*p->list));
		if (p->list == NULL)
			return -1;
		p->list[0] = ps->dflt;
		p->nlist = 1;
		return 0;
	}
	if (scalar_convert(ps, ps->dflt, p, why, sizeof(why)) != 0) {
		ld->oom = 1; /* cannot happen with a sane table */
		return -1;
	}
	return 0;
}

/* ---- nodes ------------------------------------------------------------ */

static int
word_listed(const char *s, const char *const *words)
{
	for (; *words != NULL; words++) {
		if (strcmp(s, *words) == 0)
			return 1;
	}
	return 0;
}

static void
parse_node(struct loader *ld, ls_topo_role role, const yaml_node_t *m,
    size_t idx)
{
	ls_topo_node *n = &ld->nodes[idx];
	struct ninfo *ni = &ld->info[idx];
	const char *rname = ls_topo_role_name(role);
	const yaml_node_t *namev = NULL, *kindv = NULL;
	const ls_kind *k = NULL;
	char kb[256], buf[CLIP_MAX + 4], list[320];
	unsigned char seen[64];
	size_t np, nspec = 0;
	yaml_node_pair_t *pairs;
	struct pos mp = pos_of(m);

	n->role = role;
	n->partitions = 1;
	n->line = mp.line;
	n->col = mp.col;
	ni->dl = -1;
	if (m->type != YAML_MAPPING_NODE) {
		errn(ld, m, "each %s must be a mapping with 'name' and 'kind', "
		            "got %s",
		    rname, node_desc(m));
		ni->bad = 1;
		ld->unnamed++;
		return;
	}
	np = map_len(m);
	pairs = m->data.mapping.pairs.start;
	for (size_t i = 0; i < np; i++) {
		yaml_node_t *k0 = node_at(ld, pairs[i].key);
		if (k0 == NULL)
			continue;
		if (namev == NULL && scalar_is(k0, "name"))
			namev = node_at(ld, pairs[i].value);
		else if (kindv == NULL && scalar_is(k0, "kind"))
			kindv = node_at(ld, pairs[i].value);
	}

	/* name */
	ld->unnamed++; /* until proven otherwise below */
	if (namev == NULL) {
		errn(ld, m, "%s has no 'name'", rname);
	} else if (namev->type != YAML_SCALAR_NODE || is_null(namev)) {
		errn(ld, namev, "'name' must be a string, got %s",
		    node_desc(namev));
	} else {
		char *s = scalar_dup(ld, namev);
		if (s != NULL && !ls__topo_name_ok(s)) {
			errn(ld, namev,
			    "bad name '%s': use letters, digits, '_' and '-' "
			    "(at most %d bytes)",
			    clip(s, buf), LS_TOPO_NAME_MAX);
		} else if (s != NULL) {
			n->name = s;
			ni->named = 1;
			ld->unnamed--;
			ni->namepos = pos_of(namev);
		}
	}

	/* kind */
	join_kinds(list, sizeof(list), ld->kinds, role);
	if (kindv == NULL) {
		errn(ld, m, "%s%s%s%s has no 'kind' (one of: %s)", rname,
		    n->name ? " '" : "", n->name ? n->name : "",
		    n->name ? "'" : "", list);
	} else if (kindv->type != YAML_SCALAR_NODE ||
	    kindv->data.scalar.length == 0) {
		/* Not is_null(): "kind: null" names the null sink. */
		errn(ld, kindv, "'kind' must be one of: %s; got %s", list,
		    node_desc(kindv));
	} else {
		char *s = scalar_dup(ld, kindv);
		if (s != NULL)
			k = ls_kind_find(ld->kinds, role, s);
		if (s != NULL && k == NULL)
			errn(ld, kindv, "unknown %s kind '%s' (known: %s)",
			    rname, clip(s, buf), list);
	}
	if (k != NULL) {
		n->kind = k->name;
		n->kind_def = k;
		ni->kind = k;
		while (k->params[nspec].name != NULL)
			nspec++;
	}
	if (nspec > sizeof(seen))
		nspec = sizeof(seen); /* table rows stay far below this */
	memset(seen, 0, sizeof(seen));
	n->params = aalloc(ld, (np + nspec) * sizeof(*n->params));
	if (n->params == NULL)
		return;

	for (size_t i = 0; i < np; i++) {
		const yaml_node_t *kn = node_at(ld, pairs[i].key);
		const yaml_node_t *v = node_at(ld, pairs[i].value);
		const ls_topo_pspec *ps;
		const char *key;
		ls_topo_param tmp;

		if (kn == NULL || v == NULL || bad_key(ld, m, i))
			continue;
		if (scalar_is(kn, "name") || scalar_is(kn, "kind"))
			continue;
		key = key_text(kn, kb, sizeof(kb));
		if (strcmp(key, "input") == 0) {
			ni->input_seen = 1;
			if (role == LS_TOPO_SOURCE) {
				errn(ld, kn, "a source takes no input");
				continue;
			}
			if (convert(ld, &ls__topo_input_spec, v, &tmp,
			        &ni->inpos) == 0) {
				n->inputs = tmp.list;
				n->ninputs = tmp.nlist;
			}
			continue;
		}
		if (strcmp(key, "partitions") == 0) {
			if (convert(ld, &ls__topo_partitions_spec, v, &tmp,
			        NULL) != 0)
				continue;
			if (role != LS_TOPO_STAGE && tmp.i != 1) {
				errn(ld, v, "a %s has exactly one partition, "
				            "got %lld",
				    rname, (long long)tmp.i);
				continue;
			}
			n->partitions = (uint32_t)tmp.i;
			ni->partpos = pos_of(v);
			continue;
		}
		if (k == NULL)
			continue; /* no kind to judge the key by */
		ps = ls__topo_pspec_find(k->params, key);
		if (ps == NULL) {
			struct suggest sg;
			suggest_init(&sg, key);
			for (size_t j = 0; j < nspec; j++)
				suggest_add(&sg, k->params[j].name);
			suggest_add(&sg, "partitions");
			if (role != LS_TOPO_SOURCE)
				suggest_add(&sg, "input");
			if (sg.best != NULL) {
				errn(ld, kn, "unknown parameter '%s' for kind "
				             "'%s' (did you mean '%s'?)",
				    clip(key, buf), k->name, sg.best);
			} else {
				join_specs(list, sizeof(list), k->params,
				    role != LS_TOPO_SOURCE ? "input" : NULL,
				    "partitions");
				errn(ld, kn, "unknown parameter '%s' for kind "
				             "'%s' (known: %s)",
				    clip(key, buf), k->name, list);
			}
			continue;
		}
		if ((size_t)(ps - k->params) < nspec)
			seen[ps - k->params] = 1;
		/* A parameter checked by ls_topo_check_format may also name a
		 * format declared under formats: (topology-wide, as
		 * dead_letter names a sink). */
		if (ps->check == ls_topo_check_format &&
		    v->type == YAML_SCALAR_NODE && !is_null(v)) {
			char *fs = scalar_dup(ld, v);
			if (fs != NULL && find_format(ld->t, fs) != NULL) {
				ls_topo_param *fp = &n->params[n->nparams++];
				struct pos vp = pos_of(v);
				memset(fp, 0, sizeof(*fp));
				fp->name = ps->name;
				fp->type = LS_TV_STRING;
				fp->s = fs;
				fp->line = vp.line;
				fp->col = vp.col;
				continue;
			}
			if (fs != NULL && ps->allowed != NULL &&
			    !word_listed(fs, ps->allowed)) {
				struct suggest sg;
				suggest_init(&sg, fs);
				for (size_t w = 0; ps->allowed[w] != NULL; w++)
					suggest_add(&sg, ps->allowed[w]);
				for (size_t j = 0; j < ld->t->nformats; j++)
					suggest_add(&sg, ld->t->formats[j].name);
				if (sg.best != NULL) {
					errn(ld, v, "unknown format '%s' (did you "
					            "mean '%s'?)",
					    clip(fs, buf), sg.best);
				} else {
					join_words(list, sizeof(list),
					    ps->allowed);
					errn(ld, v, "unknown format '%s' (built-in: "
					            "%s; or declare it under "
					            "formats:)",
					    clip(fs, buf), list);
				}
				continue;
			}
		}
		if (convert(ld, ps, v, &n->params[n->nparams], NULL) != 0)
			continue;
		if (strcmp(ps->name, "key") == 0) {
			n->key = n->params[n->nparams].list;
			n->nkey = n->params[n->nparams].nlist;
		} else if (strcmp(ps->name, "dead_letter") == 0) {
			n->dead_letter = n->params[n->nparams].s;
			ni->dlpos = pos_of(v);
		}
		n->nparams++;
	}
	for (size_t j = 0; j < nspec; j++) {
		const ls_topo_pspec *ps = &k->params[j];
		if (seen[j])
			continue;
		if (ps->required) {
			errn(ld, m, "kind '%s' requires parameter '%s' (%s)",
			    k->name, ps->name, ps->help);
		} else if (ps->dflt != NULL &&
		    fill_default(ld, ps, &n->params[n->nparams]) == 0) {
			n->nparams++;
		}
	}
}

static void
parse_settings(struct loader *ld, const yaml_node_t *m)
{
	ls_topology *t = ld->t;
	char kb[256], buf[CLIP_MAX + 4], list[320];
	size_t nspec = 0, np = 0;
	unsigned char seen[64];

	while (ls__topo_settings[nspec].name != NULL)
		nspec++;
	memset(seen, 0, sizeof(seen));
	if (m != NULL && !is_null(m) && m->type != YAML_MAPPING_NODE) {
		errn(ld, m, "'settings' must be a mapping, got %s",
		    node_desc(m));
		m = NULL;
	}
	if (m != NULL && m->type == YAML_MAPPING_NODE)
		np = map_len(m);
	t->settings = aalloc(ld, (np + nspec) * sizeof(*t->settings));
	if (t->settings == NULL)
		return;
	for (size_t i = 0; i < np; i++) {
		yaml_node_pair_t *pr = &m->data.mapping.pairs.start[i];
		const yaml_node_t *kn = node_at(ld, pr->key);
		const yaml_node_t *v = node_at(ld, pr->value);
		const ls_topo_pspec *ps;
		const char *key;

		if (kn == NULL || v == NULL || bad_key(ld, m, i))
			continue;
		key = key_text(kn, kb, sizeof(kb));
		ps = ls__topo_pspec_find(ls__topo_settings, key);
		if (ps == NULL) {
			struct suggest sg;
			suggest_init(&sg, key);
			for (size_t j = 0; j < nspec; j++)
				suggest_add(&sg, ls__topo_settings[j].name);
			if (sg.best != NULL) {
				errn(ld, kn, "unknown setting '%s' (did you "
				             "mean '%s'?)",
				    clip(key, buf), sg.best);
			} else {
				join_specs(list, sizeof(list),
				    ls__topo_settings, NULL, NULL);
				errn(ld, kn, "unknown setting '%s' (known: %s)",
				    clip(key, buf), list);
			}
			continue;
		}
		if ((size_t)(ps - ls__topo_settings) < sizeof(seen))
			seen[ps - ls__topo_settings] = 1;
		if (convert(ld, ps, v, &t->settings[t->nsettings], NULL) == 0)
			t->nsettings++;
	}
	for (size_t j = 0; j < nspec && j < sizeof(seen); j++) {
		if (!seen[j] && ls__topo_settings[j].dflt != NULL &&
		    fill_default(ld, &ls__topo_settings[j],
		        &t->settings[t->nsettings]) == 0)
			t->nsettings++;
	}
}

/* ---- names, links, cycles, order -------------------------------------- */

static size_t
slot_of(const char *name, size_t nslots)
{
	return (size_t)ls_hash64(name, strlen(name), 0) & (nslots - 1);
}

/* Find name in a hash of nodes; -1 when absent. */
static int
hash_find(const uint32_t *slots, size_t nslots, const ls_topo_node *nodes,
    const char *name)
{
	if (nslots == 0)
		return -1;
	for (size_t s = slot_of(name, nslots);; s = (s + 1) & (nslots - 1)) {
		if (slots[s] == 0)
			return -1;
		if (strcmp(nodes[slots[s] - 1].name, name) == 0)
			return (int)slots[s] - 1;
	}
}

static void
hash_put(uint32_t *slots, size_t nslots, const char *name, size_t idx)
{
	size_t s = slot_of(name, nslots);

	while (slots[s] != 0)
		s = (s + 1) & (nslots - 1);
	slots[s] = (uint32_t)idx + 1;
}

static size_t
slots_for(size_t n)
{
	size_t c = 8;

	while (c < 2 * n)
		c *= 2;
	return c;
}

/* "did you mean" over the names of nodes, optionally of one role only. */
static const char *
suggest_node(struct loader *ld, const char *word, int role)
{
	struct suggest sg;

	suggest_init(&sg, word);
	for (size_t i = 0; i < ld->n; i++) {
		if (ld->info[i].named && (role < 0 ||
		                             (int)ld->nodes[i].role == role))
			suggest_add(&sg, ld->nodes[i].name);
	}
	return sg.best;
}

static void
link_nodes(struct loader *ld)
{
	char buf[CLIP_MAX + 4];

	ld->nslots = slots_for(ld->n);
	ld->slots = aalloc(ld, ld->nslots * sizeof(*ld->slots));
	if (ld->slots == NULL)
		return;
	for (size_t i = 0; i < ld->n; i++) {
		int j;
		if (!ld->info[i].named)
			continue;
		j = hash_find(ld->slots, ld->nslots, ld->nodes,
		    ld->nodes[i].name);
		if (j >= 0) {
			errat(ld, ld->info[i].namepos,
			    "duplicate node name '%s' (first defined at "
			    "%d:%d)",
			    ld->nodes[i].name, ld->info[j].namepos.line,
			    ld->info[j].namepos.col);
			ld->info[i].named = 0;
			continue;
		}
		hash_put(ld->slots, ld->nslots, ld->nodes[i].name, i);
	}
	for (size_t i = 0; i < ld->n; i++) {
		ls_topo_node *n = &ld->nodes[i];
		struct ninfo *ni = &ld->info[i];

		if (n->ninputs > 0) {
			ni->inidx = aalloc(ld, n->ninputs * sizeof(int));
			if (ni->inidx == NULL)
				return;
		}
		for (size_t e = 0; e < n->ninputs; e++) {
			int j = hash_find(ld->slots, ld->nslots, ld->nodes,
			    n->inputs[e]);
			const char *sg;

			ni->inidx[e] = -1;
			if (j < 0 && ld->unnamed > 0) {
				/* Probably the node whose name is missing or
				 * bad, already reported: don't pile on. */
			} else if (j < 0) {
				sg = suggest_node(ld, n->inputs[e], -1);
				if (sg != NULL)
					errat(ld, ni->inpos[e],
					    "input '%s' is not defined (did "
					    "you mean '%s'?)",
					    clip(n->inputs[e], buf), sg);
				else
					errat(ld, ni->inpos[e],
					    "input '%s' is not defined",
					    clip(n->inputs[e], buf));
			} else if (ld->nodes[j].role == LS_TOPO_SINK) {
				errat(ld, ni->inpos[e],
				    "input '%s' is a sink; sinks have no "
				    "output",
				    n->inputs[e]);
			} else {
				ni->inidx[e] = j;
			}
		}
		if (n->dead_letter != NULL) {
			int j = hash_find(ld->slots, ld->nslots, ld->nodes,
			    n->dead_letter);
			const char *sg;

			if (j < 0 && ld->unnamed > 0) {
				/* As for inputs above. */
			} else if (j < 0) {
				sg = suggest_node(ld, n->dead_letter,
				    LS_TOPO_SINK);
				if (sg != NULL)
					errat(ld, ni->dlpos,
					    "dead_letter '%s' is not defined "
					    "(did you mean '%s'?)",
					    n->dead_letter, sg);
				else
					errat(ld, ni->dlpos,
					    "dead_letter '%s' is not defined",
					    n->dead_letter);
			} else if (ld->nodes[j].role != LS_TOPO_SINK) {
				errat(ld, ni->dlpos,
				    "dead_letter '%s' must name a sink, not "
				    "a %s",
				    n->dead_letter,
				    ls_topo_role_name(ld->nodes[j].role));
			} else {
				ni->dl = j;
				ld->info[j].dl_target = 1;
			}
		}
	}
	for (size_t i = 0; i < ld->n; i++) {
		ls_topo_node *n = &ld->nodes[i];
		struct ninfo *ni = &ld->info[i];
		struct pos np = { n->line, n->col };

		if (ni->bad)
			continue;
		if (n->role != LS_TOPO_SOURCE && !ni->input_seen) {
			if (n->role == LS_TOPO_STAGE)
				errat(ld, np, "stage '%s' has no input",
				    n->name ? n->name : "?");
			else if (!ni->dl_target)
				errat(ld, np,
				    "sink '%s' has no input and is no stage's "
				    "dead_letter",
				    n->name ? n->name : "?");
		}
		if (ni->kind != NULL && (ni->kind->flags & LS_KIND_KEYED) &&
		    n->partitions > 1 && n->nkey == 0)
			errat(ld, ni->partpos,
			    "%s '%s' has %u partitions but no 'key' to route "
			    "by",
			    ni->kind->name, n->name ? n->name : "?",
			    n->partitions);
	}
}

/* Edges upstream -> downstream in compressed rows: the successors of node
 * v are adj[start[v] .. start[v + 1]). */
struct graph {
	size_t *start;
	uint32_t *adj;
};

static int
build_graph(struct loader *ld, struct graph *g)
{
	size_t n = ld->n, m = 0;
	size_t *fill;

	g->start = aalloc(ld, (n + 1) * sizeof(*g->start));
	fill = aalloc(ld, (n + 1) * sizeof(*fill));
	if (g->start == NULL || fill == NULL)
		return -1;
	for (size_t v = 0; v < n; v++) {
		for (size_t e = 0; e < ld->nodes[v].ninputs; e++) {
			if (ld->info[v].inidx[e] >= 0) {
				g->start[ld->info[v].inidx[e] + 1]++;
				m++;
			}
		}
		if (ld->info[v].dl >= 0) {
			g->start[v + 1]++;
			m++;
		}
	}
	for (size_t v = 0; v < n; v++)
		g->start[v + 1] += g->start[v];
	g->adj = aalloc(ld, m * sizeof(*g->adj));
	if (g->adj == NULL)
		return -1;
	memcpy(fill, g->start, (n + 1) * sizeof(*fill));
	for (size_t v = 0; v < n; v++) {
		for (size_t e = 0; e < ld->nodes[v].ninputs; e++) {
			int u = ld->info[v].inidx[e];
			if (u >= 0)
				g->adj[fill[u]++] = (uint32_t)v;
		}
		if (ld->info[v].dl >= 0)
			g->adj[fill[v]++] = (uint32_t)ld->info[v].dl;
	}
	return 0;
}

static void
heap_push(uint32_t *h, size_t *n, uint32_t v)
{
	size_t i = (*n)++;

	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static uint32_t
heap_pop(uint32_t *h, size_t *n)
{
	uint32_t top = h[0], last = h[--*n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= last)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = last;
	return top;
}

/* Kahn's algorithm, always taking the ready node defined first, so the
 * order is the file's order wherever the edges allow.  order[] receives
 * node indices; returns how many were ordered (< n when there is a
 * cycle). */
static size_t
topo_order(struct loader *ld, const struct graph *g, uint32_t *order)
{
	size_t n = ld->n, nheap = 0, tail = 0;
	size_t *indeg = aalloc(ld, n * sizeof(*indeg));
	uint32_t *heap = aalloc(ld, n * sizeof(*heap));

	if (indeg == NULL || heap == NULL)
		return 0;
	for (size_t e = 0; e < g->start[n]; e++)
		indeg[g->adj[e]]++;
	for (size_t v = 0; v < n; v++) {
		if (indeg[v] == 0)
			heap_push(heap, &nheap, (uint32_t)v);
	}
	while (nheap > 0) {
		uint32_t v = heap_pop(heap, &nheap);
		order[tail++] = v;
		for (size_t e = g->start[v]; e < g->start[v + 1]; e++) {
			if (--indeg[g->adj[e]] == 0)
				heap_push(heap, &nheap, g->adj[e]);
		}
	}
	return tail;
}

/* Report one cycle through s inside component comp (shortest, by BFS). */
static void
report_cycle(struct loader *ld, const struct graph *g, const int *comp,
    uint32_t s)
{
	size_t n = ld->n, head = 0, tail = 0, len = 0, used = 0;
	uint32_t *queue = aalloc(ld, n * sizeof(*queue));
	uint32_t *parent = aalloc(ld, n * sizeof(*parent));
	uint32_t *path;
	int64_t last = -1;
	char msg[1024];
	struct pos p = { ld->nodes[s].line, ld->nodes[s].col };

	if (queue == NULL || parent == NULL)
		return;
	for (size_t v = 0; v < n; v++)
		parent[v] = UINT32_MAX;
	queue[tail++] = s;
	while (head < tail && last < 0) {
		uint32_t v = queue[head++];
		for (size_t e = g->start[v]; e < g->start[v + 1]; e++) {
			uint32_t w = g->adj[e];
			if (comp[w] != comp[s])
				continue;
			if (w == s) {
				last = v;
				break;
			}
			if (parent[w] == UINT32_MAX) {
				parent[w] = v;
				queue[tail++] = w;
			}
		}
	}
	if (last < 0)
		return; /* cannot happen: s is on a cycle of comp */
	path = queue; /* reuse: the walk back from last to s */
	for (uint32_t v = (uint32_t)last; v != s; v = parent[v])
		path[len++] = v;
	used = (size_t)snprintf(msg, sizeof(msg), "cycle among stages: %s",
	    ld->nodes[s].name);
	for (size_t i = len; i-- > 0 && used < sizeof(msg);)
		used += (size_t)snprintf(msg + used, sizeof(msg) - used,
		    " -> %s", ld->nodes[path[i]].name);
	if (used < sizeof(msg))
		snprintf(msg + used, sizeof(msg) - used, " -> %s",
		    ld->nodes[s].name);
	errat(ld, p, "%s", msg);
}

/* Tarjan's strongly connected components over the nodes left unordered by
 * Kahn's algorithm (iteratively, so deep graphs cannot overflow the stack);
 * one cycle is reported per component that holds one. */
static void
find_cycles(struct loader *ld, const struct graph *g, const uint32_t *order,
    size_t nordered)
{
	size_t n = ld->n, sp = 0, cs = 0;
	int counter = 0, ncomp = 0;
	int *idx = aalloc(ld, n * sizeof(int));
	int *low = aalloc(ld, n * sizeof(int));
	int *comp = aalloc(ld, n * sizeof(int));
	uint32_t *stack = aalloc(ld, n * sizeof(uint32_t));
	uint32_t *cv = aalloc(ld, n * sizeof(uint32_t));
	size_t *ce = aalloc(ld, n * sizeof(size_t));
	unsigned char *onstk = aalloc(ld, n);

	if (idx == NULL || low == NULL || comp == NULL || stack == NULL ||
	    cv == NULL || ce == NULL || onstk == NULL)
		return;
	for (size_t v = 0; v < n; v++) {
		idx[v] = -1;
		comp[v] = -1;
	}
	for (size_t i = 0; i < nordered; i++)
		idx[order[i]] = -2; /* acyclic part: not visited */
	for (size_t r = 0; r < n; r++) {
		if (idx[r] != -1)
			continue;
		idx[r] = low[r] = counter++;
		stack[sp++] = (uint32_t)r;
		onstk[r] = 1;
		cv[cs] = (uint32_t)r;
		ce[cs++] = g->start[r];
		while (cs > 0) {
			uint32_t v = cv[cs - 1];
			if (ce[cs - 1] < g->start[v + 1]) {
				uint32_t w = g->adj[ce[cs - 1]++];
				if (idx[w] == -1) {
					idx[w] = low[w] = counter++;
					stack[sp++] = w;
					onstk[w] = 1;
					cv[cs] = w;
					ce[cs++] = g->start[w];
				} else if (onstk[w] && idx[w] < low[v]) {
					low[v] = idx[w];
				}
				continue;
			}
			cs--;
			if (cs > 0 && low[v] < low[cv[cs - 1]])
				low[cv[cs - 1]] = low[v];
			if (low[v] != idx[v])
				continue;
			uint32_t w, first = v;
			size_t size = 0;
			do {
				w = stack[--sp];
				onstk[w] = 0;
				comp[w] = ncomp;
				if (w < first)
					first = w;
				size++;
			} while (w != v);
			int self = 0;
			for (size_t e = g->start[v]; e < g->start[v + 1]; e++)
				self |= g->adj[e] == v;
			if (size > 1 || self)
				report_cycle(ld, g, comp, first);
			ncomp++;
		}
	}
}

/* ---- the top level ---------------------------------------------------- */

static const char *const top_keys[] = { "name", "settings", "formats",
	"sources", "stages", "sinks", NULL };

/* The position in the file of byte off of scalar v's value: exact for
 * plain, single- and double-quoted scalars (their escapes are walked), the
 * scalar's own position for block scalars. */
static struct pos
pos_in_scalar(const struct loader *ld, const yaml_node_t *v, size_t off)
{
	struct pos p = pos_of(v);
	yaml_scalar_style_t st = v->data.scalar.style;
	size_t i = v->start_mark.index;

	if (st != YAML_PLAIN_SCALAR_STYLE &&
	    st != YAML_SINGLE_QUOTED_SCALAR_STYLE &&
	    st != YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		return p;
	if (st != YAML_PLAIN_SCALAR_STYLE) {
		i++;
		p.col++;
	}
	for (size_t k = 0; k < off && i < ld->len; k++) {
		size_t step = 1;
		if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE &&
		    ld->text[i] == '\'' && i + 1 < ld->len &&
		    ld->text[i + 1] == '\'')
			step = 2;
		else if (st == YAML_DOUBLE_QUOTED_SCALAR_STYLE &&
		    ld->text[i] == '\\' && i + 1 < ld->len)
			step = ld->text[i + 1] == 'x' ? 4
			    : ld->text[i + 1] == 'u'  ? 6
			    : ld->text[i + 1] == 'U'  ? 10
			                              : 2;
		for (size_t j = 0; j < step && i < ld->len; j++, i++) {
			if (ld->text[i] == '\n') {
				p.line++;
				p.col = 1;
			} else {
				p.col++;
			}
		}
	}
	return p;
}

/* A built-in format name: an allowed word of a parameter checked by
 * ls_topo_check_format in any kind. */
static int
builtin_format(const struct loader *ld, const char *name)
{
	for (size_t k = 0; k < ld->kinds->n; k++) {
		const ls_topo_pspec *ps = ld->kinds->kinds[k]->params;
		for (; ps != NULL && ps->name != NULL; ps++) {
			if (ps->check != ls_topo_check_format ||
			    ps->allowed == NULL)
				continue;
			for (size_t w = 0; ps->allowed[w] != NULL; w++) {
				if (strcmp(ps->allowed[w], name) == 0)
					return 1;
			}
		}
	}
	return 0;
}

/* formats: a mapping of name -> pattern (docs/topology.md).  Each pattern
 * is compiled by the kind set's check_format, and a bad one is reported at
 * the place in the pattern where it went wrong. */
static void
parse_formats(struct loader *ld, const yaml_node_t *m)
{
	ls_topology *t = ld->t;
	char kb[256], buf[CLIP_MAX + 4], why[256];
	size_t np;

	if (m == NULL || is_null(m))
		return;
	if (m->type != YAML_MAPPING_NODE) {
		errn(ld, m, "'formats' must be a mapping of format names to "
		            "patterns, got %s",
		    node_desc(m));
		return;
	}
	np = map_len(m);
	t->formats = aalloc(ld, (np ? np : 1) * sizeof(*t->formats));
	if (t->formats == NULL)
		return;
	for (size_t i = 0; i < np; i++) {
		yaml_node_pair_t *pr = &m->data.mapping.pairs.start[i];
		const yaml_node_t *kn = node_at(ld, pr->key);
		const yaml_node_t *v = node_at(ld, pr->value);
		const char *key;
		size_t off = 0;

		if (kn == NULL || v == NULL || bad_key(ld, m, i))
			continue;
		key = key_text(kn, kb, sizeof(kb));
		if (!ls__topo_name_ok(key)) {
			errn(ld, kn, "bad format name '%s': use letters, digits, "
			             "'_' and '-' (at most %d bytes)",
			    clip(key, buf), LS_TOPO_NAME_MAX);
			continue;
		}
		if (builtin_format(ld, key)) {
			errn(ld, kn, "format '%s' is a built-in format; choose "
			             "another name",
			    key);
			continue;
		}
		if (v->type != YAML_SCALAR_NODE || is_null(v) ||
		    v->data.scalar.length == 0) {
			errn(ld, v, "format '%s' must be a regular expression "
			            "(a string), got %s",
			    key, v->type == YAML_SCALAR_NODE && !is_null(v)
			        ? "an empty string"
			        : node_desc(v));
			continue;
		}
		char *name = scalar_dup(ld, kn), *pat = scalar_dup(ld, v);
		if (name == NULL || pat == NULL)
			continue;
		/* Kept even when the pattern is bad, so that stages naming
		 * it are not reported too. */
		ls_topo_format *f = &t->formats[t->nformats++];
		struct pos vp = pos_of(v);
		f->name = name;
		f->pattern = pat;
		f->len = strlen(pat);
		f->line = vp.line;
		f->col = vp.col;
		if (ld->kinds->check_format != NULL &&
		    ld->kinds->check_format(pat, f->len, why, sizeof(why),
		        &off) != 0)
			errat(ld, pos_in_scalar(ld, v, off),
			    "bad pattern for format '%s': %s (at offset %zu)",
			    key, why, off);
	}
}

static void
parse_root(struct loader *ld, const yaml_node_t *root)
{
	const yaml_node_t *sec[3] = { NULL, NULL, NULL }, *namev = NULL,
	                  *setv = NULL, *fmtv = NULL;
	const yaml_node_t *seckey[3] = { NULL, NULL, NULL };
	static const char *const secname[3] = { "sources", "stages", "sinks" };
	char kb[256], buf[CLIP_MAX + 4], list[128];
	size_t total = 0, idx = 0, count[3] = { 0, 0, 0 };
	int secbad[3] = { 0, 0, 0 };
	yaml_node_pair_t *pairs;

	if (root->type != YAML_MAPPING_NODE) {
		join_words(list, sizeof(list), top_keys);
		errn(ld, root, "the top level must be a mapping (%s), got %s",
		    list, node_desc(root));
		return;
	}
	pairs = root->data.mapping.pairs.start;
	for (size_t i = 0; i < map_len(root); i++) {
		const yaml_node_t *kn = node_at(ld, pairs[i].key);
		const yaml_node_t *v = node_at(ld, pairs[i].value);
		const char *key;
		int r;

		if (kn == NULL || v == NULL || bad_key(ld, root, i))
			continue;
		key = key_text(kn, kb, sizeof(kb));
		if (strcmp(key, "name") == 0) {
			namev = v;
			continue;
		}
		if (strcmp(key, "settings") == 0) {
			setv = v;
			continue;
		}
		if (strcmp(key, "formats") == 0) {
			fmtv = v;
			continue;
		}
		for (r = 0; r < 3; r++) {
			if (strcmp(key, secname[r]) == 0)
				break;
		}
		if (r < 3) {
			sec[r] = v;
			seckey[r] = kn;
			continue;
		}
		struct suggest sg;
		suggest_init(&sg, key);
		for (size_t j = 0; top_keys[j] != NULL; j++)
			suggest_add(&sg, top_keys[j]);
		if (sg.best != NULL) {
			errn(ld, kn, "unknown top-level key '%s' (did you mean "
			             "'%s'?)",
			    clip(key, buf), sg.best);
		} else {
			join_words(list, sizeof(list), top_keys);
			errn(ld, kn, "unknown top-level key '%s' (known: %s)",
			    clip(key, buf), list);
		}
	}

	if (namev == NULL) {
		errn(ld, root, "missing required key 'name'");
	} else if (namev->type != YAML_SCALAR_NODE || is_null(namev)) {
		errn(ld, namev, "'name' must be a string, got %s",
		    node_desc(namev));
	} else {
		char *s = scalar_dup(ld, namev);
		if (s != NULL && !ls__topo_name_ok(s))
			errn(ld, namev,
			    "bad name '%s': use letters, digits, '_' and '-' "
			    "(at most %d bytes)",
			    clip(s, buf), LS_TOPO_NAME_MAX);
		else
			ld->t->name = s;
	}
	parse_settings(ld, setv);
	parse_formats(ld, fmtv);

	for (int r = 0; r < 3; r++) {
		if (sec[r] == NULL || is_null(sec[r]))
			continue;
		if (sec[r]->type != YAML_SEQUENCE_NODE) {
			errn(ld, sec[r], "'%s' must be a list, got %s",
			    secname[r], node_desc(sec[r]));
			secbad[r] = 1;
			continue;
		}
		count[r] = seq_len(sec[r]);
		total += count[r];
	}
	if (total > UINT32_MAX / 4) {
		errn(ld, root, "too many nodes");
		return;
	}
	ld->nodes = aalloc(ld, total * sizeof(*ld->nodes));
	ld->info = aalloc(ld, total * sizeof(*ld->info));
	if (ld->nodes == NULL || ld->info == NULL)
		return;
	ld->n = total;
	for (int r = 0; r < 3; r++) {
		for (size_t i = 0; i < count[r]; i++) {
			const yaml_node_t *m = node_at(ld,
			    sec[r]->data.sequence.items.start[i]);
			if (m == NULL) {
				ld->info[idx].bad = 1;
				ld->unnamed++;
				idx++;
				continue;
			}
			parse_node(ld, (ls_topo_role)r, m, idx++);
		}
	}
	if (count[LS_TOPO_SOURCE] == 0 && !secbad[LS_TOPO_SOURCE])
		errn(ld, seckey[0] != NULL ? seckey[0] : root,
		    "the topology has no sources");
	if (count[LS_TOPO_SINK] == 0 && !secbad[LS_TOPO_SINK])
		errn(ld, seckey[2] != NULL ? seckey[2] : root,
		    "the topology has no sinks");
}

/* Build the final, topologically ordered node array of t. */
static void
finish(struct loader *ld, const uint32_t *order)
{
	ls_topology *t = ld->t;

	t->nodes = aalloc(ld, ld->n * sizeof(*t->nodes));
	t->nslots = slots_for(ld->n);
	t->slots = aalloc(ld, t->nslots * sizeof(*t->slots));
	if (t->nodes == NULL || t->slots == NULL)
		return;
	for (size_t i = 0; i < ld->n; i++) {
		t->nodes[i] = ld->nodes[order[i]];
		hash_put(t->slots, t->nslots, t->nodes[i].name, i);
	}
	t->n = ld->n;
}

/* The kinds' own checks of what their parameters name (ls_kind.validate),
 * on the finished topology. */
static void
validate_kinds(struct loader *ld)
{
	ls_topology *t = ld->t;

	for (size_t i = 0; i < t->n; i++) {
		const ls_topo_node *n = &t->nodes[i];
		const char *param = NULL;
		char why[512];

		if (n->kind_def == NULL || n->kind_def->validate == NULL ||
		    n->kind_def->validate(t, n, &param, why, sizeof(why)) == 0)
			continue;
		const ls_topo_param *p =
		    param != NULL ? ls_topo_param_get(n, param) : NULL;
		struct pos at = { n->line, n->col };
		if (p != NULL && p->line > 0) {
			at.line = p->line;
			at.col = p->col;
		}
		if (param != NULL)
			errat(ld, at, "%s: %s", param, why);
		else
			errat(ld, at, "%s", why);
	}
}

/* Line and column of byte offset off in the text (for reader errors). */
static struct pos
pos_of_offset(const struct loader *ld, size_t off)
{
	struct pos p = { 1, 1 };

	for (size_t i = 0; i < off && i < ld->len; i++) {
		if (ld->text[i] == '\n') {
			p.line++;
			p.col = 1;
		} else {
			p.col++;
		}
	}
	return p;
}

static void
yaml_problem(struct loader *ld, const yaml_parser_t *ps)
{
	const char *problem = ps->problem ? ps->problem : "unknown problem";

	if (ps->error == YAML_MEMORY_ERROR) {
		ld->oom = 1;
		return;
	}
	if (ps->error == YAML_READER_ERROR) {
		struct pos p = pos_of_offset(ld, ps->problem_offset);
		errat(ld, p, "YAML: %s", problem);
		return;
	}
	struct pos p = { (int)ps->problem_mark.line + 1,
		(int)ps->problem_mark.column + 1 };
	if (ps->context != NULL)
		errat(ld, p, "YAML syntax error: %s (%s at %d:%d)", problem,
		    ps->context, (int)ps->context_mark.line + 1,
		    (int)ps->context_mark.column + 1);
	else
		errat(ld, p, "YAML syntax error: %s", problem);
}

int
ls_topology_parse(const char *filename, const char *text, size_t len,
    ls_topology **out, ls_diag *diag)
{
	return ls_topology_parse_kinds(NULL, filename, text, len, out, diag);
}

int
ls_topology_parse_kinds(const ls_kind_set *kinds, const char *filename,
    const char *text, size_t len, ls_topology **out, ls_diag *diag)
{
	struct loader ld;
	yaml_parser_t parser;
	yaml_document_t doc, next;
	int have_doc = 0, rc;

	if (out == NULL || (text == NULL && len > 0))
		return LS_EINVAL;
	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.kinds = kinds != NULL ? kinds : &ls_kinds;
	ld.file = filename != NULL ? filename : "<topology>";
	ld.text = text != NULL ? text : "";
	ld.len = len;
	ld.doc = &doc;
	ld.t = calloc(1, sizeof(*ld.t));
	if (ld.t == NULL)
		return LS_ENOMEM;
	ls_arena_init(&ld.t->arena, 0);
	ld.t->file = ls_arena_strndup(&ld.t->arena, ld.file, strlen(ld.file));
	if (ld.t->file == NULL)
		ld.oom = 1;

	if (!yaml_parser_initialize(&parser)) {
		ld.oom = 1;
		goto done;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)ld.text,
	    len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_problem(&ld, &parser);
		yaml_parser_delete(&parser);
		goto done;
	}
	have_doc = 1;
	if (yaml_document_get_root_node(&doc) != NULL) {
		if (!yaml_parser_load(&parser, &next)) {
			yaml_problem(&ld, &parser);
		} else {
			yaml_node_t *r = yaml_document_get_root_node(&next);
			if (r != NULL)
				errn(&ld, r, "only one YAML document is "
				             "allowed");
			yaml_document_delete(&next);
		}
	}
	yaml_parser_delete(&parser);
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		struct pos p = { 1, 1 };
		errat(&ld, p, "empty topology file");
		goto done;
	}
	parse_root(&ld, root);
	if (ld.oom)
		goto done;
	link_nodes(&ld);
	if (ld.oom)
		goto done;
	struct graph g;
	uint32_t *order = aalloc(&ld, ld.n * sizeof(*order));
	if (order == NULL || build_graph(&ld, &g) != 0)
		goto done;
	size_t nordered = topo_order(&ld, &g, order);
	if (nordered < ld.n && !ld.oom)
		find_cycles(&ld, &g, order, nordered);
	if (ld.nerr == 0 && !ld.oom)
		finish(&ld, order);
	if (ld.nerr == 0 && !ld.oom)
		validate_kinds(&ld);

done:
	if (have_doc)
		yaml_document_delete(&doc);
	rc = flush_problems(&ld, diag);
	if (ld.oom || rc != 0) {
		ls_topology_free(ld.t);
		return LS_ENOMEM;
	}
	if (ld.nerr > 0) {
		ls_topology_free(ld.t);
		return LS_EPARSE;
	}
	*out = ld.t;
	return 0;
}

int
ls_topology_load(const char *path, ls_topology **out, ls_diag *diag)
{
	return ls_topology_load_kinds(NULL, path, out, diag);
}

int
ls_topology_load_kinds(const ls_kind_set *kinds, const char *path,
    ls_topology **out, ls_diag *diag)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc, e;

	if (path == NULL || out == NULL)
		return LS_EINVAL;
	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL) {
		e = errno;
		if (ls__diag_addf(diag, "%s: cannot open: %s", path,
		        strerror(e)) != 0)
			return LS_ENOMEM;
		return e == ENOENT ? LS_ENOENT : LS_EIO;
	}
	/* Read in growing chunks, so pipes (/dev/stdin) work too. */
	for (;;) {
		if (len == cap) {
			char *nb;
			if (cap >= MAX_FILE_BYTES) {
				free(buf);
				fclose(f);
				return ls__diag_addf(diag, "%s: file too large "
				                           "(over %u bytes)",
				           path, MAX_FILE_BYTES) != 0
				    ? LS_ENOMEM
				    : LS_EPARSE;
			}
			cap = cap ? 2 * cap : 16384;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return LS_ENOMEM;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		e = errno;
		free(buf);
		fclose(f);
		return ls__diag_addf(diag, "%s: cannot read: %s", path,
		           strerror(e)) != 0
		    ? LS_ENOMEM
		    : LS_EIO;
	}
	fclose(f);
	rc = ls_topology_parse_kinds(kinds, path, buf, len, out, diag);
	free(buf);
	return rc;
}

void
ls_topology_free(ls_topology *t)
{
	if (t == NULL)
		return;
	ls_arena_fini(&t->arena);
	free(t);
}

/* ---- accessors -------------------------------------------------------- */

const char *
ls_topology_name(const ls_topology *t)
{
	return t->name;
}

const char *
ls_topology_file(const ls_topology *t)
{
	return t->file;
}

size_t
ls_topology_count(const ls_topology *t)
{
	return t->n;
}

size_t
ls_topology_count_role(const ls_topology *t, ls_topo_role role)
{
	size_t c = 0;

	for (size_t i = 0; i < t->n; i++)
		c += t->nodes[i].role == role;
	return c;
}

const ls_topo_node *
ls_topology_node(const ls_topology *t, size_t i)
{
	return i < t->n ? &t->nodes[i] : NULL;
}

const ls_topo_node *
ls_topology_find(const ls_topology *t, const char *name)
{
	int i = hash_find(t->slots, t->nslots, t->nodes, name);

	return i < 0 ? NULL : &t->nodes[i];
}

int
ls_topology_index(const ls_topology *t, const char *name, uint32_t *out)
{
	int i = hash_find(t->slots, t->nslots, t->nodes, name);

	if (i < 0)
		return LS_ENOENT;
	*out = (uint32_t)i;
	return 0;
}

static const ls_topo_param *
setting(const ls_topology *t, const char *name, ls_topo_vtype type)
{
	for (size_t i = 0; i < t->nsettings; i++) {
		if (strcmp(t->settings[i].name, name) == 0)
			return t->settings[i].type == type ? &t->settings[i]
			                                   : NULL;
	}
	return NULL;
}

int64_t
ls_topology_setting_ms(const ls_topology *t, const char *name, int64_t dflt)
{
	const ls_topo_param *p = setting(t, name, LS_TV_DURATION);

	return p != NULL ? p->ms : dflt;
}

int64_t
ls_topology_setting_int(const ls_topology *t, const char *name, int64_t dflt)
{
	const ls_topo_param *p = setting(t, name, LS_TV_INT);

	return p != NULL ? p->i : dflt;
}

size_t
ls_topology_format_count(const ls_topology *t)
{
	return t->nformats;
}

const ls_topo_format *
ls_topology_format(const ls_topology *t, size_t i)
{
	return i < t->nformats ? &t->formats[i] : NULL;
}

const ls_topo_format *
ls_topology_find_format(const ls_topology *t, const char *name)
{
	return t != NULL && name != NULL ? find_format(t, name) : NULL;
}

int
ls_topology_setting_bool(const ls_topology *t, const char *name, int dflt)
{
	const ls_topo_param *p = setting(t, name, LS_TV_BOOL);

	return p != NULL ? p->b : dflt;
}

const ls_topo_param *
ls_topo_param_get(const ls_topo_node *n, const char *name)
{
	for (size_t i = 0; i < n->nparams; i++) {
		if (strcmp(n->params[i].name, name) == 0)
			return &n->params[i];
	}
	return NULL;
}

static const ls_topo_param *
typed(const ls_topo_node *n, const char *name, ls_topo_vtype type)
{
	const ls_topo_param *p = ls_topo_param_get(n, name);

	return p != NULL && p->type == type ? p : NULL;
}

const char *
ls_topo_str(const ls_topo_node *n, const char *name)
{
	const ls_topo_param *p = typed(n, name, LS_TV_STRING);

	return p != NULL ? p->s : NULL;
}

int64_t
ls_topo_int(const ls_topo_node *n, const char *name)
{
	const ls_topo_param *p = typed(n, name, LS_TV_INT);

	return p != NULL ? p->i : 0;
}

double
ls_topo_float(const ls_topo_node *n, const char *name)
{
	const ls_topo_param *p = typed(n, name, LS_TV_FLOAT);

	return p != NULL ? p->f : 0.0;
}

int64_t
ls_topo_ms(const ls_topo_node *n, const char *name)
{
	const ls_topo_param *p = typed(n, name, LS_TV_DURATION);

	return p != NULL ? p->ms : 0;
}

int
ls_topo_bool(const ls_topo_node *n, const char *name)
{
	const ls_topo_param *p = typed(n, name, LS_TV_BOOL);

	return p != NULL ? p->b : 0;
}

const char **
ls_topo_list(const ls_topo_node *n, const char *name, size_t *count)
{
	const ls_topo_param *p = typed(n, name, LS_TV_LIST);

	*count = p != NULL ? p->nlist : 0;
	return p != NULL ? p->list : NULL;
}
