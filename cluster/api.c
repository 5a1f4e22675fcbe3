/*
 * api.c -- a cluster node's HTTP API (docs/operations.md): status as JSON
 * or text, deploy and undeploy (forwarded to the leader by a follower),
 * graceful leave, and the internal calls between nodes: heartbeats with
 * their checkpoint acks, join requests passed on by a seed, and stored
 * checkpoint state for a node taking a partition over.  The query routes
 * live in cluster/query.c.
 *
 * Handlers run on the HTTP server's thread; they read the map through
 * ls_coord_map_snapshot() and change it only by proposing commands
 * (node_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/jsonbuf.h"
#include "cluster/node_int.h"
#include "cluster/place.h"
#include "cluster/query.h"
#include "runtime/actor.h"
#include "runtime/log.h"
#include "schemas/codec.h"
#include "topology/plan.h"
#include "topology/topology.h"

/* Content type of the binary (FlatBuffers) bodies of the internal API. */
#define WIRE_TYPE "application/octet-stream"

/* A heartbeat's sender fields within the map's limits? */
static int
hb_ok(const ls_heartbeat_wire *hb)
{
	return hb->id != 0 && hb->name.len > 0 &&
	    hb->name.len <= LS_MAP_MAX_NAME && hb->url.len <= LS_MAP_MAX_URL &&
	    hb->http.len <= LS_MAP_MAX_URL;
}

/* A follower's heartbeat being decoded (schemas/cluster.fbs). */
typedef struct hb_acks {
	ls_node *n;
	const ls_heartbeat_wire *hb; /* filled before the first ack */
	int any;
} hb_acks;

/* Heartbeat decoder callback: one ack of a follower.  The decoder checked
 * that the strings are C strings; checkpoint 0 means nothing.  Acks of a
 * heartbeat whose sender fields are bad are not taken (LS_EINVAL stops the
 * decoder). */
static int
hb_ack(void *arg, const ls_ckpt_ack_wire *a)
{
	hb_acks *h = arg;
	if (!hb_ok(h->hb))
		return LS_EINVAL;
	if (a->ckpt == 0)
		return 0;
	/* a full table or no memory drops the ack: that checkpoint will not
	 * complete, a later one will */
	pthread_mutex_lock(&h->n->lock);
	ls__node_ack_add(h->n, a->topology.ptr, a->epoch, a->partition.ptr,
	    h->hb->id, a->ckpt, a->final);
	pthread_mutex_unlock(&h->n->lock);
	h->any = 1;
	return 0;
}

/* Answer with b's content (freed here) as type, or 500 when building it
 * ran out of memory. */
static int
reply_buf(ls_http_resp *resp, int status, const char *type, ls_jsonbuf *b)
{
	if (b->oom) {
		ls_jsonbuf_fini(b);
		return ls_http_resp_error(resp, 500, "out of memory");
	}
	ls_http_resp_status(resp, status);
	int rv = ls_http_resp_body(resp, type, b->p, b->len);
	ls_jsonbuf_fini(b);
	return rv;
}

static int
reply_json(ls_http_resp *resp, int status, ls_jsonbuf *b)
{
	return reply_buf(resp, status, "application/json", b);
}

