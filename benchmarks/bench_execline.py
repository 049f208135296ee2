#!/usr/bin/env python3
"""execline side by side: Debian's execline 2.9.3 (C, one binary per command) and ours
(one Python process interpreting the chain), in one run.

Scripts (executable files with an execlineb shebang, as s6-overlay runs them):
  run        five chained commands, then an exec (`fdmove export importas cd umask true`)
  cont-init  a `foreground`-heavy cont-init.d script: ten foreground blocks (if/eltest,
             redirfd, backtick, importas, externals), then exit
  -Pc true   execlineb alone
plus the bare interpreter start `/usr/bin/python3 -IS -c pass`.

Wall time: hyperfine -N (mean and median of many runs; --export-json), or our own median
of --runs runs when hyperfine is absent.  Interpreter starts: `strace -f -e trace=execve`
over one run, counting successful execve()s of our launcher (ours) or of
/usr/lib/execline/bin/* (theirs); "execs" is every successful execve of the run.

    python3 benchmarks/bench_execline.py [--runs N] [--json FILE]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "bin", "s6py")
REAL_BIN = "/usr/lib/execline/bin"
PYTHON = "/usr/bin/python3"

RUN = """\
fdmove -c 2 1
export SERVICE demo
importas -u S SERVICE
cd /
umask 022
true
"""

CONT_INIT = """\
foreground { mkdir -p {D}/state }
foreground { if { eltest -d {D}/state } true }
foreground { redirfd -w 1 /dev/null echo hello }
foreground { backtick -n X { echo value } importas -u X X true }
foreground { importas -D none H HOME true }
foreground { if -n { eltest -e {D}/nosuch } true }
foreground { redirfd -a 1 {D}/state/log echo line }
foreground { define A b export A $A true }
foreground { fdmove -c 3 1 true }
foreground { true }
exit 0
"""


def our_bindir(d):
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from s6py.cli import EXECLINE
    os.makedirs(d)
    for name in EXECLINE:
        os.symlink(LAUNCHER, os.path.join(d, name))
    return d


def write_script(path, shebang, body):
    with open(path, "w") as f:
        f.write("#!%s -P\n%s" % (shebang, body))
    os.chmod(path, 0o755)


def time_commands(cmds, env, runs):
    """{name: (mean ms, median ms)} for each (name, argv)."""
    out = {}
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as js:
            argv = ["hyperfine", "-N", "-w", "10", "-r", str(runs), "--export-json", js.name, "--style", "none"]
            for _, a in cmds:
                argv.append(" ".join(a))
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            data = json.load(open(js.name))
        for (name, _), r in zip(cmds, data["results"]):
            out[name] = (r["mean"] * 1000, r["median"] * 1000)
        return out
    for name, a in cmds:
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(a, env=env, stdout=subprocess.DEVNULL, check=True)
            ts.append((time.perf_counter() - t) * 1000)
        out[name] = (statistics.mean(ts), statistics.median(ts))
    return out


def _starts_interp(path, interp_paths, depth=0):
    """Does exec'ing PATH start one of INTERP_PATHS (directly, or through #! lines)?"""
    real = os.path.realpath(path)
    if any(real == p or real.startswith(p + "/") for p in interp_paths):
        return True
    if depth > 3:
        return False
    try:
        with open(real, "rb") as f:
            head = f.readline(256)
    except OSError:
        return False
    if not head.startswith(b"#!"):
        return False
    interp = head[2:].split()
    return bool(interp) and _starts_interp(os.fsdecode(interp[0]), interp_paths, depth + 1)


def count_execs(argv, env, interp_paths, tmp):
    """(interpreter starts, all execs) of one run of ARGV under strace -f."""
    if not shutil.which("strace"):
        return None, None
    log = os.path.join(tmp, "strace.log")
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", log] + argv, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    starts = total = 0
    with open(log) as f:
        for line in f:
            if "execve(" not in line or not line.rstrip().endswith("= 0"):
                continue
            total += 1
            path = line.split('execve("', 1)[1].split('"', 1)[0]
            if _starts_interp(os.path.join(tmp, path) if not path.startswith("/") else path, interp_paths):
                starts += 1
    return starts, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--json")
    opts = ap.parse_args()
    if not os.access(os.path.join(REAL_BIN, "execlineb"), os.X_OK):
        sys.exit("Debian's execline is not installed (apt-get install execline)")
    tmp = tempfile.mkdtemp(prefix="bench-execline-")
    try:
        ours = our_bindir(os.path.join(tmp, "ourbin"))
        scripts = {}
        for who, shebang in (("theirs", os.path.join(REAL_BIN, "execlineb")),
                             ("ours", os.path.join(ours, "execlineb"))):
            d = os.path.join(tmp, who)
            os.makedirs(d)
            for name, body in (("run", RUN), ("cont-init", CONT_INIT)):
                p = os.path.join(d, name)
                write_script(p, shebang, body.replace("{D}", d))
                scripts[who, name] = p
        env_t = {"PATH": "%s:/usr/bin:/bin" % REAL_BIN, "HOME": "/root"}
        env_o = {"PATH": "%s:/usr/bin:/bin" % ours, "HOME": "/root"}
        rows = [
            ("run", [scripts["theirs", "run"]], [scripts["ours", "run"]]),
            ("cont-init", [scripts["theirs", "cont-init"]], [scripts["ours", "cont-init"]]),
            ("execlineb -Pc true", [os.path.join(REAL_BIN, "execlineb"), "-Pc", "true"],
             [os.path.join(ours, "execlineb"), "-Pc", "true"]),
        ]
        bare = time_commands([("bare", [PYTHON, "-IS", "-c", "pass"])], env_o, opts.runs)["bare"]
        results = {"bare_python_ms": {"mean": bare[0], "median": bare[1]}, "rows": []}
        print("bare interpreter start (%s -IS -c pass): mean %.2f ms, median %.2f ms\n"
              % (PYTHON, bare[0], bare[1]))
        hdr = "%-20s %12s %12s %7s %12s %14s %14s" % ("script", "execline ms", "s6py ms", "ratio",
                                                     "s6py - bare", "interp starts", "execs t/o")
        print(hdr)
        print("-" * len(hdr))
        ours_paths = [os.path.realpath(LAUNCHER), os.path.realpath(PYTHON)]
        for name, t_argv, o_argv in rows:
            t = time_commands([("t", t_argv)], env_t, opts.runs)["t"]
            o = time_commands([("o", o_argv)], env_o, opts.runs)["o"]
            ts, tt = count_execs(t_argv, env_t, [REAL_BIN], tmp)
            os_, ot = count_execs(o_argv, env_o, ours_paths, tmp)
            print("%-20s %12.2f %12.2f %7.2f %+12.2f %6s / %-6s %6s / %-6s"
                  % (name, t[1], o[1], o[1] / t[1], o[1] - bare[1], ts, os_, tt, ot))
            results["rows"].append({"script": name, "execline_median_ms": t[1], "execline_mean_ms": t[0],
                                    "s6py_median_ms": o[1], "s6py_mean_ms": o[0],
                                    "execline_binaries_exec": ts, "s6py_interpreter_starts": os_,
                                    "execline_execs": tt, "s6py_execs": ot})
        print("\n(times are medians; 'interp starts': execline binaries exec'd (theirs) / "
              "Python interpreter starts (ours); 'execs t/o': every execve, theirs / ours)")
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
