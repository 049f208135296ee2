"""One service's state table and status writes, exercised in-process with real children."""

import os
import signal
import subprocess
import sys
import time

import pytest

from pid1 import make_service
from s6py.engine.loop import Loop
from s6py.engine.service import ACTIONS, COLUMNS, GRID, LETTER_EVENTS, Event, Service, State
from s6py.wire import control, fifodir
from s6py.wire import status as svstatus


# ------------------------------------------------------------------ the table

# s6-supervise.c's table (s6 2.15: `actions[5][31]`, rows DOWN UP FINISH LASTUP LASTFINISH,
# columns TIMEOUT CHLD TERM HUP QUIT INT, a b q h k t i 1 2 p c y r l P C K, o d u D U x O Q),
# transcribed: the names of its action functions.
S6_KILLS = "killa killb killq killh killk killt killi kill1 kill2 killp killc killy killr killl killP killC killK"
S6_NOPS = " ".join(["nop"] * 17)
S6_TABLE = {
    State.DOWN: "downtimeout nop bail bail bail bail " + S6_NOPS +
                " down_o wantdown down_u wantDOWN down_U bail wantdown wantDOWN",
    State.UP: "uptimeout up_z up_term up_x bail sigint " + S6_KILLS +
              " wantdown up_d wantup up_D wantUP up_x wantdown wantDOWN",
    State.FINISH: "finishtimeout finish_z finish_x finish_x bail sigint " + S6_NOPS +
                  " wantdown wantdown wantup wantDOWN wantUP finish_x wantdown wantDOWN",
    State.LASTUP: "uptimeout lastup_z up_d closethem bail sigint " + S6_KILLS +
                  " wantdown up_d wantup up_D wantUP closethem wantdown wantDOWN",
    State.LASTFINISH: "finishtimeout lastfinish_z nop closethem bail sigint " + S6_NOPS +
                      " wantdown wantdown wantup wantDOWN wantUP closethem wantdown wantDOWN",
}
S6_COLUMNS = ("TIMEOUT CHLD TERM HUP QUIT INT a b q h k t i 1 2 p c y r l P C K o d u D U x O Q").split()

# Where each s6 action leaves the state (its `state = ...` lines, trystart's UP,
# set_down_and_ready's DOWN, bail()): (if it spawned ./run or ./finish, if not); None: stays.
S6_TRANSITIONS = {
    "downtimeout": (State.UP, None), "down_o": (State.UP, None), "down_u": (State.UP, None),
    "down_U": (State.UP, None),
    "up_z": (State.FINISH, State.DOWN), "lastup_z": (State.LASTFINISH, "bail"),
    "finish_z": (State.DOWN, State.DOWN), "lastfinish_z": ("bail", "bail"),
    "up_x": (State.LASTUP, State.LASTUP), "up_term": (State.LASTUP, State.LASTUP),
    "finish_x": (State.LASTFINISH, State.LASTFINISH),
    "bail": ("bail", "bail"), "sigint": ("bail", "bail"),
}


def s6_name(method):
    """Our method name as s6-supervise.c spells its function (down_timeout -> downtimeout)."""
    name = method.__name__ if hasattr(method, "__name__") else method
    keep_underscore = {"down_o", "down_u", "down_U", "up_z", "up_term", "up_x", "up_d", "up_D",
                       "finish_z", "finish_x", "lastup_z", "lastfinish_z"}
    return name if name in keep_underscore else name.replace("_", "")


def cell_names():
    """Every cell of our GRID as (state, column name, s6-style action name, done, not done)."""
    for state in State:
        for event, column in zip(COLUMNS, S6_COLUMNS):
            assert event.name in (column, "USR" + column)
            cell = GRID[state][COLUMNS.index(event)]
            name, *targets = (cell,) if isinstance(cell, str) else cell
            targets = targets or [None]
            yield state, column, s6_name(name), targets[0], targets[-1]


def test_the_grid_is_s6_supervise_cell_for_cell():
    """All 5 x 31 cells: the same action as s6-supervise.c's table."""
    ours = {(state, column): name for state, column, name, _, _ in cell_names()}
    theirs = {(state, column): name for state, row in S6_TABLE.items()
              for column, name in zip(S6_COLUMNS, row.split())}
    assert len(theirs) == 5 * 31
    assert ours == theirs


