/*
 * ingest_repl.c -- the ingest logs of `http` sources, replicated (see
 * ingest_repl.h).
 */
#include "cluster/ingest_repl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/ingest.h"
#include "cluster/http.h"
#include "runtime/err.h"
#include "runtime/log.h"
#include "runtime/store.h"
#include "schemas/codec.h"

typedef struct inode {
	uint64_t id;
	int state;
	char http[LS_MAP_MAX_NAME + 64];
} inode;

/* The highest run epoch taken per partition (fencing). */
typedef struct ifence {
	char topo[LS_MAP_MAX_NAME + 1];
	char part[LS_MAP_MAX_NAME + 1];
	uint64_t epoch;
} ifence;

struct ls_irepl {
	ls_store *st;
	uint64_t self;
	pthread_mutex_t lock; /* nodes, fences */
	inode *nodes;
	size_t nnodes;
	ifence *fences;
	size_t nfences, capfences;
};

int
ls_irepl_new(ls_store *st, uint64_t self, ls_irepl **out)
{
	ls_irepl *ir = calloc(1, sizeof(*ir));
	if (ir == NULL)
		return LS_ENOMEM;
	ir->st = st;
	ir->self = self;
	pthread_mutex_init(&ir->lock, NULL);
	*out = ir;
	return 0;
}

void
ls_irepl_free(ls_irepl *ir)
{
	if (ir == NULL)
		return;
	pthread_mutex_destroy(&ir->lock);
	free(ir->nodes);
	free(ir->fences);
	free(ir);
}

void
ls_irepl_nodes(ls_irepl *ir, const ls_map *map)
{
	size_t n = ls_map_node_count(map);
	inode *nodes = calloc(n ? n : 1, sizeof(*nodes));
	if (nodes == NULL)
		return; /* the old table stays */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		ls_map_node mn;
		if (ls_map_node_at(map, i, &mn) != 0 || mn.http == NULL ||
		    mn.http[0] == '\0' ||
		    strlen(mn.http) >= sizeof(nodes[k].http))
			continue;
		nodes[k].id = mn.id;
		nodes[k].state = mn.state;
		memcpy(nodes[k].http, mn.http, strlen(mn.http) + 1);
		k++;
	}
	pthread_mutex_lock(&ir->lock);
	free(ir->nodes);
	ir->nodes = nodes;
	ir->nnodes = k;
	pthread_mutex_unlock(&ir->lock);
}

/* The HTTP address of node id into out; 0 or LS_ENOENT. */
static int
addr_of(ls_irepl *ir, uint64_t id, char *out, size_t cap)
{
	int rv = LS_ENOENT;
	pthread_mutex_lock(&ir->lock);
	for (size_t i = 0; i < ir->nnodes; i++)
		if (ir->nodes[i].id == id) {
			snprintf(out, cap, "%s", ir->nodes[i].http);
			rv = 0;
			break;
		}
	pthread_mutex_unlock(&ir->lock);
	return rv;
}

static int post(ls_irepl *ir, uint64_t node, const uint8_t *body,
    size_t len, int timeout_ms, const char *topology, const char *partition);

int
ls_irepl_push(ls_irepl *ir, const uint64_t *standbys, unsigned n,
    const char *topology, const char *partition, uint64_t epoch,
    uint64_t trim, int sync, uint64_t seq, const void *value, size_t len,
    int timeout_ms)
{
	if (n == 0)
		return 0;
	ls_ingest_wire h = {
		.topology = ls_str_c(topology),
		.partition = ls_str_c(partition),
		.epoch = epoch,
		.trim = trim,
		.sync = sync != 0,
		.node = ir->self,
	};
	ls_ingest_rec_wire rec = { seq, value, len };
	ls_buf b = { 0 };
	int rv = ls_codec_ingest_encode(&h, &rec, 1, &b);
	if (rv == 0 && b.len > LS_IREPL_MAX_BODY)
		rv = LS_ERANGE;
	for (unsigned i = 0; rv == 0 && i < n; i++)
		rv = post(ir, standbys[i], b.data, b.len, timeout_ms, topology,
		    partition);
	ls_buf_free(&b);
	return rv;
}

/* Fence (lock held): 0 when epoch may write (partition, noted), else
 * LS_ESTALE. */
static int
fence_take(ls_irepl *ir, const char *topo, size_t tl, const char *part,
    size_t pl, uint64_t epoch)
{
	for (size_t i = 0; i < ir->nfences; i++) {
		ifence *f = &ir->fences[i];
		if (strlen(f->topo) != tl || memcmp(f->topo, topo, tl) != 0 ||
		    strlen(f->part) != pl || memcmp(f->part, part, pl) != 0)
			continue;
		if (epoch < f->epoch)
			return LS_ESTALE;
		f->epoch = epoch;
		return 0;
	}
	if (tl > LS_MAP_MAX_NAME || pl > LS_MAP_MAX_NAME)
		return LS_ECORRUPT;
	if (ir->nfences == ir->capfences) {
		size_t nc = ir->capfences ? 2 * ir->capfences : 16;
		ifence *f = realloc(ir->fences, nc * sizeof(*f));
		if (f == NULL)
			return LS_ENOMEM;
		ir->fences = f;
		ir->capfences = nc;
	}
	ifence *f = &ir->fences[ir->nfences++];
	memcpy(f->topo, topo, tl);
	f->topo[tl] = '\0';
	memcpy(f->part, part, pl);
	f->part[pl] = '\0';
	f->epoch = epoch;
	return 0;
}

