"""Control-flow commands: sequencing, conditionals, loops, exec, exit, wait, trap, case."""

import os

from s6py.diag import Reporter

from . import core
from .core import (CHOMP_OPTIONS, CRUNCH_OPTIONS, IMPORT_OPTIONS, argument, block, die, dieusage,
                   getopt, settings, spawn, uint_or_usage, wait_estatus, wait_status, waitpid,
                   whole_block)


def _spawn_or_die(argv, hint=None):
    try:
        return spawn(argv)
    except OSError as e:
        if hint and e.errno == 2 and argv[0][:1] == " ":
            die(111, "unable to spawn %s: name begins with a space, %s" % (argv[0], hint))
        core.diesys(111, "spawn " + argv[0], e)


def _crashed(ws):
    die(128 + os.WTERMSIG(ws), "child crashed with signal %d" % os.WTERMSIG(ws))


def _condition(argv, normalcrash, hint=None):
    """Run the condition ARGV of the if commands: its wait status; its crash is fatal
    unless NORMALCRASH (-X)."""
    ws = waitpid(_spawn_or_die(argv, hint))
    if not normalcrash and os.WIFSIGNALED(ws):
        _crashed(ws)
    return ws


def _required_block(argv, start, name):
    """The block NAME (then, else) at argv[START], which must be there."""
    if start == len(argv):
        die(100, name + " block required")
    return whole_block(argv, start, name + " block")


#: the -n and -X options of the if commands
_IF_OPTIONS = {"n": {"neg": True}, "X": {"normalcrash": True}}


def execsequence(first, rest):
    """el_execsequence: run FIRST, set ? to its wait status, continue with REST."""
    try:
        pid = spawn(first)
        code = str(wait_status(waitpid(pid)))
    except OSError as e:
        core.warn("unable to spawn %s: %s" % (first[0], os.strerror(e.errno)))
        code = "127"
    if not rest:
        return 0
    os.environ["?"] = code
    return rest


def foreground(argv):
    core.PROG = "foreground"
    words, end = whole_block(argv, 1)
    return execsequence(words, argv[end + 1:])


def background(argv):
    core.PROG = "background"
    usage = "background [ -d ] { command... }"
    opts, i = getopt(argv, "d", usage)
    double = bool(opts)
    words, end = whole_block(argv, i)
    if double:
        pid = _doublefork(words)
    else:
        pid = _spawn_or_die(words)
    rest = argv[end + 1:]
    if not rest:
        return 0
    os.environ["!"] = str(pid)
    return rest


def _doublefork(argv, setup=None):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            gpid = os.fork()
        except OSError:
            os._exit(111)
        if gpid:
            os.write(w, gpid.to_bytes(8, "little"))
            os._exit(0)
        os.close(w)
        if setup is not None:
            setup()
        if core.lookup(argv[0]) is not None:
            core.run_child(argv)
        core.reset_signals()
        err = core.try_exec(argv)
        Reporter(core.PROG + " (grandchild)").fatal("unable to exec ", argv[0], ": ",
                                                    os.strerror(err))
        os._exit(127 if err == 2 else 126)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 8)
        if not chunk:
            break
        data += chunk
    os.close(r)
    waitpid(pid)
    return int.from_bytes(data, "little") if data else 0


def if_(argv):
    core.PROG = "if"
    usage = "if [ -n ] [ -X ] [ -t | -x exitcode ] { command... }"
    opts, i = getopt(argv, "nXtx:", usage)

    def exitcode(arg):
        v = core.uint_prefix(arg)
        if v is None:
            dieusage(usage)
        return v & 0xFFFF
    table = dict(_IF_OPTIONS, t={"e": 0}, x={"e": exitcode})
    neg, normalcrash, e = settings(opts, table, neg=False, normalcrash=False, e=None)
    if e is not None and e > 255:
        die(100, "invalid exit code")
    words, end = whole_block(argv, i)
    ws = _condition(words, normalcrash)
    if neg == (not wait_estatus(ws)):
        return e if e is not None else 1 if neg else wait_estatus(ws)
    return argv[end + 1:]


