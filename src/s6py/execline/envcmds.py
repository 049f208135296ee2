"""Substitution and environment commands: define, importas, multisubstitute, export, ..."""

import os

from s6py import find_options, scan_options

from . import core
from .core import (CHOMP_OPTIONS, CRUNCH_OPTIONS, IMPORT_OPTIONS, argument, block, die, dieusage,
                   getopt, settings, whole_block)
from .subst import DEFAULT_DELIM, TransformError, substitute, transform


def _run_subst(subs, rest, what="complete exlsn function"):
    argv = substitute(rest, subs)
    return argv if argv else 0


_TRANSFORM_OPTIONS = dict(CHOMP_OPTIONS, **CRUNCH_OPTIONS, s={"split": True},
                          d={"delim": argument})


def _transform_options(opts):
    """Take the el_transform options (-N -n -s -C -c -d) out of OPTS, last one winning.

    Returns ((split, crunch, chomp, delim), the other options in their order)."""
    how = settings([o for o in opts if o[0] in _TRANSFORM_OPTIONS], _TRANSFORM_OPTIONS,
                   split=False, crunch=False, chomp=False, delim=DEFAULT_DELIM)
    return how, [o for o in opts if o[0] not in _TRANSFORM_OPTIONS]


def _transform_or_die(value, split, crunch, chomp, delim):
    try:
        return transform(value, split, crunch, chomp, delim)
    except TransformError:
        die(111, "unable to complete exlsn function: Invalid argument")


# Each directive parser takes argv (argv[0] = directive name) and the substitution dict,
# returns the number of words consumed or a negative code (-3 usage, -2 bad key).

def _dir_define(argv, subs):
    opts, i = _subgetopt(argv, "NnsCcd:")
    if opts is None:
        return -3
    how, _ = _transform_options(opts)
    if len(argv) - i < 2:
        return -3
    key = argv[i]
    if not key or key in subs:
        return -2
    subs[key] = _transform_or_die(argv[i + 1], *how)
    return i + 2


def _dir_importas(argv, subs, modifs=None):
    opts, i = _subgetopt(argv, "iuD:NnsCcd:")
    if opts is None:
        return -3
    how, opts = _transform_options(opts)
    table = {"i": {"insist": True}, "u": {"unexport": True}, "D": {"default": argument}}
    insist, unexport, default = settings(opts, table, insist=False, unexport=False, default=None)
    if len(argv) - i < 2:
        return -3
    key, var = argv[i], argv[i + 1]
    if not key or key in subs:
        return -2
    x = os.environ.get(var)
    if x is None:
        if insist:
            die(100, "%s not set" % var)
        x = default
    elif unexport and modifs is not None:
        modifs.append(var)
    subs[key] = [] if x is None else _transform_or_die(x, *how)
    return i + 2


def _dir_elgetpositionals(argv, subs):
    opts, i = _subgetopt(argv, "P:")
    if opts is None:
        return -3
    nmin = 0
    for c, arg in opts:
        nmin = core.uint0(arg)
        if nmin is None:
            return -3
    x = os.environ.get("#")
    n = core.uint0(x) if x is not None else None
    if n is None or "#" in subs or "@" in subs:
        return -2
    level = core.strict()
    if level and n < nmin:
        core.complain(level, "too few arguments: expected at least %d but got %d" % (nmin, n))
    subs["#"] = [x]
    vals = []
    for k in range(max(n, nmin) + 1):
        key = str(k)
        if key in subs:
            return -2
        v = os.environ.get(key) if k <= n else ""
        if v is None:
            return -2
        subs[key] = [v]
        vals.append(v)
    subs["@"] = vals[1:n + 1]
    return i


def _dir_multidefine(argv, subs):
    opts, i = _subgetopt(argv, "0rNnCcd:")
    if opts is None:
        return -3
    (_, crunch, chomp, delim), opts = _transform_options(opts)
    zeroword, likeread = settings(opts, {"0": {"zeroword": True}, "r": {"likeread": True}},
                                  zeroword=False, likeread=False)
    if len(argv) - i < 2:
        return -3
    value = argv[i]
    names, end = block(argv, i + 1)
    if end is None:
        return -3
    if not names:
        return -4
    words = _transform_or_die(value, True, crunch, chomp, delim)
    mx = len(words)
    for k, name in enumerate(names):
        if name:
            if name in subs:
                return -2
            subs[name] = [words[k]] if k < mx else ([] if zeroword else [""])
    if len(names) < mx and likeread and names[-1]:
        subs[names[-1]] = words[len(names) - 1:]
    return end + 1


