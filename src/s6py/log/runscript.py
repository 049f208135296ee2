"""Recognise the usual `log/run` scripts, so that the supervisor can run them without exec.

Almost every logger of an image is one of a handful of one-line scripts:

    #!/bin/sh                              #!/usr/bin/execlineb -P
    exec logutil-service /var/log/app      s6-setuidgid nobody
                                           s6-log -b n20 s1000000 T /var/log/app

Exec'ing them costs a new Python interpreter per logger (about 5 MB each).  `recognise()`
reads such a script and returns a `Plan`: the few steps the script would take (`cd`,
`umask`, `exec 2>&1`, with-contenv, s6-setuidgid...) and the argv of the s6-log or
logutil-service it would exec at the end.  The supervisor then forks and the child does
exactly that in-process (s6py.cmd.forkedlog, installed through s6py.cmd.forkhook).

Conservative by design: a misrecognised script is worse than a slow one.  Anything not
listed below gives None (the script is run as always): a variable, a glob character, a
pipe, a redirection other than `exec 2>&1`, a conditional, another command, a quote we
do not fully understand, an interpreter we do not know or that does not exist, and any
command word that does not resolve, along the PATH the script would use, to *our*
launcher (a real C s6-log first in PATH is exec'd as before).

Forms understood (comments and blank lines aside):
  shebang   #!/bin/sh (or /usr/bin/sh, bash, dash, ash), optionally with -e;
            #!/usr/bin/with-contenv sh|bash (our with-contenv);
            #!PATH/execlineb -P | -S0 | -s0 (any execlineb: these scripts mean the same to all)
  sh        `cd DIR`, `umask NNN`, `exec 2>&1`, `set -e` lines, then `exec CHAIN` last
  execline  CHAIN, the whole script
  CHAIN     any of: with-contenv | s6-setuidgid ACCOUNT | s6-envuidgid ACCOUNT |
            s6-applyuidgid -U [-z] | fdmove -c 2 1 | cd DIR | umask NNN
            then: s6-log ARGS... | logutil-service [-f FIFO] DIR
"""

import os

__all__ = ["Plan", "recognise", "MAX_SIZE"]

#: a log/run bigger than this is not one of the usual forms
MAX_SIZE = 4096

SH_INTERPRETERS = ("/bin/sh", "/usr/bin/sh", "/bin/bash", "/usr/bin/bash", "/bin/dash",
                   "/usr/bin/dash", "/bin/ash")
SH_ARGS = (None, "-e")
CONTENV_SHELLS = ("sh", "bash", "sh -e", "bash -e")
EXECLINE_ARGS = ("-P", "-S0", "-s0")

#: characters a word may hold unquoted (sh and execline alike): nothing either language
#: expands, splits or redirects.  `!` is sh's negation only as a pipeline's first word
#: (never one of ours: those start with exec, cd, umask or set): elsewhere it is itself,
#: as in `s6-log n10 !"gzip -nq9" DIR`
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+,=^!-")
#: characters refused inside double quotes (substitutions and escapes)
_NOT_IN_DOUBLE = frozenset("$`\\")
_FINAL = ("s6-log", "logutil-service")


class Plan:
    """What a recognised log/run does.

    steps     [(what, argument)] in order: ("cd", DIR), ("umask", INT), ("stderr", None)
              (fd 2 = fd 1), ("contenv", None), ("setuidgid", ACCOUNT), ("envuidgid",
              ACCOUNT), ("applyuidgid", UNEXPORT: bool)
    command   "s6-log" or "logutil-service"
    argv      the argv it would be exec'd with (argv[0] = command)
    """

    def __init__(self, steps, command, argv):
        self.steps = steps
        self.command = command
        self.argv = argv

    def __eq__(self, other):
        return isinstance(other, Plan) and (self.steps, self.command, self.argv) == (
            other.steps, other.command, other.argv)

    def __repr__(self):
        return "Plan(%r, %r, %r)" % (self.steps, self.command, self.argv)


class _NotOurs(Exception):
    """The script is not one of the usual forms: run it."""