def _if_options(prog, usage, argv):
    """PROG's -n and -X (ifelse, ifte): (neg, normalcrash, index of the first operand)."""
    core.PROG = prog
    opts, i = getopt(argv, "nX", usage)
    neg, normalcrash = settings(opts, _IF_OPTIONS, neg=False, normalcrash=False)
    return neg, normalcrash, i


def ifelse(argv):
    neg, normalcrash, i = _if_options(
        "ifelse", "ifelse [ -n ] [ -X ] { command-if } { command-then... } command-else...", argv)
    cond, end1 = whole_block(argv, i, "if block")
    then, end2 = _required_block(argv, end1 + 1, "then")
    ws = _condition(cond, normalcrash)
    if neg == (not wait_estatus(ws)):
        return argv[end2 + 1:]
    return then


def ifte(argv):
    neg, normalcrash, i = _if_options(
        "ifte", "ifte [ -X ] [ -n ] { command-then... } { command-else... } command-if...", argv)
    then, end1 = whole_block(argv, i, "then block")
    else_, end2 = _required_block(argv, end1 + 1, "else")
    cond = argv[end2 + 1:]
    if not cond:
        die(100, "empty command-if")
    ws = _condition(cond, normalcrash, "are you trying to spawn a block as your command-if?")
    if neg == (not wait_estatus(ws)):
        return else_
    return then


def ifthenelse(argv):
    core.PROG = "ifthenelse"
    usage = "ifthenelse [ -X ] { command-if... } { command-then... } { command-else... } [ remainder... ]"
    opts, i = getopt(argv, "Xs", usage)
    normalcrash, magic = settings(opts, {"X": {"normalcrash": True}, "s": {"magic": True}},
                                  normalcrash=False, magic=False)
    cond, end1 = whole_block(argv, i, "if block")
    then, end2 = _required_block(argv, end1 + 1, "then")
    else_, end3 = whole_block(argv, end2 + 1, "else block")
    ws = _condition(cond, normalcrash)
    rest = argv[end3 + 1:]
    chosen = else_ if wait_estatus(ws) else then
    if magic:
        return chosen + rest
    return execsequence(chosen, rest)


def exit_(argv):
    core.PROG = "exit"
    if len(argv) < 2:
        return 0
    v = core.uint0(argv[1])
    if v is None:
        dieusage("exit [ exitcode ]")
    return v & 0xFF


_EXEC_OPTIONS = {"c": {"clear": True}, "l": {"login": True}, "a": {"argv0": argument},
                 "n": {"neg": True}}


def _exec_opts(argv, optstring, usage):
    opts, i = getopt(argv, optstring, usage)
    return (i,) + settings(opts, _EXEC_OPTIONS, clear=False, login=False, argv0=None, neg=False)


def _exec_into(prog, clear, login, argv0):
    if not prog:
        return 0
    if clear:
        core.replace_environ({})
    name = prog[0]
    a0 = argv0 if argv0 is not None else name
    if login:
        a0 = "-" + a0
    f = core.lookup(name)
    if f is not None:
        return f([a0] + prog[1:])
    if a0 != name:
        core.exec_external(prog, a0)
    return prog


def exec_(argv):
    core.PROG = "exec"
    usage = "exec [ -c ] [ -l ] [ -a argv0 ] prog..."
    i, clear, login, argv0, _ = _exec_opts(argv, "cla:", usage)
    if i >= len(argv):
        dieusage(usage)
    return _exec_into(argv[i:], clear, login, argv0)


