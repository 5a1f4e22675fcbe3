/*
 * coord_test.c -- three Raft coordinators in one process (each with its own
 * loop thread, data dir and loopback port): one leader is elected, commands
 * proposed on the leader reach every map with the same epoch, a stopped
 * leader is replaced with the map intact, and a restarted server catches
 * up from its data dir.  Membership: servers started without voters join a
 * running cluster as standbys (they get the whole map, follow the leader,
 * never lead) or as voters, and can be removed.  Every map is compared
 * with a reference map that applied the same commands directly.  Times are
 * printed, never asserted.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/coord.h"
#include "cluster/map.h"
#include "runtime/err.h"

#define DEADLINE_MS 60000
#define N           3 /* the bootstrap voters: slots 0..N-1 */
#define NS          6 /* every slot: the others join later */

typedef struct server {
	ls_coord *c;
	uint64_t id;
	char addr[32];
	char dir[600];
	_Atomic uint64_t last_epoch; /* from on_map_change */
	_Atomic int leader_changes;  /* from on_leader_change */
	/* Running but not (or no longer) a member: not expected to know
	 * the leader or to follow the map. */
	int outside;
} server;

static server srv[NS];
static ls_coord_peer peers[N];
static char root[512];

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static unsigned
free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void
on_map(void *arg, uint64_t epoch)
{
	server *s = arg;
	atomic_store(&s->last_epoch, epoch);
}

static void
on_leader(void *arg, uint64_t id, const char *address)
{
	server *s = arg;
	(void)id;
	(void)address;
	atomic_fetch_add(&s->leader_changes, 1);
}

static int
start_server(int i)
{
	ls_coord_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = srv[i].id;
	cfg.data_dir = srv[i].dir;
	cfg.address = srv[i].addr;
	cfg.voters = peers;
	cfg.n_voters = N;
	cfg.election_timeout_ms = 1000;
	cfg.heartbeat_timeout_ms = 100;
	/* Small, so that snapshots are taken, stored and restored. */
	cfg.snapshot_threshold = 16;
	cfg.snapshot_trailing = 4;
	cfg.on_map_change = on_map;
	cfg.on_leader_change = on_leader;
	cfg.cb_arg = &srv[i];
	return ls_coord_start(&cfg, &srv[i].c);
}

/* Starts slot i without voters: it waits to be added (or resumes from
 * its data dir). */
static int
start_joiner(int i)
{
	ls_coord_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = srv[i].id;
	cfg.data_dir = srv[i].dir;
	cfg.address = srv[i].addr;
	cfg.election_timeout_ms = 1000;
	cfg.heartbeat_timeout_ms = 100;
	cfg.snapshot_threshold = 16;
	cfg.snapshot_trailing = 4;
	cfg.on_map_change = on_map;
	cfg.on_leader_change = on_leader;
	cfg.cb_arg = &srv[i];
	return ls_coord_start(&cfg, &srv[i].c);
}

/* A running member server. */
static int
live(int i)
{
	return srv[i].c != NULL && !srv[i].outside;
}

/* The index of the one leader all running servers agree on, or -1. */
static int
agreed_leader(void)
{
	int leader = -1, running = 0;
	for (int i = 0; i < NS; i++) {
		if (!live(i))
			continue;
		running++;
		if (ls_coord_is_leader(srv[i].c)) {
			if (leader >= 0)
				return -1;
			leader = i;
		}
	}
	if (leader < 0 || running == 0)
		return -1;
	for (int i = 0; i < NS; i++) {
		uint64_t id;
		char addr[64];
		if (!live(i))
			continue;
		if (ls_coord_leader(srv[i].c, &id, addr, sizeof(addr)) !=
		        LS_OK ||
		    id != srv[leader].id || strcmp(addr, srv[leader].addr) != 0)
			return -1;
	}
	return leader;
}

static int
wait_leader(void)
{
	int64_t end = now_ms() + DEADLINE_MS;
	int l;
	while ((l = agreed_leader()) < 0 && now_ms() < end)
		pause_ms(10);
	assert_true(l >= 0);
	return l;
}

typedef struct done {
	_Atomic int status; /* -1 until done */
} done;

static void
on_done(void *arg, int status)
{
	done *d = arg;
	atomic_store(&d->status, status);
}

/* Proposes cmd on whichever server leads, retrying across leadership
 * changes (every test command is idempotent); returns the final status. */
static int
propose(const uint8_t *cmd, size_t len)
{
	int64_t end = now_ms() + DEADLINE_MS;
	while (now_ms() < end) {
		int l = agreed_leader();
		if (l < 0) {
			pause_ms(10);
			continue;
		}
		done d;
		atomic_store(&d.status, -1);
		int rc =
		    ls_coord_propose(srv[l].c, cmd, len, on_done, &d, NULL, 0);
		if (rc == LS_ESTATE) {
			pause_ms(10);
			continue;
		}
		assert_int_equal(rc, LS_OK);
		/* The done callback always runs (at the latest with
		 * LS_ECLOSED or LS_ESTATE). */
		int64_t dend = now_ms() + DEADLINE_MS;
		while (atomic_load(&d.status) < 0) {
			assert_true(now_ms() < dend);
			pause_ms(2);
		}
		rc = atomic_load(&d.status);
		if (rc != LS_ESTATE && rc != LS_ECLOSED)
			return rc;
	}
	fail_msg("no leader accepted the proposal in time");
	return -1;
}

