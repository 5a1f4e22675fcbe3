#!/usr/bin/env python3
"""patterns_test.py -- end-to-end tests of the template miner: the
`logstream patterns` command and the `patterns` stage.

    python3 patterns_test.py BINARY CASE

The helpers (temporary directory, running the binary, waiting, the Loghub
samples) are cli_test.py's; the cases are:

  patterns_cli     `logstream patterns` on a Loghub sample: every line
                   counted once, most frequent first, the same templates
                   as the stage gives the events; --help, usage errors,
                   --loghub.
  patterns_stage   the stage in a topology: every event passes on with
                   template_id, template and its parameters, which put
                   back into the template's wildcards give the message;
                   a window keyed on template_id counts each template.
  patterns_resume  a followed file, the run killed after its first
                   checkpoint and resumed: the events (with their
                   templates, which depend on what the miner had learned)
                   are those of one uninterrupted run.
"""

import collections
import json
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path, q, write  # noqa: E402


def table(out):
    """(count, id, template) rows of `logstream patterns` output."""
    lines = out.decode().split('\n')
    check(lines[0].split() == ['count', 'id', 'template'],
          'header: %r' % lines[0])
    rows = []
    for ln in lines[1:]:
        if not ln:
            continue
        m = re.fullmatch(r'\s*(\d+)  ([0-9a-f]{16})  (.+)', ln)
        check(m is not None, 'row %r' % ln)
        rows.append((int(m.group(1)), m.group(2), m.group(3)))
    return rows


def case_patterns_cli():
    log, csvp = ct.loghub('HDFS')
    rc, out, err = ct.run(['patterns', log])
    check_eq(rc, 0, 'exit status (stderr %r)' % err)
    rows = table(out)
    check_eq(sum(r[0] for r in rows), 2000, 'lines counted')
    counts = [r[0] for r in rows]
    check_eq(counts, sorted(counts, reverse=True), 'most frequent first')
    check_eq(len({r[1] for r in rows}), len(rows), 'ids are distinct')
    check('2000 lines, %d templates' % len(rows) in err, 'summary %r' % err)
    # The most frequent true event of the sample is the top template.
    truth = collections.Counter(r['EventId'] for r in ct.csv_rows(csvp))
    check_eq(counts[0], truth.most_common(1)[0][1], 'top template count')
    check(any(r[2] == 'PacketResponder <*> for block <*> terminating'
              for r in rows), 'the PacketResponder template: %r' % rows[:5])

    rc, out2, err = ct.run(['patterns', log, '--top', '3'])
    check_eq(rc, 0, '--top: exit status')
    check_eq(table(out2), rows[:3], '--top 3')
    rc, out3, err = ct.run(['patterns', log, '--format', 'log4j'])
    check_eq(table(out3), rows, '--format log4j: the same templates')

    for args in (['patterns', '--help'], ['patterns', '-h']):
        rc, out, err = ct.run(args)
        check_eq(rc, 0, '%s: exit status' % args)
        check(out.decode().startswith('usage: logstream patterns'),
              '%s: usage %r' % (args, out[:100]))
    rc, out, err = ct.run(['--help'])
    check(re.search(r'^\s+patterns\b', out.decode(), re.M) is not None,
          'main usage lists patterns')
    for args in ([], [log, '--format', 'nope'], [log, '--similarity', '0'],
                 [log, '--depth', '1'], [log, '--top'], [log, log],
                 [log, '--bogus'], ['--loghub']):
        rc, out, err = ct.run(['patterns'] + args)
        check_eq(rc, 2, 'patterns %s: exit status' % args)
        check_eq(out, b'', 'patterns %s: stdout' % args)
        check(err != '', 'patterns %s: a message' % args)
    rc, out, err = ct.run(['patterns', path('missing.log')])
    check_eq(rc, 1, 'missing file: exit status')
    check('missing.log' in err, 'missing file: message %r' % err)

    rc, out, err = ct.run(['patterns', '--loghub',
                           os.path.join(ct.datasets(), 'loghub')])
    check_eq(rc, 0, '--loghub: exit status (stderr %r)' % err)
    lines = out.decode().split('\n')
    check(lines[0].split() == ['system', 'lines', 'events', 'templates',
                               'accuracy'], '--loghub header %r' % lines[0])
    hdfs = [ln.split() for ln in lines if ln.startswith('HDFS ')]
    check(len(hdfs) == 1 and float(hdfs[0][4]) > 0.99, 'HDFS %r' % hdfs)
    check(lines[-2].startswith('average'), '--loghub average %r' % lines)


