"""The one table of commands, and the dispatcher.

A command is reached either as `s6py COMMAND ARGS...` / `python3 -m s6py COMMAND ARGS...`,
or through a link whose basename is the command's name (`/command/s6-svc`).  Each entry names
the module and function lazily, so running one command imports only that command's module.
Every command function takes the full argv (argv[0] = the command name) and returns an exit
code.
"""

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

#: the execline commands (and the s6-portable-utils ones scripts call): name ->
#: "module:function" relative to s6py.execline.  execline.core.lookup() chains through
#: this table in-process; the launcher reaches every one of them through core.main.
EXECLINE_FUNCTIONS = {
    "execlineb": "execlineb:main",
    "background": "flow:background",
    "backtick": "envcmds:backtick",
    "case": "flow:case",
    "define": "envcmds:define",
    "dollarat": "envcmds:dollarat",
    "elgetopt": "envcmds:elgetopt",
    "elgetpositionals": "envcmds:elgetpositionals",
    "elglob": "envcmds:elglob",
    "eltest": "eltest:main",
    "emptyenv": "envcmds:emptyenv",
    "envfile": "envcmds:envfile",
    "exec": "flow:exec_",
    "exit": "flow:exit_",
    "export": "envcmds:export",
    "fdblock": "fdcmds:fdblock",
    "fdclose": "fdcmds:fdclose",
    "fdmove": "fdcmds:fdmove",
    "fdreserve": "fdcmds:fdreserve",
    "fdswap": "fdcmds:fdswap",
    "forbacktickx": "flow:forbacktickx",
    "foreground": "flow:foreground",
    "forstdin": "flow:forstdin",
    "forx": "flow:forx",
    "getcwd": "envcmds:getcwd",
    "getpid": "envcmds:getpid",
    "heredoc": "fdcmds:heredoc",
    "homeof": "envcmds:homeof",
    "if": "flow:if_",
    "ifelse": "flow:ifelse",
    "ifte": "flow:ifte",
    "ifthenelse": "flow:ifthenelse",
    "import": "envcmds:import_",
    "importas": "envcmds:importas",
    "loopwhilex": "flow:loopwhilex",
    "multidefine": "envcmds:multidefine",
    "multisubstitute": "envcmds:multisubstitute",
    "pipeline": "fdcmds:pipeline",
    "piperw": "fdcmds:piperw",
    "redirfd": "fdcmds:redirfd",
    "runblock": "envcmds:runblock",
    "shift": "envcmds:shift",
    "trap": "flow:trap",
    "tryexec": "flow:tryexec",
    "unexport": "envcmds:unexport",
    "wait": "flow:wait",
    "withstdinas": "envcmds:withstdinas",
    "cd": "envcmds:cd",
    "execline-cd": "envcmds:cd",
    "umask": "envcmds:umask",
    "execline-umask": "envcmds:umask",
    # s6-portable-utils and s6 commands that scripts call
    "s6-echo": "portable:echo",
    "s6-test": "eltest:main",
    "s6-sleep": "portable:sleep",
    "s6-true": "portable:true",
    "s6-false": "portable:false",
    "s6-env": "portable:env",
    "s6-maximumtime": "portable:maximumtime",
    "s6-pause": "portable:pause",
    "s6-setsid": "portable:setsid",
    "s6-ls": "portable:ls",
    "s6-hiercopy": "portable:hiercopy",
    "s6-rmrf": "portable:rmrf",
    "s6-mkdir": "portable:mkdir",
    "s6-chmod": "portable:chmod",
    "s6-chown": "portable:chown",
    "s6-nuke": "portable:nuke",
    "s6-sync": "portable:sync",
}

EXECLINE = dict.fromkeys(EXECLINE_FUNCTIONS, "execline.core:main")

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

#: s6-rc: the service database, and the client of the live state PID 1 holds; src/s6py/rc/
RC = {
    "s6-rc": "cmd.rc:main",
    "s6-rc-compile": "cmd.rccompile:main",
    "s6-rc-db": "cmd.rcdb:main",
}

# Project verbs: reached as `s6py VERB` / `python3 -m s6py VERB` only; the overlay tarball
# gives them no /command or /usr/bin link (building an overlay is not a job for an image).
PROJECT = {
    "build-overlay": "build.overlay:main",
}

COMMANDS = {**SUPERVISION, **EXECLINE, **LOGGING, **INIT, **RC, **PROJECT}

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
    import os
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
    import os
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


def exit_with(code):
    """End the process with CODE as sys.exit(CODE) would, without tearing the
    interpreter down: a short-lived command's modules, freed one object at a time at
    exit, cost it about as much as importing them did.  Only stdout and stderr hold
    data that must reach their fds (every file a command opens is closed by then, and
    nothing registers atexit work); if flushing them fails, or CODE is not a number,
    the usual sys.exit path runs and says so as it always has."""
    import os
    if code is None:
        code = 0
    if type(code) is int:
        try:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
        except Exception:  # noqa: BLE001  (sys.exit below reports it as usual)
            pass
        else:
            os._exit(code & 0xFF)
    sys.exit(code)


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
