"""One supervised service: s6-supervise's state machine, without a process of its own.

The shape is s6-supervise.c's: five states, a list of events (deadline, death of the
child, the four supervisor signals, every control letter), and one literal grid, `GRID`
(state x event -> action and next state), at the end of this module.  The loop only turns
readiness of the control FIFO / readiness pipe, child deaths and deadlines into
`fire(event)` calls; `fire` runs the cell's action and makes its transition, the only place
where the state changes.

The on-disk side is byte-compatible with s6 2.11: `supervise/{lock,control,status,
death_tally}` and the `event/` fifodir, the status record rewritten at the same moments
(`announce()`), the same event bytes, so Debian's s6-svc, s6-svstat, s6-svwait and s6-svok
drive and read it exactly as they drive the real s6-supervise.

"The supervisor exits" (s6-supervise's `bail`) means here: the service object releases
its lock and FIFOs, sends the `x` event and tells its owner through `on_exit`.
"""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import errno
import os
import stat

from s6py.engine import spares
from s6py.engine.loop import read_available
from s6py.engine.spawn import SpawnError, fork_call, spawn, spawn_nowait
from s6py.wire import control, deathtally, events, fifodir, tai64n
from s6py.wire import status as svstatus

__all__ = ["State", "Event", "Service", "GRID", "COLUMNS", "ACTIONS", "LETTER_EVENTS"]

SPAWN_RETRY = 10       # seconds after a failed spawn of ./run (s6 2.11.3 says the same)
SYSCALL_RETRY = 60     # seconds after a failed pipe()/fork() (as s6)
KILL_RETRY = 5         # seconds between SIGKILLs of a process that will not die (as s6)
RESTART_INTERVAL = 1.0  # seconds between two spawns of ./run, unless ready for longer
LAZY_STATUS = 0.02     # seconds "up, want down" may wait for the death it asked for
#: ./run spawns whose exec is not confirmed yet, at most: each holds an fd of PID 1 (its
#: report pipe) until the loop reads it, and 500 services under podman's nofile=1024 leave
#: no room for 500 more.  Past it, the pending ones are settled (their reports read:
#: they have long exec'd) before the next spawn; and within FD_MARGIN of the nofile
#: limit, a spawn waits for its exec at once, as spawn() does.
MAX_PENDING_EXECS = 32
FD_MARGIN = 128
_pending_execs = []  # the Services whose ./run has such a report to come
FINISH_TIMEOUT_MS = 5000
SERVICE_LOCK = "supervise/service-lock"

#: How a logger whose ./run is one of the usual log/run forms runs without a new
#: interpreter: an object with plan(servicedir) -> a plan or None, and runner(plan) -> the
#: function spawn.fork_call runs in the child.  Installed by the programs that want it
#: (/init and s6-svscan call s6py.cmd.forkhook.install()), so that the engine knows
#: nothing of s6-log; None: every ./run is exec'd.
FORKED_LOGGERS = None

#: How a ./run whose interpreter needs no process of its own (a with-contenv shebang) runs
#: in a forked child: a function (servicedir, name) -> the function spawn.fork_call runs
#: in the child, or None (exec ./run).  Installed with FORKED_LOGGERS; None: exec always.
FORKED_RUNS = None


class _Symbols(type):
    """A tiny stand-in for enum.Enum (whose import costs ~5 ms of every start-up): each
    public class attribute becomes an instance of the class with .name and .value, and
    the class iterates over them in definition order."""

    def __new__(mcs, name, bases, namespace):
        cls = super().__new__(mcs, name, bases, {k: v for k, v in namespace.items()
                                                 if k.startswith("_")})
        members = []
        for key, value in namespace.items():
            if not key.startswith("_"):
                member = object.__new__(cls)
                member.name, member.value = key, value
                setattr(cls, key, member)
                members.append(member)
        cls._members = tuple(members)
        return cls

    def __iter__(cls):
        return iter(cls._members)

    def __len__(cls):
        return len(cls._members)


class _Symbol(metaclass=_Symbols):
    __slots__ = ("name", "value")

    def __repr__(self):
        return "<%s.%s: %r>" % (type(self).__name__, self.name, self.value)


class State(_Symbol):
    DOWN = 0        # nothing runs; a deadline may start ./run
    UP = 1          # ./run runs
    FINISH = 2      # ./finish runs
    LASTUP = 3      # ./run runs, and the supervisor leaves once it is down
    LASTFINISH = 4  # ./finish runs, and the supervisor leaves once it is done


class Event(_Symbol):
    TIMEOUT = "timeout"
    CHLD = "child died"
    TERM = "SIGTERM"
    HUP = "SIGHUP"
    QUIT = "SIGQUIT"
    INT = "SIGINT"
    a = "a"
    b = "b"
    q = "q"
    h = "h"
    k = "k"
    t = "t"
    i = "i"
    USR1 = "1"
    USR2 = "2"
    p = "p"
    c = "c"
    y = "y"
    r = "r"
    l = "l"  # noqa: E741 (s6 2.14's letter: the reload signal)
    P = "P"
    C = "C"
    K = "K"
    o = "o"
    d = "d"
    u = "u"
    D = "D"
    U = "U"
    x = "x"
    O = "O"
    Q = "Q"


