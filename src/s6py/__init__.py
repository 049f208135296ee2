"""s6py: s6-overlay rebuilt in pure Python.

Every helper command is a fresh interpreter, and `python3 -I -S -m s6py s6-svok DIR` must
not pay for modules it does not use, so nothing is imported here, not even `os`: the
quick paths of s6py.quick start without it (each function below imports it itself).
This module, loaded by every command anyway, holds the few helpers that several kinds of
commands need (execlineb, the chain-loaders, s6-log, /init): skalibs' option scanning,
what exec gave this process (its environment and signal dispositions without Python's
additions), how to exec ourselves again (self_argv / self_exec, and PWD across our
launcher), the PATH search and strerror.
"""

__version__ = "0.1.0"

#: the PATH execvp assumes when PATH is unset
DEFAULT_PATH = "/usr/bin:/bin"


def lc_ctype_coerced():
    """True if our LC_CTYPE was not given to us by exec but added by Python at start-up.

    Python may put LC_CTYPE=C.UTF-8 in its own environment (PEP 538 locale coercion, not
    disabled by -I); a program we exec or an environment we dump must not inherit that.
    /proc/self/environ still holds what exec gave us; without /proc the variable counts as
    coerced when it is C.UTF-8 and LANG and LC_ALL are unset (the only case it happens)."""
    import os
    env = os.environb
    if b"LC_CTYPE" not in env:
        return False
    try:
        with open("/proc/self/environ", "rb") as f:
            initial = f.read()
    except OSError:
        return b"LANG" not in env and b"LC_ALL" not in env and env[b"LC_CTYPE"] == b"C.UTF-8"
    return b"\0LC_CTYPE=" not in b"\0" + initial


def restore_python_ignored_signals():
    """Give SIGPIPE and SIGXFSZ back SIG_DFL: Python sets them to SIG_IGN at start-up, and
    an ignored signal stays ignored across exec."""
    import _signal  # not `signal`, which imports `enum`

    for name in ("SIGPIPE", "SIGXFSZ"):
        num = getattr(_signal, name, None)
        if num is not None:
            try:
                _signal.signal(num, _signal.SIG_DFL)
            except (OSError, ValueError):
                pass


def original_environ():
    """The environment this process was started with, as a bytes dict (see
    lc_ctype_coerced)."""
    import os
    env = dict(os.environb)
    if lc_ctype_coerced():
        del env[b"LC_CTYPE"]
    return env


#: PWD's value across an exec of our launcher: its sh part (which finds python3) resets
#: PWD to the working directory, as every POSIX shell does at start-up, so an exec'ing
#: command puts "1VALUE" (or "0": unset) here and cli.main() puts it back.
PWD_CARRIER = "S6PY_PWD"

_launchers = []


def is_launcher(path):
    """True if PATH is (a link to) one of our launchers: the one this process was started
    through, the overlay's next to this package (lib/s6py -> command/s6py), or a
    checkout's (src/s6py -> bin/s6py)."""
    import os
    if not _launchers:
        import sys

        top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        for candidate in (sys.argv[0] if sys.argv else "",
                          os.path.join(top, "command", "s6py"), os.path.join(top, "bin", "s6py")):
            if candidate and candidate != "-c":
                _launchers.append(os.path.realpath(candidate))
    try:
        return os.path.realpath(path) in _launchers
    except (OSError, ValueError):
        return False


def carry_pwd(env, path):
    """ENV (a bytes dict) to exec PATH with: a copy carrying PWD when PATH is our launcher."""
    if not is_launcher(path):
        return env
    env = dict(env)
    pwd = env.get(b"PWD")
    env[PWD_CARRIER.encode()] = b"0" if pwd is None else b"1" + pwd
    return env


#: how we start ourselves: -I (no user site, no PYTHON* variables, no script directory on
#: sys.path) and -S (no site module), as the launcher does
INTERPRETER_FLAGS = "-IS"

#: the code `python3 -c` runs for self_argv: argv[1] (popped) is the directory holding this
#: package, then the command and its arguments, named to cli.main after the launcher's own
#: name (argv[0] of `python3 -c` is "-c")
SELF_LAUNCH = ("import sys; sys.path.insert(0, sys.argv.pop(1)); from s6py.cli import main, exit_with;"
               " exit_with(main([\"s6py\"] + sys.argv[1:]))")