def _dir_elglob(argv, subs):
    opts, i = _subgetopt(argv, "vwsme0")
    if opts is None:
        return -3
    flags = set(c for c, _ in opts)
    if len(argv) - i < 2:
        return -3
    key, pattern = argv[i], argv[i + 1]
    if not key or key in subs:
        return -2
    subs[key] = _glob(pattern, flags)
    return i + 2


def _glob(pattern, flags):
    import glob as g
    pat = pattern
    if "e" not in flags:
        out = []
        k = 0
        while k < len(pattern):
            ch = pattern[k]
            if ch == "\\" and k + 1 < len(pattern):
                k += 1
                nxt = pattern[k]
                out.append("[" + nxt + "]" if nxt in "*?[" else nxt)
            else:
                out.append(ch)
            k += 1
        pat = "".join(out)
    res = g.glob(pat)
    if "s" in flags:
        res.sort()
    if "m" in flags:
        res = [r + "/" if os.path.isdir(r) else r for r in res]
    if not res:
        return [] if "0" in flags else [pattern]
    return res


def _subgetopt(argv, optstring):
    """getopt for the commands whose bad options are not an error: (None, 0) then."""
    try:
        return scan_options(argv, optstring, _bad_option)
    except _Usage:
        return None, 0


class _Usage(Exception):
    pass


def _bad_option():
    raise _Usage()


def _exlsn(argv, func, usage):
    subs = {}
    modifs = []
    if func is _dir_importas:
        n = func(argv, subs, modifs)
    else:
        n = func(argv, subs)
    if n == -3:
        dieusage(usage)
    if n == -2:
        die(111, "bad substitution key")
    for var in modifs:
        os.environ.pop(var, None)
    return _run_subst(subs, argv[n:])


def define(argv):
    core.PROG = "define"
    return _exlsn(argv, _dir_define, "define [ -N | -n ] [ -s ] [ -C | -c ] [ -d delim ] key value prog...")


def importas(argv):
    core.PROG = "importas"
    return _exlsn(argv, _dir_importas, "importas [ -i | -D default ] [ -u ] [ -N | -n ] [ -s ] [ -C | -c ] "
                  "[ -d delim ] key var prog...")


def import_(argv):
    """The legacy `import [options] var prog...`, same as importas var var."""
    core.PROG = "import"
    usage = "import [ -i | -D default ] [ -u ] [ -N | -n ] [ -s ] [ -C | -c ] [ -d delim ] var prog..."
    opts, i = getopt(argv, "iuD:NnsCcd:", usage)
    if len(argv) - i < 1:
        dieusage(usage)
    return _exlsn(argv[:i] + [argv[i], argv[i]] + argv[i + 1:], _dir_importas, usage)


def elgetpositionals(argv):
    core.PROG = "elgetpositionals"
    return _exlsn(argv, _dir_elgetpositionals, "elgetpositionals [ -P num ] prog...")


def elglob(argv):
    core.PROG = "elglob"
    return _exlsn(argv, _dir_elglob, "elglob [ -v ] [ -w ] [ -s ] [ -m ] [ -e ] [ -0 ] key pattern prog...")


def multidefine(argv):
    core.PROG = "multidefine"
    usage = "multidefine [ -0 ] [ -r ] [ -N | -n ] [ -C | -c ] [ -d delim ] value { vars... } prog..."
    subs = {}
    n = _dir_multidefine(argv, subs)
    if n == -3:
        dieusage(usage)
    if n == -4:
        die(100, "empty block")
    if n == -2:
        die(111, "bad substitution key")
    return _run_subst(subs, argv[n:])


_DIRECTIVES = {
    "define": _dir_define,
    "importas": _dir_importas,
    "elglob": _dir_elglob,
    "elgetpositionals": _dir_elgetpositionals,
    "multidefine": _dir_multidefine,
}


def multisubstitute(argv):
    core.PROG = "multisubstitute"
    usage = "see http://skarnet.org/software/execline/multisubstitute.html"
    if len(argv) < 2:
        dieusage(usage)
    words, end = whole_block(argv, 1)
    if end + 1 == len(argv):
        dieusage(usage)
    subs = {}
    modifs = []
    while words:
        name = words[0]
        func = _DIRECTIVES.get(name)
        if func is None:
            die(100, "syntax error: unrecognized directive " + name)
        n = func(words, subs, modifs) if func is _dir_importas else func(words, subs)
        if n < 0:
            if n == -2:
                die(100, "wrong key for directive " + name)
            die(100, "syntax error at directive " + name)
        words = words[n:]
    for var in modifs:
        os.environ.pop(var, None)
    return _run_subst(subs, argv[end + 1:])


