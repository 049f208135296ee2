#!/usr/bin/env python3
"""/init benchmarks, one run, side by side (python3 benchmarks/bench_init.py [--runs N]).

Everything runs inside the same kind of private namespace (unshare --pid --fork
--mount-proc --mount, a tmpfs mounted on the container's /run by a small sh wrapper):

  * `/init true` wall time against the bare `true` (same wrapper, `exec true` instead);
  * launch -> CMD start with 0, 10 and 50 services in services.d (the CMD writes to a FIFO
    the harness watches; services are `exec sleep`);
  * SIGTERM -> exit with one service that obeys TERM (and no CMD).
Medians (and 90th percentiles) of N runs; polling happens here, never in /init.
Targets (issue): `/init true` <= bare + 30 ms; SIGTERM -> exit <= 50 ms.
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

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))
from s6py.cli import COMMANDS  # noqa: E402

LAUNCHER = os.path.join(REPO, "bin", "s6py")
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--mount", "--propagation", "private", "--"]
WRAPPER = 'mount -t tmpfs -o mode=0755 tmpfs "$R/run" && exec "$@"'


class Tree:
    def __init__(self, services=0):
        self.dir = tempfile.mkdtemp(prefix="s6py-bench-")
        self.root = os.path.join(self.dir, "root")
        for d in ("run", "var", "etc/services.d"):
            os.makedirs(os.path.join(self.root, d))
        os.symlink("../run", os.path.join(self.root, "var/run"))
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.bin)
        for name in COMMANDS:
            os.symlink(LAUNCHER, os.path.join(self.bin, name))
        for i in range(services):
            d = os.path.join(self.root, "etc/services.d/svc%02d" % i)
            os.makedirs(d)
            with open(os.path.join(d, "run"), "w") as f:
                f.write("#!/bin/sh\nexec sleep 100000\n")
            os.chmod(os.path.join(d, "run"), 0o755)
        self.env = {"PATH": self.bin + ":/usr/bin:/bin", "S6PY_ROOT": self.root, "R": self.root}

    def argv(self, cmd, init=True):
        head = [os.path.join(self.bin, "init")] if init else []
        return UNSHARE + ["/bin/sh", "-c", WRAPPER, "sh"] + head + list(cmd)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def wall(tree, cmd, init, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(tree.argv(cmd, init), env=tree.env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return times


def inner_pid(proc):
    path = "/proc/%d/task/%d/children" % (proc.pid, proc.pid)
    while True:
        try:
            kids = open(path).read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.0005)


def launch_to_cmd(services, runs):
    tree = Tree(services)
    fifo = os.path.join(tree.dir, "started")
    os.mkfifo(fifo)
    times = []
    try:
        for _ in range(runs):
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            t = time.perf_counter()
            proc = subprocess.Popen(tree.argv(["sh", "-c", "echo > %s; exec sleep 100" % fifo]), env=tree.env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            while True:
                select.select([fd], [], [], 10)
                if os.read(fd, 16):
                    break
            times.append(time.perf_counter() - t)
            os.close(fd)
            os.kill(inner_pid(proc), signal.SIGTERM)
            proc.wait(10)
    finally:
        tree.cleanup()
    return times


def term_to_exit(runs):
    tree = Tree(1)
    times = []
    try:
        for _ in range(runs):
            proc = subprocess.Popen(tree.argv([]), env=tree.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pid1 = inner_pid(proc)
            status = "/proc/%d/root%s/run/service/svc00/supervise/status" % (pid1, tree.root)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # wait until the service runs
                try:
                    with open(status, "rb") as f:
                        data = f.read()
                    if len(data) >= 32 and int.from_bytes(data[24:32], "big"):
                        break
                except OSError:
                    pass
                time.sleep(0.002)
            time.sleep(0.05)
            t = time.perf_counter()
            os.kill(pid1, signal.SIGTERM)
            proc.wait(10)
            times.append(time.perf_counter() - t)
    finally:
        tree.cleanup()
    return times


def ms(values):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    return statistics.median(values) * 1000, p90 * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_init: needs root (unshare, mount)")
    rows = []
    tree = Tree(0)
    try:
        wall(tree, ["true"], False, 3)
        wall(tree, ["true"], True, 3)
        bare = wall(tree, ["true"], False, args.runs)
        ours = wall(tree, ["true"], True, args.runs)
    finally:
        tree.cleanup()
    bare_med, bare_p90 = ms(bare)
    ours_med, ours_p90 = ms(ours)
    rows.append(("bare `true` in the namespace", bare_med, bare_p90, ""))
    rows.append(("`/init true`", ours_med, ours_p90,
                 "+%.1f ms (target <= +30)" % (ours_med - bare_med)))
    for n in (0, 10, 50):
        med, p90 = ms(launch_to_cmd(n, max(5, args.runs // 2)))
        rows.append(("launch -> CMD start, %d services" % n, med, p90, ""))
    med, p90 = ms(term_to_exit(max(5, args.runs // 2)))
    rows.append(("SIGTERM -> exit, 1 service", med, p90, "target <= 50"))
    print("%-36s %10s %10s  %s" % ("measure", "median ms", "p90 ms", "note"))
    print("-" * 80)
    for name, med, p90, note in rows:
        print("%-36s %10.1f %10.1f  %s" % (name, med, p90, note))


if __name__ == "__main__":
    main()
