#!/usr/bin/env python3
"""s6-rc images in real containers, s6py against the real s6-overlay 3.2.3.2, one run.

    python3 benchmarks/bench_rc.py [--runs N]

The image: Debian bookworm (tests/e2e_support.py) with a DAG of 50 longruns and 20 oneshots
in /etc/s6-overlay/s6-rc.d: four layers of five oneshots (each needs the five of the layer
before), 50 longruns (`exec sleep`, obeying TERM) each needing one oneshot of the last
layer, all in the user bundle.  The same tree over s6py's image and over the reference image
(tests/e2e_rc_support.py builds it from ../shared/oracles).  Measured, medians of N rounds
(each round measures every kind once):

  * launch -> CMD start: the host's clock before `podman run`, the CMD's `date +%s%N`;
    the bare container (`--entrypoint date`) gives the floor, and each init's overhead is
    its figure minus the floor;
  * `podman stop` of a container up for 2 s, against the bare container's (sh trapping TERM).

Targets (the issue): s6py's start overhead at most half of v3's; its stop within 50 ms of
the bare container's.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
import e2e_rc_support  # noqa: E402
from e2e_support import Container, podman, unavailable  # noqa: E402

LAYERS, PER_LAYER, LONGRUNS = 4, 5, 50


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def dag_tree():
    """A build context: root/etc/s6-overlay/... holding the DAG."""
    ctx = tempfile.mkdtemp(prefix="s6py-bench-rc-")
    rc = os.path.join(ctx, "root", "etc", "s6-overlay", "s6-rc.d")
    user = os.path.join(ctx, "root", "etc", "s6-overlay", "user-bundles.d", "user")
    write(os.path.join(user, "type"), "bundle\n")
    names = []
    for layer in range(LAYERS):
        for i in range(PER_LAYER):
            name = "o%d%d" % (layer, i)
            write(os.path.join(rc, name, "type"), "oneshot\n")
            write(os.path.join(rc, name, "up"), "true\n")
            write(os.path.join(rc, name, "dependencies.d", "base"), "")
            if layer:
                for j in range(PER_LAYER):
                    write(os.path.join(rc, name, "dependencies.d", "o%d%d" % (layer - 1, j)), "")
            names.append(name)
    for i in range(LONGRUNS):
        name = "l%02d" % i
        write(os.path.join(rc, name, "type"), "longrun\n")
        write(os.path.join(rc, name, "run"), "#!/bin/sh\nexec sleep 100000\n", 0o755)
        write(os.path.join(rc, name, "dependencies.d", "o%d%d" % (LAYERS - 1, i % PER_LAYER)), "")
        names.append(name)
    for name in names:
        write(os.path.join(user, "contents.d", name), "")
    return ctx


def build(base, ctx, tag):
    with open(os.path.join(ctx, "Containerfile"), "w") as f:
        f.write("FROM %s\nCOPY root/ /\n" % base)
    r = podman("build", "-q", "-t", tag, ctx, timeout=600)
    if r.returncode != 0:
        raise RuntimeError((r.stdout + r.stderr).decode(errors="replace")[-2000:])
    return tag


def launch_to_cmd(img, opts, cmd):
    t0 = time.time_ns()
    r = podman("run", "--rm", *opts, img, *cmd, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode(errors="replace")[-2000:])
    return (int(r.stdout.decode().split()[-1]) - t0) / 1e6


def stop_time(img, opts, cmd):
    with Container(img, *cmd, opts=opts) as c:
        time.sleep(2)
        return c.stop() * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    why = unavailable() or e2e_rc_support.reference_unavailable()
    if why:
        sys.exit("bench_rc: %s" % why)
    ctx = dag_tree()
    try:
        from e2e_support import image

        compiled = image("bookworm", extra_run="python3 -m compileall -q /package/admin/s6py/lib")
        images = {"s6py": build(e2e_rc_support.s6py_image(), ctx, "localhost/s6py-bench-rc:s6py"),
                  "s6py+pyc": build(compiled, ctx, "localhost/s6py-bench-rc:s6py-pyc"),
                  "v3": build(e2e_rc_support.reference_image(), ctx, "localhost/s6py-bench-rc:v3")}
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    quiet = ["-e", "S6_VERBOSITY=1"]
    bare_img = images["s6py"]
    # rounds: each round measures every kind once, so that a slow spell of the machine
    # (podman's times drift by tens of ms) weighs on all of them alike
    starts = {k: [] for k in ["bare"] + list(images)}
    stopped = {k: [] for k in ["bare"] + list(images)}
    for _ in range(a.runs):
        starts["bare"].append(launch_to_cmd(bare_img, ["--entrypoint", "date"], ["+%s%N"]))
        for k, img in images.items():
            starts[k].append(launch_to_cmd(img, quiet, ["date", "+%s%N"]))
    for _ in range(a.runs):
        stopped["bare"].append(stop_time(bare_img, ["--entrypoint", "/bin/sh"],
                                         ["-c", "trap 'exit 0' TERM; sleep 1000 & wait"]))
        for k, img in images.items():
            stopped[k].append(stop_time(img, quiet, ["sleep", "100000"]))
    floor = statistics.median(starts.pop("bare"))
    bare_stop = statistics.median(stopped.pop("bare"))
    start = {k: statistics.median(v) for k, v in starts.items()}
    stops = {k: statistics.median(v) for k, v in stopped.items()}
    print("DAG of %d longruns and %d oneshots, podman + runc, medians of %d runs\n"
          % (LONGRUNS, LAYERS * PER_LAYER, a.runs))
    over = {k: v - floor for k, v in start.items()}

    def ratio(a, b):
        return "%.2f" % (a / b) if b else "-"

    print("s6py+pyc: the same image after `python3 -m compileall` of the overlay at build (the")
    print("tarball ships sources: a fresh container otherwise compiles what it imports)\n")
    print("| figure | bare container | real s6-overlay 3.2.3.2 | s6py | s6py+pyc | s6py / v3 | s6py+pyc / v3 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("| launch -> CMD start (ms) | %.0f | %.0f | %.0f | %.0f | %s | %s |"
          % (floor, start["v3"], start["s6py"], start["s6py+pyc"],
             ratio(start["s6py"], start["v3"]), ratio(start["s6py+pyc"], start["v3"])))
    print("| start overhead over the bare container (ms) | 0 | %.0f | %.0f | %.0f | %s | %s |"
          % (over["v3"], over["s6py"], over["s6py+pyc"],
             ratio(over["s6py"], over["v3"]), ratio(over["s6py+pyc"], over["v3"])))
    print("| `podman stop`, up 2 s (ms) | %.0f | %.0f | %.0f | %.0f | %s | %s |"
          % (bare_stop, stops["v3"], stops["s6py"], stops["s6py+pyc"],
             ratio(stops["s6py"], stops["v3"]), ratio(stops["s6py+pyc"], stops["v3"])))
    print("| stop over the bare container (ms) | 0 | %.0f | %.0f | %.0f | | |"
          % (stops["v3"] - bare_stop, stops["s6py"] - bare_stop, stops["s6py+pyc"] - bare_stop))


if __name__ == "__main__":
    main()
