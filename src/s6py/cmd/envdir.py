"""s6-envdir and s6-dumpenv: an environment to and from a directory of one file per variable."""

import os

from s6py.cmd._exec import pathexec, subgetopt
from s6py.diag import fatal, strerror, usage, warn

ENVDIR_USAGE = "s6-envdir [ -I | -i ] [ -n ] [ -f ] [ -L ] [ -c nullchar ] dir prog..."
DUMPENV_USAGE = "s6-dumpenv [ -N | -n ] [ -m mode ] dir"

#: s6-envdir's option letter -> (setting, value; None: the option's argument's first byte)
ENVDIR_OPTIONS = {"I": ("insist", False), "i": ("insist", True), "n": ("chomp", False),
                  "f": ("verbatim", True), "L": ("clamp", False), "c": ("nullis", None)}


def envdir(argv):
    """s6-envdir [-I|-i] [-n] [-f] [-L] [-c nullis] dir prog..."""
    prog = "s6-envdir"
    opts, args = subgetopt(prog, ENVDIR_USAGE, argv, "IinfLc:")
    wanted = {"insist": True, "verbatim": False, "chomp": True, "clamp": True, "nullis": b"\n"}
    for letter, arg in opts:
        name, value = ENVDIR_OPTIONS[letter]
        wanted[name] = os.fsencode(arg)[:1] if value is None else value
    insist, verbatim, chomp, clamp, nullis = (wanted[k] for k in
                                              ("insist", "verbatim", "chomp", "clamp", "nullis"))
    if len(args) < 2:
        usage(prog, ENVDIR_USAGE)
    from s6py.init.contenv import apply, original_environ, read_envdir

    env = original_environ()
    try:
        if not nullis:
            raise OSError(22, "Invalid argument")
        apply(env, read_envdir(args[0], verbatim, chomp, clamp, nullis))
    except OSError as e:
        if insist or e.errno != 2 or os.path.lexists(args[0]):
            fatal(prog, 111, "unable to envdir ", args[0], ": ", strerror(e))
    pathexec(prog, args[1:], env)


def dumpenv(argv):
    """s6-dumpenv [-N|-n] [-m mode] dir: one file per variable, value without newline (-N: with)."""
    prog = "s6-dumpenv"
    opts, args = subgetopt(prog, DUMPENV_USAGE, argv, "Nnm:")
    mode, newline = 0o755, False
    for letter, arg in opts:
        if letter == "N":
            newline = True
        elif letter == "n":
            newline = False
        elif letter == "m":
            try:
                mode = int(arg, 8)
            except ValueError:
                usage(prog, DUMPENV_USAGE)
    if not args:
        usage(prog, DUMPENV_USAGE)
    from s6py.init.contenv import dump, original_environ

    def skipped(name, reason):
        warn(prog, "skipping variable ", os.fsdecode(name), ": ", reason)

    try:
        dump(original_environ(), args[0], mode, newline=newline, on_skip=skipped)
    except OSError as e:
        fatal(prog, 111, "unable to dump the environment into ", args[0], ": ", strerror(e))
    return 0
