#!/usr/bin/env python3
"""Supervisor benchmarks: s6py's s6-svscan side by side with Debian's s6-svscan, one run.

Measures, for each implementation:
  * all-up time: launch of s6-svscan -> every one of N services has a pid in its status;
  * PSS of the supervising processes (s6-svscan + s6-supervise for s6; one process for us);
  * respawn reaction: SIGKILL of a service that has been up > 1 s -> its new `u` event;
  * control latency: `d` written to supervise/control -> the `D` event;
  * idle wake-ups: voluntary context switches of the supervisors over an idle period;
  * many services: all-up, PSS and stop (SIGTERM -> s6-svscan gone) for --many services
    (5,000 by default), both run with nofile=16384 (s6 with `-c`, so that it takes them all).
and prints a table with the ratio ours / s6.  Run: `python3 benchmarks/bench_supervisor.py`.
Polling happens here, in the measuring harness, never in the supervisors measured.
"""

import argparse
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from s6py.client.control import send_letters  # noqa: E402
from s6py.wire import fifodir, status  # noqa: E402

IMPLEMENTATIONS = {
    "s6": ["/usr/bin/s6-svscan"],
    "s6py": [os.path.join(ROOT, "bin", "s6py"), "s6-svscan"],
}

RUN_SCRIPT = "#!/bin/sh\nexec sleep 100000\n"


def make_scandir(n):
    scandir = tempfile.mkdtemp(prefix="s6bench-")
    for i in range(n):
        svc = os.path.join(scandir, "svc%03d" % i)
        os.mkdir(svc)
        with open(os.path.join(svc, "run"), "w") as f:
            f.write(RUN_SCRIPT)
        os.chmod(os.path.join(svc, "run"), 0o755)
    return scandir


def service_dirs(scandir):
    return [os.path.join(scandir, d) for d in sorted(os.listdir(scandir)) if not d.startswith(".")]


def up_pid(servicedir):
    try:
        return status.read(servicedir).pid
    except (OSError, ValueError):
        return 0


