"""The one table of commands, and the dispatcher.

A command is reached either as `s6py COMMAND ARGS...` / `python3 -m s6py COMMAND ARGS...`,
or through a link whose basename is the command's name (`/command/s6-svc`).  Each entry names
the module and function lazily, so running one command imports only that command's module.
Every command function takes the full argv (argv[0] = the command name) and returns an exit
code.
"""

import os
import sys

# command name -> "module:function" (module relative to the s6py package), one block per
# concern so each part of the project edits only its own block.

SUPERVISION = {
    "s6-svscan": "cmd.svscan:main",
    "s6-supervise": "cmd.supervise:main",
    "s6-svc": "cmd.svc:main",
    "s6-svstat": "cmd.svstat:main",
    "s6-svwait": "cmd.svwait:main",
    "s6-svok": "cmd.svok:main",
    "s6-svscanctl": "cmd.svscanctl:main",
    "s6-svdt": "cmd.svdt:main",
    "s6-svlisten1": "cmd.svlisten:main_one",
    "s6-svlisten": "cmd.svlisten:main_many",
}

EXECLINE = {
}

LOGGING = {
    "s6-log": "cmd.s6log:main",
}

INIT = {
}

COMMANDS = {**SUPERVISION, **EXECLINE, **LOGGING, **INIT}

USAGE = "usage: s6py COMMAND [ARGS...]\ncommands: "


def resolve(name):
    """Return the function implementing command NAME, or None."""
    target = COMMANDS.get(name)
    if target is None:
        return None
    module_name, _, function_name = target.partition(":")
    import importlib

    module = importlib.import_module("s6py." + module_name)
    return getattr(module, function_name)


def main(argv=None):
    argv = list(sys.argv if argv is None else argv)
    invoked_as = os.path.basename(argv[0]) if argv else ""
    command = resolve(invoked_as)
    if command is not None:
        return command([invoked_as] + argv[1:])
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(USAGE + " ".join(sorted(COMMANDS)) + "\n")
        return 100
    command = resolve(argv[1])
    if command is None:
        sys.stderr.write("s6py: fatal: unknown command: %s\n" % argv[1])
        return 100
    return command(argv[1:])
