#!/usr/bin/env python3
"""chaos/run.py -- chaos scenarios against a local LogStream cluster.

    run.py --smoke            3 nodes, 2 kills (a follower, then the leader)
    run.py --all              every scenario below (>= 20 kill -9 in all)
    run.py --scenario NAME[,NAME...] [--seed S]
    add --tls to any: mutual TLS between the nodes, HTTPS API, tokens

Scenarios (each on a fresh cluster of real `logstream node` processes):
  random_kills  kill -9 a random node every few seconds and restart it:
                mostly once the survivors resumed without it, one in four
                at once (a crash-restart within the dead timeout);
                --kills of them
  quick_restarts  kill -9 the leader, or a follower, and restart it
                0.1-0.3 s later, before the failure detector could declare
                it dead; 5 times
  leader_kills  kill -9 the coordinator leader, restart it; 3 times
  pause         SIGSTOP the results sink's owner, then the leader, then
                the owner again, each for longer than the dead timeout,
                then SIGCONT: the stale node must be fenced
  double_kill   5 nodes with --replicas 3: kill -9 two nodes at once,
                restart both; twice

--all runs all but smoke.  Each scenario deploys chaos/topology.yaml
(seeds, counts and rate set per scenario, sink paths made absolute),
injects its faults while the topology runs (each fault waits until the
cluster has a leader, every running node is alive and the run has a
completed checkpoint), waits until the run is finished and every node has
published its final output, and checks the committed output with
chaos/verify.py against a failure-free `logstream run` of the same file
(started at the same time, in the background).  Failover time is measured
from the signal to the first status poll (every 50 ms) in which a
surviving node shows a new run epoch together with a completed checkpoint
taken in it (for a quick restart, which need not change the placement:
to the first completed checkpoint newer than any before the kill).

Exit status: 0 all scenarios passed, 1 a scenario failed (the report says
why; its directory with node logs is kept), 77 every scenario was skipped
because the nodes do not run topologies (no "runs" in /v1/status).
The seed of each scenario is printed; `--scenario NAME --seed S` replays
its fault schedule (the timing of a real cluster still varies).
"""
import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import cluster as clu  # noqa: E402
import verify  # noqa: E402

ROOT = os.path.dirname(HERE)
TOPOLOGY = os.path.join(HERE, "topology.yaml")
NOISE_RATE = 100        # events/s of the 'noise' (dead-letter) source
SUSPECT_MS = 500
DEAD_MS = 1000
STABLE_DEADLINE = 90    # s for the cluster to settle before a fault
START_DEADLINE = 90     # s from deploy to the first completed checkpoint
RUNS_GRACE = 30         # s after deploy without any "runs" field: skip
SINK_PARTITION = "results/0"  # the actor of the topology's results sink


class Skip(Exception):
    pass


class ScenarioFailed(Exception):
    pass


