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

__all__ = ["main"]

STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT")
FORWARDED = ("SIGTERM", "SIGQUIT", "SIGINT", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH")
CAUGHT = STOP_SIGNALS + ("SIGHUP", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH")
JOB_CONTROL = ("SIGTTOU", "SIGTTIN", "SIGTSTP")

#: signal number -> name, for the signals PID 1 catches (no `enum` for Signals(n).name)
NAMES = {getattr(signal, name): name for name in CAUGHT if hasattr(signal, name)}


class Init:
    """The state of PID 1: settings, paths, the loop, the scanner, the CMD, the stages."""

    def __init__(self, argv, loop, settings, paths, say, environ, tree_env):
        self.loop = loop
        self.settings = settings
        self.paths = paths
        self.say = say
        self.environ = environ        # the container environment (bytes dict)
        self.tree_env = tree_env      # services' and scripts' environment (bytes dict)
        self.cmd_argv = list(settings.cmd_arg0) + list(argv) if argv else []
        self.workdir = None
        self.scanner = None
        self.stage2 = None
        self.stage3 = None
        self.cmd_pid = None
        self.tty = None
        self.catchall = None          # S6_LOGGING >= 1: catchall.CatchAll
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.exit_code = None
        self.stage2_exited_written = None  # what we last wrote to S6_STAGE2_EXITED

    # -------------------------------------------------------------- guard

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

    # ------------------------------------------------------------ signals

    def install_signals(self):
        """Listen to the signals the loop catches since its construction (one that came
        in before is delivered now).  Ignore the job-control ones: PID 1 calls tcsetpgrp
        from the background (SIGTTOU) and must never be stopped (cmd.py)."""
        for signum in NAMES:
            self.loop.on_signal(signum, self.on_signal)
        for name in JOB_CONTROL:
            signal.signal(getattr(signal, name), signal.SIG_IGN)

    def on_signal(self, signum):
        self.guard("signal %d" % signum, self._on_signal, signum)

    def _on_signal(self, signum):
        name = NAMES.get(signum, "signal %d" % signum)
        if (self.settings.cmd_receive_signals and self.cmd_pid is not None
                and self.stage3 is None and name in FORWARDED):
            self.say.debug("forwarding %s to the CMD (pid %d)" % (name, self.cmd_pid))
            try:
                os.kill(self.cmd_pid, signum)
            except OSError:
                pass
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
            self.guard("halt", self.request_stop, "asked to (s6-svscanctl -%s / halt)" % letter)
        return True

    # -------------------------------------------------------------- stages

    def boot(self):
        if self.stage3 is not None:
            return  # stopped during stage 1: no boot step may start
        from s6py.init.stage2 import Stage2
        self.stage2 = Stage2(self)
        self.stage2.start()

    def stage2_done(self):
        if self.stage3 is not None:
            return
        if not self.cmd_argv:
            self.say.debug("no CMD: running until halted")
            return
        self.start_cmd()

    def start_cmd(self):
        from s6py.init import contenv
        from s6py.init.cmd import CmdError, start_cmd, stdin_tty

        if self.settings.keep_env:
            env = dict(self.environ)
        else:
            try:
                env = contenv.load_contenv(self.paths.container_environment, path=self.settings.path,
                                           on_error=lambda name, e: self.say.warn(
                                               "container environment: %s: %s"
                                               % (os.fsdecode(name), e.strerror or e)))
            except OSError as e:
                self.say.warn("unable to read the container environment (%s): using the initial one"
                              % (e.strerror or e))
                env = dict(self.environ)
        self.tty = stdin_tty()
        stdout = None
        if self.settings.cmd_use_terminal and self.tty is not None:
            try:
                stdout = os.open(os.ttyname(0), os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
            except OSError:
                stdout = None
        stderr = stdout
        owned = stdout
        if stdout is None and self.catchall is not None and self.settings.logging == 1:
            # S6_LOGGING=1: the CMD keeps the container's stdout and stderr (v1/v2)
            stdout, stderr = self.catchall.console_out, self.catchall.console_err
        name = self.cmd_argv[0]
        try:
            pid = start_cmd(self.cmd_argv, env, self.workdir, tty=self.tty, stdout=stdout,
                            stderr=stderr)
        except CmdError as e:
            self.say.stage("cmd", e.describe(), level=0)
            self.cmd_exited(name, e.code)
            return
        except OSError as e:
            self.say.stage("cmd", "unable to start %s: %s" % (name, e.strerror), level=0)
            self.cmd_exited(name, 126)
            return
        finally:
            if owned is not None:
                os.close(owned)
        self.cmd_pid = pid
        self.say.debug("the CMD runs: pid %d" % pid)
        self.loop.watch_child(pid, lambda wstat: self.guard("cmd", self._cmd_died, name, wstat))

    def _cmd_died(self, name, wstat):
        from s6py.init.cmd import take_terminal
        from s6py.init.steps import exit_code

        self.cmd_pid = None
        take_terminal(self.tty)
        if self.stage3 is not None:
            return  # stopped from outside: the exitcode file decides
        self.cmd_exited(name, exit_code(wstat))

    def cmd_exited(self, name, code):
        self.say.stage("cmd", "%s exited %d" % (name, code))
        self.set_exit_code(code, stage2_exited=True)
        self.request_stop("the CMD exited")

    def set_exit_code(self, code, stage2_exited=False):
        """Write CODE to the exitcode file (v3's place) and, with STAGE2_EXITED, to
        env-stage3/S6_STAGE2_EXITED too, as v2 did for the CMD's code and for a stage 2
        run with S6_BEHAVIOUR_IF_STAGE2_FAILS != 0: cont-finish.d scripts get it in
        their environment, and `set -u` ones rely on it."""
        from s6py.init import stage1
        data = b"%d\n" % code
        try:
            stage1.write_file(self.paths.exitcode, data)
        except OSError as e:
            self.say.warn("unable to write %s: %s" % (self.paths.exitcode, e.strerror))
            self.exit_code = code
        if stage2_exited:
            data = b"%d" % code  # as v2's `s6-echo -n`
            try:
                stage1.write_file(stage1.stage2_exited(self.paths), data)
                self.stage2_exited_written = data
            except OSError as e:
                self.say.warn("unable to write %s: %s" % (stage1.stage2_exited(self.paths), e.strerror))

    def request_stop(self, why):
        if self.stage3 is not None:
            self.say.debug("%s: already stopping" % why)
            return
        self.say.debug("stopping: %s" % why)
        if self.stage2 is not None:
            self.stage2.cancel()
        from s6py.init.stage3 import Stage3
        self.stage3 = Stage3(self)
        self.stage3.start()

    # ------------------------------------------------------------- children

    def reap_now(self):
        self.loop.reap()

    def reap_all_blocking(self):
        """Last step: wait for every child (SIGKILL was sent to all of them)."""
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            except OSError:
                return

    # ---------------------------------------------------------------- exit

    def final_exit_code(self):
        """S6_STAGE2_EXITED if someone else wrote it (v1/v2 finish scripts), else the
        exitcode file (v3's halt, our own writes), else what we could not write, else 0."""
        from s6py.init import stage1
        stage2 = self._read_code(stage1.stage2_exited(self.paths))
        if stage2 is not None and stage2[1] != self.stage2_exited_written:
            return stage2[0]
        found = self._read_code(self.paths.exitcode)  # ours holds the same code as ours there
        if found is not None:
            return found[0]
        if self.exit_code is not None:
            return self.exit_code & 0xFF
        return 0

    def _read_code(self, path):
        """(exit code, the file's bytes) from PATH, or None (missing or not a number)."""
        try:
            with open(path, "rb") as f:
                data = f.read(64)
        except OSError:
            return None
        text = data.split(b"\n", 1)[0].strip()
        if text.isdigit():
            return int(text) & 0xFF, data
        if text:
            self.say.warn("%s: %r is not an exit code, ignored" % (path, text.decode("ascii", "replace")))
        return None

    def exit(self):
        code = self.final_exit_code()
        self.say.debug("exiting %d" % code)
        self.loop.stop()
        self.code = code


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
    from s6py.engine.reaper import become_subreaper  # ctypes: only when not PID 1
    return become_subreaper()


def _main(argv):
    from s6py.engine.loop import Loop
    from s6py.engine.spawn import sanitize_inherited_fds
    from s6py.init import contenv, stage1
    from s6py.init.messages import Say
    from s6py.init.settings import Paths, Settings

    sanitize_inherited_fds()
    environ = contenv.original_environ()
    settings = Settings.from_environ(environ)
    paths = Paths.from_environ(environ)
    say = Say(settings.verbosity)
    for problem in settings.problems:
        say.warn(problem)
    loop = Loop(signals=list(NAMES), traceback=False, prog="init")
    environ[b"PATH"] = os.fsencode(settings.path)
    root_prefix = environ.get(b"S6PY_ROOT")
    tree_env = stage1.tree_environment(settings, environ, root_prefix)
    init = Init(argv[1:], loop, settings, paths, say, environ, tree_env)
    init.install_signals()
    if os.getpid() != 1 and not _become_subreaper():
        say.warn("not PID 1 and unable to become a subreaper: orphans will not be reaped")
    try:
        init.workdir = os.getcwd()
    except OSError:
        init.workdir = "/"

    # ---- stage 1
    try:
        stage1.check_run(paths)
    except stage1.RunError as e:
        if not e.unwritable or os.geteuid() == 0:
            say.fatal(str(e))
            return 100
        try:
            paths = stage1.fallback_run(paths)
        except stage1.RunError as fallback:
            say.fatal("%s; %s" % (e, fallback))
            return 100
        say.info("%s is not writable by uid %d: the run-time tree is in %s instead"
                 " (S6PY_RUN; the /run/service and /var/run/s6 names do not exist)"
                 % (paths.at("/run"), os.geteuid(), paths.run))
        environ[b"S6PY_RUN"] = os.fsencode(paths.run)
        tree_env[b"S6PY_RUN"] = os.fsencode(paths.run)
        init.paths = paths
    try:
        stage1.build_tree(settings, paths, environ, say)
    except OSError as e:
        say.fatal("unable to build the run-time tree in %s: %s%s"
                  % (paths.run, e.strerror or e, (" (%s)" % e.filename) if e.filename else ""))
        return 111
    if settings.logging:
        from s6py.init.catchall import CatchAll
        catchall = CatchAll(init)
        try:
            catchall.setup()
            init.catchall = catchall
        except (OSError, LookupError) as e:
            say.warn("S6_LOGGING=%d: unable to start the catch-all logger: %s%s:"
                     " everything goes to stdout/stderr (as S6_LOGGING=0)"
                     % (settings.logging, getattr(e, "strerror", None) or e,
                        (" (%s)" % e.filename) if getattr(e, "filename", None) else ""))
    os.environ.clear()
    os.environb.update(tree_env)
    try:
        os.chdir(paths.root)
    except OSError:
        pass

    from s6py.engine.scanner import Scanner
    init.scanner = Scanner(loop, paths.scandir, on_command=init.on_scanner_command)
    try:
        init.scanner.open_control()
    except Exception as e:
        say.fatal("unable to supervise %s: %s" % (paths.scandir, e))
        return 111

    # ---- stage 2 (event-driven), stage 3 when asked
    loop.call_soon(lambda: init.guard("stage 2", init.boot))
    init.code = 0
    loop.run()
    # Everything is reaped; leave now (Python's own finalisation costs milliseconds).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(init.code)
