"""The supervision core's API (engine.supervisor), in-process with real children and pipes:
add / up / down / remove, `when` and `when_all` waits with and without timeouts,
pipelines of N services, the snapshot, terminate's order, and running out of fds."""

import os
import time

import pytest

from pid1 import make_service
from s6py.diag import Reporter
from s6py.engine.loop import Loop
from s6py.engine.supervisor import Supervisor


@pytest.fixture
def loop():
    lp = Loop()
    yield lp
    lp.close()


@pytest.fixture
def sup(loop, tmp_path):
    err = tmp_path / "stderr"
    fd = os.open(str(err), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    supervisor = Supervisor(loop, Reporter("s6-svscan", 2, fd))
    supervisor.stderr = err
    yield supervisor
    if supervisor.members:
        done = []
        supervisor.terminate(lambda: done.append(1), kill_consumers=True)
        run_until(loop, lambda: done, timeout=10)
    os.close(fd)


def run_until(loop, predicate, timeout=5.0):
    """Turn the loop until PREDICATE() holds; fail (not pass) when it never does."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        loop.run_once(timeout=0.02)
    return predicate()


def results(loop, wait_list, count=1, timeout=5.0):
    run_until(loop, lambda: len(wait_list) >= count, timeout)
    return wait_list


def test_add_supervises_and_when_up_fires(loop, sup, tmp_path):
    path = make_service(tmp_path, "a", run="exec sleep 100\n")
    member = sup.add("a", path)
    got = []
    sup.when(member, "up", 5, got.append)
    assert results(loop, got) == [True]
    assert member.service.status.pid > 0
    assert os.path.exists(os.path.join(path, "supervise", "status"))


def test_want_up_false_overrides_a_missing_down_file(loop, sup, tmp_path):
    path = make_service(tmp_path, "a", run="exec sleep 100\n")
    member = sup.add("a", path, want_up=False)
    got = []
    sup.when(member, "up", 0.3, got.append)
    assert results(loop, got) == [False]          # the timeout, not the service
    member.up()
    sup.when(member, "up", 5, got.append)
    assert results(loop, got, 2) == [False, True]
    member.down()
    sup.when(member, "finished", 5, got.append)
    assert results(loop, got, 3)[2] is True
    assert member.service.status.pid == 0


def test_ready_waits_for_the_notification_when_there_is_a_notification_fd(loop, sup, tmp_path):
    path = make_service(tmp_path, "a", run="sleep 0.4\necho >&3\nexec sleep 100\n",
                        files={"notification-fd": "3\n"})
    member = sup.add("a", path)
    up, ready = [], []
    sup.when(member, "up", 5, up.append)
    sup.when(member, "ready", 5, ready.append)
    results(loop, up)
    assert up == [True] and ready == []            # up at once, ready only after 0.4 s
    assert results(loop, ready) == [True]
    assert member.service.status.ready


def test_cancelled_wait_never_calls_back(loop, sup, tmp_path):
    path = make_service(tmp_path, "a", run="sleep 0.2\nexec sleep 100\n",
                        files={"notification-fd": "3\n"})
    member = sup.add("a", path)
    got = []
    waiter = sup.when(member, "ready", 0.5, got.append)
    waiter.cancel()
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        loop.run_once(timeout=0.05)
    assert got == []


def test_when_all_reports_the_late_ones_by_name(loop, sup, tmp_path):
    fast = sup.add("fast", make_service(tmp_path, "fast", run="exec sleep 100\n"))
    never = sup.add("never", make_service(tmp_path, "never", run="exec sleep 100\n",
                                          files={"notification-fd": "3\n"}))
    got = []
    sup.when_all([fast, never], "ready", 0.5, got.append)
    assert results(loop, got) == [["never"]]
    got2 = []
    sup.when_all([fast], "ready", 5, got2.append)
    assert results(loop, got2) == [[]]


def test_pipeline_of_three_carries_every_line_across_restarts(loop, sup, tmp_path):
    """producer | middle | consumer: the pipes are the supervisor's, so killing the middle
    one loses nothing that the producer wrote meanwhile."""
    out = tmp_path / "out"
    producer = make_service(tmp_path, "p", run="i=0\nwhile [ $i -lt 300 ]; do echo $i;"
                            " i=$((i+1)); sleep 0.005; done\nexec sleep 100\n")
    middle = make_service(tmp_path, "m", run="exec sed -u 's/^/m:/'\n")
    consumer = make_service(tmp_path, "c", run="exec cat >> %s\n" % out)
    members = sup.pipeline([("p", producer), ("m", middle), ("c", consumer)])
    assert [m.name for m in members] == ["p", "m", "c"]
    run_until(loop, lambda: out.exists() and out.read_text().count("\n") >= 50)
    os.kill(members[1].service.status.pid, 9)      # the middle one dies; it is restarted
    run_until(loop, lambda: out.read_text().count("\n") >= 300, timeout=10)
    assert out.read_text().split() == ["m:%d" % i for i in range(300)]


def test_terminate_stops_producers_first_and_consumers_on_eof(loop, sup, tmp_path):
    out = tmp_path / "out"
    producer = make_service(tmp_path, "p", run="trap 'echo last words; exit 0' TERM\n"
                            "echo hello\nwhile :; do sleep 0.05; done\n")
    consumer = make_service(tmp_path, "c", run="exec cat >> %s\n" % out)
    sup.pipeline([("p", producer), ("c", consumer)])
    run_until(loop, lambda: out.exists() and "hello" in out.read_text())
    done = []
    sup.terminate(lambda: done.append(1))
    run_until(loop, lambda: done, timeout=10)
    assert out.read_text() == "hello\nlast words\n"   # the consumer outlived the producer
    assert sup.members == {}


def test_funnel_two_producers_one_consumer_pipe(loop, sup, tmp_path):
    """s6-rc's funnel: two producers write into their consumer's one pipe (held here, so
    killing the consumer loses no line); the first producer to leave for good does not
    close that pipe on the other, which still gets it when it restarts."""
    out, flag = tmp_path / "out", tmp_path / "flag"
    # each producer writes 100 lines, waits for FLAG, writes 100 more: the consumer is
    # killed while the pipe is empty (what `cat` had read and not written would be lost
    # with any supervisor), and the second halves wait in the pipe PID 1 holds
    halves = ("i=0\nwhile [ $i -lt 100 ]; do echo %%s$i; i=$((i+1)); sleep 0.005; done\n"
              "while [ ! -e %s ]; do sleep 0.01; done\n"
              "while [ $i -lt 200 ]; do echo %%s$i; i=$((i+1)); sleep 0.005; done\n" % flag)
    a = make_service(tmp_path, "a", run=halves % ("a", "a") + "exec sleep 100\n")
    b = make_service(tmp_path, "b", run="trap 'sleep 0.3; echo b-last; exit 0' TERM\n"
                     + halves % ("b", "b") + "while :; do sleep 0.05; done\n")
    consumer = make_service(tmp_path, "c", run="exec cat >> %s\n" % out)
    members = sup.pipeline([("a", a), ("b", b), ("c", consumer)], feeds=[2, 2, None])
    assert members[0].stdout == members[1].stdout == members[0].pipeline.inputs[2][1]
    run_until(loop, lambda: out.exists() and out.read_text().count("\n") >= 200)
    os.kill(members[2].service.status.pid, 9)       # the consumer dies; it is restarted
    flag.write_text("")
    run_until(loop, lambda: out.read_text().count("\n") >= 400, timeout=10)
    words = out.read_text().split()
    assert [w for w in words if w[0] == "a"] == ["a%d" % i for i in range(200)]
    assert [w for w in words if w[0] == "b"] == ["b%d" % i for i in range(200)]
    gone = []
    sup.remove("a", lambda: gone.append(1))
    run_until(loop, lambda: gone)
    os.kill(members[1].service.status.pid, 9)       # b restarts after a has left
    run_until(loop, lambda: out.read_text().split().count("b199") == 2, timeout=10)
    done = []
    sup.terminate(lambda: done.append(1))
    run_until(loop, lambda: done, timeout=10)
    assert out.read_text().endswith("b-last\n")      # the consumer outlived the producers
    assert sup.members == {}


def test_remove_brings_down_and_forgets(loop, sup, tmp_path):
    path = make_service(tmp_path, "a", run="exec sleep 100\n")
    member = sup.add("a", path)
    run_until(loop, lambda: member.service and member.service.status.pid)
    pid = member.service.status.pid
    gone = []
    sup.remove("a", lambda: gone.append(1))
    run_until(loop, lambda: gone)
    assert "a" not in sup.members
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_snapshot_says_state_pid_restarts_and_errors(loop, sup, tmp_path):
    path = make_service(tmp_path, "a", run="exec sleep 100\n")
    member = sup.add("a", path)
    run_until(loop, lambda: member.service.status.pid)
    os.kill(member.service.status.pid, 9)
    run_until(loop, lambda: member.service.deaths == 1 and member.service.status.pid)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "supervise").write_text("not a directory")
    sup.add("broken", str(broken))
    snap = {row["name"]: row for row in sup.snapshot()}
    assert snap["a"]["state"] == "UP" and snap["a"]["pid"] > 0 and snap["a"]["restarts"] == 1
    assert snap["a"]["want_up"] is True and snap["a"]["error"] is None
    assert snap["broken"]["supervised"] is False and "unable to supervise" in snap["broken"]["error"]


def test_out_of_fds_is_one_line_and_a_retry_when_fds_are_freed(loop, sup, tmp_path):
    """Fill the fd table, add services: one line for the shortage, then every queued one
    is supervised once fds are closed."""
    paths = [make_service(tmp_path, "s%d" % i, run="exec sleep 100\n") for i in range(5)]
    hogs = []
    try:
        while True:
            hogs.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    members = []
    try:
        for i, path in enumerate(paths):
            members.append(sup.add("s%d" % i, path))
        assert all(m.service is None for m in members)
    finally:
        for fd in hogs:
            os.close(fd)
    text = sup.stderr.read_text()
    assert text.count("Too many open files") == 1, text
    assert "limit" in text and "supervised when descriptors are freed" in text
    run_until(loop, lambda: all(m.service is not None and m.service.status.pid for m in members),
              timeout=10)
    assert "every queued service is supervised now" in sup.stderr.read_text()
