#!/usr/bin/env python3
"""failover_bench.py -- how long a LogStream cluster is without a
coordinator after kill -9 of its leader.

Usage: failover_bench.py LOGSTREAM_BINARY [K]

Starts a 3-node cluster (`logstream node ... --voter`) on free loopback
ports with its data directories in a temporary directory, waits until all
three agree on a leader and are alive in the replicated map, then K times
(default 5, or LS_BENCH_RUNS):

  1. kill -9 the leader;
  2. poll GET /v1/status of the two survivors every 20 ms; the failover
     time is from the kill until a survivor answers "is_leader": true
     (also printed: until both survivors agree on that leader and epoch);
  3. restart the killed node from its data directory and wait until it
     answers, all three agree on one leader and the map lists every node
     as alive again (the rejoin time).

Prints one line per figure (p50 and max over the K kills, in seconds) in
the format of the C benchmarks, and exits non-zero when the cluster does
not elect a leader or does not take the node back within the deadline.
Every node process is killed and the temporary directory removed at exit,
also on SIGINT/SIGTERM.
"""
import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

POLL = 0.020       # seconds between status polls
DEADLINE = 60.0    # seconds before a wait counts as a failure
NODES = 3


def free_base(n):
    """A base port such that base+i (listen), base+100+i (raft, the node's
    default) and base+200+i (http) are free for i < n."""
    for _ in range(200):
        base = random.randrange(20000, 60000, 10)
        socks = []
        try:
            for d in (0, 100, 200):
                for i in range(n):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    socks.append(s)
                    s.bind(("127.0.0.1", base + d + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


class Cluster:
    def __init__(self, binary, n, workdir):
        self.bin = binary
        self.n = n
        self.dir = workdir
        self.base = free_base(n)
        self.procs = {}

    def url(self, i):
        return "tcp://127.0.0.1:%d" % (self.base + i)

    def http(self, i):
        return "127.0.0.1:%d" % (self.base + 200 + i)

    def start(self, i):
        seeds = ",".join(self.url(j) for j in range(self.n) if j != i)
        with open(os.path.join(self.dir, "n%d.log" % i), "ab") as log:
            self.procs[i] = subprocess.Popen(
                [self.bin, "node", "--id", "n%d" % i, "--listen",
                 self.url(i), "--http", self.http(i), "--data-dir",
                 os.path.join(self.dir, "d%d" % i), "--join", seeds,
                 "--voter"],
                stdout=log, stderr=subprocess.STDOUT)

    def kill(self, i):
        """kill -9 node i; returns the monotonic time of the signal."""
        p = self.procs.pop(i)
        t = time.monotonic()
        p.send_signal(signal.SIGKILL)
        p.wait()
        return t

    def kill_all(self):
        for p in self.procs.values():
            try:
                p.send_signal(signal.SIGKILL)
            except OSError:
                pass
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = {}

    def status(self, i, timeout=1.0):
        """The /v1/status JSON of node i, or None if it does not answer."""
        try:
            with urllib.request.urlopen(
                    "http://%s/v1/status" % self.http(i),
                    timeout=timeout) as r:
                return json.loads(r.read())
        except Exception:
            return None

    def tails(self):
        out = []
        for i in range(self.n):
            path = os.path.join(self.dir, "n%d.log" % i)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append("---- n%d.log (tail) ----\n" % i)
                    out.extend(f.readlines()[-20:])
        return "".join(out)


def agreed(cl, alive):
    """(leader name, epoch) when every node in `alive` answers and all name
    the same leader (one of them, the only one saying is_leader) and epoch;
    else None."""
    sts = [cl.status(i) for i in alive]
    if any(s is None for s in sts):
        return None
    leaders = {s.get("leader", "") for s in sts}
    epochs = {s.get("epoch") for s in sts}
    if len(leaders) != 1 or len(epochs) != 1:
        return None
    leader = leaders.pop()
    if leader not in {"n%d" % i for i in alive}:
        return None
    if sum(1 for s in sts if s.get("is_leader")) != 1:
        return None
    return leader, epochs.pop(), sts


def all_alive(cl):
    r = agreed(cl, range(cl.n))
    if r is None:
        return None
    states = {x["name"]: x["state"] for x in r[2][0].get("nodes", [])}
    want = {"n%d" % i: "alive" for i in range(cl.n)}
    return r if states == want else None


def wait_for(what, cond, period=0.05):
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        r = cond()
        if r:
            return r
        time.sleep(period)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (
        DEADLINE, what))


def one_failover(cl):
    """Kill the leader; returns (to a self-declared leader, to agreement,
    to rejoin) in seconds, and the names involved."""
    leader, _, _ = wait_for("a stable cluster", lambda: all_alive(cl))
    li = int(leader[1:])
    rest = [i for i in range(cl.n) if i != li]
    t0 = cl.kill(li)
    end = t0 + DEADLINE
    t_self = None
    new = None
    # Poll both survivors every POLL seconds until one says it leads.
    while t_self is None:
        tick = time.monotonic()
        if tick > end:
            raise RuntimeError("no new leader %.0f s after killing %s" % (
                DEADLINE, leader))
        for i in rest:
            s = cl.status(i, timeout=0.5)
            if s is not None and s.get("is_leader"):
                t_self = time.monotonic() - t0
                new = "n%d" % i
                break
        if t_self is None:
            time.sleep(max(0.0, POLL - (time.monotonic() - tick)))
    wait_for("the survivors to agree", lambda: agreed(cl, rest), POLL)
    t_agree = time.monotonic() - t0
    t1 = time.monotonic()
    cl.start(li)
    wait_for("%s to rejoin" % leader, lambda: all_alive(cl), POLL)
    t_rejoin = time.monotonic() - t1
    return t_self, t_agree, t_rejoin, leader, new


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def line(name, v):
    print("%-26s %8.3f s p50         (%d kills, max %.3f, min %.3f)" % (
        name, median(v), len(v), max(v), min(v)))
    sys.stdout.flush()


def main():
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.stderr.write("usage: failover_bench.py LOGSTREAM_BINARY [K]\n")
        return 2
    binary = os.path.abspath(sys.argv[1])
    k = int(sys.argv[2]) if len(sys.argv) > 2 else \
        int(os.environ.get("LS_BENCH_RUNS", "5"))
    work = tempfile.mkdtemp(prefix="ls-failover-")
    cl = Cluster(binary, NODES, work)

    def cleanup():
        cl.kill_all()
        shutil.rmtree(work, ignore_errors=True)

    def on_signal(sig, frame):
        cleanup()
        os._exit(128 + sig)

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    selfs, agrees, rejoins = [], [], []
    try:
        t0 = time.monotonic()
        for i in range(cl.n):
            cl.start(i)
        leader, _, _ = wait_for("a first leader", lambda: all_alive(cl))
        sys.stderr.write("# 3 nodes up, %s leads after %.2f s\n" % (
            leader, time.monotonic() - t0))
        for r in range(k):
            t_self, t_agree, t_rejoin, old, new = one_failover(cl)
            sys.stderr.write(
                "# kill %d: %s killed, %s leads after %.3f s, agreed "
                "%.3f s, %s back after %.3f s\n" % (
                    r + 1, old, new, t_self, t_agree, old, t_rejoin))
            selfs.append(t_self)
            agrees.append(t_agree)
            rejoins.append(t_rejoin)
    except RuntimeError as e:
        sys.stdout.flush()
        sys.stderr.write("FAIL failover: %s\n%s" % (e, cl.tails()))
        return 1
    line("failover: new leader", selfs)
    line("failover: survivors agree", agrees)
    line("failover: rejoin", rejoins)
    return 0


if __name__ == "__main__":
    sys.exit(main())
