"""logutil-service and logutil-newfifo: s6-overlay's logging helpers.

    logutil-service [ -f fifo ] logdir
        (as root) open FIFO on stdin if given, read S6_LOGGING_SCRIPT from the container
        environment (default `n20 s1000000 T`, split on spaces and tabs), become `nobody`
        (65534:65534 when there is no such account), clear the environment and run
        `s6-log -b -- SCRIPT... logdir`.  Before that, the logdir is checked (created if
        missing) *as that user*, so a logdir nobody can write gives one clear line instead
        of a logger that dies every second.

    logutil-newfifo [ -m mode ] [ -o owner ] fifo
        deprecated in s6-overlay 3 (and says so): remove FIFO whatever it is, make a FIFO
        with MODE (default 0600) owned by OWNER (default root).

s6-log is ours, exec'd with this interpreter and package (never another s6-log that
happens to come first in PATH), with an empty environment (`exec -c`).  The messages of the steps the
original execline scripts chain are those programs' own (`s6-applyuidgid: fatal: ...`,
`s6-envuidgid: fatal: unknown user: ...`, `s6-mkfifo: fatal: ...`); exit codes as theirs
(1 for logutil-newfifo's failures, which the original's `if` turns into 1).

`catchall(...)` is the catch-all logger /init runs (docs/init.md, S6_LOGGING): the same
checks and privilege drop, with `-p` (as s6-overlay 1/2's logutil-service: the final
"TERM to everyone" must not stop the logger before it has read everything).
"""

import errno
import os

from s6py.cmd._exec import subgetopt
from s6py.diag import fatal, strerror, usage, warn

SERVICE_USAGE = "logutil-service [ -f fifo ] logdir"
NEWFIFO_USAGE = "logutil-newfifo [ -m mode ] [ -o owner ] fifo"
DEFAULT_SCRIPT = ("n20", "s1000000", "T")
DEFAULT_ACCOUNT = "nobody"
FALLBACK_IDS = (65534, 65534)
LOGDIR_MODE = 0o2700


# ---------------------------------------------------------------- logutil-service

def logging_script(environ=None):
    """S6_LOGGING_SCRIPT of the container environment as words (default if unset or blank);
    with S6_KEEP_ENV, that of ENVIRON (default: ours)."""
    from s6py.cmd.contenv import contenv_dir, keep_env

    if keep_env():
        value = (os.environb if environ is None else environ).get(b"S6_LOGGING_SCRIPT")
    else:
        value = None
        directory = contenv_dir()
        if directory is not None:
            from s6py.init.contenv import read_contenv_var

            value = read_contenv_var(directory, "S6_LOGGING_SCRIPT")
    words = os.fsdecode(value or b"").replace("\t", " ").split()
    return words or list(DEFAULT_SCRIPT)


def resolve_account(account):
    """(uid, gid, gidlist) of ACCOUNT, s6-envuidgid -D 65534:65534 style (never fails)."""
    from s6py import accounts

    values = accounts.envuidgid(account, defaults=(FALLBACK_IDS[0], FALLBACK_IDS[1], []))
    gids, _ = accounts.parse_gidlist(values["GIDLIST"])
    return int(values["UID"]), int(values["GID"]), gids


def drop_privileges(account):
    """Become ACCOUNT (s6-envuidgid -D 65534:65534 ACCOUNT s6-applyuidgid -U)."""
    from s6py.cmd.privs import apply_ids

    uid, gid, gids = resolve_account(account)
    apply_ids("s6-applyuidgid", uid, gid, gids)
    return uid, gid


def check_logdir(prog, logdir, who):
    """Make sure the (already unprivileged) process can use LOGDIR: create it (mode 02700)
    if missing, else require a writable, searchable directory.  One clear line otherwise."""
    try:
        os.mkdir(logdir, LOGDIR_MODE)
        return
    except FileExistsError:
        pass
    except OSError as e:
        parent = os.path.dirname(os.path.abspath(logdir))
        if e.errno == errno.ENOENT:
            fatal(prog, 111, "unable to create logdir ", logdir, ": ", parent, " does not exist")
        fatal(prog, 111, "unable to create logdir ", logdir, " as ", who, ": ", strerror(e),
              " (make ", parent, " writable by that user, or create ", logdir, " owned by it)")
    try:
        st = os.stat(logdir)
    except OSError as e:
        fatal(prog, 111, "unable to stat logdir ", logdir, ": ", strerror(e))
    import stat as _stat

    if not _stat.S_ISDIR(st.st_mode):
        fatal(prog, 111, "logdir ", logdir, " exists and is not a directory")
    if not os.access(logdir, os.W_OK | os.X_OK):
        fatal(prog, 111, "logdir ", logdir, " is not writable by ", who, " (owner ",
              str(st.st_uid), ":", str(st.st_gid), ", mode ", "%04o" % _stat.S_IMODE(st.st_mode),
              "): chown it to that user")


