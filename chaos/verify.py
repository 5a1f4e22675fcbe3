#!/usr/bin/env python3
"""chaos/verify.py -- check a cluster's output against a failure-free run.

    verify.py TOPOLOGY --bin LOGSTREAM [--reference-dir DIR]
              [--failovers FILE.json] [--json]

TOPOLOGY is the file that was deployed; its jsonl sinks have absolute
paths.  In a cluster a jsonl sink with `path: P` writes committed parts
P.d/p<partition>-<checkpoint hex>.jsonl, one per completed checkpoint,
so the union of the parts is the effectively-once output.

The reference is `logstream run` of the same file with every sink path
rewritten into a temporary directory (or the files already in
--reference-dir, named by each sink's basename): a failure-free run on the
same seeded input.  Every line of both outputs is one of
  - a window result: {"id": ..., "count": N, <aggregates>, ...}, identified
    by its stable "id";
  - a dead letter: {"reason", "stage", "source", "offset", ...},
    identified by (sink, stage, source, offset, reason).

Printed: events in (the sum of the generator sources' `count`), events
accounted (sum of window counts + dead letters), and per identity
  lost        in the reference, missing in the cluster output
  duplicated  present more than once across all parts
  wrong       same id, a different count, aggregate, key or window
  unexpected  in the cluster output, never in the reference
plus, when --failovers names a JSON list of seconds (null = resumption
never observed), their p50/p99/max.  Exit status 1 on any lost,
duplicated, wrong or unexpected record or unaccounted event (the reasons
are printed), 2 on usage or I/O errors, else 0.

Only the Python standard library.  The topology is read line by line:
sinks and sources must be block-style list items (`- name: x` followed by
`key: value` lines), as in chaos/topology.yaml.
"""
import argparse
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

PART_RE = re.compile(r"^p(\d+)-([0-9a-fA-F]+)\.jsonl$")
SHOW = 20  # identities listed per kind of problem
RESULT_META = ("stage", "window_start", "window_end", "key", "final")


# ---------------------------------------------------------------------------
# topology files
# ---------------------------------------------------------------------------

def _scalar(v):
    """The value of a one-line YAML scalar: comment stripped, unquoted."""
    v = v.strip()
    if v[:1] in ("'", '"'):
        q = v[0]
        end = v.find(q, 1)
        return v[1:end] if end > 0 else v[1:]
    v = re.sub(r"\s+#.*$", "", v)
    return v.strip()


def parse_nodes(lines, section):
    """The list items of a top-level `section:` (sources, stages, sinks):
    [{'key': value, ..., '_lines': {'key': line index}}]."""
    items, cur, inside = [], None, False
    for n, raw in enumerate(lines):
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            inside = line.split(":", 1)[0].strip() == section
            cur = None
            continue
        if not inside:
            continue
        body = line.strip()
        if body.startswith("- "):
            cur = {"_lines": {}}
            items.append(cur)
            body = body[2:].strip()
        if cur is None or ":" not in body:
            continue
        k, v = body.split(":", 1)
        k = k.strip()
        cur[k] = _scalar(v)
        cur["_lines"][k] = n
    return items


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.readlines()


def jsonl_sinks(lines):
    """{sink name: path} of the jsonl sinks."""
    return {s["name"]: s["path"] for s in parse_nodes(lines, "sinks")
            if s.get("kind") == "jsonl" and "path" in s and "name" in s}


def events_in(lines):
    """Sum of the generator sources' `count` (None if one has none or 0)."""
    total = 0
    for s in parse_nodes(lines, "sources"):
        if s.get("kind") != "generator":
            return None
        c = s.get("count", "0")
        if not c.isdigit() or int(c) == 0:
            return None
        total += int(c)
    return total


def topology_name(lines):
    for raw in lines:
        m = re.match(r"^name:\s*(.+)$", raw)
        if m:
            return _scalar(m.group(1))
    return None