/* Proposes and applies the same command to the reference map. */
static void
propose_ref(ls_map *ref, uint8_t *cmd, size_t len, int expect)
{
	assert_int_equal(propose(cmd, len), expect);
	assert_int_equal(ls_map_apply(ref, cmd, len), expect);
	free(cmd);
}

/* Waits until every running server's map equals ref. */
static void
wait_maps_equal(const ls_map *ref)
{
	int64_t end = now_ms() + DEADLINE_MS;
	for (;;) {
		int same = 0, running = 0;
		for (int i = 0; i < NS; i++) {
			ls_map *m;
			if (!live(i))
				continue;
			running++;
			assert_int_equal(ls_coord_map_snapshot(srv[i].c, &m),
			                 LS_OK);
			same += ls_map_equal(m, ref) &&
			        atomic_load(&srv[i].last_epoch) ==
			            ls_map_epoch(ref);
			ls_map_free(m);
		}
		if (same == running)
			break;
		assert_true(now_ms() < end);
		pause_ms(10);
	}
	for (int i = 0; i < NS; i++)
		if (live(i)) {
			assert_int_equal(ls_coord_epoch(srv[i].c),
			                 ls_map_epoch(ref));
			assert_int_equal(atomic_load(&srv[i].last_epoch),
			                 ls_map_epoch(ref));
		}
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	signal(SIGPIPE, SIG_IGN);
	snprintf(root, sizeof(root), "%s/ls-coord-XXXXXX",
	         tmp != NULL && *tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL)
		return -1;
	for (int i = 0; i < NS; i++) {
		memset(&srv[i], 0, sizeof(srv[i]));
		srv[i].id = (uint64_t)(i + 1);
		snprintf(srv[i].addr, sizeof(srv[i].addr), "127.0.0.1:%u",
		         free_port());
		snprintf(srv[i].dir, sizeof(srv[i].dir), "%s/n%d", root, i + 1);
		if (i < N) {
			peers[i].id = srv[i].id;
			peers[i].address = srv[i].addr;
		}
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NS; i++) {
		ls_coord_stop(srv[i].c);
		srv[i].c = NULL;
	}
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void
test_config_refused(void **state)
{
	(void)state;
	ls_coord *c = NULL;
	ls_coord_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = srv[0].dir;
	cfg.address = srv[0].addr;
	cfg.voters = peers;
	cfg.n_voters = N;
	assert_int_equal(ls_coord_start(&cfg, &c), LS_EINVAL); /* id 0 */
	cfg.id = 77; /* not among the voters */
	assert_int_equal(ls_coord_start(&cfg, &c), LS_EINVAL);
	cfg.id = 1;
	cfg.address = NULL;
	assert_int_equal(ls_coord_start(&cfg, &c), LS_EINVAL);
	assert_null(c);
}

static void
test_three_servers(void **state)
{
	(void)state;
	ls_map *ref, *before;
	uint8_t *cmd;
	size_t len;
	char where[64];
	int64_t t0;

	assert_int_equal(ls_map_new(&ref), LS_OK);
	t0 = now_ms();
	for (int i = 0; i < N; i++)
		assert_int_equal(start_server(i), LS_OK);
	int l = wait_leader();
	printf("# election: server %d leads after %lld ms\n", l + 1,
	       (long long)(now_ms() - t0));
	for (int i = 0; i < N; i++)
		assert_true(atomic_load(&srv[i].leader_changes) >= 1);

	/* Followers refuse proposals and name the leader; garbage is
	 * refused everywhere. */
	int f = (l + 1) % N;
	assert_int_equal(ls_map_cmd_remove_node(1, &cmd, &len), LS_OK);
	int rc = ls_coord_propose(srv[f].c, cmd, len, on_done, NULL, where,
	                          sizeof(where));
	if (rc == LS_ESTATE)
		assert_string_equal(where, srv[l].addr);
	else
		fail_msg("follower accepted a proposal: %d", rc);
	/* a truncated command, and one of another message kind */
	assert_int_equal(
	    ls_coord_propose(srv[l].c, cmd, len - 1, on_done, NULL, NULL, 0),
	    LS_ECORRUPT);
	cmd[5] ^= 1;
	assert_int_equal(
	    ls_coord_propose(srv[l].c, cmd, len, on_done, NULL, NULL, 0),
	    LS_ECORRUPT);
	free(cmd);

	/* Nodes, a topology and 32 partitions. */
	for (int i = 0; i < N; i++) {
		char name[16], url[48];
		snprintf(name, sizeof(name), "n%d", i + 1);
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", 7101 + i);
		ls_map_node n = {srv[i].id, name, url, "", true, LS_NODE_ALIVE};
		assert_int_equal(ls_map_cmd_add_node(&n, &cmd, &len), LS_OK);
		propose_ref(ref, cmd, len, LS_OK);
	}
	assert_int_equal(ls_map_cmd_deploy("web", "name: web\n", &cmd, &len),
	                 LS_OK);
	propose_ref(ref, cmd, len, LS_OK);
	ls_map_assignment a[32];
	char parts[32][16];
	memset(a, 0, sizeof(a));
	for (int p = 0; p < 32; p++) {
		snprintf(parts[p], sizeof(parts[p]), "count/%d", p);
		a[p].partition = parts[p];
		a[p].owner = (uint64_t)(1 + p % 3);
		a[p].n_standbys = 1;
		a[p].standbys[0] = (uint64_t)(1 + (p + 1) % 3);
	}
	assert_int_equal(
	    ls_map_cmd_assign("web", LS_MAP_ASSIGN_REPLACE, a, 32, &cmd, &len),
	    LS_OK);
	propose_ref(ref, cmd, len, LS_OK);
	/* A command the map refuses is committed as a no-op and reported. */
	assert_int_equal(
	    ls_map_cmd_set_node_state(99, LS_NODE_DEAD, &cmd, &len), LS_OK);
	propose_ref(ref, cmd, len, LS_ENOENT);
	wait_maps_equal(ref);
	assert_int_equal(ls_map_epoch(ref), 5);

	/* Enough changes to cross the snapshot threshold several times. */
	for (int k = 0; k < 40; k++) {
		assert_int_equal(ls_map_cmd_set_node_state(
		                     1 + (uint64_t)(k % 3),
		                     k % 2 ? LS_NODE_ALIVE : LS_NODE_SUSPECT,
		                     &cmd, &len),
		                 LS_OK);
		propose_ref(ref, cmd, len, LS_OK);
	}
	wait_maps_equal(ref);
	printf("# 45 commands replicated, epoch %llu on all servers\n",
	       (unsigned long long)ls_map_epoch(ref));

	/* Stop the leader: the other two elect a new one, map intact. */
	l = wait_leader();
	assert_int_equal(ls_coord_map_snapshot(srv[l].c, &before), LS_OK);
	t0 = now_ms();
	ls_coord_stop(srv[l].c);
	srv[l].c = NULL;
	int l2 = wait_leader();
	printf("# failover: server %d stopped, server %d leads after %lld ms\n",
	       l + 1, l2 + 1, (long long)(now_ms() - t0));
	assert_int_not_equal(l2, l);
	assert_true(ls_map_equal(before, ref));
	wait_maps_equal(ref);
	ls_map_free(before);

	/* Proposals work again. */
	assert_int_equal(ls_map_cmd_deploy("api", "name: api\n", &cmd, &len),
	                 LS_OK);
	propose_ref(ref, cmd, len, LS_OK);
	assert_int_equal(
	    ls_map_cmd_set_node_state(srv[l].id, LS_NODE_DEAD, &cmd, &len),
	    LS_OK);
	propose_ref(ref, cmd, len, LS_OK);
	for (int k = 0; k < 20; k++) {
		assert_int_equal(ls_map_cmd_set_node_state(
		                     srv[l2].id,
		                     k % 2 ? LS_NODE_ALIVE : LS_NODE_SUSPECT,
		                     &cmd, &len),
		                 LS_OK);
		propose_ref(ref, cmd, len, LS_OK);
	}
	wait_maps_equal(ref);

	/* The stopped server restarts from its data dir and catches up. */
	atomic_store(&srv[l].last_epoch, 0);
	t0 = now_ms();
	assert_int_equal(start_server(l), LS_OK);
	wait_maps_equal(ref);
	printf("# restart: server %d caught up to epoch %llu in %lld ms\n",
	       l + 1, (unsigned long long)ls_map_epoch(ref),
	       (long long)(now_ms() - t0));
	(void)wait_leader();
	assert_int_equal(
	    ls_map_cmd_set_node_state(srv[l].id, LS_NODE_ALIVE, &cmd, &len),
	    LS_OK);
	propose_ref(ref, cmd, len, LS_OK);
	wait_maps_equal(ref);

	for (int i = 0; i < N; i++) {
		ls_coord_stop(srv[i].c);
		srv[i].c = NULL;
	}
	ls_coord_stop(NULL); /* harmless */
	ls_map_free(ref);
}

/* ---- membership: standbys and voters that join a running cluster ---- */

/* Waits for a done callback and returns its status. */
static int
wait_done(done *d)
{
	int64_t end = now_ms() + DEADLINE_MS;
	while (atomic_load(&d->status) < 0) {
		assert_true(now_ms() < end);
		pause_ms(2);
	}
	return atomic_load(&d->status);
}

/* Adds (voter >= 0) or removes (voter < 0) server slot k on whichever
 * server leads, retrying across leadership changes; returns the status of
 * the change.  A retry after an attempt whose outcome was unknown
 * (LS_ESTATE from done: it may have committed) counts LS_EEXIST or
 * LS_ENOENT as done. */
static int
change_member(int k, int voter)
{
	int64_t end = now_ms() + DEADLINE_MS;
	int unsure = 0;
	while (now_ms() < end) {
		int l = agreed_leader();
		if (l < 0) {
			pause_ms(10);
			continue;
		}
		done d;
		atomic_store(&d.status, -1);
		int rc =
		    voter >= 0
		        ? ls_coord_add_member(srv[l].c, srv[k].id, srv[k].addr,
		                              voter, on_done, &d, NULL, 0)
		        : ls_coord_remove_member(srv[l].c, srv[k].id, on_done,
		                                 &d, NULL, 0);
		if (rc == LS_ESTATE || rc == LS_EBUSY) {
			pause_ms(10);
			continue;
		}
		if (unsure && (rc == LS_EEXIST || rc == LS_ENOENT))
			return LS_OK;
		if (rc != LS_OK)
			return rc;
		rc = wait_done(&d);
		if (rc != LS_ESTATE && rc != LS_ECLOSED)
			return rc;
		unsure = 1;
	}
	fail_msg("no leader took the membership change in time");
	return -1;
}

/* Waits until every live server sees exactly the configuration role[]
 * (indexed by slot; -1: not a member), with the members' addresses. */
static void
wait_members(const int role[NS])
{
	int64_t end = now_ms() + DEADLINE_MS;
	for (;;) {
		int ok = 1;
		for (int i = 0; i < NS && ok; i++) {
			ls_coord_member m[NS + 1];
			size_t want = 0, n;
			if (!live(i))
				continue;
			n = ls_coord_members(srv[i].c, m, NS + 1);
			for (int k = 0; k < NS; k++)
				want += role[k] >= 0;
			ok = n == want;
			for (size_t j = 0; j < n && ok; j++) {
				int k = (int)m[j].id - 1;
				ok = k >= 0 && k < NS && role[k] == m[j].role &&
				     strcmp(m[j].address, srv[k].addr) == 0;
			}
		}
		if (ok)
			return;
		assert_true(now_ms() < end);
		pause_ms(10);
	}
}

/* Two membership calls made from a coordinator callback (the loop
 * thread): they start after the callback, and report through done. */
typedef struct in_loop {
	ls_coord *c;
	uint64_t id;
	const char *addr;
	_Atomic int call_rc[2]; /* -1 until the calls were made */
	done result[2];
} in_loop;

static void
promote_twice(void *arg, int status)
{
	in_loop *x = arg;
	(void)status;
	for (int i = 0; i < 2; i++)
		atomic_store(&x->call_rc[i],
		             ls_coord_add_member(x->c, x->id, x->addr, 1,
		                                 on_done, &x->result[i], NULL,
		                                 0));
}

/* Proposes n state flips of the bootstrap nodes (all accepted). */
static void
propose_flips(ls_map *ref, int n)
{
	static int k;
	for (int j = 0; j < n; j++, k++) {
		uint8_t *cmd;
		size_t len;
		assert_int_equal(ls_map_cmd_set_node_state(
		                     1 + (uint64_t)(k % N),
		                     k % 2 ? LS_NODE_ALIVE : LS_NODE_SUSPECT,
		                     &cmd, &len),
		                 LS_OK);
		propose_ref(ref, cmd, len, LS_OK);
	}
}

static void
test_membership(void **state)
{
	(void)state;
	ls_map *ref;
	ls_coord_member m[NS];
	uint8_t *cmd;
	size_t len;
	char where[64];
	done d, again;
	int role[NS];
	int64_t t0;
	const int S = 3, P = 4, V = 5; /* standby, promoted, new voter */

	for (int i = 0; i < NS; i++) {
		srv[i].c = NULL;
		srv[i].outside = 0;
		atomic_store(&srv[i].last_epoch, 0);
		snprintf(srv[i].addr, sizeof(srv[i].addr), "127.0.0.1:%u",
		         free_port());
		snprintf(srv[i].dir, sizeof(srv[i].dir), "%s/m%d", root, i + 1);
		role[i] = i < N ? LS_COORD_VOTER : -1;
	}
	assert_int_equal(ls_map_new(&ref), LS_OK);

	/* Three voters; each sees the bootstrap configuration at once. */
	for (int i = 0; i < N; i++) {
		assert_int_equal(start_server(i), LS_OK);
		assert_int_equal(ls_coord_members(srv[i].c, m, NS), N);
	}
	assert_int_equal(ls_coord_members(srv[0].c, m, 2), 2);
	wait_members(role);
	int l = wait_leader();

	/* A map with history: nodes, a topology and enough changes for
	 * the log to be compacted into a snapshot. */
	for (int i = 0; i < N; i++) {
		char name[16], url[48];
		snprintf(name, sizeof(name), "n%d", i + 1);
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", 7101 + i);
		ls_map_node n = {srv[i].id, name, url, "", true, LS_NODE_ALIVE};
		assert_int_equal(ls_map_cmd_add_node(&n, &cmd, &len), LS_OK);
		propose_ref(ref, cmd, len, LS_OK);
	}
	assert_int_equal(ls_map_cmd_deploy("web", "name: web\n", &cmd, &len),
	                 LS_OK);
	propose_ref(ref, cmd, len, LS_OK);
	propose_flips(ref, 24);
	wait_maps_equal(ref);

	/* A server started without voters knows nothing yet. */
	srv[S].outside = 1;
	assert_int_equal(start_joiner(S), LS_OK);
	assert_int_equal(ls_coord_members(srv[S].c, m, NS), 0);
	assert_int_equal(ls_coord_epoch(srv[S].c), 0);
	assert_false(ls_coord_is_leader(srv[S].c));

	/* Refused: on a follower (naming the leader), bad arguments. */
	l = wait_leader();
	int f = (l + 1) % N;
	atomic_store(&d.status, -1);
	assert_int_equal(ls_coord_add_member(srv[f].c, srv[S].id, srv[S].addr,
	                                     0, on_done, &d, where,
	                                     sizeof(where)),
	                 LS_ESTATE);
	assert_string_equal(where, srv[l].addr);
	assert_int_equal(ls_coord_remove_member(srv[f].c, srv[0].id, on_done,
	                                        &d, where, sizeof(where)),
	                 LS_ESTATE);
	assert_string_equal(where, srv[l].addr);
	assert_int_equal(ls_coord_add_member(srv[S].c, srv[S].id, srv[S].addr,
	                                     0, on_done, &d, NULL, 0),
	                 LS_ESTATE);
	assert_int_equal(ls_coord_add_member(srv[l].c, 0, srv[S].addr, 0,
	                                     on_done, &d, NULL, 0),
	                 LS_EINVAL);
	/* Unknown id without an address; an address another id uses. */
	assert_int_equal(ls_coord_add_member(srv[l].c, srv[S].id, NULL, 0,
	                                     on_done, &d, NULL, 0),
	                 LS_EINVAL);
	assert_int_equal(ls_coord_add_member(srv[l].c, srv[S].id, srv[f].addr,
	                                     0, on_done, &d, NULL, 0),
	                 LS_EINVAL);
	/* A known id at another address; the leader demoting itself. */
	assert_int_equal(ls_coord_add_member(srv[l].c, srv[f].id, srv[S].addr,
	                                     1, on_done, &d, NULL, 0),
	                 LS_EINVAL);
	assert_int_equal(ls_coord_add_member(srv[l].c, srv[l].id, srv[l].addr,
	                                     0, on_done, &d, NULL, 0),
	                 LS_EINVAL);
	assert_int_equal(
	    ls_coord_remove_member(srv[l].c, 99, on_done, &d, NULL, 0),
	    LS_ENOENT);
	assert_int_equal(atomic_load(&d.status), -1);

	/* Added as a standby: it receives the whole map (a snapshot and the
	 * log after it) and the configuration. */
	t0 = now_ms();
	assert_int_equal(change_member(S, 0), LS_OK);
	srv[S].outside = 0;
	role[S] = LS_COORD_STANDBY;
	wait_members(role);
	wait_maps_equal(ref);
	printf("# standby %d holds the map (epoch %llu) after %lld ms\n", S + 1,
	       (unsigned long long)ls_map_epoch(ref),
	       (long long)(now_ms() - t0));

	/* Adding it again: already a standby; done never runs. */
	l = wait_leader();
	atomic_store(&again.status, -1);
	assert_int_equal(ls_coord_add_member(srv[l].c, srv[S].id, srv[S].addr,
	                                     0, on_done, &again, NULL, 0),
	                 LS_EEXIST);
	assert_int_equal(ls_coord_add_member(srv[l].c, srv[S].id, NULL, 0,
	                                     on_done, &again, NULL, 0),
	                 LS_EEXIST);

	/* It follows new commands with the leader's epoch. */
	propose_flips(ref, 6);
	wait_maps_equal(ref);
	l = wait_leader();
	assert_int_equal(ls_coord_epoch(srv[S].c), ls_coord_epoch(srv[l].c));

	/* Stop the leader: one of the two other voters wins, never the
	 * standby, which follows the new leader and its commands. */
	t0 = now_ms();
	ls_coord_stop(srv[l].c);
	srv[l].c = NULL;
	int l2 = wait_leader();
	printf("# failover: server %d stopped, server %d leads after %lld ms\n",
	       l + 1, l2 + 1, (long long)(now_ms() - t0));
	assert_true(l2 < N && l2 != l);
	assert_false(ls_coord_is_leader(srv[S].c));
	propose_flips(ref, 6);
	wait_maps_equal(ref);
	assert_false(ls_coord_is_leader(srv[S].c));

	/* The standby restarts from its data dir and catches up, as a
	 * standby still. */
	ls_coord_stop(srv[S].c);
	srv[S].c = NULL;
	propose_flips(ref, 6);
	wait_maps_equal(ref);
	atomic_store(&srv[S].last_epoch, 0);
	t0 = now_ms();
	assert_int_equal(start_joiner(S), LS_OK);
	wait_maps_equal(ref);
	printf("# standby restart: caught up to epoch %llu in %lld ms\n",
	       (unsigned long long)ls_map_epoch(ref),
	       (long long)(now_ms() - t0));
	wait_members(role);

	/* Removed (not from a follower): it gets nothing new. */
	l2 = wait_leader();
	f = N - l - l2; /* the voter that is neither */
	assert_int_equal(
	    ls_coord_remove_member(srv[f].c, srv[S].id, on_done, &d, NULL, 0),
	    LS_ESTATE);
	assert_int_equal(change_member(S, -1), LS_OK);
	uint64_t removed_at = ls_coord_epoch(srv[S].c);
	assert_int_equal(removed_at, ls_map_epoch(ref));
	srv[S].outside = 1;
	role[S] = -1;
	wait_members(role);
	l2 = wait_leader();
	assert_int_equal(
	    ls_coord_remove_member(srv[l2].c, srv[S].id, on_done, &d, NULL, 0),
	    LS_ENOENT);
	propose_flips(ref, 6);
	wait_maps_equal(ref);
	/* Every member applied the new commands; the removed server was
	 * not sent them. */
	assert_int_equal(ls_coord_epoch(srv[S].c), removed_at);
	assert_int_equal(atomic_load(&srv[S].last_epoch), removed_at);
	assert_true(ls_map_epoch(ref) > removed_at);
	ls_coord_stop(srv[S].c);
	srv[S].c = NULL;

	/* The stopped voter leaves for good: two voters remain, and losing
	 * either would stop the cluster. */
	assert_int_equal(change_member(l, -1), LS_OK);
	role[l] = -1;
	wait_members(role);

	/* A standby promoted to voter counts in elections: with three
	 * voters again, stopping the leader leaves two of three, which
	 * elect a leader only with the promoted server's vote. */
	srv[P].outside = 1;
	assert_int_equal(start_joiner(P), LS_OK);
	assert_int_equal(change_member(P, 0), LS_OK);
	srv[P].outside = 0;
	role[P] = LS_COORD_STANDBY;
	wait_members(role);
	wait_maps_equal(ref);
	/* Promoted from the done callback of a proposal (a command the map
	 * refuses, so the map stays as ref): the first call starts the
	 * change, the second finds it in flight. */
	l2 = wait_leader();
	in_loop x;
	x.c = srv[l2].c;
	x.id = srv[P].id;
	x.addr = srv[P].addr;
	for (int i = 0; i < 2; i++) {
		atomic_store(&x.call_rc[i], -1);
		atomic_store(&x.result[i].status, -1);
	}
	assert_int_equal(
	    ls_map_cmd_set_node_state(99, LS_NODE_DEAD, &cmd, &len), LS_OK);
	assert_int_equal(
	    ls_coord_propose(srv[l2].c, cmd, len, promote_twice, &x, NULL, 0),
	    LS_OK);
	free(cmd);
	int first = wait_done(&x.result[0]);
	int second = wait_done(&x.result[1]);
	assert_int_equal(atomic_load(&x.call_rc[0]), LS_OK);
	assert_int_equal(atomic_load(&x.call_rc[1]), LS_OK);
	if (first == LS_ESTATE) /* leadership moved meanwhile (rare) */
		assert_int_equal(change_member(P, 1), LS_OK);
	else
		assert_int_equal(first, LS_OK);
	if (first == LS_OK)
		assert_int_equal(second, LS_EBUSY);
	role[P] = LS_COORD_VOTER;
	wait_members(role);
	l2 = wait_leader();
	t0 = now_ms();
	ls_coord_stop(srv[l2].c);
	srv[l2].c = NULL;
	int l3 = wait_leader();
	printf("# failover with the promoted voter: server %d stopped, server "
	       "%d leads after %lld ms\n",
	       l2 + 1, l3 + 1, (long long)(now_ms() - t0));
	assert_true(l3 != l2 && l3 != l);
	propose_flips(ref, 4);
	wait_maps_equal(ref);

	/* A new server added straight as a voter (spare, then voter):
	 * voters l2 (stopped), P, V and the survivor; three of four run. */
	srv[V].outside = 1;
	assert_int_equal(start_joiner(V), LS_OK);
	assert_int_equal(change_member(V, 1), LS_OK);
	srv[V].outside = 0;
	role[V] = LS_COORD_VOTER;
	wait_members(role);
	propose_flips(ref, 4);
	wait_maps_equal(ref);

	/* The refused calls never ran their callbacks. */
	assert_int_equal(atomic_load(&again.status), -1);
	assert_int_equal(atomic_load(&d.status), -1);
	for (int i = 0; i < NS; i++) {
		ls_coord_stop(srv[i].c);
		srv[i].c = NULL;
		srv[i].outside = 0;
	}
	ls_map_free(ref);
}

/* ---- kill -9: server 3 runs in a child process ---- */

/* The commands a child proposes when it leads (all idempotent). */
static int
fixed_command(int k, uint8_t **cmd, size_t *len)
{
	if (k < N) {
		char name[16], url[48];
		snprintf(name, sizeof(name), "n%d", k + 1);
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", 7101 + k);
		ls_map_node n = {(uint64_t)k + 1, name, url, "", true,
		                 LS_NODE_ALIVE};
		return ls_map_cmd_add_node(&n, cmd, len);
	}
	return ls_map_cmd_deploy("web", "name: web\n", cmd, len);
}
#define N_FIXED (N + 1)

static uint64_t child_id;
static int child_fd;

static void
child_on_map(void *arg, uint64_t epoch)
{
	(void)arg;
	/* One 8-byte write is atomic on a pipe. */
	if (write(child_fd, &epoch, sizeof(epoch)) != sizeof(epoch))
		_exit(3);
}

static void
child_on_leader(void *arg, uint64_t id, const char *address)
{
	ls_coord *c = *(ls_coord *volatile *)arg;
	(void)address;
	if (id != child_id || c == NULL)
		return;
	for (int k = 0; k < N_FIXED; k++) {
		uint8_t *cmd;
		size_t len;
		if (fixed_command(k, &cmd, &len) != LS_OK)
			_exit(4);
		(void)ls_coord_propose(c, cmd, len, NULL, NULL, NULL, 0);
		free(cmd);
	}
}

/* argv: --coord-child id dir addr fd election_ms id@addr x N */
static int
child_main(int argc, char **argv)
{
	static ls_coord *volatile self;
	static char addrs[N][64];
	ls_coord_peer ps[N];
	ls_coord_config cfg;
	if (argc != 7 + N)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	memset(&cfg, 0, sizeof(cfg));
	child_id = strtoull(argv[2], NULL, 10);
	child_fd = atoi(argv[5]);
	for (int i = 0; i < N; i++) {
		char *at = strchr(argv[7 + i], '@');
		if (at == NULL)
			return 2;
		ps[i].id = strtoull(argv[7 + i], NULL, 10);
		snprintf(addrs[i], sizeof(addrs[i]), "%s", at + 1);
		ps[i].address = addrs[i];
	}
	cfg.id = child_id;
	cfg.data_dir = argv[3];
	cfg.address = argv[4];
	cfg.voters = ps;
	cfg.n_voters = N;
	cfg.election_timeout_ms = (unsigned)atoi(argv[6]);
	cfg.heartbeat_timeout_ms = 100;
	cfg.snapshot_threshold = 16;
	cfg.snapshot_trailing = 4;
	cfg.on_map_change = child_on_map;
	cfg.on_leader_change = child_on_leader;
	cfg.cb_arg = (void *)&self;
	ls_coord *c;
	if (ls_coord_start(&cfg, &c) != LS_OK)
		return 1;
	self = c;
	/* A leadership won before self was set is proposed for here. */
	if (ls_coord_is_leader(c))
		child_on_leader((void *)&self, child_id, "");
	for (;;)
		pause();
}

static char self_exe[1024];

static pid_t
spawn_child(int i, int wfd, unsigned election_ms)
{
	char id[24], fd[16], el[16], peer[N][80];
	char *argv[7 + N + 1];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)srv[i].id);
	snprintf(fd, sizeof(fd), "%d", wfd);
	snprintf(el, sizeof(el), "%u", election_ms);
	argv[0] = self_exe;
	argv[1] = (char *)"--coord-child";
	argv[2] = id;
	argv[3] = srv[i].dir;
	argv[4] = srv[i].addr;
	argv[5] = fd;
	argv[6] = el;
	for (int k = 0; k < N; k++) {
		snprintf(peer[k], sizeof(peer[k]), "%llu@%s",
		         (unsigned long long)srv[k].id, srv[k].addr);
		argv[7 + k] = peer[k];
	}
	argv[7 + N] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Never outlive a failed test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(self_exe, argv);
		_exit(127);
	}
	return pid;
}

