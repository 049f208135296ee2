"""File-descriptor commands: fdblock fdclose fdmove fdreserve fdswap redirfd piperw,
plus pipeline and heredoc (which plumb a child's fds)."""

import os

from . import core
from .core import die, dieusage, getopt, operands, settings, whole_block


def _fd(s, usage):
    v = core.uint0(s)
    if v is None:
        dieusage(usage)
    return v


def _leading_fds(argv, usage, count):
    """The COUNT numbers after argv[0] (fds, or fdreserve's count), which a command must
    follow; else dieusage(USAGE)."""
    if len(argv) < count + 2:
        dieusage(usage)
    return [_fd(word, usage) for word in argv[1:count + 1]]


def _move_fd(src, dst):
    """Make the open file SRC fd DST, inheritable (closing SRC when it is another fd)."""
    if src != dst:
        os.dup2(src, dst, inheritable=True)
        os.close(src)
    else:
        os.set_inheritable(dst, True)


def fdclose(argv):
    core.PROG = "fdclose"
    fd, = _leading_fds(argv, "fdclose fd prog...", 1)
    try:
        os.close(fd)
    except OSError:
        pass
    return argv[2:]


def fdblock(argv):
    core.PROG = "fdblock"
    usage = "fdblock [ -n ] fd prog..."
    opts, args = operands(argv, "n", usage, 2)
    fd = _fd(args[0], usage)
    try:
        os.set_blocking(fd, not opts)
    except OSError as e:
        core.diesys(111, "change blocking mode of fd " + args[0], e)
    return args[1:]


def fdmove(argv):
    core.PROG = "fdmove"
    usage = "fdmove [ -c ] to from prog..."
    opts, args = operands(argv, "c", usage, 3)
    to, frm = _fd(args[0], usage), _fd(args[1], usage)
    try:
        if to != frm:
            os.dup2(frm, to, inheritable=True)
            if not opts:
                os.close(frm)
        else:
            os.set_inheritable(to, True)
    except OSError as e:
        core.diesys(111, "move fd %s to fd %s" % (args[1], args[0]), e)
    return args[2:]


def fdswap(argv):
    core.PROG = "fdswap"
    a, b = _leading_fds(argv, "fdswap fd1 fd2 prog...", 2)
    try:
        if a != b:
            t = os.dup(a)
            os.dup2(b, a, inheritable=True)
            os.dup2(t, b, inheritable=True)
            os.close(t)
    except OSError as e:
        core.diesys(111, "swap fds %s and %s" % (argv[1], argv[2]), e)
    return argv[3:]


def fdreserve(argv):
    core.PROG = "fdreserve"
    n, = _leading_fds(argv, "fdreserve n prog...", 1)
    opened = []
    try:
        for _ in range(n):
            opened.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as e:
        core.diesys(111, "reserve fds", e)
    for k, fd in enumerate(opened):
        os.environ["FD%d" % k] = str(fd)
    for fd in opened:
        os.close(fd)
    return argv[2:]


def redirfd(argv):
    core.PROG = "redirfd"
    usage = "redirfd -[ r | w | u | a | x ] [ -n ] [ -b ] fd file prog..."
    opts, i = getopt(argv, "rwuaxnb", usage)  # 2.9.3 has no -c (later versions do)
    table = {"r": {"flags": os.O_RDONLY}, "w": {"flags": os.O_WRONLY | os.O_CREAT | os.O_TRUNC},
             "u": {"flags": os.O_RDWR}, "a": {"flags": os.O_WRONLY | os.O_CREAT | os.O_APPEND},
             "x": {"flags": os.O_WRONLY | os.O_CREAT | os.O_EXCL}, "n": {"nonblock": True},
             "b": {"change": True}}
    flags, nonblock, change = settings(opts, table, flags=-1, nonblock=False, change=False)
    args = argv[i:]
    if len(args) < 3 or flags < 0:
        dieusage(usage)
    fd = _fd(args[0], usage)
    path = args[1]
    f = flags | (os.O_NONBLOCK if nonblock else 0)
    try:
        new = os.open(path, f, 0o666)
    except OSError as e:
        if e.errno == 6 and (flags & 3) == os.O_WRONLY and nonblock:
            # fifo without a reader: open read-write then reopen, like skalibs
            try:
                tmp = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                new = os.open(path, f, 0o666)
                os.close(tmp)
            except OSError as e2:
                core.diesys(111, "open %s" % path, e2)
        else:
            core.diesys(111, "open %s" % path, e)
    if change:
        os.set_blocking(new, nonblock)
    _move_fd(new, fd)
    return args[2:]


def piperw(argv):
    core.PROG = "piperw"
    fr, fw = _leading_fds(argv, "piperw fdr fdw prog...", 2)
    try:
        r, w = os.pipe()
        if r == fw and w == fr:
            t = os.dup(r)
            os.dup2(w, fw)
            os.close(w)
            r = t
        if w == fr:
            t = os.dup(w)
            os.close(w)
            w = t
        if r != fr:
            os.dup2(r, fr)
            os.close(r)
        else:
            os.set_inheritable(r, True)
        if w != fw:
            os.dup2(w, fw)
            os.close(w)
        else:
            os.set_inheritable(w, True)
    except OSError as e:
        core.diesys(111, "create pipe", e)
    return argv[3:]


def pipeline(argv):
    core.PROG = "pipeline"
    usage = "pipeline [ -d ] [ -r | -w ] { command... } command..."
    opts, i = getopt(argv, "drw", usage)
    table = {"d": {"df": True}, "r": {"w": False}, "w": {"w": True}}
    df, w = settings(opts, table, df=False, w=False)
    words, end = whole_block(argv, i)
    rest = argv[end + 1:]
    if not rest:
        die(100, "empty remainder")
    p = os.pipe()
    mine, theirs = (p[0], p[1]) if not w else (p[1], p[0])
    childfd = 0 if w else 1

    def setup():
        os.close(mine)
        os.dup2(theirs, childfd, inheritable=True)
        if theirs != childfd:
            os.close(theirs)
    if df:
        from .flow import _doublefork
        pid = _doublefork(words, setup)
    else:
        try:
            pid = core.spawn(words, setup)
        except OSError as e:
            core.diesys(111, "spawn " + words[0], e)
    os.close(theirs)
    myfd = 1 if w else 0
    os.dup2(mine, myfd, inheritable=True)
    if mine != myfd:
        os.close(mine)
    os.environ["!"] = str(pid)
    return rest


def heredoc(argv):
    core.PROG = "heredoc"
    usage = "heredoc [ -d ] fd string command..."
    opts, args = operands(argv, "d", usage, 3)
    fd = _fd(args[0], usage)
    data = os.fsencode(args[1])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if opts and os.fork():
                os._exit(0)
            core.write(w, data)
        except BaseException:
            os._exit(111)
        os._exit(0)
    os.close(w)
    if opts:
        core.waitpid(pid)
    _move_fd(r, fd)
    return args[2:]
