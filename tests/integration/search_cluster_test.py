#!/usr/bin/env python3
"""Full-text search over a 3-node cluster of real `logstream node`
processes on 127.0.0.1 (cluster_test.py's Cluster, query_test.py's
helpers): an `index` stage of 3 partitions over the HDFS sample (read in
place), searched through GET /v1/search/STAGE on every node and through
`logstream search --node`, against a grep-like reference computed here from
the file: the hit sets of words, AND, OR, NOT, phrases and field:value, the
BM25 scores of word queries computed here with the statistics of the whole
file (so the two-phase global statistics are checked), the same answer from
every node, a malformed query answered 400 with its position.

Usage: search_cluster_test.py LOGSTREAM_BINARY CASE

Every wait polls a condition with a generous deadline; nothing is timed.
"""
import json
import math
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_test as ct  # noqa: E402
import query_test as qt  # noqa: E402
from query_test import check  # noqa: E402

WORD = re.compile(r'[A-Za-z0-9_\x80-\uffff]+')

TOPOLOGY = """name: hdfs-search
settings:
  checkpoint_interval: 200ms
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
  - name: idx
    kind: index
    input: parse
    key: component
    partitions: 3
    retention: 100000h
sinks:
  - name: out
    kind: "null"
    input: idx
""" % json.dumps(qt.HDFS)


def messages():
    """(message, level, component) of each line: "yymmdd hhmmss pid LEVEL
    component: message"."""
    out = []
    with open(qt.HDFS, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\r\n").split(" ", 5)
            out.append((parts[5], parts[3], parts[4][:-1]))
    return out


def words(s):
    return [w.lower() for w in WORD.findall(s)]


def search(cl, i, q, limit=10000):
    return qt.answer(cl, i, "/v1/search/idx", [("q", q),
                                               ("limit", str(limit))])


def bm25(docs, terms):
    """{doc index: score} of every doc with a term, BM25 as docs/search.md
    says (k1 1.2, b 0.75, Lucene's IDF), whole-file statistics."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    df = {t: sum(1 for d in docs if t in d) for t in terms}
    out = {}
    for i, d in enumerate(docs):
        s = 0.0
        for t in terms:
            tf = d.count(t)
            if tf:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                s += idf * tf / (tf + 1.2 * (0.25 + 0.75 * len(d) / avgdl))
        if s > 0:
            out[i] = s
    return out


def case_search(cl):
    rows = messages()
    docs = [words(m) for m, _, _ in rows]
    qt.start(cl)
    qt.deploy(cl, "hdfs-search", TOPOLOGY)

    def indexed():
        st, _, body = qt.get(cl, 0, "/v1/search/idx", [("q", "*"),
                                                       ("limit", "1")])
        if st != 200:
            return None
        doc = json.loads(body)
        check(doc["docs"] <= 2000, "more documents than lines")
        return doc if doc["docs"] == 2000 else None
    doc = ct.wait_for("every line indexed", indexed, qt.DEADLINE)
    check(doc["partitions"] == 3, "3 partitions: %r" % doc)

    def has(ws, w):
        return w in ws

    def phrase(ws, ph):
        return any(ws[k:k + len(ph)] == ph for k in range(len(ws)))
    cases = [
        ("packetresponder", lambda i: has(docs[i], "packetresponder")),
        ("received block", lambda i: has(docs[i], "received") and
         has(docs[i], "block")),
        ("served OR deleting", lambda i: has(docs[i], "served") or
         has(docs[i], "deleting")),
        ("block -blockmap", lambda i: has(docs[i], "block") and
         not has(docs[i], "blockmap")),
        ('"received block"', lambda i: phrase(docs[i], ["received",
                                                        "block"])),
        ("level:warn", lambda i: rows[i][1] == "WARN"),
        ("component:dfs.FSNamesystem",
         lambda i: rows[i][2] == "dfs.FSNamesystem"),
        ("NOT (block OR packetresponder)",
         lambda i: not has(docs[i], "block") and
         not has(docs[i], "packetresponder")),
    ]
    for q, pred in cases:
        want = sorted(rows[i][0] for i in range(len(rows)) if pred(i))
        answers = [search(cl, i, q) for i in range(cl.n)]
        got = sorted(h["text"] for h in answers[0]["hits"])
        check(got == want, "[%s]: %d hits, want %d" % (q, len(got),
                                                       len(want)))
        for i in range(1, cl.n):
            check(answers[i]["hits"] == answers[0]["hits"],
                  "[%s]: n%d answers otherwise than n0" % (q, i))
        print("[%s]: %d hits, equal from every node" % (q, len(got)))

    # scores: BM25 with the statistics of the whole file (two phases)
    for q in ("packetresponder", "received block", "served OR deleting"):
        terms = [w for w in words(q) if w not in ("or",)]
        ref = bm25(docs, terms)
        hits = search(cl, 1, q, 10)["hits"]
        best = sorted(ref.values(), reverse=True)[:10]
        check(len(hits) == min(10, len(best)), "[%s]: top 10" % q)
        for h, s in zip(hits, best):
            check(abs(h["score"] - s) < 1e-6,
                  "[%s]: score %.9f, reference %.9f" % (q, h["score"], s))
        for h in hits:
            k = next(i for i in range(len(rows)) if rows[i][0] == h["text"])
            check(abs(ref[k] - h["score"]) < 1e-6, "[%s]: %r" % (q, h))
        for h in hits:
            for off, n in h["highlights"]:
                tok = h["text"].encode()[off:off + n].decode().lower()
                check(tok in terms, "[%s]: highlight %r" % (q, tok))
    print("scores equal BM25 over the whole file")

    # a malformed query: 400 with the byte offset
    st, _, body = qt.get(cl, 2, "/v1/search/idx", [("q", "block AND (x")])
    check(st == 400, "malformed: %d %r" % (st, body))
    err = json.loads(body)
    check(err["position"] == 10 and "query:11:" in err["error"], err)
    qt.error_of(cl, 0, "/v1/search/idx", [], 400, ["q="])
    qt.error_of(cl, 0, "/v1/search/parse", [("q", "x")], 404,
                ["parse stage"])
    qt.error_of(cl, 0, "/v1/search/idx", [("q", "x"), ("key", "y")], 400,
                ["'key'"])

    # logstream search --node
    r = ct.run_cli("search", "--node", cl.http(2), "--stage", "idx",
                   "--limit", "3", "packetresponder")
    doc = json.loads(r.stdout)
    check(doc["count"] == 3, r.stdout)
    r = ct.run_cli("search", "--node", cl.http(0), "--stage", "idx",
                   "--text", "--limit", "2", "served")
    check("2 hit(s) of 2000 documents" in r.stdout, r.stdout)
    r = ct.run_cli("search", "--node", cl.http(0), "--stage", "idx",
                   "(oops", check=False)
    check(r.returncode == 2 and "query:1:" in r.stderr, r.stderr)
    print("logstream search --node")


CASES = {"search": case_search}


def main():
    ct.BIN = os.path.abspath(sys.argv[1])
    case = sys.argv[2]
    if not os.path.exists(qt.HDFS):
        print("skip: Loghub samples not found under %s" % qt.LOGHUB)
        sys.exit(77)
    work = tempfile.mkdtemp(prefix="ls-search-", dir=os.getcwd())
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
