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


def _notification_fd(value, fd_of):
    fd = _uint(value)
    if fd < 3:
        raise Fatal(100, "notification fd must be 3 or more")
    ours = fd_of(fd)
    try:
        fcntl.fcntl(ours, fcntl.F_GETFD)
    except OSError as e:
        raise Fatal(100, "invalid notification fd: " + os.strerror(e.errno))
    return ours


def _same_fd(fd):
    return fd


def parse_options(argv, fd_of=_same_fd):
    """skalibs-style getopt on "qvbpl:d:t:": returns (options dict, script argv).  FD_OF
    maps the logger's fd numbers (-d) to this process's (a log host holds them elsewhere,
    and maps one the logger does not have to a closed fd)."""
    opts = {"verbosity": 1, "block": False, "protect": False, "linelimit": 8192,
            "notif": None, "lastline": 2000}
    found, i, problem = find_options(argv, "qvbpl:d:t:")
    for c, value in found:
        if c == "l":
            opts["linelimit"] = _uint(value)
        elif c == "t":
            opts["lastline"] = _uint(value)
        elif c == "d":
            opts["notif"] = _notification_fd(value, fd_of)
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


def build(argv, reporter, stdin=0, stdout=1, fd_of=_same_fd, path=None):
    """s6-log ARGV up to its loop: the options, the script checked and parsed, every
    logdir opened (in script order) and the Logger made on fds STDIN and STDOUT.  Raises
    Usage, or Fatal with s6-log's message and exit code.  PATH (default $PATH) is where
    `!` processors find execlineb."""
    try:
        opts, directives = parse_options(argv, fd_of)
    except Usage:
        directives = None
    if not directives:
        raise Usage()
    reporter.verbosity = opts["verbosity"]
    linelimit = opts["linelimit"]
    if linelimit and linelimit < LINELIMIT_MIN:
        linelimit = LINELIMIT_MIN
    logdirs = []

    def open_logdir(settings):
        ld = logdir.Logdir(settings, reporter)
        ld.open()
        logdirs.append(ld)
        return ld

    def processor_shell(kind):
        return logdir.processor_shell(kind, path)

    try:
        script.check(directives, reporter.warn)
        elements = script.parse(directives, open_logdir, processor_shell)
    except script.ScriptError as e:
        raise Fatal(100, str(e)) from None
    return loop.Logger(elements, logdirs, reporter, linelimit=linelimit,
                       block=opts["block"], protect=opts["protect"],
                       lastline_ms=opts["lastline"], notif=opts["notif"], stdin=stdin,
                       stdout=stdout)


def prepare(argv, reporter, **where):
    """build(ARGV, REPORTER, **WHERE) with its failures said as s6-log says them:
    (the Logger, None), or (None, s6-log's exit code)."""
    try:
        return build(argv, reporter, **where), None
    except Usage:
        reporter.kind(reporter.ERROR, "usage", USAGE)
        return None, 100
    except Fatal as e:
        reporter.fatal(e.message)
        return None, e.code


def main(argv):
    reporter = Reporter(PROG)
    try:
        for fd in (0, 1, 2):
            try:
                os.fstat(fd)
            except OSError:
                os.open(os.devnull, os.O_RDWR)
        logger, code = prepare(argv, reporter)
        if logger is None:
            return code
        return logger.run()
    except Fatal as e:
        reporter.fatal(e.message)
        return e.code
    except KeyboardInterrupt:
        return 111
    finally:
        sys.stdout.flush()
