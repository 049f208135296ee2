"""Start-up of the short-lived helpers against the bare interpreter, in one run.

    python3 benchmarks/bench_helpers.py [--runs 40]

The overlay is built with its bytecode (`build-overlay --bytecode`) and extracted in a
temporary directory; each helper is run through its /command link (the launcher's sh part
finds python3, as in an image) with a container environment to read (S6PY_ROOT), and
timed from outside, wall clock from start to reaping.  Every round runs, in turn, the
bare interpreter (`python3 -I -S -c pass`), each helper's quick path (s6py.quick) and the
same helper with S6PY_QUICK=0 (the full command), so a drift of the machine's speed
touches all alike; the table gives medians and the ratios to the bare interpreter's
median.  Debian's C tools (s6-echo, s6-setuidgid, execlineb of the s6/execline
packages) are timed too when installed.  The issue's target: at most 1.2x the bare
interpreter.
"""

import argparse
import os
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYTHON = "/usr/bin/python3"
CASES = (("s6-echo hi", ["s6-echo", "hi"]),
         ("execlineb -Pc true", ["execlineb", "-Pc", "true"]),
         ("with-contenv true", ["with-contenv", "true"]),
         ("s6-setuidgid nobody true", ["s6-setuidgid", "nobody", "true"]))
C_TOOLS = {"s6-echo": "/usr/bin/s6-echo", "execlineb": "/usr/bin/execlineb",
           "s6-setuidgid": "/usr/bin/s6-setuidgid"}


def build(tmp):
    tarball = os.path.join(tmp, "overlay.tar.gz")
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "src"))
    subprocess.run([PYTHON, "-m", "s6py", "build-overlay", "--bytecode", "--output", tarball],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    subprocess.run(["tar", "-xzf", tarball, "-C", root], check=True)
    contenv = os.path.join(root, "run", "s6", "container_environment")
    os.makedirs(contenv)
    for name, value in (("HOME", "/root"), ("TZ", "UTC"), ("PUID", "1000"), ("PGID", "1000")):
        with open(os.path.join(contenv, name), "w") as f:
            f.write(value)
    return root


def once(argv, env):
    start = time.perf_counter()
    r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise RuntimeError("%s exited %d" % (" ".join(argv), r.returncode))
    return elapsed


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="s6py-bench-helpers-") as tmp:
        root = build(tmp)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "S6PY_ROOT": root}
        full_env = dict(env, S6PY_QUICK="0")
        rows = [("bare", [PYTHON, "-I", "-S", "-c", "pass"], env)]
        for label, argv in CASES:
            command = [os.path.join(root, "command", argv[0])] + argv[1:]
            rows.append((label + " (quick)", command, env))
            rows.append((label + " (full, S6PY_QUICK=0)", command, full_env))
            if os.path.exists(C_TOOLS.get(argv[0], "")):
                rows.append((label + " (Debian's C tool)", [C_TOOLS[argv[0]]] + argv[1:], env))
        times = {label: [] for label, _, _ in rows}
        for _ in range(args.runs + 2):  # the first two rounds warm the caches, not counted
            for label, argv, run_env in rows:
                times[label].append(once(argv, run_env))
        bare = median(times["bare"][2:])
        version = subprocess.run([PYTHON, "-c", "import sys; print(sys.version.split()[0])"],
                                 stdout=subprocess.PIPE, text=True).stdout.strip()
        print("%d rounds, medians; `%s -I -S -c pass` (Python %s) = %.2f ms\n"
              % (args.runs, PYTHON, version, bare * 1000))
        print("| command | wall | / bare interpreter |")
        print("|---|---:|---:|")
        for label, _, _ in rows:
            value = median(times[label][2:])
            print("| %s | %.2f ms | %.2f |" % (label, value * 1000, value / bare))


if __name__ == "__main__":
    main()