def interpreter():
    """The Python running us, to run ourselves again (never a PATH search)."""
    import sys

    return sys.executable or "/usr/bin/python3"


def package_parent():
    """The directory holding this package (a checkout's src/, the overlay's lib/)."""
    import os
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def self_argv(command, *args):
    """The argv that runs our COMMAND ARGS with this interpreter and this package, whatever
    PATH holds: `PYTHON -IS -c SELF_LAUNCH PACKAGE_PARENT COMMAND ARGS...`.  The interpreter
    is exec'd directly (no launcher's sh part), so PWD needs no carrying."""
    return [interpreter(), INTERPRETER_FLAGS, "-c", SELF_LAUNCH, package_parent(), command,
            *args]


def self_exec(command, args=(), env=None):
    """Exec self_argv(COMMAND, *ARGS) with ENV (a dict; None: the environment we were
    started with, see original_environ).  Returns only by raising OSError; the caller
    reports it, naming interpreter()."""
    import os
    argv = self_argv(command, *args)
    os.execve(argv[0], argv, original_environ() if env is None else env)


def restore_carried_pwd():
    """Undo our launcher's sh part: PWD as the command that exec'd us had it."""
    import os
    carried = os.environb.pop(PWD_CARRIER.encode(), None)
    if carried is None:
        return
    os.environ.pop(PWD_CARRIER, None)  # keep both views in step
    if carried[:1] == b"1":
        os.environb[b"PWD"] = carried[1:]
    else:
        os.environb.pop(b"PWD", None)


def path_candidates(name, path):
    """The files to try for NAME along PATH (both str, or both bytes): NAME itself if it
    contains a slash, else DIR/NAME for each entry of PATH, an empty entry being "."."""
    import os
    if isinstance(name, bytes):
        slash, colon, dot = b"/", b":", b"."
    else:
        slash, colon, dot = "/", ":", "."
    if slash in name:
        return [name]
    return [os.path.join(d or dot, name) for d in path.split(colon)]


def find_executable(name, path, cwd=None):
    """(the first candidate for NAME along PATH that is an executable regular file, or
    None; whether a candidate that exists but is not one was seen before it).  Candidates
    are checked relative to CWD when given."""
    import os
    denied = False
    for candidate in path_candidates(name, path):
        where = os.path.join(cwd, candidate) if cwd else candidate
        if os.access(where, os.X_OK) and os.path.isfile(where):
            return candidate, denied
        if os.path.exists(where):
            denied = True
    return None, denied


def scan_options(argv, optstring, bad):
    """skalibs subgetopt on argv[1:]: ([(letter, arg-or-None)], index of the first operand).

    Options stop at `--` (skipped) or at the first word not starting with '-' (a lone "-"
    is an operand); letters may be clustered (-fn); a letter followed by ':' in OPTSTRING
    takes an argument, glued (-cZ) or the next word.  On an unknown letter or a missing
    argument BAD() is called, and must raise.  Hand-written because the getopt module
    imports gettext, which costs milliseconds per command start."""
    opts, i, problem = find_options(argv, optstring)
    if problem is not None:
        bad()
    return opts, i


def find_options(argv, optstring):
    """scan_options without the callback: (the options before the first bad one, index of
    the first operand, None or the problem: (letter, whether only its argument is
    missing)), for the commands that report a bad option in their own words."""
    opts = []
    i = 1
    n = len(argv)
    while i < n:
        word = argv[i]
        if word == "--":
            i += 1
            break
        if len(word) < 2 or word[0] != "-":
            break
        j = 1
        while j < len(word):
            letter = word[j]
            k = optstring.find(letter)
            if letter == ":" or k < 0:
                return opts, i, (letter, False)
            if optstring[k + 1:k + 2] == ":":
                if j + 1 < len(word):
                    opts.append((letter, word[j + 1:]))
                elif i + 1 < n:
                    i += 1
                    opts.append((letter, argv[i]))
                else:
                    return opts, i, (letter, True)
                break
            opts.append((letter, None))
            j += 1
        i += 1
    return opts, i, None


def strerror(exc):
    """The C library's text for an OSError, as strerr_diefusys prints it."""
    import os
    return os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)
