"""/init stages 1-3 and every S6_* knob, each in a private container."""

import os
import signal
import time

import pytest

from test_init_support import box_fixture, inside, nsexec, read, wait_file

box = box_fixture()


# ------------------------------------------------------------------ stage 1

def test_tree_and_legacy_names(box):
    r = box.run(["sh", "-c", 'cd "$S6PY_ROOT"; for p in run/service var/run/s6/services '
                 'run/s6/container_environment var/run/s6/container_environment '
                 'run/s6/basedir/bin/halt run/s6-linux-init-container-results/exitcode '
                 'var/run/s6/env-stage3; do test -e $p && echo "ok $p"; done; '
                 'cat run/s6-linux-init-container-results/exitcode'])
    assert r.code == 0, r
    for p in ("run/service", "var/run/s6/services", "run/s6/container_environment",
              "var/run/s6/container_environment", "run/s6/basedir/bin/halt",
              "run/s6-linux-init-container-results/exitcode", "var/run/s6/env-stage3"):
        assert "ok " + p in r.out, (p, r)
    assert r.out.endswith("0\n")


def test_var_run_as_a_directory_gets_symlinks(box):
    os.unlink(box.path("var/run"))
    os.mkdir(box.path("var/run"))
    box.service("svc", "exec sleep 100\n", finish='exec s6-svscanctl -t "$S6PY_ROOT/var/run/s6/services"\n')
    r = box.run(["sh", "-c", 'test "$(cat $S6PY_ROOT/var/run/s6/container_environment/FOO)" = bar && '
                 'test -d "$S6PY_ROOT/var/run/s6/services/svc" && echo ok'], env={"FOO": "bar"})
    assert r.code == 0 and "ok" in r.out, r


@pytest.mark.parametrize("how, message", [
    ("missing", "is missing"),
    ("readonly", "is read-only"),
    ("noexec", "is mounted noexec"),
])
def test_unusable_run_gives_one_clear_line(box, how, message):
    kw = {}
    if how == "missing":
        os.rmdir(box.path("run"))
        kw["run_mount"] = False
    elif how == "readonly":
        kw["run_opts"] = "ro"
    else:
        kw["run_opts"] = "noexec"
    r = box.run(["true"], **kw)
    assert r.code == 100, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("init: fatal: ") and message in lines[0], r


def test_container_environment_dumped_and_cmd_gets_full_env(box):
    r = box.run(["sh", "-c", 'echo "FOO=$FOO"; echo "EMPTY=[${EMPTY-unset}]"; '
                 'cat "$S6PY_ROOT/run/s6/container_environment/FOO"; echo; env | grep -c LC_CTYPE || true'],
                env={"FOO": "bar baz", "EMPTY": ""})
    assert r.code == 0, r
    assert "FOO=bar baz" in r.out and "EMPTY=[]" in r.out, r
    assert r.out.splitlines()[3] == "0", r  # Python's locale coercion must not leak


def test_services_and_scripts_get_path_only(box):
    box.script("etc/cont-init.d/00", 'env | sort > "$S6PY_ROOT/data/initenv"\n')
    box.service("svc", 'env | sort > "$S6PY_ROOT/data/svcenv"; exec sleep 100\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/svcenv"; do sleep 0.01; done'],
                env={"FOO": "bar"})
    assert r.code == 0, r
    for f in ("initenv", "svcenv"):
        names = [l.split("=")[0] for l in read(box.path("data/" + f)).splitlines()]
        assert "FOO" not in names and "PATH" in names, (f, names)


def test_with_contenv_in_a_service_and_cmd_sees_cont_init_exports(box):
    box.script("etc/cont-init.d/00", 'printf late > "$S6PY_ROOT/run/s6/container_environment/LATE"\n')
    box.service("svc", 'echo "$FOO" > "$S6PY_ROOT/data/svc"; exec sleep 100\n')
    box.file("etc/services.d/svc/run", "#!%s/with-contenv sh\necho \"$FOO\" > \"$S6PY_ROOT/data/svc\"\nexec sleep 100\n" % box.bin, 0o755)
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/svc"; do sleep 0.01; done; echo "LATE=$LATE"'],
                env={"FOO": "from-container"})
    assert r.code == 0, r
    assert read(box.path("data/svc")) == "from-container\n"
    assert "LATE=late" in r.out


