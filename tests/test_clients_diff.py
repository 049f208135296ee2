"""Differential tests of our s6 client commands against Debian's s6 2.11.

A scandir is supervised by an s6-svscan (Debian's, or ours once it exists); each
scenario runs once with the real client and once with ours, on the same service when
the command only reads, on two identical services when it changes something.  Outputs
are compared after masking what legitimately differs: pids, elapsed seconds, TAI64N
stamps.
"""

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import newer_s6_text

SLEEPER = "#!/bin/sh\nexec sleep 1000\n"
NOTIFIER = "#!/bin/sh\necho >&3\nexec sleep 1000\n"


# ---------------------------------------------------------------- the supervision tree

class Tree:
    """A scandir under one s6-svscan, and a factory of services in it."""

    def __init__(self, path, svscan, theirs):
        self.path = str(path)
        self.theirs = theirs
        self.count = 0
        self.log = open(os.path.join(os.path.dirname(self.path), "svscan.log"), "wb")
        self.proc = subprocess.Popen([svscan, self.path], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_for(lambda: has_reader(os.path.join(self.path, ".s6-svscan", "control")))
        self.pools = {}

    def stock(self, count, **spec):
        """Start COUNT services of one kind now, so that tests get services that have
        run for more than a second (past s6-supervise's restart throttle, whose delays
        would otherwise make states depend on timing)."""
        dirs = [self._create(**spec) for _ in range(count)]
        self._scan(dirs, spec)
        self.pools.setdefault(_key(spec), []).extend((time.monotonic(), d) for d in dirs)

    def service(self, **spec):
        """A supervised service of kind SPEC that has run for more than a second."""
        pool = self.pools.get(_key(spec))
        if pool:
            born, d = pool.pop(0)
        else:
            d = self._create(**spec)
            self._scan([d], spec)
            born = time.monotonic()
        time.sleep(max(0.0, born + 1.2 - time.monotonic()))
        return d

    def _scan(self, dirs, spec):
        subprocess.run([self.theirs("s6-svscanctl"), "-a", self.path], check=True)
        for d in dirs:
            wait_for(lambda: os.path.exists(os.path.join(d, "supervise", "status")))
            if not spec.get("down"):
                wait_for(lambda: status_up(d) and (not spec.get("notify") or status_ready(d)))

    def _create(self, run=SLEEPER, finish=None, notify=False, down=False, name=None):
        self.count += 1
        d = os.path.join(self.path, name or "sv%d" % self.count)
        os.mkdir(d)
        write_exe(os.path.join(d, "run"), run)
        if finish:
            write_exe(os.path.join(d, "finish"), finish)
        if notify:
            with open(os.path.join(d, "notification-fd"), "w") as f:
                f.write("3\n")
        if down:
            open(os.path.join(d, "down"), "w").close()
        return d

    def pair(self, **spec):
        return self.service(**spec), self.service(**spec)

    def stop(self):
        # supervisors left behind (s6-svscanctl -b leaves them running): down and out
        for name in os.listdir(self.path):
            d = os.path.join(self.path, name)
            if not name.startswith(".") and has_reader(os.path.join(d, "supervise", "control")):
                subprocess.run([self.theirs("s6-svc"), "-dx", d], stderr=subprocess.DEVNULL)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()
        self.log.close()
        # our one-process scanner leaves its services orphaned after -b: end them too
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cwd = os.readlink("/proc/%s/cwd" % pid)
            except OSError:
                continue
            if cwd.startswith(self.path + "/"):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass


def _key(spec):
    return tuple(sorted(spec.items()))


def has_reader(fifo):
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        return True
    except OSError:
        return False


def settle(d, quiet=0.15, timeout=3.0):
    """Wait until D's status file has not changed for QUIET seconds."""
    end = time.monotonic() + timeout
    last, since = status_bytes(d), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.02)
        now = status_bytes(d)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


