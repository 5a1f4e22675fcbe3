/*
 * checkpoint.c -- barrier alignment in front of a stage (see stage.h and
 * docs/failure-semantics.md).
 *
 * Sources put numbered barriers into their output streams.  A stage with
 * several input channels must save its state at a point that follows
 * exactly the events before barrier k on every channel and none after it,
 * so a channel that delivered k is blocked (its later messages are held)
 * until k came from every channel that is still open.  Then the state is
 * saved, k goes downstream, and the held messages are processed again in
 * arrival order -- they may block their channel on the next barrier.
 *
 * A channel that ended (EOS) no longer takes part.  Once every channel has
 * ended the stage's own EOS logic has run (windows flushed) and its state
 * is saved one last time under the largest id the EOS markers carried: the
 * final checkpoint.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/changelog.h"
#include "actors/kstate.h"
#include "actors/stage.h"
#include "runtime/log.h"
#include "runtime/store.h"

/* The keyed state of one partition (ls_stage_restore_state). */
typedef struct ls_kstate {
	ls_state *st;
	char name[LS_STORE_NAME_MAX + 1];
	int shipped; /* a blob went out since the partition started */
	int final_folded;
} ls_kstate;

uint64_t
ls_stage_msg_u64(ls_msg *m)
{
	uint64_t v = 0;
	if (m->size >= sizeof(v))
		memcpy(&v, ls_msg_data(m), sizeof(v));
	return v;
}

