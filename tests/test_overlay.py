"""The overlay tarball (`s6py build-overlay`): layout, determinism, usr-merge safety, relocation.

The containers that use it are in tests/test_e2e_*.py; these tests need no container engine.
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

CHROOT = shutil.which("chroot", path="/usr/sbin:/sbin:/usr/bin:/bin") or "chroot"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

from s6py import cli  # noqa: E402
from s6py.build import overlay  # noqa: E402


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("overlay") / "s6py-overlay.tar.gz")
    overlay.build(path)
    return path


@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(tarball) as t:
        return {m.name: m for m in t.getmembers()}


def test_same_sources_same_bytes(tarball, tmp_path):
    again = str(tmp_path / "again.tar.gz")
    overlay.build(again)
    with open(tarball, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()


def test_size_is_under_224_kb(tarball):
    """A budget, not a law: 205 KB now (s6-overlay 3 is 3.0 MB); grow it on purpose only."""
    assert os.path.getsize(tarball) <= 224 * 1024


def test_no_entry_for_directories_every_distribution_has(members):
    for name in ("./", ".", "./etc", "./etc/", "./usr", "./usr/", "./usr/bin", "./usr/bin/",
                 "./bin", "./sbin", "./lib", "./var", "./run"):
        assert name not in members
    for name in members:
        assert name.startswith("./")
        top = name[2:].split("/")[0]
        assert top not in ("bin", "sbin", "lib", "lib64", "var", "run", "tmp")


def test_owner_root_fixed_mtime_sane_modes(members):
    for m in members.values():
        assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "root", "root")
        assert m.mtime == overlay.MTIME
        if m.isdir():
            assert m.mode == 0o755
        elif m.isfile():
            assert m.mode in (0o644, 0o755)
        else:
            assert m.issym()


def test_no_tests_no_bytecode(members):
    for name in members:
        assert "__pycache__" not in name and not name.endswith(".pyc")
        assert "/tests/" not in name


def test_every_command_has_a_command_link_but_project_verbs(members):
    for name in cli.COMMANDS:
        link = "./command/" + name
        if name in cli.PROJECT:
            assert link not in members
        else:
            assert members[link].linkname == "../package/admin/s6py/command/s6py"


def test_usr_bin_links_have_v2s_bin_names_but_distro_names(members):
    """s6-overlay 2 put every execline command in /bin, shell builtins' names included
    (images run `/bin/export`); `import` is ImageMagick's."""
    linked = {n[len("./usr/bin/"):] for n in members if n.startswith("./usr/bin/")}
    for name in ("s6-svc", "s6-svscanctl", "s6-setuidgid", "s6-log", "execlineb", "with-contenv",
                 "printcontenv", "fix-attrs", "with-retries", "foreground", "importas", "redirfd",
                 "if", "cd", "exec", "exit", "wait", "export", "shift", "trap", "umask"):
        assert name in linked
    for name in ("case", "import", "init", "halt", "build-overlay"):
        assert name not in linked
    for name in linked:
        assert members["./usr/bin/" + name].linkname == "../../command/" + name


def test_etc_directories_are_there_and_empty(members):
    for d in ("fix-attrs.d", "cont-init.d", "cont-finish.d", "services.d", "s6-overlay/s6-rc.d"):
        assert members["./etc/" + d].isdir()
    assert not [n for n in members if n.startswith("./etc/services.d/")]


def test_pyproject_console_scripts_are_the_usr_bin_list():
    with open(os.path.join(REPO, "pyproject.toml")) as f:
        text = f.read()
    section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    scripts = dict(re.findall(r'^"?([\w.-]+)"?\s*=\s*"([^"]+)"', section, re.M))
    assert set(scripts.values()) == {"s6py.cli:main"}
    # every /usr/bin name, plus `s6py`; names of USR_BIN_EXTRA may be listed before their
    # command lands in the table
    assert set(overlay.usr_bin_names()) - overlay.SHELL_BUILTIN_NAMES <= set(scripts)
    assert not overlay.SHELL_BUILTIN_NAMES & set(scripts)
    assert set(scripts) - set(overlay.usr_bin_names()) <= {"s6py"} | set(overlay.USR_BIN_EXTRA)


