"""Our s6-svscan as PID 1 of a private PID namespace, driven by Debian's real s6 tools."""

import os
import signal
import stat
import subprocess
import time

import pytest

from pid1 import Pid1, available, make_service, wait_for, write_script
from s6py.wire import fifodir
from s6py.wire import status as svstatus

pytestmark = pytest.mark.skipif(not available(), reason="needs root and unshare")


@pytest.fixture
def scandir(tmp_path):
    d = tmp_path / "scan"
    d.mkdir()
    return d


@pytest.fixture
def svscan(ours, scandir):
    """Start our s6-svscan on SCANDIR as PID 1; yields the Pid1 handle."""
    started = []

    def start(*options):
        init = Pid1([str(ours / "s6-svscan")] + list(options) + [str(scandir)])
        started.append(init)
        return init
    yield start
    for init in started:
        init.stop()


def tool(theirs, name, *args, check=True, timeout=10):
    return subprocess.run([theirs(name)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, check=check)


def svstat(theirs, path, *fields):
    options = ["-o", ",".join(fields)] if fields else []
    return tool(theirs, "s6-svstat", *options, path).stdout.strip()


def wait_up(theirs, path, timeout=5):
    wait_for(lambda: os.path.exists(os.path.join(path, "supervise", "status")), timeout)
    tool(theirs, "s6-svwait", "-u", "-t", int(timeout * 1000), path)
    return int(svstat(theirs, path, "pid"))


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


# ------------------------------------------------------------------ spawning

def test_run_gets_its_name_cwd_new_session_default_signals_and_no_extra_fd(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run='echo "$0 $*" > args\nexec sleep 100000\n', log="exec cat >/dev/null\n")
    init = svscan()
    pid = init.host_pid(wait_up(theirs, svc))
    assert open(os.path.join(svc, "args")).read() == "./run a\n"
    assert os.readlink("/proc/%d/cwd" % pid) == svc
    with open("/proc/%d/stat" % pid) as f:
        session = int(f.read().rsplit(")", 1)[1].split()[3])
    assert session == pid
    status = proc_status(pid)
    assert int(status["SigIgn"], 16) & ~((1 << 31) | (1 << 32)) == 0  # 32, 33: libc's own
    assert int(status["SigBlk"], 16) == 0
    assert sorted(os.listdir("/proc/%d/fd" % pid)) == ["0", "1", "2"]
    assert os.readlink("/proc/%d/fd/0" % pid) == "/dev/null"
    assert os.readlink("/proc/%d/fd/1" % pid).startswith("pipe:")
    logpid = init.host_pid(wait_up(theirs, os.path.join(svc, "log")))
    assert os.readlink("/proc/%d/fd/0" % logpid) == os.readlink("/proc/%d/fd/1" % pid)
    assert open("/proc/%d/cmdline" % logpid).read() == "cat\0"


def first_line(path, timeout=5.0):
    """The file's first whole line, once written: a shell's `>> file` creates
    the file before echo writes to it, so existing is not enough."""
    def whole_line():
        return os.path.exists(path) and open(path).read().find("\n") >= 0
    wait_for(whole_line, timeout)
    return open(path).readline()


def test_finish_gets_exit_code_signal_name_and_pgid(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="exit 3\n", finish='echo "$*" >> fin\n')
    svscan()
    code, sig, name, pgid = first_line(os.path.join(svc, "fin")).split()
    assert (code, sig, name) == ("3", "0", "a")
    assert int(pgid) > 1


def test_killed_run_gives_finish_256_and_the_signal(theirs, scandir, svscan):
    svc = make_service(scandir, "a", finish='echo "$1 $2" >> fin\n')
    svscan()
    wait_up(theirs, svc)
    tool(theirs, "s6-svc", "-k", svc)
    assert first_line(os.path.join(svc, "fin")) == "256 9\n"


def test_finish_exit_125_is_a_permanent_failure(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="exit 1\n", finish="exit 125\n")
    fifodir.make(os.path.join(svc, "event"))
    with fifodir.Listener(os.path.join(svc, "event")) as listener:
        svscan()
        events = b""
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            events += listener.read()
            time.sleep(0.05)
    assert events.startswith(b"su")
    assert events.count(b"u") == 1, events
    assert events.endswith(b"dOD")
    assert svstat(theirs, svc, "up", "wantedup", "exitcode") == "false false 1"


def _stamps(path, count, timeout=6):
    wait_for(lambda: os.path.exists(path) and len(open(path).readlines()) >= count, timeout=timeout)
    return [float(x) for x in open(path).read().split()]


def test_restart_is_throttled_to_one_per_second(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="date +%s.%N >> starts\nexit 0\n")
    svscan()
    times = _stamps(os.path.join(svc, "starts"), 3)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(gap >= 0.95 for gap in gaps), gaps


def test_a_short_run_is_respawned_one_second_after_its_spawn_not_after_its_death(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="date +%s.%N >> starts\nsleep 0.4\nexit 0\n")
    svscan()
    first, second = _stamps(os.path.join(svc, "starts"), 2)[:2]
    assert 0.95 <= second - first < 1.3, second - first  # s6 2.11.3: 0.4 + 1 s


def test_a_service_up_for_over_a_second_without_notification_fd_restarts_at_once(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="date +%s.%N >> starts\nsleep 1.2\ndate +%s.%N >> stops\nexit 0\n")
    svscan()
    starts = _stamps(os.path.join(svc, "starts"), 2)
    stops = _stamps(os.path.join(svc, "stops"), 1)
    assert starts[1] - stops[0] < 0.2, (starts, stops)  # s6 2.11.3: 1 s


def test_a_service_ready_for_over_a_second_restarts_at_once(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="date +%s.%N >> starts\necho >&3\nsleep 1.2\ndate +%s.%N >> stops\nexit 0\n",
                       files={"notification-fd": "3\n"})
    svscan()
    starts = _stamps(os.path.join(svc, "starts"), 2)
    stops = _stamps(os.path.join(svc, "stops"), 1)
    assert starts[1] - stops[0] < 0.2, (starts, stops)


def test_a_service_ready_for_less_than_a_second_waits_one_second_after_its_spawn(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="date +%s.%N >> starts\nsleep 0.3\necho >&3\nsleep 0.3\nexit 0\n",
                       files={"notification-fd": "3\n"})
    svscan()
    first, second = _stamps(os.path.join(svc, "starts"), 2)[:2]
    assert 0.95 <= second - first < 1.3, second - first


def test_notification_fd_marks_the_service_ready(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="sleep 0.3\necho ready >&3\nexec sleep 100000\n",
                       files={"notification-fd": "3"})
    svscan()
    wait_up(theirs, svc)
    assert svstat(theirs, svc, "ready") == "false"
    tool(theirs, "s6-svwait", "-U", "-t", "3000", svc)
    assert svstat(theirs, svc, "up", "ready") == "true true"
    assert svstatus.read(svc).ready


def test_timeout_kill_sends_sigkill_to_a_service_ignoring_term(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="trap '' TERM\nwhile :; do sleep 0.05; done\n",
                       files={"timeout-kill": "300\n"})
    svscan()
    wait_up(theirs, svc)
    started = time.monotonic()
    tool(theirs, "s6-svc", "-wd", "-T", "3000", "-d", svc)
    assert 0.25 < time.monotonic() - started < 2
    assert svstat(theirs, svc, "signal") == "SIGKILL"


def test_down_signal_replaces_sigterm(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="trap 'echo HUP > got; exit 0' HUP\nwhile :; do sleep 0.05; done\n",
                       files={"down-signal": "SIGHUP\n"})
    svscan()
    wait_up(theirs, svc)
    tool(theirs, "s6-svc", "-wD", "-T", "3000", "-d", svc)
    assert open(os.path.join(svc, "got")).read() == "HUP\n"


def test_down_file_keeps_the_service_down_until_asked(theirs, scandir, svscan):
    svc = make_service(scandir, "a", files={"down": ""})
    svscan()
    wait_for(lambda: os.path.exists(os.path.join(svc, "supervise", "status")))
    assert svstat(theirs, svc, "up", "wantedup", "normallyup") == "false false false"
    tool(theirs, "s6-svc", "-wu", "-T", "3000", "-U", svc)
    assert not os.path.exists(os.path.join(svc, "down"))
    assert svstat(theirs, svc, "up", "wantedup", "normallyup") == "true true true"


# ------------------------------------------------------------------ logging

def test_log_pipe_is_held_so_logger_restarts_lose_no_line(theirs, scandir, svscan):
    logger = ('n=0\nwhile read -r line; do echo "$line" >> ../out; n=$((n+1));'
              ' [ $n -ge 40 ] && exit 0; done\n')
    svc = make_service(scandir, "a", run="seq 1 100\nexec sleep 100000\n", log=logger)
    svscan()
    out = os.path.join(svc, "out")
    wait_for(lambda: os.path.exists(out) and len(open(out).read().split()) >= 100, timeout=8)
    assert open(out).read().split() == [str(i) for i in range(1, 101)]


def test_producer_restarts_keep_writing_into_the_same_logger(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="echo start\nexec sleep 100000\n", log="exec cat > ../out\n")
    svscan()
    logpid = wait_up(theirs, os.path.join(svc, "log"))
    wait_up(theirs, svc)
    tool(theirs, "s6-svc", "-wr", "-T", "4000", "-r", svc)
    wait_for(lambda: open(os.path.join(svc, "out")).read() == "start\nstart\n", timeout=4)
    assert int(svstat(theirs, os.path.join(svc, "log"), "pid")) == logpid


# ------------------------------------------------------------------ scanning

def test_rescan_on_svscanctl_a_and_prune_on_n(theirs, scandir, svscan, tmp_path):
    a = make_service(scandir, "a")
    init = svscan()
    wait_up(theirs, a)
    b = make_service(scandir, "b")
    tool(theirs, "s6-svscanctl", "-a", scandir)
    wait_up(theirs, b)
    apid = init.host_pid(int(svstat(theirs, a, "pid")))
    moved = str(tmp_path / "a-moved")
    os.rename(a, moved)
    tool(theirs, "s6-svscanctl", "-an", scandir)
    wait_for(lambda: _gone_or_zombie(apid))
    wait_for(lambda: subprocess.run([theirs("s6-svok"), moved]).returncode == 1)
    assert svstat(theirs, b, "up") == "true"


def test_periodic_rescan_with_t(theirs, scandir, svscan):
    svscan("-t", "200")
    wait_for(lambda: os.path.exists(os.path.join(scandir, ".s6-svscan", "control")))
    c = make_service(scandir, "c")
    wait_up(theirs, c, timeout=3)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGALRM])