def test_every_transition_is_s6_supervise():
    """Each cell's next states are those s6's action leads to; a bail cell ends."""
    for state, column, name, done, not_done in cell_names():
        expected = S6_TRANSITIONS.get(name, (None, None))
        assert (done, not_done) == expected, (state, column, name)


def test_the_grid_compiles_to_methods_for_every_event():
    for state in State:
        assert set(ACTIONS[state]) == set(Event)
        for method, _, _ in ACTIONS[state].values():
            assert callable(method)


def test_control_letters_are_those_of_s6():
    letters = {chr(b) for b in LETTER_EVENTS}
    assert letters == set(control.SUPERVISE_LETTERS)


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


def test_a_death_writes_into_spare_files_made_while_idle(loop, supervised):
    """Once idle, a service gets an empty death_tally and a status.new ahead of its next
    death, which then creates no file (each creation costs ~0.7 ms on an overlay /run):
    the death tally is the same inode, the new status is the spare renamed."""
    from s6py.engine import spares

    service, _ = supervised(run="exec sleep 100\n")
    spin(loop, lambda: service.state is State.UP and service.status.pid)
    sup = os.path.join(service.path, "supervise")
    tally, spare = os.path.join(sup, "death_tally"), os.path.join(sup, "status.new")
    assert not os.path.exists(tally)
    spin(loop, lambda: os.path.exists(tally) and os.path.exists(spare),
         timeout=spares.IDLE_DELAY + 2)
    assert os.path.getsize(tally) == 0
    tally_inode, spare_inode = os.stat(tally).st_ino, os.stat(spare).st_ino
    service.fire(Event.d)
    spin(loop, lambda: service.state is State.DOWN)
    assert os.stat(tally).st_ino == tally_inode and os.path.getsize(tally) == 14
    assert os.stat(os.path.join(sup, "status")).st_ino == spare_inode
    assert svstatus.read(service.path).pid == 0
    assert not os.path.exists(spare)  # until the next idle spell


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
    assert listener.read() == b"s"  # start() has written it: ./down, so no `u`
    assert svok(theirs, service.path) == 0
    service.fire(Event.x)
    assert ended == [service]
    assert listener.read() == b"x"
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


def test_listeners_hear_an_event_once_its_transition_is_complete(loop, supervised):
    """The grid's cell sets the state after its action: events sent by the action reach
    in-process listeners afterwards, so each sees the state it announces."""
    service, _ = supervised(run="exec sleep 100000\n")
    seen = []
    service.add_listener(lambda svc, event: seen.append((event, svc.state)))
    spin(loop, lambda: service.state is State.UP)
    service.fire(Event.d)
    spin(loop, lambda: (b"D", State.DOWN) in seen)
    service.fire(Event.u)
    spin(loop, lambda: (b"u", State.UP) in seen)
    assert seen == [(b"d", State.DOWN), (b"D", State.DOWN), (b"u", State.UP)]


def test_a_transition_writes_the_status_once_before_its_events(loop, supervised, monkeypatch):
    """`u` on a down service changes the status twice (wanted up, then spawned): one write
    of supervise/status at the end of the transition, and a listener woken by its `u`
    reads the spawned process's pid from the file itself."""
    service, _ = supervised(run="exec sleep 100000\n", files={"down": ""})
    spin(loop, lambda: service.state is State.DOWN)
    writes, on_disk_at_u = [], []
    real_write = svstatus.write
    monkeypatch.setattr(svstatus, "write", lambda root, st: (writes.append(st.pid), real_write(root, st)))
    service.add_listener(lambda svc, event: event == b"u" and on_disk_at_u.append(
        svstatus.read(svc.path).pid))
    service.fire(Event.u)
    assert service.state is State.UP and service.status.pid > 0
    assert writes == [service.status.pid]
    spin(loop, lambda: on_disk_at_u)
    assert on_disk_at_u == [service.status.pid]


