"""s6-log's fatal errors as a typed exception; every line is printed by s6py.diag.

Opening a logdir or parsing the script fails deep inside the log package, far from the
command: `Fatal(code, message)` carries the exit code and the text up to cmd/s6log.main,
which prints `s6-log: fatal: MESSAGE` through its diag.Reporter and returns CODE.  Warnings
go straight to that Reporter (`warn`, `warnsys`), which the package is handed.
"""

from s6py import strerror

PROG = "s6-log"


class Fatal(Exception):
    """Exit with CODE after printing `PROG: fatal: MESSAGE`."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def fatalsys(what, exc, code=111):
    """Fatal `unable to WHAT: STRERROR` (skalibs' strerr_diefu)."""
    return Fatal(code, "unable to %s: %s" % (what, strerror(exc)))
