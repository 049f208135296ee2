"""Differential tests: the same execline scripts through Debian's execline 2.9 and ours.

Each case runs `execlineb OPTIONS -c SCRIPT ARGS` (and a few through a script file) in a
fresh temporary directory, once with PATH leading to Debian's /usr/lib/execline/bin and
once with PATH leading to our command links; stdout, stderr and the exit code must match.
"""

import os
import subprocess

import pytest

from execline_cases import C, EQUIV

REAL_BIN = "/usr/lib/execline/bin"

ENVFILE = b'A=1\n  B = two words  \n# comment\nC="  q\\tx "\n'


@pytest.fixture(scope="session")
def realbin(tmp_path_factory):
    if not os.access(os.path.join(REAL_BIN, "execlineb"), os.X_OK):
        pytest.skip("Debian's execline is not installed")
    d = tmp_path_factory.mktemp("realextra")
    # the seed's scripts call s6-test, which s6-portable-utils spells as eltest's twin
    os.symlink(os.path.join(REAL_BIN, "eltest"), d / "s6-test")
    return str(d)


def run(execlineb, path, opts, script, args, stdin, cwd, file_mode=False):
    env = {"PATH": path, "HOME": "/root", "LC_ALL": "C"}
    with open(os.path.join(cwd, "ef"), "wb") as f:
        f.write(ENVFILE)
    with open(os.path.join(cwd, "efbad"), "wb") as f:
        f.write(b"this is not a pair\n")
    if file_mode:
        with open(os.path.join(cwd, "script"), "w") as f:
            f.write(script)
        argv = ["execlineb"] + opts + ["script"] + args
    else:
        argv = ["execlineb"] + opts + ["-c", script] + args
    p = subprocess.run(argv, executable=execlineb, input=stdin, capture_output=True, env=env,
                       cwd=cwd, timeout=20)
    return p.returncode, p.stdout, p.stderr


def compare(ours, realbin, tmp_path, opts, script, args, stdin, file_mode=False, script_theirs=None):
    a = tmp_path / "theirs"
    b = tmp_path / "ours"
    a.mkdir()
    b.mkdir()
    theirs = run(os.path.join(REAL_BIN, "execlineb"), "%s:%s:/usr/bin:/bin" % (REAL_BIN, realbin),
                 opts, script if script_theirs is None else script_theirs, args, stdin, str(a),
                 file_mode)
    mine = run(str(ours / "execlineb"), "%s:/usr/bin:/bin" % ours, opts, script, args, stdin,
               str(b), file_mode)
    assert mine[1] == theirs[1], "stdout differs"
    assert mine[2] == theirs[2], "stderr differs"
    assert mine[0] == theirs[0], "exit code differs"


@pytest.mark.parametrize("opts,script,args,stdin", [c[1:] for c in C], ids=[c[0] for c in C])
def test_diff(ours, realbin, tmp_path, opts, script, args, stdin):
    compare(ours, realbin, tmp_path, opts, script, args, stdin)


FILE_CASES = [
    ("file-dollar0", ["-S1"], "echo $0 $1\n", ["x"]),
    ("file-shebang-P", ["-P"], "#!/usr/bin/execlineb -P\nforeground { echo a }\necho b\n", []),
    ("file-push", [], "#!/usr/bin/execlineb\nimportas -D u Z 0\nimportas -D u N #\necho $Z $N\n", ["p", "q"]),
    ("file-comment-brace", ["-P"], "foreground {\n  echo a # } not a brace\n}\necho b\n", []),
    ("file-readme-finish", ["-S1"],
     "#!/usr/bin/execlineb -S1\nif { s6-test ${1} -ne 0 }\nif { s6-test ${1} -ne 256 }\n\necho stop\n", ["3"]),
    ("file-readme-run", ["-P"], '#!/usr/bin/execlineb -P\necho -g "daemon off;"\n', []),
    ("file-nul", ["-P"], "echo a\0 echo b\n", []),
]


@pytest.mark.parametrize("opts,script,args", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_diff_file(ours, realbin, tmp_path, opts, script, args):
    compare(ours, realbin, tmp_path, opts, script, args, b"", file_mode=True)


@pytest.mark.parametrize("mine,theirs", [c[1:] for c in EQUIV], ids=[c[0] for c in EQUIV])
def test_equivalent(ours, realbin, tmp_path, mine, theirs):
    compare(ours, realbin, tmp_path, ["-P"], mine, [], b"", script_theirs=theirs)


USAGE_CASES = [
    ["-Z"], [], ["-S", "x", "-c", "echo"], ["/nonexistent/script"],
]


@pytest.mark.parametrize("argv", USAGE_CASES, ids=["badopt", "noscript", "badnmin", "nofile"])
def test_execlineb_usage(ours, realbin, tmp_path, argv):
    env = {"PATH": "/usr/bin:/bin"}
    t = subprocess.run(["execlineb"] + argv, executable=os.path.join(REAL_BIN, "execlineb"),
                       capture_output=True, env=env)
    o = subprocess.run(["execlineb"] + argv, executable=str(ours / "execlineb"), capture_output=True, env=env)
    assert (o.returncode, o.stdout, o.stderr) == (t.returncode, t.stdout, t.stderr)
