/*
 * dataplane.c -- runs, proxies, inbound delivery and checkpoint storage of
 * one node (see dataplane.h).
 *
 * Threads: the run thread starts and stops runs when the map changes; the
 * transport's receive thread delivers envelopes into runs (under the read
 * side of runs_lock) without waiting for a mailbox (see deliver()) and
 * stores replicated checkpoints; actor workers of each run encode their
 * sends to remote refs (remote_send) and save checkpoints; the transport's
 * tick thread reports links writable again (on_writable).
 *
 * Wire use of ls_envelope (docs/cluster.md, "Data path"); every payload
 * is a flatbuffer of schemas/ that the codec verifies before anything is
 * read, and a payload that does not decode is dropped and logged:
 *   to    = topology tag (32 bits, XXH3 of the name) << 32 | plan actor
 *   from  = the sending actor's local id (a channel identity only)
 *   epoch = run epoch
 *   type EVENTS:             EventBatch ("LSEB") with source_node, the
 *                            index of the batch's source in the topology
 *   type RECORDS:            RecordBatch ("LSRB", the rows of one
 *                            LS_MSG_RESULTS with their schema) with
 *                            stage_node, the index of the stage
 *   type DEAD_LETTER:        DeadLetter ("LSDL"): the JSON record
 *   type END_OF_STREAM:      EndOfStream ("LSES"): checkpoint id
 *   type CHECKPOINT_BARRIER: Barrier ("LSCB"): checkpoint id
 *   type REPLAY_MARK:        ReplayMark ("LSRM"): checkpoint id
 *   type REPLICATION_BATCH (to = tag << 32): Replication ("LSRP"): ckpt,
 *                            final, partition, the checkpoint blob
 */
#include "cluster/dataplane.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/ingest.h"
#include "actors/kstate.h"
#include "actors/pipeline.h"
#include "actors/stage.h"
#include "cluster/http.h"
#include "cluster/ingest_repl.h"
#include "cluster/region.h"
#include "cluster/transport.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/remote.h"
#include "runtime/store.h"
#include "schemas/codec.h"
#include "topology/plan.h"
#include "topology/topology.h"

/* A new or restored run takes its first checkpoint this soon (then one
 * every checkpoint_interval): resumption after a failover is the first
 * completed checkpoint of the new run. */
#define FIRST_CHECKPOINT_MS 50

/* A run whose map checkpoint has not moved for this long (or two
 * checkpoint intervals, if longer) announces again the final states it
 * holds: an acknowledgement lost on its way to the leader is not repaired
 * by a later save of the same partition. */
#define REACK_AFTER_MS 1000

/* Replay logs of a run (ls_pipeline_opts.replay_log_events): events kept
 * for partitions a regional restore may restart; beyond it sources wait
 * for a completed checkpoint. */
#define REPLAY_LOG_EVENTS (1u << 20)

typedef struct run run;

struct run {
	ls_dataplane *dp;
	char name[LS_MAP_MAX_NAME + 1];
	uint32_t tag;
	_Atomic uint64_t epoch; /* the map's run epoch this run follows */
	/* envelopes of epochs up to this one are delivered, later ones wait
	 * (early queue): it follows epoch once a regional restore has
	 * spawned the restarted partitions, so nothing sent to them in the
	 * new epoch reaches a stopped incarnation */
	_Atomic uint64_t recv_epoch;
	uint64_t lineage;     /* checkpoint ids are lineage << 32 | n */
	int regional;         /* the topology's regional_restore setting */
	_Atomic uint64_t *inc; /* per plan actor: its incarnation (region.h);
	                          envelopes of older epochs are fenced */
	uint64_t yaml_hash;
	uint64_t restored;
	uint64_t *load;       /* per plan actor: blob id to restore from */
	int64_t started_ms;
	ls_topology *topo;
	ls_plan *plan;
	ls_runtime *rt;
	ls_pipeline *pl;
	size_t nactors;
	uint64_t *owner;      /* per plan actor */
	uint8_t *nsb;         /* standbys per plan actor */
	uint64_t (*sb)[LS_MAP_MAX_STANDBYS];
	uint32_t nlocal;
	/* Remote refs (runtime/remote.h): link k leads to node links[k-1];
	 * plan actor i owned elsewhere is ls_remote_ref(link, i). */
	uint64_t *links;
	_Atomic uint32_t nlinks; /* grows when a regional restore moves a
	                            partition to a node new to the run */
	ls_remote_ops ops;
	ls_ingest_repl ingest; /* `http` sources' records to the standbys */
	/* Inbound messages a full mailbox refused, per sending node, in
	 * arrival order; the ingress actor delivers them (see deliver()). */
	pthread_mutex_t in_lock;
	/* nsb and sb: read by checkpoint saves (workers), changed by the run
	 * thread when only the standbys of a running partition change */
	pthread_mutex_t sb_lock;
	int in_lock_init;
	struct inq *inq;
	size_t ninq;
	ls_ref ingress;
	uint64_t committed;
	uint64_t ck_epoch;   /* epoch in which committed last advanced */
	int64_t progress_ns; /* run thread: start or last checkpoint advance */
	int64_t reack_ns;    /* no progress for this long: reack_finals */
	/* checkpoint metrics: the newest id a local partition saved, when
	 * the first one saved it (workers), and what the run thread last
	 * measured (docs/operations.md "Metrics") */
	_Atomic uint64_t save_ck;
	_Atomic int64_t save_ns;
	_Atomic int64_t *m_ck_done, *m_ck_ms, *m_ck_bytes, *m_ck_age;
	_Atomic int stopping;
};

struct ls_dataplane {
	uint64_t self;
	char data_dir[1024];
	unsigned workers;
	ls_dataplane_ack_fn ack;
	void *arg;
	ls_metrics *metrics;
	void (*unknown)(void *, uint64_t, const uint8_t *, size_t);
	void *unknown_arg;
	_Atomic int64_t *m_fenced, *m_restarts, *m_ckpt_saved, *m_repl_in;
	_Atomic int64_t *m_held, *m_early, *m_paused, *m_regional;
	_Atomic int64_t *m_slices;
	size_t repl_chunk; /* replicated blobs go in slices of this size */
	/* the incarnation of every checkpoint state stored by this process
	 * (ckpt_store): a state of an older incarnation never replaces one
	 * of a newer under the same checkpoint id */
	pthread_mutex_t ckinc_lock;
	struct ckinc *ckinc;
	size_t nckinc, capckinc;
	struct ckinc *fence; /* per partition: ckpt = restart point */
	size_t nfence, capfence;
	/* replicated blobs arriving in slices (repl_assemble) */
	pthread_mutex_t asm_lock;
	struct repl_asm *asms;
	size_t nasm;
	ls_store *store;
	ls_transport *tr;
	ls_irepl *irepl; /* ingest logs of `http` sources, replicated */

	pthread_rwlock_t runs_lock; /* runs[] and each run's fields */
	run **runs;
	size_t nruns;
	pthread_mutex_t lock; /* pending map, stop, caught-up signalling,
	                         names */
	pthread_cond_t cond;
	ls_map *pending;
	/* the topologies of the newest map: a replicated state can be stored
	 * before this node runs (or while it restarts) its run */
	struct topo_name {
		uint32_t tag;
		uint64_t run_epoch;
		char name[LS_MAP_MAX_NAME + 1];
	} *names;
	size_t nnames;
	ls_map *current; /* run thread only */
	/* envelopes of an epoch this node does not run yet, per sending
	 * node (see on_envelope) */
	pthread_mutex_t early_lock;
	struct early_q *early;
	size_t nearly;
	int stop;
	pthread_t thread;
	int thread_started;
};

static uint32_t
topo_tag(const char *name)
{
	return (uint32_t)(ls_hash64(name, strlen(name), 0x4c53) >> 32);
}

/* ---- checkpoint states and their incarnations ----
 *
 * Several incarnations of a partition can save a state under the same
 * checkpoint id: a regional restore restarts a partition from the last
 * completed checkpoint K while an older incarnation of it may still run
 * on a node that has not applied the new map yet, and both save K+1, K+2
 * ... with different contents (the restarted one from K, with its first
 * barrier 50 ms after its start).  The leader counts only the new
 * incarnation's acknowledgements, but the store keeps one blob per id
 * and partition: when the old incarnation's save (its own, on a lagging
 * node, or its replication arriving late) comes after the new one's,
 * the node holds -- and acknowledged -- the new state but keeps the old
 * bytes, and a later restore from that id mixes two cuts (input
 * committed with the id processed again, or lost).  So every state this
 * process stores is remembered with its incarnation, and one of an older
 * incarnation never replaces it (LS_ESTALE: not stored, not acked, not
 * replicated).
 *
 * The same holds for ids the new incarnation does not save on this node
 * (it is no holder of it there): when a partition restarts in
 * incarnation J from checkpoint K, every node running the topology puts
 * up a fence -- states of that partition with an id above K from an
 * incarnation before J are never stored again, and those stored so far
 * are deleted -- so no node keeps (and later restores, or hands to a
 * node that fetches it) an id of the old cut. */
typedef struct ckinc {
	uint64_t topo;  /* hash of the topology's name */
	uint64_t part;  /* hash of the partition's name */
	uint64_t ckpt;
	uint64_t inc;
} ckinc;

static uint64_t
name_hash(const char *s)
{
	return ls_hash64(s, strlen(s), 0x6369);
}

/* Room for one more entry in *v (n used, *cap allocated): 1, or 0 when
 * out of memory (the entry is then not remembered).  ckinc_lock held. */
static int
ckinc_room(ckinc **v, size_t n, size_t *cap)
{
	if (n < *cap)
		return 1;
	size_t nc = *cap ? *cap * 2 : 64;
	ckinc *g = realloc(*v, nc * sizeof(*g));
	if (g == NULL)
		return 0;
	*v = g;
	*cap = nc;
	return 1;
}

/* Store blob as checkpoint ckpt of part saved in incarnation inc, unless
 * a newer incarnation's state of that id is there (LS_ESTALE). */
static int
ckpt_store(ls_dataplane *dp, const char *topo, uint64_t inc, uint64_t ckpt,
    int final, const char *part, const void *blob, size_t len)
{
	uint64_t th = name_hash(topo), ph = name_hash(part);
	pthread_mutex_lock(&dp->ckinc_lock);
	ckinc *e = NULL;
	for (size_t i = 0; i < dp->nckinc && e == NULL; i++)
		if (dp->ckinc[i].ckpt == ckpt && dp->ckinc[i].part == ph &&
		    dp->ckinc[i].topo == th)
			e = &dp->ckinc[i];
	int stale = e != NULL && e->inc > inc;
	for (size_t i = 0; i < dp->nfence && !stale; i++) {
		const ckinc *f = &dp->fence[i];
		stale = f->part == ph && f->topo == th && ckpt > f->ckpt &&
		    inc < f->inc;
	}
	if (stale) {
		pthread_mutex_unlock(&dp->ckinc_lock);
		return LS_ESTALE;
	}
	int room = e != NULL ||
	    ckinc_room(&dp->ckinc, dp->nckinc, &dp->capckinc);
	int rv = final
	    ? ls_store_ckpt_put_final(dp->store, topo, ckpt, part, blob, len)
	    : ls_store_ckpt_put(dp->store, topo, ckpt, part, blob, len);
	if (rv == 0 && e == NULL && room) {
		e = &dp->ckinc[dp->nckinc++];
		e->topo = th;
		e->part = ph;
		e->ckpt = ckpt;
	}
	if (rv == 0 && e != NULL)
		e->inc = inc;
	pthread_mutex_unlock(&dp->ckinc_lock);
	return rv;
}

/* part of topo restarts in incarnation inc from checkpoint after: fence
 * off (and delete) its states of later ids from older incarnations. */
static void
ckpt_fence(ls_dataplane *dp, const char *topo, const char *part,
    uint64_t inc, uint64_t after)
{
	uint64_t th = name_hash(topo), ph = name_hash(part);
	size_t dropped = 0;
	pthread_mutex_lock(&dp->ckinc_lock);
	ckinc *f = NULL;
	for (size_t i = 0; i < dp->nfence && f == NULL; i++)
		if (dp->fence[i].part == ph && dp->fence[i].topo == th)
			f = &dp->fence[i];
	if (f == NULL && ckinc_room(&dp->fence, dp->nfence, &dp->capfence)) {
		f = &dp->fence[dp->nfence++];
		f->topo = th;
		f->part = ph;
		f->inc = 0;
	}
	if (f != NULL && inc >= f->inc) {
		f->inc = inc;
		f->ckpt = after;
	}
	for (size_t i = 0; i < dp->nckinc;) {
		ckinc *e = &dp->ckinc[i];
		if (e->part != ph || e->topo != th || e->ckpt <= after ||
		    e->inc >= inc) {
			i++;
			continue;
		}
		(void)ls_store_ckpt_delete(dp->store, topo, e->ckpt, part);
		dropped++;
		*e = dp->ckinc[--dp->nckinc];
	}
	pthread_mutex_unlock(&dp->ckinc_lock);
	if (dropped > 0)
		ls_log(LS_LOG_DEBUG, "dataplane",
		    "states of an older incarnation deleted topology=%s "
		    "partition=%s after=%llu incarnation=%llu states=%zu",
		    topo, part, (unsigned long long)after,
		    (unsigned long long)inc, dropped);
}

