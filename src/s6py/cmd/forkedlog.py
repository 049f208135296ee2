"""Run a recognised log/run script (s6py.log.runscript.Plan) in a child forked from the
supervisor, without exec'ing a new interpreter.

The supervisor (engine.service) forks with spawn.fork_call, which sets the child up as for
an exec (new session, default signal dispositions, empty mask, stdin the log pipe, every
other fd closed, cwd the service directory); `run(plan)` then does what the script and the
programs it chains would have done, in this process, in the same order: `cd`, `umask`,
`exec 2>&1` / `fdmove -c 2 1`, with-contenv's environment, s6-setuidgid / s6-envuidgid /
s6-applyuidgid (setgroups, setgid, setuid, with their own messages and exit codes), and
finally the main function of s6-log (or logutil-service's checks, then s6-log) with the
argv the script would have exec'd.  It returns the exit code; fork_call's child exits
with it (os._exit: nothing of the parent's runs in the child).

The modules the child uses are imported here, by the parent, before its first fork, so
that their pages are shared with every logger instead of being loaded again in each.
"""

import _signal
import os

from s6py import accounts, cli  # noqa: F401  (accounts: imported for the children)
from s6py.cmd import contenv, logutil, privs, s6log  # noqa: F401  (imported for the children)
from s6py.diag import Exit, Reporter
from s6py.init import settings  # noqa: F401  (with-contenv's and logutil's S6_KEEP_ENV)
from s6py.log import logdir, loop, script, stamp  # noqa: F401  (shared with the children)

__all__ = ["runner", "run", "name_process", "interpreter_dispositions"]


def runner(plan):
    """A function for spawn.fork_call: run PLAN in the child, return its exit code."""
    return lambda: run(plan)


def run(plan):
    """In the forked child: PLAN's steps, then its command's main; the exit code."""
    name_process("s6-log")  # what the process is, whichever command the script named
    interpreter_dispositions()
    try:
        for what, argument in plan.steps:
            STEPS[what](argument)
        if plan.command == "logutil-service":
            logdir_path, words = logutil.prepare_service(plan.argv)
            os.environ.clear()  # logutil-service execs s6-log with `exec -c`
            argv = logutil.s6_log_argv(logdir_path, words)
        else:
            argv = plan.argv
    except Exit as e:
        return e.code
    return cli.run(cli.resolve("s6-log"), argv)


def name_process(command):
    """`ps -o comm`, top and pgrep show COMMAND (the cmdline stays the supervisor's: see
    docs/logging.md)."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(command[:15])
    except OSError:
        pass


def interpreter_dispositions():
    """What a freshly exec'd interpreter would have: SIGPIPE and SIGXFSZ ignored, SIGINT
    raising KeyboardInterrupt (s6-log then exits 111, as the exec'd one does)."""
    for name in ("SIGPIPE", "SIGXFSZ"):
        number = getattr(_signal, name, None)
        if number is not None:
            _signal.signal(number, _signal.SIG_IGN)
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)


# ------------------------------------------------------------------- the steps

def _cd(directory):
    try:
        os.chdir(directory)
    except OSError as e:
        Reporter("cd").fatal("unable to chdir to ", directory, ": ", e.strerror or str(e))
        raise Exit(111)


def _umask(mask):
    os.umask(mask)


def _stderr_to_stdout(_):
    os.dup2(1, 2)


def _contenv(_):
    """with-contenv: the container environment replaces ours (its own rules and warnings)."""
    from s6py.cmd.contenv import contenv_dir, keep_env

    if keep_env():
        return
    prog = "with-contenv"
    directory = contenv_dir()
    if directory is None:
        Reporter(prog).warn("no container environment in /run/s6/container_environment:"
                            " keeping the current one")
        return
    from s6py.init.contenv import load_contenv

    def unreadable(name, exc):
        Reporter(prog).warn("skipping ", os.path.join(directory, os.fsdecode(name)), ": ",
                            exc.strerror or str(exc))

    try:
        env = load_contenv(directory, on_error=unreadable)
    except OSError as e:
        Reporter(prog).warn("unable to read ", directory, ": ", e.strerror or str(e),
                            ": keeping the current environment")
        return
    os.environ.clear()
    os.environb.update(env)


def _setuidgid(account):
    privs.become(account)


def _envuidgid(account):
    for name, value in privs.account_values(account).items():
        os.environ[name] = value


def _applyuidgid(unexport):
    uid, gid, gids = privs.ids_from_environ("s6-applyuidgid")
    privs.apply_ids("s6-applyuidgid", uid, gid, gids)
    if unexport:
        for name in ("UID", "GID", "GIDLIST"):
            os.environ.pop(name, None)


STEPS = {"cd": _cd, "umask": _umask, "stderr": _stderr_to_stdout, "contenv": _contenv,
         "setuidgid": _setuidgid, "envuidgid": _envuidgid, "applyuidgid": _applyuidgid}
