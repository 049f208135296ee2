"""The scan directory: s6-svscan's job, with every service supervised in this process.

A scan finds the services (sub-directories, or symlinks to directories, not starting with
a dot), starts a `Service` for each new one and, when `NAME/log` is a directory, a second
`Service` for the logger, joined by a pipe that *this object* creates and holds: ./run of
NAME writes to it, ./run of NAME/log reads from it, and either side can restart without
losing a byte because the pipe itself never closes while the pair is supervised.

Services whose directory disappeared are flagged inactive; a prune (`-n`, `-N`, `-h`,
SIGHUP) brings them down and forgets them.  `terminate()` brings everything down cleanly
(loggers last, on EOF) and calls `on_finished` once nothing is left.

Correspondence with s6-svscan + s6-supervise processes: "SIGTERM to the supervisor" is
`service.fire(Event.TERM)`, "the supervisor exited" is the service's `on_exit` callback,
and "restart a dead supervisor of an active service after 1 s" is `_restart_later()`.
"""

import os
import stat
import sys

from s6py.engine.service import Event, Service
from s6py.wire import control

__all__ = ["Scanner", "ScanEntry", "LockedError"]

RESUPERVISE_DELAY = 1.0


class LockedError(Exception):
    """Another s6-svscan holds SCANDIR/.s6-svscan/lock."""


