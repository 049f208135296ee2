"""A log directory exactly as s6-log 2.11 keeps it.

Files: `lock` (fcntl write lock, held for the logger's life), `current` (appended to; its
user-x bit set means "finalised cleanly"), `state` (the last processor's fd-5 output),
archives `@<TAI64N>.s` (rotated) and `@<TAI64N>.u` (found unfinished at start-up), and during
a rotation `previous`, then with a processor `processed` and `newstate`.

Rotation is a state machine, one step per state (s6's `rotator()`): every step is one
filesystem operation; when a step fails, the logdir stays in that state, warns, and retries
the same step after the `r` cooldown.  Lines are never dropped: while a logdir cannot write,
its lines wait in memory (and with `-b` the main loop stops reading stdin).
"""

import _signal as signal  # not `signal`, which imports `enum`
import os
import stat
import time

from s6py import DEFAULT_PATH, find_executable, strerror
from s6py.diag import Reporter

from . import stamp
from .report import fatalsys


class Rot:
    """The steps of a rotation, as s6-log's (plain numbers: no `enum` to import)."""

    WRITABLE = 0
    START = 1
    RENAME = 2
    NEWCURRENT = 3
    CHMODPREVIOUS = 4
    FINISHPREVIOUS = 5
    RUNPROCESSOR = 6
    WAITPROCESSOR = 7
    SYNCPROCESSED = 8
    SYNCNEWSTATE = 9
    UNLINKPREVIOUS = 10
    RENAMESTATE = 11
    FINISHPROCESSED = 12
    FINALSYNC = 13
    FINALCHMOD = 14
    END = 15


class StepFailed(Exception):
    """A rotation step failed; the text is the warning s6 prints (after `unable to`)."""


def _step(what, operation, *args):
    """OPERATION(*ARGS)'s result: one filesystem operation of a rotation, its failure
    raised as StepFailed(WHAT, the OSError)."""
    try:
        return operation(*args)
    except OSError as e:
        raise StepFailed(what, e)


_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_TRUNC = os.O_WRONLY | os.O_TRUNC | os.O_CREAT | os.O_CLOEXEC


def _is_archive(name):
    if len(name) != 27 or name[0] != "@" or name[25] != "." or name[26] not in "su":
        return False
    try:
        int(name[1:25], 16)
    except ValueError:
        return False
    return all(c in "0123456789abcdefABCDEF" for c in name[1:25])


def processor_shell(kind, path=None):
    """argv prefix for a `!` (execlineb -Pc) or `?` (/bin/sh -c) processor; execlineb is
    looked up along PATH (default: $PATH)."""
    if kind == "?":
        return ["/bin/sh", "-c"]
    return [_find_in_path("execlineb", path) or "/usr/lib/execline/bin/execlineb", "-Pc"]


def _find_in_path(name, path=None):
    """PATH lookup without shutil: python3-minimal images do not ship shutil."""
    if path is None:
        path = os.environ.get("PATH", DEFAULT_PATH)
    return find_executable(name, path)[0]


