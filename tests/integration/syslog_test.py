#!/usr/bin/env python3
"""syslog_test.py -- the `syslog` source, with util-linux `logger` as the
client.

    python3 syslog_test.py BINARY CASE

Cases (the run listens on port 0 of 127.0.0.1 and says which port it got):
  syslog_tcp     Loghub lines sent by logger over TCP, newline framed
                 (RFC 3164) and octet-counted (RFC 6587, RFC 5424): every
                 line arrives once as an event, its message the line, its
                 service the logger tag.
  syslog_udp     the same over UDP (RFC 3164 and RFC 5424 datagrams).
  syslog_limits  hostile input: a 1 MiB line and an octet count larger
                 than max_message are cut (and the next message on the
                 same connection is intact), connections beyond
                 max_connections are closed, garbage bytes become events
                 or dead letters -- and logger's messages afterwards still
                 arrive; the run reports what it cut and refused.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path, q, write  # noqa: E402

TOPOLOGY = '''name: syslog-test
sources:
  - name: in
    kind: syslog
    listen: %s
%sstages:
  - name: parse
    kind: parse
    input: in
    format: auto
    dead_letter: rejects
sinks:
  - name: out
    kind: jsonl
    input: parse
    path: %s
  - name: rejects
    kind: jsonl
    path: %s
'''


def logger():
    if shutil.which('logger') is None:
        raise ct.Skip('logger (util-linux) is not installed')
    return 'logger'


def start(listen, extra=''):
    out, rej = path('out.jsonl'), path('rejects.jsonl')
    topo = write('t.yaml', TOPOLOGY % (listen, extra, q(out), q(rej)))
    p, lines = ct.start_running(['run', topo, '--progress', '0'])
    return p, lines, ct.listening_port(p, lines), out, rej


def sample(n=300):
    log, _ = ct.loghub('HDFS')
    with open(log, encoding='utf-8') as f:
        lines = [ln.rstrip('\n') for ln in f][:n]
    return lines, write('msgs.txt', '\n'.join(lines) + '\n')


def send(args, what):
    p = subprocess.run([logger()] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=ct.CMD_TIMEOUT)
    check_eq(p.returncode, 0, '%s (stderr %r)' % (what, p.stderr))


def events(out):
    return [json.loads(ln) for ln in ct.read_lines(out)]


def check_arrived(evs, lines, tags):
    for tag in tags:
        got = sorted(e['message'] for e in evs if e.get('service') == tag)
        check_eq(got, sorted(lines), 'messages tagged %s' % tag)


def case_syslog_tcp():
    lines, msgs = sample()
    p, err, port, out, _ = start('tcp://127.0.0.1:0')
    try:
        send(['--tcp', '-n', '127.0.0.1', '-P', str(port), '--rfc3164',
              '-t', 'nl3164', '-f', msgs], 'logger --tcp')
        send(['--tcp', '--octet-count', '-n', '127.0.0.1', '-P', str(port),
              '--rfc5424', '-t', 'oc5424', '-f', msgs],
             'logger --tcp --octet-count')
        ct.wait_until(lambda: len(ct.read_lines(out)) >= 2 * len(lines), p,
                      'every message')
    finally:
        ct.interrupt_running(p, err)
    check_eq(p.returncode, 0, 'exit status')
    evs = events(out)
    check_eq(len(evs), 2 * len(lines), 'events')
    check_arrived(evs, lines, ['nl3164', 'oc5424'])
    check(all(e['level'] == 'NOTICE' for e in evs), 'logger sends notice')


def case_syslog_udp():
    lines, msgs = sample(200)
    p, err, port, out, _ = start('udp://127.0.0.1:0')
    try:
        for tag, fmt in (('u3164', '--rfc3164'), ('u5424', '--rfc5424')):
            send(['--udp', '-n', '127.0.0.1', '-P', str(port), fmt,
                  '-t', tag, '-f', msgs], 'logger --udp')
        ct.wait_until(lambda: len(ct.read_lines(out)) >= 2 * len(lines), p,
                      'every datagram')
    finally:
        ct.interrupt_running(p, err)
    check_eq(p.returncode, 0, 'exit status')
    check_arrived(events(out), lines, ['u3164', 'u5424'])


def case_syslog_limits():
    lines, msgs = sample(50)
    p, err, port, out, rej = start(
        'tcp://127.0.0.1:0', '    max_message: 4096\n    max_connections: 4\n')
    try:
        s = socket.create_connection(('127.0.0.1', port))
        s.sendall(b'<13>Dec  7 10:00:00 h1 big: ' + b'x' * (1 << 20) +
                  b'\n<13>Dec  7 10:00:01 h1 after: line after the long one'
                  b'\n')
        body = b'<13>1 2024-01-01T00:00:00Z h1 counted - - - ' + \
            b'y' * 100000
        short = b'<13>Dec  7 10:00:02 h1 app: short frame'
        s.sendall(b'%d ' % len(body) + body + b'%d ' % len(short) + short)
        # a plain line that starts with a number and a space is newline
        # framed, not a count
        s.sendall(b'081109 203615 148 INFO plain numbered line\n')
        s.sendall(bytes(range(256)) + b'\n\x00\x00\n')
        extra = [socket.create_connection(('127.0.0.1', port))
                 for _ in range(8)]

        def one_closed():
            for c in extra:
                c.settimeout(0.05)
                try:
                    if c.recv(1) == b'':
                        return True
                except socket.timeout:
                    pass
            return False
        ct.wait_until(one_closed, p, 'a connection over the limit closed')
        for c in extra:
            c.close()
        ct.wait_until(lambda: len(events(out)) + len(events(rej)) >= 5, p,
                      'the hostile messages')
        # The listener reaps the closed connections on its next poll; until
        # then logger could be the one over the limit.  A probe whose
        # message arrives was read in a poll that also saw every earlier
        # close, so once one gets through there is room for logger too.
        probe = [None, 0]

        def probe_through():
            if probe[0] is not None and any(
                    e.get('message') == 'probe %d' % probe[1]
                    for e in events(out)):
                return True
            if probe[0] is not None:
                probe[0].settimeout(0.05)
                try:
                    if probe[0].recv(1) != b'':
                        return False
                except socket.timeout:
                    return False
                except OSError:
                    pass
                probe[0].close()
            probe[1] += 1
            probe[0] = socket.create_connection(('127.0.0.1', port))
            probe[0].sendall(b'<13>Dec  7 10:00:03 h1 probe: probe %d\n' %
                             probe[1])
            return False
        ct.wait_until(probe_through, p, 'a connection with room again')
        send(['--tcp', '-n', '127.0.0.1', '-P', str(port), '--rfc3164',
              '-t', 'flooded', '-f', msgs], 'logger after the flood')
        ct.wait_until(lambda: sum(1 for e in events(out)
                                  if e.get('service') == 'flooded') >=
                      len(lines), p, "logger's messages after the flood")
        s.close()
        probe[0].close()

        def reported():
            text = b''.join(list(err)).decode('utf-8', 'replace')
            r = re.findall(r'truncated=(\d+) refused_connections=(\d+)',
                           text)
            return sum(int(a) for a, _ in r) >= 2 and \
                sum(int(b) for _, b in r) >= 1
        ct.wait_until(reported, p, 'the report of what was cut and refused')
    finally:
        text = ct.interrupt_running(p, err)
    check_eq(p.returncode, 0, 'exit status (stderr %r)' % text[-2000:])
    evs = events(out)
    big = [e for e in evs if e.get('service') == 'big']
    check_eq(len(big), 1, 'the long line: one event')
    check(len(big[0]['message']) < 4096, 'cut at max_message: %d' %
          len(big[0]['message']))
    check(any(e.get('message') == 'line after the long one' for e in evs),
          'the message after the long line is intact')
    check(any('plain numbered line' in e.get('message', '') for e in evs),
          'a line starting with digits and a space is newline framed')
    check(any(e.get('message') == 'short frame' for e in evs),
          'the frame after the over-long counted one is intact: %r' %
          [e.get('message', '')[:40] for e in evs][-6:])
    check_arrived([e for e in evs if e.get('service') == 'flooded'], lines,
                  ['flooded'])


CASES = {
    'syslog_tcp': case_syslog_tcp,
    'syslog_udp': case_syslog_udp,
    'syslog_limits': case_syslog_limits,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: syslog_test.py BINARY CASE\ncases: %s\n'
                         % ' '.join(sorted(CASES)))
        return 2
    ct.CASES[argv[2]] = CASES[argv[2]]
    return ct.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