def test_keep_env(box):
    box.service("svc", 'echo "$FOO" > "$S6PY_ROOT/data/svc"; exec sleep 100\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/svc"; do sleep 0.01; done'],
                env={"FOO": "kept", "S6_KEEP_ENV": "1"})
    assert r.code == 0, r
    assert read(box.path("data/svc")) == "kept\n"


def test_path_fixup(box):
    r = box.run(["sh", "-c", 'echo "$PATH"'], env={"PATH": box.bin + ":/usr/local/bin"})
    assert r.out.strip() == box.bin + ":/usr/local/bin:/command:/usr/bin:/bin", r


def test_workdir_is_kept_for_the_cmd(box):
    r = box.run(["pwd"], cwd=box.path("data"))
    assert r.out.strip() == box.path("data"), r


# ------------------------------------------------------------------ stage 2

def test_order_and_messages(box):
    box.file("etc/fix-attrs.d/01-data", "%s false root 0600 0700\n" % box.path("data/f"))
    box.file("data/f", "x", 0o644)
    box.script("etc/cont-init.d/00-foo", "echo init-foo\n")
    box.script("etc/cont-init.d/01-bar", "exit 3\n")
    box.script("etc/cont-finish.d/00-baz", "echo finish-baz\n")
    r = box.run(["sh", "-c", "echo cmd-runs"])
    assert r.code == 0, r
    expected = [
        "[s6-init] making user provided files available at /var/run/s6/etc...exited 0.",
        "[s6-init] ensuring user provided files have correct perms...exited 0.",
        "[fix-attrs.d] applying ownership & permissions fixes...",
        "[fix-attrs.d] 01-data: applying... ",
        "[fix-attrs.d] 01-data: exited 0.",
        "[fix-attrs.d] done.",
        "[cont-init.d] executing container initialization scripts...",
        "[cont-init.d] 00-foo: executing... ",
        "[cont-init.d] 00-foo: exited 0.",
        "[cont-init.d] 01-bar: executing... ",
        "[cont-init.d] 01-bar: exited 3.",
        "[cont-init.d] done.",
        "[services.d] starting services",
        "[services.d] done.",
        "[cmd] sh exited 0",
        "[cont-finish.d] executing container finish scripts...",
        "[cont-finish.d] 00-baz: executing... ",
        "[cont-finish.d] 00-baz: exited 0.",
        "[cont-finish.d] done.",
    ]
    assert r.err.splitlines() == expected, r.err
    assert r.out.splitlines() == ["init-foo", "cmd-runs", "finish-baz"]
    assert oct(os.stat(box.path("data/f")).st_mode & 0o777) == "0o600"


def test_cont_init_scripts_are_sorted(box):
    for name in ("b", "a", "10", "02"):
        box.script("etc/cont-init.d/" + name, 'echo %s >> "$S6PY_ROOT/data/order"\n' % name)
    box.run(["true"])
    assert read(box.path("data/order")).split() == ["02", "10", "a", "b"]


def test_verbosity_0_silences_stage_lines(box):
    box.script("etc/cont-init.d/00", "true\n")
    r = box.run(["true"], env={"S6_VERBOSITY": "0"})
    assert r.err == "", r


def test_verbosity_3_adds_debug_lines(box):
    r = box.run(["true"], env={"S6_VERBOSITY": "3"})
    assert "init: debug: stopping: the CMD exited" in r.err, r


def test_behaviour_0_carries_on_silently(box):
    box.script("etc/cont-init.d/00", "exit 5\n")
    box.script("etc/cont-init.d/01", "echo second\n")
    r = box.run(["sh", "-c", "echo cmd"], env={"S6_BEHAVIOUR_IF_STAGE2_FAILS": "0"})
    assert r.code == 0 and "second" in r.out and "cmd" in r.out, r
    assert "init-stage2 failed" not in r.err and "warning" not in r.err


