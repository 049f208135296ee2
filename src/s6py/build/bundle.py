"""The Python of the self-contained overlay (`s6py build-overlay --bundle`, docs/install.md).

An image with no Python (busybox, Alpine, debian:*-slim, distroless, FROM scratch) gets
one from the tarball: a CPython linked statically against musl (no loader, no libc of
the image used), with the few extension modules s6py needs built in, and the part of the
standard library s6py reaches, as bytecode in a directory of sourceless .pyc files:

    package/admin/s6py-VERSION/python/bin/python3           the interpreter (stripped)
    package/admin/s6py-VERSION/python/lib/python3.11/       the standard library subset (.pyc)
    package/admin/s6py-VERSION/python/lib/python3.11/lib-dynload/   empty: the landmark that
                                     spares every start the "platform dependent libraries" line
    package/admin/s6py-VERSION/python/LICENSE               CPython's licence (PSF)

Why a directory and not python311.zip: zipimport (itself Python code) cost every start
about 4 ms more for the same modules (measured: 24 against 20 ms for
`import re, enum, selectors, signal, traceback`), and the tarball compresses either.

Where it comes from: Debian's source package of the suite's Python (`apt-get source`,
with the project's own list of sources under the cache: the machine's apt configuration
is not touched), unpacked with Debian's patches (security fixes included), built with
musl-gcc, profile-guided as Debian builds its own python3 (the training run is s6py's
own start-up work).  Everything is cached under CACHE (outside the checkout), keyed by the source
version and this file's build settings, so a machine pays the build (about 3 min on 2
cores: two builds and a training run) once.

Tools the build needs (run-tests installs them on Debian): apt-get, dpkg-source
(dpkg-dev), musl-gcc (musl-tools), make, strip.  This module runs on the build machine
only (it is left out of the tarball), so it may use subprocess.
"""

import ast
import hashlib
import os
import shutil
import subprocess
import sys

SUITE = "bookworm"
PY_VERSION = "3.11"
SOURCE_PACKAGE = "python" + PY_VERSION
#: where the standard-library bytecode goes, under the interpreter's prefix
STDLIB_DIR = "lib/python" + PY_VERSION
#: the interpreter's sys.implementation.cache_tag: the name of s6py's .pyc files
CACHE_TAG = "cpython-" + PY_VERSION.replace(".", "")
ARCHIVES = (("http://deb.debian.org/debian", SUITE), ("http://deb.debian.org/debian", SUITE + "-updates"),
            ("http://deb.debian.org/debian-security", SUITE + "-security"))

#: the extension modules linked in, beyond those CPython always builds in (posix, _io,
#: _signal, time, errno, _sre, ...): what s6py and its standard-library subset import.
#: resource lets /init raise the soft nofile limit without a shell (docs/reliability.md);
#: _socket carries a log host's control messages and fds (docs/logging.md)
SETUP_LOCAL = """\
*static*
pwd pwdmodule.c
grp grpmodule.c
_heapq _heapqmodule.c
_struct _struct.c
math mathmodule.c -lm
fcntl fcntlmodule.c
resource resource.c
select selectmodule.c
_socket socketmodule.c
"""

#: no docstrings (smaller, less to load).  -O2, not -Os: with -Os a helper started 1.5x
#: slower than with Debian's python3, for 0.3 MB less.  No --with-lto, although Debian
#: builds with it: gcc's single-partition LTO link took the build from 2.6 to 10 min on 2
#: cores for no start-up gain we could measure (within the noise, under 5 %)
CONFIGURE_FLAGS = ("--disable-shared", "--without-ensurepip", "--disable-test-modules",
                   "--without-doc-strings", "--prefix=/package/admin/s6py/python")
CFLAGS = "-O2"

#: configure compares the compiler's target triplet with `$CC --print-multiarch`, which
#: musl-gcc (a specs wrapper around Debian's gcc) answers with glibc's: answer musl's.
#: Its file name contains "gcc": configure picks gcc's flags (LTO's among them) by $CC's name
CC_NAME = "gcc-musl"
CC_WRAPPER = """#!/bin/sh
for a; do [ "$a" = --print-multiarch ] && { echo x86_64-linux-musl; exit 0; }; done
exec musl-gcc "$@"
"""