/* Whether this process stored ckpt of part itself (else it is from an
 * earlier life of the node, of an unknown incarnation). */
static int
ckpt_known(ls_dataplane *dp, const char *topo, const char *part,
    uint64_t ckpt)
{
	uint64_t th = name_hash(topo), ph = name_hash(part);
	int known = 0;
	pthread_mutex_lock(&dp->ckinc_lock);
	for (size_t i = 0; i < dp->nckinc && !known; i++)
		known = dp->ckinc[i].ckpt == ckpt && dp->ckinc[i].part == ph &&
		    dp->ckinc[i].topo == th;
	pthread_mutex_unlock(&dp->ckinc_lock);
	return known;
}

/* Forget the incarnations of topo's states below ckpt (0: all of them):
 * nothing saves those ids again but a final state with its own bytes. */
static void
ckinc_forget(ls_dataplane *dp, const char *topo, uint64_t below)
{
	uint64_t th = name_hash(topo);
	pthread_mutex_lock(&dp->ckinc_lock);
	for (size_t i = 0; i < dp->nckinc;) {
		ckinc *e = &dp->ckinc[i];
		if (e->topo == th && (below == 0 || e->ckpt < below))
			*e = dp->ckinc[--dp->nckinc];
		else
			i++;
	}
	for (size_t i = 0; below == 0 && i < dp->nfence;) {
		if (dp->fence[i].topo == th)
			dp->fence[i] = dp->fence[--dp->nfence];
		else
			i++;
	}
	pthread_mutex_unlock(&dp->ckinc_lock);
}

/* ---- sending (workers) ---- */

/* Queue a control envelope (checkpoint replication) for node.  Runs on a
 * worker inside a checkpoint save, where a refusal could not be waited
 * for: it passes the transport's pending bound, whose purpose (bounding
 * data in flight) the checkpoint interval serves here. */
static int
send_env(ls_dataplane *dp, run *r, uint64_t node, const ls_envelope *env)
{
	if (r != NULL && atomic_load(&r->stopping))
		return LS_ECLOSED;
	return ls_transport_sendv(dp->tr, node, env, 1, LS_TRANSPORT_NOLIMIT);
}

/*
 * The encoder of one message to a remote partition, on the sending
 * actor's thread (remote_send).  proxy_send collects the envelopes a
 * message becomes (copying their payloads); remote_send hands them to the
 * transport all or none, so a refused message can be retried whole.
 */
typedef struct proxy {
	run *r;
	uint32_t target;
	uint64_t node;
	ls_event *scratch;
	uint32_t scap;
	ls_envelope *env;
	size_t *off; /* payload offsets in buf (buf may move) */
	size_t nenv, capenv;
	uint8_t *buf;
	size_t len, cap;
	int err;
} proxy;

static void
proxy_fini(proxy *p)
{
	free(p->scratch);
	free(p->env);
	free(p->off);
	free(p->buf);
}

static int
proxy_grow(void **v, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 4;
	while (nc < need)
		nc *= 2;
	void *n = realloc(*v, nc * elem);
	if (n == NULL)
		return LS_ENOMEM;
	*v = n;
	*cap = nc;
	return 0;
}

static uint32_t
node_index_of(const ls_topology *t, const char *name)
{
	for (size_t i = 0; name != NULL && i < ls_topology_count(t); i++)
		if (ls_topology_node(t, i)->name == name ||
		    strcmp(ls_topology_node(t, i)->name, name) == 0)
			return (uint32_t)i;
	return UINT32_MAX;
}

static void
proxy_send(proxy *p, ls_msg *m, uint16_t type, const void *payload,
    size_t len)
{
	size_t ce = p->capenv;
	if (p->err != 0 ||
	    proxy_grow((void **)&p->env, &p->capenv, p->nenv + 1,
	        sizeof(*p->env)) != 0 ||
	    proxy_grow((void **)&p->off, &ce, p->nenv + 1,
	        sizeof(*p->off)) != 0 ||
	    proxy_grow((void **)&p->buf, &p->cap, p->len + len, 1) != 0) {
		p->err = LS_ENOMEM;
		return;
	}
	ls_envelope *env = &p->env[p->nenv];
	memset(env, 0, sizeof(*env));
	env->type = type;
	env->from = m->from.id;
	env->to = (uint64_t)p->r->tag << 32 | p->target;
	env->epoch = p->r->epoch;
	env->payload_len = len;
	if (len > 0)
		memcpy(p->buf + p->len, payload, len);
	p->off[p->nenv++] = p->len;
	p->len += len;
}

static void
proxy_batch(proxy *p, ls_msg *m)
{
	ls_batch *b = m->ptr;
	if (b->n > p->scap) {
		ls_event *n = realloc(p->scratch, b->n * sizeof(*n));
		if (n == NULL) {
			p->err = LS_ENOMEM;
			return;
		}
		p->scratch = n;
		p->scap = b->n;
	}
	for (uint32_t i = 0; i < b->n; i++)
		p->scratch[i] = *b->items[i];
	ls_buf fb = { 0 };
	if (ls_codec_batch_encode_node(p->scratch, b->n,
	        node_index_of(p->r->topo, b->source), &fb) != 0) {
		p->err = LS_EINVAL;
		return;
	}
	proxy_send(p, m, LS_MSG_EVENTS, fb.data, fb.len);
	ls_buf_free(&fb);
}

static void
proxy_results(proxy *p, ls_msg *m)
{
	const ls_records *r = m->ptr;
	uint32_t stage = node_index_of(p->r->topo, r->stage);
	ls_buf fb = { 0 };
	if (ls_codec_records_encode_node(r, stage, &fb) != 0) {
		ls_log(LS_LOG_ERROR, "dataplane",
		    "cannot encode results stage=%s rows=%u", r->stage, r->n);
		return;
	}
	proxy_send(p, m, LS_MSG_RECORDS, fb.data, fb.len);
	ls_buf_free(&fb);
}

/* Send the payload an encoder made (rv its result) as one envelope. */
static void
proxy_wire(proxy *p, ls_msg *m, uint16_t type, int rv, ls_buf *fb)
{
	if (rv != 0) {
		if (p->err == 0)
			p->err = rv;
		return;
	}
	proxy_send(p, m, type, fb->data, fb->len);
	ls_buf_free(fb);
}

static void
proxy_encode(proxy *p, ls_msg *m)
{
	ls_buf fb = { 0 };
	switch (m->type) {
	case LS_MSG_BATCH:
		proxy_batch(p, m);
		break;
	case LS_MSG_RESULTS:
		proxy_results(p, m);
		break;
	case LS_MSG_DEAD:
		proxy_wire(p, m, LS_MSG_DEAD_LETTER,
		    ls_codec_dead_letter_encode(ls_str_c(m->ptr), &fb), &fb);
		break;
	case LS_MSG_EOS:
		proxy_wire(p, m, LS_MSG_END_OF_STREAM,
		    ls_codec_mark_encode(LS_MSG_END_OF_STREAM,
		        ls_stage_msg_u64(m), &fb),
		    &fb);
		break;
	case LS_MSG_BARRIER:
		proxy_wire(p, m, LS_MSG_CHECKPOINT_BARRIER,
		    ls_codec_mark_encode(LS_MSG_CHECKPOINT_BARRIER,
		        ls_stage_msg_u64(m), &fb),
		    &fb);
		break;
	case LS_MSG_MARK:
		proxy_wire(p, m, LS_MSG_REPLAY_MARK,
		    ls_codec_mark_encode(LS_MSG_REPLAY_MARK, ls_stage_msg_u64(m),
		        &fb),
		    &fb);
		break;
	default:
		/* no wire form: say so instead of dropping it unseen */
		p->err = LS_ENOTSUP;
		break;
	}
}

/* The run's transport table (runtime/remote.h): plan actor addr behind
 * link.  Takes m iff 0.  While the run stops, sends are refused (the
 * message stays with its actor, which is about to stop too). */
static int
remote_send(void *arg, uint32_t link, uint64_t addr, ls_msg *m)
{
	run *r = arg;
	if (link == 0 || link > r->nlinks || addr >= r->nactors)
		return LS_ENOENT;
	if (atomic_load(&r->stopping))
		return LS_EAGAIN;
	proxy p;
	memset(&p, 0, sizeof(p));
	p.r = r;
	p.target = (uint32_t)addr;
	p.node = r->links[link - 1];
	proxy_encode(&p, m);
	int rv = p.err;
	if (rv == 0) {
		for (size_t i = 0; i < p.nenv; i++)
			p.env[i].payload = p.buf + p.off[i];
		rv = ls_transport_sendv(r->dp->tr, p.node, p.env, p.nenv, 0);
	}
	proxy_fini(&p);
	if (rv == 0)
		ls_msg_free(r->rt, m);
	else if (rv != LS_EAGAIN)
		ls_log(LS_LOG_WARN, "dataplane",
		    "message to a remote partition not sent topology=%s "
		    "actor=%u err=%s",
		    r->name, p.target, ls_errname(rv));
	return rv;
}

/* The link of node in r (0 when r has none). */
static uint32_t
link_of(const run *r, uint64_t node)
{
	for (uint32_t k = 0; k < r->nlinks; k++)
		if (r->links[k] == node)
			return k + 1;
	return 0;
}

/* The plan index of the actor named part (r->nactors when none). */
static size_t
actor_named(const run *r, const char *part)
{
	for (size_t i = 0; i < r->nactors; i++)
		if (strcmp(ls_plan_actor_at(r->plan, i)->name, part) == 0)
			return i;
	return r->nactors;
}

/* ---- pipeline hooks ---- */

static int
hook_local(void *arg, size_t i)
{
	run *r = arg;
	return r->owner[i] == r->dp->self;
}

static int
hook_spawn_remote(void *arg, ls_runtime *rt, size_t i, ls_ref *out)
{
	run *r = arg;
	uint32_t link = link_of(r, r->owner[i]);
	(void)rt;
	if (link == 0)
		return LS_ENOENT;
	*out = ls_remote_ref(link, i);
	return 0;
}

/* How long an `http` source's owner waits for each standby to store a
 * record before it answers 503 (ingest_repl.h), and a new owner for each
 * node's records. */
#define INGEST_PUSH_TIMEOUT_MS 5000
#define INGEST_PULL_TIMEOUT_MS 2000

/* A kind that keeps an ingest log (actors/ingest.h). */
static int
keeps_ingest_log(const run *r, size_t i)
{
	const ls_plan_actor *pa = ls_plan_actor_at(r->plan, i);
	const ls_kind *k = ls_topology_node(r->topo, pa->node)->kind_def;
	return k != NULL && strcmp(k->name, "http") == 0;
}

/* ls_ingest_repl.push of r's `http` sources: to the partition's standbys
 * as r knows them now. */
static int
hook_ingest_push(void *arg, const char *topology, const char *partition,
    uint64_t epoch, uint64_t trim, int sync, uint64_t seq, const void *value,
    size_t len)
{
	run *r = arg;
	size_t i = actor_named(r, partition);
	if (i == r->nactors || atomic_load(&r->stopping))
		return LS_ESTALE;
	uint64_t sb[LS_MAP_MAX_STANDBYS];
	pthread_mutex_lock(&r->sb_lock);
	unsigned nsb = r->nsb[i];
	memcpy(sb, r->sb[i], sizeof(sb));
	pthread_mutex_unlock(&r->sb_lock);
	/* fenced by the partition's incarnation, as its checkpoint states
	 * (the record itself carries the source's epoch); a newer one that
	 * gathered this node's records takes what this one writes now only
	 * if it was written before (see ingest_repl.h) */
	(void)epoch;
	uint64_t inc = atomic_load(&r->inc[i]);
	if (ls_irepl_superseded(r->dp->irepl, topology, partition, inc))
		return LS_ESTALE;
	return ls_irepl_push(r->dp->irepl, sb, nsb, topology, partition, inc,
	    trim, sync, seq, value, len, INGEST_PUSH_TIMEOUT_MS);
}

/* Before the `http` source partitions of r that start here (only[i], or
 * every local one when only is NULL) start in incarnation inc_of[i] (NULL:
 * r->inc): the records other nodes hold of them (a failover or a move
 * brings the partition here). */
static void
ingest_pull(ls_dataplane *dp, run *r, const uint8_t *only,
    const uint64_t *inc_of)
{
	for (size_t i = 0; i < r->nactors; i++) {
		/* (a regional restore sets the new owners later) */
		if ((only != NULL ? !only[i] : r->owner[i] != dp->self) ||
		    !keeps_ingest_log(r, i))
			continue;
		const char *part = ls_plan_actor_at(r->plan, i)->name;
		size_t merged = 0;
		uint64_t inc = inc_of != NULL ? inc_of[i] : atomic_load(&r->inc[i]);
		int n = ls_irepl_pull(dp->irepl, r->name, part, inc,
		    INGEST_PULL_TIMEOUT_MS, &merged);
		ls_log(LS_LOG_INFO, "dataplane",
		    "ingest log gathered topology=%s partition=%s nodes=%d "
		    "records=%zu",
		    r->name, part, n, merged);
	}
}

