#!/usr/bin/env python3
"""sources_test.py -- end-to-end tests of file source patterns and of the
sources' dead-letter output.

    python3 sources_test.py BINARY CASE

The helpers (temporary directory, running the binary, waiting, the Loghub
samples) are cli_test.py's; the reference is always a plain Counter of the
lines the test itself wrote.  The cases are:

  glob_follow     a followed pattern over three Loghub files: one renamed
                  away mid-run (its writer's last lines in the old file), one
                  cut to zero and written again, one that appears later;
                  kill -9 with lines in flight, more rotation while down
                  (found again by inode), restart with --data-dir: every line
                  of every file exactly once.
  glob_once       a pattern without follow reads every matching file to its
                  end in name order and ends; max_files refuses the rest
                  (logged); a pattern that matches nothing is an error that
                  names it, or, followed, is waited for.
  dead_letters    an over-long line of a file and of stdin, a syslog message
                  over max_message and an octet-counted frame cut short by
                  the sender's close land in the sources' dead-letter sink
                  with their reasons; the good input goes on.
"""

import collections
import json
import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path, q, write  # noqa: E402


def sample(system):
    """The lines of a Loghub sample (without their line ends)."""
    log, _ = ct.loghub(system)
    with open(log, 'rb') as f:
        return [ln.rstrip(b'\n').rstrip(b'\r').decode('utf-8') for ln in f]


def put(name, lines, mode='w', last_newline=True):
    text = ''.join(ln + '\n' for ln in lines)
    with open(path(name), mode, encoding='utf-8') as f:
        f.write(text if last_newline else text[:-1])


def messages(p):
    return [json.loads(ln)['message'] for ln in ct.read_lines(p)]


GLOB_TOPOLOGY = '''name: globs
settings:
  checkpoint_interval: 200ms
  idle_timeout: 1000h
sources:
  - name: logs
    kind: file
    path: %s
    follow: %s
%ssinks:
  - name: events
    kind: jsonl
    input: logs
    path: %s
'''


def case_glob_follow():
    hdfs, spark, zk, linux = (sample(s) for s in
                              ('HDFS', 'Spark', 'Zookeeper', 'Linux'))
    events, dd = path('ev.jsonl'), path('data')
    want = collections.Counter()

    def add(name, lines, mode='a', last_newline=True):
        put(name, lines, mode, last_newline)
        want.update(lines)

    def wait_all(p, what):
        n = sum(want.values())
        ct.wait_until(lambda: ct.count_lines(events) >= n, p, what)

    add('app-hdfs.log', hdfs[:800], 'w')
    add('app-spark.log', spark[:800], 'w')
    add('app-zk.log', zk[:800], 'w')
    write('other.txt', 'not matched\n')
    topo = write('globs.yaml', GLOB_TOPOLOGY % (
        q(path('app-*.log')), 'true', '', q(events)))
    p = ct.start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        wait_all(p, 'the three files')
        # logrotate's default: the writer's last lines still go to the old
        # file (the very last without its newline: read when the old file
        # is drained), which is renamed out of the pattern; a new file
        # takes its name
        add('app-hdfs.log', hdfs[800:1000], last_newline=False)
        os.rename(path('app-hdfs.log'), path('app-hdfs.log.1'))
        add('app-hdfs.log', hdfs[1000:1400], 'w')
        wait_all(p, 'the rotated file and the new one')
        # copytruncate: cut to zero, then written again (shorter)
        with open(path('app-spark.log'), 'r+') as f:
            f.truncate(0)
        add('app-spark.log', spark[800:1000])
        # a file that starts to match later
        add('app-linux.log', linux[:500], 'w')
        wait_all(p, 'the truncated file and the new one')
        # lines in flight when the run is killed
        add('app-hdfs.log', hdfs[1400:2000])
        add('app-zk.log', zk[800:1200])
    finally:
        err = ct.kill9(p)
    check(p.returncode == -signal.SIGKILL, 'run 1 ended by itself (rc %r): '
          '%r' % (p.returncode, err))
    first = ct.count_lines(events)
    # while it is down: more lines, and another rename rotation
    add('app-zk.log', zk[1200:2000])
    add('app-linux.log', linux[500:700])
    os.rename(path('app-linux.log'), path('app-linux.log.1'))
    add('app-linux.log', linux[700:1000], 'w')

    p = ct.start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        wait_all(p, 'every line after the restart')
    finally:
        err = ct.interrupt(p)
    check_eq(p.returncode, 0, 'run 2: exit status (stderr %r)' % err)
    check('rotated while down' in err, 'run 2 reads the file renamed while '
          'it was down on: %r' % err)
    ct.resumed_from(err, 'run 2')
    got = collections.Counter(messages(events))
    check(first < sum(want.values()), 'run 1 wrote %d of %d lines: the kill '
          'came too late to test anything' % (first, sum(want.values())))
    extra, lost = got - want, want - got
    check(not extra and not lost, 'every line exactly once: %d twice or '
          'foreign (%r), %d lost (%r)' % (sum(extra.values()),
                                          list(extra)[:3],
                                          sum(lost.values()),
                                          list(lost)[:3]))


