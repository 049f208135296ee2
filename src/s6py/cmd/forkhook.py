"""Forked loggers, switched on: what /init and s6-svscan install in the engine so that a
log service whose run script is one of the usual forms runs in a child forked from the
supervisor, not in a new interpreter (docs/logging.md).

Kept apart from cmd/forkedlog.py, whose imports are the loggers' (s6-log, logutil,
privileges): installing costs PID 1 nothing until a recognised logger exists.
"""

import os

__all__ = ["install", "enabled", "switched_off", "forked_run", "forked_script"]


def enabled():
    """False when S6PY_FORKED_LOGGERS=0 (or "no", "false", "off"); True otherwise."""
    return not switched_off("S6PY_FORKED_LOGGERS")


def switched_off(name):
    """Whether the switch NAME is 0 (or "no", "false", "off"), in our environment or in
    the one we were started with (/init replaces its environment by the supervision
    tree's; /proc/self/environ still holds the container's)."""
    value = os.environ.get(name)
    if value is None:
        value = _initial_environ_value(os.fsencode(name))
    return (value or "").strip().lower() in ("0", "no", "false", "off")


def _initial_environ_value(name):
    try:
        with open("/proc/self/environ", "rb") as f:
            entries = f.read().split(b"\0")
    except OSError:
        return None
    prefix = name + b"="
    for entry in entries:
        if entry.startswith(prefix):
            return os.fsdecode(entry[len(prefix):])
    return None


class Hook:
    """What engine.service.FORKED_LOGGERS holds: recognise a log/run, run its plan."""

    @staticmethod
    def plan(servicedir):
        from s6py.log import runscript

        return runscript.recognise(servicedir, contenv_path=contenv_path)

    @staticmethod
    def host(loop, plan, root, stdin, stdout, fds, on_exit):
        """PLAN's logger in a log host shared with the loggers of its identity (a
        log.hosting.HostedLogger), or None: fork it on its own."""
        try:
            from s6py.log import hosting
        except ImportError:  # an interpreter without _socket: each logger forked alone
            return None
        if not hosting.enabled():
            return None
        return hosting.start(loop, plan, root, stdin, stdout, fds, on_exit)

    @staticmethod
    def runner(plan):
        from s6py.cmd import forkedlog

        return forkedlog.runner(plan)


def contenv_path(path):
    """The PATH after with-contenv: the container environment's, when it has one (and
    S6_KEEP_ENV is not set: then the environment is kept)."""
    from s6py.cmd.contenv import contenv_dir, keep_env

    if keep_env():
        return path
    directory = contenv_dir()
    if directory is None:
        return path
    from s6py.init.contenv import read_contenv_var

    value = read_contenv_var(directory, "PATH")
    return path if value is None else os.fsdecode(value)


def install():
    """Let this process's supervisors fork recognised loggers and with-contenv run
    scripts (unless disabled: S6PY_FORKED_LOGGERS=0, S6PY_FORKED_RUNS=0)."""
    from s6py.engine import service

    service.FORKED_LOGGERS = Hook if enabled() else None
    service.FORKED_RUNS = None if switched_off("S6PY_FORKED_RUNS") else forked_run


def forked_run(servicedir, name):
    """engine.service.FORKED_RUNS: cmd/forkedrun.py's recogniser, imported at the first
    spawn (PID 1 pays nothing for it before)."""
    from s6py.cmd import forkedrun

    return forkedrun.recognise(servicedir, name)


def forked_script(argv, env):
    """For /init's cont-init.d and cont-finish.d scripts: the function spawn.fork_call
    runs in the child instead of exec'ing ARGV in ENV, or None (exec it; also when
    S6PY_FORKED_RUNS=0)."""
    if switched_off("S6PY_FORKED_RUNS"):
        return None
    from s6py.cmd import forkedrun

    contenv_argv = forkedrun.with_contenv_argv(argv)
    return None if contenv_argv is None else forkedrun.runner(contenv_argv, env)