def tryexec(argv):
    core.PROG = "tryexec"
    usage = "tryexec [ -n ] [ -c ] [ -l ] [ -a argv0 ] { command... } remainder..."
    i, clear, login, argv0, neg = _exec_opts(argv, "ncla:", usage)
    words, end = whole_block(argv, i)
    rest = argv[end + 1:]
    first, second = (rest, words) if neg else (words, rest)
    if first:
        if core.lookup(first[0]) is not None:
            return _exec_into(first, clear, login, argv0)
        saved = dict(os.environ) if clear else None
        if clear:
            core.replace_environ({})
        a0 = argv0 if argv0 is not None else first[0]
        if login:
            a0 = "-" + a0
        core.try_exec(first, a0)
        if saved is not None:
            core.replace_environ(saved)
    if not second:
        return 0
    return second


def _scanlist(s, usage):
    out = []
    for part in s.split(","):
        v = core.uint_prefix(part)
        if v is None:
            dieusage(usage)
        out.append(v & 0xFFFF)
    return out


def loopwhilex(argv):
    core.PROG = "loopwhilex"
    usage = "loopwhilex [ -n ] [ -o okcode,okcode,... | -x exitcode,exitcode,... ] prog..."
    opts, i = getopt(argv, "no:x:", usage)

    def codelist(arg):
        return _scanlist(arg, usage)
    table = {"n": {"neg": True}, "o": {"rev": False, "codes": codelist},
             "x": {"rev": True, "codes": codelist}}
    neg, rev, codes = settings(opts, table, neg=False, rev=False, codes=[])
    prog = argv[i:]
    if not prog:
        dieusage(usage)
    if not codes:
        codes = [0]
    elif rev:
        neg = not neg
    while True:
        pid = _spawn_or_die(prog, "are you trying to spawn a block as your loop body?")
        ws = waitpid(pid)
        if neg == ((wait_estatus(ws) & 0xFFFF) in codes):
            return wait_estatus(ws)


def _modif_spawn(prog, var, value, doimport):
    if doimport:
        prog = ["importas", "-ui", var, var] + prog

    def setup():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    return _spawn_setup(prog, setup)


def _spawn_setup(prog, setup):
    try:
        return spawn(prog, setup)
    except OSError as e:
        core.diesys(111, "spawn " + prog[0], e)


class _Loop:
    """forx/forstdin iteration bookkeeping: sequential or parallel children."""

    def __init__(self, maxpar, neg, codes):
        self.maxpar = maxpar
        self.neg = neg
        self.codes = codes
        self.pids = set()

    def add(self, pid):
        self.pids.add(pid)
        while len(self.pids) >= self.maxpar:
            p, ws = os.wait()
            if p in self.pids:
                self.pids.discard(p)
                if self.maxpar == 1:
                    st = wait_estatus(ws)
                    if self.neg == ((st & 0xFFFF) in self.codes):
                        return st
        return None

    def finish(self):
        while self.pids:
            p, ws = os.wait()
            self.pids.discard(p)


def forx(argv):
    core.PROG = "forx"
    usage = ("forx [ -E | -e ] [ -p ] [ -o okcode,okcode,... | -x breakcode,breakcode,... ] "
             "var { values... } command...")
    opts, args = core.operands(argv, "pP:o:x:Ee", usage, 2)
    neg, doimport, maxpar, codes = settings(opts, _loop_options(usage, 1 << 30), neg=True,
                                            doimport=False, maxpar=1, codes=[])
    var = core.variable(args[0])
    values, end = whole_block(args, 1)
    prog = args[end + 1:]
    if not values or not prog:
        return 0
    maxpar = max(1, min(maxpar, len(values)))
    loop = _Loop(maxpar, neg, codes)
    for v in values:
        r = loop.add(_modif_spawn(prog, var, v, doimport))
        if r is not None:
            return r
    loop.finish()
    return 0


