"""The `S6_*` knobs, parsed once into one immutable object.

`Settings.from_environ(environ)` reads every variable s6-overlay documents (see
docs/environment.md for the table).  It never raises: a value it cannot use is replaced by
the default and one line describing the problem is added to `settings.problems`, which the
caller prints with its own prefix.  An empty value counts as unset (`docker run -e S6_X=`).

The run-time tree's fixed paths are in init/paths.py (`Paths`, imported here too so that
/init names both from one place).
"""

import os

from s6py.init.paths import Frozen, Paths

__all__ = ["Settings", "Paths", "DEFAULT_PATH", "TREE_PATH", "fix_path"]

# PATH given to /init when the container has none (s6-overlay's /init does the same).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Directories forced into PATH so the tree always finds our commands and a shell.
FORCED_PATH = ("/command", "/usr/bin", "/bin")
# PATH of the clean ("PATH only") environment of v1/v2 when nothing better is known.
TREE_PATH = "/command:/usr/bin:/usr/sbin:/bin:/sbin"

#: file descriptors are C ints
MAX_FD = 2 ** 31 - 1

_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}


def fix_path(path):
    """The container's PATH (or DEFAULT_PATH) with /command, /usr/bin and /bin appended if missing."""
    parts = [p for p in (path or DEFAULT_PATH).split(":")]
    for d in FORCED_PATH:
        if d not in parts:
            parts.append(d)
    return ":".join(parts)


class _Reader:
    """Reads typed values out of an environment mapping, collecting one line per bad value."""

    def __init__(self, environ):
        if environ and isinstance(next(iter(environ)), bytes):
            environ = {os.fsdecode(k): os.fsdecode(v) for k, v in environ.items()}
        self.environ = environ
        self.problems = []

    def raw(self, name):
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value

    def bad(self, name, value, expected, default):
        """DEFAULT, and one line saying so."""
        self.problems.append(
            "%s=%r is not %s: using the default, %s" % (name, value, expected, default)
        )
        return default

    def _number(self, name):
        """(NAME's raw value, that value as a non-negative integer or None); (None, None)
        when NAME is not set."""
        value = self.raw(name)
        if value is None:
            return None, None
        text = value.strip()
        return value, (int(text) if text.isascii() and text.isdigit() else None)

    def integer(self, name, default, minimum=0, expected="a number"):
        value, number = self._number(name)
        if value is None:
            return default
        if number is not None and number >= minimum:
            return number
        return self.bad(name, value, expected, default)

    def integers(self, name, defaults, expected="a number"):
        """NAME read once for two meanings with defaults of their own (DEFAULTS, a pair):
        its value for both when it is good, else each its default (one line when bad)."""
        value, number = self._number(name)
        if value is None:
            return defaults
        if number is not None:
            return number, number
        self.bad(name, value, expected, defaults[0])
        return defaults

    def flag(self, name, default=False):
        """s6-overlay tests `0$VAR -ne 0`: any non-zero integer is true.  Words are accepted too."""
        value, number = self._number(name)
        if value is None:
            return default
        if number is not None:
            return number != 0
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return self.bad(name, value, "0 or 1", int(default))

    def choice(self, name, default, allowed, clamp_above=None):
        value, number = self._number(name)
        if value is None:
            return default
        if number is not None:
            if clamp_above is not None and number > clamp_above:
                return clamp_above
            if number in allowed:
                return number
        return self.bad(name, value, "one of " + ", ".join(map(str, allowed)), default)

    def string(self, name, default=None):
        value = self.raw(name)
        return default if value is None else value


def split_arg0(value):
    """S6_CMD_ARG0 as argv words: one word per line if it has newlines (v1/v2), else split on blanks (v3)."""
    if value is None:
        return ()
    if "\n" in value:
        return tuple(w for w in value.split("\n") if w != "")
    return tuple(value.split())


_SETTINGS_DEFAULTS = (
    ("keep_env", False),
    ("logging", 0),
    ("logging_script", ("n20", "s1000000", "T")),
    ("catchall_user", "root"),
    ("behaviour_if_stage2_fails", 0),
    ("kill_finish_maxtime", 5000),
    ("kill_gracetime", 3000),
    ("services_gracetime", 3000),
    ("services_readytime", 50),
    ("cmd_arg0", ()),
    ("cmd_wait_for_services", False),
    ("cmd_wait_for_services_maxtime", 5000),
    ("rc_wait_maxtime", 0),
    ("cmd_use_terminal", False),
    ("cmd_receive_signals", False),
    ("fix_attrs_hidden", False),
    ("read_only_root", False),
    ("sync_disks", False),
    ("runtime_profile", None),
    ("runtime_bundledir", None),
    ("stage2_hook", ()),
    ("verbosity", 2),
    ("world_writable_run_ok", False),
    ("wait_for_closing_fd", 0),
    ("path", fix_path(None)),
    ("problems", ()),
)


