"""TAI64N timestamps, as skalibs packs them (12 bytes: 8 of seconds, 4 of nanoseconds).

The seconds field is the TAI64 label 2**62 + TAI seconds.  skalibs derives TAI from the
system clock by adding 10 s plus the leap seconds (27 since 2017), so today
label = 2**62 + 37 + unix time.  Checked against Debian's s6-supervise status files.
"""

import struct
import time

TAI_OFFSET = (1 << 62) + 10 + 27
_PACK = struct.Struct(">QI")
SIZE = _PACK.size  # 12


def now():
    """The current time as (label_seconds, nanoseconds)."""
    ns = time.time_ns()
    return (ns // 1_000_000_000 + TAI_OFFSET, ns % 1_000_000_000)


def pack(tain):
    return _PACK.pack(*tain)


def unpack(data):
    return _PACK.unpack(data[:SIZE])


def label(tain):
    """The `@4000...` external form (24 hex digits after the `@`)."""
    return "@" + pack(tain).hex()


ZERO = (0, 0)
