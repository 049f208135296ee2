"""Differential tests: the same scenario under Debian's s6-svscan and under ours.

Each scenario builds a scan directory, starts the supervisor as PID 1 of a private PID
namespace, drives it with Debian's real s6-svc / s6-svstat / s6-svwait / s6-svok /
s6-svscanctl / s6-svdt, and records a transcript: every command's exit code and output
(pids and durations masked), the event bytes a listener received, the supervisor's exit
code.  The two transcripts must be identical.
"""

import os
import re
import signal
import subprocess
import time

import pytest

from pid1 import Pid1, available, make_service, wait_for, write_script
from s6py.wire import fifodir

pytestmark = pytest.mark.skipif(not available(), reason="needs root and unshare")

_MASKS = [
    (re.compile(r"\b(pid|pgid) \d+"), r"\1 N"),
    (re.compile(r"\b\d+ seconds"), "S seconds"),
    (re.compile(r"@[0-9a-f]{24}"), "@TAI"),
]


def normalise(text):
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class Driver:
    """Runs one scenario against one supervisor and records what the real tools see."""

    def __init__(self, theirs, scandir, svscan):
        self.theirs = theirs
        self.scandir = str(scandir)
        self.svscan = svscan
        self.transcript = []
        self.listeners = {}
        self.init = None

    def path(self, name):
        return os.path.join(self.scandir, name)

    def service(self, name, **kwargs):
        path = make_service(self.scandir, name, **kwargs)
        fifodir.make(os.path.join(path, "event"))
        self.listeners[name] = fifodir.Listener(os.path.join(path, "event"))
        return path

    def start(self, *options):
        self.init = Pid1([self.svscan] + list(options) + [self.scandir])
        wait_for(lambda: os.path.exists(os.path.join(self.scandir, ".s6-svscan", "control")))
        for name in self.listeners:
            wait_for(lambda: os.path.exists(os.path.join(self.path(name), "supervise", "status")))

    def run(self, tool, *args, record=True):
        result = subprocess.run([self.theirs(tool)] + [str(a) for a in args], capture_output=True,
                                text=True, timeout=15)
        if record:
            shown = tuple(str(a).replace(self.scandir, "SCANDIR") for a in args)
            self.transcript.append((tool, shown, result.returncode, normalise(result.stdout),
                                    normalise(result.stderr).replace(self.scandir, "SCANDIR")))
        return result

    def svc(self, name, *options):
        return self.run("s6-svc", *options, self.path(name))

    def stat(self, name, *fields):
        options = ["-o", ",".join(fields)] if fields else []
        return self.run("s6-svstat", *options, self.path(name))

    def wait(self, name, *options):
        return self.run("s6-svwait", *options, "-t", "5000", self.path(name))

    def ok(self, name):
        return self.run("s6-svok", self.path(name))

    def raw(self, name):
        """The status record's wait status and flags bytes, exactly (times and pid vary)."""
        with open(os.path.join(self.path(name), "supervise", "status"), "rb") as f:
            data = f.read()
        self.transcript.append(("status bytes", name, len(data), data[32:35].hex()))

    def events(self, name, settle=0.2):
        time.sleep(settle)
        data = self.listeners[name].read()
        self.transcript.append(("events", name, data))
        return data

    def note(self, *what):
        self.transcript.append(what)

    def finish(self, how=signal.SIGTERM, timeout=15):
        if self.init is None:
            return
        self.init.signal(how)
        self.note("exit", self.init.wait(timeout))
        self.init = None

    def close(self):
        if self.init is not None:
            self.init.stop()
        for listener in self.listeners.values():
            listener.close()


@pytest.fixture
def differential(ours, theirs, tmp_path):
    """differential(scenario): run SCENARIO(driver) under both supervisors, compare."""
    def run(scenario):
        transcripts = {}
        for kind, binary in (("theirs", theirs("s6-svscan")), ("ours", str(ours / "s6-svscan"))):
            scandir = tmp_path / kind
            scandir.mkdir()
            driver = Driver(theirs, scandir, binary)
            try:
                scenario(driver)
            finally:
                driver.close()
            transcripts[kind] = driver.transcript
        for theirs_step, ours_step in zip(transcripts["theirs"], transcripts["ours"]):
            assert ours_step == theirs_step
        assert len(transcripts["ours"]) == len(transcripts["theirs"])
        return transcripts["ours"]
    return run


# -------------------------------------------------------------------- scenarios