/* The human-readable status (logstream status without --json). */
static void
status_text(ls_node *n, const ls_map *map, const char *leader, ls_jsonbuf *b)
{
	ls_jsonbuf_printf(b, "node %s  leader %s  epoch %llu\n\n", n->name,
	    leader[0] ? leader : "(none)",
	    (unsigned long long)ls_map_epoch(map));
	ls_jsonbuf_printf(b, "%-12s %-8s %-6s %10s %9s  %-22s %s\n", "NODE", "STATE",
	    "VOTER", "PARTITIONS", "STANDBYS", "HTTP", "URL");
	for (size_t i = 0; i < ls_map_node_count(map); i++) {
		ls_map_node mn;
		size_t owned, standby;
		if (ls_map_node_at(map, i, &mn) != 0)
			continue;
		ls_place_count(map, mn.id, &owned, &standby);
		ls_jsonbuf_printf(b, "%-12s %-8s %-6s %10zu %9zu  %-22s %s%s\n", mn.name,
		    ls_map_node_state_name(mn.state), mn.voter ? "yes" : "no",
		    owned, standby, mn.http, mn.url,
		    strcmp(mn.name, leader) == 0 ? "  (leader)" : "");
	}
	ls_jsonbuf_printf(b, "\ntopologies:");
	if (ls_map_topology_count(map) == 0)
		ls_jsonbuf_printf(b, " none");
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, i, &name, &yaml) == 0)
			ls_jsonbuf_printf(b, " %s", name);
	}
	ls_jsonbuf_printf(b, "\n");
}

/* The value of key in an undecoded query string, into out. */
static int
query_get(const char *q, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = q; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&');
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = len - kl - 1;
			if (vl >= cap)
				return -1;
			memcpy(out, p + kl + 1, vl);
			out[vl] = '\0';
			return 0;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return -1;
}

