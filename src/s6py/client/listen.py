"""Waiting for service state changes: the engine of s6-svwait, s6-svlisten1,
s6-svlisten and `s6-svc -w?` (s6's s6_svlisten_init / s6_svlisten_loop).

The order matters and is s6's: for each service, first subscribe to its `event/`
fifodir, then read `supervise/status`.  An event sent after the status was written is
then always heard, so no transition can slip between the read and the wait.

Each service has two bits, `up` and `ready`, seeded from the status file and then driven
by event bytes; s6py.wire.events says what each byte means.  A wait is satisfied when all
services (or any, with `or_`) are in the wanted state.

The wait runs on the project's one event loop (s6py.engine.loop.Loop): the listeners'
FIFOs are its readers, the deadline is its timer, and a child started by s6-svlisten is
reaped by it.  Failures raise s6py.client.ClientError (99 on timeout).
"""

import os

from s6py.client import ClientError
from s6py.diag import strerror
from s6py.wire import events, fifodir, status


class Listen:
    """Subscriptions to the events of DIRS plus their current up/ready bits.

    LOOP: an s6py.engine.loop.Loop to wait on; by default one of its own (closed with
    the Listen), which leaves the signal mask and the inherited dispositions alone (a
    child of s6-svlisten inherits them as from s6's C) and lets a bug raise."""

    def __init__(self, dirs, timeout_ms, loop=None):
        self.dirs = list(dirs)
        self.loop, self._own_loop = (_new_loop(), True) if loop is None else (loop, False)
        self.deadline = self.loop.time() + timeout_ms / 1000.0 if timeout_ms else None
        self.listeners = []
        self.up = []
        self.ready = []
        #: event bytes read but not yet applied, per service: a restart's `d` and `u` often
        #: arrive in one read, and the second wait of `s6-svwait -r` needs the `u`
        self.pending = []
        self._failures = 0
        self._reached = self._timed_out = False
        try:
            for d in self.dirs:
                self._subscribe(d)
        except ClientError:
            self.close()  # leave no stale FIFO behind, as s6-ftrigrd cleans up
            raise

    def _subscribe(self, d):
        eventdir = os.path.join(d, "event")
        try:
            fifodir.make(eventdir, os.getegid())
        except OSError:
            pass  # as ftrigw_fifodir_make: the subscription below reports errors
        try:
            self.listeners.append(fifodir.Listener(eventdir))
        except OSError as e:
            raise ClientError(111, "unable to subscribe to events for %s: %s"
                              % (d, strerror(e))) from None
        try:
            st = status.read(d)
        except (OSError, ValueError) as e:
            raise ClientError(111, "unable to s6_svstatus_read: %s"
                              % (strerror(e) if isinstance(e, OSError) else os.strerror(32))
                              ) from None
        up, ready = events.seed(st)
        self.up.append(up)
        self.ready.append(ready)
        self.pending.append(b"")

    def close(self):
        for listener in self.listeners:
            listener.close()
        if self._own_loop:
            self.loop.close()

    def got(self, wantup, wantready, or_):
        hits = (events.reached(u, r, wantup, wantready) for u, r in zip(self.up, self.ready))
        return any(hits) if or_ else all(hits)

    def wait(self, wantup, wantready, or_):
        """Wait until the wanted state is reached; return how many services failed
        (permanent failure or supervisor gone).  ClientError 99 at the deadline."""
        want = (wantup, wantready, or_)
        self._failures = 0
        self._reached = self.got(*want)
        for i in range(len(self.pending)):
            if self._reached:
                break
            data, self.pending[i] = self.pending[i], b""
            self._feed(i, data, want)
        if not self._reached:
            self._run_until_reached(want)
        return self._failures

    def _run_until_reached(self, want):
        self._timed_out = False
        for i, listener in enumerate(self.listeners):
            self.loop.add_reader(listener.fd, lambda i=i: self._on_readable(i, want))
        timer = None
        if self.deadline is not None:
            timer = self.loop.call_at(self.deadline, self._on_deadline)
        try:
            while not (self._reached or self._timed_out):
                self.loop.run_once()
        finally:
            for listener in self.listeners:
                self.loop.remove_reader(listener.fd)
            if timer is not None:
                timer.cancel()
        if not self._reached:
            raise ClientError(99, "timed out")

    def _on_readable(self, i, want):
        # once reached, the other FIFOs ready in the same turn are left unread: their bytes
        # are for the next wait (the second phase of -r)
        if not (self._reached or self._timed_out):
            self._feed(i, self.listeners[i].read(), want)

    def _on_deadline(self):
        if not self._reached:
            self._timed_out = True

    def _feed(self, i, data, want):
        """Apply service I's event bytes DATA in order; stop at the one that reaches the
        wanted state and keep the rest in self.pending."""
        wantup, wantready, or_ = want
        for k, byte in enumerate(data):
            if byte not in events.WAITED:
                continue
            self.up[i], self.ready[i], failed = events.apply(
                byte, self.up[i], self.ready[i], wantup, wantready)
            self._failures += failed
            if self.got(wantup, wantready, or_):
                self.pending[i] = data[k + 1:]
                self._reached = True
                return


def _new_loop():
    from s6py.engine.loop import Loop

    return Loop(carry_on=False, own_dispositions=False)


def spawn_child(args, listen):
    """Start ARGS (PATH search, inherited environment) as s6-svlisten does, and reap it
    from LISTEN's loop; its exit status is not used.  ClientError 111 if it cannot start."""
    try:
        pid = os.posix_spawnp(args[0], args, os.environ)
    except OSError as e:
        raise ClientError(111, "unable to spawn %s: %s" % (args[0], strerror(e))) from None
    listen.loop.watch_child(pid, _ignore_status)
    return pid


def _ignore_status(wstat):
    """s6-svlisten does not look at its child's exit status."""


def listen_and_wait(dirs, mode, or_, timeout, first_down, action=None):
    """Listen to DIRS' events, run ACTION(listen) (if any), then wait for MODE (one of
    wire.events.WAIT_MODES); with a restart mode, first for FIRST_DOWN, a (wantup,
    wantready, or_) triple: the death every service must report before its restart
    (s6-svwait and s6-svlisten ask it differently).  The failures' count, 0 if none;
    raises ClientError."""
    wantup, wantready, wantrestart = mode
    listen = Listen(dirs, timeout)
    try:
        if action is not None:
            action(listen)
        if wantrestart:
            failures = listen.wait(*first_down)
            if failures:
                return failures
        return listen.wait(wantup, wantready, or_)
    finally:
        listen.close()
