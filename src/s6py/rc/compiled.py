"""Our compiled s6-rc database: write(graph, DIR) and load(DIR) -> Graph.

Not s6-rc's binary format (db, n, resolve.cdb): plain text, described in docs/s6-rc.md.

    DIR/s6py-rc           the format's name and version: "s6py-rc compiled database 1"
    DIR/index             one line per definition read, in the order read: "KIND NAME"
    DIR/services/NAME     "KEY VALUE" lines: what the definition said (see KEYS)
    DIR/servicedirs/NAME  a longrun's files, as s6-rc-compile copies them
    DIR/lock              empty (s6-rc-db takes a lock on it, as on s6-rc's)

The compiler's own services (s6rc-oneshot-runner, s6rc-fdholder, the pipeline bundles)
are not written: load() makes them again, by building the Graph from the definitions,
which also checks the database.
"""

import os

from s6py.rc.source import Definition

MAGIC = "s6py-rc compiled database 1\n"

#: the uint files s6-rc-compile rewrites in a longrun's servicedir (normalized: "N\n")
UINT_FILES = ("notification-fd", "lock-fd", "timeout-kill", "timeout-finish",
              "max-death-tally")
COPIED_FILES = ("down-signal", "reload-signal")
EMPTY_FLAGS = ("flag-timeout-killpg", "flag-newpidns")
COPIED_DIRS = ("template", "data", "env")


class FormatError(Exception):
    """DIR is no database of ours (or a damaged one)."""


def escape(word):
    return word.replace("\\", "\\\\").replace("\n", "\\n")


def unescape(value):
    if "\\" not in value:
        return value
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            i += 1
            out.append("\n" if value[i] == "n" else value[i])
        else:
            out.append(c)
        i += 1
    return "".join(out)


# ------------------------------------------------------------------ writing

def service_lines(d):
    lines = ["source " + escape(d.source or "")]
    lines.append("flags %d" % d.flags)
    if d.kind != "bundle":
        lines.append("timeout-up %d" % d.timeout_up_ms)
        lines.append("timeout-down %d" % d.timeout_down_ms)
    lines += ["dependency " + n for n in d.dependencies]
    lines += ["content " + n for n in d.contents]
    if d.producer_for is not None:
        lines.append("producer-for " + d.producer_for)
    lines += ["consumer-for " + n for n in d.consumer_for]
    if d.pipeline_name is not None:
        lines.append("pipeline-name " + d.pipeline_name)
    for which in ("up", "down", "reload"):
        if getattr(d, which + "_text") is not None:
            lines.append(which + "-present")
        lines += ["%s %s" % (which, escape(w)) for w in getattr(d, which + "_argv")]
    for attr in ("notification_fd", "lock_fd"):
        value = getattr(d, attr)
        if value is not None:
            lines.append("%s %d" % (attr.replace("_", "-"), value))
    return "".join(line + "\n" for line in lines)


