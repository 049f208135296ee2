"""`Paths(root)`: every fixed path of the run-time tree, in one place; `root` is "/" in a
container and a temporary directory in tests (S6PY_ROOT).

Apart from settings.py because helpers need the paths and not the knobs: with-contenv and
printcontenv find the container environment through here, and a module they import is
start-up time every call of theirs pays.
"""

import os

__all__ = ["Paths", "Frozen"]


class Frozen:
    """Immutable record: attributes are set once by __init__ (no dataclasses: importing them
    costs ~15 ms, and every helper command is a fresh interpreter).  Settings is one too."""

    __slots__ = ()
    _defaults = ()

    def __init__(self, **values):
        for name, default in self._defaults:
            object.__setattr__(self, name, values.pop(name, default))
        if values:
            raise TypeError("unknown field(s): " + ", ".join(sorted(values)))

    def __setattr__(self, name, value):
        raise AttributeError("%s is immutable" % type(self).__name__)

    __delattr__ = __setattr__

    def _items(self):
        return tuple((name, getattr(self, name)) for name, _ in self._defaults)

    def __eq__(self, other):
        return type(other) is type(self) and self._items() == other._items()

    def __hash__(self):
        return hash(self._items())

    def __repr__(self):
        return "%s(%s)" % (
            type(self).__name__,
            ", ".join("%s=%r" % item for item in self._items()),
        )

    def replace(self, **changes):
        values = dict(self._items())
        values.update(changes)
        return type(self)(**values)


class Paths(Frozen):
    """The run-time tree's fixed paths under ROOT ("/" in a container).

    RUN_DIR is where the tree lives when it cannot be /run (a non-root user facing a /run
    it cannot write: stage1.fallback_run); None means ROOT/run."""

    __slots__ = ("root", "run_dir")
    _defaults = (("root", "/"), ("run_dir", None))

    def __init__(self, root="/", run_dir=None):
        super().__init__(root=root, run_dir=run_dir)

    def at(self, path):
        """PATH (absolute, container view) as seen from here."""
        return os.path.join(self.root, path.lstrip("/"))

    def shown(self, path):
        """PATH (as seen from here) as the container sees it: at()'s inverse, for lines."""
        return "/" + os.path.relpath(path, self.root)

    def in_run(self, rel):
        """REL under the run-time tree's top (/run)."""
        return os.path.join(self.run, rel)

    # --- what users hard-code (v3 names, and the v1/v2 names that must keep working)
    @property
    def run(self):
        return self.run_dir or self.at("/run")

    @property
    def scandir(self):
        """/run/service, v3's name of the scandir: a link to real_scandir."""
        return self.in_run("service")

    @property
    def real_scandir(self):
        """/run/s6/services: the scandir itself, v2's /var/run/s6/services through
        /var/run -> /run, so a service's real directory is v2's (wrappers test it)."""
        return self.in_run("s6/services")

    @property
    def legacy_services(self):
        """/run/s6/legacy-services, v3's place for services.d: a link to real_scandir."""
        return self.in_run("s6/legacy-services")

    @property
    def script_copies(self):
        """Executable copies of user scripts that are not executable and have no #! line."""
        return self.in_run("s6/script-copies")

    @property
    def legacy_scandir(self):
        """/var/run/s6/services: v1/v2 finish scripts `s6-svscanctl -t` it; names the scandir."""
        return self.at("/var/run/s6/services")

    @property
    def container_environment(self):
        return self.in_run("s6/container_environment")

    @property
    def legacy_container_environment(self):
        return self.at("/var/run/s6/container_environment")

    @property
    def basedir(self):
        return self.in_run("s6/basedir")

    @property
    def halt(self):
        return self.in_run("s6/basedir/bin/halt")

    @property
    def exitcode(self):
        return self.in_run("s6-linux-init-container-results/exitcode")

    @property
    def env_stage3(self):
        return self.at("/var/run/s6/env-stage3")

    @property
    def stage2_exited(self):
        """v1/v2 way to set the container's exit code from a finish script."""
        return self.at("/var/run/s6/env-stage3/S6_STAGE2_EXITED")

    @property
    def runtime_etc(self):
        """Where the user's fix-attrs.d ... services.d are made available (v1/v2 /var/run/s6/etc)."""
        return self.in_run("s6/etc")

    @property
    def uncaught_logs(self):
        return self.in_run("uncaught-logs")

    # --- the user's directories
    def user_etc(self, profile=None):
        """/etc, or /etc/cont-profile.d/PROFILE when S6_RUNTIME_PROFILE is set."""
        if profile:
            return self.at("/etc/cont-profile.d/" + profile)
        return self.at("/etc")

    def user_dir(self, name, profile=None):
        """One of fix-attrs.d, cont-init.d, cont-finish.d, services.d."""
        return os.path.join(self.user_etc(profile), name)

    @classmethod
    def from_environ(cls, environ=None):
        """Paths under $S6PY_ROOT when set (tests, chroot-less trials), else under /;
        the run-time tree in $S6PY_RUN when set (what /init exports when it had to put
        it elsewhere than /run)."""
        environ = os.environ if environ is None else environ
        if environ and isinstance(next(iter(environ)), bytes):
            root, run_dir = environ.get(b"S6PY_ROOT"), environ.get(b"S6PY_RUN")
            root = os.fsdecode(root) if root else None
            run_dir = os.fsdecode(run_dir) if run_dir else None
        else:
            root, run_dir = environ.get("S6PY_ROOT"), environ.get("S6PY_RUN")
        return cls(root or "/", run_dir or None)
