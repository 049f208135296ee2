"""Event-driven sequences: a stage is a list of named steps run one after another on the loop.

A step is a function taking `done`; it starts its work (maybe a child process, maybe a timer)
and returns at once; whoever finishes the work calls `done()`.  Before a step starts, the
signals that have arrived are dispatched (`may_continue()`), so a stop request made at any
moment is seen at the next step boundary: `cancel()` (stage 3 starting) makes every later
step, and every later `done()`, a no-op.  A step made of several pieces of work (one
script after another) asks `may_continue()` before each piece too.

`exit_code(wstat)` turns a step's child status into the code a shell reports.
"""

import os

__all__ = ["Steps", "exit_code"]


def exit_code(wstat):
    """Shell convention: the exit code, or 128+N when killed by signal N."""
    if os.WIFSIGNALED(wstat):
        return 128 + os.WTERMSIG(wstat)
    if os.WIFEXITED(wstat):
        return os.WEXITSTATUS(wstat)
    return 255


class Steps:
    def __init__(self, loop, steps, on_done, guard):
        self.loop = loop
        self.steps = list(steps)
        self.on_done = on_done
        self.guard = guard          # guard(name, function, *args): run it, one line if it raises
        self.current = None
        self.cancelled = False
        self._token = None

    def start(self):
        self.loop.call_soon(self._next)

    def cancel(self):
        self.cancelled = True
        self._token = None

    def may_continue(self):
        """True unless the sequence is cancelled, once every signal that has arrived has
        been dispatched (a stop request among them cancels it)."""
        if not self.cancelled:
            self.loop.dispatch_signals()
        return not self.cancelled

    def _next(self):
        if not self.may_continue():
            return
        if not self.steps:
            self.current = None
            self.guard("end of sequence", self.on_done)
            return
        name, function = self.steps.pop(0)
        self.current = name
        token = self._token = object()

        def done():
            if self.cancelled or self._token is not token:
                return
            self._token = None
            self.loop.call_soon(self._next)

        if not self.guard(name, function, done):
            done()  # the step blew up: say so (the guard did) and go on with the next one
