"""Stage 2: the user's boot sequence, then the CMD.

    hook          S6_STAGE2_HOOK, if set
    s6-rc         an image that defines s6-rc services (/etc/s6-overlay): its graph, with
                  the steps below as the built-in oneshots (init.rc, docs/s6-rc.md)
    user files    v1/v2's two [s6-init] steps: /run/s6/etc names the user's directories,
                  and their scripts are made executable (init.perms)
    fix-attrs.d   owners and modes (in-process, one file per loop turn)
    cont-init.d   each script to completion, in name order, exit code reported
    services.d    each service directory copied into the scandir, whose real path is
                  v2's /run/s6/services (wrappers test `pwdx $$` against it); /run/service
                  and /run/s6/legacy-services are v3's names of it
    wait          S6_CMD_WAIT_FOR_SERVICES: supervised now, and awaited: up (or up+ready
                  with notification-fd)
then the CMD (or nothing: the container runs until halted or signalled), and only then,
without S6_CMD_WAIT_FOR_SERVICES, the scan that supervises (spawns) services.d: the CMD
never waits for those spawns, as with v1's asynchronous `s6-svscanctl -a`.

Failures (a hook or cont-init.d script exiting non-zero, a fix-attrs problem, services
not up in time) follow S6_BEHAVIOUR_IF_STAGE2_FAILS:
    0  carry on silently (the per-script lines still say what happened);
    1  carry on, and print the "init-stage2 failed" banner before the CMD;
    2  stop at the first failure: its code becomes the container's exit code, stage 3
       runs, the CMD never starts.
"""

import errno
import os
import stat

from s6py.engine.spawn import SpawnError, spawn
from s6py.init.context import UsesContext
from s6py.init.perms import SERVICE_EXECUTABLES
from s6py.init.stage1 import write_all
from s6py.init.steps import Steps, exit_code

__all__ = ["Stage2", "copy_service"]

BANNER = "\n!!!!!\n init-stage2 failed.\n!!!!!\n"

#: the user directories v1/v2 made available under /var/run/s6/etc
USER_DIRS = ("fix-attrs.d", "cont-init.d", "cont-finish.d", "services.d")


def copy_service(src, dst):
    """Copy the service directory SRC to DST: regular files with their modes, symlinks as
    links, sub-directories recursively; special files and old supervise/ or event/
    state are skipped.  The copy's run, finish, log/run, log/finish and data/check are
    0755 whatever the original's mode (v2 made the originals so at every boot; a
    read-only /etc cannot be, its copy can)."""
    _copy_tree(src, dst)
    for rel in SERVICE_EXECUTABLES:
        path = os.path.join(dst, rel)
        try:
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.chmod(path, 0o755)
        except FileNotFoundError:
            pass


def _copy_tree(src, dst):
    """Copy the tree SRC to DST, walking it with a stack rather than recursion: a
    directory nested thousands of levels deep gives one OSError (ENAMETOOLONG, most
    likely), never a RecursionError that would stop every other service."""
    todo = [(src, dst)]
    while todo:
        source, target = todo.pop()
        os.mkdir(target, 0o755)
        for name in os.listdir(source):
            s = os.path.join(source, name)
            d = os.path.join(target, name)
            st = os.lstat(s)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(s), d)
            elif stat.S_ISDIR(st.st_mode):
                if name == "supervise" or name == "event":
                    continue  # state of an old supervisor, never copied
                todo.append((s, d))
            elif stat.S_ISREG(st.st_mode):
                _copy_file(s, d, stat.S_IMODE(st.st_mode))


def _copy_file(src, dst, mode):
    """DST is new in a new directory: written in place (no temporary name, which could be
    a sibling's name, or too long for a 255-byte one)."""
    with open(src, "rb") as f:
        data = f.read()
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
    os.chmod(dst, mode)


def discard_tree(path):
    """Best effort: remove what a failed copy left (a dot name the scanner ignores anyway)."""
    from s6py.execline.portable import remove_tree

    try:
        remove_tree(path)
    except OSError:
        pass


