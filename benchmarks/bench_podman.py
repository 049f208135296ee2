#!/usr/bin/env python3
"""Real-container benchmarks, one run, side by side (python3 benchmarks/bench_podman.py [--runs N]).

Uses the e2e images (tests/e2e_support.py: Debian bookworm + python3-minimal + the overlay
tarball of the current sources, podman + runc; the first run builds the root filesystem):

  * `podman run --rm IMG true` with no init (`--entrypoint true`) against `IMG /init true`;
  * launch -> CMD start with 0, 10 and 50 services (`exec sleep`) in /etc/services.d: the
    host's clock before `podman run`, the CMD's `date +%s%N` (same clock) when it starts;
  * `podman stop` of a container up for 2 s: no init (PID 1 is `sh` trapping TERM) against
    /init with one service that obeys TERM.
The plain tar install compiles the package's bytecode in every fresh container (the tarball
carries sources only); a second row shows an image that ran `python3 -m compileall` at build.
Medians of N runs.  Targets: `/init true` <= bare + 40 ms; `podman stop` <= bare + 30 ms.
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
from e2e_support import Container, image, podman, unavailable  # noqa: E402


def timed(*args):
    t0 = time.monotonic()
    r = podman(*args)
    took = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError("podman %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return took, r.stdout.decode()


def services_dir(n):
    d = tempfile.mkdtemp(prefix="s6py-bench-")
    os.chmod(d, 0o755)
    for i in range(n):
        sd = os.path.join(d, "svc%02d" % i)
        os.makedirs(sd)
        with open(os.path.join(sd, "run"), "w") as f:
            f.write("#!/bin/sh\nexec sleep 1000\n")
        os.chmod(os.path.join(sd, "run"), 0o755)
    return d


def launch_to_cmd(img, opts, cmd):
    t0 = time.time_ns()
    _, out = timed("run", "--rm", *opts, img, *cmd)
    return (int(out.strip()) - t0) / 1e6


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    why = unavailable()
    if why:
        sys.exit("bench_podman: " + why)
    img = image("bookworm")
    precompiled = image("bookworm", extra_run="python3 -m compileall -q /package/admin/s6py/lib")
    rows = []

    bare = [timed("run", "--rm", "--entrypoint", "true", img)[0] for _ in range(a.runs)]
    init = [timed("run", "--rm", img, "true")[0] for _ in range(a.runs)]
    comp = [timed("run", "--rm", precompiled, "true")[0] for _ in range(a.runs)]
    rows.append(("`podman run --rm IMG true` (no init) / `IMG /init true`",
                 "%.0f ms" % (median(bare) * 1000), "%.0f ms" % (median(init) * 1000),
                 "+%.0f ms" % ((median(init) - median(bare)) * 1000)))
    rows.append(("same, image with the overlay's bytecode compiled at build (`compileall`)",
                 "%.0f ms" % (median(bare) * 1000), "%.0f ms" % (median(comp) * 1000),
                 "+%.0f ms" % ((median(comp) - median(bare)) * 1000)))

    base = [launch_to_cmd(img, ["--entrypoint", "date"], ["+%s%N"]) for _ in range(a.runs)]
    for n in (0, 10, 50):
        d = services_dir(n)
        opts = ["-v", "%s:/etc/services.d:ro" % d, "--entrypoint", "/init"]
        xs = [launch_to_cmd(img, opts + ["-e", "S6_VERBOSITY=1"], ["date", "+%s%N"]) for _ in range(a.runs)]
        shutil.rmtree(d)
        rows.append(("launch -> CMD start, %d services" % n, "%.0f ms" % median(base),
                     "%.0f ms" % median(xs), "+%.0f ms" % (median(xs) - median(base))))

    d = services_dir(1)
    stops_bare, stops_init = [], []
    for _ in range(a.runs):
        with Container(img, "-c", "trap 'exit 0' TERM; sleep 1000 & wait",
                       opts=["--entrypoint", "/bin/sh"]) as c:
            time.sleep(2)
            stops_bare.append(c.stop())
        with Container(img, opts=["-v", "%s:/etc/services.d:ro" % d]) as c:
            time.sleep(2)
            stops_init.append(c.stop())
    shutil.rmtree(d)
    rows.append(("`podman stop`, 1 service obeying TERM, up 2 s",
                 "%.0f ms" % (median(stops_bare) * 1000), "%.0f ms" % (median(stops_init) * 1000),
                 "+%.0f ms" % ((median(stops_init) - median(stops_bare)) * 1000)))

    print("podman %s + runc, image %s, medians of %d runs\n" % (
        podman("version", "-f", "{{.Client.Version}}").stdout.decode().strip(), img, a.runs))
    print("| figure | no init | s6py /init | difference |")
    print("|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
