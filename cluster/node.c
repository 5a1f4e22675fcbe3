/*
 * node.c -- a cluster node: start and stop, the ticker that drives the
 * leader's and the followers' duties (failure detection, placement,
 * heartbeats), and map proposals (see node.h).  Checkpoint acks and their
 * completion are checkpoints.c, joining and leaving members.c, the HTTP
 * API api.c, the detector's rules detector.c, placement place.c;
 * node_int.h is what they share.
 *
 * Leader duties run on the ticker thread and in HTTP handlers; both read
 * the map through ls_coord_map_snapshot() (a private copy) and change it
 * only by proposing commands, so the Raft log stays the one source of
 * truth and a new leader simply continues from the replicated map.  The
 * failure detector's clocks are leader-local: a new leader gives every
 * node a fresh grace period of dead_ms before judging it.
 */
#include "node.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/ingest_http.h"
#include "cluster/ingest_repl.h"
#include "cluster/node_int.h"
#include "cluster/place.h"
#include "cluster/region.h"
#include "cluster/transport.h"
#include "runtime/actor.h"
#include "runtime/fs.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "schemas/codec.h"

/* ---- Raft addresses ---- */

int
ls_node_raft_address(const char *url, char *buf, size_t cap)
{
	const char *hp = url;
	if (strncmp(url, "tcp://", 6) == 0)
		hp = url + 6;
	else if (strncmp(url, "tls+tcp://", 10) == 0)
		hp = url + 10;
	else if (strstr(url, "://") != NULL)
		return LS_ENOTSUP;
	const char *colon = strrchr(hp, ':');
	if (colon == NULL || colon == hp)
		return LS_EINVAL;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port + 100 > 65535)
		return LS_ERANGE;
	int n = snprintf(buf, cap, "%.*s:%ld", (int)(colon - hp), hp,
	    port + 100);
	return n > 0 && (size_t)n < cap ? 0 : LS_ERANGE;
}

uint64_t
ls_node_raft_id(const char *raft_address)
{
	uint64_t h = ls_hash64(raft_address, strlen(raft_address), 0x6c73);
	return h != 0 ? h : 1;
}

/* ---- proposals ---- */

typedef struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int status;
} waiter;

static void
on_done(void *arg, int status)
{
	waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->status = status;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int
ls__node_propose(ls_node *n, uint8_t *cmd, size_t len)
{
	waiter w;
	int rv;

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.done = 0;
	w.status = 0;
	rv = ls_coord_propose(n->coord, cmd, len, on_done, &w, NULL, 0);
	free(cmd);
	if (rv == 0) {
		struct timespec ts;
		ls_abstime_after(10000, &ts);
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			if (pthread_cond_timedwait(&w.cv, &w.mu, &ts) != 0)
				break;
		rv = w.done ? w.status : LS_ETIMEDOUT;
		pthread_mutex_unlock(&w.mu);
		/* On timeout the callback may still come: wait for it, the
		 * waiter lives on this stack. */
		if (rv == LS_ETIMEDOUT) {
			pthread_mutex_lock(&w.mu);
			while (!w.done)
				pthread_cond_wait(&w.cv, &w.mu);
			pthread_mutex_unlock(&w.mu);
		}
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	ls_metric_add(n->m_proposals, 1);
	return rv;
}

int
ls__node_propose_node(ls_node *n, const ls_map_node *mn)
{
	uint8_t *cmd;
	size_t len;
	int rv = ls_map_cmd_add_node(mn, &cmd, &len);
	return rv != 0 ? rv : ls__node_propose(n, cmd, len);
}

int
ls__node_propose_state(ls_node *n, uint64_t id, int state)
{
	uint8_t *cmd;
	size_t len;
	int rv = ls_map_cmd_set_node_state(id, state, &cmd, &len);
	return rv != 0 ? rv : ls__node_propose(n, cmd, len);
}

/* ---- placement (leader) ---- */

int
ls__node_place(ls_node *n, const ls_map *map, const char *name,
    const char *yaml)
{
	uint8_t *cmd;
	size_t len;
	ls_place_info pi;
	int rv = ls_place_topology(map, name, yaml, n->replicas, &cmd, &len,
	    &pi);
	if (rv != 0 || cmd == NULL)
		return rv;
	rv = ls__node_propose(n, cmd, len);
	if (rv == 0)
		ls_log(LS_LOG_INFO, "node",
		    "placed topology=%s partitions=%zu nodes=%zu replicas=%u",
		    name, pi.partitions, pi.nodes, pi.replicas);
	return rv;
}

static void
place_all(ls_node *n, const ls_map *map)
{
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, i, &name, &yaml) == 0)
			ls__node_place(n, map, name, yaml);
	}
}