/* Send a partition's checkpoint blob to standby node: one message, or
 * for a blob above dp->repl_chunk (a frame holds 16 MiB at most) that
 * many slices in order, put together again by the standby. */
static void
repl_send(ls_dataplane *dp, run *r, uint64_t node, uint64_t epoch,
    uint64_t ckpt, int final, const char *part, const uint8_t *blob,
    size_t len)
{
	size_t chunk = dp->repl_chunk;
	size_t parts = len <= chunk ? 1 : (len + chunk - 1) / chunk;
	int rv = parts > UINT32_MAX ? LS_ERANGE : 0;
	for (size_t k = 0; rv == 0 && k < parts; k++) {
		size_t off = k * chunk;
		size_t n = parts == 1 ? len : len - off < chunk ? len - off : chunk;
		ls_replication_wire rw = {
			.ckpt = ckpt,
			.final = final != 0,
			.partition = ls_str_c(part),
			.blob = n > 0 ? blob + off : NULL,
			.blob_len = n,
			.part = (uint32_t)k,
			.parts = (uint32_t)parts,
			.total = len,
		};
		ls_buf buf = { 0 };
		rv = ls_codec_replication_encode(&rw, &buf);
		if (rv == 0) {
			ls_envelope env;
			memset(&env, 0, sizeof(env));
			env.type = LS_MSG_REPLICATION_BATCH;
			env.to = (uint64_t)r->tag << 32;
			env.epoch = epoch; /* the partition's incarnation */
			env.payload = buf.data;
			env.payload_len = buf.len;
			rv = send_env(dp, r, node, &env);
		}
		ls_buf_free(&buf);
		if (rv == 0 && parts > 1)
			ls_metric_add(dp->m_slices, 1);
	}
	if (rv != 0 && rv != LS_ECLOSED)
		ls_log(LS_LOG_WARN, "dataplane",
		    "checkpoint not replicated topology=%s partition=%s "
		    "bytes=%zu err=%s",
		    r->name, part, len, ls_errname(rv));
}

static void
hook_ckpt_save(void *arg, size_t i, uint64_t ckpt, int final, uint8_t *blob,
    size_t len)
{
	run *r = arg;
	ls_dataplane *dp = r->dp;
	const char *part = ls_plan_actor_at(r->plan, i)->name;
	const uint8_t *b = blob != NULL ? blob : (const uint8_t *)"";
	/* acknowledged in the partition's incarnation: a state an old one
	 * saves while a regional restore stops it does not count */
	uint64_t inc = atomic_load(&r->inc[i]);
	int rv = ckpt_store(dp, r->name, inc, ckpt, final, part, b, len);
	if (rv == LS_ESTALE) {
		/* a newer incarnation saved this id here (this node has not
		 * applied its map yet): ours is of no use to anyone */
		ls_metric_add(dp->m_fenced, 1);
		ls_log(LS_LOG_DEBUG, "dataplane",
		    "stale checkpoint state not stored topology=%s "
		    "partition=%s ckpt=%llu incarnation=%llu",
		    r->name, part, (unsigned long long)ckpt,
		    (unsigned long long)inc);
		free(blob);
		return;
	}
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "dataplane",
		    "cannot store checkpoint topology=%s partition=%s err=%s",
		    r->name, part, ls_errname(rv));
		free(blob);
		return;
	}
	ls_metric_add(dp->m_ckpt_saved, 1);
	ls_metric_add(r->m_ck_bytes, (int64_t)len);
	uint64_t seen = atomic_load(&r->save_ck);
	while (ckpt > seen &&
	    !atomic_compare_exchange_weak(&r->save_ck, &seen, ckpt))
		;
	if (ckpt > seen)
		atomic_store(&r->save_ns, ls_clock_ns());
	uint64_t sb[LS_MAP_MAX_STANDBYS];
	pthread_mutex_lock(&r->sb_lock);
	unsigned nsb = r->nsb[i];
	memcpy(sb, r->sb[i], sizeof(sb));
	pthread_mutex_unlock(&r->sb_lock);
	for (unsigned s = 0; s < nsb; s++)
		repl_send(dp, r, sb[s], inc, ckpt, final, part, blob, len);
	free(blob);
	if (dp->ack != NULL)
		dp->ack(dp->arg, r->name, inc, ckpt, final, part);
}

/* The state run_start found for actor i (the blob of the checkpoint the
 * run restores from, or the actor's final one before it). */
static int
hook_ckpt_load(void *arg, size_t i, uint8_t **blob, size_t *len)
{
	run *r = arg;
	if (r->restored == 0 || r->load[i] == 0)
		return LS_ENOENT;
	void *b;
	int rv = ls_store_ckpt_get(r->dp->store, r->name, r->load[i],
	    ls_plan_actor_at(r->plan, i)->name, &b, len);
	if (rv == 0)
		*blob = b;
	return rv;
}

/* ---- inbound (transport thread) ---- */

static run *
run_by_tag(ls_dataplane *dp, uint32_t tag)
{
	for (size_t i = 0; i < dp->nruns; i++)
		if (dp->runs[i]->tag == tag)
			return dp->runs[i];
	return NULL;
}

/* Copy s into b's arena. */
static ls_str
own(ls_batch *b, ls_str s)
{
	if (s.len == 0)
		return ls_str_make("", 0);
	char *c = ls_arena_strndup(&b->arena, s.ptr, s.len);
	return c != NULL ? ls_str_make(c, s.len) : ls_str_make("", 0);
}

typedef struct decode_ctx {
	ls_batch *b;
} decode_ctx;

static int
decode_event(void *arg, const ls_event *ev)
{
	decode_ctx *d = arg;
	ls_event *e = ls_batch_add(d->b);
	if (e == NULL)
		return LS_ERANGE;
	*e = *ev;
	e->level_text = own(d->b, ev->level_text);
	e->service = own(d->b, ev->service);
	e->host = own(d->b, ev->host);
	e->message = own(d->b, ev->message);
	for (unsigned k = 0; k < ev->nattrs; k++) {
		e->attrs[k].key = own(d->b, ev->attrs[k].key);
		e->attrs[k].val = own(d->b, ev->attrs[k].val);
	}
	return 0;
}

/* An aligned copy of a nested flatbuffer when it is not 8-byte aligned. */
static const uint8_t *
aligned(const uint8_t *p, size_t len, void **tofree)
{
	*tofree = NULL;
	if (((uintptr_t)p & 7) == 0)
		return p;
	void *c = NULL;
	if (posix_memalign(&c, 8, len ? len : 8) != 0)
		return NULL;
	memcpy(c, p, len);
	*tofree = c;
	return c;
}

static ls_msg *
to_msg(run *r, const ls_envelope *env)
{
	ls_runtime *rt = r->rt;
	const uint8_t *pl = env->payload;
	size_t len = env->payload_len;
	ls_msg *m = NULL;

	switch (env->type) {
	case LS_MSG_EVENTS: {
		void *tf;
		const uint8_t *fb = aligned(pl, len, &tf);
		size_t n;
		uint32_t src;
		if (fb == NULL || ls_codec_batch_info(fb, len, &n, &src) != 0 ||
		    n > UINT32_MAX) {
			free(tf);
			return NULL;
		}
		ls_batch *b = ls_batch_new(n ? (uint32_t)n : 1, 1, NULL);
		if (b == NULL) {
			free(tf);
			return NULL;
		}
		b->source = src < ls_topology_count(r->topo)
		    ? ls_topology_node(r->topo, src)->name : NULL;
		decode_ctx d = { b };
		int rv = ls_codec_batch_foreach(fb, len, decode_event, &d);
		free(tf);
		if (rv != 0 || (m = ls_msg_new(rt, LS_MSG_BATCH, 0)) == NULL) {
			ls_batch_unref(b);
			return NULL;
		}
		m->ptr = b;
		m->dtor = ls_batch_dtor;
		return m;
	}
	case LS_MSG_RECORDS: {
		void *tf;
		const uint8_t *fb = aligned(pl, len, &tf);
		ls_records *res = NULL;
		uint32_t stage;
		if (fb == NULL ||
		    ls_codec_records_decode_node(fb, len, &res, &stage) != 0) {
			free(tf);
			return NULL;
		}
		free(tf);
		/* the stage's name in the topology: a sink tells stages apart
		 * by that pointer */
		res->stage = stage < ls_topology_count(r->topo)
		    ? ls_topology_node(r->topo, stage)->name : "?";
		if ((m = ls_msg_new(rt, LS_MSG_RESULTS, 0)) == NULL) {
			ls_records_unref(res);
			return NULL;
		}
		m->ptr = res;
		m->dtor = ls_records_unref;
		return m;
	}
	case LS_MSG_DEAD_LETTER: {
		void *tf;
		const uint8_t *fb = aligned(pl, len, &tf);
		ls_str s;
		if (fb == NULL || ls_codec_dead_letter_decode(fb, len, &s) != 0) {
			free(tf);
			return NULL;
		}
		char *rec = malloc((size_t)s.len + 1);
		if (rec != NULL) {
			memcpy(rec, s.ptr, s.len);
			rec[s.len] = '\0';
		}
		free(tf);
		if (rec == NULL)
			return NULL;
		if ((m = ls_msg_new(rt, LS_MSG_DEAD, 0)) == NULL) {
			free(rec);
			return NULL;
		}
		m->ptr = rec;
		m->dtor = free;
		return m;
	}
	case LS_MSG_END_OF_STREAM:
	case LS_MSG_CHECKPOINT_BARRIER:
	case LS_MSG_REPLAY_MARK: {
		void *tf;
		const uint8_t *fb = aligned(pl, len, &tf);
		uint64_t v;
		int rv = fb != NULL
		    ? ls_codec_mark_decode(env->type, fb, len, &v)
		    : LS_ENOMEM;
		free(tf);
		if (rv != 0)
			return NULL;
		m = ls_msg_new(rt,
		    env->type == LS_MSG_END_OF_STREAM  ? LS_MSG_EOS
		    : env->type == LS_MSG_REPLAY_MARK ? LS_MSG_MARK
		                                      : LS_MSG_BARRIER,
		    8);
		if (m != NULL)
			memcpy(ls_msg_data(m), &v, 8);
		return m;
	}
	default:
		return NULL;
	}
}

/*
 * Delivery without blocking the receive thread.  A message whose target
 * mailbox is full is kept in the sending node's queue (and so is every
 * later message from that node, to keep their order), the transport stops
 * crediting that node (ls_transport_pause) and the ingress actor is
 * kicked.  The ingress actor relays the queue with ls_ctx_forward; a
 * refusal registers it for the target's LS_MSG_WRITABLE; once the queue is
 * empty the node gets its credit back (ls_transport_resume).  A paused
 * node has at most window_frames frames in flight, so a queue holds at
 * most that many frames' envelopes (8 x 4,096 envelopes / 8 MiB of
 * payload with the default settings).  See docs/cluster.md.
 */
typedef struct inq {
	uint64_t node;
	int paused;
	ls_msg **m;
	ls_ref *to;
	size_t head, n, cap;
} inq;

enum { MSG_INGRESS_KICK = LS_MSG_USER + 100 };

/* r's queue for node, created when missing (NULL: out of memory).
 * in_lock held. */
static inq *
inq_get(run *r, uint64_t node)
{
	for (size_t i = 0; i < r->ninq; i++)
		if (r->inq[i].node == node)
			return &r->inq[i];
	inq *n = realloc(r->inq, (r->ninq + 1) * sizeof(*n));
	if (n == NULL)
		return NULL;
	r->inq = n;
	inq *q = &r->inq[r->ninq++];
	memset(q, 0, sizeof(*q));
	q->node = node;
	return q;
}

/* Append (to, m) to q; in_lock held. */
static int
inq_push(inq *q, ls_ref to, ls_msg *m)
{
	if (q->head + q->n == q->cap) {
		if (q->head > 0) {
			memmove(q->m, q->m + q->head, q->n * sizeof(*q->m));
			memmove(q->to, q->to + q->head, q->n * sizeof(*q->to));
			q->head = 0;
		}
		if (q->n == q->cap) {
			size_t nc = q->cap ? 2 * q->cap : 64;
			ls_msg **nm = realloc(q->m, nc * sizeof(*nm));
			if (nm == NULL)
				return LS_ENOMEM;
			q->m = nm;
			ls_ref *nt = realloc(q->to, nc * sizeof(*nt));
			if (nt == NULL)
				return LS_ENOMEM;
			q->to = nt;
			q->cap = nc;
		}
	}
	q->m[q->head + q->n] = m;
	q->to[q->head + q->n] = to;
	q->n++;
	return 0;
}

/* Receive thread: hand m to `to` now, or queue it behind node's held
 * messages.  Takes m. */
