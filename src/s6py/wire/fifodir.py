"""Fifodirs (skarnet's ftrig): how a supervisor broadcasts event bytes to listeners.

A fifodir is a directory (mode 3730: setgid, sticky, group may create entries) in which
each listener creates a FIFO named `ftrig1:@<TAI64N>:<6 random chars>` (made under a dot-name,
then renamed in) and reads it.  The notifier writes the event byte to every entry whose
name starts with `ftrig1`; an entry with no reader (ENXIO) is stale and removed.
Same names and modes as s6 2.11, so real s6-svwait listens to our supervisor and our
listeners hear the real s6-supervise.
"""

import errno
import os

PREFIX = "ftrig1"
#: a listener's name is PREFIX + ":@" + 24 hex digits + ":" + 6 random characters; the
#: real notifier skips any entry of another length, so the random part must be 6 long.
NAME_LENGTH = len(PREFIX) + 33
DIR_MODE = 0o3730
_RANDOM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def make(path, gid=None):
    """Create fifodir PATH if needed (group GID may subscribe; default: our egid)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return
    os.chown(path, -1, os.getegid() if gid is None else gid)
    os.chmod(path, DIR_MODE)


def notify(path, event_bytes):
    """Write EVENT_BYTES to every listener of fifodir PATH; return how many got it.

    Never blocks: each FIFO is opened O_NONBLOCK; a full pipe loses the byte for that
    listener only (as in s6), an absent reader means a stale entry, which is removed.
    """
    try:
        names = os.listdir(path)
    except OSError:
        return 0
    delivered = 0
    for entry in names:
        if len(entry) != NAME_LENGTH or not entry.startswith(PREFIX):
            continue
        fifo = os.path.join(path, entry)
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            if e.errno == errno.ENXIO:
                _unlink_quietly(fifo)
            continue
        try:
            os.write(fd, event_bytes)
            delivered += 1
        except OSError:
            pass
        finally:
            os.close(fd)
    return delivered


class Listener:
    """A subscription to a fifodir: `fd` becomes readable when events arrive.

    Keeps a write end open too, so the FIFO never reports EOF between notifiers.
    Use as a context manager; the FIFO is unlinked on close.
    """

    def __init__(self, path):
        from s6py.wire import tai64n

        rand = "".join(_RANDOM_ALPHABET[b % len(_RANDOM_ALPHABET)] for b in os.urandom(6))
        name = "%s:%s:%s" % (PREFIX, tai64n.label(tai64n.now()), rand)
        hidden = os.path.join(path, "." + name)
        self.path = os.path.join(path, name)
        os.mkfifo(hidden, 0o600)
        try:
            self.fd = os.open(hidden, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            self._keepalive = os.open(hidden, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.rename(hidden, self.path)
        except BaseException:
            _unlink_quietly(hidden)
            raise

    def read(self):
        """Return the event bytes available now (b"" if none)."""
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return b""

    def close(self):
        _unlink_quietly(self.path)
        for fd in (self.fd, self._keepalive):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