def export(argv):
    core.PROG = "export"
    if len(argv) < 4:
        dieusage("export variable value prog...")
    os.environ[argv[1]] = argv[2]
    return argv[3:]


def unexport(argv):
    core.PROG = "unexport"
    if len(argv) < 3:
        dieusage("unexport variable prog...")
    os.environ.pop(argv[1], None)
    return argv[2:]


def emptyenv(argv):
    core.PROG = "emptyenv"
    usage = "emptyenv [ -p | -c | -o | -P ] prog..."
    opts, i = getopt(argv, "pcoP", usage)
    flags = set(c for c, _ in opts)
    prog = argv[i:]
    if not prog:
        dieusage(usage)
    env = dict(os.environ)
    if "c" in flags:
        new = {k: v for k, v in env.items()
               if k not in ("!", "?") and not k.startswith(("ELGETOPT_", "EXECLINE_", "FD", "#"))
               and not ("0" <= k[:1] <= "9")}
    elif "o" not in flags and "P" not in flags:
        new = {"PATH": env["PATH"]} if "p" in flags and "PATH" in env else {}
    else:
        prefixes = (core.POSITIONALS if "P" in flags else ()) + (("ELGETOPT_",) if "o" in flags else ())
        new = core.popenv(env, prefixes)
    core.replace_environ(new)
    return prog


def _argc():
    """The number of positional parameters, from #; dies when # is unset or not a number."""
    x = os.environ.get("#")
    if x is None:
        die(100, "# not set")
    n = core.uint0(x)
    if n is None:
        die(100, "invalid #")
    return n


def _positional(k):
    """Positional parameter K, which must be set."""
    v = os.environ.get(str(k))
    if v is None:
        die(100, "%d not set" % k)
    return v


def _positional_block(last, sharp, blockno, level, too_few):
    """Read the block of positional parameters after parameter LAST (block number BLOCKNO
    for the strict-mode complaint about an unquoted word): (the index of its empty end
    word, its words unquoted).  Dies with TOO_FEW when the block runs past SHARP."""
    k = last
    words = []
    while True:
        k += 1
        if k > sharp:
            die(100, too_few)
        v = _positional(k)
        if v == "":
            return k, words
        if v[0] == " ":
            v = v[1:]
        elif level:
            core.complain(level, "unquoted positional %s at block %d position %d"
                          % (v, blockno, k - last))
        words.append(v)


def elgetopt(argv):
    core.PROG = "elgetopt"
    usage = "elgetopt [ -D default ] optstring prog..."
    opts, i = getopt(argv, "D:", usage)
    default = opts[-1][1] if opts else "1"
    argv = argv[:1] + argv[i:]
    if len(argv) < 3:
        dieusage(usage)
    env = os.environ
    n = _argc()
    args = [_positional(k) for k in range(n + 1)]
    optstring = argv[1]
    found, k, problem = find_options(args, optstring)
    if problem is not None:
        letter, missing = problem
        reason = "option requires an argument" if missing else "invalid option"
        core.write(2, "%s: %s -- %s\n" % (args[0], reason, letter))
        return 1
    remaining = args[k:]
    new = core.pushenv(dict(env), ("ELGETOPT_",))
    for c, arg in found:
        new["ELGETOPT_" + c] = arg if arg is not None else default
    for idx in range(n):
        if idx < len(remaining):
            new[str(idx + 1)] = remaining[idx]
        else:
            new.pop(str(idx + 1), None)
    new["#"] = str(len(remaining))
    core.replace_environ(new)
    return argv[2:]


def shift(argv):
    core.PROG = "shift"
    usage = "shift [ -n arg# ] [ -b block# ] prog..."
    level = core.strict()
    opts, i = getopt(argv, "n:b:", usage)
    n = b = 0
    given = False
    for c, arg in opts:
        v = core.uint0(arg)
        if v is None:
            dieusage(usage)
        if c == "n":
            n = v
        else:
            b = v
        given = True
    prog = argv[i:]
    if not prog:
        dieusage(usage)
    if not given:
        n = 1
    env = os.environ
    sharp = _argc()
    if n > sharp:
        if level:
            core.complain(level, "unable to shift %d arguments: got %d" % (n, sharp))
        n = sharp
    for bi in range(b):
        too_few = "unable to shift block %d: too few arguments (%d)" % (bi, sharp + 1)
        n, _ = _positional_block(n, sharp, bi, level, too_few)
    vals = {}
    for k in range(1, sharp + 1):
        vals[k] = env.get(str(k + n)) if k <= sharp - n else None
    env["#"] = str(sharp - n)
    for k, v in vals.items():
        if v is None:
            env.pop(str(k), None)
        else:
            env[str(k)] = v
    return prog


