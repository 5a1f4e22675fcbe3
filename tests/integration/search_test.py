#!/usr/bin/env python3
"""search_test.py -- end-to-end tests of full-text search: the
`logstream search` command and the `index` stage.

    python3 search_test.py BINARY CASE

The helpers are cli_test.py's; the cases are:

  search_cli    `logstream search --file` on Loghub samples: for words,
                AND, OR, NOT and phrases the hit set (every line, a limit
                above the file's) equals a grep-like scan of the file
                written here, hits come best first with the highlights on
                the query's words; --limit, --from/--to, field:value; a
                malformed query exits 2 naming its position; --help.
  search_stage  the `index` stage in topologies: events pass on unchanged
                (every one, with and without a store and checkpoints);
                parameters out of range are refused at FILE:LINE:COL.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path, q, write  # noqa: E402

WORD = re.compile(rb'[A-Za-z0-9_\x80-\xff]+')


def words(line):
    return [w.lower() for w in WORD.findall(line)]


def file_lines(log):
    with open(log, 'rb') as f:
        return [ln.rstrip(b'\r\n') for ln in f.read().split(b'\n')
                if ln.rstrip(b'\r\n')]


def has_phrase(ws, ph):
    n = len(ph)
    return any(ws[i:i + n] == ph for i in range(len(ws) - n + 1))


def search(log, query, *extra):
    rc, out, err = ct.run(['search', '--file', log, '--json',
                           '--limit', '10000'] + list(extra) + [query])
    check_eq(rc, 0, 'search %r: exit status (stderr %r)' % (query, err))
    return [json.loads(ln) for ln in out.decode().split('\n') if ln]


def check_order(hits, what):
    for a, b in zip(hits, hits[1:]):
        check(a['score'] > b['score'] or
              (a['score'] == b['score'] and a['line'] < b['line']),
              '%s: hits out of order: %r then %r' % (what, a, b))


def case_search_cli():
    for system in ('HDFS', 'OpenSSH', 'Apache'):
        log, _ = ct.loghub(system)
        lines = file_lines(log)
        ws = [words(ln) for ln in lines]
        # words of the file: a common one, a rarer one, and a phrase
        freq = {}
        for w in ws:
            for t in set(w):
                freq[t] = freq.get(t, 0) + 1
        alpha = sorted((c, t) for t, c in freq.items()
                       if re.fullmatch(rb'[a-z]{4,}', t))
        common, rare = alpha[-1][1].decode(), alpha[len(alpha) // 2][1].decode()
        mid = alpha[len(alpha) * 3 // 4][1].decode()
        first = ws[0]
        phrase = [first[1], first[2]]
        cases = [
            (common, lambda w: common.encode() in w),
            (rare, lambda w: rare.encode() in w),
            ('%s %s' % (common, mid),
             lambda w: common.encode() in w and mid.encode() in w),
            ('%s OR %s' % (rare, mid),
             lambda w: rare.encode() in w or mid.encode() in w),
            ('%s -%s' % (common, mid),
             lambda w: common.encode() in w and mid.encode() not in w),
            ('"%s %s"' % (phrase[0].decode(), phrase[1].decode()),
             lambda w: has_phrase(w, phrase)),
            ('NOT (%s OR %s)' % (common, rare),
             lambda w: common.encode() not in w and rare.encode() not in w),
        ]
        for query, pred in cases:
            want = {i + 1 for i, w in enumerate(ws) if pred(w)}
            hits = search(log, query)
            got = [h['line'] for h in hits]
            check_eq(len(got), len(set(got)), '%s [%s]: lines once'
                     % (system, query))
            check_eq(set(got), want, '%s [%s]: hit set' % (system, query))
            check_order(hits, '%s [%s]' % (system, query))
            for h in hits:
                text = h['text'].encode()
                check_eq(text, lines[h['line'] - 1], 'text of line %d'
                         % h['line'])
                for off, n in h['highlights']:
                    tok = text[off:off + n].lower()
                    check(tok in query.encode().lower(),
                          '%s [%s]: highlight %r' % (system, query, tok))
        # --limit: the best N of the full ranking
        full = search(log, common)
        rc, out, err = ct.run(['search', '--file', log, '--json',
                               '--limit', '3', common])
        check_eq(rc, 0, '--limit: exit status')
        top = [json.loads(ln) for ln in out.decode().split('\n') if ln]
        check_eq([h['line'] for h in top], [h['line'] for h in full[:3]],
                 '--limit 3: the first three of the ranking')

    # field:value and a time range on the HDFS sample (level is the
    # 4th column; times are yymmdd hhmmss in 2008)
    log, _ = ct.loghub('HDFS')
    lines = file_lines(log)
    want = {i + 1 for i, ln in enumerate(lines) if ln.split()[3] == b'WARN'}
    got = {h['line'] for h in search(log, 'level:warning')}
    check_eq(got, want, 'level:warning')
    hits = search(log, '*', '--from', '2008-11-09T21:00:00Z',
                  '--to', '2008-11-09T22:00:00Z')
    want = {i + 1 for i, ln in enumerate(lines)
            if ln.startswith(b'081109 21')}
    check(len(want) > 10, 'test bug: %d lines in the hour' % len(want))
    check_eq({h['line'] for h in hits}, want, 'an hour of lines')

    # text output: score, line number, the line with [highlights]
    rc, out, err = ct.run(['search', '--file', log, '--limit', '1',
                           'PacketResponder'])
    check_eq(rc, 0, 'text output: exit status')
    m = re.fullmatch(rb'(\d+\.\d{4})  (\d+)  (.*)\n', out)
    check(m is not None and b'[PacketResponder]' in m.group(3),
          'text output %r' % out)

    # malformed queries: exit 2, the position (1-based) and a caret
    for query, col in (('error AND', 10), ('(a OR b', 1), ('a "b', 3),
                       ('host:', 6), ('a ) b', 3)):
        rc, out, err = ct.run(['search', '--file', log, query])
        check_eq(rc, 2, '[%s]: exit status' % query)
        check('query:%d: ' % col in err, '[%s]: position in %r'
              % (query, err))
        check_eq(out, b'', '[%s]: no output' % query)
    for args, code in ((['--help'], 0), ([], 2), (['--file', log], 2),
                       (['--file', path('nosuch.log'), 'x'], 1),
                       (['--file', log, '--limit', '0', 'x'], 2),
                       (['--file', log, '--from', 'yesterday', 'x'], 2),
                       (['--file', log, '--format', 'nosuch', 'x'], 2)):
        rc, out, err = ct.run(['search'] + args)
        check_eq(rc, code, 'search %r: exit status (stderr %r)'
                 % (args, err))
        if code == 0:
            check(b'usage: logstream search' in out, '--help text')


def index_topology(name, log, out, parts, extra=''):
    return '''name: %s
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
  - name: idx
    kind: index
    input: parse
    key: service
    partitions: %d
    retention: 1h
    max_segment_docs: 300
%ssinks:
  - name: out
    kind: jsonl
    input: idx
    path: %s
''' % (name, q(log), parts, extra, q(out))


def case_search_stage():
    log, _ = ct.loghub('HDFS')
    # the reference: the same pipeline without the index stage
    ref_out = path('ref.jsonl')
    ref = write('ref.yaml', index_topology('ref', log, ref_out, 1).replace(
        'input: idx', 'input: parse'))
    ct.run_ok(ref, 'reference run')
    want = sorted(json.dumps(e, sort_keys=True)
                  for e in ct.read_jsonl(ref_out))
    check_eq(len(want), 2000, 'reference: events')
    for n, (parts, data) in enumerate(((1, False), (3, True))):
        out = path('out%d.jsonl' % n)
        topo = write('idx%d.yaml' % n, index_topology(
            'idx-%d' % n, log, out, parts,
            '    fields: [pid]\n' if n else ''))
        ct.run_ok(topo, 'index run %d' % n,
                  ['--data-dir', path('d%d' % n)] if data else [])
        got = sorted(json.dumps(e, sort_keys=True)
                     for e in ct.read_jsonl(out))
        check_eq(got, want, 'run %d: every event passes unchanged' % n)

    # parameters at FILE:LINE:COL
    good = index_topology('bad', log, path('x.jsonl'), 2)
    for what, old, new, rx in (
            ('retention', 'retention: 1h', 'retention: 10ms', 'retention'),
            ('segment', 'max_segment_docs: 300', 'max_segment_docs: 5',
             'max_segment_docs'),
            ('fields', 'max_segment_docs: 300',
             'max_segment_docs: 300\n    fields: [9lives]', 'field'),
            ('key', '    key: service\n', '', 'key')):
        text = good.replace(old, new)
        check(text != good, 'test bug: %s' % what)
        p = write('bad-%s.yaml' % what, text)
        rc, out, err = ct.run(['validate', p])
        check_eq(rc, 1, '%s: exit status (stderr %r)' % (what, err))
        m = re.search(r'^%s:(\d+):(\d+): (.*)$' % re.escape(p), err, re.M)
        check(m is not None and re.search(rx, m.group(3)),
              '%s: not a FILE:LINE:COL diagnostic: %r' % (what, err))


CASES = {
    'search_cli': case_search_cli,
    'search_stage': case_search_stage,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: search_test.py BINARY CASE\ncases: %s\n'
                         % ' '.join(sorted(CASES)))
        return 2
    ct.CASES[argv[2]] = CASES[argv[2]]
    return ct.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
