"""Fault injection: stop signals at seeded random points of the boot and of the stop.

One tree (fix-attrs.d files, four cont-init scripts, three services one of them with a
logger, a CMD, two cont-finish scripts) is booted by /init as PID 1 of a private namespace
(test_init_support.Box) again and again; SIGTERM comes after a delay drawn from a seeded RNG
(random.Random(SEED), bounded), in some trials a second TERM during the stop.  Every process
the tree starts appends `KIND NAME NANOSECONDS PID` to data/trace (`date +%s%N`, its own pid
inside the namespace) as its first action.

The first cont-finish script (00) is the visible sign that the stop has begun: it writes its
own time, then the list of every other process alive at that moment (inside the namespace),
and the services' pids (data/pids/*) that are still alive.  We check, for every trial:

- /init exits within a bounded time, with 0 (the CMD never exits by itself, so its code is
  never written: docs/init.md "Exit code" 3);
- no traceback, no `internal error`, no KILL line (everything here obeys TERM);
- no boot step starts after the stop: every trace line later than cont-finish 00's time
  comes from a process that already existed when cont-finish 00 started (a cont-init script
  or the CMD forked just before the stop, which stage 3 lets run until its final TERM);
  never from a service, and no service is still alive when cont-finish.d starts;
- the cont-finish scripts ran exactly once each;
- nothing is left: no process of the namespace exists once /init has exited.

Then a burst of 100 TERMs during the stop, and TERM/INT/QUIT mixed, each in one boot.
"""

import os
import random
import signal
import subprocess
import time

from faults_support import Tally, bad_lines, short
from test_init_support import box_fixture

box = box_fixture()

SEED = 20240611
TRIALS = 50

TALLY = Tally("test_faults_signals")


def teardown_module():
    print("\n" + TALLY.summary())


TRACE = 'echo "%s %s $(date +%%s%%N) $$" >> "$S6PY_ROOT/data/trace"\n'

FINISH_00 = r'''ts=$(date +%s%N)
t="$S6PY_ROOT/data/trace"
echo "finish 00 $ts $$" >> "$t"
others=""
for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = 1 ] && continue
    [ "$p" = "$$" ] && continue
    read -r stat < "$d/stat" 2>/dev/null || continue
    rest=${stat##*) }
    set -- $rest
    [ "$1" = Z ] && continue
    [ "$2" = "$$" ] && continue
    others="$others $p"
done
echo "others$others" >> "$t"
alive=""
check() {  # NAME PID: is that service process still there (not a zombie)?
    [ -n "$2" ] && [ -d "/proc/$2" ] || return 0
    read -r stat < "/proc/$2/stat" 2>/dev/null || return 0
    case "${stat##*) }" in Z*) ;; *) alive="$alive $1:$2" ;; esac
}
# the pid each service wrote to data/pids/NAME (empty if it was killed while writing it)...
for f in "$S6PY_ROOT"/data/pids/*; do
    [ -e "$f" ] || continue
    p=""
    read -r p < "$f"
    check "${f##*/}" "$p"
done
# ...and the one of its trace line
while read -r kind name when p; do
    [ "$kind" = svc ] && check "$name" "$p"
done < "$t"
echo "alive$alive" >> "$t"
'''


def plant_tree(box, finish_sleep=0.0):
    os.makedirs(box.path("data/pids"))
    for i in range(3):
        os.makedirs(box.path("data/fa/d%d/sub" % i))
        box.file("data/fa/d%d/sub/f" % i, "x\n")
    box.file("etc/fix-attrs.d/00-a", "%s true root 0644 0755\n" % box.path("data/fa/d0"))
    box.file("etc/fix-attrs.d/01-b", "%s/d* true root 0640 0750\n%s false root 0600 0700\n"
             % (box.path("data/fa"), box.path("data/fa/d2/sub/f")))
    for i in range(4):
        name = "%02d" % (i * 10)
        box.script("etc/cont-init.d/" + name, TRACE % ("init", name) + "sleep 0.0%d\n" % (i + 1))
    for name in ("a", "b", "c"):
        body = TRACE % ("svc", name) + 'echo $$ > "$S6PY_ROOT/data/pids/%s"\nexec sleep 1000\n' % name
        log = None
        if name == "b":
            log = TRACE % ("svc", "b-log") + 'echo $$ > "$S6PY_ROOT/data/pids/b-log"\nexec cat >/dev/null\n'
        box.service(name, body, log=log)
    box.script("etc/cont-finish.d/00", FINISH_00)
    box.script("etc/cont-finish.d/01", TRACE % ("finish", "01") + ("sleep %s\n" % finish_sleep if finish_sleep else ""))


CMD = ["sh", "-c", TRACE % ("cmd", "cmd") + "exec sleep 1000"]


def parse_trace(box):
    try:
        with open(box.path("data/trace")) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [line.split() for line in lines]