def runblock(argv):
    core.PROG = "runblock"
    usage = "runblock [ -P ] [ -n argshift ] [ -r ] n cmd..."
    level = core.strict()
    opts, i = getopt(argv, "Prn:", usage)
    table = {"P": {"nopop": True}, "r": {"flagr": True}, "n": {"m": core.uint_or_usage(usage)}}
    nopop, flagr, m = settings(opts, table, nopop=False, flagr=False, m=0)
    args = argv[i:]
    if not args:
        dieusage(usage)
    n = core.uint0(args[0])
    if n is None or (not n and not flagr):
        dieusage(usage)
    cmd = args[1:]
    env = os.environ
    sharp = _argc()
    for bi in range(1, n + flagr):
        m, _ = _positional_block(m, sharp, bi, level, "too few arguments")
    out = list(cmd)
    if flagr:
        m += 1
        if m > sharp:
            return 0
        while m <= sharp:
            out.append(_positional(m))
            m += 1
    else:
        m, words = _positional_block(m, sharp, n, level, "too few arguments")
        out += words
    if not nopop:
        core.replace_environ(core.popenv(dict(env), core.POSITIONALS))
    if not out:
        core.exec_external([""])
    return out


def dollarat(argv):
    core.PROG = "dollarat"
    usage = "dollarat [ -n ] [ -0 | -d delimchar ]"
    opts, i = getopt(argv, "nd:0", usage)
    table = {"n": {"chomp": True}, "d": {"delim": lambda arg: arg[:1]}, "0": {"delim": "\0"}}
    chomp, delim = settings(opts, table, chomp=False, delim="\n")
    n = _argc()
    out = []
    for k in range(1, n + 1):
        v = _positional(k)
        if delim == "":
            b = os.fsencode(v)
            out.append(b"%d:%s," % (len(b), b))
        else:
            out.append(os.fsencode(v) + os.fsencode(delim))
    data = b"".join(out)
    if chomp and delim and data:
        data = data[:-1]
    try:
        core.write(1, data)
    except OSError as e:
        core.diesys(111, "write to stdout", e)
    return 0


def _slurp(fd):
    chunks = []
    while True:
        try:
            b = os.read(fd, 65536)
        except InterruptedError:
            continue
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def _modif_exec(rest, var, value, doimport):
    if doimport:
        rest = ["importas", "-ui", var, var] + rest
    if value is None:
        os.environ.pop(var, None)
    else:
        os.environ[var] = value
    return rest if rest else 0


#: the options backtick and withstdinas share: -i (a failure is fatal), -I (the output
#: up to a null character), -N, -n, -E, -e
_CAPTURE_OPTIONS = dict(CHOMP_OPTIONS, **IMPORT_OPTIONS, i={"insist": 2}, I={"insist": 1})


def backtick(argv):
    core.PROG = "backtick"
    usage = "backtick [ -i | -I | -x | -D default ] [ -N | -n ] [ -E | -e ] var { prog... } remainder..."
    opts, args = core.operands(argv, "iIxD:NnEe", usage, 2)
    table = dict(_CAPTURE_OPTIONS, x={"insist": 0, "default": None},
                 D={"insist": 0, "default": argument})
    insist, chomp, doimport, default = settings(opts, table, insist=2, chomp=True,
                                                doimport=False, default=None)
    var = core.variable(args[0])
    words, end = whole_block(args, 1)
    if not words:
        die(100, "empty block")
    r, w = os.pipe()

    def setup():
        os.close(r)
        os.dup2(w, 1)
        os.close(w)
    try:
        pid = core.spawn(words, setup)
    except OSError as e:
        os.close(r)
        os.close(w)
        core.diesys(111, "spawn " + words[0], e)
    os.close(w)
    data = _slurp(r)
    os.close(r)
    ws = core.waitpid(pid)
    rest = args[end + 1:]
    value = data
    bad = bool(core.wait_status(ws))
    if bad:
        if insist >= 2:
            if os.WIFSIGNALED(ws):
                die(128 + os.WTERMSIG(ws), "child process crashed")
            die(os.WEXITSTATUS(ws), "child process exited non-zero")
        elif insist == 0:
            value = None if default is None else os.fsencode(default)
            chomp = False
    if value is not None and b"\0" in value:
        if insist >= 2:
            die(124, "child process output contained a null character")
        elif insist == 1:
            value = value[:value.index(b"\0")]
        else:
            value = None if default is None else os.fsencode(default)
            chomp = False
    if chomp and value and value.endswith(b"\n"):
        value = value[:-1]
    return _modif_exec(rest, var, None if value is None else os.fsdecode(value), doimport)