def test_behaviour_1_warns_and_carries_on(box):
    box.script("etc/cont-init.d/00", "exit 5\n")
    box.script("etc/cont-init.d/01", "echo second\n")
    r = box.run(["sh", "-c", "echo cmd"], env={"S6_BEHAVIOUR_IF_STAGE2_FAILS": "1"})
    assert r.code == 0 and "second" in r.out and "cmd" in r.out, r
    assert "\n!!!!!\n init-stage2 failed.\n!!!!!\n" in r.err, r


def test_behaviour_2_stops_with_the_failing_code_and_never_runs_the_cmd(box):
    box.script("etc/cont-init.d/00", "exit 5\n")
    box.script("etc/cont-init.d/01", "echo second\n")
    box.service("svc", 'touch "$S6PY_ROOT/data/svc"; exec sleep 100\n')
    box.script("etc/cont-finish.d/00", "echo finish-ran\n")
    r = box.run(["sh", "-c", "echo cmd"], env={"S6_BEHAVIOUR_IF_STAGE2_FAILS": "2"})
    assert r.code == 5, r
    assert "cmd" not in r.out and "second" not in r.out and "finish-ran" in r.out, r
    assert not os.path.exists(box.path("data/svc"))


def test_behaviour_2_fix_attrs_failure(box):
    box.file("etc/fix-attrs.d/00", "this line is garbage\n")
    r = box.run(["sh", "-c", "echo cmd"], env={"S6_BEHAVIOUR_IF_STAGE2_FAILS": "2"})
    assert r.code == 1 and "cmd" not in r.out, r


def test_fix_attrs_hidden(box):
    os.makedirs(box.path("data/d"))
    box.file("data/d/.hidden", "x", 0o644)
    box.file("data/d/shown", "x", 0o644)
    box.file("etc/fix-attrs.d/00", "%s true root 0600 0700\n" % box.path("data/d"))
    box.run(["true"])
    assert os.stat(box.path("data/d/shown")).st_mode & 0o777 == 0o600
    assert os.stat(box.path("data/d/.hidden")).st_mode & 0o777 == 0o644
    box.run(["true"], env={"S6_FIX_ATTRS_HIDDEN": "1"})
    assert os.stat(box.path("data/d/.hidden")).st_mode & 0o777 == 0o600


def test_runtime_profile(box):
    box.script("etc/cont-init.d/00", "echo default-profile\n")
    box.script("etc/cont-profile.d/dev/cont-init.d/00", "echo dev-profile\n")
    box.service("svc", 'touch "$S6PY_ROOT/data/devsvc"; exec sleep 100\n', profile="dev")
    r = box.run(["sh", "-c", 'while ! test -e "$S6PY_ROOT/data/devsvc"; do sleep 0.01; done'],
                env={"S6_RUNTIME_PROFILE": "dev"})
    assert r.code == 0 and "dev-profile" in r.out and "default-profile" not in r.out, r


def test_cmd_arg0(box):
    r = box.run(["exit 6"], env={"S6_CMD_ARG0": "sh -c"})
    assert r.code == 6, r


def test_stage2_hook(box):
    box.script("data/hook", 'echo hook-ran "$@"\n')
    r = box.run(["true"], env={"S6_STAGE2_HOOK": box.path("data/hook") + " a b"})
    assert "hook-ran a b" in r.out, r
    box.script("data/hook", "exit 9\n")
    r = box.run(["sh", "-c", "echo cmd"], env={"S6_STAGE2_HOOK": box.path("data/hook"),
                                              "S6_BEHAVIOUR_IF_STAGE2_FAILS": "2"})
    assert r.code == 9 and "cmd" not in r.out, r


