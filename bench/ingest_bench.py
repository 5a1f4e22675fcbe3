#!/usr/bin/env python3
"""ingest_bench.py -- sustained ingest rate per source type on one node.

Usage: ingest_bench.py LOGSTREAM_BINARY CORPUS.log

For each source type, `logstream run` reads the corpus's lines into a
`null` sink (no parsing: the source's own cost and the runtime's) and the
rate is lines / wall time of the run:

  file        a `file` source over CORPUS (no follow: the run ends at EOF)
  syslog-tcp  a `syslog` source on 127.0.0.1:PORT; this script sends the
              lines over one TCP connection, newline framed, as fast as
              the socket takes them, then closes; the run is stopped once
              the source counted every line (its summary on SIGINT)
  http        an `http` source: this script POSTs the lines as text/plain
              bodies of about 512 KiB over two keep-alive connections
              (Python's http.client, two threads), retrying on 429; the
              rate is lines over the time until the last 202.  Twice: in
              memory (no data directory) and `--data-dir` with
              `sync: true`, where every 202 waited for an fsync of the
              store's write-ahead log

  parse       the file source into a `parse` stage (format auto) and a
              null sink: the parser's cost on top of the file's
  anomaly     the same with an `anomaly` stage behind the parser (count
              of events per service per minute, one detector per
              service): the stage's cost on top of the parser's

Prints one line per figure, like the C benchmarks; exits non-zero when a
run fails or loses lines.
"""
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOPO_FILE = """name: ingest-file
sources:
  - name: in
    kind: file
    path: %s
sinks:
  - name: out
    kind: null
    input: in
"""

TOPO_SYSLOG = """name: ingest-syslog
sources:
  - name: in
    kind: syslog
    listen: tcp://127.0.0.1:0
    queue: 1048576
sinks:
  - name: out
    kind: null
    input: in
"""

TOPO_PARSE = """name: ingest-parse
sources:
  - name: in
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: in
    format: auto
%s
sinks:
  - name: out
    kind: null
    input: %s
"""

ANOMALY = """  - name: det
    kind: anomaly
    input: parse
    key: service
    metric: count
    interval: 1m
    emit: scores
"""


TOPO_HTTP = """name: ingest-http
sources:
  - name: in
    kind: http
    listen: 127.0.0.1:0
    queue: 16777216
sinks:
  - name: out
    kind: null
    input: in
"""


def lines_in(path):
    n = 0
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            n += chunk.count(b'\n')
    return n


def summary_in(err):
    m = re.search(r'summary: in=(\d+)', err)
    return int(m.group(1)) if m else -1


