"""The container environment: one file per variable in a directory, written and read back.

Writing (`dump`) is s6-dumpenv: for each variable NAME=VALUE a file NAME holding VALUE, no
trailing newline added, written under a temporary name containing '=' and renamed (so a
reader never sees half a file: envdir readers skip names with '=').  A name that cannot be
a file name (empty, '.', '..', containing '/', too long) is skipped and reported.

Reading (`read_envdir`) is s6-envdir: for each file not starting with '.' and without '=',
an empty file unsets the variable; otherwise the first line, with trailing blanks removed
(or the whole file with `verbatim`), NULs turned into newlines, at most 4095 bytes unless
`clamp=False`.

The container environment that /init writes and `with-contenv` reads uses one refinement of
the plain format so that every value comes back byte for byte: `with-contenv` reads files
verbatim minus one final newline (s6-overlay 3's `s6-envdir -Lf`), so a value that itself
ends with a newline, and an empty value (an empty file would mean "unset"), is written with
one extra newline.  Every other value is written as is,
which also means `echo VALUE > /run/s6/container_environment/NAME` (a newline added) and
`printf VALUE > ...` (none) both give VALUE.
"""

import errno
import os
import stat

from s6py import original_environ

__all__ = [
    "CLAMP",
    "original_environ",
    "dump",
    "read_envdir",
    "apply",
    "load_contenv",
    "read_contenv_var",
    "clean_environment",
    "find_contenv_dir",
    "environ_bytes",
]

# s6-envdir (without -L) reads at most this many bytes of each file.
CLAMP = 4095


def environ_bytes(environ=None):
    """ENVIRON (default: the one we were started with) as a dict of bytes -> bytes."""
    if environ is None:
        return original_environ()
    out = {}
    for k, v in environ.items():
        out[os.fsencode(k)] = os.fsencode(v)
    return out


def _bad_name(name):
    if name in (b"", b".", b".."):
        return "not a possible file name"
    if b"/" in name:
        return "contains '/'"
    if b"\0" in name:
        return "contains a NUL byte"
    return None


def dump(environ, directory, mode=0o755, newline=False, contenv=False, on_skip=None):
    """Write ENVIRON (bytes or str mapping) into DIRECTORY, one file per variable.

    The directory is created with MODE if missing (its parent must exist).  newline: add
    "\\n" to every value (s6-dumpenv -N).  contenv: the container-environment refinement
    described in the module docstring.  on_skip(name, reason) is called for each variable
    that cannot be stored; returns the list of skipped names.  Other errors raise OSError.
    """
    try:
        os.mkdir(directory, mode)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), directory) from None
    dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    skipped = []
    try:
        for name, value in environ.items():
            name = os.fsencode(name)
            value = os.fsencode(value)
            reason = _bad_name(name)
            if reason is None and len(name) > 250:
                reason = "name too long for a file"
            if reason is not None:
                skipped.append(name)
                if on_skip:
                    on_skip(name, reason)
                continue
            if newline or (contenv and (value == b"" or value.endswith(b"\n"))):
                value += b"\n"
            tmp = name + b"=.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644, dir_fd=dirfd)
            try:
                view = memoryview(value)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
    finally:
        os.close(dirfd)
    return skipped


def _read_value(dirfd, name, verbatim, chomp, clamp, nullis):
    """The value file NAME gives (bytes), or None for "unset".  OSError on trouble."""
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fsdecode(name))
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode)):
            # A fifo or socket would block the real s6-envdir forever; refuse it instead.
            raise OSError(errno.EINVAL, "not a regular file", os.fsdecode(name))
        chunks = []
        size = 0
        limit = CLAMP if clamp else None
        while limit is None or size < limit:
            chunk = os.read(fd, 65536 if limit is None else limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if not verbatim and b"\n" in chunk:
                break
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if not data:
        return None
    if verbatim:
        if chomp and data.endswith(b"\n"):
            data = data[:-1]
    else:
        data = data.split(b"\n", 1)[0]
        if chomp:
            data = data.rstrip(b" \t")
    if b"\0" in data:
        data = data.replace(b"\0", nullis)
    return data


def read_envdir(directory, verbatim=False, chomp=True, clamp=True, nullis=b"\n", on_error=None):
    """s6-envdir's reading of DIRECTORY: a list of (name, value-or-None), sorted by name.

    With on_error=None any unreadable entry raises OSError (s6-envdir fails as a whole);
    otherwise on_error(name, exc) is called and the entry is skipped.  A missing or
    unreadable DIRECTORY always raises."""
    dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        result = []
        for name in sorted(os.listdir(dirfd)):
            name = os.fsencode(name)
            if name.startswith(b".") or b"=" in name:
                continue
            try:
                value = _read_value(dirfd, name, verbatim, chomp, clamp, nullis)
            except OSError as e:
                if on_error is None:
                    raise
                on_error(name, e)
                continue
            result.append((name, value))
        return result
    finally:
        os.close(dirfd)


def apply(environ, entries):
    """Apply read_envdir ENTRIES to the bytes dict ENVIRON in place (None unsets)."""
    for name, value in entries:
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def clean_environment(path):
    """The "PATH only" environment the supervision tree runs with (unless S6_KEEP_ENV)."""
    return {b"PATH": os.fsencode(path)}


def find_contenv_dir(paths):
    """/run/s6/container_environment, else /var/run/s6/container_environment, else None."""
    for d in (paths.container_environment, paths.legacy_container_environment):
        if os.path.isdir(d):
            return d
    return None


def load_contenv(directory, path=None, on_error=None):
    """The environment with-contenv gives: PATH (PATH or ours) plus DIRECTORY's variables."""
    env = {}
    if path is None:
        path = os.environb.get(b"PATH")  # PATH only: Python never changes it
    if path is not None:
        env[b"PATH"] = os.fsencode(path)
    entries = read_envdir(directory, verbatim=True, chomp=True, clamp=False, on_error=on_error)
    return apply(env, entries)


def read_contenv_var(directory, name):
    """One variable of the container environment (bytes), or None if absent/unset."""
    name = os.fsencode(name)
    if _bad_name(name) or name.startswith(b".") or b"=" in name:
        return None
    try:
        dirfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _read_value(dirfd, name, True, True, False, b"\n")
    except OSError:
        return None
    finally:
        os.close(dirfd)
