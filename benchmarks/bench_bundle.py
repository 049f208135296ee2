#!/usr/bin/env python3
"""The self-contained tarball (build-overlay --bundle), one run, side by side:

    sudo python3 benchmarks/bench_bundle.py [--runs N] [--no-podman]

  * sizes: the bundle as .tar.gz and .tar.xz, the noarch tarball, and the real s6-overlay
    3.2.3.2 (its two .tar.xz, and the same content as .tar.gz) from the oracles directory;
  * helper start-up (`with-contenv s6-true`, `s6-echo x`, `s6-svok`), each a fresh process
    chroot'ed into a tree: the bundle's static interpreter in a tree holding only the
    bundle, against the noarch tarball run by Debian's dynamically linked python3 (the e2e
    bookworm tree, python3-minimal), and, where Debian's s6 package has the command
    (s6-svok), against the real one on the host.  `with-contenv` is timed twice: with a
    container environment in the tree (/run/s6/container_environment, as /init leaves it:
    the case of every script in a booted container), and without one (it warns and runs
    the full command);
  * memory (--memory 1,10,50): whole-tree PSS of /init's interpreters with N services each
    with a logutil-service logger, the bundle's tree against Debian's python3 + the noarch
    tarball (same /init, forked loggers in both);
  * in podman (unless --no-podman): `podman run --rm` of the busybox image with no init
    (`--entrypoint true`) against the same image plus the bundle running `/init true`.
Medians of N runs.  Targets (issue 14): bundle <= 3.5 MB as .tar.gz; `/init true` in a
busybox image <= bare + 40 ms; each helper at least as fast as with Debian's python3.
"""

import argparse
import gzip
import lzma
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "src"))
import e2e_support  # noqa: E402
from s6py.build import overlay  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import bench_memory  # noqa: E402  (its process-tree walk)
from bench_supervisor import pss_kb  # noqa: E402

ORACLES = os.path.join(os.path.dirname(REPO), "shared", "oracles")
CHROOT = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")


def extract(tarball, into):
    with tarfile.open(tarball) as tar:
        tar.extractall(into)


def _one_run(argv, env, expect):
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - t0
    if r.returncode != expect:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.decode(errors="replace")))
    return elapsed


def timed_runs(argv, runs, env, expect=0):
    """The median ms of RUNS runs of ARGV."""
    return statistics.median(_one_run(argv, env, expect) for _ in range(runs)) * 1000


def paired_runs(argv_a, argv_b, runs, env, expect=0):
    """The medians (ms) of RUNS runs of A and of B, run in turn (A B A B ...): a drift of
    the machine's speed during the measure hits both alike."""
    a, b = [], []
    for _ in range(runs):
        a.append(_one_run(argv_a, env, expect))
        b.append(_one_run(argv_b, env, expect))
    return statistics.median(a) * 1000, statistics.median(b) * 1000


def sizes(tmp):
    gz, xz = os.path.join(tmp, "bundle.tar.gz"), os.path.join(tmp, "bundle.tar.xz")
    noarch = os.path.join(tmp, "noarch.tar.gz")
    overlay.build(gz, bundle=True)
    overlay.build(xz, bundle=True)
    overlay.build(noarch)
    rows = [("s6py bundle .tar.gz", os.path.getsize(gz)), ("s6py bundle .tar.xz", os.path.getsize(xz)),
            ("s6py noarch .tar.gz (needs python3)", os.path.getsize(noarch))]
    v3 = [os.path.join(ORACLES, n) for n in ("s6-overlay-v3.2.3.2-noarch.tar.xz",
                                             "s6-overlay-v3.2.3.2-x86_64.tar.xz")]
    if all(os.path.exists(p) for p in v3):
        rows.append(("s6-overlay 3.2.3.2 .tar.xz (noarch + x86_64)", sum(os.path.getsize(p) for p in v3)))
        raw = b"".join(lzma.decompress(open(p, "rb").read()) for p in v3)
        rows.append(("s6-overlay 3.2.3.2 as .tar.gz (same content)", len(gzip.compress(raw, 9))))
    return gz, noarch, rows


