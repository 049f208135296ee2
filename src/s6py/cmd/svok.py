"""s6-svok servicedir: exit 0 if an s6-supervise runs on SERVICEDIR, 1 if not."""

from s6py.diag import fatal, strerror, usage

PROG = "s6-svok"


def main(argv):
    if len(argv) < 2:
        usage(PROG, "s6-svok servicedir")
    from s6py.wire.control import supervised

    try:
        return 0 if supervised(argv[1]) else 1
    except OSError as e:
        fatal(PROG, 111, "unable to check ", argv[1], ": ", strerror(e))