static struct ls_gate_chan *
chan(ls_gate *g, uint64_t id)
{
	for (uint32_t i = 0; i < g->nch; i++)
		if (g->ch[i].id == id)
			return &g->ch[i];
	if (g->nch == g->capch) {
		uint32_t nc = g->capch ? g->capch * 2 : 8;
		struct ls_gate_chan *n = realloc(g->ch, nc * sizeof(*n));
		if (n == NULL)
			return NULL;
		g->ch = n;
		g->capch = nc;
	}
	struct ls_gate_chan *c = &g->ch[g->nch++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	return c;
}

static int
hold(ls_gate *g, ls_msg *m)
{
	if (g->nheld == g->capheld) {
		uint32_t nc = g->capheld ? g->capheld * 2 : 16;
		ls_gate_item *n = realloc(g->held, nc * sizeof(*n));
		if (n == NULL)
			return LS_ENOMEM;
		g->held = n;
		g->capheld = nc;
	}
	ls_gate_item *it = &g->held[g->nheld++];
	it->type = m->type;
	it->from = m->from;
	it->ptr = m->ptr;
	it->dtor = m->dtor;
	it->val = ls_stage_msg_u64(m);
	m->ptr = NULL; /* the gate owns the payload now */
	m->dtor = NULL;
	return 0;
}

void
ls_gate_fini(ls_gate *g)
{
	for (uint32_t i = 0; i < g->nheld; i++)
		if (g->held[i].ptr != NULL && g->held[i].dtor != NULL)
			g->held[i].dtor(g->held[i].ptr);
	free(g->held);
	free(g->ch);
	if (g->ks != NULL) {
		ls_state_close(g->ks->st);
		free(g->ks);
	}
	memset(g, 0, sizeof(*g));
}

/* ---- keyed state ---- */

int
ls_stage_kstate_on(const ls_stage_cfg *cfg)
{
	return cfg->store != NULL && ls_stage_ckpt_on(cfg) &&
	    cfg->kind->sync != NULL && cfg->kind->load != NULL;
}

/* Checkpoint k of a partition on keyed state: the changes since the last
 * one, sealed as generation k, as an LSKB blob; the first blob after a
 * start is self-contained (see kstate.h). */
/* Write into b the generations of st sealed before k (not folded yet),
 * oldest first. */
static int
write_sealed_before(ls_state *st, uint64_t k, ls_kstate_blob *b)
{
	size_t n = ls_state_sealed(st);
	if (n <= 1)
		return 0;
	uint64_t *ids = calloc(n, sizeof(*ids));
	if (ids == NULL)
		return LS_ENOMEM;
	size_t m = 0;
	ls_changeset cs;
	uint64_t id = k;
	int rc = 0;
	/* back from k along the chain to the base */
	while (rc == 0 && m < n &&
	    (rc = ls_state_changes(st, id, &cs, NULL, NULL)) == 0 &&
	    cs.prev != ls_state_base(st) && cs.prev != 0) {
		ids[m++] = cs.prev;
		id = cs.prev;
	}
	while (rc == 0 && m-- > 0)
		rc = ls_changelog_write(st, ids[m], 0, ls_kstate_blob_add, b,
		    NULL);
	free(ids);
	return rc;
}

static int
kstate_save(const ls_stage_cfg *cfg, ls_kstate *ks, void *st, uint64_t k,
    uint8_t **buf, size_t *len)
{
	ls_kstate_blob b = { 0 };
	/* a standby the partition gained has no copy: ship the whole state
	 * again, as after a restore */
	if (ks->shipped && ls__pipeline_reship_take(cfg->pl, cfg->actor_index))
		ks->shipped = 0;
	int rc = cfg->kind->sync(st, ks->st, !ks->shipped);
	if (rc == 0)
		rc = ls_state_seal(ks->st, k);
	if (rc != 0)
		return rc;
	/* a restored partition ships the state it restored first (a fresh
	 * one cleared it: its first changeset stands alone), then what it
	 * sealed since (generations not folded yet), oldest first */
	if (!ks->shipped && ls_state_base(ks->st) != 0)
		rc = ls_changelog_export(cfg->store, ks->name, 0,
		    ls_kstate_blob_add, &b, NULL);
	if (rc == 0 && !ks->shipped)
		rc = write_sealed_before(ks->st, k, &b);
	if (rc == 0)
		rc = ls_changelog_write(ks->st, k, 0, ls_kstate_blob_add, &b,
		    NULL);
	if (rc != 0) {
		ls_kstate_blob_fini(&b);
		return rc;
	}
	ks->shipped = 1;
	*buf = b.data;
	*len = b.len;
	return 0;
}

/* Checkpoint k completed everywhere: fold it into the committed keys. */
static void
kstate_commit(const ls_stage_cfg *cfg, ls_gate *g, uint64_t k)
{
	ls_kstate *ks = g->ks;
	if (ls_state_sealed(ks->st) == 0 || ks->final_folded)
		return;
	int rc = ls_state_fold(ks->st, k);
	if (rc != 0) {
		ls_log(LS_LOG_WARN, "checkpoint",
		    "cannot fold state stage=%s partition=%u ckpt=%llu err=%s",
		    cfg->node->name, cfg->partition, (unsigned long long)k,
		    ls_errname(rc));
		return; /* folded with a later commit */
	}
	/* once the final state is folded, the partition's blobs before it
	 * are of no use here */
	if (g->final_saved && ls_state_sealed(ks->st) == 0 &&
	    ls_state_base(ks->st) >= g->eos_max) {
		ks->final_folded = 1;
		ls__pipeline_folded(cfg->pl, cfg->actor_index, UINT64_MAX);
	} else {
		ls__pipeline_folded(cfg->pl, cfg->actor_index,
		    ls_state_base(ks->st));
	}
}

int
ls_stage_restore_state(const ls_stage_cfg *cfg, ls_gate *g, void *st)
{
	char part[LS_STORE_NAME_MAX + 1];
	uint8_t *buf = NULL;
	size_t len = 0;
	ls_kstate *ks;
	int rc;

	if (!ls_stage_kstate_on(cfg))
		return ls_stage_restore(cfg, st);
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		return LS_ENOMEM;
	snprintf(part, sizeof(part), "%s/%u", cfg->node->name,
	    cfg->partition);
	if ((rc = ls_kstate_name(cfg->ckpt_ns, part, ks->name)) != 0) {
		free(ks);
		return rc;
	}
	rc = ls_stage_ckpt_load(cfg, &buf, &len);
	int fresh = rc == LS_ENOENT;
	if (rc == 0) {
		rc = ls_kstate_catch_up(cfg->store, cfg->ckpt_ns, part, buf, len);
		if (rc != 0)
			ls_log(LS_LOG_ERROR, "checkpoint",
			    "cannot restore state stage=%s partition=%u err=%s",
			    cfg->node->name, cfg->partition, ls_errname(rc));
	}
	free(buf);
	if (fresh)
		rc = 0;
	if (rc == 0)
		rc = ls_state_open(cfg->store, ks->name, &ks->st);
	/* a fresh start: whatever an earlier run left is not this state */
	if (rc == 0 && fresh)
		rc = ls_state_clear(ks->st);
	if (rc == 0)
		rc = cfg->kind->load(st, ks->st);
	if (rc != 0) {
		ls_state_close(ks->st);
		free(ks);
		return rc;
	}
	g->ks = ks;
	ls__pipeline_folded(cfg->pl, cfg->actor_index, ls_state_base(ks->st));
	return 0;
}

static void
save_now(const ls_stage_cfg *cfg, ls_gate *g, ls_kind_save_fn save, void *st,
    uint64_t ckpt, int final)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (g->ks != NULL && final && ls_state_sealed(g->ks->st) == 0 &&
	    ckpt <= ls_state_base(g->ks->st)) {
		/* restored from this very final checkpoint (a finished
		 * topology whose partition moved): its state as of ckpt is
		 * the one the store holds, and the node announces that one */
		ls_log(LS_LOG_DEBUG, "checkpoint",
		    "final state already stored stage=%s partition=%u "
		    "ckpt=%llu",
		    cfg->node->name, cfg->partition, (unsigned long long)ckpt);
		return;
	}
	int rc = g->ks != NULL ? kstate_save(cfg, g->ks, st, ckpt, &buf, &len)
	    : save != NULL     ? save(st, ckpt, final, &buf, &len)
	                       : 0;
	if (rc != 0) {
		ls_log(LS_LOG_ERROR, "checkpoint",
		    "cannot save state stage=%s partition=%u ckpt=%llu err=%s",
		    cfg->node->name, cfg->partition, (unsigned long long)ckpt,
		    ls_errname(rc));
		return; /* no ack: the checkpoint does not complete */
	}
	ls_stage_ckpt_save(cfg, ckpt, final, buf, len);
}

