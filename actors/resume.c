/*
 * resume.c -- the checkpoint coordinator of a single-node run, its state in
 * DIR/state, and the restore from it (see resume.h).
 *
 * Actors hand their states to hook_save (actor threads).  Each state is
 * stored at once under (topology, checkpoint id, "stage/partition"); the
 * hook counts, per id, the actors that saved it.  Id k is complete when
 * every actor saved k or saved its final state (it had ended) at an id
 * below k.  Completing k is one atomic batch: the final states of actors
 * that ended before k are copied under k (so every actor's state for k
 * sits under k, and older ids can be deleted), and the run record says
 * "k is complete".  Then the WAL is synced once, ids below k are deleted,
 * and the command's thread (ls_resume_poll) tells the sinks to write k's
 * output.  Nothing is written for k before the record says it is
 * complete, so a restore from the record's checkpoint finds every sink
 * holding the output of k that may or may not have been written (the sink
 * makes that rewrite exact, see sink_actor.c).
 *
 * The run record, raw key 'r' 0x00 "run", little endian:
 *
 *   offset  size  field
 *   0       1     version (1)
 *   1       1     flags: 1 = the run finished (every sink wrote its final
 *                 output), 2 = the complete checkpoint is the final one
 *   2       8     fingerprint: XXH3-64 of the topology file's bytes
 *   10      8     epoch of the run that wrote the record (1, 2, ...)
 *   18      8     last complete checkpoint id (0 = none)
 *   26      8     wall-clock time it completed, ns since 1970
 *   34      4     number of plan actors
 *   38      N     topology name, 0x00, topology file name as given
 *
 * Every run bumps the epoch before it starts; its checkpoint ids are
 * epoch << 32 | n, so they are above every id of the runs before it.
 */
#include "actors/resume.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/ingest.h"
#include "actors/kafka.h"
#include "actors/sinkfmt.h"
#include "runtime/actor.h"
#include "runtime/hash.h"
#include "topology/kind.h"
#include "runtime/le.h"
#include "runtime/log.h"
#include "runtime/store.h"

#define REC_KEY     "r\0run"
#define REC_KEY_LEN 5
#define REC_VERSION 1
#define REC_FIXED   38
/* a topology file bigger than this is odd */
#define FILE_MAX            (64u << 20)
#define FIRST_CHECKPOINT_MS 50

enum { REC_FINISHED = 1, REC_FINAL = 2 };

typedef struct rec {
	uint8_t flags;
	uint64_t fingerprint;
	uint64_t epoch;
	uint64_t complete;
	int64_t complete_ns;
	uint32_t nactors;
	char name[LS_TOPO_NAME_MAX + 1];
	char file[1024];
} rec;

typedef struct actor_st {
	uint64_t last;       /* last id saved */
	uint64_t final_id;   /* 0 until the actor saved its final state */
	uint8_t *final_blob; /* that state (may be NULL: empty) */
	size_t final_len;
} actor_st;

typedef struct pend {
	uint64_t id;
	uint32_t n; /* actors that saved id */
} pend;

struct ls_resume {
	const ls_topology *t;
	const ls_plan *plan;
	const char *topo; /* the topology's name: the store's namespace */
	size_t nactors;
	ls_store *store;
	uint64_t from; /* restored checkpoint, 0 = fresh */
	int64_t from_ns;
	char where[512];    /* source positions at from */
	_Atomic(ls_pipeline *) pl; /* set by ls_resume_started */
	uint64_t committed; /* told the sinks (command thread) */
	_Atomic uint64_t complete;

	pthread_mutex_t lock; /* everything below */
	rec rec;
	actor_st *act;
	pend *pend;
	size_t npend, cappend;
};

/* ---- the run record ---- */

#define REC_MAX (REC_FIXED + LS_TOPO_NAME_MAX + 1 + 1024)

/* Encode r into b (REC_MAX bytes); returns the length. */
static size_t
rec_encode(const rec *r, uint8_t *b)
{
	size_t nl = strlen(r->name), fl = strlen(r->file);
	b[0] = REC_VERSION;
	b[1] = r->flags;
	ls_le_put(b + 2, r->fingerprint, 8);
	ls_le_put(b + 10, r->epoch, 8);
	ls_le_put(b + 18, r->complete, 8);
	ls_le_put(b + 26, (uint64_t)r->complete_ns, 8);
	ls_le_put(b + 34, r->nactors, 4);
	memcpy(b + REC_FIXED, r->name, nl + 1);
	memcpy(b + REC_FIXED + nl + 1, r->file, fl);
	return REC_FIXED + nl + 1 + fl;
}

