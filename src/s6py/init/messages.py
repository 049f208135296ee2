"""What /init says, on stderr, gated by S6_VERBOSITY (0 errors, 1 warnings, 2 info, 3 debug).

Stage lines keep s6-overlay 1/2's bracket style, byte for byte where users grep for them
(`[cont-init.d] 00-foo: exited 0.`, `[services.d] done.`, `[cmd] /bin/sh exited 0`,
`[s6-finish] ...`); our own problems are one line `init: fatal|warning|info: ...`.
Writing never raises: PID 1 must survive a closed or broken stderr.

An s6-rc image gets s6-overlay 3's voice instead (`v3 = True`): no bracket lines but the
errors, and at the legacy steps v3's own lines (`v3_line`): `cont-init: info: running
/etc/cont-init.d/F`, `services-up: info: copying legacy longrun NAME`...
"""

import os

__all__ = ["Say", "PROG"]

PROG = "init"

ERROR, WARNING, INFO, DEBUG = 0, 1, 2, 3


class Say:
    def __init__(self, verbosity=2, fd=2):
        self.verbosity = verbosity
        self.fd = fd
        self.v3 = False

    def write(self, text):
        data = text.encode("utf-8", "surrogateescape")
        while data:
            try:
                n = os.write(self.fd, data)
            except InterruptedError:
                continue
            except OSError:
                return
            data = data[n:]

    def line(self, level, text):
        if level <= self.verbosity:
            self.write(text + "\n")

    # --- bracket lines: "[cont-init.d] 00-foo: exited 0."
    def stage(self, bracket, text, level=INFO):
        if self.v3 and level > ERROR:
            return
        self.line(level, "[%s] %s" % (bracket, text))

    def v3_line(self, prog, kind, text):
        """PROG: KIND: TEXT (kind info or warning) in the v3 voice only."""
        if self.v3:
            self.line(INFO if kind == "info" else WARNING, "%s: %s: %s" % (prog, kind, text))

    # --- our own lines: "init: warning: ..."
    def fatal(self, text):
        self.line(ERROR, "%s: fatal: %s" % (PROG, text))

    def error(self, text):
        self.line(ERROR, "%s: error: %s" % (PROG, text))

    def warn(self, text):
        self.line(WARNING, "%s: warning: %s" % (PROG, text))

    def info(self, text):
        self.line(INFO, "%s: info: %s" % (PROG, text))

    def debug(self, text):
        self.line(DEBUG, "%s: debug: %s" % (PROG, text))
