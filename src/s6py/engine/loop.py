"""The event loop: one process, no threads, no polling.

The one loop of s6py: PID 1 (the supervisor and /init around it) and s6-log run on it.
Everything they react to reaches them through one epoll_wait (or `selectors` where there
is no epoll):
  * file descriptors (control FIFOs, readiness pipes, s6-log's stdin) -> reader
    callbacks, and writer callbacks (s6-log's stdout); a regular file or /dev/null, which
    epoll refuses, counts as always ready, as poll() says;
  * signals -> `signal.set_wakeup_fd` writes the signal number into a non-blocking pipe,
    the loop reads the numbers and runs the callbacks registered with `on_signal`;
  * deadlines -> a heap of timers; the select timeout is the nearest one, or None.
When nothing happens the process sleeps in `select()` with no timeout: zero wake-ups.

Children are reaped here and nowhere else: on SIGCHLD the loop calls
`waitpid(-1, WNOHANG)` until nothing is left, hands each status to the callback given to
`watch_child(pid, ...)`, and simply drops the status of unwatched pids (orphans that
re-parented to us as PID 1 or as a subreaper).

A callback that raises does not stop the loop: the traceback is written to stderr once
(identical tracebacks are not repeated) and the loop carries on.  PID 1 must not die.
With `Loop(traceback=False)` the report is one line, `PROG: warning: internal error:
TYPE: MESSAGE`, once per distinct error.  `guard(callback, *args)` is that protection for
a caller's own calls.  A program that should rather die of its bugs (s6-log: its
supervisor restarts it) builds `Loop(carry_on=False)`.

Signals that arrive before anybody asked for them are not lost: `Loop(signals=...)`
catches a set of signals from construction on (empty signal mask included, so what a
caller blocked early is delivered now, into the wake-up pipe), and a caught signal that
has no callback yet is kept until `on_signal` registers one.
"""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import heapq
import os
import select
import sys
import time

__all__ = ["Loop", "TimerHandle", "MAX_WAIT"]

#: the longest single wait, in seconds: epoll and poll take a C int of milliseconds
#: (OverflowError above it, on every turn: PID 1 would spin).  A later deadline is
#: simply waited for in several turns, so every timeout a user can write (S6_*_TIME,
#: timeout-kill, ...) is clamped here, in one place, and nowhere else.
MAX_WAIT = (2 ** 31 - 1) / 1000.0


_READ, _WRITE = 1, 4            # what a reader / a writer waits for (EPOLLIN, EPOLLOUT)
_READABLE = _READ | 8 | 16      # ... and what wakes it: EPOLLERR and EPOLLHUP too
_WRITABLE = _WRITE | 8 | 16


class _Poller:
    """What the loop needs of a selector, on epoll directly (the `selectors` module costs
    a millisecond of start-up); falls back to `selectors` where there is no epoll.
    register(fd, mask) with mask of _READ and _WRITE; select(timeout) returns
    [(fd, epoll-style mask)].

    epoll refuses what poll() calls always ready (a regular file, /dev/null: s6-log's
    stdin can be either): such an fd is kept aside and reported ready on every turn, so
    the wait does not sleep while it is registered, exactly as poll() would do."""

    def __init__(self):
        self._always = {}       # fd -> mask, for the fds epoll refuses
        if hasattr(select, "epoll"):
            self._epoll = select.epoll()
            self._generic = None
        else:  # pragma: no cover - not Linux
            import selectors

            self._epoll = None
            self._generic = selectors.DefaultSelector()

    def register(self, fd, mask):
        if self._epoll is None:  # pragma: no cover
            self._generic.register(fd, _generic_events(mask))
            return
        try:
            self._epoll.register(fd, mask)
        except PermissionError:
            self._always[fd] = mask

    def modify(self, fd, mask):
        if self._epoll is None:  # pragma: no cover
            self._generic.modify(fd, _generic_events(mask))
        elif fd in self._always:
            self._always[fd] = mask
        else:
            try:
                self._epoll.modify(fd, mask)
            except FileNotFoundError:  # closed and reused without remove_reader
                self.register(fd, mask)

    def unregister(self, fd):
        if self._always.pop(fd, None) is not None:
            return
        if self._epoll is not None:
            self._epoll.unregister(fd)
        else:  # pragma: no cover
            self._generic.unregister(fd)

    def select(self, timeout):
        always = self._always
        if always:
            timeout = 0
        if self._epoll is None:  # pragma: no cover
            if timeout is not None:
                timeout = min(timeout, MAX_WAIT)
            ready = [(key.fd, (_READ if events & 1 else 0) | (_WRITE if events & 2 else 0))
                     for key, events in self._generic.select(timeout)]
        else:
            if timeout is not None and not timeout <= MAX_WAIT:  # also NaN
                timeout = MAX_WAIT
            # poll() rounds the timeout up to the millisecond: a deadline is never run early
            ready = self._epoll.poll(timeout)
        if always:
            ready = list(ready) + list(always.items())
        return ready

    def close(self):
        (self._epoll or self._generic).close()