class Settings(Frozen):
    """Every S6_* knob /init and its helpers obey (immutable).  Times are milliseconds; 0
    means "no limit" for kill_finish_maxtime and cmd_wait_for_services_maxtime.  `problems`
    holds one line per bad value that was replaced by its default."""

    __slots__ = tuple(name for name, _ in _SETTINGS_DEFAULTS)
    _defaults = _SETTINGS_DEFAULTS

    @classmethod
    def from_environ(cls, environ=None):
        """Parse ENVIRON (default os.environ; str or bytes mapping).  Never raises."""
        r = _Reader(os.environ if environ is None else environ)
        logging_script = r.string("S6_LOGGING_SCRIPT")
        hook = r.string("S6_STAGE2_HOOK")
        # S6_CMD_WAIT_FOR_SERVICES_MAXTIME: services.d's wait (v1/v2 default 5000) and, in
        # an s6-rc image, s6-rc's (v3 default 0, no limit)
        wait_maxtime, rc_wait_maxtime = r.integers("S6_CMD_WAIT_FOR_SERVICES_MAXTIME", (5000, 0),
                                                   expected="a time in ms")
        wait_fd = r.integer("S6_WAIT_FOR_CLOSING_FD", 0, expected="a file descriptor number")
        if wait_fd > MAX_FD:
            wait_fd = r.bad("S6_WAIT_FOR_CLOSING_FD", str(wait_fd), "a file descriptor number", 0)
        if wait_fd in (1, 2):
            wait_fd = r.bad("S6_WAIT_FOR_CLOSING_FD", str(wait_fd), "0 or a descriptor >= 3", 0)
        return cls(
            keep_env=r.flag("S6_KEEP_ENV"),
            logging=r.choice("S6_LOGGING", 0, (0, 1, 2)),
            logging_script=tuple(logging_script.split()) if logging_script else cls().logging_script,
            catchall_user=r.string("S6_CATCHALL_USER", "root"),
            behaviour_if_stage2_fails=r.choice(
                "S6_BEHAVIOUR_IF_STAGE2_FAILS", 0, (0, 1, 2), clamp_above=2
            ),
            kill_finish_maxtime=r.integer("S6_KILL_FINISH_MAXTIME", 5000, expected="a time in ms"),
            kill_gracetime=r.integer("S6_KILL_GRACETIME", 3000, expected="a time in ms"),
            services_gracetime=r.integer("S6_SERVICES_GRACETIME", 3000, expected="a time in ms"),
            services_readytime=r.integer("S6_SERVICES_READYTIME", 50, expected="a time in ms"),
            cmd_arg0=split_arg0(r.string("S6_CMD_ARG0")),
            cmd_wait_for_services=r.flag("S6_CMD_WAIT_FOR_SERVICES"),
            cmd_wait_for_services_maxtime=wait_maxtime,
            rc_wait_maxtime=rc_wait_maxtime,
            cmd_use_terminal=r.flag("S6_CMD_USE_TERMINAL"),
            cmd_receive_signals=r.flag("S6_CMD_RECEIVE_SIGNALS"),
            fix_attrs_hidden=r.flag("S6_FIX_ATTRS_HIDDEN"),
            read_only_root=r.flag("S6_READ_ONLY_ROOT"),
            sync_disks=r.flag("S6_SYNC_DISKS"),
            runtime_profile=r.string("S6_RUNTIME_PROFILE"),
            runtime_bundledir=r.string("S6_RUNTIME_BUNDLEDIR") or None,
            stage2_hook=tuple(hook.split()) if hook else (),
            verbosity=r.integer("S6_VERBOSITY", 2, expected="a verbosity level (0 to 3)"),
            world_writable_run_ok=r.flag("S6_YES_I_WANT_A_WORLD_WRITABLE_RUN_BECAUSE_KUBERNETES"),
            wait_for_closing_fd=wait_fd,
            path=fix_path(r.string("PATH")),
            problems=tuple(r.problems),
        )
