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
    "execlineb": "execline.core:main",
    "background": "execline.core:main",
    "backtick": "execline.core:main",
    "case": "execline.core:main",
    "define": "execline.core:main",
    "dollarat": "execline.core:main",
    "elgetopt": "execline.core:main",
    "elgetpositionals": "execline.core:main",
    "elglob": "execline.core:main",
    "eltest": "execline.core:main",
    "emptyenv": "execline.core:main",
    "envfile": "execline.core:main",
    "exec": "execline.core:main",
    "exit": "execline.core:main",
    "export": "execline.core:main",
    "fdblock": "execline.core:main",
    "fdclose": "execline.core:main",
    "fdmove": "execline.core:main",
    "fdreserve": "execline.core:main",
    "fdswap": "execline.core:main",
    "forbacktickx": "execline.core:main",
    "foreground": "execline.core:main",
    "forstdin": "execline.core:main",
    "forx": "execline.core:main",
    "getcwd": "execline.core:main",
    "getpid": "execline.core:main",
    "heredoc": "execline.core:main",
    "homeof": "execline.core:main",
    "if": "execline.core:main",
    "ifelse": "execline.core:main",
    "ifte": "execline.core:main",
    "ifthenelse": "execline.core:main",
    "import": "execline.core:main",
    "importas": "execline.core:main",
    "loopwhilex": "execline.core:main",
    "multidefine": "execline.core:main",
    "multisubstitute": "execline.core:main",
    "pipeline": "execline.core:main",
    "piperw": "execline.core:main",
    "redirfd": "execline.core:main",
    "runblock": "execline.core:main",
    "shift": "execline.core:main",
    "trap": "execline.core:main",
    "tryexec": "execline.core:main",
    "unexport": "execline.core:main",
    "wait": "execline.core:main",
    "withstdinas": "execline.core:main",
    "cd": "execline.core:main",
    "execline-cd": "execline.core:main",
    "umask": "execline.core:main",
    "execline-umask": "execline.core:main",
    "s6-echo": "execline.core:main",
    "s6-test": "execline.core:main",
    "s6-sleep": "execline.core:main",
    "s6-true": "execline.core:main",
    "s6-false": "execline.core:main",
    "s6-env": "execline.core:main",
    "s6-maximumtime": "execline.core:main",
    "s6-pause": "execline.core:main",
    "s6-setsid": "execline.core:main",
    "s6-ls": "execline.core:main",
    "s6-hiercopy": "execline.core:main",
    "s6-rmrf": "execline.core:main",
    "s6-mkdir": "execline.core:main",
    "s6-chmod": "execline.core:main",
    "s6-chown": "execline.core:main",
    "s6-nuke": "execline.core:main",
    "s6-sync": "execline.core:main",
}

LOGGING = {
    "s6-log": "cmd.s6log:main",
    "logutil-service": "cmd.logutil:service",
    "logutil-newfifo": "cmd.logutil:newfifo",
}

INIT = {
    "with-contenv": "cmd.contenv:with_contenv",
    "printcontenv": "cmd.contenv:printcontenv",
    "s6-envdir": "cmd.envdir:envdir",
    "s6-dumpenv": "cmd.envdir:dumpenv",
    "s6-envuidgid": "cmd.privs:envuidgid",
    "s6-applyuidgid": "cmd.privs:applyuidgid",
    "s6-setuidgid": "cmd.privs:setuidgid",
    "fix-attrs": "cmd.fixattrs:main",
    "with-retries": "cmd.retries:main",
    "init": "init.main:main",
    "halt": "init.halt:main",
}

# Project verbs: reached as `s6py VERB` / `python3 -m s6py VERB` only; the overlay tarball
# gives them no /command or /usr/bin link (building an overlay is not a job for an image).
PROJECT = {
    "build-overlay": "build.overlay:main",
}

COMMANDS = {**SUPERVISION, **EXECLINE, **LOGGING, **INIT, **PROJECT}

USAGE = "usage: s6py COMMAND [ARGS...]\ncommands: "


def resolve(name):
    """Return the function implementing command NAME, or None."""
    target = COMMANDS.get(name)
    if target is None:
        return None
    module_name, _, function_name = target.partition(":")
    # __import__ rather than importlib: importlib costs a measurable slice of start-up
    try:
        module = __import__("s6py." + module_name, fromlist=[function_name])
    except ImportError:
        if name not in PROJECT:
            raise
        return _not_shipped  # build/ is left out of the overlay: no traceback for that
    return getattr(module, function_name)


def _not_shipped(argv):
    sys.stderr.write("s6py: fatal: %s is not part of the overlay: run it from a checkout or"
                     " a pip install of s6py\n" % argv[0])
    return 100


#: the launcher's own names: reached by one of them, argv[1] is the command
LAUNCHER_NAMES = ("s6py", "__main__.py", "-c")  # "-c": python3 -c's argv[0]


def command_name(path, hops=40):
    """The command PATH (argv[0]) stands for: its basename if that is a command, else the
    first basename along its chain of symlinks that is one (an image that did
    `mv /usr/bin/with-contenv /usr/bin/with-contenvb` still reaches with-contenv).
    Returns (name or None, the chain of paths followed)."""
    chain = [path]
    for _ in range(hops):
        name = os.path.basename(path)
        if name in COMMANDS:
            return name, chain
        try:
            target = os.readlink(path)
        except OSError:
            return None, chain
        path = os.path.join(os.path.dirname(path), target)
        chain.append(path)
    return None, chain


def main(argv=None):
    from s6py import restore_carried_pwd

    restore_carried_pwd()
    argv = list(sys.argv if argv is None else argv)
    invoked_as = os.path.basename(argv[0]) if argv else ""
    if invoked_as not in LAUNCHER_NAMES and invoked_as and (
            invoked_as in COMMANDS or os.path.lexists(argv[0])):
        # (an argv[0] that names no file, such as python3 -c's "-c", is the launcher's)
        name, chain = command_name(argv[0])
        if name is None:
            sys.stderr.write("s6py: fatal: unknown command: %s (%s): name a link or copy"
                             " after a command, or link it to /command/NAME\n"
                             % (invoked_as, _described(chain)))
            return 100
        return run(resolve(name), [name] + argv[1:])
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(USAGE + " ".join(sorted(COMMANDS)) + "\n")
        return 100
    command = resolve(argv[1])
    if command is None:
        sys.stderr.write("s6py: fatal: unknown command: %s\n" % argv[1])
        return 100
    return run(command, argv[1:])


def run(command, argv):
    """COMMAND(ARGV)'s exit code; a `diag.Exit` raised inside it gives its code."""
    from s6py.diag import Exit

    try:
        return command(argv)
    except Exit as e:
        return e.code


def _described(chain):
    """What an unknown argv[0] resolved to, for the one line that names it."""
    if len(chain) == 1:
        return "%s is not a link to any command" % chain[0]
    return "resolved to %s, which is no command" % " -> ".join(chain)
