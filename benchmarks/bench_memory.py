"""Whole-tree memory of s6py's /init: PID 1 plus every supervisor and logger it runs.

    sudo python3 benchmarks/bench_memory.py [--sizes 1,10,50,200] [--settle 1.5]
    sudo python3 benchmarks/bench_memory.py --podman [--sizes ...] [--settle 1.5] [--calls 50] [--rounds 5]

For each size N, /init runs as PID 1 of a private PID and mount namespace (the Box of
tests/test_init_support.py, like the /init tests) with N services.d services (`exec sleep`)
and, in the logged rows, a `log/run` of `exec logutil-service /var/log/sI` each, under
S6PY_FORKED_LOGGERS=0 (every logger a new interpreter: what s6py did first), under
S6PY_LOG_HOSTS=0 (each recognised logger a child forked from PID 1) and by default (the
recognised loggers of one identity in one log host forked from PID 1).  Once every service is up (and every
logger has written its first line) it sums the PSS (/proc/PID/smaps_rollup) of PID 1 and
of each of its descendants running the Python interpreter: the supervision tree.  The
services' own payload (`sleep`, the CMD) is left out, as in issue 13's table.  PSS splits
a shared page between the processes that map it, so the sum is the tree's real share of
memory, shared pages counted once.

Needs root (unshare).

--podman compares, in one run and in real containers (podman + runc, the Debian bookworm
root filesystem of tests/e2e_support.py), s6py with Debian's python3 (the noarch tarball),
s6py's self-contained tarball (its own python3; the column is left out, with a note, when
it cannot be built) and the real s6-overlay 3.2.3.2 and 2.2.0.3 (../shared/oracles, the
images of tests/corpus_support.py).  It prints three things:

  * the same rows (N services, without and with a `logutil-service` logger each): the PSS
    of every process in the container descending from its PID 1 but the payload (`sleep`),
    read on the host once N + 1 `sleep` run and every log's `current` is non-empty, with
    the process count; a cell whose container logged EMFILE (in glibc's or musl's words)
    under the default `--ulimit nofile=1024:1024` is measured again with 4096:4096, marked;
  * the bare interpreter (`python3 -I -S`, in the s6py image) against s6py's PID 1 alone
    with 10 services and no loggers (the target: at most 1.3x);
  * helper start-up: `with-contenv true`, `s6-setuidgid nobody true`, `execlineb -Pc
    true`, `s6-echo hi` and the bare interpreter: the median of --rounds means per call,
    each of a loop of --calls in one `podman exec`, with the ratio to the bare interpreter.
Our images are tagged localhost/s6py-benchmem-*; see benchmarks/memory_podman.py.
"""

import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from test_init_support import Box, available  # noqa: E402

sys.path.insert(0, HERE)
from bench_supervisor import pss_kb  # noqa: E402  (one reader of smaps_rollup for the benchmarks)


def children(pid):
    out = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for task in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def tree(root):
    """{pid: exe} of ROOT and all its descendants."""
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        try:
            found[pid] = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            continue
        todo.extend(children(pid))
    return found


def supervision_tree(root):
    """The pids of ROOT's tree that run the same program as ROOT (our interpreter)."""
    procs = tree(root)
    exe = procs.get(root)
    return [pid for pid, program in procs.items() if program == exe]


#: the modes compared, and the environment that selects each
MODES = (("exec'd", {"S6PY_FORKED_LOGGERS": "0"}), ("forked", {"S6PY_LOG_HOSTS": "0"}),
         ("hosted", {}))


def measure(n, logged, env, settle):
    box = Box()
    try:
        logs = os.path.join(box.root, "var", "log")
        os.makedirs(logs)
        os.chmod(logs, 0o1777)
        logdirs = []
        for i in range(n):
            logdir = os.path.join(logs, "s%d" % i)
            logdirs.append(logdir)
            box.service("s%d" % i, "echo up\nexec sleep 100000\n",
                        log=("exec logutil-service %s\n" % logdir) if logged else None)
        with box.start(["sleep", "100000"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL) as c:
            deadline = time.monotonic() + 60 + n
            while time.monotonic() < deadline:
                sleeps = sum(1 for exe in tree(c.pid).values() if exe.endswith("/sleep"))
                ready = all(os.path.exists(os.path.join(d, "current")) and
                            os.path.getsize(os.path.join(d, "current")) for d in logdirs) \
                    if logged else True
                if sleeps >= n + 1 and ready:
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError("N=%d: the tree did not come up" % n)
            time.sleep(settle)
            pids = supervision_tree(c.pid)
            total = sum(pss_kb(pid) for pid in pids)
            first_logger = sorted(p for p in pids if p != c.pid)[:1]
            per_logger = pss_kb(first_logger[0]) if first_logger else 0
            c.signal(signal.SIGTERM)
            c.wait(60)
        return total / 1024.0, len(pids), per_logger / 1024.0
    finally:
        box.cleanup()


def bare_interpreter_pss():
    p = subprocess.Popen(["/usr/bin/python3", "-I", "-S", "-c",
                          "import time; time.sleep(5)"])
    time.sleep(1.0)
    value = pss_kb(p.pid) / 1024.0
    p.kill()
    p.wait()
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50,200")
    parser.add_argument("--settle", type=float, default=1.5)
    parser.add_argument("--podman", action="store_true",
                        help="s6py against the real s6-overlay v3 and v2 in podman containers")
    parser.add_argument("--calls", type=int, default=50,
                        help="--podman: calls per helper and round in the start-up table")
    parser.add_argument("--rounds", type=int, default=5,
                        help="--podman: rounds of the start-up table (their median is shown)")
    args = parser.parse_args()
    if args.podman:
        import memory_podman
        memory_podman.run([int(x) for x in args.sizes.split(",")], args.settle, args.calls,
                           args.rounds)
        return
    if not available():
        sys.exit("needs root and unshare")
    sizes = [int(x) for x in args.sizes.split(",")]
    print("bare interpreter (python3 -I -S): %.1f MB PSS" % bare_interpreter_pss())
    print("| services | loggers | exec'd loggers (S6PY_FORKED_LOGGERS=0) | forked loggers"
          " (S6PY_LOG_HOSTS=0) | log host (default) | processes (default) |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in sizes:
        for logged in (False, True):
            figures = [measure(n, logged, env, args.settle) for _, env in MODES]
            print("| %d | %s | %s | %d |" % (
                n, "logutil-service each" if logged else "none",
                " | ".join("%.1f MB" % total for total, _, _ in figures), figures[-1][1]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
