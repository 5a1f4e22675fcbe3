#!/usr/bin/env python3
"""cli_test.py -- end-to-end tests of the `logstream` command.

    python3 cli_test.py BINARY CASE

Each CASE runs the real binary in its own temporary directory (created in
the current directory, which meson sets to the build directory, and removed
afterwards; set LS_KEEP_TMP=1 to keep it) and checks what it prints and
writes against an independent reference: the Loghub ground-truth CSVs,
hand-written expectations, or a recomputation in Python.  Exit status 0 =
pass, 1 = fail, 77 = skipped (input data missing).

Environment:
  LS_DATASETS_DIR   where loghub/<System>/<System>_2k.log{,_structured.csv}
                    live (set by tests/meson.build)
  LS_TEST_WRAPPER   a command to run the binary under, for example
                    "valgrind --error-exitcode=99 --leak-check=full"
  LS_KEEP_TMP=1     keep the temporary directory

Only the Python standard library is used.
"""

import calendar
import collections
import csv
import datetime
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXAMPLES = os.path.join(SOURCE_ROOT, 'examples')

BINARY = None   # set by main()
WORKDIR = None  # the case's temporary directory

# How long one command may take before the case fails.  Generous: the suite
# also runs under valgrind on a loaded 2-core machine.
CMD_TIMEOUT = 100

EPOCH = datetime.datetime(1970, 1, 1)


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_eq(got, want, what):
    if got != want:
        raise AssertionError('%s: got %r, want %r' % (what, got, want))


def wrapper():
    w = os.environ.get('LS_TEST_WRAPPER', '').strip()
    return shlex.split(w) if w else []


def run(args, stdin=None, timeout=CMD_TIMEOUT, cwd=None):
    """Run the binary with args; return (rc, stdout bytes, stderr text)."""
    p = subprocess.run(wrapper() + [BINARY] + args, input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       cwd=cwd or WORKDIR, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode('utf-8', 'replace')


def path(name):
    return os.path.join(WORKDIR, name)


def write(name, text):
    mode = 'wb' if isinstance(text, bytes) else 'w'
    with open(path(name), mode) as f:
        f.write(text)
    return path(name)


def q(s):
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s)


def read_jsonl(p):
    out = []
    with open(p, 'rb') as f:
        for n, raw in enumerate(f, 1):
            try:
                out.append(json.loads(raw.decode('utf-8')))
            except ValueError as e:
                raise AssertionError('%s:%d: not a JSON line (%s): %r' %
                                     (p, n, e, raw[:200]))
    return out


def datasets():
    d = os.environ.get('LS_DATASETS_DIR', '')
    if not d or not os.path.isdir(os.path.join(d, 'loghub')):
        raise Skip('LS_DATASETS_DIR does not name the datasets directory')
    return d


def loghub(system):
    base = os.path.join(datasets(), 'loghub', system, system + '_2k.log')
    if not os.path.exists(base) or not os.path.exists(
            base + '_structured.csv'):
        raise Skip('Loghub %s sample missing' % system)
    return base, base + '_structured.csv'


