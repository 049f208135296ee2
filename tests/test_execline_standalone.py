"""Our execline commands reached by name (as other programs exec into them), the in-process
chain (one interpreter per script), and the s6-portable-utils commands scripts call."""

import os
import subprocess

import pytest

REAL_BIN = "/usr/lib/execline/bin"


def run(ours, argv, stdin=b"", cwd=None, extra_env=None):
    env = {"PATH": "%s:/usr/bin:/bin" % ours}
    env.update(extra_env or {})
    p = subprocess.run(argv, input=stdin, capture_output=True, env=env, cwd=cwd, timeout=20)
    return p.returncode, p.stdout, p.stderr


STANDALONE = [
    ["foreground", " echo", " 1", "", "echo", "2"],
    ["if", " true", "", "echo", "yes"],
    ["if", " false", "", "echo", "yes"],
    ["define", "A", "x", "echo", "$A"],
    ["export", "V", "1", "importas", "v", "V", "echo", "$v"],
    ["forx", "X", " a", " b", "", "importas", "X", "X", "echo", "$X"],
    ["ifte", " echo", " then", "", " echo", " else", "", "false"],
    ["foreground"],
    ["pipeline", " echo", " hi", "", "tr", "a-z", "A-Z"],
    ["eltest", "1", "-lt", "2"],
    ["cd", "/", "pwd"],
    ["exit", "5"],
    ["backtick", "X", " echo", " v", "", "importas", "X", "X", "echo", "$X"],
]


@pytest.mark.parametrize("argv", STANDALONE, ids=[" ".join(a)[:40] for a in STANDALONE])
def test_standalone_matches(ours, tmp_path, argv):
    if not os.path.isdir(REAL_BIN):
        pytest.skip("Debian's execline is not installed")
    env = {"PATH": "%s:/usr/bin:/bin" % REAL_BIN}
    t = subprocess.run([os.path.join(REAL_BIN, argv[0])] + argv[1:], capture_output=True, env=env, timeout=20)
    o = run(ours, [str(ours / argv[0])] + argv[1:])
    assert o == (t.returncode, t.stdout, t.stderr)


def test_foreign_program_execs_into_our_command(ours):
    # env(1) is not ours: it execs `foreground` found on PATH, i.e. our link
    assert run(ours, ["env", "foreground", " echo", " a", "", "echo", "b"])[:2] == (0, b"a\nb\n")


def test_absolute_path_to_our_link_stays_in_process(ours, tmp_path):
    script = "%s/foreground { echo a } %s/if { true } echo b" % (ours, ours)
    assert run(ours, [str(ours / "execlineb"), "-Pc", script])[:2] == (0, b"a\nb\n")


def test_one_interpreter_per_chain(ours, tmp_path):
    """A chain of our commands execs no new interpreter: the pid seen at the end is the
    pid of the process that started the script."""
    script = ('getpid -E P define A 1 export B 2 importas b B cd / umask 022 '
              'multisubstitute { define C 3 } fdmove -c 3 1 sh -c "echo ${P} $$"')
    code, out, err = run(ours, [str(ours / "execlineb"), "-Pc", script])
    assert code == 0, err
    a, b = out.split()
    assert a == b


def test_strict_block_warning(ours):
    code, out, err = run(ours, [str(ours / "execlineb"), "-Pc", "foreground { echo a } echo b"],
                         extra_env={"EXECLINE_STRICT": "2"})
    assert (code, out) == (0, b"a\nb\n")
    code, out, err = run(ours, [str(ours / "foreground"), "echo", "a", "", "echo", "b"],
                         extra_env={"EXECLINE_STRICT": "2"})
    assert code == 100 and b"unquoted argument echo at block" in err