def _loop_options(usage, parallel):
    """The settings() table of the options forx and forstdin share: -p (PARALLEL
    children at most), -P max, -o okcodes, -x breakcodes, -E, -e."""
    def codelist(arg):
        return _scanlist(arg, usage)
    return dict(IMPORT_OPTIONS, p={"maxpar": parallel}, P={"maxpar": uint_or_usage(usage)},
                o={"neg": False, "codes": codelist}, x={"neg": True, "codes": codelist})


def _read_records(fd, delim, chomp, crunch):
    """Yield forstdin records from FD (delim '' means netstrings)."""
    buf = b""
    eof = False
    bdelim = os.fsencode(delim) if delim else b""
    while True:
        if bdelim:
            idx = -1
            for k, ch in enumerate(buf):
                if ch in bdelim:
                    idx = k
                    break
            if idx >= 0:
                rec, buf = buf[:idx + 1], buf[idx + 1:]
                if crunch and len(rec) == 1:
                    continue
                yield os.fsdecode(rec[:-1] if chomp else rec)
                continue
            if eof:
                if buf and not chomp:
                    if not (crunch and len(buf) == 1):
                        yield os.fsdecode(buf)
                return
        else:
            colon = buf.find(b":")
            if colon > 0 and buf[:colon].isdigit():
                n = int(buf[:colon])
                if len(buf) >= colon + 2 + n:
                    if buf[colon + 1 + n:colon + 2 + n] != b",":
                        die(111, "unable to netstring_get: Invalid argument")
                    yield os.fsdecode(buf[colon + 1:colon + 1 + n])
                    buf = buf[colon + 2 + n:]
                    continue
            if eof:
                if buf:
                    die(111, "unable to netstring_get: Invalid argument")
                return
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        except OSError as e:
            core.diesys(111, "skagetlnsep", e)
        if not chunk:
            eof = True
        buf += chunk


def forstdin(argv):
    core.PROG = "forstdin"
    usage = ("forstdin [ -E | -e ] [ -p | -o okcode,okcode,... | -x breakcode,breakcode,... ] "
             "[ -N | -n ] [ -C | -c ] [ -0 | -d delim ] var command...")
    opts, args = core.operands(argv, "pP:NnCc0d:o:x:Ee", usage, 2)
    table = dict(_loop_options(usage, 10000), **CHOMP_OPTIONS, **CRUNCH_OPTIONS,
                 **{"0": {"delim": "\0"}, "d": {"delim": argument}})
    delim, chomp, crunch, neg, doimport, maxpar, codes = settings(
        opts, table, delim="\n", chomp=True, crunch=False, neg=True, doimport=False, maxpar=1,
        codes=[])
    var = core.variable(args[0])
    prog = args[1:]
    loop = _Loop(max(1, min(maxpar, 10000)), neg, codes)
    eofcode = 1
    for rec in _read_records(0, delim, chomp, crunch):
        eofcode = 0
        r = loop.add(_modif_spawn(prog, var, rec, doimport))
        if r is not None:
            return r
    loop.finish()
    return eofcode


def forbacktickx(argv):
    core.PROG = "forbacktickx"
    usage = ("forbacktickx [ -p | -o okcode,okcode,... | -x breakcode,breakcode,... ] [ -N | -n ] "
             "[ -C | -c ] [ -0 | -d delim ] var { backtickcmd... } command...")
    opts, i = getopt(argv, "pNnCc0d:o:x:", usage)

    def codelist(arg):
        """ARG itself, passed on to forstdin, once checked."""
        _scanlist(arg, usage)
        return arg
    table = dict(CHOMP_OPTIONS, **CRUNCH_OPTIONS, p={"par": True},
                 o={"codes": codelist, "neg": False}, x={"codes": codelist, "neg": True},
                 **{"0": {"delim": None}, "d": {"delim": argument}})
    delim, chomp, crunch, neg, par, codes = settings(
        opts, table, delim="\n", chomp=True, crunch=False, neg=True, par=False, codes=None)
    args = argv[i:]
    if len(args) < 2 or not args[0]:
        dieusage(usage)
    if not args[1]:
        die(100, "empty block")
    k = 1
    gen = []
    while k < len(args) and args[k]:
        gen.append(args[k])
        k += 1
    if k >= len(args):
        die(100, "unterminated block")
    try:
        fd = os.dup(0)
    except OSError:
        fd = -1
    new = ["pipeline", "--"] + gen + ["", "unexport", "!", "forstdin"]
    if par:
        new.append("-p")
    new.append("-n" if chomp else "-N")
    if crunch:
        new.append("-C")
    if delim is None:
        new.append("-0")
    elif delim != "\n":
        new += ["-d", delim]
    if codes is not None:
        new += ["-x" if neg else "-o", codes]
    new += ["--", args[0]]
    new += ["fdclose", "0"] if fd < 0 else ["fdmove", "0", str(fd)]
    return new + args[k + 1:]


