"""The self-contained tarball (`s6py build-overlay --bundle`, docs/install.md): its own
static Python, so that an image with no Python, no libc and no /bin/sh runs s6py.

Here without a container engine: the tarball is extracted into an otherwise EMPTY tree and
run there by chroot (and as PID 1 of a fresh PID namespace, /run a tmpfs, /dev the host's),
so nothing of the host's Python, libc or shell can be used by mistake.  The same images in
podman are tests/test_e2e_bundle.py.
"""

import os
import shutil
import struct
import subprocess
import tarfile

import pytest

from e2e_support import REPO
from s6py import __version__
from s6py.build import bundle, overlay

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("musl-gcc") is None or shutil.which("dpkg-source") is None,
    reason="the bundle is built with musl-gcc and dpkg-source, as root (./run-tests installs them)")

SRC = os.path.join(REPO, "src", "s6py")
PY = "package/admin/s6py-%s/python" % __version__
CHROOT = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/chroot"
LIMIT = 3.5 * 1000 * 1000  # the 3.5 MB, as .tar.gz


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("bundle")
    gz, xz = str(d / "s6py-overlay-x86_64.tar.gz"), str(d / "s6py-overlay-x86_64.tar.xz")
    overlay.build(gz, src=SRC, bundle=True)
    overlay.build(xz, src=SRC, bundle=True)
    return gz, xz


@pytest.fixture
def tree(built, tmp_path):
    """An empty directory holding nothing but the extracted tarball (and mount points)."""
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(built[0]) as tar:
        tar.extractall(str(root))
    for d in ("proc", "run", "dev", "tmp", "var"):
        (root / d).mkdir(exist_ok=True)
    return root


def write(root, rel, text, mode=0o755):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def chroot(root, *argv, env=None, timeout=30):
    return subprocess.run([CHROOT, str(root)] + list(argv), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                          env=env if env is not None else {"PATH": "/command:/usr/bin:/bin"})


def boot(root, *cmd, prefix=(), timeout=60, init="/init", env=None):
    """INIT CMD as PID 1 of a new PID namespace, chroot'ed into ROOT (ENV: more variables)."""
    script = ('mount -t tmpfs tmpfs "$1/run" && mount --rbind /dev "$1/dev" && '
              'root=$1 && shift && exec chroot "$root" %s "$@"' % init)
    argv = list(prefix) + ["unshare", "--pid", "--fork", "--mount", "--propagation", "private",
                           "--mount-proc=%s/proc" % root, "sh", "-c", script, "sh", str(root)] + list(cmd)
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout,
                          env=dict(env or {}, PATH="/usr/sbin:/usr/bin:/sbin:/bin"))


# ------------------------------------------------------------------------------- the files

def test_within_the_size_limit_and_offered_as_xz(built):
    gz, xz = (os.path.getsize(p) for p in built)
    assert gz <= LIMIT, gz
    assert xz < gz, (xz, gz)


def test_the_interpreter_is_static(built):
    """No PT_INTERP program header: no loader, no libc of the image is ever asked for."""
    with tarfile.open(built[0]) as tar:
        elf = tar.extractfile("./%s/bin/python3" % PY).read()
    assert elf[:4] == b"\x7fELF" and elf[4] == 2, "a 64-bit ELF"
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    kinds = [struct.unpack_from("<I", elf, phoff + i * phentsize)[0] for i in range(phnum)]
    assert 3 not in kinds, "PT_INTERP present: dynamically linked"
    assert 1 in kinds


def test_layout_launcher_init_and_licence(built):
    with tarfile.open(built[0]) as tar:
        members = {m.name: m for m in tar.getmembers()}
        launcher = tar.extractfile("./package/admin/s6py-%s/command/s6py" % __version__).read()
        licence = tar.extractfile("./%s/LICENSE" % PY).read()
    assert launcher.startswith(b"#!/%s/bin/python3 -IS\n" % PY.encode())
    with tarfile.open(built[0]) as tar:
        init = tar.extractfile("./init").read()
    assert members["./init"].isfile() and members["./init"].mode == 0o755
    assert init.startswith(b"#!/%s/bin/python3 -IS\n" % PY.encode()) and overlay.BUNDLE_INIT_PRELUDE.encode() in init
    assert members["./%s/lib/python3.11/lib-dynload" % PY].isdir()
    assert b"PYTHON SOFTWARE FOUNDATION LICENSE" in licence
    pyc = [n for n in members if n.endswith(".cpython-311.pyc") and "/lib/s6py/" in n]
    py = [n for n in members if n.endswith(".py") and "/lib/s6py/" in n]
    assert len(pyc) == len(py) > 50
    assert not any("/s6py/build/" in n for n in members)
    for name in ("etc", "usr", "usr/bin", "bin", "sbin", "lib"):
        assert "./" + name not in members