def test_sighup_and_sigalrm_rescan(theirs, scandir, svscan, signum):
    # The control fifo exists before the first scan has run: wait for a service of that first
    # scan to be up, or c may be found by the first scan itself on a loaded machine.
    first = make_service(scandir, "first")
    init = svscan()
    wait_up(theirs, first)
    c = make_service(scandir, "c")
    time.sleep(0.2)
    assert not os.path.exists(os.path.join(c, "supervise"))
    init.signal(signum)
    wait_up(theirs, c, timeout=3)


# ------------------------------------------------------------------ PID 1 duties

def test_orphans_are_reaped(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="(sleep 0.2 &)\n(sleep 0.2 &)\nexec sleep 100000\n")
    init = svscan()
    wait_up(theirs, svc)
    time.sleep(0.6)
    zombies = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == init.pid and fields[0] == "Z":
            zombies.append(name)
    assert zombies == []
    assert os.path.exists("/proc/%d" % init.pid)


def test_sigterm_brings_everything_down_flushes_logs_and_runs_finish(theirs, scandir, svscan):
    svc = make_service(scandir, "a", run="echo hello\nexec sleep 100000\n",
                       finish="echo finished >> ../fin\n", log="exec cat > ../out\n")
    make_service(scandir, "b", finish="echo finished >> ../fin\n")
    write_script(os.path.join(scandir, ".s6-svscan", "finish") if os.path.isdir(
        os.path.join(scandir, ".s6-svscan")) else _mk_ctl(scandir), "echo bye > bye\nexit 7\n")
    init = svscan()
    wait_up(theirs, svc)
    wait_up(theirs, os.path.join(scandir, "b"))
    init.signal(signal.SIGTERM)
    assert init.wait(10) == 7
    assert open(os.path.join(scandir, "bye")).read() == "bye\n"
    assert open(os.path.join(svc, "out")).read() == "hello\n"
    assert open(os.path.join(scandir, "fin")).read() == "finished\nfinished\n"
    assert subprocess.run([theirs("s6-svok"), svc]).returncode == 1


