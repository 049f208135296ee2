"""Waiting for service state changes: the engine of s6-svwait, s6-svlisten1,
s6-svlisten and `s6-svc -w?` (s6's s6_svlisten_init / s6_svlisten_loop).

The order matters and is s6's: for each service, first subscribe to its `event/`
fifodir, then read `supervise/status`.  An event sent after the status was written is
then always heard, so no transition can slip between the read and the wait.

Each service has two bits, `up` and `ready`, seeded from the status file and then driven
by event bytes:

    u -> up        U -> up, ready      d -> down      D -> down, ready (finish done)
    O -> permanent failure: counts as reached if waiting for up, and is counted
    x -> the supervisor is exiting: counts as reached, and is counted if not already there

A wait is satisfied when all services (or any, with `or_`) are in the wanted state.
"""

import os
import select
import time

from s6py.diag import fatal, strerror
from s6py.wire import fifodir, status

EVENTS = b"DuUdOx"


class Listen:
    """Subscriptions to the events of DIRS plus their current up/ready bits."""

    def __init__(self, prog, dirs, timeout_ms):
        self.prog = prog
        self.dirs = list(dirs)
        self.deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
        self.listeners = []
        self.up = []
        self.ready = []
        self.extra = {}  # fd -> callback polled alongside the listeners; True = done
        #: event bytes read but not yet applied, per service: a restart's `d` and `u` often
        #: arrive in one read, and the second wait of `s6-svwait -r` needs the `u`
        self.pending = []
        gid = os.getegid()
        for d in self.dirs:
            eventdir = os.path.join(d, "event")
            try:
                fifodir.make(eventdir, gid)
            except OSError:
                pass  # as ftrigw_fifodir_make: the subscription below reports errors
            try:
                self.listeners.append(fifodir.Listener(eventdir))
            except OSError as e:
                self.close()
                fatal(prog, 111, "unable to subscribe to events for ", d, ": ", strerror(e))
            try:
                st = status.read(d)
            except (OSError, ValueError) as e:
                self.close()  # leave no stale FIFO behind, as s6-ftrigrd cleans up
                fatal(prog, 111, "unable to s6_svstatus_read: ",
                      strerror(e) if isinstance(e, OSError) else os.strerror(32))
            self.up.append(bool(st.pid) and not st.finishing)
            self.ready.append(st.ready)
            self.pending.append(b"")

    def close(self):
        for listener in self.listeners:
            listener.close()

    def got(self, wantup, wantready, or_):
        reached = ((u if wantup else not u) and (r or not wantready)
                   for u, r in zip(self.up, self.ready))
        return any(reached) if or_ else all(reached)

    def loop(self, wantup, wantready, or_):
        """Wait until the wanted state is reached; return how many services failed
        (permanent failure or supervisor gone).  Exits 99 at the deadline."""
        failures = 0
        if self.got(wantup, wantready, or_):
            return 0
        for i in range(len(self.pending)):
            data, self.pending[i] = self.pending[i], b""
            failed, reached = self._feed(i, data, wantup, wantready, or_)
            failures += failed
            if reached:
                return failures
        poller = select.poll()
        by_fd = {}
        for i, listener in enumerate(self.listeners):
            poller.register(listener.fd, select.POLLIN)
            by_fd[listener.fd] = i
        for fd in self.extra:
            poller.register(fd, select.POLLIN)
        while True:
            if self.deadline is None:
                ready_fds = poller.poll()
            else:
                left = self.deadline - time.monotonic()
                ready_fds = poller.poll(max(0, int(left * 1000) + 1)) if left > 0 else []
                if not ready_fds:
                    fatal(self.prog, 99, "timed out")
            for fd, _ in ready_fds:
                if fd in self.extra:
                    if self.extra[fd]():
                        del self.extra[fd]
                        poller.unregister(fd)
                    continue
                i = by_fd[fd]
                failed, reached = self._feed(i, self.listeners[i].read(), wantup, wantready, or_)
                failures += failed
                if reached:
                    return failures

    def _feed(self, i, data, wantup, wantready, or_):
        """Apply service I's event bytes DATA in order; stop at the one that reaches the
        wanted state and keep the rest in self.pending.  Returns (failures, reached)."""
        failures = 0
        for k, byte in enumerate(data):
            if byte not in EVENTS:
                continue
            failures += self._apply(i, byte, wantup, wantready)
            if self.got(wantup, wantready, or_):
                self.pending[i] = data[k + 1:]
                return failures, True
        return failures, False

    def _apply(self, i, byte, wantup, wantready):
        if byte == ord("x"):
            failed = self.up[i] != bool(wantup) or self.ready[i] != bool(wantready)
            self.up[i], self.ready[i] = bool(wantup), bool(wantready)
            return int(failed)
        if byte == ord("O"):
            if wantup:
                self.up[i], self.ready[i] = True, bool(wantready)
                return 1
            return 0
        d = b"dDuU".index(byte)
        self.up[i], self.ready[i] = bool(d & 2), bool(d & 1)
        return 0


def spawn_child(prog, args, listen):
    """Start ARGS (PATH search, inherited environment) as s6-svlisten does, and reap it
    in the background of LISTEN's loop; its exit status is not used."""
    try:
        pid = os.posix_spawnp(args[0], args, os.environ)
    except OSError as e:
        fatal(prog, 111, "unable to spawn ", args[0], ": ", strerror(e))
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return pid

    def reap():
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        os.close(pidfd)
        return True

    listen.extra[pidfd] = reap
    return pid