/* ---- ticks: the leader's duties and the followers' heartbeats ---- */

static void
self_entry(ls_node *n, ls_map_node *mn)
{
	mn->id = n->raft_id;
	mn->name = n->name;
	mn->url = n->url;
	mn->http = n->http_addr;
	mn->voter = n->voter != 0;
	mn->state = LS_NODE_ALIVE;
}

static void
leader_tick(ls_node *n)
{
	ls_map *map;
	int64_t now = ls_clock_ns();

	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return;
	pthread_mutex_lock(&n->lock);
	if (!n->was_leader) {
		/* new leadership: everyone gets a fresh grace period, the
		 * previous leader (silent long enough for an election) a short
		 * one, so that its partitions fail over about as fast as any
		 * other node's */
		ls_detector_lead(n->det, now, n->last_leader);
		n->was_leader = 1;
		n->leader_since_ns = now;
		n->placed_epoch = 0;
	}
	pthread_mutex_unlock(&n->lock);

	ls_map_node self;
	if (ls_map_node_find(map, n->raft_id, &self) != 0) {
		ls_map_node mn;
		self_entry(n, &mn);
		if (ls__node_propose_node(n, &mn) == 0 && !n->announced) {
			n->announce_epoch = ls_coord_epoch(n->coord);
			n->announced = 1;
		}
	} else if (!n->announced) {
		/* restarted: fence the runs of the previous incarnation */
		if (self.state == LS_NODE_DEAD ||
		    ls__node_propose_state(n, n->raft_id, LS_NODE_DEAD) == 0) {
			n->announce_epoch = ls_coord_epoch(n->coord);
			n->announced = 1;
		}
	} else if (n->leaving) {
		if (self.state != LS_NODE_LEFT) {
			ls_log(LS_LOG_INFO, "node", "node leaving node=%s",
			    n->name);
			ls__node_propose_state(n, n->raft_id, LS_NODE_LEFT);
		}
	} else if (self.state != LS_NODE_ALIVE) {
		ls__node_propose_state(n, n->raft_id, LS_NODE_ALIVE);
	}
	for (size_t i = 0; i < ls_map_node_count(map); i++) {
		ls_map_node mn;
		if (ls_map_node_at(map, i, &mn) != 0)
			continue;
		int64_t silent;
		pthread_mutex_lock(&n->lock);
		int verdict = ls_detector_judge(n->det, mn.id, mn.state, now,
		    &silent);
		pthread_mutex_unlock(&n->lock);
		if (verdict == LS_NODE_DEAD) {
			ls_log(LS_LOG_WARN, "node",
			    "node failed node=%s silent_ms=%lld", mn.name,
			    (long long)(silent / 1000000));
			ls_metric_add(n->m_failures, 1);
		}
		if (verdict != 0)
			ls__node_propose_state(n, mn.id, verdict);
	}
	ls_map_free(map);

	/* placement follows every map change */
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return;
	if (ls_map_epoch(map) != n->placed_epoch) {
		place_all(n, map);
		ls_map_free(map);
		if (ls_coord_map_snapshot(n->coord, &map) != 0)
			return;
		n->placed_epoch = ls_map_epoch(map);
	}
	ls__node_complete_checkpoints(n, map);
	if (now - n->members_checked_ns > 1000000000) {
		n->members_checked_ns = now;
		ls__node_check_members(n, map);
	}
	ls_map_free(map);
}