/* The last epoch the child reported (reads what is there, no waiting). */
static uint64_t
child_epoch(int rfd, uint64_t last)
{
	uint64_t e;
	while (read(rfd, &e, sizeof(e)) == (ssize_t)sizeof(e))
		last = e;
	return last;
}

/* The leader id both in-process servers agree on, or 0. */
static uint64_t
inproc_leader_id(void)
{
	uint64_t id = 0;
	for (int i = 0; i < NS; i++) {
		uint64_t x;
		if (!live(i))
			continue;
		if (ls_coord_leader(srv[i].c, &x, NULL, 0) != LS_OK ||
		    (id != 0 && x != id))
			return 0;
		id = x;
	}
	return id;
}

static void
test_kill9_child_server(void **state)
{
	(void)state;
	int pfd[2];
	ls_map *ref;
	uint8_t *cmd;
	size_t len;
	uint64_t ce = 0;
	int64_t t0, end;
	const int k = N - 1; /* the child's slot */

	ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	assert_true(sl > 0);
	self_exe[sl] = '\0';
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(fcntl(pfd[0], F_SETFL, O_NONBLOCK), 0);
	/* The write end must survive exec in the child. */
	int wfd = dup(pfd[1]);
	assert_true(wfd >= 0);
	close(pfd[1]);
	for (int i = 0; i < N; i++) {
		srv[i].c = NULL;
		atomic_store(&srv[i].last_epoch, 0);
		snprintf(srv[i].addr, sizeof(srv[i].addr), "127.0.0.1:%u",
		         free_port());
		snprintf(srv[i].dir, sizeof(srv[i].dir), "%s/k%d", root, i + 1);
	}
	assert_int_equal(ls_map_new(&ref), LS_OK);
	for (int i = 0; i < N_FIXED; i++) {
		assert_int_equal(fixed_command(i, &cmd, &len), LS_OK);
		assert_int_equal(ls_map_apply(ref, cmd, len), LS_OK);
		free(cmd);
	}

	/* The child campaigns first (shorter election timeout), so it
	 * almost always leads; the test covers both outcomes. */
	t0 = now_ms();
	pid_t pid = spawn_child(k, wfd, 300);
	for (int i = 0; i < k; i++)
		assert_int_equal(start_server(i), LS_OK);
	end = now_ms() + DEADLINE_MS;
	uint64_t lid;
	while ((lid = inproc_leader_id()) == 0 && now_ms() < end)
		pause_ms(10);
	assert_int_not_equal(lid, 0);
	printf("# election: server %llu leads after %lld ms\n",
	       (unsigned long long)lid, (long long)(now_ms() - t0));
	if (lid != srv[k].id) {
		for (int i = 0; i < N_FIXED; i++) {
			assert_int_equal(fixed_command(i, &cmd, &len), LS_OK);
			assert_int_equal(propose(cmd, len), LS_OK);
			free(cmd);
		}
	}
	wait_maps_equal(ref);
	end = now_ms() + DEADLINE_MS;
	while ((ce = child_epoch(pfd[0], ce)) != ls_map_epoch(ref)) {
		assert_true(now_ms() < end);
		pause_ms(10);
	}

	/* kill -9 the child, leader or not. */
	t0 = now_ms();
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	int l = wait_leader();
	printf("# kill -9 of server %llu (%s): server %d leads after %lld "
	       "ms\n",
	       (unsigned long long)srv[k].id,
	       lid == srv[k].id ? "the leader" : "a follower", l + 1,
	       (long long)(now_ms() - t0));
	wait_maps_equal(ref);

	/* Proposals work with two of three. */
	assert_int_equal(
	    ls_map_cmd_set_node_state(srv[k].id, LS_NODE_DEAD, &cmd, &len),
	    LS_OK);
	propose_ref(ref, cmd, len, LS_OK);
	for (int j = 0; j < 24; j++) {
		assert_int_equal(
		    ls_map_cmd_set_node_state(1 + (uint64_t)(j % 2),
		                              j % 4 < 2 ? LS_NODE_SUSPECT
		                                        : LS_NODE_ALIVE,
		                              &cmd, &len),
		    LS_OK);
		propose_ref(ref, cmd, len, LS_OK);
	}
	wait_maps_equal(ref);

	/* The killed server restarts from its data dir and catches up. */
	t0 = now_ms();
	pid = spawn_child(k, wfd, 300);
	end = now_ms() + DEADLINE_MS;
	while ((ce = child_epoch(pfd[0], ce)) != ls_map_epoch(ref)) {
		assert_true(now_ms() < end);
		pause_ms(10);
	}
	printf("# restart after kill -9: server %llu at epoch %llu after "
	       "%lld ms\n",
	       (unsigned long long)srv[k].id, (unsigned long long)ce,
	       (long long)(now_ms() - t0));
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	close(wfd);
	close(pfd[0]);
	for (int i = 0; i < N; i++) {
		ls_coord_stop(srv[i].c);
		srv[i].c = NULL;
	}
	ls_map_free(ref);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--coord-child") == 0)
		return child_main(argc, argv);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_refused),
	    cmocka_unit_test(test_three_servers),
	    cmocka_unit_test(test_membership),
	    cmocka_unit_test(test_kill9_child_server),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
