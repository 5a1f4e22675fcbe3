#!/usr/bin/env python3
"""Restore of a cluster run whose sources end at different times: real
`logstream node` processes on 127.0.0.1 (the helpers of cluster_test.py),
the committed output compared with a failure-free `logstream run` by the
chaos verifier (chaos/verify.py).

Usage: cluster_restore_test.py LOGSTREAM_BINARY CASE

Case `short_source`: two seeded generators feed the topology, `short`
(400 events, done in under half a second) and `long` (18 s at 2000/s).
Both reach the window `win` through `parse`; `short` alone also feeds
`parse_short` -> `win_short` -> the sink `out_short`, so a whole branch of
partitions ends with the short source.  Once that branch's final
checkpoint F is committed (its sink's last part, named by F, is on disk)
and a later checkpoint K > F completed, the owner of `short/0` is killed
with SIGKILL.  Every partition of the branch then has no state of its own
at K, only its final state at F: the survivors must restore it from F
(held by the old owner's standby, not deleted by garbage collection), and
after the killed node restarts the next restore must find it again (the
partitions re-save their final state in every new run).  The output must
equal the failure-free run: nothing lost, nothing duplicated.

Every wait polls with a generous deadline; measured times are printed,
never asserted.
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "chaos"))

import cluster_test as ct  # noqa: E402
import verify  # noqa: E402

SHORT_COUNT = 400
LONG_COUNT = 36000
LONG_RATE = 2000

TOPOLOGY = """name: twosrc
settings:
  watermark_delay: 1s
  checkpoint_interval: 300ms

sources:
  - name: short
    kind: generator
    seed: 5
    count: %(short)d
    rate: 1000
    start: 2024-01-01T00:00:00Z
    format: json

  - name: long
    kind: generator
    seed: 6
    count: %(long)d
    rate: %(rate)d
    start: 2024-01-01T00:00:00Z
    format: json

stages:
  - name: parse
    kind: parse
    input: [short, long]
    format: json
    partitions: 2

  - name: win
    kind: window
    input: parse
    key: service
    partitions: 8
    size: 1s
    aggregates: [count, sum(bytes), max(latency_ms)]

  - name: parse_short
    kind: parse
    input: short
    format: json

  - name: win_short
    kind: window
    input: parse_short
    key: service
    partitions: 2
    size: 100ms
    aggregates: [count, max(latency_ms)]

sinks:
  - name: out
    kind: jsonl
    input: win
    path: %(out)s

  - name: out_short
    kind: jsonl
    input: win_short
    path: %(out_short)s
