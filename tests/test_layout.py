"""The package's layering rules, checked on its source: no module reaches into another's
private names, and no library code ends the process (docs/architecture.md)."""

import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "s6py")


def modules():
    for directory, _, files in os.walk(SRC):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                with open(path) as f:
                    yield os.path.relpath(path, SRC), ast.parse(f.read(), path)


def _private(name):
    return name.startswith("_") and not name.startswith("__")


def names_defined(tree):
    """Every private name a module defines: functions, classes, assigned names, attributes
    assigned on anything, and __slots__ entries."""
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            defined.add(node.value)  # __slots__ = ("_x", ...), setattr(obj, "_x", ...)
    return {n for n in defined if _private(n)}


def private_reaches(rel, tree):
    """`from s6py.M import _x`, and `obj._x` on anything but self/cls where this module
    does not define `_x` itself (the interpreter's own `_signal`, `os._exit`, `posix._exit`... are fine)."""
    own = names_defined(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("s6py"):
            found += ["%s:%d from %s import %s" % (rel, node.lineno, node.module, a.name)
                      for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls", "mcs", "os", "posix", "sys"):
                continue
            found.append("%s:%d %s" % (rel, node.lineno, ast.unparse(node)))
    return found


def test_no_module_reaches_into_another_modules_private_names():
    found = [hit for rel, tree in modules() for hit in private_reaches(rel, tree)]
    assert found == []


LIBRARY = ("engine/", "wire/", "client/", "log/", "init/", "execline/", "rc/", "accounts.py")


def test_library_code_never_raises_systemexit():
    """Only commands end the process, through diag.Exit (which cli.main turns into the
    exit code); sys.exit in library code would also be caught by `except Exception`-free
    callers in PID 1.  The launcher snippets written into scripts are text, not calls."""
    found = []
    for rel, tree in modules():
        if not rel.startswith(LIBRARY):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                    found.append("%s:%d raise SystemExit" % (rel, node.lineno))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "exit" and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == "sys":
                found.append("%s:%d sys.exit()" % (rel, node.lineno))
    assert found == []


@pytest.mark.parametrize("snippet, expected", [
    ("from s6py.init.stage1 import _helper\n", 1),
    ("import x\nx._hidden()\n", 1),
    ("class A:\n    def f(self, other):\n        return other._mine\n    _mine = 1\n", 0),
])
def test_the_private_name_check_finds_what_it_should(snippet, expected):
    assert len(private_reaches("m.py", ast.parse(snippet))) == expected
