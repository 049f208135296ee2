"""/init under stress: signals at any moment, orphans, terminals, leaked fds, non-root,
read-only roots and malformed inputs."""

import os
import pty
import random
import select
import signal
import subprocess
import time

import pytest

from log_support import logdir_parent
from test_init_support import UNSHARE_ARGV, box_fixture, inside, read, wait_file

box = box_fixture()


def catches_term(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except OSError:
        pass
    return False


def test_term_at_100_random_points_of_boot_is_never_lost(box):
    box.file("etc/fix-attrs.d/00", "%s true root 0644 0755\n" % box.path("data"))
    for i in range(3):
        box.script("etc/cont-init.d/%02d" % i, "sleep 0.01\n")
    box.service("a", "exec sleep 100\n")
    box.service("b", "exec sleep 100\n", log="exec cat >/dev/null\n")
    box.script("etc/cont-finish.d/00", "true\n")
    rng = random.Random(1234)
    hung = []
    for trial in range(100):
        with box.start(["sleep", "100"]) as c:
            deadline = time.monotonic() + 5
            while not catches_term(c.pid) and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.12))
            c.signal(signal.SIGTERM)
            try:
                code = c.wait(5)
            except subprocess.TimeoutExpired:
                hung.append(trial)
                continue
            assert code == 0, (trial, c.output)
    assert not hung, hung


def test_1000_orphan_zombies_are_reaped(box):
    program = (
        "import os, time\n"
        "for i in range(1000):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        if os.fork() == 0:\n"
        "            os._exit(0)\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "def zombies():\n"
        "    n = 0\n"
        "    for p in os.listdir('/proc'):\n"
        "        try:\n"
        "            if p.isdigit() and open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()[0] == 'Z': n += 1\n"
        "        except OSError: pass\n"
        "    return n\n"
        "deadline = time.monotonic() + 3\n"
        "while zombies() and time.monotonic() < deadline: time.sleep(0.01)\n"
        "print('zombies', zombies())\n"
    )
    r = box.run(["python3", "-c", program], timeout=30)
    assert r.code == 0 and "zombies 0" in r.out, r


def test_fds_3_to_9_are_not_inherited(box):
    box.service("svc", 'ls /proc/self/fd > "$S6PY_ROOT/data/svcfds"; exec sleep 100\n')
    box.script("etc/cont-init.d/00", 'ls /proc/self/fd > "$S6PY_ROOT/data/initfds"\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/svcfds"; do sleep 0.01; done; ls /proc/self/fd'],
                extra_fds=True)
    assert r.code == 0, r
    # ls itself holds one fd (3) open on /proc/self/fd
    assert r.out.split() == ["0", "1", "2", "3"], r
    assert read(box.path("data/svcfds")).split() == ["0", "1", "2", "3"]
    assert read(box.path("data/initfds")).split() == ["0", "1", "2", "3"]


def _pty_session(box, cmd, steps, env=None, timeout=10):
    """Run /init CMD on a new terminal; STEPS is a list of (expect, send).  Returns
    (exit code, transcript)."""
    argv, env = box.command(cmd, env)
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(box.root)
        os.execve(UNSHARE_ARGV[0], UNSHARE_ARGV + argv, env)
    transcript = b""
    deadline = time.monotonic() + timeout

    def read_until(token):
        nonlocal transcript
        while token.encode() not in transcript:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("never saw %r in %r" % (token, transcript))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    raise AssertionError("terminal closed before %r: %r" % (token, transcript))
                transcript += data

    try:
        for expect, send in steps:
            if expect:
                read_until(expect)
            if send:
                if send == "\x03":
                    time.sleep(0.2)
                os.write(fd, send.encode())
        while True:
            left = deadline - time.monotonic()
            r, _, _ = select.select([fd], [], [], max(left, 0))
            if not r:
                break
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            transcript += data
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), transcript.decode("utf-8", "replace")
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        os.close(fd)


def test_interactive_shell_on_a_terminal_ctrl_c_gives_130(box):
    code, text = _pty_session(box, ["sh", "-i"], [
        ("# ", "echo hi-$((40+2))\n"),
        ("hi-42", "sleep 30\n"),
        (None, "\x03"),
        ("# ", "exit $?\n"),
    ])
    assert code == 130, text
    assert "[cmd] sh exited 130" in text


def test_ctrl_c_goes_to_the_cmd_not_to_pid_1(box):
    box.script("etc/cont-finish.d/00", "echo finish-ran\n")
    code, text = _pty_session(box, ["sleep", "30"], [("[services.d] done.", "\x03")])
    assert code == 130, text
    assert "[cmd] sleep exited 130" in text and "finish-ran" in text


