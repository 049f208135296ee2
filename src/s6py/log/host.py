"""A log host: the s6-log loggers of one identity (uid, gid, groups) in one process.

Forked from the supervisor (s6py.log.hosting) and become that identity once, a host runs
every logger the supervisor hands it on one event loop: each logger is an
s6py.log.loop.Logger on its own fds (the log pipe, stdout, stderr, received over the
control socket), with its own working directory, umask and environment (for its
processors).  Nothing in a logger blocks the others but a write to the disk itself, as in
any s6-log: a logdir that cannot be written waits for its cooldown on a timer, a processor
runs in a child of the host, a paused (SIGSTOP'd) logger just stops reading its pipe.

What the supervisor would have done to a logger's process it asks of the host
(s6py.wire.loghost): `signal ID SIGNO GROUP` is acted out as the signal's effect on an
s6-log: TERM, HUP, ALRM as s6-log handles them; STOP/CONT pause and resume; INT ends the
logger with 111 (a Python s6-log's KeyboardInterrupt); KILL and every other deadly signal
end it at once with that signal, its `current` left unfinished as a killed s6-log leaves
it; with GROUP, the logger's processors get the signal too.  When a logger ends, the host
says `EXIT ID WSTAT`, which the supervisor takes as the death of the logger's process.

A signal sent to the host itself (TERM, HUP, ALRM, INT: a `kill` at shutdown) reaches every
logger.  At the end of the control stream (the supervisor closed it) every logger is told
TERM; the host exits when the last one is done.  A bug in one logger (an exception) ends
that logger (exit 111, its traceback on its stderr), not the host.
"""

import _signal as signal
import os
import time

from s6py.diag import Exit, Reporter
from s6py.engine.loop import Loop
from s6py.wire import loghost

__all__ = ["main"]

#: the signals whose default action is to do nothing (the logger goes on)
_HARMLESS = frozenset(getattr(signal, name) for name in
                      ("SIGCHLD", "SIGURG", "SIGWINCH", "SIGPIPE", "SIGXFSZ")
                      if hasattr(signal, name))
_STOPS = frozenset(getattr(signal, name) for name in ("SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU"))
#: what a logger's Logger handles itself
_HANDLED = (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM)
#: the host's number for a fd the logger does not have: always closed (EBADF)
_NO_FD = 0x7FFFFFFF


def _resolve(spec, fds):
    """The host's fd for a ("sent", INDEX) or ("inherited", N) of the start message."""
    how, number = spec
    if how == "sent":
        return fds[number]
    if how == "inherited" and number in (1, 2):
        return number
    raise ValueError(spec)


def _needs_cwd(logger):
    """Whether something of LOGGER names a path relative to its working directory: a
    logdir or a status file (`=FILE`).  (Processors chdir into their logdir.)"""
    if not all(os.path.isabs(ld.dir) for ld in logger.logdirs):
        return True
    return any(not os.path.isabs(target) for target in logger.status_files())


def _exited(code):
    return (code & 0xFF) << 8


class Hosted:
    """One logger of the host: its fds, its context, its Logger once built.

    OWNED are the fds the host received for it and closes at its end; its stdout and
    stderr may instead be the host's own 1 and 2 (see s6py.log.hosting.Host.spec_of).
    CWD_FD is None once the logger is built when nothing of it depends on the working
    directory (every logdir absolute): one fd less per logger."""

    def __init__(self, ident, stdin, stdout, stderr, cwd_fd, notif, umask, env, owned):
        self.ident = ident
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.cwd_fd = cwd_fd
        self.notif = notif
        self.umask = umask
        self.env = env
        self.owned = owned
        self.logger = None
        self.retry_at = None     # finalizing (stdin ended): when to try its next step

    @property
    def finishing(self):
        return self.retry_at is not None

    def drop_cwd(self):
        """Close the working directory's fd (the logger no longer needs it)."""
        if self.cwd_fd is not None:
            self.owned.remove(self.cwd_fd)
            os.close(self.cwd_fd)
            self.cwd_fd = None

    def close_fds(self):
        for fd in self.owned:
            try:
                os.close(fd)
            except OSError:
                pass
        self.owned = []