@pytest.fixture(scope="module")
def relocated(tarball, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("somewhere") / "deep" / "D")
    os.makedirs(d)
    subprocess.run(["tar", "xzf", tarball, "-C", d], check=True)
    return d


def test_relocated_commands_run(relocated):
    env = {"PATH": "/usr/bin:/bin"}
    r = subprocess.run([os.path.join(relocated, "command", "s6-echo"), "a", "b"],
                       env=env, capture_output=True)
    assert (r.returncode, r.stdout) == (0, b"a b\n")
    r = subprocess.run([os.path.join(relocated, "usr", "bin", "execlineb"), "-c",
                        "foreground { s6-echo one } s6-echo two"], env=env, capture_output=True)
    assert (r.returncode, r.stdout) == (0, b"one\ntwo\n")
    r = subprocess.run([os.path.join(relocated, "command", "s6-svc")], env=env, capture_output=True)
    assert r.returncode == 100 and b"s6-svc: usage:" in r.stderr


def imported(launcher, args, cwd=None):
    """(exit code, stdout, the modules of s6py it imported) of LAUNCHER's Python part run
    with `-X importtime` (the launcher's sh part passes -I -S, so do we)."""
    r = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", launcher] + args,
                       capture_output=True, cwd=cwd, env={"PATH": "/usr/bin:/bin"})
    modules = re.findall(r"\|\s*(s6py\S*)$", r.stderr.decode(), re.M)
    return r.returncode, r.stdout, modules


def test_a_quick_path_imports_no_module_of_the_package(relocated):
    """The launcher runs s6py.quick's code through the importer's loader but not through an
    import: neither the s6py package nor a search along sys.path (docs/architecture.md)."""
    link = os.path.join(relocated, "command", "s6-echo")
    assert imported(link, ["a"]) == (0, b"a\n", [])
    # from a relative path too (the sh part passes $0 as it came)
    assert imported(os.path.join("command", "s6-echo"), ["b"], cwd=relocated) == (0, b"b\n", [])
    # not its quick case: the full command, imported as always
    code, out, modules = imported(link, ["-s:", "c"])
    assert (code, out) == (0, b"c\n") and {"s6py", "s6py.launch", "s6py.cli"} <= set(modules)


def test_the_launchers_own_code_stays_small():
    """A budget, not a law: the launcher is compiled at every start of every command (about
    0.25 ms of a 7 ms helper now, 0.4 ms before its /init-only code went into strings).
    358 syntax-tree nodes now, 660 before; grow it on purpose only."""
    import ast

    assert sum(1 for _ in ast.walk(ast.parse(overlay.LAUNCHER))) <= 400


def test_a_changed_quick_module_is_the_one_that_runs(tarball, tmp_path):
    """quick's bytecode is checked against its source as the importer checks it: an edited
    quick.py runs at once, without a stale .pyc standing in its way."""
    subprocess.run(["tar", "xzf", tarball, "-C", str(tmp_path)], check=True)
    link = str(tmp_path / "command" / "s6-echo")
    assert subprocess.run([link, "x"], capture_output=True).stdout == b"x\n"
    [pkg] = [d for d in os.listdir(str(tmp_path / "package" / "admin")) if d.startswith("s6py-")]
    quick = tmp_path / "package" / "admin" / pkg / "lib" / "s6py" / "quick.py"
    text = quick.read_text()
    quick.write_text(text.replace("def _echo(argv):\n", "def _echo(argv):\n"
                                  "    posix.write(1, b\"edited \")\n", 1))
    assert subprocess.run([link, "x"], capture_output=True).stdout == b"edited x\n"


