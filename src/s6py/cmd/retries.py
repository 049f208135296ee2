"""with-retries [ -n tries ] [ -t timeout ] prog...: run PROG until it succeeds, at most
TRIES times (default 3), each run limited to TIMEOUT milliseconds (default 500, 0 = no
limit: then it gets SIGTERM, and SIGKILL if it is still there after as long again).
Exit 0 at the first success, 1 when every try failed; the environment is passed unchanged.
"""

import os
import time

from s6py.cmd._exec import subgetopt
from s6py.diag import Exit, fatal, strerror, usage

PROG = "with-retries"
USAGE = "with-retries [ -n tries ] [ -t timeout ] prog..."


def _number(text):
    if text and text.isascii() and text.isdigit():
        return int(text)
    usage(PROG, USAGE)


def _run_once(args, timeout_ms):
    """Exit status of one run of ARGS (a wait status), killing it after TIMEOUT_MS."""
    pid = os.fork()
    if pid == 0:
        try:
            from s6py.cmd._exec import pathexec

            pathexec(PROG, args)
        except Exit as e:
            os._exit(e.code)
        os._exit(111)
    if timeout_ms == 0:
        return os.waitpid(pid, 0)[1]
    import select
    import signal

    deadline = time.monotonic() + timeout_ms / 1000.0
    killed_at = None
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            now = time.monotonic()
            if now >= deadline:
                if killed_at is None:
                    os.kill(pid, signal.SIGTERM)
                    killed_at = now
                    deadline = now + timeout_ms / 1000.0
                else:
                    os.kill(pid, signal.SIGKILL)
                    return os.waitpid(pid, 0)[1]
            wait = max(0.0, deadline - now)
            if pidfd is not None:
                select.select([pidfd], [], [], wait)
            else:  # no pidfd (old kernel): poll, at most every 10 ms
                time.sleep(min(wait, 0.01))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def main(argv):
    opts, args = subgetopt(PROG, USAGE, argv, "n:t:")
    tries, timeout = 3, 500
    for letter, arg in opts:
        if letter == "n":
            tries = _number(arg)
        else:
            timeout = _number(arg)
    if not args:
        usage(PROG, USAGE)
    for _ in range(tries):
        try:
            status = _run_once(args, timeout)
        except OSError as e:
            fatal(PROG, 111, "unable to run ", args[0], ": ", strerror(e))
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return 0
    return 1