class Host:
    def __init__(self, sock):
        self.sock = sock
        self.loggers = {}
        self.current = None      # the Hosted whose cwd and umask are in force
        self.listening = True    # the control stream has not ended
        self.loop = Loop({signal.SIGTERM: self.on_host_signal, signal.SIGHUP: self.on_host_signal,
                          signal.SIGALRM: self.on_host_signal, signal.SIGINT: self.on_host_signal},
                         prog="s6-log", carry_on=False, own_dispositions=False)
        self.loop.on_orphan = self.reaped
        os.set_blocking(sock.fileno(), False)
        self.loop.add_reader(sock.fileno(), self.on_message)

    # --- the loop -----------------------------------------------------------------------

    def run(self):
        while self.listening or self.loggers:
            self.loop.run_once(self._timeout())
            for hosted in list(self.loggers.values()):
                self._guarded(hosted, self._after_events, hosted)
        return 0

    def _timeout(self):
        times = []
        for hosted in self.loggers.values():
            if hosted.finishing:
                times.append(hosted.retry_at)
            elif hosted.logger is not None:
                deadline = hosted.logger.next_deadline()
                if deadline is not None:
                    times.append(deadline)
        if not times:
            return None
        return max(0.0, min(times) - time.monotonic())

    def _after_events(self, hosted):
        logger = hosted.logger
        if hosted.finishing:
            if time.monotonic() >= hosted.retry_at:
                self._finalize(hosted)
            return
        logger.after_events()
        if not logger.update():
            logger.detach()
            hosted.retry_at = 0.0
            self._finalize(hosted)

    def _finalize(self, hosted):
        retry_at = hosted.logger.finalize_step()
        if retry_at is None:
            self._end(hosted, 0)
        else:
            hosted.retry_at = retry_at

    def _enter(self, hosted):
        """HOSTED's working directory and umask, for what is done on its behalf."""
        if self.current is not hosted:
            if hosted.cwd_fd is not None:
                os.fchdir(hosted.cwd_fd)
            os.umask(hosted.umask)
            self.current = hosted

    def _guarded(self, hosted, function, *args):
        """FUNCTION(*ARGS) in HOSTED's context; an exception ends that logger only."""
        try:
            self._enter(hosted)
            function(*args)
        except Exception as e:  # noqa: BLE001 - one logger's bug must not end the others
            _traceback_to(hosted.stderr, e)
            self._end(hosted, _exited(111))

    # --- the control stream -------------------------------------------------------------

    def on_message(self):
        try:
            message, fds = loghost.receive(self.sock)
        except BlockingIOError:
            return
        except OSError:
            message, fds = None, []
        if message is None:
            self._hang_up()
            return
        kind = message[0]
        if kind == "start":
            self.start(message[1], message[2], fds)
        elif kind == "signal":
            for fd in fds:
                os.close(fd)
            hosted = self.loggers.get(message[1])
            if hosted is not None:
                self._guarded(hosted, self.deliver, hosted, message[2], message[3])

    def _hang_up(self):
        """The supervisor closed the stream: every logger is told TERM."""
        self.listening = False
        self.loop.remove_reader(self.sock.fileno())
        self.on_host_signal(signal.SIGTERM)

    def start(self, ident, settings, fds):
        try:
            stdout = _resolve(settings["stdout"], fds)
            stderr = _resolve(settings["stderr"], fds)
            notif = None if settings["notif_at"] is None else fds[settings["notif_at"]]
            stdin, cwd_fd = fds[0], fds[1]
        except (IndexError, KeyError, TypeError, ValueError):
            # fds lost on the way (MSG_CTRUNC: the host has no fd left) or a bad message
            for fd in fds:
                os.close(fd)
            self._report_exit(ident, _exited(111))
            return
        hosted = Hosted(ident, stdin, stdout, stderr, cwd_fd, notif, settings["umask"],
                        settings["env"], list(fds))
        self.loggers[ident] = hosted
        self._guarded(hosted, self._build, hosted, settings)

    def _build(self, hosted, settings):
        """What logutil-service and s6-log do before their loop; their messages go to the
        logger's stderr, a failure ends the logger with their exit code."""
        from s6py.cmd import logutil, s6log

        reporter = Reporter("s6-log", fd=hosted.stderr)
        fd_map = {0: hosted.stdin, 1: hosted.stdout, 2: hosted.stderr}
        if hosted.notif is not None:
            fd_map[settings["notif"]] = hosted.notif
        with _stderr_on(hosted.stderr):
            try:
                if settings.get("logdir_check") is not None:
                    logdir, who = settings["logdir_check"]
                    logutil.check_logdir("logutil-service", logdir, who)
                logger, code = s6log.prepare(settings["argv"], reporter, stdin=hosted.stdin,
                                             stdout=hosted.stdout,
                                             fd_of=lambda fd: fd_map.get(fd, _NO_FD),
                                             path=_path_of(hosted.env))
            except Exit as e:
                logger, code = None, e.code
        if logger is None:
            self._end(hosted, _exited(code))
            return
        if logger.notif is not None:
            if hosted.notif in hosted.owned:
                hosted.owned.remove(hosted.notif)
            hosted.notif = None  # the Logger writes the notification and closes it
        if logger.stdout_ok and hosted.stdout not in hosted.owned:
            # `1` lines go to the host's own 1: a fd of its own, watched and maybe closed
            # by this logger alone
            hosted.stdout = logger.stdout = os.dup(hosted.stdout)
            hosted.owned.append(hosted.stdout)
        if not _needs_cwd(logger):
            hosted.drop_cwd()
        for ld in logger.logdirs:
            ld.env = hosted.env
        hosted.logger = logger
        logger.attach(self.loop)
        logger.update()

    # --- signals ------------------------------------------------------------------------

    def deliver(self, hosted, signo, group):
        """SIGNO's effect on the logger HOSTED (and on its processors with GROUP)."""
        logger = hosted.logger
        if group and logger is not None:
            for ld in logger.logdirs:
                if ld.pid:
                    try:
                        os.kill(ld.pid, signo)
                    except OSError:
                        pass
        if logger is None or signo in _HARMLESS:
            return
        if signo in _HANDLED:
            if not hosted.finishing:
                logger.on_signal(signo)
                logger.update()
        elif signo in _STOPS:
            logger.paused = True
            logger.update()
        elif signo == signal.SIGCONT:
            logger.paused = False
            logger.update()
        elif signo == signal.SIGINT:
            self._end(hosted, _exited(111))
        else:
            self._end(hosted, signo)

    def on_host_signal(self, signo):
        for hosted in list(self.loggers.values()):
            self._guarded(hosted, self.deliver, hosted, signo, False)

    def reaped(self, pid, wstat):
        """A child of the host died: a logger's processor."""
        for hosted in list(self.loggers.values()):
            if hosted.logger is not None and any(ld.pid == pid for ld in hosted.logger.logdirs):
                self._guarded(hosted, hosted.logger.reaped, pid, wstat)
                return

    # --- the end of a logger ------------------------------------------------------------

    def _end(self, hosted, wstat):
        if self.loggers.pop(hosted.ident, None) is None:
            return
        if hosted.logger is not None:
            hosted.logger.detach()
            for ld in hosted.logger.logdirs:
                ld.close()
        if self.current is hosted:
            self.current = None
        hosted.close_fds()
        self._report_exit(hosted.ident, wstat)

    def _report_exit(self, ident, wstat):
        try:
            loghost.send_exit(self.sock, ident, wstat)
        except OSError:
            pass  # the supervisor is gone