def test_job_control_does_not_stop_pid_1(box):
    # ^Z stops the CMD's group; PID 1 stays alive and stops the container on TERM
    code, text = _pty_session(box, ["sh", "-i"], [
        ("# ", "sleep 30\n"),
        (None, "\x1a"),
        ("# ", "kill %1; exit 3\n"),
    ])
    assert code == 3, text


def test_use_terminal(box):
    code, text = _pty_session(box, ["sh", "-c", "echo on-the-tty"], [], env={"S6_CMD_USE_TERMINAL": "1"})
    assert code == 0 and "on-the-tty" in text, text


def test_non_root_with_a_writable_run(box):
    os.chmod(box.path("data"), 0o777)
    box.service("svc", 'id -u > "$S6PY_ROOT/data/svc-uid"; exec sleep 100\n',
                finish='exit 0\n')
    box.script("etc/cont-init.d/00", 'id -u > "$S6PY_ROOT/data/init-uid"\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/svc-uid"; do sleep 0.01; done; id -u; '
                 '"$S6PY_ROOT/run/s6/basedir/bin/halt"; sleep 5; exit 9'],
                user=(65534, 65534), run_opts="mode=0755,uid=65534,gid=65534")
    assert r.code == 0, r  # halted: the exitcode file's 0, not the CMD's 9
    assert r.out.split() == ["65534"]
    assert read(box.path("data/svc-uid")).strip() == "65534"
    assert read(box.path("data/init-uid")).strip() == "65534"


def test_non_root_with_a_run_it_cannot_write_and_no_fallback(box):
    r = box.run(["true"], user=(65534, 65534))
    assert r.code == 100, r
    assert r.err.startswith("init: fatal: ") and "not writable by uid 65534" in r.err, r
    assert "no run-time tree" in r.err and r.err.count("\n") == 1, r


def test_non_root_with_a_root_owned_run_boots_in_a_fallback_tree(box):
    """podman's `--user 1000 --tmpfs /run` (a root-owned 0755 tmpfs): s6-overlay's setuid
    helper chowns /run; ours has none and puts the tree in /tmp/s6py-run-UID instead."""
    os.makedirs(box.path("tmp"))
    os.chmod(box.path("tmp"), 0o1777)
    os.chmod(box.path("data"), 0o777)
    box.service("svc", 'id -u > "$S6PY_ROOT/data/svc-uid"; exec sleep 100\n')
    box.script("etc/cont-init.d/00", 'id -u > "$S6PY_ROOT/data/init-uid"; '
               'echo "$S6PY_RUN" > "$S6PY_ROOT/data/init-run"\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/svc-uid"; do sleep 0.01; done; '
                 'id -u; s6-svstat -o up "$S6PY_RUN/service/svc"; printcontenv S6PY_RUN'],
                user=(65534, 65534))
    fallback = box.path("tmp/s6py-run-65534")
    assert r.code == 0, r
    assert r.out.split() == ["65534", "true", fallback], r
    assert read(box.path("data/svc-uid")).strip() == "65534"
    assert read(box.path("data/init-uid")).strip() == "65534"
    assert read(box.path("data/init-run")).strip() == fallback
    info = [line for line in r.err.splitlines() if line.startswith("init: info:")]
    assert len(info) == 1 and fallback in info[0] and "not writable by uid 65534" in info[0], r.err
    assert "fatal" not in r.err and "Traceback" not in r.err, r.err


def test_read_only_root_writes_nothing_outside_run(box):
    os.unlink(box.path("var/run"))
    os.mkdir(box.path("var/run"))
    box.service("svc", 'touch "$S6PY_ROOT/run/svc-ran"; exec sleep 100\n')
    box.script("etc/cont-init.d/00", 'echo ro-init\n')
    before = sorted(os.walk(box.root))
    r = box.run(["sh", "-c", 'while ! test -e "$S6PY_ROOT/run/svc-ran"; do sleep 0.01; done; echo done'],
                ro_root=True, env={"S6_READ_ONLY_ROOT": "1"})
    assert r.code == 0 and "ro-init" in r.out and "done" in r.out, r
    assert "warning" not in r.err and "error" not in r.err, r
    assert sorted(os.walk(box.root)) == before


