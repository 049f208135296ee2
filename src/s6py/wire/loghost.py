"""The messages between a supervisor and a log host (s6py.log.host), over one AF_UNIX
SOCK_SEQPACKET socket pair: one message per packet, file descriptors in SCM_RIGHTS.

Supervisor -> host (trusted: the host was forked by the supervisor; marshal):
    ("start", ID, SETTINGS)   fds: the logger's 0, its cwd (O_PATH), then as SETTINGS
                              say: "stdout"/"stderr" ("sent", INDEX) or ("inherited", N),
                              the host's own N; "notif_at" INDEX of its -d fd, or None
    ("signal", ID, SIGNO, GROUP)
Host -> supervisor (the host runs unprivileged: a fixed binary layout, never unmarshalled):
    EXIT  ID WSTAT            the logger ID ended with wait status WSTAT

Only the standard library's built-in modules (_socket, marshal, _struct): python3-minimal
has no socket.py, and the bundled interpreter builds these in.
"""

import _socket
import marshal
import os
import struct

__all__ = ["pair", "send", "receive", "send_exit", "parse_exit", "MAX_FDS", "MAX_MESSAGE"]

#: the fds a start message carries at most
MAX_FDS = 5
#: the largest message a host accepts (a logger's environment is most of it)
MAX_MESSAGE = 1 << 20
_EXIT = struct.Struct("=4sIi")
_EXIT_TAG = b"EXIT"


def pair():
    """(supervisor's end, host's end), both close-on-exec, message-framed."""
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    for end in (ours, theirs):
        end.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, MAX_MESSAGE)
    return ours, theirs


def send(sock, message, fds=()):
    """Send MESSAGE (a marshal-able tuple) with FDS; OSError (BlockingIOError when the
    host's queue is full) if it could not."""
    data = marshal.dumps(message)
    if fds:
        sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                               struct.pack("%di" % len(fds), *fds))])
    else:
        sock.send(data)


def receive(sock):
    """The next supervisor message and its fds (made close-on-exec), or (None, []) at the
    end of the stream."""
    data, ancillary, _flags, _ = sock.recvmsg(MAX_MESSAGE, _socket.CMSG_SPACE(4 * MAX_FDS))
    fds = []
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            count = len(payload) // 4
            fds.extend(struct.unpack("%di" % count, payload[:4 * count]))
    for fd in fds:
        os.set_inheritable(fd, False)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return marshal.loads(data), fds


def send_exit(sock, ident, wstat):
    sock.send(_EXIT.pack(_EXIT_TAG, ident, wstat))


def parse_exit(data):
    """(ID, WSTAT) of an exit message; None for anything else (a host is not trusted)."""
    if len(data) != _EXIT.size:
        return None
    tag, ident, wstat = _EXIT.unpack(data)
    if tag != _EXIT_TAG:
        return None
    return ident, wstat