def write_file(path, text, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        data = os.fsencode(text)
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def write(graph, path, definitions, live_servicedirs=None):
    """Write the database of GRAPH, made from DEFINITIONS (in the order read), at PATH,
    which must not exist.  OSError on failure (PATH is then removed again).

    With LIVE_SERVICEDIRS (the boot's /run/s6-rc/servicedirs, which PID 1 fills with
    write_servicedir itself), each servicedirs/NAME is a symlink to LIVE_SERVICEDIRS/NAME
    instead of a second copy of the same files."""
    os.mkdir(path, 0o755)
    try:
        fill(graph, path, definitions, live_servicedirs)
    except BaseException:
        from s6py.execline.portable import remove_tree

        try:
            remove_tree(path)
        except OSError:
            pass
        raise


def fill(graph, path, definitions, live_servicedirs=None):
    write_file(path + "/lock", "")
    os.mkdir(path + "/services", 0o755)
    os.mkdir(path + "/servicedirs", 0o755)
    index = []
    for d in definitions:
        if d.kind is None or d.internal:
            continue
        index.append("%s %s\n" % (d.kind, d.name))
        write_file(path + "/services/" + d.name, service_lines(d))
        if d.kind == "longrun" and live_servicedirs is not None:
            os.symlink(live_servicedirs + "/" + d.name, path + "/servicedirs/" + d.name)
        elif d.kind == "longrun":
            write_servicedir(d, path + "/servicedirs/" + d.name)
    write_file(path + "/index", "".join(index))
    write_file(path + "/s6py-rc", MAGIC)


def copy_file(src, dst, mode):
    """Copy SRC's bytes to DST with MODE; False if SRC is not there to be read."""
    try:
        fin = os.open(src, os.O_RDONLY)
    except OSError:
        return False
    from s6py.execline.portable import pump

    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            pump(fin, fout)
        finally:
            os.close(fout)
        os.chmod(dst, mode)
    finally:
        os.close(fin)
    return True


def write_servicedir(d, dst):
    """The servicedir s6-rc-compile makes from a longrun's definition: run and finish
    (mode 0755), the numbers rewritten, the signals copied, data/, env/, template/
    copied whole; nothing else (no down, no log/)."""
    from s6py.execline.portable import copy_tree

    src = d.path
    os.mkdir(dst, 0o755)
    copy_file(src + "/run", dst + "/run", 0o755)
    if os.access(src + "/finish", os.R_OK):
        copy_file(src + "/finish", dst + "/finish", 0o755)
    for fname in UINT_FILES:
        try:
            with open(src + "/" + fname, "rb") as f:
                value = int(f.read(11).split(b"\n", 1)[0])
        except (OSError, ValueError):
            continue
        write_file(dst + "/" + fname, "%d\n" % value)
    for fname in COPIED_FILES:
        copy_file(src + "/" + fname, dst + "/" + fname, 0o644)
    for fname in EMPTY_FLAGS:
        if os.path.lexists(src + "/" + fname):
            write_file(dst + "/" + fname, "")
    for dname in COPIED_DIRS:
        if os.path.isdir(src + "/" + dname):
            error = copy_tree(src + "/" + dname, dst + "/" + dname)
            if error is not None:
                raise error
            if dname == "template":
                os.mkdir(dst + "/instances", 0o755)
                os.mkdir(dst + "/instance", 0o755)


# ------------------------------------------------------------------ reading

def read_text(path):
    with open(path, "rb") as f:
        return os.fsdecode(f.read())


def definition_from(path, kind, name):
    """The Definition that services/NAME describes; a longrun's path is its servicedir."""
    d = Definition(name, kind, path + "/servicedirs")
    for line in read_text(path + "/services/" + name).split("\n"):
        if not line:
            continue
        key, _, value = line.partition(" ")
        apply_line(d, key, value)
    return d


def apply_line(d, key, value):
    if key == "source":
        d.origin = unescape(value)
    elif key == "flags":
        d.flags = int(value)
    elif key == "timeout-up":
        d.timeout_up_ms = int(value)
    elif key == "timeout-down":
        d.timeout_down_ms = int(value)
    elif key == "dependency":
        d.dependencies += (value,)
    elif key == "content":
        d.contents += (value,)
    elif key == "producer-for":
        d.producer_for = value
    elif key == "consumer-for":
        d.consumer_for += (value,)
    elif key == "pipeline-name":
        d.pipeline_name = value
    elif key in ("up-present", "down-present", "reload-present"):
        setattr(d, key[:-8] + "_text", "")
    elif key in ("up", "down", "reload"):
        setattr(d, key + "_argv", getattr(d, key + "_argv") + (unescape(value),))
    elif key in ("notification-fd", "lock-fd"):
        setattr(d, key.replace("-", "_"), int(value))
    else:
        raise FormatError("unknown key " + key)


def load_definitions(path):
    """The definitions of the database at PATH, in the order they were read.  OSError if
    a file cannot be read, FormatError if PATH is not one of ours."""
    try:
        magic = read_text(path + "/s6py-rc")
    except FileNotFoundError:
        raise FormatError("not an s6py database")
    if magic != MAGIC:
        raise FormatError("unknown format " + magic.strip())
    out = []
    for line in read_text(path + "/index").split("\n"):
        if not line:
            continue
        kind, _, name = line.partition(" ")
        if kind not in ("oneshot", "longrun", "bundle") or not name:
            raise FormatError("bad index line")
        try:
            out.append(definition_from(path, kind, name))
        except ValueError:
            raise FormatError("bad services/" + name)
    return out


def load(path):
    """The Graph of the database at PATH (OSError, FormatError, CompileError)."""
    from s6py.rc.graph import Graph

    return Graph(load_definitions(path))