def log(fmt, *args):
    sys.stdout.write((fmt % args if args else fmt) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------
# the topology of a scenario
# ---------------------------------------------------------------------------

def set_param(lines, section, node, key, value):
    """Replace `key: ...` of the named node in a top-level section."""
    for item in verify.parse_nodes(lines, section):
        if item.get("name") == node:
            n = item["_lines"].get(key)
            if n is None:
                raise ValueError("%s '%s' has no '%s'" % (section, node, key))
            indent = re.match(r"^(\s*(?:-\s+)?)", lines[n]).group(1)
            lines[n] = "%s%s: %s\n" % (indent, key, value)
            return
    raise ValueError("no %s '%s'" % (section, node))


def render_topology(path, seed, seconds, rate, out_dir):
    """chaos/topology.yaml with seeds, counts, rate and absolute sink
    paths for one scenario; written to `path`."""
    lines = verify.read_lines(TOPOLOGY)
    set_param(lines, "sources", "gen", "seed", str(seed))
    set_param(lines, "sources", "gen", "rate", str(rate))
    set_param(lines, "sources", "gen", "count", str(int(rate * seconds)))
    set_param(lines, "sources", "noise", "seed", str(seed + 1))
    set_param(lines, "sources", "noise", "rate", str(NOISE_RATE))
    set_param(lines, "sources", "noise", "count",
              str(int(NOISE_RATE * seconds)))
    lines, _ = verify.rewrite_sink_paths(lines, out_dir)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return verify.topology_name(lines)


# ---------------------------------------------------------------------------
# a running scenario
# ---------------------------------------------------------------------------

class Ctx:
    """What a scenario's fault schedule works with."""

    def __init__(self, cl, mon, rng, t0, topology):
        self.cl = cl
        self.mon = mon
        self.rng = rng
        self.t0 = t0
        self.topology = topology
        self.faults = []   # dicts: kind, nodes, t (monotonic)

    def rel(self, t):
        return t - self.t0

    def check_crashes(self):
        gone = self.cl.exited()
        if gone:
            raise ScenarioFailed("node(s) ended by themselves: %s" % ", ".join(
                "n%d (exit %s)" % (i, rc) for i, rc in sorted(gone.items())))

    def finished(self):
        return self.mon.finished()

    def wait(self, what, cond, deadline):
        def c():
            self.check_crashes()
            return cond()
        try:
            return clu.wait_for(what, c, deadline)
        except TimeoutError as e:
            raise ScenarioFailed(str(e))

    def sleep(self, s):
        end = time.monotonic() + s
        while time.monotonic() < end:
            self.check_crashes()
            time.sleep(min(clu.POLL, max(0.0, end - time.monotonic())))

    def wait_stable(self):
        """Before a fault: a leader agreed by every running node, all of
        them alive in its map, and a completed checkpoint in the newest run
        epoch.  After a restart, also wait up to 20 s for the cluster to
        take the node back: a run epoch started after the restart (a rejoin
        re-places partitions), or after a quick restart, which placement
        may never notice, a checkpoint completed after it."""
        self.wait("a leader and every running node alive",
                  lambda: self.finished() or self.cl.all_alive(),
                  STABLE_DEADLINE)
        last = self.faults[-1] if self.faults else None
        if last is not None and not self.finished():
            since = last["t_back"]
            if last["quick"]:
                what, cond = "a checkpoint after the restart", \
                    lambda: self.mon.progressed(since)
            else:
                what, cond = "a run epoch after the restart", \
                    lambda: self.mon.resumed(since)
            try:
                clu.wait_for(what, lambda: self.finished() or cond(), 20)
            except TimeoutError:
                log("  note: no %s within 20 s (at +%.2f s)", what,
                    self.rel(since))
        self.wait("a completed checkpoint in the newest run epoch",
                  lambda: self.finished() or self.mon.settled(),
                  STABLE_DEADLINE)

    def leader(self):
        return self.wait("an agreed leader", self.cl.agreed_leader,
                         STABLE_DEADLINE)

    def note_fault(self, kind, nodes, t, quick=False):
        f = {"kind": kind, "nodes": list(nodes), "t": t, "t_back": None,
             "quick": quick}
        self.faults.append(f)
        log("  +%7.2f s  %s %s", self.rel(t), kind,
            ",".join("n%d" % i for i in nodes))
        return f

    # -- fault primitives ----------------------------------------------------
    def wait_resumed(self, t, nodes, cap=30.0):
        """Wait (at most cap seconds) until the survivors resumed after the
        fault at t: a new run epoch with a completed checkpoint, or the end
        of the run.  A fault the cluster does not recover from while the
        node is down is seen later anyway (the run does not finish)."""
        try:
            clu.wait_for("resumption after the fault", lambda: (
                self.check_crashes() or self.finished() or
                self.mon.recovery_time(t, set(nodes)) is not None), cap)
        except TimeoutError:
            log("  note: no resumption within %.0f s while n%s was down",
                cap, ",n".join(str(i) for i in nodes))

    def kill_restart(self, nodes, down_s, kind="kill -9", quick=False):
        """kill -9 the nodes at once; restart them after down_s seconds
        (quick: a crash-restart, typically before the failure detector
        declares the node dead) or once the survivors resumed without them
        plus down_s seconds."""
        t = self.cl.kill_many(nodes)
        f = self.note_fault(kind, nodes, t, quick)
        if not quick:
            self.wait_resumed(t, nodes)
        self.sleep(down_s)
        for i in nodes:
            self.cl.restart(i)
        f["t_back"] = time.monotonic()
        log("  +%7.2f s  restart %s (down %.2f s)", self.rel(f["t_back"]),
            ",".join("n%d" % i for i in nodes), f["t_back"] - t)

    def pause_resume(self, i, stop_s, kind="SIGSTOP"):
        """SIGSTOP node i; SIGCONT it once the others resumed without it
        and at least stop_s seconds have passed."""
        t = self.cl.pause(i)
        f = self.note_fault(kind, [i], t)
        self.wait_resumed(t, [i])
        self.sleep(max(0.0, stop_s - (time.monotonic() - t)))
        f["t_back"] = self.cl.resume(i)
        log("  +%7.2f s  SIGCONT n%d (stopped %.2f s)",
            self.rel(f["t_back"]), i, f["t_back"] - t)


# -- diagnosis ----------------------------------------------------------------

RUN_RE = re.compile(
    r'ts=(\S+) .*msg="run (started|stopped)" topology=(\S+) epoch=(\d+)'
    r'(?: local_actors=(\d+) restored_from=(\d+))?')


def midrun_joins(cl, topology):
    """Hints for a failed scenario, from the node logs.  A run restarted
    after a placement change restores every node from a checkpoint of an
    EARLIER run epoch.  A node that starts actors of run epoch E restored
    from a checkpoint taken in E itself, while another node is running E,
    has rejoined a live run mid-way: its actors went back to the
    checkpoint, the others' did not.  Returns lines of text."""
    runs = []      # (node, epoch, start ts, stop ts or None)
    suspects = []  # (node, ts, epoch, actors, checkpoint)
    for i in range(cl.n):
        try:
            f = open(cl.log_path(i), errors="replace")
        except OSError:
            continue
        with f:
            open_run = None
            for line in f:
                if "---- start" in line and open_run is not None:
                    runs.append(open_run + (None,))  # killed while running
                    open_run = None
                m = RUN_RE.search(line)
                if not m or m.group(3) != topology:
                    continue
                ts, ep = m.group(1), int(m.group(4))
                if m.group(2) == "stopped":
                    if open_run is not None:
                        runs.append(open_run + (ts,))
                    open_run = None
                    continue
                open_run = (i, ep, ts)
                la, rf = int(m.group(5) or 0), int(m.group(6) or 0)
                if la > 0 and rf >> 32 == ep:
                    suspects.append((i, ts, ep, la, rf))
            if open_run is not None:
                runs.append(open_run + ("~",))  # still running at the end
    out = []
    for i, ts, ep, la, rf in suspects:
        live = sorted({"n%d" % j for j, e, a, b in runs
                       if j != i and e == ep and a <= ts and
                       (b is None or b == "~" or b > ts)})
        if live:
            out.append("n%d at %s restored %d actors of the live run epoch "
                       "%d from checkpoint %d:%d while %s kept running it "
                       "(a mid-run local restore)" % (
                           i, ts, la, ep, rf >> 32, rf & 0xffffffff,
                           ",".join(live)))
    return out


# -- fault schedules ---------------------------------------------------------
# Each waits for a stable cluster before every fault and stops early when
# the run has finished; every random choice comes from ctx.rng.

def sched_random_kills(ctx, kills):
    """Any node, the leader included.  One kill in four is a quick
    crash-restart (down 0.2-0.8 s, less than the dead timeout); the others
    keep the node down until the survivors have resumed without it, then up
    to 1.5 s more."""
    for _ in range(kills):
        ctx.wait_stable()
        if ctx.finished():
            return
        ctx.sleep(ctx.rng.uniform(0.5, 2.5))
        if ctx.finished():
            return
        victim = ctx.rng.randrange(ctx.cl.n)
        if ctx.rng.random() < 0.25:
            ctx.kill_restart(
                [victim], ctx.rng.uniform(0.2, 0.8 * DEAD_MS / 1000.0),
                "kill -9 (quick restart)", quick=True)
        else:
            ctx.kill_restart([victim], ctx.rng.uniform(0.0, 1.5))


def sched_quick_restarts(ctx, kills):
    """kill -9 and restart at once (0.1-0.3 s later): a crash that the
    failure detector (dead after 1 s of silence) may never see -- above
    all when the node is the leader, whose successor gives every node a
    fresh grace period.  Every other kill is the leader's."""
    for k in range(kills):
        ctx.wait_stable()
        if ctx.finished():
            return
        ctx.sleep(ctx.rng.uniform(0.5, 2.0))
        li = ctx.leader()
        if k % 2 == 0:
            victim, kind = li, "kill -9 (quick restart, leader)"
        else:
            victim = ctx.rng.choice([i for i in range(ctx.cl.n) if i != li])
            kind = "kill -9 (quick restart)"
        ctx.kill_restart([victim], ctx.rng.uniform(0.1, 0.3), kind,
                         quick=True)


def sched_leader_kills(ctx, kills):
    for _ in range(kills):
        ctx.wait_stable()
        if ctx.finished():
            return
        ctx.sleep(ctx.rng.uniform(0.5, 2.0))
        ctx.kill_restart([ctx.leader()], ctx.rng.uniform(0.0, 1.5),
                         "kill -9 (leader)")


def sched_pause(ctx, rounds):
    """Round 0: the node that owns the results sink (a follower if the
    leader owns it), so a stale sink wakes up; round 1: the leader; then
    the sink's owner again, whoever it is."""
    for r in range(rounds):
        ctx.wait_stable()
        if ctx.finished():
            return
        ctx.sleep(ctx.rng.uniform(0.5, 2.0))
        li = ctx.leader()
        owner = ctx.cl.owner_of(ctx.topology, SINK_PARTITION)
        if r % 3 == 0:
            victim = owner if owner is not None and owner != li else \
                ctx.rng.choice([i for i in ctx.cl.up() if i != li])
            kind = "SIGSTOP"
        elif r % 3 == 1:
            victim, kind = li, "SIGSTOP (leader)"
        else:
            victim = owner if owner is not None else li
            kind = "SIGSTOP"
        if victim == owner:
            kind += " (sink owner)"
        stop = 3.0 * DEAD_MS / 1000.0 + ctx.rng.uniform(0.5, 1.5)
        ctx.pause_resume(victim, stop, kind)


def sched_double_kill(ctx, rounds):
    for _ in range(rounds):
        ctx.wait_stable()
        if ctx.finished():
            return
        ctx.sleep(ctx.rng.uniform(0.5, 2.0))
        pair = ctx.rng.sample(range(ctx.cl.n), 2)
        ctx.kill_restart(sorted(pair), ctx.rng.uniform(0.0, 1.5),
                         "kill -9 (two at once)")


def sched_smoke(ctx, _):
    """A follower, then the leader."""
    ctx.wait_stable()
    if ctx.finished():
        return
    li = ctx.leader()
    victim = ctx.rng.choice([i for i in range(ctx.cl.n) if i != li])
    ctx.kill_restart([victim], ctx.rng.uniform(0.0, 1.0))
    ctx.wait_stable()
    if ctx.finished():
        return
    ctx.kill_restart([ctx.leader()], ctx.rng.uniform(0.0, 1.0),
                     "kill -9 (leader)")


class Scenario:
    def __init__(self, name, sched, faults, nodes=3, replicas=None,
                 seconds=None):
        self.name = name
        self.sched = sched
        self.faults = faults
        self.nodes = nodes
        self.replicas = replicas
        # Input long enough for every fault: a cycle takes 7-8 s.
        self.seconds = seconds if seconds else 30 + 9 * faults


def scenarios(kills):
    return {
        "random_kills": Scenario("random_kills", sched_random_kills, kills),
        "quick_restarts": Scenario("quick_restarts", sched_quick_restarts,
                                   5),
        "leader_kills": Scenario("leader_kills", sched_leader_kills, 3),
        "pause": Scenario("pause", sched_pause, 3),
        "double_kill": Scenario("double_kill", sched_double_kill, 2,
                                nodes=5, replicas=3),
        "smoke": Scenario("smoke", sched_smoke, 2, seconds=30),
    }


def run_scenario(sc, binary, seed, rate, workroot, keep, tls=False):
    work = tempfile.mkdtemp(prefix="ls-chaos-%s-" % sc.name, dir=workroot)
    log("== scenario %s: seed %d, %d nodes, replicas %s, %d s of input at "
        "%d events/s, %d planned faults; dir %s", sc.name, seed, sc.nodes,
        sc.replicas or "default", sc.seconds, rate, sc.faults, work)
    topo = os.path.join(work, "topology.yaml")
    name = render_topology(topo, seed, sc.seconds, rate,
                           os.path.join(work, "out"))
    os.makedirs(os.path.join(work, "out"))
    ref = verify.Reference(binary, topo, os.path.join(work, "ref")).start()
    cl = clu.Cluster(binary, sc.nodes, os.path.join(work, "cluster"),
                     replicas=sc.replicas, suspect_ms=SUSPECT_MS,
                     dead_ms=DEAD_MS, tls=tls)
    if tls:
        log("  TLS: transport tls+tcp://, HTTPS API with tokens (%s)",
            cl.tls)
    mon = None
    ok = False
    skipped = False
    result = {"scenario": sc.name, "seed": seed}
    try:
        cl.start_all()
        t_start = time.monotonic()
        cl.wait_ready()
        log("  cluster ready after %.2f s (leader n%s)",
            time.monotonic() - t_start, cl.agreed_leader())
        mon = clu.StatusMonitor(cl, name).start()
        ctx = Ctx(cl, mon, random.Random(seed), time.monotonic(), name)
        cl.deploy(topo)
        t_dep = time.monotonic()
        log("  +%7.2f s  deployed '%s'", ctx.rel(t_dep), name)

        def started():
            if mon.settled():
                return True
            if not mon.saw_runs_field and \
                    time.monotonic() - t_dep > RUNS_GRACE:
                raise Skip("no node reports \"runs\" in /v1/status %d s "
                           "after the deploy: this build does not run "
                           "topologies on the cluster" % RUNS_GRACE)
            return False
        ctx.wait("the first completed checkpoint", started, START_DEADLINE)
        log("  +%7.2f s  first checkpoint %s", ctx.rel(time.monotonic()),
            mon.latest())

        sc.sched(ctx, sc.faults)
        kills = sum(len(f["nodes"]) for f in ctx.faults
                    if f["kind"].startswith("kill"))
        if len(ctx.faults) < sc.faults:
            log("  WARNING: the input ended after %d of %d planned faults",
                len(ctx.faults), sc.faults)

        deadline = 3 * sc.seconds + 180
        ctx.wait("the run to finish", ctx.finished, deadline)
        log("  +%7.2f s  finished: %s", ctx.rel(time.monotonic()),
            mon.latest())
        # The map says the final checkpoint is complete; the sinks publish
        # their last parts just after.  Wait until every node's own run says
        # its sinks are done.
        ctx.wait("every node to publish its final output", mon.published,
                 60)
        log("  +%7.2f s  final output published on every node",
            ctx.rel(time.monotonic()))
        mon.stop()
        codes = cl.stop_all()
        unclean = ["n%d %s" % (i, "did not stop within 20 s" if c is None
                               else "exited with status %d" % c)
                   for i, c in sorted(codes.items()) if c != 0]
        reports = cl.sanitizer_reports()

        failovers, quick = [], []
        for k, f in enumerate(ctx.faults):
            nodes = ",".join("n%d" % i for i in f["nodes"])
            until = ctx.faults[k + 1]["t"] if k + 1 < len(ctx.faults) \
                else None
            if f["quick"]:
                # No placement change need follow: progress is a completed
                # checkpoint newer than any before the kill.
                d = mon.progress_time(f["t"], f["t_back"], until)
                quick.append(d)
                log("  %-34s %-6s at +%7.2f s: %s", f["kind"], nodes,
                    ctx.rel(f["t"]), "no new checkpoint before the next "
                    "fault" if d is None else "a new checkpoint %.2f s "
                    "after the kill" % d)
                continue
            d = mon.recovery_time(f["t"], set(f["nodes"]), until)
            e = mon.restart_time(f["t"], set(f["nodes"]), until)
            failovers.append(d)
            log("  %-34s %-6s at +%7.2f s: %s", f["kind"], nodes,
                ctx.rel(f["t"]), "no resumption observed before the next "
                "fault" if d is None else "restarted after %.2f s, resumed "
                "(checkpoint) after %.2f s" % (e, d))
        ref_paths = ref.wait(3 * sc.seconds + 300)
        v = verify.compare(verify.read_reference(ref_paths),
                           verify.read_cluster(verify.jsonl_sinks(
                               verify.read_lines(topo))),
                           verify.events_in(verify.read_lines(topo)),
                           failovers)
        if unclean:
            v.fail("node(s) did not shut down cleanly on SIGTERM: %s (see "
                   "their logs)", ", ".join(unclean))
        if reports:
            v.fail("%d sanitizer report(s) in the node logs, first: n%d: %s",
                   len(reports), reports[0][0], reports[0][1])
        if not v.ok:
            for h in midrun_joins(cl, name):
                log("  hint: " + h)
        log("  faults: %d (%d node kills)", len(ctx.faults), kills)
        for line in v.text().splitlines():
            log("  " + line)
        result.update(v.counts)
        result.update({"faults": len(ctx.faults), "kills": kills,
                       "ok": v.ok, "reasons": v.reasons,
                       "failover_s": failovers, "quick_restart_s": quick})
        ok = v.ok
        return result
    except Skip:
        skipped = True
        raise
    except (ScenarioFailed, TimeoutError, RuntimeError) as e:
        log("  FAILED: %s", e)
        if mon is not None:
            log("  last status seen: %s", mon.latest())
        cl.dump_logs(sys.stdout, 20)
        result.update({"ok": False, "reasons": [str(e)]})
        return result
    finally:
        if mon is not None and mon.thread.is_alive():
            mon.stop()
        cl.close()
        ref.kill()
        if (ok or skipped) and not keep:
            shutil.rmtree(work, ignore_errors=True)
        elif not ok:
            log("  kept %s", work)


def default_binary():
    env = os.environ.get("LOGSTREAM_BIN")
    if env:
        return env
    return os.path.join(ROOT, "build", "cmd", "logstream")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Kill, stop and restart nodes of a local LogStream "
        "cluster while a topology runs; verify the output.")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--smoke", action="store_true",
                   help="3 nodes, 2 kills (a few minutes at most)")
    g.add_argument("--all", action="store_true", help="every scenario")
    g.add_argument("--scenario", help="comma-separated scenario names: "
                   "random_kills, quick_restarts, leader_kills, pause, "
                   "double_kill, smoke")
    ap.add_argument("--bin", default=default_binary(),
                    help="the logstream binary (default: $LOGSTREAM_BIN "
                    "or build/cmd/logstream)")
    ap.add_argument("--seed", type=int, help="seed of the first scenario "
                    "(default: random; the next ones use seed+1, ...)")
    ap.add_argument("--kills", type=int, default=20,
                    help="kills of random_kills (default 20)")
    ap.add_argument("--rate", type=int, default=2000,
                    help="events/s of the main generator (default 2000)")
    ap.add_argument("--workdir", help="where scenario directories go "
                    "(default: the system temporary directory)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the directories of passed scenarios too")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--tls", action="store_true",
                    help="run the clusters with mutual TLS between the "
                    "nodes, an HTTPS API and bearer tokens (certificates "
                    "from `logstream certs` in the work directory)")
    a = ap.parse_args(argv)

    binary = os.path.abspath(a.bin)
    if not os.access(binary, os.X_OK):
        sys.stderr.write("run.py: no logstream binary at %s (--bin)\n" %
                         binary)
        return 2
    table = scenarios(a.kills)
    if a.smoke:
        names = ["smoke"]
    elif a.all:
        names = ["random_kills", "quick_restarts", "leader_kills", "pause",
                 "double_kill"]
    else:
        names = [n.strip() for n in a.scenario.split(",") if n.strip()]
        bad = [n for n in names if n not in table]
        if bad:
            sys.stderr.write("run.py: unknown scenario(s): %s\n" %
                             ", ".join(bad))
            return 2
    seed = a.seed if a.seed is not None else random.randrange(1, 1 << 30)
    clu.install_signal_handlers()
    results = []
    skipped = 0
    t0 = time.monotonic()
    try:
        for k, n in enumerate(names):
            try:
                results.append(run_scenario(table[n], binary, seed + 2 * k,
                                            a.rate, a.workdir, a.keep,
                                            tls=a.tls))
            except Skip as e:
                log("  SKIPPED: %s", e)
                skipped += 1
                results.append({"scenario": n, "seed": seed + 2 * k,
                                "ok": None, "reasons": [str(e)]})
    except clu.Interrupted as e:
        log("interrupted (%s): every node was killed", e)
        return 130
    except Exception:
        traceback.print_exc()
        return 1

    log("== summary (%.0f s)", time.monotonic() - t0)
    for r in results:
        state = "SKIP" if r["ok"] is None else ("ok" if r["ok"] else "FAIL")
        extra = ""
        if "lost" in r:
            extra = (" kills %d, faults %d, lost %d, duplicated %d, wrong %d,"
                     " unexpected %d" % (r["kills"], r["faults"], r["lost"],
                                         r["duplicated"], r["wrong"],
                                         r["unexpected"]))
            if "failover_max" in r:
                extra += ", failover p50 %.2f s p99 %.2f s max %.2f s" % (
                    r["failover_p50"], r["failover_p99"], r["failover_max"])
        log("  %-13s seed %-11d %s%s", r["scenario"], r["seed"], state, extra)
        if r["ok"] is False:
            for why in r["reasons"]:
                log("      %s", why)
    every = [d for r in results for d in r.get("failover_s", [])]
    seen = [d for d in every if d is not None]
    if seen:
        log("  %d node kills in all; failover over %d faults (quick "
            "restarts apart): p50 %.2f s, p99 %.2f s, max %.2f s (goal "
            "< 2 s)%s", sum(r.get("kills", 0) for r in results), len(every),
            verify.percentile(seen, 50), verify.percentile(seen, 99),
            max(seen), "" if len(seen) == len(every) else
            "; %d without an observed resumption" % (len(every) - len(seen)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if skipped == len(results):
        return 77
    return 0 if all(r["ok"] is not False for r in results) and \
        not skipped else 1


if __name__ == "__main__":
    sys.exit(main())
