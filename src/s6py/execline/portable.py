"""The small s6-portable-utils (and s6) commands that overlay scripts call."""

import errno
import os
import stat

from . import core
from .core import dieusage, getopt, settings


def echo(argv):
    core.PROG = "s6-echo"
    opts, i = getopt(argv, "ns:", "s6-echo [ -n ] [ -s sep ] args...")
    nl, sep = True, " "
    for c, arg in opts:
        if c == "n":
            nl = False
        else:
            sep = arg[:1]
    try:
        core.write(1, sep.join(argv[i:]) + ("\n" if nl else ""))
    except OSError as e:
        core.diesys(111, "write to stdout", e)
    return 0


def true(argv):
    return 0


def false(argv):
    return 1


def sleep(argv):
    core.PROG = "s6-sleep"
    usage = "s6-sleep [ -m ] duration prog..."
    opts, args = core.operands(argv, "m", usage, 1)
    n = core.uint0(args[0])
    if n is None:
        dieusage(usage)
    import time
    time.sleep(n / 1000.0 if opts else n)
    return args[1:] if len(args) > 1 else 0


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
    opts, args = core.operands(argv, "sbfgiIqd:", usage, 1)
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
    return args


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
    for p in argv[1:]:
        try:
            remove_tree(p)
        except OSError as e:
            core.diesys(111, "remove " + p, e)
    return 0