static int
h_status(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	ls_map *map;
	uint64_t lid = 0;
	char laddr[MAX_ADDR] = "";
	ls_jsonbuf b = { 0 };
	(void)req;

	ls_coord_leader(n->coord, &lid, laddr, sizeof(laddr));
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return ls_http_resp_error(resp, 503, "map not available");
	ls_map_node lnode;
	const char *lname = ls_map_node_find(map, lid, &lnode) == 0
	    ? lnode.name : "";
	char fmt[16];
	if (req->query != NULL &&
	    query_get(req->query, "format", fmt, sizeof(fmt)) == 0 &&
	    strcmp(fmt, "text") == 0) {
		status_text(n, map, lname, &b);
		ls_map_free(map);
		return reply_buf(resp, 200, "text/plain", &b);
	}
	ls_jsonbuf_printf(&b, "{\"node\":");
	ls_jsonbuf_str(&b, n->name);
	ls_jsonbuf_printf(&b, ",\"id\":\"%llu\",\"is_leader\":%s,\"leader\":",
	    (unsigned long long)n->raft_id,
	    ls_coord_is_leader(n->coord) ? "true" : "false");
	ls_jsonbuf_str(&b, lname);
	ls_jsonbuf_printf(&b, ",\"leader_id\":\"%llu\",\"leader_raft\":",
	    (unsigned long long)lid);
	ls_jsonbuf_str(&b, laddr);
	pthread_mutex_lock(&n->lock);
	int leaving = n->leaving;
	pthread_mutex_unlock(&n->lock);
	ls_jsonbuf_printf(&b, ",\"voter\":%s,\"leaving\":%s,\"left\":%s",
	    n->voter ? "true" : "false", leaving ? "true" : "false",
	    atomic_load(&n->left) ? "true" : "false");
	ls_jsonbuf_printf(&b, ",\"epoch\":%llu,\"nodes\":[",
	    (unsigned long long)ls_map_epoch(map));
	size_t nn = ls_map_node_count(map);
	size_t na = ls_map_assignment_count(map);
	for (size_t i = 0; i < nn; i++) {
		ls_map_node mn;
		if (ls_map_node_at(map, i, &mn) != 0)
			continue;
		size_t owned, standby;
		ls_place_count(map, mn.id, &owned, &standby);
		ls_jsonbuf_printf(&b, "%s{\"name\":", i ? "," : "");
		ls_jsonbuf_str(&b, mn.name);
		ls_jsonbuf_printf(&b, ",\"id\":\"%llu\",\"url\":",
		    (unsigned long long)mn.id);
		ls_jsonbuf_str(&b, mn.url);
		ls_jsonbuf_printf(&b, ",\"http\":");
		ls_jsonbuf_str(&b, mn.http);
		ls_jsonbuf_printf(&b,
		    ",\"voter\":%s,\"state\":\"%s\",\"partitions\":%zu,"
		    "\"standbys\":%zu}",
		    mn.voter ? "true" : "false",
		    ls_map_node_state_name(mn.state), owned, standby);
	}
	ls_jsonbuf_printf(&b, "],\"topologies\":[");
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name, *yaml;
		if (ls_map_topology_at(map, i, &name, &yaml) == 0) {
			ls_jsonbuf_printf(&b, "%s", i ? "," : "");
			ls_jsonbuf_str(&b, name);
		}
	}
	ls_dataplane_run_info ri[64];
	size_t nr = n->dp != NULL ? ls_dataplane_runs(n->dp, ri, 64) : 0;
	ls_jsonbuf_printf(&b, "],\"runs\":[");
	for (size_t i = 0; i < ls_map_topology_count(map); i++) {
		const char *name;
		uint64_t ck = 0;
		int fin = 0;
		if (ls_map_topology_at(map, i, &name, NULL) != 0)
			continue;
		ls_map_topology_checkpoint(map, name, &ck, &fin);
		/* this node's view: the run epoch its run last committed a
		 * checkpoint in (a checkpoint of the current placement) */
		uint64_t ce = 0;
		for (size_t k = 0; k < nr && k < 64; k++)
			if (strcmp(ri[k].topology, name) == 0)
				ce = ri[k].checkpoint_epoch;
		ls_jsonbuf_printf(&b, "%s{\"topology\":", i ? "," : "");
		ls_jsonbuf_str(&b, name);
		ls_jsonbuf_printf(&b,
		    ",\"run_epoch\":%llu,\"checkpoint\":%llu,"
		    "\"checkpoint_epoch\":%llu,\"finished\":%s}",
		    (unsigned long long)ls_map_run_epoch(map, name),
		    (unsigned long long)ck, (unsigned long long)ce,
		    fin ? "true" : "false");
	}
	ls_jsonbuf_printf(&b, "],\"local_runs\":[");
	for (size_t i = 0; i < nr && i < 64; i++) {
		ls_jsonbuf_printf(&b, "%s{\"topology\":", i ? "," : "");
		ls_jsonbuf_str(&b, ri[i].topology);
		ls_jsonbuf_printf(&b,
		    ",\"run_epoch\":%llu,\"restored_from\":%llu,"
		    "\"checkpoint_epoch\":%llu,"
		    "\"started_ms\":%lld,\"local_actors\":%u,"
		    "\"finished\":%s}",
		    (unsigned long long)ri[i].run_epoch,
		    (unsigned long long)ri[i].restored_from,
		    (unsigned long long)ri[i].checkpoint_epoch,
		    (long long)ri[i].started_ms, ri[i].local_actors,
		    ri[i].finished ? "true" : "false");
	}
	ls_jsonbuf_printf(&b, "],\"assignments\":[");
	for (size_t k = 0; k < na; k++) {
		ls_map_assignment a;
		ls_map_node on;
		if (ls_map_assignment_at(map, k, &a) != 0)
			continue;
		ls_jsonbuf_printf(&b, "%s{\"topology\":", k ? "," : "");
		ls_jsonbuf_str(&b, a.topology);
		ls_jsonbuf_printf(&b, ",\"partition\":");
		ls_jsonbuf_str(&b, a.partition);
		ls_jsonbuf_printf(&b, ",\"owner\":");
		ls_jsonbuf_str(&b, ls_map_node_find(map, a.owner, &on) == 0
		        ? on.name : "");
		ls_jsonbuf_printf(&b,
		    ",\"epoch\":%llu,\"owner_epoch\":%llu,\"standbys\":[",
		    (unsigned long long)a.epoch,
		    (unsigned long long)a.owner_epoch);
		for (unsigned s = 0; s < a.n_standbys; s++) {
			ls_jsonbuf_printf(&b, "%s", s ? "," : "");
			ls_jsonbuf_str(&b, ls_map_node_find(map, a.standbys[s],
			                    &on) == 0
			        ? on.name : "");
		}
		ls_jsonbuf_printf(&b, "]}");
	}
	ls_jsonbuf_printf(&b, "]}\n");
	ls_map_free(map);
	return reply_json(resp, 200, &b);
}