def _warn(message):
    try:
        sys.stderr.write("s6-svscan: warning: " + message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class ScanEntry:
    """One name in the scan directory: the service, its optional logger, their pipe."""

    def __init__(self, name):
        self.name = name
        self.active = True
        self.main = None
        self.log = None
        self.has_log = False
        self.pipe = None           # (read_end, write_end), held for the pair's lifetime
        self.timers = {}           # "main"/"log" -> pending re-supervision
        self.last_error = {}       # "main"/"log" -> last start error printed

    def services(self):
        return [s for s in (self.main, self.log) if s is not None]

    def idle(self):
        return not self.services() and not self.timers


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
                 on_command=None):
        self.loop = loop
        self.scandir = os.path.abspath(scandir)
        self.rescan_ms = rescan_ms
        self.on_finished = on_finished
        self.on_abort = on_abort
        self.on_command = on_command
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
            self.loop._guard(self.command, letter)  # a failing letter does not eat the rest

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
        """Start services for new directories; flag vanished ones inactive."""
        if self.terminating:
            return
        try:
            names = sorted(os.listdir(self.scandir))
        except OSError as e:
            _warn("unable to read directory %s: %s" % (self.scandir, e.strerror))
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
                entry = self.entries[name] = ScanEntry(name)
            entry.active = True
            self._supervise(entry)
        for name, entry in self.entries.items():
            if name not in seen:
                entry.active = False

    def _supervise(self, entry):
        """Make sure both halves of an active entry are supervised (or about to be)."""
        path = os.path.join(self.scandir, entry.name)
        if entry.main is None and not entry.log and not entry.timers:
            entry.has_log = os.path.isdir(os.path.join(path, "log"))
        if entry.has_log and entry.pipe is None:
            try:
                entry.pipe = os.pipe2(os.O_CLOEXEC)
            except OSError as e:
                _warn("unable to create a pipe for %s: %s" % (entry.name, e.strerror))
                return
        if entry.has_log and entry.log is None and "log" not in entry.timers:
            self._start(entry, "log")
        if entry.main is None and "main" not in entry.timers:
            self._start(entry, "main")

    def _start(self, entry, which):
        path = os.path.join(self.scandir, entry.name)
        if which == "log":
            service = Service(self.loop, os.path.join(path, "log"), entry.name + "/log",
                              stdin=entry.pipe[0], on_exit=self._on_exit)
        else:
            stdout = entry.pipe[1] if entry.pipe is not None else None
            service = Service(self.loop, path, entry.name, stdout=stdout, on_exit=self._on_exit)
        service.entry = entry
        service.role = which
        try:
            service.start()
        except BlockingIOError:
            self._start_failed(entry, which, "another instance of s6-supervise is already running")
            return
        except OSError as e:
            self._start_failed(entry, which, "unable to supervise: %s" % (
                "%s: %s" % (e.filename, e.strerror) if e.filename else e.strerror))
            return
        entry.last_error.pop(which, None)
        setattr(entry, which, service)

    def _start_failed(self, entry, which, message):
        """Say why once (until the reason changes); retry at the next scan."""
        label = entry.name + ("/log" if which == "log" else "")
        if entry.last_error.get(which) != message:
            entry.last_error[which] = message
            _warn("%s: %s" % (label, message))
        if which == "main" and entry.log is not None and self.terminating:
            self._release_pipe_end(entry, 1)

    # -------------------------------------------------------------- exits

    def _on_exit(self, service):
        """A service's supervision ended: re-supervise it, or forget it."""
        entry = service.entry
        setattr(entry, service.role, None)
        if entry.active and not self.terminating and os.path.isdir(service.path):
            self._restart_later(entry, service.role)
        else:
            if service.role == "main":
                self._release_pipe_end(entry, 1)
            else:
                self._release_pipe_end(entry, 0)
                if entry.main is not None or "main" in entry.timers:
                    pass
            if entry.idle():
                self._forget(entry)
        self._check_finished()

    def _restart_later(self, entry, which):
        def again():
            entry.timers.pop(which, None)
            if self.terminating or not entry.active:
                if entry.idle():
                    self._forget(entry)
                self._check_finished()
                return
            self._start(entry, which)
        entry.timers[which] = self.loop.call_later(RESUPERVISE_DELAY, again)

    def _release_pipe_end(self, entry, index):
        """Close our copy of one end of the log pipe (the write end gives the logger EOF)."""
        if entry.pipe is None:
            return
        ends = list(entry.pipe)
        if ends[index] is not None:
            _close(ends[index])
            ends[index] = None
        entry.pipe = None if ends == [None, None] else tuple(ends)

    def _forget(self, entry):
        for timer in entry.timers.values():
            timer.cancel()
        entry.timers.clear()
        if entry.pipe is not None:
            for fd in entry.pipe:
                if fd is not None:
                    _close(fd)
            entry.pipe = None
        if self.entries.get(entry.name) is entry:
            del self.entries[entry.name]

    # ------------------------------------------------------------ shutdown

    def prune(self, kill_loggers=False):
        """Bring down and forget every inactive service (s6-svscanctl -n / -N)."""
        for entry in list(self.entries.values()):
            if entry.active:
                continue
            for timer in entry.timers.values():
                timer.cancel()
            entry.timers.clear()
            self._stop_entry(entry, kill_loggers)
            if entry.idle():
                self._forget(entry)

    def _stop_entry(self, entry, kill_loggers):
        if entry.main is not None:
            entry.main.fire(Event.TERM)
        else:
            self._release_pipe_end(entry, 1)
        if entry.log is not None:
            entry.log.fire(Event.TERM if kill_loggers else Event.HUP)

    def terminate(self, kill_loggers=False):
        """Bring every service down cleanly, loggers after their producers; then finish."""
        self.terminating = True
        if self._rescan_timer is not None:
            self._rescan_timer.cancel()
        for entry in list(self.entries.values()):
            for timer in entry.timers.values():
                timer.cancel()
            entry.timers.clear()
            self._stop_entry(entry, kill_loggers)
            if entry.idle():
                self._forget(entry)
        self._check_finished()

    def _check_finished(self):
        if self.terminating and not self._finished and not self.entries:
            self._finished = True
            if self.on_finished is not None:
                self.on_finished()

    # -------------------------------------------------------------- queries

    def services(self):
        """{name: Service} of everything supervised now ("foo", "foo/log")."""
        result = {}
        for entry in self.entries.values():
            for service in entry.services():
                result[service.name] = service
        return result


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass
