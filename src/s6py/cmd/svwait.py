"""s6-svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir...

Exit 0 when the services reached the state, 99 on timeout, N (the number of services
that failed permanently or lost their supervisor) otherwise.
"""

from s6py.cmd._options import wait_options
from s6py.diag import fatal, usage

PROG = "s6-svwait"
USAGE = "s6-svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir..."
FAILED = "some services reported permanent failure or their supervisor died"


def main(argv):
    mode, or_, timeout, dirs = wait_options(PROG, USAGE, argv, "UudDrRaot:")
    if not dirs:
        usage(PROG, USAGE)
    return wait(PROG, dirs, mode, or_, timeout)


def wait(prog, dirs, mode, or_, timeout):
    """Wait for DIRS to reach MODE (an s6py.wire.events.WAIT_MODES value) as s6-svwait,
    reporting under PROG; returns 0 or ends the command."""
    from s6py.client import ClientError

    try:
        failures = _wait(dirs, mode, or_, timeout)
    except ClientError as e:
        fatal(prog, e.code, e.message)
    if failures:
        fatal(prog, failures, FAILED)
    return 0


def _wait(dirs, mode, or_, timeout):
    """s6-svwait's restart: every service must have died ('d') first."""
    from s6py.client.listen import listen_and_wait

    return listen_and_wait(dirs, mode, or_, timeout, (False, False, False))