typedef struct take_acc {
	ls_irepl *ir;
	const char *topo, *part;
	int newer_only;
	size_t n;
} take_acc;

static int
take_one(void *arg, const ls_ingest_rec_wire *r)
{
	take_acc *a = arg;
	int rv = ls_ingest_store_put(a->ir->st, a->topo, a->part, r->seq,
	    r->value, r->len, a->newer_only);
	a->n += rv == 0;
	return rv;
}

int
ls_irepl_take(ls_irepl *ir, const void *body, size_t len,
    uint64_t (*owner_of)(void *arg, const char *topology,
        const char *partition),
    void *arg, char *why, size_t whylen)
{
	ls_ingest_wire h;
	int rv = ls_codec_ingest_decode(body, len, &h, NULL, NULL);
	if (rv != 0) {
		snprintf(why, whylen, "not an IngestLog: %s", ls_strerror(rv));
		return LS_ECORRUPT;
	}
	char topo[LS_MAP_MAX_NAME + 1], part[LS_MAP_MAX_NAME + 1];
	if (h.topology.len > LS_MAP_MAX_NAME ||
	    h.partition.len > LS_MAP_MAX_NAME) {
		snprintf(why, whylen, "name too long");
		return LS_ECORRUPT;
	}
	memcpy(topo, h.topology.ptr, h.topology.len);
	topo[h.topology.len] = '\0';
	memcpy(part, h.partition.ptr, h.partition.len);
	part[h.partition.len] = '\0';
	uint64_t owner = owner_of != NULL ? owner_of(arg, topo, part) : 0;
	if (owner != 0 && owner != h.node) {
		snprintf(why, whylen,
		    "node %llu is not the owner of %s %s here (node %llu is)",
		    (unsigned long long)h.node, topo, part,
		    (unsigned long long)owner);
		return LS_ESTALE;
	}
	pthread_mutex_lock(&ir->lock);
	rv = fence_take(ir, topo, strlen(topo), part, strlen(part), h.epoch);
	pthread_mutex_unlock(&ir->lock);
	if (rv != 0) {
		snprintf(why, whylen, "epoch %llu of %s %s is older than one "
		    "taken here", (unsigned long long)h.epoch, topo, part);
		return rv == LS_ESTALE ? LS_ESTALE : LS_ECORRUPT;
	}
	take_acc a = { ir, topo, part, 0, 0 };
	rv = ls_codec_ingest_decode(body, len, &h, take_one, &a);
	if (rv == 0 && h.trim > 1)
		rv = ls_ingest_store_trim(ir->st, topo, part, h.trim);
	if (rv == 0 && h.sync)
		rv = ls_store_sync(ir->st);
	if (rv != 0) {
		snprintf(why, whylen, "cannot store the records: %s",
		    ls_strerror(rv));
		return rv == LS_ECORRUPT ? LS_ECORRUPT : LS_EIO;
	}
	return 0;
}

typedef struct serve_acc {
	ls_ingest_rec_wire *recs;
	void **vals;
	size_t n, cap;
	int err;
} serve_acc;

static int
serve_one(void *arg, uint64_t seq, const void *value, size_t len)
{
	serve_acc *a = arg;
	if (a->n == a->cap) {
		size_t nc = a->cap ? 2 * a->cap : 64;
		ls_ingest_rec_wire *r = realloc(a->recs, nc * sizeof(*r));
		if (r == NULL)
			return LS_ENOMEM;
		a->recs = r;
		void **v = realloc(a->vals, nc * sizeof(*v));
		if (v == NULL)
			return LS_ENOMEM;
		a->vals = v;
		a->cap = nc;
	}
	void *copy = malloc(len ? len : 1);
	if (copy == NULL)
		return LS_ENOMEM;
	memcpy(copy, value, len);
	a->vals[a->n] = copy;
	a->recs[a->n++] = (ls_ingest_rec_wire){ seq, copy, len };
	return 0;
}

int
ls_irepl_serve(ls_irepl *ir, const char *topology, const char *partition,
    uint64_t epoch, uint8_t **buf, size_t *len)
{
	serve_acc a = { 0 };
	int rv = ls_ingest_store_each(ir->st, topology, partition, serve_one,
	    &a);
	if (rv == 0) {
		ls_ingest_wire h = {
			.topology = ls_str_c(topology),
			.partition = ls_str_c(partition),
			.epoch = epoch,
			.sync = 1,
			.node = ir->self,
		};
		ls_buf b = { 0 };
		rv = ls_codec_ingest_encode(&h, a.recs, a.n, &b);
		if (rv == 0) {
			*buf = b.data;
			*len = b.len;
		}
	}
	for (size_t i = 0; i < a.n; i++)
		free(a.vals[i]);
	free(a.vals);
	free(a.recs);
	return rv;
}

