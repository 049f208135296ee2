"""The logging script: directives turned into script elements, as s6-log 2.11 reads them.

Parsing happens in two passes like s6's: the first checks each directive's shape (its first
character, and that `f t T 1 2` stand alone and `=` has a file), and that an action exists;
the second reads the values left to right, compiles the regexps and opens each log
directory at its place in the script, so a bad directive after a logdir fails after that
logdir was created, exactly as in s6.
"""


class ScriptError(Exception):
    """A fatal script error: the message s6-log prints after `fatal: `, exit code 100."""


class Sel:
    """A selection's kind (plain constants: `enum` and `re` cost a logger 1 MB and
    milliseconds at start, and only a script with a regexp needs `re`)."""

    DEFAULT = "f"
    PLUS = "+"
    MINUS = "-"


class Act:
    """An action's kind."""

    STDOUT = "1"
    ALERT = "2"
    STATUS = "="
    LOGDIR = "/"


class Selection:
    __slots__ = ("kind", "regex")

    def __init__(self, kind, regex=None):
        self.kind = kind
        self.regex = regex


class Action:
    """One action with what it prepends: `stamps` = (tai, iso) flags, `prefix` bytes."""

    __slots__ = ("kind", "tai", "iso", "prefix", "size", "target")

    def __init__(self, kind, tai, iso, prefix, size=0, target=None):
        self.kind = kind
        self.tai = tai
        self.iso = iso
        self.prefix = prefix
        self.size = size      # E (alert) or ^ (status) size
        self.target = target  # status file name, or the Logdir object


class Element:
    """Selections then actions: one `script elem` of s6-log."""

    __slots__ = ("selections", "actions")

    def __init__(self, selections):
        self.selections = selections
        self.actions = []


class LogdirSettings:
    """The sticky control directives in force when a logdir directive is met."""

    __slots__ = ("path", "n", "s", "tolerance", "maxdirsize", "retry_ms", "processor")

    def __init__(self, path, n, s, tolerance, maxdirsize, retry_ms, processor):
        self.path = path
        self.n = n
        self.s = s
        self.tolerance = tolerance
        self.maxdirsize = maxdirsize
        self.retry_ms = retry_ms
        self.processor = processor  # None, or (interpreter argv prefix, command string)


def _uint(text, bits=32):
    if not text or not text.isdigit() or not text.isascii():
        raise ValueError(text)
    v = int(text)
    if v >= 1 << bits:
        raise ValueError(text)
    return v


def check(argv, warn):
    """First pass: shapes only.  Raises ScriptError; calls WARN(message) for warnings."""
    acted = False
    elements = 0
    for d in argv:
        c = d[:1]
        if c == "f":
            if d[1:]:
                raise ScriptError("syntax error at directive: " + d)
        if c in ("f", "+", "-"):
            if acted:
                elements += 1
                acted = False
        elif c in ("n", "s", "S", "l", "r", "E", "^", "!", "?", "p"):
            pass
        elif c in ("t", "T", "1", "2"):
            if d[1:]:
                raise ScriptError("syntax error at directive: " + d)
            if c in ("1", "2"):
                acted = True
        elif c in (".", "/"):
            acted = True
        elif c == "=":
            if not d[1:]:
                raise ScriptError("syntax error at directive: " + d)
            acted = True
        else:
            raise ScriptError("unrecognized directive: " + d)
    if acted:
        elements += 1
    elif elements:
        warn("ignoring extraneous non-action directives")
    else:
        raise ScriptError("no action directive specified")


def parse(argv, open_logdir, processor_shell):
    """Second pass: a list of Elements.  OPEN_LOGDIR(LogdirSettings) returns the logdir
    object (and may exit on failure); PROCESSOR_SHELL(kind) gives the argv prefix for `!`
    (execlineb -Pc) or `?` (/bin/sh -c) processors."""
    n, s, tolerance, maxdirsize, retry_ms = 10, 99999, 2000, 0, 2000
    alert_size, status_size = 200, 1001
    processor = None
    prefix = b""
    tai = iso = False
    elements = []
    current = None
    acted = False
    for d in argv:
        c, arg = d[:1], d[1:]
        try:
            if c in ("f", "+", "-"):
                if c == "f":
                    sel = Selection(Sel.DEFAULT)
                else:
                    from . import posixre  # only a script with a regexp needs `re`

                    try:
                        regex = posixre.compile(arg.encode("utf-8", "surrogateescape"))
                    except posixre.PatternError:
                        raise ValueError(d) from None
                    sel = Selection(Sel.PLUS if c == "+" else Sel.MINUS, regex)
                if current is None or acted:
                    current = Element([])
                    elements.append(current)
                    acted = False
                current.selections.append(sel)
                continue
            if c == "n":
                n = _uint(arg)
            elif c == "s":
                s = min(max(_uint(arg), 4096), 268435455)
            elif c == "S":
                maxdirsize = _uint(arg, 64)
            elif c == "l":
                tolerance = _uint(arg)
                if tolerance > s >> 1:
                    raise ScriptError("directive %s conflicts with previous s directive" % d)
            elif c == "r":
                retry_ms = _uint(arg)
            elif c == "E":
                alert_size = _uint(arg)
            elif c == "^":
                status_size = _uint(arg)
            elif c in ("!", "?"):
                processor = (processor_shell(c), arg) if arg else None
            elif c == "p":
                prefix = (arg.encode("utf-8", "surrogateescape") + b" ") if arg else b""
            elif c == "t":
                tai = True
            elif c == "T":
                iso = True
            elif c in ("1", "2", "=", ".", "/"):
                if current is None or (current.actions and not acted):
                    current = Element([])
                    elements.append(current)
                if c == "1":
                    action = Action(Act.STDOUT, tai, iso, prefix)
                elif c == "2":
                    action = Action(Act.ALERT, tai, iso, prefix, size=alert_size)
                elif c == "=":
                    action = Action(Act.STATUS, tai, iso, prefix, size=status_size, target=arg)
                else:
                    settings = LogdirSettings(d, n, s, tolerance, maxdirsize, retry_ms, processor)
                    action = Action(Act.LOGDIR, tai, iso, prefix, target=open_logdir(settings))
                current.actions.append(action)
                acted = True
                tai = iso = False
            else:
                raise ValueError(d)
        except ValueError:
            raise ScriptError("unrecognized directive: " + d) from None
    # selections after the last action are ignored, as in s6
    return [e for e in elements if e.actions]
