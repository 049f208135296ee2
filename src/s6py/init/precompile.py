"""Compile PID 1's modules in a child, before PID 1 imports them.

The noarch tarball ships sources only, so in a fresh container the first import of each
module compiles it.  Compiling leaves its garbage (syntax trees, the compiler's tables)
in the interpreter's small-object arenas, which are never given back while one object in
them lives: PID 1 of a fresh container held about 2.4 MB more than the same PID 1 started
from bytecode (measured in podman: 12.1 against 9.7 MB PSS, the bare interpreter 7.7),
for the container's whole life.  So the launcher, when it starts /init and finds no
bytecode of the boot where it could write some, forks a child that runs compile_boot()
(it imports the modules of the boot, which writes their bytecode to `__pycache__`) and
waits for it; PID 1 then loads bytecode, as from an image built with `python3 -m
compileall`.  That costs the fork and the loading, a few milliseconds on the first boot
of a container; later boots of the same container, images with bytecode (`--bytecode`,
compileall, the bundle, which has no sources) and read-only roots skip it.  The launcher
(build/overlay.py) does the checks itself, so PID 1 compiles not even this module.

The child imports modules: their top level only defines things.  What the boot imports
later, inside a function, PID 1 compiles as before (a few small modules).
"""

import os

__all__ = ["compile_boot"]


def compile_boot(root=None):
    """In the launcher's child: import (and so compile) the boot's modules, and an s6-rc
    boot's when there is an /etc/s6-overlay/s6-rc.d.  Never raises: what is not compiled
    here PID 1 compiles.  With more than one CPU, the s6-rc and logger modules are compiled
    by a second child meanwhile (compiling is CPU-bound: 55 -> 39 ms for an s6-rc image on
    2 cores), which this one waits for, so that PID 1 finds everything written."""
    root = root or os.environ.get("S6PY_ROOT") or "/"
    rc = os.path.join(root, "etc/s6-overlay/s6-rc.d")
    extra = []
    if os.path.isdir(rc):
        extra.append(_rc_modules)
    if _any(os.path.join(root, "etc/services.d"), "log/run") or _any(rc, "consumer-for"):
        extra.append(_logger_modules)
    helper = _in_a_child(extra) if extra and (os.cpu_count() or 1) > 1 else None
    for part in [_boot_modules] + ([] if helper else extra):
        _quietly(part)
    if helper:
        try:
            os.waitpid(helper, 0)
        except OSError:
            pass


def _quietly(part):
    try:
        part()
    except Exception:
        pass


def _in_a_child(parts):
    """The pid of a child running PARTS, or None when there is no child to be had."""
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:
        try:
            for part in parts:
                _quietly(part)
        finally:
            os._exit(0)
    return pid


def _any(directory, name):
    """Some DIRECTORY/*/NAME exists (a services.d service with a logger, an s6-rc consumer)."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return False
    return any(os.path.exists(os.path.join(directory, entry, name)) for entry in entries)


def _boot_modules():
    """What every boot imports: the command line, init.main's stages, the engine (with
    what they import at their top level: the wire formats, diag...)."""
    import s6py.cli  # noqa: F401
    import s6py.cmd.forkhook  # noqa: F401
    import s6py.engine.fdreserve  # noqa: F401
    import s6py.engine.loop  # noqa: F401
    import s6py.engine.scanner  # noqa: F401
    import s6py.engine.service  # noqa: F401
    import s6py.engine.spawn  # noqa: F401
    import s6py.engine.supervisor  # noqa: F401
    import s6py.init.command_process  # noqa: F401
    import s6py.init.contenv  # noqa: F401
    import s6py.init.exitcode  # noqa: F401
    import s6py.init.main  # noqa: F401
    import s6py.init.messages  # noqa: F401
    import s6py.init.paths  # noqa: F401
    import s6py.init.perms  # noqa: F401
    import s6py.init.scripts  # noqa: F401
    import s6py.init.settings  # noqa: F401
    import s6py.init.stage1  # noqa: F401
    import s6py.init.stage2  # noqa: F401
    import s6py.init.stage3  # noqa: F401
    import s6py.init.steps  # noqa: F401
    import s6py.init.v3tree  # noqa: F401
    import s6py.launch  # noqa: F401


def _rc_modules():
    """Also what the s6-rc boot imports inside functions: the parser of `up`/`down`
    (execline.lexer) and the database writer's file helpers (execline.portable)."""
    import s6py.cmd.forkedrun  # noqa: F401
    import s6py.execline.core  # noqa: F401
    import s6py.execline.lexer  # noqa: F401
    import s6py.execline.portable  # noqa: F401
    import s6py.init.rc  # noqa: F401
    import s6py.rc.compiled  # noqa: F401
    import s6py.rc.control  # noqa: F401
    import s6py.rc.graph  # noqa: F401
    import s6py.rc.source  # noqa: F401
    import s6py.rc.transitions  # noqa: F401
    import s6py.rc.workers  # noqa: F401


def _logger_modules():
    """A recognised logger runs forked from PID 1 or in a log host, and PID 1 imports
    their modules first (log.hosting: shared pages)."""
    import s6py.cmd.forkedlog  # noqa: F401
    import s6py.log.host  # noqa: F401
    import s6py.log.hosting  # noqa: F401
    import s6py.log.runscript  # noqa: F401