def helper_rows(bundle_gz, noarch_gz, runs, tmp):
    env = {"PATH": "/command:/usr/bin:/bin"}
    alone = os.path.join(tmp, "alone")
    os.makedirs(alone)
    extract(bundle_gz, alone)
    debian = os.path.join(tmp, "debian")
    subprocess.run(["cp", "-a", e2e_support.rootfs("bookworm"), debian], check=True)
    extract(noarch_gz, debian)
    with_env = {}
    for tree in (alone, debian):  # a copy of each tree, with /init's container environment
        with_env[tree] = tree + "-contenv"
        subprocess.run(["cp", "-a", tree, with_env[tree]], check=True)
        contenv = os.path.join(with_env[tree], "run", "s6", "container_environment")
        os.makedirs(contenv)
        for name, value in (("PATH", "/command:/usr/bin:/bin"), ("HOME", "/root"), ("TZ", "Etc/UTC")):
            with open(os.path.join(contenv, name), "w") as f:
                f.write(value)
    rows = []
    real_svok = shutil.which("s6-svok", path="/usr/bin:/bin")
    for name, argv, expect, real, contenv in (
            ("with-contenv s6-true (container environment)", ["/command/with-contenv", "/command/s6-true"],
             0, None, True),
            ("with-contenv s6-true (none: warning, full command)", ["/command/with-contenv", "/command/s6-true"],
             0, None, False),
            ("s6-echo x", ["/command/s6-echo", "x"], 0, None, False),
            ("s6-svok /tmp (not a service: exit 1)", ["/command/s6-svok", "/tmp"], 1, real_svok, False)):
        ours, deb = paired_runs([CHROOT, with_env[alone] if contenv else alone] + argv,
                                [CHROOT, with_env[debian] if contenv else debian] + argv, runs, env, expect)
        real_ms = timed_runs([CHROOT, "/", real, "/tmp"], runs, env, expect) if real else None
        rows.append((name, ours, deb, real_ms))
    base = timed_runs([CHROOT, "/", "/bin/true"], runs, env)
    return rows, base


