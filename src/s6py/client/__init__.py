"""Logic shared by the s6 client commands (s6-svc, s6-svstat, s6-svwait, s6-svlisten...).

Library code: it reports a failure by raising ClientError, and the command entry points
of s6py.cmd print it (`PROG: fatal: MESSAGE`) and exit with its code, as the s6 tool would.
"""


class ClientError(Exception):
    """A client operation failed the way an s6 tool dies: CODE is the tool's exit code,
    MESSAGE the text of its fatal line, without the `PROG: fatal: ` prefix (the program
    name is the caller's: `s6-svc -wu` reports as s6-svlisten1)."""

    def __init__(self, code, message):
        Exception.__init__(self, code, message)
        self.code = code
        self.message = message
