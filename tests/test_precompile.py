"""PID 1 of a fresh container compiles its modules in a child first (init/precompile.py):
PID 1 then loads bytecode, and carries none of the compiler's garbage."""

import os
import subprocess
import sys

from test_init_support import box_fixture

box = box_fixture()

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def extract(where):
    sys.path.insert(0, os.path.join(REPO, "src"))
    from s6py.build import overlay

    overlay.build(str(where / "overlay.tar.gz"))
    subprocess.run(["tar", "xzf", str(where / "overlay.tar.gz"), "-C", str(where)], check=True)
    return where / "package" / "admin"


def pycache(admin, package):
    [lib] = [d for d in os.listdir(admin) if d.startswith("s6py-")]
    path = admin / lib / "lib" / "s6py" / package / "__pycache__"
    return sorted(os.listdir(path)) if path.is_dir() else []


def test_a_fresh_tree_is_compiled_before_the_boot_needs_it(box, tmp_path):
    """stage3 is imported by PID 1 only at the stop, so its bytecode exists at the CMD's
    start only if the child compiled it; the engine's too, and the boot goes on as ever."""
    admin = extract(tmp_path)
    assert pycache(admin, "init") == []
    box.init = str(tmp_path / "init")
    [lib] = [d for d in os.listdir(admin) if d.startswith("s6py-")]
    init_cache = admin / lib / "lib" / "s6py" / "init" / "__pycache__"
    tag = sys.implementation.cache_tag
    r = box.run(["sh", "-c", 'test -e "%s/stage3.%s.pyc" && echo compiled' % (init_cache, tag)])
    assert r.code == 0, r.err
    assert r.out.split() == ["compiled"], r
    assert "stage1.%s.pyc" % tag in pycache(admin, "init")
    assert "service.%s.pyc" % tag in pycache(admin, "engine")
    assert "internal error" not in r.err, r.err


def test_a_compiled_tree_is_not_compiled_again(box, tmp_path):
    """Bytecode there already (a second boot, compileall, --bytecode): no child, and the
    files are those of the first compilation."""
    admin = extract(tmp_path)
    box.init = str(tmp_path / "init")
    assert box.run(["true"]).code == 0
    [lib] = [d for d in os.listdir(admin) if d.startswith("s6py-")]
    stage1 = admin / lib / "lib" / "s6py" / "init" / "__pycache__" / (
        "stage1.%s.pyc" % sys.implementation.cache_tag)
    first = os.stat(stage1).st_mtime_ns
    assert box.run(["true"]).code == 0
    assert os.stat(stage1).st_mtime_ns == first


