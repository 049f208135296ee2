"""What every part of /init shares once stage 1 has run: one record, passed explicitly.

The stages (stage2, stage3, scripts, catchall, the CMD) get this record plus the
collaborators they talk to (the scanner, the exit code, a callback to stop), never the
PID-1 object itself, so each can be read and tested on its own.
"""

import os

from s6py.engine.fdreserve import FdReserve

__all__ = ["Context", "UsesContext"]


class Context:
    """loop      engine.loop.Loop
    settings     init.settings.Settings (the S6_* variables, read once)
    paths        init.settings.Paths (where the run-time tree is)
    say          init.messages.Say (every line /init prints)
    environ      the container environment (bytes dict), what the CMD gets
    tree_env     the supervision tree's environment (bytes dict): services, scripts
    workdir      the directory /init was started in (the CMD's cwd)
    devnull      an fd on /dev/null for children's stdin
    reserve      fds held back for the CMD and cont-finish.d (engine.fdreserve)
    """

    def __init__(self, loop, settings, paths, say, environ, tree_env):
        self.loop = loop
        self.settings = settings
        self.paths = paths
        self.say = say
        self.environ = environ
        self.tree_env = tree_env
        try:
            self.workdir = os.getcwd()
        except OSError:
            self.workdir = "/"
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.reserve = FdReserve()

    def guard(self, what, function, *args):
        """Run FUNCTION(*ARGS); if it raises, one line and carry on.  True if it returned."""
        try:
            function(*args)
            return True
        except Exception as e:  # PID 1 must not die of a bug
            self.say.line(0, "init: error: %s: internal error: %s: %s (carrying on)"
                          % (what, type(e).__name__, e))
            if self.settings.verbosity >= 3:
                import traceback
                self.say.write(traceback.format_exc())
            return False


class UsesContext:
    """Base of the parts of /init that get a Context: `self.ctx`, and its loop, say,
    settings and paths under their own names (read the most)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.loop = ctx.loop
        self.say = ctx.say
        self.settings = ctx.settings
        self.paths = ctx.paths