def rewrite_sink_paths(lines, new_dir):
    """Lines with each jsonl sink's path replaced by new_dir/<basename>;
    returns (lines, {sink name: new path})."""
    out = list(lines)
    paths = {}
    used = set()
    for s in parse_nodes(lines, "sinks"):
        if s.get("kind") != "jsonl" or "path" not in s:
            continue
        base = os.path.basename(s["path"]) or s["name"]
        if base in used:
            base = s["name"] + "-" + base
        used.add(base)
        p = os.path.join(new_dir, base)
        n = s["_lines"]["path"]
        indent = re.match(r"^(\s*(?:-\s+)?)", out[n]).group(1)
        out[n] = "%spath: %s\n" % (indent, json.dumps(p))
        paths[s["name"]] = p
    return out, paths


# ---------------------------------------------------------------------------
# the reference run
# ---------------------------------------------------------------------------

class Reference:
    """A `logstream run` of a topology with its sinks redirected into dir,
    started in the background: start() then wait().  LS_TEST_WRAPPER, when
    set, names a command to run it under (as for the nodes)."""

    def __init__(self, binary, topology, dir, workers=1):
        self.binary = binary
        self.dir = os.path.abspath(dir)
        os.makedirs(self.dir, exist_ok=True)
        lines = read_lines(topology)
        out, self.paths = rewrite_sink_paths(lines, self.dir)
        self.yaml = os.path.join(self.dir, "reference.yaml")
        with open(self.yaml, "w", encoding="utf-8") as f:
            f.writelines(out)
        self.workers = workers
        self.proc = None
        self.log = os.path.join(self.dir, "reference.log")

    def start(self):
        with open(self.log, "wb") as log:
            w = os.environ.get("LS_TEST_WRAPPER", "").strip()
            self.proc = subprocess.Popen(
                (shlex.split(w) if w else []) +
                [self.binary, "run", self.yaml, "--quiet",
                 "--data-dir", os.path.join(self.dir, "data"),
                 "--workers", str(self.workers)],
                stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.dir)
        return self

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("reference run did not end in %.0f s" %
                               timeout)
        if rc != 0:
            with open(self.log, errors="replace") as f:
                tail = f.read()[-2000:]
            raise RuntimeError("reference run failed (exit %d): %s" %
                               (rc, tail))
        return self.paths

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------
# reading outputs
# ---------------------------------------------------------------------------

class Output:
    """Records of one side: results {id: record}, dead letters
    {identity: record}, and every place each identity occurred."""

    def __init__(self):
        self.results = {}
        self.dead = {}
        self.where = {}     # identity -> ["file:line", ...]
        self.bad = []       # lines that are not records: "file:line: why"
        self.ignored = []   # files in a parts directory that are not parts
        self.parts = 0

    def add(self, sink, rec, where):
        if isinstance(rec, dict) and "id" in rec and "count" in rec:
            ident = ("result", str(rec["id"]))
            table = self.results
        elif isinstance(rec, dict) and "reason" in rec and "offset" in rec:
            ident = ("dead", sink, str(rec.get("stage")),
                     str(rec.get("source")), str(rec.get("offset")),
                     str(rec.get("reason")))
            table = self.dead
        else:
            self.bad.append("%s: neither a window result nor a dead letter"
                            % where)
            return
        self.where.setdefault(ident, []).append(where)
        table.setdefault(ident, rec)

    def read_file(self, sink, path, label=None):
        label = label or path
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                where = "%s:%d" % (label, n)
                try:
                    rec = json.loads(raw.decode("utf-8"))
                except ValueError as e:
                    self.bad.append("%s: not JSON (%s)" % (where, e))
                    continue
                self.add(sink, rec, where)

    def duplicates(self):
        return {k: v for k, v in self.where.items() if len(v) > 1}

    def accounted(self):
        return sum(int(r.get("count", 0)) for r in self.results.values()) + \
            len(self.dead)


def read_reference(paths):
    out = Output()
    for sink, p in sorted(paths.items()):
        if os.path.exists(p):
            out.read_file(sink, p, os.path.basename(p))
    return out


def read_cluster(paths):
    """The union of the committed parts P.d/p*-*.jsonl of every jsonl sink
    {name: P}."""
    out = Output()
    for sink, p in sorted(paths.items()):
        d = p + ".d"
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            full = os.path.join(d, f)
            if PART_RE.match(f) and os.path.isfile(full):
                out.parts += 1
                out.read_file(sink, full,
                              os.path.join(os.path.basename(d), f))
            else:
                out.ignored.append(os.path.join(os.path.basename(d), f))
    return out