@pytest.mark.parametrize("script, expected", [
    # crazy-max's rtorrent run script: `/bin/export PWD /data/rtorrent` then s6-setuidgid
    ("export PWD /x s6-setuidgid root printenv PWD S6PY_PWD", (1, b"/x\n")),
    ("unexport PWD s6-setuidgid root printenv PWD", (1, b"")),
])
def test_pwd_survives_the_launchers_sh_from_one_command_to_the_next(relocated, script, expected):
    """The launcher's sh part resets PWD to the cwd; a command exec'ing the next of ours
    carries it across, and nothing of that reaches the final program."""
    command = os.path.join(relocated, "command")
    r = subprocess.run([os.path.join(command, "execlineb"), "-c", script], cwd="/",
                       env={"PATH": command + ":/usr/bin:/bin"}, capture_output=True)
    assert (r.returncode, r.stdout) == expected, r.stderr


def test_a_command_ends_without_interpreter_teardown_but_loses_no_output(relocated):
    """cli.exit_with: the launcher's fast end flushes what is buffered and keeps the code
    as sys.exit would (masked to 8 bits); a flush that fails takes the usual path."""
    lib = os.path.join(relocated, "package", "admin", "s6py", "lib")
    code = ("import sys; sys.path.insert(0, %r); from s6py.cli import exit_with;"
            " sys.stdout.write('x' * %d); sys.stderr.write('said'); exit_with(%s)")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code % (lib, 100000, "300")],
                       capture_output=True)
    assert (r.returncode, len(r.stdout), r.stderr) == (44, 100000, b"said")
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-I", "-S", "-c", code % (lib, 10, "0")], stdout=full,
                           stderr=subprocess.PIPE)
    assert r.returncode == 120 and b"No space left on device" in r.stderr


def test_a_helper_that_cannot_write_says_one_line(relocated):
    """s6-echo to a full disk: skalibs' one line and 111, not a traceback."""
    with open("/dev/full", "w") as full:
        r = subprocess.run([os.path.join(relocated, "command", "s6-echo"), "x"], stdout=full,
                           stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
    assert (r.returncode, r.stderr) == (
        111, b"s6-echo: fatal: unable to write to stdout: No space left on device\n")


def test_launcher_finds_python_without_path(relocated):
    r = subprocess.run([os.path.join(relocated, "command", "s6-echo"), "x"],
                       env={"PATH": "/nonexistent"}, capture_output=True)
    assert (r.returncode, r.stdout) == (0, b"x\n")


def test_a_renamed_link_still_reaches_its_command_from_a_shebang(relocated, tmp_path):
    """`mv /usr/bin/with-contenv /usr/bin/with-contenvb` (linuxserver's base images) keeps
    the link's target: `#!/usr/bin/with-contenvb sh` runs with-contenv, not "unknown: sh"."""
    renamed = os.path.join(relocated, "usr", "bin", "with-contenvb")
    os.symlink("../../command/with-contenv", renamed)
    try:
        script = tmp_path / "script"
        script.write_text("#!%s sh\necho \"hello from $0\"\n" % renamed)
        os.chmod(script, 0o755)
        r = subprocess.run([str(script)], env={"PATH": "/usr/bin:/bin"}, capture_output=True)
    finally:
        os.unlink(renamed)
    assert (r.returncode, r.stdout) == (0, b"hello from %s\n" % bytes(script)), r.stderr
    assert b"unknown command" not in r.stderr


def test_a_link_named_after_no_command_says_what_it_resolved_to(relocated):
    odd = os.path.join(relocated, "command", "frobnicate")
    os.symlink("../package/admin/s6py/command/s6py", odd)
    try:
        r = subprocess.run([odd, "sh"], env={"PATH": "/usr/bin:/bin"}, capture_output=True)
    finally:
        os.unlink(odd)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 100 and len(lines) == 1, lines
    assert lines[0].startswith("s6py: fatal: unknown command: frobnicate (resolved to %s -> " % odd)
    assert lines[0].count("/command/s6py") == 1


def test_a_project_verb_in_an_installed_overlay_is_one_line(relocated):
    launcher = os.path.join(relocated, "package", "admin", "s6py", "command", "s6py")
    r = subprocess.run([launcher, "build-overlay", "--output", "/dev/null"],
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True)
    assert r.returncode == 100
    assert r.stderr == (b"s6py: fatal: build-overlay is not part of the overlay: run it from a"
                        b" checkout or a pip install of s6py\n")


@pytest.mark.parametrize("tar", ["tar", "busybox"])
def test_extracting_keeps_usr_merge_symlinks(tarball, tmp_path, tar):
    if shutil.which(tar) is None:
        pytest.skip("%s not installed" % tar)
    root = tmp_path / "root"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "sbin").mkdir()
    (root / "usr" / "lib").mkdir()
    (root / "etc").mkdir()
    os.chmod(root / "etc", 0o750)
    for d in ("bin", "sbin", "lib"):
        os.symlink("usr/" + d, root / d)
    (root / "usr" / "bin" / "sh").write_text("not really\n")
    argv = ["tar", "xzf", tarball, "-C", str(root)] if tar == "tar" else \
        ["busybox", "tar", "xzf", tarball, "-C", str(root)]
    subprocess.run(argv, check=True)
    for d in ("bin", "sbin", "lib"):
        assert os.readlink(root / d) == "usr/" + d
    assert (root / "usr" / "bin" / "sh").read_text() == "not really\n"
    assert os.stat(root / "etc").st_mode & 0o777 == 0o750
    assert os.readlink(root / "usr" / "bin" / "s6-svc") == "../../command/s6-svc"


