#!/usr/bin/env python3
"""The `anomaly` stage (docs/anomaly.md, "The anomaly stage") through
`logstream run`.

Usage: anomaly_test.py LOGSTREAM_BINARY CASE

  anomaly_nab     two Numenta Anomaly Benchmark series (read in place),
                  turned into JSON events of two services, through one
                  anomaly stage (metric mean, 5 min intervals, 2
                  partitions): each service's scores equal those of the
                  offline detector (`logstream anomaly`) on its series,
                  and the alert rows are exactly the offline alerts; the
                  no-anomaly series raises none.
  anomaly_counts  synthetic events of three services per minute (a spike
                  in one, an hour of silence in another): every point is
                  the per-minute count a plain Counter gives (0 for empty
                  minutes); the spike raises one alert at its minute, the
                  steady service none; events without the value field of
                  a `max` metric are dead letters with the reason.
  anomaly_resume  kill -9 of a run with --data-dir after its first
                  committed rows, the rest of the input arriving while it
                  is down: the rerun's rows and the first run's committed
                  ones are exactly the rows of an uninterrupted run.
  anomaly_new_template  a patterns stage feeding an anomaly stage keyed
                  on template_id with new_keys: a message of a new shape
                  after the warm-up raises one new_key alert for its
                  template, the shapes seen from the start none.
"""

import collections
import csv
import datetime
import json
import os
import random
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test as ct  # noqa: E402
from cli_test import check, check_eq, path, q, write  # noqa: E402

NAB_ANOMALY = ('artificialWithAnomaly', 'art_daily_jumpsup.csv')
NAB_QUIET = ('artificialNoAnomaly', 'art_daily_small_noise.csv')


def nab_rows(sub, name):
    p = os.path.join(ct.datasets(), 'nab', sub, name)
    if not os.path.exists(p):
        raise ct.Skip('NAB series %s/%s not found' % (sub, name))
    with open(p, newline='') as f:
        return p, list(csv.DictReader(f))


def iso(ts):
    """NAB's "YYYY-MM-DD HH:MM:SS" as RFC 3339 UTC."""
    return ts.replace(' ', 'T') + 'Z'


def rows_of(out):
    return [json.loads(ln) for ln in ct.read_lines(out)]


def offline(csvp):
    """{timestamp: score} and the alert count of `logstream anomaly`."""
    res = path('offline-%s' % os.path.basename(csvp))
    rc, _, err = ct.run(['anomaly', '--input', csvp, '--output', res])
    check_eq(rc, 0, 'logstream anomaly (stderr %r)' % err)
    with open(res, newline='') as f:
        scores = {row['timestamp']: float(row['anomaly_score'])
                  for row in csv.DictReader(f)}
    alerts = int(err.rsplit(' alerts', 1)[0].rsplit(' ', 1)[1])
    return scores, alerts


STAGE = '''name: %s
settings:
  checkpoint_interval: 200ms
  idle_timeout: 1000h
sources:
  - name: in
    kind: file
    path: %s
    follow: %s
stages:
  - name: parse
    kind: parse
    input: in
    format: json
  - name: det
    kind: anomaly
    input: parse
    dead_letter: rejects
%s
sinks:
  - name: out
    kind: jsonl
    input: det
    path: %s
  - name: rejects
    kind: jsonl
    path: %s
'''


def topology(name, inp, stage, out, follow=False):
    rej = path(name + '-rejects.jsonl')
    text = STAGE % (name, q(inp), 'true' if follow else 'false',
                    stage.rstrip('\n'), q(out), q(rej))
    return write(name + '.yaml', text), rej


def run_ok(topo, extra=()):
    rc, _, err = ct.run(['run', topo, '--progress', '0'] + list(extra))
    check_eq(rc, 0, 'run %s (stderr %r)' % (topo, err[-2000:]))
    return err


