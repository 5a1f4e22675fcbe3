#!/usr/bin/env python3
"""chaos/cluster.py -- a local N-node LogStream cluster of real
`logstream node` processes on 127.0.0.1, for chaos scenarios and tests.

    from cluster import Cluster, StatusMonitor
    with Cluster(binary, 3, workdir) as cl:
        cl.start_all()
        cl.wait_ready()
        cl.deploy("topology.yaml")
        t = cl.kill(1)          # kill -9; returns the monotonic kill time
        cl.restart(1)           # same flags, same data dir: it rejoins
        cl.pause(2); cl.resume(2)   # SIGSTOP / SIGCONT

Ports: node i listens on base+i (transport), base+100+i (Raft, the
default of `logstream node`) and base+200+i (HTTP); free_base() finds a
base whose 3N ports are all free.  Every voter gets the other voters'
transport URLs as --join seeds, as docs/cluster.md asks.

LS_TEST_WRAPPER (e.g. "valgrind --error-exitcode=99 --leak-check=full")
runs every node under that command.  Every process started here is killed
when the cluster is closed, when the interpreter exits, and on
SIGTERM/SIGHUP/SIGINT once install_signal_handlers() was called (they
become exceptions, so the callers' `finally` blocks run).  Only the Python
standard library.
"""
import atexit
import http.client
import json
import os
import random
import re
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

POLL = 0.05  # seconds between polls of a condition
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|"
                          r"runtime error: |WARNING: ThreadSanitizer|"
                          r"ERROR SUMMARY: [1-9]")

_LIVE_CLUSTERS = set()


def _close_all():
    for cl in list(_LIVE_CLUSTERS):
        cl.close()


atexit.register(_close_all)


class Interrupted(BaseException):
    """Raised by the signal handlers of install_signal_handlers()."""


def install_signal_handlers():
    """Turn SIGTERM, SIGHUP and SIGINT into an Interrupted exception in the
    main thread, so that `finally` blocks kill the nodes."""
    def handler(signum, frame):
        raise Interrupted("signal %d" % signum)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, handler)