static void
deliver(run *r, uint64_t node, ls_ref to, ls_msg *m)
{
	int kick = 0, rv = LS_EAGAIN;
	pthread_mutex_lock(&r->in_lock);
	inq *q = inq_get(r, node);
	if (q == NULL || q->n == 0) {
		rv = ls_send(r->rt, to, m);
		if (rv == 0) {
			pthread_mutex_unlock(&r->in_lock);
			return;
		}
	}
	if (rv == LS_EAGAIN && q != NULL && inq_push(q, to, m) == 0) {
		ls_metric_add(r->dp->m_held, 1);
		if (!q->paused) {
			ls_metric_add(r->dp->m_paused, 1);
			q->paused = 1;
			ls_transport_pause(r->dp->tr, node);
			kick = 1;
		}
		m = NULL;
	}
	pthread_mutex_unlock(&r->in_lock);
	if (m != NULL && rv == LS_ENOENT) {
		/* to an incarnation that stopped (a regional restore or the
		 * run stopping): of the old epoch, fenced as such */
		ls_metric_add(r->dp->m_fenced, 1);
		ls_msg_free(r->rt, m);
	} else if (m != NULL) {
		ls_log(LS_LOG_WARN, "dataplane",
		    "inbound message dropped topology=%s err=%s", r->name,
		    ls_errname(rv == LS_EAGAIN ? LS_ENOMEM : rv));
		ls_msg_free(r->rt, m);
	}
	/* the ingress mailbox only ever holds one kick per paused node */
	if (kick && ls_tell(r->rt, r->ingress, MSG_INGRESS_KICK, NULL, 0) != 0)
		ls_log(LS_LOG_ERROR, "dataplane",
		    "ingress actor unreachable topology=%s", r->name);
}

/* The ingress actor: relays held messages in order (kick or writable). */
static int
ingress_receive(ls_ctx *ctx, void *state, ls_msg *msg)
{
	run *r = *(run **)state;
	(void)msg;
	pthread_mutex_lock(&r->in_lock);
	for (size_t i = 0; i < r->ninq; i++) {
		inq *q = &r->inq[i];
		while (q->n > 0) {
			int rv = ls_ctx_forward(ctx, q->to[q->head],
			    q->m[q->head]);
			if (rv == LS_EAGAIN)
				break; /* LS_MSG_WRITABLE brings us back */
			if (rv != 0)
				ls_msg_free(r->rt, q->m[q->head]);
			q->head++;
			q->n--;
		}
		if (q->n == 0 && q->paused) {
			q->head = 0;
			q->paused = 0;
			ls_transport_resume(r->dp->tr, q->node);
		}
	}
	pthread_mutex_unlock(&r->in_lock);
	return 0;
}

static int
ingress_init(ls_ctx *ctx, void *state, const void *arg)
{
	(void)ctx;
	*(run **)state = (run *)arg;
	return 0;
}

static const ls_behaviour ingress_behaviour = {
	.name = "ingress",
	.state_size = sizeof(run *),
	.init = ingress_init,
	.receive = ingress_receive,
};

/* Transport thread: node has room again; tell each run's waiters. */
static void
on_writable(void *arg, uint64_t node)
{
	ls_dataplane *dp = arg;
	pthread_rwlock_rdlock(&dp->runs_lock);
	for (size_t i = 0; i < dp->nruns; i++) {
		uint32_t link = link_of(dp->runs[i], node);
		if (link != 0)
			ls_remote_writable(dp->runs[i]->rt, link);
	}
	pthread_rwlock_unlock(&dp->runs_lock);
}

/*
 * A blob larger than a slice arrives as rw.parts replication messages in
 * order on one link (repl_send).  Slices are put together per sending
 * node and partition; a first slice starts over (the blob before it was
 * superseded or its sender restarted), a slice out of order drops what
 * was gathered (the next checkpoint's blob comes whole again).  At most
 * REPL_ASM_MAX blobs gather at once (the oldest goes), each of at most
 * REPL_MAX_BLOB bytes.
 */
#define REPL_ASM_MAX  64
#define REPL_MAX_BLOB ((uint64_t)1 << 30)

typedef struct repl_asm {
	uint64_t from, epoch, ckpt, total, got;
	uint32_t tag, next, parts;
	int final;
	char part[LS_MAP_MAX_NAME + 1];
	uint8_t *buf;
} repl_asm;

static void
asm_drop(ls_dataplane *dp, size_t i)
{
	free(dp->asms[i].buf);
	memmove(&dp->asms[i], &dp->asms[i + 1],
	    (dp->nasm - i - 1) * sizeof(*dp->asms));
	dp->nasm--;
}

/* Take slice rw of a blob; 1 with the whole blob in *out (out->buf the
 * caller's to free) once its last slice arrived, else 0. */
static int
repl_assemble(ls_dataplane *dp, uint64_t from, uint32_t tag, uint64_t epoch,
    const ls_replication_wire *rw, repl_asm *out)
{
	int done = 0;
	pthread_mutex_lock(&dp->asm_lock);
	size_t i = 0;
	while (i < dp->nasm &&
	    (dp->asms[i].from != from || dp->asms[i].tag != tag ||
	        strcmp(dp->asms[i].part, rw->partition.ptr) != 0))
		i++;
	if (rw->part == 0) {
		if (i < dp->nasm)
			asm_drop(dp, i);
		if (rw->total > REPL_MAX_BLOB) {
			ls_log(LS_LOG_WARN, "dataplane",
			    "replicated state too large, dropped partition=%s "
			    "bytes=%llu limit=%llu",
			    rw->partition.ptr, (unsigned long long)rw->total,
			    (unsigned long long)REPL_MAX_BLOB);
			goto out;
		}
		if (dp->nasm == REPL_ASM_MAX)
			asm_drop(dp, 0);
		uint8_t *buf = malloc(rw->total ? (size_t)rw->total : 1);
		if (buf == NULL) {
			ls_log(LS_LOG_ERROR, "dataplane",
			    "out of memory: replicated state dropped "
			    "partition=%s bytes=%llu",
			    rw->partition.ptr, (unsigned long long)rw->total);
			goto out;
		}
		i = dp->nasm++;
		repl_asm *a = &dp->asms[i];
		memset(a, 0, sizeof(*a));
		a->from = from;
		a->tag = tag;
		a->epoch = epoch;
		a->ckpt = rw->ckpt;
		a->final = rw->final;
		a->total = rw->total;
		a->parts = rw->parts;
		a->buf = buf;
		snprintf(a->part, sizeof(a->part), "%s", rw->partition.ptr);
	} else if (i == dp->nasm) {
		goto out; /* its first slice was not seen (or dropped) */
	}
	repl_asm *a = &dp->asms[i];
	if (a->ckpt != rw->ckpt || a->next != rw->part ||
	    a->parts != rw->parts || a->total != rw->total ||
	    a->epoch != epoch || rw->blob_len > a->total - a->got) {
		ls_log(LS_LOG_WARN, "dataplane",
		    "replicated state slice out of order, dropped partition=%s "
		    "ckpt=%llu slice=%u of=%u",
		    a->part, (unsigned long long)rw->ckpt, rw->part, rw->parts);
		asm_drop(dp, i);
		goto out;
	}
	if (rw->blob_len > 0)
		memcpy(a->buf + a->got, rw->blob, rw->blob_len);
	a->got += rw->blob_len;
	a->next++;
	if (a->next == a->parts) {
		if (a->got == a->total) {
			*out = *a;
			a->buf = NULL; /* the caller's now */
			done = 1;
		}
		asm_drop(dp, i);
	}
out:
	pthread_mutex_unlock(&dp->asm_lock);
	return done;
}

/* Store a replicated state (blob, whole) of partition part in the run of
 * tag and acknowledge it in incarnation epoch. */
static void
repl_store(ls_dataplane *dp, uint32_t tag, uint64_t epoch, uint64_t ckpt,
    int final, const char *part, const uint8_t *blob, size_t blob_len)
{
	char topo[LS_MAP_MAX_NAME + 1] = "";
	/* The topology of this node's run or, when it has none right now
	 * (between the old run's stop and the new one's start, or not
	 * started yet), of the newest map; a map that does not name it yet
	 * is waited for (bounded).  A dropped state would never be
	 * acknowledged, and a partition's final state is saved only once per
	 * run, so no later checkpoint of that run could complete. */
	struct timespec deadline;
	ls_abstime_after(1000, &deadline);
	int stale = 0;
	for (;;) {
		pthread_rwlock_rdlock(&dp->runs_lock);
		run *r = run_by_tag(dp, tag);
		if (r != NULL) {
			/* of an older incarnation of the partition */
			size_t k = actor_named(r, part);
			stale = k < r->nactors &&
			    atomic_load(&r->inc[k]) > epoch;
			snprintf(topo, sizeof(topo), "%s", r->name);
		}
		pthread_rwlock_unlock(&dp->runs_lock);
		if (topo[0] != '\0')
			break;
		pthread_mutex_lock(&dp->lock);
		for (size_t i = 0; i < dp->nnames; i++) {
			if (dp->names[i].tag != tag)
				continue;
			snprintf(topo, sizeof(topo), "%s", dp->names[i].name);
		}
		int wrv = topo[0] != '\0' ? 0
		    : dp->stop            ? ETIMEDOUT
		                          : pthread_cond_timedwait(&dp->cond,
		                                &dp->lock, &deadline);
		pthread_mutex_unlock(&dp->lock);
		if (topo[0] != '\0')
			break;
		if (wrv == ETIMEDOUT) {
			ls_log(LS_LOG_WARN, "dataplane",
			    "replicated state of an unknown topology dropped "
			    "epoch=%llu partition=%s",
			    (unsigned long long)epoch, part);
			return;
		}
	}
	if (stale) {
		ls_metric_add(dp->m_fenced, 1);
		return;
	}
	if (blob == NULL)
		blob = (const uint8_t *)"";
	int rv = ckpt_store(dp, topo, epoch, ckpt, final, part, blob,
	    blob_len);
	if (rv == LS_ESTALE) {
		/* a newer incarnation's state of this id arrived first */
		ls_metric_add(dp->m_fenced, 1);
		ls_log(LS_LOG_DEBUG, "dataplane",
		    "stale replicated state not stored topology=%s "
		    "partition=%s ckpt=%llu incarnation=%llu",
		    topo, part, (unsigned long long)ckpt,
		    (unsigned long long)epoch);
		return;
	}
	if (rv == 0) {
		ls_metric_add(dp->m_repl_in, 1);
		if (dp->ack != NULL)
			dp->ack(dp->arg, topo, epoch, ckpt, final, part);
	}
}


static void
on_replication(ls_dataplane *dp, uint64_t from, const ls_envelope *env)
{
	void *tf;
	const uint8_t *p = aligned(env->payload, env->payload_len, &tf);
	ls_replication_wire rw;
	int rv = p != NULL || env->payload_len == 0
	    ? ls_codec_replication_decode(p, env->payload_len, &rw)
	    : LS_ENOMEM;
	if (rv == 0 && rw.partition.len > LS_MAP_MAX_NAME)
		rv = LS_ECORRUPT;
	if (rv != 0) {
		free(tf);
		ls_log(LS_LOG_WARN, "dataplane",
		    "malformed replicated state dropped epoch=%llu bytes=%zu "
		    "err=%s",
		    (unsigned long long)env->epoch, env->payload_len,
		    ls_errname(rv));
		return;
	}
	const char *part = rw.partition.ptr; /* the codec refuses a NUL */
	uint32_t tag = (uint32_t)(env->to >> 32);
	if (rw.parts > 1) {
		repl_asm whole;
		int done = repl_assemble(dp, from, tag, env->epoch, &rw, &whole);
		free(tf);
		if (done) {
			repl_store(dp, tag, whole.epoch, whole.ckpt, whole.final,
			    whole.part, whole.buf, (size_t)whole.total);
			free(whole.buf);
		}
		return;
	}
	repl_store(dp, tag, env->epoch, rw.ckpt, rw.final, part, rw.blob,
	    rw.blob_len);
	free(tf);
}

/* What try_env did with an envelope. */
enum { ENV_DONE, ENV_NOT_YET };

/* Deliver env from node `from` into the run of its epoch, or fence it
 * (an older epoch, or a partition this node does not own); ENV_NOT_YET
 * while this node does not run that epoch yet. */
static int
try_env(ls_dataplane *dp, uint64_t from, const ls_envelope *env)
{
	uint32_t tag = (uint32_t)(env->to >> 32);
	uint32_t idx = (uint32_t)env->to;
	pthread_rwlock_rdlock(&dp->runs_lock);
	run *r = run_by_tag(dp, tag);
	if (r != NULL && env->epoch <= atomic_load(&r->recv_epoch)) {
		/* an older epoch is fine for a partition that has not
		 * restarted since (a regional restore leaves the others
		 * running while the nodes switch) */
		if (idx >= r->nactors || r->owner[idx] != dp->self ||
		    env->epoch < atomic_load(&r->inc[idx])) {
			pthread_rwlock_unlock(&dp->runs_lock);
			ls_metric_add(dp->m_fenced, 1);
			return ENV_DONE;
		}
		ls_msg *m = to_msg(r, env);
		if (m == NULL) {
			pthread_rwlock_unlock(&dp->runs_lock);
			ls_log(LS_LOG_WARN, "dataplane",
			    "malformed envelope dropped type=%u", env->type);
			return ENV_DONE;
		}
		/* a channel identity: the sending actor on its node */
		m->from = ls_remote_ref(link_of(r, from),
		    ls_hash64(&env->from, sizeof(env->from), from));
		deliver(r, from, ls_pipeline_ref(r->pl, idx), m);
		pthread_rwlock_unlock(&dp->runs_lock);
		return ENV_DONE;
	}
	pthread_rwlock_unlock(&dp->runs_lock);
	return ENV_NOT_YET;
}

