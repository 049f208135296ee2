"""s6-log [ -d notif ] [ -q | -v ] [ -b ] [ -p ] [ -l linelimit ] [ -t lastlinetimeout ] [ -- ] script"""

import fcntl
import os
import sys

from .. import find_options
from ..diag import Reporter
from ..log import loop, logdir, script
from ..log.report import PROG, Fatal

USAGE = ("s6-log [ -d notif ] [ -q | -v ] [ -b ] [ -p ] [ -l linelimit ] [ -- ] "
         "logging_script")
LINELIMIT_MIN = 48


class Usage(Exception):
    pass


def _uint(text):
    if not text or not text.isdigit() or not text.isascii():
        raise Usage()
    return int(text)


def _notification_fd(value):
    fd = _uint(value)
    if fd < 3:
        raise Fatal(100, "notification fd must be 3 or more")
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError as e:
        raise Fatal(100, "invalid notification fd: " + os.strerror(e.errno))
    return fd


def parse_options(argv):
    """skalibs-style getopt on "qvbpl:d:t:": returns (options dict, script argv)."""
    opts = {"verbosity": 1, "block": False, "protect": False, "linelimit": 8192,
            "notif": None, "lastline": 2000}
    found, i, problem = find_options(argv, "qvbpl:d:t:")
    for c, value in found:
        if c == "l":
            opts["linelimit"] = _uint(value)
        elif c == "t":
            opts["lastline"] = _uint(value)
        elif c == "d":
            opts["notif"] = _notification_fd(value)
        elif c == "q":
            opts["verbosity"] = max(0, opts["verbosity"] - 1)
        elif c == "v":
            opts["verbosity"] += 1
        elif c == "b":
            opts["block"] = True
        else:
            opts["protect"] = True
    if problem is not None:
        raise Usage()
    return opts, argv[i:]


def main(argv):
    reporter = Reporter(PROG)
    try:
        try:
            opts, directives = parse_options(argv)
        except Usage:
            directives = None
        if not directives:
            reporter.kind(reporter.ERROR, "usage", USAGE)
            return 100
        reporter.verbosity = opts["verbosity"]
        linelimit = opts["linelimit"]
        if linelimit and linelimit < LINELIMIT_MIN:
            linelimit = LINELIMIT_MIN
        for fd in (0, 1, 2):
            try:
                os.fstat(fd)
            except OSError:
                os.open(os.devnull, os.O_RDWR)
        logdirs = []

        def open_logdir(settings):
            ld = logdir.Logdir(settings, reporter)
            ld.open()
            logdirs.append(ld)
            return ld

        try:
            script.check(directives, reporter.warn)
            elements = script.parse(directives, open_logdir, logdir.processor_shell)
        except script.ScriptError as e:
            raise Fatal(100, str(e)) from None
        logger = loop.Logger(elements, logdirs, reporter, linelimit=linelimit,
                             block=opts["block"], protect=opts["protect"],
                             lastline_ms=opts["lastline"], notif=opts["notif"])
        return logger.run()
    except Fatal as e:
        reporter.fatal(e.message)
        return e.code
    except KeyboardInterrupt:
        return 111
    finally:
        sys.stdout.flush()