def _mk_ctl(scandir):
    os.makedirs(os.path.join(scandir, ".s6-svscan"), exist_ok=True)
    return os.path.join(scandir, ".s6-svscan", "finish")


def test_svscanctl_t_terminates_and_exits_0_without_finish(theirs, scandir, svscan):
    make_service(scandir, "a")
    init = svscan()
    wait_up(theirs, os.path.join(scandir, "a"))
    tool(theirs, "s6-svscanctl", "-t", scandir)
    assert init.wait(10) == 0


def test_svscanctl_b_aborts_at_once(theirs, scandir, svscan):
    make_service(scandir, "a", run="trap '' TERM\nexec sleep 100000\n")
    init = svscan()
    wait_up(theirs, os.path.join(scandir, "a"))
    tool(theirs, "s6-svscanctl", "-b", scandir)
    assert init.wait(5) == 0


def test_a_second_svscan_on_the_same_dir_exits_100(ours, scandir, svscan):
    svscan()
    wait_for(lambda: os.path.exists(os.path.join(scandir, ".s6-svscan", "control")))
    time.sleep(0.1)
    second = subprocess.run([str(ours / "s6-svscan"), str(scandir)], capture_output=True, text=True, timeout=5)
    assert second.returncode == 100
    assert "already running" in second.stderr


