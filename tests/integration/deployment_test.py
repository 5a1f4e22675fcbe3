#!/usr/bin/env python3
"""deployment_test.py -- docs/deployment.md as written: its n1.conf (and
n2, n3 made the way it says), started with the command line of the
systemd unit dist/systemd/logstream-node@.service, form a cluster.

    python3 deployment_test.py BINARY CASE

Cases:
  deployment_guide  the three configurations, their addresses moved to
                    127.0.0.1 and free ports and their data-dir to a
                    temporary directory, started with the unit's ExecStart:
                    one leader, three nodes alive; a topology deployed
                    through n1 runs to its end with every event committed;
                    SIGTERM (the unit's KillSignal) stops every node with
                    status 0 within the unit's TimeoutStopSec; where
                    systemd-analyze exists, `systemd-analyze verify`
                    accepts the unit.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_test as C  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "deployment.md")
UNIT = os.path.join(ROOT, "dist", "systemd", "logstream-node@.service")


def unit_fields():
    fields = {}
    with open(UNIT) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                fields[k] = v
    return fields


def n1_conf():
    with open(DOC) as f:
        text = f.read()
    m = re.search(r"```ini\n(# /etc/logstream/n1\.conf\n.*?)```", text,
                  re.S)
    assert m, "docs/deployment.md has no n1.conf block"
    return m.group(1)


def conf_for(i, n1, cl):
    """n<i+1>.conf as the guide says: n1's with id, listen, http and
    data-dir changed; the three machines become loopback ports."""
    text = n1
    for k in range(3):
        text = text.replace("tcp://10.0.0.%d:7001" % (k + 1), cl.url(k))
    text = text.replace("10.0.0.1:8001", cl.http(i))
    text = text.replace("id = n1", "id = n%d" % i)
    text = re.sub(r"listen = .*", "listen = " + cl.url(i), text)
    text = text.replace("/var/lib/logstream/n1",
                        os.path.join(cl.dir, "d%d" % i))
    assert "10.0.0." not in text, text
    return text


def case_deployment_guide(cl):
    fields = unit_fields()
    exec_start = shlex.split(fields["ExecStart"])
    assert exec_start[0] == "/usr/local/bin/logstream", exec_start
    assert fields.get("KillSignal") == "SIGTERM"
    stop_s = float(fields.get("TimeoutStopSec", "90"))
    n1 = n1_conf()
    procs = {}
    for i in range(3):
        conf = os.path.join(cl.dir, "n%d.conf" % i)
        with open(conf, "w") as f:
            f.write(conf_for(i, n1, cl))
        argv = [C.BIN] + [a.replace("/etc/logstream/%i.conf", conf)
                          for a in exec_start[1:]]
        log = open(os.path.join(cl.dir, "n%d.log" % i), "ab")
        cl.logs[i] = log
        procs[i] = subprocess.Popen(argv, stdout=log,
                                    stderr=subprocess.STDOUT)
    cl.procs = dict(procs)
    leader, _, _ = C.wait_for("a leader, three nodes alive",
                              lambda: C.all_alive(cl))
    print("leader %s" % leader)
    out = os.path.join(cl.dir, "out.jsonl")
    y = os.path.join(cl.dir, "t.yaml")
    with open(y, "w") as f:
        f.write("""name: guide
sources:
  - name: gen
    kind: generator
    rate: 2000
    count: 6000
stages:
  - name: parse
    kind: parse
    input: gen
    partitions: 3
sinks:
  - name: out
    kind: jsonl
    input: parse
    path: %s
""" % out)
    C.run_cli("deploy", y, "--node", cl.http(0))
    C.wait_for("the run to finish",
               lambda: C.run_finished(cl, range(3)), 120)
    got = C.cluster_output(out + ".d")
    assert len(got) == 6000, "%d events committed, not 6000" % len(got)
    # the unit's stop: SIGTERM, status 0 within TimeoutStopSec
    for p in procs.values():
        p.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    for i, p in procs.items():
        rc = p.wait(timeout=stop_s)
        assert rc == 0, "n%d exited %d on SIGTERM" % (i, rc)
    print("stopped in %.2f s" % (time.monotonic() - t0))
    cl.procs = {}
    sa = shutil.which("systemd-analyze")
    if sa is not None:
        unit = os.path.join(cl.dir, "logstream-node@.service")
        with open(UNIT) as f, open(unit, "w") as g:
            g.write(f.read().replace("/usr/local/bin/logstream", C.BIN))
        r = subprocess.run([sa, "verify", unit.replace("@.", "@n1.")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, cwd=cl.dir, timeout=60)
        assert r.returncode == 0, "systemd-analyze verify: " + r.stdout
        print("systemd-analyze verify: %s" % (r.stdout.strip() or "ok"))


CASES = {"deployment_guide": case_deployment_guide}


if __name__ == "__main__":
    C.run_case(CASES, "ls-deploy-")