def write_exe(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def status_bytes(d):
    try:
        with open(os.path.join(d, "supervise", "status"), "rb") as f:
            return f.read()
    except OSError:
        return b""


def status_up(d):
    b = status_bytes(d)
    return len(b) == 35 and int.from_bytes(b[24:32], "big") != 0 and not b[34] & 2


def status_ready(d):
    b = status_bytes(d)
    return len(b) == 35 and bool(b[34] & 8)


def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in %ss" % timeout)
        time.sleep(0.01)


SUPERVISORS = ["real", "ours"]
PERMAFAIL = dict(run="#!/bin/sh\nexit 1\n", finish="#!/bin/sh\nexit 125\n", down=True)


@pytest.fixture(scope="module", params=SUPERVISORS)
def tree(request, tmp_path_factory, theirs, ours):
    if request.param == "ours":
        svscan = str(ours / "s6-svscan")
    else:
        svscan = theirs("s6-svscan")
    base = tmp_path_factory.mktemp("tree-" + request.param)
    os.mkdir(base / "scan")
    t = Tree(base / "scan", svscan, theirs)
    t.stock(100)
    t.stock(50, run=NOTIFIER, notify=True)
    t.stock(4, down=True)
    t.stock(4, run=NOTIFIER, notify=True, down=True)
    t.stock(6, **PERMAFAIL)
    yield t
    t.stop()


# ---------------------------------------------------------------- running both clients

MASKS = [
    (re.compile(r"@[0-9a-f]{24}"), "@TAI"),
    (re.compile(r"\(pid \d+\)"), "(pid P)"),
    (re.compile(r"\d+ seconds"), "N seconds"),
]


def mask(text, *paths):
    for p in paths:
        text = text.replace(p, "SVC")
    for rx, rep in MASKS:
        text = rx.sub(rep, text)
    return text


class Clients:
    def __init__(self, theirs, ours):
        self.theirs = theirs
        self.ours = ours

    def run(self, side, args, timeout=10, **kw):
        exe = self.theirs(args[0]) if side == "theirs" else str(self.ours / args[0])
        p = subprocess.run([exe] + list(args[1:]), capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, **kw)
        stderr = p.stderr.decode()
        return p.returncode, p.stdout.decode(), newer_s6_text(stderr) if side == "theirs" else stderr

    def same(self, *args, masked=True):
        """Run ARGS with both clients; assert equal results; return them."""
        a = self.run("theirs", args)
        b = self.run("ours", args)
        if masked == "digits":  # elapsed seconds in -o output may tick between runs
            a, b = [(r[0], re.sub(r"\d+", "N", mask(r[1])), mask(r[2])) for r in (a, b)]
        elif masked:
            a = (a[0], mask(a[1]), mask(a[2]))
            b = (b[0], mask(b[1]), mask(b[2]))
        assert b == a, "ours %r != theirs %r for %r" % (b, a, args)
        return a

    def scenario(self, steps, a_dir, b_dir, compare_state=True):
        """Run STEPS (argv lists, "{}" = the service) with theirs on A and ours on B."""
        results = {}
        for side, d in (("theirs", a_dir), ("ours", b_dir)):
            out = []
            for step in steps:
                if callable(step):
                    step(d)
                    continue
                r = self.run(side, [x.replace("{}", d) for x in step])
                out.append((r[0], mask(r[1], d), mask(r[2], d)))
            if compare_state:
                out.append(self.state(d))
            results[side] = out
        assert results["ours"] == results["theirs"]
        return results["theirs"]

    def state(self, d):
        """The real s6-svstat's view of service D, masked, once it stopped changing."""
        settle(d)
        r = self.run("theirs", ["s6-svstat", d])
        f = self.run("theirs", ["s6-svstat", "-o", "up,wantedup,normallyup,paused,exitcode,"
                                "signal,signum", d])
        return r[0], mask(r[1], d), f[1]


@pytest.fixture(scope="session")
def clients(theirs, ours):
    return Clients(theirs, ours)


ALL_FIELDS = ("up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,"
              "updownsince,readysince,updownfor,readyfor")


# ---------------------------------------------------------------- s6-svstat, s6-svok

def test_svstat_reads_every_state_as_s6_does(tree, clients):
    up = tree.service()
    ready = tree.service(run=NOTIFIER, notify=True)
    never = tree.service(down=True)
    for d in (up, ready, never):
        clients.same("s6-svstat", d)
        clients.same("s6-svstat", "-n", d)
        clients.same("s6-svstat", "-o", ALL_FIELDS, d, masked="digits")
        clients.same("s6-svstat", "-uwNrpest", d, masked="digits")
        clients.same("s6-svstat", "-o", "up,", "-n", "-p", d)
        for field in ALL_FIELDS.split(","):
            clients.same("s6-svstat", "-o", field, d,
                         masked="digits" if field.endswith("for") else True)


def test_svstat_unmasked_fields_are_identical(tree, clients):
    """pid and the TAI64N stamps come out exactly as the real tool prints them."""
    d = tree.service(run=NOTIFIER, notify=True)
    clients.same("s6-svstat", "-o", "pid,updownsince,readysince,up,ready", d, masked=False)


def test_svstat_after_kill_and_exit(tree, clients):
    killed = tree.service()
    clients.run("theirs", ["s6-svc", "-O", killed])
    clients.run("theirs", ["s6-svc", "-wd", "-T", "3000", "-k", killed])
    exited = tree.service(run="#!/bin/sh\nexit 3\n", down=True)
    clients.run("theirs", ["s6-svc", "-wD", "-T", "3000", "-o", exited])
    for d in (killed, exited):
        clients.same("s6-svstat", d)
        clients.same("s6-svstat", "-n", d)
        clients.same("s6-svstat", "-o", ALL_FIELDS, d, masked="digits")
        clients.same("s6-svstat", "-o", "exitcode,signal,signum", d, masked=False)


def test_svok_supervised_unsupervised_missing(tree, clients, tmp_path):
    d = tree.service()
    plain = tmp_path / "plain"
    plain.mkdir()
    afile = tmp_path / "file"
    afile.write_text("")
    for target in (d, str(plain), str(tmp_path / "missing"), str(afile), tree.path):
        clients.same("s6-svok", target)
        clients.same("s6-svstat", target)


# ---------------------------------------------------------------- s6-svc letters

#: letters whose signal ends `sleep` (the service then dies and waits out the throttle)
KILLING = "abqhkti12"


@pytest.mark.parametrize("letter", list("abqhkti12pcyroduDUxOQ"))
def test_svc_letter_has_the_same_effect(tree, clients, letter):
    a, b = tree.pair()
    if letter in KILLING or letter == "r":
        steps = [["s6-svc", "-O", "{}"], ["s6-svc", "-wd", "-T", "3000", "-" + letter, "{}"]]
        if letter == "r":
            steps = [["s6-svc", "-wr", "-T", "3000", "-" + letter, "{}"]]
    elif letter in "dD":
        steps = [["s6-svc", "-" + letter, "{}"], ["s6-svwait", "-t", "3000", "-D", "{}"]]
    elif letter == "p":
        steps = [["s6-svc", "-p", "{}"], lambda d: wait_for(lambda: status_bytes(d)[34] & 1)]
    elif letter == "x":
        steps = [["s6-svc", "-x", "{}"], ["s6-svc", "-wD", "-T", "3000", "-d", "{}"]]
    else:  # c y u U o O Q: the service keeps running
        steps = [["s6-svc", "-" + letter, "{}"], lambda d: time.sleep(0.05)]
    clients.scenario(steps, a, b)
    for d in (a, b):
        assert os.path.exists(os.path.join(d, "down")) == (letter in "DQ")


def test_svc_U_removes_down_file_and_starts(tree, clients):
    a, b = tree.pair(down=True)
    clients.scenario([["s6-svc", "-wu", "-T", "3000", "-U", "{}"]], a, b)
    assert not os.path.exists(os.path.join(a, "down"))
    assert not os.path.exists(os.path.join(b, "down"))


def test_svc_pause_then_continue(tree, clients):
    a, b = tree.pair()
    clients.scenario([["s6-svc", "-p", "{}"], lambda d: wait_for(lambda: status_bytes(d)[34] & 1),
                      ["s6-svc", "-c", "{}"],
                      lambda d: wait_for(lambda: not status_bytes(d)[34] & 1)], a, b)


def test_svc_several_letters_and_multiple_dirs(tree, clients):
    a, b = tree.pair()
    clients.scenario([["s6-svc", "-Od", "{}", "{}"], ["s6-svwait", "-D", "-t", "3000", "{}"],
                      ["s6-svc", "{}"]], a, b)


# ---------------------------------------------------------------- s6-svc -w?

@pytest.mark.parametrize("how", [
    ["-wd", "-T", "3000", "-d"],
    ["-wD", "-T", "3000", "-d"],
    ["-wu", "-T", "3000", "-u"],          # already up: returns at once
    ["-wU", "-T", "3000", "-u"],          # no notification-fd: warns, degrades to -wu
    ["-wr", "-T", "3000", "-r"],
    ["-wR", "-T", "3000", "-r"],          # warns, degrades to -wr
    ["-wd", "-T", "200"],                 # no letter: s6-svwait -d, times out
    ["-wu", "-T", "200", "-d"],           # wrong direction: s6-svlisten1 times out
    ["-wr", "-T", "200"],                 # s6-svwait -r, times out
])
def test_svc_wait_options(tree, clients, how):
    a, b = tree.pair()
    clients.scenario([["s6-svc"] + how + ["{}"]], a, b)


@pytest.mark.parametrize("how", [
    ["-wU", "-T", "3000", "-u"],
    ["-wR", "-T", "3000", "-r"],
    ["-wD", "-T", "3000", "-d"],
])
def test_svc_wait_with_notification(tree, clients, how):
    a, b = tree.pair(run=NOTIFIER, notify=True)
    clients.scenario([["s6-svc"] + how + ["{}"]], a, b)


def test_svc_wait_up_from_down(tree, clients):
    a, b = tree.pair(run=NOTIFIER, notify=True, down=True)
    clients.scenario([["s6-svc", "-wU", "-T", "3000", "-u", "{}"]], a, b)


# ---------------------------------------------------------------- s6-svwait / s6-svlisten

def _listeners(d):
    try:
        return [n for n in os.listdir(os.path.join(d, "event")) if n.startswith("ftrig1")]
    except OSError:
        return []


def _wait_subscribed(p, before, timeout=5.0):
    """Until the waiter P has added a listener FIFO to each event/ of BEFORE ({dir: count of
    listeners before P started}), or has exited.

    A fixed sleep here made the scenario depend on how fast an interpreter starts on a
    loaded machine; the subscription itself is the observable moment."""
    deadline = time.monotonic() + timeout
    while p.poll() is None and time.monotonic() < deadline:
        if all(len(_listeners(d)) > n for d, n in before.items()):
            return
        time.sleep(0.005)


def _waiter_scenario(clients, waiter, trigger, a, b):
    """Start WAITER (with the client under test), then TRIGGER with the real s6-svc."""
    out = {}
    for side, d in (("theirs", a), ("ours", b)):
        exe = clients.theirs(waiter[0]) if side == "theirs" else str(clients.ours / waiter[0])
        argv = [exe] + [x.replace("{}", d) for x in waiter[1:]]
        before = {d: len(_listeners(d))} if "{}" in waiter else {}
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_subscribed(p, before)
        if trigger:
            clients.run("theirs", [x.replace("{}", d) for x in trigger])
        so, se = p.communicate(timeout=10)
        out[side] = (p.returncode, mask(so.decode(), d), mask(se.decode(), d),
                     clients.state(d))
    assert out["ours"] == out["theirs"]
    return out["theirs"]


@pytest.mark.parametrize("mode,trigger", [
    ("-d", "-d"), ("-D", "-d"), ("-r", "-r"), ("-R", "-r"), ("-u", None), ("-U", None),
])
def test_svwait_modes(tree, clients, mode, trigger):
    a, b = tree.pair(run=NOTIFIER, notify=True)
    r = _waiter_scenario(clients, ["s6-svwait", mode, "-t", "3000", "{}"],
                         trigger and ["s6-svc", trigger, "{}"], a, b)
    assert r[0] == 0


def test_svwait_up_after_start(tree, clients):
    a, b = tree.pair(run=NOTIFIER, notify=True, down=True)
    r = _waiter_scenario(clients, ["s6-svwait", "-U", "-t", "3000", "{}"],
                         ["s6-svc", "-u", "{}"], a, b)
    assert r[0] == 0


@pytest.mark.parametrize("mode", ["-d", "-D", "-r", "-U"])
def test_svwait_times_out_with_99(tree, clients, mode):
    d = tree.service()
    r = clients.same("s6-svwait", mode, "-t", "150", d)
    assert r[0] == 99


def test_svwait_all_and_any(tree, clients):
    up = tree.service()
    down = tree.service(down=True)
    assert clients.same("s6-svwait", "-o", "-u", "-t", "150", up, down)[0] == 0
    assert clients.same("s6-svwait", "-a", "-u", "-t", "150", up, down)[0] == 99
    assert clients.same("s6-svwait", "-o", "-d", "-t", "150", up, down)[0] == 0
    assert clients.same("s6-svwait", "-d", "-t", "150", up, down)[0] == 99


def test_svwait_permanent_failure(tree, clients):
    """Waiting for up, a finish script exiting 125 ('O') counts as one failure."""
    a, b = tree.pair(**PERMAFAIL)
    r = _waiter_scenario(clients, ["s6-svwait", "-u", "-t", "3000", "{}"],
                         ["s6-svc", "-u", "{}"], a, b)
    assert r[0] in (0, 1)


@pytest.mark.parametrize("prog", ["s6-svlisten1", "s6-svlisten"])
@pytest.mark.parametrize("mode,letter", [("-d", "-d"), ("-D", "-d"), ("-r", "-r"),
                                         ("-R", "-r"), ("-u", "-u"), ("-d", "-y")])
def test_svlisten_runs_program_then_waits(tree, clients, prog, mode, letter):
    a, b = tree.pair(run=NOTIFIER, notify=True)
    cut = [""] if prog == "s6-svlisten" else []
    t = "200" if letter == "-y" else "3000"
    clients.scenario([[prog, mode, "-t", t, "{}"] + cut + [clients.theirs("s6-svc"), letter, "{}"]],
                     a, b)


def test_svlisten_permanent_failure(tree, clients):
    a, b = tree.pair(**PERMAFAIL)
    r = clients.scenario([["s6-svlisten1", "-U", "-t", "3000", "{}", clients.theirs("s6-svc"),
                           "-u", "{}"]], a, b)
    c, d = tree.pair(**PERMAFAIL)
    r = clients.scenario([["s6-svlisten", "-o", "-R", "-t", "3000", "{}", "",
                           clients.theirs("s6-svc"), "-u", "{}"]], c, d)
    e, f = tree.pair(**PERMAFAIL)
    clients.scenario([["s6-svc", "-wU", "-T", "3000", "-u", "{}"]], e, f)


def test_svlisten_program_output_and_spawn_failure(tree, clients):
    d = tree.service()
    clients.same("s6-svlisten1", "-u", d, "echo", "hello")
    clients.same("s6-svlisten", "-u", " " + d, "", "echo", "hello")
    clients.same("s6-svlisten1", "-u", d, "/nonexistent/prog")


# ---------------------------------------------------------------- s6-svdt

def test_svdt_after_several_deaths(tree, clients):
    d = tree.service(run="#!/bin/sh\nif test -e exit7; then rm -f exit7; exit 7; fi\n"
                         "exec sleep 1000\n")
    open(os.path.join(d, "exit7"), "w").close()
    tally = os.path.join(d, "supervise", "death_tally")  # made by the first death

    def tally_size():
        return os.path.getsize(tally) if os.path.exists(tally) else 0

    clients.run("theirs", ["s6-svc", "-k", d])
    wait_for(lambda: tally_size() >= 28)
    clients.run("theirs", ["s6-svwait", "-u", "-t", "3000", d])
    clients.run("theirs", ["s6-svc", "-wd", "-T", "3000", "-t", d])
    wait_for(lambda: tally_size() >= 42)
    for opts in ([], ["-S"], ["-s"], ["-n", "1"], ["-n", "2", "-s"], ["-n", "0"],
                 ["-n", "99999"]):
        r = clients.same("s6-svdt", *opts, d, masked=False)
        assert r[0] == 0
    assert "exitcode 7" in clients.same("s6-svdt", d)[1]


def test_svdt_fresh_and_unsupervised(tree, clients, tmp_path):
    d = tree.service()
    clients.same("s6-svdt", d, masked=False)
    empty = tmp_path / "sv" / "supervise"
    empty.mkdir(parents=True)
    for target in (str(tmp_path / "sv"), str(tmp_path / "missing"), str(tmp_path)):
        clients.same("s6-svdt", target)
    assert (empty / "death_tally").exists()  # created empty, as s6 does


# ---------------------------------------------------------------- s6-svscanctl

def test_svscanctl_scan_and_prune(tree, clients):
    for side in ("theirs", "ours"):
        d = os.path.join(tree.path, "late-" + side)
        os.mkdir(d)
        write_exe(os.path.join(d, "run"), SLEEPER)
        assert clients.run(side, ["s6-svscanctl", "-a", tree.path])[0] == 0
        wait_for(lambda: status_up(d))
    for letters in ("-z", "-n", "-N", "-an", "-h", ""):
        clients.same("s6-svscanctl", *([letters] if letters else []), tree.path)


@pytest.mark.parametrize("letter", ["-t", "-q", "-i", "-b"])
def test_svscanctl_exit_letters(tree, clients, letter, tmp_path):
    """Each client makes a scanner of its own leave; the scanner's exit is the same."""
    codes = {}
    for side in ("theirs", "ours"):
        base = tmp_path / side
        base.mkdir()
        (base / "scan").mkdir()
        t = Tree(base / "scan", tree.proc.args[0], tree.theirs)
        t.service()
        try:
            r = clients.run(side, ["s6-svscanctl", letter, t.path])
            t.proc.wait(5)
            codes[side] = (r, t.proc.returncode)
        finally:
            t.stop()
    assert codes["ours"] == codes["theirs"]
