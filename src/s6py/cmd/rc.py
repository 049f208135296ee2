"""s6-rc [ options ] help|list|listall|diff|start|stop|change [ servicenames... ]

The live state of an s6-rc image is held by PID 1 (init.rc), so this command is a
client: it checks its command line, sends it to PID 1 through LIVE/control (rc.control),
and prints what PID 1 answers, exiting with its code.  Messages, output and exit codes
are s6-rc 0.7's (docs/s6-rc.md).
"""

import os

from s6py.diag import fatal, usage

PROG = "s6-rc"


def main(argv):
    from s6py.rc.command import USAGE, UsageError, parse

    try:
        request = parse(argv[1:])
    except UsageError as e:
        if str(e):
            fatal(PROG, 100, str(e))
        usage(PROG, USAGE)
    from s6py.rc import control

    fifo = os.path.join(request.live, control.CONTROL)
    if not os.path.exists(fifo):
        fatal(PROG, 4, "unable to find a live state in ", request.live,
              ": this container's PID 1 runs no s6-rc services")
    reply = _make_reply(os.path.join(request.live, control.REPLIES))
    try:
        return _converse(fifo, reply, control.encode_request(reply, argv[1:]))
    finally:
        try:
            os.unlink(reply)
        except OSError:
            pass


def _make_reply(directory):
    name = os.path.join(directory, "%d-%s" % (os.getpid(), os.urandom(6).hex()))
    try:
        os.mkfifo(name, 0o600)
    except OSError as e:
        fatal(PROG, 111, "unable to mkfifo ", name, ": ", e.strerror)
    return name


def _converse(fifo, reply, request):
    """Hold REPLY open read-write (so PID 1 can always open it, and a read waits for its
    lines instead of seeing end-of-file), send REQUEST, relay the answer."""
    try:
        rfd = os.open(reply, os.O_RDWR)
    except OSError as e:
        fatal(PROG, 111, "unable to open ", reply, ": ", e.strerror)
    try:
        wfd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(wfd, request)
        os.close(wfd)
    except OSError as e:
        fatal(PROG, 111, "unable to write to ", fifo, ": ", e.strerror)
    return _relay(rfd)


def _relay(rfd):
    from s6py.rc.control import decode_line

    pending = b""
    while True:
        data = os.read(rfd, 65536)
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        for line in lines:
            stream, text = decode_line(line)
            if stream == "x":
                return int(text)
            os.write(1 if stream == "1" else 2, (text + "\n").encode("utf-8", "surrogateescape"))
