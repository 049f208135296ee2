"""`forked_s6log.py ARGS...`: our s6-log run the way the supervisor runs a recognised
logger: forked (spawn.fork_call) from a Python process that has the log modules loaded,
never exec'd.  Signals sent to this process (TERM, HUP, ALRM, INT) are passed on to the
child; the exit code is the child's (128+N if killed by signal N).  Used by
tests/test_s6log_diff.py to hold the forked path to Debian's s6-log too."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

import _signal  # noqa: E402

from s6py.cmd import forkedlog  # noqa: E402
from s6py.engine.spawn import fork_call  # noqa: E402
from s6py.log.runscript import Plan  # noqa: E402


def main():
    plan = Plan([], "s6-log", ["s6-log"] + sys.argv[1:])
    pid = fork_call(forkedlog.runner(plan), label="s6-log", session=None)

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except OSError:
            pass

    for signum in (_signal.SIGTERM, _signal.SIGHUP, _signal.SIGALRM, _signal.SIGINT):
        _signal.signal(signum, forward)
    _, wstat = os.waitpid(pid, 0)
    os._exit(os.WEXITSTATUS(wstat) if os.WIFEXITED(wstat) else 128 + os.WTERMSIG(wstat))


main()