# ------------------------------------------------------------------ never die

def test_malformed_services_get_one_clear_line_and_the_rest_carries_on(theirs, scandir, svscan):
    good = make_service(scandir, "good")
    fifo = make_service(scandir, "fifo", run=None)
    os.mkfifo(os.path.join(fifo, "run"))
    noexec = make_service(scandir, "noexec")
    os.chmod(os.path.join(noexec, "run"), 0o644)
    interp = make_service(scandir, "interp", run=None)
    with open(os.path.join(interp, "run"), "w") as f:
        f.write("#!/nonexistent/shell\n")
    os.chmod(os.path.join(interp, "run"), 0o755)
    norun = make_service(scandir, "norun", run=None)
    garbage = make_service(scandir, "garbage", files={"notification-fd": "three\n", "timeout-kill": "soon",
                                                      "max-death-tally": "-1", "down-signal": "SIGNOPE"})
    blocked = make_service(scandir, "blocked", run=None)
    with open(os.path.join(blocked, "supervise"), "w") as f:
        f.write("not a directory")
    init = svscan()
    wait_up(theirs, good)
    wait_up(theirs, garbage)
    tool(theirs, "s6-svc", "-wD", "-T", "3000", "-d", garbage)
    time.sleep(0.3)
    assert svstat(theirs, good, "up") == "true"
    init.signal(signal.SIGTERM)
    assert init.wait(10) == 0
    err = init.output[1].decode()
    lines = err.splitlines()
    for name, cause in (("fifo", "not a regular file"), ("noexec", "Permission denied"),
                        ("interp", "bad interpreter"), ("norun", "No such file"),
                        ("blocked", "supervise")):
        mine = [line for line in lines if (" %s: " % name) in line]
        assert len(mine) == 1, (name, err)
        assert cause in mine[0], (name, err)
    assert "Traceback" not in err
    assert "invalid notification-fd" in err
    assert "invalid down-signal" in err


def test_a_service_directory_deleted_while_running_does_not_hurt_the_others(theirs, scandir, svscan):
    import shutil

    good = make_service(scandir, "good")
    doomed = make_service(scandir, "doomed", run="exec sleep 0.5\n")
    init = svscan()
    wait_up(theirs, good)
    wait_up(theirs, doomed)
    shutil.rmtree(doomed)
    time.sleep(1.8)
    tool(theirs, "s6-svc", "-r", good)
    tool(theirs, "s6-svwait", "-u", "-t", "3000", good)
    init.signal(signal.SIGTERM)
    assert init.wait(10) == 0
    err = init.output[1].decode()
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "doomed" in line]) == 1, err
    assert "was removed" in err


