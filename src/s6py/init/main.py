"""/init: the container's PID 1.  One process runs the supervision engine in-process and
drives the three stages (see docs/init.md):

    main            block the signals first, build the loop, stage 1, run the loop
    stage 1         check /run, build the tree, dump the environment  (init.stage1)
    stage 2         fix-attrs.d, cont-init.d, services.d, wait, CMD   (init.stage2)
    stage 3         services down, cont-finish.d, TERM, KILL, exit    (init.stage3)

Signals to PID 1: TERM, INT, QUIT stop the container (or go to the CMD with
S6_CMD_RECEIVE_SIGNALS, as do USR1 USR2 PWR WINCH); HUP rescans the services; SIGTTOU,
SIGTTIN, SIGTSTP are ignored.  A stop request at any moment (even in the middle of a
cont-init.d script or of stage 1) starts stage 3 once, and is never lost: signals reach us
through the loop's wake-up pipe, and stage 2 is a chain of loop callbacks, never a blocking
wait.

Nothing raised in a callback kills PID 1: `guard()` prints one line and carries on.
"""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import os
import sys

from s6py.init.context import UsesContext

__all__ = ["main"]

STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT")
FORWARDED = ("SIGTERM", "SIGQUIT", "SIGINT", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH")
CAUGHT = STOP_SIGNALS + ("SIGHUP", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH")
JOB_CONTROL = ("SIGTTOU", "SIGTTIN", "SIGTSTP")

#: signal number -> name, for the signals PID 1 catches (no `enum` for Signals(n).name)
NAMES = {getattr(signal, name): name for name in CAUGHT if hasattr(signal, name)}


class Pid1(UsesContext):
    """PID 1's own duty once stage 1 has run: the signals, the stop request, the stages.

    The stages and the CMD are objects of their own (init.stage2, init.stage3,
    init.command_process); this one only decides which runs when, and forwards.
    """

    def __init__(self, ctx, cmd_argv, exit_code):
        UsesContext.__init__(self, ctx)
        self.cmd_argv = cmd_argv
        self.exit_code = exit_code
        self.scanner = None
        self.catchall = None          # S6_LOGGING >= 1: catchall.CatchAll
        self.command = None           # command_process.CommandProcess once started
        self.stage2 = None
        self.stage3 = None
        self.code = 0                 # what main() exits with, once the loop has stopped

    # ------------------------------------------------------------ signals

    def install_signals(self):
        """Listen to the signals the loop catches since its construction (one that came
        in before is delivered now).  Ignore the job-control ones: PID 1 calls tcsetpgrp
        from the background (SIGTTOU) and must never be stopped (command_process.py)."""
        for signum in NAMES:
            self.ctx.loop.on_signal(signum, self.on_signal)
        for name in JOB_CONTROL:
            signal.signal(getattr(signal, name), signal.SIG_IGN)

    def on_signal(self, signum):
        self.ctx.guard("signal %d" % signum, self._on_signal, signum)

    def _on_signal(self, signum):
        name = NAMES.get(signum, "signal %d" % signum)
        if (self.settings.cmd_receive_signals and self.command is not None
                and self.stage3 is None and name in FORWARDED
                and self.command.forward(signum, name)):
            return
        if name in STOP_SIGNALS:
            self.request_stop("received " + name)
        elif name == "SIGHUP":
            if self.scanner is not None and self.stage3 is None:
                self.scanner.command("h")
        else:
            self.say.debug("ignoring %s" % name)

    def on_scanner_command(self, letter):
        """`s6-svscanctl -t /var/run/s6/services` (v1/v2 finish scripts), -i, -q, -b and
        our `halt` (which writes `t` to the same FIFO) stop the *container*: stage 3 brings
        the services down itself.  Every other letter is the scanner's (True: handled)."""
        if letter not in "tiqb":
            return False
        if not self.scanner.terminating:
            self.ctx.guard("halt", self.request_stop, "asked to (s6-svscanctl -%s / halt)" % letter)
        return True

    # -------------------------------------------------------------- stages

    def boot(self):
        if self.stage3 is not None:
            return  # stopped during stage 1: no boot step may start
        from s6py.init.stage2 import Stage2
        self.stage2 = Stage2(self.ctx, self.scanner, self.exit_code, bool(self.cmd_argv),
                             on_done=self.stage2_done, request_stop=self.request_stop)
        self.stage2.start()

    def stage2_done(self):
        if self.stage3 is not None:
            return
        if not self.cmd_argv:
            self.say.debug("no CMD: running until halted")
            return
        from s6py.init.command_process import CommandProcess
        self.command = CommandProcess(self.ctx, self.cmd_argv, self.catchall, self.cmd_exited)
        self.command.start()

    def cmd_exited(self, name, code):
        self.say.stage("cmd", "%s exited %d" % (name, code))
        self.exit_code.set(code, stage2_exited=True)
        self.request_stop("the CMD exited")

    def request_stop(self, why):
        if self.stage3 is not None:
            self.say.debug("%s: already stopping" % why)
            return
        self.say.debug("stopping: %s" % why)
        if self.stage2 is not None:
            self.stage2.cancel()
        if self.command is not None:
            self.command.orphaned = True  # stopped from outside: the exitcode file decides
        from s6py.init.stage3 import Stage3
        rc = self.stage2.rc if self.stage2 is not None else None
        self.stage3 = Stage3(self.ctx, self.scanner, self.catchall, on_done=self.exit, rc=rc)
        self.stage3.start()

    def exit(self):
        self.code = self.exit_code.final()
        self.say.debug("exiting %d" % self.code)
        self.ctx.loop.stop()


def main(argv):
    """`init [CMD...]`: never raises; returns the container's exit code."""
    # First thing: block the signals PID 1 reacts to.  The kernel drops a signal sent to
    # a PID 1 that has no handler for it, but keeps a blocked one pending; Loop() installs
    # the handlers, then empties the mask, and a pending one reaches the loop.
    signal.pthread_sigmask(signal.SIG_BLOCK, list(NAMES))
    try:
        return _main(argv)
    except Exception as e:  # a bug before the loop runs: one line, and a non-zero exit
        try:
            os.write(2, ("init: fatal: internal error: %s: %s\n" % (type(e).__name__, e)).encode())
        except OSError:
            pass
        return 111


def _become_subreaper():
    from s6py.engine.reaper import become_subreaper  # prctl: only when not PID 1
    return become_subreaper()


def _main(argv):
    """PID 1 from top to bottom (main() has blocked the signals already)."""
    from s6py.engine.loop import Loop
    from s6py.engine.spawn import sanitize_inherited_fds
    from s6py.init import contenv, stage1
    from s6py.init.context import Context
    from s6py.init.exitcode import ExitCode
    from s6py.init.messages import Say
    from s6py.init.settings import Paths, Settings

    # ---- read the settings; catch the signals (pending ones arrive now, none is lost)
    sanitize_inherited_fds()
    environ = contenv.original_environ()
    settings = Settings.from_environ(environ)
    paths = Paths.from_environ(environ)
    say = Say(settings.verbosity)
    for problem in settings.problems:
        say.warn(problem)
    loop = Loop(signals=list(NAMES), traceback=False, prog="init")
    environ[b"PATH"] = os.fsencode(settings.path)
    tree_env = stage1.tree_environment(settings, environ, environ.get(b"S6PY_ROOT"))
    ctx = Context(loop, settings, paths, say, environ, tree_env)
    cmd_argv = list(settings.cmd_arg0) + list(argv[1:]) if argv[1:] else []
    pid1 = Pid1(ctx, cmd_argv, ExitCode(paths, say))
    pid1.install_signals()
    if os.getpid() != 1 and not _become_subreaper():
        say.warn("not PID 1 and unable to become a subreaper: orphans will not be reaped")

    # ---- stage 1: the run-time tree, the catch-all logger, the scan directory
    failed = _stage1(ctx, pid1)
    if failed is not None:
        return failed

    # ---- stage 2 (event-driven boot steps, then the CMD), stage 3 when asked; the loop
    # stops once stage 3 has reaped everything
    loop.call_soon(lambda: ctx.guard("stage 2", pid1.boot))
    loop.run()

    # ---- exit: everything is reaped; leave now (Python's own finalisation costs ms)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(pid1.code)


def _stage1(ctx, pid1):
    """Stage 1 (init.stage1): check /run (or fall back), build the tree, start the
    catch-all logger, open the scan directory.  None, or the exit code of a failure."""
    from s6py.init import stage1

    settings, say, environ = ctx.settings, ctx.say, ctx.environ
    try:
        stage1.check_run(ctx.paths)
    except stage1.RunError as e:
        if not e.unwritable or os.geteuid() == 0:
            say.fatal(str(e))
            return 100
        try:
            paths = stage1.fallback_run(ctx.paths)
        except stage1.RunError as fallback:
            say.fatal("%s; %s" % (e, fallback))
            return 100
        say.info("%s is not writable by uid %d: the run-time tree is in %s instead"
                 " (S6PY_RUN; the /run/service and /var/run/s6 names do not exist)"
                 % (paths.at("/run"), os.geteuid(), paths.run))
        environ[b"S6PY_RUN"] = os.fsencode(paths.run)
        ctx.tree_env[b"S6PY_RUN"] = os.fsencode(paths.run)
        ctx.paths = pid1.exit_code.paths = paths
    paths = ctx.paths
    try:
        stage1.build_tree(settings, paths, environ, say)
    except OSError as e:
        say.fatal("unable to build the run-time tree in %s: %s%s"
                  % (paths.run, e.strerror or e, (" (%s)" % e.filename) if e.filename else ""))
        return 111
    if settings.logging:
        from s6py.init.catchall import CatchAll
        catchall = CatchAll(ctx)
        try:
            catchall.setup()
            pid1.catchall = catchall
        except (OSError, LookupError) as e:
            say.warn("S6_LOGGING=%d: unable to start the catch-all logger: %s%s:"
                     " everything goes to stdout/stderr (as S6_LOGGING=0)"
                     % (settings.logging, getattr(e, "strerror", None) or e,
                        (" (%s)" % e.filename) if getattr(e, "filename", None) else ""))
    os.environ.clear()
    os.environb.update(ctx.tree_env)
    try:
        os.chdir(paths.root)
    except OSError:
        pass

    from s6py.diag import Reporter
    from s6py.cmd import forkhook
    from s6py.engine.scanner import Scanner
    forkhook.install()
    pid1.scanner = Scanner(ctx.loop, paths.scandir, on_command=pid1.on_scanner_command,
                           reporter=Reporter("s6-svscan", max(settings.verbosity, 1)))
    try:
        pid1.scanner.open_control()
    except Exception as e:
        say.fatal("unable to supervise %s: %s" % (paths.scandir, e))
        return 111
    return None
