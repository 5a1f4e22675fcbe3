#!/usr/bin/env python3
"""ingest_cluster_test.py -- an `http` source on a 3-node cluster: a 202
means the events are on the partition's owner and its standby, so kill -9
of the owner loses nothing acknowledged (docs/http-ingest.md, "On a
cluster").

    python3 ingest_cluster_test.py BINARY CASE

Cases (real `logstream node` processes on 127.0.0.1, curl-free: the client
is Python's http.client, one connection per request):
  ingest_failover  lines of the Loghub HDFS sample posted in requests of 5,
                   the owner of the source partition killed with SIGKILL
                   right after the last 202 (checkpoint_interval 3s: most
                   of what it acknowledged is covered by no completed
                   checkpoint yet), more lines posted to the new owner:
                   the committed output holds every line that got a 202,
                   exactly once.
  ingest_return    a poster keeps sending while the owner is killed and
                   started again (the partition moves back to it, and must
                   gather what the interim owner acknowledged meanwhile):
                   every line that got a 202 is in the output; only lines
                   of a request answered "not acknowledged" (503) or not
                   answered at all may be there twice.
"""

import collections
import http.client
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
import cluster_test as C  # noqa: E402

TOPOLOGY = """name: ingest
settings:
  checkpoint_interval: %(ckpt)s
sources:
  - name: in
    kind: http
    listen: 127.0.0.1:%(port)d
sinks:
  - name: out
    kind: jsonl
    input: in
    path: %(path)s
"""


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(port, lines, timeout=20):
    """POST lines as text; (status, body text), or (None, reason) when no
    answer came (refused, reset: nothing was acknowledged)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/v1/logs", body="\n".join(lines).encode(),
                  headers={"Content-Type": "text/plain"})
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        c.close()


class Poster:
    """Sends each request until it gets a 202, noting which lines got one
    and which were ever answered 503 "not acknowledged" or not answered at
    all (the connection closed by a listener that stops): they may be in
    the log all the same, and a retry delivers them twice."""

    def __init__(self, port):
        self.port = port
        self.acked = []
        self.maybe_twice = set()
        self.statuses = collections.Counter()

    def send(self, lines, deadline=C.DEADLINE):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            st, text = post(self.port, lines)
            self.statuses[st] += 1
            if st == 202:
                self.acked += lines
                return
            if st is None or (st == 503 and "not acknowledged" in text):
                # appended perhaps: a retry may deliver the lines twice
                self.maybe_twice.update(lines)
            time.sleep(0.05)
        raise AssertionError("no 202 for a request within %.0f s (last "
                             "answers %r)" % (deadline, self.statuses))


def hdfs_lines():
    log, _ = ct.loghub("HDFS")
    with open(log, encoding="utf-8") as f:
        return [ln.rstrip("\n") for ln in f]


def committed(parts):
    out = []
    for ln in C.cluster_output(parts):
        out.append(json.loads(ln)["message"])
    return out


def owner_of(cl, alive, part="in/0"):
    for i in alive:
        s = cl.status(i)
        if s:
            for x in s["assignments"]:
                if x["topology"] == "ingest" and x["partition"] == part:
                    return int(x["owner"][1:]), x["standbys"]
    return None


def deploy(cl, ckpt):
    port = free_port()
    out = os.path.join(cl.dir, "results.jsonl")
    y = os.path.join(cl.dir, "ingest.yaml")
    with open(y, "w") as f:
        f.write(TOPOLOGY % {"ckpt": ckpt, "port": port, "path": out})
    cl.start_all()
    C.wait_for("all nodes alive", lambda: C.all_alive(cl))
    C.run_cli("deploy", y, "--node", cl.http(0), *cl.cli())
    # placed with a standby, and the source answering
    C.wait_for("the source placed with a standby",
               lambda: (owner_of(cl, range(cl.n)) or (0, []))[1])
    C.wait_for("the source listening",
               lambda: post(port, [])[0] is not None)
    return port, out + ".d"


def check_output(parts, poster, deadline=90):
    want = collections.Counter(poster.acked)
    def complete():
        got = collections.Counter(committed(parts))
        return got if all(got[k] >= 1 for k in want) else None
    try:
        got = C.wait_for("every acknowledged line in the output", complete,
                         deadline)
    except AssertionError:
        got = collections.Counter(committed(parts))
        lost = [k for k in want if got[k] == 0]
        raise AssertionError("%d of %d acknowledged lines lost, e.g. %r" % (
            len(lost), len(want), lost[:3]))
    twice = [k for k, n in got.items()
             if n > 1 and k not in poster.maybe_twice]
    assert not twice, "%d lines twice, e.g. %r (answers %r)" % (
        len(twice), twice[:3], dict(poster.statuses))
    extra = [k for k in got if k not in want and k not in poster.maybe_twice]
    assert not extra, "lines nobody sent: %r" % extra[:3]
    return got


def case_ingest_failover(cl):
    lines = hdfs_lines()
    port, parts = deploy(cl, "3s")
    owner, standbys = owner_of(cl, range(cl.n))
    print("source owned by n%d, standby %s" % (owner, standbys))
    p = Poster(port)
    first, second = lines[:1000], lines[1000:1400]
    for i in range(0, len(first), 5):
        p.send(["a%d %s" % (i + k, ln)
                for k, ln in enumerate(first[i:i + 5])])
    cl.kill(owner)
    before = len(committed(parts))
    print("n%d killed after %d acknowledged lines, %d committed" % (
        owner, len(p.acked), before))
    assert before < len(p.acked), \
        "the kill came after everything was committed: nothing tested"
    alive = [i for i in range(cl.n) if i != owner]
    t0 = time.monotonic()
    C.wait_for("a new owner of the source",
               lambda: (owner_of(cl, alive) or (owner,))[0] != owner)
    for i in range(0, len(second), 5):
        p.send(["b%d %s" % (i + k, ln)
                for k, ln in enumerate(second[i:i + 5])])
    print("new owner n%d took requests %.2f s after the kill" % (
        owner_of(cl, alive)[0], time.monotonic() - t0))
    got = check_output(parts, p)
    print("%d acknowledged lines, %d in the output, answers %r" % (
        len(p.acked), sum(got.values()), dict(p.statuses)))


def case_ingest_return(cl):
    lines = hdfs_lines()
    port, parts = deploy(cl, "2s")
    owner, _ = owner_of(cl, range(cl.n))
    p = Poster(port)
    stop = threading.Event()
    failed = []

    def keep_posting():
        i = 0
        try:
            while not stop.is_set():
                chunk = lines[(i * 5) % 2000:(i * 5) % 2000 + 5]
                p.send(["c%d/%d %s" % (i, k, ln)
                        for k, ln in enumerate(chunk)], deadline=120)
                i += 1
        except AssertionError as e:
            failed.append(str(e))

    th = threading.Thread(target=keep_posting)
    th.start()
    try:
        C.wait_for("requests acknowledged", lambda: len(p.acked) > 200)
        cl.kill(owner)
        alive = [i for i in range(cl.n) if i != owner]
        C.wait_for("a new owner of the source",
                   lambda: (owner_of(cl, alive) or (owner,))[0] != owner)
        n0 = len(p.acked)
        C.wait_for("the new owner acknowledging",
                   lambda: len(p.acked) > n0 + 200)
        print("n%d killed; n%d took over" % (owner,
                                             owner_of(cl, alive)[0]))
        cl.start(owner)
        C.wait_for("the source back on n%d" % owner,
                   lambda: (owner_of(cl, range(cl.n)) or (None,))[0] ==
                   owner, 120)
        n1 = len(p.acked)
        C.wait_for("n%d acknowledging again" % owner,
                   lambda: len(p.acked) > n1 + 200, 120)
    finally:
        stop.set()
        th.join()
    assert not failed, failed[0]
    got = check_output(parts, p, 120)
    print("%d acknowledged lines, %d in the output, answers %r" % (
        len(p.acked), sum(got.values()), dict(p.statuses)))


CASES = {
    "ingest_failover": case_ingest_failover,
    "ingest_return": case_ingest_return,
}


def main():
    ct.BINARY = os.path.abspath(sys.argv[1])
    C.run_case(CASES, "ls-ingest-", (ct.Skip,))


if __name__ == "__main__":
    main()
