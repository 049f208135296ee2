"""Container environment: dump/load, s6-envdir and s6-dumpenv against Debian's s6,
with-contenv (also as a #! interpreter), printcontenv, with-retries."""

import os
import shutil
import subprocess
import time

import pytest

from s6py.init import contenv
from s6py.init.settings import Paths

BASE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def run(argv, env=None, **kw):
    return subprocess.run(
        [str(a) for a in argv],
        env=BASE_ENV if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=20,
        **kw
    )


def env_of(output):
    """`env -0` output as a dict of bytes."""
    out = {}
    for item in output.split(b"\0"):
        if item:
            k, _, v = item.partition(b"=")
            out[k] = v
    return out


# ---------------------------------------------------------------- the library


def test_dump_writes_one_file_per_variable_value_verbatim(tmp_path):
    d = tmp_path / "env"
    skipped = contenv.dump({"A": "1", "B": "two words\nline2", "EMPTY": "", "U": "\u00e9"}, str(d))
    assert skipped == []
    assert (d / "A").read_bytes() == b"1"
    assert (d / "B").read_bytes() == b"two words\nline2"
    assert (d / "EMPTY").read_bytes() == b""
    assert (d / "U").read_bytes() == "\u00e9".encode()
    assert oct(d.stat().st_mode & 0o777) == "0o755"
    assert not [n for n in os.listdir(d) if "=" in n]


def test_dump_skips_names_that_cannot_be_files(tmp_path):
    seen = []
    skipped = contenv.dump(
        {b"OK": b"1", b"a/b": b"x", b".": b"x", b"..": b"x", b"L" * 300: b"x"},
        str(tmp_path / "e"),
        on_skip=lambda name, reason: seen.append((name, reason)),
    )
    assert sorted(skipped) == sorted([b"a/b", b".", b"..", b"L" * 300])
    assert len(seen) == 4 and all(reason for _, reason in seen)
    assert os.listdir(tmp_path / "e") == ["OK"]


def test_container_environment_round_trips_every_value(tmp_path):
    values = {
        b"PLAIN": b"value",
        b"SPACES": b"  padded  ",
        b"NEWLINES": b"a\nb\n",
        b"ENDS_NL": b"x\n",
        b"ONLY_NL": b"\n",
        b"EMPTY": b"",
        b"BINARY": b"\xff\xfe caf\xc3\xa9",
        b"LONG": b"y" * 10000,
    }
    d = str(tmp_path / "ce")
    contenv.dump(values, d, contenv=True)
    loaded = contenv.load_contenv(d, path=b"/bin")
    expected = dict(values)
    expected[b"PATH"] = b"/bin"
    assert loaded == expected
    assert open(os.path.join(d, "PLAIN"), "rb").read() == b"value"


def test_users_may_add_variables_with_echo_or_printf(tmp_path):
    d = tmp_path / "ce"
    d.mkdir()
    (d / "WITH_ECHO").write_bytes(b"hello\n")
    (d / "WITH_PRINTF").write_bytes(b"hello")
    loaded = contenv.load_contenv(str(d), path=b"/bin")
    assert loaded[b"WITH_ECHO"] == loaded[b"WITH_PRINTF"] == b"hello"


def test_garbage_entries_are_skipped_and_reported(tmp_path):
    d = tmp_path / "ce"
    d.mkdir()
    (d / "GOOD").write_bytes(b"1")
    (d / "subdir").mkdir()
    os.mkfifo(d / "FIFO")
    (d / ".hidden").write_bytes(b"x")
    (d / "A=B").write_bytes(b"x")
    os.symlink("/nonexistent", d / "DANGLING")
    errors = []
    loaded = contenv.load_contenv(str(d), path=b"/bin", on_error=lambda n, e: errors.append(n))
    assert loaded == {b"PATH": b"/bin", b"GOOD": b"1"}
    assert sorted(errors) == [b"DANGLING", b"FIFO", b"subdir"]


def test_clean_environment_is_path_only():
    assert contenv.clean_environment("/usr/bin:/bin") == {b"PATH": b"/usr/bin:/bin"}


def test_original_environment_drops_python_locale_coercion(ours):
    # python3 started with no locale variables sets LC_CTYPE in its own environment.
    code = "import sys; sys.path.insert(0, %r); from s6py.init.contenv import original_environ; print(sorted(original_environ()))"
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    r = run(["python3", "-c", code % src], env={"PATH": "/usr/bin:/bin"})
    assert r.stdout.strip() == b"[b'PATH']"


# ---------------------------------------------------------------- s6-envdir vs Debian's


