"""spawn(): fd and signal hygiene, and exec failures reported as one clear line."""

import os
import signal

import pytest

from s6py.engine.spawn import SpawnError, spawn


def wait(pid):
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def output_of(argv, **kwargs):
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = spawn(argv, stdout=w, **kwargs)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    return wait(pid), data.decode()


def test_only_requested_fds_reach_the_child_even_inherited_ones():
    """A process that inherited an open fd (here 77) passes only 0, 1, 2 and fds={5: ...}."""
    import subprocess
    import sys

    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    script = ("import sys, os; sys.path.insert(0, %r)\n"
              "from s6py.engine.spawn import spawn\n"
              "r, w = os.pipe2(os.O_CLOEXEC)\n"
              "pid = spawn(['/bin/ls', '/proc/self/fd'], fds={5: r})\n"
              "os.waitpid(pid, 0)\n" % src)
    inherited = os.open("/dev/null", os.O_RDONLY)
    os.dup2(inherited, 77)
    try:
        out = subprocess.run([sys.executable, "-c", script], pass_fds=(77,), capture_output=True,
                             text=True, check=True).stdout
    finally:
        os.close(inherited)
        os.close(77)
    assert sorted(int(x) for x in out.split()) == [0, 1, 2, 3, 5]  # 3: ls's own directory fd


def test_fd_targets_may_collide_with_sources():
    ends = {}
    for label, where in ((b"A", 40), (b"B", 41)):
        r, w = os.pipe()
        os.write(w, label)
        os.close(w)
        os.dup2(r, where)
        os.close(r)
        ends[label] = where
    code, out = output_of(["/usr/bin/python3", "-Sc", "import os; print(os.read(40, 9), os.read(41, 9))"],
                          fds={40: 41, 41: 40})
    os.close(40)
    os.close(41)
    assert (code, out) == (0, "b'B' b'A'\n")


def test_new_session_and_cwd_and_argv(tmp_path):
    code, out = output_of(["/bin/sh", "-c", 'echo "$0 $1"; pwd; ps -o sid= -p $$; echo $$', "zero", "one"],
                          cwd=str(tmp_path))
    lines = out.splitlines()
    assert lines[0] == "zero one"
    assert lines[1] == str(tmp_path)
    assert lines[2].strip() == lines[3]


def test_signal_mask_is_emptied_and_dispositions_reset():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    old = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        code, out = output_of(["/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"])
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
        signal.signal(signal.SIGUSR2, old)
    fields = dict(zip(out.split()[::2], out.split()[1::2]))
    assert int(fields["SigBlk:"], 16) == 0
    assert int(fields["SigIgn:"], 16) == 0  # none, not even the C library's own 32 and 33


@pytest.mark.parametrize("content, mode, expected", [
    (None, 0o755, "No such file or directory"),
    ("#!/bin/sh\n", 0o644, "Permission denied"),
    ("\x7fELF garbage", 0o755, "Exec format error"),
    ("#!/nonexistent/interpreter\n", 0o755, "bad interpreter"),
])
def test_exec_failures_are_described_in_one_line(tmp_path, content, mode, expected):
    prog = tmp_path / "run"
    if content is not None:
        prog.write_text(content)
        prog.chmod(mode)
    with pytest.raises(SpawnError) as info:
        spawn(["./run"], cwd=str(tmp_path))
    line = info.value.describe()
    assert "\n" not in line
    assert expected in line
    assert "./run" in line


def test_a_fifo_is_not_a_program(tmp_path):
    os.mkfifo(tmp_path / "run")
    with pytest.raises(SpawnError) as info:
        spawn(["./run"], cwd=str(tmp_path))
    assert "not a regular file" in info.value.describe()


def test_missing_cwd_is_reported_as_such(tmp_path):
    with pytest.raises(SpawnError) as info:
        spawn(["/bin/true"], cwd=str(tmp_path / "nope"))
    assert info.value.step == "chdir"


def test_fork_path_same_hygiene_and_even_libc_signals_default():
    """session="pgrp" (and lock=...) take the fork path; it resets every disposition."""
    old = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        code, out = output_of(["/bin/sh", "-c", 'grep -E "^Sig(Ign|Blk)" /proc/self/status;'
                               ' ps -o pgid= -p $$; echo $$; ls /proc/self/fd'], session="pgrp")
    finally:
        signal.signal(signal.SIGUSR2, old)
    lines = out.split("\n")
    fields = dict(line.split(":\t") for line in lines[:2])
    assert int(fields["SigIgn"], 16) == 0 and int(fields["SigBlk"], 16) == 0
    assert lines[2].strip() == lines[3]
    assert sorted(int(x) for x in lines[4:] if x) == [0, 1, 2, 3]


def test_foreground_tty_gives_each_child_its_own_group_in_the_foreground():
    """In a session of its own on a pseudo-terminal, a caller spawns two children in turn
    with foreground_tty: each one finds its own process group in the foreground, and
    neither the second spawn (the caller is then in the background) nor the children
    are stopped by SIGTTOU."""
    import subprocess
    import sys

    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    probe = "import os; print(os.getpgrp() == os.getpid() == os.tcgetpgrp(0), flush=True)"
    script = ("import os, sys; sys.path.insert(0, %r)\n"
              "from s6py.engine.spawn import spawn\n"
              "master, slave = os.openpty()\n"
              "os.setsid()\n"
              "tty = os.open(os.ttyname(slave), os.O_RDWR)  # session leader: becomes ours\n"
              "r, w = os.pipe()\n"
              "for _ in range(2):\n"
              "    pid = spawn([sys.executable, '-c', %r], stdin=tty, stdout=w, foreground_tty=tty)\n"
              "    _, status = os.waitpid(pid, os.WUNTRACED)\n"
              "    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status\n"
              "os.close(w)\n"
              "print(os.read(r, 100).decode().split(), os.tcgetpgrp(tty) != os.getpgrp())\n"
              % (src, probe))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=10)
    assert r.stdout == "['True', 'True'] True\n", r


def test_an_fd_made_inheritable_after_the_first_spawn_does_not_leak_either():
    import subprocess
    import sys

    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    script = ("import sys, os; sys.path.insert(0, %r)\n"
              "from s6py.engine.spawn import spawn\n"
              "os.waitpid(spawn(['/bin/true']), 0)\n"
              "r, w = os.pipe2(os.O_CLOEXEC)\n"
              "os.dup2(r, 7)  # inheritable, as os.dup2 makes it by default\n"
              "os.set_inheritable(w, True)\n"
              "pid = spawn(['/bin/ls', '/proc/self/fd'], fds={5: r})\n"
              "os.waitpid(pid, 0)\n" % src)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert sorted(int(x) for x in out) == [0, 1, 2, 3, 5]  # 3: ls's own directory fd
