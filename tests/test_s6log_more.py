"""s6-log: timestamps against Debian's s6-log and s6-tai64nlocal, recovery after a SIGKILL
in the middle of a rotation, two loggers on one logdir, -t, -d, stdout write errors and a
failing rotation step."""

import os
import re
import signal
import subprocess
import time

import pytest

from test_s6log_util import ARCHIVE, finish, kill, run, snapshot, start, wait_for

LINE_T = re.compile(rb"^@(4000[0-9a-f]{12})([0-9a-f]{8}) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{9})  (.*)$")


@pytest.fixture
def both(ours, theirs):
    return [("ours", str(ours / "s6-log")), ("theirs", theirs("s6-log"))]


def _tai_to_unix(hexsecs):
    return int(hexsecs, 16) - (1 << 62) - 37   # s6's leap-second table: TAI - UTC = 37 s


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_t_and_T_have_s6_logs_format_and_agree_with_each_other(both, tmp_path, tz):
    """Both loggers: `@` + 24 hex digits, then local `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` + two
    spaces; T is t converted to local time (same nanoseconds), in either program."""
    if not os.path.exists("/usr/share/zoneinfo/" + tz):
        pytest.skip("no tzdata for " + tz)
    stamps = {}
    for label, prog in both:
        p = subprocess.run([prog, "t", "T", "1"], input=b"x y\n", capture_output=True,
                           env={"TZ": tz}, timeout=10)
        assert p.returncode == 0 and p.stderr == b""
        m = LINE_T.match(p.stdout.rstrip(b"\n"))
        assert m, p.stdout
        secs = _tai_to_unix(m.group(1))
        os.environ["TZ"] = tz
        try:
            time.tzset()
            local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(secs))
        finally:
            os.environ.pop("TZ")
            time.tzset()
        assert m.group(3).decode() == local, (label, p.stdout)
        assert int(m.group(2), 16) == int(m.group(4)), (label, p.stdout)   # same nanoseconds
        assert m.group(5) == b"x y"
        stamps[label] = secs
    assert abs(stamps["ours"] - stamps["theirs"]) <= 2
    assert abs(stamps["ours"] - time.time()) <= 5


def test_debian_s6_tai64nlocal_converts_our_archives(ours, theirs, tmp_path):
    tai64nlocal = theirs("s6-tai64nlocal")
    data = b"".join(b"line %05d %s\n" % (i, b"x" * 60) for i in range(300))
    rc, _, err = run(str(ours / "s6-log"), ["t", "s4096", "n100", "./log"], data, cwd=tmp_path)
    assert rc == 0 and err == b""
    archives = sorted(n for n in os.listdir(tmp_path / "log") if ARCHIVE.match(n))
    assert len(archives) >= 4
    bodies = []
    for name in archives + ["current"]:
        with open(tmp_path / "log" / name, "rb") as f:
            raw = f.read()
        p = subprocess.run([tai64nlocal], input=raw, capture_output=True, env={"TZ": "UTC"},
                           timeout=10)
        assert p.returncode == 0
        for before, after in zip(raw.splitlines(), p.stdout.splitlines()):
            secs = _tai_to_unix(before[1:17])
            nanos = int(before[17:25], 16)
            want = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)).encode() + b".%09d" % nanos
            assert after == want + before[25:], (before, after)
            bodies.append(after[30:])
    assert bodies == data.splitlines()


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_sigkill_during_a_rotation_is_recovered_at_next_start(ours, tmp_path):
    """Killed while its processor runs: `previous` (finished, +x), a partial `processed`
    and `current` are left.  The next logger archives previous and current as .u, drops
    the partial processed: no line twice, none cut, and the logger starts."""
    prog = str(ours / "s6-log")
    proc = start(prog, ["s4096", "?sleep 30; cat", "./log"], tmp_path)
    lines = [b"rot %04d %s\n" % (i, b"y" * 50) for i in range(120)]
    proc.stdin.write(b"".join(lines))
    proc.stdin.flush()
    log = tmp_path / "log"
    assert wait_for(lambda: (log / "previous").exists() and _children(proc.pid), 10)
    time.sleep(0.2)
    helpers = _descendants(proc.pid)
    kill(proc, signal.SIGKILL)
    proc.wait(5)
    for pid in helpers:      # the processor and its sleep, by pid
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    left = sorted(os.listdir(log))
    assert "previous" in left and "current" in left, left
    rc, out, err = run(prog, ["s4096", "./log"], b"after restart\n", cwd=tmp_path)
    assert (rc, err) == (0, b"")
    names = sorted(os.listdir(log))
    assert "previous" not in names and "processed" not in names, names
    snap = snapshot(log)
    archives = [k for k in snap if k.startswith("@")]
    assert [k[-1] for k in archives] == ["u"] * len(archives) and len(archives) == 2, archives
    got = b"".join(snap[k][1] for k in archives) + snap["current"][1]
    # what was rotated is kept exactly once; the lines that logger had read but held in
    # memory while its processor ran died with it (as with s6: SIGKILL loses a logger's
    # buffer, whatever it is)
    kept = got[:-len(b"after restart\n")]
    assert got.endswith(b"after restart\n") and kept and b"".join(lines).startswith(kept)
    assert kept.count(b"\n") == len(set(kept.splitlines()))


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def test_second_logger_fails_with_s6s_message_and_the_first_goes_on(ours, tmp_path):
    prog = str(ours / "s6-log")
    first = start(prog, ["./log"], tmp_path)
    first.stdin.write(b"first\n")
    first.stdin.flush()
    assert wait_for(lambda: (tmp_path / "log" / "current").exists())
    rc, out, err = run(prog, ["./log"], b"second\n", cwd=tmp_path)
    assert rc == 111
    assert err == b"s6-log: fatal: unable to lock ./log/lock: Resource busy\n" or \
        err == b"s6-log: fatal: unable to lock ./log/lock: Device or resource busy\n", err
    first.stdin.write(b"still first\n")
    assert finish(first)[0] == 0
    with open(tmp_path / "log" / "current", "rb") as f:
        assert f.read() == b"first\nstill first\n"