def csv_rows(csv_path):
    with open(csv_path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def line_offsets(data):
    """Byte offset of the start of every line of data (a last line without
    a newline counts; nothing after a final newline does)."""
    offs, pos = [], 0
    while pos < len(data):
        offs.append(pos)
        nl = data.find(b'\n', pos)
        if nl < 0:
            break
        pos = nl + 1
    return offs


# The level words of docs/log-formats.md and docs/topology.md, mapped here
# independently of the product's parser.
LEVEL_OF_WORD = {
    'trace': 'TRACE', 'debug': 'DEBUG', 'info': 'INFO', 'notice': 'NOTICE',
    'warn': 'WARN', 'warning': 'WARN', 'error': 'ERROR', 'err': 'ERROR',
    'fatal': 'FATAL', 'severe': 'FATAL', 'failure': 'FATAL',
    'crit': 'FATAL', 'critical': 'FATAL', 'alert': 'FATAL',
    'emerg': 'FATAL', 'panic': 'FATAL',
}
SEVERITY = ['UNKNOWN', 'TRACE', 'DEBUG', 'INFO', 'NOTICE', 'WARN', 'ERROR',
            'FATAL']


def level_of(word):
    return LEVEL_OF_WORD.get(word.strip().lower(), 'UNKNOWN')


def key_tuple(row, fields):
    k = row['key']
    check(sorted(k) == sorted(fields),
          'result key fields %r, want %r' % (sorted(k), sorted(fields)))
    return tuple(k[f] for f in fields)


def id_part(s):
    """docs/windows.md: every byte outside [A-Za-z0-9._~:@+-] of an id part
    is percent-encoded (upper-case hex)."""
    return urllib.parse.quote(s.encode('utf-8'), safe=':@+')


def check_result_id(row, stage, fields):
    """The stable id is stage/key values joined by ','/window start in ms."""
    want = '%s/%s/%d' % (id_part(stage), ','.join(
        id_part(row['key'][f]) for f in fields), iso_ms(row['window_start']))
    check_eq(row['id'], want, 'result id')


def iso_ms(s):
    """Milliseconds since the epoch of 'YYYY-MM-DDTHH:MM:SS.mmmZ'."""
    m = re.fullmatch(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z', s)
    check(m is not None, 'not an RFC 3339 UTC time with ms: %r' % s)
    t = datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S')
    return calendar.timegm(t.timetuple()) * 1000 + int(m.group(2))


def iso_of_ms(ms):
    t = EPOCH + datetime.timedelta(milliseconds=ms)
    return t.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (ms % 1000)


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is b
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


# ---------------------------------------------------------------------------
# 1. validate
# ---------------------------------------------------------------------------

def scan_example(text):
    """A line scanner for the block-style examples: the topology name, and
    for each section the nodes with their line and partitions."""
    name, section, nodes = None, None, {'sources': [], 'stages': [],
                                        'sinks': []}
    for n, line in enumerate(text.split('\n'), 1):
        body = line.split('#', 1)[0].rstrip()
        m = re.match(r'^name:\s*(\S+)$', body)
        if m:
            name = m.group(1).strip('\'"')
            continue
        m = re.match(r'^(sources|stages|sinks):\s*$', body)
        if m:
            section = m.group(1)
            continue
        if re.match(r'^\S', body):
            section = None
            continue
        m = re.match(r'^\s*-\s+name:\s*(\S+)$', body)
        if m and section:
            nodes[section].append({'name': m.group(1), 'line': n,
                                   'partitions': 1})
            continue
        m = re.match(r'^\s+partitions:\s*(\d+)$', body)
        if m and section and nodes[section]:
            nodes[section][-1]['partitions'] = int(m.group(1))
    return name, nodes


def plural(n, one, many):
    return '%d %s' % (n, one if n == 1 else many)


def case_validate_examples():
    files = sorted(f for f in os.listdir(EXAMPLES) if f.endswith('.yaml'))
    check(len(files) >= 4, 'expected the four documented examples, got %r'
          % files)
    for f in files:
        p = os.path.join(EXAMPLES, f)
        with open(p, encoding='utf-8') as fh:
            name, nodes = scan_example(fh.read())
        check(name is not None, '%s: no top-level name found' % f)
        nactors = sum(nd['partitions'] for sec in nodes.values()
                      for nd in sec)
        want = '%s: ok: topology %s: %s, %s, %s, %s' % (
            p, "'%s'" % name,
            plural(len(nodes['sources']), 'source', 'sources'),
            plural(len(nodes['stages']), 'stage', 'stages'),
            plural(len(nodes['sinks']), 'sink', 'sinks'),
            plural(nactors, 'actor', 'actors'))
        rc, out, err = run(['validate', p])
        check_eq(rc, 0, '%s: exit status (stderr %r)' % (f, err))
        check_eq(out.decode().split('\n'), [want, ''], '%s: output' % f)
        check_eq(err, '', '%s: stderr' % f)

        # --plan: the same first line, then every node with its line and
        # its actors NODE/0 .. NODE/(partitions-1).
        rc, out, err = run(['validate', '--plan', p])
        check_eq(rc, 0, '%s --plan: exit status' % f)
        text = out.decode()
        check(text.startswith(want + '\n'), '%s --plan: first line' % f)
        for sec, role in (('sources', 'source'), ('stages', 'stage'),
                          ('sinks', 'sink')):
            for nd in nodes[sec]:
                head = re.search(r'^%s %s \([a-z_]+\), %s, line %d$' % (
                    role, re.escape(nd['name']),
                    plural(nd['partitions'], 'partition', 'partitions'),
                    nd['line']), text, re.M)
                check(head is not None, '%s --plan: no header for %s %s '
                      '(line %d)' % (f, role, nd['name'], nd['line']))
                actors = ' '.join('%s/%d' % (nd['name'], i)
                                  for i in range(nd['partitions']))
                check(re.search(r'^\s+actors: %s$' % re.escape(actors),
                                text, re.M) is not None,
                      '%s --plan: actors of %s should be %r' %
                      (f, nd['name'], actors))


def case_validate_docs():
    """The complete topology shown in docs/topology.md is valid."""
    with open(os.path.join(SOURCE_ROOT, 'docs', 'topology.md'),
              encoding='utf-8') as f:
        blocks = re.findall(r'```yaml\n(.*?)```', f.read(), re.S)
    full = [b for b in blocks if re.search(r'^sources:', b, re.M)]
    check(full, 'docs/topology.md shows no complete topology')
    for n, b in enumerate(full):
        p = write('doc%d.yaml' % n, b)
        name, nodes = scan_example(b)
        rc, out, err = run(['validate', p])
        check_eq(rc, 0, 'docs example %d: exit status (stderr %r)' % (n, err))
        check(out.decode().startswith("%s: ok: topology '%s': " % (p, name)),
              'docs example %d: output %r' % (n, out))


def pos_of(text, needle, nth=0, delta=0):
    """1-based (line, column) of the nth occurrence of needle, plus delta
    columns."""
    i = -1
    for _ in range(nth + 1):
        i = text.find(needle, i + 1)
        check(i >= 0, 'test bug: anchor %r (#%d) not found' % (needle, nth))
    line = text.count('\n', 0, i) + 1
    col = i - (text.rfind('\n', 0, i) + 1) + 1
    return line, col + delta


GOOD_TAIL = '''sinks:
  - name: out
    kind: stdout
    input: parse
'''

# (file name, text, [(anchor, message regex)]) -- an anchor is a needle
# string, (needle, nth, delta) or an explicit (line, col) pair of ints.
BROKEN = [
    ('unknown-kind.yaml', '''name: t
sources:
  - name: gen
    kind: generatr
stages:
  - name: parse
    kind: parse
    input: gen
''' + GOOD_TAIL, [
        ('generatr', r"unknown source kind 'generatr'.*generator"),
    ]),
    ('bad-duration.yaml', '''name: t
sources:
  - name: gen
    kind: generator
stages:
  - name: parse
    kind: parse
    input: gen
  - name: w
    kind: window
    input: parse
    size: 10
''' + GOOD_TAIL, [
        (('size: 10\n', 0, 6),
         r"bad duration '10' for 'size': duration needs a unit"),
    ]),
    ('bad-session.yaml', '''name: t
sources:
  - name: gen
    kind: generator
stages:
  - name: parse
    kind: parse
    input: gen
  - name: s
    kind: session
    input: parse
    partitions: 2
    gap: 0s
    counters: ["errors level>=error", "ok: status=200", "w: x>=3"]
''' + GOOD_TAIL, [
        (('partitions: 2', 0, 12),
         r"session 's' has 2 partitions but no 'key' to route by"),
        ('0s', r"'gap' must be at least 1ms, got '0s'"),
        ('"errors', r"bad value 'errors level>=error' for 'counters': a "
         r"counter is 'name: condition'"),
        ('"w: x', r"bad value 'w: x>=3' for 'counters': counter 'w': >= "
         r"compares levels only"),
    ]),
    ('bad-duration-unit.yaml', '''name: t
settings:
  watermark_delay: 3 days
sources:
  - name: gen
    kind: generator
stages:
  - name: parse
    kind: parse
    input: gen
''' + GOOD_TAIL, [
        ('3 days', r"bad duration '3 days' for 'watermark_delay'"),
    ]),
    ('undefined-input.yaml', '''name: t
sources:
  - name: gen
    kind: generator
stages:
  - name: parse
    kind: parse
    input: gen
  - name: w
    kind: window
    input: pars
    size: 10s
sinks:
  - name: out
    kind: stdout
    input: [parse, w, nosuch]
''', [
        (('input: pars\n', 0, 7),
         r"input 'pars' is not defined \(did you mean 'parse'\?\)"),
        ('nosuch', r"input 'nosuch' is not defined"),
    ]),
    ('cycle.yaml', '''name: t
sources:
  - name: gen
    kind: generator
stages:
  - name: parse
    kind: parse
    input: [gen, c]
  - name: a
    kind: filter
    input: parse
  - name: c
    kind: filter
    input: a
''' + GOOD_TAIL, [
        ('name: parse', r"cycle among stages: (parse -> a -> c -> parse|"
         r"a -> c -> parse -> a|c -> parse -> a -> c)$"),
    ]),
    ('yaml-indent.yaml', '''name: t
sources:
  - name: gen
    kind: generator
  bad: 1
''' + GOOD_TAIL, [
        ('bad: 1', r'YAML syntax error'),
    ]),
    ('yaml-brace.yaml', '''name: t
sources:
  - {name: gen, kind: generator}}
''' + GOOD_TAIL, [
        (('}}', 0, 1), r'YAML syntax error'),
    ]),
    ('yaml-tab.yaml', 'name: t\nsources:\n  - name: gen\n\tkind: stdin\n'
     + GOOD_TAIL, [
         ('\tkind', r'YAML syntax error.*tab'),
     ]),
    ('unknown-param.yaml', '''name: t
sources:
  - name: gen
    kind: generator
stages:
  - name: parse
    kind: parse
    input: gen
  - name: w
    kind: window
    input: parse
    sise: 10s
''' + GOOD_TAIL, [
        ('name: w', r"kind 'window' requires parameter 'size'"),
        ('sise', r"unknown parameter 'sise' for kind 'window' \(did you "
         r"mean 'size'\?\)"),
    ]),
    ('duplicate.yaml', '''name: t
sources:
  - name: gen
    kind: generator
    rate: 10
    rate: 20
stages:
  - name: parse
    kind: parse
    input: gen
''' + GOOD_TAIL, [
        (('rate', 1, 0), r"duplicate key 'rate' \(first at 5:5\)"),
    ]),
    ('top-level.yaml', '''sources:
  - name: gen
    kind: generator
stages:
  - name: parse
    kind: parse
    input: gen
''' + GOOD_TAIL + 'extra: 1\n', [
        ((1, 1), r"missing required key 'name'"),
        ('extra', r"unknown top-level key 'extra'"),
    ]),
    ('roles.yaml', '''name: t
sources:
  - name: gen
    kind: generator
    partitions: 2
stages:
  - name: parse
    kind: parse
    input: gen
    dead_letter: p2
  - name: p2
    kind: parse
    input: out
    partitions: 0
  - name: w
    kind: window
    input: parse
    partitions: 2
    size: 1m
    aggregates: [count, avg(latency_ms), median(x)]
''' + GOOD_TAIL, [
        (('partitions: 2', 0, 12), r'a source has exactly one partition'),
        (('dead_letter: p2', 0, 13), r"dead_letter 'p2' must name a sink"),
        (('input: out', 0, 7), r"input 'out' is a sink"),
        (('partitions: 0', 0, 12),
         r"'partitions' must be between 1 and 4096"),
        (('partitions: 2', 1, 12), r"window 'w' has 2 partitions but no "
         r"'key'"),
        ('median(x)', r"bad value 'median\(x\)' for 'aggregates'"),
    ]),
    ('empty.yaml', '', [
        ((1, 1), r'empty topology file'),
    ]),
]


def case_validate_errors():
    for fname, text, expect in BROKEN:
        p = write(fname, text)
        want = []
        for anchor, rx in expect:
            if isinstance(anchor, tuple) and isinstance(anchor[0], int):
                line, col = anchor
            elif isinstance(anchor, tuple):
                line, col = pos_of(text, *anchor)
            else:
                line, col = pos_of(text, anchor)
            want.append((line, col, rx))
        rc, out, err = run(['validate', p])
        check_eq(rc, 1, '%s: exit status (stderr %r)' % (fname, err))
        check_eq(out, b'', '%s: stdout' % fname)
        lines = [ln for ln in err.split('\n') if ln]
        got = []
        for ln in lines:
            m = re.match(r'^(.*):(\d+):(\d+): (.+)$', ln)
            check(m is not None and m.group(1) == p,
                  '%s: not a FILE:LINE:COL: message line: %r' % (fname, ln))
            got.append((int(m.group(2)), int(m.group(3)), m.group(4)))
        check_eq(len(got), len(want), '%s: number of diagnostics in %r'
                 % (fname, lines))
        for (gl, gc, msg), (wl, wc, rx) in zip(got, want):
            check((gl, gc) == (wl, wc) and re.search(rx, msg),
                  '%s: got %d:%d: %s; want %d:%d: /%s/' %
                  (fname, gl, gc, msg, wl, wc, rx))

    # A file that does not exist, and a directory: exit 1 with a message.
    rc, out, err = run(['validate', path('nosuch.yaml')])
    check_eq(rc, 1, 'missing file: exit status')
    check(path('nosuch.yaml') in err, 'missing file: message names it: %r'
          % err)
    rc, out, err = run(['validate', WORKDIR])
    check_eq(rc, 1, 'directory: exit status')


# ---------------------------------------------------------------------------
# 2. --help and usage errors
# ---------------------------------------------------------------------------

def case_help():
    for args, word in ((['--help'], 'usage: logstream'),
                       (['-h'], 'usage: logstream'),
                       (['help'], 'usage: logstream'),
                       (['run', '--help'], 'usage: logstream run'),
                       (['run', '-h'], 'usage: logstream run'),
                       (['validate', '--help'], 'usage: logstream validate'),
                       (['version', '--help'], 'usage: logstream version'),
                       (['certs', '--help'], 'usage: logstream certs'),
                       (['certs', 'init', '--help'],
                        'usage: logstream certs init'),
                       (['certs', 'issue', '--help'],
                        'usage: logstream certs issue')):
        rc, out, err = run(args)
        check_eq(rc, 0, '%s: exit status' % args)
        check(out.decode().startswith(word), '%s: usage on stdout: %r' %
              (args, out[:200]))
    rc, out, err = run(['--help'])
    for cmd in ('run', 'validate', 'version'):
        check(re.search(r'^\s+%s\b' % cmd, out.decode(), re.M) is not None,
              'main usage lists %s' % cmd)
    rc, out, err = run(['run', '--help'])
    for opt in ('--duration', '--data-dir', '--workers', '--quiet'):
        check(opt in out.decode(), 'run usage mentions %s' % opt)

    rc, out, err = run(['version'])
    check_eq(rc, 0, 'version: exit status')
    check(re.fullmatch(r'logstream \d+\.\d+\.\d+\n', out.decode())
          is not None, 'version output %r' % out)

    # Usage errors: exit 2 and a usage text on stderr, nothing on stdout.
    ex = os.path.join(EXAMPLES, 'stdin.yaml')
    for args in ([], ['frobnicate'], ['--bogus'], ['run'],
                 ['run', ex, '--bogus'], ['run', ex, 'second.yaml'],
                 ['run', ex, '--duration'], ['run', ex, '--duration', 'x'],
                 ['run', ex, '--duration', '-1'],
                 ['run', ex, '--workers', '2x'], ['run', ex, '--data-dir'],
                 ['validate'], ['validate', ex, '--bogus'],
                 ['validate', ex, ex], ['certs'], ['certs', 'frob'],
                 ['certs', 'init'], ['certs', 'issue', '--dir', 'x'],
                 ['certs', 'issue', '--dir']):
        rc, out, err = run(args, stdin=b'')
        check_eq(rc, 2, '%s: exit status' % args)
        check_eq(out, b'', '%s: stdout' % args)
        check('usage' in err or 'needs a value' in err or
              'bad value' in err, '%s: stderr explains: %r' % (args, err))


# ---------------------------------------------------------------------------
# 3. Loghub counts against the ground truth
# ---------------------------------------------------------------------------

# system -> (explicit format, key fields, function(csv row) -> key tuple)
# Linux and OpenSSH have no level: their CSV's "Level" (Linux) and
# "Component" (OpenSSH) columns hold the host name, "Component" (Linux) the
# syslog tag, which the parser reports as the service.
LOGHUB = {
    'HDFS': ('log4j', ['level'], lambda r: (level_of(r['Level']),)),
    'Hadoop': ('log4j', ['level'], lambda r: (level_of(r['Level']),)),
    'Spark': ('log4j', ['level'], lambda r: (level_of(r['Level']),)),
    'Zookeeper': ('log4j', ['level'], lambda r: (level_of(r['Level']),)),
    'Apache': ('apache_error', ['level'], lambda r: (level_of(r['Level']),)),
    'BGL': ('bgl', ['level'], lambda r: (level_of(r['Level']),)),
    'Linux': ('rfc3164', ['host', 'service', 'pid'],
              lambda r: (r['Level'], r['Component'], r['PID'])),
    'OpenSSH': ('rfc3164', ['host', 'pid'],
                lambda r: (r['Component'], r['Pid'])),
}


def loghub_topology(name, log, fmt, key, parse_parts, win_parts, out, dl):
    return '''name: %s
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: %s
    partitions: %d
    dead_letter: rejects
  - name: counts
    kind: window
    input: parse
    key: [%s]
    partitions: %d
    size: 876000h
sinks:
  - name: out
    kind: jsonl
    input: counts
    path: %s
  - name: rejects
    kind: jsonl
    path: %s
''' % (name, q(log), fmt, parse_parts, ', '.join(key), win_parts, q(out),
       q(dl))


def loghub_case(system):
    log, csvp = loghub(system)
    fmt, key, keyfn = LOGHUB[system]
    rows = csv_rows(csvp)
    check_eq(len(rows), 2000, '%s ground truth rows' % system)
    want = collections.Counter(keyfn(r) for r in rows)

    for n, (f, pp, wp) in enumerate((('auto', 1, 1), (fmt, 2, 3))):
        out, dl = path('out%d.jsonl' % n), path('dl%d.jsonl' % n)
        topo = write('t%d.yaml' % n, loghub_topology(
            'loghub-' + system.lower(), log, f, key, pp, wp, out, dl))
        rc, _, err = run(['run', topo, '--quiet'])
        what = '%s, format %s' % (system, f)
        check_eq(rc, 0, '%s: exit status (stderr %r)' % (what, err))
        res = read_jsonl(out)
        got = collections.Counter()
        for r in res:
            check_eq(r['stage'], 'counts', what + ': stage')
            check_eq(r['window_start'], '1970-01-01T00:00:00.000Z',
                     what + ': window_start')
            check_eq(iso_ms(r['window_end']), 876000 * 3600 * 1000,
                     what + ': window_end')
            check_eq(r.get('final'), True, what + ': final')
            check_result_id(r, 'counts', key)
            k = key_tuple(r, key)
            check(k not in got, '%s: key %r reported twice' % (what, k))
            got[k] = r['count']
        check_eq(sum(got.values()), 2000, what + ': total count')
        check_eq(dict(got), dict(want), what + ': counts per %s' % key)
        with open(dl, 'rb') as fh:
            check_eq(fh.read(), b'', what + ': dead letters')


# ---------------------------------------------------------------------------
# 4. Partitioning does not change results; a recomputation in Python
# ---------------------------------------------------------------------------

AGGS = ['sum_latency_ms', 'min_latency_ms', 'max_latency_ms',
        'avg_latency_ms']


def gen_topology(name, parse_parts, win_parts, out, events=None,
                 count=50000, fmt='json', seed=20240301):
    t = '''name: %s
sources:
  - name: gen
    kind: generator
    count: %d
    seed: %d
    rate: 0
    start: 2024-03-01T00:00:00Z
    format: %s
stages:
  - name: parse
    kind: parse
    input: gen
    format: %s
    partitions: %d
''' % (name, count, seed, fmt, fmt, parse_parts)
    if out is not None:
        t += '''  - name: per_service
    kind: window
    input: parse
    key: service
    partitions: %d
    size: 10s
    aggregates: [count, sum(latency_ms), min(latency_ms), max(latency_ms),
                 avg(latency_ms)]
  - name: per_second
    kind: window
    input: parse
    key: [service, status]
    partitions: %d
    size: 1s
    aggregates: [count, sum(latency_ms), min(latency_ms), max(latency_ms),
                 avg(latency_ms)]
''' % (win_parts, win_parts)
    t += 'sinks:\n'
    if out is not None:
        t += '''  - name: out
    kind: jsonl
    input: [per_service, per_second]
    path: %s
''' % q(out)
    if events is not None:
        t += '''  - name: events
    kind: jsonl
    input: parse
    path: %s
''' % q(events)
    return t


def result_set(rows):
    """{(stage, window_start, key items): (count, aggregates)}."""
    s = {}
    for r in rows:
        k = (r['stage'], r['window_start'], r['window_end'],
             tuple(sorted(r['key'].items())))
        check(k not in s, 'result %r emitted twice' % (k,))
        s[k] = (r['count'], tuple(r.get(a) for a in AGGS))
    return s


def compare_sets(a, b, what):
    check_eq(sorted(a), sorted(b), what + ': windows and keys')
    for k in a:
        ca, va = a[k]
        cb, vb = b[k]
        check_eq(ca, cb, '%s: count of %r' % (what, k))
        for name, x, y in zip(AGGS, va, vb):
            check(close(x, y), '%s: %s of %r: %r vs %r' %
                  (what, name, k, x, y))


def run_ok(topo, what, extra=()):
    rc, out, err = run(['run', topo, '--quiet'] + list(extra))
    check_eq(rc, 0, '%s: exit status (stderr %r)' % (what, err))
    return out


def case_partitions():
    runs = {}
    # The re-run also uses another number of scheduler threads.
    for name, pp, wp, workers in (('a', 1, 1, '2'), ('b', 3, 4, '3'),
                                  ('a2', 1, 1, '1')):
        out = path('res-%s.jsonl' % name)
        topo = write('gen-%s.yaml' % name,
                     gen_topology('parts-' + name, pp, wp, out))
        run_ok(topo, 'partitions %d/%d' % (pp, wp), ['--workers', workers])
        with open(out, 'rb') as f:
            runs[name] = f.read()

    a = result_set(json.loads(ln) for ln in runs['a'].splitlines())
    b = result_set(json.loads(ln) for ln in runs['b'].splitlines())
    for rs, what in ((a, '1/1'), (b, '3/4')):
        for stage in ('per_service', 'per_second'):
            total = sum(v[0] for k, v in rs.items() if k[0] == stage)
            check_eq(total, 50000, '%s: %s total count' % (what, stage))
    check(sum(1 for k in a if k[0] == 'per_second') > 8 * 4,
          'the 1 s windows should split the run into several windows')
    compare_sets(a, b, 'partitions 1/1 vs 3/4')

    # Determinism: the same topology twice gives the same lines.
    check_eq(sorted(runs['a'].splitlines()), sorted(runs['a2'].splitlines()),
             're-run: sorted output')


def case_mixed_formats():
    """Every line the generator writes in format mixed (json, logfmt,
    syslog, access log) is recognised by parse format auto."""
    out, dl = path('res.jsonl'), path('rejects.jsonl')
    topo = write('mixed.yaml', '''name: mixed
sources:
  - name: gen
    kind: generator
    count: 20000
    rate: 0
    seed: 9
    format: mixed
    start: 2024-03-01T00:00:00Z
stages:
  - name: parse
    kind: parse
    input: gen
    format: auto
    partitions: 2
    dead_letter: rejects
  - name: levels
    kind: window
    input: parse
    key: level
    partitions: 2
    size: 876000h
sinks:
  - name: out
    kind: jsonl
    input: levels
    path: %s
  - name: rejects
    kind: jsonl
    path: %s
''' % (q(out), q(dl)))
    run_ok(topo, 'mixed formats')
    with open(dl, 'rb') as f:
        check_eq(f.read()[:500], b'', 'dead letters of generated lines')
    res = read_jsonl(out)
    check_eq(sum(r['count'] for r in res), 20000, 'events counted')
    for r in res:
        check(r['key']['level'] in SEVERITY[1:], 'level %r' % r['key'])
        check_result_id(r, 'levels', ['level'])


# latency_ms as written in a JSON line -> the number it stands for, or None
# when it must not enter sum/min/max/avg (docs/windows.md: missing, not a
# number, not finite).  Hand-written expectations.
AGG_VALUES = [
    ('12.5', 12.5), ('"7"', 7.0), ('"abc"', None), ('"nan"', None),
    ('"inf"', None), ('1e400', None), ('""', None), (None, None),
    ('-3', -3.0), ('true', None), ('[1]', None), ('null', None),
    ('"1_000"', None), ('"5 "', None), ('2.5e2', 250.0), ('1e-3', 0.001),
    ('"-0"', 0.0), ('{"v":1}', None), ('0.1', 0.1), ('0.2', 0.2),
]


def agg_input(with_count_field):
    """A JSON-lines file of AGG_VALUES (service s, one per second from
    00:00:00) plus window edge cases; the topology over it; the expected
    results {(window_start, service): {name: value}}."""
    lines, want = [], {}
    for i, (v, num) in enumerate(AGG_VALUES):
        extra = '' if v is None else ',"latency_ms":%s' % v
        lines.append('{"ts":"2024-03-01T00:00:%02dZ","service":"s",'
                     '"message":"m%d"%s}' % (i, i, extra))
        k = ('2024-03-01T00:00:%02d.000Z' % (i // 10 * 10), 's')
        w = want.setdefault(k, {'count': 0, 'vals': []})
        w['count'] += 1
        if num is not None:
            w['vals'].append(num)
    # Window edges: before 1970 (floor, not truncation), exactly at a
    # window's end (next window), an epoch-seconds time.
    for ts, start in (('"1969-12-31T23:59:59.999Z"', '1969-12-31T23:59:50'),
                      ('"2024-03-01T00:00:10Z"', '2024-03-01T00:00:10'),
                      ('1709251209.999', '2024-03-01T00:00:00')):
        lines.append('{"ts":%s,"service":"edge","message":"e"}' % ts)
        w = want.setdefault((start + '.000Z', 'edge'),
                            {'count': 0, 'vals': []})
        w['count'] += 1
    log = write('aggs.log', ''.join(ln + '\n' for ln in lines))
    out = path('res.jsonl')
    aggs = ['count'] + (['count(latency_ms)'] if with_count_field else []) + [
        'sum(latency_ms)', 'min(latency_ms)', 'max(latency_ms)',
        'avg(latency_ms)']
    topo = write('aggs.yaml', '''name: aggregates
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: json
  - name: w
    kind: window
    input: parse
    key: service
    partitions: 2
    size: 10s
    aggregates: [%s]
sinks:
  - name: out
    kind: jsonl
    input: w
    path: %s
''' % (q(log), ', '.join(aggs), q(out)))
    expect = {}
    for k, w in want.items():
        vs = w['vals']
        e = {'count': w['count'],
             'sum_latency_ms': math.fsum(vs) if vs else None,
             'min_latency_ms': min(vs) if vs else None,
             'max_latency_ms': max(vs) if vs else None,
             'avg_latency_ms': math.fsum(vs) / len(vs) if vs else None}
        if with_count_field:
            e['count_latency_ms'] = len(vs)
        expect[k] = e
    return topo, out, expect


def check_aggregates(out, expect, what):
    got = {}
    for r in read_jsonl(out):
        k = (r['window_start'], r['key']['service'])
        check(k not in got, '%s: %r twice' % (what, k))
        got[k] = r
        check_result_id(r, 'w', ['service'])
    check_eq(sorted(got), sorted(expect), what + ': windows')
    for k, e in expect.items():
        for name, v in e.items():
            check(name in got[k] and close(got[k][name], v),
                  '%s: %s of %r is %r, want %r' %
                  (what, name, k, got[k].get(name, '(missing)'), v))


def case_aggregates():
    topo, out, expect = agg_input(False)
    run_ok(topo, 'aggregates')
    check_aggregates(out, expect, 'aggregates')


def case_count_field():
    """count(field) -- documented in docs/topology.md and accepted by
    validate -- counts the events that carry a numeric value."""
    topo, out, expect = agg_input(True)
    rc, _, err = run(['validate', topo])
    check_eq(rc, 0, 'count(field): validate (stderr %r)' % err)
    run_ok(topo, 'count(field)')
    check_aggregates(out, expect, 'count(field)')


def case_recompute():
    # The window results, and (in a second topology) the parsed events.
    out, events = path('res.jsonl'), path('events.jsonl')
    run_ok(write('win.yaml', gen_topology('recompute', 2, 3, out)),
           'window topology')
    run_ok(write('ev.yaml', gen_topology('events', 2, 0, None, events)),
           'events topology')

    evs = read_jsonl(events)
    check_eq(len(evs), 50000, 'events written')
    check_eq(sorted(e['offset'] for e in evs), list(range(50000)),
             'event offsets (one per generated line)')

    # Recompute both window stages from the events' ts/service/status/
    # latency_ms.
    acc = {}
    for e in evs:
        ts = iso_ms(e['ts'])
        lat = e.get('latency_ms')
        v = float(lat) if lat is not None else None
        for stage, size, kf in (('per_service', 10000, ('service',)),
                                ('per_second', 1000, ('service', 'status'))):
            start = ts // size * size
            key = tuple(sorted((f, e.get(f, '')) for f in kf))
            k = (stage, iso_of_ms(start), iso_of_ms(start + size), key)
            a = acc.setdefault(k, [0, 0, 0.0, None, None])
            a[0] += 1
            if v is not None and math.isfinite(v):
                a[1] += 1
                a[2] += v
                a[3] = v if a[3] is None else min(a[3], v)
                a[4] = v if a[4] is None else max(a[4], v)
    want = {}
    for k, (n, nv, s, lo, hi) in acc.items():
        want[k] = (n, (s if nv else None, lo, hi, s / nv if nv else None))

    got = result_set(read_jsonl(out))
    compare_sets(got, want, 'window stage vs Python recomputation')
    fields = {'per_service': ['service'],
              'per_second': ['service', 'status']}
    for r in read_jsonl(out):
        check_eq(list(r['key']), fields[r['stage']], 'key field order')
        check_result_id(r, r['stage'], fields[r['stage']])


# ---------------------------------------------------------------------------
# 5. Dead letters
# ---------------------------------------------------------------------------

def good(ts, level, service, msg, extra=''):
    return ('{"ts":"2024-03-01T00:00:%02dZ","level":"%s","service":"%s",'
            '"message":"%s"%s}' % (ts, level, service, msg, extra)).encode()


def case_dead_letters():
    # (line, is it valid)
    lines = [
        (good(1, 'info', 'api', 'ok 1', ',"latency_ms":12.5'), True),
        (b'{"ts":"2024-03-01T00:00:02Z","level":"warn","service":"db",'
         b'"message":"trunc', False),                       # truncated
        (b'\x00\x01\xff\xfe binary \x80 garbage \xc3', False),  # binary
        (b'', False),                                       # empty
        (good(3, 'error', 'api', 'ok 2'), True),
        (b'not json at all', False),
        (good(4, 'info', 'db', 'ok 3') + b' trailing', False),
        (good(5, 'info', 'db', 'caf\xc3\xa9 \\"quoted\\" ok'), True),
        (b'[1,2,3]', False),
        (b'{"a":1,}', False),
        (good(6, 'warn', 'web', 'crlf line') + b'\r', True),
        (b'{"deep":' * 70 + b'1' + b'}' * 70, False),       # too deep
        (b'garbage ' + b'x' * 100000, False),               # long
        (good(7, 'info', 'web', 'y' * 50000), True),         # long, valid
        (b'{"ts":"2024-03-01T00:00:08Z","message":"unterminated \\', False),
        (good(9, 'debug', 'api', 'last line, no newline'), True),
    ]
    data = b'\n'.join(ln for ln, _ in lines)
    log = write('mixed.log', data)
    offs = line_offsets(data)
    check_eq(len(offs), len(lines), 'line offsets')
    out, dl = path('counts.jsonl'), path('rejects.jsonl')
    topo = write('dl.yaml', '''name: dead-letters
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: json
    partitions: 2
    dead_letter: rejects
  - name: per_service
    kind: window
    input: parse
    key: service
    size: 876000h
sinks:
  - name: out
    kind: jsonl
    input: per_service
    path: %s
  - name: rejects
    kind: jsonl
    path: %s
''' % (q(log), q(out), q(dl)))
    run_ok(topo, 'dead letters')

    want_dead = {}
    want_counts = collections.Counter()
    for (ln, ok), off in zip(lines, offs):
        text = ln[:-1] if ln.endswith(b'\r') else ln
        if ok:
            want_counts[json.loads(text.decode())['service']] += 1
        else:
            want_dead[off] = ln.decode('utf-8', 'replace')
    dead = read_jsonl(dl)
    got_dead = {}
    for d in dead:
        check_eq(sorted(d), ['line', 'offset', 'reason', 'source', 'stage'],
                 'dead-letter record fields')
        check_eq((d['stage'], d['source']), ('parse', 'src'),
                 'dead-letter stage and source')
        check(isinstance(d['reason'], str) and d['reason'].strip(),
              'dead-letter reason must be non-empty: %r' % d)
        check(d['offset'] not in got_dead, 'offset %d twice' % d['offset'])
        got_dead[d['offset']] = d['line']
    check_eq(sorted(got_dead), sorted(want_dead), 'dead-letter offsets')
    for off in want_dead:
        check_eq(got_dead[off], want_dead[off], 'dead letter at %d' % off)

    got_counts = {}
    for r in read_jsonl(out):
        got_counts[r['key']['service']] = r['count']
    check_eq(got_counts, dict(want_counts), 'window counts of good lines')

    # The empty line's reason is the documented one.
    reasons = {d['offset']: d['reason'] for d in dead}
    check_eq(reasons[offs[3]], 'empty line', 'reason of the empty line')
    check(reasons[offs[1]].startswith('not valid JSON'),
          'reason of the truncated line: %r' % reasons[offs[1]])


def run_late(lines, stage):
    """Run the JSON lines through parse and the stage (YAML text of one
    node named after the results: reads parse, dead_letter late) into
    res.jsonl, with late.jsonl as the dead-letter sink and watermark_delay
    2s; returns the input bytes and the two paths and the data dir."""
    data = ''.join(ln + '\n' for ln in lines).encode()
    log = write('late.log', data)
    node = re.match(r'\s*- name: (\S+)', stage).group(1)
    out, dl, dd = path('res.jsonl'), path('late.jsonl'), path('data')
    topo = write('late.yaml', '''name: late
settings:
  watermark_delay: 2s
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: json
%ssinks:
  - name: out
    kind: jsonl
    input: %s
    path: %s
  - name: late
    kind: jsonl
    path: %s
''' % (q(log), stage, node, q(out), q(dl)))
    run_ok(topo, 'late events', ['--data-dir', dd])
    return data, out, dl, dd


def case_late_events():
    """Events older than watermark_delay + grace behind the newest event
    are late: they go to the window's dead_letter sink as event records
    (docs/windows.md, "Records") and change no result."""
    lines = [
        '{"ts":"2024-03-01T00:00:01Z","service":"a","message":"m1"}',
        '{"ts":"2024-03-01T00:00:05Z","service":"a","message":"m2"}',
        # 4 s behind the newest event: within delay 2s + grace 5s
        '{"ts":"2024-03-01T00:00:09Z","service":"b","message":"in time"}',
    ]
    # Enough newer events that they fill batches of their own whatever the
    # batch size, so the watermark has moved (to 00:00:23) before the late
    # line arrives; their window [20 s, 30 s) is still open.
    lines += ['{"ts":"2024-03-01T00:00:25Z","service":"c","message":"f%d"}'
              % i for i in range(5000)]
    late = '{"ts":"2024-03-01T00:00:02Z","service":"b","level":"warn",' \
        '"host":"h1","message":"late one","code":"7"}'
    lines += [late,
              '{"ts":"2024-03-01T00:00:21Z","service":"b","message":"open"}']
    data, out, dl, dd = run_late(lines, '''  - name: w
    kind: window
    input: parse
    key: service
    size: 10s
    grace: 5s
    dead_letter: late
''')
    late_off = line_offsets(data)[len(lines) - 2]

    got = {(r['window_start'], r['key']['service']): r['count']
           for r in read_jsonl(out)}
    check_eq(got, {('2024-03-01T00:00:00.000Z', 'a'): 2,
                   ('2024-03-01T00:00:00.000Z', 'b'): 1,
                   ('2024-03-01T00:00:20.000Z', 'b'): 1,
                   ('2024-03-01T00:00:20.000Z', 'c'): 5000},
             'window counts (the late event changes none)')
    with open(os.path.join(dd, 'last-run.json')) as f:
        nodes = {n['name']: n for n in json.load(f)['nodes']}
    check_eq(nodes['w']['late'], 1, 'late events counted by the stage')

    recs = read_jsonl(dl)
    check_eq(len(recs), 1, 'records in the late-event sink')
    r = recs[0]
    problems = []
    if r.get('stage') != 'w':
        problems.append('stage %r, want \'w\'' % r.get('stage'))
    if r.get('source') != 'src':
        problems.append('source %r, want the source node \'src\''
                        % r.get('source'))
    if r.get('offset') != late_off:
        problems.append('offset %r, want %d' % (r.get('offset'), late_off))
    if not (isinstance(r.get('reason'), str) and r['reason'].strip()):
        problems.append('empty reason')
    if 'line' in r:
        problems.append('has a raw "line" (%r) instead of an "event"'
                        % r['line'])
    ev = r.get('event')
    want_ev = {'time_ns': iso_ms('2024-03-01T00:00:02.000Z') * 1000000,
               'level': 'WARN', 'service': 'b', 'host': 'h1',
               'message': 'late one', 'attrs': {'code': '7'}}
    if ev != want_ev:
        problems.append('event %r, want %r' % (ev, want_ev))
    check(not problems, 'late-event record %s: %s' % (
        json.dumps(r), '; '.join(problems)))


def case_emit_on_update():
    """emit: on_update -- one update per event, in input order, then one
    final result per group with the same id."""
    log, csvp = loghub('Zookeeper')
    levels = [level_of(r['Level']) for r in csv_rows(csvp)]
    out = path('res.jsonl')
    topo = write('upd.yaml', '''name: updates
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: log4j
  - name: levels
    kind: window
    input: parse
    key: level
    size: 876000h
    emit: on_update
sinks:
  - name: out
    kind: jsonl
    input: levels
    path: %s
''' % (q(log), q(out)))
    run_ok(topo, 'on_update')
    res = read_jsonl(out)
    updates = [r for r in res if r['final'] is False]
    finals = [r for r in res if r['final'] is True]
    check_eq(len(updates) + len(finals), len(res), 'final is a boolean')
    check_eq([r['key']['level'] for r in updates], levels,
             'one update per event, in file order')
    seen = collections.Counter()
    for r in updates:
        seen[r['key']['level']] += 1
        check_eq(r['count'], seen[r['key']['level']],
                 'running count of %s' % r['key']['level'])
    check_eq({r['key']['level']: r['count'] for r in finals},
             dict(collections.Counter(levels)), 'final counts')
    check_eq(len(finals), len(set(levels)), 'one final result per level')
    ids = {r['key']['level']: r['id'] for r in finals}
    for r in updates:
        check_eq(r['id'], ids[r['key']['level']], 'update id = final id')
    check(res.index(finals[0]) == len(updates),
          'final results come after every update')


# ---------------------------------------------------------------------------
# 6. stdin, --duration, SIGINT
# ---------------------------------------------------------------------------

def case_stdin():
    # A Loghub sample piped in: counts per level equal the ground truth;
    # results go to stdout as JSON lines.
    log, csvp = loghub('Apache')
    want = collections.Counter(level_of(r['Level']) for r in csv_rows(csvp))
    topo = write('stdin.yaml', '''name: from-stdin
sources:
  - name: in
    kind: stdin
stages:
  - name: parse
    kind: parse
    input: in
    partitions: 2
  - name: levels
    kind: window
    input: parse
    key: level
    partitions: 2
    size: 876000h
sinks:
  - name: out
    kind: stdout
    input: levels
    format: jsonl
''')
    with open(log, 'rb') as f:
        data = f.read()
    rc, out, err = run(['run', topo, '--quiet'], stdin=data)
    check_eq(rc, 0, 'stdin run: exit status (stderr %r)' % err)
    got = {}
    for ln in out.decode().splitlines():
        r = json.loads(ln)
        got[r['key']['level']] = r['count']
    check_eq(got, dict(want), 'stdin: counts per level')

    # The shipped stdin example: keeps warnings and worse that mention a
    # timeout, printed as JSON events.  (line, kept?)
    lines = [
        ('{"level":"error","service":"api","message":"upstream timeout"}',
         True),
        ('{"level":"info","service":"api","message":"timeout is fine"}',
         False),
        ('level=warn service=db msg="read timeout after 3s"', True),
        ('level=warn service=db msg="disk almost full"', False),
        ('<131>1 2024-03-01T00:00:01Z h1 app - - - socket timeout', True),
        ('<134>1 2024-03-01T00:00:02Z h1 app - - - socket timeout', False),
        ('2015-10-18 18:01:47,978 WARN [main] a.B: connect timeout', True),
        ('2015-10-18 18:01:47,979 INFO [main] a.B: connect timeout', False),
        ('[Sun Dec 04 04:47:44 2005] [error] mod_jk timeout', True),
        ('', False),
        ('unparsable timeout line', False),
        ('{"level":"fatal","message":"Timeout (capitalised)"}', False),
        ('{"level":"fatal","message":"gave up: timeout"}', True),
    ]
    data = ''.join(ln + '\n' for ln, _ in lines).encode()
    offs = line_offsets(data)
    rc, out, err = run(['run', os.path.join(EXAMPLES, 'stdin.yaml'),
                        '--quiet'], stdin=data)
    check_eq(rc, 0, 'stdin example: exit status (stderr %r)' % err)
    evs = [json.loads(ln) for ln in out.decode().splitlines()]
    want_offs = [off for (ln, keep), off in zip(lines, offs) if keep]
    check_eq(sorted(e['offset'] for e in evs), want_offs,
             'stdin example: offsets of the events kept')
    for e in evs:
        check('timeout' in e['message'], 'kept event mentions timeout: %r'
              % e)
        check(SEVERITY.index(e['level']) >= SEVERITY.index('WARN'),
              'kept event is warn or worse: %r' % e)


def endless_topology(out, events):
    return '''name: endless
settings:
  watermark_delay: 1s
sources:
  - name: gen
    kind: generator
    rate: 5000
    seed: 5
stages:
  - name: parse
    kind: parse
    input: gen
    partitions: 2
  - name: per_service
    kind: window
    input: parse
    key: service
    partitions: 2
    size: 1h
sinks:
  - name: out
    kind: jsonl
    input: per_service
    path: %s
  - name: events
    kind: jsonl
    input: parse
    path: %s
''' % (q(out), q(events))


def check_final_windows(out, events, summary, what):
    """Every event the source produced was counted in an emitted window."""
    res = read_jsonl(out)
    check(len(res) > 0, what + ': results file is empty')
    n_events = len(read_jsonl(events))
    check(n_events > 0, what + ': no events were processed')
    check_eq(sum(r['count'] for r in res), n_events,
             what + ': window counts vs events seen')
    with open(summary) as f:
        s = json.load(f)
    nodes = {n['name']: n for n in s['nodes']}
    check_eq(nodes['gen']['in'], n_events, what + ': generated events')
    return s


def case_duration():
    out, events, dd = path('res.jsonl'), path('ev.jsonl'), path('data')
    topo = write('endless.yaml', endless_topology(out, events))
    t0 = time.monotonic()
    rc, _, err = run(['run', topo, '--duration', '2', '--data-dir', dd,
                      '--progress', '0'], stdin=b'')
    secs = time.monotonic() - t0
    check_eq(rc, 0, '--duration: exit status (stderr %r)' % err)
    check(secs >= 2.0, '--duration 2 ended after %.2f s' % secs)
    check(secs < 120, '--duration 2 took %.1f s' % secs)
    s = check_final_windows(out, events, os.path.join(dd, 'last-run.json'),
                            '--duration')
    check(s['seconds'] >= 2.0, 'last-run.json seconds %r' % s['seconds'])
    # The summary line on stderr shows the same numbers as last-run.json
    # (docs/operations.md: "the events it received ... window results").
    summ = [ln for ln in err.splitlines() if ln.startswith('summary:')]
    check_eq(len(summ), 1, '--duration: summary lines in %r' % err)
    nodes = {n['name']: n for n in s['nodes']}
    for part in summ[0][len('summary:'):].split('|'):
        m = re.match(r'^\s*([\w-]+)=(\d+)', part)
        check(m is not None, 'summary part %r' % part)
        check_eq(int(m.group(2)), nodes[m.group(1)]['in'],
                 'summary: events received by %s' % m.group(1))
        r = re.search(r'\bresults=(\d+)', part)
        if nodes[m.group(1)]['kind'] == 'window':
            check(r is not None and int(r.group(1)) ==
                  nodes[m.group(1)]['results'],
                  'summary: results of %s in %r' % (m.group(1), part))
    check_eq(sorted(nodes), ['events', 'gen', 'out', 'parse', 'per_service'],
             'last-run.json nodes')


def case_relative_paths():
    """Relative paths in a topology are relative to the working
    directory, not to the topology file; a jsonl sink truncates its file
    when the run starts (docs/operations.md)."""
    os.mkdir(path('conf'))
    write('in.log', ''.join('level=info service=s%d msg="m"\n' % (i % 3)
                            for i in range(30)))
    write('out.jsonl', 'stale line from an earlier run\n' * 1000)
    topo = write(os.path.join('conf', 'rel.yaml'), '''name: relative
sources:
  - name: src
    kind: file
    path: in.log
stages:
  - name: parse
    kind: parse
    input: src
    format: logfmt
sinks:
  - name: out
    kind: jsonl
    input: parse
    path: out.jsonl
''')
    run_ok(topo, 'relative paths')
    evs = read_jsonl(path('out.jsonl'))
    check_eq(len(evs), 30, 'relative paths: events in ./out.jsonl')
    check_eq(sorted(os.listdir(path('conf'))), ['rel.yaml'],
             'nothing written next to the topology file')


def wait_until(cond, proc, what):
    """Poll cond() until true; fail if proc ends first or after
    CMD_TIMEOUT seconds.  (A bounded wait for an observable condition, not
    a timed assertion.)"""
    deadline = time.monotonic() + CMD_TIMEOUT
    while not cond():
        check(proc.poll() is None, 'run ended (rc %r) while waiting for %s'
              % (proc.returncode, what))
        check(time.monotonic() < deadline, 'timed out waiting for %s' % what)
        time.sleep(0.05)


def count_lines(p):
    if not os.path.exists(p):
        return 0
    with open(p, 'rb') as f:
        return f.read().count(b'\n')


def start(args):
    return subprocess.Popen(wrapper() + [BINARY] + args,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=WORKDIR)


def interrupt(p, sig=signal.SIGINT):
    """Send sig, then wait for the exit; returns stderr."""
    try:
        p.send_signal(sig)
        _, err = p.communicate(timeout=CMD_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return err.decode('utf-8', 'replace')


def rotate_lines(first, n, last_newline=True):
    text = ''.join(
        'ts=2024-03-01T00:00:%02dZ level=info service=svc%d msg="line %d"\n'
        % (i % 60, i % 4, i) for i in range(first, first + n))
    return text if last_newline else text[:-1]


ROTATE_TOPOLOGY = '''name: rotate
settings:
  checkpoint_interval: 200ms
  idle_timeout: 1000h
sources:
  - name: app_log
    kind: file
    path: %s
    follow: true
stages:
  - name: parse
    kind: parse
    input: app_log
    format: logfmt
sinks:
  - name: events
    kind: jsonl
    input: parse
    path: %s
'''


def case_follow_rotate():
    """A followed file rotated while running, as logrotate does it: renamed
    away (its last line without newline), a new file created at the path;
    later cut to zero (copytruncate) and written again.  Every line of the
    three files is read exactly once."""
    log, events = path('app.log'), path('ev.jsonl')
    write(log, rotate_lines(0, 100))
    topo = write('rotate.yaml', ROTATE_TOPOLOGY % (q(log), q(events)))
    p = start(['run', topo, '--quiet'])
    try:
        wait_until(lambda: count_lines(events) >= 100, p, 'the first lines')
        with open(log, 'a') as f:  # the writer still has the old file
            f.write(rotate_lines(100, 20, last_newline=False))
        os.rename(log, log + '.1')
        write(log, rotate_lines(120, 50))
        wait_until(lambda: count_lines(events) >= 170, p,
                   'the lines of the new file')
        with open(log, 'r+') as f:  # copytruncate
            f.truncate(0)
        write(log, rotate_lines(170, 30))
        wait_until(lambda: count_lines(events) >= 200, p,
                   'the lines after the truncation')
    finally:
        err = interrupt(p)
    check_eq(p.returncode, 0, 'exit status (stderr %r)' % err)
    got = sorted(e['message'] for e in read_jsonl(events))
    check_eq(got, sorted('line %d' % i for i in range(200)),
             'every line once')


def case_resume_rotated():
    """kill -9 a checkpointing run that follows a file; while it is down
    the file is rotated (renamed to app.log.1, more lines written to it
    first, a new app.log created).  The rerun finds the old file by its
    inode, reads it on from the checkpoint's offset, then the new one:
    every line exactly once in the sink."""
    log, events, dd = path('app.log'), path('ev.jsonl'), path('data')
    write(log, rotate_lines(0, 1000))
    topo = write('rotate.yaml', ROTATE_TOPOLOGY % (q(log), q(events)))
    p = start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        wait_until(lambda: len(read_lines(events)) > 0, p,
                   'the first checkpoint')
    finally:
        kill9(p)
    with open(log, 'a') as f:
        f.write(rotate_lines(1000, 200))
    os.rename(log, log + '.1')
    write(log, rotate_lines(1200, 300))
    p = start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        wait_until(lambda: len(read_lines(events)) >= 1500, p, 'every line')
    finally:
        err = interrupt(p)
    check_eq(p.returncode, 0, 'run 2: exit status (stderr %r)' % err)
    check('rotated while down' in err, 'run 2 says it reads the old file '
          'first: %r' % err)
    got = sorted(json.loads(ln)['message'] for ln in read_lines(events))
    check_eq(got, sorted('line %d' % i for i in range(1500)),
             'every line exactly once')


def case_signal(sig, what):
    """An endless run stopped by a signal still closes and emits its
    windows and exits 0."""
    out, events, dd = path('res.jsonl'), path('ev.jsonl'), path('data')
    topo = write('endless.yaml', endless_topology(out, events))
    p = start(['run', topo, '--quiet', '--data-dir', dd])
    try:
        wait_until(lambda: count_lines(events) > 0, p, 'events')
    finally:
        err = interrupt(p, sig)
    check_eq(p.returncode, 0, '%s: exit status (stderr %r)' % (what, err))
    check_final_windows(out, events, os.path.join(dd, 'last-run.json'),
                        what)


def case_follow():
    """A followed file: lines appended while running are read too; SIGINT
    ends the run and the window holds every line."""
    log = path('app.log')
    out, events = path('res.jsonl'), path('ev.jsonl')

    def lines(first, n):
        return ''.join(
            'ts=2024-03-01T00:00:%02dZ level=%s service=svc%d msg="line %d"'
            '\n' % (i % 60, ('info', 'warn', 'error')[i % 3], i % 4, i)
            for i in range(first, first + n))

    write(log, lines(0, 100))
    topo = write('follow.yaml', '''name: follow
sources:
  - name: app_log
    kind: file
    path: %s
    follow: true
stages:
  - name: parse
    kind: parse
    input: app_log
    format: logfmt
  - name: levels
    kind: window
    input: parse
    key: [service, level]
    partitions: 2
    size: 876000h
sinks:
  - name: out
    kind: jsonl
    input: levels
    path: %s
  - name: events
    kind: jsonl
    input: parse
    path: %s
''' % (q(log), q(out), q(events)))
    p = start(['run', topo, '--quiet'])
    try:
        wait_until(lambda: count_lines(events) >= 100, p, 'the first lines')
        with open(log, 'a') as f:
            f.write(lines(100, 50))
        wait_until(lambda: count_lines(events) >= 150, p,
                   'the appended lines')
    finally:
        err = interrupt(p)
    check_eq(p.returncode, 0, 'follow: exit status (stderr %r)' % err)
    evs = read_jsonl(events)
    check_eq(len(evs), 150, 'follow: events')
    check_eq(sorted(e['message'] for e in evs),
             sorted('line %d' % i for i in range(150)), 'follow: messages')
    want = collections.Counter(
        ('svc%d' % (i % 4), ('INFO', 'WARN', 'ERROR')[i % 3])
        for i in range(150))
    got = {key_tuple(r, ['service', 'level']): r['count']
           for r in read_jsonl(out)}
    check_eq(got, dict(want), 'follow: counts per (service, level)')


def case_idle_timeout():
    """A followed file that stops growing still closes its windows once
    idle_timeout has passed (the process keeps running), and lines appended
    later are accepted in windows of their own."""
    log, out, dd = path('app.log'), path('res.jsonl'), path('data')

    def lines(hour, n):
        return ''.join('ts=2024-03-01T%02d:00:%02dZ level=info service=s '
                       'msg="m%d"\n' % (hour, i, i) for i in range(n))

    write(log, lines(0, 30))
    topo = write('idle.yaml', '''name: idle
settings:
  watermark_delay: 1s
  idle_timeout: 1s
sources:
  - name: app_log
    kind: file
    path: %s
    follow: true
stages:
  - name: parse
    kind: parse
    input: app_log
    format: logfmt
  - name: w
    kind: window
    input: parse
    key: service
    size: 10s
sinks:
  - name: out
    kind: jsonl
    input: w
    path: %s
''' % (q(log), q(out)))
    p = start(['run', topo, '--quiet', '--data-dir', dd])
    try:
        # [0 s, 10 s) and [10 s, 20 s) close as the events arrive, the last
        # one only through the idle timeout.
        wait_until(lambda: count_lines(out) >= 3, p, 'the idle window')
        # An hour later in event time: far beyond any pause of this test.
        with open(log, 'a') as f:
            f.write(lines(1, 10))
        wait_until(lambda: count_lines(out) >= 4, p, 'the appended window')
    finally:
        err = interrupt(p)
    check_eq(p.returncode, 0, 'idle: exit status (stderr %r)' % err)
    got = [(r['window_start'], r['count']) for r in read_jsonl(out)]
    check_eq(got, [('2024-03-01T00:00:00.000Z', 10),
                   ('2024-03-01T00:00:10.000Z', 10),
                   ('2024-03-01T00:00:20.000Z', 10),
                   ('2024-03-01T01:00:00.000Z', 10)], 'idle: windows')
    with open(os.path.join(dd, 'last-run.json')) as f:
        nodes = {n['name']: n for n in json.load(f)['nodes']}
    check_eq(nodes['w']['late'], 0, 'idle: late events')


# ---------------------------------------------------------------------------
# 7. The quickstart
# ---------------------------------------------------------------------------

def case_quickstart():
    qs = os.path.join(EXAMPLES, 'quickstart.yaml')
    with open(qs, encoding='utf-8') as f:
        m = re.search(r'^\s+size:\s*(\d+)s\b', f.read(), re.M)
    size_s = int(m.group(1)) if m else None
    rc, out, err = run(['run', qs, '--duration', '12'])
    check_eq(rc, 0, 'quickstart: exit status (stderr %r)' % err)
    text = out.decode()
    lines = text.splitlines()
    header = [i for i, ln in enumerate(lines)
              if re.match(r'^window_start\s', ln)]
    check(header, 'quickstart: no table header in %r' % text[:500])
    h = lines[header[0]].split()
    check('count' in h and 'service' in h, 'quickstart header %r' % h)
    rows = [ln for ln in lines
            if re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\s', ln)]
    check(rows, 'quickstart: no data rows in %r' % text[:500])
    ci = h.index('count')
    total = 0
    for ln in rows:
        cells = ln.split()
        start = iso_ms(cells[0])
        if size_s:
            check_eq(start % (size_s * 1000), 0,
                     'window start aligned to %d s' % size_s)
        # an empty service leaves its column blank
        cnt = cells[ci] if len(cells) == len(h) else cells[ci - 1]
        check(cnt.isdigit() and int(cnt) > 0, 'count cell %r in %r' %
              (cnt, ln))
        total += int(cnt)
    check(total > 0, 'quickstart: counted nothing')
    # The side outputs are relative to the working directory.
    check(os.path.exists(path('errors.jsonl')), 'errors.jsonl written')
    check(os.path.exists(path('dead-letters.jsonl')),
          'dead-letters.jsonl written')
    errs = read_jsonl(path('errors.jsonl'))
    check(errs, 'quickstart: no warnings or errors in %d events' % total)
    for e in errs:
        check(SEVERITY.index(e['level']) >= SEVERITY.index('WARN'),
              'errors.jsonl holds a %s event' % e['level'])


# ---------------------------------------------------------------------------
# 8. Filter
# ---------------------------------------------------------------------------

def case_filter():
    for system, fmt in (('Hadoop', 'log4j'), ('Zookeeper', 'auto'),
                        ('BGL', 'auto'), ('Apache', 'apache_error'),
                        ('HDFS', 'auto')):
        log, csvp = loghub(system)
        rows = csv_rows(csvp)
        with open(log, 'rb') as f:
            offs = line_offsets(f.read())
        check_eq(len(offs), len(rows), system + ': lines vs CSV rows')
        level_at = {off: level_of(r['Level']) for off, r in zip(offs, rows)}
        want = sorted(off for off, lv in level_at.items()
                      if SEVERITY.index(lv) >= SEVERITY.index('WARN'))
        out = path('warn-%s.jsonl' % system)
        topo = write('filter-%s.yaml' % system, '''name: warnings
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: %s
    partitions: 2
  - name: warn_plus
    kind: filter
    input: parse
    min_level: warning
    partitions: 2
sinks:
  - name: out
    kind: jsonl
    input: warn_plus
    path: %s
''' % (q(log), fmt, q(out)))
        run_ok(topo, system + ' filter')
        evs = read_jsonl(out)
        check_eq(len(evs), len(want), system + ': events at warn or worse')
        check_eq(sorted(e['offset'] for e in evs), want,
                 system + ': offsets of the kept lines')
        for e in evs:
            check_eq(e['level'], level_at[e['offset']],
                     system + ': level of line at %d' % e['offset'])

    # service and contains, alone and with min_level, against the CSV's
    # Component (the syslog tag) and Content (the message) columns.
    warn_plus = ('WARN', 'ERROR', 'FATAL')
    for n, (system, cond, pred) in enumerate((
            ('Hadoop', 'contains: Exception',
             lambda r: 'Exception' in r['Content']),
            ('Linux', 'service: sshd(pam_unix)',
             lambda r: r['Component'] == 'sshd(pam_unix)'),
            ('Zookeeper', 'contains: Connection\n    min_level: warn',
             lambda r: 'Connection' in r['Content'] and
             level_of(r['Level']) in warn_plus))):
        log, csvp = loghub(system)
        with open(log, 'rb') as f:
            offs = line_offsets(f.read())
        want = [off for off, r in zip(offs, csv_rows(csvp)) if pred(r)]
        check(want, 'test bug: %s selects nothing' % cond)
        out = path('cond%d.jsonl' % n)
        topo = write('cond%d.yaml' % n, '''name: conditions
sources:
  - name: src
    kind: file
    path: %s
stages:
  - name: parse
    kind: parse
    input: src
  - name: f
    kind: filter
    input: parse
    %s
sinks:
  - name: out
    kind: jsonl
    input: f
    path: %s
''' % (q(log), cond, q(out)))
        run_ok(topo, '%s filter %s' % (system, cond))
        check_eq(sorted(e['offset'] for e in read_jsonl(out)), want,
                 '%s, %s: offsets of the kept lines' % (system, cond))


# ---------------------------------------------------------------------------
# 8. Resume after a crash: run --data-dir (docs/operations.md, docs/state.md)
# ---------------------------------------------------------------------------

RESUMED = re.compile(r'^logstream run: resuming from checkpoint (\d+) .*$',
                     re.M)


def resume_topology(name, events, out, count, seed, rate=5000):
    """A seeded, rate-limited generator (a few seconds long) with one parse
    partition, so that every window sums its events in the same order in
    every run and the output lines are byte-identical."""
    return '''name: %s
settings:
  checkpoint_interval: 300ms
sources:
  - name: gen
    kind: generator
    count: %d
    rate: %d
    seed: %d
    start: 2024-03-01T00:00:00Z
    format: json
stages:
  - name: parse
    kind: parse
    input: gen
    format: json
  - name: per_second
    kind: window
    input: parse
    key: [service, status]
    partitions: 3
    size: 1s
    aggregates: [count, sum(latency_ms), max(latency_ms)]
sinks:
  - name: events
    kind: jsonl
    input: parse
    path: %s
  - name: out
    kind: jsonl
    input: per_second
    path: %s
''' % (name, count, rate, seed, q(events), q(out))


def read_lines(p):
    """The complete lines of p (a line still being written is left out)."""
    if not os.path.exists(p):
        return []
    with open(p, 'rb') as f:
        data = f.read()
    return data[:data.rfind(b'\n') + 1].splitlines()


def last_run(dd):
    with open(os.path.join(dd, 'last-run.json')) as f:
        return {n['name']: n for n in json.load(f)['nodes']}


def kill9(p):
    """SIGKILL p (no chance to clean up) and reap it; returns stderr."""
    try:
        p.kill()
        _, err = p.communicate(timeout=CMD_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return err.decode('utf-8', 'replace')


def check_committed(lines, ref, what):
    """What a killed run left in a file is committed output: each line is
    one of the uninterrupted run's, none twice."""
    dup = [ln for ln, n in collections.Counter(lines).items() if n > 1]
    check(not dup, '%s: lines written twice, e.g. %r' % (what, dup[:1]))
    stray = set(lines) - ref
    check(not stray, '%s: lines an uninterrupted run does not write, '
          'e.g. %r' % (what, sorted(stray)[:1]))


def check_same_lines(got, want, what):
    dup = [ln for ln, n in collections.Counter(got).items() if n > 1]
    check(not dup, '%s: %d lines twice, e.g. %r' % (what, len(dup),
                                                    dup[:1]))
    missing = set(want) - set(got)
    check(not missing, '%s: %d lines missing, e.g. %r' %
          (what, len(missing), sorted(missing)[:1]))
    check_eq(sorted(got), sorted(want), what + ': sorted lines')


def resumed_from(err, what):
    m = RESUMED.search(err)
    check(m is not None, '%s: no "resuming from checkpoint" line on stderr '
          '%r' % (what, err))
    return m.group(0)


def case_resume_generator():
    """kill -9 a checkpointing run twice, rerun it to the end: the jsonl
    files hold exactly the lines of an uninterrupted run -- none lost (the
    sinks' pending output was restored), none twice (the reruns continued
    from the checkpoint instead of starting over, and the file was cut back
    to the checkpoint's length)."""
    # 2000 events/s: the run lasts 10 s, so that checkpoints complete
    # (and output is committed) well before its end even on a loaded
    # machine, where one of 4 s could end before the kill
    n, rate = 20000, 2000
    ev_ref, out_ref = path('ref-ev.jsonl'), path('ref-out.jsonl')
    run_ok(write('ref.yaml', resume_topology('resume', ev_ref, out_ref, n,
                                             11, rate)), 'reference run')
    ref_ev, ref_out = read_lines(ev_ref), read_lines(out_ref)
    check_eq(len(ref_ev), n, 'reference: events')
    check(len(ref_out) > 3 * 4, 'reference: window results %d' %
          len(ref_out))

    events, out, dd = path('ev.jsonl'), path('out.jsonl'), path('data')
    topo = write('resume.yaml', resume_topology('resume', events, out, n, 11,
                                                rate))
    seen = 0
    for attempt in (1, 2):
        p = start(['run', topo, '--data-dir', dd, '--progress', '0'])
        try:
            # a checkpoint completed in this process: its output is there
            wait_until(lambda: len(read_lines(events)) > seen, p,
                       'committed output (run %d)' % attempt)
        finally:
            err = kill9(p)
        check(p.returncode == -signal.SIGKILL,
              'run %d ended by itself (rc %r) before the kill: stderr %r' %
              (attempt, p.returncode, err))
        if attempt == 2:
            resumed_from(err, 'run 2')
        lines = read_lines(events)
        check(seen < len(lines) < n, 'run %d: killed mid-run, %d of %d '
              'events written' % (attempt, len(lines), n))
        check_committed(lines, set(ref_ev), 'events after kill %d' % attempt)
        check_committed(read_lines(out), set(ref_out),
                        'results after kill %d' % attempt)
        seen = len(lines)
    check(os.path.isdir(os.path.join(dd, 'state')), 'DIR/state exists')

    rc, _, err = run(['run', topo, '--data-dir', dd, '--progress', '0'])
    check_eq(rc, 0, 'run 3: exit status (stderr %r)' % err)
    line = resumed_from(err, 'run 3')
    m = re.search(r'\bgen at event (\d+)$', line)
    check(m is not None, 'run 3: the line says where gen resumes: %r' % line)
    pos = int(m.group(1))
    check(0 < pos < n, 'run 3: resumed at event %d of %d' % (pos, n))
    # the source went on from there: it produced only the rest
    check_eq(last_run(dd)['gen']['in'], n - pos, 'run 3: events generated')
    check_same_lines(read_lines(events), ref_ev, 'events')
    check_same_lines(read_lines(out), ref_out, 'window results')
    offs = [json.loads(ln)['offset'] for ln in read_lines(events)]
    check_eq(sorted(offs), list(range(n)), 'event offsets (ids)')

    # A finished run is not resumed: the next run starts over (and writes
    # the same files again).
    rc, _, err = run(['run', topo, '--data-dir', dd, '--progress', '0'])
    check_eq(rc, 0, 'run 4: exit status (stderr %r)' % err)
    check('finished; starting a new run' in err, 'run 4: says it starts '
          'over: %r' % err)
    check(RESUMED.search(err) is None, 'run 4 resumed: %r' % err)
    check_eq(last_run(dd)['gen']['in'], n, 'run 4: events generated')
    check_same_lines(read_lines(events), ref_ev, 'run 4: events')
    check_same_lines(read_lines(out), ref_out, 'run 4: window results')


def case_resume_file():
    """A followed Loghub file: the run is killed after its first
    checkpoint, the rest of the file arrives while it is down, and the
    rerun reads on from the saved byte offset.  Events: every line exactly
    once (byte offsets); counts per level: the ground truth."""
    log, csvp = loghub('HDFS')
    with open(log, 'rb') as f:
        data = f.read()
    offs = line_offsets(data)
    half = offs[len(offs) // 2]
    want = collections.Counter(level_of(r['Level']) for r in csv_rows(csvp))

    inp, events, out = path('hdfs.log'), path('ev.jsonl'), path('out.jsonl')
    dd = path('data')
    write('hdfs.log', data[:half])

    def topology(follow, ev, res):
        return '''name: resume-file
settings:
  checkpoint_interval: 200ms
  idle_timeout: 1000h
sources:
  - name: src
    kind: file
    path: %s
    follow: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: log4j
  - name: levels
    kind: window
    input: parse
    key: level
    partitions: 2
    size: 876000h
sinks:
  - name: events
    kind: jsonl
    input: parse
    path: %s
  - name: out
    kind: jsonl
    input: levels
    path: %s
''' % (q(inp), 'true' if follow else 'false', q(ev), q(res))

    topo = write('follow.yaml', topology(True, events, out))
    p = start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        wait_until(lambda: len(read_lines(events)) > 0, p,
                   'the first checkpoint')
    finally:
        err = kill9(p)
    check(p.returncode == -signal.SIGKILL, 'run 1 ended by itself (rc %r): '
          '%r' % (p.returncode, err))
    first = read_lines(events)
    check(0 < len(first) <= len(offs) // 2, 'run 1: %d events written' %
          len(first))
    with open(inp, 'ab') as f:
        f.write(data[half:])

    p = start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        wait_until(lambda: len(read_lines(events)) >= len(offs), p,
                   'every line')
    finally:
        err = interrupt(p)
    check_eq(p.returncode, 0, 'run 2: exit status (stderr %r)' % err)
    line = resumed_from(err, 'run 2')
    m = re.search(r'\bsrc at byte (\d+)$', line)
    check(m is not None, 'run 2: the line says where src resumes: %r' % line)
    pos = int(m.group(1))
    check(pos in offs and pos > 0, 'run 2: resumed at byte %d, a line '
          'start after the first' % pos)
    check_eq(last_run(dd)['src']['in'], sum(1 for o in offs if o >= pos),
             'run 2: lines read (from the saved offset on)')

    evs = [json.loads(ln) for ln in read_lines(events)]
    check_eq(sorted(e['offset'] for e in evs), offs,
             'events: byte offsets of the lines, each once')
    got = {}
    for r in read_jsonl(out):
        k = r['key']['level']
        check(k not in got, 'level %s reported twice' % k)
        got[k] = r['count']
    check_eq(got, dict(want), 'counts per level vs the ground truth')

    # The same as one uninterrupted run over the whole file.
    ev_ref, out_ref = path('ref-ev.jsonl'), path('ref-out.jsonl')
    run_ok(write('ref.yaml', topology(False, ev_ref, out_ref)),
           'reference run')
    check_same_lines(read_lines(events), read_lines(ev_ref), 'events')
    check_same_lines(read_lines(out), read_lines(out_ref), 'results')


def case_resume_refused():
    """State of one topology is not used for another: a changed file is
    refused (nothing touched), the original still resumes, --fresh starts
    the changed one over.  A stdin source runs without checkpoints."""
    n = 10000
    events, out, dd = path('ev.jsonl'), path('out.jsonl'), path('data')
    topo = write('a.yaml', resume_topology('resume', events, out, n, 21))
    p = start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        wait_until(lambda: len(read_lines(events)) > 0, p, 'a checkpoint')
    finally:
        kill9(p)
    check(p.returncode == -signal.SIGKILL, 'run a ended by itself')
    with open(events, 'rb') as f:
        ev_before = f.read()
    with open(out, 'rb') as f:
        out_before = f.read()

    # the same pipeline with another seed: another topology file
    changed = write('b.yaml', resume_topology('resume', events, out, n, 22))
    rc, _, err = run(['run', changed, '--data-dir', dd])
    check_eq(rc, 1, 'changed topology: exit status (stderr %r)' % err)
    check('another topology file' in err and '--fresh' in err and
          'a.yaml' in err, 'changed topology: the message names the saved '
          'topology and --fresh: %r' % err)
    check(RESUMED.search(err) is None, 'changed topology resumed: %r' % err)
    for p_, before in ((events, ev_before), (out, out_before)):
        with open(p_, 'rb') as f:
            check_eq(f.read(), before, 'refused run left %s alone' % p_)

    # the original file still resumes from its checkpoint, to the end
    ev_ref, out_ref = path('ref-ev.jsonl'), path('ref-out.jsonl')
    run_ok(write('ref-a.yaml', resume_topology('resume', ev_ref, out_ref, n,
                                               21)), 'reference a')
    rc, _, err = run(['run', topo, '--data-dir', dd, '--progress', '0'])
    check_eq(rc, 0, 'resume a: exit status (stderr %r)' % err)
    resumed_from(err, 'resume a')
    check(last_run(dd)['gen']['in'] < n, 'resume a: started over')
    check_same_lines(read_lines(events), read_lines(ev_ref), 'a: events')
    check_same_lines(read_lines(out), read_lines(out_ref), 'a: results')

    # --fresh: the changed topology starts from the beginning
    run_ok(write('ref-b.yaml', resume_topology('resume', ev_ref, out_ref, n,
                                               22)), 'reference b')
    rc, _, err = run(['run', changed, '--data-dir', dd, '--fresh',
                      '--progress', '0'])
    check_eq(rc, 0, '--fresh: exit status (stderr %r)' % err)
    check('--fresh: discarding' in err, '--fresh: says so: %r' % err)
    check(RESUMED.search(err) is None, '--fresh resumed: %r' % err)
    check_eq(last_run(dd)['gen']['in'], n, '--fresh: events generated')
    check_same_lines(read_lines(events), read_lines(ev_ref), 'b: events')
    check_same_lines(read_lines(out), read_lines(out_ref), 'b: results')
    rc, _, err = run(['run', changed, '--fresh'])
    check_eq(rc, 2, '--fresh without --data-dir: exit status')

    # stdin cannot be replayed: no checkpoints (and no state), a message,
    # and the run itself works as without --data-dir
    sdd = path('stdin-data')
    stopo = write('stdin.yaml', '''name: from-stdin
sources:
  - name: in
    kind: stdin
stages:
  - name: parse
    kind: parse
    input: in
    format: logfmt
sinks:
  - name: events
    kind: jsonl
    input: parse
    path: %s
''' % q(path('stdin-ev.jsonl')))
    data = ''.join('level=info service=s msg="m%d"\n' % i
                   for i in range(100)).encode()
    rc, _, err = run(['run', stopo, '--data-dir', sdd], stdin=data)
    check_eq(rc, 0, 'stdin: exit status (stderr %r)' % err)
    check("source 'in' reads stdin" in err and 'checkpoints are off' in err,
          'stdin: the message says checkpoints are off: %r' % err)
    check(not os.path.exists(os.path.join(sdd, 'state')),
          'stdin: no state directory')
    check_eq(len(read_lines(path('stdin-ev.jsonl'))), 100, 'stdin: events')


# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Anomaly detection: `logstream anomaly` and the NAB scorer `logstream nab`
# ---------------------------------------------------------------------------

def nab_series(name, n, spike_at=None):
    """A NAB-style series: 5-minute points of a slow wave, a spike."""
    lines = ['timestamp,value']
    t0 = datetime.datetime(2014, 4, 1)
    for i in range(n):
        t = t0 + datetime.timedelta(minutes=5 * i)
        v = 10.0 + (i % 7) * 0.25
        if i == spike_at:
            v = 60.0
        lines.append('%s,%s' % (t.strftime('%Y-%m-%d %H:%M:%S'), repr(v)))
    return write(name, '\n'.join(lines) + '\n')


def case_anomaly():
    src = nab_series('in.csv', 1500, spike_at=1200)
    out = path('out.csv')
    rc, _, err = run(['anomaly', '--input', src, '--output', out])
    check_eq(rc, 0, 'anomaly: exit status (%s)' % err)
    check('1500 points, 1 alerts' in err, 'alerts counted: %r' % err)
    with open(src) as f:
        want = [l.rstrip('\n').split(',') for l in f]
    with open(out) as f:
        got = [l.rstrip('\n').split(',') for l in f]
    check_eq(got[0], ['timestamp', 'value', 'anomaly_score'], 'header')
    check_eq(len(got), len(want), 'rows')
    scores = []
    for g, w in zip(got[1:], want[1:]):
        check_eq(g[:2], w, 'timestamp and value as read')
        sc = float(g[2])
        check(0.0 <= sc <= 1.0, 'score in [0,1]: %r' % g)
        scores.append(sc)
    check_eq(scores.index(max(scores)), 1200, 'highest score at the spike')
    check(all(s == 0.0 for s in scores[:300]), 'warm-up scores 0')

    # Bad lines: the line number, exit 1, no output written.
    for text, where in (
            ('timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00\n',
             'bad.csv:3: 1 field(s)'),
            ('timestamp,value\n2014-01-01 00:00:00,x1\n',
             "bad.csv:2: bad value 'x1'"),
            ('timestamp,value\n2014-01-01 00:00:00,1\n\n'
             '2014-01-01 00:10:00,2\n', 'bad.csv:3: 1 field(s)'),
            ('timestamp,value\n2014-13-01 00:00:00,1\n',
             "bad.csv:2: bad timestamp '2014-13-01 00:00:00'"),
            ('time,value\n', 'bad.csv:1: header'),
            ('timestamp,value\n2014-01-01 00:00:00,1,2\n',
             'bad.csv:2: 3 field(s)'),
            ('timestamp,value\n2014-01-01 00:00:00,nan\n',
             "bad.csv:2: bad value 'nan'")):
        bad = write('bad.csv', text)
        res = path('bad-out.csv')
        rc, _, err = run(['anomaly', '--input', bad, '--output', res])
        check_eq(rc, 1, '%r: exit status' % text)
        check(where in err, '%r: stderr %r names %r' % (text, err, where))
        check(not os.path.exists(res), '%r: no output written' % text)

    for args in (['anomaly'], ['anomaly', '--input', src],
                 ['anomaly', '--input', src, '--output', out, '--bogus'],
                 ['anomaly', '--input', src, '--output', out, '--set',
                  'ewma_alpha=2'],
                 ['anomaly', '--input', src, '--output', out, '--set',
                  'nosuch=1'],
                 ['nab'], ['nab', '--data']):
        rc, o, err = run(args)
        check_eq(rc, 2, '%s: exit status' % args)
        check_eq(o, b'', '%s: stdout' % args)
    for cmd in ('anomaly', 'nab'):
        rc, o, err = run([cmd, '--help'])
        check_eq(rc, 0, '%s --help' % cmd)
        check(o.decode().startswith('usage: logstream ' + cmd), 'usage')
    rc, o, err = run(['--help'])
    for cmd in ('anomaly', 'nab'):
        check(re.search(r'^\s+%s\b' % cmd, o.decode(), re.M) is not None,
              'main usage lists %s' % cmd)


def case_nab():
    # A corpus of two files: a perfect results file scores 100 in every
    # profile, the detector's own results as written by `anomaly` score as
    # `nab` computes them in-process (to the 6 decimals written).
    data = path('data')
    os.makedirs(os.path.join(data, 'set'))
    results = path('results')
    os.makedirs(os.path.join(results, 'set'))
    nab_series(os.path.join('data', 'set', 'a.csv'), 2000, spike_at=1500)
    nab_series(os.path.join('data', 'set', 'b.csv'), 1000)
    t0 = datetime.datetime(2014, 4, 1)
    ts = lambda i: (t0 + datetime.timedelta(minutes=5 * i)).strftime(
        '%Y-%m-%d %H:%M:%S')
    write(os.path.join('data', 'labels_windows.json'), json.dumps({
        'set/a.csv': [[ts(1450) + '.000000', ts(1549) + '.000000']],
        'set/b.csv': []}))
    for name, n, hit in (('a.csv', 2000, 1450), ('b.csv', 1000, None)):
        lines = ['timestamp,value,anomaly_score']
        for i in range(n):
            lines.append('%s,1,%s' % (ts(i), '1' if i == hit else '0'))
        write(os.path.join('results', 'set', name), '\n'.join(lines) + '\n')
    rc, out, err = run(['nab', '--data', data, '--results', results])
    check_eq(rc, 0, 'nab --results: exit status (%s)' % err)
    text = out.decode()
    for prof in ('standard', 'reward_low_FP_rate', 'reward_low_FN_rate'):
        m = re.search(r'^%s\s+(-?[0-9.]+)\s' % prof, text, re.M)
        check(m is not None, 'profile %s printed: %r' % (prof, text))
        check_eq(m.group(1), '100.00', prof + ' of the perfect detector')

    rc, out, err = run(['nab', '--data', data])
    check_eq(rc, 0, 'nab: exit status (%s)' % err)
    m = re.search(r'^standard\s+(-?[0-9.]+)\s', out.decode(), re.M)
    check(m is not None and float(m.group(1)) > 50,
          'the detector finds the spike: %r' % out)
    # A results file whose rows differ from the data is refused.
    write(os.path.join('results', 'set', 'b.csv'),
          'timestamp,value,anomaly_score\n%s,1,0\n' % ts(0))
    rc, out, err = run(['nab', '--data', data, '--results', results])
    check_eq(rc, 1, 'mismatched results: exit status')
    check('rows differ' in err, 'mismatch explained: %r' % err)
    # A broken labels file names its line.
    write(os.path.join('data', 'labels_windows.json'), '{\n "x": [[1]]}')
    rc, out, err = run(['nab', '--data', data])
    check_eq(rc, 1, 'bad labels: exit status')
    check('labels_windows.json:2:' in err, 'bad labels: %r' % err)


# ---------------------------------------------------------------------------
# Sessions (docs/sessions.md) against a computation of their own
# ---------------------------------------------------------------------------

MONTHS = {m: i for i, m in enumerate(
    ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct',
     'Nov', 'Dec'], 1)}
SSH_COUNTERS = {'failed': 'Failed password', 'root': 'user=root'}


def ssh_sessions(rows, gap_ms, max_ms):
    """Sessions per sshd process (host, pid) from the structured CSV, by
    the definition: each key's events sorted by time (then message), split
    where two are more than gap apart or on both sides of a multiple of
    max_duration.  Times are taken in 2000 (the parser picks the year):
    only month, day and time of day are compared."""
    per = collections.defaultdict(list)
    for r in rows:
        h, mi, se = (int(x) for x in r['Time'].split(':'))
        t = calendar.timegm((2000, MONTHS[r['Date']], int(r['Day']), h, mi,
                             se)) * 1000
        per[(r['Component'], r['Pid'])].append((t, r['Content']))
    out = {}
    for key, evs in per.items():
        evs.sort(key=lambda e: (e[0], e[1].encode()))
        cur = None
        for t, msg in evs:
            if (cur is None or t - cur['end'] > gap_ms or
                    (max_ms and t // max_ms != cur['start'] // max_ms)):
                cur = {'start': t, 'end': t, 'events': 0, 'first': msg,
                       'msgs': set(), 'failed': 0, 'root': 0}
                out[key + (cur['start'],)] = cur
            cur['end'] = t
            cur['last'] = msg
            cur['events'] += 1
            cur['msgs'].add(msg)
            for name, text in SSH_COUNTERS.items():
                cur[name] += text in msg
    return out


def ssh_topology(name, log, parse_parts, sess_parts, gap, max_d, grace, out,
                 follow=False, extra=''):
    return '''name: %s
settings:
  checkpoint_interval: 200ms
%s
sources:
  - name: src
    kind: file
    path: %s
    follow: %s
stages:
  - name: parse
    kind: parse
    input: src
    format: rfc3164
    partitions: %d
  - name: sshd
    kind: session
    input: parse
    key: [host, pid]
    partitions: %d
    gap: %s
    max_duration: %s
    grace: %s
    path_field: message
    counters: ["failed: message~Failed password", "root: message~user=root",
               "warnings: level>=warn"]
sinks:
  - name: out
    kind: jsonl
    input: sshd
    path: %s
''' % (name, extra, q(log), 'true' if follow else 'false', parse_parts,
       sess_parts, gap, max_d, grace, q(out))


def year_free_ms(iso):
    """ms of an RFC 3339 time with its year replaced by 2000."""
    return iso_ms('2000' + iso[4:])


def check_ssh_sessions(rows, want, what):
    got = {}
    for r in rows:
        check_eq(r['stage'], 'sshd', what + ': stage')
        k = (r['key']['host'], r['key']['pid'],
             year_free_ms(r['session_start']))
        check(k not in got, '%s: session %r emitted twice' % (what, k))
        got[k] = r
    check_eq(sorted(got), sorted(want), what + ': sessions (host, pid, '
             'start)')
    for k, w in want.items():
        g = got[k]
        check_eq(year_free_ms(g['session_end']), w['end'],
                 '%s: end of %r' % (what, k))
        check_eq(g['duration_ms'], w['end'] - w['start'],
                 '%s: duration of %r' % (what, k))
        check_eq(g['events'], w['events'], '%s: events of %r' % (what, k))
        check_eq(g['first_message'], w['first'], '%s: first message of %r'
                 % (what, k))
        check_eq(g['last_message'], w['last'], '%s: last message of %r'
                 % (what, k))
        for name in SSH_COUNTERS:
            check_eq(g[name], w[name], '%s: %s of %r' % (what, name, k))
        check_eq(g['warnings'], 0, '%s: warnings (sshd lines have no '
                 'level)' % what)
        n = len(w['msgs'])
        d = g['distinct_message']
        if n <= 8:
            check_eq(d, n, '%s: distinct messages of %r (exact)' % (what, k))
        else:
            check(abs(d - n) <= max(2, 0.2 * n), '%s: distinct messages of '
                  '%r: estimate %d, exact %d' % (what, k, d, n))


def case_sessions():
    """Sessions per sshd process of the Loghub OpenSSH sample: one
    partition each, then several with the events of the parse partitions
    interleaved (grace and per-input watermarks keep it exact) and the
    state in a store (--data-dir), against ssh_sessions() computed from
    the structured CSV."""
    log, csvp = loghub('OpenSSH')
    rows = csv_rows(csvp)
    for n, (pp, sp, gap, max_d, gap_ms, max_ms, grace) in enumerate((
            (1, 1, '10s', '0s', 10000, 0, '0s'),
            (2, 3, '3s', '1h', 3000, 3600000, '5s'))):
        want = ssh_sessions(rows, gap_ms, max_ms)
        check(len(want) > 100, 'test bug: only %d sessions' % len(want))
        out = path('s%d.jsonl' % n)
        topo = write('s%d.yaml' % n, ssh_topology(
            'sessions-%d' % n, log, pp, sp, gap, max_d, grace, out))
        run_ok(topo, 'sessions %d' % n,
               ['--data-dir', path('d%d' % n)] if n == 1 else [])
        check_ssh_sessions(read_jsonl(out), want, 'run %d' % n)


def start_running(args):
    """Start the binary and wait for its 'running ...' line on stderr
    (printed once its signal handlers are in place); returns the process
    and the list its stderr lines keep arriving in."""
    p = start(args)
    lines = []
    t = threading.Thread(target=lambda: lines.extend(iter(
        p.stderr.readline, b'')), daemon=True)
    t.start()
    p.reader = t
    wait_until(lambda: any(b': running ' in ln for ln in list(lines)), p,
               'the running line')
    return p, lines


def listening_port(p, lines):
    """Wait for the 'listening' line of a source of a start_running
    process (syslog, http) and return the port it names."""
    port = None

    def listening():
        nonlocal port
        for ln in list(lines):
            m = re.search(rb'msg="listening" .*port=(\d+)', ln)
            if m:
                port = int(m.group(1))
        return port is not None
    wait_until(listening, p, 'the listening line')
    return port


def interrupt_running(p, lines):
    """SIGINT a process of start_running and wait; returns stderr."""
    try:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=CMD_TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    p.reader.join(timeout=CMD_TIMEOUT)
    return b''.join(lines).decode('utf-8', 'replace')


def case_sessions_resume():
    """The OpenSSH sample, followed in place with --data-dir: the run is
    killed (-9) once sessions have been committed while others are still
    open; the rerun restores the open sessions from the state store
    (RocksDB, incremental checkpoints) and, stopped by Ctrl-C, emits them:
    every session of the file exactly once."""
    log, csvp = loghub('OpenSSH')
    want = ssh_sessions(csv_rows(csvp), 10000, 0)
    out, dd = path('out.jsonl'), path('data')
    topo = write('follow.yaml', ssh_topology(
        'sessions-resume', log, 1, 2, '10s', '0s', '0s', out, follow=True,
        extra='  idle_timeout: 1000h'))
    p = start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        wait_until(lambda: len(read_lines(out)) > 0, p, 'the first sessions')
    finally:
        err = kill9(p)
    check(p.returncode == -signal.SIGKILL, 'run 1 ended by itself (rc %r): '
          '%r' % (p.returncode, err))
    first = len(read_lines(out))
    # the last sessions wait for input that never comes (follow, no idle
    # advance): they were open when the run was killed
    check(0 < first < len(want), 'run 1: %d of %d sessions written' %
          (first, len(want)))
    p, lines = start_running(['run', topo, '--data-dir', dd, '--progress',
                              '0'])
    err = interrupt_running(p, lines)
    check_eq(p.returncode, 0, 'run 2: exit status (stderr %r)' % err)
    resumed_from(err, 'run 2')
    check_ssh_sessions(read_jsonl(out), want, 'resumed run')


def case_sessions_late():
    """An event more than grace behind the watermark goes to the session
    stage's dead_letter sink with the reason, is counted as late, and
    changes no session."""
    lines = ['{"ts":"2024-03-01T00:00:%02dZ","user":"a","message":"a%d"}'
             % (s, s) for s in (1, 3, 5)]
    lines.append('{"ts":"2024-03-01T00:00:09Z","user":"b","message":"b"}')
    # 3 s behind the newest: within delay 2s + grace 3s, joins a's session
    lines.append('{"ts":"2024-03-01T00:00:06Z","user":"a","message":"a6"}')
    lines += ['{"ts":"2024-03-01T00:00:30Z","user":"c","message":"c%d"}' % i
              for i in range(5000)]
    late = '{"ts":"2024-03-01T00:00:07Z","user":"a","level":"warn",' \
        '"message":"late one"}'
    lines.append(late)
    data, out, dl, dd = run_late(lines, '''  - name: s
    kind: session
    input: parse
    key: user
    gap: 2s
    grace: 3s
    dead_letter: late
''')
    late_off = line_offsets(data)[len(lines) - 1]
    got = {(r['key']['user'], r['session_start']): r['events']
           for r in read_jsonl(out)}
    check_eq(got, {('a', '2024-03-01T00:00:01.000Z'): 4,
                   ('b', '2024-03-01T00:00:09.000Z'): 1,
                   ('c', '2024-03-01T00:00:30.000Z'): 5000},
             'sessions (the late event changes none)')
    check_eq(last_run(dd)['s']['late'], 1, 'late events counted')
    recs = read_jsonl(dl)
    check_eq(len(recs), 1, 'records in the late-event sink')
    r = recs[0]
    check_eq(r.get('stage'), 's', 'dead letter: stage')
    check_eq(r.get('offset'), late_off, 'dead letter: offset')
    check_eq(r.get('event', {}).get('message'), 'late one',
             'dead letter: the event')
    check(re.fullmatch(r'late event: 21000 ms behind the watermark, more '
                       r'than grace \(3000 ms\)', r.get('reason', '')),
          'dead letter: reason %r' % r.get('reason'))


CASES = {
    'validate_examples': case_validate_examples,
    'validate_errors': case_validate_errors,
    'validate_docs': case_validate_docs,
    'mixed_formats': case_mixed_formats,
    'help': case_help,
    'partitions': case_partitions,
    'recompute': case_recompute,
    'aggregates': case_aggregates,
    'count_field': case_count_field,
    'dead_letters': case_dead_letters,
    'stdin': case_stdin,
    'duration': case_duration,
    'relative_paths': case_relative_paths,
    'sigint': lambda: case_signal(signal.SIGINT, 'SIGINT'),
    'sigterm': lambda: case_signal(signal.SIGTERM, 'SIGTERM'),
    'late_events': case_late_events,
    'emit_on_update': case_emit_on_update,
    'follow': case_follow,
    'follow_rotate': case_follow_rotate,
    'resume_rotated': case_resume_rotated,
    'idle_timeout': case_idle_timeout,
    'quickstart': case_quickstart,
    'filter': case_filter,
    'resume_generator': case_resume_generator,
    'resume_file': case_resume_file,
    'resume_refused': case_resume_refused,
    'anomaly': case_anomaly,
    'nab': case_nab,
    'sessions': case_sessions,
    'sessions_resume': case_sessions_resume,
    'sessions_late': case_sessions_late,
}
for _s in LOGHUB:
    CASES['loghub_' + _s.lower()] = (lambda s: lambda: loghub_case(s))(_s)


def main_with(argv, cases, prog):
    """main() of a test file on these helpers: runs one of its cases."""
    if len(argv) != 3 or argv[2] not in cases:
        sys.stderr.write('usage: %s BINARY CASE\ncases: %s\n' %
                         (prog, ' '.join(sorted(cases))))
        return 2
    CASES[argv[2]] = cases[argv[2]]
    return main(argv)


def main(argv):
    global BINARY, WORKDIR
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: cli_test.py BINARY CASE\ncases: %s\n' %
                         ' '.join(sorted(CASES)))
        return 2
    BINARY = os.path.abspath(argv[1])
    WORKDIR = tempfile.mkdtemp(prefix='cli-%s-' % argv[2], dir=os.getcwd())
    try:
        CASES[argv[2]]()
    except Skip as e:
        print('SKIP %s: %s' % (argv[2], e))
        return 77
    except (AssertionError, subprocess.TimeoutExpired) as e:
        print('FAIL %s: %s' % (argv[2], e))
        return 1
    finally:
        if os.environ.get('LS_KEEP_TMP') != '1':
            shutil.rmtree(WORKDIR, ignore_errors=True)
    print('ok %s' % argv[2])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