def test_the_stdlib_holds_what_s6py_reaches_and_not_more(built):
    lib = "./%s/lib/python3.11/" % PY
    with tarfile.open(built[0]) as tar:
        names = {m.name[len(lib):] for m in tar.getmembers() if m.name.startswith(lib) and m.isfile()}
    assert names and all(n.endswith(".pyc") for n in names), "sourceless bytecode only"
    for needed in ("re/__init__.pyc", "enum.pyc", "selectors.pyc", "traceback.pyc", "glob.pyc",
                   "encodings/__init__.pyc", "encodings/utf_8.pyc", "signal.pyc", "heapq.pyc"):
        assert needed in names
    for left_out in ("ctypes/__init__.pyc", "email/__init__.pyc", "unittest/__init__.pyc",
                     "argparse.pyc", "doctest.pyc", "subprocess.pyc", "shutil.pyc"):
        assert left_out not in names
    assert len(names) < 80


def test_same_sources_same_bytes(built, tmp_path):
    again = str(tmp_path / "again.tar.gz")
    overlay.build(again, src=SRC, bundle=True)
    with open(built[0], "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()


# ----------------------------------------------------------------- the closure, on its own

def test_closure_follows_module_level_imports_only(tmp_path):
    lib = tmp_path / "Lib"
    (lib / "pkg").mkdir(parents=True)
    (lib / "a.py").write_text("import b\nfrom pkg import sub\ntry:\n    import c\nexcept ImportError:\n    pass\n"
                              "def f():\n    import lazy\nif __name__ == '__main__':\n    import mainonly\n")
    for name in ("b", "c", "lazy", "mainonly"):
        (lib / (name + ".py")).write_text("")
    (lib / "pkg" / "__init__.py").write_text("from . import helper\n")
    (lib / "pkg" / "sub.py").write_text("from .helper import x\n")
    (lib / "pkg" / "helper.py").write_text("x = 1\n")
    got = bundle.stdlib_closure(str(lib), ["a"])
    assert sorted(got) == ["a", "b", "c", "pkg", "pkg.helper", "pkg.sub"]


def test_package_imports_are_seen_in_any_scope():
    names = bundle.package_imports(SRC)
    assert {"selectors", "signal", "re", "traceback", "glob"} <= names
    assert not any(n.split(".")[0] == "s6py" for n in names)


# ------------------------------------------------------------- running in an empty tree

def test_every_module_of_the_package_imports_with_the_bundled_python(tree):
    lib = "/package/admin/s6py/lib"
    code = ("import os, sys\nsys.path.insert(0, %r)\nbad = []\n"
            "for d, dirs, files in os.walk(%r + '/s6py'):\n"
            "    dirs[:] = [x for x in dirs if x != '__pycache__']\n"
            "    for f in files:\n"
            "        if f.endswith('.py') and f != '__main__.py':\n"
            "            m = os.path.relpath(os.path.join(d, f), %r)[:-3].replace('/', '.')\n"
            "            m = m[:-9] if m.endswith('.__init__') else m\n"
            "            try:\n                __import__(m)\n"
            "            except Exception as e:\n                bad.append((m, repr(e)))\n"
            "print(len(sys.modules), bad)\n") % (lib, lib, lib)
    r = chroot(tree, "/%s/bin/python3" % PY, "-IS", "-c", code)
    assert r.returncode == 0, r.stderr
    r2 = chroot(tree, "/%s/bin/python3" % PY, "-IS", "-c", "import re, sys; print(sys.prefix, re.__file__)")
    assert r2.stdout.split() == ["/" + PY, "/%s/lib/python3.11/re/__init__.pyc" % PY], r2
    assert r.stdout.strip().endswith("[]"), r.stdout
    assert r.stderr == ""


def test_the_codec_registry_is_frozen_and_other_codecs_still_load(tree):
    """bundle.FROZEN_EXTRA: every start's encodings modules are in the binary (no file
    looked up, read or unmarshalled for them), and the frozen package still finds the
    encodings shipped as bytecode beside it."""
    code = ("import _imp, codecs, encodings, sys\n"
            "print(_imp.is_frozen('encodings'), _imp.is_frozen('encodings.aliases'),\n"
            "      _imp.is_frozen('encodings.utf_8'), _imp.is_frozen('encodings.latin_1'))\n"
            "print(codecs.lookup('latin-1').name, sys.modules['encodings.latin_1'].__file__)\n")
    r = chroot(tree, "/%s/bin/python3" % PY, "-IS", "-c", code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "True True True False",
        "iso8859-1 /%s/lib/python3.11/encodings/latin_1.pyc" % PY], r.stdout


def test_helpers_run_with_nothing_else_there(tree):
    assert chroot(tree, "/command/s6-echo", "hello").stdout == "hello\n"
    r = chroot(tree, "/usr/bin/with-contenv", "/command/s6-echo", "ok")
    assert r.returncode == 0 and r.stdout == "ok\n", r
    write(tree, "run/s6/container_environment/FOO", "bar", 0o644)
    r = chroot(tree, "/command/with-contenv", "/command/execlineb", "-c", "importas -i f FOO s6-echo $f")
    assert r.stdout == "bar\n", r
    r = chroot(tree, "/command/s6-svok", "/nonexistent")
    assert r.returncode == 1 and r.stderr == ""


def test_the_image_python_environment_never_leaks_in(tree):
    write(tree, "poison/os.py", "raise SystemExit('poisoned os')\n", 0o644)
    write(tree, "poison/startup.py", "print('startup ran')\n", 0o644)
    env = {"PATH": "/command", "PYTHONPATH": "/poison", "PYTHONSTARTUP": "/poison/startup.py",
           "PYTHONHOME": "/poison", "PYTHONINSPECT": "1", "PYTHONWARNINGS": "error"}
    r = chroot(tree, "/command/s6-echo", "clean", env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "clean\n", "")


def test_init_boots_an_execline_tree_as_pid_1(tree):
    """FROM scratch + the tarball: cont-init.d, a services.d service with a logger, the CMD's
    exit code, cont-finish.d; no /bin/sh anywhere in the tree."""
    assert not (tree / "bin").exists()
    write(tree, "etc/cont-init.d/10-hello", "#!/command/execlineb -P\ns6-echo cont-init ran\n")
    write(tree, "etc/cont-finish.d/10-bye", "#!/command/execlineb -P\ns6-echo cont-finish ran\n")
    # ready (a newline on fd 3) once its line is written, and the CMD started once it is
    # ready (S6_CMD_WAIT_FOR_SERVICES): without it the CMD starts before services.d is
    # supervised, as in v2, and its s6-svwait could find no supervise/status yet (it then
    # fails at once, and the CMD's stop came before the line was written)
    write(tree, "etc/services.d/app/run",
          "#!/command/execlineb -P\nforeground { s6-echo app line }\n"
          "foreground { fdmove 1 3 s6-echo }\ns6-sleep 100\n")
    write(tree, "etc/services.d/app/notification-fd", "3\n", 0o644)
    write(tree, "etc/services.d/app/log/run", "#!/command/execlineb -P\ns6-log -b n2 /var/app-log\n")
    cmd = ("foreground { s6-svwait -U -t 10000 /var/run/s6/services/app }"
           " foreground { s6-svstat -o up /var/run/s6/services/app }"
           " exit 3")
    r = boot(tree, "/command/execlineb", "-Pc", cmd, env={"S6_CMD_WAIT_FOR_SERVICES": "1"})
    assert r.returncode == 3, r.stdout
    out = r.stdout.splitlines()
    assert "s6-svwait" not in r.stdout, r.stdout
    assert "cont-init ran" in out and "cont-finish ran" in out and "true" in out, out
    assert out.index("cont-init ran") < out.index("true") < out.index("cont-finish ran")
    assert "[cmd] /command/execlineb exited 3" in out, out
    with open(str(tree / "var/app-log/current")) as f:
        assert f.read() == "app line\n"


def test_a_spawn_closes_what_is_open_not_up_to_the_nofile_limit(tree, tmp_path):
    """musl has no close_range(): os.closerange() is one close() per number, and closing up
    to the nofile limit (podman's is 1048576) took each spawn 0.1 s.  A spawn by the bundled
    interpreter closes up to its highest open fd only."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard < 8192:
        hard = 8192
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    code = ("import os, sys; sys.path.insert(0, '/package/admin/s6py/lib')\n"
            "from s6py.engine.spawn import spawn\n"
            "os.waitpid(spawn(['/command/s6-echo', 'spawned']), 0)\n")
    log = tmp_path / "strace.log"
    r = subprocess.run(["prlimit", "--nofile=%d:%d" % (hard, hard), "strace", "-f", "-qq", "-e", "trace=close",
                        "-o", str(log), "unshare", "--pid", "--fork", "--mount", "--propagation", "private",
                        "--mount-proc=%s/proc" % tree, CHROOT, str(tree), "/%s/bin/python3" % PY, "-I", "-S", "-c", code],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert r.returncode == 0 and "spawned" in r.stdout, r.stdout
    with open(str(log)) as f:
        closes = sum(1 for line in f if " close(" in line)
    assert closes < 200, "%d close() calls for one spawn under nofile=%d" % (closes, hard)


def test_init_raises_the_soft_nofile_limit_without_a_shell(tree):
    code = "print([l.split()[3:5] for l in open('/proc/self/limits') if l.startswith('Max open files')][0])"
    r = boot(tree, "/%s/bin/python3" % PY, "-IS", "-c", code, prefix=("prlimit", "--nofile=1024:4096"))
    assert r.returncode == 0, r.stdout
    assert "['4096', '4096']" in r.stdout, r.stdout


def test_a_renamed_init_still_boots(tree):
    """pi-hole's Dockerfile: `mv /init /s6-init`, ENTRYPOINT /s6-init (a link would have
    become a link named s6-init, which is no command)."""
    os.rename(str(tree / "init"), str(tree / "s6-init"))
    r = boot(tree, "/command/s6-echo", "renamed", init="/s6-init")
    assert r.returncode == 0, r.stdout
    assert "renamed" in r.stdout.splitlines() and "[cmd] /command/s6-echo exited 0" in r.stdout, r.stdout


def test_unpack_into_a_fresh_cache(tmp_path):
    """A source package unpacks into a cache whose src/ does not exist yet (the fallback to
    an older version on a fresh machine once met exactly that: dpkg-source copies the
    upstream tarball into the tree's parent first), and a partial tree is replaced."""
    work = tmp_path / "work"
    pkg = work / "demo-1.0"
    (pkg / "debian" / "source").mkdir(parents=True)
    (pkg / "hello.txt").write_text("hi\n")
    (pkg / "debian" / "source" / "format").write_text("3.0 (native)\n")
    (pkg / "debian" / "control").write_text(
        "Source: demo\nMaintainer: Nobody <nobody@example.org>\n\n"
        "Package: demo\nArchitecture: all\nDescription: d\n d\n")
    (pkg / "debian" / "changelog").write_text(
        "demo (1.0) unstable; urgency=low\n\n  * t\n\n"
        " -- Nobody <nobody@example.org>  Thu, 01 Jan 2026 00:00:00 +0000\n")
    subprocess.run(["dpkg-source", "-b", "demo-1.0"], cwd=str(work), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree = str(tmp_path / "cache" / "src" / "1.0")
    assert not os.path.exists(os.path.dirname(tree))
    log = str(tmp_path / "dpkg-source.log")
    assert bundle.unpack(str(work / "demo_1.0.dsc"), tree, log) == tree
    with open(os.path.join(tree, "hello.txt")) as f:
        assert f.read() == "hi\n"
    assert os.path.isfile(os.path.join(tree, ".unpacked"))
    os.unlink(os.path.join(tree, ".unpacked"))
    open(os.path.join(tree, "leftover"), "w").close()
    bundle.unpack(str(work / "demo_1.0.dsc"), tree, log)
    assert sorted(os.listdir(tree)) == [".unpacked", "debian", "hello.txt"]