int
ls__node_leader_http(ls_node *n, char *buf, size_t cap)
{
	uint64_t lid;
	char addr[MAX_ADDR];
	ls_map *map;
	ls_map_node mn;
	int rv = -1;

	if (ls_coord_leader(n->coord, &lid, addr, sizeof(addr)) != 0 ||
	    lid == 0)
		return -1;
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return -1;
	if (ls_map_node_find(map, lid, &mn) == 0 && mn.http != NULL &&
	    ls__copy_str(buf, cap, mn.http) == 0)
		rv = 0;
	ls_map_free(map);
	return rv;
}

static void
follower_tick(ls_node *n)
{
	char lh[MAX_ADDR];
	pthread_mutex_lock(&n->lock);
	n->was_leader = 0;
	pthread_mutex_unlock(&n->lock);
	uint64_t lid = 0;
	if (ls_coord_leader(n->coord, &lid, NULL, 0) == 0 && lid != 0)
		n->last_leader = lid;
	if (ls__node_leader_http(n, lh, sizeof(lh)) != 0)
		return;
	int restarted = !n->announced;
	/* The oldest pending acks, as many as one heartbeat carries; the rest
	 * wait for the next tick. */
	pthread_mutex_lock(&n->lock);
	size_t na = 0, bytes = 0;
	while (na < n->nacks_out && bytes < HB_ACK_BYTES) {
		bytes += strlen(n->acks_out[na].topo) +
		    strlen(n->acks_out[na].part) + 64;
		na++;
	}
	pending_ack *taken = na > 0 ? malloc(na * sizeof(*taken)) : NULL;
	ls_ckpt_ack_wire *wacks = na > 0 ? malloc(na * sizeof(*wacks)) : NULL;
	if (na > 0 && (taken == NULL || wacks == NULL))
		na = 0; /* out of memory: a heartbeat without acks */
	if (na > 0) {
		memcpy(taken, n->acks_out, na * sizeof(*taken));
		n->nacks_out -= na;
		memmove(n->acks_out, n->acks_out + na,
		    n->nacks_out * sizeof(*taken));
		if (n->nacks_out > 0)
			n->urgent = 1;
	}
	pthread_mutex_unlock(&n->lock);
	for (size_t i = 0; i < na; i++)
		wacks[i] = (ls_ckpt_ack_wire){
			ls_str_make(taken[i].topo, (uint32_t)strlen(taken[i].topo)),
			ls_str_make(taken[i].part, (uint32_t)strlen(taken[i].part)),
			taken[i].epoch, taken[i].ckpt, (uint8_t)taken[i].final };
	ls_heartbeat_wire hb = {
		.id = n->raft_id,
		.inc = n->inc,
		.name = ls_str_make(n->name, (uint32_t)strlen(n->name)),
		.url = ls_str_make(n->url, (uint32_t)strlen(n->url)),
		.http = ls_str_make(n->http_addr, (uint32_t)strlen(n->http_addr)),
		.voter = n->voter != 0,
		.restarted = restarted != 0,
		.leaving = n->leaving != 0,
		.acks = wacks,
		.nacks = na,
	};
	ls_buf body = { NULL, 0 };
	int status = 0;
	char *resp = NULL;
	size_t rlen = 0;
	int rv = ls_codec_heartbeat_encode(&hb, &body);
	free(wacks);
	if (rv == 0)
		rv = ls_http_request(lh, "POST", "/v1/internal/heartbeat",
		    body.data, body.len, &status, &resp, &rlen, 1000);
	else
		ls_log(LS_LOG_WARN, "node", "cannot encode heartbeat: %s",
		    ls_strerror(rv));
	ls_buf_free(&body);
	if ((rv != 0 || status != 200) && na > 0) {
		/* not delivered: the acks go with the next heartbeat (to
		 * this leader or the next), before the newer ones */
		pthread_mutex_lock(&n->lock);
		if (ls__node_acks_reserve(n, n->nacks_out + na) == 0) {
			memmove(n->acks_out + na, n->acks_out,
			    n->nacks_out * sizeof(*taken));
			memcpy(n->acks_out, taken, na * sizeof(*taken));
			n->nacks_out += na;
			na = 0;
		}
		pthread_mutex_unlock(&n->lock);
	}
	for (size_t i = 0; i < na; i++)
		free(taken[i].topo);
	free(taken);
	if (rv == 0 && status == 200 && restarted) {
		uint64_t epoch;
		if (ls_codec_map_epoch_decode(resp, rlen, &epoch) == 0) {
			n->announce_epoch = epoch;
			n->announced = 1;
		} else {
			ls_log(LS_LOG_WARN, "node",
			    "unparsable answer to a heartbeat dropped "
			    "bytes=%zu", rlen);
		}
	}
	free(resp);
	ls_metric_add(rv == 0 && status == 200 ? n->m_hb_sent : n->m_hb_failed,
	    1);
}


