"""The CMD: the container's main program.

It runs with the full container environment (as s6-overlay 1/2, see docs/init.md), in the
container's WORKDIR (the directory /init was started in), in a process group of its own;
when stdin is our controlling terminal that group becomes the terminal's foreground group
(engine.spawn's `foreground_tty`: set by the child before exec and by us after the fork, so
neither order can leave it in the background).  stdin is handed over as is.

engine.spawn execs exactly one path: the PATH search is done here first, as the shell
does it, and exec errors become the shell's codes: 127 for a command not found, 126 for
one that cannot be run, each with one line naming it.
"""

import errno
import os

from s6py.engine.spawn import SpawnError, spawn
from s6py import find_executable

__all__ = ["CmdError", "start_cmd", "resolve", "stdin_tty", "take_terminal"]


class CmdError(Exception):
    """The CMD could not be started: .code is the container's exit code, describe() the line."""

    def __init__(self, err, step, argv0, cwd, searched=False):
        super().__init__(err)
        self.errno = err
        self.step = step
        self.argv0 = argv0
        self.cwd = cwd
        self.searched = searched    # found through PATH (argv0 has no slash)

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
            if "/" not in name and not self.searched:
                return "%s: command not found" % name
            if self.searched or os.path.lexists(os.path.join(self.cwd or "", name)):
                return "%s: bad interpreter (its #! line names a missing program)" % name
            return "%s: no such file or directory" % name
        if self.errno == errno.EACCES:
            return "%s: permission denied (not executable, or a directory)" % name
        if self.errno == errno.ENOEXEC:
            return "%s: exec format error (no #! line?)" % name
        return "%s: %s" % (name, os.strerror(self.errno))


def resolve(name, env, cwd):
    """The path to exec for NAME, as execvp finds it with ENV's PATH (relative entries
    and NAMEs with a slash are relative to CWD).  Raises CmdError: ENOENT when nothing
    is there, EACCES when only non-executable files (or directories) are."""
    if "/" in name:
        return name
    found, denied = find_executable(name, os.fsdecode(env.get(b"PATH", b"/usr/bin:/bin")), cwd)
    if found is not None:
        return found
    raise CmdError(errno.EACCES if denied else errno.ENOENT, "exec", name, cwd)


def start_cmd(argv, env, cwd, tty=None, stdout=None, stderr=None):
    """Start ARGV; return its pid (also its process group), or raise CmdError.
    ENV: bytes dict.  TTY: our controlling terminal's fd, or None.  STDOUT, STDERR: fds
    to install as 1 and 2 (None: inherited)."""
    name = argv[0]
    path = resolve(name, env, cwd)
    try:
        return spawn(argv, path=path, cwd=cwd, env=env, stdout=stdout, stderr=stderr,
                     session="pgrp", foreground_tty=tty)
    except SpawnError as e:
        raise CmdError(e.errno, e.step, name, cwd, searched="/" not in name) from None


# ------------------------------------------------------------------ the terminal
# PID 1 ignores SIGTTOU, SIGTTIN and SIGTSTP (main.Init.install_signals): it calls
# tcsetpgrp() from the background (which raises SIGTTOU), and job-control stops must never
# freeze the init.  spawn() gives children the default dispositions back.

def stdin_tty():
    """0 if our stdin is a terminal we can hand over to the CMD, else None."""
    try:
        if os.isatty(0):
            os.tcgetpgrp(0)  # fails (ENOTTY) when it is not our controlling terminal
            return 0
    except OSError:
        pass
    return None


def take_terminal(fd):
    """Take the foreground back (after the CMD ended), so stage 3's lines reach the user."""
    if fd is None:
        return
    try:
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        pass
