"""Log hosts, the supervisor's side: the loggers of one identity share one process.

A recognised log/run (s6py.log.runscript.Plan) is first evaluated here, without side
effects (`prepare`): the environment it would end with (with-contenv, s6-envuidgid), its
working directory and umask, whether its stderr is its stdout, the identity it would drop
to (s6-setuidgid, s6-applyuidgid, logutil-service's nobody) and the s6-log argv it would
exec.  Anything that would print a line or fail (an unknown account, no container
environment, `logutil-service -f`, a second privilege drop...) gives None, and the
logger is forked on its own as before, where the same steps say what they always say.

A `Pool` (one per supervisor loop) keeps one host per identity (s6py.log.host), forked
the first time a logger of that identity starts and closed when its last logger is done.
Starting a logger sends the host its fds and settings; the engine holds a `HostedLogger`
in place of a child pid: its `pid` is the host's (what s6-svstat shows), `signal()` asks
the host to act the signal out on that logger, and its end arrives as a wait status, as
a child's would.  When a host dies, every logger it held dies with the host's status
(their pipes are still held by the supervisor: nothing in them is lost) and is restarted
as any dead logger is.
"""

import os
import stat

from s6py.wire import loghost

__all__ = ["Start", "prepare", "start", "HostedLogger", "enabled"]


_ENABLED = []


def enabled():
    """False when S6PY_LOG_HOSTS=0 (or "no", "false", "off"): every recognised logger is
    then forked on its own (see also S6PY_FORKED_LOGGERS).  Read once per process."""
    if not _ENABLED:
        from s6py.cmd.forkhook import switched_off

        _ENABLED.append(not switched_off("S6PY_LOG_HOSTS"))
    return _ENABLED[0]


class Start:
    """What a host needs to start one logger.

    identity          (uid, gid, gids): gids None = leave the group list alone
    argv              the s6-log argv (argv[0] = "s6-log")
    env               {bytes: bytes}, its environment (for its processors)
    cwd, umask        its working directory (absolute) and umask
    stderr_is_stdout  `exec 2>&1` / `fdmove -c 2 1`
    logdir_check      (logdir, who) for logutil-service's check as nobody, or None
    """

    __slots__ = ("identity", "argv", "env", "cwd", "umask", "stderr_is_stdout", "logdir_check")

    def __init__(self, identity, argv, env, cwd, umask, stderr_is_stdout, logdir_check):
        self.identity = identity
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.umask = umask
        self.stderr_is_stdout = stderr_is_stdout
        self.logdir_check = logdir_check


class _Unusual(Exception):
    """The plan does something we leave to a logger forked on its own."""


def prepare(plan, root):
    """The Start of PLAN run from service directory ROOT, or None (see the module)."""
    try:
        return _prepare(plan, root)
    except _Unusual:
        return None


def _current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _prepare(plan, root):
    env = dict(os.environb)
    cwd, umask, stderr_is_stdout = root, _current_umask(), False
    identity = None  # unchanged
    for what, argument in plan.steps:
        if what == "cd":
            cwd = os.path.normpath(os.path.join(cwd, argument))
        elif what == "umask":
            umask = argument
        elif what == "stderr":
            stderr_is_stdout = True
        elif what == "contenv":
            env = _with_contenv(env)
        elif what == "envuidgid":
            env.update(_account_values(argument))
        elif what in ("setuidgid", "applyuidgid"):
            if identity is not None:
                raise _Unusual()
            if what == "setuidgid":
                identity = _account_ids(argument)
            else:
                identity = _ids_from(env)
                if argument:
                    for name in (b"UID", b"GID", b"GIDLIST"):
                        env.pop(name, None)
        else:
            raise _Unusual()
    argv, logdir_check = plan.argv, None
    if plan.command == "logutil-service":
        if identity is not None:
            raise _Unusual()  # logutil-service as non-root fails: let it say so
        identity, argv, env, logdir_check = _logutil_service(plan.argv, env)
    if identity is None:
        identity = (os.geteuid(), os.getegid(), None)
    if os.geteuid() != 0 and identity[:2] != (os.geteuid(), os.getegid()):
        raise _Unusual()
    return Start(identity, argv, env, cwd, umask, stderr_is_stdout, logdir_check)


