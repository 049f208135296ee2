"""Disk full: the logdir warns, retries every r ms, holds stdin back with -b, drops nothing.

The logdir lives on a 512 KiB tmpfs mounted in a private mount namespace (`unshare
--mount`), so nothing outside the test sees it.  The scenario runs inside that namespace as
a small Python program; it prints a JSON report that the test checks.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

SCENARIO = r'''
import json, os, subprocess, sys, time
base, logger = sys.argv[1], sys.argv[2]
os.makedirs(base, exist_ok=True)
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", base], check=True)
ballast = os.path.join(base, "ballast")
with open(ballast, "wb") as f:          # leave about 12 KiB free
    f.write(b"\0" * (500 * 1024))
proc = subprocess.Popen([logger, "-b", "r100", "n5", "s1000000", os.path.join(base, "log")],
                        stdin=subprocess.PIPE, stderr=subprocess.PIPE)
os.set_blocking(proc.stdin.fileno(), False)
lines = [b"%06d %s\n" % (i, b"x" * 90) for i in range(1500)]   # about 145 KB: more than the pipe holds
data = b"".join(lines)
sent = 0
blocked_at = None
deadline = time.monotonic() + 3
while sent < len(data) and time.monotonic() < deadline:
    try:
        sent += os.write(proc.stdin.fileno(), data[sent:sent + 65536])
    except BlockingIOError:
        time.sleep(0.05)
stalled = sent < len(data)            # back-pressure: the pipe stayed full
time.sleep(0.5)                        # a few retries
os.unlink(ballast)
os.set_blocking(proc.stdin.fileno(), True)
proc.stdin.write(data[sent:])
proc.stdin.close()
err = proc.stderr.read().decode()
rc = proc.wait(20)
log = os.path.join(base, "log")
got = b""
for name in sorted(n for n in os.listdir(log) if n.startswith("@")) + ["current"]:
    with open(os.path.join(log, name), "rb") as f:
        got += f.read()
print(json.dumps({"rc": rc, "stalled": stalled, "sent_before": sent,
                  "warnings": err.count("unable to write to"), "err": err[:300],
                  "same": got == data, "got": len(got), "want": len(data)}))
'''


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare to mount a small tmpfs")
def test_disk_full_is_retried_with_backpressure_and_nothing_is_lost(ours, tmp_path):
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                        "-c", SCENARIO, str(tmp_path / "fs"), str(ours / "s6-log")],
                       capture_output=True, timeout=60)
    if p.returncode != 0 and b"mount" in p.stderr:
        pytest.skip("cannot mount tmpfs here: %s" % p.stderr[-200:])
    report = json.loads(p.stdout)
    assert report["rc"] == 0, report
    assert report["warnings"] >= 2, report   # first failure and at least one retry
    assert "No space left on device" in report["err"]
    assert report["stalled"], report          # -b: stdin was not read while stuck
    assert report["same"], report             # every line, in order, exactly once
