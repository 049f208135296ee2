"""The s6-overlay README's examples, in real containers (podman + runc, Debian bookworm image).

Each test is one example of the s6-overlay (v1) README as an image author would
write it; user files reach the container by bind mounts of a test's fixture tree.
"""

import os
import pty
import re
import select
import subprocess
import time

import pytest

from e2e_support import (Container, PODMAN, ULIMITS, fixture_tree, image, pid1_comm, pid1_command_line,
                          run, unavailable)

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


@pytest.fixture(scope="module")
def img():
    return image("bookworm")


def mounts(tree, *dirs):
    opts = []
    for d in dirs:
        opts += ["-v", "%s/%s:/%s:ro" % (tree, d, d)]
    return opts


def test_cmd_exit_code_is_the_containers(img):
    r = run(img, "sh", "-c", "echo out; exit 3")
    assert r.returncode == 3
    assert r.stdout == "out\n"
    assert "[cmd] sh exited 3" in r.stderr


def test_interactive_shell_with_a_terminal_runs_ps_and_exits_0(img):
    """`docker run -ti IMG /bin/sh`, `ps`, `exit`: the README's session, driven through a pty."""
    master, slave = pty.openpty()
    p = subprocess.Popen(PODMAN + ["run", "--rm", "-ti"] + ULIMITS + [img, "/bin/sh"],
                         stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""

    def read_until(pattern, timeout=30):
        nonlocal out
        deadline = time.monotonic() + timeout
        while not re.search(pattern, out):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r in %r" % (pattern, out))
            if select.select([master], [], [], left)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError("EOF before %r in %r" % (pattern, out))
                out += chunk

    try:
        read_until(rb"# $")
        os.write(master, b"ps -e -o pid,comm\n")
        read_until(rb"\bps\r?\n(.|\n)*# $")
        os.write(master, b"exit\n")
        read_until(rb"\[cmd\] /bin/sh exited 0")
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    assert re.search(rb"\n\s*1 " + pid1_comm().encode(), out)     # PID 1 is the init
    assert b"[services.d] done." in out


def test_fix_attrs_lines_on_a_mounted_host_folder(img, tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "f").write_text("x")
    (data / "g").write_text("y")
    tree = fixture_tree(tmp_path / "t", {
        "etc/fix-attrs.d/01-data": ("/data true nobody,32768:32768 0640 2750\n"
                                    "/data/g false unexisting:daemon,3:4 0600 0700\n", 0o644),
    })
    r = run(img, "true", opts=mounts(tree, "etc/fix-attrs.d") + ["-v", "%s:/data" % data])
    assert r.returncode == 0, r.stderr
    assert "[fix-attrs.d] 01-data: applying... " in r.stderr
    assert "[fix-attrs.d] 01-data: exited 0." in r.stderr
    st = os.stat(data / "sub" / "f")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (65534, 65534, 0o640)
    st = os.stat(data / "sub")
    assert (st.st_uid, st.st_mode & 0o7777) == (65534, 0o2750)
    st = os.stat(data / "g")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (3, 1, 0o600)   # daemon's gid is 1


def test_cont_init_execline_with_envuidgid_and_import(img, tmp_path):
    """The README's confd script (echo instead of confd).  Scripts get a clean environment,
    as in s6-overlay: CONFD_PREFIX reaches only the one started through with-contenv."""
    body = ("s6-envuidgid nobody\n"
            "  import -u -D0 UID\n"
            "  import -u -D0 GID\n"
            "  import -u CONFD_PREFIX\n"
            "  define CONFD_CHECK_CMD \"/usr/sbin/nginx -t -c {{ .src }}\"\n"
            "echo --onetime --prefix=\"${CONFD_PREFIX}\" --tmpl-uid=\"${UID}\" --tmpl-gid=\"${GID}\""
            " --tmpl-check-cmd=\"${CONFD_CHECK_CMD}\" etcd\n")
    tree = fixture_tree(tmp_path, {
        "etc/cont-init.d/10-conf": "#!/usr/bin/execlineb -P\n" + body,
        "etc/cont-init.d/20-conf": "#!/usr/bin/with-contenv execlineb -P\n" + body,
        "etc/cont-init.d/30-sh": "#!/bin/sh\necho third\n",
    })
    r = run(img, "true", opts=mounts(tree, "etc/cont-init.d") + ["-e", "CONFD_PREFIX=/app"])
    assert r.returncode == 0, r.stderr
    tail = " --tmpl-uid=65534 --tmpl-gid=65534 --tmpl-check-cmd=/usr/sbin/nginx -t -c {{ .src }} etcd\n"
    # an undefined variable without -D deletes its word (execline's import)
    assert r.stdout == ("--onetime" + tail + "--onetime --prefix=/app" + tail + "third\n")
    assert r.stderr.index("10-conf: exited 0.") < r.stderr.index("30-sh: exited 0.")


def test_service_with_finish_brings_the_container_down_with_its_code(img, tmp_path):
    tree = fixture_tree(tmp_path, {
        "etc/services.d/app/run": "#!/usr/bin/execlineb -P\nforeground { s6-sleep 1 } exit 3\n",
        "etc/services.d/app/finish": (
            "#!/usr/bin/execlineb -S1\n"
            "if { s6-test ${1} -ne 0 }\n"
            "if { s6-test ${1} -ne 256 }\n"
            "foreground { redirfd -w 1 /var/run/s6/env-stage3/S6_STAGE2_EXITED s6-echo 42 }\n"
            "s6-svscanctl -t /var/run/s6/services\n"),
    })
    t0 = time.monotonic()
    r = run(img, opts=mounts(tree, "etc/services.d"))
    assert r.returncode == 42, r.stderr
    assert time.monotonic() - t0 < 10


def test_finish_s0_stops_the_container(img, tmp_path):
    tree = fixture_tree(tmp_path, {
        "etc/services.d/once/run": "#!/bin/sh\necho ran\n",
        "etc/services.d/once/finish": "#!/usr/bin/execlineb -S0\n\ns6-svscanctl -t /var/run/s6/services\n",
    })
    r = run(img, opts=mounts(tree, "etc/services.d"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ran\n") == 1


def test_setuidgid_service_and_with_contenv_script(img, tmp_path):
    tree = fixture_tree(tmp_path, {
        "etc/services.d/lowly/run": "#!/usr/bin/execlineb -P\ns6-setuidgid daemon\n"
                                    "sh -c \"id -un > /tmp/who; exec sleep 1000\"\n",
        "etc/services.d/shy/run": "#!/bin/sh\nexec s6-setuidgid nobody sh -c 'id -un > /tmp/who2; exec sleep 1000'\n",
        "etc/cont-init.d/env": "#!/usr/bin/with-contenv sh\necho \"MYENV=$MYENV\"\n",
        "etc/cont-init.d/noenv": "#!/bin/sh\necho \"plain=${MYENV:-unset}\"\n",
    })
    r = run(img, "sh", "-c", "for i in $(seq 100); do [ -s /tmp/who ] && [ -s /tmp/who2 ] && break;"
            " sleep 0.05; done; cat /tmp/who /tmp/who2; printcontenv MYENV",
            opts=mounts(tree, "etc/services.d", "etc/cont-init.d") + ["-e", "MYENV=hello"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["MYENV=hello", "plain=unset", "daemon", "nobody", "hello"]


def test_s6_variables(img, tmp_path):
    tree = fixture_tree(tmp_path, {
        "etc/cont-init.d/00-fail": "#!/bin/sh\nexit 5\n",
        "etc/cont-init.d/01-after": "#!/bin/sh\necho after\n",
        "etc/services.d/slow/run": "#!/bin/sh\nsleep 0.5; exec sleep 1000\n",
    })
    # S6_BEHAVIOUR_IF_STAGE2_FAILS=2: the failing script's code, nothing after it, no CMD
    r = run(img, "echo", "cmd", opts=mounts(tree, "etc/cont-init.d") + ["-e", "S6_BEHAVIOUR_IF_STAGE2_FAILS=2"])
    assert (r.returncode, r.stdout) == (5, ""), r.stderr
    # 1: the banner, then the CMD
    r = run(img, "echo", "cmd", opts=mounts(tree, "etc/cont-init.d") + ["-e", "S6_BEHAVIOUR_IF_STAGE2_FAILS=1"])
    assert (r.returncode, r.stdout) == (0, "after\ncmd\n")
    assert "init-stage2 failed." in r.stderr
    # S6_CMD_ARG0 is prepended; S6_KEEP_ENV=1 gives services and scripts the whole environment
    r = run(img, "hello", opts=["-e", "S6_CMD_ARG0=echo arg0:"])
    assert (r.returncode, r.stdout) == (0, "arg0: hello\n")
    # S6_CMD_WAIT_FOR_SERVICES=1: the CMD starts once the service is up
    r = run(img, "s6-svstat", "-u", "/run/service/slow",
            opts=mounts(tree, "etc/services.d") + ["-e", "S6_CMD_WAIT_FOR_SERVICES=1"])
    assert (r.returncode, r.stdout) == (0, "true\n"), r.stderr
    # S6_KILL_GRACETIME: a process ignoring TERM is killed after the grace time, not 3 s
    t0 = time.monotonic()
    r = run(img, "sh", "-c", "trap '' TERM; (trap '' TERM; exec sleep 100) & exit 0",
            opts=["-e", "S6_KILL_GRACETIME=200"])
    took = time.monotonic() - t0
    assert r.returncode == 0 and "KILL" in r.stderr and took < 2.5, (took, r.stderr)


def test_keep_env(img, tmp_path):
    tree = fixture_tree(tmp_path, {"etc/cont-init.d/show": "#!/bin/sh\necho \"v=${V:-unset}\"\n"})
    r = run(img, "true", opts=mounts(tree, "etc/cont-init.d") + ["-e", "V=1", "-e", "S6_KEEP_ENV=1"])
    assert r.stdout == "v=1\n"
    r = run(img, "true", opts=mounts(tree, "etc/cont-init.d") + ["-e", "V=1"])
    assert r.stdout == "v=unset\n"


def test_logutil_service_writes_a_rotated_log(img, tmp_path):
    tree = fixture_tree(tmp_path, {
        "etc/services.d/app/run": "#!/bin/sh\nwhile :; do echo line; sleep 0.01; done\n",
        "etc/services.d/app/log/run": "#!/bin/sh\nexec logutil-service /var/log/myapp\n",
        # logutil-service runs s6-log as nobody: the image author gives it the directory
        "etc/cont-init.d/logdir": "#!/bin/sh\nmkdir -p /var/log/myapp && chown nobody /var/log/myapp\n",
    })
    with Container(img, opts=mounts(tree, "etc/services.d", "etc/cont-init.d") + ["-e", "S6_LOGGING_SCRIPT=n3 s4096 T"]) as c:
        assert c.wait_for(lambda: "@" in c.exec("sh", "-c", "ls /var/log/myapp").stdout, timeout=20)
        current = c.exec("head", "-n1", "/var/log/myapp/current").stdout
        assert current.endswith(" line\n")


@pytest.fixture(scope="module")
def nginx_img():
    return image("nginx", extra_run='echo "daemon off;" >> /etc/nginx/nginx.conf')


HEAD = ("import socket; s = socket.create_connection(('127.0.0.1', 80)); "
        "s.sendall(b'HEAD / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(200).decode().splitlines()[0])")


def test_nginx_as_the_cmd(nginx_img):
    """The README's first example: CMD ["nginx"], the tree in `docker top`, a HEAD request."""
    with Container(nginx_img, "nginx") as c:
        assert c.wait_for(lambda: "200 OK" in c.exec("python3", "-c", HEAD).stdout, timeout=20)
        top = c.top("pid", "ppid", "args")
        rows = [line.split(None, 2) for line in top.splitlines()[1:]]
        by_pid = {r[0]: r for r in rows}
        assert pid1_command_line("nginx") in by_pid["1"][2], by_pid["1"]
        masters = [r for r in rows if r[2].startswith("nginx: master")]
        workers = [r for r in rows if r[2].startswith("nginx: worker")]
        assert len(masters) == 1 and masters[0][1] == "1"
        assert workers and all(w[1] == masters[0][0] for w in workers)
        took = c.stop()
        assert c.exit_code() == 0
        assert took < 5, took
