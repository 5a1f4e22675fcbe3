#!/usr/bin/env python3
"""tutorial_test.py -- run docs/tutorial.md.

Usage: tutorial_test.py LOGSTREAM_BINARY

Every ```sh block of the tutorial runs, in order, in one scratch
directory, under bash with `set -e` and the binary's directory first on
PATH, LOGHUB and NAB naming the datasets (read in place).  The ```text
block that follows a sh block lists lines that must each appear in what
the block printed (stdout and stderr together).  The ports the tutorial's
cluster uses (7101-7103, their Raft ports 7201-7203, and 8101-8103) are
mapped to free ones.  Node processes the tutorial starts are killed at the
end whatever happens.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
BLOCK_TIMEOUT = 240


def blocks(text):
    """[(sh text, [expected lines])] in order."""
    out = []
    for m in re.finditer(r'^```(\w+)\n(.*?)^```$', text, re.M | re.S):
        kind, body = m.group(1), m.group(2)
        if kind == 'sh':
            out.append([body, []])
        elif kind == 'text' and out and not out[-1][1]:
            out[-1][1] = [ln for ln in body.splitlines() if ln.strip()]
    return out


def free_port(avoid):
    while True:
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        p = s.getsockname()[1]
        s.close()
        if p in avoid or p + 100 > 65535:
            continue
        # the Raft port (listen + 100) must be free as well
        t = socket.socket()
        try:
            t.bind(('127.0.0.1', p + 100))
        except OSError:
            continue
        finally:
            t.close()
        return p


def port_map():
    m, used = {}, set()
    for i in (1, 2, 3):
        p = free_port(used)
        used |= {p, p + 100}
        m[7100 + i] = p
        h = free_port(used)
        used.add(h)
        m[8100 + i] = h
    return m


def remap(body, ports):
    return re.sub(r'\b(710[1-3]|810[1-3])\b',
                  lambda x: str(ports[int(x.group(1))]), body)


def main(argv):
    binary = os.path.abspath(argv[1])
    data = os.environ.get('LS_DATASETS_DIR', '')
    if not data or not os.path.isdir(os.path.join(data, 'loghub')):
        print('SKIP: LS_DATASETS_DIR does not name the datasets directory')
        return 77
    with open(os.path.join(ROOT, 'docs', 'tutorial.md'),
              encoding='utf-8') as f:
        steps = blocks(f.read())
    assert len(steps) >= 10, 'the tutorial has %d steps' % len(steps)
    env = dict(os.environ)
    env['PATH'] = os.path.dirname(binary) + os.pathsep + env['PATH']
    env['LOGHUB'] = os.path.join(data, 'loghub')
    env['NAB'] = os.path.join(data, 'nab')
    ports = port_map()
    work = tempfile.mkdtemp(prefix='ls-tutorial-', dir=os.getcwd())
    ok = False
    try:
        for n, (body, want) in enumerate(steps, 1):
            script = 'set -e\n' + remap(body, ports)
            p = subprocess.run(['bash', '-c', script], cwd=work, env=env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               timeout=BLOCK_TIMEOUT)
            out = p.stdout.decode('utf-8', 'replace')
            first = body.strip().splitlines()[0]
            assert p.returncode == 0, 'step %d (%s): exit %d\n%s' % (
                n, first, p.returncode, out[-3000:])
            for ln in want:
                assert ln in out, 'step %d (%s): %r not in its output:\n%s' \
                    % (n, first, ln, out[-3000:])
            print('step %d ok: %s' % (n, first))
        ok = True
    finally:
        for i in (1, 2, 3):
            pf = os.path.join(work, 'node%d.pid' % i)
            if os.path.exists(pf):
                try:
                    os.kill(int(open(pf).read().strip()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        if not ok:
            for i in (1, 2, 3):
                lf = os.path.join(work, 'node%d.log' % i)
                if os.path.exists(lf):
                    print('--- node%d.log (tail)' % i)
                    print(open(lf, errors='replace').read()[-3000:])
        if ok or not os.environ.get('LS_KEEP_WORK'):
            shutil.rmtree(work, ignore_errors=True)
    print('ok: %d steps' % len(steps))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
