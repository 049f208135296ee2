"""Differential tests: the same input and script through Debian's s6-log and ours give the
same stdout, stderr, exit code and log directory contents (timestamps masked)."""

import os
import re
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_s6log_util import (finish, kill, mask, run, snapshot, start,  # noqa: E402
                             wait_for)


@pytest.fixture(scope="session")
def forked(tmp_path_factory):
    """An executable that runs our s6-log forked from a Python process, as the supervisor
    runs a recognised log/run (tests/forked_s6log.py), never exec'd."""
    path = tmp_path_factory.mktemp("forked") / "s6-log"
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forked_s6log.py")
    path.write_text('#!/bin/sh\nexec %s -IS %s "$@"\n' % (sys.executable, helper))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def hosted(tmp_path_factory):
    """An executable that runs our s6-log in a log host, as the supervisor runs a
    recognised log/run (tests/hosted_s6log.py), never exec'd."""
    path = tmp_path_factory.mktemp("hosted") / "s6-log"
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hosted_s6log.py")
    path.write_text('#!/bin/sh\nexec %s -IS %s "$@"\n' % (sys.executable, helper))
    path.chmod(0o755)
    return path


@pytest.fixture(params=["exec", "forked", "hosted"])
def both(request, ours, theirs, forked, hosted):
    """[(label, path)] for our s6-log (exec'd as a command, forked as the supervisor runs
    a recognised logger, or in a log host as it runs most of them) and Debian's."""
    mine = {"exec": ours / "s6-log", "forked": forked, "hosted": hosted}[request.param]
    return [("ours", str(mine)), ("theirs", theirs("s6-log"))]


def compare(both, tmp_path, args, data, logdirs=(), setup=None):
    results = {}
    for label, prog in both:
        cwd = tmp_path / label
        cwd.mkdir()
        if setup:
            setup(cwd)
        rc, out, err = run(prog, args, data, cwd=cwd)
        results[label] = (rc, mask(out), mask(err), [snapshot(cwd / d) for d in logdirs])
    assert results["ours"] == results["theirs"]
    return results["ours"]


BAD = [
    ["e"], ["x"], ["1", "junk"], ["t"], ["tx", "1"], ["-z", "1"], [], ["n10"], ["+a\\", "1"],
    ["+[", "1"], ["+a{1", "1"], ["="], ["fx", "1"], ["-d", "1", "1"], ["-d", "7", "1"],
    ["-l", "abc", "1"], ["-l"], ["n", "1"], ["n10x", "1"], ["^abc", "1"], ["E", "1"],
    ["s4096", "l3000", "1"], ["r", "-1"], ["2x"], ["./d", "nX", "./e"], ["./d", "f"],
    ["-q", "./d", "f"], ["1", "-", "T"],
]


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(a) or "empty")
def test_bad_scripts_and_options_fail_the_same_way(both, tmp_path, args):
    compare(both, tmp_path, args, b"hello\n")


LINES = (b"alpha 1\nbeta 22\ngamma 333\nerror: disk\nwarning: low\n[12] bracket\n"
         b"tab\there\n\nDELTA\nfoo|bar\na{2}\n")

SCRIPTS = [
    ["1"], ["+^a", "-.", "1"], ["-^b", "1"], ["-.*", "+[[:digit:]]{3}", "1"],
    ["-.*", "+error|warn(ing)?", "1", "f", "2"], ["-.*", "+^\\[[0-9]+\\]", "1"],
    ["-.*", "+^$", "1"], ["-.*", "+[[:upper:]]{5}", "1"], ["-.*", "+a\\{2\\}", "1"],
    ["-.*", "+foo\\|bar", "1"], ["+x", "1", "-a", "1", "f", "2"], ["pPFX:", "1", "p", "1"],
    ["E3", "2"], ["E0", "2"], ["t", "1"], ["T", "1"], ["t", "T", "pX", "1"], ["t", "2"],
    ["^20", "=st", "1"], ["^0", "=st", "1"], ["t", "^40", "=st", "1"], ["1", "2"],
]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda a: " ".join(a))
def test_selection_and_actions_give_the_same_output(both, tmp_path, script):
    args = ["--"] + script if script[0].startswith("-") else script
    rc, out, err, _ = compare(both, tmp_path, args, LINES)
    assert rc == 0
    for label, _ in both:
        st = tmp_path / label / "st"
        if st.exists():
            assert mask(st.read_bytes()) == mask((tmp_path / "ours" / "st").read_bytes())


LONG = (b"A" * 60 + b"B" * 60 + b"C" * 100 + b"\nshort\n" + b"x" * 5000 + b"\n"
        + b"y" * 96 + b"\n" + b"z" * 48 + b"\n")


@pytest.mark.parametrize("args", [["-l", "48", "1"], ["-l", "0", "1"], ["1"],
                                  ["-l", "100", "t", "1"], ["-l", "10", "1"]],
                         ids=lambda a: " ".join(a))