def _generic_events(mask):  # pragma: no cover - not Linux
    return (1 if mask & _READ else 0) | (2 if mask & _WRITE else 0)


def read_available(fd, size):
    """What a non-blocking FD has to give now: bytes, b"" at end of file (or a read error,
    which ends the stream just the same), None when nothing is there yet."""
    try:
        return os.read(fd, size)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return b""


class TimerHandle:
    """A pending call; `cancel()` makes it a no-op (it stays in the heap until due)."""

    __slots__ = ("when", "seq", "callback", "cancelled")

    def __init__(self, when, seq, callback):
        self.when = when
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self):
        self.cancelled = True
        self.callback = None

    def __lt__(self, other):
        return (self.when, self.seq) < (other.when, other.seq)


def _call(callback, *args):
    """What guard() is with Loop(carry_on=False): CALLBACK(*ARGS), exceptions raised."""
    callback(*args)


def _ignore_signal(signum, frame):
    """Python-level handler for signals we catch: the real work happens via the wakeup fd."""


class Loop:
    """A minimal single-threaded reactor for the supervisor (and for /init around it)."""

    def __init__(self, signals=(), traceback=True, prog="s6py", carry_on=True,
                 own_dispositions=True):
        """SIGNALS: signal numbers to catch from now on (an iterable), or a mapping
        {signum: callback} registered as by on_signal.  TRACEBACK=False: one-line
        reports `PROG: warning: internal error: ...` instead of tracebacks.

        For a program that is not PID 1 (s6-log): CARRY_ON=False lets an exception of a
        callback end run_once() instead of being reported and swallowed;
        OWN_DISPOSITIONS=False leaves the signal mask and the inherited SIG_IGN
        dispositions alone (a child inherits them, as from a C program that catches only
        its own signals)."""
        self._selector = _Poller()
        self._readers = {}
        self._writers = {}
        self._timers = []
        self._seq = 0
        self._signal_callbacks = {}
        self._children = {}
        self._running = False
        self._seen_tracebacks = set()
        self._traceback = traceback
        self.prog = prog
        self._unclaimed = set()      # caught signals that arrived before any callback
        self.on_orphan = None  # optional callback(pid, wstat) for unwatched children
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._selector.register(self._wake_r, _READ)
        if not carry_on:
            self.guard = _call
        if own_dispositions:
            self._neutralise_ignored_signals()
        self._install(signal.SIGCHLD)
        callbacks = signals if hasattr(signals, "items") else dict.fromkeys(signals)
        for signum, callback in callbacks.items():
            if callback is None:
                self._signal_callbacks.setdefault(signum, [])
                self._install(signum)
            else:
                self.on_signal(signum, callback)
        # last: anything blocked so far (e.g. by an init before it could build the loop)
        # arrives now, and is written into the wake-up pipe by the handlers above
        if own_dispositions:
            signal.pthread_sigmask(signal.SIG_SETMASK, [])

    # ----------------------------------------------------------------- signals

    @staticmethod
    def _neutralise_ignored_signals():
        """Replace inherited SIG_IGN dispositions by a do-nothing handler.

        An ignored signal stays ignored across exec, a caught one reverts to the default.
        Catching (and dropping) what we inherited as ignored keeps our behaviour (the
        signal still has no effect on us) while every child we exec starts with default
        dispositions, as s6 and tini promise.  SIGPIPE/SIGXFSZ, which Python ignores, are
        included: a write to a broken pipe still fails with EPIPE instead of killing us.
        """
        for signum in range(1, signal.NSIG):
            if signum in (signal.SIGKILL, signal.SIGSTOP):
                continue
            try:
                if signal.getsignal(signum) == signal.SIG_IGN:
                    signal.signal(signum, _ignore_signal)
            except (OSError, ValueError, RuntimeError):
                pass

    def _install(self, signum):
        signal.signal(signum, _ignore_signal)

    def on_signal(self, signum, callback):
        """Call CALLBACK(signum) from the loop each time SIGNUM arrives (coalesced).
        If SIGNUM was caught (Loop(signals=...)) and arrived before any callback was
        registered, CALLBACK is also called once from the loop, soon."""
        self._signal_callbacks.setdefault(signum, []).append(callback)
        if signum != signal.SIGCHLD:
            self._install(signum)
        if signum in self._unclaimed:
            self._unclaimed.discard(signum)
            self.call_soon(lambda: callback(signum))

    def dispatch_signals(self):
        """Dispatch now every signal that has arrived (their bytes wait in the wake-up
        pipe): a chain of callbacks that runs without going back to select() calls this
        before each new piece of work, so that a stop request is seen in between."""
        self._drain_signals()

    def _drain_signals(self):
        pending = []
        while True:
            try:
                data = os.read(self._wake_r, 512)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            if not data:
                break
            for signum in data:
                if signum not in pending:
                    pending.append(signum)
        if signal.SIGCHLD in pending:
            self.reap()
        for signum in pending:
            callbacks = self._signal_callbacks.get(signum)
            if callbacks is not None and not callbacks:
                self._unclaimed.add(signum)  # caught at construction, nobody listens yet
            for callback in list(callbacks or ()):
                self.guard(callback, signum)

    # ---------------------------------------------------------------- children

    def watch_child(self, pid, callback):
        """Call CALLBACK(wstat) when PID dies.  Register right after fork: the loop only
        reaps from its own iteration, so the death cannot be missed in between."""
        self._children[pid] = callback

    def unwatch_child(self, pid):
        self._children.pop(pid, None)

    def reap(self):
        """Collect every dead child now; dispatch watched ones, drop orphans."""
        while True:
            try:
                pid, wstat = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if pid == 0:
                return
            callback = self._children.pop(pid, None)
            if callback is not None:
                self.guard(callback, wstat)
            elif self.on_orphan is not None:
                self.guard(self.on_orphan, pid, wstat)

    # ------------------------------------------------------------------ fds

    def add_reader(self, fd, callback):
        """Call CALLBACK() whenever FD is readable (level-triggered)."""
        self._watch(fd, self._readers, callback)

    def remove_reader(self, fd):
        self._unwatch(fd, self._readers)

    def add_writer(self, fd, callback):
        """Call CALLBACK() whenever FD is writable (level-triggered)."""
        self._watch(fd, self._writers, callback)

    def remove_writer(self, fd):
        self._unwatch(fd, self._writers)

    def _mask(self, fd):
        return (_READ if fd in self._readers else 0) | (_WRITE if fd in self._writers else 0)

    def _watch(self, fd, table, callback):
        known = self._mask(fd)
        table[fd] = callback
        if known:
            self._selector.modify(fd, self._mask(fd))
        else:
            self._selector.register(fd, self._mask(fd))

    def _unwatch(self, fd, table):
        if table.pop(fd, None) is None:
            return
        mask = self._mask(fd)
        try:
            if mask:
                self._selector.modify(fd, mask)
            else:
                self._selector.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass

    # --------------------------------------------------------------- timers

    def time(self):
        return time.monotonic()

    def call_at(self, when, callback):
        """Run CALLBACK() at monotonic time WHEN; returns a TimerHandle."""
        self._seq += 1
        handle = TimerHandle(when, self._seq, callback)
        heapq.heappush(self._timers, handle)
        return handle

    def call_later(self, delay, callback):
        return self.call_at(time.monotonic() + max(0.0, delay), callback)

    def call_soon(self, callback):
        return self.call_at(0.0, callback)

    # ---------------------------------------------------------------- running

    def stop(self):
        self._running = False

    def _timeout(self):
        timers = self._timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
        if not timers:
            return None
        return max(0.0, timers[0].when - time.monotonic())

    def _run_due_timers(self):
        was_running = self._running  # stop() ends the batch; run_once() alone runs it all
        now = time.monotonic()
        timers = self._timers
        while timers and (timers[0].cancelled or timers[0].when <= now):
            handle = heapq.heappop(timers)
            if handle.cancelled:
                continue
            callback = handle.callback
            handle.cancel()
            self.guard(callback)
            if was_running and not self._running:
                return

    def run_once(self, timeout=None):
        """One iteration: wait for fds/signals or the nearest deadline, then dispatch."""
        wait = self._timeout()
        if timeout is not None:
            wait = timeout if wait is None else min(wait, timeout)
        try:
            ready = self._selector.select(wait)
        except InterruptedError:
            ready = ()
        if ready:
            readers, writers, wake = self._readers, self._writers, self._wake_r
            due = []  # (table, fd, callback), as they were when the wait returned
            for fd, mask in ready:
                if fd == wake:
                    due.append((None, fd, self._drain_signals))
                    continue
                if mask & _READABLE and fd in readers:
                    due.append((readers, fd, readers[fd]))
                if mask & _WRITABLE and fd in writers:
                    due.append((writers, fd, writers[fd]))
            for table, fd, callback in due:
                if table is not None and table.get(fd) is not callback:
                    continue  # removed by an earlier callback of this iteration
                self.guard(callback)
        self._run_due_timers()

    def run(self):
        """Loop until stop() is called."""
        self._running = True
        while self._running:
            try:
                self.run_once()
            except Exception:  # pragma: no cover - belt and braces around the guard
                self._report()

    def close(self):
        signal.set_wakeup_fd(self._previous_wakeup)
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # ---------------------------------------------------------------- guard

    def guard(self, callback, *args):
        """CALLBACK(*ARGS); an exception is reported (see the module docstring), not
        raised.  Every callback the loop runs goes through here; so may a caller's."""
        try:
            callback(*args)
        except Exception:
            self._report()


    def _report(self):
        if self._traceback:
            import traceback

            key = text = traceback.format_exc()
            line = "%s: warning: internal error, carrying on:\n%s" % (self.prog, text)
        else:
            error = sys.exc_info()[1]
            key = text = "%s: %s" % (type(error).__name__, error)
            line = "%s: warning: internal error: %s\n" % (self.prog, text)
        if key in self._seen_tracebacks:
            return
        self._seen_tracebacks.add(key)
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