def test_malformed_inputs_give_clear_messages_and_never_kill_pid_1(box):
    box.file("etc/cont-init.d/00-notexec", "#!/bin/sh\necho x\n", 0o644)
    box.file("etc/cont-init.d/01-noshebang", "echo x\n", 0o755)
    box.script("etc/cont-init.d/02-badinterp", "echo x\n", shebang="#!/no/such/interpreter\n")
    box.script("etc/cont-init.d/03-garbage-env",
               'mkdir "$S6PY_ROOT/run/s6/container_environment/ADIR"; '
               'mkfifo "$S6PY_ROOT/run/s6/container_environment/AFIFO"\n')
    os.makedirs(box.path("etc/cont-init.d/04-a-directory"))
    box.file("etc/services.d/plainfile", "not a service\n")
    os.makedirs(box.path("etc/services.d/norun"))
    box.file("etc/fix-attrs.d/00", "garbage line here\n/nonexistent/* false root 0644 0755\n")
    r = box.run(["sh", "-c", 'echo "cmd FOO=$FOO"'], env={"FOO": "ok", "S6_KILL_GRACETIME": "soon"})
    assert r.code == 0, r
    assert "cmd FOO=ok" in r.out, r
    err = r.err
    assert "[cont-init.d] 00-notexec: exited 0." in err  # made executable, as v2 did
    assert "[cont-init.d] 01-noshebang: unable to exec" in err and "Exec format error" in err
    assert "[cont-init.d] 02-badinterp: unable to exec" in err and "bad interpreter" in err
    assert "[cont-init.d] 02-badinterp: exited 127." in err
    assert "[cont-init.d] 04-a-directory: exited 126." in err
    assert "[services.d] plainfile: not a directory, ignored" in err
    assert "[services.d] norun: no run file, ignored" in err
    assert "ADIR" in err and "AFIFO" in err
    assert "S6_KILL_GRACETIME='soon' is not a time in ms" in err
    assert "garbage" in err
    assert "Traceback" not in err


def test_a_service_that_cannot_be_started_is_reported(box):
    box.file("etc/services.d/bad/run", "#!/no/such/interpreter\nexec sleep 100\n", 0o755)
    r = box.run(["sh", "-c", "sleep 0.3"])
    assert r.code == 0, r
    assert "bad: unable to exec run: bad interpreter" in r.err, r


def test_term_during_a_cont_init_script_stops_the_boot_there(box):
    box.script("etc/cont-init.d/00", 'touch "$S6PY_ROOT/data/00-started"; exec sleep 100\n')
    box.script("etc/cont-init.d/01", 'touch "$S6PY_ROOT/data/01-ran"\n')
    box.service("svc", 'touch "$S6PY_ROOT/data/svc-ran"; exec sleep 100\n')
    box.script("etc/cont-finish.d/00", "echo finish-ran\n")
    with box.start(["sh", "-c", 'touch "$S6PY_ROOT/data/cmd-ran"']) as c:
        wait_file(box.path("data/00-started"))
        t = time.monotonic()
        c.signal(signal.SIGTERM)
        assert c.wait(10) == 0
        assert time.monotonic() - t < 1.5
        assert "finish-ran" in c.output[0].decode()
    for name in ("01-ran", "svc-ran", "cmd-ran"):
        assert not os.path.exists(box.path("data/" + name)), name


HUGE = "4294967295"


def test_timeouts_too_big_for_epoll_do_not_wedge_pid_1(box):
    """Every time knob and service timeout at 2^32-1 ms: the container still boots, the
    CMD runs, and it stops as soon as everything is down."""
    box.service("svc", "exec sleep 100\n", files={"timeout-kill": HUGE + "\n",
                                                  "timeout-finish": HUGE + "\n",
                                                  "down-signal": "99999999999\n"})
    box.script("etc/cont-finish.d/00", "echo finish-ran\n")
    env = {name: HUGE for name in ("S6_SERVICES_GRACETIME", "S6_KILL_FINISH_MAXTIME", "S6_KILL_GRACETIME",
                                   "S6_CMD_WAIT_FOR_SERVICES_MAXTIME")}
    env.update(S6_CMD_WAIT_FOR_SERVICES="1", S6_WAIT_FOR_CLOSING_FD="99999999999")
    t = time.monotonic()
    r = box.run(["sh", "-c", "echo cmd-ran; exit 4"], env=env, timeout=10)
    assert r.code == 4, r
    assert time.monotonic() - t < 5, r
    assert r.out.split() == ["cmd-ran", "finish-ran"], r
    assert "S6_WAIT_FOR_CLOSING_FD='99999999999' is not a file descriptor number" in r.err, r.err
    assert "svc: invalid down-signal, using SIGTERM" in r.err, r.err
    assert "internal error" not in r.err and "Traceback" not in r.err, r.err


