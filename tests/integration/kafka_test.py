#!/usr/bin/env python3
"""kafka_test.py -- the `kafka` source and sink against a real
Kafka-protocol peer (librdkafka's mock cluster, tests/tools/kafka_mock,
its own process on loopback), with kcat as the independent producer and
consumer.

    python3 kafka_test.py BINARY CASE

Environment: LS_KAFKA_MOCK names the mock program; kcat must be on PATH
(Debian package kcat).  Cases:

  kafka_events   the HDFS Loghub sample produced with kcat over 4
                 partitions; a run reads the topic to its end (follow:
                 false), parses and writes every event to another topic;
                 kcat reads it back: every line once, each field equal to
                 a plain split of the raw line, keys distinct.
  kafka_resume   a checkpointing run (--data-dir) follows the topic, is
                 killed with SIGKILL after its first committed output, the
                 rest of the lines are produced while it is down, the rerun
                 continues from the checkpoint's offsets: after dropping
                 replays by key, every line exactly once, no key with two
                 values; the positions committed to the consumer group
                 let a fresh run of the same group start after them.
  kafka_kill_owner  three `logstream node` processes run a topology with
                 a kafka source (rate-limited so the run lasts); the node
                 that owns the source is killed with SIGKILL mid-run; the
                 source restarts on a survivor from the checkpoint's
                 offsets and the committed results equal a failure-free
                 `logstream run` of the same topic: nothing lost, nothing
                 twice.
  kafka_dead_letters  a message without a value (kcat -Z) goes to the
                 source's dead-letter sink with the reason, partition and
                 offset; the other messages are events.
  kafka_errors   a topology with a bad librdkafka option is refused at
                 file:line:col; a source whose brokers do not answer keeps
                 retrying (a warning, no crash) and stops on Ctrl-C.
"""

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path, q, write  # noqa: E402


class Mock:
    """A mock cluster process; .bootstrap is its bootstrap servers."""

    def __init__(self, topics):
        prog = os.environ.get('LS_KAFKA_MOCK', '')
        if not prog or not os.path.exists(prog):
            raise ct.Skip('LS_KAFKA_MOCK does not name the mock program')
        if shutil.which('kcat') is None:
            raise ct.Skip('kcat is not installed (Debian package kcat)')
        args = [prog]
        for t in topics:
            args += ['--topic', t]
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        line = self.p.stdout.readline().decode()
        check(line.startswith('bootstrap '), 'mock said %r' % line)
        self.bootstrap = line.split()[1]

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=30)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()


def produce(mock, topic, lines):
    data = b''.join(ln + b'\n' for ln in lines)
    p = subprocess.run(['kcat', '-P', '-b', mock.bootstrap, '-t', topic],
                       input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=ct.CMD_TIMEOUT)
    check_eq(p.returncode, 0, 'kcat -P (stderr %r)' % p.stderr)