def test_up_down_up_with_status_and_events(differential):
    def scenario(d):
        d.service("a")
        d.start()
        d.wait("a", "-u")
        d.events("a")
        d.stat("a")
        d.stat("a", "up", "wantedup", "normallyup", "ready", "paused", "exitcode", "signal")
        d.ok("a")
        d.raw("a")
        d.svc("a", "-wD", "-T", "5000", "-d")
        d.raw("a")
        d.stat("a")
        d.stat("a", "up", "wantedup", "ready", "exitcode", "signal", "signum")
        d.events("a")
        d.svc("a", "-wu", "-T", "5000", "-u")
        d.stat("a")
        d.events("a")
        d.finish()
        d.events("a")
        d.ok("a")
    transcript = differential(scenario)
    assert ("events", "a", b"su") in transcript


def test_down_file_then_U_and_D(differential):
    def scenario(d):
        d.service("a", files={"down": ""})
        d.start()
        d.events("a")
        d.stat("a")
        d.svc("a", "-wu", "-T", "5000", "-U")
        d.note("down file", os.path.exists(os.path.join(d.path("a"), "down")))
        d.stat("a", "up", "normallyup", "wantedup")
        d.svc("a", "-wD", "-T", "5000", "-D")
        d.note("down file", os.path.exists(os.path.join(d.path("a"), "down")))
        d.stat("a")
        d.events("a")
        d.finish()
    differential(scenario)


def test_finish_exit_125_and_death_tally(differential):
    def scenario(d):
        d.service("a", run="exit 3\n", finish="exit 125\n")
        d.start()
        d.wait("a", "-D")
        d.events("a")
        d.raw("a")
        d.stat("a")
        d.stat("a", "up", "wantedup", "exitcode")
        d.run("s6-svdt", d.path("a"))
        d.svc("a", "-wD", "-T", "5000", "-o")
        d.events("a")
        d.run("s6-svdt", d.path("a"))
        d.run("s6-svdt", "-n", "1", d.path("a"))
        d.finish()
    differential(scenario)


def test_readiness_notification(differential):
    def scenario(d):
        d.service("a", run="sleep 0.2\necho >&3\nexec sleep 100000\n", files={"notification-fd": "3\n"})
        d.start()
        d.wait("a", "-U")
        d.stat("a")
        d.stat("a", "up", "ready")
        d.events("a")
        d.svc("a", "-wR", "-T", "5000", "-r")
        d.stat("a", "up", "ready")
        d.events("a")
        d.finish()
    differential(scenario)


def test_signals_pause_continue_and_kill(differential):
    def scenario(d):
        d.service("a", run="trap 'echo usr1 >> got' USR1\nwhile :; do sleep 0.05; done\n")
        d.start()
        d.wait("a", "-u")
        d.svc("a", "-p")
        time.sleep(0.1)
        d.stat("a")
        d.stat("a", "paused")
        d.svc("a", "-c")
        time.sleep(0.1)
        d.stat("a", "paused")
        d.svc("a", "-1")
        wait_for(lambda: os.path.exists(os.path.join(d.path("a"), "got")))
        d.svc("a", "-wd", "-T", "5000", "-k")
        d.stat("a", "up", "signal", "signum", "exitcode")
        d.wait("a", "-u")  # when is deliberately ours (docs/supervision.md): not recorded
        d.events("a")
        d.svc("a", "-wD", "-T", "5000", "-d")
        d.events("a")
        d.finish()
    differential(scenario)


def test_x_makes_the_supervision_end_and_svscan_restarts_it(differential):
    def scenario(d):
        d.service("a")
        d.start()
        d.wait("a", "-u")
        d.events("a")
        d.svc("a", "-x")
        d.svc("a", "-wD", "-T", "5000", "-d")
        d.events("a")
        wait_for(lambda: subprocess.run([d.theirs("s6-svok"), d.path("a")]).returncode == 1)
        d.ok("a")
        wait_for(lambda: subprocess.run([d.theirs("s6-svok"), d.path("a")]).returncode == 0, timeout=5)
        d.wait("a", "-u")
        d.events("a", settle=0.3)
        d.finish()
    differential(scenario)


