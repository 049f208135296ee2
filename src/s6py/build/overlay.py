"""`s6py build-overlay --output FILE`: the tarball to extract at `/` of an image.

Layout (docs/install.md):

    init                                    sh: finds python3, runs the launcher with `init`
    package/admin/s6py -> s6py-VERSION
    package/admin/s6py-VERSION/command/s6py the launcher (sh + Python in one file)
    package/admin/s6py-VERSION/lib/s6py/    the package (*.py only)
    command/NAME -> ../package/admin/s6py/command/s6py            every command
    usr/bin/NAME -> ../../command/NAME      s6-*, execlineb, ... (USR_BIN below)
    etc/{fix-attrs.d,cont-init.d,cont-finish.d,services.d}/, etc/s6-overlay/s6-rc.d/

Rules that make `tar xzf FILE -C /` safe on any distribution: no entry for a directory
that every distribution already has (`.`, `etc`, `usr`, `usr/bin`, and never `bin`, `sbin`,
`lib`), so extracting never replaces a distro's directory metadata or its `/bin -> usr/bin`
symlink; only our own directories and files have entries.  Every link is relative, so the
tree also works extracted under any directory.

Deterministic: entries sorted, owner 0:0 (root/root), fixed modes, one fixed mtime
(SOURCE_DATE_EPOCH when set, else MTIME), gzip header without name and with mtime 0.
"""

import gzip
import io
import os
import sys
import tarfile

from s6py import __version__
from s6py import cli

# 2024-01-01T00:00:00Z: a fixed date so that the same sources give the same bytes.
MTIME = 1704067200

# Directories that exist in every distribution: never written into the tarball.
SYSTEM_DIRS = ("etc", "usr", "usr/bin")

EMPTY_DIRS = ("etc/fix-attrs.d", "etc/cont-init.d", "etc/cont-finish.d", "etc/services.d",
              "etc/s6-overlay", "etc/s6-overlay/s6-rc.d", "etc/s6-overlay/user-bundles.d",
              "etc/s6-overlay/user-bundles.d/user", "etc/s6-overlay/user-bundles.d/user/contents.d",
              "etc/s6-overlay/user-bundles.d/user2", "etc/s6-overlay/user-bundles.d/user2/contents.d")

#: files every s6-rc image finds, as s6-overlay 3's tarball ships them: the two user
#: bundles, empty (an image's COPY of user-bundles.d/user/contents.d/NAME relies on them)
ETC_FILES = (("etc/s6-overlay/user-bundles.d/user/type", b"bundle\n"),
             ("etc/s6-overlay/user-bundles.d/user2/type", b"bundle\n"))

# Execline commands not linked into /usr/bin: `case` (no s6-overlay 1/2 had it, and it is a
# shell keyword) and `import` (ImageMagick's /usr/bin/import; execline 2.7 of s6-overlay 2.2
# had none either).  They stay in /command, and execlineb runs them in-process whatever
# PATH says.  Every other one is linked, the shell builtins' names included (cd exec exit
# export if shift trap umask wait): s6-overlay 1/2 installed them all in /bin, and images
# call them by that path (`/bin/export HOME /data` in an execline run script).
USR_BIN_EXCLUDED = frozenset(("case", "import"))

#: names linked in /usr/bin for v1/v2 images but given no pip console script: in a venv's
#: bin, ahead on PATH, they would shadow nothing useful and confuse `env NAME`
SHELL_BUILTIN_NAMES = frozenset(("cd", "exec", "exit", "export", "if", "shift", "trap", "umask",
                                 "wait"))

# Non-execline, non-s6-* commands that get a /usr/bin link (v1/v2 shebangs and docs use them).
USR_BIN_EXTRA = ("execlineb", "with-contenv", "printcontenv", "logutil-service",
                 "logutil-newfifo", "fix-attrs", "with-retries")

