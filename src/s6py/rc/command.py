"""The `s6-rc` command line, parsed the same way by the command (to say usage errors
itself) and by PID 1 (which runs the request): s6-rc 0.7's options and subcommands.

    s6-rc [ -v verbosity ] [ -n dryrunthrottle ] [ -t timeout ] [ -l live ] [ -b ]
          [ -E | -e ] [ -u | -d | -D ] [ -p ] [ -a ]
          help|list|listall|diff|start|stop|change [ servicenames... ]
"""

from s6py import scan_options

__all__ = ["USAGE", "Request", "UsageError", "parse"]

USAGE = ("s6-rc [ -v verbosity ] [ -n dryrunthrottle ] [ -t timeout ] [ -l live ] [ -b ]"
         " [ -E | -e ] [ -u | -d | -D ] [ -p ] [ -a ]"
         " help|list|listall|diff|start|stop|change|reload [ servicenames... ]")

SUBCOMMANDS = ("help", "list", "listall", "diff", "start", "stop", "change", "reload")


class UsageError(ValueError):
    """A bad command line; the message, if any, replaces the usage line."""


class Request:
    """One s6-rc invocation: what to do, on which names, how."""

    def __init__(self):
        self.verbosity = 1
        self.dryrun = None        # milliseconds of a dry run's pretend transitions
        self.timeout_ms = 0
        self.live = "/run/s6-rc"
        self.active = False       # -a: the services that are up join the selection
        self.direction = "u"      # u, d or D (forced down)
        self.prune = False
        self.hide_essentials = False  # -e, or -D: essentials are neither listed nor kept up
        self.command = None
        self.names = []

    @property
    def going_up(self):
        return self.direction == "u"

    @property
    def force(self):
        """A change down stops essential services too: -D, or -d with -e (s6-rc checks
        the essential flag only when it does not hide essentials)."""
        return not self.going_up and self.hide_essentials


def _uint(value, what):
    if not value.isdigit() or not value.isascii():
        raise UsageError("%s must be an unsigned integer" % what)
    return int(value)


def parse(args):
    """ARGS (the command line after `s6-rc`) as a Request; raises UsageError."""
    def bad():
        raise UsageError("")

    request = Request()
    opts, i = scan_options(["s6-rc"] + list(args), "v:n:t:l:bEeuDdpa", bad)
    for letter, value in opts:
        if letter == "v":
            request.verbosity = _uint(value, "verbosity")
        elif letter == "n":
            request.dryrun = _uint(value, "dry-run")
        elif letter == "t":
            request.timeout_ms = _uint(value, "timeout")
        elif letter == "l":
            request.live = value
        elif letter in "uDd":
            request.direction = letter
            if letter == "D":
                request.hide_essentials = True
        elif letter == "p":
            request.prune = True
        elif letter == "a":
            request.active = True
        elif letter == "e":
            request.hide_essentials = True
        elif letter == "E":
            request.hide_essentials = False
    rest = list(args)[i - 1:]
    if not rest:
        bad()
    request.command, request.names = rest[0], rest[1:]
    if request.command == "start":
        request.command, request.direction = "change", "u"
    elif request.command == "stop":
        request.command, request.direction = "change", "d"
    if request.command not in SUBCOMMANDS:
        raise UsageError("unknown command: %s" % request.command)
    return request