/* Coordinator: the map changed; the data plane should hear soon. */
static void
on_map_change(void *arg, uint64_t epoch)
{
	ls_node *n = arg;
	(void)epoch;
	pthread_mutex_lock(&n->lock);
	n->urgent = 1;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}



static void *
ticker_main(void *arg)
{
	ls_node *n = arg;
	while (!atomic_load(&n->stop)) {
		int leader = ls_coord_is_leader(n->coord);
		ls_metric_set(n->m_leader, leader);
		ls_metric_set(n->m_epoch, (int64_t)ls_coord_epoch(n->coord));
		ls_metric_set(n->m_raft_refused,
		              (int64_t)ls_coord_raft_refused(n->coord));
		uint64_t me = ls_coord_epoch(n->coord);
		if (n->dp != NULL && me != n->dp_epoch && n->announced &&
		    me >= n->announce_epoch) {
			ls_map *map;
			if (ls_coord_map_snapshot(n->coord, &map) == 0) {
				ls_dataplane_update(n->dp, map);
				n->dp_epoch = ls_map_epoch(map);
				ls_map_free(map);
			}
		}
		if (leader)
			leader_tick(n);
		else
			follower_tick(n);
		ls__node_joins_tick(n, leader);
		ls__node_leave_tick(n);
		struct timespec ts;
		ls_abstime_after(n->heartbeat_ns / 1000000, &ts);
		pthread_mutex_lock(&n->lock);
		while (!atomic_load(&n->stop) && !n->urgent)
			if (pthread_cond_timedwait(&n->cond, &n->lock, &ts) != 0)
				break;
		int urgent = n->urgent;
		n->urgent = 0;
		pthread_mutex_unlock(&n->lock);
		if (urgent) {
			/* let a burst of acks or map changes gather */
			struct timespec d = { 0, 5000000 };
			nanosleep(&d, NULL);
		}
	}
	return NULL;
}

/* ---- start / stop ---- */

/* DATA_DIR/node.conf keeps the node's identity across restarts. */
static int
check_identity(ls_node *n, int *fresh, char *err, size_t errlen)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/node.conf", n->data_dir);
	FILE *f = fopen(path, "r");
	if (f != NULL) {
		char line[600], name[600] = "", raft[600] = "";
		while (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (strncmp(line, "name=", 5) == 0)
				snprintf(name, sizeof(name), "%s", line + 5);
			else if (strncmp(line, "raft=", 5) == 0)
				snprintf(raft, sizeof(raft), "%s", line + 5);
		}
		fclose(f);
		*fresh = 0;
		if (strcmp(name, n->name) != 0 || strcmp(raft, n->raft_addr) != 0) {
			snprintf(err, errlen,
			    "%s belongs to node '%s' (raft %s), not '%s' (raft "
			    "%s)",
			    n->data_dir, name, raft, n->name, n->raft_addr);
			return LS_EINVAL;
		}
		return 0;
	}
	*fresh = 1;
	f = fopen(path, "w");
	if (f == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		return LS_EIO;
	}
	fprintf(f, "name=%s\nraft=%s\nurl=%s\nhttp=%s\n", n->name,
	    n->raft_addr, n->url, n->http_addr);
	fclose(f);
	return 0;
}

/* Parse the --join entries into *out (caller frees): this node's own
 * entry and repeated entries are skipped, so every node may be given the
 * same seed list.  An entry that names this node's URL with another Raft
 * address (or the reverse), or two entries that disagree on a member's
 * addresses, are refused with a reason in err. */