#: control byte -> event (the letters of s6 2.11, P C K of 2.13, l of 2.14, and Q)
LETTER_EVENTS = {e.value.encode()[0]: e for e in Event if len(e.value) == 1}
assert {chr(b) for b in LETTER_EVENTS} == control.SUPERVISE_LETTERS

#: letter -> the signal its action `kill_LETTER` sends to ./run's pid (s6's killa ... killy)
SIMPLE_SIGNALS = {"a": "SIGALRM", "b": "SIGABRT", "q": "SIGQUIT", "h": "SIGHUP",
                  "k": "SIGKILL", "t": "SIGTERM", "i": "SIGINT", "1": "SIGUSR1",
                  "2": "SIGUSR2", "y": "SIGWINCH"}


def _default_reporter(name):
    """PID 1's and s6-svscan's form: `s6-svscan: warning: NAME: ...`."""
    from s6py.diag import Reporter

    return Reporter("s6-svscan").about(name)


class ServiceFiles:
    """Reads the optional configuration files of a service directory, s6's way:
    a missing file means the default, garbage gives one warning and the default."""

    def __init__(self, where, name, reporter):
        self._where = where      # -> the service directory's current path
        self.name = name
        self.warn = reporter.warn

    @property
    def path(self):
        return self._where()

    def read_line(self, filename, limit=64):
        """First line of FILENAME, or None if absent; warns on other errors."""
        try:
            fd = os.open(os.path.join(self.path, filename), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as e:
            self.warn("unable to open %s: %s" % (filename, e.strerror))
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                self.warn("%s is not a regular file, ignoring it" % filename)
                return None
            data = os.read(fd, limit)
        except OSError as e:
            self.warn("unable to read %s: %s" % (filename, e.strerror))
            return None
        finally:
            os.close(fd)
        return data.split(b"\n", 1)[0].decode("ascii", "replace")

    def read_uint(self, filename):
        text = self.read_line(filename)
        if text is None:
            return None
        text = text.strip()
        if not text.isdigit():
            self.warn("invalid %s, ignoring it" % filename)
            return None
        return int(text)

    def signal_file(self, filename, default):
        """The signal named in FILENAME (`down-signal`, `reload-signal`), else DEFAULT."""
        text = self.read_line(filename, 16)
        if text is None:
            return default
        from s6py.wire import signames  # imports `signal`, hence `enum`: only when needed

        try:
            return signames.number(text)
        except ValueError:
            self.warn("invalid %s, using %s"
                      % (filename, signames.name(default)))
            return default

    def down_signal(self):
        return self.signal_file("down-signal", signal.SIGTERM)

    def exists(self, filename):
        return os.path.lexists(os.path.join(self.path, filename))


class Service:
    """The supervision of one service directory.

    loop      the engine.loop.Loop
    path      the service directory (absolute)
    name      the name given to ./run and ./finish ("foo", "foo/log")
    stdin, stdout
              fds given to ./run and ./finish as 0 and 1 (None: /dev/null for stdin,
              our own stdout for stdout); the owner keeps them open.
    on_exit   callback(service) once the supervision has ended (after the `x` event)
    want_up   None: up unless ./down exists; True/False: as told
    reporter  a diag.Reporter for its warnings (default `s6-svscan: warning: NAME: ...`;
              a standalone s6-supervise says `s6-supervise NAME: warning: ...`)
    forked_loggers
              True (default): a logger (STDIN given) whose ./run is one of the usual
              log/run forms runs in a child forked from this process instead of exec'ing
              it, when the program installed FORKED_LOGGERS (docs/logging.md); False:
              always exec
    """

    def __init__(self, loop, path, name, stdin=None, stdout=None, on_exit=None, want_up=None,
                 reporter=None, forked_loggers=True):
        self.loop = loop
        self.forked_loggers = forked_loggers
        self.reporter = reporter if reporter is not None else _default_reporter(name)
        self.warn = self.reporter.warn
        self.initial_want_up = want_up  # None: up unless ./down exists; True/False: as told
        self.deaths = 0                # times ./run died under this supervision
        self.path = os.path.abspath(path)
        self.name = name
        self.stdin = stdin
        self.stdout = stdout
        self.on_exit = on_exit
        self.files = ServiceFiles(lambda: self.root, name, self.reporter)
        self.status = svstatus.Status()
        self.state = State.DOWN
        self.dying = False
        self.running = False
        self.nextstart = None          # monotonic time before which ./run is not respawned
        self._spawned_at = None        # monotonic time of the last spawn of ./run
        self._ready_at = None          # monotonic time that run became ready (None: not yet)
        self.tells_readiness = False   # the current ./run was given a notification-fd
        self._deadline = None
        self._notify_fd = None
        self._control = None  # control.Endpoint of supervise/ while supervised
        self._closed_stdio = False
        self._child_pid = 0          # pid we watch (./run or ./finish), 0 if none
        self._hosted = None          # log.hosting.HostedLogger when ./run is in a log host
        self._exec_pending = None    # spawn.Started of a ./run not known to have exec'd yet
        self._listeners = []
        self._held_events = None     # events of the transition under way (see fire)
        self._status_due = False     # announce() was called during it (see announce)
        self._lazy_status = None     # timer of a deferred status write (_release_events)
        self._root = None            # root, while a transition runs (one readlink each)
        self._in_transition = False

    # ---------------------------------------------------------------- life

    def start(self):
        """Take the lock, open the FIFOs, announce `s`, start ./run unless `down` exists.

        Raises OSError (or BlockingIOError when another supervisor holds the lock);
        the caller reports it.
        """
        self._control_init()
        try:
            fifodir.make(self._p("event"))
        except OSError:
            self._release()
            raise
        try:
            deathtally.clear(self.root)
        except OSError as e:
            self.warn("unable to truncate %s: %s" % (deathtally.FILENAME, e.strerror))
        self.status.wantup = (not self.files.exists("down")) if self.initial_want_up is None else self.initial_want_up
        self.status.stamp = tai64n.now()
        self.status.readystamp = self.status.stamp
        self.running = True
        self.loop.add_reader(self._control.read_fd, self._on_control)
        # s6-supervise announces the down state, sends `s`, and its first deadline (now)
        # spawns ./run.  Firing that deadline inside the same transition writes the status
        # once and `su` in one write (nobody can read in between, we are one thread).  The
        # event/ notification also removes stale listener FIFOs, as ftrigw_clean does.
        self._transition(self._birth)

    def _birth(self):
        self.notify(events.STARTED)
        if self.status.wantup:
            self._cell(Event.TIMEOUT)
        if self.state is State.DOWN:
            self.announce()

    def _p(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def root(self):
        """The service directory where it is *now*.

        s6-supervise chdir()s into its directory, so a service whose directory is renamed
        (moved out of the scan directory, then pruned) keeps updating status and events
        in the moved directory.  One process cannot chdir into every service, and holding
        a directory fd per service would cost a third fd each (PID 1 must supervise
        hundreds under nofile=1024): the lock fd we hold anyway names the directory, its
        /proc/self/fd link follows renames.  Before the lock is taken, or without /proc,
        it is the path we were given.  Read once per transition: a death used to read the
        link eight times."""
        if self._root is not None:
            return self._root
        if self._control is None:
            return self.path
        root = self._find_root()
        if self._in_transition:
            self._root = root  # for the rest of the transition (see _transition)
        return root

    def _find_root(self):
        try:
            lock = os.readlink("/proc/self/fd/%d" % self._control.lock_fd)
        except OSError:
            return self.path
        if lock.endswith(" (deleted)") or not lock.startswith("/"):
            return self.path
        return os.path.dirname(os.path.dirname(lock))

    def removed(self):
        """True once the service directory has been deleted (not merely renamed): its
        lock file, which we hold open, has no name left."""
        try:
            if self._control is not None:
                return os.fstat(self._control.lock_fd).st_nlink == 0
            return not os.path.isdir(self.path)
        except OSError:
            return True

    def _control_init(self):
        supervise = self._p("supervise")
        old = os.umask(0)
        try:
            try:
                os.mkdir(supervise, 0o700)
            except FileExistsError:
                if not os.path.isdir(supervise):
                    raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory", supervise)
            self._control = control.Endpoint(self._p(control.SUPERVISE_LOCK),
                                             self._p(control.SUPERVISE_CONTROL))
        finally:
            os.umask(old)

    def _release(self):
        if self._control is not None:
            self.loop.remove_reader(self._control.read_fd)
            self._control.close()
            self._control = None

    def bail(self):
        """End of supervision (s6-supervise exiting): `x`, release everything, tell the owner."""
        if not self.running:
            return
        self.running = False
        self.cancel_deadline()
        self._close_notify()
        if self._hosted is not None:
            # the logger goes on in its host, as a process goes on after s6-supervise
            self._hosted.on_exit = _forget_wstat
            self._hosted = None
        elif self._child_pid:
            self.loop.unwatch_child(self._child_pid)
        self._child_pid = 0
        if self._exec_pending is not None:
            _pending_execs.remove(self)
            self.loop.remove_reader(self._exec_pending.fd)
            self._exec_pending.close()
            self._exec_pending = None
        self.notify(events.EXITING)
        if self._status_due:
            self._write_status()  # a deferred "want down": the last word is on disk
        self._release_events()
        self._release()
        if self.on_exit is not None:
            self.on_exit(self)

    # ---------------------------------------------------------- plumbing

    def fire(self, event):
        """Run GRID's cell for EVENT in the current state: its action, then its transition.

        The events the action sends reach event/ and the in-process listeners once the
        transition is complete (one write; a listener sees the new state)."""
        if self.running:
            self._transition(self._cell, event)

    def _cell(self, event):
        action, if_done, if_not = ACTIONS[self.state][event]
        done = action(self)
        then = if_done if done or done is None else if_not
        if then is BAIL:
            self.bail()
        elif then is not None:
            self.state = then

    def _transition(self, step, *args):
        """Run STEP holding back the events it sends; then send them all at once."""
        if self._held_events is not None:  # a transition inside one (start's first deadline)
            step(*args)
            return
        self._held_events = bytearray()
        self._in_transition = True
        try:
            step(*args)
        finally:
            try:
                self._release_events()
            finally:
                self._in_transition = False
                self._root = None

    def announce(self):
        """Rewrite supervise/status (atomically), as s6's announce().  Inside a transition
        the write waits for its end, once, just before its events go out: a transition
        that changes the status twice (`u` on a down service: wanted up, then spawned)
        writes it once, and no reader woken by an event can see the status before it."""
        if self._held_events is not None:
            self._status_due = True
            return
        self._write_status()

    def _write_status(self):
        self._status_due = False
        if self._lazy_status is not None:
            self._lazy_status.cancel()
            self._lazy_status = None
        try:
            svstatus.write(self.root, self.status)
        except OSError as e:
            self.warn("unable to write status file: %s" % e.strerror)
            return
        spares.want(self.loop, self)  # its status.new is gone: another, once idle

    def notify(self, events):
        """Send EVENTS (bytes such as b"u", b"dD") to event/ listeners, then to the
        in-process listeners (add_listener), one call per event byte; during a transition,
        when it is complete."""
        if self._held_events is not None:
            self._held_events += events
            return
        self._send(events)

    def _release_events(self):
        held, self._held_events = self._held_events, None
        if self._status_due:
            if not held and self._death_asked():
                self._defer_status()
            else:
                self._write_status()
        if held:
            self._send(bytes(held))

    def _death_asked(self):
        """./run was just told to go down (`-d`: TERM and CONT sent, want down) and is
        still there: a transition that changed the status and sent no event."""
        return (self.state is State.UP and self.running and self.status.pid != 0
                and not self.status.wantup)

    def _defer_status(self):
        """Write "up, want down" only if the death has not come within LAZY_STATUS: the
        death's own transition writes "down" (and sends `d`), and this write is skipped.
        s6 writes both; a reader can tell only by reading in the few milliseconds between
        them, as it could miss it with s6 by reading later.  At a container's stop, it is
        one file fewer per service (half a millisecond each on an overlay /run)."""
        self._status_due = True
        if self._lazy_status is None:
            self._lazy_status = self.loop.call_later(LAZY_STATUS, self._lazy_write)

    def _lazy_write(self):
        self._lazy_status = None
        if self._status_due and self.running:
            self._write_status()

    def _send(self, events):
        fifodir.notify(self._p("event"), events)
        if self._listeners:
            for i in range(len(events)):
                event = events[i:i + 1]
                for callback in list(self._listeners):
                    self.loop.guard(callback, self, event)

    def add_listener(self, callback):
        """Call CALLBACK(service, event) for each event this service sends from now on,
        EVENT being one byte of b"suUdDOx", after the status file and event/ are updated
        (so service.status is current).  An exception in CALLBACK is reported by the
        loop's guard and does not disturb the service."""
        self._listeners.append(callback)

    def remove_listener(self, callback):
        try:
            self._listeners.remove(callback)
        except ValueError:
            pass

    def set_deadline(self, seconds):
        """Arm the service's single deadline SECONDS from now (None: no deadline)."""
        self.cancel_deadline()
        if seconds is not None:
            self._deadline = self.loop.call_later(seconds, self._on_deadline)

    def set_deadline_at(self, when):
        self.cancel_deadline()
        self._deadline = self.loop.call_at(when, self._on_deadline)

    def cancel_deadline(self):
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self):
        self._deadline = None
        self.fire(Event.TIMEOUT)

    def _on_control(self):
        try:
            data = self._control.read()
        except OSError as e:
            self.warn("unable to read supervise/control: %s" % e.strerror)
            return
        for byte in data:
            event = LETTER_EVENTS.get(byte)
            if event is not None:
                self.fire(event)
            if not self.running:
                return

    def _spawn_nowait(self, stdin, stdout, fds, lock):
        """Spawn ./run without waiting for its exec (see MAX_PENDING_EXECS); its pid.
        SpawnError when it is known at once that it could not start."""
        if len(_pending_execs) >= MAX_PENDING_EXECS:
            settle_pending_execs()
        started = spawn_nowait(["./run", self.name], cwd=self.root, stdin=stdin,
                               stdout=stdout, fds=fds, lock=lock)
        if started.fd >= _fd_ceiling():  # fds are short: hold none of them for reports
            settle_pending_execs()
            error = started.wait()
            if error is not None:
                raise error
            return started.pid
        self._exec_pending = started
        _pending_execs.append(self)
        self.loop.add_reader(started.fd, self._on_exec_report)
        return started.pid

    def _on_exec_report(self):
        """./run's report pipe is readable: it exec'd (EOF), or it says why it could not."""
        error = self._take_exec_report()
        if error is not None:
            self._transition(self._exec_failed, error)

    def _take_exec_report(self):
        started, self._exec_pending = self._exec_pending, None
        if started is None:
            return None
        _pending_execs.remove(self)
        self.loop.remove_reader(started.fd)
        return started.outcome()

    def _exec_failed(self, error):
        """./run could not be started after all (spawn_nowait learnt it after the spawn
        was announced): as a spawn that failed at once, back to down, the warning, and
        the retry in SPAWN_RETRY seconds; and `d`, after the `u` the spawn sent.  The
        child's own exit (127) is not a death of ./run: it is not watched any more."""
        if self._child_pid:
            self.loop.unwatch_child(self._child_pid)  # the loop reaps it as an orphan
            self._child_pid = 0
        self._close_notify()
        self.status.pid = 0
        self.status.ready = False
        self.status.stamp = tai64n.now()
        self._ready_at = None
        self.tells_readiness = False
        self._retry_failed_spawn(error)
        if self.state is State.LASTUP:
            self.bail()  # (which cancels the retry)
            return
        self.state = State.DOWN
        self.announce()
        self.notify(events.DOWN + events.FINISHED)

    def _retry_failed_spawn(self, error):
        """./run could not be started (SpawnError ERROR): one warning, a retry later."""
        self.warn("%s - waiting %d seconds" % (error.describe().replace("./run", "run"), SPAWN_RETRY))
        self.set_deadline(SPAWN_RETRY)

    def _on_child(self, wstat):
        error = self._take_exec_report()  # a child that died before its report was read
        if error is not None:
            self._child_pid = 0
            self._transition(self._exec_failed, error)
            return
        self._child_pid = 0
        self._hosted = None
        self._last_wstat = wstat
        if self.removed():
            self._vanished()
            return
        self.fire(Event.CHLD)

    def _vanished(self):
        """The directory was deleted under us: say so once and end this supervision."""
        self.warn("service directory %s was removed - no longer supervised"
                  % self.path)
        self.bail()

    def _on_notify(self):
        """Readiness: a newline on the notification pipe (data before it is ignored)."""
        while True:
            data = read_available(self._notify_fd, 512)
            if data is None:
                return
            if b"\n" in data:
                self._ready_at = self.loop.time()
                self.status.readystamp = tai64n.now()
                self.status.ready = True
                self.announce()
                self.notify(events.READY)
                self._close_notify()
                return
            if not data:
                self._close_notify()
                return

    def _close_notify(self):
        if self._notify_fd is not None:
            self.loop.remove_reader(self._notify_fd)
            _close(self._notify_fd)
            self._notify_fd = None

    def _stdio(self):
        stdin = _devnull() if self.stdin is None else self.stdin
        stdout = self.stdout
        if stdout is None and self._closed_stdio:
            stdout = _devnull()
        return stdin, stdout

    def kill(self, signum):
        if self._hosted is not None:
            self._hosted.signal(signum)
        elif self.status.pid:
            try:
                os.kill(self.status.pid, signum)
            except OSError:
                pass

    def killpg(self, signum):
        if self._hosted is not None:
            self._hosted.signal(signum, group=True)
        elif self.status.pid:
            try:
                os.killpg(os.getpgid(self.status.pid), signum)
            except OSError:
                pass

    # ------------------------------------------------------------ actions

    def nop(self):
        pass

    def _pause(self, send, signum, paused):
        send(signum)
        self.status.paused = paused
        self.announce()

    def kill_p(self):
        self._pause(self.kill, signal.SIGSTOP, True)

    def kill_c(self):
        self._pause(self.kill, signal.SIGCONT, False)

    def kill_P(self):
        self._pause(self.killpg, signal.SIGSTOP, True)

    def kill_C(self):
        self._pause(self.killpg, signal.SIGCONT, False)

    def kill_K(self):
        self.killpg(signal.SIGKILL)

    def kill_r(self):
        self.kill(self.files.down_signal())

    def kill_l(self):
        self.kill(self.files.signal_file("reload-signal", signal.SIGHUP))

    def sigint(self):
        """SIGINT to the supervisor: forward it to the service's process group, then leave."""
        self.killpg(signal.SIGINT)
        self.bail()

    def close_them(self):
        """s6's closethem(): future ./finish runs with stdin and stdout on /dev/null."""
        self.stdin = None
        self.stdout = None
        self._closed_stdio = True

    def want_down(self):
        self.status.wantup = False
        self.announce()

    def want_up(self):
        self.status.wantup = True
        self.announce()

    def add_down_file(self):
        try:
            fd = os.open(self._p("down"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            os.close(fd)
        except OSError as e:
            self.warn("unable to create ./down file: %s" % e.strerror)

    def del_down_file(self):
        try:
            os.unlink(self._p("down"))
        except FileNotFoundError:
            pass
        except OSError as e:
            self.warn("unable to unlink ./down file: %s" % e.strerror)

    def want_DOWN(self):
        self.add_down_file()
        self.want_down()

    def want_UP(self):
        self.del_down_file()
        self.want_up()

    # Actions whose cell has two next states return True when they did what they tried
    # (./run or ./finish spawned), False when not.

    def down_timeout(self):
        if self.status.wantup:
            return self.try_start()
        self.cancel_deadline()
        return False

    def down_o(self):
        self.want_down()
        return self.try_start()

    def down_u(self):
        self.want_up()
        return self.try_start()

    def down_U(self):
        self.want_UP()
        return self.try_start()

    def try_start(self):
        """Spawn ./run NAME; False if it could not (said once; a retry deadline is armed,
        or the supervision ended because the directory is gone)."""
        self.cancel_deadline()
        if self.removed():
            self._vanished()
            return False
        if not self._spawn_run():
            return False
        self.announce()
        self.notify(events.UP)
        return True

    def _spawn_run(self):
        """Spawn ./run and record it in the status (not written); False if it failed
        (then the warning is printed and the retry deadline armed)."""
        lock = None
        lock_fd = self.files.read_uint("lock-fd")
        if lock_fd is not None:
            if lock_fd < 3 or lock_fd > 1023:
                self.warn("invalid lock-fd, ignoring it")
                lock_fd = None
            else:
                if _is_locked(self._p(SERVICE_LOCK)):
                    self.warn("another instance of the service is already"
                              " running, child will block")
                lock = (lock_fd, SERVICE_LOCK)
        notif = self.files.read_uint("notification-fd")
        if notif is not None and notif > 1023:
            self.warn("invalid notification-fd, ignoring it")
            notif = None
        if notif is not None and notif == lock_fd:
            self.warn("unable to start service: notification-fd and"
                      " lock-fd are the same")
            return False
        fds = {}
        notify_pipe = None
        try:
            stdin, stdout = self._stdio()
            if notif is not None:
                notify_pipe = os.pipe2(os.O_CLOEXEC)
                fds[notif] = notify_pipe[1]
            plan = self._logger_plan()
            hosted = None
            if plan is None:
                runner = FORKED_RUNS(self.root, self.name) if FORKED_RUNS is not None else None
                if runner is None:
                    pid = self._spawn_nowait(stdin, stdout, fds, lock)
                else:
                    pid = fork_call(runner, label="./run", cwd=self.root, stdin=stdin,
                                    stdout=stdout, fds=fds, lock=lock)
            else:
                if lock is None:
                    hosted = FORKED_LOGGERS.host(self.loop, plan, self.root, stdin, stdout,
                                                 fds, self._on_child)
                if hosted is not None:
                    pid = hosted.pid
                else:
                    pid = fork_call(FORKED_LOGGERS.runner(plan), label="./run", cwd=self.root,
                                    stdin=stdin, stdout=stdout, fds=fds, lock=lock)
        except SpawnError as e:
            self._close_pair(notify_pipe)
            self._retry_failed_spawn(e)
            return False
        except OSError as e:
            self._close_pair(notify_pipe)
            self.warn("unable to spawn ./run: %s - waiting %d seconds"
                      % (e.strerror, SYSCALL_RETRY))
            self.set_deadline(SYSCALL_RETRY)
            return False
        if notify_pipe is not None:
            os.close(notify_pipe[1])
            self._notify_fd = notify_pipe[0]
            os.set_blocking(self._notify_fd, False)
            self.loop.add_reader(self._notify_fd, self._on_notify)
        self._hosted = hosted
        if hosted is None:
            self._watch(pid)
        else:
            self._child_pid = pid  # the host's: its loggers' ends come from log.hosting
        self._spawned_at = self.loop.time()
        # without notification-fd, being up is being ready (s6 sets the flag at spawn)
        self._ready_at = None if notify_pipe is not None else self._spawned_at
        self.tells_readiness = notify_pipe is not None
        self.nextstart = None
        self.status.pid = pid
        self.status.ready = False
        self.status.stamp = tai64n.now()
        return True

    def _logger_plan(self):
        """The runscript.Plan of ./run when this service is a logger (it reads a pipe we
        hold) whose script is one of the usual forms and forked loggers are not disabled;
        None: exec ./run as always.  Decided at every spawn, from the file as it is now."""
        if self.stdin is None or not self.forked_loggers or FORKED_LOGGERS is None:
            return None
        run = self._p("run")
        if not os.access(run, os.X_OK):
            return None  # exec would fail: let it, and say so as always
        return FORKED_LOGGERS.plan(self.root)

    @staticmethod
    def _close_pair(pair):
        if pair is not None:
            for fd in pair:
                _close(fd)

    def _watch(self, pid):
        self._child_pid = pid
        self.loop.watch_child(pid, self._on_child)

    def _record_death(self):
        limit = self.files.read_uint("max-death-tally")
        try:
            deathtally.append(self.root, self.status.stamp, self.status.wstat,
                              deathtally.DEFAULT_MAX if limit is None else limit)
        except deathtally.TallyError as e:
            self.warn("unable to %s %s: %s" % (e.action, deathtally.FILENAME, e.strerror))

    def _run_died(self):
        """./run is dead: record it, spawn ./finish; False when there is no ./finish."""
        wstat = self._last_wstat
        self.nextstart = self._restart_time(self.loop.time())
        self.status.wstat = wstat
        self.status.paused = False
        self.status.ready = False
        self.dying = False
        self.deaths += 1
        self.status.stamp = tai64n.now()
        self._close_notify()
        self._record_death()
        if os.WIFSIGNALED(wstat):
            code, sig = 256, os.WTERMSIG(wstat)
        else:
            code, sig = os.WEXITSTATUS(wstat), 0
        pgid = self.status.pid
        if not self.files.exists("finish"):
            # s6 just tries the spawn; a failed posix_spawn still costs a whole clone, which
            # is most of our -d -> D latency, so look first.
            self.set_down_and_ready(events.DOWN + events.FINISHED)
            return False
        try:
            stdin, stdout = self._stdio()
            pid = spawn(["./finish", str(code), str(sig), self.name, str(pgid)],
                        cwd=self.root, stdin=stdin, stdout=stdout)
        except SpawnError as e:
            if not (e.step == "exec" and e.errno == errno.ENOENT and not self.files.exists("finish")):
                self.warn(e.describe())
            self.set_down_and_ready(events.DOWN + events.FINISHED)
            return False
        except OSError as e:
            self.warn("unable to spawn ./finish: %s" % e.strerror)
            self.set_down_and_ready(events.DOWN + events.FINISHED)
            return False
        self._watch(pid)
        self.status.pid = pid
        timeout = self.files.read_uint("timeout-finish")
        if timeout is None:
            timeout = FINISH_TIMEOUT_MS
        self.set_deadline(timeout / 1000.0 if timeout else None)
        self.status.finishing = True
        self.announce()
        self.notify(events.DOWN)
        return True

    def _restart_time(self, died_at):
        """When ./run may be spawned again after a death at DIED_AT (the issue's throttle):
        at once if the run had been ready for more than RESTART_INTERVAL, otherwise not
        before RESTART_INTERVAL after its spawn.  (Debian's s6 2.11.3 waits a second after
        the death of a service without notification-fd; see docs/supervision.md.)"""
        if self._ready_at is not None and died_at - self._ready_at > RESTART_INTERVAL:
            return died_at
        return (died_at if self._spawned_at is None else self._spawned_at) + RESTART_INTERVAL

    def set_down_and_ready(self, events):
        """Down (and so ready to be started again), as s6's set_down_and_ready; the cell
        that calls it leads to DOWN."""
        self.status.pid = 0
        self.status.finishing = False
        self.status.ready = True
        self.set_deadline_at(self.loop.time() + RESTART_INTERVAL if self.nextstart is None
                             else self.nextstart)
        self.status.readystamp = tai64n.now()
        self.announce()
        self.notify(events)

    def up_z(self):
        return self._run_died()

    def lastup_z(self):
        return self._run_died()

    def up_timeout(self):
        if self.dying:
            self.kill_timeout_kill()
            self.set_deadline(KILL_RETRY)
        else:
            self.cancel_deadline()

    def kill_timeout_kill(self):
        if self.files.exists("flag-timeout-killpg"):
            self.killpg(signal.SIGKILL)
        else:
            self.kill(signal.SIGKILL)

    def up_d(self):
        self.status.wantup = False
        self.kill_r()
        self.kill_c()
        timeout = self.files.read_uint("timeout-kill")
        if timeout:
            self.set_deadline(timeout / 1000.0)
            self.dying = True
        else:
            self.cancel_deadline()

    def up_D(self):
        self.add_down_file()
        self.up_d()

    def up_x(self):
        self.close_them()

    def up_term(self):
        self.up_d()

    def finish_timeout(self):
        self.warn("finish script lifetime reached maximum value -"
                  " sending it a SIGKILL")
        self.kill_c()
        self.kill(signal.SIGKILL)
        self.set_deadline(KILL_RETRY)

    def finish_z(self):
        wstat = self._last_wstat
        if os.WIFEXITED(wstat) and os.WEXITSTATUS(wstat) == 125:
            self.status.wantup = False
            self.set_down_and_ready(events.FAILED + events.FINISHED)
        else:
            self.set_down_and_ready(events.FINISHED)

    def finish_x(self):
        self.close_them()

    def lastfinish_z(self):
        self.finish_z()


def _signal_sender(signame):
    number = getattr(signal, signame)
    return lambda service: service.kill(number)


for _letter, _signame in SIMPLE_SIGNALS.items():
    setattr(Service, "kill_" + _letter, _signal_sender(_signame))

#: pseudo-state of a cell: the supervision ends (s6-supervise's bail())
BAIL = "bail"

#: GRID's columns, in s6-supervise.c's order
COLUMNS = (Event.TIMEOUT, Event.CHLD, Event.TERM, Event.HUP, Event.QUIT, Event.INT,
           Event.a, Event.b, Event.q, Event.h, Event.k, Event.t, Event.i, Event.USR1, Event.USR2,
           Event.p, Event.c, Event.y, Event.r, Event.l, Event.P, Event.C, Event.K,
           Event.o, Event.d, Event.u, Event.D, Event.U, Event.x, Event.O, Event.Q)

_D, _U, _F, _LU, _LF = State.DOWN, State.UP, State.FINISH, State.LASTUP, State.LASTFINISH
_KILLS = ("kill_a", "kill_b", "kill_q", "kill_h", "kill_k", "kill_t", "kill_i", "kill_1",
          "kill_2", "kill_p", "kill_c", "kill_y", "kill_r", "kill_l", "kill_P", "kill_C", "kill_K")
_NOPS = ("nop",) * len(_KILLS)

#: The whole behaviour of a supervised service: GRID[state] is a row of cells, one per
#: event of COLUMNS.  A cell is an action (a Service method name), or (action, next state),
#: or (action, next state if the action did what it tried, next state if not): ./run or
#: ./finish spawned.  No next state: the state stays.  tests/test_engine_service.py checks
#: every cell against s6-supervise.c's table and transitions.
GRID = {
    #  TIMEOUT              CHLD                      TERM             HUP
    #  QUIT    INT          control letters a..K (signals to ./run)
    #  o          d            u                    D            U                    x                  O            Q
    _D: (("down_timeout", _U, None), "nop", ("bail", BAIL), ("bail", BAIL),
         ("bail", BAIL), ("bail", BAIL)) + _NOPS +
        (("down_o", _U, None), "want_down", ("down_u", _U, None), "want_DOWN", ("down_U", _U, None),
         ("bail", BAIL), "want_down", "want_DOWN"),
    _U: ("up_timeout", ("up_z", _F, _D), ("up_term", _LU), ("up_x", _LU),
         ("bail", BAIL), ("sigint", BAIL)) + _KILLS +
        ("want_down", "up_d", "want_up", "up_D", "want_UP", ("up_x", _LU), "want_down", "want_DOWN"),
    _F: ("finish_timeout", ("finish_z", _D), ("finish_x", _LF), ("finish_x", _LF),
         ("bail", BAIL), ("sigint", BAIL)) + _NOPS +
        ("want_down", "want_down", "want_up", "want_DOWN", "want_UP", ("finish_x", _LF),
         "want_down", "want_DOWN"),
    _LU: ("up_timeout", ("lastup_z", _LF, BAIL), "up_d", "close_them",
          ("bail", BAIL), ("sigint", BAIL)) + _KILLS +
         ("want_down", "up_d", "want_up", "up_D", "want_UP", "close_them", "want_down", "want_DOWN"),
    _LF: ("finish_timeout", ("lastfinish_z", BAIL), "nop", "close_them",
          ("bail", BAIL), ("sigint", BAIL)) + _NOPS +
         ("want_down", "want_down", "want_up", "want_DOWN", "want_UP", "close_them",
          "want_down", "want_DOWN"),
}


def _compile(grid):
    """GRID -> ACTIONS[state][event] = (method, next if done, next if not): what fire() runs."""
    actions = {}
    for state, row in grid.items():
        assert len(row) == len(COLUMNS), (state, len(row))
        cells = {}
        for event, cell in zip(COLUMNS, row):
            if isinstance(cell, str):
                cell = (cell,)
            name, targets = cell[0], cell[1:] or (None,)
            cells[event] = (getattr(Service, name), targets[0], targets[-1])
        actions[state] = cells
    return actions


ACTIONS = _compile(GRID)


def settle_pending_execs():
    """Read now every pending ./run report (each read waits at most for that exec).
    Before the CMD starts: every service spawned so far has exec'd its ./run by then, as
    when each spawn waited (a CMD that talks to a service at once finds its process)."""
    for service in list(_pending_execs):
        service.loop.guard(service._on_exec_report)


def _fd_ceiling():
    """The lowest fd number at which a spawn keeps no report fd pending: FD_MARGIN below
    the nofile limit (a new fd is the lowest free one: at least that many are open)."""
    try:
        limit = os.sysconf("SC_OPEN_MAX")
    except (OSError, ValueError):
        limit = 1024
    return max(limit - FD_MARGIN, limit // 2)


def _forget_wstat(_wstat):
    pass


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


_DEVNULL = None
def _devnull():
    """One /dev/null fd for every service of the process (opened once, kept open)."""
    global _DEVNULL
    if _DEVNULL is None:
        _DEVNULL = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    return _DEVNULL


def _is_locked(path):
    try:
        return control.is_locked(path)
    except OSError:
        return False
