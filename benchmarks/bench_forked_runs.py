#!/usr/bin/env python3
"""Services whose run is `#!/usr/bin/with-contenv sh`: forked with-contenv against exec'd,
one run, side by side (sudo python3 benchmarks/bench_forked_runs.py [--sizes 10,50] [--runs 5]).

For each size N, /init boots N services.d services as PID 1 of a private namespace (the
Box of tests/test_init_support.py); each run script has our with-contenv as its shebang,
reads a variable of the container environment and writes a file.  Measured from here:
launch -> every service's file written (the boot as a user sees it), and the CPU time
the whole tree used from launch to its end after a SIGTERM (getrusage of our reaped
children: the namespace's wrapper, PID 1 and everything PID 1 reaped).  Two modes in turn, run by run: as shipped
(with-contenv's work done in a child forked from PID 1) and S6PY_FORKED_RUNS=0 (the run
script exec'd: a new interpreter for with-contenv).  Medians.
"""

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from test_init_support import Box, available  # noqa: E402

MODES = (("forked (default)", {}), ("exec'd (S6PY_FORKED_RUNS=0)", {"S6PY_FORKED_RUNS": "0"}))


def tree(n):
    box = Box()
    for i in range(n):
        box.service("s%d" % i, 'echo "$FOO" > "$S6PY_ROOT/data/s%d"\nexec sleep 100000\n' % i)
        path = box.path("etc/services.d/s%d/run" % i)
        with open(path) as f:
            text = f.read().replace("#!/bin/sh", "#!%s/with-contenv sh" % box.bin, 1)
        with open(path, "w") as f:
            f.write(text)
    return box


def boot_once(box, n, env):
    """(launch -> all N files written, in s; CPU s of the whole tree)."""
    for i in range(n):
        try:
            os.unlink(box.path("data/s%d" % i))
        except FileNotFoundError:
            pass
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with box.start(["sleep", "100000"], env=dict({"FOO": "bar"}, **env),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as c:
        files = [box.path("data/s%d" % i) for i in range(n)]
        while not all(os.path.exists(f) and os.path.getsize(f) for f in files):
            if time.monotonic() - t0 > 60:
                raise RuntimeError("N=%d: the services did not all start" % n)
            time.sleep(0.002)
        took = time.monotonic() - t0
        c.signal(signal.SIGTERM)
        c.wait(60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not available():
        sys.exit("needs root and unshare")
    print("| services | mode | launch -> all running | CPU of the whole tree (boot + stop) |")
    print("|---:|---|---:|---:|")
    for n in [int(x) for x in args.sizes.split(",")]:
        box = tree(n)
        try:
            figures = {name: [] for name, _ in MODES}
            for _ in range(args.runs):
                for name, env in MODES:  # in turn, so a drift of the machine hits both
                    figures[name].append(boot_once(box, n, env))
            medians = {}
            for name, _ in MODES:
                took = statistics.median(t for t, _ in figures[name])
                cpu = statistics.median(c for _, c in figures[name])
                medians[name] = (took, cpu)
                print("| %d | %s | %.0f ms | %.0f ms |" % (n, name, took * 1000, cpu * 1000))
            (ft, fc), (et, ec) = medians[MODES[0][0]], medians[MODES[1][0]]
            print("| %d | ratio forked / exec'd | %.2f | %.2f |" % (n, ft / et, fc / ec))
            sys.stdout.flush()
        finally:
            box.cleanup()


if __name__ == "__main__":
    main()