static int
rec_put(ls_store *s, const rec *r)
{
	uint8_t b[REC_MAX];
	size_t n = rec_encode(r, b);
	return ls_store_put(s, REC_KEY, REC_KEY_LEN, b, n);
}

/* 0, LS_ENOENT (no record) or LS_ECORRUPT. */
static int
rec_get(ls_store *s, rec *r)
{
	void *v;
	size_t vl;
	int rv = ls_store_get(s, REC_KEY, REC_KEY_LEN, &v, &vl);
	if (rv != 0)
		return rv;
	const uint8_t *b = v;
	rv = LS_ECORRUPT;
	memset(r, 0, sizeof(*r));
	if (vl < REC_FIXED + 1 || b[0] != REC_VERSION)
		goto out;
	const uint8_t *nul = memchr(b + REC_FIXED, 0, vl - REC_FIXED);
	if (nul == NULL)
		goto out;
	size_t nl = (size_t)(nul - (b + REC_FIXED));
	size_t fl = vl - REC_FIXED - nl - 1;
	if (nl >= sizeof(r->name) || fl >= sizeof(r->file))
		goto out;
	r->flags = b[1];
	r->fingerprint = ls_le_get(b + 2, 8);
	r->epoch = ls_le_get(b + 10, 8);
	r->complete = ls_le_get(b + 18, 8);
	r->complete_ns = (int64_t)ls_le_get(b + 26, 8);
	r->nactors = (uint32_t)ls_le_get(b + 34, 4);
	memcpy(r->name, b + REC_FIXED, nl);
	memcpy(r->file, nul + 1, fl);
	rv = 0;
out:
	free(v);
	return rv;
}

/* ---- pipeline hooks (actor threads) ---- */

static const char *
part_name(const ls_resume *r, size_t i)
{
	return ls_plan_actor_at(r->plan, i)->name;
}

static pend *
pend_get(ls_resume *r, uint64_t id)
{
	for (size_t i = 0; i < r->npend; i++)
		if (r->pend[i].id == id)
			return &r->pend[i];
	if (r->npend == r->cappend) {
		size_t nc = r->cappend ? r->cappend * 2 : 8;
		pend *n = realloc(r->pend, nc * sizeof(*n));
		if (n == NULL)
			return NULL;
		r->pend = n;
		r->cappend = nc;
	}
	r->pend[r->npend] = (pend){id, 0};
	return &r->pend[r->npend++];
}

/* Has every actor saved id, or ended below it?  (lock held) */
static int
is_complete(const ls_resume *r, const pend *p)
{
	size_t n = p->n;
	for (size_t a = 0; a < r->nactors; a++)
		if (r->act[a].final_id != 0 && r->act[a].final_id < p->id)
			n++;
	return n >= r->nactors;
}

/* Record the largest complete id above the last one, if any.  (lock
 * held) */