def topology(name, src, follow, events, rates, ckpt=''):
    return '''name: %s
settings:
  idle_timeout: 1000h
%ssources:
  - name: src
    kind: file
    path: %s
    follow: %s
stages:
  - name: parse
    kind: parse
    input: src
  - name: tmpl
    kind: patterns
    input: parse
  - name: rates
    kind: window
    input: tmpl
    key: template_id
    partitions: 2
    size: 876000h
sinks:
  - name: events
    kind: jsonl
    input: tmpl
    path: %s
  - name: out
    kind: jsonl
    input: rates
    path: %s
''' % (name, ckpt, q(src), 'true' if follow else 'false', q(events),
       q(rates))


def fill(tmpl, params):
    """The template with its wildcards replaced by params, in order."""
    parts = tmpl.split('<*>')
    check_eq(len(parts) - 1, len(params), 'wildcards of %r' % tmpl)
    return ''.join(p + (params[i] if i < len(params) else '')
                   for i, p in enumerate(parts))


def case_patterns_stage():
    log, csvp = ct.loghub('OpenSSH')
    ev, out = path('ev.jsonl'), path('out.jsonl')
    ct.run_ok(write('t.yaml', topology('patterns-stage', log, False, ev,
                                       out)), 'run')
    evs = ct.read_jsonl(ev)
    check_eq(len(evs), 2000, 'events')
    rows = [r for r in ct.csv_rows(csvp)]
    final = {}
    for e, r in zip(evs, rows):
        check_eq(e['message'], r['Content'], 'message')
        check(re.fullmatch(r'[0-9a-f]{16}', e['template_id']) is not None,
              'template_id %r' % e.get('template_id'))
        params = []
        while 'param%d' % (len(params) + 1) in e:
            params.append(e['param%d' % (len(params) + 1)])
        # The message's words, blanks collapsed, are the template filled.
        check_eq(fill(e['template'], params), ' '.join(e['message'].split()),
                 'template + params of %r' % e['message'])
        final[e['template_id']] = final.get(e['template_id'], 0) + 1
    # Every line of one true event got one template here.
    by_event = collections.defaultdict(set)
    for e, r in zip(evs, rows):
        by_event[r['EventId']].add(e['template_id'])
    split = [k for k, v in by_event.items() if len(v) > 1]
    check(len(split) <= 1, 'events split over templates: %r' % split)
    # The window counts each template's lines.
    got = {r['key']['template_id']: r['count'] for r in ct.read_jsonl(out)}
    check_eq(got, final, 'lines per template')
    # The command finds the same templates with the same counts.
    rc, stdout, err = ct.run(['patterns', log])
    check_eq({r[1]: r[0] for r in table(stdout)}, final,
             'logstream patterns vs the stage')


def case_patterns_resume():
    log, _ = ct.loghub('Linux')
    with open(log, 'rb') as f:
        data = f.read()
    if not data.endswith(b'\n'):
        data += b'\n'  # a followed file's last line needs its newline
    offs = ct.line_offsets(data)
    half = offs[len(offs) // 2]
    inp, ev, out, dd = (path('in.log'), path('ev.jsonl'), path('out.jsonl'),
                        path('data'))
    write('in.log', data[:half])
    ckpt = '  checkpoint_interval: 200ms\n'
    topo = write('follow.yaml', topology('patterns-resume', inp, True, ev,
                                         out, ckpt))
    p = ct.start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        ct.wait_until(lambda: len(ct.read_lines(ev)) > 0, p,
                      'the first checkpoint')
    finally:
        err = ct.kill9(p)
    check(p.returncode == -signal.SIGKILL, 'run 1 ended by itself: %r' % err)
    with open(inp, 'ab') as f:
        f.write(data[half:])
    p = ct.start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        ct.wait_until(lambda: len(ct.read_lines(ev)) >= len(offs), p,
                      'every line')
    finally:
        err = ct.interrupt(p)
    check_eq(p.returncode, 0, 'run 2: exit status (stderr %r)' % err)
    ct.resumed_from(err, 'run 2')
    ev_ref, out_ref = path('ref-ev.jsonl'), path('ref-out.jsonl')
    ct.run_ok(write('ref.yaml', topology('patterns-resume', inp, False,
                                         ev_ref, out_ref)), 'reference run')
    got, want = ct.read_lines(ev), ct.read_lines(ev_ref)
    ct.check_same_lines(got, want, 'events')
    ct.check_same_lines(ct.read_lines(out), ct.read_lines(out_ref),
                        'counts per template')


CASES = {
    'patterns_cli': case_patterns_cli,
    'patterns_stage': case_patterns_stage,
    'patterns_resume': case_patterns_resume,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: patterns_test.py BINARY CASE\ncases: %s\n'
                         % ' '.join(sorted(CASES)))
        return 2
    # cli_test's main runs one of its cases; run ours the same way.
    ct.CASES[argv[2]] = CASES[argv[2]]
    return ct.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