#: modules every start needs that are not frozen into the interpreter (the codec registry
#: looks encodings up by name), and warnings, which C code imports on demand
STARTUP_MODULES = ("encodings", "encodings.aliases", "encodings.utf_8", "encodings.ascii",
                   "encodings.latin_1", "warnings")

#: frozen into the interpreter beyond CPython 3.11's own list (abc, codecs, io, os,
#: posixpath, stat...): the codec registry's modules, which every start imports.  Frozen
#: modules are deep-frozen (their code objects are static data of the binary), so a start
#: no longer looks for, reads and unmarshals them; 3.11 leaves them out of its list only
#: for the noise of its build output.  The package keeps its __path__ in the stdlib
#: directory, where the other encodings are looked up as before
FROZEN_EXTRA = ("<encodings>", "encodings.aliases", "encodings.utf_8")
#: the line of Tools/scripts/freeze_modules.py's list that FROZEN_EXTRA goes after
FROZEN_ANCHOR = "        #'<encodings.*>',\n"

#: never shipped: ctypes needs libffi and _ctypes, which the static build leaves out; the
#: one s6py import of it (the reaper's subreaper prctl) is optional by design
EXCLUDED_MODULES = frozenset(("ctypes",))

TOOLS = (("apt-get", "apt"), ("dpkg", "dpkg"), ("dpkg-source", "dpkg-dev"), ("musl-gcc", "musl-tools"),
         ("make", "make"), ("strip", "binutils"))


class BuildError(Exception):
    """A step of the build failed: the message is the one line to print."""


def default_cache():
    return os.environ.get("S6PY_BUNDLE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "s6py-bundle")


def _run(argv, log=None, **kw):
    try:
        if log is None:
            return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, **kw).stdout
        with open(log, "w") as f:
            subprocess.run(argv, check=True, stdout=f, stderr=subprocess.STDOUT, **kw)
    except FileNotFoundError:
        raise BuildError("%s not found" % argv[0]) from None
    except subprocess.CalledProcessError as e:
        raise BuildError("%s exited %d%s" % (" ".join(argv[:3]), e.returncode,
                                            " (see %s)" % log if log else "")) from None
    return None


def check_tools():
    missing = [pkg for tool, pkg in TOOLS if shutil.which(tool) is None]
    if missing:
        raise BuildError("the bundle build needs: %s (apt-get install %s)"
                         % (", ".join(missing), " ".join(missing)))


# ---------------------------------------------------------------------------------- source