def test_wait_for_services_up(box):
    box.service("slow", 'sleep 0.3; touch "$S6PY_ROOT/data/up"; exec sleep 100\n')
    r = box.run(["sh", "-c", 'test -e "$S6PY_ROOT/data/up" && echo was-up || echo not-up'])
    assert "not-up" in r.out, r
    # "up" is when ./run was spawned; readiness needs notification-fd
    box.file("etc/services.d/slow/notification-fd", "3\n")
    box.script("etc/services.d/slow/run", 'sleep 0.3; touch "$S6PY_ROOT/data/up"; echo >&3; exec sleep 100\n')
    r = box.run(["sh", "-c", 'test -e "$S6PY_ROOT/data/up" && echo was-up || echo not-up'],
                env={"S6_CMD_WAIT_FOR_SERVICES": "1"})
    assert "was-up" in r.out, r


def test_cmd_starts_before_services_are_spawned_unless_waiting(box):
    # v1's `s6-svscanctl -a` is asynchronous: the CMD does not wait for the spawns
    for i in range(5):
        box.service("svc%d" % i, "exec sleep 100\n")
    order = ("[services.d] done.", "init: debug: the CMD runs", "init: debug: supervising")
    r = box.run(["true"], env={"S6_VERBOSITY": "3"})
    assert r.code == 0, r
    positions = [r.err.index(line) for line in order]
    assert positions == sorted(positions), r.err
    r = box.run(["true"], env={"S6_VERBOSITY": "3", "S6_CMD_WAIT_FOR_SERVICES": "1"})
    assert r.code == 0, r
    positions = [r.err.index(line) for line in order]
    assert positions[2] < positions[0] < positions[1], r.err


def test_services_start_when_the_cmd_starts_first(box):
    box.service("svc", 'touch "$S6PY_ROOT/data/ran"; exec sleep 100\n')
    r = box.run(["sh", "-c", 'while ! test -e "$S6PY_ROOT/data/ran"; do sleep 0.01; done; echo ok'])
    assert r.code == 0 and "ok" in r.out, r
    assert "[s6-finish] waiting for services." in r.err


def test_services_are_not_started_when_the_cmd_cannot_start(box):
    box.service("svc", 'touch "$S6PY_ROOT/data/ran"; exec sleep 100\n')
    r = box.run(["no-such-command-xyz"])
    assert r.code == 127, r
    assert not os.path.exists(box.path("data/ran"))
    assert "[s6-finish] waiting for services." not in r.err


def test_wait_for_services_maxtime(box):
    box.file("etc/services.d/never/notification-fd", "3\n")
    box.script("etc/services.d/never/run", "exec sleep 100\n")
    t = time.monotonic()
    r = box.run(["sh", "-c", "echo cmd"], env={"S6_CMD_WAIT_FOR_SERVICES": "1",
                                              "S6_CMD_WAIT_FOR_SERVICES_MAXTIME": "300"})
    assert r.code == 0 and "cmd" in r.out, r
    assert "timed out after 300 ms waiting for: never" in r.err
    assert time.monotonic() - t < 3
    r = box.run(["sh", "-c", "echo cmd"], env={"S6_CMD_WAIT_FOR_SERVICES": "1",
                                              "S6_CMD_WAIT_FOR_SERVICES_MAXTIME": "300",
                                              "S6_BEHAVIOUR_IF_STAGE2_FAILS": "2"})
    assert r.code == 99 and "cmd" not in r.out, r


def test_service_with_a_logger(box):
    box.service("talker", 'echo hello-log; exec sleep 100\n',
                log='exec sh -c \'while read l; do echo "got $l" >> "$S6PY_ROOT/data/log"; done\'\n')
    r = box.run(["sh", "-c", 'while ! test -s "$S6PY_ROOT/data/log"; do sleep 0.01; done'])
    assert r.code == 0 and read(box.path("data/log")) == "got hello-log\n", r


def test_svstat_sees_our_services(box):
    box.service("svc", "exec sleep 100\n")
    r = box.run(["sh", "-c", 'sleep 0.2; s6-svstat "$S6PY_ROOT/run/service/svc"'])
    assert r.out.startswith("up (pid "), r


# ------------------------------------------------------------------ stage 3

def test_no_fixed_sleep_at_stop(box):
    box.service("svc", "exec sleep 100\n")
    t = time.monotonic()
    r = box.run(["sh", "-c", "sleep 0.2"], env={"S6_KILL_GRACETIME": "5000", "S6_SERVICES_GRACETIME": "5000"})
    assert r.code == 0
    assert time.monotonic() - t < 1.5, "stop waited for nothing"


