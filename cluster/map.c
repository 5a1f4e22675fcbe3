/*
 * map.c -- the cluster map state machine: commands (MapCommand buffers of
 * schemas/cluster.fbs, through the codec), the snapshot codec, validation
 * and deterministic application (formats in map.h).
 *
 * Every command is decoded and checked completely, and every allocation it
 * needs is made, before the map is touched, so a refused or failed command
 * leaves the map exactly as it was.
 */
#include "cluster/map.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/hash.h"
#include "schemas/codec.h"

_Static_assert(LS_MAP_MAX_STANDBYS == LS_WIRE_MAX_STANDBYS,
    "an assignment's standbys must fit the wire struct");

#define CHECK_SEED 0x4c534dull
#define VERSION    3
#define VERSION_MIN 2 /* read: version 2 has no owner epochs */

typedef struct mnode {
	uint64_t id;
	char *name;
	char *url;
	char *http;
	bool voter;
	uint8_t state;
} mnode;

typedef struct mtopo {
	char *name;
	char *yaml;
	uint64_t ckpt; /* last completed checkpoint, 0 = none */
	uint8_t final; /* it was the final one (input ended) */
} mtopo;

/* topology and partition share one allocation (topology first). */
typedef struct massign {
	char *topology;
	char *partition;
	uint64_t owner;
	uint64_t epoch;       /* owner or standbys last changed */
	uint64_t owner_epoch; /* owner last changed (<= epoch) */
	uint8_t n;
	uint64_t sb[LS_MAP_MAX_STANDBYS];
} massign;

struct ls_map {
	uint64_t epoch;
	mnode *nodes;
	size_t n_nodes;
	mtopo *topos;
	size_t n_topos;
	massign *as;
	size_t n_as;
};

/* ---- byte reader ---- */

typedef struct sv {
	const char *p;
	size_t n;
} sv;

typedef struct rd {
	const uint8_t *p;
	size_t left;
} rd;

static int
rd_u8(rd *r, uint8_t *v)
{
	if (r->left < 1)
		return LS_ECORRUPT;
	*v = r->p[0];
	r->p++;
	r->left--;
	return LS_OK;
}

