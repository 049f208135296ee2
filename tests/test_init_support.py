"""A private "container" for /init tests: a root tree, a tmpfs /run, /init as PID 1.

    box = Box()                               # /tmp/s6py-init-XXXX/root, world-readable
    box.script("etc/cont-init.d/00-a", "echo hi\\n")
    box.service("web", "exec sleep 1000\\n")
    r = box.run(["sh", "-c", "exit 3"])       # -> Result(code=3, out, err)
    with box.start([]) as c: ...; c.signal(); c.wait()

/init finds the tree through S6PY_ROOT (settings.Paths), so nothing is chroot'ed and the host's
/run, /etc, /var are never touched: the root's run/ gets a tmpfs inside the namespace.
Our commands are on PATH through a directory of symlinks to bin/s6py (world-readable, so
the non-root tests can use it too).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from pid1 import Pid1, available, wait_for  # noqa: F401  (re-exported)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))
LAUNCHER = os.path.join(REPO, "bin", "s6py")

from s6py.cli import COMMANDS  # noqa: E402


UNSHARE_ARGV = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--mount", "--propagation", "private", "--"]


class Result:
    def __init__(self, code, out, err):
        self.code = code
        self.out = out.decode("utf-8", "replace") if out is not None else ""
        self.err = err.decode("utf-8", "replace") if err is not None else ""

    def __repr__(self):
        return "Result(code=%r, out=%r, err=%r)" % (self.code, self.out, self.err)


class Box:
    def __init__(self, var_run="link"):
        self.dir = tempfile.mkdtemp(prefix="s6py-init-")
        os.chmod(self.dir, 0o755)
        self.root = os.path.join(self.dir, "root")
        for d in ("run", "etc/fix-attrs.d", "etc/cont-init.d", "etc/cont-finish.d",
                  "etc/services.d", "var", "data"):
            os.makedirs(os.path.join(self.root, d))
        if var_run == "link":
            os.symlink("../run", os.path.join(self.root, "var/run"))
        elif var_run == "dir":
            os.makedirs(os.path.join(self.root, "var/run"))
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.bin)
        for name in COMMANDS:
            os.symlink(LAUNCHER, os.path.join(self.bin, name))
        self.init = os.path.join(self.bin, "init")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def cpath(self, rel):
        """RELative container path as seen from inside (the root prefix included)."""
        return os.path.join(self.root, rel.lstrip("/"))

    def file(self, rel, text, mode=0o644):
        path = self.path(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def script(self, rel, body, mode=0o755, shebang="#!/bin/sh\n"):
        return self.file(rel, shebang + body, mode)

    def service(self, name, run, finish=None, files=None, log=None, profile=None):
        base = "etc/services.d/%s" % name if profile is None else \
            "etc/cont-profile.d/%s/services.d/%s" % (profile, name)
        self.script(base + "/run", run)
        if finish is not None:
            self.script(base + "/finish", finish)
        for filename, content in (files or {}).items():
            self.file(base + "/" + filename, content)
        if log is not None:
            self.script(base + "/log/run", log)

    def environ(self, env=None):
        e = {"PATH": self.bin + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
             "S6PY_ROOT": self.root, "HOME": "/root", "S6_KILL_GRACETIME": "2000",
             "S6_SERVICES_GRACETIME": "2000"}
        e.update(env or {})
        return {k: v for k, v in e.items() if v is not None}

    def command(self, cmd=(), env=None, run_opts="mode=0755", run_mount=True, user=None,
                ro_root=False, extra_fds=False, pre=()):
        """(argv, env) of the wrapper that becomes PID 1 (mounts, then exec /init CMD...)."""
        lines = ["set -e", "sys=/usr/sbin:/usr/bin:/sbin:/bin"]
        if ro_root:
            lines += ['PATH=$sys mount --bind "$R" "$R"', 'PATH=$sys mount -o remount,ro,bind "$R"']
        if run_mount:
            lines.append('PATH=$sys mount -t tmpfs -o "%s" tmpfs "$R/run"' % run_opts)
        if extra_fds:
            lines.append("exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null 8</dev/null 9</dev/null")
        lines += list(pre)
        prefix = ""
        if user is not None:
            prefix = "/usr/bin/setpriv --reuid=%d --regid=%d --clear-groups " % user
        lines.append('exec %s"$INIT" "$@"' % prefix)
        env = self.environ(env)
        env["R"] = self.root
        env["INIT"] = self.init
        return ["/bin/sh", "-c", "\n".join(lines), "sh"] + list(cmd), env

    def start(self, cmd=(), env=None, stdin=subprocess.DEVNULL, cwd=None, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE, **kw):
        argv, env = self.command(cmd, env, **kw)
        return Pid1(argv, env=env, cwd=cwd or self.root, stdin=stdin, stdout=stdout, stderr=stderr)

    def run(self, cmd=(), timeout=15, **kw):
        with self.start(cmd, **kw) as c:
            try:
                code = c.wait(timeout)
            except subprocess.TimeoutExpired:
                c.stop()
                raise AssertionError("/init did not exit within %s s: %r" % (timeout, c.output))
            out, err = c.output
            return Result(code, out, err)


def box_fixture():
    import pytest

    @pytest.fixture
    def box():
        if not available():
            pytest.skip("needs root and unshare")
        b = Box()
        yield b
        b.cleanup()
    return box


def inside(c, path):
    """PATH (a host path under the box) as seen inside C's mount namespace (its tmpfs /run)."""
    return "/proc/%d/root%s" % (c.pid, path)


def nsexec(c, argv, env=None, pid=False):
    """Run ARGV inside C's mount namespace (and pid namespace: then it dies with the
    container, as `docker exec` would); return the code."""
    ns = ["--mount", "--pid"] if pid else ["--mount"]
    return subprocess.call(["nsenter"] + ns + ["--target", str(c.pid), "--"] + list(argv), env=env)


def wait_file(path, timeout=5.0):
    return wait_for(lambda: os.path.exists(path), timeout)


def read(path):
    with open(path) as f:
        return f.read()


def test_box_runs_a_trivial_cmd():
    if not available():
        import pytest
        pytest.skip("needs root and unshare")
    b = Box()
    try:
        r = b.run(["true"])
        assert r.code == 0, r
    finally:
        b.cleanup()
