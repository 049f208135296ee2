"""The catch-all logger of /init (S6_LOGGING=1/2), each test a private container."""

import os
import re
import signal
import stat
import subprocess
import time

import pytest

from test_init_support import box_fixture, inside, nsexec, wait_file, wait_for

box = box_fixture()

ISO = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}  ")
TAI = re.compile(r"^@4000[0-9a-f]{20} ")


def logged(box, stamp=ISO):
    """Bodies of the catch-all log's lines (each must carry STAMP)."""
    with open(box.path("var/log/s6-uncaught-logs/current")) as f:
        lines = f.read().splitlines()
    for line in lines:
        assert stamp.match(line), line
    return [stamp.sub("", line) for line in lines]


def make_tree(box):
    box.script("etc/cont-init.d/00-x", "echo from-cont-init\necho cont-init-err >&2\n")
    box.script("etc/cont-finish.d/00-y", "echo from-cont-finish\n")
    box.service("svc", "echo svc-out; echo svc-err >&2; exec sleep 100\n")
    box.service("own", "echo own-out; exec sleep 100\n",
                log='exec s6-log -- "$S6PY_ROOT/data/ownlog"\n')


CMD = ["sh", "-c", "sleep 0.3; echo cmd-out; echo cmd-err >&2"]


def test_logging_1_tree_to_the_log_cmd_to_the_console(box):
    make_tree(box)
    r = box.run(CMD, env={"S6_LOGGING": "1"})
    assert r.code == 0, r
    assert r.out == "cmd-out\n" and r.err == "cmd-err\n", r
    lines = logged(box)
    for expected in ("[cont-init.d] 00-x: executing... ", "from-cont-init", "cont-init-err",
                     "[cont-init.d] 00-x: exited 0.", "svc-out", "svc-err", "[cmd] sh exited 0",
                     "from-cont-finish", "[cont-finish.d] 00-y: exited 0.",
                     "[s6-finish] sending all processes the TERM signal."):
        assert expected in lines, (expected, lines)
    assert "cmd-out" not in lines and "own-out" not in lines
    assert lines.index("from-cont-init") < lines.index("[cmd] sh exited 0") < lines.index("from-cont-finish")
    with open(box.path("data/ownlog/current")) as f:
        assert f.read() == "own-out\n"    # a service with its own log/ keeps it


def test_logging_2_cmd_output_too_and_nothing_on_the_console(box):
    make_tree(box)
    r = box.run(CMD, env={"S6_LOGGING": "2"})
    assert r.code == 0, r
    assert r.out == "" and r.err == "", r
    lines = logged(box)
    assert lines.index("cmd-out") < lines.index("[cmd] sh exited 0")
    assert "cmd-err" in lines and "svc-out" in lines


def test_logdir_owner_names_and_logging_script(box):
    box.service("svc", "echo hello; exec sleep 100\n")
    env = {"S6_LOGGING": "1", "S6_LOGGING_SCRIPT": "n2 s4096\tt"}
    with box.start(["sh", "-c", "sleep 60"], env=env) as c:
        current = box.path("var/log/s6-uncaught-logs/current")
        assert wait_for(lambda: os.path.exists(current) and "hello" in open(current).read(), 10)
        run_name = inside(c, box.path("run/uncaught-logs"))
        assert os.path.islink(run_name)
        assert os.path.samefile(run_name, box.path("var/log/s6-uncaught-logs"))
        st = os.stat(box.path("var/log/s6-uncaught-logs"))
        assert (st.st_uid, st.st_gid) == (65534, 65534) and stat.S_IMODE(st.st_mode) & 0o777 == 0o700
        assert os.stat(current).st_uid == 65534
        fifo = inside(c, box.path("run/s6/uncaught-logs-fifo"))
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        # the logger is a supervised service: s6-svstat reads it
        out = subprocess.run(["nsenter", "--mount", "--target", str(c.pid), "--",
                              os.path.join(box.bin, "s6-svstat"), box.path("run/s6/s6-svscan-log")],
                             capture_output=True, text=True, env=box.environ())
        assert out.stdout.startswith("up (pid "), out
        # anyone in the container may write into the FIFO (v1's uncaught-logs-fifo)
        assert nsexec(c, ["sh", "-c", 'echo via-fifo > "$0"', box.path("run/s6/uncaught-logs-fifo")]) == 0
        assert wait_for(lambda: "via-fifo" in open(current).read(), 5)
        c.signal(signal.SIGTERM)
        assert c.wait(15) == 0
        out, err = c.output
        assert out == b"" and err == b"", (out, err)
    lines = logged(box, TAI)
    assert "hello" in lines and "via-fifo" in lines