def test_services_gracetime_bounds_a_service_ignoring_term(box):
    box.service("stubborn", "trap '' TERM; while :; do sleep 0.05; done\n")
    t = time.monotonic()
    r = box.run(["sh", "-c", "sleep 0.2"], env={"S6_SERVICES_GRACETIME": "300", "S6_KILL_GRACETIME": "300"})
    elapsed = time.monotonic() - t
    assert r.code == 0, r
    assert 0.6 < elapsed < 2.5, elapsed


def test_down_signal_is_used(box):
    box.service("hupper", 'trap \'touch "$S6PY_ROOT/data/got-hup"; exit 0\' HUP; while :; do sleep 0.02; done\n',
                files={"down-signal": "SIGHUP\n"})
    r = box.run(["sh", "-c", "sleep 0.3"])
    assert r.code == 0 and os.path.exists(box.path("data/got-hup")), r


def test_kill_finish_maxtime(box):
    box.script("etc/cont-finish.d/00", "exec sleep 100\n")
    box.script("etc/cont-finish.d/01", "echo second-finish\n")
    t = time.monotonic()
    r = box.run(["true"], env={"S6_KILL_FINISH_MAXTIME": "300"})
    assert time.monotonic() - t < 2.5
    assert "[cont-finish.d] 00: exited 137." in r.err and "second-finish" in r.out, r


def test_setsid_escapee_is_terminated_and_kill_only_for_what_outlives_gracetime(box):
    t = time.monotonic()
    r = box.run(["sh", "-c", "setsid sleep 100 & sleep 0.1"], env={"S6_KILL_GRACETIME": "5000"})
    assert time.monotonic() - t < 1.5, "escapee obeying TERM must not cost the grace time"
    assert "sending all processes the TERM signal" in r.err, r
    assert "KILL" not in r.err, r
    t = time.monotonic()
    r = box.run(["sh", "-c", "setsid sh -c \"trap '' TERM; sleep 100\" & sleep 0.1"],
                env={"S6_KILL_GRACETIME": "400"})
    elapsed = time.monotonic() - t
    assert "sending all processes the KILL signal and exiting." in r.err, r
    assert 0.4 < elapsed < 2.5, elapsed


def test_sync_disks(box):
    r = box.run(["true"], env={"S6_SYNC_DISKS": "1"})
    assert "[s6-finish] syncing disks." in r.err, r


def test_receive_signals_forwards_to_the_cmd(box):
    with box.start(["sh", "-c", "trap 'exit 7' TERM; trap 'echo got-usr1' USR1; while :; do sleep 0.02; done"],
                   env={"S6_CMD_RECEIVE_SIGNALS": "1"}) as c:
        wait_file(inside(c, box.path("run/s6/basedir/bin/halt")))
        time.sleep(0.3)
        c.signal(signal.SIGUSR1)
        time.sleep(0.2)
        c.signal(signal.SIGTERM)
        assert c.wait(10) == 7
        assert "got-usr1" in c.output[0].decode()


def test_without_receive_signals_term_stops_and_cmd_is_terminated(box):
    with box.start(["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.02; done"]) as c:
        wait_file(inside(c, box.path("run/s6/basedir/bin/halt")))
        time.sleep(0.3)
        c.signal(signal.SIGTERM)
        assert c.wait(10) == 0


def test_wait_for_closing_fd(box):
    fifo = box.path("data/fifo")
    os.mkfifo(fifo)
    with box.start(["sh", "-c", 'echo cmd-started'], env={"S6_WAIT_FOR_CLOSING_FD": "5"},
                   pre=['exec 5<"%s"' % fifo]) as c:
        w = os.open(fifo, os.O_WRONLY)   # lets the wrapper's open of the read end finish
        time.sleep(0.4)
        assert c.process.poll() is None, "booted before fd 5 was closed"
        os.close(w)
        assert c.wait(10) == 0
        assert "cmd-started" in c.output[0].decode()