def ready_for_signals(pid):
    """PID 1 is our interpreter and handles or blocks TERM (before that the kernel drops
    it: docs/init.md).  The interpreter check matters: the namespace's first process
    inherits `unshare`'s mask, TERM and INT blocked, until it unblocks them and execs the
    wrapper; a TERM seen as "blocked" then is dropped a moment later."""
    try:
        if not os.path.basename(os.readlink("/proc/%d/exe" % pid)).startswith("python"):
            return False
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("SigCgt:", "SigBlk:")):
                    if int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
                        return True
    except OSError:
        pass
    return False


def check_trace(box, name):
    """The invariants of the module docstring on one trial's trace; list of problems."""
    rows = parse_trace(box)
    problems = []
    finish = [r for r in rows if r[0] == "finish"]
    f00 = [r for r in finish if r[1] == "00"]
    f01 = [r for r in finish if r[1] == "01"]
    if len(f00) != 1 or len(f01) != 1:
        problems.append("cont-finish ran %d/%d times" % (len(f00), len(f01)))
    if not f00:
        return problems, rows
    t_finish = int(f00[0][2])
    others = set(next((r[1:] for r in rows if r[0] == "others"), []))
    alive = next((r[1:] for r in rows if r[0] == "alive"), None)
    if alive is None:
        problems.append("cont-finish 00 did not finish its checks")
    elif alive:
        problems.append("services alive when cont-finish.d started: %s" % alive)
    for r in rows:
        if r[0] in ("init", "svc", "cmd") and int(r[2]) > t_finish:
            if r[0] == "svc":
                problems.append("service started after cont-finish.d: %s" % r)
            elif r[3] not in others:
                problems.append("%s started after cont-finish.d and did not exist before: %s" % (r[0], r))
    return problems, rows


def one_boot(box, signals, cmd=CMD, timeout=10):
    """Start /init; SIGNALS: list of (delay s, signum) relative to PID 1 being ready, in order.
    Returns (code or None on a hang, stdout, stderr, seconds from the first signal to exit,
    leftover processes of the namespace)."""
    try:
        os.unlink(box.path("data/trace"))
    except FileNotFoundError:
        pass
    for f in os.listdir(box.path("data/pids")):
        os.unlink(box.path("data/pids/" + f))
    with box.start(cmd) as c:
        deadline = time.monotonic() + 5
        while not ready_for_signals(c.pid) and time.monotonic() < deadline:
            time.sleep(0.0005)
        ns = os.readlink("/proc/%d/ns/pid" % c.pid)
        t0 = time.monotonic()
        first = None
        for delay, signum in signals:
            left = t0 + delay - time.monotonic()
            if left > 0:
                time.sleep(left)
            if first is None:
                first = time.monotonic()
            c.signal(signum)
        try:
            code = c.wait(timeout)
        except subprocess.TimeoutExpired:
            c.stop()
            return None, b"", b"", None, []
        took = time.monotonic() - first
        out, err = c.output
    left = ps_in_namespace_of_ns(ns)
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), took, left


