#!/usr/bin/env python3
"""chaos/verify_selftest.py -- proof that chaos/verify.py catches what it
must: a short failure-free `logstream run` of chaos/topology.yaml is the
reference, its output is laid out as a cluster's committed parts, and then
doctored -- a result dropped, duplicated, its count or an aggregate
changed, a dead letter dropped, a foreign id added, a malformed line -- and
verify.py must exit 1 and count exactly that problem (and exit 0 on the
untouched parts, on uncommitted files in a parts directory and on float
sums that differ only in the last bits).

    verify_selftest.py LOGSTREAM_BINARY

Exit status 0 = pass, 1 = fail, 77 = skipped (no binary).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import run as chaos_run  # noqa: E402
import verify  # noqa: E402

VERIFY = os.path.join(HERE, "verify.py")
FAILURES = []


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        sys.stdout.write("FAIL: %s\n" % msg)


def verify_cli(args):
    """Run verify.py; return (exit status, counts dict, stdout)."""
    r = subprocess.run([sys.executable, VERIFY, "--json"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    counts = {}
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            counts = json.loads(line)
    return r.returncode, counts, r.stdout + r.stderr


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.readlines()


def lay_out_parts(ref_paths, sinks, nparts=3):
    """Write each reference file as nparts committed parts P.d/p0-<hex>.jsonl
    of the matching cluster sink path; returns {sink: [[lines of part]]}."""
    layout = {}
    for name, p in sinks.items():
        d = p + ".d"
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        lines = read_lines(ref_paths[name]) if os.path.exists(
            ref_paths[name]) else []
        chunks = [lines[k::nparts] for k in range(nparts)]
        layout[name] = chunks
    return layout


def write_parts(sinks, layout):
    for name, chunks in layout.items():
        d = sinks[name] + ".d"
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for k, chunk in enumerate(chunks):
            ckpt = ((k + 1) << 32) | (k + 7)
            with open(os.path.join(d, "p0-%x.jsonl" % ckpt), "w",
                      encoding="utf-8") as f:
                f.writelines(chunk)


def doctored(layout, fn):
    """A deep copy of layout changed by fn(copy)."""
    c = {k: [list(ch) for ch in v] for k, v in layout.items()}
    fn(c)
    return c


def edit_record(line, **changes):
    rec = json.loads(line)
    rec.update(changes)
    return json.dumps(rec) + "\n"


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        sys.stdout.write("skip: usage verify_selftest.py LOGSTREAM_BINARY\n")
        return 77
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="ls-chaos-selftest-", dir=os.getcwd())
    try:
        return selftest(binary, work)
    finally:
        if not FAILURES:
            shutil.rmtree(work, ignore_errors=True)
        else:
            sys.stdout.write("kept %s\n" % work)


def selftest(binary, work):
    topo = os.path.join(work, "topology.yaml")
    # 3 s of input: 3000 JSON lines and 300 access-log lines (dead letters).
    chaos_run.render_topology(topo, 11, 3, 1000, os.path.join(work, "out"))
    lines = verify.read_lines(topo)
    sinks = verify.jsonl_sinks(lines)
    n_in = verify.events_in(lines)
    check(n_in == 3300, "events in from the topology: %r" % n_in)
    os.makedirs(os.path.join(work, "out"))

    # The reference, once, through the same class verify.py uses.
    refdir = os.path.join(work, "ref")
    ref_paths = verify.Reference(binary, topo, refdir).start().wait(300)
    results = read_lines(ref_paths["results"])
    rejects = read_lines(ref_paths["rejects"])
    # Independent expectations: every JSON line lands in a window, every
    # access-log line is refused by the JSON parser.
    total = sum(json.loads(x)["count"] for x in results)
    check(total == 3000, "reference window counts sum to %d" % total)
    check(len(rejects) == 300, "reference dead letters: %d" % len(rejects))
    check(len(results) > 10, "reference results: %d" % len(results))

    layout = lay_out_parts(ref_paths, sinks)

    def case(name, lay, want_rc, want=None, extra_files=None,
             use_bin=False):
        write_parts(sinks, lay)
        for rel, text in (extra_files or {}).items():
            with open(os.path.join(work, "out", rel), "w") as f:
                f.write(text)
        args = [topo] + (["--bin", binary] if use_bin
                         else ["--reference-dir", refdir])
        rc, counts, out = verify_cli(args)
        check(rc == want_rc, "%s: exit %d, want %d\n%s" % (
            name, rc, want_rc, out))
        for k, v in (want or {}).items():
            check(counts.get(k) == v, "%s: %s = %r, want %r\n%s" % (
                name, k, counts.get(k), v, out))
        sys.stdout.write("%-28s exit %d %s\n" % (name, rc, json.dumps(
            {k: counts.get(k) for k in ("lost", "duplicated", "wrong",
                                        "unexpected", "accounted")})))
        return out

    zero = {"lost": 0, "duplicated": 0, "wrong": 0, "unexpected": 0}

    # 1. Untouched parts: pass, everything accounted (this one runs the
    # reference itself, as run.py's callers would).
    case("clean (own reference run)", layout, 0,
         dict(zero, accounted=3300, events_in=3300, parts=3 * len(sinks)),
         use_bin=True)

    # 2. A result dropped -> lost (and 3300 - its count accounted).
    victim = json.loads(results[5])
    out = case("result dropped", doctored(
        layout, lambda c: c["results"][5 % 3].remove(results[5])), 1,
        dict(zero, lost=1, accounted=3300 - victim["count"]))
    check(victim["id"] in out, "the lost id is named")

    # 3. A result duplicated into another part -> duplicated.
    victim = json.loads(results[4])
    out = case("result duplicated", doctored(
        layout, lambda c: c["results"][(4 + 1) % 3].append(results[4])), 1,
        dict(zero, duplicated=1))
    check(victim["id"] in out and "p0-" in out,
          "the duplicated id and its parts are named")

    # 4. A result duplicated within one part -> duplicated.
    case("result twice in one part", doctored(
        layout, lambda c: c["results"][0].append(c["results"][0][0])), 1,
        dict(zero, duplicated=1))

    # 5. A count changed -> wrong (and the accounting is off by one).
    def bump(c):
        ch = c["results"][7 % 3]
        k = ch.index(results[7])
        ch[k] = edit_record(results[7],
                            count=json.loads(results[7])["count"] + 1)
    out = case("count changed", doctored(layout, bump), 1,
               dict(zero, wrong=1, accounted=3301))
    check(json.loads(results[7])["id"] in out, "the wrong id is named")

    # 6. An aggregate changed -> wrong, accounting unchanged.
    def agg(c):
        ch = c["results"][2 % 3]
        k = ch.index(results[2])
        r = json.loads(results[2])
        ch[k] = edit_record(results[2], sum_bytes=(r["sum_bytes"] or 0) + 1)
    case("aggregate changed", doctored(layout, agg), 1,
         dict(zero, wrong=1, accounted=3300))

    # 7. Float noise in the last bits (another summation order) -> pass.
    def noise(c):
        ch = c["results"][1 % 3]
        k = ch.index(results[1])
        r = json.loads(results[1])
        if r.get("avg_latency_ms") is not None:
            ch[k] = edit_record(results[1], avg_latency_ms=r[
                "avg_latency_ms"] * (1 + 1e-13))
    case("float rounding only", doctored(layout, noise), 0, zero)

    # 8. A dead letter dropped -> lost.
    case("dead letter dropped", doctored(
        layout, lambda c: c["rejects"][0].pop(0)), 1,
        dict(zero, lost=1, accounted=3299))

    # 9. A result the reference never had -> unexpected.
    case("foreign result", doctored(
        layout, lambda c: c["results"][0].append(edit_record(
            results[0], id="win/nosuch,host/1"))), 1,
        dict(zero, unexpected=1))

    # 10. A malformed line in a part -> fail.
    case("malformed line", doctored(
        layout, lambda c: c["results"][0].append("{\"id\": \n")), 1, zero)

    # 11. Uncommitted files in a parts directory are ignored.
    out = case("uncommitted file ignored", layout, 0, zero,
               extra_files={"results.jsonl.d/.p0-99.jsonl.tmp":
                            results[0]})

    # 12. No output at all -> everything lost.
    case("no output", {k: [[]] for k in layout}, 1,
         {"lost": len(results) + len(rejects), "accounted": 0})

    if FAILURES:
        sys.stdout.write("%d check(s) failed\n" % len(FAILURES))
        return 1
    sys.stdout.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
