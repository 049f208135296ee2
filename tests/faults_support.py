"""Shared pieces of the fault-injection suites (tests/test_faults_*.py).

A *case* is one bad input planted in a Box; a *boot* is one run of /init as PID 1 of its
private namespace (test_init_support.Box).  Independent bad inputs share one boot, next to a
set of GOOD things that must all still run:

    /etc/cont-init.d/50-good-init    writes data/good-init
    /etc/services.d/good-svc         writes data/good-svc, then sleeps
    CMD                              waits (bounded) for data/good-svc, writes data/good-cmd

`Tally` counts cases tried / survived / with a clear message, for the module's summary line.
"""

import os
import re

GOOD_INIT = "50-good-init"
GOOD_SVC = "good-svc"

# the CMD: waits at most ~8 s for the good service's trace, then leaves its own
GOOD_CMD = ["sh", "-c",
            'i=0; while ! test -e "$S6PY_ROOT/data/good-svc" && test $i -lt 800; do sleep 0.01; i=$((i+1)); done; '
            'touch "$S6PY_ROOT/data/good-cmd"; echo good-cmd-ran']

BAD_WORDS = ("Traceback", "internal error")


def plant_good(box, init_name=GOOD_INIT, svc_name=GOOD_SVC):
    box.script("etc/cont-init.d/" + init_name, 'touch "$S6PY_ROOT/data/good-init"\n')
    box.service(svc_name, 'touch "$S6PY_ROOT/data/good-svc"; exec sleep 1000\n')


def good_ran(box):
    """Which of the good things did not run (empty list: all ran)."""
    return [name for name in ("good-init", "good-svc", "good-cmd")
            if not os.path.exists(box.path("data/" + name))]


# the usual progress lines every step prints, bad input or not: not messages about it
STATUS_LINE = re.compile(r"^\[(fix-attrs\.d|cont-init\.d|cont-finish\.d)\] .*: "
                         r"(applying\.\.\.|executing\.\.\.|exited -?\d+\.) ?$"
                         r"|^\[cmd\] .* exited -?\d+$", re.S)


def lines_with(err, *tokens):
    """stderr lines (progress lines left out) that mention any of TOKENS."""
    return [line for line in err.split("\n") if any(t in line for t in tokens)
            and not STATUS_LINE.match(line)]


def short(lines, n=3, width=300):
    """LINES for an assertion message: the first N, each cut to WIDTH characters."""
    return [line if len(line) <= width else line[:width] + "...(%d chars)" % len(line) for line in lines[:n]]


def bad_lines(err):
    return lines_with(err, *BAD_WORDS)


class Tally:
    """cases tried / survived (PID 1 lived, everything good ran) / clear (<= 1 line, no traceback)."""

    def __init__(self, title):
        self.title = title
        self.tried = 0
        self.survived = 0
        self.clear = 0
        self.failures = []

    def case(self, name, survived, clear, detail=""):
        self.tried += 1
        self.survived += bool(survived)
        self.clear += bool(clear)
        if not (survived and clear):
            self.failures.append("%s: survived=%s clear=%s %s" % (name, survived, clear, detail))

    def summary(self):
        return "%s: cases tried %d / survived %d / clear messages %d" % (
            self.title, self.tried, self.survived, self.clear)

    def __str__(self):
        text = self.summary()
        if self.failures:
            text += "\n  " + "\n  ".join(self.failures)
        return text


def boot(box, cmd=None, env=None, timeout=25):
    """Run /init CMD (default GOOD_CMD); Result, or an AssertionError on a hang."""
    return box.run(GOOD_CMD if cmd is None else cmd, env=env, timeout=timeout)