static int
seeds_parse(ls_node *n, const ls_node_config *cfg, ls_join_seed **out,
    size_t *nout, char *err, size_t errlen)
{
	ls_join_seed *s = calloc(cfg->njoin + 1, sizeof(*s));
	size_t ns = 0;
	*out = NULL;
	*nout = 0;
	if (s == NULL)
		return LS_ENOMEM;
	for (size_t i = 0; i < cfg->njoin; i++) {
		ls_join_seed e;
		if (ls_join_seed_parse(cfg->join[i], &e, err, errlen) != 0) {
			free(s);
			return LS_EINVAL;
		}
		if (ls_transport_url_is_tls(e.url) != ls_tls_enabled(&n->tls)) {
			snprintf(err, errlen, "--join entry '%s': %s",
			    cfg->join[i], ls_tls_enabled(&n->tls)
			        ? "a plaintext member, but this node uses TLS "
			          "(want tls+tcp://)"
			        : "a TLS member (tls+tcp://), but this node has "
			          "no --tls-ca/--tls-cert/--tls-key");
			free(s);
			return LS_EINVAL;
		}
		int same_url = strcmp(e.url, n->url) == 0;
		int same_raft = strcmp(e.raft, n->raft_addr) == 0;
		if (same_url != same_raft) {
			snprintf(err, errlen,
			    "--join entry '%s' (Raft address %s) shares an "
			    "address with this node (--listen %s, Raft address "
			    "%s, --raft-listen): its own entry must name both "
			    "(URL?raft=HOST:PORT), another node's neither",
			    cfg->join[i], e.raft, n->url, n->raft_addr);
			free(s);
			return LS_EINVAL;
		}
		if (same_url)
			continue; /* this node itself */
		size_t k = 0;
		while (k < ns && strcmp(s[k].url, e.url) != 0 &&
		    strcmp(s[k].raft, e.raft) != 0)
			k++;
		if (k < ns && (strcmp(s[k].url, e.url) != 0 ||
		                  strcmp(s[k].raft, e.raft) != 0)) {
			snprintf(err, errlen,
			    "--join entries disagree: %s (Raft %s) and %s "
			    "(Raft %s) share an address",
			    s[k].url, s[k].raft, e.url, e.raft);
			free(s);
			return LS_EINVAL;
		}
		if (k == ns)
			s[ns++] = e; /* else a repeated entry */
	}
	*out = s;
	*nout = ns;
	return 0;
}

/* The TLS options: all three or none, files usable (named with the
 * reason), and --listen's scheme to match. */
static int
node_tls_check(ls_node *n, const ls_node_config *cfg, char *err,
    size_t errlen)
{
	ls_tls_files f = { cfg->tls_ca, cfg->tls_cert, cfg->tls_key };
	char why[600];
	int rv = ls_tls_check(&f, why, sizeof(why));
	if (rv != 0) {
		snprintf(err, errlen, "TLS: %s", why);
		return LS_EINVAL;
	}
	int on = ls_tls_enabled(&f);
	if (on != ls_transport_url_is_tls(cfg->listen)) {
		snprintf(err, errlen, on
		    ? "--listen '%s': with --tls-ca/--tls-cert/--tls-key the "
		      "transport URL is tls+tcp://HOST:PORT"
		    : "--listen '%s': tls+tcp:// needs --tls-ca, --tls-cert "
		      "and --tls-key",
		    cfg->listen);
		return LS_EINVAL;
	}
	if (on) {
		if (ls__copy_str(n->tls_ca, sizeof(n->tls_ca), f.ca) != 0 ||
		    ls__copy_str(n->tls_cert, sizeof(n->tls_cert), f.cert) != 0 ||
		    ls__copy_str(n->tls_key, sizeof(n->tls_key), f.key) != 0) {
			snprintf(err, errlen, "TLS: a file name is too long");
			return LS_EINVAL;
		}
		n->tls = (ls_tls_files){ n->tls_ca, n->tls_cert, n->tls_key };
	}
	return 0;
}