/*
 * Envelopes that arrive before this node runs their epoch (the sender
 * started the new placement first) wait in a queue of the sending node,
 * with every later envelope of that node behind them (order), and that
 * node's credit is withheld as for a full mailbox -- so the receive thread
 * never waits, and the queue holds at most window_frames frames.  The run
 * thread replays the queues after every change of runs and every 500 ms;
 * an envelope still early after EARLY_WAIT_MS is dropped (the sender's
 * run is then of a placement this node will not run).
 */
#define EARLY_WAIT_MS 5000

typedef struct early_env {
	ls_envelope env; /* payload points into a copy owned here */
	int64_t deadline_ns;
} early_env;

typedef struct early_q {
	uint64_t node;
	int paused;
	early_env *q;
	size_t head, n, cap;
} early_q;

/* The early queue of node, created when want.  early_lock held. */
static early_q *
early_get(ls_dataplane *dp, uint64_t node, int want)
{
	for (size_t i = 0; i < dp->nearly; i++)
		if (dp->early[i].node == node)
			return &dp->early[i];
	if (!want)
		return NULL;
	early_q *n = realloc(dp->early, (dp->nearly + 1) * sizeof(*n));
	if (n == NULL)
		return NULL;
	dp->early = n;
	early_q *q = &dp->early[dp->nearly++];
	memset(q, 0, sizeof(*q));
	q->node = node;
	return q;
}

/* Append a copy of env to q; early_lock held. */
static int
early_push(early_q *q, const ls_envelope *env)
{
	if (q->head + q->n == q->cap) {
		if (q->head > 0) {
			memmove(q->q, q->q + q->head, q->n * sizeof(*q->q));
			q->head = 0;
		}
		if (q->n == q->cap) {
			size_t nc = q->cap ? 2 * q->cap : 64;
			early_env *nq = realloc(q->q, nc * sizeof(*nq));
			if (nq == NULL)
				return LS_ENOMEM;
			q->q = nq;
			q->cap = nc;
		}
	}
	early_env *e = &q->q[q->head + q->n];
	e->env = *env;
	e->env.payload = NULL;
	if (env->payload_len > 0) {
		uint8_t *c = malloc(env->payload_len);
		if (c == NULL)
			return LS_ENOMEM;
		memcpy(c, env->payload, env->payload_len);
		e->env.payload = c;
	}
	e->deadline_ns = ls_clock_ns() + (int64_t)EARLY_WAIT_MS * 1000000;
	q->n++;
	return 0;
}

static void
early_pop(early_q *q)
{
	free((void *)q->q[q->head].env.payload);
	q->head++;
	q->n--;
}

static void
early_dropped(const ls_envelope *env)
{
	ls_log(LS_LOG_WARN, "dataplane",
	    "envelope for an epoch this node does not run dropped epoch=%llu",
	    (unsigned long long)env->epoch);
}

/* Run thread: deliver what the early queues hold as far as this node runs
 * their epochs now; give paused nodes their credit back once empty. */
static void
early_replay(ls_dataplane *dp)
{
	pthread_mutex_lock(&dp->early_lock);
	for (size_t i = 0; i < dp->nearly; i++) {
		early_q *q = &dp->early[i];
		while (q->n > 0) {
			early_env *e = &q->q[q->head];
			if (try_env(dp, q->node, &e->env) == ENV_NOT_YET) {
				if (ls_clock_ns() < e->deadline_ns && !dp->stop)
					break;
				early_dropped(&e->env);
			}
			early_pop(q);
		}
		if (q->n == 0 && q->paused) {
			q->head = 0;
			q->paused = 0;
			ls_transport_resume(dp->tr, q->node);
		}
	}
	pthread_mutex_unlock(&dp->early_lock);
}

static void
early_free(ls_dataplane *dp)
{
	for (size_t i = 0; i < dp->nearly; i++) {
		early_q *q = &dp->early[i];
		while (q->n > 0)
			early_pop(q);
		free(q->q);
	}
	free(dp->early);
	dp->early = NULL;
	dp->nearly = 0;
}

static void
on_envelope(void *arg, uint64_t from, const ls_envelope *env)
{
	ls_dataplane *dp = arg;

	if (env->type == LS_MSG_REPLICATION_BATCH) {
		on_replication(dp, from, env);
		return;
	}
	/* Under early_lock, so that the run thread's replay cannot slip
	 * between "not yet" and the queueing. */
	pthread_mutex_lock(&dp->early_lock);
	early_q *q = early_get(dp, from, 0);
	if ((q != NULL && q->n > 0) || try_env(dp, from, env) == ENV_NOT_YET) {
		if (q == NULL)
			q = early_get(dp, from, 1);
		if (q == NULL || early_push(q, env) != 0) {
			early_dropped(env);
		} else {
			ls_metric_add(dp->m_early, 1);
			if (!q->paused) {
				ls_metric_add(dp->m_paused, 1);
				q->paused = 1;
				ls_transport_pause(dp->tr, from);
			}
		}
	}
	pthread_mutex_unlock(&dp->early_lock);
}

/* ---- runs (run thread) ---- */

/* The metrics of run r, labelled with its topology (the registry keeps
 * them across runs of the same topology). */
static void
run_metrics(ls_dataplane *dp, run *r)
{
	if (dp->metrics == NULL)
		return;
	char labels[LS_MAP_MAX_NAME + 32];
	snprintf(labels, sizeof(labels), "topology=\"%s\"", r->name);
	r->m_ck_done = ls_metrics_counter(dp->metrics,
	    "logstream_checkpoints_completed_total",
	    "Checkpoints of the topology that completed (seen by this node).",
	    labels);
	r->m_ck_ms = ls_metrics_gauge(dp->metrics,
	    "logstream_checkpoint_duration_ms",
	    "The last completed checkpoint: from the first state a local "
	    "partition saved for it to its completion here.", labels);
	r->m_ck_bytes = ls_metrics_counter(dp->metrics,
	    "logstream_checkpoint_bytes_total",
	    "Bytes of partition states (or their changes) saved here as "
	    "owner.", labels);
	r->m_ck_age = ls_metrics_gauge(dp->metrics,
	    "logstream_checkpoint_completed_unixtime_ms",
	    "Wall-clock time of the topology's last completed checkpoint "
	    "seen here (now minus it: how far the committed output lags).",
	    labels);
}

/* Checkpoint ck of r completed (run thread). */
static void
checkpoint_done(run *r, uint64_t ck)
{
	ls_metric_add(r->m_ck_done, 1);
	ls_metric_set(r->m_ck_age, ls_wall_ns() / 1000000);
	if (atomic_load(&r->save_ck) == ck)
		ls_metric_set(r->m_ck_ms,
		    (ls_clock_ns() - atomic_load(&r->save_ns)) / 1000000);
}

static void
run_free(run *r)
{
	if (r == NULL)
		return;
	atomic_store(&r->stopping, 1);
	if (r->rt != NULL)
		ls_runtime_destroy(r->rt);
	/* no receive thread sees r any more and no actor runs: give the
	 * held messages up and the paused nodes their credit back */
	for (size_t i = 0; i < r->ninq; i++) {
		inq *q = &r->inq[i];
		for (size_t k = 0; k < q->n; k++)
			ls_msg_free(NULL, q->m[q->head + k]);
		if (q->paused)
			ls_transport_resume(r->dp->tr, q->node);
		free(q->m);
		free(q->to);
	}
	free(r->inq);
	if (r->in_lock_init) {
		pthread_mutex_destroy(&r->in_lock);
		pthread_mutex_destroy(&r->sb_lock);
	}
	free(r->links);
	ls_pipeline_free(r->pl);
	ls_plan_free(r->plan);
	ls_topology_free(r->topo);
	free(r->owner);
	free((void *)r->inc);
	free(r->load);
	free(r->nsb);
	free(r->sb);
	free(r);
}

/* The first id of the run epoch that took checkpoint ckpt: a partition's
 * final state stands for the later checkpoints of the same run only. */
static uint64_t
epoch_start(uint64_t ckpt)
{
	return ckpt >> 32 << 32;
}

/* Partition state fetched from other nodes before a run starts: every
 * partition missing here at once, each from the first node that has it
 * (live nodes before suspect ones). */
typedef struct fetch_job {
	const char *part;
	uint64_t inc; /* the incarnation that restores from it */
	uint64_t local; /* a state here of unknown incarnation, or 0 */
	int found;
} fetch_job;

typedef struct fetch_set {
	ls_dataplane *dp;
	const ls_map *map;
	const char *topo;
	uint64_t ckpt;
	fetch_job *jobs;
	size_t njobs;
	_Atomic size_t next;
} fetch_set;

#define FETCH_THREADS 8
#define FETCH_TIMEOUT_MS 2000

static int
fetch_one(const fetch_set *fs, const char *part, uint64_t inc)
{
	ls_dataplane *dp = fs->dp;
	char path[1024];
	snprintf(path, sizeof(path),
	    "/v1/internal/ckpt?topology=%s&ckpt=%llu&partition=%s", fs->topo,
	    (unsigned long long)fs->ckpt, part);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ls_map_node_count(fs->map); i++) {
			ls_map_node mn;
			if (ls_map_node_at(fs->map, i, &mn) != 0 ||
			    mn.id == dp->self || mn.http == NULL ||
			    mn.http[0] == '\0' ||
			    mn.state != (pass == 0 ? LS_NODE_ALIVE
			                           : LS_NODE_SUSPECT))
				continue;
			int status = 0;
			char *resp = NULL;
			size_t rlen = 0;
			if (ls_http_request(mn.http, "GET", path, NULL, 0, &status,
			        &resp, &rlen, FETCH_TIMEOUT_MS) == 0 &&
			    status == 200) {
				/* the state as of ckpt (perhaps a final one of an
				 * earlier id): stored under ckpt */
				int rv = ckpt_store(dp, fs->topo, inc, fs->ckpt,
				    0, part, resp, rlen);
				free(resp);
				if (rv == 0)
					return 0;
				continue;
			}
			free(resp);
		}
	}
	return LS_ENOENT;
}

static void *
fetch_thread(void *arg)
{
	fetch_set *fs = arg;
	size_t j;
	while ((j = atomic_fetch_add(&fs->next, 1)) < fs->njobs)
		fs->jobs[j].found = fetch_one(fs, fs->jobs[j].part,
		    fs->jobs[j].inc) == 0;
	return NULL;
}

/* Fetch every job of fs, in parallel when there are several. */
static void
fetch_all(fetch_set *fs)
{
	pthread_t th[FETCH_THREADS];
	size_t nth = 0;
	atomic_store(&fs->next, 0);
	while (fs->njobs > 1 && nth < FETCH_THREADS && nth + 1 < fs->njobs &&
	    pthread_create(&th[nth], NULL, fetch_thread, fs) == 0)
		nth++;
	fetch_thread(fs); /* this thread helps */
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
}

/* Can the blob of part at id be restored from here?  A kind's own blob
 * can; a changelog (actors/kstate.h) needs this node's copy of the state
 * and the blobs after its base, else a self-contained one is fetched. */
static int
chain_here(ls_dataplane *dp, const char *topo, const char *part, uint64_t id)
{
	void *b;
	size_t len;
	if (ls_store_ckpt_get(dp->store, topo, id, part, &b, &len) != 0)
		return 0;
	int ok = !ls_kstate_is_blob(b, len) ||
	    ls_kstate_check(dp->store, topo, part, b, len) == 0;
	free(b);
	return ok;
}

/* Checkpoint ck of r completed: bring this node's copies of the keyed
 * state of partitions it is a standby of up to ck, from the changelogs
 * their owners sent (actors/kstate.h).  A copy that cannot follow (it
 * missed one) stays behind; a restore here then fetches a self-contained
 * blob from another node. */
static void
catch_up_copies(ls_dataplane *dp, run *r, uint64_t ck)
{
	for (size_t i = 0; i < r->nactors; i++) {
		if (r->owner[i] == dp->self)
			continue;
		int standby = 0;
		for (unsigned s = 0; s < r->nsb[i]; s++)
			standby |= r->sb[i][s] == dp->self;
		const ls_plan_actor *pa = ls_plan_actor_at(r->plan, i);
		const ls_kind *k = ls_topology_node(r->topo, pa->node)->kind_def;
		if (!standby || k == NULL || k->sync == NULL)
			continue;
		uint64_t id;
		void *b;
		size_t len;
		if (ls_store_ckpt_find(dp->store, r->name, epoch_start(ck), ck,
		        pa->name, &id, NULL) != 0 ||
		    ls_store_ckpt_get(dp->store, r->name, id, pa->name, &b,
		        &len) != 0)
			continue;
		int rv = ls_kstate_is_blob(b, len)
		    ? ls_kstate_catch_up(dp->store, r->name, pa->name, b, len)
		    : 0;
		free(b);
		if (rv != 0)
			ls_log(LS_LOG_DEBUG, "dataplane",
			    "state copy behind topology=%s partition=%s "
			    "ckpt=%llu err=%s",
			    r->name, pa->name, (unsigned long long)ck,
			    ls_errname(rv));
	}
}