def test_long_lines_are_split_the_same_way(both, tmp_path, args):
    compare(both, tmp_path, args, LONG)


def test_timestamps_are_current_tai64n_and_local_time(ours, tmp_path):
    rc, out, _ = run(str(ours / "s6-log"), ["t", "T", "1"], b"x\n")
    tai, date, clock, _, body = out.split(b" ")
    secs = int(tai[1:17], 16) - (1 << 62) - 37
    assert abs(secs - time.time()) < 5
    assert date == time.strftime("%Y-%m-%d", time.localtime(secs)).encode()
    assert body == b"x\n"


def test_plain_logdir_is_the_same(both, tmp_path):
    data = b"".join(b"line %d\n" % i for i in range(100))
    compare(both, tmp_path, ["./log"], data, logdirs=["log"])


def test_existing_clean_current_is_appended_to(both, tmp_path):
    def setup(cwd):
        (cwd / "log").mkdir()
        (cwd / "log" / "current").write_bytes(b"old line\n")
        os.chmod(cwd / "log" / "current", 0o744)
        (cwd / "log" / "state").write_bytes(b"kept\n")
    compare(both, tmp_path, ["./log"], b"new line\n", logdirs=["log"], setup=setup)


def test_unfinished_current_is_recovered_the_same_way(both, tmp_path):
    def setup(cwd):
        log = cwd / "log"
        log.mkdir()
        (log / "current").write_bytes(b"interrupted\n")  # no x bit: unfinished
        (log / "state").write_bytes(b"stale\n")
        (log / "newstate").write_bytes(b"stale new\n")
    res = compare(both, tmp_path, ["./log"], b"fresh\n", logdirs=["log"], setup=setup)
    snap = res[3][0]
    assert [k for k in snap if k.startswith("@")] == ["@0.u"]
    assert snap["@0.u"][1] == b"interrupted\n" and snap["state"][1] == b""


def test_half_rotated_logdir_is_recovered_as_two_u_archives(ours, tmp_path):
    """s6 2.11 dies here ("unable to finish current .u ...: File exists": both archives get
    the same cached timestamp); ours gives each its own name and goes on."""
    log = tmp_path / "log"
    log.mkdir()
    (log / "current").write_bytes(b"interrupted\n")
    (log / "previous").write_bytes(b"half rotated\n")
    rc, out, err = run(str(ours / "s6-log"), ["./log"], b"fresh\n", cwd=tmp_path)
    assert (rc, err) == (0, b"")
    snap = snapshot(log)
    assert [snap["@0.u"][1], snap["@1.u"][1], snap["current"][1]] == [
        b"half rotated\n", b"interrupted\n", b"fresh\n"]


def test_processed_but_unfinished_rotation_is_recovered_as_s(both, tmp_path):
    def setup(cwd):
        log = cwd / "log"
        log.mkdir()
        (log / "previous").write_bytes(b"raw\n")
        (log / "processed").write_bytes(b"PROCESSED\n")
        os.chmod(log / "processed", 0o744)
    compare(both, tmp_path, ["./log"], b"fresh\n", logdirs=["log"], setup=setup)


STAMPS = re.compile(rb"^(<TAI> )?(<ISO>  )?")


def logged(logdir):
    """The lines (stamps stripped, upper-cased: a processor may change the case) of every
    file in LOGDIR: current, previous, processed and the archives, so that a line is still
    found while and after it is rotated away."""
    found = set()
    try:
        names = os.listdir(logdir)
    except FileNotFoundError:
        return found
    for name in names:
        try:
            with open(os.path.join(logdir, name), "rb") as f:
                data = f.read()
        except (FileNotFoundError, IsADirectoryError):
            continue  # renamed or trimmed while we looked
        for line in mask(data).splitlines(keepends=True):
            found.add(STAMPS.sub(b"", line).upper())
    return found


def feed_one_by_one(proc, lines, logdir, timeout=20.0):
    """Write LINES one at a time, each only once the logger has written the one before to
    LOGDIR, so that each line is read and written as a block of its own.

    A fixed pause between the writes is not enough: under load a logger is not scheduled
    within it and reads several lines at once.  s6 checks for rotation after each write of
    what it read, so such a block at an archive boundary makes that archive a line longer
    than ours (ours rotates line-exact: docs/logging.md, "Differences from s6"), and every
    later boundary moves by a line."""
    for i, line in enumerate(lines):
        proc.stdin.write(line)
        proc.stdin.flush()
        want = line.upper()
        end = time.monotonic() + timeout
        while want not in logged(logdir):
            assert proc.poll() is None, "the logger died before logging line %d" % i
            assert time.monotonic() < end, "line %d not in %s after %ss" % (i, logdir, timeout)
            time.sleep(0.001)


