"""How the `s6-rc` command talks to PID 1, which holds the live state of the services.

The live directory (/run/s6-rc) holds `control`, a FIFO (0600, so only the user PID 1
runs as may change the state) that PID 1 keeps open read-write.  A request is one
write of at most PIPE_BUF bytes (so requests of concurrent clients never interleave):

    REPLY \\0 ARG \\0 ARG ... \\n

REPLY is a FIFO the client made, and reads; ARGs are the client's command line after
`s6-rc` (options included).  PID 1 answers on REPLY with lines `1 TEXT` (for the
client's stdout) and `2 TEXT` (stderr), and last `x CODE`, the exit code.  A client that
has gone away costs PID 1 nothing: the reply FIFO cannot be opened (ENXIO) and the
request is dropped.
"""

import os

__all__ = ["CONTROL", "REPLIES", "PIPE_BUF", "encode_request", "decode_request",
           "encode_line", "decode_line"]

CONTROL = "control"
REPLIES = "replies"
PIPE_BUF = 4096


def encode_request(reply, args):
    """The bytes of one request; raises ValueError if it would not be one atomic write."""
    fields = [os.fsencode(reply)] + [os.fsencode(a) for a in args]
    if any(b"\0" in f or b"\n" in f for f in fields):
        raise ValueError("an argument holds a NUL or a newline")
    data = b"\0".join(fields) + b"\n"
    if len(data) > PIPE_BUF:
        raise ValueError("request too long")
    return data


def decode_request(line):
    """(reply path, [args]) of one request line (without its newline)."""
    fields = [os.fsdecode(f) for f in line.split(b"\0")]
    return fields[0], fields[1:]


def encode_line(stream, text):
    """STREAM is "1", "2" or "x" (the exit code, TEXT its number)."""
    return ("%s %s\n" % (stream, text)).encode("utf-8", "surrogateescape")


def decode_line(line):
    """(stream, text) of one reply line (without its newline)."""
    text = line.decode("utf-8", "surrogateescape")
    return text[:1], text[2:]