class Logdir:
    """One logdir: its settings, its pending output and its rotation state."""

    def __init__(self, settings, reporter):
        self.dir = settings.path
        self.n = settings.n
        self.s = settings.s
        self.tolerance = settings.tolerance
        self.maxdirsize = settings.maxdirsize
        self.retry = settings.retry_ms / 1000.0
        self.processor = settings.processor
        self.report = reporter  # its fd is the logger's stderr, and the processor's
        self.env = None         # the processor's environment (None: this process's)
        self.pending = []   # bytes objects, each made of whole lines
        self.state = Rot.WRITABLE
        self.deadline = 0.0  # monotonic time before which nothing is retried
        self.pid = 0
        self.fd = -1
        self.lockfd = -1
        self.b = 0
        # state -> (the step, its arguments); a step returns the next state
        self._steps = {
            Rot.START: (self._sync_current, Rot.RENAME),
            Rot.RENAME: (self._rename, "current", "previous", Rot.NEWCURRENT),
            Rot.NEWCURRENT: (self._new_current,),
            Rot.CHMODPREVIOUS: (self._chmod_previous,),
            Rot.FINISHPREVIOUS: (self._archive, "previous"),
            Rot.RUNPROCESSOR: (self._run_processor,),
            Rot.SYNCPROCESSED: (self._sync_file, "processed", True, Rot.SYNCNEWSTATE),
            Rot.SYNCNEWSTATE: (self._sync_file, "newstate", False, Rot.UNLINKPREVIOUS),
            Rot.UNLINKPREVIOUS: (self._unlink_previous,),
            Rot.RENAMESTATE: (self._rename, "newstate", "state", Rot.FINISHPROCESSED),
            Rot.FINISHPROCESSED: (self._archive, "processed"),
            Rot.FINALSYNC: (self._sync_current, Rot.FINALCHMOD),
            Rot.FINALCHMOD: (self._final_chmod,),
        }

    def path(self, name):
        return self.dir + "/" + name

    # --- start-up ------------------------------------------------------------------------

    def open(self):
        """Create/lock the logdir and recover what a previous logger left; Fatal on error."""
        try:
            os.mkdir(self.dir, 0o2700)
        except FileExistsError:
            pass
        except OSError as e:
            raise fatalsys("mkdir " + self.dir, e)
        lock = self.path("lock")
        try:
            self.lockfd = os.open(lock, _APPEND, 0o666)
        except OSError as e:
            raise fatalsys("open_append " + lock, e)
        import fcntl

        try:
            fcntl.lockf(self.lockfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (11, 13):  # EAGAIN, EACCES: skalibs reports EBUSY
                e = OSError(16, os.strerror(16))
            raise fatalsys("lock " + lock, e)
        current = self.path("current")
        size = 0
        try:
            st = os.stat(current)
        except FileNotFoundError:
            st = None
        except OSError as e:
            raise fatalsys("stat " + current, e)
        if st is not None and st.st_mode & stat.S_IXUSR:
            size = st.st_size
        else:
            self._recover()
        try:
            self.fd = os.open(current, _APPEND, 0o666)
            os.fchmod(self.fd, 0o644)
        except OSError as e:
            raise fatalsys("open_append " + current, e)
        self.b = size

    def _recover(self):
        """The previous logger did not finalise: archive what it left as `.u` (or `.s`)."""
        for name in ("state", "newstate"):
            try:
                os.unlink(self.path(name))
            except OSError:
                pass
        processed = self.path("processed")
        try:
            done = bool(os.stat(processed).st_mode & stat.S_IXUSR)
        except FileNotFoundError:
            done = False
        except OSError as e:
            raise fatalsys("stat " + processed, e)
        try:
            if done:
                self._unlink_quiet("previous")
                what = "finish processed .s for logdir "
                self._finish("processed", "s")
            else:
                self._unlink_quiet("processed")
                what = "finish previous .u for logdir "
                self._finish("previous", "u")
            what = "finish current .u for logdir "
            self._finish("current", "u")
        except OSError as e:
            raise fatalsys(what + self.dir, e)
        state = self.path("state")
        try:
            os.close(os.open(state, _TRUNC, 0o666))
        except OSError as e:
            raise fatalsys("open_trunc " + state, e)

    def _unlink_quiet(self, name):
        try:
            os.unlink(self.path(name))
        except OSError:
            pass

    # --- archives --------------------------------------------------------------------------

    def _finish(self, name, suffix):
        """Give file NAME its archive name (`@stamp.SUFFIX`) and trim old archives."""
        x = self.path(name)
        try:
            st = os.stat(x)
        except FileNotFoundError:
            return
        if st.st_nlink == 1:
            os.link(x, self.path(stamp.archive_name(suffix=suffix)))
        os.unlink(x)
        self._trim()

    def _trim(self):
        """Delete the oldest archives beyond `n` files or `S` total bytes."""
        archives = []
        total = 0
        with os.scandir(self.dir) as it:
            for entry in it:
                if not _is_archive(entry.name):
                    continue
                try:
                    size = os.stat(entry.path).st_size
                except OSError as e:
                    self.report.warnsys("stat " + self.path(entry.name), e)
                    continue
                archives.append((entry.name[1:26], entry.name, size))
                total += size
        count = len(archives)
        if count <= self.n and (not self.maxdirsize or total <= self.maxdirsize):
            return
        archives.sort()
        k = 0
        while count > self.n + k or (self.maxdirsize and total > self.maxdirsize):
            if k >= count:
                break
            _, name, size = archives[k]
            try:
                os.unlink(self.path(name))
                total -= size
            except OSError as e:
                if isinstance(e, FileNotFoundError):
                    total -= size
                self.report.warnsys("unlink " + self.path(name), e)
            k += 1

    # --- rotation steps: each returns the next state or raises StepFailed ----------------

    def _sync_current(self, then):
        _step("fd_sync %s/current" % self.dir, os.fsync, self.fd)
        return then

    def _rename(self, name, newname, then):
        src, dst = self.path(name), self.path(newname)
        _step("rename %s to %s" % (src, dst), os.rename, src, dst)
        return then

    def _new_current(self):
        cur = self.path("current")
        fd = _step("open_append " + cur, os.open, cur, _APPEND, 0o666)
        try:
            os.fchmod(fd, 0o644)
        except OSError as e:
            os.close(fd)
            raise StepFailed("fchmod %s to 0644" % cur, e)
        os.close(self.fd)
        self.fd = fd
        self.b = 0
        return Rot.CHMODPREVIOUS

    def _chmod_previous(self):
        prev = self.path("previous")
        _step("chmod %s to 0744" % prev, os.chmod, prev, 0o744)
        return Rot.RUNPROCESSOR if self.processor else Rot.FINISHPREVIOUS

    def _archive(self, name):
        """Archive NAME (previous, or what the processor made of it) as a `.s`."""
        _step("finish %s .s to logdir %s" % (name, self.dir), self._finish, name, "s")
        return Rot.WRITABLE

    def _run_processor(self):
        pid = _step("fork processor for logdir " + self.dir, os.fork)
        if pid == 0:
            self._exec_processor()
        self.pid = pid
        return Rot.WAITPROCESSOR

    def _exec_processor(self):
        """In the child: fd 0 = previous, 1 = processed, 4 = state, 5 = newstate, cwd = dir."""
        prog = "s6-log (processor child)"
        what = "chdir to " + self.dir
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM, signal.SIGCHLD,
                        signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            if self.report.fd != 2:  # first: it may be one of the fds set up below
                os.dup2(self.report.fd, 2)
            os.chdir(self.dir)
            for name, flags, target in (("previous", os.O_RDONLY, 0),
                                        ("processed", _TRUNC & ~os.O_CLOEXEC, 1),
                                        ("state", os.O_RDONLY, 4),
                                        ("newstate", _TRUNC & ~os.O_CLOEXEC, 5)):
                what = ("open_readb " if flags == os.O_RDONLY else "open_trunc ") \
                    + self.dir + "/" + name
                fd = os.open(name, flags, 0o666)
                if fd != target:
                    os.dup2(fd, target)
                    os.close(fd)
                else:
                    os.set_inheritable(fd, True)
            argv = list(self.processor[0]) + [self.processor[1]]
            what = "exec " + argv[0]
            if self.env is None:
                os.execv(argv[0], argv)
            os.execve(argv[0], argv, self.env)
        except BaseException as e:  # noqa: BLE001 - the child must never return
            try:
                Reporter(prog).fatal("unable to ", what, ": ", strerror(e))
            finally:
                os._exit(111)

    def processor_died(self, wstatus):
        self.pid = 0
        if os.WIFSIGNALED(wstatus) or os.waitstatus_to_exitcode(wstatus) != 0:
            self.report.warn("processor %s in %s" % (
                "crashed" if os.WIFSIGNALED(wstatus) else "failed", self.dir))
            self.deadline = time.monotonic() + self.retry
            self.state = Rot.RUNPROCESSOR
        else:
            self.state = Rot.SYNCPROCESSED
            self.advance()

    def _sync_file(self, name, chmod, then):
        """fsync NAME (a processor's output), and with CHMOD mark it finished (0744)."""
        x = self.path(name)
        fd = _step("open_append " + x, os.open, x, _APPEND, 0o666)
        try:
            _step("fd_sync " + x, os.fsync, fd)
            if chmod:
                _step("fd_chmod %s to 0744" % x, os.fchmod, fd, 0o744)
        finally:
            os.close(fd)
        return then

    def _unlink_previous(self):
        try:
            os.unlink(self.path("previous"))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StepFailed("unlink " + self.path("previous"), e)
        return Rot.RENAMESTATE

    def _final_chmod(self):
        _step("fd_chmod %s/current to 0744" % self.dir, os.fchmod, self.fd, 0o744)
        return Rot.END

    def advance(self):
        """Run rotation/finalisation steps until WRITABLE or END (True), a processor wait
        or a failure (False; the failed step is retried after the cooldown)."""
        while self.state not in (Rot.WRITABLE, Rot.END, Rot.WAITPROCESSOR):
            try:
                step, *args = self._steps[self.state]
                self.state = step(*args)
            except StepFailed as e:
                what, exc = e.args
                self.report.warnsys(what, exc)
                self.deadline = time.monotonic() + self.retry
                return False
        return self.state is not Rot.WAITPROCESSOR

    # --- writing ---------------------------------------------------------------------------

    def busy(self):
        """Whether this logdir still has work: unwritten lines or an unfinished rotation."""
        return bool(self.pending) or self.state is not Rot.WRITABLE

    def rotate_now(self):
        """SIGALRM: rotate if something was written since the last rotation."""
        if self.state is Rot.WRITABLE and self.b:
            self.state = Rot.START
            self.advance()

    def flush(self, now):
        """Write pending lines, rotating at the first line end where the size reaches
        s - tolerance.  Returns True when everything is written."""
        if now < self.deadline:
            return not self.busy()
        if self.state is not Rot.WRITABLE and not self.advance():
            return False
        if self.b >= self.s:
            self.state = Rot.START
            if not self.advance():
                return False
        pending = self.pending
        while pending:
            data = pending[0]
            size = len(data)
            pos = 0
            while pos < size:
                need = self.s - self.tolerance - self.b
                if need > size - pos:
                    end = size
                else:
                    nl = data.find(b"\n", pos + max(need, 1) - 1)
                    end = nl + 1 if nl >= 0 else size
                try:
                    w = os.write(self.fd, data[pos:end] if (pos or end != size) else data)
                except OSError as e:
                    self.report.warnsys("write to %s/current" % self.dir, e)
                    self.deadline = time.monotonic() + self.retry
                    pending[0] = data[pos:]
                    return False
                pos += w
                self.b += w
                if self.b + self.tolerance >= self.s and data[pos - 1] == 10:
                    self.state = Rot.START
                    if not self.advance():
                        if pos < size:
                            pending[0] = data[pos:]
                        else:
                            pending.pop(0)
                        return False
            pending.pop(0)
        return True

    def close(self):
        """Close `current` and let go of the lock (a log host ends one logger of many)."""
        for fd in (self.fd, self.lockfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fd = self.lockfd = -1

    def finalize(self):
        """Start (or continue) the clean shutdown: fsync, then the user-x bit on current."""
        if self.state is Rot.WRITABLE:
            self.state = Rot.FINALSYNC
        if time.monotonic() < self.deadline:
            return False
        return self.advance() and self.state is Rot.END
