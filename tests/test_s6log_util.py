"""Helpers shared by the s6-log tests: run a logger, feed it, and snapshot a logdir.

A snapshot masks what legitimately differs between two runs (archive timestamps in names,
`t`/`T` timestamps in lines) and keeps everything else: file kinds, modes, line bodies.
"""

import os
import re
import signal
import subprocess
import time

TAI = re.compile(rb"@[0-9a-f]{24} ")
ISO = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}  ")
ARCHIVE = re.compile(r"^@[0-9a-f]{24}\.[su]$")


def mask(data):
    return ISO.sub(b"<ISO>  ", TAI.sub(b"<TAI> ", data))


def snapshot(logdir):
    """{name or '@.s#i' : (mode, masked content)}, archives numbered oldest first."""
    out = {}
    names = sorted(os.listdir(logdir))
    archives = [n for n in names if ARCHIVE.match(n)]
    for i, name in enumerate(archives):
        st = os.stat(os.path.join(logdir, name))
        with open(os.path.join(logdir, name), "rb") as f:
            out["@%d.%s" % (i, name[-1])] = (oct(st.st_mode), mask(f.read()))
    for name in names:
        if name in archives:
            continue
        path = os.path.join(logdir, name)
        st = os.stat(path)
        data = b""
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = mask(f.read())
        out[name] = (oct(st.st_mode), data)
    return out


def run(prog, args, data=b"", cwd=None, timeout=20):
    p = subprocess.run([prog] + list(args), input=data, cwd=cwd, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def start(prog, args, cwd, **kw):
    return subprocess.Popen([prog] + list(args), cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def finish(proc, timeout=20):
    proc.stdin.close()
    out = proc.stdout.read()
    err = proc.stderr.read()
    return proc.wait(timeout), out, err


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def kill(proc, sig):
    os.kill(proc.pid, sig)


SIGNALS = {"TERM": signal.SIGTERM, "HUP": signal.SIGHUP, "ALRM": signal.SIGALRM}