def _nothing(signum, frame):
    pass


class _ChildWake:
    """Sleep until a child changes state (or a deadline), without polling: SIGCHLD gets
    a Python handler, whose C half writes to a wake-up pipe that select() watches.
    Installed before the first WNOHANG check, so no death can slip between the check
    and the sleep; the previous SIGCHLD disposition is put back on exit."""

    def __enter__(self):
        import _signal as signal
        self.signal = signal
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        os.set_blocking(self.w, False)
        self.old = signal.signal(signal.SIGCHLD, _nothing)
        self.oldfd = signal.set_wakeup_fd(self.w)
        return self

    def sleep(self, deadline):
        """False if DEADLINE (time.monotonic() value, None: never) has passed."""
        import select
        import time
        if deadline is None:
            timeout = None
        else:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return False
        select.select([self.r], [], [], timeout)
        try:
            os.read(self.r, 512)
        except (BlockingIOError, InterruptedError):
            pass
        return True

    def __exit__(self, *exc):
        self.signal.set_wakeup_fd(self.oldfd)
        self.signal.signal(self.signal.SIGCHLD, self.old)
        os.close(self.r)
        os.close(self.w)


def _reap(pid):
    """(done, wait status or None): done when PID died or is not our child."""
    try:
        r, ws = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True, None
    if r:
        return True, ws
    return False, None


def _pid_arg(w):
    neg = w[:1] == "-"
    v = core.uint0(w[1:] if neg else w)
    if v is None:
        return None
    return -v if neg else v


def _wait_all(pids, deadline):
    """Wait for every pid in PIDS (every child if empty).  Return (timed out, the
    status of the last listed pid or None)."""
    if deadline is None:
        if not pids:
            while True:
                try:
                    os.wait()
                except ChildProcessError:
                    return False, None
                except InterruptedError:
                    continue
        ws = None
        for p in pids:
            try:
                ws = waitpid(p)
            except ChildProcessError:
                ws = None
        return False, ws
    statuses = {}
    pending = list(pids)
    with _ChildWake() as wake:
        while True:
            if pids:
                for p in list(pending):
                    done, ws = _reap(p)
                    if done:
                        pending.remove(p)
                        statuses[p] = ws
                if not pending:
                    return False, statuses.get(pids[-1])
            else:
                while True:
                    try:
                        r, _ = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        return False, None
                    if not r:
                        break
            if not wake.sleep(deadline):
                return True, statuses.get(pids[-1]) if pids else None


def _wait_one(pids, deadline):
    """Wait for one pid of PIDS (any child if empty): (timed out, pid or 0, status)."""
    if deadline is None and not pids:
        try:
            p, ws = os.waitpid(-1, 0)
            return False, p, ws
        except ChildProcessError:
            return False, 0, None
    pending = list(pids)
    with _ChildWake() as wake:
        while True:
            if pids:
                for p in list(pending):
                    try:
                        r, ws = os.waitpid(p, os.WNOHANG)
                    except ChildProcessError:
                        pending.remove(p)
                        continue
                    if r:
                        return False, r, ws
                if not pending:
                    return False, 0, None
            else:
                try:
                    r, ws = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return False, 0, None
                if r:
                    return False, r, ws
            if not wake.sleep(deadline):
                return True, 0, None


