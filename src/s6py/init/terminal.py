"""The controlling terminal: who owns the foreground, and keeping PID 1 out of job control.

When the container has a terminal (docker run -it), the CMD must be the terminal's
foreground process group: Ctrl-C then sends SIGINT to the CMD's group, not to PID 1, and an
interactive shell can read its input.  PID 1 itself ignores SIGTTOU, SIGTTIN and SIGTSTP:
it may call tcsetpgrp() from the background (which raises SIGTTOU), and job-control stops
must never freeze the init.  Children get the default dispositions back before exec.
"""

import os
import signal

__all__ = ["JOB_CONTROL_SIGNALS", "ignore_job_control", "stdin_tty", "give_terminal", "take_terminal"]

JOB_CONTROL_SIGNALS = (signal.SIGTTOU, signal.SIGTTIN, signal.SIGTSTP)


def ignore_job_control():
    for signum in JOB_CONTROL_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def stdin_tty():
    """0 if our stdin is a terminal we can hand over, else None."""
    try:
        if os.isatty(0):
            os.tcgetpgrp(0)  # fails (ENOTTY) when it is not our controlling terminal
            return 0
    except OSError:
        pass
    return None


def give_terminal(fd, pgid):
    """Make PGID the foreground group of the terminal at FD; False if impossible."""
    try:
        os.tcsetpgrp(fd, pgid)
        return True
    except OSError:
        return False


def take_terminal(fd):
    """Take the foreground back (after the CMD ended), so stage 3's lines reach the user."""
    if fd is None:
        return
    try:
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        pass
