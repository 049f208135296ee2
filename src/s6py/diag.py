"""The one reporter: every `PROG: KIND: MESSAGE` line s6py prints, in skalibs' strerr shape.

    PROG: fatal: MESSAGE        (a command then exits with CODE)
    PROG: warning: MESSAGE
    PROG: info: MESSAGE
    PROG: usage: USAGE          (a command then exits 100)

A line is written with one write() where the fd takes it whole, so lines from concurrent
processes do not interleave; writing never raises (PID 1 must survive a closed or broken
stderr) and waits out a non-blocking fd that is full instead of dropping the line.

Library code reports through a `Reporter` and returns or raises its own exceptions; only
`fatal()` / `usage()` end a command, by raising `Exit`, which `s6py.cli.main` turns into the
exit code.  (Not SystemExit: a library caller can catch `Exit` without also catching the
interpreter's own exits.)
"""

import os

from s6py import scan_options, strerror

__all__ = ["Exit", "Reporter", "warn", "fatal", "usage", "strerror", "subgetopt", "write_all"]


class Exit(Exception):
    """End the command with exit code CODE (its line is already printed)."""

    def __init__(self, code):
        Exception.__init__(self, code)
        self.code = code


def write_all(fd, data):
    """Write DATA to FD completely: retries on EINTR and short writes, waits while a
    non-blocking FD is full.  Raises OSError for any other error."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except BlockingIOError:
            import select  # only when a non-blocking fd is full

            select.select([], [fd], [])
            continue
        view = view[n:]


def say(fd, text):
    """Write TEXT on FD; never raises.  Encoded as the command line was decoded (an
    argument in a message comes back as its bytes), UTF-8 where that cannot encode it."""
    try:
        data = os.fsencode(text)
    except UnicodeError:
        data = text.encode("utf-8", "surrogateescape")
    try:
        write_all(fd, data)
    except OSError:
        pass


class Reporter:
    """`PROG: KIND: MESSAGE` lines on FD, gated by VERBOSITY.

    Levels as S6_VERBOSITY counts them: 0 errors (fatal, error) only, 1 warnings too,
    2 info too, 3 debug too.  A reporter for another program name is `reporter.as_prog(P)`.
    """

    ERROR, WARNING, INFO, DEBUG = 0, 1, 2, 3

    def __init__(self, prog, verbosity=1, fd=2, subject=""):
        self.prog = prog
        self.verbosity = verbosity
        self.fd = fd
        self.subject = subject  # "NAME: " before every message, or ""

    def as_prog(self, prog):
        return Reporter(prog, self.verbosity, self.fd, self.subject)

    def about(self, subject):
        """The same reporter, its messages about SUBJECT: `PROG: KIND: SUBJECT: MESSAGE`."""
        return Reporter(self.prog, self.verbosity, self.fd, subject + ": ")

    def line(self, level, text):
        """TEXT as it is (one line), if LEVEL is within the verbosity."""
        if level <= self.verbosity:
            say(self.fd, text + "\n")

    def kind(self, level, kind, *parts):
        self.line(level, "%s: %s: %s%s" % (self.prog, kind, self.subject, "".join(parts)))

    def fatal(self, *parts):
        """The fatal line only: the caller decides how to end."""
        self.kind(self.ERROR, "fatal", *parts)

    def error(self, *parts):
        self.kind(self.ERROR, "error", *parts)

    def warn(self, *parts):
        self.kind(self.WARNING, "warning", *parts)

    def warnsys(self, what, exc):
        """`PROG: warning: unable to WHAT: STRERROR` (skalibs' strerr_warnwu)."""
        self.warn("unable to ", what, ": ", strerror(exc))

    def info(self, *parts):
        self.kind(self.INFO, "info", *parts)

    def debug(self, *parts):
        self.kind(self.DEBUG, "debug", *parts)


def warn(prog, *parts):
    Reporter(prog).warn(*parts)


def fatal(prog, code, *parts):
    """Print the fatal line and end the command with CODE (commands only)."""
    Reporter(prog).fatal(*parts)
    raise Exit(code)


def usage(prog, text):
    Reporter(prog).kind(Reporter.ERROR, "usage", text)
    raise Exit(100)


def subgetopt(prog, usage_text, argv, optstring):
    """Options of argv[1:] as s6py.scan_options finds them: ([(letter, arg-or-None)],
    operands); a bad option is a usage error (exit 100)."""
    opts, i = scan_options(argv, optstring, lambda: usage(prog, usage_text))
    return opts, argv[i:]
