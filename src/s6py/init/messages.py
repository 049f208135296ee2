"""What /init says, on stderr, gated by S6_VERBOSITY (0 errors, 1 warnings, 2 info, 3 debug).

Stage lines keep s6-overlay 1/2's bracket style, byte for byte where users grep for them
(`[cont-init.d] 00-foo: exited 0.`, `[services.d] done.`, `[cmd] /bin/sh exited 0`,
`[s6-finish] ...`); our own problems are one line `init: fatal|warning|info: ...`.
Writing never raises: PID 1 must survive a closed or broken stderr.
"""

import os

__all__ = ["Say", "PROG"]

PROG = "init"

ERROR, WARNING, INFO, DEBUG = 0, 1, 2, 3


class Say:
    def __init__(self, verbosity=2, fd=2):
        self.verbosity = verbosity
        self.fd = fd

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
        self.line(level, "[%s] %s" % (bracket, text))

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
