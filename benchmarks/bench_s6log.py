#!/usr/bin/env python3
"""Throughput of our s6-log next to Debian's, in one run.

2,000,000 lines of about 83 bytes are fed through a pipe (`cat FILE |`) to each logger
with the scripts `n20 s1000000 T`, `n20 s1000000 t`, `n20 s1000000` and a `+regex`
selection; each case runs REPEAT times and the median wall time is kept.  Prints
lines/s, the ratio ours/theirs (higher is better for us) and the peak RSS of each logger
process alone (VmHWM / wait4, not the whole tree).  Then one 100 MB line: with the default
-l the memory of our s6-log must stay bounded; with -l 0 (unlimited, as s6) it holds the
line.

    python3 benchmarks/bench_s6log.py [--lines N] [--repeat R] [--long-line-mb M]
"""

import argparse
import os
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


def _vmhwm(pid):
    """Peak resident set of PID alone (kB), from /proc/PID/status; 0 if gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measured(cmd, stdin, cwd):
    """Run CMD; return (exit code, peak RSS in kB of that process alone).

    VmHWM is read from /proc/PID/status every 5 ms while it runs (it only grows, and exec
    resets it).  Not ru_maxrss: a child forked from this Python process starts with our RSS
    counted, and RUSAGE_CHILDREN mixes `cat` and every earlier run."""
    p = subprocess.Popen(cmd, stdin=stdin, cwd=cwd)
    peak = 0
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, peak
        peak = max(peak, _vmhwm(p.pid))
        time.sleep(0.005)


def one_run(cmd, script, infile, workdir, extra=()):  # noqa: D103
    logdir = os.path.join(workdir, "log")
    shutil.rmtree(logdir, ignore_errors=True)
    start = time.perf_counter()
    with open(infile, "rb") as f:
        cat = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)
        code, rss = measured(cmd + list(extra) + ["--"] + script + [logdir], cat.stdout, workdir)
        cat.stdout.close()
        cat.wait()
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit("%s failed (%d)" % (cmd, code))
    return elapsed, rss


def make_long_line(path, megabytes):
    with open(path, "wb") as f:
        chunk = b"x" * (1 << 20)
        for _ in range(megabytes):
            f.write(chunk)
        f.write(b"\nshort line after it\n")


def long_line_case(work, megabytes):
    """One MEGABYTES-long line: with the default -l 8192 memory must not grow with it;
    with -l 0 (no limit, as s6) the line is held whole, for both programs."""
    infile = os.path.join(work, "longline")
    make_long_line(infile, megabytes)
    print()
    print("one %d MB line, then a short one, through `n20 s1000000 T`" % megabytes)
    print("%-22s %14s %14s" % ("option", "theirs RSS", "ours RSS"))
    for extra in ([], ["-l", "0"]):
        rss = {}
        for label, cmd in (("theirs", THEIRS), ("ours", OURS)):
            _, rss[label] = one_run(cmd, ["n20", "s1000000", "T"], infile, work, extra)
        print("%-22s %11d KB %11d KB" % (" ".join(extra) or "default (-l 8192)",
                                           rss["theirs"], rss["ours"]))
    os.unlink(infile)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--long-line-mb", type=int, default=100)
    args = ap.parse_args()
    if not os.access(THEIRS[0], os.X_OK):
        raise SystemExit("Debian's s6-log is not installed (apt-get install s6)")
    with tempfile.TemporaryDirectory() as work:
        infile = os.path.join(work, "input")
        make_input(infile, args.lines)
        size = os.path.getsize(infile)
        print("%d lines, %.1f bytes/line, median of %d runs" % (
            args.lines, size / args.lines, args.repeat))
        print("%-40s %14s %14s %8s %10s %10s" % ("script", "theirs lines/s", "ours lines/s",
                                                  "ratio", "their RSS", "our RSS"))
        for script in SCRIPTS:
            times = {"theirs": [], "ours": []}
            rss = {"theirs": 0, "ours": 0}
            for _ in range(args.repeat):
                for label, cmd in (("theirs", THEIRS), ("ours", OURS)):
                    t, r = one_run(cmd, script, infile, work)
                    times[label].append(t)
                    rss[label] = max(rss[label], r)
            theirs = args.lines / statistics.median(times["theirs"])
            ours = args.lines / statistics.median(times["ours"])
            print("%-40s %14.0f %14.0f %7.2fx %7d KB %7d KB" % (
                " ".join(script), theirs, ours, ours / theirs, rss["theirs"], rss["ours"]))
        os.unlink(infile)
        if args.long_line_mb:
            long_line_case(work, args.long_line_mb)


if __name__ == "__main__":
    main()
