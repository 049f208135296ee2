"""The CMD: the container's main program.

It runs with the full container environment (as s6-overlay 1/2, see docs/init.md), in the
container's WORKDIR (the directory /init was started in), in a process group of its own;
when stdin is our controlling terminal that group becomes the terminal's foreground group,
set by the child itself before exec (as tini does) and by us after the fork, so neither
order of the two can leave it in the background.  stdin is handed over as is.

The fork is done here rather than with engine.spawn because of that tcsetpgrp step; the
child hygiene is the same: default signal dispositions, empty mask, no wake-up fd, every fd
but 0, 1, 2 close-on-exec, and exec errors reported through a CLOEXEC pipe.  Exec errors
become the shell's codes: 127 for a command not found, 126 for one that cannot be run.
"""

import errno
import os
import signal
import struct

__all__ = ["CmdError", "start_cmd", "describe"]

_REPORT = struct.Struct("=iB")
_STEPS = ("exec", "chdir", "set up fds")


class CmdError(Exception):
    def __init__(self, err, step, argv0, cwd):
        super().__init__(err)
        self.errno = err
        self.step = step
        self.argv0 = argv0
        self.cwd = cwd

    @property
    def code(self):
        return 127 if self.step == "exec" and self.errno in (errno.ENOENT, errno.ENOTDIR) else 126

    def describe(self):
        name = self.argv0
        if self.step == "chdir":
            return "unable to chdir to %s: %s" % (self.cwd, os.strerror(self.errno))
        if self.step != "exec":
            return "unable to start %s: %s" % (name, os.strerror(self.errno))
        if self.errno in (errno.ENOENT, errno.ENOTDIR):
            if "/" not in name:
                return "%s: command not found" % name
            if os.path.lexists(name):
                return "%s: bad interpreter (its #! line names a missing program)" % name
            return "%s: no such file or directory" % name
        if self.errno == errno.EACCES:
            return "%s: permission denied (not executable, or a directory)" % name
        if self.errno == errno.ENOEXEC:
            return "%s: exec format error (no #! line?)" % name
        return "%s: %s" % (name, os.strerror(self.errno))


def _execvpe(argv, env):
    """execvp with ENV's PATH, as the shell searches it: the first "real" error (EACCES,
    ENOEXEC...) wins over "not found".  (os.execvpe does the same but imports `warnings`
    in the child, a millisecond on every container start.)"""
    name = argv[0]
    if "/" in name:
        os.execve(name, argv, env)
    path = env.get(b"PATH", b"/usr/bin:/bin")
    saved = None
    last = None
    for directory in path.split(b":"):
        candidate = os.path.join(directory or b".", os.fsencode(name))
        try:
            os.execve(candidate, argv, env)
        except OSError as e:
            last = e
            if e.errno not in (errno.ENOENT, errno.ENOTDIR) and saved is None:
                saved = e
    raise saved or last or OSError(errno.ENOENT, os.strerror(errno.ENOENT), name)


def _child(argv, env, cwd, tty, stdout, stderr, err_w):
    """In the forked child: never returns."""
    step = 0
    try:
        signal.set_wakeup_fd(-1)
        os.setpgid(0, 0)
        if tty is not None:
            try:
                os.tcsetpgrp(tty, os.getpid())  # SIGTTOU is still ignored here (inherited)
            except OSError:
                pass
        for signum in range(1, signal.NSIG):
            if signum in (signal.SIGKILL, signal.SIGSTOP):
                continue
            try:
                if signal.getsignal(signum) not in (signal.SIG_DFL, None):
                    signal.signal(signum, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        step = 1
        if cwd is not None:
            os.chdir(cwd)
        step = 2
        if stdout is not None:
            os.dup2(stdout, 1)
        if stderr is not None:
            os.dup2(stderr, 2)
        step = 0
        _execvpe(argv, env)
    except OSError as e:
        code = e.errno or errno.EIO
    except BaseException:
        code = errno.EIO
    try:
        os.write(err_w, _REPORT.pack(code, step))
    finally:
        os._exit(127)


def start_cmd(argv, env, cwd, tty=None, stdout=None, stderr=None):
    """Start ARGV; return its pid (also its process group), or raise CmdError.
    STDOUT, STDERR: fds to install as 1 and 2 (None: inherited)."""
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except BaseException:
        os.close(err_r)
        os.close(err_w)
        raise
    if pid == 0:
        os.close(err_r)
        _child(argv, env, cwd, tty, stdout, stderr, err_w)
    os.close(err_w)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it already, or has exec'd: either way it is done
    if tty is not None:
        try:
            os.tcsetpgrp(tty, pid)
        except OSError:
            pass
    data = b""
    try:
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
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        raise CmdError(code, _STEPS[step], argv[0], cwd)
    return pid


def describe(argv0, code):
    return "%s exited %d" % (argv0, code)