static void
try_complete(ls_resume *r)
{
	uint64_t cur = atomic_load(&r->complete), best = 0;
	for (size_t i = 0; i < r->npend; i++)
		if (r->pend[i].id > cur && r->pend[i].id > best &&
		    is_complete(r, &r->pend[i]))
			best = r->pend[i].id;
	if (best == 0)
		return;
	int all_final = 1;
	ls_store_batch *b;
	if (ls_store_batch_new(&b) != 0)
		return; /* a later checkpoint completes instead */
	for (size_t a = 0; a < r->nactors; a++) {
		const actor_st *s = &r->act[a];
		if (s->final_id == 0 || s->final_id > best)
			all_final = 0;
		else if (s->final_id < best)
			ls_store_batch_ckpt_put(
			    b, r->topo, best, part_name(r, a),
			    s->final_blob != NULL ? s->final_blob
			                          : (const uint8_t *)"",
			    s->final_len);
	}
	rec nr = r->rec;
	nr.complete = best;
	nr.complete_ns = ls_wall_ns();
	nr.flags = (uint8_t)(all_final ? REC_FINAL : 0);
	uint8_t enc[REC_MAX];
	ls_store_batch_put(b, REC_KEY, REC_KEY_LEN, enc, rec_encode(&nr, enc));
	int rv = ls_store_batch_commit(r->store, b);
	ls_store_batch_free(b);
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "resume",
		       "cannot record a complete checkpoint ckpt=%llu err=%s",
		       (unsigned long long)best, ls_errname(rv));
		return;
	}
	r->rec = nr;
	/* durable before any sink writes its output (power loss too) */
	if ((rv = ls_store_sync(r->store)) != 0)
		ls_log(LS_LOG_WARN, "resume", "cannot sync the state err=%s",
		       ls_errname(rv));
	/* partitions on keyed state restore from their folded base and the
	 * blobs after it (actors/kstate.h): keep those */
	ls_pipeline *pl = atomic_load(&r->pl);
	uint64_t floor = pl != NULL ? ls_pipeline_state_floor(pl) : 0;
	uint64_t keep_from = floor < best ? floor + 1 : best;
	if (keep_from > 1 &&
	    (rv = ls_store_ckpt_gc(r->store, r->topo, keep_from)) != 0)
		ls_log(LS_LOG_WARN, "resume",
		       "cannot delete old checkpoints err=%s", ls_errname(rv));
	size_t keep = 0;
	for (size_t i = 0; i < r->npend; i++)
		if (r->pend[i].id > best)
			r->pend[keep++] = r->pend[i];
	r->npend = keep;
	ls_log(LS_LOG_DEBUG, "resume",
	       "checkpoint complete topology=%s ckpt=%llu final=%d", r->topo,
	       (unsigned long long)best, all_final);
	atomic_store(&r->complete, best);
}

static void
hook_save(void *arg, size_t i, uint64_t ckpt, int final, uint8_t *blob,
          size_t len)
{
	ls_resume *r = arg;
	if (i >= r->nactors) {
		free(blob);
		return;
	}
	int rv =
	    ls_store_ckpt_put(r->store, r->topo, ckpt, part_name(r, i),
	                      blob != NULL ? blob : (const uint8_t *)"", len);
	if (rv != 0) {
		/* this checkpoint will not complete; a later one may */
		ls_log(LS_LOG_ERROR, "resume",
		       "cannot store checkpoint partition=%s ckpt=%llu err=%s",
		       part_name(r, i), (unsigned long long)ckpt,
		       ls_errname(rv));
		free(blob);
		return;
	}
	pthread_mutex_lock(&r->lock);
	actor_st *s = &r->act[i];
	if (ckpt > s->last) {
		s->last = ckpt;
		pend *p = pend_get(r, ckpt);
		if (p != NULL)
			p->n++;
	}
	if (final && s->final_id == 0 && ckpt == s->last) {
		s->final_id = ckpt;
		s->final_blob = blob; /* kept: copied under later ids */
		s->final_len = len;
		blob = NULL;
	}
	try_complete(r);
	pthread_mutex_unlock(&r->lock);
	free(blob);
}

static int
hook_load(void *arg, size_t i, uint8_t **blob, size_t *len)
{
	ls_resume *r = arg;
	if (r->from == 0)
		return LS_ENOENT;
	void *b;
	int rv = ls_store_ckpt_get(r->store, r->topo, r->from, part_name(r, i),
	                           &b, len);
	if (rv == LS_ENOENT) {
		/* a complete checkpoint holds every actor's state */
		ls_log(LS_LOG_ERROR, "resume",
		       "checkpoint state missing partition=%s ckpt=%llu",
		       part_name(r, i), (unsigned long long)r->from);
		return LS_ECORRUPT;
	}
	if (rv == 0)
		*blob = b;
	return rv;
}

/* ---- opening ---- */

static int
read_file(const char *path, uint64_t *hash)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return LS_EIO;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rv = 0;
	for (;;) {
		if (len == cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb = nc <= FILE_MAX ? realloc(buf, nc) : NULL;
			if (nb == NULL) {
				rv = LS_ENOMEM;
				break;
			}
			buf = nb;
			cap = nc;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0) {
			if (ferror(f))
				rv = LS_EIO;
			break;
		}
		len += n;
	}
	fclose(f);
	if (rv == 0)
		*hash = ls_hash64(buf, len, 0);
	free(buf);
	return rv;
}