def case_glob_once():
    names = ('b-hdfs.log', 'a-spark.log', 'c-zk.log')
    files = {}
    for name, system in zip(names, ('HDFS', 'Spark', 'Zookeeper')):
        files[name] = sample(system)[:700]
        put(name, files[name])
    write('d-other.txt', 'not matched\n')
    events = path('ev.jsonl')
    topo = write('once.yaml', GLOB_TOPOLOGY % (
        q(path('*.log')), 'false', '', q(events)))
    ct.run_ok(topo, 'a pattern without follow')
    in_order = [ln for n in sorted(names) for ln in files[n]]
    check_eq(messages(events), in_order,
             'every file read to its end, in name order')

    topo = write('max.yaml', GLOB_TOPOLOGY % (
        q(path('*.log')), 'false', '    max_files: 2\n', q(events)))
    rc, _, err = ct.run(['run', topo, '--progress', '0'])
    check_eq(rc, 0, 'max_files: exit status (stderr %r)' % err)
    check_eq(collections.Counter(messages(events)),
             collections.Counter(files['a-spark.log'] + files['b-hdfs.log']),
             'max_files 2: the first two files')
    check('more files match than max_files' in err and 'refused=1' in err,
          'max_files: the refused file is logged: %r' % err)

    topo = write('none.yaml', GLOB_TOPOLOGY % (
        q(path('*.nothing')), 'false', '', q(events)))
    rc, _, err = ct.run(['run', topo, '--progress', '0'])
    check(rc != 0, 'a pattern that matches nothing: exit status %d' % rc)
    check('no file matches' in err and path('*.nothing') in err,
          'the error names the pattern: %r' % err)

    # followed: waited for (said once), then read
    topo = write('wait.yaml', GLOB_TOPOLOGY % (
        q(path('later-*.log')), 'true', '', q(events)))
    p, lines = ct.start_running(['run', topo, '--progress', '0'])
    try:
        ct.wait_until(lambda: any(b'no file matches yet' in ln
                                  for ln in list(lines)), p,
                      'the waiting line')
        put('later-1.log', files['c-zk.log'])
        ct.wait_until(lambda: ct.count_lines(events) >= 700, p,
                      'the lines of the file that appeared')
    finally:
        err = ct.interrupt_running(p, lines)
    check_eq(p.returncode, 0, 'followed: exit status (stderr %r)' % err)
    check_eq(err.count('no file matches yet'), 1, 'waiting said once')
    check_eq(messages(events), files['c-zk.log'], 'the file that appeared')


