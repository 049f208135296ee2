"""The small s6-portable-utils (and s6) commands that overlay scripts call."""

import os

from . import core
from .core import dieusage, getopt


def echo(argv):
    core.PROG = "s6-echo"
    opts, i = getopt(argv, "ns:", "s6-echo [ -n ] [ -s sep ] args...")
    nl, sep = True, " "
    for c, arg in opts:
        if c == "n":
            nl = False
        else:
            sep = arg[:1]
    core.write(1, sep.join(argv[i:]) + ("\n" if nl else ""))
    return 0


def true(argv):
    return 0


def false(argv):
    return 1


def sleep(argv):
    core.PROG = "s6-sleep"
    usage = "s6-sleep [ -m ] duration prog..."
    opts, i = getopt(argv, "m", usage)
    if i >= len(argv):
        dieusage(usage)
    n = core.uint0(argv[i])
    if n is None:
        dieusage(usage)
    import time
    time.sleep(n / 1000.0 if opts else n)
    return argv[i + 1:] if len(argv) > i + 1 else 0


def pause(argv):
    import signal
    while True:
        signal.pause()


def env(argv):
    core.PROG = "s6-env"
    opts, i = getopt(argv, "i", "s6-env [ -i ] [ name=value... ] prog...")
    if opts:
        core.replace_environ({})
    args = argv[i:]
    while args and "=" in args[0]:
        k, _, v = args.pop(0).partition("=")
        os.environ[k] = v
    if not args:
        core.write(1, "".join("%s=%s\n" % kv for kv in os.environ.items()))
        return 0
    return args


def setsid(argv):
    core.PROG = "s6-setsid"
    usage = "s6-setsid [ -s | -b | -f | -g ] [ -i | -I | -q ] prog..."
    opts, i = getopt(argv, "sbfgiIqd:", usage)
    if i >= len(argv):
        dieusage(usage)
    mode = "s"
    for c, _ in opts:
        if c in "sbfg":
            mode = c
    try:
        if mode == "s":
            os.setsid()
        else:
            os.setpgid(0, 0)
    except OSError as e:
        if not any(c == "q" for c, _ in opts):
            core.warn("unable to setsid: " + os.strerror(e.errno))
    return argv[i:]


def maximumtime(argv):
    core.PROG = "s6-maximumtime"
    usage = "s6-maximumtime [ -0 | -a | -b | -i | -k | -q | -t | -x | -1 | -2 ] milliseconds prog..."
    opts, i = getopt(argv, "0abikqtx12", usage)
    import signal
    sig = signal.SIGTERM
    names = {"a": signal.SIGALRM, "b": signal.SIGABRT, "i": signal.SIGINT, "k": signal.SIGKILL,
             "q": signal.SIGQUIT, "t": signal.SIGTERM, "x": signal.SIGXCPU, "1": signal.SIGUSR1,
             "2": signal.SIGUSR2, "0": signal.SIGKILL}
    for c, _ in opts:
        sig = names[c]
    args = argv[i:]
    if len(args) < 2:
        dieusage(usage)
    ms = core.uint0(args[0])
    if ms is None:
        dieusage(usage)
    try:
        pid = core.spawn(args[1:])
    except OSError as e:
        core.diesys(111, "spawn " + args[1], e)
    import time
    from .flow import _ChildWake
    deadline = time.monotonic() + ms / 1000.0
    with _ChildWake() as wake:
        while True:
            p, ws = os.waitpid(pid, os.WNOHANG)
            if p:
                return core.wait_estatus(ws)
            if not wake.sleep(deadline):
                break
    os.kill(pid, sig)
    if sig != signal.SIGKILL:
        os.kill(pid, signal.SIGCONT)
    core.waitpid(pid)
    return 99


def ls(argv):
    core.PROG = "s6-ls"
    usage = "s6-ls [ -0 ] [ -a | -A ] [ -x exclude ] dir"
    opts, i = getopt(argv, "0aAx:", usage)
    sep, dots, exclude = "\n", False, None
    for c, arg in opts:
        if c == "0":
            sep = "\0"
        elif c == "a":
            dots = True
        elif c == "A":
            dots = False
        else:
            exclude = arg
    if i >= len(argv):
        dieusage(usage)
    try:
        names = os.listdir(argv[i])
    except OSError as e:
        core.diesys(111, "list " + argv[i], e)
    out = [n for n in names if (dots or not n.startswith(".")) and n != exclude]
    if dots:
        out += [".", ".."]
    core.write(1, "".join(n + sep for n in out))
    return 0


def rmrf(argv):
    core.PROG = "s6-rmrf"
    import shutil
    for p in argv[1:]:
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
        except FileNotFoundError:
            pass
        except OSError as e:
            core.diesys(111, "remove " + p, e)
    return 0


def mkdir(argv):
    core.PROG = "s6-mkdir"
    usage = "s6-mkdir [ -p ] [ -v ] [ -m mode ] dir..."
    opts, i = getopt(argv, "pvm:", usage)
    parents = verbose = False
    mode = 0o777
    for c, arg in opts:
        if c == "p":
            parents = True
        elif c == "v":
            verbose = True
        else:
            mode = int(arg, 8)
    code = 0
    for d in argv[i:]:
        try:
            if parents:
                os.makedirs(d, mode, exist_ok=True)
            else:
                os.mkdir(d, mode)
            if verbose:
                core.write(1, "s6-mkdir: created directory %s\n" % d)
        except OSError as e:
            core.warn("unable to mkdir %s: %s" % (d, os.strerror(e.errno)))
            code = 111
    return code


def chmod(argv):
    core.PROG = "s6-chmod"
    if len(argv) < 3:
        dieusage("s6-chmod mode file")
    try:
        os.chmod(argv[2], int(argv[1], 8))
    except ValueError:
        dieusage("s6-chmod mode file")
    except OSError as e:
        core.diesys(111, "change mode of " + argv[2], e)
    return 0


def chown(argv):
    core.PROG = "s6-chown"
    usage = "s6-chown [ -U ] [ -u uid ] [ -g gid ] file"
    opts, i = getopt(argv, "Uu:g:", usage)
    uid = gid = -1
    for c, arg in opts:
        if c == "U":
            uid = int(os.environ.get("UID", "-1"))
            gid = int(os.environ.get("GID", "-1"))
        elif c == "u":
            uid = int(arg)
        else:
            gid = int(arg)
    if i >= len(argv):
        dieusage(usage)
    try:
        os.chown(argv[i], uid, gid)
    except OSError as e:
        core.diesys(111, "chown " + argv[i], e)
    return 0


def nuke(argv):
    core.PROG = "s6-nuke"
    import signal
    opts, i = getopt(argv, "htk", "s6-nuke [ -h ] [ -t ] [ -k ]")
    for c, _ in opts:
        sig = {"h": signal.SIGHUP, "t": signal.SIGTERM, "k": signal.SIGKILL}[c]
        try:
            os.kill(-1, sig)
            if c == "t":
                os.kill(-1, signal.SIGCONT)
        except OSError:
            pass
    return 0


def sync(argv):
    os.sync()
    return 0


def hiercopy(argv):
    core.PROG = "s6-hiercopy"
    if len(argv) < 3:
        dieusage("s6-hiercopy src dst")
    import shutil
    try:
        if os.path.isdir(argv[1]):
            shutil.copytree(argv[1], argv[2], symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(argv[1], argv[2], follow_symlinks=False)
    except OSError as e:
        core.diesys(111, "copy %s to %s" % (argv[1], argv[2]), e)
    return 0