def case_anomaly_nab():
    series = {'jumpsup': nab_rows(*NAB_ANOMALY),
              'quiet': nab_rows(*NAB_QUIET)}
    lines = []
    for svc, (_, rows) in series.items():
        for row in rows:
            lines.append(json.dumps({'ts': iso(row['timestamp']),
                                     'service': svc, 'msg': 'point',
                                     'value': row['value']}))
    # the services interleaved in time, as a real stream would be
    lines.sort(key=lambda ln: json.loads(ln)['ts'])
    inp = write('nab.jsonl', '\n'.join(lines) + '\n')
    for emit in ('scores', 'alerts'):
        out = path('nab-%s.jsonl' % emit)
        topo, _ = topology('nab-' + emit, inp, '''    key: service
    partitions: 2
    metric: mean
    value: value
    interval: 5m
    emit: %s
''' % emit, out)
        run_ok(topo)
        got = rows_of(out)
        for svc, (csvp, rows) in series.items():
            want, n_alerts = offline(csvp)
            mine = [r for r in got if r['key']['service'] == svc]
            alerts = [r for r in mine if r['alert']]
            check_eq(len(alerts), n_alerts, '%s/%s: alert rows vs the '
                     'offline detector' % (emit, svc))
            for r in alerts:
                check(r['score'] >= 0.4 and r['detector'] != 'none' and
                      r['expected_low'] is not None, 'alert row %r' % r)
            if emit == 'alerts':
                check(all(r['alert'] for r in mine), 'alerts mode: %r' %
                      mine[:1])
                continue
            check_eq(len(mine), len(rows), '%s: a row per point' % svc)
            for r in mine:
                ts = r['time'][:19].replace('T', ' ')
                check(ts in want, '%s: a row at %s, not a point' % (svc, ts))
                check(abs(r['score'] - want[ts]) <= 1e-6,
                      '%s at %s: score %r, offline %r' % (
                          svc, ts, r['score'], want[ts]))
        quiet = [r for r in got if r['key']['service'] == 'quiet' and
                 r['alert']]
        check_eq(quiet, [], 'the no-anomaly series raises no alert')
    print('nab: %d points, scores and alerts equal the offline detector' %
          len(lines))


T0 = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc)


def count_events(minutes, spike_at, silent):
    """Events of api (spike at minute spike_at), db (silent during the
    minutes in silent) and web: (lines, Counter of (service, minute))."""
    rnd = random.Random(4242)
    lines, want = [], collections.Counter()
    for m in range(minutes):
        for svc, base in (('api', 20), ('db', 12), ('web', 8)):
            n = base + rnd.randint(-2, 2)
            if svc == 'api' and m == spike_at:
                n = base * 8
            if svc == 'db' and m in silent:
                n = 0
            for k in range(n):
                t = T0 + datetime.timedelta(minutes=m,
                                            seconds=59.0 * k / max(n, 1))
                lines.append(json.dumps({
                    'ts': t.strftime('%Y-%m-%dT%H:%M:%S.%f')[:23] + 'Z',
                    'service': svc, 'level': 'INFO', 'msg': 'request',
                    'latency_ms': '%d' % (10 + k % 7)}))
                want[(svc, m)] += 1
    return lines, want