def bench_file(binary, corpus, n, tmp):
    topo = os.path.join(tmp, 'file.yaml')
    with open(topo, 'w') as f:
        f.write(TOPO_FILE % corpus)
    t0 = time.monotonic()
    p = subprocess.run([binary, 'run', topo, '--progress', '0'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=600)
    dt = time.monotonic() - t0
    got = summary_in(p.stderr.decode())
    return p.returncode == 0 and got == n, n / dt, got


def run_topology(binary, topo, n):
    """Run topo; (ok, lines per second of wall time, lines counted).  The
    lines per CPU-second (user + system over every thread) go to stderr:
    on a busy machine they say more than the wall-time rate."""
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run([binary, 'run', topo, '--progress', '0'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=600)
    dt = time.monotonic() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    sys.stderr.write('# %s: %.0f lines per CPU-second (%.1f CPU-s)\n' % (
        os.path.basename(topo), n / max(cpu, 1e-9), cpu))
    got = summary_in(p.stderr.decode())
    return p.returncode == 0 and got == n, n / dt, got


def bench_parse(binary, corpus, n, tmp):
    topo = os.path.join(tmp, 'parse.yaml')
    with open(topo, 'w') as f:
        f.write(TOPO_PARSE % (corpus, '', 'parse'))
    return run_topology(binary, topo, n)


def bench_anomaly(binary, corpus, n, tmp):
    topo = os.path.join(tmp, 'anomaly.yaml')
    with open(topo, 'w') as f:
        f.write(TOPO_PARSE % (corpus, ANOMALY, 'det'))
    return run_topology(binary, topo, n)


def bench_syslog(binary, corpus, n, tmp):
    topo = os.path.join(tmp, 'syslog.yaml')
    with open(topo, 'w') as f:
        f.write(TOPO_SYSLOG)
    p = subprocess.Popen([binary, 'run', topo, '--progress', '0'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
def start_listening(args):
    """Start a run whose source listens; returns the process, its stderr
    so far and the port it logged (None: it said nothing in 30 s)."""
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    port = None
    buf = b''
    deadline = time.monotonic() + 30
    while port is None and time.monotonic() < deadline:
        line = p.stderr.readline()
        buf += line
        m = re.search(rb'msg="listening" .*port=(\d+)', line)
        if m:
            port = int(m.group(1))
    if port is None:
        p.kill()
    return p, buf, port


def bench_syslog(binary, corpus, n, tmp):
    topo = os.path.join(tmp, 'syslog.yaml')
    with open(topo, 'w') as f:
        f.write(TOPO_SYSLOG)
    p, buf, port = start_listening([binary, 'run', topo, '--progress', '0'])
    if port is None:
        return False, 0, -1
    s = socket.create_connection(('127.0.0.1', port))
    t0 = time.monotonic()
    with open(corpus, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            s.sendall(chunk)
    s.close()
    # the source has every line once the listener read the connection to
    # its end; ask the run to stop and read its count
    sent = time.monotonic() - t0
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=600)
    dt = time.monotonic() - t0
    got = summary_in((buf + err).decode('utf-8', 'replace'))
    # the rate: lines over the time until the sender was done (the
    # source kept up when every line was counted)
    return got == n, n / max(sent, 1e-9), got if got >= 0 else dt


def bodies(corpus, size=512 << 10):
    with open(corpus, 'rb') as f:
        data = f.read()
    out, i = [], 0
    while i < len(data):
        j = data.rfind(b'\n', i, i + size)
        j = len(data) if j < i else j + 1
        out.append(data[i:j])
        i = j
    return out


def bench_http_mode(binary, corpus, n, tmp, durable):
    import http.client
    import threading
    topo = os.path.join(tmp, 'http.yaml')
    with open(topo, 'w') as f:
        f.write(TOPO_HTTP)
    args = [binary, 'run', topo, '--progress', '0']
    if durable:
        args += ['--data-dir', os.path.join(tmp, 'http-data'), '--fresh']
    p, buf, port = start_listening(args)
    if port is None:
        return False, 0, -1
    work = bodies(corpus)
    lock = threading.Lock()
    failed = []

    def sender():
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
        while True:
            with lock:
                if not work:
                    break
                body = work.pop()
            while True:
                c.request('POST', '/v1/logs', body,
                          {'Content-Type': 'text/plain'})
                r = c.getresponse()
                r.read()
                if r.status == 429:
                    time.sleep(0.05)
                    continue
                if r.status != 202:
                    failed.append(r.status)
                break
        c.close()
    t0 = time.monotonic()
    ts = [threading.Thread(target=sender) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    sent = time.monotonic() - t0
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=600)
    got = summary_in((buf + err).decode('utf-8', 'replace'))
    return got == n and not failed, n / max(sent, 1e-9), got


def bench_http(binary, corpus, n, tmp):
    return bench_http_mode(binary, corpus, n, tmp, False)


def bench_http_durable(binary, corpus, n, tmp):
    return bench_http_mode(binary, corpus, n, tmp, True)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    binary, corpus = argv[1], argv[2]
    n = lines_in(corpus)
    status = 0
    with tempfile.TemporaryDirectory(prefix='ls-ingest-') as tmp:
        for name, fn in (('file', bench_file), ('syslog-tcp', bench_syslog),
                         ('parse', bench_parse), ('anomaly', bench_anomaly),
                         ('http', bench_http),
                         ('http-fsync', bench_http_durable)):
            ok, rate, got = fn(binary, corpus, n, tmp)
            print('ingest %-10s %10.0f lines/s (%d lines%s)' % (
                name, rate, n, '' if ok else ', FAILED: counted %r' % got))
            if not ok:
                status = 1
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv))