def wait(argv):
    """wait [ -I | -i ] [ -a | -o ] [ -r | -t ms ] { pids... } prog...

    As execline 2.9.3: without a block the arguments are the pids and wait exits with
    the status of the last one (127: not a child, or still alive at the deadline); -o
    waits for one and sets ! and ? (unsets them if none died); -i: a timeout is fatal
    (99).  Sleeps on a SIGCHLD wake-up pipe, never polls."""
    core.PROG = "wait"
    usage = "wait [ -I | -i ] [ -a | -o ] [ -r | -t timeout ] { pids... } [ prog... ]"
    opts, i = getopt(argv, "iIaort:", usage)
    table = {"i": {"insist": True}, "I": {"insist": False}, "a": {"one": False},
             "o": {"one": True}, "r": {"timeout": 0}, "t": {"timeout": uint_or_usage(usage)}}
    insist, timeout, one = settings(opts, table, insist=False, timeout=None, one=False)
    words, end = block(argv, i)
    pids = []
    for w in words:
        v = _pid_arg(w)
        if v is None:
            dieusage(usage)
        pids.append(v)
    deadline = None
    if timeout is not None:
        import time
        deadline = time.monotonic() + timeout / 1000.0
    if one:
        timedout, pid, ws = _wait_one(pids, deadline)
    else:
        timedout, ws = _wait_all(pids, deadline)
    if timedout and insist:
        die(99, "unable to wait: Connection timed out")
    if end is None:
        if one:
            return wait_estatus(ws) if pid else 127
        if not pids:
            return 127 if timedout else 0
        return 127 if ws is None else wait_estatus(ws)
    if one:
        if pid:
            os.environ["!"] = str(pid)
            os.environ["?"] = str(wait_estatus(ws))
        else:
            os.environ.pop("!", None)
            os.environ.pop("?", None)
    rest = argv[end + 1:]
    return rest if rest else 0


def case(argv):
    core.PROG = "case"
    usage = ("case [ -s | -S ] [ -e | -E ] [ -n | -N ] [ -i ] value { re1 { prog1... } re2 { prog2... } ... } "
             "progdefault... ")
    opts, i = getopt(argv, "sSeEnNi", usage)
    table = {"s": {"shell": True}, "S": {"shell": False}, "e": {"extended": False},
             "E": {"extended": True}, "N": {"nosub": False}, "n": {"nosub": True},
             "i": {"icase": True}}
    shell, extended, nosub, icase = settings(opts, table, shell=False, extended=True, nosub=True,
                                             icase=False)
    args = argv[i:]
    if len(args) < 2:
        dieusage(usage)
    s = args[0]
    words, end = whole_block(args, 1, "case block")
    k = 0
    while k < len(words):
        expr = words[k]
        k += 1
        if k == len(words):
            die(100, "malformed case block")
        prog, pend = whole_block(words, k, "regex block")
        if shell:
            from fnmatch import fnmatchcase
            if fnmatchcase(s, expr):
                return prog
        else:
            import re
            from .eltest import posix_regex
            try:
                rx = re.compile("^(?:" + posix_regex(expr, extended) + ")$",
                                (re.IGNORECASE if icase else 0) | re.MULTILINE)
            except re.error as e:
                die(100, ': unable to regcomp "^%s$": %s' % (prog[0] if prog else "", regerror(e)))
            m = rx.search(s)
            if m:
                if nosub:
                    return prog
                env = os.environ
                env["#"] = str(rx.groups)
                env["0"] = expr
                for g in range(1, rx.groups + 1):
                    env[str(g)] = m.group(g) or ""
                return prog
        k = pend + 1
    return args[end + 1:]


