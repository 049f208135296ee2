"""Running a directory of scripts (cont-init.d, cont-finish.d) in name order, one at a time.

Each script is spawned (never waited for in a blocking call) and its death comes back
through the loop.  Around each one the v1 lines are printed:

    [cont-init.d] 00-foo: executing...
    [cont-init.d] 00-foo: exited 0.

A script that cannot be started (not executable, no #! line, a directory...) gives one line
saying why and counts as exited 126 (127 when its interpreter is missing), as a shell would
report it.  With a time limit, a script still running when it expires is killed (SIGKILL,
as s6-maximumtime -k) and counts as 128+9.  A script that is not executable (0644 from
git, on a root that could not be fixed) runs anyway, as under v2: init.perms.runnable.
"""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import errno
import os

from s6py.engine.spawn import SpawnError, fork_call, spawn
from s6py.init.context import UsesContext
from s6py.init.perms import runnable
from s6py.init.steps import exit_code

__all__ = ["ScriptRunner", "list_scripts"]


def list_scripts(directory):
    """Sorted names of DIRECTORY (dot files skipped); [] if it does not exist."""
    try:
        return sorted(n for n in os.listdir(directory) if not n.startswith("."))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return []


class ScriptRunner(UsesContext):
    """Run each script of DIRECTORY; call done(results) with [(name, code), ...].

    stop_on_failure: stop after the first non-zero exit.
    timeout_ms: per-script limit (0 = none).
    env: the scripts' environment (default: the supervision tree's)."""

    def __init__(self, ctx, directory, bracket, timeout_ms=0, stop_on_failure=False, active=None,
                 env=None):
        UsesContext.__init__(self, ctx)
        self.directory = directory
        self.bracket = bracket
        self.timeout_ms = timeout_ms
        self.stop_on_failure = stop_on_failure
        self.active = active or (lambda: True)   # False: the stage was cancelled, start nothing more
        self.env = ctx.tree_env if env is None else env
        self.copies = os.path.join(ctx.paths.script_copies, bracket)
        self.results = []
        self.pid = None
        self.current = None
        self._timer = None
        self._done = None

    def run(self, done):
        self._done = done
        self.names = list_scripts(self.directory)
        self._next()

    def _next(self):
        if not self.active():
            return
        if not self.names or (self.stop_on_failure and self.results and self.results[-1][1]):
            self._done(self.results)
            return
        name = self.names.pop(0)
        path = os.path.join(self.directory, name)
        self.say.stage(self.bracket, "%s: executing... " % name)
        self.say.v3_line(self.v3_prog, "info", "running %s" % self.ctx.paths.shown(path))
        try:
            # the fd reserve: cont-finish.d starts even when the services took every fd
            pid = self.ctx.reserve.spending(self._spawn, runnable(path, self.copies))
        except SpawnError as e:
            self.say.line(0, "[%s] %s: %s" % (self.bracket, name, e.describe()))
            # as a shell: 127 when the program (or its #! interpreter) is missing, else 126
            self._finished(name, 127 if e.errno == errno.ENOENT else 126)
            return
        except OSError as e:
            self.say.line(0, "[%s] %s: unable to spawn: %s" % (self.bracket, name, e.strerror))
            self._finished(name, 126)
            return
        self.pid = pid
        self.current = name
        self.loop.watch_child(pid, lambda wstat, name=name: self.ctx.guard(
            self.bracket, self._died, name, wstat))
        if self.timeout_ms:
            self._timer = self.loop.call_later(self.timeout_ms / 1000.0, self._expired)

    def _spawn(self, argv):
        """Start ARGV in our environment, cwd / and stdin /dev/null: exec'd, or, for a
        with-contenv shebang, in a child forked from PID 1 (cmd/forkedrun.py)."""
        from s6py.cmd.forkhook import forked_script

        child = forked_script(argv, self.env)
        options = dict(cwd=self.ctx.paths.root, stdin=self.ctx.devnull)
        if child is None:
            return spawn(argv, env=self.env, **options)
        return fork_call(child, label=argv[0], **options)

    def _expired(self):
        self._timer = None
        if self.pid:
            self.say.stage(self.bracket, "%s: still running after %d ms: killing it."
                           % (self.current, self.timeout_ms), level=1)
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def _died(self, name, wstat):
        self.pid = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._finished(name, exit_code(wstat))

    @property
    def v3_prog(self):
        """v3's name for this runner: cont-init, cont-finish."""
        return self.bracket[:-2] if self.bracket.endswith(".d") else self.bracket

    def _finished(self, name, code):
        self.say.stage(self.bracket, "%s: exited %d." % (name, code))
        if self.v3_prog != "cont-finish":  # v3's cont-finish says nothing of exit codes
            self.say.v3_line(self.v3_prog, "info", "%s exited %d"
                             % (self.ctx.paths.shown(os.path.join(self.directory, name)), code))
        self.results.append((name, code))
        self.loop.call_soon(lambda: self.ctx.guard(self.bracket, self._next))
