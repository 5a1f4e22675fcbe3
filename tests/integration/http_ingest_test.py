#!/usr/bin/env python3
"""http_ingest_test.py -- the `http` source (POST /v1/logs), with curl as
the client.

    python3 http_ingest_test.py BINARY CASE

Cases (the run listens on port 0 of 127.0.0.1 and says which port it got):
  http_forms     every line of the Loghub HDFS sample posted once -- as
                 text lines (one request larger than a batch), JSON lines,
                 JSON arrays and single events --
                 arrives exactly once: a text event's message is the line, a
                 JSON event's message parses to the object that was sent.
  http_errors    bad input gets its status and reason (400 bad JSON with
                 line and column, empty body, an array of non-objects,
                 control characters; 413 over max_body; 415 an unknown
                 Content-Type; 405 GET), hostile bytes never stop the
                 server, and 429 with Retry-After once the queue of events
                 no checkpoint covers yet is full.
  http_kill9     `run --data-dir`: a burst of requests, kill -9 right after
                 the last 202, restart: the output holds every line that got
                 a 202 exactly once.
"""

import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path, q, write  # noqa: E402

TOPOLOGY = '''name: http-test
%ssources:
  - name: in
    kind: http
    listen: 127.0.0.1:0
%ssinks:
  - name: out
    kind: jsonl
    input: in
    path: %s
'''


def curl():
    if shutil.which('curl') is None:
        raise ct.Skip('curl is not installed')
    return 'curl'


def start(extra='', settings='', data_dir=None, topo=None):
    out = path('out.jsonl')
    if topo is None:
        topo = write('t.yaml', TOPOLOGY % (settings, extra, q(out)))
    args = ['run', topo, '--progress', '0']
    if data_dir is not None:
        args += ['--data-dir', data_dir]
    p, lines = ct.start_running(args)
    return p, lines, ct.listening_port(p, lines), out


def post(port, body, ctype='application/json', method='POST',
         path_='/v1/logs'):
    """POST body with curl; returns (status, headers text, body)."""
    f = path('body.bin')
    with open(f, 'wb') as fh:
        fh.write(body if isinstance(body, bytes) else body.encode('utf-8'))
    args = [curl(), '-sS', '-D', '-', '-o', path('resp.bin'), '-X', method,
            '--data-binary', '@' + f,
            'http://127.0.0.1:%d%s' % (port, path_)]
    if ctype is not None:
        args[1:1] = ['-H', 'Content-Type: ' + ctype]
    else:
        args[1:1] = ['-H', 'Content-Type:']
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=ct.CMD_TIMEOUT)
    check_eq(r.returncode, 0, 'curl exit status (stderr %r)' % r.stderr)
    head = r.stdout.decode('latin-1')
    statuses = re.findall(r'^HTTP/1\.[01] (\d+)', head, re.M)
    check(statuses, 'an HTTP status in %r' % head)
    with open(path('resp.bin'), 'rb') as fh:
        resp = fh.read()
    return int(statuses[-1]), head, resp


def hdfs_lines():
    log, _ = ct.loghub('HDFS')
    with open(log, encoding='utf-8') as f:
        lines = [ln.rstrip('\n') for ln in f]
    check_eq(len(lines), 2000, 'lines of the HDFS sample')
    return lines


def events(out):
    return [json.loads(ln) for ln in ct.read_lines(out)]


def chunks(xs, n):
    return [xs[i:i + n] for i in range(0, len(xs), n)]


def accepted(resp):
    return json.loads(resp.decode('utf-8'))['accepted']


def case_http_forms():
    lines = hdfs_lines()
    text, ndj, arr, single = lines[:700], lines[700:1400], \
        lines[1400:1990], lines[1990:]
    p, err, port, out = start()
    sent_objs = []
    try:
        # one request of 600 lines (more than a batch of 512 events),
        # then requests of 50
        for c in [text[:600]] + chunks(text[600:], 50):
            st, _, resp = post(port, '\r\n'.join(c) + '\n\n', 'text/plain')
            check_eq((st, accepted(resp)), (202, len(c)), 'text lines')
        for c in chunks(ndj, 100):
            objs = [{'line': ln, 'form': 'ndjson', 'n': i}
                    for i, ln in enumerate(c)]
            sent_objs += objs
            body = '\n'.join(json.dumps(o) for o in objs)
            st, _, resp = post(port, body, 'application/x-ndjson')
            check_eq((st, accepted(resp)), (202, len(c)), 'JSON lines')
        for c in chunks(arr, 100):
            objs = [{'line': ln, 'form': 'array', 'tags': ['a', {'b': None}],
                     'x': 1.5e3} for ln in c]
            sent_objs += objs
            body = json.dumps(objs, indent=2)
            st, _, resp = post(port, body, 'application/json; charset=utf-8')
            check_eq((st, accepted(resp)), (202, len(c)), 'a JSON array')
        for ln in single:
            o = {'line': ln, 'form': 'single', 'uni': '\u00e9\u4e2d'}
            sent_objs.append(o)
            st, _, resp = post(port, json.dumps(o, ensure_ascii=False),
                               None)  # no Content-Type: detected
            check_eq((st, accepted(resp)), (202, 1), 'a single event')
        want = len(lines)
        ct.wait_until(lambda: len(ct.read_lines(out)) >= want, p,
                      'every event')
    finally:
        ct.interrupt_running(p, err)
    check_eq(p.returncode, 0, 'exit status')
    evs = events(out)
    check_eq(len(evs), len(lines), 'events')
    msgs = [e['message'] for e in evs]
    got_text = collections.Counter(m for m in msgs if not m.startswith('{'))
    check_eq(got_text, collections.Counter(text), 'the text lines, once each')
    got_objs = sorted((json.loads(m) for m in msgs if m.startswith('{')),
                      key=lambda o: json.dumps(o, sort_keys=True))
    want_objs = sorted(sent_objs, key=lambda o: json.dumps(o, sort_keys=True))
    check_eq(got_objs, want_objs, 'the JSON events, once each')