/* Relay a request to the leader and its answer back. */
static int
forward(ls_node *n, const ls_http_req *req, ls_http_resp *resp)
{
	char lh[MAX_ADDR];
	if (ls__node_leader_http(n, lh, sizeof(lh)) != 0)
		return ls_http_resp_error(resp, 503,
		    "no leader known yet; retry shortly");
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	int rv = ls_http_request(lh, req->method, req->path, req->body,
	    req->body_len, &status, &body, &len, 15000);
	if (rv != 0) {
		free(body);
		return ls_http_resp_error(resp, 502, "leader unreachable");
	}
	ls_http_resp_status(resp, status);
	rv = ls_http_resp_body(resp, "application/json", body, len);
	free(body);
	return rv;
}

static int
h_deploy(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	ls_diag d;
	ls_topology *t = NULL;
	ls_plan *p = NULL;
	ls_jsonbuf b = { 0 };

	if (!ls_coord_is_leader(n->coord))
		return forward(n, req, resp);
	char *yaml = malloc(req->body_len + 1);
	if (yaml == NULL)
		return ls_http_resp_error(resp, 500, "out of memory");
	memcpy(yaml, req->body, req->body_len);
	yaml[req->body_len] = '\0';
	ls_diag_init(&d);
	int rv = ls_topology_parse("request", yaml, req->body_len, &t, &d);
	if (rv == 0)
		rv = ls_plan_build(t, &p, &d);
	if (rv != 0) {
		ls_jsonbuf_printf(&b, "{\"error\":\"invalid topology\",\"problems\":[");
		for (size_t i = 0; i < d.n; i++) {
			ls_jsonbuf_printf(&b, "%s", i ? "," : "");
			ls_jsonbuf_str(&b, d.msgs[i]);
		}
		ls_jsonbuf_printf(&b, "]}\n");
		ls_diag_free(&d);
		ls_topology_free(t);
		free(yaml);
		return reply_json(resp, 400, &b);
	}
	ls_diag_free(&d);
	char name[LS_MAP_MAX_NAME + 1];
	ls__copy_str(name, sizeof(name), ls_topology_name(t));
	size_t nactors = ls_plan_actor_count(p);
	ls_plan_free(p);
	ls_topology_free(t);

	uint8_t *cmd;
	size_t len;
	rv = ls_map_cmd_deploy(name, yaml, &cmd, &len);
	if (rv == 0)
		rv = ls__node_propose(n, cmd, len);
	if (rv == 0) {
		ls_map *map;
		if ((rv = ls_coord_map_snapshot(n->coord, &map)) == 0) {
			rv = ls__node_place(n, map, name, yaml);
			ls_map_free(map);
		}
	}
	free(yaml);
	if (rv != 0)
		return ls_http_resp_error(resp, rv == LS_ESTATE ? 503 : 500,
		    ls_strerror(rv));
	ls_jsonbuf_printf(&b, "{\"deployed\":");
	ls_jsonbuf_str(&b, name);
	ls_jsonbuf_printf(&b, ",\"partitions\":%zu,\"epoch\":%llu}\n", nactors,
	    (unsigned long long)ls_coord_epoch(n->coord));
	return reply_json(resp, 200, &b);
}