static int
rd_u32(rd *r, uint32_t *v)
{
	if (r->left < 4)
		return LS_ECORRUPT;
	*v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 |
	     (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
	r->p += 4;
	r->left -= 4;
	return LS_OK;
}

static int
rd_u64(rd *r, uint64_t *v)
{
	uint64_t x = 0;
	if (r->left < 8)
		return LS_ECORRUPT;
	for (int i = 7; i >= 0; i--)
		x = x << 8 | r->p[i];
	*v = x;
	r->p += 8;
	r->left -= 8;
	return LS_OK;
}

/* A string of 1..max bytes (0..max if may_be_empty) without NUL bytes. */
static int
rd_str(rd *r, size_t max, bool may_be_empty, sv *s)
{
	uint32_t n;
	int rc = rd_u32(r, &n);
	if (rc != LS_OK)
		return rc;
	if (n > max || n > r->left || (n == 0 && !may_be_empty))
		return LS_ECORRUPT;
	if (n > 0 && memchr(r->p, 0, n) != NULL)
		return LS_ECORRUPT;
	s->p = (const char *)r->p;
	s->n = n;
	r->p += n;
	r->left -= n;
	return LS_OK;
}

static uint32_t
check_of(const uint8_t *hdr, const uint8_t *body, size_t n)
{
	uint64_t seed = ls_hash64(hdr, 12, CHECK_SEED);
	return (uint32_t)ls_hash64(body, n, seed);
}

/* Validates the header; on success r covers the body. */
static int
open_buf(const void *buf, size_t len, const char *magic, uint8_t *type,
    uint8_t *version, rd *r)
{
	const uint8_t *b = buf;
	rd h;
	uint32_t n, check;
	if (buf == NULL || len < LS_MAP_HEADER_LEN)
		return LS_ECORRUPT;
	if (memcmp(b, magic, 4) != 0 || b[4] < VERSION_MIN ||
	    b[4] > VERSION || b[6] != 0 ||
	    b[7] != 0)
		return LS_ECORRUPT;
	h.p = b + 8;
	h.left = 8;
	(void)rd_u32(&h, &n);
	(void)rd_u32(&h, &check);
	if ((size_t)n != len - LS_MAP_HEADER_LEN)
		return LS_ECORRUPT;
	if (check_of(b, b + LS_MAP_HEADER_LEN, n) != check)
		return LS_ECORRUPT;
	*type = b[5];
	*version = b[4];
	r->p = b + LS_MAP_HEADER_LEN;
	r->left = n;
	return LS_OK;
}

/* ---- byte writer ---- */

typedef struct wr {
	uint8_t *b;
	size_t len;
	size_t cap;
	int err;
} wr;

static void
w_bytes(wr *w, const void *p, size_t n)
{
	if (w->err != LS_OK)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		uint8_t *nb = realloc(w->b, cap);
		if (nb == NULL) {
			w->err = LS_ENOMEM;
			return;
		}
		w->b = nb;
		w->cap = cap;
	}
	if (n > 0)
		memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void
w_u8(wr *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void
w_u32(wr *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	                (uint8_t)(v >> 24)};
	w_bytes(w, b, 4);
}

static void
w_u64(wr *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	w_bytes(w, b, 8);
}

static void
w_str(wr *w, const char *s)
{
	size_t n = strlen(s);
	w_u32(w, (uint32_t)n);
	w_bytes(w, s, n);
}

static void
w_begin(wr *w, const char *magic, uint8_t type)
{
	uint8_t h[LS_MAP_HEADER_LEN] = {0};
	memset(w, 0, sizeof(*w));
	memcpy(h, magic, 4);
	h[4] = VERSION;
	h[5] = type;
	w_bytes(w, h, sizeof(h));
}

static int
w_finish(wr *w, uint8_t **buf, size_t *len)
{
	if (w->err == LS_OK && w->len - LS_MAP_HEADER_LEN > UINT32_MAX)
		w->err = LS_ERANGE;
	if (w->err != LS_OK) {
		free(w->b);
		return w->err;
	}
	uint32_t n = (uint32_t)(w->len - LS_MAP_HEADER_LEN);
	for (int i = 0; i < 4; i++)
		w->b[8 + i] = (uint8_t)(n >> (8 * i));
	uint32_t c = check_of(w->b, w->b + LS_MAP_HEADER_LEN, n);
	for (int i = 0; i < 4; i++)
		w->b[12 + i] = (uint8_t)(c >> (8 * i));
	*buf = w->b;
	*len = w->len;
	return LS_OK;
}

/* ---- comparisons ---- */

static int
sv_cmp(sv a, const char *b)
{
	size_t bn = strlen(b);
	size_t n = a.n < bn ? a.n : bn;
	int c = n ? memcmp(a.p, b, n) : 0;
	if (c != 0)
		return c;
	return a.n < bn ? -1 : a.n > bn ? 1 : 0;
}

static bool
sv_eq(sv a, const char *b)
{
	return sv_cmp(a, b) == 0;
}

static char *
sv_dup(sv s)
{
	char *p = malloc(s.n + 1);
	if (p != NULL) {
		if (s.n)
			memcpy(p, s.p, s.n);
		p[s.n] = '\0';
	}
	return p;
}

static int
as_cmp(const char *t1, const char *p1, const char *t2, const char *p2)
{
	int c = strcmp(t1, t2);
	return c != 0 ? c : strcmp(p1, p2);
}

/* ---- lookups ---- */

/* Index of node id, or the insertion point with *found = false. */
static size_t
node_index(const ls_map *m, uint64_t id, bool *found)
{
	size_t lo = 0, hi = m->n_nodes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->nodes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < m->n_nodes && m->nodes[lo].id == id;
	return lo;
}

static size_t
topo_index(const ls_map *m, sv name, bool *found)
{
	size_t lo = 0, hi = m->n_topos;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sv_cmp(name, m->topos[mid].name) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < m->n_topos && sv_eq(name, m->topos[lo].name);
	return lo;
}

/* The range [*lo, *hi) of assignments of a topology. */
static void
as_range(const ls_map *m, sv topo, size_t *lo_out, size_t *hi_out)
{
	size_t lo = 0, hi = m->n_as;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sv_cmp(topo, m->as[mid].topology) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	hi = lo;
	while (hi < m->n_as && sv_eq(topo, m->as[hi].topology))
		hi++;
	*lo_out = lo;
	*hi_out = hi;
}

static bool
node_exists(const ls_map *m, uint64_t id)
{
	bool found;
	(void)node_index(m, id, &found);
	return found;
}

static bool
node_referenced(const ls_map *m, uint64_t id)
{
	for (size_t i = 0; i < m->n_as; i++) {
		if (m->as[i].owner == id)
			return true;
		for (unsigned j = 0; j < m->as[i].n; j++)
			if (m->as[i].sb[j] == id)
				return true;
	}
	return false;
}

/* ---- lifetime ---- */

static void
free_contents(ls_map *m)
{
	for (size_t i = 0; i < m->n_nodes; i++) {
		free(m->nodes[i].name);
		free(m->nodes[i].url);
		free(m->nodes[i].http);
	}
	for (size_t i = 0; i < m->n_topos; i++) {
		free(m->topos[i].name);
		free(m->topos[i].yaml);
	}
	for (size_t i = 0; i < m->n_as; i++)
		free(m->as[i].topology);
	free(m->nodes);
	free(m->topos);
	free(m->as);
	memset(m, 0, sizeof(*m));
}

int
ls_map_new(ls_map **out)
{
	if (out == NULL)
		return LS_EINVAL;
	*out = calloc(1, sizeof(ls_map));
	return *out != NULL ? LS_OK : LS_ENOMEM;
}

void
ls_map_free(ls_map *m)
{
	if (m == NULL)
		return;
	free_contents(m);
	free(m);
}

uint64_t
ls_map_epoch(const ls_map *m)
{
	return m->epoch;
}

/* ---- command decoding ---- */

typedef struct dentry {
	sv part;
	uint64_t owner;
	uint8_t n;
	uint64_t sb[LS_MAP_MAX_STANDBYS];
	char *fresh; /* new key allocation, when the partition is new */
} dentry;

typedef struct dcmd {
	uint8_t type;
	uint64_t id;
	uint8_t u8;
	sv a, b, c;
	uint32_t count;
	dentry *e; /* ASSIGN entries when asked for */
} dcmd;

/* A decoded string of 1..max bytes (0..max if may_be_empty); the codec
 * refused NULs inside. */
static int
take_str(ls_str s, size_t max, bool may_be_empty, sv *out)
{
	if (s.len > max || (s.len == 0 && !may_be_empty))
		return LS_ECORRUPT;
	out->p = s.ptr;
	out->n = s.len;
	return LS_OK;
}

/* Codec callback: ASSIGN entry i of the dcmd arg, checked, and kept when
 * it has room for entries. */
static int
on_entry(void *arg, size_t i, const ls_assign_wire *a)
{
	dcmd *d = arg;
	dentry tmp, *e = d->e != NULL ? &d->e[i] : &tmp;
	if (take_str(a->partition, LS_MAP_MAX_NAME, false, &e->part) != LS_OK ||
	    a->owner == 0 || a->n_standbys > LS_MAP_MAX_STANDBYS)
		return LS_ECORRUPT;
	e->owner = a->owner;
	e->n = a->n_standbys;
	for (unsigned j = 0; j < e->n; j++) {
		if (a->standbys[j] == 0)
			return LS_ECORRUPT;
		e->sb[j] = a->standbys[j];
	}
	e->fresh = NULL;
	return LS_OK;
}

/* Decodes a command (a MapCommand of schemas/cluster.fbs in 8-byte aligned
 * memory) and checks every field its type uses; with want_entries, d->e is
 * a malloc'd array of the ASSIGN entries (caller frees). */
static int
decode(const void *buf, size_t len, dcmd *d, bool want_entries)
{
	ls_map_cmd_wire c;
	int rc;
	memset(d, 0, sizeof(*d));
	if (ls_codec_map_cmd_decode(buf, len, &c, NULL, NULL) != 0)
		return LS_ECORRUPT;
	d->type = c.type;
	switch (d->type) {
	case LS_MAP_CMD_ADD_NODE:
		d->id = c.node;
		d->u8 = c.voter;
		rc = take_str(c.name, LS_MAP_MAX_NAME, false, &d->a);
		if (rc == LS_OK)
			rc = take_str(c.url, LS_MAP_MAX_URL, false, &d->b);
		if (rc == LS_OK)
			rc = take_str(c.http, LS_MAP_MAX_URL, true, &d->c);
		if (rc == LS_OK && d->id == 0)
			rc = LS_ECORRUPT;
		break;
	case LS_MAP_CMD_SET_NODE_STATE:
		d->id = c.node;
		d->u8 = c.state;
		rc = d->id == 0 || d->u8 < LS_NODE_ALIVE || d->u8 > LS_NODE_LEFT
		    ? LS_ECORRUPT
		    : LS_OK;
		break;
	case LS_MAP_CMD_REMOVE_NODE:
		d->id = c.node;
		rc = d->id == 0 ? LS_ECORRUPT : LS_OK;
		break;
	case LS_MAP_CMD_DEPLOY:
		rc = take_str(c.name, LS_MAP_MAX_NAME, false, &d->a);
		if (rc == LS_OK)
			rc = take_str(c.yaml, LS_MAP_MAX_YAML, false, &d->b);
		break;
	case LS_MAP_CMD_UNDEPLOY:
		rc = take_str(c.name, LS_MAP_MAX_NAME, false, &d->a);
		break;
	case LS_MAP_CMD_CHECKPOINT:
		rc = take_str(c.name, LS_MAP_MAX_NAME, false, &d->a);
		d->id = c.checkpoint;
		d->u8 = c.final;
		if (rc == LS_OK && d->id == 0)
			rc = LS_ECORRUPT;
		break;
	case LS_MAP_CMD_ASSIGN: {
		rc = take_str(c.name, LS_MAP_MAX_NAME, false, &d->a);
		d->u8 = c.flags;
		if (rc != LS_OK)
			break;
		if ((d->u8 & ~LS_MAP_ASSIGN_REPLACE) != 0 ||
		    c.nassigns > LS_MAP_MAX_BATCH) {
			rc = LS_ECORRUPT;
			break;
		}
		d->count = (uint32_t)c.nassigns;
		if (want_entries && d->count > 0) {
			d->e = malloc(d->count * sizeof(dentry));
			if (d->e == NULL)
				return LS_ENOMEM;
		}
		if (d->count > 0 &&
		    ls_codec_map_cmd_decode(buf, len, &c, on_entry, d) != 0)
			rc = LS_ECORRUPT;
		break;
	}
	default:
		rc = LS_ECORRUPT;
	}
	if (rc != LS_OK) {
		free(d->e);
		d->e = NULL;
	}
	return rc;
}

/* buf itself when 8-byte aligned (as the codec wants), else a malloc'd
 * copy in *copy (NULL when out of memory). */
static const void *
aligned(const void *buf, size_t len, void **copy)
{
	*copy = NULL;
	if (buf == NULL || (uintptr_t)buf % LS_CODEC_ALIGN == 0)
		return buf;
	*copy = malloc(len > 0 ? len : 1);
	if (*copy != NULL)
		memcpy(*copy, buf, len);
	return *copy;
}

int
ls_map_check(const void *buf, size_t len, int *type)
{
	dcmd d;
	void *copy;
	const void *p = aligned(buf, len, &copy);
	if (p == NULL && buf != NULL)
		return LS_ENOMEM;
	int rc = decode(p, len, &d, false);
	free(copy);
	if (rc == LS_OK && type != NULL)
		*type = d.type;
	return rc;
}

/* ---- apply ---- */

static int
apply_add_node(ls_map *m, const dcmd *d)
{
	bool found;
	size_t i = node_index(m, d->id, &found);
	for (size_t k = 0; k < m->n_nodes; k++)
		if (m->nodes[k].id != d->id && sv_eq(d->a, m->nodes[k].name))
			return LS_EINVAL;
	if (found) {
		mnode *n = &m->nodes[i];
		if (sv_eq(d->a, n->name) && sv_eq(d->b, n->url) &&
		    sv_eq(d->c, n->http) && n->voter == (d->u8 != 0) &&
		    n->state == LS_NODE_ALIVE)
			return LS_OK;
	} else if (m->n_nodes >= LS_MAP_MAX_NODES) {
		return LS_ERANGE;
	}
	char *name = sv_dup(d->a), *url = sv_dup(d->b), *http = sv_dup(d->c);
	mnode *arr = NULL;
	if (name && url && http && !found)
		arr = realloc(m->nodes, (m->n_nodes + 1) * sizeof(mnode));
	if (!name || !url || !http || (!found && arr == NULL)) {
		free(name);
		free(url);
		free(http);
		return LS_ENOMEM;
	}
	if (!found) {
		m->nodes = arr;
		memmove(&arr[i + 1], &arr[i], (m->n_nodes - i) * sizeof(mnode));
		m->n_nodes++;
	} else {
		free(m->nodes[i].name);
		free(m->nodes[i].url);
		free(m->nodes[i].http);
	}
	m->nodes[i] =
	    (mnode){d->id, name, url, http, d->u8 != 0, LS_NODE_ALIVE};
	m->epoch++;
	return LS_OK;
}

static int
apply_set_state(ls_map *m, const dcmd *d)
{
	bool found;
	size_t i = node_index(m, d->id, &found);
	if (!found)
		return LS_ENOENT;
	if (m->nodes[i].state == d->u8)
		return LS_OK;
	m->nodes[i].state = d->u8;
	m->epoch++;
	return LS_OK;
}

static int
apply_remove_node(ls_map *m, const dcmd *d)
{
	bool found;
	size_t i = node_index(m, d->id, &found);
	if (!found)
		return LS_ENOENT;
	if (node_referenced(m, d->id))
		return LS_EBUSY;
	free(m->nodes[i].name);
	free(m->nodes[i].url);
	free(m->nodes[i].http);
	memmove(&m->nodes[i], &m->nodes[i + 1],
	        (m->n_nodes - i - 1) * sizeof(mnode));
	m->n_nodes--;
	m->epoch++;
	return LS_OK;
}

static int
apply_deploy(ls_map *m, const dcmd *d)
{
	bool found;
	size_t i = topo_index(m, d->a, &found);
	if (found && sv_eq(d->b, m->topos[i].yaml))
		return LS_OK;
	if (!found && m->n_topos >= LS_MAP_MAX_TOPOLOGIES)
		return LS_ERANGE;
	char *yaml = sv_dup(d->b);
	if (yaml == NULL)
		return LS_ENOMEM;
	if (found) {
		/* new text: its checkpoints belong to the old one */
		free(m->topos[i].yaml);
		m->topos[i].yaml = yaml;
		m->topos[i].ckpt = 0;
		m->topos[i].final = 0;
		m->epoch++;
		return LS_OK;
	}
	char *name = sv_dup(d->a);
	mtopo *arr =
	    name ? realloc(m->topos, (m->n_topos + 1) * sizeof(mtopo)) : NULL;
	if (arr == NULL) {
		free(name);
		free(yaml);
		return LS_ENOMEM;
	}
	m->topos = arr;
	memmove(&arr[i + 1], &arr[i], (m->n_topos - i) * sizeof(mtopo));
	arr[i] = (mtopo){ name, yaml, 0, 0 };
	m->n_topos++;
	m->epoch++;
	return LS_OK;
}

static int
apply_undeploy(ls_map *m, const dcmd *d)
{
	bool found;
	size_t i = topo_index(m, d->a, &found), lo, hi;
	if (!found)
		return LS_ENOENT;
	as_range(m, d->a, &lo, &hi);
	for (size_t k = lo; k < hi; k++)
		free(m->as[k].topology);
	if (hi > lo && m->n_as > hi)
		memmove(&m->as[lo], &m->as[hi],
		        (m->n_as - hi) * sizeof(massign));
	m->n_as -= hi - lo;
	free(m->topos[i].name);
	free(m->topos[i].yaml);
	memmove(&m->topos[i], &m->topos[i + 1],
	        (m->n_topos - i - 1) * sizeof(mtopo));
	m->n_topos--;
	m->epoch++;
	return LS_OK;
}

/* Checkpoints only move forward; an older or equal id is a no-op. */
static int
apply_checkpoint(ls_map *m, const dcmd *d)
{
	bool found;
	size_t i = topo_index(m, d->a, &found);
	if (!found)
		return LS_ENOENT;
	if (d->id <= m->topos[i].ckpt)
		return LS_OK;
	m->topos[i].ckpt = d->id;
	m->topos[i].final = d->u8;
	m->epoch++;
	return LS_OK;
}

static int
dentry_cmp(const void *a, const void *b)
{
	const dentry *x = a, *y = b;
	size_t n = x->part.n < y->part.n ? x->part.n : y->part.n;
	int c = memcmp(x->part.p, y->part.p, n);
	if (c != 0)
		return c;
	return x->part.n < y->part.n ? -1 : x->part.n > y->part.n ? 1 : 0;
}

static bool
same_placement(const massign *o, const dentry *e)
{
	if (o->owner != e->owner || o->n != e->n)
		return false;
	return e->n == 0 || memcmp(o->sb, e->sb, e->n * sizeof(uint64_t)) == 0;
}

static int
apply_assign(ls_map *m, dcmd *d)
{
	bool found, replace = (d->u8 & LS_MAP_ASSIGN_REPLACE) != 0;
	size_t lo, hi, i, j, merged = 0, dropped = 0;
	bool changed = false;
	int rc = LS_OK;

	(void)topo_index(m, d->a, &found);
	if (!found)
		return LS_ENOENT;
	for (i = 0; i < d->count; i++) {
		dentry *e = &d->e[i];
		if (!node_exists(m, e->owner))
			return LS_ENOENT;
		for (j = 0; j < e->n; j++) {
			if (!node_exists(m, e->sb[j]))
				return LS_ENOENT;
			if (e->sb[j] == e->owner)
				return LS_EINVAL;
			for (size_t k = 0; k < j; k++)
				if (e->sb[k] == e->sb[j])
					return LS_EINVAL;
		}
	}
	if (d->count > 1)
		qsort(d->e, d->count, sizeof(dentry), dentry_cmp);
	for (i = 1; i < d->count; i++)
		if (dentry_cmp(&d->e[i - 1], &d->e[i]) == 0)
			return LS_EINVAL;

	/* Dry merge: count, detect changes, allocate keys of new entries. */
	as_range(m, d->a, &lo, &hi);
	for (i = lo, j = 0; i < hi || j < d->count;) {
		int c = i >= hi ? 1
		        : j >= d->count
		            ? -1
		            : -sv_cmp(d->e[j].part, m->as[i].partition);
		if (c < 0) {
			if (replace) {
				changed = true;
				dropped++;
			} else {
				merged++;
			}
			i++;
		} else if (c == 0) {
			if (!same_placement(&m->as[i], &d->e[j]))
				changed = true;
			merged++;
			i++;
			j++;
		} else {
			size_t tn = d->a.n, pn = d->e[j].part.n;
			char *k = malloc(tn + pn + 2);
			if (k == NULL) {
				rc = LS_ENOMEM;
				goto out;
			}
			memcpy(k, d->a.p, tn);
			k[tn] = '\0';
			memcpy(k + tn + 1, d->e[j].part.p, pn);
			k[tn + 1 + pn] = '\0';
			d->e[j].fresh = k;
			changed = true;
			merged++;
			j++;
		}
	}
	if (!changed)
		goto out;
	size_t total = m->n_as - (hi - lo) + merged;
	if (total > LS_MAP_MAX_ASSIGNMENTS) {
		rc = LS_ERANGE;
		goto out;
	}
	massign *arr = malloc((total ? total : 1) * sizeof(massign));
	if (arr == NULL) {
		rc = LS_ENOMEM;
		goto out;
	}
	uint64_t epoch = m->epoch + 1;
	size_t o = lo;
	if (lo > 0)
		memcpy(arr, m->as, lo * sizeof(massign));
	for (i = lo, j = 0; i < hi || j < d->count;) {
		int c = i >= hi ? 1
		        : j >= d->count
		            ? -1
		            : -sv_cmp(d->e[j].part, m->as[i].partition);
		if (c < 0) {
			if (replace)
				free(m->as[i].topology);
			else
				arr[o++] = m->as[i];
			i++;
			continue;
		}
		dentry *e = &d->e[j];
		massign a;
		if (c == 0) {
			a = m->as[i];
			i++;
			if (same_placement(&a, e)) {
				arr[o++] = a;
				j++;
				continue;
			}
			if (a.owner != e->owner)
				a.owner_epoch = epoch;
		} else {
			a.topology = e->fresh;
			a.partition = e->fresh + d->a.n + 1;
			e->fresh = NULL;
			a.owner_epoch = epoch;
		}
		a.owner = e->owner;
		a.epoch = epoch;
		a.n = e->n;
		memset(a.sb, 0, sizeof(a.sb));
		memcpy(a.sb, e->sb, e->n * sizeof(uint64_t));
		arr[o++] = a;
		j++;
	}
	if (m->n_as > hi)
		memcpy(&arr[o], &m->as[hi], (m->n_as - hi) * sizeof(massign));
	free(m->as);
	m->as = arr;
	m->n_as = total;
	m->epoch = epoch;
	(void)dropped;
out:
	for (i = 0; i < d->count; i++)
		free(d->e[i].fresh);
	return rc;
}

int
ls_map_apply(ls_map *m, const void *buf, size_t len)
{
	dcmd d;
	void *copy;
	int rc;
	if (m == NULL)
		return LS_EINVAL;
	/* the decoded strings point into p until the command is applied */
	const void *p = aligned(buf, len, &copy);
	if (p == NULL && buf != NULL)
		return LS_ENOMEM;
	rc = decode(p, len, &d, true);
	if (rc != LS_OK) {
		free(copy);
		return rc;
	}
	switch (d.type) {
	case LS_MAP_CMD_ADD_NODE:
		rc = apply_add_node(m, &d);
		break;
	case LS_MAP_CMD_SET_NODE_STATE:
		rc = apply_set_state(m, &d);
		break;
	case LS_MAP_CMD_REMOVE_NODE:
		rc = apply_remove_node(m, &d);
		break;
	case LS_MAP_CMD_DEPLOY:
		rc = apply_deploy(m, &d);
		break;
	case LS_MAP_CMD_UNDEPLOY:
		rc = apply_undeploy(m, &d);
		break;
	case LS_MAP_CMD_CHECKPOINT:
		rc = apply_checkpoint(m, &d);
		break;
	default:
		rc = apply_assign(m, &d);
		break;
	}
	free(d.e);
	free(copy);
	return rc;
}

/* ---- readers ---- */

static void
node_out(const mnode *n, ls_map_node *out)
{
	out->id = n->id;
	out->name = n->name;
	out->url = n->url;
	out->http = n->http;
	out->voter = n->voter;
	out->state = n->state;
}

static void
as_out(const massign *a, ls_map_assignment *out)
{
	out->topology = a->topology;
	out->partition = a->partition;
	out->owner = a->owner;
	out->epoch = a->epoch;
	out->owner_epoch = a->owner_epoch;
	out->n_standbys = a->n;
	memcpy(out->standbys, a->sb, sizeof(out->standbys));
}

size_t
ls_map_node_count(const ls_map *m)
{
	return m->n_nodes;
}

int
ls_map_node_at(const ls_map *m, size_t i, ls_map_node *out)
{
	if (i >= m->n_nodes)
		return LS_ENOENT;
	node_out(&m->nodes[i], out);
	return LS_OK;
}

size_t
ls_map_topology_count(const ls_map *m)
{
	return m->n_topos;
}

int
ls_map_topology_at(const ls_map *m, size_t i, const char **name,
                   const char **yaml)
{
	if (i >= m->n_topos)
		return LS_ENOENT;
	if (name != NULL)
		*name = m->topos[i].name;
	if (yaml != NULL)
		*yaml = m->topos[i].yaml;
	return LS_OK;
}

size_t
ls_map_assignment_count(const ls_map *m)
{
	return m->n_as;
}

int
ls_map_assignment_at(const ls_map *m, size_t i, ls_map_assignment *out)
{
	if (i >= m->n_as)
		return LS_ENOENT;
	as_out(&m->as[i], out);
	return LS_OK;
}

int
ls_map_node_find(const ls_map *m, uint64_t id, ls_map_node *out)
{
	bool found;
	size_t i = node_index(m, id, &found);
	if (!found)
		return LS_ENOENT;
	if (out != NULL)
		node_out(&m->nodes[i], out);
	return LS_OK;
}

int
ls_map_topology_find(const ls_map *m, const char *name, const char **yaml)
{
	bool found;
	if (name == NULL)
		return LS_EINVAL;
	size_t i = topo_index(m, (sv){name, strlen(name)}, &found);
	if (!found)
		return LS_ENOENT;
	if (yaml != NULL)
		*yaml = m->topos[i].yaml;
	return LS_OK;
}

int
ls_map_assignment_find(const ls_map *m, const char *topology,
                       const char *partition, ls_map_assignment *out)
{
	size_t lo, hi;
	if (topology == NULL || partition == NULL)
		return LS_EINVAL;
	as_range(m, (sv){topology, strlen(topology)}, &lo, &hi);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(partition, m->as[mid].partition);
		if (c == 0) {
			if (out != NULL)
				as_out(&m->as[mid], out);
			return LS_OK;
		}
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return LS_ENOENT;
}

/* ---- snapshot / restore ---- */

int
ls_map_snapshot(const ls_map *m, uint8_t **buf, size_t *len)
{
	wr w;
	if (m == NULL || buf == NULL || len == NULL)
		return LS_EINVAL;
	w_begin(&w, "LSMS", 0);
	w_u64(&w, m->epoch);
	w_u32(&w, (uint32_t)m->n_nodes);
	for (size_t i = 0; i < m->n_nodes; i++) {
		const mnode *n = &m->nodes[i];
		w_u64(&w, n->id);
		w_u8(&w, n->voter);
		w_u8(&w, n->state);
		w_str(&w, n->name);
		w_str(&w, n->url);
		w_str(&w, n->http);
	}
	w_u32(&w, (uint32_t)m->n_topos);
	for (size_t i = 0; i < m->n_topos; i++) {
		w_str(&w, m->topos[i].name);
		w_str(&w, m->topos[i].yaml);
		w_u64(&w, m->topos[i].ckpt);
		w_u8(&w, m->topos[i].final);
	}
	w_u32(&w, (uint32_t)m->n_as);
	for (size_t i = 0; i < m->n_as; i++) {
		const massign *a = &m->as[i];
		w_str(&w, a->topology);
		w_str(&w, a->partition);
		w_u64(&w, a->owner);
		w_u64(&w, a->epoch);
		w_u64(&w, a->owner_epoch);
		w_u8(&w, a->n);
		for (unsigned j = 0; j < a->n; j++)
			w_u64(&w, a->sb[j]);
	}
	return w_finish(&w, buf, len);
}

static int
restore_into(ls_map *t, rd *r, uint8_t version)
{
	uint32_t n;
	int rc;
	sv a, b, c;

	if ((rc = rd_u64(r, &t->epoch)) != LS_OK ||
	    (rc = rd_u32(r, &n)) != LS_OK)
		return rc;
	/* A node takes at least 22 bytes. */
	if (n > LS_MAP_MAX_NODES || (size_t)n * 22 > r->left)
		return LS_ECORRUPT;
	t->nodes = calloc(n ? n : 1, sizeof(mnode));
	if (t->nodes == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		mnode *x = &t->nodes[i];
		uint8_t voter, state;
		if ((rc = rd_u64(r, &x->id)) != LS_OK ||
		    (rc = rd_u8(r, &voter)) != LS_OK ||
		    (rc = rd_u8(r, &state)) != LS_OK ||
		    (rc = rd_str(r, LS_MAP_MAX_NAME, false, &a)) != LS_OK ||
		    (rc = rd_str(r, LS_MAP_MAX_URL, false, &b)) != LS_OK ||
		    (rc = rd_str(r, LS_MAP_MAX_URL, true, &c)) != LS_OK)
			return rc;
		if (x->id == 0 || voter > 1 || state < LS_NODE_ALIVE ||
		    state > LS_NODE_LEFT || (i > 0 && x->id <= x[-1].id))
			return LS_ECORRUPT;
		for (uint32_t k = 0; k < i; k++)
			if (sv_eq(a, t->nodes[k].name))
				return LS_ECORRUPT;
		x->voter = voter;
		x->state = state;
		x->name = sv_dup(a);
		x->url = sv_dup(b);
		x->http = sv_dup(c);
		t->n_nodes = i + 1;
		if (!x->name || !x->url || !x->http)
			return LS_ENOMEM;
	}
	if ((rc = rd_u32(r, &n)) != LS_OK)
		return rc;
	if (n > LS_MAP_MAX_TOPOLOGIES || (size_t)n * 19 > r->left)
		return LS_ECORRUPT;
	t->topos = calloc(n ? n : 1, sizeof(mtopo));
	if (t->topos == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		mtopo *x = &t->topos[i];
		if ((rc = rd_str(r, LS_MAP_MAX_NAME, false, &a)) != LS_OK ||
		    (rc = rd_str(r, LS_MAP_MAX_YAML, false, &b)) != LS_OK ||
		    (rc = rd_u64(r, &x->ckpt)) != LS_OK ||
		    (rc = rd_u8(r, &x->final)) != LS_OK)
			return rc;
		if ((i > 0 && sv_cmp(a, x[-1].name) <= 0) || x->final > 1)
			return LS_ECORRUPT;
		x->name = sv_dup(a);
		x->yaml = sv_dup(b);
		t->n_topos = i + 1;
		if (!x->name || !x->yaml)
			return LS_ENOMEM;
	}
	if ((rc = rd_u32(r, &n)) != LS_OK)
		return rc;
	/* An assignment takes at least 27 bytes. */
	if (n > LS_MAP_MAX_ASSIGNMENTS || (size_t)n * 27 > r->left)
		return LS_ECORRUPT;
	t->as = calloc(n ? n : 1, sizeof(massign));
	if (t->as == NULL)
		return LS_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		massign *x = &t->as[i];
		bool found;
		if ((rc = rd_str(r, LS_MAP_MAX_NAME, false, &a)) != LS_OK ||
		    (rc = rd_str(r, LS_MAP_MAX_NAME, false, &b)) != LS_OK ||
		    (rc = rd_u64(r, &x->owner)) != LS_OK ||
		    (rc = rd_u64(r, &x->epoch)) != LS_OK ||
		    (version >= 3 && (rc = rd_u64(r, &x->owner_epoch)) != LS_OK) ||
		    (rc = rd_u8(r, &x->n)) != LS_OK)
			return rc;
		if (version < 3)
			x->owner_epoch = x->epoch; /* as if the owner moved then */
		if (x->n > LS_MAP_MAX_STANDBYS || x->epoch > t->epoch ||
		    x->owner_epoch > x->epoch || x->owner_epoch == 0)
			return LS_ECORRUPT;
		(void)topo_index(t, a, &found);
		if (!found || !node_exists(t, x->owner))
			return LS_ECORRUPT;
		for (unsigned j = 0; j < x->n; j++) {
			if ((rc = rd_u64(r, &x->sb[j])) != LS_OK)
				return rc;
			if (!node_exists(t, x->sb[j]) || x->sb[j] == x->owner)
				return LS_ECORRUPT;
			for (unsigned k = 0; k < j; k++)
				if (x->sb[k] == x->sb[j])
					return LS_ECORRUPT;
		}
		char *key = malloc(a.n + b.n + 2);
		if (key == NULL)
			return LS_ENOMEM;
		memcpy(key, a.p, a.n);
		key[a.n] = '\0';
		memcpy(key + a.n + 1, b.p, b.n);
		key[a.n + 1 + b.n] = '\0';
		x->topology = key;
		x->partition = key + a.n + 1;
		t->n_as = i + 1;
		if (i > 0 && as_cmp(x[-1].topology, x[-1].partition,
		                    x->topology, x->partition) >= 0)
			return LS_ECORRUPT;
	}
	return r->left == 0 ? LS_OK : LS_ECORRUPT;
}

