"""s6-svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -abqhkti12pcyroduDUxOQ ] servicedir

Send control letters to a service's s6-supervise.  With -w?, wait for the matching
state change: s6 2.11 execs `s6-svlisten1 -? -t T -- dir s6-svc LETTERS -- dir` (or
`s6-svwait -? -t T -- dir` when there are no letters); we run the same code in this
process instead of exec'ing, with the same messages (printed under those programs'
names), ordering (subscribe, read status, then send) and exit codes.

Like 2.11, there is no -s option (added in 2.12), and -Q is sent to the supervisor
as is.
"""

import os

from s6py.cmd._options import parse, uint
from s6py.diag import fatal, usage, warn
from s6py.wire.control import SVC_LETTERS
from s6py.wire.events import WAIT_MODES

PROG = "s6-svc"
USAGE = ("s6-svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] "
         "[ -%s ] servicedir" % SVC_LETTERS)
MAXLETTERS = 62


def main(argv):
    opts, args = parse(PROG, USAGE, argv, SVC_LETTERS + "T:w:")
    letters = []
    timeout = 0
    wait = None
    for o, v in opts:
        if o == "T":
            timeout = uint(PROG, USAGE, v)
        elif o == "w":
            if not v or v[0] not in WAIT_MODES:
                usage(PROG, USAGE)
            wait = v[0]
        else:
            if len(letters) >= MAXLETTERS:
                fatal(PROG, 100, "too many commands")
            letters.append(o)
    if not args:
        usage(PROG, USAGE)
    if len(args) > 1:
        warn(PROG, "ignoring extra arguments")
    service = args[0]
    if not service:
        fatal(PROG, 100, "invalid service path")
    letters = "".join(letters)

    if wait in ("U", "R"):
        fn = service + "/notification-fd"
        try:
            os.stat(fn)
        except FileNotFoundError:
            wait = wait.lower()
            warn(PROG, fn, " not present - ignoring request for readiness notification")
        except OSError as e:
            from s6py.diag import strerror

            fatal(PROG, 111, "unable to access ", fn, ": ", strerror(e))

    from s6py.client import ClientError
    from s6py.client.control import send_letters

    if wait is None:
        try:
            send_letters(service, "supervise", letters)
        except ClientError as e:
            fatal(PROG, e.code, e.message)
        return 0
    if not letters:
        from s6py.cmd import svwait

        return svwait.wait("s6-svwait", [service], WAIT_MODES[wait], False, timeout)

    from s6py.cmd import svlisten

    def send(_listen):
        # the real s6-svc runs as a child here: its failure is reported, not fatal
        try:
            send_letters(service, "supervise", letters)
        except ClientError as e:
            from s6py.diag import Reporter

            Reporter(PROG).fatal(e.message)

    if svlisten.listen_then_wait(svlisten.ONE, [service], WAIT_MODES[wait], True, timeout,
                                 send):
        fatal(svlisten.ONE, 1, service, " failed permanently or its supervisor died")
    return 0
