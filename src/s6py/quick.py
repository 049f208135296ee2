"""The common case of six short-lived helpers, done without importing `os`.

`import os` alone costs a fresh interpreter about a fifth of its start-up (os pulls in
_collections_abc, stat, posixpath...), more than all the rest of a helper's own work.
So the launcher first hands the command line to `run()` here, which uses only modules
built into the interpreter (posix, _signal, pwd, grp, sys) and either does the whole job
(it execs the next program, or writes and exits) or returns, having changed nothing the
full command would not do again, when the case is not its common one.  The full command
then runs as always, with its own messages: every error, every unusual option, every
renamed link goes that way.  What each quick path does is what the full command does for
that case; tests/test_quick.py runs both (S6PY_QUICK=0 turns the quick paths off) and
compares what the exec'd program gets: argv, environment, ids, groups, signals, cwd.

    s6-echo [-n] [--] ARGS...           written, exit 0
    with-contenv PROG...                the container environment, unless S6_KEEP_ENV is set
    s6-setuidgid ACCOUNT PROG...        a user name (no "uid:gid", not empty)
    execlineb -Pc SCRIPT                SCRIPT words only (no quotes, braces, $, #, \\),
                                        its first word none of our commands
    s6-true, s6-false [ARGS...]         exit 0, exit 1
"""

import posix
import sys

__all__ = ["run"]

_CARRIER = b"S6PY_PWD"          # s6py.PWD_CARRIER, as bytes
_DEFAULT_PATH = b"/usr/bin:/bin"  # s6py.DEFAULT_PATH
_S_IFMT, _S_IFDIR, _S_IFREG, _S_IFCHR = 0o170000, 0o040000, 0o100000, 0o020000
#: the only characters of a quick execlineb script: printable ASCII but what an execline
#: parse treats specially (quotes, backslash, braces, comments, substitution)
_PLAIN = frozenset(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"'\\{}#$") | set(" \t\n")

#: every name of cli.COMMANDS (tests/test_quick.py keeps them equal): a script's first
#: word among them is run in-process by the full execlineb; a literal here, because
#: importing s6py.cli would cost more than the quick path saves
_OUR_COMMANDS = frozenset((
    "background", "backtick", "build-overlay", "case", "cd", "define", "dollarat",
    "elgetopt", "elgetpositionals", "elglob", "eltest", "emptyenv", "envfile", "exec",
    "execline-cd", "execline-umask", "execlineb", "exit", "export", "fdblock",
    "fdclose", "fdmove", "fdreserve", "fdswap", "fix-attrs", "forbacktickx",
    "foreground", "forstdin", "forx", "getcwd", "getpid", "halt", "heredoc", "homeof",
    "if", "ifelse", "ifte", "ifthenelse", "import", "importas", "init",
    "logutil-newfifo", "logutil-service", "loopwhilex", "multidefine",
    "multisubstitute", "pipeline", "piperw", "printcontenv", "redirfd", "runblock",
    "s6-applyuidgid", "s6-chmod", "s6-chown", "s6-dumpenv", "s6-echo", "s6-env",
    "s6-envdir", "s6-envuidgid", "s6-false", "s6-hiercopy", "s6-log", "s6-ls",
    "s6-maximumtime", "s6-mkdir", "s6-nuke", "s6-pause", "s6-rc", "s6-rc-compile",
    "s6-rc-db", "s6-rmrf", "s6-setsid", "s6-setuidgid", "s6-sleep", "s6-supervise",
    "s6-svc", "s6-svdt", "s6-svlisten", "s6-svlisten1", "s6-svok", "s6-svscan",
    "s6-svscanctl", "s6-svstat", "s6-svwait", "s6-sync", "s6-test", "s6-true", "shift",
    "trap", "tryexec", "umask", "unexport", "wait", "with-contenv", "with-retries",
    "withstdinas"))


def run(argv):
    """Do ARGV's command if its case is a quick one (never returns then); else return."""
    if posix.environ.get(b"S6PY_QUICK") == b"0" or not argv:
        return
    name = argv[0].rpartition("/")[2]
    if name == "s6py":
        argv = argv[1:]
        name = argv[0] if argv else ""
    quick = _QUICK.get(name)
    if quick is not None:
        quick(argv)


# --- what every exec'ing helper does first (cli.main, s6py.original_environ) ----------

def _fs(text):
    return text.encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _started_environ():
    """The environment the command would exec with: our launcher's PWD carried back
    (s6py.restore_carried_pwd) and Python's own LC_CTYPE left out (original_environ)."""
    env = dict(posix.environ)
    carried = env.pop(_CARRIER, None)
    if carried is not None:
        if carried[:1] == b"1":
            env[b"PWD"] = carried[1:]
        else:
            env.pop(b"PWD", None)
    if b"LC_CTYPE" in env and _lc_ctype_coerced(env):
        del env[b"LC_CTYPE"]
    return env