DEAD_TOPOLOGY = '''name: dead
sources:
  - name: app
    kind: file
    path: %s
    max_line: 1000
    dead_letter: rejects
  - name: net
    kind: syslog
    listen: tcp://127.0.0.1:0
    max_message: 64
    dead_letter: rejects
sinks:
  - name: out
    kind: jsonl
    input: [app, net]
    path: %s
  - name: rejects
    kind: jsonl
    path: %s
'''


def case_dead_letters():
    good = sample('OpenSSH')[:50]
    long1, long2 = 'x' * 5000, 'y' * 100000
    put('app.log', good[:20] + [long1] + good[20:40] + [long2] + good[40:])
    out, rej = path('out.jsonl'), path('rejects.jsonl')
    topo = write('dead.yaml', DEAD_TOPOLOGY % (q(path('app.log')), q(out),
                                               q(rej)))
    p, lines = ct.start_running(['run', topo, '--progress', '0'])
    port = ct.listening_port(p, lines)
    try:
        s = socket.create_connection(('127.0.0.1', port))
        s.sendall(b'<13>good one\n<13>' + b'z' * 200 + b'\n<13>good two\n')
        s.close()
        s = socket.create_connection(('127.0.0.1', port))
        s.sendall(b'100 <34>1 a frame cut short')
        s.close()
        ct.wait_until(lambda: ct.count_lines(rej) >= 4 and
                      ct.count_lines(out) >= 52, p, 'the dead letters')
    finally:
        err = ct.interrupt_running(p, lines)
    check_eq(p.returncode, 0, 'exit status (stderr %r)' % err)
    check_eq(collections.Counter(messages(out)),
             collections.Counter(good + ['<13>good one', '<13>good two']),
             'the good input')
    recs = ct.read_jsonl(rej)
    by = {(r['stage'], r['reason']): r for r in recs}
    check_eq(len(recs), 4, 'dead letters (%r)' % recs)
    r = [x for x in recs if x['stage'] == 'app']
    check_eq([x['reason'] for x in r], ['line longer than 1000 bytes'] * 2,
             'file: reasons')
    check_eq([x['line'] for x in r], [long1, long2[:16384]],
             'file: the lines, the second cut at 16 KiB')
    check_eq([x['source'] for x in r], [path('app.log')] * 2,
             'file: the file is named')
    cut = by.get(('net', 'message longer than max_message (64 bytes)'))
    check(cut is not None and cut['line'] == '<13>' + 'z' * 60,
          'syslog: the cut message (%r)' % recs)
    broken = by.get(('net',
                     'connection closed inside an octet-counted frame'))
    check(broken is not None and broken['line'] ==
          '100 <34>1 a frame cut short', 'syslog: the broken frame (%r)' %
          recs)
    check_eq(broken['source'], 'tcp://127.0.0.1:0', 'syslog: the listener')

    # stdin: the same over-long line rule
    topo = write('stdin.yaml', '''name: dead-stdin
sources:
  - {name: in, kind: stdin, max_line: 100, dead_letter: rejects}
sinks:
  - {name: out, kind: jsonl, input: in, path: %s}
  - {name: rejects, kind: jsonl, path: %s}
''' % (q(out), q(rej)))
    rc, _, err = ct.run(['run', topo, '--progress', '0'],
                        stdin=b'one\n' + b'w' * 300 + b'\ntwo\n')
    check_eq(rc, 0, 'stdin: exit status (stderr %r)' % err)
    check_eq(messages(out), ['one', 'two'], 'stdin: the good lines')
    recs = ct.read_jsonl(rej)
    check_eq([(x['reason'], x['source'], x['line'], x['offset'])
              for x in recs],
             [('line longer than 100 bytes', 'stdin', 'w' * 300, 4)],
             'stdin: the dead letter')


CASES = {
    'glob_follow': case_glob_follow,
    'glob_once': case_glob_once,
    'dead_letters': case_dead_letters,
}


if __name__ == '__main__':
    sys.exit(ct.main_with(sys.argv, CASES, 'sources_test.py'))
