"""`hosted_s6log.py ARGS...`: our s6-log run the way the supervisor runs a recognised
logger in a log host (s6py.log.hosting): a host forked from a Python process that has
the log modules loaded, this logger handed to it over the control socket with fds 0, 1
and 2, never exec'd.  Signals sent to this process (TERM, HUP, ALRM, INT) are passed on
as the supervisor passes them (the host acts them out on the logger); the exit code is
the logger's (128+N if it ended by signal N).  Used by tests/test_s6log_diff.py to hold
the hosted path to Debian's s6-log too."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

import _signal  # noqa: E402

from s6py.engine.loop import Loop  # noqa: E402
from s6py.log import hosting  # noqa: E402
from s6py.log.runscript import Plan  # noqa: E402


def main():
    loop = Loop(prog="hosted_s6log")
    ended = []
    plan = Plan([], "s6-log", ["s6-log"] + sys.argv[1:])
    logger = hosting.start(loop, plan, os.getcwd(), 0, 1, {}, ended.append)
    if logger is None:
        sys.exit("hosted_s6log: the logger could not be hosted")
    for signum in (_signal.SIGTERM, _signal.SIGHUP, _signal.SIGALRM, _signal.SIGINT):
        loop.on_signal(signum, logger.signal)
    while not ended:
        loop.run_once(None)
    wstat = ended[0]
    os._exit(os.WEXITSTATUS(wstat) if os.WIFEXITED(wstat) else 128 + os.WTERMSIG(wstat))


main()