static int
h_undeploy(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	const char *name = req->path + strlen("/v1/topologies/");
	if (!ls_coord_is_leader(n->coord))
		return forward(n, req, resp);
	if (*name == '\0' || strlen(name) > LS_MAP_MAX_NAME)
		return ls_http_resp_error(resp, 400, "missing topology name");
	ls_map *map;
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return ls_http_resp_error(resp, 503, "map not available");
	const char *yaml;
	int found = ls_map_topology_find(map, name, &yaml) == 0;
	ls_map_free(map);
	if (!found)
		return ls_http_resp_error(resp, 404, "no such topology");
	uint8_t *cmd;
	size_t len;
	int rv = ls_map_cmd_undeploy(name, &cmd, &len);
	if (rv == 0)
		rv = ls__node_propose(n, cmd, len);
	if (rv != 0)
		return ls_http_resp_error(resp, 500, ls_strerror(rv));
	ls_jsonbuf b = { 0 };
	ls_jsonbuf_printf(&b, "{\"undeployed\":");
	ls_jsonbuf_str(&b, name);
	ls_jsonbuf_printf(&b, ",\"epoch\":%llu}\n",
	    (unsigned long long)ls_coord_epoch(n->coord));
	return reply_json(resp, 200, &b);
}

/* 200 with the map epoch (a MapEpoch, schemas/cluster.fbs), the answer
 * to a heartbeat or a join. */
static int
reply_epoch(ls_node *n, ls_http_resp *resp)
{
	ls_buf b = { NULL, 0 };
	int rv = ls_codec_map_epoch_encode(ls_coord_epoch(n->coord), &b);
	if (rv != 0)
		return ls_http_resp_error(resp, 500, ls_strerror(rv));
	ls_http_resp_status(resp, 200);
	rv = ls_http_resp_body(resp, WIRE_TYPE, b.data, b.len);
	ls_buf_free(&b);
	return rv;
}

/* Body: a Heartbeat (schemas/cluster.fbs) with the sender's identity and
 * addresses, its flags and the checkpoint acks it collected.  An
 * unparsable one is logged and refused (400); nothing of it is used. */
