"""Event bytes that arrive together: the listener must apply each one, in order.

The test plays the supervisor's part on the wire (a status file, then event bytes written
to every listener of `event/`, exactly as a supervisor's notifier does), so the bytes of a
restart (`d` then `u`) reach the waiter in ONE read, which a real supervisor only does
under load.  Run against Debian's s6-svwait and ours.

Known difference: Debian's s6-svwait 2.11 drops the rest of a read once the first phase
of `-r`/`-R` (the death) is reached, so it then waits for a `u` it already consumed and
times out (99).  Ours keeps the unread bytes: docs/commands.md.
"""

import os
import subprocess
import time

import pytest

from s6py.wire import fifodir, status, tai64n


def fake_supervised(tmp_path, up=True):
    d = tmp_path / "svc"
    os.makedirs(d / "supervise")
    fifodir.make(str(d / "event"))
    st = status.Status(stamp=tai64n.now(), readystamp=tai64n.now(), pid=os.getpid() if up else 0)
    status.write(str(d), st)
    return str(d)


def wait_for_listener(d, proc, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(n.startswith(fifodir.PREFIX) for n in os.listdir(os.path.join(d, "event"))):
            return
        time.sleep(0.005)
    raise AssertionError("the waiter never subscribed")


@pytest.mark.parametrize("side", ["theirs", "ours"])
@pytest.mark.parametrize("mode,events", [("-r", b"du"), ("-R", b"dDuU"), ("-u", b"du"), ("-d", b"ud")])
def test_events_read_together_are_all_applied(tmp_path, ours, theirs, side, mode, events):
    d = fake_supervised(tmp_path, up=mode != "-u")
    if mode == "-R":
        with open(os.path.join(d, "notification-fd"), "w") as f:
            f.write("3\n")
    exe = theirs("s6-svwait") if side == "theirs" else str(ours / "s6-svwait")
    proc = subprocess.Popen([exe, mode, "-t", "1000", d], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_for_listener(d, proc)
        assert fifodir.notify(os.path.join(d, "event"), events) == 1
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if side == "theirs" and mode in ("-r", "-R"):
        assert (proc.returncode, err) == (99, b"s6-svwait: fatal: timed out\n")
    else:
        assert (proc.returncode, out, err) == (0, b"", b"")