def withstdinas(argv):
    core.PROG = "withstdinas"
    usage = "withstdinas [ -i | -I | -D default ] [ -N | -n ] [ -E | -e ] var remainder..."
    opts, args = core.operands(argv, "iINnD:Ee", usage, 1)
    table = dict(_CAPTURE_OPTIONS, D={"default": argument})
    insist, chomp, doimport, default = settings(opts, table, insist=0, chomp=True,
                                                doimport=False, default=None)
    var = core.variable(args[0])
    try:
        data = _slurp(0)
    except OSError as e:
        core.diesys(111, "slurp", e)
    value = data
    if b"\0" in data:
        if insist >= 2:
            die(1, "stdin contained a null character")
        elif insist:
            value = None
        elif default is not None:
            value = os.fsencode(default)
            core.warn("stdin contained a null character - using default instead")
        else:
            value = data[:data.index(b"\0")]
    elif chomp and data.endswith(b"\n"):
        value = data[:-1]
    return _modif_exec(args[1:], var, None if value is None else os.fsdecode(value), doimport)


def getcwd(argv):
    core.PROG = "getcwd"
    usage = "getcwd [ -E | -e ] variable prog..."
    opts, args = core.operands(argv, "Ee", usage, 2)
    doimport = settings(opts, IMPORT_OPTIONS, doimport=False)[0]
    if "=" in args[0]:
        die(100, "invalid variable name")
    try:
        cwd = os.getcwd()
    except OSError as e:
        core.diesys(111, "getcwd", e)
    return _modif_exec(args[1:], args[0], cwd, doimport)


def getpid(argv):
    core.PROG = "getpid"
    usage = "getpid [ -E | -e ] [ -P | -p ] variable prog..."
    opts, args = core.operands(argv, "EePp", usage, 2)
    table = dict(IMPORT_OPTIONS, P={"parent": True}, p={"parent": False})
    doimport, parent = settings(opts, table, doimport=False, parent=False)
    if "=" in args[0]:
        die(100, "invalid variable name")
    return _modif_exec(args[1:], args[0], str(os.getppid() if parent else os.getpid()), doimport)


def homeof(argv):
    core.PROG = "homeof"
    if len(argv) < 2:
        dieusage("homeof user")
    import pwd
    try:
        home = pwd.getpwnam(argv[1]).pw_dir
    except KeyError:
        die(111, ": unable to get passwd entry for %s: no such user" % argv[1])
    core.write(1, home + "\n")
    return 0


def cd(argv):
    core.PROG = "execline-cd"
    if len(argv) < 3:
        dieusage("cd path prog...")
    try:
        os.chdir(argv[1])
    except OSError as e:
        core.diesys(111, "chdir to " + argv[1], e)
    return argv[2:]


def umask(argv):
    core.PROG = "execline-umask"
    if len(argv) < 3:
        dieusage("umask value prog...")
    s = argv[1]
    if not s or any(c not in "01234567" for c in s):
        dieusage("umask value prog...")
    os.umask(int(s, 8) & 0o777)
    return argv[2:]


def envfile(argv):
    core.PROG = "envfile"
    usage = "envfile [ -i | -I ] file prog..."
    opts, args = core.operands(argv, "iI", usage, 2)
    loose = bool(opts) and opts[-1][0] == "I"
    path = args[0]
    try:
        if path == "-":
            data = _slurp(0)
        else:
            fd = os.open(path, os.O_RDONLY)
            data = _slurp(fd)
            os.close(fd)
    except OSError as e:
        if loose and e.errno == 2:
            return args[1:]
        core.diesys(111, "open " + path, e)
    from .envfile import parse_envfile
    pairs = parse_envfile(os.fsdecode(data), path)
    for k, v in pairs:
        os.environ[k] = v
    return args[1:]
