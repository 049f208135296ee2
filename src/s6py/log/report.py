"""Messages on stderr in skarnet's format: `s6-log: warning: unable to X: strerror`."""

import os

from s6py import strerror

PROG = "s6-log"


class Fatal(Exception):
    """Exit with CODE after printing `PROG: fatal: MESSAGE`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def write_all(fd, data):
    """Write DATA to FD completely, waiting if FD is non-blocking and full."""
    import select

    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


class Reporter:
    """Warnings and alerts on fd 2; verbosity 0 keeps only alerts and fatal errors."""

    def __init__(self, verbosity=1, prog=PROG):
        self.verbosity = verbosity
        self.prog = prog

    def warn(self, message):
        if self.verbosity:
            self._say("warning: " + message)

    def warnsys(self, what, exc):
        if self.verbosity:
            self._say("warning: unable to %s: %s" % (what, strerror(exc)))

    def fatal_text(self, message):
        return "%s: fatal: %s\n" % (self.prog, message)

    def _say(self, text):
        try:
            write_all(2, ("%s: %s\n" % (self.prog, text)).encode("utf-8", "surrogateescape"))
        except OSError:
            pass


def fatalsys(what, exc, code=111):
    return Fatal(code, "unable to %s: %s" % (what, strerror(exc)))
