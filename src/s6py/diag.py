"""The one-line diagnostics every s6py command prints, in skalibs' strerr shape.

    PROG: fatal: MESSAGE        (then exit with CODE)
    PROG: warning: MESSAGE
    PROG: usage: USAGE          (then exit 100)

Each function writes a single line with one write, so lines from concurrent processes do
not interleave.  `fatal` and `usage` raise SystemExit, which the launcher turns into the
exit code.
"""

import os

from s6py import scan_options, strerror

__all__ = ["warn", "fatal", "usage", "strerror", "subgetopt"]  # strerror: s6py's


def _say(prog, kind, parts):
    line = "%s: %s: %s\n" % (prog, kind, "".join(parts))
    try:
        os.write(2, line.encode("utf-8", "surrogateescape"))
    except OSError:
        pass


def warn(prog, *parts):
    _say(prog, "warning", parts)


def fatal(prog, code, *parts):
    _say(prog, "fatal", parts)
    raise SystemExit(code)


def usage(prog, text):
    _say(prog, "usage", (text,))
    raise SystemExit(100)


def subgetopt(prog, usage_text, argv, optstring):
    """Options of argv[1:] as s6py.scan_options finds them: ([(letter, arg-or-None)],
    operands); a bad option is a usage error (exit 100)."""
    opts, i = scan_options(argv, optstring, lambda: usage(prog, usage_text))
    return opts, argv[i:]