def test_d_and_the_death_it_causes_write_the_status_once(loop, supervised, monkeypatch):
    """`-d` makes the status "up, want down"; that write waits (LAZY_STATUS) for the
    death, whose transition writes "down" and sends `d`: one write, and it is "down".
    (LAZY_STATUS raised for the test: the death must come before it, even under load.)"""
    from s6py.engine import service as service_module

    monkeypatch.setattr(service_module, "LAZY_STATUS", 5.0)
    service, _ = supervised(run="exec sleep 100000\n")
    spin(loop, lambda: service.state is State.UP)
    writes = []
    real_write = svstatus.write
    monkeypatch.setattr(svstatus, "write", lambda root, st: (
        writes.append((st.pid, st.wantup)), real_write(root, st)))
    service.fire(Event.d)
    assert writes == []
    spin(loop, lambda: service.state is State.DOWN)
    assert writes == [(0, False)]
    assert svstatus.read(service.path).pid == 0


def test_want_down_reaches_the_disk_when_the_process_stays(loop, supervised):
    """A run that ignores TERM: "up, want down" is written LAZY_STATUS after `-d`."""
    service, _ = supervised(run="trap '' TERM\nwhile :; do sleep 0.05; done\n")
    spin(loop, lambda: service.state is State.UP)
    time.sleep(0.1)  # let sh install its trap
    pid = service.status.pid
    service.fire(Event.d)
    spin(loop, lambda: not svstatus.read(service.path).wantup)
    on_disk = svstatus.read(service.path)
    assert (on_disk.pid, service.state) == (pid, State.UP)
    service.fire(Event.k)
    spin(loop, lambda: service.state is State.DOWN)


def test_a_run_that_cannot_exec_is_down_again_without_a_death(loop, supervised, capfd):
    """./run is spawned without waiting for its exec (spawn_nowait): `u` goes out at the
    spawn, then the child's report arrives and the service is down again with `dD`, one
    warning and the 10 s retry; the child's exit 127 is not a death of ./run."""
    service, listener = supervised(files={"down": ""})
    os.chmod(os.path.join(service.path, "run"), 0o644)
    assert listener.read() == b"s"
    service.fire(Event.u)
    spin(loop, lambda: service.state is State.DOWN and service._deadline is not None)
    assert listener.read() == b"udD"
    err = capfd.readouterr().err
    assert err.count("unable to exec run: Permission denied") == 1, err
    assert "waiting 10 seconds" in err
    assert (service.status.pid, service.deaths) == (0, 0)
    assert svstatus.read(service.path).pid == 0
    assert not os.path.exists(os.path.join(service.path, "supervise", "death_tally"))
    assert service._deadline.when > loop.time() + 5


def test_d_right_after_the_spawn_stops_the_child_and_not_pid_1(loop, supervised):
    """`d` in the same turn as the spawn TERMs a child that may not have exec'd yet.
    Signals are blocked across the fork until the child has reset its dispositions, so
    the TERM never runs the parent's handler in the child (which would write SIGTERM into
    the parent's wake-up pipe: for PID 1, a stop of the container)."""
    terms = []
    loop.on_signal(signal.SIGTERM, terms.append)
    service, _ = supervised(run="exec sleep 100000\n", files={"down": ""})
    for _ in range(20):
        service.fire(Event.u)
        service.fire(Event.d)
        spin(loop, lambda: service.state is State.DOWN and service.status.pid == 0)
        service.nextstart = None
    loop.run_once(timeout=0.05)
    assert terms == []
    assert service.deaths == 20


def test_settle_pending_execs_returns_once_every_run_has_exec_d(loop, supervised):
    """What /init calls before the CMD: after it, no ./run spawned so far is still the
    forked interpreter (each has exec'd its program), without a turn of the loop."""
    from s6py.engine.service import settle_pending_execs

    services = [supervised(name="s%d" % i, run="exec sleep 100\n", files={"down": ""})[0]
                for i in range(10)]
    for service in services:
        service.fire(Event.u)
    settle_pending_execs()
    python = os.path.realpath(sys.executable)
    exes = [os.path.realpath("/proc/%d/exe" % s.status.pid) for s in services]
    assert python not in exes, exes