int
ls_map_restore(ls_map *m, const void *buf, size_t len)
{
	ls_map t;
	rd r;
	uint8_t type, version;
	int rc;
	if (m == NULL)
		return LS_EINVAL;
	rc = open_buf(buf, len, "LSMS", &type, &version, &r);
	if (rc == LS_OK && type != 0)
		rc = LS_ECORRUPT;
	if (rc != LS_OK)
		return rc;
	memset(&t, 0, sizeof(t));
	rc = restore_into(&t, &r, version);
	if (rc != LS_OK) {
		free_contents(&t);
		return rc;
	}
	free_contents(m);
	*m = t;
	return LS_OK;
}

int
ls_map_copy(const ls_map *m, ls_map **out)
{
	uint8_t *buf;
	size_t len;
	int rc;
	if (m == NULL || out == NULL)
		return LS_EINVAL;
	rc = ls_map_snapshot(m, &buf, &len);
	if (rc != LS_OK)
		return rc;
	rc = ls_map_new(out);
	if (rc == LS_OK) {
		rc = ls_map_restore(*out, buf, len);
		if (rc != LS_OK) {
			ls_map_free(*out);
			*out = NULL;
		}
	}
	free(buf);
	return rc;
}

bool
ls_map_equal(const ls_map *a, const ls_map *b)
{
	if (a->epoch != b->epoch || a->n_nodes != b->n_nodes ||
	    a->n_topos != b->n_topos || a->n_as != b->n_as)
		return false;
	for (size_t i = 0; i < a->n_nodes; i++) {
		const mnode *x = &a->nodes[i], *y = &b->nodes[i];
		if (x->id != y->id || x->voter != y->voter ||
		    x->state != y->state || strcmp(x->name, y->name) ||
		    strcmp(x->url, y->url) || strcmp(x->http, y->http))
			return false;
	}
	for (size_t i = 0; i < a->n_topos; i++)
		if (strcmp(a->topos[i].name, b->topos[i].name) ||
		    strcmp(a->topos[i].yaml, b->topos[i].yaml) ||
		    a->topos[i].ckpt != b->topos[i].ckpt ||
		    a->topos[i].final != b->topos[i].final)
			return false;
	for (size_t i = 0; i < a->n_as; i++) {
		const massign *x = &a->as[i], *y = &b->as[i];
		if (as_cmp(x->topology, x->partition, y->topology,
		           y->partition) != 0 ||
		    x->owner != y->owner || x->epoch != y->epoch ||
		    x->owner_epoch != y->owner_epoch ||
		    x->n != y->n ||
		    memcmp(x->sb, y->sb, x->n * sizeof(uint64_t)) != 0)
			return false;
	}
	return true;
}