LAUNCHER = r"""#!/bin/sh
''':'
# sh reads this part, Python sees a string.  Find python3 (PATH, then /usr/bin, then
# /usr/local/bin) and run this file with it; $0 keeps the command name (a /command link).
IFS=:
set -f
for d in $PATH /usr/bin /usr/local/bin; do
  case $d in /*) [ -x "$d/python3" ] && exec "$d/python3" -I -S "$0" "$@" ;; esac
done
echo "${0##*/}: fatal: python3 not found (looked on PATH, /usr/bin, /usr/local/bin); s6py needs Python >= 3.9" >&2
exit 127
'''
# Run as __main__, this file is compiled at every start of every command: it holds only
# what must come first, and what /init alone runs is in strings, compiled by /init only.
# The rest is s6py.launch (docs/architecture.md, "The launcher").
import sys

_init = sys.argv[1:2] == ["init"] or sys.argv[0].rpartition("/")[2] == "init"
if _init:
    # block the signals PID 1 handles before anything else, so that one sent now stays
    # pending instead of being dropped by the kernel (s6py.init.main does it again)
    exec('''import _signal
_signal.pthread_sigmask(_signal.SIG_BLOCK, [getattr(_signal, n) for n in (
    "SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH")
    if hasattr(_signal, n)])''')
if sys.version_info < (3, 9):
    sys.exit("%s: fatal: s6py needs Python >= 3.9, this is %s"
             % (sys.argv[0].rpartition("/")[2], sys.version.split()[0]))


def _lib(path):
    # lib/ beside the command/ that holds this file (absolute), found without os, or None
    import posix

    for _ in range(40):  # the links to this file (/usr/bin/X -> /command/X -> s6py)
        try:
            target = posix.readlink(path)
        except OSError:
            break
        path = target if target[:1] == "/" else path.rpartition("/")[0] + "/" + target
    top = path.rpartition("/")[0].rpartition("/")[0] or "."
    try:
        here, there = posix.stat(__file__), posix.stat(top + "/command/s6py")
    except OSError:
        return None
    if (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino):
        return (top if top[:1] == "/" else posix.getcwd() + "/" + top) + "/lib"


_here = _lib(__file__)
# (a copy of this file, cp /usr/bin/with-contenv ...: the package at its usual place)
sys.path.insert(0, _here or "/package/admin/s6py/lib")
if _init:
    # a fresh container (sources, no bytecode yet, a place to write it): the boot compiled
    # by a child, so that PID 1 loads bytecode and holds none of the compiler's garbage
    # (s6py/init/precompile.py)
    exec('''import posix
boot = sys.path[0] + "/s6py/init/"
cache = boot + "__pycache__"
try:
    posix.stat(boot + "stage1.py")
    posix.stat("%s/stage1.%s.pyc" % (cache, sys.implementation.cache_tag))
    fresh = False
except OSError as e:
    fresh = e.filename != boot + "stage1.py" and not sys.dont_write_bytecode and (
        posix.access(cache, posix.W_OK) or posix.access(boot, posix.W_OK))
if fresh:
    child = posix.fork()
    if child == 0:
        try:
            from s6py.init.precompile import compile_boot
            compile_boot()
        finally:
            posix._exit(0)
    posix.waitpid(child, 0)''', {"sys": sys})
elif _here is not None:
    # s6py.quick from its bytecode, through the importer's own loader (which checks it,
    # or compiles and caches): neither the search along sys.path nor the s6py package
    _quick = {"__name__": "s6py.quick", "__file__": _here + "/s6py/quick.py",
              "__builtins__": __builtins__}
    exec(sys.modules["_frozen_importlib_external"].SourceFileLoader(
        "s6py.quick", _quick["__file__"]).get_code("s6py.quick"), _quick)
    _quick["run"](sys.argv)  # returns unless it did the whole job
from s6py.launch import launch  # noqa: E402

launch(_init)
"""

