"""The quick paths of s6py.quick against the full commands: the same case run both ways
(S6PY_QUICK=0 is the full command) must give the exec'd program the same argv,
environment, ids, groups and signal dispositions, and the same output, messages and exit
code where nothing is exec'd.  Each case is also checked to take the path it should:
`python3 -X importtime` lists the modules a run imported, and a quick run imports no `os`.
"""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(REPO, "bin", "s6py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
NAMES = ("s6-echo", "with-contenv", "s6-setuidgid", "execlineb", "s6-true", "s6-false")
IS_ROOT = os.geteuid() == 0


@pytest.fixture
def links(tmp_path):
    """A directory of links named after the commands, and a tree with a container
    environment (S6PY_ROOT) holding every kind of entry with-contenv reads."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in NAMES:
        os.symlink(LAUNCHER, str(bin_dir / name))
    contenv = tmp_path / "root" / "run" / "s6" / "container_environment"
    contenv.mkdir(parents=True)
    for name, value in (("HOME", b"/root"), ("TZ", b"Europe/Paris\n"), ("EMPTY", b"\n"),
                        ("UNSET_ME", b""), ("TWO_LINES", b"a\nb\n"), ("NUL", b"x\0y"),
                        (".hidden", b"no"), ("A=B", b"no"), ("PWD", b"/from/contenv")):
        (contenv / name).write_bytes(value)
    os.chmod(str(tmp_path), 0o755)
    return tmp_path


def environment(links, **extra):
    env = {"PATH": str(links / "bin") + ":/usr/bin:/bin", "S6PY_ROOT": str(links / "root"),
           "UNSET_ME": "set before", "HOME": "/home/before"}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def run(links, argv, quick, env=None):
    env = dict(environment(links) if env is None else env)
    if not quick:
        env["S6PY_QUICK"] = "0"
    r = subprocess.run([str(links / "bin" / argv[0])] + argv[1:], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if not quick:  # the exec'd program sees it; the quick run's would not: leave it out
        r = subprocess.CompletedProcess(r.args, r.returncode,
                                        r.stdout.replace(b"S6PY_QUICK=0\0", b""), r.stderr)
    return r.returncode, r.stdout, r.stderr


def imports(links, argv, env=None):
    """The modules ARGV imports when the launcher runs it (python3 -X importtime)."""
    env = dict(environment(links) if env is None else env)
    r = subprocess.run([PYTHON, "-I", "-S", "-X", "importtime", LAUNCHER] + argv, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return {line.rsplit("|", 1)[1].strip() for line in r.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


def same_both_ways(links, argv, env=None, quick_expected=True, view=None):
    """Run ARGV quick and full: the same (exit code, stdout, stderr), stdout seen through
    VIEW when given; QUICK_EXPECTED: whether the quick path does the job (False: it is not
    that case, or it tried and left the job to the full command, which imports os)."""
    fast = run(links, argv, True, env)
    full = run(links, argv, False, env)
    if view is not None:
        fast, full = [(c, view(o), e) for c, o, e in (fast, full)]
    assert fast == full, (argv, fast, full)
    taken = "os" not in imports(links, argv, env)
    assert taken == quick_expected, (argv, "quick path" if taken else "full path")
    return fast


STATUS = ["cat", "/proc/self/status"]


def status_lines(out):
    keep = ("Uid:", "Gid:", "Groups:", "SigIgn:", "SigBlk:", "SigCgt:")
    return [line for line in out.decode().splitlines() if line.startswith(keep)]


@pytest.mark.parametrize("args, quick", [
    (["hi", "there"], True), (["-n", "no newline"], True), (["--", "-n"], True),
    ([], True), (["-"], True), (["-s:", "a", "b"], False), (["-nn", "x"], False),
    (["caf\u00e9", "\udcff"], True),
])
def test_s6_echo(links, args, quick):
    same_both_ways(links, ["s6-echo"] + args, quick_expected=quick)


@pytest.mark.parametrize("argv", [["s6-true"], ["s6-true", "-x", "any"], ["s6-false"],
                                  ["s6-false", "--", "y"]])
def test_s6_true_and_false(links, argv):
    code, out, err = same_both_ways(links, argv)
    assert (code, out, err) == (0 if argv[0] == "s6-true" else 1, b"", b"")


def test_s6_echo_to_a_closed_pipe_dies_of_sigpipe_both_ways(links):
    r, w = os.pipe()
    os.close(r)
    try:
        results = []
        for quick in (True, False):
            env = environment(links)
            if not quick:
                env["S6PY_QUICK"] = "0"
            p = subprocess.run([str(links / "bin" / "s6-echo"), "x"], env=env, stdout=w,
                               stderr=subprocess.PIPE, timeout=30)
            results.append((p.returncode, p.stderr))
    finally:
        os.close(w)
    assert results[0] == results[1] == (-13, b""), results  # SIGPIPE, as the C s6-echo


@pytest.mark.parametrize("argv, quick", [
    (["with-contenv", "env", "-0"], True),
    (["with-contenv", "--", "env", "-0"], True),
    (["with-contenv", "env -0"], True),                       # a shebang's one word
    (["with-contenv", "printf", "[%s]", "a b", "c"], True),
    (["with-contenv", "nosuch-program"], False),              # tried; the full one says why
    (["with-contenv"], False),
    (["with-contenv", "s6-echo", "through", "our", "launcher"], True),
])
def test_with_contenv(links, argv, quick):
    code, out, err = same_both_ways(links, argv, quick_expected=quick)
    if argv[1:2] == ["env"]:
        env = dict(kv.split("=", 1) for kv in out.decode().split("\0") if kv)
        assert env["TZ"] == "Europe/Paris" and env["EMPTY"] == "" and env["NUL"] == "x\ny"
        assert "UNSET_ME" not in env and ".hidden" not in env and "A" not in env
        assert env["HOME"] == "/root" and env["TWO_LINES"] == "a\nb"
    if argv[1:2] == ["nosuch-program"]:
        assert code == 127 and b"unable to exec nosuch-program" in err


def test_with_contenv_unusual_cases_are_the_full_commands(links):
    """S6_KEEP_ENV, no container environment, an unreadable entry: the full command."""
    same_both_ways(links, ["with-contenv", "env", "-0"],
                   env=environment(links, S6_KEEP_ENV="1"), quick_expected=False)
    same_both_ways(links, ["with-contenv", "env", "-0"],
                   env=environment(links, S6PY_ROOT=str(links / "nowhere")), quick_expected=False)
    os.mkdir(str(links / "root/run/s6/container_environment/ADIR"))
    code, out, err = same_both_ways(links, ["with-contenv", "env", "-0"], quick_expected=False)
    assert b"skipping" in err


def test_with_contenv_carries_pwd_to_our_launcher_only(links):
    """The exec'd program is our launcher: PWD (the container environment's here) travels
    in S6PY_PWD across its sh part; for any other program nothing is added."""
    env = environment(links)
    code, out, _ = same_both_ways(links, ["with-contenv", "with-contenv", "env", "-0"], env)
    assert b"PWD=/from/contenv\0" in out and b"S6PY_PWD" not in out


@pytest.mark.skipif(not IS_ROOT, reason="needs root to change ids")
@pytest.mark.parametrize("account", ["nobody", "root", "daemon"])
def test_s6_setuidgid(links, account):
    code, lines, err = same_both_ways(links, ["s6-setuidgid", account] + STATUS, view=status_lines)
    assert code == 0 and len(lines) == 6, (lines, err)
    code, out, err = same_both_ways(links, ["s6-setuidgid", account, "env", "-0"])
    assert code == 0 and b"LC_CTYPE" not in out, out  # Python's coercion never leaks


@pytest.mark.parametrize("argv, quick", [
    (["s6-setuidgid", "no-such-user", "true"], False),  # the full one says why
    (["s6-setuidgid", "0:0", "true"], False),
    (["s6-setuidgid", "", "env", "-0"], False),
    (["s6-setuidgid", "nobody"], False),
])
def test_s6_setuidgid_other_cases(links, argv, quick):
    if not IS_ROOT and argv[1] not in ("", "no-such-user"):
        pytest.skip("needs root")
    same_both_ways(links, argv, quick_expected=quick)


@pytest.mark.parametrize("script, quick", [
    ("env -0", True),
    ("  printf [%s] a\n  b\tc  ", True),
    ("printf \"[%s]\" a", False),         # quotes: parsed by the full execlineb
    ("s6-echo in process", False),        # one of ours: run in-process
    ("/bin/echo x # comment", False),
    ("nosuch-program x", False),          # tried; the full one says why
    ("", False),
])
def test_execlineb(links, script, quick):
    same_both_ways(links, ["execlineb", "-Pc", script], quick_expected=quick)
    same_both_ways(links, ["execlineb", "-P", "-c", script], quick_expected=quick)


def test_execlineb_keeps_lc_ctype_under_lc_all(links):
    env = environment(links, LC_ALL="C", LC_CTYPE=None, LANG=None)
    code, out, _ = same_both_ways(links, ["execlineb", "-Pc", "env -0"], env)
    assert b"LC_ALL=C\0" in out


def test_carried_pwd_is_given_back(links):
    """A command started by one of ours through the launcher's sh part gets its PWD back
    from S6PY_PWD, quick or not."""
    env = environment(links, S6PY_PWD="1/some/logical/dir", PWD="/reset/by/sh")
    code, out, _ = same_both_ways(links, ["execlineb", "-Pc", "env -0"], env)
    assert b"PWD=/some/logical/dir\0" in out and b"S6PY_PWD" not in out
    env = environment(links, S6PY_PWD="0", PWD="/reset/by/sh")
    code, out, _ = same_both_ways(links, ["s6-setuidgid", "root", "env", "-0"], env) \
        if IS_ROOT else same_both_ways(links, ["execlineb", "-Pc", "env -0"], env)
    assert b"PWD=" not in out and b"S6PY_PWD" not in out


def test_quick_paths_need_no_os_module_at_all(links):
    """The quick modules import nothing but built-ins: run with os made unimportable."""
    code = ("import sys; sys.modules['os'] = None; sys.path.insert(0, %r);"
            "sys.argv = ['s6-echo', 'no', 'os']; from s6py.quick import run; run(sys.argv);"
            "print('returned')") % os.path.join(REPO, "src")
    r = subprocess.run([PYTHON, "-I", "-S", "-c", code], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert (r.returncode, r.stdout) == (0, b"no os\n"), r


def test_the_quick_list_of_our_commands_is_cli_s():
    """quick._OUR_COMMANDS is a copy of cli.COMMANDS's names, kept by hand (importing
    s6py.cli would cost the quick execlineb more than it saves)."""
    sys.path.insert(0, os.path.join(REPO, "src"))
    from s6py import cli, quick

    assert quick._OUR_COMMANDS == frozenset(cli.COMMANDS)
