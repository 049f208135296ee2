"""Real containers for the end-to-end tests: root filesystems, images, podman + runc.

    unavailable()              -> None, or why podman cannot run containers here at all
    image("bookworm")          -> "localhost/s6py-e2e:bookworm": the rootfs + our tarball,
                                  extracted by `tar xzf ... -C /` in a RUN step, ENTRYPOINT /init
    podman("run", "--rm", ...) -> CompletedProcess (runc, cgroupfs and ulimits always given)
    Container(img, args)       -> a detached container: .exec() .top() .logs() .stop() .wait()
    bundle_image("scratch")    -> "localhost/s6py-e2e-bundle:scratch": the base + the self-contained
                                  tarball (its own Python) by `ADD ... /`, ENTRYPOINT /init

Root filesystems are built once with debootstrap into .cache/rootfs/NAME (git-ignored) and
reused by later runs: NAME is a recipe below; a changed recipe rebuilds its tree.  Base images
(`podman import` of a tree) are tagged with the recipe's hash and reused too; the image with
the overlay is rebuilt once per test session from the current sources (a second or two).
Every builder takes a file lock, so parallel test processes build each thing once.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))
CACHE = os.environ.get("S6PY_E2E_CACHE") or os.path.join(REPO, ".cache", "rootfs")

PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
SBIN = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

DEBIAN = "--variant=minbase --include=python3-minimal,procps"
# name -> (how it is made, argument).  Change a recipe and its tree and image are rebuilt.
RECIPES = {
    "bookworm": ("debootstrap", "bookworm " + DEBIAN),
    "bullseye": ("debootstrap", "bullseye " + DEBIAN),
    "trixie": ("debootstrap", "trixie " + DEBIAN),
    "nginx": ("apt", "bookworm nginx"),
    "busybox": ("busybox", "busybox-static"),
    # what an Alpine base looks like to a program: busybox and musl's loader, no Python
    "musl": ("musl", "busybox /usr/lib/x86_64-linux-musl/libc.so"),
    # debian:bookworm-slim: minbase and nothing more (no python3)
    "bookworm-slim": ("debootstrap", "bookworm --variant=minbase"),
    # FROM scratch: nothing at all (the image is the tarball and what the test copies in)
    "scratch": ("scratch", ""),
}


def _tool(name):
    return shutil.which(name, path=SBIN)


def podman(*args, timeout=120, check=False, input=None, **kw):
    """Run `podman ARGS` (with runc and cgroupfs); ulimits are added to run/create/build."""
    args = list(args)
    if args and args[0] in ("run", "create", "build"):
        args[1:1] = ULIMITS
    return subprocess.run(PODMAN + args, capture_output=True, timeout=timeout, check=check,
                          input=input, **kw)


_unavailable = []


def unavailable():
    """None when podman can run a container here, else the reason it cannot."""
    if _unavailable:
        return _unavailable[0]
    reason = None
    if _tool("podman") is None:
        reason = "podman is not installed (./run-tests installs it on Debian)"
    elif _tool("runc") is None:
        reason = "runc is not installed (./run-tests installs it on Debian)"
    elif os.geteuid() != 0:
        reason = "the e2e tests run rootful podman: run them as root"
    else:
        try:
            r = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60)
            if r.returncode != 0:
                reason = "podman info failed: " + r.stderr.decode(errors="replace").strip()[-300:]
        except (OSError, subprocess.TimeoutExpired) as e:
            reason = "podman does not work here: %s" % e
    _unavailable.append(reason)
    return reason


class _Lock:
    def __init__(self, name):
        os.makedirs(CACHE, exist_ok=True)
        self.path = os.path.join(CACHE, "." + name + ".lock")

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def _recipe_id(name):
    kind, arg = RECIPES[name]
    parts = [kind, arg]
    if kind == "apt":
        parts.append(_recipe_id(arg.split()[0]))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _mirror():
    """The host's Debian mirror (testing.md §3), else deb.debian.org."""
    try:
        with open("/etc/apt/sources.list.d/debian.sources") as f:
            for line in f:
                if line.startswith("URIs:"):
                    uri = line.split()[1]
                    if "security" not in uri:
                        return uri
    except OSError:
        pass
    return "http://deb.debian.org/debian"


def _run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(argv), r.returncode,
                                                    (r.stdout + r.stderr).decode(errors="replace")[-3000:]))
    return r


