"""The supervision core's public API: a set of supervised services in this process.

Everything that supervises stands on this one object: the scan directory of /init and of
`s6-svscan` (engine.scanner), s6-rc's longruns, a status command.  It knows nothing of
directories to scan, stages or containers:

    sup = Supervisor(loop)
    svc = sup.add("web", "/run/service/web")              # supervised; ./run starts unless ./down
    sup.pipeline([("web", ...), ("web/log", ...)])        # web | web/log, the pipe held here
    sup.when(svc, "ready", timeout, callback)             # callback(True) or callback(False)
    svc.up(); svc.down()                                  # s6-svc -u / -d
    sup.remove("web")                                     # down, then forgotten
    sup.snapshot()                                        # every service's state, for status
    sup.terminate(on_empty)                               # everything down, producers first

A *pipeline* is N services where each one's stdout is the next one's stdin.  The pipes are
created and held by this process for the pipeline's whole life, so any member can die and
be restarted without the others losing a byte.  Going down, the first member is stopped;
each later one is only told to leave once its input reaches end of file, which happens
when its producer is gone and we close our copy of the write end (s6-svscan's order for a
service and its logger: loggers last, on EOF).

Running out of file descriptors is expected under a container's `nofile` limit: a service
that cannot be supervised for that reason is said once (one line naming the limit) and
queued; the queue is retried whenever a supervision ends (its fds are freed) and, as a
fallback for fds freed elsewhere, after RETRY_DELAY.  No service is lost for good.

`when(...)` conditions, computed from the status record the service keeps current:
    "up"        ./run is running (s6-svwait -u)
    "ready"     up, and ready if the service has a notification-fd (s6-rc's "up")
    "down"      ./run is not running (s6-svwait -d)
    "finished"  down, and ./finish done (s6-svwait -D)
    "gone"      the supervision ended (the service left the supervisor)
"""

import errno
import os

from s6py.engine.service import Event, Service

__all__ = ["Supervisor", "Member", "Waiter", "WaitAll", "FD_ERRNOS"]

#: errnos that mean "no fd left": in this process (EMFILE) or in the system (ENFILE)
FD_ERRNOS = (errno.EMFILE, errno.ENFILE)
RETRY_DELAY = 5.0
#: fds kept free for the supervised services' own work: spawning ./run (an exec-report
#: pipe, a notification pipe), status and death-tally writes, reading a config file,
#: a lazy import, a scan of the directory.  A service that would leave fewer is queued.
FD_HEADROOM = 6


def _condition(name):
    if name == "up":
        return lambda member: member.service is not None and member.service.status.is_up
    if name == "ready":
        return lambda member: (member.service is not None and member.service.status.is_up
                               and (member.service.status.ready
                                    or not member.service.tells_readiness))
    if name == "down":
        return lambda member: member.service is None or not member.service.status.is_up
    if name == "finished":
        return lambda member: member.service is None or not member.service.status.pid
    if name == "gone":
        return lambda member: member.service is None
    raise ValueError("unknown condition: %r" % (name,))


class Member:
    """One supervised service as the supervisor holds it.

    name       the name given to ./run ("web", "web/log")
    path       its service directory
    service    the engine.service.Service while supervised, None otherwise
    stdin, stdout
               the fds ./run gets (pipe ends the supervisor holds), None for the defaults
    error      why the last attempt to supervise it failed (None: it did not)
    """

    def __init__(self, supervisor, name, path, want_up, stdin=None, stdout=None):
        self.supervisor = supervisor
        self.name = name
        self.path = path
        self.want_up = want_up
        self.stdin = stdin
        self.stdout = stdout
        self.service = None
        self.error = None
        self.leaving = False           # remove() or terminate() asked it to go
        self.pipeline = None           # the Pipeline it belongs to, if any
        self.on_gone = None            # callback(member) once its supervision ended

    # ----------------------------------------------------------- commands

    def up(self):
        self._fire(Event.u)

    def down(self):
        self._fire(Event.d)

    def reload(self):
        """`s6-svc -l`: ./run gets its reload-signal (SIGHUP unless reload-signal says)."""
        self._fire(Event.l)

    def _fire(self, event):
        if self.service is not None:
            self.service.fire(event)

    def describe(self):
        """This member's line of a snapshot: a dict of plain values."""
        service = self.service
        record = {"name": self.name, "path": self.path, "supervised": service is not None,
                  "error": self.error}
        if service is None:
            return record
        st = service.status
        record.update({
            "state": service.state.name, "pid": st.pid, "since": st.stamp,
            "want_up": st.wantup, "ready": st.ready, "finishing": st.finishing,
            "paused": st.paused, "last_wstat": st.wstat,
            "restarts": service.deaths, "retry_at": service.nextstart,
        })
        return record