class Apt:
    """apt-get with the build's own sources list and state under CACHE/apt."""

    def __init__(self, cache):
        self.dir = os.path.join(cache, "apt")
        for d in ("lists/partial", "cache/archives/partial"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        sources = os.path.join(self.dir, "sources.list")
        with open(sources, "w") as f:
            for url, suite in ARCHIVES:
                f.write("deb-src %s %s main\n" % (url, suite))
        self.options = ["-o", "Dir::Etc::SourceList=" + sources, "-o", "Dir::Etc::SourceParts=/nonexistent",
                        "-o", "Dir::State::Lists=" + os.path.join(self.dir, "lists"),
                        "-o", "Dir::Cache=" + os.path.join(self.dir, "cache"),
                        "-o", "Dir::State::status=/dev/null", "-o", "APT::Sandbox::User=root"]

    def get(self, *args, **kw):
        return _run(["apt-get", "-q"] + self.options + list(args), **kw)


def _cached_trees(cache):
    top = os.path.join(cache, "src")
    if not os.path.isdir(top):
        return []
    return sorted(d for d in os.listdir(top) if os.path.isfile(os.path.join(top, d, ".unpacked")))


def source_versions(apt):
    """The versions of SOURCE_PACKAGE the sources list offers, newest first."""
    shown = _run(["apt-cache"] + apt.options + ["showsrc", SOURCE_PACKAGE])
    versions = {line.split(":", 1)[1].strip() for line in shown.splitlines() if line.startswith("Version:")}
    import functools

    def older(a, b):  # Debian's order, not the strings' (deb12u10 is newer than deb12u9)
        if a == b:
            return 0
        try:
            _run(["dpkg", "--compare-versions", a, "lt", b])
            return -1
        except BuildError:
            return 1
    ordered = sorted(versions, key=functools.cmp_to_key(older))
    return ordered[::-1]


def source_tree(cache, say):
    """The unpacked, patched source of SOURCE_PACKAGE: the newest version of the suite
    that the archive serves (a mirror can list a version whose files it lacks); its path."""
    apt = Apt(cache)
    try:
        apt.get("update", log=os.path.join(cache, "apt-update.log"))
        versions = source_versions(apt)
    except BuildError:
        cached = _cached_trees(cache)
        if not cached:
            raise
        say("the archive cannot be reached: using the cached source %s" % cached[-1])
        return os.path.join(cache, "src", cached[-1])
    download = os.path.join(cache, "download")
    os.makedirs(download, exist_ok=True)
    for version in versions:
        tree = os.path.join(cache, "src", version)
        if os.path.isfile(os.path.join(tree, ".unpacked")):
            return tree
        say("fetching the source of %s %s" % (SOURCE_PACKAGE, version))
        try:
            apt.get("source", "--download-only", "%s=%s" % (SOURCE_PACKAGE, version), cwd=download,
                    log=os.path.join(cache, "apt-source.log"))
        except BuildError as e:
            say("%s %s cannot be fetched (%s): trying the next version" % (SOURCE_PACKAGE, version, e))
            continue
        dsc = os.path.join(download, "%s_%s.dsc" % (SOURCE_PACKAGE, version.split(":")[-1]))
        return unpack(dsc, tree, log=os.path.join(cache, "dpkg-source.log"))
    raise BuildError("no version of %s could be fetched (%s)" % (SOURCE_PACKAGE, ", ".join(versions)))


def unpack(dsc, tree, log):
    """Unpack the source package DSC into TREE (replacing a partial one), marked complete
    with TREE/.unpacked; TREE.  dpkg-source copies the upstream tarball into TREE's parent
    first, so that directory must exist (on a fresh cache it does not)."""
    if os.path.isdir(tree):
        _run(["rm", "-rf", tree])
    os.makedirs(os.path.dirname(tree), exist_ok=True)
    _run(["dpkg-source", "-x", dsc, tree], log=log)
    open(os.path.join(tree, ".unpacked"), "w").close()
    return tree


# ---------------------------------------------------------------------------- interpreter

def frozen_tree(tree, cache):
    """TREE with FROZEN_EXTRA in CPython's list of frozen modules: a copy (the cached
    source stays as Debian ships it) whose generated build files (Makefile.pre.in,
    Python/frozen.c) are regenerated from the list by CPython's own script, run by this
    Python; the copy's path.  Made once per source version and list."""
    key = hashlib.sha256("\0".join(FROZEN_EXTRA).encode()).hexdigest()[:12]
    out = os.path.join(cache, "src-frozen", "%s-%s" % (os.path.basename(tree), key))
    if os.path.isfile(os.path.join(out, ".regenerated")):
        return out
    if os.path.isdir(out):
        _run(["rm", "-rf", out])
    os.makedirs(out)
    _run(["cp", "-a", tree + "/.", out])
    script = os.path.join(out, "Tools", "scripts", "freeze_modules.py")
    with open(script) as f:
        text = f.read()
    if FROZEN_ANCHOR not in text:
        raise BuildError("%s has no %r line to add the frozen modules after" % (script, FROZEN_ANCHOR.strip()))
    lines = "".join("        %r,\n" % spec for spec in FROZEN_EXTRA)
    with open(script, "w") as f:
        f.write(text.replace(FROZEN_ANCHOR, FROZEN_ANCHOR + lines, 1))
    _run([sys.executable, script], cwd=out, log=os.path.join(out, "freeze_modules.log"))
    open(os.path.join(out, ".regenerated"), "w").close()
    return out


def build_key(tree):
    h = hashlib.sha256()
    for part in (os.path.basename(tree), SETUP_LOCAL, " ".join(CONFIGURE_FLAGS), CFLAGS, CC_NAME,
                 CC_WRAPPER, TRAINING):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


#: the profile-guided build's training run (argv[1]: the package's parent directory): the
#: work of a helper's and PID 1's start-up, so that is what the compiler optimises for.
#: s6py's own sources are its input but not part of build_key: a stale profile is harmless
TRAINING = r"""
import os, re, sys
src = sys.argv[1]
sys.path.insert(0, src)
import enum, errno, fnmatch, glob, heapq, selectors, signal, stat, struct, textwrap, traceback
for root, dirs, files in os.walk(os.path.join(src, "s6py")):
    dirs[:] = [d for d in dirs if d not in ("__pycache__", "build")]
    for f in sorted(files):
        if f.endswith(".py"):
            with open(os.path.join(root, f), "rb") as fh:
                compile(fh.read(), f, "exec")
            name = os.path.relpath(os.path.join(root, f), src)[:-3].replace(os.sep, ".")
            if not name.endswith("__main__"):
                try:
                    __import__(name[:-9] if name.endswith(".__init__") else name)
                except Exception:
                    pass
for i in range(300):
    re.compile(r"(?P<k>[A-Za-z_][A-Za-z0-9_]*)=(?P<v>.*)%d" % i).match("FOO=bar")
    "%s %d %r" % ("x", i, sorted({str(i): [i, (i,)]}.items()))
"""


def build_interpreter(tree, cache, say, package_parent):
    """Configure and make a static `python` from TREE (once per build_key): the build dir.

    Profile-guided: an instrumented interpreter runs TRAINING over PACKAGE_PARENT's s6py,
    then the objects are rebuilt with that profile (the Makefile's own profile-opt target
    would also build shared modules through setup.py, which this build has none of)."""
    build = os.path.join(cache, "build-" + build_key(tree))
    if os.path.isfile(os.path.join(build, ".built")):
        return build
    if os.path.isdir(build):
        _run(["rm", "-rf", build])
    os.makedirs(os.path.join(build, "Modules"))
    with open(os.path.join(build, "Modules", "Setup.local"), "w") as f:
        f.write(SETUP_LOCAL)
    cc = os.path.join(build, CC_NAME)
    with open(cc, "w") as f:
        f.write(CC_WRAPPER)
    os.chmod(cc, 0o755)
    env = dict(os.environ, CC=cc, CFLAGS=CFLAGS, LDFLAGS="-static", LINKFORSHARED=" ")
    say("building CPython %s statically against musl in %s (a few minutes, once)" % (
        os.path.basename(tree), build))
    _run([os.path.join(tree, "configure")] + list(CONFIGURE_FLAGS), cwd=build, env=env,
         log=os.path.join(build, "configure.log"))
    make = ["make", "-j%d" % (os.cpu_count() or 1)]
    _run(make + ["python", "CFLAGS_NODIST=-fprofile-generate", "LDFLAGS_NODIST=-fprofile-generate"],
         cwd=build, env=env, log=os.path.join(build, "make-instrumented.log"))
    _run([os.path.join(build, "python"), "-I", "-S", "-c", TRAINING, package_parent], cwd=build,
         log=os.path.join(build, "training.log"))
    _run(["make", "clean-retain-profile"], cwd=build, env=env, log=os.path.join(build, "clean.log"))
    _run(make + ["python", "CFLAGS_NODIST=-fprofile-use -fprofile-correction"], cwd=build, env=env,
         log=os.path.join(build, "make.log"))
    _run(["strip", "-o", os.path.join(build, "python3.stripped"), os.path.join(build, "python")])
    open(os.path.join(build, ".built"), "w").close()
    return build


# ------------------------------------------------------------------------ standard library

def package_imports(src):
    """Every module an absolute import names in the package's .py files under SRC (the
    package's own directory; any scope: s6py imports lazily), but its own and build/'s."""
    names = set()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not (dirpath == src and d == "build")]
        for f in filenames:
            if f.endswith(".py"):
                with open(os.path.join(dirpath, f), "rb") as fh:
                    tree = ast.parse(fh.read())
                names |= _imports_anywhere(tree)
    return {n for n in names if n.split(".")[0] != "s6py"}


