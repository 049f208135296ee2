"""A `run` (or a cont-init.d / cont-finish.d script) whose shebang is our with-contenv
(`#!/usr/bin/with-contenv bash`, `#!/command/with-contenv sh`...), run without a new
interpreter for with-contenv.

Exec'd, such a script costs a whole Python start (our launcher's sh part, then python3,
then with-contenv's imports) only for with-contenv to read the container environment and
exec the shell.  Here PID 1 forks (spawn.fork_call: the child is set up exactly as for an
exec: session, signal dispositions, fds, cwd, lock) and the child runs with-contenv's main
with the argv the kernel would have given it: [INTERPRETER, SHEBANG-ARGUMENT, SCRIPT,
ARGS...].  with-contenv then does what it always does, in the same order with the same
messages: its environment, its exec of the shell, its exit code when that exec fails.

Recognised only when the interpreter is (a link to) *our* launcher reaching with-contenv
and the script is executable (or /init runs it through its shebang): anything else is
exec'd as always, so an image that put a with-contenv of its own there gets its own.
`S6PY_FORKED_RUNS=0` turns this off (docs/supervision.md).
"""

import os

__all__ = ["recognise", "with_contenv_argv", "runner"]

#: a shebang line longer than this is not ours (the kernel's limit is 256 bytes)
MAX_SHEBANG = 256


def recognise(servicedir, name):
    """A function for spawn.fork_call that runs SERVICEDIR/run as its with-contenv
    shebang says, or None: exec it as always.  NAME is run's first argument (s6 passes
    the service's name).  Never raises for a bad file."""
    argv = with_contenv_argv(["./run", name], cwd=servicedir)
    return None if argv is None else runner(argv)


def with_contenv_argv(argv, cwd=None):
    """The argv our with-contenv would get if ARGV (run from CWD) were exec'd: ARGV[0]'s
    `#!` interpreter and argument before ARGV when that interpreter is our with-contenv,
    ARGV itself when ARGV[0] is our with-contenv (a 0644 script /init runs through its
    shebang); None otherwise."""
    program = argv[0] if cwd is None else os.path.join(cwd, argv[0])
    if _is_our_with_contenv(program):
        return list(argv)
    try:
        interpreter, argument = _shebang(program)
    except (OSError, ValueError):
        return None
    if interpreter is None or not _is_our_with_contenv(interpreter):
        return None
    return [interpreter] + ([argument] if argument is not None else []) + list(argv)


def runner(argv, env=None):
    """The child's function: with-contenv's main on ARGV, in ENV (a bytes dict: the
    environment an exec would have given; None: ours, which a service's spawn gives)."""
    return lambda: _with_contenv(argv, env)


def _shebang(path):
    """(interpreter, its one argument or None) of PATH's `#!` line, as the kernel cuts it;
    (None, None) when PATH is not an executable file starting with `#!`."""
    if not os.access(path, os.X_OK):
        return None, None
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        head = os.read(fd, MAX_SHEBANG)
    finally:
        os.close(fd)
    if not head.startswith(b"#!") or b"\n" not in head:
        return None, None
    line = os.fsdecode(head[2:head.index(b"\n")]).strip(" \t")
    cut = min([i for i in (line.find(" "), line.find("\t")) if i >= 0] or [len(line)])
    argument = line[cut:].strip(" \t")  # one word, inner blanks kept, as the kernel does
    return line[:cut] or None, argument or None


def _is_our_with_contenv(interpreter):
    from s6py import is_launcher
    from s6py.cli import command_name

    if not os.path.isabs(interpreter) or not is_launcher(interpreter):
        return False
    return command_name(interpreter)[0] == "with-contenv"


def _with_contenv(argv, env):
    """In the forked child: with-contenv's main, which execs (or says why not and
    returns its code)."""
    from s6py import cli

    if env is not None:
        os.environ.clear()
        os.environb.update(env)
    return cli.run(cli.resolve("with-contenv"), argv)