class _stderr_on:
    """fd 2 is FD for the duration (diag.fatal and friends write to fd 2)."""

    def __init__(self, fd):
        self.fd = fd
        self.saved = None

    def __enter__(self):
        self.saved = os.dup(2)
        os.dup2(self.fd, 2)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)


def _path_of(env):
    value = env.get(b"PATH")
    return None if value is None else os.fsdecode(value)


def _traceback_to(fd, exc):
    try:
        import traceback

        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:  # noqa: BLE001 - python3-minimal may lack traceback's imports
        text = "s6-log: fatal: internal error: %r\n" % (exc,)
    try:
        os.write(fd, text.encode("utf-8", "replace"))
    except OSError:
        pass


def main(sock_fd, identity):
    """The host's life, in the child the supervisor forked: become IDENTITY (uid, gid,
    gids or None), then run until the control stream ends and no logger is left."""
    import _socket

    from s6py.cmd import forkedlog, privs

    forkedlog.name_process("s6-log")
    forkedlog.interpreter_dispositions()
    sock = _socket.socket(fileno=sock_fd)
    uid, gid, gids = identity
    if (uid, gid) != (os.getuid(), os.getgid()) or gids is not None:
        try:
            privs.apply_ids("s6-applyuidgid", uid, gid, gids)
        except Exit as e:
            return e.code
    return Host(sock).run()
