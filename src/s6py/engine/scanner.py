"""The scan directory: s6-svscan's job, on the supervision core (engine.supervisor).

A scan finds the services (sub-directories, or symlinks to directories, not starting with
a dot) and hands each new one to the Supervisor: NAME alone, or, when `NAME/log` is a
directory, the pipeline NAME | NAME/log, whose pipe the supervisor holds so that either
side can restart without losing a byte.

Services whose directory disappeared are flagged inactive; a prune (`-n`, `-N`, `-h`,
SIGHUP) brings them down and forgets them.  `terminate()` brings everything down cleanly
(loggers last, on EOF) and calls `on_finished` once nothing is left.

Correspondence with s6-svscan + s6-supervise processes: "SIGTERM to the supervisor" is
`service.fire(Event.TERM)`, "the supervisor exited" is the supervisor's `on_exit`
callback, and "restart a dead supervisor of an active service after 1 s" is
`_restart_later()`.
"""

import os
import stat

from s6py.diag import Reporter
from s6py.engine.supervisor import Supervisor
from s6py.wire import control

__all__ = ["Scanner", "LockedError"]

RESUPERVISE_DELAY = 1.0


class LockedError(Exception):
    """Another s6-svscan holds SCANDIR/.s6-svscan/lock."""


class ScanEntry:
    """One name in the scan directory: its members (the service, maybe its logger)."""

    def __init__(self, name, members):
        self.name = name
        self.active = True
        self.members = members
        self.timers = {}           # member name -> pending re-supervision


