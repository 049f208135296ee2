"""The catch-all logger (S6_LOGGING=1/2): a FIFO and an s6-log logger supervised by
PID 1.  Imported only when S6_LOGGING is set."""

import os

from s6py.init.context import UsesContext

__all__ = ["CatchAll"]

CATCHALL_NAME = "s6-svscan-log"


class _DroppingStderr:
    """PID 1's sys.stderr while the catch-all logger runs: one write on a non-blocking fd
    to the logger's FIFO.  PID 1 supervises the logger, so it must never block writing to
    it: when the pipe is full (the logger is down) the message is dropped, not waited on."""

    def __init__(self, fd):
        self.fd = fd

    def write(self, text):
        data = text.encode("utf-8", "surrogateescape")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        return self.fd


class CatchAll(UsesContext):
    """S6_LOGGING=1/2: the supervision tree's output goes through a FIFO to an s6-log
    logger that this process supervises (docs/init.md).

    /run/s6/uncaught-logs-fifo    the FIFO; PID 1 holds its read end (the logger's stdin,
                                  so nothing is lost while the logger restarts) and two
                                  write ends: a blocking one installed as its fds 1 and 2
                                  (inherited by services without log/, stage scripts, and
                                  the CMD with S6_LOGGING=2) and a non-blocking one for
                                  its own messages.
    /run/s6/s6-svscan-log/        the logger's service directory (s6-svstat works on it);
                                  ./run = logutil's catchall(): `s6-log -bp` as nobody
                                  (when root) with S6_LOGGING_SCRIPT; its stdout and stderr
                                  are the container's stderr.
    /var/log/s6-uncaught-logs     the logdir (v1/v2's name), also reachable as
                                  /run/uncaught-logs (v3's); with S6_READ_ONLY_ROOT or an
                                  unwritable /var/log the logdir is /run/uncaught-logs.

    Not a scandir entry: the engine's Scanner would stop it with the services, and the
    logger must outlive cont-finish.d.  `release()` (stage 3, before the final TERM) gives
    PID 1 its console back and closes its write ends; the logger (-p ignores that TERM)
    ends on EOF once every other writer is gone.
    """

    def __init__(self, ctx):
        UsesContext.__init__(self, ctx)
        self.fifo = os.path.join(self.paths.run, "s6", "uncaught-logs-fifo")
        self.servicedir = os.path.join(self.paths.run, "s6", CATCHALL_NAME)
        self.logdir = None
        self.read_fd = self.write_fd = self.message_fd = None
        self.console_out = self.console_err = None
        self.service = None
        self._saved_stderr = None

    # ------------------------------------------------------------------ setup

    def account(self):
        """The logger's account: S6_CATCHALL_USER if set, else nobody; None when not root."""
        if os.geteuid() != 0:
            return None
        user = self.ctx.environ.get(b"S6_CATCHALL_USER")
        return os.fsdecode(user).strip() if user and user.strip() else "nobody"

    def _say_if_unknown(self, account):
        """A typo in S6_CATCHALL_USER falls back to 65534:65534, as s6-envuidgid -D does:
        say so once rather than silently."""
        if not (self.ctx.environ.get(b"S6_CATCHALL_USER") or b"").strip():
            return
        from s6py import accounts
        from s6py.cmd.logutil import FALLBACK_IDS

        try:
            accounts.envuidgid(account)
        except (accounts.UnknownAccount, ValueError) as e:
            self.say.warn("S6_CATCHALL_USER=%s: %s: the catch-all logger runs as %d:%d"
                          % (account, e, FALLBACK_IDS[0], FALLBACK_IDS[1]))

    def _make_logdir(self, uid, gid):
        from s6py.init.stage1 import relative_symlink

        run_name = self.paths.uncaught_logs
        var_name = self.paths.at("/var/log/s6-uncaught-logs")
        real = run_name
        if not self.settings.read_only_root:
            try:
                os.makedirs(os.path.dirname(var_name), 0o755, exist_ok=True)
                if os.path.islink(var_name):
                    os.unlink(var_name)
                os.makedirs(var_name, 0o2700, exist_ok=True)
                real = var_name
            except OSError as e:
                self.say.info("catch-all logger: unable to use %s (%s): logging into %s"
                              % (var_name, e.strerror or e, run_name))
        if real == run_name:
            os.makedirs(run_name, 0o2700, exist_ok=True)
        else:
            relative_symlink(var_name, run_name)
        if uid is not None:
            os.chown(real, uid, gid)
        os.chmod(real, 0o2700)
        self.logdir = real

    def _write_run(self, account):
        from s6py import INTERPRETER_FLAGS, interpreter, package_parent

        text = ("#!%s %s\n"
                "# The catch-all logger (S6_LOGGING): written by /init at boot.\n"
                "import sys\n"
                "sys.path.insert(0, %r)\n"
                "from s6py.cmd.logutil import catchall\n"
                "sys.exit(catchall(%r, %r, %r))\n"
                % (interpreter(), INTERPRETER_FLAGS, package_parent(), self.logdir,
                   list(self.settings.logging_script), account))
        os.makedirs(self.servicedir, 0o755, exist_ok=True)
        run = os.path.join(self.servicedir, "run")
        with open(run + ".new", "w") as f:
            f.write(text)
        os.chmod(run + ".new", 0o755)
        os.rename(run + ".new", run)

    def setup(self):
        """Everything above, then redirect fds 1 and 2.  Raises OSError; on failure
        nothing is redirected (the caller carries on as S6_LOGGING=0)."""
        from s6py.cmd.logutil import resolve_account
        from s6py.engine.service import Service

        account = self.account()
        uid = gid = None
        if account is not None:
            uid, gid, _ = resolve_account(account)
            self._say_if_unknown(account)
        self._make_logdir(uid, gid)
        self._write_run(account)
        try:
            os.unlink(self.fifo)
        except FileNotFoundError:
            pass
        os.mkfifo(self.fifo, 0o600)
        os.chmod(self.fifo, 0o600)
        flags = os.O_CLOEXEC
        try:
            self.read_fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK | flags)
            os.set_blocking(self.read_fd, True)
            self.write_fd = os.open(self.fifo, os.O_WRONLY | flags)
            self.message_fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK | flags)
            self.console_out = os.dup(1)
            self.console_err = os.dup(2)
            for fd in (self.console_out, self.console_err):
                os.set_inheritable(fd, False)
            self.service = Service(self.ctx.loop, self.servicedir, CATCHALL_NAME,
                                   stdin=self.read_fd, stdout=self.console_err,
                                   on_exit=self._logger_gone)
            self.service.start()
        except BaseException:
            self._close_all()
            raise
        import sys

        os.dup2(self.write_fd, 1)
        os.dup2(self.write_fd, 2)
        self.say.fd = self.message_fd
        self._saved_stderr = (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = _DroppingStderr(self.message_fd)

    # --------------------------------------------------------------- the end

    def release(self):
        """Give PID 1 its console back and close its write ends; the logger exits (and
        is not restarted) once every other writer is gone."""
        import sys

        if self.console_out is None:
            return
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.dup2(self.console_out, 1, inheritable=True)
        os.dup2(self.console_err, 2, inheritable=True)
        self.say.fd = 2
        if self._saved_stderr is not None:
            sys.stdout, sys.stderr = self._saved_stderr
            self._saved_stderr = None
        for name in ("write_fd", "message_fd"):
            fd = getattr(self, name)
            if fd is not None:
                _close(fd)
                setattr(self, name, None)
        if self.service is not None:
            from s6py.engine.service import Event

            self.service.fire(Event.x)

    def _logger_gone(self, service):
        self.service = None
        if self.read_fd is not None:
            _close(self.read_fd)
            self.read_fd = None

    def _close_all(self):
        for name in ("read_fd", "write_fd", "message_fd", "console_out", "console_err"):
            fd = getattr(self, name)
            if fd is not None:
                _close(fd)
                setattr(self, name, None)


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass
