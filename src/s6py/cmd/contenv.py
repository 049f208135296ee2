"""with-contenv and printcontenv: run a program with, or print a variable of, the container
environment that /init dumped into /run/s6/container_environment.

Both look in /run/s6/container_environment, then in /var/run/s6/container_environment
(v1/v2 images that did not link /var/run to /run).  With S6_KEEP_ENV set (in their own
environment) the whole tree already has the container's environment: with-contenv execs
its program unchanged and printcontenv prints its own variable.
"""

import os

from s6py.cmd._exec import pathexec
from s6py.diag import usage, warn

WITH_USAGE = "with-contenv prog..."


def keep_env():
    """S6_KEEP_ENV as the container set it: true when services get the raw environment.
    Unset or empty (nearly always) is false without importing the settings parser."""
    value = os.environ.get("S6_KEEP_ENV", "")
    if not value.strip():
        return False
    from s6py.init.settings import Settings

    return Settings.from_environ({"S6_KEEP_ENV": value}).keep_env


def contenv_dir():
    """Where the container environment (one file per variable) lives for this tree."""
    from s6py.init.contenv import find_contenv_dir
    from s6py.init.paths import Paths

    return find_contenv_dir(Paths.from_environ())


def _shebang_args(args):
    """`#!/command/with-contenv sh -e` reaches us as ["sh -e", script, ...]: the kernel passes
    everything after the interpreter as one word.  Split it when it names no file."""
    first = args[0]
    if (" " in first or "\t" in first) and not os.path.exists(first):
        return first.split() + args[1:]
    return args


def with_contenv(argv):
    prog = "with-contenv"
    args = argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args or not args[0]:
        usage(prog, WITH_USAGE)
    args = _shebang_args(args)
    if keep_env():
        pathexec(prog, args)
    directory = contenv_dir()
    if directory is None:
        warn(prog, "no container environment in /run/s6/container_environment: keeping the current one")
        pathexec(prog, args)
    from s6py.init.contenv import load_contenv

    def unreadable(name, exc):
        warn(prog, "skipping ", os.path.join(directory, os.fsdecode(name)), ": ", exc.strerror or str(exc))

    try:
        env = load_contenv(directory, on_error=unreadable)
    except OSError as e:
        warn(prog, "unable to read ", directory, ": ", e.strerror or str(e), ": keeping the current environment")
        env = None
    pathexec(prog, args, env)


def printcontenv(argv):
    """printcontenv VAR: the variable's value and a newline; exit 1 (silently) if it is unset."""
    if len(argv) < 2:
        from s6py.diag import fatal

        fatal("printcontenv", 100, "too few arguments")
    name = argv[1]
    if keep_env():
        value = os.environb.get(os.fsencode(name))
    else:
        directory = contenv_dir()
        value = None
        if directory is not None:
            from s6py.init.contenv import read_contenv_var

            value = read_contenv_var(directory, name)
    if value is None:
        return 1
    try:
        data = memoryview(value + b"\n")
        while data:
            data = data[os.write(1, data):]
    except OSError:
        return 111
    return 0