def consume(mock, topic):
    """Every message of topic as (key, value) with kcat."""
    p = subprocess.run(['kcat', '-C', '-b', mock.bootstrap, '-t', topic,
                        '-e', '-q', '-J'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=ct.CMD_TIMEOUT)
    check_eq(p.returncode, 0, 'kcat -C (stderr %r)' % p.stderr)
    out = []
    for ln in p.stdout.decode().splitlines():
        m = json.loads(ln)
        out.append((m['key'], m['payload']))
    return out


def hdfs_lines():
    log, _ = ct.loghub('HDFS')
    with open(log, 'rb') as f:
        return f.read().splitlines()


HDFS = re.compile(r'(\d{6}) (\d{6}) (\d+) (\w+) ([^:]+): (.*)')


def reference(lines):
    """What a parse of each HDFS line must give: (pid, level, component,
    message), by a plain regular expression independent of the parsers."""
    ref = collections.Counter()
    for ln in lines:
        m = HDFS.fullmatch(ln.decode())
        check(m is not None, 'the sample line is no HDFS line: %r' % ln)
        ref[(m.group(3), m.group(4), m.group(5), m.group(6))] += 1
    return ref


def fields(payload):
    e = json.loads(payload)
    return (e.get('pid'), e.get('level'), e.get('component'),
            e.get('message'))


def topology(mock, follow, extra=''):
    return '''name: kafka-test
settings:
  checkpoint_interval: 200ms
  idle_timeout: 1000h
sources:
  - name: in
    kind: kafka
    brokers: %s
    topic: logs
    follow: %s
%sstages:
  - name: parse
    kind: parse
    input: in
    format: auto
    partitions: 2
sinks:
  - name: out
    kind: kafka
    input: parse
    brokers: %s
    topic: results
''' % (q(mock.bootstrap), 'true' if follow else 'false', extra,
       q(mock.bootstrap))


def case_kafka_events():
    lines = hdfs_lines()
    mock = Mock(['logs:4', 'results:2'])
    try:
        produce(mock, 'logs', lines)
        topo = write('t.yaml', topology(mock, False))
        rc, out, err = ct.run(['run', topo, '--progress', '0'])
        check_eq(rc, 0, 'exit status (stderr %r)' % err)
        msgs = consume(mock, 'results')
    finally:
        mock.close()
    check_eq(len(msgs), len(lines), 'messages in results')
    check_eq(len({k for k, _ in msgs}), len(msgs), 'distinct keys')
    got = collections.Counter(fields(v) for _, v in msgs)
    want = reference(lines)
    check(got == want, 'events differ from the lines: missing %r, extra %r'
          % (list((want - got).items())[:3], list((got - want).items())[:3]))


def case_kafka_resume():
    lines = hdfs_lines()
    half = len(lines) // 2
    mock = Mock(['logs:4', 'results:2'])
    try:
        produce(mock, 'logs', lines[:half])
        topo = write('t.yaml', topology(mock, True))
        dd = path('data')
        p = ct.start(['run', topo, '--data-dir', dd, '--progress', '0'])
        try:
            ct.wait_until(lambda: len(consume(mock, 'results')) > 0, p,
                          'the first committed output')
        finally:
            err = ct.kill9(p)
        check(p.returncode == -signal.SIGKILL,
              'run 1 ended by itself (rc %r): %r' % (p.returncode, err))
        first = len(consume(mock, 'results'))
        check(0 < first <= half, 'run 1: %d messages written' % first)
        produce(mock, 'logs', lines[half:])

        def complete():
            return len({k for k, _ in consume(mock, 'results')}) >= \
                len(lines)
        p = ct.start(['run', topo, '--data-dir', dd, '--progress', '0'])
        try:
            ct.wait_until(complete, p, 'every line in results')
            # a commit of the offsets follows the checkpoint's completion
            time.sleep(1.0)
        finally:
            err = ct.interrupt(p)
        check_eq(p.returncode, 0, 'run 2: exit status (stderr %r)' % err)
        line = ct.resumed_from(err, 'run 2')
        check(re.search(r'\bin at offsets \d+:\d+', line) is not None,
              'run 2 says where it resumes: %r' % line)
        msgs = consume(mock, 'results')

        # a fresh run of the same consumer group (no checkpoint) starts
        # at the committed offsets: it reads at most what came after them
        topo3 = write('t3.yaml', topology(mock, False))
        rc, out, err3 = ct.run(['run', topo3, '--progress', '0'])
        check_eq(rc, 0, 'run 3: exit status (stderr %r)' % err3)
        total = len(consume(mock, 'results'))
    finally:
        mock.close()
    byk = {}
    for k, v in msgs:
        check(byk.setdefault(k, v) == v,
              'key %s has two values: %r and %r' % (k, byk[k], v))
    check_eq(len(byk), len(lines), 'distinct keys (lines once each)')
    got = collections.Counter(fields(v) for v in byk.values())
    want = reference(lines)
    check(got == want, 'events differ from the lines: missing %r, extra %r'
          % (list((want - got).items())[:3], list((got - want).items())[:3]))
    check(len(msgs) >= len(byk), 'replays are only extra copies')
    third = total - len(msgs)
    check(0 <= third < len(lines),
          'run 3 read %d lines: the group had no committed offsets' % third)


def case_kafka_dead_letters():
    lines = hdfs_lines()[:20]
    mock = Mock(['logs:1'])
    try:
        produce(mock, 'logs', lines[:10])
        # -Z -K: "k:" is a message with key k and no value
        p = subprocess.run(['kcat', '-P', '-Z', '-K:', '-b', mock.bootstrap,
                            '-t', 'logs'], input=b'k:\n',
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=ct.CMD_TIMEOUT)
        check_eq(p.returncode, 0, 'kcat -P -Z (stderr %r)' % p.stderr)
        produce(mock, 'logs', lines[10:])
        out, rej = path('out.jsonl'), path('rejects.jsonl')
        topo = write('t.yaml', '''name: kafka-dead
sources:
  - name: in
    kind: kafka
    brokers: %s
    topic: logs
    follow: false
    dead_letter: rejects
sinks:
  - {name: out, kind: jsonl, input: in, path: %s}
  - {name: rejects, kind: jsonl, path: %s}
''' % (q(mock.bootstrap), q(out), q(rej)))
        rc, _, err = ct.run(['run', topo, '--progress', '0'])
        check_eq(rc, 0, 'exit status (stderr %r)' % err)
    finally:
        mock.close()
    got = [json.loads(ln)['message'].encode() for ln in ct.read_lines(out)]
    check_eq(got, lines, 'the messages with a value, in order')
    recs = ct.read_jsonl(rej)
    check_eq([(r['stage'], r['reason'], r['source'], r['offset'], r['line'])
              for r in recs],
             [('in', 'message without a value', 'partition 0', 10, '')],
             'the dead letter')


def case_kafka_errors():
    mock = Mock(['logs:1'])
    try:
        bad = write('bad.yaml', topology(mock, False, '''    options:
      - "no.such.setting=1"
'''))
        rc, out, err = ct.run(['validate', bad])
        check(rc != 0, 'a bad option is accepted')
        check(re.search(r'bad\.yaml:\d+:\d+: .*no\.such\.setting', err)
              is not None, 'the error names file:line:col and the option: '
              '%r' % err)
    finally:
        mock.close()
    # brokers that do not answer: a closed port on loopback
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()

    class Dead:
        bootstrap = '127.0.0.1:%d' % port
    topo = write('dead.yaml', topology(Dead, True))
    p, lines = ct.start_running(['run', topo, '--progress', '0'])
    try:
        ct.wait_until(lambda: any(b'kafka not ready' in ln
                                  for ln in list(lines)), p,
                      'the retry warning')
    finally:
        err = ct.interrupt_running(p, lines)
    check_eq(p.returncode, 0, 'exit status after Ctrl-C (stderr %r)' % err)


CLUSTER_TOPOLOGY = """name: kdist
settings:
  checkpoint_interval: 300ms
  idle_timeout: 1000h
sources:
  - name: in
    kind: kafka
    brokers: %(brokers)s
    topic: logs
    group: %(group)s
    follow: false
    max_rate: %(rate)d
stages:
  - name: parse
    kind: parse
    input: in
    format: json
    partitions: 4
  - name: per_service
    kind: window
    input: parse
    key: [service, host]
    partitions: 8
    size: 876000h
    aggregates: [count, sum(bytes), max(latency_ms)]
sinks:
  - name: out
    kind: jsonl
    input: per_service
    path: %(path)s
"""


def json_lines(n, seed=7):
    """n JSON log lines from a seeded generator of this test's own."""
    import random
    rng = random.Random(seed)
    out = []
    for i in range(n):
        out.append(json.dumps({
            'ts': '2024-01-01T00:%02d:%02d.%03dZ' % (
                i // 60000 % 60, i // 1000 % 60, i % 1000),
            'level': rng.choice(['info', 'info', 'warn', 'error']),
            'service': 'svc%d' % rng.randrange(8),
            'host': 'h%d' % rng.randrange(5),
            'bytes': rng.randrange(100000),
            'latency_ms': rng.randrange(1000),
            'message': 'request %d' % i,
        }, separators=(',', ':')).encode())
    return out


def case_kafka_kill_owner():
    import cluster_test as clt
    clt.BIN = ct.BINARY
    lines = json_lines(60000)
    mock = Mock(['logs:4'])
    cl = clt.Cluster(3, ct.WORKDIR)
    ok = False
    try:
        produce(mock, 'logs', lines)
        ref, out = path('reference.jsonl'), path('results.jsonl')
        write('ref.yaml', CLUSTER_TOPOLOGY % {
            'brokers': q(mock.bootstrap), 'group': 'reference', 'rate': 0,
            'path': q(ref)})
        rc, _, err = ct.run(['run', path('ref.yaml'), '--quiet'])
        check_eq(rc, 0, 'reference run: exit status (stderr %r)' % err)
        with open(ref) as f:
            want = sorted(f.read().splitlines())
        check(len(want) == 40, 'reference: %d results' % len(want))
        write('dist.yaml', CLUSTER_TOPOLOGY % {
            'brokers': q(mock.bootstrap), 'group': 'cluster', 'rate': 6000,
            'path': q(out)})
        cl.start_all()
        clt.wait_for('all nodes alive', lambda: clt.all_alive(cl))
        clt.run_cli('deploy', path('dist.yaml'), '--node', cl.http(0))
        first = clt.wait_for('a first completed checkpoint',
                             lambda: clt.first_checkpoint(cl, 0))
        epoch0 = first['runs'][0]['run_epoch']
        s = cl.status(0)
        owner = clt.owners(s, 'kdist')['in/0']
        victim = int(owner[1:])
        survivors = [i for i in range(cl.n) if i != victim]
        cl.kill(victim)
        print('killed n%d, the owner of the kafka source' % victim)
        clt.wait_for('a checkpoint of the new run',
                     lambda: clt.new_run_checkpointed(cl, survivors, epoch0))
        s = cl.status(survivors[0])
        moved = clt.owners(s, 'kdist')['in/0']
        check(moved != owner, 'the source still placed on the dead node')
        clt.wait_for('the run to finish',
                     lambda: clt.run_finished(cl, survivors), 180)
        got = clt.cluster_output(out + '.d')
        clt.compare(got, want)
        print('%d results equal the failure-free run; the source moved to '
              '%s' % (len(got), moved))
        ok = True
    finally:
        cl.stop_all()
        if not ok:
            cl.dump_logs()
        mock.close()


CASES = {
    'kafka_kill_owner': case_kafka_kill_owner,
    'kafka_events': case_kafka_events,
    'kafka_resume': case_kafka_resume,
    'kafka_errors': case_kafka_errors,
    'kafka_dead_letters': case_kafka_dead_letters,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: kafka_test.py BINARY CASE\ncases: %s\n'
                         % ' '.join(sorted(CASES)))
        return 2
    ct.CASES[argv[2]] = CASES[argv[2]]
    return ct.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
