"""Shared fixtures: where our commands and the real s6/execline live.

Our commands are reached through a directory of symlinks to bin/s6py (one per command
name), theirs through their absolute Debian paths, so a test never runs the wrong one.
"""

import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from s6py.cli import COMMANDS  # noqa: E402

LAUNCHER = os.path.join(ROOT, "bin", "s6py")


@pytest.fixture(scope="session")
def ours(tmp_path_factory):
    """A directory holding one symlink per s6py command (ours/s6-svc -> bin/s6py)."""
    bindir = tmp_path_factory.mktemp("ourbin")
    for name in COMMANDS:
        os.symlink(LAUNCHER, bindir / name)
    return bindir


def real_tool(name):
    """Absolute path of Debian's binary NAME, or skip when the package is absent."""
    for d in ("/usr/bin", "/bin"):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    pytest.skip("real %s not installed" % name)


@pytest.fixture(scope="session")
def theirs():
    """Function: real_tool(name) -> absolute path of the real s6/execline binary."""
    if shutil.which("s6-svscan", path="/usr/bin:/bin") is None:
        pytest.skip("Debian's s6 is not installed")
    return real_tool


def newer_s6_text(text):
    """Debian's s6 2.11 output as s6 2.15 (s6-overlay 3.2's) prints it, where ours follows
    the newer: skalibs 2.13's doubled ": " in s6-svstat's "fatal: : unable to read status"."""
    if isinstance(text, bytes):
        return text.replace(b"fatal: : unable to read status", b"fatal: unable to read status")
    return text.replace("fatal: : unable to read status", "fatal: unable to read status")
