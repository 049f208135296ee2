"""execlineb: parse a script (file or -c), set up positional parameters, run the chain."""

import os

from . import core
from .lexer import ParseError, parse

USAGE = "execlineb [ -p | -P | -S nmin | -s nmin ] [ -q | -w | -W ] [ -c commandline ] script args"


def main(argv):
    core.PROG = "execlineb"
    opts, i = core.getopt(argv, "pPqwWc:S:s:", USAGE)
    nmin = core.uint_or_usage(USAGE)
    table = {"p": {"pushmode": 1}, "P": {"pushmode": 0}, "q": {"flagstrict": 0},
             "w": {"flagstrict": 1}, "W": {"flagstrict": 2}, "c": {"string": core.argument},
             "S": {"nmin": nmin, "pushmode": 3}, "s": {"nmin": nmin, "pushmode": 4}}
    pushmode, flagstrict, nmin, string = core.settings(opts, table, pushmode=2, flagstrict=-1,
                                                       nmin=0, string=None)
    args = argv[i:]
    dollar0 = argv[0]
    try:
        if string is not None:
            words = parse(os.fsencode(string))
        else:
            if not args:
                core.dieusage(USAGE)
            dollar0 = args.pop(0)
            try:
                fd = os.open(dollar0, os.O_RDONLY)
            except OSError as e:
                core.diesys(111, "open %s for reading" % dollar0, e)
            chunks = []
            while True:
                b = os.read(fd, 65536)
                if not b:
                    break
                chunks.append(b)
            os.close(fd)
            data = b"".join(chunks)
            nul = data.find(b"\0")
            if nul >= 0:
                data = data[:nul]
            words = parse(data)
    except ParseError as e:
        core.die(e.code, e.message)
    if not words:
        return 0
    env = os.environ
    if flagstrict >= 0:
        if flagstrict:
            env["EXECLINE_STRICT"] = str(flagstrict)
        else:
            env.pop("EXECLINE_STRICT", None)
    argc = len(args)
    if pushmode >= 3:
        if flagstrict and argc < nmin:
            core.complain(flagstrict, "too few arguments: expecting at least %d but got %d"
                          % (nmin, argc))
        from .subst import substitute
        n = max(argc, nmin)
        vals = args + [""] * (n - argc)
        subs = {"#": [str(argc)], "0": [dollar0]}
        if pushmode == 4:
            subs["@"] = args[nmin:] if argc > nmin else []
        else:
            subs["@"] = list(args)
        for k in range(n):
            subs[str(k + 1)] = [vals[k]]
        words = substitute(words, subs)
        if not words:
            return 0
    elif pushmode:
        if pushmode > 1:
            core.replace_environ(core.pushenv(dict(env), core.POSITIONALS))
        env["#"] = str(argc)
        env["0"] = dollar0
        for k, a in enumerate(args):
            env[str(k + 1)] = a
    return words