def test_no_python_one_line_and_127(tarball, tmp_path):
    busybox = shutil.which("busybox")
    if busybox is None or os.geteuid() != 0:
        pytest.skip("needs root and busybox to chroot into a tree without Python")
    root = tmp_path / "nopy"
    (root / "bin").mkdir(parents=True)
    shutil.copy(busybox, root / "bin" / "busybox")
    os.symlink("busybox", root / "bin" / "sh")
    subprocess.run(["tar", "xzf", tarball, "-C", str(root)], check=True)
    for argv, prog in ((["/init", "true"], "init"), (["/command/s6-svc", "-u", "/x"], "s6-svc")):
        r = subprocess.run([CHROOT, str(root)] + argv, env={"PATH": "/bin"}, capture_output=True)
        assert r.returncode == 127
        assert r.stdout == b""
        lines = r.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(prog + ": fatal: python3 not found")


def test_bytecode_option_is_deterministic_and_its_pycs_are_used(tmp_path):
    """--bytecode adds unchecked-hash .pyc files for the building interpreter: a fresh
    container running that Python version imports them instead of compiling."""
    first, second = str(tmp_path / "a.tar.gz"), str(tmp_path / "b.tar.gz")
    overlay.build(first, with_bytecode=True)
    overlay.build(second, with_bytecode=True)
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()
    root = str(tmp_path / "root")
    os.mkdir(root)
    subprocess.run(["tar", "xzf", first, "-C", root], check=True)
    launcher = os.path.join(root, "package", "admin", "s6py", "command", "s6py")
    # the quick path (s6py.quick) and the full command (-s: goes through s6py.cli)
    for args, module in ((["hi"], "quick.py"), (["-s:", "hi"], "cli.py")):
        r = subprocess.run([sys.executable, "-IS", "-v", launcher, "s6-echo"] + args,
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout == "hi\n"
        used = re.findall(r"# (\S+\.pyc) matches (\S+\.py)", r.stderr)
        assert any(src.endswith("/s6py/" + module) for _, src in used), r.stderr[-2000:]
        compiled_now = [line for line in r.stderr.splitlines()
                        if "/s6py/" in line and "code object from" in line and ".pyc" not in line]
        assert compiled_now == []
    # compiled as -OO would: the shipped bytecode carries no docstring (nor assert)
    probe = ("import sys; sys.path.insert(0, %r); import s6py.init.main as m; "
             "print(m.__doc__, m.main.__doc__)" % os.path.join(root, "package", "admin", "s6py", "lib"))
    r = subprocess.run([sys.executable, "-IS", "-c", probe], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "None None\n", r
    assert overlay.__doc__ is not None  # the checkout itself still has them
