"""s6-supervise SERVICEDIR: supervise one service, on the same engine as s6-svscan."""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import os
import sys

USAGE = "s6-supervise dir"


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("s6-supervise: usage: %s\n" % USAGE)
        return 100
    name = argv[1]
    prog = "s6-supervise %s" % name
    if not os.path.isdir(name):
        sys.stderr.write("%s: fatal: unable to chdir to %s: No such file or directory\n" % (prog, name))
        return 111

    from s6py.engine.loop import Loop
    from s6py.engine.service import Event, Service
    from s6py.engine.spawn import sanitize_inherited_fds

    sanitize_inherited_fds()
    loop = Loop()
    service = Service(loop, name, name, stdout=1, on_exit=lambda s: loop.stop())
    try:
        service.start()
    except BlockingIOError:
        sys.stderr.write("%s: fatal: another instance of s6-supervise is already running\n" % prog)
        return 100
    except OSError as e:
        sys.stderr.write("%s: fatal: unable to set up supervise/: %s\n" % (prog, e.strerror))
        return 111
    for signum, event in ((signal.SIGTERM, Event.TERM), (signal.SIGHUP, Event.HUP),
                          (signal.SIGQUIT, Event.QUIT), (signal.SIGINT, Event.INT)):
        loop.on_signal(signum, lambda _sig, event=event: service.fire(event))
    loop.run()
    return 0