def test_rescan_prune_and_svscanctl_errors(differential, tmp_path):
    def scenario(d):
        d.service("a")
        d.start()
        d.wait("a", "-u")
        make_service(d.scandir, "b")
        d.run("s6-svscanctl", "-a", d.scandir)
        wait_for(lambda: os.path.exists(os.path.join(d.path("b"), "supervise", "status")))
        d.wait("b", "-u")
        d.stat("b")
        moved = d.scandir + "-moved-a"
        os.rename(d.path("a"), moved)
        d.run("s6-svscanctl", "-an", d.scandir)
        wait_for(lambda: subprocess.run([d.theirs("s6-svok"), moved]).returncode == 1)
        d.note("moved a", d.run("s6-svok", moved, record=False).returncode)
        d.events("a")
        d.run("s6-svscanctl", "-z", d.scandir)
        d.finish()
        d.run("s6-svscanctl", "-a", d.scandir)
        d.ok("b")
    differential(scenario)


def test_logged_service_shutdown_keeps_every_line(differential):
    def scenario(d):
        d.service("a", run="seq 1 500\nexec sleep 100000\n", log="exec cat > ../out\n")
        fifodir.make(os.path.join(d.path("a"), "log", "event"))
        d.start()
        d.wait("a", "-u")
        wait_for(lambda: os.path.exists(os.path.join(d.path("a"), "out"))
                 and len(open(os.path.join(d.path("a"), "out")).read().split()) == 500)
        d.stat("a/log", "up", "wantedup")
        d.finish()
        d.note("log", open(os.path.join(d.path("a"), "out")).read().split()[-1])
        d.events("a")
        d.ok("a/log")
    differential(scenario)


def test_svscan_finish_script_and_exit_code(differential):
    def scenario(d):
        d.service("a", finish="exit 0\n")
        os.makedirs(os.path.join(d.scandir, ".s6-svscan"), exist_ok=True)
        write_script(os.path.join(d.scandir, ".s6-svscan", "finish"), 'echo "$0 $#" > ../finish.out\nexit 42\n')
        d.start()
        d.wait("a", "-u")
        d.run("s6-svscanctl", "-t", d.scandir)
        d.note("exit", d.init.wait(15))
        d.init = None
        d.note("finish ran", open(d.scandir + "/../finish.out").read())
        d.events("a")
    differential(scenario)


def test_svscan_sighup_rescans_and_prunes(differential):
    def scenario(d):
        d.service("a")
        d.start()
        d.wait("a", "-u")
        d.service("b")
        os.rename(d.path("a"), d.scandir + "-gone")
        d.init.signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(os.path.join(d.path("b"), "supervise", "status")))
        d.wait("b", "-u")
        wait_for(lambda: subprocess.run([d.theirs("s6-svok"), d.scandir + "-gone"]).returncode == 1)
        d.events("a")
        d.events("b")
        d.finish()
        os.rename(d.scandir + "-gone", d.path("a"))
    differential(scenario)


def test_svscanctl_q_kills_loggers_too(differential):
    def scenario(d):
        d.service("a", log="exec cat > /dev/null\n")
        fifodir.make(os.path.join(d.path("a"), "log", "event"))
        d.listeners["a/log"] = fifodir.Listener(os.path.join(d.path("a"), "log", "event"))
        d.start()
        d.wait("a", "-u")
        d.wait("a/log", "-u")
        d.events("a")
        d.events("a/log")
        d.run("s6-svscanctl", "-q", d.scandir)
        d.note("exit", d.init.wait(15))
        d.init = None
        d.events("a")
        d.events("a/log")
        for name in ("a", "a/log"):
            with open(os.path.join(d.path(name), "supervise", "status"), "rb") as f:
                d.note("status bytes", name, f.read()[32:35].hex())
    differential(scenario)


def test_a_run_up_for_over_a_second_is_respawned_at_once_where_s6_2_11_waits_a_second(ours, theirs, tmp_path):
    """The one deliberate timing difference (docs/supervision.md, "Restart throttle")."""
    gaps = {}
    for kind, binary in (("theirs", theirs("s6-svscan")), ("ours", str(ours / "s6-svscan"))):
        scandir = tmp_path / kind
        scandir.mkdir()
        svc = make_service(str(scandir), "a", run="date +%s.%N >> starts\nsleep 1.05\ndate +%s.%N >> stops\nexit 0\n")
        init = Pid1([binary, str(scandir)])
        try:
            starts = os.path.join(svc, "starts")
            wait_for(lambda: os.path.exists(starts) and len(open(starts).readlines()) >= 2, timeout=6)
            gaps[kind] = float(open(starts).read().split()[1]) - float(open(os.path.join(svc, "stops")).read().split()[0])
        finally:
            init.stop()
    assert gaps["theirs"] >= 0.9, gaps
    assert gaps["ours"] < 0.2, gaps