/* Delete the blobs of r below ck that no restore needs any more: partitions
 * on keyed state here restore from their folded base and the blobs after
 * it. */
static void
ckpt_gc(ls_dataplane *dp, run *r, uint64_t ck)
{
	uint64_t floor = r->pl != NULL ? ls_pipeline_state_floor(r->pl) : 0;
	uint64_t keep = floor < ck ? floor + 1 : ck;
	if (keep > 1)
		ls_store_ckpt_gc(dp->store, r->name, keep);
	ckinc_forget(dp, r->name, ck);
}

/* For every local actor of r, find the blob to restore it from at
 * checkpoint ck -- ck's own, or the partition's final one from earlier in
 * the same run epoch -- here or, when this node holds neither, on another
 * node (stored here under ck).  Fills r->load. */
static int
find_states(ls_dataplane *dp, const ls_map *map, run *r, uint64_t ck,
    const uint8_t *only, const uint64_t *inc)
{
	fetch_job *jobs = calloc(r->nactors ? r->nactors : 1, sizeof(*jobs));
	if (jobs == NULL)
		return LS_ENOMEM;
	size_t njobs = 0;
	for (size_t i = 0; i < r->nactors; i++) {
		if (r->owner[i] != dp->self || (only != NULL && !only[i]))
			continue;
		r->load[i] = 0;
		const char *part = ls_plan_actor_at(r->plan, i)->name;
		uint64_t id;
		int here = ls_store_ckpt_find(dp->store, r->name,
		               epoch_start(ck), ck, part, &id, NULL) == 0 &&
		    chain_here(dp, r->name, part, id);
		/* ck's own state from an earlier life of this node may be of
		 * an incarnation whose cut at ck is not the completed one
		 * (fences of that time are gone): the nodes that lived
		 * through it hold the completed one; ours only if none has */
		int doubt = here && id == ck &&
		    !ckpt_known(dp, r->name, part, id);
		if (here && !doubt) {
			r->load[i] = id;
		} else {
			jobs[njobs].inc = inc[i];
			jobs[njobs].local = doubt ? id : 0;
			jobs[njobs++].part = part;
		}
	}
	int rv = 0;
	if (njobs > 0) {
		fetch_set fs = { dp, map, r->name, ck, jobs, njobs, 0 };
		fetch_all(&fs);
		for (size_t j = 0; j < njobs; j++) {
			if (jobs[j].found)
				continue;
			if (jobs[j].local != 0) {
				size_t a = actor_named(r, jobs[j].part);
				if (a < r->nactors)
					r->load[a] = jobs[j].local;
				ls_log(LS_LOG_INFO, "dataplane",
				    "checkpoint state only here, restored "
				    "from this node's copy topology=%s "
				    "ckpt=%llu partition=%s",
				    r->name, (unsigned long long)ck,
				    jobs[j].part);
				continue;
			}
			ls_log(LS_LOG_ERROR, "dataplane",
			    "checkpoint state not found on any node "
			    "topology=%s ckpt=%llu partition=%s",
			    r->name, (unsigned long long)ck, jobs[j].part);
			rv = LS_ENOENT;
		}
		for (size_t i = 0; rv == 0 && i < r->nactors; i++)
			if (r->owner[i] == dp->self && r->load[i] == 0 &&
			    (only == NULL || only[i]))
				r->load[i] = ck; /* fetched */
	}
	free(jobs);
	return rv;
}

/* The newest checkpoint of r's lineage this node holds a state of (its
 * own or replicated): the sources of the topology are at least there, so
 * a restarted source sends the barriers up to it at once. */
static uint64_t
newest_held(ls_dataplane *dp, const run *r)
{
	uint64_t best = 0;
	for (size_t i = 0; i < r->nactors; i++) {
		uint64_t id;
		if (ls_store_ckpt_latest(dp->store, r->name,
		        ls_plan_actor_at(r->plan, i)->name, &id) == 0 &&
		    (id >> 32) == r->lineage && id > best)
			best = id;
	}
	return best;
}

static int
run_start(ls_dataplane *dp, const ls_map *map, const char *name,
    const char *yaml, uint64_t epoch, run **out)
{
	run *r = calloc(1, sizeof(*r));
	char err[256];
	if (r == NULL)
		return LS_ENOMEM;
	r->dp = dp;
	snprintf(r->name, sizeof(r->name), "%s", name);
	run_metrics(dp, r);
	r->tag = topo_tag(name);
	r->epoch = epoch;
	r->recv_epoch = epoch;
	r->yaml_hash = ls_hash64(yaml, strlen(yaml), 0);
	int rv = ls_topology_parse(name, yaml, strlen(yaml), &r->topo, NULL);
	if (rv == 0)
		rv = ls_plan_build(r->topo, &r->plan, NULL);
	if (rv != 0)
		goto fail;
	r->nactors = ls_plan_actor_count(r->plan);
	r->owner = calloc(r->nactors ? r->nactors : 1, sizeof(*r->owner));
	r->nsb = calloc(r->nactors ? r->nactors : 1, 1);
	r->sb = calloc(r->nactors ? r->nactors : 1, sizeof(*r->sb));
	r->load = calloc(r->nactors ? r->nactors : 1, sizeof(*r->load));
	r->links = calloc(r->nactors ? r->nactors : 1, sizeof(*r->links));
	r->inc = calloc(r->nactors ? r->nactors : 1, sizeof(*r->inc));
	rv = LS_ENOMEM;
	if (r->owner == NULL || r->nsb == NULL || r->sb == NULL ||
	    r->load == NULL || r->links == NULL || r->inc == NULL)
		goto fail;
	pthread_mutex_init(&r->in_lock, NULL);
	pthread_mutex_init(&r->sb_lock, NULL);
	r->in_lock_init = 1;
	for (size_t i = 0; i < r->nactors; i++) {
		ls_map_assignment a;
		rv = ls_map_assignment_find(map, name,
		    ls_plan_actor_at(r->plan, i)->name, &a);
		if (rv != 0)
			goto fail; /* not placed yet */
		r->owner[i] = a.owner;
		r->nsb[i] = (uint8_t)a.n_standbys;
		memcpy(r->sb[i], a.standbys, sizeof(r->sb[i]));
		if (a.owner == dp->self)
			r->nlocal++;
		else if (link_of(r, a.owner) == 0)
			r->links[r->nlinks++] = a.owner;
	}
	uint64_t ck = 0;
	ls_map_topology_checkpoint(map, name, &ck, NULL);
	r->restored = ck;
	/* Before the topology's first completed checkpoint a run starts
	 * afresh, on every node (ids of a lineage of its own); after it, a
	 * node that starts a run joins the lineage of that checkpoint: its
	 * partitions restarted there (moved here, region.h), and the others
	 * replay to them. */
	r->regional = ls_topology_setting_bool(r->topo, "regional_restore", 1);
	int joined = r->regional && ck != 0;
	r->lineage = joined ? ck >> 32 : epoch;
	uint64_t *inc = calloc(r->nactors ? r->nactors : 1, sizeof(*inc));
	if (inc == NULL || (rv = ls_region_inc(map, name, r->plan, inc)) != 0) {
		free(inc);
		rv = rv != 0 ? rv : LS_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < r->nactors; i++) {
		atomic_init(&r->inc[i], joined ? inc[i] : epoch);
		inc[i] = atomic_load(&r->inc[i]);
		/* every partition starts here from ck: what older
		 * incarnations elsewhere still send past it is stale */
		if (joined)
			ckpt_fence(dp, name, ls_plan_actor_at(r->plan, i)->name,
			    inc[i], ck);
	}
	rv = ck != 0 ? find_states(dp, map, r, ck, NULL, inc) : 0;
	free(inc);
	if (rv != 0)
		goto fail;
	ingest_pull(dp, r, NULL, NULL);
	ls_runtime_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.workers = dp->workers;
	ro.mailbox_cap = 65536;
	if ((rv = ls_runtime_create(&ro, &r->rt)) != 0)
		goto fail;
	r->ops.send = remote_send;
	r->ops.arg = r;
	if ((rv = ls_remote_attach(r->rt, &r->ops)) != 0)
		goto fail;
	ls_spawn_opts io = { .name = "ingress", .arg = r };
	if ((rv = ls_spawn(r->rt, &ingress_behaviour, &io, &r->ingress)) != 0)
		goto fail;
	ls_pipeline_opts po;
	memset(&po, 0, sizeof(po));
	po.metrics = dp->metrics;
	po.local = hook_local;
	po.spawn_remote = hook_spawn_remote;
	po.checkpoint_ms = ls_topology_setting_ms(r->topo,
	    "checkpoint_interval", 1000);
	po.first_checkpoint_ms = FIRST_CHECKPOINT_MS;
	r->reack_ns = (po.checkpoint_ms * 2 > REACK_AFTER_MS
	                      ? po.checkpoint_ms * 2
	                      : REACK_AFTER_MS) *
	    INT64_C(1000000);
	po.ckpt_base = joined ? ck : epoch << 32;
	po.replay_log_events = r->regional ? REPLAY_LOG_EVENTS : 0;
	po.view = epoch;
	po.restarted = joined;
	po.catch_up = newest_held(dp, r);
	po.ckpt_save = hook_ckpt_save;
	po.ckpt_load = hook_ckpt_load;
	po.arg = r;
	po.store = dp->store;
	po.ckpt_ns = r->name;
	r->ingest.push = hook_ingest_push;
	r->ingest.arg = r;
	po.ingest_repl = &r->ingest;
	/* inbound messages for this epoch wait until publish() */
	rv = ls_pipeline_start(r->rt, r->plan, &po, &r->pl, err, sizeof(err));
	if (rv != 0) {
		ls_log(LS_LOG_ERROR, "dataplane",
		    "cannot start topology=%s reason=\"%s\"", name, err);
		goto fail;
	}
	if (ck != 0) {
		ls_pipeline_commit(r->pl, ck); /* restored sinks write it */
		r->committed = ck;
	}
	r->started_ms = ls_wall_ns() / 1000000;
	r->progress_ns = ls_clock_ns();
	*out = r;
	return 0;
fail:
	run_free(r);
	return rv;
}

static void
publish(ls_dataplane *dp, run *old, run *fresh)
{
	pthread_rwlock_wrlock(&dp->runs_lock);
	size_t i = 0;
	while (i < dp->nruns && dp->runs[i] != old)
		i++;
	if (old != NULL && i < dp->nruns) {
		if (fresh != NULL)
			dp->runs[i] = fresh;
		else
			dp->runs[i] = dp->runs[--dp->nruns];
	} else if (fresh != NULL) {
		run **n = realloc(dp->runs, (dp->nruns + 1) * sizeof(*n));
		if (n != NULL) {
			dp->runs = n;
			dp->runs[dp->nruns++] = fresh;
		}
	}
	pthread_rwlock_unlock(&dp->runs_lock);
	pthread_mutex_lock(&dp->lock);
	pthread_cond_broadcast(&dp->cond);
	pthread_mutex_unlock(&dp->lock);
}

static void
on_unknown(void *arg, uint64_t node, const uint8_t *info, size_t len)
{
	ls_dataplane *dp = arg;
	dp->unknown(dp->unknown_arg, node, info, len);
}

int
ls_dataplane_seed(ls_dataplane *dp, uint64_t node, const char *url)
{
	return ls_transport_peer_add(dp->tr, node, url);
}

typedef struct reack {
	ls_dataplane *dp;
	run *r;
	size_t n;
} reack;

static void
reack_one(void *arg, const char *part, uint64_t ckpt)
{
	reack *ra = arg;
	run *r = ra->r;
	for (size_t i = 0; i < r->nactors; i++) {
		if (strcmp(ls_plan_actor_at(r->plan, i)->name, part) != 0)
			continue;
		int holder = r->owner[i] == ra->dp->self;
		for (unsigned s = 0; s < r->nsb[i]; s++)
			holder |= r->sb[i][s] == ra->dp->self;
		if (holder) {
			ra->dp->ack(ra->dp->arg, r->name,
			    atomic_load(&r->inc[i]), ckpt, 1, part);
			ra->n++;
		}
		return;
	}
}

/* Acknowledge again every final state of r's run epoch this node holds as
 * an owner or standby (the leader takes duplicates). */