def test_portable_utils(ours, tmp_path):
    assert run(ours, [str(ours / "s6-echo"), "-n", "-s", ":", "a", "b"])[:2] == (0, b"a:b")
    assert run(ours, [str(ours / "s6-echo"), "a", "b"])[:2] == (0, b"a b\n")
    assert run(ours, [str(ours / "s6-true")])[0] == 0
    assert run(ours, [str(ours / "s6-false")])[0] == 1
    assert run(ours, [str(ours / "s6-test"), "3", "-ne", "256"])[0] == 0
    assert run(ours, [str(ours / "s6-env"), "-i", "A=1", "env"])[:2] == (0, b"A=1\n")
    d = tmp_path / "x" / "y"
    assert run(ours, [str(ours / "s6-mkdir"), "-p", "-m", "0750", str(d)])[0] == 0
    assert d.is_dir() and (d.stat().st_mode & 0o777) == 0o750
    assert run(ours, [str(ours / "s6-chmod"), "0700", str(d)])[0] == 0
    assert (d.stat().st_mode & 0o777) == 0o700
    (d / "f").write_text("z")
    assert run(ours, [str(ours / "s6-ls"), str(d)])[:2] == (0, b"f\n")
    assert run(ours, [str(ours / "s6-hiercopy"), str(tmp_path / "x"), str(tmp_path / "copy")])[0] == 0
    assert (tmp_path / "copy" / "y" / "f").read_text() == "z"
    assert run(ours, [str(ours / "s6-rmrf"), str(tmp_path / "x")])[0] == 0
    assert not (tmp_path / "x").exists()
    assert run(ours, [str(ours / "s6-maximumtime"), "100", "sleep", "5"])[0] == 99
    assert run(ours, [str(ours / "s6-maximumtime"), "2000", "true"])[0] == 0
    assert run(ours, [str(ours / "s6-sleep"), "-m", "10", "echo", "slept"])[:2] == (0, b"slept\n")


def test_readme_finish_script_file(ours, tmp_path):
    """The seed README's finish script, unchanged but for the program it calls at the end."""
    f = tmp_path / "finish"
    f.write_text("#!%s/execlineb -S1\nif { s6-test ${1} -ne 0 }\nif { s6-test ${1} -ne 256 }\n\n"
                 "s6-echo stopping\n" % ours)
    f.chmod(0o755)
    assert run(ours, [str(f), "1"])[:2] == (0, b"stopping\n")
    assert run(ours, [str(f), "256"])[:2] == (1, b"")
    assert run(ours, [str(f), "0"])[:2] == (1, b"")


def _syscalls(ours, tmp_path, argv, names):
    log = tmp_path / "strace.log"
    env = {"PATH": "%s:/usr/bin:/bin" % ours}
    p = subprocess.run(["strace", "-f", "-qq", "-o", str(log), "-e", "trace=" + ",".join(names)] + argv,
                       capture_output=True, env=env, timeout=20)
    return p, log.read_text()


@pytest.mark.parametrize("script", [
    "background { sleep 0.4 } importas -u P ! wait -t 5000 { $P } echo done",
    "background { sleep 0.4 } wait -o -t 5000 { } echo done",
    "background { sleep 0.4 } importas -u P ! wait -o { 12345 $P } echo done",
])
def test_wait_does_not_poll(ours, tmp_path, script):
    """wait with a deadline or a pid set sleeps on a SIGCHLD wake-up pipe: a handful of
    wait4() calls for a 400 ms child, not one every few milliseconds."""
    import shutil
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    p, log = _syscalls(ours, tmp_path, [str(ours / "execlineb"), "-Pc", script], ["wait4"])
    assert p.returncode == 0 and p.stdout == b"done\n", p.stderr
    assert log.count("wait4(") < 10, log


def test_maximumtime_does_not_poll(ours, tmp_path):
    import shutil
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    p, log = _syscalls(ours, tmp_path, [str(ours / "s6-maximumtime"), "5000", "sleep", "0.4"], ["wait4"])
    assert p.returncode == 0, p.stderr
    assert log.count("wait4(") < 10, log
    p, log = _syscalls(ours, tmp_path, [str(ours / "s6-maximumtime"), "200", "sleep", "5"], ["wait4"])
    assert p.returncode == 99
    assert log.count("wait4(") < 10, log


def test_every_execline_command_resolves():
    """The launcher's execline names and the chain's table are one table
    (cli.EXECLINE_FUNCTIONS): each name must name a function that exists."""
    from s6py import cli
    from s6py.execline import core

    assert core.COMMANDS is cli.EXECLINE_FUNCTIONS
    assert set(cli.EXECLINE) == set(core.COMMANDS)
    for name in core.COMMANDS:
        assert callable(core.lookup(name)), name