def _trim(tree):
    """Drop what no test needs (documentation, manuals, apt lists): smaller, faster imports."""
    for rel in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
                "var/lib/apt/lists", "var/cache/apt"):
        p = os.path.join(tree, rel)
        if os.path.isdir(p):
            shutil.rmtree(p)
            os.makedirs(p)


def _build_tree(name, tmp):
    kind, arg = RECIPES[name]
    if kind == "debootstrap":
        suite, *opts = arg.split()
        _run([_tool("debootstrap")] + opts + [suite, tmp, _mirror()], timeout=900)
    elif kind == "apt":
        base, *packages = arg.split()
        _run(["cp", "-a", rootfs(base), tmp])
        os.makedirs(os.path.join(tmp, "etc/apt/sources.list.d"), exist_ok=True)
        for src in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
            if os.path.exists(src):
                shutil.copy(src, tmp + src)
        policy = os.path.join(tmp, "usr/sbin/policy-rc.d")
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
        env = {"PATH": SBIN, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
        chroot = _tool("chroot")
        _run([chroot, tmp, "apt-get", "update", "-qq"], env=env, timeout=600)
        _run([chroot, tmp, "apt-get", "install", "-y", "-qq", "--no-install-recommends"] + packages,
             env=env, timeout=900)
        os.unlink(policy)
    elif kind == "busybox":
        busybox = _tool("busybox")
        if busybox is None:
            raise RuntimeError("busybox is not installed (apt-get install busybox-static)")
        for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "run", "var"):
            os.makedirs(os.path.join(tmp, d))
        shutil.copy(busybox, os.path.join(tmp, "bin", "busybox"))
        applets = _run([busybox, "--list"]).stdout.decode().split()
        for a in applets:
            if a != "busybox":
                os.symlink("busybox", os.path.join(tmp, "bin", a))
        with open(os.path.join(tmp, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        with open(os.path.join(tmp, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
    elif kind == "musl":
        base, libc = arg.split()
        _run(["cp", "-a", rootfs(base), tmp])
        os.unlink(os.path.join(tmp, ".s6py-recipe"))
        _musl_loader(tmp, libc)
    elif kind == "scratch":
        os.makedirs(tmp)
    _trim(tmp)


#: where musl's dynamic loader lives on Alpine (x86_64); libc.musl-x86_64.so.1 is a link to it
MUSL_LOADER = "/lib/ld-musl-x86_64.so.1"


def _musl_loader(tree, libc):
    """Install the host's musl (libc.so is its loader too: one file) as Alpine has it."""
    if not os.path.isfile(libc):
        raise RuntimeError("%s is missing (apt-get install musl)" % libc)
    os.makedirs(os.path.join(tree, "lib"), exist_ok=True)
    shutil.copy(libc, tree + MUSL_LOADER)
    os.chmod(tree + MUSL_LOADER, 0o755)
    os.symlink(os.path.basename(MUSL_LOADER), os.path.join(tree, "lib", "libc.musl-x86_64.so.1"))


def rootfs(name):
    """Path of the root filesystem NAME, built (once, cached in CACHE) if needed."""
    path = os.path.join(CACHE, name)
    stamp = os.path.join(path, ".s6py-recipe")
    rid = _recipe_id(name)
    with _Lock("rootfs-" + name):
        try:
            with open(stamp) as f:
                if f.read().strip() == rid:
                    return path
        except OSError:
            pass
        tmp = path + ".tmp"
        for old in (tmp, path):
            if os.path.lexists(old):
                shutil.rmtree(old)
        _build_tree(name, tmp)
        with open(os.path.join(tmp, ".s6py-recipe"), "w") as f:
            f.write(rid + "\n")
        os.rename(tmp, path)
        return path


def base_image(name):
    """A podman image of the root filesystem NAME alone (no overlay), reused across runs."""
    tag = "localhost/s6py-e2e-base:%s-%s" % (name, _recipe_id(name))
    with _Lock("image-" + name):
        if podman("image", "exists", tag).returncode != 0:
            tree = rootfs(name)
            tar = subprocess.Popen(["tar", "-C", tree, "--exclude=./.s6py-recipe", "-c", "."],
                                   stdout=subprocess.PIPE)
            r = subprocess.run(PODMAN + ["import", "-q", "-", tag], stdin=tar.stdout,
                               capture_output=True, timeout=600)
            tar.stdout.close()
            tar.wait()
            if r.returncode != 0 or tar.returncode != 0:
                raise RuntimeError("podman import failed: %s" % r.stderr.decode(errors="replace"))
    return tag


_overlay = {}

#: S6PY_E2E_OVERLAY=bundle: every image gets the self-contained tarball (overlay_tarball)
BUNDLED = os.environ.get("S6PY_E2E_OVERLAY") == "bundle"


def pid1_comm():
    """PID 1's process name: the bundle's launcher is a binary named init; the noarch one
    is a script, which python3 runs."""
    return "init" if BUNDLED else "python3"


def pid1_command_line(cmd):
    """PID 1's command line for /init CMD, as `ps`/`podman top` show it."""
    if BUNDLED:
        from s6py import __version__

        return "/package/admin/s6py-%s/python/bin/python3 -IS /init %s" % (__version__, cmd)
    return "/package/admin/s6py/command/s6py init %s" % cmd


def overlay_tarball():
    """The tarball built from the current sources, once per session.

    S6PY_E2E_OVERLAY=bundle puts the self-contained one in its place, so that the whole e2e
    set runs with the bundled interpreter in the Debian images (docs/e2e.md)."""
    if BUNDLED:
        return bundle_tarball()
    if "tarball" not in _overlay:
        from s6py.build import overlay
        d = tempfile.mkdtemp(prefix="s6py-e2e-")
        path = os.path.join(d, "s6py-overlay.tar.gz")
        overlay.build(path)
        _overlay["tarball"] = path
    return _overlay["tarball"]


def bundle_tarball():
    """The self-contained tarball (`build-overlay --bundle`, its own Python) built from the
    current sources, once per session; the interpreter's build is cached outside the
    checkout (s6py.build.bundle), so after a machine's first build this takes seconds."""
    if "bundle" not in _overlay:
        from s6py.build import overlay
        d = tempfile.mkdtemp(prefix="s6py-e2e-bundle-")
        path = os.path.join(d, BUNDLE_NAME)
        overlay.build(path, bundle=True)
        _overlay["bundle"] = path
    return _overlay["bundle"]


def bundle_unavailable():
    """None when the self-contained tarball can be built here, else why not (a tool its
    CPython build needs is missing; a failing build is an error, not a reason to skip)."""
    from s6py.build import bundle
    try:
        bundle.check_tools()
    except bundle.BuildError as e:
        return str(e)
    return None


BUNDLE_NAME = "s6py-overlay-x86_64.tar.gz"

#: ADD, not COPY + RUN tar: the base may have no tar and no sh (busybox-less, FROM scratch)
BUNDLE_CONTAINERFILE = """FROM {base}
ADD {tarball} /
{copy}ENTRYPOINT ["/init"]
"""


def hash_tree(h, root):
    """Feed ROOT's paths, modes, link targets and file contents, in a fixed order, into the
    hash object H (an image built from a tree is reused while the tree is unchanged)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            h.update(("%s\0%o\0" % (os.path.relpath(p, root), st.st_mode)).encode())
            if os.path.islink(p):
                h.update(os.readlink(p).encode())
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    h.update(f.read())


def _tree_hash(tree):
    h = hashlib.sha256()
    hash_tree(h, tree)
    return h.hexdigest()[:8]


def _bundle_base(name):
    """The FROM of bundle_image(NAME): "scratch" is podman's own empty base (`FROM scratch`,
    as an image author writes it), any other recipe its imported tree."""
    return "scratch" if RECIPES[name][0] == "scratch" else base_image(name)


def bundle_image(name, files=None):
    """localhost/s6py-e2e-bundle:NAME: the base image NAME with the self-contained tarball
    ADDed at / (nothing in the image runs while it is built) and ENTRYPOINT /init.  FILES:
    a directory whose contents are COPYed to / too (a payload, service trees), modes kept."""
    key = ("bundle", name, files and _tree_hash(files))
    if key in _overlay:
        return _overlay[key]
    tag = "localhost/s6py-e2e-bundle:" + name + ("-" + key[2] if files else "")
    ctx = tempfile.mkdtemp(prefix="s6py-e2e-ctx-")
    shutil.copy(bundle_tarball(), os.path.join(ctx, BUNDLE_NAME))
    copy = ""
    if files:
        shutil.copytree(files, os.path.join(ctx, "root"), symlinks=True)
        copy = "COPY root/ /\n"
    _build(ctx, BUNDLE_CONTAINERFILE.format(base=_bundle_base(name), tarball=BUNDLE_NAME, copy=copy), tag)
    _overlay[key] = tag
    return tag


def _build(ctx, containerfile, tag):
    """`podman build` of CONTAINERFILE in the context directory CTX (removed after) as TAG."""
    with open(os.path.join(ctx, "Containerfile"), "w") as f:
        f.write(containerfile)
    r = podman("build", "-q", "-t", tag, ctx, timeout=600)
    shutil.rmtree(ctx, ignore_errors=True)
    if r.returncode != 0:
        raise RuntimeError("podman build failed:\n%s" % (r.stdout + r.stderr).decode(errors="replace"))


CONTAINERFILE = """FROM {base}
COPY s6py-overlay.tar.gz /tmp/
RUN tar xzf /tmp/s6py-overlay.tar.gz -C / && rm /tmp/s6py-overlay.tar.gz{extra}
ENTRYPOINT ["/init"]
"""


def image(name, extra_run=None):
    """localhost/s6py-e2e:NAME: the base image with the overlay extracted at / (README style)."""
    key = (name, extra_run)
    if key in _overlay:
        return _overlay[key]
    tag = "localhost/s6py-e2e:" + name
    if extra_run:
        tag += "-" + hashlib.sha256(extra_run.encode()).hexdigest()[:8]
    base = base_image(name)
    ctx = tempfile.mkdtemp(prefix="s6py-e2e-ctx-")
    shutil.copy(overlay_tarball(), os.path.join(ctx, "s6py-overlay.tar.gz"))
    extra = (" && \\\n    " + extra_run) if extra_run else ""
    _build(ctx, CONTAINERFILE.format(base=base, extra=extra), tag)
    _overlay[key] = tag
    return tag


def run(img, *args, opts=(), timeout=60, input=None):
    """`podman run --rm OPTS IMG ARGS` -> CompletedProcess (stdout, stderr as text)."""
    r = podman("run", "--rm", *opts, img, *args, timeout=timeout, input=input)
    r.stdout = r.stdout.decode(errors="replace")
    r.stderr = r.stderr.decode(errors="replace")
    return r


class Container:
    """A detached container; removed by .remove() (tests use it as a context manager)."""

    def __init__(self, img, *args, opts=()):
        r = podman("run", "-d", *opts, img, *args, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("podman run -d failed: %s" % r.stderr.decode(errors="replace"))
        self.id = r.stdout.decode().strip()
        self.started = time.monotonic()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def exec(self, *args, opts=(), timeout=30):
        r = podman("exec", *opts, self.id, *args, timeout=timeout)
        r.stdout = r.stdout.decode(errors="replace")
        r.stderr = r.stderr.decode(errors="replace")
        return r

    def top(self, *fields):
        return podman("top", self.id, *fields).stdout.decode(errors="replace")

    def logs(self):
        r = podman("logs", self.id)
        return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")

    def state(self, field="{{.State.Status}}"):
        return podman("inspect", "-f", field, self.id).stdout.decode().strip()

    def exit_code(self):
        return int(self.state("{{.State.ExitCode}}"))

    def wait(self, timeout=30):
        r = podman("wait", self.id, timeout=timeout)
        return int(r.stdout.decode().strip().splitlines()[-1])

    def stop(self, t=10):
        """`podman stop -t T`; returns its wall time in seconds."""
        t0 = time.monotonic()
        podman("stop", "-t", str(t), self.id, timeout=t + 60)
        return time.monotonic() - t0

    def wait_for(self, predicate, timeout=20, interval=0.05):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(interval)

    def remove(self):
        podman("rm", "-f", "-t", "0", self.id, timeout=60)


def fixture_tree(tmp_path, files):
    """Write {relative path: (text, mode)} under tmp_path; return tmp_path as str."""
    for rel, spec in files.items():
        text, mode = spec if isinstance(spec, tuple) else (spec, 0o755)
        p = os.path.join(str(tmp_path), rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
    os.chmod(str(tmp_path), 0o755)
    return str(tmp_path)