def who(account, uid):
    return "%s (uid %d)" % (account, uid)


def _open_fifo_on_stdin(fifo):
    """redirfd -rnb 0 FIFO: open without waiting for a writer, then make it blocking."""
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        fatal("redirfd", 111, "unable to open ", fifo, ": ", strerror(e))
    os.set_blocking(fd, True)
    if fd != 0:
        os.dup2(fd, 0)
        os.close(fd)


def run_s6log(logdir, script, protect=False):
    """exec -c s6-log -b[p] -- SCRIPT... LOGDIR: our s6-log, with an empty environment.

    Exec'd (not called) so that nothing of ours, the environment included, stays in the
    logger's process image; this interpreter and this package, never a PATH search."""
    from s6py import interpreter, self_exec

    try:
        self_exec("s6-log", s6_log_argv(logdir, script, protect)[1:], env={})
    except OSError as e:
        fatal("logutil-service", 111, "unable to exec ", interpreter(), ": ", strerror(e))


def service(argv):
    logdir, script = prepare_service(argv)
    return run_s6log(logdir, script)


def prepare_service(argv):
    """logutil-service ARGV up to its exec: stdin from the FIFO if asked, the logging
    script read, privileges dropped, the logdir checked.  Returns (logdir, script words);
    the s6-log to run is `s6-log -b -- SCRIPT... LOGDIR`, with an empty environment
    (s6_log_argv)."""
    prog = "logutil-service"
    opts, args = subgetopt(prog, SERVICE_USAGE, argv, "f:")
    if not args or not args[0]:
        usage(prog, SERVICE_USAGE)
    fifo = None
    for letter, arg in opts:
        if letter == "f":
            fifo = arg
    logdir = args[0]
    if fifo:
        _open_fifo_on_stdin(fifo)
    script = logging_script()
    uid, _ = drop_privileges(DEFAULT_ACCOUNT)
    check_logdir(prog, logdir, who(DEFAULT_ACCOUNT, uid))
    return logdir, script


def s6_log_argv(logdir, script, protect=False):
    """The argv of the s6-log logutil-service ends in."""
    return ["s6-log", "-bp" if protect else "-b", "--"] + list(script) + [logdir]


def catchall(logdir, script, account=DEFAULT_ACCOUNT):
    """The catch-all logger's ./run (stdin: the pipe /init holds; stdout: the console).

    Our stderr is the console too (never the catch-all pipe: a logger must not log into
    itself).  As root: become ACCOUNT; otherwise stay who we are."""
    prog = "s6-svscan-log"
    os.dup2(1, 2)
    if os.geteuid() == 0 and account:
        uid, _ = drop_privileges(account)
        name = who(account, uid)
    else:
        name = "uid %d" % os.geteuid()
    check_logdir(prog, logdir, name)
    return run_s6log(logdir, script, protect=True)


# ---------------------------------------------------------------- logutil-newfifo

def _rmrf(path):
    """s6-rmrf PATH: whatever it is (a stale FIFO, a file, a tree), never following a link."""
    from s6py.execline.portable import remove_tree

    remove_tree(path)


def newfifo(argv):
    prog = "logutil-newfifo"
    opts, args = subgetopt(prog, NEWFIFO_USAGE, argv, "m:o:")
    mode_text, owner = "0600", "root"
    for letter, arg in opts:
        if letter == "m":
            mode_text = arg
        else:
            owner = arg
    if not args or not args[0]:
        usage(prog, NEWFIFO_USAGE)
    fifo = args[0]
    warn(prog, "this binary is deprecated, use s6-mkfifo and s6-chown instead")
    try:
        _rmrf(fifo)
    except OSError as e:
        _fail("s6-rmrf", "unable to remove ", e.filename or fifo, ": ", strerror(e))
    try:
        mode = int(mode_text, 8)
        if mode < 0 or mode > 0o7777:
            raise ValueError(mode_text)
    except ValueError:
        _fail("s6-mkfifo", "invalid mode: ", mode_text)
    try:
        os.mkfifo(fifo, mode)
        os.chmod(fifo, mode)     # exactly MODE, whatever the umask
    except OSError as e:
        _fail("s6-mkfifo", "unable to mkfifo ", fifo, ": ", strerror(e))
    from s6py import accounts

    try:
        values = accounts.envuidgid(owner)
    except accounts.UnknownAccount as e:
        _fail("s6-envuidgid", str(e))
    except OSError as e:
        _fail("s6-envuidgid", "unable to get supplementary groups for ", owner, ": ", strerror(e))
    try:
        os.chown(fifo, int(values["UID"]), int(values["GID"]))
    except OSError as e:
        _fail("s6-chown", "unable to chown ", fifo, ": ", strerror(e))
    return 0


def _fail(step, *parts):
    """A failing step of the original chain: its own message; the script's `if` exits 1."""
    from s6py.diag import fatal

    fatal(step, 1, *parts)
