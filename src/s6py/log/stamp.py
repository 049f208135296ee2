"""The two line prefixes s6-log can add: TAI64N (`t`) and local ISO 8601 (`T`).

Both are computed from one clock reading; the caller reads the clock once per input chunk
(see docs/logging.md) and reuses the formatted bytes for every line of that chunk.
"""

import time

from ..wire import tai64n


def tai64n_prefix(ns):
    """`@` + 24 hex digits + space, for unix time NS (nanoseconds)."""
    sec, nano = divmod(ns, 1_000_000_000)
    return b"@%016x%08x " % (sec + tai64n.TAI_OFFSET, nano)


def iso_prefix(ns):
    """`YYYY-MM-DD HH:MM:SS.nnnnnnnnn` + two spaces, local time, for unix time NS."""
    sec, nano = divmod(ns, 1_000_000_000)
    tm = time.localtime(sec)
    return b"%04d-%02d-%02d %02d:%02d:%02d.%09d  " % (
        tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, nano)


def archive_name(ns=None, suffix="s"):
    """The name of an archive file: `@` + TAI64N (24 hex) + `.s` or `.u`."""
    if ns is None:
        ns = time.time_ns()
    sec, nano = divmod(ns, 1_000_000_000)
    return "@%016x%08x.%s" % (sec + tai64n.TAI_OFFSET, nano, suffix)
