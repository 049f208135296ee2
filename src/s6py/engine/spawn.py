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
When possible (no lock, setsid or no session change) this is done with os.posix_spawn,
which glibc implements with a vfork-like clone: no copy-on-write faults of a large Python
process, and exec errors come back as the call's error.  Otherwise:
If exec (or any of these steps) fails, the child writes errno and the failing step into a
CLOEXEC pipe and exits 127; the parent reads that pipe until EOF (EOF = exec succeeded)
and raises SpawnError, so the caller can print one clear line.
"""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import errno as _errno
import os

__all__ = ["spawn", "SpawnError", "sanitize_inherited_fds", "describe_exec_error"]

_REPORT_SIZE = 5  # a child that could not exec writes errno (4 bytes, little-endian), step
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


def _take_foreground(tty, pgid=None):
    """Make PGID (default: our own group) the foreground group of terminal TTY.

    SIGTTOU is blocked around the call: a process outside the foreground group that
    calls tcsetpgrp is sent SIGTTOU (stopped, by default) unless it blocks or ignores it.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTTOU])
    try:
        if pgid is not None:  # the parent's side of the race: the child may not be there yet
            try:
                os.setpgid(pgid, pgid)
            except OSError:
                pass  # already exec'd (EACCES) or gone: its own setpgid did it
        os.tcsetpgrp(tty, os.getpgrp() if pgid is None else pgid)
    except OSError:
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


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
          fds=None, session="setsid", lock=None, foreground_tty=None):
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
    foreground_tty
             a terminal fd (ours, our controlling terminal): the child gets a process
             group of its own (setpgid(0, 0), whatever SESSION says: a new session
             would lose the terminal) and makes it the terminal's foreground group
             before exec, with SIGTTOU blocked so that a background caller's child is
             not stopped doing it; we do the same after the fork, so whichever runs
             first, the child's group ends in the foreground.  A failing tcsetpgrp
             (not a terminal, not ours) is ignored, as the shell does.
    """
    program = path or argv[0]
    wanted = {}
    for target, source in ((0, stdin), (1, stdout), (2, stderr)):
        if source is not None:
            wanted[target] = source
    wanted.update(fds or {})  # e.g. notification-fd 1 replaces the log pipe, as in s6
    # os.environb: the str view would decode every variable at every spawn
    environ = (os.environb if os.supports_bytes_environ else os.environ) if env is None else env
    if foreground_tty is not None:
        session = "pgrp"
    if lock is None and foreground_tty is None and _posix_spawn_usable(session):
        return _spawn_fast(program, argv, cwd, environ, wanted, session)
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
            step = 3
            if session == "setsid":
                os.setsid()
            elif session == "pgrp":
                os.setpgid(0, 0)
            if foreground_tty is not None:
                _take_foreground(foreground_tty)
            _child_signals()  # after the tcsetpgrp: this empties the mask again
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
                err_w = _take_lock(fcntl, lock_fd, err_w)
            step = 0
            os.execve(program, argv, environ)
        except OSError as e:
            code = e.errno or _errno.EIO
        except BaseException:
            code = _errno.EIO
        try:
            if err_w is None:  # the parent stopped listening: say it ourselves
                os.write(2, ("s6py: fatal: unable to %s %s: %s\n"
                             % (_STEPS[step], program, os.strerror(code))).encode())
            else:
                os.write(err_w, code.to_bytes(4, "little", signed=True) + bytes((step,)))
        finally:
            os._exit(127)
    os.close(err_w)
    if foreground_tty is not None:
        _take_foreground(foreground_tty, pid)
    try:
        data = b""
        while True:
            try:
                chunk = os.read(err_r, _REPORT_SIZE)
            except InterruptedError:
                continue
            if not chunk:
                break
            data += chunk
    finally:
        os.close(err_r)
    if len(data) >= _REPORT_SIZE:
        code, step = int.from_bytes(data[:4], "little", signed=True), data[4]
        _wait_quietly(pid)
        raise SpawnError(code, _STEPS[step], program if step == 0 else (cwd or program), cwd)
    return pid


def _take_lock(fcntl, lock_fd, err_w):
    """In the child: take the POSIX lock at LOCK_FD; return the error pipe, or None if closed.

    The parent blocks on the error pipe until we exec, and the parent is PID 1: it must
    never wait for a lock another process may hold for ever.  So when the lock is busy the
    pipe is closed first (the parent sees a successful start and goes on), and only then
    do we wait; an exec failure after that is reported on our own stderr.
    """
    try:
        fcntl.lockf(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return err_w
    except OSError as e:
        if e.errno not in (_errno.EAGAIN, _errno.EACCES):
            raise
    os.close(err_w)
    fcntl.lockf(lock_fd, fcntl.LOCK_EX)
    return None


_CAN_POSIX_SPAWN = None
_DEFAULT_SIGNALS = None
_CLOSE_RANGE = None      # libc's close_range, False where the kernel or libc lacks it
_STRAYS_CHECKED = False  # without close_range: strays are made CLOEXEC once, at first use
CLOSE_RANGE_CLOEXEC = 4


def _posix_spawn_usable(session):
    """posix_spawn (vfork-fast, exec errors returned directly) covers setsid or nothing;
    a new process group alone, or a lock taken in the child, need the fork path."""
    global _CAN_POSIX_SPAWN, _DEFAULT_SIGNALS
    if _CAN_POSIX_SPAWN is None:
        _CAN_POSIX_SPAWN = hasattr(os, "posix_spawn") and sys_platform_is_linux()
        # every signal the C library lets us name (not its reserved 32 and 33, see below)
        _DEFAULT_SIGNALS = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
    return _CAN_POSIX_SPAWN and session in ("setsid", None)


def sys_platform_is_linux():
    import sys

    return sys.platform.startswith("linux")


def _spawn_fast(program, argv, cwd, environ, wanted, session):
    """posix_spawn with the same hygiene as the fork path.

    * cwd: posix_spawn has no chdir action, so we fchdir there and back around it (we are
      single-threaded; the relative program path, like "./run", is resolved there too);
    * signals: every disposition reset to default (setsigdef), empty mask;
    * fds: dup2 actions for the wanted ones.  A source that is itself a target number is
      first duplicated, so no action clobbers another's source.  Every other fd must be
      close-on-exec.  Python creates every fd CLOEXEC, but we may have inherited
      inheritable ones, and an embedder may make one inheritable at any time (os.dup2
      does by default).  So before each spawn every fd >= 3 is marked close-on-exec with
      one close_range(3, ~0, CLOSE_RANGE_CLOEXEC) (Linux 5.11, glibc 2.34; through
      ctypes, about a microsecond).  Without it, the strays are marked once, at the
      first spawn, from one /proc listing (a listing per spawn would cost a syscall per
      open fd, thousands with hundreds of services); an fd made inheritable later would
      then leak, on those old systems only.
    * glibc cannot put its internal signals 32 and 33 in setsigdef; posix_spawn leaves
      them ignored in the child (no glibc program notices: glibc reinstalls its handlers).
    """
    sources = {}
    temporaries = []
    try:
        for target, source in wanted.items():
            if source in wanted and source != target or source == target:
                dup = os.dup(source)
                temporaries.append(dup)
                source = dup
            sources[target] = source
        global _STRAYS_CHECKED
        if not _cloexec_from_3() and not _STRAYS_CHECKED:
            _cloexec_strays(set(sources) | set(sources.values()))
            _STRAYS_CHECKED = True
        actions = [(os.POSIX_SPAWN_DUP2, source, target) for target, source in sources.items()]
        here = None
        if cwd is not None:
            here = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.chdir(cwd)
            except OSError as e:
                os.close(here)
                raise SpawnError(e.errno, "chdir", cwd, cwd) from None
        try:
            return os.posix_spawn(program, argv, environ, file_actions=actions,
                                  setsid=(session == "setsid"), setsigdef=_DEFAULT_SIGNALS,
                                  setsigmask=())
        except OSError as e:
            raise SpawnError(e.errno, "exec", program, cwd) from None
        finally:
            if here is not None:
                os.fchdir(here)
                os.close(here)
    finally:
        for fd in temporaries:
            os.close(fd)


def _cloexec_from_3():
    """Mark every fd >= 3 close-on-exec in one syscall; False if the system cannot.
    (The dup2 actions of posix_spawn clear the flag on their targets in the child.)"""
    global _CLOSE_RANGE
    if _CLOSE_RANGE is None:
        _CLOSE_RANGE = False
        try:
            import ctypes

            function = ctypes.CDLL(None, use_errno=True).close_range
            function.argtypes = (ctypes.c_uint, ctypes.c_uint, ctypes.c_int)
            function.restype = ctypes.c_int
            if function(3, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC) == 0:  # also probes the kernel
                _CLOSE_RANGE = function
                return True
        except (OSError, AttributeError, ImportError):
            pass
        return False
    return bool(_CLOSE_RANGE) and _CLOSE_RANGE(3, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC) == 0


def _cloexec_strays(keep):
    """Mark close-on-exec every fd >= 3 that is inheritable and not in KEEP."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        fd = int(name)
        if fd < 3 or fd in keep:
            continue
        try:
            if os.get_inheritable(fd):
                os.set_inheritable(fd, False)
        except OSError:
            pass


def _wait_quietly(pid):
    """Reap a child that failed before exec (it has exited or is about to)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
