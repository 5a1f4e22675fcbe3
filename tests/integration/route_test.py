#!/usr/bin/env python3
"""route_test.py -- the `route` stage: content-based routing with a
default route (docs/topology.md, "route").

    python3 route_test.py BINARY CASE

Cases:
  route_loghub   Loghub Hadoop and HDFS samples through route stages (2
                 partitions) with rules on level, component (an attribute),
                 message (quoted text with a space), pid (a number) and a
                 default route or drop: every line lands in exactly the
                 sink of the first rule its CSV row (Level, Component,
                 Content, Pid -- columns the product does not read) matches,
                 or the default's; with drop the unmatched lines are
                 nowhere.
  route_errors   rules that do not parse, a target that does not read from
                 the stage, a consumer no rule sends to: each refused with
                 file:line:col and the reason, exit status 1.
"""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path, q, write  # noqa: E402


def topology(log, rules, default, sinks):
    text = '''name: routed
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: log4j
  - name: split
    kind: route
    input: parse
    partitions: 2
    routes:
%s
    default: %s
sinks:
''' % (q(log), ''.join('      - %s\n' % r for r in rules), default)
    for s in sinks:
        text += '''  - name: %s
    kind: jsonl
    input: split
    path: %s
''' % (s, q(path(s + '.jsonl')))
    return text


def expected(log, csvp, preds, default):
    """Sink of every line offset: the first predicate that holds for its
    CSV row, else the default (None: dropped)."""
    rows = ct.csv_rows(csvp)
    with open(log, 'rb') as f:
        offs = ct.line_offsets(f.read())
    check_eq(len(offs), len(rows), 'lines vs CSV rows')
    want = {}
    for off, r in zip(offs, rows):
        sink = default
        for name, pred in preds:
            if pred(r):
                sink = name
                break
        want[off] = sink
    return want


def severity(r):
    return ct.SEVERITY.index(ct.level_of(r['Level']))


def run_and_check(system, rules, preds, default, sinks):
    log, csvp = ct.loghub(system)
    want = expected(log, csvp, preds, None if default == 'drop' else default)
    topo = write('route-%s.yaml' % system,
                 topology(log, rules, default, sinks))
    ct.run_ok(topo, system + ' route')
    got = {}
    for s in sinks:
        for e in ct.read_jsonl(path(s + '.jsonl')):
            check(e['offset'] not in got,
                  '%s: line at %d in %s and %s' % (
                      system, e['offset'], got.get(e['offset']), s))
            got[e['offset']] = s
    for off, sink in want.items():
        check_eq(got.get(off), sink, '%s: sink of the line at %d' % (
            system, off))
    check_eq(len(got), sum(1 for s in want.values() if s is not None),
             system + ': lines written')
    counts = collections.Counter(want.values())
    for s in sinks:
        check(counts[s] > 0, '%s: sink %s got nothing: the case tests '
              'nothing' % (system, s))
    print('%s: %s' % (system, dict(counts)))


def case_route_loghub():
    warn = ct.SEVERITY.index('WARN')
    run_and_check(
        'Hadoop',
        ['warnings when level >= warn',
         'exceptions when message contains Exception',
         'mapred when component starts_with org.apache.hadoop.mapred. '
         'and level = info'],
        [('warnings', lambda r: severity(r) >= warn),
         ('exceptions', lambda r: 'Exception' in r['Content']),
         ('mapred', lambda r: r['Component'].startswith(
             'org.apache.hadoop.mapred.') and ct.level_of(r['Level']) ==
          'INFO')],
        'rest', ['warnings', 'exceptions', 'mapred', 'rest'])
    # a quoted value with a space, a number, and drop
    run_and_check(
        'HDFS',
        ['deleting when message contains "Deleting block" and '
         'component = dfs.FSDataset',
         'busy when pid >= 30 and pid < 1000 and level != warn'],
        [('deleting', lambda r: 'Deleting block' in r['Content'] and
          r['Component'] == 'dfs.FSDataset'),
         ('busy', lambda r: 30 <= int(r['Pid']) < 1000 and
          ct.level_of(r['Level']) != 'WARN')],
        'drop', ['deleting', 'busy'])


def case_route_errors():
    log, _ = ct.loghub('HDFS')
    cases = [
        (['a when level >= loud'], 'a', ['a'],
         "'loud' is not a level"),
        (['a when pid > many'], 'a', ['a'],
         'compares only a parsed field with a number'),
        (['a if level = error'], 'a', ['a'], "comes 'when'"),
        (['a when message contains "open'], 'a', ['a'],
         'unterminated quoted value'),
        (['a when level = error or level = warn'], 'a', ['a'],
         "join conditions with 'and'"),
        (['nowhere when level = error'], 'a', ['a'],
         "routes: rule 1 routes to 'nowhere', which is not a node whose "
         "input is 'split'"),
        (['a when level = error'], 'elsewhere', ['a'],
         "default: 'elsewhere' is not a node whose input is 'split'"),
        (['a when level = error'], 'drop', ['a', 'b'],
         "'b' reads from route stage 'split' but no rule and not the "
         "default send it events"),
    ]
    for n, (rules, default, sinks, reason) in enumerate(cases):
        f = write('bad-%d.yaml' % n, topology(log, rules, default, sinks))
        rc, out, err = ct.run(['validate', f])
        check_eq(rc, 1, 'case %d: exit status (%r)' % (n, err))
        check(reason in err, 'case %d: reason %r in %r' % (n, reason, err))
        check(err.startswith(f + ':') and
              err.split(':')[1].isdigit() and err.split(':')[2].isdigit(),
              'case %d: file:line:col first (%r)' % (n, err))


CASES = {
    'route_loghub': case_route_loghub,
    'route_errors': case_route_errors,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: route_test.py BINARY CASE\ncases: %s\n' %
                         ' '.join(sorted(CASES)))
        return 2
    ct.CASES[argv[2]] = CASES[argv[2]]
    return ct.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
