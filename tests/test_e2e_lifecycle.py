"""Containers' life from outside: `podman stop`, `podman exec` of our commands, non-root,
read-only root, and the other images (Python 3.9, 3.13, none at all)."""

import time

import pytest

from e2e_support import BUNDLED, Container, fixture_tree, image, run, unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

SERVICES = {
    "etc/services.d/web/run": "#!/bin/sh\nexec sleep 1000\n",
    "etc/services.d/worker/run": "#!/usr/bin/execlineb -P\nsleep 1000\n",
}


@pytest.fixture(scope="module")
def img():
    return image("bookworm")


def services(tmp_path):
    tree = fixture_tree(tmp_path, SERVICES)
    return ["-v", "%s/etc/services.d:/etc/services.d:ro" % tree]


def up(c, name):
    return c.exec("s6-svstat", "-u", "/run/service/" + name).stdout.strip() == "true"


def test_podman_stop_is_quick_and_exits_0(img, tmp_path):
    """Services that obey TERM: `podman stop` takes at most 0.5 s more than a bare container's."""
    with Container(img, "-c", "trap 'exit 0' TERM; sleep 1000 & wait",
                   opts=["--entrypoint", "/bin/sh"]) as bare:
        time.sleep(0.5)
        bare_took = bare.stop()
    with Container(img, opts=services(tmp_path)) as c:
        assert c.wait_for(lambda: up(c, "web") and up(c, "worker"))
        took = c.stop()
        assert c.exit_code() == 0
        logs = c.logs()
    assert took - bare_took < 0.5, (took, bare_took)
    assert "[s6-finish] waiting for services." in logs
    assert "KILL" not in logs


def test_podman_stop_with_a_cmd_running(img, tmp_path):
    with Container(img, "sleep", "1000", opts=services(tmp_path)) as c:
        assert c.wait_for(lambda: up(c, "web"))
        took = c.stop()
        assert c.exit_code() == 0
    assert took < 2, took


def test_podman_exec_drives_the_services(img, tmp_path):
    """`docker exec CONTAINER s6-svc ...` through the /usr/bin links."""
    with Container(img, opts=services(tmp_path)) as c:
        assert c.wait_for(lambda: up(c, "web"))
        r = c.exec("s6-svc", "-wd", "-d", "/var/run/s6/services/web")
        assert r.returncode == 0, r.stderr
        assert c.exec("s6-svstat", "/run/service/web").stdout.startswith("down (signal SIGTERM)")
        assert c.exec("s6-svc", "-wu", "-u", "/run/service/web").returncode == 0
        assert c.exec("s6-svstat", "-o", "up,wantedup", "/run/service/web").stdout == "true true\n"
        # the stop it asks for can be so quick that the container (and this exec session
        # with it) is gone before the exec'd command has exited: podman then says 137
        assert c.exec("/command/s6-svscanctl", "-t", "/run/service").returncode in (0, 137)
        assert c.wait(timeout=20) == 0


def test_non_root_user_with_a_tmpfs_run(img, tmp_path):
    """`--user 1000 --tmpfs /run:exec,U` (podman's `U` gives the tmpfs to the container user)."""
    tree = fixture_tree(tmp_path, dict(SERVICES, **{
        "etc/cont-init.d/who": "#!/bin/sh\nid -u\n"}))
    opts = ["--user", "1000", "--tmpfs", "/run:exec,U",
            "-v", "%s/etc/services.d:/etc/services.d:ro" % tree,
            "-v", "%s/etc/cont-init.d:/etc/cont-init.d:ro" % tree, "-e", "S6_CMD_WAIT_FOR_SERVICES=1"]
    r = run(img, "sh", "-c", "s6-svstat -o up /run/service/web; ps -o user= -p 1", opts=opts)
    assert (r.returncode, r.stdout) == (0, "1000\ntrue\n1000\n"), r.stderr


def test_non_root_user_without_a_writable_run_boots_in_the_fallback_tree(img):
    r = run(img, "id", "-u", opts=["--user", "1000"])
    assert (r.returncode, r.stdout) == (0, "1000\n"), r.stderr
    assert ("init: info: /run is not writable by uid 1000: the run-time tree is in"
            " /tmp/s6py-run-1000 instead") in r.stderr


