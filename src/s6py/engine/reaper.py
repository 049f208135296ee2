"""Becoming the reaper of our descendants' orphans.

As PID 1 every orphan of the container is re-parented to us already.  Otherwise Linux
lets a process ask for the same duty over its own subtree with
prctl(PR_SET_CHILD_SUBREAPER, 1); the Loop then reaps those orphans like its own children.
ctypes is imported only here, and only when needed (it costs start-up time).
"""

import os

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Ask the kernel to re-parent orphaned descendants to us; True on success.

    A no-op (True) as PID 1; False where prctl is unavailable (not Linux, no libc, or a
    Python without ctypes: Debian's python3-minimal, the usual slim-image Python, has none).
    """
    if os.getpid() == 1:
        return True
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError, ImportError):
        return False