/* ---- command builders ---- */

static bool
str_ok(const char *s, size_t max, bool may_be_empty)
{
	if (s == NULL)
		return false;
	size_t n = strlen(s);
	return n <= max && (n > 0 || may_be_empty);
}

static ls_str
wstr(const char *s)
{
	return ls_str_make(s, (uint32_t)strlen(s));
}

/* Encode c into a new malloc'd *buf of *len bytes. */
static int
cmd_encode(const ls_map_cmd_wire *c, uint8_t **buf, size_t *len)
{
	ls_buf b = { NULL, 0 };
	int rc = ls_codec_map_cmd_encode(c, &b);
	if (rc != LS_OK)
		return rc;
	*buf = b.data;
	*len = b.len;
	return LS_OK;
}

int
ls_map_cmd_add_node(const ls_map_node *node, uint8_t **buf, size_t *len)
{
	if (node == NULL || buf == NULL || len == NULL || node->id == 0 ||
	    !str_ok(node->name, LS_MAP_MAX_NAME, false) ||
	    !str_ok(node->url, LS_MAP_MAX_URL, false) ||
	    !str_ok(node->http != NULL ? node->http : "", LS_MAP_MAX_URL, true))
		return LS_EINVAL;
	ls_map_cmd_wire c = {
		.type = LS_MAP_CMD_ADD_NODE,
		.node = node->id,
		.voter = node->voter ? 1 : 0,
		.name = wstr(node->name),
		.url = wstr(node->url),
		.http = wstr(node->http != NULL ? node->http : ""),
	};
	return cmd_encode(&c, buf, len);
}

