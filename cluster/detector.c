/*
 * detector.c -- the leader's failure detector (see detector.h): a small
 * table of nodes and when they were last heard, judged against the
 * suspect and dead timeouts at the time the caller gives.
 */
#include "cluster/detector.h"

#include <stdlib.h>

#include "cluster/map.h"
#include "runtime/err.h"

/* The previous leader's grace is at least this (see ls_detector_lead). */
#define PREV_LEADER_GRACE_NS 300000000

typedef struct peer {
	uint64_t id;
	int64_t seen_ns; /* last heard (caller's clock) */
	uint64_t inc;    /* its process incarnation, 0 = not seen yet */
} peer;

struct ls_detector {
	uint64_t self;
	int64_t heartbeat_ns, suspect_ns, dead_ns;
	peer *peers;
	size_t npeers, cappeers;
};

int
ls_detector_new(uint64_t self, int64_t heartbeat_ns, int64_t suspect_ns,
    int64_t dead_ns, ls_detector **out)
{
	ls_detector *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return LS_ENOMEM;
	d->self = self;
	d->heartbeat_ns = heartbeat_ns;
	d->suspect_ns = suspect_ns;
	d->dead_ns = dead_ns;
	*out = d;
	return 0;
}

void
ls_detector_free(ls_detector *d)
{
	if (d == NULL)
		return;
	free(d->peers);
	free(d);
}

/* The entry of node id; a new one counts as heard at now.  NULL when out
 * of memory. */
static peer *
peer_get(ls_detector *d, uint64_t id, int64_t now)
{
	for (size_t i = 0; i < d->npeers; i++)
		if (d->peers[i].id == id)
			return &d->peers[i];
	if (d->npeers == d->cappeers) {
		size_t nc = d->cappeers ? d->cappeers * 2 : 8;
		peer *np = realloc(d->peers, nc * sizeof(*np));
		if (np == NULL)
			return NULL;
		d->peers = np;
		d->cappeers = nc;
	}
	peer *p = &d->peers[d->npeers++];
	p->id = id;
	p->seen_ns = now; /* grace: judged from now on */
	p->inc = 0;
	return p;
}

void
ls_detector_lead(ls_detector *d, int64_t now, uint64_t prev_leader)
{
	d->npeers = 0;
	if (prev_leader == 0 || prev_leader == d->self)
		return;
	int64_t grace = 2 * d->heartbeat_ns;
	if (grace < PREV_LEADER_GRACE_NS)
		grace = PREV_LEADER_GRACE_NS;
	if (grace > d->dead_ns)
		grace = d->dead_ns;
	peer *p = peer_get(d, prev_leader, now);
	if (p != NULL)
		p->seen_ns = now - d->dead_ns + grace;
}

int
ls_detector_judge(ls_detector *d, uint64_t id, int state, int64_t now,
    int64_t *silent_ns)
{
	if (silent_ns != NULL)
		*silent_ns = 0;
	if (id == d->self || state == LS_NODE_DEAD || state == LS_NODE_LEFT)
		return 0;
	peer *p = peer_get(d, id, now);
	int64_t silent = p != NULL ? now - p->seen_ns : 0;
	if (silent_ns != NULL)
		*silent_ns = silent;
	if (silent > d->dead_ns)
		return LS_NODE_DEAD;
	if (silent > d->suspect_ns && state == LS_NODE_ALIVE)
		return LS_NODE_SUSPECT;
	return 0;
}

uint64_t
ls_detector_heard(ls_detector *d, uint64_t id, uint64_t inc, int64_t now)
{
	peer *p = peer_get(d, id, now);
	if (p == NULL)
		return 0;
	uint64_t prev = p->inc;
	p->seen_ns = now;
	if (inc != 0)
		p->inc = inc;
	return prev;
}

void
ls_detector_admitted(ls_detector *d, uint64_t id, uint64_t inc, int64_t now)
{
	peer *p = peer_get(d, id, now);
	if (p != NULL) {
		p->inc = inc;
		p->seen_ns = now;
	}
}

int
ls_detector_verdict(int known, int state, int leaving, int restarted,
    uint64_t inc, uint64_t prev_inc)
{
	/* The same process that was admitted through a join: its first
	 * heartbeat is no restart. */
	if (restarted && inc != 0 && prev_inc == inc)
		restarted = 0;
	if (known && leaving)
		return state != LS_NODE_LEFT ? LS_NODE_LEFT : 0;
	if (known && restarted &&
	    (state == LS_NODE_ALIVE || state == LS_NODE_SUSPECT))
		return LS_NODE_DEAD;
	if (!known || state != LS_NODE_ALIVE)
		return LS_NODE_ALIVE;
	return 0;
}