@pytest.fixture
def envdir_fixture(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    files = {
        "A": b"a b \t\nsecond line\n",
        "EMPTY": b"",
        "NL": b"\n",
        "NUL": b"x\0y\n",
        "SP": b"  \n",
        "TWO": b"line\n\n",
        "NOEOL": b"no end of line",
        "BIG": b"z" * 5000 + b"\n",
        ".hidden": b"h",
        "x=y": b"eq",
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d


@pytest.mark.parametrize("opts", [[], ["-n"], ["-f"], ["-fn"], ["-c", "Z"], ["-fcZ"], ["-I"], ["-f", "-L"], ["-fnL"]])
def test_envdir_matches_s6(ours, theirs, envdir_fixture, opts):
    env = dict(BASE_ENV, EMPTY="was set", NL="was set")
    a = run([theirs("s6-envdir")] + opts + [envdir_fixture, "env", "-0"], env=env)
    b = run([ours / "s6-envdir"] + opts + [envdir_fixture, "env", "-0"], env=env)
    assert (b.returncode, b.stderr) == (a.returncode, a.stderr)
    assert env_of(b.stdout) == env_of(a.stdout)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["DIR"],
        ["-x", "DIR", "true"],
        ["/nonexistent", "true"],
        ["-I", "/nonexistent", "true"],
        ["-c", "", "DIR", "true"],
        ["DIR", "no-such-program"],
        ["DIR", "/etc/passwd"],
        ["--", "DIR", "true"],
    ],
)
def test_envdir_errors_match_s6(ours, theirs, tmp_path, args):
    (tmp_path / "V").write_bytes(b"1")
    args = [str(tmp_path) if a == "DIR" else a for a in args]
    a = run([theirs("s6-envdir")] + args)
    b = run([ours / "s6-envdir"] + args)
    assert (b.returncode, b.stdout, b.stderr) == (a.returncode, a.stdout, a.stderr)


def test_envdir_searches_the_program_in_the_old_path(ours, theirs, tmp_path):
    (tmp_path / "PATH").write_bytes(b"/nonexistent")
    for tool in (theirs("s6-envdir"), ours / "s6-envdir"):
        r = run([tool, tmp_path, "env"])
        assert r.returncode == 0 and b"PATH=/nonexistent" in r.stdout


def test_dumpenv_then_s6_envdir_gives_the_environment_back(ours, theirs, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "A": "1", "B": "two\nlines", "C": " spaced ", "D": "x\n"}
    r = run([ours / "s6-dumpenv", tmp_path / "dump"], env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "dump")) == sorted(env)
    assert (tmp_path / "dump" / "B").read_bytes() == b"two\nlines"
    back = run([theirs("s6-envdir"), "-fn", tmp_path / "dump", "env", "-0"], env={"PATH": "/usr/bin:/bin"})
    assert env_of(back.stdout) == {k.encode(): v.encode() for k, v in env.items()}


def test_dumpenv_newline_option_and_mode(ours, theirs, tmp_path):
    r = run([ours / "s6-dumpenv", "-N", "-m", "0700", tmp_path / "dump"], env={"PATH": "/bin", "V": "v\n"})
    assert r.returncode == 0
    assert (tmp_path / "dump" / "V").read_bytes() == b"v\n\n"
    assert oct((tmp_path / "dump").stat().st_mode & 0o777) == "0o700"
    back = run([theirs("s6-envdir"), "-Lf", tmp_path / "dump", "env", "-0"], env={"PATH": "/usr/bin:/bin"})
    assert env_of(back.stdout)[b"V"] == b"v\n"
    assert run([ours / "s6-dumpenv"]).returncode == 100
    (tmp_path / "file").write_bytes(b"")
    r = run([ours / "s6-dumpenv", tmp_path / "file"])
    assert r.returncode == 111 and r.stderr.startswith(b"s6-dumpenv: fatal: ")


# ---------------------------------------------------------------- with-contenv / printcontenv


@pytest.fixture
def root(tmp_path):
    """A container root with a dumped container environment; S6PY_ROOT points at it."""
    paths = Paths(str(tmp_path))
    os.makedirs(os.path.dirname(paths.container_environment))
    contenv.dump(
        {"PATH": "/usr/bin:/bin", "MYENV": "hello world", "MULTI": "a\nb\n", "HOME": "/root"},
        paths.container_environment,
        contenv=True,
    )
    return tmp_path