def _with_contenv(env):
    from s6py.cmd.contenv import contenv_dir, keep_env
    from s6py.init.contenv import load_contenv

    if keep_env():
        return env
    directory = contenv_dir()
    if directory is None:
        raise _Unusual()  # with-contenv warns: let it

    def unreadable(_name, _exc):
        raise _Unusual()

    try:
        return load_contenv(directory, path=env.get(b"PATH"), on_error=unreadable)
    except OSError:
        raise _Unusual() from None


def _account_values(account):
    from s6py import accounts

    try:
        values = accounts.envuidgid(account, accounts.ACCOUNT)
    except (accounts.UnknownAccount, OSError):
        raise _Unusual() from None
    return {k.encode(): v.encode() for k, v in values.items()}


def _account_ids(account):
    """s6-setuidgid ACCOUNT's (uid, gid, gids)."""
    user, colon, group = account.partition(":")
    if colon:
        if not (_is_number(user) and _is_number(group)):
            raise _Unusual()
        return int(user), int(group), ()
    return _ids_from(_account_values(account))


def _is_number(text):
    return text.isascii() and text.isdigit()


def _ids_from(env):
    """s6-applyuidgid -U's (uid, gid, gids) from ENV's UID, GID, GIDLIST."""
    from s6py.accounts import parse_gidlist

    uid, gid, gidlist = (os.fsdecode(env.get(n, b"")) for n in (b"UID", b"GID", b"GIDLIST"))
    if not (_is_number(uid) and _is_number(gid)) or b"GIDLIST" not in env:
        raise _Unusual()
    gids, _ = parse_gidlist(gidlist)
    if not gids and gidlist:
        raise _Unusual()
    return int(uid), int(gid), tuple(gids)


def _logutil_service(argv, env):
    """logutil-service DIR: (identity, s6-log argv, its empty environment, the check)."""
    from s6py.cmd import logutil

    if len(argv) != 2 or not argv[1] or argv[1].startswith("-"):
        raise _Unusual()  # -f FIFO, --, usage errors: let logutil-service do them
    logdir = argv[1]
    words = logutil.logging_script(env)
    uid, gid, gids = logutil.resolve_account(logutil.DEFAULT_ACCOUNT)
    return ((uid, gid, tuple(gids)), logutil.s6_log_argv(logdir, words), {},
            (logdir, logutil.who(logutil.DEFAULT_ACCOUNT, uid)))


# ----------------------------------------------------------------------- the pool

_POOLS = {}


def start(loop, plan, root, stdin, stdout, fds, on_exit):
    """Start PLAN's logger in a host of LOOP's pool: a HostedLogger, or None (fork it on
    its own).  STDIN is the log pipe, STDOUT its stdout (None: ours), FDS {fd: source}
    its extra fds (its notification-fd at most); ON_EXIT(wstat) is called once it ends."""
    if len(fds) > 1 or any(fd < 3 for fd in fds):
        return None
    settings = prepare(plan, root)
    if settings is None:
        return None
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = Pool(loop)
    return pool.start(settings, stdin, 1 if stdout is None else stdout, fds, on_exit)


class HostedLogger:
    """A logger run by a host, as the engine sees it: a pid (the host's) and signals."""

    def __init__(self, host, ident, on_exit):
        self.host = host
        self.ident = ident
        self.on_exit = on_exit

    @property
    def pid(self):
        return self.host.pid

    def signal(self, signo, group=False):
        self.host.send_signal(self.ident, signo, group)


class Pool:
    """The hosts of one supervisor, by identity."""

    def __init__(self, loop):
        self.loop = loop
        self.hosts = {}
        self.last_ident = 0

    def start(self, settings, stdin, stdout, fds, on_exit):
        try:
            cwd_fd = os.open(settings.cwd, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return None  # the forked logger says why (before a host is made for nothing)
        host = self.hosts.get(settings.identity)
        if host is None:
            try:
                host = Host(self, settings.identity)
            except OSError:
                os.close(cwd_fd)
                return None
            self.hosts[settings.identity] = host
        notif_number, notif_fd = next(iter(fds.items())) if fds else (None, None)
        sent = [stdin, cwd_fd]
        stdout_spec = host.spec_of(stdout, sent)
        stderr_spec = stdout_spec if settings.stderr_is_stdout else host.spec_of(2, sent)
        notif_at = None
        if notif_fd is not None:
            sent.append(notif_fd)
            notif_at = len(sent) - 1
        self.last_ident += 1
        ident = self.last_ident
        message = ("start", ident, {"argv": settings.argv, "env": settings.env,
                                    "umask": settings.umask, "notif": notif_number, "notif_at": notif_at,
                                    "stdout": stdout_spec, "stderr": stderr_spec,
                                    "logdir_check": settings.logdir_check})
        try:
            loghost.send(host.sock, message, sent)
        except OSError:
            host.close_if_idle()
            return None
        finally:
            os.close(cwd_fd)
        logger = HostedLogger(host, ident, on_exit)
        host.loggers[ident] = logger
        return logger

    def forget(self, host):
        if self.hosts.get(host.identity) is host:
            del self.hosts[host.identity]


def _shareable_identity(fd):
    """What FD is, when another fd on the same object is as good as FD itself: a pipe, a
    FIFO, a socket, a character device (the same inode and the same blocking mode).  None
    for a regular file (its offset belongs to one open file, which fstat cannot tell) or
    a fd that is not open."""
    try:
        st = os.fstat(fd)
        blocking = os.get_blocking(fd)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_rdev, blocking)


