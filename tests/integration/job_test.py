#!/usr/bin/env python3
"""job_test.py -- `logstream job run`, the MapReduce engine, against
references computed independently in this test (plain Python counting,
`sort | uniq -c`, exact percentiles).

    python3 job_test.py BINARY CASE

Cases:
  job_count        a 100 K-line corpus of ../shared/tools/make_corpus.py:
                   count by (service, level) equals the corpus's own
                   metadata, `sort | uniq -c` and a Python count; the
                   same bytes with 1 and 3 workers and tiny or large
                   splits (no line lost or counted twice at a split
                   boundary); top -n and CSV.
  job_words        word counts of every message equal a Python count with
                   the documented tokenisation.
  job_percentiles  p50/p90/p99/max of a numeric field per key within 1 %
                   of the exact nearest-rank values; distinct counts
                   exact.
  job_errors       unknown job or option (2), missing file (1, named),
                   percentiles without --field, --help.
"""

import collections
import csv
import io
import json
import math
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path  # noqa: E402

_CORPUS = {}


def corpus():
    """(jsonl path, meta) of a 100 K-line corpus made in the work dir."""
    if _CORPUS:
        return _CORPUS['jsonl'], _CORPUS['meta']
    tool = os.path.join(ct.datasets(), '..', 'tools', 'make_corpus.py')
    if not os.path.exists(tool):
        raise ct.Skip('make_corpus.py not found next to the datasets')
    out = path('corpus')
    p = subprocess.run([sys.executable, tool, '100K', '--out', out],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    check_eq(p.returncode, 0, 'make_corpus (stderr %r)' % p.stderr)
    with open(os.path.join(out, 'logs-100K.meta.json')) as f:
        meta = json.load(f)
    _CORPUS.update(jsonl=os.path.join(out, 'logs-100K.jsonl'), meta=meta)
    return _CORPUS['jsonl'], meta


def job(args, rc=0):
    r, out, err = ct.run(['job', 'run'] + args)
    check_eq(r, rc, 'job %s: exit status (stderr %r)' % (' '.join(args),
                                                        err[-500:]))
    return out.decode(), err


def rows(out):
    return [json.loads(ln) for ln in out.splitlines()]


def case_job_count():
    jsonl, meta = corpus()
    out, err = job(['count', '--by', 'service,level', '--format', 'json',
                    jsonl])
    check('job: done: 100000 lines (0 skipped)' in err,
          'summary line: %r' % err[-300:])
    got = {'%s %s' % (r['service'], r['level']): r['count']
           for r in rows(out)}
    check_eq(got, meta['count_by_service_level'], 'counts vs the corpus')
    # sort | uniq -c over the fields extracted by Python
    with open(jsonl) as f:
        pairs = ['%s %s\n' % (d['service'], d['level'])
                 for d in map(json.loads, f)]
    u = subprocess.run('sort | uniq -c', shell=True, input=''.join(pairs),
                       stdout=subprocess.PIPE, text=True, check=True).stdout
    ref = {}
    for ln in u.splitlines():
        n, k = ln.strip().split(' ', 1)
        ref[k] = int(n)
    check_eq(got, ref, 'counts vs sort | uniq -c')
    counts = [r['count'] for r in rows(out)]
    check_eq(counts, sorted(counts, reverse=True), 'largest first')
    for extra in (['--workers', '1'], ['--workers', '3', '--split-size',
                                         '4096'],
                  ['--workers', '2', '--split-size', '1000000']):
        o, _ = job(['count', '--by', 'service,level', '--format', 'json',
                    '--quiet'] + extra + [jsonl])
        check_eq(o, out, 'output with %s' % ' '.join(extra))
    o, _ = job(['top', '-n', '3', '--by', 'service', '--format', 'json',
                '--quiet', jsonl])
    by_service = collections.Counter()
    for k, n in ref.items():
        by_service[k.split(' ')[0]] += n
    check_eq([(r['service'], r['count']) for r in rows(o)],
             sorted(by_service.items(), key=lambda x: (-x[1], x[0]))[:3],
             'top 3 services')
    o, _ = job(['count', '--by', 'service', '--format', 'json', '--csv',
                '--quiet', jsonl])
    table = list(csv.reader(io.StringIO(o)))
    check_eq(table[0], ['service', 'count'], 'CSV header')
    check_eq({r[0]: int(r[1]) for r in table[1:]}, dict(by_service),
             'CSV rows')


def words_of(msg):
    """The documented tokenisation: runs of ASCII letters and digits and
    bytes >= 0x80, ASCII lower-cased."""
    b = msg.encode('utf-8')
    out, cur = [], bytearray()
    for c in b:
        if (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c >= 128:
            cur.append(c + 32 if 65 <= c <= 90 else c)
        elif cur:
            out.append(bytes(cur))
            cur = bytearray()
    if cur:
        out.append(bytes(cur))
    return out


def case_job_words():
    jsonl, _ = corpus()
    out, _ = job(['words', '--format', 'json', '--quiet', '--workers', '3',
                  '--split-size', '65536', jsonl])
    got = {r['word']: r['count'] for r in rows(out)}
    ref = collections.Counter()
    with open(jsonl) as f:
        for d in map(json.loads, f):
            ref.update(w.decode('utf-8', 'replace') for w in
                       words_of(d['message']))
    check_eq(len(got), len(ref), 'distinct words')
    bad = [(w, got.get(w), n) for w, n in ref.items() if got.get(w) != n]
    check(not bad, 'word counts differ: %r' % bad[:5])
    o, _ = job(['words', '-n', '10', '--format', 'json', '--quiet', jsonl])
    check_eq([r['count'] for r in rows(o)],
             sorted(ref.values(), reverse=True)[:10], 'top 10 words')


def nearest_rank(vals, q):
    vals = sorted(vals)
    return vals[max(1, math.ceil(q * len(vals))) - 1]


def case_job_percentiles():
    log, _ = ct.loghub('HDFS')
    out, _ = job(['percentiles', '--by', 'level', '--field', 'pid',
                  '--quiet', '--split-size', '5000', log])
    ref = collections.defaultdict(list)
    with open(log) as f:
        for ln in f:
            t = ln.split()
            ref[t[3]].append(int(t[2]))
    got = {r['level']: r for r in rows(out)}
    check_eq(sorted(got), sorted(ref), 'levels')
    for lvl, vals in ref.items():
        r = got[lvl]
        check_eq(r['count'], len(vals), '%s count' % lvl)
        check_eq(r['max'], max(vals), '%s max' % lvl)
        for name, q in (('p50', .5), ('p90', .9), ('p99', .99)):
            want = nearest_rank(vals, q)
            check(abs(r[name] - want) <= 0.01 * want + 1e-9,
                  '%s %s: %r, exact %r' % (lvl, name, r[name], want))
    out, _ = job(['distinct', '--by', 'level', '--field', 'pid', '--quiet',
                  log])
    got = {r['level']: r['distinct'] for r in rows(out)}
    check_eq(got, {k: len(set(v)) for k, v in ref.items()},
             'distinct pids per level')
    jsonl, _ = corpus()
    out, _ = job(['distinct', '--by', 'service', '--field', 'host',
                  '--format', 'json', '--quiet', '--workers', '3', jsonl])
    hosts = collections.defaultdict(set)
    with open(jsonl) as f:
        for d in map(json.loads, f):
            hosts[d['service']].add(d['host'])
    check_eq({r['service']: r['distinct'] for r in rows(out)},
             {k: len(v) for k, v in hosts.items()},
             'distinct hosts per service')


def case_job_errors():
    _, err = job(['nosuch', 'x'], rc=2)
    check('unknown job' in err, err)
    _, err = job(['count', '--bogus', 'x'], rc=2)
    check('unknown option --bogus' in err, err)
    missing = path('missing.log')
    _, err = job(['count', missing], rc=1)
    check('cannot read %s' % missing in err, err)
    log, _ = ct.loghub('HDFS')
    _, err = job(['percentiles', '--by', 'level', log], rc=1)
    check('percentiles needs a field' in err, err)
    out, _ = job(['--help'])
    check('usage: logstream job run JOB' in out, out)


CASES = {
    'job_count': case_job_count,
    'job_words': case_job_words,
    'job_percentiles': case_job_percentiles,
    'job_errors': case_job_errors,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: job_test.py BINARY CASE\ncases: %s\n'
                         % ' '.join(sorted(CASES)))
        return 2
    ct.CASES[argv[2]] = CASES[argv[2]]
    return ct.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