_REGERRORS = (
    ("missing )", "Unmatched ( or \\("),
    ("unbalanced parenthesis", "Unmatched ) or \\)"),
    ("unterminated character set", "Unmatched [, [^, [:, [., or [="),
    ("nothing to repeat", "Invalid preceding regular expression"),
    ("multiple repeat", "Invalid preceding regular expression"),
    ("bad escape (end of pattern)", "Trailing backslash"),
    ("bad character range", "Invalid range end"),
)


def regerror(e):
    """glibc's regerror() wording for the common errors of a translated POSIX regex."""
    msg = str(e)
    for key, text in _REGERRORS:
        if key in msg:
            return text
    return msg


def trap(argv):
    """trap [ -x ] { SIG { prog... } ... default { prog... } } prog...

    As execline 2.9.3: directives are signal names/numbers or `default` (every signal
    without a directive of its own, SIGCHLD excepted; with it -x does nothing); each
    action runs with `!` = the pid of prog and SIGNAL = the signal number; one action
    per signal at a time; exits with prog's approximated code when prog dies.

    Not on engine.loop.Loop: trap forwards every signal it gets, one kill per arrival
    (the Loop coalesces what arrives in one turn), and prog must inherit exactly the
    dispositions and mask trap was given; its loop is one select() on a wake-up pipe."""
    core.PROG = "trap"
    usage = "trap [ -x ] { signal { cmdline } ... } prog..."
    opts, i = getopt(argv, "x", usage)
    xfer = bool(opts)
    args = argv[i:]
    if not args:
        dieusage(usage)
    words, end = block(args, 0)
    if not words and end is not None:
        die(100, "empty block")
    if end is None:
        die(100, "unterminated block")
    prog = args[end + 1:]
    if not prog:
        dieusage(usage)
    import signal
    from ..wire.signames import number as signumber
    actions = {}
    default = None
    k = 0
    while k < len(words):
        name = words[k]
        sig = None
        if name.lower() != "default":
            try:
                sig = signumber(name)
            except ValueError:
                die(100, "unrecognized directive: " + name)
        k += 1
        sub, send = block(words, k)
        if send is not None and not sub:
            die(100, "empty internal block for directive " + name)
        if send is None:
            die(100, "unterminated internal block for directive " + name)
        if sig is None:
            if default is not None:
                die(100, "duplicate directive: " + name)
            default = sub
        else:
            if sig in actions:
                die(100, "duplicate directive: " + name)
            actions[sig] = sub
        k = send + 1
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    os.set_blocking(rfd, False)
    trapped = set(actions)
    trapped.add(signal.SIGCHLD)
    if xfer or default is not None:
        for s in range(1, signal.NSIG):
            if s not in (signal.SIGKILL, signal.SIGSTOP, 32, 33):
                trapped.add(s)
    pending = []

    def handler(signum, frame):
        pending.append(signum)
    for s in trapped:
        try:
            core.handle_signal(s, handler)
        except (OSError, ValueError):
            pass
    signal.set_wakeup_fd(wfd)
    child = _spawn_or_die(prog)
    os.environ["!"] = str(child)
    running = {}
    import select
    while True:
        if not pending:
            select.select([rfd], [], [])
        try:
            os.read(rfd, 512)
        except (BlockingIOError, InterruptedError):
            pass
        sigs, pending[:] = list(pending), []
        for s in sigs:
            if s == signal.SIGCHLD:
                while True:
                    try:
                        p, ws = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if not p:
                        break
                    if p == child:
                        return wait_estatus(ws)
                    for k2 in list(running):
                        if running[k2] == p:
                            del running[k2]
                if signal.SIGCHLD not in actions:
                    continue
            todo = actions.get(s, default)
            if todo is not None:
                if not running.get(s):
                    os.environ["SIGNAL"] = str(s)
                    running[s] = _spawn_or_die(todo)
            else:
                try:
                    os.kill(child, s)
                except OSError:
                    pass