static int
h_heartbeat(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;

	if (!ls_coord_is_leader(n->coord))
		return ls_http_resp_error(resp, 409, "not the leader");
	/* the decoder wants 8-byte aligned input: a copy in malloc'd memory */
	uint8_t *buf = malloc(req->body_len > 0 ? req->body_len : 1);
	if (buf == NULL)
		return ls_http_resp_error(resp, 503, "out of memory");
	if (req->body_len > 0)
		memcpy(buf, req->body, req->body_len);
	ls_heartbeat_wire hb;
	hb_acks ha = { n, &hb, 0 };
	int rv = ls_codec_heartbeat_decode(buf, req->body_len, &hb, hb_ack,
	    &ha);
	if (rv == 0 && !hb_ok(&hb))
		rv = LS_EINVAL;
	if (rv != 0) {
		free(buf);
		ls_log(LS_LOG_WARN, "node",
		    "bad heartbeat dropped bytes=%zu: %s", req->body_len,
		    ls_strerror(rv));
		return ls_http_resp_error(resp, 400, "bad heartbeat");
	}
	uint64_t id = hb.id, inc = hb.inc;
	char name[LS_MAP_MAX_NAME + 1], url[LS_MAP_MAX_URL + 1],
	    http[LS_MAP_MAX_URL + 1];
	snprintf(name, sizeof(name), "%s", hb.name.ptr);
	snprintf(url, sizeof(url), "%s", hb.url.ptr);
	snprintf(http, sizeof(http), "%s", hb.http.ptr);
	int restarted = hb.restarted, leaving = hb.leaving, voter = hb.voter;
	int acks = ha.any;
	free(buf);

	int64_t now = ls_clock_ns();
	pthread_mutex_lock(&n->lock);
	uint64_t prev_inc = ls_detector_heard(n->det, id, inc, now);
	if (acks) {
		n->urgent = 1;
		pthread_cond_broadcast(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);

	ls_map *map;
	if (ls_coord_map_snapshot(n->coord, &map) != 0)
		return ls_http_resp_error(resp, 503, "map not available");
	ls_map_node mn;
	int known = ls_map_node_find(map, id, &mn) == 0;
	int state = known ? mn.state : 0;
	ls_map_free(map);
	rv = 0;
	int verdict = ls_detector_verdict(known, state, leaving, restarted, inc,
	    prev_inc);
	if (verdict == LS_NODE_LEFT) {
		ls_log(LS_LOG_INFO, "node", "node leaving node=%s", name);
		rv = ls__node_propose_state(n, id, LS_NODE_LEFT);
	} else if (verdict == LS_NODE_DEAD) {
		/* a new process under a known name, back before it was found
		 * dead: its old runs are gone, so every run must restart */
		ls_log(LS_LOG_WARN, "node",
		    "node restarted, fencing its previous incarnation node=%s",
		    name);
		rv = ls__node_propose_state(n, id, LS_NODE_DEAD);
	} else if (verdict == LS_NODE_ALIVE && !known) {
		ls_map_node add = { id, name, url, http, voter != 0,
			LS_NODE_ALIVE };
		ls_log(LS_LOG_INFO, "node", "node joined node=%s", name);
		rv = ls__node_propose_node(n, &add);
	} else if (verdict == LS_NODE_ALIVE) {
		ls_log(LS_LOG_INFO, "node", "node alive again node=%s", name);
		rv = ls__node_propose_state(n, id, LS_NODE_ALIVE);
	}
	if (rv != 0)
		return ls_http_resp_error(resp, 503, ls_strerror(rv));
	return reply_epoch(n, resp);
}

/* POST /v1/internal/join: a join request (cluster/join.h) passed on by the
 * node that got the joining node's hello. */
static int
h_join(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	ls_join_req jr;
	if (!ls_coord_is_leader(n->coord))
		return ls_http_resp_error(resp, 409, "not the leader");
	if (ls_join_parse(req->body, req->body_len, &jr) != 0) {
		ls_log(LS_LOG_WARN, "node", "bad join request dropped bytes=%zu",
		    req->body_len);
		return ls_http_resp_error(resp, 400, "bad join request");
	}
	int rv = ls__node_join_local(n, &jr);
	if (rv != 0)
		return ls_http_resp_error(resp, 503, ls_strerror(rv));
	return reply_epoch(n, resp);
}

/* POST /v1/leave: leave the cluster gracefully.  The node's partitions move
 * to the others; once they have a checkpoint there, the node reports left
 * and its process exits. */
static int
h_leave(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	(void)req;
	pthread_mutex_lock(&n->lock);
	if (!n->leaving) {
		n->leaving = 1;
		n->leave_start_ns = ls_clock_ns();
		ls_log(LS_LOG_INFO, "node", "leave requested node=%s", n->name);
	}
	n->urgent = 1;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	ls_jsonbuf b = { 0 };
	ls_jsonbuf_printf(&b, "{\"node\":");
	ls_jsonbuf_str(&b, n->name);
	ls_jsonbuf_printf(&b, ",\"leaving\":true}\n");
	return reply_json(resp, 202, &b);
}

/* GET /v1/internal/ckpt?topology=T&ckpt=N&partition=P: a stored
 * checkpoint state, for a node that takes the partition over. */
static int
h_ckpt(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	char topo[LS_MAP_MAX_NAME + 1], part[LS_MAP_MAX_NAME + 1], ck[32];
	if (req->query == NULL || query_get(req->query, "topology", topo,
	        sizeof(topo)) != 0 ||
	    query_get(req->query, "partition", part, sizeof(part)) != 0 ||
	    query_get(req->query, "ckpt", ck, sizeof(ck)) != 0)
		return ls_http_resp_error(resp, 400,
		    "want topology, ckpt and partition");
	char *end;
	uint64_t id = strtoull(ck, &end, 10);
	if (*end != '\0' || id == 0)
		return ls_http_resp_error(resp, 400, "bad ckpt");
	void *blob;
	size_t len;
	if (ls_dataplane_ckpt_get(n->dp, topo, id, part, &blob, &len) != 0)
		return ls_http_resp_error(resp, 404, "no such checkpoint here");
	ls_http_resp_status(resp, 200);
	int rv = ls_http_resp_body(resp, "application/octet-stream", blob, len);
	free(blob);
	return rv;
}

/* POST /v1/internal/ingest: an `http` source's owner copies records of
 * its ingest log here (cluster/ingest_repl.h); 200 once stored. */
static int
h_ingest_put(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	char why[512] = "";
	int rv = ls_dataplane_ingest_take(n->dp, req->body, req->body_len, why,
	    sizeof(why));
	if (rv == LS_ESTALE)
		return ls_http_resp_error(resp, 409, why);
	if (rv == LS_ECORRUPT)
		return ls_http_resp_error(resp, 400, why);
	if (rv != 0)
		return ls_http_resp_error(resp, 500, why);
	ls_http_resp_status(resp, 200);
	return ls_http_resp_body(resp, "application/json", "{}\n", 3);
}

/* GET /v1/internal/ingest?topology=T&partition=P: the records of an `http`
 * source partition's ingest log this node holds, for its new owner. */
static int
h_ingest_get(void *arg, const ls_http_req *req, ls_http_resp *resp)
{
	ls_node *n = arg;
	char topo[LS_MAP_MAX_NAME + 1], part[LS_MAP_MAX_NAME + 1], inc[32];
	if (req->query == NULL || query_get(req->query, "topology", topo,
	        sizeof(topo)) != 0 ||
	    query_get(req->query, "partition", part, sizeof(part)) != 0)
		return ls_http_resp_error(resp, 400,
		    "want topology and partition");
	uint64_t in = 0;
	if (query_get(req->query, "inc", inc, sizeof(inc)) == 0) {
		char *end;
		in = strtoull(inc, &end, 10);
		if (*end != '\0')
			return ls_http_resp_error(resp, 400, "bad inc");
	}
	uint8_t *b = NULL;
	size_t bl = 0;
	int rv = ls_dataplane_ingest_serve(n->dp, topo, part, in, &b, &bl);
	if (rv == LS_EINVAL)
		return ls_http_resp_error(resp, 400, "bad topology or partition");
	if (rv != 0)
		return ls_http_resp_error(resp, 500, ls_strerror(rv));
	ls_http_resp_status(resp, 200);
	rv = ls_http_resp_body(resp, "application/octet-stream", b, bl);
	free(b);
	return rv;
}

int
ls__api_routes(ls_node *n)
{
	int rv;
	if ((rv = ls_http_route(n->http, "GET", "/v1/status", h_status, n)) !=
	        0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/topologies", h_deploy,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "DELETE", "/v1/topologies/",
	         h_undeploy, n)) != 0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/internal/heartbeat",
	         h_heartbeat, n)) != 0 ||
	    (rv = ls_http_route(n->http, "GET", "/v1/internal/ckpt", h_ckpt,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/internal/join", h_join,
	         n)) != 0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/internal/ingest",
	         h_ingest_put, n)) != 0 ||
	    (rv = ls_http_route(n->http, "GET", "/v1/internal/ingest",
	         h_ingest_get, n)) != 0 ||
	    (rv = ls_http_route(n->http, "POST", "/v1/leave", h_leave, n)) != 0 ||
	    (rv = ls_http_route_scope(n->http, "POST", "/v1/leave",
	         LS_SCOPE_ADMIN)) != 0)
		return rv;
	if ((rv = ls__dashboard_routes(n)) != 0) /* cluster/dashboard.c */
		return rv;
	return ls__query_routes(n); /* cluster/query.c */
}
