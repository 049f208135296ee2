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
Never os.posix_spawn, although glibc's vfork-like clone would be cheaper: its child sets the
C library's internal signals 32 and 33 to SIG_IGN and exec keeps them ignored, which a Go,
musl or static program then sees (s6-supervise forks, and its services see neither).
If exec (or any of these steps) fails, the child writes errno and the failing step into a
CLOEXEC pipe and exits 127; the parent reads that pipe until EOF (EOF = exec succeeded)
and raises SpawnError, so the caller can print one clear line.

`spawn_nowait()` does the same without the wait (about a millisecond per child, most of
it the child's exec): it returns a `Started` at once, whose pipe the caller's loop watches
and whose `outcome()` then says what the wait would have said.  The supervisor starts
./run this way, so that fifty longruns do not cost PID 1 fifty waits.

Every signal is blocked across the fork and the child empties its mask only once it has
reset the dispositions and detached the wake-up fd: a signal sent to the child in between
(PID 1 may now TERM a ./run that has not exec'd yet) waits, then acts on the program, or
kills the child by its default action; it never runs PID 1's handler in the child, which
would write into PID 1's own wake-up pipe.
"""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import errno as _errno
import os

__all__ = ["spawn", "spawn_nowait", "Started", "fork_call", "SpawnError", "sanitize_inherited_fds",
           "describe_exec_error"]

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
        if os.path.lexists(where) and not os.path.exists(where):
            return "unable to exec %s: No such file or directory (a symlink to nothing)" % path
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
    """Close every fd not in KEEP, up to the highest one open.

    os.closerange is one close_range(2) where the interpreter's libc has it, and
    otherwise one close() per number up to the bound it is given: with musl (the
    self-contained tarball's interpreter) or a glibc older than 2.34, and the nofile limit
    podman sets (1048576), closing up to the limit took a spawn 0.1 s.  The highest open
    fd (from /proc/self/fd) bounds it to what PID 1 holds."""
    top = _open_fd_bound()
    low = 0
    for fd in sorted(keep):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    if top > low:
        os.closerange(low, top)


def _open_fd_bound():
    """One more than the highest open fd; the nofile limit when /proc is not there."""
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        return 65536


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
    execute = _exec_function(program, argv, env)
    return _start(execute, program, cwd, _wanted_fds(stdin, stdout, stderr, fds), session,
                  lock, foreground_tty)


def spawn_nowait(argv, *, path=None, cwd=None, env=None, stdin=None, stdout=None, fds=None,
                 session="setsid", lock=None):
    """spawn() without waiting to learn whether exec worked: a Started (pid, and the fd
    that becomes readable when the child has exec'd or failed; then call outcome()).
    SpawnError or OSError only when the fork itself fails."""
    program = path or argv[0]
    execute = _exec_function(program, argv, env)
    pid, err_r = _fork(execute, program, cwd, _wanted_fds(stdin, stdout, None, fds), session,
                       lock, None)
    return Started(pid, err_r, program, cwd)


class Started:
    """A child of spawn_nowait(): .pid, and .fd, the read end of its report pipe (CLOEXEC,
    blocking) until outcome() has read it."""

    __slots__ = ("pid", "fd", "program", "cwd")

    def __init__(self, pid, fd, program, cwd):
        self.pid, self.fd, self.program, self.cwd = pid, fd, program, cwd

    def outcome(self):
        """None if the child exec'd (or died without saying why), else the SpawnError the
        wait would have raised (the child is exiting 127; whoever reaps it, its status
        means nothing).  Call once .fd is readable or the child is dead: then the read
        does not block (the report is one write of 5 bytes, or EOF).  Closes .fd."""
        try:
            while True:
                try:
                    data = os.read(self.fd, _REPORT_SIZE)
                    break
                except InterruptedError:
                    continue
        finally:
            self.close()
        return _report_error(data, self.program, self.cwd)

    def wait(self):
        """outcome(), waiting for the exec as spawn() does; when it failed, the child is
        reaped too (nobody else will: it was never handed to a loop)."""
        error = self.outcome()
        if error is not None:
            _wait_quietly(self.pid)
        return error

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _exec_function(program, argv, env):
    # os.environb: the str view would decode every variable at every spawn
    environ = (os.environb if os.supports_bytes_environ else os.environ) if env is None else env

    def execute(_err_w):
        os.execve(program, argv, environ)

    return execute


def fork_call(function, *, label, cwd=None, stdin=None, stdout=None, stderr=None, fds=None,
              session="setsid", lock=None):
    """Fork a child set up exactly as spawn() sets up one (session, signals, fds, cwd,
    lock), which then runs FUNCTION() instead of an exec and exits with what it returns
    (an int; an exception prints its traceback and exits 111).  Returns the child's pid;
    SpawnError (LABEL naming what it runs) if the set-up failed.

    For programs of our own that need no interpreter of their own (s6-log behind a log
    service's run script): the child shares this process's memory pages until it writes
    them.  Before the fork, the garbage collector's objects are frozen (gc.freeze), so
    the child's collections never touch (and copy) the parent's objects, and garbage the
    parent had not collected yet is never finalised in the child (a stale file object
    would close an fd the child has reused); the parent unfreezes right after the fork.
    Buffered sys.stdout/sys.stderr data is flushed first, or the child would write it too.
    FUNCTION must end the child's work itself: it must not rely on the parent's loop,
    whose fds are closed in the child."""

    def execute(err_w):
        if err_w is not None:
            os.close(err_w)  # set-up done: the parent's wait ends here
        _run_in_child(function)

    _flush_std_streams()
    import gc

    gc.freeze()
    try:
        return _start(execute, label, cwd, _wanted_fds(stdin, stdout, stderr, fds), session,
                      lock, None)
    finally:
        gc.unfreeze()


def _wanted_fds(stdin, stdout, stderr, fds):
    wanted = {}
    for target, source in ((0, stdin), (1, stdout), (2, stderr)):
        if source is not None:
            wanted[target] = source
    wanted.update(fds or {})  # e.g. notification-fd 1 replaces the log pipe, as in s6
    return wanted


def _flush_std_streams():
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _run_in_child(function):
    """Run FUNCTION in a forked child and exit with its code: never return to the caller
    (the parent's code, PID 1's loop, must not run twice)."""
    try:
        code = function()
    except BaseException:
        code = 111
        try:
            import traceback

            os.write(2, "".join(traceback.format_exc()).encode("utf-8", "replace"))
        except BaseException:
            pass
    os._exit(code if isinstance(code, int) and 0 <= code <= 255 else 111)


def _start(execute, program, cwd, wanted, session, lock, foreground_tty):
    """Fork; in the child set up SESSION, signals, CWD, the WANTED fds and LOCK, then
    EXECUTE(error pipe) (which does not return); in the parent wait until the child has
    exec'd (or closed the error pipe) and return its pid, or raise SpawnError."""
    pid, err_r = _fork(execute, program, cwd, wanted, session, lock, foreground_tty)
    error = Started(pid, err_r, program, cwd).wait()
    if error is not None:
        raise error
    return pid


def _report_error(data, program, cwd):
    """The SpawnError a child's report DATA describes; None for no report (it exec'd)."""
    if len(data) < _REPORT_SIZE:
        return None
    code, step = int.from_bytes(data[:4], "little", signed=True), data[4]
    return SpawnError(code, _STEPS[step], program if step == 0 else (cwd or program), cwd)


_ALL_SIGNALS = signal.valid_signals()  # blocked across every fork (module docstring)


def _fork(execute, program, cwd, wanted, session, lock, foreground_tty):
    """The fork of _start: (pid, read end of the child's report pipe)."""
    if foreground_tty is not None:
        session = "pgrp"
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(err_r)
        os.close(err_w)
        raise
    if pid != 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
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
            execute(err_w)
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
    return pid, err_r


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


def _wait_quietly(pid):
    """Reap a child that failed before exec (it has exited or is about to)."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