def test_not_pid1_svscan_becomes_the_subreaper_of_orphans(ours, theirs, scandir):
    svc = make_service(scandir, "a", run="(exec sleep 100000 &)\nexec sleep 100000\n")
    proc = subprocess.Popen([str(ours / "s6-svscan"), str(scandir)], stderr=subprocess.PIPE)
    kids = []
    try:
        wait_up(theirs, svc)

        def orphan():
            with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
                kids[:] = [int(k) for k in f.read().split()]
            return len(kids) >= 2
        wait_for(orphan)
        assert int(svstat(theirs, svc, "pid")) in kids
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_an_idle_supervisor_never_wakes_up(ours, theirs, scandir):
    for name in ("a", "b"):
        make_service(scandir, name, log="exec cat > /dev/null\n" if name == "a" else None)
    proc = subprocess.Popen([str(ours / "s6-svscan"), str(scandir)], stderr=subprocess.PIPE)
    try:
        for name in ("a", "b"):
            wait_up(theirs, os.path.join(scandir, name))
        # one wake-up, IDLE_DELAY after the last status write, makes the spare files
        # (engine/spares.py); after it, nothing
        from s6py.engine import spares

        time.sleep(spares.IDLE_DELAY + 0.3)

        def switches():
            with open("/proc/%d/status" % proc.pid) as f:
                return [line for line in f if "ctxt_switches" in line]
        before = switches()
        time.sleep(1.5)
        assert switches() == before
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_lock_fd_gives_the_service_a_held_lock_and_warns_about_a_second_instance(theirs, scandir, svscan):
    svc = make_service(scandir, "a", files={"lock-fd": "5\n"})
    init = svscan()
    pid = init.host_pid(wait_up(theirs, svc))
    assert os.readlink("/proc/%d/fd/5" % pid) == os.path.join(svc, "supervise", "service-lock")
    inode = os.stat(os.path.join(svc, "supervise", "service-lock")).st_ino
    with open("/proc/locks") as f:
        assert any((":%d " % inode) in line and "WRITE" in line for line in f)


def test_a_lock_held_elsewhere_blocks_only_that_service_never_the_supervisor(theirs, scandir, svscan):
    """The child waits for a busy lock-fd lock after telling the supervisor it started: the
    rest of the tree (and the control FIFOs) keep working, and the service runs once the
    other holder lets go."""
    import fcntl

    locked = make_service(scandir, "locked", files={"lock-fd": "5\n"},
                          run="#!/bin/sh\necho got-it > got\nexec sleep 1000\n")
    other = make_service(scandir, "other")
    os.mkdir(os.path.join(locked, "supervise"), 0o700)
    holder = os.open(os.path.join(locked, "supervise", "service-lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.lockf(holder, fcntl.LOCK_EX)
    try:
        init = svscan()
        wait_up(theirs, other)
        tool(theirs, "s6-svc", "-d", other)
        tool(theirs, "s6-svwait", "-d", "-t", "5000", other)
        assert not os.path.exists(os.path.join(locked, "got"))
    finally:
        os.close(holder)
    wait_for(lambda: os.path.exists(os.path.join(locked, "got")), 5)
    init.signal(signal.SIGTERM)
    assert init.wait(10) == 0


def test_sigquit_takes_loggers_down_too(theirs, scandir, svscan):
    svc = make_service(scandir, "a", log="exec cat > /dev/null\n")
    init = svscan()
    wait_up(theirs, os.path.join(svc, "log"))
    init.signal(signal.SIGQUIT)
    assert init.wait(10) == 0
    wstat = svstatus.read(os.path.join(svc, "log")).wstat
    assert os.WIFSIGNALED(wstat) and os.WTERMSIG(wstat) == signal.SIGTERM


def _gone_or_zombie(pid):
    """PID has exited (its /proc entry may vanish between two looks at it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
