"""logutil-service and logutil-newfifo: real processes, a private container environment
found through S6PY_ROOT (the host's /run is never read)."""

import os
import stat
import subprocess
import time

import pytest

from conftest import LAUNCHER

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (drops privileges to nobody)")


@pytest.fixture
def tree():
    """A world-traversable tmp dir (nobody must reach it) with a container environment."""
    import pathlib
    import shutil
    import tempfile

    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="s6py-logutil-"))
    os.chmod(tmp_path, 0o755)
    yield from _tree(tmp_path)
    shutil.rmtree(tmp_path, ignore_errors=True)


def _tree(tmp_path):
    contenv = tmp_path / "root" / "run" / "s6" / "container_environment"
    contenv.mkdir(parents=True)
    for d in (tmp_path / "root", tmp_path / "root" / "run", tmp_path / "root" / "run" / "s6"):
        os.chmod(d, 0o755)
    logs = tmp_path / "logs"
    logs.mkdir()
    if os.geteuid() == 0:
        os.chown(logs, 65534, 65534)
    yield tmp_path


def env_for(tree, **extra):
    env = {"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(tree / "root"), "TZ": "UTC"}
    env.update(extra)
    return env


def run(argv, tree, data=b"", **kw):
    return subprocess.run([LAUNCHER] + argv, input=data, capture_output=True,
                          env=env_for(tree), timeout=20, **kw)


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().decode().splitlines()


@ROOT_ONLY
def test_script_from_container_environment_and_files_owned_by_nobody(tree):
    (tree / "root/run/s6/container_environment/S6_LOGGING_SCRIPT").write_text("n3 \ts4096\tt")
    logdir = tree / "logs" / "app"
    r = run(["logutil-service", str(logdir)], tree, b"one\ntwo\n")
    assert r.returncode == 0 and r.stderr == b"", r
    got = lines_of(logdir / "current")
    assert [l.split(" ", 1)[1] for l in got] == ["one", "two"]
    assert all(l.startswith("@4000") and len(l.split(" ", 1)[0]) == 25 for l in got), got
    for name in ("", "current", "lock", "state"):
        st = os.stat(logdir / name)
        assert (st.st_uid, st.st_gid) == (65534, 65534), name
    assert stat.S_IMODE(os.stat(logdir).st_mode) & 0o777 == 0o700


@ROOT_ONLY
def test_default_script_is_n20_s1000000_T(tree):
    logdir = tree / "logs" / "d"
    r = run(["logutil-service", str(logdir)], tree, b"hello\n")
    assert r.returncode == 0, r
    (line,) = lines_of(logdir / "current")
    stamp, body = line.split("  ", 1)
    assert body == "hello"
    time.strptime(stamp.split(".")[0], "%Y-%m-%d %H:%M:%S")
    assert len(stamp.split(".")[1]) == 9


@ROOT_ONLY
def test_runs_as_nobody_with_an_empty_environment_and_b(tree):
    logdir = tree / "logs" / "e"
    p = subprocess.Popen([LAUNCHER, "logutil-service", str(logdir)], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env_for(tree, SECRET="x"))
    try:
        p.stdin.write(b"x\n")
        p.stdin.flush()
        deadline = time.monotonic() + 10
        while not os.path.exists(logdir / "current") and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        with open("/proc/%d/environ" % p.pid, "rb") as f:
            assert f.read() == b""
        with open("/proc/%d/status" % p.pid) as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines())
        assert status["Uid"].split()[:2] == ["65534", "65534"]
        assert status["Gid"].split()[:2] == ["65534", "65534"]
        assert status["Groups"].split() == ["65534"]
        with open("/proc/%d/cmdline" % p.pid, "rb") as f:
            argv = f.read().split(b"\0")
        assert argv[argv.index(b"s6-log"):-1] == [b"s6-log", b"-b", b"--", b"n20", b"s1000000",
                                                 b"T", str(logdir).encode()]
    finally:
        p.stdin.close()
        assert p.wait(10) == 0
    assert lines_of(logdir / "current")[0].endswith("  x")


@ROOT_ONLY
def test_f_reads_a_fifo(tree):
    fifo = tree / "fifo"
    os.mkfifo(fifo)
    logdir = tree / "logs" / "f"
    p = subprocess.Popen([LAUNCHER, "logutil-service", "-f", str(fifo), str(logdir)],
                         stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env_for(tree))
    # logutil-service opens the FIFO without waiting for a writer (redirfd -rnb)
    with open(fifo, "wb") as w:
        w.write(b"via fifo\n")
    assert p.wait(10) == 0, p.stderr.read()
    assert lines_of(logdir / "current")[0].endswith("  via fifo")


