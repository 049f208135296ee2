"""halt [ -s scandir ]: stop the container (what /run/s6/basedir/bin/halt runs).

Asks PID 1 through the scandir's control FIFO (the one `s6-svscanctl -t` writes to), so only
the container's user (or root) can do it.  The container's exit code is whatever
/run/s6-linux-init-container-results/exitcode holds when stage 3 ends: write it first.
"""

import errno
import os
import sys

from s6py.diag import subgetopt

PROG = "halt"


def main(argv):
    opts, args = subgetopt(PROG, PROG + " [ -s scandir ]", argv, "s:")
    scandir = None
    for opt, value in opts:
        if opt == "s":
            scandir = value
    if scandir is None:
        from s6py.init.paths import Paths
        scandir = Paths.from_environ().scandir
    control = os.path.join(scandir, ".s6-svscan", "control")
    try:
        fd = os.open(control, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENXIO:
            sys.stderr.write("%s: fatal: unable to talk to the init: it is not running\n" % PROG)
        else:
            sys.stderr.write("%s: fatal: unable to talk to the init via %s: %s\n" % (PROG, control, e.strerror))
        return 111
    try:
        os.write(fd, b"t")
    except OSError as e:
        sys.stderr.write("%s: fatal: unable to write to %s: %s\n" % (PROG, control, e.strerror))
        return 111
    finally:
        os.close(fd)
    return 0
