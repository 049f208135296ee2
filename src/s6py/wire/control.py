"""Control FIFOs: `supervise/control` and `.s6-svscan/control`.

A client writes command letters; the supervisor holds the FIFO open read-write (one fd:
it is a reader, and a writer of its own, so it never sees EOF; Linux allows O_RDWR on a
FIFO and the open never blocks).  Opening with O_NONBLOCK for writing fails with ENXIO
when no supervisor reads: that is s6's "supervisor not listening".
"""

import errno
import os

SUPERVISE_CONTROL = "supervise/control"
SUPERVISE_LOCK = "supervise/lock"
SVSCAN_CONTROL = ".s6-svscan/control"
SVSCAN_LOCK = ".s6-svscan/lock"

#: the letters s6-svc 2.11 sends, in the order of its usage line
SVC_LETTERS = "abqhkti12pcyroduDUxOQ"
#: the letters a supervisor accepts on supervise/control: s6-svc 2.11's, and the
#: process-group P C K of s6 2.13
SUPERVISE_LETTERS = frozenset(SVC_LETTERS + "PCKl")
#: the letters of s6-svscan 2.11 (.s6-svscan/control), in s6-svscanctl's usage order
SVSCANCTL_LETTERS = "zabhitqnN"
SVSCAN_LETTERS = frozenset(SVSCANCTL_LETTERS)
#: letters of older s6-svscan versions that s6-svscanctl 2.11 still accepts and passes on
SVSCANCTL_OLD_LETTERS = "prs0678"


def make_fifo(path, mode=0o600):
    """Create the control FIFO if missing and fix its mode; refuse a non-FIFO in its place."""
    import stat

    try:
        os.mkfifo(path, mode)
    except FileExistsError:
        if not stat.S_ISFIFO(os.lstat(path).st_mode):
            raise
    os.chmod(path, mode)


def open_for_reading(path):
    """Open a control FIFO the supervisor's way: one non-blocking read-write fd (two fds
    per service for lock and FIFO, so one process supervises hundreds under nofile=1024)."""
    return os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)


def is_locked(lock_path):
    """True when some process holds a write lock on LOCK_PATH (s6's "is it supervised?").

    s6 uses POSIX record locks (fcntl), so F_GETLK from another process sees them.
    Raises FileNotFoundError when the lock file does not exist.
    """
    import fcntl
    import struct

    fd = os.open(lock_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        # struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
        query = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query + b"\0" * 4)
        return struct.unpack("hhqqi", answer[:struct.calcsize("hhqqi")])[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


def take_lock(lock_path, mode=0o644):
    """Open LOCK_PATH and take a non-blocking POSIX write lock; return the fd.

    Raises BlockingIOError if another process holds it.  Note the POSIX-lock caveat: the
    lock is dropped if this process closes *any* fd on the file, so never open the lock
    file elsewhere in the supervisor.
    """
    import fcntl

    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


#: results of writectl(), as s6_svc_writectl() reports them
WRITTEN, NOT_LISTENING = 1, 0


class BadControlDir(OSError):
    """The control subdirectory exists but its `control` FIFO cannot be opened."""


def writectl(service, subdir, data):
    """Write DATA to SERVICE/SUBDIR/control the way s6_svc_writectl() does.

    Returns WRITTEN, or NOT_LISTENING when nobody reads the FIFO or SUBDIR does not
    exist.  Raises BadControlDir when SUBDIR is there but its `control` cannot be opened,
    OSError when SERVICE itself cannot be opened or the write fails.  The FIFO is
    opened non-blocking (to detect an absent reader) and then switched to blocking, so
    the letters are written whole.
    """
    fifo = os.path.join(service, subdir, "control")
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:
            return NOT_LISTENING
        if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
            raise
        first_errno = e.errno
    else:
        try:
            os.set_blocking(fd, True)
            if data:
                os.write(fd, data)
        finally:
            os.close(fd)
        return WRITTEN
    # Find out what went wrong: no service dir (error), no SUBDIR (nobody ever supervised
    # it: not listening), or a broken SUBDIR.
    dfd = os.open(service, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sfd = os.open(subdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dfd)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return NOT_LISTENING
        raise BadControlDir(e.errno, os.strerror(e.errno), subdir) from None
    finally:
        os.close(dfd)
    os.close(sfd)
    raise BadControlDir(first_errno, os.strerror(first_errno), fifo)


def supervised(service):
    """s6_svc_ok(): True if an s6-supervise holds SERVICE/supervise/lock.

    False when the lock file does not exist; OSError for any other failure.
    """
    try:
        return is_locked(os.path.join(service, SUPERVISE_LOCK))
    except FileNotFoundError:
        return False


class Endpoint:
    """A supervisor's side of a control FIFO: its lock, and the FIFO held open for reading.

    Both are taken together (lock first: a second supervisor must fail before touching the
    FIFO) and released together; `read_fd` is what the owner registers with its loop.
    Raises BlockingIOError when another process holds the lock, OSError otherwise (and
    then holds nothing).
    """

    def __init__(self, lock_path, fifo_path, lock_mode=0o644):
        self.lock_fd = take_lock(lock_path, lock_mode)
        try:
            make_fifo(fifo_path, 0o600)
            self.read_fd = open_for_reading(fifo_path)
        except OSError:
            os.close(self.lock_fd)
            raise

    def read(self):
        """The letters waiting in the FIFO (b"" if none); never blocks."""
        try:
            return os.read(self.read_fd, 4096)
        except (BlockingIOError, InterruptedError):
            return b""

    def close(self):
        for fd in (self.read_fd, self.lock_fd):
            try:
                os.close(fd)
            except OSError:
                pass
