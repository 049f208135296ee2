"""A service's `run` whose shebang is our with-contenv (`#!/usr/bin/with-contenv bash`,
`#!/command/with-contenv sh`...), run without a new interpreter for with-contenv.

Exec'd, such a script costs a whole Python start (our launcher's sh part, then python3,
then with-contenv's imports) only for with-contenv to read the container environment and
exec the shell.  Here the supervisor forks (spawn.fork_call: the child is set up exactly
as for an exec: session, signal dispositions, fds, cwd, lock) and the child runs
with-contenv's main with the argv the kernel would have given it:
[INTERPRETER, SHEBANG-ARGUMENT, "./run", NAME].  with-contenv then does what it always
does, in the same order with the same messages: its environment, its exec of the shell,
its exit code when that exec fails.

Recognised only when the shebang's interpreter is (a link to) *our* launcher reaching
with-contenv, and `run` is executable: anything else is exec'd as always, so an image
that put a real with-contenv of its own there gets its own.  `S6PY_FORKED_RUNS=0` turns
this off (docs/supervision.md).
"""

import os

__all__ = ["recognise"]

#: a shebang line longer than this is not ours (the kernel's limit is 256 bytes)
MAX_SHEBANG = 256


def recognise(servicedir, name):
    """A function for spawn.fork_call that runs SERVICEDIR/run as its with-contenv
    shebang says, or None: exec it as always.  NAME is run's first argument (s6 passes
    the service's name).  Never raises for a bad file."""
    try:
        interpreter, argument = _shebang(os.path.join(servicedir, "run"))
    except (OSError, ValueError):
        return None
    if interpreter is None or not _is_our_with_contenv(interpreter):
        return None
    argv = [interpreter] + ([argument] if argument is not None else []) + ["./run", name]
    return lambda: _with_contenv(argv)


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

    if not interpreter.startswith("/") or not is_launcher(interpreter):
        return False
    return command_name(interpreter)[0] == "with-contenv"


def _with_contenv(argv):
    """In the forked child: with-contenv's main, which execs (or says why not and
    returns its code)."""
    from s6py import cli

    return cli.run(cli.resolve("with-contenv"), argv)