/* Barrier g->cur arrived from every open channel: save, pass it on,
 * unblock. */
static void
maybe_aligned(ls_ctx *ctx, ls_gate *g, const ls_stage_cfg *cfg, ls_outq *q,
    ls_kind_save_fn save, void *st)
{
	if (g->cur == 0 || g->arrived + g->ended < cfg->n_upstream)
		return;
	uint64_t k = g->cur;
	save_now(cfg, g, save, st, k, 0);
	ls_stage_emit_barrier(ctx, cfg, q, k);
	for (uint32_t i = 0; i < g->nch; i++)
		g->ch[i].blocked = 0;
	g->cur = 0;
	g->arrived = 0;
	g->aligned++;
}

static int gate_one(ls_ctx *ctx, ls_gate *g, const ls_stage_cfg *cfg,
    ls_outq *q, ls_msg *m, ls_stage_handle_fn handle, ls_kind_save_fn save,
    void *st);

/* Process held messages whose channel is no longer blocked, in arrival
 * order; start over whenever an alignment completes (channels held
 * earlier in the queue may have been released). */
static int
replay(ls_ctx *ctx, ls_gate *g, const ls_stage_cfg *cfg, ls_outq *q,
    ls_stage_handle_fn handle, ls_kind_save_fn save, void *st)
{
	ls_runtime *rt = ls_ctx_runtime(ctx);
again:
	for (uint32_t i = 0; i < g->nheld;) {
		ls_gate_item it = g->held[i];
		struct ls_gate_chan *c = chan(g, it.from.id);
		if (c != NULL && c->blocked) {
			i++;
			continue;
		}
		memmove(&g->held[i], &g->held[i + 1],
		    (g->nheld - i - 1) * sizeof(*g->held));
		g->nheld--;
		ls_msg *m = ls_msg_new(rt, it.type, sizeof(uint64_t));
		if (m == NULL) {
			if (it.ptr != NULL && it.dtor != NULL)
				it.dtor(it.ptr);
			return LS_ENOMEM;
		}
		m->from = it.from;
		m->ptr = it.ptr;
		m->dtor = it.dtor;
		memcpy(ls_msg_data(m), &it.val, sizeof(it.val));
		uint64_t before = g->aligned;
		int rv = gate_one(ctx, g, cfg, q, m, handle, save, st);
		ls_msg_free(rt, m);
		if (rv != 0)
			return rv;
		if (g->aligned != before)
			goto again;
	}
	return 0;
}