def test_read_only_root(img, tmp_path):
    tree = fixture_tree(tmp_path, dict(SERVICES, **{
        "etc/cont-init.d/10": "#!/bin/sh\necho VAR=ro > /run/s6/container_environment/VAR; echo init\n"}))
    opts = ["--read-only", "--tmpfs", "/run:exec", "-e", "S6_READ_ONLY_ROOT=1",
            "-e", "S6_CMD_WAIT_FOR_SERVICES=1",
            "-v", "%s/etc/services.d:/etc/services.d:ro" % tree,
            "-v", "%s/etc/cont-init.d:/etc/cont-init.d:ro" % tree]
    r = run(img, "sh", "-c", "s6-svstat -u /run/service/worker; touch /x 2>/dev/null || echo ro", opts=opts)
    assert (r.returncode, r.stdout) == (0, "init\ntrue\nro\n"), r.stderr


@pytest.mark.parametrize("suite,version", [("bullseye", "3.9"), ("trixie", "3.13")])
def test_oldest_and_newest_python(suite, version, tmp_path):
    img = image(suite)
    tree = fixture_tree(tmp_path, {
        "etc/cont-init.d/env": "#!/usr/bin/with-contenv sh\necho \"init $MYENV\"\n",
        "etc/services.d/svc/run": "#!/usr/bin/execlineb -P\nforeground { s6-echo svc } sleep 1000\n",
    })
    opts = ["-e", "MYENV=e", "-e", "S6_CMD_WAIT_FOR_SERVICES=1",
            "-v", "%s/etc/services.d:/etc/services.d:ro" % tree,
            "-v", "%s/etc/cont-init.d:/etc/cont-init.d:ro" % tree]
    r = run(img, "sh", "-c", "python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])';"
            " s6-svstat -u /run/service/svc; exit 4", opts=opts)
    assert r.returncode == 4, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "init e" and version in lines and "true" in lines
    with Container(img, opts=opts) as c:
        assert c.wait_for(lambda: up(c, "svc"))
        assert c.stop() < 2
        assert c.exit_code() == 0


def test_image_without_python_says_so():
    img = image("busybox")
    r = run(img, "true")
    if BUNDLED:  # the self-contained tarball brings its own Python: it boots
        assert r.returncode == 0, r.stdout + r.stderr
        assert "[cmd] true exited 0" in r.stderr, r.stderr
        r = run(img, "-c", "s6-svc -u /x; echo $?", opts=["--entrypoint", "/bin/sh"])
        assert r.stdout == "111\n" and "python3 not found" not in r.stderr, r
        return
    assert r.returncode == 127
    assert r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "init: fatal: python3 not found (looked on PATH, /usr/bin, /usr/local/bin);"
        " s6py needs Python >= 3.9 in the image"]
    r = run(img, "-c", "s6-svc -u /x; echo $?", opts=["--entrypoint", "/bin/sh"])
    assert r.stdout == "127\n"
    assert "s6-svc: fatal: python3 not found" in r.stderr


@pytest.mark.parametrize("suite", ["bookworm", "bullseye", "trixie"])
def test_every_module_imports_with_python3_minimal(suite):
    """python3-minimal (the slim images' Python) lacks much of the standard library (no
    shutil, no json, ...): every module of the package must import with it alone."""
    code = ("import os, sys; sys.path.insert(0, '/package/admin/s6py/lib'); bad = []\n"
            "for d, _, fs in os.walk('/package/admin/s6py/lib/s6py'):\n"
            "    for f in sorted(fs):\n"
            "        if f.endswith('.py') and f != '__main__.py':\n"
            "            m = os.path.relpath(os.path.join(d, f[:-3]), '/package/admin/s6py/lib')\n"
            "            m = m.replace('/', '.').replace('.__init__', '')\n"
            "            try: __import__(m)\n"
            "            except Exception as e: bad.append('%s: %r' % (m, e))\n"
            "sys.stdout.write('\\n'.join(bad))\n")
    r = run(image(suite), "-I", "-S", "-c", code, opts=["--entrypoint", "python3"])
    assert (r.returncode, r.stdout) == (0, ""), r.stdout + r.stderr


def test_init_not_pid1_without_ctypes_warns_and_still_runs_the_cmd():
    """python3-minimal has no ctypes, so /init started under another PID 1 cannot become a
    subreaper: one warning line, and the container still works (no internal error)."""
    r = run(image("bookworm"), "-c", "/init sh -c 'echo cmd-ran; exit 3'",
            opts=["--entrypoint", "/bin/sh"])
    assert r.returncode == 3, r.stderr
    assert r.stdout == "cmd-ran\n"
    assert "unable to become a subreaper" in r.stderr
    assert "internal error" not in r.stderr
