"""S6_* settings: parsed once, immutable, bad values give one line and the default."""

import pytest

from s6py.init.settings import DEFAULT_PATH, Paths, Settings, fix_path


def test_defaults_are_the_documented_ones():
    s = Settings.from_environ({})
    assert s.behaviour_if_stage2_fails == 0
    assert s.kill_finish_maxtime == 5000
    assert s.kill_gracetime == 3000
    assert s.services_gracetime == 3000
    assert s.services_readytime == 50
    assert s.cmd_wait_for_services is False
    assert s.cmd_wait_for_services_maxtime == 5000
    assert s.logging == 0
    assert s.logging_script == ("n20", "s1000000", "T")
    assert s.verbosity == 2
    assert s.keep_env is False and s.read_only_root is False and s.fix_attrs_hidden is False
    assert s.cmd_arg0 == () and s.stage2_hook == () and s.runtime_profile is None
    assert s.cmd_use_terminal is False and s.cmd_receive_signals is False
    assert s.sync_disks is False and s.catchall_user == "root"
    assert s.problems == ()
    assert s == Settings()


@pytest.mark.parametrize(
    "name, value, attr, expected",
    [
        ("S6_KEEP_ENV", "1", "keep_env", True),
        ("S6_KEEP_ENV", "0", "keep_env", False),
        ("S6_KEEP_ENV", "true", "keep_env", True),
        ("S6_LOGGING", "2", "logging", 2),
        ("S6_LOGGING_SCRIPT", "n3 s2000\tT", "logging_script", ("n3", "s2000", "T")),
        ("S6_BEHAVIOUR_IF_STAGE2_FAILS", "1", "behaviour_if_stage2_fails", 1),
        ("S6_BEHAVIOUR_IF_STAGE2_FAILS", "5", "behaviour_if_stage2_fails", 2),
        ("S6_KILL_FINISH_MAXTIME", "0", "kill_finish_maxtime", 0),
        ("S6_KILL_GRACETIME", " 250 ", "kill_gracetime", 250),
        ("S6_SERVICES_GRACETIME", "10", "services_gracetime", 10),
        ("S6_SERVICES_READYTIME", "7", "services_readytime", 7),
        ("S6_CMD_WAIT_FOR_SERVICES", "1", "cmd_wait_for_services", True),
        ("S6_CMD_WAIT_FOR_SERVICES_MAXTIME", "0", "cmd_wait_for_services_maxtime", 0),
        ("S6_CMD_ARG0", "/entry.sh", "cmd_arg0", ("/entry.sh",)),
        ("S6_CMD_ARG0", "/entry.sh --flag", "cmd_arg0", ("/entry.sh", "--flag")),
        ("S6_CMD_ARG0", "/entry point\n--flag x", "cmd_arg0", ("/entry point", "--flag x")),
        ("S6_CMD_USE_TERMINAL", "1", "cmd_use_terminal", True),
        ("S6_CMD_RECEIVE_SIGNALS", "2", "cmd_receive_signals", True),
        ("S6_FIX_ATTRS_HIDDEN", "1", "fix_attrs_hidden", True),
        ("S6_READ_ONLY_ROOT", "1", "read_only_root", True),
        ("S6_SYNC_DISKS", "1", "sync_disks", True),
        ("S6_RUNTIME_PROFILE", "dev", "runtime_profile", "dev"),
        ("S6_STAGE2_HOOK", "/hook.sh  a b", "stage2_hook", ("/hook.sh", "a", "b")),
        ("S6_VERBOSITY", "3", "verbosity", 3),
        ("S6_CATCHALL_USER", "nobody", "catchall_user", "nobody"),
        ("S6_YES_I_WANT_A_WORLD_WRITABLE_RUN_BECAUSE_KUBERNETES", "1", "world_writable_run_ok", True),
        ("S6_WAIT_FOR_CLOSING_FD", "3", "wait_for_closing_fd", 3),
    ],
)
def test_each_variable_is_read(name, value, attr, expected):
    s = Settings.from_environ({name: value})
    assert getattr(s, attr) == expected
    assert s.problems == ()