#: the launcher's own imports (overlay.LAUNCHER): it is not a file of the package
LAUNCHER_IMPORTS = ("sys", "os", "posix", "_signal", "resource")


def _imports_anywhere(tree):
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module)
    return out


def module_file(lib, name):
    base = os.path.join(lib, *name.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _module_level_imports(path, name):
    """What importing NAME (at PATH) imports itself: the import statements at module level,
    inside top-level if/try/with too, but not under `if __name__ == "__main__":`.  Imports
    inside functions run only when the function does, and s6py's own lazy imports are the
    roots already."""
    with open(path, "rb") as f:
        tree = ast.parse(f.read())
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    out = set()

    def walk(body):
        for node in body:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package
                    for _ in range(node.level - 1):
                        parent = parent.rpartition(".")[0]
                    base = parent + ("." + node.module if node.module else "")
                out.add(base)
                out.update(base + "." + a.name for a in node.names)  # maybe submodules
            elif isinstance(node, ast.If):
                if "__main__" not in ast.dump(node.test):
                    walk(node.body)
                    walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                walk(node.orelse)
                walk(node.finalbody)
                for handler in node.handlers:
                    walk(handler.body)
            elif isinstance(node, ast.With):
                walk(node.body)

    walk(tree.body)
    return out


def stdlib_closure(lib, roots, builtin=()):
    """{module name: source path} of the modules of LIB that importing ROOTS loads."""
    seen = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if not name or name in seen or name in builtin or name.split(".")[0] in EXCLUDED_MODULES:
            continue
        path = module_file(lib, name)
        if path is None:
            continue
        seen[name] = path
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(_module_level_imports(path, name))
    return seen


#: run by the built interpreter: compile each (source, archive name) of the JSON list on
#: stdin to hash-based bytecode (no mtimes to compare: the tarball's are fixed) in argv[1]
_COMPILE = r"""
import json, os, py_compile, sys
out = sys.argv[1]
for src, arcname in json.load(sys.stdin):
    os.makedirs(os.path.join(out, os.path.dirname(arcname)), exist_ok=True)
    py_compile.compile(src, cfile=os.path.join(out, arcname), dfile=arcname, doraise=True,
                       optimize=2,  # no docstrings, no asserts: overlay.BYTECODE_OPTIMIZE
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def compile_with(python, pairs):
    """Compile [(source path, relative .pyc name)] with PYTHON (the built interpreter,
    running from its build dir, so its own Lib): the bytes of each, by name."""
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as outdir:
        proc = subprocess.run([python, "-I", "-S", "-c", _COMPILE, outdir], input=json.dumps(pairs),
                              universal_newlines=True, stderr=subprocess.PIPE)
        if proc.returncode:
            raise BuildError("compiling with %s failed: %s"
                             % (python, proc.stderr.strip().splitlines()[-1:]))
        out = {}
        for _, name in pairs:
            with open(os.path.join(outdir, name), "rb") as f:
                out[name] = f.read()
    return out


def stdlib_bytecode(python, modules):
    """{name under STDLIB_DIR: .pyc bytes} of MODULES ({name: path}), sourceless: the
    importer takes `re/__init__.pyc` or `enum.pyc` where no .py is beside it."""
    return compile_with(python, [
        (path, name.replace(".", "/") + ("/__init__.pyc" if path.endswith("__init__.py") else ".pyc"))
        for name, path in sorted(modules.items())])


# --------------------------------------------------------------------------------- bundle

class Bundle:
    """What build-overlay --bundle adds to the overlay, ready to be written."""

    def __init__(self, interpreter, stdlib, licence, python):
        self.interpreter = interpreter      # bytes of the stripped static binary
        self.stdlib = stdlib                # {name under STDLIB_DIR: .pyc bytes}
        self.licence = licence              # bytes of CPython's LICENSE
        self.python = python                # the built interpreter (path), to compile s6py with

    def compile(self, pairs):
        """compile_with this bundle's interpreter."""
        return compile_with(self.python, pairs)


def launcher_interpreter(version):
    """The interpreter's path inside an image: the shebang of the launcher and of /init."""
    return "/package/admin/s6py-%s/python/bin/python3" % version


def prepare(src, cache=None, say=None):
    """Build (or take from CACHE) the interpreter and the stdlib bytecode for the package at
    SRC (its own directory)."""
    cache = cache or default_cache()
    say = say or (lambda line: sys.stderr.write("build-overlay: info: %s\n" % line))
    check_tools()
    os.makedirs(cache, exist_ok=True)
    tree = frozen_tree(source_tree(cache, say), cache)
    build = build_interpreter(tree, cache, say, os.path.dirname(os.path.abspath(src)))
    python = os.path.join(build, "python")
    builtin = _run([python, "-I", "-S", "-c", "import sys; print(' '.join(sys.builtin_module_names))"]).split()
    roots = sorted(package_imports(src) | set(LAUNCHER_IMPORTS)) + list(STARTUP_MODULES)
    modules = stdlib_closure(os.path.join(tree, "Lib"), roots, frozenset(builtin))
    with open(os.path.join(build, "python3.stripped"), "rb") as f:
        interpreter = f.read()
    with open(os.path.join(tree, "LICENSE"), "rb") as f:
        licence = f.read()
    return Bundle(interpreter, stdlib_bytecode(python, modules), licence, python)
