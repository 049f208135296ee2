"""Every module the package imports must come with Debian's python3-minimal, the Python of
slim images: at top level, inside a function, through `__import__("x")`, all of them.

Importing each module of the package (test_e2e_lifecycle) does not see an import done
inside a function: `import shutil` in s6-rmrf, s6-hiercopy and logutil-newfifo gave a
traceback at run time only.  Here every .py file of src/s6py (but build/, which the overlay
does not ship) and the launcher the overlay installs are read with `ast`, and every module
they name is checked:

- against the real python3-minimal trees of the e2e images (tests/e2e_support.py: a
  debootstrap minbase + python3-minimal, cached in .cache/rootfs): the modules of
  /usr/lib/python3.X (submodules included), lib-dynload and the interpreter's builtins,
  and an import of each in the tree (a file can be there and still fail to import: zipfile
  needs shutil);
- always, even without a tree (not root, no debootstrap), against MISSING below, which
  test_missing_list_matches_the_tree keeps true to the trees.

An import inside `try:` whose handler catches ImportError (reaper's ctypes) is optional:
the code is written for the module's absence.  It may name a missing module.
"""

import ast
import glob
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import e2e_support

SRC = os.path.join(e2e_support.REPO, "src", "s6py")
SUITES = ("bullseye", "bookworm", "trixie")
ALL = frozenset(SUITES)

# Modules that python3-minimal lacks, or ships but cannot import, on the suites named:
# the standard library a Python programmer reaches for first.  A dotted name stands for
# its submodules too.  Checked against the trees by test_missing_list_matches_the_tree.
MISSING = {
    "shutil": ALL,
    "tempfile": {"trixie"},             # there, but needs shutil
    "pathlib": {"bullseye"},
    "json": {"bullseye", "bookworm"},
    "dataclasses": {"bullseye", "bookworm"},
    "gzip": ALL, "bz2": ALL, "lzma": ALL, "tarfile": ALL, "zipfile": ALL,
    "http": ALL, "html": ALL, "xml": ALL, "xmlrpc": ALL, "urllib.request": ALL,
    "socketserver": ALL, "smtplib": ALL, "mimetypes": ALL, "mailbox": ALL,
    "logging.handlers": ALL, "logging.config": ALL,
    "ctypes": ALL, "termios": ALL, "tty": ALL, "pty": ALL, "resource": ALL, "mmap": ALL,
    "curses": ALL, "readline": ALL, "sqlite3": ALL, "dbm": ALL,
    "asyncio": ALL, "concurrent": ALL, "multiprocessing": ALL, "queue": ALL, "sched": ALL,
    "contextvars": ALL,
    "shlex": ALL, "gettext": ALL, "pprint": ALL, "difflib": ALL, "uuid": ALL,
    "decimal": ALL, "fractions": ALL, "numbers": ALL, "statistics": ALL,
    "hmac": ALL, "secrets": ALL, "getpass": ALL,
    "unittest": ALL, "doctest": ALL, "pdb": ALL, "timeit": ALL, "venv": ALL,
    "zoneinfo": ALL, "graphlib": ALL, "tomllib": ALL,
}

# Handlers that make the imports of their `try:` body optional.
GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


# ------------------------------------------------------------------ reading the imports

class Import:
    def __init__(self, module, where, optional=False, dynamic=False):
        self.module, self.where, self.optional, self.dynamic = module, where, optional, dynamic

    @property
    def top(self):
        return self.module.split(".")[0]

    def __repr__(self):
        return "%s: %s%s" % (self.where, self.module, " (optional)" if self.optional else "")


def _guards(handler):
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any((t.id if isinstance(t, ast.Name) else getattr(t, "attr", None)) in GUARDS
               for t in types)