@pytest.mark.parametrize(
    "name, value, attr, default",
    [
        ("S6_KILL_GRACETIME", "3s", "kill_gracetime", 3000),
        ("S6_KILL_GRACETIME", "-1", "kill_gracetime", 3000),
        ("S6_KILL_FINISH_MAXTIME", "five", "kill_finish_maxtime", 5000),
        ("S6_SERVICES_GRACETIME", "1.5", "services_gracetime", 3000),
        ("S6_CMD_WAIT_FOR_SERVICES_MAXTIME", "x", "cmd_wait_for_services_maxtime", 5000),
        ("S6_LOGGING", "3", "logging", 0),
        ("S6_LOGGING", "yes", "logging", 0),
        ("S6_BEHAVIOUR_IF_STAGE2_FAILS", "-2", "behaviour_if_stage2_fails", 0),
        ("S6_KEEP_ENV", "maybe", "keep_env", False),
        ("S6_VERBOSITY", "loud", "verbosity", 2),
        ("S6_WAIT_FOR_CLOSING_FD", "2", "wait_for_closing_fd", 0),
        ("S6_READ_ONLY_ROOT", "\u00e9", "read_only_root", False),
    ],
)
def test_a_bad_value_gives_one_line_and_the_default(name, value, attr, default):
    s = Settings.from_environ({name: value})
    assert getattr(s, attr) == default
    assert len(s.problems) == 1
    assert s.problems[0].startswith(name + "=")
    assert "default" in s.problems[0]


def test_an_empty_value_is_unset_and_silent():
    s = Settings.from_environ({"S6_KILL_GRACETIME": "", "S6_LOGGING": " ", "S6_CMD_ARG0": ""})
    assert s.kill_gracetime == 3000 and s.logging == 0 and s.cmd_arg0 == ()
    assert s.problems == ()


def test_bytes_environment_is_accepted():
    s = Settings.from_environ({b"S6_KILL_GRACETIME": b"10", b"PATH": b"/x"})
    assert s.kill_gracetime == 10
    assert s.path == "/x:/command:/usr/bin:/bin"


def test_settings_are_immutable():
    s = Settings.from_environ({})
    with pytest.raises(AttributeError):
        s.kill_gracetime = 1
    assert s.replace(kill_gracetime=1).kill_gracetime == 1
    assert s.kill_gracetime == 3000


def test_path_fix_up():
    assert fix_path(None) == DEFAULT_PATH + ":/command"
    assert fix_path("/usr/bin:/bin:/command") == "/usr/bin:/bin:/command"
    assert fix_path("/opt/bin") == "/opt/bin:/command:/usr/bin:/bin"


def test_paths_live_under_the_root_prefix():
    p = Paths("/tmp/c")
    assert Paths().scandir == "/run/service"
    assert p.scandir == "/tmp/c/run/service"
    assert p.legacy_scandir == "/tmp/c/var/run/s6/services"
    assert p.container_environment == "/tmp/c/run/s6/container_environment"
    assert p.legacy_container_environment == "/tmp/c/var/run/s6/container_environment"
    assert p.halt == "/tmp/c/run/s6/basedir/bin/halt"
    assert p.exitcode == "/tmp/c/run/s6-linux-init-container-results/exitcode"
    assert p.stage2_exited == "/tmp/c/var/run/s6/env-stage3/S6_STAGE2_EXITED"
    assert p.user_dir("cont-init.d") == "/tmp/c/etc/cont-init.d"
    assert p.user_dir("services.d", "dev") == "/tmp/c/etc/cont-profile.d/dev/services.d"
    assert Paths.from_environ({"S6PY_ROOT": "/tmp/c"}) == p
    assert Paths.from_environ({}) == Paths()


@pytest.mark.parametrize("value,legacy,rc,problems", [
    (None, 5000, 0, 0),          # unset: services.d's wait 5 s (v1/v2), s6-rc's none (v3)
    ("1500", 1500, 1500, 0),     # set: both
    ("0", 0, 0, 0),
    ("soon", 5000, 0, 1),        # bad: each its default, and one line, not two
])
def test_wait_maxtime_is_read_once_for_both_waits(value, legacy, rc, problems):
    env = {} if value is None else {"S6_CMD_WAIT_FOR_SERVICES_MAXTIME": value}
    s = Settings.from_environ(env)
    assert (s.cmd_wait_for_services_maxtime, s.rc_wait_maxtime, len(s.problems)) == (legacy, rc, problems)
