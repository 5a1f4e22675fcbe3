#!/usr/bin/env python3
"""End-to-end tests of a LogStream cluster: real `logstream node` processes
on 127.0.0.1, driven through the `logstream` client commands and the HTTP
API.

Usage: cluster_test.py LOGSTREAM_BINARY CASE

Every wait polls a condition with a generous deadline (the machine may be
loaded); measured times are printed, never asserted against a speed.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = None
DEADLINE = 60.0


def free_base(n):
    """A base port such that base+i (listen), base+100+i (raft),
    base+200+i (http) and base+300+i (a non-default raft) are free for
    i < n."""
    # below the kernel's range for outgoing ports (32768-60999), so that
    # no client socket takes a port between the check and the bind
    for _ in range(200):
        base = random.randrange(10000, 32000, 10)
        ports = [base + d + i for d in (0, 100, 200, 300)
                 for i in range(n)]
        socks = []
        try:
            for p in ports:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


class Cluster:
    def __init__(self, n, workdir):
        self.n = n
        self.dir = workdir
        self.base = free_base(n + 2)  # room for nodes that join later
        self.procs = {}
        self.logs = {}
        self.node_args = []  # options of every node started
        self.tls_dir = None  # set by enable_tls
        self.https = False   # the API serves HTTPS with TLS
        self.token = None    # bearer token of status() and get()

    def enable_tls(self, names=None):
        """A cluster CA in DIR/ca and a certificate for every node (host
        127.0.0.1): nodes start with --tls-* and tls+tcp:// URLs."""
        self.tls_dir = os.path.join(self.dir, "ca")
        self.https = True  # a node with --tls-* serves HTTPS
        run_cli("certs", "init", "--dir", self.tls_dir)
        for i in range(self.n + 2) if names is None else names:
            run_cli("certs", "issue", "--dir", self.tls_dir, "--name",
                    "n%d" % i, "--host", "127.0.0.1")

    def tls_args(self, i, ca_dir=None):
        d = ca_dir or self.tls_dir
        if d is None:
            return []
        return ["--tls-ca", os.path.join(d, "ca.crt"),
                "--tls-cert", os.path.join(d, "n%d.crt" % i),
                "--tls-key", os.path.join(d, "n%d.key" % i)]

    def url(self, i):
        scheme = "tls+tcp" if self.tls_dir else "tcp"
        return "%s://127.0.0.1:%d" % (scheme, self.base + i)

    def http(self, i):
        return "127.0.0.1:%d" % (self.base + 200 + i)

    def start(self, i, seeds=None, extra=()):
        """Start voter i; its --join list is `seeds` (a string) or, by
        default, the other voters' URLs; `extra` are further options."""
        if seeds is None:
            seeds = ",".join(self.url(j) for j in range(self.n) if j != i)
        log = open(os.path.join(self.dir, "n%d.log" % i), "ab")
        self.logs[i] = log
        self.procs[i] = subprocess.Popen(
            [BIN, "node", "--id", "n%d" % i, "--listen", self.url(i),
             "--http", self.http(i), "--data-dir",
             os.path.join(self.dir, "d%d" % i), "--join", seeds, "--voter"]
            + self.tls_args(i) + self.node_args + list(extra), stdout=log,
            stderr=subprocess.STDOUT)

    def start_joiner(self, i, seeds, extra=(), tls=None, listen=None):
        """Start node i without --voter: it joins the running cluster
        through the members in `seeds` (indexes, or --join entries);
        `tls` replaces its --tls-* options, `listen` its URL."""
        log = open(os.path.join(self.dir, "n%d.log" % i), "ab")
        self.logs[i] = log
        self.procs[i] = subprocess.Popen(
            [BIN, "node", "--id", "n%d" % i, "--listen",
             listen or self.url(i),
             "--http", self.http(i), "--data-dir",
             os.path.join(self.dir, "d%d" % i), "--join",
             ",".join(j if isinstance(j, str) else self.url(j)
                      for j in seeds)]
            + (self.tls_args(i) if tls is None else tls)
            + self.node_args + list(extra),
            stdout=log, stderr=subprocess.STDOUT)

    def start_all(self):
        for i in range(self.n):
            self.start(i)

    def kill(self, i):
        p = self.procs.pop(i)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_all(self):
        for i, p in list(self.procs.items()):
            p.send_signal(signal.SIGTERM)
        for i, p in list(self.procs.items()):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = {}
        for log in self.logs.values():
            log.close()

    def get(self, i, path, timeout=5):
        """GET path from node i's API (HTTPS with TLS, the token when
        set); the body as text (OSError unless 200)."""
        if not (self.tls_dir and self.https):
            req = urllib.request.Request("http://%s%s" % (self.http(i),
                                                          path))
            if self.token:
                req.add_header("Authorization", "Bearer " + self.token)
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read().decode()
        # http.client, not urllib: urllib asks the server to close the
        # connection after its answer (docs/security.md, nng 1.5.2)
        st, text = https_call(self, i, "GET", path, self.token,
                              timeout=timeout)
        if st != 200:
            raise OSError("GET %s: HTTP %d %s" % (path, st, text))
        return text

    def status(self, i):
        """The /v1/status JSON of node i, or None when it does not answer."""
        try:
            return json.loads(self.get(i, "/v1/status"))
        except Exception:
            return None

    def cli(self):
        """Options of the client commands for this cluster."""
        out = []
        if self.tls_dir and self.https:
            out += ["--ca", os.path.join(self.tls_dir, "ca.crt")]
        if self.token:
            out += ["--token", self.token]
        return out

    def dump_logs(self):
        for i in range(self.n + 2):
            path = os.path.join(self.dir, "n%d.log" % i)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    sys.stderr.write("---- n%d.log (tail) ----\n" % i)
                    sys.stderr.write("".join(f.readlines()[-30:]))


def wait_for(what, cond, deadline=DEADLINE):
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        last = cond()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def agreed(cl, alive):
    """All nodes in `alive` answer, agree on one leader among them and on
    the map epoch; returns (leader name, epoch, statuses) or None."""
    sts = [cl.status(i) for i in alive]
    if any(s is None for s in sts):
        return None
    leaders = {s["leader"] for s in sts}
    epochs = {s["epoch"] for s in sts}
    if len(leaders) != 1 or "" in leaders or len(epochs) != 1:
        return None
    leader = leaders.pop()
    if leader not in {"n%d" % i for i in alive}:
        return None
    if sum(1 for s in sts if s["is_leader"]) != 1:
        return None
    return leader, epochs.pop(), sts