"""


def part_ids(d):
    """Checkpoint ids of the committed parts in directory d."""
    ids = []
    if os.path.isdir(d):
        for name in os.listdir(d):
            m = verify.PART_RE.match(name)
            if m:
                ids.append(int(m.group(2), 16))
    return ids


def map_run(cl, alive):
    """(run epoch, checkpoint) of the map as the first answering node of
    `alive` sees it, or None."""
    for i in alive:
        s = cl.status(i)
        if s and s.get("runs"):
            r = s["runs"][0]
            return r["run_epoch"], r["checkpoint"], \
                r.get("checkpoint_epoch", 0)
    return None


def owner_of(cl, alive, partition):
    for i in alive:
        s = cl.status(i)
        if not s:
            continue
        for a in s["assignments"]:
            if a["topology"] == "twosrc" and a["partition"] == partition:
                return a["owner"]
    return None


def resumed_after(cl, alive, epoch):
    """The map's run once a run epoch newer than `epoch` has a completed
    checkpoint of its own."""
    r = map_run(cl, alive)
    if r and r[0] > epoch and r[2] == r[0]:
        return r
    return None


def case_short_source(cl):
    out = os.path.join(cl.dir, "out.jsonl")
    out_short = os.path.join(cl.dir, "out_short.jsonl")
    ypath = os.path.join(cl.dir, "twosrc.yaml")
    with open(ypath, "w") as f:
        f.write(TOPOLOGY % {"short": SHORT_COUNT, "long": LONG_COUNT,
                            "rate": LONG_RATE, "out": out,
                            "out_short": out_short})
    # the failure-free reference runs meanwhile (same rates, same input)
    ref = verify.Reference(ct.BIN, ypath, os.path.join(cl.dir, "ref"))
    ref.start()
    try:
        run_cluster(cl, ypath, out_short)
        ref_paths = ref.wait(180)
    finally:
        ref.kill()
    lines = verify.read_lines(ypath)
    # every event is counted once per window it reaches: the short
    # source's events reach two
    v = verify.compare(verify.read_reference(ref_paths),
                       verify.read_cluster(verify.jsonl_sinks(lines)),
                       LONG_COUNT + 2 * SHORT_COUNT)
    sys.stdout.write(v.text())
    assert v.ok, "cluster output differs from the failure-free run"
    # both branches produced results, the short one in a single part (its
    # windows close only at its end of stream)
    assert v.counts["results"] > 20, v.counts
    assert len(part_ids(out_short + ".d")) == 1


def run_cluster(cl, ypath, out_short):
    everyone = list(range(cl.n))
    cl.start_all()
    ct.wait_for("all nodes alive", lambda: ct.all_alive(cl))
    ct.run_cli("deploy", ypath, "--node", cl.http(0))
    t0 = time.monotonic()

    # the short branch has ended: its final checkpoint F is committed
    fin = ct.wait_for("the short branch's final part",
                      lambda: part_ids(out_short + ".d"), 60)
    F = max(fin)
    print("short branch final checkpoint %#x committed after %.2f s" % (
        F, time.monotonic() - t0))
    # ... and a later checkpoint K of the same run epoch completed
    def later():
        r = map_run(cl, everyone)
        return r if r and r[1] > F and (r[1] >> 32) == (F >> 32) else None
    epoch, K, _ = ct.wait_for("a checkpoint after the final one", later, 60)
    assert not ct.run_finished(cl, everyone), \
        "the long source ended already: nothing left to test"
    print("checkpoint %#x > %#x completed (run epoch %d)" % (K, F, epoch))

    owner = owner_of(cl, everyone, "short/0")
    assert owner, "no owner for short/0"
    victim = int(owner[1:])
    survivors = [i for i in everyone if i != victim]
    cl.kill(victim)
    t1 = time.monotonic()
    print("killed %s (owner of short/0)" % owner)
    epoch2, K2, _ = ct.wait_for(
        "the survivors to resume from the short branch's final state",
        lambda: resumed_after(cl, survivors, epoch), 60)
    print("survivors resumed: run epoch %d, checkpoint %#x, %.2f s after "
          "the kill" % (epoch2, K2, time.monotonic() - t1))

    # the killed node comes back: one more restore, on three nodes, of
    # partitions it may not hold
    cl.start(victim)
    ct.wait_for("the restarted node alive", lambda: ct.all_alive(cl))
    r3 = ct.wait_for("a run with the restarted node",
                     lambda: resumed_after(cl, everyone, epoch2), 60)
    print("restarted %s: run epoch %d, checkpoint %#x" % (
        owner, r3[0], r3[1]))
    ct.wait_for("the run to finish", lambda: ct.run_finished(cl, everyone),
                180)
    print("finished after %.2f s" % (time.monotonic() - t0))


CASES = {
    "short_source": case_short_source,
}

# What sanitizers and valgrind write into a node's log.
TOOL_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                "runtime error:", "== Invalid ", "definitely lost: [1-9]")


def tool_reports(cl):
    """Lines of the node logs in which a sanitizer reported an error."""
    import re
    pat = re.compile("|".join(TOOL_REPORTS))
    found = []
    for i in range(cl.n):
        path = os.path.join(cl.dir, "n%d.log" % i)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                found += ["n%d: %s" % (i, l.rstrip()) for l in f
                          if pat.search(l)]
    return found


def main():
    ct.BIN = os.path.abspath(sys.argv[1])
    case = sys.argv[2]
    work = tempfile.mkdtemp(prefix="ls-restore-", dir=os.getcwd())
    cl = ct.Cluster(3, work)
    ok = False
    try:
        CASES[case](cl)
        ok = True
    finally:
        cl.stop_all()
        reports = tool_reports(cl)
        if reports:
            sys.stderr.write("\n".join(reports[:20]) + "\n")
        if not ok or reports:
            cl.dump_logs()
        shutil.rmtree(work, ignore_errors=True)
    assert not reports, "a node reported a memory or UB error"
    print("ok")


if __name__ == "__main__":
    main()