class Stage2(UsesContext):
    """The boot steps, then ON_DONE() (PID 1 starts the CMD).

    ctx            init.context.Context
    scanner        the engine.scanner.Scanner of the scan directory
    exit_code      init.exitcode.ExitCode (a failure's code is written there)
    has_cmd        a CMD will run (S6_CMD_WAIT_FOR_SERVICES only waits for one)
    request_stop(why)
                   stop the container (S6_BEHAVIOUR_IF_STAGE2_FAILS=2)
    """

    def __init__(self, ctx, scanner, exit_code, has_cmd, on_done, request_stop):
        UsesContext.__init__(self, ctx)
        self.scanner = scanner
        self.exit_code = exit_code
        self.has_cmd = has_cmd
        self.on_done = on_done
        self.request_stop = request_stop
        self.failure = 0            # first failure's exit code (0: none)
        self.started = []           # services.d names put under the scandir
        self.sequence = None
        self._wait = None           # the supervisor's pending when_all of the wait step
        self._hook_pid = None
        self._scan_pending = False  # services.d copied, not yet supervised
        self.rc = None              # init.rc.RcBoot of an s6-rc image

    def _present(self, name, done):
        """The user directory NAME, or None after DONE() when the image has none."""
        directory = self.user_dir(name)
        if os.path.isdir(directory):
            return directory
        done()
        return None

    def user_dir(self, name):
        return self.paths.user_dir(name, self.settings.runtime_profile)

    def start(self):
        from s6py.init.v3tree import user_definitions

        first = [
            ("S6_WAIT_FOR_CLOSING_FD", self.wait_for_closing_fd),
            ("S6_STAGE2_HOOK", self.hook),
            ("user files", self.user_files),
        ]
        if user_definitions(self.paths.at("/etc/s6-overlay")):
            # an s6-rc image: the legacy steps are the built-in graph's oneshots, and
            # /init speaks as s6-overlay 3 does
            self.say.v3 = True
            steps = first + [("s6-rc", self.rc_up)]
        else:
            steps = first + [
                ("fix-attrs.d", self.fix_attrs),
                ("cont-init.d", self.cont_init),
                ("services.d", self.services),
                ("waiting for services", self.wait_for_services),
            ]
        self.sequence = Steps(self.loop, steps, self.finished, self.ctx.guard)
        self.sequence.start()

    def cancel(self):
        if self.sequence is not None:
            self.sequence.cancel()
        if self._wait is not None:
            self._wait.cancel()
            self._wait = None

    # ------------------------------------------------------------- failures

    def failed(self, code, what):
        """Record a failure; True if the boot must stop here (B=2)."""
        code = code or 1
        if not self.failure:
            self.failure = code
        behaviour = self.settings.behaviour_if_stage2_fails
        if behaviour >= 2:
            self.say.line(0, "init: fatal: %s failed (exit code %d): stopping the container"
                          " (S6_BEHAVIOUR_IF_STAGE2_FAILS=2)" % (what, code))
            self.exit_code.set(code, stage2_exited=True)
            self.request_stop("stage 2 failed")
            return True
        if behaviour == 1:
            self.say.warn("%s failed (exit code %d)" % (what, code))
        return False

    # ---------------------------------------------------------------- steps

    def wait_for_closing_fd(self, done):
        """S6_WAIT_FOR_CLOSING_FD=N: boot only once fd N reaches EOF (or is not open)."""
        fd = self.settings.wait_for_closing_fd
        if not fd:
            done()
            return
        try:
            os.fstat(fd)
        except OSError:
            done()
            return
        self.say.debug("waiting for fd %d to close" % fd)

        def readable():
            from s6py.engine.loop import read_available

            data = read_available(fd, 4096)
            if data is None:
                return
            if data:
                self.say.warn("data written to fd %d (S6_WAIT_FOR_CLOSING_FD), ignored" % fd)
                return
            self.loop.remove_reader(fd)
            os.close(fd)
            done()

        try:
            os.set_blocking(fd, False)
            self.loop.add_reader(fd, readable)
        except OSError as e:
            self.say.warn("unable to watch fd %d: %s" % (fd, e.strerror))
            done()

    def hook(self, done):
        argv = list(self.settings.stage2_hook)
        if not argv:
            done()
            return
        try:
            pid = spawn(argv, env=self.ctx.tree_env, stdin=self.ctx.devnull, session=None,
                        cwd=self.paths.root)
        except (SpawnError, OSError) as e:
            text = e.describe() if isinstance(e, SpawnError) else e.strerror
            self.say.line(0, "init: error: hook %s: %s" % (" ".join(argv), text))
            code = 127 if getattr(e, "errno", 0) == errno.ENOENT else 126
            if not self.failed(code, "hook %s" % " ".join(argv)):
                done()
            return

        def died(wstat):
            code = exit_code(wstat)
            if self.say.v3:
                self._v3_hook_line(" ".join(argv), code)
            else:
                self.say.info("hook %s exited %d" % (" ".join(argv), code))
            if code == 0 or not self.failed(code, "hook %s" % " ".join(argv)):
                done()

        self.loop.watch_child(pid, died)

    def _v3_hook_line(self, hook, code):
        """v3's rc.init: info when the hook exits 0, else a warning (fatal with B=2)."""
        from s6py.init.rc import RC_INIT

        if code == 0:
            self.say.line(2, "%s: info: hook %s exited 0" % (RC_INIT, hook))
        elif self.settings.behaviour_if_stage2_fails >= 2:
            self.say.line(0, "%s: fatal: hook %s exited %d" % (RC_INIT, hook, code))
        else:
            self.say.line(1, "%s: warning: hook %s exited %d" % (RC_INIT, hook, code))

    def rc_up(self, done):
        """An s6-rc image: `top` up (init.rc), then v3's verdict on a failure."""
        from s6py.init.rc import RcBoot

        self.rc = RcBoot(self.ctx, self, self.scanner.supervisor)

        def over(code, what):
            if code and self.rc_failed(code, what):
                return
            done()

        self.rc.up(over)

    def rc_failed(self, code, what):
        """v3's rc.init after `s6-rc change top` failed: True if the boot stops here."""
        behaviour = self.settings.behaviour_if_stage2_fails
        if what == "s6-rc-compile":
            self.exit_code.set(code, stage2_exited=True)
            self.request_stop("the s6-rc sources are invalid")
            return True
        if not self.failure:
            self.failure = code
        from s6py.init.rc import RC_INIT

        if behaviour >= 1:
            self.say.line(1, "%s: warning: s6-rc failed to properly bring all the services up!"
                          " Check your logs (in /run/uncaught-logs/current if you have"
                          " in-container logging) for more information." % RC_INIT)
        if behaviour >= 2:
            self.say.line(0, "%s: fatal: stopping the container." % RC_INIT)
            self.exit_code.set(code, stage2_exited=True)
            self.request_stop("s6-rc failed")
            return True
        return False

    def legacy_services(self, done):
        """The built-in oneshot legacy-services: services.d copied and supervised now, and
        with S6_CMD_WAIT_FOR_SERVICES awaited, CMD or not (v3's services-up)."""
        def copied():
            if self._scan_pending:
                self._scan_pending = False
                self._supervise()
            if self.settings.cmd_wait_for_services:
                self.wait_for_services(done, always=True)
            else:
                self._services_done(done)

        self.services(copied)

    def user_files(self, done):
        """v1/v2's two [s6-init] lines: /run/s6/etc/NAME names each user directory, and
        their scripts are made executable (one line saying what could not be)."""
        from s6py.init import perms, stage1

        names = [n for n in USER_DIRS if os.path.isdir(self.user_dir(n))]
        code = 0
        try:
            stage1.link_user_dirs(self.paths, {n: self.user_dir(n) for n in names})
        except OSError as e:
            self.say.warn("unable to make the user directories available in %s: %s"
                          % (self.paths.runtime_etc, e.strerror or e))
            code = 1
        self.say.stage("s6-init", "making user provided files available at /var/run/s6/etc...exited %d."
                       % code)
        stuck = perms.fix_modes(self.user_dir, read_only=self.settings.read_only_root)
        self.say.stage("s6-init", "ensuring user provided files have correct perms...exited 0.")
        if stuck:
            why = sorted({e.strerror or str(e) for _, e in stuck})
            self.say.info("%d user script(s) could not be made executable (%s): run through"
                          " their #! interpreter instead: %s"
                          % (len(stuck), "; ".join(why),
                             " ".join(os.path.relpath(p, self.paths.root) for p, _ in stuck)))
        done()

    def fix_attrs(self, done):
        directory = self.user_dir("fix-attrs.d")
        try:
            names = sorted(n for n in os.listdir(directory) if not n.startswith("."))
        except OSError:
            done()
            return
        names = [n for n in names if not os.path.isdir(os.path.join(directory, n))]
        self.say.stage("fix-attrs.d", "applying ownership & permissions fixes...")
        state = {"failures": 0, "applied": bool(names)}

        def one():
            if not self.sequence.may_continue():
                return
            if not names:
                self.say.stage("fix-attrs.d", "done.")
                if state["applied"]:
                    self.say.v3_line("fix-attrs", "warning", "fix-attrs is deprecated, please fix"
                                     " volume permissions in your container manager instead")
                if state["failures"] and self.failed(1, "fix-attrs.d"):
                    return
                done()
                return
            name = names.pop(0)
            self.say.stage("fix-attrs.d", "%s: applying... " % name)
            self.say.v3_line("fix-attrs", "info", "applying %s" % self.paths.shown(os.path.join(directory, name)))
            from s6py.init import fixattrs  # only for a file to apply (start-up time)

            def report(message):
                self.say.stage("fix-attrs.d", "%s: %s" % (name, message), level=1)

            try:
                failures = fixattrs.apply_file(os.path.join(directory, name),
                                               hidden=self.settings.fix_attrs_hidden, report=report)
            except Exception as e:  # one file, however broken, never stops the boot
                report("unable to apply it: %s: %s" % (type(e).__name__, e))
                failures = 1
            state["failures"] += failures
            self.say.stage("fix-attrs.d", "%s: exited %d." % (name, 1 if failures else 0))
            self.loop.call_soon(lambda: self.ctx.guard("fix-attrs.d", one))

        one()

    def cont_init(self, done):
        directory = self._present("cont-init.d", done)
        if directory is None:
            return
        from s6py.init.scripts import ScriptRunner  # only when there is a cont-init.d

        self.say.stage("cont-init.d", "executing container initialization scripts...")
        stop_first = self.settings.behaviour_if_stage2_fails >= 2
        runner = ScriptRunner(self.ctx, directory, "cont-init.d", stop_on_failure=stop_first,
                              active=self.sequence.may_continue)

        def finished(results):
            self.say.stage("cont-init.d", "done.")
            if any(code for _, code in results) and self.settings.behaviour_if_stage2_fails:
                self.say.v3_line("cont-init", "warning", "some scripts exited nonzero")
            for name, code in results:
                if code and self.failed(code, "cont-init.d/%s" % name):
                    return
            done()

        runner.run(finished)

    def services(self, done):
        directory = self._present("services.d", done)
        if directory is None:
            return
        self.say.stage("services.d", "starting services")
        self.started = []
        for index, name in enumerate(sorted(os.listdir(directory))):
            if name.startswith("."):
                continue
            src = os.path.join(directory, name)
            if not os.path.isdir(src):
                self.say.stage("services.d", "%s: not a directory, ignored" % name, level=1)
                continue
            if not os.path.isfile(os.path.join(src, "run")):
                self.say.stage("services.d", "%s: no run file, ignored" % name, level=1)
                continue
            dst = os.path.join(self.paths.real_scandir, name)
            # copied under a dot name (the scanner skips those), then renamed into place: a
            # copy that fails half-way is never supervised.  A short name of its own: NAME
            # may be 255 bytes, and a leftover that could not be removed must not stop the
            # next copy.
            partial = os.path.join(self.paths.real_scandir, ".copying-%d" % index)
            try:
                copy_service(src, partial)
                os.rename(partial, dst)
            except OSError as e:
                self.say.stage("services.d", "%s: unable to copy it to %s: %s"
                               % (name, dst, e.strerror or e), level=0)
                discard_tree(partial)
                continue
            self.started.append(name)
            self.say.v3_line("services-up", "info", "copying legacy longrun %s%s" % (
                name, "" if os.path.isfile(os.path.join(dst, "notification-fd"))
                else " (no readiness notification)"))
        if self.settings.cmd_wait_for_services and self.has_cmd:
            self._supervise()  # the wait step needs them running
        else:
            # as `s6-svscanctl -a` in v1 (asynchronous): the CMD does not wait for the
            # spawns; the scan runs right after the CMD has started (finished())
            self._scan_pending = True
        done()

    def wait_for_services(self, done, always=False):
        """S6_CMD_WAIT_FOR_SERVICES: every service of services.d that is supervised and
        not ./down is awaited: up, and ready when it has a notification-fd (v1/v2: only
        when there is a CMD; ALWAYS: v3, whether or not)."""
        if not (self.settings.cmd_wait_for_services and (self.has_cmd or always) and self.started):
            self._services_done(done)
            return
        supervisor = self.scanner.supervisor
        awaited = []
        for name in self.started:
            member = supervisor.members.get(name)
            if member is None or member.service is None or os.path.exists(
                    os.path.join(self.paths.scandir, name, "down")):
                continue
            awaited.append(member)
        maxtime = self.settings.cmd_wait_for_services_maxtime

        def over(late):
            self._wait = None
            if late:
                self.say.stage("services.d", "timed out after %d ms waiting for: %s"
                               % (maxtime, " ".join(late)), level=1)
                if self.failed(99, "waiting for services"):
                    return
            self._services_done(done)

        self._wait = supervisor.when_all(awaited, "ready", maxtime / 1000.0 if maxtime else None,
                                         over)

    def _services_done(self, done):
        if os.path.isdir(self.user_dir("services.d")):
            self.say.stage("services.d", "done.")
        done()

    # ------------------------------------------------------------------ end

    def finished(self):
        if self.settings.behaviour_if_stage2_fails:
            # v2: with a non-zero behaviour the boot's result goes to S6_STAGE2_EXITED
            self.exit_code.set(self.failure, stage2_exited=True)
        if self.failure and self.settings.behaviour_if_stage2_fails == 1 and not self.say.v3:
            self.say.line(1, BANNER.rstrip("\n"))
        self.on_done()
        if self._scan_pending and not self.sequence.cancelled:
            self._scan_pending = False
            self.ctx.guard("services.d", self._supervise)

    def _supervise(self):
        self.say.debug("supervising the services in %s" % self.paths.scandir)
        self.scanner.scan()
