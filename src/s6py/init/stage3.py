"""Stage 3: bring the container down, as fast as its processes allow.

    s6-rc         an s6-rc image: everything that is up, down in reverse dependency order
                  (oneshots' `down` run), bounded by S6_SERVICES_GRACETIME
    services      every supervised service down (its down-signal, then SIGCONT), loggers
                  after their producers; bounded by S6_SERVICES_GRACETIME
    cont-finish.d each script, in name order, each bounded by S6_KILL_FINISH_MAXTIME
    sync          only with S6_SYNC_DISKS
    TERM          SIGTERM + SIGCONT to every remaining process (setsid escapees included)
    KILL          SIGKILL to whatever outlived S6_KILL_GRACETIME, reap, exit

No fixed sleep: each wait ends as soon as what it waits for is done (all services down,
no process left), and the grace times are only upper bounds.

"Every remaining process": as PID 1 of a PID namespace that is kill(-1, ...), which reaches
everything in the namespace but us.  Otherwise (/init run by hand, not PID 1) we are a
child subreaper and signal our descendants, found by walking /proc; kill(-1) would hit
every process of the user on the host.
"""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import os

from s6py.init.context import UsesContext
from s6py.init.steps import Steps

__all__ = ["Stage3", "signal_everyone", "nothing_left", "descendants"]