static int
gate_one(ls_ctx *ctx, ls_gate *g, const ls_stage_cfg *cfg, ls_outq *q,
    ls_msg *m, ls_stage_handle_fn handle, ls_kind_save_fn save, void *st)
{
	switch (m->type) {
	case LS_MSG_BATCH:
	case LS_MSG_RESULTS:
	case LS_MSG_DEAD:
	case LS_MSG_EOS:
	case LS_MSG_BARRIER:
	case LS_MSG_MARK:
		break;
	default:
		return handle(ctx, st, m);
	}
	struct ls_gate_chan *c = chan(g, m->from.id);
	if (c == NULL)
		return LS_ENOMEM;
	if (m->type == LS_MSG_MARK) {
		c->marked = 1;
		return 0;
	}
	/* restarted: a channel's messages before its replay mark are of an
	 * older incarnation of the sender, or were sent to ours before the
	 * sender knew of it (they come again in its replay) */
	if (cfg->restarted && !c->marked)
		return 0;
	if (c->blocked)
		return hold(g, m);
	if (m->type == LS_MSG_BARRIER) {
		uint64_t k = ls_stage_msg_u64(m);
		if (k == 0 || c->ended || (g->cur != 0 && k < g->cur))
			return 0; /* stale */
		if (g->cur != 0 && k > g->cur) {
			/* the channel is past cur: it counts as arrived, and
			 * its barrier waits for the next alignment */
			c->blocked = 1;
			g->arrived++;
			int rv = hold(g, m);
			maybe_aligned(ctx, g, cfg, q, save, st);
			return rv;
		}
		g->cur = k;
		c->blocked = 1;
		g->arrived++;
		maybe_aligned(ctx, g, cfg, q, save, st);
		return 0;
	}
	if (m->type == LS_MSG_EOS) {
		if (!c->ended) {
			c->ended = 1;
			g->ended++;
		}
		uint64_t k = ls_stage_msg_u64(m);
		if (k > g->eos_max)
			g->eos_max = k;
		/* an alignment waiting only for this channel completes first */
		maybe_aligned(ctx, g, cfg, q, save, st);
		int rv = handle(ctx, st, m);
		if (rv != 0)
			return rv;
		if (g->ended >= cfg->n_upstream && !g->final_saved &&
		    ls_stage_ckpt_on(cfg) && g->eos_max != 0) {
			g->final_saved = 1;
			save_now(cfg, g, save, st, g->eos_max, 1);
		}
		return 0;
	}
	return handle(ctx, st, m);
}

int
ls_stage_receive(ls_ctx *ctx, ls_gate *g, const ls_stage_cfg *cfg,
    ls_outq *q, ls_msg *m, ls_stage_handle_fn handle, void *st)
{
	ls_kind_save_fn save = cfg->node->kind_def->save;
	uint64_t before = g->aligned;
	if (m->type == LS_MSG_QUERY) {
		/* between two messages, outside barrier alignment: the state
		 * as of the last event processed */
		ls__stage_query(cfg, st, m);
		return 0;
	}
	if (m->type == LS_MSG_REWIND) {
		if (q != NULL)
			ls_outq_rewind(ctx, cfg, q);
		return 0;
	}
	if (m->type == LS_MSG_COMMIT && q != NULL)
		ls_outq_commit(q, ls_stage_msg_u64(m));
	if (m->type == LS_MSG_COMMIT && g->ks != NULL) {
		kstate_commit(cfg, g, ls_stage_msg_u64(m));
		return 0;
	}
	int rv = gate_one(ctx, g, cfg, q, m, handle, save, st);
	if (rv == 0 && g->aligned != before && g->nheld > 0)
		rv = replay(ctx, g, cfg, q, handle, save, st);
	return rv;
}

int
ls_stage_restore(const ls_stage_cfg *cfg, void *st)
{
	static const uint8_t empty[1];
	ls_kind_restore_fn restore = cfg->node->kind_def->restore;
	uint8_t *buf;
	size_t len;

	if (restore == NULL)
		return 0;
	int rv = ls_stage_ckpt_load(cfg, &buf, &len);
	if (rv == LS_ENOENT)
		return restore(st, NULL, 0);
	if (rv != 0)
		return rv; /* unreadable state: never silently start over */
	rv = restore(st, buf != NULL ? buf : empty, len);
	free(buf);
	return rv;
}