def test_the_loggers_modules_are_compiled_only_for_an_image_with_loggers(tmp_path):
    """compile_boot() compiles the log host's modules when a services.d service has a
    log/ (or an s6-rc service is a consumer), and the s6-rc ones for an s6-rc.d tree; with
    more than one CPU those are compiled by a second child, which the first waits for, so
    that everything is written when the launcher's child ends."""
    (tmp_path / "overlay").mkdir()
    admin = extract(tmp_path / "overlay")
    [lib] = [str(admin / d / "lib") for d in os.listdir(admin) if d.startswith("s6py-")]
    tag = sys.implementation.cache_tag

    def compiled(root):
        subprocess.run(["find", lib, "-name", "__pycache__", "-prune", "-exec", "rm", "-rf",
                        "{}", "+"], check=True)
        code = ("import sys; sys.path.insert(0, %r); from s6py.init.precompile import compile_boot;"
                " compile_boot(%r)" % (lib, str(root)))
        # not through pipes: a grandchild still writing would hold them open, and the run
        # would wait for it where the launcher does not
        with open(str(tmp_path / "stderr"), "w+") as err:
            r = subprocess.run([sys.executable, "-I", "-S", "-c", code],
                               stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            assert r.returncode == 0, err.read()
        # s6py/log/__pycache__/hosting.TAG.pyc -> s6py.log.hosting
        return {path[:-len(".%s.pyc" % tag)].replace("/__pycache__/", ".").replace("/", ".")
                for path in _bytecode(lib)}

    plain = tmp_path / "plain"
    (plain / "etc/services.d/web").mkdir(parents=True)
    (plain / "etc/services.d/web/run").write_text("#!/bin/sh\n")
    logged = tmp_path / "logged"
    (logged / "etc/services.d/web/log").mkdir(parents=True)
    (logged / "etc/services.d/web/log/run").write_text("#!/bin/sh\n")
    rc = tmp_path / "rc"
    (rc / "etc/s6-overlay/s6-rc.d/app").mkdir(parents=True)
    first = compiled(plain)
    assert "s6py.init.stage1" in first
    assert not any(m.startswith(("s6py.log.host", "s6py.rc.")) for m in first)
    assert "s6py.log.hosting" in compiled(logged)
    assert {"s6py.rc.graph", "s6py.rc.transitions"} <= compiled(rc)
    assert "s6py.log.hosting" not in compiled(rc)
    (rc / "etc/s6-overlay/s6-rc.d/app/consumer-for").write_text("gen\n")
    both = compiled(rc)
    assert {"s6py.log.hosting", "s6py.rc.graph", "s6py.init.stage1"} <= both


def _bytecode(lib):
    found = set()
    for top, _dirs, files in os.walk(lib):
        found.update(os.path.relpath(os.path.join(top, f), lib) for f in files if f.endswith(".pyc"))
    return found


def test_the_lists_cover_what_a_boot_imports_before_its_cmd(box, tmp_path):
    """The module lists are kept by hand: after compile_boot(), a boot with a logged
    services.d service and an s6-rc tree compiles nothing more before its CMD starts (a
    module PID 1 compiles itself costs it the compiler's garbage, see the module)."""
    admin = extract(tmp_path)
    box.init = str(tmp_path / "init")
    [lib] = [str(admin / d / "lib") for d in os.listdir(admin) if d.startswith("s6py-")]
    box.service("web", run="exec sleep 100\n", log="exec s6-log n2 ./main\n")
    rc = "etc/s6-overlay/s6-rc.d/"
    box.file(rc + "app/type", "longrun\n")
    box.script(rc + "app/run", "exec sleep 100\n")
    box.file(rc + "app/dependencies.d/setup", "")
    box.file(rc + "setup/type", "oneshot\n")
    box.file(rc + "setup/up", "true\n")
    box.file(rc + "user/contents.d/app", "")
    box.file(rc + "user/type", "bundle\n")
    python = [os.path.join(d, "python3") for d in box.environ()["PATH"].split(":")
              if os.access(os.path.join(d, "python3"), os.X_OK)][0]
    code = ("import sys; sys.path.insert(0, %r); from s6py.init.precompile import compile_boot;"
            " compile_boot(%r)" % (lib, box.root))
    subprocess.run([python, "-I", "-S", "-c", code], check=True)
    before = _bytecode(lib)
    assert "s6py/log/__pycache__/hosting.%s.pyc" % sys.implementation.cache_tag in before
    r = box.run(["sh", "-c", 'cd "%s" && find . -name "*.pyc"' % lib])
    assert r.code == 0, r
    at_cmd = {p[2:] for p in r.out.split()}
    assert at_cmd - before == set(), "compiled by PID 1 itself before the CMD"


def test_the_first_child_waits_for_the_second(tmp_path):
    """compile_boot() returns only when the second child's part is done too (PID 1 waits
    for the first child alone): a slow s6-rc part, stood in for, has written its mark."""
    rc = tmp_path / "etc/s6-overlay/s6-rc.d"
    rc.mkdir(parents=True)
    mark = tmp_path / "mark"
    code = ("import os, sys, time; sys.path.insert(0, %r); from s6py.init import precompile\n"
            "def slow():\n    time.sleep(0.5); open(%r, 'w').close()\n"
            "precompile._rc_modules = slow\nos.cpu_count = lambda: 2\n"
            "precompile.compile_boot(%r)\nprint(os.path.exists(%r))"
            % (os.path.join(REPO, "src"), str(mark), str(tmp_path), str(mark)))
    with open(str(tmp_path / "out"), "w+") as out:
        r = subprocess.run([sys.executable, "-I", "-S", "-c", code], stdout=out,
                           stderr=subprocess.STDOUT)
        out.seek(0)
        assert (r.returncode, out.read()) == (0, "True\n")
