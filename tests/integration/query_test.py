#!/usr/bin/env python3
"""Interactive queries (docs/queries.md) on a 3-node cluster of real
`logstream node` processes on 127.0.0.1 (the Cluster helper of
cluster_test.py): GET /v1/windows/{stage} and /v1/sessions/{stage} asked
of every node, compared with a ground truth computed here from the Loghub
sample files (read in place) by plain Python, and `logstream query`.

Usage: query_test.py LOGSTREAM_BINARY CASE

Every wait polls a condition with a generous deadline; nothing is timed.
"""
import calendar
import collections
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_test as ct  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LOGHUB = os.path.abspath(os.path.join(HERE, "..", "..", "..", "shared",
                                      "datasets", "loghub"))
HDFS = os.path.join(LOGHUB, "HDFS", "HDFS_2k.log")
SSH = os.path.join(LOGHUB, "OpenSSH", "OpenSSH_2k.log")
DEADLINE = 90.0
HOUR_MS = 3600 * 1000


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def get(cl, i, path, params=(), timeout=30):
    """GET path?params (a list of pairs, encoded here) from node i: (status,
    headers, body bytes)."""
    url = "http://%s%s" % (cl.http(i), path)
    if params:
        url += "?" + urllib.parse.urlencode(list(params))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_raw(cl, i, path_and_query):
    return get(cl, i, path_and_query)


def answer(cl, i, path, params=()):
    """The JSON answer of a query that must succeed."""
    st, hd, body = get(cl, i, path, params)
    check(st == 200, "%s %r on n%d: %d %r" % (path, params, i, st, body))
    return json.loads(body)


def iso_ms(s):
    """ms since the epoch of "YYYY-MM-DDTHH:MM:SS.mmmZ"."""
    t = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    return t * 1000 + int(s[20:23])


def ms_iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        ".%03dZ" % (ms % 1000)


# ---------------------------------------------------------------------------
# ground truths, from the raw files
# ---------------------------------------------------------------------------

def hdfs_windows():
    """{(window start ms, component, level): count} of 1 h tumbling
    windows over the HDFS sample: "yymmdd hhmmss pid LEVEL component: ..."
    """
    want = collections.Counter()
    with open(HDFS, encoding="utf-8") as f:
        for line in f:
            d, t, _pid, level, comp = line.split(" ", 5)[:5]
            check(comp.endswith(":"), "test bug: %r" % line)
            ts = calendar.timegm((2000 + int(d[:2]), int(d[2:4]),
                                  int(d[4:6]), int(t[:2]), int(t[2:4]),
                                  int(t[4:6]))) * 1000
            want[(ts - ts % HOUR_MS, comp[:-1], level)] += 1
    check(sum(want.values()) == 2000, "test bug: HDFS lines")
    return dict(want)


