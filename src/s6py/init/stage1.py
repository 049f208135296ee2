"""Stage 1: check /run, build the run-time tree under it, dump the container environment,
and give the supervision tree its clean environment.

Everything here is quick and synchronous (no child process); signals that arrive meanwhile
wait in the loop's wake-up pipe and are handled as soon as the loop runs.

The tree (container paths; tests put it under a root prefix, see `Paths`):

    /run/s6/services/                              the scandir (v2's /var/run/s6/services)
    /run/service -> s6/services                    v3's name of it
    /run/s6/legacy-services -> services            v3's name of services.d's place
    /run/s6/etc/NAME -> /etc/NAME                  the user's directories (v1/v2 names)
    /run/s6/container_environment/                 one file per variable
    /run/s6/env-stage3/                            S6_STAGE2_EXITED may be written here
    /run/s6/basedir/bin/halt                       stops the container
    /run/s6-linux-init-container-results/exitcode  "0\\n" until someone writes another code

When /var/run is /run (a symlink, as on every current distribution) the /var/run/s6/...
names work through it.  Otherwise, when /var/run is writable and S6_READ_ONLY_ROOT is not
set, /var/run/s6/{services,container_environment,env-stage3} are made symlinks into /run.
"""

import errno
import os
import stat

from s6py.init import contenv

__all__ = ["RunError", "stage2_exited", "check_run", "build_tree", "tree_environment", "halt_script",
           "link_user_dirs", "write_file"]


class RunError(Exception):
    """/run cannot host the tree; the message is the one line to print.  UNWRITABLE: it
    only lacks write permission for us (a non-root user may then use fallback_run)."""

    def __init__(self, message, unwritable=False):
        super().__init__(message)
        self.unwritable = unwritable


def stage2_exited(paths):
    """Where S6_STAGE2_EXITED really lives (/var/run/s6/env-stage3 is a name for it)."""
    return os.path.join(paths.run, "s6", "env-stage3", "S6_STAGE2_EXITED")


def check_run(paths):
    """Raise RunError unless /run is a writable directory mounted with exec."""
    run = paths.run
    try:
        st = os.stat(run)
    except OSError:
        raise RunError("%s is missing: mount a tmpfs there (docker run --tmpfs /run:exec)" % run)
    if not stat.S_ISDIR(st.st_mode):
        raise RunError("%s is not a directory" % run)
    probe = os.path.join(run, ".s6py-init-probe.%d" % os.getpid())
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as e:
        if e.errno == errno.EROFS:
            raise RunError("%s is read-only: it must be a writable tmpfs (docker run --tmpfs /run:exec)" % run)
        raise RunError("%s is not writable by uid %d: %s (give it to the container user, or mount a tmpfs)"
                       % (run, os.geteuid(), e.strerror), unwritable=e.errno in (errno.EACCES, errno.EPERM))
    os.close(fd)
    os.unlink(probe)
    try:
        if os.statvfs(run).f_flag & os.ST_NOEXEC:
            raise RunError("%s is mounted noexec: services cannot run from it; remount it with exec"
                           " (docker run --tmpfs /run:exec)" % run)
    except OSError:
        pass


#: where a non-root /init puts the tree when /run is not its to write (container paths)
FALLBACK_RUN_PARENTS = ("/tmp", "/var/tmp")


