"""`supervise/status`: the 35-byte record s6-supervise keeps for each service.

Layout (big-endian), identical to s6 2.11's s6_svstatus_pack():
  [0:12]  TAI64N of the last up/down transition
  [12:24] TAI64N of the last readiness transition
  [24:32] pid of `run` (0 when down)
  [32:34] raw wait status of the last death
  [34]    flags: 1 paused, 2 finishing, 4 want up, 8 ready
"""

import os
import struct

from s6py.wire import tai64n

SIZE = 35
FILENAME = "supervise/status"
_TAIL = struct.Struct(">QHB")

FLAG_PAUSED = 1
FLAG_FINISHING = 2
FLAG_WANTUP = 4
FLAG_READY = 8


class Status:
    """A decoded status record; the supervisor keeps one per service and mutates it."""

    __slots__ = ("stamp", "readystamp", "pid", "wstat", "paused", "finishing", "wantup", "ready")

    def __init__(self, stamp=tai64n.ZERO, readystamp=tai64n.ZERO, pid=0, wstat=0,
                 paused=False, finishing=False, wantup=True, ready=True):
        self.stamp = stamp
        self.readystamp = readystamp
        self.pid = pid
        self.wstat = wstat
        self.paused = paused
        self.finishing = finishing
        self.wantup = wantup
        self.ready = ready

    @property
    def is_up(self):
        """Whether ./run is up, as s6-svstat and s6-svwait read it: a pid is recorded and it
        is not ./finish's (during ./finish, `pid` is the finish script's)."""
        return bool(self.pid) and not self.finishing

    def pack(self):
        flags = ((FLAG_PAUSED if self.paused else 0) | (FLAG_FINISHING if self.finishing else 0)
                 | (FLAG_WANTUP if self.wantup else 0) | (FLAG_READY if self.ready else 0))
        return (tai64n.pack(self.stamp) + tai64n.pack(self.readystamp)
                + _TAIL.pack(self.pid, self.wstat & 0xFFFF, flags))

    @classmethod
    def unpack(cls, data):
        if len(data) < SIZE:
            raise ValueError("status record too short: %d bytes" % len(data))
        pid, wstat, flags = _TAIL.unpack(data[24:SIZE])
        return cls(tai64n.unpack(data[0:12]), tai64n.unpack(data[12:24]), pid, wstat,
                   bool(flags & FLAG_PAUSED), bool(flags & FLAG_FINISHING),
                   bool(flags & FLAG_WANTUP), bool(flags & FLAG_READY))

    def __eq__(self, other):
        return isinstance(other, Status) and self.pack() == other.pack()

    def __repr__(self):
        return ("Status(pid=%d, wstat=%#x, paused=%s, finishing=%s, wantup=%s, ready=%s)"
                % (self.pid, self.wstat, self.paused, self.finishing, self.wantup, self.ready))


def read(servicedir):
    """Read SERVICEDIR's status; raises OSError (ENOENT when never supervised)."""
    with open(os.path.join(servicedir, FILENAME), "rb") as f:
        data = f.read(SIZE + 1)
    if len(data) != SIZE:
        raise ValueError("%s/%s: bad size %d" % (servicedir, FILENAME, len(data)))
    return Status.unpack(data)


def write(servicedir_fd_path, status):
    """Atomically replace the status file: readers never see a half-written record.

    servicedir_fd_path is the service directory path (absolute, so no chdir is needed).
    """
    path = os.path.join(servicedir_fd_path, FILENAME)
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, status.pack())
    finally:
        os.close(fd)
    os.rename(tmp, path)