def minute_of(r):
    t = datetime.datetime.strptime(r['time'][:19], '%Y-%m-%dT%H:%M:%S')
    t = t.replace(tzinfo=datetime.timezone.utc)
    return int((t - T0).total_seconds() // 60)


def case_anomaly_counts():
    minutes, spike = 700, 600
    silent = set(range(400, 460))
    lines, want = count_events(minutes, spike, silent)
    inp = write('counts.jsonl', '\n'.join(lines) + '\n')
    stage = '''    key: service
    partitions: 2
    metric: count
    interval: 1m
    warmup: 120
    seasonal: false
    emit: %s
'''
    out = path('counts-scores.jsonl')
    topo, _ = topology('counts-scores', inp, stage % 'scores', out)
    run_ok(topo)
    got = rows_of(out)
    points = {(r['key']['service'], minute_of(r)): r['value'] for r in got}
    check_eq(len(points), len(got), 'one row per service and minute')
    ref = {(s, m): float(want.get((s, m), 0)) for s in ('api', 'db', 'web')
           for m in range(minutes)}
    check_eq(points, ref, 'per-minute counts (zeros for empty minutes)')
    out = path('counts-alerts.jsonl')
    topo, _ = topology('counts-alerts', inp, stage % 'alerts', out)
    run_ok(topo)
    alerts = collections.defaultdict(list)
    for r in rows_of(out):
        alerts[r['key']['service']].append(minute_of(r))
    check_eq(alerts['api'], [spike], 'api: one alert, at the spike')
    check_eq(alerts['web'], [], 'web (steady): no alert')
    check(alerts['db'] and min(alerts['db']) == min(silent) and
          len(alerts['db']) <= 2, 'db: an alert when it falls silent '
          '(at minute %d), at most one more when it comes back: %r' %
          (min(silent), alerts['db']))
    # a metric of a field: events without it are dead letters
    mixed = lines[:200] + [json.dumps({'ts': '2024-03-01T00:00:30Z',
                                       'service': 'api', 'msg': 'no value'})]
    inp2 = write('mixed.jsonl', '\n'.join(mixed) + '\n')
    out = path('max.jsonl')
    topo, rej = topology('max', inp2, '''    key: service
    metric: max
    value: latency_ms
    interval: 1m
    emit: scores
''', out)
    run_ok(topo)
    dead = rows_of(rej)
    check_eq(len(dead), 1, 'one dead letter: %r' % dead)
    check('no numeric field latency_ms' in json.dumps(dead[0]),
          'the reason: %r' % dead[0])
    mx = {r['key']['service']: r['value'] for r in rows_of(out)}
    check_eq(mx.get('api'), 16.0, 'max latency_ms of api in minute 0')
    print('counts: %d events, %d points equal a plain count; alerts %r' %
          (len(lines), len(points), dict(alerts)))


def case_anomaly_resume():
    minutes = 700
    lines, _ = count_events(minutes, 600, set(range(400, 460)))
    stage = '''    key: service
    partitions: 2
    metric: count
    interval: 1m
    warmup: 120
    seasonal: false
    emit: scores
'''
    full = write('full.jsonl', '\n'.join(lines) + '\n')
    ref_out = path('ref.jsonl')
    topo, _ = topology('resume', full, stage, ref_out)
    run_ok(topo)
    ref = set(ct.read_lines(ref_out))
    check(len(ref) > 2000, 'reference rows: %d' % len(ref))

    inp, out, dd = path('resume.jsonl'), path('out.jsonl'), path('data')
    half = len(lines) // 2
    write('resume.jsonl', '\n'.join(lines[:half]) + '\n')
    topo, _ = topology('resume', inp, stage, out, follow=True)
    p = ct.start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        ct.wait_until(lambda: len(ct.read_lines(out)) > 0, p,
                      'the first committed rows')
    finally:
        err = ct.kill9(p)
    check(p.returncode == -signal.SIGKILL, 'run 1 ended by itself (rc %r): '
          '%r' % (p.returncode, err))
    first = ct.read_lines(out)
    ct.check_committed(first, ref, 'run 1')
    with open(inp, 'a') as f:
        f.write('\n'.join(lines[half:]) + '\n')
    # the same file, still followed: every minute but the last closes
    # while it runs; Ctrl-C ends the stream and closes the last one
    p = ct.start(['run', topo, '--data-dir', dd, '--progress', '0'])
    try:
        ct.wait_until(lambda: len(ct.read_lines(out)) >= len(ref) - 3, p,
                      'the rows of every closed minute')
    finally:
        err = ct.interrupt(p)
    check_eq(p.returncode, 0, 'run 2: exit status (stderr %r)' % err)
    ct.resumed_from(err, 'run 2')
    ct.check_same_lines(ct.read_lines(out), ref, 'run 1 + run 2')
    print('resume: %d rows committed before the kill, %d in all, equal' %
          (len(first), len(ref)))


def case_anomaly_new_template():
    rnd = random.Random(7)
    lines = []
    shapes = ['Served block blk_%d to /10.0.%d.%d',
              'Receiving block blk_%d src: /10.0.%d.%d',
              'Deleting block blk_%d file /data/%d/%d']
    new = 'Checksum mismatch on block blk_%d at offset %d of %d'
    for s in range(900):
        t = T0 + datetime.timedelta(seconds=s)
        msgs = [shapes[s % 3]]
        if s >= 800 and s % 10 == 0:
            msgs.append(new)
        for m in msgs:
            lines.append(json.dumps({
                'ts': t.strftime('%Y-%m-%dT%H:%M:%SZ'), 'service': 'dn',
                'msg': m % (rnd.randint(1, 10 ** 9), rnd.randint(0, 255),
                            rnd.randint(0, 255))}))
    inp = write('tmpl.jsonl', '\n'.join(lines) + '\n')
    out, ev = path('tmpl-alerts.jsonl'), path('tmpl-events.jsonl')
    text = '''name: tmpl
sources:
  - name: in
    kind: file
    path: %s
    follow: false
stages:
  - name: parse
    kind: parse
    input: in
    format: json
  - name: tpl
    kind: patterns
    input: parse
  - name: det
    kind: anomaly
    input: tpl
    key: template_id
    interval: 1s
    warmup: 60
    new_keys: true
sinks:
  - name: events
    kind: jsonl
    input: tpl
    path: %s
  - name: out
    kind: jsonl
    input: det
    path: %s
''' % (q(inp), q(ev), q(out))
    run_ok(write('tmpl.yaml', text))
    ids = collections.defaultdict(set)
    for e in rows_of(ev):
        ids[e['message'].split(' ')[0]].add(e['template_id'])
    check_eq(sorted(len(v) for v in ids.values()), [1, 1, 1, 1],
             'one template per shape: %r' % dict(ids))
    alerts = [r for r in rows_of(out) if r['detector'] == 'new_key']
    check_eq([r['key']['template_id'] for r in alerts],
             list(ids['Checksum']), 'one new_key alert, for the new shape')
    check_eq(alerts[0]['time'][:19], '2024-03-01T00:13:20',
             'at the first message of the new shape')
    print('new template: alert %r' % alerts[0])


CASES = {
    'anomaly_nab': case_anomaly_nab,
    'anomaly_counts': case_anomaly_counts,
    'anomaly_resume': case_anomaly_resume,
    'anomaly_new_template': case_anomaly_new_template,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in CASES:
        sys.stderr.write('usage: anomaly_test.py BINARY CASE\ncases: %s\n'
                         % ' '.join(sorted(CASES)))
        return 2
    ct.CASES[argv[2]] = CASES[argv[2]]
    return ct.main(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
