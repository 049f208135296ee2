"""s6-svscan [ -c max ] [ -t rescan ] [ -d notif ] [ -X consoleholder ] [ scandir ]

Supervises every service of SCANDIR from this one process (see docs/supervision.md).
Accepted for compatibility with s6 2.11 but without effect: -c (no per-service processes,
so no table to size) and -X (no s6-svscan-log special case).
"""

import _signal as signal  # the `signal` module imports `enum`: milliseconds of start-up
import os
import sys

from s6py import scan_options

PROG = "s6-svscan"
USAGE = "s6-svscan [ -c maxservices ] [ -t timeout ] [ -d notif ] [ -X consoleholder ] [ dir ]"

#: signals whose reaction an executable .s6-svscan/SIGxxx replaces (as s6 2.11)
CONFIGURABLE = ("SIGHUP", "SIGINT", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH")


def _die(code, message):
    sys.stderr.write("%s: fatal: %s\n" % (PROG, message))
    return code


def _bad_option():
    raise ValueError("bad option")


def parse(argv):
    """Return (rescan_ms, notif_fd, scandir); raise ValueError on bad usage."""
    rescan, notif = 0, None
    opts, i = scan_options(argv, "c:C:L:t:d:X:", _bad_option)
    for letter, value in opts:
        if not value.isdigit():
            raise ValueError(value)
        if letter == "t":
            rescan = int(value)
        elif letter == "d":
            notif = int(value)
            if notif < 3:
                raise ValueError(value)
    args = argv[i:]
    if len(args) > 1:
        raise ValueError(args)
    return rescan, notif, (args[0] if args else ".")


def exec_finish(name):
    """Exec .s6-svscan/NAME as s6 does when leaving; return an exit code if that fails."""
    path = os.path.join(".s6-svscan", name)
    try:
        os.execv(path, [path])
    except FileNotFoundError:
        return 0 if name == "finish" else 111
    except OSError as e:
        sys.stderr.write("%s: warning: unable to exec %s: %s\n" % (PROG, path, e.strerror))
        if name == "finish":
            return exec_finish("crash")
        return 111


def main(argv):
    try:
        rescan, notif, scandir = parse(argv)
    except ValueError:
        sys.stderr.write("%s: usage: %s\n" % (PROG, USAGE))
        return 100
    try:
        os.chdir(scandir)
    except OSError as e:
        return _die(111, "unable to chdir to %s: %s" % (scandir, e.strerror))

    from s6py.engine.loop import Loop
    from s6py.engine.reaper import become_subreaper
    from s6py.engine.scanner import LockedError, Scanner
    from s6py.engine.spawn import sanitize_inherited_fds

    sanitize_inherited_fds(keep=(0, 1, 2) if notif is None else (0, 1, 2, notif))
    become_subreaper()
    loop = Loop()
    # done (after -t/-q) and aborted (-b, SIGABRT) end the same way: .s6-svscan/finish
    from s6py.cmd import forkhook

    forkhook.install()
    scanner = Scanner(loop, ".", rescan_ms=rescan, on_finished=loop.stop, on_abort=loop.stop)
    try:
        scanner.open_control()
    except LockedError:
        return _die(100, "another instance of s6-svscan is already running")
    except OSError as e:
        return _die(111, "unable to set up %s/.s6-svscan: %s" % (scandir, e.strerror))
    _install_signals(loop, scanner, loop.stop)
    loop.call_soon(scanner.scan)  # inside the loop's guard: a bad tree cannot kill us
    if notif is not None:
        try:
            os.write(notif, b"\n")
            os.close(notif)
        except OSError:
            pass
    loop.run()
    scanner.close_control()
    sys.stderr.flush()
    return exec_finish("finish")


def _install_signals(loop, scanner, abort):
    defaults = {
        "SIGHUP": lambda: scanner.command("h"),
        "SIGINT": scanner.terminate,
        "SIGTERM": scanner.terminate,
        "SIGQUIT": lambda: scanner.terminate(kill_loggers=True),
    }
    loop.on_signal(signal.SIGALRM, lambda signum: scanner.scan())
    loop.on_signal(signal.SIGABRT, lambda signum: abort())
    for name in CONFIGURABLE:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        loop.on_signal(signum, _configurable(loop, name, defaults.get(name)))


def _configurable(loop, name, default):
    """Run .s6-svscan/SIGxxx if it is executable, else the default reaction (if any)."""
    def handler(signum):
        path = os.path.join(".s6-svscan", name)
        if os.access(path, os.X_OK) and os.path.isfile(path):
            from s6py.engine.spawn import SpawnError, spawn

            try:
                spawn([path], session=None)
                return
            except (SpawnError, OSError) as e:
                sys.stderr.write("%s: warning: unable to spawn %s: %s\n" % (PROG, path, e.strerror))
        if default is not None:
            default()
    return handler
