"""`supervise/death_tally`: one 14-byte record per death of `run`, oldest first.

Record: TAI64N (12 bytes), exit code byte (128 + signal when killed, as skalibs'
wait_estatus), signal number byte (0 when it exited).  Same bytes as s6 2.11.
"""

import os

from s6py.wire import tai64n

RECORD_SIZE = 14
FILENAME = "supervise/death_tally"
DEFAULT_MAX = 100
MAX_MAX = 4096


def pack_record(stamp, wstat):
    if os.WIFSIGNALED(wstat):
        sig = os.WTERMSIG(wstat)
        code = (128 + sig) & 0xFF
    else:
        sig = 0
        code = os.WEXITSTATUS(wstat) if os.WIFEXITED(wstat) else 0
    return tai64n.pack(stamp) + bytes((code, sig))


def unpack(data):
    """Yield (tain, exitcode, signal) tuples from the file's bytes."""
    for off in range(0, len(data) - RECORD_SIZE + 1, RECORD_SIZE):
        rec = data[off:off + RECORD_SIZE]
        yield tai64n.unpack(rec[:12]), rec[12], rec[13]


def read(servicedir):
    with open(os.path.join(servicedir, FILENAME), "rb") as f:
        return list(unpack(f.read()))
