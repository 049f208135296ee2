"""The event loop: timers, readers, signals, child watching, the never-die guard."""

import os
import signal
import subprocess
import sys
import time

import pytest

from s6py.engine.loop import Loop


@pytest.fixture
def loop():
    lp = Loop()
    yield lp
    lp.close()


def run_until(loop, predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        loop.run_once(timeout=0.05)


def test_timers_fire_in_deadline_order_and_cancelled_ones_never(loop):
    fired = []
    loop.call_later(0.03, lambda: fired.append("late"))
    loop.call_later(0.01, lambda: fired.append("early"))
    loop.call_later(0.02, lambda: fired.append("cancelled")).cancel()
    run_until(loop, lambda: len(fired) == 2)
    loop.run_once(timeout=0.05)
    assert fired == ["early", "late"]


def test_an_idle_loop_has_no_deadline(loop):
    assert loop._timeout() is None
    handle = loop.call_later(100, lambda: None)
    assert 99 < loop._timeout() <= 100
    handle.cancel()
    assert loop._timeout() is None


def test_readers_are_called_while_data_is_pending_and_not_after_removal(loop):
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    got = []
    loop.add_reader(r, lambda: got.append(os.read(r, 100)))
    os.write(w, b"hello")
    run_until(loop, lambda: got)
    loop.remove_reader(r)
    os.write(w, b"again")
    loop.run_once(timeout=0.05)
    assert got == [b"hello"]
    os.close(r)
    os.close(w)


def test_signals_arrive_as_callbacks(loop):
    got = []
    loop.on_signal(signal.SIGUSR1, got.append)
    os.kill(os.getpid(), signal.SIGUSR1)
    run_until(loop, lambda: got)
    assert got == [signal.SIGUSR1]


def test_watched_children_get_their_wait_status_and_orphans_are_reaped(loop):
    statuses, orphans = [], []
    loop.on_orphan = lambda pid, wstat: orphans.append(pid)
    watched = subprocess.Popen(["sh", "-c", "exit 7"])
    loop.watch_child(watched.pid, statuses.append)
    unwatched = subprocess.Popen(["true"])
    run_until(loop, lambda: statuses and orphans)
    assert os.waitstatus_to_exitcode(statuses[0]) == 7
    assert orphans == [unwatched.pid]


def test_a_failing_callback_is_reported_once_and_the_loop_goes_on(loop, capfd):
    fired = []

    def broken():
        raise RuntimeError("boom")
    for _ in range(3):
        loop.call_soon(broken)
    loop.call_later(0.01, lambda: fired.append(True))
    run_until(loop, lambda: fired)
    err = capfd.readouterr().err
    assert err.count("RuntimeError: boom") == 1


def test_stop_ends_run(loop):
    loop.call_later(0.01, loop.stop)
    started = time.monotonic()
    loop.run()
    assert time.monotonic() - started < 1


def test_children_start_with_default_dispositions_even_if_we_inherited_ignored_ones(tmp_path):
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from s6py.engine.loop import Loop\n"
        "from s6py.engine.spawn import spawn\n"
        "import os\n"
        "loop = Loop()\n"
        "pid = spawn(['/bin/sh', '-c', 'grep -E \"^Sig(Ign|Blk)\" /proc/self/status'])\n"
        "os.waitpid(pid, 0)\n" % os.path.join(os.path.dirname(os.path.dirname(__file__)), "src"))
    out = subprocess.run(["sh", "-c", 'trap "" INT HUP USR2; exec "$0" -c "$1"', sys.executable, script],
                         capture_output=True, text=True, check=True).stdout
    fields = dict(zip(out.split()[::2], out.split()[1::2]))
    assert int(fields["SigBlk:"], 16) == 0
    assert int(fields["SigIgn:"], 16) == 0  # none, not even the C library's own 32 and 33


def _python(code):
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    return subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r)\n" % src + code],
                          capture_output=True, text=True, timeout=10)


def test_a_signal_blocked_before_the_loop_existed_reaches_a_callback_registered_later():
    r = _python(
        "import os, signal\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])  # first thing an init does\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "from s6py.engine.loop import Loop\n"
        "loop = Loop(signals=[signal.SIGUSR1])\n"
        "loop.run_once(timeout=0)  # drained before anybody listens: kept\n"
        "got = []\n"
        "loop.on_signal(signal.SIGUSR1, got.append)\n"
        "loop.run_once(timeout=0)\n"
        "print(got == [signal.SIGUSR1])\n")
    assert r.stdout == "True\n", r


def test_signal_callbacks_can_be_given_at_construction():
    r = _python(
        "import os, signal\n"
        "from s6py.engine.loop import Loop\n"
        "got = []\n"
        "loop = Loop(signals={signal.SIGUSR2: got.append})\n"
        "os.kill(os.getpid(), signal.SIGUSR2)\n"
        "loop.run_once(timeout=1)\n"
        "print(got == [signal.SIGUSR2])\n")
    assert r.stdout == "True\n", r


def test_one_line_error_mode_reports_each_distinct_error_once():
    r = _python(
        "from s6py.engine.loop import Loop\n"
        "loop = Loop(traceback=False, prog='init')\n"
        "def boom(): raise ValueError('bad thing')\n"
        "def other(): raise KeyError('k')\n"
        "for f in (boom, boom, other, boom):\n"
        "    loop.call_soon(f)\n"
        "loop.run_once(timeout=0)\n"
        "print('alive')\n")
    assert r.stdout == "alive\n"
    assert r.stderr == ("init: warning: internal error: ValueError: bad thing\n"
                        "init: warning: internal error: KeyError: 'k'\n"), r.stderr


def test_a_deadline_beyond_what_epoll_can_wait_neither_spins_nor_blocks_events(loop):
    """epoll takes a C int of milliseconds: a 4294967295 ms deadline raised OverflowError on
    every turn (PID 1 at 100% CPU).  It is waited for in clamped turns; events still come."""
    fired = []
    loop.call_later(4294967295 / 1000.0, lambda: fired.append("far"))
    loop.call_later(float("inf"), lambda: fired.append("never"))
    r, w = os.pipe()
    loop.add_reader(r, lambda: (fired.append(os.read(r, 10)), loop.stop()))
    os.write(w, b"x")
    t = time.monotonic()
    loop.run()
    assert fired == [b"x"] and time.monotonic() - t < 1
    os.close(r)
    os.close(w)
