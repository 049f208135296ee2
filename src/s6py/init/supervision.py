"""The engine's scanner, with the container's meaning for "terminate".

`s6-svscanctl -t /var/run/s6/services` (v1/v2 finish scripts), `-i`, `-q`, `-b` and our
`halt` (which writes `t` to the same control FIFO) stop the *container*: they start stage 3,
which brings the services down itself.  Every other letter is the scanner's.
"""

from s6py.engine.scanner import Scanner

__all__ = ["InitScanner"]


class InitScanner(Scanner):
    def __init__(self, loop, scandir, init):
        super().__init__(loop, scandir, rescan_ms=0)
        self.init = init

    def command(self, letter):
        if letter in "tiqb" and not self.terminating:
            self.init.guard("halt", self.init.request_stop, "asked to (s6-svscanctl -%s / halt)" % letter)
            return
        if letter in "tiqb":
            return
        super().command(letter)