INIT = r"""#!/bin/sh
# s6py's /init: find python3 (PATH, then /usr/bin, then /usr/local/bin) and start the init.
case $0 in */*) top=${0%/*} ;; *) top=. ;; esac
# PID 1 holds two fds per service: take the soft nofile limit up to the hard one (docs/reliability.md)
hard=$(ulimit -Hn) && ulimit -Sn "$hard"  # no redirection: an image may lack /dev/null
IFS=:
set -f
for d in $PATH /usr/bin /usr/local/bin; do
  case $d in /*) [ -x "$d/python3" ] && exec "$d/python3" -I -S "$top/package/admin/s6py/command/s6py" init "$@" ;; esac
done
echo "init: fatal: python3 not found (looked on PATH, /usr/bin, /usr/local/bin); s6py needs Python >= 3.9 in the image" >&2
exit 127
"""


def command_names():
    """Every command that gets a /command link (project verbs such as build-overlay do not)."""
    return sorted(name for name in cli.COMMANDS if name not in cli.PROJECT)


def usr_bin_names():
    """The commands linked from /usr/bin (see USR_BIN_EXCLUDED)."""
    names = set()
    for name in command_names():
        if name.startswith("s6-") or name in USR_BIN_EXTRA:
            names.add(name)
        elif name in cli.EXECLINE and name not in USR_BIN_EXCLUDED:
            names.add(name)
    return sorted(names)


# Subpackages left out of the tarball: building overlays is done from a checkout or a pip
# install, never inside an image (and it needs gzip, which python3-minimal lacks).
LEFT_OUT = ("build",)


