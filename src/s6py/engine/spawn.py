"""Start a child process with exact fd and signal hygiene, and learn whether exec worked.

`spawn()` forks; the child, before exec:
  * resets every signal we catch or ignore to SIG_DFL and empties the signal mask
    (a caught signal reverts by itself at exec, an ignored one would not; Python ignores
    SIGPIPE and SIGXFSZ, and an init may have inherited more);
  * detaches the signal wake-up fd so a signal arriving before exec cannot write into the
    parent's pipe;
  * starts a new session (or only a new process group);
  * installs exactly the fds asked for (0, 1, 2 and e.g. a notification fd) and closes
    every other one: Python opens fds CLOEXEC already, but an embedding program (or our
    own parent) may hold inheritable ones, and a supervisor must not leak them;
  * optionally takes a blocking POSIX lock on a file at a given fd (s6's `lock-fd`).
If exec (or any of these steps) fails, the child writes errno and the failing step into a
CLOEXEC pipe and exits 127; the parent reads that pipe until EOF (EOF = exec succeeded)
and raises SpawnError, so the caller can print one clear line.
"""

import errno as _errno
import os
import signal
import struct

__all__ = ["spawn", "SpawnError", "sanitize_inherited_fds", "describe_exec_error"]

_REPORT = struct.Struct("=iB")
_STEPS = ("exec", "chdir", "set up fds", "setsid", "lock")


class SpawnError(OSError):
    """The child could not be started; .errno, .step and .path say why."""

    def __init__(self, err, step, path, cwd=None):
        super().__init__(err, os.strerror(err), path)
        self.step = step
        self.path = path
        self.cwd = cwd

    def describe(self):
        if self.step == "exec":
            return describe_exec_error(self.path, self.errno, self.cwd)
        return "unable to %s for %s: %s" % (self.step, self.path, os.strerror(self.errno))


def describe_exec_error(path, err, cwd=None):
    """One human line for a failed exec of PATH (relative to CWD), naming the usual causes."""
    where = os.path.join(cwd, path) if cwd else path
    if err == _errno.ENOENT:
        if os.path.lexists(where):
            return "unable to exec %s: bad interpreter (its #! line names a missing program)" % path
        return "unable to exec %s: No such file or directory" % path
    if err == _errno.EACCES:
        try:
            import stat

            mode = os.stat(where).st_mode
            if not stat.S_ISREG(mode):
                return "unable to exec %s: not a regular file" % path
        except OSError:
            pass
        return "unable to exec %s: Permission denied (not executable?)" % path
    if err == _errno.ENOEXEC:
        return "unable to exec %s: Exec format error (no #! line?)" % path
    return "unable to exec %s: %s" % (path, os.strerror(err))


def sanitize_inherited_fds(keep=(0, 1, 2)):
    """Mark every open fd not in KEEP close-on-exec, so no child inherits what we did."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        fd = int(name)
        if fd in keep:
            continue
        try:
            os.set_inheritable(fd, False)
        except OSError:
            pass


def _child_signals():
    signal.set_wakeup_fd(-1)
    for signum in range(1, signal.NSIG):
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(signum) not in (signal.SIG_DFL, None):
                signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _close_others(keep):
    """Close every fd not in KEEP (close_range(2) when the kernel has it: one syscall)."""
    try:
        top = os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        top = 65536
    low = 0
    for fd in sorted(keep):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, max(top, low))


def _child_fds(fds):
    """Install FDS ({target: source}) in the child; sources may collide with targets."""
    moved = {}
    top = max(list(fds) + [2]) + 1
    for target, source in fds.items():
        if source != target and source in fds:
            moved[target] = os.dup(source)  # dup() picks the lowest free fd: may clash
            while moved[target] < top:
                moved[target] = os.dup(moved[target])
        else:
            moved[target] = source
    for target, source in moved.items():
        if source == target:
            os.set_inheritable(target, True)
        else:
            os.dup2(source, target, inheritable=True)


def spawn(argv, *, path=None, cwd=None, env=None, stdin=None, stdout=None, stderr=None,
          fds=None, session="setsid", lock=None):
    """Fork and exec ARGV; return the child's pid, or raise SpawnError.

    path     program to exec (default argv[0]), relative to CWD when it has no slash-free
             form issues: "./run" with cwd=servicedir does what s6 does.
    cwd      directory to run in (default: ours).
    env      environment mapping (default: os.environ).
    stdin, stdout, stderr
             fds to install as 0/1/2 (None: keep ours).
    fds      extra {target_fd: source_fd} to install (e.g. {3: notify_write_end}).
    session  "setsid" (new session), "pgrp" (new process group only) or None.
    lock     (fd, path): open PATH for writing at FD and wait for a POSIX lock on it.
    """
    program = path or argv[0]
    wanted = dict(fds or {})
    for target, source in ((0, stdin), (1, stdout), (2, stderr)):
        if source is not None:
            wanted[target] = source
    environ = os.environ if env is None else env
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except BaseException:
        os.close(err_r)
        os.close(err_w)
        raise
    if pid == 0:  # child: never return from here
        step = 0
        try:
            os.close(err_r)
            _child_signals()
            step = 3
            if session == "setsid":
                os.setsid()
            elif session == "pgrp":
                os.setpgid(0, 0)
            step = 1
            if cwd is not None:
                os.chdir(cwd)
            step = 2
            _child_fds(wanted)
            _close_others(set(wanted) | {0, 1, 2, err_w})
            if lock is not None:
                step = 4
                import fcntl

                lock_fd, lock_path = lock
                fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o644)
                if fd != lock_fd:
                    os.dup2(fd, lock_fd, inheritable=True)
                    os.close(fd)
                fcntl.lockf(lock_fd, fcntl.LOCK_EX)
            step = 0
            os.execve(program, argv, environ)
        except OSError as e:
            code = e.errno or _errno.EIO
        except BaseException:
            code = _errno.EIO
        try:
            os.write(err_w, _REPORT.pack(code, step))
        finally:
            os._exit(127)
    os.close(err_w)
    try:
        data = b""
        while True:
            try:
                chunk = os.read(err_r, _REPORT.size)
            except InterruptedError:
                continue
            if not chunk:
                break
            data += chunk
    finally:
        os.close(err_r)
    if len(data) >= _REPORT.size:
        code, step = _REPORT.unpack(data[:_REPORT.size])
        _wait_quietly(pid)
        raise SpawnError(code, _STEPS[step], program if step == 0 else (cwd or program), cwd)
    return pid


def _wait_quietly(pid):
    """Reap a child that failed before exec (it has exited or is about to)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
