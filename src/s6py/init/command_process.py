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

__all__ = ["CommandProcess", "CmdError", "start_cmd", "resolve", "stdin_tty", "take_terminal"]


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
    from s6py.engine.service import settle_pending_execs

    name = argv[0]
    path = resolve(name, env, cwd)
    settle_pending_execs()  # every ./run spawned so far has exec'd before the CMD does
    try:
        return spawn(argv, path=path, cwd=cwd, env=env, stdout=stdout, stderr=stderr,
                     session="pgrp", foreground_tty=tty)
    except SpawnError as e:
        raise CmdError(e.errno, e.step, name, cwd, searched="/" not in name) from None


# ------------------------------------------------------------------ the terminal
# PID 1 ignores SIGTTOU, SIGTTIN and SIGTSTP (main.Pid1.install_signals): it calls
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


class CommandProcess:
    """The CMD as PID 1 runs it: started once (`start()`), its death reported once.

    CTX          init.context.Context
    argv         the CMD (S6_CMD_ARG0 included), non-empty
    catchall     the catch-all logger with S6_LOGGING (its console fds), or None
    on_exit(name, code)
                 called once when the CMD exited, or could not be started (126/127)
    """

    def __init__(self, ctx, argv, catchall, on_exit):
        self.ctx = ctx
        self.argv = argv
        self.catchall = catchall
        self.on_exit = on_exit
        self.pid = None
        self.tty = None
        self.orphaned = False   # stage 3 runs: the CMD's death is no longer news

    def environment(self):
        """The full container environment (S6_KEEP_ENV: the initial one as it is)."""
        from s6py.init import contenv

        ctx = self.ctx
        if ctx.settings.keep_env:
            return dict(ctx.environ)
        try:
            return contenv.load_contenv(
                ctx.paths.container_environment, path=ctx.settings.path,
                on_error=lambda name, e: ctx.say.warn(
                    "container environment: %s: %s" % (os.fsdecode(name), e.strerror or e)))
        except OSError as e:
            ctx.say.warn("unable to read the container environment (%s): using the initial one"
                         % (e.strerror or e))
            return dict(ctx.environ)

    def _outputs(self):
        """(stdout, stderr, fd to close after the spawn) for the CMD."""
        settings = self.ctx.settings
        stdout = None
        if settings.cmd_use_terminal and self.tty is not None:
            try:
                stdout = os.open(os.ttyname(0), os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
            except OSError:
                stdout = None
        if stdout is not None:
            return stdout, stdout, stdout
        if self.catchall is not None and settings.logging == 1:
            # S6_LOGGING=1: the CMD keeps the container's stdout and stderr (v1/v2)
            return self.catchall.console_out, self.catchall.console_err, None
        return None, None, None

    def start(self):
        ctx = self.ctx
        env = self.environment()
        self.tty = stdin_tty()
        stdout, stderr, owned = self._outputs()
        name = self.argv[0]
        try:
            pid = ctx.reserve.spending(start_cmd, self.argv, env, ctx.workdir, tty=self.tty,
                                       stdout=stdout, stderr=stderr)
        except CmdError as e:
            ctx.say.stage("cmd", e.describe(), level=0)
            self.on_exit(name, e.code)
            return
        except OSError as e:
            ctx.say.stage("cmd", "unable to start %s: %s" % (name, e.strerror), level=0)
            self.on_exit(name, 126)
            return
        finally:
            if owned is not None:
                os.close(owned)
        self.pid = pid
        ctx.say.debug("the CMD runs: pid %d" % pid)
        ctx.loop.watch_child(pid, lambda wstat: ctx.guard("cmd", self._died, name, wstat))

    def _died(self, name, wstat):
        from s6py.init.steps import exit_code

        self.pid = None
        take_terminal(self.tty)
        if not self.orphaned:
            self.on_exit(name, exit_code(wstat))

    def forward(self, signum, name):
        """Send SIGNUM to the CMD (S6_CMD_RECEIVE_SIGNALS); False if it is not running."""
        if self.pid is None:
            return False
        self.ctx.say.debug("forwarding %s to the CMD (pid %d)" % (name, self.pid))
        try:
            os.kill(self.pid, signum)
        except OSError:
            pass
        return True