def test_t_bounds_the_wait_for_a_partial_last_line(ours, tmp_path):
    prog = str(ours / "s6-log")
    proc = start(prog, ["-t", "300", "./log"], tmp_path)
    proc.stdin.write(b"whole\npartial")
    proc.stdin.flush()
    assert wait_for(lambda: (tmp_path / "log" / "current").exists())
    time.sleep(0.2)
    t0 = time.monotonic()
    kill(proc, signal.SIGTERM)
    rc = proc.wait(5)
    waited = time.monotonic() - t0
    assert rc == 0 and 0.25 <= waited < 2.0, waited
    with open(tmp_path / "log" / "current", "rb") as f:
        assert f.read() == b"whole\npartial\n"


def test_t0_waits_for_the_newline(ours, tmp_path):
    prog = str(ours / "s6-log")
    proc = start(prog, ["-t", "0", "./log"], tmp_path)
    proc.stdin.write(b"partial")
    proc.stdin.flush()
    assert wait_for(lambda: (tmp_path / "log" / "current").exists())
    time.sleep(0.2)
    kill(proc, signal.SIGTERM)
    time.sleep(0.6)
    assert proc.poll() is None
    proc.stdin.write(b" end\nnot read\n")
    proc.stdin.flush()
    assert proc.wait(5) == 0
    with open(tmp_path / "log" / "current", "rb") as f:
        assert f.read() == b"partial end\n"


def test_d_notifies_readiness_once_the_logdir_is_ready(both, tmp_path):
    for label, prog in both:
        cwd = tmp_path / label
        cwd.mkdir()
        r, w = os.pipe()
        assert w >= 3
        proc = subprocess.Popen([prog, "-d", str(w), "./log"], cwd=cwd, stdin=subprocess.PIPE,
                                pass_fds=(w,))
        os.close(w)
        got = os.read(r, 16)
        assert got == b"\n", (label, got)
        assert (cwd / "log" / "lock").exists() and (cwd / "log" / "current").exists()
        assert os.read(r, 16) == b""     # and the fd is closed after
        os.close(r)
        proc.stdin.close()
        assert proc.wait(10) == 0


def test_stdout_write_error_warns_once_and_logdirs_go_on(both, tmp_path):
    results = {}
    for label, prog in both:
        cwd = tmp_path / label
        cwd.mkdir()
        r, w = os.pipe()
        os.close(r)                       # stdout: a pipe nobody reads (EPIPE)
        p = subprocess.run([prog, "1", "./log"], input=b"a\nb\nc\n", stdout=w,
                           stderr=subprocess.PIPE, cwd=cwd, timeout=10)
        os.close(w)
        results[label] = (p.returncode, p.stderr, snapshot(cwd / "log"))
    assert results["ours"] == results["theirs"]
    rc, err, snap = results["ours"]
    assert rc == 0 and snap["current"][1] == b"a\nb\nc\n"
    assert err == b"s6-log: warning: unable to write to stdout, closing the stream - error was: Broken pipe\n"


def test_failing_processor_is_retried_after_r_and_nothing_is_lost(ours, tmp_path):
    flag = tmp_path / "ok"
    prog = str(ours / "s6-log")
    proc = start(prog, ["r200", "s4096", "?test -e %s && cat" % flag, "./log"], tmp_path)
    lines = [b"p %04d %s\n" % (i, b"z" * 50) for i in range(80)]
    proc.stdin.write(b"".join(lines))
    proc.stdin.flush()
    log = tmp_path / "log"
    assert wait_for(lambda: (log / "previous").exists(), 5)
    time.sleep(0.6)          # a few failed runs, r200 apart
    assert "previous" in os.listdir(log)
    flag.write_text("")
    assert wait_for(lambda: "previous" not in os.listdir(log), 5)
    rc, out, err = finish(proc)
    assert rc == 0
    warnings = err.decode().splitlines()
    assert warnings and all(w.startswith("s6-log: warning: ") for w in warnings), warnings
    assert any("processor" in w for w in warnings), warnings
    snap = snapshot(log)
    archives = sorted(k for k in snap if k.startswith("@"))
    assert b"".join(snap[k][1] for k in archives) + snap["current"][1] == b"".join(lines)