MONTHS = {m: i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def ssh_lines(followed):
    """(host, pid, year-free time "MM-DDTHH:MM:SS") of each OpenSSH line.
    A followed file's last line without a newline is not read (the writer
    may still be writing it: docs/topology.md, file source); read once, it
    is."""
    with open(SSH, "rb") as f:
        data = f.read().decode("utf-8")
    lines = data.split("\n")
    if lines[-1] == "" or followed:
        lines.pop()  # "" after a final newline, or the unterminated line
    out = []
    for ln in lines:
        mon, day, hms, host, proc = ln.split(None, 5)[:5]
        check(proc.startswith("sshd[") and proc.endswith("]:"),
              "test bug: %r" % ln)
        out.append((host, proc[5:-2], "%02d-%02dT%s" % (MONTHS[mon],
                                                        int(day), hms)))
    return out


def ssh_sessions(lines, gap_s):
    """{(host, pid, start "MM-DDTHH:MM:SS"): events}: each key's events in
    time order, split where two are more than gap_s apart."""
    per = collections.defaultdict(list)
    for host, pid, t in lines:
        per[(host, pid)].append(t)
    out = {}
    for key, ts in per.items():
        secs = sorted((calendar.timegm(time.strptime("2000-" + t,
                                                     "%Y-%m-%dT%H:%M:%S")),
                       t) for t in ts)
        start = prev = None
        for s, t in secs:
            if start is None or s - prev > gap_s:
                start = t
                out[key + (start,)] = 0
            out[key + (start,)] += 1
            prev = s
    return out


# ---------------------------------------------------------------------------
# topologies
# ---------------------------------------------------------------------------

WINDOWS = """name: hdfs
settings:
  checkpoint_interval: 200ms
  # nothing closes while the file is followed: every window stays open
  watermark_delay: 100000h
  idle_timeout: 100000h
sources:
  - name: src
    kind: file
    path: %s
    follow: true
stages:
  - name: parse
    kind: parse
    input: src
    format: log4j
    partitions: 2
  - name: w
    kind: window
    input: parse
    key: [component, level]
    partitions: 4
    size: 1h
sinks:
  - name: out
    kind: "null"
    input: w
""" % json.dumps(HDFS)

SESSIONS = """name: %s
settings:
  checkpoint_interval: 200ms
  idle_timeout: 100000h
sources:
  - name: src
    kind: file
    path: %s
    follow: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: rfc3164
  - name: sshd
    kind: session
    input: parse
    key: [host, pid]
    partitions: 3
    gap: 10s
    keep_closed: 100000
sinks:
  - name: out
    kind: "null"
    input: sshd
"""


def deploy(cl, name, text):
    p = os.path.join(cl.dir, name + ".yaml")
    with open(p, "w") as f:
        f.write(text)
    r = ct.run_cli("deploy", p, "--node", cl.http(0))
    check(json.loads(r.stdout)["deployed"] == name, r.stdout)
    # every node's map has it (until then a node answers "no stage": 404)
    ct.wait_for("%s in every node's map" % name, lambda: all(
        s is not None and name in s["topologies"]
        for s in (cl.status(i) for i in range(cl.n) if i in cl.procs)))


def start(cl):
    cl.start_all()
    ct.wait_for("all nodes alive", lambda: ct.all_alive(cl))


def window_rows(doc):
    """{(start ms, component, level): count} of a windows answer; every
    row is an open window (final false)."""
    got = {}
    for r in doc["rows"]:
        check(r["stage"] == "w" and r["final"] is False, "row %r" % r)
        check(iso_ms(r["window_end"]) - iso_ms(r["window_start"]) ==
              HOUR_MS, "row %r" % r)
        k = (iso_ms(r["window_start"]), r["key"]["component"],
             r["key"]["level"])
        check(k not in got, "window %r twice" % (k,))
        got[k] = r["count"]
    return got


def all_windows(cl, i):
    """The windows answer of node i, all rows, or None while a partition
    restores (503, with Retry-After)."""
    st, hd, body = get(cl, i, "/v1/windows/w", [("limit", "1000000")])
    if st == 503:
        check(hd.get("Retry-After"), "503 without Retry-After")
        return None
    check(st == 200, "windows on n%d: %d %r" % (i, st, body))
    return json.loads(body)


def wait_counted(cl, i, total):
    """Wait until node i's answer counts `total` events (never more)."""
    def done():
        doc = all_windows(cl, i)
        if doc is None:
            return None
        n = sum(r["count"] for r in doc["rows"])
        check(n <= total, "more events than lines: %d" % n)
        return doc if n == total else None
    return ct.wait_for("every line counted (n%d)" % i, done, DEADLINE)


def compare(got, want, what):
    if got != want:
        extra = {k: v for k, v in got.items() if want.get(k) != v}
        missing = {k: v for k, v in want.items() if got.get(k) != v}
        fail("%s: %d rows, want %d; wrong/extra %r; missing %r" % (
            what, len(got), len(want), list(extra.items())[:5],
            list(missing.items())[:5]))


def error_of(cl, i, path, params, status, words):
    st, _, body = get(cl, i, path, params)
    check(st == status, "%s %r: status %d, want %d (%r)" % (
        path, params, st, status, body))
    msg = json.loads(body)["error"]
    for w in words:
        check(w in msg, "%s %r: error %r does not say %r" % (
            path, params, msg, w))


def case_windows(cl):
    """Open windows of a window stage (4 partitions, key [component,
    level]) over the followed HDFS sample: the whole answer from each node
    equals the ground truth; by key (routed to one partition), by time
    range, with a limit, in text through `logstream query`; strict
    parameter errors."""
    want = hdfs_windows()
    start(cl)
    deploy(cl, "hdfs", WINDOWS)
    doc = wait_counted(cl, 0, 2000)
    for i in range(cl.n):
        doc = answer(cl, i, "/v1/windows/w", [("limit", "1000000")])
        check(doc["topology"] == "hdfs" and doc["partitions"] == 4 and
              doc["truncated"] is False and doc["count"] == len(want),
              "answer head %r" % {k: doc[k] for k in doc if k != "rows"})
        compare(window_rows(doc), want, "all windows from n%d" % i)
        # rows come ordered by window start, then key
        order = [(iso_ms(r["window_start"]), r["key"]["component"],
                  r["key"]["level"]) for r in doc["rows"]]
        check(order == sorted(order), "rows not ordered")
    print("%d windows, %d events, equal from every node" % (
        len(want), sum(want.values())))

    # by key: one partition, from each node; '$' and '.' percent-encoded
    keys = sorted({(c, lv) for _, c, lv in want})
    for n, (comp, level) in enumerate(keys):
        i = n % cl.n
        doc = answer(cl, i, "/v1/windows/w", [("key", comp), ("key", level)])
        check(doc["partitions"] == 1, "a key asks one partition")
        sub = {k: v for k, v in want.items() if k[1:] == (comp, level)}
        compare(window_rows(doc), sub, "key %s/%s" % (comp, level))
    print("%d keys asked one by one" % len(keys))

    # a prefix of the first key value
    doc = answer(cl, 1, "/v1/windows/w", [("prefix", "dfs.Data"),
                                          ("limit", "100000")])
    compare(window_rows(doc), {k: v for k, v in want.items()
                               if k[1].startswith("dfs.Data")}, "prefix")

    # a time range: windows overlapping [from, to)
    starts = sorted({k[0] for k in want})
    lo, hi = starts[len(starts) // 3], starts[2 * len(starts) // 3]
    frm, to = lo + 1000, hi  # overlaps the window of lo, not that of hi
    doc = answer(cl, 2, "/v1/windows/w", [("from", ms_iso(frm)),
                                          ("to", str(to)),
                                          ("limit", "100000")])
    compare(window_rows(doc), {k: v for k, v in want.items()
                               if k[0] < to and k[0] + HOUR_MS > frm},
            "time range")

    # a limit keeps the first rows in order and says the answer is cut
    doc = answer(cl, 0, "/v1/windows/w", [("limit", "7")])
    check(doc["count"] == 7 and doc["truncated"] is True, "limit head")
    first7 = sorted(want)[:7]
    compare(window_rows(doc), {k: want[k] for k in first7}, "limit 7")
    # open=0: closed results only -- none yet
    doc = answer(cl, 0, "/v1/windows/w", [("open", "0")])
    check(doc["rows"] == [], "closed windows while nothing closed")

    # logstream query, text and json
    comp, level = keys[0]
    r = ct.run_cli("query", "--node", cl.http(1), "windows", "w", "--key",
                   comp, "--key", level, "--format", "text")
    sub = {k: v for k, v in want.items() if k[1:] == (comp, level)}
    check(("%d row(s)" % len(sub)) in r.stdout, r.stdout)
    # the table cuts long values to their column
    check(comp[:10] in r.stdout and "window_start" in r.stdout, r.stdout)
    r = ct.run_cli("query", "--node", cl.http(2), "windows", "w", "--limit",
                   "3")
    check(json.loads(r.stdout)["count"] == 3, r.stdout)
    r = ct.run_cli("query", "--help")
    check("windows|sessions" in r.stdout and "--key" in r.stdout, r.stdout)
    r = ct.run_cli("query", "--node", cl.http(0), "windows", "nosuch",
                   check=False)
    check(r.returncode == 1 and "no stage 'nosuch'" in r.stderr, r.stderr)
    r = ct.run_cli("query", "windows", check=False)
    check(r.returncode == 2 and "usage" in r.stderr, r.stderr)

    # strict parameters: each error names what is wrong
    W = "/v1/windows/w"
    error_of(cl, 0, W, [("colour", "red")], 400, ["unknown", "'colour'"])
    error_of(cl, 0, W, [("from", "yesterday")], 400, ["'from'", "time"])
    error_of(cl, 0, W, [("to", "2008-13-01T00:00:00Z")], 400, ["'to'"])
    error_of(cl, 0, W, [("from", "2000"), ("to", "1000")], 400,
             ["before"])
    error_of(cl, 0, W, [("limit", "0")], 400, ["'limit'"])
    error_of(cl, 0, W, [("limit", "5"), ("limit", "6")], 400, ["twice"])
    error_of(cl, 0, W, [("key", "dfs.FSNamesystem")], 400,
             ["2 key field"])
    error_of(cl, 0, W, [("open", "maybe")], 400, ["'open'"])
    error_of(cl, 0, W, [("open", "1"), ("active", "1")], 400, ["twice"])
    error_of(cl, 1, "/v1/windows/nosuch", [], 404, ["no stage 'nosuch'"])
    error_of(cl, 1, "/v1/sessions/w", [], 404, ["window stage"])
    error_of(cl, 1, "/v1/windows/parse", [], 404, ["parse stage"])
    for bad in ("/v1/windows/w?key=%zz&key=a", "/v1/windows/w?key=%4",
                "/v1/windows/w?key=a%00b&key=c", "/v1/windows/w?limit"):
        st, _, body = get_raw(cl, 2, bad)
        check(st == 400, "%s: %d %r" % (bad, st, body))
    print("parameter errors: 400/404 naming the problem")


def kill_window_owner(cl):
    """Once a checkpoint completed: kill -9 a node (not the leader) that
    owns partitions of window stage w of topology hdfs; (its index, the
    partitions it owned, the other nodes)."""
    s = ct.wait_for("a first checkpoint", lambda: ct.first_checkpoint(cl, 0))
    own = ct.owners(s, "hdfs")
    victim = next(int(own[p][1:]) for p in sorted(own)
                  if p.startswith("w/") and own[p] != s["leader"])
    moved = sorted(p for p in own if own[p] == "n%d" % victim and
                   p.startswith("w/"))
    cl.kill(victim)
    return victim, moved, [i for i in range(cl.n) if i != victim]


def case_windows_failover(cl):
    """kill -9 the owner of a partition of the window stage: the
    surviving nodes answer 503 with Retry-After while the partition
    restores, then the same windows as before, from the new owner."""
    want = hdfs_windows()
    start(cl)
    deploy(cl, "hdfs", WINDOWS)
    wait_counted(cl, 0, 2000)
    victim, moved, survivors = kill_window_owner(cl)
    t0 = time.monotonic()
    unavailable = 0

    def answered():
        nonlocal unavailable
        for i in survivors:
            doc = all_windows(cl, i)
            if doc is None:
                unavailable += 1
                return None
            n = sum(r["count"] for r in doc["rows"])
            check(n <= 2000, "more events than lines after failover")
            if n < 2000:
                return None
        return doc
    doc = ct.wait_for("answers after the failover", answered, DEADLINE)
    print("n%d killed (owner of %s); full answers %.2f s later (%d 503s)" %
          (victim, ", ".join(moved), time.monotonic() - t0, unavailable))
    s = ct.wait_for("re-placement", lambda: (lambda x: x if x and all(
        ct.owners(x, "hdfs")[p] != "n%d" % victim for p in moved) else None)(
        cl.status(survivors[0])))
    for i in survivors:
        compare(window_rows(answer(cl, i, "/v1/windows/w",
                                   [("limit", "1000000")])), want,
                "after failover, from n%d" % i)
    # by key, each partition that moved
    keys = sorted({(c, lv) for _, c, lv in want})
    for comp, level in keys:
        doc = answer(cl, survivors[0], "/v1/windows/w", [("key", comp),
                                                         ("key", level)])
        compare(window_rows(doc), {k: v for k, v in want.items()
                                   if k[1:] == (comp, level)},
                "key %s/%s after failover" % (comp, level))


# The same stage with windows that close: the watermark follows the newest
# event (the sample is in time order), and a second after the last line the
# idle rule moves the partitions that saw no recent event too, so every hour
# but the last closes; the file is followed, so the run goes on.
WINDOWS_CLOSING = WINDOWS.replace(
    "  # nothing closes while the file is followed: every window stays open\n"
    "  watermark_delay: 100000h\n  idle_timeout: 100000h\n",
    "  watermark_delay: 0s\n  idle_timeout: 1s\n")


def split_rows(doc):
    """({key: count} of the open windows, {key: count} of the closed
    results) of a windows answer."""
    opened, closed = {}, {}
    for r in doc["rows"]:
        k = (iso_ms(r["window_start"]), r["key"]["component"],
             r["key"]["level"])
        d = closed if r["final"] else opened
        check(k not in d, "window %r twice" % (k,))
        d[k] = r["count"]
    return opened, closed


def case_windows_closed_failover(cl):
    """Closed results kept for queries are part of the checkpoints: kill
    -9 the owner of window partitions after every hour but the last has
    closed; the survivors answer the same closed results, those of the
    partitions that moved included (restored from the checkpoint, not
    recomputed: their windows closed before it), and the open last hour."""
    want = hdfs_windows()
    last = max(k[0] for k in want)
    want_open = {k: v for k, v in want.items() if k[0] == last}
    want_closed = {k: v for k, v in want.items() if k[0] < last}
    check(len(want_closed) > 20 and want_open and
          "idle_timeout: 1s" in WINDOWS_CLOSING, "test bug: windows")
    start(cl)
    deploy(cl, "hdfs", WINDOWS_CLOSING)

    def complete(i):
        doc = all_windows(cl, i)
        if doc is None:
            return None
        opened, closed = split_rows(doc)
        return (opened, closed) if (opened, closed) == (want_open,
                                                        want_closed) else None
    ct.wait_for("the closed and open windows (n0)", lambda: complete(0),
                DEADLINE)
    victim, moved, survivors = kill_window_owner(cl)
    s = ct.wait_for("re-placement", lambda: (lambda x: x if x and all(
        ct.owners(x, "hdfs")[p] != "n%d" % victim for p in moved) else None)(
        cl.status(survivors[0])))
    for i in survivors:
        ct.wait_for("the same windows from n%d" % i, lambda: complete(i),
                    DEADLINE)
    print("n%d killed (owner of %s): %d closed results and %d open "
          "windows answered by the survivors" % (
              victim, ", ".join(moved), len(want_closed), len(want_open)))


def session_rows(doc):
    """{(host, pid, start "MM-DDTHH:MM:SS"): (events, open)}."""
    got = {}
    for r in doc["rows"]:
        check(r["stage"] == "sshd", "row %r" % r)
        k = (r["key"]["host"], r["key"]["pid"], r["session_start"][5:19])
        check(k not in got, "session %r twice" % (k,))
        got[k] = (r["events"], r["open"])
    return got


def sessions_of(cl, i, topo, extra=()):
    st, hd, body = get(cl, i, "/v1/sessions/sshd",
                       [("topology", topo), ("limit", "1000000")] +
                       list(extra))
    if st == 503:
        check(hd.get("Retry-After"), "503 without Retry-After")
        return None
    check(st == 200, "sessions of %s: %d %r" % (topo, st, body))
    return session_rows(json.loads(body))


def case_sessions(cl):
    """Sessions per sshd process (key [host, pid], gap 10s) of the OpenSSH
    sample in two topologies with a stage of the same name: one follows
    the file (its last line has no newline, so it is not read: 1999
    lines), one reads it once (2000 lines; at the end every session
    closes).  Open and closed sessions together equal a sessionisation
    computed here; open=1 / open=0 split them; a key asks one partition;
    the shared stage name needs topology=."""
    start(cl)
    deploy(cl, "ssh-follow", SESSIONS % ("ssh-follow", json.dumps(SSH),
                                         "true"))
    deploy(cl, "ssh-once", SESSIONS % ("ssh-once", json.dumps(SSH),
                                       "false"))
    for topo, followed in (("ssh-follow", True), ("ssh-once", False)):
        lines = ssh_lines(followed)
        want = ssh_sessions(lines, 10)
        check(len(want) > 100, "test bug: %d sessions" % len(want))

        def counted():
            got = sessions_of(cl, 1, topo)
            if got is None:
                return None
            n = sum(e for e, _ in got.values())
            check(n <= len(lines), "%s: more events than lines" % topo)
            if n < len(lines):
                return None
            # the run that read the file once ends: everything closes
            if not followed and any(o for _, o in got.values()):
                return None
            return got
        got = ct.wait_for("%s: every line in a session" % topo, counted,
                          DEADLINE)
        compare({k: e for k, (e, _) in got.items()}, want, topo)
        opened = sessions_of(cl, 2, topo, [("active", "1")])
        closed = sessions_of(cl, 0, topo, [("open", "0")])
        check(all(o for _, o in opened.values()) and
              not any(o for _, o in closed.values()), "open flags")
        check(not set(opened) & set(closed), "open and closed overlap")
        compare({k: e for k, (e, _) in {**opened, **closed}.items()}, want,
                topo + ": open + closed")
        if followed:
            check(opened, "a followed file leaves sessions open")
        # by key: the sessions of one process
        host, pid, _ = sorted(want)[len(want) // 2]
        sub = sessions_of(cl, 2, topo, [("key", host), ("key", pid)])
        compare({k: e for k, (e, _) in sub.items()},
                {k: v for k, v in want.items() if k[:2] == (host, pid)},
                topo + ": key %s/%s" % (host, pid))
        print("%s: %d lines, %d sessions (%d open), equal" % (
            topo, len(lines), len(want), len(opened)))
    error_of(cl, 0, "/v1/sessions/sshd", [], 400, ["ssh-", "topology="])
    r = ct.run_cli("query", "--node", cl.http(1), "sessions", "sshd",
                   "--topology", "ssh-once", "--limit", "5", "--closed")
    doc = json.loads(r.stdout)
    check(doc["count"] == 5 and doc["truncated"] is True and
          all(x["open"] is False for x in doc["rows"]), r.stdout)

NAB_SERIES = os.path.abspath(os.path.join(
    LOGHUB, "..", "nab", "artificialWithAnomaly", "art_daily_jumpsup.csv"))

ALERTS = """name: alerts
settings:
  checkpoint_interval: 200ms
  idle_timeout: 100000h
sources:
  - name: pts
    kind: file
    path: %s
    follow: false
  - name: logs
    kind: file
    path: %s
    follow: false
stages:
  - name: parse
    kind: parse
    input: pts
    format: json
  - name: det
    kind: anomaly
    input: parse
    key: service
    partitions: 2
    metric: mean
    value: value
    interval: 5m
  - name: plog
    kind: parse
    input: logs
    format: auto
  - name: tpl
    kind: patterns
    input: plog
sinks:
  - name: out
    kind: "null"
    input: det
  - name: none
    kind: "null"
    input: tpl
"""


def nab_events(dst):
    """Two services, each the NAB series (one shifted by a day): JSON
    lines into dst; the alert count of the offline detector per service."""
    import csv
    import datetime
    with open(NAB_SERIES, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for svc, shift in (("a", 0), ("b", 1)):
        for r in rows:
            t = datetime.datetime.strptime(r["timestamp"],
                                           "%Y-%m-%d %H:%M:%S")
            t += datetime.timedelta(days=shift)
            out.append((t, json.dumps({
                "ts": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "service": svc,
                "msg": "point", "value": r["value"]})))
    out.sort()
    with open(dst, "w") as f:
        f.write("".join(ln + "\n" for _, ln in out))
    res = dst + ".offline.csv"
    r = ct.run_cli("anomaly", "--input", NAB_SERIES, "--output", res)
    return int(r.stderr.rsplit(" alerts", 1)[0].rsplit(" ", 1)[1])


def case_alerts_patterns(cl):
    """An anomaly stage (2 partitions, key service) over two copies of a
    NAB series and a patterns stage over the HDFS sample, on the cluster:
    GET /v1/alerts/det on every node lists, per service, as many alerts as
    the offline detector raises on the series (each once, with score and
    expected range); a key asks one partition; GET /v1/patterns/tpl lists
    the templates with counts adding up to the sample's lines, equal to
    what `logstream patterns` prints for the file."""
    if not os.path.exists(NAB_SERIES):
        print("skip: NAB series not found")
        sys.exit(77)
    pts = os.path.join(cl.dir, "points.jsonl")
    per_service = nab_events(pts)
    check(per_service >= 1, "test bug: the series raises no alert")
    start(cl)
    deploy(cl, "alerts", ALERTS % (json.dumps(pts), json.dumps(HDFS)))

    def alerts_of(i, params=()):
        st, hd, body = get(cl, i, "/v1/alerts/det", list(params))
        if st == 503:
            return None
        check(st == 200, "alerts on n%d: %d %r" % (i, st, body))
        return json.loads(body)

    def complete():
        doc = alerts_of(1)
        if doc is None or doc["count"] < 2 * per_service:
            return None
        return doc
    doc = ct.wait_for("every alert", complete, DEADLINE)
    check(doc["kind"] == "anomaly" and doc["partitions"] == 2, doc)
    by = collections.Counter(r["key"]["service"] for r in doc["rows"])
    check(by == {"a": per_service, "b": per_service},
          "alerts per service %r, offline %d each" % (by, per_service))
    seen = set()
    for r in doc["rows"]:
        check(r["alert"] is True and r["score"] >= 0.4 and
              r["expected_low"] is not None and
              r["detector"] != "none" and isinstance(r["open"], bool),
              "row %r" % r)
        k = (r["key"]["service"], r["time"])
        check(k not in seen, "alert %r twice" % (k,))
        seen.add(k)
    ta = sorted(iso_ms(r["time"]) for r in doc["rows"]
                if r["key"]["service"] == "a")
    tb = sorted(iso_ms(r["time"]) - 24 * HOUR_MS for r in doc["rows"]
                if r["key"]["service"] == "b")
    check(ta == tb, "the shifted copy alerts at the same points: %r %r"
          % (ta, tb))
    for i in range(cl.n):
        other = alerts_of(i)
        check(other is not None and other["count"] == doc["count"],
              "n%d answers the same alerts" % i)
    one = alerts_of(2, [("key", "b")])
    check(one["partitions"] == 1 and
          all(r["key"]["service"] == "b" for r in one["rows"]) and
          one["count"] == per_service, "key=b: %r" % one)

    # templates: the cluster's stage against the offline command
    r = ct.run_cli("patterns", HDFS)
    want = {}
    for ln in r.stdout.splitlines():
        parts = ln.split(None, 2)
        if len(parts) == 3 and parts[0].isdigit():
            want[parts[1]] = (int(parts[0]), parts[2])

    def templates():
        st, _, body = get(cl, 0, "/v1/patterns/tpl", [("limit", "100000")])
        if st == 503:
            return None
        check(st == 200, "patterns: %d %r" % (st, body))
        d = json.loads(body)
        if sum(x["count"] for x in d["rows"]) < 2000:
            return None
        return d
    d = ct.wait_for("every line mined", templates, DEADLINE)
    got = {x["template_id"]: (x["count"], x["template"]) for x in d["rows"]}
    check(sum(c for c, _ in got.values()) == 2000, "counts add up to the "
          "lines: %r" % got)
    check(got == want, "templates: cluster %r, offline %r" % (got, want))
    r = ct.run_cli("query", "--node", cl.http(2), "alerts", "det",
                   "--format", "text")
    check("%d row(s)" % (2 * per_service) in r.stdout, r.stdout)
    # kill -9 the owner of an anomaly partition: the partition restores
    # on its standby from the checkpoint, and each key's latest alert is
    # in its state, so the answers list the same alerts again
    before = sorted((r["key"]["service"], r["time"], r["score"])
                    for r in doc["rows"])
    s = ct.wait_for("a first checkpoint", lambda: ct.first_checkpoint(cl, 0))
    own = ct.owners(s, "alerts")
    victim = next(int(own[p][1:]) for p in sorted(own)
                  if p.startswith("det/") and own[p] != s["leader"])
    moved = sorted(p for p in own if own[p] == "n%d" % victim and
                   p.startswith("det/"))
    survivors = [i for i in range(cl.n) if i != victim]
    cl.kill(victim)
    ct.wait_for("re-placement", lambda: (lambda x: x if x and all(
        ct.owners(x, "alerts").get(p) not in (None, "n%d" % victim)
        for p in moved) else None)(cl.status(survivors[0])))

    def same_again():
        for i in survivors:
            d = alerts_of(i)
            if d is None:
                return None
            rows = sorted((r["key"]["service"], r["time"], r["score"])
                          for r in d["rows"])
            if rows != before:
                return None
        return True
    ct.wait_for("the same alerts after the failover", same_again, DEADLINE)
    print("alerts: %d per service, on every node, and again after n%d "
          "(owner of %s) was killed; %d templates equal" % (
              per_service, victim, ", ".join(moved), len(got)))


CASES = {
    "windows": case_windows,
    "windows_failover": case_windows_failover,
    "windows_closed_failover": case_windows_closed_failover,
    "sessions": case_sessions,
    "alerts_patterns": case_alerts_patterns,
}


def main():
    ct.BIN = os.path.abspath(sys.argv[1])
    case = sys.argv[2]
    if not os.path.exists(HDFS) or not os.path.exists(SSH):
        print("skip: Loghub samples not found under %s" % LOGHUB)
        sys.exit(77)
    work = tempfile.mkdtemp(prefix="ls-query-", dir=os.getcwd())
    cl = ct.Cluster(3, work)
    ok = False
    try:
        CASES[case](cl)
        ok = True
    finally:
        cl.stop_all()
        if not ok:
            cl.dump_logs()
        if ok or not os.environ.get("LS_KEEP_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