class Host:
    """One host process and its control socket."""

    def __init__(self, pool, identity):
        from s6py.cmd import forkedlog  # noqa: F401  (the loggers' modules, shared pages)
        from s6py.engine.spawn import fork_call
        from s6py.log import host as host_process

        self.pool = pool
        self.loop = pool.loop
        self.identity = identity
        self.loggers = {}
        self.queue = []          # signal messages the host could not take yet
        self.closed = False
        self.sock, theirs = loghost.pair()
        # what the host's own 1 and 2 are: a logger writing to the same needs no fd of its own
        self.inherited = {fd: _shareable_identity(fd) for fd in (1, 2)}
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.pid = fork_call(lambda: host_process.main(3, identity), label="log host",
                                 stdin=devnull, stdout=1, stderr=2,
                                 fds={3: theirs.fileno()})
        except OSError:
            self.sock.close()
            raise
        finally:
            theirs.close()
            os.close(devnull)
        os.set_blocking(self.sock.fileno(), False)
        self.loop.add_reader(self.sock.fileno(), self._readable)
        self.loop.watch_child(self.pid, self._died)

    def spec_of(self, fd, sent):
        """How the host finds the logger's fd FD (our number): ("inherited", N) when it is
        still what the host got as its own N at its fork, else ("sent", INDEX) with FD
        appended to SENT.  Saves a host two fds per logger (stdout and stderr are most
        often ours), which is what lets one host hold hundreds of loggers."""
        if fd in self.inherited and self.inherited[fd] is not None \
                and _shareable_identity(fd) == self.inherited[fd]:
            return ("inherited", fd)
        if fd in sent[2:]:
            return ("sent", sent.index(fd, 2))
        sent.append(fd)
        return ("sent", len(sent) - 1)

    def send_signal(self, ident, signo, group):
        if self.closed or ident not in self.loggers:
            return
        message = ("signal", ident, signo, bool(group))
        if self.queue:
            self.queue.append(message)
            return
        try:
            loghost.send(self.sock, message)
        except BlockingIOError:
            self.queue.append(message)
            self.loop.add_writer(self.sock.fileno(), self._writable)
        except OSError:
            pass  # the host is dying: its death ends the logger

    def _writable(self):
        while self.queue:
            try:
                loghost.send(self.sock, self.queue[0])
            except BlockingIOError:
                return
            except OSError:
                self.queue = []
                break
            self.queue.pop(0)
        self.loop.remove_writer(self.sock.fileno())

    def _readable(self):
        """EXIT messages: those loggers died."""
        while not self.closed:
            try:
                data = self.sock.recv(64)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self.loop.remove_reader(self.sock.fileno())
                break
            parsed = loghost.parse_exit(data)
            if parsed is None:
                continue
            logger = self.loggers.pop(parsed[0], None)
            if logger is not None:
                logger.on_exit(parsed[1])
        self.close_if_idle()

    def close_if_idle(self):
        """With no logger left, close the stream: the host ends."""
        if not self.loggers and not self.closed:
            self._close()

    def _close(self):
        self.closed = True
        self.pool.forget(self)
        fd = self.sock.fileno()
        if fd >= 0:
            self.loop.remove_reader(fd)
            if self.queue:
                self.loop.remove_writer(fd)
        self.queue = []
        self.sock.close()

    def _died(self, wstat):
        """The host is dead: what it said first counts, the rest die with it."""
        if not self.closed:
            self._readable()
        left = list(self.loggers.values())
        self.loggers = {}
        if not self.closed:
            self._close()
        for logger in left:
            logger.on_exit(wstat)
