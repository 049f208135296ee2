"""Spare files: what a service's next death will write, created while nothing happens.

A death writes two files in supervise/: the death tally (appended, created by the first
death) and the status (written to `status.new`, then renamed over `status`).  On an
overlay /run, the usual /run of a container, creating a file costs 0.5 to 0.8 ms where
opening an existing one costs a few microseconds: at a container's stop, 50 services
dying at once spent 75 ms of PID 1's 115 in those two creations.  So once a service has
been left alone for IDLE_DELAY seconds, its missing `death_tally` is created empty and
its `status.new` is created ahead of the next write, which then only truncates it.

Nothing a reader sees changes: an empty death tally reads as no deaths (s6-svdt, as s6's
own creates it empty), and `status.new` is the name s6-supervise writes before its
rename.  A service no longer supervised by then is skipped.  At most PER_TURN
services are served per turn of the loop, so a long list never holds the loop.
"""

import os

from s6py.wire import deathtally
from s6py.wire import status as svstatus

__all__ = ["want", "IDLE_DELAY"]

IDLE_DELAY = 0.5   # seconds since a service was queued
PER_TURN = 8

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
SPARES = (deathtally.FILENAME, svstatus.FILENAME + ".new")  # svstatus.write's temporary

_QUEUES = {}   # loop -> _Queue


def want(loop, service):
    """Queue SERVICE (an engine.service.Service): its spare files are made IDLE_DELAY
    seconds from now, if it is still supervised then."""
    queue = _QUEUES.get(loop)
    if queue is None:
        queue = _QUEUES[loop] = _Queue(loop)
    queue.add(service)


def make(root):
    """Create ROOT's missing spare files (empty).  Best effort: a failure is not an
    error, the write it was meant to speed up creates the file itself."""
    for name in SPARES:
        try:
            os.close(os.open(os.path.join(root, name), _CREATE, 0o644))
        except OSError:
            pass


class _Queue:
    def __init__(self, loop):
        self.loop = loop
        self.due = {}      # service -> the loop time its spares are due; insertion order
        self.timer = None

    def add(self, service):
        self.due.pop(service, None)
        self.due[service] = self.loop.time() + IDLE_DELAY
        if self.timer is None:
            self.timer = self.loop.call_later(IDLE_DELAY, self._serve)

    def _serve(self):
        self.timer = None
        now = self.loop.time()
        served = 0
        for service, when in list(self.due.items()):
            if when > now:
                self.timer = self.loop.call_later(when - now, self._serve)
                return
            del self.due[service]
            if service.running:
                make(service.root)
            served += 1
            if served == PER_TURN and self.due:
                self.timer = self.loop.call_later(0, self._serve)
                return
        if not self.due:
            del _QUEUES[self.loop]