int
ls_map_cmd_set_node_state(uint64_t id, int state, uint8_t **buf, size_t *len)
{
	if (buf == NULL || len == NULL || id == 0 || state < LS_NODE_ALIVE ||
	    state > LS_NODE_LEFT)
		return LS_EINVAL;
	ls_map_cmd_wire c = { .type = LS_MAP_CMD_SET_NODE_STATE, .node = id,
		.state = (uint8_t)state };
	return cmd_encode(&c, buf, len);
}

int
ls_map_cmd_remove_node(uint64_t id, uint8_t **buf, size_t *len)
{
	if (buf == NULL || len == NULL || id == 0)
		return LS_EINVAL;
	ls_map_cmd_wire c = { .type = LS_MAP_CMD_REMOVE_NODE, .node = id };
	return cmd_encode(&c, buf, len);
}

int
ls_map_cmd_deploy(const char *name, const char *yaml, uint8_t **buf,
                  size_t *len)
{
	if (buf == NULL || len == NULL || !str_ok(name, LS_MAP_MAX_NAME, false))
		return LS_EINVAL;
	if (!str_ok(yaml, LS_MAP_MAX_YAML, false))
		return yaml == NULL || *yaml == '\0' ? LS_EINVAL : LS_ERANGE;
	ls_map_cmd_wire c = { .type = LS_MAP_CMD_DEPLOY, .name = wstr(name),
		.yaml = wstr(yaml) };
	return cmd_encode(&c, buf, len);
}

