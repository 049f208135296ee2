"""What the chain-loading commands share: skalibs' option scanning (s6py.diag.subgetopt)
and exec-through-PATH.

Kept free of heavy imports (no getopt/gettext, no signal/enum): a command such as
`s6-setuidgid` or `with-contenv` is a fresh interpreter that does one thing and execs.
"""

import errno
import os

from s6py import carry_pwd, original_environ, path_candidates, restore_python_ignored_signals
from s6py.diag import fatal, subgetopt, usage

__all__ = ["subgetopt", "pathexec"]  # subgetopt: s6py.diag's, re-exported


def pathexec(prog, args, env=None):
    """Exec ARGS (argv list) like skalibs' xpathexec; never returns.

    The program is searched in *our* PATH (not the new environment's, as s6 does).  ENV is
    a bytes dict (None: the environment we were started with; build a modified one from
    `s6py.original_environ()`, never from os.environ, which Python may have
    given an LC_CTYPE of its own).  On failure: `PROG: fatal: unable to exec NAME:
    REASON`, exit 127 if not found, 126 otherwise."""
    if not args:
        usage(prog, prog + " prog...")
    name = args[0]
    if env is None:
        env = original_environ()
    restore_python_ignored_signals()
    bargs = [os.fsencode(a) for a in args]
    candidates = path_candidates(bargs[0], os.environb.get(b"PATH", b"/usr/bin:/bin"))
    last = 0
    denied = False
    for candidate in candidates:
        try:
            os.execve(candidate, bargs, carry_pwd(env, candidate))
        except OSError as e:
            last = e.errno
            if last == errno.EACCES:
                denied = True
            elif last not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                break
    if denied and last in (errno.ENOENT, errno.ENOTDIR):
        last = errno.EACCES  # as execvp: "found but not executable" beats "not found"
    fatal(prog, 127 if last == errno.ENOENT else 126, "unable to exec ", name, ": ", os.strerror(last))