def slow_run(both, tmp_path, args, lines, logdirs=("log",), between=None):
    results = {}
    for label, prog in both:
        cwd = tmp_path / label
        cwd.mkdir()
        proc = start(prog, args, cwd)
        feed_one_by_one(proc, lines, cwd / logdirs[0])
        if between:
            between(proc, cwd)
        rc, out, err = finish(proc)
        results[label] = (rc, mask(out), mask(err), [snapshot(cwd / d) for d in logdirs])
    assert results["ours"] == results["theirs"]
    return results["ours"]


def test_rotation_by_size_and_trimming_by_count(both, tmp_path):
    lines = [b"%04d " % i + b"x" * 95 + b"\n" for i in range(150)]
    res = slow_run(both, tmp_path, ["n3", "s4096", "./log"], lines)
    snap = res[3][0]
    assert [k for k in snap if k.startswith("@")] == ["@0.s", "@1.s", "@2.s"]


def test_trimming_by_total_size(both, tmp_path):
    lines = [b"%04d " % i + b"y" * 95 + b"\n" for i in range(150)]
    res = slow_run(both, tmp_path, ["n100", "s4096", "S5000", "T", "./log"], lines)
    assert len([k for k in res[3][0] if k.startswith("@")]) == 2


def test_processor_output_becomes_the_archive_and_state(both, tmp_path):
    lines = [b"%04d lower case text " % i + b"z" * 80 + b"\n" for i in range(50)]
    script = ["s4096", "?tr a-z A-Z", "./log"]
    res = slow_run(both, tmp_path, script, lines)
    snap = res[3][0]
    assert b"LOWER CASE TEXT" in snap["@0.s"][1]


def test_processor_reads_state_on_fd4_and_writes_newstate_on_fd5(ours, tmp_path):
    """Debian's 2.11.3 runs processors without fds 4 and 5 ("Bad file descriptor" and
    endless retries), so this one is ours only."""
    lines = [b"%04d " % i + b"w" * 95 + b"\n" for i in range(50)]
    proc = start(str(ours / "s6-log"), ["s4096", "?cat && cat <&4 >&5 && echo rotated >&5",
                                        "./log"], tmp_path)
    feed_one_by_one(proc, lines, tmp_path / "log")
    rc, out, err = finish(proc)
    snap = snapshot(tmp_path / "log")
    assert (rc, err) == (0, b"")
    assert snap["state"][1] == b"rotated\nrotated\n"
    assert b"".join(snap[k][1] for k in ("@0.s", "@1.s", "current")) == b"".join(lines)


def test_execline_processor(both, tmp_path):
    lines = [b"%04d " % i + b"q" * 95 + b"\n" for i in range(30)]
    slow_run(both, tmp_path, ["s4096", "!tr q Q", "./log"], lines)


@pytest.mark.parametrize("flag", [[], ["-p"]], ids=["plain", "protected"])
def test_alrm_rotates_and_term_stops_after_the_current_line(both, tmp_path, flag):
    def between(proc, cwd):
        log = cwd / "log"
        time.sleep(0.2)
        kill(proc, signal.SIGALRM)
        assert wait_for(lambda: any(n.startswith("@") for n in os.listdir(log)), 20)
        time.sleep(0.2)
        proc.stdin.write(b"after alarm\npartial")
        proc.stdin.flush()
        # read in one block with "after alarm": the partial line is the logger's, not the pipe's
        assert wait_for(lambda: b"AFTER ALARM\n" in logged(log), 20)
        time.sleep(0.2)
        kill(proc, signal.SIGTERM)
        time.sleep(0.2)
        proc.stdin.write(b" end\nnot logged unless -p\n")
        proc.stdin.flush()
        time.sleep(0.3)
    slow_run(both, tmp_path, flag + ["./log"], [b"one\n", b"two\n", b"three\n"],
             between=between)


def test_hup_with_no_partial_line_exits_at_once(both, tmp_path):
    results = {}
    for label, prog in both:
        cwd = tmp_path / label
        cwd.mkdir()
        proc = start(prog, ["./log"], cwd)
        feed_one_by_one(proc, [b"a\n", b"b\n"], cwd / "log")
        time.sleep(0.2)
        kill(proc, signal.SIGHUP)
        assert wait_for(lambda: proc.poll() is not None)
        rc, out, err = finish(proc)
        results[label] = (rc, err, snapshot(cwd / "log"))
    assert results["ours"] == results["theirs"]


def test_second_logger_on_a_logdir_is_refused(both, tmp_path):
    results = {}
    for label, prog in both:
        cwd = tmp_path / label
        cwd.mkdir()
        first = start(prog, ["./log"], cwd)
        assert wait_for(lambda: (cwd / "log" / "current").exists())
        results[label] = run(prog, ["./log"], b"x\n", cwd=cwd)
        finish(first)
    assert results["ours"] == results["theirs"]
    assert results["ours"][0] == 111