# ---------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------

def _num_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        # Floating sums may be added up in another order after a restore.
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def diff_record(ref, got):
    """[(field, reference value, cluster value)] of the fields that
    differ (all fields of both records)."""
    out = []
    for k in sorted(set(ref) | set(got)):
        a, b = ref.get(k, "<missing>"), got.get(k, "<missing>")
        if not _num_equal(a, b):
            out.append((k, a, b))
    return out


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(1, int(math.ceil(p / 100.0 * len(v))))
    return v[k - 1]


def _ident_text(ident):
    if ident[0] == "result":
        return ident[1]
    return "dead-letter sink=%s stage=%s source=%s offset=%s (%s)" % \
        ident[1:]


class Verdict:
    def __init__(self):
        self.lines = []
        self.reasons = []
        self.counts = {}

    def say(self, fmt, *args):
        self.lines.append(fmt % args if args else fmt)

    def fail(self, fmt, *args):
        self.reasons.append(fmt % args if args else fmt)

    @property
    def ok(self):
        return not self.reasons

    def text(self):
        t = list(self.lines)
        if self.ok:
            t.append("verdict: OK (nothing lost, duplicated or wrong)")
        else:
            t.append("verdict: FAILED")
            t += ["  because " + r for r in self.reasons]
        return "\n".join(t) + "\n"


def compare(ref, got, n_in=None, failovers=None, goal_s=2.0):
    """Compare the reference Output with the cluster Output; return a
    Verdict (its text is the report)."""
    v = Verdict()
    ref_ids = set(ref.results) | set(ref.dead)
    got_ids = set(got.results) | set(got.dead)
    lost = sorted(ref_ids - got_ids)
    extra = sorted(got_ids - ref_ids)
    dups = got.duplicates()
    wrong = []
    for ident in sorted(set(ref.results) & set(got.results)):
        d = diff_record(ref.results[ident], got.results[ident])
        if d:
            wrong.append((ident, d))
    for ident in sorted(set(ref.dead) & set(got.dead)):
        d = diff_record(ref.dead[ident], got.dead[ident])
        if d:
            wrong.append((ident, d))

    ref_acc, got_acc = ref.accounted(), got.accounted()
    v.counts = {"events_in": n_in, "accounted": got_acc,
                "reference_accounted": ref_acc, "results": len(got.results),
                "reference_results": len(ref.results),
                "dead_letters": len(got.dead), "parts": got.parts,
                "lost": len(lost), "duplicated": len(dups),
                "wrong": len(wrong), "unexpected": len(extra)}
    v.say("events in:          %s", "unknown" if n_in is None else n_in)
    v.say("events accounted:   %d (window counts %d + dead letters %d; "
          "reference %d)", got_acc, got_acc - len(got.dead), len(got.dead),
          ref_acc)
    v.say("results:            %d in %d parts (reference %d); dead letters"
          " %d (reference %d)", len(got.results), got.parts,
          len(ref.results), len(got.dead), len(ref.dead))
    v.say("lost:               %d", len(lost))
    v.say("duplicated:         %d", len(dups))
    v.say("wrong:              %d", len(wrong))
    v.say("unexpected:         %d", len(extra))

    if failovers is not None:
        seen = [x for x in failovers if x is not None]
        v.counts["failovers"] = len(failovers)
        if seen:
            p50, p99, mx = (percentile(seen, 50), percentile(seen, 99),
                            max(seen))
            v.counts.update({"failover_p50": p50, "failover_p99": p99,
                             "failover_max": mx})
            v.say("failover (kill -> new run epoch with a checkpoint): "
                  "n=%d p50 %.2f s, p99 %.2f s, max %.2f s; goal < %.0f s: "
                  "%s", len(seen), p50, p99, mx, goal_s,
                  "met" if mx < goal_s else "NOT met")
        else:
            v.say("failover: n=0 measured")
        if len(seen) != len(failovers):
            v.say("failover: %d fault(s) without an observed resumption",
                  len(failovers) - len(seen))

    if n_in is not None and ref_acc != n_in:
        v.fail("the reference accounts for %d events of %d (the failure-free"
               " run itself loses events)", ref_acc, n_in)
    if n_in is not None and got_acc != n_in:
        v.fail("the cluster output accounts for %d events of %d (%+d)",
               got_acc, n_in, got_acc - n_in)
    if lost:
        v.fail("%d record(s) of the reference are missing: %s", len(lost),
               ", ".join(_ident_text(i) for i in lost[:SHOW]) +
               (" ..." if len(lost) > SHOW else ""))
    if dups:
        items = sorted(dups.items())
        v.fail("%d record(s) appear more than once: %s", len(dups),
               "; ".join("%s at %s" % (_ident_text(i), ", ".join(w))
                         for i, w in items[:SHOW]) +
               (" ..." if len(dups) > SHOW else ""))
    if wrong:
        v.fail("%d record(s) differ from the reference: %s", len(wrong),
               "; ".join("%s (%s)" % (_ident_text(i), ", ".join(
                   "%s: reference %s, cluster %s" % (f, json.dumps(a),
                                                     json.dumps(b))
                   for f, a, b in d[:4]))
                   for i, d in wrong[:SHOW]) +
               (" ..." if len(wrong) > SHOW else ""))
    if extra:
        v.fail("%d record(s) are not in the reference: %s", len(extra),
               ", ".join(_ident_text(i) for i in extra[:SHOW]) +
               (" ..." if len(extra) > SHOW else ""))
    if got.bad:
        v.fail("%d malformed line(s) in the cluster output: %s",
               len(got.bad), "; ".join(got.bad[:SHOW]))
    if ref.bad:
        v.fail("%d malformed line(s) in the reference: %s", len(ref.bad),
               "; ".join(ref.bad[:SHOW]))
    if got.ignored:
        v.say("ignored %d file(s) that are not committed parts: %s",
              len(got.ignored), ", ".join(got.ignored[:SHOW]))
    return v


