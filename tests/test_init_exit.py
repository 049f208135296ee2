"""/init as PID 1: the container's exit code in every case."""

import os
import signal
import time

import pytest

from test_init_support import box_fixture, inside, nsexec, read, wait_file

box = box_fixture()

CODES = range(256)  # every exit code a process can report


def test_exit_codes_are_the_cmds(box):
    for code in CODES:
        r = box.run(["sh", "-c", "exit %d" % code])
        assert r.code == code, (code, r)
        assert "[cmd] sh exited %d" % code in r.err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGSEGV, signal.SIGHUP])
def test_cmd_killed_by_a_signal_gives_128_plus_n(box, sig):
    r = box.run(["sh", "-c", "kill -%d $$" % sig])
    assert r.code == 128 + sig, r


def test_exit_code_above_255_wraps_like_a_shell(box):
    r = box.run(["sh", "-c", "exit 300"])
    assert r.code == 44, r


def test_missing_command_is_127_with_one_line_naming_it(box):
    r = box.run(["no-such-command-xyz"])
    assert r.code == 127, r
    lines = [l for l in r.err.splitlines() if "no-such-command-xyz" in l]
    assert lines[0] == "[cmd] no-such-command-xyz: command not found", r.err


def test_missing_path_is_127(box):
    r = box.run(["/nonexistent/prog"])
    assert r.code == 127, r
    assert "/nonexistent/prog: no such file or directory" in r.err


def test_non_executable_is_126(box):
    box.file("data/notexec", "#!/bin/sh\necho hi\n", mode=0o644)
    r = box.run([box.path("data/notexec")])
    assert r.code == 126, r
    assert "notexec: permission denied" in r.err


def test_directory_as_cmd_is_126(box):
    r = box.run([box.path("etc")])
    assert r.code == 126, r


def test_no_shebang_is_126(box):
    box.file("data/noshebang", "echo hi\n", mode=0o755)
    r = box.run([box.path("data/noshebang")])
    assert r.code == 126, r
    assert "exec format error" in r.err


def test_cmd_found_in_path_is_the_first_executable_one(box):
    box.file("data/a/prog", "#!/bin/sh\necho from-a\n", mode=0o644)  # not executable: skipped
    box.script("data/b/prog", "echo from-b\n")
    path = box.path("data/a") + ":" + box.path("data/b") + ":/usr/bin:/bin"
    r = box.run(["prog"], env={"PATH": path})
    assert r.code == 0, r
    assert "from-b" in r.out


def test_cmd_in_path_but_not_executable_is_126(box):
    box.file("data/a/prog", "#!/bin/sh\necho hi\n", mode=0o644)
    r = box.run(["prog"], env={"PATH": box.path("data/a") + ":/usr/bin:/bin"})
    assert r.code == 126, r
    assert "[cmd] prog: permission denied" in r.err


def test_cmd_in_path_with_a_missing_interpreter_is_127_and_says_so(box):
    box.script("data/a/prog", "echo hi\n", shebang="#!/nonexistent/interpreter\n")
    r = box.run(["prog"], env={"PATH": box.path("data/a") + ":/usr/bin:/bin"})
    assert r.code == 127, r
    assert "[cmd] prog: bad interpreter" in r.err


def test_relative_cmd_runs_from_the_workdir(box):
    box.script("data/prog", "echo in-workdir\n")
    r = box.run(["./prog"], cwd=box.path("data"))
    assert r.code == 0, r
    assert "in-workdir" in r.out


def test_exitcode_file_and_halt_from_a_service_finish_script(box):
    box.service("main", "sleep 0.2; exit 5\n",
                finish='echo 42 > "$S6PY_ROOT/run/s6-linux-init-container-results/exitcode"\n'
                       'exec "$S6PY_ROOT/run/s6/basedir/bin/halt"\n')
    r = box.run([])
    assert r.code == 42, r


