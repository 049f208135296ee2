"""s6-rc source definition directories, read as s6-rc-compile 0.7 reads them.

A source directory holds one service definition per subdirectory whose name does not
start with a dot.  read_sources(SRCDIRS) reads several in order (the way s6-rc-compile
takes several, s6-overlay giving s6-rc.d, user-bundles.d and its own sources) and returns
(definitions, problems).  Every problem is a (code, text) pair in s6-rc-compile's words,
the code it would exit with (1: a bad source, 111: a file that cannot be read); the text
goes after `s6-rc-compile: fatal: `.  Where s6-rc-compile stops at its first problem, this
reader goes on and collects every one, in the order s6-rc-compile would meet them, so
the first is the one it prints.

Paths in messages are built as s6-rc-compile builds them, SRCDIR + "/" + NAME + "/" +
FILE, with SRCDIR exactly as given.
"""

import os
import stat

from s6py import strerror

PROG = "s6-rc-compile"
KINDS = ("oneshot", "longrun", "bundle")
RESERVED_PREFIXES = ("s6rc-", "s6-rc-")
INTERNALS = "s6-rc-compile internals"  # the "source" of the names the compiler makes

#: annotation flags, as s6-rc-db flags prints them (hex)
ESSENTIAL, RECOMMENDED = 0x1, 0x2
FLAG_FILES = (("flag-essential", ESSENTIAL), ("flag-recommended", RECOMMENDED))

#: files of a longrun that s6-rc-compile checks only while writing the servicedir
LATE_UINT_FILES = ("notification-fd", "lock-fd", "timeout-kill", "timeout-finish",
                   "max-death-tally")
LATE_DIRS = ("template", "data", "env")


class CompileError(Exception):
    """The sources cannot be compiled.  .problems: every problem as the line
    s6-rc-compile prints (`s6-rc-compile: fatal: ...`); .reasons: the same without the
    prefix; .code: the exit code of the first (1 or 111), s6-rc-compile's own."""

    def __init__(self, problems):
        self.reasons = [text for _, text in problems]
        self.codes = [code for code, _ in problems]
        self.problems = [PROG + ": fatal: " + text for text in self.reasons]
        self.code = self.codes[0] if self.codes else 1
        Exception.__init__(self, "\n".join(self.problems))


class Definition:
    """One service as its definition directory declares it.

    kind is "oneshot", "longrun" or "bundle" (None when `type` is bad: then `broken`).
    dependencies / contents are the names as listed (not resolved: a bundle stays a
    bundle); up_argv / down_argv / reload_argv the words execlineb -P would run
    (() when the file is absent or empty), up_text... the file's text (None if absent).
    timeouts are in milliseconds, 0 = none.  A longrun's other files (run, finish,
    notification-fd, data/, env/...) stay in `path`; notification_fd and lock_fd are read
    because the compiler checks them.  `internal`: made by the compiler (s6rc-*, pipeline
    bundles), no directory.  `broken`: the definition has a problem; its name still
    exists, so what names it does not draw a second, "undefined name" problem.
    """

    def __init__(self, name, kind, source=None):
        self.name = name
        self.kind = kind
        self.source = source
        self.path = None if source is None else source + "/" + name
        self.dependencies = ()
        self.contents = ()
        self.up_text = self.down_text = self.reload_text = None
        self.up_argv = self.down_argv = self.reload_argv = ()
        self.flags = 0
        self.producer_for = None
        self.consumer_for = ()
        self.pipeline_name = None
        self.timeout_up_ms = 0
        self.timeout_down_ms = 0
        self.notification_fd = None
        self.lock_fd = None
        self.internal = False
        self.broken = False
        self.origin = source      # the source directory it was read from
        self.late_problems = []   # found where s6-rc-compile writes the servicedir
        self.late_warnings = []

    @property
    def essential(self):
        return bool(self.flags & ESSENTIAL)

    @property
    def recommended(self):
        return bool(self.flags & RECOMMENDED)

    def __repr__(self):
        return "<Definition %s %s>" % (self.kind, self.name)


def reserved(name):
    return name.startswith(RESERVED_PREFIXES)