def _lc_ctype_coerced(env):
    """s6py.lc_ctype_coerced, for ENV."""
    try:
        fd = posix.open("/proc/self/environ", posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return b"LANG" not in env and b"LC_ALL" not in env and env[b"LC_CTYPE"] == b"C.UTF-8"
    try:
        initial = _read_all(fd)
    finally:
        posix.close(fd)
    return b"\0LC_CTYPE=" not in b"\0" + initial


def _read_all(fd):
    chunks = []
    while True:
        chunk = posix.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _default_signals():
    """s6py.restore_python_ignored_signals: SIGPIPE and SIGXFSZ back to SIG_DFL."""
    import _signal

    for number in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(number, _signal.SIG_DFL)


# --- our launchers (s6py.is_launcher / carry_pwd) ---------------------------------------

def _dirname(path):
    head = path.rpartition("/")[0]
    return head or ("/" if path.startswith("/") else ".")


def _realpath(path):
    """os.path.realpath(PATH) for what it is used for here; None on a link loop."""
    if not path.startswith("/"):
        path = posix.getcwd() + "/" + path
    done, todo, hops = [], [p for p in path.split("/") if p], 40
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        here = "/" + "/".join(done + [part])
        try:
            target = posix.readlink(here)
        except OSError:
            done.append(part)
            continue
        hops -= 1
        if hops < 0:
            return None
        if target.startswith("/"):
            done = []
        todo[:0] = [p for p in target.split("/") if p]
    return "/" + "/".join(done)


_launchers = []


def _is_launcher(path):
    if not _launchers:
        top = _dirname(_dirname(_dirname(_realpath(__file__) or __file__)))
        for candidate in (sys.argv[0] if sys.argv else "", top + "/command/s6py",
                          top + "/bin/s6py"):
            if candidate and candidate != "-c":
                _launchers.append(_realpath(candidate))
    try:
        posix.lstat(path)
    except OSError:
        return False
    return _realpath(path) in _launchers


def _carry_pwd(env, path):
    if not _is_launcher(path.decode(sys.getfilesystemencoding(), "surrogateescape")):
        return env
    env = dict(env)
    pwd = env.get(b"PWD")
    env[_CARRIER] = b"0" if pwd is None else b"1" + pwd
    return env


def _exec_along(candidates, bargv, env):
    """Try each candidate; returns (to let the full command say why) if none could run."""
    for candidate in candidates:
        try:
            posix.execve(candidate, bargv, _carry_pwd(env, candidate))
        except OSError:
            pass


def _pathexec(args, env):
    """cmd._exec.pathexec's search: along our PATH, an empty entry being "."."""
    bargv = [_fs(a) for a in args]
    name = bargv[0]
    path = posix.environ.get(b"PATH", _DEFAULT_PATH)
    if b"/" in name:
        candidates = [name]
    else:
        candidates = [(d or b".") + b"/" + name for d in path.split(b":")]
    _default_signals()
    _exec_along(candidates, bargv, env)


# --- the commands -----------------------------------------------------------------------

def _echo(argv):
    """s6-echo [-n] [--] ARGS...: any other option, or a failed write, is the full one's.
    SIGPIPE is back to SIG_DFL first, as execline.core.init_process has it: a write to a
    closed pipe ends s6-echo as it ends the C one."""
    _default_signals()
    newline, i = True, 1
    while i < len(argv):
        word = argv[i]
        if word == "--":
            i += 1
            break
        if word == "-n":
            newline = False
            i += 1
            continue
        if len(word) > 1 and word[0] == "-":
            return
        break
    data = _fs(" ".join(argv[i:]) + ("\n" if newline else ""))
    written = 0
    while written < len(data):
        try:
            written += posix.write(1, data[written:])
        except InterruptedError:
            continue
        except OSError as e:
            if not written:
                return  # nothing out yet: the full s6-echo writes again and says why
            posix.write(2, b"s6-echo: fatal: unable to write to stdout: "
                        + posix.strerror(e.errno).encode() + b"\n")
            posix._exit(111)
    posix._exit(0)


def _is_dir(path):
    try:
        return posix.stat(path).st_mode & _S_IFMT == _S_IFDIR
    except OSError:
        return False


def _contenv_dir(env):
    """init.contenv.find_contenv_dir(Paths.from_environ()), or None."""
    root = env.get(b"S6PY_ROOT") or b"/"
    run_dir = env.get(b"S6PY_RUN")
    run_top = run_dir if run_dir else root.rstrip(b"/") + b"/run"
    for directory in (run_top + b"/s6/container_environment",
                      root.rstrip(b"/") + b"/var/run/s6/container_environment"):
        if _is_dir(directory):
            return directory
    return None


def _contenv(directory):
    """init.contenv.load_contenv's variables of DIRECTORY, [(name, value or None)], or
    None where the full with-contenv would warn (an entry it cannot read)."""
    entries = []
    dirfd = posix.open(directory, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        for name in sorted(posix.listdir(dirfd)):
            if name.startswith(".") or "=" in name:
                continue
            fd = posix.open(name, posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC,
                            dir_fd=dirfd)
            try:
                kind = posix.fstat(fd).st_mode & _S_IFMT
                if kind != _S_IFREG and kind != _S_IFCHR:
                    return None
                data = _read_all(fd)
            finally:
                posix.close(fd)
            if not data:
                entries.append((_fs(name), None))  # an empty file unsets
                continue
            if data.endswith(b"\n"):
                data = data[:-1]
            entries.append((_fs(name), data.replace(b"\0", b"\n")))
    finally:
        posix.close(dirfd)
    return entries


def _with_contenv(argv):
    args = argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args or not args[0]:
        return
    first = args[0]
    if " " in first or "\t" in first:
        try:
            posix.stat(first)
        except OSError:
            args = first.split() + args[1:]
        if not args:
            return
    # (the new environment is PATH and the container's: ours is only read for these)
    if posix.environ.get(b"S6_KEEP_ENV", b"").strip():
        return  # the settings parser decides what its value means
    directory = _contenv_dir(posix.environ)
    if directory is None:
        return
    try:
        entries = _contenv(directory)
    except OSError:
        return
    if entries is None:
        return
    env = {}
    path = posix.environ.get(b"PATH")
    if path is not None:
        env[b"PATH"] = path
    for name, value in entries:
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    _pathexec(args, env)


def _setuidgid(argv):
    if len(argv) < 3 or not argv[1] or ":" in argv[1]:
        return
    import grp
    import pwd

    account = argv[1]
    try:
        entry = pwd.getpwnam(account)
        gids = [g.gr_gid for g in grp.getgrall() if account in g.gr_mem]
    except (KeyError, OSError):
        return
    uid, gid = entry.pw_uid, entry.pw_gid
    # cmd.privs.apply_ids: groups, gid, uid; where a step fails, the full command does
    # the same steps again and says which one failed
    primary = gid if gid else posix.getegid()
    want = [primary] + [g for g in gids if g != primary]
    try:
        posix.setgroups(want)
    except OSError:
        same_ids = (not uid or uid == posix.geteuid()) and (not gid or gid == posix.getegid())
        if not (same_ids and posix.geteuid() != 0
                and set(want) <= set(posix.getgroups()) | {posix.getegid()}):
            return
    try:
        if gid:
            posix.setgid(gid)
        if uid:
            posix.setuid(uid)
    except OSError:
        return
    _pathexec(argv[2:], _started_environ())


def _execlineb(argv):
    if len(argv) == 3 and argv[1] == "-Pc":
        script = argv[2]
    elif len(argv) == 4 and argv[1] == "-P" and argv[2] == "-c":
        script = argv[3]
    else:
        return
    if not set(script) <= _PLAIN:
        return
    words = script.split()
    if not words:
        return
    if words[0].rpartition("/")[2] in _OUR_COMMANDS:
        return  # run in-process by the full execlineb
    env = _started_environ()
    if b"LC_ALL" in posix.environ and b"LC_CTYPE" in posix.environ:
        env[b"LC_CTYPE"] = posix.environ[b"LC_CTYPE"]  # execline keeps it under any LC_ALL
    bargv = [_fs(w) for w in words]
    path = env.get(b"PATH", _DEFAULT_PATH)
    if b"/" in bargv[0]:
        candidates = [bargv[0]]
    else:
        candidates = [(d + b"/" + bargv[0]) if d else bargv[0] for d in path.split(b":")]
    _default_signals()
    _exec_along(candidates, bargv, env)


def _true(argv):
    """s6-true [ARGS...]: exit 0, whatever the arguments, as the full one."""
    posix._exit(0)


def _false(argv):
    """s6-false [ARGS...]: exit 1."""
    posix._exit(1)


_QUICK = {"s6-echo": _echo, "with-contenv": _with_contenv, "s6-setuidgid": _setuidgid,
          "execlineb": _execlineb, "s6-true": _true, "s6-false": _false}
