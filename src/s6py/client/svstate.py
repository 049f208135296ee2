"""A service's state as s6-svstat shows it, computed from a status record.

Kept apart from the command so other tools (a `status` verb, tests) print the same words.
"""

import os

from s6py.wire import tai64n


def _seconds(now, stamp):
    """Whole seconds from STAMP to NOW, as skalibs' tain_sub (wraps like a uint64)."""
    ns = (now[0] - stamp[0]) * 1_000_000_000 + (now[1] - stamp[1])
    return (ns // 1_000_000_000) % (1 << 64)


class State:
    def __init__(self, st, normallyup, now=None):
        self.st = st
        self.normallyup = normallyup
        self.now = tai64n.now() if now is None else now
        # a status stamped in the future (clock went back) reads as "just now"
        self.stamp = min(st.stamp, self.now)
        self.isup = st.is_up

    def _signum(self):
        w = self.st.wstat
        return -1 if self.isup or not os.WIFSIGNALED(w) else os.WTERMSIG(w)

    def _exitcode(self):
        w = self.st.wstat
        return -1 if self.isup or not os.WIFEXITED(w) else os.WEXITSTATUS(w)

    def field(self, name):
        st = self.st
        if name == "up":
            return _bool(self.isup)
        if name == "wantedup":
            return _bool(st.wantup)
        if name == "normallyup":
            return _bool(self.normallyup)
        if name == "ready":
            return _bool(bool(st.pid) and st.ready)
        if name == "paused":
            return _bool(st.paused)
        if name == "pid":
            return str(st.pid) if self.isup else "-1"
        if name == "exitcode":
            return str(self._exitcode())
        if name == "signum":
            return str(self._signum())
        if name == "signal":
            sig = self._signum()
            return "NA" if sig == -1 else _signame(sig)
        if name == "updownsince":
            return tai64n.label(self.stamp)
        if name == "readysince":
            return tai64n.label(st.readystamp)
        if name == "updownfor":
            return str(_seconds(self.now, self.stamp))
        if name == "readyfor":
            return str(_seconds(self.now, st.readystamp))
        raise KeyError(name)

    def human(self, numeric=False):
        st = self.st
        w = st.wstat
        if self.isup:
            parts = ["up (pid %d) " % st.pid]
        elif os.WIFSIGNALED(w):
            sig = os.WTERMSIG(w)
            parts = ["down (signal %s) " % (sig if numeric else _signame(sig))]
        else:
            parts = ["down (exitcode %d) " % os.WEXITSTATUS(w)]
        parts.append("%d seconds" % _seconds(self.now, self.stamp))
        if self.isup and not self.normallyup:
            parts.append(", normally down")
        if not self.isup and self.normallyup:
            parts.append(", normally up")
        if self.isup and st.paused:
            parts.append(", paused")
        if not self.isup and st.wantup:
            parts.append(", want up")
        if self.isup and not st.wantup:
            parts.append(", want down")
        if st.ready:
            parts.append(", ready %d seconds" % _seconds(self.now, st.readystamp))
        return "".join(parts)


def _signame(number):
    # imported on demand: the signal module pulls in enum, a few ms of start-up
    from s6py.wire import signames

    return signames.name(number)


def _bool(b):
    return "true" if b else "false"