def recognise(servicedir, env=None, contenv_path=None):
    """The Plan of SERVICEDIR/run, or None when it is not one of the usual forms.

    ENV: the environment ./run would get (bytes or str mapping; default: ours), for the
    PATH its commands are looked up in.  CONTENV_PATH(path): the PATH `with-contenv` gives
    (the container environment's; default: PATH unchanged), from the caller, who knows
    where the container environment is.  Never raises for a bad script."""
    try:
        text = _read_script(os.path.join(servicedir, "run"))
        path = _env_path(os.environb if env is None else env)
        return _plan(text, path, contenv_path or (lambda p: p))
    except (_NotOurs, OSError, UnicodeDecodeError, ValueError):
        return None


def _read_script(path):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        import stat

        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SIZE:
            raise _NotOurs()
        data = os.read(fd, MAX_SIZE + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SIZE or b"\0" in data or b"\r" in data:
        raise _NotOurs()
    return data.decode("ascii")


def _env_path(env):
    """ENV's PATH (ENV with bytes or str keys), execvp's default when unset."""
    for key in (b"PATH", "PATH"):
        try:
            value = env.get(key)
        except TypeError:  # os.environb refuses str keys
            continue
        if value is not None:
            return os.fsdecode(value)
    from s6py import DEFAULT_PATH

    return DEFAULT_PATH


def _plan(text, path, contenv_path):
    first, _, body = text.partition("\n")
    if not first.startswith("#!"):
        raise _NotOurs()
    interpreter, arg = _shebang(first[2:])
    if interpreter in SH_INTERPRETERS and arg in SH_ARGS:
        _require_executable(interpreter)
        return _sh_plan(body, path, [])
    if os.path.basename(interpreter) == "execlineb" and arg in EXECLINE_ARGS:
        _require_executable(interpreter)
        return _chain(_execline_words(body), path, [])
    if _is_our(interpreter, "with-contenv") and arg in CONTENV_SHELLS:
        path = contenv_path(path)
        _require_on_path(arg.split()[0], path)
        return _sh_plan(body, path, [("contenv", None)])
    raise _NotOurs()


def _shebang(line):
    """(interpreter, its one argument or None), as the kernel cuts a #! line."""
    line = line.strip(" \t")
    interpreter, _, rest = line.replace("\t", " ").partition(" ")
    rest = rest.strip(" ")
    return interpreter, (rest or None)


def _require_executable(path):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise _NotOurs()


def _require_on_path(name, path):
    from s6py import find_executable

    if find_executable(name, path)[0] is None:
        raise _NotOurs()


# ------------------------------------------------------------------------------ sh

def _sh_plan(body, path, steps):
    """`cd`, `umask`, `exec 2>&1`, `set -e` statements, then `exec CHAIN` as the last one."""
    statements = [words for words in _sh_statements(body) if words]
    if not statements:
        raise _NotOurs()
    *before, last = statements
    for words in before:
        if words == ["exec", "2>&1"]:
            steps.append(("stderr", None))
        elif words == ["set", "-e"]:
            pass
        elif len(words) == 2 and words[0] == "cd":
            steps.append(("cd", words[1]))
        elif len(words) == 2 and words[0] == "umask":
            steps.append(("umask", _octal(words[1])))
        else:
            raise _NotOurs()
    if len(last) < 2 or last[0] != "exec" or last[1].startswith("-"):
        raise _NotOurs()
    return _chain(last[1:], path, steps)


def _sh_statements(body):
    """The script's statements (one per line, `\\`-newline joining lines) as word lists."""
    for line in body.replace("\\\n", " ").split("\n"):
        if line.strip(" \t") == "exec 2>&1":
            yield ["exec", "2>&1"]
            continue
        yield _words(line, single_quotes=True)


# ------------------------------------------------------------------------------ execline

def _execline_words(body):
    words = []
    for line in body.split("\n"):
        words.extend(_words(line, single_quotes=False))
    if not words:
        raise _NotOurs()
    return words


# ------------------------------------------------------------------------------ words

def _words(line, single_quotes):
    """LINE cut into words; a word starting with `#` ends it (a comment).  Quotes: "..."
    without substitutions or escapes, and in sh '...' too.  Anything else that either
    language would interpret raises _NotOurs."""
    words = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in " \t":
            i += 1
            continue
        if c == "#":
            break
        word, i = _word(line, i, single_quotes)
        words.append(word)
    return words


def _word(line, i, single_quotes):
    parts = []
    n = len(line)
    while i < n and line[i] not in " \t":
        c = line[i]
        if c == '"' or (c == "'" and single_quotes):
            end = line.find(c, i + 1)
            if end < 0:
                raise _NotOurs()
            quoted = line[i + 1:end]
            if c == '"' and any(ch in _NOT_IN_DOUBLE for ch in quoted):
                raise _NotOurs()
            parts.append(quoted)
            i = end + 1
        elif c in _PLAIN:
            parts.append(c)
            i += 1
        else:
            raise _NotOurs()
    return "".join(parts), i


def _octal(text):
    if not text or len(text) > 4 or any(c not in "01234567" for c in text):
        raise _NotOurs()
    return int(text, 8)


# ------------------------------------------------------------------------------ the chain

def _chain(words, path, steps):
    """CHAIN (see the module docstring) -> Plan; each command word must be ours."""
    while words:
        name = os.path.basename(words[0])  # the command, whether named or given by path
        if name == "fdmove" and words[1:4] == ["-c", "2", "1"]:
            _require_on_path(words[0], path)
            steps.append(("stderr", None))
            words = words[4:]
        elif name in ("cd", "umask") and len(words) >= 3:
            _require_on_path(words[0], path)
            steps.append((name, words[1] if name == "cd" else _octal(words[1])))
            words = words[2:]
        elif name in _FINAL:
            _require_ours(words[0], path)
            return _final(name, words, steps)
        else:
            words = _privilege_step(words, path, steps)
    raise _NotOurs()


def _privilege_step(words, path, steps):
    """with-contenv, s6-setuidgid, s6-envuidgid, s6-applyuidgid: the step, the words left."""
    name = os.path.basename(words[0])
    if name == "with-contenv" and len(words) >= 2:
        _require_ours(words[0], path)
        steps.append(("contenv", None))
        return words[1:]
    if name in ("s6-setuidgid", "s6-envuidgid") and len(words) >= 3:
        account = words[1]
        if not account or account.startswith("-"):
            raise _NotOurs()
        _require_ours(words[0], path)
        steps.append((name[3:], account))
        return words[2:]
    if name == "s6-applyuidgid":
        flags, rest = _applyuidgid_flags(words[1:])
        _require_ours(words[0], path)
        steps.append(("applyuidgid", "z" in flags))
        return rest
    raise _NotOurs()


def _applyuidgid_flags(words):
    """`-U`, `-Uz`, `-zU`, `-U -z`, `-z -U`: the letters, and the words after them."""
    letters = ""
    while words and words[0].startswith("-") and len(words[0]) > 1:
        letters += words[0][1:]
        words = words[1:]
    if sorted(letters) not in (["U"], ["U", "z"]) or not words:
        raise _NotOurs()
    return letters, words


def _final(name, words, steps):
    if name == "logutil-service":
        args = words[1:]
        if len(args) == 3 and args[0] == "-f" and args[1] and args[2]:
            return Plan(steps, name, [name] + args)
        if len(args) != 1 or not args[0] or args[0].startswith("-"):
            raise _NotOurs()
    return Plan(steps, name, [name] + words[1:])


def _require_ours(word, path):
    """WORD, looked up along PATH, must be our launcher standing for the command WORD
    names (its basename)."""
    from s6py import find_executable

    found = find_executable(word, path)[0]
    if found is None or not _is_our(found, os.path.basename(word)):
        raise _NotOurs()


def _is_our(path, name):
    from s6py import is_launcher
    from s6py.cli import command_name

    if not is_launcher(path):
        return False
    return command_name(path)[0] == name