def _literal_prefix(node):
    """The string an import call's argument starts with: "x" or "s6py." + name."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value, False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        prefix, _ = _literal_prefix(node.left)
        return prefix, True
    if isinstance(node, ast.JoinedStr) and node.values:
        prefix, _ = _literal_prefix(node.values[0])
        return prefix, True
    return "", True


class _Collector(ast.NodeVisitor):
    def __init__(self, name):
        self.name, self.found, self.optional = name, [], 0

    def add(self, node, module, dynamic=False):
        self.found.append(Import(module, "%s:%d" % (self.name, node.lineno),
                                 self.optional > 0, dynamic))

    def visit_Try(self, node):
        guarded = any(_guards(h) for h in node.handlers)
        self.optional += guarded
        for child in node.body:
            self.visit(child)
        self.optional -= guarded
        for child in node.handlers + node.orelse + node.finalbody:
            self.visit(child)

    visit_TryStar = visit_Try

    def visit_Import(self, node):
        for alias in node.names:
            self.add(node, alias.name)

    def visit_ImportFrom(self, node):
        if node.level == 0:
            self.add(node, node.module)
        # relative imports stay inside the package

    def visit_Call(self, node):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if name in ("__import__", "import_module") and node.args:
            prefix, dynamic = _literal_prefix(node.args[0])
            if dynamic:
                # only "s6py." + a name from the package's own tables can be followed
                self.add(node, prefix if prefix.startswith("s6py.") else prefix or "?",
                         dynamic=not prefix.startswith("s6py."))
            else:
                self.add(node, prefix)
        self.generic_visit(node)

    def visit_Constant(self, node):
        # Python code the package hands to `python3 -c` (logutil's s6-log launch, the
        # halt script): its imports run under python3-minimal too
        if isinstance(node.value, str) and "import" in node.value:
            for code in (node.value, node.value.split("'")[1] if node.value.count("'") >= 2
                         else ""):
                try:
                    tree = ast.parse(textwrap.dedent(code))
                except (SyntaxError, ValueError):
                    continue
                if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree)):
                    inner = _Collector("%s:%d (code in a string)" % (self.name, node.lineno))
                    inner.visit(tree)
                    self.found += inner.found


def imports_of(source, name="<source>"):
    """Every Import in SOURCE (Python text)."""
    collector = _Collector(name)
    collector.visit(ast.parse(source, name))
    return collector.found


def package_sources():
    """(name, text) of every .py file of the package but build/, and of the overlay's
    launcher (/package/admin/s6py/command/s6py, every command's first Python code)."""
    out = []
    for d, dirs, files in os.walk(SRC):
        dirs[:] = sorted(x for x in dirs if x not in ("build", "__pycache__"))
        for f in sorted(files):
            if f.endswith(".py"):
                path = os.path.join(d, f)
                with open(path, encoding="utf-8") as fh:
                    out.append((os.path.relpath(path, e2e_support.REPO), fh.read()))
    from s6py.build import overlay
    out.append(("the overlay's launcher (s6py/build/overlay.py LAUNCHER)", overlay.LAUNCHER))
    return out


def package_imports():
    found = []
    for name, text in package_sources():
        found += imports_of(text, name)
    return found


def external(imports):
    """The imports that python3-minimal has to provide (not the package's own)."""
    return [i for i in imports if i.top != "s6py"]


def missing_on(module, suites=ALL):
    """The MISSING entry MODULE falls under on one of SUITES, or None."""
    parts = module.split(".")
    for n in range(1, len(parts) + 1):
        entry = ".".join(parts[:n])
        if entry in MISSING and MISSING[entry] & set(suites):
            return entry
    return None


# ------------------------------------------------------------------ the trees

def minimal_tree(suite, build):
    """The python3-minimal root filesystem of SUITE, or None (with why) when there is none:
    bookworm is built if it can be (~1 min, then cached); the others are used when the e2e
    tests have built them already."""
    if os.geteuid() != 0 or shutil.which("chroot", path=e2e_support.SBIN) is None:
        return None, "reading a python3-minimal tree needs root and chroot"
    stamp = os.path.join(e2e_support.CACHE, suite, ".s6py-recipe")
    try:
        with open(stamp) as f:
            cached = f.read().strip() == e2e_support._recipe_id(suite)
    except OSError:
        cached = False
    if not cached:
        if not build:
            return None, "no %s tree cached (the e2e tests build it)" % suite
        if shutil.which("debootstrap", path=e2e_support.SBIN) is None:
            return None, "no %s tree and no debootstrap to build one" % suite
    return e2e_support.rootfs(suite), None


def _in_tree(tree, code, *args):
    r = subprocess.run([shutil.which("chroot", path=e2e_support.SBIN), tree, "python3", "-I", "-S",
                        "-c", code] + list(args), capture_output=True, text=True, timeout=120,
                       env={"PATH": e2e_support.SBIN, "LC_ALL": "C"})
    assert r.returncode == 0, r.stderr
    return r.stdout


_PROBE = """import sys
bad = []
for name in sys.argv[1:]:
    try:
        __import__(name)
    except BaseException as e:
        bad.append("%s (%s: %s)" % (name, type(e).__name__, e))
print("\\n".join(bad))
"""


def unimportable(tree, modules):
    """{module: why} for each of MODULES that the tree's python3 -I -S cannot import."""
    out = _in_tree(tree, _PROBE, *sorted(set(modules)))
    return {line.split(" ", 1)[0]: line for line in out.splitlines() if line}


_listed = {}


def listed_modules(tree):
    """Every module name the python3-minimal of TREE provides: the files and packages of
    /usr/lib/python3.X (dotted, submodules included), lib-dynload, the builtins."""
    if tree in _listed:
        return _listed[tree]
    libs = [d for d in glob.glob(os.path.join(tree, "usr/lib/python3.*"))
            if os.path.isfile(os.path.join(d, "os.py"))]
    assert len(libs) == 1, libs
    names = set()
    for d, dirs, files in os.walk(libs[0]):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        rel = os.path.relpath(d, libs[0])
        package = "" if rel == "." else rel.replace(os.sep, ".")
        if package == "lib-dynload":
            names.update(f.split(".")[0] for f in files if f.endswith(".so"))
            continue
        if package and "__init__.py" not in files:
            dirs[:] = []
            continue
        for f in files:
            if f.endswith(".py"):
                stem = f[:-3]
                names.add(package if stem == "__init__" else (package + "." if package else "") + stem)
    names.update(_in_tree(tree, "import sys; print(' '.join(sys.builtin_module_names))").split())
    _listed[tree] = names
    return names


# ------------------------------------------------------------------ the checks

def test_the_reader_sees_every_kind_of_import():
    """A function-level `import shutil`, `from x import y`, `__import__("x")`, code handed
    to `python3 -c`: all seen; relative imports are the package's; a try/except
    ImportError makes an import optional."""
    source = '''
import os, os.path
from sys import argv
from . import core
from .flow import _ChildWake

def rmrf(p):
    import shutil
    shutil.rmtree(p)

class C:
    def m(self):
        from json import loads
        return __import__("gzip"), __import__("s6py." + name)

def optional():
    try:
        import ctypes
    except (OSError, ImportError):
        ctypes = None
    try:
        import termios
    except OSError:
        pass

def dynamic(name):
    return __import__(name), importlib.import_module("http.client")

LAUNCH = "import sys; import uuid; from s6py.cli import main"
SCRIPT = "exec python3 -c 'import queue; from s6py.cli import main' x"
USAGE = "import [ -i | -D default ] var prog..."
'''
    got = [(i.module, i.optional, i.dynamic) for i in imports_of(source)]
    assert got == [
        ("os", False, False), ("os.path", False, False), ("sys", False, False),
        ("shutil", False, False), ("json", False, False), ("gzip", False, False),
        ("s6py.", False, False),
        ("ctypes", True, False), ("termios", False, False),
        ("?", False, True), ("http.client", False, False),
        ("sys", False, False), ("uuid", False, False), ("s6py.cli", False, False),
        ("queue", False, False), ("s6py.cli", False, False),
    ]
    assert [missing_on(m) for m in ("shutil", "os.path", "http.client", "xml.dom.minidom",
                                    "logging", "logging.handlers")] == [
        "shutil", None, "http", "xml", None, "logging.handlers"]


def test_the_reader_sees_the_package():
    """The package's own imports, as a sanity check of the reader: a function-level one,
    an optional one, the dispatchers' __import__."""
    found = package_imports()
    assert len(package_sources()) > 50
    assert any(i.module == "ctypes" and i.optional for i in found)
    assert any(i.module == "fnmatch" for i in found)        # inside execline's case
    assert any(i.module == "s6py." and "cli.py" in i.where for i in found)
    assert not [i for i in found if i.dynamic], "dynamic imports the check cannot follow"


def test_package_imports_nothing_python3_minimal_lacks():
    """Without any tree: no import (but optional ones) of a module in MISSING, and nothing
    from outside the standard library."""
    bad = [i for i in external(package_imports()) if not i.optional and missing_on(i.module)]
    assert not bad, "modules python3-minimal lacks:\n" + "\n".join(map(repr, bad))
    if hasattr(sys, "stdlib_module_names"):
        alien = [i for i in external(package_imports()) if i.top not in sys.stdlib_module_names]
        assert not alien, "not standard library:\n" + "\n".join(map(repr, alien))


@pytest.mark.parametrize("suite", SUITES)
def test_package_imports_only_what_the_real_tree_has(suite):
    """In the real python3-minimal tree: every top-level module named is one of its files,
    packages, lib-dynload or builtin modules, and every module named (dotted: `os.path` is
    no file) imports there."""
    tree, why = minimal_tree(suite, build=suite == "bookworm")
    if tree is None:
        pytest.skip(why)
    needed = [i for i in external(package_imports()) if not i.optional]
    have = listed_modules(tree)
    absent = [i for i in needed if i.top not in have]
    assert not absent, "not in %s's python3-minimal:\n%s" % (suite, "\n".join(map(repr, absent)))
    broken = unimportable(tree, [i.module for i in needed])
    assert not broken, "\n".join("%s: %s" % (i.where, broken[i.module])
                                 for i in needed if i.module in broken)


@pytest.mark.parametrize("suite", SUITES)
def test_missing_list_matches_the_tree(suite):
    """MISSING says, for each entry, exactly on which suites python3-minimal cannot import
    it."""
    tree, why = minimal_tree(suite, build=suite == "bookworm")
    if tree is None:
        pytest.skip(why)
    broken = unimportable(tree, MISSING)
    wrong = ["%s: listed %s, %s" % (m, "missing" if suite in where else "present",
                                    "but imports" if m not in broken else broken[m])
             for m, where in sorted(MISSING.items()) if (m in broken) != (suite in where)]
    assert not wrong, "MISSING is wrong for %s:\n%s" % (suite, "\n".join(wrong))
    assert "shutil" not in listed_modules(tree)