# Trees are removed and copied with os and stat alone: python3-minimal, the Python of slim
# images, has no shutil.  Both walk with an explicit stack (no recursion limit);
# remove_tree holds one directory descriptor per level.

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def remove_tree(path):
    """Remove PATH whatever it is, a directory with everything under it included.

    A symlink is removed, never followed, at any depth: below PATH every entry is reached
    through its parent's descriptor (unlinkat, openat with O_NOFOLLOW), so a directory
    swapped for a link while we work cannot lead outside the tree.  An entry that vanishes
    meanwhile counts as removed, and so does a PATH that does not exist.  Raises OSError,
    whose filename is the full path of the entry that could not be removed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        _gone(os.unlink, path)
        return
    try:
        fd = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return
    stack = []          # [(fd, path, names left)] from PATH down to the current directory
    try:
        _push(stack, fd, path)
        while stack:
            fd, dpath, names = stack[-1]
            if names:
                name = names.pop()
                child = os.path.join(dpath, name)
                try:
                    st = os.lstat(name, dir_fd=fd)
                except FileNotFoundError:
                    continue
                except OSError as e:
                    raise _at(e, child)
                if not stat.S_ISDIR(st.st_mode):
                    _gone(os.unlink, name, fd, child)
                    continue
                try:
                    cfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    continue
                except OSError as e:
                    raise _at(e, child)
                _push(stack, cfd, child)
                continue
            stack.pop()
            os.close(fd)
            if stack:
                _gone(os.rmdir, os.path.basename(dpath), stack[-1][0], dpath)
            else:
                _gone(os.rmdir, path)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _push(stack, fd, path):
    """Put the directory open on FD, with its entries, on STACK (FD is closed on failure)."""
    try:
        names = os.listdir(fd)
    except OSError as e:
        os.close(fd)
        raise _at(e, path)
    stack.append((fd, path, names))


def _gone(remove, name, dir_fd=None, path=None):
    """REMOVE(NAME) relative to DIR_FD; a vanished entry is fine; errors name PATH."""
    try:
        if dir_fd is None:
            remove(name)
        else:
            remove(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise _at(e, path or name)


def _at(e, path):
    """The OSError E (same errno, so the same subclass), with PATH as its filename."""
    return OSError(e.errno, e.strerror, path)


def mkdir(argv):
    core.PROG = "s6-mkdir"
    usage = "s6-mkdir [ -p ] [ -v ] [ -m mode ] dir..."
    opts, i = getopt(argv, "pvm:", usage)
    table = {"p": {"parents": True}, "v": {"verbose": True}, "m": {"mode": lambda arg: int(arg, 8)}}
    parents, verbose, mode = settings(opts, table, parents=False, verbose=False, mode=0o777)
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
    src, dst = argv[1], argv[2]

    def report(s, d, e):
        core.warn("unable to copy %s to %s: %s" % (s, d, os.strerror(e.errno or 0)))

    try:
        if (not os.path.isdir(src) or os.path.islink(src)) and os.path.isdir(dst):
            dst = os.path.join(dst, os.path.basename(src))   # into a directory, as cp does
        failed = copy_tree(src, dst, report)
    except OSError as e:
        core.diesys(111, "copy %s to %s" % (argv[1], argv[2]), e)
    if failed is not None:
        core.diesys(111, "copy %s to %s" % (argv[1], argv[2]), failed)
    return 0


_COPY_CHUNK = 1 << 17


def copy_tree(src, dst, report=None):
    """Copy SRC to DST as s6-hiercopy does; return None, or the first OSError met below SRC.

    Every kind of file is recreated as what it is: a regular file's bytes, a directory
    (DST's directories may exist already: the trees merge), a symlink as a link to the
    same target (never followed, SRC itself included), a FIFO, a device or a socket node.
    Each copy gets its original's mode (a directory's once its entries are in, so a
    read-only one is filled first) and times, and as root its owner and group.  A
    directory is listed before its copy is made, so DST may lie inside SRC.  An entry that
    cannot be copied is passed to REPORT(its path, its copy's path, the OSError) and the
    copy goes on with the next one.  An error about SRC or DST themselves is raised."""
    as_root = os.geteuid() == 0
    st = os.lstat(src)
    names = _entries(src, st)
    _copy_one(src, dst, st, as_root, top=True)
    if names is None:
        return None
    first = None
    stack = [(src, dst, st, names)]      # directories being filled, SRC's copy at the bottom
    while stack:
        sdir, ddir, dir_st, names = stack[-1]
        if not names:
            stack.pop()
            s, d = sdir, ddir
            try:
                _set_attrs(ddir, dir_st, as_root)
                continue
            except OSError as e:
                err = e
        else:
            name = names.pop()
            s, d = os.path.join(sdir, name), os.path.join(ddir, name)
            try:
                st = os.lstat(s)
                entries = _entries(s, st)
                _copy_one(s, d, st, as_root)
                if entries is not None:
                    stack.append((s, d, st, entries))
                continue
            except OSError as e:
                err = e
        if report is not None:
            report(s, d, err)
        if first is None:
            first = err
    return first


def _entries(path, st):
    """The names in directory PATH (lstat ST), last to copy first; None if no directory."""
    if not stat.S_ISDIR(st.st_mode):
        return None
    return sorted(os.listdir(path), reverse=True)


def _copy_one(src, dst, st, as_root, top=False):
    """Make DST a copy of SRC (lstat ST); a directory is only created (its entries and
    attributes come later), everything else gets its attributes here."""
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        if top:
            os.makedirs(dst, 0o700, exist_ok=True)
        else:
            try:
                os.mkdir(dst, 0o700)
            except FileExistsError:
                if not os.path.isdir(dst):
                    raise
        return
    if stat.S_ISREG(mode):
        _copy_bytes(src, dst, stat.S_IMODE(mode))
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(dst, stat.S_IMODE(mode))
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        os.mknod(dst, mode, st.st_rdev)
    else:
        raise OSError(errno.ENOTSUP, os.strerror(errno.ENOTSUP), src)
    _set_attrs(dst, st, as_root)


def pump(fin, fout):
    """Copy everything FIN has to give, to its end, into FOUT (both fds)."""
    while True:
        data = os.read(fin, _COPY_CHUNK)
        if not data:
            return
        while data:
            data = data[os.write(fout, data):]


def _copy_bytes(src, dst, mode):
    fin = os.open(src, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode & 0o777)
        try:
            pump(fin, fout)
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _set_attrs(path, st, as_root):
    """Owner (as root; chown first: it clears set-id bits), mode (not for a link: Linux
    has no link modes), then times, of ST onto PATH; a link itself is never followed."""
    link = stat.S_ISLNK(st.st_mode)
    if as_root:
        try:
            os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
        except OSError:
            pass            # as s6-hiercopy: an owner this system cannot give is no failure
    if not link:
        os.chmod(path, stat.S_IMODE(st.st_mode))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
