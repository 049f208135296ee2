"""s6-svlisten1 and s6-svlisten: subscribe to services' events, run a program, then
wait for the services to reach a state (so the program's effect is never missed).

    s6-svlisten1 [ -U | -u | -d | -D | -r | -R ] [ -t timeout ] servicedir prog...
    s6-svlisten [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir... "" prog...

The program's exit status is not used.  For -r/-R the services must first be down and
finished ('D'), then up (and ready).  Exit 99 on timeout.
"""

from s6py.cmd._options import wait_options
from s6py.diag import fatal, usage, warn

ONE = "s6-svlisten1"
ONE_USAGE = "s6-svlisten1 [ -U | -u | -d | -D | -r | -R ] [ -t timeout ] servicedir prog..."
MANY = "s6-svlisten"
MANY_USAGE = ('s6-svlisten [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] '
              'servicedir... "" prog...')
FAILED = "some services reported permanent failure or their supervisor died"


def listen_then_wait(prog, dirs, mode, or_, timeout, action):
    """Subscribe to DIRS, run ACTION (a callable given the Listen), wait for MODE (an
    s6py.wire.events.WAIT_MODES value).

    Returns how many services failed permanently (0: MODE reached); any other failure
    is printed under PROG and ends the command.
    """
    from s6py.client import ClientError

    try:
        return _listen_then_wait(dirs, mode, or_, timeout, action)
    except ClientError as e:
        fatal(prog, e.code, e.message)


def _listen_then_wait(dirs, mode, or_, timeout, action):
    from s6py.client.listen import listen_and_wait

    return listen_and_wait(dirs, mode, or_, timeout, (False, True, or_), action)


def main_one(argv):
    mode, _, timeout, args = wait_options(ONE, ONE_USAGE, argv, "uUdDrRt:")
    if len(args) < 2:
        usage(ONE, ONE_USAGE)
    from s6py.client.listen import spawn_child

    if listen_then_wait(ONE, args[:1], mode, True, timeout,
                        lambda listen: spawn_child(args[1:], listen)):
        fatal(ONE, 1, args[0], " failed permanently or its supervisor died")
    return 0


def main_many(argv):
    mode, or_, timeout, args = wait_options(MANY, MANY_USAGE, argv, "uUdDrRaot:")
    if len(args) < 3:
        usage(MANY, MANY_USAGE)
    # execline's el_semicolon: the block ends at "", a leading space is unquoted
    try:
        end = args.index("")
    except ValueError:
        fatal(MANY, 100, "unterminated servicedir block")
    if end == 0 or end == len(args) - 1:
        usage(MANY, MANY_USAGE)
    dirs = [d[1:] if d.startswith(" ") else d for d in args[:end]]
    prog = args[end + 1:]
    if mode[2] and or_:
        or_ = False
        warn(MANY, "-o is unsupported when combined with -", "R" if mode[1] else "r",
             "- using -a instead")
    from s6py.client.listen import spawn_child

    failures = listen_then_wait(MANY, dirs, mode, or_, timeout,
                                lambda listen: spawn_child(prog, listen))
    if failures:
        fatal(MANY, failures, FAILED)
    return 0
