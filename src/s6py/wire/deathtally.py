"""`supervise/death_tally`: one 14-byte record per death of `run`, oldest first.

Record: TAI64N (12 bytes), exit code byte (128 + signal when killed, as skalibs'
wait_estatus), signal number byte (0 when it exited).  Same bytes as s6 2.11.

The supervisor's side: `clear()` when the supervision starts, `append()` after each death.
s6-svdt's side: `read_last()`.

A reader must never see half a record.  s6 rewrites the whole file through a temporary
and a rename at every death; so do we when the file must be trimmed (it holds the last
max-death-tally records) or mended (a torn record), but a record that only adds to a
well-formed file is appended in place, one 14-byte write that stays within one page (the
file's new size becomes visible only after its bytes, so a reader sees it whole or not at
all).  The file is not created when the supervision starts (s6 creates it empty then;
s6-svdt, ours and s6's, reads a missing file as no deaths): on the overlay /run most
containers have, each file created costs about half a millisecond, and a boot makes many
services at once.  The engine creates it empty later, once the service is idle
(engine/spares.py), or the first death does.
"""

import errno
import os
import stat

from s6py.wire import tai64n

RECORD_SIZE = 14
FILENAME = "supervise/death_tally"
DEFAULT_MAX = 100
MAX_MAX = 4096
PAGE = 4096  # a record appended in place never crosses a multiple of this


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


class TallyError(OSError):
    """append() failed; ACTION is "read" or "write", the step that failed."""

    def __init__(self, action, error):
        OSError.__init__(self, error.errno, error.strerror, error.filename)
        self.action = action


def clear(servicedir):
    """Empty SERVICEDIR's death tally if it has one (at the start of a supervision: a
    previous supervision's deaths are not this one's).  Creates nothing.  Raises OSError."""
    path = os.path.join(servicedir, FILENAME)
    try:
        if os.stat(path).st_size == 0:
            return
    except FileNotFoundError:
        return
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC))


def append(servicedir, stamp, wstat, limit=DEFAULT_MAX):
    """Record a death of ./run (at STAMP, a tain, with wait status WSTAT) in SERVICEDIR's
    death tally, keeping the last LIMIT records (at most MAX_MAX; 0: record nothing).

    A missing file counts as empty and a torn last record is dropped.  The file is
    replaced atomically (written whole to `death_tally.new`, then renamed over it).
    Raises TallyError (an OSError) saying whether reading or writing failed.
    """
    limit = min(limit, MAX_MAX)
    if not limit:
        return
    path = os.path.join(servicedir, FILENAME)
    record = pack_record(stamp, wstat)
    if _append_in_place(path, record, limit):
        return
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = b""
    except OSError as e:
        raise TallyError("read", e) from None
    data = data[:len(data) - len(data) % RECORD_SIZE]
    data += record
    data = data[-limit * RECORD_SIZE:]
    try:
        _replace(path, data)
    except OSError as e:
        raise TallyError("write", e) from None


def _append_in_place(path, record, limit):
    """Append RECORD to the file at PATH (created if missing) when that is all it takes:
    the file is a regular one of whole records, it has room for one more under LIMIT,
    and the record does not straddle a page.  False (nothing written) otherwise, or on
    any error: the caller then rewrites the file, and reports what fails."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        size = st.st_size
        if (not stat.S_ISREG(st.st_mode) or size % RECORD_SIZE
                or size + RECORD_SIZE > limit * RECORD_SIZE
                or size // PAGE != (size + RECORD_SIZE - 1) // PAGE):
            return False
        return os.write(fd, record) == RECORD_SIZE
    except OSError:
        return False
    finally:
        os.close(fd)


def _replace(path, data):
    """Write DATA (one write, as the engine always did) to PATH.new and rename it to PATH."""
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_last(servicedir, limit):
    """The last LIMIT records, as s6_dtally_read() reads them for s6-svdt.

    Like s6, a missing file is created empty and a file whose size is not a whole number
    of records is truncated (both give no records); OSError for anything else.
    """
    path = os.path.join(servicedir, FILENAME)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        _truncate(path)
        return []
    try:
        size = os.fstat(fd).st_size
        if size % RECORD_SIZE:
            _truncate(path)
            return []
        n = min(size // RECORD_SIZE, limit)
        os.lseek(fd, -n * RECORD_SIZE, os.SEEK_END)
        data = b""
        while len(data) < n * RECORD_SIZE:
            chunk = os.read(fd, n * RECORD_SIZE - len(data))
            if not chunk:
                raise OSError(errno.EPIPE, os.strerror(errno.EPIPE), path)
            data += chunk
    finally:
        os.close(fd)
    return list(unpack(data))


def _truncate(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666))
