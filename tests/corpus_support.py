"""The corpus of images written for s6-overlay v1/v2 (tests/corpus/NAME), run in real containers.

    fixtures()                    -> sorted fixture names
    load(name)                    -> the fixture's fixture.json as a dict
    flavours_available()          -> {"s6py": None, "v2": None or why not, "v3": ...}
    flavour_base(flavour)         -> the image a fixture is built on (our overlay, real v2, real v3)
    fixture_image(flavour, name)  -> localhost/s6py-corpus:FLAVOUR-NAME (build steps, COPY rootfs/ /)
    run_fixture(flavour, name)    -> Result: booted, services up, probe, stop exit code and time, log

A fixture models one public image: `rootfs/` is COPY'd to `/` after the overlay is installed
and after the fixture's "build" commands (the image's own RUN steps: `useradd`, `mv` of a
helper...), so file modes are the ones of the fixture's git tree, as `COPY root/ /` gives
them in the real image.  Flavours:

    s6py  e2e_support.image("bookworm"): the bookworm root filesystem with our tarball extracted
    v2    the same root filesystem with the real s6-overlay 2.2.0.3 (two-step extraction that
          keeps /bin -> usr/bin on a usr-merged Debian)
    v3    the same with the real s6-overlay 3.2.3.2 (both tarballs) plus /usr/bin/NAME ->
          ../../command/NAME for every /command entry, as the "symlinks" tarballs give

The real tarballs live in ../shared/oracles beside the checkout; without them v2/v3 are
unavailable (tests skip).  Their base images are tagged with a hash of the root filesystem's
recipe, the tarballs and this recipe, and built under a file lock, like e2e_support's.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import e2e_support
from e2e_support import REPO, podman

CORPUS = os.path.join(REPO, "tests", "corpus")
LAYERS = os.path.join(CORPUS, "_layers")
ORACLES = os.path.join(REPO, "..", "shared", "oracles")
V2_TARBALL = "s6-overlay-v2.2.0.3-amd64.tar.gz"
V3_TARBALLS = ("s6-overlay-v3.2.3.2-noarch.tar.xz", "s6-overlay-v3.2.3.2-x86_64.tar.xz")
FLAVOURS = ("s6py", "v2", "v3")
ROOTFS = "bookworm"
SERVICES_DIR = "/var/run/s6/services"
# Bump when the way oracle images are made changes (it is part of their tag).
ORACLE_RECIPE = "corpus-oracle-1"

UP_TIMEOUT = 15.0       # seconds for every listed service to be up
PROBE_TIMEOUT = 5.0     # seconds for the stand-in application to answer once they are


def fixtures():
    return sorted(d for d in os.listdir(CORPUS)
                  if os.path.isfile(os.path.join(CORPUS, d, "fixture.json")))


def load(name):
    with open(os.path.join(CORPUS, name, "fixture.json"), encoding="utf-8") as f:
        spec = json.load(f)
    for key, default in (("layers", []), ("build", []), ("env", {}), ("cmd", []), ("opts", []),
                         ("services", []), ("probe", []), ("expect_stdout_in_logs", [])):
        spec.setdefault(key, default)
    return spec


def _tarballs(flavour):
    names = {"v2": (V2_TARBALL,), "v3": V3_TARBALLS}[flavour]
    return [os.path.join(ORACLES, n) for n in names]


def flavours_available():
    """{flavour: None when it can run here, else the reason it cannot}."""
    out = {}
    reason = e2e_support.unavailable()
    for flavour in FLAVOURS:
        why = reason
        if why is None and flavour != "s6py":
            missing = [p for p in _tarballs(flavour) if not os.path.isfile(p)]
            if missing:
                why = "the real s6-overlay tarball %s is not in %s" % (
                    os.path.basename(missing[0]), os.path.normpath(ORACLES))
        out[flavour] = why
    return out


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _install_v2(tree):
    tarball = _tarballs("v2")[0]
    # s6-overlay 2's README for usr-merged roots: everything but ./bin at /, ./bin into /usr.
    e2e_support._run(["tar", "-C", tree, "-xzpf", tarball, "--exclude=./bin"])
    e2e_support._run(["tar", "-C", os.path.join(tree, "usr"), "-xzpf", tarball, "./bin"])


def _install_v3(tree):
    for tarball in _tarballs("v3"):
        e2e_support._run(["tar", "-C", tree, "-Jxpf", tarball])
    usr_bin = os.path.join(tree, "usr", "bin")
    for name in sorted(os.listdir(os.path.join(tree, "command"))):
        link = os.path.join(usr_bin, name)
        if not os.path.lexists(link):
            os.symlink("../../command/" + name, link)


def flavour_base(flavour):
    """The image fixtures of FLAVOUR are built on (ENTRYPOINT /init)."""
    if flavour == "s6py":
        return e2e_support.image(ROOTFS)
    why = flavours_available()[flavour]
    if why:
        raise RuntimeError(why)
    tarballs = _tarballs(flavour)
    key = "\0".join([ORACLE_RECIPE, flavour, e2e_support._recipe_id(ROOTFS)]
                    + [_sha256(t) for t in tarballs])
    tag = "localhost/s6py-corpus-base:%s-%s" % (flavour, hashlib.sha256(key.encode()).hexdigest()[:12])
    with e2e_support._Lock("corpus-" + flavour):
        if podman("image", "exists", tag).returncode == 0:
            return tag
        src = e2e_support.rootfs(ROOTFS)
        work = tempfile.mkdtemp(prefix="s6py-corpus-%s-" % flavour, dir=e2e_support.CACHE)
        tree = os.path.join(work, "root")
        try:
            e2e_support._run(["cp", "-a", src, tree])
            stamp = os.path.join(tree, ".s6py-recipe")
            if os.path.exists(stamp):
                os.unlink(stamp)
            (_install_v2 if flavour == "v2" else _install_v3)(tree)
            tar = subprocess.Popen(["tar", "-C", tree, "-c", "."], stdout=subprocess.PIPE)
            r = subprocess.run(e2e_support.PODMAN + ["import", "-q", "--change", 'ENTRYPOINT ["/init"]',
                                                     "-", tag],
                               stdin=tar.stdout, capture_output=True, timeout=600)
            tar.stdout.close()
            tar.wait()
            if r.returncode != 0 or tar.returncode != 0:
                raise RuntimeError("podman import failed: %s" % r.stderr.decode(errors="replace"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tag


_images = {}

CONTAINERFILE = """FROM {base}
{build}COPY rootfs/ /
"""


def fixture_image(flavour, name):
    """localhost/s6py-corpus:FLAVOUR-NAME, built once per process."""
    key = (flavour, name)
    if key in _images:
        return _images[key]
    spec = load(name)
    base = flavour_base(flavour)
    tag = "localhost/s6py-corpus:%s-%s" % (flavour, name.lower())
    ctx = tempfile.mkdtemp(prefix="s6py-corpus-ctx-")
    try:
        # cp -a keeps the modes of the checkout (0644 scripts stay 0644, as in the real images).
        # Layers first (tests/corpus/_layers/NAME/rootfs: what several images' common base
        # ships, e.g. Home Assistant's bashio), then the fixture's own tree over them.
        tree = os.path.join(ctx, "rootfs")
        os.makedirs(tree)
        for source in [os.path.join(LAYERS, layer) for layer in spec["layers"]] + [os.path.join(CORPUS, name)]:
            e2e_support._run(["cp", "-a", os.path.join(source, "rootfs") + "/.", tree])
        build = ""
        if spec["build"]:
            build = "RUN " + " && \\\n    ".join(spec["build"]) + "\n"
        with open(os.path.join(ctx, "Containerfile"), "w") as f:
            f.write(CONTAINERFILE.format(base=base, build=build))
        r = podman("build", "-q", "-t", tag, ctx, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("podman build of %s on %s failed:\n%s"
                               % (name, flavour, (r.stdout + r.stderr).decode(errors="replace")[-3000:]))
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    _images[key] = tag
    return tag


class Result:
    """What one run of a fixture under one flavour showed."""

    def __init__(self, flavour, name):
        self.flavour = flavour
        self.name = name
        self.booted = False            # the container was still running once services were waited for
        self.services = {}             # name -> up (s6-svstat -u said true)
        self.probe_ok = False
        self.probe_output = ""
        self.up_after = None           # seconds from `podman run -d` to every service up
        self.stop_exit = None          # the container's exit code after `podman stop -t 10`
        self.stop_time = None          # wall time of `podman stop`, seconds
        self.logs = ""
        self.missing_logs = []         # expect_stdout_in_logs strings not in the log
        self.error = None              # a step that could not run at all

    @property
    def services_up(self):
        return all(self.services.values())

    @property
    def traceback(self):
        return "Traceback" in self.logs

    @property
    def fatal(self):
        return "fatal" in self.logs

    def first_errors(self, n=3):
        """The first log lines that look like errors, for a report."""
        keys = ("Traceback", "fatal", "rror", "unable", "not found", "denied", "unbound",
                "No such", "failed", "exited 1", "exited 2", "exited 12")
        lines = [ln for ln in self.logs.splitlines() if any(k in ln for k in keys)]
        return lines[:n]

    def ok(self, max_stop=5.0):
        return (self.error is None and self.booted and self.services_up and self.probe_ok
                and self.stop_exit == 0 and self.stop_time is not None and self.stop_time <= max_stop
                and not self.traceback and not self.missing_logs)

    def summary(self):
        up = ",".join("%s=%s" % (k, "up" if v else "DOWN") for k, v in self.services.items())
        return ("%s/%s: booted=%s services[%s] probe=%s stop_exit=%s stop=%.1fs traceback=%s "
                "missing_logs=%s error=%s" % (
                    self.flavour, self.name, self.booted, up, self.probe_ok, self.stop_exit,
                    self.stop_time if self.stop_time is not None else -1, self.traceback,
                    self.missing_logs, self.error))


_STATUS_SCRIPT = 'for s; do printf "%s " "$s"; s6-svstat -u "{dir}/$s" 2>&1 || echo; done'.format(
    dir=SERVICES_DIR)


def _services_state(cid, names):
    r = podman("exec", cid, "sh", "-c", _STATUS_SCRIPT, "sh", *names, timeout=30)
    state = {n: False for n in names}
    for line in r.stdout.decode(errors="replace").splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] in state:
            state[parts[0]] = parts[1].strip() == "true"
    return state


def _running(cid):
    r = podman("inspect", "-f", "{{.State.Running}}", cid, timeout=30)
    return r.stdout.decode().strip() == "true"


def _logs(cid):
    lg = subprocess.run(e2e_support.PODMAN + ["logs", cid], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, timeout=60)
    return lg.stdout.decode(errors="replace")


def _settle_logs(cid, expected, quiet=1.0, limit=10.0):
    """Before the stop: wait until the log holds every EXPECTED line, or has not grown
    for QUIET seconds (the rest come at the stop), at most LIMIT seconds.  A probe can
    succeed before a service has printed what it prints right after (a loaded machine)."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        text = _logs(cid)
        if all(line in text for line in expected):
            return
        if len(text) != size:
            size, since = len(text), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def run_fixture(flavour, name):
    """Boot fixture NAME under FLAVOUR, wait for its services, probe it, stop it: a Result."""
    spec = load(name)
    res = Result(flavour, name)
    try:
        img = fixture_image(flavour, name)
    except Exception as e:                                      # noqa: BLE001 (reported)
        res.error = "build: %s" % e
        return res
    opts = []
    for k, v in sorted(spec["env"].items()):
        opts += ["-e", "%s=%s" % (k, v)]
    opts += spec["opts"]
    t0 = time.monotonic()
    r = podman("run", "-d", *opts, img, *spec["cmd"], timeout=120)
    if r.returncode != 0:
        res.error = "podman run: %s" % r.stderr.decode(errors="replace").strip()
        return res
    cid = r.stdout.decode().strip()
    try:
        names = spec["services"]
        deadline = t0 + UP_TIMEOUT
        state = {n: False for n in names}
        while True:
            if not _running(cid):
                break
            if names:
                state = _services_state(cid, names)
                if all(state.values()):
                    res.up_after = time.monotonic() - t0
                    break
            elif time.monotonic() - t0 > 2:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        res.services = state
        res.booted = _running(cid)
        if res.booted and spec["probe"]:
            probe_deadline = time.monotonic() + PROBE_TIMEOUT
            while True:
                p = podman("exec", cid, *spec["probe"], timeout=30)
                res.probe_output = (p.stdout + p.stderr).decode(errors="replace").strip()
                if p.returncode == 0:
                    res.probe_ok = True
                    break
                if time.monotonic() > probe_deadline or not _running(cid):
                    break
                time.sleep(0.3)
        elif res.booted:
            res.probe_ok = True
        if res.booted:
            _settle_logs(cid, spec["expect_stdout_in_logs"])
        t1 = time.monotonic()
        podman("stop", "-t", "10", cid, timeout=90)
        res.stop_time = time.monotonic() - t1
        code = podman("inspect", "-f", "{{.State.ExitCode}}", cid, timeout=30).stdout.decode().strip()
        res.stop_exit = int(code) if code.lstrip("-").isdigit() else None
        # one pipe for both streams keeps the lines in the order the container wrote them
        lg = subprocess.run(e2e_support.PODMAN + ["logs", cid], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=60)
        res.logs = lg.stdout.decode(errors="replace")
        res.missing_logs = [s for s in spec["expect_stdout_in_logs"] if s not in res.logs]
    finally:
        podman("rm", "-f", "-t", "0", cid, timeout=60)
    return res