int
ls_map_cmd_checkpoint(const char *topology, uint64_t ckpt, int final,
                      uint8_t **buf, size_t *len)
{
	if (buf == NULL || len == NULL || ckpt == 0 ||
	    !str_ok(topology, LS_MAP_MAX_NAME, false))
		return LS_EINVAL;
	ls_map_cmd_wire c = { .type = LS_MAP_CMD_CHECKPOINT,
		.name = wstr(topology), .checkpoint = ckpt,
		.final = final ? 1 : 0 };
	return cmd_encode(&c, buf, len);
}

int
ls_map_topology_checkpoint(const ls_map *m, const char *name, uint64_t *ckpt,
                           int *final)
{
	bool found;
	if (m == NULL || name == NULL)
		return LS_EINVAL;
	size_t i = topo_index(m, (sv){ name, strlen(name) }, &found);
	if (!found)
		return LS_ENOENT;
	if (ckpt != NULL)
		*ckpt = m->topos[i].ckpt;
	if (final != NULL)
		*final = m->topos[i].final;
	return LS_OK;
}

uint64_t
ls_map_run_epoch(const ls_map *m, const char *topology)
{
	uint64_t e = 0;
	size_t lo, hi;
	if (m == NULL || topology == NULL)
		return 0;
	as_range(m, (sv){ topology, strlen(topology) }, &lo, &hi);
	for (size_t k = lo; k < hi; k++)
		if (m->as[k].epoch > e)
			e = m->as[k].epoch;
	return e;
}