@ROOT_ONLY
def test_logdir_not_writable_by_nobody_is_one_clear_line(tree):
    rootdir = tree / "rootowned"
    rootdir.mkdir()
    os.chmod(rootdir, 0o755)
    r = run(["logutil-service", str(rootdir)], tree, b"x\n")
    assert r.returncode == 111
    assert r.stderr.decode() == (
        "logutil-service: fatal: logdir %s is not writable by nobody (uid 65534) "
        "(owner 0:0, mode 0755): chown it to that user\n" % rootdir)


@ROOT_ONLY
def test_logdir_that_cannot_be_created(tree):
    parent = tree / "closed"
    parent.mkdir()
    os.chmod(parent, 0o755)
    r = run(["logutil-service", str(parent / "log")], tree, b"x\n")
    assert r.returncode == 111
    err = r.stderr.decode()
    assert err.startswith("logutil-service: fatal: unable to create logdir %s/log as nobody "
                          "(uid 65534): Permission denied" % parent), err
    assert err.count("\n") == 1
    r = run(["logutil-service", str(tree / "missing" / "log")], tree, b"x\n")
    assert r.returncode == 111
    assert "%s does not exist" % (tree / "missing") in r.stderr.decode()


def test_not_root_fails_like_s6_applyuidgid(tree):
    if os.geteuid() != 0:
        cmd = [LAUNCHER, "logutil-service", str(tree / "logs" / "n")]
    else:
        cmd = ["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", LAUNCHER,
               "logutil-service", str(tree / "logs" / "n")]
    r = subprocess.run(cmd, input=b"x\n", capture_output=True, env=env_for(tree), timeout=20)
    assert r.returncode == 111
    assert r.stderr == b"s6-applyuidgid: fatal: unable to set supplementary group list: Operation not permitted\n"


def test_usage(tree):
    for argv in (["logutil-service"], ["logutil-service", "-x", "d"], ["logutil-service", "-f"]):
        r = run(argv, tree)
        assert r.returncode == 100
        assert r.stderr == b"logutil-service: usage: logutil-service [ -f fifo ] logdir\n"


@ROOT_ONLY
def test_missing_fifo(tree):
    r = run(["logutil-service", "-f", str(tree / "nofifo"), str(tree / "logs" / "x")], tree)
    assert r.returncode == 111
    assert r.stderr.decode() == "redirfd: fatal: unable to open %s: No such file or directory\n" % (tree / "nofifo")


# ------------------------------------------------------------------ logutil-newfifo

DEPRECATED = b"logutil-newfifo: warning: this binary is deprecated, use s6-mkfifo and s6-chown instead\n"


@ROOT_ONLY
def test_newfifo_defaults_and_options(tree):
    fifo = tree / "f1"
    r = run(["logutil-newfifo", str(fifo)], tree)
    assert r.returncode == 0 and r.stderr == DEPRECATED, r
    st = os.lstat(fifo)
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (0, 0)
    r = run(["logutil-newfifo", "-m", "0640", "-o", "nobody", str(fifo)], tree)
    assert r.returncode == 0, r
    st = os.lstat(fifo)
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_uid == 65534


def test_newfifo_replaces_whatever_is_there(tree):
    target = tree / "thing"
    target.mkdir()
    (target / "inside").write_text("x")
    r = run(["logutil-newfifo", "-o", _me(), str(target)], tree)
    assert r.returncode == 0, r
    assert stat.S_ISFIFO(os.lstat(target).st_mode)


def _me():
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def test_newfifo_failures(tree):
    r = run(["logutil-newfifo", "-o", "no-such-user-here", str(tree / "f2")], tree)
    assert r.returncode == 1
    assert r.stderr == DEPRECATED + b"s6-envuidgid: fatal: unknown user: no-such-user-here\n"
    r = run(["logutil-newfifo", "-m", "9z", str(tree / "f3")], tree)
    assert r.returncode == 1 and r.stderr.endswith(b"s6-mkfifo: fatal: invalid mode: 9z\n"), r
    r = run(["logutil-newfifo", str(tree / "nodir" / "f")], tree)
    assert r.returncode == 1
    assert r.stderr.endswith(b"s6-mkfifo: fatal: unable to mkfifo %s: No such file or directory\n"
                             % str(tree / "nodir" / "f").encode()), r
    r = run(["logutil-newfifo"], tree)
    assert r.returncode == 100
    assert r.stderr == b"logutil-newfifo: usage: logutil-newfifo [ -m mode ] [ -o owner ] fifo\n"