def run_cli(*args, check=True):
    r = subprocess.run([BIN] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("logstream %s failed (%d): %s %s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr))
    return r


TOPOLOGY = """name: wide
sources:
  - name: gen
    kind: generator
    rate: 100
stages:
  - name: parse
    kind: parse
    input: gen
    partitions: 4
  - name: w
    kind: window
    input: parse
    key: service
    partitions: 32
    size: 5s
sinks:
  - name: out
    kind: null
    input: w
"""
N_ACTORS = 1 + 4 + 32 + 1


def placed(cl, i, name, live_names, n_actors=N_ACTORS):
    """Status of node i once every actor of `name` has an owner and a
    standby on distinct live nodes."""
    s = cl.status(i)
    if s is None:
        return None
    a = [x for x in s["assignments"] if x["topology"] == name]
    if len(a) != n_actors:
        return None
    for x in a:
        if x["owner"] not in live_names or len(x["standbys"]) != 1:
            return None
        if x["standbys"][0] == x["owner"] or \
                x["standbys"][0] not in live_names:
            return None
    return s


def check_balance(s, live_names):
    owned = {n: 0 for n in live_names}
    for x in s["assignments"]:
        owned[x["owner"]] += 1
    total = sum(owned.values())
    avg = total / len(live_names)
    bound = -(-total * 5 // (4 * len(live_names)))  # ceil(1.25 * avg)
    print("owned per node: %s (avg %.1f, max/avg %.2f, bound %d)" % (
        owned, avg, max(owned.values()) / avg, bound))
    assert max(owned.values()) <= bound, owned
    assert min(owned.values()) > 0, owned
    return owned


def case_election(cl):
    cl.start_all()
    t0 = time.monotonic()
    leader, epoch, sts = wait_for("one agreed leader",
                                  lambda: agreed(cl, range(cl.n)))
    print("leader %s elected and agreed by all after %.2f s (epoch %d)" % (
        leader, time.monotonic() - t0, epoch))
    # every node is registered and alive in the replicated map
    def all_alive():
        r = agreed(cl, range(cl.n))
        if r is None:
            return None
        names = {n["name"]: n["state"] for n in r[2][0]["nodes"]}
        return r if names == {"n%d" % i: "alive" for i in range(cl.n)} \
            else None
    wait_for("all nodes alive in the map", all_alive)
    # the text status names the leader
    r = run_cli("status", "--node", cl.http(0))
    assert "leader " + leader in r.stdout, r.stdout
    for i in range(cl.n):
        assert ("n%d" % i) in r.stdout
    # Prometheus metrics on every node
    with urllib.request.urlopen("http://%s/metrics" % cl.http(1),
                                timeout=5) as m:
        text = m.read().decode()
    assert "logstream_cluster_map_epoch" in text, text


def case_failover(cl):
    cl.start_all()
    live = ["n%d" % i for i in range(cl.n)]
    leader, _, _ = wait_for("one agreed leader",
                            lambda: agreed(cl, range(cl.n)))
    wait_for("all registered", lambda: all(
        len(s["nodes"]) == cl.n for s in [cl.status(0)] if s))
    # deploy through a follower: the request is forwarded to the leader
    follower = next(i for i in range(cl.n) if "n%d" % i != leader)
    topo = os.path.join(cl.dir, "wide.yaml")
    with open(topo, "w") as f:
        f.write(TOPOLOGY)
    r = run_cli("deploy", topo, "--node", cl.http(follower))
    assert json.loads(r.stdout)["deployed"] == "wide", r.stdout
    s = wait_for("placement on all nodes",
                 lambda: placed(cl, follower, "wide", live))
    check_balance(s, live)
    epoch_before = s["epoch"]

    # kill -9 the leader
    li = int(leader[1:])
    cl.kill(li)
    t0 = time.monotonic()
    rest = [i for i in range(cl.n) if i != li]
    new_leader, epoch, _ = wait_for("a new leader",
                                    lambda: agreed(cl, rest))
    took = time.monotonic() - t0
    print("new leader %s after %.2f s (kill -9 of %s)" % (
        new_leader, took, leader))
    assert new_leader != leader
    assert epoch >= epoch_before
    # the map survived: topology still deployed; the dead node's
    # partitions move to the survivors
    live2 = ["n%d" % i for i in rest]
    s = wait_for("re-placement without the dead node",
                 lambda: placed(cl, rest[0], "wide", live2))
    assert "wide" in s["topologies"]
    states = {n["name"]: n["state"] for n in s["nodes"]}
    assert states[leader] == "dead", states
    check_balance(s, live2)
    # deploys still work
    with open(topo, "w") as f:
        f.write(TOPOLOGY.replace("name: wide", "name: wide2"))
    r = run_cli("deploy", topo, "--node", cl.http(rest[0]))
    assert json.loads(r.stdout)["deployed"] == "wide2"
    wait_for("second topology placed",
             lambda: placed(cl, rest[1], "wide2", live2))

    # the killed node restarts from its data dir and rejoins
    cl.start(li)
    wait_for("restarted node alive and caught up", lambda: (
        lambda r: r is not None and all(
            n["state"] == "alive" for n in r[2][0]["nodes"]) and r)(
        agreed(cl, range(cl.n))))
    s = cl.status(li)
    assert set(s["topologies"]) == {"wide", "wide2"}, s["topologies"]
    # undeploy
    run_cli("undeploy", "wide2", "--node", cl.http(li))
    wait_for("undeployed everywhere", lambda: all(
        st is not None and st["topologies"] == ["wide"]
        for st in (cl.status(i) for i in range(cl.n))))


def case_bad_input(cl):
    cl.start_all()
    wait_for("one agreed leader", lambda: agreed(cl, range(cl.n)))
    # an invalid topology is refused by the client with FILE:LINE:COL
    bad = os.path.join(cl.dir, "bad.yaml")
    with open(bad, "w") as f:
        f.write("name: bad\nsources:\n  - name: g\n    kind: nosuch\n")
    r = run_cli("deploy", bad, "--node", cl.http(0), check=False)
    assert r.returncode == 1 and bad + ":4:11:" in r.stderr, r.stderr
    # and by the server, with the problems listed (400)
    req = urllib.request.Request("http://%s/v1/topologies" % cl.http(1),
                                 data=b"name: [", method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("garbage topology accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400, e.code
        assert "problems" in json.loads(e.read())
    r = run_cli("undeploy", "nosuch", "--node", cl.http(2), check=False)
    assert r.returncode == 1
    # a heartbeat or join request with a garbage body (or in the old text
    # form) is refused by every node; each keeps serving
    bodies = [b"\xff\x00garbage",
              b"1\nn9\ntcp://127.0.0.1:1\n127.0.0.1:2\ni 00ff\nv\n",
              b"LSJOIN1\n1\nn9\ntcp://127.0.0.1:1\n127.0.0.1:2\n"
              b"127.0.0.1:3\nff\n"]
    for i in range(cl.n):
        for path in ("heartbeat", "join"):
            for body in bodies:
                req = urllib.request.Request(
                    "http://%s/v1/internal/%s" % (cl.http(i), path),
                    data=body, method="POST")
                try:
                    urllib.request.urlopen(req, timeout=10)
                    raise AssertionError("garbage %s accepted" % path)
                except urllib.error.HTTPError as e:
                    assert e.code in (400, 409), e.code
        assert cl.status(i) is not None

    def logged(what):
        for i in range(cl.n):
            with open(os.path.join(cl.dir, "n%d.log" % i), "rb") as f:
                if what in f.read():
                    return True
        return False
    # the leader says what it dropped
    wait_for("dropped heartbeat logged",
             lambda: logged(b"bad heartbeat dropped"))
    wait_for("dropped join request logged",
             lambda: logged(b"bad join request dropped"))
    # a node refuses a data dir that belongs to another node
    r = subprocess.run(
        [BIN, "node", "--id", "other", "--listen",
         "tcp://127.0.0.1:%d" % (cl.base + 50),
         "--http", "127.0.0.1:1", "--data-dir", os.path.join(cl.dir, "d0"),
         "--voter"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, timeout=30)
    assert r.returncode != 0 and "belongs to node 'n0'" in r.stderr, r.stderr


DIST_TOPOLOGY = """name: dist
settings:
  watermark_delay: 1s
  checkpoint_interval: 300ms
sources:
  - name: gen
    kind: generator
    rate: %(rate)d
    seed: 11
    count: %(count)d
    start: 2024-01-01T00:00:00Z
    format: json
stages:
  - name: parse
    kind: parse
    input: gen
    format: json
    partitions: 4
  - name: per_service
    kind: window
    input: parse
    key: service
    partitions: 32
    size: 1s
    aggregates: [count, sum(bytes), max(latency_ms)]
sinks:
  - name: out
    kind: jsonl
    input: per_service
    path: %(path)s
"""


def all_alive(cl):
    r = agreed(cl, range(cl.n))
    if r is None:
        return None
    names = {n["name"]: n["state"] for n in r[2][0]["nodes"]}
    return r if names == {"n%d" % i: "alive" for i in range(cl.n)} else None


# Regional restore is the default (docs/failure-semantics.md, "Regional
# restore"); the *_global cases run the same cases with
# `regional_restore: false`.
REGIONAL = True


def dist_files(cl, count, rate, parse_partitions=4):
    """Write the cluster topology and its single-node reference twin;
    return (cluster yaml, output dir of its parts, reference lines)."""
    out = os.path.join(cl.dir, "results.jsonl")
    ref = os.path.join(cl.dir, "reference.jsonl")
    ypath = os.path.join(cl.dir, "dist.yaml")
    rpath = os.path.join(cl.dir, "reference.yaml")
    with open(ypath, "w") as f:
        text = DIST_TOPOLOGY % {"rate": rate, "count": count, "path": out}
        text = text.replace("partitions: 4\n",
                            "partitions: %d\n" % parse_partitions, 1)
        if not REGIONAL:
            text = text.replace("settings:\n",
                                "settings:\n  regional_restore: false\n", 1)
        f.write(text)
    with open(rpath, "w") as f:
        # the same rate: it also sets the spacing of event times
        f.write(DIST_TOPOLOGY % {"rate": rate, "count": count, "path": ref})
    run_cli("run", rpath, "--quiet")
    with open(ref) as f:
        lines = sorted(f.read().splitlines())
    assert len(lines) > 20, "reference run produced too little"
    return ypath, out + ".d", lines


def cluster_output(d):
    lines = []
    if os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            if name.endswith(".jsonl"):
                with open(os.path.join(d, name)) as f:
                    lines.extend(f.read().splitlines())
    return sorted(lines)


def run_finished(cl, alive):
    """The final checkpoint is complete (map) and every node's run of the
    current epoch has written its committed output (local sinks done)."""
    sts = [cl.status(i) for i in alive]
    if not all(s and s.get("runs") for s in sts):
        return None
    run = sts[0]["runs"][0]
    if not run["finished"]:
        return None
    for s in sts:
        loc = s.get("local_runs") or []
        if not loc or loc[0]["run_epoch"] != run["run_epoch"] or \
                not loc[0]["finished"]:
            return None
    return run


def stage_counter(cl, i, metric, stage):
    for line in cl.get(i, "/metrics").splitlines():
            if line.startswith(metric + "{") and \
                    ('stage="%s"' % stage) in line:
                return int(float(line.rsplit(" ", 1)[1]))
    return 0


def labelled(cl, i, metric, label):
    """The value of metric{...label...} on node i's /metrics (None when
    absent)."""
    for line in cl.get(i, "/metrics").splitlines():
        if line.startswith(metric + "{") and label in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return None


def node_counter(cl, i, metric):
    """A counter without labels from node i's /metrics (0 when absent)."""
    for line in cl.get(i, "/metrics").splitlines():
            if line.startswith(metric + " "):
                return int(float(line.rsplit(" ", 1)[1]))
    return 0


def inbound_counters(cl, nodes):
    """Per node: inbound messages held for a full mailbox, envelopes held
    for an epoch not yet run, credit pauses (informational: whether the
    data plane's non-blocking receive paths were taken depends on timing)."""
    out = []
    for i in nodes:
        vals = []
        for metric in ("logstream_inbound_held_total",
                       "logstream_inbound_early_total",
                       "logstream_inbound_pauses_total"):
            v = 0
            try:
                for line in cl.get(i, "/metrics").splitlines():
                    if line.startswith(metric + " ") or \
                            line.startswith(metric + "{"):
                        v = int(float(line.rsplit(" ", 1)[1]))
            except OSError:
                pass
            vals.append(v)
        out.append(tuple(vals))
    return out


def compare(got, want):
    ids = [json.loads(l)["id"] for l in got]
    dup = len(ids) - len(set(ids))
    assert dup == 0, "%d duplicated results" % dup
    missing = set(want) - set(got)
    extra = set(got) - set(want)
    assert not missing and not extra, \
        "%d results missing, %d wrong or extra" % (len(missing), len(extra))


def case_dataflow(cl):
    """32 window partitions over 3 nodes: events generated on one node
    reach partitions on all three; the committed results equal a
    single-node run of the same seeded input."""
    ypath, parts, want = dist_files(cl, 60000, 30000)
    cl.start_all()
    wait_for("all nodes alive", lambda: all_alive(cl))
    run_cli("deploy", ypath, "--node", cl.http(1))
    t0 = time.monotonic()
    wait_for("the run to finish", lambda: run_finished(cl, range(cl.n)),
             120)
    print("finished after %.2f s" % (time.monotonic() - t0))
    gen = [stage_counter(cl, i, "logstream_events_in_total", "gen")
           for i in range(cl.n)]
    win = [stage_counter(cl, i, "logstream_events_in_total", "per_service")
           for i in range(cl.n)]
    print("generated per node %s, window input per node %s" % (gen, win))
    prs = [stage_counter(cl, i, "logstream_events_in_total", "parse")
           for i in range(cl.n)]
    print("parse input per node %s" % prs)
    # one node generates (a placement change while nodes register may
    # replay from a checkpoint, so counters can exceed the input); every
    # node's partitions get events; windows (keyed by service, few keys)
    # run on more than one node
    assert sorted(gen)[:2] == [0, 0] and max(gen) >= 60000, gen
    assert all(p + w > 0 for p, w in zip(prs, win)), (prs, win)
    assert sum(1 for w in win if w > 0) >= 2 and sum(win) >= 60000, win
    print("inbound (held, early, pauses) per node %s" %
          inbound_counters(cl, range(cl.n)))
    got = cluster_output(parts)
    compare(got, want)
    print("%d results equal the single-node run" % len(got))


def owners(s, name):
    return {x["partition"]: x["owner"] for x in s["assignments"]
            if x["topology"] == name}


def node_states(s):
    return {x["name"]: (x["state"], x["voter"]) for x in s["nodes"]}


def first_checkpoint(cl, i):
    s = cl.status(i)
    return s if s and s.get("runs") and s["runs"][0]["checkpoint"] else None


def new_run_checkpointed(cl, nodes, epoch0):
    """A checkpoint of a run later than epoch0 completed (map of a node in
    nodes); returns that run."""
    for i in nodes:
        s = cl.status(i)
        if s and s.get("runs"):
            r = s["runs"][0]
            if r["run_epoch"] > epoch0 and \
                    r.get("checkpoint_epoch") == r["run_epoch"]:
                return r
    return None


def case_kill_owner(cl):
    """kill -9 a node that owns partitions while the topology runs: the
    survivors restart from the last checkpoint and the results still equal
    a failure-free run -- nothing lost, nothing twice."""
    ypath, parts, want = dist_files(cl, 160000, 20000)
    cl.start_all()
    leader, _, _ = wait_for("all nodes alive", lambda: all_alive(cl))
    run_cli("deploy", ypath, "--node", cl.http(0), *cl.cli())
    def ckpt_done():
        s = cl.status(0)
        return s if s and s.get("runs") and s["runs"][0]["checkpoint"] \
            else None
    first = wait_for("a first completed checkpoint", ckpt_done)
    epoch0 = first["runs"][0]["run_epoch"]
    victim = next(i for i in range(cl.n) if "n%d" % i != leader)
    survivors = [i for i in range(cl.n) if i != victim]
    cl.kill(victim)
    t0 = time.monotonic()
    wait_for("a checkpoint of the new run",
             lambda: new_run_checkpointed(cl, survivors, epoch0))
    print("n%d killed; first checkpoint of the new run %.2f s later" % (
        victim, time.monotonic() - t0))
    wait_for("the run to finish", lambda: run_finished(cl, survivors), 180)
    got = cluster_output(parts)
    compare(got, want)
    print("%d results equal the failure-free run" % len(got))
    # the failover and the checkpoints in /metrics (docs/operations.md)
    li = int(wait_for("an agreed leader",
                      lambda: agreed(cl, survivors))[0][1:])
    fails = labelled(cl, li, "logstream_node_failures_total",
                     'node="n%d"' % li)
    assert fails is not None and fails >= 1, \
        "the leader counted no failed node (%r)" % fails
    for i in survivors:
        done = labelled(cl, i, "logstream_checkpoints_completed_total",
                        'topology="dist"')
        ms = labelled(cl, i, "logstream_checkpoint_duration_ms",
                      'topology="dist"')
        at = labelled(cl, i, "logstream_checkpoint_completed_unixtime_ms",
                      'topology="dist"')
        assert done is not None and done >= 2, (i, done)
        assert ms is not None and 0 <= ms < 60000, (i, ms)
        assert at is not None and abs(at / 1000.0 - time.time()) < 600, \
            (i, at)
        print("n%d: %d checkpoints, last %d ms" % (i, done, ms))
    assert any(labelled(cl, i, "logstream_checkpoint_bytes_total",
                        'topology="dist"') for i in survivors), \
        "no checkpoint bytes counted"


def case_finished_kill(cl):
    """kill -9 of the leader after a bounded topology has finished: the
    partitions are restored from the final checkpoint, and again when it
    returns; the run is finished again with the same output, and no
    node fails to save a final state it was restored from."""
    ypath, parts, want = dist_files(cl, 4000, 2000)
    cl.start_all()
    leader, _, _ = wait_for("all nodes alive", lambda: all_alive(cl))
    run_cli("deploy", ypath, "--node", cl.http(0), *cl.cli())
    wait_for("the run to finish", lambda: run_finished(cl, range(cl.n)), 120)
    victim = int(leader[1:])  # the leader: every partition restores
    cl.kill(victim)
    survivors = [i for i in range(cl.n) if i != victim]
    wait_for("n%d dead" % victim, lambda: node_states(
        cl.status(survivors[0]) or {"nodes": []}).get(
            "n%d" % victim, ("",))[0] == "dead")
    r0 = wait_for("the survivors' run finished", lambda: run_finished(
        cl, survivors), 120)
    cl.start(victim)
    wait_for("all nodes alive again", lambda: all_alive(cl))
    r = wait_for("the run finished again", lambda: (
        lambda x: x if x and x["run_epoch"] > r0["run_epoch"] else None)(
            run_finished(cl, range(cl.n))), 120)
    compare(cluster_output(parts), want)
    for i in range(cl.n):
        with open(os.path.join(cl.dir, "n%d.log" % i), errors="replace") as f:
            bad = [ln for ln in f if "cannot save state" in ln]
        assert not bad, "n%d: %s" % (i, bad[0])
    print("finished again in run epoch %d, output unchanged" % r["run_epoch"])


def case_join(cl):
    """A 4th node (not a voter) joins the running cluster through one seed:
    it receives the map, takes over close to 1/4 of the partitions (the
    fraction moved and max/avg are printed and checked), and the results
    stay exactly those of a single-node run across the move."""
    ypath, parts, want = dist_files(cl, 200000, 10000)
    cl.start_all()
    leader, _, _ = wait_for("all nodes alive", lambda: all_alive(cl))
    run_cli("deploy", ypath, "--node", cl.http(0))
    first = wait_for("a first completed checkpoint",
                     lambda: first_checkpoint(cl, 0))
    epoch0 = first["runs"][0]["run_epoch"]
    before = owners(first, "dist")
    seed = next(i for i in range(cl.n) if "n%d" % i != leader)
    cl.start_joiner(3, [seed])
    t0 = time.monotonic()
    names4 = {"n0", "n1", "n2", "n3"}

    def joined():
        s = cl.status(3)
        if s is None or node_states(s).get("n3") != ("alive", False):
            return None
        o = owners(s, "dist")
        return s if len(o) == len(before) and "n3" in o.values() and \
            set(o.values()) <= names4 else None
    s = wait_for("n3 to join and hold partitions", joined)
    print("n3 joined through n%d and holds partitions after %.2f s" % (
        seed, time.monotonic() - t0))
    after = owners(s, "dist")
    moved = sum(1 for p in before if before[p] != after[p])
    to_new = sum(1 for p in before
                 if before[p] != after[p] and after[p] == "n3")
    frac = moved / len(before)
    print("moved %d of %d partitions (%.1f%%, ideal %.1f%%), %d of them "
          "to n3" % (moved, len(before), 100 * frac, 100 / 4, to_new))
    owned = {n: 0 for n in names4}
    for o in after.values():
        owned[o] += 1
    avg = len(after) / 4
    bound = -(-len(after) * 5 // 16)  # ceil(1.25 * avg)
    print("owned per node: %s (avg %.1f, max/avg %.2f, bound %d)" % (
        owned, avg, max(owned.values()) / avg, bound))
    assert max(owned.values()) <= bound, owned
    assert owned["n3"] > 0, owned
    assert frac <= 0.5, "a join moved %.0f%% of the partitions" % (
        100 * frac)
    st = [cl.status(i) for i in range(4)]
    assert len({x["epoch"] for x in st if x}) >= 1
    # the 4th node runs its partitions in a run that has checkpointed
    wait_for("a checkpoint of the run with n3",
             lambda: new_run_checkpointed(cl, [0, 3], epoch0), 90)

    def n3_runs():
        s = cl.status(3)
        loc = (s or {}).get("local_runs") or []
        return loc and loc[0]["local_actors"] > 0
    wait_for("n3 running local actors", n3_runs)
    print("n3 voter=%s, nodes: %s" % (cl.status(3)["voter"],
                                      node_states(cl.status(3))))
    wait_for("the run to finish", lambda: run_finished(cl, range(4)), 240)
    print("inbound (held, early, pauses) per node %s" %
          inbound_counters(cl, range(4)))
    if REGIONAL:
        check_regional_join(cl, before, after)
    got = cluster_output(parts)
    compare(got, want)
    print("%d results equal the single-node run" % len(got))


def check_regional_join(cl, before, after):
    # partition-local: the join restarted the moved partitions and what
    # they feed on the three running nodes, never a whole run there
    restarts = [node_counter(cl, i, "logstream_run_restarts_total")
                for i in range(3)]
    regional = [node_counter(cl, i, "logstream_regional_restores_total")
                for i in range(3)]
    print("run restarts %s, regional restores %s" % (restarts, regional))
    assert restarts == [0, 0, 0], restarts
    assert all(r >= 1 for r in regional), regional
    if before.get("gen/0") == after.get("gen/0"):
        # the source did not move: it was never rewound, every event was
        # produced once
        produced = sum(stage_counter(cl, i, "logstream_events_in_total",
                                     "gen") for i in range(4))
        print("gen/0 stayed on %s and produced %d events" % (
            after["gen/0"], produced))
        assert produced == 200000, produced


def case_leave(cl):
    """A node leaves gracefully (`logstream leave`): only its partitions
    move, its process exits once they run elsewhere with a checkpoint, and
    the results equal a single-node run.  Restarted, it rejoins and gets
    partitions again."""
    ypath, parts, want = dist_files(cl, 200000, 10000)
    cl.start_all()
    wait_for("all nodes alive", lambda: all_alive(cl))
    cl.start_joiner(3, [0, 1])
    wait_for("n3 to join", lambda: node_states(cl.status(3) or
                                               {"nodes": []}).get("n3")
             == ("alive", False))
    run_cli("deploy", ypath, "--node", cl.http(3))
    names4 = {"n0", "n1", "n2", "n3"}
    s = wait_for("placement on four nodes",
                 lambda: placed(cl, 0, "dist", names4) and
                 first_checkpoint(cl, 0))
    before = owners(s, "dist")
    assert "n3" in before.values(), before
    epoch0 = s["runs"][0]["run_epoch"]
    t0 = time.monotonic()
    r = run_cli("leave", "--node", cl.http(3))
    print("logstream leave returned after %.2f s: %s" % (
        time.monotonic() - t0, r.stderr.strip().splitlines()[-1]))
    p = cl.procs.pop(3)
    p.wait(timeout=60)  # the node exits by itself
    print("n3 process exited with %d" % p.returncode)
    assert p.returncode == 0, p.returncode
    s = cl.status(0)
    assert node_states(s)["n3"] == ("left", False), node_states(s)
    after = owners(s, "dist")
    mine = [q for q in before if before[q] == "n3"]
    others = [q for q in before if before[q] != "n3"]
    stayed = sum(1 for q in others if after[q] == before[q])
    print("n3 owned %d partitions; %d of the other %d kept their owner" % (
        len(mine), stayed, len(others)))
    assert all(after[q] != "n3" for q in before)
    assert stayed == len(others), (stayed, len(others))
    assert new_run_checkpointed(cl, [0], epoch0), \
        "the node left before the new run had a checkpoint"
    wait_for("the run to finish", lambda: run_finished(cl, range(3)), 240)
    got = cluster_output(parts)
    compare(got, want)
    print("%d results equal the single-node run" % len(got))
    # back again: it rejoins and load spreads back
    cl.start_joiner(3, [0])

    def back():
        s = cl.status(0)
        return s and node_states(s).get("n3") == ("alive", False) and \
            "n3" in owners(s, "dist").values()
    wait_for("n3 to rejoin and hold partitions", back)
    print("n3 rejoined and holds partitions again")


def assignments(s, name):
    return {x["partition"]: x for x in s["assignments"]
            if x["topology"] == name}


def case_standby_moves(cl):
    """Regional restore: a node's death leaves running the partitions it
    only stood by for (their incarnation does not change: only their
    standbys do), and their owners ship the whole state to the new standby,
    which holds no copy yet.  Then such an owner dies too: the new standby
    restores the partition from what it was sent, and the results equal a
    single-node run (a standby sent only changes could not restore it, and
    nothing would finish)."""
    # upstream of every window partition: gen/0 and parse/0 only
    ypath, parts, want = dist_files(cl, 200000, 10000, parse_partitions=1)
    cl.start_all()
    leader, _, _ = wait_for("all nodes alive", lambda: all_alive(cl))
    cl.start_joiner(3, [0, 1])
    cl.start_joiner(4, [0, 1])
    names = {"n%d" % i for i in range(5)}
    voters = {"n0", "n1", "n2"}
    wait_for("n3 and n4 to join",
             lambda: all(node_states(cl.status(0) or {"nodes": []}).get(n)
                         == ("alive", False) for n in ("n3", "n4")))
    run_cli("deploy", ypath, "--node", cl.http(0))
    s = wait_for("placement on five nodes",
                 lambda: placed(cl, 0, "dist", names, N_ACTORS - 3) and
                 first_checkpoint(cl, 0))
    epoch0 = s["runs"][0]["run_epoch"]
    before = assignments(s, "dist")
    up = {before["gen/0"]["owner"], before["parse/0"]["owner"]}
    # v1 dies first: not the leader, owns nothing upstream; P is a window
    # partition v1 stands by for, owned by v2 (not the leader); at most
    # one voter among the two keeps a quorum
    pick = None
    for v1 in sorted(names - {leader} - up):
        for p, a in sorted(before.items()):
            v2 = a["owner"]
            if p.startswith("per_service/") and v1 in a["standbys"] and \
                    v2 not in (leader, v1) and \
                    len({v1, v2} & voters) <= 1:
                pick = (v1, v2)
                break
        if pick:
            break
    assert pick, "no node pair to kill in this placement: %s" % before
    v1, v2 = pick
    print("kill %s (standby of partitions of %s), then %s" % (v1, v2, v2))
    cl.kill(int(v1[1:]))
    left = [i for i in range(5) if "n%d" % i != v1]

    def moved():
        s = cl.status(left[0])
        if s is None:
            return None
        a = assignments(s, "dist")
        return s if a and all(v1 != x["owner"] and v1 not in x["standbys"]
                              for x in a.values()) else None
    s = wait_for("the placement without %s" % v1, moved)
    after = assignments(s, "dist")
    # partitions of v2 that kept their owner and upstream and got a new
    # standby in place of v1: not restarted
    kept = [p for p, a in after.items()
            if p.startswith("per_service/") and a["owner"] == v2 and
            before[p]["owner"] == v2 and v1 in before[p]["standbys"] and
            a["owner_epoch"] == before[p]["owner_epoch"]]
    assert kept, (before, after)
    for p in ("gen/0", "parse/0"):
        assert after[p]["owner_epoch"] == before[p]["owner_epoch"], p
    print("%d partitions of %s only changed standbys: %s" % (
        len(kept), v2, ", ".join("%s -> %s" % (p, after[p]["standbys"])
                                 for p in kept)))
    r = wait_for("a checkpoint after the standby change",
                 lambda: new_run_checkpointed(cl, left, epoch0))
    epoch1 = r["run_epoch"]
    assert not r.get("final"), "the run ended before %s died" % v2
    cl.kill(int(v2[1:]))
    left = [i for i in left if "n%d" % i != v2]
    wait_for("a checkpoint after %s died" % v2,
             lambda: new_run_checkpointed(cl, left, epoch1))
    wait_for("the run to finish", lambda: run_finished(cl, left), 240)
    got = cluster_output(parts)
    compare(got, want)
    print("%d results equal the single-node run" % len(got))


def refused(sock_port):
    """True when nothing listens on 127.0.0.1:sock_port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", sock_port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def case_same_seeds(cl):
    """Every voter gets the same --join list, its own URL included (and
    one entry twice), as etcd and Consul are set up: each skips itself and
    the repeat, the three elect a leader, and a deployed topology's
    committed results equal a single-node run."""
    ypath, parts, want = dist_files(cl, 60000, 30000)
    seeds = ",".join([cl.url(j) for j in range(cl.n)] + [cl.url(0)])
    for i in range(cl.n):
        cl.start(i, seeds=seeds)
    t0 = time.monotonic()
    leader, _, sts = wait_for("all nodes alive", lambda: all_alive(cl))
    print("leader %s, all alive after %.2f s with one seed list %s" % (
        leader, time.monotonic() - t0, seeds))
    assert all(s["voter"] for s in sts), [s["voter"] for s in sts]
    run_cli("deploy", ypath, "--node", cl.http(2))
    wait_for("the run to finish", lambda: run_finished(cl, range(cl.n)),
             120)
    compare(cluster_output(parts), want)
    print("%d results equal the single-node run" % len(want))


def case_raft_listen(cl):
    """Raft addresses off the default (listen port + 100): voter n2 runs
    Raft on --raft-listen and the others know it from URL?raft=ADDR in
    their --join lists; joiner n3 also has its own --raft-listen.  The
    cluster forms, nothing listens on the default ports of those two, n3
    receives the replicated map and takes over partitions."""
    raft2 = "127.0.0.1:%d" % (cl.base + 300 + 2)
    raft3 = "127.0.0.1:%d" % (cl.base + 300 + 3)
    seeds = ",".join([cl.url(0), cl.url(1), cl.url(2) + "?raft=" + raft2])
    for i in range(cl.n):
        extra = ["--raft-listen", raft2] if i == 2 else []
        cl.start(i, seeds=seeds, extra=extra)
    wait_for("all nodes alive", lambda: all_alive(cl))
    assert refused(cl.base + 100 + 2), "n2 listens on the default port"
    assert not refused(cl.base + 300 + 2), "n2 not on its --raft-listen"
    cl.start_joiner(3, [cl.url(2) + "?raft=" + raft2],
                    extra=["--raft-listen", raft3])
    wait_for("n3 to join", lambda: node_states(
        cl.status(3) or {"nodes": []}).get("n3") == ("alive", False))
    assert refused(cl.base + 100 + 3), "n3 listens on the default port"
    topo = os.path.join(cl.dir, "wide.yaml")
    with open(topo, "w") as f:
        f.write(TOPOLOGY)
    run_cli("deploy", topo, "--node", cl.http(0))
    names4 = {"n0", "n1", "n2", "n3"}
    # n3's own map (replicated to it over Raft at raft3) has the placement
    s = wait_for("placement on four nodes, seen by n3",
                 lambda: placed(cl, 3, "wide", names4))
    assert "n3" in owners(s, "wide").values(), owners(s, "wide")
    print("n3 joined with Raft on %s and holds partitions" % raft3)


def case_bad_args(cl):
    """Start-up errors of `logstream node` name the flag and the value,
    exit non-zero, and leave no data directory behind."""
    d = os.path.join(cl.dir, "never")
    base = [BIN, "node", "--id", "x", "--listen", cl.url(0), "--http",
            cl.http(0), "--data-dir", d, "--voter"]
    for extra, words in (
            (["--join", "127.0.0.1:%d" % (cl.base + 1)],
             ["--join", "127.0.0.1:%d" % (cl.base + 1), "tcp://"]),
            (["--join", "tcp://127.0.0.1:%d,tcp://:x" % (cl.base + 1)],
             ["--join", "tcp://:x"]),
            (["--join", "tcp://127.0.0.1:%d?port=3" % (cl.base + 1)],
             ["--join", "port=3"]),
            (["--join", "tcp://127.0.0.1:%d?raft=nohost" % (cl.base + 1)],
             ["--join", "nohost"]),
            (["--raft-listen", "127.0.0.1"],
             ["--raft-listen", "127.0.0.1"]),
            (["--raft-listen", "127.0.0.1:70000"],
             ["--raft-listen", "70000"]),
            (["--raft-listen", "127.0.0.1:%d" % (cl.base + 102),
              "--join", cl.url(0)],
             ["--join", cl.url(0), "127.0.0.1:%d" % (cl.base + 102)]),
            (["--replicas", "two"], ["--replicas", "two"])):
        r = subprocess.run(base + extra, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        print("%s -> %d: %s" % (" ".join(extra), r.returncode,
                                r.stderr.strip()))
        assert r.returncode != 0, (extra, r.returncode)
        assert "invalid argument" not in r.stderr, r.stderr
        for w in words:
            assert w in r.stderr, (extra, w, r.stderr)
        assert not os.path.exists(d), "%s created for %s" % (d, extra)
    # the help states the option and its default
    r = run_cli("node", "--help")
    assert "--raft-listen" in r.stdout and "port + 100" in r.stdout, \
        r.stdout
    assert "?raft=" in r.stdout, r.stdout


CASES = {
    "election": case_election,
    "failover": case_failover,
    "bad_input": case_bad_input,
    "dataflow": case_dataflow,
    "kill_owner": case_kill_owner,
    "join": case_join,
    "leave": case_leave,
    "same_seeds": case_same_seeds,
    "raft_listen": case_raft_listen,
    "bad_args": case_bad_args,
    "standby_moves": case_standby_moves,
}


def global_restore(case):
    def run(cl):
        global REGIONAL
        REGIONAL = False
        case(cl)
    return run


for _name in ("kill_owner", "join", "leave"):
    CASES[_name + "_global"] = global_restore(CASES[_name])


def case_kill_owner_sliced(cl):
    """kill_owner with checkpoint states sent to standbys in slices of 1 KiB
    (--replication-chunk): the standbys put them together, the restore
    after the kill uses them, and the results equal a failure-free run."""
    cl.node_args = ["--replication-chunk", "1024"]
    case_kill_owner(cl)
    live = [i for i in range(cl.n) if i in cl.procs]
    sent = sum(node_counter(cl, i, "logstream_checkpoint_slices_sent_total")
               for i in live)
    print("slices sent by the survivors: %d" % sent)
    assert sent > 0, sent


CASES["kill_owner_sliced"] = case_kill_owner_sliced


def case_tls_kill_owner(cl):
    """kill_owner on a cluster with mutual TLS between the nodes (a CA
    and node certificates from `logstream certs`, tls+tcp:// URLs): the
    results still equal a failure-free run."""
    cl.enable_tls(range(cl.n))
    case_kill_owner(cl)
    s = cl.status(next(iter(cl.procs)))
    urls = {x["name"]: x["url"] for x in s["nodes"]}
    print("node URLs in the map: %s" % urls)
    assert all(u.startswith("tls+tcp://") for u in urls.values()), urls


def tls_handshake(port, ca, cert=None, key=None):
    """A TLS handshake with 127.0.0.1:port as a client (certificate cert
    when given); None when it succeeds, else the reason."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(cert, key)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        t = ctx.wrap_socket(s)
        try:
            # a server that refuses the client certificate says so after
            # the client's part of a TLS 1.2 handshake; one that takes it
            # answers with its SP (nng) header
            t.settimeout(10)
            got = t.recv(4)
        except (ssl.SSLError, OSError) as e:
            return str(e)
        finally:
            t.close()
        return None if got == b"\x00SP\x00" else "answered %r" % got
    except (ssl.SSLError, OSError) as e:
        s.close()
        return str(e)


def plaintext_refused(port):
    """An SP (nng) handshake in plain TCP to 127.0.0.1:port: the bytes
    the peer answers before it closes (a TLS listener never answers with
    an SP header)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    got = b""
    try:
        s.sendall(b"\x00SP\x00\x00\x50\x00\x00")  # push0
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError:
        pass
    finally:
        s.close()
    return got


def case_tls_refused(cl):
    """A TLS cluster refuses what is not signed by its CA or not TLS:
    a node with a certificate of another CA never joins (while a node
    with a good one, started after it, does), the transport listener
    fails a TLS handshake without a certificate of the CA, a plaintext
    SP handshake gets no answer, and start-up checks name the option or
    file at fault."""
    cl.enable_tls()
    evil = os.path.join(cl.dir, "evil")
    run_cli("certs", "init", "--dir", evil)
    run_cli("certs", "issue", "--dir", evil, "--name", "n3", "--host",
            "127.0.0.1")
    ca = os.path.join(cl.tls_dir, "ca.crt")
    cl.start_all()
    wait_for("all nodes alive", lambda: all_alive(cl))
    port0 = cl.base + 0

    # the transport listener: the CA's certificate passes, another CA's
    # and none do not; plain TCP gets no SP answer
    ok = tls_handshake(port0, ca, os.path.join(cl.tls_dir, "n4.crt"),
                       os.path.join(cl.tls_dir, "n4.key"))
    assert ok is None, ok
    bad = tls_handshake(port0, ca, os.path.join(evil, "n3.crt"),
                        os.path.join(evil, "n3.key"))
    print("another CA's certificate: %s" % bad)
    assert bad is not None
    none = tls_handshake(port0, ca)
    print("no certificate: %s" % none)
    assert none is not None
    got = plaintext_refused(port0)
    print("plaintext SP handshake answered with %r" % got[:16])
    assert not got.startswith(b"\x00SP\x00"), got

    # n3 (another CA) asks to join first, then n4 (the cluster's CA)
    cl.start_joiner(3, [0, 1], tls=cl.tls_args(3, evil))
    cl.start_joiner(4, [0, 1])
    wait_for("n4 to join", lambda: node_states(
        cl.status(0) or {"nodes": []}).get("n4") == ("alive", False))
    # n3 has said hello as long (and as often) as n4 did
    time.sleep(2.0)
    names = set(node_states(cl.status(0)).keys())
    print("members: %s" % sorted(names))
    assert "n3" not in names, names
    assert cl.procs[3].poll() is None, "n3 exited instead of retrying"

    # start-up checks: the TLS options go together, files are named,
    # URL schemes must agree
    d = os.path.join(cl.dir, "never")
    base = [BIN, "node", "--id", "n2", "--http", cl.http(2), "--data-dir",
            d, "--voter"]
    key = os.path.join(cl.tls_dir, "n2.key")
    for extra, words in (
            (["--listen", cl.url(2), "--tls-ca", ca],
             ["--tls-cert", "go together"]),
            (["--listen", cl.url(2)] + cl.tls_args(2)[:4] +
             ["--tls-key", key + ".missing"],
             [key + ".missing"]),
            (["--listen", cl.url(2)] + cl.tls_args(2)[:2] +
             ["--tls-cert", os.path.join(evil, "n3.crt"), "--tls-key",
              os.path.join(evil, "n3.key")],
             ["n3.crt", "does not verify"]),
            (["--listen", "tcp://127.0.0.1:%d" % (cl.base + 2)] +
             cl.tls_args(2), ["--listen", "tls+tcp://"]),
            (["--listen", cl.url(2)], ["--listen", "--tls-ca"]),
            (["--listen", cl.url(2), "--join",
              "tcp://127.0.0.1:%d" % cl.base] + cl.tls_args(2),
             ["--join", "plaintext"]),
            (["--listen", "tcp://127.0.0.1:%d" % (cl.base + 2), "--join",
              cl.url(0)], ["--join", "TLS"])):
        r = subprocess.run(base + extra, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
        print("%s -> %d: %s" % (" ".join(extra[2:]), r.returncode,
                                r.stderr.strip()))
        assert r.returncode != 0, (extra, r.returncode)
        for w in words:
            assert w in r.stderr, (extra, w, r.stderr)
        assert not os.path.exists(d), "%s created for %s" % (d, extra)


def raft_port(cl, i):
    return cl.base + 100 + i


def raft_preamble(raft_id, address):
    """The preamble libraft's TCP transport opens a connection with
    (cluster/raft_tls.h): protocol 1, the id, the NUL-padded address."""
    a = address.encode() + b"\0"
    a += b"\0" * (-len(a) % 8)
    return struct.pack("<QQQ", 1, raft_id, len(a)) + a


def raft_tls_client(port, ca, cert=None, key=None):
    """A TLS client of the Raft port 127.0.0.1:port that checks the
    server's certificate against ca and for the name 127.0.0.1, with a
    client certificate when given: (None, TLS socket) after a handshake,
    else (reason, None)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        return None, ctx.wrap_socket(s, server_hostname="127.0.0.1")
    except (ssl.SSLError, OSError) as e:
        s.close()
        return str(e), None


def closed_within(sock, seconds):
    """Read from sock until the peer closes it: (True, bytes read) when it
    did within `seconds`, (False, bytes) when it is still open."""
    sock.settimeout(seconds)
    got = b""
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            b = sock.recv(4096)
            if not b:
                return True, got
            got += b
    except socket.timeout:
        return False, got
    except (ssl.SSLError, OSError):
        return True, got  # an alert, a reset
    return False, got


def other_ca(cl, name):
    """A second CA in DIR/evil with a certificate `name` for 127.0.0.1;
    returns its folder."""
    evil = os.path.join(cl.dir, "evil")
    run_cli("certs", "init", "--dir", evil)
    run_cli("certs", "issue", "--dir", evil, "--name", name, "--host",
            "127.0.0.1")
    return evil


def raft_refused_metric(cl, i):
    """logstream_raft_refused_total of node i."""
    for line in cl.get(i, "/metrics").splitlines():
        if line.startswith("logstream_raft_refused_total{"):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def raft_refusals(cl, i):
    """The Raft refusal records in node i's log."""
    with open(os.path.join(cl.dir, "n%d.log" % i), errors="replace") as f:
        return [l for l in f if "Raft connection refused" in l]


def case_tls_raft(cl):
    """A cluster with TLS runs Raft over mutual TLS: three nodes elect a
    leader and run a topology to the same results as a single node; each
    node's Raft port completes a TLS handshake whose server certificate
    (of the cluster CA) names 127.0.0.1, given a node certificate of the
    CA, and then keeps a connection that sent a Raft preamble (libraft
    took it); no node refused a Raft connection of another."""
    cl.enable_tls(range(cl.n + 1))
    ca = os.path.join(cl.tls_dir, "ca.crt")
    ypath, parts, want = dist_files(cl, 60000, 30000)
    cl.start_all()
    leader, _, _ = wait_for("one agreed leader",
                            lambda: agreed(cl, range(cl.n)))
    wait_for("all nodes alive", lambda: all_alive(cl))
    print("leader %s elected over TLS Raft" % leader)
    run_cli("deploy", ypath, "--node", cl.http(1), *cl.cli())
    wait_for("the run to finish", lambda: run_finished(cl, range(cl.n)),
             120)
    got = cluster_output(parts)
    compare(got, want)
    print("%d results equal the single-node run" % len(got))
    n3 = (os.path.join(cl.tls_dir, "n3.crt"),
          os.path.join(cl.tls_dir, "n3.key"))
    for i in range(cl.n):
        why, t = raft_tls_client(raft_port(cl, i), ca, *n3)
        assert why is None, (i, why)
        print("n%d Raft port: %s %s" % (i, t.version(), t.cipher()[0]))
        t.sendall(raft_preamble(4242, "127.0.0.1:9"))
        closed, _ = closed_within(t, 1.5)
        assert not closed, "n%d closed a good TLS Raft connection" % i
        t.close()
    for i in range(cl.n):
        assert raft_refusals(cl, i) == [], (i, raft_refusals(cl, i))
        assert raft_refused_metric(cl, i) == 0, i
    assert agreed(cl, range(cl.n))[0] == leader


def case_tls_raft_refused(cl):
    """The Raft port of a TLS node refuses what is not TLS with a
    certificate of the cluster CA: a plaintext Raft preamble is answered
    with a TLS alert or a close (libraft's plaintext transport would keep
    the connection for Raft messages), a TLS client without a certificate
    and one with another CA's fail the handshake; the refusals are logged
    once for the address and all counted (logstream_raft_refused_total),
    and the cluster keeps its leader."""
    cl.enable_tls(range(cl.n))
    evil = other_ca(cl, "n1")
    ca = os.path.join(cl.tls_dir, "ca.crt")
    cl.start_all()
    leader, _, _ = wait_for("all nodes alive", lambda: all_alive(cl))
    li = int(leader[1:])
    port = raft_port(cl, li)
    for attempt in range(3):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(raft_preamble(7, "127.0.0.1:%d" % raft_port(cl, 1)))
        closed, got = closed_within(s, 10)
        s.close()
        print("plaintext preamble: closed=%s answer=%r" % (closed, got[:8]))
        assert closed, "the Raft port kept a plaintext connection"
        assert got == b"" or got[:1] == b"\x15", got  # a TLS alert
    none, t = raft_tls_client(port, ca)
    if t is not None:  # refused after the client's part of the handshake
        closed, _ = closed_within(t, 10)
        none = "closed" if closed else None
        t.close()
    print("TLS without a client certificate: %s" % none)
    assert none is not None
    bad, t = raft_tls_client(port, ca, os.path.join(evil, "n1.crt"),
                             os.path.join(evil, "n1.key"))
    if t is not None:
        closed, _ = closed_within(t, 10)
        bad = "closed" if closed else None
        t.close()
    print("TLS with another CA's certificate: %s" % bad)
    assert bad is not None
    # the server side of the port is the node's own certificate of the CA
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                t.recv(1)
        except (ssl.SSLError, OSError):
            pass
    time.sleep(0.5)
    lines = raft_refusals(cl, li)
    print("n%d log: %s" % (li, "".join(lines).strip()))
    assert len(lines) == 1 and "peer=127.0.0.1" in lines[0], lines
    # but all six are counted: 3 plaintext, no certificate twice, another CA
    n = wait_for("six refusals counted",
                 lambda: raft_refused_metric(cl, li) >= 6 and
                 raft_refused_metric(cl, li))
    print("logstream_raft_refused_total of n%d: %d" % (li, n))
    # still the same leader, everyone alive
    again = wait_for("all nodes alive", lambda: all_alive(cl))
    assert again[0] == leader, (leader, again[0])


def fake_raft_server(port, ca, cert, key, deadline=30):
    """Stand in for a node's Raft listener on 127.0.0.1:port, as a TLS
    server with cert that requires a client certificate of ca, for the
    first connection a node makes to it: (its first raw bytes, the client
    certificate's CN or None, the Raft preamble read inside TLS or the
    reason there was none)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    srv.settimeout(deadline)
    try:
        c, _ = srv.accept()
    finally:
        srv.close()
    c.settimeout(10)
    first = b""
    end = time.monotonic() + 10
    while len(first) < 3 and time.monotonic() < end:
        first = c.recv(3, socket.MSG_PEEK)
        if not first:
            break
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (ssl.SSLError, OSError) as e:
        c.close()
        return first, None, str(e)
    try:
        subj = dict(x[0] for x in t.getpeercert()["subject"])
        got = b""
        while len(got) < 24:
            d = t.recv(24 - len(got))
            if not d:
                return first, subj.get("commonName"), "closed"
            got += d
        n = struct.unpack("<Q", got[16:24])[0]
        while len(got) < 24 + n:
            d = t.recv(24 + n - len(got))
            if not d:
                break
            got += d
        return first, subj.get("commonName"), got
    except (ssl.SSLError, OSError) as e:
        return first, None, str(e)
    finally:
        t.close()


def case_tls_raft_wire(cl):
    """What a TLS node puts on the wire to a Raft peer is TLS, and it
    checks the peer: n0 and n1 run (a majority) while n2's Raft port is a
    stand-in.  A stand-in with a certificate of another CA, and one with
    a certificate of the cluster CA for another host, get a TLS
    ClientHello and never the Raft preamble; one with n2's certificate
    gets a ClientHello, the leader's node certificate, and inside TLS the
    preamble of libraft's transport (protocol 1, the leader's Raft
    address).  Then n2 starts and joins over TLS."""
    cl.enable_tls(range(cl.n))
    ca = os.path.join(cl.tls_dir, "ca.crt")
    evil = other_ca(cl, "n2")
    run_cli("certs", "issue", "--dir", cl.tls_dir, "--name", "elsewhere",
            "--host", "10.9.9.9")
    cl.start(0)
    cl.start(1)
    wait_for("a leader of n0, n1", lambda: agreed(cl, range(2)))
    port = raft_port(cl, 2)
    for name, d in (("another CA", evil), ("another host", None)):
        cert = os.path.join(evil, "n2.crt") if d else \
            os.path.join(cl.tls_dir, "elsewhere.crt")
        key = cert[:-4] + ".key"
        first, cn, got = fake_raft_server(port, ca, cert, key)
        print("stand-in with %s: first bytes %r, client %s, got %r" % (
            name, first, cn, got if isinstance(got, str) else got[:8]))
        assert first[:2] == b"\x16\x03", first
        assert isinstance(got, str), "a node sent Raft to %s" % name
    # each refusal is logged once per address, by whichever node dialed
    lines = {i: raft_refusals(cl, i) for i in range(2)}
    print("refusals logged: %s" % lines)
    assert sum(len(x) for x in lines.values()) >= 1, lines
    for x in lines.values():
        assert len(x) <= 1, x
        assert all(("peer=127.0.0.1:%d" % port) in l for l in x), x
    first, cn, got = fake_raft_server(
        port, ca, os.path.join(cl.tls_dir, "n2.crt"),
        os.path.join(cl.tls_dir, "n2.key"))
    print("stand-in with n2's certificate: first bytes %r, client %s, "
          "preamble %r" % (first, cn, got))
    assert first[:2] == b"\x16\x03", first
    assert cn in ("n0", "n1"), cn
    assert not isinstance(got, str), got
    assert struct.unpack("<Q", got[:8])[0] == 1, got
    addr = got[24:].rstrip(b"\0").decode()
    assert addr == "127.0.0.1:%d" % raft_port(cl, int(cn[1:])), addr
    cl.start(2)
    wait_for("all nodes alive", lambda: all_alive(cl))
    assert raft_refusals(cl, 2) == [], raft_refusals(cl, 2)


TOKENS = {"read": "read-token-0123456789", "write": "write-token-0123456789",
          "admin": "admin-token-0123456789",
          "internal": "internal-token-0123456789"}


def https_call(cl, i, method, path, token=None, body=None, timeout=10):
    """(status, JSON error or body text) of one HTTPS request to node i,
    verified against the cluster CA, with `Authorization: Bearer token`."""
    ctx = ssl.create_default_context(
        cafile=os.path.join(cl.tls_dir, "ca.crt"))
    host, port = cl.http(i).rsplit(":", 1)
    c = http.client.HTTPSConnection(host, int(port), context=ctx,
                                    timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        text = r.read().decode()
        return r.status, text
    finally:
        c.close()


def case_https_tokens(cl):
    """A TLS cluster with a token file: the API speaks HTTPS (verified
    against the cluster CA); without a token 401, a read token reads but
    gets 403 on deploy, a client token (even admin) gets 403 on
    /v1/internal/*, the internal token gets through; /healthz is open; the
    nodes' own requests (heartbeats, deploys forwarded to the leader) carry
    the internal token; the CLI takes --ca and --token; a bad token file is
    refused at start with its file:line."""
    cl.enable_tls(range(cl.n))
    tokens = os.path.join(cl.dir, "tokens")
    with open(tokens, "w") as f:
        f.write("# API tokens\n")
        for scope, tok in TOKENS.items():
            f.write("%s %s\n" % (scope, tok))
    cl.node_args = ["--token-file", tokens]
    cl.token = TOKENS["read"]
    cl.start_all()
    leader, _, _ = wait_for("all nodes alive (heartbeats over HTTPS)",
                            lambda: all_alive(cl))
    follower = next(i for i in range(cl.n) if "n%d" % i != leader)
    topo = os.path.join(cl.dir, "wide.yaml")
    with open(topo, "w") as f:
        f.write(TOPOLOGY)
    with open(topo) as f:
        body = f.read()

    checks = [
        ("GET", "/healthz", None, 200),
        ("GET", "/v1/status", None, 401),
        ("GET", "/v1/status", "nope-nope-nope-nope-nope", 401),
        ("GET", "/v1/status", TOKENS["read"], 200),
        ("GET", "/metrics", TOKENS["read"], 200),
        ("POST", "/v1/topologies", TOKENS["read"], 403),
        ("POST", "/v1/leave", TOKENS["write"], 403),
        ("POST", "/v1/internal/heartbeat", None, 401),
        ("POST", "/v1/internal/heartbeat", TOKENS["read"], 403),
        ("POST", "/v1/internal/join", TOKENS["admin"], 403),
        ("GET", "/v1/internal/ckpt", TOKENS["write"], 403),
        ("GET", "/v1/internal/ckpt", TOKENS["internal"], 400),
        ("GET", "/v1/nosuch", None, 401),
        ("GET", "/v1/nosuch", TOKENS["read"], 404),
    ]
    for method, path, tok, want in checks:
        st, text = https_call(cl, follower, method, path, tok,
                              body if method == "POST" else None)
        print("%s %s with %s -> %d %s" % (
            method, path, next((k for k, v in TOKENS.items() if v == tok),
                               tok), st, text.strip()[:80]))
        assert st == want, (method, path, tok, st, text)
        if st in (401, 403):
            assert "error" in json.loads(text), text

    # routes added elsewhere (interactive queries) are covered too
    st, text = https_call(cl, follower, "GET", "/v1/windows/nosuch")
    assert st == 401, (st, text)
    st, text = https_call(cl, follower, "GET", "/v1/windows/nosuch",
                          TOKENS["read"])
    print("GET /v1/windows/nosuch with read -> %d %s" % (st, text.strip()))
    assert st not in (401, 403), (st, text)
    st, text = https_call(cl, follower, "GET", "/v1/internal/query",
                          TOKENS["admin"])
    assert st == 403, (st, text)

    # the dashboard page is open (it holds no data), its data is not
    st, text = https_call(cl, follower, "GET", "/dashboard")
    assert st == 200 and "<h1>LogStream</h1>" in text, (st, text[:200])

    # the CLI: HTTPS needs --ca, the API a token of the right scope
    r = run_cli("top", "--node", cl.http(follower), "--count", "1",
                "--interval", "0.2", *cl.cli())
    assert "3 of 3 nodes" in r.stdout, r.stdout
    r = run_cli("status", "--node", cl.http(follower), check=False)
    assert r.returncode != 0 and "give --ca" in r.stderr, r.stderr
    r = run_cli("status", "--node", cl.http(follower), "--ca",
                os.path.join(cl.tls_dir, "ca.crt"), check=False)
    assert r.returncode != 0 and "missing bearer token" in r.stderr, \
        r.stderr
    run_cli("status", "--node", cl.http(follower), *cl.cli())
    r = run_cli("deploy", topo, "--node", cl.http(follower), *cl.cli(),
                check=False)
    assert r.returncode != 0 and "write scope" in r.stderr, r.stderr
    env = dict(os.environ, LOGSTREAM_TOKEN=TOKENS["write"],
               LOGSTREAM_CA=os.path.join(cl.tls_dir, "ca.crt"))
    r = subprocess.run([BIN, "deploy", topo, "--node", cl.http(follower)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr  # forwarded to the leader
    names = {"n%d" % i for i in range(cl.n)}
    wait_for("the placement", lambda: placed(cl, 0, "wide", names))
    print("deployed through follower n%d with a write token" % follower)

    # a bad token file: refused at start, naming file:line and reason
    bad = os.path.join(cl.dir, "tokens.bad")
    with open(bad, "w") as f:
        f.write("internal %s\nroot %s\n" % (TOKENS["internal"],
                                             TOKENS["admin"]))
    d = os.path.join(cl.dir, "never")
    r = subprocess.run(
        [BIN, "node", "--id", "n4", "--listen", cl.url(4), "--http",
         cl.http(4), "--data-dir", d, "--voter", "--token-file", bad]
        + cl.tls_args(0), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, timeout=30)
    print("bad token file -> %d: %s" % (r.returncode, r.stderr.strip()))
    assert r.returncode == 2, r.returncode
    assert bad + ":2: unknown scope 'root'" in r.stderr, r.stderr
    assert not os.path.exists(d)


CASES["tls_kill_owner"] = case_tls_kill_owner
CASES["https_tokens"] = case_https_tokens
CASES["finished_kill"] = case_finished_kill
CASES["tls_refused"] = case_tls_refused
CASES["tls_raft"] = case_tls_raft
CASES["tls_raft_refused"] = case_tls_raft_refused
CASES["tls_raft_wire"] = case_tls_raft_wire


def run_case(cases, prefix="ls-cluster-", skip=()):
    """The main of a cluster test: BIN and CASE from argv, the case run on
    a fresh 3-node Cluster in a work directory that is removed unless the
    case failed and LS_KEEP_WORK is set.  An exception of a type in skip
    exits 77 (skipped)."""
    global BIN
    BIN = os.path.abspath(sys.argv[1])
    case = sys.argv[2]
    work = tempfile.mkdtemp(prefix=prefix, dir=os.getcwd())
    cl = Cluster(3, work)
    ok = False
    try:
        cases[case](cl)
        ok = True
    except tuple(skip) as e:
        print("skipped: %s" % e)
        ok = True
        sys.exit(77)
    finally:
        cl.stop_all()
        if not ok:
            cl.dump_logs()
        if ok or not os.environ.get("LS_KEEP_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    print("ok")


def main():
    run_case(CASES)


if __name__ == "__main__":
    main()