class Pipeline:
    """Members whose stdouts go into their consumers' stdins, through pipes held here.

    FEEDS[i] is the index of member i's consumer (None: its stdout is the default).  By
    default a chain, each member's stdout the next one's stdin; s6-rc's funnels give
    several producers one consumer, and those producers then write into the same pipe.
    The pipes are made when the pipeline is added or, when no fd was left then, before
    its first member's supervision starts (see Supervisor.start)."""

    def __init__(self, members, feeds=None):
        self.members = members
        if feeds is None:
            feeds = [i + 1 for i in range(len(members) - 1)] + [None]
        self.feeds = list(feeds)
        self.consumers = sorted({f for f in self.feeds if f is not None})
        self.inputs = {}       # consumer's index: [read, write], what its producers write into
        self.released = set()  # indexes of the producers gone for good

    def unmade(self):
        """How many of its pipes are still to be made."""
        return len(self.consumers) - len(self.inputs)

    def make_pipes(self):
        """Make the missing pipes and give the members their ends; OSError (none made)."""
        made = {}
        try:
            for index in self.consumers:
                if index not in self.inputs:
                    made[index] = list(os.pipe2(os.O_CLOEXEC))
        except OSError:
            for pipe in made.values():
                _close_end(pipe, 0)
                _close_end(pipe, 1)
            raise
        self.inputs.update(made)
        for index, member in enumerate(self.members):
            consumer = self.feeds[index]
            member.stdin = self.inputs[index][0] if index in self.inputs else None
            member.stdout = self.inputs[consumer][1] if consumer is not None else None

    def is_consumer(self, member):
        """Whether MEMBER reads what other members write (it leaves at EOF of that)."""
        return self.members.index(member) in self.consumers

    def release_output(self, member):
        """MEMBER is gone: once every producer writing into the same pipe is gone too,
        close our write end of it, so that the consumer reads EOF once the last of their
        processes is dead."""
        index = self.members.index(member)
        consumer = self.feeds[index]
        if consumer is None:
            return
        self.released.add(index)
        if consumer in self.inputs and all(
                i in self.released for i, f in enumerate(self.feeds) if f == consumer):
            _close_end(self.inputs[consumer], 1)

    def close(self):
        for pipe in self.inputs.values():
            _close_end(pipe, 0)
            _close_end(pipe, 1)


class Waiter:
    """A pending `when()`: `cancel()` makes sure its callback is never called."""

    def __init__(self, supervisor, member, test, callback):
        self.supervisor = supervisor
        self.member = member
        self.test = test
        self.callback = callback
        self.timer = None

    def check(self):
        if self.callback is not None and self.test(self.member):
            self._end(True)

    def expire(self):
        self.timer = None
        if self.callback is not None:
            self._end(False)

    def _end(self, result):
        callback = self.callback
        self.cancel()
        callback(result)

    def cancel(self):
        self.callback = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        waiters = self.supervisor._waiters.get(self.member.name)
        if waiters and self in waiters:
            waiters.remove(self)