def descendants(root_pid):
    """Pids of every descendant of ROOT_PID, from /proc (children lists or stat ppids)."""
    parent_of = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        try:
            ppid = int(data[data.rindex(b")") + 2:].split()[1])
        except (ValueError, IndexError):
            continue
        parent_of[int(name)] = ppid
    children = {}
    for pid, ppid in parent_of.items():
        children.setdefault(ppid, []).append(pid)
    result, todo = [], [root_pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            result.append(child)
            todo.append(child)
    return result


def signal_everyone(signums):
    """Send each of SIGNUMS to every other process we are responsible for."""
    if os.getpid() == 1:
        for signum in signums:
            try:
                os.kill(-1, signum)
            except OSError:
                pass
        return
    for pid in descendants(os.getpid()):
        for signum in signums:
            try:
                os.kill(pid, signum)
            except OSError:
                pass


def nothing_left():
    """True when we have no child at all, dead or alive (everything was reaped).

    As PID 1 (or a subreaper) every process of the container is a descendant of ours, so
    no child means no process.  WNOWAIT: looking must not reap what the loop dispatches."""
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    except OSError:
        return False
    return False


def reap_all_blocking():
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


class Stage3(UsesContext):
    """Bring everything down, then ON_DONE() (PID 1 exits).

    ctx        init.context.Context
    scanner    the engine.scanner.Scanner (None if stage 1 never opened it)
    catchall   the catch-all logger (S6_LOGGING), or None
    """

    def __init__(self, ctx, scanner, catchall, on_done, rc=None):
        UsesContext.__init__(self, ctx)
        self.scanner = scanner
        self.catchall = catchall
        self.on_done = on_done
        self.rc = rc                # init.rc.RcBoot of an s6-rc image, or None
        self.finish_ran = False     # cont-finish.d already run (legacy-cont-init's down)
        self.sequence = None
        self._timer = None
        self._waiting = None        # (predicate, done) of the current bounded wait

    def start(self):
        steps = [
            ("s6-rc", self.rc_down),
            ("stopping services", self.services),
            ("cont-finish.d", self.cont_finish_step),
            ("sync", self.sync),
            ("TERM", self.term_everyone),
            ("KILL", self.kill_everyone),
        ]
        self.loop.on_signal(signal.SIGCHLD, lambda signum: self._check())
        self.sequence = Steps(self.loop, steps, self.on_done, self.ctx.guard)
        self.sequence.start()

    # ------------------------------------------------------- bounded waits

    def _wait(self, predicate, timeout_ms, done):
        """Call DONE when PREDICATE() holds (checked now, and after every event we are
        told about), or after TIMEOUT_MS, whichever comes first."""
        if predicate():
            done()
            return
        self._waiting = (predicate, done)
        self._timer = self.loop.call_later(timeout_ms / 1000.0, self._expired)

    def _check(self):
        if self._waiting is None:
            return
        predicate, done = self._waiting
        if predicate():
            self._finish_wait(done)

    def _expired(self):
        self._timer = None
        if self._waiting is not None:
            self._finish_wait(self._waiting[1])

    def _finish_wait(self, done):
        self._waiting = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        done()

    # ---------------------------------------------------------------- steps

    def rc_down(self, done):
        if self.rc is None:
            done()
            return
        state = {"over": False}

        def over():
            state["over"] = True
            self._check()

        # v3's order: services.d stops as legacy-services goes down, cont-finish.d runs as
        # legacy-cont-init does (once what depends on base is down)
        self.rc.down_steps = {"legacy-services": self.legacy_services_down,
                              "legacy-cont-init": self._finish_once}
        self.rc.down(over)
        self._wait(lambda: state["over"], self.settings.services_gracetime, done)

    def services(self, done):
        scanner = self.scanner
        if scanner is None or not scanner.entries:
            if scanner is not None:
                scanner.terminate()
            done()
            return
        self.say.stage("s6-finish", "waiting for services.")
        state = {"finished": False}

        def finished():
            state["finished"] = True
            self._check()

        scanner.on_finished = finished
        scanner.terminate()
        self._wait(lambda: state["finished"], self.settings.services_gracetime, done)

    def legacy_services_down(self, done):
        """services.d's services down (their loggers go at the end, on EOF), bounded by
        S6_SERVICES_GRACETIME: v3's services-down."""
        scanner = self.scanner
        if scanner is None:
            done()
            return
        supervisor = scanner.supervisor
        members = [m for entry in scanner.entries.values() for m in entry.members
                   if "/" not in m.name]
        for member in members:
            member.down()
        supervisor.when_all(members, "finished", self.settings.services_gracetime / 1000.0,
                            lambda late: done())

    def _finish_once(self, done):
        self.finish_ran = True
        self.cont_finish(done)

    def cont_finish_step(self, done):
        """The stage's own cont-finish.d, unless legacy-cont-init's down has run it."""
        if self.finish_ran:
            done()
        else:
            self.cont_finish(done)

    def cont_finish(self, done):
        directory = self.ctx.paths.user_dir("cont-finish.d", self.settings.runtime_profile)
        if not os.path.isdir(directory):
            done()
            return
        from s6py.init.scripts import ScriptRunner  # only when there is a cont-finish.d

        self.say.stage("cont-finish.d", "executing container finish scripts...")
        runner = ScriptRunner(self.ctx, directory, "cont-finish.d",
                              timeout_ms=self.settings.kill_finish_maxtime, env=self.finish_env())

        def finished(results):
            self.say.stage("cont-finish.d", "done.")
            done()

        runner.run(finished)

    def finish_env(self):
        """cont-finish.d's environment: the tree's plus the variables of env-stage3
        (S6_STAGE2_EXITED...), read once, as v2's stage 3 did with `s6-envdir -I`."""
        from s6py.init import contenv, stage1

        env = dict(self.ctx.tree_env)
        directory = os.path.dirname(stage1.stage2_exited(self.ctx.paths))
        try:
            contenv.apply(env, contenv.read_envdir(directory))
        except OSError as e:
            self.say.warn("unable to read %s: %s" % (directory, e.strerror or e))
        return env

    def sync(self, done):
        if self.settings.sync_disks:
            self.say.stage("s6-finish", "syncing disks.")
            os.sync()
        done()

    def term_everyone(self, done):
        self.loop.reap()
        if nothing_left():
            done()
            return
        self.say.stage("s6-finish", "sending all processes the TERM signal.")
        if self.catchall is not None:
            # PID 1 lets go of the catch-all pipe: the logger (which ignores this TERM)
            # logs the last words of everyone, then ends on EOF
            self.catchall.release()
        signal_everyone((signal.SIGTERM, signal.SIGCONT))
        self._wait(nothing_left, self.settings.kill_gracetime, done)

    def kill_everyone(self, done):
        self.loop.reap()
        if not nothing_left():
            self.say.stage("s6-finish", "sending all processes the KILL signal and exiting.")
            signal_everyone((signal.SIGKILL,))
            reap_all_blocking()
        done()
