"""Our s6 client commands give the same usage errors, messages and exit codes as
Debian's s6 2.11 when misused or pointed at something that is not supervised.
No supervisor is needed: every case here fails before talking to one."""

import os
import subprocess

import pytest

from conftest import newer_s6_text


def run(exe, args, cwd):
    p = subprocess.run([exe] + args, capture_output=True, timeout=10, cwd=cwd,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def place(tmp_path):
    """plain/ (a directory never supervised), broken/supervise/ (no control FIFO),
    file (not a directory), scan/.s6-svscan/ (no control FIFO)."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "broken" / "supervise").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    (tmp_path / "scan" / ".s6-svscan").mkdir(parents=True)
    return tmp_path


CASES = [
    # usage errors
    ["s6-svc"], ["s6-svc", "-Z", "plain"], ["s6-svc", "-s", "TERM", "plain"],
    ["s6-svc", "-T", "abc", "-u", "plain"], ["s6-svc", "-T", "-u", "plain"],
    ["s6-svc", "-wx", "plain"], ["s6-svc", "-w"], ["s6-svc", "-u"], ["s6-svc", "-u", ""],
    ["s6-svc", "-T", "99999999999", "plain"], ["s6-svc", "-" + "u" * 63, "plain"],
    ["s6-svc", "-" + "u" * 62, "plain"], ["s6-svc", "--bogus", "plain"],
    ["s6-svstat"], ["s6-svstat", "-g", "plain"], ["s6-svstat", "-o", "pgid", "plain"],
    ["s6-svstat", "-o", "up,,pid", "plain"], ["s6-svstat", "-o", ",up", "plain"],
    ["s6-svstat", "-o", ",".join(["up"] * 17), "plain"], ["s6-svstat", "-o"],
    ["s6-svwait"], ["s6-svwait", "-x", "plain"], ["s6-svwait", "-t", "1x", "plain"],
    ["s6-svok"], ["s6-svscanctl"], ["s6-svscanctl", "-X", "scan"],
    ["s6-svscanctl", "-" + "a" * 65, "scan"], ["s6-svdt"], ["s6-svdt", "-n", "x", "plain"],
    ["s6-svdt", "-x", "plain"],
    ["s6-svlisten1"], ["s6-svlisten1", "-u", "plain"], ["s6-svlisten1", "-a", "plain", "true"],
    ["s6-svlisten"], ["s6-svlisten", "-u", "", "true"], ["s6-svlisten", "-u", "plain", ""],
    ["s6-svlisten", "-u", "plain", "true", "x"], ["s6-svlisten", "-t", "q", "plain", "", "true"],
    # not supervised, not there, not a directory
    ["s6-svc", "-u", "plain"], ["s6-svc", "-u", "broken"], ["s6-svc", "-u", "missing"],
    ["s6-svc", "-u", "file"], ["s6-svc", "plain"], ["s6-svc", "-u", "plain", "more"],
    ["s6-svc", "-wu", "-T", "100", "-u", "plain"], ["s6-svc", "-wU", "-u", "missing"],
    ["s6-svc", "-wd", "file"],
    ["s6-svstat", "plain"], ["s6-svstat", "missing"], ["s6-svstat", "file"],
    ["s6-svstat", "-o", "up", "broken"],
    ["s6-svok", "plain"], ["s6-svok", "missing"], ["s6-svok", "file"], ["s6-svok", "-u"],
    ["s6-svwait", "plain"], ["s6-svwait", "missing"], ["s6-svwait", "file"],
    ["s6-svwait", "-o", "-t", "50", "missing", "plain"],
    ["s6-svscanctl", "-a", "plain"], ["s6-svscanctl", "-a", "missing"],
    ["s6-svscanctl", "-a", "file"], ["s6-svscanctl", "-a", "scan"], ["s6-svscanctl", "scan"],
    ["s6-svdt", "missing"], ["s6-svdt", "file"], ["s6-svdt", "-n", "0", "missing"],
    ["s6-svlisten1", "-u", "plain", "true"], ["s6-svlisten1", "-d", "missing", "true"],
    ["s6-svlisten", "-u", "file", "", "true"],
]


@pytest.mark.parametrize("argv", CASES, ids=lambda a: " ".join(a) or "none")
def test_misuse_is_reported_as_s6_does(argv, place, ours, theirs, tmp_path_factory):
    twin = tmp_path_factory.mktemp("twin")
    for name in ("plain", "broken/supervise", "scan/.s6-svscan"):
        (twin / name).mkdir(parents=True)
    (twin / "file").write_text("")
    code, out, err = run(theirs(argv[0]), argv[1:], place)
    expected = code, out, newer_s6_text(err)
    got = run(str(ours / argv[0]), argv[1:], twin)
    assert got == expected
    # side effects are the same too (s6 creates event/ and death_tally on the way)
    def tree(root):
        return sorted(os.path.relpath(os.path.join(d, f), root)
                      for d, ds, fs in os.walk(root) for f in ds + fs)
    assert tree(twin) == tree(place)