def verify(topology, binary=None, reference_dir=None, failovers=None,
           timeout=3600, keep=False):
    """Run (or read) the reference and compare the cluster output of
    `topology` with it.  Returns a Verdict."""
    lines = read_lines(topology)
    sinks = jsonl_sinks(lines)
    for name, p in sinks.items():
        if not os.path.isabs(p):
            raise ValueError("sink '%s' path %r is not absolute (a cluster "
                             "writes relative to each node)" % (name, p))
    tmp = None
    try:
        if reference_dir is None:
            if binary is None:
                raise ValueError("need --bin or --reference-dir")
            tmp = tempfile.mkdtemp(prefix="ls-chaos-ref-")
            ref_paths = Reference(binary, topology, tmp).start().wait(
                timeout)
        else:
            _, ref_paths = rewrite_sink_paths(lines, reference_dir)
        ref = read_reference(ref_paths)
        got = read_cluster(sinks)
        return compare(ref, got, events_in(lines), failovers)
    finally:
        if tmp is not None and not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Compare a cluster's committed output with a "
        "failure-free `logstream run` of the same topology.")
    ap.add_argument("topology", help="the deployed topology file")
    ap.add_argument("--bin", help="the logstream binary (for the reference"
                    " run)")
    ap.add_argument("--reference-dir", help="read the reference from this "
                    "directory (files named by each sink path's basename) "
                    "instead of running it")
    ap.add_argument("--failovers", help="a JSON file: list of failover "
                    "seconds (null = not observed)")
    ap.add_argument("--json", action="store_true",
                    help="also print the counts as one JSON line")
    ap.add_argument("--keep", action="store_true",
                    help="keep the reference's temporary directory")
    a = ap.parse_args(argv)
    failovers = None
    try:
        if a.failovers:
            with open(a.failovers) as f:
                failovers = json.load(f)
        v = verify(a.topology, a.bin, a.reference_dir, failovers,
                   keep=a.keep)
    except (OSError, ValueError, RuntimeError) as e:
        sys.stderr.write("verify: %s\n" % e)
        return 2
    sys.stdout.write(v.text())
    if a.json:
        print(json.dumps(v.counts, sort_keys=True))
    return 0 if v.ok else 1


if __name__ == "__main__":
    sys.exit(main())