static void
reack_finals(ls_dataplane *dp, run *r)
{
	if (dp->ack == NULL)
		return;
	reack ra = { dp, r, 0 };
	ls_store_ckpt_finals(dp->store, r->name, r->lineage << 32, reack_one,
	    &ra);
	if (ra.n > 0)
		ls_log(LS_LOG_INFO, "dataplane",
		    "no checkpoint progress: final states acknowledged again "
		    "topology=%s epoch=%llu states=%zu",
		    r->name, (unsigned long long)r->epoch, ra.n);
}

/* What run_rewind's stopped hook applies once the old incarnations of
 * the restarted partitions are gone. */
typedef struct rewind_ctx {
	run *r;
	const ls_map *map;
	const uint64_t *inc;
	uint64_t ck;
} rewind_ctx;

static void
rewind_stopped(void *arg)
{
	rewind_ctx *rc = arg;
	run *r = rc->r;
	for (size_t i = 0; i < r->nactors; i++) {
		if (rc->inc[i] <= atomic_load(&r->inc[i]))
			continue;
		/* its old incarnation here has stopped: nothing of it is
		 * stored past ck any more */
		ckpt_fence(r->dp, r->name, ls_plan_actor_at(r->plan, i)->name,
		    rc->inc[i], rc->ck);
		ls_map_assignment a;
		if (ls_map_assignment_find(rc->map, r->name,
		        ls_plan_actor_at(r->plan, i)->name, &a) != 0)
			continue;
		if (a.owner != r->dp->self && link_of(r, a.owner) == 0) {
			r->links[r->nlinks] = a.owner;
			r->nlinks++;
		}
		r->owner[i] = a.owner;
		pthread_mutex_lock(&r->sb_lock);
		r->nsb[i] = (uint8_t)a.n_standbys;
		memcpy(r->sb[i], a.standbys, sizeof(r->sb[i]));
		pthread_mutex_unlock(&r->sb_lock);
		atomic_store(&r->inc[i], rc->inc[i]);
	}
}

/* The partitions of r that keep running take the standbys of map (a
 * standby change alone restarts nothing); an owner here ships the whole
 * state with its next checkpoint to a standby it gained, which has no
 * copy to apply changes to.  The number of partitions changed. */
static size_t
follow_standbys(ls_dataplane *dp, const ls_map *map, run *r)
{
	size_t changed = 0;
	for (size_t i = 0; i < r->nactors; i++) {
		ls_map_assignment a;
		if (ls_map_assignment_find(map, r->name,
		        ls_plan_actor_at(r->plan, i)->name, &a) != 0 ||
		    a.owner != r->owner[i])
			continue;
		if (a.n_standbys == r->nsb[i] &&
		    memcmp(a.standbys, r->sb[i],
		        a.n_standbys * sizeof(uint64_t)) == 0)
			continue;
		int gained = 0;
		uint64_t sb_was[LS_MAP_MAX_STANDBYS];
		unsigned nsb_was = r->nsb[i];
		memcpy(sb_was, r->sb[i], sizeof(sb_was));
		for (unsigned s = 0; s < a.n_standbys; s++) {
			int had = 0;
			for (unsigned t = 0; t < r->nsb[i]; t++)
				had |= r->sb[i][t] == a.standbys[s];
			gained |= !had;
		}
		pthread_mutex_lock(&r->sb_lock);
		r->nsb[i] = (uint8_t)a.n_standbys;
		memset(r->sb[i], 0, sizeof(r->sb[i]));
		memcpy(r->sb[i], a.standbys,
		    a.n_standbys * sizeof(uint64_t));
		pthread_mutex_unlock(&r->sb_lock);
		if (gained && a.owner == dp->self)
			ls_pipeline_reship(r->pl, i);
		/* a standby gained has none of the ingest log's records */
		for (unsigned s = 0; gained && a.owner == dp->self &&
		     keeps_ingest_log(r, i) && s < a.n_standbys; s++) {
			int had = 0;
			for (unsigned t = 0; t < nsb_was; t++)
				had |= sb_was[t] == a.standbys[s];
			int rv = had ? 0
			             : ls_irepl_push_log(dp->irepl, a.standbys[s],
			                   r->name,
			                   ls_plan_actor_at(r->plan, i)->name,
			                   atomic_load(&r->inc[i]),
			                   INGEST_PUSH_TIMEOUT_MS);
			if (rv != 0)
				ls_log(LS_LOG_WARN, "dataplane",
				    "ingest log not copied to a new standby "
				    "topology=%s partition=%s standby=%llu "
				    "err=%s",
				    r->name, ls_plan_actor_at(r->plan, i)->name,
				    (unsigned long long)a.standbys[s],
				    ls_errname(rv));
		}
		changed++;
	}
	return changed;
}

/*
 * Regional restore of a running r to the placement of map (run epoch e):
 * the partitions whose incarnation grew restart from the map's last
 * completed checkpoint K (here, or on the node that owns them now), the
 * others keep running and replay to them.  Possible when K is of r's
 * lineage.  1: done; 0: not possible, restart the run (global); -1:
 * failed for now (a state not found), r unchanged -- retried with the
 * next map.
 */
static int
run_rewind(ls_dataplane *dp, const ls_map *map, run *r, uint64_t e)
{
	uint64_t ck = 0;
	ls_map_topology_checkpoint(map, r->name, &ck, NULL);
	if (!r->regional)
		return 0;
	uint64_t *inc = calloc(r->nactors ? r->nactors : 1, sizeof(*inc));
	uint8_t *here = calloc(r->nactors ? r->nactors : 1, 1);
	uint64_t *owner = calloc(r->nactors ? r->nactors : 1, sizeof(*owner));
	int rv = -1;
	if (inc == NULL || here == NULL || owner == NULL ||
	    ls_region_inc(map, r->name, r->plan, inc) != 0)
		goto out;
	int64_t t0 = ls_clock_ns();
	size_t nrestart = 0, nhere = 0;
	/* the restarted partitions that will run here: their states first
	 * (nothing changes when one is missing) */
	memcpy(owner, r->owner, r->nactors * sizeof(*owner));
	for (size_t i = 0; i < r->nactors; i++) {
		if (inc[i] <= atomic_load(&r->inc[i]))
			continue;
		nrestart++;
		ls_map_assignment a;
		if (ls_map_assignment_find(map, r->name,
		        ls_plan_actor_at(r->plan, i)->name, &a) != 0)
			goto out;
		r->owner[i] = a.owner;
		if (a.owner == dp->self) {
			here[i] = 1;
			nhere++;
		}
	}
	if (nrestart == 0) {
		/* only standbys changed: nothing restarts */
		size_t nsb = follow_standbys(dp, map, r);
		r->epoch = e;
		atomic_store(&r->recv_epoch, e);
		ls_log(LS_LOG_INFO, "dataplane",
		    "standbys changed topology=%s epoch=%llu partitions=%zu",
		    r->name, (unsigned long long)e, nsb);
		rv = 1;
		goto out;
	}
	if (ck == 0 || (ck >> 32) != r->lineage) {
		memcpy(r->owner, owner, r->nactors * sizeof(*owner));
		rv = 0; /* no checkpoint of this run to restore from */
		goto out;
	}
	r->restored = ck;
	int frv = nhere > 0 ? find_states(dp, map, r, ck, here, inc) : 0;
	memcpy(r->owner, owner, r->nactors * sizeof(*owner));
	if (frv != 0)
		goto out;
	if (nhere > 0)
		ingest_pull(dp, r, here, inc);
	uint64_t hint = newest_held(dp, r);
	rewind_ctx rc = { r, map, inc, ck };
	char err[256] = "";
	r->epoch = e;
	int prv = ls_pipeline_rewind(r->pl, inc, e, ck, hint, rewind_stopped,
	    &rc, err, sizeof(err));
	if (prv != 0) {
		ls_log(LS_LOG_ERROR, "dataplane",
		    "regional restore failed topology=%s epoch=%llu "
		    "reason=\"%s\"",
		    r->name, (unsigned long long)e, err);
		rv = 0; /* the run cannot go on: restart it */
		goto out;
	}
	/* the restarted partitions run: envelopes of epoch e reach them */
	atomic_store(&r->recv_epoch, e);
	(void)follow_standbys(dp, map, r);
	r->committed = ck;
	r->ck_epoch = 0;
	r->progress_ns = ls_clock_ns();
	ls_log(LS_LOG_INFO, "dataplane",
	    "regional restore topology=%s epoch=%llu restored_from=%llu "
	    "restarted=%zu here=%zu of=%zu took_ms=%.1f",
	    r->name, (unsigned long long)e, (unsigned long long)ck, nrestart,
	    nhere, r->nactors, (double)(ls_clock_ns() - t0) / 1e6);
	ls_metric_add(dp->m_regional, 1);
	rv = 1;
out:
	free(inc);
	free(here);
	free(owner);
	return rv;
}

static void
apply_map(ls_dataplane *dp, const ls_map *map)
{
	/* peers */
	for (size_t i = 0; i < ls_map_node_count(map); i++) {
		ls_map_node mn;
		if (ls_map_node_at(map, i, &mn) == 0 && mn.id != dp->self &&
		    mn.url != NULL)
			ls_transport_peer_add(dp->tr, mn.id, mn.url);
	}
	/* runs that ended or changed */
	for (size_t i = 0; i < dp->nruns;) {
		run *r = dp->runs[i];
		const char *yaml;
		int gone = ls_map_topology_find(map, r->name, &yaml) != 0;
		int same = !gone &&
		    ls_hash64(yaml, strlen(yaml), 0) == r->yaml_hash;
		uint64_t me = same ? ls_map_run_epoch(map, r->name) : 0;
		if (same && me > r->epoch) {
			int rr = run_rewind(dp, map, r, me);
			if (rr < 0) {
				i++; /* retried with the next map */
				continue;
			}
		}
		if (same && me == r->epoch) {
			uint64_t ck = 0;
			int fin = 0;
			ls_map_topology_checkpoint(map, r->name, &ck, &fin);
			if (ck > r->committed && (ck >> 32) == r->lineage) {
				checkpoint_done(r, ck);
				ls_pipeline_commit(r->pl, ck);
				catch_up_copies(dp, r, ck);
				ckpt_gc(dp, r, ck);
				r->committed = ck;
				r->ck_epoch = r->epoch;
				r->progress_ns = ls_clock_ns();
			} else if (!fin &&
			    ls_clock_ns() - r->progress_ns >= r->reack_ns) {
				reack_finals(dp, r);
				r->progress_ns = ls_clock_ns();
			}
			i++;
			continue;
		}
		/* stop it: the new run (if any) starts from the map */
		int64_t t0 = ls_clock_ns();
		char name[LS_MAP_MAX_NAME + 1];
		uint64_t epoch = r->epoch;
		snprintf(name, sizeof(name), "%s", r->name);
		atomic_store(&r->stopping, 1);
		publish(dp, r, NULL);
		run_free(r);
		ls_log(LS_LOG_INFO, "dataplane",
		    "run stopped topology=%s epoch=%llu took_ms=%.1f", name,
		    (unsigned long long)epoch,
		    (double)(ls_clock_ns() - t0) / 1e6);
		if (gone) {
			ls_store_ckpt_drop(dp->store, name);
			ckinc_forget(dp, name, 0);
		}
		ls_metric_add(dp->m_restarts, 1);
	}
	/* runs to start */
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, i, &name, &yaml) != 0)
			continue;
		pthread_rwlock_rdlock(&dp->runs_lock);
		uint32_t tag = topo_tag(name);
		int have = run_by_tag(dp, tag) != NULL;
		pthread_rwlock_unlock(&dp->runs_lock);
		uint64_t e = ls_map_run_epoch(map, name);
		if (have || e == 0)
			continue;
		run *r;
		int64_t t0 = ls_clock_ns();
		if (run_start(dp, map, name, yaml, e, &r) != 0)
			continue; /* retried on the next map */
		publish(dp, NULL, r);
		ls_log(LS_LOG_INFO, "dataplane",
		    "run started topology=%s epoch=%llu local_actors=%u "
		    "restored_from=%llu took_ms=%.1f",
		    name, (unsigned long long)e, r->nlocal,
		    (unsigned long long)r->restored,
		    (double)(ls_clock_ns() - t0) / 1e6);
	}
}

static void *
run_thread(void *arg)
{
	ls_dataplane *dp = arg;
	pthread_mutex_lock(&dp->lock);
	while (!dp->stop) {
		ls_map *m = dp->pending;
		dp->pending = NULL;
		if (m == NULL) {
			struct timespec ts;
			ls_abstime_after(500, &ts);
			pthread_cond_timedwait(&dp->cond, &dp->lock, &ts);
			if (dp->pending == NULL && dp->current != NULL &&
			    !dp->stop) {
				/* retry runs that could not start */
				m = dp->current;
				dp->current = NULL;
			} else {
				continue;
			}
		}
		pthread_mutex_unlock(&dp->lock);
		apply_map(dp, m);
		early_replay(dp);
		pthread_mutex_lock(&dp->lock);
		ls_map_free(dp->current);
		dp->current = m;
	}
	pthread_mutex_unlock(&dp->lock);
	return NULL;
}

/* ---- public ---- */

