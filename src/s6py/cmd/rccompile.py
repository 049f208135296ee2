"""s6-rc-compile [ -v verbosity ] [ -h fdhuser ] [ -b ] compiled source...

Reads the source directories as s6-rc-compile 0.7 does, prints every problem it finds
(one `s6-rc-compile: fatal: ...` line each; the real one prints its first and stops) and
exits with the first one's code (1: a bad source, 111: a file that cannot be read);
otherwise writes COMPILED in our own format (s6py/rc/compiled.py, docs/s6-rc.md).
-u uids and -g gids (s6-rc before 0.6) are accepted and ignored, as -h and -b are: our
runtime has no fdholder daemon and no oneshot runner to configure.
"""

from s6py import find_options
from s6py.diag import Exit, Reporter, fatal, strerror, usage

PROG = "s6-rc-compile"
USAGE = "s6-rc-compile [ -v verbosity ] [ -h fdholder_user ] [ -b ] destdir sources..."


LONG_OPTIONS = {"verbosity": "v", "fdholder-user": "h", "block": "b"}


def gol(prog, usage_text, argv, optstring, longs):
    """skalibs' GOL_main as far as these commands need it: short options (subgetopt's
    rules), the long ones in LONGS (name -> letter; --name=value or --name value), an
    unknown option is fatal (100), a missing argument a usage error.  Returns (opts,
    operands)."""
    argv = short_options_only(prog, usage_text, argv, optstring, longs)
    opts, first, problem = find_options(argv, optstring)
    if problem is not None:
        letter, missing_argument = problem
        if missing_argument:
            usage(prog, usage_text)
        fatal(prog, 100, "unrecognized short option: ", letter)
    return opts, argv[first:]


def short_options_only(prog, usage_text, argv, optstring, longs):
    """ARGV with every long option of the option part turned into its short form."""
    out, i, n = [argv[0]], 1, len(argv)
    while i < n:
        word = argv[i]
        if word == "--" or word == "-" or not word.startswith("-"):
            break
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            letter = longs.get(name)
            if letter is None:
                fatal(prog, 100, "unrecognized boolean option: ", word)
            if takes_argument(optstring, letter):
                if not eq:
                    i += 1
                    if i == n:
                        usage(prog, usage_text)
                    value = argv[i]
                out.append("-" + letter + value)
            else:
                out.append("-" + letter)
        else:
            out.append(word)
            for j in range(1, len(word)):
                if takes_argument(optstring, word[j]):
                    if j + 1 == len(word) and i + 1 < n:
                        i += 1
                        out.append(argv[i])
                    break
        i += 1
    return out + argv[i:]


def takes_argument(optstring, letter):
    k = optstring.find(letter)
    return k >= 0 and optstring[k + 1:k + 2] == ":"


def verbosity_of(opts):
    verbosity = 1
    for letter, arg in opts:
        if letter == "v":
            if not arg.isdigit() or not arg.isascii():
                fatal(PROG, 100, "verbosity must be an unsigned integer")
            verbosity = int(arg)
    return verbosity


def main(argv):
    opts, args = gol(PROG, USAGE, argv, "v:h:bu:g:", LONG_OPTIONS)
    if len(args) < 2:
        usage(PROG, USAGE)
    reporter = Reporter(PROG, verbosity_of(opts))
    compiled, sources = args[0], args[1:]
    from s6py.rc.graph import CompileError, Graph
    from s6py.rc.source import read_sources

    definitions, problems = read_sources(sources, reporter)
    try:
        graph = Graph(definitions, problems, reporter)
    except CompileError as e:
        for reason in e.reasons:
            reporter.fatal(reason)
        raise Exit(e.code)
    for warning in graph.late_warnings:
        reporter.warn(warning)
    write(reporter, graph, compiled, definitions)
    return 0


def write(reporter, graph, compiled, definitions):
    from s6py.rc import compiled as db

    if reporter.verbosity >= 2:
        reporter.info("writing compiled information to ", compiled)
    try:
        db.write(graph, compiled, definitions)
    except FileExistsError as e:
        fatal(PROG, 111, "unable to mkdir ", compiled, ": ", strerror(e))
    except OSError as e:
        where = getattr(e, "filename", None) or compiled
        fatal(PROG, 111, "unable to write to ", where, ": ", strerror(e))
