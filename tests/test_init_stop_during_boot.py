"""After a stop request, no boot step starts: at every step boundary, whenever the request
came (before the loop ran, during the hook, a cont-init.d script, between pieces of a step).

The step runner dispatches the signals that have arrived before each step and each piece of
a step (init.steps.Steps.may_continue); these tests send the TERM from inside the boot at
each boundary and check that nothing after it ran.
"""

import os
import signal
import sys

from s6py.engine.loop import Loop
from s6py.init.steps import Steps
from test_init_support import box_fixture

box = box_fixture()

BOOT_TRACES = ("fix-attrs-ran", "init-00", "init-01", "svc-ran", "cmd-ran")


def boot_tree(box):
    """Every kind of boot step, each leaving a trace file in data/ when it runs."""
    box.file("etc/fix-attrs.d/01", "%s false root 0600 0700\n" % box.path("data/f"))
    box.file("data/f", "x", 0o644)
    box.script("etc/cont-init.d/00", 'touch "$S6PY_ROOT/data/init-00"\n')
    box.script("etc/cont-init.d/01", 'touch "$S6PY_ROOT/data/init-01"\n')
    box.service("svc", 'touch "$S6PY_ROOT/data/svc-ran"; exec sleep 100\n')
    box.script("etc/cont-finish.d/00", "echo finish-ran\n")
    return ["sh", "-c", 'touch "$S6PY_ROOT/data/cmd-ran"; sleep 1']


def ran(box):
    traces = [t for t in BOOT_TRACES if os.path.exists(box.path("data/" + t))]
    if oct(os.stat(box.path("data/f")).st_mode & 0o777) == "0o600":
        traces.insert(0, "fix-attrs-ran")
    return traces


def test_a_term_pending_before_init_starts_stops_before_any_boot_step(box):
    """A TERM blocked and pending when /init is exec'd (as one sent during the interpreter's
    start-up would be, once /init has blocked it) is handled before stage 2 begins."""
    cmd = boot_tree(box)
    real_init = box.init
    wrapper = box.file("data/pending-term-init", "#!%s\nimport os, signal, sys\n"
                       "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])\n"
                       "os.kill(os.getpid(), signal.SIGTERM)\n"
                       "os.execv(%r, [%r] + sys.argv[1:])\n" % (sys.executable, real_init, real_init),
                       0o755)
    box.init = wrapper
    r = box.run(cmd)
    assert r.code == 0, r
    assert ran(box) == [], r
    assert "[s6-init]" not in r.err and "[cont-init.d]" not in r.err, r.err
    assert "finish-ran" in r.out, r


def test_a_term_from_the_hook_stops_before_fix_attrs(box):
    cmd = boot_tree(box)
    hook = box.script("data/hook", "kill -TERM 1\n")
    r = box.run(cmd, env={"S6_STAGE2_HOOK": hook})
    assert r.code == 0, r
    assert ran(box) == [], r
    assert "finish-ran" in r.out


def test_a_term_from_a_cont_init_script_stops_before_the_next_one(box):
    cmd = boot_tree(box)
    box.script("etc/cont-init.d/00", 'touch "$S6PY_ROOT/data/init-00"; kill -TERM 1\n')
    r = box.run(cmd)
    assert r.code == 0, r
    assert ran(box) == ["fix-attrs-ran", "init-00"], r
    assert "[cont-init.d] 01: executing" not in r.err, r.err


def test_a_term_from_the_last_cont_init_script_stops_before_services_and_the_cmd(box):
    cmd = boot_tree(box)
    box.script("etc/cont-init.d/01", 'touch "$S6PY_ROOT/data/init-01"; kill -TERM 1\n')
    r = box.run(cmd)
    assert r.code == 0, r
    assert ran(box) == ["fix-attrs-ran", "init-00", "init-01"], r
    assert "[services.d]" not in r.err, r.err


def test_a_term_while_waiting_for_services_never_starts_the_cmd(box):
    cmd = boot_tree(box)
    box.service("svc", 'touch "$S6PY_ROOT/data/svc-ran"; kill -TERM 1; exec sleep 100\n',
                files={"notification-fd": "3\n"})
    r = box.run(cmd, env={"S6_CMD_WAIT_FOR_SERVICES": "1"})
    assert r.code == 0, r
    assert ran(box) == ["fix-attrs-ran", "init-00", "init-01", "svc-ran"], r


def test_a_signal_raised_by_a_step_is_dispatched_before_the_next_step_starts():
    """The mechanism itself: a step that finishes at once (no trip through select()) after a
    stop request must not be followed by the next one."""
    loop = Loop()
    started = []
    sequence = None

    def stop(signum):
        sequence.cancel()

    def first(done):
        started.append("first")
        os.kill(os.getpid(), signal.SIGUSR1)
        done()

    def second(done):
        started.append("second")
        done()

    loop.on_signal(signal.SIGUSR1, stop)
    sequence = Steps(loop, [("first", first), ("second", second)], loop.stop,
                     lambda name, f, *a: (f(*a), True)[1])
    sequence.start()
    loop.call_later(0.5, loop.stop)
    try:
        loop.run()
    finally:
        loop.close()
    assert started == ["first"]