/* POST body to node; 0 on a 200. */
static int
post(ls_irepl *ir, uint64_t node, const uint8_t *body, size_t len,
    int timeout_ms, const char *topology, const char *partition)
{
	char addr[LS_MAP_MAX_NAME + 64];
	int rv = addr_of(ir, node, addr, sizeof(addr));
	if (rv != 0)
		return rv;
	int status = 0;
	char *resp = NULL;
	size_t rl = 0;
	rv = ls_http_request(addr, "POST", "/v1/internal/ingest", body, len,
	    &status, &resp, &rl, timeout_ms);
	if (rv == 0 && status != 200) {
		ls_log(LS_LOG_WARN, "ingest",
		    "standby refused records topology=%s partition=%s "
		    "standby=%llu status=%d answer=%.200s",
		    topology, partition, (unsigned long long)node, status,
		    resp != NULL ? resp : "");
		rv = status == 409 ? LS_ESTALE : LS_EIO;
	}
	free(resp);
	return rv;
}

int
ls_irepl_push_log(ls_irepl *ir, uint64_t node, const char *topology,
    const char *partition, uint64_t epoch, int timeout_ms)
{
	uint8_t *b = NULL;
	size_t bl = 0;
	int rv = ls_irepl_serve(ir, topology, partition, epoch, &b, &bl);
	if (rv == 0)
		rv = bl > LS_IREPL_MAX_BODY
		    ? LS_ERANGE
		    : post(ir, node, b, bl, timeout_ms, topology, partition);
	free(b);
	return rv;
}

int
ls_irepl_note(ls_irepl *ir, const char *topology, const char *partition,
    uint64_t inc)
{
	if (topology == NULL || partition == NULL)
		return LS_EINVAL;
	pthread_mutex_lock(&ir->lock);
	int rv = fence_take(ir, topology, strlen(topology), partition,
	    strlen(partition), inc);
	pthread_mutex_unlock(&ir->lock);
	return rv == LS_ESTALE ? 0 : rv; /* a newer one is known: fine */
}

int
ls_irepl_superseded(ls_irepl *ir, const char *topology, const char *partition,
    uint64_t inc)
{
	size_t tl = strlen(topology), pl = strlen(partition);
	int out = 0;
	pthread_mutex_lock(&ir->lock);
	for (size_t i = 0; i < ir->nfences; i++) {
		ifence *f = &ir->fences[i];
		if (strlen(f->topo) == tl && memcmp(f->topo, topology, tl) == 0 &&
		    strlen(f->part) == pl &&
		    memcmp(f->part, partition, pl) == 0) {
			out = f->epoch > inc;
			break;
		}
	}
	pthread_mutex_unlock(&ir->lock);
	return out;
}

int
ls_irepl_pull(ls_irepl *ir, const char *topology, const char *partition,
    uint64_t inc, int timeout_ms, size_t *merged)
{
	inode *nodes = NULL;
	size_t nn = 0;
	pthread_mutex_lock(&ir->lock);
	if (ir->nnodes > 0 &&
	    (nodes = malloc(ir->nnodes * sizeof(*nodes))) != NULL) {
		memcpy(nodes, ir->nodes, ir->nnodes * sizeof(*nodes));
		nn = ir->nnodes;
	}
	pthread_mutex_unlock(&ir->lock);
	char path[1024];
	snprintf(path, sizeof(path),
	    "/v1/internal/ingest?topology=%s&partition=%s&inc=%llu", topology,
	    partition, (unsigned long long)inc);
	int answered = 0;
	size_t total = 0;
	for (size_t i = 0; i < nn; i++) {
		if (nodes[i].id == ir->self || nodes[i].state != LS_NODE_ALIVE)
			continue;
		int status = 0;
		char *resp = NULL;
		size_t rl = 0;
		int rv = ls_http_request(nodes[i].http, "GET", path, NULL, 0,
		    &status, &resp, &rl, timeout_ms);
		if (rv == 0 && status == 200) {
			/* the answer lands 8-byte aligned (malloc'd) */
			ls_ingest_wire h;
			take_acc a = { ir, topology, partition, 1, 0 };
			rv = ls_codec_ingest_decode(resp, rl, &h, take_one, &a);
			if (rv == 0) {
				answered++;
				total += a.n;
			}
		}
		if (rv != 0 || status != 200)
			ls_log(LS_LOG_WARN, "ingest",
			    "cannot get the ingest records of a node "
			    "topology=%s partition=%s node=%llu status=%d "
			    "err=%s",
			    topology, partition,
			    (unsigned long long)nodes[i].id, status,
			    ls_errname(rv));
		free(resp);
	}
	free(nodes);
	if (total > 0)
		(void)ls_store_sync(ir->st);
	if (merged != NULL)
		*merged = total;
	return answered;
}