int
ls_map_cmd_undeploy(const char *name, uint8_t **buf, size_t *len)
{
	if (buf == NULL || len == NULL || !str_ok(name, LS_MAP_MAX_NAME, false))
		return LS_EINVAL;
	ls_map_cmd_wire c = { .type = LS_MAP_CMD_UNDEPLOY, .name = wstr(name) };
	return cmd_encode(&c, buf, len);
}

int
ls_map_cmd_assign(const char *topology, unsigned flags,
                  const ls_map_assignment *a, size_t n, uint8_t **buf,
                  size_t *len)
{
	if (buf == NULL || len == NULL ||
	    !str_ok(topology, LS_MAP_MAX_NAME, false) ||
	    (flags & ~LS_MAP_ASSIGN_REPLACE) != 0 || (n > 0 && a == NULL))
		return LS_EINVAL;
	if (n > LS_MAP_MAX_BATCH)
		return LS_ERANGE;
	for (size_t i = 0; i < n; i++) {
		if (!str_ok(a[i].partition, LS_MAP_MAX_NAME, false) ||
		    a[i].owner == 0 || a[i].n_standbys > LS_MAP_MAX_STANDBYS)
			return LS_EINVAL;
		for (unsigned j = 0; j < a[i].n_standbys; j++)
			if (a[i].standbys[j] == 0)
				return LS_EINVAL;
	}
	ls_assign_wire *wa = n > 0 ? malloc(n * sizeof(*wa)) : NULL;
	if (n > 0 && wa == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		wa[i].partition = wstr(a[i].partition);
		wa[i].owner = a[i].owner;
		wa[i].n_standbys = (uint8_t)a[i].n_standbys;
		memcpy(wa[i].standbys, a[i].standbys,
		    sizeof(wa[i].standbys));
	}
	ls_map_cmd_wire c = { .type = LS_MAP_CMD_ASSIGN,
		.name = wstr(topology), .flags = (uint8_t)flags,
		.assigns = wa, .nassigns = n };
	int rc = cmd_encode(&c, buf, len);
	free(wa);
	return rc;
}

const char *
ls_map_node_state_name(int state)
{
	switch (state) {
	case LS_NODE_ALIVE:
		return "alive";
	case LS_NODE_SUSPECT:
		return "suspect";
	case LS_NODE_DEAD:
		return "dead";
	case LS_NODE_LEFT:
		return "left";
	default:
		return "?";
	}
}