int
ls_node_start(const ls_node_config *cfg, ls_node **out, char *err,
    size_t errlen)
{
	char dummy[256];
	ls_join_seed *seeds = NULL;
	size_t nseeds = 0;
	ls_node *n;
	int rv;

	if (err == NULL) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (cfg->name == NULL || cfg->listen == NULL || cfg->http == NULL ||
	    cfg->data_dir == NULL) {
		snprintf(err, errlen, "--id, --listen, --http and --data-dir "
		                      "are required");
		return LS_EINVAL;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return LS_ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if ((rv = ls_acks_new(MAX_ACKS, &n->acks)) != 0 ||
	    (rv = ls_region_cache_new(&n->incs)) != 0)
		goto fail;
	rv = LS_ERANGE;
	if (ls__copy_str(n->name, sizeof(n->name), cfg->name) != 0 ||
	    ls__copy_str(n->url, sizeof(n->url), cfg->listen) != 0 ||
	    ls__copy_str(n->http_addr, sizeof(n->http_addr), cfg->http) != 0 ||
	    ls__copy_str(n->data_dir, sizeof(n->data_dir), cfg->data_dir) != 0) {
		snprintf(err, errlen, "an argument is too long");
		goto fail;
	}
	if (cfg->raft != NULL) {
		if (ls_join_raft_check(cfg->raft) != 0) {
			snprintf(err, errlen, "bad --raft-listen '%s' (want "
			                      "HOST:PORT, port 1-65535)",
			    cfg->raft);
			rv = LS_EINVAL;
			goto fail;
		}
		rv = ls__copy_str(n->raft_addr, sizeof(n->raft_addr), cfg->raft);
	}
	if ((rv = ls_transport_url_check(cfg->listen)) != 0 ||
	    (strncmp(cfg->listen, "tcp://", 6) != 0 &&
	        !ls_transport_url_is_tls(cfg->listen))) {
		snprintf(err, errlen, "bad --listen URL '%s' (want "
		                      "tcp://HOST:PORT, or tls+tcp://HOST:PORT "
		                      "with --tls-ca/--tls-cert/--tls-key)",
		    cfg->listen);
		rv = LS_EINVAL;
		goto fail;
	}
	if ((rv = node_tls_check(n, cfg, err, errlen)) != 0)
		goto fail;
	if (cfg->token_file != NULL) {
		char why[600];
		if ((rv = ls_auth_load(cfg->token_file, &n->auth, why,
		         sizeof(why))) != 0) {
			snprintf(err, errlen, "--token-file: %s", why);
			rv = rv == LS_ENOMEM ? rv : LS_EINVAL;
			goto fail;
		}
	}
	/* The node's own requests to its peers: HTTPS against the cluster
	 * CA, with the internal token. */
	{
		char why[600] = "";
		if ((rv = ls_http_client_config(
		         ls_tls_enabled(&n->tls) ? n->tls.ca : NULL,
		         ls_auth_internal_token(n->auth), why,
		         sizeof(why))) != 0) {
			snprintf(err, errlen, "--tls-ca: %s", why);
			goto fail;
		}
	}
	if (cfg->raft == NULL &&
	    ls_node_raft_address(cfg->listen, n->raft_addr,
	        sizeof(n->raft_addr)) != 0) {
		snprintf(err, errlen, "--listen '%s' implies no Raft address "
		                      "(port + 100 of a tcp:// URL); give "
		                      "--raft-listen HOST:PORT",
		    cfg->listen);
		rv = LS_EINVAL;
		goto fail;
	}
	n->raft_id = ls_node_raft_id(n->raft_addr);
	n->voter = cfg->voter != 0;
	/* the seeds, without this node and repeated entries */
	if ((rv = seeds_parse(n, cfg, &seeds, &nseeds, err, errlen)) != 0)
		goto fail;
	n->inc = ls_hash64(&n->raft_id, sizeof(n->raft_id),
	    (uint64_t)ls_clock_ns() ^ ((uint64_t)getpid() << 32));
	if (n->inc == 0)
		n->inc = 1;
	n->heartbeat_ns = (cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 150) *
	    1000000;
	n->suspect_ns = (cfg->suspect_ms > 0 ? cfg->suspect_ms : 500) * 1000000;
	n->dead_ns = (cfg->dead_ms > 0 ? cfg->dead_ms : 1000) * 1000000;
	n->replicas = cfg->replicas > 0 ? cfg->replicas : 2;
	if ((rv = ls_detector_new(n->raft_id, n->heartbeat_ns, n->suspect_ns,
	         n->dead_ns, &n->det)) != 0)
		goto fail;

	if (ls_mkdir_p(n->data_dir) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", n->data_dir,
		    strerror(errno));
		rv = LS_EIO;
		goto fail;
	}
	int fresh = 0;
	if ((rv = check_identity(n, &fresh, err, errlen)) != 0)
		goto fail;
	if (!n->voter && fresh && nseeds == 0) {
		snprintf(err, errlen,
		    "a node without --voter joins a running cluster: give "
		    "--join with the --listen URL of at least one other "
		    "member");
		rv = LS_EINVAL;
		goto fail;
	}

	/* voters: this node and its seeds; a joining node starts with none
	 * and waits until the leader adds it */
	size_t nv = n->voter ? nseeds + 1 : 0;
	ls_coord_peer *voters = calloc(nseeds + 1, sizeof(*voters));
	if (voters == NULL) {
		rv = LS_ENOMEM;
		goto fail;
	}
	voters[0].id = n->raft_id;
	voters[0].address = n->raft_addr;
	for (size_t i = 0; i < nseeds; i++) {
		voters[i + 1].id = seeds[i].id;
		voters[i + 1].address = seeds[i].raft;
	}
	char raft_dir[1100];
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", n->data_dir);
	ls_coord_config cc;
	memset(&cc, 0, sizeof(cc));
	cc.id = n->raft_id;
	cc.data_dir = raft_dir;
	cc.address = n->raft_addr;
	cc.voters = nv > 0 ? voters : NULL;
	cc.n_voters = nv;
	cc.on_map_change = on_map_change;
	cc.cb_arg = n;
	cc.tls = &n->tls;
	cc.election_timeout_ms = 500;
	cc.heartbeat_timeout_ms = 100;
	char cerr[400] = "";
	cc.err = cerr;
	cc.errlen = sizeof(cerr);
	rv = ls_coord_start(&cc, &n->coord);
	free(voters);
	if (rv != 0) {
		snprintf(err, errlen, "cannot start the coordinator on Raft "
		                      "address %s (--raft-listen%s): %s",
		    n->raft_addr, cfg->raft != NULL ? "" : ", default: --listen "
		                                             "port + 100",
		    cerr[0] ? cerr : ls_strerror(rv));
		goto fail;
	}

	if ((rv = ls_metrics_new(&n->metrics)) != 0)
		goto fail;
	char labels[400];
	snprintf(labels, sizeof(labels), "node=\"%s\"", n->name);
	n->m_leader = ls_metrics_gauge(n->metrics, "logstream_node_is_leader",
	    "1 while this node is the coordinator leader.", labels);
	n->m_epoch = ls_metrics_gauge(n->metrics, "logstream_cluster_map_epoch",
	    "Epoch of the replicated cluster map.", labels);
	n->m_hb_sent = ls_metrics_counter(n->metrics,
	    "logstream_node_heartbeats_sent_total",
	    "Heartbeats acknowledged by the leader.", labels);
	n->m_hb_failed = ls_metrics_counter(n->metrics,
	    "logstream_node_heartbeats_failed_total",
	    "Heartbeats that got no answer.", labels);
	n->m_proposals = ls_metrics_counter(n->metrics,
	    "logstream_node_proposals_total",
	    "Cluster map commands proposed by this node.", labels);
	n->m_failures = ls_metrics_counter(n->metrics,
	    "logstream_node_failures_total",
	    "Nodes this node, as the leader, declared dead (each one a "
	    "failover of their partitions).", labels);
	n->m_raft_refused = ls_metrics_counter(n->metrics,
	    "logstream_raft_refused_total",
	    "Raft connections refused by the TLS transport (handshake, "
	    "preamble, limits).", labels);
	(void)n->m_alive;

	ls_dataplane_config dc;
	memset(&dc, 0, sizeof(dc));
	dc.node_id = n->raft_id;
	dc.listen_url = n->url;
	dc.tls = &n->tls;
	dc.data_dir = n->data_dir;
	dc.workers = cfg->workers;
	dc.cache_bytes = cfg->cache_bytes;
	dc.replication_chunk = cfg->replication_chunk;
	dc.ack = ls__node_on_ack;
	dc.arg = n;
	dc.metrics = n->metrics;
	dc.unknown = ls__node_on_unknown;
	if (!n->voter) {
		ls_join_req me;
		memset(&me, 0, sizeof(me));
		me.id = n->raft_id;
		me.inc = n->inc;
		ls__copy_str(me.name, sizeof(me.name), n->name);
		ls__copy_str(me.url, sizeof(me.url), n->url);
		ls__copy_str(me.http, sizeof(me.http), n->http_addr);
		ls__copy_str(me.raft, sizeof(me.raft), n->raft_addr);
		int hl = ls_join_encode(&me, n->hello, sizeof(n->hello));
		if (hl < 0) {
			snprintf(err, errlen, "node name or addresses too long");
			rv = LS_ERANGE;
			goto fail;
		}
		n->hello_len = (size_t)hl;
		dc.hello_info = n->hello;
		dc.hello_len = n->hello_len;
	}
	if ((rv = ls_dataplane_start(&dc, &n->dp, err, errlen)) != 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "--listen: %s",
		    why[0] ? why : ls_strerror(rv));
		goto fail;
	}
	/* A joining node says hello to its seeds (whose ids follow from
	 * their Raft addresses); a seed passes the request on to the
	 * leader. */
	for (size_t i = 0; !n->voter && i < nseeds; i++) {
		rv = ls_dataplane_seed(n->dp, seeds[i].id, seeds[i].url);
		if (rv != 0 && rv != LS_EEXIST) {
			snprintf(err, errlen, "--join entry '%s': %s",
			    seeds[i].url, ls_strerror(rv));
			goto fail;
		}
	}
	rv = 0;

	/* `http` sources of this node: HTTPS and tokens like its API */
	ls_ingest_http_security(&n->tls, n->auth);
	/* bodies up to what an ingest push carries (cluster/ingest_repl.h) */
	ls_http_opts ho = { n->metrics, LS_IREPL_MAX_BODY, &n->tls, n->auth };
	if ((rv = ls_http_start(n->http_addr, &ho, &n->http)) != 0) {
		snprintf(err, errlen, "--http: cannot serve HTTP%s on %s: %s",
		    ls_tls_enabled(&n->tls) ? "S" : "", n->http_addr,
		    rv == LS_EEXIST ? "the address is in use" : ls_strerror(rv));
		goto fail;
	}
	if ((rv = ls__api_routes(n)) != 0)
		goto fail;
	if (pthread_create(&n->ticker, NULL, ticker_main, n) != 0) {
		rv = LS_ENOMEM;
		goto fail;
	}
	n->ticker_started = 1;
	ls_log(LS_LOG_INFO, "node",
	    "node started node=%s listen=%s http=%s raft=%s voter=%s seeds=%zu",
	    n->name, n->url, n->http_addr, n->raft_addr,
	    n->voter ? "yes" : "no", nseeds);
	free(seeds);
	*out = n;
	return 0;
fail:
	free(seeds);
	ls_node_stop(n);
	return rv;
}

void
ls_node_stop(ls_node *n)
{
	if (n == NULL)
		return;
	atomic_store(&n->stop, 1);
	pthread_mutex_lock(&n->lock);
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	if (n->ticker_started)
		pthread_join(n->ticker, NULL);
	if (n->http != NULL)
		ls_http_stop(n->http);
	ls_dataplane_stop(n->dp);
	if (n->coord != NULL)
		ls_coord_stop(n->coord);
	ls_acks_free(n->acks);
	ls_region_cache_free(n->incs);
	free(n->leave_ck);
	for (size_t i = 0; i < n->nacks_out; i++)
		free(n->acks_out[i].topo);
	free(n->acks_out);
	ls_metrics_free(n->metrics);
	ls_detector_free(n->det);
	ls_auth_free(n->auth);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}
