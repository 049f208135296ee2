"""One service's state table and status writes, exercised in-process with real children."""

import os
import signal
import subprocess
import time

import pytest

from pid1 import make_service
from s6py.engine.loop import Loop
from s6py.engine.service import ACTIONS, LETTER_EVENTS, Event, Service, State
from s6py.wire import control, fifodir
from s6py.wire import status as svstatus


# ------------------------------------------------------------------ the table

def test_every_state_reacts_to_every_event():
    for state in State:
        assert set(ACTIONS[state]) == set(Event)


def test_control_letters_are_those_of_s6():
    letters = {chr(b) for b in LETTER_EVENTS}
    assert letters == set(control.SUPERVISE_LETTERS) | {"Q"}


@pytest.mark.parametrize("state, event, action", [
    (State.DOWN, Event.u, "down_u"), (State.DOWN, Event.d, "want_down"),
    (State.DOWN, Event.x, "bail"), (State.DOWN, Event.k, "nop"),
    (State.UP, Event.d, "up_d"), (State.UP, Event.x, "up_x"), (State.UP, Event.CHLD, "up_z"),
    (State.UP, Event.O, "want_down"), (State.UP, Event.TERM, "up_term"),
    (State.FINISH, Event.d, "want_down"), (State.FINISH, Event.x, "finish_x"),
    (State.FINISH, Event.k, "nop"), (State.FINISH, Event.TIMEOUT, "finish_timeout"),
    (State.LASTUP, Event.CHLD, "lastup_z"), (State.LASTUP, Event.u, "want_up"),
    (State.LASTFINISH, Event.CHLD, "lastfinish_z"), (State.LASTFINISH, Event.TERM, "nop"),
])
def test_table_cells_match_s6_supervise(state, event, action):
    assert ACTIONS[state][event] is getattr(Service, action)


# ------------------------------------------------------------ live services

@pytest.fixture
def loop():
    lp = Loop()
    yield lp
    lp.close()


