#!/usr/bin/env python3
"""dashboard_test.py -- the web dashboard in headless Chromium against a
real 3-node cluster.

    python3 dashboard_test.py BINARY dashboard

Three `logstream node` processes run a windowed topology; Chromium
(Debian package chromium) loads http://NODE/dashboard#window=STAGE, runs
its scripts for a few seconds and dumps the DOM: it must show the three
nodes alive with the leader the nodes agree on and the map's epoch, the
stages of this node with live (non-zero) rates, and window results of the
stage; and (#alerts=det) the recent alerts of an anomaly stage that reads
a NAB series, row for row what GET /v1/alerts/det answers; a screenshot is
saved next to the test's log (dashboard.png).  GET
/ redirects to /dashboard.  `logstream top` on the same cluster shows
every node, the generator's rate and the window stage on several nodes.
"""

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_test as clt  # noqa: E402

TOPOLOGY = """name: dash
settings:
  watermark_delay: 1s
  checkpoint_interval: 300ms
sources:
  - name: gen
    kind: generator
    rate: 2000
    seed: 5
    format: json
stages:
  - name: parse
    kind: parse
    input: gen
    format: json
    partitions: 2
  - name: per_service
    kind: window
    input: parse
    key: service
    partitions: 4
    size: 1s
sinks:
  - name: out
    kind: null
    input: per_service
"""


ALERTS = """name: alerts
sources:
  - name: pts
    kind: file
    path: %s
    follow: false
stages:
  - name: pparse
    kind: parse
    input: pts
    format: json
  - name: det
    kind: anomaly
    input: pparse
    key: service
    metric: mean
    value: value
    interval: 5m
sinks:
  - name: alerts_out
    kind: null
    input: det
"""

NAB = os.path.abspath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared',
    'datasets', 'nab', 'artificialWithAnomaly', 'art_daily_jumpsup.csv'))


def nab_points(dst):
    """The NAB series as JSON events of service "m"."""
    import csv
    with open(NAB, newline='') as f, open(dst, 'w') as out:
        for r in csv.DictReader(f):
            out.write(json.dumps({
                'ts': r['timestamp'].replace(' ', 'T') + 'Z',
                'service': 'm', 'msg': 'point', 'value': r['value']}) + '\n')


def api_alerts(cl, i):
    try:
        with urllib.request.urlopen('http://%s/v1/alerts/det?limit=1000' %
                                    cl.http(i), timeout=10) as r:
            return json.loads(r.read())
    except OSError:
        return None


class Dom(html.parser.HTMLParser):
    """Rows of the tables by id, and data- attributes of rows."""

    def __init__(self):
        super().__init__()
        self.tables = {}
        self.attrs = {}
        self.cur_table = None
        self.row = None
        self.cell = None
        self.text = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'table':
            self.cur_table = a.get('id')
            self.tables.setdefault(self.cur_table, [])
        elif tag == 'tr' and self.cur_table:
            self.row = {'cells': [], 'attrs': a}
        elif tag in ('td', 'th') and self.row is not None:
            self.cell = ''
        if tag == 'body':
            self.attrs['body'] = a

    def handle_endtag(self, tag):
        if tag in ('td', 'th') and self.row is not None and \
                self.cell is not None:
            self.row['cells'].append(self.cell.strip())
            self.cell = None
        elif tag == 'tr' and self.row is not None:
            self.tables[self.cur_table].append(self.row)
            self.row = None
        elif tag == 'table':
            self.cur_table = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def chromium():
    for c in ('chromium', 'chromium-browser', 'google-chrome'):
        if shutil.which(c):
            return c
    return None


