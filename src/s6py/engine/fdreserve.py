"""A few file descriptors held back, so that what must start can start when fds run out.

PID 1 supervises every service in-process, two fds each (engine.service).  Under a
container's `nofile` limit a large tree can take every fd there is; the supervisor then
queues what it cannot supervise (engine.supervisor), but the CMD and the cont-finish.d
scripts must start whatever happens: starting a child costs PID 1 a pipe for the exec
report, and maybe a terminal.  So PID 1 holds COUNT fds on /dev/null from the start and
lets go of them just for the moment such a child is spawned (`reserve.spending(f, ...)`),
taking them back at once.  One thread, no loop turn in between: nothing else can take them.
"""

import os

__all__ = ["FdReserve"]

DEFAULT_COUNT = 4


class FdReserve:
    def __init__(self, count=DEFAULT_COUNT):
        self.count = count
        self.fds = []
        self.refill()

    def refill(self):
        """Hold COUNT fds again, or as many as can be had."""
        while len(self.fds) < self.count:
            try:
                self.fds.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                return

    def release(self):
        while self.fds:
            try:
                os.close(self.fds.pop())
            except OSError:
                pass

    def spending(self, function, *args, **kwargs):
        """FUNCTION(*ARGS, **KWARGS) with the reserve free for its use; the reserve is
        taken back afterwards, whatever FUNCTION did."""
        self.release()
        try:
            return function(*args, **kwargs)
        finally:
            self.refill()