class Tree:
    """One running supervision tree on a fresh scandir of N services."""

    def __init__(self, impl, n, prefix=(), options=()):
        self.scandir = make_scandir(n)
        self.services = service_dirs(self.scandir)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(list(prefix) + IMPLEMENTATIONS[impl] + list(options) + [self.scandir],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def wait_all_up(self, timeout=60.0):
        pending = list(self.services)
        deadline = self.started + timeout
        while pending:
            pending = [s for s in pending if not up_pid(s)]
            if time.monotonic() > deadline:
                raise RuntimeError("services not up after %ss: %d left" % (timeout, len(pending)))
            if pending:
                # a sweep of thousands of status files costs CPU the supervisors need
                time.sleep(0.0005 if len(pending) < 200 else 0.05)
        return time.monotonic() - self.started

    def supervisor_pids(self):
        """The supervising processes: s6-svscan and its s6-supervise children (not services)."""
        pids = [self.proc.pid]
        service_pids = {up_pid(s) for s in self.services}
        for child in children_of(self.proc.pid):
            if child not in service_pids and comm(child).startswith("s6-supervise"):
                pids.append(child)
        return pids

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # services are in their own sessions: kill whatever is left of them
        for svc in self.services:
            pid = up_pid(svc)
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.scandir, ignore_errors=True)


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def voluntary_switches(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_event(listener, wanted, timeout=5.0):
    """Block until byte WANTED arrives on LISTENER; return the arrival time."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError("event %r not seen" % wanted)
        ready, _, _ = select.select([listener.fd], [], [], remaining)
        if ready and wanted in listener.read():
            return time.monotonic()


def measure_all_up(impl, n):
    tree = Tree(impl, n)
    try:
        elapsed = tree.wait_all_up()
        time.sleep(0.2)  # let supervisors settle before reading memory
        pss = sum(pss_kb(p) for p in tree.supervisor_pids())
        return elapsed, pss
    finally:
        tree.stop()


def measure_many(impl, n):
    """(all-up s, supervisors' PSS kB, stop s) for N services, fd limit raised for both."""
    prefix = ["prlimit", "--nofile=16384:16384"]
    options = ["-c", str(n + 10)] if impl == "s6" else []
    tree = Tree(impl, n, prefix=prefix, options=options)
    try:
        elapsed = tree.wait_all_up(timeout=300.0)
        time.sleep(1.0)
        pss = sum(pss_kb(p) for p in tree.supervisor_pids())
        t0 = time.monotonic()
        os.kill(tree.proc.pid, signal.SIGTERM)
        tree.proc.wait(120)
        return elapsed, pss, time.monotonic() - t0
    finally:
        tree.stop()


def measure_respawn(impl, rounds):
    tree = Tree(impl, 1)
    svc = tree.services[0]
    samples = []
    try:
        tree.wait_all_up()
        for _ in range(rounds):
            time.sleep(1.1)  # up (and so ready) for more than 1 s: no restart throttle
            with fifodir.Listener(os.path.join(svc, "event")) as listener:
                t0 = time.monotonic()
                os.kill(up_pid(svc), signal.SIGKILL)
                samples.append(wait_event(listener, b"u") - t0)
        return statistics.median(samples)
    finally:
        tree.stop()


def measure_control(impl, rounds):
    tree = Tree(impl, 1)
    svc = tree.services[0]
    samples = []
    try:
        tree.wait_all_up()
        for _ in range(rounds):
            with fifodir.Listener(os.path.join(svc, "event")) as listener:
                t0 = time.monotonic()
                send_letters(svc, "supervise", "d")
                samples.append(wait_event(listener, b"D") - t0)
                send_letters(svc, "supervise", "u")
                wait_event(listener, b"u")
        return statistics.median(samples)
    finally:
        tree.stop()


def measure_idle(impl, n, seconds):
    tree = Tree(impl, n)
    try:
        tree.wait_all_up()
        time.sleep(0.5)
        pids = tree.supervisor_pids()
        before = sum(voluntary_switches(p) for p in pids)
        time.sleep(seconds)
        return sum(voluntary_switches(p) for p in pids) - before
    finally:
        tree.stop()


def ratio(ours, theirs):
    if theirs == 0:
        return "-" if ours == 0 else "inf"
    return "%.2f" % (ours / theirs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,200")
    parser.add_argument("--repeat", type=int, default=5, help="all-up runs per size (median)")
    parser.add_argument("--rounds", type=int, default=7, help="respawn/control samples")
    parser.add_argument("--idle", type=float, default=10.0, help="idle period, seconds")
    parser.add_argument("--many", type=int, default=5000, help="services of the big tree (0: skip)")
    args = parser.parse_args()
    for impl, argv in IMPLEMENTATIONS.items():
        if not os.access(argv[0], os.X_OK):
            sys.exit("missing %s: %s" % (impl, argv[0]))
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        results = {}
        for impl in IMPLEMENTATIONS:
            runs = [measure_all_up(impl, n) for _ in range(args.repeat)]
            results[impl] = (statistics.median(r[0] for r in runs),
                             statistics.median(r[1] for r in runs))
        rows.append(("all up, N=%d (ms)" % n, results["s6"][0] * 1e3, results["s6py"][0] * 1e3))
        rows.append(("supervisor PSS, N=%d (MB)" % n, results["s6"][1] / 1024,
                     results["s6py"][1] / 1024))
    if args.many:
        many = {impl: measure_many(impl, args.many) for impl in IMPLEMENTATIONS}
        n = args.many
        rows.append(("all up, N=%d, nofile 16384 (ms)" % n, many["s6"][0] * 1e3, many["s6py"][0] * 1e3))
        rows.append(("supervisor PSS, N=%d (MB)" % n, many["s6"][1] / 1024, many["s6py"][1] / 1024))
        rows.append(("SIGTERM -> svscan gone, N=%d (ms)" % n, many["s6"][2] * 1e3, many["s6py"][2] * 1e3))
    respawn = {impl: measure_respawn(impl, args.rounds) for impl in IMPLEMENTATIONS}
    # s6 2.11.3 waits 1 s after any death of a service without notification-fd; we respawn
    # at once a service that had been up (ready) for over 1 s (docs/supervision.md)
    rows.append(("respawn after > 1 s up, median (ms)", respawn["s6"] * 1e3, respawn["s6py"] * 1e3))
    ctl = {impl: measure_control(impl, args.rounds) for impl in IMPLEMENTATIONS}
    rows.append(("control d -> D event, median (ms)", ctl["s6"] * 1e3, ctl["s6py"] * 1e3))
    idle = {impl: measure_idle(impl, 10, args.idle) for impl in IMPLEMENTATIONS}
    rows.append(("idle wake-ups, 10 services, %gs" % args.idle, idle["s6"], idle["s6py"]))

    print("| measure | Debian s6 2.11 | s6py | s6py / s6 |")
    print("|---|---:|---:|---:|")
    for label, theirs, ours in rows:
        fmt = "%d" if label.startswith("idle") else "%.2f"
        print("| %s | %s | %s | %s |" % (label, fmt % theirs, fmt % ours, ratio(ours, theirs)))


if __name__ == "__main__":
    main()