static int
any_key(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)arg;
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	return 1;
}

/* Where every source continues: decodes the sources' saved positions
 * (source_actor.c: u8 version 1, u8 ended, u64 position -- version 3
 * adds the file's device and inode; version 5, a file source's files:
 * u8 ended, u32 count, then per file device, inode, offset and name;
 * kafka: u8 version 2, u8 ended, partition positions). */
static void
describe_sources(ls_resume *r)
{
	size_t used = 0;
	r->where[0] = '\0';
	for (size_t i = 0; i < r->nactors; i++) {
		const ls_plan_actor *pa = ls_plan_actor_at(r->plan, i);
		const ls_topo_node *n = ls_topology_node(r->t, pa->node);
		if (n->role != LS_TOPO_SOURCE)
			continue;
		void *v;
		size_t vl;
		if (ls_store_ckpt_get(r->store, r->topo, r->from, pa->name, &v,
		                      &vl) != 0)
			continue;
		const uint8_t *b = v;
		int w = 0;
		if ((vl == 10 && b[0] == 1) || (vl == 26 && b[0] == 3)) {
			unsigned long long pos = ls_le_get(b + 2, 8);
			const char *sep = used > 0 ? ", " : "";
			if (b[1] != 0)
				w = snprintf(r->where + used,
				             sizeof(r->where) - used,
				             "%s%s had ended", sep, n->name);
			else
				w = snprintf(
				    r->where + used, sizeof(r->where) - used,
				    "%s%s at %s %llu", sep, n->name,
				    n->kind_def->position != NULL
				        ? n->kind_def->position : "position",
				    pos);
		}
		if (vl >= 6 && b[0] == 5) {
			const char *sep = used > 0 ? ", " : "";
			unsigned long long nf = ls_le_get(b + 2, 4);
			if (b[1] != 0)
				w = snprintf(r->where + used,
				    sizeof(r->where) - used, "%s%s had ended",
				    sep, n->name);
			else if (nf == 1 && vl >= 6 + 26)
				w = snprintf(r->where + used,
				    sizeof(r->where) - used, "%s%s at byte %llu",
				    sep, n->name,
				    (unsigned long long)ls_le_get(b + 22, 8));
			else
				w = snprintf(r->where + used,
				    sizeof(r->where) - used,
				    "%s%s at byte offsets in %llu files", sep,
				    n->name, nf);
		}
		char kp[160];
		if (vl >= 2 && b[0] == 2 &&
		    ls_kafka_in_describe(b + 2, vl - 2, kp, sizeof(kp)) == 0)
			w = snprintf(r->where + used, sizeof(r->where) - used,
			    "%s%s %s offsets %s", used > 0 ? ", " : "", n->name,
			    b[1] != 0 ? "had ended at" : "at", kp);
		free(v);
		if (w > 0 && (size_t)w < sizeof(r->where) - used)
			used += (size_t)w;
	}
}

