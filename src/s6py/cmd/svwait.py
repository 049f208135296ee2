"""s6-svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir...

Exit 0 when the services reached the state, 99 on timeout, N (the number of services
that failed permanently or lost their supervisor) otherwise.
"""

from s6py.client.options import parse, uint
from s6py.diag import fatal, usage

PROG = "s6-svwait"
USAGE = "s6-svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir..."
#: option letter -> (wantup, wantready); wantup 2 = restart (down first, then up)
MODES = {"U": (1, 1), "u": (1, 0), "d": (0, 0), "D": (0, 1), "r": (2, 0), "R": (2, 1)}
FAILED = "some services reported permanent failure or their supervisor died"


def main(argv):
    opts, dirs = parse(PROG, USAGE, argv, "UudDrRaot:")
    wantup, wantready, or_, timeout = 1, 0, False, 0
    for o, v in opts:
        if o in MODES:
            wantup, wantready = MODES[o]
        elif o in "ao":
            or_ = o == "o"
        else:
            timeout = uint(PROG, USAGE, v)
    if not dirs:
        usage(PROG, USAGE)
    return wait(PROG, dirs, wantup, wantready, or_, timeout)


def wait(prog, dirs, wantup, wantready, or_, timeout):
    from s6py.client.listen import Listen

    listen = Listen(prog, dirs, timeout)
    try:
        if wantup == 2:
            wantup = 1
            # s6-svwait's restart: every service must have died ('d') first
            e = listen.loop(0, 0, False)
            if e:
                fatal(prog, e, FAILED)
        e = listen.loop(wantup, wantready, or_)
        if e:
            fatal(prog, e, FAILED)
    finally:
        listen.close()
    return 0