class WaitAll:
    """A pending `when_all()`: one Waiter per member, one timer for them all."""

    def __init__(self, supervisor, members, condition, timeout, callback):
        self.callback = callback
        self.pending = {}
        self.timer = None
        for member in members:
            self.pending[member.name] = None
        for member in members:
            waiter = supervisor.when(member, condition, None, self._met(member.name))
            if member.name in self.pending:
                self.pending[member.name] = waiter
        if not self.pending:
            self._finish()
        elif timeout is not None and self.callback is not None:
            self.timer = supervisor.loop.call_later(timeout, self._finish)

    def _met(self, name):
        def result(ok):
            if ok and self.callback is not None:
                self.pending.pop(name, None)
                if not self.pending:
                    self._finish()
        return result

    def _finish(self):
        callback = self.callback
        late = sorted(self.pending)
        self.cancel()
        if callback is not None:
            callback(late)

    def cancel(self):
        self.callback = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for waiter in self.pending.values():
            if waiter is not None:
                waiter.cancel()


class Supervisor:
    """Every service supervised by this process.

    loop        the engine.loop.Loop
    reporter    a diag.Reporter for the supervisor's own lines ("s6-svscan: warning: ...")
    on_exit     callback(member) after a member's supervision ended on its own (s6-svc -x,
                a vanished directory) rather than through remove()/terminate(): the owner
                decides whether to supervise it again (s6-svscan does, after a second)
    """

    def __init__(self, loop, reporter, on_exit=None):
        self.loop = loop
        self.reporter = reporter
        self.on_exit = on_exit
        self.members = {}              # name -> Member, in the order added
        self._waiters = {}             # name -> [Waiter]
        self._starved = []             # members waiting for a free fd
        self._starved_timer = None
        self._on_empty = None
        self.terminating = False
        self._fd_limit = _nofile_limit()

    # ---------------------------------------------------------------- add

    def add(self, name, path, want_up=None, stdin=None, stdout=None):
        """Supervise the service directory PATH as NAME; returns its Member.

        WANT_UP None: up unless PATH/down exists (s6's rule); True/False: as told, the
        directory's ./down file notwithstanding (s6-rc brings longruns up itself)."""
        if name in self.members:
            raise ValueError("%s is already supervised" % name)
        member = Member(self, name, os.path.abspath(path), want_up, stdin, stdout)
        self.members[name] = member
        self.start(member)
        return member

    def pipeline(self, specs, want_up=None, feeds=None):
        """Supervise SPECS = [(name, path), ...] as a pipeline, first to last (or, with
        FEEDS, each member's output into the member FEEDS[i] indexes: see Pipeline), the
        consumers listed after their producers; returns the members.  When no fd is left for its pipes, the members wait in the queue of
        services that found no fd (one line for the whole shortage) and get their pipes
        when fds are free; any other failure to make them raises OSError (nothing
        supervised)."""
        members = [Member(self, name, os.path.abspath(path), want_up) for name, path in specs]
        line = Pipeline(members, feeds)
        try:
            line.make_pipes()
        except OSError as e:
            if e.errno not in FD_ERRNOS:
                raise
        for member in members:
            member.pipeline = line
            self.members[member.name] = member
        # consumers first, so that nothing a producer writes at once waits for a reader
        for member in reversed(members):
            self.start(member)
        return members

    def start(self, member):
        """(Re)start the supervision of MEMBER; False if it could not be (said once)."""
        if member.service is not None or self.members.get(member.name) is not member:
            return member.service is not None
        line = member.pipeline
        pipe_fds = 2 * line.unmade() if line is not None else 0
        if self._fd_limit is not None and not _room_for(pipe_fds + 2 + FD_HEADROOM):
            self._starve(member, OSError(errno.EMFILE, os.strerror(errno.EMFILE)), _fds_in_use())
            return False
        if pipe_fds:
            try:
                line.make_pipes()
            except OSError as e:
                if e.errno in FD_ERRNOS:
                    self._starve(member, e, _fds_in_use())
                else:
                    self._failed(member, "unable to create a pipe: " + e.strerror)
                return False
        service = Service(self.loop, member.path, member.name, stdin=member.stdin,
                          stdout=member.stdout, on_exit=self._service_ended,
                          want_up=member.want_up, reporter=self.reporter.about(member.name))
        service.member = member
        try:
            service.start()
        except BlockingIOError:
            self._failed(member, "another instance of s6-supervise is already running")
            return False
        except OSError as e:
            if e.errno in FD_ERRNOS:
                self._starve(member, e, _fds_in_use())
                return False
            self._failed(member, "unable to supervise: %s" % (
                "%s: %s" % (e.filename, e.strerror) if e.filename else e.strerror))
            return False
        member.error = None
        member.service = service
        service.add_listener(self._service_event)
        self._check_waiters(member)
        return True

    def _failed(self, member, message):
        """Say why once (until the reason changes)."""
        if member.error != message:
            member.error = message
            self.reporter.warn(member.name, ": ", message)

    def _starve(self, member, error, in_use):
        """No fd for MEMBER: one line for the whole shortage (not one per service), and
        MEMBER queued for the retry."""
        message = "unable to supervise: %s" % error.strerror
        if not self._starved and member.error != message:
            self.reporter.warn(
                member.name, ": ", message, " (", str(in_use), " fds open, limit ",
                str(self._fd_limit or "unknown"), ", ", str(FD_HEADROOM), " kept free): it and every service that finds no fd either will be"
                " supervised when descriptors are freed")
        member.error = message
        if member not in self._starved:
            self._starved.append(member)
        if self._starved_timer is None:
            self._starved_timer = self.loop.call_later(RETRY_DELAY, self._retry_starved)

    def _retry_starved(self):
        self._fd_limit = _nofile_limit()  # it may have been raised (prlimit)
        if self._starved_timer is not None:
            self._starved_timer.cancel()
            self._starved_timer = None
        waiting, self._starved = self._starved, []
        for index, member in enumerate(waiting):
            if self.terminating or member.leaving:
                continue
            if not self.start(member) and self._starved:
                # still no fd: the rest stay queued, in order, without a line each
                for later in waiting[index + 1:]:
                    if not later.leaving and later not in self._starved:
                        later.error = member.error
                        self._starved.append(later)
                return
        if waiting and not self._starved:
            self.reporter.info("descriptors freed: every queued service is supervised now")

    # ------------------------------------------------------------ remove

    def remove(self, name, callback=None, kill=False):
        """Bring NAME down and forget it; CALLBACK() once it is gone (at once if it was
        not supervised).  A pipeline's consumer leaves at EOF of its input, or at once
        with KILL."""
        member = self.members.get(name)
        if member is None:
            if callback is not None:
                callback()
            return
        member.leaving = True
        member.on_gone = (lambda _member: callback()) if callback is not None else None
        if member.service is None:
            self._forget(member)
            return
        self._stop(member, kill)

    def _stop(self, member, kill):
        """Tell MEMBER to leave: the first of a pipeline (or a lone service) is brought
        down; a consumer leaves at EOF of its input (SIGHUP to its supervisor), unless
        KILL (s6-svscanctl -q/-N) stops it at once."""
        line = member.pipeline
        consumer = line is not None and line.is_consumer(member)
        if member.service is None:
            self._forget(member)
            return
        if consumer and not kill:
            member.service.fire(Event.HUP)
        else:
            member.service.fire(Event.TERM)

    def terminate(self, on_empty=None, kill_consumers=False):
        """Bring every service down, producers before consumers; ON_EMPTY() once nothing
        is supervised any more."""
        self.terminating = True
        self._on_empty = on_empty
        if self._starved_timer is not None:
            self._starved_timer.cancel()
            self._starved_timer = None
        self._starved = []
        for member in list(self.members.values()):
            member.leaving = True
            self._stop(member, kill_consumers)
        self._check_empty()

    # ------------------------------------------------------------ events

    def _service_event(self, service, event):
        self._check_waiters(service.member)

    def _service_ended(self, service):
        member = service.member
        member.service = None
        self._check_waiters(member)
        if member.leaving or self.terminating:
            self._forget(member)
        elif self.on_exit is not None:
            self.loop.guard(self.on_exit, member)
        if self._starved:
            self.loop.call_soon(self._retry_starved)  # its fds are free now
        self._check_empty()

    def _forget(self, member):
        if self.members.get(member.name) is member:
            del self.members[member.name]
        if member in self._starved:
            self._starved.remove(member)
        line = member.pipeline
        if line is not None:
            line.release_output(member)
            if all(m.name not in self.members for m in line.members):
                line.close()
        for waiter in list(self._waiters.get(member.name, ())):
            waiter.check()
        if member.on_gone is not None:
            on_gone, member.on_gone = member.on_gone, None
            self.loop.guard(on_gone, member)
        self._check_empty()

    def forget(self, name):
        """Stop holding NAME without touching its processes (its supervision has ended,
        and the owner does not want it supervised again)."""
        member = self.members.get(name)
        if member is not None and member.service is None:
            self._forget(member)

    def _check_empty(self):
        if self.terminating and not self.members and self._on_empty is not None:
            on_empty, self._on_empty = self._on_empty, None
            on_empty()

    # -------------------------------------------------------------- waits

    def when(self, member, condition, timeout, callback):
        """CALLBACK(True) as soon as MEMBER meets CONDITION (see the module docstring;
        maybe at once), or CALLBACK(False) after TIMEOUT seconds (None: no limit).
        Returns a Waiter (cancel() it to give up)."""
        if isinstance(member, str):
            member = self.members[member]
        waiter = Waiter(self, member, _condition(condition), callback)
        self._waiters.setdefault(member.name, []).append(waiter)
        waiter.check()
        if waiter.callback is not None and timeout is not None:
            waiter.timer = self.loop.call_later(timeout, waiter.expire)
        return waiter

    def when_all(self, members, condition, timeout, callback):
        """CALLBACK([]) once every one of MEMBERS meets CONDITION, or CALLBACK(sorted
        names of those that did not) after TIMEOUT seconds (None: no limit).  Returns a
        WaitAll (cancel() it to give up)."""
        return WaitAll(self, members, condition, timeout, callback)

    def _check_waiters(self, member):
        for waiter in list(self._waiters.get(member.name, ())):
            waiter.check()

    # ------------------------------------------------------------ queries

    def services(self):
        """{name: Service} of everything supervised now."""
        return {name: m.service for name, m in self.members.items() if m.service is not None}

    def snapshot(self):
        """[dict] of every member's state (Member.describe), in the order added."""
        return [member.describe() for member in self.members.values()]


def _close_end(pipe, index):
    if pipe[index] is not None:
        try:
            os.close(pipe[index])
        except OSError:
            pass
        pipe[index] = None


def _room_for(count):
    """Whether COUNT more fds can be had now: they are opened and closed again.  (The
    number the kernel gives a new fd is no measure: once supervisions have ended, the
    holes they leave make it low however few numbers are left.)"""
    taken = []
    try:
        for _ in range(count):
            taken.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        return True
    except OSError:
        return False
    finally:
        for fd in taken:
            os.close(fd)


def _fds_in_use():
    """How many fds this process holds (for the shortage's line): the entries of
    /proc/self/fd, or without /proc the lowest free number (a lower bound)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # listdir's own
    except OSError:
        pass
    try:
        probe = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 1 << 30
    os.close(probe)
    return probe


def _nofile_limit():
    """The soft RLIMIT_NOFILE, read from /proc (no `resource` module in python3-minimal);
    None when unknown or unlimited."""
    try:
        with open("/proc/self/limits", "rb") as f:
            for line in f:
                if line.startswith(b"Max open files"):
                    value = line.split()[3]
                    return int(value) if value.isdigit() else None
    except (OSError, IndexError):
        pass
    return None
