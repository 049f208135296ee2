"""User files that must be executable: v1/v2's fix-up at boot, and running what stays not.

Images written for s6-overlay 1/2 ship their scripts with whatever mode git gave them,
0644 more often than not: v2's stage 2 made them executable at every boot
(`[s6-init] ensuring user provided files have correct perms...`, a fix-attrs run of a
built-in list, non-recursive, owner root).  `fix_modes()` does the same, on the same set:

    fix-attrs.d/*            0644      cont-init.d/*, cont-finish.d/*          0755
    services.d/*/run, finish, log/run, log/finish, data/check                  0755

A matched file is opened with O_NOFOLLOW and changed through its fd, so a symlink planted
there (or swapped in meanwhile) is never followed: only what the image put there changes.
The chown to root is done only when we are root; files already right are not touched.

Where a file cannot be changed (read-only root or bind mount, not ours, S6_READ_ONLY_ROOT),
it still runs, as it did under v2: `runnable()` gives the argv that runs it anyway, the
`#!` line's interpreter with the script as its argument (what the kernel would have
done), or a private executable copy for a file without one.  Services need neither: their
directories are copied under /run, and the copy's run, finish... are made 0755.
"""

import errno
import os
import stat

__all__ = ["RULES", "SERVICE_EXECUTABLES", "fix_modes", "runnable"]

#: (user directory, path pattern under it, mode) of v2's init-stage2-fixattrs.txt
RULES = (
    ("fix-attrs.d", ("*",), 0o644),
    ("cont-init.d", ("*",), 0o755),
    ("cont-finish.d", ("*",), 0o755),
    ("services.d", ("*", "run"), 0o755),
    ("services.d", ("*", "finish"), 0o755),
    ("services.d", ("*", "log", "run"), 0o755),
    ("services.d", ("*", "log", "finish"), 0o755),
    ("services.d", ("*", "data", "check"), 0o755),
)

#: files of a service directory made 0755 in its copy under /run
SERVICE_EXECUTABLES = ("run", "finish", "log/run", "log/finish", "data/check")

_UNCHANGEABLE = (errno.EROFS, errno.EPERM, errno.EACCES)


def _matches(directory, pattern):
    """Paths under DIRECTORY matching PATTERN (a tuple of names, "*" for any entry but dot
    files, as v2's glob)."""
    found = [directory]
    for part in pattern:
        following = []
        for base in found:
            if part != "*":
                following.append(os.path.join(base, part))
                continue
            try:
                names = sorted(os.listdir(base))
            except OSError:
                continue
            following.extend(os.path.join(base, n) for n in names if not n.startswith("."))
        found = following
    return found


def _fix_one(path, mode, as_root):
    """Give PATH (never through a symlink) MODE, and owner root when AS_ROOT.

    Returns None when PATH is now right (or is a link, or gone), else the OSError that
    stopped us."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO):
            return None  # gone (or under a non-directory), a symlink, a socket: nothing to change
        return e
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return None
        wanted = 0o755 if stat.S_ISDIR(st.st_mode) else mode
        try:
            if as_root and (st.st_uid, st.st_gid) != (0, 0):
                os.fchown(fd, 0, 0)
            if stat.S_IMODE(st.st_mode) != wanted:
                os.fchmod(fd, wanted)
        except OSError as e:
            return e
        return None
    finally:
        os.close(fd)


def fix_modes(user_dir, read_only=False):
    """Apply RULES to the user's directories (USER_DIR(name) -> path).

    Returns [(path, OSError)]: the scripts that stay not executable.  With READ_ONLY
    (S6_READ_ONLY_ROOT) nothing is changed: only the files that would need it are
    reported."""
    as_root = os.geteuid() == 0
    stuck = []
    for name, pattern, mode in RULES:
        for path in _matches(user_dir(name), pattern):
            if read_only:
                if mode & 0o100 and not _is_executable_file(path):
                    stuck.append((path, OSError(errno.EROFS, "S6_READ_ONLY_ROOT is set")))
                continue
            problem = _fix_one(path, mode, as_root)
            if problem is None:
                continue
            if problem.errno in _UNCHANGEABLE and not (mode & 0o100 and not _is_executable_file(path)):
                continue  # could not chown or chmod, but it runs as it is
            stuck.append((path, problem))
    return stuck


def _is_executable_file(path):
    try:
        st = os.lstat(path)
    except OSError:
        return True  # gone: nothing to run
    if not stat.S_ISREG(st.st_mode):
        return True  # a link or a directory: exec reports what it is
    return os.access(path, os.X_OK)


def shebang(path):
    """The argv prefix of PATH's `#!` line as the kernel reads it ([interpreter] or
    [interpreter, one argument]), or None when it has none."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].strip(b" \t\r")
    if not line:
        return None
    end = next((i for i, c in enumerate(line) if c in b" \t"), len(line))
    argv = [os.fsdecode(line[:end])]
    rest = line[end:].strip(b" \t")
    if rest:
        argv.append(os.fsdecode(rest))  # the kernel passes the rest as one argument
    return argv


def runnable(path, copies_dir):
    """The argv that runs the script PATH: [PATH] when it is executable (or not a regular
    file: exec then says what is wrong), else its `#!` interpreter with PATH, else a 0755
    copy of it in COPIES_DIR (created when needed)."""
    if _is_executable_file(path):
        return [path]
    interpreter = shebang(path)
    if interpreter is not None:
        return interpreter + [path]
    copy = os.path.join(copies_dir, os.path.basename(path))
    try:
        os.makedirs(copies_dir, 0o700, exist_ok=True)
        with open(path, "rb") as f:
            data = f.read()
        from s6py.init.stage1 import write_file
        write_file(copy, data, 0o755)
    except OSError:
        return [path]  # exec then reports the real problem
    return [copy]