def test_with_contenv_replaces_the_environment(ours, root):
    env = {"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(root), "SERVICE_LOCAL": "lost"}
    r = run([ours / "with-contenv", "env", "-0"], env=env)
    assert r.returncode == 0, r.stderr
    assert env_of(r.stdout) == {b"PATH": b"/usr/bin:/bin", b"MYENV": b"hello world", b"MULTI": b"a\nb\n", b"HOME": b"/root"}


def test_with_contenv_as_a_shebang_interpreter(ours, root, tmp_path):
    script = tmp_path / "script"
    script.write_text("#!%s sh\necho \"$MYENV|$1|$2\"\n" % (ours / "with-contenv"))
    script.chmod(0o755)
    r = run([script, "arg one", "two"], env={"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(root)})
    assert (r.returncode, r.stdout, r.stderr) == (0, b"hello world|arg one|two\n", b"")


def test_with_contenv_shebang_with_interpreter_options(ours, root, tmp_path):
    script = tmp_path / "script"
    script.write_text("#!%s sh -e\nfalse\necho not reached\n" % (ours / "with-contenv"))
    script.chmod(0o755)
    r = run([script], env={"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(root)})
    assert r.returncode == 1 and r.stdout == b""


def test_with_contenv_keep_env_is_a_no_op(ours, root):
    env = {"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(root), "S6_KEEP_ENV": "1", "MINE": "kept"}
    r = run([ours / "with-contenv", "env", "-0"], env=env)
    got = env_of(r.stdout)
    assert got[b"MINE"] == b"kept" and b"MYENV" not in got


def test_with_contenv_falls_back_to_var_run(ours, tmp_path):
    paths = Paths(str(tmp_path))
    os.makedirs(os.path.dirname(paths.legacy_container_environment))
    contenv.dump({"OLD": "v1"}, paths.legacy_container_environment)
    r = run([ours / "with-contenv", "printenv", "OLD"], env={"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(tmp_path)})
    assert (r.returncode, r.stdout) == (0, b"v1\n")


def test_with_contenv_without_a_container_environment_warns_and_runs(ours, tmp_path):
    r = run([ours / "with-contenv", "printenv", "MINE"], env={"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(tmp_path), "MINE": "m"})
    assert r.returncode == 0 and r.stdout == b"m\n"
    assert r.stderr.startswith(b"with-contenv: warning: no container environment")


def test_with_contenv_survives_garbage_files(ours, root):
    paths = Paths(str(root))
    os.mkdir(os.path.join(paths.container_environment, "adir"))
    os.mkfifo(os.path.join(paths.container_environment, "afifo"))
    r = run([ours / "with-contenv", "printenv", "MYENV"], env={"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(root)})
    assert r.returncode == 0 and r.stdout == b"hello world\n"
    assert r.stderr.count(b"\n") == 2 and b"with-contenv: warning: skipping" in r.stderr


def test_with_contenv_usage_and_exec_errors(ours, root):
    env = {"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(root)}
    assert run([ours / "with-contenv"], env=env).returncode == 100
    r = run([ours / "with-contenv", "no-such-program"], env=env)
    assert (r.returncode, r.stderr) == (127, b"with-contenv: fatal: unable to exec no-such-program: No such file or directory\n")


def test_with_contenv_reads_the_real_run_path(ours, tmp_path):
    """Inside a private mount namespace with a tmpfs on /run, no prefix: the real path."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare")
    script = (
        "mount -t tmpfs tmpfs /run && mkdir -p /run/s6/container_environment && "
        "printf 'from /run' > /run/s6/container_environment/WHERE && exec \"$@\""
    )
    r = run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", ours / "with-contenv", "printenv", "WHERE"],
    )
    assert (r.returncode, r.stdout) == (0, b"from /run\n"), r.stderr


def test_printcontenv(ours, root):
    env = {"PATH": "/usr/bin:/bin", "S6PY_ROOT": str(root)}
    r = run([ours / "printcontenv", "MYENV"], env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"hello world\n", b"")
    r = run([ours / "printcontenv", "MISSING"], env=env)
    assert (r.returncode, r.stdout, r.stderr) == (1, b"", b"")
    r = run([ours / "printcontenv", "../../etc/passwd"], env=env)
    assert (r.returncode, r.stdout) == (1, b"")
    r = run([ours / "printcontenv"], env=env)
    assert (r.returncode, r.stderr) == (100, b"printcontenv: fatal: too few arguments\n")
    r = run([ours / "printcontenv", "MINE"], env=dict(env, S6_KEEP_ENV="1", MINE="own"))
    assert (r.returncode, r.stdout) == (0, b"own\n")


# ---------------------------------------------------------------- with-retries


def test_with_retries_stops_at_the_first_success(ours, tmp_path):
    count = tmp_path / "count"
    script = "echo x >> %s; test $(wc -l < %s) -ge 2" % (count, count)
    r = run([ours / "with-retries", "sh", "-c", script])
    assert r.returncode == 0
    assert count.read_text().count("x") == 2


def test_with_retries_gives_up_after_n_tries(ours, tmp_path):
    count = tmp_path / "count"
    r = run([ours / "with-retries", "-n", "5", "sh", "-c", "echo x >> %s; exit 3" % count])
    assert r.returncode == 1
    assert count.read_text().count("x") == 5
    r = run([ours / "with-retries", "false"])
    assert r.returncode == 1


def test_with_retries_kills_a_try_that_takes_too_long(ours):
    start = time.monotonic()
    r = run([ours / "with-retries", "-n", "2", "-t", "100", "sleep", "10"])
    assert r.returncode == 1
    assert time.monotonic() - start < 3


def test_with_retries_usage(ours):
    assert run([ours / "with-retries"]).returncode == 100
    assert run([ours / "with-retries", "-n", "x", "true"]).returncode == 100
    assert run([ours / "with-retries", "-t", "0", "true"]).returncode == 0