def unable(what, exc):
    """skalibs' strerr_diefusys: (111, "unable to WHAT: STRERROR")."""
    return 111, "unable to %s: %s" % (what, strerror(exc))


def say(reporter, level, *parts):
    if reporter is not None and reporter.verbosity >= level:
        reporter.info(*parts)


def _warn(reporter, level, *parts):
    if reporter is not None and reporter.verbosity >= level:
        reporter.warn(*parts)


# ------------------------------------------------------------------ reading files

def read_small(path, size):
    """The first SIZE bytes of PATH, or None if it does not exist.  OSError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def scan_uint32(data):
    """uint320_scan: DATA (bytes) is a whole decimal number below 2**32, or None."""
    if not data or not data.isdigit():
        return None
    value = int(data)
    return value if value < 1 << 32 else None


def read_type(path):
    """(kind, None) or (None, problem).  s6-rc-compile reads 8 bytes of `type` and wants
    exactly the word, with at most one newline after it."""
    try:
        data = read_small(path + "/type", 8)
    except OSError as e:
        return None, unable("read " + path + "/type", e)
    if data is None:
        return None, unable("read " + path + "/type", FileNotFoundError(2, "x"))
    if data.endswith(b"\n"):
        data = data[:-1]
    kind = data.decode("latin-1")
    if kind in KINDS and len(data) >= 6:
        return kind, None
    return None, (1, "invalid %s/type: must be oneshot, longrun, or bundle" % path)


def read_timeout(path, tname, problems):
    try:
        data = read_small(path + "/" + tname, 63)
    except OSError as e:
        problems.append(unable("read %s/%s" % (path, tname), e))
        return 0
    if data is None:
        return 0
    value = scan_uint32(data.rstrip(b"\n"))
    if value is None:
        problems.append((1, "invalid %s/%s" % (path, tname)))
        return 0
    return value


def read_flags(path):
    flags = 0
    for fname, bit in FLAG_FILES:
        if os.access(path + "/" + fname, os.F_OK):
            flags |= bit
    return flags


def names_in_dir(dirpath):
    """The entries of DIRPATH not starting with a dot, in directory order, or None if it
    does not exist."""
    try:
        entries = os.listdir(dirpath)
    except FileNotFoundError:
        return None
    return [e for e in entries if not e.startswith(".")]


def names_in_file(filepath):
    """The names a deprecated list file holds (one a line, leading blanks dropped,
    trailing ones kept, empty and # lines skipped), or None if it does not exist.
    Raises OSError with the step that failed as .step ("open" or "read")."""
    try:
        fd = os.open(filepath, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as e:
        e.step = "open"
        raise
    try:
        data = read_all(fd)
    except OSError as e:
        e.step = "read"
        raise
    finally:
        os.close(fd)
    names = []
    for line in data.split(b"\n"):
        line = line.split(b"\0", 1)[0].lstrip(b" \t")
        if line and not line.startswith(b"#"):
            names.append(os.fsdecode(line))
    return names


class ListReader:
    """Reads the name lists of one definition (dependencies, contents, producer-for...)
    and records their problems the way s6-rc-compile words them."""

    def __init__(self, srcdir, name, problems, reporter):
        self.srcdir, self.name = srcdir, name
        self.path = srcdir + "/" + name
        self.problems = problems
        self.reporter = reporter

    def listed(self, listname, with_dir):
        """The names of LISTNAME.d (if WITH_DIR and it exists) or of the file LISTNAME,
        or None if neither exists."""
        names = None
        if with_dir:
            try:
                names = names_in_dir(self.path + "/" + listname + ".d")
            except OSError as e:
                self.problems.append(unable("opendir %s/%s.d" % (self.path, listname), e))
                return ()
        if names is None:
            names = self.from_file(listname)
        if names is not None:
            self.check_reserved(names)
        return names

    def from_file(self, listname):
        try:
            names = names_in_file(self.path + "/" + listname)
        except OSError as e:
            self.problems.append(unable("%s %s/%s" % (e.step, self.path, listname), e))
            return ()
        if names is None:
            return None
        unique = []
        for n in names:
            if n in unique:
                _warn(self.reporter, 2, "in ", self.path, "/", listname,
                      ": name listed more than once: ", n)
            else:
                unique.append(n)
        return unique

    def check_reserved(self, names):
        for n in names:
            if reserved(n):
                # (s6-rc-compile names the service here, not its source directory)
                self.problems.append(
                    (1, "in %s: identifier %s starts with reserved prefix" % (self.name, n)))


# ------------------------------------------------------------------ the kinds

def read_script(path, which, mandatory, problems):
    """(text or None, argv tuple) of the oneshot script WHICH, lexed as execlineb -P."""
    from s6py.execline.lexer import ParseError, parse

    fn = path + "/" + which
    try:
        fd = os.open(fn, os.O_RDONLY)
    except FileNotFoundError as e:
        if mandatory:
            problems.append(unable("open " + fn, e))
        return None, ()
    except OSError as e:
        problems.append(unable("open " + fn, e))
        return None, ()
    try:
        data = read_all(fd)
    except OSError as e:
        problems.append(unable("parse " + fn, e))
        return None, ()
    finally:
        os.close(fd)
    text = os.fsdecode(data)
    try:
        words = parse(data.split(b"\0", 1)[0])
    except ParseError as e:
        detail = "" if e.message == "syntax error" else ": " + e.message
        problems.append((1, "syntax error in %s%s" % (fn, detail)))
        return text, ()
    return text, tuple(words)


def read_common(d, lists, problems):
    """What every atomic service has: dependencies, timeouts, flags (in that order)."""
    deps = lists.listed("dependencies", True)
    d.dependencies = tuple(deps or ())
    d.timeout_down_ms = read_timeout(d.path, "timeout-down", problems)
    d.timeout_up_ms = read_timeout(d.path, "timeout-up", problems)
    d.flags = read_flags(d.path)


def read_oneshot(d, lists, problems):
    read_common(d, lists, problems)
    d.reload_text, d.reload_argv = read_script(d.path, "reload", False, problems)
    d.up_text, d.up_argv = read_script(d.path, "up", True, problems)
    d.down_text, d.down_argv = read_script(d.path, "down", False, problems)


def check_run(path, problems):
    fn = path + "/run"
    try:
        fd = os.open(fn, os.O_RDONLY)
    except FileNotFoundError:
        problems.append((1, "unable to find a run script in " + fn))
        return
    except OSError as e:
        problems.append(unable("open " + fn, e))
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            problems.append((1, fn + " is not a regular file"))
    finally:
        os.close(fd)


def _only_one(d, lists, filename, what, problems):
    """The one name FILENAME lists, or None (absent; or not one: then a problem)."""
    names = lists.listed(filename, False)
    if names is None:
        return None
    if len(names) != 1:
        problems.append((1, "%s/%s should only contain one %s" % (d.path, filename, what)))
        return None
    return names[0]


def read_longrun(d, lists, problems, reporter):
    read_common(d, lists, problems)
    check_run(d.path, problems)
    d.producer_for = _only_one(d, lists, "producer-for", "service name", problems)
    d.consumer_for = tuple(lists.listed("consumer-for", False) or ())
    if d.consumer_for and d.producer_for is None:
        d.pipeline_name = _only_one(d, lists, "pipeline-name", "name", problems)
    elif os.access(d.path + "/pipeline-name", os.F_OK):
        _warn(reporter, 1, d.path, " contains a pipeline-name file despite not being a last"
              " consumer; this file will be ignored")
    read_late(d)


def read_late(d):
    """The checks s6-rc-compile makes while it writes a longrun's servicedir."""
    values = {}
    for fname in LATE_UINT_FILES:
        fn = d.path + "/" + fname
        try:
            data = read_small(fn, 11)
        except OSError as e:
            d.late_problems.append(unable("read " + fn, e))
            continue
        if data is None:
            continue
        value = scan_uint32(data.split(b"\n", 1)[0])
        if value is None:
            d.late_problems.append(unable("read " + fn, OSError(22, "x")))
            continue
        values[fname] = value
    for fname, attr in (("notification-fd", "notification_fd"), ("lock-fd", "lock_fd")):
        value = values.get(fname)
        if value is not None and value < 3:
            d.late_warnings.append("longrun %s has a %s of %d" % (d.name, fname, value))
        elif value is not None:
            setattr(d, attr, value)
    if d.lock_fd is not None and d.lock_fd == d.notification_fd:
        d.late_problems.append(
            (1, "longrun %s has the same value for notification-fd and lock-fd" % d.name))
    for dname in LATE_DIRS:
        fn = d.path + "/" + dname
        try:
            st = os.stat(fn)
        except FileNotFoundError:
            continue
        except OSError as e:
            d.late_problems.append(unable("stat " + fn, e))
            continue
        if not stat.S_ISDIR(st.st_mode):
            d.late_problems.append((1, fn + " is not a directory"))


def read_bundle(d, lists, problems):
    contents = lists.listed("contents", True)
    if contents is None:
        problems.append(unable("open %s/contents" % d.path, FileNotFoundError(2, "x")))
        contents = ()
    d.contents = tuple(contents)
    d.flags = read_flags(d.path)


# ------------------------------------------------------------------ directories

def read_definition(srcdir, name, problems, reporter=None, seen=None):
    """The Definition of SRCDIR/NAME; its problems appended to PROBLEMS.  SEEN maps the
    names already defined (by earlier source directories) to their kind: a name defined
    again is a problem, and gives None."""
    path = srcdir + "/" + name
    say(reporter, 3, "parsing ", path)
    d = Definition(name, None, srcdir)
    before = len(problems)
    kind, problem = read_type(path)
    if problem is not None:
        problems.append(problem)
        d.broken = True
        return d
    say(reporter, 3, name, " has type ", kind)
    if seen is not None:
        if name in seen:
            problems.append((1, "duplicate service definition: %s defined in %s is already"
                             " defined and has type %s" % (name, srcdir, seen[name] or "unknown")))
            return None
        seen[name] = kind
    d.kind = kind
    lists = ListReader(srcdir, name, problems, reporter)
    if kind == "oneshot":
        read_oneshot(d, lists, problems)
    elif kind == "longrun":
        read_longrun(d, lists, problems, reporter)
    else:
        read_bundle(d, lists, problems)
    d.broken = len(problems) > before
    return d


def service_names(srcdir, problems, reporter=None):
    """The subdirectories of SRCDIR s6-rc-compile takes as services, sorted as strcmp
    sorts them; the problems of the others appended to PROBLEMS."""
    try:
        entries = os.listdir(srcdir)
    except OSError as e:
        problems.append(unable("opendir " + srcdir, e))
        return []
    say(reporter, 2, "adding sources from ", srcdir)
    names = []
    before = len(problems)
    for entry in entries:
        if entry.startswith("."):
            continue
        if "\n" in entry:
            problems.append((1, "subdirectory of %s contains a newline character" % srcdir))
            continue
        if reserved(entry):
            problems.append((1, "in %s: identifier %s starts with reserved prefix"
                             % (srcdir, entry)))
            continue
        try:
            st = os.stat(srcdir + "/" + entry)
        except OSError as e:
            problems.append(unable("stat %s/%s" % (srcdir, entry), e))
            continue
        if stat.S_ISDIR(st.st_mode):
            names.append(entry)
    if not names and len(problems) == before:
        _warn(reporter, 1, "source ", srcdir, " is empty")
    names.sort(key=os.fsencode)
    return names


def read_source(srcdir, problems, reporter=None, seen=None):
    """The definitions of one source directory, in s6-rc-compile's order."""
    out = []
    for name in service_names(srcdir, problems, reporter):
        d = read_definition(srcdir, name, problems, reporter, seen)
        if d is not None:
            out.append(d)
    return out


def read_sources(srcdirs, reporter=None):
    """(definitions, problems) of several source directories merged in order: a name
    defined in two of them is a problem (s6-rc-compile's "duplicate service
    definition"), the first definition is kept."""
    seen = {}
    definitions, problems = [], []
    for srcdir in srcdirs:
        definitions.extend(read_source(srcdir, problems, reporter, seen))
    return definitions, problems