def package_files(src):
    """(relative path, absolute path) of every .py file of the package under SRC, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith(".")
                             and not (dirpath == src and d in LEFT_OUT))
        for f in filenames:
            if f.endswith(".py"):
                full = os.path.join(dirpath, f)
                out.append((os.path.relpath(full, src), full))
    return sorted(out)


class _Tar:
    def __init__(self, fileobj, mtime):
        self.tar = tarfile.open(fileobj=fileobj, mode="w", format=tarfile.GNU_FORMAT)
        self.mtime = mtime
        self.names = set()

    def _info(self, name, kind, mode):
        assert name not in self.names, name
        top = name.split("/")[0]
        assert name not in SYSTEM_DIRS and top not in ("bin", "sbin", "lib"), name
        self.names.add(name)
        info = tarfile.TarInfo("./" + name)
        info.type = kind
        info.mode = mode
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = self.mtime
        return info

    def dir(self, name):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, 0o755))

    def file(self, name, data, mode):
        info = self._info(name, tarfile.REGTYPE, mode)
        info.size = len(data)
        self.tar.addfile(info, io.BytesIO(data))

    def symlink(self, name, target):
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self.tar.addfile(info)

    def close(self):
        self.tar.close()


#: py_compile's optimize level for every shipped .pyc: 2 drops docstrings and asserts
BYTECODE_OPTIMIZE = 2


def bytecode(full, rel):
    """(path relative to the package, bytes) of the .pyc this interpreter would write for
    FULL, in "unchecked hash" mode: the importer then uses it without comparing mtimes (the
    tarball's mtimes are fixed), so a container never compiles at start-up.  Compiled as
    `-OO` would (BYTECODE_OPTIMIZE) but under the plain name, which the importer takes
    whatever level it was compiled at: no docstring or assert is loaded into PID 1 or a
    helper (about 7 % of PID 1's imported code; s6py never reads a __doc__)."""
    import py_compile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cfile = os.path.join(tmp, "out.pyc")
        py_compile.compile(full, cfile=cfile, dfile=rel, doraise=True, optimize=BYTECODE_OPTIMIZE,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        with open(cfile, "rb") as f:
            data = f.read()
    return pyc_name(rel, sys.implementation.cache_tag), data


def pyc_name(rel, cache_tag):
    """Where the importer looks for REL's bytecode: DIR/__pycache__/NAME.TAG.pyc."""
    head, tail = os.path.split(rel)
    return os.path.join(head, "__pycache__", "%s.%s.pyc" % (tail[:-3], cache_tag))


def bundle_launcher(version):
    """The launcher of the bundle: the same Python, run by the bundled interpreter through
    its shebang (no sh needed; `-IS` is one argument, which is all a shebang passes)."""
    from s6py.build import bundle

    return "#!%s -IS\n" % bundle.launcher_interpreter(version) + LAUNCHER.split("\n", 1)[1]


#: what the bundle's /init adds to the launcher: run as `s6py init`, whatever this file's
#: name (images rename it: pi-hole's `mv /init /s6-init`), from wherever it lies (the
#: launcher then finds the package at /package/admin/s6py/lib)
BUNDLE_INIT_PRELUDE = """# s6py's /init (self-contained tarball): the launcher, run as `s6py init`
import sys
sys.argv[0:1] = ["/package/admin/s6py/command/s6py", "init"]
"""


def bundle_init(version):
    """The bundle's /init: a file of its own (not a link, which a rename would break)."""
    return bundle_launcher(version).replace("\nimport sys\n", "\n" + BUNDLE_INIT_PRELUDE, 1)


def bundle_entries(pkg, bundle):
    """The interpreter, its standard-library bytecode and licence (s6py.build.bundle)."""
    from s6py.build.bundle import STDLIB_DIR

    py = pkg + "/python"
    lib = py + "/" + STDLIB_DIR
    out = [("dir", py, None, 0), ("dir", py + "/bin", None, 0), ("dir", py + "/lib", None, 0),
           ("dir", lib, None, 0), ("dir", lib + "/lib-dynload", None, 0),
           ("file", py + "/bin/python3", bundle.interpreter, 0o755),
           ("file", py + "/LICENSE", bundle.licence, 0o644)]
    dirs = set()
    for rel, data in sorted(bundle.stdlib.items()):
        parts = rel.split("/")
        for i in range(1, len(parts)):
            d = "/".join([lib] + parts[:i])
            if d not in dirs:
                dirs.add(d)
                out.append(("dir", d, None, 0))
        out.append(("file", lib + "/" + rel, data, 0o644))
    return out


def bundle_bytecode(src, bundle):
    """{package file (as package_files names it): (.pyc path under lib/, bytes)} of every
    package file, compiled by the bundled interpreter itself (its cache tag and magic
    number), in one run of it; what bytecode() gives for the noarch tarball."""
    from s6py.build.bundle import CACHE_TAG

    files = package_files(src)
    names = {rel: pyc_name(os.path.join("s6py", rel), CACHE_TAG) for rel, _ in files}
    compiled = bundle.compile([(full, names[rel]) for rel, full in files])
    return {rel: (name, compiled[name]) for rel, name in names.items()}


def entries(src, version=__version__, with_bytecode=False, bundle=None):
    """The tarball's entries as (kind, name, payload, mode), sorted by name.

    BUNDLE (s6py.build.bundle.Bundle): the self-contained tarball, with its interpreter;
    the launcher's shebang names it, /init is the launcher run as `s6py init`, and the
    package carries bytecode compiled by that interpreter.
    """
    pkg = "package/admin/s6py-" + version
    launcher = LAUNCHER if bundle is None else bundle_launcher(version)
    out = [("dir", "package", None, 0), ("dir", "package/admin", None, 0),
           ("dir", pkg, None, 0), ("dir", pkg + "/command", None, 0), ("dir", pkg + "/lib", None, 0),
           ("symlink", "package/admin/s6py", "s6py-" + version, 0),
           ("file", pkg + "/command/s6py", launcher.encode(), 0o755),
           ("dir", "command", None, 0)]
    if bundle is None:
        out.append(("file", "init", INIT.encode(), 0o755))
    else:
        out.append(("file", "init", bundle_init(version).encode(), 0o755))
        out += bundle_entries(pkg, bundle)
        compiled = bundle_bytecode(src, bundle)
    dirs = set()
    for rel, full in package_files(src):
        parts = rel.split(os.sep)
        for i in range(len(parts)):
            d = "/".join([pkg, "lib", "s6py"] + parts[:i])
            if d not in dirs:
                dirs.add(d)
                out.append(("dir", d, None, 0))
        with open(full, "rb") as f:
            out.append(("file", "/".join([pkg, "lib", "s6py"] + parts), f.read(), 0o644))
        if bundle is not None:
            pyc_rel, data = compiled[rel]
        elif with_bytecode:
            pyc_rel, data = bytecode(full, os.path.join("s6py", rel))
        if bundle is not None or with_bytecode:
            pyc_dir = "/".join([pkg, "lib"] + os.path.dirname(pyc_rel).split(os.sep))
            if pyc_dir not in dirs:
                dirs.add(pyc_dir)
                out.append(("dir", pyc_dir, None, 0))
            out.append(("file", "/".join([pkg, "lib"] + pyc_rel.split(os.sep)), data, 0o644))
    for name in command_names():
        out.append(("symlink", "command/" + name, "../package/admin/s6py/command/s6py", 0))
    for name in usr_bin_names():
        out.append(("symlink", "usr/bin/" + name, "../../command/" + name, 0))
    for d in EMPTY_DIRS:
        out.append(("dir", d, None, 0))
    for name, data in ETC_FILES:
        out.append(("file", name, data, 0o644))
    return sorted(out, key=lambda e: e[1])


def build(output, src=None, mtime=None, with_bytecode=False, bundle=False, cache=None):
    """Write the tarball to OUTPUT (a path; .tar.xz: xz, else gzip); return its size in
    bytes.  BUNDLE: the self-contained one, with its own Python (s6py.build.bundle; CACHE
    is where its build is kept)."""
    if src is None:
        src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if mtime is None:
        mtime = int(os.environ.get("SOURCE_DATE_EPOCH") or MTIME)
    prepared = None
    if bundle:
        from s6py.build import bundle as bundle_build

        prepared = bundle_build.prepare(src, cache=cache)
    raw = io.BytesIO()
    tar = _Tar(raw, mtime)
    for kind, name, payload, mode in entries(src, with_bytecode=with_bytecode, bundle=prepared):
        if kind == "dir":
            tar.dir(name)
        elif kind == "file":
            tar.file(name, payload, mode)
        else:
            tar.symlink(name, payload)
    tar.close()
    data = compress(raw.getvalue(), output)
    tmp = output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, output)
    return len(data)


def compress(data, output):
    """DATA (a tar) gzipped, or xz'ed when OUTPUT ends in .xz (s6-overlay's own format)."""
    if output.endswith(".xz"):
        import lzma

        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                             preset=9 | lzma.PRESET_EXTREME)
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return packed.getvalue()


USAGE = "usage: s6py build-overlay [--bytecode | --bundle [--cache DIR]] --output FILE\n"


def main(argv):
    from s6py.build.bundle import BuildError

    args = argv[1:]
    output = None
    with_bytecode = bundle = False
    cache = None
    while args:
        a = args.pop(0)
        if a in ("-o", "--output") and args:
            output = args.pop(0)
        elif a.startswith("--output="):
            output = a[len("--output="):]
        elif a == "--bytecode":
            with_bytecode = True
        elif a == "--bundle":
            bundle = True
        elif a == "--cache" and args:
            cache = args.pop(0)
        elif a in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        else:
            sys.stderr.write("build-overlay: fatal: unexpected argument: %s\n" % a + USAGE)
            return 100
    if not output:
        sys.stderr.write("build-overlay: fatal: --output FILE is required\n" + USAGE)
        return 100
    try:
        size = build(output, with_bytecode=with_bytecode, bundle=bundle, cache=cache)
    except OSError as e:
        sys.stderr.write("build-overlay: fatal: unable to write %s: %s\n" % (output, e.strerror or e))
        return 111
    except BuildError as e:  # the bundle's build: one line, not a traceback
        sys.stderr.write("build-overlay: fatal: %s\n" % e)
        return 111
    sys.stdout.write("%s: %d bytes\n" % (output, size))
    return 0