def test_a_service_nested_1100_levels_deep_stops_no_other_service(box):
    box.service("a-good", 'touch "$S6PY_ROOT/data/good-ran"; exec sleep 100\n')
    box.service("deep", "exec sleep 100\n")
    path = box.path("etc/services.d/deep")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(1100):  # deeper than PATH_MAX and than Python's recursion limit
            os.mkdir("d", dir_fd=fd)
            new = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = new
    finally:
        os.close(fd)
    box.service("z-good", 'touch "$S6PY_ROOT/data/z-ran"; exec sleep 100\n')
    try:
        r = box.run(["sh", "-c", 'while ! test -e "$S6PY_ROOT/data/good-ran" -a -e "$S6PY_ROOT/data/z-ran"; '
                     'do sleep 0.01; done; ls "$S6PY_ROOT/run/service"'])
    finally:  # shutil.rmtree recurses too: leave no tree it cannot remove
        subprocess.run(["rm", "-rf", path], check=True)
    assert r.code == 0, r
    assert r.out.split() == ["a-good", "deep", "z-good"], r
    assert "RecursionError" not in r.err and "internal error" not in r.err, r.err


def test_a_typo_in_s6_catchall_user_is_said(box):
    r = box.run(["true"], env={"S6_LOGGING": "1", "S6_CATCHALL_USER": "nobdoy"})
    assert r.code == 0, r
    assert ("init: warning: S6_CATCHALL_USER=nobdoy: unknown user: nobdoy: the catch-all logger"
            " runs as 65534:65534") in r.err, r.err


def test_500_services_under_nofile_1024(box):
    """podman's default nofile=1024:1024: each service costs PID 1 two fds (its lock and
    its control FIFO, held read-write), so 500 come up and the CMD still starts."""
    for i in range(500):
        box.service("s%03d" % i, "exec sleep 100\n")
    wrapper = box.file("data/limited-init", '#!/bin/sh\nexec prlimit --nofile=1024:1024 "%s" "$@"\n'
                       % box.init, 0o755)
    box.init = wrapper
    r = box.run(["sh", "-c", 'ls "$S6PY_ROOT/run/service" | wc -l'], timeout=60,
                env={"S6_CMD_WAIT_FOR_SERVICES": "1", "S6_CMD_WAIT_FOR_SERVICES_MAXTIME": "30000",
                     "S6_BEHAVIOUR_IF_STAGE2_FAILS": "2", "S6_SERVICES_GRACETIME": "20000"})
    assert r.code == 0, r.err[-2000:]
    assert r.out.split() == ["500"], r
    assert "Too many open files" not in r.err, r.err[-2000:]