def test_lines_written_while_the_logger_is_dead_are_kept(box):
    """PID 1 holds the FIFO's read end: what the tree writes while the logger is down
    waits in the pipe for the next logger (killed while idle: nothing in its memory)."""
    box.service("talk", 'for b in 0 1 2; do while [ ! -e "$S6PY_ROOT/data/go$b" ]; do sleep 0.01; done;'
                        ' i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo line-$b-$i; done; done;'
                        ' exec sleep 100\n')
    with box.start(["sh", "-c", "sleep 60"], env={"S6_LOGGING": "1"}) as c:
        current = box.path("var/log/s6-uncaught-logs/current")
        assert wait_file(current, 10)
        for batch in range(3):
            if batch:
                pid = _logger_pid(c, box)
                os.kill(c.host_pid(pid), signal.SIGKILL)
                assert wait_for(lambda: _logger_pid(c, box) != pid, 5)
            open(box.path("data/go%d" % batch), "w").close()
            if batch < 2:
                assert wait_for(lambda: "line-%d-100" % batch in _all_logs(box), 10)
        assert wait_for(lambda: "line-2-100" in _all_logs(box), 10)
        c.signal(signal.SIGTERM)
        assert c.wait(15) == 0
    lines = [l for l in _all_logs(box) if l.startswith("line-")]
    assert lines == ["line-%d-%d" % (b, i) for b in range(3) for i in range(1, 101)]
    assert any(n.endswith(".u") for n in os.listdir(box.path("var/log/s6-uncaught-logs")))


def _all_logs(box):
    """Bodies of every line of the catch-all logdir: archives in order, then current."""
    d = box.path("var/log/s6-uncaught-logs")
    names = sorted(n for n in os.listdir(d) if n.startswith("@")) + ["current"]
    lines = []
    for name in names:
        try:
            with open(os.path.join(d, name)) as f:
                lines += [ISO.sub("", l) for l in f.read().splitlines()]
        except FileNotFoundError:
            pass
    return lines


def _logger_pid(c, box):
    out = subprocess.run(["nsenter", "--mount", "--target", str(c.pid), "--",
                          os.path.join(box.bin, "s6-svstat"), "-p", box.path("run/s6/s6-svscan-log")],
                         capture_output=True, text=True, env=box.environ())
    text = out.stdout.strip()
    return int(text) if text.isdigit() and text != "-1" else None


def test_read_only_root_logs_into_run(box):
    box.service("svc", "echo ro-line; exec sleep 100\n")
    with box.start(["sh", "-c", "sleep 60"], env={"S6_LOGGING": "1", "S6_READ_ONLY_ROOT": "1"},
                   ro_root=True) as c:
        current = inside(c, box.path("run/uncaught-logs/current"))
        assert wait_for(lambda: os.path.exists(current) and "ro-line" in open(current).read(), 10)
        assert not os.path.islink(inside(c, box.path("run/uncaught-logs")))
        c.signal(signal.SIGTERM)
        assert c.wait(15) == 0
    assert not os.path.exists(box.path("var/log/s6-uncaught-logs"))


def test_var_log_unusable_falls_back_to_run(box):
    os.makedirs(box.path("var/log"))
    with open(box.path("var/log/s6-uncaught-logs"), "w") as f:
        f.write("a file in the way\n")
    box.service("svc", "echo fallback-line; exec sleep 100\n")
    with box.start(["sh", "-c", "sleep 60"], env={"S6_LOGGING": "1"}) as c:
        current = inside(c, box.path("run/uncaught-logs/current"))
        assert wait_for(lambda: os.path.exists(current) and "fallback-line" in open(current).read(), 10)
        c.signal(signal.SIGTERM)
        assert c.wait(15) == 0
        out, err = c.output
    assert err.decode().startswith("init: info: catch-all logger: unable to use %s" % box.path("var/log/s6-uncaught-logs")), err