class Scanner:
    """Supervise every service of SCANDIR from LOOP.

    on_finished()   called once after terminate() when every service is gone
    on_abort()      called for `b` (s6-svscanctl -b, SIGABRT in s6-svscan)
    on_command(letter) -> bool
                    called first for every s6-svscanctl letter read from the control
                    FIFO or given to command(); True means "handled", and the scanner's
                    own meaning of the letter is skipped (e.g. /init making t i q b
                    stop the container)
    """

    def __init__(self, loop, scandir, rescan_ms=0, on_finished=None, on_abort=None,
                 on_command=None, reporter=None):
        self.loop = loop
        self.scandir = os.path.abspath(scandir)
        self.rescan_ms = rescan_ms
        self.on_finished = on_finished
        self.on_abort = on_abort
        self.on_command = on_command
        self.reporter = reporter or Reporter("s6-svscan")
        self.supervisor = Supervisor(loop, self.reporter, on_exit=self._on_exit)
        self.entries = {}
        self.terminating = False
        self._finished = False
        self._control = None  # control.Endpoint of .s6-svscan once open_control() ran
        self._rescan_timer = None

    # ------------------------------------------------------------------ setup

    def open_control(self):
        """Create `.s6-svscan/`, take its lock, listen on its control FIFO.

        Raises LockedError if another scanner runs on the directory, OSError otherwise.
        """
        ctl = os.path.join(self.scandir, ".s6-svscan")
        try:
            os.mkdir(ctl, 0o755)
        except FileExistsError:
            pass
        try:
            self._control = control.Endpoint(os.path.join(self.scandir, control.SVSCAN_LOCK),
                                             os.path.join(self.scandir, control.SVSCAN_CONTROL))
        except BlockingIOError:
            raise LockedError("another instance of s6-svscan is already running on %s" % self.scandir)
        self.loop.add_reader(self._control.read_fd, self._on_control)
        if self.rescan_ms:
            self._schedule_rescan()

    def close_control(self):
        if self._control is not None:
            self.loop.remove_reader(self._control.read_fd)
            self._control.close()
            self._control = None

    def _schedule_rescan(self):
        def tick():
            self.scan()
            self._schedule_rescan()
        self._rescan_timer = self.loop.call_later(self.rescan_ms / 1000.0, tick)

    # ------------------------------------------------------------ control FIFO

    def _on_control(self):
        data = self._control.read()
        for letter in data.decode("ascii", "replace"):
            self.loop.guard(self.command, letter)  # a failing letter does not eat the rest

    def command(self, letter):
        """One s6-svscanctl letter (2.11): z a b h i t q n N."""
        if self.on_command is not None and self.on_command(letter):
            return
        if letter == "z":
            self.loop.reap()
        elif letter == "a":
            self.scan()
        elif letter == "b":
            if self.on_abort is not None:
                self.on_abort()
        elif letter == "h":
            self.scan()
            self.prune(kill_loggers=False)
        elif letter in "it":
            self.terminate()
        elif letter == "q":
            self.terminate(kill_loggers=True)
        elif letter == "n":
            self.prune(kill_loggers=False)
        elif letter == "N":
            self.prune(kill_loggers=True)

    # ------------------------------------------------------------------ scan

    def scan(self):
        """Supervise new directories (and retry failed ones); flag vanished ones inactive."""
        if self.terminating:
            return
        try:
            names = sorted(os.listdir(self.scandir))
        except OSError as e:
            self.reporter.warn("unable to read directory ", self.scandir, ": ", e.strerror)
            return
        seen = set()
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(self.scandir, name)
            try:
                if not stat.S_ISDIR(os.stat(path).st_mode):
                    continue
            except OSError:
                continue
            seen.add(name)
            entry = self.entries.get(name)
            if entry is None:
                if name in self.supervisor.members:
                    continue  # supervised by another owner (s6-rc's longruns)
                self._add(name, path)
            else:
                entry.active = True
                self._retry(entry)
        for name, entry in self.entries.items():
            if name not in seen:
                entry.active = False

    def _add(self, name, path):
        if os.path.isdir(os.path.join(path, "log")):
            try:
                members = self.supervisor.pipeline([(name, path),
                                                    (name + "/log", os.path.join(path, "log"))])
            except OSError as e:
                self.reporter.warn("unable to create a pipe for ", name, ": ", e.strerror)
                return
        else:
            members = [self.supervisor.add(name, path)]
        self.entries[name] = ScanEntry(name, members)

    def _retry(self, entry):
        """Supervise again what of ENTRY is not (a failed start, a lost supervisor)."""
        for member in entry.members:
            if member.service is None and member.name not in entry.timers:
                self.supervisor.start(member)

    # -------------------------------------------------------------- exits

    def _on_exit(self, member):
        """A supervision ended on its own: supervise it again in a second, or forget it."""
        entry = self.entries.get(member.name.split("/", 1)[0])
        if (entry is not None and entry.active and not self.terminating
                and os.path.isdir(member.path)):
            self._restart_later(entry, member)
        else:
            self.supervisor.forget(member.name)
            self._drop_if_idle(entry)

    def _restart_later(self, entry, member):
        def again():
            entry.timers.pop(member.name, None)
            if self.terminating or not entry.active:
                self.supervisor.forget(member.name)
                self._drop_if_idle(entry)
                return
            self.supervisor.start(member)
        entry.timers[member.name] = self.loop.call_later(RESUPERVISE_DELAY, again)

    def _drop_if_idle(self, entry):
        if entry is None or entry.timers:
            return
        if all(m.name not in self.supervisor.members for m in entry.members):
            if self.entries.get(entry.name) is entry:
                del self.entries[entry.name]
        self._check_finished()

    def _cancel_timers(self, entry):
        for timer in entry.timers.values():
            timer.cancel()
        entry.timers.clear()

    # ------------------------------------------------------------ shutdown

    def prune(self, kill_loggers=False):
        """Bring down and forget every inactive service (s6-svscanctl -n / -N)."""
        for entry in list(self.entries.values()):
            if entry.active:
                continue
            self._cancel_timers(entry)
            del self.entries[entry.name]
            for member in entry.members:
                self.supervisor.remove(member.name, kill=kill_loggers)

    def terminate(self, kill_loggers=False):
        """Bring every service down cleanly, loggers after their producers; then finish."""
        self.terminating = True
        if self._rescan_timer is not None:
            self._rescan_timer.cancel()
        for entry in self.entries.values():
            self._cancel_timers(entry)
        self.entries.clear()
        self.supervisor.terminate(self._check_finished, kill_consumers=kill_loggers)

    def _check_finished(self):
        if (self.terminating and not self._finished and not self.entries
                and not self.supervisor.members):
            self._finished = True
            if self.on_finished is not None:
                self.on_finished()

    # -------------------------------------------------------------- queries

    def services(self):
        """{name: Service} of everything supervised now ("foo", "foo/log")."""
        return self.supervisor.services()