def spin(loop, predicate, timeout=4.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        loop.run_once(timeout=0.02)


@pytest.fixture
def supervised(loop, tmp_path):
    services = []

    def start(name="svc", **kwargs):
        path = make_service(tmp_path, name, **kwargs)
        fifodir.make(os.path.join(path, "event"))
        listener = fifodir.Listener(os.path.join(path, "event"))
        service = Service(loop, path, name)
        service.start()
        services.append((service, listener))
        return service, listener
    yield start
    for service, listener in services:
        if service.status.pid:
            try:
                os.killpg(service.status.pid, signal.SIGKILL)
            except OSError:
                pass
        service.fire(Event.QUIT)
        listener.close()


def svok(theirs, path):
    """s6-svok from another process: F_GETLK never reports our own locks (and opening the
    lock file here would drop them: POSIX locks die with any close of the file)."""
    return subprocess.run([theirs("s6-svok"), path]).returncode


def test_start_writes_status_and_events_like_s6(loop, supervised, theirs):
    service, listener = supervised()
    spin(loop, lambda: service.state is State.UP)
    st = svstatus.read(service.path)
    assert st.pid == service.status.pid > 0
    assert (st.wantup, st.ready, st.finishing, st.paused) == (True, False, False, False)
    assert listener.read() == b"su"
    for name, mode in (("supervise", 0o700), ("supervise/control", 0o600), ("supervise/lock", 0o644),
                       ("supervise/status", 0o644), ("event", 0o3730)):
        assert os.stat(os.path.join(service.path, name)).st_mode & 0o7777 == mode, name
    assert svok(theirs, service.path) == 0


def test_down_command_kills_and_finish_then_reports_D(loop, supervised):
    service, listener = supervised(finish="exit 0\n")
    spin(loop, lambda: service.state is State.UP)
    service.fire(Event.d)
    spin(loop, lambda: service.state is State.DOWN)
    st = svstatus.read(service.path)
    assert (st.pid, st.wantup, st.ready, st.finishing) == (0, False, True, False)
    assert os.WTERMSIG(st.wstat) == signal.SIGTERM
    assert listener.read() == b"sudD"


def test_finish_status_has_the_finishing_flag_and_its_pid(loop, supervised):
    service, listener = supervised(run="exit 0\n", finish="exec sleep 0.3\n")
    spin(loop, lambda: service.state is State.FINISH)
    st = svstatus.read(service.path)
    assert st.finishing and st.pid > 0 and st.wantup
    spin(loop, lambda: service.state is State.DOWN)
    assert not svstatus.read(service.path).finishing


def test_finish_is_killed_after_timeout_finish(loop, supervised):
    service, listener = supervised(run="exit 0\n", finish="exec sleep 100\n", files={"timeout-finish": "200"})
    spin(loop, lambda: service.state is State.FINISH)
    started = time.monotonic()
    spin(loop, lambda: service.state is State.DOWN)
    assert 0.15 < time.monotonic() - started < 1.5


def test_death_tally_is_capped_by_max_death_tally(loop, supervised):
    service, _ = supervised(run="exit 0\n", files={"max-death-tally": "2"})
    service.nextstart = None
    for _ in range(3):
        spin(loop, lambda: service.state is State.UP)
        spin(loop, lambda: service.state is State.DOWN)
        service.set_deadline(0)  # skip the 1 s throttle in this unit test
    size = os.path.getsize(os.path.join(service.path, "supervise/death_tally"))
    assert size == 2 * 14


def test_spawn_failure_backs_off_and_reports_once(loop, supervised, capfd):
    service, _ = supervised(run=None)
    spin(loop, lambda: service._deadline is not None and service._deadline.when > loop.time() + 5)
    assert service.state is State.DOWN
    err = capfd.readouterr().err
    assert err.count("svc: unable to exec run") == 1
    assert "waiting 10 seconds" in err


def test_x_in_down_state_ends_supervision_and_releases_the_lock(loop, supervised, theirs):
    ended = []
    service, listener = supervised(files={"down": ""})
    service.on_exit = ended.append
    spin(loop, lambda: listener.read() == b"s" or True)
    assert svok(theirs, service.path) == 0
    service.fire(Event.x)
    assert ended == [service]
    assert svok(theirs, service.path) == 1


def test_standalone_s6_supervise_is_driven_by_real_s6_svc(ours, theirs, tmp_path):
    path = make_service(tmp_path, "one")
    proc = subprocess.Popen([str(ours / "s6-supervise"), "one"], cwd=str(tmp_path), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while not os.path.exists(os.path.join(path, "supervise", "status")):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        subprocess.run([theirs("s6-svwait"), "-u", "-t", "3000", path], check=True)
        second = subprocess.run([str(ours / "s6-supervise"), "one"], cwd=str(tmp_path), capture_output=True)
        assert second.returncode == 100
        subprocess.run([theirs("s6-svc"), "-xd", path], check=True)
        assert proc.wait(5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------ embedding API

def test_listeners_get_each_event_byte_after_the_status_is_written(loop, supervised):
    seen = []

    def listener(service, event):
        seen.append((event, svstatus.read(service.path).pid == service.status.pid))
    service, _ = supervised(files={"down": ""})
    service.add_listener(listener)
    service.fire(Event.u)
    spin(loop, lambda: service.state is State.UP)
    service.fire(Event.d)
    spin(loop, lambda: service.state is State.DOWN)
    assert seen == [(b"u", True), (b"d", True), (b"D", True)]
    service.remove_listener(listener)
    service.fire(Event.u)
    assert len(seen) == 3


def test_a_failing_listener_disturbs_neither_the_service_nor_other_listeners(loop, supervised, capfd):
    seen = []

    def broken(service, event):
        raise RuntimeError("listener bug")
    service, listener = supervised(files={"down": ""})
    service.add_listener(broken)
    service.add_listener(lambda s, e: seen.append(e))
    service.fire(Event.u)
    spin(loop, lambda: service.state is State.UP)
    assert seen == [b"u"]
    assert listener.read() == b"su"
    assert capfd.readouterr().err.count("RuntimeError: listener bug") == 1


def test_scanner_on_command_can_take_over_svscanctl_letters(loop, tmp_path, theirs):
    from s6py.engine.scanner import Scanner

    scandir = tmp_path / "scan"
    scandir.mkdir()
    make_service(scandir, "a", files={"down": ""})
    letters = []

    def on_command(letter):
        letters.append(letter)
        return letter in "tiqb"
    scanner = Scanner(loop, str(scandir), on_command=on_command)
    scanner.open_control()
    try:
        subprocess.run([theirs("s6-svscanctl"), "-t", str(scandir)], check=True, timeout=5)
        spin(loop, lambda: letters == ["t"])
        assert not scanner.terminating
        subprocess.run([theirs("s6-svscanctl"), "-a", str(scandir)], check=True, timeout=5)
        spin(loop, lambda: "a" in scanner.services())
        assert letters == ["t", "a"]
    finally:
        for service in scanner.services().values():
            service.fire(Event.QUIT)
        scanner.close_control()