def load(url, shot, profile):
    """The DOM after the page ran for a while, and a screenshot."""
    base = [chromium(), '--headless=new', '--no-sandbox', '--disable-gpu',
            '--disable-dev-shm-usage', '--no-first-run',
            '--user-data-dir=' + profile]
    p = subprocess.run(base + ['--virtual-time-budget=6000', '--dump-dom',
                               url], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, 'chromium failed: %r' % p.stderr[-2000:]
    subprocess.run(base + ['--virtual-time-budget=6000',
                           '--window-size=1280,900',
                           '--screenshot=' + shot, url],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   timeout=120)
    return p.stdout.decode('utf-8', 'replace')


def case_dashboard(cl):
    if chromium() is None:
        print('SKIP: chromium is not installed')
        sys.exit(77)
    ypath = os.path.join(cl.dir, 'dash.yaml')
    with open(ypath, 'w') as f:
        f.write(TOPOLOGY)
    cl.start_all()
    leader, _, _ = clt.wait_for('all nodes alive', lambda: clt.all_alive(cl))
    clt.run_cli('deploy', ypath, '--node', cl.http(0))
    have_nab = os.path.exists(NAB)
    if have_nab:
        pts = os.path.join(cl.dir, 'points.jsonl')
        nab_points(pts)
        apath = os.path.join(cl.dir, 'alerts.yaml')
        with open(apath, 'w') as f:
            f.write(ALERTS % json.dumps(pts))
        clt.run_cli('deploy', apath, '--node', cl.http(0))
        clt.wait_for('the NAB series\' alert', lambda: (
            api_alerts(cl, 0) or {}).get('count', 0) > 0)
    clt.wait_for('a first completed checkpoint',
                 lambda: clt.first_checkpoint(cl, 0))
    # GET / is a redirect to the page
    req = urllib.request.Request('http://%s/' % cl.http(1))
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.geturl().endswith('/dashboard'), r.geturl()
        page = r.read().decode()
        assert 'text/html' in r.headers['Content-Type'], r.headers
    assert '<h1>LogStream</h1>' in page
    # the node that runs the source shows the most stages: use node 0's
    # status to find which node owns the window partitions
    s = cl.status(0)
    owners = clt.owners(s, 'dash')
    node = owners.get('gen/0', 'n0')
    i = int(node[1:])
    shot = os.path.join(os.getcwd(), 'dashboard.png')
    url = 'http://%s/dashboard#window=per_service%s' % (
        cl.http(i), '&alerts=det' if have_nab else '')
    dom = None
    deadline = time.monotonic() + 90
    while True:
        d = Dom()
        text = load(url, shot, os.path.join(cl.dir, 'chrome'))
        d.feed(text)
        for k in ('node', 'leader', 'epoch'):
            m = re.search(r'<b id="%s">(.*?)</b>' % k, text)
            d.text[k] = m.group(1) if m else ''
        nodes = {r['cells'][0]: r['cells'][1:]
                 for r in d.tables.get('nodes', [])[1:]}
        stages = [r for r in d.tables.get('stages', [])[1:]]
        wins = [r for r in d.tables.get('windows', []) if
                r['attrs'].get('class') == 'wrow']
        alerts = [r for r in d.tables.get('alerts', []) if
                  r['attrs'].get('class', '').startswith('arow')]
        ok = (len(nodes) == 3 and
              any(float(r['attrs'].get('data-rate', 0)) > 0 for r in stages)
              and wins and (alerts or not have_nab))
        if ok or time.monotonic() > deadline:
            dom = d
            break
    print('nodes %r' % nodes)
    print('stages %r' % [(r['cells'][0], r['attrs'].get('data-rate'))
                         for r in stages])
    print('%d window rows, e.g. %r' % (len(wins), wins[0]['cells']
                                       if wins else None))
    assert sorted(nodes) == ['n0', 'n1', 'n2'], nodes
    assert all(v[0] == 'alive' for v in nodes.values()), nodes
    roles = {k: v[1] for k, v in nodes.items()}
    assert roles[leader] == 'leader', (leader, roles)
    st = cl.status(i)
    assert dom.text.get('leader', '').strip() == leader, dom.text.get('leader')
    assert int(dom.text.get('epoch', '0')) <= st['epoch'], dom.text
    assert int(dom.text.get('epoch', '0')) > 0, dom.text
    assert sum(int(v[2]) for v in nodes.values()) > 0, nodes
    names = [r['cells'][0] for r in stages]
    assert 'gen' in names and 'parse' in names, names
    assert any(float(r['attrs'].get('data-rate', 0)) > 0 for r in stages), \
        'no live rate on the page'
    assert wins, 'no window results on the page'
    head = [c for c in dom.tables['windows'][0]['cells']]
    assert 'count' in head and 'window_start' in head, head
    if have_nab:
        want = api_alerts(cl, i)
        print('alerts on the page %r' % [r['cells'] for r in alerts])
        assert want is not None and len(alerts) == want['count'], \
            (alerts, want)
        got = sorted((r['cells'][0], r['cells'][5]) for r in alerts)
        exp = sorted((x['time'], x['detector']) for x in want['rows'])
        assert got == exp, (got, exp)
        assert all(r['cells'][1] == 'service=m' and
                   float(r['cells'][3]) >= 0.4 for r in alerts), alerts
    else:
        print('NAB series not found: no alerts checked')
    assert os.path.exists(shot) and os.path.getsize(shot) > 10000, shot
    print('screenshot %s (%d bytes)' % (shot, os.path.getsize(shot)))

    # logstream top: the same counters over every node, rates per stage
    p = subprocess.run([clt.BIN, 'top', '--node', cl.http(0), '--count',
                        '2', '--interval', '0.5'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode()
    print(out)
    assert p.returncode == 0, p.stderr
    assert out.startswith('3 of 3 nodes'), out
    tops = {}
    for ln in out.splitlines():
        f = ln.split()
        if len(f) == 5 and f[0] != 'stage':
            tops[f[0]] = (float(f[1]), int(f[3]))
    assert tops.get('gen', (0, 0))[0] > 0, tops
    assert tops['gen'][1] == 1, 'one node runs the source: %r' % tops
    # the window stage has 4 partitions over the 3 nodes
    assert tops.get('per_service', (0, 0))[1] >= 2, tops


def main():
    clt.BIN = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix='ls-dash-', dir=os.getcwd())
    cl = clt.Cluster(3, work)
    ok = False
    try:
        case_dashboard(cl)
        ok = True
    finally:
        cl.stop_all()
        if not ok:
            cl.dump_logs()
        if ok or not os.environ.get('LS_KEEP_WORK'):
            shutil.rmtree(work, ignore_errors=True)
    print('ok')


if __name__ == '__main__':
    main()