def ephemeral_range():
    """The kernel's range of ports for outgoing connections (Linux), or a
    common default."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_base(n):
    """A base port such that base+i, base+100+i and base+200+i are free
    for every i < n (n <= 100), outside the ephemeral port range: a port
    that is free while its node is down could otherwise become the local
    end of some outgoing connection, and the node could not listen on it
    again when it restarts."""
    lo, hi = ephemeral_range()
    candidates = [b for b in range(10000, 65000, 10)
                  if b + 300 <= lo or b > hi]
    for _ in range(400):
        base = random.choice(candidates)
        ports = [base + d + i for d in (0, 100, 200) for i in range(n)]
        socks = []
        try:
            for p in ports:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free range of %d ports found" % (3 * n))


def wait_for(what, cond, deadline, poll=POLL):
    """Poll cond() every `poll` seconds until it returns something other
    than None or False (which is returned; 0 counts, so a node index can be
    waited for) or `deadline` seconds have passed (TimeoutError)."""
    end = time.monotonic() + deadline
    while True:
        v = cond()
        if v is not None and v is not False:
            return v
        if time.monotonic() >= end:
            raise TimeoutError("timed out after %.0f s waiting for %s" %
                               (deadline, what))
        time.sleep(poll)


def http_get_json(addr, path, timeout, ca=None, token=None):
    """GET http://addr/path (https:// verified against the CA file ca when
    given, with a bearer token when given) as JSON, or None when the node
    does not answer with 200 and JSON in time."""
    headers = {"Authorization": "Bearer " + token} if token else {}
    try:
        if ca:
            # http.client, not urllib: urllib asks the server to close
            # after its answer, which nng 1.5.2 can cut off over TLS
            host, port = addr.rsplit(":", 1)
            c = http.client.HTTPSConnection(
                host, int(port), timeout=timeout,
                context=ssl.create_default_context(cafile=ca))
            try:
                c.request("GET", path, headers=headers)
                r = c.getresponse()
                body = r.read()
                return json.loads(body) if r.status == 200 else None
            finally:
                c.close()
        req = urllib.request.Request("http://%s%s" % (addr, path),
                                     headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except (OSError, ValueError, urllib.error.URLError,
            http.client.HTTPException):
        return None


def wrapper():
    """The command that LS_TEST_WRAPPER names to run the binary under
    (e.g. "valgrind --error-exitcode=99 --leak-check=full"), as a list."""
    w = os.environ.get("LS_TEST_WRAPPER", "").strip()
    return shlex.split(w) if w else []


def node_help(binary):
    """The text of `logstream node --help` (to see which flags exist)."""
    r = subprocess.run([binary, "node", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    return r.stdout


class Cluster:
    """N voter nodes n0..n{N-1}.  Node state here: 'down' (never started or
    killed), 'up', 'paused' (SIGSTOPped)."""

    def __init__(self, binary, n, workdir, replicas=None, suspect_ms=None,
                 dead_ms=None, extra_args=(), tls=False):
        self.binary = os.path.abspath(binary)
        self.n = n
        self.dir = os.path.abspath(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.base = free_base(n)
        self.procs = {}
        self.state = {i: "down" for i in range(n)}
        self.lock = threading.RLock()
        self.flags = []
        help_text = node_help(self.binary)
        if replicas is not None:
            if "--replicas" not in help_text:
                raise RuntimeError("this logstream node has no --replicas")
            self.flags += ["--replicas", str(replicas)]
        # Failure-detector timeouts are passed only where the binary has
        # the flags (their defaults are 500 ms and 1 s anyway).
        if suspect_ms is not None and "--suspect-ms" in help_text:
            self.flags += ["--suspect-ms", str(suspect_ms)]
        if dead_ms is not None and "--dead-ms" in help_text:
            self.flags += ["--dead-ms", str(dead_ms)]
        self.flags += list(extra_args)
        self.dead_ms = dead_ms if dead_ms is not None else 1000
        # TLS: a CA and node certificates from `logstream certs` in
        # DIR/certs; the transport is tls+tcp://, the API HTTPS, and a
        # token file (DIR/tokens) guards the API.
        self.tls = None
        self.token = None
        if tls:
            self.tls = os.path.join(self.dir, "certs")
            self._run(["certs", "init", "--dir", self.tls])
            for i in range(n):
                self._run(["certs", "issue", "--dir", self.tls, "--name",
                           self.name(i), "--host", "127.0.0.1"])
            self.token = "chaos-admin-%016x" % random.getrandbits(64)
            tokens = os.path.join(self.dir, "tokens")
            with open(tokens, "w") as f:
                f.write("admin %s\ninternal chaos-internal-%016x\n" % (
                    self.token, random.getrandbits(64)))
            os.chmod(tokens, 0o600)
            self.flags += ["--token-file", tokens]
        _LIVE_CLUSTERS.add(self)

    def _run(self, args):
        r = subprocess.run([self.binary] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("logstream %s: %s" % (" ".join(args),
                                                    r.stdout))

    def ca(self):
        """The cluster CA file with TLS, else None."""
        return os.path.join(self.tls, "ca.crt") if self.tls else None

    def client_args(self):
        """Options of the client commands (deploy, status) for this
        cluster."""
        out = []
        if self.tls:
            out += ["--ca", self.ca()]
        if self.token:
            out += ["--token", self.token]
        return out

    # -- addresses ---------------------------------------------------------
    def name(self, i):
        return "n%d" % i

    def index_of(self, name):
        if name and name[0] == "n" and name[1:].isdigit():
            i = int(name[1:])
            if i < self.n:
                return i
        return None

    def url(self, i):
        return "%s://127.0.0.1:%d" % ("tls+tcp" if self.tls else "tcp",
                                      self.base + i)

    def http(self, i):
        return "127.0.0.1:%d" % (self.base + 200 + i)

    def data_dir(self, i):
        return os.path.join(self.dir, "d%d" % i)

    def log_path(self, i):
        return os.path.join(self.dir, "n%d.log" % i)

    def argv(self, i):
        seeds = ",".join(self.url(j) for j in range(self.n) if j != i)
        return wrapper() + [self.binary, "node", "--id", self.name(i),
                "--listen", self.url(i), "--http", self.http(i),
                "--data-dir", self.data_dir(i), "--join", seeds,
                "--voter"] + self.tls_flags(i) + self.flags

    def tls_flags(self, i):
        if not self.tls:
            return []
        return ["--tls-ca", self.ca(),
                "--tls-cert", os.path.join(self.tls, self.name(i) + ".crt"),
                "--tls-key", os.path.join(self.tls, self.name(i) + ".key")]

    # -- process control -----------------------------------------------------
    def start(self, i):
        """Start node i (first start or restart from its data dir)."""
        with self.lock:
            if self.state[i] != "down":
                raise RuntimeError("node %d is %s" % (i, self.state[i]))
            with open(self.log_path(i), "ab") as log:
                log.write(("---- start %.3f ----\n" %
                           time.monotonic()).encode())
                log.flush()
                self.procs[i] = subprocess.Popen(
                    self.argv(i), stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL)
            self.state[i] = "up"

    restart = start

    def start_all(self):
        for i in range(self.n):
            self.start(i)

    def _signal(self, i, sig):
        p = self.procs.get(i)
        if p is None:
            raise RuntimeError("node %d is not running" % i)
        p.send_signal(sig)
        return p

    def kill(self, i):
        """kill -9 node i; returns the monotonic time of the signal."""
        with self.lock:
            p = self._signal(i, signal.SIGKILL)
            t = time.monotonic()
            p.wait()
            del self.procs[i]
            self.state[i] = "down"
            return t

    def kill_many(self, idx):
        """kill -9 several nodes at once; returns the time of the first
        signal."""
        with self.lock:
            ps = [(i, self._signal(i, signal.SIGKILL)) for i in idx]
            t = time.monotonic()
            for i, p in ps:
                p.wait()
                del self.procs[i]
                self.state[i] = "down"
            return t

    def pause(self, i):
        """SIGSTOP node i; returns the monotonic time of the signal."""
        with self.lock:
            self._signal(i, signal.SIGSTOP)
            self.state[i] = "paused"
            return time.monotonic()

    def resume(self, i):
        with self.lock:
            self._signal(i, signal.SIGCONT)
            self.state[i] = "up"
            return time.monotonic()

    def exited(self):
        """Nodes that are meant to run but whose process has ended:
        {index: exit status}."""
        with self.lock:
            return {i: p.returncode for i, p in self.procs.items()
                    if p.poll() is not None}

    def stop_all(self, grace=20):
        """SIGTERM every node (SIGCONT first for paused ones), SIGKILL what
        has not ended after `grace` seconds.  Returns {index: exit status}
        (None for a node that had to be killed)."""
        codes = {}
        with self.lock:
            for i, p in self.procs.items():
                try:
                    if self.state[i] == "paused":
                        p.send_signal(signal.SIGCONT)
                    p.send_signal(signal.SIGTERM)
                except OSError:
                    pass
            end = time.monotonic() + grace
            for i, p in self.procs.items():
                try:
                    codes[i] = p.wait(timeout=max(0.1,
                                                  end - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    codes[i] = None
                self.state[i] = "down"
            self.procs = {}
        return codes

    def close(self):
        """Kill every process of this cluster at once (SIGKILL)."""
        with self.lock:
            for p in self.procs.values():
                try:
                    p.kill()
                except OSError:
                    pass
            for i, p in self.procs.items():
                p.wait()
                self.state[i] = "down"
            self.procs = {}
        _LIVE_CLUSTERS.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- observation ---------------------------------------------------------
    def up(self):
        """Indices of running, not paused nodes."""
        with self.lock:
            return [i for i in range(self.n) if self.state[i] == "up"]

    def status(self, i, timeout=1.0):
        """The /v1/status JSON of node i, or None."""
        return http_get_json(self.http(i), "/v1/status", timeout,
                             self.ca(), self.token)

    def agreed_leader(self, nodes=None):
        """The index of the leader that every node in `nodes` (default: all
        up nodes) names, with one map epoch among them; else None."""
        nodes = self.up() if nodes is None else list(nodes)
        if not nodes:
            return None
        sts = [self.status(i) for i in nodes]
        if any(s is None for s in sts):
            return None
        leaders = {s.get("leader", "") for s in sts}
        if len(leaders) != 1 or "" in leaders:
            return None
        if len({s.get("epoch") for s in sts}) != 1:
            return None
        li = self.index_of(leaders.pop())
        if li is None or li not in nodes:
            return None
        return li

    def all_alive(self):
        """True when a leader is agreed by all up nodes and its map lists
        every up node as alive."""
        li = self.agreed_leader()
        if li is None:
            return False
        s = self.status(li)
        if s is None:
            return False
        states = {n["name"]: n["state"] for n in s.get("nodes", [])}
        return all(states.get(self.name(i)) == "alive" for i in self.up())

    def wait_ready(self, deadline=90):
        """Wait until a leader is agreed and every up node is alive."""
        wait_for("an agreed leader and all nodes alive", self.all_alive,
                 deadline)

    def wait_leader(self, deadline=60):
        """The index of the leader every up node agrees on (waits)."""
        return wait_for("an agreed leader", self.agreed_leader, deadline)

    def owner_of(self, topology, partition):
        """The index of the node that owns `partition` (e.g. "results/0")
        of `topology` in the leader's map, or None."""
        li = self.agreed_leader()
        s = self.status(li) if li is not None else None
        for a in (s or {}).get("assignments", []):
            if a.get("topology") == topology and \
                    a.get("partition") == partition:
                return self.index_of(a.get("owner", ""))
        return None

    def deploy(self, path, node=None, deadline=60):
        """`logstream deploy PATH --node ...`, retried while the cluster
        refuses (e.g. during an election).  Returns the parsed answer."""
        end = time.monotonic() + deadline
        last = ""
        while time.monotonic() < end:
            targets = [node] if node is not None else self.up()
            for i in targets:
                r = subprocess.run(
                    [self.binary, "deploy", path, "--node", self.http(i)]
                    + self.client_args(),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True, timeout=60)
                if r.returncode == 0:
                    try:
                        return json.loads(r.stdout)
                    except ValueError:
                        return {"output": r.stdout}
                last = "exit %d: %s%s" % (r.returncode, r.stdout, r.stderr)
                if r.returncode == 1 and ":" in r.stderr and \
                        "invalid" in r.stderr.lower():
                    raise RuntimeError("deploy refused: " + last)
            time.sleep(0.2)
        raise TimeoutError("deploy did not succeed: " + last)

    def sanitizer_reports(self):
        """[(node index, line)] of sanitizer reports (AddressSanitizer,
        LeakSanitizer, UBSan "runtime error:", valgrind errors) in the node
        logs."""
        out = []
        for i in range(self.n):
            try:
                with open(self.log_path(i), errors="replace") as f:
                    for line in f:
                        if SANITIZER_RE.search(line):
                            out.append((i, line.rstrip()))
            except OSError:
                pass
        return out

    def log_tail(self, i, lines=30):
        try:
            with open(self.log_path(i), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def dump_logs(self, out=sys.stderr, lines=30):
        for i in range(self.n):
            out.write("---- n%d.log (last %d lines) ----\n" % (i, lines))
            out.write(self.log_tail(i, lines))


def run_of(status, topology):
    """The runs[] entry of `topology` in a status, or None."""
    if not status:
        return None
    for r in status.get("runs") or []:
        if r.get("topology") == topology:
            return r
    return None


def checkpoint_epoch(ckpt):
    """The lineage a checkpoint id belongs to (its high 32 bits): the run
    epoch of the topology's first run, kept by regional restores."""
    return int(ckpt) >> 32


def local_run_of(status, topology):
    """The local_runs[] entry (this node's own run) of `topology`, or
    None."""
    if not status:
        return None
    for r in status.get("local_runs") or []:
        if r.get("topology") == topology:
            return r
    return None


class StatusMonitor:
    """A thread that polls /v1/status of every up node of a cluster every
    `interval` seconds and keeps a history of what it saw about one
    topology's run: [(time, {node index: (run_epoch, checkpoint, finished)
    or None when the node has no run of it})], where the three values are
    the cluster's view ("runs": from the replicated map).  The node's own
    run ("local_runs": run epoch, finished = its sinks published their
    final output) is kept apart in `local`: [(time, {node index: (run_epoch,
    finished) or None})].  Also notes whether any status carried a "runs"
    or "local_runs" field at all."""

    def __init__(self, cluster, topology, interval=POLL, timeout=0.5):
        self.cl = cluster
        self.topology = topology
        self.interval = interval
        self.timeout = timeout
        self.history = []
        self.local = []
        self.saw_runs_field = False
        self.saw_local_runs = False
        self.errors = 0
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_ev.set()
        self.thread.join()

    def _loop(self):
        while not self.stop_ev.is_set():
            seen, local = {}, {}
            for i in self.cl.up():
                s = self.cl.status(i, timeout=self.timeout)
                if s is None:
                    self.errors += 1
                    continue
                if "runs" in s:
                    self.saw_runs_field = True
                if "local_runs" in s:
                    self.saw_local_runs = True
                r = run_of(s, self.topology)
                seen[i] = None if r is None else (
                    int(r.get("run_epoch", 0)), int(r.get("checkpoint", 0)),
                    bool(r.get("finished", False)),
                    int(r.get("checkpoint_epoch", 0)))
                r = local_run_of(s, self.topology)
                local[i] = None if r is None else (
                    int(r.get("run_epoch", 0)), bool(r.get("finished",
                                                           False)))
            with self.lock:
                t = time.monotonic()
                self.history.append((t, seen))
                self.local.append((t, local))
            self.stop_ev.wait(self.interval)

    def snapshot(self):
        with self.lock:
            return list(self.history)

    def latest(self):
        """(run_epoch, checkpoint, finished) with the highest run epoch
        (then checkpoint) any node showed in the last poll, or None."""
        with self.lock:
            if not self.history:
                return None
            seen = self.history[-1][1]
        runs = [v for v in seen.values() if v is not None]
        return max(runs) if runs else None

    def finished(self):
        """True once any node has reported the run finished."""
        with self.lock:
            return any(v is not None and v[2]
                       for _, seen in self.history for v in seen.values())

    def all_finished(self):
        """True when, in the last poll, every node that answered shows the
        run finished (and at least one answered)."""
        with self.lock:
            if not self.history:
                return False
            seen = self.history[-1][1]
        return bool(seen) and all(v is not None and v[2]
                                  for v in seen.values())

    def published(self):
        """True when, in the last poll, the cluster's view says finished and
        every node that answered runs that same run epoch itself with all
        its sinks' final output published (a node's local run may lag the
        map's finished flag by the time its sink takes to write the last
        part).  Without "local_runs" in the status: same as
        all_finished()."""
        with self.lock:
            if not self.history:
                return False
            seen = self.history[-1][1]
            local = self.local[-1][1]
        if not self.saw_local_runs:
            return self.all_finished()
        runs = [v for v in seen.values() if v is not None]
        if not runs or not all(v[2] for v in runs):
            return False
        epoch = max(v[0] for v in runs)
        return bool(local) and all(
            v is not None and v[0] == epoch and v[1]
            for v in local.values())

    def max_epoch_before(self, t):
        best = 0
        with self.lock:
            for ts, seen in self.history:
                if ts > t:
                    break
                for v in seen.values():
                    if v is not None:
                        best = max(best, v[0])
        return best

    def progress_time(self, t_fault, t_after, until=None):
        """Seconds from t_fault to the first poll after t_after (and not
        after `until`) in which any node shows a completed checkpoint newer
        than every one seen before t_fault (or the run finished) -- how a
        crash-restart that no placement change followed is measured; None
        when no such poll exists."""
        before = self.max_checkpoint_before(t_fault)
        for ts, seen in self._polls(t_after, until):
            for v in seen.values():
                if v is not None and (v[1] > before or v[2]):
                    return ts - t_fault
        return None

    def progressed(self, t):
        """True when the last poll shows a completed checkpoint newer than
        every one seen before time t, or the run finished."""
        v = self.latest()
        if v is None:
            return False
        return v[2] or v[1] > self.max_checkpoint_before(t)

    def resumed(self, t):
        """True when the last poll shows the run in a checkpointed state
        of a run epoch started after time t -- or finished."""
        with self.lock:
            if not self.history or self.history[-1][0] <= t:
                return False
            seen = self.history[-1][1]
        before = self.max_epoch_before(t)
        for v in seen.values():
            if v is None:
                continue
            if v[2]:
                return True
            if v[0] > before and v[1] != 0 and v[3] == v[0]:
                return True
        return False

    def settled(self):
        """True when the last poll shows a run whose latest epoch has a
        completed checkpoint taken in it (or that finished)."""
        v = self.latest()
        if v is None:
            return False
        return v[2] or (v[1] != 0 and v[3] == v[0])

    def _polls(self, after, until):
        with self.lock:
            return [(ts, seen) for ts, seen in self.history
                    if ts > after and (until is None or ts <= until)]

    def max_checkpoint_before(self, t):
        best = 0
        with self.lock:
            for ts, seen in self.history:
                if ts > t:
                    break
                for v in seen.values():
                    if v is not None:
                        best = max(best, v[1])
        return best

    def restart_time(self, t_fault, excluded, until=None):
        """Seconds from t_fault to the first poll after it (and not after
        `until`) in which a node not in `excluded` shows a run epoch newer
        than any seen before t_fault (the topology was re-placed and
        restarted; it has not necessarily made progress yet); None when no
        such poll exists."""
        before = self.max_epoch_before(t_fault)
        for ts, seen in self._polls(t_fault, until):
            for i, v in seen.items():
                if i not in excluded and v is not None and v[0] > before:
                    return ts - t_fault
        return None

    def recovery_time(self, t_fault, excluded, until=None):
        """Seconds from t_fault to the first poll after it (and not after
        `until`) in which a node not in `excluded` shows a run epoch newer
        than any seen before t_fault together with a completed checkpoint
        taken in that epoch; None when no such poll exists."""
        before = self.max_epoch_before(t_fault)
        for ts, seen in self._polls(t_fault, until):
            for i, v in seen.items():
                if i in excluded or v is None:
                    continue
                ep, ck, _, ce = v
                if ep > before and ck != 0 and ce == ep:
                    return ts - t_fault
        return None
