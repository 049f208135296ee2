"""s6-svlisten1 and s6-svlisten: subscribe to services' events, run a program, then
wait for the services to reach a state (so the program's effect is never missed).

    s6-svlisten1 [ -U | -u | -d | -D | -r | -R ] [ -t timeout ] servicedir prog...
    s6-svlisten [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir... "" prog...

The program's exit status is not used.  For -r/-R the services must first be down and
finished ('D'), then up (and ready).  Exit 99 on timeout.
"""

from s6py.client.options import parse, uint
from s6py.diag import fatal, usage, warn

ONE = "s6-svlisten1"
ONE_USAGE = "s6-svlisten1 [ -U | -u | -d | -D | -r | -R ] [ -t timeout ] servicedir prog..."
MANY = "s6-svlisten"
MANY_USAGE = ('s6-svlisten [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] '
              'servicedir... "" prog...')
#: option letter -> (wantup, wantready, wantrestart)
MODES = {"u": (1, 0, 0), "U": (1, 1, 0), "d": (0, 0, 0), "D": (0, 1, 0),
         "r": (1, 0, 1), "R": (1, 1, 1)}
FAILED = "some services reported permanent failure or their supervisor died"


def _options(prog, text, argv, optstring):
    opts, args = parse(prog, text, argv, optstring)
    mode, or_, timeout = MODES["u"], False, 0
    for o, v in opts:
        if o in MODES:
            mode = MODES[o]
        elif o in "ao":
            or_ = o == "o"
        else:
            timeout = uint(prog, text, v)
    return mode, or_, timeout, args


def listen_then_wait(prog, dirs, mode, or_, timeout, action, on_failure):
    """Subscribe to DIRS, run ACTION (a callable given the Listen), wait for MODE.

    ON_FAILURE(count) is called (and must exit) when services fail permanently.
    """
    from s6py.client.listen import Listen

    wantup, wantready, wantrestart = mode
    listen = Listen(prog, dirs, timeout)
    try:
        action(listen)
        if wantrestart:
            e = listen.loop(0, 1, or_)
            if e:
                on_failure(e)
        e = listen.loop(wantup, wantready, or_)
        if e:
            on_failure(e)
    finally:
        listen.close()
    return 0


def main_one(argv):
    mode, _, timeout, args = _options(ONE, ONE_USAGE, argv, "uUdDrRt:")
    if len(args) < 2:
        usage(ONE, ONE_USAGE)
    from s6py.client.listen import spawn_child

    def failed(_count):
        fatal(ONE, 1, args[0], " failed permanently or its supervisor died")

    return listen_then_wait(ONE, args[:1], mode, True, timeout,
                            lambda listen: spawn_child(ONE, args[1:], listen), failed)


def main_many(argv):
    mode, or_, timeout, args = _options(MANY, MANY_USAGE, argv, "uUdDrRaot:")
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

    def failed(count):
        fatal(MANY, count, FAILED)

    return listen_then_wait(MANY, dirs, mode, or_, timeout,
                            lambda listen: spawn_child(MANY, prog, listen), failed)