void
ls_dataplane_update(ls_dataplane *dp, const ls_map *map)
{
	ls_map *c;
	if (dp == NULL || ls_map_copy(map, &c) != 0)
		return;
	size_t nt = ls_map_topology_count(map);
	struct topo_name *names = calloc(nt ? nt : 1, sizeof(*names));
	size_t nn = 0;
	for (size_t i = 0; names != NULL && i < nt; i++) {
		const char *name;
		if (ls_map_topology_at(map, i, &name, NULL) != 0)
			continue;
		names[nn].tag = topo_tag(name);
		names[nn].run_epoch = ls_map_run_epoch(map, name);
		snprintf(names[nn].name, sizeof(names[nn].name), "%s", name);
		nn++;
	}
	ls_irepl_nodes(dp->irepl, map);
	pthread_mutex_lock(&dp->lock);
	ls_map_free(dp->pending);
	dp->pending = c;
	if (names != NULL) {
		free(dp->names);
		dp->names = names;
		dp->nnames = nn;
	}
	pthread_cond_broadcast(&dp->cond);
	pthread_mutex_unlock(&dp->lock);
}

int
ls_dataplane_ckpt_get(ls_dataplane *dp, const char *topology, uint64_t ckpt,
    const char *partition, void **blob, size_t *len)
{
	uint64_t id;
	int rv = ls_store_ckpt_find(dp->store, topology, epoch_start(ckpt),
	    ckpt, partition, &id, NULL);
	if (rv != 0)
		return rv;
	if ((rv = ls_store_ckpt_get(dp->store, topology, id, partition, blob,
	         len)) != 0 ||
	    !ls_kstate_is_blob(*blob, *len))
		return rv;
	/* a changelog: the asking node may have nothing to apply it to */
	uint8_t *full;
	size_t flen;
	for (int tries = 0; tries < 3; tries++) {
		rv = ls_kstate_bundle(dp->store, topology, partition, *blob,
		    *len, &full, &flen);
		if (rv != LS_EAGAIN)
			break;
	}
	free(*blob);
	*blob = NULL;
	*len = 0;
	if (rv == 0) {
		*blob = full;
		*len = flen;
	}
	return rv;
}

/* The owner of (topology, partition) in this node's run of it, 0 when
 * this node runs no such partition. */
static uint64_t
owner_here(void *arg, const char *topology, const char *partition)
{
	ls_dataplane *dp = arg;
	uint64_t owner = 0;
	pthread_rwlock_rdlock(&dp->runs_lock);
	for (size_t i = 0; i < dp->nruns; i++) {
		run *r = dp->runs[i];
		if (strcmp(r->name, topology) != 0)
			continue;
		size_t a = actor_named(r, partition);
		if (a < r->nactors)
			owner = r->owner[a];
	}
	pthread_rwlock_unlock(&dp->runs_lock);
	return owner;
}

int
ls_dataplane_ingest_take(ls_dataplane *dp, const void *body, size_t len,
    char *why, size_t whylen)
{
	return ls_irepl_take(dp->irepl, body, len, owner_here, dp, why, whylen);
}

int
ls_dataplane_ingest_serve(ls_dataplane *dp, const char *topology,
    const char *partition, uint64_t inc, uint8_t **buf, size_t *len)
{
	/* first the new incarnation, then the records: what an older one
	 * here writes from now on is not acknowledged */
	int rv = inc != 0 ? ls_irepl_note(dp->irepl, topology, partition, inc)
	                  : 0;
	return rv != 0 ? rv
	               : ls_irepl_serve(dp->irepl, topology, partition, 0, buf,
	                     len);
}

/* Send q to the partition under the read lock: 0 and *w, or an error of
 * ls_dataplane_query. */
static int
query_send(ls_dataplane *dp, const char *topology, const char *stage,
    uint32_t partition, const ls_kind_query *q, ls_pipeline_query_req **w)
{
	int rv = LS_ENOENT;
	pthread_rwlock_rdlock(&dp->runs_lock);
	for (size_t i = 0; i < dp->nruns; i++) {
		run *r = dp->runs[i];
		if (strcmp(r->name, topology) != 0)
			continue;
		uint32_t node = node_index_of(r->topo, stage);
		if (node == UINT32_MAX ||
		    partition >= ls_topology_node(r->topo, node)->partitions) {
			rv = LS_ENOENT;
			break;
		}
		size_t a = ls_plan_first_actor(r->plan, node) + partition;
		if (r->pl == NULL || atomic_load(&r->stopping))
			rv = LS_EBUSY;
		else if (r->owner[a] != dp->self)
			rv = LS_ESTALE;
		else
			rv = ls_pipeline_query_start(r->pl, a, q, w);
		break;
	}
	pthread_rwlock_unlock(&dp->runs_lock);
	return rv;
}

int
ls_dataplane_query(ls_dataplane *dp, const char *topology, const char *stage,
    uint32_t partition, const ls_kind_query *q, int64_t timeout_ms,
    uint8_t **buf, size_t *len)
{
	int64_t end = ls_clock_ns() + timeout_ms * 1000000;
	ls_pipeline_query_req *w = NULL;
	int rv;
	if (dp == NULL || topology == NULL || stage == NULL || q == NULL)
		return LS_EINVAL;
	/* a full mailbox: try again until the deadline */
	while ((rv = query_send(dp, topology, stage, partition, q, &w)) ==
	        LS_EAGAIN &&
	    ls_clock_ns() < end) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	if (rv != 0)
		return rv;
	int64_t left = (end - ls_clock_ns()) / 1000000;
	rv = ls_pipeline_query_wait(w, left > 0 ? left : 0, buf, len);
	ls_pipeline_query_release(w);
	return rv;
}

size_t
ls_dataplane_runs(ls_dataplane *dp, ls_dataplane_run_info *out, size_t cap)
{
	pthread_rwlock_rdlock(&dp->runs_lock);
	size_t n = dp->nruns;
	for (size_t i = 0; i < n && i < cap; i++) {
		run *r = dp->runs[i];
		ls_dataplane_run_info *o = &out[i];
		memset(o, 0, sizeof(*o));
		snprintf(o->topology, sizeof(o->topology), "%s", r->name);
		o->run_epoch = r->epoch;
		o->restored_from = r->restored;
		o->checkpoint_epoch = r->ck_epoch;
		o->started_ms = r->started_ms;
		o->local_actors = r->nlocal;
		o->finished = r->pl != NULL && ls_pipeline_done(r->pl);
	}
	pthread_rwlock_unlock(&dp->runs_lock);
	return n;
}

int
ls_dataplane_start(const ls_dataplane_config *cfg, ls_dataplane **out,
    char *err, size_t errlen)
{
	ls_dataplane *dp = calloc(1, sizeof(*dp));
	if (dp == NULL)
		return LS_ENOMEM;
	dp->self = cfg->node_id;
	dp->workers = cfg->workers;
	dp->ack = cfg->ack;
	dp->arg = cfg->arg;
	dp->metrics = cfg->metrics;
	snprintf(dp->data_dir, sizeof(dp->data_dir), "%s", cfg->data_dir);
	pthread_rwlock_init(&dp->runs_lock, NULL);
	pthread_mutex_init(&dp->lock, NULL);
	pthread_cond_init(&dp->cond, NULL);
	pthread_mutex_init(&dp->early_lock, NULL);
	pthread_mutex_init(&dp->asm_lock, NULL);
	pthread_mutex_init(&dp->ckinc_lock, NULL);
	dp->repl_chunk = cfg->replication_chunk != 0
	    ? cfg->replication_chunk : LS_DATAPLANE_REPL_CHUNK;
	if (dp->repl_chunk > LS_DATAPLANE_REPL_CHUNK_MAX)
		dp->repl_chunk = LS_DATAPLANE_REPL_CHUNK_MAX;
	dp->asms = calloc(REPL_ASM_MAX, sizeof(*dp->asms));
	if (dp->asms == NULL) {
		pthread_mutex_destroy(&dp->ckinc_lock);
		pthread_mutex_destroy(&dp->asm_lock);
		pthread_mutex_destroy(&dp->early_lock);
		pthread_cond_destroy(&dp->cond);
		pthread_mutex_destroy(&dp->lock);
		pthread_rwlock_destroy(&dp->runs_lock);
		free(dp);
		return LS_ENOMEM;
	}
	if (dp->metrics != NULL) {
		dp->m_fenced = ls_metrics_counter(dp->metrics,
		    "logstream_fenced_messages_total",
		    "Messages refused because they carry an old epoch.", "");
		dp->m_restarts = ls_metrics_counter(dp->metrics,
		    "logstream_run_restarts_total",
		    "Topology runs stopped for a new placement.", "");
		dp->m_ckpt_saved = ls_metrics_counter(dp->metrics,
		    "logstream_checkpoint_states_saved_total",
		    "Partition states saved for checkpoints (as owner).", "");
		dp->m_held = ls_metrics_counter(dp->metrics,
		    "logstream_inbound_held_total",
		    "Inbound messages held because their mailbox was full.", "");
		dp->m_early = ls_metrics_counter(dp->metrics,
		    "logstream_inbound_early_total",
		    "Inbound envelopes held until this node runs their epoch.",
		    "");
		dp->m_paused = ls_metrics_counter(dp->metrics,
		    "logstream_inbound_pauses_total",
		    "Times credit was withheld from a sending node.", "");
		dp->m_regional = ls_metrics_counter(dp->metrics,
		    "logstream_regional_restores_total",
		    "Placement changes applied by restarting only the moved "
		    "partitions and what they feed.", "");
		dp->m_repl_in = ls_metrics_counter(dp->metrics,
		    "logstream_checkpoint_states_replicated_total",
		    "Partition states stored for other owners (as standby).",
		    "");
		dp->m_slices = ls_metrics_counter(dp->metrics,
		    "logstream_checkpoint_slices_sent_total",
		    "Slices sent of partition states larger than a slice "
		    "(--replication-chunk).", "");
	}
	char path[1100];
	snprintf(path, sizeof(path), "%s/state", cfg->data_dir);
	ls_store_opts so;
	memset(&so, 0, sizeof(so));
	so.block_cache_bytes = cfg->cache_bytes;
	int rv = ls_store_open(path, &so, &dp->store, err, errlen);
	if (rv != 0)
		goto fail;
	if ((rv = ls_irepl_new(dp->store, dp->self, &dp->irepl)) != 0)
		goto fail;
	ls_transport_config tc;
	memset(&tc, 0, sizeof(tc));
	tc.node_id = cfg->node_id;
	tc.listen_url = cfg->listen_url;
	tc.tls = cfg->tls;
	tc.recv_fn = on_envelope;
	tc.writable_fn = on_writable;
	tc.recv_arg = dp;
	tc.hello_info = cfg->hello_info;
	tc.hello_len = cfg->hello_len;
	if (cfg->unknown != NULL) {
		dp->unknown = cfg->unknown;
		dp->unknown_arg = cfg->arg;
		tc.unknown_fn = on_unknown;
	}
	if ((rv = ls_transport_create(&tc, &dp->tr)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s%s",
		    cfg->listen_url, ls_strerror(rv),
		    rv == LS_EIO ? " (is the address in use, or not one of "
		                   "this host?)"
		                 : "");
		goto fail;
	}
	if (pthread_create(&dp->thread, NULL, run_thread, dp) != 0) {
		rv = LS_ENOMEM;
		goto fail;
	}
	dp->thread_started = 1;
	*out = dp;
	return 0;
fail:
	ls_dataplane_stop(dp);
	return rv;
}

void
ls_dataplane_stop(ls_dataplane *dp)
{
	if (dp == NULL)
		return;
	pthread_mutex_lock(&dp->lock);
	dp->stop = 1;
	pthread_cond_broadcast(&dp->cond);
	pthread_mutex_unlock(&dp->lock);
	if (dp->thread_started)
		pthread_join(dp->thread, NULL);
	/* unpublish every run (no more deliveries into them), free them
	 * (their senders give up once stopping is set), then the transport */
	pthread_rwlock_wrlock(&dp->runs_lock);
	for (size_t i = 0; i < dp->nruns; i++)
		atomic_store(&dp->runs[i]->stopping, 1);
	run **runs = dp->runs;
	size_t nruns = dp->nruns;
	dp->runs = NULL;
	dp->nruns = 0;
	pthread_rwlock_unlock(&dp->runs_lock);
	for (size_t i = 0; i < nruns; i++)
		run_free(runs[i]);
	free(runs);
	ls_transport_destroy(dp->tr);
	early_free(dp);
	pthread_mutex_destroy(&dp->early_lock);
	while (dp->nasm > 0)
		asm_drop(dp, dp->nasm - 1);
	free(dp->asms);
	pthread_mutex_destroy(&dp->asm_lock);
	free(dp->ckinc);
	free(dp->fence);
	pthread_mutex_destroy(&dp->ckinc_lock);
	ls_irepl_free(dp->irepl);
	ls_store_close(dp->store);
	ls_map_free(dp->pending);
	ls_map_free(dp->current);
	free(dp->names);
	pthread_rwlock_destroy(&dp->runs_lock);
	pthread_mutex_destroy(&dp->lock);
	pthread_cond_destroy(&dp->cond);
	free(dp);
}