def ps_in_namespace_of_ns(ns):
    """Host pids of the processes of pid namespace NS (readlink of /proc/PID/ns/pid)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink("/proc/%s/ns/pid" % name) == ns:
                    found.append(int(name))
            except OSError:
                pass
    return found


def verdict(box, label, code, err, took, left, expect_code=0):
    problems = []
    if code is None:
        problems.append("/init did not exit (hang)")
    else:
        if code != expect_code:
            problems.append("exit code %r, want %r" % (code, expect_code))
        if bad_lines(err):
            problems.append("bad lines: %r" % short(bad_lines(err)))
        if "KILL signal" in err:
            problems.append("something outlived the TERM: %r" % short([l for l in err.splitlines() if "KILL" in l]))
        if left:
            problems.append("processes of the namespace left: %r" % left)
    trace_problems, rows = check_trace(box, label)
    if code is not None:
        problems += trace_problems
    TALLY.case(label, code is not None and code == expect_code and not left, not problems,
               "; ".join(problems))
    return problems, rows


def test_term_at_seeded_random_points_of_boot_and_stop(box):
    """TRIALS boots, each stopped by a TERM after a seeded random delay spread over the whole
    boot (fix-attrs.d, cont-init.d, services.d, CMD, up and running); every third trial
    also gets a second TERM during the stop (2..60 ms later)."""
    plant_tree(box)
    rng = random.Random(SEED)
    failures = []
    slow = []
    for trial in range(TRIALS):
        delay = rng.uniform(0, 0.18)  # the whole boot takes ~0.14 s here
        sigs = [(delay, signal.SIGTERM)]
        if trial % 3 == 2:
            sigs.append((delay + rng.uniform(0.002, 0.06), signal.SIGTERM))
        code, out, err, took, left = one_boot(box, sigs)
        label = "trial %d: TERM at %.1f ms%s" % (trial, delay * 1000, " + 2nd TERM" if len(sigs) > 1 else "")
        problems, rows = verdict(box, label, code, err, took, left)
        if took is not None and took > 3.0:
            slow.append((label, took))
        if problems:
            failures.append((label, problems, [" ".join(r) for r in rows], err[-3000:]))
    assert not failures, "%s\n%r" % (TALLY, failures[:3])
    assert not slow, slow


def _boot_then(box, extra, finish_sleep):
    """Boot fully (the CMD's trace seen), TERM, then EXTRA signals during the stop."""
    plant_tree(box, finish_sleep=finish_sleep)
    try:
        os.unlink(box.path("data/trace"))
    except FileNotFoundError:
        pass
    with box.start(CMD) as c:
        ns = os.readlink("/proc/%d/ns/pid" % c.pid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            rows = parse_trace(box)
            if any(r[0] == "cmd" for r in rows) and len([r for r in rows if r[0] == "svc"]) == 4:
                break
            time.sleep(0.005)
        t = time.monotonic()
        c.signal(signal.SIGTERM)
        extra(c)
        try:
            code = c.wait(15)
        except subprocess.TimeoutExpired:
            c.stop()
            return None, "", None, []
        took = time.monotonic() - t
        err = c.output[1].decode("utf-8", "replace")
    return code, err, took, ps_in_namespace_of_ns(ns)


def test_a_burst_of_100_terms_during_the_stop(box):
    """One boot: TERM, then 100 more TERMs as fast as possible while cont-finish 01 sleeps
    0.3 s; the stop runs once, to its end."""
    def burst(c):
        time.sleep(0.05)
        for _ in range(100):
            c.signal(signal.SIGTERM)
    code, err, took, left = _boot_then(box, burst, 0.3)
    problems, rows = verdict(box, "burst of 100 TERMs during the stop", code, err, took, left)
    assert not problems, "%s\n%r\n%r\n%s" % (TALLY, problems, rows, err)
    assert took < 5, took
    assert err.count("[cont-finish.d] executing container finish scripts...") == 1, err


def test_term_int_quit_mixed_during_the_stop(box):
    """One boot: TERM, then 60 signals drawn (seeded) from TERM, INT and QUIT at random short
    intervals, spread over the stop (cont-finish 01 sleeps 0.3 s)."""
    rng = random.Random(SEED + 1)
    plan = [(rng.choice((signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)), rng.uniform(0, 0.008))
            for _ in range(60)]

    def mixed(c):
        for signum, pause in plan:
            c.signal(signum)
            time.sleep(pause)
    code, err, took, left = _boot_then(box, mixed, 0.3)
    problems, rows = verdict(box, "TERM+INT+QUIT mixed during the stop", code, err, took, left)
    assert not problems, "%s\n%r\n%r\n%s" % (TALLY, problems, rows, err)
    assert took < 5, took
    assert err.count("[cont-finish.d] executing container finish scripts...") == 1, err


def test_int_and_quit_at_seeded_random_points_of_boot(box):
    """12 more boots stopped by INT or QUIT (seeded choice and delay) instead of TERM."""
    plant_tree(box)
    rng = random.Random(SEED + 2)
    failures = []
    for trial in range(12):
        signum = rng.choice((signal.SIGINT, signal.SIGQUIT))
        delay = rng.uniform(0, 0.25)
        code, out, err, took, left = one_boot(box, [(delay, signum)])
        label = "trial %d: %s at %.1f ms" % (trial, signal.Signals(signum).name, delay * 1000)
        problems, rows = verdict(box, label, code, err, took, left)
        if problems:
            failures.append((label, problems, [" ".join(r) for r in rows], err[-3000:]))
    assert not failures, "%s\n%r" % (TALLY, failures[:3])


class _FakeBox:
    def __init__(self, tmp):
        self.tmp = str(tmp)
        os.makedirs(os.path.join(self.tmp, "data"))

    def path(self, rel):
        return os.path.join(self.tmp, rel)


def test_the_trace_check_sees_late_steps_and_live_services(tmp_path):
    """check_trace itself: a service after cont-finish, a CMD forked after it, a live service."""
    fake = _FakeBox(tmp_path)
    with open(fake.path("data/trace"), "w") as f:
        f.write("init 00 100 3\nfinish 00 200 9\nothers 5\nalive a:4\nfinish 01 300 10\n"
                "svc a 250 11\ncmd cmd 260 12\ninit 10 270 5\n")
    problems, _ = check_trace(fake, "fake")
    text = "\n".join(problems)
    assert "services alive when cont-finish.d started: ['a:4']" in text, problems
    assert "service started after cont-finish.d: ['svc', 'a', '250', '11']" in text, problems
    assert "cmd started after cont-finish.d and did not exist before" in text, problems
    assert "init started" not in text, problems  # pid 5 existed when cont-finish.d began