static void
resume_free(ls_resume *r)
{
	if (r == NULL)
		return;
	ls_store_close(r->store);
	for (size_t a = 0; r->act != NULL && a < r->nactors; a++)
		free(r->act[a].final_blob);
	free(r->act);
	free(r->pend);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Delete every key but those of ingest logs (actors/ingest.h). */
static int
discard_but_ingest(ls_store *s)
{
	static const char lo[1] = { LS_INGEST_KEY_BYTE };
	static const char hi[1] = { LS_INGEST_KEY_BYTE + 1 };
	static const char top[8] = { '\xff', '\xff', '\xff', '\xff', '\xff',
		'\xff', '\xff', '\xff' };
	ls_store_batch *b;
	int rv = ls_store_batch_new(&b);
	if (rv != 0)
		return rv;
	ls_store_batch_delete_range(b, "", 0, lo, 1);
	ls_store_batch_delete_range(b, hi, 1, top, sizeof(top));
	rv = ls_store_batch_commit(s, b);
	ls_store_batch_free(b);
	return rv;
}

int
ls_resume_open(const char *data_dir, const ls_topology *t, const ls_plan *p,
               int fresh, ls_resume **out, char *notice, size_t msglen)
{
	char err[512] = "", path[4200];
	uint64_t fp = 0;
	rec old;
	int rv;

	*out = NULL;
	if (msglen > 0)
		notice[0] = '\0';
	for (size_t i = 0; i < ls_topology_count(t); i++) {
		const ls_topo_node *n = ls_topology_node(t, i);
		if (n->role == LS_TOPO_SOURCE &&
		    (n->kind_def->flags & LS_KIND_NO_REPLAY)) {
			snprintf(
			    notice, msglen,
			    "source '%s' reads stdin, which cannot be replayed",
			    n->name);
			return LS_ENOTSUP;
		}
	}
	if ((rv = read_file(ls_topology_file(t), &fp)) != 0) {
		snprintf(notice, msglen, "cannot read %s: %s",
		         ls_topology_file(t), ls_strerror(rv));
		return rv;
	}
	ls_resume *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return LS_ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->t = t;
	r->plan = p;
	r->topo = ls_topology_name(t);
	r->nactors = ls_plan_actor_count(p);
	r->act = calloc(r->nactors ? r->nactors : 1, sizeof(*r->act));
	if (r->act == NULL) {
		resume_free(r);
		return LS_ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/state", data_dir);
	rv = ls_store_open(path, NULL, &r->store, err, sizeof(err));
	if (rv != 0) {
		if (rv == LS_EBUSY)
			snprintf(
			    notice, msglen,
			    "%s is in use by another process (a run or node "
			    "with the same data directory)",
			    path);
		else
			snprintf(notice, msglen, "cannot open %s: %s", path,
			         err[0] ? err : ls_strerror(rv));
		resume_free(r);
		return rv;
	}

	rv = rec_get(r->store, &old);
	int discard = 0;
	if (rv == LS_ENOENT) {
		memset(&old, 0, sizeof(old));
		if (ls_store_scan(r->store, NULL, 0, NULL, 0, any_key, NULL) !=
		    0) {
			if (!fresh) {
				snprintf(
				    notice, msglen,
				    "%s holds data that is not the state of a "
				    "`logstream run` (a node's data "
				    "directory?); "
				    "use another --data-dir, or --fresh to "
				    "discard it",
				    path);
				resume_free(r);
				return LS_ESTATE;
			}
			discard = 1;
		}
	} else if (rv == LS_ECORRUPT) {
		if (!fresh) {
			snprintf(notice, msglen,
			         "%s: the run record is unreadable; --fresh "
			         "discards the saved state",
			         path);
			resume_free(r);
			return LS_ECORRUPT;
		}
		memset(&old, 0, sizeof(old));
		discard = 1;
	} else if (rv != 0) {
		snprintf(notice, msglen, "cannot read %s: %s", path,
		         ls_strerror(rv));
		resume_free(r);
		return rv;
	} else if (old.fingerprint != fp && !fresh) {
		snprintf(
		    notice, msglen,
		    "%s holds the saved state of another topology file "
		    "(topology '%s' from %s, %s); it cannot resume %s.  Rerun "
		    "with that file to resume it, use another --data-dir, or "
		    "pass --fresh to discard the saved state",
		    path, old.name, old.file,
		    old.flags & REC_FINISHED ? "finished" : "unfinished",
		    ls_topology_file(t));
		resume_free(r);
		return LS_ESTATE;
	} else if (fresh) {
		snprintf(
		    notice, msglen,
		    "--fresh: discarding the saved state of topology '%s' in "
		    "%s",
		    old.name, path);
		discard = 1;
	} else if (old.flags & REC_FINISHED) {
		snprintf(notice, msglen,
		         "the previous run in %s finished; starting a new run",
		         path);
		discard = 1;
	} else if (old.complete == 0) {
		snprintf(notice, msglen,
		         "the previous run in %s completed no checkpoint; "
		         "starting from the beginning",
		         path);
		discard = 1;
	} else if (old.nactors != r->nactors) {
		snprintf(
		    notice, msglen,
		    "%s: the saved state has %u actors, the plan %zu; --fresh "
		    "discards it",
		    path, old.nactors, r->nactors);
		resume_free(r);
		return LS_ECORRUPT;
	} else {
		r->from = old.complete;
		r->from_ns = old.complete_ns;
	}
	if (fresh && notice[0] == '\0' && discard)
		snprintf(notice, msglen, "--fresh: discarding the data in %s",
		         path);
	/* A run killed before its first completed checkpoint leaves the
	 * requests its http sources acknowledged in their ingest logs: the
	 * new run reads them from the start (docs/http-ingest.md). */
	if (discard && !fresh && !(old.flags & REC_FINISHED))
		rv = discard_but_ingest(r->store);
	else if (discard)
		rv = ls_store_delete_prefix(r->store, NULL, 0);
	if (discard && rv != 0) {
		snprintf(notice, msglen, "cannot discard the state in %s: %s",
		         path, ls_strerror(rv));
		resume_free(r);
		return rv;
	}

	/* this run's record: a new epoch, the restored checkpoint (if any) */
	memset(&r->rec, 0, sizeof(r->rec));
	r->rec.fingerprint = fp;
	r->rec.epoch = old.epoch + 1;
	if (r->from != 0) {
		r->rec.complete = old.complete;
		r->rec.complete_ns = old.complete_ns;
		r->rec.flags = old.flags & REC_FINAL;
	}
	r->rec.nactors = (uint32_t)r->nactors;
	snprintf(r->rec.name, sizeof(r->rec.name), "%s", r->topo);
	snprintf(r->rec.file, sizeof(r->rec.file), "%s", ls_topology_file(t));
	if (r->rec.epoch >= UINT32_MAX) {
		snprintf(notice, msglen,
		         "%s: too many runs; --fresh starts over", path);
		resume_free(r);
		return LS_ERANGE;
	}
	if ((rv = rec_put(r->store, &r->rec)) != 0) {
		snprintf(notice, msglen, "cannot write %s: %s", path,
		         ls_strerror(rv));
		resume_free(r);
		return rv;
	}
	atomic_init(&r->complete, r->from);
	r->committed = r->from;
	if (r->from != 0)
		describe_sources(r);
	*out = r;
	return 0;
}

void
ls_resume_opts(ls_resume *r, ls_pipeline_opts *po)
{
	po->checkpoint_ms =
	    ls_topology_setting_ms(r->t, "checkpoint_interval", 1000);
	/* a first checkpoint soon: after a restore, another crash then does
	 * not throw away much work again */
	po->first_checkpoint_ms = FIRST_CHECKPOINT_MS;
	po->ckpt_base = r->rec.epoch << 32;
	po->ckpt_save = hook_save;
	po->ckpt_load = hook_load;
	po->arg = r;
	po->jsonl_append = 1;
	po->store = r->store;
	po->ckpt_ns = r->topo;
}

uint64_t
ls_resume_from(const ls_resume *r)
{
	return r->from;
}

void
ls_resume_describe(const ls_resume *r, char *buf, size_t len)
{
	char ts[LS_SINKFMT_TIME_LEN];
	if (len == 0)
		return;
	if (r->from == 0) {
		snprintf(buf, len, "no checkpoint: a fresh start");
		return;
	}
	ls_sinkfmt_time(r->from_ns, ts);
	snprintf(buf, len, "checkpoint %llu (#%llu of run %llu, taken %s)%s%s",
	         (unsigned long long)r->from,
	         (unsigned long long)(r->from & 0xffffffffu),
	         (unsigned long long)(r->from >> 32), ts,
	         r->where[0] ? ": " : "", r->where);
}

void
ls_resume_started(ls_resume *r, ls_pipeline *pl)
{
	atomic_store(&r->pl, pl);
	if (r->from != 0)
		ls_pipeline_commit(pl, r->from); /* restored sinks write it */
}

void
ls_resume_poll(ls_resume *r)
{
	uint64_t c = atomic_load(&r->complete);
	ls_pipeline *pl = atomic_load(&r->pl);
	if (pl == NULL || c <= r->committed)
		return;
	ls_pipeline_commit(pl, c);
	r->committed = c;
}

int
ls_resume_finish(ls_resume *r)
{
	pthread_mutex_lock(&r->lock);
	rec nr = r->rec;
	nr.flags |= REC_FINISHED;
	int rv = rec_put(r->store, &nr);
	if (rv == 0) {
		r->rec = nr;
		rv = ls_store_sync(r->store);
		/* the next run starts over: the checkpoints are of no use */
		ls_store_ckpt_drop(r->store, r->topo);
	}
	pthread_mutex_unlock(&r->lock);
	return rv;
}

void
ls_resume_close(ls_resume *r)
{
	resume_free(r);
}
