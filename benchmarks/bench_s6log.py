#!/usr/bin/env python3
"""Throughput of our s6-log next to Debian's, in one run.

2,000,000 lines of about 83 bytes are fed through a pipe (`cat FILE |`) to each logger
with the scripts `n20 s1000000 T`, `n20 s1000000 t`, `n20 s1000000` and a `+regex`
selection; each case runs REPEAT times and the median wall time is kept.  Prints
lines/s, peak RSS and the ratio ours/theirs (higher is better for us).

    python3 benchmarks/bench_s6log.py [--lines N] [--repeat R]
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = [sys.executable, "-IS", os.path.join(ROOT, "bin", "s6py"), "s6-log"]
THEIRS = ["/usr/bin/s6-log"]
SCRIPTS = [
    ["n20", "s1000000", "T"],
    ["n20", "s1000000", "t"],
    ["n20", "s1000000"],
    ["n20", "s1000000", "-.*", "+(error|warn)[0-9]", "T"],
]


def make_input(path, count):
    with open(path, "w") as f:
        body = "service message with some payload text to make it realistic-ish"
        for i in range(count):
            level = ("info", "warn", "error")[i % 3]
            f.write("%09d %-5s%d %s\n" % (i, level, i % 10, body))


def one_run(cmd, script, infile, workdir):
    logdir = os.path.join(workdir, "log")
    shutil.rmtree(logdir, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with open(infile, "rb") as f:
        cat = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)
        logger = subprocess.run(cmd + ["--"] + script + [logdir], stdin=cat.stdout,
                                cwd=workdir)
        cat.stdout.close()
        cat.wait()
    elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if logger.returncode != 0:
        raise SystemExit("%s failed (%d)" % (cmd, logger.returncode))
    return elapsed, max(rss, before)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not os.access(THEIRS[0], os.X_OK):
        raise SystemExit("Debian's s6-log is not installed (apt-get install s6)")
    with tempfile.TemporaryDirectory() as work:
        infile = os.path.join(work, "input")
        make_input(infile, args.lines)
        size = os.path.getsize(infile)
        print("%d lines, %.1f bytes/line, median of %d runs" % (
            args.lines, size / args.lines, args.repeat))
        print("%-40s %14s %14s %8s %10s" % ("script", "theirs lines/s", "ours lines/s",
                                             "ratio", "ours RSS"))
        for script in SCRIPTS:
            times = {"theirs": [], "ours": []}
            rss = 0
            for _ in range(args.repeat):
                for label, cmd in (("theirs", THEIRS), ("ours", OURS)):
                    t, r = one_run(cmd, script, infile, work)
                    times[label].append(t)
                    if label == "ours":
                        rss = max(rss, r)
            theirs = args.lines / statistics.median(times["theirs"])
            ours = args.lines / statistics.median(times["ours"])
            print("%-40s %14.0f %14.0f %7.2fx %8d KB" % (" ".join(script), theirs, ours,
                                                        ours / theirs, rss))


if __name__ == "__main__":
    main()