def booted_tree_pss(root, n, settle=1.5):
    """MB of PSS of /init's interpreters (PID 1 and every forked logger) with N services,
    each with `logutil-service` as its log/run (execline: the bundle's tree has no sh),
    /init as PID 1 of a new PID namespace chroot'ed into ROOT.  The services' payload (a
    static busybox sleep) is left out, as in bench_memory."""
    os.makedirs(os.path.join(root, "var/log"), exist_ok=True)
    os.chmod(os.path.join(root, "var/log"), 0o1777)
    busybox = shutil.which("busybox", path="/usr/bin:/bin")
    os.makedirs(os.path.join(root, "usr/local/bin"), exist_ok=True)
    shutil.copy(busybox, os.path.join(root, "usr/local/bin/busybox"))
    for f, text in (("etc/passwd", "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
                    ("etc/group", "root:x:0:\nnogroup:x:65534:\n")):
        if not os.path.exists(os.path.join(root, f)):
            with open(os.path.join(root, f), "w") as fh:
                fh.write(text)
    for i in range(n):
        d = os.path.join(root, "etc/services.d/s%d" % i)
        os.makedirs(os.path.join(d, "log"))
        for rel, text in (("run", "#!/command/execlineb -P\nforeground { s6-echo up }\n"
                                  "/usr/local/bin/busybox sleep 100000\n"),
                          ("log/run", "#!/command/execlineb -P\nlogutil-service /var/log/s%d\n" % i)):
            with open(os.path.join(d, rel), "w") as fh:
                fh.write(text)
            os.chmod(os.path.join(d, rel), 0o755)
    for d in ("proc", "run", "dev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    script = ('mount -t tmpfs tmpfs "$1/run" && mount --rbind /dev "$1/dev" && '
              'exec chroot "$1" /init')
    p = subprocess.Popen(["unshare", "--pid", "--fork", "--mount", "--propagation", "private",
                          "--mount-proc=%s/proc" % root, "sh", "-c", script, "sh", root],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60 + n
        logs = [os.path.join(root, "var/log/s%d/current" % i) for i in range(n)]
        while time.monotonic() < deadline:
            if all(os.path.exists(f) and os.path.getsize(f) for f in logs):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the tree in %s did not come up" % root)
        time.sleep(settle)
        pid1 = bench_memory.children(p.pid)[0]
        procs = bench_memory.tree(pid1)
        ours = [pid for pid, exe in procs.items() if exe == procs[pid1]]
        return sum(pss_kb(pid) for pid in ours) / 1024.0, len(ours)
    finally:
        for child in bench_memory.children(p.pid):
            os.kill(child, 15)
        p.wait(60)


def memory_rows(bundle_gz, noarch_gz, sizes, tmp):
    rows = []
    for n in sizes:
        alone = os.path.join(tmp, "mem-alone-%d" % n)
        os.makedirs(alone)
        extract(bundle_gz, alone)
        debian = os.path.join(tmp, "mem-debian-%d" % n)
        subprocess.run(["cp", "-a", e2e_support.rootfs("bookworm"), debian], check=True)
        extract(noarch_gz, debian)
        rows.append((n, booted_tree_pss(alone, n), booted_tree_pss(debian, n)))
    return rows


def podman_rows(runs):
    why = e2e_support.unavailable()
    if why or not hasattr(e2e_support, "bundle_image"):
        return None, why or "no bundle images in tests/e2e_support.py"
    base = e2e_support.base_image("busybox")
    img = e2e_support.bundle_image("busybox")

    def run(*args):
        t0 = time.perf_counter()
        r = e2e_support.podman("run", "--rm", *args, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.decode(errors="replace"))
        return time.perf_counter() - t0
    bare, init = [], []
    for _ in range(runs):  # interleaved, so that a noisy moment hits both
        bare.append(run("--entrypoint", "true", base))
        init.append(run(img, "true"))
    return (statistics.median(bare) * 1000, statistics.median(init) * 1000), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--memory", default="1,10,50", help="sizes of the memory rows ('' for none)")
    opts = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="s6py-bench-bundle-")
    try:
        gz, noarch, size_rows = sizes(tmp)
        print("| tarball | bytes | MB |\n|---|---:|---:|")
        for name, n in size_rows:
            print("| %s | %d | %.2f |" % (name, n, n / 1e6))
        rows, base = helper_rows(gz, noarch, opts.runs, tmp)
        print("\nhelper start-up, median of %d, chroot included (chroot + /bin/true: %.1f ms)" % (opts.runs, base))
        print("| helper | bundle (static) ms | Debian python3 ms | bundle / Debian python3 | real s6 (C) ms | bundle / real |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, ours, deb, real_ms in rows:
            print("| %s | %.1f | %.1f | %.2f | %s | %s |" % (
                name, ours, deb, ours / deb, "%.1f" % real_ms if real_ms else "",
                "%.1f" % (ours / real_ms) if real_ms else ""))
        mem = memory_rows(gz, noarch, [int(x) for x in opts.memory.split(",") if x], tmp)
        if mem:
            print("\nwhole-tree PSS of /init's interpreters, N services each with a logutil-service logger")
            print("| N | bundle (static, musl) MB | processes | Debian python3 + noarch MB | processes | ratio |")
            print("|---:|---:|---:|---:|---:|---:|")
            for n, (ours, count), (deb, dcount) in mem:
                print("| %d | %.1f | %d | %.1f | %d | %.2f |" % (n, ours, count, deb, dcount, ours / deb))
        if not opts.no_podman:
            got, why = podman_rows(max(5, opts.runs // 3))
            if got is None:
                print("\npodman rows skipped: %s" % why)
            else:
                bare, init = got
                print("\n| busybox image, podman run --rm | ms |\n|---|---:|")
                print("| no init (--entrypoint true) | %.0f |\n| bundle /init true | %.0f |" % (bare, init))
                print("| /init's cost | %+.0f (target <= +40) |" % (init - bare))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