def test_v1_finish_script_s6_stage2_exited_and_svscanctl(box):
    # The v1 README: a finish script that stops the container with s6-svscanctl -t.
    box.service("main", "exit 3\n",
                finish='echo 7 > "$S6PY_ROOT/var/run/s6/env-stage3/S6_STAGE2_EXITED"\n'
                       'exec s6-svscanctl -t "$S6PY_ROOT/var/run/s6/services"\n')
    r = box.run([])
    assert r.code == 7, r


def test_v1_readme_execline_finish_script(box):
    box.service("main", "exit 1\n")
    box.file("etc/services.d/main/finish",
             "#!%s/execlineb -S0\ns6-svscanctl -t %s/var/run/s6/services\n" % (box.bin, box.root), 0o755)
    r = box.run([])
    assert r.code == 0, r


def test_external_stop_with_cmd_running_gives_the_exitcode_file(box):
    with box.start(["sleep", "100"]) as c:
        wait_file(inside(c, box.path("run/s6-linux-init-container-results/exitcode")))
        time.sleep(0.2)
        c.signal(signal.SIGTERM)
        assert c.wait(10) == 0


def test_external_stop_after_someone_wrote_the_exitcode(box):
    with box.start(["sleep", "100"]) as c:
        wait_file(inside(c, box.path("run/s6/basedir/bin/halt")))
        time.sleep(0.2)
        with open(inside(c, box.path("run/s6-linux-init-container-results/exitcode")), "w") as f:
            f.write("9\n")
        c.signal(signal.SIGTERM)
        assert c.wait(10) == 9


def test_cmd_code_wins_over_an_earlier_s6_stage2_exited(box):
    box.script("etc/cont-init.d/00", 'echo 33 > "$S6PY_ROOT/var/run/s6/env-stage3/S6_STAGE2_EXITED"\n')
    r = box.run(["sh", "-c", "exit 4"])
    assert r.code == 4, r


def test_cont_finish_script_can_override_the_code(box):
    box.script("etc/cont-finish.d/00",
               'echo 77 > "$S6PY_ROOT/run/s6-linux-init-container-results/exitcode"\n')
    r = box.run(["sh", "-c", "exit 4"])
    assert r.code == 77, r


def test_garbage_in_the_exitcode_file_is_reported_and_ignored(box):
    box.script("etc/cont-finish.d/00",
               'echo garbage > "$S6PY_ROOT/run/s6-linux-init-container-results/exitcode"\n')
    r = box.run(["sh", "-c", "exit 4"])
    assert r.code == 0, r
    assert "is not an exit code" in r.err


def test_no_cmd_runs_until_halted(box):
    with box.start([]) as c:
        halt = box.path("run/s6/basedir/bin/halt")
        wait_file(inside(c, halt))
        time.sleep(0.3)
        assert c.process.poll() is None
        assert nsexec(c, [halt]) == 0
        assert c.wait(10) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_stop_signals_stop_the_container_cleanly(box, sig):
    box.script("etc/cont-finish.d/00", "echo finish-ran\n")
    with box.start([]) as c:
        wait_file(inside(c, box.path("run/s6/basedir/bin/halt")))
        time.sleep(0.2)
        c.signal(sig)
        assert c.wait(10) == 0
        assert "finish-ran" in c.output[0].decode()


def test_hup_does_not_stop_the_container_and_rescans(box):
    with box.start([]) as c:
        wait_file(inside(c, box.path("run/service/.s6-svscan/control")))
        late = inside(c, box.path("run/service/late"))
        os.makedirs(late)
        with open(late + "/run", "w") as f:
            f.write('#!/bin/sh\ntouch "$S6PY_ROOT/run/late-ran"\nexec sleep 100\n')
        os.chmod(late + "/run", 0o755)
        c.signal(signal.SIGHUP)
        wait_file(inside(c, box.path("run/late-ran")))
        assert c.process.poll() is None
        c.signal(signal.SIGTERM)
        assert c.wait(10) == 0