def case_http_errors():
    p, err, port, out = start('    max_body: 4096\n    queue: 50\n',
                              'settings:\n  checkpoint_interval: 1h\n',
                              data_dir=path('data'))
    try:
        cases = [
            (b'{"a":1', 'application/json', 400, 'line 1, column 7'),
            (b'{"a":1}\n{"b":}', 'application/x-ndjson', 400,
             'line 2, column 6'),
            (b'', 'application/json', 400, 'empty body'),
            (b'[1,2]', 'application/json', 400, 'not an object'),
            (b'{"a":"x\x01y"}', 'application/json', 400, 'control'),
            (b'{"a":' * 100 + b'1' + b'}' * 100, 'application/json', 400,
             'nested too deeply'),
            (b'{"a":1} trailing', 'application/json', 400, 'expected a JSON'),
            (b'x' * 5000, 'text/plain', 413, ''),
            (b'{"a":1}', 'image/png', 415, 'Content-Type'),
        ]
        for body, ctype, want, reason in cases:
            st, _, resp = post(port, body, ctype)
            check_eq(st, want, 'status for %r' % body[:40])
            if reason:
                check(reason in json.loads(resp)['error'],
                      'reason %r in %r' % (reason, resp))
        st, head, _ = post(port, b'', None, method='GET')
        check_eq(st, 405, 'GET /v1/logs')
        check('Allow: POST' in head, 'Allow header in %r' % head)
        st, _, _ = post(port, b'{}', 'application/json', path_='/v1/other')
        check_eq(st, 404, 'another path')
        rnd = random.Random(14)
        for i in range(40):
            body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1,
                                                                        400)))
            if i % 2:
                body = b'{"k":' + body
            # JSON only: text takes any bytes, and would fill the queue
            st, _, _ = post(port, body, ['application/json',
                                         'application/x-ndjson'][i % 2])
            check(st in (202, 400), 'hostile body: %d' % st)
        # the first checkpoint completes at once, the next after an hour:
        # what comes now is held until then, so the queue of 50 fills
        statuses = []
        for i in range(30):
            st, head, resp = post(port, '\n'.join('fill %d %d' % (i, k)
                                                   for k in range(10)),
                                  'text/plain')
            statuses.append(st)
            if st == 429:
                check(re.search(r'^Retry-After: \d+', head, re.M),
                      'Retry-After in %r' % head)
                check('queue is full' in json.loads(resp)['error'],
                      'reason %r' % resp)
                break
            check_eq(st, 202, 'a request before the queue is full')
        check_eq(statuses[-1], 429, 'the queue fills: %r' % statuses)
        check(3 <= len(statuses) <= 8, 'about 50 events held: %r' % statuses)
        st, _, _ = post(port, b'{"still":"served"}', 'application/json')
        check_eq(st, 429, 'still full')
    finally:
        text = ct.interrupt_running(p, err)
    check_eq(p.returncode, 0, 'exit status (stderr %r)' % text[-2000:])
    msgs = [e['message'] for e in events(out)]
    fills = [m for m in msgs if m.startswith('fill ')]
    want = ['fill %d %d' % (i, k) for i in range(len(statuses) - 1)
            for k in range(10)]
    check_eq(sorted(fills), sorted(want), 'every accepted fill event once')


def case_http_kill9():
    lines = hdfs_lines()
    dd = path('data')
    out = path('out.jsonl')
    topo = write('t.yaml', TOPOLOGY % (
        'settings:\n  checkpoint_interval: 200ms\n', '', q(out)))
    p, err, port, _ = start(data_dir=dd, topo=topo)
    got202 = []
    try:
        # 10 lines a request, as fast as curl goes; kill right after the
        # last answer, with events held that no checkpoint covers yet
        for i, c in enumerate(chunks(lines, 10)):
            tagged = ['%d %s' % (i, ln) for ln in c]
            st, _, _ = post(port, '\n'.join(tagged), 'text/plain')
            check_eq(st, 202, 'request %d' % i)
            got202 += tagged
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=ct.CMD_TIMEOUT)
        p.reader.join(timeout=ct.CMD_TIMEOUT)
    before = len(ct.read_lines(out))
    check(before < len(got202),
          'the kill came before everything was committed (%d of %d)' %
          (before, len(got202)))
    p, err, port, _ = start(data_dir=dd, topo=topo)
    try:
        ct.wait_until(lambda: len(ct.read_lines(out)) >= len(got202), p,
                      'every acknowledged event after the restart')
    finally:
        text = ct.interrupt_running(p, err)
    check_eq(p.returncode, 0, 'exit status (stderr %r)' % text[-2000:])
    check('resuming from' in text or before == 0,
          'the run resumed (stderr %r)' % text[-2000:])
    msgs = collections.Counter(e['message'] for e in events(out))
    check_eq(msgs, collections.Counter(got202),
             'every line that got 202, exactly once (%d committed before '
             'the kill)' % before)


CASES = {
    'http_forms': case_http_forms,
    'http_errors': case_http_errors,
    'http_kill9': case_http_kill9,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: http_ingest_test.py BINARY CASE\ncases: '
                         '%s\n' % ' '.join(sorted(CASES)))
        return 2
    ct.CASES[argv[2]] = CASES[argv[2]]
    return ct.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