def fallback_run(paths):
    """Paths whose run-time tree is a private directory of ours, /tmp/s6py-run-UID (or
    under /var/tmp), for a non-root /init that cannot write /run (podman's
    `--user 1000 --tmpfs /run` gives a root-owned 0755 tmpfs; s6-overlay's setuid helper
    chowns it, we have none).  Raises RunError (the original one's text) when no candidate
    is writable and mounted with exec."""
    uid = os.geteuid()
    problems = []
    for parent in FALLBACK_RUN_PARENTS:
        candidate = os.path.join(paths.at(parent), "s6py-run-%d" % uid)
        try:
            os.mkdir(candidate, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            problems.append("%s: %s" % (candidate, e.strerror))
            continue
        try:
            st = os.lstat(candidate)
        except OSError as e:
            problems.append("%s: %s" % (candidate, e.strerror))
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
            problems.append("%s: not a directory of uid %d" % (candidate, uid))
            continue
        moved = paths.replace(run_dir=candidate)
        try:
            check_run(moved)
        except RunError as e:
            problems.append(str(e))
            continue
        return moved
    raise RunError("no run-time tree: %s" % "; ".join(problems))


def _rmrf(path):
    """Remove PATH whatever it is; never follows a symlink."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        for name in os.listdir(path):
            _rmrf(os.path.join(path, name))
        os.rmdir(path)
    else:
        os.unlink(path)


def _mkdir(path, mode=0o755):
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
    os.chmod(path, mode)


def write_all(fd, data):
    """Write every byte of DATA to FD (os.write may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_file(path, data, mode=0o644):
    """Replace PATH by a file holding DATA with MODE, atomically (a temporary + rename)."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def relative_symlink(target, link):
    """LINK -> TARGET, relative (so it also works under a test root prefix)."""
    parent = os.path.realpath(os.path.dirname(link))
    rel = os.path.relpath(os.path.realpath(target), parent)
    try:
        if os.path.islink(link) and os.readlink(link) == rel:
            return
        _rmrf(link)
    except OSError:
        pass
    os.symlink(rel, link)


def halt_script(scandir):
    """The text of /run/s6/basedir/bin/halt: runs our `halt` with this interpreter and package."""
    from s6py import self_argv

    argv = self_argv("halt", "-s", scandir)
    return "#!/bin/sh\nexec %s \"$@\"\n" % " ".join(_shquote(a) for a in argv)


def _shquote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def build_tree(settings, paths, environ, say):
    """Create the run-time tree and dump ENVIRON (bytes dict).  Raises OSError on failure."""
    run = paths.run
    s6 = os.path.join(run, "s6")
    for stale in (s6, paths.scandir, paths.uncaught_logs,
                  os.path.dirname(paths.exitcode)):
        _rmrf(stale)
    _mkdir(s6)
    _mkdir(paths.real_scandir)
    relative_symlink(paths.real_scandir, paths.scandir)
    relative_symlink(paths.real_scandir, paths.legacy_services)
    _mkdir(os.path.join(s6, "env-stage3"))
    _mkdir(paths.basedir)
    _mkdir(os.path.join(paths.basedir, "bin"))
    write_file(paths.halt, halt_script(paths.scandir).encode(), 0o755)
    results = os.path.dirname(paths.exitcode)
    _mkdir(results)
    write_file(paths.exitcode, b"0\n")

    def skipped(name, reason):
        say.warn("container environment: variable %s not saved: %s" % (os.fsdecode(name), reason))

    contenv.dump(environ, paths.container_environment, contenv=True, on_skip=skipped)
    os.chmod(paths.container_environment, 0o755)
    _link_legacy_names(settings, paths, say)


def _link_legacy_names(settings, paths, say):
    """Make /var/run/s6/{services,container_environment,env-stage3} reach the /run tree."""
    s6 = os.path.join(paths.run, "s6")
    varrun = paths.at("/var/run")
    try:
        same = os.path.realpath(varrun) == os.path.realpath(paths.run)
    except OSError:
        same = False
    if same or paths.run_dir is not None:
        return  # through /var/run -> /run already; or a fallback tree, said once by main
    if settings.read_only_root:
        say.debug("read-only root: %s/s6 left alone (use the /run names)" % varrun)
        return
    try:
        if not os.path.isdir(varrun):
            os.makedirs(varrun, 0o755)
        legacy = os.path.join(varrun, "s6")
        _mkdir(legacy)
        for name in ("services", "container_environment", "env-stage3"):
            target = paths.scandir if name == "services" else os.path.join(s6, name)
            relative_symlink(target, os.path.join(legacy, name))
    except OSError as e:
        say.info("unable to create the /var/run/s6 names (%s): use the /run names"
                 % (e.strerror or e))


def link_user_dirs(paths, directories):
    """/run/s6/etc/NAME -> the user's directory, for each NAME: DIRECTORY (v1/v2 made
    /var/run/s6/etc the place scripts found them; it is /run/s6/etc through /var/run)."""
    _mkdir(paths.runtime_etc)
    for name, directory in directories.items():
        relative_symlink(directory, os.path.join(paths.runtime_etc, name))


def tree_environment(settings, environ, root_prefix=None):
    """The environment of the supervision tree and the stage scripts (bytes dict):
    PATH only, unless S6_KEEP_ENV.  S6PY_ROOT (our test prefix) is kept so our helpers
    find the tree."""
    if settings.keep_env:
        env = dict(environ)
        env[b"PATH"] = os.fsencode(settings.path)
        return env
    env = contenv.clean_environment(settings.path)
    if root_prefix is not None:
        env[b"S6PY_ROOT"] = root_prefix
    return env