@pytest.fixture(scope="module")
def installed_init(tmp_path_factory):
    """The tarball's own /init (its sh part included), extracted somewhere."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
    from s6py.build import overlay

    d = tmp_path_factory.mktemp("installed")
    overlay.build(str(d / "overlay.tar.gz"))
    subprocess.run(["tar", "xzf", str(d / "overlay.tar.gz"), "-C", str(d)], check=True)
    return str(d / "init")


def test_init_takes_the_soft_nofile_limit_up_to_the_hard_one(box, installed_init):
    """Under nofile=1024:8192, 1,200 services (2,400 fds) fit only because /init raised the
    soft limit: every one comes up, with no shortage line, and the CMD sees 8192."""
    for i in range(1200):
        box.service("s%04d" % i, "exec sleep 100\n")
    box.init = box.file("data/limited-init", '#!/bin/sh\nexec prlimit --nofile=1024:8192 "%s" "$@"\n'
                        % installed_init, 0o755)
    script = 'ulimit -Sn; n=0; for s in "$S6PY_ROOT"/run/service/*/supervise/status; do ' \
             '[ -e "$s" ] && n=$((n+1)); done; echo $n'
    r = box.run(["sh", "-c", script], timeout=120,
                env={"S6_CMD_WAIT_FOR_SERVICES": "1", "S6_CMD_WAIT_FOR_SERVICES_MAXTIME": "60000",
                     "S6_BEHAVIOUR_IF_STAGE2_FAILS": "2", "S6_SERVICES_GRACETIME": "20000"})
    assert r.code == 0, r.err[-2000:]
    assert r.out.split() == ["8192", "1200"], (r.out, r.err[-2000:])
    assert "Too many open files" not in r.err, r.err[-2000:]


def test_more_services_than_fds_one_line_cmd_and_cont_finish_still_run(box):
    """700 services need 1,400 fds under nofile=1024: the ones past the limit are queued
    (one line names the shortage), the CMD and cont-finish.d still start (the fd reserve),
    and pruning 300 services frees the fds that the queued ones then get."""
    for i in range(700):
        box.service("s%03d" % i, "exec sleep 100\n")
    box.file("etc/cont-finish.d/bye", "#!/bin/sh\necho finish-ran\n", 0o755)
    wrapper = box.file("data/limited-init", '#!/bin/sh\nexec prlimit --nofile=1024:1024 "%s" "$@"\n'
                       % box.init, 0o755)
    box.init = wrapper
    script = r'''
scan="$S6PY_ROOT/run/service"
count() { n=0; for s in "$scan"/*/supervise/lock; do [ -e "$s" ] && n=$((n+1)); done; echo $n; }
i=0; while [ "$(count)" -lt 400 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
echo "first $(count)"
mkdir "$S6PY_ROOT/data/gone"
for s in "$scan"/s[0-2]*; do mv "$s" "$S6PY_ROOT/data/gone/"; done
s6-svscanctl -an "$scan"
i=0; while [ "$(count)" -lt 400 ] || [ "$(ls "$scan" | wc -l)" -ne 400 ]; do
  sleep 0.05; i=$((i+1)); [ $i -gt 400 ] && break; done
n=0; for s in "$scan"/*/supervise/status; do [ -e "$s" ] && n=$((n+1)); done
echo "then $n"
exit 7
'''
    r = box.run(["sh", "-c", script], timeout=120, env={"S6_SERVICES_GRACETIME": "20000"})
    assert r.code == 7, r.err[-3000:]
    first, then = r.out.split("\n")[:2]
    assert 400 <= int(first.split()[1]) < 700, r.out
    assert then == "then 400", (r.out, r.err[-3000:])
    assert r.err.count("Too many open files") == 1, r.err[-3000:]
    assert "limit 1024" in r.err
    assert "finish-ran" in r.out + r.err


def test_logged_services_past_the_fd_limit_wait_for_their_pipes_too(box):
    """A service with a log/ needs six fds in PID 1 (two supervisions and the pipe between
    them): under nofile=256, 60 logged services do not all fit.  The ones whose pipe could
    not even be made wait in the same queue (no line each), one line names the shortage,
    the CMD runs, and once 30 are pruned every remaining pair is up and logging."""
    parent = logdir_parent(box)
    for i in range(60):
        box.service("s%02d" % i, "echo up\nexec sleep 100\n",
                    log="exec logutil-service %s/s%02d\n" % (parent, i))
    wrapper = box.file("data/limited-init", '#!/bin/sh\nexec prlimit --nofile=256:256 "%s" "$@"\n'
                       % box.init, 0o755)
    box.init = wrapper
    script = r'''
scan="$S6PY_ROOT/run/service"; logs="$1"
count() { n=0; for s in "$scan"/*/log/supervise/lock; do [ -e "$s" ] && n=$((n+1)); done; echo $n; }
i=0; while [ "$(count)" -lt 30 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
sleep 0.3
echo "first $(count)"
mkdir "$S6PY_ROOT/data/gone"
for s in "$scan"/s[0-2]*; do mv "$s" "$S6PY_ROOT/data/gone/"; done
s6-svscanctl -an "$scan"
i=0; while [ "$(count)" -lt 30 ] || [ "$(ls "$scan" | wc -l)" -ne 30 ]; do
  sleep 0.05; i=$((i+1)); [ $i -gt 400 ] && break; done
n=0; for d in "$logs"/s[3-5]?; do
  j=0; until [ -s "$d/current" ] || [ $j -ge 200 ]; do sleep 0.05; j=$((j+1)); done
  [ -s "$d/current" ] && n=$((n+1)); done
echo "then $(count) $n"
exit 7
'''
    r = box.run(["sh", "-c", script, "sh", parent], timeout=120,
                env={"S6_SERVICES_GRACETIME": "20000"})
    assert r.code == 7, r.err[-3000:]
    first, then = r.out.split("\n")[:2]
    assert 20 <= int(first.split()[1]) < 60, r.out
    assert then == "then 30 30", (r.out, r.err[-3000:])
    assert r.err.count("Too many open files") == 1, r.err[-3000:]
    assert "unable to create a pipe" not in r.err, r.err[-3000:]
