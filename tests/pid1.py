"""Run a command as PID 1 of a private PID namespace (`unshare --pid --fork --mount-proc`).

    with Pid1(["/path/to/s6-svscan", scandir]) as init:
        ...                       # drive it from outside with real tools
        init.signal(signal.SIGTERM)
        assert init.wait(10) == 0

`unshare --pid --fork --mount-proc` makes the command PID 1 of a fresh namespace: orphans
are re-parented to it, and signals from outside reach it only when it handles them (as
in a container).  `tmpfs=[dir, ...]` also mounts a private tmpfs on each dir inside the
namespace (invisible from outside, e.g. for /run).  Needs root (tests skip otherwise).
"""

import os
import shutil
import signal
import subprocess
import time

__all__ = ["Pid1", "available"]

UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"


def available():
    return os.geteuid() == 0 and os.access(UNSHARE, os.X_OK)


class Pid1:
    """A command running as PID 1 of its own PID (and mount) namespace."""

    def __init__(self, argv, tmpfs=(), cwd=None, env=None, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, stdin=subprocess.DEVNULL):
        outer = [UNSHARE, "--pid", "--fork", "--mount-proc", "--mount", "--propagation", "private", "--"]
        if tmpfs:
            script = 'for d in $MOUNTS; do mount -t tmpfs tmpfs "$d" || exit 111; done; exec "$@"'
            env = dict(os.environ if env is None else env, MOUNTS=" ".join(tmpfs))
            outer += ["/bin/sh", "-c", script, "pid1"]
        self.argv = list(argv)
        self.process = subprocess.Popen(outer + self.argv, cwd=cwd, env=env, stdin=stdin,
                                        stdout=stdout, stderr=stderr, start_new_session=True)
        self.pid = self._find_inner_pid()
        self._output = None

    def _find_inner_pid(self, timeout=5.0):
        """The host-side pid of the namespace's PID 1: the child of `unshare`."""
        deadline = time.monotonic() + timeout
        path = "/proc/%d/task/%d/children" % (self.process.pid, self.process.pid)
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    kids = f.read().split()
            except OSError:
                kids = []
            if kids:
                return int(kids[0])
            if self.process.poll() is not None:
                return None
            time.sleep(0.005)
        return None

    def host_pid(self, ns_pid):
        """Translate a pid seen inside the namespace (e.g. from supervise/status) into the
        host's pid, so /proc/PID can be read from outside; None if no such process."""
        try:
            ns = os.readlink("/proc/%d/ns/pid" % self.pid)
        except OSError:
            return None
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/ns/pid" % name) != ns:
                    continue
                with open("/proc/%s/status" % name) as f:
                    for line in f:
                        if line.startswith("NSpid:"):
                            if int(line.split()[-1]) == ns_pid:
                                return int(name)
                            break
            except OSError:
                continue
        return None

    def signal(self, signum=signal.SIGTERM):
        if self.pid is not None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def wait(self, timeout=10):
        """Wait for PID 1 to leave; return its exit code (negative: killed by a signal)."""
        out, err = self.process.communicate(timeout=timeout)
        self._output = (out, err)
        return self.process.returncode

    @property
    def output(self):
        """(stdout, stderr) bytes once wait() returned."""
        return self._output

    def stop(self):
        """Kill the whole namespace (killing its PID 1 kills every process in it)."""
        if self.process.poll() is None:
            self.signal(signal.SIGKILL)
            try:
                self.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ----------------------------------------------------------- service trees for tests

def write_script(path, body, mode=0o755):
    """Write an executable /bin/sh script (BODY without the #! line)."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, mode)


def make_service(scandir, name, run="exec sleep 100000\n", finish=None, files=None, log=None):
    """Create SCANDIR/NAME with a run script (and finish, extra FILES, a log/ service)."""
    path = os.path.join(str(scandir), name)
    os.makedirs(path, exist_ok=True)
    if run is not None:
        write_script(os.path.join(path, "run"), run)
    if finish is not None:
        write_script(os.path.join(path, "finish"), finish)
    for filename, content in (files or {}).items():
        with open(os.path.join(path, filename), "w") as f:
            f.write(content)
    if log is not None:
        make_service(path, "log", run=log)
    return path


def wait_for(predicate, timeout=5.0, interval=0.01):
    """Poll PREDICATE until it returns a true value; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in %.1f s" % timeout)
        time.sleep(interval)
